/*
 * test_targets.c - targets.c and secret.c: URL/label/token/host/tag
 * validation, the masked token hint, the lms endpoint derived from a URL,
 * the secret key file (created 0600, exactly 32 bytes, re-read, refused
 * when group/other-readable or the wrong size), encryption round trips with
 * random nonces, a wrong key or a modified ciphertext failing, and the
 * targets/user_targets storage against a real store.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "secret.h"
#include "store.h"
#include "targets.h"

static char tmpdir[256];

static int setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/dp-test-targets-XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	char p[512];
	const char *names[] = {"secret.key", "t.db", "t.db-wal", "t.db-shm"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", tmpdir, names[i]);
		unlink(p);
	}
	rmdir(tmpdir);
	return 0;
}

static void test_url_validation(void **state)
{
	(void)state;
	const char *why = NULL;
	const char *good[] = {"http://127.0.0.1:1234", "https://gpu.example.com", "http://[::1]:1234",
	                      "http://host:1234/prefix"};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_int_equal(dp_target_check_url(good[i], &why), 0);
	const char *bad[] = {
	        "",       "ftp://h", "http://user:pw@h:1",  "http://user@h",     "http://h/?q=1", "http://h/#f",
	        "h:1234", "http://", "javascript:alert(1)", "file:///etc/passwd"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = NULL;
		assert_int_equal(dp_target_check_url(bad[i], &why), -EINVAL);
		assert_non_null(why);
	}
	assert_int_equal(dp_target_check_url(NULL, &why), -EINVAL);
}

static void test_field_validation(void **state)
{
	(void)state;
	const char *why;
	assert_int_equal(dp_target_check_label("gpu-box 1", &why), 0);
	assert_int_equal(dp_target_check_label("\xc3\xa9t\xc3\xa9", &why), 0);
	assert_int_equal(dp_target_check_label("", &why), -EINVAL);
	assert_int_equal(dp_target_check_label(" lead", &why), -EINVAL);
	assert_int_equal(dp_target_check_label("a\nb", &why), -EINVAL);
	char long_label[80];
	memset(long_label, 'x', 65);
	long_label[65] = '\0';
	assert_int_equal(dp_target_check_label(long_label, &why), -EINVAL);
	long_label[64] = '\0';
	assert_int_equal(dp_target_check_label(long_label, &why), 0);

	assert_int_equal(dp_target_check_api_key("sk-lm-Abcdefgh:Abcdefghijklmnopqrst", &why), 0);
	assert_int_equal(dp_target_check_api_key("", &why), -EINVAL);
	assert_int_equal(dp_target_check_api_key("a b", &why), -EINVAL);
	assert_int_equal(dp_target_check_api_key("a\r\nX-Evil: 1", &why), -EINVAL);
	assert_int_equal(dp_target_check_api_key("\xc3\xa9", &why), -EINVAL);

	assert_int_equal(dp_target_check_lms_host("gpu-1.lan", &why), 0);
	assert_int_equal(dp_target_check_lms_host("10.0.0.5", &why), 0);
	assert_int_equal(dp_target_check_lms_host("h:1234", &why), -EINVAL);
	assert_int_equal(dp_target_check_lms_host("http://h", &why), -EINVAL);
	assert_int_equal(dp_target_check_lms_host("-h", &why), -EINVAL);
	assert_int_equal(dp_target_check_lms_host("h;rm -rf", &why), -EINVAL);

	json_t *t = json_pack("[s,s]", "lab", "gpu:0");
	assert_int_equal(dp_target_check_tags(t, &why), 0);
	json_array_append_new(t, json_string("no spaces"));
	assert_int_equal(dp_target_check_tags(t, &why), -EINVAL);
	json_decref(t);
	t = json_integer(1);
	assert_int_equal(dp_target_check_tags(t, &why), -EINVAL);
	json_decref(t);
	t = json_array();
	for (int i = 0; i < 17; i++)
		json_array_append_new(t, json_string("x"));
	assert_int_equal(dp_target_check_tags(t, &why), -EINVAL);
	json_decref(t);
}

static void test_mask(void **state)
{
	(void)state;
	char out[DP_TARGET_HINT_MAX];
	dp_target_mask("sk-lm-Abcdefgh:Abcdefghijklmnopqrst", out, sizeof(out));
	assert_string_equal(out, "sk-lm-Ab\xe2\x80\xa6(35 chars)");
	dp_target_mask("0123456789abcdef", out, sizeof(out)); /* 16: a quarter = 4 */
	assert_string_equal(out, "0123\xe2\x80\xa6(16 chars)");
	dp_target_mask("short-token", out, sizeof(out));
	assert_string_equal(out, "\xe2\x80\xa6(11 chars)");
	dp_target_mask("", out, sizeof(out));
	assert_string_equal(out, "");
	/* the hint never holds the passkey part of an LM Studio token */
	dp_target_mask("sk-lm-Abcdefgh:Abcdefghijklmnopqrst", out, sizeof(out));
	assert_null(strstr(out, "Abcdefghijklmnopqrst"));
	assert_null(strstr(out, ":"));
}

static void test_lms_endpoint(void **state)
{
	(void)state;
	struct dp_target t;
	char host[DP_TARGET_HOST_MAX + 1];
	int port, derived;
	dp_target_init(&t);
	snprintf(t.url, sizeof(t.url), "http://10.0.0.5:4321");
	assert_int_equal(dp_target_lms_endpoint(&t, host, &port, &derived), 0);
	assert_string_equal(host, "10.0.0.5");
	assert_int_equal(port, 4321);
	assert_int_equal(derived, 1);
	snprintf(t.url, sizeof(t.url), "http://gpu.lan");
	assert_int_equal(dp_target_lms_endpoint(&t, host, &port, &derived), 0);
	assert_int_equal(port, 80);
	snprintf(t.url, sizeof(t.url), "http://[::1]:1234");
	assert_int_equal(dp_target_lms_endpoint(&t, host, &port, &derived), -ENOENT);
	snprintf(t.lms_host, sizeof(t.lms_host), "box");
	assert_int_equal(dp_target_lms_endpoint(&t, host, &port, &derived), 0);
	assert_string_equal(host, "box");
	assert_int_equal(port, 1234);
	assert_int_equal(derived, 0);
	t.lms_port = 9999;
	assert_int_equal(dp_target_lms_endpoint(&t, host, &port, &derived), 0);
	assert_int_equal(port, 9999);
	dp_target_release(&t);
}

static void test_key_file(void **state)
{
	(void)state;
	struct dp_secret *s = NULL, *s2 = NULL;
	int created = 0;
	char *err = NULL;
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", tmpdir, DP_SECRET_KEY_FILE);
	mode_t old = umask(0); /* a permissive umask must not widen the file */
	assert_int_equal(dp_secret_open(tmpdir, &s, &created, &err), 0);
	umask(old);
	assert_int_equal(created, 1);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(st.st_size, DP_SECRET_KEY_BYTES);

	/* second start: the same key, not a new one */
	assert_int_equal(dp_secret_open(tmpdir, &s2, &created, &err), 0);
	assert_int_equal(created, 0);
	char *enc = dp_secret_encrypt(s, "token-1", 7);
	char *plain = NULL;
	size_t n;
	assert_int_equal(dp_secret_decrypt(s2, enc, &plain, &n), 0);
	assert_string_equal(plain, "token-1");
	assert_int_equal(n, 7);
	dp_secret_wipe_free(plain);
	free(enc);
	dp_secret_free(s2);

	/* group/other-readable: refused */
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(dp_secret_open(tmpdir, &s2, &created, &err), -EPERM);
	assert_non_null(strstr(err, "chmod 600"));
	free(err);
	err = NULL;
	assert_int_equal(chmod(path, 0600), 0);

	/* wrong size: refused */
	int fd = open(path, O_WRONLY | O_APPEND);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "x", 1), 1);
	close(fd);
	assert_int_equal(dp_secret_open(tmpdir, &s2, &created, &err), -EINVAL);
	free(err);
	err = NULL;
	dp_secret_free(s);

	/* a missing directory is an error with a message, not a crash */
	char missing[600];
	snprintf(missing, sizeof(missing), "%s/nope/deeper", tmpdir);
	assert_true(dp_secret_open(missing, &s2, &created, &err) < 0);
	assert_non_null(err);
	free(err);
}

static void test_encrypt_roundtrip(void **state)
{
	(void)state;
	unsigned char k1[DP_SECRET_KEY_BYTES], k2[DP_SECRET_KEY_BYTES];
	memset(k1, 1, sizeof(k1));
	memset(k2, 2, sizeof(k2));
	struct dp_secret *a = dp_secret_from_key(k1), *b = dp_secret_from_key(k2);
	const char *tok = "sk-lm-Abcdefgh:Abcdefghijklmnopqrst";
	char *e1 = dp_secret_encrypt(a, tok, strlen(tok));
	char *e2 = dp_secret_encrypt(a, tok, strlen(tok));
	assert_non_null(e1);
	assert_memory_equal(e1, "v1:", 3);
	assert_string_not_equal(e1, e2); /* random nonces */
	assert_null(strstr(e1, "Abcdefgh"));
	char *p = NULL;
	assert_int_equal(dp_secret_decrypt(a, e1, &p, NULL), 0);
	assert_string_equal(p, tok);
	dp_secret_wipe_free(p);
	/* wrong key */
	assert_int_equal(dp_secret_decrypt(b, e1, &p, NULL), -EBADMSG);
	assert_null(p);
	/* tampered */
	size_t L = strlen(e2);
	e2[L / 2] = e2[L / 2] == 'A' ? 'B' : 'A';
	assert_true(dp_secret_decrypt(a, e2, &p, NULL) < 0);
	assert_null(p);
	/* not our format */
	assert_int_equal(dp_secret_decrypt(a, "plain", &p, NULL), -EINVAL);
	assert_int_equal(dp_secret_decrypt(a, "v1:!!!", &p, NULL), -EINVAL);
	assert_int_equal(dp_secret_decrypt(a, "v1:", &p, NULL), -EINVAL);
	/* empty and too long */
	char *e3 = dp_secret_encrypt(a, "", 0);
	assert_int_equal(dp_secret_decrypt(a, e3, &p, NULL), 0);
	assert_string_equal(p, "");
	dp_secret_wipe_free(p);
	char big[DP_SECRET_MAX_PLAIN + 2];
	memset(big, 'x', sizeof(big));
	assert_null(dp_secret_encrypt(a, big, sizeof(big)));
	free(e1);
	free(e2);
	free(e3);

	/* through the target: hint + ciphertext, token only by dp_target_token */
	struct dp_target t;
	dp_target_init(&t);
	dp_target_set_token(&t, a, tok);
	assert_non_null(t.api_key_enc);
	assert_string_equal(t.api_key_hint, "sk-lm-Ab\xe2\x80\xa6(35 chars)");
	json_t *j = dp_target_json(&t);
	char *txt = json_dumps(j, 0);
	assert_null(strstr(txt, "Abcdefghijklmnopqrst"));
	assert_null(strstr(txt, t.api_key_enc));
	assert_true(json_is_true(json_object_get(j, "has_api_key")));
	free(txt);
	json_decref(j);
	char *got = NULL;
	assert_int_equal(dp_target_token(&t, a, &got), 0);
	assert_string_equal(got, tok);
	dp_secret_wipe_free(got);
	assert_int_equal(dp_target_token(&t, b, &got), -EBADMSG);
	dp_target_set_token(&t, a, NULL);
	assert_null(t.api_key_enc);
	assert_string_equal(t.api_key_hint, "");
	assert_int_equal(dp_target_token(&t, a, &got), 0);
	assert_null(got);
	dp_target_release(&t);
	dp_secret_free(a);
	dp_secret_free(b);
}

static int count_cb(const struct dp_target *t, void *arg)
{
	(void)t;
	(*(int *)arg)++;
	return 0;
}

static void test_storage(void **state)
{
	(void)state;
	char path[512], *err = NULL;
	snprintf(path, sizeof(path), "%s/t.db", tmpdir);
	struct dp_store *s = dp_store_open(path, &err);
	assert_non_null(s);
	int64_t uid;
	assert_int_equal(dp_store_user_create(s, "u", "hash", DP_ROLE_VIEWER, 1, &uid), 0);

	struct dp_target t, u;
	dp_target_init(&t);
	snprintf(t.label, sizeof(t.label), "Box");
	snprintf(t.url, sizeof(t.url), "http://127.0.0.1:1234");
	snprintf(t.tags, sizeof(t.tags), "[\"lab\"]");
	t.lms_port = 1234;
	assert_int_equal(dp_targets_insert(s, &t, 10), 0);
	assert_true(t.id > 0);
	dp_target_init(&u);
	snprintf(u.label, sizeof(u.label), "box"); /* case-insensitive unique */
	snprintf(u.url, sizeof(u.url), "http://h");
	assert_int_equal(dp_targets_insert(s, &u, 10), -EEXIST);
	snprintf(u.label, sizeof(u.label), "other");
	assert_int_equal(dp_targets_insert(s, &u, 10), 0);

	struct dp_target g;
	assert_int_equal(dp_targets_get(s, t.id, &g), 0);
	assert_string_equal(g.label, "Box");
	assert_string_equal(g.tags, "[\"lab\"]");
	assert_int_equal(g.lms_port, 1234);
	assert_null(g.api_key_enc);
	dp_target_release(&g);

	snprintf(t.label, sizeof(t.label), "Box 2");
	assert_int_equal(dp_targets_update(s, &t, 20), 0);
	assert_int_equal(t.updated_at, 20);
	snprintf(t.label, sizeof(t.label), "OTHER");
	assert_int_equal(dp_targets_update(s, &t, 21), -EEXIST);

	int n = 0;
	assert_int_equal(dp_targets_each(s, count_cb, &n), 0);
	assert_int_equal(n, 2);

	int64_t active;
	assert_int_equal(dp_targets_active_get(s, uid, &active), 0);
	assert_int_equal(active, 0);
	assert_int_equal(dp_targets_active_set(s, uid, t.id, 30), 0);
	assert_int_equal(dp_targets_active_get(s, uid, &active), 0);
	assert_int_equal(active, t.id);
	assert_int_equal(dp_targets_active_set(s, uid, 999, 30), -ENOENT); /* foreign key */
	/* deleting the target clears the user's choice */
	assert_int_equal(dp_targets_delete(s, t.id), 0);
	assert_int_equal(dp_targets_delete(s, t.id), -ENOENT);
	assert_int_equal(dp_targets_active_get(s, uid, &active), 0);
	assert_int_equal(active, 0);
	assert_int_equal(dp_targets_get(s, t.id, &g), -ENOENT);
	dp_target_release(&t);
	dp_target_release(&u);
	dp_store_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_url_validation),
	        cmocka_unit_test(test_field_validation),
	        cmocka_unit_test(test_mask),
	        cmocka_unit_test(test_lms_endpoint),
	        cmocka_unit_test_setup_teardown(test_key_file, setup, teardown),
	        cmocka_unit_test(test_encrypt_roundtrip),
	        cmocka_unit_test_setup_teardown(test_storage, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
