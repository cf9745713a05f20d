/*
 * mcp.c - the MCP client (see mcp.h for the contract).
 *
 * One struct dp_mcp_op is one session driven by a small state machine:
 *
 *   S_INIT --initialize result--> S_INITIALIZED --notification sent-->
 *     discover: S_LIST (page after page) [--> S_LIST_WAIT] --> close
 *     call:     S_CALL --> close
 *   any failure ---------------------------------------------> close
 *   S_CLOSING: DELETE the session / abort the SSE stream / close stdin,
 *     wait, SIGTERM, SIGKILL; once nothing is outstanding, a deferred event
 *     delivers the outcome and frees the op.
 *
 * At most one request of ours is pending at a time (pending_id); answers to
 * server requests (ping) and notifications may go out meanwhile. Every
 * transport hands complete messages to handle_message(), which matches
 * answers by id and dispatches notifications and server requests.
 *
 * Outstanding resources are counted (nreqs: upstream requests, job_live:
 * the stdio child); the op is freed only when both are zero and the outcome
 * was delivered, so no callback of upstream or job can reach a freed op.
 */
#include "mcp.h"

#include <ctype.h>
#include <errno.h>
#include <event2/event.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "job.h"
#include "jsonrpc.h"
#include "log.h"
#include "upstream.h"
#include "url.h"
#include "xmalloc.h"

#define MAX_HEADERS       32
#define CLOSE_WAIT_MS     2000 /* stdio: after closing stdin, before SIGTERM */
#define KILL_GRACE_MS     2000 /* stdio: SIGTERM -> SIGKILL */
#define DELETE_TIMEOUT_MS 3000
#define MAX_RELISTS       2
#define MAX_SERVER_TEXT   200

enum step { S_INIT = 0, S_INITIALIZED, S_LIST, S_LIST_WAIT, S_CALL, S_CLOSING };
enum post_kind { P_REQUEST, P_NOTIFY, P_REPLY, P_DELETE };

struct post;

struct dp_mcp_op {
	struct dp_mcp_env env;
	dp_mcp_done_fn fn;
	void *arg;
	int cancelled;
	int is_call;
	char *tool;
	json_t *call_args;

	enum dp_mcp_transport configured, cur;
	char *url, *base, *path; /* HTTP: the URL and its split */
	char **headers;          /* user headers, NULL-terminated */
	char **argv, **envv;     /* stdio */
	int connect_timeout_ms, request_timeout_ms, total_timeout_ms, lc_wait_ms;
	size_t max_response;

	enum step step;
	int64_t next_id, pending_id;
	int pending;
	const char *pending_method;
	struct event *req_timer, *total_timer, *wait_timer, *kill_timer, *kick;

	/* outcome */
	int result_set;
	const char *status, *code;
	char msg[512];
	int rpc_code;
	char version[32];
	char session[257];
	json_t *server_info, *caps, *tools, *call_result;
	int list_changed, lc_at_start, relists, pages, reinit_used, reinitialised;
	char *cursor;

	/* HTTP */
	struct post *posts; /* POSTs and DELETE in flight */
	int nreqs;
	int session_gone;
	/* legacy SSE */
	struct dp_upstream_req *get_req;
	char *post_base, *post_path;
	/* stdio */
	struct dp_job *job;
	int job_live, kill_sent;

	int delivered;
	struct timespec t0;
};

struct post {
	struct post *next, *prev;
	struct dp_mcp_op *op;
	struct dp_upstream_req *req;
	enum post_kind kind;
	int is_init;
	int had_session;
	int64_t id;
};

static void begin_close(struct dp_mcp_op *op);
static void handle_message(struct dp_mcp_op *op, json_t *root);
static void send_request(struct dp_mcp_op *op, const char *method, json_t *params);
static void start_sse(struct dp_mcp_op *op);

const char *dp_mcp_transport_name(enum dp_mcp_transport t)
{
	switch (t) {
	case DP_MCP_AUTO:
		return "auto";
	case DP_MCP_STREAMABLE_HTTP:
		return "streamable_http";
	case DP_MCP_SSE:
		return "sse";
	case DP_MCP_STDIO:
		return "stdio";
	}
	return "auto";
}

int dp_mcp_version_supported(const char *v)
{
	static const char *const ok[] = {"2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"};
	for (size_t i = 0; v && i < sizeof(ok) / sizeof(ok[0]); i++)
		if (strcmp(v, ok[i]) == 0)
			return 1;
	return 0;
}

/* ------------------------------------------------------------------ URLs */

/* An http(s) URL that may carry a query: parsed without it; *query points
 * at "?..." in url or at "". */
static int parse_with_query(const char *url, struct dp_url *u, const char **query)
{
	const char *err;
	if (!url || strlen(url) > DP_UPSTREAM_MAX_URL || strchr(url, '#'))
		return -EINVAL;
	const char *q = strchr(url, '?');
	char *pre = q ? xstrndup(url, (size_t)(q - url)) : xstrdup(url);
	int rc = dp_url_parse(pre, u, &err);
	free(pre);
	*query = q ? q : "";
	return rc < 0 ? -EINVAL : 0;
}

int dp_mcp_resolve_endpoint(const char *sse_url, const char *data, size_t len, char **out)
{
	*out = NULL;
	if (!len || len > 2048 || memchr(data, '\0', len))
		return -EINVAL;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)data[i] <= 0x20 || (unsigned char)data[i] >= 0x7f || data[i] == '#')
			return -EINVAL;
	struct dp_url base, ref;
	const char *bq, *rq;
	if (parse_with_query(sse_url, &base, &bq) < 0)
		return -EINVAL;
	char *d = xstrndup(data, len);
	char origin[DP_URL_HOST_MAX + 32];
	dp_url_origin(&base, origin, sizeof(origin));
	int rc = -EINVAL;
	size_t scheme_end = strcspn(d, ":/?");
	if (d[scheme_end] == ':') {
		/* absolute: the same scheme, host and port only */
		if (strchr(d, '@'))
			goto out;
		if (parse_with_query(d, &ref, &rq) < 0)
			goto out;
		if (ref.https != base.https || strcasecmp(ref.host, base.host) != 0 || ref.port != base.port) {
			rc = -EPERM;
			goto out;
		}
		*out = xasprintf("%s%s%s", origin, ref.path[0] ? ref.path : "/", rq);
	} else if (d[0] == '/' && d[1] == '/') {
		rc = -EPERM; /* network-path reference: another host */
		goto out;
	} else if (d[0] == '/') {
		*out = xasprintf("%s%s", origin, d);
	} else if (d[0] == '?') {
		*out = xasprintf("%s%s%s", origin, base.path[0] ? base.path : "/", d);
	} else {
		/* relative path: against the base path's directory */
		const char *slash = strrchr(base.path, '/');
		int dir = slash ? (int)(slash - base.path) : 0;
		*out = xasprintf("%s%.*s/%s", origin, dir, base.path, d);
	}
	rc = 0;
out:
	free(d);
	return rc;
}

int dp_mcp_split_url(const char *url, char **base, char **path)
{
	*base = *path = NULL;
	struct dp_url u;
	const char *q;
	if (parse_with_query(url, &u, &q) < 0)
		return -EINVAL;
	char origin[DP_URL_HOST_MAX + 32];
	dp_url_origin(&u, origin, sizeof(origin));
	*base = xstrdup(origin);
	*path = xasprintf("%s%s", u.path[0] ? u.path : "/", q);
	return 0;
}

/* ------------------------------------------------------------- helpers */

static double ms_since(const struct timespec *t0)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t0->tv_sec) * 1e3 + (double)(now.tv_nsec - t0->tv_nsec) / 1e6;
}

static void arm(struct event *ev, int ms)
{
	struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
	evtimer_add(ev, &tv);
}

/* Server text for our messages: bounded, control characters blanked. */
static void clean(char *dst, size_t dstlen, const char *src)
{
	size_t i = 0;
	for (; src && src[i] && i + 1 < dstlen && i < MAX_SERVER_TEXT; i++) {
		unsigned char c = (unsigned char)src[i];
		dst[i] = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
	}
	dst[i] = '\0';
}

static char **copy_strv(const char *const *v, size_t max)
{
	size_t n = 0;
	while (v && v[n] && n < max)
		n++;
	char **c = xcalloc(n + 1, sizeof(*c));
	for (size_t i = 0; i < n; i++)
		c[i] = xstrdup(v[i]);
	return c;
}

static void free_strv(char **v, int wipe)
{
	for (size_t i = 0; v && v[i]; i++) {
		if (wipe)
			explicit_bzero(v[i], strlen(v[i]));
		free(v[i]);
	}
	free(v);
}

static void op_free(struct dp_mcp_op *op)
{
	event_free(op->req_timer);
	event_free(op->total_timer);
	event_free(op->wait_timer);
	event_free(op->kill_timer);
	event_free(op->kick);
	free(op->tool);
	json_decref(op->call_args);
	free(op->url);
	free(op->base);
	free(op->path);
	free_strv(op->headers, 1);
	free_strv(op->argv, 0);
	free_strv(op->envv, 1);
	json_decref(op->server_info);
	json_decref(op->caps);
	json_decref(op->tools);
	json_decref(op->call_result);
	free(op->cursor);
	free(op->post_base);
	free(op->post_path);
	explicit_bzero(op->session, sizeof(op->session));
	free(op);
}

static void deliver(struct dp_mcp_op *op)
{
	op->delivered = 1;
	if (op->cancelled || !op->fn)
		return;
	char hint[16] = "";
	if (op->session[0])
		snprintf(hint, sizeof(hint), "%.8s…", op->session);
	struct dp_mcp_outcome o = {
	        .status = op->status ? op->status : "failed",
	        .code = op->code ? op->code : "internal",
	        .message = op->msg,
	        .transport = op->cur,
	        .protocol_version = op->version,
	        .session_id_hint = hint,
	        .server_info = op->server_info,
	        .capabilities = op->caps,
	        .tools = op->tools,
	        .call_result = op->call_result,
	        .rpc_error_code = op->rpc_code,
	        .list_changed = op->list_changed,
	        .pages = op->pages,
	        .reinitialised = op->reinitialised,
	        .duration_ms = ms_since(&op->t0),
	};
	op->fn(&o, op->arg);
}

static void on_kick(evutil_socket_t fd, short what, void *arg)
{
	struct dp_mcp_op *op = arg;
	(void)fd;
	(void)what;
	if (op->step != S_CLOSING || op->nreqs || op->job_live)
		return;
	if (!op->delivered)
		deliver(op);
	op_free(op);
}

/* Closing and nothing outstanding: deliver from a deferred event. */
static void check_finish(struct dp_mcp_op *op)
{
	if (op->step == S_CLOSING && !op->nreqs && !op->job_live)
		event_active(op->kick, EV_TIMEOUT, 0);
}

__attribute__((format(printf, 3, 4))) static void fail(struct dp_mcp_op *op, const char *code, const char *fmt, ...)
{
	if (!op->result_set) {
		op->result_set = 1;
		if (strcmp(code, "needs_oauth") == 0)
			op->status = "needs_oauth";
		else if (strcmp(code, "cancelled") == 0)
			op->status = "cancelled";
		else
			op->status = "failed";
		op->code = code;
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(op->msg, sizeof(op->msg), fmt, ap);
		va_end(ap);
	}
	begin_close(op);
}

static void succeed(struct dp_mcp_op *op)
{
	if (!op->result_set) {
		op->result_set = 1;
		op->status = "ok";
		op->code = "ok";
		op->msg[0] = '\0';
	}
	begin_close(op);
}

/* ----------------------------------------------------------- transports */

static void post_free(struct post *p)
{
	struct dp_mcp_op *op = p->op;
	if (p->prev)
		p->prev->next = p->next;
	else
		op->posts = p->next;
	if (p->next)
		p->next->prev = p->prev;
	free(p);
}

/* Headers of a request: the user's + session + version (HTTP). */
static size_t build_headers(struct dp_mcp_op *op, const char **h, char *sess, size_t sesslen, char *ver, size_t verlen,
                            int with_session)
{
	size_t n = 0;
	for (size_t i = 0; op->headers[i] && n < MAX_HEADERS - 2; i++)
		h[n++] = op->headers[i];
	if (with_session && op->session[0]) {
		snprintf(sess, sesslen, "Mcp-Session-Id: %s", op->session);
		h[n++] = sess;
	}
	if (op->version[0] && op->cur == DP_MCP_STREAMABLE_HTTP) {
		snprintf(ver, verlen, "MCP-Protocol-Version: %s", op->version);
		h[n++] = ver;
	}
	h[n] = NULL;
	return n;
}

static const char *map_code(const struct dp_upstream_result *res)
{
	switch (res->outcome) {
	case DP_UPSTREAM_STOPPED:
		return "stopped";
	case DP_UPSTREAM_STALLED:
		return "stalled";
	case DP_UPSTREAM_UNAUTHORIZED:
		return "unauthorized";
	case DP_UPSTREAM_HTTP_ERROR:
		return "http_error";
	case DP_UPSTREAM_CANCELLED:
		return "cancelled";
	case DP_UPSTREAM_BAD_RESPONSE:
		if (res->code && (!strcmp(res->code, "response_too_large") || !strcmp(res->code, "event_too_large")))
			return "response_too_large";
		if (res->code && !strcmp(res->code, "blocked_address"))
			return "blocked_address";
		return "bad_response";
	case DP_UPSTREAM_OK:
		break;
	}
	return "ok";
}

/* A failed HTTP exchange: 401 (OAuth or not), redirect, the rest. */
static void http_failed(struct dp_mcp_op *op, struct dp_upstream_req *r, const struct dp_upstream_result *res,
                        const char *what)
{
	char www[8];
	if (res->status == 401) {
		if (r && dp_upstream_req_header(r, "WWW-Authenticate", www, sizeof(www)) == 0)
			fail(op, "needs_oauth", "%s", DP_MCP_NEEDS_OAUTH_MESSAGE);
		else
			fail(op, "unauthorized", "the server refused the credentials (http 401) on %s", what);
		return;
	}
	if (res->status >= 300 && res->status <= 399) {
		fail(op, "redirect", "the server answered %s with a redirect (http %d); redirects are not followed",
		     what, res->status);
		return;
	}
	if (res->status == 403) {
		fail(op, "http_error", "the server refused %s (http 403: forbidden, or a token without the scope)",
		     what);
		return;
	}
	if (res->outcome == DP_UPSTREAM_HTTP_ERROR || (res->status && (res->status < 200 || res->status > 299))) {
		fail(op, "http_error", "the server answered %s with http %d", what, res->status);
		return;
	}
	fail(op, map_code(res), "%s failed: %s", what, res->message && res->message[0] ? res->message : res->code);
}

static void dispatch_json_text(struct dp_mcp_op *op, const char *data, size_t len)
{
	struct dp_jsonrpc_msg m;
	if (!len)
		return; /* a priming event */
	if (dp_jsonrpc_parse(data, len, op->max_response, &m) < 0)
		return; /* not JSON: ignored (counted by nobody; servers must not) */
	json_t *root = json_incref(m.root);
	dp_jsonrpc_msg_release(&m);
	handle_message(op, root);
	json_decref(root);
}

/* -- streamable HTTP -- */

static void post_event(struct dp_upstream_req *r, const struct dp_sse_parse_event *ev, void *arg)
{
	struct post *p = arg;
	struct dp_mcp_op *op = p->op;
	if (op->step == S_CLOSING && p->kind != P_DELETE)
		return;
	if (p->is_init && !op->session[0]) {
		char sid[257];
		if (dp_upstream_req_header(r, "Mcp-Session-Id", sid, sizeof(sid)) == 0)
			snprintf(op->session, sizeof(op->session), "%s", sid);
	}
	if (ev->event_len && strcmp(ev->event, "message") != 0)
		return;
	dispatch_json_text(op, ev->data, ev->data_len);
}

static void after_notification(struct dp_mcp_op *op);

static void post_done(struct dp_upstream_req *r, const struct dp_upstream_result *res, void *arg)
{
	struct post *p = arg;
	struct dp_mcp_op *op = p->op;
	enum post_kind kind = p->kind;
	int is_init = p->is_init, had_session = p->had_session;
	int64_t id = p->id;
	op->nreqs--;
	post_free(p);
	if (op->step == S_CLOSING || res->outcome == DP_UPSTREAM_CANCELLED || kind == P_DELETE || kind == P_REPLY) {
		check_finish(op);
		return;
	}
	if (op->cur == DP_MCP_SSE) {
		/* legacy: the answer comes on the GET stream; the POST only says 2xx */
		if (res->status >= 200 && res->status <= 299) {
			if (kind == P_NOTIFY)
				after_notification(op);
			return;
		}
		http_failed(op, r, res, "a message post");
		return;
	}
	if (res->status >= 200 && res->status <= 299) {
		/* a notification's 202 has no body (the client calls that
		 * "not an event stream"): only a request needs an answer */
		if (is_init && !op->session[0]) {
			char sid[257];
			if (dp_upstream_req_header(r, "Mcp-Session-Id", sid, sizeof(sid)) == 0)
				snprintf(op->session, sizeof(op->session), "%s", sid);
		}
		if (res->json && res->outcome == DP_UPSTREAM_OK)
			handle_message(op, res->json);
		if (op->step == S_CLOSING)
			return;
		if (kind == P_NOTIFY) {
			after_notification(op);
		} else if (op->pending && op->pending_id == id) {
			const char *what = op->pending_method ? op->pending_method : "a request";
			if (res->outcome != DP_UPSTREAM_OK && res->status != 202)
				fail(op, map_code(res), "%s failed: %s", what,
				     res->message && res->message[0] ? res->message : res->code);
			else
				fail(op, "protocol_error", "the server answered %s without a response to it", what);
		}
		return;
	}
	int st = res->status;
	if (is_init && op->configured == DP_MCP_AUTO && (st == 400 || st == 404 || st == 405)) {
		start_sse(op); /* the old HTTP+SSE transport? */
		return;
	}
	if (kind == P_REQUEST && had_session && (st == 404 || st == 400) && !op->reinit_used) {
		/* the session is gone: initialise again, once, without it */
		op->reinit_used = 1;
		op->reinitialised = 1;
		op->session[0] = '\0';
		op->version[0] = '\0';
		op->pending = 0;
		evtimer_del(op->req_timer);
		op->step = S_INIT;
		json_t *params = json_pack("{s:s,s:{},s:{s:s,s:s,s:s}}", "protocolVersion", DP_MCP_PROTOCOL_VERSION,
		                           "capabilities", "clientInfo", "name", "daemonpulse", "title", "DaemonPulse",
		                           "version", "0.1.0");
		send_request(op, "initialize", params);
		json_decref(params);
		return;
	}
	http_failed(op, r, res, is_init ? "initialize" : (op->pending_method ? op->pending_method : "a request"));
}

static int http_post(struct dp_mcp_op *op, const char *text, enum post_kind kind, int is_init, int64_t id)
{
	const char *h[MAX_HEADERS + 1];
	char sess[300], ver[64];
	struct post *p = xcalloc(1, sizeof(*p));
	p->op = op;
	p->kind = kind;
	p->is_init = is_init;
	p->id = id;
	p->had_session = op->session[0] != '\0';
	build_headers(op, h, sess, sizeof(sess), ver, sizeof(ver), 1);
	struct dp_upstream_opts o = {
	        .method = kind == P_DELETE ? "DELETE" : "POST",
	        .headers = h,
	        .plain_http = 1,
	        .no_link_local = 1,
	        .connect_timeout_ms = op->connect_timeout_ms,
	        .on_done = post_done,
	        .arg = p,
	};
	if (op->cur == DP_MCP_SSE) {
		o.base_url = op->post_base;
		o.path = op->post_path;
		o.body = text;
		o.mode = DP_UPSTREAM_BUFFERED;
		o.allow_non_json = 1;
		o.timeout_ms = op->request_timeout_ms;
		o.max_response = op->max_response;
	} else {
		o.base_url = op->base;
		o.path = op->path;
		if (kind == P_DELETE) {
			o.mode = DP_UPSTREAM_BUFFERED;
			o.allow_non_json = 1;
			o.timeout_ms = DELETE_TIMEOUT_MS;
			o.max_response = 64 * 1024;
		} else {
			o.body = text;
			o.accept = "application/json, text/event-stream";
			o.mode = DP_UPSTREAM_SSE;
			o.sse_or_json = 1;
			o.on_event = post_event;
			o.timeout_ms = op->request_timeout_ms + 2000;
			o.max_response = op->max_response;
			o.max_event = op->max_response;
		}
	}
	const char *err = NULL;
	p->req = dp_upstream_start(op->env.up, &o, &err);
	explicit_bzero(sess, sizeof(sess));
	if (!p->req) {
		free(p);
		if (kind != P_DELETE)
			fail(op, "bad_request", "the request could not be started: %s", err ? err : "invalid");
		return -EINVAL;
	}
	p->next = op->posts;
	if (op->posts)
		op->posts->prev = p;
	op->posts = p;
	op->nreqs++;
	return 0;
}

/* -- legacy HTTP+SSE -- */

static void get_event(struct dp_upstream_req *r, const struct dp_sse_parse_event *ev, void *arg)
{
	struct dp_mcp_op *op = arg;
	(void)r;
	if (op->step == S_CLOSING)
		return;
	if (ev->event_len == 8 && memcmp(ev->event, "endpoint", 8) == 0) {
		if (op->post_base)
			return; /* only the first one counts */
		char *u = NULL, *b = NULL, *p = NULL;
		int rc = dp_mcp_resolve_endpoint(op->url, ev->data, ev->data_len, &u);
		if (rc == -EPERM) {
			fail(op, "redirect", "the sse endpoint event points to another host; refused");
			return;
		}
		if (rc < 0 || dp_mcp_split_url(u, &b, &p) < 0) {
			free(u);
			fail(op, "protocol_error", "the sse endpoint event is not a usable url");
			return;
		}
		free(u);
		op->post_base = b;
		op->post_path = p;
		evtimer_del(op->req_timer);
		json_t *params = json_pack("{s:s,s:{},s:{s:s,s:s,s:s}}", "protocolVersion", DP_MCP_PROTOCOL_VERSION,
		                           "capabilities", "clientInfo", "name", "daemonpulse", "title", "DaemonPulse",
		                           "version", "0.1.0");
		send_request(op, "initialize", params);
		json_decref(params);
		return;
	}
	if (ev->event_len && strcmp(ev->event, "message") != 0)
		return;
	if (!op->post_base)
		return;
	dispatch_json_text(op, ev->data, ev->data_len);
}

static void get_done(struct dp_upstream_req *r, const struct dp_upstream_result *res, void *arg)
{
	struct dp_mcp_op *op = arg;
	op->get_req = NULL;
	op->nreqs--;
	if (op->step == S_CLOSING || res->outcome == DP_UPSTREAM_CANCELLED) {
		check_finish(op);
		return;
	}
	if (!op->post_base) {
		if (res->outcome == DP_UPSTREAM_OK || (res->code && !strcmp(res->code, "not_event_stream")) ||
		    (op->configured == DP_MCP_AUTO && (res->status == 404 || res->status == 405)))
			fail(op, "protocol_error",
			     "not an mcp server: neither streamable http nor the legacy sse transport answered");
		else
			http_failed(op, r, res, "the sse stream");
		return;
	}
	if (res->outcome == DP_UPSTREAM_OK)
		fail(op, "stopped", "the server closed the sse stream before the session ended");
	else
		fail(op, map_code(res), "the sse stream failed: %s",
		     res->message && res->message[0] ? res->message : res->code);
}

static void start_sse(struct dp_mcp_op *op)
{
	op->cur = DP_MCP_SSE;
	op->session[0] = '\0';
	op->pending = 0;
	const char *h[MAX_HEADERS + 1];
	char sess[8], ver[8];
	build_headers(op, h, sess, sizeof(sess), ver, sizeof(ver), 0);
	struct dp_upstream_opts o = {
	        .method = "GET",
	        .base_url = op->base,
	        .path = op->path,
	        .headers = h,
	        .plain_http = 1,
	        .no_link_local = 1,
	        .mode = DP_UPSTREAM_SSE,
	        .timeout_ms = -1,
	        .connect_timeout_ms = op->connect_timeout_ms,
	        .max_event = op->max_response,
	        .on_event = get_event,
	        .on_done = get_done,
	        .arg = op,
	};
	const char *err = NULL;
	op->get_req = dp_upstream_start(op->env.up, &o, &err);
	if (!op->get_req) {
		fail(op, "bad_request", "the sse request could not be started: %s", err ? err : "invalid");
		return;
	}
	op->nreqs++;
	op->pending_method = "the sse endpoint event";
	arm(op->req_timer, op->request_timeout_ms);
}

/* -- stdio -- */

static void job_line(struct dp_job *job, const char *line, size_t len, void *arg)
{
	struct dp_mcp_op *op = arg;
	(void)job;
	if (op->step == S_CLOSING)
		return;
	dispatch_json_text(op, line, len);
}

static void job_done(struct dp_job *job, const struct dp_job_result *res, void *arg)
{
	struct dp_mcp_op *op = arg;
	(void)job;
	op->job = NULL;
	op->job_live = 0;
	evtimer_del(op->kill_timer);
	if (op->step == S_CLOSING) {
		check_finish(op);
		return;
	}
	if (res->state == DP_JOB_EXITED)
		fail(op, "server_exited", "the server process exited with status %d before the session ended",
		     res->exit_code);
	else
		fail(op, "server_exited", "the server process ended (%s) before the session ended",
		     dp_job_state_name(res->state));
}

static void kill_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dp_mcp_op *op = arg;
	(void)fd;
	(void)what;
	if (op->job && !op->kill_sent) {
		op->kill_sent = 1;
		dp_job_stop(op->job); /* SIGTERM now, SIGKILL after the grace period */
	}
}

static int start_stdio(struct dp_mcp_op *op)
{
	struct dp_job_spec spec = {
	        .argv = (const char *const *)op->argv,
	        .env = (const char *const *)op->envv,
	        .stdin_open = 1,
	        .max_line = op->max_response,
	        .kill_grace_ms = KILL_GRACE_MS,
	        .on_line = job_line,
	        .on_done = job_done,
	        .arg = op,
	};
	int rc = dp_job_start(op->env.jobs, &spec, &op->job);
	if (rc < 0) {
		fail(op, "spawn_failed", "could not start %s: %s", op->argv[0], strerror(-rc));
		return rc;
	}
	op->job_live = 1;
	return 0;
}

/* ------------------------------------------------------------- sending */

static void send_text(struct dp_mcp_op *op, char *text, enum post_kind kind, int is_init, int64_t id)
{
	if (!text) {
		fail(op, "internal", "could not encode a message");
		return;
	}
	if (op->cur == DP_MCP_STDIO) {
		size_t n = strlen(text);
		text = xrealloc(text, n + 2);
		text[n] = '\n';
		text[n + 1] = '\0';
		int rc = op->job ? dp_job_write(op->job, text, n + 1) : -EPIPE;
		free(text);
		if (rc < 0)
			fail(op, "server_exited", "could not write to the server's stdin: %s", strerror(-rc));
		else if (kind == P_NOTIFY)
			after_notification(op);
		return;
	}
	http_post(op, text, kind, is_init, id);
	free(text);
}

static void send_request(struct dp_mcp_op *op, const char *method, json_t *params)
{
	int64_t id = ++op->next_id;
	op->pending = 1;
	op->pending_id = id;
	op->pending_method = method;
	arm(op->req_timer, op->request_timeout_ms);
	send_text(op, dp_jsonrpc_request(id, method, params), P_REQUEST, strcmp(method, "initialize") == 0, id);
}

static void send_notification(struct dp_mcp_op *op, const char *method)
{
	send_text(op, dp_jsonrpc_notification(method, NULL), P_NOTIFY, 0, 0);
}

static void send_reply(struct dp_mcp_op *op, char *text)
{
	if (op->cur == DP_MCP_STDIO) {
		size_t n = text ? strlen(text) : 0;
		if (!text || !op->job)
			goto out;
		text = xrealloc(text, n + 2);
		text[n] = '\n';
		text[n + 1] = '\0';
		dp_job_write(op->job, text, n + 1);
		goto out;
	}
	if (text)
		http_post(op, text, P_REPLY, 0, 0);
out:
	free(text);
}

/* ------------------------------------------------------------ the flow */

static void start_list(struct dp_mcp_op *op)
{
	op->step = S_LIST;
	op->lc_at_start = op->list_changed;
	json_array_clear(op->tools);
	free(op->cursor);
	op->cursor = NULL;
	send_request(op, "tools/list", NULL);
}

static void list_done(struct dp_mcp_op *op)
{
	if (op->list_changed > op->lc_at_start && op->relists < MAX_RELISTS) {
		op->relists++;
		start_list(op);
		return;
	}
	json_t *tcap = json_object_get(op->caps, "tools");
	int can_push = op->cur == DP_MCP_STDIO || op->cur == DP_MCP_SSE;
	if (can_push && op->lc_wait_ms > 0 && json_is_true(json_object_get(tcap, "listChanged")) &&
	    op->relists < MAX_RELISTS && !op->list_changed) {
		op->step = S_LIST_WAIT;
		arm(op->wait_timer, op->lc_wait_ms);
		return;
	}
	succeed(op);
}

static void wait_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dp_mcp_op *op = arg;
	(void)fd;
	(void)what;
	if (op->step == S_LIST_WAIT)
		succeed(op);
}

static void after_notification(struct dp_mcp_op *op)
{
	if (op->step != S_INITIALIZED)
		return;
	if (op->is_call) {
		op->step = S_CALL;
		json_t *args = op->call_args ? json_incref(op->call_args) : json_object();
		json_t *params = json_pack("{s:s,s:o}", "name", op->tool, "arguments", args);
		send_request(op, "tools/call", params);
		json_decref(params);
		return;
	}
	if (!json_is_object(json_object_get(op->caps, "tools"))) {
		succeed(op); /* no tools capability: nothing to list */
		return;
	}
	start_list(op);
}

static void on_init_result(struct dp_mcp_op *op, const struct dp_jsonrpc_msg *m)
{
	char text[MAX_SERVER_TEXT + 1];
	if (m->kind == DP_JSONRPC_ERROR) {
		clean(text, sizeof(text), m->error_message);
		op->rpc_code = (int)m->error_code;
		fail(op, m->error_code == -32602 ? "unsupported_version" : "rpc_error", "initialize failed: %s (%lld)",
		     text, (long long)m->error_code);
		return;
	}
	const char *v = json_string_value(json_object_get(m->result, "protocolVersion"));
	if (!dp_mcp_version_supported(v)) {
		clean(text, sizeof(text), v ? v : "none");
		fail(op, "unsupported_version", "the server speaks protocol version %s, which this client does not",
		     text);
		return;
	}
	snprintf(op->version, sizeof(op->version), "%s", v);
	json_t *si = json_object_get(m->result, "serverInfo");
	json_decref(op->server_info);
	op->server_info = NULL;
	if (json_is_object(si)) {
		op->server_info = json_object();
		static const char *const keys[] = {"name", "title", "version"};
		for (size_t i = 0; i < 3; i++) {
			const char *s = json_string_value(json_object_get(si, keys[i]));
			if (s) {
				clean(text, sizeof(text), s);
				json_object_set_new(op->server_info, keys[i], json_string(text));
			}
		}
	}
	json_decref(op->caps);
	json_t *caps = json_object_get(m->result, "capabilities");
	op->caps = json_is_object(caps) ? json_deep_copy(caps) : json_object();
	op->step = S_INITIALIZED;
	send_notification(op, "notifications/initialized");
}

static void on_response(struct dp_mcp_op *op, const struct dp_jsonrpc_msg *m)
{
	char text[MAX_SERVER_TEXT + 1];
	switch (op->step) {
	case S_INIT:
		on_init_result(op, m);
		return;
	case S_LIST: {
		if (m->kind == DP_JSONRPC_ERROR) {
			clean(text, sizeof(text), m->error_message);
			op->rpc_code = (int)m->error_code;
			fail(op, "rpc_error", "tools/list failed: %s (%lld)", text, (long long)m->error_code);
			return;
		}
		json_t *tools = json_object_get(m->result, "tools");
		if (!json_is_array(tools)) {
			fail(op, "protocol_error", "tools/list answered without a tools array");
			return;
		}
		op->pages++;
		size_t i;
		json_t *t;
		json_array_foreach(tools, i, t)
		{
			if (!json_is_object(t) || !json_is_string(json_object_get(t, "name")))
				continue;
			if (json_array_size(op->tools) >= DP_MCP_MAX_TOOLS) {
				fail(op, "response_too_large", "the server lists more than %d tools", DP_MCP_MAX_TOOLS);
				return;
			}
			json_array_append(op->tools, t);
		}
		const char *next = json_string_value(json_object_get(m->result, "nextCursor"));
		if (next && *next) {
			if (op->pages >= DP_MCP_MAX_PAGES) {
				fail(op, "response_too_large", "the server's tool list has more than %d pages",
				     DP_MCP_MAX_PAGES);
				return;
			}
			free(op->cursor);
			op->cursor = xstrdup(next);
			json_t *params = json_pack("{s:s}", "cursor", op->cursor);
			send_request(op, "tools/list", params);
			json_decref(params);
			return;
		}
		list_done(op);
		return;
	}
	case S_CALL:
		if (m->kind == DP_JSONRPC_ERROR) {
			clean(text, sizeof(text), m->error_message);
			op->rpc_code = (int)m->error_code;
			fail(op, "rpc_error", "tools/call failed: %s (%lld)", text, (long long)m->error_code);
			return;
		}
		json_decref(op->call_result);
		op->call_result = json_incref(m->result);
		succeed(op);
		return;
	default:
		return;
	}
}

static void handle_message(struct dp_mcp_op *op, json_t *root)
{
	struct dp_jsonrpc_msg m;
	if (op->step == S_CLOSING)
		return;
	dp_jsonrpc_classify(root, &m);
	switch (m.kind) {
	case DP_JSONRPC_RESULT:
	case DP_JSONRPC_ERROR:
		if (op->pending && m.id_is_int && m.id_int == op->pending_id) {
			op->pending = 0;
			evtimer_del(op->req_timer);
			on_response(op, &m);
		}
		return;
	case DP_JSONRPC_REQUEST:
		if (strcmp(m.method, "ping") == 0)
			send_reply(op, dp_jsonrpc_result(m.id, NULL));
		else
			send_reply(op, dp_jsonrpc_error(m.id, -32601, "method not found"));
		return;
	case DP_JSONRPC_NOTIFICATION:
		if (strcmp(m.method, "notifications/tools/list_changed") == 0) {
			op->list_changed++;
			if (op->step == S_LIST_WAIT) {
				evtimer_del(op->wait_timer);
				op->relists++;
				start_list(op);
			}
		}
		return;
	case DP_JSONRPC_INVALID:
		return;
	}
}

/* ------------------------------------------------------------ closing */

static void begin_close(struct dp_mcp_op *op)
{
	if (op->step == S_CLOSING)
		return;
	op->step = S_CLOSING;
	op->pending = 0;
	evtimer_del(op->req_timer);
	evtimer_del(op->wait_timer);
	evtimer_del(op->total_timer);
	for (struct post *p = op->posts; p; p = p->next)
		dp_upstream_abort(p->req);
	if (op->get_req)
		dp_upstream_abort(op->get_req);
	if (op->cur == DP_MCP_STREAMABLE_HTTP && op->session[0] && op->code && strcmp(op->code, "stopped") != 0)
		http_post(op, NULL, P_DELETE, 0, 0);
	if (op->job_live && op->job) {
		dp_job_close_stdin(op->job);
		arm(op->kill_timer, CLOSE_WAIT_MS);
	}
	check_finish(op);
}

static void req_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct dp_mcp_op *op = arg;
	(void)fd;
	(void)what;
	if (op->pending && op->cur == DP_MCP_STDIO && op->job) {
		/* tell the server we stopped waiting (HTTP: the DELETE ends it all) */
		json_t *p = json_pack("{s:I,s:s}", "requestId", (json_int_t)op->pending_id, "reason", "timeout");
		send_reply(op, dp_jsonrpc_notification("notifications/cancelled", p));
		json_decref(p);
	}
	fail(op, "stalled", "no answer to %s within %d ms", op->pending_method ? op->pending_method : "a request",
	     op->request_timeout_ms);
}

static void total_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct dp_mcp_op *op = arg;
	(void)fd;
	(void)what;
	fail(op, "timeout", "the session did not finish within %d ms", op->total_timeout_ms);
}

/* ------------------------------------------------------------- starting */

static void start_kick(evutil_socket_t fd, short what, void *arg);

static struct dp_mcp_op *op_new(const struct dp_mcp_env *env, const struct dp_mcp_server *srv, dp_mcp_done_fn fn,
                                void *arg, const char **err)
{
	const char *dummy;
	if (!err)
		err = &dummy;
	if (!env || !env->base || !fn)
		return *err = "the mcp client needs an event base and a callback", NULL;
	int stdio = srv->transport == DP_MCP_STDIO;
	if (stdio && (!srv->argv || !srv->argv[0] || !srv->argv[0][0] || !env->jobs))
		return *err = "a stdio server needs a command", NULL;
	if (!stdio && (!srv->url || !env->up))
		return *err = "an http server needs a url", NULL;
	char *base = NULL, *path = NULL;
	if (!stdio && dp_mcp_split_url(srv->url, &base, &path) < 0)
		return *err = "the server url is not a valid http or https url (no credentials, no fragment)", NULL;
	size_t nh = 0;
	while (srv->headers && srv->headers[nh])
		nh++;
	if (nh > MAX_HEADERS - 2) {
		free(base);
		free(path);
		return *err = "too many headers", NULL;
	}
	struct dp_mcp_op *op = xcalloc(1, sizeof(*op));
	op->env = *env;
	op->fn = fn;
	op->arg = arg;
	op->configured = srv->transport;
	op->cur = srv->transport == DP_MCP_AUTO ? DP_MCP_STREAMABLE_HTTP : srv->transport;
	op->url = stdio ? NULL : xstrdup(srv->url);
	op->base = base;
	op->path = path;
	op->headers = copy_strv(srv->headers, MAX_HEADERS);
	op->argv = stdio ? copy_strv(srv->argv, 256) : copy_strv(NULL, 0);
	op->envv = copy_strv(srv->env, 256);
	op->connect_timeout_ms =
	        srv->connect_timeout_ms > 0 ? srv->connect_timeout_ms : DP_MCP_DEFAULT_CONNECT_TIMEOUT_MS;
	op->request_timeout_ms =
	        srv->request_timeout_ms > 0 ? srv->request_timeout_ms : DP_MCP_DEFAULT_REQUEST_TIMEOUT_MS;
	op->total_timeout_ms = srv->total_timeout_ms > 0 ? srv->total_timeout_ms : DP_MCP_DEFAULT_TOTAL_TIMEOUT_MS;
	op->lc_wait_ms = srv->list_changed_wait_ms < 0 ? 0
	                 : srv->list_changed_wait_ms   ? srv->list_changed_wait_ms
	                                               : 300;
	op->max_response = srv->max_response ? srv->max_response : DP_MCP_DEFAULT_MAX_RESPONSE;
	op->tools = json_array();
	op->req_timer = evtimer_new(env->base, req_timeout, op);
	op->total_timer = evtimer_new(env->base, total_timeout, op);
	op->wait_timer = evtimer_new(env->base, wait_cb, op);
	op->kill_timer = evtimer_new(env->base, kill_cb, op);
	op->kick = event_new(env->base, -1, 0, on_kick, op);
	if (!op->req_timer || !op->total_timer || !op->wait_timer || !op->kill_timer || !op->kick)
		abort();
	clock_gettime(CLOCK_MONOTONIC, &op->t0);
	arm(op->total_timer, op->total_timeout_ms);
	/* the first message goes out from the loop, so that every callback
	 * (also a spawn failure) runs after the start function returned */
	struct event *ev = event_new(env->base, -1, 0, start_kick, op);
	if (!ev)
		abort();
	op->nreqs++; /* the pending start counts as outstanding */
	event_active(ev, EV_TIMEOUT, 0);
	return op;
}

static void start_kick(evutil_socket_t fd, short what, void *arg)
{
	struct dp_mcp_op *op = arg;
	(void)fd;
	(void)what;
	/* the event frees itself: find it through libevent's current event */
	event_free(event_base_get_running_event(op->env.base));
	op->nreqs--;
	if (op->step == S_CLOSING) {
		check_finish(op);
		return;
	}
	if (op->cur == DP_MCP_STDIO && start_stdio(op) < 0)
		return;
	if (op->cur == DP_MCP_SSE) {
		start_sse(op);
		return;
	}
	json_t *params =
	        json_pack("{s:s,s:{},s:{s:s,s:s,s:s}}", "protocolVersion", DP_MCP_PROTOCOL_VERSION, "capabilities",
	                  "clientInfo", "name", "daemonpulse", "title", "DaemonPulse", "version", "0.1.0");
	send_request(op, "initialize", params);
	json_decref(params);
}

struct dp_mcp_op *dp_mcp_discover(const struct dp_mcp_env *env, const struct dp_mcp_server *srv, dp_mcp_done_fn fn,
                                  void *arg, const char **err)
{
	return op_new(env, srv, fn, arg, err);
}

struct dp_mcp_op *dp_mcp_call(const struct dp_mcp_env *env, const struct dp_mcp_server *srv, const char *tool,
                              json_t *arguments, dp_mcp_done_fn fn, void *arg, const char **err)
{
	const char *dummy;
	if (!err)
		err = &dummy;
	if (!tool || !*tool || strlen(tool) > 256)
		return *err = "the tool name must be 1 to 256 bytes", NULL;
	if (arguments && !json_is_object(arguments))
		return *err = "the tool arguments must be an object", NULL;
	struct dp_mcp_op *op = op_new(env, srv, fn, arg, err);
	if (!op)
		return NULL;
	op->is_call = 1;
	op->tool = xstrdup(tool);
	op->call_args = arguments ? json_deep_copy(arguments) : NULL;
	return op;
}

void dp_mcp_cancel(struct dp_mcp_op *op)
{
	if (!op || op->cancelled)
		return;
	op->cancelled = 1;
	op->fn = NULL;
	fail(op, "cancelled", "cancelled");
}
