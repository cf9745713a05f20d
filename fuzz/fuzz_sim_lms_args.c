/*
 * fuzz_sim_lms_args.c - libFuzzer target for the `lms` stand-in's argument
 * handling: option parsing (lms_args.c), --host/--port validation
 * (lms_http.c) and the size formatters (lms_fmt.c).
 *
 * The input is split at NUL bytes into an argv (at most 32 words). The
 * stand-in's modules are compiled into this target directly because the
 * Makefile links fuzz_sim_ targets with the sim/ sources only, not sim/lms/.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lms/lms_args.c"
#include "lms/lms_fmt.c"
#include "lms/lms_http.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct dp_lms_opt opts[] = {
        {"gpu", 0, 1},        {"context-length", 'c', 1},
        {"parallel", 0, 1},   {"ttl", 0, 1},
        {"identifier", 0, 1}, {"estimate-only", 0, 0},
        {"yes", 'y', 0},      {"all", 'a', 0},
        {"host", 0, 1},       {"port", 0, 1},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 4096)
		return 0;
	static FILE *devnull;
	if (!devnull) {
		devnull = fopen("/dev/null", "w");
		if (!devnull)
			return 0;
		dp_lms_set_errout(devnull);
	}
	char *copy = malloc(size + 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	copy[size] = '\0';
	char *argv[32];
	int argc = 0;
	for (size_t i = 0; i < size && argc < 32;) {
		argv[argc++] = copy + i;
		i += strlen(copy + i) + 1;
	}
	struct dp_lms_args a;
	if (dp_lms_args_parse(&a, opts, sizeof(opts) / sizeof(opts[0]), 2, argc, argv) == 0) {
		long v;
		dp_lms_args_int(&a, "context-length", 1, 1 << 30, &v);
		dp_lms_args_int(&a, "ttl", 1, 1 << 30, &v);
		struct dp_lms_target t = {"127.0.0.1", 1234};
		dp_lms_target_from_args(&t, &a);
		const char *g = dp_lms_args_get(&a, "gpu");
		char out[64];
		if (g) {
			double d = strtod(g, NULL);
			dp_lms_fmt_bytes1024(out, sizeof(out), d);
			dp_lms_fmt_bytes1000(out, sizeof(out), d);
			dp_lms_fmt_number(out, sizeof(out), d);
		}
	}
	dp_lms_set_quiet(0);
	free(copy);
	return 0;
}
