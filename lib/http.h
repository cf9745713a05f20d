/*
 * http.h - a small HTTP/1.1 server on libevent bufferevents, shared by the
 * control plane (src/) and the simulator (sim/).
 *
 * Why not evhttp: libevent 2.1's evhttp answers oversized bodies, parse
 * errors and timeouts with its own HTML pages, offers no back-pressure signal
 * for long-lived streams and no hook for an access log; DaemonPulse needs
 * JSON error bodies everywhere, bounded per-client stream queues (a slow SSE
 * client is dropped, never buffered without bound) and a parser that a fuzz
 * target can drive directly (dp_http_parse_head).
 *
 * Model: one struct dp_http_server per listener set, on the caller's event
 * base. Each connection serves one request at a time (pipelined requests wait
 * in the input buffer). When a request's head and body are complete the
 * server calls the handler once. The handler answers now or later:
 *
 *   - dp_http_reply()               a complete response; ends the request
 *   - dp_http_stream_start/write/end a streamed (chunked) response, e.g. SSE
 *
 * Lifetime of struct dp_http_req: valid from the handler call until the
 * request ends, i.e. until dp_http_reply() / dp_http_stream_end() returned, or
 * until the client went away. A handler that keeps `req` across event-loop
 * turns MUST register dp_http_req_on_close(): that callback runs exactly once
 * if the connection dies before the response ended, and `req` is freed right
 * after it returns. Never free or end a request from inside its own on_close
 * callback. Memory from dp_http_req_alloc() lives exactly as long as `req`.
 *
 * Errors the server produces itself (malformed request 400, head too large
 * 431, body too large 413, chunked request body 411, timeout 408, unsupported
 * version 505) go through `error_body` (default: DaemonPulse's
 * {"error":{"code","message"}} JSON) and close the connection.
 *
 * All functions run on the event-loop thread only.
 */
#ifndef DP_HTTP_H
#define DP_HTTP_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct dp_http_server;
struct dp_http_req;
struct dp_buf;

/* Called once per complete request. */
typedef void (*dp_http_handler_fn)(struct dp_http_req *req, void *arg);
/* Called when the client went away before the response ended. */
typedef void (*dp_http_close_fn)(struct dp_http_req *req, void *arg);
/* Called after every request ends (access log, metrics). `status` is the
 * status sent (0 if none was), `bytes` the body bytes written, `dur_us`
 * microseconds from the complete head to the end. */
typedef void (*dp_http_done_fn)(struct dp_http_req *req, int status, uint64_t bytes, uint64_t dur_us, void *arg);
/* Fill `out` with the body for a server-generated error; set *ctype. */
typedef void (*dp_http_error_body_fn)(int status, const char *code, const char *message, struct dp_buf *out,
                                      const char **ctype);

struct dp_http_config {
	size_t max_head_bytes;   /* request line + headers; default 16 KiB */
	size_t max_body_bytes;   /* default 1 MiB; larger -> 413 */
	int max_headers;         /* default 64 */
	int read_timeout_ms;     /* head+body must arrive within; default 30 s */
	int idle_timeout_ms;     /* keep-alive idle; default 60 s */
	int write_timeout_ms;    /* a stalled writer is dropped; default 30 s */
	size_t max_stream_queue; /* unsent bytes allowed on a stream; default 1 MiB */
	int max_connections;     /* default 4096; more are refused (closed) */
	const char *server_name; /* "Server:" header, NULL for none */
	dp_http_handler_fn handler;
	void *handler_arg;
	dp_http_done_fn on_done; /* optional */
	void *done_arg;
	dp_http_error_body_fn error_body; /* optional */
};

/* Fill `cfg` with the defaults above (handler left NULL). */
void dp_http_config_defaults(struct dp_http_config *cfg);

struct dp_http_server *dp_http_server_new(struct event_base *base, const struct dp_http_config *cfg);
/* Listen on addr:port (IPv4 or IPv6 literal or "localhost"); port 0 picks
 * one. *bound_port (optional) receives the actual port. 0 or -errno. */
int dp_http_server_listen(struct dp_http_server *s, const char *addr, int port, int *bound_port);
/* Stop accepting; open connections finish their current request and close. */
void dp_http_server_stop_listening(struct dp_http_server *s);
/* Number of open connections (for graceful shutdown and metrics). */
size_t dp_http_server_connections(const struct dp_http_server *s);
/* Close everything and free. on_close runs for requests still open. */
void dp_http_server_free(struct dp_http_server *s);

/* --- the request --- */
const char *dp_http_req_method(const struct dp_http_req *req); /* "GET" */
const char *dp_http_req_target(const struct dp_http_req *req); /* raw "/a/b?x=1" */
const char *dp_http_req_path(const struct dp_http_req *req);   /* "/a/b" percent-decoded; NUL-free */
const char *dp_http_req_query(const struct dp_http_req *req);  /* "x=1" raw, "" when none */
/* Case-insensitive header lookup; first occurrence; NULL when absent. */
const char *dp_http_req_header(const struct dp_http_req *req, const char *name);
/* Iterate headers: returns 0 and fills name/value for i < count, else -1. */
int dp_http_req_header_at(const struct dp_http_req *req, int i, const char **name, const char **value);
const char *dp_http_req_body(const struct dp_http_req *req, size_t *len); /* NUL-terminated */
const char *dp_http_req_peer(const struct dp_http_req *req);              /* "127.0.0.1" */
uint64_t dp_http_req_id(const struct dp_http_req *req);                   /* unique per process */
/* Request-scoped zeroed memory, freed with the request. */
void *dp_http_req_alloc(struct dp_http_req *req, size_t n);
char *dp_http_req_strdup(struct dp_http_req *req, const char *s);
/* Value of query parameter `name`, percent-decoded into request memory. */
const char *dp_http_req_query_param(struct dp_http_req *req, const char *name);
/* Opaque per-request pointer for the application. */
void dp_http_req_set_data(struct dp_http_req *req, void *data);
void *dp_http_req_data(const struct dp_http_req *req);
void dp_http_req_on_close(struct dp_http_req *req, dp_http_close_fn fn, void *arg);

/* --- the response --- */
/* Add a response header (before reply/stream_start). Values with CR or LF
 * are refused (-EINVAL). Content-Length, Transfer-Encoding, Date and
 * Connection are managed by the server. */
int dp_http_add_header(struct dp_http_req *req, const char *name, const char *value);
/* Complete response; ends the request. HEAD requests get no body. */
void dp_http_reply(struct dp_http_req *req, int status, const char *ctype, const void *body, size_t len);
/* Start a chunked stream (status + headers sent now). 0 or -errno. */
int dp_http_stream_start(struct dp_http_req *req, int status, const char *ctype);
/* Queue bytes on the stream and flush. Returns 0, or -ENOBUFS when the
 * client has more than max_stream_queue unsent bytes: the connection is
 * then closed (on_close runs later, from the loop, not from this call), and
 * every further write returns -EPIPE. */
int dp_http_stream_write(struct dp_http_req *req, const void *p, size_t n);
/* Bytes queued for the client but not yet written to the socket. */
size_t dp_http_stream_pending(const struct dp_http_req *req);
/* End the stream (terminating chunk); ends the request. */
void dp_http_stream_end(struct dp_http_req *req);
/* Ask for the connection to be closed after this response. */
void dp_http_set_close(struct dp_http_req *req);
/* Drop the connection now, whether or not a response was started, and end
 * the request; unsent bytes are discarded and on_close does not run. For
 * simulating failures (llmster-sim's faults, a stopped server). */
void dp_http_abort(struct dp_http_req *req);

/* Reason phrase for a status code ("Not Found"). */
const char *dp_http_reason(int status);

/* --- the parser, exposed for unit tests and fuzzing --- */
struct dp_http_head {
	char method[16];
	char *target;      /* points into the parsed copy */
	int minor_version; /* HTTP/1.x */
	int nheaders;
	struct {
		char *name, *value;
	} headers[128];
	int64_t content_length; /* -1 when absent */
	int chunked;
	int keep_alive;
};
/* Parse a request head in place. `buf` holds exactly the head, ending with
 * "\r\n\r\n" (bare "\n\n" accepted), NUL-terminated; it is modified. Returns
 * 0, or a negative errno with an HTTP status in *status and a short code in
 * *code ("bad_request", "header_too_large"...). */
int dp_http_parse_head(char *buf, size_t len, int max_headers, struct dp_http_head *h, int *status, const char **code);
/* Percent-decode `in` (n bytes) into `out` (size >= n+1). '+' kept unless
 * plus_is_space. Fails (-EINVAL) on bad escapes and on decoded NUL bytes. */
int dp_http_urldecode(const char *in, size_t n, char *out, int plus_is_space);

#endif
