/*
 * test_lms_sim.c - the lms bridge against the real binaries of this repo:
 * build/llmster-sim (the simulated daemon) and build/lms (the CLI stand-in),
 * both started through dp_job. Covers ls, estimate, load, ps, unload (and its
 * failure), runtime survey, server status, the per-target limit with many
 * calls, and a live log stream stopped with SIGTERM.
 *
 * Binaries come from $DP_BIN_DIR (default build/); when they are missing the
 * tests are skipped, not failed. Run from the repository root.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <limits.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "job.h"
#include "lms.h"

struct world {
	struct event_base *base;
	struct dp_jobs *jobs;
	struct dp_job *sim;
	int sim_done;
	struct dp_lms *l;
	int port;
	char lms_bin[PATH_MAX], sim_bin[PATH_MAX], port_s[16];
	struct dp_lms_target t;
};

struct res {
	struct event_base *base;
	int n, want;
	enum dp_lms_status status;
	char msg[600];
	json_t *json;
	struct dp_lms_estimate est;
	int have_est;
	int counts[16];
	int max_running;
	struct dp_lms *l;
};

static void on_res(const struct dp_lms_result *r, void *arg)
{
	struct res *x = arg;
	x->n++;
	x->status = r->status;
	x->counts[r->status]++;
	snprintf(x->msg, sizeof x->msg, "%s", r->message);
	json_decref(x->json);
	x->json = r->json ? json_incref(r->json) : NULL;
	if (r->estimate) {
		x->est = *r->estimate;
		x->have_est = 1;
	}
	if (x->l) {
		int run, q;
		dp_lms_load_of(x->l, "sim", &run, &q);
		if (run > x->max_running)
			x->max_running = run;
	}
	if (x->n >= x->want)
		event_base_loopbreak(x->base);
}

static void watchdog(evutil_socket_t fd, short what, void *arg)
{
	int *fired = arg;
	*fired = 1;
}

/* Run the loop until `*flag` reaches `want` or `seconds` pass. */
static void run_until(struct event_base *base, int *flag, int want, int seconds)
{
	int fired = 0;
	struct event *wd = evtimer_new(base, watchdog, &fired);
	struct timeval tv = {seconds, 0};
	evtimer_add(wd, &tv);
	while (*flag < want && !fired)
		event_base_loop(base, EVLOOP_ONCE);
	event_free(wd);
}

static enum dp_lms_status sync_call(struct world *w, const struct dp_lms_req *r, struct res *x)
{
	json_decref(x->json);
	memset(x, 0, sizeof *x);
	x->base = w->base;
	x->want = 1;
	dp_lms_call(w->l, &w->t, r, on_res, x);
	run_until(w->base, &x->n, 1, 30);
	assert_int_equal(x->n, 1);
	return x->status;
}

static void sim_done(struct dp_job *job, const struct dp_job_result *res, void *arg)
{
	struct world *w = arg;
	w->sim_done = 1;
	if (res->state != DP_JOB_STOPPED)
		fprintf(stderr, "llmster-sim ended early (%s, exit %d): %.*s\n", dp_job_state_name(res->state),
		        res->exit_code, (int)res->err_len, res->err);
}

static void ignore_line(struct dp_job *job, const char *line, size_t len, void *arg)
{
}

static int free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof a;
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return ntohs(a.sin_port);
}

static int setup(void **state)
{
	struct world *w = calloc(1, sizeof *w);
	*state = w;
	const char *dir = getenv("DP_BIN_DIR");
	if (!dir || !*dir)
		dir = "build";
	snprintf(w->lms_bin, sizeof w->lms_bin, "%s/lms", dir);
	snprintf(w->sim_bin, sizeof w->sim_bin, "%s/llmster-sim", dir);
	if (access(w->lms_bin, X_OK) < 0 || access(w->sim_bin, X_OK) < 0)
		return 0; /* tests skip */
	w->base = event_base_new();
	w->jobs = dp_jobs_new(w->base);
	w->port = free_port();
	snprintf(w->port_s, sizeof w->port_s, "%d", w->port);
	const char *argv[] = {w->sim_bin, "--bind", "127.0.0.1", "--port", w->port_s, "--speed", "50", NULL};
	struct dp_job_spec spec = {.argv = argv, .on_line = ignore_line, .on_done = sim_done, .arg = w};
	if (dp_job_start(w->jobs, &spec, &w->sim) < 0)
		return -1;
	/* Local-only commands (server status) reach the simulator through these. */
	setenv("LMS_SIM_HOST", "127.0.0.1", 1);
	setenv("LMS_SIM_PORT", w->port_s, 1);

	struct dp_lms_config cfg;
	dp_lms_config_defaults(&cfg);
	cfg.bin = w->lms_bin;
	cfg.per_target = 2;
	cfg.queue_max = 32;
	w->l = dp_lms_new(w->base, &cfg);
	w->t.key = "sim";
	w->t.host = "127.0.0.1";
	w->t.port = w->port;

	/* Ready when `lms ps` answers (the CLI probes the simulator over HTTP). */
	struct res x = {0};
	for (int i = 0; i < 100; i++) {
		if (sync_call(w, &(struct dp_lms_req){.cmd = DP_LMS_PS}, &x) == DP_LMS_OK)
			break;
		usleep(100 * 1000);
	}
	json_decref(x.json);
	return x.status == DP_LMS_OK ? 0 : -1;
}

static int teardown(void **state)
{
	struct world *w = *state;
	if (w->l)
		dp_lms_free(w->l);
	if (w->sim && !w->sim_done) {
		dp_job_stop(w->sim);
		run_until(w->base, &w->sim_done, 1, 10);
	}
	if (w->jobs)
		dp_jobs_free(w->jobs);
	if (w->base)
		event_base_free(w->base);
	free(w);
	return 0;
}

#define NEED_BINARIES(w)                                                                                               \
	do {                                                                                                           \
		if (!(w)->l)                                                                                           \
			skip();                                                                                        \
	} while (0)

static const char *first_llm(json_t *ls)
{
	size_t i;
	json_t *m;
	json_array_foreach(ls, i, m)
	{
		const char *type = json_string_value(json_object_get(m, "type"));
		if (type && strcmp(type, "llm") == 0)
			return json_string_value(json_object_get(m, "model_key"));
	}
	return NULL;
}

static int has_identifier(json_t *ps, const char *id)
{
	size_t i;
	json_t *m;
	json_array_foreach(ps, i, m)
	{
		const char *s = json_string_value(json_object_get(m, "identifier"));
		if (s && strcmp(s, id) == 0)
			return 1;
	}
	return 0;
}

static void test_sim_models(void **state)
{
	struct world *w = *state;
	NEED_BINARIES(w);
	struct res x = {0};
	assert_int_equal(sync_call(w, &(struct dp_lms_req){.cmd = DP_LMS_LS}, &x), DP_LMS_OK);
	assert_true(json_array_size(x.json) > 0);
	char key[512];
	const char *k = first_llm(x.json);
	assert_non_null(k);
	snprintf(key, sizeof key, "%s", k);

	assert_int_equal(
	        sync_call(w, &(struct dp_lms_req){.cmd = DP_LMS_ESTIMATE, .model = key, .context_length = 4096}, &x),
	        DP_LMS_OK);
	assert_true(x.have_est);
	assert_true(x.est.gpu_bytes > 0 || x.est.total_bytes > 0);
	assert_int_equal(x.est.context_length, 4096);
	assert_true(x.est.fits == 0 || x.est.fits == 1);

	assert_int_equal(
	        sync_call(w,
	                  &(struct dp_lms_req){
	                          .cmd = DP_LMS_LOAD, .model = key, .identifier = "dp-it", .context_length = 4096},
	                  &x),
	        DP_LMS_OK);
	assert_int_equal(sync_call(w, &(struct dp_lms_req){.cmd = DP_LMS_PS}, &x), DP_LMS_OK);
	assert_true(has_identifier(x.json, "dp-it"));
	assert_int_equal(sync_call(w, &(struct dp_lms_req){.cmd = DP_LMS_UNLOAD, .model = "dp-it"}, &x), DP_LMS_OK);
	assert_int_equal(sync_call(w, &(struct dp_lms_req){.cmd = DP_LMS_PS}, &x), DP_LMS_OK);
	assert_false(has_identifier(x.json, "dp-it"));
	/* Unloading it again fails with lms's own message. */
	assert_int_equal(sync_call(w, &(struct dp_lms_req){.cmd = DP_LMS_UNLOAD, .model = "dp-it"}, &x), DP_LMS_FAILED);
	assert_non_null(strstr(x.msg, "lms unload failed (exit 1)"));
	json_decref(x.json);
}

static void test_sim_survey_and_status(void **state)
{
	struct world *w = *state;
	NEED_BINARIES(w);
	struct res x = {0};
	assert_int_equal(sync_call(w, &(struct dp_lms_req){.cmd = DP_LMS_RUNTIME_SURVEY}, &x), DP_LMS_OK);
	assert_string_equal(json_string_value(json_object_get(x.json, "status")), "ok");
	assert_true(json_array_size(json_object_get(x.json, "gpus")) > 0);
	json_t *g = json_array_get(json_object_get(x.json, "gpus"), 0);
	assert_true(json_integer_value(json_object_get(g, "vram_bytes")) > 0);
	assert_int_equal(sync_call(w, &(struct dp_lms_req){.cmd = DP_LMS_SERVER_STATUS}, &x), DP_LMS_OK);
	assert_true(json_is_true(json_object_get(x.json, "running")));
	assert_int_equal(sync_call(w, &(struct dp_lms_req){.cmd = DP_LMS_VERSION}, &x), DP_LMS_OK);
	assert_true(json_is_string(json_object_get(x.json, "version")));
	json_decref(x.json);
}

static void test_sim_concurrency(void **state)
{
	struct world *w = *state;
	NEED_BINARIES(w);
	struct res x = {.base = w->base, .want = 10, .l = w->l};
	for (int i = 0; i < 10; i++)
		dp_lms_call(w->l, &w->t, &(struct dp_lms_req){.cmd = DP_LMS_PS}, on_res, &x);
	int run, q;
	dp_lms_load_of(w->l, "sim", &run, &q);
	assert_int_equal(run, 2);
	assert_int_equal(q, 8);
	run_until(w->base, &x.n, 10, 60);
	assert_int_equal(x.counts[DP_LMS_OK], 10);
	assert_true(x.max_running <= 2);
	json_decref(x.json);
}

struct lines {
	int n, exits;
	char code[32];
	int bad;
};

static void s_line(const char *line, size_t len, void *arg)
{
	struct lines *s = arg;
	json_error_t je;
	json_t *j = json_loadb(line, len, 0, &je);
	if (!j || !json_is_object(json_object_get(j, "data")))
		s->bad++;
	json_decref(j);
	s->n++;
}

static void s_exit(const struct dp_lms_result *r, void *arg)
{
	struct lines *s = arg;
	s->exits++;
	snprintf(s->code, sizeof s->code, "%s", r->code);
}

static void test_sim_log_stream(void **state)
{
	struct world *w = *state;
	NEED_BINARIES(w);
	struct lines s = {0};
	char err[256];
	struct dp_lms_stream *st;
	struct dp_lms_req r = {.cmd = DP_LMS_LOG_STREAM, .source = "server"};
	assert_int_equal(dp_lms_stream_start(w->l, &w->t, &r, s_line, s_exit, &s, &st, err, sizeof err), 0);
	/* Make the daemon log something: REST requests produce server.log lines.
	 * lms ps goes through /__sim/, so ask for a model list over REST. */
	for (int i = 0; i < 50 && s.n == 0; i++) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		struct sockaddr_in a = {.sin_family = AF_INET,
		                        .sin_port = htons((uint16_t)w->port),
		                        .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
		if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0) {
			const char req[] = "GET /api/v1/models HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
			ssize_t wr = write(fd, req, sizeof req - 1);
			(void)wr;
		}
		close(fd);
		int before = s.n;
		run_until(w->base, &s.n, before + 1, 1);
	}
	assert_true(s.n > 0);
	assert_int_equal(s.bad, 0);
	dp_lms_stream_stop(st);
	run_until(w->base, &s.exits, 1, 10);
	assert_int_equal(s.exits, 1);
	assert_string_equal(s.code, "stopped");
	assert_int_equal(dp_lms_stream_count(w->l), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_sim_models),
	        cmocka_unit_test(test_sim_survey_and_status),
	        cmocka_unit_test(test_sim_concurrency),
	        cmocka_unit_test(test_sim_log_stream),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
