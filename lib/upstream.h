/*
 * upstream.h - the LM Studio client: HTTP requests from the control plane to
 * daemons, on the server's event loop, never blocking it (our own
 * plain HTTP/1.1 on bufferevents, libcurl multi for https; see upstream.c).
 *
 * Model: one struct dp_upstream per event base (dp_server owns it). Each
 * dp_upstream_start() begins one request; it runs on the loop and ends with
 * exactly one on_done callback, always from the loop (never from inside
 * dp_upstream_start, _abort, _pause or _resume). Three body modes:
 *
 *   DP_UPSTREAM_BUFFERED  the whole body (bounded), parsed as JSON;
 *   DP_UPSTREAM_SSE       a text/event-stream response: on_event once per
 *                         upstream event as soon as its last byte arrives
 *                         (lib/sse_parse.h; nothing buffered beyond the event);
 *   DP_UPSTREAM_RAW       on_data once per received chunk (NDJSON and such).
 *
 * A streaming request whose answer is not a 2xx stream (401, 404, LM
 * Studio's HTTP-200 `{"error":...}` JSON) delivers no events: its body is
 * buffered and classified like a BUFFERED one.
 *
 * Ownership: the module owns struct dp_upstream_req. The pointer returned by
 * dp_upstream_start() is valid until on_done returns; the request is freed
 * right after. The caller's own state (`arg`) must stay alive until on_done,
 * which is the one place to free it, also after dp_upstream_abort(). The
 * result passed to on_done and everything it points to (json, body,
 * message) is borrowed for the duration of the callback (json_incref() to
 * keep the JSON).
 *
 * Re-entrancy: from inside on_event / on_data / on_done a caller may call
 * dp_upstream_abort / _pause / _resume on any request and dp_upstream_start;
 * transfers are never freed inside their own callbacks (aborts are finished
 * from a deferred event, within the same loop turn). dp_upstream_free() must
 * not be called from a callback.
 *
 * Back-pressure: dp_upstream_pause() stops event delivery after the current
 * callback; bytes already read but not yet parsed are kept (at most one
 * receive chunk) and the socket is not read any more (native: the
 * bufferevent's read is disabled; curl: CURL_WRITEFUNC_PAUSE), so the
 * daemon is slowed by TCP, not by our memory. dp_upstream_resume()
 * delivers the kept events from a deferred event and unpauses curl. The idle
 * timeout does not run while paused; the total timeout does.
 *
 * Security: only http and https (also for redirects, which are never
 * followed); credentials in URLs refused; the token is sent only as
 * `Authorization: Bearer`, never logged, wiped from memory when the request
 * is freed; environment proxies are ignored (a token must not travel to a
 * proxy nobody configured here); signals off (CURLOPT_NOSIGNAL).
 * Keep-alive (native): an idle connection is kept at most 4 s (LM Studio's
 * Node server closes them after 5 s); a request that gets nothing back on a
 * reused connection is sent once more on a new one.
 *
 * Error classification: see enum dp_upstream_outcome and docs/upstream.md.
 * All functions run on the loop thread only.
 */
#ifndef DP_UPSTREAM_H
#define DP_UPSTREAM_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "sse_parse.h"

struct event_base;
struct dp_upstream;
struct dp_upstream_req;

#define DP_UPSTREAM_CONNECT_TIMEOUT_MS 3000       /* default connect timeout */
#define DP_UPSTREAM_TIMEOUT_MS         15000      /* default total for buffered requests */
#define DP_UPSTREAM_MAX_RESPONSE       (8u << 20) /* default buffered body limit */
#define DP_UPSTREAM_MAX_ERROR_BODY     (1u << 20) /* non-stream body of a stream request */
#define DP_UPSTREAM_MAX_URL            2048
#define DP_UPSTREAM_MAX_TOKEN          512
#define DP_UPSTREAM_MAX_HEADERS        32
#define DP_UPSTREAM_MAX_HEADER         8192 /* one "Name: value" line */

enum dp_upstream_outcome {
	DP_UPSTREAM_OK = 0,       /* 2xx and a well-formed body / a stream that ended */
	DP_UPSTREAM_STOPPED,      /* nothing answering: refused, unreachable, unresolvable,
	                           * closed without answering, connection lost mid-response */
	DP_UPSTREAM_STALLED,      /* connected or connecting but too slow: connect, total
	                           * or idle timeout */
	DP_UPSTREAM_UNAUTHORIZED, /* HTTP 401, or an error body with code "invalid_api_key" */
	DP_UPSTREAM_HTTP_ERROR,   /* another non-2xx status, or an HTTP-200 body with "error"
	                           * (incl. "Unexpected endpoint or method", code
	                           * "unexpected_endpoint": NOT unauthorized, see docs) */
	DP_UPSTREAM_BAD_RESPONSE, /* not JSON, too large, not an event stream, event too
	                           * large, stream cut inside an event, TLS or protocol error */
	DP_UPSTREAM_CANCELLED,    /* dp_upstream_abort() or dp_upstream_free() */
};

enum dp_upstream_mode {
	DP_UPSTREAM_BUFFERED = 0,
	DP_UPSTREAM_SSE,
	DP_UPSTREAM_RAW,
};

struct dp_upstream_result {
	enum dp_upstream_outcome outcome;
	const char *code;    /* short stable code, e.g. "ok", "stopped", "stalled",
	                      * "unauthorized", "http_error", "daemon_error",
	                      * "unexpected_endpoint", "response_too_large", "not_json",
	                      * "connection_lost", "cancelled" (see docs/upstream.md) */
	const char *message; /* for a person, lower case; "" when ok; LM Studio's
	                      * quoted text is sanitised and the token masked.
	                      * `json`/`body` are the daemon's raw bytes: do not
	                      * forward them to browsers or logs unfiltered */
	int status;          /* HTTP status; 0 when none arrived */
	json_t *json;        /* parsed JSON body, NULL when none (borrowed) */
	const char *body;    /* buffered body bytes, NUL-terminated, "" for streams */
	size_t body_len;
	const char *content_type; /* "" when none */
	const char *lms_type;     /* LM Studio's error.type, NULL when none */
	const char *lms_code;     /* LM Studio's error.code, NULL when none */
	int token_sent;           /* an Authorization header was sent */
	int streamed;             /* a 2xx stream was delivered (events or raw bytes) */
	uint64_t events;          /* SSE events delivered */
	uint64_t bytes;           /* response body bytes received */
	double connect_ms;        /* start -> connected (DNS+TCP+TLS); 0 on a reused connection */
	double ttfb_ms;           /* start -> first body byte; -1 when none */
	double total_ms;          /* start -> done */
};

typedef void (*dp_upstream_done_fn)(struct dp_upstream_req *r, const struct dp_upstream_result *res, void *arg);
/* SSE mode: one upstream event (borrowed; see sse_parse.h). */
typedef void (*dp_upstream_event_fn)(struct dp_upstream_req *r, const struct dp_sse_parse_event *ev, void *arg);
/* RAW mode: bytes as received (borrowed). */
typedef void (*dp_upstream_data_fn)(struct dp_upstream_req *r, const char *p, size_t n, void *arg);

struct dp_upstream_opts {
	const char *method;     /* NULL: POST with a body, GET without; GET POST PUT PATCH DELETE */
	const char *base_url;   /* the target, e.g. "http://10.0.0.5:1234" (a path prefix is kept) */
	const char *path;       /* "/api/v1/models", may end with "?query"; no "..", no "#" */
	const char *body;       /* JSON request body (copied), NULL for none */
	size_t body_len;        /* 0: strlen(body) */
	const char *token;      /* LM Studio API token (copied, wiped on free); NULL/"" none */
	int connect_timeout_ms; /* 0: DP_UPSTREAM_CONNECT_TIMEOUT_MS */
	int timeout_ms;         /* whole request; 0: DP_UPSTREAM_TIMEOUT_MS when BUFFERED,
	                         * none for streams; <0: none */
	int idle_timeout_ms;    /* streams: longest silence between body bytes; 0: none */
	size_t max_response;    /* BUFFERED: 0 = DP_UPSTREAM_MAX_RESPONSE; streams: total
	                         * bytes, 0 = unlimited */
	size_t max_event;       /* SSE: one event's bound, 0 = DP_SSE_PARSE_MAX_EVENT_DEFAULT */
	enum dp_upstream_mode mode;
	int allow_non_json; /* BUFFERED: a 2xx body that is not JSON is ok (json NULL) */
	/* Generic-HTTP extensions (the MCP client, lib/mcp.c): */
	const char *const *headers;    /* extra request headers "Name: value", NULL-terminated,
	                                * at most DP_UPSTREAM_MAX_HEADERS; copied, wiped on free,
	                                * never logged; no CR/LF/NUL, names are tokens */
	const char *accept;            /* Accept header instead of the mode's default */
	int sse_or_json;               /* SSE mode: a 2xx application/json answer is buffered
	                                * and delivered as `json` with outcome ok (no events) */
	int no_link_local;             /* refuse to connect to link-local addresses (169.254/16,
	                                * fe80::/10: cloud metadata services), also when a host
	                                * name resolves there: outcome BAD_RESPONSE, code
	                                * "blocked_address" */
	int plain_http;                /* do not read LM Studio error envelopes: a 2xx JSON with
	                                * "error" is ok, 401 is UNAUTHORIZED with a neutral message */
	dp_upstream_done_fn on_done;   /* required */
	dp_upstream_event_fn on_event; /* SSE */
	dp_upstream_data_fn on_data;   /* RAW */
	void *arg;
};

/* One client per event base. http:// is spoken natively; libcurl is loaded
 * (dlopen) on the first https:// request. Never NULL. */
struct dp_upstream *dp_upstream_new(struct event_base *base);
/* Send every request through libcurl, also plain http (tests, debugging). */
void dp_upstream_set_curl_only(struct dp_upstream *u, int on);
/* Cancel every request (each on_done runs with DP_UPSTREAM_CANCELLED before
 * this returns) and free. Not from inside a callback. NULL is a no-op. */
void dp_upstream_free(struct dp_upstream *u);
/* Requests started and not yet done. */
size_t dp_upstream_active(const struct dp_upstream *u);

/* Start a request. Returns it, or NULL with a static message in *err when
 * the options are invalid (bad URL or path, credentials in the URL, a token
 * with characters a header cannot carry, missing callbacks); then no
 * callback will ever run. */
struct dp_upstream_req *dp_upstream_start(struct dp_upstream *u, const struct dp_upstream_opts *o, const char **err);
/* Stop the request: no more on_event/on_data; on_done runs with
 * DP_UPSTREAM_CANCELLED from the loop within the current loop turn and the
 * connection is closed. No-op once done has started. */
void dp_upstream_abort(struct dp_upstream_req *r);
/* Back-pressure (streams): stop delivering after the current callback. */
void dp_upstream_pause(struct dp_upstream_req *r);
/* Deliver what was kept and read again (from a deferred event). */
void dp_upstream_resume(struct dp_upstream_req *r);
int dp_upstream_paused(const struct dp_upstream_req *r);
/* A response header's value (first occurrence, case-insensitive name),
 * copied into out (NUL-terminated, truncated to outlen). 0, -ENOENT when
 * absent or no response yet. Valid from on_event / on_data / on_done. */
int dp_upstream_req_header(const struct dp_upstream_req *r, const char *name, char *out, size_t outlen);
/* The request URL (no credentials: they are refused). */
const char *dp_upstream_req_url(const struct dp_upstream_req *r);
/* Start -> first response body byte in ms, -1 before it (a stream's TTFB,
 * readable from the first on_event). */
double dp_upstream_req_ttfb_ms(const struct dp_upstream_req *r);

/* Validate a target base URL: http/https, a host, no user/password, no
 * query or fragment, at most DP_UPSTREAM_MAX_URL bytes. 0, or -EINVAL with a
 * static message in *err. For the targets API, so it refuses what the
 * client would refuse. */
int dp_upstream_check_url(const char *base_url, const char **err);
/* base_url + path as the client would request it: a heap string (free()),
 * or NULL with a static message in *err. */
char *dp_upstream_url(const char *base_url, const char *path, const char **err);

/* "ok", "stopped", "stalled", "unauthorized", "http_error", "bad_response",
 * "cancelled": the names health and the UI show. */
const char *dp_upstream_outcome_name(enum dp_upstream_outcome o);

#endif
