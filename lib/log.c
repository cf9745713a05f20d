/*
 * log.c - timestamped stderr logging (see log.h).
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

static enum dp_log_level min_level = DP_LOG_INFO;
static const char *names[] = {"debug", "info", "warn", "error", "none"};

void dp_log_set_level(enum dp_log_level lvl)
{
	min_level = lvl;
}

int dp_log_parse_level(const char *s)
{
	for (int i = 0; i <= DP_LOG_NONE; i++)
		if (s && strcmp(s, names[i]) == 0)
			return i;
	return -1;
}

void dp_log(enum dp_log_level lvl, const char *fmt, ...)
{
	if (lvl < min_level || lvl >= DP_LOG_NONE)
		return;
	char msg[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	struct timeval tv;
	gettimeofday(&tv, NULL);
	struct tm tm;
	gmtime_r(&tv.tv_sec, &tm);
	char ts[32];
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	fprintf(stderr, "%s.%03ldZ %-5s %s\n", ts, (long)(tv.tv_usec / 1000), names[lvl], msg);
}
