/*
 * test_forge.c - the Forge's pure rules (src/forge.c): request parsing and
 * bounds, the exact JSON bodies and lms argv sent for each combination of
 * fields, which interface is chosen, presets in Dev and Live mode, model
 * checks, download bodies and job merging. Field names are those of
 * ../shared/reference/lmstudio-protocol.md §3.2 (REST load), §3.4
 * (download) and §6.2 (lms load).
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
#include <jansson.h>

#include "forge.h"
#include "lms.h"
#include "server.h"

static json_t *J(const char *text)
{
	json_error_t je;
	json_t *j = json_loads(text, 0, &je);
	if (!j)
		fail_msg("bad test JSON: %s: %s", text, je.text);
	return j;
}

/* Parse `text` as a load request; returns rc, fills l and e. */
static int parse(const char *text, struct dp_forge_load *l, struct dp_forge_err *e)
{
	json_t *j = J(text);
	memset(e, 0, sizeof(*e));
	int rc = dp_forge_load_parse(j, 0, l, e);
	json_decref(j);
	return rc;
}

static void expect_400(const char *text, const char *code, const char *needle)
{
	struct dp_forge_load l;
	struct dp_forge_err e;
	assert_int_equal(parse(text, &l, &e), -EINVAL);
	assert_int_equal(e.status, 400);
	assert_string_equal(e.code, code);
	if (needle && !strstr(e.message, needle))
		fail_msg("message '%s' lacks '%s'", e.message, needle);
}

static void test_parse_bounds(void **state)
{
	(void)state;
	struct dp_forge_load l;
	struct dp_forge_err e;
	assert_int_equal(parse("{}", &l, &e), 0);
	assert_string_equal(l.model, "");
	assert_int_equal(l.flash_attention, -1);
	assert_int_equal(l.offload_kv, -1);
	/* null means not given */
	assert_int_equal(
	        parse("{\"model\":\"m\",\"context_length\":null,\"gpu\":null,\"flash_attention\":null}", &l, &e), 0);
	assert_int_equal(l.context_length, 0);
	assert_string_equal(l.gpu, "");
	assert_int_equal(l.flash_attention, -1);

	expect_400("[]", "bad_request", "object");
	expect_400("{\"identifer\":\"x\"}", "bad_request", "unknown field 'identifer'");
	expect_400("{\"model\":\"\"}", "invalid_model", NULL);
	expect_400("{\"model\":\"--json\"}", "invalid_model", NULL);
	expect_400("{\"model\":\"a\\u0001b\"}", "invalid_model", NULL);
	expect_400("{\"context_length\":0}", "invalid_context_length", "from 1 to 10000000");
	expect_400("{\"context_length\":8192.5}", "invalid_context_length", NULL);
	expect_400("{\"context_length\":\"8192\"}", "invalid_context_length", NULL);
	expect_400("{\"eval_batch_size\":65537}", "invalid_eval_batch_size", "65536");
	expect_400("{\"num_experts\":0}", "invalid_num_experts", NULL);
	expect_400("{\"parallel\":257}", "invalid_parallel", "256");
	expect_400("{\"ttl\":31536001}", "invalid_ttl", NULL);
	expect_400("{\"flash_attention\":1}", "invalid_flash_attention", NULL);
	expect_400("{\"offload_kv_cache_to_gpu\":\"yes\"}", "invalid_offload_kv_cache_to_gpu", NULL);
	expect_400("{\"gpu\":1.5}", "invalid_gpu", NULL);
	expect_400("{\"gpu\":-0.1}", "invalid_gpu", NULL);
	expect_400("{\"gpu\":\"half\"}", "invalid_gpu", NULL);
	expect_400("{\"identifier\":\"-rf\"}", "invalid_identifier", NULL);
	expect_400("{\"preset\":\"\"}", "invalid_preset", NULL);
	expect_400("{\"override\":\"true\"}", "invalid_override", NULL);

	assert_int_equal(parse("{\"gpu\":0.5}", &l, &e), 0);
	assert_string_equal(l.gpu, "0.5");
	assert_int_equal(parse("{\"gpu\":1}", &l, &e), 0);
	assert_string_equal(l.gpu, "1");
	assert_int_equal(parse("{\"gpu\":0.333}", &l, &e), 0);
	assert_string_equal(l.gpu, "0.33");
	assert_int_equal(parse("{\"gpu\":\"max\"}", &l, &e), 0);
	assert_string_equal(l.gpu, "max");
	assert_int_equal(parse("{\"gpu\":0}", &l, &e), 0);
	assert_string_equal(l.gpu, "0");
	assert_int_equal(parse("{\"override\":true,\"preset\":\"p\"}", &l, &e), 0);
	assert_true(l.override);
	assert_string_equal(l.preset, "p");

	/* a stored preset: "name" is allowed, "preset"/"override" are not */
	json_t *p = J("{\"name\":\"fast\",\"model\":null,\"context_length\":4096}");
	assert_int_equal(dp_forge_load_parse(p, 1, &l, &e), 0);
	assert_int_equal(l.context_length, 4096);
	json_decref(p);
	p = J("{\"name\":\"fast\",\"override\":true}");
	assert_int_equal(dp_forge_load_parse(p, 1, &l, &e), -EINVAL);
	json_decref(p);
}

static void expect_rest(const char *req, const char *body)
{
	struct dp_forge_load l;
	struct dp_forge_err e;
	assert_int_equal(parse(req, &l, &e), 0);
	assert_int_equal(dp_forge_choose_path(&l, &e), DP_FORGE_PATH_REST);
	char *s = dp_forge_rest_body(&l);
	assert_string_equal(s, body);
	free(s);
}

static void test_rest_bodies(void **state)
{
	(void)state;
	/* reference §3.2: only documented fields, only those given, plus
	 * echo_load_config; never identifier, ttl, gpu or parallel */
	expect_rest("{\"model\":\"qwen/qwen3-8b\"}", "{\"model\":\"qwen/qwen3-8b\",\"echo_load_config\":true}");
	expect_rest("{\"model\":\"qwen/qwen3-8b\",\"context_length\":8192}",
	            "{\"model\":\"qwen/qwen3-8b\",\"context_length\":8192,\"echo_load_config\":true}");
	expect_rest("{\"offload_kv_cache_to_gpu\":false,\"num_experts\":4,\"flash_attention\":true,"
	            "\"eval_batch_size\":512,\"context_length\":16384,\"model\":\"openai/gpt-oss-20b\"}",
	            "{\"model\":\"openai/gpt-oss-20b\",\"context_length\":16384,\"eval_batch_size\":512,"
	            "\"flash_attention\":true,\"num_experts\":4,\"offload_kv_cache_to_gpu\":false,"
	            "\"echo_load_config\":true}");
	expect_rest("{\"model\":\"m\",\"flash_attention\":false}",
	            "{\"model\":\"m\",\"flash_attention\":false,\"echo_load_config\":true}");
	/* a preset name and override are ours, never sent */
	expect_rest("{\"model\":\"m\",\"preset\":\"p\",\"override\":true}",
	            "{\"model\":\"m\",\"echo_load_config\":true}");
}

/* argv for a load request against target 10.0.0.5:1234 */
static void expect_argv(const char *req, int estimate, const char *path, const char *const *want)
{
	struct dp_forge_load l;
	struct dp_forge_err e;
	assert_int_equal(parse(req, &l, &e), 0);
	if (!estimate)
		assert_int_equal(dp_forge_choose_path(&l, &e), DP_FORGE_PATH_LMS);
	struct dp_lms_req r;
	dp_forge_lms_req(&l, estimate, path, &r);
	struct dp_lms_target t = {.key = "target:1", .host = "10.0.0.5", .port = 1234};
	struct dp_lms_argv a;
	char err[128];
	assert_int_equal(dp_lms_build_argv("lms", &t, &r, &a, err, sizeof err), 0);
	int n = 0;
	while (want[n])
		n++;
	for (int i = 0; i < a.argc && i < n; i++)
		if (strcmp(a.argv[i], want[i]))
			fail_msg("argv[%d] is '%s', want '%s'", i, a.argv[i], want[i]);
	assert_int_equal(a.argc, n);
	assert_null(a.argv[a.argc]);
	dp_lms_argv_release(&a);
}

static void test_lms_argv(void **state)
{
	(void)state;
	/* reference §6.2: lms load [path] --gpu --context-length --parallel --ttl --identifier
	 * --exact -y; the path comes from lms ls, --exact pins it (no fuzzy match) */
	static const char *const P = "lmstudio-community/Qwen3-8B-GGUF/Qwen3-8B-Q4_K_M.gguf";
	static const char *const all[] = {"lms",  "load",    P,       "--gpu",      "0.5",      "--context-length",
	                                  "8192", "--ttl",   "600",   "--parallel", "2",        "--identifier",
	                                  "q8",   "--exact", "--yes", "--host",     "10.0.0.5", "--port",
	                                  "1234", NULL};
	expect_argv("{\"model\":\"qwen/qwen3-8b\",\"gpu\":0.5,\"context_length\":8192,\"parallel\":2,\"ttl\":600,"
	            "\"identifier\":\"q8\"}",
	            0, P, all);
	static const char *const ttl_only[] = {"lms",   "load",   P,          "--ttl",  "60",   "--exact",
	                                       "--yes", "--host", "10.0.0.5", "--port", "1234", NULL};
	expect_argv("{\"model\":\"m\",\"ttl\":60}", 0, P, ttl_only);
	static const char *const gpu_max[] = {"lms",   "load",   P,          "--gpu",  "max",  "--exact",
	                                      "--yes", "--host", "10.0.0.5", "--port", "1234", NULL};
	expect_argv("{\"model\":\"m\",\"gpu\":\"max\"}", 0, P, gpu_max);
	static const char *const gpu_off[] = {"lms",     "load",  P,        "--gpu",    "off",    "--parallel", "1",
	                                      "--exact", "--yes", "--host", "10.0.0.5", "--port", "1234",       NULL};
	expect_argv("{\"model\":\"m\",\"gpu\":\"off\",\"parallel\":1}", 0, P, gpu_off);
	/* --estimate-only takes the model, gpu and context length only */
	static const char *const est[] = {"lms",    "load",    P,       "--gpu",           "1",      "--context-length",
	                                  "4096",   "--exact", "--yes", "--estimate-only", "--host", "10.0.0.5",
	                                  "--port", "1234",    NULL};
	expect_argv("{\"model\":\"m\",\"gpu\":1,\"context_length\":4096,\"parallel\":4,\"ttl\":5,\"identifier\":\"x\"}",
	            1, P, est);
	static const char *const est_plain[] = {"lms",    "load",     P,        "--exact", "--yes", "--estimate-only",
	                                        "--host", "10.0.0.5", "--port", "1234",    NULL};
	expect_argv("{\"model\":\"m\",\"flash_attention\":true}", 1, P, est_plain);
	/* without a path the key itself goes out, unpinned */
	static const char *const key_only[] = {"lms",    "load",     "m",      "--ttl", "60", "--yes",
	                                       "--host", "10.0.0.5", "--port", "1234",  NULL};
	expect_argv("{\"model\":\"m\",\"ttl\":60}", 0, NULL, key_only);

	/* the path by key from lms ls (normalised), the local copy first */
	json_t *ls = J(
	        "[{\"model_key\":\"deepseek/deepseek-r1-0528-qwen3-8b\",\"path\":\"x/DeepSeek-R1-0528-Qwen3-8B.gguf\","
	        "\"device_identifier\":null},"
	        "{\"model_key\":\"qwen/qwen3-8b\",\"path\":\"peer/Qwen3-8B.gguf\",\"device_identifier\":\"dev-2\"},"
	        "{\"model_key\":\"qwen/qwen3-8b\",\"path\":\"lmstudio-community/Qwen3-8B-GGUF/Qwen3-8B-Q4_K_M.gguf\","
	        "\"device_identifier\":null}]");
	assert_string_equal(dp_forge_ls_path(ls, "qwen/qwen3-8b"), P);
	assert_string_equal(dp_forge_ls_path(ls, "deepseek/deepseek-r1-0528-qwen3-8b"),
	                    "x/DeepSeek-R1-0528-Qwen3-8B.gguf");
	assert_null(dp_forge_ls_path(ls, "qwen3-8b"));
	assert_string_equal(dp_forge_ls_path(ls, "Qwen/Qwen3-8B"), P);
	assert_null(dp_forge_ls_path(ls, NULL));
	json_decref(ls);
	ls = J("[{\"model_key\":\"qwen/qwen3-8b\",\"path\":\"peer/Qwen3-8B.gguf\",\"device_identifier\":\"dev-2\"}]");
	assert_string_equal(dp_forge_ls_path(ls, "qwen/qwen3-8b"), "peer/Qwen3-8B.gguf");
	json_decref(ls);
}

static void test_path_choice(void **state)
{
	(void)state;
	struct dp_forge_load l;
	struct dp_forge_err e;
	assert_int_equal(parse("{\"model\":\"m\",\"context_length\":4096}", &l, &e), 0);
	assert_int_equal(dp_forge_choose_path(&l, &e), DP_FORGE_PATH_REST);
	const char *cli[] = {"{\"model\":\"m\",\"gpu\":\"max\"}", "{\"model\":\"m\",\"parallel\":2}",
	                     "{\"model\":\"m\",\"ttl\":5}", "{\"model\":\"m\",\"identifier\":\"x\"}"};
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(parse(cli[i], &l, &e), 0);
		assert_int_equal(dp_forge_choose_path(&l, &e), DP_FORGE_PATH_LMS);
	}
	assert_int_equal(
	        parse("{\"model\":\"m\",\"flash_attention\":true,\"num_experts\":2,\"ttl\":5,\"gpu\":0.5}", &l, &e), 0);
	assert_int_equal(dp_forge_choose_path(&l, &e), DP_FORGE_PATH_CONFLICT);
	assert_int_equal(e.status, 400);
	assert_string_equal(e.code, "conflicting_fields");
	assert_non_null(strstr(e.message, "flash_attention, num_experts"));
	assert_non_null(strstr(e.message, "gpu, ttl"));
	assert_string_equal(dp_forge_path_name(DP_FORGE_PATH_REST), "rest");
	assert_string_equal(dp_forge_path_name(DP_FORGE_PATH_LMS), "lms");
}

/* presets as api_settings.c stores them: every field present, null when absent */
static const char *PRESETS =
        "[{\"name\":\"fast-8k\",\"model\":\"qwen/qwen3-8b\",\"context_length\":8192,\"flash_attention\":true,"
        "\"eval_batch_size\":512,\"num_experts\":null,\"offload_kv_cache_to_gpu\":true,\"gpu\":null,"
        "\"parallel\":null,\"ttl\":null,\"identifier\":null},"
        "{\"name\":\"any-cli\",\"model\":null,\"context_length\":4096,\"flash_attention\":null,"
        "\"eval_batch_size\":null,\"num_experts\":null,\"offload_kv_cache_to_gpu\":null,\"gpu\":0.5,"
        "\"parallel\":2,\"ttl\":600,\"identifier\":null}]";

static int apply(const char *req, const char *mode, struct dp_forge_load *l, struct dp_forge_err *e)
{
	assert_int_equal(parse(req, l, e), 0);
	json_t *p = J(PRESETS);
	int rc = dp_forge_apply_settings(l, mode, p, e);
	json_decref(p);
	return rc;
}

static void test_presets_dev(void **state)
{
	(void)state;
	struct dp_forge_load l;
	struct dp_forge_err e;
	/* no preset, dev: unchanged */
	assert_int_equal(apply("{\"model\":\"m\",\"context_length\":100}", "dev", &l, &e), 0);
	assert_int_equal(l.context_length, 100);
	/* the preset fills what is missing */
	assert_int_equal(apply("{\"preset\":\"fast-8k\"}", "dev", &l, &e), 0);
	assert_string_equal(l.model, "qwen/qwen3-8b");
	assert_int_equal(l.context_length, 8192);
	assert_int_equal(l.flash_attention, 1);
	assert_int_equal(l.eval_batch_size, 512);
	assert_int_equal(l.offload_kv, 1);
	char *s = dp_forge_rest_body(&l);
	assert_string_equal(s, "{\"model\":\"qwen/qwen3-8b\",\"context_length\":8192,\"eval_batch_size\":512,"
	                       "\"flash_attention\":true,\"offload_kv_cache_to_gpu\":true,\"echo_load_config\":true}");
	free(s);
	/* dev: the request wins */
	assert_int_equal(
	        apply("{\"preset\":\"fast-8k\",\"context_length\":2048,\"flash_attention\":false}", "dev", &l, &e), 0);
	assert_int_equal(l.context_length, 2048);
	assert_int_equal(l.flash_attention, 0);
	/* a model-agnostic CLI preset */
	assert_int_equal(apply("{\"preset\":\"any-cli\",\"model\":\"meta/llama-3.2-3b\"}", NULL, &l, &e), 0);
	assert_string_equal(l.gpu, "0.5");
	assert_int_equal(l.parallel, 2);
	assert_int_equal(l.ttl, 600);
	assert_int_equal(dp_forge_choose_path(&l, &e), DP_FORGE_PATH_LMS);
	/* unknown preset */
	assert_int_equal(apply("{\"preset\":\"nope\",\"model\":\"m\"}", "dev", &l, &e), -EINVAL);
	assert_int_equal(e.status, 400);
	assert_string_equal(e.code, "unknown_preset");
	/* no presets stored at all */
	assert_int_equal(parse("{\"preset\":\"fast-8k\"}", &l, &e), 0);
	assert_int_equal(dp_forge_apply_settings(&l, "dev", NULL, &e), -EINVAL);
	assert_string_equal(e.code, "unknown_preset");
}

static void expect_live_403(const char *req, const char *needle)
{
	struct dp_forge_load l;
	struct dp_forge_err e;
	assert_int_equal(apply(req, "live", &l, &e), -EPERM);
	assert_int_equal(e.status, 403);
	assert_string_equal(e.code, "live_mode");
	if (!strstr(e.message, needle))
		fail_msg("message '%s' lacks '%s'", e.message, needle);
}

static void test_presets_live(void **state)
{
	(void)state;
	struct dp_forge_load l;
	struct dp_forge_err e;
	expect_live_403("{\"model\":\"qwen/qwen3-8b\",\"context_length\":8192}", "must use a saved preset");
	expect_live_403("{\"preset\":\"fast-8k\",\"context_length\":4096}",
	                "context_length differs from preset \"fast-8k\"");
	expect_live_403("{\"preset\":\"fast-8k\",\"model\":\"google/gemma-3-12b\"}", "model differs");
	expect_live_403("{\"preset\":\"fast-8k\",\"flash_attention\":false}", "flash_attention differs");
	expect_live_403("{\"preset\":\"fast-8k\",\"ttl\":60}", "ttl differs");
	expect_live_403("{\"preset\":\"any-cli\",\"model\":\"m\",\"gpu\":\"max\"}", "gpu differs");
	expect_live_403("{\"preset\":\"any-cli\",\"model\":\"m\",\"identifier\":\"mine\"}", "identifier differs");
	/* the preset unchanged, restated or not */
	assert_int_equal(apply("{\"preset\":\"fast-8k\"}", "live", &l, &e), 0);
	assert_int_equal(l.context_length, 8192);
	assert_int_equal(apply("{\"preset\":\"fast-8k\",\"model\":\"qwen/qwen3-8b\",\"context_length\":8192,"
	                       "\"flash_attention\":true}",
	                       "live", &l, &e),
	                 0);
	/* a model-agnostic preset accepts any model */
	assert_int_equal(apply("{\"preset\":\"any-cli\",\"model\":\"google/gemma-3-12b\",\"gpu\":0.5}", "live", &l, &e),
	                 0);
	assert_string_equal(l.model, "google/gemma-3-12b");
	assert_int_equal(l.parallel, 2);
	/* unknown preset stays a 400 in live mode too */
	assert_int_equal(apply("{\"preset\":\"nope\"}", "live", &l, &e), -EINVAL);
	assert_int_equal(e.status, 400);
}

static void test_check_model(void **state)
{
	(void)state;
	struct dp_forge_load l;
	struct dp_forge_err e;
	json_t *gguf =
	        J("{\"type\":\"llm\",\"key\":\"qwen/qwen3-8b\",\"format\":\"gguf\",\"max_context_length\":40960}");
	json_t *mlx = J("{\"type\":\"llm\",\"key\":\"q\",\"format\":\"mlx\",\"max_context_length\":32768}");
	json_t *emb = J("{\"type\":\"embedding\",\"key\":\"nomic\",\"format\":\"gguf\",\"max_context_length\":2048}");
	assert_int_equal(parse("{\"model\":\"m\",\"context_length\":40960,\"flash_attention\":true}", &l, &e), 0);
	assert_int_equal(dp_forge_check_model(&l, gguf, &e), 0);
	assert_int_equal(parse("{\"model\":\"m\",\"context_length\":40961}", &l, &e), 0);
	assert_int_equal(dp_forge_check_model(&l, gguf, &e), -EINVAL);
	assert_string_equal(e.code, "invalid_context_length");
	assert_string_equal(e.message, "context_length 40961 is above the model's maximum 40960");
	assert_int_equal(parse("{\"model\":\"m\",\"flash_attention\":true,\"eval_batch_size\":256}", &l, &e), 0);
	assert_int_equal(dp_forge_check_model(&l, mlx, &e), -EINVAL);
	assert_string_equal(e.code, "not_applicable");
	assert_non_null(strstr(e.message, "flash_attention, eval_batch_size"));
	assert_non_null(strstr(e.message, "mlx"));
	assert_int_equal(dp_forge_check_model(&l, emb, &e), -EINVAL);
	assert_string_equal(e.code, "not_applicable");
	assert_int_equal(parse("{\"model\":\"m\",\"context_length\":2048}", &l, &e), 0);
	assert_int_equal(dp_forge_check_model(&l, emb, &e), 0);
	assert_int_equal(dp_forge_check_model(&l, mlx, &e), 0);
	json_decref(gguf);
	json_decref(mlx);
	json_decref(emb);
}

static void test_download(void **state)
{
	(void)state;
	const char *m, *q;
	struct dp_forge_err e;
	json_t *b = J("{\"model\":\"qwen/qwen3-1.7b\"}");
	assert_int_equal(dp_forge_download_parse(b, &m, &q, &e), 0);
	assert_null(q);
	char *s = dp_forge_download_body(m, q);
	assert_string_equal(s, "{\"model\":\"qwen/qwen3-1.7b\"}");
	free(s);
	json_decref(b);
	b = J("{\"model\":\"https://huggingface.co/org/repo\",\"quantization\":\"Q4_K_M\"}");
	assert_int_equal(dp_forge_download_parse(b, &m, &q, &e), 0);
	s = dp_forge_download_body(m, q);
	assert_string_equal(s, "{\"model\":\"https://huggingface.co/org/repo\",\"quantization\":\"Q4_K_M\"}");
	free(s);
	json_decref(b);
	const char *bad[] = {"{}", "{\"model\":5}", "{\"model\":\"m\",\"quantization\":\"Q4 K\"}",
	                     "{\"model\":\"m\",\"extra\":1}", "[1]"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		b = J(bad[i]);
		assert_int_equal(dp_forge_download_parse(b, &m, &q, &e), -EINVAL);
		assert_int_equal(e.status, 400);
		json_decref(b);
	}
}

static void test_jobs_and_lists(void **state)
{
	(void)state;
	json_t *job = J("{\"job_id\":\"job_1\",\"status\":\"downloading\",\"downloaded_bytes\":0}");
	json_t *a =
	        J("{\"job_id\":\"job_1\",\"status\":\"downloading\",\"downloaded_bytes\":100,\"total_size_bytes\":1000,"
	          "\"bytes_per_second\":50,\"estimated_completion\":\"2026-11-26T10:00:20Z\",\"junk\":{\"x\":1}}");
	assert_int_equal(dp_forge_job_merge(job, a), 1);
	assert_int_equal(json_integer_value(json_object_get(job, "downloaded_bytes")), 100);
	assert_null(json_object_get(job, "junk"));
	assert_int_equal(dp_forge_job_merge(job, a), 0); /* nothing new */
	json_decref(a);
	a = J("{\"job_id\":\"job_1\",\"status\":\"completed\",\"downloaded_bytes\":1000,\"completed_at\":\"2026-11-"
	      "26T10:00:30Z\"}");
	assert_int_equal(dp_forge_job_merge(job, a), 1);
	assert_true(json_is_null(json_object_get(job, "bytes_per_second")));
	assert_true(json_is_null(json_object_get(job, "estimated_completion")));
	json_decref(a);
	json_decref(job);
	assert_true(dp_forge_job_active("downloading"));
	assert_true(dp_forge_job_active("paused"));
	assert_false(dp_forge_job_active("completed"));
	assert_false(dp_forge_job_active("failed"));
	assert_false(dp_forge_job_active("already_downloaded"));
	assert_false(dp_forge_job_active(NULL));

	json_t *v1 = J("{\"models\":[{\"key\":\"qwen/qwen3-8b\",\"loaded_instances\":[{\"id\":\"qwen/qwen3-8b\"},"
	               "{\"id\":\"qwen/qwen3-8b:2\"}]},{\"key\":\"Meta/Llama\",\"loaded_instances\":[]}]}");
	assert_non_null(dp_forge_find_model(v1, "qwen/qwen3-8b"));
	assert_non_null(dp_forge_find_model(v1, "meta/llama"));
	assert_null(dp_forge_find_model(v1, "nope"));
	json_t *ids = dp_forge_instance_ids(v1);
	assert_int_equal(json_array_size(ids), 2);
	assert_string_equal(json_string_value(json_array_get(ids, 1)), "qwen/qwen3-8b:2");
	json_decref(ids);
	json_decref(v1);
}

static void test_estimate_inputs(void **state)
{
	(void)state;
	struct dp_forge_load l;
	struct dp_forge_err e;
	struct dp_estimate_load el;
	assert_int_equal(parse("{\"model\":\"m\"}", &l, &e), 0);
	dp_forge_estimate_load(&l, &el);
	assert_true(el.gpu_ratio < 0);
	assert_int_equal(el.offload_kv, -1);
	assert_int_equal(parse("{\"model\":\"m\",\"gpu\":\"off\",\"parallel\":3,\"context_length\":100}", &l, &e), 0);
	dp_forge_estimate_load(&l, &el);
	assert_true(el.gpu_ratio == 0);
	assert_int_equal(el.parallel, 3);
	assert_int_equal(el.context_length, 100);
	assert_int_equal(parse("{\"model\":\"m\",\"gpu\":0.25}", &l, &e), 0);
	dp_forge_estimate_load(&l, &el);
	assert_true(el.gpu_ratio > 0.249 && el.gpu_ratio < 0.251);
	json_t *m = J("{\"key\":\"k\",\"type\":\"llm\",\"architecture\":\"qwen3\",\"params_string\":\"8B\","
	              "\"size_bytes\":5027784224,\"quantization\":{\"name\":\"Q4_K_M\",\"bits_per_weight\":4}}");
	struct dp_estimate_model em;
	dp_forge_estimate_model(m, &em);
	assert_string_equal(em.architecture, "qwen3");
	assert_int_equal(em.size_bytes, 5027784224ull);
	assert_true(em.bits_per_weight == 4);
	json_decref(m);
	json_t *rq = dp_forge_load_json(&l);
	assert_true(json_is_null(json_object_get(rq, "context_length")));
	assert_true(json_real_value(json_object_get(rq, "gpu")) > 0.249);
	assert_string_equal(json_string_value(json_object_get(rq, "model")), "m");
	json_decref(rq);
}

static void test_instance_facts(void **state)
{
	(void)state;
	struct dp_server srv;
	memset(&srv, 0, sizeof srv);
	char *err = NULL;
	assert_int_equal(dp_forge_attach(&srv, &err), 0);
	assert_non_null(srv.forge);
	dp_forge_note_loaded(srv.forge, 1, "qwen/qwen3-8b:2", "qwen/qwen3-8b", "rest", "alice", 1786252670000);
	json_t *ttl = json_integer(600000), *lu = json_integer(1786252670000);
	/* ours: not JIT; 100 s idle of a 600 s TTL */
	json_t *f = dp_forge_instance_facts(srv.forge, 1, "qwen/qwen3-8b:2", ttl, lu, 1786252770000);
	assert_string_equal(json_string_value(json_object_get(f, "loaded_by")), "daemonpulse");
	assert_string_equal(json_string_value(json_object_get(f, "via")), "rest");
	assert_string_equal(json_string_value(json_object_get(f, "by")), "alice");
	assert_true(json_is_false(json_object_get(f, "jit")));
	assert_int_equal(json_integer_value(json_object_get(f, "ttl_remaining_ms")), 500000);
	json_decref(f);
	/* someone else's (or another target's): unknown, never guessed; expired TTL is 0 */
	f = dp_forge_instance_facts(srv.forge, 2, "qwen/qwen3-8b:2", ttl, lu, 1786253670000);
	assert_true(json_is_null(json_object_get(f, "loaded_by")));
	assert_true(json_is_null(json_object_get(f, "jit")));
	assert_int_equal(json_integer_value(json_object_get(f, "ttl_remaining_ms")), 0);
	json_decref(f);
	/* no TTL (lms load without --ttl) or no lms data */
	f = dp_forge_instance_facts(srv.forge, 1, "x", json_null(), lu, 1786252770000);
	assert_true(json_is_null(json_object_get(f, "ttl_remaining_ms")));
	json_decref(f);
	f = dp_forge_instance_facts(NULL, 1, "x", NULL, NULL, 0);
	assert_true(json_is_null(json_object_get(f, "jit")));
	json_decref(f);
	json_decref(ttl);
	json_decref(lu);
	dp_forge_detach(&srv);
	assert_null(srv.forge);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_parse_bounds),   cmocka_unit_test(test_rest_bodies),
	        cmocka_unit_test(test_lms_argv),       cmocka_unit_test(test_path_choice),
	        cmocka_unit_test(test_presets_dev),    cmocka_unit_test(test_presets_live),
	        cmocka_unit_test(test_check_model),    cmocka_unit_test(test_download),
	        cmocka_unit_test(test_jobs_and_lists), cmocka_unit_test(test_estimate_inputs),
	        cmocka_unit_test(test_instance_facts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
