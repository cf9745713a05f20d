/*
 * test_sim.c - llmster-sim units: the built-in catalog matches
 * sim/catalog.json, size and GPU parsing, memory accounting (estimate,
 * commit, free, refusal when it does not fit, auto offload ratio), instance
 * ids (key, key:2...), JIT auto-evict and idle TTL with an injected clock,
 * deterministic generation, token counting and request parsing.
 * Run from the repository root (tests/run.sh does).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../../sim/sim.h"

static uint64_t fake_ms;
static uint64_t fake_clock(void *arg)
{
	(void)arg;
	return fake_ms;
}

static void setup_sim(struct dp_sim *sim, const char *gpus, uint64_t ram)
{
	struct dp_sim_config cfg = {.gpus = gpus, .ram = ram, .speed = 0, .seed = 1, .jit = 1, .ttl_seconds = 60};
	char err[256];
	dp_sim_init(sim, &cfg, NULL);
	sim->now_fn = fake_clock;
	fake_ms = 1000000;
	assert_int_equal(dp_sim_setup(sim, err, sizeof(err)), 0);
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	static char buf[1 << 20];
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return buf;
}

static void test_catalog_in_sync(void **state)
{
	(void)state;
	char *file = slurp("sim/catalog.json");
	assert_non_null(file);
	json_t *a = json_loads(file, 0, NULL), *b = json_loads(dp_catalog_default_json, 0, NULL);
	assert_non_null(a);
	assert_non_null(b);
	assert_true(json_equal(a, b)); /* refresh sim/catalog_default.c from sim/catalog.json */
	json_decref(a);
	json_decref(b);
}

static void test_catalog_contents(void **state)
{
	(void)state;
	struct dp_sim sim;
	setup_sim(&sim, "RTX 4090:24GiB", 64ull << 30);
	int emb = 0, mlx = 0, vision = 0, tools = 0, think = 0, rc = 0, moe = 0;
	for (int i = 0; i < sim.nmodels; i++) {
		struct dp_sim_model *m = sim.models[i];
		emb += m->type == DP_SIM_EMBEDDING;
		mlx += !strcmp(m->format, "mlx");
		vision += m->vision;
		tools += m->tool_use;
		think += m->rstyle == DP_SIM_R_THINK_TAGS;
		rc += m->rstyle == DP_SIM_R_REASONING_CONTENT;
		moe += m->num_experts > 0;
	}
	assert_true(sim.nmodels >= 10);
	assert_true(emb && mlx && vision && tools && think && rc && moe);
	char err[128];
	struct dp_sim s2;
	struct dp_sim_config cfg = {.gpus = "", .ram = 1ull << 34};
	dp_sim_init(&s2, &cfg, NULL);
	assert_int_equal(dp_catalog_parse(&s2, "{\"models\":[{\"key\":\"a\"}]}", err, sizeof(err)), -EINVAL);
	assert_int_equal(dp_catalog_parse(&s2, "[", err, sizeof(err)), -EINVAL);
	dp_sim_release(&s2);
	dp_sim_release(&sim);
}

static void test_sizes_and_gpus(void **state)
{
	(void)state;
	uint64_t v;
	assert_int_equal(dp_hw_parse_size("64GiB", &v), 0);
	assert_true(v == (64ull << 30));
	assert_int_equal(dp_hw_parse_size("1.5G", &v), 0);
	assert_true(v == (uint64_t)(1.5 * (1ull << 30)));
	assert_int_equal(dp_hw_parse_size("1000", &v), 0);
	assert_true(v == 1000);
	assert_int_equal(dp_hw_parse_size("12XB", &v), -EINVAL);
	assert_int_equal(dp_hw_parse_size("", &v), -EINVAL);
	assert_int_equal(dp_hw_parse_size("-5G", &v), -EINVAL);
	struct dp_sim sim;
	setup_sim(&sim, "RTX 4090:24GiB,RTX 3060:12GiB", 64ull << 30);
	assert_int_equal(sim.ngpus, 2);
	assert_string_equal(sim.gpus[1].name, "RTX 3060");
	assert_true(sim.gpus[0].total == (24ull << 30));
	assert_true(!strncmp(sim.gpus[0].id, "GPU-", 4));
	char err[128];
	assert_int_equal(dp_hw_parse_gpus(&sim, "RTX 4090", err, sizeof(err)), -EINVAL);
	assert_int_equal(dp_hw_parse_gpus(&sim, "x:1KiB", err, sizeof(err)), -EINVAL);
	dp_sim_release(&sim);
}

static void test_memory_accounting(void **state)
{
	(void)state;
	struct dp_sim sim;
	setup_sim(&sim, "RTX 4090:24GiB,RTX 3060:12GiB", 64ull << 30);
	struct dp_sim_model *m = dp_sim_find_model(&sim, "qwen/qwen3-8b");
	assert_non_null(m);
	struct dp_sim_mem mem;
	dp_hw_estimate(&sim, m, 4096, 2, 1, 1.0, &mem);
	uint64_t kv = m->kv_bytes_per_token * 4096 * 2;
	assert_true(mem.context_vram == kv);
	assert_true(mem.fits);
	/* split in proportion to capacity: the 4090 takes twice the 3060's share */
	assert_true(mem.vram[0] > mem.vram[1]);
	assert_true(mem.vram[0] + mem.vram[1] == mem.model_vram + mem.context_vram);
	/* half offload: half the weights stay in RAM */
	struct dp_sim_mem half;
	dp_hw_estimate(&sim, m, 4096, 2, 1, 0.5, &half);
	assert_true(half.ram > mem.ram + m->size_bytes / 3);
	/* load, check usage, unload, back to zero */
	struct dp_sim_load_opts o = {.context_length = 4096,
	                             .parallel = 2,
	                             .flash_attention = -1,
	                             .offload_kv = -1,
	                             .gpu_ratio = 1.0,
	                             .ttl_ms = -1};
	struct dp_sim_inst *in;
	assert_int_equal(dp_inst_load(&sim, m, &o, &in), 0);
	assert_string_equal(in->id, "qwen/qwen3-8b");
	assert_true(sim.gpus[0].used == mem.vram[0]);
	assert_true(sim.gpus[1].used == mem.vram[1]);
	assert_true(sim.ram_used == mem.ram);
	struct dp_sim_inst *in2, *in3;
	assert_int_equal(dp_inst_load(&sim, m, &o, &in2), 0);
	assert_string_equal(in2->id, "qwen/qwen3-8b:2");
	assert_int_equal(dp_inst_load(&sim, m, &o, &in3), 0);
	assert_string_equal(in3->id, "qwen/qwen3-8b:3");
	dp_inst_unload(in2, "test");
	dp_inst_unload(in3, "test");
	dp_inst_unload(in, "test");
	assert_true(sim.gpus[0].used == 0 && sim.gpus[1].used == 0 && sim.ram_used == 0);
	/* a model that cannot fit fully on GPU at ratio 1 is refused... */
	struct dp_sim_model *big = dp_sim_find_model(&sim, "qwen/qwen3-30b-a3b");
	struct dp_sim_load_opts ob = o;
	ob.context_length = 40960;
	ob.parallel = 8;
	assert_int_equal(dp_inst_load(&sim, big, &ob, &in), -ENOSPC);
	assert_true(sim.gpus[0].used == 0 && sim.ram_used == 0);
	/* ...while the automatic ratio offloads part of it to RAM */
	ob.gpu_ratio = -1;
	ob.context_length = 4096;
	assert_int_equal(dp_inst_load(&sim, big, &ob, &in), 0);
	assert_true(in->mem.ratio > 0 && in->mem.ratio <= 1);
	dp_inst_unload(in, "test");
	/* explicit identifier collisions */
	o.identifier = "mine";
	assert_int_equal(dp_inst_load(&sim, m, &o, &in), 0);
	assert_int_equal(dp_inst_load(&sim, m, &o, &in2), -EEXIST);
	dp_inst_unload(in, "test");
	dp_sim_release(&sim);
}

static void test_ram_only_refusal(void **state)
{
	(void)state;
	struct dp_sim sim;
	setup_sim(&sim, "none", 8ull << 30);
	assert_int_equal(sim.ngpus, 0);
	struct dp_sim_model *m = dp_sim_find_model(&sim, "mistralai/mistral-small-3.2");
	struct dp_sim_load_opts o = {.flash_attention = -1, .offload_kv = -1, .gpu_ratio = -1, .ttl_ms = -1};
	struct dp_sim_inst *in;
	assert_int_equal(dp_inst_load(&sim, m, &o, &in), -ENOSPC);
	struct dp_sim_model *small = dp_sim_find_model(&sim, "ibm/granite-4-micro");
	o.context_length = 2048;
	o.parallel = 1;
	assert_int_equal(dp_inst_load(&sim, small, &o, &in), 0);
	assert_true(in->mem.ratio == 0);
	dp_sim_release(&sim);
}

static void test_jit_ttl(void **state)
{
	(void)state;
	struct dp_sim sim;
	setup_sim(&sim, "RTX 4090:24GiB", 64ull << 30);
	struct dp_sim_model *a = dp_sim_find_model(&sim, "ibm/granite-4-micro");
	struct dp_sim_model *b = dp_sim_find_model(&sim, "meta/llama-3.2-3b");
	struct dp_sim_load_opts jit = {
	        .flash_attention = -1, .offload_kv = -1, .gpu_ratio = -1, .ttl_ms = 5000, .jit = 1};
	struct dp_sim_load_opts manual = {.flash_attention = -1, .offload_kv = -1, .gpu_ratio = -1, .ttl_ms = -1};
	struct dp_sim_inst *ia, *ib, *im;
	assert_int_equal(dp_inst_load(&sim, a, &jit, &ia), 0);
	assert_int_equal(dp_inst_load(&sim, b, &manual, &im), 0);
	/* before another JIT load, JIT instances are evicted; manual loads stay */
	dp_inst_evict_jit(&sim);
	assert_null(dp_sim_find_inst(&sim, "ibm/granite-4-micro"));
	assert_non_null(dp_sim_find_inst(&sim, "meta/llama-3.2-3b"));
	assert_int_equal(dp_inst_load(&sim, a, &jit, &ia), 0);
	/* TTL: idle for less than 5 s keeps it; touching resets the timer */
	fake_ms += 4000;
	assert_int_equal(dp_inst_sweep(&sim), 0);
	dp_inst_touch(ia);
	fake_ms += 4000;
	assert_int_equal(dp_inst_sweep(&sim), 0);
	/* busy instances are never evicted */
	ia->active = 1;
	fake_ms += 10000;
	assert_int_equal(dp_inst_sweep(&sim), 0);
	ia->active = 0;
	assert_int_equal(dp_inst_sweep(&sim), 1);
	assert_null(dp_sim_find_inst(&sim, "ibm/granite-4-micro"));
	/* no TTL: never */
	fake_ms += 100000000;
	assert_int_equal(dp_inst_sweep(&sim), 0);
	assert_non_null(dp_sim_find_inst(&sim, "meta/llama-3.2-3b"));
	assert_string_equal(dp_inst_status_name(dp_inst_status(im)), "idle");
	im->active = 1;
	assert_string_equal(dp_inst_status_name(dp_inst_status(im)), "processingPrompt");
	im->active_gen = 1;
	assert_string_equal(dp_inst_status_name(dp_inst_status(im)), "generating");
	im->active = im->active_gen = 0;
	(void)ib;
	dp_sim_release(&sim);
}

static void test_match_model(void **state)
{
	(void)state;
	struct dp_sim sim;
	setup_sim(&sim, "RTX 4090:24GiB", 64ull << 30);
	int amb;
	assert_non_null(dp_sim_match_model(&sim, "openai/gpt-oss-20b", &amb));
	assert_non_null(dp_sim_match_model(&sim, "openai/gpt-oss-20b@mxfp4", &amb));
	assert_non_null(dp_sim_match_model(&sim, "gpt-oss", &amb));
	assert_null(dp_sim_match_model(&sim, "qwen", &amb));
	assert_true(amb);
	assert_null(dp_sim_match_model(&sim, "nothing-like-this", &amb));
	assert_false(amb);
	dp_sim_release(&sim);
}

static void gen_text(uint64_t seed, int kind, int n, char *out, size_t cap)
{
	struct dp_gen g;
	dp_gen_init(&g, seed, kind);
	size_t len = 0;
	for (int i = 0; i < n; i++) {
		char tok[160];
		size_t k = dp_gen_token(&g, tok, sizeof(tok));
		assert_true(k > 0);
		assert_true(len + k < cap);
		memcpy(out + len, tok, k);
		len += k;
	}
	out[len] = '\0';
}

static void test_determinism(void **state)
{
	(void)state;
	static char a[32768], b[32768], c[32768];
	for (int kind = 0; kind < 3; kind++) {
		gen_text(42, kind, 300, a, sizeof(a));
		gen_text(42, kind, 300, b, sizeof(b));
		gen_text(43, kind, 300, c, sizeof(c));
		assert_string_equal(a, b);
		assert_string_not_equal(a, c);
	}
	gen_text(7, 1, 40, a, sizeof(a));
	assert_non_null(strstr(a, "```"));
	assert_int_equal(dp_gen_count_tokens("", 0), 0);
	assert_true(dp_gen_count_tokens("hello world", 11) >= 2);
	const char *longtxt = "The quick brown fox jumps over the lazy dog. The quick brown fox jumps again.";
	int t = dp_gen_count_tokens(longtxt, strlen(longtxt));
	assert_true(t >= 15 && t <= 25);
	assert_int_equal(dp_gen_pick_kind("write a python function"), 1);
	assert_int_equal(dp_gen_pick_kind("tell me about rivers"), 0);
	double e1[8], e2[8];
	dp_gen_embedding(5, 8, e1);
	dp_gen_embedding(5, 8, e2);
	assert_memory_equal(e1, e2, sizeof(e1));
}

static void test_timing_model(void **state)
{
	(void)state;
	struct dp_sim sim;
	setup_sim(&sim, "RTX 4090:24GiB,RTX 3060:12GiB", 64ull << 30);
	struct dp_sim_load_opts o = {.flash_attention = -1,
	                             .offload_kv = -1,
	                             .gpu_ratio = 1,
	                             .ttl_ms = -1,
	                             .context_length = 4096,
	                             .parallel = 1};
	struct dp_sim_inst *small, *big;
	assert_int_equal(dp_inst_load(&sim, dp_sim_find_model(&sim, "meta/llama-3.2-3b"), &o, &small), 0);
	assert_int_equal(dp_inst_load(&sim, dp_sim_find_model(&sim, "mistralai/mistral-small-3.2"), &o, &big), 0);
	double ts = dp_gen_tokens_per_second(&sim, small), tb = dp_gen_tokens_per_second(&sim, big);
	assert_true(ts > tb);
	assert_true(dp_gen_ttft(&sim, big, 1000) > dp_gen_ttft(&sim, big, 10));
	assert_true(dp_gen_ttft(&sim, big, 1000) > dp_gen_ttft(&sim, small, 1000));
	sim.cfg.speed = 0;
	assert_true(dp_sim_scale_ms(&sim, 5) == 0);
	sim.cfg.speed = 2;
	assert_true(dp_sim_scale_ms(&sim, 5) == 2500);
	dp_sim_release(&sim);
}

static void test_reqparse(void **state)
{
	(void)state;
	struct dp_chatreq r;
	const char *ok = "{\"model\":\"m\",\"input\":[{\"type\":\"text\",\"content\":\"hi\"},"
	                 "{\"type\":\"image\",\"data_url\":\"data:image/png;base64,AAAA\"}],\"stream\":true,"
	                 "\"reasoning\":\"off\",\"max_output_tokens\":5,\"integrations\":[\"mcp/x\"]}";
	assert_int_equal(dp_reqparse(DP_K_V1_CHAT, ok, strlen(ok), &r), 0);
	assert_string_equal(r.model, "m");
	assert_true(r.stream);
	assert_int_equal(r.max_tokens, 5);
	assert_int_equal(r.n_images, 1);
	assert_int_equal(r.n_integrations, 1);
	assert_string_equal(r.integ_name, "mcp/x");
	assert_string_equal(r.reasoning, "off");
	assert_non_null(strstr(r.prompt.data, "hi"));
	dp_reqparse_release(&r);
	/* documented error: "model" is required */
	const char *nomodel = "{\"input\":\"x\"}";
	assert_int_equal(dp_reqparse(DP_K_V1_CHAT, nomodel, strlen(nomodel), &r), -EINVAL);
	assert_string_equal(r.err_msg, "\"model\" is required");
	assert_string_equal(r.err_code, "missing_required_parameter");
	assert_string_equal(r.err_param, "model");
	assert_string_equal(r.err_type, "invalid_request");
	dp_reqparse_release(&r);
	const char *badjson = "{\"model\": ";
	assert_int_equal(dp_reqparse(DP_K_OAI_CHAT, badjson, strlen(badjson), &r), -EINVAL);
	assert_string_equal(r.err_type, "invalid_request_error");
	dp_reqparse_release(&r);
	const char *chat = "{\"model\":\"m\",\"messages\":[{\"role\":\"system\",\"content\":\"be brief\"},"
	                   "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"write code\"}]}],"
	                   "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\",\"parameters\":{}}}],"
	                   "\"stream_options\":{\"include_usage\":true},\"ttl\":30,\"seed\":9}";
	assert_int_equal(dp_reqparse(DP_K_OAI_CHAT, chat, strlen(chat), &r), 0);
	assert_int_equal(r.ntools, 1);
	assert_string_equal(r.tool_name, "f");
	assert_true(r.include_usage);
	assert_int_equal(r.ttl_s, 30);
	assert_true(r.has_seed && r.seed == 9);
	assert_string_equal(r.last_user, "write code");
	assert_non_null(strstr(r.prompt.data, "<|im_start|>system\nbe brief"));
	dp_reqparse_release(&r);
	const char *bad[] = {
	        "{\"model\":\"m\",\"messages\":[]}",
	        "{\"model\":\"m\",\"messages\":[{\"role\":\"pirate\",\"content\":\"x\"}]}",
	        "{\"model\":3,\"messages\":[]}",
	        "{\"model\":\"m\",\"messages\":[],\"stream\":\"yes\"}",
	        "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"max_tokens\":0}",
	        "[]",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(dp_reqparse(DP_K_OAI_CHAT, bad[i], strlen(bad[i]), &r), -EINVAL);
		assert_int_equal(r.err_status, 400);
		dp_reqparse_release(&r);
	}
	const char *emb = "{\"model\":\"e\",\"input\":[\"a\",\"b\"]}";
	assert_int_equal(dp_reqparse(DP_K_OAI_EMBED, emb, strlen(emb), &r), 0);
	assert_int_equal(r.ninputs, 2);
	dp_reqparse_release(&r);
	const char *emb_bad = "{\"model\":\"e\",\"input\":[1]}";
	assert_int_equal(dp_reqparse(DP_K_OAI_EMBED, emb_bad, strlen(emb_bad), &r), -EINVAL);
	dp_reqparse_release(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_catalog_in_sync),  cmocka_unit_test(test_catalog_contents),
	        cmocka_unit_test(test_sizes_and_gpus),   cmocka_unit_test(test_memory_accounting),
	        cmocka_unit_test(test_ram_only_refusal), cmocka_unit_test(test_jit_ttl),
	        cmocka_unit_test(test_match_model),      cmocka_unit_test(test_determinism),
	        cmocka_unit_test(test_timing_model),     cmocka_unit_test(test_reqparse),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
