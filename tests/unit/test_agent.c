/*
 * test_agent.c - the agent's pure parts (agent_files.c, agent_client.c):
 * mcp.json validation (the documented shape and nothing else), LM Studio
 * home resolution (pointer file, legacy home, default, refusal of relative
 * and traversing paths), the token format and file (created 0600, refused
 * when loose), the atomic mcp.json write (backup, a crash before the rename
 * leaves the old file and a temp file that the next write removes, symlinks
 * refused, size bound), and the telemetry round trip control plane <- agent.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <sodium.h>

#include "agent.h"
#include "agent_client.h"
#include "telemetry.h"

static char tmpdir[256];

static int setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/dp-test-agent-XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	return 0;
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *f)
{
	(void)sb;
	(void)flag;
	(void)f;
	return remove(path);
}

static void rm_rf(const char *dir)
{
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static int teardown(void **state)
{
	(void)state;
	rm_rf(tmpdir);
	return 0;
}

static int valid(const char *text)
{
	json_error_t je;
	json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, &je);
	assert_non_null(j);
	const char *why = NULL;
	int rc = dp_agent_mcp_validate(j, &why);
	if (rc < 0)
		assert_non_null(why);
	json_decref(j);
	return rc == 0;
}

static void test_mcp_validate(void **state)
{
	(void)state;
	assert_true(valid("{\"mcpServers\":{}}"));
	assert_true(valid("{\"mcpServers\":{\"hf-mcp\":{\"url\":\"https://hf.co/mcp\",\"headers\":{\"Authorization\":"
	                  "\"Bearer x\"}}}}"));
	assert_true(valid(
	        "{\"mcpServers\":{\"fs\":{\"command\":\"npx\",\"args\":[\"-y\",\"srv\"],\"env\":{\"A\":\"b\"}}}}"));
	assert_true(
	        valid("{\"mcpServers\":{\"o\":{\"url\":\"http://127.0.0.1:9/mcp\",\"auth\":{\"CLIENT_ID\":\"x\"}}}}"));
	/* shape */
	assert_false(valid("[]"));
	assert_false(valid("{}"));
	assert_false(valid("{\"mcpServers\":[]}"));
	assert_false(valid("{\"mcpServers\":{},\"x\":1}"));
	assert_false(valid("{\"mcpServers\":{\"a\":1}}"));
	/* labels */
	assert_false(valid("{\"mcpServers\":{\"\":{\"url\":\"https://a.example\"}}}"));
	assert_false(valid("{\"mcpServers\":{\"a b\":{\"url\":\"https://a.example\"}}}"));
	assert_false(valid("{\"mcpServers\":{\"../x\":{\"url\":\"https://a.example\"}}}"));
	/* entries */
	assert_false(valid("{\"mcpServers\":{\"a\":{}}}"));
	assert_false(valid("{\"mcpServers\":{\"a\":{\"url\":\"https://a.example\",\"command\":\"x\"}}}"));
	assert_false(valid("{\"mcpServers\":{\"a\":{\"url\":\"file:///etc/passwd\"}}}"));
	assert_false(valid("{\"mcpServers\":{\"a\":{\"url\":\"https://u:p@a.example\"}}}"));
	assert_false(valid("{\"mcpServers\":{\"a\":{\"url\":\"https://a.example\",\"args\":[]}}}"));
	assert_false(valid("{\"mcpServers\":{\"a\":{\"url\":\"https://a.example\",\"headers\":{\"X\":1}}}}"));
	assert_false(valid("{\"mcpServers\":{\"a\":{\"url\":\"https://a.example\",\"headers\":{\"X\":\"a\\nb\"}}}}"));
	assert_false(valid("{\"mcpServers\":{\"a\":{\"command\":\"\"}}}"));
	assert_false(valid("{\"mcpServers\":{\"a\":{\"command\":\"x\",\"args\":\"-y\"}}}"));
	assert_false(valid("{\"mcpServers\":{\"a\":{\"command\":\"x\",\"args\":[1]}}}"));
	assert_false(valid("{\"mcpServers\":{\"a\":{\"command\":\"x\",\"env\":{\"A=B\":\"c\"}}}}"));
	assert_false(valid("{\"mcpServers\":{\"a\":{\"command\":\"x\",\"headers\":{}}}}"));
	assert_false(valid("{\"mcpServers\":{\"a\":{\"command\":\"x\",\"shell\":true}}}"));
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	chmod(path, mode);
}

static void test_home(void **state)
{
	(void)state;
	char out[PATH_MAX], err[256], p[PATH_MAX + 64], real[PATH_MAX];
	assert_non_null(realpath(tmpdir, real));
	/* explicit */
	assert_int_equal(dp_agent_resolve_home(tmpdir, NULL, out, sizeof(out), err, sizeof(err)), 0);
	assert_string_equal(out, real);
	assert_int_equal(dp_agent_resolve_home("relative/dir", "/home/u", out, sizeof(out), err, sizeof(err)), -EINVAL);
	snprintf(p, sizeof(p), "%s/../etc", tmpdir);
	assert_int_equal(dp_agent_resolve_home(p, NULL, out, sizeof(out), err, sizeof(err)), -EINVAL);
	snprintf(p, sizeof(p), "%s/./x", tmpdir);
	assert_int_equal(dp_agent_resolve_home(p, NULL, out, sizeof(out), err, sizeof(err)), -EINVAL);
	/* no HOME */
	assert_int_equal(dp_agent_resolve_home(NULL, NULL, out, sizeof(out), err, sizeof(err)), -ENOENT);
	assert_int_equal(dp_agent_resolve_home(NULL, "relative", out, sizeof(out), err, sizeof(err)), -EINVAL);
	/* default: ~/.lmstudio (even when missing) */
	assert_int_equal(dp_agent_resolve_home(NULL, tmpdir, out, sizeof(out), err, sizeof(err)), 0);
	snprintf(p, sizeof(p), "%s/.lmstudio", tmpdir);
	assert_string_equal(out, p);
	/* legacy ~/.cache/lm-studio when it exists */
	snprintf(p, sizeof(p), "%s/.cache", tmpdir);
	assert_int_equal(mkdir(p, 0700), 0);
	snprintf(p, sizeof(p), "%s/.cache/lm-studio", tmpdir);
	assert_int_equal(mkdir(p, 0700), 0);
	assert_int_equal(dp_agent_resolve_home(NULL, tmpdir, out, sizeof(out), err, sizeof(err)), 0);
	snprintf(p, sizeof(p), "%s/.cache/lm-studio", real);
	assert_string_equal(out, p);
	/* the pointer file wins */
	char target[PATH_MAX + 64];
	snprintf(target, sizeof(target), "%s/elsewhere", tmpdir);
	assert_int_equal(mkdir(target, 0700), 0);
	snprintf(p, sizeof(p), "%s/.lmstudio-home-pointer", tmpdir);
	char content[PATH_MAX + 200];
	snprintf(content, sizeof(content), "%s\n", target);
	write_file(p, content, 0600);
	assert_int_equal(dp_agent_resolve_home(NULL, tmpdir, out, sizeof(out), err, sizeof(err)), 0);
	snprintf(target, sizeof(target), "%s/elsewhere", real);
	assert_string_equal(out, target);
	/* a pointer that traverses or is relative is refused, never followed */
	write_file(p, "../../etc\n", 0600);
	assert_int_equal(dp_agent_resolve_home(NULL, tmpdir, out, sizeof(out), err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "pointer"));
	snprintf(content, sizeof(content), "%s/elsewhere/../../..\n", tmpdir);
	write_file(p, content, 0600);
	assert_int_equal(dp_agent_resolve_home(NULL, tmpdir, out, sizeof(out), err, sizeof(err)), -EINVAL);
	/* a pointer to a file, not a directory */
	snprintf(content, sizeof(content), "%s\n", p);
	write_file(p, content, 0600);
	assert_int_equal(dp_agent_resolve_home(NULL, tmpdir, out, sizeof(out), err, sizeof(err)), -ENOTDIR);
}

static void test_token(void **state)
{
	(void)state;
	char a[DP_AGENT_TOKEN_LEN + 1], b[DP_AGENT_TOKEN_LEN + 1], err[PATH_MAX + 128];
	dp_agent_token_new(a);
	dp_agent_token_new(b);
	assert_true(dp_agent_token_valid(a));
	assert_string_not_equal(a, b);
	assert_false(dp_agent_token_valid("dpa_"));
	assert_false(dp_agent_token_valid("dp_0123"));
	char up[DP_AGENT_TOKEN_LEN + 1];
	memcpy(up, a, sizeof(up));
	up[10] = 'G';
	assert_false(dp_agent_token_valid(up));

	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/tok", tmpdir);
	int created = 0;
	assert_int_equal(dp_agent_token_load(path, a, &created, err, sizeof(err)), 0);
	assert_int_equal(created, 1);
	struct stat sb;
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	assert_int_equal(dp_agent_token_load(path, b, &created, err, sizeof(err)), 0);
	assert_int_equal(created, 0);
	assert_string_equal(a, b);
	chmod(path, 0640);
	assert_int_equal(dp_agent_token_load(path, b, &created, err, sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "chmod 600"));
	/* set-token: atomic, 0600, validated */
	dp_agent_token_new(b);
	assert_int_equal(dp_agent_token_store(path, b, err, sizeof(err)), 0);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	assert_int_equal(dp_agent_token_load(path, a, &created, err, sizeof(err)), 0);
	assert_string_equal(a, b);
	assert_int_equal(dp_agent_token_store(path, "not-a-token", err, sizeof(err)), -EINVAL);
	/* missing directories are created (0700), as ~/.config/daemonpulse on a fresh host */
	char deep[PATH_MAX];
	snprintf(deep, sizeof(deep), "%s/a/b/agent.token", tmpdir);
	assert_int_equal(dp_agent_token_store(deep, b, err, sizeof(err)), 0);
	snprintf(deep, sizeof(deep), "%s/a/b", tmpdir);
	assert_int_equal(stat(deep, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0700);
	snprintf(deep, sizeof(deep), "%s/c/d/agent.token", tmpdir);
	assert_int_equal(dp_agent_token_load(deep, a, &created, err, sizeof(err)), 0);
	assert_int_equal(created, 1);
	write_file(path, "garbage\n", 0600);
	assert_int_equal(dp_agent_token_load(path, a, &created, err, sizeof(err)), -EINVAL);
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	static char buf[1 << 16];
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return buf;
}

/* Removes the temp files it finds; returns how many there were. */
static int count_temps(void)
{
	int dfd = open(tmpdir, O_RDONLY | O_DIRECTORY);
	int n = dp_agent_mcp_clean_temps(dfd);
	close(dfd);
	return n;
}

static void test_mcp_write(void **state)
{
	(void)state;
	int dfd = open(tmpdir, O_RDONLY | O_DIRECTORY);
	assert_true(dfd >= 0);
	char path[PATH_MAX], bak[PATH_MAX];
	snprintf(path, sizeof(path), "%s/mcp.json", tmpdir);
	snprintf(bak, sizeof(bak), "%s/mcp.json.bak", tmpdir);
	char *text = NULL;
	size_t len = 0;
	assert_int_equal(dp_agent_mcp_read(dfd, &text, &len), -ENOENT);

	const char *v1 = "{\"mcpServers\":{\"a\":{\"url\":\"https://a.example\"}}}\n";
	const char *v2 = "{\"mcpServers\":{}}\n";
	assert_int_equal(dp_agent_mcp_write(dfd, v1, strlen(v1), DP_AGENT_MCP_NO_FAULT), 0);
	assert_string_equal(slurp(path), v1);
	assert_null(slurp(bak));
	struct stat sb;
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);

	/* a crash between the temp file and the rename: the old file stays */
	assert_int_equal(dp_agent_mcp_write(dfd, v2, strlen(v2), DP_AGENT_MCP_CRASH_BEFORE_RENAME), -EIO);
	assert_string_equal(slurp(path), v1);
	assert_int_equal(dp_agent_mcp_read(dfd, &text, &len), 0);
	assert_string_equal(text, v1);
	free(text);
	/* ... and leaves a temp file, which the next write removes */
	assert_int_equal(dp_agent_mcp_write(dfd, v2, strlen(v2), DP_AGENT_MCP_NO_FAULT), 0);
	assert_int_equal(count_temps(), 0);
	assert_string_equal(slurp(path), v2);
	assert_string_equal(slurp(bak), v1);
	/* the temp left by a crash, found by the clean-up */
	assert_int_equal(dp_agent_mcp_write(dfd, v1, strlen(v1), DP_AGENT_MCP_CRASH_BEFORE_RENAME), -EIO);
	assert_int_equal(count_temps(), 1);

	/* ETags differ with the content */
	char e1[21], e2[21];
	dp_agent_mcp_etag(v1, strlen(v1), e1);
	dp_agent_mcp_etag(v2, strlen(v2), e2);
	assert_string_not_equal(e1, e2);
	assert_int_equal(strlen(e1), 18);

	/* size bound */
	char *big = malloc(DP_AGENT_MCP_MAX + 2);
	memset(big, ' ', DP_AGENT_MCP_MAX + 1);
	big[DP_AGENT_MCP_MAX + 1] = '\0';
	assert_int_equal(dp_agent_mcp_write(dfd, big, DP_AGENT_MCP_MAX + 1, DP_AGENT_MCP_NO_FAULT), -EFBIG);
	write_file(path, big, 0600);
	assert_int_equal(dp_agent_mcp_read(dfd, &text, &len), -EFBIG);
	free(big);

	/* a symbolic link as mcp.json is refused for reading and writing */
	char outside[PATH_MAX];
	snprintf(outside, sizeof(outside), "%s/outside.json", tmpdir);
	write_file(outside, "{}", 0600);
	unlink(path);
	assert_int_equal(symlink(outside, path), 0);
	assert_int_equal(dp_agent_mcp_read(dfd, &text, &len), -ELOOP);
	assert_int_equal(dp_agent_mcp_write(dfd, v1, strlen(v1), DP_AGENT_MCP_NO_FAULT), -ELOOP);
	assert_string_equal(slurp(outside), "{}");
	/* a directory as mcp.json */
	unlink(path);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(dp_agent_mcp_read(dfd, &text, &len), -EINVAL);
	close(dfd);
}

static void test_telemetry_roundtrip(void **state)
{
	(void)state;
	struct dp_telemetry_sample *s = calloc(1, sizeof(*s)), *back = calloc(1, sizeof(*back));
	s->ngpus = 2;
	for (int i = 0; i < 2; i++) {
		struct dp_telemetry_gpu *tg = &s->gpus[i];
		struct dp_gpu *g = &tg->g;
		g->index = i;
		snprintf(g->vendor, sizeof(g->vendor), "nvidia");
		snprintf(g->name, sizeof(g->name), "GPU %d", i);
		snprintf(g->uuid, sizeof(g->uuid), "GPU-%d", i);
		g->have = DP_GPU_HAVE_NAME | DP_GPU_HAVE_UUID | DP_GPU_HAVE_MEM_TOTAL | DP_GPU_HAVE_MEM_USED |
		          DP_GPU_HAVE_MEM_FREE | DP_GPU_HAVE_TEMP | DP_GPU_HAVE_POWER | DP_GPU_HAVE_UTIL_GPU |
		          DP_GPU_HAVE_CLK_SM | DP_GPU_HAVE_PROCS;
		g->mem_total = 24ull << 30;
		g->mem_used = 10ull << 30;
		g->mem_free = 14ull << 30;
		g->temp_c = 61;
		g->power_w = 250.5;
		g->util_gpu = 0.5;
		g->clk_sm = 1800;
		g->nprocs = 1;
		g->procs[0].pid = 4243;
		g->procs[0].used_known = 1;
		g->procs[0].used = 9ull << 30;
		g->procs[0].lmstudio = 1;
		tg->split_known = 1;
		tg->lms = 9ull << 30;
		tg->other = 1ull << 30;
	}
	json_t *gpus = json_array();
	for (int i = 0; i < 2; i++)
		json_array_append_new(gpus, dp_telemetry_gpu_json(&s->gpus[i]));
	json_t *body = json_pack("{s:s,s:b,s:n,s:I,s:o,s:{s:I,s:I}}", "source", "nvml", "available", 1, "reason",
	                         "measured_ms", (json_int_t)1, "gpus", gpus, "ram", "total_bytes", (json_int_t)100,
	                         "used_bytes", (json_int_t)40);
	char code[32], msg[256];
	assert_int_equal(dp_agent_client_parse_telemetry(body, back, code, sizeof(code), msg, sizeof(msg)), 1);
	assert_int_equal(back->source, DP_TSRC_AGENT);
	assert_int_equal(back->ngpus, 2);
	assert_true(back->have_ram);
	for (int i = 0; i < 2; i++) {
		json_t *a = dp_telemetry_gpu_json(&s->gpus[i]), *b = dp_telemetry_gpu_json(&back->gpus[i]);
		assert_true(json_equal(a, b));
		json_decref(a);
		json_decref(b);
	}
	json_decref(body);
	/* "no sample" answers */
	body = json_pack("{s:s,s:b,s:{s:s,s:s},s:[]}", "source", "none", "available", 0, "reason", "code", "no_gpu",
	                 "message", "telemetry not supported here\n", "gpus");
	assert_int_equal(dp_agent_client_parse_telemetry(body, back, code, sizeof(code), msg, sizeof(msg)), 0);
	assert_string_equal(code, "no_gpu");
	assert_null(strchr(msg, '\n'));
	json_decref(body);
	/* not the agent's shape */
	body = json_pack("{s:s}", "x", "y");
	assert_int_equal(dp_agent_client_parse_telemetry(body, back, code, sizeof(code), msg, sizeof(msg)), -EINVAL);
	json_decref(body);
	free(s);
	free(back);
}

static void test_default_url(void **state)
{
	(void)state;
	char out[256];
	assert_int_equal(dp_agent_client_default_url("http://10.0.0.5:1234", out, sizeof(out)), 0);
	assert_string_equal(out, "http://10.0.0.5:3001");
	assert_int_equal(dp_agent_client_default_url("https://gpu.lan/", out, sizeof(out)), 0);
	assert_string_equal(out, "http://gpu.lan:3001");
	assert_int_equal(dp_agent_client_default_url("http://[::1]:1234", out, sizeof(out)), 0);
	assert_string_equal(out, "http://[::1]:3001");
	assert_int_equal(dp_agent_client_default_url("nonsense", out, sizeof(out)), -EINVAL);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_mcp_validate),
	        cmocka_unit_test_setup_teardown(test_home, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_token, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_mcp_write, setup, teardown),
	        cmocka_unit_test(test_telemetry_roundtrip),
	        cmocka_unit_test(test_default_url),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
