/*
 * http_resp.c - incremental, bounded HTTP/1.1 response parser (see
 * http_resp.h for the contract).
 *
 * Lines (status line, fields, chunk-size lines, trailers) are interpreted in
 * place when they are whole inside one feed; only a line cut by the end of a
 * feed is copied into `line`. Every limit is checked on the bytes as they
 * arrive, before the line is interpreted, and every line is interpreted only
 * once it is complete, so the result never depends on where the input was
 * split. Body bytes are handed to on_body straight from the input.
 */
#include "http_resp.h"

#include <string.h>
#include <strings.h>

enum {
	ST_STATUS,     /* status line */
	ST_FIELD,      /* header field lines until the blank line */
	ST_BODY_LEN,   /* Content-Length body, `remaining` bytes left */
	ST_BODY_CLOSE, /* body until the peer closes */
	ST_CHUNK_SIZE, /* chunk-size [ext] line */
	ST_CHUNK_DATA, /* chunk data, `remaining` bytes left */
	ST_CHUNK_CR,   /* CRLF after chunk data: expecting CR or LF */
	ST_CHUNK_LF,   /* CRLF after chunk data: CR seen, expecting LF */
	ST_TRAILER,    /* trailer field lines until the blank line */
	ST_DONE,
	ST_ERROR,
};

static void clear(struct dp_http_resp *p, int head_request)
{
	dp_buf_reset(&p->line);
	dp_buf_reset(&p->fields);
	p->nfields = 0;
	p->sect_bytes = 0;
	p->line_bytes = 0;
	p->remaining = 0;
	p->content_length = -1;
	p->state = ST_STATUS;
	p->err = 0;
	p->status = 0;
	p->code = 0;
	p->minor = 0;
	p->head_request = head_request;
	p->keep_alive = 0;
	p->got_bytes = 0;
	p->te_seen = p->te_chunked = p->conn_close = p->conn_keep = 0;
}

void dp_http_resp_init(struct dp_http_resp *p, int head_request, const struct dp_http_resp_cb *cb, void *arg)
{
	memset(p, 0, sizeof(*p));
	if (cb)
		p->cb = *cb;
	p->arg = arg;
	/* Both are bounded by the section limit checked before every append;
	 * the buffers' own limits are a second fence that never trips first. */
	dp_buf_init(&p->line, DP_HTTP_RESP_MAX_HEAD);
	dp_buf_init(&p->fields, DP_HTTP_RESP_MAX_HEAD);
	clear(p, head_request);
}

void dp_http_resp_release(struct dp_http_resp *p)
{
	dp_buf_release(&p->line);
	dp_buf_release(&p->fields);
}

void dp_http_resp_reset(struct dp_http_resp *p, int head_request)
{
	clear(p, head_request);
}

static int is_tchar(unsigned char c)
{
	/* RFC 9110 token characters */
	if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
		return 1;
	return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Control bytes other than HTAB (CR and NUL included) are never allowed in
 * a line: field values, reason phrases and chunk extensions alike. */
static int has_ctl(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return 1;
	}
	return 0;
}

static int is_ows(char c)
{
	return c == ' ' || c == '\t';
}

/* Trim OWS from both ends of [*s, *s + *n). */
static void trim(const char **s, size_t *n)
{
	while (*n && is_ows(**s)) {
		(*s)++;
		(*n)--;
	}
	while (*n && is_ows((*s)[*n - 1]))
		(*n)--;
}

/* Call fn(arg, element, len) for each OWS-trimmed element of a
 * comma-separated list (empty elements included); stop on non-zero. */
static int each_elem(const char *v, size_t n, int (*fn)(void *, const char *, size_t), void *arg)
{
	size_t i = 0;
	for (;;) {
		size_t j = i;
		while (j < n && v[j] != ',')
			j++;
		const char *e = v + i;
		size_t el = j - i;
		trim(&e, &el);
		int r = fn(arg, e, el);
		if (r)
			return r;
		if (j == n)
			return 0;
		i = j + 1;
	}
}

static int elem_eq(const char *e, size_t el, const char *tok)
{
	size_t tl = strlen(tok);
	return el == tl && strncasecmp(e, tok, tl) == 0;
}

static int conn_elem(void *arg, const char *e, size_t el)
{
	struct dp_http_resp *p = arg;
	if (elem_eq(e, el, "close"))
		p->conn_close = 1;
	else if (elem_eq(e, el, "keep-alive"))
		p->conn_keep = 1;
	return 0;
}

static int te_elem(void *arg, const char *e, size_t el)
{
	struct dp_http_resp *p = arg;
	/* the last non-empty coding of all Transfer-Encoding fields decides */
	if (el)
		p->te_chunked = elem_eq(e, el, "chunked");
	return 0;
}

static int cl_elem(void *arg, const char *e, size_t el)
{
	struct dp_http_resp *p = arg;
	int64_t v = 0;
	if (!el)
		return DP_HTTP_RESP_E_LENGTH;
	for (size_t i = 0; i < el; i++) {
		if (e[i] < '0' || e[i] > '9')
			return DP_HTTP_RESP_E_LENGTH;
		if (v > (INT64_MAX - (e[i] - '0')) / 10)
			return DP_HTTP_RESP_E_LENGTH;
		v = v * 10 + (e[i] - '0');
	}
	/* RFC 9110 8.6: a list of identical values is one value; anything
	 * else is unrecoverable framing. */
	if (p->content_length >= 0 && p->content_length != v)
		return DP_HTTP_RESP_E_LENGTH;
	p->content_length = v;
	return 0;
}

/* `name: value` (a header or trailer field line, terminator removed):
 * checks the syntax and returns the name and the trimmed value. */
static int split_field(const char *s, size_t n, const char **v, size_t *nlen, size_t *vlen)
{
	if (is_ows(s[0]))
		return DP_HTTP_RESP_E_SYNTAX; /* obs-fold, or space before the first field */
	const char *colon = memchr(s, ':', n);
	if (!colon || colon == s)
		return DP_HTTP_RESP_E_SYNTAX;
	*nlen = (size_t)(colon - s);
	for (size_t i = 0; i < *nlen; i++)
		if (!is_tchar((unsigned char)s[i]))
			return DP_HTTP_RESP_E_SYNTAX; /* includes space before the colon */
	*v = colon + 1;
	*vlen = n - *nlen - 1;
	if (has_ctl(*v, *vlen))
		return DP_HTTP_RESP_E_SYNTAX;
	trim(v, vlen);
	return 0;
}

static int status_line(struct dp_http_resp *p, const char *s, size_t n)
{
	if (n < 5 || memcmp(s, "HTTP/", 5) != 0)
		return DP_HTTP_RESP_E_SYNTAX;
	/* HTTP-version: anything shaped like one but not 1.0 / 1.1 is a
	 * version we do not speak rather than garbage */
	size_t i = 5, maj = 0, min = 0;
	while (i < n && s[i] >= '0' && s[i] <= '9')
		i++, maj++;
	if (i < n && s[i] == '.') {
		i++;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++, min++;
		if (!min)
			return DP_HTTP_RESP_E_SYNTAX;
	}
	if (!maj || i == n || s[i] != ' ')
		return DP_HTTP_RESP_E_SYNTAX;
	if (i != 8 || s[5] != '1' || s[6] != '.' || (s[7] != '0' && s[7] != '1'))
		return DP_HTTP_RESP_E_VERSION;
	p->minor = s[7] - '0';
	i++;
	/* exactly three digits, then the end of the line or SP reason */
	if (n - i < 3)
		return DP_HTTP_RESP_E_SYNTAX;
	int code = 0;
	for (size_t k = 0; k < 3; k++) {
		if (s[i + k] < '0' || s[i + k] > '9')
			return DP_HTTP_RESP_E_SYNTAX;
		code = code * 10 + (s[i + k] - '0');
	}
	i += 3;
	if (i < n && s[i] != ' ')
		return DP_HTTP_RESP_E_SYNTAX;
	if (code < 100 || code > 599)
		return DP_HTTP_RESP_E_SYNTAX;
	if (has_ctl(s + i, n - i))
		return DP_HTTP_RESP_E_SYNTAX;
	if (code == 101)
		return DP_HTTP_RESP_E_UPGRADE;
	p->code = code;
	p->state = ST_FIELD;
	return 0;
}

/* The blank line after the fields: skip an interim response, or settle the
 * framing of the final one. Returns 0, 1 (on_head asked to stop) or an error. */
static int head_done(struct dp_http_resp *p)
{
	if (p->code < 200) {
		/* 1xx interim: forget its fields, read the next head; its bytes
		 * keep counting towards the head limit */
		dp_buf_reset(&p->fields);
		p->nfields = 0;
		p->content_length = -1;
		p->te_seen = p->te_chunked = p->conn_close = p->conn_keep = 0;
		p->state = ST_STATUS;
		return 0;
	}
	p->status = p->code;
	int ka = p->minor == 1 ? !p->conn_close : p->conn_keep && !p->conn_close;
	/* Both framings, or Transfer-Encoding in HTTP/1.0, means someone on
	 * the path got framing wrong (RFC 9112 6.1, 6.3): never reuse. */
	if (p->te_seen && (p->content_length >= 0 || p->minor == 0))
		ka = 0;
	if (p->head_request || p->status == 204 || p->status == 304) {
		p->state = ST_DONE;
	} else if (p->te_seen) {
		if (p->te_chunked) {
			p->state = ST_CHUNK_SIZE;
			p->line_bytes = 0;
		} else {
			p->state = ST_BODY_CLOSE;
			ka = 0;
		}
	} else if (p->content_length >= 0) {
		p->remaining = (uint64_t)p->content_length;
		p->state = p->remaining ? ST_BODY_LEN : ST_DONE;
	} else {
		p->state = ST_BODY_CLOSE;
		ka = 0;
	}
	p->keep_alive = ka;
	if (p->cb.on_head && p->cb.on_head(p->arg, p->status) != 0)
		return 1;
	return 0;
}

static int field_line(struct dp_http_resp *p, const char *s, size_t n)
{
	if (n == 0)
		return head_done(p);
	const char *v;
	size_t nlen, vlen;
	int r = split_field(s, n, &v, &nlen, &vlen);
	if (r < 0)
		return r;
	if (++p->nfields > DP_HTTP_RESP_MAX_FIELDS)
		return DP_HTTP_RESP_E_TOO_MANY_FIELDS;
	if (dp_buf_add(&p->fields, s, nlen) < 0 || dp_buf_addch(&p->fields, '\0') < 0 ||
	    dp_buf_add(&p->fields, v, vlen) < 0 || dp_buf_addch(&p->fields, '\0') < 0)
		return DP_HTTP_RESP_E_HEAD_TOO_LARGE; /* cannot happen: stored < read */
	if (nlen == 14 && strncasecmp(s, "Content-Length", 14) == 0) {
		r = each_elem(v, vlen, cl_elem, p);
		if (r < 0)
			return r;
	} else if (nlen == 17 && strncasecmp(s, "Transfer-Encoding", 17) == 0) {
		p->te_seen = 1;
		each_elem(v, vlen, te_elem, p);
	} else if (nlen == 10 && strncasecmp(s, "Connection", 10) == 0) {
		each_elem(v, vlen, conn_elem, p);
	}
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

static int chunk_size_line(struct dp_http_resp *p, const char *s, size_t n)
{
	uint64_t v = 0;
	size_t i = 0;
	int h;
	while (i < n && (h = hexval(s[i])) >= 0) {
		if (i == DP_HTTP_RESP_MAX_CHUNK_DIGITS)
			return DP_HTTP_RESP_E_CHUNK;
		v = v << 4 | (uint64_t)h; /* 16 digits fit: no overflow */
		i++;
	}
	if (i == 0)
		return DP_HTTP_RESP_E_CHUNK;
	/* chunk extensions (BWS ";" ...) are ignored; trailing BWS tolerated */
	while (i < n && is_ows(s[i]))
		i++;
	if (i < n && s[i] != ';')
		return DP_HTTP_RESP_E_CHUNK;
	if (has_ctl(s + i, n - i))
		return DP_HTTP_RESP_E_CHUNK;
	if (v == 0) {
		p->state = ST_TRAILER;
		p->sect_bytes = 0;
		p->nfields = 0;
	} else {
		p->remaining = v;
		p->state = ST_CHUNK_DATA;
	}
	return 0;
}

static int trailer_line(struct dp_http_resp *p, const char *s, size_t n)
{
	if (n == 0) {
		p->state = ST_DONE;
		return 0;
	}
	const char *v;
	size_t nlen, vlen;
	int r = split_field(s, n, &v, &nlen, &vlen);
	if (r < 0)
		return r;
	if (++p->nfields > DP_HTTP_RESP_MAX_FIELDS)
		return DP_HTTP_RESP_E_TOO_MANY_FIELDS;
	return 0; /* trailer fields are checked and dropped */
}

/* Take the next line from data[*i..n). Returns 1 with the line (terminator
 * removed) in *ls and *ln, 0 when the input ended inside the line (all of it
 * kept in `line`), or `err` when *count would pass `limit`. */
static int next_line(struct dp_http_resp *p, const char *data, size_t n, size_t *i, size_t *count, size_t limit,
                     int err, const char **ls, size_t *ln)
{
	const char *s = data + *i;
	size_t avail = n - *i;
	const char *nl = memchr(s, '\n', avail);
	size_t seg = nl ? (size_t)(nl - s) + 1 : avail;
	if (seg > limit - *count)
		return err;
	*count += seg;
	*i += seg;
	if (!nl) {
		if (dp_buf_add(&p->line, s, seg) < 0)
			return err;
		return 0;
	}
	if (p->line.len) {
		if (dp_buf_add(&p->line, s, seg - 1) < 0)
			return err;
		*ls = p->line.data;
		*ln = p->line.len;
	} else {
		*ls = s;
		*ln = seg - 1;
	}
	if (*ln && (*ls)[*ln - 1] == '\r')
		(*ln)--;
	return 1;
}

static int fail(struct dp_http_resp *p, int err)
{
	p->state = ST_ERROR;
	p->err = err;
	dp_buf_release(&p->line);
	return err;
}

/* One complete line (or the rest of the input into `line`): 0 to go on, 1
 * when on_head asked to stop, or an error. */
static int step_line(struct dp_http_resp *p, const char *data, size_t n, size_t *i)
{
	const char *ls = NULL;
	size_t ln = 0;
	int r;
	if (p->state == ST_CHUNK_SIZE)
		r = next_line(p, data, n, i, &p->line_bytes, DP_HTTP_RESP_MAX_CHUNK_LINE, DP_HTTP_RESP_E_CHUNK, &ls,
		              &ln);
	else
		r = next_line(p, data, n, i, &p->sect_bytes, DP_HTTP_RESP_MAX_HEAD, DP_HTTP_RESP_E_HEAD_TOO_LARGE, &ls,
		              &ln);
	if (r <= 0)
		return r;
	switch (p->state) {
	case ST_STATUS:
		r = status_line(p, ls, ln);
		break;
	case ST_FIELD:
		r = field_line(p, ls, ln);
		break;
	case ST_CHUNK_SIZE:
		r = chunk_size_line(p, ls, ln);
		p->line_bytes = 0;
		break;
	default:
		r = trailer_line(p, ls, ln);
		break;
	}
	dp_buf_reset(&p->line);
	return r;
}

/* As much body as the input holds, in one piece straight from the input:
 * 0 to go on, 1 when on_body asked to stop. */
static int step_body(struct dp_http_resp *p, const char *data, size_t n, size_t *i)
{
	const char *s = data + *i;
	size_t k = n - *i;
	if (p->state != ST_BODY_CLOSE) {
		if (p->remaining < k)
			k = (size_t)p->remaining;
		p->remaining -= k;
		if (!p->remaining)
			p->state = p->state == ST_BODY_LEN ? ST_DONE : ST_CHUNK_CR;
	}
	*i += k;
	return p->cb.on_body && p->cb.on_body(p->arg, s, k) != 0;
}

/* The CRLF (or bare LF) after chunk data. */
static int step_crlf(struct dp_http_resp *p, char c)
{
	if (c == '\n') {
		p->state = ST_CHUNK_SIZE;
		p->line_bytes = 0;
		return 0;
	}
	if (c == '\r' && p->state == ST_CHUNK_CR) {
		p->state = ST_CHUNK_LF;
		return 0;
	}
	return DP_HTTP_RESP_E_CHUNK;
}

int dp_http_resp_feed(struct dp_http_resp *p, const char *data, size_t n, size_t *used)
{
	size_t i = 0;
	int r = 0;

	if (used)
		*used = 0;
	if (p->state == ST_ERROR)
		return p->err;
	while (r == 0 && i < n && p->state != ST_DONE) {
		p->got_bytes = 1;
		switch (p->state) {
		case ST_STATUS:
		case ST_FIELD:
		case ST_CHUNK_SIZE:
		case ST_TRAILER:
			r = step_line(p, data, n, &i);
			break;
		case ST_BODY_LEN:
		case ST_BODY_CLOSE:
		case ST_CHUNK_DATA:
			r = step_body(p, data, n, &i);
			break;
		default: /* ST_CHUNK_CR, ST_CHUNK_LF */
			r = step_crlf(p, data[i++]);
			break;
		}
	}
	if (used)
		*used = i;
	if (r < 0)
		return fail(p, r);
	if (r > 0)
		return DP_HTTP_RESP_PAUSED;
	return p->state == ST_DONE ? DP_HTTP_RESP_DONE : DP_HTTP_RESP_MORE;
}

int dp_http_resp_eof(struct dp_http_resp *p)
{
	switch (p->state) {
	case ST_ERROR:
		return p->err;
	case ST_DONE:
		return DP_HTTP_RESP_DONE;
	case ST_BODY_CLOSE:
		p->state = ST_DONE;
		return DP_HTTP_RESP_DONE;
	default:
		return fail(p, p->got_bytes ? DP_HTTP_RESP_E_TRUNCATED : DP_HTTP_RESP_E_EMPTY);
	}
}

int dp_http_resp_status(const struct dp_http_resp *p)
{
	return p->status;
}

const char *dp_http_resp_header(const struct dp_http_resp *p, const char *name)
{
	if (!p->status)
		return NULL;
	const char *s = p->fields.data, *lim = s + p->fields.len;
	while (s < lim) {
		size_t nl = strlen(s);
		const char *v = s + nl + 1;
		if (strcasecmp(s, name) == 0)
			return v;
		s = v + strlen(v) + 1;
	}
	return NULL;
}

int64_t dp_http_resp_content_length(const struct dp_http_resp *p)
{
	return p->status ? p->content_length : -1;
}

int dp_http_resp_keep_alive(const struct dp_http_resp *p)
{
	return p->state == ST_DONE && p->keep_alive;
}

int dp_http_resp_got_bytes(const struct dp_http_resp *p)
{
	return p->got_bytes;
}

const char *dp_http_resp_strerror(int e)
{
	switch (e) {
	case DP_HTTP_RESP_MORE:
		return "incomplete response";
	case DP_HTTP_RESP_DONE:
		return "complete response";
	case DP_HTTP_RESP_PAUSED:
		return "paused";
	case DP_HTTP_RESP_E_SYNTAX:
		return "malformed response head";
	case DP_HTTP_RESP_E_VERSION:
		return "unsupported http version";
	case DP_HTTP_RESP_E_UPGRADE:
		return "unexpected protocol upgrade (101)";
	case DP_HTTP_RESP_E_HEAD_TOO_LARGE:
		return "response head too large";
	case DP_HTTP_RESP_E_TOO_MANY_FIELDS:
		return "too many header fields";
	case DP_HTTP_RESP_E_LENGTH:
		return "invalid content-length";
	case DP_HTTP_RESP_E_CHUNK:
		return "malformed chunked encoding";
	case DP_HTTP_RESP_E_EMPTY:
		return "connection closed before any response";
	case DP_HTTP_RESP_E_TRUNCATED:
		return "connection closed in the middle of the response";
	default:
		return "unknown http response error";
	}
}
