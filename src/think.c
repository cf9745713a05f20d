/*
 * think.c - streaming think-tag splitter (see think.h).
 *
 * The scanner looks for the one tag that can come next (the open tag
 * outside a block, the close tag inside). A tail of the input that is a
 * proper prefix of that tag is held; everything before it is emitted in one
 * piece per kind. When bytes are held the next delta is scanned together
 * with them (copied into a small scratch buffer: a held prefix is shorter
 * than the tag, deltas are tokens), so a tag split at any byte is found and
 * a false prefix goes out with the first byte that breaks it.
 */
#include "think.h"

#include <errno.h>
#include <string.h>

static int set_tag(char *dst, size_t *len, const char *src, const char *def)
{
	if (!src || !*src)
		src = def;
	size_t n = strlen(src);
	if (n > DP_THINK_TAG_MAX)
		return -EINVAL;
	memcpy(dst, src, n + 1);
	*len = n;
	return 0;
}

static void init_common(struct dp_think *t)
{
	memset(t, 0, sizeof(*t));
	dp_buf_init(&t->scratch, (size_t)1 << 30);
}

int dp_think_init(struct dp_think *t, const char *open, const char *close)
{
	init_common(t);
	t->enabled = 1;
	if (set_tag(t->open, &t->open_len, open, DP_THINK_OPEN_DEFAULT) < 0 ||
	    set_tag(t->close, &t->close_len, close, DP_THINK_CLOSE_DEFAULT) < 0 || strcmp(t->open, t->close) == 0) {
		set_tag(t->open, &t->open_len, NULL, DP_THINK_OPEN_DEFAULT);
		set_tag(t->close, &t->close_len, NULL, DP_THINK_CLOSE_DEFAULT);
		return -EINVAL;
	}
	return 0;
}

void dp_think_init_off(struct dp_think *t)
{
	init_common(t);
	set_tag(t->open, &t->open_len, NULL, DP_THINK_OPEN_DEFAULT);
	set_tag(t->close, &t->close_len, NULL, DP_THINK_CLOSE_DEFAULT);
}

void dp_think_release(struct dp_think *t)
{
	dp_buf_release(&t->scratch);
	t->hold_len = 0;
}

static void emit(struct dp_think *t, const char *p, size_t n, dp_think_fn fn, void *arg)
{
	if (n)
		fn(arg, t->in_think, p, n);
}

static void scan(struct dp_think *t, const char *s, size_t len, dp_think_fn fn, void *arg)
{
	size_t start = 0, i = 0;
	while (i < len) {
		const char *tag = t->in_think ? t->close : t->open;
		size_t tl = t->in_think ? t->close_len : t->open_len;
		const char *q = memchr(s + i, (unsigned char)tag[0], len - i);
		if (!q)
			break;
		size_t j = (size_t)(q - s), avail = len - j;
		if (avail >= tl) {
			if (memcmp(q, tag, tl) == 0) {
				emit(t, s + start, j - start, fn, arg);
				t->in_think = !t->in_think;
				if (t->in_think)
					t->blocks++;
				i = start = j + tl;
				continue;
			}
		} else if (memcmp(q, tag, avail) == 0) {
			/* a proper prefix of the tag at the very end: hold it */
			emit(t, s + start, j - start, fn, arg);
			memcpy(t->hold, q, avail);
			t->hold_len = avail;
			return;
		}
		i = j + 1;
	}
	emit(t, s + start, len - start, fn, arg);
}

void dp_think_feed(struct dp_think *t, const char *p, size_t n, dp_think_fn fn, void *arg)
{
	if (!n)
		return;
	if (!t->enabled) {
		fn(arg, 0, p, n);
		return;
	}
	if (!t->hold_len) {
		scan(t, p, n, fn, arg);
		return;
	}
	dp_buf_reset(&t->scratch);
	if (dp_buf_add(&t->scratch, t->hold, t->hold_len) < 0 || dp_buf_add(&t->scratch, p, n) < 0) {
		/* past 1 GiB in one delta: release what is held, then the delta as is */
		emit(t, t->hold, t->hold_len, fn, arg);
		t->hold_len = 0;
		scan(t, p, n, fn, arg);
		return;
	}
	t->hold_len = 0;
	scan(t, t->scratch.data, t->scratch.len, fn, arg);
	if (t->scratch.cap > 4096)
		dp_buf_release(&t->scratch);
}

int dp_think_finish(struct dp_think *t, dp_think_fn fn, void *arg)
{
	int open = t->in_think;
	if (t->hold_len)
		emit(t, t->hold, t->hold_len, fn, arg);
	t->hold_len = 0;
	t->in_think = 0;
	return open;
}
