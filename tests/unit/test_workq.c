/*
 * test_workq.c - the worker pool: jobs run off the loop thread, completions
 * arrive on the loop thread, a full queue answers -EAGAIN, freeing cancels
 * jobs that never started and still delivers every completion once.
 */
#include <errno.h>
#include <event2/event.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "workq.h"

struct job {
	pthread_t loop_thread;
	pthread_t ran_on;
	int ran;
	int done_calls;
	int status;
	int on_loop;
	struct event_base *base;
	int *remaining;
	/* gate: workers block until opened */
	pthread_mutex_t *mu;
	pthread_cond_t *cv;
	int *open;
	int started;
};

static void work(void *arg)
{
	struct job *j = arg;
	j->ran_on = pthread_self();
	if (j->mu) {
		pthread_mutex_lock(j->mu);
		j->started = 1;
		pthread_cond_broadcast(j->cv);
		while (!*j->open)
			pthread_cond_wait(j->cv, j->mu);
		pthread_mutex_unlock(j->mu);
	}
	j->ran = 1;
}

static void done(void *arg, int status)
{
	struct job *j = arg;
	j->done_calls++;
	j->status = status;
	j->on_loop = pthread_equal(pthread_self(), j->loop_thread);
	if (j->remaining && --*j->remaining == 0 && j->base)
		event_base_loopbreak(j->base);
}

static void test_runs_off_loop_and_completes_on_loop(void **state)
{
	struct event_base *base = event_base_new();
	struct dp_workq *q = dp_workq_new(base, 2, 16);
	assert_non_null(q);
	enum { N = 10 };
	struct job jobs[N];
	int remaining = N;
	memset(jobs, 0, sizeof(jobs));
	for (int i = 0; i < N; i++) {
		jobs[i].loop_thread = pthread_self();
		jobs[i].base = base;
		jobs[i].remaining = &remaining;
		assert_int_equal(dp_workq_submit(q, work, done, &jobs[i]), 0);
	}
	struct timeval tv = {10, 0};
	event_base_loopexit(base, &tv); /* safety net: a hang fails, not blocks */
	event_base_dispatch(base);
	assert_int_equal(remaining, 0);
	for (int i = 0; i < N; i++) {
		assert_int_equal(jobs[i].ran, 1);
		assert_int_equal(jobs[i].done_calls, 1);
		assert_int_equal(jobs[i].status, 0);
		assert_int_equal(jobs[i].on_loop, 1);
		assert_false(pthread_equal(jobs[i].ran_on, pthread_self()));
	}
	assert_int_equal(dp_workq_pending(q), 0);
	dp_workq_free(q);
	event_base_free(base);
}

static void test_full_queue_and_cancel_on_free(void **state)
{
	struct event_base *base = event_base_new();
	pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
	int open = 0;
	/* one worker, queue of 2: job 0 runs (blocked), 1 and 2 wait, 3 refused */
	struct dp_workq *q = dp_workq_new(base, 1, 2);
	assert_non_null(q);
	struct job jobs[4];
	memset(jobs, 0, sizeof(jobs));
	for (int i = 0; i < 4; i++) {
		jobs[i].loop_thread = pthread_self();
		jobs[i].mu = &mu;
		jobs[i].cv = &cv;
		jobs[i].open = &open;
	}
	assert_int_equal(dp_workq_submit(q, work, done, &jobs[0]), 0);
	/* wait until the worker picked job 0 up, so the queue is empty again */
	pthread_mutex_lock(&mu);
	while (!jobs[0].started)
		pthread_cond_wait(&cv, &mu);
	pthread_mutex_unlock(&mu);
	assert_int_equal(dp_workq_submit(q, work, done, &jobs[1]), 0);
	assert_int_equal(dp_workq_submit(q, work, done, &jobs[2]), 0);
	assert_int_equal(dp_workq_submit(q, work, done, &jobs[3]), -EAGAIN);
	assert_int_equal(dp_workq_pending(q), 3);

	/* open the gate from another thread after free() started stopping */
	pthread_mutex_lock(&mu);
	open = 1;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
	dp_workq_free(q);

	/* every accepted job got exactly one completion; the refused one none */
	assert_int_equal(jobs[0].done_calls, 1);
	assert_int_equal(jobs[0].status, 0);
	assert_int_equal(jobs[0].ran, 1);
	for (int i = 1; i <= 2; i++) {
		assert_int_equal(jobs[i].done_calls, 1);
		assert_true(jobs[i].status == 0 || jobs[i].status == -ECANCELED);
		assert_int_equal(jobs[i].ran, jobs[i].status == 0);
		assert_int_equal(jobs[i].on_loop, 1);
	}
	assert_int_equal(jobs[3].done_calls, 0);
	event_base_free(base);
}

static void test_bad_arguments(void **state)
{
	struct event_base *base = event_base_new();
	assert_null(dp_workq_new(base, 0, 4));
	assert_null(dp_workq_new(base, 2, 0));
	assert_null(dp_workq_new(base, 65, 4));
	dp_workq_free(NULL);
	event_base_free(base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_runs_off_loop_and_completes_on_loop),
	        cmocka_unit_test(test_full_queue_and_cancel_on_free),
	        cmocka_unit_test(test_bad_arguments),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
