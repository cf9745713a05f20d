/*
 * chat.h - the chat stream normaliser: LM Studio's streaming chat answers,
 * in any of the three shapes it speaks, turned into the one event stream
 * the UI reads (docs/api-chat.md):
 *
 *   v1      `POST /api/v1/chat`: SSE `event: chat.start | model_load.* |
 *           prompt_processing.* | reasoning.* | message.* | tool_call.* |
 *           error | chat.end` with JSON data (reference §3.7);
 *   v0      `POST /api/v0/chat/completions` and
 *   openai  `POST /v1/chat/completions`: `data: {chat.completion.chunk}`
 *           with `delta.content`, `delta.reasoning_content`,
 *           `delta.reasoning`, `delta.tool_calls`, a final chunk with
 *           `finish_reason` (+ `usage`, v0 `stats`), `data: [DONE]`.
 *
 * Reasoning arrives three ways and all end up as `reasoning` events: v1
 * `reasoning.delta`, the OpenAI delta fields, and text between think tags
 * inside the content (think.h, tags configurable per model).
 *
 * Use: dp_chat_norm_feed() once per upstream SSE event; the emit callback
 * runs once per downstream event with its name and a compact JSON payload
 * (borrowed, valid during the call). One upstream event gives at most one
 * downstream event, except a content delta that contains a think tag
 * (answer and reasoning pieces). The `stats` event is signalled with a
 * NULL payload: the caller owns the clock and builds it with
 * dp_chat_stats_json() (server timings + LM Studio's own stats, which the
 * normaliser keeps). `start` and `end` are the caller's too.
 *
 * Pure: no I/O, no clock. Upstream bytes are untrusted: malformed events
 * are counted and skipped, strings are bounded, error messages from the
 * daemon are sanitised (control characters blanked, 400 bytes at most).
 * struct dp_chat_norm is owned by the caller; one per stream; any thread.
 */
#ifndef DP_CHAT_H
#define DP_CHAT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "think.h"

enum dp_chat_api {
	DP_CHAT_API_V1 = 0,
	DP_CHAT_API_V0,
	DP_CHAT_API_OPENAI,
};

enum dp_chat_ev {
	DP_CHAT_EV_START = 0,
	DP_CHAT_EV_MODEL_LOAD,
	DP_CHAT_EV_PROMPT_PROGRESS,
	DP_CHAT_EV_REASONING,
	DP_CHAT_EV_CONTENT,
	DP_CHAT_EV_TOOL_CALL,
	DP_CHAT_EV_STATS,
	DP_CHAT_EV_ERROR,
	DP_CHAT_EV_END,
	DP_CHAT_EV__N
};

#define DP_CHAT_MAX_TEXT      (4u << 20) /* kept answer / reasoning text, each */
#define DP_CHAT_MAX_ERROR_MSG 400

/* "start", "model_load", ... */
const char *dp_chat_ev_name(enum dp_chat_ev ev);
/* "v1" | "v0" | "openai" <-> enum; -1 / NULL when unknown. */
int dp_chat_api_parse(const char *s);
const char *dp_chat_api_name(enum dp_chat_api api);
/* The upstream path of an API ("/api/v1/chat", ...). */
const char *dp_chat_api_path(enum dp_chat_api api);

/* json is NULL for DP_CHAT_EV_STATS (see above). */
typedef void (*dp_chat_emit_fn)(void *arg, enum dp_chat_ev ev, const char *json, size_t len);

struct dp_chat_norm {
	enum dp_chat_api api;
	struct dp_think think;
	dp_chat_emit_fn emit;
	void *arg;
	struct dp_buf out; /* payload being built */
	int keep_text;     /* accumulate content/reasoning (for history) */
	struct dp_buf content, reasoning;
	int text_truncated;     /* a kept text passed DP_CHAT_MAX_TEXT */
	json_t *lms_stats;      /* LM Studio's stats object, NULL when none came */
	json_t *usage;          /* OpenAI usage, NULL when none came */
	int64_t lms_tokens;     /* LM Studio's output token count, -1 unknown */
	char stop_reason[48];   /* LM Studio's stats.stop_reason, "" unknown */
	char finish_reason[32]; /* OpenAI finish_reason, "" unknown */
	char response_id[128];  /* v1 result.response_id, "" none */
	uint64_t events_in;     /* upstream events fed */
	uint64_t ignored;       /* malformed or unknown upstream events */
	uint64_t reasoning_events, content_events, tool_events, error_events;
	uint64_t token_events; /* reasoning + content + tool events emitted */
	int stats_signalled;
	int done;               /* chat.end or [DONE] seen */
	int think_unterminated; /* the stream ended inside a think block */
	int no_fast_path;       /* always parse with jansson (tests compare both) */
	struct dp_buf scratch;  /* the fast path's unescaped text */
};

void dp_chat_norm_init(struct dp_chat_norm *n, enum dp_chat_api api, dp_chat_emit_fn emit, void *arg);
/* Custom think tags (NULL: defaults); -EINVAL for bad tags (defaults kept).
 * dp_chat_norm_think_off(): content is never split. Before the first feed. */
int dp_chat_norm_set_think(struct dp_chat_norm *n, const char *open, const char *close);
void dp_chat_norm_think_off(struct dp_chat_norm *n);
void dp_chat_norm_release(struct dp_chat_norm *n);

/* One upstream SSE event (`event` may be "" for OpenAI chunks). Returns the
 * number of token events (reasoning/content/tool_call) it produced, 0 for
 * none, -EINVAL when the data was malformed (counted in `ignored`, the
 * stream goes on). */
int dp_chat_norm_feed(struct dp_chat_norm *n, const char *event, size_t event_len, const char *data, size_t len);
/* End of the upstream stream: release text the think splitter held. */
void dp_chat_norm_finish(struct dp_chat_norm *n);

/* The stop reason for `end`: LM Studio's stats.stop_reason, else the
 * mapped finish_reason, else "completed". */
const char *dp_chat_norm_stop_reason(const struct dp_chat_norm *n);

/* Server-side timings for the stats event (ms; < 0 = unknown -> null). */
struct dp_chat_timing {
	double ttft_ms;       /* request sent -> first token event byte */
	double ttfb_ms;       /* request sent -> first response byte */
	double generation_ms; /* first -> last token event */
	double total_ms;      /* request sent -> end */
};
/* {"server":{...},"lmstudio":stats|null[,"usage":{...}]} (new reference). */
json_t *dp_chat_stats_json(const struct dp_chat_norm *n, const struct dp_chat_timing *t);

/* Append `s` as a JSON string literal (quotes included) to `b`. */
int dp_chat_json_str(struct dp_buf *b, const char *s, size_t n);
/* Copy a daemon message for people: control characters blanked, cut at a
 * UTF-8 boundary to fit `outlen` (<= DP_CHAT_MAX_ERROR_MSG + 1). */
void dp_chat_sanitize(char *out, size_t outlen, const char *s, size_t n);

#endif
