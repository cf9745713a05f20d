/*
 * fuzz_mcp_sse.c - libFuzzer target for the MCP client's event-stream
 * handling: the bytes of a streamable-HTTP answer or a legacy SSE stream,
 * parsed incrementally (lib/sse_parse, cut where the input says), each event
 * handled as lib/mcp.c does: `endpoint` data resolved against the stream's
 * URL (must stay on the same origin: anything else is refused, never
 * followed), `message` data classified as JSON-RPC. Invariants: a resolved
 * endpoint always has the stream's scheme, host and port; the split of a
 * resolved URL round-trips; events stay within the bound.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jsonrpc.h"
#include "mcp.h"
#include "sse_parse.h"

#define MAX_EVENT 4096
#define BASE      "http://127.0.0.1:3001/sse"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int on_event(const struct dp_sse_parse_event *ev, void *arg)
{
	(void)arg;
	if (ev->data_len + ev->event_len > MAX_EVENT)
		abort();
	if (ev->event_len == 8 && memcmp(ev->event, "endpoint", 8) == 0) {
		char *u = NULL;
		int rc = dp_mcp_resolve_endpoint(BASE, ev->data, ev->data_len, &u);
		if (rc == 0) {
			if (strncmp(u, "http://127.0.0.1:3001/", 22) != 0)
				abort();
			char *b = NULL, *p = NULL;
			if (dp_mcp_split_url(u, &b, &p) == 0) {
				if (strcmp(b, "http://127.0.0.1:3001") != 0 || p[0] != '/')
					abort();
				free(b);
				free(p);
			}
			free(u);
		} else if (u || (rc != -EINVAL && rc != -EPERM)) {
			abort();
		}
		return 0;
	}
	if (ev->event_len && strcmp(ev->event, "message") != 0)
		return 0;
	struct dp_jsonrpc_msg m;
	if (dp_jsonrpc_parse(ev->data, ev->data_len, MAX_EVENT, &m) == 0) {
		if (m.kind == DP_JSONRPC_RESULT && !m.result)
			abort();
		if (m.kind == DP_JSONRPC_NOTIFICATION && strcmp(m.method, "notifications/tools/list_changed") == 0 &&
		    m.id)
			abort();
		dp_jsonrpc_msg_release(&m);
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dp_sse_parse p;
	dp_sse_parse_init(&p, MAX_EVENT, on_event, NULL);
	size_t off = 0, k = 0;
	while (off < size) {
		size_t n = 1 + data[k++ % size] % 61;
		if (n > size - off)
			n = size - off;
		if (dp_sse_parse_feed(&p, data + off, n, NULL) < 0)
			break;
		off += n;
	}
	dp_sse_parse_finish(&p);
	dp_sse_parse_release(&p);
	return 0;
}
