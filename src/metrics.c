/*
 * metrics.c - fixed-size request counters and histograms (see metrics.h).
 *
 * Statuses are mapped onto a short list of known codes plus "other" so that
 * a client cannot create new label values; routes come from the table.
 */
#include "metrics.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "http.h"
#include "route.h"
#include "server.h"
#include "xmalloc.h"
#include "version.h"

static const int statuses[] = {200, 201, 202, 204, 206, 301, 302, 304, 400, 401, 403, 404, 405, 408,
                               409, 411, 413, 415, 422, 429, 431, 500, 501, 502, 503, 504, 505, 0};
#define NSTATUS (sizeof(statuses) / sizeof(statuses[0])) /* last slot: other */

/* upper bounds in microseconds */
static const uint64_t bounds_us[] = {100,   250,    500,    1000,   2500,    5000,    10000,   25000,
                                     50000, 100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000};
#define NBUCKET (sizeof(bounds_us) / sizeof(bounds_us[0]))

struct slot {
	uint64_t by_status[NSTATUS];
	uint64_t bucket[NBUCKET]; /* non-cumulative; +Inf = count */
	uint64_t count;
	uint64_t sum_us;
};

struct dp_metrics {
	const struct dp_route_table *t;
	size_t n; /* table routes + 1 (unmatched) */
	struct slot *slots;
	struct {
		dp_metrics_extra_fn fn;
		void *arg;
	} extra[DP_METRICS_MAX_EXTRA];
};

struct dp_metrics *dp_metrics_new(const struct dp_route_table *t)
{
	struct dp_metrics *m = xcalloc(1, sizeof(*m));
	m->t = t;
	m->n = (t ? dp_route_table_count(t) : 0) + 1;
	m->slots = xcalloc(m->n, sizeof(*m->slots));
	return m;
}

void dp_metrics_free(struct dp_metrics *m)
{
	if (!m)
		return;
	free(m->slots);
	free(m);
}

int dp_metrics_add_extra(struct dp_metrics *m, dp_metrics_extra_fn fn, void *arg)
{
	for (size_t i = 0; i < DP_METRICS_MAX_EXTRA; i++)
		if (!m->extra[i].fn) {
			m->extra[i].fn = fn;
			m->extra[i].arg = arg;
			return 0;
		}
	return -ENOSPC;
}

void dp_metrics_remove_extra(struct dp_metrics *m, void *arg)
{
	for (size_t i = 0; m && i < DP_METRICS_MAX_EXTRA; i++)
		if (m->extra[i].fn && m->extra[i].arg == arg)
			m->extra[i].fn = NULL;
}

static size_t status_slot(int status)
{
	for (size_t i = 0; i + 1 < NSTATUS; i++)
		if (statuses[i] == status)
			return i;
	return NSTATUS - 1;
}

void dp_metrics_observe(struct dp_metrics *m, int route_idx, int status, uint64_t dur_us)
{
	size_t i = route_idx < 0 || (size_t)route_idx >= m->n - 1 ? m->n - 1 : (size_t)route_idx;
	struct slot *s = &m->slots[i];
	s->by_status[status_slot(status)]++;
	s->count++;
	s->sum_us += dur_us;
	for (size_t b = 0; b < NBUCKET; b++)
		if (dur_us <= bounds_us[b]) {
			s->bucket[b]++;
			break;
		}
}

/* Prometheus label values escape backslash, quote and newline. Route
 * patterns and methods come from our own table, but be safe anyway. */
static void add_label(struct dp_buf *out, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			dp_buf_addch(out, '\\');
		if (*v == '\n') {
			dp_buf_adds(out, "\\n");
			continue;
		}
		dp_buf_addch(out, *v);
	}
}

static void route_labels(const struct dp_metrics *m, size_t i, struct dp_buf *out)
{
	const struct dp_route *r = i < m->n - 1 ? dp_route_table_at(m->t, i) : NULL;
	dp_buf_adds(out, "method=\"");
	add_label(out, r ? r->method : "");
	dp_buf_adds(out, "\",route=\"");
	add_label(out, r ? r->path : "unmatched");
	dp_buf_addch(out, '"');
}

int dp_metrics_render(const struct dp_metrics *m, const struct dp_server *s, struct dp_buf *out)
{
	dp_buf_adds(out, "# HELP daemonpulse_build_info Build information.\n"
	                 "# TYPE daemonpulse_build_info gauge\n"
	                 "daemonpulse_build_info{version=\"");
	add_label(out, dp_version);
	dp_buf_adds(out, "\"} 1\n");
	dp_buf_addf(out,
	            "# HELP daemonpulse_uptime_seconds Seconds since the server started.\n"
	            "# TYPE daemonpulse_uptime_seconds gauge\n"
	            "daemonpulse_uptime_seconds %.3f\n",
	            s ? dp_server_uptime(s) : 0.0);
	dp_buf_addf(out,
	            "# HELP daemonpulse_http_connections Open HTTP connections.\n"
	            "# TYPE daemonpulse_http_connections gauge\n"
	            "daemonpulse_http_connections %zu\n",
	            s && s->http ? dp_http_server_connections(s->http) : 0);
	dp_buf_addf(out,
	            "# HELP daemonpulse_sse_clients Open Server-Sent Events streams.\n"
	            "# TYPE daemonpulse_sse_clients gauge\n"
	            "daemonpulse_sse_clients %zu\n"
	            "# HELP daemonpulse_sse_started_total SSE streams started.\n"
	            "# TYPE daemonpulse_sse_started_total counter\n"
	            "daemonpulse_sse_started_total %llu\n"
	            "# HELP daemonpulse_sse_dropped_total SSE clients dropped because their queue was full.\n"
	            "# TYPE daemonpulse_sse_dropped_total counter\n"
	            "daemonpulse_sse_dropped_total %llu\n",
	            s ? s->sse.open : 0, (unsigned long long)(s ? s->sse.total : 0),
	            (unsigned long long)(s ? s->sse.dropped : 0));

	dp_buf_adds(out, "# HELP daemonpulse_http_requests_total HTTP requests by route pattern and status.\n"
	                 "# TYPE daemonpulse_http_requests_total counter\n");
	for (size_t i = 0; i < m->n; i++) {
		const struct slot *sl = &m->slots[i];
		if (!sl->count)
			continue;
		for (size_t k = 0; k < NSTATUS; k++) {
			if (!sl->by_status[k])
				continue;
			dp_buf_adds(out, "daemonpulse_http_requests_total{");
			route_labels(m, i, out);
			if (statuses[k])
				dp_buf_addf(out, ",status=\"%d\"} %llu\n", statuses[k],
				            (unsigned long long)sl->by_status[k]);
			else
				dp_buf_addf(out, ",status=\"other\"} %llu\n", (unsigned long long)sl->by_status[k]);
		}
	}
	dp_buf_adds(
	        out,
	        "# HELP daemonpulse_http_request_duration_seconds Time from complete request head to end of response.\n"
	        "# TYPE daemonpulse_http_request_duration_seconds histogram\n");
	for (size_t i = 0; i < m->n; i++) {
		const struct slot *sl = &m->slots[i];
		if (!sl->count)
			continue;
		uint64_t cum = 0;
		for (size_t b = 0; b < NBUCKET; b++) {
			cum += sl->bucket[b];
			dp_buf_adds(out, "daemonpulse_http_request_duration_seconds_bucket{");
			route_labels(m, i, out);
			dp_buf_addf(out, ",le=\"%g\"} %llu\n", (double)bounds_us[b] / 1e6, (unsigned long long)cum);
		}
		dp_buf_adds(out, "daemonpulse_http_request_duration_seconds_bucket{");
		route_labels(m, i, out);
		dp_buf_addf(out, ",le=\"+Inf\"} %llu\n", (unsigned long long)sl->count);
		dp_buf_adds(out, "daemonpulse_http_request_duration_seconds_sum{");
		route_labels(m, i, out);
		dp_buf_addf(out, "} %.6f\n", (double)sl->sum_us / 1e6);
		dp_buf_adds(out, "daemonpulse_http_request_duration_seconds_count{");
		route_labels(m, i, out);
		if (dp_buf_addf(out, "} %llu\n", (unsigned long long)sl->count) < 0)
			return -ENOSPC;
	}
	for (size_t i = 0; i < DP_METRICS_MAX_EXTRA; i++)
		if (m->extra[i].fn && m->extra[i].fn(m->extra[i].arg, out) < 0)
			return -ENOSPC;
	return out->len ? 0 : -ENOSPC;
}
