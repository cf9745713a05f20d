/*
 * api_health.c - GET /healthz (liveness, public) and GET /metrics
 * (Prometheus text format).
 *
 * /metrics needs the viewer role by default: route labels and counters say
 * which features are in use and how busy the server is, which is not for
 * anonymous clients. A scraper either uses a personal API token of a viewer
 * account (`Authorization: Bearer dp_...`) or the operator starts the
 * server with --metrics-public (DP_METRICS_PUBLIC=true) to serve it openly
 * (route flag DP_ROUTE_OPT_PUBLIC).
 */
#include <stdio.h>

#include "api.h"
#include "buf.h"
#include "http.h"
#include "metrics.h"
#include "route.h"
#include "server.h"
#include "version.h"

#define METRICS_MAX (4u << 20)

/* Answered without jansson: this is the cheapest route and load balancers
 * poll it often. */
static void healthz(struct dp_ctx *c)
{
	char body[160];
	int n = snprintf(body, sizeof(body), "{\"status\":\"ok\",\"version\":\"%s\",\"uptime_s\":%.0f}", dp_version,
	                 dp_server_uptime(c->srv));
	struct dp_http_req *req = c->req;
	c->replied = 1;
	dp_http_add_header(req, "Cache-Control", "no-store");
	dp_http_reply(req, 200, "application/json", body, (size_t)n);
}

static void metrics(struct dp_ctx *c)
{
	struct dp_buf b;
	dp_buf_init(&b, METRICS_MAX);
	if (dp_metrics_render(c->srv->metrics, c->srv, &b) < 0) {
		dp_buf_release(&b);
		dp_reply_error(c, 500, "internal", "metrics too large");
		return;
	}
	struct dp_http_req *req = c->req;
	c->replied = 1;
	dp_http_add_header(req, "Cache-Control", "no-store");
	dp_http_reply(req, 200, "text/plain; version=0.0.4; charset=utf-8", b.data, b.len);
	dp_buf_release(&b);
}

const struct dp_route dp_api_health_routes[] = {
        {.method = "GET", .path = "/healthz", .fn = healthz, .role = DP_ROLE_PUBLIC},
        {.method = "GET", .path = "/metrics", .fn = metrics, .role = DP_ROLE_VIEWER, .flags = DP_ROUTE_OPT_PUBLIC},
        {0},
};
