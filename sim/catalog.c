/*
 * catalog.c - parse the model catalog (sim/catalog.json's shape) into
 * struct dp_sim_model entries owned by the sim.
 *
 * The catalog is trusted configuration but still checked: every string is
 * bounded, numbers must be positive, at most DP_SIM_MAX_MODELS entries.
 */
#include "sim.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xmalloc.h"

#define MAX_STR 512

static char *opt_str(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	if (!json_is_string(v) || json_string_length(v) > MAX_STR)
		return NULL;
	return xstrdup(json_string_value(v));
}

static double num(json_t *o, const char *k, double def)
{
	json_t *v = json_object_get(o, k);
	return json_is_number(v) ? json_number_value(v) : def;
}

void dp_catalog_model_free(struct dp_sim_model *m)
{
	if (!m)
		return;
	free(m->key);
	free(m->display_name);
	free(m->publisher);
	free(m->architecture);
	free(m->params_string);
	free(m->format);
	free(m->quant_name);
	free(m->description);
	free(m->path);
	free(m->variant);
	free(m);
}

static int parse_one(json_t *o, struct dp_sim_model **out, char *err, size_t errlen)
{
	struct dp_sim_model *m = xcalloc(1, sizeof(*m));
	const char *type = json_string_value(json_object_get(o, "type"));
	m->key = opt_str(o, "key");
	if (!m->key || !*m->key || !type) {
		snprintf(err, errlen, "catalog entry without key or type");
		goto fail;
	}
	if (!strcmp(type, "llm"))
		m->type = DP_SIM_LLM;
	else if (!strcmp(type, "embedding"))
		m->type = DP_SIM_EMBEDDING;
	else {
		snprintf(err, errlen, "catalog entry '%s': unknown type", m->key);
		goto fail;
	}
	m->display_name = opt_str(o, "display_name");
	if (!m->display_name)
		m->display_name = xstrdup(m->key);
	m->publisher = opt_str(o, "publisher");
	if (!m->publisher)
		m->publisher = xstrdup("lmstudio-community");
	m->architecture = opt_str(o, "architecture");
	m->params_string = opt_str(o, "params_string");
	m->format = opt_str(o, "format");
	if (!m->format || (strcmp(m->format, "gguf") && strcmp(m->format, "mlx"))) {
		snprintf(err, errlen, "catalog entry '%s': format must be gguf or mlx", m->key);
		goto fail;
	}
	json_t *q = json_object_get(o, "quantization");
	if (json_is_object(q)) {
		m->quant_name = opt_str(q, "name");
		m->bits_per_weight = num(q, "bits_per_weight", 0);
	}
	m->description = opt_str(o, "description");
	m->path = opt_str(o, "path");
	if (!m->path)
		m->path = xstrdup(m->key);
	m->variant = opt_str(o, "variant");
	m->vision = json_is_true(json_object_get(o, "vision"));
	m->tool_use = json_is_true(json_object_get(o, "trained_for_tool_use"));
	json_t *r = json_object_get(o, "reasoning");
	if (json_is_object(r) && m->type == DP_SIM_LLM) {
		const char *st = json_string_value(json_object_get(r, "style"));
		if (st && !strcmp(st, "think_tags"))
			m->rstyle = DP_SIM_R_THINK_TAGS;
		else if (st && !strcmp(st, "reasoning_content"))
			m->rstyle = DP_SIM_R_REASONING_CONTENT;
		else
			m->rstyle = DP_SIM_R_REASONING;
		json_t *a = json_object_get(r, "allowed_options");
		size_t i;
		json_t *v;
		json_array_foreach(a, i, v)
		{
			const char *s = json_string_value(v);
			if (s && strlen(s) < sizeof(m->reasoning_options[0]) && m->n_reasoning_options < 5)
				memcpy(m->reasoning_options[m->n_reasoning_options++], s, strlen(s) + 1);
		}
		const char *d = json_string_value(json_object_get(r, "default"));
		if (d && strlen(d) < sizeof(m->reasoning_default))
			memcpy(m->reasoning_default, d, strlen(d) + 1);
		else
			memcpy(m->reasoning_default, "on", 3);
	}
	double sz = num(o, "size_bytes", 0);
	if (sz < 1 || sz > 4e12) {
		snprintf(err, errlen, "catalog entry '%s': bad size_bytes", m->key);
		goto fail;
	}
	m->size_bytes = (uint64_t)sz;
	m->params_b = num(o, "params_b", sz / 0.6e9);
	m->active_b = num(o, "active_b", m->params_b);
	m->num_experts = (int)num(o, "num_experts", 0);
	m->experts_used = (int)num(o, "experts_used", m->num_experts ? 2 : 0);
	m->max_context_length = (int)num(o, "max_context_length", 4096);
	if (m->max_context_length < 128 || m->max_context_length > (1 << 24)) {
		snprintf(err, errlen, "catalog entry '%s': bad max_context_length", m->key);
		goto fail;
	}
	double kv = num(o, "kv_bytes_per_token", 131072);
	m->kv_bytes_per_token = kv < 0 || kv > 1e8 ? 0 : (uint64_t)kv;
	m->embedding_dims = (int)num(o, "embedding_dims", 768);
	if (m->embedding_dims < 1 || m->embedding_dims > 8192)
		m->embedding_dims = 768;
	json_t *dl = json_object_get(o, "downloaded");
	m->downloaded = dl ? json_is_true(dl) : 1;
	*out = m;
	return 0;
fail:
	dp_catalog_model_free(m);
	return -EINVAL;
}

int dp_catalog_parse(struct dp_sim *sim, const char *text, char *err, size_t errlen)
{
	json_error_t je;
	json_t *root = json_loads(text, 0, &je);
	if (!root) {
		snprintf(err, errlen, "catalog: %s (line %d)", je.text, je.line);
		return -EINVAL;
	}
	json_t *arr = json_object_get(root, "models");
	if (!json_is_array(arr) || json_array_size(arr) == 0 || json_array_size(arr) > DP_SIM_MAX_MODELS) {
		json_decref(root);
		snprintf(err, errlen, "catalog: \"models\" must be an array of 1..%d entries", DP_SIM_MAX_MODELS);
		return -EINVAL;
	}
	size_t i;
	json_t *o;
	json_array_foreach(arr, i, o)
	{
		struct dp_sim_model *m;
		if (!json_is_object(o) || parse_one(o, &m, err, errlen) < 0) {
			if (!json_is_object(o))
				snprintf(err, errlen, "catalog: entry %zu is not an object", i);
			json_decref(root);
			return -EINVAL;
		}
		if (dp_sim_find_model(sim, m->key)) {
			snprintf(err, errlen, "catalog: duplicate key '%s'", m->key);
			dp_catalog_model_free(m);
			json_decref(root);
			return -EINVAL;
		}
		sim->models[sim->nmodels++] = m;
	}
	json_decref(root);
	return 0;
}
