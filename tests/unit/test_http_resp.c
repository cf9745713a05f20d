/*
 * test_http_resp.c - lib/http_resp: Content-Length, chunked (extensions,
 * trailers), close-delimited bodies, HEAD/204/304, interim 1xx responses,
 * keep-alive rules, every error and every bound. Each sample response is fed
 * whole, split at every byte position, one byte at a time and one byte at a
 * time with a pause at every callback: all runs must give the same status,
 * headers, body and result, and a pause must leave `used` right at the end of
 * the piece (or head) that asked for it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "buf.h"
#include "http_resp.h"

struct run {
	const char *in;
	size_t len;
	struct dp_buf body;
	int heads;
	int head_status;
	size_t pieces;
	const char *piece_end; /* end of the last body piece */
	int pause;             /* every callback asks to pause */
};

static int on_head(void *arg, int status)
{
	struct run *r = arg;
	r->heads++;
	r->head_status = status;
	return r->pause;
}

static int on_body(void *arg, const char *p, size_t n)
{
	struct run *r = arg;
	assert_true(n > 0);
	/* pieces point into the input, never into a copy */
	assert_true(p >= r->in && p + n <= r->in + r->len);
	assert_int_equal(dp_buf_add(&r->body, p, n), 0);
	r->pieces++;
	r->piece_end = p + n;
	return r->pause;
}

static const struct dp_http_resp_cb cbs = {on_head, on_body};

static const char *const names[] = {
        "Content-Type", "content-length", "TRANSFER-ENCODING", "Connection", "X-Dup", "X-Empty",
        "X-Ows",        "Link",           "X-Trailer",         "Missing"};

/* Feed `in` in pieces: cut at `split` (0: none), or `step` bytes at a time
 * (0: whole); resume after every pause; end with eof when the message is
 * still open. Writes a summary of everything observable to `sum`; *consumed
 * gets the bytes consumed. Returns the final result. */
static int drive(const char *in, size_t len, int head_req, size_t split, size_t step, int pause, struct dp_buf *sum,
                 size_t *consumed)
{
	struct run r;
	memset(&r, 0, sizeof(r));
	r.in = in;
	r.len = len;
	r.pause = pause;
	dp_buf_init(&r.body, 1 << 20);
	struct dp_http_resp p;
	dp_http_resp_init(&p, head_req, &cbs, &r);

	size_t off = 0;
	int rc = DP_HTTP_RESP_MORE;
	while (off < len) {
		size_t end = step ? (len - off > step ? off + step : len) : (off < split ? split : len);
		size_t used = (size_t)-1;
		int heads = r.heads;
		size_t pieces = r.pieces;
		assert_int_equal(dp_http_resp_got_bytes(&p), off > 0);
		rc = dp_http_resp_feed(&p, in + off, end - off, &used);
		assert_true(used <= end - off);
		off += used;
		if (rc == DP_HTTP_RESP_PAUSED) {
			assert_true(pause);
			if (r.pieces != pieces) {
				assert_int_equal(r.pieces, pieces + 1); /* stopped after this piece */
				assert_ptr_equal(r.piece_end, in + off);
			} else {
				assert_int_equal(r.heads, heads + 1); /* stopped right after the head */
				assert_true(off > 0 && in[off - 1] == '\n');
			}
			continue;
		}
		if (rc == DP_HTTP_RESP_MORE) {
			assert_int_equal(off, end);
			continue;
		}
		break;
	}
	if (rc == DP_HTTP_RESP_MORE || rc == DP_HTTP_RESP_PAUSED) {
		size_t used = (size_t)-1;
		rc = dp_http_resp_feed(&p, in + off, 0, &used);
		assert_int_equal(used, 0);
	}
	if (rc == DP_HTTP_RESP_MORE)
		rc = dp_http_resp_eof(&p);
	/* the outcome is sticky */
	size_t used = (size_t)-1;
	assert_int_equal(dp_http_resp_feed(&p, "HTTP/1.1 200 OK\r\n", 17, &used), rc);
	assert_int_equal(used, 0);
	assert_int_equal(dp_http_resp_eof(&p), rc);
	assert_int_equal(dp_http_resp_status(&p), r.heads ? r.head_status : 0);
	assert_true(r.heads <= 1);
	if (rc != DP_HTTP_RESP_DONE)
		assert_int_equal(dp_http_resp_keep_alive(&p), 0);

	dp_buf_addf(sum, "rc=%d status=%d ka=%d cl=%lld", rc, dp_http_resp_status(&p), dp_http_resp_keep_alive(&p),
	            (long long)dp_http_resp_content_length(&p));
	/* where an error stops depends on the cut; where a message ends does not */
	if (rc >= 0)
		dp_buf_addf(sum, " used=%zu", off);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const char *v = dp_http_resp_header(&p, names[i]);
		dp_buf_addf(sum, " %s=%s", names[i], v ? v : "(null)");
	}
	dp_buf_adds(sum, " body=");
	dp_buf_add(sum, r.body.data, r.body.len);
	if (consumed)
		*consumed = off;
	dp_buf_release(&r.body);
	dp_http_resp_release(&p);
	return rc;
}

/* Whole, every split, byte by byte, byte by byte with pauses, whole with
 * pauses: all give the same summary. Returns the result; the summary of the
 * whole run in `out` (caller releases). */
static int check_splits(const char *in, size_t len, int head_req, struct dp_buf *out)
{
	struct dp_buf ref, b;
	dp_buf_init(&ref, 1 << 22);
	dp_buf_init(&b, 1 << 22);
	int rc = drive(in, len, head_req, 0, 0, 0, &ref, NULL);
	/* every split for small inputs, a spread of them for the big ones */
	size_t stride = len <= 4096 ? 1 : len / 257 + 1;
	for (size_t k = 1; k < len; k += stride) {
		dp_buf_reset(&b);
		drive(in, len, head_req, k, 0, 0, &b, NULL);
		if (strcmp(b.data, ref.data) != 0)
			fail_msg("split at %zu:\n got  %s\n want %s", k, b.data, ref.data);
	}
	size_t steps[] = {1, 2, 3, 7, 64};
	for (size_t s = 0; s < sizeof(steps) / sizeof(steps[0]); s++) {
		for (int pause = 0; pause <= 1; pause++) {
			dp_buf_reset(&b);
			drive(in, len, head_req, 0, steps[s], pause, &b, NULL);
			if (strcmp(b.data, ref.data) != 0)
				fail_msg("step %zu pause %d:\n got  %s\n want %s", steps[s], pause, b.data, ref.data);
		}
	}
	dp_buf_reset(&b);
	drive(in, len, head_req, 0, 0, 1, &b, NULL);
	assert_string_equal(b.data, ref.data);
	dp_buf_release(&b);
	if (out)
		*out = ref;
	else
		dp_buf_release(&ref);
	return rc;
}

struct sample {
	const char *name;
	const char *in;
	int head_req;
	int rc;
	int status;
	int ka;
	const char *body;
	size_t left; /* bytes after the message, not consumed */
};

#define NEXT_RESP "HTTP/1.1 204 No Content\r\n\r\n"

static const struct sample samples[] = {
        {"content-length",
         "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Dup: first\r\nx-dup: second\r\n"
         "X-Ows: \t padded  value\t \r\nX-Empty:\r\nContent-Length: 11\r\n\r\nhello world" NEXT_RESP,
         0, DP_HTTP_RESP_DONE, 200, 1, "hello world", sizeof(NEXT_RESP) - 1},
        {"chunked with extensions, trailers and bare LF",
         "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/event-stream\r\n\r\n"
         "5;name=value\r\nhello\r\n1 ; ext=\"q;x\"\r\n \r\n6\nworld!\nA\r\n0123456789\r\n"
         "0;last\r\nX-Trailer: yes\r\nX-Other: 1\r\n\r\n" NEXT_RESP,
         0, DP_HTTP_RESP_DONE, 200, 1, "hello world!0123456789", sizeof(NEXT_RESP) - 1},
        {"chunked, no trailers", "HTTP/1.1 201 Created\nTransfer-Encoding: Chunked\n\n3\nabc\n0\n\n", 0,
         DP_HTTP_RESP_DONE, 201, 1, "abc", 0},
        {"100-continue and 103 then 200",
         "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n"
         "HTTP/1.1 102\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
         0, DP_HTTP_RESP_DONE, 200, 1, "ok", 0},
        {"close-delimited HTTP/1.0", "HTTP/1.0 200 OK\r\nServer: x\r\n\r\nbody until close\r\nmore", 0,
         DP_HTTP_RESP_DONE, 200, 0, "body until close\r\nmore", 0},
        {"close-delimited HTTP/1.1, empty", "HTTP/1.1 500 Internal Server Error\r\n\r\n", 0, DP_HTTP_RESP_DONE, 500, 0,
         "", 0},
        {"HEAD", "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" NEXT_RESP, 1, DP_HTTP_RESP_DONE, 200, 1, "",
         sizeof(NEXT_RESP) - 1},
        {"HEAD, chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" NEXT_RESP, 1, DP_HTTP_RESP_DONE, 200,
         1, "", sizeof(NEXT_RESP) - 1},
        {"204", "HTTP/1.1 204 No Content\r\nX-A: b\r\n\r\n" NEXT_RESP, 0, DP_HTTP_RESP_DONE, 204, 1, "",
         sizeof(NEXT_RESP) - 1},
        {"304", "HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\n\r\n" NEXT_RESP, 0, DP_HTTP_RESP_DONE, 304, 1, "",
         sizeof(NEXT_RESP) - 1},
        {"no reason, bare LF", "HTTP/1.1 200\nContent-Length: 3\n\nabc", 0, DP_HTTP_RESP_DONE, 200, 1, "abc", 0},
        {"empty reason", "HTTP/1.1 404 \r\nContent-Length: 0\r\n\r\n" NEXT_RESP, 0, DP_HTTP_RESP_DONE, 404, 1, "",
         sizeof(NEXT_RESP) - 1},
        {"TE and CL: TE wins",
         "HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
         "2\r\nhi\r\n0\r\n\r\n",
         0, DP_HTTP_RESP_DONE, 200, 0, "hi", 0},
        {"TE not ending in chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n2\r\nhi\r\n", 0,
         DP_HTTP_RESP_DONE, 200, 0, "2\r\nhi\r\n", 0},
        {"chunk data CRLF missing", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n0\r\n\r\n", 0,
         DP_HTTP_RESP_E_CHUNK, 200, 0, "abc", 0},
        {"truncated body", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", 0, DP_HTTP_RESP_E_TRUNCATED, 200, 0,
         "abc", 0},
        {"truncated chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n", 0,
         DP_HTTP_RESP_E_TRUNCATED, 200, 0, "abc", 0},
        {"truncated head", "HTTP/1.1 200 OK\r\nContent-Le", 0, DP_HTTP_RESP_E_TRUNCATED, 0, 0, "", 0},
};

static void test_samples(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
		const struct sample *s = &samples[i];
		size_t len = strlen(s->in);
		struct dp_buf sum;
		dp_buf_init(&sum, 1 << 20);
		size_t consumed;
		int rc = drive(s->in, len, s->head_req, 0, 0, 0, &sum, &consumed);
		if (rc != s->rc)
			fail_msg("%s: rc %d (%s), want %d: %s", s->name, rc, dp_http_resp_strerror(rc), s->rc,
			         sum.data);
		const char *b = strstr(sum.data, " body=");
		assert_non_null(b);
		if (strcmp(b + 6, s->body) != 0)
			fail_msg("%s: body '%s', want '%s'", s->name, b + 6, s->body);
		char want[64];
		snprintf(want, sizeof(want), "status=%d ka=%d ", s->status, s->ka);
		if (!strstr(sum.data, want))
			fail_msg("%s: %s, want %s", s->name, sum.data, want);
		if (rc >= 0)
			assert_int_equal(consumed, len - s->left);
		dp_buf_release(&sum);
		assert_int_equal(check_splits(s->in, len, s->head_req, NULL), s->rc);
	}
}

/* Run `in` through every split and check the result. */
static void expect_rc(const char *in, size_t len, int head_req, int want)
{
	struct dp_buf sum;
	int rc = check_splits(in, len, head_req, &sum);
	if (rc != want)
		fail_msg("rc %d (%s), want %d (%s) for '%.*s': %s", rc, dp_http_resp_strerror(rc), want,
		         dp_http_resp_strerror(want), (int)(len < 200 ? len : 200), in, sum.data);
	dp_buf_release(&sum);
}

#define EXPECT(s, want) expect_rc(s, sizeof(s) - 1, 0, want)

static void test_status_line_errors(void **state)
{
	(void)state;
	EXPECT("HTTP/2 200 OK\r\n\r\n", DP_HTTP_RESP_E_VERSION);
	EXPECT("HTTP/2.0 200 OK\r\n\r\n", DP_HTTP_RESP_E_VERSION);
	EXPECT("HTTP/1.2 200 OK\r\n\r\n", DP_HTTP_RESP_E_VERSION);
	EXPECT("HTTP/0.9 200 OK\r\n\r\n", DP_HTTP_RESP_E_VERSION);
	EXPECT("HTTP/1.10 200 OK\r\n\r\n", DP_HTTP_RESP_E_VERSION);
	EXPECT("HTTP/11 200 OK\r\n\r\n", DP_HTTP_RESP_E_VERSION);
	EXPECT("http/1.1 200 OK\r\n\r\n", DP_HTTP_RESP_E_SYNTAX);
	EXPECT("HTTP/1.1\r\n\r\n", DP_HTTP_RESP_E_SYNTAX);
	EXPECT("HTTP/1. 200 OK\r\n\r\n", DP_HTTP_RESP_E_SYNTAX);
	EXPECT("HTTP/ 200 OK\r\n\r\n", DP_HTTP_RESP_E_SYNTAX);
	EXPECT("HTTP/1.1 20 OK\r\n\r\n", DP_HTTP_RESP_E_SYNTAX);
	EXPECT("HTTP/1.1 2000 OK\r\n\r\n", DP_HTTP_RESP_E_SYNTAX);
	EXPECT("HTTP/1.1 200OK\r\n\r\n", DP_HTTP_RESP_E_SYNTAX);
	EXPECT("HTTP/1.1  200 OK\r\n\r\n", DP_HTTP_RESP_E_SYNTAX);
	EXPECT("HTTP/1.1 2x0 OK\r\n\r\n", DP_HTTP_RESP_E_SYNTAX);
	EXPECT("HTTP/1.1 099 Low\r\n\r\n", DP_HTTP_RESP_E_SYNTAX);
	EXPECT("HTTP/1.1 600 High\r\n\r\n", DP_HTTP_RESP_E_SYNTAX);
	EXPECT("HTTP/1.1 200 O\x01K\r\n\r\n", DP_HTTP_RESP_E_SYNTAX);
	EXPECT("HTTP/1.1 200 OK\r\r\n\r\n", DP_HTTP_RESP_E_SYNTAX);
	EXPECT("HTTP/1.1 200 O\rK\r\n\r\n", DP_HTTP_RESP_E_SYNTAX);
	expect_rc("HTTP/1.1 200 O\0K\r\n\r\n", 19, 0, DP_HTTP_RESP_E_SYNTAX);
	EXPECT("\r\nHTTP/1.1 200 OK\r\n\r\n", DP_HTTP_RESP_E_SYNTAX);
	EXPECT(" HTTP/1.1 200 OK\r\n\r\n", DP_HTTP_RESP_E_SYNTAX);
	EXPECT("garbage\n", DP_HTTP_RESP_E_SYNTAX);
	EXPECT("ICY 200 OK\r\n\r\n", DP_HTTP_RESP_E_SYNTAX);
	EXPECT("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n", DP_HTTP_RESP_E_UPGRADE);
	EXPECT("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 101 Switching Protocols\r\n\r\n", DP_HTTP_RESP_E_UPGRADE);
	/* a tab or obs-text in the reason is fine */
	EXPECT("HTTP/1.1 200 O\tK \xc3\xa9\r\nContent-Length: 0\r\n\r\n", DP_HTTP_RESP_DONE);
}

static void test_field_errors(void **state)
{
	(void)state;
	EXPECT("HTTP/1.1 200 OK\r\nFoo : bar\r\n\r\n", DP_HTTP_RESP_E_SYNTAX);
	EXPECT("HTTP/1.1 200 OK\r\nFoo\t: bar\r\n\r\n", DP_HTTP_RESP_E_SYNTAX);
	EXPECT("HTTP/1.1 200 OK\r\nFoo: bar\r\n  continued\r\n\r\n", DP_HTTP_RESP_E_SYNTAX);
	EXPECT("HTTP/1.1 200 OK\r\nFoo: bar\r\n\tcontinued\r\n\r\n", DP_HTTP_RESP_E_SYNTAX);
	EXPECT("HTTP/1.1 200 OK\r\n Foo: bar\r\n\r\n", DP_HTTP_RESP_E_SYNTAX);
	EXPECT("HTTP/1.1 200 OK\r\nFoo bar\r\n\r\n", DP_HTTP_RESP_E_SYNTAX);
	EXPECT("HTTP/1.1 200 OK\r\n: bar\r\n\r\n", DP_HTTP_RESP_E_SYNTAX);
	EXPECT("HTTP/1.1 200 OK\r\nF(o): bar\r\n\r\n", DP_HTTP_RESP_E_SYNTAX);
	EXPECT("HTTP/1.1 200 OK\r\nFoo: b\rar\r\n\r\n", DP_HTTP_RESP_E_SYNTAX);
	EXPECT("HTTP/1.1 200 OK\r\nFoo: bar\r\r\n\r\n", DP_HTTP_RESP_E_SYNTAX);
	EXPECT("HTTP/1.1 200 OK\r\nFoo: b\x7f\r\n\r\n", DP_HTTP_RESP_E_SYNTAX);
	EXPECT("HTTP/1.1 200 OK\r\nFoo: bar\r\n\r\r\n", DP_HTTP_RESP_E_SYNTAX);
	expect_rc("HTTP/1.1 200 OK\r\nFoo: b\0r\r\n\r\n", 29, 0, DP_HTTP_RESP_E_SYNTAX);
	expect_rc("HTTP/1.1 200 OK\r\nF\0o: bar\r\n\r\n", 29, 0, DP_HTTP_RESP_E_SYNTAX);
	/* the same rules inside an interim response */
	EXPECT("HTTP/1.1 103 Early Hints\r\nLink : x\r\n\r\nHTTP/1.1 200 OK\r\n\r\n", DP_HTTP_RESP_E_SYNTAX);
	/* every tchar is a valid name character */
	EXPECT("HTTP/1.1 200 OK\r\n!#$%&'*+-.^_`|~09azAZ: v\r\nContent-Length: 0\r\n\r\n", DP_HTTP_RESP_DONE);
}

static void test_content_length(void **state)
{
	(void)state;
	EXPECT("HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\nhello", DP_HTTP_RESP_E_LENGTH);
	EXPECT("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\nhello", DP_HTTP_RESP_E_LENGTH);
	EXPECT("HTTP/1.1 200 OK\r\nContent-Length: 1,2\r\n\r\nhello", DP_HTTP_RESP_E_LENGTH);
	EXPECT("HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\nhello", DP_HTTP_RESP_E_LENGTH);
	EXPECT("HTTP/1.1 200 OK\r\nContent-Length: 5,\r\n\r\nhello", DP_HTTP_RESP_E_LENGTH);
	EXPECT("HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\nhello", DP_HTTP_RESP_E_LENGTH);
	EXPECT("HTTP/1.1 200 OK\r\nContent-Length: 0x5\r\n\r\nhello", DP_HTTP_RESP_E_LENGTH);
	EXPECT("HTTP/1.1 200 OK\r\nContent-Length: 5 5\r\n\r\nhello", DP_HTTP_RESP_E_LENGTH);
	EXPECT("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello", DP_HTTP_RESP_E_LENGTH);
	EXPECT("HTTP/1.1 200 OK\r\nContent-Length: 9223372036854775808\r\n\r\n", DP_HTTP_RESP_E_LENGTH);
	EXPECT("HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n", DP_HTTP_RESP_E_LENGTH);
	/* a bad value is an error even where no body follows */
	EXPECT("HTTP/1.1 304 Not Modified\r\nContent-Length: x\r\n\r\n", DP_HTTP_RESP_E_LENGTH);

	/* agreeing values and fields are one value */
	struct dp_buf sum;
	const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\ncontent-length:5\r\n\r\nhelloX";
	assert_int_equal(check_splits(ok, sizeof(ok) - 1, 0, &sum), DP_HTTP_RESP_DONE);
	char want[32];
	snprintf(want, sizeof(want), "cl=5 used=%zu ", sizeof(ok) - 2);
	assert_non_null(strstr(sum.data, want));
	assert_non_null(strstr(sum.data, " content-length=5, 5 "));
	assert_non_null(strstr(sum.data, " body=hello"));
	dp_buf_release(&sum);
	EXPECT("HTTP/1.1 200 OK\r\nContent-Length: 007\r\n\r\n1234567", DP_HTTP_RESP_DONE);
	/* the largest length parses (and the body is then cut short) */
	EXPECT("HTTP/1.1 200 OK\r\nContent-Length: 9223372036854775807\r\n\r\nab", DP_HTTP_RESP_E_TRUNCATED);
}

static void test_chunked_errors(void **state)
{
	(void)state;
#define CH "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	EXPECT(CH "zz\r\n", DP_HTTP_RESP_E_CHUNK);
	EXPECT(CH "\r\n", DP_HTTP_RESP_E_CHUNK);
	EXPECT(CH "-5\r\nhello\r\n0\r\n\r\n", DP_HTTP_RESP_E_CHUNK);
	EXPECT(CH "+5\r\nhello\r\n0\r\n\r\n", DP_HTTP_RESP_E_CHUNK);
	EXPECT(CH " 5\r\nhello\r\n0\r\n\r\n", DP_HTTP_RESP_E_CHUNK);
	EXPECT(CH "0x5\r\nhello\r\n0\r\n\r\n", DP_HTTP_RESP_E_CHUNK);
	EXPECT(CH "5 x\r\nhello\r\n0\r\n\r\n", DP_HTTP_RESP_E_CHUNK);
	EXPECT(CH "5;a\rb\r\nhello\r\n0\r\n\r\n", DP_HTTP_RESP_E_CHUNK);
	EXPECT(CH "5\r\nhello\r0\r\n\r\n", DP_HTTP_RESP_E_CHUNK);
	EXPECT(CH "5\r\nhelloo\r\n0\r\n\r\n", DP_HTTP_RESP_E_CHUNK);
	/* 17 hex digits, even with leading zeros, is one too many */
	EXPECT(CH "00000000000000005\r\nhello\r\n0\r\n\r\n", DP_HTTP_RESP_E_CHUNK);
	EXPECT(CH "0000000000000005\r\nhello\r\n0\r\n\r\n", DP_HTTP_RESP_DONE);
	EXPECT(CH "FFFFFFFFFFFFFFFF\r\nhello", DP_HTTP_RESP_E_TRUNCATED);
	EXPECT(CH "5\t; a=b ;c\r\nhello\r\n0\r\n\r\n", DP_HTTP_RESP_DONE);
	EXPECT(CH "5  \r\nhello\r\n0\r\n\r\n", DP_HTTP_RESP_DONE);
	/* trailers follow the field rules */
	EXPECT(CH "0\r\nX-T : y\r\n\r\n", DP_HTTP_RESP_E_SYNTAX);
	EXPECT(CH "0\r\nX-T: y\r\n folded\r\n\r\n", DP_HTTP_RESP_E_SYNTAX);
	EXPECT(CH "0\r\nno colon\r\n\r\n", DP_HTTP_RESP_E_SYNTAX);
	EXPECT(CH "0\r\nX-T: y\r\n", DP_HTTP_RESP_E_TRUNCATED);
	EXPECT(CH "0\r\n", DP_HTTP_RESP_E_TRUNCATED);
	EXPECT(CH "5\r\nhel", DP_HTTP_RESP_E_TRUNCATED);
	EXPECT(CH "5\r\nhello\r", DP_HTTP_RESP_E_TRUNCATED);
	/* trailers are not headers */
	struct dp_buf sum;
	const char t[] = CH "1\r\na\r\n0\r\nX-Trailer: late\r\n\r\n";
	assert_int_equal(check_splits(t, sizeof(t) - 1, 0, &sum), DP_HTTP_RESP_DONE);
	assert_non_null(strstr(sum.data, " X-Trailer=(null) "));
	dp_buf_release(&sum);
}

/* A buffer holding `pre`, then `fill` bytes of 'a', then `post`. */
static char *padded(const char *pre, size_t fill, const char *post, size_t *len)
{
	struct dp_buf b;
	dp_buf_init(&b, 1 << 22);
	dp_buf_adds(&b, pre);
	for (size_t i = 0; i < fill; i++)
		dp_buf_addch(&b, 'a');
	dp_buf_adds(&b, post);
	return dp_buf_detach(&b, len);
}

static void test_head_bound(void **state)
{
	(void)state;
	/* status line 17 + "X-Big: " 7 + fill + CRLF 2 + CRLF 2 */
	const char *pre = "HTTP/1.1 200 OK\r\nX-Big: ";
	size_t fill = DP_HTTP_RESP_MAX_HEAD - 17 - 7 - 4;
	size_t len;
	char *s = padded(pre, fill, "\r\n\r\n", &len);
	assert_int_equal(len, DP_HTTP_RESP_MAX_HEAD);
	expect_rc(s, len, 0, DP_HTTP_RESP_DONE); /* close-delimited, empty */
	free(s);
	s = padded(pre, fill + 1, "\r\n\r\n", &len);
	expect_rc(s, len, 0, DP_HTTP_RESP_E_HEAD_TOO_LARGE);
	free(s);
	/* a line that never ends */
	s = padded(pre, DP_HTTP_RESP_MAX_HEAD, "", &len);
	expect_rc(s, len, 0, DP_HTTP_RESP_E_HEAD_TOO_LARGE);
	free(s);
	/* interim heads count towards the bound */
	s = padded("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nX-Big: ", fill, "\r\n\r\n", &len);
	expect_rc(s, len, 0, DP_HTTP_RESP_E_HEAD_TOO_LARGE);
	free(s);
	/* and so does the trailer section, on its own */
	s = padded(CH "0\r\nX-Big: ", DP_HTTP_RESP_MAX_HEAD - 7 - 4, "\r\n\r\n", &len);
	expect_rc(s, len, 0, DP_HTTP_RESP_DONE);
	free(s);
	s = padded(CH "0\r\nX-Big: ", DP_HTTP_RESP_MAX_HEAD - 7 - 3, "\r\n\r\n", &len);
	expect_rc(s, len, 0, DP_HTTP_RESP_E_HEAD_TOO_LARGE);
	free(s);
}

static char *many_fields(const char *pre, int n, const char *post, size_t *len)
{
	struct dp_buf b;
	dp_buf_init(&b, 1 << 22);
	dp_buf_adds(&b, pre);
	for (int i = 0; i < n; i++)
		dp_buf_addf(&b, "X-F%d: %d\r\n", i, i);
	dp_buf_adds(&b, post);
	return dp_buf_detach(&b, len);
}

static void test_field_bound(void **state)
{
	(void)state;
	size_t len;
	char *s = many_fields("HTTP/1.1 200 OK\r\n", DP_HTTP_RESP_MAX_FIELDS - 1, "Content-Length: 0\r\n\r\n", &len);
	expect_rc(s, len, 0, DP_HTTP_RESP_DONE);
	free(s);
	s = many_fields("HTTP/1.1 200 OK\r\n", DP_HTTP_RESP_MAX_FIELDS, "Content-Length: 0\r\n\r\n", &len);
	expect_rc(s, len, 0, DP_HTTP_RESP_E_TOO_MANY_FIELDS);
	free(s);
	/* per head: an interim response's fields do not count for the final one */
	s = many_fields("HTTP/1.1 103 Early Hints\r\n", DP_HTTP_RESP_MAX_FIELDS,
	                "\r\nHTTP/1.1 204 No Content\r\nX-A: 1\r\n\r\n", &len);
	expect_rc(s, len, 0, DP_HTTP_RESP_DONE);
	free(s);
	s = many_fields(CH "0\r\n", DP_HTTP_RESP_MAX_FIELDS, "\r\n", &len);
	expect_rc(s, len, 0, DP_HTTP_RESP_DONE);
	free(s);
	s = many_fields(CH "0\r\n", DP_HTTP_RESP_MAX_FIELDS + 1, "\r\n", &len);
	expect_rc(s, len, 0, DP_HTTP_RESP_E_TOO_MANY_FIELDS);
	free(s);
}

static void test_chunk_line_bound(void **state)
{
	(void)state;
	size_t len;
	/* "1;" + fill + CRLF = the whole size line */
	char *s = padded(CH "1;", DP_HTTP_RESP_MAX_CHUNK_LINE - 4, "\r\nx\r\n0\r\n\r\n", &len);
	expect_rc(s, len, 0, DP_HTTP_RESP_DONE);
	free(s);
	s = padded(CH "1;", DP_HTTP_RESP_MAX_CHUNK_LINE - 3, "\r\nx\r\n0\r\n\r\n", &len);
	expect_rc(s, len, 0, DP_HTTP_RESP_E_CHUNK);
	free(s);
	/* the bound is per line, not per body */
	struct dp_buf b;
	dp_buf_init(&b, 1 << 22);
	dp_buf_adds(&b, CH);
	for (int i = 0; i < 2000; i++)
		dp_buf_adds(&b, "1;ext=value\r\nx\r\n");
	dp_buf_adds(&b, "0\r\n\r\n");
	s = dp_buf_detach(&b, &len);
	expect_rc(s, len, 0, DP_HTTP_RESP_DONE);
	free(s);
}

struct ka_case {
	const char *in;
	int head_req;
	int ka;
};

static void test_keep_alive(void **state)
{
	(void)state;
	static const struct ka_case cases[] = {
	        {"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 0, 1},
	        {"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", 0, 0},
	        {"HTTP/1.1 200 OK\r\nConnection: Keep-Alive, CLOSE\r\nContent-Length: 0\r\n\r\n", 0, 0},
	        {"HTTP/1.1 200 OK\r\nConnection: foo\r\nconnection: x ,close , y\r\nContent-Length: 0\r\n\r\n", 0, 0},
	        {"HTTP/1.1 200 OK\r\nConnection: closed, enclose\r\nContent-Length: 0\r\n\r\n", 0, 1},
	        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 0, 1},
	        {"HTTP/1.1 200 OK\r\n\r\nclose-delimited", 0, 0},
	        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nclose-delimited", 0, 0},
	        {"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 0, 0},
	        {"HTTP/1.1 200 OK\r\n\r\n", 1, 1},
	        {"HTTP/1.1 204 No Content\r\n\r\n", 0, 1},
	        {"HTTP/1.1 304 Not Modified\r\n\r\n", 0, 1},
	        {"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n", 0, 0},
	        {"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", 0, 0},
	        {"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n", 0, 1},
	        {"HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\n\r\n", 1, 1},
	        {"HTTP/1.0 200 OK\r\nConnection: keep-alive, close\r\nContent-Length: 0\r\n\r\n", 0, 0},
	        {"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\nclose-delimited", 0, 0},
	        {"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 0, 0},
	        /* an interim response's Connection field is not the final one's */
	        {"HTTP/1.1 100 Continue\r\nConnection: close\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 0,
	         1},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct dp_buf sum;
		int rc = check_splits(cases[i].in, strlen(cases[i].in), cases[i].head_req, &sum);
		assert_int_equal(rc, DP_HTTP_RESP_DONE);
		char want[16];
		snprintf(want, sizeof(want), " ka=%d ", cases[i].ka);
		if (!strstr(sum.data, want))
			fail_msg("case %zu: %s, want%s", i, sum.data, want);
		dp_buf_release(&sum);
	}
}

static void test_headers(void **state)
{
	(void)state;
	struct dp_http_resp p;
	dp_http_resp_init(&p, 0, NULL, NULL);
	const char in[] = "HTTP/1.1 200 OK\r\nX-Dup: first\r\nx-dup: second\r\nX-Ows: \t padded  value\t \r\n"
	                  "X-Empty:\r\nX-Tab:\tv\r\nContent-Length: 0\r\n\r\n";
	/* nothing is visible before the head is complete */
	size_t used;
	assert_int_equal(dp_http_resp_feed(&p, in, 30, &used), DP_HTTP_RESP_MORE);
	assert_int_equal(used, 30);
	assert_null(dp_http_resp_header(&p, "X-Dup"));
	assert_int_equal(dp_http_resp_status(&p), 0);
	assert_int_equal(dp_http_resp_feed(&p, in + 30, sizeof(in) - 1 - 30, &used), DP_HTTP_RESP_DONE);
	assert_int_equal(used, sizeof(in) - 1 - 30);
	assert_string_equal(dp_http_resp_header(&p, "x-DUP"), "first");
	assert_string_equal(dp_http_resp_header(&p, "X-Ows"), "padded  value");
	assert_string_equal(dp_http_resp_header(&p, "X-Empty"), "");
	assert_string_equal(dp_http_resp_header(&p, "x-tab"), "v");
	assert_string_equal(dp_http_resp_header(&p, "content-length"), "0");
	assert_null(dp_http_resp_header(&p, "X-Du"));
	assert_null(dp_http_resp_header(&p, "X-Dupe"));
	assert_null(dp_http_resp_header(&p, ""));
	assert_int_equal(dp_http_resp_content_length(&p), 0);
	assert_int_equal(dp_http_resp_keep_alive(&p), 1);
	/* still there after further (refused) feeds and eof */
	assert_int_equal(dp_http_resp_feed(&p, "x", 1, &used), DP_HTTP_RESP_DONE);
	assert_int_equal(dp_http_resp_eof(&p), DP_HTTP_RESP_DONE);
	assert_string_equal(dp_http_resp_header(&p, "X-Dup"), "first");
	dp_http_resp_release(&p);

	/* an interim response's fields are gone by on_head */
	struct dp_buf sum;
	const struct sample *s = &samples[3];
	assert_int_equal(check_splits(s->in, strlen(s->in), 0, &sum), DP_HTTP_RESP_DONE);
	assert_non_null(strstr(sum.data, " Link=(null) "));
	assert_non_null(strstr(sum.data, " content-length=2 "));
	dp_buf_release(&sum);
}

static int count_head(void *arg, int status)
{
	(*(int *)arg)++;
	return 0;
}

static void test_eof(void **state)
{
	(void)state;
	struct dp_http_resp p;
	dp_http_resp_init(&p, 0, NULL, NULL);
	assert_int_equal(dp_http_resp_got_bytes(&p), 0);
	/* empty feeds are not bytes */
	assert_int_equal(dp_http_resp_feed(&p, "", 0, NULL), DP_HTTP_RESP_MORE);
	assert_int_equal(dp_http_resp_got_bytes(&p), 0);
	assert_int_equal(dp_http_resp_eof(&p), DP_HTTP_RESP_E_EMPTY);
	assert_int_equal(dp_http_resp_eof(&p), DP_HTTP_RESP_E_EMPTY);
	assert_int_equal(dp_http_resp_feed(&p, "HTTP/1.1 200 OK\r\n\r\n", 19, NULL), DP_HTTP_RESP_E_EMPTY);

	/* reset: a new response with the same callbacks */
	int heads = 0;
	struct dp_http_resp_cb cb = {.on_head = count_head};
	dp_http_resp_release(&p);
	dp_http_resp_init(&p, 0, &cb, &heads);
	assert_int_equal(dp_http_resp_feed(&p, "H", 1, NULL), DP_HTTP_RESP_MORE);
	assert_int_equal(dp_http_resp_got_bytes(&p), 1);
	assert_int_equal(dp_http_resp_eof(&p), DP_HTTP_RESP_E_TRUNCATED);
	dp_http_resp_reset(&p, 1);
	assert_int_equal(dp_http_resp_got_bytes(&p), 0);
	assert_int_equal(dp_http_resp_feed(&p, "HTTP/1.1 200 OK\r\n\r\n", 19, NULL), DP_HTTP_RESP_DONE);
	assert_int_equal(heads, 1);
	assert_int_equal(dp_http_resp_keep_alive(&p), 1);
	dp_http_resp_release(&p);
}

/* Two responses on one kept-alive connection, in one buffer. */
static void test_pipelined(void **state)
{
	(void)state;
	const char in[] = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc"
	                  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nde\r\n0\r\n\r\n"
	                  "HTTP/1.1 404 Not Found\r\nContent-Length: 1\r\nConnection: close\r\n\r\nf";
	struct run r;
	memset(&r, 0, sizeof(r));
	r.in = in;
	r.len = sizeof(in) - 1;
	dp_buf_init(&r.body, 1024);
	struct dp_http_resp p;
	dp_http_resp_init(&p, 0, &cbs, &r);
	size_t off = 0, used;
	int want_status[3] = {200, 200, 404}, want_ka[3] = {1, 1, 0};
	for (int k = 0; k < 3; k++) {
		if (k)
			dp_http_resp_reset(&p, 0);
		assert_int_equal(dp_http_resp_feed(&p, in + off, sizeof(in) - 1 - off, &used), DP_HTTP_RESP_DONE);
		off += used;
		assert_int_equal(dp_http_resp_status(&p), want_status[k]);
		assert_int_equal(dp_http_resp_keep_alive(&p), want_ka[k]);
	}
	assert_int_equal(off, sizeof(in) - 1);
	assert_string_equal(r.body.data, "abcdef");
	dp_buf_release(&r.body);
	dp_http_resp_release(&p);
}

/* Pausing from on_head and on_body: `used` stops exactly there and the
 * message completes when the rest is fed again. */
static void test_pause(void **state)
{
	(void)state;
	const char in[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\nNEXT";
	const size_t head_len = sizeof("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n") - 1;
	struct run r;
	memset(&r, 0, sizeof(r));
	r.in = in;
	r.len = sizeof(in) - 1;
	r.pause = 1;
	dp_buf_init(&r.body, 1024);
	struct dp_http_resp p;
	dp_http_resp_init(&p, 0, &cbs, &r);
	size_t used, off = 0, n = sizeof(in) - 1;
	assert_int_equal(dp_http_resp_feed(&p, in, n, &used), DP_HTTP_RESP_PAUSED);
	assert_int_equal(used, head_len);
	assert_int_equal(dp_http_resp_status(&p), 200);
	off += used;
	assert_int_equal(dp_http_resp_feed(&p, in + off, n - off, &used), DP_HTTP_RESP_PAUSED);
	assert_int_equal(used, 3 + 3);
	assert_string_equal(r.body.data, "abc");
	off += used;
	assert_int_equal(dp_http_resp_feed(&p, in + off, n - off, &used), DP_HTTP_RESP_PAUSED);
	assert_int_equal(used, 2 + 3 + 2);
	assert_string_equal(r.body.data, "abcde");
	off += used;
	assert_int_equal(dp_http_resp_keep_alive(&p), 0); /* not DONE yet */
	assert_int_equal(dp_http_resp_feed(&p, in + off, n - off, &used), DP_HTTP_RESP_DONE);
	assert_int_equal(used, 2 + 5);
	off += used;
	assert_string_equal(in + off, "NEXT");
	assert_int_equal(dp_http_resp_keep_alive(&p), 1);
	assert_int_equal(r.pieces, 2);
	dp_buf_release(&r.body);
	dp_http_resp_release(&p);

	/* a pause on the last Content-Length piece: PAUSED, then DONE with nothing used */
	const char in2[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhiNEXT";
	memset(&r, 0, sizeof(r));
	r.in = in2;
	r.len = sizeof(in2) - 1;
	dp_buf_init(&r.body, 1024);
	dp_http_resp_init(&p, 0, &cbs, &r);
	assert_int_equal(dp_http_resp_feed(&p, in2, 38, &used), DP_HTTP_RESP_MORE);
	assert_int_equal(used, 38);
	r.pause = 1;
	assert_int_equal(dp_http_resp_feed(&p, in2 + 38, r.len - 38, &used), DP_HTTP_RESP_PAUSED);
	assert_int_equal(used, 2);
	assert_int_equal(dp_http_resp_feed(&p, "NEXT", 4, &used), DP_HTTP_RESP_DONE);
	assert_int_equal(used, 0);
	assert_int_equal(dp_http_resp_feed(&p, "", 0, &used), DP_HTTP_RESP_DONE);
	assert_string_equal(r.body.data, "hi");
	dp_buf_release(&r.body);
	dp_http_resp_release(&p);
}

/* Body pieces are as large as the input allows. */
static void test_piece_sizes(void **state)
{
	(void)state;
	const char in[] = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789";
	struct run r;
	memset(&r, 0, sizeof(r));
	r.in = in;
	r.len = sizeof(in) - 1;
	dp_buf_init(&r.body, 1024);
	struct dp_http_resp p;
	dp_http_resp_init(&p, 0, &cbs, &r);
	assert_int_equal(dp_http_resp_feed(&p, in, sizeof(in) - 1, NULL), DP_HTTP_RESP_DONE);
	assert_int_equal(r.pieces, 1);
	dp_http_resp_reset(&p, 0);
	size_t head = sizeof(in) - 1 - 10;
	assert_int_equal(dp_http_resp_feed(&p, in, head + 4, NULL), DP_HTTP_RESP_MORE);
	assert_int_equal(dp_http_resp_feed(&p, in + head + 4, 6, NULL), DP_HTTP_RESP_DONE);
	assert_int_equal(r.pieces, 3);
	assert_string_equal(r.body.data, "01234567890123456789");
	dp_buf_release(&r.body);
	dp_http_resp_release(&p);
}

static void test_strerror(void **state)
{
	(void)state;
	for (int e = DP_HTTP_RESP_E_TRUNCATED; e <= DP_HTTP_RESP_PAUSED; e++) {
		const char *m = dp_http_resp_strerror(e);
		assert_non_null(m);
		assert_true(m[0] >= 'a' && m[0] <= 'z');
		assert_true(m[strlen(m) - 1] != '.');
	}
	assert_string_equal(dp_http_resp_strerror(DP_HTTP_RESP_E_LENGTH), "invalid content-length");
	assert_non_null(dp_http_resp_strerror(-1000));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_samples),
	        cmocka_unit_test(test_status_line_errors),
	        cmocka_unit_test(test_field_errors),
	        cmocka_unit_test(test_content_length),
	        cmocka_unit_test(test_chunked_errors),
	        cmocka_unit_test(test_head_bound),
	        cmocka_unit_test(test_field_bound),
	        cmocka_unit_test(test_chunk_line_bound),
	        cmocka_unit_test(test_keep_alive),
	        cmocka_unit_test(test_headers),
	        cmocka_unit_test(test_eof),
	        cmocka_unit_test(test_pipelined),
	        cmocka_unit_test(test_pause),
	        cmocka_unit_test(test_piece_sizes),
	        cmocka_unit_test(test_strerror),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
