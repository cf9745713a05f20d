/*
 * upstream.c - the LM Studio client on the server's libevent base (see
 * upstream.h for the contract, docs/upstream.md for the classification
 * table).
 *
 * Two transports under one request state machine:
 *
 *  - native (http://): our own HTTP/1.1 client on bufferevents, the response
 *    parsed by lib/http_resp.c, names resolved by getaddrinfo on two resolver
 *    threads (the system's resolver: /etc/hosts, DNS, mDNS - what curl's
 *    threaded resolver did), idle keep-alive
 *    connections pooled per host:port for a few seconds. One read per
 *    readable event, nothing else: this is the chat relay's hot path.
 *  - libcurl (https://, and every request when a test asks for it): the
 *    multi interface driven by libevent (curl's docs/examples/hiperfifo.c),
 *    the library loaded with dlopen on first use (lib/curl_dl.h) so that a
 *    server that never speaks TLS never maps it.
 *
 * Callbacks into the caller (on_event, on_data) run from the transport's
 * read path; on_done always runs from the loop, never from inside a call
 * the caller made. Everything that would free a request from inside its own
 * callback (an abort, a failure, a resume), and every start, is recorded on
 * the request and done by `kick`, a deferred event activated on the same
 * base: it runs later in the same loop turn. curl's own callbacks run
 * inside curl_multi_socket_action, where libcurl refuses multi calls
 * (CURLM_RECURSIVE_API_CALL): the kick keeps those out too.
 */
#include "upstream.h"

#include <ctype.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/util.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>

#include "buf.h"
#include "curl_dl.h"
#include "http_resp.h"
#include "log.h"
#include "url.h"
#include "xmalloc.h"
#include "version.h"
#include "workq.h"

#define MAX_PATH_LEN      4096
#define MAX_LMS_MESSAGE   400  /* bytes of LM Studio's message quoted in ours */
#define POOL_IDLE_MS      4000 /* below Node's 5 s keepAliveTimeout (LM Studio's server) */
#define POOL_MAX          32   /* idle connections kept in all */
#define POOL_MAX_PER_HOST 8
#define HELD_MAX          (64u << 10) /* bytes kept from a chunk a paused caller did not take */
#define RBUF_SIZE         (16u << 10) /* one read from a daemon (native) */

/* How a transfer ended, whatever the transport. */
enum tr_err {
	TR_OK = 0,
	TR_ABORTED, /* a failure recorded on the request (fail_set) or an abort */
	TR_RESOLVE,
	TR_CONNECT, /* oserr says why */
	TR_TIMEOUT,
	TR_NOTHING, /* connected, closed without a byte */
	TR_LOST,    /* closed or reset in the middle */
	TR_TOO_LARGE,
	TR_TLS,      /* phrase says why */
	TR_PROTOCOL, /* an unusable HTTP answer; phrase says why */
	TR_OTHER,    /* phrase says why */
};

struct sockinfo {
	struct sockinfo *next, *prev;
	curl_socket_t fd;
	struct event *ev;
};

/* libcurl's side, created on the first TLS request. */
struct up_curl {
	const struct dp_curl *c;
	CURLM *multi;
	struct event *timer; /* curl's timeout */
	struct sockinfo *socks;
	int in_curl; /* depth of calls into curl that may run our callbacks */
};

/* An idle keep-alive connection. */
struct up_conn {
	struct up_conn *next;
	struct dp_upstream *u;
	struct bufferevent *bev;
	struct event *timer;
	char key[DP_URL_HOST_MAX + 16];
};

struct dp_upstream {
	struct event_base *base;
	struct dp_workq *resolver; /* getaddrinfo threads, on the first host name */
	struct event *kick;        /* deferred work, see the file comment */
	struct dp_upstream_req *reqs;
	struct up_conn *pool;
	size_t pooled;
	struct up_curl *curl;
	size_t active;
	int kick_armed;
	int freeing;
	int curl_only;
};

struct dp_upstream_req {
	struct dp_upstream *u;
	struct dp_upstream_req *prev, *next;
	char *url;
	char *body;
	size_t body_len;
	char *token; /* wiped on free */
	const char *method;
	char hostport[300]; /* for messages: "host:port" */
	enum dp_upstream_mode mode;
	dp_upstream_done_fn on_done;
	dp_upstream_event_fn on_event;
	dp_upstream_data_fn on_data;
	void *arg;
	int connect_timeout_ms, timeout_ms, idle_timeout_ms, allow_non_json;
	int sse_or_json, plain_http, no_link_local;
	size_t max_response;

	struct dp_buf resp; /* buffered body (or the error body of a stream) */
	struct dp_buf held; /* stream bytes read but not parsed (paused) */
	struct dp_sse_parse sse;
	struct event *idle;

	int started;   /* handed to the transport */
	int decided;   /* stream vs buffered chosen (first body byte) */
	int streaming; /* delivering a 2xx stream */
	int paused, resume_pending;
	int abort_pending; /* finish from the kick with pending_err */
	enum tr_err pending_err;
	int completed; /* transfer finished while events were held */
	int done;      /* on_done started */
	int token_sent;

	int fail_set; /* a failure recorded before the transport finished */
	enum dp_upstream_outcome fail_outcome;
	const char *fail_code;
	char msg[1024];
	char phrase[300]; /* transport detail for TR_TLS / _PROTOCOL / _OTHER */
	int oserr;

	int64_t t0_us, ttfb_us, connect_us;
	int64_t idle_from_us; /* last body byte (or start / resume) */
	uint64_t bytes;

	/* native transport */
	int curl_path;
	struct dp_url target;
	char *reqmsg; /* the request bytes (holds the token: wiped on free) */
	size_t reqlen;
	struct bufferevent *bev; /* connect and write; reading is ours (rev) */
	struct event *rev;       /* the socket's read event */
	char *rbuf;              /* RBUF_SIZE bytes read, not yet parsed from roff */
	size_t roff, rlen;
	struct dp_http_resp parser;
	int parser_live, head_seen;
	struct dns_job *dns_job; /* a lookup in flight (its r is cleared on free) */
	struct addrinfo *ai, *ai_cur;
	struct sockaddr_storage sa; /* a literal address */
	socklen_t sa_len;
	struct event *t_connect, *t_total;
	int reused, retried, connected;

	/* libcurl transport */
	CURL *easy;
	struct curl_slist *headers;
	char errbuf[CURL_ERROR_SIZE];
	int added, curl_paused;
};

static int64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

const char *dp_upstream_outcome_name(enum dp_upstream_outcome o)
{
	switch (o) {
	case DP_UPSTREAM_OK:
		return "ok";
	case DP_UPSTREAM_STOPPED:
		return "stopped";
	case DP_UPSTREAM_STALLED:
		return "stalled";
	case DP_UPSTREAM_UNAUTHORIZED:
		return "unauthorized";
	case DP_UPSTREAM_HTTP_ERROR:
		return "http_error";
	case DP_UPSTREAM_BAD_RESPONSE:
		return "bad_response";
	case DP_UPSTREAM_CANCELLED:
		return "cancelled";
	}
	return "unknown";
}

/* ------------------------------------------------------------------ URLs */

int dp_upstream_check_url(const char *base_url, const char **err)
{
	struct dp_url u;
	const char *dummy;
	return dp_url_parse(base_url, &u, err ? err : &dummy);
}

/* A path is "/" followed by printable ASCII without '#', '\\' or dot
 * segments, optionally "?query". */
static int check_path(const char *path, size_t *qpos, const char **err)
{
	if (!path || path[0] != '/')
		return *err = "the request path must start with '/'", -EINVAL;
	size_t n = strlen(path);
	if (n > MAX_PATH_LEN)
		return *err = "the request path is too long", -EINVAL;
	*qpos = n;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)path[i];
		if (c <= 0x20 || c >= 0x7f || c == '#' || c == '\\')
			return *err = "the request path contains characters that need escaping", -EINVAL;
		if (c == '?' && *qpos == n)
			*qpos = i;
	}
	/* dot segments would let a path built from data walk out of a prefix */
	for (size_t i = 0; i < *qpos; i++) {
		if (path[i] != '/' || path[i + 1] != '.')
			continue;
		size_t j = i + 2;
		if (j < *qpos && path[j] == '.')
			j++;
		if (j == *qpos || path[j] == '/')
			return *err = "the request path must not contain '.' or '..' segments", -EINVAL;
	}
	return 0;
}

/* base + path: the full URL (heap), and when `t` is given the parsed target
 * and the request target ("/prefix/path?query", heap) for the native client. */
static char *build_url(const char *base, const char *path, struct dp_url *t, char **target, char *hostport,
                       size_t hplen, const char **err)
{
	struct dp_url u;
	size_t qpos;
	if (dp_url_parse(base, &u, err) < 0)
		return NULL;
	if (check_path(path, &qpos, err) < 0)
		return NULL;
	size_t bl = strlen(u.path);
	while (bl && u.path[bl - 1] == '/')
		bl--;
	const char *query = path[qpos] == '?' && path[qpos + 1] ? path + qpos : "";
	char origin[DP_URL_HOST_MAX + 32];
	dp_url_origin(&u, origin, sizeof(origin));
	char *url = xasprintf("%s%.*s%.*s%s", origin, (int)bl, u.path, (int)qpos, path, query);
	if (strlen(url) > DP_UPSTREAM_MAX_URL + MAX_PATH_LEN) {
		free(url);
		*err = "the url is too long";
		return NULL;
	}
	if (hostport) {
		char h[DP_URL_HOST_MAX + 3];
		dp_url_host_text(&u, h, sizeof(h));
		snprintf(hostport, hplen, "%s:%d", h, u.port);
	}
	if (t)
		*t = u;
	if (target)
		*target = xasprintf("%.*s%.*s%s", (int)bl, u.path, (int)qpos, path, query);
	return url;
}

char *dp_upstream_url(const char *base_url, const char *path, const char **err)
{
	const char *dummy;
	return build_url(base_url, path, NULL, NULL, NULL, 0, err ? err : &dummy);
}

/* -------------------------------------------------------- the request core */

static void finish(struct dp_upstream_req *r, enum tr_err e);
static void nat_begin(struct dp_upstream_req *r);
static void nat_pump(struct dp_upstream_req *r);
static void curl_begin(struct dp_upstream_req *r);
static void curl_unpause(struct dp_upstream_req *r);

static void arm_kick(struct dp_upstream *u)
{
	if (!u->kick_armed) {
		u->kick_armed = 1;
		event_active(u->kick, EV_TIMEOUT, 0);
	}
}

__attribute__((format(printf, 4, 5))) static void set_fail(struct dp_upstream_req *r, enum dp_upstream_outcome o,
                                                           const char *code, const char *fmt, ...)
{
	if (r->fail_set)
		return;
	r->fail_set = 1;
	r->fail_outcome = o;
	r->fail_code = code;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->msg, sizeof(r->msg), fmt, ap);
	va_end(ap);
}

/* End the request from the next kick with `e` (a recorded failure wins). */
static void fail_later(struct dp_upstream_req *r, enum tr_err e)
{
	if (r->done || r->abort_pending)
		return;
	r->abort_pending = 1;
	r->pending_err = e;
	arm_kick(r->u);
}

/* The idle clock restarts now. The timer is not re-armed on every body
 * piece (a timer-heap update per relayed token): it stays armed and, when it
 * fires, re-arms itself for the time left since the last activity. */
static void idle_arm(struct dp_upstream_req *r)
{
	if (!r->idle || r->paused || r->done)
		return;
	r->idle_from_us = now_us();
	if (evtimer_pending(r->idle, NULL))
		return;
	struct timeval tv = {.tv_sec = r->idle_timeout_ms / 1000, .tv_usec = (r->idle_timeout_ms % 1000) * 1000};
	evtimer_add(r->idle, &tv);
}

static void on_idle(evutil_socket_t fd, short what, void *arg)
{
	struct dp_upstream_req *r = arg;
	(void)fd;
	(void)what;
	if (r->paused || r->done)
		return;
	int64_t left = (int64_t)r->idle_timeout_ms * 1000 - (now_us() - r->idle_from_us);
	if (left > 0) {
		struct timeval tv = {.tv_sec = (time_t)(left / 1000000), .tv_usec = (suseconds_t)(left % 1000000)};
		evtimer_add(r->idle, &tv);
		return;
	}
	set_fail(r, DP_UPSTREAM_STALLED, "stalled", "%s sent nothing for %d ms", r->hostport, r->idle_timeout_ms);
	fail_later(r, TR_ABORTED);
}

/* sse_parse callback: hand the event over; stop when the caller paused or
 * aborted from inside it. */
static int deliver_event(const struct dp_sse_parse_event *ev, void *arg)
{
	struct dp_upstream_req *r = arg;
	if (r->on_event)
		r->on_event(r, ev, r->arg);
	return r->paused || r->abort_pending;
}

/* Feed stream bytes to the caller. Returns bytes consumed (< n when the
 * caller paused or aborted), or -1 after recording a failure. */
static ssize_t deliver(struct dp_upstream_req *r, const char *p, size_t n)
{
	if (r->mode == DP_UPSTREAM_RAW) {
		if (r->on_data)
			r->on_data(r, p, n, r->arg);
		return (ssize_t)n;
	}
	size_t used;
	int rc = dp_sse_parse_feed(&r->sse, p, n, &used);
	if (rc < 0) {
		set_fail(r, DP_UPSTREAM_BAD_RESPONSE, "event_too_large",
		         "an event from %s is larger than the %zu-byte limit", r->hostport, r->sse.max_event);
		return -1;
	}
	return (ssize_t)used;
}

static int starts_with_ci(const char *s, const char *prefix)
{
	return s && strncasecmp(s, prefix, strlen(prefix)) == 0;
}

static int req_status(const struct dp_upstream_req *r)
{
	if (!r->curl_path)
		return r->head_seen ? dp_http_resp_status(&r->parser) : 0;
	long status = 0;
	if (r->easy)
		r->u->curl->c->easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
	return (int)status;
}

static const char *req_content_type(const struct dp_upstream_req *r)
{
	const char *ct = NULL;
	if (!r->curl_path) {
		if (r->head_seen)
			ct = dp_http_resp_header(&r->parser, "Content-Type");
	} else if (r->easy) {
		char *c = NULL;
		r->u->curl->c->easy_getinfo(r->easy, CURLINFO_CONTENT_TYPE, &c);
		ct = c;
	}
	return ct ? ct : "";
}

/* First body byte: the head is complete; stream it or buffer it? */
static void decide(struct dp_upstream_req *r)
{
	int status = req_status(r);
	const char *ct = req_content_type(r);
	r->decided = 1;
	if (r->mode == DP_UPSTREAM_BUFFERED || status < 200 || status > 299)
		return;
	if (r->mode == DP_UPSTREAM_SSE)
		r->streaming = starts_with_ci(ct, "text/event-stream");
	if (r->mode == DP_UPSTREAM_SSE && r->sse_or_json && !r->streaming)
		r->resp.max = r->max_response ? r->max_response : DP_UPSTREAM_MAX_RESPONSE; /* still empty */
	else /* RAW: everything but a JSON document (LM Studio's 200-with-error) */
		r->streaming = !(starts_with_ci(ct, "application/json"));
}

/* Body bytes from either transport (not paused). 0, or -1 after recording
 * a failure: the transfer must end. */
static int take_body(struct dp_upstream_req *r, const char *p, size_t n)
{
	if (!r->decided)
		decide(r);
	if (!r->ttfb_us)
		r->ttfb_us = now_us();
	r->bytes += n;
	if (r->idle)
		idle_arm(r);
	if (!r->streaming) {
		if (dp_buf_add(&r->resp, p, n) < 0) {
			set_fail(r, DP_UPSTREAM_BAD_RESPONSE, "response_too_large",
			         "the response from %s is larger than the %zu-byte limit", r->hostport, r->resp.max);
			return -1;
		}
		return 0;
	}
	if (r->max_response && r->bytes > r->max_response) {
		set_fail(r, DP_UPSTREAM_BAD_RESPONSE, "response_too_large",
		         "the stream from %s passed the %zu-byte limit", r->hostport, r->max_response);
		return -1;
	}
	ssize_t used = deliver(r, p, n);
	if (used < 0)
		return -1;
	if (r->abort_pending)
		return 0;
	if ((size_t)used < n) {
		/* paused mid-chunk: keep the rest (at most one read); the
		 * transport stops reading until the resume */
		if (dp_buf_add(&r->held, p + used, n - (size_t)used) < 0) {
			set_fail(r, DP_UPSTREAM_BAD_RESPONSE, "internal", "could not hold a paused chunk");
			return -1;
		}
	}
	return 0;
}

/* Drain held bytes after a resume; finish a transfer that completed while
 * they were held; read again. Runs from the kick; may free `r`. */
static void do_resume(struct dp_upstream_req *r)
{
	r->resume_pending = 0;
	if (r->paused || r->done)
		return;
	if (r->held.len) {
		ssize_t used = deliver(r, r->held.data, r->held.len);
		if (used < 0 || r->abort_pending) {
			/* a failure recorded by deliver(), or an abort from
			 * inside the callback: finish from the next kick */
			dp_buf_reset(&r->held);
			fail_later(r, TR_ABORTED);
			arm_kick(r->u);
			return;
		}
		dp_buf_consume(&r->held, (size_t)used);
		if (r->held.len || r->paused)
			return;
	}
	if (r->completed) {
		finish(r, TR_OK);
		return;
	}
	idle_arm(r);
	if (r->curl_path)
		curl_unpause(r);
	else
		nat_pump(r); /* may free r */
}

static void on_kick(evutil_socket_t fd, short what, void *arg)
{
	struct dp_upstream *u = arg;
	(void)fd;
	(void)what;
	u->kick_armed = 0;
	struct dp_upstream_req *r = u->reqs, *next;
	for (; r; r = next) {
		next = r->next;
		if (r->done)
			continue;
		if (r->abort_pending) {
			finish(r, r->pending_err);
			continue;
		}
		if (!r->started) {
			r->started = 1;
			idle_arm(r);
			if (r->curl_path)
				curl_begin(r);
			else
				nat_begin(r);
			continue;
		}
		if (r->resume_pending)
			do_resume(r); /* may free r */
	}
}

static int link_local(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET) {
		uint32_t a = ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr);
		return (a >> 16) == 0xA9FE; /* 169.254.0.0/16 */
	}
	if (sa->sa_family == AF_INET6) {
		const unsigned char *b = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
		if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80)
			return 1; /* fe80::/10 */
		static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
		return memcmp(b, mapped, 12) == 0 && b[12] == 169 && b[13] == 254;
	}
	return 0;
}

/* --------------------------------------------------- native: the pool */

static void pool_key(const struct dp_upstream_req *r, char *key, size_t n)
{
	snprintf(key, n, "%s|%d", r->target.host, r->target.port);
}

static void conn_free(struct up_conn *c)
{
	bufferevent_free(c->bev);
	event_free(c->timer);
	free(c);
}

static void pool_unlink(struct up_conn *c)
{
	struct dp_upstream *u = c->u;
	for (struct up_conn **pp = &u->pool; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			u->pooled--;
			return;
		}
}

/* An idle connection spoke (the server closed it, or sent junk) or aged. */
static void pool_drop(struct up_conn *c)
{
	pool_unlink(c);
	conn_free(c);
}

static void pool_on_read(struct bufferevent *bev, void *arg)
{
	(void)bev;
	pool_drop(arg);
}

static void pool_on_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	(void)what;
	pool_drop(arg);
}

static void pool_on_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	pool_drop(arg);
}

/* Keep r's connection for the next request to the same host. */
static void pool_put(struct dp_upstream_req *r)
{
	struct dp_upstream *u = r->u;
	struct bufferevent *bev = r->bev;
	r->bev = NULL;
	char key[sizeof(((struct up_conn *)0)->key)];
	pool_key(r, key, sizeof(key));
	size_t same = 0;
	for (struct up_conn *c = u->pool; c; c = c->next)
		same += strcmp(c->key, key) == 0;
	if (u->freeing || u->pooled >= POOL_MAX || same >= POOL_MAX_PER_HOST ||
	    evbuffer_get_length(bufferevent_get_input(bev))) {
		bufferevent_free(bev);
		return;
	}
	struct up_conn *c = xcalloc(1, sizeof(*c));
	c->u = u;
	c->bev = bev;
	memcpy(c->key, key, sizeof(key));
	c->timer = evtimer_new(u->base, pool_on_timer, c);
	struct timeval tv = {.tv_sec = POOL_IDLE_MS / 1000, .tv_usec = (POOL_IDLE_MS % 1000) * 1000};
	evtimer_add(c->timer, &tv);
	bufferevent_setcb(bev, pool_on_read, NULL, pool_on_event, c);
	bufferevent_enable(bev, EV_READ);
	c->next = u->pool;
	u->pool = c;
	u->pooled++;
}

/* An idle connection to r's host, or NULL. The newest first: the least
 * likely to be closed by the server's keep-alive timer. */
static struct bufferevent *pool_take(struct dp_upstream_req *r)
{
	char key[sizeof(((struct up_conn *)0)->key)];
	pool_key(r, key, sizeof(key));
	for (struct up_conn *c = r->u->pool; c; c = c->next) {
		if (strcmp(c->key, key) != 0)
			continue;
		struct bufferevent *bev = c->bev;
		pool_unlink(c);
		event_free(c->timer);
		free(c);
		bufferevent_setcb(bev, NULL, NULL, NULL, NULL);
		bufferevent_disable(bev, EV_READ);
		return bev;
	}
	return NULL;
}

/* ------------------------------------------------ native: one exchange */

static void nat_connect_next(struct dp_upstream_req *r);
static void nat_open(struct dp_upstream_req *r);

static int nat_on_head(void *arg, int status)
{
	struct dp_upstream_req *r = arg;
	(void)status;
	r->head_seen = 1;
	return 0;
}

static int nat_on_body(void *arg, const char *p, size_t n)
{
	struct dp_upstream_req *r = arg;
	if (r->abort_pending || r->done || r->fail_set)
		return 1;
	if (take_body(r, p, n) < 0) {
		fail_later(r, TR_ABORTED);
		return 1;
	}
	return r->paused || r->abort_pending;
}

static const struct dp_http_resp_cb nat_cb = {.on_head = nat_on_head, .on_body = nat_on_body};

static void nat_close(struct dp_upstream_req *r)
{
	if (r->rev) {
		event_free(r->rev); /* before the socket closes */
		r->rev = NULL;
	}
	r->roff = r->rlen = 0;
	if (r->bev) {
		bufferevent_free(r->bev);
		r->bev = NULL;
	}
}

/* The message is complete. May free r. */
static void nat_complete(struct dp_upstream_req *r)
{
	if (r->t_total)
		evtimer_del(r->t_total);
	if (r->rev) {
		event_free(r->rev);
		r->rev = NULL;
	}
	if (dp_http_resp_keep_alive(&r->parser) && !r->rlen)
		pool_put(r);
	else
		nat_close(r);
	if (r->held.len && !r->abort_pending) {
		/* the caller paused with events still held: delivered on
		 * resume first, then on_done */
		r->completed = 1;
		return;
	}
	finish(r, TR_OK);
}

/* Parse what was read, as far as the caller takes it, then read on (or
 * not, while paused). May free r. */
static void nat_pump(struct dp_upstream_req *r)
{
	if (!r->rev)
		return;
	if (!r->done && !r->paused && !r->abort_pending) {
		/* with nothing read, a message that a pause left complete
		 * reports DONE now */
		size_t used = 0;
		int rc = dp_http_resp_feed(&r->parser, r->rlen ? r->rbuf + r->roff : "", r->rlen, &used);
		r->roff += used;
		r->rlen -= used;
		if (!r->rlen)
			r->roff = 0;
		if (rc == DP_HTTP_RESP_DONE) {
			nat_complete(r);
			return;
		}
		if (rc < 0) {
			snprintf(r->phrase, sizeof(r->phrase), "%s", dp_http_resp_strerror(rc));
			fail_later(r, TR_PROTOCOL);
			return;
		}
	}
	if (r->paused || r->done || r->abort_pending)
		event_del(r->rev);
	else if (!event_pending(r->rev, EV_READ, NULL))
		event_add(r->rev, NULL);
}

static int nat_retry(struct dp_upstream_req *r);

/* The daemon closed the connection (everything before it was parsed). */
static void nat_eof(struct dp_upstream_req *r)
{
	int rc = dp_http_resp_eof(&r->parser);
	if (rc == DP_HTTP_RESP_DONE) {
		nat_close(r);
		nat_complete(r);
		return;
	}
	if (nat_retry(r))
		return;
	fail_later(r, rc == DP_HTTP_RESP_E_EMPTY ? TR_NOTHING : TR_LOST);
}

/* One read per readable event, straight into our buffer: no FIONREAD, no
 * evbuffer (the relay's hot path). */
static void nat_on_readable(evutil_socket_t fd, short what, void *arg)
{
	struct dp_upstream_req *r = arg;
	(void)what;
	if (r->done || r->paused || r->abort_pending) {
		event_del(r->rev);
		return;
	}
	if (r->rlen && r->roff + r->rlen == RBUF_SIZE) {
		memmove(r->rbuf, r->rbuf + r->roff, r->rlen);
		r->roff = 0;
	}
	ssize_t k = recv(fd, r->rbuf + r->roff + r->rlen, RBUF_SIZE - r->roff - r->rlen, 0);
	if (k > 0) {
		r->rlen += (size_t)k;
		nat_pump(r);
		return;
	}
	if (k == 0) {
		event_del(r->rev);
		nat_eof(r);
		return;
	}
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return;
	r->oserr = errno;
	event_del(r->rev);
	if (nat_retry(r))
		return;
	fail_later(r, dp_http_resp_got_bytes(&r->parser) ? TR_LOST : TR_NOTHING);
}

/* Nothing came back on a reused connection: the server closed it while it
 * was idle. Send again on a fresh one (once). */
static int nat_retry(struct dp_upstream_req *r)
{
	if (!r->reused || r->retried || dp_http_resp_got_bytes(&r->parser))
		return 0;
	r->retried = 1;
	r->reused = r->connected = 0;
	nat_close(r);
	dp_http_resp_reset(&r->parser, strcmp(r->method, "HEAD") == 0);
	nat_open(r);
	return 1;
}

static void nat_send(struct dp_upstream_req *r)
{
	evbuffer_add(bufferevent_get_output(r->bev), r->reqmsg, r->reqlen);
	bufferevent_disable(r->bev, EV_READ);
	bufferevent_enable(r->bev, EV_WRITE);
	if (!r->rbuf)
		r->rbuf = xmalloc(RBUF_SIZE);
	r->roff = r->rlen = 0;
	r->rev = event_new(r->u->base, bufferevent_getfd(r->bev), EV_READ | EV_PERSIST, nat_on_readable, r);
	event_add(r->rev, NULL);
}

static void nat_on_event(struct bufferevent *bev, short what, void *arg)
{
	struct dp_upstream_req *r = arg;
	if (what & BEV_EVENT_CONNECTED) {
		r->connected = 1;
		r->connect_us = now_us() - r->t0_us;
		if (r->t_connect)
			evtimer_del(r->t_connect);
		evutil_socket_t fd = bufferevent_getfd(bev);
		int one = 1, idle = 30, intvl = 10;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
		setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
		setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
		nat_send(r);
		return;
	}
	int err = EVUTIL_SOCKET_ERROR();
	if (!r->connected) {
		r->oserr = err;
		nat_close(r);
		if (r->ai_cur && r->ai_cur->ai_next) {
			r->ai_cur = r->ai_cur->ai_next;
			nat_connect_next(r);
			return;
		}
		fail_later(r, TR_CONNECT);
		return;
	}
	if ((what & BEV_EVENT_EOF) && !r->paused) {
		nat_eof(r);
		return;
	}
	r->oserr = err;
	if (nat_retry(r))
		return;
	fail_later(r, dp_http_resp_got_bytes(&r->parser) ? TR_LOST : TR_NOTHING);
}

/* The total timeout, and the connect timeout (name lookup and TCP handshake;
 * classify_transport tells them apart by whether a connection was made). */
static void nat_on_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct dp_upstream_req *r = arg;
	(void)fd;
	(void)what;
	fail_later(r, TR_TIMEOUT);
}

/* Connect to the current address (a literal, or r->ai_cur). */
static void nat_connect_next(struct dp_upstream_req *r)
{
	const struct sockaddr *sa = r->ai_cur ? r->ai_cur->ai_addr : (const struct sockaddr *)&r->sa;
	socklen_t len = r->ai_cur ? (socklen_t)r->ai_cur->ai_addrlen : r->sa_len;
	if (r->no_link_local && link_local(sa)) {
		set_fail(r, DP_UPSTREAM_BAD_RESPONSE, "blocked_address",
		         "%s resolves to a link-local address (like a cloud metadata service); refused", r->hostport);
		fail_later(r, TR_ABORTED);
		return;
	}
	r->bev = bufferevent_socket_new(r->u->base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (!r->bev) {
		snprintf(r->phrase, sizeof(r->phrase), "could not create a socket");
		fail_later(r, TR_OTHER);
		return;
	}
	bufferevent_setcb(r->bev, NULL, NULL, nat_on_event, r);
	if (bufferevent_socket_connect(r->bev, sa, (int)len) < 0) {
		/* no socket for this family (IPv6 off), or an immediate error:
		 * the next address, if any (the event callback may have run) */
		if (!r->abort_pending && !r->done && r->bev) {
			r->oserr = errno;
			nat_close(r);
			if (r->ai_cur && r->ai_cur->ai_next) {
				r->ai_cur = r->ai_cur->ai_next;
				nat_connect_next(r);
				return;
			}
			fail_later(r, TR_CONNECT);
		}
	}
}

/* A name lookup on a resolver thread. The request may be freed while it
 * runs: then job->r is NULL and the completion only frees. */
struct dns_job {
	struct dp_upstream_req *r;
	char host[DP_URL_HOST_MAX + 1];
	char port[8];
	struct addrinfo *res;
	int rc;
};

static void dns_work(void *arg)
{
	struct dns_job *j = arg;
	struct addrinfo hints;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	hints.ai_flags = AI_ADDRCONFIG;
	j->rc = getaddrinfo(j->host, j->port, &hints, &j->res);
}

static void dns_done(void *arg, int status)
{
	struct dns_job *j = arg;
	struct dp_upstream_req *r = j->r;
	struct addrinfo *res = status == 0 && j->rc == 0 ? j->res : NULL;
	if (!res && j->res)
		freeaddrinfo(j->res);
	free(j);
	if (!r) {
		if (res)
			freeaddrinfo(res);
		return;
	}
	r->dns_job = NULL;
	if (!res) {
		fail_later(r, TR_RESOLVE);
		return;
	}
	r->ai = r->ai_cur = res;
	nat_connect_next(r);
}

/* From the kick: a pooled connection, or resolve and connect. */
static void nat_begin(struct dp_upstream_req *r)
{
	struct dp_upstream *u = r->u;
	dp_http_resp_init(&r->parser, strcmp(r->method, "HEAD") == 0, &nat_cb, r);
	r->parser_live = 1;
	if (r->timeout_ms > 0) {
		r->t_total = evtimer_new(u->base, nat_on_timeout, r);
		struct timeval tv = {.tv_sec = r->timeout_ms / 1000, .tv_usec = (r->timeout_ms % 1000) * 1000};
		evtimer_add(r->t_total, &tv);
	}
	if ((r->bev = pool_take(r))) {
		r->reused = r->connected = 1;
		bufferevent_setcb(r->bev, NULL, NULL, nat_on_event, r);
		nat_send(r);
		return;
	}
	nat_open(r);
}

/* A new connection: the address is a literal or resolved first. */
static void nat_open(struct dp_upstream_req *r)
{
	struct dp_upstream *u = r->u;
	if (r->ai)
		freeaddrinfo(r->ai);
	r->ai = r->ai_cur = NULL;
	if (!r->t_connect)
		r->t_connect = evtimer_new(u->base, nat_on_timeout, r); /* deleted once connected */
	struct timeval ct = {.tv_sec = r->connect_timeout_ms / 1000, .tv_usec = (r->connect_timeout_ms % 1000) * 1000};
	evtimer_add(r->t_connect, &ct);

	struct sockaddr_in *s4 = (struct sockaddr_in *)&r->sa;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&r->sa;
	if (!r->target.ipv6 && inet_pton(AF_INET, r->target.host, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)r->target.port);
		r->sa_len = sizeof(*s4);
		nat_connect_next(r);
		return;
	}
	if (r->target.ipv6 && inet_pton(AF_INET6, r->target.host, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)r->target.port);
		r->sa_len = sizeof(*s6);
		nat_connect_next(r);
		return;
	}
	if (!u->resolver) /* getaddrinfo blocks: never on the loop */
		u->resolver = dp_workq_new(u->base, 2, 256);
	struct dns_job *j = xcalloc(1, sizeof(*j));
	j->r = r;
	snprintf(j->host, sizeof(j->host), "%s", r->target.host);
	snprintf(j->port, sizeof(j->port), "%d", r->target.port);
	if (!u->resolver || dp_workq_submit(u->resolver, dns_work, dns_done, j) < 0) {
		free(j);
		snprintf(r->phrase, sizeof(r->phrase), "too many name lookups at once");
		fail_later(r, TR_RESOLVE);
		return;
	}
	r->dns_job = j;
}

/* The request bytes, once; kept for a retry. */
static void nat_build(struct dp_upstream_req *r, const char *target, const struct dp_upstream_opts *o)
{
	struct dp_buf b;
	dp_buf_init(&b, (size_t)1 << 30); /* the body is bounded by the caller */
	char host[DP_URL_HOST_MAX + 16];
	dp_url_host_header(&r->target, host, sizeof(host));
	dp_buf_addf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: DaemonPulse/%s\r\n", r->method, target, host,
	            dp_version);
	if (o->accept)
		dp_buf_addf(&b, "Accept: %s\r\n", o->accept);
	else
		dp_buf_addf(&b, "Accept: %s\r\n",
		            o->mode == DP_UPSTREAM_SSE ? "text/event-stream" : "application/json");
	if (r->body)
		dp_buf_addf(&b, "Content-Type: application/json\r\n");
	if (r->body || strcmp(r->method, "POST") == 0 || strcmp(r->method, "PUT") == 0 ||
	    strcmp(r->method, "PATCH") == 0)
		dp_buf_addf(&b, "Content-Length: %zu\r\n", r->body_len);
	if (r->token)
		dp_buf_addf(&b, "Authorization: Bearer %s\r\n", r->token);
	for (size_t i = 0; o->headers && o->headers[i]; i++)
		dp_buf_addf(&b, "%s\r\n", o->headers[i]);
	dp_buf_add(&b, "\r\n", 2);
	if (r->body_len)
		dp_buf_add(&b, r->body, r->body_len);
	r->reqmsg = dp_buf_detach(&b, &r->reqlen);
}

static void nat_release(struct dp_upstream_req *r)
{
	if (r->dns_job) {
		r->dns_job->r = NULL; /* its completion frees it */
		r->dns_job = NULL;
	}
	if (r->ai)
		freeaddrinfo(r->ai);
	r->ai = r->ai_cur = NULL;
	nat_close(r);
	if (r->t_connect)
		event_free(r->t_connect);
	if (r->t_total)
		event_free(r->t_total);
	r->t_connect = r->t_total = NULL;
	if (r->parser_live)
		dp_http_resp_release(&r->parser);
	r->parser_live = 0;
	free(r->rbuf);
	r->rbuf = NULL;
	if (r->reqmsg) {
		explicit_bzero(r->reqmsg, r->reqlen);
		free(r->reqmsg);
		r->reqmsg = NULL;
	}
}

/* ------------------------------------------------- libcurl (https://) */

static void curl_check_done(struct dp_upstream *u);

static void on_sock_event(evutil_socket_t fd, short what, void *arg)
{
	struct dp_upstream *u = arg;
	struct up_curl *cu = u->curl;
	int action = ((what & EV_READ) ? CURL_CSELECT_IN : 0) | ((what & EV_WRITE) ? CURL_CSELECT_OUT : 0);
	int running;
	cu->in_curl++;
	cu->c->multi_socket_action(cu->multi, fd, action, &running);
	cu->in_curl--;
	curl_check_done(u);
}

static void on_curl_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct dp_upstream *u = arg;
	struct up_curl *cu = u->curl;
	int running;
	(void)fd;
	(void)what;
	cu->in_curl++;
	cu->c->multi_socket_action(cu->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	cu->in_curl--;
	curl_check_done(u);
}

/* CURLMOPT_SOCKETFUNCTION: watch `s` for what curl asks. */
static int on_socket(CURL *e, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct dp_upstream *u = userp;
	struct up_curl *cu = u->curl;
	struct sockinfo *si = socketp;
	(void)e;
	if (what == CURL_POLL_REMOVE) {
		if (si) {
			event_free(si->ev);
			if (si->prev)
				si->prev->next = si->next;
			else
				cu->socks = si->next;
			if (si->next)
				si->next->prev = si->prev;
			free(si);
			cu->c->multi_assign(cu->multi, s, NULL);
		}
		return 0;
	}
	short kind = EV_PERSIST | ((what & CURL_POLL_IN) ? EV_READ : 0) | ((what & CURL_POLL_OUT) ? EV_WRITE : 0);
	if (!si) {
		si = xcalloc(1, sizeof(*si));
		si->fd = s;
		si->next = cu->socks;
		if (cu->socks)
			cu->socks->prev = si;
		cu->socks = si;
		cu->c->multi_assign(cu->multi, s, si);
	} else {
		event_free(si->ev);
	}
	si->ev = event_new(u->base, s, kind, on_sock_event, u);
	event_add(si->ev, NULL);
	return 0;
}

/* CURLMOPT_TIMERFUNCTION: -1 disarms; 0 means "as soon as possible", which
 * a zero timeout gives on the next loop iteration (curl forbids calling
 * socket_action from here). */
static int on_timer(CURLM *m, long timeout_ms, void *userp)
{
	struct dp_upstream *u = userp;
	(void)m;
	if (timeout_ms < 0) {
		evtimer_del(u->curl->timer);
	} else {
		struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
		evtimer_add(u->curl->timer, &tv);
	}
	return 0;
}

/* libcurl and a multi handle, the first time they are needed. */
static struct up_curl *curl_side(struct dp_upstream *u, const char **err)
{
	if (u->curl)
		return u->curl;
	const struct dp_curl *c = dp_curl_load(err);
	if (!c)
		return NULL;
	struct up_curl *cu = xcalloc(1, sizeof(*cu));
	cu->c = c;
	cu->multi = c->multi_init();
	if (!cu->multi) {
		dp_error("out of memory");
		abort();
	}
	cu->timer = evtimer_new(u->base, on_curl_timeout, u);
	c->multi_setopt(cu->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
	c->multi_setopt(cu->multi, CURLMOPT_SOCKETDATA, u);
	c->multi_setopt(cu->multi, CURLMOPT_TIMERFUNCTION, on_timer);
	c->multi_setopt(cu->multi, CURLMOPT_TIMERDATA, u);
	u->curl = cu;
	return cu;
}

static size_t on_write(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct dp_upstream_req *r = arg;
	size_t n = size * nmemb;
	if (r->abort_pending || r->done || r->fail_set)
		return 0; /* curl ends the transfer with CURLE_WRITE_ERROR */
	if (!r->decided)
		decide(r);
	if (r->streaming && (r->paused || r->held.len)) {
		/* nothing of this chunk is consumed: curl keeps it and stops
		 * reading the socket until curl_easy_pause(CONT); held bytes
		 * (a resume not yet run) go first to keep the order */
		r->curl_paused = 1;
		return CURL_WRITEFUNC_PAUSE;
	}
	if (take_body(r, ptr, n) < 0 || r->abort_pending)
		return 0;
	return n;
}

static void curl_unpause(struct dp_upstream_req *r)
{
	if (r->curl_paused) {
		struct up_curl *cu = r->u->curl;
		r->curl_paused = 0;
		cu->in_curl++;
		cu->c->easy_pause(r->easy, CURLPAUSE_CONT);
		cu->in_curl--;
		curl_check_done(r->u);
	}
}

static enum tr_err curl_err(struct dp_upstream_req *r, CURLcode res)
{
	const struct dp_curl *c = r->u->curl->c;
	long oserr = 0;
	c->easy_getinfo(r->easy, CURLINFO_OS_ERRNO, &oserr);
	r->oserr = (int)oserr;
	snprintf(r->phrase, sizeof(r->phrase), "%s", r->errbuf[0] ? r->errbuf : c->easy_strerror(res));
	switch (res) {
	case CURLE_OK:
		return TR_OK;
	case CURLE_COULDNT_RESOLVE_HOST:
		return TR_RESOLVE;
	case CURLE_COULDNT_CONNECT:
		return TR_CONNECT;
	case CURLE_OPERATION_TIMEDOUT:
		return TR_TIMEOUT;
	case CURLE_GOT_NOTHING:
		return TR_NOTHING;
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_PARTIAL_FILE:
		return TR_LOST;
	case CURLE_FILESIZE_EXCEEDED:
		return TR_TOO_LARGE;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
		return TR_TLS;
	default:
		return TR_OTHER;
	}
}

/* Collect finished transfers. */
static void curl_check_done(struct dp_upstream *u)
{
	struct up_curl *cu = u->curl;
	CURLMsg *m;
	int left;
	while (cu && (m = cu->c->multi_info_read(cu->multi, &left))) {
		if (m->msg != CURLMSG_DONE)
			continue;
		CURL *e = m->easy_handle;
		CURLcode res = m->data.result;
		char *priv = NULL;
		cu->c->easy_getinfo(e, CURLINFO_PRIVATE, &priv);
		struct dp_upstream_req *r = (struct dp_upstream_req *)priv;
		if (!r || r->done)
			continue;
		if (res == CURLE_OK && r->held.len && !r->abort_pending) {
			/* the caller paused with events still held: the transfer
			 * is over, but they are delivered on resume first */
			cu->c->multi_remove_handle(cu->multi, e);
			r->added = 0;
			r->completed = 1;
			continue;
		}
		finish(r, curl_err(r, res));
	}
}

/* CURLOPT_OPENSOCKETFUNCTION for no_link_local: the address is known here,
 * after resolution, so a name pointing at a metadata service is caught. */
static curl_socket_t open_socket(void *clientp, curlsocktype purpose, struct curl_sockaddr *a)
{
	struct dp_upstream_req *r = clientp;
	(void)purpose;
	if (link_local(&a->addr)) {
		set_fail(r, DP_UPSTREAM_BAD_RESPONSE, "blocked_address",
		         "%s resolves to a link-local address (like a cloud metadata service); refused", r->hostport);
		return CURL_SOCKET_BAD;
	}
	return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

/* An easy handle for r (from dp_upstream_start). */
static void curl_setup(struct dp_upstream_req *r, const struct dp_upstream_opts *o)
{
	const struct dp_curl *c = r->u->curl->c;
	CURL *e = r->easy = c->easy_init();
	if (!e) {
		dp_error("out of memory");
		abort();
	}
	c->easy_setopt(e, CURLOPT_URL, r->url);
	c->easy_setopt(e, CURLOPT_PRIVATE, r);
	c->easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
	c->easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
	c->easy_setopt(e, CURLOPT_WRITEDATA, r);
	c->easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	c->easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	c->easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	c->easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	c->easy_setopt(e, CURLOPT_PROXY, ""); /* ignore *_proxy environment variables */
	c->easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	char ua[96];
	snprintf(ua, sizeof(ua), "DaemonPulse/%s", dp_version);
	c->easy_setopt(e, CURLOPT_USERAGENT, ua); /* curl copies it */
	c->easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	c->easy_setopt(e, CURLOPT_TCP_KEEPIDLE, 30L);
	c->easy_setopt(e, CURLOPT_TCP_KEEPINTVL, 10L);
	c->easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)r->connect_timeout_ms);
	if (r->no_link_local) {
		c->easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, open_socket);
		c->easy_setopt(e, CURLOPT_OPENSOCKETDATA, r);
	}
	c->easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)r->timeout_ms);
	if (o->mode == DP_UPSTREAM_BUFFERED)
		c->easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)r->max_response);

	struct curl_slist *h = NULL;
	char *a = xasprintf("Accept: %s", o->accept                    ? o->accept
	                                  : o->mode == DP_UPSTREAM_SSE ? "text/event-stream"
	                                                               : "application/json");
	h = c->slist_append(h, a);
	free(a);
	h = c->slist_append(h, "Expect:"); /* no 100-continue round trip */
	if (r->body)
		h = c->slist_append(h, "Content-Type: application/json");
	if (r->token) {
		a = xasprintf("Authorization: Bearer %s", r->token);
		h = c->slist_append(h, a);
		explicit_bzero(a, strlen(a));
		free(a);
	}
	for (size_t i = 0; o->headers && o->headers[i]; i++)
		h = c->slist_append(h, o->headers[i]);
	if (!h) {
		dp_error("out of memory");
		abort();
	}
	r->headers = h;
	c->easy_setopt(e, CURLOPT_HTTPHEADER, h);

	if (strcmp(r->method, "GET") != 0 && strcmp(r->method, "POST") != 0)
		c->easy_setopt(e, CURLOPT_CUSTOMREQUEST, r->method);
	if (r->body) {
		c->easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
		c->easy_setopt(e, CURLOPT_POSTFIELDS, r->body);
	} else if (strcmp(r->method, "POST") == 0) {
		c->easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
		c->easy_setopt(e, CURLOPT_POSTFIELDS, "");
	}
}

/* From the kick: into the multi handle. */
static void curl_begin(struct dp_upstream_req *r)
{
	struct up_curl *cu = r->u->curl;
	CURLMcode mc = cu->c->multi_add_handle(cu->multi, r->easy);
	if (mc != CURLM_OK) {
		set_fail(r, DP_UPSTREAM_BAD_RESPONSE, "internal", "could not start the request: %s",
		         cu->c->multi_strerror(mc));
		fail_later(r, TR_ABORTED);
		return;
	}
	r->added = 1;
}

static void curl_release(struct dp_upstream_req *r)
{
	struct up_curl *cu = r->u->curl;
	if (r->added) {
		cu->in_curl++;
		cu->c->multi_remove_handle(cu->multi, r->easy);
		cu->in_curl--;
		r->added = 0;
	}
	if (r->easy)
		cu->c->easy_cleanup(r->easy);
	r->easy = NULL;
	for (struct curl_slist *h = r->headers; h; h = h->next) {
		/* the Authorization header holds the token: wipe it */
		volatile char *p = (volatile char *)h->data;
		while (*p)
			*p++ = 0;
	}
	if (r->headers)
		cu->c->slist_free_all(r->headers);
	r->headers = NULL;
}

/* ------------------------------------------------------- classification */

/* Copy an untrusted message for ours: bounded, control characters blanked. */
static void clean_copy(char *dst, size_t dstlen, const char *src)
{
	size_t i = 0;
	for (; src && src[i] && i + 1 < dstlen && i < MAX_LMS_MESSAGE; i++) {
		unsigned char c = (unsigned char)src[i];
		dst[i] = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
	}
	dst[i] = '\0';
}

/* A transport detail ("Failed to connect ...") as a lower-case phrase. */
static void tr_phrase(char *dst, size_t dstlen, const struct dp_upstream_req *r)
{
	clean_copy(dst, dstlen, r->phrase[0] ? r->phrase : "unknown error");
	if (dst[0])
		dst[0] = (char)tolower((unsigned char)dst[0]);
}

/* Blank every occurrence of `secret` (same length, so no reallocation). */
static void redact_one(char *s, const char *secret, size_t n)
{
	if (n < 6)
		return; /* too short to tell from ordinary text */
	for (char *p = s; (p = memmem(p, strlen(p), secret, n)) != NULL; p += n)
		memset(p, '*', n);
}

/* LM Studio may quote a malformed token back ("Malformed LM Studio API
 * token provided: ..."): our messages go to logs and browsers, so the token
 * and its passkey part are masked. */
static void redact_token(const struct dp_upstream_req *r, char *s)
{
	if (!r->token)
		return;
	redact_one(s, r->token, strlen(r->token));
	const char *colon = strchr(r->token, ':');
	if (colon)
		redact_one(s, colon + 1, strlen(colon + 1));
}

struct lms_error {
	const char *message, *type, *code;
	int present;
};

/* LM Studio's error envelopes: {"error":"text"} (unknown routes) and
 * {"error":{"type","message","code"?,"param"?}} (v1, OpenAI-compatible). */
static void find_lms_error(json_t *j, struct lms_error *le)
{
	memset(le, 0, sizeof(*le));
	json_t *e = json_is_object(j) ? json_object_get(j, "error") : NULL;
	if (json_is_string(e)) {
		le->present = 1;
		le->message = json_string_value(e);
	} else if (json_is_object(e)) {
		le->present = 1;
		le->message = json_string_value(json_object_get(e, "message"));
		le->type = json_string_value(json_object_get(e, "type"));
		le->code = json_string_value(json_object_get(e, "code"));
	}
}

static int looks_like_json(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n')
			continue;
		return s[i] == '{' || s[i] == '[';
	}
	return 0;
}

static void classify_transport(struct dp_upstream_req *r, enum tr_err res, struct dp_upstream_result *out,
                               int64_t connect_us)
{
	char phrase[300];
	const char *hp = r->hostport;
	int oserr = r->oserr;
	switch (res) {
	case TR_RESOLVE:
		out->outcome = DP_UPSTREAM_STOPPED;
		out->code = "unresolvable";
		snprintf(r->msg, sizeof(r->msg), "could not resolve the host of %s", hp);
		break;
	case TR_CONNECT:
		out->outcome = DP_UPSTREAM_STOPPED;
		out->code = "stopped";
		if ((oserr == ECONNREFUSED || oserr == 0) && r->plain_http)
			snprintf(r->msg, sizeof(r->msg), "connection refused by %s: nothing is listening there", hp);
		else if (oserr == ECONNREFUSED || oserr == 0)
			snprintf(r->msg, sizeof(r->msg),
			         "connection refused by %s: nothing is listening there (is the LM Studio server "
			         "running?)",
			         hp);
		else
			snprintf(r->msg, sizeof(r->msg), "could not connect to %s: %s", hp, strerror(oserr));
		break;
	case TR_TIMEOUT:
		out->outcome = DP_UPSTREAM_STALLED;
		out->code = "stalled";
		if (!connect_us && !out->status)
			snprintf(r->msg, sizeof(r->msg), "no connection to %s within %d ms", hp, r->connect_timeout_ms);
		else if (r->streaming)
			snprintf(r->msg, sizeof(r->msg), "the stream from %s passed the %d ms time limit", hp,
			         r->timeout_ms);
		else
			snprintf(r->msg, sizeof(r->msg), "no complete answer from %s within %d ms", hp, r->timeout_ms);
		break;
	case TR_NOTHING:
		/* accepted and closed without a byte: typically a forwarder
		 * (ssh tunnel, container proxy) whose daemon is down */
		out->outcome = DP_UPSTREAM_STOPPED;
		out->code = "stopped";
		snprintf(r->msg, sizeof(r->msg), "%s closed the connection without answering", hp);
		break;
	case TR_LOST:
		out->outcome = DP_UPSTREAM_STOPPED;
		out->code = "connection_lost";
		snprintf(r->msg, sizeof(r->msg), "the connection to %s was lost %s", hp,
		         out->status ? "in the middle of the response" : "before an answer");
		break;
	case TR_TOO_LARGE:
		out->outcome = DP_UPSTREAM_BAD_RESPONSE;
		out->code = "response_too_large";
		snprintf(r->msg, sizeof(r->msg), "the response from %s is larger than the %zu-byte limit", hp,
		         r->resp.max);
		break;
	case TR_TLS:
		out->outcome = DP_UPSTREAM_BAD_RESPONSE;
		out->code = "tls_error";
		tr_phrase(phrase, sizeof(phrase), r);
		snprintf(r->msg, sizeof(r->msg), "tls with %s failed: %s", hp, phrase);
		break;
	default:
		out->outcome = DP_UPSTREAM_BAD_RESPONSE;
		out->code = "bad_response";
		tr_phrase(phrase, sizeof(phrase), r);
		snprintf(r->msg, sizeof(r->msg), "unusable answer from %s: %s", hp, phrase);
		break;
	}
}

static void classify_http(struct dp_upstream_req *r, struct dp_upstream_result *out, json_t **json,
                          struct lms_error *le)
{
	char lmsg[MAX_LMS_MESSAGE + 1];
	const char *hp = r->hostport;
	int st = out->status;

	if (r->resp.len && (starts_with_ci(out->content_type, "application/json") ||
	                    strstr(out->content_type, "+json") || looks_like_json(r->resp.data, r->resp.len))) {
		json_error_t je;
		*json = json_loadb(r->resp.data, r->resp.len, JSON_DECODE_ANY, &je);
		if (*json && !r->plain_http)
			find_lms_error(*json, le);
	}
	clean_copy(lmsg, sizeof(lmsg), le->message);
	redact_token(r, lmsg);
	out->lms_type = le->type;
	out->lms_code = le->code;

	if (st == 401 || (le->code && strcmp(le->code, "invalid_api_key") == 0)) {
		out->outcome = DP_UPSTREAM_UNAUTHORIZED;
		out->code = "unauthorized";
		if (r->plain_http)
			snprintf(r->msg, sizeof(r->msg), "%s answered http 401 (unauthorized)", hp);
		else if (!r->token_sent)
			snprintf(r->msg, sizeof(r->msg), "%s requires an api token and none is set for this target%s%s",
			         hp, lmsg[0] ? ": " : "", lmsg);
		else
			snprintf(r->msg, sizeof(r->msg), "%s rejected the api token%s%s", hp, lmsg[0] ? ": " : "",
			         lmsg);
		return;
	}
	if (st < 200 || st > 299) {
		out->outcome = DP_UPSTREAM_HTTP_ERROR;
		out->code = "http_error";
		if (st >= 300 && st <= 399)
			snprintf(
			        r->msg, sizeof(r->msg),
			        "%s answered with a redirect (http %d); redirects are not followed, fix the target url",
			        hp, st);
		else if (lmsg[0])
			snprintf(r->msg, sizeof(r->msg), "%s answered http %d: %s", hp, st, lmsg);
		else
			snprintf(r->msg, sizeof(r->msg), "%s answered http %d", hp, st);
		return;
	}
	if (le->present) {
		/* LM Studio answers unknown routes, and some failures, with
		 * HTTP 200 and an "error" member: a real error. */
		out->outcome = DP_UPSTREAM_HTTP_ERROR;
		if (le->message && strncmp(le->message, "Unexpected endpoint or method", 29) == 0) {
			out->code = "unexpected_endpoint";
			snprintf(r->msg, sizeof(r->msg),
			         "%s does not serve this endpoint (it said \"%s\"); an older LM Studio version or not "
			         "LM Studio",
			         hp, lmsg);
		} else {
			out->code = "daemon_error";
			snprintf(r->msg, sizeof(r->msg), "%s reported an error: %s", hp,
			         lmsg[0] ? lmsg : "(no message)");
		}
		return;
	}
	if (r->mode == DP_UPSTREAM_SSE && r->sse_or_json && !r->streaming &&
	    starts_with_ci(out->content_type, "application/json")) {
		if (!*json) {
			out->outcome = DP_UPSTREAM_BAD_RESPONSE;
			out->code = "not_json";
			snprintf(r->msg, sizeof(r->msg), "%s answered with invalid json", hp);
			return;
		}
		out->outcome = DP_UPSTREAM_OK;
		out->code = "ok";
		r->msg[0] = '\0';
		return;
	}
	if (r->mode != DP_UPSTREAM_BUFFERED && !r->streaming) {
		out->outcome = DP_UPSTREAM_BAD_RESPONSE;
		out->code = "not_event_stream";
		snprintf(r->msg, sizeof(r->msg), "%s answered with %s instead of a stream", hp,
		         out->content_type[0] ? out->content_type : "no content type");
		return;
	}
	if (r->mode == DP_UPSTREAM_SSE && r->streaming) {
		int fin = dp_sse_parse_finish(&r->sse);
		if (fin < 0) {
			out->outcome = DP_UPSTREAM_BAD_RESPONSE;
			out->code = "stream_truncated";
			snprintf(r->msg, sizeof(r->msg), "the event stream from %s ended in the middle of an event",
			         hp);
			return;
		}
	}
	if (r->mode == DP_UPSTREAM_BUFFERED && !r->allow_non_json) {
		if (!r->resp.len && st != 204) {
			out->outcome = DP_UPSTREAM_BAD_RESPONSE;
			out->code = "empty_response";
			snprintf(r->msg, sizeof(r->msg), "%s answered with an empty body", hp);
			return;
		}
		if (r->resp.len && !*json) {
			out->outcome = DP_UPSTREAM_BAD_RESPONSE;
			out->code = "not_json";
			snprintf(r->msg, sizeof(r->msg), "%s answered with something that is not json (%s)", hp,
			         out->content_type[0] ? out->content_type : "no content type");
			return;
		}
	}
	out->outcome = DP_UPSTREAM_OK;
	out->code = "ok";
	r->msg[0] = '\0';
}

static void req_free(struct dp_upstream_req *r)
{
	struct dp_upstream *u = r->u;
	if (r->prev)
		r->prev->next = r->next;
	else
		u->reqs = r->next;
	if (r->next)
		r->next->prev = r->prev;
	u->active--;
	if (r->curl_path && u->curl)
		curl_release(r);
	nat_release(r);
	if (r->idle)
		event_free(r->idle);
	dp_buf_release(&r->resp);
	dp_buf_release(&r->held);
	dp_sse_parse_release(&r->sse);
	if (r->token) {
		explicit_bzero(r->token, strlen(r->token));
		free(r->token);
	}
	free(r->url);
	free(r->body);
	free(r);
}

static void finish(struct dp_upstream_req *r, enum tr_err e)
{
	if (r->done)
		return;
	r->done = 1;
	if (r->idle)
		evtimer_del(r->idle);
	if (r->t_total)
		evtimer_del(r->t_total);
	if (r->t_connect)
		evtimer_del(r->t_connect);
	if (r->curl_path && r->added) {
		struct up_curl *cu = r->u->curl;
		cu->in_curl++;
		cu->c->multi_remove_handle(cu->multi, r->easy);
		cu->in_curl--;
		r->added = 0;
	}
	if (!r->curl_path && e != TR_OK)
		nat_close(r); /* never pooled after a failure */
	if (r->mode != DP_UPSTREAM_BUFFERED && !r->decided && !r->fail_set && e == TR_OK)
		decide(r); /* an empty stream body */

	struct dp_upstream_result out;
	memset(&out, 0, sizeof(out));
	int64_t connect_us = r->connect_us;
	if (r->curl_path && r->easy) {
		curl_off_t cus = 0;
		r->u->curl->c->easy_getinfo(r->easy, CURLINFO_CONNECT_TIME_T, &cus);
		connect_us = cus;
	}
	out.status = req_status(r);
	out.content_type = req_content_type(r);
	out.body = r->resp.data;
	out.body_len = r->resp.len;
	out.token_sent = r->token_sent;
	out.streamed = r->streaming && r->bytes > 0;
	out.events = r->sse.events;
	out.bytes = r->bytes;
	out.connect_ms = r->reused ? 0 : (double)connect_us / 1000.0;
	out.ttfb_ms = r->ttfb_us ? (double)(r->ttfb_us - r->t0_us) / 1000.0 : -1;
	out.total_ms = (double)(now_us() - r->t0_us) / 1000.0;

	json_t *json = NULL;
	struct lms_error le;
	memset(&le, 0, sizeof(le));
	if (r->fail_set) {
		out.outcome = r->fail_outcome;
		out.code = r->fail_code;
	} else if (e != TR_OK) {
		classify_transport(r, e == TR_ABORTED ? TR_OTHER : e, &out, connect_us);
	} else {
		classify_http(r, &out, &json, &le);
	}
	out.json = json;
	out.message = r->msg;
	if (out.outcome != DP_UPSTREAM_OK && out.outcome != DP_UPSTREAM_CANCELLED)
		dp_debug("upstream %s: %s (%s)", r->url, out.code, r->msg);
	r->on_done(r, &out, r->arg);
	json_decref(json);
	req_free(r);
}

/* ------------------------------------------------------------ public API */

struct dp_upstream *dp_upstream_new(struct event_base *base)
{
	struct dp_upstream *u = xcalloc(1, sizeof(*u));
	u->base = base;
	u->kick = event_new(base, -1, 0, on_kick, u);
	return u;
}

void dp_upstream_set_curl_only(struct dp_upstream *u, int on)
{
	u->curl_only = on;
}

void dp_upstream_free(struct dp_upstream *u)
{
	if (!u)
		return;
	u->freeing = 1;
	while (u->reqs) {
		struct dp_upstream_req *r = u->reqs;
		set_fail(r, DP_UPSTREAM_CANCELLED, "cancelled", "request cancelled");
		finish(r, TR_ABORTED);
	}
	while (u->pool)
		pool_drop(u->pool);
	dp_workq_free(u->resolver); /* joins; lookups still running finish and are freed */
	struct up_curl *cu = u->curl;
	if (cu) {
		cu->c->multi_cleanup(cu->multi);
		while (cu->socks) { /* sockets curl did not say goodbye to */
			struct sockinfo *si = cu->socks;
			cu->socks = si->next;
			event_free(si->ev);
			free(si);
		}
		event_free(cu->timer);
		free(cu);
	}
	event_free(u->kick);
	free(u);
}

size_t dp_upstream_active(const struct dp_upstream *u)
{
	return u->active;
}

static int check_token(const char *t, const char **err)
{
	size_t n = strlen(t);
	if (n > DP_UPSTREAM_MAX_TOKEN)
		return *err = "the api token is too long", -EINVAL;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)t[i];
		if (c <= 0x20 || c >= 0x7f)
			return *err = "the api token contains characters that cannot be sent in a header", -EINVAL;
	}
	return 0;
}

/* Extra headers: "Name: value", a token name, a value of printable ASCII
 * or tabs (UTF-8 bytes allowed), no CR/LF; Accept only through `accept`. */
static int check_headers(const struct dp_upstream_opts *o, const char **err)
{
	if (o->accept) {
		for (const char *p = o->accept; *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				return *err = "the accept header contains control characters", -EINVAL;
		if (strlen(o->accept) > 256)
			return *err = "the accept header is too long", -EINVAL;
	}
	size_t n = 0;
	for (; o->headers && o->headers[n]; n++) {
		const char *hd = o->headers[n];
		if (n >= DP_UPSTREAM_MAX_HEADERS)
			return *err = "too many request headers", -EINVAL;
		size_t len = strlen(hd);
		if (len > DP_UPSTREAM_MAX_HEADER)
			return *err = "a request header is too long", -EINVAL;
		const char *colon = strchr(hd, ':');
		if (!colon || colon == hd)
			return *err = "a request header has no name", -EINVAL;
		for (const char *p = hd; p < colon; p++) {
			unsigned char c = (unsigned char)*p;
			if (!(isalnum(c) || strchr("!#$%&'*+-.^_`|~", c)))
				return *err = "a request header name is not a token", -EINVAL;
		}
		for (const char *p = colon + 1; *p; p++) {
			unsigned char c = (unsigned char)*p;
			if ((c < 0x20 && c != '\t') || c == 0x7f)
				return *err = "a request header value contains control characters", -EINVAL;
		}
		if ((size_t)(colon - hd) == 6 && strncasecmp(hd, "accept", 6) == 0)
			return *err = "set the accept header with `accept`", -EINVAL;
	}
	return 0;
}

static const char *check_method(const struct dp_upstream_opts *o)
{
	static const char *const ok[] = {"GET", "POST", "PUT", "PATCH", "DELETE"};
	if (!o->method)
		return o->body ? "POST" : "GET";
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (strcmp(o->method, ok[i]) == 0)
			return ok[i];
	return NULL;
}

/* A request that never got into the list (dp_upstream_start refusing it). */
static void req_free_unlinked(struct dp_upstream_req *r)
{
	r->u->active++;
	r->prev = NULL;
	r->next = r->u->reqs;
	if (r->next)
		r->next->prev = r;
	r->u->reqs = r;
	req_free(r);
}

struct dp_upstream_req *dp_upstream_start(struct dp_upstream *u, const struct dp_upstream_opts *o, const char **err)
{
	const char *dummy;
	if (!err)
		err = &dummy;
	if (u->freeing)
		return *err = "the upstream client is shutting down", NULL;
	if (!o->on_done)
		return *err = "on_done is required", NULL;
	if (o->mode == DP_UPSTREAM_SSE && !o->on_event)
		return *err = "on_event is required for an event stream", NULL;
	if (o->mode == DP_UPSTREAM_RAW && !o->on_data)
		return *err = "on_data is required for a raw stream", NULL;
	const char *method = check_method(o);
	if (!method)
		return *err = "unsupported http method", NULL;
	int has_token = o->token && *o->token;
	if (has_token && check_token(o->token, err) < 0)
		return NULL;
	if (check_headers(o, err) < 0)
		return NULL;

	struct dp_upstream_req *r = xcalloc(1, sizeof(*r));
	char *target = NULL;
	r->url = build_url(o->base_url, o->path, &r->target, &target, r->hostport, sizeof(r->hostport), err);
	if (!r->url) {
		free(r);
		return NULL;
	}
	r->u = u;
	r->mode = o->mode;
	r->on_done = o->on_done;
	r->on_event = o->on_event;
	r->on_data = o->on_data;
	r->arg = o->arg;
	r->allow_non_json = o->allow_non_json;
	r->sse_or_json = o->sse_or_json;
	r->plain_http = o->plain_http;
	r->no_link_local = o->no_link_local;
	r->connect_timeout_ms = o->connect_timeout_ms > 0 ? o->connect_timeout_ms : DP_UPSTREAM_CONNECT_TIMEOUT_MS;
	if (o->timeout_ms > 0)
		r->timeout_ms = o->timeout_ms;
	else if (o->timeout_ms == 0 && o->mode == DP_UPSTREAM_BUFFERED)
		r->timeout_ms = DP_UPSTREAM_TIMEOUT_MS;
	r->idle_timeout_ms = o->mode != DP_UPSTREAM_BUFFERED && o->idle_timeout_ms > 0 ? o->idle_timeout_ms : 0;
	if (o->mode == DP_UPSTREAM_BUFFERED) {
		r->max_response = o->max_response ? o->max_response : DP_UPSTREAM_MAX_RESPONSE;
		dp_buf_init(&r->resp, r->max_response);
	} else {
		r->max_response = o->max_response;
		dp_buf_init(&r->resp, DP_UPSTREAM_MAX_ERROR_BODY);
	}
	dp_buf_init(&r->held, HELD_MAX);
	dp_sse_parse_init(&r->sse, o->max_event, deliver_event, r);
	if (r->idle_timeout_ms)
		r->idle = evtimer_new(u->base, on_idle, r);

	if (o->body) {
		r->body_len = o->body_len ? o->body_len : strlen(o->body);
		r->body = xmalloc(r->body_len + 1);
		memcpy(r->body, o->body, r->body_len);
		r->body[r->body_len] = '\0';
	}
	if (has_token) {
		r->token = xstrdup(o->token);
		r->token_sent = 1;
	}
	r->method = method;
	r->curl_path = r->target.https || u->curl_only;
	if (r->curl_path) {
		if (!curl_side(u, err)) {
			free(target);
			req_free_unlinked(r);
			return NULL;
		}
		curl_setup(r, o);
	} else {
		nat_build(r, target, o);
	}
	free(target);

	r->next = u->reqs;
	if (u->reqs)
		u->reqs->prev = r;
	u->reqs = r;
	u->active++;
	r->t0_us = now_us();
	arm_kick(u); /* started from the kick: never inside a caller's call or curl's */
	return r;
}

void dp_upstream_abort(struct dp_upstream_req *r)
{
	if (r->done || r->abort_pending)
		return;
	set_fail(r, DP_UPSTREAM_CANCELLED, "cancelled", "request cancelled");
	fail_later(r, TR_ABORTED);
}

void dp_upstream_pause(struct dp_upstream_req *r)
{
	if (r->done || r->paused)
		return;
	r->paused = 1;
	r->resume_pending = 0;
	if (r->idle)
		evtimer_del(r->idle);
}

void dp_upstream_resume(struct dp_upstream_req *r)
{
	if (r->done || !r->paused)
		return;
	r->paused = 0;
	r->resume_pending = 1;
	arm_kick(r->u);
}

int dp_upstream_paused(const struct dp_upstream_req *r)
{
	return r->paused;
}

int dp_upstream_req_header(const struct dp_upstream_req *r, const char *name, char *out, size_t outlen)
{
	if (outlen)
		out[0] = '\0';
	if (!r->curl_path) {
		const char *v = r->head_seen ? dp_http_resp_header(&r->parser, name) : NULL;
		if (!v)
			return -ENOENT;
		snprintf(out, outlen, "%s", v);
		return 0;
	}
	struct curl_header *h = NULL;
	if (!r->easy || r->u->curl->c->easy_header(r->easy, name, 0, CURLH_HEADER, -1, &h) != CURLHE_OK || !h)
		return -ENOENT;
	snprintf(out, outlen, "%s", h->value ? h->value : "");
	return 0;
}

const char *dp_upstream_req_url(const struct dp_upstream_req *r)
{
	return r->url;
}

double dp_upstream_req_ttfb_ms(const struct dp_upstream_req *r)
{
	return r->ttfb_us ? (double)(r->ttfb_us - r->t0_us) / 1000.0 : -1;
}
