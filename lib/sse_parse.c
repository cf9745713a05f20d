/*
 * sse_parse.c - incremental, bounded Server-Sent-Events parser (see
 * sse_parse.h for the contract).
 *
 * Complete lines inside a chunk are interpreted in place; only an incomplete
 * line at the end of a chunk is copied (into `line`), so the common case of
 * whole events per read costs one copy of the data and nothing else. A CR
 * dispatches at once: the parser never waits for a possible LF to decide, it
 * remembers to drop that LF from the next chunk instead (`skip_lf`).
 */
#include "sse_parse.h"

#include <errno.h>
#include <string.h>

static const unsigned char bom_bytes[3] = {0xEF, 0xBB, 0xBF};

void dp_sse_parse_init(struct dp_sse_parse *p, size_t max_event, dp_sse_parse_fn fn, void *arg)
{
	memset(p, 0, sizeof(*p));
	if (!max_event)
		max_event = DP_SSE_PARSE_MAX_EVENT_DEFAULT;
	p->max_event = max_event;
	/* Each buffer may reach the limit on its own; the combined bound is
	 * checked before every append, so these never trip first. */
	dp_buf_init(&p->line, max_event + 1);
	dp_buf_init(&p->data, max_event + 1);
	dp_buf_init(&p->event, max_event + 1);
	dp_buf_init(&p->id, max_event + 1);
	p->retry = -1;
	p->fn = fn;
	p->arg = arg;
}

void dp_sse_parse_release(struct dp_sse_parse *p)
{
	dp_buf_release(&p->line);
	dp_buf_release(&p->data);
	dp_buf_release(&p->event);
	dp_buf_release(&p->id);
}

void dp_sse_parse_reset(struct dp_sse_parse *p)
{
	dp_buf_reset(&p->line);
	dp_buf_reset(&p->data);
	dp_buf_reset(&p->event);
	dp_buf_reset(&p->id);
	p->retry = -1;
	p->has_id = 0;
	p->skip_lf = 0;
	p->bom = 0;
	p->failed = 0;
	p->events = 0;
	p->comments = 0;
}

static int fail(struct dp_sse_parse *p)
{
	p->failed = 1;
	dp_buf_release(&p->line);
	dp_buf_release(&p->data);
	dp_buf_release(&p->event);
	return -EMSGSIZE;
}

/* Bytes held for the event being built. */
static size_t held(const struct dp_sse_parse *p)
{
	return p->line.len + p->data.len + p->event.len;
}

static int dispatch(struct dp_sse_parse *p)
{
	int stop = 0;
	if (p->data.len) {
		/* drop the "\n" appended after the last data line */
		p->data.len--;
		p->data.data[p->data.len] = '\0';
		struct dp_sse_parse_event ev = {
		        .event = p->event.data,
		        .event_len = p->event.len,
		        .data = p->data.data,
		        .data_len = p->data.len,
		        .id = p->id.data,
		        .has_id = p->has_id,
		        .retry = p->retry,
		};
		p->events++;
		if (p->fn)
			stop = p->fn(&ev, p->arg) != 0;
	}
	dp_buf_reset(&p->data);
	dp_buf_reset(&p->event);
	p->retry = -1;
	p->has_id = 0;
	return stop;
}

static int64_t parse_retry(const char *v, size_t n)
{
	if (!n)
		return -1;
	int64_t r = 0;
	for (size_t i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -1;
		if (r > (INT64_MAX - 9) / 10)
			return -1; /* absurdly large: ignored like any invalid value */
		r = r * 10 + (v[i] - '0');
	}
	return r;
}

static int field(struct dp_sse_parse *p, const char *name, size_t nlen, const char *v, size_t vlen)
{
	if (nlen == 4 && memcmp(name, "data", 4) == 0) {
		if (p->data.len + p->event.len + vlen + 1 > p->max_event)
			return -EMSGSIZE;
		if (dp_buf_add(&p->data, v, vlen) < 0 || dp_buf_addch(&p->data, '\n') < 0)
			return -EMSGSIZE;
	} else if (nlen == 5 && memcmp(name, "event", 5) == 0) {
		if (p->data.len + vlen > p->max_event)
			return -EMSGSIZE;
		dp_buf_reset(&p->event);
		if (dp_buf_add(&p->event, v, vlen) < 0)
			return -EMSGSIZE;
	} else if (nlen == 2 && memcmp(name, "id", 2) == 0) {
		if (memchr(v, '\0', vlen))
			return 0; /* the spec ignores ids containing NUL */
		if (vlen > p->max_event)
			return -EMSGSIZE;
		dp_buf_reset(&p->id);
		if (dp_buf_add(&p->id, v, vlen) < 0)
			return -EMSGSIZE;
		p->has_id = 1;
	} else if (nlen == 5 && memcmp(name, "retry", 5) == 0) {
		int64_t r = parse_retry(v, vlen);
		if (r >= 0)
			p->retry = r;
	}
	/* unknown fields are ignored */
	return 0;
}

/* One complete line without its terminator: 0, 1 (stop) or -EMSGSIZE. */
static int line_done(struct dp_sse_parse *p, const char *s, size_t n)
{
	if (n == 0)
		return dispatch(p);
	if (s[0] == ':') {
		p->comments++;
		return 0;
	}
	const char *colon = memchr(s, ':', n);
	if (!colon)
		return field(p, s, n, "", 0);
	size_t nlen = (size_t)(colon - s);
	const char *v = colon + 1;
	size_t vlen = n - nlen - 1;
	if (vlen && *v == ' ') {
		v++;
		vlen--;
	}
	return field(p, s, nlen, v, vlen);
}

int dp_sse_parse_feed(struct dp_sse_parse *p, const void *buf, size_t n, size_t *used)
{
	const unsigned char *s = buf;
	size_t i = 0;

	if (used)
		*used = 0;
	if (p->failed)
		return -EMSGSIZE;

	/* One leading BOM is dropped; a partial match that turns out not to
	 * be a BOM is the start of the first line. */
	while (p->bom < 3 && i < n) {
		if (s[i] == bom_bytes[p->bom]) {
			p->bom++;
			i++;
			continue;
		}
		if (p->bom > 0 && dp_buf_add(&p->line, bom_bytes, (size_t)p->bom) < 0)
			return fail(p);
		p->bom = 3;
	}
	if (p->skip_lf && i < n) {
		if (s[i] == '\n')
			i++;
		p->skip_lf = 0;
	}

	while (i < n) {
		size_t j = i;
		while (j < n && s[j] != '\n' && s[j] != '\r')
			j++;
		if (j == n) {
			if (held(p) + (n - i) > p->max_event)
				return fail(p);
			dp_buf_add(&p->line, s + i, n - i);
			break;
		}
		const char *ls;
		size_t ln;
		if (p->line.len) {
			if (held(p) + (j - i) > p->max_event)
				return fail(p);
			dp_buf_add(&p->line, s + i, j - i);
			ls = p->line.data;
			ln = p->line.len;
		} else {
			if (p->data.len + p->event.len + (j - i) > p->max_event)
				return fail(p);
			ls = (const char *)s + i;
			ln = j - i;
		}
		size_t next = j + 1;
		if (s[j] == '\r') {
			if (next < n) {
				if (s[next] == '\n')
					next++;
			} else {
				p->skip_lf = 1;
			}
		}
		int r = line_done(p, ls, ln);
		dp_buf_reset(&p->line);
		i = next;
		if (r < 0)
			return fail(p);
		if (r > 0) {
			if (used)
				*used = i;
			return 1;
		}
	}
	if (used)
		*used = n;
	return 0;
}

int dp_sse_parse_finish(struct dp_sse_parse *p)
{
	int r = 0;
	if (p->failed)
		r = -EMSGSIZE;
	else if (p->line.len || p->data.len || (p->bom > 0 && p->bom < 3))
		r = -ENODATA;
	dp_sse_parse_reset(p);
	return r;
}
