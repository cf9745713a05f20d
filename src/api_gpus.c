/*
 * api_gpus.c - live GPU telemetry and alerts over HTTP (docs/api-telemetry.md):
 *
 *   GET /api/targets/{id}/telemetry                 latest sample per GPU
 *   GET /api/targets/{id}/telemetry/history?seconds=N   column history
 *   GET /api/telemetry                              latest of every target (one
 *                                                   request for the Fleet page)
 *   GET /api/alerts                                 firing alerts
 *
 * All viewer+. Answers come from the telemetry hub's memory (telemetry.h):
 * no upstream request, no driver call on the loop. GET
 * /api/targets/{id}/gpus (capacities from lms) is the targets API's.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "health.h"
#include "server.h"
#include "targets.h"
#include "telemetry.h"

#define HISTORY_DEFAULT_S 300

/* The target id of the path, replying 404 when no such target. */
static int64_t known_target(struct dp_ctx *c)
{
	int64_t id = dp_ctx_param_id(c, "id");
	if (id <= 0 || !c->srv->health || !dp_health_target(c->srv->health, id)) {
		dp_reply_error(c, 404, "not_found", "no such target");
		return -1;
	}
	return id;
}

static void telemetry(struct dp_ctx *c)
{
	int64_t id = known_target(c);
	if (id < 0)
		return;
	struct dp_telemetry *t = c->srv->telemetry;
	if (!t) {
		dp_reply_error(c, 503, "unavailable", "telemetry is not running");
		return;
	}
	json_t *o = dp_telemetry_target_json(t, id);
	if (!o) {
		dp_telemetry_sync(t); /* created since the last tick */
		o = dp_telemetry_target_json(t, id);
	}
	dp_reply_json(c, 200, o ? o : dp_telemetry_pending_json(t, id));
}

static void history(struct dp_ctx *c)
{
	int64_t id = known_target(c);
	if (id < 0)
		return;
	int seconds = HISTORY_DEFAULT_S;
	const char *q = dp_ctx_query(c, "seconds");
	if (q) {
		char *end;
		errno = 0;
		long v = strtol(q, &end, 10);
		if (errno || !*q || *end || v < 1 || v > DP_TELEMETRY_HISTORY_S) {
			dp_reply_error(c, 400, "bad_request", "seconds must be an integer 1..%d",
			               DP_TELEMETRY_HISTORY_S);
			return;
		}
		seconds = (int)v;
	}
	struct dp_telemetry *t = c->srv->telemetry;
	if (!t) {
		dp_reply_error(c, 503, "unavailable", "telemetry is not running");
		return;
	}
	json_t *o = dp_telemetry_history_json(t, id, seconds);
	if (!o)
		o = json_pack("{s:I,s:s,s:b,s:i,s:i,s:[],s:[]}", "target_id", (json_int_t)id, "source", "pending",
		              "simulated", 0, "interval_ms", dp_telemetry_interval_ms(t), "seconds", seconds, "t",
		              "gpus");
	dp_reply_json(c, 200, o);
}

static void all(struct dp_ctx *c)
{
	struct dp_telemetry *t = c->srv->telemetry;
	if (t)
		dp_telemetry_sync(t); /* include targets created since the last tick */
	json_t *arr = t ? dp_telemetry_all_json(t) : json_array();
	dp_reply_json(c, 200, json_pack("{s:o}", "targets", arr));
}

static void alerts(struct dp_ctx *c)
{
	struct dp_telemetry *t = c->srv->telemetry;
	json_t *a = t ? dp_telemetry_alerts_json(t) : json_array();
	dp_reply_json(c, 200, json_pack("{s:o}", "alerts", a));
}

const struct dp_route dp_api_gpus_routes[] = {
        {.method = "GET", .path = "/api/targets/{id}/telemetry", .fn = telemetry, .role = DP_ROLE_VIEWER},
        {.method = "GET", .path = "/api/targets/{id}/telemetry/history", .fn = history, .role = DP_ROLE_VIEWER},
        {.method = "GET", .path = "/api/telemetry", .fn = all, .role = DP_ROLE_VIEWER},
        {.method = "GET", .path = "/api/alerts", .fn = alerts, .role = DP_ROLE_VIEWER},
        {0},
};
