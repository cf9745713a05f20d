/*
 * job.h - child processes run from the event loop (libuv's process.c and
 * tmux's job.c are the models).
 *
 * A child is started from an argv array with posix_spawn (never a shell).
 * argv[0] is a path, or a bare name looked up on PATH by dp_job_resolve()
 * before spawning, so a missing binary is reported as -ENOENT by
 * dp_job_start() itself (glibc >= 2.24 and musl also report a failed exec
 * through posix_spawn's return value; nothing is left to guess from an exit
 * status of 127). stdin is /dev/null, or a pipe fed with `stdin_data`, or
 * (stdin_open) a pipe kept open and fed with dp_job_write() until
 * dp_job_close_stdin() (JSON-RPC over stdio, lib/mcp.c).
 * stdout and stderr are read separately through non-blocking pipes watched by
 * events on the caller's base. Every other descriptor is close-on-exec (and
 * closed in the child with closefrom where available).
 *
 * Two modes:
 *   run mode    (on_line == NULL) stdout and stderr are collected, each up to
 *               a cap; over a cap the child is killed and the job ends with
 *               DP_JOB_TOO_LARGE ("output_too_large").
 *   stream mode (on_line != NULL) stdout is delivered line by line as it
 *               arrives, without the "\n" (and a trailing "\r"); a line longer
 *               than max_line is counted in `lines_skipped` and dropped, never
 *               buffered past the limit; a final line without "\n" is
 *               delivered at exit. stderr keeps only its last max_stderr bytes.
 *
 * Ending: a timeout (0 = none) or dp_job_stop() sends SIGTERM, then SIGKILL
 * after kill_grace_ms. Children are reaped with waitpid() on their own pid
 * only, woken by a pidfd (Linux >= 5.3) or, where pidfds are unavailable, by
 * a libevent SIGCHLD signal event. When the child has been reaped, whatever
 * it wrote is drained from the pipes (a grandchild that inherited them cannot
 * hold the job open) and on_done runs once, on the loop, with the result.
 *
 * Ownership: the table (struct dp_jobs) owns every job. A job pointer is
 * valid from dp_job_start() until on_done returns (or, after
 * dp_job_cancel(), until the next loop turn): the table frees it later from
 * a deferred event, never inside one of its callbacks. Result buffers are
 * valid only during on_done. dp_job_cancel() kills the child and guarantees
 * that no callback of that job runs any more (use it when the owner goes
 * away). Calling dp_job_stop()/dp_job_cancel() from on_line or on_done of the
 * same job is allowed. The process must not die of SIGPIPE when feeding a
 * child's stdin: dp_jobs_new() sets SIGPIPE to SIG_IGN if it was SIG_DFL.
 *
 * All functions run on the event-loop thread of the table's base.
 */
#ifndef DP_JOB_H
#define DP_JOB_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct event_base;
struct dp_jobs;
struct dp_job;

#define DP_JOB_DEFAULT_MAX_STDOUT (1u << 20)  /* 1 MiB */
#define DP_JOB_DEFAULT_MAX_STDERR (64u << 10) /* 64 KiB */
#define DP_JOB_DEFAULT_MAX_LINE   (64u << 10) /* 64 KiB */
#define DP_JOB_DEFAULT_GRACE_MS   2000
#define DP_JOB_MAX_STDIN          (1u << 20)
#define DP_JOB_MAX_ARGS           256

enum dp_job_state {
	DP_JOB_EXITED,    /* exited by itself: exit_code is valid */
	DP_JOB_SIGNALED,  /* killed by a signal DaemonPulse did not send: signo */
	DP_JOB_TIMED_OUT, /* the timeout passed; we sent SIGTERM/SIGKILL */
	DP_JOB_TOO_LARGE, /* stdout or stderr passed its cap (run mode); killed */
	DP_JOB_STOPPED,   /* dp_job_stop() or dp_jobs_free() */
};

struct dp_job_result {
	enum dp_job_state state;
	int exit_code; /* 0..255 when the child exited, else -1 */
	int signo;     /* signal that ended it, 0 if it exited */
	pid_t pid;
	const char *too_large; /* "stdout" or "stderr" for DP_JOB_TOO_LARGE, else NULL */
	const char *out;       /* run mode: stdout, NUL-terminated ("" in stream mode) */
	size_t out_len;
	const char *err; /* stderr, NUL-terminated */
	size_t err_len;
	int err_truncated;      /* stream mode: older stderr bytes were dropped */
	uint64_t lines;         /* stream mode: lines delivered */
	uint64_t lines_skipped; /* stream mode: lines longer than max_line, dropped */
	uint64_t duration_ms;
};

/* A stdout line in stream mode; `line` is NUL-terminated, valid for the call. */
typedef void (*dp_job_line_fn)(struct dp_job *job, const char *line, size_t len, void *arg);
/* The child is gone (reaped); called exactly once unless cancelled. */
typedef void (*dp_job_done_fn)(struct dp_job *job, const struct dp_job_result *res, void *arg);

struct dp_job_spec {
	const char *const *argv; /* NULL-terminated; argv[0] a path or a name on PATH */
	const char *const *env;  /* optional NULL-terminated "NAME=value" additions/overrides */
	const void *stdin_data;  /* NULL: stdin is /dev/null (unless stdin_open) */
	size_t stdin_len;        /* <= DP_JOB_MAX_STDIN */
	int stdin_open;          /* stdin is a pipe kept open after stdin_data: feed it with
	                          * dp_job_write(), end it with dp_job_close_stdin() */
	size_t max_stdout;       /* run mode cap; 0 = default */
	size_t max_stderr;       /* 0 = default */
	size_t max_line;         /* stream mode line limit; 0 = default */
	int timeout_ms;          /* 0 = no timeout */
	int kill_grace_ms;       /* SIGTERM -> SIGKILL delay; 0 = default */
	dp_job_line_fn on_line;  /* non-NULL selects stream mode */
	dp_job_done_fn on_done;  /* may be NULL */
	void *arg;
};

/* Create the child table of `base` (pidfd or SIGCHLD watcher, deferred frees). */
struct dp_jobs *dp_jobs_new(struct event_base *base);
/* Live (not yet reaped) children. */
size_t dp_jobs_count(const struct dp_jobs *t);
/* SIGKILL and reap every child (on_done runs with DP_JOB_STOPPED for jobs
 * not cancelled), free everything. NULL is a no-op. Not from a job callback. */
void dp_jobs_free(struct dp_jobs *t);

/* Tests only: watch exits with SIGCHLD instead of pidfds. */
void dp_jobs__force_sigchld(struct dp_jobs *t);

/* Start a child. 0 and *out set (out may be NULL), or -errno and nothing to
 * free: -ENOENT missing binary, -EACCES not executable, -EINVAL bad spec,
 * -E2BIG too many args or stdin too large, -EMFILE... from pipe/spawn. */
int dp_job_start(struct dp_jobs *t, const struct dp_job_spec *spec, struct dp_job **out);
/* Ask the child to end: SIGTERM now, SIGKILL after the grace period.
 * on_done follows (DP_JOB_STOPPED unless it had already ended otherwise). */
void dp_job_stop(struct dp_job *job);
/* Stop the child and drop its callbacks: neither on_line nor on_done runs
 * again. The table reaps and frees it. */
void dp_job_cancel(struct dp_job *job);
pid_t dp_job_pid(const struct dp_job *job);
/* Queue bytes for a stdin_open child's stdin (written without blocking, in
 * order). 0; -EPIPE when stdin is closed (by us or by the child); -ENOBUFS
 * when more than DP_JOB_MAX_STDIN bytes would be pending; -EINVAL when the
 * job was started without stdin_open. */
int dp_job_write(struct dp_job *job, const void *p, size_t n);
/* Close the child's stdin once the pending bytes are written (EOF for the
 * child). Idempotent. */
void dp_job_close_stdin(struct dp_job *job);

/* "exited", "signaled", "timeout", "output_too_large", "stopped". */
const char *dp_job_state_name(enum dp_job_state s);

/* Resolve `name` like execvp: a name containing '/' is checked as is, a bare
 * name is searched in $PATH (empty entries ignored: never the working
 * directory). Writes the path to out. 0, -ENOENT, -EACCES or -ENAMETOOLONG. */
int dp_job_resolve(const char *name, char *out, size_t outlen);

#endif
