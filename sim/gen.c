/*
 * gen.c - deterministic "model output": a seeded PRNG walking an embedded
 * corpus of prose, code and reasoning lines, one token per word; and the
 * timing model (tokens/s, time to first token, load time).
 *
 * Determinism: the same seed and kind always give the same token sequence;
 * callers derive the seed from --seed, the request's own seed, the model
 * key and the prompt (pred.c).
 *
 * Timing (simulated seconds, before --speed): generation is memory-bound,
 * so a token costs (active weight bytes on each device / its bandwidth)
 * at 55 % efficiency; prompt processing runs ~25x faster than generation
 * on a GPU (6x on CPU) plus 30 ms fixed; loading reads the file at
 * 3 GB/s plus 0.4 s.
 */
#include "sim.h"

#include <math.h>
#include <string.h>

static const char *const prose[] = {
        "The quick answer is that it depends on how much memory the model needs at load time.",
        "Local inference keeps your data on your own machine, which matters for privacy.",
        "A larger context window lets the model consider more of the conversation at once.",
        "Quantization trades a little accuracy for a much smaller memory footprint.",
        "Most of the time is spent reading weights from memory, not doing arithmetic.",
        "If the model does not fit on the GPU, some layers run on the CPU instead.",
        "That is a good question, and there are a few things worth considering.",
        "First, check which models are already loaded and how much VRAM is free.",
        "Second, pick a quantization that leaves room for the KV cache.",
        "In short, smaller models answer faster, while larger ones reason more carefully.",
        "Here is a summary of the main points discussed above.",
        "The weather in the mountains changes quickly, so bring a warm jacket.",
        "Rivers carve valleys over millions of years, one grain of sand at a time.",
        "A good explanation starts with the simplest case and builds from there.",
        "Let me know if you would like more detail on any of these steps.",
        "Batching several requests together keeps the GPU busy and raises throughput.",
        "Each request gets its own slot, and waiting requests are queued in order.",
        "The server streams tokens as soon as they are generated.",
};

static const char *const code[] = {
        "```python",
        "def fibonacci(n: int) -> list[int]:",
        "    \"\"\"Return the first n Fibonacci numbers.\"\"\"",
        "    seq = [0, 1]",
        "    while len(seq) < n:",
        "        seq.append(seq[-1] + seq[-2])",
        "    return seq[:n]",
        "",
        "if __name__ == \"__main__\":",
        "    print(fibonacci(10))",
        "```",
        "```c",
        "static int sum(const int *v, size_t n)",
        "{",
        "    int s = 0;",
        "    for (size_t i = 0; i < n; i++)",
        "        s += v[i];",
        "    return s;",
        "}",
        "```",
};

static const char *const reasoning[] = {
        "Okay, the user is asking a question, so let me think about what they really need.",
        "First I should figure out the key constraint here.",
        "Hmm, memory is probably the limiting factor, so I will start there.",
        "Wait, I should double-check that assumption against the numbers.",
        "Let me break the problem into smaller steps and handle each one.",
        "That seems consistent, so the answer should mention the trade-off clearly.",
        "I will keep the final answer short and practical.",
        "Alternatively, there might be a simpler approach worth mentioning.",
};

uint64_t dp_gen_hash(const void *p, size_t n, uint64_t h)
{
	const unsigned char *s = p;
	h ^= 0xcbf29ce484222325ull;
	for (size_t i = 0; i < n; i++) {
		h ^= s[i];
		h *= 0x100000001b3ull;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	return h;
}

static uint64_t splitmix(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

uint64_t dp_gen_next(struct dp_gen *g)
{
	/* xoroshiro128+ */
	uint64_t s0 = g->s[0], s1 = g->s[1], r = s0 + s1;
	s1 ^= s0;
	g->s[0] = ((s0 << 24) | (s0 >> 40)) ^ s1 ^ (s1 << 16);
	g->s[1] = (s1 << 37) | (s1 >> 27);
	return r;
}

static int nlines(int kind)
{
	return kind == 1   ? (int)(sizeof(code) / sizeof(code[0]))
	       : kind == 2 ? (int)(sizeof(reasoning) / sizeof(reasoning[0]))
	                   : (int)(sizeof(prose) / sizeof(prose[0]));
}

static const char *line(int kind, int i)
{
	return kind == 1 ? code[i] : kind == 2 ? reasoning[i] : prose[i];
}

void dp_gen_init(struct dp_gen *g, uint64_t seed, int kind)
{
	memset(g, 0, sizeof(*g));
	uint64_t x = seed;
	g->s[0] = splitmix(&x);
	g->s[1] = splitmix(&x) | 1;
	g->kind = kind;
	/* code starts at a fence; prose and reasoning anywhere */
	g->cur = kind == 1 ? (dp_gen_next(g) & 1 ? 0 : 11) : (int)(dp_gen_next(g) % (uint64_t)nlines(kind));
	g->off = 0;
}

size_t dp_gen_token(struct dp_gen *g, char *out, size_t outlen)
{
	size_t n = 0;
	const char *l = line(g->kind, g->cur);
	if (outlen < 2)
		return 0;
	if (g->pos > 0 && l[g->off] == '\0') {
		/* the line is used up: pick the next one */
		int nl = nlines(g->kind);
		g->cur = g->kind == 1 ? (g->cur + 1) % nl : (int)(dp_gen_next(g) % (uint64_t)nl);
		g->off = 0;
		l = line(g->kind, g->cur);
	}
	if (g->off == 0 && g->pos > 0) {
		if (g->kind == 1) {
			out[n++] = '\n';
		} else if (++g->since_break >= 3 && dp_gen_next(g) % 3 == 0 && outlen > 3) {
			g->since_break = 0;
			out[n++] = '\n';
			out[n++] = '\n';
		} else {
			out[n++] = ' ';
		}
	}
	/* indentation at a line start, or the single space between words */
	while (l[g->off] == ' ' && n + 1 < outlen)
		out[n++] = l[g->off++];
	while (l[g->off] && l[g->off] != ' ' && n + 1 < outlen)
		out[n++] = l[g->off++];
	out[n] = '\0';
	g->pos++;
	return n;
}

int dp_gen_count_tokens(const char *s, size_t n)
{
	if (!s || !n)
		return 0;
	/* ~4 characters per token, at least one per word */
	size_t words = 0;
	int in = 0;
	for (size_t i = 0; i < n; i++) {
		int sp = s[i] == ' ' || s[i] == '\n' || s[i] == '\t';
		if (!sp && !in)
			words++;
		in = !sp;
	}
	size_t t = (n + 3) / 4;
	if (t < words)
		t = words;
	return t > 0x3fffffff ? 0x3fffffff : (int)t;
}

int dp_gen_pick_kind(const char *p)
{
	if (!p)
		return 0;
	static const char *const kw[] = {"code",      "function", "python", "program",    "script",
	                                 "implement", "```",      " c ",    "javascript", "rust"};
	for (size_t i = 0; i < sizeof(kw) / sizeof(kw[0]); i++)
		if (strcasestr(p, kw[i]))
			return 1;
	return 0;
}

double dp_gen_tokens_per_second(const struct dp_sim *sim, const struct dp_sim_inst *inst)
{
	const struct dp_sim_model *m = inst->m;
	double frac_active = m->params_b > 0 ? m->active_b / m->params_b : 1;
	if (frac_active <= 0 || frac_active > 1)
		frac_active = 1;
	double bytes = (double)m->size_bytes * frac_active;
	double t = 0, gpu_total = 0;
	for (int i = 0; i < sim->ngpus; i++)
		gpu_total += (double)inst->mem.vram[i];
	double on_gpu = bytes * inst->mem.ratio;
	if (gpu_total > 0)
		for (int i = 0; i < sim->ngpus; i++)
			t += on_gpu * ((double)inst->mem.vram[i] / gpu_total) / (sim->gpus[i].bandwidth_gbps * 1e9);
	t += (bytes - on_gpu) / (sim->cpu_bandwidth_gbps * 1e9);
	t /= 0.55;
	double tps = t > 0 ? 1 / t : 100;
	if (!strcmp(m->format, "mlx"))
		tps *= 1.1;
	return fmax(1, fmin(tps, 400));
}

double dp_gen_ttft(const struct dp_sim *sim, const struct dp_sim_inst *inst, int prompt_tokens)
{
	double tps = dp_gen_tokens_per_second(sim, inst);
	double pp = tps * (inst->mem.ratio > 0.5 ? 25 : 6);
	return 0.03 + (double)prompt_tokens / pp;
}

double dp_gen_load_seconds(const struct dp_sim_model *m, const struct dp_sim_mem *mem)
{
	(void)mem;
	return 0.4 + (double)m->size_bytes / 3e9;
}

void dp_gen_embedding(uint64_t seed, int dims, double *out)
{
	uint64_t x = seed;
	double norm = 0;
	for (int i = 0; i < dims; i++) {
		double v = ((double)(splitmix(&x) >> 11) / 9007199254740992.0) * 2 - 1;
		out[i] = v;
		norm += v * v;
	}
	norm = sqrt(norm);
	for (int i = 0; i < dims && norm > 0; i++)
		out[i] /= norm;
}
