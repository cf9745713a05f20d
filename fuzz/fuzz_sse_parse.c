/*
 * fuzz_sse_parse.c - libFuzzer target for lib/sse_parse.
 *
 * Differential: the input is parsed once whole and once cut into pieces
 * whose sizes come from the input itself; both runs must produce the same
 * events (type, data, id, retry) and the same failure, and no event may
 * exceed the bound. ASan/UBSan catch the memory errors.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "sse_parse.h"

#define MAX_EVENT 512

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int record(const struct dp_sse_parse_event *ev, void *arg)
{
	struct dp_buf *out = arg;
	if (ev->data_len + ev->event_len > MAX_EVENT)
		abort();
	if (ev->data[ev->data_len] != '\0' || ev->event[ev->event_len] != '\0')
		abort();
	dp_buf_add(out, ev->event, ev->event_len);
	dp_buf_addch(out, '\x1f');
	dp_buf_add(out, ev->data, ev->data_len);
	dp_buf_addf(out, "\x1f%s\x1f%d\x1f%lld\x1e", ev->id, ev->has_id, (long long)ev->retry);
	return 0;
}

static int run(const uint8_t *d, size_t n, const uint8_t *cuts, size_t ncuts, struct dp_buf *out)
{
	struct dp_sse_parse p;
	dp_sse_parse_init(&p, MAX_EVENT, record, out);
	size_t at = 0, k = 0;
	int rc = 0;
	while (at < n && rc == 0) {
		size_t len = n - at;
		if (ncuts) {
			len = (size_t)cuts[k++ % ncuts] % 64 + 1;
			if (len > n - at)
				len = n - at;
		}
		rc = dp_sse_parse_feed(&p, d + at, len, NULL);
		at += len;
	}
	int fin = dp_sse_parse_finish(&p);
	dp_sse_parse_release(&p);
	return rc < 0 ? rc : fin == -EMSGSIZE ? fin : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	/* first byte: how many of the following bytes are cut sizes */
	size_t ncuts = data[0] % 16;
	if (ncuts + 1 > size)
		ncuts = size - 1;
	const uint8_t *cuts = data + 1;
	const uint8_t *body = data + 1 + ncuts;
	size_t n = size - 1 - ncuts;

	struct dp_buf a, b;
	dp_buf_init(&a, 1 << 24);
	dp_buf_init(&b, 1 << 24);
	int ra = run(body, n, NULL, 0, &a);
	int rb = run(body, n, cuts, ncuts, &b);
	if (ra != rb || a.len != b.len || memcmp(a.data, b.data, a.len) != 0)
		abort();
	dp_buf_release(&a);
	dp_buf_release(&b);
	return 0;
}
