/*
 * api_targets.c - /api/targets: daemon targets (CRUD, test connection),
 * their health, merged models view, GPUs, the Kill Switch, and each
 * user's active target. Shapes and status codes: docs/api-targets.md.
 *
 * Tokens are write-only: they are decrypted only to be handed to the
 * upstream client (which copies and wipes them) and never appear in a
 * response, an audit detail or a log line.
 *
 * Handlers that talk to a daemon answer later. Their state (struct op)
 * holds the request's ctx until the client goes away (dp_ctx_on_abort
 * clears it); the upstream/lms callbacks, which always run once, free the
 * state when the last of them is done.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent_client.h"
#include "api.h"
#include "audit.h"
#include "auth.h"
#include "events.h"
#include "forge.h"
#include "health.h"
#include "http.h"
#include "lms.h"
#include "secret.h"
#include "server.h"
#include "store.h"
#include "targets.h"
#include "upstream.h"
#include "xmalloc.h"

#define MODELS_CACHE_MS   2000
#define GPUS_CACHE_MS     10000
#define TEST_TIMEOUT_MS   10000
#define UNLOAD_TIMEOUT_MS 60000
#define UNLOAD_MAX        256
#define MODELS_TIMEOUT_MS 10000

static int64_t now_s(struct dp_ctx *c)
{
	return dp_auth_now(c->srv->auth);
}

static void target_ref(char out[40], int64_t id)
{
	snprintf(out, 40, "target:%lld", (long long)id);
}

static json_t *target_full(struct dp_ctx *c, const struct dp_target *t)
{
	json_t *j = dp_target_json(t);
	json_t *h = dp_health_json(c->srv->health, t->id);
	json_object_set_new(j, "health", h ? h : json_pack("{s:s}", "state", "unknown"));
	/* the host agent (agent_client.h): enrolled, URL, token hint; never the token */
	struct dp_agent_link al;
	int arc = dp_agent_client_get(c->srv->store, t->id, &al);
	json_object_set_new(j, "agent", dp_agent_client_json(arc == 0 ? &al : NULL));
	dp_agent_link_release(&al);
	return j;
}

static void publish_target(struct dp_ctx *c, const char *action, int64_t id, json_t *target)
{
	json_t *d = json_pack("{s:s, s:I, s:o}", "action", action, "target_id", (json_int_t)id, "target",
	                      target ? target : json_null());
	dp_events_publish(c->srv->events, "target", d);
	json_decref(d);
}

/* 502 (504 for a timeout) with the upstream's code; "unauthorized" is
 * renamed so the web UI does not mistake it for its own session ending. */
static void reply_upstream(struct dp_ctx *c, const struct dp_upstream_result *res)
{
	const char *code = res->outcome == DP_UPSTREAM_UNAUTHORIZED ? "daemon_unauthorized" : res->code;
	dp_reply_error(c, res->outcome == DP_UPSTREAM_STALLED ? 504 : 502, code, "%s",
	               res->message && *res->message ? res->message : dp_upstream_outcome_name(res->outcome));
}

/* The target of {id}, from the hub's copy; replies 404 when unknown. */
static const struct dp_target *path_target(struct dp_ctx *c)
{
	int64_t id = dp_ctx_param_id(c, "id");
	const struct dp_target *t = id > 0 ? dp_health_target(c->srv->health, id) : NULL;
	if (!t)
		dp_reply_error(c, 404, "not_found", "no such target");
	return t;
}

/* ------------------------------------------------------------ body */

enum key_action { KEY_UNCHANGED, KEY_SET, KEY_REMOVE };

/*
 * Apply the body's fields to t (POST: every required field must be there).
 * The token is returned in *key (borrowed from the body) with *ka. 0, or -1
 * after replying 400.
 */
static int apply_body(struct dp_ctx *c, struct dp_target *t, int create, int require_label, enum key_action *ka,
                      const char **key)
{
	json_t *b = c->body;
	const char *why;
	*ka = KEY_UNCHANGED;
	*key = NULL;
	if (!json_is_object(b)) {
		dp_reply_error(c, 400, "bad_request", "expected a JSON object");
		return -1;
	}
	json_t *v = json_object_get(b, "label");
	if (v || (create && require_label)) {
		const char *s = json_string_value(v);
		if (dp_target_check_label(s, &why) < 0) {
			dp_reply_error(c, 400, "invalid_label", "%s", v && !s ? "label must be a string" : why);
			return -1;
		}
		snprintf(t->label, sizeof(t->label), "%s", s);
	}
	v = json_object_get(b, "url");
	if (v || create) {
		const char *s = json_string_value(v);
		if (dp_target_check_url(s, &why) < 0) {
			dp_reply_error(c, 400, "invalid_url", "%s", v && !s ? "url must be a string" : why);
			return -1;
		}
		snprintf(t->url, sizeof(t->url), "%s", s);
	}
	v = json_object_get(b, "api_key");
	if (v) {
		if (json_is_null(v) || (json_is_string(v) && json_string_length(v) == 0)) {
			*ka = KEY_REMOVE;
		} else if (!json_is_string(v) || dp_target_check_api_key(json_string_value(v), &why) < 0) {
			dp_reply_error(c, 400, "invalid_api_key", "%s",
			               json_is_string(v) ? why : "api_key must be a string");
			return -1;
		} else {
			*ka = KEY_SET;
			*key = json_string_value(v);
		}
	}
	v = json_object_get(b, "lms_host");
	if (v) {
		if (json_is_null(v) || (json_is_string(v) && json_string_length(v) == 0)) {
			t->lms_host[0] = '\0';
		} else if (!json_is_string(v) || dp_target_check_lms_host(json_string_value(v), &why) < 0) {
			dp_reply_error(c, 400, "invalid_lms_host", "%s",
			               json_is_string(v) ? why : "lms_host must be a string");
			return -1;
		} else {
			snprintf(t->lms_host, sizeof(t->lms_host), "%s", json_string_value(v));
		}
	}
	v = json_object_get(b, "lms_port");
	if (v) {
		if (json_is_null(v)) {
			t->lms_port = 0;
		} else if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 65535) {
			dp_reply_error(c, 400, "invalid_lms_port", "lms_port must be an integer 1..65535");
			return -1;
		} else {
			t->lms_port = (int)json_integer_value(v);
		}
	}
	v = json_object_get(b, "tags");
	if (v) {
		if (dp_target_check_tags(v, &why) < 0) {
			dp_reply_error(c, 400, "invalid_tags", "%s", why);
			return -1;
		}
		char *txt = json_dumps(v, JSON_COMPACT);
		snprintf(t->tags, sizeof(t->tags), "%s", txt ? txt : "[]");
		free(txt);
	}
	return 0;
}

static const char *key_word(enum key_action ka, int had)
{
	return ka == KEY_SET ? "set" : ka == KEY_REMOVE ? (had ? "removed" : "none") : "unchanged";
}

/* ------------------------------------------------------------ CRUD */

struct list_arg {
	struct dp_ctx *c;
	json_t *arr;
};

static int add_target(const struct dp_target *t, void *arg)
{
	struct list_arg *a = arg;
	json_array_append_new(a->arr, target_full(a->c, t));
	return 0;
}

static void list(struct dp_ctx *c)
{
	struct list_arg a = {c, json_array()};
	int64_t active = 0;
	if (dp_targets_each(c->srv->store, add_target, &a) < 0 ||
	    dp_targets_active_get(c->srv->store, c->user.id, &active) < 0) {
		json_decref(a.arr);
		dp_reply_error(c, 500, "internal", "could not list targets");
		return;
	}
	dp_reply_json(c, 200,
	              json_pack("{s:o, s:o}", "targets", a.arr, "active_target_id",
	                        active ? json_integer(active) : json_null()));
}

static void create(struct dp_ctx *c)
{
	struct dp_target t;
	dp_target_init(&t);
	enum key_action ka;
	const char *key;
	if (apply_body(c, &t, 1, 1, &ka, &key) < 0)
		return;
	int64_t n = 0;
	if (dp_targets_count(c->srv->store, &n) == 0 && n >= DP_TARGETS_MAX) {
		dp_reply_error(c, 409, "limit_reached", "at most %d targets", DP_TARGETS_MAX);
		return;
	}
	if (ka == KEY_SET)
		dp_target_set_token(&t, c->srv->secret, key);
	int rc = dp_targets_insert(c->srv->store, &t, now_s(c));
	char ref[40];
	target_ref(ref, t.id);
	json_t *d = json_pack("{s:s, s:s, s:s}", "label", t.label, "url", t.url, "api_key", key_word(ka, 0));
	dp_audit_ctx(c, "target.create", rc == 0 ? ref : NULL, rc == 0 ? DP_AUDIT_OK : DP_AUDIT_FAILED, d);
	json_decref(d);
	if (rc == -EEXIST)
		dp_reply_error(c, 409, "label_taken", "a target labelled '%s' already exists", t.label);
	else if (rc < 0)
		dp_reply_error(c, 500, "internal", "could not save the target");
	else {
		dp_health_set_target(c->srv->health, &t);
		publish_target(c, "created", t.id, target_full(c, &t));
		dp_reply_json(c, 201, json_pack("{s:o}", "target", target_full(c, &t)));
	}
	dp_target_release(&t);
}

static void get_one(struct dp_ctx *c)
{
	struct dp_target t;
	int64_t id = dp_ctx_param_id(c, "id");
	if (id < 0 || dp_targets_get(c->srv->store, id, &t) < 0) {
		dp_reply_error(c, 404, "not_found", "no such target");
		return;
	}
	dp_reply_json(c, 200, json_pack("{s:o}", "target", target_full(c, &t)));
	dp_target_release(&t);
}

static void patch(struct dp_ctx *c)
{
	struct dp_target t;
	int64_t id = dp_ctx_param_id(c, "id");
	if (id < 0 || dp_targets_get(c->srv->store, id, &t) < 0) {
		dp_reply_error(c, 404, "not_found", "no such target");
		return;
	}
	enum key_action ka;
	const char *key;
	int had = t.api_key_enc != NULL;
	if (apply_body(c, &t, 0, 0, &ka, &key) < 0) {
		dp_target_release(&t);
		return;
	}
	if (ka != KEY_UNCHANGED)
		dp_target_set_token(&t, c->srv->secret, ka == KEY_SET ? key : NULL);
	int rc = dp_targets_update(c->srv->store, &t, now_s(c));
	char ref[40];
	target_ref(ref, id);
	json_t *fields = json_array();
	const char *names[] = {"label", "url", "lms_host", "lms_port", "tags"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (json_object_get(c->body, names[i]))
			json_array_append_new(fields, json_string(names[i]));
	json_t *d = json_pack("{s:s, s:s, s:o}", "label", t.label, "api_key", key_word(ka, had), "fields", fields);
	if (json_object_get(c->body, "url"))
		json_object_set_new(d, "url", json_string(t.url));
	dp_audit_ctx(c, "target.update", ref, rc == 0 ? DP_AUDIT_OK : DP_AUDIT_FAILED, d);
	json_decref(d);
	if (rc == -EEXIST)
		dp_reply_error(c, 409, "label_taken", "a target labelled '%s' already exists", t.label);
	else if (rc == -ENOENT)
		dp_reply_error(c, 404, "not_found", "no such target");
	else if (rc < 0)
		dp_reply_error(c, 500, "internal", "could not save the target");
	else {
		dp_health_set_target(c->srv->health, &t);
		publish_target(c, "updated", t.id, target_full(c, &t));
		dp_reply_json(c, 200, json_pack("{s:o}", "target", target_full(c, &t)));
	}
	dp_target_release(&t);
}

static void del(struct dp_ctx *c)
{
	int64_t id = dp_ctx_param_id(c, "id");
	struct dp_target t;
	if (id < 0 || dp_targets_get(c->srv->store, id, &t) < 0) {
		dp_reply_error(c, 404, "not_found", "no such target");
		return;
	}
	int rc = dp_targets_delete(c->srv->store, id);
	char ref[40];
	target_ref(ref, id);
	json_t *d = json_pack("{s:s, s:s}", "label", t.label, "url", t.url);
	dp_audit_ctx(c, "target.delete", ref, rc == 0 ? DP_AUDIT_OK : DP_AUDIT_FAILED, d);
	json_decref(d);
	dp_target_release(&t);
	if (rc == -ENOENT) {
		dp_reply_error(c, 404, "not_found", "no such target");
		return;
	}
	if (rc < 0) {
		dp_reply_error(c, 500, "internal", "could not delete the target");
		return;
	}
	dp_health_remove_target(c->srv->health, id);
	publish_target(c, "deleted", id, NULL);
	dp_reply_empty(c);
}

static void health(struct dp_ctx *c)
{
	int64_t id = dp_ctx_param_id(c, "id");
	json_t *h = id > 0 ? dp_health_json(c->srv->health, id) : NULL;
	if (!h) {
		dp_reply_error(c, 404, "not_found", "no such target");
		return;
	}
	dp_reply_json(c, 200, json_pack("{s:I, s:o}", "target_id", (json_int_t)id, "health", h));
}

static void active_target(struct dp_ctx *c)
{
	json_t *v = c->body ? json_object_get(c->body, "target_id") : NULL;
	if (!v || (!json_is_null(v) && !json_is_integer(v))) {
		dp_reply_error(c, 400, "bad_request", "expected {\"target_id\": id or null}");
		return;
	}
	int64_t id = json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
	struct dp_target t;
	if (id != 0) {
		if (id < 0 || dp_targets_get(c->srv->store, id, &t) < 0) {
			dp_reply_error(c, 404, "not_found", "no such target");
			return;
		}
		dp_target_release(&t);
	}
	int rc = dp_targets_active_set(c->srv->store, c->user.id, id, now_s(c));
	if (rc < 0) {
		dp_reply_error(c, rc == -ENOENT ? 404 : 500, rc == -ENOENT ? "not_found" : "internal",
		               "could not remember the active target");
		return;
	}
	dp_reply_json(c, 200, json_pack("{s:o}", "active_target_id", id ? json_integer(id) : json_null()));
}

/* ------------------------------------------------------ async helper */

struct op {
	struct dp_ctx *c; /* NULL once the client went away */
	struct dp_server *srv;
	int64_t target_id;
	int pending; /* callbacks still to come */
	/* audit identity, kept because the ctx may go first */
	int64_t user_id;
	char username[DP_USERNAME_MAX + 1];
	char ip[64];
	/* models */
	json_t *v1;
	struct dp_upstream_result v1res; /* outcome/code/message copies below */
	char v1code[40], v1msg[512];
	json_t *ps;
	char lms_code[32], lms_msg[256];
	int lms_tried;
	/* unload */
	json_t *results;
	int requested, unloaded, failed;
	/* test */
	int saved; /* test of a saved target (audited) */
};

static void op_abort(struct dp_ctx *c, void *arg)
{
	struct op *o = arg;
	(void)c;
	o->c = NULL;
}

static struct op *op_new(struct dp_ctx *c, int64_t target_id)
{
	struct op *o = xcalloc(1, sizeof(*o));
	o->c = c;
	o->srv = c->srv;
	o->target_id = target_id;
	o->user_id = c->user.id;
	snprintf(o->username, sizeof(o->username), "%s", c->user.username);
	snprintf(o->ip, sizeof(o->ip), "%s", dp_ctx_peer(c));
	dp_ctx_on_abort(c, op_abort, o);
	return o;
}

/* An op that answers no request itself (a coalesced fetch). */
static struct op *op_new_bg(struct dp_server *srv, int64_t target_id)
{
	struct op *o = xcalloc(1, sizeof(*o));
	o->srv = srv;
	o->target_id = target_id;
	return o;
}

/* A request waiting for a coalesced fetch (health.h). */
struct wait {
	struct dp_ctx *c;
	struct dp_health *h;
	struct dp_health_waiter *w;
};

static void wait_abort(struct dp_ctx *c, void *arg)
{
	struct wait *x = arg;
	(void)c;
	dp_health_fetch_leave(x->h, x->w);
	free(x);
}

static void wait_done(int status, json_t *body, void *arg)
{
	struct wait *x = arg; /* its waiter was freed by the hub */
	struct dp_ctx *c = x->c;
	free(x);
	dp_ctx_on_abort(c, NULL, NULL);
	dp_reply_json(c, status, json_incref(body));
}

/* Queue c for (id, k). 1: the caller starts the fetch; 0: queued; -1:
 * replied 404. */
static int wait_join(struct dp_ctx *c, int64_t id, enum dp_health_cache k)
{
	struct wait *x = xcalloc(1, sizeof(*x));
	x->c = c;
	x->h = c->srv->health;
	int rc = dp_health_fetch_join(x->h, id, k, wait_done, x, &x->w);
	if (rc < 0) {
		free(x);
		dp_reply_error(c, 404, "not_found", "no such target");
		return -1;
	}
	dp_ctx_on_abort(c, wait_abort, x);
	return rc;
}

static json_t *error_body(const char *code, const char *msg)
{
	return json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", msg);
}

/* Take the ctx to answer it (NULL when the client is gone): stop
 * listening for its abort first, since the request ends with the reply. */
static struct dp_ctx *op_take(struct op *o)
{
	struct dp_ctx *c = o->c;
	if (c)
		dp_ctx_on_abort(c, NULL, NULL);
	o->c = NULL;
	return c;
}

static void op_free(struct op *o)
{
	json_decref(o->v1);
	json_decref(o->ps);
	json_decref(o->results);
	free(o);
}

static struct dp_upstream_req *start_upstream(struct dp_server *srv, const struct dp_target *t, const char *method,
                                              const char *path, const char *body, int timeout_ms,
                                              dp_upstream_done_fn done, void *arg, const char **err)
{
	return dp_target_request(srv->upstream, srv->secret, t, method, path, body, timeout_ms, done, arg, err);
}

/* lms target of t; 0, or -1 with a reason. host/key are caller buffers. */
static int lms_target(const struct dp_target *t, struct dp_lms_target *lt, char host[DP_TARGET_HOST_MAX + 1],
                      char key[40])
{
	int port, derived;
	if (dp_target_lms_endpoint(t, host, &port, &derived) < 0)
		return -1;
	target_ref(key, t->id);
	lt->key = key;
	lt->host = host;
	lt->port = port;
	return 0;
}

/* ------------------------------------------------------------ test */

static void test_done(struct dp_upstream_req *r, const struct dp_upstream_result *res, void *arg)
{
	struct op *o = arg;
	(void)r;
	struct dp_ctx *c = op_take(o);
	if (c) {
		enum dp_health_state s = dp_health_classify(res);
		size_t nmodels = 0, ninst = 0;
		uint64_t w;
		char fp[33];
		const char *code = res->code, *msg = res->message;
		int ok = s == DP_HEALTH_RUNNING;
		if (ok && dp_health_fingerprint(res->json, fp, NULL, &nmodels, &w, &ninst) < 0) {
			ok = 0;
			s = DP_HEALTH_ERROR;
			code = "unexpected_body";
			msg = "the daemon answered GET /api/v1/models without a models list";
		}
		if (res->outcome == DP_UPSTREAM_CANCELLED) {
			dp_reply_error(c, 503, "unavailable", "the server is shutting down");
		} else {
			if (o->saved) {
				char ref[40];
				target_ref(ref, o->target_id);
				json_t *d = json_pack("{s:s}", "state", dp_health_state_name(s));
				dp_audit_ctx(c, "target.test", ref, ok ? DP_AUDIT_OK : DP_AUDIT_FAILED, d);
				json_decref(d);
			}
			json_t *lat = res->status > 0 ? json_integer((json_int_t)(res->total_ms + 0.5)) : json_null();
			dp_reply_json(
			        c, 200,
			        json_pack("{s:b, s:s, s:o, s:o, s:o, s:o}", "ok", ok, "state", dp_health_state_name(s),
			                  "latency_ms", lat, "models",
			                  ok ? json_integer((json_int_t)nmodels) : json_null(), "loaded",
			                  ok ? json_integer((json_int_t)ninst) : json_null(), "error",
			                  ok ? json_null() : json_pack("{s:s, s:s}", "code", code, "message", msg)));
		}
	}
	op_free(o);
}

static void run_test(struct dp_ctx *c, const struct dp_target *t, int saved)
{
	struct op *o = op_new(c, t->id);
	o->saved = saved;
	const char *err = NULL;
	if (!start_upstream(c->srv, t, "GET", "/api/v1/models", NULL, TEST_TIMEOUT_MS, test_done, o, &err)) {
		op_take(o);
		op_free(o);
		dp_reply_json(c, 200,
		              json_pack("{s:b, s:s, s:n, s:n, s:n, s:{s:s, s:s}}", "ok", 0, "state", "error",
		                        "latency_ms", "models", "loaded", "error", "code", "invalid_target", "message",
		                        err ? err : "invalid target"));
	}
}

static void test_saved(struct dp_ctx *c)
{
	const struct dp_target *t = path_target(c);
	if (t)
		run_test(c, t, 1);
}

static void test_draft(struct dp_ctx *c)
{
	struct dp_target t;
	dp_target_init(&t);
	json_t *tid = c->body ? json_object_get(c->body, "target_id") : NULL;
	if (tid) {
		const struct dp_target *saved =
		        json_is_integer(tid) ? dp_health_target(c->srv->health, (int64_t)json_integer_value(tid))
		                             : NULL;
		if (!saved) {
			dp_reply_error(c, 404, "not_found", "no such target");
			return;
		}
		dp_target_copy(&t, saved);
	}
	enum key_action ka;
	const char *key;
	if (apply_body(c, &t, !tid, 0, &ka, &key) < 0) {
		dp_target_release(&t);
		return;
	}
	if (ka != KEY_UNCHANGED)
		dp_target_set_token(&t, c->srv->secret, ka == KEY_SET ? key : NULL);
	run_test(c, &t, 0);
	dp_target_release(&t);
}

/* ---------------------------------------------------------- models */

static json_t *iso_ms(json_t *ms)
{
	return json_is_integer(ms) ? dp_health_time_json((int64_t)json_integer_value(ms)) : json_null();
}

static json_t *copy_or_null(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	return v ? json_deep_copy(v) : json_null();
}

static json_t *ps_entry(json_t *ps, const char *id)
{
	size_t i;
	json_t *e;
	if (!json_is_array(ps) || !id)
		return NULL;
	json_array_foreach(ps, i, e)
	{
		const char *ident = json_string_value(json_object_get(e, "identifier"));
		if (ident && strcmp(ident, id) == 0)
			return e;
	}
	return NULL;
}

/* JIT/TTL facts (src/forge.h) are merged into each instance so the Forge
 * shows remaining TTL and whether DaemonPulse loaded it, without a second
 * request; they are computed when the view is built (the cache is short). */
static json_t *merge_models(struct dp_server *srv, int64_t target_id, json_t *v1, json_t *ps)
{
	json_t *out = json_array(), *m;
	json_t *models = json_object_get(v1, "models");
	size_t i;
	json_array_foreach(models, i, m)
	{
		if (!json_is_object(m))
			continue;
		json_t *insts = json_array(), *li;
		json_t *src = json_object_get(m, "loaded_instances");
		size_t k;
		if (json_is_array(src))
			json_array_foreach(src, k, li)
			{
				const char *id = json_string_value(json_object_get(li, "id"));
				json_t *pe = ps_entry(ps, id);
				json_array_append_new(
				        insts, json_pack("{s:s?, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "id", id,
				                         "config", copy_or_null(li, "config"), "status",
				                         pe ? copy_or_null(pe, "status") : json_null(), "queued",
				                         pe ? copy_or_null(pe, "queued") : json_null(), "ttl_ms",
				                         pe ? copy_or_null(pe, "ttl_ms") : json_null(), "last_used_at",
				                         pe ? iso_ms(json_object_get(pe, "last_used_ms")) : json_null(),
				                         "context_length",
				                         pe ? copy_or_null(pe, "context_length") : json_null(),
				                         "parallel", pe ? copy_or_null(pe, "parallel") : json_null()));
				json_t *facts = dp_forge_instance_facts(
				        srv->forge, target_id, id, pe ? json_object_get(pe, "ttl_ms") : NULL,
				        pe ? json_object_get(pe, "last_used_ms") : NULL, dp_health_now_ms());
				if (facts) {
					json_object_update(json_array_get(insts, json_array_size(insts) - 1), facts);
					json_decref(facts);
				}
			}
		json_t *e = json_pack(
		        "{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "key", copy_or_null(m, "key"),
		        "display_name", copy_or_null(m, "display_name"), "type", copy_or_null(m, "type"), "publisher",
		        copy_or_null(m, "publisher"), "architecture", copy_or_null(m, "architecture"), "format",
		        copy_or_null(m, "format"), "quantization", copy_or_null(m, "quantization"), "size_bytes",
		        copy_or_null(m, "size_bytes"), "params", copy_or_null(m, "params_string"), "max_context_length",
		        copy_or_null(m, "max_context_length"), "capabilities", copy_or_null(m, "capabilities"),
		        "loaded_instances", insts);
		json_t *v;
		if ((v = json_object_get(m, "variants")))
			json_object_set(e, "variants", v);
		if ((v = json_object_get(m, "selected_variant")))
			json_object_set(e, "selected_variant", v);
		json_array_append_new(out, e);
	}
	return out;
}

static void models_finish(struct op *o)
{
	if (--o->pending > 0)
		return;
	struct dp_server *srv = o->srv;
	json_t *body;
	int status = 200;
	if (o->v1) {
		json_t *lms = o->lms_code[0] ? json_pack("{s:b, s:{s:s, s:s}}", "available", 0, "error", "code",
		                                         o->lms_code, "message", o->lms_msg)
		                             : json_pack("{s:b, s:n}", "available", 1, "error");
		body = json_pack("{s:I, s:o, s:b, s:o, s:o}", "target_id", (json_int_t)o->target_id, "fetched_at",
		                 dp_health_time_json(dp_health_now_ms()), "cached", 0, "lms", lms, "models",
		                 merge_models(srv, o->target_id, o->v1, o->ps));
		if (srv->health)
			dp_health_cache_put(srv->health, o->target_id, DP_HEALTH_CACHE_MODELS, json_incref(body));
	} else if (o->v1res.outcome == DP_UPSTREAM_CANCELLED) {
		status = 503;
		body = error_body("unavailable", "the server is shutting down");
	} else {
		const struct dp_upstream_result *res = &o->v1res;
		status = res->outcome == DP_UPSTREAM_STALLED ? 504 : 502;
		body = error_body(res->outcome == DP_UPSTREAM_UNAUTHORIZED ? "daemon_unauthorized" : res->code,
		                  res->message && *res->message ? res->message
		                                                : dp_upstream_outcome_name(res->outcome));
	}
	if (srv->health)
		dp_health_fetch_finish(srv->health, o->target_id, DP_HEALTH_CACHE_MODELS, status, body);
	json_decref(body);
	op_free(o);
}

static void models_v1_done(struct dp_upstream_req *r, const struct dp_upstream_result *res, void *arg)
{
	struct op *o = arg;
	(void)r;
	if (res->outcome == DP_UPSTREAM_OK && json_is_array(json_object_get(res->json, "models"))) {
		o->v1 = json_incref(res->json);
	} else {
		o->v1res = *res;
		snprintf(o->v1code, sizeof(o->v1code), "%s",
		         res->outcome == DP_UPSTREAM_OK ? "unexpected_body" : res->code);
		snprintf(o->v1msg, sizeof(o->v1msg), "%s",
		         res->outcome == DP_UPSTREAM_OK ? "the daemon answered without a models list" : res->message);
		if (res->outcome == DP_UPSTREAM_OK)
			o->v1res.outcome = DP_UPSTREAM_BAD_RESPONSE;
		o->v1res.code = o->v1code;
		o->v1res.message = o->v1msg;
		o->v1res.json = NULL;
		o->v1res.body = "";
	}
	models_finish(o);
}

static void lms_fail(struct op *o, const char *code, const char *msg)
{
	snprintf(o->lms_code, sizeof(o->lms_code), "%s", code);
	snprintf(o->lms_msg, sizeof(o->lms_msg), "%s", msg);
}

static void models_ps_done(const struct dp_lms_result *res, void *arg)
{
	struct op *o = arg;
	if (res->status == DP_LMS_OK && json_is_array(res->json))
		o->ps = json_incref(res->json);
	else
		lms_fail(o, res->code, res->message && *res->message ? res->message : res->code);
	models_finish(o);
}

static void models(struct dp_ctx *c)
{
	const struct dp_target *t = path_target(c);
	if (!t)
		return;
	struct dp_server *srv = c->srv;
	json_t *cached = dp_health_cache_get(srv->health, t->id, DP_HEALTH_CACHE_MODELS, MODELS_CACHE_MS);
	if (cached) {
		json_t *copy = json_copy(cached);
		json_object_set_new(copy, "cached", json_true());
		dp_reply_json(c, 200, copy);
		return;
	}
	if (wait_join(c, t->id, DP_HEALTH_CACHE_MODELS) != 1)
		return; /* queued behind the running fetch (or replied) */
	struct op *o = op_new_bg(srv, t->id);
	o->pending = 1; /* held until both requests are started */
	const char *err = NULL;
	o->pending++;
	if (!start_upstream(srv, t, "GET", "/api/v1/models", NULL, MODELS_TIMEOUT_MS, models_v1_done, o, &err)) {
		o->pending--;
		o->v1res.outcome = DP_UPSTREAM_BAD_RESPONSE;
		snprintf(o->v1code, sizeof(o->v1code), "invalid_target");
		snprintf(o->v1msg, sizeof(o->v1msg), "%s", err ? err : "invalid target");
		o->v1res.code = o->v1code;
		o->v1res.message = o->v1msg;
	}
	const char *reason = NULL;
	char host[DP_TARGET_HOST_MAX + 1], key[40];
	struct dp_lms_target lt;
	if (!srv->lms || !dp_lms_available(srv->lms, &reason)) {
		lms_fail(o, "unavailable", reason ? reason : "the lms bridge is not available");
	} else if (lms_target(t, &lt, host, key) < 0) {
		lms_fail(o, "no_lms_host", "no lms host for this target (set lms_host)");
	} else {
		struct dp_lms_req lr = {.cmd = DP_LMS_PS};
		o->pending++;
		dp_lms_call(srv->lms, &lt, &lr, models_ps_done, o);
	}
	models_finish(o); /* drop the hold */
}

/* ------------------------------------------------------------ gpus */

static json_t *vram_estimate(struct dp_server *srv, int64_t id, json_t *gpus)
{
	uint64_t w;
	size_t n;
	if (dp_health_loaded(srv->health, id, &w, &n) < 0)
		return json_null();
	if (json_array_size(gpus) == 1) {
		json_t *g = json_array_get(gpus, 0);
		json_t *cap = json_object_get(g, "vram_bytes");
		uint64_t used = w;
		if (json_is_integer(cap) && json_integer_value(cap) >= 0 && (uint64_t)json_integer_value(cap) < used)
			used = (uint64_t)json_integer_value(cap);
		json_object_set_new(g, "estimated_used_bytes", json_integer((json_int_t)used));
	} else {
		size_t i;
		json_t *g;
		json_array_foreach(gpus, i, g) json_object_set_new(g, "estimated_used_bytes", json_null());
	}
	return json_pack("{s:s, s:I, s:I, s:s}", "label", "estimated from loaded models", "loaded_weights_bytes",
	                 (json_int_t)w, "instances", (json_int_t)n, "basis",
	                 "sum of the model file sizes of loaded instances; KV cache and partial GPU offload not known");
}

static json_t *gpus_body(struct dp_server *srv, int64_t id, json_t *survey, const char *code, const char *msg)
{
	json_t *gpus = json_array();
	if (survey) {
		json_t *src = json_object_get(survey, "gpus"), *g;
		size_t i;
		json_array_foreach(src, i, g)
		{
			json_t *e = json_pack(
			        "{s:I, s:o, s:o, s:o, s:o, s:o, s:o}", "index", (json_int_t)i, "name",
			        copy_or_null(g, "name"), "vram_bytes", copy_or_null(g, "vram_bytes"), "total_bytes",
			        copy_or_null(g, "total_bytes"), "dedicated_bytes", copy_or_null(g, "dedicated_bytes"),
			        "platform", copy_or_null(g, "platform"), "integration", copy_or_null(g, "integration"));
			json_array_append_new(gpus, e);
		}
	}
	json_t *est = vram_estimate(srv, id, gpus);
	return json_pack("{s:I, s:s, s:b, s:o, s:o, s:o, s:o, s:o, s:o, s:n}", "target_id", (json_int_t)id, "source",
	                 "lms runtime survey", "available", survey != NULL, "error",
	                 survey ? json_null() : json_pack("{s:s, s:s}", "code", code, "message", msg), "status",
	                 survey ? copy_or_null(survey, "status") : json_null(), "engine",
	                 survey ? copy_or_null(survey, "primary_engine") : json_null(), "gpus", gpus, "memory",
	                 survey ? copy_or_null(survey, "memory") : json_null(), "vram_estimate", est, "live");
}

static void gpus_done(const struct dp_lms_result *res, void *arg)
{
	struct op *o = arg;
	struct dp_server *srv = o->srv;
	json_t *body;
	int status = 200;
	if (res->status == DP_LMS_OK && json_is_object(res->json)) {
		if (srv->health)
			dp_health_cache_put(srv->health, o->target_id, DP_HEALTH_CACHE_GPUS, json_incref(res->json));
		body = gpus_body(srv, o->target_id, res->json, NULL, NULL);
	} else if (res->status == DP_LMS_CANCELLED) {
		status = 503;
		body = error_body("unavailable", "the server is shutting down");
	} else {
		body = gpus_body(srv, o->target_id, NULL, res->code,
		                 res->message && *res->message ? res->message : res->code);
	}
	if (srv->health)
		dp_health_fetch_finish(srv->health, o->target_id, DP_HEALTH_CACHE_GPUS, status, body);
	json_decref(body);
	op_free(o);
}

static void gpus(struct dp_ctx *c)
{
	const struct dp_target *t = path_target(c);
	if (!t)
		return;
	struct dp_server *srv = c->srv;
	json_t *cached = dp_health_cache_get(srv->health, t->id, DP_HEALTH_CACHE_GPUS, GPUS_CACHE_MS);
	if (cached) {
		dp_reply_json(c, 200, gpus_body(srv, t->id, cached, NULL, NULL));
		return;
	}
	const char *reason = NULL;
	char host[DP_TARGET_HOST_MAX + 1], key[40];
	struct dp_lms_target lt;
	if (!srv->lms || !dp_lms_available(srv->lms, &reason)) {
		dp_reply_json(c, 200,
		              gpus_body(srv, t->id, NULL, "unavailable",
		                        reason ? reason : "the lms bridge is not available"));
		return;
	}
	if (lms_target(t, &lt, host, key) < 0) {
		dp_reply_json(c, 200,
		              gpus_body(srv, t->id, NULL, "no_lms_host", "no lms host for this target (set lms_host)"));
		return;
	}
	if (wait_join(c, t->id, DP_HEALTH_CACHE_GPUS) != 1)
		return;
	struct op *o = op_new_bg(srv, t->id);
	struct dp_lms_req lr = {.cmd = DP_LMS_RUNTIME_SURVEY};
	dp_lms_call(srv->lms, &lt, &lr, gpus_done, o);
}

/* ---------------------------------------------------- kill switch */

static void unload_finish(struct op *o)
{
	if (--o->pending > 0)
		return;
	struct dp_server *srv = o->srv;
	char ref[40];
	target_ref(ref, o->target_id);
	json_t *d = json_pack("{s:i, s:i, s:i, s:O}", "requested", o->requested, "unloaded", o->unloaded, "failed",
	                      o->failed, "results", o->results);
	dp_audit_record(srv->store, o->user_id, o->username, "model.unload", ref,
	                o->failed ? (o->unloaded ? DP_AUDIT_FAILED : DP_AUDIT_ERROR) : DP_AUDIT_OK, d, o->ip);
	json_decref(d);
	if (srv->health) {
		dp_health_cache_drop(srv->health, o->target_id, DP_HEALTH_CACHE_MODELS);
		dp_health_poke(srv->health, o->target_id); /* the models event follows */
	}
	struct dp_ctx *c = op_take(o);
	if (c)
		dp_reply_json(c, 200,
		              json_pack("{s:I, s:i, s:i, s:i, s:O}", "target_id", (json_int_t)o->target_id, "requested",
		                        o->requested, "unloaded", o->unloaded, "failed", o->failed, "results",
		                        o->results));
	op_free(o);
}

struct unload_one {
	struct op *o;
	size_t index;
};

static void unload_one_done(struct dp_upstream_req *r, const struct dp_upstream_result *res, void *arg)
{
	struct unload_one *u = arg;
	struct op *o = u->o;
	(void)r;
	json_t *e = json_array_get(o->results, u->index);
	if (res->outcome == DP_UPSTREAM_OK) {
		json_object_set_new(e, "ok", json_true());
		o->unloaded++;
	} else {
		json_object_set_new(e, "error", json_pack("{s:s, s:s}", "code", res->code, "message", res->message));
		o->failed++;
	}
	free(u);
	unload_finish(o);
}

static void unload_start(struct op *o, const struct dp_target *t, json_t *ids)
{
	size_t i;
	json_t *v;
	o->results = json_array();
	o->pending = 1;
	json_array_foreach(ids, i, v)
	{
		const char *id = json_string_value(v);
		json_array_append_new(o->results, json_pack("{s:s, s:b, s:n}", "instance_id", id, "ok", 0, "error"));
		o->requested++;
		json_t *b = json_pack("{s:s}", "instance_id", id);
		char *body = json_dumps(b, JSON_COMPACT);
		json_decref(b);
		struct unload_one *u = xcalloc(1, sizeof(*u));
		u->o = o;
		u->index = json_array_size(o->results) - 1;
		const char *err = NULL;
		o->pending++;
		if (!start_upstream(o->srv, t, "POST", "/api/v1/models/unload", body, UNLOAD_TIMEOUT_MS,
		                    unload_one_done, u, &err)) {
			json_object_set_new(json_array_get(o->results, u->index), "error",
			                    json_pack("{s:s, s:s}", "code", "invalid_target", "message",
			                              err ? err : "invalid target"));
			o->failed++;
			o->pending--;
			free(u);
		}
		free(body);
	}
	unload_finish(o);
}

static void unload_list_done(struct dp_upstream_req *r, const struct dp_upstream_result *res, void *arg)
{
	struct op *o = arg;
	(void)r;
	struct dp_server *srv = o->srv;
	const struct dp_target *t = srv->health ? dp_health_target(srv->health, o->target_id) : NULL;
	json_t *models = res->outcome == DP_UPSTREAM_OK ? json_object_get(res->json, "models") : NULL;
	if (!t || !json_is_array(models)) {
		struct dp_ctx *c = op_take(o);
		if (c) {
			if (!t || res->outcome == DP_UPSTREAM_CANCELLED)
				dp_reply_error(c, 503, "unavailable", "the target went away");
			else if (res->outcome == DP_UPSTREAM_OK)
				dp_reply_error(c, 502, "unexpected_body", "the daemon answered without a models list");
			else
				reply_upstream(c, res);
		}
		op_free(o);
		return;
	}
	json_t *ids = json_array(), *m, *li;
	size_t i, k;
	json_array_foreach(models, i, m)
	{
		json_t *insts = json_object_get(m, "loaded_instances");
		if (json_is_array(insts))
			json_array_foreach(insts, k, li)
			{
				const char *id = json_string_value(json_object_get(li, "id"));
				if (id && *id && json_array_size(ids) < UNLOAD_MAX)
					json_array_append_new(ids, json_string(id));
			}
	}
	unload_start(o, t, ids);
	json_decref(ids);
}

static void unload(struct dp_ctx *c)
{
	const struct dp_target *t = path_target(c);
	if (!t)
		return;
	json_t *iid = c->body ? json_object_get(c->body, "instance_id") : NULL;
	json_t *all = c->body ? json_object_get(c->body, "all") : NULL;
	int want_all = json_is_true(all);
	if ((iid && want_all) || (!iid && !want_all) ||
	    (iid && (!json_is_string(iid) || !json_string_length(iid) || json_string_length(iid) > 512))) {
		dp_reply_error(c, 400, "bad_request", "expected {\"instance_id\": \"...\"} or {\"all\": true}");
		return;
	}
	struct op *o = op_new(c, t->id);
	if (!want_all) {
		json_t *ids = json_pack("[O]", iid);
		unload_start(o, t, ids);
		json_decref(ids);
		return;
	}
	const char *err = NULL;
	if (!start_upstream(c->srv, t, "GET", "/api/v1/models", NULL, 0, unload_list_done, o, &err)) {
		op_take(o);
		op_free(o);
		dp_reply_error(c, 502, "invalid_target", "%s", err ? err : "invalid target");
	}
}

const struct dp_route dp_api_targets_routes[] = {
        {.method = "GET", .path = "/api/targets", .fn = list, .role = DP_ROLE_VIEWER},
        {.method = "POST", .path = "/api/targets", .fn = create, .role = DP_ROLE_ADMIN},
        {.method = "POST", .path = "/api/targets/test", .fn = test_draft, .role = DP_ROLE_ADMIN},
        {.method = "GET", .path = "/api/targets/{id}", .fn = get_one, .role = DP_ROLE_VIEWER},
        {.method = "PATCH", .path = "/api/targets/{id}", .fn = patch, .role = DP_ROLE_ADMIN},
        {.method = "DELETE", .path = "/api/targets/{id}", .fn = del, .role = DP_ROLE_ADMIN},
        {.method = "GET", .path = "/api/targets/{id}/health", .fn = health, .role = DP_ROLE_VIEWER},
        {.method = "POST", .path = "/api/targets/{id}/test", .fn = test_saved, .role = DP_ROLE_ADMIN},
        {.method = "GET", .path = "/api/targets/{id}/models", .fn = models, .role = DP_ROLE_VIEWER},
        {.method = "GET", .path = "/api/targets/{id}/gpus", .fn = gpus, .role = DP_ROLE_VIEWER},
        {.method = "POST", .path = "/api/targets/{id}/models/unload", .fn = unload, .role = DP_ROLE_OPERATOR},
        {.method = "PUT", .path = "/api/me/active-target", .fn = active_target, .role = DP_ROLE_VIEWER},
        {0},
};
