/*
 * pred.c - one prediction from request to last byte: waits for a slot (or
 * for a JIT load), processes the prompt, generates reasoning and message
 * tokens on timers, and writes every API flavour's wire format:
 *
 *   /api/v1/chat        SSE events of reference §3.7 in their documented
 *                       order, or the §3.6 JSON body
 *   /api/v0/…, /v1/…    OpenAI chunks (`data: {...}`), final chunk with
 *                       usage (+ v0 stats, model_info, runtime), `[DONE]`;
 *                       or the §2.2 / §4 JSON bodies
 *   /v1/responses       response.* SSE events or a response object
 *
 * Token accounting: every delta event carries exactly one token, so the
 * counts in stats/usage equal the deltas streamed. Reported timings are
 * the simulated ones (independent of --speed) so stats stay plausible
 * when tests run with --speed 0.
 *
 * Lifetime: a prediction lives in exactly one list (instance queue,
 * instance running list, or sim->dead). It forgets its request in the
 * request's on_close callback, and is freed by the sim's reaper event,
 * never inside its own callbacks.
 */
#include "sim.h"

#include <errno.h>
#include <event2/event.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http.h"
#include "xmalloc.h"

#define STREAM_HIGH_WATER (256u << 10)
#define BATCH_TOKENS      64

static void step_cb(evutil_socket_t fd, short ev, void *arg);
static void finish(struct dp_pred *p);

/* ---- JSON text helpers (hot path: no jansson per token) ---- */

static void jstr(struct dp_buf *b, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	dp_buf_addch(b, '"');
	const unsigned char *u = (const unsigned char *)s;
	const unsigned char *run = u;
	for (; *u; u++) {
		if (*u >= 0x20 && *u != '"' && *u != '\\')
			continue;
		dp_buf_add(b, run, (size_t)(u - run));
		run = u + 1;
		switch (*u) {
		case '"':
			dp_buf_add(b, "\\\"", 2);
			break;
		case '\\':
			dp_buf_add(b, "\\\\", 2);
			break;
		case '\n':
			dp_buf_add(b, "\\n", 2);
			break;
		case '\r':
			dp_buf_add(b, "\\r", 2);
			break;
		case '\t':
			dp_buf_add(b, "\\t", 2);
			break;
		default: {
			char e[6] = {'\\', 'u', '0', '0', hex[*u >> 4], hex[*u & 15]};
			dp_buf_add(b, e, 6);
		}
		}
	}
	dp_buf_add(b, run, (size_t)(u - run));
	dp_buf_addch(b, '"');
}

static int is_v1(const struct dp_pred *p)
{
	return p->r.kind == DP_K_V1_CHAT;
}
static int is_v0(const struct dp_pred *p)
{
	return p->r.kind == DP_K_V0_CHAT || p->r.kind == DP_K_V0_COMPL;
}
static int is_compl(const struct dp_pred *p)
{
	return p->r.kind == DP_K_V0_COMPL || p->r.kind == DP_K_OAI_COMPL;
}
static int is_resp(const struct dp_pred *p)
{
	return p->r.kind == DP_K_RESPONSES;
}

/* ---- writing ---- */

static void cut_stream(struct dp_pred *p)
{
	/* close_mid_stream fault: drop the connection mid-response */
	dp_http_abort(p->req);
	p->req = NULL;
	p->cancelled = 1;
}

static void send_wire(struct dp_pred *p)
{
	if (!p->req || !p->streaming) {
		dp_buf_reset(&p->wire);
		return;
	}
	p->events++;
	p->sim->counters_events++;
	if (dp_http_stream_write(p->req, p->wire.data, p->wire.len) < 0)
		p->cancelled = 1;
	dp_buf_reset(&p->wire);
	if (p->cut_after && p->events >= (uint64_t)p->cut_after && p->req)
		p->cut_pending = 1; /* cut once these bytes reached the client */
}

/* v1: "event: T\ndata: {"type":"T"<extra>}\n\n" */
static void v1_event(struct dp_pred *p, const char *type, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void v1_event(struct dp_pred *p, const char *type, const char *fmt, ...)
{
	if (!p->streaming)
		return;
	dp_buf_addf(&p->wire, "event: %s\ndata: {\"type\":\"%s\"", type, type);
	if (fmt) {
		va_list ap;
		va_start(ap, fmt);
		dp_buf_vaddf(&p->wire, fmt, ap);
		va_end(ap);
	}
	dp_buf_adds(&p->wire, "}\n\n");
	send_wire(p);
}

static void v1_delta(struct dp_pred *p, const char *type, const char *tok)
{
	dp_buf_addf(&p->wire, "event: %s\ndata: {\"type\":\"%s\",\"content\":", type, type);
	jstr(&p->wire, tok);
	dp_buf_adds(&p->wire, "}\n\n");
	send_wire(p);
}

/* OpenAI chunk head up to the choice object's opening brace content. */
static void chunk_head(struct dp_pred *p)
{
	dp_buf_adds(&p->wire, "data: {\"id\":");
	jstr(&p->wire, p->id);
	dp_buf_addf(&p->wire, ",\"object\":\"%s\",\"created\":%lld,\"model\":",
	            is_compl(p) ? "text_completion" : "chat.completion.chunk", (long long)p->created);
	jstr(&p->wire, p->inst_id);
	dp_buf_adds(&p->wire, ",\"system_fingerprint\":");
	jstr(&p->wire, p->inst_id);
	dp_buf_adds(&p->wire, ",\"choices\":[{\"index\":0,");
}

/* OpenAI delta chunk; field = "content" | "reasoning_content" | "reasoning" */
static void oai_delta(struct dp_pred *p, const char *field, const char *tok)
{
	chunk_head(p);
	if (is_compl(p)) {
		dp_buf_adds(&p->wire, "\"text\":");
		jstr(&p->wire, tok);
	} else {
		dp_buf_adds(&p->wire, "\"delta\":{");
		if (!p->first_chunk_sent)
			dp_buf_adds(&p->wire, "\"role\":\"assistant\",");
		dp_buf_addf(&p->wire, "\"%s\":", field);
		jstr(&p->wire, tok);
		dp_buf_addch(&p->wire, '}');
	}
	p->first_chunk_sent = 1;
	dp_buf_adds(&p->wire, ",\"logprobs\":null,\"finish_reason\":null}]}\n\n");
	send_wire(p);
}

static void resp_event(struct dp_pred *p, const char *type, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void resp_event(struct dp_pred *p, const char *type, const char *fmt, ...)
{
	if (!p->streaming)
		return;
	dp_buf_addf(&p->wire, "event: %s\ndata: {\"type\":\"%s\",\"sequence_number\":%llu", type, type,
	            (unsigned long long)p->seq++);
	if (fmt) {
		va_list ap;
		va_start(ap, fmt);
		dp_buf_vaddf(&p->wire, fmt, ap);
		va_end(ap);
	}
	dp_buf_adds(&p->wire, "}\n\n");
	send_wire(p);
}

static void resp_event_json(struct dp_pred *p, const char *type, const char *key, json_t *v)
{
	char *s = json_dumps(v, JSON_COMPACT | JSON_REAL_PRECISION(10));
	json_decref(v);
	resp_event(p, type, ",\"%s\":%s", key, s ? s : "null");
	free(s);
}

/* ---- JSON bodies ---- */

static double r3(double v)
{
	return round(v * 1000) / 1000;
}

static int out_tokens(const struct dp_pred *p)
{
	return p->n_reason + p->n_msg;
}

static double gen_time(const struct dp_pred *p)
{
	return out_tokens(p) / p->tps;
}

static json_t *v1_result(struct dp_pred *p, const char *resp_id)
{
	json_t *out = json_array();
	if (p->n_reason && p->reasoning_on)
		json_array_append_new(out, json_pack("{s:s,s:s}", "type", "reasoning", "content", p->reasoning.data));
	json_t *mc = p->r.mcp_call;
	if (mc && json_is_true(json_object_get(mc, "ok")))
		json_array_append_new(out, json_pack("{s:s,s:O,s:O,s:O,s:O}", "type", "tool_call", "tool",
		                                     json_object_get(mc, "tool"), "arguments",
		                                     json_object_get(mc, "arguments"), "output",
		                                     json_object_get(mc, "output"), "provider_info",
		                                     json_object_get(mc, "provider_info")));
	json_array_append_new(out, json_pack("{s:s,s:s}", "type", "message", "content", p->content.data));
	json_t *st = json_pack("{s:i,s:i,s:i,s:f,s:f}", "input_tokens", p->prompt_tokens, "total_output_tokens",
	                       out_tokens(p), "reasoning_output_tokens", p->n_reason, "tokens_per_second", r3(p->tps),
	                       "time_to_first_token_seconds", r3(p->ttft_s));
	if (p->jit_trigger)
		json_object_set_new(st, "model_load_time_seconds", json_real(r3(p->load_s)));
	json_t *o = json_pack("{s:s,s:o,s:o}", "model_instance_id", p->inst_id, "output", out, "stats", st);
	if (resp_id)
		json_object_set_new(o, "response_id", json_string(resp_id));
	return o;
}

static json_t *usage(struct dp_pred *p)
{
	return json_pack("{s:i,s:i,s:i}", "prompt_tokens", p->prompt_tokens, "completion_tokens", out_tokens(p),
	                 "total_tokens", p->prompt_tokens + out_tokens(p));
}

static json_t *v0_stats(struct dp_pred *p)
{
	return json_pack("{s:f,s:f,s:f,s:s}", "tokens_per_second", p->tps, "time_to_first_token", r3(p->ttft_s),
	                 "generation_time", r3(gen_time(p)), "stop_reason", p->stop_reason);
}

static json_t *model_info(struct dp_pred *p, const struct dp_sim_model *m, int ctx)
{
	return json_pack("{s:s,s:s,s:s,s:i}", "arch", m->architecture ? m->architecture : "unknown", "quant",
	                 m->quant_name ? m->quant_name : "unknown", "format", m->format, "context_length", ctx);
}

static json_t *runtime_info(const struct dp_sim_model *m)
{
	return json_pack("{s:s,s:s,s:[s]}", "name", dp_simlog_engine_name(m), "version", dp_simlog_engine_version(m),
	                 "supported_formats", m->format);
}

static void add_v0_extras(struct dp_pred *p, json_t *o)
{
	const struct dp_sim_model *m = dp_sim_find_model(p->sim, p->model_key);
	json_object_set_new(o, "stats", v0_stats(p));
	if (m) {
		json_object_set_new(o, "model_info", model_info(p, m, p->inst ? p->inst->context_length : 4096));
		json_object_set_new(o, "runtime", runtime_info(m));
	}
}

static json_t *tool_calls_json(struct dp_pred *p)
{
	return json_pack("[{s:s,s:s,s:{s:s,s:s}}]", "id", p->call_id, "type", "function", "function", "name",
	                 p->r.tool_name, "arguments", p->tool_args ? p->tool_args : "{}");
}

static json_t *oai_body(struct dp_pred *p)
{
	json_t *choice;
	if (is_compl(p)) {
		choice = json_pack("{s:i,s:s,s:n,s:s}", "index", 0, "text", p->content.data, "logprobs",
		                   "finish_reason", p->finish_reason);
	} else {
		json_t *msg = json_pack("{s:s,s:s}", "role", "assistant", "content", p->content.data);
		if (p->reasoning_on && p->reason_api == DP_SIM_R_REASONING_CONTENT)
			json_object_set_new(msg, "reasoning_content", json_string(p->reasoning.data));
		if (p->reasoning_on && p->reason_api == DP_SIM_R_REASONING)
			json_object_set_new(msg, "reasoning", json_string(p->reasoning.data));
		/* a real v0 capture shows reasoning_content "" on every message (§2.2) */
		if (is_v0(p) && !json_object_get(msg, "reasoning_content"))
			json_object_set_new(msg, "reasoning_content", json_string(""));
		json_object_set_new(msg, "tool_calls", p->do_tool ? tool_calls_json(p) : json_array());
		choice = json_pack("{s:i,s:n,s:s,s:o}", "index", 0, "logprobs", "finish_reason", p->finish_reason,
		                   "message", msg);
	}
	json_t *o = json_pack("{s:s,s:s,s:I,s:s,s:[o],s:o}", "id", p->id, "object",
	                      is_compl(p) ? "text_completion" : "chat.completion", "created", (json_int_t)p->created,
	                      "model", p->inst_id, "choices", choice, "usage", usage(p));
	if (is_v0(p))
		add_v0_extras(p, o);
	else
		json_object_set_new(o, "stats", json_object()); /* observed: empty on /v1 (§4) */
	json_object_set_new(o, "system_fingerprint", json_string(p->inst_id));
	return o;
}

static json_t *resp_message_item(struct dp_pred *p, const char *status, int with_text)
{
	json_t *content = json_array();
	if (with_text)
		json_array_append_new(content, json_pack("{s:s,s:s,s:[]}", "type", "output_text", "text",
		                                         p->content.data, "annotations"));
	return json_pack("{s:s,s:s,s:s,s:s,s:o}", "id", p->msg_id, "type", "message", "status", status, "role",
	                 "assistant", "content", content);
}

static json_t *resp_object(struct dp_pred *p, const char *status)
{
	int done = !strcmp(status, "completed");
	json_t *out = json_array();
	if (done && p->do_tool)
		json_array_append_new(out,
		                      json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "id", p->call_id, "type", "function_call",
		                                "status", "completed", "call_id", p->call_id, "name", p->r.tool_name,
		                                "arguments", p->tool_args ? p->tool_args : "{}"));
	else if (done)
		json_array_append_new(out, resp_message_item(p, "completed", 1));
	json_t *o = json_pack("{s:s,s:s,s:I,s:s,s:s,s:o}", "id", p->id, "object", "response", "created_at",
	                      (json_int_t)p->created, "status", status, "model", p->inst_id, "output", out);
	json_object_set_new(o, "previous_response_id",
	                    p->r.previous_response_id ? json_string(p->r.previous_response_id) : json_null());
	if (done) {
		json_object_set_new(o, "usage",
		                    json_pack("{s:i,s:i,s:i,s:{s:i}}", "input_tokens", p->prompt_tokens,
		                              "output_tokens", out_tokens(p), "total_tokens",
		                              p->prompt_tokens + out_tokens(p), "output_tokens_details",
		                              "reasoning_tokens", p->n_reason));
	} else {
		json_object_set_new(o, "usage", json_null());
	}
	return o;
}

static void reply_json(struct dp_pred *p, json_t *o)
{
	/* LM Studio logs whole non-streamed response bodies (reference 7.1:
	 * "[INFO][<model>] Generated prediction: {...}"); bounded here. */
	if (!p->embed) {
		char *body = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(10));
		if (body && strlen(body) <= (32u << 10))
			dp_simlog_server(p->sim, "info", "[%s] Generated prediction: %s", p->inst_id, body);
		free(body);
	}
	if (p->req)
		dp_api_reply_json(p->req, 200, o);
	else
		json_decref(o);
	p->req = NULL;
}

/* ---- phases ---- */

static void arm(struct dp_pred *p, double ms)
{
	if (!p->timer)
		return; /* unit tests: driven by hand */
	if (p->slow_ms)
		ms += p->slow_ms;
	struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(fmod(ms, 1000.0) * 1000)};
	evtimer_add(p->timer, &tv);
}

/* The MCP tool call made before the answer (api.c): tool_call.start,
 * .arguments, then .success or .failure (reference §3.7). */
static void v1_tool_event(struct dp_pred *p, const char *type, json_t *o)
{
	json_t *x = json_pack("{s:s}", "type", type); /* "type" first, as in the other events */
	json_object_update(x, o);
	json_decref(o);
	char *s = json_dumps(x, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(x);
	dp_buf_addf(&p->wire, "event: %s\ndata: %s\n\n", type, s ? s : "{}");
	free(s);
	send_wire(p);
}

static void v1_tool_events(struct dp_pred *p)
{
	json_t *mc = p->r.mcp_call, *tool = json_object_get(mc, "tool"), *pi = json_object_get(mc, "provider_info");
	json_t *args = json_object_get(mc, "arguments");
	v1_tool_event(p, "tool_call.start", json_pack("{s:O,s:O}", "tool", tool, "provider_info", pi));
	v1_tool_event(p, "tool_call.arguments",
	              json_pack("{s:O,s:O,s:O}", "tool", tool, "arguments", args, "provider_info", pi));
	if (json_is_true(json_object_get(mc, "ok")))
		v1_tool_event(p, "tool_call.success",
		              json_pack("{s:O,s:O,s:O,s:O}", "tool", tool, "arguments", args, "output",
		                        json_object_get(mc, "output"), "provider_info", pi));
	else
		v1_tool_event(p, "tool_call.failure",
		              json_pack("{s:O,s:{s:s,s:O,s:O,s:O}}", "reason", json_object_get(mc, "reason"),
		                        "metadata", "type", "invalid_arguments", "tool_name", tool, "arguments", args,
		                        "provider_info", pi));
}

static void begin_output(struct dp_pred *p)
{
	/* first events of the stream, sent as soon as the request is accepted */
	if (!p->streaming)
		return;
	dp_http_add_header(p->req, "Cache-Control", "no-cache");
	if (dp_http_stream_start(p->req, 200, "text/event-stream") < 0) {
		p->req = NULL;
		p->cancelled = 1;
		return;
	}
	p->started_stream = 1;
	if (is_v1(p)) {
		dp_buf_addf(&p->wire, "event: chat.start\ndata: {\"type\":\"chat.start\",\"model_instance_id\":");
		jstr(&p->wire, p->inst_id);
		dp_buf_adds(&p->wire, "}\n\n");
		send_wire(p);
		if (p->r.mcp_call)
			v1_tool_events(p);
		if (p->jit_trigger) {
			dp_buf_adds(
			        &p->wire,
			        "event: model_load.start\ndata: {\"type\":\"model_load.start\",\"model_instance_id\":");
			jstr(&p->wire, p->inst_id);
			dp_buf_adds(&p->wire, "}\n\n");
			send_wire(p);
		}
	} else if (is_resp(p)) {
		resp_event_json(p, "response.created", "response", resp_object(p, "in_progress"));
		resp_event_json(p, "response.in_progress", "response", resp_object(p, "in_progress"));
	}
}

static void v1_load_event(struct dp_pred *p, const char *type, double progress)
{
	dp_buf_addf(&p->wire, "event: %s\ndata: {\"type\":\"%s\",\"model_instance_id\":", type, type);
	jstr(&p->wire, p->inst_id);
	if (!strcmp(type, "model_load.end"))
		dp_buf_addf(&p->wire, ",\"load_time_seconds\":%.3f}\n\n", p->load_s);
	else
		dp_buf_addf(&p->wire, ",\"progress\":%.2f}\n\n", progress);
	send_wire(p);
}

static void enter_slot(struct dp_pred *p)
{
	struct dp_sim_inst *in = p->inst;
	TAILQ_REMOVE(&in->queue, p, link);
	TAILQ_INSERT_TAIL(&in->running, p, link);
	p->where = 2;
	in->active++;
	dp_inst_touch(in);
	if (p->jit_trigger && !p->load_end_sent) {
		p->load_end_sent = 1;
		if (is_v1(p) && p->streaming) {
			v1_load_event(p, "model_load.progress", 1.0);
			v1_load_event(p, "model_load.end", 0);
		}
	}
	p->phase = PH_PP;
	p->pp_step = 0;
	if (is_v1(p))
		v1_event(p, "prompt_processing.start", NULL);
	arm(p, 0);
}

void dp_pred_kick(struct dp_sim_inst *in)
{
	struct dp_pred *p;
	if (in->loading || in->unloading)
		return;
	while (in->active < in->parallel && (p = TAILQ_FIRST(&in->queue)))
		enter_slot(p);
}

static void emit_token(struct dp_pred *p, int reasoning, const char *tok)
{
	struct dp_buf *acc = reasoning ? &p->reasoning : &p->content;
	dp_buf_adds(acc, tok);
	if (reasoning)
		p->n_reason++;
	else
		p->n_msg++;
	p->sim->counters_tokens++;
	if (!p->streaming)
		return;
	if (is_v1(p)) {
		v1_delta(p, reasoning ? "reasoning.delta" : "message.delta", tok);
	} else if (is_resp(p)) {
		dp_buf_addf(
		        &p->wire,
		        "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\","
		        "\"sequence_number\":%llu,\"item_id\":\"%s\",\"output_index\":0,\"content_index\":0,\"delta\":",
		        (unsigned long long)p->seq++, p->msg_id);
		jstr(&p->wire, tok);
		dp_buf_adds(&p->wire, "}\n\n");
		send_wire(p);
	} else if (reasoning && p->reason_api == DP_SIM_R_REASONING_CONTENT) {
		oai_delta(p, "reasoning_content", tok);
	} else if (reasoning && p->reason_api == DP_SIM_R_REASONING) {
		oai_delta(p, "reasoning", tok);
	} else {
		oai_delta(p, "content", tok);
	}
}

static void start_phase(struct dp_pred *p, int ph)
{
	p->phase = ph;
	if (ph == PH_REASON) {
		dp_gen_init(&p->gen, p->gen.s[0] ^ 0x5151, 2);
		if (is_v1(p))
			v1_event(p, "reasoning.start", NULL);
	} else if (ph == PH_MSG) {
		int kind = dp_gen_pick_kind(p->r.last_user);
		dp_gen_init(&p->gen, p->gen.s[1] ^ 0xa0a0, kind);
		if (is_v1(p)) {
			v1_event(p, "message.start", NULL);
		} else if (is_resp(p) && p->streaming) {
			resp_event_json(p, "response.output_item.added", "item",
			                resp_message_item(p, "in_progress", 0));
			resp_event(p, "response.content_part.added",
			           ",\"item_id\":\"%s\",\"output_index\":0,\"content_index\":0,"
			           "\"part\":{\"type\":\"output_text\",\"text\":\"\",\"annotations\":[]}",
			           p->msg_id);
		}
	}
}

static void end_reason(struct dp_pred *p)
{
	if (is_v1(p))
		v1_event(p, "reasoning.end", NULL);
}

static double token_ms(struct dp_pred *p)
{
	return dp_sim_scale_ms(p->sim, 1.0 / p->tps);
}

/* Generate in the current phase. At --speed 0 a batch per loop turn. */
static void gen_step(struct dp_pred *p)
{
	int batch = p->sim->cfg.speed > 0 ? 1 : BATCH_TOKENS;
	for (int i = 0; i < batch && !p->cancelled && !p->cut_pending; i++) {
		if (p->phase == PH_REASON) {
			int done;
			if (p->think_tags) {
				/* "<think>", body tokens, "</think>" all inside content */
				int planned = p->plan_reason;
				int emitted = p->n_reason;
				if (emitted == 0 && p->content.len == 0) {
					emit_token(p, 0, "<think>");
					p->n_msg--;
					p->n_reason++;
					dp_buf_adds(&p->reasoning, "");
				} else if (emitted < planned - 1) {
					char tok[160];
					dp_gen_token(&p->gen, tok, sizeof(tok));
					emit_token(p, 0, tok);
					p->n_msg--;
					p->n_reason++;
					dp_buf_adds(&p->reasoning, tok);
				} else {
					emit_token(p, 0, "</think>\n\n");
					p->n_msg--;
					p->n_reason++;
				}
				done = p->n_reason >= planned;
			} else {
				char tok[160];
				dp_gen_token(&p->gen, tok, sizeof(tok));
				emit_token(p, 1, tok);
				done = p->n_reason >= p->plan_reason;
			}
			if (done) {
				end_reason(p);
				if (p->plan_msg > 0)
					start_phase(p, PH_MSG);
				else {
					finish(p);
					return;
				}
			}
		} else if (p->phase == PH_MSG) {
			char tok[160];
			dp_gen_token(&p->gen, tok, sizeof(tok));
			/* a stop string ends the message early */
			if (p->r.stop && *p->r.stop && strstr(tok, p->r.stop)) {
				p->stop_reason = "stopStringFound";
				p->finish_reason = "stop";
				p->truncated = 0;
				finish(p);
				return;
			}
			emit_token(p, 0, tok);
			if (p->n_msg >= p->plan_msg) {
				finish(p);
				return;
			}
		}
	}
	if (p->cancelled) {
		finish(p);
		return;
	}
	arm(p, p->cut_pending ? 2 : batch > 1 ? 0 : token_ms(p));
}

static void step_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct dp_pred *p = arg;
	(void)fd;
	(void)ev;
	if (p->phase == PH_DONE)
		return;
	if (p->cut_pending && p->req) {
		if (dp_http_stream_pending(p->req) > 0) {
			arm(p, 2);
			return;
		}
		cut_stream(p);
	}
	if (p->cancelled && p->where != 1) {
		if (p->where == 2)
			finish(p);
		return;
	}
	/* a stall fault holds the stream where it is */
	if (p->req && dp_api_fault_for(p->sim, dp_http_req_path(p->req)) == DP_FAULT_STALL) {
		arm(p, 50);
		return;
	}
	/* back-pressure: let the client drain */
	if (p->req && p->streaming && dp_http_stream_pending(p->req) > STREAM_HIGH_WATER) {
		arm(p, 2);
		return;
	}
	switch (p->phase) {
	case PH_WAIT:
		/* only the JIT-loading request ticks here: model_load.progress */
		if (p->inst && p->inst->loading && is_v1(p) && p->jit_trigger) {
			double el = (double)(dp_sim_now(p->sim) - p->inst->load_started_ms);
			double tot = dp_sim_scale_ms(p->sim, p->inst->load_seconds);
			double pr = tot > 0 ? fmin(0.99, el / tot) : 0.99;
			v1_load_event(p, "model_load.progress", pr);
			arm(p, tot > 0 ? fmax(50, tot / 5) : 50);
		}
		return;
	case PH_PP: {
		double ttft_ms = dp_sim_scale_ms(p->sim, p->ttft_s);
		if (p->pp_step < 2) {
			if (is_v1(p))
				v1_event(p, "prompt_processing.progress", ",\"progress\":%.1f", p->pp_step ? 1.0 : 0.5);
			p->pp_step++;
			arm(p, ttft_ms / 2);
			return;
		}
		if (is_v1(p))
			v1_event(p, "prompt_processing.end", NULL);
		p->inst->active_gen++;
		p->gen_counted = 1;
		if (p->reasoning_on && p->plan_reason > 0)
			start_phase(p, PH_REASON);
		else if (p->plan_msg > 0 || p->do_tool)
			start_phase(p, PH_MSG);
		if (p->plan_msg == 0 && (!p->reasoning_on || p->plan_reason == 0)) {
			finish(p);
			return;
		}
		gen_step(p);
		return;
	}
	case PH_REASON:
	case PH_MSG:
		gen_step(p);
		return;
	}
}

/* ---- finish and logging ---- */

/* Log fields are bounded so the 2048-event ring stays small (LM Studio logs
 * whole prompts; we keep the first DP_SIM_LOG_TEXT_MAX bytes, UTF-8 safe). */
#define DP_SIM_LOG_TEXT_MAX (32u << 10)
static json_t *log_text(const char *s, size_t n)
{
	if (n <= DP_SIM_LOG_TEXT_MAX)
		return json_stringn(s, n);
	size_t k = DP_SIM_LOG_TEXT_MAX;
	while (k > 0 && ((unsigned char)s[k] & 0xc0) == 0x80)
		k--;
	char *t = xmalloc(k + 4);
	memcpy(t, s, k);
	memcpy(t + k, "\xe2\x80\xa6", 4); /* "…" */
	json_t *v = json_string(t);
	free(t);
	return v ? v : json_string("");
}

static void log_output(struct dp_pred *p)
{
	struct dp_buf all;
	dp_buf_init(&all, 1u << 24);
	if (p->think_tags || !p->reasoning_on)
		dp_buf_adds(&all, p->content.data);
	else {
		dp_buf_adds(&all, p->reasoning.data);
		dp_buf_adds(&all, p->content.data);
	}
	json_t *st = json_pack(
	        "{s:s,s:f,s:f,s:f,s:i,s:i,s:i,s:i}", "stopReason", p->stop_reason, "tokensPerSecond", p->tps,
	        "timeToFirstTokenSec", r3(p->ttft_s), "totalTimeSec", r3(p->ttft_s + gen_time(p)), "promptTokensCount",
	        p->prompt_tokens, "predictedTokensCount", out_tokens(p), "totalTokensCount",
	        p->prompt_tokens + out_tokens(p), "numGpuLayers", p->inst ? (int)(p->inst->mem.ratio * 36) : 0);
	dp_simlog_add(p->sim, DP_SIMLOG_MODEL,
	              json_pack("{s:s,s:o,s:o,s:s}", "type", "llm.prediction.output", "output",
	                        log_text(all.data, all.len), "stats", st, "modelIdentifier", p->inst_id));
	dp_buf_release(&all);
	if (p->streaming)
		dp_simlog_server(p->sim, "info", "[%s] Finished streaming response", p->inst_id);
}

static void store_history(struct dp_pred *p, char *resp_id)
{
	/* bounded: DP_SIM_HIST entries of at most DP_SIM_HIST_BYTES (the tail
	 * of the conversation is kept when it grows past that) */
	struct dp_sim *sim = p->sim;
	int i = sim->hist_next++ % DP_SIM_HIST;
	free(sim->hist[i].prompt);
	sim->hist[i].prompt = NULL;
	snprintf(sim->hist[i].id, sizeof(sim->hist[i].id), "%s", resp_id);
	struct dp_buf h;
	dp_buf_init(&h, p->r.prompt.len + p->content.len + 64);
	dp_buf_adds(&h, p->r.prompt.data);
	dp_buf_adds(&h, p->content.data);
	dp_buf_adds(&h, "<|im_end|>\n");
	if (h.len > DP_SIM_HIST_BYTES) {
		size_t cut = h.len - DP_SIM_HIST_BYTES;
		while (cut < h.len && ((unsigned char)h.data[cut] & 0xc0) == 0x80)
			cut++;
		dp_buf_consume(&h, cut);
	}
	sim->hist[i].prompt = dp_buf_detach(&h, NULL);
}

const char *dp_pred_history(struct dp_sim *sim, const char *id)
{
	for (int i = 0; i < DP_SIM_HIST; i++)
		if (sim->hist[i].prompt && !strcmp(sim->hist[i].id, id))
			return sim->hist[i].prompt;
	return NULL;
}

void dp_pred_history_release(struct dp_sim *sim)
{
	for (int i = 0; i < DP_SIM_HIST; i++) {
		free(sim->hist[i].prompt);
		sim->hist[i].prompt = NULL;
	}
}

static void schedule_reap(struct dp_sim *sim)
{
	if (sim->reaper)
		event_active(sim->reaper, EV_TIMEOUT, 0);
}

static void to_dead(struct dp_pred *p)
{
	if (p->where == 1 && p->inst)
		TAILQ_REMOVE(&p->inst->queue, p, link);
	else if (p->where == 2 && p->inst)
		TAILQ_REMOVE(&p->inst->running, p, link);
	if (p->where != 3)
		TAILQ_INSERT_TAIL(&p->sim->dead, p, link);
	p->where = 3;
	p->phase = PH_DONE;
	if (p->timer)
		event_del(p->timer);
	schedule_reap(p->sim);
}

static void write_final(struct dp_pred *p)
{
	char resp_id[64] = "";
	if (is_v1(p) && p->r.store && !p->cancelled) {
		char hex[49];
		struct dp_gen rg;
		dp_gen_init(&rg, p->id_seed, 0);
		for (int i = 0; i < 48; i++)
			hex[i] = "0123456789abcdef"[dp_gen_next(&rg) & 15];
		hex[48] = '\0';
		snprintf(resp_id, sizeof(resp_id), "resp_%s", hex);
		store_history(p, resp_id);
	}
	if (!p->req)
		return;
	if (is_v1(p)) {
		json_t *res = v1_result(p, *resp_id ? resp_id : NULL);
		if (!p->streaming) {
			reply_json(p, res);
			return;
		}
		if (p->phase == PH_MSG || p->plan_msg == 0) {
			if (p->phase != PH_MSG)
				v1_event(p, "message.start", NULL);
			v1_event(p, "message.end", NULL);
		}
		char *s = json_dumps(res, JSON_COMPACT | JSON_REAL_PRECISION(10));
		json_decref(res);
		v1_event(p, "chat.end", ",\"result\":%s", s ? s : "null");
		free(s);
	} else if (is_resp(p)) {
		if (!p->streaming) {
			reply_json(p, resp_object(p, "completed"));
			return;
		}
		if (p->phase == PH_MSG) {
			dp_buf_addf(&p->wire,
			            "event: response.output_text.done\ndata: {\"type\":\"response.output_text.done\","
			            "\"sequence_number\":%llu,\"item_id\":\"%s\",\"output_index\":0,\"content_index\":"
			            "0,\"text\":",
			            (unsigned long long)p->seq++, p->msg_id);
			jstr(&p->wire, p->content.data);
			dp_buf_adds(&p->wire, "}\n\n");
			send_wire(p);
			resp_event_json(p, "response.output_item.done", "item", resp_message_item(p, "completed", 1));
		}
		resp_event_json(p, "response.completed", "response", resp_object(p, "completed"));
	} else {
		if (!p->streaming) {
			reply_json(p, oai_body(p));
			return;
		}
		if (p->do_tool && !is_compl(p)) {
			chunk_head(p);
			json_t *tc = json_pack("[{s:i,s:s,s:s,s:{s:s,s:s}}]", "index", 0, "id", p->call_id, "type",
			                       "function", "function", "name", p->r.tool_name, "arguments",
			                       p->tool_args ? p->tool_args : "{}");
			char *s = json_dumps(tc, JSON_COMPACT | JSON_REAL_PRECISION(10));
			json_decref(tc);
			dp_buf_addf(&p->wire,
			            "\"delta\":{%s\"tool_calls\":%s},\"logprobs\":null,\"finish_reason\":null}]}\n\n",
			            p->first_chunk_sent ? "" : "\"role\":\"assistant\",", s);
			free(s);
			p->first_chunk_sent = 1;
			send_wire(p);
		}
		/* final chunk: empty delta, finish_reason, usage (+ v0 stats/model_info/runtime) */
		json_t *o = json_pack("{s:s,s:s,s:I,s:s,s:s}", "id", p->id, "object",
		                      is_compl(p) ? "text_completion" : "chat.completion.chunk", "created",
		                      (json_int_t)p->created, "model", p->inst_id, "system_fingerprint", p->inst_id);
		json_t *ch = is_compl(p) ? json_pack("{s:i,s:s,s:n,s:s}", "index", 0, "text", "", "logprobs",
		                                     "finish_reason", p->finish_reason)
		                         : json_pack("{s:i,s:{},s:n,s:s}", "index", 0, "delta", "logprobs",
		                                     "finish_reason", p->finish_reason);
		json_object_set_new(o, "choices", json_pack("[o]", ch));
		if (is_v0(p)) {
			json_object_set_new(o, "usage", usage(p));
			add_v0_extras(p, o);
		}
		char *s = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(10));
		json_decref(o);
		dp_buf_addf(&p->wire, "data: %s\n\n", s ? s : "{}");
		free(s);
		send_wire(p);
		if (!is_v0(p) && p->r.include_usage) {
			json_t *u =
			        json_pack("{s:s,s:s,s:I,s:s,s:[],s:o}", "id", p->id, "object",
			                  is_compl(p) ? "text_completion" : "chat.completion.chunk", "created",
			                  (json_int_t)p->created, "model", p->inst_id, "choices", "usage", usage(p));
			s = json_dumps(u, JSON_COMPACT | JSON_REAL_PRECISION(10));
			json_decref(u);
			dp_buf_addf(&p->wire, "data: %s\n\n", s ? s : "{}");
			free(s);
			send_wire(p);
		}
		dp_buf_adds(&p->wire, "data: [DONE]\n\n");
		send_wire(p);
	}
	if (p->req) {
		dp_http_stream_end(p->req);
		p->req = NULL;
	}
}

static void finish(struct dp_pred *p)
{
	if (p->phase == PH_DONE)
		return;
	struct dp_sim_inst *in = p->inst;
	if (p->cancelled && !strcmp(p->stop_reason, "eosFound"))
		p->stop_reason = "userStopped";
	if (p->do_tool) {
		p->stop_reason = "toolCalls";
		p->finish_reason = "tool_calls";
	}
	int was_gen = p->gen_counted;
	write_final(p);
	if (!p->embed)
		log_output(p);
	p->sim->counters_predictions++;
	int was_running = p->where == 2;
	to_dead(p);
	if (in) {
		if (was_running) {
			in->active--;
			if (was_gen)
				in->active_gen--;
		}
		dp_inst_touch(in);
		dp_pred_kick(in);
	}
}

/* ---- embeddings ---- */

static void embed_reply(struct dp_pred *p)
{
	const struct dp_sim_model *m = p->inst->m;
	json_t *data = json_array();
	double *v = xcalloc((size_t)m->embedding_dims, sizeof(double));
	for (int i = 0; i < p->r.ninputs; i++) {
		uint64_t seed =
		        dp_gen_hash(p->r.inputs[i], strlen(p->r.inputs[i]), dp_gen_hash(m->key, strlen(m->key), 1));
		dp_gen_embedding(seed, m->embedding_dims, v);
		json_t *e = json_array();
		for (int k = 0; k < m->embedding_dims; k++)
			json_array_append_new(e, json_real(round(v[k] * 1e6) / 1e6));
		json_array_append_new(data,
		                      json_pack("{s:s,s:o,s:i}", "object", "embedding", "embedding", e, "index", i));
	}
	free(v);
	char model[600];
	snprintf(model, sizeof(model), "%s", m->variant ? m->variant : m->key);
	/* usage observed as zeros on v0 (§2.4); we count the input tokens */
	reply_json(p, json_pack("{s:s,s:o,s:s,s:{s:i,s:i}}", "object", "list", "data", data, "model", p->inst_id,
	                        "usage", "prompt_tokens", p->prompt_tokens, "total_tokens", p->prompt_tokens));
}

/* ---- start / cancel ---- */

static void on_req_close(struct dp_http_req *req, void *arg)
{
	struct dp_pred *p = arg;
	(void)req;
	p->req = NULL;
	p->cancelled = 1;
	if (p->where == 1) {
		/* waiting in the queue: just drop it */
		to_dead(p);
	} else if (p->where == 2 && p->timer) {
		/* running: finish from the loop, not from inside this callback */
		event_del(p->timer);
		event_active(p->timer, EV_TIMEOUT, 0);
	}
}

static void embed_step_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct dp_pred *p = arg;
	(void)fd;
	(void)ev;
	if (p->phase == PH_DONE)
		return;
	if (p->cancelled) {
		finish(p);
		return;
	}
	if (p->phase == PH_PP && p->pp_step == 0) {
		p->pp_step = 1;
		arm(p, dp_sim_scale_ms(p->sim, 0.005 + p->prompt_tokens / 20000.0));
		return;
	}
	embed_reply(p);
	finish(p);
}

static void plan(struct dp_pred *p, const struct dp_sim_model *m)
{
	struct dp_chatreq *r = &p->r;
	uint64_t seed = dp_gen_hash(&p->sim->cfg.seed, sizeof(p->sim->cfg.seed), 11);
	if (r->has_seed)
		seed = dp_gen_hash(&r->seed, sizeof(r->seed), seed);
	seed = dp_gen_hash(m->key, strlen(m->key), seed);
	seed = dp_gen_hash(r->prompt.data, r->prompt.len, seed);
	dp_gen_init(&p->gen, seed, 0);
	p->prompt_tokens = dp_gen_count_tokens(r->prompt.data, r->prompt.len) + 85 * r->n_images;
	const char *ro = *r->reasoning ? r->reasoning : m->reasoning_default;
	p->reasoning_on = m->rstyle != DP_SIM_R_NONE && strcmp(ro, "off") && !is_compl(p) && !is_resp(p);
	p->think_tags = p->reasoning_on && m->rstyle == DP_SIM_R_THINK_TAGS && !is_v1(p);
	p->reason_api = m->rstyle;
	uint64_t a = dp_gen_next(&p->gen), b = dp_gen_next(&p->gen);
	int effort = !strcmp(ro, "low") ? 1 : !strcmp(ro, "high") ? 3 : 2;
	p->plan_reason = p->reasoning_on ? 12 + (int)(a % 40) * effort : 0;
	if (p->think_tags)
		p->plan_reason += 2;
	int code = dp_gen_pick_kind(r->last_user) == 1;
	p->plan_msg = (code ? 60 : 24) + (int)(b % (code ? 140 : 110));
	p->stop_reason = "eosFound";
	p->finish_reason = "stop";
	if (r->kind == DP_K_OAI_CHAT || r->kind == DP_K_V0_CHAT || r->kind == DP_K_RESPONSES) {
		if (r->ntools > 0 && r->tool_choice != 1 && !r->last_is_tool && (m->tool_use || r->tool_choice == 2)) {
			p->do_tool = 1;
			p->plan_msg = 0;
			snprintf(p->call_id, sizeof(p->call_id), "%llu",
			         (unsigned long long)(dp_gen_next(&p->gen) % 1000000000ull));
			/* arguments: one deterministic value per declared property */
			json_t *args = json_object();
			json_t *props = json_object_get(r->tool_params, "properties");
			const char *k;
			json_t *v;
			json_object_foreach(props, k, v)
			{
				const char *ty = json_string_value(json_object_get(v, "type"));
				if (ty && (!strcmp(ty, "number") || !strcmp(ty, "integer")))
					json_object_set_new(args, k,
					                    json_integer(1 + (json_int_t)(dp_gen_next(&p->gen) % 10)));
				else if (ty && !strcmp(ty, "boolean"))
					json_object_set_new(args, k, json_true());
				else
					json_object_set_new(args, k, json_string("San Francisco"));
			}
			p->tool_args = json_dumps(args, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(10));
			json_decref(args);
		}
	}
	int budget = r->max_tokens;
	if (budget > 0) {
		if (p->plan_reason >= budget) {
			p->plan_reason = budget;
			p->plan_msg = 0;
			p->truncated = 1;
		} else if (p->plan_reason + p->plan_msg > budget) {
			p->plan_msg = budget - p->plan_reason;
			p->truncated = 1;
		}
		if (p->truncated) {
			p->stop_reason = "maxPredictedTokensReached";
			p->finish_reason = "length";
			p->do_tool = 0;
		}
	}
	if (p->think_tags && p->plan_reason < 3 && p->plan_reason > 0) {
		/* too small a budget for the tags: no reasoning shown */
		p->plan_msg += p->plan_reason;
		p->plan_reason = 0;
		p->reasoning_on = 0;
		p->think_tags = 0;
	}
}

void dp_pred_start(struct dp_sim *sim, struct dp_http_req *req, struct dp_chatreq *r, struct dp_sim_inst *in,
                   int jit_trigger, const char *history)
{
	struct dp_pred *p = xcalloc(1, sizeof(*p));
	p->sim = sim;
	p->req = req;
	p->r = *r;
	memset(r, 0, sizeof(*r));
	dp_buf_init(&r->prompt, 16);
	if (history) {
		struct dp_buf h;
		dp_buf_init(&h, 1u << 24);
		dp_buf_adds(&h, history);
		dp_buf_adds(&h, p->r.prompt.data);
		dp_buf_release(&p->r.prompt);
		p->r.prompt = h;
	}
	p->inst = in;
	p->jit_trigger = jit_trigger;
	p->embed = p->r.kind == DP_K_V0_EMBED || p->r.kind == DP_K_OAI_EMBED;
	p->streaming = p->r.stream && !p->embed;
	p->created = (int64_t)(dp_sim_now(sim) / 1000);
	p->t_start_ms = dp_sim_now(sim);
	dp_buf_init(&p->reasoning, 1u << 24);
	dp_buf_init(&p->content, 1u << 24);
	dp_buf_init(&p->wire, 1u << 24);
	snprintf(p->inst_id, sizeof(p->inst_id), "%s", in->id);
	snprintf(p->model_key, sizeof(p->model_key), "%s", in->m->key);
	plan(p, in->m);
	/* ids are unique per completion (like LM Studio's random ids) and come
	 * from their own generator, so the text stays deterministic */
	struct dp_gen idg;
	uint64_t idseed[3] = {++sim->id_counter, dp_sim_now(sim), (uint64_t)(uintptr_t)p};
	dp_gen_init(&idg, dp_gen_hash(idseed, sizeof(idseed), sim->cfg.seed), 0);
	uint64_t idn = dp_gen_next(&idg);
	static const char al[] = "abcdefghijklmnopqrstuvwxyz0123456789";
	char rnd[22];
	for (int i = 0; i < 21; i++) {
		rnd[i] = al[idn % 36];
		idn = idn / 36 ? idn / 36 : dp_gen_next(&idg);
	}
	p->id_seed = dp_gen_next(&idg);
	if (p->do_tool)
		snprintf(p->call_id, sizeof(p->call_id), "%llu",
		         (unsigned long long)(dp_gen_next(&idg) % 1000000000ull));
	rnd[21] = '\0';
	snprintf(p->id, sizeof(p->id), "%s%s", is_resp(p) ? "resp_" : is_compl(p) ? "cmpl-" : "chatcmpl-", rnd);
	snprintf(p->msg_id, sizeof(p->msg_id), "msg_%s", rnd);
	p->tps = dp_gen_tokens_per_second(sim, in);
	/* +-5 % jitter, deterministic */
	p->tps *= 0.95 + (double)(dp_gen_next(&p->gen) % 1000) / 10000.0;
	p->tps = round(p->tps * 1000) / 1000;
	p->ttft_s = dp_gen_ttft(sim, in, p->prompt_tokens);
	p->load_s = jit_trigger ? r3(in->load_seconds) : 0;
	int fault = dp_api_fault_for(sim, dp_http_req_path(req));
	if (fault == DP_FAULT_CLOSE_MID_STREAM)
		p->cut_after = 3;
	if (fault == DP_FAULT_SLOW)
		p->slow_ms = 50;
	if (sim->base)
		p->timer = evtimer_new(sim->base, p->embed ? embed_step_cb : step_cb, p);
	dp_http_req_on_close(req, on_req_close, p);
	/* llm.prediction.input: the fully templated prompt */
	if (!p->embed)
		dp_simlog_add(sim, DP_SIMLOG_MODEL,
		              json_pack("{s:s,s:o,s:s,s:s}", "type", "llm.prediction.input", "input",
		                        log_text(p->r.prompt.data, p->r.prompt.len), "modelPath", in->m->path,
		                        "modelIdentifier", in->id));
	p->where = 1;
	TAILQ_INSERT_TAIL(&in->queue, p, link);
	begin_output(p);
	if (in->loading && p->jit_trigger && is_v1(p) && p->streaming)
		arm(p, 0);
	dp_pred_kick(in);
}

void dp_pred_detach_all(struct dp_sim_inst *in)
{
	struct dp_pred *p;
	while ((p = TAILQ_FIRST(&in->queue)) || (p = TAILQ_FIRST(&in->running))) {
		int running = p->where == 2;
		p->stop_reason = "modelUnloaded";
		if (p->req && !p->streaming) {
			dp_pred_reply_error(p->req, p->r.kind, 500, is_v1(p) ? "internal_error" : "internal_error",
			                    NULL, NULL, "Model unloaded");
			p->req = NULL;
		} else if (p->req && is_v1(p)) {
			v1_event(p, "error", ",\"error\":{\"type\":\"internal_error\",\"message\":\"Model unloaded\"}");
		} else if (p->req && p->streaming && !is_resp(p)) {
			dp_buf_adds(
			        &p->wire,
			        "data: {\"error\":{\"message\":\"Model unloaded\",\"type\":\"internal_error\"}}\n\n");
			send_wire(p);
		}
		if (!running) {
			TAILQ_REMOVE(&in->queue, p, link);
			TAILQ_INSERT_TAIL(&in->running, p, link);
			p->where = 2;
			in->active++;
		}
		finish(p);
		p->inst = NULL;
	}
}

static void pred_free(struct dp_pred *p)
{
	if (p->timer)
		event_free(p->timer);
	dp_reqparse_release(&p->r);
	dp_buf_release(&p->reasoning);
	dp_buf_release(&p->content);
	dp_buf_release(&p->wire);
	free(p->tool_args);
	free(p->prev_prompt);
	free(p);
}

void dp_pred_release_all(struct dp_sim *sim)
{
	struct dp_pred *p;
	while ((p = TAILQ_FIRST(&sim->dead))) {
		TAILQ_REMOVE(&sim->dead, p, link);
		pred_free(p);
	}
	dp_pred_history_release(sim);
}

void dp_pred_reap(struct dp_sim *sim)
{
	struct dp_pred *p;
	while ((p = TAILQ_FIRST(&sim->dead))) {
		TAILQ_REMOVE(&sim->dead, p, link);
		pred_free(p);
	}
}

void dp_pred_reply_error(struct dp_http_req *req, int kind, int status, const char *type, const char *code,
                         const char *param, const char *msg)
{
	json_t *e;
	if (kind == DP_K_V1_CHAT) {
		e = json_pack("{s:s,s:s}", "type", type, "message", msg);
	} else {
		e = json_pack("{s:s,s:s}", "message", msg, "type",
		              !strcmp(type, "invalid_request") || !strcmp(type, "model_not_found")
		                      ? "invalid_request_error"
		                      : type);
		json_object_set_new(e, "param", param ? json_string(param) : json_null());
		json_object_set_new(e, "code", code ? json_string(code) : json_null());
	}
	if (kind == DP_K_V1_CHAT && code)
		json_object_set_new(e, "code", json_string(code));
	if (kind == DP_K_V1_CHAT && param)
		json_object_set_new(e, "param", json_string(param));
	dp_api_reply_json(req, status, json_pack("{s:o}", "error", e));
}
