/*
 * fuzz_sim_request.c - libFuzzer target for llmster-sim's request parsing
 * (sim/reqparse.c): the first byte picks the API kind, the rest is the
 * JSON body. Every kind must either parse or fail with a filled-in error,
 * and release must leave nothing behind. A first byte of 0xff instead feeds
 * the rest to the --gpus / --ram parsers (sim/hw.c).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "sim.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > (1u << 20))
		return 0;
	if (data[0] == 0xff) {
		char spec[512];
		size_t n = size - 1 < sizeof(spec) - 1 ? size - 1 : sizeof(spec) - 1;
		memcpy(spec, data + 1, n);
		spec[n] = '\0';
		static struct dp_sim sim;
		char err[256];
		uint64_t v;
		if (dp_hw_parse_gpus(&sim, spec, err, sizeof(err)) == 0 && sim.ngpus > DP_SIM_MAX_GPUS)
			__builtin_trap();
		for (int i = 0; i < sim.ngpus; i++)
			if (sim.gpus[i].total < (256ull << 20) || strlen(sim.gpus[i].name) >= sizeof(sim.gpus[i].name))
				__builtin_trap();
		(void)dp_hw_parse_size(spec, &v);
		return 0;
	}
	int kind = 1 + data[0] % DP_K_OAI_EMBED;
	struct dp_chatreq r;
	int rc = dp_reqparse(kind, (const char *)data + 1, size - 1, &r);
	if (rc < 0) {
		if (r.err_status != 400 || !r.err_type || !r.err_msg[0])
			__builtin_trap();
	} else {
		if (r.prompt.len != strlen(r.prompt.data))
			__builtin_trap();
		if ((kind == DP_K_V0_EMBED || kind == DP_K_OAI_EMBED) && r.ninputs < 1)
			__builtin_trap();
	}
	dp_reqparse_release(&r);
	return 0;
}
