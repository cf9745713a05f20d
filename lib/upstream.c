/*
 * upstream.c - the LM Studio client: libcurl multi on the server's libevent
 * base (see upstream.h for the contract, docs/upstream.md for the
 * classification table).
 *
 * Wiring, as in curl's hiperfifo.c: CURLMOPT_SOCKETFUNCTION keeps one
 * persistent libevent event per socket curl wants watched,
 * CURLMOPT_TIMERFUNCTION arms one timer; both call curl_multi_socket_action()
 * and then collect finished transfers (check_done). curl's own callbacks
 * (write, socket, timer) run *inside* curl_multi_socket_action; libcurl
 * refuses multi calls from there (CURLM_RECURSIVE_API_CALL) and a transfer
 * must not be freed inside its own callback, so everything that would (an
 * abort, a request started from an event callback, a resume) is recorded on
 * the request and done by `kick`, a deferred event activated on the same
 * base: it runs later in the same loop turn.
 */
#include "upstream.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <event2/event.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>

#include "buf.h"
#include "log.h"
#include "xmalloc.h"

#ifndef DP_VERSION
#define DP_VERSION "unknown"
#endif

#define MAX_PATH_LEN 4096
#define MAX_LMS_MESSAGE 400 /* bytes of LM Studio's message quoted in ours */

struct sockinfo {
	struct sockinfo *next, *prev;
	curl_socket_t fd;
	struct event *ev;
};

struct dp_upstream {
	struct event_base *base;
	CURLM *multi;
	struct event *timer;  /* curl's timeout */
	struct event *kick;   /* deferred work, see the file comment */
	struct dp_upstream_req *reqs;
	struct sockinfo *socks;
	size_t active;
	int in_curl;          /* depth of calls into curl that may run our callbacks */
	int kick_armed;
	int freeing;
};

struct dp_upstream_req {
	struct dp_upstream *u;
	struct dp_upstream_req *prev, *next;
	CURL *easy;
	struct curl_slist *headers;
	char *url;
	char *body;
	char hostport[300];             /* for messages: "host:port" */
	char errbuf[CURL_ERROR_SIZE];
	enum dp_upstream_mode mode;
	dp_upstream_done_fn on_done;
	dp_upstream_event_fn on_event;
	dp_upstream_data_fn on_data;
	void *arg;
	int connect_timeout_ms, timeout_ms, idle_timeout_ms, allow_non_json;
	int sse_or_json, plain_http, no_link_local;
	size_t max_response;

	struct dp_buf resp;             /* buffered body (or the error body of a stream) */
	struct dp_buf held;             /* stream bytes read but not parsed (paused) */
	struct dp_sse_parse sse;
	struct event *idle;

	int added;                      /* in the multi handle */
	int decided;                    /* stream vs buffered chosen (first body byte) */
	int streaming;                  /* delivering a 2xx stream */
	int paused, curl_paused, resume_pending;
	int abort_pending;              /* finish from the kick with the recorded failure */
	int completed;                  /* transfer finished while events were held */
	CURLcode final_res;
	int done;                       /* on_done started */
	int token_sent;

	int fail_set;                   /* a failure recorded before curl finished */
	enum dp_upstream_outcome fail_outcome;
	const char *fail_code;
	char msg[1024];

	int64_t t0_us, ttfb_us;
	uint64_t bytes;
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
	case DP_UPSTREAM_OK: return "ok";
	case DP_UPSTREAM_STOPPED: return "stopped";
	case DP_UPSTREAM_STALLED: return "stalled";
	case DP_UPSTREAM_UNAUTHORIZED: return "unauthorized";
	case DP_UPSTREAM_HTTP_ERROR: return "http_error";
	case DP_UPSTREAM_BAD_RESPONSE: return "bad_response";
	case DP_UPSTREAM_CANCELLED: return "cancelled";
	}
	return "unknown";
}

/* ------------------------------------------------------------------ URLs */

/* Parse and check a base URL; on success *hp holds the handle. */
static int parse_base(const char *base, CURLU **hp, const char **err)
{
	*hp = NULL;
	if (!base || !*base)
		return *err = "the url is empty", -EINVAL;
	size_t n = strlen(base);
	if (n > DP_UPSTREAM_MAX_URL)
		return *err = "the url is too long", -EINVAL;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)base[i];
		if (c <= 0x20 || c >= 0x7f)
			return *err = "the url contains spaces or control characters", -EINVAL;
	}
	/* curl's parser is lenient ("http:///h", "http:h"); insist on the
	 * plain form scheme://host */
	const char *sep = strstr(base, "://");
	if (!sep || sep == base || sep[3] == '/' || sep[3] == '\0')
		return *err = "the url is not a valid absolute url (like http://host:1234)", -EINVAL;
	CURLU *h = curl_url();
	if (!h) {
		dp_error("out of memory");
		abort();
	}
	char *part = NULL;
	int rc = -EINVAL;
	if (curl_url_set(h, CURLUPART_URL, base, CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK) {
		*err = "the url is not a valid absolute url (like http://host:1234)";
		goto out;
	}
	if (curl_url_get(h, CURLUPART_SCHEME, &part, 0) != CURLUE_OK ||
	    (strcasecmp(part, "http") != 0 && strcasecmp(part, "https") != 0)) {
		*err = "the url scheme must be http or https";
		goto out;
	}
	curl_free(part);
	part = NULL;
	if (curl_url_get(h, CURLUPART_USER, &part, 0) == CURLUE_OK ||
	    curl_url_get(h, CURLUPART_PASSWORD, &part, 0) == CURLUE_OK ||
	    curl_url_get(h, CURLUPART_OPTIONS, &part, 0) == CURLUE_OK) {
		*err = "credentials in the url are not allowed: set the api token instead";
		goto out;
	}
	if (curl_url_get(h, CURLUPART_HOST, &part, 0) != CURLUE_OK || !*part) {
		*err = "the url has no host";
		goto out;
	}
	curl_free(part);
	part = NULL;
	if (curl_url_get(h, CURLUPART_QUERY, &part, 0) == CURLUE_OK ||
	    curl_url_get(h, CURLUPART_FRAGMENT, &part, 0) == CURLUE_OK) {
		*err = "the url must not have a query or a fragment";
		goto out;
	}
	rc = 0;
	*hp = h;
	h = NULL;
out:
	curl_free(part);
	curl_url_cleanup(h);
	return rc;
}

int dp_upstream_check_url(const char *base_url, const char **err)
{
	CURLU *h;
	const char *dummy;
	int rc = parse_base(base_url, &h, err ? err : &dummy);
	curl_url_cleanup(h);
	return rc;
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

static char *build_url(const char *base, const char *path, char *hostport, size_t hplen,
		       const char **err)
{
	CURLU *h;
	size_t qpos;
	if (parse_base(base, &h, err) < 0)
		return NULL;
	if (check_path(path, &qpos, err) < 0) {
		curl_url_cleanup(h);
		return NULL;
	}
	char *bpath = NULL, *url = NULL, *host = NULL, *port = NULL, *res = NULL;
	struct dp_buf p;
	dp_buf_init(&p, DP_UPSTREAM_MAX_URL + MAX_PATH_LEN);
	if (curl_url_get(h, CURLUPART_PATH, &bpath, 0) != CURLUE_OK) {
		*err = "the url is not valid";
		goto out;
	}
	size_t bl = strlen(bpath);
	while (bl && bpath[bl - 1] == '/')
		bl--;
	dp_buf_add(&p, bpath, bl);
	dp_buf_add(&p, path, qpos);
	if (curl_url_set(h, CURLUPART_PATH, p.data, 0) != CURLUE_OK) {
		*err = "the request path is not valid";
		goto out;
	}
	if (path[qpos] == '?' && path[qpos + 1] &&
	    curl_url_set(h, CURLUPART_QUERY, path + qpos + 1, 0) != CURLUE_OK) {
		*err = "the request query is not valid";
		goto out;
	}
	if (curl_url_get(h, CURLUPART_URL, &url, 0) != CURLUE_OK) {
		*err = "the url is not valid";
		goto out;
	}
	if (strlen(url) > DP_UPSTREAM_MAX_URL + MAX_PATH_LEN) {
		*err = "the url is too long";
		goto out;
	}
	if (hostport && curl_url_get(h, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
	    curl_url_get(h, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK)
		snprintf(hostport, hplen, "%s:%s", host, port);
	res = xstrdup(url);
out:
	curl_free(bpath);
	curl_free(url);
	curl_free(host);
	curl_free(port);
	dp_buf_release(&p);
	curl_url_cleanup(h);
	return res;
}

char *dp_upstream_url(const char *base_url, const char *path, const char **err)
{
	const char *dummy;
	return build_url(base_url, path, NULL, 0, err ? err : &dummy);
}

/* ------------------------------------------------------------ the loop glue */

static void check_done(struct dp_upstream *u);
static void finish(struct dp_upstream_req *r, CURLcode res);

static void arm_kick(struct dp_upstream *u)
{
	if (!u->kick_armed) {
		u->kick_armed = 1;
		event_active(u->kick, EV_TIMEOUT, 0);
	}
}

static void on_sock_event(evutil_socket_t fd, short what, void *arg)
{
	struct dp_upstream *u = arg;
	int action = ((what & EV_READ) ? CURL_CSELECT_IN : 0) | ((what & EV_WRITE) ? CURL_CSELECT_OUT : 0);
	int running;
	u->in_curl++;
	curl_multi_socket_action(u->multi, fd, action, &running);
	u->in_curl--;
	check_done(u);
}

static void on_curl_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct dp_upstream *u = arg;
	int running;
	(void)fd;
	(void)what;
	u->in_curl++;
	curl_multi_socket_action(u->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	u->in_curl--;
	check_done(u);
}

/* CURLMOPT_SOCKETFUNCTION: watch `s` for what curl asks. */
static int on_socket(CURL *e, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct dp_upstream *u = userp;
	struct sockinfo *si = socketp;
	(void)e;
	if (what == CURL_POLL_REMOVE) {
		if (si) {
			event_free(si->ev);
			if (si->prev)
				si->prev->next = si->next;
			else
				u->socks = si->next;
			if (si->next)
				si->next->prev = si->prev;
			free(si);
			curl_multi_assign(u->multi, s, NULL);
		}
		return 0;
	}
	short kind = EV_PERSIST | ((what & CURL_POLL_IN) ? EV_READ : 0) | ((what & CURL_POLL_OUT) ? EV_WRITE : 0);
	if (!si) {
		si = xcalloc(1, sizeof(*si));
		si->fd = s;
		si->next = u->socks;
		if (u->socks)
			u->socks->prev = si;
		u->socks = si;
		curl_multi_assign(u->multi, s, si);
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
		evtimer_del(u->timer);
	} else {
		struct timeval tv = { .tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000 };
		evtimer_add(u->timer, &tv);
	}
	return 0;
}

/* ----------------------------------------------------------- requests */

__attribute__((format(printf, 4, 5)))
static void set_fail(struct dp_upstream_req *r, enum dp_upstream_outcome o, const char *code,
		     const char *fmt, ...)
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

static void idle_arm(struct dp_upstream_req *r)
{
	if (!r->idle || r->paused || r->done)
		return;
	struct timeval tv = { .tv_sec = r->idle_timeout_ms / 1000, .tv_usec = (r->idle_timeout_ms % 1000) * 1000 };
	evtimer_add(r->idle, &tv);
}

static void on_idle(evutil_socket_t fd, short what, void *arg)
{
	struct dp_upstream_req *r = arg;
	(void)fd;
	(void)what;
	set_fail(r, DP_UPSTREAM_STALLED, "stalled", "%s sent nothing for %d ms", r->hostport,
		 r->idle_timeout_ms);
	r->abort_pending = 1;
	arm_kick(r->u);
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

/* First body byte: the head is complete; stream it or buffer it? */
static void decide(struct dp_upstream_req *r)
{
	long status = 0;
	char *ct = NULL;
	r->decided = 1;
	curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(r->easy, CURLINFO_CONTENT_TYPE, &ct);
	if (r->mode == DP_UPSTREAM_BUFFERED || status < 200 || status > 299)
		return;
	if (r->mode == DP_UPSTREAM_SSE)
		r->streaming = starts_with_ci(ct, "text/event-stream");
	if (r->mode == DP_UPSTREAM_SSE && r->sse_or_json && !r->streaming)
		r->resp.max = r->max_response ? r->max_response : DP_UPSTREAM_MAX_RESPONSE; /* still empty */
	else /* RAW: everything but a JSON document (LM Studio's 200-with-error) */
		r->streaming = !(starts_with_ci(ct, "application/json"));
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
	if (!r->ttfb_us)
		r->ttfb_us = now_us();
	r->bytes += n;
	if (r->idle)
		idle_arm(r);
	if (!r->streaming) {
		if (dp_buf_add(&r->resp, ptr, n) < 0) {
			set_fail(r, DP_UPSTREAM_BAD_RESPONSE, "response_too_large",
				 "the response from %s is larger than the %zu-byte limit", r->hostport,
				 r->resp.max);
			return 0;
		}
		return n;
	}
	if (r->max_response && r->bytes > r->max_response) {
		set_fail(r, DP_UPSTREAM_BAD_RESPONSE, "response_too_large",
			 "the stream from %s passed the %zu-byte limit", r->hostport, r->max_response);
		return 0;
	}
	ssize_t used = deliver(r, ptr, n);
	if (used < 0)
		return 0;
	if (r->abort_pending)
		return 0;
	if ((size_t)used < n) {
		/* paused mid-chunk: keep the rest (at most one chunk); the next
		 * write is answered with CURL_WRITEFUNC_PAUSE */
		if (dp_buf_add(&r->held, ptr + used, n - (size_t)used) < 0) {
			set_fail(r, DP_UPSTREAM_BAD_RESPONSE, "internal", "could not hold a paused chunk");
			return 0;
		}
	}
	return n;
}

/* Drain held bytes after a resume; finish a transfer that completed while
 * they were held. Runs from the kick; may free `r`. */
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
			r->abort_pending = 1;
			arm_kick(r->u);
			return;
		}
		dp_buf_consume(&r->held, (size_t)used);
		if (r->held.len || r->paused)
			return;
	}
	if (r->completed) {
		finish(r, r->final_res);
		return;
	}
	idle_arm(r);
	if (r->curl_paused) {
		r->curl_paused = 0;
		r->u->in_curl++;
		curl_easy_pause(r->easy, CURLPAUSE_CONT);
		r->u->in_curl--;
	}
}

static void add_to_multi(struct dp_upstream_req *r)
{
	CURLMcode mc = curl_multi_add_handle(r->u->multi, r->easy);
	if (mc != CURLM_OK) {
		set_fail(r, DP_UPSTREAM_BAD_RESPONSE, "internal", "could not start the request: %s",
			 curl_multi_strerror(mc));
		r->abort_pending = 1;
		arm_kick(r->u);
		return;
	}
	r->added = 1;
	idle_arm(r);
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
			finish(r, CURLE_ABORTED_BY_CALLBACK);
			continue;
		}
		if (!r->added && !r->completed) {
			add_to_multi(r);
			continue;
		}
		if (r->resume_pending)
			do_resume(r); /* may free r */
	}
	check_done(u);
}

/* Collect finished transfers. */
static void check_done(struct dp_upstream *u)
{
	CURLMsg *m;
	int left;
	while ((m = curl_multi_info_read(u->multi, &left))) {
		if (m->msg != CURLMSG_DONE)
			continue;
		CURL *e = m->easy_handle;
		CURLcode res = m->data.result;
		char *priv = NULL;
		curl_easy_getinfo(e, CURLINFO_PRIVATE, &priv);
		struct dp_upstream_req *r = (struct dp_upstream_req *)priv;
		if (!r || r->done)
			continue;
		if (res == CURLE_OK && r->held.len && !r->abort_pending) {
			/* the caller paused with events still held: the transfer
			 * is over, but they are delivered on resume first */
			curl_multi_remove_handle(u->multi, e);
			r->added = 0;
			r->completed = 1;
			r->final_res = res;
			continue;
		}
		finish(r, res);
	}
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

/* A curl error buffer ("Failed to connect ...") as a lower-case phrase. */
static void curl_phrase(char *dst, size_t dstlen, const struct dp_upstream_req *r, CURLcode res)
{
	clean_copy(dst, dstlen, r->errbuf[0] ? r->errbuf : curl_easy_strerror(res));
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
	static const char pre[] = "Authorization: Bearer ";
	for (const struct curl_slist *h = r->headers; h; h = h->next) {
		if (strncmp(h->data, pre, sizeof(pre) - 1) != 0)
			continue;
		const char *tok = h->data + sizeof(pre) - 1;
		redact_one(s, tok, strlen(tok));
		const char *colon = strchr(tok, ':');
		if (colon)
			redact_one(s, colon + 1, strlen(colon + 1));
	}
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

static void classify_transport(struct dp_upstream_req *r, CURLcode res, struct dp_upstream_result *out,
			       int64_t connect_us)
{
	char phrase[300];
	const char *hp = r->hostport;
	long oserr = 0;
	curl_easy_getinfo(r->easy, CURLINFO_OS_ERRNO, &oserr);
	switch (res) {
	case CURLE_COULDNT_RESOLVE_HOST:
		out->outcome = DP_UPSTREAM_STOPPED;
		out->code = "unresolvable";
		snprintf(r->msg, sizeof(r->msg), "could not resolve the host of %s", hp);
		break;
	case CURLE_COULDNT_CONNECT:
		out->outcome = DP_UPSTREAM_STOPPED;
		out->code = "stopped";
		if ((oserr == ECONNREFUSED || oserr == 0) && r->plain_http)
			snprintf(r->msg, sizeof(r->msg), "connection refused by %s: nothing is listening there", hp);
		else if (oserr == ECONNREFUSED || oserr == 0)
			snprintf(r->msg, sizeof(r->msg),
				 "connection refused by %s: nothing is listening there (is the LM Studio server running?)",
				 hp);
		else
			snprintf(r->msg, sizeof(r->msg), "could not connect to %s: %s", hp, strerror((int)oserr));
		break;
	case CURLE_OPERATION_TIMEDOUT:
		out->outcome = DP_UPSTREAM_STALLED;
		out->code = "stalled";
		if (!connect_us && !out->status)
			snprintf(r->msg, sizeof(r->msg), "no connection to %s within %d ms", hp,
				 r->connect_timeout_ms);
		else if (r->streaming)
			snprintf(r->msg, sizeof(r->msg), "the stream from %s passed the %d ms time limit", hp,
				 r->timeout_ms);
		else
			snprintf(r->msg, sizeof(r->msg), "no complete answer from %s within %d ms", hp,
				 r->timeout_ms);
		break;
	case CURLE_GOT_NOTHING:
		/* accepted and closed without a byte: typically a forwarder
		 * (ssh tunnel, container proxy) whose daemon is down */
		out->outcome = DP_UPSTREAM_STOPPED;
		out->code = "stopped";
		snprintf(r->msg, sizeof(r->msg), "%s closed the connection without answering", hp);
		break;
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_PARTIAL_FILE:
		out->outcome = DP_UPSTREAM_STOPPED;
		out->code = "connection_lost";
		snprintf(r->msg, sizeof(r->msg), "the connection to %s was lost %s", hp,
			 out->status ? "in the middle of the response" : "before an answer");
		break;
	case CURLE_FILESIZE_EXCEEDED:
		out->outcome = DP_UPSTREAM_BAD_RESPONSE;
		out->code = "response_too_large";
		snprintf(r->msg, sizeof(r->msg), "the response from %s is larger than the %zu-byte limit", hp,
			 r->resp.max);
		break;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
		out->outcome = DP_UPSTREAM_BAD_RESPONSE;
		out->code = "tls_error";
		curl_phrase(phrase, sizeof(phrase), r, res);
		snprintf(r->msg, sizeof(r->msg), "tls with %s failed: %s", hp, phrase);
		break;
	default:
		out->outcome = DP_UPSTREAM_BAD_RESPONSE;
		out->code = "bad_response";
		curl_phrase(phrase, sizeof(phrase), r, res);
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
			snprintf(r->msg, sizeof(r->msg), "%s rejected the api token%s%s", hp,
				 lmsg[0] ? ": " : "", lmsg);
		return;
	}
	if (st < 200 || st > 299) {
		out->outcome = DP_UPSTREAM_HTTP_ERROR;
		out->code = "http_error";
		if (st >= 300 && st <= 399)
			snprintf(r->msg, sizeof(r->msg),
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
				 "%s does not serve this endpoint (it said \"%s\"); an older LM Studio version or not LM Studio",
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
			snprintf(r->msg, sizeof(r->msg), "the event stream from %s ended in the middle of an event", hp);
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
	if (r->easy)
		curl_easy_cleanup(r->easy);
	for (struct curl_slist *h = r->headers; h; h = h->next) {
		/* the Authorization header holds the token: wipe it */
		volatile char *p = (volatile char *)h->data;
		while (*p)
			*p++ = 0;
	}
	curl_slist_free_all(r->headers);
	if (r->idle)
		event_free(r->idle);
	dp_buf_release(&r->resp);
	dp_buf_release(&r->held);
	dp_sse_parse_release(&r->sse);
	free(r->url);
	free(r->body);
	free(r);
}

static void finish(struct dp_upstream_req *r, CURLcode res)
{
	struct dp_upstream *u = r->u;
	if (r->done)
		return;
	r->done = 1;
	if (r->idle)
		evtimer_del(r->idle);
	if (r->added) {
		u->in_curl++;
		curl_multi_remove_handle(u->multi, r->easy);
		u->in_curl--;
		r->added = 0;
	}
	if (r->mode != DP_UPSTREAM_BUFFERED && !r->decided && !r->fail_set && res == CURLE_OK)
		decide(r); /* an empty stream body */

	struct dp_upstream_result out;
	memset(&out, 0, sizeof(out));
	long status = 0;
	char *ct = NULL;
	curl_off_t connect_us = 0;
	curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(r->easy, CURLINFO_CONTENT_TYPE, &ct);
	curl_easy_getinfo(r->easy, CURLINFO_CONNECT_TIME_T, &connect_us);
	out.status = (int)status;
	out.content_type = ct ? ct : "";
	out.body = r->resp.data;
	out.body_len = r->resp.len;
	out.token_sent = r->token_sent;
	out.streamed = r->streaming && r->bytes > 0;
	out.events = r->sse.events;
	out.bytes = r->bytes;
	out.connect_ms = (double)connect_us / 1000.0;
	out.ttfb_ms = r->ttfb_us ? (double)(r->ttfb_us - r->t0_us) / 1000.0 : -1;
	out.total_ms = (double)(now_us() - r->t0_us) / 1000.0;

	json_t *json = NULL;
	struct lms_error le;
	memset(&le, 0, sizeof(le));
	if (r->fail_set) {
		out.outcome = r->fail_outcome;
		out.code = r->fail_code;
	} else if (res != CURLE_OK) {
		classify_transport(r, res, &out, connect_us);
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
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		dp_error("curl_global_init failed");
		return NULL;
	}
	struct dp_upstream *u = xcalloc(1, sizeof(*u));
	u->base = base;
	u->multi = curl_multi_init();
	if (!u->multi) {
		dp_error("out of memory");
		abort();
	}
	u->timer = evtimer_new(base, on_curl_timeout, u);
	u->kick = event_new(base, -1, 0, on_kick, u);
	curl_multi_setopt(u->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
	curl_multi_setopt(u->multi, CURLMOPT_SOCKETDATA, u);
	curl_multi_setopt(u->multi, CURLMOPT_TIMERFUNCTION, on_timer);
	curl_multi_setopt(u->multi, CURLMOPT_TIMERDATA, u);
	return u;
}

void dp_upstream_free(struct dp_upstream *u)
{
	if (!u)
		return;
	u->freeing = 1;
	while (u->reqs) {
		struct dp_upstream_req *r = u->reqs;
		set_fail(r, DP_UPSTREAM_CANCELLED, "cancelled", "request cancelled");
		finish(r, CURLE_ABORTED_BY_CALLBACK);
	}
	curl_multi_cleanup(u->multi);
	while (u->socks) { /* sockets curl did not say goodbye to */
		struct sockinfo *si = u->socks;
		u->socks = si->next;
		event_free(si->ev);
		free(si);
	}
	event_free(u->timer);
	event_free(u->kick);
	free(u);
	curl_global_cleanup();
}

size_t dp_upstream_active(const struct dp_upstream *u)
{
	return u->active;
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
		static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
		return memcmp(b, mapped, 12) == 0 && b[12] == 169 && b[13] == 254;
	}
	return 0;
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
	static const char *const ok[] = { "GET", "POST", "PUT", "PATCH", "DELETE" };
	if (!o->method)
		return o->body ? "POST" : "GET";
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (strcmp(o->method, ok[i]) == 0)
			return ok[i];
	return NULL;
}

struct dp_upstream_req *dp_upstream_start(struct dp_upstream *u, const struct dp_upstream_opts *o,
					  const char **err)
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
	r->url = build_url(o->base_url, o->path, r->hostport, sizeof(r->hostport), err);
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
	dp_buf_init(&r->held, CURL_MAX_WRITE_SIZE * 4);
	dp_sse_parse_init(&r->sse, o->max_event, deliver_event, r);
	if (r->idle_timeout_ms)
		r->idle = evtimer_new(u->base, on_idle, r);

	CURL *e = r->easy = curl_easy_init();
	if (!e) {
		dp_error("out of memory");
		abort();
	}
	curl_easy_setopt(e, CURLOPT_URL, r->url);
	curl_easy_setopt(e, CURLOPT_PRIVATE, r);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_PROXY, ""); /* ignore *_proxy environment variables */
	curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "DaemonPulse/" DP_VERSION);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPIDLE, 30L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPINTVL, 10L);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)r->connect_timeout_ms);
	if (r->no_link_local) {
		curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, open_socket);
		curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, r);
	}
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)r->timeout_ms);
	if (o->mode == DP_UPSTREAM_BUFFERED)
		curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)r->max_response);

	struct curl_slist *h = NULL;
	if (o->accept) {
		char *a = xasprintf("Accept: %s", o->accept);
		h = curl_slist_append(h, a);
		free(a);
	} else {
		h = curl_slist_append(h, o->mode == DP_UPSTREAM_SSE ? "Accept: text/event-stream" : "Accept: application/json");
	}
	h = curl_slist_append(h, "Expect:"); /* no 100-continue round trip */
	if (o->body)
		h = curl_slist_append(h, "Content-Type: application/json");
	if (has_token) {
		char *a = xasprintf("Authorization: Bearer %s", o->token);
		h = curl_slist_append(h, a);
		explicit_bzero(a, strlen(a));
		free(a);
		r->token_sent = 1;
	}
	for (size_t i = 0; o->headers && o->headers[i]; i++)
		h = curl_slist_append(h, o->headers[i]);
	if (!h) {
		dp_error("out of memory");
		abort();
	}
	r->headers = h;
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);

	if (strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0)
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
	if (o->body) {
		size_t n = o->body_len ? o->body_len : strlen(o->body);
		r->body = xmalloc(n + 1);
		memcpy(r->body, o->body, n);
		r->body[n] = '\0';
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)n);
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body);
	} else if (strcmp(method, "POST") == 0) {
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, "");
	}

	r->next = u->reqs;
	if (u->reqs)
		u->reqs->prev = r;
	u->reqs = r;
	u->active++;
	r->t0_us = now_us();
	if (u->in_curl)
		arm_kick(u); /* curl refuses multi calls from its callbacks */
	else
		add_to_multi(r);
	return r;
}

void dp_upstream_abort(struct dp_upstream_req *r)
{
	if (r->done || r->abort_pending)
		return;
	set_fail(r, DP_UPSTREAM_CANCELLED, "cancelled", "request cancelled");
	r->abort_pending = 1;
	arm_kick(r->u);
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
	struct curl_header *h = NULL;
	if (outlen)
		out[0] = '\0';
	if (!r->easy || curl_easy_header(r->easy, name, 0, CURLH_HEADER, -1, &h) != CURLHE_OK || !h)
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
