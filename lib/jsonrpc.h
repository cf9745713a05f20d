/*
 * jsonrpc.h - JSON-RPC 2.0 messages as MCP uses them: parse and classify one
 * message (request, notification, result, error), build compact one-line
 * messages, and split a byte stream into newline-delimited messages (the
 * stdio framing: one message per line, no embedded newlines).
 *
 * Untrusted input: every message is bounded (max bytes), batches (arrays)
 * are refused (removed from MCP in 2025-06-18), ids must be a string or an
 * integer (null only in an error answer), `method` a non-empty string, and
 * a response must carry exactly one of `result` / `error`.
 *
 * Ownership: struct dp_jsonrpc_msg owns `root` after dp_jsonrpc_parse();
 * the other json_t pointers are borrowed from it. Pure: no I/O; any thread.
 */
#ifndef DP_JSONRPC_H
#define DP_JSONRPC_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define DP_JSONRPC_MAX_METHOD 256
#define DP_JSONRPC_MAX_ID     256 /* bytes of a string id */

enum dp_jsonrpc_kind {
	DP_JSONRPC_INVALID = 0,
	DP_JSONRPC_REQUEST,      /* method + id */
	DP_JSONRPC_NOTIFICATION, /* method, no id */
	DP_JSONRPC_RESULT,       /* id + result */
	DP_JSONRPC_ERROR,        /* id (maybe null) + error{code,message} */
};

struct dp_jsonrpc_msg {
	enum dp_jsonrpc_kind kind;
	json_t *root; /* owned after dp_jsonrpc_parse, borrowed after _classify */
	json_t *id;   /* borrowed; NULL when absent */
	int id_is_int;
	int64_t id_int;
	const char *method; /* requests and notifications */
	json_t *params;     /* may be NULL */
	json_t *result;
	int64_t error_code;
	const char *error_message; /* "" when absent */
	json_t *error_data;
	const char *why; /* DP_JSONRPC_INVALID: a static reason */
};

/* "request", "notification", "result", "error", "invalid". */
const char *dp_jsonrpc_kind_name(enum dp_jsonrpc_kind k);

/* Parse n bytes (at most `max`, 0 = 16 MiB) as one message. 0 with m->root
 * owned (release with dp_jsonrpc_msg_release) and m->kind set (which may be
 * INVALID for well-formed JSON that is not JSON-RPC); -EMSGSIZE when too
 * large; -EINVAL when not JSON (m->why says why, m->root NULL). */
int dp_jsonrpc_parse(const char *buf, size_t n, size_t max, struct dp_jsonrpc_msg *m);
/* Classify an already parsed value (borrowed; nothing to release). */
void dp_jsonrpc_classify(json_t *root, struct dp_jsonrpc_msg *m);
void dp_jsonrpc_msg_release(struct dp_jsonrpc_msg *m);

/* Compact one-line encodings (heap strings, no newline; free()). params /
 * result may be NULL (omitted / `{}`). NULL when the method is invalid. */
char *dp_jsonrpc_request(int64_t id, const char *method, json_t *params);
char *dp_jsonrpc_notification(const char *method, json_t *params);
char *dp_jsonrpc_result(json_t *id, json_t *result);
char *dp_jsonrpc_error(json_t *id, int code, const char *message);

/* Newline framing: feed bytes, get one callback per complete line (without
 * "\n" and a trailing "\r"); blank lines are skipped; a line longer than
 * `max_line` is dropped whole and counted. The callback may return non-zero
 * to stop (feed returns 1). */
typedef int (*dp_jsonrpc_line_fn)(const char *line, size_t len, void *arg);
struct dp_jsonrpc_lines {
	struct dp_buf line;
	int skipping;
	uint64_t lines, skipped;
};
void dp_jsonrpc_lines_init(struct dp_jsonrpc_lines *l, size_t max_line);
void dp_jsonrpc_lines_release(struct dp_jsonrpc_lines *l);
int dp_jsonrpc_lines_feed(struct dp_jsonrpc_lines *l, const char *p, size_t n, dp_jsonrpc_line_fn fn, void *arg);

#endif
