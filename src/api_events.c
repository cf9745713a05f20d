/*
 * api_events.c - GET /api/events: one SSE stream per browser tab with the
 * health, model and target changes of every target (events.h). The stream
 * starts with a snapshot of every target's health, replays what a
 * reconnecting client missed (Last-Event-ID) and then follows the hub.
 * Shapes: docs/api-targets.md.
 */
#include "api.h"
#include "events.h"
#include "health.h"
#include "server.h"
#include "sse.h"

static void events(struct dp_ctx *c)
{
	struct dp_server *srv = c->srv;
	if (!srv->events || !srv->health) {
		dp_reply_error(c, 503, "unavailable", "the event stream is not running");
		return;
	}
	const char *last = dp_sse_last_event_id(c);
	struct dp_sse *s = dp_sse_start(c, 0);
	if (!s)
		return;
	json_t *snap = dp_health_snapshot(srv->health);
	dp_events_subscribe(srv->events, s, last, snap);
	json_decref(snap);
}

const struct dp_route dp_api_events_routes[] = {
        {.method = "GET", .path = "/api/events", .fn = events, .role = DP_ROLE_VIEWER},
        {0},
};
