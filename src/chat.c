/*
 * chat.c - the chat stream normaliser (see chat.h and docs/api-chat.md).
 *
 * Each upstream event is parsed once with jansson; text deltas are written
 * out with a hand-rolled JSON string escaper into one reused buffer, so the
 * hot path (one token per event) costs one small parse and one copy.
 * Rare events (tool calls, errors, stats) go through jansson both ways.
 */
#include "chat.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static const char *const ev_names[DP_CHAT_EV__N] = {
        "start", "model_load", "prompt_progress", "reasoning", "content", "tool_call", "stats", "error", "end",
};

const char *dp_chat_ev_name(enum dp_chat_ev ev)
{
	return (unsigned)ev < DP_CHAT_EV__N ? ev_names[ev] : "unknown";
}

static const char *const api_names[] = {"v1", "v0", "openai"};
static const char *const api_paths[] = {"/api/v1/chat", "/api/v0/chat/completions", "/v1/chat/completions"};

int dp_chat_api_parse(const char *s)
{
	for (int i = 0; i < 3; i++)
		if (s && strcmp(s, api_names[i]) == 0)
			return i;
	return -1;
}

const char *dp_chat_api_name(enum dp_chat_api api)
{
	return (unsigned)api < 3 ? api_names[api] : NULL;
}

const char *dp_chat_api_path(enum dp_chat_api api)
{
	return (unsigned)api < 3 ? api_paths[api] : NULL;
}

int dp_chat_json_str(struct dp_buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	char tmp[512];
	size_t o = 0;
	tmp[o++] = '"';
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (o + 8 > sizeof(tmp)) {
			if (dp_buf_add(b, tmp, o) < 0)
				return -ENOSPC;
			o = 0;
		}
		if (c >= 0x20 && c != '"' && c != '\\') {
			tmp[o++] = (char)c;
			continue;
		}
		tmp[o++] = '\\';
		switch (c) {
		case '"':
			tmp[o++] = '"';
			break;
		case '\\':
			tmp[o++] = '\\';
			break;
		case '\n':
			tmp[o++] = 'n';
			break;
		case '\r':
			tmp[o++] = 'r';
			break;
		case '\t':
			tmp[o++] = 't';
			break;
		default:
			tmp[o++] = 'u';
			tmp[o++] = '0';
			tmp[o++] = '0';
			tmp[o++] = hex[c >> 4];
			tmp[o++] = hex[c & 15];
		}
	}
	tmp[o++] = '"';
	return dp_buf_add(b, tmp, o);
}

void dp_chat_sanitize(char *out, size_t outlen, const char *s, size_t n)
{
	size_t o = 0;
	if (!outlen)
		return;
	if (outlen > DP_CHAT_MAX_ERROR_MSG + 1)
		outlen = DP_CHAT_MAX_ERROR_MSG + 1;
	for (size_t i = 0; i < n && o + 1 < outlen; i++) {
		unsigned char c = (unsigned char)s[i];
		out[o++] = c < 0x20 || c == 0x7f ? ' ' : (char)c;
	}
	/* do not end inside a UTF-8 sequence */
	if (o > 0 && (unsigned char)out[o - 1] >= 0x80) {
		size_t k = o;
		while (k > 0 && ((unsigned char)out[k - 1] & 0xc0) == 0x80)
			k--;
		if (k > 0 && (unsigned char)out[k - 1] >= 0xc0) {
			unsigned char lead = (unsigned char)out[k - 1];
			size_t need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : 2;
			if (o - (k - 1) < need)
				o = k - 1;
		}
	}
	out[o] = '\0';
}

/* ------------------------------------------------------------ emitting */

static void emit_buf(struct dp_chat_norm *n, enum dp_chat_ev ev)
{
	n->emit(n->arg, ev, n->out.data, n->out.len);
}

static void emit_json(struct dp_chat_norm *n, enum dp_chat_ev ev, json_t *o)
{
	char *s = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(10));
	json_decref(o);
	if (s) {
		n->emit(n->arg, ev, s, strlen(s));
		free(s);
	}
}

static void keep(struct dp_chat_norm *n, struct dp_buf *b, const char *p, size_t len)
{
	if (!n->keep_text)
		return;
	if (b->len + len > DP_CHAT_MAX_TEXT) {
		n->text_truncated = 1;
		return;
	}
	dp_buf_add(b, p, len);
}

static void emit_text(struct dp_chat_norm *n, int reasoning, const char *p, size_t len)
{
	if (!len)
		return;
	dp_buf_reset(&n->out);
	dp_buf_add(&n->out, "{\"text\":", 8);
	if (dp_chat_json_str(&n->out, p, len) < 0 || dp_buf_addch(&n->out, '}') < 0)
		return;
	if (reasoning) {
		n->reasoning_events++;
		keep(n, &n->reasoning, p, len);
	} else {
		n->content_events++;
		keep(n, &n->content, p, len);
	}
	n->token_events++;
	emit_buf(n, reasoning ? DP_CHAT_EV_REASONING : DP_CHAT_EV_CONTENT);
}

static void think_piece(void *arg, int reasoning, const char *p, size_t len)
{
	emit_text(arg, reasoning, p, len);
}

static void emit_progress(struct dp_chat_norm *n, enum dp_chat_ev ev, double p)
{
	if (!isfinite(p) || p < 0)
		p = 0;
	if (p > 1)
		p = 1;
	dp_buf_reset(&n->out);
	dp_buf_addf(&n->out, "{\"progress\":%.4g}", p);
	emit_buf(n, ev);
}

static void emit_error(struct dp_chat_norm *n, const json_t *err)
{
	const char *code = NULL, *msg = NULL;
	if (json_is_object(err)) {
		code = json_string_value(json_object_get(err, "code"));
		if (!code || !*code)
			code = json_string_value(json_object_get(err, "type"));
		msg = json_string_value(json_object_get(err, "message"));
	} else if (json_is_string(err)) {
		msg = json_string_value(err);
	}
	char c[64], m[DP_CHAT_MAX_ERROR_MSG + 1];
	dp_chat_sanitize(c, sizeof(c), code && *code ? code : "lmstudio_error",
	                 strlen(code && *code ? code : "lmstudio_error"));
	dp_chat_sanitize(m, sizeof(m), msg ? msg : "LM Studio reported an error",
	                 strlen(msg ? msg : "LM Studio reported an error"));
	n->error_events++;
	emit_json(n, DP_CHAT_EV_ERROR, json_pack("{s:s,s:s}", "code", c, "message", m));
}

static void signal_stats(struct dp_chat_norm *n)
{
	if (n->stats_signalled)
		return;
	n->stats_signalled = 1;
	n->emit(n->arg, DP_CHAT_EV_STATS, NULL, 0);
}

static void set_stats(struct dp_chat_norm *n, json_t *stats)
{
	if (!json_is_object(stats))
		return;
	json_decref(n->lms_stats);
	n->lms_stats = json_deep_copy(stats);
	const char *sr = json_string_value(json_object_get(stats, "stop_reason"));
	if (sr)
		dp_chat_sanitize(n->stop_reason, sizeof(n->stop_reason), sr, strlen(sr));
	json_t *t = json_object_get(stats, "total_output_tokens");
	if (json_is_integer(t) && json_integer_value(t) >= 0)
		n->lms_tokens = json_integer_value(t);
}

static void set_usage(struct dp_chat_norm *n, json_t *usage)
{
	if (!json_is_object(usage))
		return;
	json_decref(n->usage);
	n->usage = json_deep_copy(usage);
	json_t *t = json_object_get(usage, "completion_tokens");
	if (json_is_integer(t) && json_integer_value(t) >= 0 && n->lms_tokens < 0)
		n->lms_tokens = json_integer_value(t);
}

/* ------------------------------------------------------------- v1 events */

static int streq(const char *a, size_t alen, const char *lit)
{
	size_t l = strlen(lit);
	return alen == l && memcmp(a, lit, l) == 0;
}

static void tool_v1(struct dp_chat_norm *n, const char *phase, json_t *o)
{
	json_t *out = json_pack("{s:s}", "phase", phase);
	static const char *const keys[] = {"tool", "arguments", "output", "provider_info", "reason", "metadata"};
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		json_t *v = json_object_get(o, keys[i]);
		if (v)
			json_object_set(out, keys[i], v);
	}
	if (!json_object_get(out, "tool")) {
		json_t *tn = json_object_get(json_object_get(o, "metadata"), "tool_name");
		if (json_is_string(tn))
			json_object_set(out, "tool", tn);
	}
	n->tool_events++;
	n->token_events++;
	emit_json(n, DP_CHAT_EV_TOOL_CALL, out);
}

static int feed_v1(struct dp_chat_norm *n, const char *ev, size_t evlen, json_t *o)
{
	if (!evlen) {
		const char *t = json_string_value(json_object_get(o, "type"));
		if (!t)
			return -EINVAL;
		ev = t;
		evlen = strlen(t);
	}
	uint64_t before = n->token_events;
	if (streq(ev, evlen, "message.delta") || streq(ev, evlen, "reasoning.delta")) {
		json_t *c = json_object_get(o, "content");
		if (!json_is_string(c))
			return -EINVAL;
		const char *s = json_string_value(c);
		size_t len = json_string_length(c);
		if (ev[0] == 'r')
			emit_text(n, 1, s, len);
		else
			dp_think_feed(&n->think, s, len, think_piece, n);
	} else if (streq(ev, evlen, "prompt_processing.start")) {
		emit_progress(n, DP_CHAT_EV_PROMPT_PROGRESS, 0);
	} else if (streq(ev, evlen, "prompt_processing.progress")) {
		emit_progress(n, DP_CHAT_EV_PROMPT_PROGRESS, json_number_value(json_object_get(o, "progress")));
	} else if (streq(ev, evlen, "prompt_processing.end")) {
		emit_progress(n, DP_CHAT_EV_PROMPT_PROGRESS, 1);
	} else if (streq(ev, evlen, "model_load.start")) {
		emit_progress(n, DP_CHAT_EV_MODEL_LOAD, 0);
	} else if (streq(ev, evlen, "model_load.progress")) {
		emit_progress(n, DP_CHAT_EV_MODEL_LOAD, json_number_value(json_object_get(o, "progress")));
	} else if (streq(ev, evlen, "model_load.end")) {
		json_t *lt = json_object_get(o, "load_time_seconds");
		json_t *out = json_pack("{s:b}", "done", 1);
		if (json_is_number(lt))
			json_object_set_new(out, "load_time_seconds", json_real(json_number_value(lt)));
		emit_json(n, DP_CHAT_EV_MODEL_LOAD, out);
	} else if (evlen > 10 && memcmp(ev, "tool_call.", 10) == 0) {
		char phase[16];
		size_t pl = evlen - 10;
		if (pl >= sizeof(phase))
			return -EINVAL;
		memcpy(phase, ev + 10, pl);
		phase[pl] = '\0';
		if (strcmp(phase, "start") && strcmp(phase, "arguments") && strcmp(phase, "success") &&
		    strcmp(phase, "failure"))
			return -EINVAL;
		tool_v1(n, phase, o);
	} else if (streq(ev, evlen, "error")) {
		emit_error(n, json_object_get(o, "error"));
	} else if (streq(ev, evlen, "chat.end")) {
		json_t *r = json_object_get(o, "result");
		set_stats(n, json_object_get(r, "stats"));
		const char *rid = json_string_value(json_object_get(r, "response_id"));
		if (rid)
			dp_chat_sanitize(n->response_id, sizeof(n->response_id), rid, strlen(rid));
		n->done = 1;
		dp_think_finish(&n->think, think_piece, n);
		signal_stats(n);
	} else if (streq(ev, evlen, "chat.start") || streq(ev, evlen, "message.start") ||
	           streq(ev, evlen, "message.end") || streq(ev, evlen, "reasoning.start") ||
	           streq(ev, evlen, "reasoning.end")) {
		/* nothing the UI needs */
	} else {
		return -EINVAL;
	}
	return (int)(n->token_events - before);
}

/* ------------------------------------------------------ OpenAI-style chunks */

static void tool_oai(struct dp_chat_norm *n, json_t *tc)
{
	json_t *out = json_pack("{s:s}", "phase", "call");
	json_t *v = json_object_get(tc, "index");
	if (json_is_integer(v))
		json_object_set(out, "index", v);
	v = json_object_get(tc, "id");
	if (json_is_string(v))
		json_object_set(out, "id", v);
	json_t *fn = json_object_get(tc, "function");
	v = json_object_get(fn, "name");
	if (json_is_string(v))
		json_object_set(out, "tool", v);
	v = json_object_get(fn, "arguments");
	if (json_is_string(v))
		json_object_set(out, "arguments", v);
	n->tool_events++;
	n->token_events++;
	emit_json(n, DP_CHAT_EV_TOOL_CALL, out);
}

static const char *map_finish(const char *f)
{
	if (!strcmp(f, "stop"))
		return "eosFound";
	if (!strcmp(f, "length"))
		return "maxPredictedTokensReached";
	if (!strcmp(f, "tool_calls") || !strcmp(f, "function_call"))
		return "toolCalls";
	return NULL;
}

static int feed_oai(struct dp_chat_norm *n, json_t *o)
{
	uint64_t before = n->token_events;
	json_t *err = json_object_get(o, "error");
	if (err) {
		emit_error(n, err);
		return 0;
	}
	json_t *choices = json_object_get(o, "choices");
	json_t *ch = json_array_get(choices, 0);
	if (json_is_object(ch)) {
		json_t *d = json_object_get(ch, "delta");
		if (json_is_object(d)) {
			json_t *r = json_object_get(d, "reasoning_content");
			if (!json_is_string(r) || !json_string_length(r))
				r = json_object_get(d, "reasoning");
			if (json_is_string(r))
				emit_text(n, 1, json_string_value(r), json_string_length(r));
			json_t *c = json_object_get(d, "content");
			if (json_is_string(c))
				dp_think_feed(&n->think, json_string_value(c), json_string_length(c), think_piece, n);
			json_t *tcs = json_object_get(d, "tool_calls");
			size_t i;
			json_t *tc;
			json_array_foreach(tcs, i, tc) if (json_is_object(tc)) tool_oai(n, tc);
		} else {
			json_t *t = json_object_get(ch, "text"); /* text completions */
			if (json_is_string(t))
				dp_think_feed(&n->think, json_string_value(t), json_string_length(t), think_piece, n);
		}
		const char *f = json_string_value(json_object_get(ch, "finish_reason"));
		if (f)
			dp_chat_sanitize(n->finish_reason, sizeof(n->finish_reason), f, strlen(f));
	} else if (!json_is_array(choices)) {
		return -EINVAL;
	}
	set_stats(n, json_object_get(o, "stats"));
	set_usage(n, json_object_get(o, "usage"));
	return (int)(n->token_events - before);
}

/* ------------------------------------------------------------------ API */

void dp_chat_norm_init(struct dp_chat_norm *n, enum dp_chat_api api, dp_chat_emit_fn emit, void *arg)
{
	memset(n, 0, sizeof(*n));
	n->api = api;
	n->emit = emit;
	n->arg = arg;
	n->lms_tokens = -1;
	dp_think_init(&n->think, NULL, NULL);
	dp_buf_init(&n->out, DP_CHAT_MAX_TEXT * 2);
	dp_buf_init(&n->scratch, DP_CHAT_MAX_TEXT * 2);
	dp_buf_init(&n->content, DP_CHAT_MAX_TEXT);
	dp_buf_init(&n->reasoning, DP_CHAT_MAX_TEXT);
}

int dp_chat_norm_set_think(struct dp_chat_norm *n, const char *open, const char *close)
{
	dp_think_release(&n->think);
	return dp_think_init(&n->think, open, close);
}

void dp_chat_norm_think_off(struct dp_chat_norm *n)
{
	dp_think_release(&n->think);
	dp_think_init_off(&n->think);
}

void dp_chat_norm_release(struct dp_chat_norm *n)
{
	dp_think_release(&n->think);
	dp_buf_release(&n->out);
	dp_buf_release(&n->scratch);
	dp_buf_release(&n->content);
	dp_buf_release(&n->reasoning);
	json_decref(n->lms_stats);
	json_decref(n->usage);
	n->lms_stats = n->usage = NULL;
}

/* ------------------------------------------------------------ fast path */

/*
 * The relay's hot event, v1 `message.delta` / `reasoning.delta`, is a flat
 * object of strings: {"type":"message.delta","content":"..."}. Parsing it
 * with jansson costs a hash table and several allocations per token; this
 * scanner reads such an object in place and hands the unescaped content on.
 * It accepts only what jansson would accept with the same result (a flat
 * object whose values are strings, true, false or null; valid UTF-8; no
 * \u0000; the last of duplicate keys wins); anything else returns 0 and
 * the event takes the jansson path. fuzz_chat_norm checks both paths emit
 * the same bytes.
 */

static size_t ws(const char *p, size_t i, size_t n)
{
	while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r'))
		i++;
	return i;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int hex4(const char *p, size_t n, size_t i, unsigned *v)
{
	if (i + 4 > n)
		return -1;
	*v = 0;
	for (int k = 0; k < 4; k++) {
		int h = hexval(p[i + (size_t)k]);
		if (h < 0)
			return -1;
		*v = (*v << 4) | (unsigned)h;
	}
	return 0;
}

/* Length of a valid UTF-8 sequence at p (max n bytes), 0 when invalid. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
	unsigned c = p[0];
	size_t len;
	unsigned min;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2, min = 0x80;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3, min = 0x800;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4, min = 0x10000;
	else
		return 0;
	if (len > n)
		return 0;
	unsigned cp = c & (0x7f >> len);
	for (size_t k = 1; k < len; k++) {
		if ((p[k] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[k] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/* A JSON string starting at p[i] == '"'. Returns the index after the
 * closing quote, or 0 when it is not a string jansson would accept. When
 * out is given, the unescaped text is appended to it. */
static size_t scan_string(const char *p, size_t i, size_t n, struct dp_buf *out)
{
	i++;
	while (i < n) {
		size_t start = i;
		while (i < n && p[i] != '"' && p[i] != '\\' && (unsigned char)p[i] >= 0x20 &&
		       (unsigned char)p[i] < 0x80)
			i++;
		if (out && i > start && dp_buf_add(out, p + start, i - start) < 0)
			return 0;
		if (i >= n)
			return 0;
		unsigned char c = (unsigned char)p[i];
		if (c == '"')
			return i + 1;
		if (c < 0x20)
			return 0;
		if (c >= 0x80) {
			size_t l = utf8_len((const unsigned char *)p + i, n - i);
			if (!l || (out && dp_buf_add(out, p + i, l) < 0))
				return 0;
			i += l;
			continue;
		}
		/* an escape */
		if (i + 1 >= n)
			return 0;
		char e = p[i + 1], ch;
		i += 2;
		switch (e) {
		case '"':
			ch = '"';
			break;
		case '\\':
			ch = '\\';
			break;
		case '/':
			ch = '/';
			break;
		case 'b':
			ch = '\b';
			break;
		case 'f':
			ch = '\f';
			break;
		case 'n':
			ch = '\n';
			break;
		case 'r':
			ch = '\r';
			break;
		case 't':
			ch = '\t';
			break;
		case 'u': {
			unsigned cp;
			if (hex4(p, n, i, &cp) < 0)
				return 0;
			i += 4;
			if (cp >= 0xd800 && cp <= 0xdbff) {
				unsigned lo;
				if (i + 2 > n || p[i] != '\\' || p[i + 1] != 'u' || hex4(p, n, i + 2, &lo) < 0 ||
				    lo < 0xdc00 || lo > 0xdfff)
					return 0;
				i += 6;
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			} else if ((cp >= 0xdc00 && cp <= 0xdfff) || cp == 0) {
				return 0;
			}
			char u[4];
			size_t ul;
			if (cp < 0x80) {
				u[0] = (char)cp, ul = 1;
			} else if (cp < 0x800) {
				u[0] = (char)(0xc0 | (cp >> 6)), u[1] = (char)(0x80 | (cp & 0x3f)), ul = 2;
			} else if (cp < 0x10000) {
				u[0] = (char)(0xe0 | (cp >> 12)), u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
				u[2] = (char)(0x80 | (cp & 0x3f)), ul = 3;
			} else {
				u[0] = (char)(0xf0 | (cp >> 18)), u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
				u[2] = (char)(0x80 | ((cp >> 6) & 0x3f)), u[3] = (char)(0x80 | (cp & 0x3f)), ul = 4;
			}
			if (out && dp_buf_add(out, u, ul) < 0)
				return 0;
			continue;
		}
		default:
			return 0;
		}
		if (out && dp_buf_addch(out, ch) < 0)
			return 0;
	}
	return 0;
}

/* A flat v1 delta: 1 when handled here, 0 when jansson must decide. */
static int fast_v1_delta(struct dp_chat_norm *n, const char *ev, size_t evlen, const char *p, size_t len)
{
	size_t i = ws(p, 0, len);
	size_t type_at = 0, type_end = 0, content_at = 0, content_end = 0;
	if (i >= len || p[i] != '{')
		return 0;
	i = ws(p, i + 1, len);
	if (i < len && p[i] == '}')
		return 0;
	for (;;) {
		if (i >= len || p[i] != '"')
			return 0;
		size_t k = i, kend = scan_string(p, i, len, NULL);
		if (!kend)
			return 0;
		i = ws(p, kend, len);
		if (i >= len || p[i] != ':')
			return 0;
		i = ws(p, i + 1, len);
		if (i >= len)
			return 0;
		size_t v = i;
		if (p[i] == '"') {
			i = scan_string(p, i, len, NULL);
			if (!i)
				return 0;
		} else if (len - i >= 4 && (memcmp(p + i, "true", 4) == 0 || memcmp(p + i, "null", 4) == 0)) {
			i += 4;
		} else if (len - i >= 5 && memcmp(p + i, "false", 5) == 0) {
			i += 5;
		} else {
			return 0; /* numbers, objects, arrays: jansson */
		}
		/* keys compared raw: an escaped key name is simply not ours */
		if (kend - k == 6 && memcmp(p + k, "\"type\"", 6) == 0) {
			if (p[v] != '"')
				return 0;
			type_at = v, type_end = i;
		} else if (kend - k == 9 && memcmp(p + k, "\"content\"", 9) == 0) {
			if (p[v] != '"')
				return 0;
			content_at = v, content_end = i;
		} else if (memchr(p + k, '\\', kend - k)) {
			return 0; /* "typ\u0065": leave it to jansson */
		}
		i = ws(p, i, len);
		if (i < len && p[i] == ',') {
			i = ws(p, i + 1, len);
			continue;
		}
		if (i < len && p[i] == '}')
			break;
		return 0;
	}
	if (ws(p, i + 1, len) != len || !content_at)
		return 0;
	if (!evlen) {
		if (!type_at)
			return 0;
		ev = p + type_at + 1;
		evlen = type_end - type_at - 2;
	}
	int reasoning;
	if (evlen == 13 && memcmp(ev, "message.delta", 13) == 0)
		reasoning = 0;
	else if (evlen == 15 && memcmp(ev, "reasoning.delta", 15) == 0)
		reasoning = 1;
	else
		return 0;
	dp_buf_reset(&n->scratch);
	if (!scan_string(p, content_at, content_end, &n->scratch))
		return 0;
	if (reasoning)
		emit_text(n, 1, n->scratch.data, n->scratch.len);
	else
		dp_think_feed(&n->think, n->scratch.data, n->scratch.len, think_piece, n);
	return 1;
}

int dp_chat_norm_feed(struct dp_chat_norm *n, const char *event, size_t event_len, const char *data, size_t len)
{
	n->events_in++;
	if (n->api == DP_CHAT_API_V1 && !n->no_fast_path) {
		uint64_t before = n->token_events;
		if (fast_v1_delta(n, event, event_len, data, len))
			return (int)(n->token_events - before);
	}
	if (n->api != DP_CHAT_API_V1 && len == 6 && memcmp(data, "[DONE]", 6) == 0) {
		n->done = 1;
		dp_think_finish(&n->think, think_piece, n);
		signal_stats(n);
		return 0;
	}
	json_t *o = json_loadb(data, len, 0, NULL);
	int rc;
	if (!json_is_object(o))
		rc = -EINVAL;
	else if (n->api == DP_CHAT_API_V1)
		rc = feed_v1(n, event, event_len, o);
	else
		rc = feed_oai(n, o);
	json_decref(o);
	if (rc < 0)
		n->ignored++;
	return rc;
}

void dp_chat_norm_finish(struct dp_chat_norm *n)
{
	if (dp_think_finish(&n->think, think_piece, n))
		n->think_unterminated = 1;
}

const char *dp_chat_norm_stop_reason(const struct dp_chat_norm *n)
{
	if (n->stop_reason[0])
		return n->stop_reason;
	if (n->finish_reason[0]) {
		const char *m = map_finish(n->finish_reason);
		return m ? m : n->finish_reason;
	}
	return "completed";
}

static json_t *ms_or_null(double v)
{
	return v >= 0 && isfinite(v) ? json_real(round(v * 1000) / 1000) : json_null();
}

json_t *dp_chat_stats_json(const struct dp_chat_norm *n, const struct dp_chat_timing *t)
{
	uint64_t text_events = n->reasoning_events + n->content_events;
	int64_t tokens = n->lms_tokens >= 0 ? n->lms_tokens : (int64_t)text_events;
	json_t *tps = json_null();
	if (text_events >= 2 && t->generation_ms > 0 && tokens > 0) {
		/* the first token starts the clock: n tokens span n-1 intervals */
		double per = t->generation_ms / (double)(text_events - 1);
		tps = json_real(round(1000.0 / per * 1000) / 1000);
	}
	json_t *server =
	        json_pack("{s:o,s:o,s:o,s:o,s:I,s:s,s:o,s:I,s:I}", "ttft_ms", ms_or_null(t->ttft_ms),
	                  "upstream_ttfb_ms", ms_or_null(t->ttfb_ms), "generation_ms", ms_or_null(t->generation_ms),
	                  "total_ms", ms_or_null(t->total_ms), "tokens", (json_int_t)tokens, "tokens_source",
	                  n->lms_tokens >= 0 ? "lmstudio" : "events", "tokens_per_second", tps, "reasoning_events",
	                  (json_int_t)n->reasoning_events, "content_events", (json_int_t)n->content_events);
	json_t *o = json_pack("{s:o,s:O}", "server", server, "lmstudio", n->lms_stats ? n->lms_stats : json_null());
	if (n->usage)
		json_object_set(o, "usage", n->usage);
	return o;
}
