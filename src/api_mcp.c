/*
 * api_mcp.c - the Toolchain's HTTP API (docs/api-mcp.md): MCP servers per
 * target, discovery through lib/mcp, per-tool policy, the host's mcp.json
 * entries, the integrations preview and POST .../toolchain/run, which runs
 * the Pulse's chat relay (api_chat.h) with `integrations` built from the
 * policy and audits every tool call of the stream (mcp_registry.h).
 *
 * Roles: viewers read; operators discover (stdio entries: admins, since
 * that spawns the entry's command here) and dispatch; admins register
 * servers, edit mcp.json and edit policy. Header and env values are
 * write-only: no handler returns or logs them.
 */
#include <errno.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent_client.h"
#include "api.h"
#include "api_chat.h"
#include "audit.h"
#include "auth.h"
#include "job.h"
#include "log.h"
#include "mcp.h"
#include "mcp_registry.h"
#include "metrics.h"
#include "secret.h"
#include "server.h"
#include "store.h"
#include "targets.h"
#include "xmalloc.h"

#define MAX_RUN_SERVERS 16
#define MAX_DISCOVERIES 8 /* running at once, all users */

/* stdio discovery children (the server has no shared job table yet) */
static struct dp_jobs *mcp_jobs;
static int discoveries;
static struct event_base *mcp_jobs_base;
static const struct dp_metrics *metrics_registered;

static int render_metrics(void *arg, struct dp_buf *out)
{
	(void)arg;
	dp_mcp_metrics_render(out);
	return 0;
}

/* Our /metrics series, registered on first use of the API. */
static void ensure_metrics(struct dp_server *srv)
{
	if (srv->metrics && metrics_registered != srv->metrics) {
		if (dp_metrics_add_extra(srv->metrics, render_metrics, &metrics_registered) == 0)
			metrics_registered = srv->metrics;
	}
}

/* dp_audit_ctx borrows the detail: this one takes it. */
static void audit(struct dp_ctx *c, const char *action, const char *target, const char *result, json_t *detail)
{
	dp_audit_ctx(c, action, target, result, detail);
	json_decref(detail);
}

static int64_t now_s(struct dp_ctx *c)
{
	return dp_auth_now(c->srv->auth);
}

/* The target of {id}, or a 404 reply. */
static int load_target(struct dp_ctx *c, struct dp_target *t)
{
	dp_target_init(t);
	ensure_metrics(c->srv);
	int64_t id = dp_ctx_param_id(c, "id");
	if (id < 0 || !c->srv->store || dp_targets_get(c->srv->store, id, t) < 0) {
		dp_reply_error(c, 404, "not_found", "no such target");
		return -1;
	}
	return 0;
}

static int load_server(struct dp_ctx *c, const struct dp_target *t, json_t **row)
{
	int64_t sid = dp_ctx_param_id(c, "sid");
	if (sid < 0 || dp_mcp_server_get(c->srv->store, t->id, sid, row) < 0) {
		dp_reply_error(c, 404, "not_found", "no such mcp server on this target");
		return -1;
	}
	return 0;
}

static int is_kind(const json_t *row, const char *k)
{
	const char *v = json_string_value(json_object_get(row, "kind"));
	return v && strcmp(v, k) == 0;
}

/* ------------------------------------------------------ mcp.json via agent */

/*
 * A target with an enrolled agent (even one whose URL is loopback: that may
 * be an SSH tunnel) has its mcp.json read and written by the agent on its
 * host (docs/agent.md): GET /agent/v1/mcp.json, then for an edit the same
 * merge and validation as the local file, and PUT with If-Match = the ETag
 * that was read, so an edit made meanwhile on the host (LM Studio) is not
 * lost (412 -> 409 conflict). The agent writes atomically with mcp.json.bak.
 */
enum remote_op { REMOTE_LIST, REMOTE_PUT, REMOTE_DEL };

struct remote {
	struct dp_ctx *c; /* NULL once the client left */
	struct dp_server *srv;
	struct dp_target t; /* a copy */
	enum remote_op op;
	char label[DP_MCP_LABEL_MAX + 1];
	json_t *body;  /* PUT: the entry as received (copy) */
	json_t *doc;   /* the document being written */
	json_t *entry; /* PUT: the merged entry */
	json_t *mj;    /* the "mcp_json" member */
	int64_t user_id;
	char username[DP_USERNAME_MAX + 1];
	char ip[64];
};

static void remote_free(struct remote *r)
{
	json_decref(r->body);
	json_decref(r->doc);
	json_decref(r->entry);
	json_decref(r->mj);
	dp_target_release(&r->t);
	free(r);
}

static void remote_abort(struct dp_ctx *c, void *arg)
{
	struct remote *r = arg;
	(void)c;
	r->c = NULL;
}

/* The agent did not answer usefully: code + message for the API. */
static void remote_error(const struct dp_upstream_result *res, int *status, const char **code, char *msg, size_t len)
{
	json_t *ae = json_object_get(res->json, "error");
	const char *am = json_string_value(json_object_get(ae, "message"));
	if (res->outcome == DP_UPSTREAM_UNAUTHORIZED) {
		*status = 502, *code = "agent_unauthorized";
		snprintf(msg, len,
		         "the agent refused its token: enrol the agent again and set the new token on the host");
	} else if (res->status == 412) {
		*status = 409, *code = "conflict";
		snprintf(msg, len, "mcp.json changed on the host while it was being edited; reload and try again");
	} else if (res->status == 422) {
		*status = 400, *code = "bad_request";
		snprintf(msg, len, "the agent refused the document: %.200s", am ? am : "invalid mcp.json");
	} else if (res->status == 403 || res->status == 404 || res->status == 413) {
		*status = 409, *code = "agent_refused";
		snprintf(msg, len, "the agent refused: %.200s", am ? am : dp_upstream_outcome_name(res->outcome));
	} else {
		*status = res->outcome == DP_UPSTREAM_STALLED ? 504 : 502, *code = "agent_down";
		snprintf(msg, len, "the agent does not answer: %.200s",
		         res->message && *res->message ? res->message : res->code);
	}
}

static void remote_reply_list(struct remote *r, const json_t *root)
{
	json_t *servers = dp_mcp_servers_list_doc(r->srv->store, &r->t, root);
	if (r->c)
		dp_reply_json(r->c, 200,
		              json_pack("{s:I,s:O,s:o}", "target_id", (json_int_t)r->t.id, "mcp_json", r->mj, "servers",
		                        servers));
	else
		json_decref(servers);
}

static void remote_put_done(struct dp_upstream_req *u, const struct dp_upstream_result *res, void *arg)
{
	struct remote *r = arg;
	(void)u;
	if (res->outcome != DP_UPSTREAM_OK || !json_is_object(res->json)) {
		int status;
		const char *code;
		char msg[320];
		remote_error(res, &status, &code, msg, sizeof(msg));
		if (res->outcome != DP_UPSTREAM_CANCELLED) {
			json_t *d = json_pack("{s:s,s:s,s:s}", "label", r->label, "via", "agent", "code", code);
			dp_audit_record(r->srv->store, r->user_id, r->username,
			                r->op == REMOTE_PUT ? "mcp.mcp_json.put" : "mcp.mcp_json.delete", r->t.label,
			                DP_AUDIT_FAILED, d, r->ip);
			json_decref(d);
		}
		if (r->c)
			dp_reply_error(r->c, status, code, "%s", msg);
		remote_free(r);
		return;
	}
	json_t *d;
	if (r->op == REMOTE_PUT) {
		json_t *names = json_array();
		const char *k;
		json_t *v;
		json_object_foreach(json_object_get(r->entry, "headers"), k, v)
		        json_array_append_new(names, json_string(k));
		json_object_foreach(json_object_get(r->entry, "env"), k, v)
		        json_array_append_new(names, json_string(k));
		d = json_pack("{s:s,s:s,s:o,s:s}", "label", r->label, "kind",
		              json_object_get(r->entry, "url") ? "http" : "stdio", "names", names, "via", "agent");
	} else {
		d = json_pack("{s:s,s:s}", "label", r->label, "via", "agent");
	}
	dp_audit_record(r->srv->store, r->user_id, r->username,
	                r->op == REMOTE_PUT ? "mcp.mcp_json.put" : "mcp.mcp_json.delete", r->t.label, DP_AUDIT_OK, d,
	                r->ip);
	json_decref(d);
	json_t *list = dp_mcp_servers_list_doc(r->srv->store, &r->t, r->doc);
	if (r->c && r->op == REMOTE_DEL) {
		dp_reply_empty(r->c);
	} else if (r->c) {
		json_t *found = NULL, *v;
		size_t i;
		json_array_foreach(list, i,
		                   v) if (strcmp(json_string_value(json_object_get(v, "kind")), "mcp_json") == 0 &&
		                          strcmp(json_string_value(json_object_get(v, "label")), r->label) == 0) found =
		        v;
		dp_reply_json(r->c, 200, json_pack("{s:O,s:s}", "server", found ? found : json_null(), "via", "agent"));
	}
	json_decref(list);
	remote_free(r);
}

static void remote_get_done(struct dp_upstream_req *u, const struct dp_upstream_result *res, void *arg)
{
	struct remote *r = arg;
	(void)u;
	if (res->outcome != DP_UPSTREAM_OK || !json_is_object(res->json)) {
		int status;
		const char *code;
		char msg[320];
		remote_error(res, &status, &code, msg, sizeof(msg));
		if (r->op == REMOTE_LIST) {
			/* the listing still answers: the rows as last seen, and why the file is unavailable */
			r->mj = json_pack("{s:b,s:b,s:b,s:n,s:b,s:{s:s,s:s}}", "local", 0, "via_agent", 1, "available",
			                  0, "path", "exists", 0, "error", "code", code, "message", msg);
			remote_reply_list(r, NULL);
		} else if (r->c) {
			dp_reply_error(r->c, status, code, "%s", msg);
		}
		remote_free(r);
		return;
	}
	if (!r->c && r->op != REMOTE_LIST) { /* the client left before anything was written: stop */
		remote_free(r);
		return;
	}
	const char *path = json_string_value(json_object_get(res->json, "path"));
	const char *etag = json_string_value(json_object_get(res->json, "etag"));
	int exists = json_is_true(json_object_get(res->json, "exists"));
	json_t *content = json_object_get(res->json, "content");
	const char *why = NULL;
	json_t *root = exists ? json_deep_copy(content) : json_pack("{s:{}}", "mcpServers");
	if (!root || dp_mcp_json_check(root, &why) < 0) {
		json_t *ae = json_object_get(res->json, "error");
		const char *am = json_string_value(json_object_get(ae, "message"));
		if (!why || am)
			why = am ? am : "mcp.json cannot be used";
		json_decref(root);
		if (r->op == REMOTE_LIST) {
			r->mj = json_pack("{s:b,s:b,s:b,s:s?,s:b,s:{s:s,s:s}}", "local", 0, "via_agent", 1, "available",
			                  0, "path", path, "exists", exists, "error", "code", "invalid_mcp_json",
			                  "message", why);
			remote_reply_list(r, NULL);
		} else {
			dp_reply_error(r->c, 409, "invalid_mcp_json", "%s; fix the file first", why);
		}
		remote_free(r);
		return;
	}
	if (r->op == REMOTE_LIST) {
		r->mj = json_pack("{s:b,s:b,s:b,s:s?,s:b,s:n}", "local", 0, "via_agent", 1, "available", 1, "path",
		                  path, "exists", exists, "error");
		remote_reply_list(r, root);
		json_decref(root);
		remote_free(r);
		return;
	}
	json_t *servers = json_object_get(root, "mcpServers");
	if (r->op == REMOTE_PUT) {
		r->entry = dp_mcp_json_entry_merge(json_object_get(servers, r->label), r->body, &why);
		if (!r->entry) {
			dp_reply_error(r->c, 400, "bad_request", "%s", why);
			json_decref(root);
			remote_free(r);
			return;
		}
		json_object_set(servers, r->label, r->entry);
	} else if (!json_object_get(servers, r->label)) {
		dp_reply_error(r->c, 404, "not_found", "no such mcp.json entry");
		json_decref(root);
		remote_free(r);
		return;
	} else {
		json_object_del(servers, r->label);
	}
	r->doc = root;
	const char *err = NULL;
	/* a new file: "*" is not sent, so a file created meanwhile may be replaced (the agent keeps a .bak) */
	if (!dp_agent_client_mcp_put(r->srv, r->t.id, r->doc, exists ? etag : NULL, remote_put_done, r, &err)) {
		dp_reply_error(r->c, 502, "agent_error", "%s", err ? err : "cannot reach the agent");
		remote_free(r);
	}
}

/* Start a read (and maybe an edit) through the agent; replies later. */
static void remote_start(struct dp_ctx *c, const struct dp_target *t, enum remote_op op, const char *label)
{
	struct remote *r = xcalloc(1, sizeof(*r));
	r->c = c;
	r->srv = c->srv;
	dp_target_copy(&r->t, t);
	r->op = op;
	if (label)
		snprintf(r->label, sizeof(r->label), "%s", label);
	if (op == REMOTE_PUT)
		r->body = json_deep_copy(c->body);
	r->user_id = c->user.id;
	snprintf(r->username, sizeof(r->username), "%s", c->user.username);
	snprintf(r->ip, sizeof(r->ip), "%s", dp_ctx_peer(c) ? dp_ctx_peer(c) : "");
	const char *err = NULL;
	if (!dp_agent_client_mcp_get(c->srv, t->id, remote_get_done, r, &err)) {
		if (op == REMOTE_LIST) {
			r->mj = json_pack("{s:b,s:b,s:b,s:n,s:b,s:{s:s,s:s}}", "local", 0, "via_agent", 1, "available",
			                  0, "path", "exists", 0, "error", "code", "agent_error", "message",
			                  err ? err : "cannot reach the agent");
			remote_reply_list(r, NULL);
		} else {
			dp_reply_error(c, 502, "agent_error", "%s", err ? err : "cannot reach the agent");
		}
		remote_free(r);
		return;
	}
	dp_ctx_on_abort(c, remote_abort, r);
}

/* ------------------------------------------------------------- listing */

static void list(struct dp_ctx *c)
{
	struct dp_target t;
	if (load_target(c, &t) < 0) {
		dp_target_release(&t);
		return;
	}
	if (dp_agent_client_enrolled(c->srv->store, t.id)) {
		remote_start(c, &t, REMOTE_LIST, NULL);
		dp_target_release(&t);
		return;
	}
	json_t *mj = NULL;
	json_t *servers = dp_mcp_servers_list(c->srv->store, &t, &mj);
	dp_reply_json(c, 200,
	              json_pack("{s:I,s:o,s:o}", "target_id", (json_int_t)t.id, "mcp_json", mj, "servers", servers));
	dp_target_release(&t);
}

static void tools(struct dp_ctx *c)
{
	struct dp_target t;
	json_t *row = NULL;
	if (load_target(c, &t) < 0 || load_server(c, &t, &row) < 0) {
		dp_target_release(&t);
		return;
	}
	dp_reply_json(c, 200,
	              json_pack("{s:o,s:o}", "server", dp_mcp_server_json(c->srv->store, row), "tools",
	                        dp_mcp_tools_json(c->srv->store, row)));
	json_decref(row);
	dp_target_release(&t);
}

/* ------------------------------------------------------------- ephemeral */

static void create(struct dp_ctx *c)
{
	struct dp_target t;
	if (load_target(c, &t) < 0) {
		dp_target_release(&t);
		return;
	}
	json_t *b = c->body;
	const char *why = NULL;
	const char *label = json_string_value(json_object_get(b, "label"));
	const char *url = json_string_value(json_object_get(b, "url"));
	json_t *headers = json_object_get(b, "headers");
	json_t *ro = json_object_get(b, "auto_allow_read_only");
	if (dp_mcp_check_label(label, &why) < 0 || dp_mcp_check_url(url, &why) < 0 ||
	    (headers && !json_is_null(headers) && dp_mcp_check_headers(headers, 0, &why) < 0) ||
	    (ro && !json_is_boolean(ro) && (why = "auto_allow_read_only must be true or false"))) {
		dp_reply_error(c, 400, "bad_request", "%s", why);
		dp_target_release(&t);
		return;
	}
	int64_t id = 0;
	int rc = dp_mcp_ephemeral_create(c->srv->store, c->srv->secret, t.id, label, url,
	                                 json_is_object(headers) ? headers : NULL, json_is_true(ro), now_s(c), &id);
	if (rc == -EEXIST) {
		dp_reply_error(c, 409, "conflict", "an ephemeral mcp server with this label exists on this target");
	} else if (rc == -ENOSPC) {
		dp_reply_error(c, 409, "conflict", "this target already has %d mcp servers", DP_MCP_SERVERS_PER_TARGET);
	} else if (rc < 0) {
		dp_reply_error(c, 500, "internal", "could not store the server");
	} else {
		json_t *row = NULL;
		dp_mcp_server_get(c->srv->store, t.id, id, &row);
		json_t *names = json_object_get(row, "header_names");
		audit(c, "mcp.server.create", t.label, DP_AUDIT_OK,
		      json_pack("{s:I,s:s,s:s,s:O}", "server_id", (json_int_t)id, "label", label, "url", url,
		                "header_names", names ? names : json_null()));
		dp_reply_json(c, 201, json_pack("{s:o}", "server", dp_mcp_server_json(c->srv->store, row)));
		json_decref(row);
	}
	dp_target_release(&t);
}

static void patch(struct dp_ctx *c)
{
	struct dp_target t;
	json_t *row = NULL;
	if (load_target(c, &t) < 0 || load_server(c, &t, &row) < 0) {
		dp_target_release(&t);
		return;
	}
	json_t *b = c->body;
	const char *why = NULL;
	json_t *ro = json_object_get(b, "auto_allow_read_only");
	if (!json_is_object(b) || (ro && !json_is_boolean(ro))) {
		dp_reply_error(c, 400, "bad_request", "%s",
		               "a JSON object is required; auto_allow_read_only must be true or false");
		goto out;
	}
	int rc;
	if (is_kind(row, "ephemeral")) {
		json_t *lv = json_object_get(b, "label"), *uv = json_object_get(b, "url"),
		       *hv = json_object_get(b, "headers");
		if ((lv && dp_mcp_check_label(json_string_value(lv), &why) < 0) ||
		    (uv && dp_mcp_check_url(json_string_value(uv), &why) < 0) ||
		    (hv && !json_is_null(hv) && dp_mcp_check_headers(hv, 1, &why) < 0)) {
			dp_reply_error(c, 400, "bad_request", "%s", why);
			goto out;
		}
		rc = dp_mcp_ephemeral_update(c->srv->store, c->srv->secret, row, json_string_value(lv),
		                             json_string_value(uv), json_is_object(hv) ? hv : NULL,
		                             ro ? json_is_true(ro) : -1, now_s(c));
	} else {
		if (json_object_get(b, "label") || json_object_get(b, "url") || json_object_get(b, "headers")) {
			dp_reply_error(
			        c, 400, "bad_request", "%s",
			        "an mcp.json server is edited through PUT /api/targets/{id}/mcp/mcp-json/{label}");
			goto out;
		}
		rc = ro ? dp_mcp_server_set_auto(c->srv->store, json_integer_value(json_object_get(row, "id")),
		                                 json_is_true(ro), now_s(c))
		        : 0;
	}
	if (rc == -EEXIST) {
		dp_reply_error(c, 409, "conflict", "an ephemeral mcp server with this label exists on this target");
		goto out;
	}
	if (rc == -EBADMSG) {
		dp_reply_error(c, 500, "token_unreadable",
		               "the stored header values cannot be decrypted with this secret.key; set them again");
		goto out;
	}
	if (rc < 0) {
		dp_reply_error(c, 500, "internal", "could not update the server");
		goto out;
	}
	int64_t sid = json_integer_value(json_object_get(row, "id"));
	json_decref(row);
	row = NULL;
	dp_mcp_server_get(c->srv->store, t.id, sid, &row);
	audit(c, "mcp.server.update", t.label, DP_AUDIT_OK,
	      json_pack("{s:I,s:O,s:O}", "server_id", (json_int_t)sid, "label", json_object_get(row, "label"),
	                "identity", json_object_get(row, "identity")));
	dp_reply_json(c, 200, json_pack("{s:o}", "server", dp_mcp_server_json(c->srv->store, row)));
out:
	json_decref(row);
	dp_target_release(&t);
}

static void del(struct dp_ctx *c)
{
	struct dp_target t;
	json_t *row = NULL;
	if (load_target(c, &t) < 0 || load_server(c, &t, &row) < 0) {
		dp_target_release(&t);
		return;
	}
	if (is_kind(row, "mcp_json") && json_is_true(json_object_get(row, "in_mcp_json"))) {
		dp_reply_error(c, 409, "conflict", "this server is an mcp.json entry: remove the entry instead");
	} else if (dp_mcp_server_delete(c->srv->store, json_integer_value(json_object_get(row, "id"))) < 0) {
		dp_reply_error(c, 500, "internal", "could not delete the server");
	} else {
		audit(c, "mcp.server.delete", t.label, DP_AUDIT_OK,
		      json_pack("{s:O,s:O}", "server_id", json_object_get(row, "id"), "label",
		                json_object_get(row, "label")));
		dp_reply_empty(c);
	}
	json_decref(row);
	dp_target_release(&t);
}

/* ------------------------------------------------------------- policy */

static void policy(struct dp_ctx *c)
{
	struct dp_target t;
	json_t *row = NULL;
	if (load_target(c, &t) < 0 || load_server(c, &t, &row) < 0) {
		dp_target_release(&t);
		return;
	}
	json_t *b = c->body;
	json_t *tl = json_object_get(b, "tools"), *ro = json_object_get(b, "auto_allow_read_only");
	if (!json_is_object(b) || (tl && !json_is_object(tl)) || (ro && !json_is_boolean(ro)) || (!tl && !ro) ||
	    json_object_size(tl) > DP_MCP_MAX_TOOLS) {
		dp_reply_error(c, 400, "bad_request", "%s",
		               "expected {\"tools\": {\"name\": \"allow\"|\"deny\"|\"reset\"}} and/or "
		               "{\"auto_allow_read_only\": bool}");
		goto out;
	}
	const char *k;
	json_t *v;
	json_object_foreach(tl, k, v)
	{
		const char *d = json_string_value(v);
		if (!d || (strcmp(d, "allow") && strcmp(d, "deny") && strcmp(d, "reset"))) {
			dp_reply_error(c, 400, "bad_request", "tools.%.100s must be \"allow\", \"deny\" or \"reset\"",
			               k);
			goto out;
		}
	}
	sqlite3_exec(dp_store_db(c->srv->store), "BEGIN", NULL, NULL, NULL);
	json_object_foreach(tl, k, v)
	{
		int rc = dp_mcp_policy_set(c->srv->store, row, k, json_string_value(v), c->user.username, now_s(c));
		if (rc < 0) {
			sqlite3_exec(dp_store_db(c->srv->store), "ROLLBACK", NULL, NULL, NULL);
			if (rc == -ENOENT)
				dp_reply_error(c, 400, "bad_request", "unknown tool %.100s: discover the server first",
				               k);
			else
				dp_reply_error(c, 500, "internal", "could not store the policy");
			goto out;
		}
	}
	if (ro)
		dp_mcp_server_set_auto(c->srv->store, json_integer_value(json_object_get(row, "id")), json_is_true(ro),
		                       now_s(c));
	sqlite3_exec(dp_store_db(c->srv->store), "COMMIT", NULL, NULL, NULL);
	int64_t sid = json_integer_value(json_object_get(row, "id"));
	audit(c, "mcp.policy", t.label, DP_AUDIT_OK,
	      json_pack("{s:I,s:O,s:O,s:O}", "server_id", (json_int_t)sid, "label", json_object_get(row, "label"),
	                "tools", tl ? tl : json_null(), "auto_allow_read_only", ro ? ro : json_null()));
	json_decref(row);
	row = NULL;
	dp_mcp_server_get(c->srv->store, t.id, sid, &row);
	dp_reply_json(c, 200,
	              json_pack("{s:o,s:o}", "server", dp_mcp_server_json(c->srv->store, row), "tools",
	                        dp_mcp_tools_json(c->srv->store, row)));
out:
	json_decref(row);
	dp_target_release(&t);
}

/* ------------------------------------------------------------- discovery */

struct disc {
	struct dp_ctx *c; /* NULL once the client left */
	struct dp_server *srv;
	int64_t target_id;
	int64_t sid;
	char target_label[DP_TARGET_LABEL_MAX * 4 + 1];
	int64_t user_id;
	char username[DP_USERNAME_MAX + 1];
	char ip[64];
};

static void disc_abort(struct dp_ctx *c, void *arg)
{
	struct disc *d = arg;
	(void)c;
	d->c = NULL; /* the discovery goes on and is stored */
}

static void disc_reply(struct disc *d, json_t *changes)
{
	if (!d->c)
		return;
	json_t *row = NULL;
	if (dp_mcp_server_get(d->srv->store, d->target_id, d->sid, &row) < 0) {
		dp_reply_error(d->c, 404, "not_found", "the server was removed during discovery");
		return;
	}
	dp_reply_json(d->c, 200,
	              json_pack("{s:o,s:o,s:O}", "server", dp_mcp_server_json(d->srv->store, row), "tools",
	                        dp_mcp_tools_json(d->srv->store, row), "changes", changes));
	json_decref(row);
}

static void disc_done(const struct dp_mcp_outcome *o, void *arg)
{
	struct disc *d = arg;
	json_t *row = NULL, *changes = NULL;
	if (dp_mcp_server_get(d->srv->store, d->target_id, d->sid, &row) == 0) {
		dp_mcp_store_discovery(d->srv->store, row, o, o->duration_ms, dp_auth_now(d->srv->auth), &changes);
		json_t *detail = json_pack("{s:I,s:s,s:s,s:i}", "server_id", (json_int_t)d->sid, "status", o->status,
		                           "code", o->code, "tools", (int)json_array_size(o->tools));
		dp_audit_record(d->srv->store, d->user_id, d->username, "mcp.discover", d->target_label,
		                strcmp(o->status, "ok") == 0 ? DP_AUDIT_OK : DP_AUDIT_FAILED, detail, d->ip);
		json_decref(detail);
	}
	if (!changes)
		changes = json_pack("{s:[],s:[],s:[]}", "new", "changed", "removed");
	discoveries--;
	disc_reply(d, changes);
	json_decref(changes);
	json_decref(row);
	free(d);
}

/* Record an outcome that never reached a server (agent needed, bad entry). */
static void disc_fail_now(struct dp_ctx *c, const json_t *row, int64_t tid, const char *code, const char *msg)
{
	struct dp_mcp_outcome o = {.status = "failed", .code = code, .message = msg, .protocol_version = ""};
	json_t *changes = NULL;
	dp_mcp_store_discovery(c->srv->store, row, &o, 0, now_s(c), &changes);
	json_decref(changes);
	struct disc d = {
	        .c = c, .srv = c->srv, .target_id = tid, .sid = json_integer_value(json_object_get(row, "id"))};
	json_t *ch = json_pack("{s:[],s:[],s:[]}", "new", "changed", "removed");
	disc_reply(&d, ch);
	json_decref(ch);
}

static char **strv_from_obj(const json_t *obj)
{
	char **v = xcalloc(json_object_size(obj) + 1, sizeof(*v));
	size_t n = 0;
	const char *k;
	json_t *val;
	json_object_foreach((json_t *)obj, k, val) if (json_is_string(val)) v[n++] =
	        xasprintf("%s=%s", k, json_string_value(val));
	return v;
}

/* Run the discovery of `ms` for `row`; replies later (or now on error). */
static void disc_start(struct dp_ctx *c, const struct dp_target *t, const json_t *row, const struct dp_mcp_server *ms)
{
	if (!mcp_jobs || mcp_jobs_base != c->srv->base) {
		mcp_jobs = dp_jobs_new(c->srv->base);
		mcp_jobs_base = c->srv->base;
	}
	struct dp_mcp_env env_ = {.base = c->srv->base, .up = c->srv->upstream, .jobs = mcp_jobs};
	struct disc *d = xcalloc(1, sizeof(*d));
	d->c = c;
	d->srv = c->srv;
	d->target_id = t->id;
	d->sid = json_integer_value(json_object_get(row, "id"));
	snprintf(d->target_label, sizeof(d->target_label), "%s", t->label);
	d->user_id = c->user.id;
	snprintf(d->username, sizeof(d->username), "%s", c->user.username);
	snprintf(d->ip, sizeof(d->ip), "%s", dp_ctx_peer(c) ? dp_ctx_peer(c) : "");
	const char *err = NULL;
	if (!dp_mcp_discover(&env_, ms, disc_done, d, &err)) {
		free(d);
		disc_fail_now(c, row, t->id, "bad_request", err ? err : "the server description is not usable");
		return;
	}
	discoveries++;
	dp_ctx_on_abort(c, disc_abort, d);
}

/* "Name: value" lines of an mcp.json entry's headers (heap, NULL-terminated). */
static char **entry_header_lines(const json_t *e)
{
	json_t *h = json_object_get(e, "headers");
	char **hl = xcalloc(json_object_size(h) + 1, sizeof(*hl));
	size_t n = 0;
	const char *k;
	json_t *v;
	json_object_foreach(h, k, v) if (json_is_string(v)) hl[n++] = xasprintf("%s: %s", k, json_string_value(v));
	return hl;
}

/*
 * An mcp.json entry of a host with an agent: the entry is read through the
 * agent. A url entry is discovered from here (the same client as for
 * ephemeral servers); a URL on that host's loopback means a server only that
 * host can reach, and a stdio entry would have to run there: both get an
 * honest failure instead.
 */
struct rdisc {
	struct dp_ctx *c; /* NULL once the client left */
	struct dp_target t;
	json_t *row;
};

static void rdisc_abort(struct dp_ctx *c, void *arg)
{
	struct rdisc *r = arg;
	(void)c;
	r->c = NULL;
}

static void rdisc_done(struct dp_upstream_req *u, const struct dp_upstream_result *res, void *arg)
{
	struct rdisc *r = arg;
	(void)u;
	struct dp_ctx *c = r->c;
	if (!c)
		goto out;
	dp_ctx_on_abort(c, NULL, NULL);
	if (res->outcome != DP_UPSTREAM_OK || !json_is_object(res->json)) {
		int status;
		const char *code;
		char msg[320];
		remote_error(res, &status, &code, msg, sizeof(msg));
		disc_fail_now(c, r->row, r->t.id, code, msg);
		goto out;
	}
	const char *label = json_string_value(json_object_get(r->row, "label"));
	json_t *e = json_object_get(json_object_get(json_object_get(res->json, "content"), "mcpServers"), label);
	if (!json_is_object(e)) {
		disc_fail_now(c, r->row, r->t.id, "not_in_mcp_json", "the entry is no longer in the host's mcp.json");
		goto out;
	}
	const char *url = json_string_value(json_object_get(e, "url"));
	if (!url)
		url = json_string_value(json_object_get(e, "serverUrl"));
	if (!url) {
		disc_fail_now(
		        c, r->row, r->t.id, "agent_required",
		        "this stdio entry runs on the target's host: its tools can only be discovered on that host "
		        "(by LM Studio there); DaemonPulse does not start commands of another host");
		goto out;
	}
	struct dp_target probe;
	dp_target_init(&probe);
	snprintf(probe.url, sizeof(probe.url), "%s", url);
	int loop = dp_mcp_target_is_local(&probe);
	dp_target_release(&probe);
	if (loop) {
		disc_fail_now(
		        c, r->row, r->t.id, "agent_required",
		        "this url is on the loopback of the target's host: only that host can reach it, so its tools "
		        "can only be discovered there (by LM Studio)");
		goto out;
	}
	if (discoveries >= MAX_DISCOVERIES) {
		dp_reply_error(c, 429, "too_many_requests", "%d discoveries are running; try again shortly",
		               MAX_DISCOVERIES);
		goto out;
	}
	char **hl = entry_header_lines(e);
	struct dp_mcp_server ms = {.transport = DP_MCP_AUTO, .url = url, .headers = (const char *const *)hl};
	disc_start(c, &r->t, r->row, &ms);
	dp_mcp_strv_free(hl);
out:
	json_decref(r->row);
	dp_target_release(&r->t);
	free(r);
}

static void rdisc_start(struct dp_ctx *c, const struct dp_target *t, const json_t *row)
{
	struct rdisc *r = xcalloc(1, sizeof(*r));
	r->c = c;
	dp_target_copy(&r->t, t);
	r->row = json_incref((json_t *)row);
	const char *err = NULL;
	if (!dp_agent_client_mcp_get(c->srv, t->id, rdisc_done, r, &err)) {
		disc_fail_now(c, row, t->id, "agent_error", err ? err : "cannot reach the agent");
		json_decref(r->row);
		dp_target_release(&r->t);
		free(r);
		return;
	}
	dp_ctx_on_abort(c, rdisc_abort, r);
}

static void discover(struct dp_ctx *c)
{
	struct dp_target t;
	json_t *row = NULL, *root = NULL;
	char **hl = NULL, **argv = NULL, **env = NULL;
	if (load_target(c, &t) < 0 || load_server(c, &t, &row) < 0) {
		dp_target_release(&t);
		return;
	}
	struct dp_mcp_server ms = {.transport = DP_MCP_AUTO};
	const char *label = json_string_value(json_object_get(row, "label"));
	if (discoveries >= MAX_DISCOVERIES) {
		dp_reply_error(c, 429, "too_many_requests", "%d discoveries are running; try again shortly",
		               MAX_DISCOVERIES);
		goto out;
	}
	if (is_kind(row, "ephemeral")) {
		if (dp_mcp_server_header_lines(row, c->srv->secret, &hl) < 0) {
			dp_reply_error(
			        c, 500, "token_unreadable",
			        "the stored header values cannot be decrypted with this secret.key; set them again");
			goto out;
		}
		ms.url = json_string_value(json_object_get(row, "url"));
		ms.headers = (const char *const *)hl;
	} else {
		if (dp_agent_client_enrolled(c->srv->store, t.id)) {
			rdisc_start(c, &t, row);
			goto out;
		}
		if (!dp_mcp_target_is_local(&t)) {
			disc_fail_now(c, row, t.id, "agent_required",
			              "this target is on another host: its mcp.json servers can only be discovered "
			              "on that host, and reading that file needs the DaemonPulse agent; enrol one (Add "
			              "agent)");
			goto out;
		}
		char path[PATH_MAX];
		const char *why = NULL;
		json_t *e = NULL;
		if (dp_mcp_json_path(path, sizeof(path)) < 0 || dp_mcp_json_load(path, &root, &why) < 0 ||
		    !json_is_object(e = json_object_get(json_object_get(root, "mcpServers"), label))) {
			disc_fail_now(c, row, t.id, "not_in_mcp_json", "the entry is no longer in mcp.json");
			goto out;
		}
		const char *url = json_string_value(json_object_get(e, "url"));
		if (!url)
			url = json_string_value(json_object_get(e, "serverUrl"));
		const char *cmd = json_string_value(json_object_get(e, "command"));
		if (url) {
			json_t *h = json_object_get(e, "headers");
			json_t *hs = json_object();
			const char *k;
			json_t *v;
			json_object_foreach(h, k, v) if (json_is_string(v))
			        json_object_set_new(hs, k, json_sprintf("%s: %s", k, json_string_value(v)));
			hl = xcalloc(json_object_size(hs) + 1, sizeof(*hl));
			size_t n = 0;
			json_object_foreach(hs, k, v) hl[n++] = xstrdup(json_string_value(v));
			json_decref(hs);
			ms.url = url;
			ms.headers = (const char *const *)hl;
		} else if (cmd) {
			if (c->user.role < DP_ROLE_ADMIN) {
				dp_reply_error(c, 403, "forbidden",
				               "discovering a stdio server runs its command on this host: admins only");
				goto out;
			}
			json_t *args = json_object_get(e, "args");
			argv = xcalloc(json_array_size(args) + 2, sizeof(*argv));
			size_t n = 0, i;
			json_t *a;
			argv[n++] = xstrdup(cmd);
			json_array_foreach(args, i, a) if (json_is_string(a)) argv[n++] = xstrdup(json_string_value(a));
			env = strv_from_obj(json_object_get(e, "env"));
			ms.transport = DP_MCP_STDIO;
			ms.argv = (const char *const *)argv;
			ms.env = (const char *const *)env;
			audit(c, "mcp.stdio.spawn", t.label, DP_AUDIT_OK,
			      json_pack("{s:s,s:s}", "label", label, "command", cmd));
		} else {
			disc_fail_now(c, row, t.id, "protocol_error", "the mcp.json entry has neither url nor command");
			goto out;
		}
	}
	disc_start(c, &t, row, &ms);
out:
	dp_mcp_strv_free(hl);
	dp_mcp_strv_free(argv);
	dp_mcp_strv_free(env);
	json_decref(root);
	json_decref(row);
	dp_target_release(&t);
}

/* ------------------------------------------------------------- mcp.json */

static int local_path(struct dp_ctx *c, const struct dp_target *t, char *path, size_t len)
{
	if (!dp_mcp_target_is_local(t)) {
		dp_reply_error(c, 409, "agent_required",
		               "this target is on another host: editing its mcp.json needs the DaemonPulse agent on "
		               "that host; "
		               "enrol one (Add agent)");
		return -1;
	}
	if (dp_mcp_json_path(path, len) < 0) {
		dp_reply_error(c, 500, "no_home", "the LM Studio home cannot be determined");
		return -1;
	}
	return 0;
}

static void json_put(struct dp_ctx *c)
{
	struct dp_target t;
	json_t *root = NULL, *entry = NULL;
	if (load_target(c, &t) < 0) {
		dp_target_release(&t);
		return;
	}
	char path[PATH_MAX];
	const char *label = dp_ctx_param(c, "label"), *why = NULL;
	if (dp_mcp_check_label(label, &why) < 0) {
		dp_reply_error(c, 400, "bad_request", "%s", why);
		goto out;
	}
	if (dp_agent_client_enrolled(c->srv->store, t.id)) {
		/* validate now (a quick 400), merge again over the host's entry later */
		entry = dp_mcp_json_entry_merge(NULL, c->body, &why);
		if (!entry) {
			dp_reply_error(c, 400, "bad_request", "%s", why);
			goto out;
		}
		remote_start(c, &t, REMOTE_PUT, label);
		goto out;
	}
	if (local_path(c, &t, path, sizeof(path)) < 0)
		goto out;
	int rc = dp_mcp_json_load(path, &root, &why);
	if (rc < 0 && rc != -ENOENT) {
		dp_reply_error(c, 409, "invalid_mcp_json", "%s; fix the file first",
		               why ? why : "mcp.json cannot be used");
		goto out;
	}
	json_t *servers = json_object_get(root, "mcpServers");
	entry = dp_mcp_json_entry_merge(json_object_get(servers, label), c->body, &why);
	if (!entry) {
		dp_reply_error(c, 400, "bad_request", "%s", why);
		goto out;
	}
	json_object_set(servers, label, entry);
	rc = dp_mcp_json_write(path, root);
	if (rc < 0) {
		dp_reply_error(c, 500, "write_failed", "could not write mcp.json: %s", strerror(-rc));
		goto out;
	}
	json_t *names = json_array();
	const char *k;
	json_t *v;
	json_object_foreach(json_object_get(entry, "headers"), k, v) json_array_append_new(names, json_string(k));
	json_object_foreach(json_object_get(entry, "env"), k, v) json_array_append_new(names, json_string(k));
	audit(c, "mcp.mcp_json.put", t.label, DP_AUDIT_OK,
	      json_pack("{s:s,s:s,s:o}", "label", label, "kind", json_object_get(entry, "url") ? "http" : "stdio",
	                "names", names));
	json_t *mj = NULL;
	json_t *list = dp_mcp_servers_list(c->srv->store, &t, &mj);
	json_t *found = NULL;
	size_t i;
	json_array_foreach(list, i, v) if (strcmp(json_string_value(json_object_get(v, "kind")), "mcp_json") == 0 &&
	                                   strcmp(json_string_value(json_object_get(v, "label")), label) == 0) found =
	        v;
	dp_reply_json(c, 200, json_pack("{s:O}", "server", found ? found : json_null()));
	json_decref(list);
	json_decref(mj);
out:
	json_decref(entry);
	json_decref(root);
	dp_target_release(&t);
}

static void json_del(struct dp_ctx *c)
{
	struct dp_target t;
	json_t *root = NULL;
	if (load_target(c, &t) < 0) {
		dp_target_release(&t);
		return;
	}
	char path[PATH_MAX];
	const char *label = dp_ctx_param(c, "label"), *why = NULL;
	if (dp_agent_client_enrolled(c->srv->store, t.id)) {
		if (dp_mcp_check_label(label, &why) < 0)
			dp_reply_error(c, 404, "not_found", "no such mcp.json entry");
		else
			remote_start(c, &t, REMOTE_DEL, label);
		goto out;
	}
	if (local_path(c, &t, path, sizeof(path)) < 0)
		goto out;
	int rc = dp_mcp_json_load(path, &root, &why);
	json_t *servers = json_object_get(root, "mcpServers");
	if (rc < 0 || !label || !json_object_get(servers, label)) {
		if (rc < 0 && rc != -ENOENT)
			dp_reply_error(c, 409, "invalid_mcp_json", "%s", why ? why : "mcp.json cannot be used");
		else
			dp_reply_error(c, 404, "not_found", "no such mcp.json entry");
		goto out;
	}
	json_object_del(servers, label);
	rc = dp_mcp_json_write(path, root);
	if (rc < 0) {
		dp_reply_error(c, 500, "write_failed", "could not write mcp.json: %s", strerror(-rc));
		goto out;
	}
	json_t *mj = NULL;
	json_decref(dp_mcp_servers_list(c->srv->store, &t, &mj)); /* marks the row gone */
	json_decref(mj);
	audit(c, "mcp.mcp_json.delete", t.label, DP_AUDIT_OK, json_pack("{s:s}", "label", label));
	dp_reply_empty(c);
out:
	json_decref(root);
	dp_target_release(&t);
}

/* ------------------------------------------------------------- dispatch */

/* ids from "3,4" (query) or [3,4] (body); NULL = all. -1 after replying. */
static int parse_ids(struct dp_ctx *c, json_t *arr, const char *q, json_t **out)
{
	*out = NULL;
	if (q) {
		arr = json_array();
		const char *p = q;
		while (*p) {
			char *end;
			long long v = strtoll(p, &end, 10);
			if (end == p || v < 1) {
				json_decref(arr);
				dp_reply_error(c, 400, "bad_request", "%s", "servers must be a list of server ids");
				return -1;
			}
			json_array_append_new(arr, json_integer(v));
			p = *end == ',' ? end + 1 : end;
			if (*end && *end != ',') {
				json_decref(arr);
				dp_reply_error(c, 400, "bad_request", "%s", "servers must be a list of server ids");
				return -1;
			}
		}
		*out = arr;
	} else if (arr) {
		size_t i;
		json_t *v;
		json_array_foreach(arr, i, v) if (!json_is_integer(v) || json_integer_value(v) < 1)
		{
			dp_reply_error(c, 400, "bad_request", "%s", "servers must be an array of server ids");
			return -1;
		}
		*out = json_incref(arr);
	}
	if (*out && json_array_size(*out) > MAX_RUN_SERVERS) {
		json_decref(*out);
		dp_reply_error(c, 400, "bad_request", "at most %d servers", MAX_RUN_SERVERS);
		return -1;
	}
	return 0;
}

static void preview(struct dp_ctx *c)
{
	struct dp_target t;
	if (load_target(c, &t) < 0) {
		dp_target_release(&t);
		return;
	}
	json_t *ids = NULL, *items, *skipped, *allowed;
	if (parse_ids(c, NULL, dp_ctx_query(c, "servers"), &ids) < 0) {
		dp_target_release(&t);
		return;
	}
	json_t *mj = NULL;
	json_decref(dp_mcp_servers_list(c->srv->store, &t, &mj)); /* current mcp.json */
	json_decref(mj);
	json_decref(dp_mcp_integrations(c->srv->store, c->srv->secret, &t, ids, 0, &items, &skipped, &allowed));
	json_decref(allowed);
	json_decref(ids);
	dp_reply_json(c, 200, json_pack("{s:o,s:o}", "integrations", items, "skipped", skipped));
	dp_target_release(&t);
}

static void run_event(void *arg, const char *name, const char *json, size_t len)
{
	dp_mcp_watch_event(arg, name, json, len);
}

static void run_free(void *arg)
{
	dp_mcp_watch_free(arg);
}

static void run(struct dp_ctx *c)
{
	struct dp_target t;
	if (load_target(c, &t) < 0) {
		dp_target_release(&t);
		return;
	}
	json_t *b = c->body, *ids = NULL, *items = NULL, *skipped = NULL, *allowed = NULL, *integ = NULL;
	const char *api = json_string_value(json_object_get(b, "api"));
	json_t *sv = json_object_get(b, "servers");
	if (!json_is_object(b) || (json_object_get(b, "api") && !json_is_null(json_object_get(b, "api")) &&
	                           (!api || strcmp(api, "v1") != 0))) {
		dp_reply_error(c, 400, "bad_request", "%s",
		               "the toolchain runs on LM Studio's v1 chat: api must be \"v1\"");
		goto out;
	}
	if (!json_is_array(sv) || json_array_size(sv) < 1) {
		dp_reply_error(c, 400, "bad_request", "%s", "servers must be an array of 1 to 16 server ids");
		goto out;
	}
	if (parse_ids(c, sv, NULL, &ids) < 0)
		goto out;
	json_t *mj = NULL;
	json_decref(dp_mcp_servers_list(c->srv->store, &t, &mj));
	json_decref(mj);
	integ = dp_mcp_integrations(c->srv->store, c->srv->secret, &t, ids, 1, &items, &skipped, &allowed);
	if (!json_array_size(integ)) {
		char *s = json_dumps(skipped, JSON_COMPACT);
		dp_reply_error(c, 409, "no_tools", "none of the servers has an allowed tool (skipped: %.400s)",
		               s ? s : "");
		free(s);
		json_decref(allowed);
		goto out;
	}
	char ip[64];
	snprintf(ip, sizeof(ip), "%s", dp_ctx_peer(c) ? dp_ctx_peer(c) : "");
	struct dp_mcp_watch *w =
	        dp_mcp_watch_new(c->srv->store, c->user.id, c->user.username, ip, t.label, "", allowed);
	struct dp_chat_hook hook = {.integrations = integ, .on_event = run_event, .on_free = run_free, .arg = w};
	dp_api_chat_run(c, &hook);
out:
	json_decref(ids);
	json_decref(items);
	json_decref(skipped);
	json_decref(integ);
	dp_target_release(&t);
}

const struct dp_route dp_api_mcp_routes[] = {
        {.method = "GET", .path = "/api/targets/{id}/mcp", .fn = list, .role = DP_ROLE_VIEWER},
        {.method = "POST", .path = "/api/targets/{id}/mcp/servers", .fn = create, .role = DP_ROLE_ADMIN},
        {.method = "PATCH", .path = "/api/targets/{id}/mcp/servers/{sid}", .fn = patch, .role = DP_ROLE_ADMIN},
        {.method = "DELETE", .path = "/api/targets/{id}/mcp/servers/{sid}", .fn = del, .role = DP_ROLE_ADMIN},
        {.method = "POST",
         .path = "/api/targets/{id}/mcp/servers/{sid}/discover",
         .fn = discover,
         .role = DP_ROLE_OPERATOR},
        {.method = "GET", .path = "/api/targets/{id}/mcp/servers/{sid}/tools", .fn = tools, .role = DP_ROLE_VIEWER},
        {.method = "PUT", .path = "/api/targets/{id}/mcp/servers/{sid}/policy", .fn = policy, .role = DP_ROLE_ADMIN},
        {.method = "PUT", .path = "/api/targets/{id}/mcp/mcp-json/{label}", .fn = json_put, .role = DP_ROLE_ADMIN},
        {.method = "DELETE", .path = "/api/targets/{id}/mcp/mcp-json/{label}", .fn = json_del, .role = DP_ROLE_ADMIN},
        {.method = "GET", .path = "/api/targets/{id}/toolchain/integrations", .fn = preview, .role = DP_ROLE_OPERATOR},
        {.method = "POST", .path = "/api/targets/{id}/toolchain/run", .fn = run, .role = DP_ROLE_OPERATOR},
        {0}};
