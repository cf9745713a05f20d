/*
 * health.h - the health hub: one poll per target per interval, however many
 * browsers watch, and the per-target runtime state the API reads.
 *
 * Each target is polled with GET /api/v1/models (upstream.h, with its
 * token). The result becomes a state: running, stopped, stalled,
 * unauthorized, or error (the daemon answered, but not as LM Studio 0.4
 * does: HTTP 5xx, an HTTP-200 {"error":...} body, not JSON); "unknown"
 * before the first poll. The next poll starts `interval` after the previous
 * one started; while a target is not running the delay doubles per failed
 * poll up to max_delay (exponential backoff), and any success resets it.
 * A poll never overlaps the previous one of the same target.
 *
 * Changes are pushed on the event stream (events.h): `health` when the
 * state or the error code changes, `models` when the set of models or of
 * loaded instances (with their config) changes (a fingerprint of the
 * polled list). The hub also keeps short-lived per-target caches for the
 * API (models view, GPU survey) that it drops when the models change.
 *
 * The daemon version is not reported: LM Studio has no REST version
 * endpoint and `lms version` is the CLI's own commit, not the daemon's.
 *
 * The pure helpers (classification, backoff, state update, fingerprint)
 * take explicit times so tests can drive them with a fake clock.
 * Loop thread only.
 */
#ifndef DP_HEALTH_H
#define DP_HEALTH_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "targets.h"
#include "upstream.h"

struct event_base;
struct dp_events;
struct dp_secret;
struct dp_server;
struct dp_health;

enum dp_health_state {
	DP_HEALTH_UNKNOWN = 0,
	DP_HEALTH_RUNNING,
	DP_HEALTH_STOPPED,
	DP_HEALTH_STALLED,
	DP_HEALTH_UNAUTHORIZED,
	DP_HEALTH_ERROR,
};

struct dp_health_status {
	enum dp_health_state state;
	int64_t since_ms;   /* wall clock (ms) when the state began; 0 = never polled */
	int64_t checked_ms; /* when the last poll ended; 0 = never */
	double latency_ms;  /* last poll's duration, < 0 when no answer arrived */
	int failures;       /* consecutive polls that were not "running" */
	char code[32];      /* "" when running */
	char message[256];
};

struct dp_health_config {
	int interval_ms;  /* poll interval when running */
	int timeout_ms;   /* one poll's total timeout */
	int max_delay_ms; /* backoff cap */
};

/* interval, timeout = 90 % of it (100 ms .. 10 s), backoff cap = 16 x the
 * interval but at most 60 s (never below the interval). */
void dp_health_config_defaults(struct dp_health_config *c, int interval_ms);
/* "unknown", "running", "stopped", "stalled", "unauthorized", "error". */
const char *dp_health_state_name(enum dp_health_state s);
/* The state a poll result means (a 2xx JSON answer is "running"). */
enum dp_health_state dp_health_classify(const struct dp_upstream_result *r);
/* Delay before the next poll after `failures` consecutive failures:
 * interval for 0 and 1, then doubling, capped. */
int dp_health_next_delay(const struct dp_health_config *c, int failures);
/* Record one poll's outcome at now_ms. Returns 1 when the state or the
 * error code changed (an event is due), else 0. */
int dp_health_status_update(struct dp_health_status *st, enum dp_health_state s, const char *code, const char *msg,
                            double latency_ms, int64_t now_ms);
/* {"state","latency_ms","checked_at","since","error"} (new reference). */
json_t *dp_health_status_json(const struct dp_health_status *st);
/* Fingerprint of a /api/v1/models answer: 32 hex digits into out[33];
 * *loaded (optional) receives [{"model","instance_id"}] (new reference),
 * *nmodels the model count, *weights the summed size_bytes of the models
 * of loaded instances (once per instance), *instances their number.
 * -EINVAL when the body has no "models" array. */
int dp_health_fingerprint(const json_t *body, char out[33], json_t **loaded, size_t *nmodels, uint64_t *weights,
                          size_t *instances);

/* --- the hub --- */
struct dp_health *dp_health_new(struct event_base *base, struct dp_upstream *up, struct dp_events *ev,
                                const struct dp_secret *sec, const struct dp_health_config *cfg);
/* Stop polling and free. Call after dp_upstream_free() (which completes
 * the hub's in-flight polls as cancelled). NULL is a no-op. */
void dp_health_free(struct dp_health *h);
const struct dp_health_config *dp_health_config(const struct dp_health *h);

/* Add or replace a target (a copy is kept) and poll it now; on replace the
 * state is kept unless the URL or token changed, and the caches dropped. */
void dp_health_set_target(struct dp_health *h, const struct dp_target *t);
void dp_health_remove_target(struct dp_health *h, int64_t id);
/* The hub's copy, NULL when unknown. Valid until the next set/remove. */
const struct dp_target *dp_health_target(struct dp_health *h, int64_t id);
/* Health object of a target (new reference), NULL when unknown. */
json_t *dp_health_json(struct dp_health *h, int64_t id);
/* {"targets":[{"id","label","health"}]} for a new event subscriber. */
json_t *dp_health_snapshot(struct dp_health *h);
/* Poll now (after the current poll when one is running). */
void dp_health_poke(struct dp_health *h, int64_t id);
/* Polls started since creation (all targets). */
uint64_t dp_health_polls(const struct dp_health *h);
/* What the last successful poll saw loaded: 0, or -ENOENT (never). */
int dp_health_loaded(struct dp_health *h, int64_t id, uint64_t *weights, size_t *instances);

/* Per-target caches for the API. get: borrowed JSON younger than max_age_ms,
 * else NULL. put steals `v`. */
enum dp_health_cache { DP_HEALTH_CACHE_MODELS, DP_HEALTH_CACHE_GPUS, DP_HEALTH__NCACHE };
json_t *dp_health_cache_get(struct dp_health *h, int64_t id, enum dp_health_cache k, int max_age_ms);
void dp_health_cache_put(struct dp_health *h, int64_t id, enum dp_health_cache k, json_t *v);
void dp_health_cache_drop(struct dp_health *h, int64_t id, enum dp_health_cache k);

/*
 * Coalesced fetches: N browsers asking for the same view of the same target
 * at once cost one upstream request. dp_health_fetch_join() queues `fn`
 * and returns 1 when no fetch of (id, k) is running: the caller must start
 * one and end it with dp_health_fetch_finish(), which calls every queued fn
 * once with the reply (status + body, borrowed) and empties the queue. 0:
 * queued behind a running fetch. -ENOENT: unknown target (nothing queued).
 * A waiter whose client left is removed with dp_health_fetch_leave(); a
 * removed target's waiters get 503 at once.
 */
struct dp_health_waiter;
typedef void (*dp_health_wait_fn)(int status, json_t *body, void *arg);
int dp_health_fetch_join(struct dp_health *h, int64_t id, enum dp_health_cache k, dp_health_wait_fn fn, void *arg,
                         struct dp_health_waiter **out);
void dp_health_fetch_leave(struct dp_health *h, struct dp_health_waiter *w);
void dp_health_fetch_finish(struct dp_health *h, int64_t id, enum dp_health_cache k, int status, json_t *body);

/* Server wiring: open the secret key, create the event stream and the hub,
 * create the default target from DAEMON_API_URL/DAEMON_API_KEY on first
 * start, load every target. Needs s->store and s->upstream. 0 or -errno
 * with a heap message in *err. */
int dp_health_attach(struct dp_server *s, char **err);
/* Free hub, events and key (after the HTTP server and upstream). */
void dp_health_detach(struct dp_server *s);

/* Wall clock in milliseconds. */
int64_t dp_health_now_ms(void);
/* ISO 8601 UTC of a millisecond time, or null for <= 0 (new reference). */
json_t *dp_health_time_json(int64_t ms);

#endif
