/*
 * webui.c - serve the embedded web UI (see webui.h for the rules).
 *
 * Assets are static const data: a response is the table entry's bytes
 * copied once into the connection's output buffer, nothing else.
 */
#include "webui.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api.h"
#include "http.h"
#include "route.h"
#include "webui_assets.h"

static const char csp[] = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
                          "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; object-src 'none'; "
                          "base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

const struct dp_webui_asset *dp_webui_find(const char *path, size_t len)
{
	size_t lo = 0, hi = dp_webui_nassets;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const char *p = dp_webui_assets[mid].path;
		size_t pl = strlen(p);
		int c = memcmp(p, path, pl < len ? pl : len);
		if (c == 0)
			c = pl < len ? -1 : pl > len ? 1 : 0;
		if (c == 0)
			return &dp_webui_assets[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* Skip optional whitespace. */
static const char *ows(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

int dp_webui_accepts_gzip(const char *ae)
{
	if (!ae)
		return 0;
	int gzip = -1, star = -1;
	const char *p = ae;
	while (*p) {
		p = ows(p);
		const char *tok = p;
		while (*p && *p != ',' && *p != ';' && *p != ' ' && *p != '\t')
			p++;
		size_t tl = (size_t)(p - tok);
		int q = 1;
		/* parameters: look for q=0 (q=0, q=0.0, q=0.000) */
		while (*p && *p != ',') {
			p = ows(p);
			if (*p == ';') {
				p = ows(p + 1);
				if ((p[0] == 'q' || p[0] == 'Q') && p[1] == '=') {
					const char *v = p + 2;
					if (v[0] == '0') {
						q = 0;
						for (const char *d = v[1] == '.' ? v + 2 : v + 1;
						     *d >= '0' && *d <= '9'; d++)
							if (*d != '0')
								q = 1;
					}
				}
			}
			while (*p && *p != ',' && *p != ';')
				p++;
		}
		if (tl == 4 && strncasecmp(tok, "gzip", 4) == 0)
			gzip = q;
		else if (tl == 1 && *tok == '*')
			star = q;
		if (*p == ',')
			p++;
	}
	if (gzip >= 0)
		return gzip;
	return star > 0;
}

/* Does If-None-Match list one of our tags (or "*")? */
static int etag_matches(const char *inm, const char *tag, const char *gztag)
{
	const char *p = inm;
	while (*p) {
		p = ows(p);
		if (p[0] == '*')
			return 1;
		if (p[0] == 'W' && p[1] == '/')
			p += 2;
		const char *s = p;
		while (*p && *p != ',')
			p++;
		const char *e = p;
		while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		size_t n = (size_t)(e - s);
		if ((strlen(tag) == n && memcmp(s, tag, n) == 0) ||
		    (gztag && strlen(gztag) == n && memcmp(s, gztag, n) == 0))
			return 1;
		if (*p == ',')
			p++;
	}
	return 0;
}

static void serve(struct dp_ctx *c, const struct dp_webui_asset *a, int immutable)
{
	struct dp_http_req *req = c->req;
	char gztag[48] = "";
	size_t tl = strlen(a->etag);
	if (a->gz && tl >= 2 && tl < sizeof(gztag) - 4)
		snprintf(gztag, sizeof(gztag), "%.*s-gz\"", (int)(tl - 1), a->etag);
	int use_gz = a->gz && dp_webui_accepts_gzip(dp_http_req_header(req, "Accept-Encoding"));
	dp_http_add_header(req, "Cache-Control", immutable ? "public, max-age=31536000, immutable" : "no-cache");
	dp_http_add_header(req, "X-Content-Type-Options", "nosniff");
	if (a->gz)
		dp_http_add_header(req, "Vary", "Accept-Encoding");
	dp_http_add_header(req, "ETag", use_gz ? gztag : a->etag);
	if (strncmp(a->ctype, "text/html", 9) == 0) {
		dp_http_add_header(req, "Content-Security-Policy", csp);
		dp_http_add_header(req, "X-Frame-Options", "DENY");
		dp_http_add_header(req, "Referrer-Policy", "same-origin");
	}
	c->replied = 1;
	const char *inm = dp_http_req_header(req, "If-None-Match");
	if (inm && etag_matches(inm, a->etag, a->gz ? gztag : NULL)) {
		dp_http_reply(req, 304, NULL, NULL, 0);
		return;
	}
	if (use_gz) {
		dp_http_add_header(req, "Content-Encoding", "gzip");
		dp_http_reply(req, 200, a->ctype, a->gz, a->gz_len);
	} else {
		dp_http_reply(req, 200, a->ctype, a->data, a->len);
	}
}

static void webui_get(struct dp_ctx *c)
{
	const char *path = dp_http_req_path(c->req);
	size_t len = strlen(path);
	const struct dp_webui_asset *a = NULL;
	int assets = len >= 8 && memcmp(path, "/assets/", 8) == 0;
	if (!(len == 1 && path[0] == '/'))
		a = dp_webui_find(path, len);
	if (a) {
		serve(c, a, assets);
		return;
	}
	if (assets) {
		dp_reply_error(c, 404, "not_found", "no such asset");
		return;
	}
	a = dp_webui_find("/index.html", 11);
	if (!a) {
		dp_reply_error(c, 404, "not_found",
		               "the web UI is not built into this binary (run make web, then rebuild)");
		return;
	}
	serve(c, a, 0);
}

const struct dp_route dp_webui_routes[] = {
        {.method = "GET", .path = "/{path}", .fn = webui_get, .role = DP_ROLE_PUBLIC},
        {0},
};
