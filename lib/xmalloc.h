/*
 * xmalloc.h - allocation wrappers for which running out of memory is fatal.
 *
 * Out of memory is not a recoverable condition in DaemonPulse (tmux, git):
 * every x* function either returns valid memory or aborts the process with a
 * message. Hostile or oversized input must be rejected *before* allocating,
 * with a named limit; these wrappers are not a substitute for bounds checks.
 */
#ifndef DP_XMALLOC_H
#define DP_XMALLOC_H

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* printf into a new heap string; aborts on allocation failure. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
