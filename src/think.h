/*
 * think.h - a streaming splitter for reasoning wrapped in tags inside a
 * model's content (`<think>…</think>`, or custom tags per model).
 *
 * Content deltas are fed as they arrive; the splitter calls back with
 * reasoning and answer pieces, tags removed. A tag may be split across
 * deltas at any byte (`<th` + `ink>`): the bytes that could still become a
 * tag are held, at most tag length - 1 of them, and released as soon as the
 * next byte shows they are not a tag (`<tho…` goes out with that byte).
 * Nothing else is ever held. A think block the stream never closes stays
 * reasoning (dp_think_finish releases what is held and reports it).
 *
 * Pure: no I/O, no allocation after init except a small scratch buffer
 * bounded by the tag length plus one delta. struct dp_think is owned by the
 * caller (embedded); dp_think_release frees the scratch. Any thread, one
 * splitter per stream.
 */
#ifndef DP_THINK_H
#define DP_THINK_H

#include <stddef.h>

#include "buf.h"

#define DP_THINK_TAG_MAX       31
#define DP_THINK_OPEN_DEFAULT  "<think>"
#define DP_THINK_CLOSE_DEFAULT "</think>"

/* One piece of output: reasoning (1) or answer (0), borrowed bytes. */
typedef void (*dp_think_fn)(void *arg, int reasoning, const char *p, size_t n);

struct dp_think {
	char open[DP_THINK_TAG_MAX + 1];
	char close[DP_THINK_TAG_MAX + 1];
	size_t open_len, close_len;
	int enabled;     /* 0: everything is answer, nothing held */
	int in_think;    /* inside a think block */
	unsigned blocks; /* think blocks opened so far */
	char hold[DP_THINK_TAG_MAX];
	size_t hold_len; /* bytes that may still become a tag */
	struct dp_buf scratch;
};

/* Tags NULL or "" take the defaults. -EINVAL when a tag is longer than
 * DP_THINK_TAG_MAX or the two tags are equal; the splitter is then
 * initialised with the defaults (release it either way). */
int dp_think_init(struct dp_think *t, const char *open, const char *close);
/* A splitter that passes everything through as answer. */
void dp_think_init_off(struct dp_think *t);
void dp_think_release(struct dp_think *t);

/* Feed one delta; fn runs 0..n times, pieces in order, never empty. */
void dp_think_feed(struct dp_think *t, const char *p, size_t n, dp_think_fn fn, void *arg);
/* End of stream: release held bytes (as the current kind). Returns 1 when
 * a think block was left open, else 0. The splitter may be fed again
 * afterwards as a new stream. */
int dp_think_finish(struct dp_think *t, dp_think_fn fn, void *arg);

#endif
