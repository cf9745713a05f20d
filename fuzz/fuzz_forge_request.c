/*
 * fuzz_forge_request.c - libFuzzer target for the Forge's request rules
 * (src/forge.c) and estimator (src/estimate.c) on untrusted JSON: a load
 * request body, presets applied in Dev and Live mode, the model entry a
 * daemon returns (bounds, estimator input), the download body and the
 * download status answers merged into a job.
 *
 * Input: the first byte modulo 4 picks the path (0 load, 1 download, 2 job
 * status, 3 model entry; the seeds use 'l', 'a', 'b', 'c'), the rest is
 * JSON.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "estimate.h"
#include "forge.h"
#include "lms.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *PRESETS =
        "[{\"name\":\"p\",\"model\":\"m\",\"context_length\":4096,\"flash_attention\":true,\"gpu\":null,"
        "\"parallel\":null,\"ttl\":null,\"identifier\":null,\"eval_batch_size\":null,\"num_experts\":null,"
        "\"offload_kv_cache_to_gpu\":null},{\"name\":\"q\",\"gpu\":0.5,\"parallel\":2,\"ttl\":9}]";

static void must_dump(char *s)
{
	if (!s)
		abort();
	free(s);
}

static void load(json_t *j, json_t *presets)
{
	static const char *const modes[] = {"dev", "live"};
	for (int k = 0; k < 2; k++) {
		struct dp_forge_load l;
		struct dp_forge_err e;
		if (dp_forge_load_parse(j, 0, &l, &e) < 0) {
			if (e.status != 400 || !e.code[0])
				abort();
			return;
		}
		if (dp_forge_apply_settings(&l, modes[k], presets, &e) < 0)
			continue;
		if (!l.model[0])
			continue;
		enum dp_forge_path p = dp_forge_choose_path(&l, &e);
		if (p == DP_FORGE_PATH_REST) {
			char *s = dp_forge_rest_body(&l);
			json_t *b = json_loads(s, 0, NULL);
			if (!b || strcmp(json_string_value(json_object_get(b, "model")), l.model))
				abort();
			json_decref(b);
			free(s);
		} else if (p == DP_FORGE_PATH_LMS) {
			struct dp_lms_req r;
			struct dp_lms_argv a;
			char err[128];
			dp_forge_lms_req(&l, k, k ? "some/path.gguf" : NULL, &r);
			dp_lms_build_argv("lms", NULL, &r, &a, err, sizeof err);
			dp_lms_argv_release(&a);
		}
		json_t *rq = dp_forge_load_json(&l);
		must_dump(json_dumps(rq, JSON_COMPACT));
		json_decref(rq);
	}
}

static void model(json_t *j)
{
	struct dp_forge_load l;
	struct dp_forge_err e;
	dp_forge_load_init(&l);
	snprintf(l.model, sizeof l.model, "m");
	l.context_length = 4096;
	l.flash_attention = 1;
	dp_forge_check_model(&l, j, &e);
	struct dp_estimate_model m;
	struct dp_estimate_load el;
	dp_forge_estimate_model(j, &m);
	dp_forge_estimate_load(&l, &el);
	if (!m.size_bytes)
		m.size_bytes = 1;
	struct dp_estimate_gpu g[2] = {{.index = 0, .total_bytes = 1ull << 34},
	                               {.index = 1, .total_bytes = 1ull << 33}};
	struct dp_estimate_result r;
	if (dp_estimate_run(&m, &el, 1, g, 2, 1ull << 36, 0, &r) == 0) {
		json_t *o = dp_estimate_json(&r, g, 2);
		must_dump(json_dumps(o, JSON_COMPACT));
		json_decref(o);
	}
	json_t *ids = dp_forge_instance_ids(j);
	json_decref(ids);
	dp_forge_find_model(j, "m");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 65536)
		return 0;
	json_t *j = json_loadb((const char *)data + 1, size - 1, JSON_DECODE_ANY, NULL);
	if (!j)
		return 0;
	static json_t *presets;
	if (!presets)
		presets = json_loads(PRESETS, 0, NULL);
	switch (data[0] % 4) {
	case 0:
		load(j, presets);
		break;
	case 1: {
		const char *m, *q;
		struct dp_forge_err e;
		if (dp_forge_download_parse(j, &m, &q, &e) == 0)
			must_dump(dp_forge_download_body(m, q));
		break;
	}
	case 2: {
		json_t *job = json_pack("{s:s, s:s}", "job_id", "job_1", "status", "downloading");
		if (json_is_object(j)) {
			dp_forge_job_merge(job, j);
			dp_forge_job_active(json_string_value(json_object_get(job, "status")));
		}
		must_dump(json_dumps(job, JSON_COMPACT));
		json_decref(job);
		break;
	}
	default:
		model(j);
		break;
	}
	json_decref(j);
	return 0;
}
