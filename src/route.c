/*
 * route.c - route table, matcher and the central dispatcher (see route.h).
 *
 * Per request the dispatcher allocates one struct reqstate from the
 * request's own memory (no malloc): the dp_ctx handed to the handler, the
 * matched route index for metrics, the start time, and scratch space for
 * decoded path parameters. The parsed JSON body is the only heap object it
 * owns; it is released when the request ends (on_done) or is aborted
 * (on_close), whichever happens.
 */
#include "route.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "server.h"
#include "webui.h"
#include "xmalloc.h"

/* Every slice, in the order they are checked; each ends with {0}. */
const struct dp_route *const dp_route_slices[] = {
        dp_api_health_routes, dp_api_auth_routes,    dp_api_users_routes,         dp_api_tokens_routes,
        dp_api_audit_routes,  dp_api_targets_routes, dp_api_events_routes,        dp_api_settings_routes,
        dp_api_logs_routes,   dp_api_chat_routes,    dp_api_conversations_routes, dp_api_forge_routes,
        dp_api_mcp_routes,    dp_api_gpus_routes,    dp_api_agent_routes,         NULL,
};

struct seg {
	const char *s;
	unsigned short len;
	unsigned char param;
};

struct centry {
	const struct dp_route *r;
	int role;
	int nseg;
	int nparams;
	struct seg seg[DP_ROUTE_MAX_SEGMENTS];
	char *pname[DP_MAX_PATH_PARAMS];
};

struct dp_route_table {
	struct centry *e;
	size_t n; /* matchable routes; e[n] is the web UI fallback */
};

static const char *const methods[] = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"};
#define NMETHODS 6

static int method_index(const char *m)
{
	for (int i = 0; i < NMETHODS; i++)
		if (strcmp(m, methods[i]) == 0)
			return i;
	return -1;
}

static int is_end(const struct dp_route *r)
{
	return !r->method && !r->path && !r->fn && !r->role && !r->flags;
}

/* Split a table path into segments; -1 with a reason on bad syntax. */
static int compile_path(const char *path, struct centry *e, const char **why)
{
	e->nseg = 0;
	e->nparams = 0;
	if (!path || path[0] != '/') {
		*why = "path must start with '/'";
		return -1;
	}
	const char *p = path + 1;
	for (;;) {
		const char *sl = strchr(p, '/');
		size_t l = sl ? (size_t)(sl - p) : strlen(p);
		if (e->nseg == DP_ROUTE_MAX_SEGMENTS) {
			*why = "too many path segments";
			return -1;
		}
		struct seg *s = &e->seg[e->nseg++];
		s->s = p;
		s->len = (unsigned short)l;
		s->param = 0;
		if (l == 0 && (sl || e->nseg > 1)) {
			*why = "empty path segment";
			return -1;
		}
		if (l && p[0] == '{') {
			if (l < 3 || p[l - 1] != '}') {
				*why = "bad {param} segment";
				return -1;
			}
			for (size_t i = 1; i + 1 < l; i++) {
				char ch = p[i];
				if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_')) {
					*why = "parameter names use [a-z0-9_]";
					return -1;
				}
			}
			if (e->nparams == DP_MAX_PATH_PARAMS) {
				*why = "too many path parameters";
				return -1;
			}
			s->param = 1;
			e->nparams++;
		} else {
			for (size_t i = 0; i < l; i++)
				if (p[i] == '{' || p[i] == '}' || p[i] == '%' || p[i] == '?' ||
				    (unsigned char)p[i] <= ' ') {
					*why = "bad character in path";
					return -1;
				}
		}
		if (!sl)
			break;
		p = sl + 1;
	}
	return 0;
}

int dp_route_table_check(const struct dp_route *routes, char *err, size_t errlen)
{
	for (const struct dp_route *r = routes; !is_end(r); r++) {
		const char *why = NULL;
		struct centry e;
		if (!r->method || method_index(r->method) < 0 || strcmp(r->method, "HEAD") == 0)
			why = "method must be GET, POST, PUT, PATCH or DELETE";
		else if (!r->fn)
			why = "no handler";
		else if (r->role == DP_ROLE_UNSET)
			why = "no role declared (DP_ROLE_UNSET)";
		else if (r->role < DP_ROLE_PUBLIC || r->role > DP_ROLE_ADMIN)
			why = "unknown role";
		else
			compile_path(r->path, &e, &why);
		if (why) {
			snprintf(err, errlen, "route %s %s: %s", r->method ? r->method : "(null)",
			         r->path ? r->path : "(null)", why);
			return -EINVAL;
		}
	}
	return 0;
}

static int same_shape(const struct centry *a, const struct centry *b)
{
	if (a->nseg != b->nseg || strcmp(a->r->method, b->r->method) != 0)
		return 0;
	for (int i = 0; i < a->nseg; i++) {
		const struct seg *x = &a->seg[i], *y = &b->seg[i];
		if (x->param != y->param)
			return 0;
		if (!x->param && (x->len != y->len || memcmp(x->s, y->s, x->len) != 0))
			return 0;
	}
	return 1;
}

static void fill_entry(struct centry *e, const struct dp_route *r, int metrics_public)
{
	const char *why;
	e->r = r;
	e->role = r->role;
	if ((r->flags & DP_ROUTE_OPT_PUBLIC) && metrics_public)
		e->role = DP_ROLE_PUBLIC;
	compile_path(r->path, e, &why);
	int k = 0;
	for (int i = 0; i < e->nseg; i++)
		if (e->seg[i].param)
			e->pname[k++] = xstrndup(e->seg[i].s + 1, e->seg[i].len - 2u);
}

struct dp_route_table *dp_route_table_new(const struct dp_route *const *slices, int metrics_public, char **err)
{
	char msg[256];
	size_t n = 0;
	for (size_t i = 0; slices[i]; i++) {
		if (dp_route_table_check(slices[i], msg, sizeof(msg)) < 0) {
			*err = xstrdup(msg);
			return NULL;
		}
		for (const struct dp_route *r = slices[i]; !is_end(r); r++)
			n++;
	}
	if (dp_route_table_check(dp_webui_routes, msg, sizeof(msg)) < 0) {
		*err = xstrdup(msg);
		return NULL;
	}
	struct dp_route_table *t = xcalloc(1, sizeof(*t));
	t->e = xcalloc(n + 1, sizeof(*t->e));
	for (size_t i = 0; slices[i]; i++)
		for (const struct dp_route *r = slices[i]; !is_end(r); r++) {
			struct centry *e = &t->e[t->n];
			fill_entry(e, r, metrics_public);
			for (size_t j = 0; j < t->n; j++)
				if (same_shape(&t->e[j], e)) {
					*err = xasprintf("duplicate route %s %s (also %s)", r->method, r->path,
					                 t->e[j].r->path);
					t->n++;
					dp_route_table_free(t);
					return NULL;
				}
			t->n++;
		}
	fill_entry(&t->e[t->n], &dp_webui_routes[0], 0);
	return t;
}

void dp_route_table_free(struct dp_route_table *t)
{
	if (!t)
		return;
	for (size_t i = 0; i <= t->n; i++)
		for (int k = 0; k < DP_MAX_PATH_PARAMS; k++)
			free(t->e[i].pname[k]);
	free(t->e);
	free(t);
}

size_t dp_route_table_count(const struct dp_route_table *t)
{
	return t->n + 1;
}

const struct dp_route *dp_route_table_at(const struct dp_route_table *t, size_t i)
{
	return i <= t->n ? t->e[i].r : NULL;
}

/* Does `a` win over `b`? A literal beats a parameter, leftmost first. */
static int more_specific(const struct centry *a, const struct centry *b)
{
	for (int i = 0; i < a->nseg; i++) {
		if (!a->seg[i].param && b->seg[i].param)
			return 1;
		if (a->seg[i].param && !b->seg[i].param)
			return 0;
	}
	return 0;
}

int dp_route_match(const struct dp_route_table *t, const char *method, const char *path, size_t len,
                   struct dp_route_match *m, char *scratch)
{
	m->index = -1;
	m->route = NULL;
	m->role = DP_ROLE_UNSET;
	m->nparams = 0;
	m->allow[0] = '\0';
	if (len == 0 || path[0] != '/')
		return 404;
	const char *rs[DP_ROUTE_MAX_SEGMENTS];
	size_t rl[DP_ROUTE_MAX_SEGMENTS];
	int n = 0;
	const char *p = path + 1, *end = path + len;
	for (;;) {
		const char *sl = memchr(p, '/', (size_t)(end - p));
		const char *e = sl ? sl : end;
		if (n == DP_ROUTE_MAX_SEGMENTS)
			return 404;
		rs[n] = p;
		rl[n] = (size_t)(e - p);
		n++;
		if (!sl)
			break;
		p = sl + 1;
	}
	int mi = method_index(method);
	if (mi == 1)
		mi = 0; /* HEAD is served by GET routes */
	const struct centry *best = NULL;
	unsigned allow = 0;
	for (size_t i = 0; i < t->n; i++) {
		const struct centry *e = &t->e[i];
		if (e->nseg != n)
			continue;
		int ok = 1;
		for (int k = 0; k < n && ok; k++) {
			const struct seg *s = &e->seg[k];
			if (s->param)
				ok = rl[k] > 0;
			else
				ok = s->len == rl[k] && memcmp(s->s, rs[k], rl[k]) == 0;
		}
		if (!ok)
			continue;
		int em = method_index(e->r->method);
		allow |= 1u << em;
		if (em == mi && (!best || more_specific(e, best)))
			best = e;
	}
	if (!best) {
		if (!allow)
			return 404;
		if (allow & 1u)
			allow |= 2u; /* GET implies HEAD */
		size_t o = 0;
		for (int i = 0; i < NMETHODS; i++)
			if (allow & (1u << i))
				o += (size_t)snprintf(m->allow + o, sizeof(m->allow) - o, "%s%s", o ? ", " : "",
				                      methods[i]);
		return 405;
	}
	m->index = (int)(best - t->e);
	m->route = best->r;
	m->role = best->role;
	char *out = scratch;
	for (int k = 0; k < n; k++) {
		if (!best->seg[k].param)
			continue;
		if (dp_http_urldecode(rs[k], rl[k], out, 0) < 0)
			return 400;
		m->names[m->nparams] = best->pname[m->nparams];
		m->values[m->nparams] = out;
		m->nparams++;
		out += strlen(out) + 1;
	}
	return 0;
}

int dp_route_parse_body(const char *body, size_t len, json_t **out, char *msg, size_t msglen)
{
	json_error_t je;
	*out = NULL;
	json_t *j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
	if (!j) {
		snprintf(msg, msglen, "malformed JSON body at line %d, column %d: %s", je.line, je.column, je.text);
		return -EINVAL;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		snprintf(msg, msglen, "the JSON body must be an object");
		return -EINVAL;
	}
	*out = j;
	return 0;
}

/* ------------------------------------------------------------- dispatch */

struct reqstate {
	struct dp_ctx ctx; /* first: handlers only see this */
	int route_idx;
	int *ended;       /* set while the handler runs synchronously */
	const char *peer; /* the connection's; still valid in on_close */
	struct timespec start;
	char scratch[]; /* decoded path parameters */
};

static void ctx_cleanup(struct reqstate *st)
{
	if (st->ctx.body) {
		json_decref(st->ctx.body);
		st->ctx.body = NULL;
	}
}

/* Copy `s` (up to `n` bytes) for the log: control bytes and quotes become
 * '?', never more than 200 bytes. */
static void log_safe(char *out, size_t outlen, const char *s, size_t n)
{
	size_t o = 0;
	for (size_t i = 0; i < n && o + 1 < outlen && o < 200; i++) {
		unsigned char ch = (unsigned char)s[i];
		out[o++] = ch < 0x21 || ch == 0x7f || ch == '"' ? '?' : (char)ch;
	}
	out[o] = '\0';
}

static void access_log(struct dp_http_req *req, struct reqstate *st, const char *status, uint64_t bytes,
                       uint64_t dur_us)
{
	const char *target = dp_http_req_target(req);
	const char *method = dp_http_req_method(req);
	char path[208], meth[20];
	if (!target)
		target = "";
	const char *q = strchr(target, '?'); /* never log the query: it may carry secrets */
	log_safe(path, sizeof(path), target, q ? (size_t)(q - target) : strlen(target));
	log_safe(meth, sizeof(meth), method ? method : "-", method ? strlen(method) : 1);
	const char *peer = st && st->peer ? st->peer : dp_http_req_peer(req);
	const char *user = st && st->ctx.auth_kind != DP_AUTH_NONE ? st->ctx.user.username : NULL;
	dp_info("access %s %s %s %llu %.2fms %s%s%s", meth, path[0] ? path : "-", status, (unsigned long long)bytes,
	        (double)dur_us / 1000.0, peer && *peer ? peer : "-", user ? " user=" : "", user ? user : "");
}

void dp_route_done(struct dp_http_req *req, int status, uint64_t bytes, uint64_t dur_us, void *arg)
{
	struct dp_server *srv = arg;
	struct reqstate *st = dp_http_req_data(req);
	if (srv->metrics)
		dp_metrics_observe(srv->metrics, st ? st->route_idx : -1, status, dur_us);
	if (!srv->cfg || srv->cfg->access_log) {
		char s[12];
		snprintf(s, sizeof(s), "%d", status);
		access_log(req, st, s, bytes, dur_us);
	}
	if (st) {
		if (st->ended)
			*st->ended = 1;
		ctx_cleanup(st);
	}
}

static void ctx_closed(struct dp_http_req *req, void *arg)
{
	struct reqstate *st = arg;
	struct dp_server *srv = st->ctx.srv;
	if (st->ctx.on_abort)
		st->ctx.on_abort(&st->ctx, st->ctx.abort_arg);
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	uint64_t us = (uint64_t)(now.tv_sec - st->start.tv_sec) * 1000000u +
	              (uint64_t)((now.tv_nsec - st->start.tv_nsec) / 1000);
	if (srv->metrics)
		dp_metrics_observe(srv->metrics, st->route_idx, 0, us);
	if (!srv->cfg || srv->cfg->access_log)
		access_log(req, st, "closed-by-client", 0, us);
	ctx_cleanup(st);
}

static int is_api_path(const char *p, size_t n)
{
	return n >= 4 && memcmp(p, "/api", 4) == 0 && (n == 4 || p[4] == '/');
}

void dp_route_dispatch(struct dp_http_req *req, void *arg)
{
	struct dp_server *srv = arg;
	const char *target = dp_http_req_target(req);
	const char *q = strchr(target, '?');
	size_t plen = q ? (size_t)(q - target) : strlen(target);
	struct reqstate *st = dp_http_req_alloc(req, sizeof(*st) + plen + 1);
	struct dp_ctx *c = &st->ctx;
	c->srv = srv;
	c->req = req;
	st->route_idx = -1;
	st->peer = dp_http_req_peer(req);
	clock_gettime(CLOCK_MONOTONIC, &st->start);
	dp_http_req_set_data(req, st);
	dp_http_req_on_close(req, ctx_closed, st);

	const char *method = dp_http_req_method(req);
	struct dp_route_match m;
	int rc = dp_route_match(srv->routes, method, target, plen, &m, st->scratch);
	if (rc == 404 && plen && target[0] == '/' && (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0) &&
	    !is_api_path(target, plen)) {
		rc = 0;
		m.route = &dp_webui_routes[0];
		m.index = (int)dp_route_table_count(srv->routes) - 1;
		m.role = DP_ROLE_PUBLIC;
		m.nparams = 0;
	}
	if (rc == 404) {
		dp_reply_error(c, 404, "not_found", "no such route");
		return;
	}
	if (rc == 405) {
		dp_http_add_header(req, "Allow", m.allow);
		dp_reply_error(c, 405, "method_not_allowed", "method %s not allowed here (allowed: %s)", method,
		               m.allow);
		return;
	}
	if (rc == 400) {
		dp_reply_error(c, 400, "bad_request", "bad percent-escape in the path");
		return;
	}
	c->route = m.route;
	st->route_idx = m.index;
	c->nparams = m.nparams;
	for (int i = 0; i < m.nparams; i++) {
		c->param_names[i] = m.names[i];
		c->param_values[i] = m.values[i];
	}

	int mutating = method[0] == 'P' || method[0] == 'D'; /* POST PUT PATCH DELETE */
	if (m.role != DP_ROLE_PUBLIC) {
		int a = dp_auth_authenticate(c);
		if (a == -EACCES) {
			dp_reply_error(c, 401, "unauthorized", "sign in or send an API token");
			return;
		}
		if (a < 0) {
			dp_reply_errno(c, a, "authentication failed");
			return;
		}
		if (c->user.role < m.role) {
			dp_reply_error(c, 403, "forbidden", "this needs the %s role", dp_role_name(m.role));
			return;
		}
		if (mutating && c->auth_kind == DP_AUTH_SESSION && !(m.route->flags & DP_ROUTE_NO_CSRF) &&
		    dp_auth_csrf_check(c) < 0) {
			dp_reply_error(c, 403, "csrf", "cross-site request refused (Origin does not match)");
			return;
		}
	}
	if (method[0] == 'P') {
		size_t blen = 0;
		const char *body = dp_http_req_body(req, &blen);
		if (blen > 0) {
			char msg[256];
			if (dp_route_parse_body(body, blen, &c->body, msg, sizeof(msg)) < 0) {
				dp_reply_error(c, 400, "invalid_json", "%s", msg);
				return;
			}
		}
	}

	int ended = 0;
	st->ended = &ended;
	m.route->fn(c);
	if (ended)
		return; /* ctx is gone */
	st->ended = NULL;
	if (!c->replied && !c->on_abort) {
		dp_error("handler for %s %s returned without answering", m.route->method, m.route->path);
		dp_reply_error(c, 500, "internal", "the handler did not answer");
	}
}
