/*
 * alerts.c - alert state with hysteresis (see alerts.h). Firing alerts live
 * in a small growable array (a handful at a time); per-target failure
 * counters for source_down in another. Linear scans are fine at this size.
 */
#include "alerts.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "xmalloc.h"

struct src_state {
	int64_t target_id;
	int fails;
	int was_up;
};

struct dp_alerts {
	struct dp_alerts_config c;
	dp_alerts_notify_fn fn;
	void *arg;
	struct dp_alert *v;
	size_t n, cap;
	struct src_state *s;
	size_t ns, scap;
	uint64_t fired[DP_ALERT__N];
};

static const char *const kind_names[] = {"vram", "temperature", "source_down"};

const char *dp_alert_kind_name(int kind)
{
	return kind >= 0 && kind < DP_ALERT__N ? kind_names[kind] : "unknown";
}

void dp_alerts_config_defaults(struct dp_alerts_config *c)
{
	c->vram_ratio = 0.9;
	c->vram_hyst = 0.05;
	c->temp_c = 85;
	c->temp_hyst = 5;
	c->down_after = 3;
}

struct dp_alerts *dp_alerts_new(const struct dp_alerts_config *c, dp_alerts_notify_fn fn, void *arg)
{
	struct dp_alerts *a = xcalloc(1, sizeof(*a));
	if (c)
		a->c = *c;
	else
		dp_alerts_config_defaults(&a->c);
	a->fn = fn;
	a->arg = arg;
	return a;
}

void dp_alerts_free(struct dp_alerts *a)
{
	if (!a)
		return;
	free(a->v);
	free(a->s);
	free(a);
}

static void make_key(char *key, size_t len, int64_t target_id, int gpu, int kind)
{
	if (gpu < 0)
		snprintf(key, len, "%lld:-:%s", (long long)target_id, dp_alert_kind_name(kind));
	else
		snprintf(key, len, "%lld:%d:%s", (long long)target_id, gpu, dp_alert_kind_name(kind));
}

static struct dp_alert *find(struct dp_alerts *a, const char *key)
{
	for (size_t i = 0; i < a->n; i++)
		if (!strcmp(a->v[i].key, key))
			return &a->v[i];
	return NULL;
}

static void fire(struct dp_alerts *a, const struct dp_alert *tmpl)
{
	if (a->n == a->cap) {
		a->cap = a->cap ? a->cap * 2 : 8;
		a->v = xrealloc(a->v, a->cap * sizeof(*a->v));
	}
	a->v[a->n] = *tmpl;
	a->v[a->n].firing = 1;
	a->fired[tmpl->kind]++;
	if (a->fn)
		a->fn(a->arg, &a->v[a->n], 1);
	a->n++;
}

static void resolve(struct dp_alerts *a, struct dp_alert *al)
{
	struct dp_alert copy = *al;
	size_t i = (size_t)(al - a->v);
	a->v[i] = a->v[--a->n];
	copy.firing = 0;
	if (a->fn)
		a->fn(a->arg, &copy, 0);
}

/* One threshold with hysteresis: fire at >= on, clear below off. */
static void eval(struct dp_alerts *a, struct dp_alert *tmpl, double value, double on, double off)
{
	struct dp_alert *cur = find(a, tmpl->key);
	if (!cur) {
		if (value >= on)
			fire(a, tmpl);
		return;
	}
	if (value < off) {
		resolve(a, cur);
		return;
	}
	cur->value = value; /* still firing: keep the latest value */
	cur->have_value = 1;
	memcpy(cur->message, tmpl->message, sizeof(cur->message));
}

static void base(struct dp_alert *t, int64_t target_id, const char *label, int kind, int gpu, const char *uuid,
                 int64_t now_ms)
{
	memset(t, 0, sizeof(*t));
	t->target_id = target_id;
	snprintf(t->target, sizeof(t->target), "%s", label ? label : "");
	t->kind = kind;
	t->gpu = gpu;
	if (uuid)
		snprintf(t->uuid, sizeof(t->uuid), "%s", uuid);
	t->since_ms = now_ms;
	make_key(t->key, sizeof(t->key), target_id, gpu, kind);
}

void dp_alerts_gpu(struct dp_alerts *a, int64_t target_id, const char *label, const struct dp_gpu *g, int64_t now_ms)
{
	struct dp_alert t;
	const char *uuid = (g->have & DP_GPU_HAVE_UUID) ? g->uuid : NULL;
	if ((g->have & DP_GPU_HAVE_MEM_TOTAL) && (g->have & DP_GPU_HAVE_MEM_USED) && g->mem_total > 0) {
		double r = (double)g->mem_used / (double)g->mem_total;
		base(&t, target_id, label, DP_ALERT_VRAM, g->index, uuid, now_ms);
		t.have_value = 1;
		t.value = r;
		t.threshold = a->c.vram_ratio;
		snprintf(t.message, sizeof(t.message), "GPU %d VRAM at %.0f%% (threshold %.0f%%)", g->index, r * 100,
		         a->c.vram_ratio * 100);
		eval(a, &t, r, a->c.vram_ratio, a->c.vram_ratio - a->c.vram_hyst);
	}
	if (g->have & DP_GPU_HAVE_TEMP) {
		base(&t, target_id, label, DP_ALERT_TEMPERATURE, g->index, uuid, now_ms);
		t.have_value = 1;
		t.value = g->temp_c;
		t.threshold = a->c.temp_c;
		snprintf(t.message, sizeof(t.message), "GPU %d at %.0f C (threshold %.0f C)", g->index, g->temp_c,
		         a->c.temp_c);
		eval(a, &t, g->temp_c, a->c.temp_c, a->c.temp_c - a->c.temp_hyst);
	}
}

static struct src_state *src(struct dp_alerts *a, int64_t target_id)
{
	for (size_t i = 0; i < a->ns; i++)
		if (a->s[i].target_id == target_id)
			return &a->s[i];
	if (a->ns == a->scap) {
		a->scap = a->scap ? a->scap * 2 : 8;
		a->s = xrealloc(a->s, a->scap * sizeof(*a->s));
	}
	struct src_state *s = &a->s[a->ns++];
	memset(s, 0, sizeof(*s));
	s->target_id = target_id;
	return s;
}

void dp_alerts_source(struct dp_alerts *a, int64_t target_id, const char *label, int ok, int64_t now_ms)
{
	struct src_state *s = src(a, target_id);
	struct dp_alert t;
	base(&t, target_id, label, DP_ALERT_SOURCE_DOWN, -1, NULL, now_ms);
	struct dp_alert *cur = find(a, t.key);
	if (ok) {
		s->fails = 0;
		s->was_up = 1;
		if (cur)
			resolve(a, cur);
		return;
	}
	s->fails++;
	if (!cur && s->was_up && s->fails >= a->c.down_after) {
		snprintf(t.message, sizeof(t.message), "telemetry source not answering (%d failed samples)", s->fails);
		fire(a, &t);
	}
}

void dp_alerts_forget_target(struct dp_alerts *a, int64_t target_id, int64_t now_ms)
{
	(void)now_ms;
	for (size_t i = 0; i < a->n;) {
		if (a->v[i].target_id == target_id)
			resolve(a, &a->v[i]); /* moves the last entry into i */
		else
			i++;
	}
	for (size_t i = 0; i < a->ns; i++)
		if (a->s[i].target_id == target_id) {
			a->s[i] = a->s[--a->ns];
			break;
		}
}

void dp_alerts_retain_gpus(struct dp_alerts *a, int64_t target_id, int ngpus)
{
	for (size_t i = 0; i < a->n;) {
		if (a->v[i].target_id == target_id && a->v[i].gpu >= ngpus)
			resolve(a, &a->v[i]);
		else
			i++;
	}
}

size_t dp_alerts_active(const struct dp_alerts *a, int kind)
{
	size_t n = 0;
	for (size_t i = 0; i < a->n; i++)
		if (kind == DP_ALERT__N || a->v[i].kind == kind)
			n++;
	return n;
}

uint64_t dp_alerts_fired_total(const struct dp_alerts *a, int kind)
{
	return kind >= 0 && kind < DP_ALERT__N ? a->fired[kind] : 0;
}

json_t *dp_alerts_time_json(int64_t ms)
{
	if (ms <= 0)
		return json_null();
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	char buf[48];
	gmtime_r(&t, &tm);
	size_t n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, sizeof(buf) - n, ".%03dZ", (int)(ms % 1000));
	return json_string(buf);
}

static json_t *num_or_null(int have, double v)
{
	return have && isfinite(v) ? json_real(v) : json_null();
}

json_t *dp_alert_json(const struct dp_alert *a)
{
	int src_down = a->kind == DP_ALERT_SOURCE_DOWN;
	return json_pack("{s:s,s:I,s:s,s:s,s:o,s:o,s:s,s:o,s:o,s:o,s:s}", "key", a->key, "target_id",
	                 (json_int_t)a->target_id, "target", a->target, "kind", dp_alert_kind_name(a->kind), "gpu",
	                 src_down ? json_null() : json_integer(a->gpu), "uuid",
	                 src_down || !a->uuid[0] ? json_null() : json_string(a->uuid), "state",
	                 a->firing ? "firing" : "resolved", "value", num_or_null(!src_down && a->have_value, a->value),
	                 "threshold", num_or_null(!src_down, a->threshold), "since", dp_alerts_time_json(a->since_ms),
	                 "message", a->message);
}

json_t *dp_alerts_json(const struct dp_alerts *a, int64_t target_id)
{
	json_t *arr = json_array();
	for (size_t i = 0; i < a->n; i++)
		if (!target_id || a->v[i].target_id == target_id)
			json_array_append_new(arr, dp_alert_json(&a->v[i]));
	return arr;
}
