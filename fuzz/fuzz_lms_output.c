/*
 * fuzz_lms_output.c - libFuzzer target for everything the lms bridge reads
 * from the `lms` CLI (untrusted: a different lms version, a broken install or
 * a hostile PATH entry can print anything): the --estimate-only text, the
 * size strings in it, ps/ls/runtime survey/status JSON, the stderr message
 * cleaner and the survey enum canonicaliser.
 *
 * Input: the first byte picks the parser ('e' estimate, 'z' size, 'p' ps,
 * 'l' ls, 's' survey, 't' status, 'm' message, 'n' enum; other bytes map by
 * value), the rest is the output to parse.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lms.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_json(json_t *j)
{
	if (!j)
		return;
	/* A normalised value must serialise (valid UTF-8, no NaN). */
	char *s = json_dumps(j, JSON_COMPACT);
	if (!s)
		abort();
	free(s);
	json_decref(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	const char *p = (const char *)data + 1;
	size_t n = size - 1;
	char err[256], msg[300], buf[80];
	struct dp_lms_estimate e;
	uint64_t v;
	static const char sel[] = "ezplstmn";
	char which = (char)data[0];
	if (!strchr(sel, which) || which == '\0')
		which = sel[data[0] % 8];
	switch (which) {
	case 'e':
		if (dp_lms_parse_estimate(p, n, &e) == 0) {
			if (e.fits != 0 && e.fits != 1)
				abort();
			if (memchr(e.model, '\0', sizeof e.model) == NULL)
				abort();
			check_json(dp_lms_estimate_json(&e));
		}
		break;
	case 'z':
		(void)dp_lms_parse_size(p, n, &v);
		break;
	case 'p':
		check_json(dp_lms_parse_ps(p, n, err, sizeof err));
		break;
	case 'l':
		check_json(dp_lms_parse_ls(p, n, err, sizeof err));
		break;
	case 's':
		check_json(dp_lms_parse_survey(p, n, err, sizeof err));
		break;
	case 't':
		check_json(dp_lms_parse_status(DP_LMS_SERVER_STATUS, p, n, err, sizeof err));
		check_json(dp_lms_parse_status(DP_LMS_DAEMON_STATUS, p, n, err, sizeof err));
		check_json(dp_lms_parse_status(DP_LMS_VERSION, p, n, err, sizeof err));
		break;
	case 'm':
		dp_lms_error_message(p, n, msg, sizeof msg);
		if (strlen(msg) >= sizeof msg)
			abort();
		for (const unsigned char *q = (const unsigned char *)msg; *q; q++)
			if (*q < 0x20 || *q == 0x7f)
				abort();
		break;
	case 'n': {
		char val[129];
		size_t m = n < 128 ? n : 128;
		memcpy(val, p, m);
		val[m] = '\0';
		const char *r = dp_lms_survey_enum("compatibility", val, buf, sizeof buf);
		if (!r || strlen(r) >= sizeof buf)
			abort();
		break;
	}
	}
	return 0;
}
