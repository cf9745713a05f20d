/*
 * lms_system.c - `lms log stream`, `lms runtime survey`, `lms server
 * status|start|stop`, `lms version`, `lms daemon status` (reference §6.2,
 * §7.1, §8.1).
 *
 * `log stream` prints one DiagnosticsLogEvent per line on stdout as each
 * arrives (flushed per line) and exits 0 on SIGINT/SIGTERM; its banner goes
 * to stderr. `server`, `daemon` and `version` are local-only in the real CLI
 * (no --host/--port): here they reach the simulator named by LMS_SIM_HOST /
 * LMS_SIM_PORT.
 */
#include "lms.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "xmalloc.h"
#include "version.h"

#define HOST_OPTS                                                                                                      \
	{"host", 0, 1},                                                                                                \
	{                                                                                                              \
		"port", 0, 1                                                                                           \
	}
#define NOPTS(a) (sizeof(a) / sizeof((a)[0]))

enum { CALL_TIMEOUT_MS = 30000, PROBE_TIMEOUT_MS = 2000 };

static const char *str(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	return json_is_string(v) ? json_string_value(v) : "";
}

static double num(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	return json_is_number(v) ? json_number_value(v) : 0;
}

/* ---- log stream ---- */

static volatile int stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

struct log_ctx {
	const char *source;
	int json;
	int stats;
	int want_input;
	int want_output;
};

static void print_time(long long ms)
{
	time_t s = (time_t)(ms / 1000);
	struct tm tm;
	char buf[64];
	gmtime_r(&s, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
	printf("timestamp: %s.%03lldZ\n", buf, ms % 1000);
}

static void print_stats(json_t *s)
{
	const char *k;
	json_t *v;
	printf("stats:\n");
	json_object_foreach(s, k, v)
	{
		if (json_is_number(v)) {
			char num_s[64];
			dp_lms_fmt_number(num_s, sizeof(num_s), json_number_value(v));
			printf("  %s: %s\n", k, num_s);
			continue;
		}
		char *d = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
		printf("  %s: %s\n", k, d ? d : "");
		free(d);
	}
}

static int on_log_line(const char *line, size_t len, void *ud)
{
	struct log_ctx *c = ud;
	json_t *ev = json_loadb(line, len, 0, NULL);
	json_t *data = json_object_get(ev, "data");
	const char *type = str(data, "type");
	int keep;
	/* the real CLI filters client-side (reference §7.1); do the same */
	if (strcmp(c->source, "server") == 0)
		keep = strcmp(type, "server.log") == 0;
	else if (strcmp(c->source, "runtime") == 0)
		keep = strcmp(type, "runtime.log") == 0;
	else
		keep = (c->want_input && strcmp(type, "llm.prediction.input") == 0) ||
		       (c->want_output && strcmp(type, "llm.prediction.output") == 0);
	if (!ev || !keep) {
		json_decref(ev);
		return 0;
	}
	if (c->json) {
		/* the line as the daemon sent it: one compact JSON object, numbers untouched */
		fwrite(line, 1, len, stdout);
		fputc('\n', stdout);
		json_decref(ev);
		return fflush(stdout) != 0 || ferror(stdout); /* reader gone: stop */
	}
	json_t *ts = json_object_get(ev, "timestamp");
	if (strcmp(type, "server.log") == 0) {
		printf("%s\n", str(data, "content"));
	} else if (strcmp(type, "runtime.log") == 0) {
		printf("[%s][%s] %s\n", str(data, "engineName"), str(data, "level"), str(data, "message"));
	} else {
		print_time(json_is_integer(ts) ? json_integer_value(ts) : 0);
		printf("type: %s\n", type);
		printf("modelIdentifier: %s\n", str(data, "modelIdentifier"));
		if (strcmp(type, "llm.prediction.input") == 0) {
			printf("modelPath: %s\n", str(data, "modelPath"));
			printf("input: \"%s\"\n", str(data, "input"));
		} else {
			printf("output: \"%s\"\n", str(data, "output"));
			if (c->stats && json_is_object(json_object_get(data, "stats")))
				print_stats(json_object_get(data, "stats"));
		}
		putchar('\n');
	}
	int gone = fflush(stdout) != 0 || ferror(stdout);
	json_decref(ev);
	return gone;
}

static const struct dp_lms_opt log_opts[] = {
        {"source", 's', 1}, {"filter", 0, 1}, {"stats", 0, 0}, {"json", 0, 0}, HOST_OPTS,
};

int dp_lms_system_log_stream(int argc, char **argv)
{
	struct dp_lms_args a;
	struct dp_lms_target t;
	if (dp_lms_args_parse(&a, log_opts, NOPTS(log_opts), 0, argc, argv) < 0)
		return 1;
	struct log_ctx c = {.source = "model", .want_input = 1, .want_output = 1};
	const char *src = dp_lms_args_get(&a, "source");
	if (src) {
		if (strcmp(src, "model") && strcmp(src, "server") && strcmp(src, "runtime")) {
			fprintf(stderr,
			        "error: option '-s, --source <source>' argument '%s' is invalid. "
			        "Allowed choices are model, server, runtime.\n",
			        src);
			return 1;
		}
		c.source = src;
	}
	c.json = dp_lms_args_has(&a, "json");
	c.stats = dp_lms_args_has(&a, "stats");
	const char *filter = dp_lms_args_get(&a, "filter");
	if ((c.stats || filter) && strcmp(c.source, "model") != 0) {
		dp_lms_err("--stats and --filter can only be used with --source model.");
		return 1;
	}
	if (filter) {
		c.want_input = c.want_output = 0;
		const char *p = filter;
		while (*p) {
			const char *comma = strchr(p, ',');
			size_t len = comma ? (size_t)(comma - p) : strlen(p);
			if (len == 5 && memcmp(p, "input", 5) == 0) {
				c.want_input = 1;
			} else if (len == 6 && memcmp(p, "output", 6) == 0) {
				c.want_output = 1;
			} else {
				dp_lms_err("Invalid filter \"%.*s\": use input, output or input,output.", (int)len, p);
				return 1;
			}
			p += len;
			if (*p == ',')
				p++;
		}
		if (!c.want_input && !c.want_output) {
			dp_lms_err("The filter must not be empty: use input, output or input,output.");
			return 1;
		}
	}
	if (dp_lms_target_from_env(&t) < 0 || dp_lms_target_from_args(&t, &a) < 0)
		return 1;

	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	/* probe first so a dead target fails with the usual message */
	json_t *probe;
	long st;
	if (dp_lms_call(&t, "/__sim/lms/server-status", NULL, PROBE_TIMEOUT_MS, &probe, &st) < 0)
		return 1;
	json_decref(probe);
	char path[96];
	snprintf(path, sizeof(path), "/__sim/lms/log-stream?source=%s", c.source);
	dp_lms_info("Streaming logs from LM Studio");
	int rc = dp_lms_http_stream(&t, path, on_log_line, &c, &stop_flag);
	if (stop_flag || rc == 0)
		return 0;
	if (rc == -ECONNREFUSED)
		dp_lms_err("The server does not appear to be running at %s:%ld.", t.host, t.port);
	else
		dp_lms_err("The log stream from LM Studio ended unexpectedly.");
	return 1;
}

/* ---- runtime survey ---- */

static const struct dp_lms_opt survey_opts[] = {{"json", 0, 0}, {"refresh", 0, 0}, HOST_OPTS};

int dp_lms_system_survey(int argc, char **argv)
{
	struct dp_lms_args a;
	struct dp_lms_target t;
	if (dp_lms_args_parse(&a, survey_opts, NOPTS(survey_opts), 0, argc, argv) < 0 ||
	    dp_lms_target_from_env(&t) < 0 || dp_lms_target_from_args(&t, &a) < 0)
		return 1;
	json_t *j;
	long st;
	if (dp_lms_call(&t, "/__sim/lms/runtime-survey", NULL, CALL_TIMEOUT_MS, &j, &st) < 0)
		return 1;
	if (st != 200 || !json_is_object(j)) {
		dp_lms_err("%s", dp_lms_error_text(j, "hardware survey failed"));
		json_decref(j);
		return 1;
	}
	if (dp_lms_args_has(&a, "json")) {
		dp_lms_print_json(j, 1); /* reference §8.1: pretty-printed */
		json_decref(j);
		return 0;
	}
	/* text: the llama.cpp engine's survey (reference §8.1) */
	json_t *engines = json_object_get(j, "engines");
	json_t *eng = NULL, *e;
	size_t i;
	json_array_foreach(engines, i, e)
	{
		if (strcmp(str(e, "engine"), "llama.cpp") == 0) {
			eng = e;
			break;
		}
	}
	if (!eng)
		eng = json_array_get(engines, 0);
	if (!eng) {
		printf("No runtime engines found.\n");
		json_decref(j);
		return 0;
	}
	printf("\nSurvey by %s (%s)\n\n", str(eng, "name"), str(eng, "version"));
	json_t *hw = json_object_get(eng, "hardwareSurvey");
	json_t *gpus = json_object_get(json_object_get(hw, "gpuSurveyResult"), "gpuInfo");
	struct dp_lms_table tb;
	dp_lms_table_init(&tb, 2);
	const char *hdr[] = {"GPU/ACCELERATORS", "VRAM"};
	dp_lms_table_add(&tb, hdr);
	json_t *g;
	json_array_foreach(gpus, i, g)
	{
		char name[512], vram[32];
		double ded = num(g, "dedicatedMemoryCapacityBytes");
		dp_lms_fmt_bytes1024(vram, sizeof(vram), ded > 0 ? ded : num(g, "totalMemoryCapacityBytes"));
		snprintf(name, sizeof(name), "%s (%s, %s)", str(g, "name"), str(g, "detectionPlatform"),
		         str(g, "integrationType"));
		const char *row[] = {name, vram};
		dp_lms_table_add(&tb, row);
	}
	if (json_array_size(gpus) == 0)
		printf("No GPUs detected.\n");
	else
		dp_lms_table_print(&tb, "");
	dp_lms_table_release(&tb);
	json_t *cpu = json_object_get(json_object_get(hw, "cpuSurveyResult"), "cpuInfo");
	if (cpu) {
		printf("\nCPU: %s (", str(cpu, "architecture"));
		json_t *x;
		json_array_foreach(json_object_get(cpu, "supportedInstructionSetExtensions"), i, x)
		        printf("%s%s", i ? ", " : "", json_string_value(x) ? json_string_value(x) : "");
		printf(")\n");
	}
	char ram[32];
	dp_lms_fmt_bytes1024(ram, sizeof(ram), num(json_object_get(eng, "memoryInfo"), "ramCapacity"));
	printf("RAM: %s\n\n", ram);
	fflush(stdout);
	json_decref(j);
	return 0;
}

/* ---- server status|start|stop ---- */

static const struct dp_lms_opt status_opts[] = {{"json", 0, 0}};

int dp_lms_system_server_status(int argc, char **argv)
{
	struct dp_lms_args a;
	struct dp_lms_target t;
	if (dp_lms_args_parse(&a, status_opts, NOPTS(status_opts), 0, argc, argv) < 0 || dp_lms_target_from_env(&t) < 0)
		return 1;
	struct dp_buf out;
	long st;
	json_t *j = NULL;
	if (dp_lms_http_request(&t, "/__sim/lms/server-status", NULL, PROBE_TIMEOUT_MS, &out, &st) == 0 && st == 200)
		j = json_loadb(out.data, out.len, 0, NULL);
	dp_buf_release(&out);
	if (!json_is_object(j)) {
		/* nothing answers: the server is not running (the real CLI reads its config file) */
		json_decref(j);
		j = json_pack("{s:b,s:i}", "running", 0, "port", (int)t.port);
	}
	if (dp_lms_args_has(&a, "json")) {
		dp_lms_print_json(j, 0);
	} else if (json_is_true(json_object_get(j, "running"))) {
		dp_lms_info("The server is running on port %.0f.", num(j, "port"));
	} else {
		dp_lms_info("The server is not running.");
	}
	json_decref(j);
	return 0;
}

static int greeting_ok(const struct dp_lms_target *t)
{
	struct dp_buf out;
	long st;
	int ok = 0;
	if (dp_lms_http_request(t, "/lmstudio-greeting", NULL, 500, &out, &st) == 0 && st == 200) {
		json_t *j = json_loadb(out.data, out.len, 0, NULL);
		ok = json_is_true(json_object_get(j, "lmstudio"));
		json_decref(j);
	}
	dp_buf_release(&out);
	return ok;
}

static const struct dp_lms_opt start_opts[] = {{"port", 'p', 1}, {"bind", 0, 1}, {"cors", 0, 0}};

int dp_lms_system_server_start(int argc, char **argv)
{
	struct dp_lms_args a;
	struct dp_lms_target t;
	if (dp_lms_args_parse(&a, start_opts, NOPTS(start_opts), 0, argc, argv) < 0 || dp_lms_target_from_env(&t) < 0)
		return 1;
	json_t *req = json_object();
	if (dp_lms_args_has(&a, "port")) {
		long port;
		if (dp_lms_args_int(&a, "port", 1, 65535, &port) < 0) {
			json_decref(req);
			return 1;
		}
		json_object_set_new(req, "port", json_integer(port));
	}
	/* bind precedence: flag > LMS_SERVER_HOST > default (reference §1.1) */
	const char *bind = dp_lms_args_get(&a, "bind");
	if (!bind && getenv("LMS_SERVER_HOST") && *getenv("LMS_SERVER_HOST"))
		bind = getenv("LMS_SERVER_HOST");
	if (bind)
		json_object_set_new(req, "bind", json_string(bind));
	if (dp_lms_args_has(&a, "cors")) {
		json_object_set_new(req, "cors", json_true());
		dp_lms_info("CORS is enabled. This means any website you visit can use the LM Studio server.");
	}
	char *body = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	json_t *r;
	long st;
	int rc = dp_lms_call(&t, "/__sim/lms/server-start", body, CALL_TIMEOUT_MS, &r, &st);
	free(body);
	if (rc < 0)
		return 1;
	if (st != 200) {
		dp_lms_err("%s", dp_lms_error_text(r, "failed to start the server"));
		json_decref(r);
		return 1;
	}
	long port = json_is_number(json_object_get(r, "port")) ? (long)num(r, "port") : t.port;
	json_decref(r);
	struct dp_lms_target v = t;
	v.port = port;
	/* reference §6.2: verify /lmstudio-greeting 5 times at 1 s */
	for (int i = 0; i < 5; i++) {
		if (greeting_ok(&v)) {
			dp_lms_info("Success! Server is now running on port %ld", port);
			return 0;
		}
		if (i < 4)
			sleep(1);
	}
	dp_lms_err("Failed to verify the server is running on port %ld.", port);
	return 1;
}

int dp_lms_system_server_stop(int argc, char **argv)
{
	struct dp_lms_args a;
	struct dp_lms_target t;
	if (dp_lms_args_parse(&a, NULL, 0, 0, argc, argv) < 0 || dp_lms_target_from_env(&t) < 0)
		return 1;
	struct dp_buf out;
	long st;
	int rc = dp_lms_http_request(&t, "/__sim/lms/server-stop", "{}", CALL_TIMEOUT_MS, &out, &st);
	json_t *r = rc == 0 ? json_loadb(out.data, out.len, 0, NULL) : NULL;
	dp_buf_release(&out);
	if (rc < 0 || st != 200) {
		/* reference §6.2: exit 1 "The server is not running." */
		dp_lms_err("The server is not running.");
		json_decref(r);
		return 1;
	}
	dp_lms_info("Stopped the server on port %.0f.", num(r, "port"));
	json_decref(r);
	return 0;
}

/* ---- version, daemon status ---- */

static const struct dp_lms_opt json_only[] = {{"json", 0, 0}};

int dp_lms_system_version(int argc, char **argv)
{
	struct dp_lms_args a;
	struct dp_lms_target t;
	if (dp_lms_args_parse(&a, json_only, NOPTS(json_only), 0, argc, argv) < 0 || dp_lms_target_from_env(&t) < 0)
		return 1;
	/* the CLI's own version: the simulator's when it answers, else this build's */
	struct dp_buf out;
	long st;
	json_t *j = NULL;
	if (dp_lms_http_request(&t, "/__sim/lms/version", NULL, PROBE_TIMEOUT_MS, &out, &st) == 0 && st == 200)
		j = json_loadb(out.data, out.len, 0, NULL);
	dp_buf_release(&out);
	char *ver = xstrdup(json_is_string(json_object_get(j, "version")) ? str(j, "version") : dp_version);
	json_decref(j);
	if (dp_lms_args_has(&a, "json")) {
		json_t *o = json_pack("{s:s}", "version", ver); /* reference §6.2 {"version":"<commit hash>"} */
		dp_lms_print_json(o, 0);
		json_decref(o);
	} else {
		printf("lms - LM Studio CLI - v%s\nGitHub: https://github.com/lmstudio-ai/lms\n", ver);
		fflush(stdout);
	}
	free(ver);
	return 0;
}

int dp_lms_system_daemon_status(int argc, char **argv)
{
	struct dp_lms_args a;
	struct dp_lms_target t;
	if (dp_lms_args_parse(&a, json_only, NOPTS(json_only), 0, argc, argv) < 0 || dp_lms_target_from_env(&t) < 0)
		return 1;
	struct dp_buf out;
	long st;
	json_t *s = NULL;
	if (dp_lms_http_request(&t, "/__sim/state", NULL, PROBE_TIMEOUT_MS, &out, &st) == 0 && st == 200)
		s = json_loadb(out.data, out.len, 0, NULL);
	dp_buf_release(&out);
	json_t *o;
	if (json_is_object(s)) {
		/* reference §6.2 {"status":"running","pid":N,"isDaemon":bool}; the simulator is a daemon */
		o = json_pack("{s:s}", "status", "running");
		if (json_is_integer(json_object_get(s, "pid")))
			json_object_set(o, "pid", json_object_get(s, "pid"));
		json_object_set_new(o, "isDaemon", json_true());
	} else {
		o = json_pack("{s:s}", "status", "not-running");
	}
	json_decref(s);
	if (dp_lms_args_has(&a, "json")) {
		dp_lms_print_json(o, 0);
	} else if (strcmp(str(o, "status"), "running") == 0) {
		if (json_is_integer(json_object_get(o, "pid")))
			dp_lms_info("llmster is running (PID: %lld).",
			            (long long)json_integer_value(json_object_get(o, "pid")));
		else
			dp_lms_info("llmster is running.");
	} else {
		dp_lms_info("llmster is not running.");
	}
	json_decref(o);
	return 0;
}

/* GET /__sim/state; NULL when the simulator does not answer. */
static json_t *sim_state(const struct dp_lms_target *t)
{
	struct dp_buf out;
	long st;
	json_t *s = NULL;
	if (dp_lms_http_request(t, "/__sim/state", NULL, PROBE_TIMEOUT_MS, &out, &st) == 0 && st == 200)
		s = json_loadb(out.data, out.len, 0, NULL);
	dp_buf_release(&out);
	if (!json_is_object(s)) {
		json_decref(s);
		return NULL;
	}
	return s;
}

int dp_lms_system_daemon_up(int argc, char **argv)
{
	struct dp_lms_args a;
	struct dp_lms_target t;
	if (dp_lms_args_parse(&a, json_only, NOPTS(json_only), 0, argc, argv) < 0 || dp_lms_target_from_env(&t) < 0)
		return 1;
	json_t *s = sim_state(&t);
	if (!s) {
		/* the stand-in cannot start a simulator: llmster-sim is started by its owner */
		dp_lms_err("Failed to start or connect to llmster at %s:%ld.", t.host, t.port);
		return 1;
	}
	struct dp_buf out;
	long st;
	json_t *v = NULL;
	if (dp_lms_http_request(&t, "/__sim/lms/version", NULL, PROBE_TIMEOUT_MS, &out, &st) == 0 && st == 200)
		v = json_loadb(out.data, out.len, 0, NULL);
	dp_buf_release(&out);
	/* reference §6.2 {"status":"running","pid":N,"isDaemon":true,"version":"0.4.4+1"} */
	json_t *o = json_pack("{s:s}", "status", "running");
	if (json_is_integer(json_object_get(s, "pid")))
		json_object_set(o, "pid", json_object_get(s, "pid"));
	json_object_set_new(o, "isDaemon", json_true());
	if (json_is_string(json_object_get(v, "appVersion")))
		json_object_set(o, "version", json_object_get(v, "appVersion"));
	if (dp_lms_args_has(&a, "json"))
		dp_lms_print_json(o, 0);
	else
		dp_lms_info("llmster is running (version %s).", str(o, "version"));
	json_decref(o);
	json_decref(v);
	json_decref(s);
	return 0;
}

/* Only a local llmster-sim process may be stopped by pid. */
static int is_local_sim(const struct dp_lms_target *t, long long pid)
{
	if (strcmp(t->host, "127.0.0.1") && strcmp(t->host, "localhost"))
		return 0;
	char path[64], comm[64] = {0};
	snprintf(path, sizeof(path), "/proc/%lld/comm", pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, comm, sizeof(comm) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	comm[strcspn(comm, "\n")] = '\0';
	return strcmp(comm, "llmster-sim") == 0;
}

int dp_lms_system_daemon_down(int argc, char **argv)
{
	struct dp_lms_args a;
	struct dp_lms_target t;
	if (dp_lms_args_parse(&a, NULL, 0, 0, argc, argv) < 0 || dp_lms_target_from_env(&t) < 0)
		return 1;
	json_t *s = sim_state(&t);
	if (!s) {
		/* reference §6.2: exit 1 if not running */
		dp_lms_err("llmster is not running.");
		return 1;
	}
	json_t *pidv = json_object_get(s, "pid");
	long long pid = json_is_integer(pidv) ? (long long)json_integer_value(pidv) : 0;
	json_decref(s);
	/* requestShutdown: the simulator exits cleanly on SIGTERM (sim/README.md) */
	if (pid <= 1 || !is_local_sim(&t, pid) || kill((pid_t)pid, SIGTERM) != 0) {
		dp_lms_err("Could not ask llmster at %s:%ld to shut down.", t.host, t.port);
		return 1;
	}
	for (int i = 0; i < 100; i++) {
		if (kill((pid_t)pid, 0) != 0) {
			dp_lms_info("llmster has stopped.");
			return 0;
		}
		usleep(100 * 1000);
	}
	dp_lms_err("llmster did not stop within 10 seconds.");
	return 1;
}
