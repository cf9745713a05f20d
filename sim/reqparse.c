/*
 * reqparse.c - turn untrusted JSON request bodies of the inference
 * endpoints (v1 chat, v0/OpenAI chat and completions, responses,
 * embeddings) into struct dp_chatreq. Fuzzed by fuzz/fuzz_sim_request.c.
 *
 * Errors: v1 uses LM Studio's documented envelope fields
 * {type:"invalid_request", code, param, message}; the documented example
 * is `"model" is required` / missing_required_parameter / model. Other
 * messages and codes ("invalid_type", "invalid_json") are our choice: LM
 * Studio's exact wording for them is not published (reference §11.3).
 * OpenAI/v0 errors use OpenAI's {message, type:"invalid_request_error",
 * param, code} (observed 0.3.x shape).
 *
 * Bounds: at most DP_REQ_MAX_ITEMS messages/items, DP_REQ_MAX_INPUTS
 * embedding inputs; the body itself is bounded by the HTTP layer.
 */
#include "sim.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xmalloc.h"

#define PROMPT_MAX (8u << 20)

static int fail(struct dp_chatreq *r, const char *code, const char *param, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

static int fail(struct dp_chatreq *r, const char *code, const char *param, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->err_msg, sizeof(r->err_msg), fmt, ap);
	va_end(ap);
	r->err_status = 400;
	r->err_type = r->kind == DP_K_V1_CHAT ? "invalid_request" : "invalid_request_error";
	r->err_code = code;
	r->err_param = param;
	return -EINVAL;
}

static int missing(struct dp_chatreq *r, const char *field)
{
	if (r->kind == DP_K_V1_CHAT)
		return fail(r, "missing_required_parameter", field, "\"%s\" is required", field);
	return fail(r, "missing_required_parameter", field, "'%s' field is required", field);
}

static int badtype(struct dp_chatreq *r, const char *field, const char *want)
{
	return fail(r, "invalid_type", field, "\"%s\" must be %s", field, want);
}

static void tmpl(struct dp_chatreq *r, const char *role, const char *text)
{
	/* ChatML-style template: what llm.prediction.input shows */
	if (dp_buf_addf(&r->prompt, "<|im_start|>%s\n", role) < 0 || dp_buf_adds(&r->prompt, text) < 0 ||
	    dp_buf_adds(&r->prompt, "<|im_end|>\n") < 0)
		dp_buf_init(&r->prompt, PROMPT_MAX);
}

static void set_user(struct dp_chatreq *r, const char *text)
{
	free(r->last_user);
	r->last_user = xstrdup(text);
}

/* Common optional fields. */
static int common(struct dp_chatreq *r, json_t *o)
{
	json_t *v;
	if ((v = json_object_get(o, "stream")) && !json_is_null(v)) {
		if (!json_is_boolean(v))
			return badtype(r, "stream", "a boolean");
		r->stream = json_is_true(v);
	}
	const char *mt = r->kind == DP_K_V1_CHAT || r->kind == DP_K_RESPONSES ? "max_output_tokens" : "max_tokens";
	if ((v = json_object_get(o, mt)) && !json_is_null(v)) {
		if (!json_is_integer(v))
			return badtype(r, mt, "an integer");
		json_int_t n = json_integer_value(v);
		if (n == 0 || n < -1)
			return fail(r, "invalid_value", mt, "\"%s\" must be a positive integer or -1", mt);
		r->max_tokens = n > DP_SIM_MAX_OUTPUT_TOKENS ? DP_SIM_MAX_OUTPUT_TOKENS : (int)n;
	}
	if ((v = json_object_get(o, "temperature")) && !json_is_null(v)) {
		if (!json_is_number(v))
			return badtype(r, "temperature", "a number");
		r->temperature = json_number_value(v);
		if (!(r->temperature >= 0) || r->temperature > 2)
			return fail(r, "invalid_value", "temperature", "\"temperature\" must be between 0 and 2");
	}
	if ((v = json_object_get(o, "seed")) && !json_is_null(v)) {
		if (!json_is_integer(v))
			return badtype(r, "seed", "an integer");
		r->has_seed = 1;
		r->seed = (uint64_t)json_integer_value(v);
	}
	if ((v = json_object_get(o, "ttl")) && !json_is_null(v)) {
		if (!json_is_integer(v) || json_integer_value(v) < 0)
			return badtype(r, "ttl", "a non-negative integer");
		json_int_t t = json_integer_value(v);
		r->ttl_s = t > 31536000 ? 31536000 : t;
	}
	if ((v = json_object_get(o, "stop")) && !json_is_null(v)) {
		if (json_is_string(v))
			r->stop = xstrdup(json_string_value(v));
		else if (json_is_array(v) && json_is_string(json_array_get(v, 0)))
			r->stop = xstrdup(json_string_value(json_array_get(v, 0)));
		else if (!json_is_array(v))
			return badtype(r, "stop", "a string or an array of strings");
	}
	if ((v = json_object_get(o, "stream_options")) && json_is_object(v))
		r->include_usage = json_is_true(json_object_get(v, "include_usage"));
	return 0;
}

/* OpenAI content: string or [{type:text,text}|{type:image_url,...}]. */
static int content_text(struct dp_chatreq *r, json_t *c, struct dp_buf *out)
{
	if (json_is_string(c))
		return dp_buf_adds(out, json_string_value(c)) < 0 ? -ENOSPC : 0;
	if (json_is_null(c))
		return 0;
	if (!json_is_array(c) || json_array_size(c) > DP_REQ_MAX_ITEMS)
		return -EINVAL;
	size_t i;
	json_t *part;
	json_array_foreach(c, i, part)
	{
		const char *t = json_string_value(json_object_get(part, "type"));
		if (!t)
			return -EINVAL;
		if (!strcmp(t, "text") || !strcmp(t, "input_text") || !strcmp(t, "output_text")) {
			const char *tx = json_string_value(json_object_get(part, "text"));
			if (!tx)
				return -EINVAL;
			if (out->len && dp_buf_addch(out, '\n') < 0)
				return -ENOSPC;
			if (dp_buf_adds(out, tx) < 0)
				return -ENOSPC;
		} else if (!strcmp(t, "image_url") || !strcmp(t, "input_image") || !strcmp(t, "image")) {
			r->n_images++;
		} else {
			return -EINVAL;
		}
	}
	return 0;
}

static int parse_messages(struct dp_chatreq *r, json_t *msgs, const char *field)
{
	if (!json_is_array(msgs))
		return badtype(r, field, "an array");
	if (json_array_size(msgs) > DP_REQ_MAX_ITEMS)
		return fail(r, "invalid_value", field, "too many messages");
	if (json_array_size(msgs) == 0 && r->kind != DP_K_RESPONSES)
		return fail(r, "invalid_value", field, "'%s' must not be empty", field);
	size_t i;
	json_t *m;
	json_array_foreach(msgs, i, m)
	{
		if (!json_is_object(m))
			return badtype(r, field, "an array of message objects");
		const char *role = json_string_value(json_object_get(m, "role"));
		if (!role)
			role = "user"; /* responses input items may omit it */
		if (strcmp(role, "system") && strcmp(role, "user") && strcmp(role, "assistant") &&
		    strcmp(role, "tool") && strcmp(role, "developer"))
			return fail(r, "invalid_value", "role", "invalid message role '%.32s'", role);
		struct dp_buf t;
		dp_buf_init(&t, PROMPT_MAX);
		int rc = content_text(r, json_object_get(m, "content"), &t);
		if (rc < 0) {
			dp_buf_release(&t);
			return fail(r, "invalid_value", "content", "invalid message content");
		}
		tmpl(r, role, t.data);
		if (!strcmp(role, "user"))
			set_user(r, t.data);
		r->last_is_tool = !strcmp(role, "tool");
		dp_buf_release(&t);
	}
	return 0;
}

static int parse_tools(struct dp_chatreq *r, json_t *o)
{
	json_t *tools = json_object_get(o, "tools");
	if (!tools || json_is_null(tools))
		return 0;
	if (!json_is_array(tools) || json_array_size(tools) > 256)
		return badtype(r, "tools", "an array");
	r->ntools = (int)json_array_size(tools);
	json_t *t0 = json_array_get(tools, 0);
	json_t *fn = json_object_get(t0, "function");
	const char *name = json_string_value(json_object_get(fn ? fn : t0, "name"));
	if (r->ntools && !name)
		return fail(r, "invalid_value", "tools", "tool without a function name");
	if (name)
		snprintf(r->tool_name, sizeof(r->tool_name), "%s", name);
	json_t *params = json_object_get(fn ? fn : t0, "parameters");
	if (json_is_object(params))
		r->tool_params = json_incref(params);
	json_t *tc = json_object_get(o, "tool_choice");
	if (json_is_string(tc)) {
		const char *s = json_string_value(tc);
		r->tool_choice = !strcmp(s, "none") ? 1 : !strcmp(s, "required") ? 2 : 0;
	} else if (json_is_object(tc)) {
		r->tool_choice = 2;
	}
	return 0;
}

static int parse_v1(struct dp_chatreq *r, json_t *o)
{
	json_t *v;
	const char *sys = json_string_value(json_object_get(o, "system_prompt"));
	if ((v = json_object_get(o, "system_prompt")) && !json_is_null(v) && !sys)
		return badtype(r, "system_prompt", "a string");
	if (sys)
		tmpl(r, "system", sys);
	json_t *in = json_object_get(o, "input");
	if (!in || json_is_null(in))
		return missing(r, "input");
	if (json_is_string(in)) {
		tmpl(r, "user", json_string_value(in));
		set_user(r, json_string_value(in));
	} else if (json_is_array(in)) {
		if (json_array_size(in) > DP_REQ_MAX_ITEMS || json_array_size(in) == 0)
			return fail(r, "invalid_value", "input", "\"input\" must be a non-empty array");
		struct dp_buf t;
		dp_buf_init(&t, PROMPT_MAX);
		size_t i;
		json_t *it;
		json_array_foreach(in, i, it)
		{
			const char *ty = json_string_value(json_object_get(it, "type"));
			/* the schema says "message", the docs' examples "text": accept both */
			if (ty && (!strcmp(ty, "message") || !strcmp(ty, "text"))) {
				const char *c = json_string_value(json_object_get(it, "content"));
				if (!c) {
					dp_buf_release(&t);
					return badtype(r, "input.content", "a string");
				}
				if ((t.len && dp_buf_addch(&t, '\n') < 0) || dp_buf_adds(&t, c) < 0) {
					dp_buf_release(&t);
					return fail(r, "invalid_value", "input", "input too large");
				}
			} else if (ty && !strcmp(ty, "image")) {
				const char *d = json_string_value(json_object_get(it, "data_url"));
				if (!d || strncmp(d, "data:image/", 11)) {
					dp_buf_release(&t);
					return fail(r, "invalid_value", "data_url",
					            "\"data_url\" must be a data:image/... URL");
				}
				r->n_images++;
			} else {
				dp_buf_release(&t);
				return fail(r, "invalid_value", "input", "unknown input item type");
			}
		}
		tmpl(r, "user", t.data);
		set_user(r, t.data);
		dp_buf_release(&t);
	} else {
		return badtype(r, "input", "a string or an array");
	}
	if ((v = json_object_get(o, "reasoning")) && !json_is_null(v)) {
		const char *s = json_string_value(v);
		if (!s || (strcmp(s, "off") && strcmp(s, "low") && strcmp(s, "medium") && strcmp(s, "high") &&
		           strcmp(s, "on")))
			return fail(r, "invalid_value", "reasoning",
			            "\"reasoning\" must be one of off, low, medium, high, on");
		snprintf(r->reasoning, sizeof(r->reasoning), "%s", s);
	}
	if ((v = json_object_get(o, "context_length")) && !json_is_null(v)) {
		if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > (1 << 24))
			return badtype(r, "context_length", "a positive integer");
		r->context_length = (int)json_integer_value(v);
	}
	if ((v = json_object_get(o, "store")) && !json_is_null(v)) {
		if (!json_is_boolean(v))
			return badtype(r, "store", "a boolean");
		r->store = json_is_true(v);
	}
	if ((v = json_object_get(o, "previous_response_id")) && !json_is_null(v)) {
		if (!json_is_string(v) || strncmp(json_string_value(v), "resp_", 5) || json_string_length(v) > 128)
			return fail(r, "invalid_value", "previous_response_id",
			            "\"previous_response_id\" must be a response id (resp_...)");
		r->previous_response_id = xstrdup(json_string_value(v));
	}
	if ((v = json_object_get(o, "integrations")) && !json_is_null(v)) {
		if (!json_is_array(v) || json_array_size(v) > 64)
			return badtype(r, "integrations", "an array");
		r->n_integrations = (int)json_array_size(v);
		json_t *i0 = json_array_get(v, 0);
		if (json_is_string(i0)) {
			snprintf(r->integ_name, sizeof(r->integ_name), "%s", json_string_value(i0));
		} else if (json_is_object(i0)) {
			const char *ty = json_string_value(json_object_get(i0, "type"));
			if (ty && !strcmp(ty, "ephemeral_mcp")) {
				r->integ_ephemeral = 1;
				const char *l = json_string_value(json_object_get(i0, "server_label"));
				if (!l || !json_is_string(json_object_get(i0, "server_url")))
					return missing(r, "server_label");
				snprintf(r->integ_name, sizeof(r->integ_name), "%s", l);
			} else if (ty && !strcmp(ty, "plugin")) {
				const char *id = json_string_value(json_object_get(i0, "id"));
				if (!id)
					return missing(r, "id");
				snprintf(r->integ_name, sizeof(r->integ_name), "%s", id);
			} else {
				return fail(r, "invalid_value", "integrations", "unknown integration type");
			}
		} else if (r->n_integrations) {
			return badtype(r, "integrations", "an array of strings or objects");
		}
	}
	return 0;
}

static int parse_responses(struct dp_chatreq *r, json_t *o)
{
	const char *ins = json_string_value(json_object_get(o, "instructions"));
	if (ins)
		tmpl(r, "system", ins);
	json_t *in = json_object_get(o, "input");
	if (!in || json_is_null(in))
		return missing(r, "input");
	if (json_is_string(in)) {
		tmpl(r, "user", json_string_value(in));
		set_user(r, json_string_value(in));
	} else if (json_is_array(in)) {
		int rc = parse_messages(r, in, "input");
		if (rc < 0)
			return rc;
	} else {
		return badtype(r, "input", "a string or an array");
	}
	json_t *re = json_object_get(o, "reasoning");
	const char *eff = json_string_value(json_object_get(re, "effort"));
	if (eff && strlen(eff) < sizeof(r->reasoning))
		snprintf(r->reasoning, sizeof(r->reasoning), "%s", eff);
	const char *prev = json_string_value(json_object_get(o, "previous_response_id"));
	if (prev && strlen(prev) < 128)
		r->previous_response_id = xstrdup(prev);
	return parse_tools(r, o);
}

static int parse_embed(struct dp_chatreq *r, json_t *o)
{
	json_t *in = json_object_get(o, "input");
	if (!in || json_is_null(in))
		return missing(r, "input");
	if (json_is_string(in)) {
		r->inputs = xcalloc(1, sizeof(char *));
		r->inputs[r->ninputs++] = xstrdup(json_string_value(in));
	} else if (json_is_array(in)) {
		if (json_array_size(in) == 0 || json_array_size(in) > DP_REQ_MAX_INPUTS)
			return fail(r, "invalid_value", "input", "'input' must hold 1..%d strings", DP_REQ_MAX_INPUTS);
		r->inputs = xcalloc(json_array_size(in), sizeof(char *));
		size_t i;
		json_t *s;
		json_array_foreach(in, i, s)
		{
			if (!json_is_string(s))
				return badtype(r, "input", "a string or an array of strings");
			r->inputs[r->ninputs++] = xstrdup(json_string_value(s));
		}
	} else {
		return badtype(r, "input", "a string or an array of strings");
	}
	for (int i = 0; i < r->ninputs; i++)
		dp_buf_adds(&r->prompt, r->inputs[i]);
	return 0;
}

int dp_reqparse(int kind, const char *body, size_t len, struct dp_chatreq *r)
{
	memset(r, 0, sizeof(*r));
	r->kind = kind;
	r->max_tokens = -1;
	r->ttl_s = -1;
	r->store = 1;
	r->temperature = 0.8;
	dp_buf_init(&r->prompt, PROMPT_MAX);
	json_error_t je;
	json_t *o = json_loadb(body ? body : "", len, JSON_REJECT_DUPLICATES, &je);
	if (!o) {
		fail(r, "invalid_json", NULL, "Invalid JSON in request body: %s", je.text);
		return -EINVAL;
	}
	int rc = 0;
	if (!json_is_object(o)) {
		rc = fail(r, "invalid_json", NULL, "Request body must be a JSON object");
		goto out;
	}
	json_t *mv = json_object_get(o, "model");
	if (mv && !json_is_null(mv)) {
		if (!json_is_string(mv) || json_string_length(mv) == 0 || json_string_length(mv) > 512) {
			rc = badtype(r, "model", "a non-empty string");
			goto out;
		}
		r->model = xstrdup(json_string_value(mv));
	} else if (kind == DP_K_V1_CHAT) {
		rc = missing(r, "model");
		goto out;
	}
	if ((rc = common(r, o)) < 0)
		goto out;
	switch (kind) {
	case DP_K_V1_CHAT:
		rc = parse_v1(r, o);
		break;
	case DP_K_V0_CHAT:
	case DP_K_OAI_CHAT: {
		json_t *msgs = json_object_get(o, "messages");
		if (!msgs)
			rc = missing(r, "messages");
		else if ((rc = parse_messages(r, msgs, "messages")) == 0)
			rc = parse_tools(r, o);
		break;
	}
	case DP_K_V0_COMPL:
	case DP_K_OAI_COMPL: {
		json_t *p = json_object_get(o, "prompt");
		if (json_is_array(p))
			p = json_array_get(p, 0);
		if (!p)
			rc = missing(r, "prompt");
		else if (!json_is_string(p))
			rc = badtype(r, "prompt", "a string");
		else {
			/* legacy completions: no prompt template */
			dp_buf_adds(&r->prompt, json_string_value(p));
			set_user(r, json_string_value(p));
		}
		break;
	}
	case DP_K_RESPONSES:
		rc = parse_responses(r, o);
		break;
	case DP_K_V0_EMBED:
	case DP_K_OAI_EMBED:
		rc = parse_embed(r, o);
		break;
	default:
		rc = fail(r, "invalid_value", NULL, "unknown request kind");
	}
	if (!rc && kind != DP_K_V0_EMBED && kind != DP_K_OAI_EMBED && kind != DP_K_V0_COMPL && kind != DP_K_OAI_COMPL)
		dp_buf_adds(&r->prompt, "<|im_start|>assistant\n");
out:
	json_decref(o);
	return rc;
}

void dp_reqparse_release(struct dp_chatreq *r)
{
	free(r->model);
	free(r->last_user);
	free(r->previous_response_id);
	free(r->stop);
	if (r->tool_params)
		json_decref(r->tool_params);
	json_decref(r->mcp_call);
	r->mcp_call = NULL;
	for (int i = 0; i < r->ninputs; i++)
		free(r->inputs[i]);
	free(r->inputs);
	dp_buf_release(&r->prompt);
	r->model = r->last_user = r->previous_response_id = r->stop = NULL;
	r->inputs = NULL;
	r->tool_params = NULL;
	r->ninputs = 0;
}
