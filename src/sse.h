/*
 * sse.h - Server-Sent Events: the one writer every stream uses, and a small
 * fan-out hub.
 *
 * A handler turns its request into a stream with dp_sse_start(): status 200,
 * `Content-Type: text/event-stream`, `Cache-Control: no-cache`,
 * `X-Accel-Buffering: no`, a heartbeat comment every `heartbeat_ms`. Events
 * are framed per the WHATWG spec: `id:`, `event:`, one `data:` line per line
 * of the payload (LF, CRLF and CR all split lines), a blank line.
 *
 * Back-pressure: each client has a bounded queue (the HTTP server's
 * max_stream_queue). A write that would exceed it drops the client (the
 * connection is closed, the drop counted in the registry); a slow client
 * never makes memory grow.
 *
 * Lifetime: struct dp_sse is heap-owned by this module. It goes away exactly
 * once, for whichever comes first: the client disconnects or is dropped,
 * the owner calls dp_sse_end(), its hub is released, or the server shuts
 * down (dp_sse_registry_close_all). The owner learns about it through the
 * callback set with dp_sse_set_on_close(), which runs right before the
 * stream is freed; do not use the pointer afterwards and do not call
 * dp_sse_end() from inside that callback. Loop thread only.
 *
 * Hub: N clients watching the same thing share one producer. The producer
 * calls dp_sse_hub_broadcast() once; the event is framed once and queued to
 * every subscriber. A stream belongs to at most one hub and leaves it
 * automatically when it closes; `on_empty` tells the producer that the last
 * subscriber left (stop polling upstream).
 */
#ifndef DP_SSE_H
#define DP_SSE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct dp_ctx;
struct dp_buf;
struct dp_sse;
struct dp_sse_hub;

#define DP_SSE_HEARTBEAT_MS 15000
#define DP_SSE_MAX_EVENT    (1024 * 1024) /* largest framed event */

/* Every open stream of one server (embedded in struct dp_server). */
struct dp_sse_registry {
	struct dp_sse *head;
	size_t open;      /* open SSE clients (metrics gauge) */
	uint64_t total;   /* streams ever started */
	uint64_t dropped; /* clients dropped for a full queue */
};

typedef void (*dp_sse_close_fn)(struct dp_sse *s, void *arg);

/* Start an SSE response on `c` (ends the "reply" obligation of the
 * handler). heartbeat_ms <= 0 uses DP_SSE_HEARTBEAT_MS. Returns the stream,
 * or NULL after replying 500 when the response could not be started. */
struct dp_sse *dp_sse_start(struct dp_ctx *c, int heartbeat_ms);
/* The owner's "stream gone" callback (see Lifetime above). */
void dp_sse_set_on_close(struct dp_sse *s, dp_sse_close_fn fn, void *arg);
/* The request behind the stream (for query parameters, user...). */
struct dp_ctx *dp_sse_ctx(struct dp_sse *s);
/* The client's Last-Event-ID header, or NULL. */
const char *dp_sse_last_event_id(struct dp_ctx *c);

/* Send one event. `id` and `event` may be NULL and must not contain CR/LF
 * (-EINVAL); `data` may be multi-line. 0, -EINVAL, -EMSGSIZE, or -EPIPE
 * when the client is gone or was just dropped. */
int dp_sse_send(struct dp_sse *s, const char *id, const char *event, const char *data, size_t len);
/* Same with `json` serialised compactly (reference borrowed). */
int dp_sse_send_json(struct dp_sse *s, const char *id, const char *event, const json_t *json);
/* Queue an event already framed with dp_sse_format() (a producer that
 * frames once and sends the same bytes to many streams with different
 * filters, e.g. the log hub). 0 or -EPIPE. */
int dp_sse_send_framed(struct dp_sse *s, const char *framed, size_t len);
/* A comment line (`: text`), e.g. a custom heartbeat. */
int dp_sse_comment(struct dp_sse *s, const char *text);
/* End the stream normally (terminating chunk). The on_close callback runs. */
void dp_sse_end(struct dp_sse *s);

/* Frame one event into `out` (appended). Exposed for tests and the hub. */
int dp_sse_format(struct dp_buf *out, const char *id, const char *event, const char *data, size_t len);

void dp_sse_registry_init(struct dp_sse_registry *r);
/* End every open stream (server shutdown). */
void dp_sse_registry_close_all(struct dp_sse_registry *r);

/* --- fan-out hub --- */
typedef void (*dp_sse_hub_empty_fn)(struct dp_sse_hub *h, void *arg);

struct dp_sse_hub {
	struct dp_sse *head;
	size_t n;         /* subscribers */
	uint64_t last_id; /* id of the last broadcast event */
	dp_sse_hub_empty_fn on_empty;
	void *empty_arg;
};

void dp_sse_hub_init(struct dp_sse_hub *h);
/* Subscribe `s` (which must not be in another hub). */
void dp_sse_hub_add(struct dp_sse_hub *h, struct dp_sse *s);
/* Frame once, queue to every subscriber; the event id is ++h->last_id.
 * Returns the number of subscribers that got it. */
size_t dp_sse_hub_broadcast(struct dp_sse_hub *h, const char *event, const char *data, size_t len);
size_t dp_sse_hub_broadcast_json(struct dp_sse_hub *h, const char *event, const json_t *json);
/* End every subscriber's stream (their on_close callbacks run); the hub is
 * empty and reusable afterwards. on_empty is not called. */
void dp_sse_hub_release(struct dp_sse_hub *h);

#endif
