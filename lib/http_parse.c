/*
 * http_parse.c - the HTTP/1.x request-head parser and URL decoding used by
 * lib/http.c, kept apart so unit tests and fuzz targets can drive it without
 * sockets or an event loop.
 *
 * The parser is strict where leniency has bitten other servers: no obsolete
 * line folding, no control bytes in header values, Content-Length must be
 * plain digits and agree with itself, Content-Length together with
 * Transfer-Encoding is refused (request smuggling), only HTTP/1.0 and 1.1,
 * exactly one Host in HTTP/1.1 (RFC 9112 section 3.2: at most one in 1.0).
 */
#include "http.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <strings.h>

static int is_tchar(unsigned char c)
{
	/* RFC 9110 token characters */
	return isalnum(c) || strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static int fail(int *status, const char **code, int st, const char *cd)
{
	*status = st;
	*code = cd;
	return -EINVAL;
}

/* Next line: returns its start, sets *end to the terminator (CR or LF),
 * advances *p past the line ending. NULL at the end of the buffer. */
static char *next_line(char **p, char *lim, char **end)
{
	char *s = *p;
	if (s >= lim)
		return NULL;
	char *nl = memchr(s, '\n', (size_t)(lim - s));
	if (!nl)
		return NULL;
	char *e = nl;
	if (e > s && e[-1] == '\r')
		e--;
	*end = e;
	*p = nl + 1;
	return s;
}

static int parse_content_length(const char *v, int64_t *out)
{
	int64_t n = 0;
	if (!*v)
		return -1;
	for (const char *p = v; *p; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		if (n > (INT64_MAX - 9) / 10)
			return -1;
		n = n * 10 + (*p - '0');
	}
	*out = n;
	return 0;
}

/* Does the comma-separated header value contain `tok` (case-insensitive)? */
static int has_token(const char *v, const char *tok)
{
	size_t tl = strlen(tok);
	const char *p = v;
	while (*p) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		const char *s = p;
		while (*p && *p != ',')
			p++;
		const char *e = p;
		while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		if ((size_t)(e - s) == tl && strncasecmp(s, tok, tl) == 0)
			return 1;
	}
	return 0;
}

int dp_http_parse_head(char *buf, size_t len, int max_headers, struct dp_http_head *h, int *status, const char **code)
{
	char *p = buf, *lim = buf + len, *end;
	int maxh = max_headers;

	memset(h, 0, sizeof(*h));
	h->content_length = -1;
	if (maxh <= 0 || maxh > (int)(sizeof(h->headers) / sizeof(h->headers[0])))
		maxh = (int)(sizeof(h->headers) / sizeof(h->headers[0]));

	/* Tolerate empty lines before the request line (RFC 9112 2.2). */
	char *line;
	do {
		line = next_line(&p, lim, &end);
		if (!line)
			return fail(status, code, 400, "bad_request");
	} while (line == end);

	/* METHOD SP request-target SP HTTP-version */
	*end = '\0';
	char *sp1 = strchr(line, ' ');
	if (!sp1 || sp1 == line || (size_t)(sp1 - line) >= sizeof(h->method))
		return fail(status, code, 400, "bad_request");
	for (char *c = line; c < sp1; c++)
		if (!is_tchar((unsigned char)*c))
			return fail(status, code, 400, "bad_request");
	memcpy(h->method, line, (size_t)(sp1 - line));
	h->method[sp1 - line] = '\0';
	char *target = sp1 + 1;
	char *sp2 = strchr(target, ' ');
	if (!sp2 || sp2 == target)
		return fail(status, code, 400, "bad_request");
	*sp2 = '\0';
	for (char *c = target; *c; c++)
		if ((unsigned char)*c <= 0x20 || (unsigned char)*c == 0x7f)
			return fail(status, code, 400, "bad_request");
	if (target[0] != '/' && strcmp(target, "*") != 0)
		return fail(status, code, 400, "bad_request");
	h->target = target;
	const char *ver = sp2 + 1;
	if (strncmp(ver, "HTTP/", 5) != 0)
		return fail(status, code, 400, "bad_request");
	if (strcmp(ver, "HTTP/1.1") == 0)
		h->minor_version = 1;
	else if (strcmp(ver, "HTTP/1.0") == 0)
		h->minor_version = 0;
	else
		return fail(status, code, 505, "http_version_not_supported");

	int conn_close = 0, conn_keep = 0, te_seen = 0, hosts = 0;
	while ((line = next_line(&p, lim, &end)) != NULL) {
		if (line == end)
			break; /* blank line: end of head */
		if (*line == ' ' || *line == '\t')
			return fail(status, code, 400, "bad_request"); /* obs-fold */
		*end = '\0';
		char *colon = strchr(line, ':');
		if (!colon || colon == line)
			return fail(status, code, 400, "bad_request");
		for (char *c = line; c < colon; c++)
			if (!is_tchar((unsigned char)*c))
				return fail(status, code, 400, "bad_request");
		*colon = '\0';
		char *v = colon + 1;
		while (*v == ' ' || *v == '\t')
			v++;
		char *ve = v + strlen(v);
		while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
			ve--;
		*ve = '\0';
		for (char *c = v; *c; c++) {
			unsigned char uc = (unsigned char)*c;
			if ((uc < 0x20 && uc != '\t') || uc == 0x7f)
				return fail(status, code, 400, "bad_request");
		}
		if (h->nheaders >= maxh)
			return fail(status, code, 431, "header_too_large");
		h->headers[h->nheaders].name = line;
		h->headers[h->nheaders].value = v;
		h->nheaders++;

		if (strcasecmp(line, "Content-Length") == 0) {
			int64_t n;
			if (parse_content_length(v, &n) < 0)
				return fail(status, code, 400, "bad_request");
			if (h->content_length >= 0 && h->content_length != n)
				return fail(status, code, 400, "bad_request");
			h->content_length = n;
		} else if (strcasecmp(line, "Transfer-Encoding") == 0) {
			te_seen = 1;
			if (!has_token(v, "identity"))
				h->chunked = 1;
		} else if (strcasecmp(line, "Host") == 0) {
			hosts++;
		} else if (strcasecmp(line, "Connection") == 0) {
			if (has_token(v, "close"))
				conn_close = 1;
			if (has_token(v, "keep-alive"))
				conn_keep = 1;
		}
	}
	if (!line)
		return fail(status, code, 400, "bad_request"); /* no blank line */
	if (te_seen && h->content_length >= 0)
		return fail(status, code, 400, "bad_request");
	if (hosts > 1 || (hosts == 0 && h->minor_version == 1))
		return fail(status, code, 400, "bad_host");
	if (h->minor_version == 1)
		h->keep_alive = !conn_close;
	else
		h->keep_alive = conn_keep && !conn_close;
	*status = 0;
	*code = NULL;
	return 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int dp_http_urldecode(const char *in, size_t n, char *out, int plus_is_space)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		char c = in[i];
		if (c == '%') {
			if (i + 2 >= n)
				return -EINVAL;
			int hi = hexval(in[i + 1]), lo = hexval(in[i + 2]);
			if (hi < 0 || lo < 0)
				return -EINVAL;
			c = (char)(hi * 16 + lo);
			if (c == '\0')
				return -EINVAL;
			i += 2;
		} else if (c == '+' && plus_is_space) {
			c = ' ';
		} else if (c == '\0') {
			return -EINVAL;
		}
		out[o++] = c;
	}
	out[o] = '\0';
	return 0;
}
