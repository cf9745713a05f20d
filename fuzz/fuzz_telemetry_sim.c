/*
 * fuzz_telemetry_sim.c - libFuzzer target for what the telemetry hub reads
 * from a target's GET /__sim/gpus (untrusted: any host can answer that
 * path): the JSON is parsed, turned into a sample, every GPU rendered as
 * the API's GPU object, and pushed through a small history ring and the
 * alert evaluation. Every produced JSON value must serialise.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alerts.h"
#include "telemetry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT);
	if (!s)
		abort();
	free(s);
	json_decref(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *body = json_loadb((const char *)data, size, 0, NULL);
	if (!body)
		return 0;
	struct dp_telemetry_sample *s = calloc(1, sizeof(*s));
	if (dp_telemetry_parse_sim(body, s) == 0) {
		if (s->ngpus < 0 || s->ngpus > DP_GPU_MAX)
			abort();
		struct dp_telemetry_ring r;
		dp_telemetry_ring_init(&r, 3);
		struct dp_alerts *a = dp_alerts_new(NULL, NULL, NULL);
		for (int k = 0; k < 4; k++) {
			s->measured_ms = 1000 + k;
			dp_telemetry_ring_push(&r, s);
			for (int i = 0; i < s->ngpus; i++)
				dp_alerts_gpu(a, 1, "fuzz", &s->gpus[i].g, s->measured_ms);
		}
		for (int i = 0; i < s->ngpus; i++)
			check(dp_telemetry_gpu_json(&s->gpus[i]));
		check(dp_telemetry_ring_json(&r, 0));
		check(dp_alerts_json(a, 0));
		dp_alerts_free(a);
		dp_telemetry_ring_release(&r);
	}
	free(s);
	json_decref(body);
	return 0;
}
