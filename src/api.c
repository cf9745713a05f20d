/*
 * api.c - reply helpers, ctx accessors and role names (contract in api.h).
 *
 * Every JSON reply is serialised into a stack buffer when it fits (the
 * common case) and copied once into the connection's output; only large
 * replies touch the heap. API replies carry `Cache-Control: no-store` (they
 * hold private data) and `X-Content-Type-Options: nosniff`.
 */
#include "api.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "log.h"
#include "xmalloc.h"

static const char *const role_names[] = {NULL, "public", "viewer", "operator", "admin"};

int dp_role_parse(const char *s)
{
	if (!s)
		return -1;
	for (int i = DP_ROLE_VIEWER; i <= DP_ROLE_ADMIN; i++)
		if (strcmp(s, role_names[i]) == 0)
			return i;
	return -1;
}

const char *dp_role_name(int role)
{
	return role >= DP_ROLE_PUBLIC && role <= DP_ROLE_ADMIN ? role_names[role] : NULL;
}

const char *dp_ctx_param(const struct dp_ctx *c, const char *name)
{
	for (int i = 0; i < c->nparams; i++)
		if (strcmp(c->param_names[i], name) == 0)
			return c->param_values[i];
	return NULL;
}

int64_t dp_ctx_param_id(const struct dp_ctx *c, const char *name)
{
	const char *v = dp_ctx_param(c, name);
	if (!v || *v < '1' || *v > '9' || strlen(v) > 18)
		return -1;
	int64_t n = 0;
	for (const char *p = v; *p; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		n = n * 10 + (*p - '0');
	}
	return n;
}

const char *dp_ctx_query(const struct dp_ctx *c, const char *name)
{
	return dp_http_req_query_param(c->req, name);
}

void dp_ctx_on_abort(struct dp_ctx *c, void (*fn)(struct dp_ctx *c, void *arg), void *arg)
{
	c->on_abort = fn;
	c->abort_arg = arg;
}

const char *dp_ctx_peer(const struct dp_ctx *c)
{
	return dp_http_req_peer(c->req);
}

static void api_headers(struct dp_http_req *req)
{
	dp_http_add_header(req, "Cache-Control", "no-store");
	dp_http_add_header(req, "X-Content-Type-Options", "nosniff");
}

static void reply_bytes(struct dp_ctx *c, int status, const char *body, size_t len)
{
	struct dp_http_req *req = c->req;
	c->replied = 1;
	api_headers(req);
	/* the ctx lives in request memory: it is gone once this returns */
	dp_http_reply(req, status, "application/json", body, len);
}

void dp_reply_json(struct dp_ctx *c, int status, json_t *json)
{
	if (!json) {
		dp_reply_error(c, 500, "internal", "could not build the response");
		return;
	}
	char stackbuf[8192];
	size_t n = json_dumpb(json, stackbuf, sizeof(stackbuf), JSON_COMPACT);
	if (n == 0) {
		json_decref(json);
		dp_reply_error(c, 500, "internal", "could not serialise the response");
		return;
	}
	if (n <= sizeof(stackbuf)) {
		json_decref(json);
		reply_bytes(c, status, stackbuf, n);
		return;
	}
	char *heap = xmalloc(n);
	size_t n2 = json_dumpb(json, heap, n, JSON_COMPACT);
	json_decref(json);
	reply_bytes(c, status, heap, n2);
	free(heap);
}

/* Append `s` as a JSON string body (without quotes); invalid UTF-8 and
 * control bytes are escaped or replaced so the envelope is always valid. */
static size_t json_escape(char *out, size_t cap, const char *s)
{
	size_t o = 0;
	const unsigned char *p = (const unsigned char *)s;
	while (*p && o + 8 < cap) {
		unsigned char ch = *p;
		if (ch == '"' || ch == '\\') {
			out[o++] = '\\';
			out[o++] = (char)ch;
			p++;
		} else if (ch < 0x20 || ch == 0x7f) {
			o += (size_t)snprintf(out + o, cap - o, "\\u%04x", ch);
			p++;
		} else if (ch < 0x80) {
			out[o++] = (char)ch;
			p++;
		} else {
			/* copy a well-formed UTF-8 sequence, else '?' */
			int n = ch >= 0xf0 && ch <= 0xf4 ? 4 : ch >= 0xe0 ? 3 : ch >= 0xc2 && ch < 0xe0 ? 2 : 0;
			int ok = n > 0;
			for (int i = 1; ok && i < n; i++)
				ok = (p[i] & 0xc0) == 0x80;
			if (ok) {
				/* reject overlongs/surrogates roughly via jansson-compatible rules */
				if (n == 3 && ((ch == 0xe0 && p[1] < 0xa0) || (ch == 0xed && p[1] >= 0xa0)))
					ok = 0;
				if (n == 4 && ((ch == 0xf0 && p[1] < 0x90) || (ch == 0xf4 && p[1] >= 0x90)))
					ok = 0;
			}
			if (ok) {
				memcpy(out + o, p, (size_t)n);
				o += (size_t)n;
				p += n;
			} else {
				out[o++] = '?';
				p++;
			}
		}
	}
	out[o] = '\0';
	return o;
}

void dp_reply_error(struct dp_ctx *c, int status, const char *code, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	char body[1400];
	size_t o = (size_t)snprintf(body, sizeof(body), "{\"error\":{\"code\":\"");
	o += json_escape(body + o, sizeof(body) - o - 64, code);
	o += (size_t)snprintf(body + o, sizeof(body) - o, "\",\"message\":\"");
	o += json_escape(body + o, sizeof(body) - o - 8, msg);
	o += (size_t)snprintf(body + o, sizeof(body) - o, "\"}}");
	reply_bytes(c, status, body, o);
}

void dp_reply_empty(struct dp_ctx *c)
{
	struct dp_http_req *req = c->req;
	c->replied = 1;
	api_headers(req);
	dp_http_reply(req, 204, NULL, NULL, 0);
}

void dp_reply_errno(struct dp_ctx *c, int err, const char *message)
{
	int status;
	const char *code;
	switch (err < 0 ? -err : err) {
	case EINVAL:
		status = 400;
		code = "bad_request";
		break;
	case ENOENT:
		status = 404;
		code = "not_found";
		break;
	case EEXIST:
		status = 409;
		code = "conflict";
		break;
	case EBUSY:
		status = 409;
		code = "conflict";
		break;
	case EACCES:
		status = 403;
		code = "forbidden";
		break;
	case EPERM:
		status = 403;
		code = "forbidden";
		break;
	case ENOSPC:
		status = 409;
		code = "limit_reached";
		break;
	case E2BIG:
	case EMSGSIZE:
		status = 413;
		code = "too_large";
		break;
	case EAGAIN:
		status = 503;
		code = "busy";
		break;
	case ETIMEDOUT:
		status = 504;
		code = "upstream_timeout";
		break;
	case ECONNREFUSED:
	case EHOSTUNREACH:
	case ENETUNREACH:
	case ECONNRESET:
	case EPROTO:
		status = 502;
		code = "bad_gateway";
		break;
	case ENOTSUP:
		status = 501;
		code = "not_implemented";
		break;
	case ECANCELED:
	case ESHUTDOWN:
		status = 503;
		code = "unavailable";
		break;
	default:
		status = 500;
		code = "internal";
		break;
	}
	if (status == 500)
		dp_warn("internal error: %s (%s)", message ? message : "?", strerror(err < 0 ? -err : err));
	dp_reply_error(c, status, code, "%s", message ? message : strerror(err < 0 ? -err : err));
}
