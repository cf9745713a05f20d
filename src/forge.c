/*
 * forge.c - the Forge's request rules (pure) and its runtime state:
 * download jobs polled once per job, and the instances loaded through
 * DaemonPulse. See forge.h for the contract and docs/api-forge.md for the
 * HTTP shapes.
 */
#include "forge.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/event.h>

#include "api.h"
#include "audit.h"
#include "events.h"
#include "health.h"
#include "log.h"
#include "secret.h"
#include "server.h"
#include "store.h"
#include "targets.h"
#include "upstream.h"
#include "xmalloc.h"

/* ------------------------------------------------------------ errors */

__attribute__((format(printf, 4, 5))) static int fail(struct dp_forge_err *e, int status, const char *code,
                                                      const char *fmt, ...)
{
	if (e) {
		e->status = status;
		snprintf(e->code, sizeof(e->code), "%s", code);
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(e->message, sizeof(e->message), fmt, ap);
		va_end(ap);
	}
	return status == 403 ? -EPERM : -EINVAL;
}

/* ------------------------------------------------------------ parsing */

struct ibound {
	const char *name;
	long min, max;
	size_t off;
};

#define LOFF(f) offsetof(struct dp_forge_load, f)
static const struct ibound ibounds[] = {
        {"context_length", 1, 10000000, LOFF(context_length)},
        {"eval_batch_size", 1, 65536, LOFF(eval_batch_size)},
        {"num_experts", 1, 1024, LOFF(num_experts)},
        {"parallel", 1, 256, LOFF(parallel)},
        {"ttl", 1, 31536000, LOFF(ttl)},
};

static long *lfield(struct dp_forge_load *l, size_t off)
{
	return (long *)(void *)((char *)l + off);
}

static long lget(const struct dp_forge_load *l, size_t off)
{
	return *(const long *)(const void *)((const char *)l + off);
}

void dp_forge_load_init(struct dp_forge_load *l)
{
	memset(l, 0, sizeof(*l));
	l->flash_attention = -1;
	l->offload_kv = -1;
}

/* A printable string without control characters, not starting with '-'
 * (it may become an argv element), 1..max bytes. */
static int good_text(const char *s, size_t max)
{
	size_t n = strlen(s);
	if (n == 0 || n > max || s[0] == '-')
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f)
			return 0;
	}
	return 1;
}

/* "0.50" -> "0.5", "1.00" -> "1" */
static void fmt_ratio(double v, char *out, size_t len)
{
	snprintf(out, len, "%.2f", v);
	char *dot = strchr(out, '.');
	if (!dot)
		return;
	char *end = out + strlen(out) - 1;
	while (end > dot && *end == '0')
		*end-- = '\0';
	if (end == dot)
		*end = '\0';
}

int dp_forge_load_parse(const json_t *body, int preset, struct dp_forge_load *out, struct dp_forge_err *e)
{
	dp_forge_load_init(out);
	if (!json_is_object(body))
		return fail(e, 400, "bad_request", "expected a JSON object");
	const char *key;
	json_t *v;
	json_object_foreach((json_t *)body, key, v)
	{
		int known = !strcmp(key, "model") || !strcmp(key, "flash_attention") ||
		            !strcmp(key, "offload_kv_cache_to_gpu") || !strcmp(key, "gpu") ||
		            !strcmp(key, "identifier");
		for (size_t i = 0; i < sizeof(ibounds) / sizeof(ibounds[0]); i++)
			known |= !strcmp(key, ibounds[i].name);
		if (preset)
			known |= !strcmp(key, "name");
		else
			known |= !strcmp(key, "preset") || !strcmp(key, "override");
		if (!known)
			return fail(e, 400, "bad_request", "unknown field '%.40s'", key);
	}
	v = json_object_get(body, "model");
	if (v && !json_is_null(v)) {
		if (!json_is_string(v) || !good_text(json_string_value(v), DP_FORGE_MODEL_MAX))
			return fail(e, 400, "invalid_model", "model must be a model key of 1 to %d characters",
			            DP_FORGE_MODEL_MAX);
		snprintf(out->model, sizeof(out->model), "%s", json_string_value(v));
	}
	for (size_t i = 0; i < sizeof(ibounds) / sizeof(ibounds[0]); i++) {
		const struct ibound *b = &ibounds[i];
		v = json_object_get(body, b->name);
		if (!v || json_is_null(v))
			continue;
		if (!json_is_integer(v) || json_integer_value(v) < b->min || json_integer_value(v) > b->max) {
			char code[40];
			snprintf(code, sizeof code, "invalid_%s", b->name);
			return fail(e, 400, code, "%s must be an integer from %ld to %ld", b->name, b->min, b->max);
		}
		*lfield(out, b->off) = (long)json_integer_value(v);
	}
	v = json_object_get(body, "flash_attention");
	if (v && !json_is_null(v)) {
		if (!json_is_boolean(v))
			return fail(e, 400, "invalid_flash_attention", "flash_attention must be true or false");
		out->flash_attention = json_is_true(v);
	}
	v = json_object_get(body, "offload_kv_cache_to_gpu");
	if (v && !json_is_null(v)) {
		if (!json_is_boolean(v))
			return fail(e, 400, "invalid_offload_kv_cache_to_gpu",
			            "offload_kv_cache_to_gpu must be true or false");
		out->offload_kv = json_is_true(v);
	}
	v = json_object_get(body, "gpu");
	if (v && !json_is_null(v)) {
		if (json_is_string(v) && (!strcmp(json_string_value(v), "off") || !strcmp(json_string_value(v), "max")))
			snprintf(out->gpu, sizeof(out->gpu), "%s", json_string_value(v));
		else if (json_is_number(v) && isfinite(json_number_value(v)) && json_number_value(v) >= 0 &&
		         json_number_value(v) <= 1)
			fmt_ratio(json_number_value(v), out->gpu, sizeof(out->gpu));
		else
			return fail(e, 400, "invalid_gpu", "gpu must be \"off\", \"max\" or a number from 0 to 1");
	}
	v = json_object_get(body, "identifier");
	if (v && !json_is_null(v)) {
		if (!json_is_string(v) || !good_text(json_string_value(v), DP_FORGE_IDENT_MAX))
			return fail(e, 400, "invalid_identifier",
			            "identifier must be 1 to %d printable characters, not starting with '-'",
			            DP_FORGE_IDENT_MAX);
		snprintf(out->identifier, sizeof(out->identifier), "%s", json_string_value(v));
	}
	if (preset)
		return 0;
	v = json_object_get(body, "preset");
	if (v && !json_is_null(v)) {
		if (!json_is_string(v) || !json_string_length(v) || json_string_length(v) > DP_FORGE_PRESET_MAX)
			return fail(e, 400, "invalid_preset", "preset must be the name of a saved preset");
		snprintf(out->preset, sizeof(out->preset), "%s", json_string_value(v));
	}
	v = json_object_get(body, "override");
	if (v && !json_is_null(v)) {
		if (!json_is_boolean(v))
			return fail(e, 400, "invalid_override", "override must be true or false");
		out->override = json_is_true(v);
	}
	return 0;
}

/* ------------------------------------------------------------ presets */

static const json_t *find_preset(const json_t *presets, const char *name)
{
	size_t i;
	json_t *p;
	json_array_foreach((json_t *)presets, i, p)
	{
		const char *n = json_string_value(json_object_get(p, "name"));
		if (n && !strcmp(n, name))
			return p;
	}
	return NULL;
}

/* The first field the request sets to something other than the preset;
 * NULL when none. */
static const char *live_diff(const struct dp_forge_load *r, const struct dp_forge_load *p)
{
	if (r->model[0] && p->model[0] && strcmp(r->model, p->model))
		return "model";
	for (size_t i = 0; i < sizeof(ibounds) / sizeof(ibounds[0]); i++) {
		long rv = lget(r, ibounds[i].off);
		if (rv && rv != lget(p, ibounds[i].off))
			return ibounds[i].name;
	}
	if (r->flash_attention >= 0 && r->flash_attention != p->flash_attention)
		return "flash_attention";
	if (r->offload_kv >= 0 && r->offload_kv != p->offload_kv)
		return "offload_kv_cache_to_gpu";
	if (r->gpu[0] && strcmp(r->gpu, p->gpu))
		return "gpu";
	if (r->identifier[0] && strcmp(r->identifier, p->identifier))
		return "identifier";
	return NULL;
}

int dp_forge_apply_settings(struct dp_forge_load *l, const char *mode, const json_t *presets, struct dp_forge_err *e)
{
	int live = mode && !strcmp(mode, "live");
	if (!l->preset[0]) {
		if (live)
			return fail(e, 403, "live_mode",
			            "live mode: loads must use a saved preset (name one with \"preset\")");
		return 0;
	}
	const json_t *pj = json_is_array(presets) ? find_preset(presets, l->preset) : NULL;
	if (!pj)
		return fail(e, 400, "unknown_preset", "no saved preset named \"%s\"", l->preset);
	struct dp_forge_load p;
	struct dp_forge_err pe;
	if (dp_forge_load_parse(pj, 1, &p, &pe) < 0)
		return fail(e, 400, "invalid_preset", "preset \"%s\" cannot be used: %s", l->preset, pe.message);
	if (live) {
		const char *d = live_diff(l, &p);
		if (d)
			return fail(
			        e, 403, "live_mode",
			        "live mode: loads must use a saved preset unchanged (%s differs from preset \"%s\")", d,
			        l->preset);
	}
	if (!l->model[0])
		memcpy(l->model, p.model, sizeof(l->model));
	for (size_t i = 0; i < sizeof(ibounds) / sizeof(ibounds[0]); i++)
		if (!lget(l, ibounds[i].off))
			*lfield(l, ibounds[i].off) = lget(&p, ibounds[i].off);
	if (l->flash_attention < 0)
		l->flash_attention = p.flash_attention;
	if (l->offload_kv < 0)
		l->offload_kv = p.offload_kv;
	if (!l->gpu[0])
		memcpy(l->gpu, p.gpu, sizeof(l->gpu));
	if (!l->identifier[0])
		memcpy(l->identifier, p.identifier, sizeof(l->identifier));
	return 0;
}

/* ------------------------------------------------------------ model checks */

static int rest_only_given(const struct dp_forge_load *l, char *names, size_t len)
{
	int n = 0;
	names[0] = '\0';
	const char *f[4];
	if (l->flash_attention >= 0)
		f[n++] = "flash_attention";
	if (l->eval_batch_size)
		f[n++] = "eval_batch_size";
	if (l->num_experts)
		f[n++] = "num_experts";
	if (l->offload_kv >= 0)
		f[n++] = "offload_kv_cache_to_gpu";
	size_t off = 0;
	for (int i = 0; i < n && off < len; i++)
		off += (size_t)snprintf(names + off, len - off, "%s%s", i ? ", " : "", f[i]);
	return n;
}

static int cli_only_given(const struct dp_forge_load *l, char *names, size_t len)
{
	int n = 0;
	names[0] = '\0';
	const char *f[4];
	if (l->gpu[0])
		f[n++] = "gpu";
	if (l->parallel)
		f[n++] = "parallel";
	if (l->ttl)
		f[n++] = "ttl";
	if (l->identifier[0])
		f[n++] = "identifier";
	size_t off = 0;
	for (int i = 0; i < n && off < len; i++)
		off += (size_t)snprintf(names + off, len - off, "%s%s", i ? ", " : "", f[i]);
	return n;
}

int dp_forge_check_model(const struct dp_forge_load *l, const json_t *model, struct dp_forge_err *e)
{
	json_t *mx = json_object_get(model, "max_context_length");
	if (l->context_length && json_is_integer(mx) && json_integer_value(mx) > 0 &&
	    l->context_length > json_integer_value(mx))
		return fail(e, 400, "invalid_context_length", "context_length %ld is above the model's maximum %lld",
		            l->context_length, (long long)json_integer_value(mx));
	const char *type = json_string_value(json_object_get(model, "type"));
	const char *format = json_string_value(json_object_get(model, "format"));
	char names[96];
	if (rest_only_given(l, names, sizeof names)) {
		if (type && !strcmp(type, "embedding"))
			return fail(e, 400, "not_applicable",
			            "%s: LM Studio takes only context_length for embedding models", names);
		if (format && strcmp(format, "gguf"))
			return fail(e, 400, "not_applicable", "%s: llama.cpp (gguf) models only; this model is %s",
			            names, format);
	}
	return 0;
}

enum dp_forge_path dp_forge_choose_path(const struct dp_forge_load *l, struct dp_forge_err *e)
{
	char rn[96], cn[96];
	int r = rest_only_given(l, rn, sizeof rn);
	int c = cli_only_given(l, cn, sizeof cn);
	if (r && c) {
		fail(e, 400, "conflicting_fields",
		     "%s can only be sent through LM Studio's REST load and %s only through lms load: no "
		     "interface takes both, remove one group",
		     rn, cn);
		return DP_FORGE_PATH_CONFLICT;
	}
	return c ? DP_FORGE_PATH_LMS : DP_FORGE_PATH_REST;
}

const char *dp_forge_path_name(enum dp_forge_path p)
{
	return p == DP_FORGE_PATH_LMS ? "lms" : p == DP_FORGE_PATH_REST ? "rest" : "conflict";
}

/* ------------------------------------------------------------ what is sent */

char *dp_forge_rest_body(const struct dp_forge_load *l)
{
	/* reference §3.2: exactly these fields, in this order */
	json_t *b = json_pack("{s:s}", "model", l->model);
	if (l->context_length)
		json_object_set_new(b, "context_length", json_integer(l->context_length));
	if (l->eval_batch_size)
		json_object_set_new(b, "eval_batch_size", json_integer(l->eval_batch_size));
	if (l->flash_attention >= 0)
		json_object_set_new(b, "flash_attention", json_boolean(l->flash_attention));
	if (l->num_experts)
		json_object_set_new(b, "num_experts", json_integer(l->num_experts));
	if (l->offload_kv >= 0)
		json_object_set_new(b, "offload_kv_cache_to_gpu", json_boolean(l->offload_kv));
	json_object_set_new(b, "echo_load_config", json_true());
	char *s = json_dumps(b, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(b);
	if (!s)
		abort();
	return s;
}

const char *dp_forge_ls_path(const json_t *ls, const char *key)
{
	const char *found = NULL;
	size_t i;
	json_t *m;
	if (!key || !json_is_array(ls))
		return NULL;
	/* exact key first, then ignoring case (as dp_forge_find_model) */
	for (int pass = 0; pass < 2 && !found; pass++) {
		json_array_foreach((json_t *)ls, i, m)
		{
			const char *k = json_string_value(json_object_get(m, "model_key"));
			const char *p = json_string_value(json_object_get(m, "path"));
			if (!k || !p || !*p || (pass ? strcasecmp(k, key) : strcmp(k, key)))
				continue;
			/* a copy on this machine beats one on an LM Link peer */
			if (json_is_null(json_object_get(m, "device_identifier")) ||
			    !json_object_get(m, "device_identifier"))
				return p;
			if (!found)
				found = p;
		}
	}
	return found;
}

void dp_forge_lms_req(const struct dp_forge_load *l, int estimate, const char *path, struct dp_lms_req *r)
{
	memset(r, 0, sizeof(*r));
	r->cmd = estimate ? DP_LMS_ESTIMATE : DP_LMS_LOAD;
	r->model = path ? path : l->model;
	r->exact = path != NULL;
	r->gpu = l->gpu[0] ? l->gpu : NULL;
	r->context_length = l->context_length;
	if (!estimate) {
		r->ttl_s = l->ttl;
		r->parallel = (int)l->parallel;
		r->identifier = l->identifier[0] ? l->identifier : NULL;
	}
}

int dp_forge_download_parse(const json_t *body, const char **model, const char **quantization, struct dp_forge_err *e)
{
	*model = *quantization = NULL;
	if (!json_is_object(body))
		return fail(e, 400, "bad_request", "expected {\"model\": \"...\", \"quantization\": \"...\"?}");
	const char *key;
	json_t *v;
	json_object_foreach((json_t *)body, key, v)
	{
		if (strcmp(key, "model") && strcmp(key, "quantization"))
			return fail(e, 400, "bad_request", "unknown field '%.40s'", key);
	}
	v = json_object_get(body, "model");
	if (!json_is_string(v) || !good_text(json_string_value(v), DP_FORGE_MODEL_MAX))
		return fail(e, 400, "invalid_model",
		            "model must be a catalog id or a Hugging Face URL of 1 to %d characters",
		            DP_FORGE_MODEL_MAX);
	*model = json_string_value(v);
	v = json_object_get(body, "quantization");
	if (v && !json_is_null(v)) {
		const char *q = json_string_value(v);
		size_t n = q ? strlen(q) : 0;
		if (!q || n == 0 || n > DP_FORGE_QUANT_MAX ||
		    strspn(q, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") != n)
			return fail(e, 400, "invalid_quantization",
			            "quantization must be 1 to %d letters, digits, '_', '.' or '-' (e.g. Q4_K_M)",
			            DP_FORGE_QUANT_MAX);
		*quantization = q;
	}
	return 0;
}

char *dp_forge_download_body(const char *model, const char *quantization)
{
	json_t *b = json_pack("{s:s}", "model", model);
	if (quantization)
		json_object_set_new(b, "quantization", json_string(quantization));
	char *s = json_dumps(b, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(b);
	if (!s)
		abort();
	return s;
}

void dp_forge_estimate_load(const struct dp_forge_load *l, struct dp_estimate_load *el)
{
	memset(el, 0, sizeof(*el));
	el->context_length = l->context_length;
	el->parallel = (int)l->parallel;
	if (!l->gpu[0])
		el->gpu_ratio = -1;
	else if (!strcmp(l->gpu, "max"))
		el->gpu_ratio = 1;
	else if (!strcmp(l->gpu, "off"))
		el->gpu_ratio = 0;
	else
		el->gpu_ratio = strtod(l->gpu, NULL);
	el->offload_kv = l->offload_kv;
	el->flash_attention = l->flash_attention;
	el->eval_batch_size = (int)l->eval_batch_size;
}

#define DP_FORGE_MAX_MODEL_BYTES 1125899906842624.0 /* 1 PiB */

void dp_forge_estimate_model(const json_t *model, struct dp_estimate_model *m)
{
	memset(m, 0, sizeof(*m));
	m->key = json_string_value(json_object_get(model, "key"));
	m->type = json_string_value(json_object_get(model, "type"));
	m->architecture = json_string_value(json_object_get(model, "architecture"));
	m->params_string = json_string_value(json_object_get(model, "params_string"));
	/* daemon-reported numbers are untrusted: a size past 1 PiB or a
	 * non-finite value is treated as unknown (and never cast out of range) */
	json_t *sz = json_object_get(model, "size_bytes");
	double szv = json_is_number(sz) ? json_number_value(sz) : 0;
	if (isfinite(szv) && szv > 0 && szv <= DP_FORGE_MAX_MODEL_BYTES)
		m->size_bytes = (uint64_t)szv;
	json_t *bpw = json_object_get(json_object_get(model, "quantization"), "bits_per_weight");
	double bpwv = json_is_number(bpw) ? json_number_value(bpw) : 0;
	if (isfinite(bpwv) && bpwv > 0 && bpwv <= 64)
		m->bits_per_weight = bpwv;
}

json_t *dp_forge_load_json(const struct dp_forge_load *l)
{
	json_t *o = json_object();
	json_object_set_new(o, "model", l->model[0] ? json_string(l->model) : json_null());
	json_object_set_new(o, "context_length", l->context_length ? json_integer(l->context_length) : json_null());
	json_object_set_new(o, "flash_attention",
	                    l->flash_attention >= 0 ? json_boolean(l->flash_attention) : json_null());
	json_object_set_new(o, "eval_batch_size", l->eval_batch_size ? json_integer(l->eval_batch_size) : json_null());
	json_object_set_new(o, "num_experts", l->num_experts ? json_integer(l->num_experts) : json_null());
	json_object_set_new(o, "offload_kv_cache_to_gpu",
	                    l->offload_kv >= 0 ? json_boolean(l->offload_kv) : json_null());
	if (!l->gpu[0])
		json_object_set_new(o, "gpu", json_null());
	else if (!strcmp(l->gpu, "off") || !strcmp(l->gpu, "max"))
		json_object_set_new(o, "gpu", json_string(l->gpu));
	else
		json_object_set_new(o, "gpu", json_real(strtod(l->gpu, NULL)));
	json_object_set_new(o, "parallel", l->parallel ? json_integer(l->parallel) : json_null());
	json_object_set_new(o, "ttl", l->ttl ? json_integer(l->ttl) : json_null());
	json_object_set_new(o, "identifier", l->identifier[0] ? json_string(l->identifier) : json_null());
	json_object_set_new(o, "preset", l->preset[0] ? json_string(l->preset) : json_null());
	return o;
}

json_t *dp_forge_find_model(const json_t *v1, const char *key)
{
	json_t *models = json_object_get(v1, "models"), *m;
	size_t i;
	if (!key || !json_is_array(models))
		return NULL;
	json_array_foreach(models, i, m)
	{
		const char *k = json_string_value(json_object_get(m, "key"));
		if (k && !strcmp(k, key))
			return m;
	}
	json_array_foreach(models, i, m)
	{
		const char *k = json_string_value(json_object_get(m, "key"));
		if (k && !strcasecmp(k, key))
			return m;
	}
	return NULL;
}

json_t *dp_forge_instance_ids(const json_t *v1)
{
	json_t *ids = json_array(), *m, *li;
	json_t *models = json_object_get(v1, "models");
	size_t i, k;
	json_array_foreach(models, i, m)
	{
		json_t *insts = json_object_get(m, "loaded_instances");
		json_array_foreach(insts, k, li)
		{
			const char *id = json_string_value(json_object_get(li, "id"));
			if (id && *id)
				json_array_append_new(ids, json_string(id));
		}
	}
	return ids;
}

/* ------------------------------------------------------------ jobs (pure) */

int dp_forge_job_active(const char *status)
{
	return status && (!strcmp(status, "downloading") || !strcmp(status, "paused"));
}

int dp_forge_job_merge(json_t *job, const json_t *answer)
{
	static const char *const keys[] = {"job_id",           "status",           "downloaded_bytes",
	                                   "total_size_bytes", "bytes_per_second", "estimated_completion",
	                                   "started_at",       "completed_at"};
	int changed = 0;
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		json_t *v = json_object_get(answer, keys[i]);
		if (!v)
			continue;
		/* only plain values: strings and numbers (LM Studio's shapes) */
		if (!json_is_string(v) && !json_is_number(v) && !json_is_null(v))
			continue;
		if (json_is_string(v) && json_string_length(v) > 128)
			continue;
		json_t *old = json_object_get(job, keys[i]);
		if (!old || !json_equal(old, v)) {
			json_object_set(job, keys[i], v);
			changed = 1;
		}
	}
	/* a finished job has no rate or ETA any more */
	const char *st = json_string_value(json_object_get(job, "status"));
	if (st && !dp_forge_job_active(st)) {
		json_object_set_new(job, "bytes_per_second", json_null());
		json_object_set_new(job, "estimated_completion", json_null());
	}
	return changed;
}

/* ------------------------------------------------------------ runtime */

struct job {
	struct dp_forge *f;
	int64_t target_id;
	char job_id[72];
	json_t *obj;
	struct event *timer;
	struct dp_upstream_req *req;
	int failures;
	int64_t ended_ms;      /* 0 while active */
	char saved_status[24]; /* the status last written to the store */
	/* who started it, for the final audit entry */
	int64_t user_id;
	char username[DP_USERNAME_MAX + 1];
	struct job *next;
};

struct dp_forge {
	struct dp_server *srv;
	struct job *jobs;
	json_t *loaded; /* {"<target>": {"<instance>": {"model","via","by","loaded_at"}}} */
	json_t *last;   /* {"<target>": {"<model>": {"config","by","at"}}} */
	uint64_t polls;
	int stopping;
};

static void poll_cb(evutil_socket_t fd, short what, void *arg);
static int job_id_ok(const char *s);

/* A job saved before a restart: kept for display; polled again while the
 * daemon may still be downloading. Old finished ones are dropped. */
static int restore_job(const struct dp_store_download *d, void *arg)
{
	struct dp_forge *f = arg;
	int64_t now_s = (int64_t)time(NULL);
	json_t *obj = json_loads(d->job, 0, NULL);
	int old = d->ended_at > 0 && now_s - d->ended_at > DP_FORGE_JOB_KEEP_S;
	if (!json_is_object(obj) || old || !job_id_ok(d->job_id)) {
		json_decref(obj);
		dp_store_download_delete(f->srv->store, d->target_id, d->job_id);
		return 0;
	}
	struct job *j = xcalloc(1, sizeof(*j));
	j->f = f;
	j->target_id = d->target_id;
	j->user_id = d->user_id;
	snprintf(j->username, sizeof j->username, "%s", d->username ? d->username : "");
	snprintf(j->job_id, sizeof j->job_id, "%s", d->job_id);
	j->obj = obj;
	const char *st = json_string_value(json_object_get(obj, "status"));
	snprintf(j->saved_status, sizeof j->saved_status, "%s", st ? st : "");
	if (d->ended_at > 0) {
		int64_t ago_ms = (now_s - d->ended_at) * 1000;
		j->ended_ms = dp_health_now_ms() - (ago_ms > 0 ? ago_ms : 0);
		if (j->ended_ms <= 0)
			j->ended_ms = 1;
	} else {
		j->timer = evtimer_new(f->srv->base, poll_cb, j);
		struct timeval tv = {1, 0};
		evtimer_add(j->timer, &tv);
	}
	j->next = f->jobs;
	f->jobs = j;
	return 0;
}

int dp_forge_attach(struct dp_server *s, char **err)
{
	(void)err;
	struct dp_forge *f = xcalloc(1, sizeof(*f));
	f->srv = s;
	f->loaded = json_object();
	f->last = json_object();
	s->forge = f;
	if (s->store && dp_store_download_each(s->store, restore_job, f) < 0)
		dp_warn("forge: could not read the saved download jobs");
	return 0;
}

static void job_free(struct job *j)
{
	if (j->timer)
		event_free(j->timer);
	json_decref(j->obj);
	free(j);
}

void dp_forge_detach(struct dp_server *s)
{
	struct dp_forge *f = s->forge;
	if (!f)
		return;
	f->stopping = 1;
	struct job *j = f->jobs;
	while (j) {
		struct job *n = j->next;
		if (j->req) {
			/* only when upstream outlives us (it should not): forget it */
			j->req = NULL;
		}
		job_free(j);
		j = n;
	}
	json_decref(f->loaded);
	json_decref(f->last);
	free(f);
	s->forge = NULL;
}

void dp_forge_note_loaded(struct dp_forge *f, int64_t target_id, const char *instance_id, const char *model,
                          const char *via, const char *by, int64_t at_ms)
{
	if (!f || !instance_id)
		return;
	char k[32];
	snprintf(k, sizeof k, "%lld", (long long)target_id);
	json_t *t = json_object_get(f->loaded, k);
	if (!t) {
		t = json_object();
		json_object_set_new(f->loaded, k, t);
	}
	if (json_object_size(t) >= 1024)
		json_object_clear(t); /* bounded: a forgotten record only loses "loaded_by" */
	json_object_set_new(t, instance_id,
	                    json_pack("{s:s?, s:s, s:s?, s:o}", "model", model, "via", via, "by", by, "loaded_at",
	                              dp_health_time_json(at_ms)));
}

void dp_forge_note_last(struct dp_forge *f, int64_t target_id, const char *model, const json_t *requested,
                        const char *by, int64_t at_ms)
{
	if (!f || !model || !requested)
		return;
	char k[32];
	snprintf(k, sizeof k, "%lld", (long long)target_id);
	json_t *t = json_object_get(f->last, k);
	if (!t) {
		t = json_object();
		json_object_set_new(f->last, k, t);
	}
	if (json_object_size(t) >= 1024 && !json_object_get(t, model))
		json_object_clear(t);
	json_t *cfg = json_deep_copy(requested);
	json_object_del(cfg, "preset");
	json_object_set_new(t, model,
	                    json_pack("{s:o, s:s?, s:o}", "config", cfg, "by", by, "at", dp_health_time_json(at_ms)));
}

json_t *dp_forge_last_loads(struct dp_forge *f, int64_t target_id)
{
	char k[32];
	snprintf(k, sizeof k, "%lld", (long long)target_id);
	json_t *t = f ? json_object_get(f->last, k) : NULL;
	return t ? json_deep_copy(t) : json_object();
}

const json_t *dp_forge_loaded_info(struct dp_forge *f, int64_t target_id, const char *instance_id)
{
	if (!f || !instance_id)
		return NULL;
	char k[32];
	snprintf(k, sizeof k, "%lld", (long long)target_id);
	return json_object_get(json_object_get(f->loaded, k), instance_id);
}

json_t *dp_forge_instance_facts(struct dp_forge *f, int64_t target_id, const char *instance_id, const json_t *ttl_ms,
                                const json_t *last_used_ms, int64_t now_ms)
{
	const json_t *mine = dp_forge_loaded_info(f, target_id, instance_id);
	json_t *rem = json_null();
	if (json_is_integer(ttl_ms) && json_is_integer(last_used_ms)) {
		json_int_t r = json_integer_value(ttl_ms) - (now_ms - json_integer_value(last_used_ms));
		if (r < 0)
			r = 0;
		if (r > json_integer_value(ttl_ms))
			r = json_integer_value(ttl_ms); /* a clock ahead of ours */
		rem = json_integer(r);
	}
	json_t *o = json_object();
	json_object_set_new(o, "loaded_by", mine ? json_string("daemonpulse") : json_null());
	json_object_set_new(o, "via",
	                    mine && json_object_get(mine, "via") ? json_deep_copy(json_object_get(mine, "via"))
	                                                         : json_null());
	json_object_set_new(o, "by",
	                    mine && json_object_get(mine, "by") ? json_deep_copy(json_object_get(mine, "by"))
	                                                        : json_null());
	json_object_set_new(o, "loaded_at",
	                    mine && json_object_get(mine, "loaded_at")
	                            ? json_deep_copy(json_object_get(mine, "loaded_at"))
	                            : json_null());
	json_object_set_new(o, "jit", mine ? json_false() : json_null());
	json_object_set_new(o, "ttl_remaining_ms", rem);
	return o;
}

uint64_t dp_forge_polls(const struct dp_forge *f)
{
	return f ? f->polls : 0;
}

/* Keep the job in the store (migration 8) when it starts, when its status
 * changes and when it ends: a restart picks active jobs up again. Progress
 * between status changes is not written (the first poll after a restart
 * brings it back). */
static void job_save(struct dp_forge *f, struct job *j, int force)
{
	struct dp_store *st = f->srv->store;
	const char *status = json_string_value(json_object_get(j->obj, "status"));
	if (!st || !j->job_id[0] || f->stopping)
		return;
	if (!force && status && !strcmp(status, j->saved_status))
		return;
	char *txt = json_dumps(j->obj, JSON_COMPACT);
	if (!txt)
		return;
	struct dp_store_download d = {
	        .target_id = j->target_id,
	        .job_id = j->job_id,
	        .user_id = j->user_id,
	        .username = j->username,
	        .job = txt,
	        .ended_at = j->ended_ms ? (int64_t)time(NULL) : 0,
	};
	if (dp_store_download_put(st, &d, (int64_t)time(NULL)) == 0)
		snprintf(j->saved_status, sizeof j->saved_status, "%s", status ? status : "");
	free(txt);
}

static void publish(struct dp_forge *f, struct job *j)
{
	if (!f->srv->events || f->stopping)
		return;
	json_t *d = json_pack("{s:I, s:O}", "target_id", (json_int_t)j->target_id, "job", j->obj);
	dp_events_publish(f->srv->events, "download", d);
	json_decref(d);
}

static void job_finished(struct dp_forge *f, struct job *j)
{
	j->ended_ms = dp_health_now_ms();
	if (j->timer)
		evtimer_del(j->timer);
	const char *st = json_string_value(json_object_get(j->obj, "status"));
	struct dp_server *srv = f->srv;
	int ok = st && (!strcmp(st, "completed") || !strcmp(st, "already_downloaded"));
	if (ok && srv->health) {
		/* the new model shows up: drop the models cache, re-poll (the
		 * hub then publishes the `models` event) */
		dp_health_cache_drop(srv->health, j->target_id, DP_HEALTH_CACHE_MODELS);
		dp_health_poke(srv->health, j->target_id);
	}
	char ref[40];
	snprintf(ref, sizeof ref, "target:%lld", (long long)j->target_id);
	json_t *d = json_pack("{s:s, s:O?, s:O?, s:O?}", "job_id", j->job_id, "model", json_object_get(j->obj, "model"),
	                      "status", json_object_get(j->obj, "status"), "error", json_object_get(j->obj, "error"));
	dp_audit_record(srv->store, j->user_id, j->username[0] ? j->username : NULL, "model.download.done", ref,
	                ok ? DP_AUDIT_OK : DP_AUDIT_FAILED, d, NULL);
	json_decref(d);
	job_save(f, j, 1);
}

static void poll_done(struct dp_upstream_req *r, const struct dp_upstream_result *res, void *arg)
{
	struct job *j = arg;
	struct dp_forge *f = j->f;
	(void)r;
	j->req = NULL;
	if (res->outcome == DP_UPSTREAM_CANCELLED || f->stopping)
		return;
	json_object_set_new(j->obj, "updated_at", dp_health_time_json(dp_health_now_ms()));
	if (res->outcome == DP_UPSTREAM_OK && json_is_object(res->json)) {
		j->failures = 0;
		int changed = dp_forge_job_merge(j->obj, res->json);
		if (!json_is_null(json_object_get(j->obj, "error"))) {
			json_object_set_new(j->obj, "error", json_null());
			changed = 1;
		}
		const char *st = json_string_value(json_object_get(j->obj, "status"));
		if (changed) {
			publish(f, j);
			job_save(f, j, 0);
		}
		if (!dp_forge_job_active(st))
			job_finished(f, j);
		return;
	}
	j->failures++;
	int gone = res->status == 404 || (res->lms_code && !strcmp(res->lms_code, "job_not_found"));
	if (gone || j->failures >= 10) {
		json_object_set_new(j->obj, "status", json_string(gone ? "failed" : "unknown"));
		json_object_set_new(j->obj, "error",
		                    json_pack("{s:s, s:s}", "code", gone ? "job_not_found" : res->code, "message",
		                              gone ? "the daemon no longer knows this download job" : res->message));
		publish(f, j);
		job_finished(f, j);
	}
}

static void poll_cb(evutil_socket_t fd, short what, void *arg)
{
	struct job *j = arg;
	struct dp_forge *f = j->f;
	struct dp_server *srv = f->srv;
	(void)fd;
	(void)what;
	if (j->ended_ms || f->stopping)
		return;
	struct timeval tv = {DP_FORGE_POLL_MS / 1000, (DP_FORGE_POLL_MS % 1000) * 1000};
	evtimer_add(j->timer, &tv);
	if (j->req)
		return; /* the previous poll is still running: never overlap */
	const struct dp_target *t = srv->health ? dp_health_target(srv->health, j->target_id) : NULL;
	if (!t) {
		json_object_set_new(j->obj, "status", json_string("unknown"));
		json_object_set_new(j->obj, "error",
		                    json_pack("{s:s, s:s}", "code", "not_found", "message", "the target was removed"));
		publish(f, j);
		job_finished(f, j);
		return;
	}
	char path[128];
	snprintf(path, sizeof path, "/api/v1/models/download/status/%s", j->job_id);
	char *token = NULL;
	if (dp_target_token(t, srv->secret, &token) < 0)
		token = NULL;
	struct dp_upstream_opts uo = {
	        .method = "GET",
	        .base_url = t->url,
	        .path = path,
	        .token = token,
	        .timeout_ms = 10000,
	        .mode = DP_UPSTREAM_BUFFERED,
	        .on_done = poll_done,
	        .arg = j,
	};
	const char *err = NULL;
	j->req = dp_upstream_start(srv->upstream, &uo, &err);
	if (token)
		dp_secret_wipe_free(token);
	if (j->req)
		f->polls++;
}

static int job_id_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	return n > 0 && n < 72 && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-.") == n &&
	       s[0] != '.';
}

/* Drop finished jobs past their keep time, and the oldest finished ones of
 * a target past the per-target bound. */
static void prune(struct dp_forge *f, int64_t target_id)
{
	int64_t now = dp_health_now_ms();
	int count = 0;
	struct job **pp = &f->jobs;
	while (*pp) {
		struct job *j = *pp;
		int old = j->ended_ms && now - j->ended_ms > (int64_t)DP_FORGE_JOB_KEEP_S * 1000;
		if (j->target_id == target_id && !old)
			count++;
		/* newest first: past the bound, finished ones go */
		if (old || (j->target_id == target_id && j->ended_ms && count > DP_FORGE_JOBS_PER_TARGET - 1)) {
			*pp = j->next;
			if (f->srv->store && j->job_id[0])
				dp_store_download_delete(f->srv->store, j->target_id, j->job_id);
			job_free(j);
			continue;
		}
		pp = &j->next;
	}
}

const json_t *dp_forge_job_track(struct dp_forge *f, int64_t target_id, const char *model, const char *quantization,
                                 const json_t *answer, int64_t user_id, const char *username)
{
	prune(f, target_id);
	const char *jid = json_string_value(json_object_get(answer, "job_id"));
	struct job *j = NULL;
	if (job_id_ok(jid))
		for (struct job *k = f->jobs; k; k = k->next)
			if (k->target_id == target_id && !strcmp(k->job_id, jid))
				j = k;
	if (!j) {
		j = xcalloc(1, sizeof(*j));
		j->f = f;
		j->target_id = target_id;
		j->user_id = user_id;
		snprintf(j->username, sizeof j->username, "%s", username ? username : "");
		if (job_id_ok(jid))
			snprintf(j->job_id, sizeof j->job_id, "%s", jid);
		j->obj = json_pack("{s:I, s:o, s:s, s:o, s:s, s:I, s:n, s:n, s:n, s:n, s:n, s:n}", "target_id",
		                   (json_int_t)target_id, "job_id", j->job_id[0] ? json_string(j->job_id) : json_null(),
		                   "model", model, "quantization",
		                   quantization ? json_string(quantization) : json_null(), "status", "downloading",
		                   "downloaded_bytes", (json_int_t)0, "total_size_bytes", "bytes_per_second",
		                   "estimated_completion", "started_at", "completed_at", "error");
		j->next = f->jobs;
		f->jobs = j;
	}
	dp_forge_job_merge(j->obj, answer);
	if (!j->job_id[0] && !json_is_null(json_object_get(j->obj, "job_id")))
		json_object_set_new(j->obj, "job_id", json_null()); /* an id we refused to use */
	json_object_set_new(j->obj, "updated_at", dp_health_time_json(dp_health_now_ms()));
	const char *st = json_string_value(json_object_get(j->obj, "status"));
	if (st && !strcmp(st, "completed")) {
		json_object_set(j->obj, "downloaded_bytes", json_object_get(j->obj, "total_size_bytes"));
	}
	publish(f, j);
	job_save(f, j, 1);
	if (dp_forge_job_active(st) && j->job_id[0]) {
		if (!j->timer)
			j->timer = evtimer_new(f->srv->base, poll_cb, j);
		struct timeval tv = {0, 250 * 1000}; /* first look soon, then every second */
		evtimer_add(j->timer, &tv);
	} else if (!j->ended_ms) {
		job_finished(f, j);
	}
	return j->obj;
}

const json_t *dp_forge_job_get(struct dp_forge *f, int64_t target_id, const char *job_id)
{
	if (!f || !job_id)
		return NULL;
	for (struct job *j = f->jobs; j; j = j->next)
		if (j->target_id == target_id && j->job_id[0] && !strcmp(j->job_id, job_id))
			return j->obj;
	return NULL;
}

json_t *dp_forge_jobs(struct dp_forge *f, int64_t target_id)
{
	json_t *a = json_array();
	if (!f)
		return a;
	for (struct job *j = f->jobs; j; j = j->next)
		if (j->target_id == target_id)
			json_array_append(a, j->obj);
	return a;
}
