/*
 * test_think.c - src/think: sample streams split at every position and at
 * every pair of positions (and byte by byte) give the same reasoning/answer
 * text, in the same order, as the stream fed whole; the expected split of
 * each sample is written out by hand. Custom tags, an unterminated think
 * block, false tag prefixes released as soon as they cannot be a tag (never
 * held longer than the tag), bad tag configuration, pass-through when off.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "buf.h"
#include "think.h"

/* Output recorded as "R:" / "A:" runs: adjacent pieces of the same kind are
 * merged, so chunking cannot change the record. */
struct rec {
	struct dp_buf out;
	int last;     /* -1 none, 0 answer, 1 reasoning */
	size_t bytes; /* bytes emitted so far */
	int pieces;
};

static void on_piece(void *arg, int reasoning, const char *p, size_t n)
{
	struct rec *r = arg;
	assert_true(n > 0);
	if (r->last != reasoning)
		dp_buf_adds(&r->out, reasoning ? "|R:" : "|A:");
	r->last = reasoning;
	dp_buf_add(&r->out, p, n);
	r->bytes += n;
	r->pieces++;
}

static void rec_init(struct rec *r)
{
	memset(r, 0, sizeof(*r));
	dp_buf_init(&r->out, 1 << 20);
	r->last = -1;
}

struct sample {
	const char *open, *close; /* NULL: defaults */
	const char *in;
	const char *want; /* record of the whole input */
	int unterminated;
};

static const struct sample samples[] = {
        {NULL, NULL, "<think>Let me see.</think>\n\nThe answer is 4.", "|R:Let me see.|A:\n\nThe answer is 4.", 0},
        {NULL, NULL, "Plain answer with no tags at all.", "|A:Plain answer with no tags at all.", 0},
        {NULL, NULL, "a < b and <tho <thin <think2 <<think>x<</think>y</thinks",
         "|A:a < b and <tho <thin <think2 <|R:x<|A:y</thinks", 0},
        {NULL, NULL, "<think>never closed </thin", "|R:never closed </thin", 1},
        {NULL, NULL, "pre<think>one</think>mid<think>two</think>post", "|A:pre|R:one|A:mid|R:two|A:post", 0},
        {NULL, NULL, "<think></think>empty block", "|A:empty block", 0},
        {NULL, NULL, "<<<think>>></think></think>", "|A:<<|R:>>|A:</think>", 0},
        {NULL, NULL, "ends with a prefix <thi", "|A:ends with a prefix <thi", 0},
        {"[R]", "[/R]", "[R]custom [ tags [/ here[/R] done <think>no</think>",
         "|R:custom [ tags [/ here|A: done <think>no</think>", 0},
        {"<|channel|>analysis<|message|>", "<|end|>", "<|channel|>analysis<|message|>We think.<|end|><|start|>answer",
         "|R:We think.|A:<|start|>answer", 0},
        {"aa", "ab", "xaaaab", "|A:x|R:a", 0}, /* self-overlapping tag */
        {NULL, NULL, "multi-byte \xc3\xa9<think>\xe2\x9c\x93</think>\xf0\x9f\x98\x80",
         "|A:multi-byte \xc3\xa9|R:\xe2\x9c\x93|A:\xf0\x9f\x98\x80", 0},
};
#define NSAMPLES (sizeof(samples) / sizeof(samples[0]))

static char *run_split(const struct sample *s, const size_t *cuts, int ncuts, int *unterminated)
{
	struct dp_think t;
	struct rec r;
	assert_int_equal(dp_think_init(&t, s->open, s->close), 0);
	rec_init(&r);
	size_t n = strlen(s->in), at = 0;
	for (int i = 0; i <= ncuts; i++) {
		size_t to = i < ncuts ? cuts[i] : n;
		dp_think_feed(&t, s->in + at, to - at, on_piece, &r);
		at = to;
	}
	*unterminated = dp_think_finish(&t, on_piece, &r);
	dp_think_release(&t);
	return dp_buf_detach(&r.out, NULL);
}

static void test_whole(void **state)
{
	(void)state;
	for (size_t k = 0; k < NSAMPLES; k++) {
		int u;
		char *got = run_split(&samples[k], NULL, 0, &u);
		if (strcmp(got, samples[k].want) != 0)
			fail_msg("sample %zu: got '%s' want '%s'", k, got, samples[k].want);
		assert_int_equal(u, samples[k].unterminated);
		free(got);
	}
}

static void test_every_split(void **state)
{
	(void)state;
	for (size_t k = 0; k < NSAMPLES; k++) {
		size_t n = strlen(samples[k].in);
		for (size_t a = 0; a <= n; a++) {
			int u;
			char *got = run_split(&samples[k], &a, 1, &u);
			if (strcmp(got, samples[k].want) != 0)
				fail_msg("sample %zu split at %zu: got '%s'", k, a, got);
			assert_int_equal(u, samples[k].unterminated);
			free(got);
		}
	}
}

static void test_every_pair_of_splits(void **state)
{
	(void)state;
	for (size_t k = 0; k < NSAMPLES; k++) {
		size_t n = strlen(samples[k].in);
		for (size_t a = 0; a <= n; a++)
			for (size_t b = a; b <= n; b++) {
				size_t cuts[2] = {a, b};
				int u;
				char *got = run_split(&samples[k], cuts, 2, &u);
				if (strcmp(got, samples[k].want) != 0)
					fail_msg("sample %zu split at %zu,%zu: got '%s'", k, a, b, got);
				free(got);
			}
	}
}

static void test_byte_by_byte_hold_bound(void **state)
{
	(void)state;
	/* Fed one byte at a time, the bytes not yet emitted (held) never reach the
	 * tag length: a false prefix goes out with the byte that breaks it. */
	for (size_t k = 0; k < NSAMPLES; k++) {
		const struct sample *s = &samples[k];
		struct dp_think t;
		struct rec r;
		assert_int_equal(dp_think_init(&t, s->open, s->close), 0);
		rec_init(&r);
		size_t n = strlen(s->in), tags = 0;
		size_t maxtag = t.open_len > t.close_len ? t.open_len : t.close_len;
		int was = 0;
		for (size_t i = 0; i < n; i++) {
			dp_think_feed(&t, s->in + i, 1, on_piece, &r);
			if (t.in_think != was) {
				tags += was ? t.close_len : t.open_len;
				was = t.in_think;
			}
			size_t held = i + 1 - tags - r.bytes;
			assert_int_equal(held, t.hold_len);
			assert_true(held < maxtag);
		}
		dp_think_finish(&t, on_piece, &r);
		assert_string_equal(r.out.data, s->want);
		dp_think_release(&t);
		dp_buf_release(&r.out);
	}
}

static void test_false_prefix_released_promptly(void **state)
{
	(void)state;
	struct dp_think t;
	struct rec r;
	dp_think_init(&t, NULL, NULL);
	rec_init(&r);
	dp_think_feed(&t, "x <th", 5, on_piece, &r);
	assert_string_equal(r.out.data, "|A:x ");
	assert_int_equal(t.hold_len, 3);
	dp_think_feed(&t, "o", 1, on_piece, &r); /* "<tho" cannot be "<think>" */
	assert_string_equal(r.out.data, "|A:x <tho");
	assert_int_equal(t.hold_len, 0);
	dp_think_feed(&t, "<", 1, on_piece, &r);
	assert_int_equal(t.hold_len, 1);
	dp_think_feed(&t, "<", 1, on_piece, &r); /* the first '<' can no longer start it */
	assert_string_equal(r.out.data, "|A:x <tho<");
	assert_int_equal(t.hold_len, 1);
	dp_think_feed(&t, "think>", 6, on_piece, &r);
	assert_true(t.in_think);
	assert_int_equal(t.blocks, 1);
	dp_think_feed(&t, "r</think", 8, on_piece, &r);
	assert_string_equal(r.out.data, "|A:x <tho<|R:r");
	assert_int_equal(t.hold_len, 7);
	dp_think_feed(&t, ">", 1, on_piece, &r);
	assert_false(t.in_think);
	assert_int_equal(dp_think_finish(&t, on_piece, &r), 0);
	assert_string_equal(r.out.data, "|A:x <tho<|R:r");
	dp_think_release(&t);
	dp_buf_release(&r.out);
}

static void test_unterminated_and_reuse(void **state)
{
	(void)state;
	struct dp_think t;
	struct rec r;
	dp_think_init(&t, NULL, NULL);
	rec_init(&r);
	dp_think_feed(&t, "<think>still going </thi", 24, on_piece, &r);
	assert_int_equal(dp_think_finish(&t, on_piece, &r), 1);
	assert_string_equal(r.out.data, "|R:still going </thi");
	/* a new stream starts outside a block */
	dp_think_feed(&t, "fresh", 5, on_piece, &r);
	assert_string_equal(r.out.data, "|R:still going </thi|A:fresh");
	dp_think_release(&t);
	dp_buf_release(&r.out);
}

static void test_bad_tags_and_off(void **state)
{
	(void)state;
	struct dp_think t;
	char longtag[DP_THINK_TAG_MAX + 2];
	memset(longtag, 'x', sizeof(longtag) - 1);
	longtag[sizeof(longtag) - 1] = '\0';
	assert_int_equal(dp_think_init(&t, longtag, NULL), -EINVAL);
	assert_string_equal(t.open, "<think>"); /* fell back to the defaults */
	dp_think_release(&t);
	assert_int_equal(dp_think_init(&t, "<t>", "<t>"), -EINVAL);
	dp_think_release(&t);
	assert_int_equal(dp_think_init(&t, "", ""), 0); /* empty = defaults */
	assert_string_equal(t.close, "</think>");
	dp_think_release(&t);

	struct rec r;
	rec_init(&r);
	dp_think_init_off(&t);
	dp_think_feed(&t, "<think>x</think>", 16, on_piece, &r);
	assert_int_equal(dp_think_finish(&t, on_piece, &r), 0);
	assert_string_equal(r.out.data, "|A:<think>x</think>");
	dp_think_release(&t);
	dp_buf_release(&r.out);
}

static void test_one_piece_per_kind(void **state)
{
	(void)state;
	/* a delta without tags is passed on as one piece (no byte-wise output) */
	struct dp_think t;
	struct rec r;
	dp_think_init(&t, NULL, NULL);
	rec_init(&r);
	dp_think_feed(&t, "a fairly long < delta < with angle brackets", 43, on_piece, &r);
	assert_int_equal(r.pieces, 1);
	dp_think_release(&t);
	dp_buf_release(&r.out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_whole),
	        cmocka_unit_test(test_every_split),
	        cmocka_unit_test(test_every_pair_of_splits),
	        cmocka_unit_test(test_byte_by_byte_hold_bound),
	        cmocka_unit_test(test_false_prefix_released_promptly),
	        cmocka_unit_test(test_unterminated_and_reuse),
	        cmocka_unit_test(test_bad_tags_and_off),
	        cmocka_unit_test(test_one_piece_per_kind),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
