/*
 * server.c - struct dp_server: build, listen, run, drain, free (server.h).
 *
 * Graceful shutdown, driven by SIGINT/SIGTERM as libevent signal events
 * (so the handler runs on the loop, not in signal context): stop accepting,
 * end every SSE stream (they would never finish on their own), then poll
 * every 20 ms until no connection is left or shutdown_grace_ms passed, and
 * leave the loop. A second signal leaves at once. dp_server_release() then
 * frees the HTTP server (aborting whatever is still open), the worker pool
 * (delivering outstanding completions), the store and the rest.
 */
#include "server.h"

#include <errno.h>
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "audit.h"
#include "auth.h"
#include "forge.h"
#include "http.h"
#include "health.h"
#include "lms.h"
#include "log.h"
#include "loghub.h"
#include "api_chat.h"
#include "metrics.h"
#include "route.h"
#include "store.h"
#include "telemetry.h"
#include "upstream.h"
#include "workq.h"
#include "xmalloc.h"
#include "version.h"

#define DRAIN_TICK_MS 20

double dp_server_uptime(const struct dp_server *s)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - s->started.tv_sec) + (double)(now.tv_nsec - s->started.tv_nsec) / 1e9;
}

/* mkdir -p with mode 0700 for the parts we create. */
static int make_dirs(const char *path)
{
	char *p = xstrdup(path);
	int rc = 0;
	for (char *q = p + 1;; q++) {
		if (*q == '/' || *q == '\0') {
			char save = *q;
			*q = '\0';
			if (mkdir(p, 0700) < 0 && errno != EEXIST) {
				rc = -errno;
				break;
			}
			*q = save;
			if (!save)
				break;
		}
	}
	free(p);
	if (rc == 0) {
		struct stat st;
		if (stat(path, &st) < 0)
			return -errno;
		if (!S_ISDIR(st.st_mode))
			return -ENOTDIR;
	}
	return rc;
}

static void drain_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dp_server *s = arg;
	(void)fd;
	(void)what;
	s->drain_ticks++;
	size_t open = dp_http_server_connections(s->http);
	if (open == 0 || (long)s->drain_ticks * DRAIN_TICK_MS >= s->cfg->shutdown_grace_ms) {
		if (open)
			dp_warn("shutdown: %zu connection(s) still open after %d ms, closing them", open,
			        s->cfg->shutdown_grace_ms);
		event_base_loopexit(s->base, NULL);
	}
}

void dp_server_shutdown(struct dp_server *s)
{
	if (s->stopping) {
		event_base_loopexit(s->base, NULL);
		return;
	}
	s->stopping = 1;
	dp_info("shutting down");
	dp_http_server_stop_listening(s->http);
	dp_sse_registry_close_all(&s->sse);
	s->drain_timer = event_new(s->base, -1, EV_PERSIST, drain_cb, s);
	struct timeval tv = {0, DRAIN_TICK_MS * 1000};
	event_add(s->drain_timer, &tv);
	drain_cb(-1, 0, s); /* nothing open: leave right away */
}

static void signal_cb(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	dp_info("received %s", sig == SIGINT ? "SIGINT" : "SIGTERM");
	dp_server_shutdown(arg);
}

static int fail(char **err, int rc, char *msg)
{
	if (err)
		*err = msg;
	else
		free(msg);
	return rc;
}

/*
 * Audit retention: entries older than cfg->audit_retention_days go, checked
 * hourly (first 10 s after start). A backlog is removed in batches with a
 * short pause between them, so the loop is never held for long; each pass
 * that removed something leaves one `audit.prune` entry.
 */
#define AUDIT_PRUNE_BATCH 2000

/* Housekeeping, hourly (first 10 s after start), in short steps 20 ms
 * apart so the loop is never held: audit entries past the retention go in
 * batches, then free pages of the database file are given back (files
 * created with incremental auto-vacuum; older ones need `daemonpulse db
 * vacuum` once). */
#define RECLAIM_PAGES 256

static void housekeeping_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dp_server *s = arg;
	(void)fd;
	(void)what;
	struct timeval tv = {3600, 0}, step = {0, 20000};
	int days = s->cfg->audit_retention_days;
	if (days > 0) {
		int64_t before = (int64_t)time(NULL) - (int64_t)days * 86400;
		int n = dp_store_audit_prune(s->store, before, AUDIT_PRUNE_BATCH);
		if (n > 0)
			s->audit_pruned += n;
		if (n == AUDIT_PRUNE_BATCH) {
			evtimer_add(s->audit_timer, &step);
			return;
		}
		if (s->audit_pruned > 0) {
			dp_info("audit: removed %lld entries older than %d days", s->audit_pruned, days);
			json_t *d =
			        json_pack("{s:I,s:i}", "removed", (json_int_t)s->audit_pruned, "older_than_days", days);
			dp_audit_record(s->store, 0, NULL, "audit.prune", NULL, DP_AUDIT_OK, d, NULL);
			json_decref(d);
			s->audit_pruned = 0;
		}
	}
	int r = dp_store_reclaim(s->store, RECLAIM_PAGES);
	if (r > 0)
		s->reclaimed += r;
	if (r == RECLAIM_PAGES) {
		evtimer_add(s->audit_timer, &step);
		return;
	}
	if (s->reclaimed > 0) {
		struct dp_store_space sp;
		if (dp_store_space(s->store, &sp) == 0)
			dp_info("database: gave %lld free pages back (%.1f MiB); the file is %.1f MiB",
			        (long long)s->reclaimed, (double)s->reclaimed * (double)sp.page_size / 1048576.0,
			        (double)sp.pages * (double)sp.page_size / 1048576.0);
		s->reclaimed = 0;
	}
	evtimer_add(s->audit_timer, &tv);
}

int dp_server_init(struct dp_server *s, const struct dp_config *cfg, char **err)
{
	memset(s, 0, sizeof(*s));
	s->cfg = cfg;
	clock_gettime(CLOCK_MONOTONIC, &s->started);
	s->started_wall = time(NULL);
	dp_sse_registry_init(&s->sse);
	dp_log_set_level((enum dp_log_level)cfg->log_level);

	s->base = event_base_new();
	if (!s->base)
		return fail(err, -ENOMEM, xstrdup("cannot create the event loop"));
	char *msg = NULL;
	s->routes = dp_route_table_new(dp_route_slices, cfg->metrics_public, &msg);
	if (!s->routes)
		return fail(err, -EINVAL, msg);
	s->metrics = dp_metrics_new(s->routes);
	dp_metrics_add_extra(s->metrics, dp_api_chat_metrics, s);

	int rc = make_dirs(cfg->data_dir);
	if (rc < 0)
		return fail(err, rc, xasprintf("cannot create data directory '%s': %s", cfg->data_dir, strerror(-rc)));
	s->store = dp_store_open(cfg->db_path, &msg);
	if (!s->store) {
		char *m = xasprintf("cannot open database '%s': %s", cfg->db_path, msg ? msg : "unknown error");
		free(msg);
		return fail(err, -EIO, m);
	}
	s->workq = dp_workq_new(s->base, DP_WORKQ_DEFAULT_THREADS, DP_WORKQ_DEFAULT_QUEUE);
	if (!s->workq)
		return fail(err, -errno, xasprintf("cannot start worker threads: %s", strerror(errno)));

	struct dp_auth_config ac;
	dp_auth_config_defaults(&ac);
	ac.cookie_secure = cfg->secure_cookies;
	ac.trust_proxy = cfg->trust_proxy;
	s->auth = dp_auth_new(s->store, s->workq, &ac);
	if (!s->auth)
		return fail(err, -EIO, xstrdup("cannot start the authentication service (libsodium)"));

	s->upstream = dp_upstream_new(s->base);
	if (!s->upstream)
		return fail(err, -ENOMEM, xstrdup("cannot start the LM Studio client (libcurl)"));
	struct dp_lms_config lc;
	dp_lms_config_defaults(&lc);
	lc.bin = cfg->lms_bin;
	s->lms = dp_lms_new(s->base, &lc);
	msg = NULL;
	rc = dp_health_attach(s, &msg);
	if (rc < 0)
		return fail(err, rc, msg ? msg : xstrdup("cannot start the target health hub"));
	msg = NULL;
	rc = dp_forge_attach(s, &msg);
	if (rc < 0)
		return fail(err, rc, msg ? msg : xstrdup("cannot start the forge"));
	msg = NULL;
	rc = dp_telemetry_attach(s, &msg);
	if (rc < 0)
		return fail(err, rc, msg ? msg : xstrdup("cannot start GPU telemetry"));
	msg = NULL;
	rc = dp_loghub_attach(s, &msg);
	if (rc < 0)
		return fail(err, rc, msg ? msg : xstrdup("cannot start the log hub"));

	struct dp_http_config hc;
	dp_http_config_defaults(&hc);
	hc.max_body_bytes = cfg->max_body_bytes;
	hc.read_timeout_ms = cfg->request_timeout_ms;
	hc.idle_timeout_ms = cfg->idle_timeout_ms;
	hc.server_name = NULL; /* no version fingerprint */
	/* every SSE tab holds a connection, and a chat relay a second one
	 * upstream: take the hard descriptor limit (the soft one is often
	 * 1024), then allow as many clients as leave room for the store, logs,
	 * upstream sockets and children. lib/http pauses accepting, rather
	 * than spinning, if descriptors still run out. */
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		if (rl.rlim_cur < rl.rlim_max) {
			rlim_t want = rl.rlim_max > 1048576 ? 1048576 : rl.rlim_max;
			if (want > rl.rlim_cur) {
				struct rlimit up = {want, rl.rlim_max};
				if (setrlimit(RLIMIT_NOFILE, &up) == 0)
					rl.rlim_cur = want;
			}
		}
		if (rl.rlim_cur != RLIM_INFINITY) {
			rlim_t room = rl.rlim_cur > 512 ? rl.rlim_cur - 256 : rl.rlim_cur / 2;
			hc.max_connections = (int)(room > 1000000 ? 1000000 : room);
		}
		dp_debug("descriptor limit %llu: at most %d connections", (unsigned long long)rl.rlim_cur,
		         hc.max_connections);
	}
	hc.handler = dp_route_dispatch;
	hc.handler_arg = s;
	hc.on_done = dp_route_done;
	hc.done_arg = s;
	s->http = dp_http_server_new(s->base, &hc);
	if (!s->http)
		return fail(err, -ENOMEM, xstrdup("cannot create the HTTP server"));

	s->sig_int = evsignal_new(s->base, SIGINT, signal_cb, s);
	s->sig_term = evsignal_new(s->base, SIGTERM, signal_cb, s);
	if (!s->sig_int || !s->sig_term || evsignal_add(s->sig_int, NULL) < 0 || evsignal_add(s->sig_term, NULL) < 0)
		return fail(err, -EIO, xstrdup("cannot install signal handlers"));
	if (s->store) {
		s->audit_timer = evtimer_new(s->base, housekeeping_cb, s);
		struct timeval first = {10, 0};
		if (!s->audit_timer || evtimer_add(s->audit_timer, &first) < 0)
			return fail(err, -EIO, xstrdup("cannot start the housekeeping timer"));
		struct dp_store_space sp;
		if (dp_store_space(s->store, &sp) == 0 && sp.auto_vacuum != 2 && sp.free_pages > 1024 &&
		    sp.free_pages * 4 > sp.pages)
			dp_info("database: %.1f of %.1f MiB are free pages; `daemonpulse db vacuum` (while stopped) "
			        "gives "
			        "them back and lets the server do it from then on",
			        (double)sp.free_pages * (double)sp.page_size / 1048576.0,
			        (double)sp.pages * (double)sp.page_size / 1048576.0);
	}
	return 0;
}

int dp_server_listen(struct dp_server *s, char **err)
{
	int port = 0;
	int rc = dp_http_server_listen(s->http, s->cfg->bind, s->cfg->port, &port);
	if (rc < 0)
		return fail(err, rc,
		            xasprintf("cannot listen on %s port %d: %s", s->cfg->bind, s->cfg->port, strerror(-rc)));
	s->port = port;
	int v6 = strchr(s->cfg->bind, ':') != NULL;
	/* always printed, whatever the log level: scripts and tests wait for it */
	fprintf(stderr, "daemonpulse %s listening on http://%s%s%s:%d\n", dp_version, v6 ? "[" : "", s->cfg->bind,
	        v6 ? "]" : "", port);
	fflush(stderr);
	return 0;
}

int dp_server_run(struct dp_server *s)
{
	int rc = event_base_dispatch(s->base);
	return rc < 0 ? -EIO : 0;
}

void dp_server_release(struct dp_server *s)
{
	if (s->sig_int)
		event_free(s->sig_int);
	if (s->sig_term)
		event_free(s->sig_term);
	if (s->drain_timer)
		event_free(s->drain_timer);
	if (s->audit_timer)
		event_free(s->audit_timer);
	if (s->http) {
		dp_sse_registry_close_all(&s->sse);
		dp_http_server_free(s->http);
	}
	s->http = NULL;
	dp_loghub_detach(s); /* viewers are gone; cancels its lms log streams */
	/* in-flight upstream requests and lms calls complete as cancelled,
	 * then the hub that their callbacks point into goes */
	dp_upstream_free(s->upstream);
	dp_lms_free(s->lms);
	dp_telemetry_detach(s); /* joins the sampler thread; before the events go */
	dp_forge_detach(s);     /* its jobs' timers and polls are done by now */
	dp_health_detach(s);
	/* completions of password jobs still use auth and the store */
	dp_workq_free(s->workq);
	if (s->auth)
		dp_auth_free(s->auth);
	if (s->store)
		dp_store_free(s->store);
	dp_metrics_free(s->metrics);
	dp_route_table_free(s->routes);
	if (s->base)
		event_base_free(s->base);
	memset(s, 0, sizeof(*s));
}
