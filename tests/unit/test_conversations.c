/*
 * test_conversations.c - src/conversations: create, append, list (order,
 * paging, message counts), get with messages, rename, delete; another
 * user's conversation is -ENOENT everywhere; deleting a user cascades;
 * titles from the first message; Markdown export (reasoning block, fences
 * that content cannot close, stats line).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "conversations.h"
#include "auth.h"
#include "store.h"

static char dir[64], db[128];

static int setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/dp-test-conv-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(db, sizeof(db), "%s/c.db", dir);
	char *err = NULL;
	struct dp_store *s = dp_store_open(db, &err);
	if (!s)
		fail_msg("open: %s", err ? err : "?");
	*state = s;
	return 0;
}

static int teardown(void **state)
{
	dp_store_free(*state);
	char p[160];
	const char *sfx[] = {"", "-wal", "-shm"};
	for (int i = 0; i < 3; i++) {
		snprintf(p, sizeof(p), "%s%s", db, sfx[i]);
		unlink(p);
	}
	rmdir(dir);
	return 0;
}

static int64_t user(struct dp_store *s, const char *name)
{
	int64_t id;
	assert_int_equal(dp_store_user_create(s, name, "$argon2id$x", DP_ROLE_OPERATOR, 100, &id), 0);
	return id;
}

static void test_lifecycle_and_privacy(void **state)
{
	struct dp_store *s = *state;
	int64_t alice = user(s, "alice"), bob = user(s, "bob");
	int64_t c1, c2, m;
	struct dp_conv_new n = {
	        .title = "First", .target_id = 3, .model = "qwen/qwen3-8b", .api = "v0", .system_prompt = "Be terse."};
	assert_int_equal(dp_conv_create(s, alice, &n, 1000, &c1), 0);
	struct dp_conv_new n2 = {0};
	assert_int_equal(dp_conv_create(s, alice, &n2, 1001, &c2), 0);
	assert_int_equal(dp_conv_append(s, c1, alice, "user", "Hi", NULL, NULL, NULL, NULL, 1002, NULL), 0);
	assert_int_equal(dp_conv_append(s, c1, alice, "assistant", "Hello", "thinking", "qwen/qwen3-8b",
	                                "{\"server\":{\"tokens\":2,\"tokens_per_second\":10.5,\"ttft_ms\":12}}",
	                                "eosFound", 1003, &m),
	                 0);
	assert_true(m > 0);
	assert_int_equal(dp_conv_append(s, c1, alice, "robot", "x", NULL, NULL, NULL, NULL, 1004, NULL), -EINVAL);
	/* bob sees nothing of alice's */
	assert_int_equal(dp_conv_check(s, c1, bob), -ENOENT);
	assert_int_equal(dp_conv_append(s, c1, bob, "user", "x", NULL, NULL, NULL, NULL, 1004, NULL), -ENOENT);
	json_t *o;
	assert_int_equal(dp_conv_get(s, c1, bob, 1, &o), -ENOENT);
	assert_int_equal(dp_conv_rename(s, c1, bob, "mine", 1005), -ENOENT);
	assert_int_equal(dp_conv_delete(s, c1, bob), -ENOENT);
	assert_int_equal(dp_conv_list(s, bob, NULL, 0, 50, &o), 0);
	assert_int_equal(json_array_size(json_object_get(o, "conversations")), 0);
	json_decref(o);

	/* list: newest activity first (c1 was appended to last), paging */
	assert_int_equal(dp_conv_list(s, alice, NULL, 0, 1, &o), 0);
	json_t *arr = json_object_get(o, "conversations");
	assert_int_equal(json_array_size(arr), 1);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(arr, 0), "id")), c1);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(arr, 0), "messages")), 2);
	assert_int_equal(json_integer_value(json_object_get(o, "next_offset")), 1);
	json_decref(o);
	assert_int_equal(dp_conv_list(s, alice, "", 1, 1, &o), 0);
	assert_int_equal(
	        json_integer_value(json_object_get(json_array_get(json_object_get(o, "conversations"), 0), "id")), c2);
	assert_true(json_is_null(json_object_get(o, "next_offset")));
	assert_string_equal(
	        json_string_value(json_object_get(json_array_get(json_object_get(o, "conversations"), 0), "title")),
	        "New conversation");
	json_decref(o);
	assert_int_equal(dp_conv_list(s, alice, NULL, 0, 0, &o), -EINVAL);

	/* search: title or any message, case-insensitive, wildcards literal */
	const struct {
		const char *q;
		int64_t want; /* 0: none */
	} finds[] = {{"first", c1}, {"HELL", c1}, {"hi", c1}, {"new conv", c2}, {"%", 0}, {"_", 0}, {"zzz", 0}};
	for (size_t i = 0; i < sizeof(finds) / sizeof(finds[0]); i++) {
		assert_int_equal(dp_conv_list(s, alice, finds[i].q, 0, 50, &o), 0);
		arr = json_object_get(o, "conversations");
		assert_int_equal(json_array_size(arr), finds[i].want ? 1 : 0);
		if (finds[i].want)
			assert_int_equal(json_integer_value(json_object_get(json_array_get(arr, 0), "id")),
			                 finds[i].want);
		json_decref(o);
	}
	assert_int_equal(dp_conv_list(s, bob, "hi", 0, 50, &o), 0); /* never another user's */
	assert_int_equal(json_array_size(json_object_get(o, "conversations")), 0);
	json_decref(o);
	char longq[DP_CONV_QUERY_MAX + 2];
	memset(longq, 'a', sizeof(longq) - 1);
	longq[sizeof(longq) - 1] = '\0';
	assert_int_equal(dp_conv_list(s, alice, longq, 0, 50, &o), -EINVAL);

	/* get with messages */
	assert_int_equal(dp_conv_get(s, c1, alice, 1, &o), 0);
	json_t *msgs = json_object_get(o, "messages");
	assert_int_equal(json_array_size(msgs), 2);
	json_t *a = json_array_get(msgs, 1);
	assert_string_equal(json_string_value(json_object_get(a, "role")), "assistant");
	assert_string_equal(json_string_value(json_object_get(a, "reasoning")), "thinking");
	assert_int_equal(
	        json_integer_value(json_object_get(json_object_get(json_object_get(a, "stats"), "server"), "tokens")),
	        2);
	assert_null(json_object_get(json_array_get(msgs, 0), "stats")); /* user messages carry no stats */
	assert_string_equal(json_string_value(json_object_get(o, "system_prompt")), "Be terse.");
	assert_int_equal(json_integer_value(json_object_get(o, "target_id")), 3);

	struct dp_buf md;
	dp_buf_init(&md, 1 << 20);
	dp_conv_markdown(o, &md);
	assert_non_null(strstr(md.data, "# First\n"));
	assert_non_null(strstr(md.data, "## User\n\nHi\n"));
	assert_non_null(strstr(md.data, "<details><summary>Reasoning</summary>\n\n```\nthinking\n```"));
	assert_non_null(strstr(md.data, "## Assistant\n\n"));
	assert_non_null(strstr(md.data, "*qwen/qwen3-8b · 2 tokens · 10.5 tok/s · TTFT 12 ms · eosFound*"));
	dp_buf_release(&md);
	json_decref(o);

	/* rename, delete, cascade on user deletion */
	assert_int_equal(dp_conv_rename(s, c1, alice, "Renamed", 1006), 0);
	assert_int_equal(dp_conv_rename(s, c1, alice, "", 1006), -EINVAL);
	assert_int_equal(dp_conv_rename(s, c1, alice, "bad\nname", 1006), -EINVAL);
	assert_int_equal(dp_conv_delete(s, c2, alice), 0);
	assert_int_equal(dp_conv_check(s, c2, alice), -ENOENT);
	assert_int_equal(dp_store_user_delete(s, alice), 0);
	assert_int_equal(dp_conv_check(s, c1, alice), -ENOENT);
}

/* Regenerate: the last user message stays, its answers go; only when the
 * client's text is that message's, and only for the owner. */
static void test_retry_last(void **state)
{
	struct dp_store *s = *state;
	int64_t alice = user(s, "alice"), bob = user(s, "bob");
	int64_t c, empty;
	struct dp_conv_new n = {.title = "Retry"};
	assert_int_equal(dp_conv_create(s, alice, &n, 1000, &c), 0);
	assert_int_equal(dp_conv_create(s, alice, &n, 1000, &empty), 0);
	assert_int_equal(dp_conv_append(s, c, alice, "user", "one", NULL, NULL, NULL, NULL, 1001, NULL), 0);
	assert_int_equal(dp_conv_append(s, c, alice, "assistant", "A1", NULL, NULL, NULL, "eosFound", 1002, NULL), 0);
	assert_int_equal(dp_conv_append(s, c, alice, "user", "two", NULL, NULL, NULL, NULL, 1003, NULL), 0);
	assert_int_equal(dp_conv_append(s, c, alice, "assistant", "A2", NULL, NULL, NULL, "userStopped", 1004, NULL),
	                 0);

	assert_int_equal(dp_conv_retry_last(s, c, bob, "two", 1005), -ENOENT);
	assert_int_equal(dp_conv_retry_last(s, c, alice, "one", 1005), -ESTALE); /* not the last one */
	assert_int_equal(dp_conv_retry_last(s, empty, alice, "one", 1005), -ESTALE);
	assert_int_equal(dp_conv_retry_last(s, c, alice, "two", 1005), 0);

	json_t *o;
	assert_int_equal(dp_conv_get(s, c, alice, 1, &o), 0);
	json_t *msgs = json_object_get(o, "messages");
	assert_int_equal(json_array_size(msgs), 3);
	assert_string_equal(json_string_value(json_object_get(json_array_get(msgs, 1), "content")), "A1");
	assert_string_equal(json_string_value(json_object_get(json_array_get(msgs, 2), "content")), "two");
	json_t *t = dp_auth_time_json(1005);
	assert_true(json_equal(json_object_get(o, "updated_at"), t));
	json_decref(t);
	json_decref(o);
	/* again, with no answer left to drop: still fine */
	assert_int_equal(dp_conv_retry_last(s, c, alice, "two", 1006), 0);
}

static void test_titles(void **state)
{
	(void)state;
	char t[256];
	dp_conv_title_from("  Hello\n\n  world\t! ", t, sizeof(t));
	assert_string_equal(t, "Hello world !");
	dp_conv_title_from("", t, sizeof(t));
	assert_string_equal(t, "New conversation");
	dp_conv_title_from(NULL, t, sizeof(t));
	assert_string_equal(t, "New conversation");
	char longs[200];
	memset(longs, 'a', sizeof(longs) - 1);
	longs[sizeof(longs) - 1] = '\0';
	dp_conv_title_from(longs, t, sizeof(t));
	assert_int_equal(strlen(t), 60 + 3); /* 60 characters + "…" */
	assert_string_equal(t + 60, "\xe2\x80\xa6");
	/* multi-byte characters are never cut */
	char ees[400] = "";
	for (int i = 0; i < 100; i++)
		memcpy(ees + 2 * i, "\xc3\xa9", 3);
	dp_conv_title_from(ees, t, sizeof(t));
	assert_int_equal(dp_conv_check_title(t), 0);
	assert_int_equal(dp_conv_check_title("ok"), 0);
	assert_int_equal(dp_conv_check_title("\xff"), -EINVAL);
	char big[DP_CONV_TITLE_MAX + 2];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(dp_conv_check_title(big), -EINVAL);
}

static void test_markdown_fences(void **state)
{
	(void)state;
	json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:[{s:s,s:s,s:s,s:n}]}", "title", "T", "model", "m", "api",
	                      "v1", "created_at", "c", "updated_at", "u", "system_prompt", "has ``` inside", "messages",
	                      "role", "assistant", "content", "A", "reasoning", "r ```` r", "stats");
	struct dp_buf md;
	dp_buf_init(&md, 1 << 20);
	dp_conv_markdown(o, &md);
	assert_non_null(strstr(md.data, "````\nhas ``` inside\n````"));
	assert_non_null(strstr(md.data, "`````\nr ```` r\n`````"));
	dp_buf_release(&md);
	json_decref(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_lifecycle_and_privacy, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_retry_last, setup, teardown),
	        cmocka_unit_test(test_titles),
	        cmocka_unit_test(test_markdown_fences),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
