/*
 * loghub.h - the Console's log hub: per target and source at most ONE
 * `lms log stream --source S --json` child, however many viewers.
 *
 * Streams: per target, the sources server, model and runtime each have a
 * child (lms.h dp_lms_stream_start) started when the first viewer wanting
 * that source subscribes and stopped `linger_ms` after the last one left.
 * For a target with an agent (endpoint .agent) the input is instead one
 * upstream request to the agent's NDJSON log stream per source (same
 * lifetime, restart/backoff and status events; agent_client.h).
 * A fourth source, daemonpulse, has no child: other modules add lines with
 * dp_loghub_emit() (health changes, loads and unloads, audit actions,
 * gateway errors), so the console is useful without lms.
 *
 * Lines are parsed with logparse.h (bad lines counted and skipped), kept in
 * a bounded ring per target and source (the backlog for new viewers: at
 * most ring_lines lines and ring_bytes bytes) and fanned out to every
 * subscriber whose filter (sources, level, Live preset, text) matches. Each
 * line is framed once per variant (payloads shown / hidden) and the same
 * bytes are queued to every matching viewer (sse.h bounded queues: a slow
 * viewer is dropped, never buffered without bound). A line after a quiet
 * spell is sent at once; lines following it within flush_ms are sent
 * together at the end of that window (one socket write per viewer per
 * window instead of one per line on a busy stream).
 *
 * Child exits: restarted with exponential backoff (backoff_min_ms doubling
 * to backoff_max_ms, reset after a child ran stable_ms or delivered lines);
 * viewers get a `status` event each time. A child that fails refuse_after
 * times in a row without one line makes the source "refused" (the target
 * probably does not allow remote log streaming); a missing lms binary or an
 * unusable lms host makes it "unavailable" (no retries). Event shapes:
 * docs/api-logs.md.
 *
 * Live mode (server setting): re-read through `live_fn` at most once per
 * tick (1 s); viewers are told with a `mode` event and from then on get only
 * high-level lines with payloads hidden.
 *
 * Perf: every llm.prediction.output with stats is recorded per target and
 * model (last perf_keep per model) for GET /api/targets/{id}/perf, and
 * sent as a `perf` event to viewers of the model source.
 *
 * Ownership: the hub owns targets, rings, children and subscriptions; the
 * SSE streams belong to sse.c and leave the hub through their on_close.
 * Loop thread only.
 */
#ifndef DP_LOGHUB_H
#define DP_LOGHUB_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "logparse.h"

struct event_base;
struct dp_lms;
struct dp_sse;
struct dp_server;
struct dp_loghub;

struct dp_loghub_config {
	int ring_lines;       /* per target and source: 1000 */
	size_t ring_bytes;    /* per target and source: 4 MiB */
	int linger_ms;        /* child kept after the last viewer left: 30 s */
	int backoff_min_ms;   /* first restart delay: 1 s */
	int backoff_max_ms;   /* 30 s */
	int stable_ms;        /* a child that ran this long resets the backoff: 10 s */
	int quiet_ms;         /* hint after this long without a line: 30 s */
	int refuse_after;     /* failures without a line before "refused": 3 */
	int perf_keep;        /* predictions kept per model: 500 */
	int perf_models;      /* models per target: 64 */
	int perf_linger_ms;   /* a perf request keeps the model stream: 5 min */
	size_t backlog_bytes; /* framed backlog sent to a new viewer: 512 KiB */
	int flush_ms;         /* coalescing window of busy streams: 10 ms (0 = off) */
};
/* Defaults, then environment overrides (tests, bench):
 * DP_LOG_LINGER_MS, DP_LOG_BACKOFF_MIN_MS, DP_LOG_BACKOFF_MAX_MS,
 * DP_LOG_QUIET_MS, DP_LOG_RING_LINES, DP_LOG_FLUSH_MS. */
void dp_loghub_config_defaults(struct dp_loghub_config *c);

/* 1 when the server is in Live mode. */
typedef int (*dp_loghub_live_fn)(void *arg);
/* 1 when the target still exists (else its viewers are ended). */
typedef int (*dp_loghub_exists_fn)(int64_t target_id, void *arg);

struct dp_loghub *dp_loghub_new(struct event_base *base, struct dp_lms *lms, const struct dp_loghub_config *cfg);
/* Ends every viewer, cancels every child. NULL is a no-op. */
void dp_loghub_free(struct dp_loghub *h);
void dp_loghub_set_live_fn(struct dp_loghub *h, dp_loghub_live_fn fn, void *arg);
void dp_loghub_set_exists_fn(struct dp_loghub *h, dp_loghub_exists_fn fn, void *arg);

/* Level filter values (besides the dp_logparse levels). */
#define DP_LOGHUB_LEVEL_LIVE 100

struct dp_loghub_filter {
	unsigned sources; /* bit (1 << enum dp_logparse_source) */
	int level;        /* enum dp_logparse_level minimum, or DP_LOGHUB_LEVEL_LIVE */
	int payloads;     /* 1 = show payloads (Dev mode only) */
	const char *q;    /* NULL or text (<= 256 bytes), case-insensitive */
	int backlog;      /* lines of backlog at most */
	uint64_t after;   /* Last-Event-ID: resume after this seq (0 = none) */
};

/* Where lms connects for a target: host "" / port 0 = local. `unusable`
 * set: the target has no usable lms endpoint (reason says why). */
struct dp_loghub_endpoint {
	const char *host;
	int port;
	const char *unusable;
	const char *label;
	int agent; /* the target has an enrolled agent: its NDJSON log stream
	            * (GET /agent/v1/logs/stream) replaces lms --host; host and
	            * unusable are then not used */
};

/*
 * Subscribe the SSE stream `s` to target `target_id`: `hello`, the
 * backlog, `live`, then live events (docs/api-logs.md). Starts the
 * children of the wanted sources. The stream leaves on its own close.
 * 0, or -EPIPE when the client is already gone.
 */
int dp_loghub_subscribe(struct dp_loghub *h, int64_t target_id, const struct dp_loghub_endpoint *ep,
                        const struct dp_loghub_filter *f, struct dp_sse *s);

/* Add a daemonpulse line (`level` "debug"|"info"|"warn"|"error", unknown =
 * info; `json` borrowed, may be NULL, its "type" string becomes the line's
 * type). _high marks it high-level (shown in Live mode) whatever its level. */
void dp_loghub_emit(struct dp_loghub *h, int64_t target_id, const char *level, const char *summary, const json_t *json);
void dp_loghub_emit_high(struct dp_loghub *h, int64_t target_id, const char *level, const char *summary,
                         const json_t *json);

/* An audit entry about "target:<id>" as a high-level `dp.audit` line
 * (`id_text` the decimal id; detail borrowed, never holds secrets). */
void dp_loghub_audit(struct dp_loghub *h, const char *id_text, const char *action, const char *user, const char *result,
                     const json_t *detail);

/* GET /api/targets/{id}/perf body (new reference); keeps/starts the model
 * stream for perf_linger_ms. `model` NULL = all; n predictions per model. */
json_t *dp_loghub_perf(struct dp_loghub *h, int64_t target_id, const struct dp_loghub_endpoint *ep, const char *model,
                       int n);

/* Tests and metrics. */
struct dp_loghub_counts {
	size_t targets, viewers, children;
	uint64_t lines, bad_lines, restarts, sent, dropped_backlog;
};
void dp_loghub_counts(const struct dp_loghub *h, struct dp_loghub_counts *out);
/* Status object of one stream (new reference), NULL when unknown. */
json_t *dp_loghub_status(struct dp_loghub *h, int64_t target_id, enum dp_logparse_source src);
/* Forget a target: end its viewers, cancel its children. */
void dp_loghub_remove_target(struct dp_loghub *h, int64_t target_id);

/* Server wiring: create the hub on s->lms with Live mode read from the
 * settings store and target existence from the health hub; hook the
 * control plane's event stream (health, models, loads, targets) into the
 * daemonpulse source. */
int dp_loghub_attach(struct dp_server *s, char **err);
void dp_loghub_detach(struct dp_server *s);

#endif
