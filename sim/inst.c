/*
 * inst.c - the simulator's state: setup/teardown, model lookup, loaded
 * instances (load with simulated load time, unload, JIT auto-evict, idle
 * TTL sweep) and instance status.
 *
 * Instance ids follow LM Studio: the model key, then key:2, key:3... for
 * repeated loads (observed, reference §3.2). A load reserves its memory at
 * once (so concurrent loads cannot overcommit) and becomes usable after the
 * simulated load time; predictions that arrive meanwhile wait in its queue.
 * Unloading ends every prediction on the instance first, then frees it.
 */
#include "sim.h"

#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "xmalloc.h"

static uint64_t real_now(void *arg)
{
	(void)arg;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void dp_sim_init(struct dp_sim *sim, const struct dp_sim_config *cfg, struct event_base *base)
{
	memset(sim, 0, sizeof(*sim));
	sim->cfg = *cfg;
	sim->base = base;
	sim->now_fn = real_now;
	sim->server_running = 1;
	sim->cpu_bandwidth_gbps = 60;
	TAILQ_INIT(&sim->insts);
	TAILQ_INIT(&sim->dead);
	dp_simlog_init(&sim->log);
}

int dp_sim_setup(struct dp_sim *sim, char *err, size_t errlen)
{
	int rc;
	if (sim->cfg.catalog_path) {
		FILE *f = fopen(sim->cfg.catalog_path, "rb");
		if (!f) {
			snprintf(err, errlen, "cannot open catalog '%s'", sim->cfg.catalog_path);
			return -ENOENT;
		}
		struct dp_buf b;
		dp_buf_init(&b, 8u << 20);
		char chunk[8192];
		size_t n;
		rc = 0;
		while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
			if ((rc = dp_buf_add(&b, chunk, n)) < 0)
				break;
		fclose(f);
		if (rc < 0) {
			snprintf(err, errlen, "catalog '%s' is larger than 8 MiB", sim->cfg.catalog_path);
			return rc;
		}
		rc = dp_catalog_parse(sim, b.data, err, errlen);
		dp_buf_release(&b);
	} else {
		rc = dp_catalog_parse(sim, dp_catalog_default_json, err, errlen);
	}
	if (rc < 0)
		return rc;
	if ((rc = dp_hw_parse_gpus(sim, sim->cfg.gpus, err, errlen)) < 0)
		return rc;
	sim->ram_total = sim->cfg.ram ? sim->cfg.ram : (64ull << 30);
	return 0;
}

static void inst_free(struct dp_sim_inst *in)
{
	if (in->load_timer)
		event_free(in->load_timer);
	free(in->id);
	free(in);
}

void dp_sim_release(struct dp_sim *sim)
{
	struct dp_sim_inst *in;
	while ((in = TAILQ_FIRST(&sim->insts)))
		dp_inst_unload(in, "shutdown");
	dp_pred_release_all(sim);
	for (int i = 0; i < sim->nmodels; i++)
		dp_catalog_model_free(sim->models[i]);
	sim->nmodels = 0;
	for (int i = 0; i < sim->ndownloads; i++)
		free(sim->downloads[i]);
	sim->ndownloads = 0;
	dp_simlog_release(&sim->log);
}

uint64_t dp_sim_now(const struct dp_sim *sim)
{
	return sim->now_fn(sim->now_arg);
}

double dp_sim_scale_ms(const struct dp_sim *sim, double seconds)
{
	if (sim->cfg.speed <= 0 || seconds <= 0)
		return 0;
	return seconds * 1000.0 / sim->cfg.speed;
}

struct dp_sim_model *dp_sim_find_model(struct dp_sim *sim, const char *key)
{
	if (!key)
		return NULL;
	for (int i = 0; i < sim->nmodels; i++)
		if (!strcmp(sim->models[i]->key, key))
			return sim->models[i];
	/* "key@quant" variants name the same file in a one-variant catalog */
	for (int i = 0; i < sim->nmodels; i++)
		if (sim->models[i]->variant && !strcasecmp(sim->models[i]->variant, key))
			return sim->models[i];
	return NULL;
}

struct dp_sim_model *dp_sim_match_model(struct dp_sim *sim, const char *q, int *ambiguous)
{
	*ambiguous = 0;
	struct dp_sim_model *m = dp_sim_find_model(sim, q);
	if (m)
		return m;
	for (int i = 0; i < sim->nmodels; i++)
		if (!strcasecmp(sim->models[i]->path, q) || !strcasecmp(sim->models[i]->key, q))
			return sim->models[i];
	struct dp_sim_model *hit = NULL;
	int n = 0;
	for (int i = 0; i < sim->nmodels; i++)
		if (sim->models[i]->downloaded && strcasestr(sim->models[i]->key, q)) {
			hit = sim->models[i];
			n++;
		}
	if (n > 1) {
		*ambiguous = 1;
		return NULL;
	}
	return hit;
}

struct dp_sim_inst *dp_sim_find_inst(struct dp_sim *sim, const char *id)
{
	struct dp_sim_inst *in;
	if (!id)
		return NULL;
	TAILQ_FOREACH(in, &sim->insts, link)
	if (!strcmp(in->id, id))
		return in;
	return NULL;
}

static int load_count(const struct dp_sim_inst *in)
{
	int n = in->active;
	const struct dp_pred *p;
	TAILQ_FOREACH(p, &in->queue, link)
	n++;
	return n;
}

struct dp_sim_inst *dp_sim_inst_for_key(struct dp_sim *sim, const char *key)
{
	struct dp_sim_model *m = dp_sim_find_model(sim, key);
	struct dp_sim_inst *in, *best = NULL;
	if (!m)
		return NULL;
	TAILQ_FOREACH(in, &sim->insts, link)
	if (in->m == m && (!best || load_count(in) < load_count(best)))
		best = in;
	return best;
}

int dp_inst_count(const struct dp_sim *sim)
{
	int n = 0;
	const struct dp_sim_inst *in;
	TAILQ_FOREACH(in, &sim->insts, link)
	n++;
	return n;
}

static void finish_load(struct dp_sim_inst *in, int ok)
{
	in->loading = 0;
	struct dp_loadwait *w = in->waiters, *n;
	in->waiters = NULL;
	for (; w; w = n) {
		n = w->next;
		w->fn(in, ok, w->arg);
		free(w);
	}
}

static void load_done_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct dp_sim_inst *in = arg;
	(void)fd;
	(void)ev;
	in->last_used_ms = dp_sim_now(in->sim);
	dp_simlog_runtime(in->sim, "info", in, "Model loaded successfully in %.2fs", in->load_seconds);
	finish_load(in, 1);
	dp_pred_kick(in);
}

int dp_inst_load(struct dp_sim *sim, struct dp_sim_model *m, const struct dp_sim_load_opts *o, struct dp_sim_inst **out)
{
	if (!m->downloaded)
		return -ENOENT;
	if (dp_inst_count(sim) >= DP_SIM_MAX_INSTANCES)
		return -ENOSPC;
	char idbuf[600];
	if (o->identifier && *o->identifier) {
		if (dp_sim_find_inst(sim, o->identifier))
			return -EEXIST;
		snprintf(idbuf, sizeof(idbuf), "%s", o->identifier);
	} else {
		snprintf(idbuf, sizeof(idbuf), "%s", m->key);
		for (int k = 2; dp_sim_find_inst(sim, idbuf); k++)
			snprintf(idbuf, sizeof(idbuf), "%s:%d", m->key, k);
	}
	int emb = m->type == DP_SIM_EMBEDDING;
	int ctx = o->context_length > 0
	                  ? o->context_length
	                  : (m->max_context_length < (emb ? 2048 : 8192) ? m->max_context_length : (emb ? 2048 : 8192));
	if (ctx > m->max_context_length)
		ctx = m->max_context_length;
	int parallel = emb ? 1 : (o->parallel > 0 ? o->parallel : 4);
	int offload_kv = o->offload_kv < 0 ? 1 : o->offload_kv;
	struct dp_sim_mem mem;
	dp_hw_estimate(sim, m, ctx, parallel, offload_kv, o->gpu_ratio, &mem);
	if (!mem.fits)
		return -ENOSPC;
	dp_hw_commit(sim, &mem);
	struct dp_sim_inst *in = xcalloc(1, sizeof(*in));
	in->sim = sim;
	in->m = m;
	in->id = xstrdup(idbuf);
	in->jit = o->jit;
	in->context_length = ctx;
	in->eval_batch_size = o->eval_batch_size > 0 ? o->eval_batch_size : 512;
	in->parallel = parallel;
	in->flash_attention = o->flash_attention < 0 ? 1 : o->flash_attention;
	in->num_experts = m->num_experts ? (o->num_experts > 0 ? o->num_experts : m->experts_used) : 0;
	in->offload_kv = offload_kv;
	in->mem = mem;
	in->gpu_ratio_req = o->gpu_ratio;
	in->ttl_ms = o->ttl_ms;
	in->load_started_ms = dp_sim_now(sim);
	in->last_used_ms = in->load_started_ms;
	in->load_seconds = dp_gen_load_seconds(m, &mem);
	in->loading = 1;
	TAILQ_INIT(&in->queue);
	TAILQ_INIT(&in->running);
	TAILQ_INSERT_TAIL(&sim->insts, in, link);
	dp_simlog_runtime(sim, "info", in, "Loading model %s (context length %d, GPU offload %.0f%%)", m->path, ctx,
	                  mem.ratio * 100);
	*out = in;
	if (sim->base) {
		in->load_timer = evtimer_new(sim->base, load_done_cb, in);
		double ms = dp_sim_scale_ms(sim, in->load_seconds);
		struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)((long)ms % 1000) * 1000};
		evtimer_add(in->load_timer, &tv);
	} else {
		in->loading = 0; /* unit tests: loads complete at once */
	}
	return 0;
}

void dp_inst_wait_loaded(struct dp_sim_inst *in, dp_loadwait_fn fn, void *arg)
{
	if (!in->loading) {
		fn(in, 1, arg);
		return;
	}
	struct dp_loadwait *w = xcalloc(1, sizeof(*w));
	w->fn = fn;
	w->arg = arg;
	struct dp_loadwait **pp = &in->waiters;
	while (*pp)
		pp = &(*pp)->next;
	*pp = w;
}

void dp_inst_unload(struct dp_sim_inst *in, const char *why)
{
	struct dp_sim *sim = in->sim;
	in->unloading = 1;
	if (in->load_timer)
		event_del(in->load_timer);
	if (in->loading)
		finish_load(in, 0);
	dp_pred_detach_all(in);
	TAILQ_REMOVE(&sim->insts, in, link);
	dp_hw_free(sim, &in->mem);
	dp_simlog_runtime(sim, "info", in, "Unloaded model (%s)", why);
	inst_free(in);
}

int dp_inst_status(const struct dp_sim_inst *in)
{
	if (in->active_gen > 0)
		return DP_SIM_GENERATING;
	if (in->active > 0)
		return in->m->type == DP_SIM_EMBEDDING ? DP_SIM_EMBEDDING_ST : DP_SIM_PROCESSING_PROMPT;
	return DP_SIM_IDLE;
}

const char *dp_inst_status_name(int st)
{
	switch (st) {
	case DP_SIM_PROCESSING_PROMPT:
		return "processingPrompt";
	case DP_SIM_GENERATING:
		return "generating";
	case DP_SIM_EMBEDDING_ST:
		return "computingEmbedding";
	default:
		return "idle";
	}
}

void dp_inst_touch(struct dp_sim_inst *in)
{
	in->last_used_ms = dp_sim_now(in->sim);
}

static int is_idle(const struct dp_sim_inst *in)
{
	return !in->loading && in->active == 0 && TAILQ_EMPTY(&in->queue);
}

int dp_inst_sweep(struct dp_sim *sim)
{
	uint64_t now = dp_sim_now(sim);
	int n = 0;
	struct dp_sim_inst *in, *tmp;
	for (in = TAILQ_FIRST(&sim->insts); in; in = tmp) {
		tmp = TAILQ_NEXT(in, link);
		if (in->ttl_ms < 0 || !is_idle(in))
			continue;
		if (now >= in->last_used_ms && now - in->last_used_ms >= (uint64_t)in->ttl_ms) {
			dp_simlog_server(sim, "info", "Unloading model %s due to TTL expiry", in->id);
			dp_inst_unload(in, "idle TTL expired");
			n++;
		}
	}
	return n;
}

void dp_inst_evict_jit(struct dp_sim *sim)
{
	struct dp_sim_inst *in, *tmp;
	for (in = TAILQ_FIRST(&sim->insts); in; in = tmp) {
		tmp = TAILQ_NEXT(in, link);
		if (in->jit && is_idle(in)) {
			dp_simlog_server(sim, "info", "Auto-evicting JIT-loaded model %s", in->id);
			dp_inst_unload(in, "auto-evict before a JIT load");
		}
	}
}
