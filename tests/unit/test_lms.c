/*
 * test_lms.c - the lms bridge: argv for every command (and which ones get
 * --host/--port), argument validation, --estimate-only text parsing (incl.
 * "Confidence: LOW" and "will fail to load", old GB and new GiB units), ps,
 * ls, survey (old capitalised and new camelCase enums give the same result)
 * and status JSON, stderr messages, an unavailable binary, and the runtime
 * (per-target limit, FIFO queue, busy, cancel, timeout, failures, bad
 * output, caps, log streams).
 *
 * The runtime tests use this very binary as a fake `lms`: when started with
 * DP_FAKE_LMS=1 in its environment, main() answers like the CLI would
 * (see fake_lms()) instead of running the tests.
 */
#include <errno.h>
#include <event2/event.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "lms.h"

/* ---- samples ---------------------------------------------------------------- */

static const char ps_capture[] =
        "[{\"type\":\"llm\",\"modelKey\":\"ornith-1.0-35b-mlx-oq8\",\"format\":\"safetensors\",\"displayName\":"
        "\"Ornith 1.0 35B OQ8\",\n"
        " \"publisher\":\"jedisct1\",\"path\":\"jedisct1/Ornith-1.0-35B-MLX-oQ8\",\"sizeBytes\":37726897291,\n"
        " \"indexedModelIdentifier\":\"jedisct1/"
        "Ornith-1.0-35B-MLX-oQ8\",\"deviceIdentifier\":null,\"paramsString\":\"35B\",\n"
        " \"architecture\":\"qwen3_5_moe\",\"quantization\":{\"name\":\"8bit\",\"bits\":8},\"identifier\":\"ornith-1.0-"
        "35b-mlx-oq8\",\n"
        " \"ttlMs\":null,\"lastUsedTime\":1786252670392,\"vision\":true,\"trainedForToolUse\":true,"
        "\"maxContextLength\":262144,\n"
        " \"contextLength\":65536,\"status\":\"idle\",\"queued\":0,\"parallel\":2}]\n";

static const char survey_new[] =
        "{\n  \"status\": \"ok\",\n  \"engines\": [\n    {\n      \"name\": "
        "\"llama.cpp-linux-x86_64-nvidia-cuda12-avx2\",\n"
        "      \"version\": \"1.50.0\", \"engine\": \"llama.cpp\", \"platform\": \"linux\", \"gpuFramework\": "
        "\"CUDA\",\n"
        "      \"compatibility\": { \"status\": \"compatible\" },\n"
        "      \"supportedModelFormatNames\": [\"GGUF\"],\n"
        "      \"hardwareSurvey\": {\n"
        "        \"gpuSurveyResult\": { \"result\": {\"code\": \"success\", \"message\": \"\"},\n"
        "          \"gpuInfo\": [{ \"name\": \"NVIDIA GeForce RTX 4090\", \"deviceId\": 0,\n"
        "            \"totalMemoryCapacityBytes\": 25757220864, \"dedicatedMemoryCapacityBytes\": 25757220864,\n"
        "            \"integrationType\": \"discrete\", \"detectionPlatform\": \"CUDA\", \"detectionPlatformVersion\": "
        "\"12.4\",\n"
        "            \"otherInfo\": {} },\n"
        "            { \"name\": \"iGPU\", \"deviceId\": 1, \"totalMemoryCapacityBytes\": 1073741824,\n"
        "            \"dedicatedMemoryCapacityBytes\": 0, \"integrationType\": \"integrated\", \"detectionPlatform\": "
        "\"Vulkan\",\n"
        "            \"detectionPlatformVersion\": \"1.3\", \"otherInfo\": {} }] },\n"
        "        \"cpuSurveyResult\": { \"result\": {\"code\": \"success\", \"message\": \"\"},\n"
        "          \"cpuInfo\": { \"name\": \"AMD Ryzen 9\", \"architecture\": \"x86_64\", "
        "\"supportedInstructionSetExtensions\": [\"AVX\", \"AVX2\"] } } },\n"
        "      \"memoryInfo\": { \"ramCapacity\": 68719476736, \"vramCapacity\": 25757220864, \"totalMemory\": "
        "94476697600 }\n"
        "    },\n"
        "    { \"name\": \"mlx-engine\", \"version\": \"0.1\", \"engine\": \"mlx\", \"platform\": \"linux\",\n"
        "      \"compatibility\": { \"status\": \"incompatiblePlatform\", \"message\": \"macOS only\" },\n"
        "      \"supportedModelFormatNames\": [\"MLX\"], \"hardwareSurvey\": { \"gpuSurveyResult\": { \"result\": "
        "{\"code\": \"unset\", \"message\": \"\"}, \"gpuInfo\": [] },\n"
        "        \"cpuSurveyResult\": { \"result\": {\"code\": \"unset\", \"message\": \"\"} } },\n"
        "      \"memoryInfo\": { \"ramCapacity\": 68719476736, \"vramCapacity\": 0, \"totalMemory\": 68719476736 } }\n"
        "  ]\n}\n";

/* The same survey as printed by builds from 2025-12 to 2026-03. */
static const char survey_old[] =
        "{\n  \"status\": \"OK\",\n  \"engines\": [\n    {\n      \"name\": "
        "\"llama.cpp-linux-x86_64-nvidia-cuda12-avx2\",\n"
        "      \"version\": \"1.50.0\", \"engine\": \"llama.cpp\", \"platform\": \"linux\", \"gpuFramework\": "
        "\"CUDA\",\n"
        "      \"compatibility\": { \"status\": \"Compatible\" },\n"
        "      \"supportedModelFormatNames\": [\"GGUF\"],\n"
        "      \"hardwareSurvey\": {\n"
        "        \"gpuSurveyResult\": { \"result\": {\"code\": \"Success\", \"message\": \"\"},\n"
        "          \"gpuInfo\": [{ \"name\": \"NVIDIA GeForce RTX 4090\", \"deviceId\": 0,\n"
        "            \"totalMemoryCapacityBytes\": 25757220864, \"dedicatedMemoryCapacityBytes\": 25757220864,\n"
        "            \"integrationType\": \"Discrete\", \"detectionPlatform\": \"CUDA\", \"detectionPlatformVersion\": "
        "\"12.4\",\n"
        "            \"otherInfo\": {} },\n"
        "            { \"name\": \"iGPU\", \"deviceId\": 1, \"totalMemoryCapacityBytes\": 1073741824,\n"
        "            \"dedicatedMemoryCapacityBytes\": 0, \"integrationType\": \"Integrated\", \"detectionPlatform\": "
        "\"Vulkan\",\n"
        "            \"detectionPlatformVersion\": \"1.3\", \"otherInfo\": {} }] },\n"
        "        \"cpuSurveyResult\": { \"result\": {\"code\": \"Success\", \"message\": \"\"},\n"
        "          \"cpuInfo\": { \"name\": \"AMD Ryzen 9\", \"architecture\": \"x86_64\", "
        "\"supportedInstructionSetExtensions\": [\"AVX\", \"AVX2\"] } } },\n"
        "      \"memoryInfo\": { \"ramCapacity\": 68719476736, \"vramCapacity\": 25757220864, \"totalMemory\": "
        "94476697600 }\n"
        "    },\n"
        "    { \"name\": \"mlx-engine\", \"version\": \"0.1\", \"engine\": \"mlx\", \"platform\": \"linux\",\n"
        "      \"compatibility\": { \"status\": \"Incompatible platform\", \"message\": \"macOS only\" },\n"
        "      \"supportedModelFormatNames\": [\"MLX\"], \"hardwareSurvey\": { \"gpuSurveyResult\": { \"result\": "
        "{\"code\": \"Unset\", \"message\": \"\"}, \"gpuInfo\": [] },\n"
        "        \"cpuSurveyResult\": { \"result\": {\"code\": \"Unset\", \"message\": \"\"} } },\n"
        "      \"memoryInfo\": { \"ramCapacity\": 68719476736, \"vramCapacity\": 0, \"totalMemory\": 68719476736 } }\n"
        "  ]\n}\n";

/* lms's logger: console.info("I", "", msg) -> "I  msg"; the verdict line
 * starts with "\n" so it follows an "I  " line. Reference format (GiB). */
static const char est_fail_low[] =
        "I  Model: lmstudio-community/Qwen3-30B-A3B-GGUF/Qwen3-30B-A3B-Q4_K_M.gguf\n"
        "I  Context Length: 32,768\n"
        "I  GPU Offload: 100%\n"
        "I  Estimated GPU Memory:   27.41 GiB\n"
        "I  Estimated Total Memory: 27.93 GiB\n"
        "I  Confidence: LOW\n"
        "I  \n"
        "Estimate: This model will fail to load based on your resource guardrails settings.\n";

/* Older lms (base-1000 units, no context/offload lines), colours on. */
static const char est_ok_old[] =
        "\x1b[92mI\x1b[39m  Model: google/gemma-3-4b\n"
        "\x1b[92mI\x1b[39m  Estimated GPU Memory:   \x1b[32m3.50 GB\x1b[39m\n"
        "\x1b[92mI\x1b[39m  Estimated Total Memory: \x1b[32m4.20 GB\x1b[39m\n"
        "\x1b[92mI\x1b[39m  \n"
        "Estimate: \x1b[32mThis model may be loaded based on your resource guardrails settings.\x1b[39m\n";

/* ---- the fake lms ------------------------------------------------------------- */

static int has_arg(int argc, char **argv, const char *a)
{
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], a) == 0)
			return 1;
	return 0;
}

static void term_exit(int sig)
{
	(void)sig;
	_exit(0); /* like lms log stream: exit 0 on SIGTERM */
}

static int fake_lms(int argc, char **argv)
{
	const char *ms = getenv("DP_FAKE_SLEEP_MS");
	if (ms)
		usleep((useconds_t)strtol(ms, NULL, 10) * 1000);
	if (argc < 2)
		return 1;
	const char *cmd = argv[1];
	if (strcmp(cmd, "ps") == 0) {
		fputs(ps_capture, stdout);
		return 0;
	}
	if (strcmp(cmd, "ls") == 0) {
		if (getenv("DP_FAKE_BIG")) {
			for (int i = 0; i < 200000; i++)
				fputs("xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n", stdout);
			return 0;
		}
		fputs("this is not json\n", stdout);
		return 0;
	}
	if (strcmp(cmd, "runtime") == 0) {
		fputs(survey_old, stdout);
		return 0;
	}
	if (strcmp(cmd, "load") == 0 && has_arg(argc, argv, "--estimate-only")) {
		fputs(est_fail_low, stderr);
		return 0;
	}
	if (strcmp(cmd, "unload") == 0) {
		fputs("\x1b[91mE\x1b[39m  Error: Cannot find a model with the identifier\n  \"nope\".\n", stderr);
		return 1;
	}
	if (strcmp(cmd, "daemon") == 0) {
		/* Like a CLI that starts a background daemon which inherits its
		 * stdout: the grandchild keeps the pipe open after we exit. */
		fputs("{\"status\":\"running\",\"pid\":4242,\"isDaemon\":true,\"version\":\"0.4.4+1\"}\n", stdout);
		fflush(stdout);
		if (fork() == 0) {
			sleep(3);
			_exit(0);
		}
		return 0;
	}
	if (strcmp(cmd, "version") == 0) {
		/* Report the FORCE_COLOR the bridge sets, to check env additions. */
		const char *fc = getenv("FORCE_COLOR");
		printf("{\"version\":\"fc=%s\"}\n", fc ? fc : "unset");
		return 0;
	}
	if (strcmp(cmd, "log") == 0) {
		signal(SIGTERM, term_exit);
		fputs("Streaming logs from LM Studio\n", stderr);
		printf("{\"timestamp\":1,\"data\":{\"type\":\"server.log\",\"content\":\"a\",\"level\":\"info\"}}\n");
		for (int i = 0; i < 600; i++)
			putchar('y');
		putchar('\n');
		printf("{\"timestamp\":2,\"data\":{\"type\":\"server.log\",\"content\":\"b\",\"level\":\"warn\"}}\n");
		fflush(stdout);
		if (getenv("DP_FAKE_EXIT"))
			return 3;
		for (;;)
			pause();
	}
	fprintf(stderr, "unknown command %s\n", cmd);
	return 1;
}

/* ---- pure: argv ------------------------------------------------------------------ */

static void expect_argv(const struct dp_lms_target *t, const struct dp_lms_req *r, const char *want)
{
	struct dp_lms_argv a;
	char err[256] = "";
	int rc = dp_lms_build_argv("lms", t, r, &a, err, sizeof err);
	if (rc != 0)
		fail_msg("argv for %s failed: %s", dp_lms_cmd_name(r->cmd), err);
	char got[1024] = "";
	size_t n = 0;
	for (int i = 0; i < a.argc; i++)
		n += (size_t)snprintf(got + n, sizeof got - n, "%s%s", i ? " " : "", a.argv[i]);
	assert_null(a.argv[a.argc]);
	assert_string_equal(got, want);
	dp_lms_argv_release(&a);
}

static void expect_invalid(const struct dp_lms_target *t, const struct dp_lms_req *r, const char *needle)
{
	struct dp_lms_argv a;
	char err[256] = "";
	assert_int_equal(dp_lms_build_argv("lms", t, r, &a, err, sizeof err), -EINVAL);
	if (!strstr(err, needle))
		fail_msg("error '%s' lacks '%s'", err, needle);
	dp_lms_argv_release(&a);
}

static void test_argv_every_command(void **state)
{
	struct dp_lms_target remote = {.key = "t1", .host = "gpu-box.lan", .port = 4321};
	struct dp_lms_target local = {0};
	struct dp_lms_target loop_port = {.host = "127.0.0.1", .port = 1234};

	expect_argv(&remote, &(struct dp_lms_req){.cmd = DP_LMS_PS}, "lms ps --json --host gpu-box.lan --port 4321");
	expect_argv(NULL, &(struct dp_lms_req){.cmd = DP_LMS_PS}, "lms ps --json");
	expect_argv(&local, &(struct dp_lms_req){.cmd = DP_LMS_LS}, "lms ls --json");
	expect_argv(&remote, &(struct dp_lms_req){.cmd = DP_LMS_LS}, "lms ls --json --host gpu-box.lan --port 4321");
	expect_argv(&(struct dp_lms_target){.port = 5555}, &(struct dp_lms_req){.cmd = DP_LMS_PS},
	            "lms ps --json --port 5555");
	expect_argv(&remote,
	            &(struct dp_lms_req){.cmd = DP_LMS_LOAD,
	                                 .model = "qwen/qwen3-8b",
	                                 .gpu = "0.5",
	                                 .context_length = 8192,
	                                 .ttl_s = 600,
	                                 .identifier = "q8",
	                                 .parallel = 2},
	            "lms load qwen/qwen3-8b --gpu 0.5 --context-length 8192 --ttl 600 --parallel 2 --identifier q8 "
	            "--yes --host gpu-box.lan --port 4321");
	expect_argv(NULL, &(struct dp_lms_req){.cmd = DP_LMS_LOAD, .model = "m", .gpu = "MAX", .exact = 1},
	            "lms load m --gpu max --exact --yes");
	expect_argv(&remote,
	            &(struct dp_lms_req){.cmd = DP_LMS_ESTIMATE, .model = "m", .gpu = "off", .context_length = 4096},
	            "lms load m --gpu off --context-length 4096 --yes --estimate-only --host gpu-box.lan --port 4321");
	expect_argv(&remote, &(struct dp_lms_req){.cmd = DP_LMS_UNLOAD, .model = "q8"},
	            "lms unload q8 --host gpu-box.lan --port 4321");
	expect_argv(&remote, &(struct dp_lms_req){.cmd = DP_LMS_UNLOAD_ALL},
	            "lms unload --all --host gpu-box.lan --port 4321");
	expect_argv(&remote, &(struct dp_lms_req){.cmd = DP_LMS_LOG_STREAM, .source = "server"},
	            "lms log stream --source server --json --host gpu-box.lan --port 4321");
	expect_argv(NULL, &(struct dp_lms_req){.cmd = DP_LMS_LOG_STREAM, .source = "model", .filter = "input,output"},
	            "lms log stream --source model --filter input,output --json");
	expect_argv(&remote, &(struct dp_lms_req){.cmd = DP_LMS_RUNTIME_SURVEY},
	            "lms runtime survey --json --host gpu-box.lan --port 4321");
	expect_argv(NULL, &(struct dp_lms_req){.cmd = DP_LMS_RUNTIME_SURVEY, .refresh = 1},
	            "lms runtime survey --json --refresh");
	/* Local-only commands never get --host/--port, even for a loopback target. */
	expect_argv(&loop_port,
	            &(struct dp_lms_req){.cmd = DP_LMS_SERVER_START, .server_port = 1234, .bind = "0.0.0.0", .cors = 1},
	            "lms server start --port 1234 --bind 0.0.0.0 --cors");
	expect_argv(&loop_port, &(struct dp_lms_req){.cmd = DP_LMS_SERVER_STOP}, "lms server stop");
	expect_argv(&loop_port, &(struct dp_lms_req){.cmd = DP_LMS_SERVER_STATUS}, "lms server status --json");
	expect_argv(&loop_port, &(struct dp_lms_req){.cmd = DP_LMS_DAEMON_UP}, "lms daemon up --json");
	expect_argv(&loop_port, &(struct dp_lms_req){.cmd = DP_LMS_DAEMON_DOWN}, "lms daemon down");
	expect_argv(&loop_port, &(struct dp_lms_req){.cmd = DP_LMS_DAEMON_STATUS}, "lms daemon status --json");
	expect_argv(&loop_port, &(struct dp_lms_req){.cmd = DP_LMS_VERSION}, "lms version --json");
	expect_argv(&(struct dp_lms_target){.host = "localhost"}, &(struct dp_lms_req){.cmd = DP_LMS_VERSION},
	            "lms version --json");

	/* The table behind it (reference §6.1). */
	assert_true(dp_lms_cmd_takes_target(DP_LMS_PS));
	assert_true(dp_lms_cmd_takes_target(DP_LMS_LS));
	assert_true(dp_lms_cmd_takes_target(DP_LMS_LOAD));
	assert_true(dp_lms_cmd_takes_target(DP_LMS_ESTIMATE));
	assert_true(dp_lms_cmd_takes_target(DP_LMS_UNLOAD));
	assert_true(dp_lms_cmd_takes_target(DP_LMS_UNLOAD_ALL));
	assert_true(dp_lms_cmd_takes_target(DP_LMS_LOG_STREAM));
	assert_true(dp_lms_cmd_takes_target(DP_LMS_RUNTIME_SURVEY));
	assert_false(dp_lms_cmd_takes_target(DP_LMS_SERVER_START));
	assert_false(dp_lms_cmd_takes_target(DP_LMS_SERVER_STOP));
	assert_false(dp_lms_cmd_takes_target(DP_LMS_SERVER_STATUS));
	assert_false(dp_lms_cmd_takes_target(DP_LMS_DAEMON_UP));
	assert_false(dp_lms_cmd_takes_target(DP_LMS_DAEMON_DOWN));
	assert_false(dp_lms_cmd_takes_target(DP_LMS_DAEMON_STATUS));
	assert_false(dp_lms_cmd_takes_target(DP_LMS_VERSION));
	assert_false(dp_lms_cmd_takes_target(DP_LMS__NCMD));
	assert_string_equal(dp_lms_cmd_name(DP_LMS_RUNTIME_SURVEY), "runtime survey");
}

static void test_argv_validation(void **state)
{
	struct dp_lms_target remote = {.host = "gpu-box.lan"};
	expect_invalid(&remote, &(struct dp_lms_req){.cmd = DP_LMS_SERVER_START}, "local machine only");
	expect_invalid(&remote, &(struct dp_lms_req){.cmd = DP_LMS_DAEMON_DOWN}, "local machine only");
	expect_invalid(&remote, &(struct dp_lms_req){.cmd = DP_LMS_VERSION}, "local machine only");
	expect_invalid(&(struct dp_lms_target){.host = "http://x"}, &(struct dp_lms_req){.cmd = DP_LMS_PS}, "host");
	expect_invalid(&(struct dp_lms_target){.host = "x:1234"}, &(struct dp_lms_req){.cmd = DP_LMS_PS}, "host");
	expect_invalid(&(struct dp_lms_target){.host = "--all"}, &(struct dp_lms_req){.cmd = DP_LMS_PS}, "host");
	expect_invalid(&(struct dp_lms_target){.host = "a b"}, &(struct dp_lms_req){.cmd = DP_LMS_PS}, "host");
	expect_invalid(&(struct dp_lms_target){.port = 70000}, &(struct dp_lms_req){.cmd = DP_LMS_PS}, "port");
	expect_invalid(NULL, &(struct dp_lms_req){.cmd = DP_LMS_LOAD}, "model");
	expect_invalid(NULL, &(struct dp_lms_req){.cmd = DP_LMS_LOAD, .model = "--all"}, "model");
	expect_invalid(NULL, &(struct dp_lms_req){.cmd = DP_LMS_LOAD, .model = "a\nb"}, "model");
	expect_invalid(NULL, &(struct dp_lms_req){.cmd = DP_LMS_UNLOAD, .model = "-a"}, "identifier");
	expect_invalid(NULL, &(struct dp_lms_req){.cmd = DP_LMS_LOAD, .model = "m", .gpu = "1.5"}, "gpu");
	expect_invalid(NULL, &(struct dp_lms_req){.cmd = DP_LMS_LOAD, .model = "m", .gpu = "1e0"}, "gpu");
	expect_invalid(NULL, &(struct dp_lms_req){.cmd = DP_LMS_LOAD, .model = "m", .gpu = "nan"}, "gpu");
	expect_invalid(NULL, &(struct dp_lms_req){.cmd = DP_LMS_LOAD, .model = "m", .context_length = -4}, "context");
	expect_invalid(NULL, &(struct dp_lms_req){.cmd = DP_LMS_LOAD, .model = "m", .identifier = "-x"}, "identifier");
	expect_invalid(NULL, &(struct dp_lms_req){.cmd = DP_LMS_LOG_STREAM, .source = "all"}, "source");
	expect_invalid(NULL, &(struct dp_lms_req){.cmd = DP_LMS_LOG_STREAM}, "source");
	expect_invalid(NULL, &(struct dp_lms_req){.cmd = DP_LMS_LOG_STREAM, .source = "server", .filter = "input"},
	               "filter");
	expect_invalid(NULL, &(struct dp_lms_req){.cmd = DP_LMS_LOG_STREAM, .source = "model", .filter = "both"},
	               "filter");
	expect_invalid(NULL, &(struct dp_lms_req){.cmd = DP_LMS_SERVER_START, .bind = "-0"}, "bind");
	expect_invalid(NULL, &(struct dp_lms_req){.cmd = (enum dp_lms_cmd)99}, "unknown");

	assert_true(dp_lms_valid_host("gpu-box.lan"));
	assert_true(dp_lms_valid_host("10.0.0.7"));
	assert_false(dp_lms_valid_host("http://h"));
	assert_false(dp_lms_valid_host("h:1234"));
	assert_false(dp_lms_valid_host("h/x"));
	assert_false(dp_lms_valid_host("-h"));
	assert_false(dp_lms_valid_host(""));
	assert_false(dp_lms_valid_host(NULL));
}

/* ---- pure: estimate -------------------------------------------------------------- */

static void test_estimate_fail_low(void **state)
{
	struct dp_lms_estimate e;
	assert_int_equal(dp_lms_parse_estimate(est_fail_low, strlen(est_fail_low), &e), 0);
	assert_string_equal(e.model, "lmstudio-community/Qwen3-30B-A3B-GGUF/Qwen3-30B-A3B-Q4_K_M.gguf");
	assert_int_equal(e.context_length, 32768);
	assert_true(e.gpu_offload_pct > 99.9 && e.gpu_offload_pct < 100.1);
	assert_int_equal(e.gpu_bytes, (uint64_t)(27.41 * 1073741824.0 + 0.5));
	assert_int_equal(e.total_bytes, (uint64_t)(27.93 * 1073741824.0 + 0.5));
	assert_int_equal(e.confidence_low, 1);
	assert_int_equal(e.fits, 0);
	json_t *j = dp_lms_estimate_json(&e);
	assert_string_equal(json_string_value(json_object_get(j, "confidence")), "low");
	assert_true(json_is_false(json_object_get(j, "fits")));
	assert_int_equal(json_integer_value(json_object_get(j, "context_length")), 32768);
	json_decref(j);
}

static void test_estimate_ok_old_units_colours(void **state)
{
	struct dp_lms_estimate e;
	assert_int_equal(dp_lms_parse_estimate(est_ok_old, strlen(est_ok_old), &e), 0);
	assert_string_equal(e.model, "google/gemma-3-4b");
	assert_int_equal(e.context_length, -1);
	assert_true(e.gpu_offload_pct < 0);
	assert_int_equal(e.gpu_bytes, 3500000000ull);
	assert_int_equal(e.total_bytes, 4200000000ull);
	assert_int_equal(e.confidence_low, 0);
	assert_int_equal(e.fits, 1);
	json_t *j = dp_lms_estimate_json(&e);
	assert_string_equal(json_string_value(json_object_get(j, "confidence")), "high");
	assert_true(json_is_true(json_object_get(j, "fits")));
	assert_true(json_is_null(json_object_get(j, "context_length")));
	json_decref(j);

	/* Bare lines (no logger prefix), CRLF, fractional offload, zero size. */
	const char *bare = "Model: m\r\nGPU Offload: 33.33333333333333%\r\nEstimated GPU Memory:   0 GiB\r\n"
	                   "Estimated Total Memory: 512 Bytes\r\nConfidence: low\r\n\r\n"
	                   "Estimate: This model may be loaded based on your resource guardrails settings.";
	assert_int_equal(dp_lms_parse_estimate(bare, strlen(bare), &e), 0);
	assert_int_equal(e.gpu_bytes, 0);
	assert_int_equal(e.total_bytes, 512);
	assert_true(e.gpu_offload_pct > 33.3 && e.gpu_offload_pct < 33.4);
	assert_int_equal(e.confidence_low, 1);
	assert_int_equal(e.fits, 1);
}

static void test_estimate_rejects(void **state)
{
	struct dp_lms_estimate e;
	const char *no_verdict = "I  Estimated GPU Memory:   1.00 GiB\nI  Estimated Total Memory: 2.00 GiB\n";
	assert_int_equal(dp_lms_parse_estimate(no_verdict, strlen(no_verdict), &e), -EINVAL);
	const char *bad_size =
	        "Estimated GPU Memory:   lots\nEstimated Total Memory: 2.00 GiB\nEstimate: This model may be loaded\n";
	assert_int_equal(dp_lms_parse_estimate(bad_size, strlen(bad_size), &e), -EINVAL);
	const char *bad_verdict = "Estimated GPU Memory:   1 GiB\nEstimated Total Memory: 2 GiB\nEstimate: maybe\n";
	assert_int_equal(dp_lms_parse_estimate(bad_verdict, strlen(bad_verdict), &e), -EINVAL);
	assert_int_equal(dp_lms_parse_estimate("", 0, &e), -EINVAL);
	const char *err = "E  Error: connect ECONNREFUSED 127.0.0.1:1234\n";
	assert_int_equal(dp_lms_parse_estimate(err, strlen(err), &e), -EINVAL);
	/* A NUL inside the text ends nothing badly. */
	const char nul[] = "Estimated GPU Memory:   1 GiB\n\0\nEstimated Total Memory: 2 GiB\nEstimate: This model "
	                   "will fail to load\n";
	assert_int_equal(dp_lms_parse_estimate(nul, sizeof nul - 1, &e), 0);
	assert_int_equal(e.fits, 0);
}

static void test_parse_size(void **state)
{
	uint64_t v;
	assert_int_equal(dp_lms_parse_size("1.50 GiB", 8, &v), 0);
	assert_int_equal(v, 1610612736ull);
	assert_int_equal(dp_lms_parse_size("512 Bytes", 9, &v), 0);
	assert_int_equal(v, 512);
	assert_int_equal(dp_lms_parse_size(" 3.5 GB ", 8, &v), 0);
	assert_int_equal(v, 3500000000ull);
	assert_int_equal(dp_lms_parse_size("2.00 TiB", 8, &v), 0);
	assert_int_equal(v, 2199023255552ull);
	assert_int_equal(dp_lms_parse_size("10 KiB", 6, &v), 0);
	assert_int_equal(v, 10240);
	assert_int_equal(dp_lms_parse_size("12 XB", 5, &v), -EINVAL);
	assert_int_equal(dp_lms_parse_size("-1 GB", 5, &v), -EINVAL);
	assert_int_equal(dp_lms_parse_size("1.2.3 GB", 8, &v), -EINVAL);
	assert_int_equal(dp_lms_parse_size("GB", 2, &v), -EINVAL);
	assert_int_equal(dp_lms_parse_size("1 GiB extra", 11, &v), -EINVAL);
	assert_int_equal(dp_lms_parse_size("99999999999 PiB", 15, &v), -EINVAL);
}

/* ---- pure: JSON ------------------------------------------------------------------- */

static void test_parse_ps(void **state)
{
	char err[256];
	json_t *a = dp_lms_parse_ps(ps_capture, strlen(ps_capture), err, sizeof err);
	assert_non_null(a);
	assert_int_equal(json_array_size(a), 1);
	json_t *m = json_array_get(a, 0);
	assert_string_equal(json_string_value(json_object_get(m, "identifier")), "ornith-1.0-35b-mlx-oq8");
	assert_string_equal(json_string_value(json_object_get(m, "model_key")), "ornith-1.0-35b-mlx-oq8");
	assert_string_equal(json_string_value(json_object_get(m, "type")), "llm");
	assert_string_equal(json_string_value(json_object_get(m, "format")), "safetensors");
	assert_string_equal(json_string_value(json_object_get(m, "status")), "idle");
	assert_int_equal(json_integer_value(json_object_get(m, "size_bytes")), 37726897291ll);
	assert_int_equal(json_integer_value(json_object_get(m, "context_length")), 65536);
	assert_int_equal(json_integer_value(json_object_get(m, "max_context_length")), 262144);
	assert_int_equal(json_integer_value(json_object_get(m, "last_used_ms")), 1786252670392ll);
	assert_int_equal(json_integer_value(json_object_get(m, "queued")), 0);
	assert_int_equal(json_integer_value(json_object_get(m, "parallel")), 2);
	assert_true(json_is_null(json_object_get(m, "ttl_ms")));
	assert_true(json_is_null(json_object_get(m, "device_identifier")));
	assert_true(json_is_true(json_object_get(m, "vision")));
	assert_int_equal(json_integer_value(json_object_get(json_object_get(m, "quantization"), "bits")), 8);
	json_decref(a);

	/* Upper-case / older status spellings, missing fields, junk entries. */
	const char *odd =
	        "[{\"identifier\":\"a\",\"status\":\"PROCESSING_PROMPT\",\"queued\":3.0,\"parallel\":null},"
	        "{\"identifier\":\"b\",\"status\":\"Generating\"},{\"identifier\":\"c\",\"status\":\"weird state\"},"
	        "42, {\"nothing\":true}, {\"modelKey\":\"d\",\"sizeBytes\":\"big\"}]";
	a = dp_lms_parse_ps(odd, strlen(odd), err, sizeof err);
	assert_non_null(a);
	assert_int_equal(json_array_size(a), 4);
	assert_string_equal(json_string_value(json_object_get(json_array_get(a, 0), "status")), "processingPrompt");
	assert_int_equal(json_integer_value(json_object_get(json_array_get(a, 0), "queued")), 3);
	assert_true(json_is_null(json_object_get(json_array_get(a, 0), "parallel")));
	assert_string_equal(json_string_value(json_object_get(json_array_get(a, 1), "status")), "generating");
	assert_string_equal(json_string_value(json_object_get(json_array_get(a, 2), "status")), "weirdState");
	assert_true(json_is_null(json_object_get(json_array_get(a, 3), "size_bytes")));
	json_decref(a);

	a = dp_lms_parse_ps("[]", 2, err, sizeof err);
	assert_int_equal(json_array_size(a), 0);
	json_decref(a);
	assert_null(dp_lms_parse_ps("{}", 2, err, sizeof err));
	assert_non_null(strstr(err, "array"));
	assert_null(dp_lms_parse_ps("[{", 2, err, sizeof err));
	assert_non_null(strstr(err, "invalid JSON"));
	assert_null(dp_lms_parse_ps("", 0, err, sizeof err));
}

static void test_parse_ls(void **state)
{
	char err[256];
	const char *ls =
	        "[{\"type\":\"embedding\",\"modelKey\":\"text-embedding-nomic\",\"format\":\"gguf\",\"displayName\":"
	        "\"Nomic\","
	        "\"publisher\":\"nomic-ai\",\"path\":\"nomic-ai/nomic.gguf\",\"sizeBytes\":84106624,"
	        "\"indexedModelIdentifier\":\"nomic-ai/"
	        "nomic.gguf\",\"deviceIdentifier\":null,\"maxContextLength\":2048},"
	        "{\"type\":\"llm\",\"modelKey\":\"qwen3-8b\",\"format\":\"gguf\",\"sizeBytes\":5027784704,"
	        "\"quantization\":{\"name\":\"Q4_K_M\",\"bits\":4},\"vision\":false,\"trainedForToolUse\":true,"
	        "\"selectedVariant\":\"qwen3-8b@q4_k_m\",\"paramsString\":\"8B\"}]";
	json_t *a = dp_lms_parse_ls(ls, strlen(ls), err, sizeof err);
	assert_non_null(a);
	assert_int_equal(json_array_size(a), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(a, 0), "type")), "embedding");
	assert_int_equal(json_integer_value(json_object_get(json_array_get(a, 0), "size_bytes")), 84106624);
	json_t *q = json_array_get(a, 1);
	assert_string_equal(json_string_value(json_object_get(q, "params")), "8B");
	assert_string_equal(json_string_value(json_object_get(q, "selected_variant")), "qwen3-8b@q4_k_m");
	assert_string_equal(json_string_value(json_object_get(json_object_get(q, "quantization"), "name")), "Q4_K_M");
	assert_true(json_is_true(json_object_get(q, "trained_for_tool_use")));
	json_decref(a);
}

static void test_parse_survey_both_casings(void **state)
{
	char err[256];
	json_t *n = dp_lms_parse_survey(survey_new, strlen(survey_new), err, sizeof err);
	json_t *o = dp_lms_parse_survey(survey_old, strlen(survey_old), err, sizeof err);
	assert_non_null(n);
	assert_non_null(o);
	assert_true(json_equal(n, o));
	assert_string_equal(json_string_value(json_object_get(o, "status")), "ok");
	assert_string_equal(json_string_value(json_object_get(o, "primary_engine")),
	                    "llama.cpp-linux-x86_64-nvidia-cuda12-avx2");
	json_t *gpus = json_object_get(o, "gpus");
	assert_int_equal(json_array_size(gpus), 2);
	json_t *g0 = json_array_get(gpus, 0), *g1 = json_array_get(gpus, 1);
	assert_string_equal(json_string_value(json_object_get(g0, "name")), "NVIDIA GeForce RTX 4090");
	assert_string_equal(json_string_value(json_object_get(g0, "integration")), "discrete");
	assert_string_equal(json_string_value(json_object_get(g0, "platform")), "CUDA");
	assert_int_equal(json_integer_value(json_object_get(g0, "vram_bytes")), 25757220864ll);
	/* dedicated 0 -> VRAM is the total, as lms's text mode shows it */
	assert_string_equal(json_string_value(json_object_get(g1, "integration")), "integrated");
	assert_int_equal(json_integer_value(json_object_get(g1, "vram_bytes")), 1073741824ll);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(o, "memory"), "ram_bytes")), 68719476736ll);
	json_t *e1 = json_array_get(json_object_get(o, "engines"), 1);
	assert_string_equal(json_string_value(json_object_get(json_object_get(e1, "compatibility"), "status")),
	                    "incompatiblePlatform");
	assert_string_equal(json_string_value(json_object_get(json_object_get(e1, "gpu_result"), "code")), "unset");
	json_t *e0 = json_array_get(json_object_get(o, "engines"), 0);
	json_t *cpu = json_object_get(e0, "cpu");
	assert_string_equal(json_string_value(json_object_get(cpu, "architecture")), "x86_64");
	assert_string_equal(json_string_value(json_array_get(json_object_get(cpu, "extensions"), 1)), "AVX2");
	json_decref(n);
	json_decref(o);

	/* Status only; unknown shapes. */
	const char *ncb = "{\"status\":\"NoCompatibleBackends\",\"engines\":[]}";
	o = dp_lms_parse_survey(ncb, strlen(ncb), err, sizeof err);
	assert_non_null(o);
	assert_string_equal(json_string_value(json_object_get(o, "status")), "noCompatibleBackends");
	assert_int_equal(json_array_size(json_object_get(o, "gpus")), 0);
	assert_true(json_is_null(json_object_get(o, "primary_engine")));
	json_decref(o);
	assert_null(dp_lms_parse_survey("[]", 2, err, sizeof err));
	assert_null(dp_lms_parse_survey("{\"engines\":[]}", 14, err, sizeof err));
}

static void test_survey_enum(void **state)
{
	char buf[80];
	assert_string_equal(dp_lms_survey_enum("compatibility", "Incompatible app version", buf, sizeof buf),
	                    "incompatibleAppVersion");
	assert_string_equal(dp_lms_survey_enum("compatibility", "CPU survey unsuccesful", buf, sizeof buf),
	                    "cpuSurveyUnsuccessful");
	assert_string_equal(dp_lms_survey_enum("compatibility", "GPU required but none found", buf, sizeof buf),
	                    "gpuRequiredButNoneFound");
	assert_string_equal(dp_lms_survey_enum("status", "OK", buf, sizeof buf), "ok");
	assert_string_equal(dp_lms_survey_enum("result", "NoDevicesFound", buf, sizeof buf), "noDevicesFound");
	assert_string_equal(dp_lms_survey_enum("platform", "rocm", buf, sizeof buf), "ROCm");
	assert_string_equal(dp_lms_survey_enum("platform", "Shell", buf, sizeof buf), "shell");
	assert_string_equal(dp_lms_survey_enum("architecture", "arm64", buf, sizeof buf), "ARM64");
	assert_string_equal(dp_lms_survey_enum("architecture", "Unknown", buf, sizeof buf), "unknown");
	assert_string_equal(dp_lms_survey_enum("extension", "advsimd", buf, sizeof buf), "AdvSIMD");
	assert_string_equal(dp_lms_survey_enum("compatibility", "Brand new state!", buf, sizeof buf), "brandNewState");
	assert_string_equal(dp_lms_survey_enum("status", "", buf, sizeof buf), "unknown");
}

static void test_parse_status(void **state)
{
	char err[256];
	json_t *j = dp_lms_parse_status(DP_LMS_SERVER_STATUS, "{\"running\":true,\"port\":1234}", 28, err, sizeof err);
	assert_non_null(j);
	assert_true(json_is_true(json_object_get(j, "running")));
	assert_int_equal(json_integer_value(json_object_get(j, "port")), 1234);
	json_decref(j);
	j = dp_lms_parse_status(DP_LMS_SERVER_STATUS, "{\"running\":false}", 17, err, sizeof err);
	assert_true(json_is_false(json_object_get(j, "running")));
	assert_true(json_is_null(json_object_get(j, "port")));
	json_decref(j);
	const char *up = "{\"status\":\"running\",\"pid\":26754,\"isDaemon\":true,\"version\":\"0.4.4+1\"}";
	j = dp_lms_parse_status(DP_LMS_DAEMON_UP, up, strlen(up), err, sizeof err);
	assert_int_equal(json_integer_value(json_object_get(j, "pid")), 26754);
	assert_true(json_is_true(json_object_get(j, "is_daemon")));
	assert_string_equal(json_string_value(json_object_get(j, "version")), "0.4.4+1");
	json_decref(j);
	j = dp_lms_parse_status(DP_LMS_DAEMON_STATUS, "{\"status\":\"not-running\"}", 24, err, sizeof err);
	assert_string_equal(json_string_value(json_object_get(j, "status")), "not-running");
	json_decref(j);
	j = dp_lms_parse_status(DP_LMS_VERSION, "{\"version\":\"07b7252\"}", 21, err, sizeof err);
	assert_string_equal(json_string_value(json_object_get(j, "version")), "07b7252");
	json_decref(j);
	assert_null(dp_lms_parse_status(DP_LMS_SERVER_STATUS, "{\"port\":1}", 10, err, sizeof err));
	assert_null(dp_lms_parse_status(DP_LMS_SERVER_STATUS, "Server is running", 17, err, sizeof err));
	assert_null(dp_lms_parse_status(DP_LMS_PS, "{}", 2, err, sizeof err));
}

static void test_error_message(void **state)
{
	char out[64];
	const char *e = "\x1b[91mE\x1b[39m  Error: Cannot find a model\n\n   with the identifier \"x\".\r\n";
	dp_lms_error_message(e, strlen(e), out, sizeof out);
	assert_string_equal(out, "E Error: Cannot find a model with the identifier \"x\".");
	char small[12];
	dp_lms_error_message("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", 12, small, sizeof small);
	assert_int_equal(strlen(small) % 2, 0); /* never half a UTF-8 character */
	dp_lms_error_message("", 0, out, sizeof out);
	assert_string_equal(out, "");
}

/* ---- runtime ---------------------------------------------------------------------- */

struct ctx {
	struct event_base *base;
	struct dp_lms *l;
	int calls, expect;
	int counts[16];
	char last_msg[600];
	char last_code[32];
	json_t *last_json;
	int last_exit;
	int est_fits;
	int inside_call; /* set while dp_lms_call runs: callbacks must not */
	int max_running;
	const char *watch_key;
	/* streams */
	int lines;
	char first_line[256];
	uint64_t skipped, exit_lines;
};

static void on_result(const struct dp_lms_result *r, void *arg)
{
	struct ctx *c = arg;
	assert_int_equal(c->inside_call, 0);
	c->calls++;
	c->counts[r->status]++;
	snprintf(c->last_msg, sizeof c->last_msg, "%s", r->message);
	snprintf(c->last_code, sizeof c->last_code, "%s", r->code);
	c->last_exit = r->exit_code;
	json_decref(c->last_json);
	c->last_json = r->json ? json_incref(r->json) : NULL;
	if (r->estimate)
		c->est_fits = r->estimate->fits;
	if (c->watch_key) {
		int run, q;
		dp_lms_load_of(c->l, c->watch_key, &run, &q);
		if (run > c->max_running)
			c->max_running = run;
	}
	if (c->calls >= c->expect)
		event_base_loopbreak(c->base);
}

static void watchdog(evutil_socket_t fd, short what, void *arg)
{
	event_base_loopbreak(arg);
	fail_msg("watchdog: test did not finish in time");
}

static void run_loop(struct ctx *c, int seconds)
{
	struct event *wd = evtimer_new(c->base, watchdog, c->base);
	struct timeval tv = {seconds, 0};
	evtimer_add(wd, &tv);
	event_base_dispatch(c->base);
	event_free(wd);
}

static char self_path[PATH_MAX];

static struct dp_lms *fake_bridge(struct ctx *c, int per_target, int queue_max)
{
	struct dp_lms_config cfg;
	dp_lms_config_defaults(&cfg);
	cfg.bin = self_path;
	cfg.per_target = per_target;
	cfg.queue_max = queue_max;
	cfg.max_stdout = 64 * 1024;
	cfg.max_line = 256;
	cfg.kill_grace_ms = 500;
	setenv("DP_FAKE_LMS", "1", 1);
	c->base = event_base_new();
	c->l = dp_lms_new(c->base, &cfg);
	assert_true(dp_lms_available(c->l, NULL));
	assert_string_equal(dp_lms_bin(c->l), self_path);
	return c->l;
}

static void done_bridge(struct ctx *c)
{
	dp_lms_free(c->l);
	event_base_free(c->base);
	json_decref(c->last_json);
	unsetenv("DP_FAKE_LMS");
	unsetenv("DP_FAKE_SLEEP_MS");
	unsetenv("DP_FAKE_BIG");
	unsetenv("DP_FAKE_EXIT");
	int st;
	assert_int_equal(waitpid(-1, &st, WNOHANG), -1); /* no zombies */
}

static struct dp_lms_call *call(struct ctx *c, const struct dp_lms_target *t, const struct dp_lms_req *r)
{
	c->inside_call = 1;
	struct dp_lms_call *h = dp_lms_call(c->l, t, r, on_result, c);
	c->inside_call = 0;
	return h;
}

static void test_unavailable(void **state)
{
	struct ctx c = {0};
	struct dp_lms_config cfg;
	dp_lms_config_defaults(&cfg);
	cfg.bin = "/nonexistent/lms";
	c.base = event_base_new();
	c.l = dp_lms_new(c.base, &cfg);
	const char *reason;
	assert_false(dp_lms_available(c.l, &reason));
	assert_string_equal(reason, "LMS_BIN '/nonexistent/lms' not found");
	assert_string_equal(dp_lms_bin(c.l), "");
	c.expect = 2;
	call(&c, NULL, &(struct dp_lms_req){.cmd = DP_LMS_PS});
	call(&c, &(struct dp_lms_target){.host = "h"}, &(struct dp_lms_req){.cmd = DP_LMS_RUNTIME_SURVEY});
	assert_int_equal(c.calls, 0); /* never from inside dp_lms_call */
	run_loop(&c, 5);
	assert_int_equal(c.counts[DP_LMS_UNAVAILABLE], 2);
	assert_string_equal(c.last_code, "unavailable");
	assert_string_equal(c.last_msg, "LMS_BIN '/nonexistent/lms' not found");
	char err[128];
	struct dp_lms_stream *s = (struct dp_lms_stream *)&c;
	assert_int_equal(dp_lms_stream_start(c.l, NULL,
	                                     &(struct dp_lms_req){.cmd = DP_LMS_LOG_STREAM, .source = "server"}, NULL,
	                                     NULL, NULL, &s, err, sizeof err),
	                 -ENOENT);
	assert_null(s);
	assert_string_equal(err, "LMS_BIN '/nonexistent/lms' not found");
	dp_lms_free(c.l);

	/* Default: "lms" on PATH. */
	char *old_path = getenv("PATH") ? strdup(getenv("PATH")) : NULL;
	char *old_bin = getenv("LMS_BIN") ? strdup(getenv("LMS_BIN")) : NULL;
	setenv("PATH", "/nonexistent-dir", 1);
	unsetenv("LMS_BIN");
	c.l = dp_lms_new(c.base, NULL);
	assert_false(dp_lms_available(c.l, &reason));
	assert_string_equal(reason, "lms not found on PATH (set LMS_BIN)");
	dp_lms_free(c.l);
	/* LMS_BIN from the environment when the config has none. */
	setenv("LMS_BIN", "/etc/passwd", 1);
	c.l = dp_lms_new(c.base, NULL);
	assert_false(dp_lms_available(c.l, &reason));
	assert_string_equal(reason, "LMS_BIN '/etc/passwd' is not executable");
	dp_lms_free(c.l);
	if (old_path)
		setenv("PATH", old_path, 1);
	if (old_bin)
		setenv("LMS_BIN", old_bin, 1);
	else
		unsetenv("LMS_BIN");
	free(old_path);
	free(old_bin);
	event_base_free(c.base);
	json_decref(c.last_json);
}

static void test_runtime_results(void **state)
{
	struct ctx c = {0};
	fake_bridge(&c, 2, 16);

	c.expect = 1;
	call(&c, NULL, &(struct dp_lms_req){.cmd = DP_LMS_PS});
	run_loop(&c, 10);
	assert_string_equal(c.last_code, "ok");
	assert_int_equal(c.last_exit, 0);
	assert_int_equal(json_array_size(c.last_json), 1);

	c.expect = 2;
	call(&c, NULL, &(struct dp_lms_req){.cmd = DP_LMS_RUNTIME_SURVEY});
	run_loop(&c, 10);
	assert_string_equal(c.last_code, "ok");
	assert_string_equal(json_string_value(json_object_get(c.last_json, "status")), "ok");

	c.expect = 3;
	c.est_fits = -5;
	call(&c, NULL, &(struct dp_lms_req){.cmd = DP_LMS_ESTIMATE, .model = "qwen3"});
	run_loop(&c, 10);
	assert_string_equal(c.last_code, "ok");
	assert_int_equal(c.est_fits, 0);
	assert_string_equal(json_string_value(json_object_get(c.last_json, "confidence")), "low");

	c.expect = 4;
	call(&c, NULL, &(struct dp_lms_req){.cmd = DP_LMS_UNLOAD, .model = "nope"});
	run_loop(&c, 10);
	assert_string_equal(c.last_code, "failed");
	assert_int_equal(c.last_exit, 1);
	assert_string_equal(c.last_msg,
	                    "lms unload failed (exit 1): E Error: Cannot find a model with the identifier \"nope\".");

	c.expect = 5;
	call(&c, NULL, &(struct dp_lms_req){.cmd = DP_LMS_LS});
	run_loop(&c, 10);
	assert_string_equal(c.last_code, "bad_output");
	assert_non_null(strstr(c.last_msg, "lms ls: invalid JSON"));
	assert_null(c.last_json);

	c.expect = 6;
	setenv("DP_FAKE_BIG", "1", 1);
	call(&c, NULL, &(struct dp_lms_req){.cmd = DP_LMS_LS});
	run_loop(&c, 10);
	unsetenv("DP_FAKE_BIG");
	assert_string_equal(c.last_code, "output_too_large");
	assert_string_equal(c.last_msg, "lms ls: stdout larger than 65536 bytes");

	c.expect = 7;
	call(&c, NULL, &(struct dp_lms_req){.cmd = DP_LMS_VERSION});
	run_loop(&c, 10);
	assert_string_equal(c.last_code, "ok");
	assert_string_equal(json_string_value(json_object_get(c.last_json, "version")), "fc=0");

	/* A grandchild holding stdout open does not hold the call open. */
	c.expect = 8;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	call(&c, NULL, &(struct dp_lms_req){.cmd = DP_LMS_DAEMON_UP});
	run_loop(&c, 10);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_string_equal(c.last_code, "ok");
	assert_int_equal(json_integer_value(json_object_get(c.last_json, "pid")), 4242);
	assert_true(t1.tv_sec - t0.tv_sec < 2);

	c.expect = 9;
	setenv("DP_FAKE_SLEEP_MS", "5000", 1);
	call(&c, NULL, &(struct dp_lms_req){.cmd = DP_LMS_PS, .timeout_ms = 150});
	run_loop(&c, 10);
	unsetenv("DP_FAKE_SLEEP_MS");
	assert_string_equal(c.last_code, "timeout");
	assert_string_equal(c.last_msg, "lms ps timed out after 150 ms");

	c.expect = 10; /* invalid requests complete asynchronously too */
	call(&c, &(struct dp_lms_target){.host = "far.away"}, &(struct dp_lms_req){.cmd = DP_LMS_SERVER_STOP});
	assert_int_equal(c.calls, 9);
	run_loop(&c, 10);
	assert_string_equal(c.last_code, "invalid");
	assert_non_null(strstr(c.last_msg, "local machine only"));

	c.expect = 11;
	call(&c, NULL, &(struct dp_lms_req){.cmd = DP_LMS_LOG_STREAM, .source = "server"});
	run_loop(&c, 10);
	assert_string_equal(c.last_code, "invalid");
	done_bridge(&c);
}

static void test_runtime_concurrency_queue_busy_cancel(void **state)
{
	struct ctx c = {0};
	fake_bridge(&c, 2, 3);
	setenv("DP_FAKE_SLEEP_MS", "300", 1);
	struct dp_lms_target a = {.key = "A"}, b = {.key = "B"};
	struct dp_lms_req ps = {.cmd = DP_LMS_PS};
	c.watch_key = "A";
	/* A: 2 run, 3 wait, the 6th is busy; B runs beside them. */
	for (int i = 0; i < 6; i++)
		call(&c, &a, &ps);
	int run, q;
	dp_lms_load_of(c.l, "A", &run, &q);
	assert_int_equal(run, 2);
	assert_int_equal(q, 3);
	struct dp_lms_call *b1 = call(&c, &b, &ps);
	call(&c, &b, &ps);
	dp_lms_load_of(c.l, "B", &run, &q);
	assert_int_equal(run, 2);
	assert_int_equal(q, 0);
	/* Cancel a running call: no callback, its slot is held until reaped. */
	dp_lms_cancel(b1);
	c.expect = 6 + 1; /* A: 5 ok + 1 busy; B: 1 ok (one cancelled) */
	run_loop(&c, 20);
	assert_int_equal(c.counts[DP_LMS_BUSY], 1);
	assert_int_equal(c.counts[DP_LMS_OK], 6);
	assert_true(c.max_running <= 2);
	/* Let the cancelled child be reaped: buckets empty, no callback for it. */
	for (int i = 0; i < 100; i++) {
		dp_lms_load_of(c.l, "B", &run, &q);
		if (run == 0)
			break;
		event_base_loop(c.base, EVLOOP_ONCE);
	}
	assert_int_equal(run, 0);
	assert_int_equal(c.calls, 7);

	/* A queued call cancelled never calls back. */
	c.calls = 0;
	memset(c.counts, 0, sizeof c.counts);
	call(&c, &a, &ps);
	call(&c, &a, &ps);
	struct dp_lms_call *queued = call(&c, &a, &ps);
	dp_lms_load_of(c.l, "A", &run, &q);
	assert_int_equal(q, 1);
	dp_lms_cancel(queued);
	dp_lms_load_of(c.l, "A", &run, &q);
	assert_int_equal(q, 0);
	c.expect = 2;
	run_loop(&c, 20);
	assert_int_equal(c.counts[DP_LMS_OK], 2);

	/* Freeing the bridge with work in flight: everything completes as cancelled. */
	c.calls = 0;
	memset(c.counts, 0, sizeof c.counts);
	c.expect = 100;
	for (int i = 0; i < 4; i++)
		call(&c, &a, &ps);
	call(&c, &a, &(struct dp_lms_req){.cmd = DP_LMS_UNLOAD, .model = "-bad"}); /* deferred invalid */
	dp_lms_free(c.l);
	c.l = NULL;
	assert_int_equal(c.calls, 5);
	assert_int_equal(c.counts[DP_LMS_CANCELLED], 5);
	c.l = dp_lms_new(c.base, NULL); /* for done_bridge */
	done_bridge(&c);
}

struct sctx {
	struct event_base *base;
	int lines, exits;
	char first[256];
	char code[32], msg[600];
	uint64_t lines_total, skipped;
	int stop_at;
	struct dp_lms_stream *s;
};

static void s_line(const char *line, size_t len, void *arg)
{
	struct sctx *s = arg;
	if (s->lines++ == 0)
		snprintf(s->first, sizeof s->first, "%s", line);
	if (s->stop_at && s->lines == s->stop_at)
		dp_lms_stream_stop(s->s);
}

static void s_exit(const struct dp_lms_result *r, void *arg)
{
	struct sctx *s = arg;
	s->exits++;
	snprintf(s->code, sizeof s->code, "%s", r->code);
	snprintf(s->msg, sizeof s->msg, "%s", r->message);
	s->lines_total = r->lines;
	s->skipped = r->lines_skipped;
	event_base_loopbreak(s->base);
}

static void test_log_stream(void **state)
{
	struct ctx c = {0};
	fake_bridge(&c, 2, 16);
	struct sctx s = {.base = c.base, .stop_at = 2};
	char err[256];
	struct dp_lms_req r = {.cmd = DP_LMS_LOG_STREAM, .source = "server"};
	assert_int_equal(dp_lms_stream_start(c.l, NULL, &r, s_line, s_exit, &s, &s.s, err, sizeof err), 0);
	assert_int_equal(dp_lms_stream_count(c.l), 1);
	struct event *wd = evtimer_new(c.base, watchdog, c.base);
	struct timeval tv = {10, 0};
	evtimer_add(wd, &tv);
	event_base_dispatch(c.base);
	assert_int_equal(s.exits, 1);
	assert_int_equal(s.lines, 2);
	assert_string_equal(
	        s.first, "{\"timestamp\":1,\"data\":{\"type\":\"server.log\",\"content\":\"a\",\"level\":\"info\"}}");
	assert_int_equal(s.skipped, 1); /* the 600-byte line, over max_line 256 */
	assert_string_equal(s.code, "stopped");
	assert_int_equal(dp_lms_stream_count(c.l), 0);

	/* A stream whose child exits on its own reports it, with the code. */
	setenv("DP_FAKE_EXIT", "1", 1);
	struct sctx s2 = {.base = c.base};
	assert_int_equal(dp_lms_stream_start(c.l, NULL, &r, s_line, s_exit, &s2, &s2.s, err, sizeof err), 0);
	event_base_dispatch(c.base);
	assert_int_equal(s2.lines, 2);
	assert_string_equal(s2.code, "failed");
	assert_string_equal(s2.msg, "lms log stream exited with code 3: Streaming logs from LM Studio");

	/* Invalid request, and a cancelled stream never calls back. */
	unsetenv("DP_FAKE_EXIT");
	struct dp_lms_req bad = {.cmd = DP_LMS_LOG_STREAM, .source = "everything"};
	assert_int_equal(dp_lms_stream_start(c.l, NULL, &bad, s_line, s_exit, &s2, NULL, err, sizeof err), -EINVAL);
	assert_non_null(strstr(err, "source"));
	struct sctx s3 = {.base = c.base};
	assert_int_equal(dp_lms_stream_start(c.l, NULL, &r, s_line, s_exit, &s3, &s3.s, err, sizeof err), 0);
	dp_lms_stream_cancel(s3.s);
	for (int i = 0; i < 200 && dp_lms_stream_count(c.l) > 0; i++)
		event_base_loop(c.base, EVLOOP_ONCE);
	assert_int_equal(dp_lms_stream_count(c.l), 0);
	assert_int_equal(s3.exits, 0);

	/* Freeing the bridge ends live streams with "cancelled". */
	struct sctx s4 = {.base = c.base};
	assert_int_equal(dp_lms_stream_start(c.l, NULL, &r, s_line, s_exit, &s4, &s4.s, err, sizeof err), 0);
	dp_lms_free(c.l);
	assert_int_equal(s4.exits, 1);
	assert_string_equal(s4.code, "cancelled");
	c.l = dp_lms_new(c.base, NULL);
	event_free(wd);
	done_bridge(&c);
}

int main(int argc, char **argv)
{
	if (getenv("DP_FAKE_LMS"))
		return fake_lms(argc, argv);
	ssize_t n = readlink("/proc/self/exe", self_path, sizeof self_path - 1);
	if (n <= 0)
		return 1;
	self_path[n] = '\0';
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_argv_every_command),
	        cmocka_unit_test(test_argv_validation),
	        cmocka_unit_test(test_estimate_fail_low),
	        cmocka_unit_test(test_estimate_ok_old_units_colours),
	        cmocka_unit_test(test_estimate_rejects),
	        cmocka_unit_test(test_parse_size),
	        cmocka_unit_test(test_parse_ps),
	        cmocka_unit_test(test_parse_ls),
	        cmocka_unit_test(test_parse_survey_both_casings),
	        cmocka_unit_test(test_survey_enum),
	        cmocka_unit_test(test_parse_status),
	        cmocka_unit_test(test_error_message),
	        cmocka_unit_test(test_unavailable),
	        cmocka_unit_test(test_runtime_results),
	        cmocka_unit_test(test_runtime_concurrency_queue_busy_cancel),
	        cmocka_unit_test(test_log_stream),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
