/*
 * http_resp.h - an incremental, bounded HTTP/1.1 *response* parser for our
 * own upstream HTTP client (RFC 9112, strict but practical).
 *
 * Feed it the bytes read from the connection in chunks of any size, split
 * anywhere; it calls on_head once when the final response head is complete
 * (interim 1xx responses are parsed and skipped) and on_body for every piece
 * of decoded body (chunked framing removed). Body bytes are never copied: a
 * piece points into the caller's input and is as large as the input allows.
 *
 * What it accepts:
 *   - status line `HTTP/1.0` or `HTTP/1.1` SP 3DIGIT (100-599) [SP reason];
 *     the line may end right after the code; other versions fail with
 *     E_VERSION, anything else with E_SYNTAX; 101 fails with E_UPGRADE (we
 *     never ask for an upgrade);
 *   - CRLF or bare LF line ends; CR, NUL or other control bytes (except HTAB)
 *     inside a line, obs-fold, whitespace before the colon or a non-token
 *     field name fail with E_SYNTAX;
 *   - body framing in RFC 9112 6.3 order: response to HEAD, 1xx, 204, 304 have
 *     none; Transfer-Encoding whose last coding is `chunked` is chunked;
 *     Transfer-Encoding not ending in chunked is read until close;
 *     Content-Length (digits only, every value of every field equal, else
 *     E_LENGTH); otherwise read until close.
 *
 * Bounds (all below): the head(s), counting interim 1xx heads too, and the
 * trailer section each at most DP_HTTP_RESP_MAX_HEAD bytes and
 * DP_HTTP_RESP_MAX_FIELDS fields; a chunk-size line at most
 * DP_HTTP_RESP_MAX_CHUNK_LINE bytes and DP_HTTP_RESP_MAX_CHUNK_DIGITS hex
 * digits. Memory held: the stored header fields plus one partial line; body
 * bytes are never buffered.
 *
 * Ownership: struct dp_http_resp is owned by the caller (embed it or put it
 * on the stack); dp_http_resp_release() frees its buffers. Header strings
 * returned by dp_http_resp_header() belong to the parser and stay valid from
 * on_head until dp_http_resp_release() or dp_http_resp_reset(). Callbacks
 * must not feed, reset or release the parser. No I/O, not thread-safe; usable
 * from any binary and any loop.
 */
#ifndef DP_HTTP_RESP_H
#define DP_HTTP_RESP_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define DP_HTTP_RESP_MAX_HEAD         (64 * 1024) /* bytes of the head(s), and of the trailers */
#define DP_HTTP_RESP_MAX_FIELDS       100         /* fields per head, and in the trailers */
#define DP_HTTP_RESP_MAX_CHUNK_LINE   4096        /* chunk-size line incl. extensions and CRLF */
#define DP_HTTP_RESP_MAX_CHUNK_DIGITS 16          /* hex digits of a chunk size (fits 64 bits) */

/* dp_http_resp_feed() / dp_http_resp_eof() results */
#define DP_HTTP_RESP_MORE   0 /* all input consumed, the message needs more */
#define DP_HTTP_RESP_DONE   1 /* the message is complete */
#define DP_HTTP_RESP_PAUSED 2 /* a callback returned non-zero */

/* errors (negative, sticky: every later call returns the same one) */
#define DP_HTTP_RESP_E_SYNTAX          (-1) /* malformed status line or field */
#define DP_HTTP_RESP_E_VERSION         (-2) /* an HTTP version other than 1.0 / 1.1 */
#define DP_HTTP_RESP_E_UPGRADE         (-3) /* 101 Switching Protocols */
#define DP_HTTP_RESP_E_HEAD_TOO_LARGE  (-4) /* head or trailers over DP_HTTP_RESP_MAX_HEAD */
#define DP_HTTP_RESP_E_TOO_MANY_FIELDS (-5) /* more than DP_HTTP_RESP_MAX_FIELDS fields */
#define DP_HTTP_RESP_E_LENGTH          (-6) /* invalid or conflicting Content-Length */
#define DP_HTTP_RESP_E_CHUNK           (-7) /* bad chunk size line or missing CRLF after data */
#define DP_HTTP_RESP_E_EMPTY           (-8) /* closed before a single byte arrived */
#define DP_HTTP_RESP_E_TRUNCATED       (-9) /* closed in the middle of the message */

struct dp_http_resp_cb {
	/* head complete (final status, 1xx interim responses already skipped).
	 * Return 0 to go on, non-zero to stop feeding (dp_http_resp_feed
	 * returns DP_HTTP_RESP_PAUSED with *used counting the head). */
	int (*on_head)(void *arg, int status);
	/* decoded body bytes (chunked framing removed), pointing into the
	 * input, n > 0; the bytes are consumed. Return 0 to go on, non-zero to
	 * stop after this piece (pause): feed returns DP_HTTP_RESP_PAUSED with
	 * *used counting exactly the input bytes consumed so far, so the
	 * caller keeps the rest and feeds it again later. */
	int (*on_body)(void *arg, const char *p, size_t n);
};

/* Public so that callers can embed it; the fields are private. */
struct dp_http_resp {
	struct dp_http_resp_cb cb;
	void *arg;
	struct dp_buf line;     /* a partial line carried between feeds */
	struct dp_buf fields;   /* final head's fields: "name\0value\0" each */
	size_t nfields;         /* fields in the head (or trailers) being read */
	size_t sect_bytes;      /* bytes of the head(s) / trailer section so far */
	size_t line_bytes;      /* bytes of the chunk-size line so far */
	uint64_t remaining;     /* body bytes left: Content-Length or current chunk */
	int64_t content_length; /* -1 when none */
	int state;
	int err;
	int status; /* final status, 0 until on_head */
	int code;   /* status of the head being read (may be 1xx) */
	int minor;  /* HTTP/1.<minor> */
	int head_request;
	int keep_alive;
	int got_bytes;
	int te_seen, te_chunked, conn_close, conn_keep;
};

/* Initialise for one response; head_request: the request was HEAD (no body).
 * cb may be NULL and either callback may be NULL. */
void dp_http_resp_init(struct dp_http_resp *p, int head_request, const struct dp_http_resp_cb *cb, void *arg);
/* Free the buffers; the parser must be initialised again before reuse. */
void dp_http_resp_release(struct dp_http_resp *p);
/* Forget the response (the next one on a kept-alive connection) but keep the
 * callbacks and the storage. */
void dp_http_resp_reset(struct dp_http_resp *p, int head_request);

/* Feed n bytes (n may be 0). Returns DP_HTTP_RESP_MORE (all consumed, needs
 * more), DP_HTTP_RESP_DONE (the message is complete; bytes after it are not
 * consumed), DP_HTTP_RESP_PAUSED (a callback returned non-zero; if that piece
 * completed the message the next feed returns DONE) or a negative
 * DP_HTTP_RESP_E_*. *used (optional) = input bytes consumed. After DONE every
 * feed returns DONE with *used = 0; after an error, the same error. */
int dp_http_resp_feed(struct dp_http_resp *p, const char *data, size_t n, size_t *used);
/* The peer closed the connection: DONE for a close-delimited body (or an
 * already complete message), else an error: DP_HTTP_RESP_E_EMPTY when not a
 * single byte had arrived, DP_HTTP_RESP_E_TRUNCATED otherwise. */
int dp_http_resp_eof(struct dp_http_resp *p);

/* The final status code, 0 before on_head. */
int dp_http_resp_status(const struct dp_http_resp *p);
/* A response header's value: first occurrence, case-insensitive name, OWS
 * trimmed; NULL when absent. Valid from on_head until release or reset. */
const char *dp_http_resp_header(const struct dp_http_resp *p, const char *name);
/* The agreed Content-Length, -1 when the head had none. */
int64_t dp_http_resp_content_length(const struct dp_http_resp *p);
/* 1 when the message is DONE and the connection may carry another request:
 * HTTP/1.1 without `Connection: close`, HTTP/1.0 only with
 * `Connection: keep-alive`; never after a close-delimited body, nor when
 * Transfer-Encoding came with Content-Length or in an HTTP/1.0 response. */
int dp_http_resp_keep_alive(const struct dp_http_resp *p);
/* 1 when any byte has been fed (consumed) for this response. */
int dp_http_resp_got_bytes(const struct dp_http_resp *p);
/* A lower-case phrase for a DP_HTTP_RESP_E_* code (or a result code). */
const char *dp_http_resp_strerror(int e);

#endif
