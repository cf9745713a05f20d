/*
 * logparse.c - DiagnosticsLogEvent NDJSON lines -> classified events
 * (contract in logparse.h; shapes from reference §7.1 and
 * lmstudio-js DiagnosticsLogEvent.ts).
 *
 * jansson does the JSON work: it refuses invalid UTF-8 and bounds nesting
 * itself; we bound the line length before parsing and every string we keep
 * after. Nothing here trusts a field's type: each is checked before use.
 */
#include "logparse.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Plausible epoch milliseconds: 2001-09-09 .. 2286-11-20. */
#define TS_MIN 1000000000000LL
#define TS_MAX 9999999999999LL

static const char *const src_names[DP_LOGPARSE__NSRC] = {"server", "model", "runtime", "daemonpulse"};
static const char *const level_names[] = {"debug", "info", "warn", "error"};

const char *dp_logparse_source_name(enum dp_logparse_source s)
{
	return (unsigned)s < DP_LOGPARSE__NSRC ? src_names[s] : "unknown";
}

int dp_logparse_source_parse(const char *s, size_t len)
{
	for (int i = 0; i < DP_LOGPARSE__NSRC; i++)
		if (strlen(src_names[i]) == len && memcmp(src_names[i], s, len) == 0)
			return i;
	return -1;
}

const char *dp_logparse_level_name(enum dp_logparse_level l)
{
	return (unsigned)l <= DP_LOGPARSE_ERROR ? level_names[l] : "info";
}

int dp_logparse_level_parse(const char *s)
{
	static const struct {
		const char *name;
		int level;
	} map[] = {
	        {"debug", DP_LOGPARSE_DEBUG},    {"trace", DP_LOGPARSE_DEBUG},      {"verbose", DP_LOGPARSE_DEBUG},
	        {"info", DP_LOGPARSE_INFO},      {"information", DP_LOGPARSE_INFO}, {"notice", DP_LOGPARSE_INFO},
	        {"log", DP_LOGPARSE_INFO},       {"warn", DP_LOGPARSE_WARN},        {"warning", DP_LOGPARSE_WARN},
	        {"error", DP_LOGPARSE_ERROR},    {"err", DP_LOGPARSE_ERROR},        {"fatal", DP_LOGPARSE_ERROR},
	        {"critical", DP_LOGPARSE_ERROR},
	};
	if (!s)
		return -1;
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcasecmp(s, map[i].name) == 0)
			return map[i].level;
	return -1;
}

/* Length of the valid UTF-8 sequence at p (1..4), 0 when invalid. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
	unsigned c = p[0];
	size_t k;
	unsigned min;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		k = 2;
		min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		k = 3;
		min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		k = 4;
		min = 0x10000;
	} else {
		return 0;
	}
	if (k > n)
		return 0;
	unsigned cp = c & (0x7f >> k);
	for (size_t i = 1; i < k; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return k;
}

size_t dp_logparse_sanitize(const char *s, size_t len, char *out, size_t outlen)
{
	static const char ell[] = "\xe2\x80\xa6"; /* … */
	if (!outlen)
		return 0;
	size_t o = 0;
	int space = 1; /* drop leading whitespace */
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;
	while (s && i < len) {
		size_t k = utf8_len(p + i, len - i);
		int ws = 0;
		if (k == 0) {
			ws = 1;
			k = 1;
		} else if (k == 1 && (p[i] < 0x20 || p[i] == 0x7f)) {
			ws = 1;
		} else if (k == 1 && p[i] == ' ') {
			ws = 1;
		} else if (k == 2 && p[i] == 0xc2 && p[i + 1] < 0xa0) {
			ws = 1; /* C1 controls */
		}
		if (ws) {
			if (!space && o + 1 < outlen) {
				out[o++] = ' ';
				space = 1;
			}
			i += k;
			continue;
		}
		if (o + k + sizeof(ell) > outlen) {
			/* no room for this character and the ellipsis */
			while (o > 0 && out[o - 1] == ' ')
				o--;
			if (o + sizeof(ell) <= outlen) {
				memcpy(out + o, ell, sizeof(ell) - 1);
				o += sizeof(ell) - 1;
			}
			out[o] = '\0';
			return o;
		}
		memcpy(out + o, p + i, k);
		o += k;
		i += k;
		space = 0;
	}
	while (o > 0 && out[o - 1] == ' ')
		o--;
	out[o] = '\0';
	return o;
}

static const char *memmem_ci(const char *h, size_t hl, const char *n)
{
	size_t nl = strlen(n);
	if (nl == 0 || nl > hl)
		return NULL;
	for (size_t i = 0; i + nl <= hl; i++)
		if (strncasecmp(h + i, n, nl) == 0)
			return h + i;
	return NULL;
}

/* Lower-cased copy of the first SCAN_MAX bytes of s (markers and keywords
 * are looked for there only: they come first in a message). */
#define SCAN_MAX 4096
static size_t lower_prefix(const char *s, size_t len, char *out)
{
	size_t n = len < SCAN_MAX ? len : SCAN_MAX;
	for (size_t i = 0; i < n; i++)
		out[i] = (char)tolower((unsigned char)s[i]);
	return n;
}

size_t dp_logparse_body_offset(const char *s, size_t len)
{
	static const char *const markers[] = {" with body", "prediction:", "body:", "response:", "request:"};
	if (!s)
		return 0;
	char low[SCAN_MAX];
	size_t n = lower_prefix(s, len, low);
	for (size_t m = 0; m < sizeof(markers) / sizeof(markers[0]); m++) {
		const char *at = memmem(low, n, markers[m], strlen(markers[m]));
		if (!at)
			continue;
		size_t off = (size_t)(at - low) + strlen(markers[m]);
		size_t j = off;
		while (j < len && (s[j] == ' ' || s[j] == '\t'))
			j++;
		if (j < len)
			return j;
	}
	const char *b = memchr(s, '{', len);
	return b ? (size_t)(b - s) : len;
}

int dp_logparse_is_high_message(const char *msg)
{
	static const char *const kw[] = {
	        "loading model",
	        "loaded model",
	        "model loaded",
	        "unload",
	        "eject",
	        "evict",
	        "[jit]",
	        "server started",
	        "server stopped",
	        "started server",
	        "stopped server",
	        "server is now running",
	        "server is running",
	        "stopping server",
	        "starting server",
	        "download completed",
	        "download finished",
	        "download failed",
	        "ttl expir",
	};
	if (!msg)
		return 0;
	char low[SCAN_MAX];
	size_t n = lower_prefix(msg, strnlen(msg, SCAN_MAX), low);
	for (size_t i = 0; i < sizeof(kw) / sizeof(kw[0]); i++)
		if (memmem(low, n, kw[i], strlen(kw[i])))
			return 1;
	return 0;
}

/* Cut a string value to DP_LOGPARSE_MAX_STR bytes at a character boundary,
 * appending "…". Returns a new json string or NULL when no cut is needed. */
static json_t *cut_string(const char *s, size_t len)
{
	if (len <= DP_LOGPARSE_MAX_STR)
		return NULL;
	size_t n = DP_LOGPARSE_MAX_STR - 3;
	while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	char buf[DP_LOGPARSE_MAX_STR + 1];
	memcpy(buf, s, n);
	memcpy(buf + n, "\xe2\x80\xa6", 3);
	return json_stringn(buf, n + 3);
}

/* Bound every string in v (in place) and the nesting; returns 1 when
 * something was cut. */
static int bound_value(json_t *v, int depth)
{
	int cut = 0;
	if (json_is_object(v)) {
		const char *k;
		json_t *x;
		void *tmp;
		json_object_foreach_safe(v, tmp, k, x)
		{
			if (depth >= DP_LOGPARSE_MAX_DEPTH && (json_is_object(x) || json_is_array(x))) {
				json_object_set_new(v, k, json_null());
				cut = 1;
				continue;
			}
			if (json_is_string(x)) {
				json_t *c = cut_string(json_string_value(x), json_string_length(x));
				if (c) {
					json_object_set_new(v, k, c);
					cut = 1;
				}
			} else {
				cut |= bound_value(x, depth + 1);
			}
		}
	} else if (json_is_array(v)) {
		for (size_t i = 0; i < json_array_size(v); i++) {
			json_t *x = json_array_get(v, i);
			if (depth >= DP_LOGPARSE_MAX_DEPTH && (json_is_object(x) || json_is_array(x))) {
				json_array_set_new(v, i, json_null());
				cut = 1;
			} else if (json_is_string(x)) {
				json_t *c = cut_string(json_string_value(x), json_string_length(x));
				if (c) {
					json_array_set_new(v, i, c);
					cut = 1;
				}
			} else {
				cut |= bound_value(x, depth + 1);
			}
		}
	}
	return cut;
}

static const char *str_field(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

/* A finite non-negative number below 1e12, else -1. */
static double num_field(const json_t *o, const char *k)
{
	const json_t *v = json_object_get(o, k);
	if (!json_is_number(v))
		return -1;
	double d = json_number_value(v);
	if (!isfinite(d) || d < 0 || d > 1e12)
		return -1;
	return d;
}

static int64_t int_field(const json_t *o, const char *k)
{
	double d = num_field(o, k);
	if (d < 0 || d > 9e15)
		return -1;
	return (int64_t)d;
}

/* Printable ASCII copy of s (others become '?'), bounded. */
static void ascii_copy(char *out, size_t outlen, const char *s)
{
	size_t o = 0;
	for (; s && *s && o + 1 < outlen; s++)
		out[o++] = (*s >= 0x20 && *s < 0x7f) ? *s : '?';
	out[o] = '\0';
}

static void extract_stats(const json_t *st, struct dp_logparse_stats *out)
{
	out->tokens_per_second = num_field(st, "tokensPerSecond");
	out->ttft_sec = num_field(st, "timeToFirstTokenSec");
	out->total_time_sec = num_field(st, "totalTimeSec");
	out->prompt_tokens = int_field(st, "promptTokensCount");
	out->predicted_tokens = int_field(st, "predictedTokensCount");
	out->total_tokens = int_field(st, "totalTokensCount");
	ascii_copy(out->stop_reason, sizeof(out->stop_reason), str_field(st, "stopReason"));
}

/* Build "prefix" + sanitized text into dst, and the body-cut variant. */
static void summarise_text(struct dp_logparse_event *ev, const char *prefix, const char *text)
{
	char tmp[DP_LOGPARSE_SUMMARY_MAX + 1];
	size_t len = text ? strlen(text) : 0;
	size_t cut = dp_logparse_body_offset(text ? text : "", len);
	char *buf = NULL;
	size_t pl = prefix ? strlen(prefix) : 0;
	/* only the start matters for a 300-byte summary */
	size_t take = len < 4 * DP_LOGPARSE_SUMMARY_MAX ? len : 4 * DP_LOGPARSE_SUMMARY_MAX;
	char stack[4 * DP_LOGPARSE_SUMMARY_MAX + 512];
	buf = stack;
	size_t pl2 = pl < 512 ? pl : 512;
	memcpy(buf, prefix ? prefix : "", pl2);
	if (text)
		memcpy(buf + pl2, text, take);
	dp_logparse_sanitize(buf, pl2 + take, ev->summary, sizeof(ev->summary));
	if (cut < len) {
		size_t t2 = cut < take ? cut : take;
		size_t n = pl2;
		if (text)
			memcpy(buf + pl2, text, t2);
		n += t2;
		size_t tl = dp_logparse_sanitize(buf, n, tmp, sizeof(tmp) - 8);
		if (tl)
			tmp[tl++] = ' ';
		memcpy(tmp + tl, "{\xe2\x80\xa6}", 6); /* with the NUL */
		memcpy(ev->summary_hidden, tmp, tl + 6);
		ev->has_body = 1;
	} else {
		memcpy(ev->summary_hidden, ev->summary, sizeof(ev->summary));
	}
}

/* The summary from a format (sanitised and bounded), also as the hidden one. */
__attribute__((format(printf, 2, 3))) static void set_summary(struct dp_logparse_event *ev, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(buf))
		n = sizeof(buf) - 1;
	dp_logparse_sanitize(buf, (size_t)n, ev->summary, sizeof(ev->summary));
	memcpy(ev->summary_hidden, ev->summary, sizeof(ev->summary));
}

int dp_logparse_line(const char *line, size_t len, enum dp_logparse_source stream_src, struct dp_logparse_event *ev,
                     char *err, size_t errlen)
{
	char tmp[8];
	if (!err || !errlen) {
		err = tmp;
		errlen = sizeof(tmp);
	}
	err[0] = '\0';
	memset(ev, 0, sizeof(*ev));
	if (!line) {
		snprintf(err, errlen, "no line");
		return -EINVAL;
	}
	if (len > DP_LOGPARSE_MAX_LINE) {
		snprintf(err, errlen, "line of %zu bytes is over the %d byte limit", len, DP_LOGPARSE_MAX_LINE);
		return -E2BIG;
	}
	json_error_t je;
	json_t *root = json_loadb(line, len, JSON_REJECT_DUPLICATES, &je);
	if (!root) {
		snprintf(err, errlen, "malformed JSON at column %d: %s", je.column, je.text);
		return -EINVAL;
	}
	json_t *data = json_object_get(root, "data");
	const char *type = json_is_object(data) ? str_field(data, "type") : NULL;
	if (!json_is_object(root) || !json_is_object(data) || !type || !*type) {
		snprintf(err, errlen, "not a DiagnosticsLogEvent (no data.type)");
		json_decref(root);
		return -EINVAL;
	}
	json_t *ts = json_object_get(root, "timestamp");
	if (json_is_number(ts)) {
		double d = json_number_value(ts);
		if (isfinite(d) && d >= TS_MIN && d <= TS_MAX)
			ev->ts_ms = (int64_t)d;
	}
	ascii_copy(ev->type, sizeof(ev->type), type);
	const json_t *txt = json_object_get(data, strcmp(type, "llm.prediction.input") ? "output" : "input");
	size_t text_len = json_is_string(txt) ? json_string_length(txt) : 0; /* before any cut */
	ev->payload = json_incref(data);
	json_decref(root);
	ev->truncated = bound_value(ev->payload, 1);
	data = ev->payload;

	const char *model = str_field(data, "modelIdentifier");
	dp_logparse_sanitize(model, model ? strlen(model) : 0, ev->model, sizeof(ev->model));
	int lvl = dp_logparse_level_parse(str_field(data, "level"));
	char prefix[512];

	if (strcmp(type, "server.log") == 0) {
		ev->source = DP_LOGPARSE_SERVER;
		const char *content = str_field(data, "content");
		if (lvl < 0 && content) {
			/* no level field: the file-style "[...][LEVEL]" prefix */
			if (memmem_ci(content, strnlen(content, 64), "[error]"))
				lvl = DP_LOGPARSE_ERROR;
			else if (memmem_ci(content, strnlen(content, 64), "[warn"))
				lvl = DP_LOGPARSE_WARN;
			else if (memmem_ci(content, strnlen(content, 64), "[debug]"))
				lvl = DP_LOGPARSE_DEBUG;
		}
		ev->level = lvl < 0 ? DP_LOGPARSE_INFO : (enum dp_logparse_level)lvl;
		summarise_text(ev, NULL, content ? content : "");
		ev->high = ev->level >= DP_LOGPARSE_WARN || dp_logparse_is_high_message(content);
	} else if (strcmp(type, "runtime.log") == 0) {
		ev->source = DP_LOGPARSE_RUNTIME;
		ev->level = lvl < 0 ? DP_LOGPARSE_INFO : (enum dp_logparse_level)lvl;
		const char *msg = str_field(data, "message");
		const char *eng = str_field(data, "engineType");
		if (!eng)
			eng = str_field(data, "engineName");
		const char *ver = str_field(data, "engineVersion");
		char e1[64], e2[32];
		ascii_copy(e1, sizeof(e1), eng);
		ascii_copy(e2, sizeof(e2), ver);
		snprintf(prefix, sizeof(prefix), "%s%s%s%s%s%s%s", e1[0] ? "[" : "", e1, e2[0] && e1[0] ? " " : "",
		         e1[0] ? e2 : "", e1[0] ? "] " : "", ev->model, ev->model[0] ? ": " : "");
		summarise_text(ev, prefix, msg ? msg : "");
		ev->high = ev->level >= DP_LOGPARSE_WARN || dp_logparse_is_high_message(msg);
	} else if (strcmp(type, "llm.prediction.input") == 0) {
		ev->source = DP_LOGPARSE_MODEL;
		ev->level = DP_LOGPARSE_INFO;
		set_summary(ev, "%s%sprompt (%zu bytes)", ev->model, ev->model[0] ? ": " : "", text_len);
		ev->has_body = json_object_get(data, "input") != NULL;
	} else if (strcmp(type, "llm.prediction.output") == 0) {
		ev->source = DP_LOGPARSE_MODEL;
		ev->level = DP_LOGPARSE_INFO;
		const json_t *out = json_object_get(data, "output");
		const json_t *st = json_object_get(data, "stats");
		ev->has_body = out != NULL;
		if (json_is_object(st)) {
			ev->has_stats = 1;
			extract_stats(st, &ev->stats);
			char a[48] = "", b[48] = "", c[48] = "", d[80] = "";
			if (ev->stats.predicted_tokens >= 0)
				snprintf(a, sizeof(a), "%lld tokens", (long long)ev->stats.predicted_tokens);
			if (ev->stats.tokens_per_second >= 0)
				snprintf(b, sizeof(b), "%s%.1f tok/s", a[0] ? ", " : "", ev->stats.tokens_per_second);
			if (ev->stats.ttft_sec >= 0)
				snprintf(c, sizeof(c), "%sTTFT %.2f s", a[0] || b[0] ? ", " : "", ev->stats.ttft_sec);
			if (ev->stats.stop_reason[0])
				snprintf(d, sizeof(d), " (%s)", ev->stats.stop_reason);
			set_summary(ev, "%s%s%s%s%s%s%s", ev->model, ev->model[0] ? ": " : "",
			            a[0] || b[0] || c[0] ? "" : "output", a, b, c, d);
		} else {
			set_summary(ev, "%s%soutput (%zu bytes)", ev->model, ev->model[0] ? ": " : "", text_len);
		}
	} else {
		/* a type this version does not know: keep it, on its stream */
		ev->source = (unsigned)stream_src < DP_LOGPARSE__NSRC ? stream_src : DP_LOGPARSE_SERVER;
		ev->level = lvl < 0 ? DP_LOGPARSE_INFO : (enum dp_logparse_level)lvl;
		const char *text = str_field(data, "message");
		if (!text)
			text = str_field(data, "content");
		snprintf(prefix, sizeof(prefix), "%s%s", ev->type, text ? ": " : "");
		summarise_text(ev, prefix, text ? text : "");
		ev->high = ev->level >= DP_LOGPARSE_WARN;
	}
	return 0;
}

void dp_logparse_event_release(struct dp_logparse_event *ev)
{
	if (!ev)
		return;
	json_decref(ev->payload);
	ev->payload = NULL;
}

static void cut_body_field(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	if (!json_is_string(v))
		return;
	const char *s = json_string_value(v);
	size_t len = json_string_length(v);
	size_t off = dp_logparse_body_offset(s, len);
	if (off >= len)
		return;
	while (off > 0 && s[off - 1] == ' ')
		off--;
	/* off is at an ASCII byte (or 0), so the prefix is valid UTF-8 */
	char buf[DP_LOGPARSE_MAX_STR + 16];
	if (off > DP_LOGPARSE_MAX_STR)
		off = DP_LOGPARSE_MAX_STR;
	while (off > 0 && ((unsigned char)s[off] & 0xc0) == 0x80)
		off--;
	memcpy(buf, s, off);
	size_t n = off;
	if (n)
		buf[n++] = ' ';
	memcpy(buf + n, "{\xe2\x80\xa6}", 5);
	n += 5;
	json_t *nv = json_stringn(buf, n);
	if (nv)
		json_object_set_new(o, k, nv);
	else
		json_object_set_new(o, k, json_string(""));
}

json_t *dp_logparse_redact(const json_t *payload)
{
	if (!payload)
		return NULL;
	json_t *c = json_deep_copy(payload);
	if (!json_is_object(c))
		return c;
	json_object_del(c, "input");
	json_object_del(c, "output");
	cut_body_field(c, "content");
	cut_body_field(c, "message");
	return c;
}

static json_t *num_or_null(double d)
{
	return d >= 0 ? json_real(d) : json_null();
}

static json_t *int_or_null(int64_t v)
{
	return v >= 0 ? json_integer((json_int_t)v) : json_null();
}

json_t *dp_logparse_stats_json(const struct dp_logparse_stats *st)
{
	return json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "tokens_per_second", num_or_null(st->tokens_per_second),
	                 "ttft_sec", num_or_null(st->ttft_sec), "prompt_tokens", int_or_null(st->prompt_tokens),
	                 "predicted_tokens", int_or_null(st->predicted_tokens), "total_tokens",
	                 int_or_null(st->total_tokens), "total_time_sec", num_or_null(st->total_time_sec),
	                 "stop_reason", st->stop_reason[0] ? json_string(st->stop_reason) : json_null());
}
