/*
 * estimate.h - our own VRAM estimator for the Forge's pre-flight: how much
 * GPU (and host) memory a model load will take, split over the target's
 * GPUs, and whether it fits next to what is already loaded.
 *
 * LM Studio reports no live memory use (reference §8.1) and no layer data
 * in its model listing (§3.1), so everything here is an estimate built from
 * what we do know: the model file size, the GPU offload ratio, the context
 * length and parallel slots, and the layer shape of well-known architectures
 * (a small table with sources in estimate.c). The model:
 *
 *   weights   = size_bytes x gpu ratio on the GPUs, the rest in RAM;
 *   kv cache  = 2 (K,V) x n_layers x n_kv_heads x head_dim x 2 bytes (f16)
 *               x context_length x parallel, on the GPUs when KV offload is
 *               on and the ratio > 0 (in proportion to the ratio), else RAM;
 *               unknown architectures: layers from the parameter count
 *               (16 x params_B^0.35), 8 KV heads x 128 dims (the common
 *               grouped-query shape) -> basis "approximation";
 *   overhead  = per GPU used: 256 MiB runtime (CUDA context, cuBLAS
 *               workspace) + llama.cpp's compute buffer, about
 *               max(logits, attention scores) x 1.05 + 16 MiB where
 *               logits = eval_batch x n_vocab x 4 bytes and (without flash
 *               attention) scores = eval_batch x n_ctx x n_head x 4 bytes;
 *               200 MiB host buffers in RAM;
 *   split     = GPU bytes over the GPUs in proportion to their free memory
 *               (total - used_before);
 *   fits      = every GPU's used_after <= total, and RAM when its size is
 *               known; unknown (-1) without any hardware data.
 *
 * Pure functions, no I/O; tests/unit/test_estimate.c checks them against
 * published llama.cpp figures.
 */
#ifndef DP_ESTIMATE_H
#define DP_ESTIMATE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define DP_ESTIMATE_MIB           (1024ull * 1024ull)
#define DP_ESTIMATE_GIB           (1024ull * DP_ESTIMATE_MIB)
#define DP_ESTIMATE_RUNTIME_BYTES (256ull * DP_ESTIMATE_MIB) /* per GPU used */
#define DP_ESTIMATE_HOST_BYTES    (200ull * DP_ESTIMATE_MIB) /* host-side buffers */
#define DP_ESTIMATE_MAX_GPUS      16
#define DP_ESTIMATE_DEFAULT_BATCH 512
#define DP_ESTIMATE_DEFAULT_VOCAB 131072
#define DP_ESTIMATE_DEFAULT_HEADS 32

/* Layer shape of an architecture. */
struct dp_estimate_arch {
	int n_layers;
	int n_kv_heads;
	int head_dim;
	int n_head;         /* query heads (attention scores without flash attention) */
	int n_vocab;        /* logits buffer */
	const char *source; /* where the numbers come from (static) */
};

/* What we know of the model (from GET /api/v1/models). */
struct dp_estimate_model {
	const char *key;           /* used to tell same-shaped names apart (may be NULL) */
	const char *type;          /* "llm" | "embedding" | NULL (= llm) */
	const char *architecture;  /* GGUF general.architecture, may be NULL */
	const char *params_string; /* "8B", "30B-A3B", may be NULL */
	uint64_t size_bytes;
	double bits_per_weight; /* 0: unknown */
	/* explicit shape; n_layers 0 = look it up / approximate */
	struct dp_estimate_arch arch;
};

/* The load config. Negative / zero values mean "not given" as noted. */
struct dp_estimate_load {
	long context_length; /* > 0 required */
	int parallel;        /* <= 0: 1 */
	double gpu_ratio;    /* 0..1; < 0: not given, full offload assumed */
	int offload_kv;      /* 1, 0; < 0: not given (on) */
	int flash_attention; /* 1, 0; < 0: not given (on: LM Studio's default) */
	int eval_batch_size; /* <= 0: 512 */
};

struct dp_estimate_gpu {
	int index;
	char name[128];
	uint64_t total_bytes;
	uint64_t used_before;
	/* filled by dp_estimate_run */
	uint64_t load_bytes;
	uint64_t used_after;
	int fits;
};

struct dp_estimate_result {
	/* breakdown */
	uint64_t weights, weights_gpu, weights_ram;
	uint64_t kv_cache, kv_gpu, kv_ram;
	uint64_t overhead;  /* GPU runtime + compute buffers, all GPUs */
	uint64_t gpu_total; /* everything this load puts on GPUs */
	uint64_t ram_total; /* everything this load puts in RAM */
	uint64_t total;
	/* basis */
	const char *kv_basis; /* "layers" | "approximation" | "none" */
	struct dp_estimate_arch arch;
	uint64_t kv_bytes_per_token;
	double gpu_ratio;      /* as used */
	int gpu_ratio_assumed; /* not given: 1.0 assumed */
	long context_length;
	int parallel;
	int flash_attention, offload_kv, eval_batch_size;
	/* verdict */
	int fits;               /* 1, 0, -1 unknown */
	char reason[320];       /* why not / why unknown; "" when it fits */
	const char *confidence; /* "medium" | "low" */
	/* RAM */
	int ram_known;
	uint64_t ram_capacity, ram_used_before;
	int ram_fits;
};

/* The table entry for an architecture + parameter label (+ key hint), or
 * -ENOENT. */
int dp_estimate_arch_lookup(const char *architecture, const char *params_string, const char *key,
                            struct dp_estimate_arch *out);
/* Billions of parameters: the first number of params_string ("26B-A4B" ->
 * 26, "350M" -> 0.35), else size x 8 / bits (4.5 bits when unknown); 0
 * when nothing is known. */
double dp_estimate_params_b(const char *params_string, uint64_t size_bytes, double bits_per_weight);
/* f16 KV cache bytes: 2 x layers x kv_heads x head_dim x bytes_per_element
 * x context x parallel (saturating). */
uint64_t dp_estimate_kv_bytes(int n_layers, int n_kv_heads, int head_dim, int bytes_per_element, long context_length,
                              int parallel);
/* llama.cpp compute buffer per GPU (see the header comment). */
uint64_t dp_estimate_compute_bytes(const struct dp_estimate_arch *a, int eval_batch, long n_ctx_total,
                                   int flash_attention);

/*
 * Estimate a load of `m` with `l` on `gpus` (n entries; used_before filled
 * by the caller, load_bytes/used_after/fits filled here) and RAM
 * (ram_capacity 0 = unknown). gpus_known 0: the GPUs are not known (no
 * survey): the verdict is then unknown unless RAM alone rules it out;
 * gpus_known 1 with n 0: a CPU-only target (everything in RAM). 0, or -EINVAL (no context length, no
 * size). Confidence: "medium" with layer data and GPU data, else "low".
 */
int dp_estimate_run(const struct dp_estimate_model *m, const struct dp_estimate_load *l, int gpus_known,
                    struct dp_estimate_gpu *gpus, size_t n, uint64_t ram_capacity, uint64_t ram_used_before,
                    struct dp_estimate_result *out);

/* What an already loaded instance holds on GPUs / in RAM (no fit check,
 * full offload assumed unless l->gpu_ratio says otherwise). */
void dp_estimate_footprint(const struct dp_estimate_model *m, const struct dp_estimate_load *l, uint64_t *gpu_bytes,
                           uint64_t *ram_bytes);

/* {"gpus":[…],"ram":…,"breakdown":{…},"fits","reason","confidence","basis":{…},"config":{…}}
 * (new reference; the API adds target/model/lmstudio). */
json_t *dp_estimate_json(const struct dp_estimate_result *r, const struct dp_estimate_gpu *gpus, size_t n);

/* "12.3 GiB" into buf. */
const char *dp_estimate_fmt_bytes(uint64_t b, char *buf, size_t len);

#endif
