/*
 * hw.c - simulated GPUs and RAM: parsing --gpus/--ram, the load memory
 * model and live telemetry.
 *
 * Memory for a load (documented in sim/README.md):
 *   weights on GPU  = size_bytes * gpu_ratio, the rest in RAM
 *   KV cache        = kv_bytes_per_token * context_length * parallel,
 *                     on the GPUs when offload_kv_cache_to_gpu and ratio > 0
 *   overhead        = 256 MiB per GPU used (compute buffers), 512 MiB more
 *                     for vision models (projector), 200 MiB of RAM
 * The GPU share is split over the GPUs in proportion to their capacity
 * (LM Studio's default split strategy is "evenly"; proportional is how
 * llama.cpp's default tensor split behaves with unequal cards - our choice).
 * A load fits when every GPU and RAM (minus a 2 GiB OS reserve) can hold it.
 * An automatic ratio ("max" that fits) steps down by 0.05 until the GPU
 * share fits, the way LM Studio's auto offload lowers the layer count.
 */
#include "sim.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MIB (1024ull * 1024ull)

int dp_hw_parse_size(const char *s, uint64_t *out)
{
	if (!s || !*s)
		return -EINVAL;
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || !(v >= 0) || v > 1e15)
		return -EINVAL;
	while (*end == ' ')
		end++;
	double mul = 1;
	if (*end) {
		char c = (char)toupper((unsigned char)*end);
		switch (c) {
		case 'K':
			mul = 1024.0;
			break;
		case 'M':
			mul = 1024.0 * 1024;
			break;
		case 'G':
			mul = 1024.0 * 1024 * 1024;
			break;
		case 'T':
			mul = 1024.0 * 1024 * 1024 * 1024;
			break;
		case 'B':
			mul = 1;
			break;
		default:
			return -EINVAL;
		}
		end++;
		if (c != 'B') {
			if (*end == 'i' || *end == 'I')
				end++;
			if (*end == 'B' || *end == 'b')
				end++;
		}
		if (*end)
			return -EINVAL;
	}
	v *= mul;
	if (v > 1e15)
		return -EINVAL;
	*out = (uint64_t)v;
	return 0;
}

/* Memory bandwidth in GB/s by card name (drives tokens/s). */
static double bandwidth_for(const char *name)
{
	static const struct {
		const char *k;
		double bw;
	} t[] = {
	        {"5090", 1792}, {"4090", 1008}, {"4080", 717}, {"4070", 504},     {"4060", 272},   {"3090", 936},
	        {"3080", 760},  {"3070", 448},  {"3060", 360}, {"H100", 3350},    {"A100", 1555},  {"A6000", 768},
	        {"L40", 864},   {"T4", 320},    {"7900", 960}, {"M2 Ultra", 800}, {"M3 Max", 400},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (strcasestr(name, t[i].k))
			return t[i].bw;
	return 500;
}

int dp_hw_parse_gpus(struct dp_sim *sim, const char *spec, char *err, size_t errlen)
{
	sim->ngpus = 0;
	if (!spec || !*spec || !strcasecmp(spec, "none"))
		return 0;
	const char *p = spec;
	while (*p) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);
		char item[128];
		if (n == 0 || n >= sizeof(item)) {
			snprintf(err, errlen, "bad --gpus entry");
			return -EINVAL;
		}
		memcpy(item, p, n);
		item[n] = '\0';
		char *colon = strrchr(item, ':');
		uint64_t sz;
		if (!colon || colon == item || dp_hw_parse_size(colon + 1, &sz) < 0 || sz < (256ull << 20)) {
			snprintf(err, errlen, "bad --gpus entry '%s' (want NAME:SIZE, e.g. \"RTX 4090:24GiB\")", item);
			return -EINVAL;
		}
		*colon = '\0';
		if (sim->ngpus >= DP_SIM_MAX_GPUS) {
			snprintf(err, errlen, "at most %d GPUs", DP_SIM_MAX_GPUS);
			return -EINVAL;
		}
		struct dp_sim_gpu *g = &sim->gpus[sim->ngpus];
		memset(g, 0, sizeof(*g));
		char *nm = item;
		while (*nm == ' ')
			nm++;
		snprintf(g->name, sizeof(g->name), "%.63s", nm);
		/* uuid-like, stable per index and name */
		uint64_t h = dp_gen_hash(g->name, strlen(g->name), 0x9e3779b97f4a7c15ull + (uint64_t)sim->ngpus);
		uint64_t h2 = dp_gen_hash(&h, sizeof(h), 77);
		snprintf(g->id, sizeof(g->id), "GPU-%08x-%04x-4%03x-8%03x-%012llx", (unsigned)(h >> 32),
		         (unsigned)(h >> 16) & 0xffff, (unsigned)h & 0xfff, (unsigned)(h2 >> 52) & 0xfff,
		         (unsigned long long)(h2 & 0xffffffffffffull));
		g->total = sz;
		g->bandwidth_gbps = bandwidth_for(g->name);
		g->temp = 35;
		g->power = 20;
		sim->ngpus++;
		p += n;
		if (*p == ',')
			p++;
	}
	return 0;
}

static void split(struct dp_sim *sim, uint64_t bytes, uint64_t *per)
{
	uint64_t tot = 0;
	for (int i = 0; i < sim->ngpus; i++)
		tot += sim->gpus[i].total;
	uint64_t left = bytes;
	for (int i = 0; i < sim->ngpus; i++) {
		uint64_t part = i == sim->ngpus - 1
		                        ? left
		                        : (uint64_t)((double)bytes * ((double)sim->gpus[i].total / (double)tot));
		if (part > left)
			part = left;
		per[i] += part;
		left -= part;
	}
}

static void estimate_at(struct dp_sim *sim, const struct dp_sim_model *m, uint64_t kv_total, int offload_kv,
                        double ratio, struct dp_sim_mem *mem)
{
	memset(mem->vram, 0, sizeof(mem->vram));
	uint64_t w_gpu = sim->ngpus ? (uint64_t)((double)m->size_bytes * ratio) : 0;
	uint64_t kv_gpu = (sim->ngpus && ratio > 0 && offload_kv) ? kv_total : 0;
	uint64_t ovh = 0;
	if (w_gpu || kv_gpu) {
		ovh = 256 * MIB * (uint64_t)sim->ngpus + (m->vision ? 512 * MIB : 0);
		split(sim, w_gpu + ovh, mem->vram);
		split(sim, kv_gpu, mem->vram);
	}
	mem->ratio = sim->ngpus ? ratio : 0;
	mem->model_vram = w_gpu + ovh;
	mem->context_vram = kv_gpu;
	mem->model_bytes = m->size_bytes + (m->vision ? 512 * MIB : 0);
	mem->context_bytes = kv_total;
	mem->ram = (m->size_bytes - w_gpu) + (kv_total - kv_gpu) + 200 * MIB + (!w_gpu && m->vision ? 512 * MIB : 0);
	int fits = 1;
	for (int i = 0; i < sim->ngpus; i++)
		if (sim->gpus[i].used + mem->vram[i] > sim->gpus[i].total)
			fits = 0;
	uint64_t ram_cap = sim->ram_total > DP_HW_RAM_RESERVE ? sim->ram_total - DP_HW_RAM_RESERVE : 0;
	if (sim->ram_used + mem->ram > ram_cap)
		fits = 0;
	mem->fits = fits;
}

void dp_hw_estimate(struct dp_sim *sim, const struct dp_sim_model *m, int ctx, int parallel, int offload_kv,
                    double gpu_ratio, struct dp_sim_mem *mem)
{
	if (parallel < 1)
		parallel = 1;
	uint64_t kv_total = m->kv_bytes_per_token * (uint64_t)ctx * (uint64_t)parallel;
	if (gpu_ratio >= 0) {
		estimate_at(sim, m, kv_total, offload_kv, gpu_ratio > 1 ? 1 : gpu_ratio, mem);
		return;
	}
	/* auto: the largest ratio whose GPU share fits */
	for (int step = 20; step >= 0; step--) {
		double r = step / 20.0;
		estimate_at(sim, m, kv_total, offload_kv, r, mem);
		int gpu_ok = 1;
		for (int i = 0; i < sim->ngpus; i++)
			if (sim->gpus[i].used + mem->vram[i] > sim->gpus[i].total)
				gpu_ok = 0;
		if (gpu_ok)
			return;
	}
}

void dp_hw_commit(struct dp_sim *sim, const struct dp_sim_mem *mem)
{
	for (int i = 0; i < sim->ngpus; i++)
		sim->gpus[i].used += mem->vram[i];
	sim->ram_used += mem->ram;
}

void dp_hw_free(struct dp_sim *sim, const struct dp_sim_mem *mem)
{
	for (int i = 0; i < sim->ngpus; i++)
		sim->gpus[i].used -= mem->vram[i] > sim->gpus[i].used ? sim->gpus[i].used : mem->vram[i];
	sim->ram_used -= mem->ram > sim->ram_used ? sim->ram_used : mem->ram;
}

void dp_hw_tick(struct dp_sim *sim, double dt_ms)
{
	for (int i = 0; i < sim->ngpus; i++)
		sim->gpus[i].busy = 0;
	struct dp_sim_inst *in;
	TAILQ_FOREACH(in, &sim->insts, link)
	{
		if (in->active <= 0)
			continue;
		for (int i = 0; i < sim->ngpus; i++)
			if (in->mem.vram[i])
				sim->gpus[i].busy += in->active_gen > 0 ? in->active_gen : 1;
	}
	double a = 1 - exp(-dt_ms / 1500.0); /* ~1.5 s smoothing */
	for (int i = 0; i < sim->ngpus; i++) {
		struct dp_sim_gpu *g = &sim->gpus[i];
		double target = g->busy ? fmin(100, 70 + 8 * g->busy) : 0;
		double vram_frac = g->total ? (double)g->used / (double)g->total : 0;
		g->util += (target - g->util) * a;
		double ttemp = 35 + 0.45 * g->util + 3 * vram_frac;
		double tpow = 20 + 3.2 * g->util + 15 * vram_frac;
		g->temp += (ttemp - g->temp) * a * 0.5;
		g->power += (tpow - g->power) * a;
	}
}
