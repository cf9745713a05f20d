/*
 * jsonrpc.c - JSON-RPC 2.0 parse/classify/encode and newline framing (see
 * jsonrpc.h).
 */
#include "jsonrpc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_MAX (16u << 20)

const char *dp_jsonrpc_kind_name(enum dp_jsonrpc_kind k)
{
	switch (k) {
	case DP_JSONRPC_REQUEST:
		return "request";
	case DP_JSONRPC_NOTIFICATION:
		return "notification";
	case DP_JSONRPC_RESULT:
		return "result";
	case DP_JSONRPC_ERROR:
		return "error";
	case DP_JSONRPC_INVALID:
		break;
	}
	return "invalid";
}

static int invalid(struct dp_jsonrpc_msg *m, const char *why)
{
	m->kind = DP_JSONRPC_INVALID;
	m->why = why;
	return 0;
}

static int valid_method(const char *s, size_t n)
{
	if (!n || n > DP_JSONRPC_MAX_METHOD)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	return 1;
}

void dp_jsonrpc_classify(json_t *root, struct dp_jsonrpc_msg *m)
{
	memset(m, 0, sizeof(*m));
	m->root = root;
	m->error_message = "";
	if (!json_is_object(root)) {
		invalid(m, json_is_array(root) ? "batches are not supported" : "not a json object");
		return;
	}
	json_t *v = json_object_get(root, "jsonrpc");
	if (!json_is_string(v) || strcmp(json_string_value(v), "2.0") != 0) {
		invalid(m, "jsonrpc is not \"2.0\"");
		return;
	}
	json_t *id = json_object_get(root, "id");
	if (id) {
		if (json_is_integer(id)) {
			m->id_is_int = 1;
			m->id_int = json_integer_value(id);
		} else if (json_is_string(id)) {
			if (json_string_length(id) > DP_JSONRPC_MAX_ID) {
				invalid(m, "the id is too long");
				return;
			}
		} else if (!json_is_null(id)) {
			invalid(m, "the id is neither a string nor an integer");
			return;
		}
		m->id = id;
	}
	json_t *method = json_object_get(root, "method");
	json_t *result = json_object_get(root, "result");
	json_t *error = json_object_get(root, "error");
	if (method) {
		if (!json_is_string(method) || !valid_method(json_string_value(method), json_string_length(method))) {
			invalid(m, "the method is not a valid string");
			return;
		}
		if (result || error) {
			invalid(m, "a request with result or error");
			return;
		}
		json_t *params = json_object_get(root, "params");
		if (params && !json_is_object(params) && !json_is_array(params)) {
			invalid(m, "params must be an object or an array");
			return;
		}
		if (id && json_is_null(id)) {
			invalid(m, "a request id must not be null");
			return;
		}
		m->method = json_string_value(method);
		m->params = params;
		m->kind = id ? DP_JSONRPC_REQUEST : DP_JSONRPC_NOTIFICATION;
		return;
	}
	if (!id) {
		invalid(m, "neither a method nor an id");
		return;
	}
	if ((result != NULL) == (error != NULL)) {
		invalid(m, "a response needs exactly one of result and error");
		return;
	}
	if (result) {
		if (json_is_null(id)) {
			invalid(m, "a result with a null id");
			return;
		}
		m->result = result;
		m->kind = DP_JSONRPC_RESULT;
		return;
	}
	if (!json_is_object(error) || !json_is_integer(json_object_get(error, "code"))) {
		invalid(m, "an error without an integer code");
		return;
	}
	m->error_code = json_integer_value(json_object_get(error, "code"));
	const char *msg = json_string_value(json_object_get(error, "message"));
	m->error_message = msg ? msg : "";
	m->error_data = json_object_get(error, "data");
	m->kind = DP_JSONRPC_ERROR;
}

int dp_jsonrpc_parse(const char *buf, size_t n, size_t max, struct dp_jsonrpc_msg *m)
{
	memset(m, 0, sizeof(*m));
	m->error_message = "";
	if (n > (max ? max : DEFAULT_MAX)) {
		m->why = "the message is too large";
		return -EMSGSIZE;
	}
	json_error_t je;
	json_t *root = json_loadb(buf, n, JSON_REJECT_DUPLICATES, &je);
	if (!root) {
		m->why = "not json";
		return -EINVAL;
	}
	dp_jsonrpc_classify(root, m);
	return 0;
}

void dp_jsonrpc_msg_release(struct dp_jsonrpc_msg *m)
{
	json_decref(m->root);
	memset(m, 0, sizeof(*m));
	m->error_message = "";
}

static char *dump(json_t *o)
{
	char *s = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(17));
	json_decref(o);
	return s; /* compact output escapes control characters: never a raw newline */
}

char *dp_jsonrpc_request(int64_t id, const char *method, json_t *params)
{
	if (!method || !valid_method(method, strlen(method)))
		return NULL;
	json_t *o = json_pack("{s:s,s:I,s:s}", "jsonrpc", "2.0", "id", (json_int_t)id, "method", method);
	if (params)
		json_object_set(o, "params", params);
	return dump(o);
}

char *dp_jsonrpc_notification(const char *method, json_t *params)
{
	if (!method || !valid_method(method, strlen(method)))
		return NULL;
	json_t *o = json_pack("{s:s,s:s}", "jsonrpc", "2.0", "method", method);
	if (params)
		json_object_set(o, "params", params);
	return dump(o);
}

char *dp_jsonrpc_result(json_t *id, json_t *result)
{
	json_t *o = json_pack("{s:s}", "jsonrpc", "2.0");
	json_object_set(o, "id", id ? id : json_null());
	if (result)
		json_object_set(o, "result", result);
	else
		json_object_set_new(o, "result", json_object());
	return dump(o);
}

char *dp_jsonrpc_error(json_t *id, int code, const char *message)
{
	json_t *o = json_pack("{s:s,s:{s:i,s:s}}", "jsonrpc", "2.0", "error", "code", code, "message",
	                      message ? message : "");
	json_object_set(o, "id", id ? id : json_null());
	return dump(o);
}

/* ------------------------------------------------------------- framing */

void dp_jsonrpc_lines_init(struct dp_jsonrpc_lines *l, size_t max_line)
{
	memset(l, 0, sizeof(*l));
	dp_buf_init(&l->line, max_line ? max_line : DEFAULT_MAX);
}

void dp_jsonrpc_lines_release(struct dp_jsonrpc_lines *l)
{
	dp_buf_release(&l->line);
}

static int emit(struct dp_jsonrpc_lines *l, const char *p, size_t n, dp_jsonrpc_line_fn fn, void *arg)
{
	if (n && p[n - 1] == '\r')
		n--;
	if (!n)
		return 0;
	l->lines++;
	return fn(p, n, arg);
}

int dp_jsonrpc_lines_feed(struct dp_jsonrpc_lines *l, const char *p, size_t n, dp_jsonrpc_line_fn fn, void *arg)
{
	while (n) {
		const char *nl = memchr(p, '\n', n);
		size_t take = nl ? (size_t)(nl - p) : n;
		if (l->skipping) {
			if (nl)
				l->skipping = 0;
		} else if (dp_buf_add(&l->line, p, take) < 0) {
			/* over the bound: drop the whole line (the buffer was emptied) */
			l->skipped++;
			l->skipping = !nl;
		} else if (nl) {
			int stop = emit(l, l->line.data, l->line.len, fn, arg);
			dp_buf_reset(&l->line);
			if (stop) {
				return 1;
			}
		}
		if (!nl)
			break;
		p = nl + 1;
		n -= take + 1;
	}
	return 0;
}
