/*
 * alerts.h - GPU and telemetry alerts: VRAM above a threshold, temperature
 * above a threshold, a target's telemetry source down.
 *
 * State: one entry per firing alert, keyed "target:gpu:kind" (or
 * "target:-:source_down"). Hysteresis so a value at the threshold does not
 * flap: VRAM fires at used/total >= vram_ratio and clears below
 * vram_ratio - vram_hyst; temperature fires at >= temp_c and clears below
 * temp_c - temp_hyst; source_down fires after `down_after` failed samples
 * in a row once the source had answered, and clears at the first good one.
 * A value that is not available leaves the state as it is.
 *
 * Every change (fired / resolved) calls the notify callback once, which
 * telemetry.c turns into an `alert` event on /api/events. Counters feed
 * /metrics. Loop thread only; times are passed in (tests use a fake clock).
 */
#ifndef DP_ALERTS_H
#define DP_ALERTS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "gpu.h"

enum dp_alert_kind { DP_ALERT_VRAM = 0, DP_ALERT_TEMPERATURE, DP_ALERT_SOURCE_DOWN, DP_ALERT__N };

struct dp_alerts_config {
	double vram_ratio; /* 0.9 */
	double vram_hyst;  /* 0.05 */
	double temp_c;     /* 85 */
	double temp_hyst;  /* 5 */
	int down_after;    /* 3 */
};

struct dp_alert {
	char key[48];
	int64_t target_id;
	char target[260]; /* label */
	int kind;         /* enum dp_alert_kind */
	int gpu;          /* -1 for source_down */
	char uuid[DP_GPU_UUID_MAX];
	int firing; /* 0 in a "resolved" notification */
	int have_value;
	double value, threshold;
	int64_t since_ms;
	char message[160];
};

struct dp_alerts;
/* fired: 1 fired, 0 resolved. `a` is borrowed for the call. */
typedef void (*dp_alerts_notify_fn)(void *arg, const struct dp_alert *a, int fired);

void dp_alerts_config_defaults(struct dp_alerts_config *c);
struct dp_alerts *dp_alerts_new(const struct dp_alerts_config *c, dp_alerts_notify_fn fn, void *arg);
void dp_alerts_free(struct dp_alerts *a);

/* Evaluate VRAM and temperature of one GPU of a target. */
void dp_alerts_gpu(struct dp_alerts *a, int64_t target_id, const char *label, const struct dp_gpu *g, int64_t now_ms);
/* One sample attempt of a target's source: ok or not. */
void dp_alerts_source(struct dp_alerts *a, int64_t target_id, const char *label, int ok, int64_t now_ms);
/* The target is gone: resolve its alerts and forget its counters. */
void dp_alerts_forget_target(struct dp_alerts *a, int64_t target_id, int64_t now_ms);

/* The target now has `ngpus` GPUs: resolve alerts of GPUs that went away. */
void dp_alerts_retain_gpus(struct dp_alerts *a, int64_t target_id, int ngpus);
/* Firing alerts of a kind (DP_ALERT__N: all). */
size_t dp_alerts_active(const struct dp_alerts *a, int kind);
/* Alerts fired since start, by kind. */
uint64_t dp_alerts_fired_total(const struct dp_alerts *a, int kind);
/* "vram", "temperature", "source_down". */
const char *dp_alert_kind_name(int kind);
/* The alert object of docs/api-telemetry.md (new reference). */
json_t *dp_alert_json(const struct dp_alert *a);
/* Firing alerts as a JSON array; target_id 0 = every target. */
json_t *dp_alerts_json(const struct dp_alerts *a, int64_t target_id);

/* "2026-11-26T10:00:05.123Z" (new reference; null for ms <= 0). */
json_t *dp_alerts_time_json(int64_t ms);

#endif
