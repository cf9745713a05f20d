/*
 * test_health.c - the health hub's pure parts driven with a fake clock:
 * result classification (incl. LM Studio's HTTP-200 error bodies), the
 * backoff schedule while a target is down, the state machine (which
 * transitions are events, since/checked_at/failures), the JSON shape (no
 * version invented, error only when not running), the models fingerprint
 * (changes with the loaded set and its config, not with field order), and
 * the events ring (ids, replay after Last-Event-ID, unknown ids).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include <event2/event.h>

#include "events.h"
#include "health.h"
#include "http.h"
#include "secret.h"
#include "targets.h"
#include "upstream.h"

static void test_config(void **state)
{
	(void)state;
	struct dp_health_config c;
	dp_health_config_defaults(&c, 5000);
	assert_int_equal(c.interval_ms, 5000);
	assert_int_equal(c.timeout_ms, 4500);
	assert_int_equal(c.max_delay_ms, 60000);
	dp_health_config_defaults(&c, 300);
	assert_int_equal(c.timeout_ms, 270);
	assert_int_equal(c.max_delay_ms, 4800);
	dp_health_config_defaults(&c, 100000);
	assert_int_equal(c.timeout_ms, 10000);
	assert_int_equal(c.max_delay_ms, 100000); /* never below the interval */
	dp_health_config_defaults(&c, 10);
	assert_int_equal(c.interval_ms, 100);
}

static void test_backoff(void **state)
{
	(void)state;
	struct dp_health_config c;
	dp_health_config_defaults(&c, 1000);
	int want[] = {1000, 1000, 2000, 4000, 8000, 16000, 16000, 16000};
	for (int f = 0; f < 8; f++)
		assert_int_equal(dp_health_next_delay(&c, f), want[f]);
	assert_int_equal(dp_health_next_delay(&c, 1000000), 16000);
	dp_health_config_defaults(&c, 5000);
	assert_int_equal(dp_health_next_delay(&c, 5), 60000); /* 80 s capped at 60 s */
}

static void test_classify(void **state)
{
	(void)state;
	struct dp_upstream_result r;
	memset(&r, 0, sizeof(r));
	struct {
		enum dp_upstream_outcome o;
		enum dp_health_state s;
	} map[] = {
	        {DP_UPSTREAM_OK, DP_HEALTH_RUNNING},         {DP_UPSTREAM_STOPPED, DP_HEALTH_STOPPED},
	        {DP_UPSTREAM_STALLED, DP_HEALTH_STALLED},    {DP_UPSTREAM_UNAUTHORIZED, DP_HEALTH_UNAUTHORIZED},
	        {DP_UPSTREAM_HTTP_ERROR, DP_HEALTH_ERROR}, /* incl. 200 + {"error":...} */
	        {DP_UPSTREAM_BAD_RESPONSE, DP_HEALTH_ERROR}, {DP_UPSTREAM_CANCELLED, DP_HEALTH_UNKNOWN},
	};
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		r.outcome = map[i].o;
		assert_int_equal(dp_health_classify(&r), map[i].s);
	}
	assert_string_equal(dp_health_state_name(DP_HEALTH_STALLED), "stalled");
	assert_string_equal(dp_health_state_name(DP_HEALTH_UNKNOWN), "unknown");
}

static void test_state_machine(void **state)
{
	(void)state;
	struct dp_health_status st;
	memset(&st, 0, sizeof(st));
	st.latency_ms = -1;
	int64_t t = 1795689000000; /* fake clock, ms */

	/* first poll: unknown -> running is a change */
	assert_int_equal(dp_health_status_update(&st, DP_HEALTH_RUNNING, "ok", "", 3.2, t), 1);
	assert_int_equal(st.since_ms, t);
	assert_int_equal(st.failures, 0);
	assert_string_equal(st.code, "");
	/* steady: no event, since kept, checked advances */
	assert_int_equal(dp_health_status_update(&st, DP_HEALTH_RUNNING, "ok", "", 2.0, t + 300), 0);
	assert_int_equal(st.since_ms, t);
	assert_int_equal(st.checked_ms, t + 300);
	/* stall: event; failures count up while down, without new events */
	assert_int_equal(dp_health_status_update(&st, DP_HEALTH_STALLED, "stalled", "timeout", -1, t + 600), 1);
	assert_int_equal(st.since_ms, t + 600);
	assert_int_equal(st.failures, 1);
	assert_int_equal(dp_health_status_update(&st, DP_HEALTH_STALLED, "stalled", "timeout", -1, t + 900), 0);
	assert_int_equal(st.failures, 2);
	/* same state, different error code: an event (refused -> connection lost) */
	assert_int_equal(dp_health_status_update(&st, DP_HEALTH_STOPPED, "stopped", "refused", -1, t + 1200), 1);
	assert_int_equal(dp_health_status_update(&st, DP_HEALTH_STOPPED, "connection_lost", "lost", -1, t + 1500), 1);
	assert_int_equal(st.since_ms, t + 1200); /* the state began at the first stopped */
	assert_int_equal(st.failures, 4);
	/* recovery resets the backoff */
	assert_int_equal(dp_health_status_update(&st, DP_HEALTH_RUNNING, "ok", "", 1.0, t + 9000), 1);
	assert_int_equal(st.failures, 0);
	assert_string_equal(st.message, "");

	/* with this clock a stall is noticed within two intervals: the next
	 * poll starts <= 1 interval later and times out after 0.9 interval */
	struct dp_health_config c;
	dp_health_config_defaults(&c, 300);
	assert_true(c.interval_ms + c.timeout_ms <= 2 * c.interval_ms);
}

static void test_json(void **state)
{
	(void)state;
	struct dp_health_status st;
	memset(&st, 0, sizeof(st));
	st.latency_ms = -1;
	json_t *j = dp_health_status_json(&st);
	assert_string_equal(json_string_value(json_object_get(j, "state")), "unknown");
	assert_true(json_is_null(json_object_get(j, "checked_at")));
	assert_true(json_is_null(json_object_get(j, "latency_ms")));
	assert_true(json_is_null(json_object_get(j, "error")));
	assert_null(json_object_get(j, "version"));
	json_decref(j);
	dp_health_status_update(&st, DP_HEALTH_UNAUTHORIZED, "unauthorized", "401 from 127.0.0.1:1234", 1.6,
	                        1795689000000);
	j = dp_health_status_json(&st);
	assert_string_equal(json_string_value(json_object_get(j, "state")), "unauthorized");
	assert_int_equal(json_integer_value(json_object_get(j, "latency_ms")), 2);
	assert_string_equal(json_string_value(json_object_get(j, "checked_at")), "2026-11-26T10:30:00Z");
	json_t *e = json_object_get(j, "error");
	assert_string_equal(json_string_value(json_object_get(e, "code")), "unauthorized");
	assert_null(json_object_get(j, "version"));
	json_decref(j);
}

static void test_fingerprint(void **state)
{
	(void)state;
	const char *a = "{\"models\":[{\"key\":\"m1\",\"size_bytes\":100,\"loaded_instances\":[]},"
	                "{\"key\":\"m2\",\"size_bytes\":200,\"loaded_instances\":[{\"id\":\"m2\",\"config\":{\"context_"
	                "length\":4096}}]}]}";
	const char *b = "{\"models\":[{\"key\":\"m1\",\"size_bytes\":100,\"loaded_instances\":[]},"
	                "{\"key\":\"m2\",\"size_bytes\":200,\"loaded_instances\":[{\"id\":\"m2\",\"config\":{\"context_"
	                "length\":8192}}]}]}";
	const char *a2 =
	        "{\"models\":[{\"loaded_instances\":[],\"size_bytes\":100,\"key\":\"m1\",\"display_name\":\"x\"},"
	        "{\"key\":\"m2\",\"size_bytes\":200,\"loaded_instances\":[{\"config\":{\"context_length\":4096},\"id\":"
	        "\"m2\"}]}]}";
	json_t *ja = json_loads(a, 0, NULL), *jb = json_loads(b, 0, NULL), *ja2 = json_loads(a2, 0, NULL);
	char fa[33], fb[33], fa2[33];
	json_t *loaded;
	size_t nm, ni;
	uint64_t w;
	assert_int_equal(dp_health_fingerprint(ja, fa, &loaded, &nm, &w, &ni), 0);
	assert_int_equal(strlen(fa), 32);
	assert_int_equal(nm, 2);
	assert_int_equal(ni, 1);
	assert_int_equal(w, 200);
	assert_int_equal(json_array_size(loaded), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(loaded, 0), "instance_id")), "m2");
	json_decref(loaded);
	assert_int_equal(dp_health_fingerprint(jb, fb, NULL, NULL, NULL, NULL), 0);
	assert_string_not_equal(fa, fb); /* a reload with another config is a change */
	assert_int_equal(dp_health_fingerprint(ja2, fa2, NULL, NULL, NULL, NULL), 0);
	assert_string_equal(fa, fa2); /* field order and display fields are not */
	json_t *bad = json_loads("{\"error\":\"Unexpected endpoint or method. (GET /x)\"}", 0, NULL);
	assert_int_equal(dp_health_fingerprint(bad, fa, &loaded, NULL, NULL, NULL), -EINVAL);
	assert_null(loaded);
	assert_int_equal(dp_health_fingerprint(NULL, fa, NULL, NULL, NULL, NULL), -EINVAL);
	json_decref(bad);
	json_decref(ja);
	json_decref(jb);
	json_decref(ja2);
}

static void test_events_ring(void **state)
{
	(void)state;
	/* no subscribers needed to exercise ids and the ring */
	struct dp_events *e = dp_events_new(1000);
	assert_int_equal(dp_events_last_id(e), 1000);
	json_t *d = json_pack("{s:i}", "n", 1);
	for (int i = 0; i < DP_EVENTS_RING + 10; i++)
		assert_int_equal(dp_events_publish(e, "health", d), (uint64_t)(1001 + i));
	json_decref(d);
	assert_int_equal(dp_events_published(e), DP_EVENTS_RING + 10);
	assert_int_equal(dp_events_subscribers(e), 0);
	dp_events_free(e);
	e = dp_events_new(0); /* wall-clock start */
	assert_true(dp_events_last_id(e) > 1700000000000ull);
	dp_events_free(e);
}

/* ---- the hub on a real loop against an in-process fake daemon ---- */

struct fake {
	int mode; /* 0 models, 1 401, 2 200 + {"error":...} */
	int requests;
	double at[64]; /* when each of the first 64 polls arrived (ms, monotonic) */
};

static double mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static void fake_handler(struct dp_http_req *req, void *arg)
{
	struct fake *f = arg;
	if (f->requests < 64)
		f->at[f->requests] = mono_ms();
	f->requests++;
	const char *body =
	        f->mode == 1
	                ? "{\"error\":{\"type\":\"invalid_request\",\"code\":\"invalid_api_key\",\"message\":\"no\"}}"
	        : f->mode == 2 ? "{\"error\":\"Unexpected endpoint or method. (GET /api/v1/models)\"}"
	                       : "{\"models\":[{\"key\":\"m\",\"size_bytes\":7,\"loaded_instances\":[]}]}";
	dp_http_reply(req, f->mode == 1 ? 401 : 200, "application/json", body, strlen(body));
}

static void run_for(struct event_base *base, int ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

/* Run in 5 ms slices until *count >= want (or `limit_ms` passed); the
 * time each increment was seen goes to at[] (when given). Timers fire late
 * on a busy machine, never early: the tests below bound gaps from below and
 * give liveness a generous limit, instead of counting polls in a
 * wall-clock window (which a loaded machine makes flaky). */
static void run_until_count(struct event_base *base, const int *count, int want, int limit_ms)
{
	double end = mono_ms() + limit_ms;
	while (*count < want && mono_ms() < end)
		run_for(base, 5);
}

static const char *state_of(struct dp_health *h, int64_t id)
{
	static char buf[32];
	json_t *j = dp_health_json(h, id);
	snprintf(buf, sizeof(buf), "%s", j ? json_string_value(json_object_get(j, "state")) : "none");
	json_decref(j);
	return buf;
}

static void test_hub_loop(void **state)
{
	(void)state;
	struct event_base *base = event_base_new();
	struct fake f;
	memset(&f, 0, sizeof(f));
	struct dp_http_config hc;
	dp_http_config_defaults(&hc);
	hc.handler = fake_handler;
	hc.handler_arg = &f;
	struct dp_http_server *srv = dp_http_server_new(base, &hc);
	int port = 0;
	assert_int_equal(dp_http_server_listen(srv, "127.0.0.1", 0, &port), 0);
	struct dp_upstream *up = dp_upstream_new(base);
	struct dp_events *ev = dp_events_new(1);
	unsigned char key[DP_SECRET_KEY_BYTES] = {7};
	struct dp_secret *sec = dp_secret_from_key(key);
	struct dp_health_config cfg;
	dp_health_config_defaults(&cfg, 100);
	struct dp_health *h = dp_health_new(base, up, ev, sec, &cfg);

	struct dp_target t;
	dp_target_init(&t);
	t.id = 1;
	snprintf(t.label, sizeof(t.label), "fake");
	snprintf(t.url, sizeof(t.url), "http://127.0.0.1:%d", port);
	dp_health_set_target(h, &t);
	assert_string_equal(state_of(h, 1), "unknown");

	/* one poll per interval: the first at once, then every 100 ms, never
	 * faster (10 polls, at most 10 s even on a loaded machine) */
	double t0 = mono_ms();
	run_until_count(base, &f.requests, 10, 10000);
	assert_int_equal(f.requests, 10);
	assert_true(f.at[0] - t0 < 1000);
	for (int i = 1; i < 10; i++)
		if (f.at[i] - f.at[i - 1] < 90)
			fail_msg("poll %d came %.1f ms after the previous one (interval 100 ms)", i,
			         f.at[i] - f.at[i - 1]);
	run_for(base, 20); /* the 10th answer is handled */
	assert_string_equal(state_of(h, 1), "running");
	assert_int_equal((int)dp_health_polls(h), f.requests);
	assert_int_equal(dp_events_published(ev), 2); /* health (unknown -> running) + models */
	uint64_t w;
	size_t ni;
	assert_int_equal(dp_health_loaded(h, 1, &w, &ni), 0);
	assert_int_equal(ni, 0);

	/* 401 -> unauthorized; HTTP-200 error body -> error */
	f.mode = 1;
	run_for(base, 300);
	assert_string_equal(state_of(h, 1), "unauthorized");
	f.mode = 2;
	run_for(base, 500); /* backoff: 100, 200 ms */
	assert_string_equal(state_of(h, 1), "error");
	f.mode = 0;
	dp_health_poke(h, 1);
	run_for(base, 150);
	assert_string_equal(state_of(h, 1), "running");

	/* the daemon goes away: stopped, and polls back off (100, 100, 200,
	 * 400, 800 ... instead of one per 100 ms): the 4th and 5th gaps after
	 * the stop are at least 4 and 8 intervals (timers are never early) */
	dp_http_server_free(srv);
	int polls = (int)dp_health_polls(h), p0 = polls;
	double seen[6];
	for (int k = 0; k < 6; k++) {
		double end = mono_ms() + 10000;
		while ((int)dp_health_polls(h) == polls && mono_ms() < end)
			run_for(base, 5);
		polls = (int)dp_health_polls(h);
		seen[k] = mono_ms();
	}
	assert_int_equal(polls - p0, 6);
	assert_string_equal(state_of(h, 1), "stopped");
	if (seen[4] - seen[3] < 350 || seen[5] - seen[4] < 700)
		fail_msg("no backoff: gaps %.0f and %.0f ms", seen[4] - seen[3], seen[5] - seen[4]);

	/* removal with a poll possibly in flight, then teardown in server order */
	dp_health_remove_target(h, 1);
	assert_null(dp_health_target(h, 1));
	assert_string_equal(state_of(h, 1), "none");
	run_for(base, 50);
	dp_upstream_free(up);
	dp_health_free(h);
	dp_events_free(ev);
	dp_secret_free(sec);
	dp_target_release(&t);
	event_base_free(base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_config),      cmocka_unit_test(test_backoff),
	        cmocka_unit_test(test_classify),    cmocka_unit_test(test_state_machine),
	        cmocka_unit_test(test_json),        cmocka_unit_test(test_fingerprint),
	        cmocka_unit_test(test_events_ring), cmocka_unit_test(test_hub_loop),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
