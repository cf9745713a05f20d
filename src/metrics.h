/*
 * metrics.h - request counters and latency histograms in Prometheus text
 * format (GET /metrics).
 *
 * Series: daemonpulse_http_requests_total{method,route,status} (route is the
 * table pattern, e.g. "/api/users/{id}", never the raw path, so labels stay
 * bounded), daemonpulse_http_request_duration_seconds{method,route}
 * histogram, daemonpulse_http_connections, daemonpulse_sse_clients,
 * daemonpulse_sse_started_total, daemonpulse_sse_dropped_total,
 * daemonpulse_uptime_seconds, daemonpulse_build_info{version}.
 *
 * Memory is fixed at creation (routes x known statuses); observing a
 * request never allocates. Loop thread only.
 */
#ifndef DP_METRICS_H
#define DP_METRICS_H

#include <stddef.h>
#include <stdint.h>

struct dp_metrics;
struct dp_route_table;
struct dp_server;
struct dp_buf;

/* One slot per table route plus one for requests that matched none. */
struct dp_metrics *dp_metrics_new(const struct dp_route_table *t);
void dp_metrics_free(struct dp_metrics *m);
/* Count a finished request; route_idx -1 when it matched no route. */
void dp_metrics_observe(struct dp_metrics *m, int route_idx, int status, uint64_t dur_us);
/* Another module's series (e.g. telemetry.c's GPU gauges), appended to
 * every render: fn returns 0 or -ENOSPC. At most DP_METRICS_MAX_EXTRA;
 * -ENOSPC when full. Remove by `arg` before `arg` goes away. */
typedef int (*dp_metrics_extra_fn)(void *arg, struct dp_buf *out);
#define DP_METRICS_MAX_EXTRA 4
int dp_metrics_add_extra(struct dp_metrics *m, dp_metrics_extra_fn fn, void *arg);
void dp_metrics_remove_extra(struct dp_metrics *m, void *arg);
/* Append the exposition text to `out`. 0 or -ENOSPC. */
int dp_metrics_render(const struct dp_metrics *m, const struct dp_server *s, struct dp_buf *out);

#endif
