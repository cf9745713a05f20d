/*
 * sse.c - the SSE writer and fan-out hub (contract in sse.h).
 *
 * Each stream sits on two intrusive lists: the server's registry (so
 * shutdown can end it) and at most one hub. close_stream() is the single
 * exit: it unlinks from both, stops the heartbeat, tells the owner, and
 * frees; it is reached from the request's abort callback (client gone or
 * dropped; the HTTP layer frees the request afterwards) or from
 * dp_sse_end() (we end the request ourselves right after).
 */
#include "sse.h"

#include <errno.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "buf.h"
#include "http.h"
#include "log.h"
#include "server.h"
#include "xmalloc.h"

struct dp_sse {
	struct dp_ctx *ctx;
	struct dp_sse_registry *reg;
	struct dp_sse *prev, *next; /* registry */
	struct dp_sse_hub *hub;
	struct dp_sse *hprev, *hnext; /* hub */
	struct event *heartbeat;
	dp_sse_close_fn on_close;
	void *close_arg;
	int dead; /* client gone or dropped: no more writes */
	int closing;
	struct dp_buf fmt; /* dp_sse_send's framing, reused (no malloc per event) */
};

static void sse_free(struct dp_sse *s)
{
	dp_buf_release(&s->fmt);
	free(s);
}

static void close_stream(struct dp_sse *s);

static void hub_unlink(struct dp_sse *s)
{
	struct dp_sse_hub *h = s->hub;
	if (!h)
		return;
	if (s->hprev)
		s->hprev->hnext = s->hnext;
	else
		h->head = s->hnext;
	if (s->hnext)
		s->hnext->hprev = s->hprev;
	s->hub = NULL;
	s->hprev = s->hnext = NULL;
	h->n--;
	if (h->n == 0 && h->on_empty)
		h->on_empty(h, h->empty_arg);
}

static void close_stream(struct dp_sse *s)
{
	s->closing = 1;
	if (s->prev)
		s->prev->next = s->next;
	else
		s->reg->head = s->next;
	if (s->next)
		s->next->prev = s->prev;
	s->reg->open--;
	hub_unlink(s);
	if (s->heartbeat)
		event_free(s->heartbeat);
	s->heartbeat = NULL;
	if (s->on_close)
		s->on_close(s, s->close_arg);
}

static int raw_write(struct dp_sse *s, const void *p, size_t n)
{
	if (s->dead || s->closing)
		return -EPIPE;
	int rc = dp_http_stream_write(s->ctx->req, p, n);
	if (rc == -ENOBUFS) {
		s->dead = 1;
		s->reg->dropped++;
		dp_warn("sse client %s dropped: queue full", dp_http_req_peer(s->ctx->req));
		return -EPIPE;
	}
	if (rc < 0) {
		s->dead = 1;
		return -EPIPE;
	}
	return 0;
}

static void heartbeat_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	raw_write(arg, ": keepalive\n\n", 13);
}

/* Client went away (or was dropped): the HTTP layer frees the request
 * after this returns. */
static void on_abort(struct dp_ctx *c, void *arg)
{
	struct dp_sse *s = arg;
	(void)c;
	s->dead = 1;
	close_stream(s);
	sse_free(s);
}

struct dp_sse *dp_sse_start(struct dp_ctx *c, int heartbeat_ms)
{
	struct dp_http_req *req = c->req;
	struct dp_sse_registry *reg = &c->srv->sse;
	dp_http_add_header(req, "Cache-Control", "no-cache");
	dp_http_add_header(req, "X-Accel-Buffering", "no");
	dp_http_add_header(req, "X-Content-Type-Options", "nosniff");
	if (dp_http_stream_start(req, 200, "text/event-stream; charset=utf-8") < 0) {
		dp_reply_error(c, 500, "internal", "could not start the event stream");
		return NULL;
	}
	c->replied = 1;
	struct dp_sse *s = xcalloc(1, sizeof(*s));
	dp_buf_init(&s->fmt, DP_SSE_MAX_EVENT);
	s->ctx = c;
	s->reg = reg;
	s->next = reg->head;
	if (reg->head)
		reg->head->prev = s;
	reg->head = s;
	reg->open++;
	reg->total++;
	dp_ctx_on_abort(c, on_abort, s);
	if (heartbeat_ms <= 0)
		heartbeat_ms = DP_SSE_HEARTBEAT_MS;
	s->heartbeat = event_new(c->srv->base, -1, EV_PERSIST, heartbeat_cb, s);
	struct timeval tv = {heartbeat_ms / 1000, (heartbeat_ms % 1000) * 1000};
	event_add(s->heartbeat, &tv);
	/* an initial comment flushes the headers through proxies right away */
	raw_write(s, ": ok\n\n", 6);
	return s;
}

void dp_sse_set_on_close(struct dp_sse *s, dp_sse_close_fn fn, void *arg)
{
	s->on_close = fn;
	s->close_arg = arg;
}

struct dp_ctx *dp_sse_ctx(struct dp_sse *s)
{
	return s->ctx;
}

const char *dp_sse_last_event_id(struct dp_ctx *c)
{
	return dp_http_req_header(c->req, "Last-Event-ID");
}

static int has_newline(const char *s)
{
	return s && strpbrk(s, "\r\n") != NULL;
}

int dp_sse_format(struct dp_buf *out, const char *id, const char *event, const char *data, size_t len)
{
	if (has_newline(id) || has_newline(event))
		return -EINVAL;
	int rc = 0;
	if (id) {
		rc |= dp_buf_adds(out, "id: ");
		rc |= dp_buf_adds(out, id);
		rc |= dp_buf_addch(out, '\n');
	}
	if (event) {
		rc |= dp_buf_adds(out, "event: ");
		rc |= dp_buf_adds(out, event);
		rc |= dp_buf_addch(out, '\n');
	}
	/* one data: line per line; CRLF, LF and CR all end a line. A trailing
	 * newline yields a last empty data: line, so the client reassembles
	 * exactly the payload (it drops only the final LF it adds itself). */
	size_t i = 0;
	for (;;) {
		size_t j = i;
		while (j < len && data[j] != '\n' && data[j] != '\r')
			j++;
		rc |= dp_buf_add(out, "data: ", 6);
		rc |= dp_buf_add(out, data + i, j - i);
		rc |= dp_buf_addch(out, '\n');
		if (j >= len)
			break;
		if (data[j] == '\r' && j + 1 < len && data[j + 1] == '\n')
			j++;
		i = j + 1;
	}
	rc |= dp_buf_addch(out, '\n');
	return rc ? -EMSGSIZE : 0;
}

int dp_sse_send(struct dp_sse *s, const char *id, const char *event, const char *data, size_t len)
{
	if (s->dead || s->closing)
		return -EPIPE;
	struct dp_buf *b = &s->fmt;
	dp_buf_reset(b);
	int rc = dp_sse_format(b, id, event, data ? data : "", data ? len : 0);
	if (rc == 0)
		rc = raw_write(s, b->data, b->len);
	if (b->cap > 64 * 1024)
		dp_buf_release(b); /* do not keep a huge event's buffer */
	return rc;
}

int dp_sse_send_json(struct dp_sse *s, const char *id, const char *event, const json_t *json)
{
	char *txt = json_dumps(json, JSON_COMPACT);
	if (!txt)
		return -EINVAL;
	int rc = dp_sse_send(s, id, event, txt, strlen(txt));
	free(txt);
	return rc;
}

int dp_sse_send_framed(struct dp_sse *s, const char *framed, size_t len)
{
	return raw_write(s, framed, len);
}

int dp_sse_comment(struct dp_sse *s, const char *text)
{
	if (has_newline(text))
		return -EINVAL;
	struct dp_buf b;
	dp_buf_init(&b, DP_SSE_MAX_EVENT);
	dp_buf_adds(&b, ": ");
	dp_buf_adds(&b, text);
	int rc = dp_buf_adds(&b, "\n\n");
	if (rc == 0)
		rc = raw_write(s, b.data, b.len);
	dp_buf_release(&b);
	return rc < 0 ? (rc == -ENOSPC ? -EMSGSIZE : rc) : 0;
}

void dp_sse_end(struct dp_sse *s)
{
	if (s->closing)
		return;
	struct dp_http_req *req = s->ctx->req;
	close_stream(s);
	sse_free(s);
	/* ends the request normally: its abort callback will not run */
	dp_http_stream_end(req);
}

void dp_sse_registry_init(struct dp_sse_registry *r)
{
	memset(r, 0, sizeof(*r));
}

void dp_sse_registry_close_all(struct dp_sse_registry *r)
{
	while (r->head)
		dp_sse_end(r->head);
}

/* ------------------------------------------------------------- hub */

void dp_sse_hub_init(struct dp_sse_hub *h)
{
	memset(h, 0, sizeof(*h));
}

void dp_sse_hub_add(struct dp_sse_hub *h, struct dp_sse *s)
{
	if (s->hub)
		hub_unlink(s);
	s->hub = h;
	s->hprev = NULL;
	s->hnext = h->head;
	if (h->head)
		h->head->hprev = s;
	h->head = s;
	h->n++;
}

size_t dp_sse_hub_broadcast(struct dp_sse_hub *h, const char *event, const char *data, size_t len)
{
	char id[24];
	snprintf(id, sizeof(id), "%llu", (unsigned long long)++h->last_id);
	struct dp_buf b;
	dp_buf_init(&b, DP_SSE_MAX_EVENT);
	size_t sent = 0;
	if (dp_sse_format(&b, id, event, data ? data : "", data ? len : 0) == 0) {
		/* a drop never unlinks synchronously (on_close runs later from
		 * the loop), so walking the list while writing is safe */
		for (struct dp_sse *s = h->head; s; s = s->hnext)
			if (raw_write(s, b.data, b.len) == 0)
				sent++;
	}
	dp_buf_release(&b);
	return sent;
}

size_t dp_sse_hub_broadcast_json(struct dp_sse_hub *h, const char *event, const json_t *json)
{
	char *txt = json_dumps(json, JSON_COMPACT);
	if (!txt)
		return 0;
	size_t n = dp_sse_hub_broadcast(h, event, txt, strlen(txt));
	free(txt);
	return n;
}

void dp_sse_hub_release(struct dp_sse_hub *h)
{
	h->on_empty = NULL;
	while (h->head)
		dp_sse_end(h->head);
	h->last_id = 0;
}
