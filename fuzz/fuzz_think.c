/*
 * fuzz_think.c - libFuzzer target for src/think (the think-tag splitter).
 *
 * Input: byte 0 picks the tags (defaults or short custom ones, some
 * self-overlapping), byte 1.. are cut sizes, the rest is content. The
 * content is split once whole and once in the fuzzer's pieces; both runs
 * must give the same reasoning/answer record, every input byte must come
 * out (as text or as part of a tag) and no more than tag length - 1 bytes
 * may ever be held.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "think.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const tags[][2] = {
        {NULL, NULL},
        {"[R]", "[/R]"},
        {"aa", "ab"},
        {"<", ">"},
        {"<think>", "</think>"},
        {"<|channel|>analysis<|message|>", "<|end|>"},
        {"xyx", "yxy"},
        {"a", "b"},
};

struct rec {
	struct dp_buf out;
	int last;
	size_t bytes;
};

static void piece(void *arg, int reasoning, const char *p, size_t n)
{
	struct rec *r = arg;
	if (!n)
		abort();
	if (r->last != reasoning)
		dp_buf_adds(&r->out, reasoning ? "\x01R"
		                               : "\x01"
		                                 "A");
	r->last = reasoning;
	dp_buf_add(&r->out, p, n);
	r->bytes += n;
}

static void run(const char *o, const char *c, const uint8_t *d, size_t n, const uint8_t *cuts, size_t ncuts,
                struct rec *r)
{
	struct dp_think t;
	dp_think_init(&t, o, c);
	size_t maxtag = t.open_len > t.close_len ? t.open_len : t.close_len;
	size_t at = 0, k = 0;
	while (at < n) {
		size_t step = ncuts ? (size_t)cuts[k++ % ncuts] % 9 + 1 : n;
		if (step > n - at)
			step = n - at;
		dp_think_feed(&t, (const char *)d + at, step, piece, r);
		at += step;
		if (t.hold_len >= maxtag)
			abort();
	}
	dp_think_finish(&t, piece, r);
	dp_think_release(&t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	size_t ti = data[0] % (sizeof(tags) / sizeof(tags[0]));
	size_t ncuts = data[1] % 16;
	if (size < 2 + ncuts)
		return 0;
	const uint8_t *cuts = data + 2, *d = data + 2 + ncuts;
	size_t n = size - 2 - ncuts;
	struct rec a = {.last = -1}, b = {.last = -1};
	dp_buf_init(&a.out, 1 << 24);
	dp_buf_init(&b.out, 1 << 24);
	run(tags[ti][0], tags[ti][1], d, n, NULL, 0, &a);
	run(tags[ti][0], tags[ti][1], d, n, cuts, ncuts, &b);
	if (a.out.len != b.out.len || memcmp(a.out.data, b.out.data, a.out.len) != 0)
		abort();
	if (a.bytes > n)
		abort();
	dp_buf_release(&a.out);
	dp_buf_release(&b.out);
	return 0;
}
