/*
 * fuzz_chat_norm.c - libFuzzer target for src/chat (the stream normaliser).
 *
 * Input: byte 0 picks the API (v1 / v0 / openai) and think tags on/off, the
 * rest is an SSE stream as LM Studio would send it, parsed with
 * lib/sse_parse and fed event by event. Every emitted payload must be one
 * valid JSON object, token counters must match the events seen, the stats
 * JSON must build, and the stop reason must be a non-empty string.
 */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "chat.h"
#include "sse_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct st {
	struct dp_chat_norm n;
	uint64_t tokens, stats;
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
	struct st s = { 0 };
	dp_chat_norm_init(&s.n, (enum dp_chat_api)(data[0] % 3), on_emit, &s);
	s.n.keep_text = 1;
	if (data[0] & 0x10)
		dp_chat_norm_think_off(&s.n);
	else if (data[0] & 0x20)
		dp_chat_norm_set_think(&s.n, "[R]", "[/R]");
	struct dp_sse_parse p;
	dp_sse_parse_init(&p, 1 << 16, on_event, &s);
	dp_sse_parse_feed(&p, data + 1, size - 1, NULL);
	dp_sse_parse_finish(&p);
	dp_sse_parse_release(&p);
	dp_chat_norm_finish(&s.n);
	if (s.tokens != s.n.token_events)
		abort();
	if (s.n.reasoning_events + s.n.content_events + s.n.tool_events != s.n.token_events)
		abort();
	struct dp_chat_timing t = { 1, 1, 1, 1 };
	json_t *st = dp_chat_stats_json(&s.n, &t);
	if (!json_is_object(st))
		abort();
	json_decref(st);
	const char *sr = dp_chat_norm_stop_reason(&s.n);
	if (!sr || !*sr)
		abort();
	dp_chat_norm_release(&s.n);
	return 0;
}
