/*
 * test_logparse.c - src/logparse: every DiagnosticsLogEvent type of the
 * reference (§7.1) as the real `lms log stream --json` prints it, level
 * mapping, the Live preset's high-level flag, summaries, stats extraction,
 * payload redaction, and refusal of malformed, oversized and incomplete
 * lines (never a crash).
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

#include "logparse.h"

static int parse(const char *line, enum dp_logparse_source src, struct dp_logparse_event *ev)
{
	char err[256];
	int rc = dp_logparse_line(line, strlen(line), src, ev, err, sizeof(err));
	if (rc < 0)
		assert_true(err[0] != '\0');
	return rc;
}

static void test_server_log(void **st)
{
	(void)st;
	struct dp_logparse_event ev;
	assert_int_equal(parse("{\"timestamp\":1786252670392,\"data\":{\"type\":\"server.log\",\"content\":"
	                       "\"Returning 6 models from v1 API\",\"level\":\"info\"}}",
	                       DP_LOGPARSE_SERVER, &ev),
	                 0);
	assert_int_equal(ev.source, DP_LOGPARSE_SERVER);
	assert_int_equal(ev.level, DP_LOGPARSE_INFO);
	assert_int_equal(ev.ts_ms, 1786252670392LL);
	assert_string_equal(ev.type, "server.log");
	assert_string_equal(ev.summary, "Returning 6 models from v1 API");
	assert_string_equal(ev.summary_hidden, ev.summary);
	assert_false(ev.high);
	assert_false(ev.has_body);
	assert_false(ev.has_stats);
	assert_string_equal(ev.model, "");
	assert_string_equal(json_string_value(json_object_get(ev.payload, "content")),
	                    "Returning 6 models from v1 API");
	dp_logparse_event_release(&ev);

	/* a request body: debug, body cut when hidden */
	assert_int_equal(
	        parse("{\"timestamp\":1786252670392,\"data\":{\"type\":\"server.log\",\"content\":"
	              "\"Received request: POST to /v1/chat/completions with body {\\n  \\\"model\\\": \\\"q\\\",\\n"
	              "  \\\"messages\\\": [{\\\"role\\\":\\\"user\\\",\\\"content\\\":\\\"secret prompt\\\"}]}\","
	              "\"level\":\"debug\"}}",
	              DP_LOGPARSE_SERVER, &ev),
	        0);
	assert_int_equal(ev.level, DP_LOGPARSE_DEBUG);
	assert_true(ev.has_body);
	assert_non_null(strstr(ev.summary, "secret prompt"));
	assert_null(strchr(ev.summary, '\n')); /* one line */
	assert_null(strstr(ev.summary_hidden, "secret"));
	assert_string_equal(ev.summary_hidden,
	                    "Received request: POST to /v1/chat/completions with body {\xe2\x80\xa6}");
	json_t *r = dp_logparse_redact(ev.payload);
	assert_string_equal(json_string_value(json_object_get(r, "content")),
	                    "Received request: POST to /v1/chat/completions with body {\xe2\x80\xa6}");
	assert_string_equal(json_string_value(json_object_get(r, "level")), "debug");
	json_decref(r);
	dp_logparse_event_release(&ev);

	/* "[INFO][model] Generated prediction: {...}" */
	assert_int_equal(
	        parse("{\"timestamp\":1786252670392,\"data\":{\"type\":\"server.log\",\"content\":"
	              "\"[qwen/qwen3-8b] Generated prediction: {\\\"id\\\":\\\"chatcmpl-1\\\",\\\"choices\\\":[]}\","
	              "\"level\":\"info\"}}",
	              DP_LOGPARSE_SERVER, &ev),
	        0);
	assert_string_equal(ev.summary_hidden, "[qwen/qwen3-8b] Generated prediction: {\xe2\x80\xa6}");
	dp_logparse_event_release(&ev);

	/* high-level server messages */
	assert_int_equal(
	        parse("{\"timestamp\":1,\"data\":{\"type\":\"server.log\",\"content\":\"Server started on port "
	              "1234\",\"level\":\"info\"}}",
	              DP_LOGPARSE_SERVER, &ev),
	        0);
	assert_true(ev.high);
	assert_int_equal(ev.ts_ms, 0); /* absurd timestamp */
	dp_logparse_event_release(&ev);
	assert_int_equal(
	        parse("{\"data\":{\"type\":\"server.log\",\"content\":\"[JIT] Requested model (x) is not loaded. "
	              "Loading \\\"x\\\" now...\",\"level\":\"info\"}}",
	              DP_LOGPARSE_SERVER, &ev),
	        0);
	assert_true(ev.high);
	assert_int_equal(ev.ts_ms, 0); /* no timestamp */
	dp_logparse_event_release(&ev);
}

static void test_levels(void **st)
{
	(void)st;
	static const struct {
		const char *level;
		int want;
	} cases[] = {
	        {"debug", DP_LOGPARSE_DEBUG}, {"info", DP_LOGPARSE_INFO},    {"warn", DP_LOGPARSE_WARN},
	        {"error", DP_LOGPARSE_ERROR}, {"WARNING", DP_LOGPARSE_WARN}, {"Error", DP_LOGPARSE_ERROR},
	        {"fatal", DP_LOGPARSE_ERROR}, {"trace", DP_LOGPARSE_DEBUG},  {"verbose", DP_LOGPARSE_DEBUG},
	        {"bogus", DP_LOGPARSE_INFO},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char line[256];
		snprintf(line, sizeof(line),
		         "{\"timestamp\":1786252670392,\"data\":{\"type\":\"server.log\",\"content\":\"x\",\"level\":"
		         "\"%s\"}}",
		         cases[i].level);
		struct dp_logparse_event ev;
		assert_int_equal(parse(line, DP_LOGPARSE_SERVER, &ev), 0);
		assert_int_equal(ev.level, cases[i].want);
		assert_int_equal(ev.high, cases[i].want >= DP_LOGPARSE_WARN);
		dp_logparse_event_release(&ev);
	}
	/* level field missing or not a string: info, or the file-style prefix */
	struct dp_logparse_event ev;
	assert_int_equal(parse("{\"timestamp\":1786252670392,\"data\":{\"type\":\"server.log\",\"content\":\"x\"}}",
	                       DP_LOGPARSE_SERVER, &ev),
	                 0);
	assert_int_equal(ev.level, DP_LOGPARSE_INFO);
	dp_logparse_event_release(&ev);
	assert_int_equal(
	        parse("{\"timestamp\":1786252670392,\"data\":{\"type\":\"server.log\",\"content\":\"[2026-08-08 "
	              "22:40:13][ERROR] boom\",\"level\":7}}",
	              DP_LOGPARSE_SERVER, &ev),
	        0);
	assert_int_equal(ev.level, DP_LOGPARSE_ERROR);
	dp_logparse_event_release(&ev);

	assert_int_equal(dp_logparse_level_parse(NULL), -1);
	assert_int_equal(dp_logparse_level_parse(""), -1);
	assert_string_equal(dp_logparse_level_name(DP_LOGPARSE_WARN), "warn");
	assert_int_equal(dp_logparse_source_parse("model", 5), DP_LOGPARSE_MODEL);
	assert_int_equal(dp_logparse_source_parse("daemonpulse", 11), DP_LOGPARSE_DAEMONPULSE);
	assert_int_equal(dp_logparse_source_parse("models", 6), -1);
	assert_int_equal(dp_logparse_source_parse("mod", 3), -1);
	assert_string_equal(dp_logparse_source_name(DP_LOGPARSE_RUNTIME), "runtime");
}

static void test_runtime_log(void **st)
{
	(void)st;
	struct dp_logparse_event ev;
	assert_int_equal(
	        parse("{\"timestamp\":1786252670392,\"data\":{\"type\":\"runtime.log\",\"level\":\"info\",\"message\":"
	              "\"Loading model qwen/qwen3-8b (context length 8192, GPU offload 100%)\",\"engineName\":"
	              "\"llama.cpp-linux-x86_64-nvidia-cuda12-avx2\",\"engineVersion\":\"1.51.0\",\"engineType\":"
	              "\"llama.cpp\",\"modelIdentifier\":\"qwen/qwen3-8b\",\"pid\":4242}}",
	              DP_LOGPARSE_RUNTIME, &ev),
	        0);
	assert_int_equal(ev.source, DP_LOGPARSE_RUNTIME);
	assert_int_equal(ev.level, DP_LOGPARSE_INFO);
	assert_true(ev.high);
	assert_string_equal(ev.model, "qwen/qwen3-8b");
	assert_string_equal(ev.summary, "[llama.cpp 1.51.0] qwen/qwen3-8b: Loading model qwen/qwen3-8b (context length "
	                                "8192, GPU offload 100%)");
	assert_int_equal(json_integer_value(json_object_get(ev.payload, "pid")), 4242);
	dp_logparse_event_release(&ev);

	/* minimal runtime line: no engine, no model, warn */
	assert_int_equal(parse("{\"timestamp\":1786252670392,\"data\":{\"type\":\"runtime.log\",\"level\":\"warn\","
	                       "\"message\":\"low memory\"}}",
	                       DP_LOGPARSE_RUNTIME, &ev),
	                 0);
	assert_string_equal(ev.summary, "low memory");
	assert_true(ev.high);
	dp_logparse_event_release(&ev);

	/* message missing */
	assert_int_equal(parse("{\"timestamp\":1786252670392,\"data\":{\"type\":\"runtime.log\",\"level\":\"info\"}}",
	                       DP_LOGPARSE_RUNTIME, &ev),
	                 0);
	assert_string_equal(ev.summary, "");
	assert_false(ev.high);
	dp_logparse_event_release(&ev);
	assert_int_equal(parse("{\"timestamp\":1786252670392,\"data\":{\"type\":\"runtime.log\",\"level\":\"info\","
	                       "\"message\":\"Unloaded model (ttl)\",\"engineType\":\"mlx-llm\"}}",
	                       DP_LOGPARSE_RUNTIME, &ev),
	                 0);
	assert_true(ev.high);
	assert_string_equal(ev.summary, "[mlx-llm] Unloaded model (ttl)");
	dp_logparse_event_release(&ev);
}

static void test_prediction_input(void **st)
{
	(void)st;
	struct dp_logparse_event ev;
	assert_int_equal(parse("{\"timestamp\":1786252670392,\"data\":{\"type\":\"llm.prediction.input\",\"input\":"
	                       "\"<|im_start|>user\\nhello<|im_end|>\\n\",\"modelPath\":\"qwen/qwen3-8b/q.gguf\","
	                       "\"modelIdentifier\":\"qwen/qwen3-8b\"}}",
	                       DP_LOGPARSE_SERVER /* source comes from the type */, &ev),
	                 0);
	assert_int_equal(ev.source, DP_LOGPARSE_MODEL);
	assert_int_equal(ev.level, DP_LOGPARSE_INFO);
	assert_false(ev.high);
	assert_true(ev.has_body);
	assert_string_equal(ev.summary, "qwen/qwen3-8b: prompt (33 bytes)");
	assert_null(strstr(ev.summary, "hello"));
	json_t *r = dp_logparse_redact(ev.payload);
	assert_null(json_object_get(r, "input"));
	assert_string_equal(json_string_value(json_object_get(r, "modelPath")), "qwen/qwen3-8b/q.gguf");
	assert_non_null(json_object_get(ev.payload, "input")); /* the original is untouched */
	json_decref(r);
	dp_logparse_event_release(&ev);
}

static void test_prediction_output_stats(void **st)
{
	(void)st;
	struct dp_logparse_event ev;
	assert_int_equal(
	        parse("{\"timestamp\":1786252670392,\"data\":{\"type\":\"llm.prediction.output\",\"output\":\"Hi "
	              "there\","
	              "\"stats\":{\"stopReason\":\"eosFound\",\"tokensPerSecond\":45.21,\"numGpuLayers\":-1,"
	              "\"timeToFirstTokenSec\":0.123,\"totalTimeSec\":2.95,\"promptTokensCount\":35,"
	              "\"predictedTokensCount\":128,\"totalTokensCount\":163},\"modelIdentifier\":\"qwen/qwen3-8b\"}}",
	              DP_LOGPARSE_MODEL, &ev),
	        0);
	assert_int_equal(ev.source, DP_LOGPARSE_MODEL);
	assert_int_equal(ev.level, DP_LOGPARSE_INFO);
	assert_true(ev.has_stats);
	assert_true(ev.stats.tokens_per_second > 45.2 && ev.stats.tokens_per_second < 45.22);
	assert_true(ev.stats.ttft_sec > 0.122 && ev.stats.ttft_sec < 0.124);
	assert_true(ev.stats.total_time_sec > 2.94 && ev.stats.total_time_sec < 2.96);
	assert_int_equal(ev.stats.prompt_tokens, 35);
	assert_int_equal(ev.stats.predicted_tokens, 128);
	assert_int_equal(ev.stats.total_tokens, 163);
	assert_string_equal(ev.stats.stop_reason, "eosFound");
	assert_string_equal(ev.model, "qwen/qwen3-8b");
	assert_string_equal(ev.summary, "qwen/qwen3-8b: 128 tokens, 45.2 tok/s, TTFT 0.12 s (eosFound)");
	json_t *sj = dp_logparse_stats_json(&ev.stats);
	assert_int_equal(json_integer_value(json_object_get(sj, "predicted_tokens")), 128);
	assert_string_equal(json_string_value(json_object_get(sj, "stop_reason")), "eosFound");
	json_decref(sj);
	json_t *r = dp_logparse_redact(ev.payload);
	assert_null(json_object_get(r, "output"));
	assert_non_null(json_object_get(r, "stats"));
	json_decref(r);
	dp_logparse_event_release(&ev);

	/* partial stats: absent, negative, wrong type, huge -> absent */
	assert_int_equal(
	        parse("{\"timestamp\":1786252670392,\"data\":{\"type\":\"llm.prediction.output\",\"output\":\"x\","
	              "\"stats\":{\"stopReason\":\"userStopped\",\"tokensPerSecond\":\"fast\","
	              "\"timeToFirstTokenSec\":-1,\"promptTokensCount\":1e300,\"predictedTokensCount\":3},"
	              "\"modelIdentifier\":\"m\"}}",
	              DP_LOGPARSE_MODEL, &ev),
	        0);
	assert_true(ev.has_stats);
	assert_true(ev.stats.tokens_per_second < 0);
	assert_true(ev.stats.ttft_sec < 0);
	assert_true(ev.stats.total_time_sec < 0);
	assert_int_equal(ev.stats.prompt_tokens, -1);
	assert_int_equal(ev.stats.predicted_tokens, 3);
	assert_int_equal(ev.stats.total_tokens, -1);
	assert_string_equal(ev.summary, "m: 3 tokens (userStopped)");
	sj = dp_logparse_stats_json(&ev.stats);
	assert_true(json_is_null(json_object_get(sj, "tokens_per_second")));
	assert_true(json_is_null(json_object_get(sj, "prompt_tokens")));
	json_decref(sj);
	dp_logparse_event_release(&ev);

	/* no stats at all, no model */
	assert_int_equal(parse("{\"timestamp\":1786252670392,\"data\":{\"type\":\"llm.prediction.output\",\"output\":"
	                       "\"abc\"}}",
	                       DP_LOGPARSE_MODEL, &ev),
	                 0);
	assert_false(ev.has_stats);
	assert_string_equal(ev.summary, "output (3 bytes)");
	dp_logparse_event_release(&ev);

	/* stats not an object */
	assert_int_equal(
	        parse("{\"timestamp\":1786252670392,\"data\":{\"type\":\"llm.prediction.output\",\"stats\":[1],"
	              "\"modelIdentifier\":\"m\"}}",
	              DP_LOGPARSE_MODEL, &ev),
	        0);
	assert_false(ev.has_stats);
	dp_logparse_event_release(&ev);
}

static void test_unknown_type(void **st)
{
	(void)st;
	struct dp_logparse_event ev;
	assert_int_equal(
	        parse("{\"timestamp\":1786252670392,\"data\":{\"type\":\"llm.prediction.fragment\",\"message\":"
	              "\"new thing\",\"level\":\"error\"}}",
	              DP_LOGPARSE_RUNTIME, &ev),
	        0);
	assert_int_equal(ev.source, DP_LOGPARSE_RUNTIME);
	assert_int_equal(ev.level, DP_LOGPARSE_ERROR);
	assert_true(ev.high);
	assert_string_equal(ev.type, "llm.prediction.fragment");
	assert_string_equal(ev.summary, "llm.prediction.fragment: new thing");
	dp_logparse_event_release(&ev);
	/* a type with control characters is printable afterwards */
	assert_int_equal(parse("{\"data\":{\"type\":\"a\\u0001b\\u00e9\"}}", DP_LOGPARSE_MODEL, &ev), 0);
	assert_string_equal(ev.type, "a?b??");
	dp_logparse_event_release(&ev);
}

static void test_malformed(void **st)
{
	(void)st;
	static const char *const bad[] = {
	        "",
	        "not json",
	        "{",
	        "[]",
	        "42",
	        "null",
	        "{}",
	        "{\"timestamp\":1}",
	        "{\"data\":null}",
	        "{\"data\":\"server.log\"}",
	        "{\"data\":{}}",
	        "{\"data\":{\"type\":\"\"}}",
	        "{\"data\":{\"type\":5}}",
	        "{\"data\":{\"type\":\"server.log\"}} trailing",
	        "{\"data\":{\"type\":\"server.log\",\"type\":\"runtime.log\"}}", /* duplicate key */
	        "{\"data\":{\"type\":\"server.log\",\"content\":\"\xff\xfe\"}}", /* invalid UTF-8 */
	        "{\"data\":{\"type\":\"server.log\",\"content\":\"\\ud800\"}}",  /* lone surrogate */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct dp_logparse_event ev;
		int rc = parse(bad[i], DP_LOGPARSE_SERVER, &ev);
		if (rc != -EINVAL)
			fail_msg("line %zu (%s) gave %d", i, bad[i], rc);
		assert_null(ev.payload);
	}
	/* embedded NUL: refused */
	struct dp_logparse_event ev;
	const char nul[] = "{\"data\":{\"type\":\"server.log\"}}\0x";
	assert_int_equal(dp_logparse_line(nul, sizeof(nul) - 1, DP_LOGPARSE_SERVER, &ev, NULL, 0), -EINVAL);
	assert_int_equal(dp_logparse_line(NULL, 0, DP_LOGPARSE_SERVER, &ev, NULL, 0), -EINVAL);
	/* deep nesting: refused by jansson's depth limit or kept bounded */
	size_t depth = 5000;
	char *deep = malloc(depth * 2 + 64);
	size_t o = (size_t)snprintf(deep, 64, "{\"data\":{\"type\":\"server.log\",\"x\":");
	for (size_t i = 0; i < depth; i++)
		deep[o++] = '[';
	for (size_t i = 0; i < depth; i++)
		deep[o++] = ']';
	deep[o++] = '}';
	deep[o++] = '}';
	int rc = dp_logparse_line(deep, o, DP_LOGPARSE_SERVER, &ev, NULL, 0);
	assert_true(rc == -EINVAL || rc == 0);
	dp_logparse_event_release(&ev);
	free(deep);
}

static void test_oversized(void **st)
{
	(void)st;
	/* over the line limit: refused before parsing */
	size_t n = DP_LOGPARSE_MAX_LINE + 1;
	char *big = malloc(n + 1);
	memset(big, ' ', n);
	big[n] = '\0';
	struct dp_logparse_event ev;
	char err[128];
	assert_int_equal(dp_logparse_line(big, n, DP_LOGPARSE_SERVER, &ev, err, sizeof(err)), -E2BIG);
	assert_non_null(strstr(err, "limit"));
	free(big);

	/* under the limit, but a 200 KiB output: cut to 64 KiB, flagged */
	size_t olen = 200 * 1024;
	char *line = malloc(olen + 256);
	size_t o = (size_t)snprintf(line, 256,
	                            "{\"timestamp\":1786252670392,\"data\":{\"type\":\"llm.prediction.output\","
	                            "\"modelIdentifier\":\"m\",\"output\":\"");
	/* a multi-byte character straddling the cut point must stay whole */
	for (size_t i = 0; i < olen; i += 2) {
		line[o++] = '\xc3';
		line[o++] = '\xa9';
	}
	o += (size_t)snprintf(line + o, 64, "\"}}");
	assert_int_equal(dp_logparse_line(line, o, DP_LOGPARSE_MODEL, &ev, err, sizeof(err)), 0);
	assert_true(ev.truncated);
	const json_t *out = json_object_get(ev.payload, "output");
	assert_true(json_string_length(out) <= DP_LOGPARSE_MAX_STR);
	assert_true(json_string_length(out) > DP_LOGPARSE_MAX_STR - 8);
	const char *s = json_string_value(out);
	assert_memory_equal(s + json_string_length(out) - 3, "\xe2\x80\xa6", 3);
	assert_string_equal(ev.summary, "m: output (204800 bytes)");
	dp_logparse_event_release(&ev);
	free(line);

	/* a long server message: summary bounded, ends with an ellipsis */
	char msg[2048];
	o = (size_t)snprintf(msg, sizeof(msg), "{\"data\":{\"type\":\"server.log\",\"content\":\"");
	for (int i = 0; i < 1000; i++)
		msg[o++] = 'a' + (i % 26);
	o += (size_t)snprintf(msg + o, 16, "\"}}");
	assert_int_equal(dp_logparse_line(msg, o, DP_LOGPARSE_SERVER, &ev, NULL, 0), 0);
	assert_true(strlen(ev.summary) <= DP_LOGPARSE_SUMMARY_MAX);
	assert_memory_equal(ev.summary + strlen(ev.summary) - 3, "\xe2\x80\xa6", 3);
	assert_false(ev.truncated);
	dp_logparse_event_release(&ev);
}

static void test_sanitize_and_body(void **st)
{
	(void)st;
	char out[32];
	assert_int_equal(dp_logparse_sanitize("  a\t\tb\r\n c\x01 ", 13, out, sizeof(out)), 5);
	assert_string_equal(out, "a b c");
	dp_logparse_sanitize("x\xff\xfey", 4, out, sizeof(out));
	assert_string_equal(out, "x y");
	dp_logparse_sanitize("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", 10, out, 8);
	assert_string_equal(out, "\xc3\xa9\xc3\xa9\xe2\x80\xa6"); /* whole characters + … */
	dp_logparse_sanitize(NULL, 0, out, sizeof(out));
	assert_string_equal(out, "");

	const char *a = "Received request: POST to /x with body {\"a\":1}";
	assert_int_equal(dp_logparse_body_offset(a, strlen(a)), strlen("Received request: POST to /x with body "));
	const char *b = "Returning 6 models";
	assert_int_equal(dp_logparse_body_offset(b, strlen(b)), strlen(b));
	const char *c = "weird {x}";
	assert_int_equal(dp_logparse_body_offset(c, strlen(c)), 6);
	const char *d = "ends with body";
	assert_int_equal(dp_logparse_body_offset(d, strlen(d)), strlen(d));

	assert_true(dp_logparse_is_high_message("Auto-evicting JIT-loaded model x"));
	assert_true(dp_logparse_is_high_message("Unloading model x due to TTL expiry"));
	assert_true(dp_logparse_is_high_message("Server stopped"));
	assert_true(dp_logparse_is_high_message("Download completed: x"));
	assert_false(dp_logparse_is_high_message("Returning 6 models from v1 API"));
	assert_false(dp_logparse_is_high_message(NULL));

	/* redaction of non-objects and NULL */
	assert_null(dp_logparse_redact(NULL));
	json_t *arr = json_array();
	json_t *r = dp_logparse_redact(arr);
	assert_true(json_is_array(r));
	json_decref(r);
	json_decref(arr);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_server_log),
	        cmocka_unit_test(test_levels),
	        cmocka_unit_test(test_runtime_log),
	        cmocka_unit_test(test_prediction_input),
	        cmocka_unit_test(test_prediction_output_stats),
	        cmocka_unit_test(test_unknown_type),
	        cmocka_unit_test(test_malformed),
	        cmocka_unit_test(test_oversized),
	        cmocka_unit_test(test_sanitize_and_body),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
