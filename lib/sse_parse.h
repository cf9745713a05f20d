/*
 * sse_parse.h - an incremental, bounded Server-Sent-Events parser (WHATWG
 * "event stream interpretation").
 *
 * Feed it byte chunks of any size, split anywhere; it calls back once per
 * complete event, at the byte that completes the event (the blank line), so
 * a relay never waits for more input than the event itself. It handles LF,
 * CRLF and CR line endings (also a CRLF split across two chunks), one leading
 * UTF-8 BOM, comment lines (`:`), fields without a colon, one optional space
 * after the colon, multi-line `data` (joined with "\n"), `event`, `id` (kept
 * across events as the spec's "last event ID"; values containing NUL are
 * ignored) and `retry` (digits only, else ignored). Blocks without any
 * `data` line dispatch nothing, as in browsers.
 *
 * Bounds: the bytes held for one event (partial line + data + event type) may
 * not exceed `max_event`. Past it the parser fails with -EMSGSIZE and stays
 * failed: memory never grows without bound. The `id` is bounded the same way.
 *
 * Ownership: struct dp_sse_parse is owned by the caller (embedded or on the
 * stack); dp_sse_parse_release() frees its buffers. The event passed to the
 * callback and its strings are borrowed: valid only during the callback.
 * The callback may stop parsing by returning non-zero; it must not release,
 * reset or feed the parser itself. Not thread-safe; no I/O; usable from any
 * binary.
 */
#ifndef DP_SSE_PARSE_H
#define DP_SSE_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define DP_SSE_PARSE_MAX_EVENT_DEFAULT (1024 * 1024)

/* One dispatched event. All strings are NUL-terminated and borrowed; `event`
 * and `data` may also contain NUL bytes (use the lengths), `id` never does. */
struct dp_sse_parse_event {
	const char *event; /* `event` field, "" when absent (the spec's "message") */
	size_t event_len;
	const char *data; /* data lines joined with "\n", no trailing "\n" */
	size_t data_len;
	const char *id; /* last event ID seen so far on this stream, "" when none */
	int has_id;     /* this event's block contained an `id` field */
	int64_t retry;  /* `retry` of this block in ms, -1 when absent */
};

/* Called once per event. Return 0 to go on, non-zero to stop parsing: the
 * current dp_sse_parse_feed() returns 1 right after this event. */
typedef int (*dp_sse_parse_fn)(const struct dp_sse_parse_event *ev, void *arg);

struct dp_sse_parse {
	struct dp_buf line;  /* an incomplete line carried between chunks */
	struct dp_buf data;  /* data of the event being built, each line + "\n" */
	struct dp_buf event; /* event type of the event being built */
	struct dp_buf id;    /* last event ID */
	size_t max_event;
	int64_t retry;
	int has_id;
	int skip_lf;       /* the previous chunk ended with CR: drop a leading LF */
	int bom;           /* BOM bytes matched so far; 3 once past the check */
	int failed;        /* sticky -EMSGSIZE */
	uint64_t events;   /* events dispatched */
	uint64_t comments; /* comment lines seen */
	dp_sse_parse_fn fn;
	void *arg;
};

/* Initialise. max_event 0 means DP_SSE_PARSE_MAX_EVENT_DEFAULT. */
void dp_sse_parse_init(struct dp_sse_parse *p, size_t max_event, dp_sse_parse_fn fn, void *arg);
/* Free the buffers; the parser must be initialised again before reuse. */
void dp_sse_parse_release(struct dp_sse_parse *p);
/* Forget all state (a new stream) but keep callback and limit. */
void dp_sse_parse_reset(struct dp_sse_parse *p);

/* Parse n bytes. Returns 0 when all bytes were consumed; 1 when the callback
 * asked to stop, with *used (optional) = bytes consumed up to and including
 * the end of that event: feed the rest again later to continue; -EMSGSIZE
 * when an event passed max_event (sticky: every later call fails too). */
int dp_sse_parse_feed(struct dp_sse_parse *p, const void *buf, size_t n, size_t *used);

/* End of stream. Returns 0, or -ENODATA when an unterminated event or line
 * was pending and has been discarded (the spec drops it), or -EMSGSIZE when
 * the parser had failed. The parser is reset either way. */
int dp_sse_parse_finish(struct dp_sse_parse *p);

#endif
