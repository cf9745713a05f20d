/*
 * test_upstream.c - src/upstream against a tiny in-process daemon built on
 * lib/http on the same event base: JSON ok, LM Studio's HTTP-200 error bodies,
 * 401, 404, refused, stalled, size limits (known length and chunked), SSE
 * events delivered one at a time as they are written, pause/resume, abort
 * mid-stream (the server sees on_close), a daemon dying mid-stream, idle
 * timeout, raw mode, requests started and aborted from inside callbacks,
 * dp_upstream_free with requests in flight, URL and token validation.
 * Each test runs against both transports (native http, libcurl).
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

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <jansson.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buf.h"
#include "http.h"
#include "upstream.h"

/* every test runs twice: the native HTTP/1.1 client, then libcurl (the
 * https path, loaded with dlopen) on the same plain-HTTP daemon */
static int curl_only;

/* ---------------------------------------------------------- the daemon */

struct daemon {
	struct event_base *base;
	struct dp_http_server *srv;
	int port;
	char url[64];
	struct dp_http_req *held; /* a request left open by the handler */
	int closed;               /* on_close calls */
	int requests;
	char last_auth[256];
	char last_ua[128];
	char last_method[16];
	char last_ctype[64];
	char last_target[256];
	char last_body[256];
};

static void on_close(struct dp_http_req *req, void *arg)
{
	struct daemon *d = arg;
	(void)req;
	d->closed++;
	d->held = NULL;
}

static void reply_json(struct dp_http_req *req, int status, const char *json)
{
	dp_http_reply(req, status, "application/json", json, strlen(json));
}

static void copy_hdr(char *dst, size_t n, const char *v)
{
	snprintf(dst, n, "%s", v ? v : "");
}

static void handler(struct dp_http_req *req, void *arg)
{
	struct daemon *d = arg;
	const char *p = dp_http_req_path(req);
	size_t blen;
	const char *body = dp_http_req_body(req, &blen);
	d->requests++;
	copy_hdr(d->last_auth, sizeof(d->last_auth), dp_http_req_header(req, "Authorization"));
	copy_hdr(d->last_ua, sizeof(d->last_ua), dp_http_req_header(req, "User-Agent"));
	copy_hdr(d->last_ctype, sizeof(d->last_ctype), dp_http_req_header(req, "Content-Type"));
	copy_hdr(d->last_method, sizeof(d->last_method), dp_http_req_method(req));
	copy_hdr(d->last_target, sizeof(d->last_target), dp_http_req_target(req));
	snprintf(d->last_body, sizeof(d->last_body), "%.*s", (int)blen, body ? body : "");

	if (strcmp(p, "/api/v1/models") == 0 || strcmp(p, "/prefix/api/v1/models") == 0) {
		reply_json(req, 200, "{\"models\":[{\"key\":\"m\"}]}");
	} else if (strcmp(p, "/unexpected") == 0) {
		reply_json(req, 200, "{\"error\":\"Unexpected endpoint or method. (GET /unexpected)\"}");
	} else if (strcmp(p, "/err200") == 0) {
		reply_json(req, 200,
		           "{\"error\":{\"type\":\"model_not_found\",\"message\":\"no model "
		           "\\\"x\\\"\\nloaded\",\"code\":\"model_not_found\"}}");
	} else if (strcmp(p, "/auth") == 0) {
		reply_json(req, 401,
		           "{\"error\":{\"type\":\"invalid_request\",\"code\":\"invalid_api_key\",\"message\":\"An LM "
		           "Studio API token is required\"}}");
	} else if (strcmp(p, "/malformed") == 0) {
		/* LM Studio may quote the token it could not parse */
		const char *a = dp_http_req_header(req, "Authorization");
		char msg[512];
		snprintf(msg, sizeof(msg),
		         "{\"error\":{\"type\":\"invalid_request\",\"code\":\"invalid_api_key\",\"message\":"
		         "\"Malformed LM Studio API token provided: %s\"}}",
		         a && strlen(a) > 7 ? a + 7 : "");
		reply_json(req, 401, msg);
	} else if (strcmp(p, "/notfound") == 0) {
		reply_json(req, 404,
		           "{\"error\":{\"message\":\"Model \\\"x\\\" not "
		           "found.\",\"type\":\"invalid_request_error\",\"code\":\"model_not_found\"}}");
	} else if (strcmp(p, "/html") == 0) {
		dp_http_reply(req, 200, "text/html", "<html>hi</html>", 15);
	} else if (strcmp(p, "/empty") == 0) {
		dp_http_reply(req, 200, "application/json", "", 0);
	} else if (strcmp(p, "/redirect") == 0) {
		dp_http_add_header(req, "Location", "http://elsewhere.invalid/");
		dp_http_reply(req, 302, "text/plain", "", 0);
	} else if (strcmp(p, "/big") == 0) {
		static char big[100000];
		memset(big, ' ', sizeof(big));
		big[0] = '[';
		big[sizeof(big) - 1] = ']';
		dp_http_reply(req, 200, "application/json", big, sizeof(big));
	} else if (strcmp(p, "/bigchunked") == 0) {
		static char chunk[4096];
		memset(chunk, ' ', sizeof(chunk));
		dp_http_stream_start(req, 200, "application/json");
		dp_http_stream_write(req, "[", 1);
		for (int i = 0; i < 25; i++)
			dp_http_stream_write(req, chunk, sizeof(chunk));
		dp_http_stream_write(req, "]", 1);
		dp_http_stream_end(req);
	} else if (strcmp(p, "/echo") == 0) {
		dp_http_reply(req, 200, "application/json", body, blen);
	} else if (strcmp(p, "/hang") == 0 || strcmp(p, "/sse") == 0 || strcmp(p, "/raw") == 0) {
		if (strcmp(p, "/sse") == 0)
			dp_http_stream_start(req, 200, "text/event-stream");
		else if (strcmp(p, "/raw") == 0)
			dp_http_stream_start(req, 200, "application/x-ndjson");
		dp_http_req_on_close(req, on_close, d);
		d->held = req;
	} else if (strcmp(p, "/burst") == 0) {
		static const char ev[] = "event: a\ndata: 1\n\nevent: b\ndata: 2\n\nevent: c\ndata: 3\n\n";
		dp_http_stream_start(req, 200, "text/event-stream");
		dp_http_stream_write(req, ev, sizeof(ev) - 1);
		dp_http_stream_end(req);
	} else if (strcmp(p, "/truncated") == 0) {
		dp_http_stream_start(req, 200, "text/event-stream");
		dp_http_stream_write(req, "data: 1\n\ndata: 2\n", 17);
		dp_http_stream_end(req);
	} else if (strcmp(p, "/hugeevent") == 0) {
		static char chunk[1024];
		memset(chunk, 'x', sizeof(chunk));
		dp_http_stream_start(req, 200, "text/event-stream");
		dp_http_stream_write(req, "data: ", 6);
		for (int i = 0; i < 8; i++)
			dp_http_stream_write(req, chunk, sizeof(chunk));
		dp_http_stream_end(req);
	} else {
		reply_json(req, 200, "{\"error\":\"Unexpected endpoint or method. (GET /)\"}");
	}
}

static void daemon_start(struct daemon *d, struct event_base *base)
{
	memset(d, 0, sizeof(*d));
	d->base = base;
	struct dp_http_config cfg;
	dp_http_config_defaults(&cfg);
	cfg.handler = handler;
	cfg.handler_arg = d;
	d->srv = dp_http_server_new(base, &cfg);
	assert_non_null(d->srv);
	assert_int_equal(dp_http_server_listen(d->srv, "127.0.0.1", 0, &d->port), 0);
	snprintf(d->url, sizeof(d->url), "http://127.0.0.1:%d", d->port);
}

/* ---------------------------------------------------------- the client */

struct call {
	struct event_base *base;
	struct daemon *d;
	struct dp_upstream *u;
	struct dp_upstream_req *req;
	int done;
	enum dp_upstream_outcome outcome;
	char code[64];
	char msg[800];
	int status;
	json_t *json;
	char body[256];
	int streamed, token_sent;
	uint64_t events, bytes;
	double connect_ms, ttfb_ms, total_ms;
	struct dp_buf evs; /* "event=data;" per event */
	int nev;
	int pause_at; /* pause when nev reaches this */
	int abort_at; /* abort when nev reaches this */
	int start_at; /* start `child` when nev reaches this */
	struct call *child;
	struct dp_upstream_opts child_opts;
};

static void call_init(struct call *c, struct event_base *base, struct daemon *d, struct dp_upstream *u)
{
	memset(c, 0, sizeof(*c));
	c->base = base;
	c->d = d;
	c->u = u;
	c->ttfb_ms = -2;
	dp_buf_init(&c->evs, 1 << 20);
}

static void call_release(struct call *c)
{
	json_decref(c->json);
	dp_buf_release(&c->evs);
}

static void on_done(struct dp_upstream_req *r, const struct dp_upstream_result *res, void *arg)
{
	struct call *c = arg;
	assert_ptr_equal(r, c->req);
	assert_int_equal(c->done, 0); /* exactly once */
	c->done++;
	c->outcome = res->outcome;
	snprintf(c->code, sizeof(c->code), "%s", res->code);
	snprintf(c->msg, sizeof(c->msg), "%s", res->message);
	c->status = res->status;
	c->json = res->json ? json_incref(res->json) : NULL;
	snprintf(c->body, sizeof(c->body), "%.*s", (int)(res->body_len > 200 ? 200 : res->body_len), res->body);
	c->streamed = res->streamed;
	c->token_sent = res->token_sent;
	c->events = res->events;
	c->bytes = res->bytes;
	c->connect_ms = res->connect_ms;
	c->ttfb_ms = res->ttfb_ms;
	c->total_ms = res->total_ms;
	/* calls that must be harmless from inside on_done */
	dp_upstream_abort(r);
	dp_upstream_pause(r);
	dp_upstream_resume(r);
}

static void on_event(struct dp_upstream_req *r, const struct dp_sse_parse_event *ev, void *arg)
{
	struct call *c = arg;
	assert_false(dp_upstream_paused(r));
	assert_true(dp_upstream_req_ttfb_ms(r) >= 0);
	c->nev++;
	dp_buf_addf(&c->evs, "%s=%s;", ev->event, ev->data);
	if (c->pause_at && c->nev == c->pause_at)
		dp_upstream_pause(r);
	if (c->abort_at && c->nev == c->abort_at)
		dp_upstream_abort(r);
	if (c->start_at && c->nev == c->start_at) {
		const char *err = NULL;
		c->child->req = dp_upstream_start(c->u, &c->child_opts, &err);
		assert_non_null(c->child->req);
	}
}

static void on_data(struct dp_upstream_req *r, const char *p, size_t n, void *arg)
{
	struct call *c = arg;
	(void)r;
	c->nev++;
	dp_buf_add(&c->evs, p, n);
}

static struct dp_upstream_opts opts(struct call *c, const char *path, enum dp_upstream_mode mode)
{
	struct dp_upstream_opts o = {
	        .base_url = c->d->url,
	        .path = path,
	        .mode = mode,
	        .on_done = on_done,
	        .on_event = on_event,
	        .on_data = on_data,
	        .arg = c,
	};
	return o;
}

static void start(struct call *c, const struct dp_upstream_opts *o)
{
	const char *err = NULL;
	c->req = dp_upstream_start(c->u, o, &err);
	if (!c->req)
		fail_msg("start failed: %s", err);
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

/* Run the loop until *flag >= want, or fail after `ms`. */
static void run_until(struct event_base *base, const int *flag, int want, int ms)
{
	double end = now_ms() + ms;
	while (*flag < want) {
		if (now_ms() > end)
			fail_msg("timed out waiting (%d < %d)", *flag, want);
		event_base_loop(base, EVLOOP_NONBLOCK);
		if (*flag < want)
			usleep(200);
	}
}

/* Run the loop for about `ms` (to show that something does NOT happen). */
static void run_for(struct event_base *base, int ms)
{
	double end = now_ms() + ms;
	while (now_ms() < end) {
		event_base_loop(base, EVLOOP_NONBLOCK);
		usleep(200);
	}
}

struct env {
	struct event_base *base;
	struct daemon d;
	struct dp_upstream *u;
};

static void env_setup(struct env *e)
{
	e->base = event_base_new();
	daemon_start(&e->d, e->base);
	e->u = dp_upstream_new(e->base);
	dp_upstream_set_curl_only(e->u, curl_only);
	assert_non_null(e->u);
}

static void env_teardown(struct env *e)
{
	dp_upstream_free(e->u);
	dp_http_server_free(e->d.srv);
	event_base_free(e->base);
}

/* Run one buffered request to completion. */
static void simple(struct env *e, struct call *c, const char *path, const char *token)
{
	call_init(c, e->base, &e->d, e->u);
	struct dp_upstream_opts o = opts(c, path, DP_UPSTREAM_BUFFERED);
	o.token = token;
	start(c, &o);
	assert_int_equal(c->done, 0); /* never from inside start */
	run_until(e->base, &c->done, 1, 10000);
}

/* ------------------------------------------------------------- tests */

static void test_json_ok(void **state)
{
	(void)state;
	struct env e;
	env_setup(&e);
	struct call c;
	simple(&e, &c, "/api/v1/models", "sk-lm-abcdefgh:01234567890123456789");
	assert_int_equal(c.outcome, DP_UPSTREAM_OK);
	assert_string_equal(c.code, "ok");
	assert_string_equal(c.msg, "");
	assert_int_equal(c.status, 200);
	assert_non_null(c.json);
	assert_string_equal(
	        json_string_value(json_object_get(json_array_get(json_object_get(c.json, "models"), 0), "key")), "m");
	assert_string_equal(e.d.last_auth, "Bearer sk-lm-abcdefgh:01234567890123456789");
	assert_true(strncmp(e.d.last_ua, "DaemonPulse/", 12) == 0);
	assert_string_equal(e.d.last_method, "GET");
	assert_true(c.token_sent);
	assert_true(c.ttfb_ms >= 0 && c.total_ms >= c.ttfb_ms && c.connect_ms >= 0);
	assert_int_equal(dp_upstream_active(e.u), 0);
	call_release(&c);

	/* no token: no Authorization header at all */
	simple(&e, &c, "/api/v1/models", NULL);
	assert_int_equal(c.outcome, DP_UPSTREAM_OK);
	assert_string_equal(e.d.last_auth, "");
	assert_false(c.token_sent);
	call_release(&c);

	/* a base URL with a path prefix and a query on the path */
	call_init(&c, e.base, &e.d, e.u);
	char pre[96];
	snprintf(pre, sizeof(pre), "%s/prefix/", e.d.url);
	struct dp_upstream_opts o = opts(&c, "/api/v1/models?x=1", DP_UPSTREAM_BUFFERED);
	o.base_url = pre;
	start(&c, &o);
	run_until(e.base, &c.done, 1, 10000);
	assert_int_equal(c.outcome, DP_UPSTREAM_OK);
	assert_string_equal(e.d.last_target, "/prefix/api/v1/models?x=1");
	call_release(&c);
	env_teardown(&e);
}

static void test_post_body(void **state)
{
	(void)state;
	struct env e;
	env_setup(&e);
	struct call c;
	call_init(&c, e.base, &e.d, e.u);
	struct dp_upstream_opts o = opts(&c, "/echo", DP_UPSTREAM_BUFFERED);
	o.body = "{\"model\":\"m\"}";
	start(&c, &o);
	run_until(e.base, &c.done, 1, 10000);
	assert_int_equal(c.outcome, DP_UPSTREAM_OK);
	assert_string_equal(e.d.last_method, "POST");
	assert_string_equal(e.d.last_ctype, "application/json");
	assert_string_equal(e.d.last_body, "{\"model\":\"m\"}");
	assert_string_equal(json_string_value(json_object_get(c.json, "model")), "m");
	call_release(&c);

	call_init(&c, e.base, &e.d, e.u);
	o = opts(&c, "/echo", DP_UPSTREAM_BUFFERED);
	o.method = "DELETE";
	o.allow_non_json = 1;
	start(&c, &o);
	run_until(e.base, &c.done, 1, 10000);
	assert_string_equal(e.d.last_method, "DELETE");
	assert_int_equal(c.outcome, DP_UPSTREAM_OK);
	call_release(&c);
	env_teardown(&e);
}

static void test_error_bodies(void **state)
{
	(void)state;
	struct env e;
	env_setup(&e);
	struct call c;

	simple(&e, &c, "/unexpected", NULL);
	assert_int_equal(c.outcome, DP_UPSTREAM_HTTP_ERROR);
	assert_string_equal(c.code, "unexpected_endpoint");
	assert_int_equal(c.status, 200);
	assert_non_null(strstr(c.msg, "Unexpected endpoint or method. (GET /unexpected)"));
	call_release(&c);

	/* also with a token: still not "unauthorized" (see docs/upstream.md) */
	simple(&e, &c, "/unexpected", "tok");
	assert_int_equal(c.outcome, DP_UPSTREAM_HTTP_ERROR);
	assert_string_equal(c.code, "unexpected_endpoint");
	call_release(&c);

	simple(&e, &c, "/err200", NULL);
	assert_int_equal(c.outcome, DP_UPSTREAM_HTTP_ERROR);
	assert_string_equal(c.code, "daemon_error");
	/* LM Studio's message, with its control characters blanked */
	assert_non_null(strstr(c.msg, "no model \"x\" loaded"));
	assert_non_null(c.json);
	call_release(&c);

	simple(&e, &c, "/auth", NULL);
	assert_int_equal(c.outcome, DP_UPSTREAM_UNAUTHORIZED);
	assert_string_equal(c.code, "unauthorized");
	assert_int_equal(c.status, 401);
	assert_non_null(strstr(c.msg, "none is set"));
	assert_non_null(strstr(c.msg, "An LM Studio API token is required"));
	call_release(&c);

	simple(&e, &c, "/auth", "sk-lm-wrong:token");
	assert_int_equal(c.outcome, DP_UPSTREAM_UNAUTHORIZED);
	assert_non_null(strstr(c.msg, "rejected the api token"));
	assert_null(strstr(c.msg, "sk-lm-wrong")); /* never echo the token */
	call_release(&c);

	simple(&e, &c, "/malformed", "sk-lm-abcdefgh:SECRETSECRETSECRET1234");
	assert_int_equal(c.outcome, DP_UPSTREAM_UNAUTHORIZED);
	assert_non_null(strstr(c.msg, "Malformed LM Studio API token provided"));
	assert_null(strstr(c.msg, "SECRETSECRET"));
	call_release(&c);

	simple(&e, &c, "/notfound", NULL);
	assert_int_equal(c.outcome, DP_UPSTREAM_HTTP_ERROR);
	assert_string_equal(c.code, "http_error");
	assert_int_equal(c.status, 404);
	assert_non_null(strstr(c.msg, "http 404: Model \"x\" not found."));
	call_release(&c);

	simple(&e, &c, "/html", NULL);
	assert_int_equal(c.outcome, DP_UPSTREAM_BAD_RESPONSE);
	assert_string_equal(c.code, "not_json");
	assert_non_null(strstr(c.msg, "text/html"));
	call_release(&c);

	simple(&e, &c, "/empty", NULL);
	assert_int_equal(c.outcome, DP_UPSTREAM_BAD_RESPONSE);
	assert_string_equal(c.code, "empty_response");
	call_release(&c);

	simple(&e, &c, "/redirect", NULL);
	assert_int_equal(c.outcome, DP_UPSTREAM_HTTP_ERROR);
	assert_int_equal(c.status, 302);
	assert_non_null(strstr(c.msg, "redirect"));
	assert_int_equal(e.d.requests, 10); /* not followed */
	call_release(&c);
	env_teardown(&e);
}

static int closed_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET};
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	socklen_t len = sizeof(a);
	getsockname(fd, (struct sockaddr *)&a, &len);
	close(fd); /* bound, never listened, closed: connecting is refused */
	return ntohs(a.sin_port);
}

static void test_refused_and_stalled(void **state)
{
	(void)state;
	struct env e;
	env_setup(&e);
	struct call c;

	call_init(&c, e.base, &e.d, e.u);
	char url[64];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", closed_port());
	struct dp_upstream_opts o = opts(&c, "/api/v1/models", DP_UPSTREAM_BUFFERED);
	o.base_url = url;
	start(&c, &o);
	run_until(e.base, &c.done, 1, 10000);
	assert_int_equal(c.outcome, DP_UPSTREAM_STOPPED);
	assert_string_equal(c.code, "stopped");
	assert_int_equal(c.status, 0);
	assert_non_null(strstr(c.msg, "connection refused"));
	call_release(&c);

	/* a handler that never answers */
	call_init(&c, e.base, &e.d, e.u);
	o = opts(&c, "/hang", DP_UPSTREAM_BUFFERED);
	o.timeout_ms = 300;
	double t0 = now_ms();
	start(&c, &o);
	run_until(e.base, &c.done, 1, 10000);
	assert_int_equal(c.outcome, DP_UPSTREAM_STALLED);
	assert_string_equal(c.code, "stalled");
	assert_non_null(strstr(c.msg, "300 ms"));
	assert_true(now_ms() - t0 >= 290);
	run_until(e.base, &e.d.closed, 1, 5000); /* curl closed the connection */
	call_release(&c);

	/* unresolvable host (.invalid never resolves, RFC 6761) */
	call_init(&c, e.base, &e.d, e.u);
	o = opts(&c, "/x", DP_UPSTREAM_BUFFERED);
	o.base_url = "http://daemonpulse-test.invalid:1234";
	start(&c, &o);
	run_until(e.base, &c.done, 1, 20000);
	assert_true(c.outcome == DP_UPSTREAM_STOPPED || c.outcome == DP_UPSTREAM_STALLED);
	call_release(&c);
	env_teardown(&e);
}

static void test_size_limits(void **state)
{
	(void)state;
	struct env e;
	env_setup(&e);
	struct call c;

	const char *paths[] = {"/big", "/bigchunked"};
	for (int i = 0; i < 2; i++) {
		call_init(&c, e.base, &e.d, e.u);
		struct dp_upstream_opts o = opts(&c, paths[i], DP_UPSTREAM_BUFFERED);
		o.max_response = 10000;
		start(&c, &o);
		run_until(e.base, &c.done, 1, 10000);
		assert_int_equal(c.outcome, DP_UPSTREAM_BAD_RESPONSE);
		assert_string_equal(c.code, "response_too_large");
		assert_non_null(strstr(c.msg, "10000-byte limit"));
		assert_true(c.bytes <= 10000 + 16384);
		call_release(&c);

		/* within the limit both are fine */
		call_init(&c, e.base, &e.d, e.u);
		o = opts(&c, paths[i], DP_UPSTREAM_BUFFERED);
		o.max_response = 200000;
		start(&c, &o);
		run_until(e.base, &c.done, 1, 10000);
		assert_int_equal(c.outcome, DP_UPSTREAM_OK);
		assert_true(json_is_array(c.json));
		call_release(&c);
	}

	/* an SSE event over max_event */
	call_init(&c, e.base, &e.d, e.u);
	struct dp_upstream_opts o = opts(&c, "/hugeevent", DP_UPSTREAM_SSE);
	o.max_event = 4096;
	start(&c, &o);
	run_until(e.base, &c.done, 1, 10000);
	assert_int_equal(c.outcome, DP_UPSTREAM_BAD_RESPONSE);
	assert_string_equal(c.code, "event_too_large");
	assert_int_equal(c.nev, 0);
	call_release(&c);

	/* a stream cut inside an event */
	call_init(&c, e.base, &e.d, e.u);
	o = opts(&c, "/truncated", DP_UPSTREAM_SSE);
	start(&c, &o);
	run_until(e.base, &c.done, 1, 10000);
	assert_int_equal(c.nev, 1);
	assert_int_equal(c.outcome, DP_UPSTREAM_BAD_RESPONSE);
	assert_string_equal(c.code, "stream_truncated");
	call_release(&c);
	env_teardown(&e);
}

static void write_event(struct daemon *d, const char *name, const char *data)
{
	char buf[256];
	int n = snprintf(buf, sizeof(buf), "event: %s\ndata: %s\n\n", name, data);
	assert_non_null(d->held);
	assert_int_equal(dp_http_stream_write(d->held, buf, (size_t)n), 0);
}

/* Each event reaches the callback before the next one is written. */
static void test_sse_one_by_one(void **state)
{
	(void)state;
	struct env e;
	env_setup(&e);
	struct call c;
	call_init(&c, e.base, &e.d, e.u);
	struct dp_upstream_opts o = opts(&c, "/sse", DP_UPSTREAM_SSE);
	o.body = "{\"model\":\"m\",\"input\":\"hi\",\"stream\":true}";
	o.token = "tok";
	start(&c, &o);
	run_until(e.base, &e.d.requests, 1, 10000);
	assert_string_equal(e.d.last_auth, "Bearer tok");
	for (int i = 0; i < 20; i++) {
		char data[64];
		snprintf(data, sizeof(data), "{\"type\":\"message.delta\",\"content\":\"%d\"}", i);
		write_event(&e.d, "message.delta", data);
		run_until(e.base, &c.nev, i + 1, 10000);
		assert_int_equal(c.nev, i + 1);
		assert_int_equal(c.done, 0);
	}
	assert_non_null(strstr(c.evs.data, "message.delta={\"type\":\"message.delta\",\"content\":\"19\"};"));
	dp_http_stream_end(e.d.held);
	e.d.held = NULL;
	run_until(e.base, &c.done, 1, 10000);
	assert_int_equal(c.outcome, DP_UPSTREAM_OK);
	assert_int_equal(c.events, 20);
	assert_true(c.streamed);
	assert_true(c.ttfb_ms >= 0);
	call_release(&c);
	env_teardown(&e);
}

/* Abort mid-stream: done(CANCELLED) once, and the daemon sees the close. */
static void test_sse_abort(void **state)
{
	(void)state;
	struct env e;
	env_setup(&e);
	struct call c;
	call_init(&c, e.base, &e.d, e.u);
	struct dp_upstream_opts o = opts(&c, "/sse", DP_UPSTREAM_SSE);
	start(&c, &o);
	run_until(e.base, &e.d.requests, 1, 10000);
	write_event(&e.d, "a", "1");
	run_until(e.base, &c.nev, 1, 10000);
	dp_upstream_abort(c.req);
	dp_upstream_abort(c.req);    /* twice is harmless */
	assert_int_equal(c.done, 0); /* never synchronously */
	write_event(&e.d, "b", "2"); /* must not be delivered */
	event_base_loop(e.base, EVLOOP_NONBLOCK);
	assert_int_equal(c.done, 1); /* within one loop turn */
	assert_int_equal(c.outcome, DP_UPSTREAM_CANCELLED);
	assert_string_equal(c.code, "cancelled");
	run_until(e.base, &e.d.closed, 1, 5000);
	assert_int_equal(c.nev, 1);
	assert_int_equal(dp_upstream_active(e.u), 0);
	call_release(&c);

	/* abort from inside the event callback, with events queued behind */
	call_init(&c, e.base, &e.d, e.u);
	c.abort_at = 2;
	o = opts(&c, "/burst", DP_UPSTREAM_SSE);
	start(&c, &o);
	run_until(e.base, &c.done, 1, 10000);
	assert_int_equal(c.outcome, DP_UPSTREAM_CANCELLED);
	assert_int_equal(c.nev, 2);
	call_release(&c);
	env_teardown(&e);
}

/* Pause from inside a callback holds the rest of the chunk; resume
 * delivers it in order and then the end. */
static void test_sse_pause_resume(void **state)
{
	(void)state;
	struct env e;
	env_setup(&e);
	struct call c;
	call_init(&c, e.base, &e.d, e.u);
	c.pause_at = 1;
	struct dp_upstream_opts o = opts(&c, "/burst", DP_UPSTREAM_SSE);
	start(&c, &o);
	run_until(e.base, &c.nev, 1, 10000);
	run_for(e.base, 100);
	assert_int_equal(c.nev, 1);
	assert_int_equal(c.done, 0); /* events are held: not done yet */
	assert_true(dp_upstream_paused(c.req));
	c.pause_at = 2;
	dp_upstream_resume(c.req);
	assert_int_equal(c.nev, 1); /* never synchronously */
	run_until(e.base, &c.nev, 2, 10000);
	run_for(e.base, 50);
	assert_int_equal(c.nev, 2);
	assert_int_equal(c.done, 0);
	dp_upstream_resume(c.req);
	run_until(e.base, &c.done, 1, 10000);
	assert_int_equal(c.nev, 3);
	assert_string_equal(c.evs.data, "a=1;b=2;c=3;");
	assert_int_equal(c.outcome, DP_UPSTREAM_OK);
	call_release(&c);

	/* paused from outside between events: the daemon keeps writing,
	 * nothing is delivered until resume, then everything in order */
	call_init(&c, e.base, &e.d, e.u);
	o = opts(&c, "/sse", DP_UPSTREAM_SSE);
	o.idle_timeout_ms = 200; /* must not fire while paused */
	int before = e.d.requests;
	start(&c, &o);
	run_until(e.base, &e.d.requests, before + 1, 10000);
	write_event(&e.d, "a", "1");
	run_until(e.base, &c.nev, 1, 10000);
	dp_upstream_pause(c.req);
	for (int i = 0; i < 5; i++)
		write_event(&e.d, "p", "x");
	run_for(e.base, 400);
	assert_int_equal(c.nev, 1);
	assert_int_equal(c.done, 0);
	dp_upstream_resume(c.req);
	run_until(e.base, &c.nev, 6, 10000);
	assert_string_equal(c.evs.data, "a=1;p=x;p=x;p=x;p=x;p=x;");
	dp_http_stream_end(e.d.held);
	e.d.held = NULL;
	run_until(e.base, &c.done, 1, 10000);
	assert_int_equal(c.outcome, DP_UPSTREAM_OK);
	call_release(&c);
	env_teardown(&e);
}

static void test_sse_idle_and_drop(void **state)
{
	(void)state;
	struct env e;
	env_setup(&e);
	struct call c;
	call_init(&c, e.base, &e.d, e.u);
	struct dp_upstream_opts o = opts(&c, "/sse", DP_UPSTREAM_SSE);
	o.idle_timeout_ms = 300;
	start(&c, &o);
	run_until(e.base, &e.d.requests, 1, 10000);
	write_event(&e.d, "a", "1");
	run_until(e.base, &c.nev, 1, 10000);
	run_until(e.base, &c.done, 1, 10000);
	assert_int_equal(c.outcome, DP_UPSTREAM_STALLED);
	assert_non_null(strstr(c.msg, "300 ms"));
	run_until(e.base, &e.d.closed, 1, 5000);
	call_release(&c);

	/* the daemon dies mid-stream: a second server we free */
	struct daemon d2;
	daemon_start(&d2, e.base);
	call_init(&c, e.base, &d2, e.u);
	o = opts(&c, "/sse", DP_UPSTREAM_SSE);
	start(&c, &o);
	run_until(e.base, &d2.requests, 1, 10000);
	write_event(&d2, "a", "1");
	run_until(e.base, &c.nev, 1, 10000);
	dp_http_server_free(d2.srv);
	run_until(e.base, &c.done, 1, 10000);
	assert_int_equal(c.outcome, DP_UPSTREAM_STOPPED);
	assert_string_equal(c.code, "connection_lost");
	assert_true(c.streamed);
	call_release(&c);
	env_teardown(&e);
}

/* A stream request answered with an error is classified, not streamed. */
static void test_sse_errors(void **state)
{
	(void)state;
	struct env e;
	env_setup(&e);
	struct call c;
	const struct {
		const char *path;
		enum dp_upstream_outcome o;
		const char *code;
	} cases[] = {
	        {"/auth", DP_UPSTREAM_UNAUTHORIZED, "unauthorized"},
	        {"/unexpected", DP_UPSTREAM_HTTP_ERROR, "unexpected_endpoint"},
	        {"/err200", DP_UPSTREAM_HTTP_ERROR, "daemon_error"},
	        {"/notfound", DP_UPSTREAM_HTTP_ERROR, "http_error"},
	        {"/api/v1/models", DP_UPSTREAM_BAD_RESPONSE, "not_event_stream"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		call_init(&c, e.base, &e.d, e.u);
		struct dp_upstream_opts o = opts(&c, cases[i].path, DP_UPSTREAM_SSE);
		o.body = "{}";
		start(&c, &o);
		run_until(e.base, &c.done, 1, 10000);
		assert_int_equal(c.outcome, cases[i].o);
		assert_string_equal(c.code, cases[i].code);
		assert_int_equal(c.nev, 0);
		assert_false(c.streamed);
		call_release(&c);
	}
	env_teardown(&e);
}

/* Many events, written in batches that split events across reads: all
 * arrive, in order, each once. */
static int seq_ok;
static int seq_next;
static void on_seq_event(struct dp_upstream_req *r, const struct dp_sse_parse_event *ev, void *arg)
{
	struct call *c = arg;
	(void)r;
	char want[32];
	snprintf(want, sizeof(want), "%d", seq_next++);
	if (strcmp(ev->data, want) != 0 || strcmp(ev->event, "n") != 0)
		seq_ok = 0;
	c->nev++;
}

static void test_sse_many(void **state)
{
	(void)state;
	struct env e;
	env_setup(&e);
	struct call c;
	call_init(&c, e.base, &e.d, e.u);
	struct dp_upstream_opts o = opts(&c, "/sse", DP_UPSTREAM_SSE);
	o.on_event = on_seq_event;
	seq_ok = 1;
	seq_next = 0;
	start(&c, &o);
	run_until(e.base, &e.d.requests, 1, 10000);
	const int total = 20000;
	struct dp_buf b;
	dp_buf_init(&b, 1 << 20);
	double t0 = now_ms();
	for (int i = 0; i < total;) {
		dp_buf_reset(&b);
		for (int k = 0; k < 997 && i < total; k++, i++)
			dp_buf_addf(&b, "event: n\r\ndata: %d\r\n\r\n", i);
		assert_int_equal(dp_http_stream_write(e.d.held, b.data, b.len), 0);
		run_until(e.base, &c.nev, i - 500, 10000); /* keep the server queue short */
	}
	run_until(e.base, &c.nev, total, 10000);
	double ms = now_ms() - t0;
	dp_http_stream_end(e.d.held);
	e.d.held = NULL;
	run_until(e.base, &c.done, 1, 10000);
	assert_true(seq_ok);
	assert_int_equal(c.nev, total);
	assert_int_equal(c.events, total);
	assert_int_equal(c.outcome, DP_UPSTREAM_OK);
	print_message(
	        "%d events through lib/http -> upstream in %.1f ms (%.0f events/s, server and client on one loop)\n",
	        total, ms, total / (ms / 1000.0));
	dp_buf_release(&b);
	call_release(&c);
	env_teardown(&e);
}

static void test_raw(void **state)
{
	(void)state;
	struct env e;
	env_setup(&e);
	struct call c;
	call_init(&c, e.base, &e.d, e.u);
	struct dp_upstream_opts o = opts(&c, "/raw", DP_UPSTREAM_RAW);
	start(&c, &o);
	run_until(e.base, &e.d.requests, 1, 10000);
	assert_int_equal(dp_http_stream_write(e.d.held, "{\"a\":1}\n", 8), 0);
	run_until(e.base, &c.nev, 1, 10000);
	assert_int_equal(dp_http_stream_write(e.d.held, "{\"b\":2}\n", 8), 0);
	run_until(e.base, &c.nev, 2, 10000);
	dp_http_stream_end(e.d.held);
	run_until(e.base, &c.done, 1, 10000);
	assert_int_equal(c.outcome, DP_UPSTREAM_OK);
	assert_string_equal(c.evs.data, "{\"a\":1}\n{\"b\":2}\n");
	call_release(&c);

	/* RAW and LM Studio's 200-with-error JSON */
	call_init(&c, e.base, &e.d, e.u);
	o = opts(&c, "/unexpected", DP_UPSTREAM_RAW);
	start(&c, &o);
	run_until(e.base, &c.done, 1, 10000);
	assert_string_equal(c.code, "unexpected_endpoint");
	assert_int_equal(c.nev, 0);
	call_release(&c);
	env_teardown(&e);
}

/* Requests started from inside an event callback (curl refuses multi
 * calls there: deferred) and requests in flight at dp_upstream_free. */
static void test_reentrancy_and_free(void **state)
{
	(void)state;
	struct env e;
	env_setup(&e);
	struct call parent, child;
	call_init(&parent, e.base, &e.d, e.u);
	call_init(&child, e.base, &e.d, e.u);
	parent.start_at = 1;
	parent.child = &child;
	parent.child_opts = opts(&child, "/api/v1/models", DP_UPSTREAM_BUFFERED);
	struct dp_upstream_opts o = opts(&parent, "/burst", DP_UPSTREAM_SSE);
	start(&parent, &o);
	run_until(e.base, &parent.done, 1, 10000);
	run_until(e.base, &child.done, 1, 10000);
	assert_int_equal(parent.outcome, DP_UPSTREAM_OK);
	assert_int_equal(parent.nev, 3);
	assert_int_equal(child.outcome, DP_UPSTREAM_OK);
	call_release(&parent);
	call_release(&child);

	/* free with a held stream and a hanging request */
	struct call a, b;
	call_init(&a, e.base, &e.d, e.u);
	call_init(&b, e.base, &e.d, e.u);
	o = opts(&a, "/sse", DP_UPSTREAM_SSE);
	int before = e.d.requests;
	start(&a, &o);
	run_until(e.base, &e.d.requests, before + 1, 10000);
	struct dp_upstream_opts o2 = opts(&b, "/api/v1/models", DP_UPSTREAM_BUFFERED);
	start(&b, &o2);
	assert_int_equal(dp_upstream_active(e.u), 2);
	dp_upstream_free(e.u);
	e.u = NULL;
	assert_int_equal(a.done, 1);
	assert_int_equal(b.done, 1);
	assert_int_equal(a.outcome, DP_UPSTREAM_CANCELLED);
	assert_int_equal(b.outcome, DP_UPSTREAM_CANCELLED);
	run_for(e.base, 50);
	call_release(&a);
	call_release(&b);
	env_teardown(&e);
}

static void test_validation(void **state)
{
	(void)state;
	const char *err = NULL;
	assert_int_equal(dp_upstream_check_url("http://10.0.0.5:1234", &err), 0);
	assert_int_equal(dp_upstream_check_url("https://lms.example.org/prefix/", &err), 0);
	assert_int_equal(dp_upstream_check_url("http://[::1]:1234", &err), 0);
	const char *bad[] = {
	        "",
	        "ftp://h/",
	        "file:///etc/passwd",
	        "gopher://h:70/",
	        "h:1234",
	        "//h:1234",
	        "http://user:pw@h:1234",
	        "http://user@h:1234",
	        "http://h:1234/?a=1",
	        "http://h:1234/#x",
	        "http://h :1234",
	        "http://h:1234/\r\nX: y",
	        "http:///path",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err = NULL;
		if (dp_upstream_check_url(bad[i], &err) != -EINVAL)
			fail_msg("accepted %s", bad[i]);
		assert_non_null(err);
	}
	assert_int_equal(dp_upstream_check_url("http://u:p@h/", &err), -EINVAL);
	assert_non_null(strstr(err, "credentials"));

	char *u = dp_upstream_url("http://h:1234/", "/api/v1/models", &err);
	assert_string_equal(u, "http://h:1234/api/v1/models");
	free(u);
	u = dp_upstream_url("https://h/lm//", "/api/v0/models?a=b", &err);
	assert_string_equal(u, "https://h/lm/api/v0/models?a=b");
	free(u);
	const char *badpath[] = {"api", "/a/../b", "/..", "/a/./b", "/a b", "/a#b", "/a\\b", "/a\n"};
	for (size_t i = 0; i < sizeof(badpath) / sizeof(badpath[0]); i++)
		if (dp_upstream_url("http://h/", badpath[i], &err))
			fail_msg("accepted path %s", badpath[i]);
	u = dp_upstream_url("http://h/", "/a/..b/.c", &err); /* not dot segments */
	assert_non_null(u);
	free(u);

	/* start refuses what cannot be sent; no callback ever runs */
	struct event_base *base = event_base_new();
	struct dp_upstream *up = dp_upstream_new(base);
	struct call c;
	struct daemon d;
	memset(&d, 0, sizeof(d));
	snprintf(d.url, sizeof(d.url), "http://127.0.0.1:9");
	call_init(&c, base, &d, up);
	struct dp_upstream_opts o = opts(&c, "/x", DP_UPSTREAM_BUFFERED);
	o.token = "abc\r\nX-Evil: 1";
	assert_null(dp_upstream_start(up, &o, &err));
	assert_non_null(strstr(err, "api token"));
	o.token = NULL;
	o.base_url = "http://u:p@127.0.0.1:9";
	assert_null(dp_upstream_start(up, &o, &err));
	o.base_url = d.url;
	o.method = "TRACE";
	assert_null(dp_upstream_start(up, &o, &err));
	o.method = NULL;
	o.mode = DP_UPSTREAM_SSE;
	o.on_event = NULL;
	assert_null(dp_upstream_start(up, &o, &err));
	assert_int_equal(dp_upstream_active(up), 0);
	run_for(base, 20);
	assert_int_equal(c.done, 0);
	assert_string_equal(dp_upstream_outcome_name(DP_UPSTREAM_STALLED), "stalled");
	call_release(&c);
	dp_upstream_free(up);
	event_base_free(base);
}

/* ------------------------------------------------- a scripted raw server */

/* Answers request number n (over all connections, from 1) with script[n-1]:
 * bytes to write, or NULL to close the connection without answering. */
struct raw {
	struct evconnlistener *l;
	char url[64];
	const char *const *script;
	size_t nscript;
	int requests, accepted;
	struct raw_conn *conns;
};

struct raw_conn {
	struct raw *s;
	struct raw_conn *next;
	struct bufferevent *bev;
	struct dp_buf in;
};

static void raw_free_conn(struct bufferevent *bev, struct raw_conn *c)
{
	for (struct raw_conn **pp = &c->s->conns; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	dp_buf_release(&c->in);
	free(c);
	bufferevent_free(bev);
}

static void raw_stop(struct raw *s)
{
	while (s->conns)
		raw_free_conn(s->conns->bev, s->conns);
	evconnlistener_free(s->l);
}

static void raw_read(struct bufferevent *bev, void *arg)
{
	struct raw_conn *c = arg;
	char buf[4096];
	size_t n;
	while ((n = bufferevent_read(bev, buf, sizeof(buf))) > 0)
		dp_buf_add(&c->in, buf, n);
	char *end;
	while ((end = strstr(c->in.data, "\r\n\r\n"))) {
		dp_buf_consume(&c->in, (size_t)(end + 4 - c->in.data));
		int i = c->s->requests++;
		const char *ans = (size_t)i < c->s->nscript ? c->s->script[i] : NULL;
		if (!ans) {
			raw_free_conn(bev, c);
			return;
		}
		bufferevent_write(bev, ans, strlen(ans));
	}
}

static void raw_event(struct bufferevent *bev, short what, void *arg)
{
	(void)what;
	raw_free_conn(bev, arg);
}

static void raw_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int len, void *arg)
{
	struct raw *s = arg;
	(void)sa;
	(void)len;
	s->accepted++;
	struct bufferevent *bev = bufferevent_socket_new(evconnlistener_get_base(l), fd, BEV_OPT_CLOSE_ON_FREE);
	struct raw_conn *c = calloc(1, sizeof(*c));
	c->s = s;
	c->bev = bev;
	c->next = s->conns;
	s->conns = c;
	dp_buf_init(&c->in, 1 << 16);
	bufferevent_setcb(bev, raw_read, NULL, raw_event, c);
	bufferevent_enable(bev, EV_READ);
}

static void raw_start(struct raw *s, struct event_base *base, const char *const *script, size_t n)
{
	memset(s, 0, sizeof(*s));
	s->script = script;
	s->nscript = n;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	s->l = evconnlistener_new_bind(base, raw_accept, s, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 16,
	                               (struct sockaddr *)&a, sizeof(a));
	assert_non_null(s->l);
	struct sockaddr_in b;
	socklen_t bl = sizeof(b);
	getsockname(evconnlistener_get_fd(s->l), (struct sockaddr *)&b, &bl);
	snprintf(s->url, sizeof(s->url), "http://127.0.0.1:%d", ntohs(b.sin_port));
}

#define JSON_OK "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"ok\":true}"

/* A kept-alive connection the server closes instead of answering (its
 * keep-alive timer and our request crossing): sent again on a new one. */
static void test_keepalive_retry(void **state)
{
	(void)state;
	struct env e;
	env_setup(&e);
	static const char *const script[] = {JSON_OK, NULL, JSON_OK, JSON_OK};
	struct raw s;
	raw_start(&s, e.base, script, 4);
	struct daemon d;
	memset(&d, 0, sizeof(d));
	snprintf(d.url, sizeof(d.url), "%s", s.url);
	for (int i = 0; i < 3; i++) {
		struct call c;
		call_init(&c, e.base, &d, e.u);
		struct dp_upstream_opts o = opts(&c, "/x", DP_UPSTREAM_BUFFERED);
		start(&c, &o);
		run_until(e.base, &c.done, 1, 10000);
		assert_int_equal(c.outcome, DP_UPSTREAM_OK);
		assert_true(json_is_true(json_object_get(c.json, "ok")));
		call_release(&c);
	}
	/* 1 and 2 on the first connection (2 dropped), 2 again and 3 on the second */
	assert_int_equal(s.requests, 4);
	assert_int_equal(s.accepted, 2);
	raw_stop(&s);
	env_teardown(&e);
}

/* Paused on the event that ends a Content-Length body: nothing more will
 * ever be read, yet resume delivers the rest and the request ends. */
static void test_pause_on_last_piece(void **state)
{
	(void)state;
	struct env e;
	env_setup(&e);
	static const char *const script[] = {
	        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: 19\r\n\r\n"
	        "data: 1\n\ndata: 22\n\n",
	};
	struct raw s;
	raw_start(&s, e.base, script, 1);
	struct daemon d;
	memset(&d, 0, sizeof(d));
	snprintf(d.url, sizeof(d.url), "%s", s.url);
	struct call c;
	call_init(&c, e.base, &d, e.u);
	c.pause_at = 1;
	struct dp_upstream_opts o = opts(&c, "/sse", DP_UPSTREAM_SSE);
	start(&c, &o);
	run_until(e.base, &c.nev, 1, 10000);
	run_for(e.base, 100);
	assert_int_equal(c.done, 0);
	dp_upstream_resume(c.req);
	run_until(e.base, &c.done, 1, 10000);
	assert_int_equal(c.outcome, DP_UPSTREAM_OK);
	assert_string_equal(c.evs.data, "=1;=22;");
	call_release(&c);
	raw_stop(&s);
	env_teardown(&e);
}

/* Host names go through the system resolver (getaddrinfo on the resolver
 * threads, never on the loop): localhost from /etc/hosts answers; a name
 * that does not exist is "unresolvable"; a request freed while its lookup
 * runs is harmless. */
static void test_host_names(void **state)
{
	(void)state;
	struct env e;
	env_setup(&e);
	char saved[64];
	snprintf(saved, sizeof(saved), "%s", e.d.url);
	snprintf(e.d.url, sizeof(e.d.url), "http://localhost:%d", e.d.port);
	struct call c;
	simple(&e, &c, "/api/v1/models", NULL);
	assert_int_equal(c.outcome, DP_UPSTREAM_OK);
	call_release(&c);
	snprintf(e.d.url, sizeof(e.d.url), "http://no-such-host.invalid:%d", e.d.port);
	simple(&e, &c, "/api/v1/models", NULL);
	if (c.outcome != DP_UPSTREAM_STOPPED)
		fail_msg("no-such-host: %s %s", c.code, c.msg);
	assert_string_equal(c.code, "unresolvable");
	assert_non_null(strstr(c.msg, "no-such-host.invalid"));
	call_release(&c);
	/* a client freed while a lookup may still run: on_done runs once
	 * (cancelled, or ok when it was quick), the late lookup is freed */
	snprintf(e.d.url, sizeof(e.d.url), "http://localhost:%d", e.d.port);
	struct dp_upstream *u2 = dp_upstream_new(e.base);
	call_init(&c, e.base, &e.d, u2);
	struct dp_upstream_opts o = opts(&c, "/api/v1/models", DP_UPSTREAM_BUFFERED);
	start(&c, &o);
	event_base_loop(e.base, EVLOOP_NONBLOCK);
	dp_upstream_free(u2);
	assert_int_equal(c.done, 1);
	assert_true(c.outcome == DP_UPSTREAM_CANCELLED || c.outcome == DP_UPSTREAM_OK);
	call_release(&c);
	snprintf(e.d.url, sizeof(e.d.url), "%s", saved);
	env_teardown(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_validation),
	        cmocka_unit_test(test_json_ok),
	        cmocka_unit_test(test_post_body),
	        cmocka_unit_test(test_error_bodies),
	        cmocka_unit_test(test_refused_and_stalled),
	        cmocka_unit_test(test_size_limits),
	        cmocka_unit_test(test_sse_one_by_one),
	        cmocka_unit_test(test_sse_abort),
	        cmocka_unit_test(test_sse_pause_resume),
	        cmocka_unit_test(test_sse_idle_and_drop),
	        cmocka_unit_test(test_sse_errors),
	        cmocka_unit_test(test_sse_many),
	        cmocka_unit_test(test_raw),
	        cmocka_unit_test(test_reentrancy_and_free),
	        cmocka_unit_test(test_keepalive_retry),
	        cmocka_unit_test(test_pause_on_last_piece),
	        cmocka_unit_test(test_host_names),
	};
	int failed = cmocka_run_group_tests_name("native", tests, NULL, NULL);
	curl_only = 1;
	failed += cmocka_run_group_tests_name("libcurl", tests, NULL, NULL);
	return failed;
}
