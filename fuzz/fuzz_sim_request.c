/*
 * fuzz_sim_request.c - libFuzzer target for llmster-sim's request parsing
 * (sim/reqparse.c): the first byte picks the API kind, the rest is the
 * JSON body. Every kind must either parse or fail with a filled-in error,
 * and release must leave nothing behind.
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
