/*
 * buf.h - a bounded, growable byte buffer (git's strbuf + curl's dynbuf).
 *
 * Invariants: `data` is never NULL after dp_buf_init() (it points at a static
 * empty string until the first append) and is always NUL-terminated, so it
 * can be handed to C string functions; `len` never exceeds `max`. An append
 * that would pass `max` frees the contents, leaves the buffer empty and
 * returns -ENOSPC: a caller that ignores the error cannot keep growing it.
 * Allocation failure is fatal (xmalloc.h).
 *
 * Ownership: the struct is owned by the caller; dp_buf_release() frees the
 * storage and leaves the buffer initialised and empty (reusable).
 */
#ifndef DP_BUF_H
#define DP_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct dp_buf {
	char *data;
	size_t len;
	size_t cap;
	size_t max;
};

/* Initialise an empty buffer that may hold at most `max` bytes. */
void dp_buf_init(struct dp_buf *b, size_t max);
/* Free the storage; the buffer stays usable and empty. */
void dp_buf_release(struct dp_buf *b);
/* Forget the contents but keep the storage. */
void dp_buf_reset(struct dp_buf *b);
/* Append bytes; 0, or -ENOSPC (buffer emptied) when `max` would be passed. */
int dp_buf_add(struct dp_buf *b, const void *p, size_t n);
int dp_buf_adds(struct dp_buf *b, const char *s);
int dp_buf_addch(struct dp_buf *b, char c);
int dp_buf_addf(struct dp_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int dp_buf_vaddf(struct dp_buf *b, const char *fmt, va_list ap);
/* Drop the first n bytes (n <= len). */
void dp_buf_consume(struct dp_buf *b, size_t n);
/* Take ownership of the heap string; the buffer becomes empty. Never NULL. */
char *dp_buf_detach(struct dp_buf *b, size_t *len);

#endif
