/*
 * api_sim.c - the simulator's private API under /__sim/: telemetry, state,
 * fault injection, the log ring, and the backend of the `lms` stand-in
 * (build/lms), which prints these JSON bodies as the real CLI would.
 * Shapes are documented in sim/README.md. Never authenticated; errors are
 * {"error":"message"} with a 4xx status.
 */
#include "sim.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "http.h"
#include "xmalloc.h"

/* ---- lms JSON shapes ---- */

json_t *dp_api_lms_modelinfo(const struct dp_sim_model *m, int with_variants)
{
	/* ModelInfo (§6.2), key order as in the real `lms ps --json` capture */
	json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:I,s:s,s:n}", "type",
	                      m->type == DP_SIM_EMBEDDING ? "embedding" : "llm", "modelKey", m->key, "format",
	                      !strcmp(m->format, "mlx") ? "safetensors" : "gguf", "displayName", m->display_name,
	                      "publisher", m->publisher, "path", m->path, "sizeBytes", (json_int_t)m->size_bytes,
	                      "indexedModelIdentifier", m->path, "deviceIdentifier");
	if (m->params_string)
		json_object_set_new(o, "paramsString", json_string(m->params_string));
	if (m->architecture)
		json_object_set_new(o, "architecture", json_string(m->architecture));
	if (m->quant_name)
		json_object_set_new(
		        o, "quantization",
		        json_pack("{s:s,s:o}", "name", m->quant_name, "bits", dp_api_num(m->bits_per_weight)));
	if (with_variants && m->variant) {
		json_object_set_new(o, "variants", json_pack("[s]", m->variant));
		json_object_set_new(o, "selectedVariant", json_string(m->variant));
	}
	if (m->type == DP_SIM_LLM) {
		json_object_set_new(o, "vision", json_boolean(m->vision));
		json_object_set_new(o, "trainedForToolUse", json_boolean(m->tool_use));
	}
	json_object_set_new(o, "maxContextLength", json_integer(m->max_context_length));
	return o;
}

json_t *dp_api_lms_ps_entry(const struct dp_sim_inst *in)
{
	json_t *o = dp_api_lms_modelinfo(in->m, 0);
	/* identifier/ttlMs/lastUsedTime come before vision in the capture */
	json_t *tail = json_object();
	const char *k;
	json_t *v;
	void *tmp;
	static const char *const late[] = {"vision", "trainedForToolUse", "maxContextLength"};
	for (size_t i = 0; i < 3; i++)
		if ((v = json_object_get(o, late[i]))) {
			json_object_set(tail, late[i], v);
			json_object_del(o, late[i]);
		}
	json_object_set_new(o, "identifier", json_string(in->id));
	json_object_set_new(o, "ttlMs", in->ttl_ms < 0 ? json_null() : json_integer(in->ttl_ms));
	json_object_set_new(o, "lastUsedTime", json_integer((json_int_t)in->last_used_ms));
	json_object_foreach_safe(tail, tmp, k, v) json_object_set(o, k, v);
	json_decref(tail);
	json_object_set_new(o, "contextLength", json_integer(in->context_length));
	json_object_set_new(o, "status", json_string(dp_inst_status_name(dp_inst_status(in))));
	int queued = in->active;
	const struct dp_pred *p;
	TAILQ_FOREACH(p, &in->queue, link)
	queued++;
	json_object_set_new(o, "queued", json_integer(queued));
	json_object_set_new(o, "parallel", in->m->type == DP_SIM_EMBEDDING ? json_null() : json_integer(in->parallel));
	return o;
}

json_t *dp_api_estimate(struct dp_sim *sim, const struct dp_sim_model *m, int ctx, double ratio, int parallel)
{
	struct dp_sim_mem mem;
	dp_hw_estimate(sim, m, ctx, parallel, 1, ratio, &mem);
	json_t *memo = json_pack("{s:s,s:I,s:I,s:I,s:I,s:I,s:I}", "confidence", "high", "modelVramBytes",
	                         (json_int_t)mem.model_vram, "contextVramBytes", (json_int_t)mem.context_vram,
	                         "totalVramBytes", (json_int_t)(mem.model_vram + mem.context_vram), "modelBytes",
	                         (json_int_t)mem.model_bytes, "contextBytes", (json_int_t)mem.context_bytes,
	                         "totalBytes", (json_int_t)(mem.model_bytes + mem.context_bytes + (200ull << 20)));
	return json_pack("{s:o,s:b,s:s,s:s,s:i,s:f}", "memory", memo, "passesGuardrails", mem.fits, "modelKey", m->key,
	                 "displayName", m->display_name, "contextLength", ctx, "gpuOffloadRatio", mem.ratio);
}

/* ---- helpers ---- */

static json_t *body_obj(struct dp_http_req *req)
{
	size_t n;
	const char *b = dp_http_req_body(req, &n);
	if (!n)
		return json_object();
	json_t *o = json_loadb(b, n, 0, NULL);
	if (o && !json_is_object(o)) {
		json_decref(o);
		o = NULL;
	}
	return o;
}

static json_t *gpus_json(struct dp_sim *sim)
{
	json_t *arr = json_array();
	for (int i = 0; i < sim->ngpus; i++) {
		struct dp_sim_gpu *g = &sim->gpus[i];
		json_array_append_new(arr, json_pack("{s:i,s:s,s:s,s:I,s:I,s:i,s:i,s:i}", "index", i, "name", g->name,
		                                     "id", g->id, "total_vram_bytes", (json_int_t)g->total,
		                                     "used_vram_bytes", (json_int_t)g->used, "utilization_percent",
		                                     (int)lround(g->util), "temperature_c", (int)lround(g->temp),
		                                     "power_w", (int)lround(g->power)));
	}
	return json_pack("{s:o,s:{s:I,s:I}}", "gpus", arr, "ram", "total_bytes", (json_int_t)sim->ram_total,
	                 "used_bytes", (json_int_t)sim->ram_used);
}

static const char *fault_name(int m)
{
	static const char *const n[] = {"none", "slow", "stall", "error500", "close_mid_stream", "refuse"};
	return m >= 0 && m <= 5 ? n[m] : "none";
}

static json_t *state_json(struct dp_sim *sim)
{
	uint64_t now = dp_sim_now(sim);
	json_t *insts = json_array();
	struct dp_sim_inst *in;
	TAILQ_FOREACH(in, &sim->insts, link)
	{
		json_t *vr = json_array();
		for (int i = 0; i < sim->ngpus; i++)
			json_array_append_new(vr, json_integer((json_int_t)in->mem.vram[i]));
		int queued = in->active;
		const struct dp_pred *p;
		TAILQ_FOREACH(p, &in->queue, link)
		queued++;
		json_array_append_new(insts,
		                      json_pack("{s:s,s:s,s:b,s:s,s:b,s:i,s:i,s:i,s:i,s:f,s:o,s:I,s:o,s:I}",
		                                "identifier", in->id, "model_key", in->m->key, "jit", in->jit, "status",
		                                dp_inst_status_name(dp_inst_status(in)), "loading", in->loading,
		                                "queued", queued, "active", in->active, "parallel", in->parallel,
		                                "context_length", in->context_length, "gpu_ratio", in->mem.ratio,
		                                "vram_bytes", vr, "ram_bytes", (json_int_t)in->mem.ram, "ttl_ms",
		                                in->ttl_ms < 0 ? json_null() : json_integer(in->ttl_ms), "idle_ms",
		                                (json_int_t)(now > in->last_used_ms ? now - in->last_used_ms : 0)));
	}
	dp_api_downloads_update(sim);
	json_t *dls = json_array();
	for (int i = 0; i < sim->ndownloads; i++) {
		struct dp_sim_download *d = sim->downloads[i];
		json_array_append_new(dls,
		                      json_pack("{s:s,s:s,s:s,s:I,s:I}", "job_id", d->job_id, "model", d->m->key,
		                                "status", d->status ? "completed" : "downloading", "downloaded_bytes",
		                                (json_int_t)d->done_bytes, "total_size_bytes", (json_int_t)d->total));
	}
	int fm = dp_api_fault_for(sim, "/__any");
	json_t *fault = json_null();
	if (fm != DP_FAULT_NONE) {
		json_t *paths = json_array();
		for (int i = 0; i < sim->fault.npaths; i++)
			json_array_append_new(paths, json_string(sim->fault.paths[i]));
		fault = json_pack("{s:s,s:I,s:o}", "mode", fault_name(fm), "remaining_ms",
		                  (json_int_t)(sim->fault.until_ms - now), "paths", paths);
	}
	return json_pack("{s:I,s:s,s:b,s:i,s:b,s:i,s:f,s:I,s:b,s:o,s:o,s:o,s:{s:I,s:I,s:I,s:I}}", "pid",
	                 (json_int_t)getpid(), "version", DP_SIM_APP_VERSION, "server_running", sim->server_running,
	                 "port", sim->port, "jit", sim->cfg.jit, "ttl_seconds", sim->cfg.ttl_seconds, "speed",
	                 sim->cfg.speed, "seed", (json_int_t)sim->cfg.seed, "auth", sim->cfg.ntokens > 0, "instances",
	                 insts, "downloads", dls, "fault", fault, "counters", "requests",
	                 (json_int_t)sim->counters_requests, "predictions", (json_int_t)sim->counters_predictions,
	                 "tokens", (json_int_t)sim->counters_tokens, "events", (json_int_t)sim->counters_events);
}

static void handle_faults(struct dp_sim *sim, struct dp_http_req *req)
{
	if (!strcmp(dp_http_req_method(req), "DELETE")) {
		sim->fault.mode = DP_FAULT_NONE;
		dp_api_reply_json(req, 200, json_pack("{s:s,s:i}", "mode", "none", "duration_ms", 0));
		return;
	}
	json_t *o = body_obj(req);
	if (!o) {
		dp_api_simerr(req, 400, "invalid JSON body");
		return;
	}
	const char *mode = json_string_value(json_object_get(o, "mode"));
	json_t *dur = json_object_get(o, "duration_ms");
	int m = -1;
	for (int i = 0; i <= 5 && mode; i++)
		if (!strcmp(mode, fault_name(i)))
			m = i;
	if (m < 0 || (m != DP_FAULT_NONE &&
	              (!json_is_integer(dur) || json_integer_value(dur) < 1 || json_integer_value(dur) > 3600000))) {
		json_decref(o);
		dp_api_simerr(req, 400,
		              "want {\"mode\":\"slow|stall|error500|close_mid_stream|refuse|none\","
		              "\"duration_ms\":1..3600000,\"paths\":[prefix...]}");
		return;
	}
	struct dp_sim_fault f = {.mode = m};
	json_t *paths = json_object_get(o, "paths");
	size_t i;
	json_t *v;
	json_array_foreach(paths, i, v)
	{
		const char *s = json_string_value(v);
		if (!s || strlen(s) >= sizeof(f.paths[0]) || f.npaths >= 8 || s[0] != '/') {
			json_decref(o);
			dp_api_simerr(req, 400, "paths: at most 8 path prefixes starting with '/'");
			return;
		}
		memcpy(f.paths[f.npaths++], s, strlen(s) + 1);
	}
	json_int_t d = m == DP_FAULT_NONE ? 0 : json_integer_value(dur);
	f.until_ms = dp_sim_now(sim) + (uint64_t)d;
	sim->fault = f;
	json_decref(o);
	dp_api_reply_json(req, 200, json_pack("{s:s,s:I}", "mode", fault_name(m), "duration_ms", d));
}

/* ---- lms backend ---- */

struct lmsload {
	struct dp_http_req *req;
};

static void lmsload_closed(struct dp_http_req *req, void *arg)
{
	struct lmsload *l = arg;
	(void)req;
	l->req = NULL;
}

static void lmsload_done(struct dp_sim_inst *in, int ok, void *arg)
{
	struct lmsload *l = arg;
	if (l->req) {
		dp_http_req_on_close(l->req, NULL, NULL);
		if (ok) {
			json_t *o = dp_api_lms_ps_entry(in);
			json_object_set_new(o, "loadTimeMs",
			                    json_integer((json_int_t)llround(in->load_seconds * 1000)));
			dp_api_reply_json(l->req, 200, o);
		} else {
			dp_api_simerr(l->req, 409, "model was unloaded while loading");
		}
	}
	free(l);
}

static void lms_load(struct dp_sim *sim, struct dp_http_req *req)
{
	json_t *o = body_obj(req);
	if (!o) {
		dp_api_simerr(req, 400, "invalid JSON body");
		return;
	}
	const char *key = json_string_value(json_object_get(o, "modelKey"));
	if (!key) {
		json_decref(o);
		dp_api_simerr(req, 400, "modelKey is required");
		return;
	}
	int amb;
	struct dp_sim_model *m = dp_sim_match_model(sim, key, &amb);
	if (amb || !m || !m->downloaded) {
		if (amb)
			dp_api_simerr(req, 409,
			              "ambiguous model key \"%.200s\": more than one downloaded model matches", key);
		else
			dp_api_simerr(req, 404, "model not found: %.300s", key);
		json_decref(o); /* after: `key` points into it */
		return;
	}
	struct dp_sim_load_opts lo = {.flash_attention = -1, .offload_kv = -1, .gpu_ratio = -1, .ttl_ms = -1};
	json_t *g = json_object_get(o, "gpu");
	const char *bad = NULL;
	if (json_is_string(g)) {
		if (!strcmp(json_string_value(g), "off"))
			lo.gpu_ratio = 0;
		else if (!strcmp(json_string_value(g), "max"))
			lo.gpu_ratio = 1;
		else
			bad = "gpu must be \"off\", \"max\" or a number between 0 and 1";
	} else if (json_is_number(g)) {
		lo.gpu_ratio = json_number_value(g);
		if (!(lo.gpu_ratio >= 0 && lo.gpu_ratio <= 1))
			bad = "gpu must be \"off\", \"max\" or a number between 0 and 1";
	} else if (g && !json_is_null(g)) {
		bad = "gpu must be \"off\", \"max\" or a number between 0 and 1";
	}
	json_t *v;
	if (!bad && (v = json_object_get(o, "contextLength")) && !json_is_null(v)) {
		if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > m->max_context_length)
			bad = "contextLength must be an integer between 1 and the model's maximum context length";
		else
			lo.context_length = (int)json_integer_value(v);
	}
	if (!bad && (v = json_object_get(o, "parallel")) && !json_is_null(v)) {
		if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 1024)
			bad = "parallel must be an integer between 1 and 1024";
		else
			lo.parallel = (int)json_integer_value(v);
	}
	if (!bad && (v = json_object_get(o, "ttlSeconds")) && !json_is_null(v)) {
		if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 31536000)
			bad = "ttlSeconds must be a positive integer";
		else
			lo.ttl_ms = json_integer_value(v) * 1000;
	}
	const char *ident = json_string_value(json_object_get(o, "identifier"));
	if (!bad && ident && (!*ident || strlen(ident) > 256))
		bad = "identifier must be 1..256 characters";
	if (bad) {
		json_decref(o);
		dp_api_simerr(req, 400, "%s", bad);
		return;
	}
	if (json_is_true(json_object_get(o, "estimateOnly"))) {
		int emb = m->type == DP_SIM_EMBEDDING;
		int ctx = lo.context_length ? lo.context_length
		                            : (m->max_context_length < (emb ? 2048 : 8192) ? m->max_context_length
		                                                                           : (emb ? 2048 : 8192));
		json_decref(o);
		dp_api_reply_json(
		        req, 200,
		        dp_api_estimate(sim, m, ctx, lo.gpu_ratio, emb ? 1 : (lo.parallel ? lo.parallel : 4)));
		return;
	}
	lo.identifier = ident;
	struct dp_sim_inst *in;
	int rc = dp_inst_load(sim, m, &lo, &in);
	if (rc == -EEXIST)
		dp_api_simerr(req, 409, "identifier already in use: %.256s", ident ? ident : "");
	json_decref(o); /* after: `ident` points into it */
	if (rc == -EEXIST)
		return;
	if (rc < 0) {
		dp_api_simerr(req, 507,
		              "Model loading aborted due to insufficient system resources. Overloading the system will "
		              "likely cause it to freeze. If you believe this is a mistake, you can try to change the "
		              "model loading guardrails in the settings.");
		return;
	}
	struct lmsload *l = xcalloc(1, sizeof(*l));
	l->req = req;
	dp_http_req_on_close(req, lmsload_closed, l);
	dp_inst_wait_loaded(in, lmsload_done, l);
}

static void lms_unload(struct dp_sim *sim, struct dp_http_req *req)
{
	json_t *o = body_obj(req);
	if (!o) {
		dp_api_simerr(req, 400, "invalid JSON body");
		return;
	}
	json_t *done = json_array();
	if (json_is_true(json_object_get(o, "all"))) {
		struct dp_sim_inst *in;
		while ((in = TAILQ_FIRST(&sim->insts))) {
			json_array_append_new(done, json_string(in->id));
			dp_inst_unload(in, "lms unload --all");
		}
	} else {
		const char *id = json_string_value(json_object_get(o, "identifier"));
		struct dp_sim_inst *in = id ? dp_sim_find_inst(sim, id) : NULL;
		if (!in) {
			if (!id)
				dp_api_simerr(req, 400, "identifier or all:true is required");
			else
				dp_api_simerr(req, 404, "no loaded model with identifier \"%.256s\"", id);
			json_decref(o); /* after: `id` points into it */
			json_decref(done);
			return;
		}
		json_array_append_new(done, json_string(in->id));
		dp_inst_unload(in, "lms unload");
	}
	json_decref(o);
	dp_api_reply_json(req, 200, json_pack("{s:o}", "unloaded", done));
}

static json_t *survey_json(struct dp_sim *sim)
{
	json_t *gpus = json_array();
	uint64_t vram = 0;
	for (int i = 0; i < sim->ngpus; i++) {
		struct dp_sim_gpu *g = &sim->gpus[i];
		vram += g->total;
		json_array_append_new(gpus, json_pack("{s:s,s:i,s:I,s:I,s:s,s:s,s:s,s:{}}", "name", g->name, "deviceId",
		                                      i, "totalMemoryCapacityBytes", (json_int_t)g->total,
		                                      "dedicatedMemoryCapacityBytes", (json_int_t)g->total,
		                                      "integrationType", "discrete", "detectionPlatform", "CUDA",
		                                      "detectionPlatformVersion", "12.4", "otherInfo"));
	}
	json_t *gsr = json_pack("{s:{s:s,s:s},s:o}", "result", "code", sim->ngpus ? "success" : "noDevicesFound",
	                        "message", sim->ngpus ? "" : "No compatible GPUs found", "gpuInfo", gpus);
	json_t *csr = json_pack("{s:{s:s,s:s},s:{s:s,s:s,s:[s,s]}}", "result", "code", "success", "message", "",
	                        "cpuInfo", "name", "llmster-sim virtual CPU", "architecture", "x86_64",
	                        "supportedInstructionSetExtensions", "AVX", "AVX2");
	json_t *eng = json_pack("{s:s,s:s,s:s,s:s,s:{s:s},s:[s],s:{s:o,s:o},s:{s:I,s:I,s:I}}", "name",
	                        dp_simlog_engine_name(NULL), "version", dp_simlog_engine_version(NULL), "engine",
	                        "llama.cpp", "platform", "linux", "compatibility", "status", "compatible",
	                        "supportedModelFormatNames", "GGUF", "hardwareSurvey", "gpuSurveyResult", gsr,
	                        "cpuSurveyResult", csr, "memoryInfo", "ramCapacity", (json_int_t)sim->ram_total,
	                        "vramCapacity", (json_int_t)vram, "totalMemory", (json_int_t)(sim->ram_total + vram));
	return json_pack("{s:s,s:[o]}", "status", "ok", "engines", eng);
}

static void lms_log_stream(struct dp_sim *sim, struct dp_http_req *req)
{
	const char *src = dp_http_req_query_param(req, "source");
	int mask = DP_SIMLOG_MODEL | DP_SIMLOG_SERVER | DP_SIMLOG_RUNTIME;
	if (src && *src) {
		if (!strcmp(src, "model"))
			mask = DP_SIMLOG_MODEL;
		else if (!strcmp(src, "server"))
			mask = DP_SIMLOG_SERVER;
		else if (!strcmp(src, "runtime"))
			mask = DP_SIMLOG_RUNTIME;
		else {
			dp_api_simerr(req, 400, "source must be model, server or runtime");
			return;
		}
	}
	dp_http_add_header(req, "Cache-Control", "no-cache");
	if (dp_http_stream_start(req, 200, "application/x-ndjson") < 0)
		return;
	dp_simlog_subscribe(sim, req, mask);
}

void dp_apisim_handle(struct dp_sim *sim, struct dp_http_req *req, const char *path)
{
	const char *m = dp_http_req_method(req);
	int get = !strcmp(m, "GET") || !strcmp(m, "HEAD");
	int post = !strcmp(m, "POST");
	if (get && !strcmp(path, "/__sim/gpus")) {
		dp_api_reply_json(req, 200, gpus_json(sim));
	} else if (get && !strcmp(path, "/__sim/state")) {
		dp_api_reply_json(req, 200, state_json(sim));
	} else if ((post || !strcmp(m, "DELETE")) && !strcmp(path, "/__sim/faults")) {
		handle_faults(sim, req);
	} else if (get && !strcmp(path, "/__sim/logs")) {
		const char *s = dp_http_req_query_param(req, "since");
		char *end = NULL;
		uint64_t since = s ? strtoull(s, &end, 10) : 0;
		uint64_t next;
		json_t *ev = dp_simlog_since(sim, since, &next);
		dp_api_reply_json(req, 200, json_pack("{s:I,s:o}", "next", (json_int_t)next, "events", ev));
	} else if (get && !strcmp(path, "/__sim/lms/ls")) {
		dp_api_downloads_update(sim);
		json_t *arr = json_array();
		for (int i = 0; i < sim->nmodels; i++)
			if (sim->models[i]->downloaded)
				json_array_append_new(arr, dp_api_lms_modelinfo(sim->models[i], 1));
		dp_api_reply_json(req, 200, arr);
	} else if (get && !strcmp(path, "/__sim/lms/ps")) {
		json_t *arr = json_array();
		struct dp_sim_inst *in;
		TAILQ_FOREACH(in, &sim->insts, link)
		json_array_append_new(arr, dp_api_lms_ps_entry(in));
		dp_api_reply_json(req, 200, arr);
	} else if (post && !strcmp(path, "/__sim/lms/load")) {
		lms_load(sim, req);
	} else if (post && !strcmp(path, "/__sim/lms/unload")) {
		lms_unload(sim, req);
	} else if (get && !strcmp(path, "/__sim/lms/runtime-survey")) {
		dp_api_reply_json(req, 200, survey_json(sim));
	} else if (get && !strcmp(path, "/__sim/lms/server-status")) {
		dp_api_reply_json(req, 200, json_pack("{s:b,s:i}", "running", sim->server_running, "port", sim->port));
	} else if (post && !strcmp(path, "/__sim/lms/server-start")) {
		if (!sim->server_running)
			dp_simlog_server(sim, "info", "Server started on port %d", sim->port);
		sim->server_running = 1;
		dp_api_reply_json(req, 200, json_pack("{s:b,s:i}", "running", 1, "port", sim->port));
	} else if (post && !strcmp(path, "/__sim/lms/server-stop")) {
		if (!sim->server_running) {
			dp_api_simerr(req, 409, "The server is not running.");
			return;
		}
		sim->server_running = 0;
		dp_simlog_server(sim, "info", "Server stopped");
		dp_api_reply_json(req, 200, json_pack("{s:b,s:i}", "running", 0, "port", sim->port));
	} else if (get && !strcmp(path, "/__sim/lms/version")) {
		dp_api_reply_json(
		        req, 200,
		        json_pack("{s:s,s:s}", "version", DP_SIM_LMS_VERSION, "appVersion", DP_SIM_APP_VERSION));
	} else if (get && !strcmp(path, "/__sim/lms/log-stream")) {
		lms_log_stream(sim, req);
	} else {
		dp_api_simerr(req, 404, "unknown simulator endpoint: %s %.300s", m, path);
	}
}
