/*
 * fuzz_chat_norm.c - libFuzzer target for src/chat (the stream normaliser).
 *
 * Input: byte 0 picks the API (v1 / v0 / openai) and think tags on/off, the
 * rest is an SSE stream as LM Studio would send it, parsed with
 * lib/sse_parse and fed event by event. Every emitted payload must be one
 * valid JSON object, token counters must match the events seen, the stats
 * JSON must build, and the stop reason must be a non-empty string. Every
 * input runs twice, with the flat v1 delta fast path and without it (jansson
 * only): both must emit the same events, byte for byte.
 */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "chat.h"
#include "sse_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
struct st;
static void run(struct st *rs, const uint8_t *data, size_t size, int slow);

struct st {
	struct dp_chat_norm n;
	uint64_t tokens, stats;
	struct dp_buf trace; /* every emitted event, to compare the two parse paths */
};

static void on_emit(void *arg, enum dp_chat_ev ev, const char *json, size_t len)
{
	struct st *s = arg;
	if (ev == DP_CHAT_EV_STATS) {
		if (json || ++s->stats > 1)
			abort();
		return;
	}
	if (!json || strlen(json) != len)
		abort();
	dp_buf_addf(&s->trace, "%d:", (int)ev);
	dp_buf_add(&s->trace, json, len);
	dp_buf_addch(&s->trace, '\n');
	json_t *j = json_loadb(json, len, 0, NULL);
	if (!json_is_object(j))
		abort();
	json_decref(j);
	if (ev == DP_CHAT_EV_REASONING || ev == DP_CHAT_EV_CONTENT || ev == DP_CHAT_EV_TOOL_CALL)
		s->tokens++;
}

static int on_event(const struct dp_sse_parse_event *ev, void *arg)
{
	struct st *s = arg;
	dp_chat_norm_feed(&s->n, ev->event, ev->event_len, ev->data, ev->data_len);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	/* the same stream twice: the fast path for flat v1 deltas on, then off
	 * (jansson only); the emitted events and counters must be identical */
	struct st runs[2];
	for (int k = 0; k < 2; k++) {
		struct st *r = &runs[k];
		memset(r, 0, sizeof(*r));
		dp_buf_init(&r->trace, 64u << 20);
		run(r, data, size, k);
	}
	if (runs[0].trace.len != runs[1].trace.len ||
	    memcmp(runs[0].trace.data, runs[1].trace.data, runs[0].trace.len) ||
	    runs[0].n.token_events != runs[1].n.token_events || runs[0].n.ignored != runs[1].n.ignored ||
	    runs[0].n.content.len != runs[1].n.content.len || runs[0].n.reasoning.len != runs[1].n.reasoning.len)
		abort();
	for (int k = 0; k < 2; k++) {
		dp_chat_norm_release(&runs[k].n);
		dp_buf_release(&runs[k].trace);
	}
	return 0;
}

static void run(struct st *rs, const uint8_t *data, size_t size, int slow)
{
	dp_chat_norm_init(&rs->n, (enum dp_chat_api)(data[0] % 3), on_emit, rs);
	rs->n.no_fast_path = slow;
	rs->n.keep_text = 1;
	if (data[0] & 0x10)
		dp_chat_norm_think_off(&rs->n);
	else if (data[0] & 0x20)
		dp_chat_norm_set_think(&rs->n, "[R]", "[/R]");
	struct dp_sse_parse p;
	dp_sse_parse_init(&p, 1 << 16, on_event, rs);
	dp_sse_parse_feed(&p, data + 1, size - 1, NULL);
	dp_sse_parse_finish(&p);
	dp_sse_parse_release(&p);
	dp_chat_norm_finish(&rs->n);
	if (rs->tokens != rs->n.token_events)
		abort();
	if (rs->n.reasoning_events + rs->n.content_events + rs->n.tool_events != rs->n.token_events)
		abort();
	struct dp_chat_timing t = {1, 1, 1, 1};
	json_t *st = dp_chat_stats_json(&rs->n, &t);
	if (!json_is_object(st))
		abort();
	json_decref(st);
	const char *sr = dp_chat_norm_stop_reason(&rs->n);
	if (!sr || !*sr)
		abort();
}
