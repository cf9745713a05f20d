/*
 * server.h - struct dp_server: everything one running control plane owns.
 *
 * One dp_server is created by `daemonpulse serve` (main.c) and reached by
 * every handler through ctx->srv; nothing is global. It owns the event base,
 * the HTTP server, the compiled route table, metrics, the SSE registry, the
 * store and the worker pool. All fields are used from the loop thread only
 * (the worker pool's jobs must not touch them).
 *
 * Lifecycle: dp_server_init() -> dp_server_listen() -> dp_server_run()
 * (returns after SIGINT/SIGTERM and a graceful drain) -> dp_server_release().
 * Shutdown: stop listening, end every SSE stream, let in-flight requests
 * finish for up to cfg->shutdown_grace_ms, then free everything.
 */
#ifndef DP_SERVER_H
#define DP_SERVER_H

#include <stdint.h>
#include <time.h>

#include "config.h"
#include "sse.h"

struct event_base;
struct event;
struct dp_http_server;
struct dp_route_table;
struct dp_metrics;
struct dp_store;
struct dp_workq;
struct dp_auth;
struct dp_upstream;
struct dp_lms;
struct dp_secret;
struct dp_events;
struct dp_health;
struct dp_forge;
struct dp_telemetry;
struct dp_loghub;

struct dp_server {
	struct event_base *base;
	struct dp_http_server *http;
	const struct dp_config *cfg; /* owned by the caller (main.c) */
	struct dp_route_table *routes;
	struct dp_metrics *metrics;
	struct dp_store *store;         /* store.h; NULL in unit tests without a db */
	struct dp_workq *workq;         /* lib/workq.h; NULL until created */
	struct dp_auth *auth;           /* auth.h: sessions, tokens, throttling (needs store + workq) */
	struct dp_upstream *upstream;   /* upstream.h: the LM Studio client (libcurl multi on base) */
	struct dp_lms *lms;             /* lms.h: the lms CLI bridge */
	struct dp_secret *secret;       /* secret.h: the key of stored LM Studio tokens */
	struct dp_events *events;       /* events.h: GET /api/events ring + hub */
	struct dp_health *health;       /* health.h: targets' poll hub */
	struct dp_forge *forge;         /* forge.h: download jobs, loads made here */
	struct dp_telemetry *telemetry; /* telemetry.h: GPU telemetry, alerts */
	struct dp_loghub *loghub;       /* loghub.h: the Console's lms log streams and fan-out */
	struct dp_sse_registry sse;     /* every open SSE stream (shutdown closes them) */
	struct event *sig_int, *sig_term, *drain_timer;
	struct event *audit_timer; /* housekeeping: audit retention, free pages */
	long long audit_pruned;    /* entries removed in the current pass */
	long long reclaimed;       /* free pages given back in the current pass */
	struct timespec started;   /* CLOCK_MONOTONIC at init */
	time_t started_wall;
	int port; /* bound port after dp_server_listen() */
	int stopping;
	int drain_ticks;
};

/* Set up base, routes, metrics, store and HTTP server from `cfg`.
 * 0, or -errno with a heap message in *err. */
int dp_server_init(struct dp_server *s, const struct dp_config *cfg, char **err);
/* Bind cfg->bind:cfg->port and print `listening on http://ADDR:PORT`. */
int dp_server_listen(struct dp_server *s, char **err);
/* Run the loop until a signal and a graceful drain. 0 on clean exit. */
int dp_server_run(struct dp_server *s);
/* Begin a graceful shutdown (what SIGTERM does). */
void dp_server_shutdown(struct dp_server *s);
/* Free everything dp_server_init() created. */
void dp_server_release(struct dp_server *s);

/* Seconds since start (monotonic). */
double dp_server_uptime(const struct dp_server *s);

#endif
