/*
 * buf.c - bounded growable buffer (see buf.h for the invariants).
 */
#include "buf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xmalloc.h"

static char empty[1];

void dp_buf_init(struct dp_buf *b, size_t max)
{
	b->data = empty;
	b->len = 0;
	b->cap = 0;
	b->max = max;
	empty[0] = '\0';
}

void dp_buf_release(struct dp_buf *b)
{
	if (b->cap)
		free(b->data);
	dp_buf_init(b, b->max);
}

void dp_buf_reset(struct dp_buf *b)
{
	b->len = 0;
	if (b->cap)
		b->data[0] = '\0';
}

static int grow(struct dp_buf *b, size_t extra)
{
	if (extra > b->max || b->len > b->max - extra) {
		dp_buf_release(b);
		return -ENOSPC;
	}
	size_t need = b->len + extra + 1;
	if (need <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap = cap > ((size_t)-1) / 2 ? need : cap * 2;
	if (cap > b->max + 1)
		cap = b->max + 1;
	if (b->cap)
		b->data = xrealloc(b->data, cap);
	else
		b->data = xmalloc(cap);
	b->cap = cap;
	return 0;
}

int dp_buf_add(struct dp_buf *b, const void *p, size_t n)
{
	if (grow(b, n) < 0)
		return -ENOSPC;
	if (!b->cap)
		return 0; /* n == 0 and nothing allocated yet */
	memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int dp_buf_adds(struct dp_buf *b, const char *s)
{
	return dp_buf_add(b, s, strlen(s));
}

int dp_buf_addch(struct dp_buf *b, char c)
{
	return dp_buf_add(b, &c, 1);
}

int dp_buf_vaddf(struct dp_buf *b, const char *fmt, va_list ap)
{
	va_list cp;
	va_copy(cp, ap);
	int n = vsnprintf(NULL, 0, fmt, cp);
	va_end(cp);
	if (n < 0)
		return -EINVAL;
	if (grow(b, (size_t)n) < 0)
		return -ENOSPC;
	if (!b->cap)
		return 0;
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return 0;
}

int dp_buf_addf(struct dp_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = dp_buf_vaddf(b, fmt, ap);
	va_end(ap);
	return r;
}

void dp_buf_consume(struct dp_buf *b, size_t n)
{
	if (n >= b->len) {
		dp_buf_reset(b);
		return;
	}
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
	b->data[b->len] = '\0';
}

char *dp_buf_detach(struct dp_buf *b, size_t *len)
{
	char *p;
	if (len)
		*len = b->len;
	if (b->cap) {
		p = b->data;
	} else {
		p = xmalloc(1);
		p[0] = '\0';
	}
	dp_buf_init(b, b->max);
	return p;
}
