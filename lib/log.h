/*
 * log.h - one-line, timestamped logging to stderr.
 *
 * Lines look like `2026-11-26T10:01:40.123Z info  message`. Messages are
 * lower case without a final full stop (git). Never log a password, cookie,
 * session token, API token or Authorization header: callers redact first.
 * dp_log_set_level() filters; default is info. Thread-safe (one fprintf).
 */
#ifndef DP_LOG_H
#define DP_LOG_H

enum dp_log_level { DP_LOG_DEBUG, DP_LOG_INFO, DP_LOG_WARN, DP_LOG_ERROR, DP_LOG_NONE };

void dp_log_set_level(enum dp_log_level lvl);
/* Parse "debug|info|warn|error|none"; -1 when unknown. */
int dp_log_parse_level(const char *s);
void dp_log(enum dp_log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define dp_debug(...) dp_log(DP_LOG_DEBUG, __VA_ARGS__)
#define dp_info(...)  dp_log(DP_LOG_INFO, __VA_ARGS__)
#define dp_warn(...)  dp_log(DP_LOG_WARN, __VA_ARGS__)
#define dp_error(...) dp_log(DP_LOG_ERROR, __VA_ARGS__)

#endif
