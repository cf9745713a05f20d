/*
 * test_sse_parse.c - lib/sse_parse: the same sample stream fed whole, byte
 * by byte, and split at every position (and every pair of positions) with LF,
 * CRLF and CR line endings gives the same events; comments, multi-line data,
 * field edge cases, BOM, stop-and-resume from the callback, end of stream
 * and the event size bound.
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
#include "sse_parse.h"

/* Every event recorded as "event|data|id|has_id|retry\x1e". */
struct rec {
	struct dp_buf out;
	int n;
	int stop_after; /* stop parsing after this many events (0: never) */
};

static int on_event(const struct dp_sse_parse_event *ev, void *arg)
{
	struct rec *r = arg;
	assert_int_equal(strlen(ev->event), ev->event_len);
	assert_true(ev->data[ev->data_len] == '\0');
	dp_buf_addf(&r->out, "%s|", ev->event);
	dp_buf_add(&r->out, ev->data, ev->data_len);
	dp_buf_addf(&r->out, "|%s|%d|%lld\x1e", ev->id, ev->has_id, (long long)ev->retry);
	r->n++;
	return r->stop_after && r->n % r->stop_after == 0;
}

static void rec_init(struct rec *r)
{
	memset(r, 0, sizeof(*r));
	dp_buf_init(&r->out, 1 << 20);
}

/* A stream in LM Studio's v1 shape plus the awkward parts of the spec. `@`
 * stands for the line terminator under test. */
static const char sample_tpl[] = "\xEF\xBB\xBF"
                                 ": heartbeat comment@"
                                 "event: chat.start@"
                                 "data: {\"type\":\"chat.start\",\"model_instance_id\":\"m\"}@"
                                 "@"
                                 "event: message.delta@"
                                 "data: {\"type\":\"message.delta\",\"content\":\"H\"}@"
                                 "id: 7@"
                                 "@"
                                 "data: line one@"
                                 "data:line two@"
                                 "data:  three@"
                                 "data@"
                                 "retry: 1500@"
                                 "@"
                                 "event: only-type-no-data@"
                                 "@"
                                 "id@"
                                 "unknown: field@"
                                 "data: after-empty-id@"
                                 "@"
                                 ": bye@"
                                 "event: chat.end@"
                                 "data: {}@"
                                 "retry: 12x@"
                                 "@";

static const char sample_expect[] = "chat.start|{\"type\":\"chat.start\",\"model_instance_id\":\"m\"}||0|-1\x1e"
                                    "message.delta|{\"type\":\"message.delta\",\"content\":\"H\"}|7|1|-1\x1e"
                                    "|line one\nline two\n three\n|7|0|1500\x1e"
                                    "|after-empty-id||1|-1\x1e"
                                    "chat.end|{}||0|-1\x1e";

static char *make_sample(const char *eol, size_t *len)
{
	struct dp_buf b;
	dp_buf_init(&b, 1 << 16);
	for (const char *s = sample_tpl; *s; s++) {
		if (*s == '@')
			dp_buf_adds(&b, eol);
		else
			dp_buf_addch(&b, *s);
	}
	return dp_buf_detach(&b, len);
}

/* Feed `s` in pieces cut at the given offsets; return the record. */
static void feed_cuts(const char *s, size_t n, const size_t *cuts, int ncuts, struct rec *r)
{
	struct dp_sse_parse p;
	dp_sse_parse_init(&p, 4096, on_event, r);
	size_t at = 0;
	for (int k = 0; k <= ncuts; k++) {
		size_t end = k < ncuts ? cuts[k] : n;
		size_t used;
		assert_int_equal(dp_sse_parse_feed(&p, s + at, end - at, &used), 0);
		assert_int_equal(used, end - at);
		at = end;
	}
	assert_int_equal(dp_sse_parse_finish(&p), 0);
	dp_sse_parse_release(&p);
}

static void check_all_splits(const char *eol)
{
	size_t n;
	char *s = make_sample(eol, &n);
	struct rec r;

	rec_init(&r);
	feed_cuts(s, n, NULL, 0, &r);
	assert_string_equal(r.out.data, sample_expect);
	assert_int_equal(r.n, 5);
	dp_buf_release(&r.out);

	for (size_t i = 0; i <= n; i++) {
		rec_init(&r);
		feed_cuts(s, n, &i, 1, &r);
		if (strcmp(r.out.data, sample_expect) != 0)
			fail_msg("eol %d split at %zu: got %s", eol[0], i, r.out.data);
		dp_buf_release(&r.out);
	}
	for (size_t i = 0; i <= n; i++) {
		for (size_t j = i; j <= n; j++) {
			size_t cuts[2] = {i, j};
			rec_init(&r);
			feed_cuts(s, n, cuts, 2, &r);
			if (strcmp(r.out.data, sample_expect) != 0)
				fail_msg("eol %d splits at %zu,%zu: got %s", eol[0], i, j, r.out.data);
			dp_buf_release(&r.out);
		}
	}
	/* byte by byte */
	size_t *cuts = malloc(n * sizeof(*cuts));
	for (size_t i = 0; i < n; i++)
		cuts[i] = i;
	rec_init(&r);
	feed_cuts(s, n, cuts, (int)n, &r);
	assert_string_equal(r.out.data, sample_expect);
	dp_buf_release(&r.out);
	free(cuts);
	free(s);
}

static void test_splits_lf(void **state)
{
	(void)state;
	check_all_splits("\n");
}

static void test_splits_crlf(void **state)
{
	(void)state;
	check_all_splits("\r\n");
}

static void test_splits_cr(void **state)
{
	(void)state;
	check_all_splits("\r");
}

static void test_mixed_endings(void **state)
{
	(void)state;
	const char *s = "data: a\r\ndata: b\rdata: c\n\r\ndata: d\r\r";
	struct rec r;
	rec_init(&r);
	feed_cuts(s, strlen(s), NULL, 0, &r);
	assert_string_equal(r.out.data, "|a\nb\nc||0|-1\x1e|d||0|-1\x1e");
	dp_buf_release(&r.out);
}

/* A CR dispatches at once: the event is out before the LF arrives. */
static void test_cr_dispatches_without_lookahead(void **state)
{
	(void)state;
	struct rec r;
	rec_init(&r);
	struct dp_sse_parse p;
	dp_sse_parse_init(&p, 0, on_event, &r);
	assert_int_equal(dp_sse_parse_feed(&p, "data: x\r\n\r", 10, NULL), 0);
	assert_int_equal(r.n, 1);
	/* the LF completing the CRLF must not count as another blank line */
	assert_int_equal(dp_sse_parse_feed(&p, "\ndata: y\r\n", 10, NULL), 0);
	assert_int_equal(r.n, 1);
	assert_int_equal(dp_sse_parse_feed(&p, "\n", 1, NULL), 0);
	assert_int_equal(r.n, 2);
	assert_string_equal(r.out.data, "|x||0|-1\x1e|y||0|-1\x1e");
	assert_int_equal(dp_sse_parse_finish(&p), 0);
	dp_sse_parse_release(&p);
	dp_buf_release(&r.out);
}

static void test_comments_and_counts(void **state)
{
	(void)state;
	struct rec r;
	rec_init(&r);
	struct dp_sse_parse p;
	dp_sse_parse_init(&p, 0, on_event, &r);
	const char *s = ":a\n:\n: c\n\n\n\ndata: z\n\n";
	assert_int_equal(dp_sse_parse_feed(&p, s, strlen(s), NULL), 0);
	assert_int_equal(p.comments, 3);
	assert_int_equal(p.events, 1);
	assert_string_equal(r.out.data, "|z||0|-1\x1e");
	dp_sse_parse_release(&p);
	dp_buf_release(&r.out);
}

static void test_bom(void **state)
{
	(void)state;
	struct rec r;
	/* a BOM split across chunks is dropped */
	rec_init(&r);
	struct dp_sse_parse p;
	dp_sse_parse_init(&p, 0, on_event, &r);
	assert_int_equal(dp_sse_parse_feed(&p, "\xEF", 1, NULL), 0);
	assert_int_equal(dp_sse_parse_feed(&p, "\xBB", 1, NULL), 0);
	assert_int_equal(dp_sse_parse_feed(&p,
	                                   "\xBF"
	                                   "data: a\n\n",
	                                   10, NULL),
	                 0);
	assert_string_equal(r.out.data, "|a||0|-1\x1e");
	/* only one BOM: a second one is part of the field name */
	assert_int_equal(dp_sse_parse_feed(&p,
	                                   "\xEF\xBB\xBF"
	                                   "data: b\n\n",
	                                   12, NULL),
	                 0);
	assert_int_equal(r.n, 1);
	dp_sse_parse_release(&p);
	dp_buf_release(&r.out);

	/* a partial BOM that is not one stays in the line */
	rec_init(&r);
	dp_sse_parse_init(&p, 0, on_event, &r);
	assert_int_equal(dp_sse_parse_feed(&p, "\xEF", 1, NULL), 0);
	assert_int_equal(dp_sse_parse_feed(&p,
	                                   "\xBB"
	                                   "X: 1\ndata: c\n\n",
	                                   15, NULL),
	                 0);
	assert_string_equal(r.out.data, "|c||0|-1\x1e");
	dp_sse_parse_release(&p);
	dp_buf_release(&r.out);
}

static void test_ids_and_retry(void **state)
{
	(void)state;
	struct rec r;
	rec_init(&r);
	struct dp_sse_parse p;
	dp_sse_parse_init(&p, 0, on_event, &r);
	static const char s[] = "id: 1\ndata: a\n\ndata: b\n\nid: x\0y\ndata: c\nretry: -5\n\n"
	                        "retry: 99999999999999999999999\ndata: d\nretry: 42\n\n";
	assert_int_equal(dp_sse_parse_feed(&p, s, sizeof(s) - 1, NULL), 0);
	assert_string_equal(r.out.data, "|a|1|1|-1\x1e|b|1|0|-1\x1e|c|1|0|-1\x1e|d|1|0|42\x1e");
	dp_sse_parse_release(&p);
	dp_buf_release(&r.out);
}

static void test_end_of_stream(void **state)
{
	(void)state;
	struct rec r;
	rec_init(&r);
	struct dp_sse_parse p;
	dp_sse_parse_init(&p, 0, on_event, &r);
	assert_int_equal(dp_sse_parse_feed(&p, "data: a\n\ndata: b\n", 17, NULL), 0);
	assert_int_equal(r.n, 1);
	assert_int_equal(dp_sse_parse_finish(&p), -ENODATA); /* "b" is dropped */
	assert_int_equal(r.n, 1);
	assert_int_equal(dp_sse_parse_feed(&p, "data: partial", 13, NULL), 0);
	assert_int_equal(dp_sse_parse_finish(&p), -ENODATA);
	assert_int_equal(dp_sse_parse_feed(&p, "data: ok\n\n", 10, NULL), 0);
	assert_int_equal(r.n, 2);
	assert_int_equal(dp_sse_parse_finish(&p), 0);
	dp_sse_parse_release(&p);
	dp_buf_release(&r.out);
}

/* The callback stops after each event; the rest is fed again. */
static void test_stop_and_resume(void **state)
{
	(void)state;
	size_t n;
	char *s = make_sample("\r\n", &n);
	struct rec r;
	rec_init(&r);
	r.stop_after = 1;
	struct dp_sse_parse p;
	dp_sse_parse_init(&p, 0, on_event, &r);
	size_t at = 0;
	int stops = 0;
	while (at < n) {
		size_t used;
		int rc = dp_sse_parse_feed(&p, s + at, n - at, &used);
		assert_true(rc == 0 || rc == 1);
		if (rc == 1) {
			stops++;
			assert_int_equal(r.n, stops);
		}
		at += used;
		if (rc == 0)
			break;
	}
	assert_int_equal(at, n);
	assert_int_equal(stops, 5);
	assert_string_equal(r.out.data, sample_expect);
	dp_sse_parse_release(&p);
	dp_buf_release(&r.out);
	free(s);
}

static void test_oversized(void **state)
{
	(void)state;
	struct rec r;
	rec_init(&r);
	struct dp_sse_parse p;
	char big[300];
	memset(big, 'x', sizeof(big));

	/* many data lines that together pass the bound */
	dp_sse_parse_init(&p, 256, on_event, &r);
	assert_int_equal(dp_sse_parse_feed(&p, "data: 1\n\n", 9, NULL), 0);
	int rc = 0;
	for (int i = 0; i < 100 && rc == 0; i++)
		rc = dp_sse_parse_feed(&p, "data: 0123456789\n", 17, NULL);
	assert_int_equal(rc, -EMSGSIZE);
	/* sticky */
	assert_int_equal(dp_sse_parse_feed(&p, "\n", 1, NULL), -EMSGSIZE);
	assert_int_equal(dp_sse_parse_finish(&p), -EMSGSIZE);
	assert_int_equal(r.n, 1);
	dp_sse_parse_release(&p);

	/* one endless line with no terminator: refused before it is whole */
	dp_sse_parse_init(&p, 256, on_event, &r);
	assert_int_equal(dp_sse_parse_feed(&p, "data: ", 6, NULL), 0);
	assert_int_equal(dp_sse_parse_feed(&p, big, 200, NULL), 0);
	assert_int_equal(dp_sse_parse_feed(&p, big, 200, NULL), -EMSGSIZE);
	assert_true(p.line.len == 0 && p.data.len == 0);
	dp_sse_parse_release(&p);

	/* a long line inside one chunk, long comments too */
	dp_sse_parse_init(&p, 256, on_event, &r);
	struct dp_buf b;
	dp_buf_init(&b, 4096);
	dp_buf_adds(&b, ":");
	dp_buf_add(&b, big, 300);
	dp_buf_adds(&b, "\n");
	assert_int_equal(dp_sse_parse_feed(&p, b.data, b.len, NULL), -EMSGSIZE);
	dp_sse_parse_release(&p);
	dp_buf_release(&b);

	/* exactly at the bound is fine: data of 250 bytes + "\n" */
	dp_sse_parse_init(&p, 256, on_event, &r);
	dp_buf_init(&b, 4096);
	dp_buf_adds(&b, "data:");
	dp_buf_add(&b, big, 250);
	dp_buf_adds(&b, "\n\n");
	assert_int_equal(dp_sse_parse_feed(&p, b.data, b.len, NULL), 0);
	assert_int_equal(r.n, 2);
	dp_sse_parse_release(&p);
	dp_buf_release(&b);
	dp_buf_release(&r.out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_splits_lf),
	        cmocka_unit_test(test_splits_crlf),
	        cmocka_unit_test(test_splits_cr),
	        cmocka_unit_test(test_mixed_endings),
	        cmocka_unit_test(test_cr_dispatches_without_lookahead),
	        cmocka_unit_test(test_comments_and_counts),
	        cmocka_unit_test(test_bom),
	        cmocka_unit_test(test_ids_and_retry),
	        cmocka_unit_test(test_end_of_stream),
	        cmocka_unit_test(test_stop_and_resume),
	        cmocka_unit_test(test_oversized),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
