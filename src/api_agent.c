/*
 * api_agent.c - enrolment of a target's host agent and the lifecycle
 * actions that need it (docs/agent.md, "Control plane"):
 *
 *   GET    /api/targets/{id}/agent               viewer    enrolled?, URL, token hint
 *   POST   /api/targets/{id}/agent               admin     create/rotate the token; the token
 *                                                          and the command are shown ONCE
 *   PATCH  /api/targets/{id}/agent               admin     {url}: move it, token unchanged
 *   DELETE /api/targets/{id}/agent               admin     forget the agent
 *   POST   /api/targets/{id}/server/start        operator  lms server start via the agent
 *   POST   /api/targets/{id}/server/stop         operator  lms server stop via the agent
 *   POST   /api/targets/{id}/daemon/{up,down}    operator  lms daemon up/down via the agent
 *   GET    /api/targets/{id}/agent/info          viewer    the host (name, OS, CPU, RAM) via the agent
 *
 * Without an agent, server and daemon actions answer 409 needs_agent: `lms
 * server start/stop` and `lms daemon up/down` act only on the machine they
 * run on (reference §6.2). Every mutation is audited (never with the token).
 */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "agent_client.h"
#include "api.h"
#include "audit.h"
#include "auth.h"
#include "events.h"
#include "route.h"
#include "server.h"
#include "targets.h"
#include "telemetry.h"
#include "xmalloc.h"

#define TOKEN_FILE_HINT "~/.config/daemonpulse/agent.token"

static int load_target(struct dp_ctx *c, struct dp_target *t)
{
	int64_t id = dp_ctx_param_id(c, "id");
	dp_target_init(t);
	int rc = id > 0 ? dp_targets_get(c->srv->store, id, t) : -ENOENT;
	if (rc < 0) {
		if (rc == -ENOENT)
			dp_reply_error(c, 404, "not_found", "no such target");
		else
			dp_reply_error(c, 500, "internal", "cannot read the target");
		dp_target_release(t);
	}
	return rc;
}

static void ref_of(char out[40], int64_t id)
{
	snprintf(out, 40, "target:%lld", (long long)id);
}

/* The body's url (or the default from the target URL when allow_default)
 * into url; -1 after replying 400. */
static int body_url(struct dp_ctx *c, const struct dp_target *t, int allow_default, char *url, size_t urllen)
{
	json_t *b = c->body;
	const char *k;
	json_t *v;
	json_object_foreach(b, k, v)
	{
		if (strcmp(k, "url") != 0 && !(allow_default && strcmp(k, "token") == 0)) {
			dp_reply_error(c, 400, "invalid", "unknown field '%.32s' (%s)", k,
			               allow_default ? "url and token only" : "only url");
			return -1;
		}
	}
	json_t *u = json_object_get(b, "url");
	const char *given = json_string_value(u);
	if ((u && !json_is_null(u) && !given) || (!allow_default && (!given || !*given))) {
		dp_reply_error(c, 400, "invalid", "url must be a string");
		return -1;
	}
	if (given && *given) {
		snprintf(url, urllen, "%s", given);
	} else if (dp_agent_client_default_url(t->url, url, urllen) < 0) {
		dp_reply_error(c, 400, "invalid", "give the agent url: the target URL has no usable host");
		return -1;
	}
	size_t ul = strlen(url);
	while (ul && url[ul - 1] == '/')
		url[--ul] = '\0';
	const char *why = NULL;
	if (dp_upstream_check_url(url, &why) < 0) {
		dp_reply_error(c, 400, "invalid", "invalid agent url: %s", why);
		return -1;
	}
	return 0;
}

static void get_agent(struct dp_ctx *c)
{
	struct dp_target t;
	if (load_target(c, &t) < 0)
		return;
	struct dp_agent_link l;
	int rc = dp_agent_client_get(c->srv->store, t.id, &l);
	json_t *j = dp_agent_client_json(rc == 0 ? &l : NULL);
	json_object_set_new(j, "target_id", json_integer((json_int_t)t.id));
	dp_agent_link_release(&l);
	dp_target_release(&t);
	dp_reply_json(c, 200, j);
}

static void enrol(struct dp_ctx *c)
{
	struct dp_target t;
	if (load_target(c, &t) < 0)
		return;
	char url[DP_UPSTREAM_MAX_URL + 1];
	if (body_url(c, &t, 1, url, sizeof(url)) < 0) {
		dp_target_release(&t);
		return;
	}
	/* the token: generated here, or the one the agent printed at its first start */
	json_t *jt = json_object_get(c->body, "token");
	const char *pasted = json_string_value(jt);
	if (jt && !json_is_null(jt) && !dp_agent_token_valid(pasted)) {
		dp_target_release(&t);
		dp_reply_error(c, 400, "invalid", "token must be the agent's token (dpa_ followed by 64 hex digits)");
		return;
	}
	int rotated = dp_agent_client_enrolled(c->srv->store, t.id);
	char tok[DP_AGENT_TOKEN_LEN + 1];
	if (pasted)
		memcpy(tok, pasted, sizeof(tok));
	else
		dp_agent_token_new(tok);
	int rc = dp_agent_client_set(c->srv->store, c->srv->secret, t.id, url, tok, dp_auth_now(c->srv->auth));
	char ref[40];
	ref_of(ref, t.id);
	json_t *d = json_pack("{s:s,s:b,s:s}", "agent_url", url, "rotated", rotated, "token_source",
	                      pasted ? "agent" : "control_plane");
	dp_audit_ctx(c, rotated ? "target.agent.rotate" : "target.agent.enrol", ref,
	             rc == 0 ? DP_AUDIT_OK : DP_AUDIT_FAILED, d);
	json_decref(d);
	if (rc < 0) {
		sodium_memzero(tok, sizeof(tok));
		dp_target_release(&t);
		dp_reply_error(c, 500, "internal", "cannot store the agent");
		return;
	}
	/* the agent's port on its host: the URL's, unless the URL is a local
	 * tunnel end (then the agent keeps its default port over there) */
	int port = DP_AGENT_DEFAULT_PORT;
	const char *hp = strstr(url, "://");
	hp = hp ? hp + 3 : url;
	int tunnel = !strncmp(hp, "127.", 4) || !strncmp(hp, "localhost", 9) || !strncmp(hp, "[::1]", 5);
	const char *colon = strrchr(hp, ':');
	if (!tunnel && colon && !strchr(colon, ']')) {
		long p = strtol(colon + 1, NULL, 10);
		if (p > 0 && p < 65536)
			port = (int)p;
	}
	char cmd[512];
	if (pasted)
		snprintf(cmd, sizeof(cmd), "daemonpulse agent --token-file " TOKEN_FILE_HINT " --port %d", port);
	else
		snprintf(cmd, sizeof(cmd),
		         "daemonpulse agent set-token --token-file " TOKEN_FILE_HINT
		         " && daemonpulse agent --token-file " TOKEN_FILE_HINT " --port %d",
		         port);
	char hint[48];
	dp_target_mask(tok, hint, sizeof(hint));
	json_t *o = json_pack(
	        "{s:I,s:s,s:o,s:s,s:s,s:s,s:s,s:b,s:b,s:[s,s,s,s]}", "target_id", (json_int_t)t.id, "agent_url", url,
	        "token", pasted ? json_null() : json_string(tok), "token_source", pasted ? "agent" : "control_plane",
	        "token_hint", hint, "token_file", TOKEN_FILE_HINT, "command", cmd, "rotated", rotated, "shown_once",
	        !pasted, "instructions",
	        pasted ? "The agent's own token was stored (encrypted): keep the agent running with its token file, or "
	                 "restart it with the command."
	               : "On the LM Studio host, as the user that runs LM Studio, run the command. set-token reads the "
	                 "token from stdin: paste it when asked, so it never appears on a command line or in the shell "
	                 "history.",
	        "The agent listens on 127.0.0.1 only and speaks plain HTTP. Reach it from here through an SSH tunnel "
	        "(ssh -N -L PORT:127.0.0.1:PORT host, then use http://127.0.0.1:PORT as the agent url) or a "
	        "TLS-terminating proxy; --bind with --insecure-listen sends the token in clear text.",
	        "To keep it running, install contrib/daemonpulse-agent.service (systemd, runs as the LM Studio user).",
	        "This token is shown once. Enrolling again rotates it; the old token stops working here at once.");
	sodium_memzero(tok, sizeof(tok));
	dp_target_release(&t);
	if (c->srv->telemetry)
		dp_telemetry_sync(c->srv->telemetry);
	dp_reply_json(c, rotated ? 200 : 201, o);
}

static void move_agent(struct dp_ctx *c)
{
	struct dp_target t;
	if (load_target(c, &t) < 0)
		return;
	char url[DP_UPSTREAM_MAX_URL + 1];
	if (body_url(c, &t, 0, url, sizeof(url)) < 0) {
		dp_target_release(&t);
		return;
	}
	int rc = dp_agent_client_set_url(c->srv->store, t.id, url, dp_auth_now(c->srv->auth));
	char ref[40];
	ref_of(ref, t.id);
	if (rc == -ENOENT) {
		dp_target_release(&t);
		dp_reply_error(c, 404, "not_found", "this target has no agent");
		return;
	}
	json_t *d = json_pack("{s:s}", "agent_url", url);
	dp_audit_ctx(c, "target.agent.update", ref, rc == 0 ? DP_AUDIT_OK : DP_AUDIT_FAILED, d);
	json_decref(d);
	if (rc < 0) {
		dp_target_release(&t);
		dp_reply_error(c, 500, "internal", "cannot store the agent");
		return;
	}
	struct dp_agent_link l;
	dp_agent_client_get(c->srv->store, t.id, &l);
	json_t *j = dp_agent_client_json(&l);
	json_object_set_new(j, "target_id", json_integer((json_int_t)t.id));
	dp_agent_link_release(&l);
	dp_target_release(&t);
	if (c->srv->telemetry)
		dp_telemetry_sync(c->srv->telemetry);
	dp_reply_json(c, 200, j);
}

static void unenrol(struct dp_ctx *c)
{
	struct dp_target t;
	if (load_target(c, &t) < 0)
		return;
	int rc = dp_agent_client_delete(c->srv->store, t.id);
	char ref[40];
	ref_of(ref, t.id);
	if (rc == -ENOENT) {
		dp_target_release(&t);
		dp_reply_error(c, 404, "not_found", "this target has no agent");
		return;
	}
	dp_audit_ctx(c, "target.agent.remove", ref, rc == 0 ? DP_AUDIT_OK : DP_AUDIT_FAILED, NULL);
	dp_target_release(&t);
	if (rc < 0) {
		dp_reply_error(c, 500, "internal", "cannot remove the agent");
		return;
	}
	if (c->srv->telemetry)
		dp_telemetry_sync(c->srv->telemetry);
	dp_reply_empty(c);
}

/* ------------------------------------------------------------ lifecycle */

struct life {
	struct dp_ctx *c;
	struct dp_server *srv;
	int64_t target_id, user_id;
	char username[DP_USERNAME_MAX + 1];
	char ip[64];
	char kind[8]; /* "server" | "daemon" */
	char action[16];
};

static void life_abort(struct dp_ctx *c, void *arg)
{
	struct life *l = arg;
	(void)c;
	l->c = NULL;
}

static void life_done(struct dp_upstream_req *r, const struct dp_upstream_result *res, void *arg)
{
	struct life *l = arg;
	(void)r;
	char ref[40], act[40];
	ref_of(ref, l->target_id);
	snprintf(act, sizeof(act), "target.%s.%s", l->kind, l->action);
	int ok = res->outcome == DP_UPSTREAM_OK;
	json_t *agent_err = json_object_get(res->json, "error");
	const char *code = ok ? "ok"
	                   : json_string_value(json_object_get(agent_err, "code"))
	                           ? json_string_value(json_object_get(agent_err, "code"))
	                           : (res->outcome == DP_UPSTREAM_UNAUTHORIZED ? "agent_unauthorized" : res->code);
	const char *msg = json_string_value(json_object_get(agent_err, "message"));
	if (!msg)
		msg = res->message && *res->message ? res->message : dp_upstream_outcome_name(res->outcome);
	if (res->outcome != DP_UPSTREAM_CANCELLED) {
		json_t *d = json_pack("{s:s,s:s}", "via", "agent", "code", code);
		dp_audit_record(l->srv->store, l->user_id, l->username, act, ref, ok ? DP_AUDIT_OK : DP_AUDIT_FAILED, d,
		                l->ip);
		json_decref(d);
	}
	if (l->c) {
		if (ok) {
			json_t *result = json_object_get(res->json, "result");
			dp_reply_json(l->c, 200,
			              json_pack("{s:I,s:s,s:s,s:b,s:s,s:O?}", "target_id", (json_int_t)l->target_id,
			                        "kind", l->kind, "action", l->action, "ok", 1, "via", "agent", "result",
			                        result));
		} else if (res->outcome == DP_UPSTREAM_UNAUTHORIZED) {
			dp_reply_error(
			        l->c, 502, "agent_unauthorized",
			        "the agent refused its token: enrol the agent again and set the new token on the host");
		} else {
			dp_reply_error(l->c, res->outcome == DP_UPSTREAM_STALLED ? 504 : 502, code,
			               "lms %s %s via the agent failed: %s", l->kind, l->action, msg);
		}
	}
	free(l);
}

static void lifecycle(struct dp_ctx *c, const char *kind, const char *action)
{
	struct dp_target t;
	if (load_target(c, &t) < 0)
		return;
	int64_t id = t.id;
	dp_target_release(&t);
	char ref[40], act[40];
	ref_of(ref, id);
	snprintf(act, sizeof(act), "target.%s.%s", kind, action);
	if (!dp_agent_client_enrolled(c->srv->store, id)) {
		json_t *d = json_pack("{s:s}", "code", "needs_agent");
		dp_audit_ctx(c, act, ref, DP_AUDIT_DENIED, d);
		json_decref(d);
		dp_reply_error(c, 409, "needs_agent",
		               "%s %s needs the agent on that host, because lms %s %s act only on the local machine: "
		               "enrol one with Add agent",
		               kind, action, kind, !strcmp(kind, "server") ? "start/stop" : "up/down");
		return;
	}
	/* start: optional {port, bind, cors}, validated again by the agent */
	json_t *body = json_object();
	if (c->body) {
		const char *k;
		json_t *v;
		json_object_foreach(c->body, k, v)
		{
			int okk = !strcmp(kind, "server") && !strcmp(action, "start") &&
			          ((!strcmp(k, "port") && json_is_integer(v) && json_integer_value(v) > 0 &&
			            json_integer_value(v) < 65536) ||
			           (!strcmp(k, "bind") && json_is_string(v) && json_string_length(v) <= 64) ||
			           (!strcmp(k, "cors") && json_is_boolean(v)));
			if (!okk) {
				json_decref(body);
				dp_reply_error(c, 400, "invalid",
				               "server start takes {port?, bind?, cors?}; server stop, daemon up and "
				               "daemon down "
				               "take nothing");
				return;
			}
			json_object_set(body, k, v);
		}
	}
	char *txt = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	struct life *l = xcalloc(1, sizeof(*l));
	l->c = c;
	l->srv = c->srv;
	l->target_id = id;
	l->user_id = c->user.id;
	snprintf(l->username, sizeof(l->username), "%s", c->user.username);
	snprintf(l->ip, sizeof(l->ip), "%s", dp_ctx_peer(c));
	snprintf(l->kind, sizeof(l->kind), "%s", kind);
	snprintf(l->action, sizeof(l->action), "%s", action);
	char path[64];
	snprintf(path, sizeof(path), "/agent/v1/lms/%s-%s", kind, action);
	const char *err = NULL;
	struct dp_upstream_req *r = dp_agent_client_request(c->srv, id, "POST", path, txt, NULL,
	                                                    DP_AGENT_CLIENT_LMS_TIMEOUT_MS, life_done, l, &err);
	free(txt);
	if (!r) {
		free(l);
		json_t *d = json_pack("{s:s}", "code", "agent_error");
		dp_audit_ctx(c, act, ref, DP_AUDIT_FAILED, d);
		json_decref(d);
		dp_reply_error(c, 502, "agent_error", "%s", err ? err : "cannot reach the agent");
		return;
	}
	dp_ctx_on_abort(c, life_abort, l);
}

static void server_start(struct dp_ctx *c)
{
	lifecycle(c, "server", "start");
}

static void server_stop(struct dp_ctx *c)
{
	lifecycle(c, "server", "stop");
}

static void daemon_up(struct dp_ctx *c)
{
	lifecycle(c, "daemon", "up");
}

static void daemon_down(struct dp_ctx *c)
{
	lifecycle(c, "daemon", "down");
}

/* ------------------------------------------------------------ host info */

struct info_op {
	struct dp_ctx *c;
	int64_t target_id;
};

static void info_abort(struct dp_ctx *c, void *arg)
{
	struct info_op *o = arg;
	(void)c;
	o->c = NULL;
}

static void info_done(struct dp_upstream_req *r, const struct dp_upstream_result *res, void *arg)
{
	struct info_op *o = arg;
	(void)r;
	if (o->c) {
		if (res->outcome == DP_UPSTREAM_OK && json_is_object(res->json)) {
			/* a copy of the known members only: the agent is not trusted to shape our answer */
			static const char *const keep[] = {
			        "agent_version", "transport",     "hostname",         "os",       "cpu", "ram",
			        "lms",           "lmstudio_home", "telemetry_source", "uptime_s", NULL};
			json_t *out = json_object();
			for (const char *const *k = keep; *k; k++) {
				json_t *v = json_object_get(res->json, *k);
				if (v)
					json_object_set(out, *k, v);
			}
			json_object_set_new(out, "target_id", json_integer((json_int_t)o->target_id));
			dp_reply_json(o->c, 200, out);
		} else if (res->outcome == DP_UPSTREAM_UNAUTHORIZED) {
			dp_reply_error(
			        o->c, 502, "agent_unauthorized",
			        "the agent refused its token: enrol the agent again and set the new token on the host");
		} else {
			dp_reply_error(o->c, res->outcome == DP_UPSTREAM_STALLED ? 504 : 502, "agent_down",
			               "the agent does not answer: %s",
			               res->message && *res->message ? res->message : res->code);
		}
	}
	free(o);
}

static void agent_info(struct dp_ctx *c)
{
	struct dp_target t;
	if (load_target(c, &t) < 0)
		return;
	int64_t id = t.id;
	dp_target_release(&t);
	if (!dp_agent_client_enrolled(c->srv->store, id)) {
		dp_reply_error(c, 409, "needs_agent",
		               "host information needs the agent on that host: enrol one with Add agent");
		return;
	}
	struct info_op *o = xcalloc(1, sizeof(*o));
	o->c = c;
	o->target_id = id;
	const char *err = NULL;
	if (!dp_agent_client_request(c->srv, id, "GET", "/agent/v1/info", NULL, NULL, 0, info_done, o, &err)) {
		free(o);
		dp_reply_error(c, 502, "agent_error", "%s", err ? err : "cannot reach the agent");
		return;
	}
	dp_ctx_on_abort(c, info_abort, o);
}

const struct dp_route dp_api_agent_routes[] = {
        {.method = "GET", .path = "/api/targets/{id}/agent", .fn = get_agent, .role = DP_ROLE_VIEWER},
        {.method = "POST", .path = "/api/targets/{id}/agent", .fn = enrol, .role = DP_ROLE_ADMIN},
        {.method = "PATCH", .path = "/api/targets/{id}/agent", .fn = move_agent, .role = DP_ROLE_ADMIN},
        {.method = "DELETE", .path = "/api/targets/{id}/agent", .fn = unenrol, .role = DP_ROLE_ADMIN},
        {.method = "POST", .path = "/api/targets/{id}/server/start", .fn = server_start, .role = DP_ROLE_OPERATOR},
        {.method = "POST", .path = "/api/targets/{id}/server/stop", .fn = server_stop, .role = DP_ROLE_OPERATOR},
        {.method = "POST", .path = "/api/targets/{id}/daemon/up", .fn = daemon_up, .role = DP_ROLE_OPERATOR},
        {.method = "POST", .path = "/api/targets/{id}/daemon/down", .fn = daemon_down, .role = DP_ROLE_OPERATOR},
        {.method = "GET", .path = "/api/targets/{id}/agent/info", .fn = agent_info, .role = DP_ROLE_VIEWER},
        {0},
};
