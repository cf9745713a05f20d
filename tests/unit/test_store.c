/*
 * test_store.c - the SQLite store: migrations from an empty file and from
 * every earlier schema version end in the same schema, re-opening is
 * idempotent, a newer file is refused, foreign keys cascade, file modes,
 * the last-admin rule, sessions, tokens, settings and audit queries.
 */
#include <errno.h>
#include <setjmp.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "store.h"
#include "targets.h"

static char tmpdir[256];

static int setup(void **state)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/dp-test-store-XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	return 0;
}

static void rm_rf(const char *dir)
{
	/* Only files we created: db, -wal, -shm, and one nested level. */
	char p[512];
	const char *names[] = {"a.db",
	                       "a.db-wal",
	                       "a.db-shm",
	                       "b.db",
	                       "b.db-wal",
	                       "b.db-shm",
	                       "sub/deeper/c.db",
	                       "sub/deeper/c.db-wal",
	                       "sub/deeper/c.db-shm"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, names[i]);
		unlink(p);
	}
	snprintf(p, sizeof(p), "%s/sub/deeper", dir);
	rmdir(p);
	snprintf(p, sizeof(p), "%s/sub", dir);
	rmdir(p);
	rmdir(dir);
}

static int teardown(void **state)
{
	rm_rf(tmpdir);
	return 0;
}

static char *path_of(const char *name)
{
	static char p[512];
	snprintf(p, sizeof(p), "%s/%s", tmpdir, name);
	return p;
}

static struct dp_store *open_ok(const char *path)
{
	char *err = NULL;
	struct dp_store *s = dp_store_open(path, &err);
	if (!s)
		fail_msg("open %s: %s", path, err ? err : "?");
	return s;
}

/* The schema as text (tables and indexes, sorted) for comparisons. */
static char *schema_of(struct dp_store *s)
{
	sqlite3_stmt *st;
	size_t cap = 16384, len = 0;
	char *out = calloc(1, cap);
	assert_int_equal(sqlite3_prepare_v2(dp_store_db(s),
	                                    "SELECT type, name, sql FROM sqlite_master ORDER BY type, name", -1, &st,
	                                    NULL),
	                 SQLITE_OK);
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *sql = (const char *)sqlite3_column_text(st, 2);
		int n = snprintf(out + len, cap - len, "%s %s: %s\n", sqlite3_column_text(st, 0),
		                 sqlite3_column_text(st, 1), sql ? sql : "");
		assert_true(n > 0 && (size_t)n < cap - len);
		len += (size_t)n;
	}
	sqlite3_finalize(st);
	return out;
}

static void test_fresh_file(void **state)
{
	struct dp_store *s = open_ok(path_of("sub/deeper/c.db"));
	assert_int_equal(dp_store_version(s), dp_store_latest_version());
	assert_true(dp_store_latest_version() >= 2);

	/* WAL and foreign keys are on for this connection */
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_prepare_v2(dp_store_db(s), "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
	sqlite3_finalize(st);
	assert_int_equal(sqlite3_prepare_v2(dp_store_db(s), "PRAGMA foreign_keys", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(st, 0), 1);
	sqlite3_finalize(st);

	/* every table of this issue exists */
	char *schema = schema_of(s);
	const char *tables[] = {
	        "table users:", "table sessions:", "table api_tokens:", "table settings:", "table audit:"};
	for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++)
		assert_non_null(strstr(schema, tables[i]));
	free(schema);

	/* the WAL file SQLite creates inherits the database's 0600 */
	struct stat sb;
	assert_int_equal(dp_store_setting_set(s, "k", "v", 1), 0);
	assert_int_equal(stat(path_of("sub/deeper/c.db-wal"), &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	dp_store_free(s);

	/* modes: directory 0700, file 0600 */
	assert_int_equal(stat(path_of("sub/deeper"), &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0700);
	assert_int_equal(stat(path_of("sub"), &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0700);
	assert_int_equal(stat(path_of("sub/deeper/c.db"), &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
}

static void test_migrate_from_every_version(void **state)
{
	struct dp_store *ref = open_ok(path_of("a.db"));
	char *want = schema_of(ref);
	dp_store_free(ref);

	for (int v = 0; v < dp_store_latest_version(); v++) {
		char *err = NULL;
		unlink(path_of("b.db"));
		unlink(path_of("b.db-wal"));
		unlink(path_of("b.db-shm"));
		struct dp_store *old = dp_store_open_version(path_of("b.db"), v, &err);
		assert_non_null(old);
		assert_int_equal(dp_store_version(old), v);
		/* data written at an old version survives later migrations */
		if (v >= 1) {
			int64_t id;
			assert_int_equal(dp_store_user_create(old, "olduser", "$argon2id$x", DP_ROLE_ADMIN, 100, &id),
			                 0);
		}
		dp_store_free(old);

		struct dp_store *s = open_ok(path_of("b.db"));
		assert_int_equal(dp_store_version(s), dp_store_latest_version());
		char *got = schema_of(s);
		assert_string_equal(got, want);
		free(got);
		if (v >= 1) {
			struct dp_store_user u;
			assert_int_equal(dp_store_user_by_name(s, "olduser", &u), 0);
			assert_int_equal(u.role, DP_ROLE_ADMIN);
		}
		dp_store_free(s);
	}
	free(want);
}

static void test_reopen_idempotent_and_newer_refused(void **state)
{
	struct dp_store *s = open_ok(path_of("a.db"));
	int64_t id;
	assert_int_equal(dp_store_user_create(s, "alice", "$argon2id$h", DP_ROLE_ADMIN, 1, &id), 0);
	dp_store_free(s);
	for (int i = 0; i < 3; i++) {
		s = open_ok(path_of("a.db"));
		int64_t n = 0;
		assert_int_equal(dp_store_user_count(s, 0, &n), 0);
		assert_int_equal(n, 1);
		dp_store_free(s);
	}

	/* a file from a newer binary is refused with a clear message */
	s = open_ok(path_of("a.db"));
	char q[64];
	snprintf(q, sizeof(q), "PRAGMA user_version = %d", dp_store_latest_version() + 1);
	assert_int_equal(sqlite3_exec(dp_store_db(s), q, NULL, NULL, NULL), SQLITE_OK);
	dp_store_free(s);
	char *err = NULL;
	assert_null(dp_store_open(path_of("a.db"), &err));
	assert_non_null(err);
	assert_non_null(strstr(err, "newer than this binary"));
	free(err);
}

static int count_rows(struct dp_store *s, const char *table)
{
	char q[128];
	snprintf(q, sizeof(q), "SELECT count(*) FROM %s", table);
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_prepare_v2(dp_store_db(s), q, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	int n = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return n;
}

static void test_foreign_keys_cascade(void **state)
{
	struct dp_store *s = open_ok(path_of("a.db"));
	int64_t admin, bob, sid, tid;
	uint8_t h1[32] = {1}, h2[32] = {2};
	assert_int_equal(dp_store_user_create(s, "root", "$h", DP_ROLE_ADMIN, 1, &admin), 0);
	assert_int_equal(dp_store_user_create(s, "bob", "$h", DP_ROLE_VIEWER, 1, &bob), 0);
	assert_int_equal(dp_store_session_create(s, bob, h1, 10, 100, "127.0.0.1", &sid), 0);
	assert_int_equal(dp_store_token_create(s, bob, "ci", "dp_abcd", h2, 10, 0, &tid), 0);
	assert_int_equal(count_rows(s, "sessions"), 1);
	assert_int_equal(count_rows(s, "api_tokens"), 1);

	/* a session for a user that does not exist is refused by the FK */
	uint8_t h3[32] = {3};
	assert_int_equal(dp_store_session_create(s, 9999, h3, 10, 100, NULL, NULL), -ENOENT);

	assert_int_equal(dp_store_user_delete(s, bob), 0);
	assert_int_equal(count_rows(s, "sessions"), 0);
	assert_int_equal(count_rows(s, "api_tokens"), 0);
	struct dp_store_session ss;
	assert_int_equal(dp_store_session_lookup(s, h1, &ss), -ENOENT);
	assert_int_equal(dp_store_user_delete(s, bob), -ENOENT);
	dp_store_free(s);
}

static void test_users_and_last_admin(void **state)
{
	struct dp_store *s = open_ok(path_of("a.db"));
	int64_t a, b, c;
	assert_int_equal(dp_store_user_create(s, "admin", "$h1", DP_ROLE_ADMIN, 1, &a), 0);
	assert_int_equal(dp_store_user_create(s, "ADMIN", "$h1", DP_ROLE_VIEWER, 1, NULL), -EEXIST);
	assert_int_equal(dp_store_user_create(s, "op", "$h2", DP_ROLE_OPERATOR, 1, &b), 0);
	assert_int_equal(dp_store_user_create(s, "x", "$h2", DP_ROLE_PUBLIC, 1, NULL), -EINVAL);

	/* the only admin can be neither demoted nor deleted */
	assert_int_equal(dp_store_user_set_role(s, a, DP_ROLE_VIEWER, 2), -EBUSY);
	assert_int_equal(dp_store_user_delete(s, a), -EBUSY);
	/* with a second admin both work */
	assert_int_equal(dp_store_user_create(s, "second", "$h3", DP_ROLE_ADMIN, 1, &c), 0);
	assert_int_equal(dp_store_user_set_role(s, a, DP_ROLE_OPERATOR, 3), 0);
	assert_int_equal(dp_store_user_delete(s, c), -EBUSY);
	assert_int_equal(dp_store_user_set_role(s, 4242, DP_ROLE_ADMIN, 3), -ENOENT);
	assert_int_equal(dp_store_user_set_role(s, 4242, DP_ROLE_VIEWER, 3), -ENOENT);

	struct dp_store_user u;
	assert_int_equal(dp_store_user_get(s, a, &u), 0);
	assert_int_equal(u.role, DP_ROLE_OPERATOR);
	assert_int_equal(u.updated_at, 3);
	assert_int_equal(dp_store_user_by_name(s, "Admin", &u), 0); /* case-insensitive names */
	assert_int_equal(u.id, a);
	assert_int_equal(dp_store_user_set_password(s, a, "$new", 4), 0);
	assert_int_equal(dp_store_user_get(s, a, &u), 0);
	assert_string_equal(u.pwhash, "$new");
	assert_int_equal(dp_store_user_set_password(s, 4242, "$new", 4), -ENOENT);
	assert_int_equal(dp_store_user_touch_login(s, a, 77), 0);
	assert_int_equal(dp_store_user_get(s, a, &u), 0);
	assert_int_equal(u.last_login_at, 77);
	int64_t n;
	assert_int_equal(dp_store_user_count(s, DP_ROLE_ADMIN, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(dp_store_user_count(s, 0, &n), 0);
	assert_int_equal(n, 3);
	dp_store_free(s);
}

static void test_sessions(void **state)
{
	struct dp_store *s = open_ok(path_of("a.db"));
	int64_t u, s1, s2;
	uint8_t h1[32], h2[32];
	memset(h1, 0xa1, sizeof(h1));
	memset(h2, 0xb2, sizeof(h2));
	assert_int_equal(dp_store_user_create(s, "u", "$h", DP_ROLE_OPERATOR, 1, &u), 0);
	assert_int_equal(dp_store_session_create(s, u, h1, 1000, 1000 + 28800, "10.0.0.1", &s1), 0);
	assert_int_equal(dp_store_session_create(s, u, h2, 1000, 1000 + 28800, NULL, &s2), 0);
	assert_int_equal(dp_store_session_create(s, u, h2, 1000, 1000 + 28800, NULL, NULL), -EEXIST);
	struct dp_store_session ss;
	assert_int_equal(dp_store_session_lookup(s, h1, &ss), 0);
	assert_int_equal(ss.id, s1);
	assert_int_equal(ss.user.id, u);
	assert_string_equal(ss.user.username, "u");
	assert_int_equal(ss.user.role, DP_ROLE_OPERATOR);
	assert_int_equal(ss.expires_at, 1000 + 28800);
	assert_int_equal(ss.last_seen_at, 1000);
	assert_memory_equal(ss.hash, h1, 32);
	assert_int_equal(dp_store_session_get(s, s2, &ss), 0);
	assert_int_equal(ss.id, s2);
	assert_memory_equal(ss.hash, h2, 32);
	assert_int_equal(dp_store_session_touch(s, s1, 1500), 0);
	assert_int_equal(dp_store_session_lookup(s, h1, &ss), 0);
	assert_int_equal(ss.last_seen_at, 1500);

	/* revoke all but s1, then purge idle ones */
	assert_int_equal(dp_store_session_delete_user(s, u, s1), 0);
	assert_int_equal(dp_store_session_lookup(s, h2, &ss), -ENOENT);
	assert_int_equal(dp_store_session_purge(s, 1500 + 3599, 3600), 0);
	assert_int_equal(dp_store_session_lookup(s, h1, &ss), 0);
	assert_int_equal(dp_store_session_purge(s, 1500 + 3600, 3600), 0);
	assert_int_equal(dp_store_session_lookup(s, h1, &ss), -ENOENT);
	assert_int_equal(dp_store_session_delete(s, s1), -ENOENT);
	dp_store_free(s);
}

static int collect_tokens(const struct dp_store_token *t, void *arg)
{
	int *n = arg;
	(*n)++;
	return 0;
}

static void test_tokens(void **state)
{
	struct dp_store *s = open_ok(path_of("a.db"));
	int64_t u, v, t1;
	assert_int_equal(dp_store_user_create(s, "u", "$h", DP_ROLE_VIEWER, 1, &u), 0);
	assert_int_equal(dp_store_user_create(s, "v", "$h", DP_ROLE_VIEWER, 1, &v), 0);
	uint8_t h[32] = {0};
	h[0] = 1;
	assert_int_equal(dp_store_token_create(s, u, "ci", "dp_abcd", h, 10, 500, &t1), 0);
	struct dp_store_token t;
	assert_int_equal(dp_store_token_lookup(s, h, &t), 0);
	assert_int_equal(t.id, t1);
	assert_string_equal(t.name, "ci");
	assert_string_equal(t.prefix, "dp_abcd");
	assert_int_equal(t.expires_at, 500);
	assert_int_equal(t.last_used_at, 0);
	assert_string_equal(t.user.username, "u");
	assert_int_equal(t.user.role, DP_ROLE_VIEWER);
	assert_memory_equal(t.hash, h, 32);
	assert_int_equal(dp_store_token_touch(s, t1, 20), 0);
	assert_int_equal(dp_store_token_get(s, t1, &t), 0);
	assert_int_equal(t.last_used_at, 20);
	/* another user cannot delete it */
	assert_int_equal(dp_store_token_delete(s, t1, v), -ENOENT);
	/* the per-user limit */
	for (int i = 1; i < DP_STORE_TOKENS_PER_USER; i++) {
		h[1] = (uint8_t)i;
		assert_int_equal(dp_store_token_create(s, u, "n", "dp_x", h, 10, 0, NULL), 0);
	}
	h[1] = 0xff;
	assert_int_equal(dp_store_token_create(s, u, "n", "dp_x", h, 10, 0, NULL), -ENOSPC);
	int n = 0;
	assert_int_equal(dp_store_token_each(s, u, collect_tokens, &n), 0);
	assert_int_equal(n, DP_STORE_TOKENS_PER_USER);
	assert_int_equal(dp_store_token_delete(s, t1, u), 0);
	h[1] = 0;
	assert_int_equal(dp_store_token_lookup(s, h, &t), -ENOENT);
	dp_store_free(s);
}

static void test_settings(void **state)
{
	struct dp_store *s = open_ok(path_of("a.db"));
	char *v = NULL;
	assert_int_equal(dp_store_setting_get(s, "mode", &v), -ENOENT);
	assert_int_equal(dp_store_setting_set(s, "mode", "dev", 1), 0);
	assert_int_equal(dp_store_setting_set(s, "mode", "live", 2), 0);
	assert_int_equal(dp_store_setting_get(s, "mode", &v), 0);
	assert_string_equal(v, "live");
	free(v);
	dp_store_free(s);
}

struct audit_seen {
	int n;
	int64_t ids[300];
	char actions[300][32];
};

static int collect_audit(const struct dp_store_audit *e, void *arg)
{
	struct audit_seen *a = arg;
	a->ids[a->n] = e->id;
	snprintf(a->actions[a->n], sizeof(a->actions[0]), "%s", e->action);
	a->n++;
	return 0;
}

/* Free pages: a new file gives them back bit by bit (incremental
 * auto-vacuum); an old file (auto_vacuum none) is converted by VACUUM. */
static void fill_and_empty(struct dp_store *s)
{
	static char detail[2048];
	memset(detail, 'x', sizeof(detail) - 1);
	detail[0] = '"';
	detail[sizeof(detail) - 2] = '"';
	for (int i = 0; i < 2000; i++) {
		struct dp_store_audit e = {.at = 1000 + i, .action = "auth.login", .result = "ok", .detail = detail};
		assert_int_equal(dp_store_audit_insert(s, &e, NULL), 0);
	}
	while (dp_store_audit_prune(s, 1000000, 500) > 0)
		;
}

static void test_space(void **state)
{
	(void)state;
	struct dp_store *s = open_ok(path_of("a.db"));
	struct dp_store_space sp;
	assert_int_equal(dp_store_space(s, &sp), 0);
	assert_int_equal(sp.auto_vacuum, 2);
	fill_and_empty(s);
	assert_int_equal(dp_store_space(s, &sp), 0);
	int64_t pages = sp.pages, free0 = sp.free_pages;
	assert_true(free0 > 900); /* ~4 MiB of audit detail, deleted */
	assert_int_equal(dp_store_reclaim(s, 256), 256);
	assert_int_equal(dp_store_space(s, &sp), 0);
	assert_int_equal(sp.free_pages, free0 - 256);
	assert_int_equal(sp.pages, pages - 256);
	while (dp_store_reclaim(s, 256) > 0)
		;
	assert_int_equal(dp_store_space(s, &sp), 0);
	assert_int_equal(sp.free_pages, 0);
	dp_store_free(s);

	/* a file made before: auto_vacuum none, so reclaim does nothing */
	sqlite3 *db;
	assert_int_equal(sqlite3_open(path_of("old.db"), &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA auto_vacuum = NONE; CREATE TABLE t (x)", NULL, NULL, NULL),
	                 SQLITE_OK);
	sqlite3_close(db);
	s = open_ok(path_of("old.db"));
	fill_and_empty(s);
	assert_int_equal(dp_store_space(s, &sp), 0);
	assert_int_equal(sp.auto_vacuum, 0);
	assert_true(sp.free_pages > 900);
	assert_int_equal(dp_store_reclaim(s, 256), 0);
	char *err = NULL;
	int64_t users = 0;
	assert_int_equal(dp_store_user_create(s, "kept", "$argon2id$x", DP_ROLE_ADMIN, 1, NULL), 0);
	assert_int_equal(dp_store_vacuum(s, &err), 0);
	assert_int_equal(dp_store_space(s, &sp), 0);
	assert_int_equal(sp.auto_vacuum, 2);
	assert_int_equal(sp.free_pages, 0);
	assert_true(sp.pages < 100);
	assert_int_equal(dp_store_user_count(s, 0, &users), 0);
	assert_int_equal(users, 1); /* data kept */
	dp_store_free(s);
}

static void test_audit(void **state)
{
	struct dp_store *s = open_ok(path_of("a.db"));
	const char *actions[] = {"auth.login", "user.create", "user.update", "token.create"};
	for (int i = 0; i < 250; i++) {
		struct dp_store_audit e = {
		        .at = 1000 + i,
		        .user_id = i % 2 ? 1 : 0,
		        .username = i % 2 ? "admin" : "mallory",
		        .action = actions[i % 4],
		        .target = i % 4 == 1 ? "user:alice" : NULL,
		        .result = "ok",
		        .detail = "{\"k\":1}",
		        .ip = "127.0.0.1",
		};
		assert_int_equal(dp_store_audit_insert(s, &e, NULL), 0);
	}
	struct audit_seen *seen = calloc(1, sizeof(*seen));
	struct dp_store_audit_filter f = {.limit = 200};
	assert_int_equal(dp_store_audit_query(s, &f, collect_audit, seen), 0);
	assert_int_equal(seen->n, 200);
	assert_true(seen->ids[0] > seen->ids[1]); /* newest first */

	/* paging with before */
	memset(seen, 0, sizeof(*seen));
	f = (struct dp_store_audit_filter){.limit = 10, .before_id = 11};
	assert_int_equal(dp_store_audit_query(s, &f, collect_audit, seen), 0);
	assert_int_equal(seen->n, 10);
	assert_int_equal(seen->ids[0], 10);
	assert_int_equal(seen->ids[9], 1);

	/* prefix and exact actions, user, target, time range */
	memset(seen, 0, sizeof(*seen));
	f = (struct dp_store_audit_filter){.limit = 200, .action = "user."};
	assert_int_equal(dp_store_audit_query(s, &f, collect_audit, seen), 0);
	assert_int_equal(seen->n, 125);
	for (int i = 0; i < seen->n; i++)
		assert_memory_equal(seen->actions[i], "user.", 5);
	memset(seen, 0, sizeof(*seen));
	f = (struct dp_store_audit_filter){
	        .limit = 200, .action = "user.create", .target = "user:alice", .username = "admin"};
	assert_int_equal(dp_store_audit_query(s, &f, collect_audit, seen), 0);
	assert_int_equal(seen->n, 63); /* i = 1, 5, ... 249 (odd, so admin) */
	memset(seen, 0, sizeof(*seen));
	f = (struct dp_store_audit_filter){.limit = 200, .since = 1010, .until = 1019};
	assert_int_equal(dp_store_audit_query(s, &f, collect_audit, seen), 0);
	assert_int_equal(seen->n, 10);

	/* retention: entries before `at` go, oldest first, in bounded batches */
	assert_int_equal(dp_store_audit_prune(s, 1100, 60), 60); /* at 1000..1059 */
	assert_int_equal(dp_store_audit_prune(s, 1100, 60), 40); /* at 1060..1099 */
	assert_int_equal(dp_store_audit_prune(s, 1100, 60), 0);
	memset(seen, 0, sizeof(*seen));
	f = (struct dp_store_audit_filter){.limit = 1000};
	assert_int_equal(dp_store_audit_query(s, &f, collect_audit, seen), 0);
	assert_int_equal(seen->n, 150);
	memset(seen, 0, sizeof(*seen));
	f = (struct dp_store_audit_filter){.limit = 1000, .until = 1099};
	assert_int_equal(dp_store_audit_query(s, &f, collect_audit, seen), 0);
	assert_int_equal(seen->n, 0);
	free(seen);
	dp_store_free(s);
}

/* A deleted row's id is never handed out again (migration 7): a new user
 * must not inherit a deleted one's audit trail, a new target a deleted
 * one's conversations. Also across the 6 -> 7 migration of a file with
 * data: rows, ids and foreign keys survive. */
static void test_ids_never_reused(void **state)
{
	(void)state;
	char *err = NULL;
	struct dp_store *old = dp_store_open_version(path_of("c.db"), 6, &err);
	assert_non_null(old);
	int64_t a, b;
	assert_int_equal(dp_store_user_create(old, "a", "$h", DP_ROLE_ADMIN, 1, &a), 0);
	assert_int_equal(dp_store_user_create(old, "b", "$h", DP_ROLE_VIEWER, 1, &b), 0);
	uint8_t h[32] = {9};
	int64_t tb;
	assert_int_equal(dp_store_token_create(old, b, "t", "dp_x", h, 1, 0, &tb), 0);
	dp_store_free(old);

	struct dp_store *s = open_ok(path_of("c.db"));
	assert_int_equal(dp_store_version(s), dp_store_latest_version());
	struct dp_store_token t;
	assert_int_equal(dp_store_token_get(s, tb, &t), 0);
	assert_string_equal(t.user.username, "b");
	/* the foreign keys still cascade after the rebuild */
	assert_int_equal(dp_store_user_delete(s, b), 0);
	assert_int_equal(dp_store_token_get(s, tb, &t), -ENOENT);
	int64_t c;
	assert_int_equal(dp_store_user_create(s, "c", "$h", DP_ROLE_VIEWER, 2, &c), 0);
	assert_true(c > b);

	uint8_t h1[32] = {1}, h2[32] = {2};
	int64_t t1, t2, t3;
	assert_int_equal(dp_store_token_create(s, a, "1", "dp_1", h1, 1, 0, &t1), 0);
	assert_int_equal(dp_store_token_delete(s, t1, a), 0);
	assert_int_equal(dp_store_token_create(s, a, "2", "dp_2", h2, 1, 0, &t2), 0);
	assert_true(t2 > t1 && t1 > tb);
	assert_int_equal(dp_store_token_delete(s, t2, a), 0);
	assert_int_equal(dp_store_token_create(s, a, "3", "dp_3", h1, 1, 0, &t3), 0);
	assert_true(t3 > t2);

	struct dp_target x;
	dp_target_init(&x);
	snprintf(x.label, sizeof(x.label), "one");
	snprintf(x.url, sizeof(x.url), "http://127.0.0.1:1234");
	assert_int_equal(dp_targets_insert(s, &x, 1), 0);
	int64_t x1 = x.id;
	assert_int_equal(dp_targets_delete(s, x1), 0);
	snprintf(x.label, sizeof(x.label), "two");
	assert_int_equal(dp_targets_insert(s, &x, 1), 0);
	assert_true(x.id > x1);
	dp_target_release(&x);
	dp_store_free(s);
}

struct dl_seen {
	int n;
	char last_job[64];
	int64_t ended;
};

static int collect_dl(const struct dp_store_download *d, void *arg)
{
	struct dl_seen *x = arg;
	x->n++;
	snprintf(x->last_job, sizeof(x->last_job), "%s", d->job);
	x->ended = d->ended_at;
	return 0;
}

/* download jobs: upsert by (target, job id), listed, deleted, gone with their target */
static void test_downloads(void **state)
{
	(void)state;
	struct dp_store *s = open_ok(path_of("a.db"));
	struct dp_target t;
	dp_target_init(&t);
	snprintf(t.label, sizeof(t.label), "dl");
	snprintf(t.url, sizeof(t.url), "http://127.0.0.1:1234");
	assert_int_equal(dp_targets_insert(s, &t, 1), 0);
	struct dp_store_download d = {.target_id = t.id,
	                              .job_id = "job_1",
	                              .user_id = 0,
	                              .username = NULL,
	                              .job = "{\"status\":\"downloading\"}",
	                              .ended_at = 0};
	assert_int_equal(dp_store_download_put(s, &d, 10), 0);
	d.job = "{\"status\":\"completed\"}";
	d.ended_at = 20;
	assert_int_equal(dp_store_download_put(s, &d, 20), 0);
	struct dl_seen x = {0};
	assert_int_equal(dp_store_download_each(s, collect_dl, &x), 0);
	assert_int_equal(x.n, 1);
	assert_string_equal(x.last_job, "{\"status\":\"completed\"}");
	assert_int_equal(x.ended, 20);
	assert_int_equal(dp_store_download_delete(s, t.id, "job_1"), 0);
	memset(&x, 0, sizeof(x));
	assert_int_equal(dp_store_download_each(s, collect_dl, &x), 0);
	assert_int_equal(x.n, 0);
	d.job_id = "job_2";
	assert_int_equal(dp_store_download_put(s, &d, 30), 0);
	assert_int_equal(dp_targets_delete(s, t.id), 0);
	assert_int_equal(dp_store_download_each(s, collect_dl, &x), 0);
	assert_int_equal(x.n, 0);
	dp_target_release(&t);
	dp_store_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_fresh_file, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_migrate_from_every_version, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_reopen_idempotent_and_newer_refused, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_foreign_keys_cascade, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_users_and_last_admin, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_sessions, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_tokens, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_settings, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_audit, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_space, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_ids_never_reused, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_downloads, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
