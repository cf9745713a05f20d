/*
 * logparse.h - the parser of LM Studio's log stream: one NDJSON line of
 * `lms log stream --json` (a DiagnosticsLogEvent, reference §7.1) in, one
 * classified event out.
 *
 *   {"timestamp": <epoch ms>, "data": {"type": "server.log" | "runtime.log" |
 *     "llm.prediction.input" | "llm.prediction.output", ...}}
 *
 * The input is untrusted: lines longer than DP_LOGPARSE_MAX_LINE, invalid
 * JSON or UTF-8, a missing `data` object or `data.type` are refused with
 * -EINVAL/-E2BIG and a reason (the caller counts and skips them); every
 * string kept is bounded (longer ones are cut, `truncated` set).
 *
 * Classification: source from data.type (server.log -> server,
 * runtime.log -> runtime, llm.prediction.* -> model; an unknown type keeps
 * the stream's source); level from data.level (debug/info/warn/error, with
 * common spellings; prediction events are info); `high` for the events the
 * Console's Live preset shows (warn and error, model load/unload/eject/evict,
 * JIT loads, server start/stop, finished downloads); a one-line printable
 * summary; the `llm.prediction.output` stats (tokens/s, TTFT, token counts).
 *
 * Payload hiding (Live mode, payloads=0): dp_logparse_redact() removes
 * `input`/`output` and cuts a `content`/`message` before a request or
 * response body; `summary_hidden` is the summary cut the same way.
 *
 * Pure functions, no allocation outside the event (released with
 * dp_logparse_event_release). Any thread.
 */
#ifndef DP_LOGPARSE_H
#define DP_LOGPARSE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define DP_LOGPARSE_MAX_LINE    (1024 * 1024) /* same as the lms bridge's line limit */
#define DP_LOGPARSE_MAX_STR     (64 * 1024)   /* longer payload strings are cut */
#define DP_LOGPARSE_SUMMARY_MAX 300           /* bytes of a summary (UTF-8 kept whole) */
#define DP_LOGPARSE_MAX_DEPTH   32            /* nesting kept in a payload */

enum dp_logparse_source {
	DP_LOGPARSE_SERVER = 0,
	DP_LOGPARSE_MODEL,
	DP_LOGPARSE_RUNTIME,
	DP_LOGPARSE_DAEMONPULSE,
	DP_LOGPARSE__NSRC
};

enum dp_logparse_level {
	DP_LOGPARSE_DEBUG = 0,
	DP_LOGPARSE_INFO,
	DP_LOGPARSE_WARN,
	DP_LOGPARSE_ERROR,
};

/* llm.prediction.output stats; absent numbers are < 0. */
struct dp_logparse_stats {
	double tokens_per_second;
	double ttft_sec;
	double total_time_sec;
	int64_t prompt_tokens;
	int64_t predicted_tokens;
	int64_t total_tokens;
	char stop_reason[64]; /* "" when absent */
};

struct dp_logparse_event {
	enum dp_logparse_source source;
	enum dp_logparse_level level;
	int high;        /* shown by the Live preset */
	int64_t ts_ms;   /* the event's timestamp; 0 when absent or absurd */
	char type[64];   /* data.type (printable ASCII, cut) */
	char model[256]; /* modelIdentifier, "" when none */
	char summary[DP_LOGPARSE_SUMMARY_MAX + 1];
	char summary_hidden[DP_LOGPARSE_SUMMARY_MAX + 1]; /* summary without bodies */
	json_t *payload;                                  /* the data object (strings cut); owned */
	int truncated;                                    /* a payload string was cut */
	int has_body;                                     /* redaction changes the payload */
	int has_stats;
	struct dp_logparse_stats stats;
};

/*
 * Parse one line (without its newline). `stream_src` is the source of the
 * stream it came from (used for unknown types). 0 and *ev filled (release
 * it), or -E2BIG (too long) / -EINVAL (malformed) with a reason in err and
 * nothing to release.
 */
int dp_logparse_line(const char *line, size_t len, enum dp_logparse_source stream_src, struct dp_logparse_event *ev,
                     char *err, size_t errlen);
void dp_logparse_event_release(struct dp_logparse_event *ev);

/* A copy of `payload` with model input/output removed and bodies cut
 * (new reference; NULL in, NULL out). */
json_t *dp_logparse_redact(const json_t *payload);

/* Offset in `s` where a request/response body starts (the first '{' or
 * '[' after " with body", "prediction:" or "body:", else the first '{'),
 * or `len` when there is none. */
size_t dp_logparse_body_offset(const char *s, size_t len);

/* Copy `s` into out as one printable line: control characters and
 * invalid UTF-8 become spaces, whitespace runs collapse, cut at a
 * character boundary with "…" when too long. Returns strlen(out). */
size_t dp_logparse_sanitize(const char *s, size_t len, char *out, size_t outlen);

/* "server", "model", "runtime", "daemonpulse"; parse: -1 when unknown
 * (exact, lower case; `len` bytes). */
const char *dp_logparse_source_name(enum dp_logparse_source s);
int dp_logparse_source_parse(const char *s, size_t len);
/* "debug", "info", "warn", "error"; parse accepts any case and the
 * spellings trace/verbose (debug), information/notice (info),
 * warning (warn), err/fatal/critical (error); -1 when unknown. */
const char *dp_logparse_level_name(enum dp_logparse_level l);
int dp_logparse_level_parse(const char *s);

/* {"tokens_per_second","ttft_sec","prompt_tokens","predicted_tokens",
 *  "total_tokens","total_time_sec","stop_reason"} with nulls (new ref). */
json_t *dp_logparse_stats_json(const struct dp_logparse_stats *st);

/* 1 when a server/runtime message names a high-level event (load, unload,
 * eject, evict, JIT, server start/stop, download finished). */
int dp_logparse_is_high_message(const char *msg);

#endif
