/*
 * http.c - HTTP/1.1 server on libevent bufferevents (contract in http.h).
 *
 * Connection life: accept -> READ_HEAD -> (READ_BODY) -> HANDLING -> the
 * response ends -> READ_HEAD again (keep-alive) or CLOSING (flush, then
 * close). A connection is never freed inside one of its own callbacks
 * (redis's freeClientAsync): conn_kill() only marks it dead and queues it on
 * the server's reap list; a deferred event frees it, runs the request's
 * on_close first when the response had not ended, and then frees the
 * request. Every queue is bounded: the head (max_head_bytes), the body
 * (max_body_bytes), pipelined input while a request is handled, and unsent
 * stream bytes (max_stream_queue; a slow reader is dropped).
 */
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "buf.h"
#include "log.h"
#include "xmalloc.h"

#define MAX_LISTENERS 4

/* ST_LINGER: after an error answered before the request body was read, the
 * write side is shut and input is drained for a while, so the client reads
 * our JSON error instead of a TCP reset caused by unread data. */
enum conn_state { ST_READ_HEAD, ST_READ_BODY, ST_HANDLING, ST_CLOSING, ST_LINGER, ST_DEAD };

#define LINGER_MS        2000
#define LINGER_MAX_BYTES (16u * 1024 * 1024)

struct arena_chunk {
	struct arena_chunk *next;
	size_t used, cap;
	max_align_t data[];
};

struct conn;

struct dp_http_req {
	struct conn *conn;
	char *headbuf;
	struct dp_http_head head;
	char *path;
	const char *query;
	char *body;
	size_t body_len;
	uint64_t id;
	struct timespec start;
	struct dp_buf resp_headers;
	int status;
	uint64_t bytes_out;
	int streaming;
	int ended;
	int close_after;
	int is_head;
	dp_http_close_fn on_close;
	void *close_arg;
	void *data;
	struct arena_chunk *arena;
};

struct conn {
	struct dp_http_server *srv;
	struct bufferevent *bev;
	struct conn *prev, *next; /* live list, or reap list once dead */
	char peer[INET6_ADDRSTRLEN];
	enum conn_state state;
	struct dp_http_head head;
	char *headbuf;
	int64_t body_need;
	struct dp_http_req *req;
	struct event *timer;   /* read / idle timeout */
	struct event *resume;  /* process pipelined input after an async reply */
	int head_started;      /* bytes of a new head have arrived */
	struct event *flushev; /* write queued output at the end of this loop turn */
	int flush_pending;
	int linger;      /* drain input after the error is sent */
	size_t lingered; /* bytes discarded while lingering */
};

struct dp_http_server {
	struct event_base *base;
	struct dp_http_config cfg;
	struct evconnlistener *listeners[MAX_LISTENERS];
	int nlisteners;
	struct conn *live;
	struct conn *dead;
	size_t nconns;
	uint64_t next_id;
	struct event *reaper;
	struct event *accept_resume; /* re-enables the listeners after a pause */
	uint64_t accept_failures;    /* since the last warning */
	time_t accept_warned;        /* when the last warning was logged */
	int stopping;
};

static void conn_process(struct conn *c);
static void conn_kill(struct conn *c);
static void schedule_flush(struct conn *c);

/* ---------------------------------------------------------------- misc */

void dp_http_config_defaults(struct dp_http_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->max_head_bytes = 16 * 1024;
	cfg->max_body_bytes = 1024 * 1024;
	cfg->max_headers = 64;
	cfg->read_timeout_ms = 30000;
	cfg->idle_timeout_ms = 60000;
	cfg->write_timeout_ms = 30000;
	cfg->max_stream_queue = 1024 * 1024;
	cfg->max_connections = 4096;
}

const char *dp_http_reason(int status)
{
	switch (status) {
	case 100:
		return "Continue";
	case 200:
		return "OK";
	case 201:
		return "Created";
	case 202:
		return "Accepted";
	case 204:
		return "No Content";
	case 206:
		return "Partial Content";
	case 301:
		return "Moved Permanently";
	case 302:
		return "Found";
	case 303:
		return "See Other";
	case 304:
		return "Not Modified";
	case 307:
		return "Temporary Redirect";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 408:
		return "Request Timeout";
	case 409:
		return "Conflict";
	case 410:
		return "Gone";
	case 411:
		return "Length Required";
	case 413:
		return "Content Too Large";
	case 415:
		return "Unsupported Media Type";
	case 422:
		return "Unprocessable Content";
	case 429:
		return "Too Many Requests";
	case 431:
		return "Request Header Fields Too Large";
	case 500:
		return "Internal Server Error";
	case 501:
		return "Not Implemented";
	case 502:
		return "Bad Gateway";
	case 503:
		return "Service Unavailable";
	case 504:
		return "Gateway Timeout";
	case 505:
		return "HTTP Version Not Supported";
	default:
		return "Unknown";
	}
}

static void json_escape(struct dp_buf *b, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			dp_buf_addf(b, "\\%c", c);
		else if (c < 0x20)
			dp_buf_addf(b, "\\u%04x", c);
		else
			dp_buf_addch(b, (char)c);
	}
}

static void default_error_body(int status, const char *code, const char *message, struct dp_buf *out,
                               const char **ctype)
{
	(void)status;
	dp_buf_adds(out, "{\"error\":{\"code\":\"");
	json_escape(out, code);
	dp_buf_adds(out, "\",\"message\":\"");
	json_escape(out, message);
	dp_buf_adds(out, "\"}}");
	*ctype = "application/json";
}

static const char *http_date(void)
{
	static char cached[64];
	static time_t cached_at = -1;
	time_t now = time(NULL);
	if (now != cached_at) {
		struct tm tm;
		gmtime_r(&now, &tm);
		strftime(cached, sizeof(cached), "%a, %d %b %Y %H:%M:%S GMT", &tm);
		cached_at = now;
	}
	return cached;
}

static uint64_t elapsed_us(const struct timespec *t0)
{
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	int64_t us = (int64_t)(t1.tv_sec - t0->tv_sec) * 1000000 + (t1.tv_nsec - t0->tv_nsec) / 1000;
	return us < 0 ? 0 : (uint64_t)us;
}

static void arm_timer(struct conn *c, int ms)
{
	if (ms <= 0) {
		event_del(c->timer);
		return;
	}
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
	event_add(c->timer, &tv);
}

/* ------------------------------------------------------------ requests */

static void req_free(struct dp_http_req *r)
{
	struct arena_chunk *a = r->arena;
	while (a) {
		struct arena_chunk *n = a->next;
		free(a);
		a = n;
	}
	dp_buf_release(&r->resp_headers);
	free(r->headbuf);
	free(r->body);
	free(r);
}

void *dp_http_req_alloc(struct dp_http_req *r, size_t n)
{
	n = (n + sizeof(max_align_t) - 1) & ~(sizeof(max_align_t) - 1);
	struct arena_chunk *a = r->arena;
	if (!a || a->cap - a->used < n) {
		size_t cap = n > 4096 ? n : 4096;
		a = xmalloc(sizeof(*a) + cap);
		a->used = 0;
		a->cap = cap;
		a->next = r->arena;
		r->arena = a;
	}
	void *p = (char *)a->data + a->used;
	a->used += n;
	memset(p, 0, n);
	return p;
}

char *dp_http_req_strdup(struct dp_http_req *r, const char *s)
{
	size_t n = strlen(s);
	char *p = dp_http_req_alloc(r, n + 1);
	memcpy(p, s, n);
	return p;
}

const char *dp_http_req_method(const struct dp_http_req *r)
{
	return r->head.method;
}
const char *dp_http_req_target(const struct dp_http_req *r)
{
	return r->head.target;
}
const char *dp_http_req_path(const struct dp_http_req *r)
{
	return r->path;
}
const char *dp_http_req_query(const struct dp_http_req *r)
{
	return r->query;
}
uint64_t dp_http_req_id(const struct dp_http_req *r)
{
	return r->id;
}
void dp_http_req_set_data(struct dp_http_req *r, void *data)
{
	r->data = data;
}
void *dp_http_req_data(const struct dp_http_req *r)
{
	return r->data;
}

const char *dp_http_req_peer(const struct dp_http_req *r)
{
	return r->conn ? r->conn->peer : "";
}

const char *dp_http_req_header(const struct dp_http_req *r, const char *name)
{
	for (int i = 0; i < r->head.nheaders; i++)
		if (strcasecmp(r->head.headers[i].name, name) == 0)
			return r->head.headers[i].value;
	return NULL;
}

int dp_http_req_header_at(const struct dp_http_req *r, int i, const char **name, const char **value)
{
	if (i < 0 || i >= r->head.nheaders)
		return -1;
	*name = r->head.headers[i].name;
	*value = r->head.headers[i].value;
	return 0;
}

const char *dp_http_req_body(const struct dp_http_req *r, size_t *len)
{
	if (len)
		*len = r->body_len;
	return r->body ? r->body : "";
}

const char *dp_http_req_query_param(struct dp_http_req *r, const char *name)
{
	const char *q = r->query;
	size_t nl = strlen(name);
	while (q && *q) {
		const char *amp = strchr(q, '&');
		size_t seg = amp ? (size_t)(amp - q) : strlen(q);
		const char *eq = memchr(q, '=', seg);
		size_t klen = eq ? (size_t)(eq - q) : seg;
		char *k = dp_http_req_alloc(r, klen + 1);
		if (dp_http_urldecode(q, klen, k, 1) == 0 && strlen(k) == nl && memcmp(k, name, nl) == 0) {
			size_t vlen = eq ? seg - klen - 1 : 0;
			char *v = dp_http_req_alloc(r, vlen + 1);
			if (eq && dp_http_urldecode(eq + 1, vlen, v, 1) < 0)
				return NULL;
			return v;
		}
		q = amp ? amp + 1 : NULL;
	}
	return NULL;
}

void dp_http_req_on_close(struct dp_http_req *r, dp_http_close_fn fn, void *arg)
{
	r->on_close = fn;
	r->close_arg = arg;
}

void dp_http_set_close(struct dp_http_req *r)
{
	r->close_after = 1;
}

int dp_http_add_header(struct dp_http_req *r, const char *name, const char *value)
{
	if (strpbrk(name, "\r\n:") || strpbrk(value, "\r\n"))
		return -EINVAL;
	if (dp_buf_addf(&r->resp_headers, "%s: %s\r\n", name, value) < 0)
		return -ENOSPC;
	return 0;
}

static int conn_alive(const struct conn *c)
{
	return c && c->state != ST_DEAD;
}

/* Write status line and headers into `out`. */
static void write_head(struct dp_http_req *r, struct evbuffer *out, int status, const char *ctype,
                       int64_t content_length, int chunked)
{
	struct conn *c = r->conn;
	if (c->srv->stopping)
		r->close_after = 1;
	if (!r->head.keep_alive)
		r->close_after = 1;
	evbuffer_add_printf(out, "HTTP/1.%d %d %s\r\nDate: %s\r\n", r->head.minor_version ? 1 : 0, status,
	                    dp_http_reason(status), http_date());
	if (c->srv->cfg.server_name)
		evbuffer_add_printf(out, "Server: %s\r\n", c->srv->cfg.server_name);
	if (ctype)
		evbuffer_add_printf(out, "Content-Type: %s\r\n", ctype);
	if (content_length >= 0)
		evbuffer_add_printf(out, "Content-Length: %lld\r\n", (long long)content_length);
	if (chunked)
		evbuffer_add(out, "Transfer-Encoding: chunked\r\n", 28);
	if (r->close_after)
		evbuffer_add(out, "Connection: close\r\n", 19);
	else if (r->head.minor_version == 0)
		evbuffer_add(out, "Connection: keep-alive\r\n", 24);
	evbuffer_add(out, r->resp_headers.data, r->resp_headers.len);
	evbuffer_add(out, "\r\n", 2);
	r->status = status;
}

/* The response ended: log, free, and continue with the connection. */
static void req_finish(struct dp_http_req *r)
{
	struct conn *c = r->conn;
	r->ended = 1;
	if (c && c->srv->cfg.on_done)
		c->srv->cfg.on_done(r, r->status, r->bytes_out, elapsed_us(&r->start), c->srv->cfg.done_arg);
	if (!conn_alive(c)) {
		/* reaper owns both; it frees r without calling on_close */
		return;
	}
	int close_after = r->close_after;
	c->req = NULL;
	req_free(r);
	if (close_after) {
		c->state = ST_CLOSING;
		bufferevent_disable(c->bev, EV_READ);
		schedule_flush(c); /* closes once the output is written */
		return;
	}
	c->state = ST_READ_HEAD;
	c->head_started = 0;
	arm_timer(c, c->srv->cfg.idle_timeout_ms);
	bufferevent_enable(c->bev, EV_READ);
	if (evbuffer_get_length(bufferevent_get_input(c->bev)) > 0)
		event_active(c->resume, EV_READ, 0);
}

void dp_http_reply(struct dp_http_req *r, int status, const char *ctype, const void *body, size_t len)
{
	if (r->ended || r->streaming)
		return;
	struct conn *c = r->conn;
	if (!conn_alive(c)) {
		r->status = status;
		req_finish(r);
		return;
	}
	struct evbuffer *out = bufferevent_get_output(c->bev);
	int no_body = r->is_head || status == 204 || status == 304;
	write_head(r, out, status, ctype, (status == 204) ? -1 : (int64_t)len, 0);
	if (!no_body && len) {
		evbuffer_add(out, body, len);
		r->bytes_out = len;
	}
	schedule_flush(c);
	req_finish(r);
}

int dp_http_stream_start(struct dp_http_req *r, int status, const char *ctype)
{
	if (r->ended || r->streaming)
		return -EALREADY;
	struct conn *c = r->conn;
	if (!conn_alive(c))
		return -EPIPE;
	/* HTTP/1.0 has no chunked encoding: stream raw and close at the end. */
	int chunked = r->head.minor_version == 1;
	if (!chunked)
		r->close_after = 1;
	write_head(r, bufferevent_get_output(c->bev), status, ctype, -1, chunked);
	r->streaming = chunked ? 1 : 2;
	schedule_flush(c);
	return 0;
}

size_t dp_http_stream_pending(const struct dp_http_req *r)
{
	if (!conn_alive(r->conn))
		return 0;
	return evbuffer_get_length(bufferevent_get_output(r->conn->bev));
}

int dp_http_stream_write(struct dp_http_req *r, const void *p, size_t n)
{
	struct conn *c = r->conn;
	if (!r->streaming || r->ended)
		return -EINVAL;
	if (!conn_alive(c))
		return -EPIPE;
	if (n == 0)
		return 0;
	struct evbuffer *out = bufferevent_get_output(c->bev);
	if (evbuffer_get_length(out) + n > c->srv->cfg.max_stream_queue) {
		conn_kill(c);
		return -ENOBUFS;
	}
	if (r->streaming == 1) {
		/* the chunk size line, without printf on the relay's hot path */
		char hex[24];
		size_t i = sizeof(hex);
		hex[--i] = '\n';
		hex[--i] = '\r';
		size_t v = n;
		do {
			hex[--i] = "0123456789abcdef"[v & 15];
			v >>= 4;
		} while (v);
		evbuffer_add(out, hex + i, sizeof(hex) - i);
	}
	evbuffer_add(out, p, n);
	if (r->streaming == 1)
		evbuffer_add(out, "\r\n", 2);
	r->bytes_out += n;
	schedule_flush(c);
	return 0;
}

void dp_http_stream_end(struct dp_http_req *r)
{
	if (!r->streaming || r->ended)
		return;
	struct conn *c = r->conn;
	if (conn_alive(c) && r->streaming == 1) {
		evbuffer_add(bufferevent_get_output(c->bev), "0\r\n\r\n", 5);
		schedule_flush(c);
	}
	req_finish(r);
}

void dp_http_abort(struct dp_http_req *r)
{
	if (r->ended)
		return;
	struct conn *c = r->conn;
	r->on_close = NULL;
	r->ended = 1;
	/* the reaper frees the connection and, since it is still c->req, r */
	if (c && c->req == r)
		conn_kill(c);
}

/* --------------------------------------------------------- connections */

static void reap_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dp_http_server *s = arg;
	(void)fd;
	(void)what;
	while (s->dead) {
		struct conn *c = s->dead;
		s->dead = c->next;
		struct dp_http_req *r = c->req;
		if (r) {
			if (!r->ended && r->on_close) {
				r->conn = NULL;
				r->on_close(r, r->close_arg);
			} else if (!r->ended) {
				r->conn = NULL;
				/* nobody listens: the handler never kept it */
			}
			req_free(r);
		}
		if (c->bev)
			bufferevent_free(c->bev);
		event_free(c->timer);
		event_free(c->resume);
		event_free(c->flushev);
		free(c->headbuf);
		free(c);
	}
}

static void conn_kill(struct conn *c)
{
	if (c->state == ST_DEAD)
		return;
	struct dp_http_server *s = c->srv;
	c->state = ST_DEAD;
	bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	bufferevent_setcb(c->bev, NULL, NULL, NULL, NULL);
	event_del(c->timer);
	event_del(c->resume);
	event_del(c->flushev);
	if (c->prev)
		c->prev->next = c->next;
	else
		s->live = c->next;
	if (c->next)
		c->next->prev = c->prev;
	s->nconns--;
	c->prev = NULL;
	c->next = s->dead;
	s->dead = c;
	event_active(s->reaper, EV_TIMEOUT, 0);
}

/* An error the server answers itself; the connection closes after it. */
static void conn_error(struct conn *c, int status, const char *code, const char *message)
{
	struct dp_buf body;
	const char *ctype = "application/json";
	dp_buf_init(&body, 4096);
	if (c->srv->cfg.error_body)
		c->srv->cfg.error_body(status, code, message, &body, &ctype);
	else
		default_error_body(status, code, message, &body, &ctype);
	struct evbuffer *out = bufferevent_get_output(c->bev);
	evbuffer_add_printf(out,
	                    "HTTP/1.1 %d %s\r\nDate: %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
	                    "Connection: close\r\n\r\n",
	                    status, dp_http_reason(status), http_date(), ctype, body.len);
	evbuffer_add(out, body.data, body.len);
	dp_buf_release(&body);
	c->state = ST_CLOSING;
	c->linger = 1;
	event_del(c->timer);
	bufferevent_disable(c->bev, EV_READ);
	schedule_flush(c);
}

static void dispatch(struct conn *c, char *body, size_t body_len)
{
	struct dp_http_server *s = c->srv;
	struct dp_http_req *r = xcalloc(1, sizeof(*r));
	r->conn = c;
	r->headbuf = c->headbuf;
	r->head = c->head;
	c->headbuf = NULL;
	r->body = body;
	r->body_len = body_len;
	r->id = ++s->next_id;
	r->is_head = strcmp(r->head.method, "HEAD") == 0;
	dp_buf_init(&r->resp_headers, 16 * 1024);
	clock_gettime(CLOCK_MONOTONIC, &r->start);

	/* split target into path and query; decode the path */
	const char *t = r->head.target;
	const char *qm = strchr(t, '?');
	size_t plen = qm ? (size_t)(qm - t) : strlen(t);
	r->query = qm ? qm + 1 : "";
	r->path = dp_http_req_alloc(r, plen + 1);
	c->req = r;
	c->state = ST_HANDLING;
	event_del(c->timer);
	if (dp_http_urldecode(t, plen, r->path, 0) < 0) {
		c->req = NULL;
		req_free(r);
		conn_error(c, 400, "bad_request", "malformed percent-encoding in the request path");
		return;
	}
	s->cfg.handler(r, s->cfg.handler_arg);
}

static int find_head_end(struct evbuffer *in, size_t *head_len)
{
	struct evbuffer_ptr p = evbuffer_search(in, "\n\r\n", 3, NULL);
	struct evbuffer_ptr q = evbuffer_search(in, "\n\n", 2, NULL);
	ssize_t a = p.pos >= 0 ? p.pos + 3 : -1;
	ssize_t b = q.pos >= 0 ? q.pos + 2 : -1;
	if (a < 0 && b < 0)
		return 0;
	if (a < 0 || (b >= 0 && b < a))
		a = b;
	*head_len = (size_t)a;
	return 1;
}

/* Parse as much of the input as the state allows. */
static void conn_process(struct conn *c)
{
	struct dp_http_server *s = c->srv;
	struct evbuffer *in = bufferevent_get_input(c->bev);

	while (c->state == ST_READ_HEAD || c->state == ST_READ_BODY) {
		size_t avail = evbuffer_get_length(in);
		if (c->state == ST_READ_HEAD) {
			if (avail == 0)
				return;
			if (!c->head_started) {
				c->head_started = 1;
				arm_timer(c, s->cfg.read_timeout_ms);
			}
			size_t hlen;
			if (!find_head_end(in, &hlen)) {
				if (avail > s->cfg.max_head_bytes)
					conn_error(c, 431, "header_too_large",
					           "request line and headers exceed the size limit");
				return;
			}
			if (hlen > s->cfg.max_head_bytes) {
				conn_error(c, 431, "header_too_large",
				           "request line and headers exceed the size limit");
				return;
			}
			free(c->headbuf);
			c->headbuf = xmalloc(hlen + 1);
			evbuffer_remove(in, c->headbuf, hlen);
			c->headbuf[hlen] = '\0';
			int status;
			const char *code;
			if (dp_http_parse_head(c->headbuf, hlen, s->cfg.max_headers, &c->head, &status, &code) < 0) {
				conn_error(c, status, code,
				           status == 505   ? "only HTTP/1.0 and HTTP/1.1 are supported"
				           : status == 431 ? "too many request headers"
				           : strcmp(code, "bad_host") == 0
				                   ? "an HTTP/1.1 request needs exactly one Host header"
				                   : "malformed HTTP request");
				return;
			}
			if (c->head.chunked) {
				conn_error(c, 411, "length_required",
				           "chunked request bodies are not supported: send Content-Length");
				return;
			}
			if (c->head.content_length > (int64_t)s->cfg.max_body_bytes) {
				char msg[128];
				snprintf(msg, sizeof(msg), "request body exceeds the limit of %zu bytes",
				         s->cfg.max_body_bytes);
				conn_error(c, 413, "payload_too_large", msg);
				return;
			}
			c->body_need = c->head.content_length > 0 ? c->head.content_length : 0;
			if (c->body_need > 0) {
				/* curl and others wait for this before sending a body */
				for (int i = 0; i < c->head.nheaders; i++)
					if (strcasecmp(c->head.headers[i].name, "Expect") == 0 &&
					    strcasecmp(c->head.headers[i].value, "100-continue") == 0 &&
					    c->head.minor_version == 1) {
						evbuffer_add(bufferevent_get_output(c->bev),
						             "HTTP/1.1 100 Continue\r\n\r\n", 25);
						schedule_flush(c);
					}
				c->state = ST_READ_BODY;
				continue;
			}
			dispatch(c, NULL, 0);
		} else {
			if ((int64_t)avail < c->body_need)
				return;
			char *body = xmalloc((size_t)c->body_need + 1);
			evbuffer_remove(in, body, (size_t)c->body_need);
			body[c->body_need] = '\0';
			dispatch(c, body, (size_t)c->body_need);
		}
	}
	/* HANDLING: bound what a pipelining client may queue meanwhile */
	if (c->state == ST_HANDLING && evbuffer_get_length(in) > s->cfg.max_head_bytes + s->cfg.max_body_bytes)
		bufferevent_disable(c->bev, EV_READ);
}

static void read_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	if (c->state == ST_LINGER) {
		struct evbuffer *in = bufferevent_get_input(bev);
		c->lingered += evbuffer_get_length(in);
		evbuffer_drain(in, evbuffer_get_length(in));
		if (c->lingered > LINGER_MAX_BYTES)
			conn_kill(c);
		return;
	}
	conn_process(c);
}

static void resume_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	conn_process(arg);
}

/* The output buffer is empty: go back to writing from flush_cb, and finish
 * a closing connection (lingering after an early error). */
static void conn_drained(struct conn *c)
{
	bufferevent_disable(c->bev, EV_WRITE);
	if (c->state != ST_CLOSING)
		return;
	if (!c->linger) {
		conn_kill(c);
		return;
	}
	c->state = ST_LINGER;
	shutdown(bufferevent_getfd(c->bev), SHUT_WR);
	bufferevent_enable(c->bev, EV_READ);
	arm_timer(c, LINGER_MS);
}

/*
 * Output is written here, once per connection per loop turn, right after the
 * callbacks that queued it: everything a turn produced (say, all the events
 * parsed from one upstream read) leaves in one write, without waiting for the
 * next epoll round. Only when the socket is full does the bufferevent's own
 * write event (with its write timeout) take over until the buffer drains.
 */
static void flush_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	(void)fd;
	(void)what;
	c->flush_pending = 0;
	if (c->state == ST_DEAD || (bufferevent_get_enabled(c->bev) & EV_WRITE))
		return;
	struct evbuffer *out = bufferevent_get_output(c->bev);
	if (evbuffer_get_length(out) > 0) {
		/* a socket bufferevent keeps its output's start frozen so that only
		 * its own write callback drains it; thaw it for our write */
		evbuffer_unfreeze(out, 1);
		errno = 0;
		int n = evbuffer_write(out, bufferevent_getfd(c->bev));
		evbuffer_freeze(out, 1);
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
			conn_kill(c);
			return;
		}
	}
	if (evbuffer_get_length(out) == 0)
		conn_drained(c);
	else
		bufferevent_enable(c->bev, EV_WRITE);
}

static void schedule_flush(struct conn *c)
{
	if (c->state == ST_DEAD || c->flush_pending)
		return;
	c->flush_pending = 1;
	event_active(c->flushev, EV_WRITE, 0);
}

static void write_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		conn_drained(c);
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;
	(void)bev;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT))
		conn_kill(c);
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	(void)fd;
	(void)what;
	if ((c->state == ST_READ_HEAD && !c->head_started) || c->state == ST_LINGER) {
		conn_kill(c); /* idle keep-alive connection, or lingering done */
		return;
	}
	if (c->state == ST_READ_HEAD || c->state == ST_READ_BODY)
		conn_error(c, 408, "request_timeout", "the request was not received in time");
}

static void accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen, void *arg)
{
	struct dp_http_server *s = arg;
	(void)l;
	(void)salen;
	if (s->stopping || (int)s->nconns >= s->cfg.max_connections) {
		evutil_closesocket(fd);
		return;
	}
	struct conn *c = xcalloc(1, sizeof(*c));
	c->srv = s;
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *)sa)->sin_addr, c->peer, sizeof(c->peer));
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)sa)->sin6_addr, c->peer, sizeof(c->peer));
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->bev = bufferevent_socket_new(s->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (!c->bev) {
		evutil_closesocket(fd);
		free(c);
		return;
	}
	c->timer = evtimer_new(s->base, timer_cb, c);
	c->resume = event_new(s->base, -1, 0, resume_cb, c);
	c->flushev = event_new(s->base, -1, 0, flush_cb, c);
	bufferevent_setcb(c->bev, read_cb, write_cb, event_cb, c);
	struct timeval wt = {s->cfg.write_timeout_ms / 1000, (s->cfg.write_timeout_ms % 1000) * 1000};
	bufferevent_set_timeouts(c->bev, NULL, s->cfg.write_timeout_ms > 0 ? &wt : NULL);
	/* bufferevents start with EV_WRITE enabled: output is written by
	 * flush_cb, and EV_WRITE is enabled only while the socket is full */
	bufferevent_disable(c->bev, EV_WRITE);
	bufferevent_enable(c->bev, EV_READ);
	c->state = ST_READ_HEAD;
	c->next = s->live;
	if (s->live)
		s->live->prev = c;
	s->live = c;
	s->nconns++;
	arm_timer(c, s->cfg.idle_timeout_ms);
}

/* accept() failed. Out of descriptors (EMFILE, ENFILE) or memory, the
 * socket stays readable and a level-triggered loop would call accept()
 * again at once, forever: stop listening for a moment instead, as nginx
 * does, and say so at most once a minute. Other errors (a client that
 * reset before accept) cost nothing. */
#define ACCEPT_PAUSE_MS 100

static void accept_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dp_http_server *s = arg;
	(void)fd;
	(void)what;
	if (s->stopping)
		return;
	for (int i = 0; i < s->nlisteners; i++)
		evconnlistener_enable(s->listeners[i]);
}

static void accept_error_cb(struct evconnlistener *l, void *arg)
{
	struct dp_http_server *s = arg;
	int err = EVUTIL_SOCKET_ERROR();
	(void)l;
	if (err != EMFILE && err != ENFILE && err != ENOBUFS && err != ENOMEM)
		return;
	for (int i = 0; i < s->nlisteners; i++)
		evconnlistener_disable(s->listeners[i]);
	struct timeval tv = {0, ACCEPT_PAUSE_MS * 1000};
	evtimer_add(s->accept_resume, &tv);
	s->accept_failures++;
	time_t now = time(NULL);
	if (s->accept_warned == 0 || now - s->accept_warned >= 60) {
		dp_warn("cannot accept connections (%s, %d open, %llu time(s)): pausing new connections for %d ms; "
		        "raise the descriptor limit (ulimit -n, LimitNOFILE=)",
		        strerror(err), (int)s->nconns, (unsigned long long)s->accept_failures, ACCEPT_PAUSE_MS);
		s->accept_warned = now;
		s->accept_failures = 0;
	}
}

/* -------------------------------------------------------------- server */

struct dp_http_server *dp_http_server_new(struct event_base *base, const struct dp_http_config *cfg)
{
	struct dp_http_server *s = xcalloc(1, sizeof(*s));
	s->base = base;
	s->cfg = *cfg;
	struct dp_http_config d;
	dp_http_config_defaults(&d);
	if (!s->cfg.max_head_bytes)
		s->cfg.max_head_bytes = d.max_head_bytes;
	if (!s->cfg.max_body_bytes)
		s->cfg.max_body_bytes = d.max_body_bytes;
	if (!s->cfg.max_headers)
		s->cfg.max_headers = d.max_headers;
	if (!s->cfg.max_stream_queue)
		s->cfg.max_stream_queue = d.max_stream_queue;
	if (!s->cfg.max_connections)
		s->cfg.max_connections = d.max_connections;
	s->reaper = event_new(base, -1, 0, reap_cb, s);
	s->accept_resume = evtimer_new(base, accept_resume_cb, s);
	return s;
}

int dp_http_server_listen(struct dp_http_server *s, const char *addr, int port, int *bound_port)
{
	if (s->nlisteners >= MAX_LISTENERS)
		return -ENOSPC;
	if (port < 0 || port > 65535)
		return -EINVAL;
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	socklen_t sl;
	if (!addr || strcmp(addr, "localhost") == 0)
		addr = "127.0.0.1";
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	if (inet_pton(AF_INET, addr, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		sl = sizeof(*sin);
	} else {
		const char *a = addr;
		char tmp[INET6_ADDRSTRLEN + 2];
		size_t al = strlen(addr);
		if (al > 2 && addr[0] == '[' && addr[al - 1] == ']' && al - 2 < sizeof(tmp)) {
			memcpy(tmp, addr + 1, al - 2);
			tmp[al - 2] = '\0';
			a = tmp;
		}
		if (inet_pton(AF_INET6, a, &sin6->sin6_addr) != 1)
			return -EINVAL;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		sl = sizeof(*sin6);
	}
	struct evconnlistener *l = evconnlistener_new_bind(
	        s->base, accept_cb, s, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC, 1024,
	        (struct sockaddr *)&ss, (int)sl);
	if (!l)
		return errno ? -errno : -EADDRINUSE;
	evconnlistener_set_error_cb(l, accept_error_cb);
	if (bound_port) {
		struct sockaddr_storage got;
		socklen_t gl = sizeof(got);
		if (getsockname(evconnlistener_get_fd(l), (struct sockaddr *)&got, &gl) == 0)
			*bound_port = got.ss_family == AF_INET ? ntohs(((struct sockaddr_in *)&got)->sin_port)
			                                       : ntohs(((struct sockaddr_in6 *)&got)->sin6_port);
	}
	s->listeners[s->nlisteners++] = l;
	return 0;
}

void dp_http_server_stop_listening(struct dp_http_server *s)
{
	for (int i = 0; i < s->nlisteners; i++)
		evconnlistener_free(s->listeners[i]);
	s->nlisteners = 0;
	s->stopping = 1;
	evtimer_del(s->accept_resume);
	/* idle connections go now; busy ones close after their response */
	struct conn *c = s->live;
	while (c) {
		struct conn *n = c->next;
		if (c->state == ST_READ_HEAD && !c->head_started)
			conn_kill(c);
		c = n;
	}
}

size_t dp_http_server_connections(const struct dp_http_server *s)
{
	return s->nconns;
}

void dp_http_server_free(struct dp_http_server *s)
{
	if (!s)
		return;
	for (int i = 0; i < s->nlisteners; i++)
		evconnlistener_free(s->listeners[i]);
	s->nlisteners = 0;
	while (s->live)
		conn_kill(s->live);
	reap_cb(-1, 0, s);
	event_free(s->reaper);
	event_free(s->accept_resume);
	free(s);
}
