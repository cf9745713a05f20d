/*
 * fuzz_agent_json.c - libFuzzer target for the JSON the agent and the
 * control plane take from each other (both untrusted): the first byte picks
 * the side. 0: an mcp.json document as PUT to the agent
 * (dp_agent_mcp_validate must never crash, and whatever it accepts must
 * serialise within the size bound's order). 1: a GET /agent/v1/telemetry
 * answer as the control plane parses it (dp_agent_client_parse_telemetry):
 * every GPU it yields must render as the API's GPU object and that object
 * must parse back to the same JSON.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "agent_client.h"
#include "telemetry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	int side = data[0] & 1;
	json_t *body = json_loadb((const char *)data + 1, size - 1, JSON_REJECT_DUPLICATES, NULL);
	if (!body)
		return 0;
	if (side == 0) {
		const char *why = NULL;
		if (dp_agent_mcp_validate(body, &why) == 0) {
			char *s = json_dumps(body, JSON_INDENT(2));
			if (!s)
				abort();
			free(s);
		} else if (!why) {
			abort();
		}
	} else {
		struct dp_telemetry_sample *s = calloc(1, sizeof(*s)), *b = calloc(1, sizeof(*b));
		char code[32], msg[256];
		int rc = dp_agent_client_parse_telemetry(body, s, code, sizeof(code), msg, sizeof(msg));
		if (rc == 1) {
			if (s->ngpus < 0 || s->ngpus > DP_GPU_MAX)
				abort();
			json_t *gpus = json_array();
			for (int i = 0; i < s->ngpus; i++)
				json_array_append_new(gpus, dp_telemetry_gpu_json(&s->gpus[i]));
			json_t *again = json_pack("{s:b,s:O}", "available", 1, "gpus", gpus);
			if (dp_agent_client_parse_telemetry(again, b, code, sizeof(code), msg, sizeof(msg)) != 1 ||
			    b->ngpus != s->ngpus)
				abort();
			for (int i = 0; i < s->ngpus; i++) {
				json_t *x = dp_telemetry_gpu_json(&b->gpus[i]);
				if (!json_equal(x, json_array_get(gpus, (size_t)i)))
					abort();
				json_decref(x);
			}
			json_decref(again);
			json_decref(gpus);
		} else if (rc == 0) {
			if (!memchr(code, '\0', sizeof(code)) || !memchr(msg, '\0', sizeof(msg)))
				abort();
		}
		free(s);
		free(b);
	}
	json_decref(body);
	return 0;
}
