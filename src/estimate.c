/*
 * estimate.c - the Forge's VRAM estimator (model and formulas in
 * estimate.h). The architecture table holds layer shapes of well-known
 * models, each taken from the model's published Hugging Face config.json
 * (num_hidden_layers, num_key_value_heads, head_dim or hidden_size /
 * num_attention_heads, num_attention_heads, vocab_size). Keys are the GGUF
 * `general.architecture` LM Studio reports plus the parameter label; an
 * optional key hint tells apart models that share both (Llama 2 7B and
 * Mistral 7B are both "llama" "7B").
 */
#include "estimate.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

struct arch_row {
	const char *arch;
	const char *params;
	const char *key_hint; /* substring of the model key (case-insensitive), or NULL */
	struct dp_estimate_arch a;
};

/* Sources: the config.json of the named Hugging Face repository. */
static const struct arch_row arch_table[] = {
        {"llama", "7B", "llama-2", {32, 32, 128, 32, 32000, "meta-llama/Llama-2-7b-hf config.json"}},
        {"llama", "13B", "llama-2", {40, 40, 128, 40, 32000, "meta-llama/Llama-2-13b-hf config.json"}},
        {"llama", "7B", "mistral", {32, 8, 128, 32, 32768, "mistralai/Mistral-7B-Instruct-v0.3 config.json"}},
        {"llama", "8B", NULL, {32, 8, 128, 32, 128256, "meta-llama/Meta-Llama-3-8B config.json"}},
        {"llama", "3B", NULL, {28, 8, 128, 24, 128256, "meta-llama/Llama-3.2-3B config.json"}},
        {"llama", "1B", NULL, {16, 8, 64, 32, 128256, "meta-llama/Llama-3.2-1B config.json"}},
        {"llama", "70B", NULL, {80, 8, 128, 64, 128256, "meta-llama/Meta-Llama-3-70B config.json"}},
        {"llama",
         "24B",
         "mistral",
         {40, 8, 128, 32, 131072, "mistralai/Mistral-Small-3.1-24B-Instruct-2503 config.json"}},
        {"mistral3",
         "24B",
         NULL,
         {40, 8, 128, 32, 131072, "mistralai/Mistral-Small-3.1-24B-Instruct-2503 config.json"}},
        {"qwen3", "1.7B", NULL, {28, 8, 128, 16, 151936, "Qwen/Qwen3-1.7B config.json"}},
        {"qwen3", "4B", NULL, {36, 8, 128, 32, 151936, "Qwen/Qwen3-4B config.json"}},
        {"qwen3", "8B", NULL, {36, 8, 128, 32, 151936, "Qwen/Qwen3-8B config.json"}},
        {"qwen3", "14B", NULL, {40, 8, 128, 40, 151936, "Qwen/Qwen3-14B config.json"}},
        {"qwen3", "32B", NULL, {64, 8, 128, 64, 151936, "Qwen/Qwen3-32B config.json"}},
        {"qwen3moe", "30B-A3B", NULL, {48, 4, 128, 32, 151936, "Qwen/Qwen3-30B-A3B config.json"}},
        {"qwen2", "7B", NULL, {28, 4, 128, 28, 152064, "Qwen/Qwen2.5-7B-Instruct config.json"}},
        {"gemma3", "4B", NULL, {34, 4, 256, 8, 262208, "google/gemma-3-4b-it config.json"}},
        {"gemma3", "12B", NULL, {48, 8, 256, 16, 262208, "google/gemma-3-12b-it config.json"}},
        {"gemma3", "27B", NULL, {62, 16, 128, 32, 262208, "google/gemma-3-27b-it config.json"}},
        {"gpt-oss", "20B", NULL, {24, 8, 64, 64, 201088, "openai/gpt-oss-20b config.json"}},
};

static int contains_ci(const char *hay, const char *needle)
{
	size_t n = strlen(needle);
	for (; hay && *hay; hay++)
		if (!strncasecmp(hay, needle, n))
			return 1;
	return 0;
}

/* "8B" matches "8B", "8b"; "30B-A3B" only itself. */
static int params_match(const char *have, const char *want)
{
	return have && !strcasecmp(have, want);
}

int dp_estimate_arch_lookup(const char *architecture, const char *params_string, const char *key,
                            struct dp_estimate_arch *out)
{
	if (!architecture || !params_string)
		return -ENOENT;
	const struct arch_row *generic = NULL;
	for (size_t i = 0; i < sizeof(arch_table) / sizeof(arch_table[0]); i++) {
		const struct arch_row *r = &arch_table[i];
		if (strcasecmp(r->arch, architecture) || !params_match(params_string, r->params))
			continue;
		if (r->key_hint) {
			if (key && contains_ci(key, r->key_hint)) {
				*out = r->a;
				return 0;
			}
		} else if (!generic) {
			generic = r;
		}
	}
	/* no hinted row matched the key: the generic row of this shape, if any
	 * (a shape with only hinted rows, like "llama" "7B", is ambiguous) */
	if (generic) {
		*out = generic->a;
		return 0;
	}
	return -ENOENT;
}

double dp_estimate_params_b(const char *params_string, uint64_t size_bytes, double bits_per_weight)
{
	if (params_string) {
		const char *p = params_string;
		while (*p && !isdigit((unsigned char)*p))
			p++;
		double v = 0, frac = 0.1;
		int digits = 0, dot = 0;
		for (; *p; p++) {
			if (isdigit((unsigned char)*p)) {
				digits++;
				if (dot) {
					v += (*p - '0') * frac;
					frac /= 10;
				} else {
					v = v * 10 + (*p - '0');
				}
			} else if (*p == '.' && !dot) {
				dot = 1;
			} else {
				break;
			}
		}
		if (digits && v > 0) {
			if (*p == 'M' || *p == 'm')
				return v / 1000.0;
			if (*p == 'T' || *p == 't')
				return v * 1000.0;
			return v;
		}
	}
	if (!size_bytes)
		return 0;
	double bits = bits_per_weight > 0 ? bits_per_weight : 4.5;
	return (double)size_bytes * 8.0 / bits / 1e9;
}

static uint64_t sat_mul(uint64_t a, uint64_t b)
{
	if (a && b > UINT64_MAX / a)
		return UINT64_MAX;
	return a * b;
}

static uint64_t sat_add(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

uint64_t dp_estimate_kv_bytes(int n_layers, int n_kv_heads, int head_dim, int bytes_per_element, long context_length,
                              int parallel)
{
	if (n_layers <= 0 || n_kv_heads <= 0 || head_dim <= 0 || bytes_per_element <= 0 || context_length <= 0)
		return 0;
	if (parallel <= 0)
		parallel = 1;
	uint64_t v = 2;
	v = sat_mul(v, (uint64_t)n_layers);
	v = sat_mul(v, (uint64_t)n_kv_heads);
	v = sat_mul(v, (uint64_t)head_dim);
	v = sat_mul(v, (uint64_t)bytes_per_element);
	v = sat_mul(v, (uint64_t)context_length);
	return sat_mul(v, (uint64_t)parallel);
}

uint64_t dp_estimate_compute_bytes(const struct dp_estimate_arch *a, int eval_batch, long n_ctx_total,
                                   int flash_attention)
{
	uint64_t batch = eval_batch > 0 ? (uint64_t)eval_batch : DP_ESTIMATE_DEFAULT_BATCH;
	uint64_t vocab = a && a->n_vocab > 0 ? (uint64_t)a->n_vocab : DP_ESTIMATE_DEFAULT_VOCAB;
	uint64_t heads = a && a->n_head > 0 ? (uint64_t)a->n_head : DP_ESTIMATE_DEFAULT_HEADS;
	/* llama.cpp's graph allocator reuses memory between ops, so the
	 * buffer is about the largest single activation: the f32 logits of
	 * one micro-batch, or (without flash attention) the f32 attention
	 * scores KQ = n_kv x n_ubatch x n_head of one layer */
	uint64_t logits = sat_mul(sat_mul(batch, vocab), 4);
	uint64_t peak = logits;
	if (!flash_attention) {
		uint64_t kq = sat_mul(sat_mul(sat_mul(batch, n_ctx_total > 0 ? (uint64_t)n_ctx_total : 0), heads), 4);
		if (kq > peak)
			peak = kq;
	}
	return sat_add(peak + peak / 20, 16 * DP_ESTIMATE_MIB);
}

const char *dp_estimate_fmt_bytes(uint64_t b, char *buf, size_t len)
{
	if (b >= DP_ESTIMATE_GIB)
		snprintf(buf, len, "%.1f GiB", (double)b / (double)DP_ESTIMATE_GIB);
	else
		snprintf(buf, len, "%.0f MiB", (double)b / (double)DP_ESTIMATE_MIB);
	return buf;
}

/* Fill the shape: explicit, table, or approximation. Returns the basis. */
static const char *shape(const struct dp_estimate_model *m, struct dp_estimate_arch *a)
{
	if (m->type && !strcmp(m->type, "embedding")) {
		memset(a, 0, sizeof(*a));
		a->source = "embedding model: no KV cache counted";
		return "none";
	}
	if (m->arch.n_layers > 0 && m->arch.n_kv_heads > 0 && m->arch.head_dim > 0) {
		*a = m->arch;
		if (!a->source)
			a->source = "given";
		return "layers";
	}
	if (dp_estimate_arch_lookup(m->architecture, m->params_string, m->key, a) == 0)
		return "layers";
	double pb = dp_estimate_params_b(m->params_string, m->size_bytes, m->bits_per_weight);
	int layers = pb > 0 ? (int)lround(16.0 * pow(pb, 0.35)) : 32;
	if (layers < 8)
		layers = 8;
	if (layers > 128)
		layers = 128;
	a->n_layers = layers;
	a->n_kv_heads = 8;
	a->head_dim = 128;
	a->n_head = DP_ESTIMATE_DEFAULT_HEADS;
	a->n_vocab = DP_ESTIMATE_DEFAULT_VOCAB;
	a->source = "approximation: layers = 16 x params_B^0.35, 8 KV heads x 128 dims";
	return "approximation";
}

static void fill_config(const struct dp_estimate_load *l, struct dp_estimate_result *r)
{
	r->context_length = l->context_length;
	r->parallel = l->parallel > 0 ? l->parallel : 1;
	r->gpu_ratio_assumed = l->gpu_ratio < 0;
	r->gpu_ratio = l->gpu_ratio < 0 ? 1.0 : (l->gpu_ratio > 1 ? 1.0 : l->gpu_ratio);
	r->offload_kv = l->offload_kv < 0 ? 1 : !!l->offload_kv;
	r->flash_attention = l->flash_attention < 0 ? 1 : !!l->flash_attention;
	r->eval_batch_size = l->eval_batch_size > 0 ? l->eval_batch_size : DP_ESTIMATE_DEFAULT_BATCH;
}

/* Breakdown without GPUs: weights / KV in GPU and RAM, overhead per GPU. */
static void breakdown(const struct dp_estimate_model *m, struct dp_estimate_result *r, uint64_t *compute_per_gpu)
{
	r->kv_basis = shape(m, &r->arch);
	r->kv_bytes_per_token = dp_estimate_kv_bytes(r->arch.n_layers, r->arch.n_kv_heads, r->arch.head_dim, 2, 1, 1);
	r->weights = m->size_bytes;
	r->weights_gpu = (uint64_t)llround((double)m->size_bytes * r->gpu_ratio);
	if (r->weights_gpu > r->weights)
		r->weights_gpu = r->weights;
	r->weights_ram = r->weights - r->weights_gpu;
	r->kv_cache = dp_estimate_kv_bytes(r->arch.n_layers, r->arch.n_kv_heads, r->arch.head_dim, 2, r->context_length,
	                                   r->parallel);
	if (r->offload_kv && r->gpu_ratio > 0)
		r->kv_gpu = (uint64_t)llround((double)r->kv_cache * r->gpu_ratio);
	else
		r->kv_gpu = 0;
	if (r->kv_gpu > r->kv_cache)
		r->kv_gpu = r->kv_cache;
	r->kv_ram = r->kv_cache - r->kv_gpu;
	*compute_per_gpu = 0;
	if (r->gpu_ratio > 0 && strcmp(r->kv_basis, "none"))
		*compute_per_gpu = dp_estimate_compute_bytes(
		        &r->arch, r->eval_batch_size, (long)((uint64_t)r->context_length * (uint64_t)r->parallel),
		        r->flash_attention);
	else if (r->gpu_ratio > 0)
		*compute_per_gpu = 64 * DP_ESTIMATE_MIB; /* embeddings: small graphs */
	r->ram_total = sat_add(sat_add(r->weights_ram, r->kv_ram), DP_ESTIMATE_HOST_BYTES);
}

void dp_estimate_footprint(const struct dp_estimate_model *m, const struct dp_estimate_load *l, uint64_t *gpu_bytes,
                           uint64_t *ram_bytes)
{
	struct dp_estimate_result r;
	memset(&r, 0, sizeof(r));
	fill_config(l, &r);
	uint64_t compute = 0;
	breakdown(m, &r, &compute);
	uint64_t g = sat_add(r.weights_gpu, r.kv_gpu);
	if (g)
		g = sat_add(g, sat_add(compute, DP_ESTIMATE_RUNTIME_BYTES));
	*gpu_bytes = g;
	*ram_bytes = r.ram_total;
}

int dp_estimate_run(const struct dp_estimate_model *m, const struct dp_estimate_load *l, int gpus_known,
                    struct dp_estimate_gpu *gpus, size_t n, uint64_t ram_capacity, uint64_t ram_used_before,
                    struct dp_estimate_result *out)
{
	memset(out, 0, sizeof(*out));
	if (!m || !l || l->context_length <= 0 || !m->size_bytes || (n && !gpus))
		return -EINVAL;
	struct dp_estimate_load ll = *l;
	if (gpus_known && n == 0)
		ll.gpu_ratio = 0; /* CPU only: nothing can be offloaded */
	fill_config(&ll, out);
	if (gpus_known && n == 0)
		out->gpu_ratio_assumed = 0;
	uint64_t compute = 0;
	breakdown(m, out, &compute);
	uint64_t shared = sat_add(out->weights_gpu, out->kv_gpu);
	char b1[32], b2[32], b3[32];

	out->fits = 1;
	if (n > 0 && shared > 0) {
		/* split by free memory; every GPU that gets a share also gets
		 * the runtime and a compute buffer */
		uint64_t free_sum = 0;
		for (size_t i = 0; i < n; i++)
			if (gpus[i].total_bytes > gpus[i].used_before)
				free_sum += gpus[i].total_bytes - gpus[i].used_before;
		uint64_t assigned = 0;
		size_t last = n - 1;
		for (size_t i = 0; i < n; i++) {
			uint64_t fr = gpus[i].total_bytes > gpus[i].used_before
			                      ? gpus[i].total_bytes - gpus[i].used_before
			                      : 0;
			uint64_t part;
			if (i == last)
				part = shared - assigned;
			else if (free_sum)
				part = (uint64_t)((long double)shared * (long double)fr / (long double)free_sum);
			else
				part = shared / n;
			assigned += part;
			gpus[i].load_bytes = part ? sat_add(part, sat_add(compute, DP_ESTIMATE_RUNTIME_BYTES)) : 0;
			if (part)
				out->overhead = sat_add(out->overhead, sat_add(compute, DP_ESTIMATE_RUNTIME_BYTES));
		}
	} else if (n == 0 && shared > 0) {
		/* GPUs unknown: count one GPU's overhead so the total is honest */
		out->overhead = sat_add(compute, DP_ESTIMATE_RUNTIME_BYTES);
	}
	for (size_t i = 0; i < n; i++) {
		if (!shared)
			gpus[i].load_bytes = 0;
		gpus[i].used_after = sat_add(gpus[i].used_before, gpus[i].load_bytes);
		gpus[i].fits = gpus[i].used_after <= gpus[i].total_bytes;
		if (!gpus[i].fits && out->fits == 1) {
			out->fits = 0;
			snprintf(out->reason, sizeof(out->reason), "GPU %d (%s) would need %s of %s (%s short)",
			         gpus[i].index, gpus[i].name[0] ? gpus[i].name : "unnamed",
			         dp_estimate_fmt_bytes(gpus[i].used_after, b1, sizeof b1),
			         dp_estimate_fmt_bytes(gpus[i].total_bytes, b2, sizeof b2),
			         dp_estimate_fmt_bytes(gpus[i].used_after - gpus[i].total_bytes, b3, sizeof b3));
		}
	}
	out->gpu_total = sat_add(shared, out->overhead);
	out->total = sat_add(out->gpu_total, out->ram_total);

	out->ram_known = ram_capacity > 0;
	out->ram_capacity = ram_capacity;
	out->ram_used_before = ram_used_before;
	out->ram_fits = 1;
	if (out->ram_known && sat_add(ram_used_before, out->ram_total) > ram_capacity) {
		out->ram_fits = 0;
		if (out->fits == 1) {
			out->fits = 0;
			snprintf(out->reason, sizeof(out->reason), "RAM would need %s of %s (%s short)",
			         dp_estimate_fmt_bytes(sat_add(ram_used_before, out->ram_total), b1, sizeof b1),
			         dp_estimate_fmt_bytes(ram_capacity, b2, sizeof b2),
			         dp_estimate_fmt_bytes(sat_add(ram_used_before, out->ram_total) - ram_capacity, b3,
			                               sizeof b3));
		}
	}
	if (!gpus_known && out->fits == 1) {
		out->fits = -1;
		snprintf(out->reason, sizeof(out->reason),
		         "the target's GPUs are not known (the lms bridge gave no hardware survey)");
	}
	int layers = !strcmp(out->kv_basis, "layers") || !strcmp(out->kv_basis, "none");
	out->confidence = layers && gpus_known ? "medium" : "low";
	return 0;
}

json_t *dp_estimate_json(const struct dp_estimate_result *r, const struct dp_estimate_gpu *gpus, size_t n)
{
	json_t *ga = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(
		        ga, json_pack("{s:i, s:s, s:I, s:I, s:I, s:I, s:b}", "index", gpus[i].index, "name",
		                      gpus[i].name, "total_bytes", (json_int_t)gpus[i].total_bytes, "used_before",
		                      (json_int_t)gpus[i].used_before, "load_bytes", (json_int_t)gpus[i].load_bytes,
		                      "used_after", (json_int_t)gpus[i].used_after, "fits", gpus[i].fits));
	json_t *ram = json_null();
	if (r->ram_known)
		ram = json_pack("{s:I, s:I, s:I, s:I, s:b}", "total_bytes", (json_int_t)r->ram_capacity, "used_before",
		                (json_int_t)r->ram_used_before, "load_bytes", (json_int_t)r->ram_total, "used_after",
		                (json_int_t)sat_add(r->ram_used_before, r->ram_total), "fits", r->ram_fits);
	json_t *bd = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "weights", (json_int_t)r->weights,
	                       "weights_gpu", (json_int_t)r->weights_gpu, "weights_ram", (json_int_t)r->weights_ram,
	                       "kv_cache", (json_int_t)r->kv_cache, "kv_cache_gpu", (json_int_t)r->kv_gpu,
	                       "kv_cache_ram", (json_int_t)r->kv_ram, "overhead", (json_int_t)r->overhead, "gpu_total",
	                       (json_int_t)r->gpu_total, "ram_total", (json_int_t)r->ram_total, "total",
	                       (json_int_t)r->total);
	json_t *basis = json_pack("{s:s, s:i, s:i, s:i, s:I, s:s, s:b, s:s, s:s}", "kv", r->kv_basis, "n_layers",
	                          r->arch.n_layers, "n_kv_heads", r->arch.n_kv_heads, "head_dim", r->arch.head_dim,
	                          "kv_bytes_per_token", (json_int_t)r->kv_bytes_per_token, "source",
	                          r->arch.source ? r->arch.source : "", "gpu_ratio_assumed", r->gpu_ratio_assumed,
	                          "split", "by free memory", "used_before", "estimated from loaded instances");
	json_t *cfg =
	        json_pack("{s:I, s:i, s:f, s:b, s:b, s:i}", "context_length", (json_int_t)r->context_length, "parallel",
	                  r->parallel, "gpu_ratio", r->gpu_ratio, "flash_attention", r->flash_attention,
	                  "offload_kv_cache_to_gpu", r->offload_kv, "eval_batch_size", r->eval_batch_size);
	json_t *fits = r->fits < 0 ? json_null() : json_boolean(r->fits);
	return json_pack("{s:o, s:o, s:o, s:o, s:o, s:s?, s:s, s:o}", "config", cfg, "gpus", ga, "ram", ram,
	                 "breakdown", bd, "fits", fits, "reason", r->reason[0] ? r->reason : NULL, "confidence",
	                 r->confidence, "basis", basis);
}
