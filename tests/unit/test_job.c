/*
 * test_job.c - child processes on the loop: exit codes, a missing binary is
 * -ENOENT, timeouts kill (SIGTERM, then SIGKILL), output caps, stderr kept
 * apart, stdin bytes, line streaming with an over-long line skipped, stop and
 * cancel, many concurrent children, the SIGCHLD fallback, and no zombies.
 * Only existing binaries are spawned (/bin/echo, cat, sleep, yes, ls, env).
 */
#include <errno.h>
#include <event2/event.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "job.h"

struct run {
	struct event_base *base;
	struct dp_jobs *t;
	int done;
	struct dp_job_result res;
	char *out, *err;
	/* stream mode */
	int nlines;
	char lines[16][256];
	size_t line_lens[16];
	int stop_after;   /* dp_job_stop after this many lines (0: never) */
	int cancel_after; /* dp_job_cancel after this many lines */
	int *remaining;
};

static void on_done(struct dp_job *job, const struct dp_job_result *res, void *arg)
{
	struct run *r = arg;
	r->done++;
	r->res = *res;
	r->out = malloc(res->out_len + 1);
	memcpy(r->out, res->out, res->out_len + 1);
	r->err = malloc(res->err_len + 1);
	memcpy(r->err, res->err, res->err_len + 1);
	r->res.out = r->out;
	r->res.err = r->err;
	/* Allowed and harmless on a finished job. */
	dp_job_stop(job);
	if (r->remaining) {
		if (--*r->remaining == 0)
			event_base_loopbreak(r->base);
	} else {
		event_base_loopbreak(r->base);
	}
}

static void on_line(struct dp_job *job, const char *line, size_t len, void *arg)
{
	struct run *r = arg;
	assert_int_equal(strlen(line), len);
	if (r->nlines < 16) {
		size_t n = len < 255 ? len : 255;
		memcpy(r->lines[r->nlines], line, n);
		r->lines[r->nlines][n] = '\0';
		r->line_lens[r->nlines] = len;
	}
	r->nlines++;
	if (r->stop_after && r->nlines == r->stop_after)
		dp_job_stop(job);
	if (r->cancel_after && r->nlines == r->cancel_after) {
		dp_job_cancel(job);
		event_base_loopbreak(r->base);
	}
}

static void watchdog(evutil_socket_t fd, short what, void *arg)
{
	event_base_loopbreak(arg);
	fail_msg("watchdog: test did not finish in time");
}

static void loop(struct run *r, int seconds)
{
	struct event *wd = evtimer_new(r->base, watchdog, r->base);
	struct timeval tv = {seconds, 0};
	evtimer_add(wd, &tv);
	event_base_dispatch(r->base);
	event_free(wd);
}

static void reset(struct run *r)
{
	free(r->out);
	free(r->err);
	struct event_base *b = r->base;
	struct dp_jobs *t = r->t;
	memset(r, 0, sizeof *r);
	r->base = b;
	r->t = t;
}

/* Let deferred frees run. */
static void settle(struct run *r)
{
	event_base_loop(r->base, EVLOOP_NONBLOCK);
}

static int setup(void **state)
{
	struct run *r = calloc(1, sizeof *r);
	r->base = event_base_new();
	r->t = dp_jobs_new(r->base);
	*state = r;
	return 0;
}

static int teardown(void **state)
{
	struct run *r = *state;
	settle(r);
	assert_int_equal(dp_jobs_count(r->t), 0);
	dp_jobs_free(r->t);
	event_base_free(r->base);
	free(r->out);
	free(r->err);
	free(r);
	/* No zombies: every child of this process has been reaped. */
	int st;
	assert_int_equal(waitpid(-1, &st, WNOHANG), -1);
	assert_int_equal(errno, ECHILD);
	return 0;
}

static int start(struct run *r, const char *const *argv, struct dp_job_spec *spec, struct dp_job **job)
{
	spec->argv = argv;
	spec->on_done = on_done;
	spec->arg = r;
	return dp_job_start(r->t, spec, job);
}

static void test_echo(void **state)
{
	struct run *r = *state;
	const char *argv[] = {"/bin/echo", "hello", "world", NULL};
	struct dp_job_spec spec = {0};
	assert_int_equal(start(r, argv, &spec, NULL), 0);
	assert_int_equal(dp_jobs_count(r->t), 1);
	loop(r, 10);
	assert_int_equal(r->done, 1);
	assert_int_equal(r->res.state, DP_JOB_EXITED);
	assert_int_equal(r->res.exit_code, 0);
	assert_int_equal(r->res.signo, 0);
	assert_string_equal(r->res.out, "hello world\n");
	assert_int_equal(r->res.out_len, 12);
	assert_int_equal(r->res.err_len, 0);
	assert_string_equal(dp_job_state_name(r->res.state), "exited");
	reset(r);
}

static void test_exit_code_and_path_lookup(void **state)
{
	struct run *r = *state;
	const char *argv[] = {"false", NULL}; /* bare name: found on PATH */
	struct dp_job_spec spec = {0};
	assert_int_equal(start(r, argv, &spec, NULL), 0);
	loop(r, 10);
	assert_int_equal(r->res.state, DP_JOB_EXITED);
	assert_int_equal(r->res.exit_code, 1);
	reset(r);

	char path[256];
	assert_int_equal(dp_job_resolve("true", path, sizeof path), 0);
	assert_non_null(strstr(path, "/true"));
	assert_int_equal(dp_job_resolve("/bin/true", path, sizeof path), 0);
	assert_string_equal(path, "/bin/true");
	assert_int_equal(dp_job_resolve("true", path, 4), -ENOENT); /* too small for any dir */
}

static void test_missing_binary(void **state)
{
	struct run *r = *state;
	struct dp_job_spec spec = {0};
	struct dp_job *job = (struct dp_job *)&spec;
	const char *a1[] = {"/nonexistent/dp-no-such-binary", NULL};
	assert_int_equal(start(r, a1, &spec, &job), -ENOENT);
	assert_null(job);
	const char *a2[] = {"dp-no-such-binary-on-path", NULL};
	assert_int_equal(start(r, a2, &spec, NULL), -ENOENT);
	const char *a3[] = {"/etc/passwd", NULL}; /* not executable */
	assert_int_equal(start(r, a3, &spec, NULL), -EACCES);
	const char *a4[] = {"/tmp", NULL}; /* a directory */
	assert_int_equal(start(r, a4, &spec, NULL), -EACCES);
	const char *a5[] = {NULL};
	assert_int_equal(start(r, a5, &spec, NULL), -EINVAL);
	assert_int_equal(dp_jobs_count(r->t), 0);
	assert_int_equal(r->done, 0);
}

static void test_timeout_kills(void **state)
{
	struct run *r = *state;
	const char *argv[] = {"/bin/sleep", "30", NULL};
	struct dp_job_spec spec = {.timeout_ms = 150};
	assert_int_equal(start(r, argv, &spec, NULL), 0);
	loop(r, 10);
	assert_int_equal(r->res.state, DP_JOB_TIMED_OUT);
	assert_int_equal(r->res.signo, SIGTERM);
	assert_int_equal(r->res.exit_code, -1);
	assert_true(r->res.duration_ms >= 100);
	assert_true(r->res.duration_ms < 5000);
	assert_string_equal(dp_job_state_name(r->res.state), "timeout");
	reset(r);
}

static void test_timeout_escalates_to_sigkill(void **state)
{
	struct run *r = *state;
	const char *argv[] = {"/bin/sleep", "30", NULL};
	struct dp_job_spec spec = {.timeout_ms = 100, .kill_grace_ms = 200};
	struct dp_job *job;
	assert_int_equal(start(r, argv, &spec, &job), 0);
	/* A stopped process leaves SIGTERM pending: only SIGKILL ends it. */
	assert_int_equal(kill(dp_job_pid(job), SIGSTOP), 0);
	loop(r, 10);
	assert_int_equal(r->res.state, DP_JOB_TIMED_OUT);
	assert_int_equal(r->res.signo, SIGKILL);
	assert_true(r->res.duration_ms >= 250);
	reset(r);
}

static void test_signaled(void **state)
{
	struct run *r = *state;
	const char *argv[] = {"/bin/sleep", "30", NULL};
	struct dp_job_spec spec = {0};
	struct dp_job *job;
	assert_int_equal(start(r, argv, &spec, &job), 0);
	assert_int_equal(kill(dp_job_pid(job), SIGUSR1), 0);
	loop(r, 10);
	assert_int_equal(r->res.state, DP_JOB_SIGNALED);
	assert_int_equal(r->res.signo, SIGUSR1);
	reset(r);
}

static void test_stdout_cap(void **state)
{
	struct run *r = *state;
	const char *argv[] = {"/usr/bin/yes", NULL};
	struct dp_job_spec spec = {.max_stdout = 64 * 1024, .timeout_ms = 8000};
	assert_int_equal(start(r, argv, &spec, NULL), 0);
	loop(r, 10);
	assert_int_equal(r->res.state, DP_JOB_TOO_LARGE);
	assert_string_equal(r->res.too_large, "stdout");
	assert_true(r->res.out_len <= 64 * 1024);
	assert_string_equal(dp_job_state_name(r->res.state), "output_too_large");
	reset(r);
}

static void test_stderr_cap(void **state)
{
	struct run *r = *state;
	const char *argv[] = {"/bin/ls",           "/nonexistent-dp-1", "/nonexistent-dp-2",
	                      "/nonexistent-dp-3", "/nonexistent-dp-4", NULL};
	struct dp_job_spec spec = {.max_stderr = 40};
	assert_int_equal(start(r, argv, &spec, NULL), 0);
	loop(r, 10);
	assert_int_equal(r->res.state, DP_JOB_TOO_LARGE);
	assert_string_equal(r->res.too_large, "stderr");
	reset(r);
}

static void test_stderr_separate(void **state)
{
	struct run *r = *state;
	const char *argv[] = {"/bin/ls", "-d", "/nonexistent-dp-x", "/", NULL};
	struct dp_job_spec spec = {0};
	assert_int_equal(start(r, argv, &spec, NULL), 0);
	loop(r, 10);
	assert_int_equal(r->res.state, DP_JOB_EXITED);
	assert_int_not_equal(r->res.exit_code, 0);
	assert_string_equal(r->res.out, "/\n");
	assert_non_null(strstr(r->res.err, "nonexistent-dp-x"));
	assert_null(strstr(r->res.out, "nonexistent-dp-x"));
	reset(r);
}

static void test_stdin_bytes(void **state)
{
	struct run *r = *state;
	size_t n = 300 * 1024; /* larger than a pipe buffer: needs the write event */
	char *data = malloc(n);
	for (size_t i = 0; i < n; i++)
		data[i] = (char)('a' + i % 26);
	const char *argv[] = {"/bin/cat", NULL};
	struct dp_job_spec spec = {.stdin_data = data, .stdin_len = n};
	assert_int_equal(start(r, argv, &spec, NULL), 0);
	free(data); /* the job keeps its own copy */
	loop(r, 10);
	assert_int_equal(r->res.state, DP_JOB_EXITED);
	assert_int_equal(r->res.exit_code, 0);
	assert_int_equal(r->res.out_len, n);
	for (size_t i = 0; i < n; i += 4099)
		assert_int_equal(r->res.out[i], 'a' + i % 26);
	reset(r);

	/* Without stdin data the child reads /dev/null: cat ends at once. */
	struct dp_job_spec s2 = {0};
	assert_int_equal(start(r, argv, &s2, NULL), 0);
	loop(r, 10);
	assert_int_equal(r->res.exit_code, 0);
	assert_int_equal(r->res.out_len, 0);
	reset(r);
}

static void test_env_additions(void **state)
{
	struct run *r = *state;
	setenv("DP_TEST_OVERRIDE", "old", 1);
	const char *env[] = {"DP_TEST_ADDED=yes", "DP_TEST_OVERRIDE=new", NULL};
	const char *argv[] = {"/usr/bin/env", NULL};
	struct dp_job_spec spec = {.env = env};
	assert_int_equal(start(r, argv, &spec, NULL), 0);
	loop(r, 10);
	assert_int_equal(r->res.exit_code, 0);
	assert_non_null(strstr(r->res.out, "DP_TEST_ADDED=yes\n"));
	assert_non_null(strstr(r->res.out, "DP_TEST_OVERRIDE=new\n"));
	assert_null(strstr(r->res.out, "DP_TEST_OVERRIDE=old"));
	unsetenv("DP_TEST_OVERRIDE");
	reset(r);
}

static void test_stream_lines_long_line_skipped(void **state)
{
	struct run *r = *state;
	size_t big = 100 * 1024;
	size_t n = 0;
	char *data = malloc(big + 256);
	n += (size_t)snprintf(data + n, 64, "first\n");
	memset(data + n, 'x', big);
	n += big;
	n += (size_t)snprintf(data + n, 64, "\nsecond\r\n\nexact-16-bytes!!\n");
	n += (size_t)snprintf(data + n, 64, "seventeen-bytes!!\nlast-no-newline");
	const char *argv[] = {"/bin/cat", NULL};
	struct dp_job_spec spec = {.stdin_data = data, .stdin_len = n, .on_line = on_line, .max_line = 16};
	assert_int_equal(start(r, argv, &spec, NULL), 0);
	free(data);
	loop(r, 10);
	assert_int_equal(r->res.state, DP_JOB_EXITED);
	assert_int_equal(r->nlines, 5);
	assert_string_equal(r->lines[0], "first");
	assert_string_equal(r->lines[1], "second"); /* CR stripped */
	assert_string_equal(r->lines[2], "");
	assert_string_equal(r->lines[3], "exact-16-bytes!!");
	assert_string_equal(r->lines[4], "last-no-newline");
	assert_int_equal(r->res.lines, 5);
	assert_int_equal(r->res.lines_skipped, 2); /* the 100 KiB line and the 17-byte one */
	assert_int_equal(r->res.out_len, 0);
	reset(r);
}

/* stdin_open: a conversation with `cat` — each written line comes back
 * before the next is written, then closing stdin ends the child. */
struct chat_state {
	struct run *r;
	struct dp_job *job;
	int got;
};

static void chat_line(struct dp_job *job, const char *line, size_t len, void *arg)
{
	struct chat_state *c = arg;
	on_line(job, line, len, c->r);
	c->got++;
	if (c->got == 1)
		assert_int_equal(dp_job_write(job, "second\n", 7), 0);
	else if (c->got == 2)
		dp_job_close_stdin(job);
	/* after close: writing fails */
	if (c->got == 2)
		assert_int_equal(dp_job_write(job, "x", 1), -EPIPE);
}

static void test_stdin_open_conversation(void **state)
{
	struct run *r = *state;
	struct chat_state c = {.r = r};
	const char *argv[] = {"/bin/cat", NULL};
	struct dp_job_spec spec = {.argv = argv, .stdin_open = 1, .on_line = chat_line, .on_done = on_done, .arg = &c};
	/* on_done gets `arg` too: make the run its own arg via a shim below */
	spec.on_done = NULL;
	struct dp_job *job = NULL;
	assert_int_equal(dp_job_start(r->t, &spec, &job), 0);
	c.job = job;
	assert_int_equal(dp_job_write(job, "first\n", 6), 0);
	/* nothing else pending: the child waits on its stdin */
	struct event *wd = evtimer_new(r->base, watchdog, r->base);
	struct timeval tv = {10, 0};
	evtimer_add(wd, &tv);
	while (dp_jobs_count(r->t) > 0)
		event_base_loop(r->base, EVLOOP_ONCE);
	event_free(wd);
	assert_int_equal(c.got, 2);
	assert_string_equal(r->lines[0], "first");
	assert_string_equal(r->lines[1], "second");
	/* a job without stdin_open refuses writes */
	const char *argv2[] = {"/bin/echo", "x", NULL};
	struct dp_job_spec s2 = {0};
	struct dp_job *j2 = NULL;
	assert_int_equal(start(r, argv2, &s2, &j2), 0);
	assert_int_equal(dp_job_write(j2, "x", 1), -EINVAL);
	loop(r, 10);
	reset(r);
}

static void test_stream_stop(void **state)
{
	struct run *r = *state;
	const char *argv[] = {"/usr/bin/yes", "tick", NULL};
	struct dp_job_spec spec = {.on_line = on_line};
	r->stop_after = 1000;
	assert_int_equal(start(r, argv, &spec, NULL), 0);
	loop(r, 10);
	assert_int_equal(r->done, 1);
	assert_int_equal(r->res.state, DP_JOB_STOPPED);
	assert_int_equal(r->res.signo, SIGTERM);
	assert_true(r->nlines >= 1000);
	assert_string_equal(r->lines[0], "tick");
	assert_string_equal(dp_job_state_name(r->res.state), "stopped");
	reset(r);
}

static void test_stream_cancel_no_callbacks(void **state)
{
	struct run *r = *state;
	const char *argv[] = {"/usr/bin/yes", "tock", NULL};
	struct dp_job_spec spec = {.on_line = on_line};
	r->cancel_after = 10;
	assert_int_equal(start(r, argv, &spec, NULL), 0);
	loop(r, 10);
	assert_int_equal(r->nlines, 10);
	/* The child is reaped in the background; no on_done ever. */
	for (int i = 0; i < 200 && dp_jobs_count(r->t) > 0; i++) {
		usleep(10000);
		settle(r);
	}
	assert_int_equal(dp_jobs_count(r->t), 0);
	assert_int_equal(r->done, 0);
	assert_int_equal(r->nlines, 10);
	reset(r);
}

static void test_many_concurrent(void **state)
{
	struct run *r = *state;
	enum { N = 64 };
	struct run *rs = calloc(N, sizeof *rs);
	char num[N][16];
	int remaining = N;
	for (int i = 0; i < N; i++) {
		rs[i].base = r->base;
		rs[i].t = r->t;
		rs[i].remaining = &remaining;
		snprintf(num[i], sizeof num[i], "%d", i);
		const char *argv[] = {"/bin/echo", num[i], NULL};
		struct dp_job_spec spec = {.timeout_ms = 20000};
		assert_int_equal(start(&rs[i], argv, &spec, NULL), 0);
	}
	assert_int_equal(dp_jobs_count(r->t), N);
	loop(r, 30);
	assert_int_equal(remaining, 0);
	for (int i = 0; i < N; i++) {
		char want[16];
		snprintf(want, sizeof want, "%d\n", i);
		assert_int_equal(rs[i].done, 1);
		assert_int_equal(rs[i].res.exit_code, 0);
		assert_string_equal(rs[i].res.out, want);
		free(rs[i].out);
		free(rs[i].err);
	}
	free(rs);
	settle(r);
	assert_int_equal(dp_jobs_count(r->t), 0);
}

static void test_sigchld_fallback(void **state)
{
	struct run *r = *state;
	struct dp_jobs *t = dp_jobs_new(r->base);
	dp_jobs__force_sigchld(t);
	struct dp_jobs *saved = r->t;
	r->t = t;
	const char *argv[] = {"/bin/echo", "via-sigchld", NULL};
	struct dp_job_spec spec = {0};
	assert_int_equal(start(r, argv, &spec, NULL), 0);
	loop(r, 10);
	assert_int_equal(r->res.exit_code, 0);
	assert_string_equal(r->res.out, "via-sigchld\n");
	reset(r);
	const char *argv2[] = {"/bin/sleep", "30", NULL};
	struct dp_job_spec s2 = {.timeout_ms = 100};
	assert_int_equal(start(r, argv2, &s2, NULL), 0);
	loop(r, 10);
	assert_int_equal(r->res.state, DP_JOB_TIMED_OUT);
	reset(r);
	settle(r);
	assert_int_equal(dp_jobs_count(t), 0);
	dp_jobs_free(t);
	r->t = saved;
}

static void test_free_stops_live_children(void **state)
{
	struct run *r = *state;
	struct dp_jobs *t = dp_jobs_new(r->base);
	struct dp_jobs *saved = r->t;
	r->t = t;
	const char *argv[] = {"/bin/sleep", "30", NULL};
	struct dp_job_spec spec = {0};
	assert_int_equal(start(r, argv, &spec, NULL), 0);
	struct dp_job_spec s2 = {.on_line = on_line};
	struct run other = {.base = r->base, .t = t};
	s2.argv = argv;
	s2.arg = &other; /* no on_done: cancelled-like */
	assert_int_equal(dp_job_start(t, &s2, NULL), 0);
	assert_int_equal(dp_jobs_count(t), 2);
	dp_jobs_free(t);
	assert_int_equal(r->done, 1);
	assert_int_equal(r->res.state, DP_JOB_STOPPED);
	assert_int_equal(r->res.signo, SIGKILL);
	r->t = saved;
	reset(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_echo),
	        cmocka_unit_test(test_exit_code_and_path_lookup),
	        cmocka_unit_test(test_missing_binary),
	        cmocka_unit_test(test_timeout_kills),
	        cmocka_unit_test(test_timeout_escalates_to_sigkill),
	        cmocka_unit_test(test_signaled),
	        cmocka_unit_test(test_stdout_cap),
	        cmocka_unit_test(test_stderr_cap),
	        cmocka_unit_test(test_stderr_separate),
	        cmocka_unit_test(test_stdin_bytes),
	        cmocka_unit_test(test_env_additions),
	        cmocka_unit_test(test_stream_lines_long_line_skipped),
	        cmocka_unit_test(test_stdin_open_conversation),
	        cmocka_unit_test(test_stream_stop),
	        cmocka_unit_test(test_stream_cancel_no_callbacks),
	        cmocka_unit_test(test_many_concurrent),
	        cmocka_unit_test(test_sigchld_fallback),
	        cmocka_unit_test(test_free_stops_live_children),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
