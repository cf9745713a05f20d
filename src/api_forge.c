/*
 * api_forge.c - The Forge's routes: load with a VRAM pre-flight, the
 * pre-flight alone (estimate), downloads and the JIT/TTL facts. Shapes in
 * docs/api-forge.md; the rules (fields, presets, Live mode, what is sent)
 * in forge.c, the estimator in estimate.c. Eject and unload-all are the
 * Kill Switch in api_targets.c (POST /api/targets/{id}/models/unload).
 *
 * A load or estimate is one `struct fop`: it gathers the model list
 * (GET /api/v1/models) and the hardware survey (lms runtime survey, or the
 * health hub's cached copy) - and for an estimate LM Studio's own figure
 * (lms load --estimate-only) - in parallel, then estimates, then (load)
 * refuses or loads through REST or lms, lists the models again to name
 * the new instance, replies, publishes a `load` event and audits. The
 * client may go away at any step: the op then stops before loading, or,
 * when the load already started, finishes it (audit and event) without a
 * reply. Every callback is also called with "cancelled" at shutdown: the
 * op then ends without starting anything new.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "audit.h"
#include "estimate.h"
#include "events.h"
#include "forge.h"
#include "health.h"
#include "lms.h"
#include "log.h"
#include "route.h"
#include "secret.h"
#include "server.h"
#include "store.h"
#include "targets.h"
#include "upstream.h"
#include "xmalloc.h"

#define LOAD_TIMEOUT_MS   (10 * 60 * 1000) /* a big model from a slow disk */
#define LIST_TIMEOUT_MS   15000
#define SURVEY_MAX_AGE_MS 60000
#define DEFAULT_CONTEXT   8192 /* LM Studio's default depends on its settings; see notes */
#define DEFAULT_PARALLEL  4    /* reference §5: "Max Concurrent Predictions", default 4 */

struct fop {
	struct dp_ctx *c;
	struct dp_server *srv;
	int64_t target_id;
	int estimate_only;
	int pending;
	int cancelled;
	int admin;
	int64_t user_id;
	char username[DP_USERNAME_MAX + 1];
	char ip[64];
	struct dp_forge_load l;
	enum dp_forge_path path;
	/* lms endpoint */
	int have_lms;
	char lms_why[160];
	char host[DP_TARGET_HOST_MAX + 1];
	char key[40];
	int port;
	/* gathered */
	json_t *v1;
	struct dp_upstream_result v1res;
	char v1code[40], v1msg[512];
	json_t *survey;
	char survey_code[32], survey_msg[256];
	json_t *lms_est;
	char est_code[32], est_msg[320];
	/* the model's path from lms ls (lms load --exact) */
	char lms_path[1024];
	char ls_msg[320];
	json_t *estimate;
	/* load */
	json_t *answer;
	json_t *before;
	char load_code[40], load_msg[512];
	int load_status;
	json_t *after;
	/* one load per target at a time (see "lanes") */
	int in_lane;     /* this op holds its target's lane */
	int waiting;     /* queued behind the lane's holder */
	int said_queued; /* a "queued" event went out: its end is said too */
	int said_started;
	int said_cancelled;
	struct fop *qnext;
};

/*
 * Lanes: loads on one target run one at a time, pre-flight included. Two
 * loads started together would otherwise both be estimated against the
 * same free VRAM and together overcommit it. A load that finds its target
 * busy waits in line (its client keeps waiting); when the holder ends, the
 * next one starts its pre-flight with fresh numbers. A waiting client that
 * goes away leaves the line. Estimates do not queue: they change nothing.
 */
struct lane {
	struct lane *next;
	struct dp_server *srv;
	int64_t target_id;
	struct fop *head, *tail; /* waiting ops */
};
static struct lane *lanes;

static struct lane *lane_find(struct dp_server *srv, int64_t target_id)
{
	for (struct lane *l = lanes; l; l = l->next)
		if (l->srv == srv && l->target_id == target_id)
			return l;
	return NULL;
}

static void gather(struct fop *o, const struct dp_target *t);
static void publish_state(struct fop *o, const char *state);
static void op_free(struct fop *o);
static struct dp_ctx *op_take(struct fop *o);

static void ref_of(char out[40], int64_t id)
{
	snprintf(out, 40, "target:%lld", (long long)id);
}

static void op_abort(struct dp_ctx *c, void *arg)
{
	struct fop *o = arg;
	(void)c;
	o->c = NULL;
	if (!o->waiting)
		return;
	/* a waiting client left: out of the line, nothing was started */
	struct lane *l = lane_find(o->srv, o->target_id);
	struct fop **pp = l ? &l->head : NULL;
	for (struct fop *prev = NULL; pp && *pp; prev = *pp, pp = &(*pp)->qnext)
		if (*pp == o) {
			*pp = o->qnext;
			if (l->tail == o)
				l->tail = prev;
			break;
		}
	o->waiting = 0;
	o->said_cancelled = 1;
	publish_state(o, "cancelled");
	op_free(o);
}

/* Take the target's lane, or wait in it. 1 when o may go on now. */
static int lane_enter(struct fop *o)
{
	struct lane *l = lane_find(o->srv, o->target_id);
	if (!l) {
		l = xcalloc(1, sizeof(*l));
		l->srv = o->srv;
		l->target_id = o->target_id;
		l->next = lanes;
		lanes = l;
		o->in_lane = 1;
		return 1;
	}
	o->waiting = 1;
	if (l->tail)
		l->tail->qnext = o;
	else
		l->head = o;
	l->tail = o;
	return 0;
}

/* The holder ended: the next waiting op starts, or the lane goes. */
static void lane_leave(struct fop *o)
{
	struct lane *l = lane_find(o->srv, o->target_id);
	o->in_lane = 0;
	if (!l)
		return;
	struct fop *n = l->head;
	if (!n) {
		for (struct lane **pp = &lanes; *pp; pp = &(*pp)->next)
			if (*pp == l) {
				*pp = l->next;
				break;
			}
		free(l);
		return;
	}
	l->head = n->qnext;
	if (!l->head)
		l->tail = NULL;
	n->qnext = NULL;
	n->waiting = 0;
	n->in_lane = 1;
	const struct dp_target *t = n->srv->health ? dp_health_target(n->srv->health, n->target_id) : NULL;
	if (!t) {
		struct dp_ctx *c = op_take(n);
		if (c)
			dp_reply_error(c, 404, "not_found", "no such target (it was removed while this load waited)");
		op_free(n); /* passes the lane on */
		return;
	}
	gather(n, t);
}

static struct dp_ctx *op_take(struct fop *o)
{
	struct dp_ctx *c = o->c;
	if (c)
		dp_ctx_on_abort(c, NULL, NULL);
	o->c = NULL;
	return c;
}

static void op_free(struct fop *o)
{
	if (o->c)
		op_take(o);
	if (o->said_queued && !o->said_started && !o->said_cancelled)
		publish_state(o, "ended"); /* waited, then refused or failed before loading */
	if (o->in_lane)
		lane_leave(o);
	json_decref(o->v1);
	json_decref(o->survey);
	json_decref(o->lms_est);
	json_decref(o->estimate);
	json_decref(o->answer);
	json_decref(o->before);
	json_decref(o->after);
	free(o);
}

static const struct dp_target *path_target(struct dp_ctx *c)
{
	int64_t id = dp_ctx_param_id(c, "id");
	const struct dp_target *t = id > 0 && c->srv->health ? dp_health_target(c->srv->health, id) : NULL;
	if (!t)
		dp_reply_error(c, 404, "not_found", "no such target");
	return t;
}

static void reply_err(struct dp_ctx *c, const struct dp_forge_err *e)
{
	dp_reply_error(c, e->status, e->code, "%s", e->message);
}

/* 502 (504 for a timeout) with the upstream's code, as api_targets.c. */
static void reply_upstream(struct dp_ctx *c, enum dp_upstream_outcome oc, const char *code, const char *msg)
{
	if (oc == DP_UPSTREAM_UNAUTHORIZED)
		code = "daemon_unauthorized";
	dp_reply_error(c, oc == DP_UPSTREAM_STALLED ? 504 : 502, code, "%s",
	               msg && *msg ? msg : dp_upstream_outcome_name(oc));
}

static struct dp_upstream_req *start_upstream(struct dp_server *srv, const struct dp_target *t, const char *method,
                                              const char *path, const char *body, int timeout_ms,
                                              dp_upstream_done_fn done, void *arg, const char **err)
{
	return dp_target_request(srv->upstream, srv->secret, t, method, path, body, timeout_ms, done, arg, err);
}

static void lms_target_of(struct fop *o, struct dp_lms_target *lt)
{
	lt->key = o->key;
	lt->host = o->host;
	lt->port = o->port;
}

/* Settings as stored by api_settings.c: "mode" and "load_presets". */
static void read_settings(struct dp_server *srv, char **mode, json_t **presets)
{
	char *p = NULL;
	*mode = NULL;
	*presets = NULL;
	if (!srv->store)
		return;
	dp_store_setting_get(srv->store, "mode", mode);
	if (dp_store_setting_get(srv->store, "load_presets", &p) == 0 && p)
		*presets = json_loads(p, 0, NULL);
	free(p);
}

static void audit(struct fop *o, const char *action, const char *result, json_t *detail)
{
	char ref[40];
	ref_of(ref, o->target_id);
	dp_audit_record(o->srv->store, o->user_id, o->username, action, ref, result, detail, o->ip);
}

static json_t *load_detail(struct fop *o, const char *instance_id, const char *code, const char *msg)
{
	json_t *d = json_pack("{s:s, s:s, s:o, s:b}", "model", o->l.model, "path", dp_forge_path_name(o->path),
	                      "requested", dp_forge_load_json(&o->l), "override", o->l.override);
	if (instance_id)
		json_object_set_new(d, "instance_id", json_string(instance_id));
	if (o->estimate) {
		json_t *fits = json_object_get(o->estimate, "fits");
		json_object_set_new(d, "estimate",
		                    json_pack("{s:O?, s:O?, s:O?}", "fits", fits, "gpu_total",
		                              json_object_get(json_object_get(o->estimate, "breakdown"), "gpu_total"),
		                              "confidence", json_object_get(o->estimate, "confidence")));
	}
	if (code)
		json_object_set_new(d, "error", json_pack("{s:s, s:s}", "code", code, "message", msg ? msg : ""));
	return d;
}

static void publish_load(struct fop *o, const char *instance_id, const char *code, const char *msg)
{
	if (!o->srv->events)
		return;
	json_t *d = json_pack("{s:I, s:s, s:s?, s:s, s:s, s:o, s:s}", "target_id", (json_int_t)o->target_id, "model",
	                      o->l.model, "instance_id", instance_id, "path", dp_forge_path_name(o->path), "result",
	                      code ? "failed" : "ok", "error",
	                      code ? json_pack("{s:s, s:s}", "code", code, "message", msg ? msg : "") : json_null(),
	                      "by", o->username);
	dp_events_publish(o->srv->events, "load", d);
	json_decref(d);
}

/* ------------------------------------------------------------ estimate */

static uint64_t jbytes(const json_t *v)
{
	if (json_is_integer(v) && json_integer_value(v) > 0)
		return (uint64_t)json_integer_value(v);
	if (json_is_real(v) && json_real_value(v) > 0)
		return (uint64_t)json_real_value(v);
	return 0;
}

/* Our estimate for the op (new object), with per-GPU before/after. */
static json_t *build_estimate(struct fop *o, const json_t *model)
{
	struct dp_estimate_model m;
	struct dp_estimate_load el;
	dp_forge_estimate_model(model, &m);
	dp_forge_estimate_load(&o->l, &el);
	json_t *notes = json_array();
	json_t *mx = json_object_get(model, "max_context_length");
	if (el.context_length <= 0) {
		long d = DEFAULT_CONTEXT;
		if (json_is_integer(mx) && json_integer_value(mx) > 0 && json_integer_value(mx) < d)
			d = (long)json_integer_value(mx);
		el.context_length = d;
		json_array_append_new(notes, json_sprintf("context_length not given: %ld assumed (LM Studio's default "
		                                          "depends on its own settings)",
		                                          d));
	}
	if (el.parallel <= 0) {
		el.parallel = DEFAULT_PARALLEL;
		json_array_append_new(notes, json_string("parallel not given: 4 slots assumed (LM Studio's default)"));
	}
	if (el.gpu_ratio < 0)
		json_array_append_new(notes, json_string("gpu not given: full offload assumed; LM Studio may choose a "
		                                         "lower offload by itself when it does not fit"));
	if (!m.size_bytes)
		m.size_bytes = 1; /* unknown size: the estimate says little, but it runs */

	/* GPUs from the survey */
	struct dp_estimate_gpu g[DP_ESTIMATE_MAX_GPUS];
	size_t n = 0;
	int gpus_known = o->survey != NULL;
	json_t *sg = json_object_get(o->survey, "gpus"), *gj;
	size_t i;
	json_array_foreach(sg, i, gj)
	{
		if (n >= DP_ESTIMATE_MAX_GPUS)
			break;
		memset(&g[n], 0, sizeof(g[n]));
		g[n].index = (int)i;
		snprintf(g[n].name, sizeof g[n].name, "%s",
		         json_string_value(json_object_get(gj, "name")) ? json_string_value(json_object_get(gj, "name"))
		                                                        : "");
		g[n].total_bytes = jbytes(json_object_get(gj, "vram_bytes"));
		if (!g[n].total_bytes)
			g[n].total_bytes = jbytes(json_object_get(gj, "total_bytes"));
		n++;
	}
	uint64_t ram = jbytes(json_object_get(json_object_get(o->survey, "memory"), "ram_bytes"));

	/* what is already loaded, by our own estimator (full offload assumed:
	 * LM Studio reports neither the ratio nor live memory) */
	uint64_t cap_sum = 0, ram_before = 0;
	for (size_t k = 0; k < n; k++)
		cap_sum += g[k].total_bytes;
	json_t *models = json_object_get(o->v1, "models"), *mm, *li;
	size_t mi, ii;
	json_array_foreach(models, mi, mm)
	{
		json_array_foreach(json_object_get(mm, "loaded_instances"), ii, li)
		{
			json_t *cfg = json_object_get(li, "config");
			struct dp_estimate_model im;
			dp_forge_estimate_model(mm, &im);
			if (!im.size_bytes)
				continue;
			struct dp_estimate_load il = {.gpu_ratio = 1, .offload_kv = -1, .flash_attention = -1};
			json_t *v = json_object_get(cfg, "context_length");
			il.context_length = json_is_integer(v) && json_integer_value(v) > 0
			                            ? (long)json_integer_value(v)
			                            : DEFAULT_CONTEXT;
			v = json_object_get(cfg, "parallel");
			il.parallel = json_is_integer(v) && json_integer_value(v) > 0 && json_integer_value(v) < 1024
			                      ? (int)json_integer_value(v)
			                      : 1;
			v = json_object_get(cfg, "offload_kv_cache_to_gpu");
			if (json_is_boolean(v))
				il.offload_kv = json_is_true(v);
			v = json_object_get(cfg, "flash_attention");
			if (json_is_boolean(v))
				il.flash_attention = json_is_true(v);
			v = json_object_get(cfg, "eval_batch_size");
			if (json_is_integer(v) && json_integer_value(v) > 0 && json_integer_value(v) <= 65536)
				il.eval_batch_size = (int)json_integer_value(v);
			uint64_t gb, rb;
			dp_estimate_footprint(&im, &il, &gb, &rb);
			ram_before += rb;
			for (size_t k = 0; k < n; k++) {
				uint64_t share = cap_sum ? (uint64_t)((long double)gb * g[k].total_bytes / cap_sum) : 0;
				g[k].used_before += share;
			}
		}
	}

	/* a GPU cannot hold more than it has: LM Studio put the rest in RAM
	 * (a lower offload than the full one assumed above) */
	int clamped = 0;
	for (size_t k = 0; k < n; k++)
		if (g[k].used_before > g[k].total_bytes) {
			g[k].used_before = g[k].total_bytes;
			clamped = 1;
		}
	if (clamped)
		json_array_append_new(notes, json_string("the loaded instances are estimated at more than a GPU holds: "
		                                         "that GPU is counted as full"));
	struct dp_estimate_result r;
	if (dp_estimate_run(&m, &el, gpus_known, g, n, ram, ram_before, &r) < 0) {
		json_decref(notes);
		return NULL;
	}
	if (!gpus_known)
		json_array_append_new(notes,
		                      json_sprintf("no GPU data: %s",
		                                   o->survey_msg[0] ? o->survey_msg : "the lms bridge is unavailable"));
	if (!strcmp(r.kv_basis, "approximation"))
		json_array_append_new(notes, json_string("the model's layer shape is not in our table: KV cache from "
		                                         "an approximation by parameter count"));
	json_array_append_new(notes, json_string("GPU memory already in use is our estimate of the loaded "
	                                         "instances (LM Studio reports no live VRAM use)"));
	json_t *j = dp_estimate_json(&r, g, n);
	json_object_set_new(j, "target_id", json_integer(o->target_id));
	json_object_set_new(j, "model", json_string(o->l.model));
	json_object_set_new(j, "notes", notes);
	json_t *cfg = json_object_get(j, "config");
	json_object_set_new(cfg, "gpu", o->l.gpu[0] ? json_string(o->l.gpu) : json_null());
	return j;
}

static void add_lmstudio(struct fop *o, json_t *est)
{
	char b1[32], b2[32];
	if (!o->lms_est) {
		json_object_set_new(
		        est, "lmstudio",
		        json_pack("{s:b, s:s}", "available", 0, "reason",
		                  o->est_msg[0] ? o->est_msg
		                                : (o->lms_why[0] ? o->lms_why : "the lms bridge is unavailable")));
		json_object_set_new(est, "difference_explained",
		                    json_string("LM Studio's own estimate (lms load --estimate-only) is not available, "
		                                "so only ours is shown."));
		return;
	}
	json_t *l = json_deep_copy(o->lms_est);
	json_object_set_new(l, "available", json_true());
	json_object_set_new(est, "lmstudio", l);
	uint64_t theirs = jbytes(json_object_get(o->lms_est, "gpu_bytes"));
	uint64_t ours = jbytes(json_object_get(json_object_get(est, "breakdown"), "gpu_total"));
	json_t *cfg = json_object_get(est, "config");
	json_int_t par = json_integer_value(json_object_get(cfg, "parallel"));
	char text[900];
	snprintf(text, sizeof text,
	         "Ours: %s on GPUs (weights x offload ratio, f16 KV cache for %lld token(s) x %lld slot(s), compute "
	         "buffers and 256 MiB runtime per GPU). LM Studio: %s (its own model of the same load, given only "
	         "the model, context length and GPU offload: lms --estimate-only takes no parallel slots, flash "
	         "attention or batch size, and it may count the KV cache per slot differently). %s",
	         dp_estimate_fmt_bytes(ours, b1, sizeof b1),
	         (long long)json_integer_value(json_object_get(cfg, "context_length")), (long long)par,
	         dp_estimate_fmt_bytes(theirs, b2, sizeof b2),
	         ours > theirs ? "Ours is higher: it assumes the worst case for the slots and buffers."
	                       : (ours < theirs ? "LM Studio's is higher: it knows the exact tensors and runtime "
	                                          "overheads of the engine it will use."
	                                        : "They agree."));
	json_object_set_new(est, "difference_explained", json_string(text));
}

/* ------------------------------------------------------------ load */

static void finish_fail(struct fop *o, int status, const char *code, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
static void finish_fail(struct fop *o, int status, const char *code, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	struct dp_ctx *c = op_take(o);
	if (c)
		dp_reply_error(c, status, code, "%s", msg);
	op_free(o);
}

/* The new instance's id, copied into buf (the arrays it is found in are
 * temporary), or NULL; *inst is its entry in o->after when there is one. */
static const char *new_instance(struct fop *o, json_t **inst, char *buf, size_t bufsz)
{
	*inst = NULL;
	const char *id = json_string_value(json_object_get(o->answer, "instance_id"));
	if (!id && o->l.identifier[0])
		id = o->l.identifier;
	json_t *after_ids = o->after ? dp_forge_instance_ids(o->after) : json_array();
	if (!id) {
		/* the lms path: the instance that appeared, of this model first */
		json_t *model = o->after ? dp_forge_find_model(o->after, o->l.model) : NULL;
		size_t i, k;
		json_t *v, *b;
		for (int pass = 0; pass < 2 && !id; pass++) {
			json_array_foreach(after_ids, i, v)
			{
				int seen = 0;
				json_array_foreach(o->before, k, b) seen |= json_equal(v, b);
				if (seen)
					continue;
				if (pass == 0 && model) {
					int mine = 0;
					json_t *li;
					size_t q;
					json_array_foreach(json_object_get(model, "loaded_instances"), q, li) mine |=
					        json_equal(json_object_get(li, "id"), v);
					if (!mine)
						continue;
				}
				id = json_string_value(v);
				break;
			}
		}
	}
	if (id) {
		snprintf(buf, bufsz, "%s", id);
		id = buf;
	}
	json_decref(after_ids);
	if (id && o->after) {
		json_t *models = json_object_get(o->after, "models"), *m, *li;
		size_t i, k;
		json_array_foreach(models, i, m)
		{
			json_array_foreach(json_object_get(m, "loaded_instances"), k, li)
			{
				const char *x = json_string_value(json_object_get(li, "id"));
				if (x && !strcmp(x, id)) {
					*inst = li;
					return x;
				}
			}
		}
	}
	return id;
}

static void load_complete(struct fop *o)
{
	struct dp_server *srv = o->srv;
	json_t *inst = NULL;
	char idbuf[DP_FORGE_MODEL_MAX + 1];
	const char *id = new_instance(o, &inst, idbuf, sizeof idbuf);
	dp_forge_note_loaded(srv->forge, o->target_id, id, o->l.model, dp_forge_path_name(o->path), o->username,
	                     dp_health_now_ms());
	json_t *rq = dp_forge_load_json(&o->l);
	dp_forge_note_last(srv->forge, o->target_id, o->l.model, rq, o->username, dp_health_now_ms());
	json_decref(rq);
	if (srv->health && !o->cancelled) {
		/* the hub re-polls and publishes the `models` event */
		dp_health_cache_drop(srv->health, o->target_id, DP_HEALTH_CACHE_MODELS);
		dp_health_poke(srv->health, o->target_id);
	}
	publish_load(o, id, NULL, NULL);
	json_t *d = load_detail(o, id, NULL, NULL);
	audit(o, "model.load", DP_AUDIT_OK, d);
	json_decref(d);
	struct dp_ctx *c = op_take(o);
	if (c) {
		json_t *lt = json_object_get(o->answer, "load_time_seconds");
		json_t *lc = json_object_get(o->answer, "load_config");
		json_t *est = json_deep_copy(o->estimate);
		json_t *body =
		        json_pack("{s:I, s:s, s:s, s:s?, s:O?, s:O?, s:o, s:O?, s:b, s:o}", "target_id",
		                  (json_int_t)o->target_id, "model", o->l.model, "path", dp_forge_path_name(o->path),
		                  "instance_id", id, "load_time_seconds", json_is_number(lt) ? lt : NULL, "load_config",
		                  json_is_object(lc) ? lc : NULL, "requested", dp_forge_load_json(&o->l), "instance",
		                  inst, "override", o->l.override, "estimate", est ? est : json_null());
		if (!json_object_get(body, "load_time_seconds"))
			json_object_set_new(body, "load_time_seconds", json_null());
		if (!json_object_get(body, "load_config"))
			json_object_set_new(body, "load_config", json_null());
		if (!json_object_get(body, "instance"))
			json_object_set_new(body, "instance", json_null());
		dp_reply_json(c, 200, body);
	}
	op_free(o);
}

static void after_done(struct dp_upstream_req *r, const struct dp_upstream_result *res, void *arg)
{
	struct fop *o = arg;
	(void)r;
	if (res->outcome == DP_UPSTREAM_CANCELLED)
		o->cancelled = 1; /* shutting down: start nothing new */
	if (res->outcome == DP_UPSTREAM_OK && json_is_object(res->json))
		o->after = json_incref(res->json);
	/* the load happened either way; a failed re-list only loses the
	 * instance's details */
	load_complete(o);
}

static void load_failed(struct fop *o, int status, const char *code, const char *msg)
{
	publish_load(o, NULL, code, msg);
	json_t *d = load_detail(o, NULL, code, msg);
	audit(o, "model.load", DP_AUDIT_FAILED, d);
	json_decref(d);
	finish_fail(o, status, code, "%s", msg);
}

static void relist(struct fop *o)
{
	const struct dp_target *t = o->srv->health ? dp_health_target(o->srv->health, o->target_id) : NULL;
	const char *err = NULL;
	if (!t || !start_upstream(o->srv, t, "GET", "/api/v1/models", NULL, LIST_TIMEOUT_MS, after_done, o, &err))
		load_complete(o);
}

static void rest_load_done(struct dp_upstream_req *r, const struct dp_upstream_result *res, void *arg)
{
	struct fop *o = arg;
	(void)r;
	if (res->outcome == DP_UPSTREAM_CANCELLED) {
		load_failed(o, 503, "unavailable", "the server is shutting down");
		return;
	}
	if (res->outcome != DP_UPSTREAM_OK) {
		int st = res->outcome == DP_UPSTREAM_STALLED ? 504 : 502;
		const char *code = res->outcome == DP_UPSTREAM_HTTP_ERROR     ? "load_failed"
		                   : res->outcome == DP_UPSTREAM_UNAUTHORIZED ? "daemon_unauthorized"
		                                                              : res->code;
		load_failed(o, st, code, res->message && *res->message ? res->message : "the load failed");
		return;
	}
	o->answer = json_incref(res->json);
	relist(o);
}

static void lms_load_done(const struct dp_lms_result *res, void *arg)
{
	struct fop *o = arg;
	if (res->status == DP_LMS_CANCELLED) {
		load_failed(o, 503, "unavailable", "the server is shutting down");
		return;
	}
	if (res->status != DP_LMS_OK) {
		int st = res->status == DP_LMS_UNAVAILABLE ? 503 : res->status == DP_LMS_TIMEOUT ? 504 : 502;
		const char *code = res->status == DP_LMS_FAILED        ? "load_failed"
		                   : res->status == DP_LMS_UNAVAILABLE ? "lms_unavailable"
		                                                       : res->code;
		load_failed(o, st, code, res->message && *res->message ? res->message : res->code);
		return;
	}
	relist(o);
}

/* A `load` event without an outcome: "started", "queued" (waiting for
 * another load on the target) or "cancelled" (its client left the line). */
static void publish_state(struct fop *o, const char *state)
{
	if (!o->srv->events)
		return;
	json_t *d = json_pack("{s:I, s:s, s:n, s:s, s:s, s:n, s:s}", "target_id", (json_int_t)o->target_id, "model",
	                      o->l.model, "instance_id", "path", dp_forge_path_name(o->path), "result", state, "error",
	                      "by", o->username);
	dp_events_publish(o->srv->events, "load", d);
	json_decref(d);
}

static void publish_started(struct fop *o)
{
	o->said_started = 1;
	publish_state(o, "started");
}

static void start_load(struct fop *o, const struct dp_target *t)
{
	o->before = dp_forge_instance_ids(o->v1);
	publish_started(o);
	if (o->path == DP_FORGE_PATH_REST) {
		char *body = dp_forge_rest_body(&o->l);
		const char *err = NULL;
		struct dp_upstream_req *r = start_upstream(o->srv, t, "POST", "/api/v1/models/load", body,
		                                           LOAD_TIMEOUT_MS, rest_load_done, o, &err);
		free(body);
		if (!r)
			load_failed(o, 502, "invalid_target", err ? err : "invalid target");
		return;
	}
	struct dp_lms_target lt;
	lms_target_of(o, &lt);
	struct dp_lms_req lr;
	dp_forge_lms_req(&o->l, 0, o->lms_path, &lr);
	dp_lms_call(o->srv->lms, &lt, &lr, lms_load_done, o);
}

/* Everything gathered: estimate, then reply (estimate) or load. */
static void gathered(struct fop *o)
{
	if (o->cancelled) {
		finish_fail(o, 503, "unavailable", "the server is shutting down");
		return;
	}
	if (!o->c) { /* the client went away before anything changed */
		op_free(o);
		return;
	}
	if (!o->v1) {
		struct dp_ctx *c = op_take(o);
		reply_upstream(c, o->v1res.outcome, o->v1code, o->v1msg);
		op_free(o);
		return;
	}
	json_t *model = dp_forge_find_model(o->v1, o->l.model);
	if (!model) {
		finish_fail(o, 404, "model_not_found", "no model \"%s\" on this target (not in GET /api/v1/models)",
		            o->l.model);
		return;
	}
	/* the daemon's own spelling from here on */
	const char *k = json_string_value(json_object_get(model, "key"));
	if (k)
		snprintf(o->l.model, sizeof o->l.model, "%s", k);
	struct dp_forge_err e;
	if (dp_forge_check_model(&o->l, model, &e) < 0) {
		struct dp_ctx *c = op_take(o);
		reply_err(c, &e);
		op_free(o);
		return;
	}
	o->estimate = build_estimate(o, model);
	if (!o->estimate) {
		finish_fail(o, 502, "unexpected_body", "the daemon's model entry has no usable size");
		return;
	}
	if (o->estimate_only) {
		add_lmstudio(o, o->estimate);
		struct dp_ctx *c = op_take(o);
		dp_reply_json(c, 200, json_incref(o->estimate));
		op_free(o);
		return;
	}
	json_t *fits = json_object_get(o->estimate, "fits");
	if (json_is_false(fits) && !(o->l.override && o->admin)) {
		const char *why = json_string_value(json_object_get(o->estimate, "reason"));
		json_t *d = load_detail(o, NULL, "will_not_fit", why);
		audit(o, "model.load", DP_AUDIT_DENIED, d);
		json_decref(d);
		struct dp_ctx *c = op_take(o);
		json_t *body = json_pack("{s:{s:s, s:s+}, s:O}", "error", "code", "will_not_fit", "message",
		                         "will not fit: ", why ? why : "over capacity", "estimate", o->estimate);
		dp_reply_json(c, 409, body);
		op_free(o);
		return;
	}
	const struct dp_target *t = o->srv->health ? dp_health_target(o->srv->health, o->target_id) : NULL;
	if (!t) {
		finish_fail(o, 404, "not_found", "no such target");
		return;
	}
	if (o->path == DP_FORGE_PATH_LMS && !o->lms_path[0]) {
		/* never let lms fuzzy-match the key to some other model */
		load_failed(o, 502, "load_failed", o->ls_msg[0] ? o->ls_msg : "lms ls does not list the model");
		return;
	}
	start_load(o, t);
}

static void step_done(struct fop *o)
{
	if (--o->pending > 0)
		return;
	gathered(o);
}

static void v1_done(struct dp_upstream_req *r, const struct dp_upstream_result *res, void *arg)
{
	struct fop *o = arg;
	(void)r;
	if (res->outcome == DP_UPSTREAM_CANCELLED)
		o->cancelled = 1;
	if (res->outcome == DP_UPSTREAM_OK && json_is_array(json_object_get(res->json, "models"))) {
		o->v1 = json_incref(res->json);
	} else {
		o->v1res.outcome = res->outcome == DP_UPSTREAM_OK ? DP_UPSTREAM_BAD_RESPONSE : res->outcome;
		snprintf(o->v1code, sizeof o->v1code, "%s",
		         res->outcome == DP_UPSTREAM_OK ? "unexpected_body" : res->code);
		snprintf(o->v1msg, sizeof o->v1msg, "%s",
		         res->outcome == DP_UPSTREAM_OK ? "the daemon answered without a models list" : res->message);
	}
	step_done(o);
}

static void survey_done(const struct dp_lms_result *res, void *arg)
{
	struct fop *o = arg;
	if (res->status == DP_LMS_CANCELLED)
		o->cancelled = 1;
	if (res->status == DP_LMS_OK && json_is_object(res->json)) {
		o->survey = json_incref(res->json);
		if (o->srv->health && !o->cancelled)
			dp_health_cache_put(o->srv->health, o->target_id, DP_HEALTH_CACHE_GPUS, json_incref(res->json));
	} else {
		snprintf(o->survey_code, sizeof o->survey_code, "%s", res->code);
		snprintf(o->survey_msg, sizeof o->survey_msg, "%s",
		         res->message && *res->message ? res->message : res->code);
	}
	step_done(o);
}

static void est_done(const struct dp_lms_result *res, void *arg)
{
	struct fop *o = arg;
	if (res->status == DP_LMS_CANCELLED)
		o->cancelled = 1;
	if (res->status == DP_LMS_OK && res->estimate) {
		o->lms_est = dp_lms_estimate_json(res->estimate);
	} else {
		snprintf(o->est_code, sizeof o->est_code, "%s", res->code);
		snprintf(o->est_msg, sizeof o->est_msg, "lms load --estimate-only: %s",
		         res->message && *res->message ? res->message : res->code);
	}
	step_done(o);
}

static void ls_done(const struct dp_lms_result *res, void *arg)
{
	struct fop *o = arg;
	if (res->status == DP_LMS_CANCELLED)
		o->cancelled = 1;
	if (res->status == DP_LMS_OK) {
		const char *p = dp_forge_ls_path(res->json, o->l.model);
		if (p && strlen(p) < sizeof o->lms_path)
			snprintf(o->lms_path, sizeof o->lms_path, "%s", p);
		else
			snprintf(o->ls_msg, sizeof o->ls_msg,
			         "lms ls does not list model \"%.160s\" (not loading a fuzzy match)", o->l.model);
	} else {
		snprintf(o->ls_msg, sizeof o->ls_msg, "lms ls: %s",
		         res->message && *res->message ? res->message : res->code);
	}
	if (o->estimate_only && !o->cancelled) {
		if (o->lms_path[0]) {
			struct dp_lms_target lt;
			lms_target_of(o, &lt);
			struct dp_lms_req lr;
			dp_forge_lms_req(&o->l, 1, o->lms_path, &lr);
			o->pending++;
			dp_lms_call(o->srv->lms, &lt, &lr, est_done, o);
		} else {
			snprintf(o->est_msg, sizeof o->est_msg, "%s", o->ls_msg);
		}
	}
	step_done(o);
}

static void forge_start(struct dp_ctx *c, int estimate_only)
{
	const struct dp_target *t = path_target(c);
	if (!t)
		return;
	struct dp_forge_load l;
	struct dp_forge_err e;
	if (dp_forge_load_parse(c->body, 0, &l, &e) < 0) {
		reply_err(c, &e);
		return;
	}
	char *mode = NULL;
	json_t *presets = NULL;
	read_settings(c->srv, &mode, &presets);
	int rc = dp_forge_apply_settings(&l, estimate_only ? "dev" : mode, presets, &e);
	int live = mode && !strcmp(mode, "live");
	free(mode);
	json_decref(presets);
	if (rc < 0) {
		if (!estimate_only && e.status == 403) {
			struct fop tmp = {.srv = c->srv, .target_id = t->id, .user_id = c->user.id, .l = l};
			snprintf(tmp.username, sizeof tmp.username, "%s", c->user.username);
			snprintf(tmp.ip, sizeof tmp.ip, "%s", dp_ctx_peer(c));
			json_t *d = load_detail(&tmp, NULL, e.code, e.message);
			json_object_set_new(d, "mode", json_string("live"));
			audit(&tmp, "model.load", DP_AUDIT_DENIED, d);
			json_decref(d);
		}
		reply_err(c, &e);
		return;
	}
	(void)live;
	if (!l.model[0]) {
		dp_reply_error(c, 400, "invalid_model", "model is required (or a preset that names one)");
		return;
	}
	if (!estimate_only && l.override && c->user.role < DP_ROLE_ADMIN) {
		dp_reply_error(c, 403, "forbidden", "only an admin may override the pre-flight");
		return;
	}
	enum dp_forge_path path = dp_forge_choose_path(&l, &e);
	if (path == DP_FORGE_PATH_CONFLICT) {
		reply_err(c, &e);
		return;
	}
	struct fop *o = xcalloc(1, sizeof(*o));
	o->c = c;
	o->srv = c->srv;
	o->target_id = t->id;
	o->estimate_only = estimate_only;
	o->admin = c->user.role >= DP_ROLE_ADMIN;
	o->user_id = c->user.id;
	snprintf(o->username, sizeof o->username, "%s", c->user.username);
	snprintf(o->ip, sizeof o->ip, "%s", dp_ctx_peer(c));
	o->l = l;
	o->path = path;
	const char *why = NULL;
	int derived;
	if (!dp_lms_available(c->srv->lms, &why)) {
		snprintf(o->lms_why, sizeof o->lms_why, "%s", why ? why : "the lms bridge is unavailable");
	} else if (dp_target_lms_endpoint(t, o->host, &o->port, &derived) < 0) {
		snprintf(o->lms_why, sizeof o->lms_why,
		         "no lms endpoint for this target (set lms_host: lms --host takes no IPv6 literal)");
	} else {
		o->have_lms = 1;
		ref_of(o->key, t->id);
	}
	if (!estimate_only && path == DP_FORGE_PATH_LMS && !o->have_lms) {
		o->c = NULL; /* no abort hook was set; the reply ends the ctx */
		dp_reply_error(c, 503, "lms_unavailable", "gpu, parallel, ttl and identifier need the lms bridge: %s",
		               o->lms_why);
		op_free(o);
		return;
	}
	dp_ctx_on_abort(c, op_abort, o);
	if (!estimate_only && !lane_enter(o)) {
		o->said_queued = 1;
		publish_state(o, "queued"); /* the Forge shows it waiting */
		return;                     /* another load on this target runs: wait for it */
	}
	gather(o, t);
}

/* Start gathering the model list, the survey and (estimate) LM Studio's
 * own figure, in parallel; gathered() runs when all are in. */
static void gather(struct fop *o, const struct dp_target *t)
{
	int estimate_only = o->estimate_only;
	enum dp_forge_path path = o->path;
	o->pending = 1;
	const char *err = NULL;
	o->pending++;
	if (!start_upstream(o->srv, t, "GET", "/api/v1/models", NULL, LIST_TIMEOUT_MS, v1_done, o, &err)) {
		o->pending--;
		o->v1res.outcome = DP_UPSTREAM_STOPPED;
		snprintf(o->v1code, sizeof o->v1code, "invalid_target");
		snprintf(o->v1msg, sizeof o->v1msg, "%s", err ? err : "invalid target");
	}
	if (o->have_lms) {
		json_t *cached = o->srv->health ? dp_health_cache_get(o->srv->health, t->id, DP_HEALTH_CACHE_GPUS,
		                                                      SURVEY_MAX_AGE_MS)
		                                : NULL;
		struct dp_lms_target lt;
		lms_target_of(o, &lt);
		if (cached) {
			o->survey = json_incref(cached);
		} else {
			struct dp_lms_req lr = {.cmd = DP_LMS_RUNTIME_SURVEY};
			o->pending++;
			dp_lms_call(o->srv->lms, &lt, &lr, survey_done, o);
		}
		if (estimate_only || path == DP_FORGE_PATH_LMS) {
			/* the model's exact path first (then the estimate) */
			struct dp_lms_req lr = {.cmd = DP_LMS_LS};
			o->pending++;
			dp_lms_call(o->srv->lms, &lt, &lr, ls_done, o);
		}
	} else {
		snprintf(o->survey_msg, sizeof o->survey_msg, "%s", o->lms_why);
	}
	step_done(o);
}

static void load(struct dp_ctx *c)
{
	forge_start(c, 0);
}

static void estimate(struct dp_ctx *c)
{
	forge_start(c, 1);
}

/* ------------------------------------------------------------ downloads */

struct dop {
	struct dp_ctx *c;
	struct dp_server *srv;
	int64_t target_id;
	int64_t user_id;
	char username[DP_USERNAME_MAX + 1];
	char ip[64];
	char model[DP_FORGE_MODEL_MAX + 1];
	char quant[DP_FORGE_QUANT_MAX + 1];
};

static void dop_abort(struct dp_ctx *c, void *arg)
{
	struct dop *o = arg;
	(void)c;
	o->c = NULL;
}

static void download_done(struct dp_upstream_req *r, const struct dp_upstream_result *res, void *arg)
{
	struct dop *o = arg;
	(void)r;
	struct dp_ctx *c = o->c;
	if (c)
		dp_ctx_on_abort(c, NULL, NULL);
	char ref[40];
	ref_of(ref, o->target_id);
	json_t *d = json_pack("{s:s, s:s?}", "model", o->model, "quantization", o->quant[0] ? o->quant : NULL);
	if (res->outcome == DP_UPSTREAM_OK && json_is_object(res->json) && o->srv->forge) {
		const json_t *job =
		        dp_forge_job_track(o->srv->forge, o->target_id, o->model, o->quant[0] ? o->quant : NULL,
		                           res->json, o->user_id, o->username);
		const char *st = json_string_value(json_object_get(job, "status"));
		json_object_set(d, "job_id", json_object_get(job, "job_id"));
		json_object_set_new(d, "status", json_string(st ? st : "unknown"));
		dp_audit_record(o->srv->store, o->user_id, o->username, "model.download", ref, DP_AUDIT_OK, d, o->ip);
		if (c)
			dp_reply_json(c, dp_forge_job_active(st) ? 202 : 200, json_pack("{s:O}", "job", job));
	} else {
		const char *code = res->outcome == DP_UPSTREAM_OK ? "unexpected_body" : res->code;
		const char *msg = res->outcome == DP_UPSTREAM_OK ? "the daemon answered without a job" : res->message;
		json_object_set_new(d, "error", json_pack("{s:s, s:s}", "code", code, "message", msg));
		dp_audit_record(o->srv->store, o->user_id, o->username, "model.download", ref, DP_AUDIT_FAILED, d,
		                o->ip);
		if (c) {
			if (res->outcome == DP_UPSTREAM_CANCELLED)
				dp_reply_error(c, 503, "unavailable", "the server is shutting down");
			else if (res->outcome == DP_UPSTREAM_HTTP_ERROR)
				dp_reply_error(c, 502, "download_failed", "%s", msg);
			else
				reply_upstream(c,
				               res->outcome == DP_UPSTREAM_OK ? DP_UPSTREAM_BAD_RESPONSE : res->outcome,
				               code, msg);
		}
	}
	json_decref(d);
	free(o);
}

static void download(struct dp_ctx *c)
{
	const struct dp_target *t = path_target(c);
	if (!t)
		return;
	const char *model, *quant;
	struct dp_forge_err e;
	if (dp_forge_download_parse(c->body, &model, &quant, &e) < 0) {
		reply_err(c, &e);
		return;
	}
	struct dop *o = xcalloc(1, sizeof(*o));
	o->c = c;
	o->srv = c->srv;
	o->target_id = t->id;
	o->user_id = c->user.id;
	snprintf(o->username, sizeof o->username, "%s", c->user.username);
	snprintf(o->ip, sizeof o->ip, "%s", dp_ctx_peer(c));
	snprintf(o->model, sizeof o->model, "%s", model);
	snprintf(o->quant, sizeof o->quant, "%s", quant ? quant : "");
	char *body = dp_forge_download_body(model, quant);
	const char *err = NULL;
	dp_ctx_on_abort(c, dop_abort, o);
	if (!start_upstream(c->srv, t, "POST", "/api/v1/models/download", body, LIST_TIMEOUT_MS, download_done, o,
	                    &err)) {
		dp_ctx_on_abort(c, NULL, NULL);
		dp_reply_error(c, 502, "invalid_target", "%s", err ? err : "invalid target");
		free(o);
	}
	free(body);
}

static void download_get(struct dp_ctx *c)
{
	const struct dp_target *t = path_target(c);
	if (!t)
		return;
	const json_t *job = dp_forge_job_get(c->srv->forge, t->id, dp_ctx_param(c, "job_id"));
	if (!job) {
		dp_reply_error(c, 404, "not_found", "no such download job on this target");
		return;
	}
	dp_reply_json(c, 200, json_pack("{s:O}", "job", job));
}

static void downloads(struct dp_ctx *c)
{
	const struct dp_target *t = path_target(c);
	if (!t)
		return;
	dp_reply_json(
	        c, 200,
	        json_pack("{s:I, s:o}", "target_id", (json_int_t)t->id, "jobs", dp_forge_jobs(c->srv->forge, t->id)));
}

/* ------------------------------------------------------------ facts */

struct xop {
	struct dp_ctx *c;
	struct dp_server *srv;
	int64_t target_id;
	int pending;
	json_t *v1;
	char code[40], msg[512];
	enum dp_upstream_outcome oc;
	json_t *ps;
	char lms_why[256];
};

static void xop_abort(struct dp_ctx *c, void *arg)
{
	struct xop *o = arg;
	(void)c;
	o->c = NULL;
}

static void facts_finish(struct xop *o)
{
	if (--o->pending > 0)
		return;
	struct dp_ctx *c = o->c;
	if (c) {
		dp_ctx_on_abort(c, NULL, NULL);
		if (!o->v1) {
			reply_upstream(c, o->oc, o->code, o->msg);
		} else {
			int64_t now = dp_health_now_ms();
			json_t *arr = json_array(), *m, *li;
			size_t i, k;
			json_array_foreach(json_object_get(o->v1, "models"), i, m)
			{
				json_array_foreach(json_object_get(m, "loaded_instances"), k, li)
				{
					const char *id = json_string_value(json_object_get(li, "id"));
					if (!id)
						continue;
					json_t *pe = NULL, *p;
					size_t q;
					json_array_foreach(o->ps, q, p)
					{
						const char *pid = json_string_value(json_object_get(p, "identifier"));
						if (pid && !strcmp(pid, id))
							pe = p;
					}
					json_t *ttl = pe ? json_object_get(pe, "ttl_ms") : NULL;
					json_t *lu = pe ? json_object_get(pe, "last_used_ms") : NULL;
					json_t *e = json_pack("{s:s, s:O?, s:O?, s:o, s:O?}", "instance_id", id,
					                      "model", json_object_get(m, "key"), "ttl_ms",
					                      json_is_integer(ttl) ? ttl : NULL, "last_used_at",
					                      json_is_integer(lu)
					                              ? dp_health_time_json(json_integer_value(lu))
					                              : json_null(),
					                      "status", pe ? json_object_get(pe, "status") : NULL);
					json_t *fx =
					        dp_forge_instance_facts(o->srv->forge, o->target_id, id, ttl, lu, now);
					json_object_update(e, fx);
					json_decref(fx);
					json_array_append_new(arr, e);
				}
			}
			json_t *lms = o->ps ? json_pack("{s:b, s:n}", "available", 1, "reason")
			                    : json_pack("{s:b, s:s}", "available", 0, "reason", o->lms_why);
			dp_reply_json(c, 200,
			              json_pack("{s:I, s:{s:n, s:s}, s:o, s:o, s:o}", "target_id",
			                        (json_int_t)o->target_id, "jit", "enabled", "reason",
			                        "LM Studio does not report whether Just-in-Time loading is on", "lms",
			                        lms, "instances", arr, "last_loads",
			                        dp_forge_last_loads(o->srv->forge, o->target_id)));
		}
	}
	json_decref(o->v1);
	json_decref(o->ps);
	free(o);
}

static void facts_v1(struct dp_upstream_req *r, const struct dp_upstream_result *res, void *arg)
{
	struct xop *o = arg;
	(void)r;
	if (res->outcome == DP_UPSTREAM_OK && json_is_array(json_object_get(res->json, "models"))) {
		o->v1 = json_incref(res->json);
	} else {
		o->oc = res->outcome == DP_UPSTREAM_OK ? DP_UPSTREAM_BAD_RESPONSE : res->outcome;
		snprintf(o->code, sizeof o->code, "%s", res->outcome == DP_UPSTREAM_OK ? "unexpected_body" : res->code);
		snprintf(o->msg, sizeof o->msg, "%s", res->message);
	}
	facts_finish(o);
}

static void facts_ps(const struct dp_lms_result *res, void *arg)
{
	struct xop *o = arg;
	if (res->status == DP_LMS_OK && json_is_array(res->json))
		o->ps = json_incref(res->json);
	else
		snprintf(o->lms_why, sizeof o->lms_why, "%s", res->message && *res->message ? res->message : res->code);
	facts_finish(o);
}

static void facts(struct dp_ctx *c)
{
	const struct dp_target *t = path_target(c);
	if (!t)
		return;
	struct xop *o = xcalloc(1, sizeof(*o));
	o->c = c;
	o->srv = c->srv;
	o->target_id = t->id;
	o->pending = 1;
	dp_ctx_on_abort(c, xop_abort, o);
	const char *err = NULL;
	o->pending++;
	if (!start_upstream(c->srv, t, "GET", "/api/v1/models", NULL, LIST_TIMEOUT_MS, facts_v1, o, &err)) {
		o->pending--;
		o->oc = DP_UPSTREAM_STOPPED;
		snprintf(o->code, sizeof o->code, "invalid_target");
		snprintf(o->msg, sizeof o->msg, "%s", err ? err : "invalid target");
	}
	const char *why = NULL;
	char host[DP_TARGET_HOST_MAX + 1], key[40];
	int port, derived;
	if (!dp_lms_available(c->srv->lms, &why)) {
		snprintf(o->lms_why, sizeof o->lms_why, "%s", why ? why : "the lms bridge is unavailable");
	} else if (dp_target_lms_endpoint(t, host, &port, &derived) < 0) {
		snprintf(o->lms_why, sizeof o->lms_why, "no lms endpoint for this target");
	} else {
		ref_of(key, t->id);
		struct dp_lms_target lt = {.key = key, .host = host, .port = port};
		struct dp_lms_req lr = {.cmd = DP_LMS_PS};
		o->pending++;
		dp_lms_call(c->srv->lms, &lt, &lr, facts_ps, o);
	}
	facts_finish(o);
}

const struct dp_route dp_api_forge_routes[] = {
        {.method = "POST", .path = "/api/targets/{id}/models/load", .fn = load, .role = DP_ROLE_OPERATOR},
        {.method = "POST", .path = "/api/targets/{id}/models/estimate", .fn = estimate, .role = DP_ROLE_OPERATOR},
        {.method = "POST", .path = "/api/targets/{id}/models/download", .fn = download, .role = DP_ROLE_OPERATOR},
        {.method = "GET", .path = "/api/targets/{id}/downloads", .fn = downloads, .role = DP_ROLE_VIEWER},
        {.method = "GET", .path = "/api/targets/{id}/downloads/{job_id}", .fn = download_get, .role = DP_ROLE_VIEWER},
        {.method = "GET", .path = "/api/targets/{id}/models/facts", .fn = facts, .role = DP_ROLE_VIEWER},
        {0},
};
