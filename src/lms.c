/*
 * lms.c - the `lms` bridge (see lms.h for the contract).
 *
 * Layout: command table and argv builder (pure), output parsers (pure:
 * estimate text, ps/ls/survey/status JSON, stderr messages), then the
 * runtime: per-target buckets with a running count and a FIFO of waiting
 * calls, a deferred-completion list (so no callback ever runs inside
 * dp_lms_call), job completions, and log streams.
 *
 * Every call is in exactly one place: a bucket's queue (QUEUED), the running
 * list (RUNNING, owns a dp_job) or the deferred list (DEFERRED, completes on
 * the next loop turn with a status decided up front). A cancelled running
 * call keeps its slot until its child has been reaped, so the per-target
 * limit counts real processes.
 */
#include "lms.h"

#include <ctype.h>
#include <errno.h>
#include <event2/event.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "job.h"
#include "log.h"
#include "xmalloc.h"

#define MAX_STR   1024 /* longest string field kept from lms JSON */
#define MAX_ITEMS 4096 /* longest array kept from lms JSON */
#define MAX_ARG   1024 /* longest model key / identifier passed to lms */

/* ---- commands ------------------------------------------------------------ */

static const struct {
	const char *name;
	int takes_target;
	int local_only;
	int long_running; /* gets load_timeout_ms */
} cmds[DP_LMS__NCMD] = {
        [DP_LMS_PS] = {"ps", 1, 0, 0},
        [DP_LMS_LS] = {"ls", 1, 0, 0},
        [DP_LMS_LOAD] = {"load", 1, 0, 1},
        [DP_LMS_ESTIMATE] = {"load --estimate-only", 1, 0, 0},
        [DP_LMS_UNLOAD] = {"unload", 1, 0, 0},
        [DP_LMS_UNLOAD_ALL] = {"unload --all", 1, 0, 0},
        [DP_LMS_LOG_STREAM] = {"log stream", 1, 0, 0},
        [DP_LMS_RUNTIME_SURVEY] = {"runtime survey", 1, 0, 0},
        [DP_LMS_SERVER_START] = {"server start", 0, 1, 1},
        [DP_LMS_SERVER_STOP] = {"server stop", 0, 1, 0},
        [DP_LMS_SERVER_STATUS] = {"server status", 0, 1, 0},
        [DP_LMS_DAEMON_UP] = {"daemon up", 0, 1, 1},
        [DP_LMS_DAEMON_DOWN] = {"daemon down", 0, 1, 0},
        [DP_LMS_DAEMON_STATUS] = {"daemon status", 0, 1, 0},
        [DP_LMS_VERSION] = {"version", 0, 1, 0},
};

static int cmd_ok(enum dp_lms_cmd c)
{
	return (int)c >= 0 && c < DP_LMS__NCMD;
}

int dp_lms_cmd_takes_target(enum dp_lms_cmd c)
{
	return cmd_ok(c) && cmds[c].takes_target;
}

const char *dp_lms_cmd_name(enum dp_lms_cmd c)
{
	return cmd_ok(c) ? cmds[c].name : "?";
}

const char *dp_lms_status_name(enum dp_lms_status s)
{
	switch (s) {
	case DP_LMS_OK:
		return "ok";
	case DP_LMS_UNAVAILABLE:
		return "unavailable";
	case DP_LMS_BUSY:
		return "busy";
	case DP_LMS_INVALID:
		return "invalid";
	case DP_LMS_FAILED:
		return "failed";
	case DP_LMS_TIMEOUT:
		return "timeout";
	case DP_LMS_TOO_LARGE:
		return "output_too_large";
	case DP_LMS_BAD_OUTPUT:
		return "bad_output";
	case DP_LMS_KILLED:
		return "killed";
	case DP_LMS_SPAWN_FAILED:
		return "spawn_failed";
	case DP_LMS_STOPPED:
		return "stopped";
	case DP_LMS_CANCELLED:
		return "cancelled";
	}
	return "unknown";
}

/* ---- argv ---------------------------------------------------------------- */

static int fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	if (err && errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* lms wants a bare host: no scheme, no port, no path (§6.1). */
static int valid_host(const char *h)
{
	size_t n = strlen(h);
	if (n == 0 || n > 253 || h[0] == '-' || h[0] == '.')
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)h[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
		      c == '-' || c == '_'))
			return 0;
	}
	return 1;
}

int dp_lms_valid_host(const char *host)
{
	return host && valid_host(host);
}

static int valid_bind(const char *h)
{
	size_t n = strlen(h);
	if (n == 0 || n > 64 || h[0] == '-')
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)h[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
		      c == '-' || c == ':'))
			return 0;
	}
	return 1;
}

/* A positional argument: printable, bounded, and never mistaken for an
 * option (lms's parser would read "-x" or "--all" as a flag). */
static int valid_arg(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > MAX_ARG || s[0] == '-')
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f)
			return 0;
	}
	return 1;
}

static int is_loopback(const char *h)
{
	return !h || !*h || strcasecmp(h, "localhost") == 0 || strncmp(h, "127.", 4) == 0;
}

/* "off", "max" or a decimal ratio in [0, 1] (what lms's --gpu parser takes). */
static int valid_gpu(const char *g, char *norm, size_t normlen)
{
	if (strcasecmp(g, "off") == 0 || strcasecmp(g, "max") == 0) {
		snprintf(norm, normlen, "%s", tolower((unsigned char)g[0]) == 'o' ? "off" : "max");
		return 1;
	}
	size_t n = strlen(g);
	if (n == 0 || n > 16 || strspn(g, "0123456789.") != n || strchr(g, '.') != strrchr(g, '.') || g[0] == '.')
		return 0;
	char *end;
	double v = strtod(g, &end);
	if (*end || !isfinite(v) || v < 0 || v > 1)
		return 0;
	snprintf(norm, normlen, "%s", g);
	return 1;
}

static void add(struct dp_lms_argv *a, const char *s)
{
	if (a->argc < DP_LMS_MAX_ARGV) {
		a->argv[a->argc++] = xstrdup(s);
		a->argv[a->argc] = NULL;
	}
}

static void addl(struct dp_lms_argv *a, long v)
{
	char b[32];
	snprintf(b, sizeof b, "%ld", v);
	add(a, b);
}

void dp_lms_argv_release(struct dp_lms_argv *a)
{
	for (int i = 0; i < a->argc; i++)
		free(a->argv[i]);
	a->argc = 0;
	a->argv[0] = NULL;
}

int dp_lms_build_argv(const char *bin, const struct dp_lms_target *t, const struct dp_lms_req *r, struct dp_lms_argv *a,
                      char *err, size_t errlen)
{
	char gpu[24];
	a->argc = 0;
	a->argv[0] = NULL;
	if (!r || !cmd_ok(r->cmd))
		return fail(err, errlen, "unknown lms command");
	if (!bin || !*bin)
		return fail(err, errlen, "no lms binary");
	const char *host = t && t->host && *t->host ? t->host : NULL;
	int port = t ? t->port : 0;
	if (host && !valid_host(host))
		return fail(err, errlen, "invalid lms host (a bare host name or IPv4 address, no scheme or port)");
	if (port < 0 || port > 65535)
		return fail(err, errlen, "invalid lms port %d", port);
	if (cmds[r->cmd].local_only && !is_loopback(host))
		return fail(err, errlen, "'lms %s' acts on the local machine only, not on remote host '%s'",
		            cmds[r->cmd].name, host);

	add(a, bin);
	switch (r->cmd) {
	case DP_LMS_PS:
		add(a, "ps");
		add(a, "--json");
		break;
	case DP_LMS_LS:
		add(a, "ls");
		add(a, "--json");
		break;
	case DP_LMS_LOAD:
	case DP_LMS_ESTIMATE:
		if (!r->model || !valid_arg(r->model))
			return fail(err, errlen, "invalid model key");
		add(a, "load");
		add(a, r->model);
		if (r->gpu) {
			if (!valid_gpu(r->gpu, gpu, sizeof gpu))
				return fail(err, errlen, "invalid gpu offload (off, max or a ratio from 0 to 1)");
			add(a, "--gpu");
			add(a, gpu);
		}
		if (r->context_length < 0 || r->context_length > INT32_MAX)
			return fail(err, errlen, "invalid context length");
		if (r->context_length > 0) {
			add(a, "--context-length");
			addl(a, r->context_length);
		}
		if (r->cmd == DP_LMS_LOAD) {
			if (r->ttl_s < 0 || r->ttl_s > INT32_MAX)
				return fail(err, errlen, "invalid ttl");
			if (r->ttl_s > 0) {
				add(a, "--ttl");
				addl(a, r->ttl_s);
			}
			if (r->parallel < 0 || r->parallel > 1024)
				return fail(err, errlen, "invalid parallel");
			if (r->parallel > 0) {
				add(a, "--parallel");
				addl(a, r->parallel);
			}
			if (r->identifier) {
				if (!valid_arg(r->identifier))
					return fail(err, errlen, "invalid identifier");
				add(a, "--identifier");
				add(a, r->identifier);
			}
		}
		if (r->exact)
			add(a, "--exact");
		/* Never the interactive picker: it would wait for a terminal. */
		add(a, "--yes");
		if (r->cmd == DP_LMS_ESTIMATE)
			add(a, "--estimate-only");
		break;
	case DP_LMS_UNLOAD:
		if (!r->model || !valid_arg(r->model))
			return fail(err, errlen, "invalid instance identifier");
		add(a, "unload");
		add(a, r->model);
		break;
	case DP_LMS_UNLOAD_ALL:
		add(a, "unload");
		add(a, "--all");
		break;
	case DP_LMS_LOG_STREAM:
		if (!r->source ||
		    (strcmp(r->source, "server") && strcmp(r->source, "model") && strcmp(r->source, "runtime")))
			return fail(err, errlen, "invalid log source (server, model or runtime)");
		add(a, "log");
		add(a, "stream");
		add(a, "--source");
		add(a, r->source);
		if (r->filter) {
			if (strcmp(r->source, "model"))
				return fail(err, errlen, "a log filter applies to the model source only");
			if (strcmp(r->filter, "input") && strcmp(r->filter, "output") &&
			    strcmp(r->filter, "input,output"))
				return fail(err, errlen, "invalid log filter (input, output or input,output)");
			add(a, "--filter");
			add(a, r->filter);
		}
		add(a, "--json");
		break;
	case DP_LMS_RUNTIME_SURVEY:
		add(a, "runtime");
		add(a, "survey");
		add(a, "--json");
		if (r->refresh)
			add(a, "--refresh");
		break;
	case DP_LMS_SERVER_START:
		add(a, "server");
		add(a, "start");
		if (r->server_port < 0 || r->server_port > 65535)
			return fail(err, errlen, "invalid server port %d", r->server_port);
		if (r->server_port > 0) {
			add(a, "--port");
			addl(a, r->server_port);
		}
		if (r->bind) {
			if (!valid_bind(r->bind))
				return fail(err, errlen, "invalid bind address");
			add(a, "--bind");
			add(a, r->bind);
		}
		if (r->cors)
			add(a, "--cors");
		break;
	case DP_LMS_SERVER_STOP:
		add(a, "server");
		add(a, "stop");
		break;
	case DP_LMS_SERVER_STATUS:
		add(a, "server");
		add(a, "status");
		add(a, "--json");
		break;
	case DP_LMS_DAEMON_UP:
		add(a, "daemon");
		add(a, "up");
		add(a, "--json");
		break;
	case DP_LMS_DAEMON_DOWN:
		add(a, "daemon");
		add(a, "down");
		break;
	case DP_LMS_DAEMON_STATUS:
		add(a, "daemon");
		add(a, "status");
		add(a, "--json");
		break;
	case DP_LMS_VERSION:
		add(a, "version");
		add(a, "--json");
		break;
	case DP_LMS__NCMD:
		break;
	}
	if (cmds[r->cmd].takes_target) {
		if (host) {
			add(a, "--host");
			add(a, host);
		}
		if (port > 0) {
			add(a, "--port");
			addl(a, port);
		}
	}
	return 0;
}

/* ---- text helpers ---------------------------------------------------------- */

/* Length of an ANSI escape sequence at p (0 when none). */
static size_t ansi_len(const char *p, size_t n)
{
	if (n < 2 || p[0] != 0x1b)
		return 0;
	if (p[1] != '[')
		return 2;
	size_t i = 2;
	while (i < n && ((p[i] >= '0' && p[i] <= '9') || p[i] == ';' || p[i] == '?'))
		i++;
	return i < n ? i + 1 : n;
}

void dp_lms_error_message(const char *err, size_t len, char *out, size_t outlen)
{
	size_t o = 0;
	int space = 0;
	if (!outlen)
		return;
	for (size_t i = 0; i < len && o + 1 < outlen;) {
		size_t a = ansi_len(err + i, len - i);
		if (a) {
			i += a;
			continue;
		}
		unsigned char c = (unsigned char)err[i++];
		if (c < 0x20 || c == 0x7f || c == ' ') {
			space = o > 0;
			continue;
		}
		if (space && o + 2 < outlen) {
			out[o++] = ' ';
		}
		space = 0;
		out[o++] = (char)c;
	}
	/* Do not end inside a UTF-8 sequence. */
	if (o + 1 >= outlen) {
		while (o > 0 && ((unsigned char)out[o - 1] & 0xC0) == 0x80)
			o--;
		if (o > 0 && ((unsigned char)out[o - 1] & 0xC0) == 0xC0)
			o--;
	}
	out[o] = '\0';
}

/* One line of lms logger output, cleaned: ANSI removed, trimmed, the
 * logger's level letter ("I  ") and a "[prefix]" dropped. */
static size_t clean_line(const char *p, size_t n, char *out, size_t outlen)
{
	size_t o = 0;
	for (size_t i = 0; i < n && o + 1 < outlen;) {
		size_t a = ansi_len(p + i, n - i);
		if (a) {
			i += a;
			continue;
		}
		unsigned char c = (unsigned char)p[i++];
		out[o++] = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
	}
	out[o] = '\0';
	char *s = out;
	while (*s == ' ')
		s++;
	if (s[0] && strchr("IWED", s[0]) && s[1] == ' ') {
		s++;
		while (*s == ' ')
			s++;
	}
	if (s[0] == '[') {
		char *rb = strchr(s, ']');
		if (rb && rb - s < 64) {
			s = rb + 1;
			while (*s == ' ')
				s++;
		}
	}
	size_t m = strlen(s);
	while (m > 0 && s[m - 1] == ' ')
		m--;
	memmove(out, s, m);
	out[m] = '\0';
	return m;
}

static const char *after_key(const char *line, const char *key)
{
	size_t k = strlen(key);
	if (strncasecmp(line, key, k) != 0)
		return NULL;
	line += k;
	while (*line == ' ' || *line == '\t')
		line++;
	return line;
}

int dp_lms_parse_size(const char *s, size_t len, uint64_t *out)
{
	static const struct {
		const char *unit;
		double factor;
	} units[] = {
	        {"Bytes", 1},
	        {"bytes", 1},
	        {"B", 1},
	        {"KiB", 1024.0},
	        {"MiB", 1048576.0},
	        {"GiB", 1073741824.0},
	        {"TiB", 1099511627776.0},
	        {"PiB", 1125899906842624.0},
	        {"KB", 1e3},
	        {"kB", 1e3},
	        {"MB", 1e6},
	        {"GB", 1e9},
	        {"TB", 1e12},
	        {"PB", 1e15},
	};
	char num[40];
	size_t i = 0, nd = 0;
	while (i < len && (s[i] == ' ' || s[i] == '\t'))
		i++;
	size_t st = i;
	int dots = 0;
	while (i < len && ((s[i] >= '0' && s[i] <= '9') || s[i] == '.')) {
		dots += s[i] == '.';
		nd++;
		i++;
	}
	if (nd == 0 || nd >= sizeof num || dots > 1 || s[st] == '.')
		return -EINVAL;
	memcpy(num, s + st, nd);
	num[nd] = '\0';
	double v = strtod(num, NULL);
	while (i < len && (s[i] == ' ' || s[i] == '\t'))
		i++;
	size_t ul = len - i;
	while (ul > 0 && (s[i + ul - 1] == ' ' || s[i + ul - 1] == '\t' || s[i + ul - 1] == '\r'))
		ul--;
	for (size_t u = 0; u < sizeof units / sizeof units[0]; u++) {
		if (strlen(units[u].unit) == ul && memcmp(units[u].unit, s + i, ul) == 0) {
			double b = v * units[u].factor;
			if (!isfinite(b) || b < 0 || b >= 9.2e18)
				return -EINVAL;
			*out = (uint64_t)(b + 0.5);
			return 0;
		}
	}
	return -EINVAL;
}

/* "65,536" (toLocaleString) or "65536" -> 65536; separators ignored. */
static int parse_grouped_int(const char *s, long *out)
{
	long v = 0;
	int nd = 0;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p >= '0' && *p <= '9') {
			if (++nd > 12)
				return -EINVAL;
			v = v * 10 + (*p - '0');
		} else if (*p == ',' || *p == '.' || *p == ' ' || *p == '_' || *p == '\'' || *p >= 0x80) {
			continue; /* grouping, incl. UTF-8 no-break spaces */
		} else {
			return -EINVAL;
		}
	}
	if (nd == 0)
		return -EINVAL;
	*out = v;
	return 0;
}

int dp_lms_parse_estimate(const char *text, size_t len, struct dp_lms_estimate *e)
{
	char line[1024];
	int have_gpu = 0, have_total = 0, have_verdict = 0;
	memset(e, 0, sizeof *e);
	e->context_length = -1;
	e->gpu_offload_pct = -1;
	e->fits = -1;
	size_t i = 0;
	while (i < len) {
		const char *nl = memchr(text + i, '\n', len - i);
		size_t n = nl ? (size_t)(nl - (text + i)) : len - i;
		clean_line(text + i, n, line, sizeof line);
		i += n + (nl ? 1 : 0);
		const char *v;
		if ((v = after_key(line, "Estimated GPU Memory:"))) {
			if (dp_lms_parse_size(v, strlen(v), &e->gpu_bytes) < 0)
				return -EINVAL;
			have_gpu = 1;
		} else if ((v = after_key(line, "Estimated Total Memory:"))) {
			if (dp_lms_parse_size(v, strlen(v), &e->total_bytes) < 0)
				return -EINVAL;
			have_total = 1;
		} else if ((v = after_key(line, "Estimate:"))) {
			if (strstr(v, "will fail to load"))
				e->fits = 0;
			else if (strstr(v, "may be loaded"))
				e->fits = 1;
			else
				return -EINVAL;
			have_verdict = 1;
		} else if ((v = after_key(line, "Model:"))) {
			size_t m = strlen(v);
			if (m >= sizeof e->model) {
				m = sizeof e->model - 1;
				while (m > 0 && ((unsigned char)v[m] & 0xC0) == 0x80)
					m--; /* do not cut a UTF-8 sequence */
			}
			memcpy(e->model, v, m);
			e->model[m] = '\0';
		} else if ((v = after_key(line, "Context Length:"))) {
			if (parse_grouped_int(v, &e->context_length) < 0)
				return -EINVAL;
		} else if ((v = after_key(line, "GPU Offload:"))) {
			char *end;
			double pct = strtod(v, &end);
			if (end == v || *end != '%' || !isfinite(pct) || pct < 0 || pct > 100.001)
				return -EINVAL;
			e->gpu_offload_pct = pct;
		} else if ((v = after_key(line, "Confidence:"))) {
			e->confidence_low = strncasecmp(v, "low", 3) == 0;
		}
	}
	return have_gpu && have_total && have_verdict ? 0 : -EINVAL;
}

json_t *dp_lms_estimate_json(const struct dp_lms_estimate *e)
{
	return json_pack("{s:s, s:o, s:o, s:I, s:I, s:s, s:b}", "model", e->model, "context_length",
	                 e->context_length >= 0 ? json_integer(e->context_length) : json_null(), "gpu_offload_pct",
	                 e->gpu_offload_pct >= 0 ? json_real(e->gpu_offload_pct) : json_null(), "gpu_bytes",
	                 (json_int_t)e->gpu_bytes, "total_bytes", (json_int_t)e->total_bytes, "confidence",
	                 e->confidence_low ? "low" : "high", "fits", e->fits == 1);
}

/* ---- JSON helpers -------------------------------------------------------------- */

/* Object member by name; exact first, then ignoring case. */
static json_t *jget(json_t *o, const char *k)
{
	if (!json_is_object(o))
		return NULL;
	json_t *v = json_object_get(o, k);
	if (v)
		return v;
	const char *key;
	json_object_foreach(o, key, v) if (strcasecmp(key, k) == 0) return v;
	return NULL;
}

static json_t *jstr(json_t *o, const char *k)
{
	json_t *v = jget(o, k);
	if (!json_is_string(v) || json_string_length(v) > MAX_STR)
		return json_null();
	return json_stringn(json_string_value(v), json_string_length(v));
}

static json_t *jint(json_t *o, const char *k)
{
	json_t *v = jget(o, k);
	if (json_is_integer(v))
		return json_integer(json_integer_value(v));
	if (json_is_real(v)) {
		double d = json_real_value(v);
		if (isfinite(d) && d == floor(d) && fabs(d) < 9007199254740992.0)
			return json_integer((json_int_t)d);
	}
	return json_null();
}

static json_t *jbool(json_t *o, const char *k)
{
	json_t *v = jget(o, k);
	return json_is_boolean(v) ? json_boolean(json_is_true(v)) : json_null();
}

static void set(json_t *o, const char *k, json_t *v)
{
	json_object_set_new(o, k, v ? v : json_null());
}

static json_t *parse_json(const char *s, size_t len, char *err, size_t errlen)
{
	json_error_t je;
	json_t *j = json_loadb(s, len, 0, &je);
	if (!j)
		fail(err, errlen, "invalid JSON at line %d: %s", je.line, je.text);
	return j;
}

/* Lower-case alphanumerics only: "Incompatible app version" and
 * "incompatibleAppVersion" both become "incompatibleappversion". */
static void squash(const char *s, char *out, size_t outlen)
{
	size_t o = 0;
	for (; *s && o + 1 < outlen; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z'))
			out[o++] = (char)c;
		else if (c >= 'A' && c <= 'Z')
			out[o++] = (char)(c - 'A' + 'a');
	}
	out[o] = '\0';
}

static const char *const enum_status[] = {"ok", "noCompatibleBackends", NULL};
static const char *const enum_compat[] = {"compatible",
                                          "incompatibleAppVersion",
                                          "incompatibleBackendVersion",
                                          "invalidCpuArchitecture",
                                          "invalidCpuInstructionSetExtensions",
                                          "cpuSurveyUnsuccessful",
                                          "gpuSurveyUnsuccessful",
                                          "gpuRequiredButNoneFound",
                                          "gpuTargetsRequiredButNoneSpecified",
                                          "gpuDriverUnsupported",
                                          "noSupportedGpus",
                                          "incompatiblePlatform",
                                          "libraryOutdated",
                                          "invalidLibraryVersionFormat",
                                          "missingLibraries",
                                          "errorSurveyingHardware",
                                          "errorCheckingCompatibility",
                                          "unknown",
                                          NULL};
static const char *const enum_result[] = {"unset", "success", "error", "noDevicesFound", "invalidDevice", NULL};
static const char *const enum_arch[] = {"x86_64", "ARM64", "unknown", NULL};
static const char *const enum_ext[] = {"AVX2", "AdvSIMD", "AVX", NULL};
static const char *const enum_platform[] = {"unknown", "shell", "ROCm", "CUDA", "OpenCl", "Metal", "Vulkan", NULL};
static const char *const enum_integration[] = {"unknown", "integrated", "discrete", NULL};
static const char *const enum_format[] = {"GGUF", "MLX", "GGML", "PT", "PTE", "ONNX", "safetensors", NULL};
static const char *const enum_ps_status[] = {"idle", "processingPrompt", "generating", "computingEmbedding", NULL};

static const char *const *enum_table(const char *kind)
{
	static const struct {
		const char *kind;
		const char *const *vals;
	} t[] = {
	        {"status", enum_status},           {"compatibility", enum_compat}, {"result", enum_result},
	        {"architecture", enum_arch},       {"extension", enum_ext},        {"platform", enum_platform},
	        {"integration", enum_integration}, {"format", enum_format},        {"ps_status", enum_ps_status},
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
		if (strcmp(t[i].kind, kind) == 0)
			return t[i].vals;
	return NULL;
}

const char *dp_lms_survey_enum(const char *kind, const char *value, char *buf, size_t buflen)
{
	char a[128], b[128];
	const char *const *vals = enum_table(kind);
	squash(value, a, sizeof a);
	/* The old builds misspelt one value ("CPU survey unsuccesful"). */
	if (strcmp(a, "cpusurveyunsuccesful") == 0)
		snprintf(a, sizeof a, "cpusurveyunsuccessful");
	for (const char *const *v = vals; v && *v; v++) {
		squash(*v, b, sizeof b);
		if (strcmp(a, b) == 0)
			return *v;
	}
	/* Unknown: camelCase of its words, letters and digits only. */
	size_t o = 0;
	int up = 0, first = 1;
	for (const char *s = value; *s && o + 1 < buflen && o < 64; s++) {
		unsigned char c = (unsigned char)*s;
		int alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
		if (!alnum) {
			up = !first;
			continue;
		}
		if (first && c >= 'A' && c <= 'Z')
			c = (unsigned char)(c - 'A' + 'a');
		else if (up && c >= 'a' && c <= 'z')
			c = (unsigned char)(c - 'a' + 'A');
		buf[o++] = (char)c;
		first = up = 0;
	}
	if (buflen)
		buf[o] = '\0';
	if (o == 0)
		snprintf(buf, buflen, "unknown");
	return buf;
}

static json_t *jenum(json_t *o, const char *k, const char *kind)
{
	json_t *v = jget(o, k);
	char buf[80];
	if (!json_is_string(v) || json_string_length(v) > 128)
		return json_null();
	return json_string(dp_lms_survey_enum(kind, json_string_value(v), buf, sizeof buf));
}

static json_t *quantization(json_t *o)
{
	json_t *q = jget(o, "quantization");
	if (!json_is_object(q))
		return json_null();
	json_t *r = json_object();
	set(r, "name", jstr(q, "name"));
	set(r, "bits", jint(q, "bits"));
	return r;
}

/* Fields shared by `ls` (ModelInfo) and `ps` (loaded instance) entries. */
static void model_info(json_t *out, json_t *m)
{
	set(out, "model_key", jstr(m, "modelKey"));
	set(out, "type", jstr(m, "type"));
	set(out, "format", jstr(m, "format"));
	set(out, "display_name", jstr(m, "displayName"));
	set(out, "publisher", jstr(m, "publisher"));
	set(out, "path", jstr(m, "path"));
	set(out, "size_bytes", jint(m, "sizeBytes"));
	set(out, "indexed_model_identifier", jstr(m, "indexedModelIdentifier"));
	set(out, "device_identifier", jstr(m, "deviceIdentifier"));
	set(out, "params", jstr(m, "paramsString"));
	set(out, "architecture", jstr(m, "architecture"));
	set(out, "quantization", quantization(m));
	set(out, "max_context_length", jint(m, "maxContextLength"));
	set(out, "vision", jbool(m, "vision"));
	set(out, "trained_for_tool_use", jbool(m, "trainedForToolUse"));
}

static json_t *parse_array(const char *s, size_t len, const char *what, int ps, char *err, size_t errlen)
{
	json_t *j = parse_json(s, len, err, errlen);
	if (!j)
		return NULL;
	if (!json_is_array(j)) {
		json_decref(j);
		fail(err, errlen, "%s: expected a JSON array", what);
		return NULL;
	}
	json_t *out = json_array();
	size_t i;
	json_t *m;
	json_array_foreach(j, i, m)
	{
		if (i >= MAX_ITEMS)
			break;
		if (!json_is_object(m))
			continue;
		json_t *e = json_object();
		model_info(e, m);
		if (ps) {
			set(e, "identifier", jstr(m, "identifier"));
			set(e, "context_length", jint(m, "contextLength"));
			set(e, "ttl_ms", jint(m, "ttlMs"));
			set(e, "last_used_ms", jint(m, "lastUsedTime"));
			set(e, "status", jenum(m, "status", "ps_status"));
			set(e, "queued", jint(m, "queued"));
			set(e, "parallel", jint(m, "parallel"));
			if (json_is_null(json_object_get(e, "identifier")) &&
			    json_is_null(json_object_get(e, "model_key"))) {
				json_decref(e);
				continue;
			}
		} else {
			set(e, "selected_variant", jstr(m, "selectedVariant"));
			if (json_is_null(json_object_get(e, "model_key")) && json_is_null(json_object_get(e, "path"))) {
				json_decref(e);
				continue;
			}
		}
		json_array_append_new(out, e);
	}
	json_decref(j);
	return out;
}

json_t *dp_lms_parse_ps(const char *s, size_t len, char *err, size_t errlen)
{
	return parse_array(s, len, "lms ps", 1, err, errlen);
}

json_t *dp_lms_parse_ls(const char *s, size_t len, char *err, size_t errlen)
{
	return parse_array(s, len, "lms ls", 0, err, errlen);
}

static json_t *enum_array(json_t *o, const char *k, const char *kind)
{
	json_t *a = jget(o, k), *out = json_array(), *v;
	size_t i;
	char buf[80];
	if (!json_is_array(a))
		return out;
	json_array_foreach(a, i, v)
	{
		if (i >= 64)
			break;
		if (json_is_string(v) && json_string_length(v) <= 128)
			json_array_append_new(
			        out, json_string(dp_lms_survey_enum(kind, json_string_value(v), buf, sizeof buf)));
	}
	return out;
}

static json_t *result_info(json_t *o)
{
	if (!json_is_object(o))
		return json_null();
	json_t *r = json_object();
	set(r, "code", jenum(o, "code", "result"));
	set(r, "message", jstr(o, "message"));
	return r;
}

static json_t *survey_gpu(json_t *g)
{
	json_t *o = json_object();
	set(o, "name", jstr(g, "name"));
	set(o, "device_id", jint(g, "deviceId"));
	json_t *total = jint(g, "totalMemoryCapacityBytes");
	json_t *ded = jint(g, "dedicatedMemoryCapacityBytes");
	/* What lms's text mode shows as VRAM: dedicated if > 0, else total. */
	json_t *vram = json_is_integer(ded) && json_integer_value(ded) > 0 ? json_incref(ded) : json_incref(total);
	set(o, "total_bytes", total);
	set(o, "dedicated_bytes", ded);
	set(o, "vram_bytes", vram);
	set(o, "integration", jenum(g, "integrationType", "integration"));
	set(o, "platform", jenum(g, "detectionPlatform", "platform"));
	set(o, "platform_version", jstr(g, "detectionPlatformVersion"));
	return o;
}

static json_t *survey_engine(json_t *e)
{
	json_t *o = json_object();
	set(o, "name", jstr(e, "name"));
	set(o, "version", jstr(e, "version"));
	set(o, "engine", jstr(e, "engine"));
	set(o, "platform", jstr(e, "platform"));
	set(o, "gpu_framework", jenum(e, "gpuFramework", "platform"));
	json_t *c = jget(e, "compatibility");
	json_t *co = json_object();
	set(co, "status", jenum(c, "status", "compatibility"));
	set(co, "message", jstr(c, "message"));
	set(o, "compatibility", co);
	set(o, "formats", enum_array(e, "supportedModelFormatNames", "format"));

	json_t *hw = jget(e, "hardwareSurvey");
	json_t *gs = jget(hw, "gpuSurveyResult");
	set(o, "gpu_result", result_info(jget(gs, "result")));
	json_t *gpus = json_array(), *g;
	size_t i;
	json_t *gi = jget(gs, "gpuInfo");
	if (json_is_array(gi))
		json_array_foreach(gi, i, g)
		{
			if (i >= 64)
				break;
			if (json_is_object(g))
				json_array_append_new(gpus, survey_gpu(g));
		}
	set(o, "gpus", gpus);

	json_t *cs = jget(hw, "cpuSurveyResult");
	if (json_is_object(cs)) {
		json_t *cpu = json_object();
		json_t *ci = jget(cs, "cpuInfo");
		set(cpu, "result", result_info(jget(cs, "result")));
		set(cpu, "name", jstr(ci, "name"));
		set(cpu, "architecture", jenum(ci, "architecture", "architecture"));
		set(cpu, "extensions", enum_array(ci, "supportedInstructionSetExtensions", "extension"));
		set(o, "cpu", cpu);
	} else {
		set(o, "cpu", json_null());
	}

	json_t *mi = jget(e, "memoryInfo");
	if (json_is_object(mi)) {
		json_t *m = json_object();
		set(m, "ram_bytes", jint(mi, "ramCapacity"));
		set(m, "vram_bytes", jint(mi, "vramCapacity"));
		set(m, "total_bytes", jint(mi, "totalMemory"));
		set(o, "memory", m);
	} else {
		set(o, "memory", json_null());
	}
	return o;
}

json_t *dp_lms_parse_survey(const char *s, size_t len, char *err, size_t errlen)
{
	json_t *j = parse_json(s, len, err, errlen);
	if (!j)
		return NULL;
	if (!json_is_object(j) || !json_is_string(jget(j, "status"))) {
		json_decref(j);
		fail(err, errlen, "lms runtime survey: expected an object with a status");
		return NULL;
	}
	json_t *out = json_object();
	set(out, "status", jenum(j, "status", "status"));
	json_t *engines = json_array(), *e;
	size_t i;
	json_t *ea = jget(j, "engines");
	if (json_is_array(ea))
		json_array_foreach(ea, i, e)
		{
			if (i >= 64)
				break;
			if (json_is_object(e))
				json_array_append_new(engines, survey_engine(e));
		}
	/* The primary view: the llama.cpp engine's survey (what lms's text mode
	 * shows), else the first engine that found GPUs, else the first. */
	json_t *primary = NULL;
	json_array_foreach(engines, i, e)
	{
		const char *en = json_string_value(json_object_get(e, "engine"));
		const char *nm = json_string_value(json_object_get(e, "name"));
		if ((en && strstr(en, "llama.cpp")) || (nm && strstr(nm, "llama.cpp"))) {
			primary = e;
			break;
		}
	}
	if (!primary)
		json_array_foreach(engines, i, e) if (json_array_size(json_object_get(e, "gpus")) > 0)
		{
			primary = e;
			break;
		}
	if (!primary)
		primary = json_array_get(engines, 0);
	set(out, "primary_engine", primary ? json_incref(json_object_get(primary, "name")) : json_null());
	set(out, "gpus", primary ? json_incref(json_object_get(primary, "gpus")) : json_array());
	set(out, "memory", primary ? json_incref(json_object_get(primary, "memory")) : json_null());
	set(out, "engines", engines);
	json_decref(j);
	return out;
}

json_t *dp_lms_parse_status(enum dp_lms_cmd c, const char *s, size_t len, char *err, size_t errlen)
{
	json_t *j = parse_json(s, len, err, errlen);
	if (!j)
		return NULL;
	json_t *out = NULL;
	if (!json_is_object(j)) {
		fail(err, errlen, "lms %s: expected a JSON object", dp_lms_cmd_name(c));
		goto done;
	}
	switch (c) {
	case DP_LMS_SERVER_STATUS:
		if (!json_is_boolean(jget(j, "running"))) {
			fail(err, errlen, "lms server status: no running flag");
			goto done;
		}
		out = json_object();
		set(out, "running", jbool(j, "running"));
		set(out, "port", jint(j, "port"));
		break;
	case DP_LMS_DAEMON_STATUS:
	case DP_LMS_DAEMON_UP:
		if (!json_is_string(jget(j, "status"))) {
			fail(err, errlen, "lms %s: no status", dp_lms_cmd_name(c));
			goto done;
		}
		out = json_object();
		set(out, "status", jstr(j, "status"));
		set(out, "pid", jint(j, "pid"));
		set(out, "is_daemon", jbool(j, "isDaemon"));
		set(out, "version", jstr(j, "version"));
		break;
	case DP_LMS_VERSION:
		if (!json_is_string(jget(j, "version"))) {
			fail(err, errlen, "lms version: no version");
			goto done;
		}
		out = json_object();
		set(out, "version", jstr(j, "version"));
		break;
	default:
		fail(err, errlen, "lms %s prints no status object", dp_lms_cmd_name(c));
		break;
	}
done:
	json_decref(j);
	return out;
}

/* ---- the bridge --------------------------------------------------------------- */

enum call_state { C_NEW, C_QUEUED, C_RUNNING, C_DEFERRED, C_DEAD };

struct bucket;

struct dp_lms_call {
	struct dp_lms *l;
	struct bucket *b;
	struct dp_lms_call *prev, *next;
	enum call_state state;
	enum dp_lms_cmd cmd;
	struct dp_lms_argv argv;
	int timeout_ms;
	int cancelled;
	dp_lms_cb cb;
	void *arg;
	struct dp_job *job;
	enum dp_lms_status dstatus; /* C_DEFERRED */
	char *dmsg;
	struct timespec created, started;
};

struct clist {
	struct dp_lms_call *head, *tail;
	int n;
};

struct bucket {
	struct bucket *next;
	char *key;
	int running;
	struct clist queue;
};

struct dp_lms_stream {
	struct dp_lms *l;
	struct dp_lms_stream *prev, *next;
	struct dp_job *job;
	dp_lms_line_fn on_line;
	dp_lms_cb on_exit;
	void *arg;
	int cancelled;
};

struct dp_lms {
	struct event_base *base;
	struct dp_jobs *jobs;
	struct dp_lms_config cfg;
	char bin[PATH_MAX];
	int available;
	char reason[PATH_MAX + 96];
	struct bucket *buckets;
	struct clist running, deferred;
	struct event *defer_ev;
	struct dp_lms_stream *streams;
	int nstreams;
	int freeing;
};

static const char *const child_env[] = {
        "FORCE_COLOR=0", /* chalk: plain text on stderr, whatever the caller's env */
        NULL,
};

static void clist_push(struct clist *l, struct dp_lms_call *c)
{
	c->next = NULL;
	c->prev = l->tail;
	if (l->tail)
		l->tail->next = c;
	else
		l->head = c;
	l->tail = c;
	l->n++;
}

static void clist_del(struct clist *l, struct dp_lms_call *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		l->head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		l->tail = c->prev;
	c->prev = c->next = NULL;
	l->n--;
}

static uint64_t ms_between(const struct timespec *a, const struct timespec *b)
{
	int64_t ms = (int64_t)(b->tv_sec - a->tv_sec) * 1000 + (b->tv_nsec - a->tv_nsec) / 1000000;
	return ms < 0 ? 0 : (uint64_t)ms;
}

void dp_lms_config_defaults(struct dp_lms_config *c)
{
	memset(c, 0, sizeof *c);
	c->timeout_ms = 30000;
	c->load_timeout_ms = 600000;
	c->max_stdout = 4u << 20;
	c->max_stderr = 64u << 10;
	c->max_line = 1u << 20;
	c->per_target = 2;
	c->queue_max = 16;
	c->max_streams = 64;
	c->kill_grace_ms = 2000;
}

int dp_lms_available(const struct dp_lms *l, const char **reason)
{
	if (reason)
		*reason = l->available ? "" : l->reason;
	return l->available;
}

const char *dp_lms_bin(const struct dp_lms *l)
{
	return l->available ? l->bin : "";
}

int dp_lms_stream_count(const struct dp_lms *l)
{
	return l->nstreams;
}

static struct bucket *bucket_find(struct dp_lms *l, const char *key, int create)
{
	for (struct bucket *b = l->buckets; b; b = b->next)
		if (strcmp(b->key, key) == 0)
			return b;
	if (!create)
		return NULL;
	struct bucket *b = xcalloc(1, sizeof *b);
	b->key = xstrdup(key);
	b->next = l->buckets;
	l->buckets = b;
	return b;
}

/* Idle buckets go away: target keys come and go. */
static void bucket_gc(struct dp_lms *l, struct bucket *b)
{
	if (!b || b->running || b->queue.n)
		return;
	for (struct bucket **p = &l->buckets; *p; p = &(*p)->next)
		if (*p == b) {
			*p = b->next;
			break;
		}
	free(b->key);
	free(b);
}

void dp_lms_load_of(const struct dp_lms *l, const char *key, int *running, int *queued)
{
	struct bucket *b = bucket_find((struct dp_lms *)l, key ? key : "local", 0);
	*running = b ? b->running : 0;
	*queued = b ? b->queue.n : 0;
}

static void call_free(struct dp_lms_call *c)
{
	dp_lms_argv_release(&c->argv);
	free(c->dmsg);
	free(c);
}

static void defer(struct dp_lms_call *c, enum dp_lms_status st, const char *msg)
{
	struct dp_lms *l = c->l;
	c->state = C_DEFERRED;
	c->b = NULL; /* its bucket may go away before the callback runs */
	c->dstatus = st;
	c->dmsg = xstrdup(msg);
	clist_push(&l->deferred, c);
	event_active(l->defer_ev, EV_TIMEOUT, 0);
}

static void complete(struct dp_lms_call *c, struct dp_lms_result *res)
{
	res->cmd = c->cmd;
	res->code = dp_lms_status_name(res->status);
	if (!res->message)
		res->message = "";
	if (!res->out)
		res->out = "";
	if (!res->err)
		res->err = "";
	if (c->cb && !c->cancelled)
		c->cb(res, c->arg);
}

static void defer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dp_lms *l = arg;
	struct clist todo = l->deferred; /* new deferrals from callbacks wait a turn */
	l->deferred.head = l->deferred.tail = NULL;
	l->deferred.n = 0;
	while (todo.head) {
		struct dp_lms_call *c = todo.head;
		clist_del(&todo, c);
		c->state = C_DEAD;
		struct dp_lms_result res = {0};
		res.status = l->freeing ? DP_LMS_CANCELLED : c->dstatus;
		res.message = l->freeing ? "lms bridge shut down" : c->dmsg;
		res.exit_code = -1;
		complete(c, &res);
		call_free(c);
	}
}

static void job_done(struct dp_job *job, const struct dp_job_result *jr, void *arg);
static void pump(struct dp_lms *l, struct bucket *b);

static int timeout_for(const struct dp_lms *l, const struct dp_lms_call *c, int req_timeout)
{
	if (req_timeout > 0)
		return req_timeout;
	return cmds[c->cmd].long_running ? l->cfg.load_timeout_ms : l->cfg.timeout_ms;
}

static void run_call(struct dp_lms_call *c)
{
	struct dp_lms *l = c->l;
	struct dp_job_spec spec = {
	        .argv = (const char *const *)c->argv.argv,
	        .env = child_env,
	        .max_stdout = l->cfg.max_stdout,
	        .max_stderr = l->cfg.max_stderr,
	        .timeout_ms = c->timeout_ms,
	        .kill_grace_ms = l->cfg.kill_grace_ms,
	        .on_done = job_done,
	        .arg = c,
	};
	clock_gettime(CLOCK_MONOTONIC, &c->started);
	c->b->running++;
	c->state = C_RUNNING;
	clist_push(&l->running, c);
	int r = dp_job_start(l->jobs, &spec, &c->job);
	if (r == 0)
		return;
	clist_del(&l->running, c);
	c->b->running--;
	char msg[PATH_MAX + 64];
	if (r == -ENOENT) {
		snprintf(msg, sizeof msg, "lms not found at '%s' (set LMS_BIN)", l->bin);
		defer(c, DP_LMS_UNAVAILABLE, msg);
	} else {
		snprintf(msg, sizeof msg, "cannot start lms: %s", strerror(-r));
		defer(c, DP_LMS_SPAWN_FAILED, msg);
	}
}

static void pump(struct dp_lms *l, struct bucket *b)
{
	while (!l->freeing && b->running < l->cfg.per_target && b->queue.head) {
		struct dp_lms_call *c = b->queue.head;
		clist_del(&b->queue, c);
		run_call(c);
	}
	bucket_gc(l, b);
}

struct dp_lms_call *dp_lms_call(struct dp_lms *l, const struct dp_lms_target *t, const struct dp_lms_req *r,
                                dp_lms_cb cb, void *arg)
{
	static struct dp_lms_call dead = {.state = C_DEAD};
	char err[256];
	if (l->freeing)
		return &dead;
	struct dp_lms_call *c = xcalloc(1, sizeof *c);
	c->l = l;
	c->cb = cb;
	c->arg = arg;
	c->cmd = r && cmd_ok(r->cmd) ? r->cmd : DP_LMS_PS;
	clock_gettime(CLOCK_MONOTONIC, &c->created);
	if (!r || !cmd_ok(r->cmd) || r->cmd == DP_LMS_LOG_STREAM) {
		defer(c, DP_LMS_INVALID, "not a one-shot lms command (log streams use dp_lms_stream_start)");
		return c;
	}
	if (!l->available) {
		defer(c, DP_LMS_UNAVAILABLE, l->reason);
		return c;
	}
	if (dp_lms_build_argv(l->bin, t, r, &c->argv, err, sizeof err) < 0) {
		defer(c, DP_LMS_INVALID, err);
		return c;
	}
	c->timeout_ms = timeout_for(l, c, r->timeout_ms);
	const char *key = t && t->key ? t->key : "local";
	struct bucket *b = bucket_find(l, key, 1);
	c->b = b;
	if (b->running < l->cfg.per_target && !b->queue.head) {
		run_call(c);
	} else if (b->queue.n < l->cfg.queue_max) {
		c->state = C_QUEUED;
		clist_push(&b->queue, c);
	} else {
		snprintf(err, sizeof err, "too many lms calls for this target (%d running, %d waiting)", b->running,
		         b->queue.n);
		defer(c, DP_LMS_BUSY, err);
	}
	bucket_gc(l, b); /* only when the call never got a slot (deferred) */
	return c;
}

void dp_lms_cancel(struct dp_lms_call *c)
{
	if (!c)
		return;
	switch (c->state) {
	case C_QUEUED: {
		struct dp_lms *l = c->l;
		struct bucket *b = c->b;
		clist_del(&b->queue, c);
		call_free(c);
		bucket_gc(l, b);
		break;
	}
	case C_RUNNING:
		/* Keep the slot until the child is reaped; just drop the callback. */
		c->cancelled = 1;
		dp_job_stop(c->job);
		break;
	case C_DEFERRED:
		c->cancelled = 1;
		break;
	case C_NEW:
	case C_DEAD:
		break;
	}
}

static void result_from_job(struct dp_lms_call *c, const struct dp_job_result *jr, struct dp_lms_result *res, char *msg,
                            size_t msglen, struct dp_lms_estimate *est)
{
	struct dp_lms *l = c->l;
	const char *name = dp_lms_cmd_name(c->cmd);
	char detail[400];
	res->exit_code = jr->exit_code;
	res->out = jr->out;
	res->out_len = jr->out_len;
	res->err = jr->err;
	res->err_len = jr->err_len;
	res->duration_ms = jr->duration_ms;
	res->queued_ms = ms_between(&c->created, &c->started);
	res->message = msg;
	msg[0] = '\0';
	switch (jr->state) {
	case DP_JOB_TOO_LARGE:
		res->status = DP_LMS_TOO_LARGE;
		snprintf(msg, msglen, "lms %s: %s larger than %zu bytes", name, jr->too_large,
		         strcmp(jr->too_large, "stdout") == 0 ? l->cfg.max_stdout : l->cfg.max_stderr);
		return;
	case DP_JOB_TIMED_OUT:
		res->status = DP_LMS_TIMEOUT;
		snprintf(msg, msglen, "lms %s timed out after %d ms", name, c->timeout_ms);
		return;
	case DP_JOB_STOPPED:
		res->status = DP_LMS_CANCELLED;
		snprintf(msg, msglen, "lms %s cancelled", name);
		return;
	case DP_JOB_SIGNALED:
		res->status = DP_LMS_KILLED;
		snprintf(msg, msglen, "lms %s killed by signal %d", name, jr->signo);
		return;
	case DP_JOB_EXITED:
		break;
	}
	if (jr->exit_code != 0) {
		res->status = DP_LMS_FAILED;
		dp_lms_error_message(jr->err_len ? jr->err : jr->out, jr->err_len ? jr->err_len : jr->out_len, detail,
		                     sizeof detail);
		if (detail[0])
			snprintf(msg, msglen, "lms %s failed (exit %d): %s", name, jr->exit_code, detail);
		else
			snprintf(msg, msglen, "lms %s failed (exit %d)", name, jr->exit_code);
		return;
	}
	res->status = DP_LMS_OK;
	switch (c->cmd) {
	case DP_LMS_PS:
		res->json = dp_lms_parse_ps(jr->out, jr->out_len, detail, sizeof detail);
		break;
	case DP_LMS_LS:
		res->json = dp_lms_parse_ls(jr->out, jr->out_len, detail, sizeof detail);
		break;
	case DP_LMS_RUNTIME_SURVEY:
		res->json = dp_lms_parse_survey(jr->out, jr->out_len, detail, sizeof detail);
		break;
	case DP_LMS_SERVER_STATUS:
	case DP_LMS_DAEMON_STATUS:
	case DP_LMS_DAEMON_UP:
	case DP_LMS_VERSION:
		res->json = dp_lms_parse_status(c->cmd, jr->out, jr->out_len, detail, sizeof detail);
		break;
	case DP_LMS_ESTIMATE:
		/* lms's logger writes to stderr; accept stdout too. */
		if (dp_lms_parse_estimate(jr->err, jr->err_len, est) == 0 ||
		    dp_lms_parse_estimate(jr->out, jr->out_len, est) == 0) {
			res->estimate = est;
			res->json = dp_lms_estimate_json(est);
		} else {
			snprintf(detail, sizeof detail, "no estimate in the output");
		}
		break;
	default:
		return; /* success is the exit status */
	}
	if (!res->json) {
		res->status = DP_LMS_BAD_OUTPUT;
		snprintf(msg, msglen, "lms %s: %s", name, detail);
	}
}

static void job_done(struct dp_job *job, const struct dp_job_result *jr, void *arg)
{
	struct dp_lms_call *c = arg;
	struct dp_lms *l = c->l;
	struct bucket *b = c->b;
	char msg[600];
	struct dp_lms_estimate est;
	struct dp_lms_result res = {0};

	clist_del(&l->running, c);
	c->state = C_DEAD;
	c->job = NULL;
	result_from_job(c, jr, &res, msg, sizeof msg, &est);
	if (l->freeing) {
		res.status = DP_LMS_CANCELLED;
		res.message = "lms bridge shut down";
	}
	/* The callback runs while the slot is still taken: a call it makes
	 * queues behind the ones already waiting. */
	complete(c, &res);
	json_decref(res.json);
	b->running--;
	call_free(c);
	pump(l, b);
}

/* ---- streams ------------------------------------------------------------------ */

static void stream_line(struct dp_job *job, const char *line, size_t len, void *arg)
{
	struct dp_lms_stream *s = arg;
	if (!s->cancelled && s->on_line)
		s->on_line(line, len, s->arg);
}

static void stream_done(struct dp_job *job, const struct dp_job_result *jr, void *arg)
{
	struct dp_lms_stream *s = arg;
	struct dp_lms *l = s->l;
	char msg[600], detail[400];
	if (s->prev)
		s->prev->next = s->next;
	else
		l->streams = s->next;
	if (s->next)
		s->next->prev = s->prev;
	l->nstreams--;
	if (!s->cancelled && s->on_exit) {
		struct dp_lms_result res = {0};
		res.cmd = DP_LMS_LOG_STREAM;
		res.exit_code = jr->exit_code;
		res.err = jr->err;
		res.err_len = jr->err_len;
		res.out = "";
		res.lines = jr->lines;
		res.lines_skipped = jr->lines_skipped;
		res.duration_ms = jr->duration_ms;
		res.message = msg;
		dp_lms_error_message(jr->err, jr->err_len, detail, sizeof detail);
		switch (jr->state) {
		case DP_JOB_STOPPED:
			res.status = l->freeing ? DP_LMS_CANCELLED : DP_LMS_STOPPED;
			snprintf(msg, sizeof msg, "log stream stopped");
			break;
		case DP_JOB_SIGNALED:
			res.status = DP_LMS_KILLED;
			snprintf(msg, sizeof msg, "lms log stream killed by signal %d", jr->signo);
			break;
		case DP_JOB_TIMED_OUT: /* streams have no timeout; kept for completeness */
			res.status = DP_LMS_TIMEOUT;
			snprintf(msg, sizeof msg, "lms log stream timed out");
			break;
		case DP_JOB_TOO_LARGE:
			res.status = DP_LMS_TOO_LARGE;
			snprintf(msg, sizeof msg, "lms log stream output too large");
			break;
		case DP_JOB_EXITED:
			res.status = jr->exit_code == 0 ? DP_LMS_OK : DP_LMS_FAILED;
			snprintf(msg, sizeof msg, "lms log stream exited with code %d%s%s", jr->exit_code,
			         detail[0] ? ": " : "", detail);
			break;
		}
		res.code = dp_lms_status_name(res.status);
		s->on_exit(&res, s->arg);
	}
	free(s);
}

int dp_lms_stream_start(struct dp_lms *l, const struct dp_lms_target *t, const struct dp_lms_req *r,
                        dp_lms_line_fn on_line, dp_lms_cb on_exit, void *arg, struct dp_lms_stream **out, char *err,
                        size_t errlen)
{
	struct dp_lms_argv av;
	char tmp[256];
	if (out)
		*out = NULL;
	if (!err || !errlen) {
		err = tmp;
		errlen = sizeof tmp;
	}
	err[0] = '\0';
	if (l->freeing)
		return fail(err, errlen, "lms bridge shut down");
	if (!l->available) {
		snprintf(err, errlen, "%s", l->reason);
		return -ENOENT;
	}
	if (!r || r->cmd != DP_LMS_LOG_STREAM)
		return fail(err, errlen, "not a log stream request");
	if (l->nstreams >= l->cfg.max_streams) {
		snprintf(err, errlen, "too many lms log streams (%d)", l->nstreams);
		return -EAGAIN;
	}
	if (dp_lms_build_argv(l->bin, t, r, &av, err, errlen) < 0) {
		dp_lms_argv_release(&av);
		return -EINVAL;
	}
	struct dp_lms_stream *s = xcalloc(1, sizeof *s);
	s->l = l;
	s->on_line = on_line;
	s->on_exit = on_exit;
	s->arg = arg;
	struct dp_job_spec spec = {
	        .argv = (const char *const *)av.argv,
	        .env = child_env,
	        .max_stderr = l->cfg.max_stderr,
	        .max_line = l->cfg.max_line,
	        .kill_grace_ms = l->cfg.kill_grace_ms,
	        .on_line = stream_line,
	        .on_done = stream_done,
	        .arg = s,
	};
	int rc = dp_job_start(l->jobs, &spec, &s->job);
	dp_lms_argv_release(&av);
	if (rc < 0) {
		free(s);
		if (rc == -ENOENT)
			snprintf(err, errlen, "lms not found at '%s' (set LMS_BIN)", l->bin);
		else
			snprintf(err, errlen, "cannot start lms: %s", strerror(-rc));
		return rc;
	}
	s->next = l->streams;
	if (l->streams)
		l->streams->prev = s;
	l->streams = s;
	l->nstreams++;
	if (out)
		*out = s;
	return 0;
}

void dp_lms_stream_stop(struct dp_lms_stream *s)
{
	if (s)
		dp_job_stop(s->job);
}

void dp_lms_stream_cancel(struct dp_lms_stream *s)
{
	if (!s)
		return;
	s->cancelled = 1; /* stream_done frees it silently once reaped */
	dp_job_stop(s->job);
}

/* ---- life cycle ------------------------------------------------------------------ */

struct dp_lms *dp_lms_new(struct event_base *base, const struct dp_lms_config *cfg)
{
	struct dp_lms *l = xcalloc(1, sizeof *l);
	l->base = base;
	if (cfg)
		l->cfg = *cfg;
	else
		dp_lms_config_defaults(&l->cfg);
	struct dp_lms_config d;
	dp_lms_config_defaults(&d);
	if (l->cfg.timeout_ms <= 0)
		l->cfg.timeout_ms = d.timeout_ms;
	if (l->cfg.load_timeout_ms <= 0)
		l->cfg.load_timeout_ms = d.load_timeout_ms;
	if (!l->cfg.max_stdout)
		l->cfg.max_stdout = d.max_stdout;
	if (!l->cfg.max_stderr)
		l->cfg.max_stderr = d.max_stderr;
	if (!l->cfg.max_line)
		l->cfg.max_line = d.max_line;
	if (l->cfg.per_target <= 0)
		l->cfg.per_target = d.per_target;
	if (l->cfg.queue_max <= 0)
		l->cfg.queue_max = d.queue_max;
	if (l->cfg.max_streams <= 0)
		l->cfg.max_streams = d.max_streams;
	if (l->cfg.kill_grace_ms <= 0)
		l->cfg.kill_grace_ms = d.kill_grace_ms;
	l->cfg.bin = NULL; /* not kept: the resolved path is in l->bin */

	l->jobs = dp_jobs_new(base);
	l->defer_ev = event_new(base, -1, 0, defer_cb, l);
	if (!l->defer_ev)
		dp_error("lms: cannot allocate events"), abort();

	const char *from_env = getenv("LMS_BIN");
	const char *bin = cfg && cfg->bin && *cfg->bin ? cfg->bin : from_env && *from_env ? from_env : NULL;
	int r = dp_job_resolve(bin ? bin : "lms", l->bin, sizeof l->bin);
	if (r == 0) {
		l->available = 1;
	} else if (!bin) {
		snprintf(l->reason, sizeof l->reason, "lms not found on PATH (set LMS_BIN)");
	} else if (r == -EACCES) {
		snprintf(l->reason, sizeof l->reason, "LMS_BIN '%s' is not executable", bin);
	} else {
		snprintf(l->reason, sizeof l->reason, "LMS_BIN '%s' not found", bin);
	}
	if (!l->available) {
		l->bin[0] = '\0';
		dp_warn("lms bridge unavailable: %s", l->reason);
	}
	return l;
}

void dp_lms_free(struct dp_lms *l)
{
	if (!l)
		return;
	l->freeing = 1;
	/* Waiting calls never ran: they complete as cancelled. */
	for (struct bucket *b = l->buckets; b; b = b->next)
		while (b->queue.head) {
			struct dp_lms_call *c = b->queue.head;
			clist_del(&b->queue, c);
			clist_push(&l->deferred, c);
			c->state = C_DEFERRED;
		}
	/* Running children: killed and reaped; job_done/stream_done report
	 * DP_LMS_CANCELLED and free their call/stream. */
	dp_jobs_free(l->jobs);
	l->jobs = NULL;
	defer_cb(-1, 0, l);
	while (l->buckets) {
		struct bucket *b = l->buckets;
		l->buckets = b->next;
		free(b->key);
		free(b);
	}
	event_free(l->defer_ev);
	free(l);
}
