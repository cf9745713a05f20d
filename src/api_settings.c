/*
 * api_settings.c - GET/PUT /api/settings: the server-side mode (dev/live)
 * and named load presets (the load fields of POST
 * /api/targets/{id}/models/load). Stored in the settings table under
 * "mode", "load_presets" (JSON text) and "settings.updated_at".
 * Shapes: docs/api-targets.md.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "audit.h"
#include "auth.h"
#include "events.h"
#include "health.h"
#include "server.h"
#include "store.h"

#define PRESETS_MAX     64
#define PRESET_NAME_MAX 64

static const char *const K_MODE = "mode";
static const char *const K_PRESETS = "load_presets";
static const char *const K_UPDATED = "settings.updated_at";

struct ifield {
	const char *name;
	long long min, max;
};
static const struct ifield ints[] = {
        {"context_length", 1, 10000000},
        {"eval_batch_size", 1, 65536},
        {"num_experts", 1, 1024},
        {"parallel", 1, 256},
        {"ttl", 1, 31536000},
};
static const char *const bools[] = {"flash_attention", "offload_kv_cache_to_gpu"};

static json_t *settings_json(struct dp_store *st)
{
	char *mode = NULL, *presets = NULL, *upd = NULL;
	dp_store_setting_get(st, K_MODE, &mode);
	dp_store_setting_get(st, K_PRESETS, &presets);
	dp_store_setting_get(st, K_UPDATED, &upd);
	json_t *p = presets ? json_loads(presets, 0, NULL) : NULL;
	if (!json_is_array(p)) {
		json_decref(p);
		p = json_array();
	}
	int64_t t = 0;
	if (upd) {
		char *end;
		long long v = strtoll(upd, &end, 10);
		if (*end == '\0')
			t = v;
	}
	json_t *j = json_pack("{s:s, s:o, s:o}", "mode", mode && strcmp(mode, "live") == 0 ? "live" : "dev",
	                      "load_presets", p, "updated_at", dp_auth_time_json(t));
	free(mode);
	free(presets);
	free(upd);
	return j;
}

static void get(struct dp_ctx *c)
{
	dp_reply_json(c, 200, settings_json(c->srv->store));
}

/* Validate one preset into a normalised object (every field present, null
 * when absent). NULL with a message in msg. */
static json_t *check_preset(json_t *p, size_t idx, char *msg, size_t msglen)
{
	if (!json_is_object(p)) {
		snprintf(msg, msglen, "preset %zu must be an object", idx + 1);
		return NULL;
	}
	const char *name = json_string_value(json_object_get(p, "name"));
	size_t nl = name ? strlen(name) : 0;
	if (nl == 0 || nl > PRESET_NAME_MAX) {
		snprintf(msg, msglen, "preset %zu: name must be 1 to 64 characters", idx + 1);
		return NULL;
	}
	for (size_t i = 0; i < nl; i++)
		if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f) {
			snprintf(msg, msglen, "preset %zu: name must not contain control characters", idx + 1);
			return NULL;
		}
	const char *key;
	json_t *v;
	json_object_foreach(p, key, v)
	{
		int known = !strcmp(key, "name") || !strcmp(key, "model") || !strcmp(key, "gpu") ||
		            !strcmp(key, "identifier");
		for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++)
			known |= !strcmp(key, ints[i].name);
		for (size_t i = 0; i < sizeof(bools) / sizeof(bools[0]); i++)
			known |= !strcmp(key, bools[i]);
		if (!known) {
			snprintf(msg, msglen, "preset '%s': unknown field '%.40s'", name, key);
			return NULL;
		}
	}
	json_t *out = json_pack("{s:s}", "name", name);
	v = json_object_get(p, "model");
	if (v && !json_is_null(v) && (!json_is_string(v) || !json_string_length(v) || json_string_length(v) > 512)) {
		snprintf(msg, msglen, "preset '%s': model must be a model key", name);
		goto bad;
	}
	json_object_set(out, "model", v ? v : json_null());
	for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
		v = json_object_get(p, ints[i].name);
		if (v && !json_is_null(v) &&
		    (!json_is_integer(v) || json_integer_value(v) < ints[i].min ||
		     json_integer_value(v) > ints[i].max)) {
			snprintf(msg, msglen, "preset '%s': %s must be an integer %lld..%lld", name, ints[i].name,
			         ints[i].min, ints[i].max);
			goto bad;
		}
		json_object_set(out, ints[i].name, v ? v : json_null());
	}
	for (size_t i = 0; i < sizeof(bools) / sizeof(bools[0]); i++) {
		v = json_object_get(p, bools[i]);
		if (v && !json_is_null(v) && !json_is_boolean(v)) {
			snprintf(msg, msglen, "preset '%s': %s must be true or false", name, bools[i]);
			goto bad;
		}
		json_object_set(out, bools[i], v ? v : json_null());
	}
	v = json_object_get(p, "gpu");
	if (v && !json_is_null(v)) {
		int ok = (json_is_string(v) &&
		          (!strcmp(json_string_value(v), "off") || !strcmp(json_string_value(v), "max"))) ||
		         (json_is_number(v) && json_number_value(v) >= 0 && json_number_value(v) <= 1 &&
		          isfinite(json_number_value(v)));
		if (!ok) {
			snprintf(msg, msglen, "preset '%s': gpu must be \"off\", \"max\" or a number 0..1", name);
			goto bad;
		}
	}
	json_object_set(out, "gpu", v ? v : json_null());
	v = json_object_get(p, "identifier");
	if (v && !json_is_null(v) && (!json_is_string(v) || !json_string_length(v) || json_string_length(v) > 128)) {
		snprintf(msg, msglen, "preset '%s': identifier must be 1 to 128 characters", name);
		goto bad;
	}
	json_object_set(out, "identifier", v ? v : json_null());
	return out;
bad:
	json_decref(out);
	return NULL;
}

static void put(struct dp_ctx *c)
{
	struct dp_store *st = c->srv->store;
	json_t *b = c->body;
	if (!json_is_object(b)) {
		dp_reply_error(c, 400, "bad_request", "expected a JSON object with mode and/or load_presets");
		return;
	}
	json_t *mode = json_object_get(b, "mode");
	json_t *presets = json_object_get(b, "load_presets");
	if (mode && (!json_is_string(mode) ||
	             (strcmp(json_string_value(mode), "dev") && strcmp(json_string_value(mode), "live")))) {
		dp_reply_error(c, 400, "invalid_mode", "mode must be \"dev\" or \"live\"");
		return;
	}
	json_t *norm = NULL;
	if (presets) {
		if (!json_is_array(presets) || json_array_size(presets) > PRESETS_MAX) {
			dp_reply_error(c, 400, "invalid_preset", "load_presets must be an array of at most %d presets",
			               PRESETS_MAX);
			return;
		}
		norm = json_array();
		size_t i;
		json_t *p;
		char msg[200];
		json_array_foreach(presets, i, p)
		{
			json_t *q = check_preset(p, i, msg, sizeof(msg));
			if (!q) {
				json_decref(norm);
				dp_reply_error(c, 400, "invalid_preset", "%s", msg);
				return;
			}
			for (size_t k = 0; k < i; k++)
				if (!strcmp(json_string_value(json_object_get(json_array_get(norm, k), "name")),
				            json_string_value(json_object_get(q, "name")))) {
					dp_reply_error(c, 400, "invalid_preset", "two presets are named '%s'",
					               json_string_value(json_object_get(q, "name")));
					json_decref(q);
					json_decref(norm);
					return;
				}
			json_array_append_new(norm, q);
		}
	}
	int64_t now = dp_auth_now(c->srv->auth);
	int rc = 0;
	if (mode)
		rc = dp_store_setting_set(st, K_MODE, json_string_value(mode), now);
	if (rc == 0 && norm) {
		char *txt = json_dumps(norm, JSON_COMPACT);
		rc = dp_store_setting_set(st, K_PRESETS, txt ? txt : "[]", now);
		free(txt);
	}
	if (rc == 0 && (mode || norm)) {
		char ts[24];
		snprintf(ts, sizeof(ts), "%lld", (long long)now);
		rc = dp_store_setting_set(st, K_UPDATED, ts, now);
	}
	json_t *d = json_object();
	if (mode)
		json_object_set(d, "mode", mode);
	if (norm)
		json_object_set_new(d, "load_presets", json_integer((json_int_t)json_array_size(norm)));
	dp_audit_ctx(c, "settings.update", "settings", rc == 0 ? DP_AUDIT_OK : DP_AUDIT_FAILED, d);
	json_decref(d);
	json_decref(norm);
	if (rc < 0) {
		dp_reply_error(c, 500, "internal", "could not save the settings");
		return;
	}
	json_t *out = settings_json(st);
	if (c->srv->events) /* every tab follows the mode (Live locks the load form) */
		dp_events_publish(c->srv->events, "settings", out);
	dp_reply_json(c, 200, out);
}

const struct dp_route dp_api_settings_routes[] = {
        {.method = "GET", .path = "/api/settings", .fn = get, .role = DP_ROLE_VIEWER},
        {.method = "PUT", .path = "/api/settings", .fn = put, .role = DP_ROLE_ADMIN},
        {0},
};
