/*
 * workq.h - a small worker pool for CPU-heavy or blocking jobs (argon2id
 * password hashing) that must never run on the event-loop thread.
 *
 * Model: N pthreads take jobs from one bounded FIFO. A job is a pair of
 * callbacks plus an argument: `work(arg)` runs on a worker thread, then
 * `done(arg, status)` runs on the event-loop thread (the completion is handed
 * back through a non-blocking pipe watched by a libevent event). `status` is
 * 0 when `work` ran, -ECANCELED when the pool was freed before the job
 * started (work did not run).
 *
 * Ownership: the caller owns `arg`. `done` is called exactly once for every
 * accepted job, on the loop thread, and is the place to free `arg`. A job
 * whose HTTP request went away keeps running; its `done` must notice that
 * (e.g. a pointer cleared by an abort callback) and just free.
 *
 * Back-pressure: a full queue makes dp_workq_submit() return -EAGAIN (the
 * HTTP layer answers 503); the job is then not accepted and `done` is never
 * called for it.
 *
 * Shutdown: dp_workq_free() (loop thread) stops accepting, lets running jobs
 * finish, joins the threads, then calls `done` for finished jobs (status 0)
 * and for never-started ones (-ECANCELED) before returning.
 *
 * Thread context: dp_workq_new/submit/free are for the loop thread only.
 * `work` must not touch libevent, the store or any loop-owned state.
 */
#ifndef DP_WORKQ_H
#define DP_WORKQ_H

#include <stddef.h>

struct event_base;
struct dp_workq;

/* Runs on a worker thread. */
typedef void (*dp_workq_work_fn)(void *arg);
/* Runs on the loop thread; status is 0 or -ECANCELED. */
typedef void (*dp_workq_done_fn)(void *arg, int status);

#define DP_WORKQ_DEFAULT_THREADS 2
#define DP_WORKQ_DEFAULT_QUEUE   64

/* Start `nthreads` workers (1..64) with a queue of at most `max_queue`
 * waiting jobs (>= 1). NULL (and errno set) when threads or the pipe cannot
 * be created. */
struct dp_workq *dp_workq_new(struct event_base *base, int nthreads, size_t max_queue);
/* Queue a job. 0, -EAGAIN when the queue is full, -ESHUTDOWN when freeing. */
int dp_workq_submit(struct dp_workq *q, dp_workq_work_fn work, dp_workq_done_fn done, void *arg);
/* Jobs queued or running (for metrics and tests). */
size_t dp_workq_pending(struct dp_workq *q);
/* Stop, join, deliver every outstanding completion, free. NULL is a no-op. */
void dp_workq_free(struct dp_workq *q);

#endif
