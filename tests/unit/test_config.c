/*
 * test_config.c - configuration precedence (flags > environment > file >
 * defaults), validation messages that name the setting, and the config
 * file reader (src/config.c).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "log.h"

static char tmpfile_path[64];

static const char *write_file(const char *text)
{
	snprintf(tmpfile_path, sizeof(tmpfile_path), "/tmp/dp-config-XXXXXX");
	int fd = mkstemp(tmpfile_path);
	assert_true(fd >= 0);
	size_t n = strlen(text);
	assert_int_equal(write(fd, text, n), (ssize_t)n);
	close(fd);
	return tmpfile_path;
}

/* Load with argv (NULL-terminated, without argv[0]) and envp. */
static int load(struct dp_config *c, const char **args, const char **env, char **err)
{
	char *argv[32] = {"serve"};
	int argc = 1;
	for (; args && args[argc - 1]; argc++)
		argv[argc] = (char *)args[argc - 1];
	dp_config_init(c);
	FILE *devnull = fopen("/dev/null", "w");
	int rc = dp_config_load(c, argc, argv, (char **)env, devnull, err);
	fclose(devnull);
	return rc;
}

static void test_defaults(void **state)
{
	(void)state;
	struct dp_config c;
	char *err = NULL;
	assert_int_equal(load(&c, NULL, NULL, &err), 0);
	assert_null(err);
	assert_string_equal(c.bind, "127.0.0.1");
	assert_int_equal(c.port, 3000);
	assert_string_equal(c.data_dir, "./var");
	assert_string_equal(c.db_path, "./var/daemonpulse.db");
	assert_string_equal(c.daemon_api_url, "");
	assert_string_equal(c.lms_bin, "lms");
	assert_int_equal(c.secure_cookies, 0);
	assert_int_equal(c.metrics_public, 0);
	assert_int_equal(c.access_log, 1);
	assert_int_equal(c.log_level, DP_LOG_INFO);
	assert_int_equal(c.max_body_bytes, 1 << 20);
	dp_config_release(&c);
}

static void test_precedence(void **state)
{
	(void)state;
	const char *file = write_file("# comment\n"
	                              "BRIDGE_PORT = 4000\n"
	                              "  BIND=0.0.0.0  \n"
	                              "LMS_BIN = \"/opt/lm studio/lms\"\n"
	                              "DATA_DIR = /srv/dp/\n"
	                              "DAEMON_API_KEY = secret-from-file\n"
	                              "\n"
	                              "DP_SECURE_COOKIES = yes\n");
	struct dp_config c;
	char *err = NULL;

	/* file only */
	const char *a1[] = {"--config", file, NULL};
	assert_int_equal(load(&c, a1, NULL, &err), 0);
	assert_int_equal(c.port, 4000);
	assert_string_equal(c.bind, "0.0.0.0");
	assert_string_equal(c.lms_bin, "/opt/lm studio/lms");
	assert_string_equal(c.db_path, "/srv/dp/daemonpulse.db");
	assert_string_equal(c.daemon_api_key, "secret-from-file");
	assert_int_equal(c.secure_cookies, 1);
	dp_config_release(&c);

	/* environment beats the file; empty variables count as unset */
	const char *env[] = {"BRIDGE_PORT=5000", "BIND=",           "DAEMON_API_URL=http://10.0.0.2:1234",
	                     "PATH=/bin",        "DB_PATH=/x/y.db", NULL};
	assert_int_equal(load(&c, a1, env, &err), 0);
	assert_int_equal(c.port, 5000);
	assert_string_equal(c.bind, "0.0.0.0");
	assert_string_equal(c.daemon_api_url, "http://10.0.0.2:1234");
	assert_string_equal(c.db_path, "/x/y.db");
	dp_config_release(&c);

	/* flags beat both; --opt=value and --opt value both work */
	const char *a2[] = {"--port=6000", "--config", file, "--bind", "::1", "--secure-cookies=false",
	                    "--data-dir",  "/d",       NULL};
	assert_int_equal(load(&c, a2, env, &err), 0);
	assert_int_equal(c.port, 6000);
	assert_string_equal(c.bind, "::1");
	assert_int_equal(c.secure_cookies, 0);
	assert_string_equal(c.data_dir, "/d");
	assert_string_equal(c.db_path, "/x/y.db"); /* DB_PATH from env still wins over the derived default */
	dp_config_release(&c);

	/* a bare boolean flag and its alias */
	const char *a3[] = {"--tls-proxy", "--metrics-public", "--access-log=off", NULL};
	assert_int_equal(load(&c, a3, NULL, &err), 0);
	assert_int_equal(c.secure_cookies, 1);
	assert_int_equal(c.metrics_public, 1);
	assert_int_equal(c.access_log, 0);
	dp_config_release(&c);
	unlink(file);
}

struct bad_case {
	const char *args[4];
	const char *env[3];
	const char *want[3];
};

static void test_invalid_values(void **state)
{
	(void)state;
	static const struct bad_case cases[] = {
	        {{"--port", "70000"}, {0}, {"BRIDGE_PORT", "70000", "--port"}},
	        {{"--port", "12x"}, {0}, {"BRIDGE_PORT", "12x"}},
	        {{"--port", ""}, {0}, {"BRIDGE_PORT"}},
	        {{0}, {"BRIDGE_PORT=-1"}, {"BRIDGE_PORT", "environment"}},
	        {{"--bind", "example.com"}, {0}, {"BIND", "address"}},
	        {{0}, {"DAEMON_API_URL=ftp://x"}, {"DAEMON_API_URL", "http"}},
	        {{"--daemon-api-url", "http://"}, {0}, {"DAEMON_API_URL", "host"}},
	        {{"--log-level", "loud"}, {0}, {"DP_LOG_LEVEL", "loud"}},
	        {{"--secure-cookies=maybe"}, {0}, {"DP_SECURE_COOKIES", "maybe"}},
	        {{"--request-timeout-ms", "5"}, {0}, {"DP_REQUEST_TIMEOUT_MS", "100"}},
	        {{"--max-body-bytes", "99999999999"}, {0}, {"DP_MAX_BODY_BYTES"}},
	        {{"--frobnicate"}, {0}, {"unknown option", "--frobnicate"}},
	        {{"--port"}, {0}, {"needs a value", "--port"}},
	        {{"extra"}, {0}, {"unexpected argument", "extra"}},
	        {{"--config", "/nonexistent/dp.conf"}, {0}, {"config file", "/nonexistent/dp.conf"}},
	        {{"--db", ""}, {0}, {"DB_PATH", "empty"}},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct dp_config c;
		char *err = NULL;
		const char *args[5] = {0}, *env[4] = {0};
		memcpy(args, cases[i].args, sizeof(cases[i].args));
		memcpy(env, cases[i].env, sizeof(cases[i].env));
		int rc = load(&c, args, env, &err);
		if (rc != -EINVAL || !err)
			fail_msg("case %zu accepted (rc %d)", i, rc);
		assert_null(strchr(err, '\n')); /* one line */
		for (int k = 0; k < 3 && cases[i].want[k]; k++)
			if (!strstr(err, cases[i].want[k]))
				fail_msg("case %zu: '%s' lacks '%s'", i, err, cases[i].want[k]);
		free(err);
		dp_config_release(&c);
	}
}

static void test_secret_not_echoed(void **state)
{
	(void)state;
	struct dp_config c;
	char *err = NULL;
	const char *env[] = {"DAEMON_API_KEY=sk-abc\x01"
	                     "def",
	                     NULL};
	assert_int_equal(load(&c, NULL, env, &err), -EINVAL);
	assert_non_null(strstr(err, "DAEMON_API_KEY"));
	assert_null(strstr(err, "sk-abc"));
	free(err);
	dp_config_release(&c);
	/* and there is no flag that would put it in argv */
	const char *args[] = {"--daemon-api-key", "x", NULL};
	assert_int_equal(load(&c, args, NULL, &err), -EINVAL);
	assert_non_null(strstr(err, "unknown option"));
	free(err);
	dp_config_release(&c);
}

static void test_file_errors_name_the_line(void **state)
{
	(void)state;
	static const struct {
		const char *text, *want1, *want2;
	} cases[] = {
	        {"BIND = 127.0.0.1\nnot a setting\n", "line 2", "KEY = value"},
	        {"# x\n\nFOO = 1\n", "line 3", "unknown setting 'FOO'"},
	        {"BRIDGE_PORT = 1\nBRIDGE_PORT = 2\n", "line 2", "twice"},
	        {"BRIDGE_PORT = 99999\n", "line 1", "BRIDGE_PORT"},
	        {"DP_LOG_LEVEL = verbose\r\n", "line 1", "verbose"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *file = write_file(cases[i].text);
		const char *args[] = {"--config", file, NULL};
		struct dp_config c;
		char *err = NULL;
		assert_int_equal(load(&c, args, NULL, &err), -EINVAL);
		if (!strstr(err, cases[i].want1) || !strstr(err, cases[i].want2) || !strstr(err, file))
			fail_msg("case %zu: '%s'", i, err);
		free(err);
		dp_config_release(&c);
		unlink(file);
	}
	/* CRLF files and quotes are fine */
	const char *file = write_file("BRIDGE_PORT = '3100'\r\nDP_LOG_LEVEL=warn\r\n");
	const char *args[] = {"--config", file, NULL};
	struct dp_config c;
	char *err = NULL;
	assert_int_equal(load(&c, args, NULL, &err), 0);
	assert_int_equal(c.port, 3100);
	assert_int_equal(c.log_level, DP_LOG_WARN);
	dp_config_release(&c);
	unlink(file);
}

static void test_file_bounds(void **state)
{
	(void)state;
	size_t n = DP_CONFIG_FILE_MAX + 10;
	char *big = malloc(n + 1);
	memset(big, '#', n);
	big[n] = '\0';
	const char *file = write_file(big);
	const char *args[] = {"--config", file, NULL};
	struct dp_config c;
	char *err = NULL;
	assert_int_equal(load(&c, args, NULL, &err), -EINVAL);
	assert_non_null(strstr(err, "larger than"));
	free(err);
	dp_config_release(&c);
	unlink(file);

	memset(big, 'x', DP_CONFIG_LINE_MAX + 5);
	big[DP_CONFIG_LINE_MAX + 5] = '\0';
	file = write_file(big);
	const char *args2[] = {"--config", file, NULL};
	assert_int_equal(load(&c, args2, NULL, &err), -EINVAL);
	assert_non_null(strstr(err, "line 1"));
	free(err);
	dp_config_release(&c);
	unlink(file);
	free(big);
}

static void test_help(void **state)
{
	(void)state;
	struct dp_config c;
	char *err = NULL;
	const char *args[] = {"--port", "1", "--help", NULL};
	assert_int_equal(load(&c, args, NULL, &err), 1);
	dp_config_release(&c);
	/* the usage text names every environment variable of the contract */
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	dp_config_usage(f);
	fclose(f);
	const char *names[] = {"BIND",           "BRIDGE_PORT", "DB_PATH",  "DATA_DIR",         "DAEMON_API_URL",
	                       "DAEMON_API_KEY", "LMS_BIN",     "--config", "--secure-cookies", "--metrics-public",
	                       "127.0.0.1",      "3000",        "./var"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strstr(text, names[i]))
			fail_msg("usage lacks %s", names[i]);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_defaults),
	        cmocka_unit_test(test_precedence),
	        cmocka_unit_test(test_invalid_values),
	        cmocka_unit_test(test_secret_not_echoed),
	        cmocka_unit_test(test_file_errors_name_the_line),
	        cmocka_unit_test(test_file_bounds),
	        cmocka_unit_test(test_help),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
