/*
 * job.c - child processes on the event loop (see job.h for the contract).
 *
 * Life of a job: dp_job_start() resolves argv[0], creates the pipes (all
 * O_CLOEXEC; the parent's ends non-blocking, the child's ends blocking),
 * spawns, and registers read events for stdout/stderr, a write event for
 * stdin data, the timeout timer and the exit watcher (a pidfd event, or the
 * table's SIGCHLD event). When the exit watcher fires, waitpid(pid, WNOHANG)
 * on that pid alone; once it returns the status the job is "reaped": both
 * pipes are drained without blocking (the child is gone, so everything it
 * wrote is already in the pipe), closed, on_done runs, and the job moves to
 * the table's dead list, freed by a deferred event on a later loop turn.
 *
 * Re-entrancy: on_line may stop or cancel its own job, so the read loop
 * checks the flags after each line. Nothing is freed while a callback of the
 * job may still be on the stack.
 */
#include "job.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "xmalloc.h"

extern char **environ;

#define READ_CHUNK   16384
#define DRAIN_ROUNDS 128 /* x READ_CHUNK = 2 MiB */

struct dp_job {
	struct dp_jobs *t;
	struct dp_job *prev, *next; /* live or dead list */
	pid_t pid;
	int pidfd;
	int out_fd, err_fd, in_fd;
	struct event *out_ev, *err_ev, *in_ev, *pid_ev;
	struct event *timer, *kill_timer;
	struct dp_buf out, err, line;
	size_t max_line;
	int grace_ms;
	int skipping; /* inside an over-long line */
	int stream;
	int reaped, wstatus, wait_failed;
	int term_sent, timed_out, stop_requested, cancelled;
	int err_truncated;
	const char *too_large;
	char *in_data;
	size_t in_len, in_off;
	int in_open;   /* stdin_open: keep the pipe after the data is written */
	int in_closed; /* stdin closed (or will be once drained) */
	uint64_t lines, lines_skipped;
	struct timespec started;
	dp_job_line_fn on_line;
	dp_job_done_fn on_done;
	void *arg;
};

struct dp_jobs {
	struct event_base *base;
	struct dp_job *live, *dead;
	size_t nlive;
	struct event *gc_ev;
	struct event *sigchld_ev; /* created on first need (no pidfd) */
	int freeing;
	int no_pidfd; /* tests: force the SIGCHLD path */
};

static void job_reaped(struct dp_job *j);

/* ---- small helpers ------------------------------------------------------- */

static void list_add(struct dp_job **head, struct dp_job *j)
{
	j->prev = NULL;
	j->next = *head;
	if (*head)
		(*head)->prev = j;
	*head = j;
}

static void list_del(struct dp_job **head, struct dp_job *j)
{
	if (j->prev)
		j->prev->next = j->next;
	else
		*head = j->next;
	if (j->next)
		j->next->prev = j->prev;
	j->prev = j->next = NULL;
}

static void free_event(struct event **ev)
{
	if (*ev) {
		event_free(*ev);
		*ev = NULL;
	}
}

static void close_fd(int *fd)
{
	if (*fd >= 0) {
		close(*fd);
		*fd = -1;
	}
}

static uint64_t ms_since(const struct timespec *a)
{
	struct timespec b;
	clock_gettime(CLOCK_MONOTONIC, &b);
	int64_t ms = (int64_t)(b.tv_sec - a->tv_sec) * 1000 + (b.tv_nsec - a->tv_nsec) / 1000000;
	return ms < 0 ? 0 : (uint64_t)ms;
}

static void ms_to_tv(int ms, struct timeval *tv)
{
	tv->tv_sec = ms / 1000;
	tv->tv_usec = (ms % 1000) * 1000;
}

/* A pipe whose ends are both >= 3 (so a dup2 onto 0..2 never degenerates
 * into a no-op that keeps O_CLOEXEC) and close-on-exec. */
static int make_pipe(int fds[2])
{
	if (pipe2(fds, O_CLOEXEC) < 0)
		return -errno;
	for (int i = 0; i < 2; i++) {
		if (fds[i] < 3) {
			int nfd = fcntl(fds[i], F_DUPFD_CLOEXEC, 3);
			if (nfd < 0) {
				int e = -errno;
				close(fds[0]);
				close(fds[1]);
				return e;
			}
			close(fds[i]);
			fds[i] = nfd;
		}
	}
	return 0;
}

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

const char *dp_job_state_name(enum dp_job_state s)
{
	switch (s) {
	case DP_JOB_EXITED:
		return "exited";
	case DP_JOB_SIGNALED:
		return "signaled";
	case DP_JOB_TIMED_OUT:
		return "timeout";
	case DP_JOB_TOO_LARGE:
		return "output_too_large";
	case DP_JOB_STOPPED:
		return "stopped";
	}
	return "unknown";
}

pid_t dp_job_pid(const struct dp_job *job)
{
	return job->pid;
}

size_t dp_jobs_count(const struct dp_jobs *t)
{
	return t->nlive;
}

/* ---- PATH lookup ----------------------------------------------------------- */

static int check_exec(const char *path)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return errno == ENOTDIR || errno == ENAMETOOLONG ? -ENOENT : -errno;
	if (!S_ISREG(st.st_mode))
		return -EACCES;
	if (access(path, X_OK) < 0)
		return -EACCES;
	return 0;
}

int dp_job_resolve(const char *name, char *out, size_t outlen)
{
	if (!name || !*name)
		return -ENOENT;
	size_t nlen = strlen(name);
	if (strchr(name, '/')) {
		if (nlen + 1 > outlen)
			return -ENAMETOOLONG;
		int r = check_exec(name);
		if (r < 0)
			return r;
		memcpy(out, name, nlen + 1);
		return 0;
	}
	const char *path = getenv("PATH");
	if (!path || !*path)
		path = "/usr/local/bin:/usr/bin:/bin";
	int seen_eacces = 0;
	const char *p = path;
	for (;;) {
		const char *end = strchr(p, ':');
		size_t dlen = end ? (size_t)(end - p) : strlen(p);
		/* Empty entries mean the working directory: deliberately skipped. */
		if (dlen > 0 && dlen + 1 + nlen + 1 <= outlen) {
			memcpy(out, p, dlen);
			out[dlen] = '/';
			memcpy(out + dlen + 1, name, nlen + 1);
			int r = check_exec(out);
			if (r == 0)
				return 0;
			if (r == -EACCES)
				seen_eacces = 1;
		}
		if (!end)
			break;
		p = end + 1;
	}
	out[0] = '\0';
	return seen_eacces ? -EACCES : -ENOENT;
}

/* ---- ending a child ---------------------------------------------------------- */

static void kill_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dp_job *j = arg;
	if (!j->reaped)
		kill(j->pid, SIGKILL);
}

/* SIGTERM now, SIGKILL after the grace period. Signals go to the pid only: a
 * daemon that `lms` started on its own must not be taken down with it. The
 * pid cannot have been reused: we have not reaped it yet. */
static void terminate(struct dp_job *j)
{
	if (j->reaped || j->term_sent)
		return;
	j->term_sent = 1;
	kill(j->pid, SIGTERM);
	struct timeval tv;
	ms_to_tv(j->grace_ms, &tv);
	evtimer_add(j->kill_timer, &tv);
}

static void timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dp_job *j = arg;
	if (j->reaped)
		return;
	j->timed_out = 1;
	terminate(j);
}

void dp_job_stop(struct dp_job *job)
{
	if (!job || job->reaped)
		return;
	job->stop_requested = 1;
	terminate(job);
}

void dp_job_cancel(struct dp_job *job)
{
	if (!job)
		return;
	job->cancelled = 1;
	dp_job_stop(job);
}

/* ---- output ------------------------------------------------------------------ */

static void over_cap(struct dp_job *j, const char *which)
{
	if (!j->too_large)
		j->too_large = which;
	terminate(j);
}

static void deliver_line(struct dp_job *j)
{
	size_t n = j->line.len;
	if (n && j->line.data[n - 1] == '\r')
		j->line.data[--n] = '\0';
	j->lines++;
	if (j->on_line && !j->cancelled)
		j->on_line(j, j->line.data, n, j->arg);
	dp_buf_reset(&j->line);
}

/* Split stdout into lines without ever holding more than max_line bytes. */
static void stream_bytes(struct dp_job *j, const char *p, size_t n)
{
	while (n > 0 && !j->cancelled) {
		const char *nl = memchr(p, '\n', n);
		size_t seg = nl ? (size_t)(nl - p) : n;
		if (j->skipping) {
			if (nl)
				j->skipping = 0;
		} else if (seg > j->max_line - j->line.len) {
			j->lines_skipped++;
			dp_buf_reset(&j->line);
			if (!nl)
				j->skipping = 1;
		} else {
			dp_buf_add(&j->line, p, seg); /* fits: checked above */
			if (nl)
				deliver_line(j);
		}
		if (!nl)
			break;
		p = nl + 1;
		n -= seg + 1;
	}
}

static void keep_tail(struct dp_job *j, struct dp_buf *b, const char *p, size_t n)
{
	if (n >= b->max) {
		dp_buf_reset(b);
		dp_buf_add(b, p + (n - b->max), b->max);
		j->err_truncated = 1;
		return;
	}
	if (b->len + n > b->max) {
		dp_buf_consume(b, b->len + n - b->max);
		j->err_truncated = 1;
	}
	dp_buf_add(b, p, n);
}

static void got_bytes(struct dp_job *j, int is_err, const char *p, size_t n)
{
	if (j->cancelled)
		return;
	if (is_err) {
		if (j->stream) {
			keep_tail(j, &j->err, p, n);
		} else if (!j->too_large && dp_buf_add(&j->err, p, n) < 0) {
			over_cap(j, "stderr");
		}
	} else if (j->stream) {
		stream_bytes(j, p, n);
	} else if (!j->too_large && dp_buf_add(&j->out, p, n) < 0) {
		over_cap(j, "stdout");
	}
}

/* Read what is available; returns 1 at EOF or error (fd closed), else 0.
 * At most `rounds` reads so one chatty child cannot starve the loop. */
static int read_fd(struct dp_job *j, int is_err, int rounds)
{
	int *fd = is_err ? &j->err_fd : &j->out_fd;
	char tmp[READ_CHUNK];
	while (*fd >= 0 && rounds-- > 0) {
		ssize_t r = read(*fd, tmp, sizeof tmp);
		if (r > 0) {
			got_bytes(j, is_err, tmp, (size_t)r);
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		/* EOF or a real error: this stream is finished. */
		free_event(is_err ? &j->err_ev : &j->out_ev);
		close_fd(fd);
		return 1;
	}
	return 0;
}

static void out_cb(evutil_socket_t fd, short what, void *arg)
{
	read_fd(arg, 0, 4);
}

static void err_cb(evutil_socket_t fd, short what, void *arg)
{
	read_fd(arg, 1, 4);
}

static void in_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dp_job *j = arg;
	while (j->in_off < j->in_len) {
		ssize_t w = write(j->in_fd, j->in_data + j->in_off, j->in_len - j->in_off);
		if (w > 0) {
			j->in_off += (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		break; /* EPIPE: the child closed its stdin; fine */
	}
	if (j->in_off >= j->in_len && j->in_open && !j->in_closed) {
		/* all written, more may come: stop watching, keep the pipe */
		j->in_off = j->in_len = 0;
		event_del(j->in_ev);
		return;
	}
	j->in_closed = 1;
	free_event(&j->in_ev);
	close_fd(&j->in_fd);
}

int dp_job_write(struct dp_job *j, const void *p, size_t n)
{
	if (!j->in_open)
		return -EINVAL;
	if (j->in_closed || j->in_fd < 0 || !j->in_ev)
		return -EPIPE;
	size_t pending = j->in_len - j->in_off;
	if (n > DP_JOB_MAX_STDIN || pending + n > DP_JOB_MAX_STDIN)
		return -ENOBUFS;
	if (j->in_off) {
		memmove(j->in_data, j->in_data + j->in_off, pending);
		j->in_off = 0;
		j->in_len = pending;
	}
	j->in_data = xrealloc(j->in_data, pending + n + 1);
	memcpy(j->in_data + pending, p, n);
	j->in_len = pending + n;
	event_add(j->in_ev, NULL);
	return 0;
}

void dp_job_close_stdin(struct dp_job *j)
{
	if (j->in_closed)
		return;
	j->in_closed = 1;
	if (j->in_fd < 0)
		return;
	if (j->in_ev && j->in_off < j->in_len) {
		event_add(j->in_ev, NULL); /* in_cb closes once drained */
		return;
	}
	free_event(&j->in_ev);
	close_fd(&j->in_fd);
}

/* ---- reaping ------------------------------------------------------------------ */

static void schedule_gc(struct dp_jobs *t)
{
	if (!t->freeing)
		event_active(t->gc_ev, EV_TIMEOUT, 0);
}

static void gc_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dp_jobs *t = arg;
	while (t->dead) {
		struct dp_job *j = t->dead;
		list_del(&t->dead, j);
		dp_buf_release(&j->out);
		dp_buf_release(&j->err);
		dp_buf_release(&j->line);
		free(j->in_data);
		free(j);
	}
}

/* 1 when the child has been reaped now, 0 when still running. */
static int try_wait(struct dp_job *j, int flags)
{
	int st;
	for (;;) {
		pid_t r = waitpid(j->pid, &st, flags);
		if (r == j->pid) {
			j->wstatus = st;
			return 1;
		}
		if (r == 0)
			return 0;
		if (errno == EINTR)
			continue;
		/* ECHILD: someone else reaped it (SIGCHLD set to SIG_IGN?). */
		dp_warn("job: waitpid %ld: %s", (long)j->pid, strerror(errno));
		j->wait_failed = 1;
		return 1;
	}
}

static void job_reaped(struct dp_job *j)
{
	struct dp_jobs *t = j->t;
	j->reaped = 1;
	/* Everything the child wrote is in the pipes now; drain without
	 * waiting for EOF (a grandchild may hold the write ends). A pipe holds
	 * at most 1 MiB (Linux's pipe-max-size default), so DRAIN_ROUNDS reads
	 * get all of it while a grandchild that keeps writing cannot keep the
	 * loop here. */
	if (j->out_fd >= 0)
		read_fd(j, 0, DRAIN_ROUNDS);
	if (j->err_fd >= 0)
		read_fd(j, 1, DRAIN_ROUNDS);
	free_event(&j->out_ev);
	free_event(&j->err_ev);
	free_event(&j->in_ev);
	free_event(&j->pid_ev);
	free_event(&j->timer);
	free_event(&j->kill_timer);
	close_fd(&j->out_fd);
	close_fd(&j->err_fd);
	close_fd(&j->in_fd);
	close_fd(&j->pidfd);
	if (j->stream && j->line.len && !j->skipping && !j->cancelled)
		deliver_line(j);

	struct dp_job_result res = {0};
	res.pid = j->pid;
	res.exit_code = -1;
	if (!j->wait_failed && WIFEXITED(j->wstatus))
		res.exit_code = WEXITSTATUS(j->wstatus);
	else if (!j->wait_failed && WIFSIGNALED(j->wstatus))
		res.signo = WTERMSIG(j->wstatus);
	if (j->too_large)
		res.state = DP_JOB_TOO_LARGE;
	else if (j->timed_out)
		res.state = DP_JOB_TIMED_OUT;
	else if (j->stop_requested)
		res.state = DP_JOB_STOPPED;
	else if (res.signo)
		res.state = DP_JOB_SIGNALED;
	else
		res.state = DP_JOB_EXITED;
	res.too_large = j->too_large;
	res.out = j->out.data;
	res.out_len = j->out.len;
	res.err = j->err.data;
	res.err_len = j->err.len;
	res.err_truncated = j->err_truncated;
	res.lines = j->lines;
	res.lines_skipped = j->lines_skipped;
	res.duration_ms = ms_since(&j->started);

	list_del(&t->live, j);
	t->nlive--;
	list_add(&t->dead, j);
	if (j->on_done && !j->cancelled)
		j->on_done(j, &res, j->arg);
	schedule_gc(t);
}

static void pidfd_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dp_job *j = arg;
	if (!j->reaped && try_wait(j, WNOHANG))
		job_reaped(j);
}

static void sigchld_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dp_jobs *t = arg;
	struct dp_job *j = t->live;
	while (j) {
		struct dp_job *next = j->next; /* job_reaped() moves j */
		if (j->pidfd < 0 && !j->reaped && try_wait(j, WNOHANG))
			job_reaped(j);
		j = next;
	}
}

static int watch_exit(struct dp_job *j)
{
	struct dp_jobs *t = j->t;
#ifdef SYS_pidfd_open
	j->pidfd = t->no_pidfd ? -1 : (int)syscall(SYS_pidfd_open, j->pid, 0);
	if (j->pidfd >= 0) {
		/* pidfds are created O_CLOEXEC by the kernel. */
		j->pid_ev = event_new(t->base, j->pidfd, EV_READ | EV_PERSIST, pidfd_cb, j);
		if (j->pid_ev && event_add(j->pid_ev, NULL) == 0)
			return 0;
		free_event(&j->pid_ev);
		close_fd(&j->pidfd);
	}
#endif
	/* Fallback: SIGCHLD through libevent. Activate once right away in case
	 * the child already exited before the handler existed. */
	if (!t->sigchld_ev) {
		t->sigchld_ev = evsignal_new(t->base, SIGCHLD, sigchld_cb, t);
		if (!t->sigchld_ev || event_add(t->sigchld_ev, NULL) < 0) {
			free_event(&t->sigchld_ev);
			return -EAGAIN;
		}
	}
	event_active(t->sigchld_ev, EV_SIGNAL, 1);
	return 0;
}

/* ---- starting ------------------------------------------------------------------ */

static int env_name_len(const char *kv)
{
	const char *eq = strchr(kv, '=');
	return eq ? (int)(eq - kv) : -1;
}

/* environ minus the names overridden by `add`, plus `add`. Pointers only. */
static char **build_env(const char *const *add)
{
	size_t nenv = 0, nadd = 0;
	for (char **e = environ; e && *e; e++)
		nenv++;
	for (const char *const *a = add; a && *a; a++)
		nadd++;
	char **envp = xcalloc(nenv + nadd + 1, sizeof *envp);
	size_t k = 0;
	for (char **e = environ; e && *e; e++) {
		int n = env_name_len(*e), dup = 0;
		for (const char *const *a = add; a && *a && n > 0; a++)
			if (env_name_len(*a) == n && memcmp(*a, *e, (size_t)n) == 0)
				dup = 1;
		if (!dup)
			envp[k++] = *e;
	}
	for (const char *const *a = add; a && *a; a++)
		envp[k++] = (char *)*a;
	envp[k] = NULL;
	return envp;
}

static int spawn(struct dp_job *j, const char *path, const struct dp_job_spec *spec, int in_r, int out_w, int err_w)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, defs;
	int r;

	if ((r = posix_spawn_file_actions_init(&fa)) != 0)
		return -r;
	if ((r = posix_spawnattr_init(&at)) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		return -r;
	}
	if (in_r >= 0)
		r = posix_spawn_file_actions_adddup2(&fa, in_r, 0);
	else
		r = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	if (!r)
		r = posix_spawn_file_actions_adddup2(&fa, out_w, 1);
	if (!r)
		r = posix_spawn_file_actions_adddup2(&fa, err_w, 2);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
	/* Belt and braces: descriptors some library opened without O_CLOEXEC. */
	if (!r)
		r = posix_spawn_file_actions_addclosefrom_np(&fa, 3);
#endif
	/* A clean signal state: no blocked signals, default dispositions (an
	 * ignored SIGPIPE would otherwise be inherited across exec). */
	sigemptyset(&none);
	sigemptyset(&defs);
	for (int s = 1; s < NSIG; s++)
		if (s != SIGKILL && s != SIGSTOP)
			sigaddset(&defs, s); /* EINVAL for libc-reserved ones: ignored */
	if (!r)
		r = posix_spawnattr_setsigmask(&at, &none);
	if (!r)
		r = posix_spawnattr_setsigdefault(&at, &defs);
	if (!r)
		r = posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	if (!r) {
		char **envp = build_env(spec->env);
		r = posix_spawn(&j->pid, path, &fa, &at, (char *const *)spec->argv, envp);
		free(envp);
	}
	posix_spawnattr_destroy(&at);
	posix_spawn_file_actions_destroy(&fa);
	return -r;
}

int dp_job_start(struct dp_jobs *t, const struct dp_job_spec *spec, struct dp_job **out)
{
	char path[PATH_MAX];
	int in[2] = {-1, -1}, o[2] = {-1, -1}, e[2] = {-1, -1};
	int r;

	if (out)
		*out = NULL;
	if (!t || !spec || !spec->argv || !spec->argv[0] || t->freeing)
		return -EINVAL;
	size_t argc = 0;
	while (spec->argv[argc])
		if (++argc > DP_JOB_MAX_ARGS)
			return -E2BIG;
	if (spec->stdin_data && spec->stdin_len > DP_JOB_MAX_STDIN)
		return -E2BIG;
	if ((r = dp_job_resolve(spec->argv[0], path, sizeof path)) < 0)
		return r;

	if (((spec->stdin_data || spec->stdin_open) && (r = make_pipe(in)) < 0) || (r = make_pipe(o)) < 0 ||
	    (r = make_pipe(e)) < 0)
		goto fail_pipes;
	if ((r = set_nonblock(o[0])) < 0 || (r = set_nonblock(e[0])) < 0 ||
	    (in[1] >= 0 && (r = set_nonblock(in[1])) < 0))
		goto fail_pipes;

	struct dp_job *j = xcalloc(1, sizeof *j);
	j->t = t;
	j->pidfd = -1;
	j->in_fd = j->out_fd = j->err_fd = -1;
	j->stream = spec->on_line != NULL;
	j->max_line = spec->max_line ? spec->max_line : DP_JOB_DEFAULT_MAX_LINE;
	j->grace_ms = spec->kill_grace_ms > 0 ? spec->kill_grace_ms : DP_JOB_DEFAULT_GRACE_MS;
	j->on_line = spec->on_line;
	j->on_done = spec->on_done;
	j->arg = spec->arg;
	dp_buf_init(&j->out, j->stream ? 0 : spec->max_stdout ? spec->max_stdout : DP_JOB_DEFAULT_MAX_STDOUT);
	dp_buf_init(&j->err, spec->max_stderr ? spec->max_stderr : DP_JOB_DEFAULT_MAX_STDERR);
	dp_buf_init(&j->line, j->max_line);
	clock_gettime(CLOCK_MONOTONIC, &j->started);

	r = spawn(j, path, spec, in[0], o[1], e[1]);
	close_fd(&in[0]);
	close_fd(&o[1]);
	close_fd(&e[1]);
	if (r < 0) {
		close_fd(&in[1]);
		close_fd(&o[0]);
		close_fd(&e[0]);
		dp_buf_release(&j->out);
		dp_buf_release(&j->err);
		dp_buf_release(&j->line);
		free(j);
		return r;
	}

	/* From here on the child exists: every failure path must still reap it,
	 * so the job is registered first and errors turn into a kill. */
	list_add(&t->live, j);
	t->nlive++;
	j->out_fd = o[0];
	j->err_fd = e[0];
	j->in_fd = in[1];
	j->out_ev = event_new(t->base, j->out_fd, EV_READ | EV_PERSIST, out_cb, j);
	j->err_ev = event_new(t->base, j->err_fd, EV_READ | EV_PERSIST, err_cb, j);
	j->timer = evtimer_new(t->base, timeout_cb, j);
	j->kill_timer = evtimer_new(t->base, kill_timer_cb, j);
	if (!j->out_ev || !j->err_ev || !j->timer || !j->kill_timer)
		dp_error("job: cannot allocate events"), abort();
	event_add(j->out_ev, NULL);
	event_add(j->err_ev, NULL);
	if (j->in_fd >= 0) {
		j->in_data = xmalloc(spec->stdin_len ? spec->stdin_len : 1);
		if (spec->stdin_len)
			memcpy(j->in_data, spec->stdin_data, spec->stdin_len);
		j->in_len = spec->stdin_len;
		j->in_open = spec->stdin_open;
		j->in_ev = event_new(t->base, j->in_fd, EV_WRITE | EV_PERSIST, in_cb, j);
		if (!j->in_ev)
			dp_error("job: cannot allocate events"), abort();
		if (j->in_len || !j->in_open)
			event_add(j->in_ev, NULL);
	}
	if (spec->timeout_ms > 0) {
		struct timeval tv;
		ms_to_tv(spec->timeout_ms, &tv);
		evtimer_add(j->timer, &tv);
	}
	if (watch_exit(j) < 0) {
		/* No way to learn about its exit: do not leave it running. */
		dp_error("job: cannot watch pid %ld; killing it", (long)j->pid);
		kill(j->pid, SIGKILL);
		try_wait(j, 0);
		j->stop_requested = 1;
		j->cancelled = 1;
		job_reaped(j);
		return -EAGAIN;
	}
	if (out)
		*out = j;
	return 0;

fail_pipes:
	close_fd(&in[0]);
	close_fd(&in[1]);
	close_fd(&o[0]);
	close_fd(&o[1]);
	close_fd(&e[0]);
	close_fd(&e[1]);
	return r;
}

/* ---- the table ------------------------------------------------------------------ */

struct dp_jobs *dp_jobs_new(struct event_base *base)
{
	struct sigaction sa;
	if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL)
		signal(SIGPIPE, SIG_IGN);
	struct dp_jobs *t = xcalloc(1, sizeof *t);
	t->base = base;
	t->gc_ev = event_new(base, -1, 0, gc_cb, t);
	if (!t->gc_ev)
		dp_error("job: cannot allocate events"), abort();
	return t;
}

void dp_jobs__force_sigchld(struct dp_jobs *t)
{
	t->no_pidfd = 1;
}

void dp_jobs_free(struct dp_jobs *t)
{
	if (!t)
		return;
	t->freeing = 1;
	while (t->live) {
		struct dp_job *j = t->live;
		j->stop_requested = 1;
		kill(j->pid, SIGKILL);
		try_wait(j, 0);
		job_reaped(j);
	}
	gc_cb(-1, 0, t);
	free_event(&t->gc_ev);
	free_event(&t->sigchld_ev);
	free(t);
}
