/*
 * fuzz_http_resp.c - libFuzzer target for lib/http_resp.
 *
 * The first byte picks the split position (bits 3-7), whether the response
 * answers a HEAD request (bit 0) and a canned start put before the rest of
 * the input (bits 1-2: none, a status line, a chunked head, an interim
 * response and an HTTP/1.0 status line), so that an empty corpus reaches the
 * field and body code quickly. The result is parsed three ways: whole, cut in two at that position, and one byte at a
 * time with a pause at every callback; each ends with eof. Every run must
 * consume no more than it was given, deliver body pieces that lie inside the
 * input and never more body than input, and all three must agree on the
 * result, status, keep-alive, Content-Length, headers and body.
 * ASan/UBSan catch the memory errors.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "http_resp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct run {
	const char *in;
	size_t len;
	struct dp_buf out;
	size_t body;
	int heads;
	int pause;
};

static int on_head(void *arg, int status)
{
	struct run *r = arg;
	if (status < 200 || status > 599 || r->heads++)
		abort();
	return r->pause;
}

static int on_body(void *arg, const char *p, size_t n)
{
	struct run *r = arg;
	if (n == 0 || p < r->in || n > r->len || p + n > r->in + r->len)
		abort();
	r->body += n;
	if (r->body > r->len)
		abort();
	dp_buf_add(&r->out, p, n);
	return r->pause;
}

static const char *const names[] = {"content-length", "transfer-encoding", "connection", "content-type", "a"};

/* Feed in[0..len) in pieces of at most `step` bytes (0: cut once at `cut`). */
static int run(const char *in, size_t len, int head_req, size_t cut, size_t step, int pause, struct dp_buf *sum)
{
	static const struct dp_http_resp_cb cb = {on_head, on_body};
	struct run r = {.in = in, .len = len, .pause = pause};
	dp_buf_init(&r.out, 1 << 24);
	struct dp_http_resp p;
	dp_http_resp_init(&p, head_req, &cb, &r);

	size_t off = 0;
	int rc = DP_HTTP_RESP_MORE;
	while (off < len) {
		size_t end = step ? (len - off > step ? off + step : len) : (off < cut ? cut : len);
		size_t used = (size_t)-1;
		rc = dp_http_resp_feed(&p, in + off, end - off, &used);
		if (used > end - off)
			abort();
		off += used;
		if (rc == DP_HTTP_RESP_PAUSED) {
			if (!pause)
				abort();
			continue;
		}
		if (rc == DP_HTTP_RESP_MORE) {
			if (off != end)
				abort();
			continue;
		}
		break;
	}
	if (rc == DP_HTTP_RESP_MORE || rc == DP_HTTP_RESP_PAUSED)
		rc = dp_http_resp_feed(&p, in + off, 0, NULL);
	if (rc == DP_HTTP_RESP_MORE)
		rc = dp_http_resp_eof(&p);
	if (rc == DP_HTTP_RESP_MORE || rc == DP_HTTP_RESP_PAUSED)
		abort();
	size_t used = 1;
	if (dp_http_resp_feed(&p, in, len, &used) != rc || used != 0 || dp_http_resp_eof(&p) != rc)
		abort(); /* sticky */
	if (dp_http_resp_keep_alive(&p) && rc != DP_HTTP_RESP_DONE)
		abort();

	dp_buf_addf(sum, "%d %d %d %lld", rc, dp_http_resp_status(&p), dp_http_resp_keep_alive(&p),
	            (long long)dp_http_resp_content_length(&p));
	if (rc >= 0)
		dp_buf_addf(sum, " %zu", off);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const char *v = dp_http_resp_header(&p, names[i]);
		dp_buf_addf(sum, "\x1f%s", v ? v : "\x1e");
	}
	dp_buf_addch(sum, '\x1f');
	dp_buf_add(sum, r.out.data, r.out.len);
	dp_buf_release(&r.out);
	dp_http_resp_release(&p);
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	static const char *const starts[] = {
	        "",
	        "HTTP/1.1 200 OK\r\n",
	        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
	        "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.0 200 OK\r\n",
	};
	int head_req = data[0] & 1;
	const char *start = starts[(data[0] >> 1) & 3];
	size_t sl = strlen(start);
	size_t n = sl + size - 1;
	char *in = malloc(n ? n : 1); /* a copy of its own, so ASan sees reads past it */
	if (!in)
		return 0;
	memcpy(in, start, sl);
	memcpy(in + sl, data + 1, size - 1);
	size_t cut = (size_t)(data[0] >> 3) * n / 31;

	struct dp_buf a, b, c;
	dp_buf_init(&a, 1 << 25);
	dp_buf_init(&b, 1 << 25);
	dp_buf_init(&c, 1 << 25);
	int ra = run(in, n, head_req, 0, 0, 0, &a);
	int rb = run(in, n, head_req, cut, 0, 0, &b);
	int rc = run(in, n, head_req, 0, 1, 1, &c);
	if (ra != rb || ra != rc || a.len != b.len || memcmp(a.data, b.data, a.len) != 0 || a.len != c.len ||
	    memcmp(a.data, c.data, a.len) != 0)
		abort();
	dp_buf_release(&a);
	dp_buf_release(&b);
	dp_buf_release(&c);
	free(in);
	return 0;
}
