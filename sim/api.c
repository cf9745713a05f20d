/*
 * api.c - the simulator's HTTP front: auth, faults, routing and the LM
 * Studio REST surfaces (v1 /api/v1/…, v0 /api/v0/…, OpenAI-compatible
 * /v1/…, /lmstudio-greeting). The private /__sim/ API is in api_sim.c.
 *
 * Dispatch order: /__sim/ (never authenticated, always reachable) ->
 * server stopped? drop the connection -> /lmstudio-greeting (no token:
 * `lms` probes it without one; uncertain in the reference §1.2) -> auth
 * (when --api-token given) -> faults -> the route table -> unknown route
 * answers HTTP 200 {"error":"Unexpected endpoint or method. (M /p)"}.
 *
 * Error shapes (reference §1.4): v1 {"error":{type,message,code?,param?}};
 * OpenAI/v0 {"error":{message,type,param,code}}. HTTP statuses per v1
 * error type are not documented; we use invalid_request 400,
 * model_not_found/job_not_found 404, internal_error 500 (documented in
 * sim/README.md).
 */
#include "sim.h"

#include <ctype.h>
#include <errno.h>
#include <event2/event.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "http.h"
#include "job.h"
#include "mcp.h"
#include "upstream.h"
#include "xmalloc.h"

/* ---- replies ---- */

void dp_api_reply_json(struct dp_http_req *req, int status, json_t *body)
{
	char *s = json_dumps(body, JSON_COMPACT | JSON_REAL_PRECISION(10));
	json_decref(body);
	if (!s) {
		dp_http_reply(req, 500, "application/json", "{}", 2);
		return;
	}
	dp_http_reply(req, status, "application/json; charset=utf-8", s, strlen(s));
	free(s);
}

void dp_api_simerr(struct dp_http_req *req, int status, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	dp_api_reply_json(req, status, json_pack("{s:s}", "error", msg));
}

static void v1err(struct dp_http_req *req, int status, const char *type, const char *code, const char *param,
                  const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static void v1err(struct dp_http_req *req, int status, const char *type, const char *code, const char *param,
                  const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	dp_pred_reply_error(req, DP_K_V1_CHAT, status, type, code, param, msg);
}

static void oaierr(struct dp_http_req *req, int status, const char *code, const char *param, const char *fmt, ...)
        __attribute__((format(printf, 5, 6)));
static void oaierr(struct dp_http_req *req, int status, const char *code, const char *param, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	dp_pred_reply_error(req, DP_K_OAI_CHAT, status, "invalid_request_error", code, param, msg);
}

static void kind_err(struct dp_http_req *req, int kind, int status, const char *type, const char *code,
                     const char *param, const char *msg)
{
	dp_pred_reply_error(req, kind == DP_K_V1_CHAT ? DP_K_V1_CHAT : DP_K_OAI_CHAT, status, type, code, param, msg);
}

static void unexpected(struct dp_http_req *req)
{
	char msg[600];
	snprintf(msg, sizeof(msg), "Unexpected endpoint or method. (%s %.500s)", dp_http_req_method(req),
	         dp_http_req_path(req));
	dp_api_reply_json(req, 200, json_pack("{s:s}", "error", msg));
}

static json_t *body_json(struct dp_http_req *req, json_error_t *je)
{
	size_t n;
	const char *b = dp_http_req_body(req, &n);
	return json_loadb(b ? b : "", n, JSON_REJECT_DUPLICATES, je);
}

static char *iso_time(uint64_t ms, char *out, size_t n)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&t, &tm);
	char b[32];
	strftime(b, sizeof(b), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, n, "%s.%03uZ", b, (unsigned)(ms % 1000));
	return out;
}

/* ---- JSON views of models ---- */

json_t *dp_api_num(double v)
{
	/* integral values print as integers (4, not 4.0), as LM Studio's JSON does */
	if (v == floor(v) && fabs(v) < 9e15)
		return json_integer((json_int_t)v);
	return json_real(v);
}

static json_t *loaded_instances_v1(struct dp_sim *sim, const struct dp_sim_model *m)
{
	json_t *arr = json_array();
	struct dp_sim_inst *in;
	TAILQ_FOREACH(in, &sim->insts, link)
	if (in->m == m)
		json_array_append_new(arr, json_pack("{s:s,s:o}", "id", in->id, "config", dp_api_load_config(in)));
	return arr;
}

json_t *dp_api_load_config(const struct dp_sim_inst *in)
{
	const struct dp_sim_model *m = in->m;
	json_t *c = json_pack("{s:i}", "context_length", in->context_length);
	if (m->type == DP_SIM_EMBEDDING)
		return c;
	if (!strcmp(m->format, "mlx")) {
		/* MLX instances observed with only context_length and parallel (§3.1) */
		json_object_set_new(c, "parallel", json_integer(in->parallel));
		return c;
	}
	json_object_set_new(c, "eval_batch_size", json_integer(in->eval_batch_size));
	json_object_set_new(c, "parallel", json_integer(in->parallel));
	json_object_set_new(c, "flash_attention", json_boolean(in->flash_attention));
	if (m->num_experts)
		json_object_set_new(c, "num_experts", json_integer(in->num_experts));
	json_object_set_new(c, "offload_kv_cache_to_gpu", json_boolean(in->offload_kv));
	return c;
}

json_t *dp_api_model_v1(struct dp_sim *sim, const struct dp_sim_model *m)
{
	json_t *o = json_pack("{s:s,s:s,s:s,s:s}", "type", m->type == DP_SIM_EMBEDDING ? "embedding" : "llm",
	                      "publisher", m->publisher, "key", m->key, "display_name", m->display_name);
	if (m->type != DP_SIM_EMBEDDING)
		json_object_set_new(o, "architecture", m->architecture ? json_string(m->architecture) : json_null());
	json_object_set_new(o, "quantization",
	                    m->quant_name ? json_pack("{s:s,s:o}", "name", m->quant_name, "bits_per_weight",
	                                              dp_api_num(m->bits_per_weight))
	                                  : json_null());
	json_object_set_new(o, "size_bytes", json_integer((json_int_t)m->size_bytes));
	json_object_set_new(o, "params_string", m->params_string ? json_string(m->params_string) : json_null());
	json_object_set_new(o, "loaded_instances", loaded_instances_v1(sim, m));
	json_object_set_new(o, "max_context_length", json_integer(m->max_context_length));
	json_object_set_new(o, "format", json_string(m->format));
	if (m->type != DP_SIM_EMBEDDING) {
		json_t *cap = json_pack("{s:b,s:b}", "vision", m->vision, "trained_for_tool_use", m->tool_use);
		if (m->rstyle != DP_SIM_R_NONE) {
			json_t *opts = json_array();
			for (int i = 0; i < m->n_reasoning_options; i++)
				json_array_append_new(opts, json_string(m->reasoning_options[i]));
			json_object_set_new(
			        cap, "reasoning",
			        json_pack("{s:o,s:s}", "allowed_options", opts, "default", m->reasoning_default));
		}
		json_object_set_new(o, "capabilities", cap);
	}
	json_object_set_new(o, "description", m->description ? json_string(m->description) : json_null());
	if (m->variant) {
		json_object_set_new(o, "variants", json_pack("[s]", m->variant));
		json_object_set_new(o, "selected_variant", json_string(m->variant));
	}
	return o;
}

json_t *dp_api_model_v0(struct dp_sim *sim, const struct dp_sim_model *m)
{
	const char *type = m->type == DP_SIM_EMBEDDING ? "embeddings" : m->vision ? "vlm" : "llm";
	struct dp_sim_inst *in = dp_sim_inst_for_key(sim, m->key);
	json_t *o =
	        json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:i}", "id", m->key, "object", "model", "type", type,
	                  "publisher", m->publisher, "arch", m->architecture ? m->architecture : "unknown",
	                  "compatibility_type", m->format, "quantization", m->quant_name ? m->quant_name : "unknown",
	                  "state", in ? "loaded" : "not-loaded", "max_context_length", m->max_context_length);
	if (in)
		json_object_set_new(o, "loaded_context_length", json_integer(in->context_length));
	if (m->tool_use)
		json_object_set_new(o, "capabilities", json_pack("[s]", "tool_use"));
	return o;
}

/* ---- model resolution for inference requests ---- */

static int type_ok(const struct dp_sim_model *m, int kind)
{
	int emb = kind == DP_K_V0_EMBED || kind == DP_K_OAI_EMBED;
	return emb == (m->type == DP_SIM_EMBEDDING);
}

static void load_failed(struct dp_http_req *req, int kind, const struct dp_sim_model *m)
{
	char msg[800];
	snprintf(msg, sizeof(msg),
	         "Failed to load model \"%s\". Error: Model loading aborted due to insufficient system resources. "
	         "Overloading the system will likely cause it to freeze. If you believe this is a mistake, you can "
	         "try to change the model loading guardrails in the settings.",
	         m->key);
	kind_err(req, kind, 500, "internal_error", NULL, NULL, msg);
}

/* 0 with *out (and *jit when this request started a JIT load), or -1 after
 * answering the error. */
static int resolve(struct dp_sim *sim, struct dp_http_req *req, struct dp_chatreq *r, struct dp_sim_inst **out,
                   int *jit)
{
	*jit = 0;
	int kind = r->kind;
	if (!r->model) {
		/* OpenAI-compatible: with exactly one model loaded the field may be omitted (§4) */
		struct dp_sim_inst *in, *one = NULL;
		int n = 0;
		TAILQ_FOREACH(in, &sim->insts, link)
		if (type_ok(in->m, kind)) {
			one = in;
			n++;
		}
		if (n == 1) {
			*out = one;
			return 0;
		}
		if (n > 1)
			kind_err(req, kind, 400, "invalid_request", "model_not_found", "model",
			         "Multiple models are loaded. Please specify a model by providing a 'model' field in "
			         "the request.");
		else
			kind_err(req, kind, 400, "invalid_request", "missing_required_parameter", "model",
			         "'model' field is required");
		return -1;
	}
	struct dp_sim_inst *in = dp_sim_find_inst(sim, r->model);
	struct dp_sim_model *m = in ? in->m : dp_sim_find_model(sim, r->model);
	char msg[800];
	if (!m || !m->downloaded) {
		if (kind == DP_K_V1_CHAT)
			v1err(req, 404, "model_not_found", "model_not_found", "model", "Model \"%.500s\" not found",
			      r->model);
		else
			oaierr(req, 404, "model_not_found", "model",
			       "Model \"%.500s\" not found. Please specify a valid model key or instance identifier.",
			       r->model);
		return -1;
	}
	if (!type_ok(m, kind)) {
		snprintf(msg, sizeof(msg), "Model \"%.500s\" is %s", r->model,
		         m->type == DP_SIM_EMBEDDING ? "an embedding model and cannot generate text"
		                                     : "not an embedding model");
		kind_err(req, kind, 400, "invalid_request", "invalid_model_type", "model", msg);
		return -1;
	}
	if (kind == DP_K_V1_CHAT && *r->reasoning) {
		int ok = 0;
		for (int i = 0; i < m->n_reasoning_options; i++)
			if (!strcmp(m->reasoning_options[i], r->reasoning))
				ok = 1;
		if (!ok) {
			v1err(req, 400, "invalid_request", "unsupported_reasoning", "reasoning",
			      "Model \"%.400s\" does not support reasoning setting \"%s\"", m->key, r->reasoning);
			return -1;
		}
	}
	if (r->n_images && !m->vision) {
		snprintf(msg, sizeof(msg), "Model \"%.500s\" does not support images", m->key);
		kind_err(req, kind, 400, "invalid_request", "vision_not_supported", "input", msg);
		return -1;
	}
	if (!in)
		in = dp_sim_inst_for_key(sim, m->key);
	if (in) {
		*out = in;
		return 0;
	}
	if (!sim->cfg.jit) {
		if (kind == DP_K_V1_CHAT)
			v1err(req, 404, "model_not_found", "model_not_loaded", "model",
			      "Model \"%.500s\" is not loaded and Just-in-Time model loading is off", r->model);
		else
			oaierr(req, 404, "model_not_found", "model",
			       "Model \"%.500s\" not found. No models loaded. Please load a model in the developer "
			       "page or use the 'lms load' command.",
			       r->model);
		return -1;
	}
	/* JIT load with auto-evict of earlier JIT loads (§5) */
	dp_inst_evict_jit(sim);
	struct dp_sim_load_opts o = {.flash_attention = -1, .offload_kv = -1, .gpu_ratio = -1, .jit = 1};
	o.context_length = r->context_length;
	if (o.context_length > m->max_context_length) {
		kind_err(req, kind, 400, "invalid_request", "invalid_value", "context_length",
		         "\"context_length\" exceeds the model's maximum context length");
		return -1;
	}
	o.ttl_ms = r->ttl_s >= 0 ? r->ttl_s * 1000 : (int64_t)sim->cfg.ttl_seconds * 1000;
	int rc = dp_inst_load(sim, m, &o, &in);
	if (rc < 0) {
		load_failed(req, kind, m);
		return -1;
	}
	dp_simlog_server(sim, "info", "[JIT] Requested model (%s) is not loaded. Loading \"%s\" now...", m->key,
	                 m->path);
	*out = in;
	*jit = 1;
	return 0;
}

/* ---- inference endpoints ---- */

/* ---- MCP integrations (issue 10 part 7) ----
 *
 * Like LM Studio, the simulator calls tools of `ephemeral_mcp` integrations
 * on the real MCP server, and only tools in that integration's
 * `allowed_tools`. When the model "decides" to call one is deterministic:
 * the first allowed tool whose name appears in the last user message (in
 * integration order, then allowed_tools order); its arguments are the first
 * JSON object in that message, else {}. The call is made before the answer
 * (lib/mcp.c: initialize, tools/call, shutdown) and shown as tool_call.*
 * events after chat.start and a tool_call output item. A server that cannot
 * be reached is an `mcp_connection_error` (400, before the stream), a tool
 * that fails a tool_call.failure. Plugins (`mcp/<label>`: mcp.json) stay an
 * error: the simulator has no mcp.json. Without allowed_tools (all tools)
 * nothing is called: the simulator does not list tools to choose from. */

static struct dp_upstream *mcp_up;
static struct dp_jobs *mcp_jobs;

struct mcp_wait {
	struct dp_sim *sim;
	struct dp_http_req *req; /* NULL once the client left */
	struct dp_chatreq r;
	char *history;
	json_t *call; /* {tool, arguments, provider_info} */
	char label[128];
};

static void mcp_wait_closed(struct dp_http_req *req, void *arg)
{
	struct mcp_wait *w = arg;
	(void)req;
	w->req = NULL;
}

/* Tool output as LM Studio gives it to the model: the text items joined,
 * else the content as JSON. */
static json_t *tool_output(const json_t *res)
{
	json_t *content = json_object_get(res, "content");
	struct dp_buf b;
	dp_buf_init(&b, 1u << 20);
	size_t i;
	json_t *it;
	int only_text = json_array_size(content) > 0;
	json_array_foreach(content, i, it)
	{
		const char *ty = json_string_value(json_object_get(it, "type"));
		if (!ty || strcmp(ty, "text") != 0)
			only_text = 0;
	}
	if (only_text) {
		json_array_foreach(content, i, it)
		{
			if (b.len)
				dp_buf_addch(&b, '\n');
			dp_buf_adds(&b, json_string_value(json_object_get(it, "text")));
		}
	} else {
		char *s = json_dumps(content ? content : json_array(), JSON_COMPACT);
		dp_buf_adds(&b, s ? s : "[]");
		free(s);
	}
	json_t *o = json_stringn(b.data, b.len);
	dp_buf_release(&b);
	return o;
}

static void mcp_done(const struct dp_mcp_outcome *o, void *arg)
{
	struct mcp_wait *w = arg;
	struct dp_http_req *req = w->req;
	if (req)
		dp_http_req_on_close(req, NULL, NULL);
	if (req && strcmp(o->status, "ok") != 0 && strcmp(o->code, "rpc_error") != 0) {
		v1err(req, 400, "mcp_connection_error", NULL, "integrations",
		      "Failed to connect to MCP server \"%s\": %s", w->label, o->message);
		req = NULL;
	}
	if (req) {
		json_t *c = w->call;
		if (strcmp(o->status, "ok") == 0) {
			json_object_set_new(c, "ok", json_true());
			json_object_set_new(c, "output", tool_output(o->call_result));
		} else {
			json_object_set_new(c, "ok", json_false());
			json_object_set_new(c, "reason", json_string(o->message));
		}
		w->r.mcp_call = json_incref(c);
		struct dp_sim_inst *in;
		int jit;
		if (resolve(w->sim, req, &w->r, &in, &jit) == 0)
			dp_pred_start(w->sim, req, &w->r, in, jit, w->history);
	}
	dp_reqparse_release(&w->r);
	json_decref(w->call);
	free(w->history);
	free(w);
}

/* First JSON object in the text, else {}. */
static json_t *args_from(const char *text)
{
	const char *b = text ? strchr(text, '{') : NULL;
	if (b) {
		json_error_t e;
		json_t *j = json_loadb(b, strlen(b), JSON_DISABLE_EOF_CHECK, &e);
		if (json_is_object(j))
			return j;
		json_decref(j);
	}
	return json_object();
}

/* 0: no call, go on; 1: a call started (it owns the request now); -1:
 * replied with an error. */
static int mcp_maybe_call(struct dp_sim *sim, struct dp_http_req *req, const char *body, size_t n, struct dp_chatreq *r,
                          const char *history)
{
	json_t *o = json_loadb(body, n, 0, NULL);
	json_t *integ = json_object_get(o, "integrations");
	size_t i;
	json_t *it;
	json_array_foreach(integ, i, it)
	{
		const char *ty = json_string_value(json_object_get(it, "type"));
		if (json_is_string(it) || (ty && strcmp(ty, "plugin") == 0)) {
			const char *name = json_is_string(it) ? json_string_value(it)
			                                      : json_string_value(json_object_get(it, "id"));
			v1err(req, 400, "plugin_connection_error", NULL, "integrations",
			      "Failed to connect to plugin \"%s\": there is no mcp.json in llmster-sim",
			      name ? name : "");
			json_decref(o);
			return -1;
		}
	}
	const char *text = r->last_user ? r->last_user : r->prompt.data;
	json_t *pick = NULL;
	const char *tool = NULL;
	json_array_foreach(integ, i, it)
	{
		size_t k;
		json_t *t;
		json_array_foreach(json_object_get(it, "allowed_tools"), k, t)
		{
			if (!tool && json_is_string(t) && json_string_length(t) && strstr(text, json_string_value(t))) {
				tool = json_string_value(t);
				pick = it;
			}
		}
	}
	if (!pick || !sim->base) {
		json_decref(o);
		return 0;
	}
	if (!mcp_up) {
		mcp_up = dp_upstream_new(sim->base);
		mcp_jobs = dp_jobs_new(sim->base);
	}
	/* the headers as "Name: value" lines */
	json_t *h = json_object_get(pick, "headers");
	const char *lines[DP_UPSTREAM_MAX_HEADERS + 1];
	char *owned[DP_UPSTREAM_MAX_HEADERS];
	size_t nh = 0;
	const char *hk;
	json_t *hv;
	json_object_foreach(h, hk, hv)
	{
		if (json_is_string(hv) && nh < DP_UPSTREAM_MAX_HEADERS - 2) {
			owned[nh] = xasprintf("%s: %s", hk, json_string_value(hv));
			lines[nh] = owned[nh];
			nh++;
		}
	}
	lines[nh] = NULL;
	struct mcp_wait *w = xcalloc(1, sizeof(*w));
	w->sim = sim;
	w->req = req;
	const char *label = json_string_value(json_object_get(pick, "server_label"));
	snprintf(w->label, sizeof(w->label), "%s", label ? label : "");
	json_t *args = args_from(text);
	w->call = json_pack("{s:s,s:o,s:{s:s,s:s}}", "tool", tool, "arguments", args, "provider_info", "type",
	                    "ephemeral_mcp", "server_label", w->label);
	struct dp_mcp_env env = {.base = sim->base, .up = mcp_up, .jobs = mcp_jobs};
	struct dp_mcp_server srv = {.transport = DP_MCP_AUTO,
	                            .url = json_string_value(json_object_get(pick, "server_url")),
	                            .headers = lines,
	                            .request_timeout_ms = 30000,
	                            .total_timeout_ms = 60000};
	const char *err = NULL;
	struct dp_mcp_op *op = dp_mcp_call(&env, &srv, tool, args, mcp_done, w, &err);
	for (size_t k = 0; k < nh; k++)
		free(owned[k]);
	json_decref(o);
	if (!op) {
		v1err(req, 400, "mcp_connection_error", NULL, "integrations",
		      "Failed to connect to MCP server \"%s\": %s", w->label, err ? err : "invalid server");
		json_decref(w->call);
		free(w);
		return -1;
	}
	w->history = history ? xstrdup(history) : NULL;
	w->r = *r;
	memset(r, 0, sizeof(*r));
	dp_buf_init(&r->prompt, 16);
	dp_http_req_on_close(req, mcp_wait_closed, w);
	return 1;
}

static void handle_infer(struct dp_sim *sim, struct dp_http_req *req, int kind)
{
	size_t n;
	const char *b = dp_http_req_body(req, &n);
	struct dp_chatreq r;
	if (dp_reqparse(kind, b, n, &r) < 0) {
		if (!strcmp(r.err_code, "invalid_json"))
			dp_simlog_server(sim, "error", "Received request for %s with invalid JSON: %s",
			                 dp_http_req_path(req), r.err_msg);
		kind_err(req, kind, r.err_status, r.err_type, r.err_code, r.err_param, r.err_msg);
		dp_reqparse_release(&r);
		return;
	}
	const char *history = NULL;
	if (kind == DP_K_V1_CHAT && r.previous_response_id) {
		history = dp_pred_history(sim, r.previous_response_id);
		if (!history) {
			v1err(req, 404, "invalid_request", "response_not_found", "previous_response_id",
			      "No stored response with id \"%.128s\"", r.previous_response_id);
			dp_reqparse_release(&r);
			return;
		}
	}
	if (kind == DP_K_V1_CHAT && r.n_integrations) {
		int rc = mcp_maybe_call(sim, req, b, n, &r, history);
		if (rc != 0) {
			dp_reqparse_release(&r);
			return;
		}
	}
	struct dp_sim_inst *in;
	int jit;
	if (resolve(sim, req, &r, &in, &jit) < 0) {
		dp_reqparse_release(&r);
		return;
	}
	dp_pred_start(sim, req, &r, in, jit, history);
	dp_reqparse_release(&r);
}

/* ---- v1 model management ---- */

struct loadreq {
	struct dp_sim *sim;
	struct dp_http_req *req;
	int echo;
	char inst_id[600];
};

static void loadreq_closed(struct dp_http_req *req, void *arg)
{
	struct loadreq *l = arg;
	(void)req;
	l->req = NULL;
}

static void loadreq_done(struct dp_sim_inst *in, int ok, void *arg)
{
	struct loadreq *l = arg;
	if (l->req) {
		dp_http_req_on_close(l->req, NULL, NULL);
		if (!ok) {
			v1err(l->req, 500, "internal_error", NULL, NULL, "Model \"%s\" was unloaded while loading",
			      l->inst_id);
		} else {
			json_t *o = json_pack("{s:s,s:s,s:f,s:s}", "type",
			                      in->m->type == DP_SIM_EMBEDDING ? "embedding" : "llm", "instance_id",
			                      in->id, "load_time_seconds", round(in->load_seconds * 1000) / 1000,
			                      "status", "loaded");
			if (l->echo) {
				/* the documented load_config has no "parallel" (§3.2) */
				json_t *c = dp_api_load_config(in);
				json_object_del(c, "parallel");
				json_object_set_new(o, "load_config", c);
			}
			dp_api_reply_json(l->req, 200, o);
		}
	}
	free(l);
}

static int get_bool(json_t *o, const char *k, int def, int *out)
{
	json_t *v = json_object_get(o, k);
	if (!v || json_is_null(v)) {
		*out = def;
		return 0;
	}
	if (!json_is_boolean(v))
		return -1;
	*out = json_is_true(v);
	return 0;
}

static int get_int(json_t *o, const char *k, int lo, int hi, int *out)
{
	json_t *v = json_object_get(o, k);
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
		return -1;
	*out = (int)json_integer_value(v);
	return 0;
}

static void handle_v1_load(struct dp_sim *sim, struct dp_http_req *req)
{
	json_error_t je;
	json_t *o = body_json(req, &je);
	if (!json_is_object(o)) {
		v1err(req, 400, "invalid_request", "invalid_json", NULL, "Invalid JSON in request body");
		json_decref(o);
		return;
	}
	json_t *mv = json_object_get(o, "model");
	if (!mv || json_is_null(mv)) {
		v1err(req, 400, "invalid_request", "missing_required_parameter", "model", "\"model\" is required");
		json_decref(o);
		return;
	}
	if (!json_is_string(mv)) {
		v1err(req, 400, "invalid_request", "invalid_type", "model", "\"model\" must be a string");
		json_decref(o);
		return;
	}
	struct dp_sim_model *m = dp_sim_find_model(sim, json_string_value(mv));
	if (!m || !m->downloaded) {
		v1err(req, 404, "model_not_found", "model_not_found", "model", "Model \"%.500s\" not found",
		      json_string_value(mv));
		json_decref(o);
		return;
	}
	struct dp_sim_load_opts lo = {.flash_attention = -1, .offload_kv = -1, .gpu_ratio = -1, .ttl_ms = -1};
	int echo = 0;
	const char *bad = NULL;
	if (get_int(o, "context_length", 1, m->max_context_length, &lo.context_length) < 0)
		bad = "context_length";
	else if (get_int(o, "eval_batch_size", 1, 1 << 20, &lo.eval_batch_size) < 0)
		bad = "eval_batch_size";
	else if (get_bool(o, "flash_attention", -1, &lo.flash_attention) < 0)
		bad = "flash_attention";
	else if (get_int(o, "num_experts", 1, m->num_experts ? m->num_experts : 1 << 16, &lo.num_experts) < 0)
		bad = "num_experts";
	else if (get_bool(o, "offload_kv_cache_to_gpu", -1, &lo.offload_kv) < 0)
		bad = "offload_kv_cache_to_gpu";
	else if (get_bool(o, "echo_load_config", 0, &echo) < 0)
		bad = "echo_load_config";
	if (bad) {
		v1err(req, 400, "invalid_request", "invalid_value", bad, "Invalid value for \"%s\"", bad);
		json_decref(o);
		return;
	}
	json_decref(o);
	/* undocumented fields (ttl, parallel, gpu, identifier) are ignored (§11.5) */
	struct dp_sim_inst *in;
	int rc = dp_inst_load(sim, m, &lo, &in);
	if (rc < 0) {
		load_failed(req, DP_K_V1_CHAT, m);
		return;
	}
	struct loadreq *l = xcalloc(1, sizeof(*l));
	l->sim = sim;
	l->req = req;
	l->echo = echo;
	snprintf(l->inst_id, sizeof(l->inst_id), "%s", in->id);
	dp_http_req_on_close(req, loadreq_closed, l);
	dp_inst_wait_loaded(in, loadreq_done, l);
}

static void handle_v1_unload(struct dp_sim *sim, struct dp_http_req *req)
{
	json_error_t je;
	json_t *o = body_json(req, &je);
	if (!json_is_object(o)) {
		v1err(req, 400, "invalid_request", "invalid_json", NULL, "Invalid JSON in request body");
		json_decref(o);
		return;
	}
	const char *id = json_string_value(json_object_get(o, "instance_id"));
	if (!id) {
		v1err(req, 400, "invalid_request", "missing_required_parameter", "instance_id",
		      "\"instance_id\" is required");
		json_decref(o);
		return;
	}
	struct dp_sim_inst *in = dp_sim_find_inst(sim, id);
	if (!in) {
		v1err(req, 404, "model_not_found", "model_not_found", "instance_id",
		      "No loaded model instance with id \"%.500s\"", id);
		json_decref(o);
		return;
	}
	json_t *res = json_pack("{s:s}", "instance_id", in->id);
	dp_inst_unload(in, "unloaded by request");
	json_decref(o);
	dp_api_reply_json(req, 200, res);
}

/* ---- downloads ---- */

#define DL_BYTES_PER_SEC 100e6

void dp_api_downloads_update(struct dp_sim *sim)
{
	uint64_t now = dp_sim_now(sim);
	for (int i = 0; i < sim->ndownloads; i++) {
		struct dp_sim_download *d = sim->downloads[i];
		if (d->status != 0)
			continue;
		double el = (double)(now - d->started_ms);
		double done = sim->cfg.speed <= 0 ? (double)d->total : el * d->rate;
		if (done >= (double)d->total) {
			d->done_bytes = d->total;
			d->status = 1;
			d->completed_ms = now;
			d->m->downloaded = 1;
			dp_simlog_server(sim, "info", "Download completed: %s", d->m->key);
		} else {
			d->done_bytes = (uint64_t)done;
		}
	}
}

static json_t *job_json(struct dp_sim *sim, struct dp_sim_download *d, int with_progress)
{
	char t1[40], t2[40];
	json_t *o = json_pack("{s:s,s:s,s:I,s:s}", "job_id", d->job_id, "status",
	                      d->status ? "completed" : "downloading", "total_size_bytes", (json_int_t)d->total,
	                      "started_at", iso_time(d->started_ms, t1, sizeof(t1)));
	if (with_progress)
		json_object_set_new(o, "downloaded_bytes", json_integer((json_int_t)d->done_bytes));
	if (d->status) {
		json_object_set_new(o, "completed_at", json_string(iso_time(d->completed_ms, t2, sizeof(t2))));
	} else if (with_progress) {
		double bps = d->rate * 1000;
		json_object_set_new(o, "bytes_per_second", json_real(round(bps)));
		uint64_t eta =
		        dp_sim_now(sim) + (uint64_t)((double)(d->total - d->done_bytes) / (d->rate > 0 ? d->rate : 1));
		json_object_set_new(o, "estimated_completion", json_string(iso_time(eta, t2, sizeof(t2))));
	}
	return o;
}

/* A Hugging Face URL for a repository the catalog does not know: add it as
 * a not-yet-downloaded model (LM Studio can fetch any GGUF/MLX repo). */
static struct dp_sim_model *model_from_hf(struct dp_sim *sim, const char *url, const char *quant)
{
	const char *p = url + strlen("https://huggingface.co/");
	char org[128], repo[128];
	const char *slash = strchr(p, '/');
	if (!slash || slash == p || (size_t)(slash - p) >= sizeof(org))
		return NULL;
	memcpy(org, p, (size_t)(slash - p));
	org[slash - p] = '\0';
	const char *r = slash + 1;
	size_t rl = strcspn(r, "/?#");
	if (rl == 0 || rl >= sizeof(repo))
		return NULL;
	memcpy(repo, r, rl);
	repo[rl] = '\0';
	for (const char *c = org; *c; c++)
		if (!(isalnum((unsigned char)*c) || *c == '-' || *c == '_' || *c == '.'))
			return NULL;
	for (const char *c = repo; *c; c++)
		if (!(isalnum((unsigned char)*c) || *c == '-' || *c == '_' || *c == '.'))
			return NULL;
	/* known repository? */
	char pre[300];
	snprintf(pre, sizeof(pre), "%s/%s", org, repo);
	for (int i = 0; i < sim->nmodels; i++)
		if (!strncasecmp(sim->models[i]->path, pre, strlen(pre)))
			return sim->models[i];
	if (sim->nmodels >= DP_SIM_MAX_MODELS)
		return NULL;
	int mlx = strcasestr(repo, "mlx") != NULL;
	char key[160];
	snprintf(key, sizeof(key), "%s", repo);
	for (char *c = key; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	char *suf = strstr(key, "-gguf");
	if (suf)
		*suf = '\0';
	if (dp_sim_find_model(sim, key))
		return dp_sim_find_model(sim, key);
	/* parameter count from the name ("0.6B", "7B") */
	double params = 4;
	for (const char *c = repo; *c; c++) {
		if (isdigit((unsigned char)*c) && (c == repo || c[-1] == '-' || c[-1] == '_')) {
			char *end;
			double v = strtod(c, &end);
			if ((*end == 'B' || *end == 'b') && v > 0 && v < 1000) {
				params = v;
				break;
			}
		}
	}
	const char *q = quant && *quant ? quant : (mlx ? "4bit" : "Q4_K_M");
	double bits = strstr(q, "8") ? 8 : strstr(q, "6") ? 6 : strstr(q, "5") ? 5 : 4;
	struct dp_sim_model *m = xcalloc(1, sizeof(*m));
	m->key = xstrdup(key);
	m->display_name = xstrdup(repo);
	m->publisher = xstrdup(org);
	m->architecture = xstrdup("llama");
	char ps[32];
	snprintf(ps, sizeof(ps), "%gB", params);
	m->params_string = xstrdup(ps);
	m->format = xstrdup(mlx ? "mlx" : "gguf");
	m->quant_name = xstrdup(q);
	m->bits_per_weight = bits;
	m->path = mlx ? xasprintf("%s/%s", org, repo) : xasprintf("%s/%s/%s-%s.gguf", org, repo, repo, q);
	m->variant = xasprintf("%s@%s", key, q);
	for (char *c = m->variant; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	m->type = DP_SIM_LLM;
	m->size_bytes = (uint64_t)(params * 1e9 * (bits + 0.5) / 8);
	m->params_b = m->active_b = params;
	m->max_context_length = 32768;
	m->kv_bytes_per_token = 65536;
	m->embedding_dims = 768;
	m->downloaded = 0;
	sim->models[sim->nmodels++] = m;
	return m;
}

static void handle_v1_download(struct dp_sim *sim, struct dp_http_req *req)
{
	json_error_t je;
	json_t *o = body_json(req, &je);
	if (!json_is_object(o)) {
		v1err(req, 400, "invalid_request", "invalid_json", NULL, "Invalid JSON in request body");
		json_decref(o);
		return;
	}
	const char *model = json_string_value(json_object_get(o, "model"));
	const char *quant = json_string_value(json_object_get(o, "quantization"));
	if (!model) {
		v1err(req, 400, "invalid_request", "missing_required_parameter", "model", "\"model\" is required");
		json_decref(o);
		return;
	}
	if (strlen(model) > 512 || (quant && strlen(quant) > 32)) {
		v1err(req, 400, "invalid_request", "invalid_value", strlen(model) > 512 ? "model" : "quantization",
		      "value too long");
		json_decref(o);
		return;
	}
	struct dp_sim_model *m = NULL;
	if (!strncmp(model, "https://huggingface.co/", 23))
		m = model_from_hf(sim, model, quant);
	else
		m = dp_sim_find_model(sim, model);
	if (!m) {
		v1err(req, 404, "model_not_found", "model_not_found", "model",
		      "Model \"%.500s\" not found in the catalog", model);
		json_decref(o);
		return;
	}
	json_decref(o);
	dp_api_downloads_update(sim);
	if (m->downloaded) {
		dp_api_reply_json(req, 200,
		                  json_pack("{s:s,s:I}", "status", "already_downloaded", "total_size_bytes",
		                            (json_int_t)m->size_bytes));
		return;
	}
	for (int i = 0; i < sim->ndownloads; i++)
		if (sim->downloads[i]->m == m && sim->downloads[i]->status == 0) {
			dp_api_reply_json(req, 200, job_json(sim, sim->downloads[i], 0));
			return;
		}
	if (sim->ndownloads >= (int)(sizeof(sim->downloads) / sizeof(sim->downloads[0]))) {
		v1err(req, 500, "internal_error", NULL, NULL, "Too many download jobs");
		return;
	}
	struct dp_sim_download *d = xcalloc(1, sizeof(*d));
	d->m = m;
	d->started_ms = dp_sim_now(sim);
	d->total = m->size_bytes;
	d->rate = DL_BYTES_PER_SEC / 1000.0 * (sim->cfg.speed > 0 ? sim->cfg.speed : 1);
	uint64_t h = dp_gen_hash(m->key, strlen(m->key), d->started_ms ^ (uint64_t)sim->ndownloads);
	snprintf(d->job_id, sizeof(d->job_id), "job_%010llx", (unsigned long long)(h & 0xffffffffffull));
	sim->downloads[sim->ndownloads++] = d;
	dp_simlog_server(sim, "info", "Starting download of %s (%llu bytes)", m->key, (unsigned long long)d->total);
	dp_api_reply_json(req, 200, job_json(sim, d, 0));
}

static void handle_v1_download_status(struct dp_sim *sim, struct dp_http_req *req, const char *job)
{
	dp_api_downloads_update(sim);
	for (int i = 0; i < sim->ndownloads; i++)
		if (!strcmp(sim->downloads[i]->job_id, job)) {
			dp_api_reply_json(req, 200, job_json(sim, sim->downloads[i], 1));
			return;
		}
	v1err(req, 404, "job_not_found", "job_not_found", "job_id", "No download job with id \"%.100s\"", job);
}

/* ---- model lists ---- */

static void handle_v1_models(struct dp_sim *sim, struct dp_http_req *req)
{
	dp_api_downloads_update(sim);
	json_t *arr = json_array();
	for (int i = 0; i < sim->nmodels; i++)
		if (sim->models[i]->downloaded)
			json_array_append_new(arr, dp_api_model_v1(sim, sim->models[i]));
	dp_simlog_server(sim, "info", "Returning %zu models from v1 API", json_array_size(arr));
	dp_api_reply_json(req, 200, json_pack("{s:o}", "models", arr));
}

static void handle_v0_models(struct dp_sim *sim, struct dp_http_req *req, const char *one)
{
	dp_api_downloads_update(sim);
	if (one) {
		struct dp_sim_model *m = dp_sim_find_model(sim, one);
		if (!m || !m->downloaded) {
			oaierr(req, 404, "model_not_found", "model", "Model \"%.500s\" not found.", one);
			return;
		}
		dp_api_reply_json(req, 200, dp_api_model_v0(sim, m));
		return;
	}
	json_t *arr = json_array();
	for (int i = 0; i < sim->nmodels; i++)
		if (sim->models[i]->downloaded)
			json_array_append_new(arr, dp_api_model_v0(sim, sim->models[i]));
	dp_api_reply_json(req, 200, json_pack("{s:s,s:o}", "object", "list", "data", arr));
}

static void handle_oai_models(struct dp_sim *sim, struct dp_http_req *req)
{
	dp_api_downloads_update(sim);
	json_t *arr = json_array();
	if (sim->cfg.jit) {
		for (int i = 0; i < sim->nmodels; i++)
			if (sim->models[i]->downloaded)
				json_array_append_new(arr,
				                      json_pack("{s:s,s:s,s:s}", "id", sim->models[i]->key, "object",
				                                "model", "owned_by", "organization_owner"));
	} else {
		struct dp_sim_inst *in;
		TAILQ_FOREACH(in, &sim->insts, link)
		json_array_append_new(arr, json_pack("{s:s,s:s,s:s}", "id", in->id, "object", "model", "owned_by",
		                                     "organization_owner"));
	}
	dp_api_reply_json(req, 200, json_pack("{s:o,s:s}", "data", arr, "object", "list"));
}

/* ---- auth ---- */

static int token_wellformed(const char *t)
{
	/* ^sk-lm-[a-zA-Z0-9]{8}:[a-zA-Z0-9]{20}$ (§1.3) */
	if (strncmp(t, "sk-lm-", 6))
		return 0;
	t += 6;
	for (int i = 0; i < 8; i++)
		if (!isalnum((unsigned char)t[i]))
			return 0;
	if (t[8] != ':')
		return 0;
	for (int i = 9; i < 29; i++)
		if (!isalnum((unsigned char)t[i]))
			return 0;
	return t[29] == '\0';
}

static int ct_equal(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	unsigned d = (unsigned)(la ^ lb);
	for (size_t i = 0; i < la && i < lb; i++)
		d |= (unsigned)(a[i] ^ b[i]);
	return d == 0;
}

/* 0 when allowed; otherwise the 401 has been sent. */
static int check_auth(struct dp_sim *sim, struct dp_http_req *req)
{
	if (sim->cfg.ntokens == 0)
		return 0;
	const char *h = dp_http_req_header(req, "Authorization");
	const char *msg = NULL;
	char buf[300];
	if (!h || strncasecmp(h, "Bearer ", 7) || !h[7]) {
		msg = "An LM Studio API token is required to make requests to this server, but none was provided "
		      "using the Authorization header using the 'Bearer' scheme.";
	} else {
		const char *t = h + 7;
		while (*t == ' ')
			t++;
		if (!token_wellformed(t)) {
			/* never echo the token */
			snprintf(buf, sizeof(buf),
			         "Malformed LM Studio API token provided: expected the format "
			         "sk-lm-<8 letters or digits>:<20 letters or digits>.");
			msg = buf;
		} else {
			for (int i = 0; i < sim->cfg.ntokens; i++)
				if (ct_equal(t, sim->cfg.tokens[i]))
					return 0;
			msg = "Invalid LM Studio API token provided.";
		}
	}
	dp_api_reply_json(req, 401,
	                  json_pack("{s:{s:s,s:s,s:s}}", "error", "type", "invalid_request", "code", "invalid_api_key",
	                            "message", msg));
	return -1;
}

/* ---- faults ---- */

int dp_api_fault_for(struct dp_sim *sim, const char *path)
{
	struct dp_sim_fault *f = &sim->fault;
	if (f->mode == DP_FAULT_NONE)
		return DP_FAULT_NONE;
	if (dp_sim_now(sim) >= f->until_ms) {
		f->mode = DP_FAULT_NONE;
		return DP_FAULT_NONE;
	}
	if (!strncmp(path, "/__sim/", 7))
		return DP_FAULT_NONE;
	if (!strcmp(path, "/__any"))
		return f->mode; /* "is any fault active" (state) */
	if (f->npaths == 0)
		return f->mode;
	for (int i = 0; i < f->npaths; i++)
		if (!strncmp(path, f->paths[i], strlen(f->paths[i])))
			return f->mode;
	return DP_FAULT_NONE;
}

struct held {
	struct dp_sim *sim;
	struct dp_http_req *req;
	struct event *ev;
	int slow_done;
};

static void route(struct dp_sim *sim, struct dp_http_req *req);

static void held_closed(struct dp_http_req *req, void *arg)
{
	struct held *h = arg;
	(void)req;
	event_free(h->ev);
	free(h);
}

static void held_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct held *h = arg;
	struct dp_sim *sim = h->sim;
	struct dp_http_req *req = h->req;
	(void)fd;
	(void)ev;
	if (dp_api_fault_for(sim, dp_http_req_path(req)) == DP_FAULT_STALL) {
		struct timeval tv = {0, 100000};
		evtimer_add(h->ev, &tv);
		return;
	}
	dp_http_req_on_close(req, NULL, NULL);
	event_free(h->ev); /* a fired one-shot timer may be freed in its callback */
	free(h);
	route(sim, req);
}

static void hold(struct dp_sim *sim, struct dp_http_req *req, int ms)
{
	struct held *h = xcalloc(1, sizeof(*h));
	h->sim = sim;
	h->req = req;
	h->ev = evtimer_new(sim->base, held_cb, h);
	dp_http_req_on_close(req, held_closed, h);
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
	evtimer_add(h->ev, &tv);
}

/* ---- routing ---- */

static int is(const char *m, const char *p, struct dp_http_req *req)
{
	return !strcmp(dp_http_req_method(req), m) && !strcmp(dp_http_req_path(req), p);
}

static void route(struct dp_sim *sim, struct dp_http_req *req)
{
	const char *path = dp_http_req_path(req);
	const char *method = dp_http_req_method(req);
	int get = !strcmp(method, "GET") || !strcmp(method, "HEAD");
	if (get && !strcmp(path, "/api/v1/models"))
		handle_v1_models(sim, req);
	else if (is("POST", "/api/v1/models/load", req))
		handle_v1_load(sim, req);
	else if (is("POST", "/api/v1/models/unload", req))
		handle_v1_unload(sim, req);
	else if (is("POST", "/api/v1/models/download", req))
		handle_v1_download(sim, req);
	else if (get && !strncmp(path, "/api/v1/models/download/status/", 31) && path[31])
		handle_v1_download_status(sim, req, path + 31);
	else if (is("POST", "/api/v1/chat", req))
		handle_infer(sim, req, DP_K_V1_CHAT);
	else if (get && !strcmp(path, "/api/v0/models"))
		handle_v0_models(sim, req, NULL);
	else if (get && !strncmp(path, "/api/v0/models/", 15) && path[15])
		handle_v0_models(sim, req, path + 15);
	else if (is("POST", "/api/v0/chat/completions", req))
		handle_infer(sim, req, DP_K_V0_CHAT);
	else if (is("POST", "/api/v0/completions", req))
		handle_infer(sim, req, DP_K_V0_COMPL);
	else if (is("POST", "/api/v0/embeddings", req))
		handle_infer(sim, req, DP_K_V0_EMBED);
	else if (get && !strcmp(path, "/v1/models"))
		handle_oai_models(sim, req);
	else if (is("POST", "/v1/chat/completions", req))
		handle_infer(sim, req, DP_K_OAI_CHAT);
	else if (is("POST", "/v1/completions", req))
		handle_infer(sim, req, DP_K_OAI_COMPL);
	else if (is("POST", "/v1/embeddings", req))
		handle_infer(sim, req, DP_K_OAI_EMBED);
	else if (is("POST", "/v1/responses", req))
		handle_infer(sim, req, DP_K_RESPONSES);
	else
		unexpected(req);
}

static void log_request(struct dp_sim *sim, struct dp_http_req *req)
{
	size_t n;
	const char *b = dp_http_req_body(req, &n);
	if (n)
		dp_simlog_server(sim, "debug", "Received request: %s to %s with body %.2000s%s",
		                 dp_http_req_method(req), dp_http_req_path(req), b, n > 2000 ? "..." : "");
	else
		dp_simlog_server(sim, "debug", "Received request: %s to %s", dp_http_req_method(req),
		                 dp_http_req_path(req));
}

/* After a hold (stall/slow fault): continue with the routing step. */
static void resume(struct dp_sim *sim, struct dp_http_req *req)
{
	route(sim, req);
}

void dp_api_handle(struct dp_http_req *req, void *arg)
{
	struct dp_sim *sim = arg;
	const char *path = dp_http_req_path(req);
	sim->counters_requests++;
	if (!strncmp(path, "/__sim/", 7)) {
		dp_apisim_handle(sim, req, path);
		return;
	}
	if (!sim->server_running) {
		dp_http_abort(req);
		return;
	}
	if (!strcmp(path, "/lmstudio-greeting") &&
	    (!strcmp(dp_http_req_method(req), "GET") || !strcmp(dp_http_req_method(req), "HEAD"))) {
		dp_api_reply_json(req, 200, json_pack("{s:b}", "lmstudio", 1));
		return;
	}
	if (check_auth(sim, req) < 0)
		return;
	log_request(sim, req);
	switch (dp_api_fault_for(sim, path)) {
	case DP_FAULT_REFUSE:
		dp_http_abort(req);
		return;
	case DP_FAULT_ERROR500:
		dp_api_reply_json(
		        req, 500,
		        json_pack("{s:{s:s,s:s}}", "error", "type", "internal_error", "message", "simulated fault"));
		return;
	case DP_FAULT_STALL:
		hold(sim, req, 100);
		return;
	case DP_FAULT_SLOW:
		hold(sim, req, 500);
		return;
	case DP_FAULT_CLOSE_MID_STREAM: {
		/* streamed requests are cut by pred.c; others are closed unanswered */
		size_t n;
		const char *b = dp_http_req_body(req, &n);
		if (!b || !strstr(b, "\"stream\"")) {
			dp_http_abort(req);
			return;
		}
		break;
	}
	default:
		break;
	}
	resume(sim, req);
}

/* ---- periodic work ---- */

static void tick_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct dp_sim *sim = arg;
	(void)fd;
	(void)ev;
	dp_inst_sweep(sim);
	dp_api_downloads_update(sim);
	dp_hw_tick(sim, 250);
	dp_api_fault_for(sim, "/"); /* expire */
}

static void reap_cb(evutil_socket_t fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	dp_pred_reap(arg);
}

void dp_api_start(struct dp_sim *sim)
{
	sim->tick = event_new(sim->base, -1, EV_PERSIST, tick_cb, sim);
	struct timeval tv = {0, 250000};
	event_add(sim->tick, &tv);
	sim->reaper = event_new(sim->base, -1, 0, reap_cb, sim);
}

void dp_api_release(struct dp_sim *sim)
{
	if (sim->tick)
		event_free(sim->tick);
	if (sim->reaper)
		event_free(sim->reaper);
	sim->tick = sim->reaper = NULL;
}
