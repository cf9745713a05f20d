/*
 * workq.c - worker pool with completions delivered on the event loop (see
 * workq.h for the contract).
 *
 * Jobs move through three lists, all guarded by one mutex: `todo` (waiting,
 * bounded by max_queue), running (counted only) and `done` (finished, waiting
 * for the loop). A worker that finishes a job appends it to `done` and, if
 * the list was empty, writes one byte to the wake pipe; the loop's read event
 * drains the pipe, takes the whole `done` list under the lock and runs the
 * completions without holding it (a completion may submit new jobs).
 */
#include "workq.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "log.h"
#include "xmalloc.h"

struct job {
	struct job *next;
	dp_workq_work_fn work;
	dp_workq_done_fn done;
	void *arg;
	int status;
};

struct dp_workq {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct job *todo_head, *todo_tail;
	struct job *done_head, *done_tail;
	size_t ntodo, nrunning, ndone;
	size_t max_queue;
	int stopping;
	int nthreads;
	pthread_t *threads;
	int wake[2];
	struct event *ev;
};

static void push(struct job **head, struct job **tail, struct job *j)
{
	j->next = NULL;
	if (*tail)
		(*tail)->next = j;
	else
		*head = j;
	*tail = j;
}

static void wake_loop(struct dp_workq *q)
{
	char c = 1;
	/* The pipe is non-blocking: EAGAIN means a wake-up is already pending. */
	while (write(q->wake[1], &c, 1) < 0 && errno == EINTR)
		;
}

static void *worker(void *p)
{
	struct dp_workq *q = p;
	pthread_mutex_lock(&q->mu);
	for (;;) {
		while (!q->todo_head && !q->stopping)
			pthread_cond_wait(&q->cv, &q->mu);
		if (q->stopping)
			break;
		struct job *j = q->todo_head;
		q->todo_head = j->next;
		if (!q->todo_head)
			q->todo_tail = NULL;
		q->ntodo--;
		q->nrunning++;
		pthread_mutex_unlock(&q->mu);

		j->work(j->arg);
		j->status = 0;

		pthread_mutex_lock(&q->mu);
		q->nrunning--;
		int was_empty = q->done_head == NULL;
		push(&q->done_head, &q->done_tail, j);
		q->ndone++;
		if (was_empty)
			wake_loop(q);
	}
	pthread_mutex_unlock(&q->mu);
	return NULL;
}

/* Run every delivered completion; loop thread. */
static void deliver(struct dp_workq *q)
{
	pthread_mutex_lock(&q->mu);
	struct job *j = q->done_head;
	q->done_head = q->done_tail = NULL;
	q->ndone = 0;
	pthread_mutex_unlock(&q->mu);
	while (j) {
		struct job *next = j->next;
		j->done(j->arg, j->status);
		free(j);
		j = next;
	}
}

static void on_wake(evutil_socket_t fd, short what, void *arg)
{
	struct dp_workq *q = arg;
	char buf[64];
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	deliver(q);
}

struct dp_workq *dp_workq_new(struct event_base *base, int nthreads, size_t max_queue)
{
	if (nthreads < 1 || nthreads > 64 || max_queue < 1) {
		errno = EINVAL;
		return NULL;
	}
	struct dp_workq *q = xcalloc(1, sizeof(*q));
	q->max_queue = max_queue;
	if (pipe2(q->wake, O_NONBLOCK | O_CLOEXEC) < 0) {
		free(q);
		return NULL;
	}
	pthread_mutex_init(&q->mu, NULL);
	pthread_cond_init(&q->cv, NULL);
	q->ev = event_new(base, q->wake[0], EV_READ | EV_PERSIST, on_wake, q);
	if (!q->ev || event_add(q->ev, NULL) < 0) {
		if (q->ev)
			event_free(q->ev);
		close(q->wake[0]);
		close(q->wake[1]);
		free(q);
		errno = ENOMEM;
		return NULL;
	}
	q->threads = xcalloc((size_t)nthreads, sizeof(*q->threads));
	for (int i = 0; i < nthreads; i++) {
		int rc = pthread_create(&q->threads[i], NULL, worker, q);
		if (rc != 0) {
			dp_error("workq: cannot start worker thread: error %d", rc);
			q->nthreads = i;
			dp_workq_free(q);
			errno = rc;
			return NULL;
		}
	}
	q->nthreads = nthreads;
	return q;
}

int dp_workq_submit(struct dp_workq *q, dp_workq_work_fn work, dp_workq_done_fn done, void *arg)
{
	pthread_mutex_lock(&q->mu);
	if (q->stopping) {
		pthread_mutex_unlock(&q->mu);
		return -ESHUTDOWN;
	}
	if (q->ntodo >= q->max_queue) {
		pthread_mutex_unlock(&q->mu);
		return -EAGAIN;
	}
	struct job *j = xcalloc(1, sizeof(*j));
	j->work = work;
	j->done = done;
	j->arg = arg;
	push(&q->todo_head, &q->todo_tail, j);
	q->ntodo++;
	pthread_cond_signal(&q->cv);
	pthread_mutex_unlock(&q->mu);
	return 0;
}

size_t dp_workq_pending(struct dp_workq *q)
{
	pthread_mutex_lock(&q->mu);
	size_t n = q->ntodo + q->nrunning + q->ndone;
	pthread_mutex_unlock(&q->mu);
	return n;
}

void dp_workq_free(struct dp_workq *q)
{
	if (!q)
		return;
	pthread_mutex_lock(&q->mu);
	q->stopping = 1;
	pthread_cond_broadcast(&q->cv);
	pthread_mutex_unlock(&q->mu);
	for (int i = 0; i < q->nthreads; i++)
		pthread_join(q->threads[i], NULL);

	/* Workers are gone: no locking races left. Cancel what never started,
	 * then deliver everything in submission-independent order. */
	struct job *j = q->todo_head;
	q->todo_head = q->todo_tail = NULL;
	while (j) {
		struct job *next = j->next;
		j->status = -ECANCELED;
		push(&q->done_head, &q->done_tail, j);
		j = next;
	}
	deliver(q);

	event_free(q->ev);
	close(q->wake[0]);
	close(q->wake[1]);
	pthread_cond_destroy(&q->cv);
	pthread_mutex_destroy(&q->mu);
	free(q->threads);
	free(q);
}
