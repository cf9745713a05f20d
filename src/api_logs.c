/*
 * api_logs.c - the Console's routes (docs/api-logs.md):
 *   GET /api/targets/{id}/logs  SSE: hello, backlog, live, then live lines,
 *                               status, perf and mode events (loghub.h)
 *   GET /api/targets/{id}/perf  per-model prediction stats
 * Both viewer. Query parameters are validated here (400 before any stream
 * starts); filtering itself happens in the hub, server-side.
 */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "agent_client.h"
#include "api.h"
#include "health.h"
#include "loghub.h"
#include "server.h"
#include "sse.h"
#include "targets.h"

#define Q_MAX       256
#define BACKLOG_MAX 1000
#define PERF_N_MAX  500

/* The target's lms endpoint into ep (host in hostbuf). 0, or -1 after a
 * 404/503 reply. */
static int resolve(struct dp_ctx *c, int64_t *id, struct dp_loghub_endpoint *ep, char *hostbuf)
{
	struct dp_server *srv = c->srv;
	if (!srv->loghub || !srv->health) {
		dp_reply_error(c, 503, "unavailable", "the log hub is not running");
		return -1;
	}
	*id = dp_ctx_param_id(c, "id");
	const struct dp_target *t = *id > 0 ? dp_health_target(srv->health, *id) : NULL;
	if (!t) {
		dp_reply_error(c, 404, "not_found", "no such target");
		return -1;
	}
	memset(ep, 0, sizeof(*ep));
	ep->label = t->label;
	ep->agent = srv->store && dp_agent_client_enrolled(srv->store, *id);
	int port = 0, derived = 0;
	if (dp_target_lms_endpoint(t, hostbuf, &port, &derived) < 0) {
		ep->unusable = "the target has no host lms can connect to (lms --host takes a bare host name or IPv4 "
		               "address; set lms_host)";
	} else {
		ep->host = hostbuf;
		ep->port = port;
	}
	return 0;
}

static int parse_sources(const char *v, unsigned *out)
{
	*out = 0;
	if (!v || !*v) {
		*out = (1u << DP_LOGPARSE__NSRC) - 1;
		return 0;
	}
	const char *p = v;
	for (;;) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		if (len) {
			int s = dp_logparse_source_parse(p, len);
			if (s < 0)
				return -1;
			*out |= 1u << s;
		}
		if (!comma)
			break;
		p = comma + 1;
	}
	if (!*out)
		*out = (1u << DP_LOGPARSE__NSRC) - 1;
	return 0;
}

static int parse_level(const char *v, int *out)
{
	if (!v || !*v || !strcmp(v, "all") || !strcmp(v, "debug"))
		*out = DP_LOGPARSE_DEBUG;
	else if (!strcmp(v, "live"))
		*out = DP_LOGHUB_LEVEL_LIVE;
	else if (!strcmp(v, "info"))
		*out = DP_LOGPARSE_INFO;
	else if (!strcmp(v, "warn") || !strcmp(v, "warning"))
		*out = DP_LOGPARSE_WARN;
	else if (!strcmp(v, "error"))
		*out = DP_LOGPARSE_ERROR;
	else
		return -1;
	return 0;
}

static int parse_int(const char *v, long lo, long hi, long *out)
{
	if (!v || !*v)
		return 0;
	char *end;
	errno = 0;
	long n = strtol(v, &end, 10);
	if (errno || *end || n < lo || n > hi)
		return -1;
	*out = n;
	return 0;
}

static int valid_utf8(const char *s)
{
	json_t *j = json_string(s);
	int ok = j != NULL;
	json_decref(j);
	return ok;
}

static void logs(struct dp_ctx *c)
{
	int64_t id;
	struct dp_loghub_endpoint ep;
	char host[DP_TARGET_HOST_MAX + 1];
	if (resolve(c, &id, &ep, host) < 0)
		return;
	struct dp_loghub_filter f = {0};
	if (parse_sources(dp_ctx_query(c, "source"), &f.sources) < 0) {
		dp_reply_error(c, 400, "invalid_source",
		               "source must be a comma list of server, model, runtime, daemonpulse");
		return;
	}
	if (parse_level(dp_ctx_query(c, "level"), &f.level) < 0) {
		dp_reply_error(c, 400, "invalid_level", "level must be all, live, info, warn or error");
		return;
	}
	const char *q = dp_ctx_query(c, "q");
	if (q && (strlen(q) > Q_MAX || !valid_utf8(q))) {
		dp_reply_error(c, 400, "bad_request", "q must be UTF-8 text of at most %d bytes", Q_MAX);
		return;
	}
	f.q = q && *q ? q : NULL;
	const char *pay = dp_ctx_query(c, "payloads");
	if (!pay || !*pay || !strcmp(pay, "1") || !strcmp(pay, "true"))
		f.payloads = 1;
	else if (!strcmp(pay, "0") || !strcmp(pay, "false"))
		f.payloads = 0;
	else {
		dp_reply_error(c, 400, "bad_request", "payloads must be 0 or 1");
		return;
	}
	long backlog = BACKLOG_MAX;
	if (parse_int(dp_ctx_query(c, "backlog"), 0, BACKLOG_MAX, &backlog) < 0) {
		dp_reply_error(c, 400, "bad_request", "backlog must be an integer from 0 to %d", BACKLOG_MAX);
		return;
	}
	f.backlog = (int)backlog;
	/* EventSource reconnects with the last line id it saw: resume after it */
	const char *last = dp_sse_last_event_id(c);
	if (last && *last && strlen(last) <= 20 && strspn(last, "0123456789") == strlen(last))
		f.after = strtoull(last, NULL, 10);
	struct dp_sse *s = dp_sse_start(c, 0);
	if (!s)
		return;
	dp_loghub_subscribe(c->srv->loghub, id, &ep, &f, s);
}

static void perf(struct dp_ctx *c)
{
	int64_t id;
	struct dp_loghub_endpoint ep;
	char host[DP_TARGET_HOST_MAX + 1];
	if (resolve(c, &id, &ep, host) < 0)
		return;
	long n = 50;
	if (parse_int(dp_ctx_query(c, "n"), 1, PERF_N_MAX, &n) < 0) {
		dp_reply_error(c, 400, "bad_request", "n must be an integer from 1 to %d", PERF_N_MAX);
		return;
	}
	const char *model = dp_ctx_query(c, "model");
	if (model && strlen(model) > 255) {
		dp_reply_error(c, 400, "bad_request", "model is too long");
		return;
	}
	json_t *j = dp_loghub_perf(c->srv->loghub, id, &ep, model && *model ? model : NULL, (int)n);
	if (!j) {
		dp_reply_error(c, 500, "internal", "could not build the perf view");
		return;
	}
	dp_reply_json(c, 200, j);
}

const struct dp_route dp_api_logs_routes[] = {
        {.method = "GET", .path = "/api/targets/{id}/logs", .fn = logs, .role = DP_ROLE_VIEWER},
        {.method = "GET", .path = "/api/targets/{id}/perf", .fn = perf, .role = DP_ROLE_VIEWER},
        {0},
};
