/*
 * test_chat.c - src/chat: the normaliser turns v1 event sequences and
 * OpenAI-style chunk sequences (v0 with stats, /v1 with usage, reasoning in
 * reasoning_content / reasoning / <think> tags split across chunks, tool
 * calls, in-stream errors, [DONE]) into the documented downstream events;
 * stats, usage, stop reason and response id are extracted; malformed input
 * is counted and skipped; the stats JSON combines server timings with LM
 * Studio's object; the JSON string writer and the message sanitiser.
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

#include "buf.h"
#include "chat.h"

/* Downstream events recorded as "name data\n" (data "-" for stats). */
struct rec {
	struct dp_buf out;
	int n;
};

static void on_emit(void *arg, enum dp_chat_ev ev, const char *json, size_t len)
{
	struct rec *r = arg;
	dp_buf_adds(&r->out, dp_chat_ev_name(ev));
	dp_buf_addch(&r->out, ' ');
	if (json) {
		assert_int_equal(strlen(json), len);
		json_error_t e;
		json_t *j = json_loadb(json, len, 0, &e);
		if (!j)
			fail_msg("emitted invalid JSON '%s': %s", json, e.text);
		json_decref(j);
		dp_buf_add(&r->out, json, len);
	} else {
		dp_buf_addch(&r->out, '-');
	}
	dp_buf_addch(&r->out, '\n');
	r->n++;
}

static void feed(struct dp_chat_norm *n, const char *ev, const char *data)
{
	dp_chat_norm_feed(n, ev, strlen(ev), data, strlen(data));
}

static void test_v1_sequence(void **state)
{
	(void)state;
	struct rec r = {.n = 0};
	dp_buf_init(&r.out, 1 << 20);
	struct dp_chat_norm n;
	dp_chat_norm_init(&n, DP_CHAT_API_V1, on_emit, &r);
	n.keep_text = 1;
	feed(&n, "chat.start", "{\"type\":\"chat.start\",\"model_instance_id\":\"qwen/qwen3-8b\"}");
	feed(&n, "model_load.start", "{\"type\":\"model_load.start\",\"model_instance_id\":\"m\"}");
	feed(&n, "model_load.progress",
	     "{\"type\":\"model_load.progress\",\"model_instance_id\":\"m\",\"progress\":0.5}");
	feed(&n, "model_load.end",
	     "{\"type\":\"model_load.end\",\"model_instance_id\":\"m\",\"load_time_seconds\":2.5}");
	feed(&n, "prompt_processing.start", "{\"type\":\"prompt_processing.start\"}");
	feed(&n, "prompt_processing.progress", "{\"type\":\"prompt_processing.progress\",\"progress\":0.5}");
	feed(&n, "prompt_processing.end", "{\"type\":\"prompt_processing.end\"}");
	feed(&n, "reasoning.start", "{\"type\":\"reasoning.start\"}");
	assert_int_equal(
	        dp_chat_norm_feed(&n, "reasoning.delta", 15, "{\"type\":\"reasoning.delta\",\"content\":\"Hmm\"}", 42),
	        1);
	feed(&n, "reasoning.end", "{\"type\":\"reasoning.end\"}");
	feed(&n, "message.start", "{\"type\":\"message.start\"}");
	feed(&n, "message.delta", "{\"type\":\"message.delta\",\"content\":\"Hi \\\"x\\\"\\n\"}");
	feed(&n, "", "{\"type\":\"message.delta\",\"content\":\"there\"}"); /* type from the JSON */
	feed(&n, "message.end", "{\"type\":\"message.end\"}");
	feed(&n, "tool_call.start",
	     "{\"type\":\"tool_call.start\",\"tool\":\"search\",\"provider_info\":{\"type\":\"plugin\",\"plugin_id\":"
	     "\"mcp/x\"}}");
	feed(&n, "tool_call.success",
	     "{\"type\":\"tool_call.success\",\"tool\":\"search\",\"arguments\":{\"q\":1},\"output\":\"ok\",\"provider_"
	     "info\":{\"type\":\"plugin\",\"plugin_id\":\"mcp/x\"}}");
	feed(&n, "tool_call.failure",
	     "{\"type\":\"tool_call.failure\",\"reason\":\"bad\",\"metadata\":{\"type\":\"invalid_name\",\"tool_name\":"
	     "\"open\"}}");
	feed(&n, "error",
	     "{\"type\":\"error\",\"error\":{\"type\":\"internal_error\",\"message\":\"Model\\nunloaded\"}}");
	assert_false(n.done);
	feed(&n, "chat.end",
	     "{\"type\":\"chat.end\",\"result\":{\"model_instance_id\":\"m\",\"output\":[],"
	     "\"stats\":{\"input_tokens\":10,\"total_output_tokens\":3,\"reasoning_output_tokens\":1,"
	     "\"tokens_per_second\":50.5,\"time_to_first_token_seconds\":0.1},\"response_id\":\"resp_abc\"}}");
	dp_chat_norm_finish(&n);
	const char *want = "model_load {\"progress\":0}\n"
	                   "model_load {\"progress\":0.5}\n"
	                   "model_load {\"done\":true,\"load_time_seconds\":2.5}\n"
	                   "prompt_progress {\"progress\":0}\n"
	                   "prompt_progress {\"progress\":0.5}\n"
	                   "prompt_progress {\"progress\":1}\n"
	                   "reasoning {\"text\":\"Hmm\"}\n"
	                   "content {\"text\":\"Hi \\\"x\\\"\\n\"}\n"
	                   "content {\"text\":\"there\"}\n"
	                   "tool_call "
	                   "{\"phase\":\"start\",\"tool\":\"search\",\"provider_info\":{\"type\":\"plugin\",\"plugin_"
	                   "id\":\"mcp/x\"}}\n"
	                   "tool_call "
	                   "{\"phase\":\"success\",\"tool\":\"search\",\"arguments\":{\"q\":1},\"output\":\"ok\","
	                   "\"provider_info\":{\"type\":\"plugin\",\"plugin_id\":\"mcp/x\"}}\n"
	                   "tool_call "
	                   "{\"phase\":\"failure\",\"reason\":\"bad\",\"metadata\":{\"type\":\"invalid_name\",\"tool_"
	                   "name\":\"open\"},\"tool\":\"open\"}\n"
	                   "error {\"code\":\"internal_error\",\"message\":\"Model unloaded\"}\n"
	                   "stats -\n";
	assert_string_equal(r.out.data, want);
	assert_true(n.done);
	assert_int_equal(n.lms_tokens, 3);
	assert_string_equal(n.response_id, "resp_abc");
	assert_string_equal(dp_chat_norm_stop_reason(&n), "completed");
	assert_int_equal(n.reasoning_events, 1);
	assert_int_equal(n.content_events, 2);
	assert_int_equal(n.tool_events, 3);
	assert_int_equal(n.ignored, 0);
	assert_string_equal(n.content.data, "Hi \"x\"\nthere");
	assert_string_equal(n.reasoning.data, "Hmm");
	assert_non_null(n.lms_stats);
	assert_true(json_real_value(json_object_get(n.lms_stats, "tokens_per_second")) > 50);
	dp_chat_norm_release(&n);
	dp_buf_release(&r.out);
}

static char *chunk(const char *delta_json, const char *finish)
{
	char *s = NULL;
	size_t cap = 0;
	FILE *f = open_memstream(&s, &cap);
	fprintf(f,
	        "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\","
	        "\"choices\":[{\"index\":0,\"delta\":%s,\"logprobs\":null,\"finish_reason\":%s}]}",
	        delta_json, finish ? finish : "null");
	fclose(f);
	return s;
}

static void feed_chunk(struct dp_chat_norm *n, const char *delta, const char *finish)
{
	char *c = chunk(delta, finish);
	feed(n, "", c);
	free(c);
}

static void test_v0_reasoning_content_and_stats(void **state)
{
	(void)state;
	struct rec r = {.n = 0};
	dp_buf_init(&r.out, 1 << 20);
	struct dp_chat_norm n;
	dp_chat_norm_init(&n, DP_CHAT_API_V0, on_emit, &r);
	feed_chunk(&n, "{\"role\":\"assistant\",\"reasoning_content\":\"Think\"}", NULL);
	feed_chunk(&n, "{\"reasoning_content\":\" more\"}", NULL);
	feed_chunk(&n, "{\"content\":\"\",\"reasoning_content\":\"\"}", NULL); /* empty: nothing */
	feed_chunk(&n, "{\"content\":\"Answer\"}", NULL);
	feed(&n, "",
	     "{\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{},"
	     "\"finish_reason\":\"length\"}],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":3,\"total_tokens\":8}"
	     ","
	     "\"stats\":{\"tokens_per_second\":40.1,\"time_to_first_token\":0.2,\"generation_time\":0.07,"
	     "\"stop_reason\":\"maxPredictedTokensReached\"},\"model_info\":{},\"runtime\":{}}");
	assert_false(n.done);
	feed(&n, "", "[DONE]");
	dp_chat_norm_finish(&n);
	assert_string_equal(r.out.data, "reasoning {\"text\":\"Think\"}\n"
	                                "reasoning {\"text\":\" more\"}\n"
	                                "content {\"text\":\"Answer\"}\n"
	                                "stats -\n");
	assert_true(n.done);
	assert_int_equal(n.lms_tokens, 3);
	assert_string_equal(dp_chat_norm_stop_reason(&n), "maxPredictedTokensReached");
	assert_non_null(n.usage);

	struct dp_chat_timing t = {.ttft_ms = 12.5, .ttfb_ms = 1, .generation_ms = 20, .total_ms = 40};
	json_t *st = dp_chat_stats_json(&n, &t);
	json_t *srv = json_object_get(st, "server");
	assert_int_equal(json_integer_value(json_object_get(srv, "tokens")), 3);
	assert_string_equal(json_string_value(json_object_get(srv, "tokens_source")), "lmstudio");
	assert_true(json_real_value(json_object_get(srv, "ttft_ms")) == 12.5);
	/* 3 token events over 20 ms: 2 intervals -> 100 tokens/s */
	assert_true(json_real_value(json_object_get(srv, "tokens_per_second")) == 100.0);
	assert_string_equal(json_string_value(json_object_get(json_object_get(st, "lmstudio"), "stop_reason")),
	                    "maxPredictedTokensReached");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(st, "usage"), "total_tokens")), 8);
	json_decref(st);
	dp_chat_norm_release(&n);
	dp_buf_release(&r.out);
}

static void test_openai_think_tags_across_chunks(void **state)
{
	(void)state;
	/* "<think>" and "</think>" split over chunks as tokens do */
	static const char *const toks[] = {"<th", "ink>", "I ", "ponder", "</", "think", ">\\n\\n", "Result", " <b>"};
	struct rec r = {.n = 0};
	dp_buf_init(&r.out, 1 << 20);
	struct dp_chat_norm n;
	dp_chat_norm_init(&n, DP_CHAT_API_OPENAI, on_emit, &r);
	n.keep_text = 1;
	for (size_t i = 0; i < sizeof(toks) / sizeof(toks[0]); i++) {
		char d[64];
		snprintf(d, sizeof(d), "{\"content\":\"%s\"}", toks[i]);
		feed_chunk(&n, d, NULL);
	}
	feed_chunk(&n, "{}", "\"stop\"");
	feed(&n, "",
	     "{\"id\":\"c\",\"choices\":[],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":9,\"total_tokens\":10}"
	     "}");
	feed(&n, "", "[DONE]");
	dp_chat_norm_finish(&n);
	assert_string_equal(r.out.data, "reasoning {\"text\":\"I \"}\n"
	                                "reasoning {\"text\":\"ponder\"}\n"
	                                "content {\"text\":\"\\n\\n\"}\n"
	                                "content {\"text\":\"Result\"}\n"
	                                "content {\"text\":\" <b>\"}\n"
	                                "stats -\n");
	assert_string_equal(n.reasoning.data, "I ponder");
	assert_string_equal(n.content.data, "\n\nResult <b>");
	assert_string_equal(dp_chat_norm_stop_reason(&n), "eosFound");
	assert_int_equal(n.lms_tokens, 9);
	dp_chat_norm_release(&n);
	dp_buf_release(&r.out);
}

static void test_openai_reasoning_field_custom_tags_tools_errors(void **state)
{
	(void)state;
	struct rec r = {.n = 0};
	dp_buf_init(&r.out, 1 << 20);
	struct dp_chat_norm n;
	dp_chat_norm_init(&n, DP_CHAT_API_OPENAI, on_emit, &r);
	assert_int_equal(dp_chat_norm_set_think(&n, "[R]", "[/R]"), 0);
	feed_chunk(&n, "{\"reasoning\":\"gpt-oss thinks\"}", NULL);
	feed_chunk(&n, "{\"content\":\"[R]x[/R]y <think>z</think>\"}", NULL);
	feed_chunk(&n,
	           "{\"tool_calls\":[{\"index\":0,\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":"
	           "\"get\",\"arguments\":\"{\\\"a\\\"\"}}]}",
	           NULL);
	feed_chunk(&n, "{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\":1}\"}}]}", "\"tool_calls\"");
	feed(&n, "", "{\"error\":{\"message\":\"Model unloaded\",\"type\":\"internal_error\"}}");
	assert_int_equal(dp_chat_norm_feed(&n, "", 0, "not json", 8), -EINVAL);
	assert_int_equal(dp_chat_norm_feed(&n, "", 0, "[1,2]", 5), -EINVAL);
	assert_int_equal(dp_chat_norm_feed(&n, "", 0, "{\"choices\":5}", 13), -EINVAL);
	feed(&n, "", "[DONE]");
	feed(&n, "", "[DONE]"); /* stats signalled once */
	assert_string_equal(
	        r.out.data,
	        "reasoning {\"text\":\"gpt-oss thinks\"}\n"
	        "reasoning {\"text\":\"x\"}\n"
	        "content {\"text\":\"y <think>z</think>\"}\n"
	        "tool_call "
	        "{\"phase\":\"call\",\"index\":0,\"id\":\"call_1\",\"tool\":\"get\",\"arguments\":\"{\\\"a\\\"\"}\n"
	        "tool_call {\"phase\":\"call\",\"index\":0,\"arguments\":\":1}\"}\n"
	        "error {\"code\":\"internal_error\",\"message\":\"Model unloaded\"}\n"
	        "stats -\n");
	assert_int_equal(n.ignored, 3);
	assert_string_equal(dp_chat_norm_stop_reason(&n), "toolCalls");
	assert_null(n.lms_stats);
	struct dp_chat_timing t = {.ttft_ms = -1, .ttfb_ms = -1, .generation_ms = -1, .total_ms = 5};
	json_t *st = dp_chat_stats_json(&n, &t);
	assert_true(json_is_null(json_object_get(st, "lmstudio")));
	assert_true(json_is_null(json_object_get(json_object_get(st, "server"), "ttft_ms")));
	assert_string_equal(json_string_value(json_object_get(json_object_get(st, "server"), "tokens_source")),
	                    "events");
	json_decref(st);
	dp_chat_norm_release(&n);
	dp_buf_release(&r.out);
}

static void test_v1_unknown_and_malformed(void **state)
{
	(void)state;
	struct rec r = {.n = 0};
	dp_buf_init(&r.out, 1 << 20);
	struct dp_chat_norm n;
	dp_chat_norm_init(&n, DP_CHAT_API_V1, on_emit, &r);
	assert_int_equal(dp_chat_norm_feed(&n, "future.event", 12, "{\"type\":\"future.event\"}", 23), -EINVAL);
	assert_int_equal(dp_chat_norm_feed(&n, "message.delta", 13, "{\"content\":5}", 13), -EINVAL);
	assert_int_equal(dp_chat_norm_feed(&n, "", 0, "{}", 2), -EINVAL);
	assert_int_equal(dp_chat_norm_feed(&n, "tool_call.bogus", 15, "{}", 2), -EINVAL);
	assert_int_equal(dp_chat_norm_feed(&n, "message.delta", 13, "{\"content\":\"a<think>b\"}", 23), 2);
	dp_chat_norm_finish(&n);
	assert_true(n.think_unterminated);
	assert_int_equal(n.ignored, 4);
	assert_string_equal(r.out.data, "content {\"text\":\"a\"}\nreasoning {\"text\":\"b\"}\n");
	dp_chat_norm_release(&n);
	dp_buf_release(&r.out);
}

static void test_helpers(void **state)
{
	(void)state;
	struct dp_buf b;
	dp_buf_init(&b, 1 << 20);
	dp_chat_json_str(&b, "a\"\\\n\r\t\x01\x1f\xc3\xa9", 10);
	assert_string_equal(b.data, "\"a\\\"\\\\\\n\\r\\t\\u0001\\u001f\xc3\xa9\"");
	/* long strings cross the internal staging buffer */
	dp_buf_reset(&b);
	char big[3000];
	memset(big, '"', sizeof(big));
	dp_chat_json_str(&b, big, sizeof(big));
	assert_int_equal(b.len, 2 + 2 * sizeof(big));
	dp_buf_release(&b);

	char out[8];
	dp_chat_sanitize(out, sizeof(out), "ab\x01\ncd", 6);
	assert_string_equal(out, "ab  cd");
	dp_chat_sanitize(out, 6, "abcd\xe2\x9c\x93", 7); /* would cut the check mark */
	assert_string_equal(out, "abcd");
	assert_int_equal(dp_chat_api_parse("openai"), DP_CHAT_API_OPENAI);
	assert_int_equal(dp_chat_api_parse("v2"), -1);
	assert_string_equal(dp_chat_api_path(DP_CHAT_API_V0), "/api/v0/chat/completions");
	assert_string_equal(dp_chat_ev_name(DP_CHAT_EV_END), "end");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_v1_sequence),
	        cmocka_unit_test(test_v0_reasoning_content_and_stats),
	        cmocka_unit_test(test_openai_think_tags_across_chunks),
	        cmocka_unit_test(test_openai_reasoning_field_custom_tags_tools_errors),
	        cmocka_unit_test(test_v1_unknown_and_malformed),
	        cmocka_unit_test(test_helpers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
