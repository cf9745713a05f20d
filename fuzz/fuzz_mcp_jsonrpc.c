/*
 * fuzz_mcp_jsonrpc.c - libFuzzer target for lib/jsonrpc (the stdio
 * framing and the message classification the MCP client relies on).
 *
 * The input is split into newline-delimited messages twice, whole and in
 * chunks whose sizes come from the input; both runs must give the same
 * lines (and skip the same over-long ones). Every line is parsed and
 * classified; the classification must be self-consistent (a request has a
 * method and an id, a result a result, ...) and a request or notification
 * re-encoded by us must be a single line that classifies the same way.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "jsonrpc.h"

#define MAX_LINE 2048

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int collect(const char *line, size_t n, void *arg)
{
	struct dp_buf *out = arg;
	if (n == 0 || n > MAX_LINE || memchr(line, '\n', n))
		abort();
	dp_buf_add(out, line, n);
	dp_buf_addch(out, '\x1e');
	return 0;
}

static void check(const char *line, size_t n)
{
	struct dp_jsonrpc_msg m;
	if (dp_jsonrpc_parse(line, n, MAX_LINE, &m) < 0)
		return;
	switch (m.kind) {
	case DP_JSONRPC_REQUEST:
		if (!m.method || !m.id || json_is_null(m.id))
			abort();
		break;
	case DP_JSONRPC_NOTIFICATION:
		if (!m.method || m.id)
			abort();
		break;
	case DP_JSONRPC_RESULT:
		if (!m.result || !m.id || m.method)
			abort();
		break;
	case DP_JSONRPC_ERROR:
		if (!m.id || m.result || m.method || !m.error_message)
			abort();
		break;
	case DP_JSONRPC_INVALID:
		if (!m.why)
			abort();
		break;
	}
	if (m.kind == DP_JSONRPC_REQUEST || m.kind == DP_JSONRPC_NOTIFICATION) {
		char *s = m.kind == DP_JSONRPC_REQUEST
		                  ? dp_jsonrpc_request(m.id_is_int ? m.id_int : 1, m.method, m.params)
		                  : dp_jsonrpc_notification(m.method, m.params);
		if (!s || strchr(s, '\n'))
			abort();
		struct dp_jsonrpc_msg m2;
		if (dp_jsonrpc_parse(s, strlen(s), 0, &m2) < 0 || m2.kind != m.kind || strcmp(m2.method, m.method) != 0)
			abort();
		dp_jsonrpc_msg_release(&m2);
		free(s);
	}
	if (m.kind == DP_JSONRPC_REQUEST) {
		char *r = dp_jsonrpc_error(m.id, -32601, "method not found");
		struct dp_jsonrpc_msg m3;
		if (!r || dp_jsonrpc_parse(r, strlen(r), 0, &m3) < 0 || m3.kind != DP_JSONRPC_ERROR)
			abort();
		dp_jsonrpc_msg_release(&m3);
		free(r);
	}
	dp_jsonrpc_msg_release(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dp_jsonrpc_lines a, b;
	struct dp_buf outa, outb;
	dp_buf_init(&outa, 1u << 24);
	dp_buf_init(&outb, 1u << 24);
	dp_jsonrpc_lines_init(&a, MAX_LINE);
	dp_jsonrpc_lines_init(&b, MAX_LINE);
	dp_jsonrpc_lines_feed(&a, (const char *)data, size, collect, &outa);
	size_t off = 0, k = 0;
	while (off < size) {
		size_t n = 1 + (size ? data[k++ % size] % 97 : 0);
		if (n > size - off)
			n = size - off;
		dp_jsonrpc_lines_feed(&b, (const char *)data + off, n, collect, &outb);
		off += n;
	}
	if (outa.len != outb.len || memcmp(outa.data, outb.data, outa.len) != 0 || a.skipped != b.skipped)
		abort();
	/* classify every complete line */
	const char *p = outa.data, *end = outa.data + outa.len;
	while (p < end) {
		const char *sep = memchr(p, '\x1e', (size_t)(end - p));
		if (!sep)
			break;
		check(p, (size_t)(sep - p));
		p = sep + 1;
	}
	dp_jsonrpc_lines_release(&a);
	dp_jsonrpc_lines_release(&b);
	dp_buf_release(&outa);
	dp_buf_release(&outb);
	return 0;
}
