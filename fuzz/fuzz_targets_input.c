/*
 * fuzz_targets_input.c - libFuzzer target for what the targets module reads
 * from outside: a daemon's GET /api/v1/models body (untrusted: the health
 * hub fingerprints it on every poll) and the fields a browser sends for a
 * target (label, url, api_key, lms_host, tags), plus the token mask and the
 * lms endpoint derived from an accepted URL.
 *
 * Input: first byte 'f' -> the rest is a models body; anything else -> the
 * rest is a JSON object with target fields.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "health.h"
#include "targets.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 1 << 20)
		return 0;
	json_t *j = json_loadb((const char *)data + 1, size - 1, JSON_DECODE_ANY, NULL);
	if (!j)
		return 0;
	if (data[0] == 'f') {
		char fp[33];
		json_t *loaded = NULL;
		size_t nm, ni;
		uint64_t w;
		if (dp_health_fingerprint(j, fp, &loaded, &nm, &w, &ni) == 0) {
			if (strlen(fp) != 32 || !json_is_array(loaded) || json_array_size(loaded) != ni)
				abort();
			char *s = json_dumps(loaded, JSON_COMPACT);
			if (!s)
				abort();
			free(s);
		}
		json_decref(loaded);
		json_decref(j);
		return 0;
	}
	const char *why;
	struct dp_target t;
	dp_target_init(&t);
	const char *label = json_string_value(json_object_get(j, "label"));
	const char *url = json_string_value(json_object_get(j, "url"));
	const char *key = json_string_value(json_object_get(j, "api_key"));
	const char *host = json_string_value(json_object_get(j, "lms_host"));
	if (label && dp_target_check_label(label, &why) == 0 && strlen(label) >= sizeof(t.label))
		abort();
	if (url && dp_target_check_url(url, &why) == 0) {
		if (strlen(url) >= sizeof(t.url))
			abort();
		memcpy(t.url, url, strlen(url) + 1);
		char h[DP_TARGET_HOST_MAX + 1];
		int port, derived;
		if (dp_target_lms_endpoint(&t, h, &port, &derived) == 0 &&
		    (port < 1 || port > 65535 || dp_target_check_lms_host(h, &why) != 0))
			abort();
	}
	if (key && dp_target_check_api_key(key, &why) == 0) {
		char hint[DP_TARGET_HINT_MAX];
		dp_target_mask(key, hint, sizeof(hint));
		/* the hint never shows more than a quarter of the token */
		size_t n = strlen(key), shown = strcspn(hint, "\xe2");
		if (shown * 4 > n)
			abort();
	}
	if (host && dp_target_check_lms_host(host, &why) == 0 && (strchr(host, ':') || strchr(host, '/')))
		abort();
	json_t *tags = json_object_get(j, "tags");
	if (tags)
		(void)dp_target_check_tags(tags, &why);
	dp_target_release(&t);
	json_decref(j);
	return 0;
}
