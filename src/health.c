/*
 * health.c - the health hub (see health.h): per-target poll timers, state
 * updates and events, model fingerprints, API caches, and the server
 * wiring (secret key, event stream, first-start target).
 *
 * Each target has one struct rt. A poll in flight owns nothing but the
 * pointer rt->req; a removed target whose poll is still running is freed by
 * that poll's on_done (which always runs, as cancelled after an abort).
 */
#include "health.h"

#include <errno.h>
#include <event2/event.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "audit.h"
#include "events.h"
#include "log.h"
#include "secret.h"
#include "server.h"
#include "store.h"
#include "xmalloc.h"

#define MAX_POLL_BODY (4u << 20)

struct cache {
	json_t *v;
	int64_t at_ms;
};

struct dp_health_waiter {
	struct dp_health_waiter *next, *prev;
	struct rt *r;
	int k;
	dp_health_wait_fn fn;
	void *arg;
};

struct rt {
	struct dp_health *h;
	struct rt *next;
	struct dp_target t;
	struct dp_health_status st;
	struct event *timer;
	struct dp_upstream_req *req;
	int64_t poll_start_ms;
	int repoll;             /* poke while a poll was running */
	unsigned gen, poll_gen; /* endpoint generation now / when the running poll started */
	int removed;            /* freed by the running poll's on_done */
	char fp[33];            /* models fingerprint, "" before the first */
	int have_loaded;
	uint64_t weights;
	size_t instances;
	struct cache cache[DP_HEALTH__NCACHE];
	struct dp_health_waiter *waiters[DP_HEALTH__NCACHE];
	int fetching[DP_HEALTH__NCACHE];
};

struct dp_health {
	struct event_base *base;
	struct dp_upstream *up;
	struct dp_events *ev;
	const struct dp_secret *sec;
	struct dp_health_config cfg;
	struct rt *head;
	uint64_t polls;
};

/* ------------------------------------------------------------ pure part */

int64_t dp_health_now_ms(void)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

json_t *dp_health_time_json(int64_t ms)
{
	if (ms <= 0)
		return json_null();
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	char buf[32];
	gmtime_r(&t, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return json_string(buf);
}

void dp_health_config_defaults(struct dp_health_config *c, int interval_ms)
{
	if (interval_ms < 100)
		interval_ms = 100;
	c->interval_ms = interval_ms;
	int t = interval_ms - interval_ms / 10;
	c->timeout_ms = t < 100 ? 100 : t > 10000 ? 10000 : t;
	long long cap = (long long)interval_ms * 16;
	if (cap > 60000)
		cap = 60000;
	if (cap < interval_ms)
		cap = interval_ms;
	c->max_delay_ms = (int)cap;
}

const char *dp_health_state_name(enum dp_health_state s)
{
	switch (s) {
	case DP_HEALTH_RUNNING:
		return "running";
	case DP_HEALTH_STOPPED:
		return "stopped";
	case DP_HEALTH_STALLED:
		return "stalled";
	case DP_HEALTH_UNAUTHORIZED:
		return "unauthorized";
	case DP_HEALTH_ERROR:
		return "error";
	case DP_HEALTH_UNKNOWN:
		break;
	}
	return "unknown";
}

enum dp_health_state dp_health_classify(const struct dp_upstream_result *r)
{
	switch (r->outcome) {
	case DP_UPSTREAM_OK:
		return DP_HEALTH_RUNNING;
	case DP_UPSTREAM_STOPPED:
		return DP_HEALTH_STOPPED;
	case DP_UPSTREAM_STALLED:
		return DP_HEALTH_STALLED;
	case DP_UPSTREAM_UNAUTHORIZED:
		return DP_HEALTH_UNAUTHORIZED;
	case DP_UPSTREAM_HTTP_ERROR:
	case DP_UPSTREAM_BAD_RESPONSE:
		return DP_HEALTH_ERROR;
	case DP_UPSTREAM_CANCELLED:
		break;
	}
	return DP_HEALTH_UNKNOWN;
}

int dp_health_next_delay(const struct dp_health_config *c, int failures)
{
	long long d = c->interval_ms;
	for (int i = 1; i < failures && d < c->max_delay_ms; i++)
		d *= 2;
	if (d > c->max_delay_ms)
		d = c->max_delay_ms;
	if (d < c->interval_ms)
		d = c->interval_ms;
	return (int)d;
}

int dp_health_status_update(struct dp_health_status *st, enum dp_health_state s, const char *code, const char *msg,
                            double latency_ms, int64_t now_ms)
{
	if (s == DP_HEALTH_RUNNING) {
		code = "";
		msg = "";
	}
	int changed = st->state != s || strcmp(st->code, code ? code : "") != 0;
	if (st->state != s || st->since_ms == 0)
		st->since_ms = now_ms;
	st->state = s;
	st->checked_ms = now_ms;
	st->latency_ms = latency_ms;
	st->failures = s == DP_HEALTH_RUNNING ? 0 : st->failures + 1;
	snprintf(st->code, sizeof(st->code), "%s", code ? code : "");
	snprintf(st->message, sizeof(st->message), "%s", msg ? msg : "");
	return changed;
}

json_t *dp_health_status_json(const struct dp_health_status *st)
{
	json_t *err = st->state == DP_HEALTH_RUNNING || st->state == DP_HEALTH_UNKNOWN
	                      ? json_null()
	                      : json_pack("{s:s, s:s}", "code", st->code, "message", st->message);
	json_t *lat =
	        st->latency_ms >= 0 && st->checked_ms ? json_integer((json_int_t)(st->latency_ms + 0.5)) : json_null();
	return json_pack("{s:s, s:o, s:o, s:o, s:o}", "state", dp_health_state_name(st->state), "latency_ms", lat,
	                 "checked_at", dp_health_time_json(st->checked_ms), "since", dp_health_time_json(st->since_ms),
	                 "error", err);
}

int dp_health_fingerprint(const json_t *body, char out[33], json_t **loaded, size_t *nmodels, uint64_t *weights,
                          size_t *instances)
{
	json_t *models = json_is_object(body) ? json_object_get(body, "models") : NULL;
	if (loaded)
		*loaded = NULL;
	if (!json_is_array(models))
		return -EINVAL;
	json_t *summary = json_array(), *lo = json_array(), *m;
	size_t i;
	uint64_t w = 0;
	size_t ninst = 0;
	json_array_foreach(models, i, m)
	{
		const char *key = json_string_value(json_object_get(m, "key"));
		json_t *insts = json_object_get(m, "loaded_instances"), *li;
		json_t *row = json_array();
		size_t k;
		json_array_append_new(row, json_string(key ? key : ""));
		if (json_is_array(insts))
			json_array_foreach(insts, k, li)
			{
				const char *id = json_string_value(json_object_get(li, "id"));
				json_t *cfg = json_object_get(li, "config");
				json_array_append_new(row, json_pack("[s,O]", id ? id : "", cfg ? cfg : json_null()));
				json_array_append_new(lo, json_pack("{s:s,s:s}", "model", key ? key : "", "instance_id",
				                                    id ? id : ""));
				json_t *sz = json_object_get(m, "size_bytes");
				if (json_is_integer(sz) && json_integer_value(sz) > 0)
					w += (uint64_t)json_integer_value(sz);
				else if (json_is_real(sz) && json_real_value(sz) > 0)
					w += (uint64_t)json_real_value(sz);
				ninst++;
			}
		json_array_append_new(summary, row);
	}
	char *txt = json_dumps(summary, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(summary);
	unsigned char hash[16];
	crypto_generichash(hash, sizeof(hash), (const unsigned char *)(txt ? txt : ""), txt ? strlen(txt) : 0, NULL, 0);
	free(txt);
	sodium_bin2hex(out, 33, hash, sizeof(hash));
	if (nmodels)
		*nmodels = json_array_size(models);
	if (weights)
		*weights = w;
	if (instances)
		*instances = ninst;
	if (loaded)
		*loaded = lo;
	else
		json_decref(lo);
	return 0;
}

/* ------------------------------------------------------------- the hub */

static struct rt *find(struct dp_health *h, int64_t id)
{
	for (struct rt *r = h->head; r; r = r->next)
		if (r->t.id == id && !r->removed)
			return r;
	return NULL;
}

static void cache_clear(struct rt *r)
{
	for (int k = 0; k < DP_HEALTH__NCACHE; k++) {
		json_decref(r->cache[k].v);
		r->cache[k].v = NULL;
	}
}

static void flush_all(struct rt *r);

static void rt_free(struct rt *r)
{
	if (r->timer)
		event_free(r->timer);
	cache_clear(r);
	dp_target_release(&r->t);
	free(r);
}

static void unlink_rt(struct dp_health *h, struct rt *r)
{
	for (struct rt **p = &h->head; *p; p = &(*p)->next)
		if (*p == r) {
			*p = r->next;
			return;
		}
}

static void schedule(struct rt *r, int64_t delay_ms)
{
	if (delay_ms < 0)
		delay_ms = 0;
	struct timeval tv = {(time_t)(delay_ms / 1000), (suseconds_t)((delay_ms % 1000) * 1000)};
	event_add(r->timer, &tv);
}

static void publish_health(struct rt *r, enum dp_health_state prev)
{
	if (!r->h->ev)
		return;
	json_t *d = json_pack("{s:I, s:o, s:s}", "target_id", (json_int_t)r->t.id, "health",
	                      dp_health_status_json(&r->st), "previous", dp_health_state_name(prev));
	dp_events_publish(r->h->ev, "health", d);
	json_decref(d);
}

static void poll_done(struct dp_upstream_req *req, const struct dp_upstream_result *res, void *arg)
{
	struct rt *r = arg;
	struct dp_health *h = r->h;
	(void)req;
	r->req = NULL;
	if (res->outcome == DP_UPSTREAM_CANCELLED || r->removed) {
		if (r->removed)
			rt_free(r);
		return;
	}
	if (r->poll_gen != r->gen) { /* the URL or token changed meanwhile: that answer is stale */
		r->repoll = 0;
		schedule(r, 0);
		return;
	}
	int64_t now = dp_health_now_ms();
	enum dp_health_state s = dp_health_classify(res);
	const char *code = res->code, *msg = res->message;
	char fp[33];
	json_t *loaded = NULL;
	size_t nmodels = 0, ninst = 0;
	uint64_t weights = 0;
	if (s == DP_HEALTH_RUNNING && dp_health_fingerprint(res->json, fp, &loaded, &nmodels, &weights, &ninst) < 0) {
		s = DP_HEALTH_ERROR;
		code = "unexpected_body";
		msg = "the daemon answered GET /api/v1/models without a models list";
	}
	if (s == DP_HEALTH_RUNNING) {
		r->have_loaded = 1;
		r->weights = weights;
		r->instances = ninst;
		if (strcmp(fp, r->fp) != 0) {
			memcpy(r->fp, fp, sizeof(fp));
			cache_clear(r);
			if (h->ev) {
				json_t *d =
				        json_pack("{s:I, s:s, s:O, s:I}", "target_id", (json_int_t)r->t.id,
				                  "fingerprint", fp, "loaded", loaded, "models", (json_int_t)nmodels);
				dp_events_publish(h->ev, "models", d);
				json_decref(d);
			}
		}
	}
	json_decref(loaded);
	enum dp_health_state prev = r->st.state;
	double latency = res->status > 0 ? res->total_ms : -1;
	if (dp_health_status_update(&r->st, s, code, msg, latency, now)) {
		if (s != DP_HEALTH_RUNNING)
			dp_info("target %lld (%s): %s: %s", (long long)r->t.id, r->t.label, dp_health_state_name(s),
			        msg);
		else
			dp_info("target %lld (%s): running", (long long)r->t.id, r->t.label);
		publish_health(r, prev);
	}
	if (r->repoll) {
		r->repoll = 0;
		schedule(r, 0);
		return;
	}
	int64_t next = r->poll_start_ms + dp_health_next_delay(&h->cfg, r->st.failures);
	schedule(r, next - now);
}

static void poll_start(struct rt *r)
{
	struct dp_health *h = r->h;
	if (r->req || !h->up)
		return;
	char *token = NULL;
	if (dp_target_token(&r->t, h->sec, &token) < 0) {
		enum dp_health_state prev = r->st.state;
		if (dp_health_status_update(
		            &r->st, DP_HEALTH_UNAUTHORIZED, "token_unreadable",
		            "the stored API token cannot be decrypted with this secret.key; set it again", -1,
		            dp_health_now_ms()))
			publish_health(r, prev);
		schedule(r, dp_health_next_delay(&h->cfg, r->st.failures));
		return;
	}
	struct dp_upstream_opts o = {
	        .method = "GET",
	        .base_url = r->t.url,
	        .path = "/api/v1/models",
	        .token = token,
	        .connect_timeout_ms = h->cfg.timeout_ms < DP_UPSTREAM_CONNECT_TIMEOUT_MS
	                                      ? h->cfg.timeout_ms
	                                      : DP_UPSTREAM_CONNECT_TIMEOUT_MS,
	        .timeout_ms = h->cfg.timeout_ms,
	        .max_response = MAX_POLL_BODY,
	        .mode = DP_UPSTREAM_BUFFERED,
	        .on_done = poll_done,
	        .arg = r,
	};
	const char *err = NULL;
	r->poll_start_ms = dp_health_now_ms();
	r->poll_gen = r->gen;
	r->req = dp_upstream_start(h->up, &o, &err);
	dp_secret_wipe_free(token);
	h->polls++;
	if (!r->req) {
		enum dp_health_state prev = r->st.state;
		if (dp_health_status_update(&r->st, DP_HEALTH_ERROR, "invalid_target", err ? err : "invalid target", -1,
		                            dp_health_now_ms()))
			publish_health(r, prev);
		schedule(r, dp_health_next_delay(&h->cfg, r->st.failures));
	}
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	poll_start(arg);
}

struct dp_health *dp_health_new(struct event_base *base, struct dp_upstream *up, struct dp_events *ev,
                                const struct dp_secret *sec, const struct dp_health_config *cfg)
{
	struct dp_health *h = xcalloc(1, sizeof(*h));
	h->base = base;
	h->up = up;
	h->ev = ev;
	h->sec = sec;
	h->cfg = *cfg;
	return h;
}

void dp_health_free(struct dp_health *h)
{
	if (!h)
		return;
	while (h->head) {
		struct rt *r = h->head;
		h->head = r->next;
		flush_all(r);
		if (r->req) { /* upstream still alive: let its on_done free r */
			r->removed = 1;
			dp_upstream_abort(r->req);
			event_del(r->timer);
			continue;
		}
		rt_free(r);
	}
	free(h);
}

const struct dp_health_config *dp_health_config(const struct dp_health *h)
{
	return &h->cfg;
}

void dp_health_set_target(struct dp_health *h, const struct dp_target *t)
{
	struct rt *r = find(h, t->id);
	if (!r) {
		r = xcalloc(1, sizeof(*r));
		r->h = h;
		r->timer = event_new(h->base, -1, 0, timer_cb, r);
		r->st.latency_ms = -1;
		dp_target_copy(&r->t, t);
		r->next = h->head;
		h->head = r;
	} else {
		int endpoint_changed = strcmp(r->t.url, t->url) != 0 ||
		                       (r->t.api_key_enc == NULL) != (t->api_key_enc == NULL) ||
		                       (r->t.api_key_enc && strcmp(r->t.api_key_enc, t->api_key_enc) != 0);
		dp_target_release(&r->t);
		dp_target_copy(&r->t, t);
		cache_clear(r);
		if (endpoint_changed) {
			r->gen++;
			r->st.failures = 0;
			r->fp[0] = '\0';
			r->have_loaded = 0;
		}
	}
	dp_health_poke(h, t->id);
}

static void flush_waiters(struct rt *r, int k, int status, json_t *body)
{
	struct dp_health_waiter *w = r->waiters[k];
	r->waiters[k] = NULL;
	r->fetching[k] = 0;
	while (w) {
		struct dp_health_waiter *next = w->next;
		dp_health_wait_fn fn = w->fn;
		void *arg = w->arg;
		free(w);
		fn(status, body, arg);
		w = next;
	}
}

static void flush_all(struct rt *r)
{
	json_t *b = json_pack("{s:{s:s, s:s}}", "error", "code", "unavailable", "message", "the target was removed");
	for (int k = 0; k < DP_HEALTH__NCACHE; k++)
		flush_waiters(r, k, 503, b);
	json_decref(b);
}

int dp_health_fetch_join(struct dp_health *h, int64_t id, enum dp_health_cache k, dp_health_wait_fn fn, void *arg,
                         struct dp_health_waiter **out)
{
	struct rt *r = find(h, id);
	*out = NULL;
	if (!r)
		return -ENOENT;
	struct dp_health_waiter *w = xcalloc(1, sizeof(*w));
	w->r = r;
	w->k = k;
	w->fn = fn;
	w->arg = arg;
	w->next = r->waiters[k];
	if (w->next)
		w->next->prev = w;
	r->waiters[k] = w;
	*out = w;
	if (r->fetching[k])
		return 0;
	r->fetching[k] = 1;
	return 1;
}

void dp_health_fetch_leave(struct dp_health *h, struct dp_health_waiter *w)
{
	(void)h;
	if (!w)
		return;
	if (w->prev)
		w->prev->next = w->next;
	else
		w->r->waiters[w->k] = w->next;
	if (w->next)
		w->next->prev = w->prev;
	free(w);
}

void dp_health_fetch_finish(struct dp_health *h, int64_t id, enum dp_health_cache k, int status, json_t *body)
{
	struct rt *r = find(h, id);
	if (r)
		flush_waiters(r, k, status, body);
}

void dp_health_remove_target(struct dp_health *h, int64_t id)
{
	struct rt *r = find(h, id);
	if (!r)
		return;
	flush_all(r);
	unlink_rt(h, r);
	event_del(r->timer);
	if (r->req) {
		r->removed = 1;
		dp_upstream_abort(r->req); /* on_done frees r */
		return;
	}
	rt_free(r);
}

const struct dp_target *dp_health_target(struct dp_health *h, int64_t id)
{
	struct rt *r = find(h, id);
	return r ? &r->t : NULL;
}

json_t *dp_health_json(struct dp_health *h, int64_t id)
{
	struct rt *r = find(h, id);
	return r ? dp_health_status_json(&r->st) : NULL;
}

json_t *dp_health_snapshot(struct dp_health *h)
{
	json_t *arr = json_array();
	for (struct rt *r = h->head; r; r = r->next)
		if (!r->removed)
			json_array_append_new(arr, json_pack("{s:I, s:s, s:o}", "id", (json_int_t)r->t.id, "label",
			                                     r->t.label, "health", dp_health_status_json(&r->st)));
	return json_pack("{s:o}", "targets", arr);
}

void dp_health_poke(struct dp_health *h, int64_t id)
{
	struct rt *r = find(h, id);
	if (!r)
		return;
	if (r->req) {
		r->repoll = 1;
		return;
	}
	event_del(r->timer);
	schedule(r, 0);
}

uint64_t dp_health_polls(const struct dp_health *h)
{
	return h->polls;
}

int dp_health_loaded(struct dp_health *h, int64_t id, uint64_t *weights, size_t *instances)
{
	struct rt *r = find(h, id);
	if (!r || !r->have_loaded)
		return -ENOENT;
	*weights = r->weights;
	*instances = r->instances;
	return 0;
}

json_t *dp_health_cache_get(struct dp_health *h, int64_t id, enum dp_health_cache k, int max_age_ms)
{
	struct rt *r = find(h, id);
	if (!r || !r->cache[k].v)
		return NULL;
	if (dp_health_now_ms() - r->cache[k].at_ms > max_age_ms)
		return NULL;
	return r->cache[k].v;
}

void dp_health_cache_put(struct dp_health *h, int64_t id, enum dp_health_cache k, json_t *v)
{
	struct rt *r = find(h, id);
	if (!r) {
		json_decref(v);
		return;
	}
	json_decref(r->cache[k].v);
	r->cache[k].v = v;
	r->cache[k].at_ms = dp_health_now_ms();
}

void dp_health_cache_drop(struct dp_health *h, int64_t id, enum dp_health_cache k)
{
	struct rt *r = find(h, id);
	if (r) {
		json_decref(r->cache[k].v);
		r->cache[k].v = NULL;
	}
}

/* --------------------------------------------------------- server wiring */

#define BOOTSTRAP_KEY "targets.bootstrapped"

static void bootstrap(struct dp_server *s)
{
	const struct dp_config *cfg = s->cfg;
	if (!cfg->daemon_api_url || !cfg->daemon_api_url[0])
		return;
	char *v = NULL;
	if (dp_store_setting_get(s->store, BOOTSTRAP_KEY, &v) == 0) {
		free(v);
		return; /* done on an earlier start (the admin may have removed it since) */
	}
	int64_t n = 0;
	int64_t now = (int64_t)time(NULL);
	if (dp_targets_count(s->store, &n) == 0 && n == 0) {
		const char *why;
		struct dp_target t;
		dp_target_init(&t);
		if (dp_target_check_url(cfg->daemon_api_url, &why) < 0) {
			dp_warn("DAEMON_API_URL: %s; no default target created", why);
			return;
		}
		if (cfg->daemon_api_key && cfg->daemon_api_key[0] &&
		    dp_target_check_api_key(cfg->daemon_api_key, &why) < 0) {
			dp_warn("DAEMON_API_KEY: %s; no default target created", why);
			return;
		}
		snprintf(t.label, sizeof(t.label), "default");
		snprintf(t.url, sizeof(t.url), "%s", cfg->daemon_api_url);
		dp_target_set_token(&t, s->secret, cfg->daemon_api_key);
		int rc = dp_targets_insert(s->store, &t, now);
		json_t *d = json_pack("{s:s, s:s}", "url", t.url, "api_key", t.api_key_enc ? "set" : "none");
		char target[32];
		snprintf(target, sizeof(target), "target:%lld", (long long)t.id);
		dp_audit_record(s->store, 0, NULL, "target.bootstrap", target, rc == 0 ? DP_AUDIT_OK : DP_AUDIT_FAILED,
		                d, NULL);
		json_decref(d);
		if (rc == 0)
			dp_info("created target %lld 'default' from DAEMON_API_URL", (long long)t.id);
		dp_target_release(&t);
	}
	dp_store_setting_set(s->store, BOOTSTRAP_KEY, "1", now);
}

static int load_one(const struct dp_target *t, void *arg)
{
	dp_health_set_target(arg, t);
	return 0;
}

int dp_health_attach(struct dp_server *s, char **err)
{
	int created = 0;
	int rc = dp_secret_open(s->cfg->data_dir, &s->secret, &created, err);
	if (rc < 0)
		return rc;
	if (created)
		dp_info("created the token encryption key %s/%s (mode 0600)", s->cfg->data_dir, DP_SECRET_KEY_FILE);
	s->events = dp_events_new(0);
	struct dp_health_config hc;
	dp_health_config_defaults(&hc, s->cfg->health_interval_ms);
	s->health = dp_health_new(s->base, s->upstream, s->events, s->secret, &hc);
	bootstrap(s);
	if (dp_targets_each(s->store, load_one, s->health) < 0) {
		if (err)
			*err = xstrdup("cannot read the targets from the database");
		return -EIO;
	}
	return 0;
}

void dp_health_detach(struct dp_server *s)
{
	dp_health_free(s->health);
	s->health = NULL;
	dp_events_free(s->events);
	s->events = NULL;
	dp_secret_free(s->secret);
	s->secret = NULL;
}
