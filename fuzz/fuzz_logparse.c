/*
 * fuzz_logparse.c - libFuzzer target for src/logparse: one input = one
 * untrusted `lms log stream --json` line. Whatever the bytes, parsing must
 * either refuse the line or give an event whose summaries are bounded,
 * NUL-terminated, printable single lines, whose payload strings are
 * bounded, and whose redacted payload holds no input/output. The first
 * input byte picks the stream's source. ASan/UBSan catch memory errors.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "logparse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_line(const char *s)
{
	size_t n = strnlen(s, DP_LOGPARSE_SUMMARY_MAX + 1);
	if (n > DP_LOGPARSE_SUMMARY_MAX)
		abort();
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			abort();
}

static void check_strings(const json_t *v)
{
	if (json_is_string(v) && json_string_length(v) > DP_LOGPARSE_MAX_STR)
		abort();
	if (json_is_object(v)) {
		const char *k;
		const json_t *x;
		json_object_foreach((json_t *)v, k, x) check_strings(x);
	} else if (json_is_array(v)) {
		for (size_t i = 0; i < json_array_size(v); i++)
			check_strings(json_array_get(v, i));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	enum dp_logparse_source src = (enum dp_logparse_source)(data[0] % DP_LOGPARSE__NSRC);
	struct dp_logparse_event ev;
	char err[256];
	int rc = dp_logparse_line((const char *)data + 1, size - 1, src, &ev, err, sizeof(err));
	if (rc < 0) {
		if (!err[0] || ev.payload)
			abort();
		return 0;
	}
	if (!json_is_object(ev.payload) || (unsigned)ev.source >= DP_LOGPARSE__NSRC ||
	    (unsigned)ev.level > DP_LOGPARSE_ERROR)
		abort();
	check_line(ev.summary);
	check_line(ev.summary_hidden);
	check_strings(ev.payload);
	json_t *r = dp_logparse_redact(ev.payload);
	if (json_object_get(r, "input") || json_object_get(r, "output"))
		abort();
	json_decref(r);
	if (ev.has_stats) {
		json_t *sj = dp_logparse_stats_json(&ev.stats);
		if (!sj)
			abort();
		json_decref(sj);
	}
	dp_logparse_event_release(&ev);
	return 0;
}
