/*
 * test_auth.c - password policy and hashing, token and session secrets,
 * header parsing, Origin matching, session expiry (absolute and idle) and
 * token expiry with an injected clock, the throttle's sliding window, and
 * the rule that only hashes are stored.
 */
#include <errno.h>
#include <setjmp.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "auth.h"
#include "store.h"

static int64_t fake_now;
static int64_t fake_clock(void)
{
	return fake_now;
}

static struct dp_auth *new_auth(struct dp_store *s)
{
	struct dp_auth_config cfg;
	dp_auth_config_defaults(&cfg);
	cfg.session_ttl_s = 8 * 3600;
	cfg.session_idle_s = 3600;
	cfg.max_user_failures = 5;
	cfg.max_ip_failures = 20;
	cfg.window_s = 900;
	cfg.clock = fake_clock;
	struct dp_auth *a = dp_auth_new(s, NULL, &cfg);
	assert_non_null(a);
	return a;
}

static void test_password_policy(void **state)
{
	const char *why = NULL;
	assert_int_equal(dp_auth_password_check("12345678901", &why), -EINVAL);
	assert_non_null(strstr(why, "at least 12"));
	assert_int_equal(dp_auth_password_check("123456789012", &why), 0);
	assert_int_equal(dp_auth_password_check(NULL, &why), -EINVAL);
	/* characters, not bytes: 11 two-byte characters are still too short */
	assert_int_equal(dp_auth_password_check("ééééééééééé", &why), -EINVAL);
	assert_int_equal(dp_auth_password_check("éééééééééééé", &why), 0);
	char big[DP_AUTH_PASSWORD_MAX + 2];
	memset(big, 'x', sizeof(big));
	big[DP_AUTH_PASSWORD_MAX] = '\0';
	assert_int_equal(dp_auth_password_check(big, &why), 0);
	big[DP_AUTH_PASSWORD_MAX] = 'x';
	big[DP_AUTH_PASSWORD_MAX + 1] = '\0';
	assert_int_equal(dp_auth_password_check(big, &why), -EINVAL);
	assert_non_null(strstr(why, "at most 1024"));
}

static void test_username_rules(void **state)
{
	assert_true(dp_auth_username_valid("admin"));
	assert_true(dp_auth_username_valid("a.b_c-D9"));
	char n[DP_USERNAME_MAX + 2];
	memset(n, 'a', sizeof(n));
	n[DP_USERNAME_MAX] = '\0';
	assert_true(dp_auth_username_valid(n));
	n[DP_USERNAME_MAX] = 'a';
	n[DP_USERNAME_MAX + 1] = '\0';
	assert_false(dp_auth_username_valid(n));
	const char *bad[] = {"", "a b", "a/b", "ä", "a\n", "a;b", "<x>", NULL};
	for (int i = 0; bad[i]; i++)
		assert_false(dp_auth_username_valid(bad[i]));
	assert_false(dp_auth_username_valid(NULL));
}

static void test_hash_and_verify(void **state)
{
	char h[128], h2[128];
	assert_int_equal(dp_auth_hash_password("correct horse battery", h), 0);
	assert_int_equal(strncmp(h, "$argon2id$", 10), 0);
	assert_null(strstr(h, "correct horse"));
	assert_int_equal(dp_auth_verify_password(h, "correct horse battery"), 0);
	assert_int_equal(dp_auth_verify_password(h, "correct horse batterY"), -EACCES);
	assert_int_equal(dp_auth_verify_password("", "x"), -EACCES);
	assert_int_equal(dp_auth_verify_password("not a hash", "x"), -EACCES);
	/* salted: the same password hashes differently */
	assert_int_equal(dp_auth_hash_password("correct horse battery", h2), 0);
	assert_string_not_equal(h, h2);
	/* interactive limits, so a login costs ~0.1 s and not seconds */
	assert_int_equal(crypto_pwhash_str_needs_rehash(h, crypto_pwhash_OPSLIMIT_INTERACTIVE,
	                                                crypto_pwhash_MEMLIMIT_INTERACTIVE),
	                 0);
}

static int all_b64url(const char *s)
{
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '-' ||
		      *s == '_'))
			return 0;
	return 1;
}

static void test_secrets(void **state)
{
	char s1[DP_AUTH_SESSION_LEN + 1], s2[DP_AUTH_SESSION_LEN + 1];
	uint8_t h1[32], h2[32], hx[32], raw[32];
	dp_auth_new_session_token(s1, h1);
	dp_auth_new_session_token(s2, h2);
	assert_int_equal(strlen(s1), DP_AUTH_SESSION_LEN);
	assert_true(all_b64url(s1));
	assert_string_not_equal(s1, s2);
	assert_memory_not_equal(h1, h2, 32);
	/* the stored hash is BLAKE2b-256 of the cookie value */
	crypto_generichash(hx, 32, (const unsigned char *)s1, strlen(s1), NULL, 0);
	assert_memory_equal(hx, h1, 32);
	assert_int_equal(dp_auth_decode_session(s1, raw), 0);
	assert_int_equal(dp_auth_decode_session("short", raw), -EINVAL);
	char bad[DP_AUTH_SESSION_LEN + 1];
	memcpy(bad, s1, sizeof(bad));
	bad[5] = '+';
	assert_int_equal(dp_auth_decode_session(bad, raw), -EINVAL);

	char t[DP_AUTH_TOKEN_LEN + 1];
	dp_auth_new_api_token(t, h1);
	assert_int_equal(strlen(t), DP_AUTH_TOKEN_LEN);
	assert_int_equal(strncmp(t, "dp_", 3), 0);
	assert_true(all_b64url(t + 3));
	dp_auth_hash_secret(t, strlen(t), hx);
	assert_memory_equal(hx, h1, 32);

	char pw[25];
	dp_auth_random_password(pw);
	assert_int_equal(strlen(pw), 24);
	const char *why;
	assert_int_equal(dp_auth_password_check(pw, &why), 0);
}

static void test_cookie_parsing(void **state)
{
	char out[64];
	assert_int_equal(dp_auth_parse_cookie("dp_session=abc", "dp_session", out, sizeof(out)), 0);
	assert_string_equal(out, "abc");
	assert_int_equal(dp_auth_parse_cookie("a=1; dp_session=xyz ; b=2", "dp_session", out, sizeof(out)), 0);
	assert_string_equal(out, "xyz");
	assert_int_equal(dp_auth_parse_cookie("x_dp_session=1;dp_session=\"q\"", "dp_session", out, sizeof(out)), 0);
	assert_string_equal(out, "q");
	assert_int_equal(dp_auth_parse_cookie("dp_sessionx=1; dp_sessio=2", "dp_session", out, sizeof(out)), -ENOENT);
	assert_int_equal(dp_auth_parse_cookie("", "dp_session", out, sizeof(out)), -ENOENT);
	assert_int_equal(dp_auth_parse_cookie(";;;=;", "dp_session", out, sizeof(out)), -ENOENT);
	assert_int_equal(dp_auth_parse_cookie(NULL, "dp_session", out, sizeof(out)), -ENOENT);
	char big[200];
	snprintf(big, sizeof(big), "dp_session=%0100d", 7);
	assert_int_equal(dp_auth_parse_cookie(big, "dp_session", out, sizeof(out)), -E2BIG);
}

static void test_bearer_parsing(void **state)
{
	char out[64];
	assert_int_equal(dp_auth_parse_bearer("Bearer dp_abc", out, sizeof(out)), 0);
	assert_string_equal(out, "dp_abc");
	assert_int_equal(dp_auth_parse_bearer("bearer   dp_abc  ", out, sizeof(out)), 0);
	assert_string_equal(out, "dp_abc");
	assert_int_equal(dp_auth_parse_bearer("Bearer", out, sizeof(out)), -EINVAL);
	assert_int_equal(dp_auth_parse_bearer("Bearer ", out, sizeof(out)), -EINVAL);
	assert_int_equal(dp_auth_parse_bearer("Basic abc", out, sizeof(out)), -EINVAL);
	assert_int_equal(dp_auth_parse_bearer("Bearerdp_abc", out, sizeof(out)), -EINVAL);
	assert_int_equal(dp_auth_parse_bearer("Bearer a b", out, sizeof(out)), -EINVAL);
	assert_int_equal(dp_auth_parse_bearer(NULL, out, sizeof(out)), -ENOENT);
}

static void test_origin_matching(void **state)
{
	assert_true(dp_auth_origin_matches("http://127.0.0.1:3000", "http", "127.0.0.1:3000"));
	assert_true(dp_auth_origin_matches("HTTP://Example.COM", "http", "example.com"));
	assert_true(dp_auth_origin_matches("http://example.com:80", "http", "example.com"));
	assert_true(dp_auth_origin_matches("https://example.com", "https", "example.com:443"));
	assert_true(dp_auth_origin_matches("http://127.0.0.1:3000/settings?x=1", "http", "127.0.0.1:3000"));
	assert_true(dp_auth_origin_matches("http://[::1]:3000", "http", "[::1]:3000"));
	assert_false(dp_auth_origin_matches("http://127.0.0.1:3001", "http", "127.0.0.1:3000"));
	assert_false(dp_auth_origin_matches("https://127.0.0.1:3000", "http", "127.0.0.1:3000"));
	assert_false(dp_auth_origin_matches("http://127.0.0.1:3000", "https", "127.0.0.1:3000"));
	assert_false(dp_auth_origin_matches("null", "http", "127.0.0.1:3000"));
	assert_false(dp_auth_origin_matches("http://evil.com/http://127.0.0.1:3000", "http", "127.0.0.1:3000"));
	assert_false(dp_auth_origin_matches("http://127.0.0.1:3000.evil.com", "http", "127.0.0.1:3000"));
	assert_false(dp_auth_origin_matches("http://user@127.0.0.1:3000", "http", "127.0.0.1:3000"));
	assert_false(dp_auth_origin_matches("http://127.0.0.1:3000", "http", ""));
	assert_false(dp_auth_origin_matches("http://", "http", "x"));
	assert_false(dp_auth_origin_matches(NULL, "http", "x"));
}

static void test_session_validity(void **state)
{
	struct dp_auth_config cfg;
	dp_auth_config_defaults(&cfg);
	cfg.session_idle_s = 3600;
	int64_t t0 = 1000000, exp = t0 + 8 * 3600;
	assert_true(dp_auth_session_valid(&cfg, exp, t0, t0));
	assert_true(dp_auth_session_valid(&cfg, exp, t0, t0 + 3599));
	assert_false(dp_auth_session_valid(&cfg, exp, t0, t0 + 3600)); /* idle */
	assert_true(dp_auth_session_valid(&cfg, exp, exp - 10, exp - 1));
	assert_false(dp_auth_session_valid(&cfg, exp, exp - 10, exp)); /* absolute */
	assert_false(dp_auth_session_valid(&cfg, exp, exp, exp + 1));
}

static void test_defaults(void **state)
{
	struct dp_auth_config cfg;
	unsetenv("DP_SESSION_TTL_SECONDS");
	unsetenv("DP_SESSION_IDLE_SECONDS");
	dp_auth_config_defaults(&cfg);
	assert_int_equal(cfg.session_ttl_s, 8 * 3600);
	assert_int_equal(cfg.session_idle_s, 3600);
	assert_int_equal(cfg.max_user_failures, 5);
	assert_int_equal(cfg.max_ip_failures, 20);
	assert_int_equal(cfg.window_s, 900);
	setenv("DP_SESSION_IDLE_SECONDS", "5", 1);
	setenv("DP_SESSION_TTL_SECONDS", "not-a-number", 1);
	dp_auth_config_defaults(&cfg);
	assert_int_equal(cfg.session_idle_s, 5);
	assert_int_equal(cfg.session_ttl_s, 8 * 3600);
	unsetenv("DP_SESSION_TTL_SECONDS");
	unsetenv("DP_SESSION_IDLE_SECONDS");
}

/* Full header -> user path against an in-memory store and a fake clock. */
static void test_authenticate_with_clock(void **state)
{
	char *err = NULL;
	struct dp_store *s = dp_store_open(":memory:", &err);
	assert_non_null(s);
	struct dp_auth *a = new_auth(s);
	int64_t uid;
	assert_int_equal(dp_store_user_create(s, "ann", "$argon2id$x", DP_ROLE_OPERATOR, 1, &uid), 0);

	fake_now = 1700000000;
	char tok[DP_AUTH_SESSION_LEN + 1], cookie[128];
	uint8_t h[32];
	dp_auth_new_session_token(tok, h);
	assert_int_equal(dp_store_session_create(s, uid, h, fake_now, fake_now + 8 * 3600, NULL, NULL), 0);
	snprintf(cookie, sizeof(cookie), "theme=dark; dp_session=%s", tok);

	struct dp_ctx c;
	memset(&c, 0, sizeof(c));
	assert_int_equal(dp_auth_check_headers(a, NULL, cookie, &c), 0);
	assert_int_equal(c.auth_kind, DP_AUTH_SESSION);
	assert_string_equal(c.user.username, "ann");
	assert_int_equal(c.user.role, DP_ROLE_OPERATOR);

	/* activity every 50 minutes keeps it alive... */
	for (int i = 1; i <= 10; i++) { /* 10 x 50 min passes 8 h */
		fake_now += 50 * 60;
		int want = fake_now < 1700000000 + 8 * 3600 ? 0 : -EACCES;
		assert_int_equal(dp_auth_check_headers(a, NULL, cookie, &c), want);
	}
	/* ...but never past 8 h; and an expired session is deleted */
	struct dp_store_session ss;
	assert_int_equal(dp_store_session_lookup(s, h, &ss), -ENOENT);

	/* idle: a new session unused for an hour ends */
	dp_auth_new_session_token(tok, h);
	assert_int_equal(dp_store_session_create(s, uid, h, fake_now, fake_now + 8 * 3600, NULL, NULL), 0);
	snprintf(cookie, sizeof(cookie), "dp_session=%s", tok);
	fake_now += 3599;
	assert_int_equal(dp_auth_check_headers(a, NULL, cookie, &c), 0);
	fake_now += 3600;
	assert_int_equal(dp_auth_check_headers(a, NULL, cookie, &c), -EACCES);

	/* a cookie that merely looks right, and one flipped character */
	dp_auth_new_session_token(tok, h);
	snprintf(cookie, sizeof(cookie), "dp_session=%s", tok);
	assert_int_equal(dp_auth_check_headers(a, NULL, cookie, &c), -EACCES);
	assert_int_equal(c.auth_kind, DP_AUTH_NONE);

	/* API tokens: expiry and revocation */
	char api[DP_AUTH_TOKEN_LEN + 1], authz[128];
	dp_auth_new_api_token(api, h);
	int64_t tid;
	assert_int_equal(dp_store_token_create(s, uid, "ci", "dp_xxxx", h, fake_now, fake_now + 100, &tid), 0);
	snprintf(authz, sizeof(authz), "Bearer %s", api);
	assert_int_equal(dp_auth_check_headers(a, authz, NULL, &c), 0);
	assert_int_equal(c.auth_kind, DP_AUTH_TOKEN);
	assert_int_equal(c.token_id, tid);
	/* the Authorization header decides alone */
	assert_int_equal(dp_auth_check_headers(a, "Bearer dp_nope", cookie, &c), -EACCES);
	fake_now += 100;
	assert_int_equal(dp_auth_check_headers(a, authz, NULL, &c), -EACCES);
	fake_now -= 50;
	assert_int_equal(dp_auth_check_headers(a, authz, NULL, &c), 0);
	assert_int_equal(dp_store_token_delete(s, tid, uid), 0);
	assert_int_equal(dp_auth_check_headers(a, authz, NULL, &c), -EACCES);
	assert_int_equal(dp_auth_check_headers(a, NULL, NULL, &c), -EACCES);

	/* only hashes are stored: no row contains a secret */
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_prepare_v2((sqlite3 *)dp_store_db(s),
	                                    "SELECT count(*) FROM sessions WHERE instr(token_hash, ?1) > 0", -1, &st,
	                                    NULL),
	                 0);
	sqlite3_bind_text(st, 1, tok, -1, SQLITE_STATIC);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(st, 0), 0);
	sqlite3_finalize(st);

	dp_auth_free(a);
	dp_store_free(s);
}

static void test_throttle_window(void **state)
{
	struct dp_auth *a = new_auth(NULL);
	fake_now = 5000;
	for (int i = 0; i < 4; i++) {
		assert_int_equal(dp_auth_throttle_check(a, "10.0.0.1", "admin"), 0);
		dp_auth_throttle_fail(a, "10.0.0.1", "admin");
		fake_now += 10;
	}
	assert_int_equal(dp_auth_throttle_check(a, "10.0.0.1", "admin"), 0);
	dp_auth_throttle_fail(a, "10.0.0.1", "Admin"); /* 5th; names are case-insensitive */
	int64_t w = dp_auth_throttle_check(a, "10.0.0.2", "ADMIN");
	/* oldest failure at 5000 leaves the 900 s window at 5900; now is 5040 */
	assert_int_equal(w, 860);
	assert_int_equal(dp_auth_throttle_check(a, "10.0.0.2", "other"), 0);
	/* sliding: once the oldest failure is out, one more attempt is allowed */
	fake_now = 5900;
	assert_int_equal(dp_auth_throttle_check(a, "10.0.0.2", "admin"), 0);
	dp_auth_throttle_fail(a, "10.0.0.2", "admin");
	assert_true(dp_auth_throttle_check(a, "10.0.0.3", "admin") > 0);
	/* success clears the username */
	dp_auth_throttle_success(a, "10.0.0.2", "admin");
	assert_int_equal(dp_auth_throttle_check(a, "10.0.0.3", "admin"), 0);

	/* per IP: 20 failures over many usernames */
	fake_now = 10000;
	char name[32];
	for (int i = 0; i < 20; i++) {
		snprintf(name, sizeof(name), "user%d", i);
		assert_int_equal(dp_auth_throttle_check(a, "192.0.2.7", name), 0);
		dp_auth_throttle_fail(a, "192.0.2.7", name);
	}
	assert_int_equal(dp_auth_throttle_check(a, "192.0.2.7", "fresh"), 900);
	assert_int_equal(dp_auth_throttle_check(a, "192.0.2.8", "fresh"), 0);
	/* success gives back only that attempt for the IP */
	dp_auth_throttle_success(a, "192.0.2.7", "user3");
	assert_int_equal(dp_auth_throttle_check(a, "192.0.2.7", "fresh"), 0);
	dp_auth_free(a);
}

static void test_throttle_is_bounded(void **state)
{
	struct dp_auth *a = new_auth(NULL);
	fake_now = 1;
	char ip[32];
	for (int i = 0; i < DP_AUTH_THROTTLE_KEYS + 100; i++) {
		snprintf(ip, sizeof(ip), "10.%d.%d.%d", (i >> 16) & 255, (i >> 8) & 255, i & 255);
		dp_auth_throttle_fail(a, ip, NULL);
		if (i % 1000 == 0)
			fake_now++;
	}
	/* the newest keys are still tracked; memory stayed bounded (ASan checks frees) */
	dp_auth_throttle_fail(a, ip, NULL);
	assert_int_equal(dp_auth_throttle_check(a, ip, NULL), 0);
	dp_auth_free(a);
}

static void test_time_helpers(void **state)
{
	int64_t t;
	assert_int_equal(dp_auth_parse_time("2026-11-26T10:00:00Z", &t), 0);
	assert_int_equal(t, 1795687200);
	json_t *j = dp_auth_time_json(t);
	assert_string_equal(json_string_value(j), "2026-11-26T10:00:00Z");
	json_decref(j);
	assert_int_equal(dp_auth_parse_time("2026-11-26", &t), 0);
	assert_int_equal(t, 1795651200);
	assert_int_equal(dp_auth_parse_time("1795687200", &t), 0);
	assert_int_equal(t, 1795687200);
	const char *bad[] = {
	        "",  "yesterday", "2026-13-01", "2026-11-26T25:00", "2026-11-26Tx", "2026-11-26Z1", "1234567890123",
	        NULL};
	for (int i = 0; bad[i]; i++)
		assert_int_equal(dp_auth_parse_time(bad[i], &t), -EINVAL);
	j = dp_auth_time_json(0);
	assert_true(json_is_null(j));
	json_decref(j);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_password_policy), cmocka_unit_test(test_username_rules),
	        cmocka_unit_test(test_hash_and_verify), cmocka_unit_test(test_secrets),
	        cmocka_unit_test(test_cookie_parsing),  cmocka_unit_test(test_bearer_parsing),
	        cmocka_unit_test(test_origin_matching), cmocka_unit_test(test_session_validity),
	        cmocka_unit_test(test_defaults),        cmocka_unit_test(test_authenticate_with_clock),
	        cmocka_unit_test(test_throttle_window), cmocka_unit_test(test_throttle_is_bounded),
	        cmocka_unit_test(test_time_helpers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
