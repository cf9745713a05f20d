/*
 * store.c - SQLite persistence and schema migrations (see store.h).
 *
 * Migrations: `migrations[]` below is the one ordered list of schema steps.
 * Step i (0-based) takes a file from user_version i to i+1. A step is SQL
 * run inside BEGIN IMMEDIATE together with `PRAGMA user_version = i+1`, so a
 * crash leaves the file at the old version, and two processes opening the
 * same file at once (server + CLI) cannot both apply a step: the version is
 * re-read inside the write transaction. Later issues append steps; a step
 * that has shipped is never edited.
 *
 * Statements are compiled on first use and kept in `stmts[]` (reset and
 * unbound after every use), so the hot paths (session and token lookup on
 * every authenticated request) cost no parsing.
 */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "xmalloc.h"

#define BUSY_TIMEOUT_MS 2000

static const char *const migrations[] = {
        /* 1: accounts, sessions, personal API tokens, settings */
        "CREATE TABLE users ("
        "  id INTEGER PRIMARY KEY,"
        "  username TEXT NOT NULL UNIQUE COLLATE NOCASE,"
        "  role TEXT NOT NULL CHECK (role IN ('viewer','operator','admin')),"
        "  pwhash TEXT NOT NULL,"
        "  created_at INTEGER NOT NULL,"
        "  updated_at INTEGER NOT NULL,"
        "  last_login_at INTEGER"
        ");"
        "CREATE TABLE sessions ("
        "  id INTEGER PRIMARY KEY,"
        "  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
        "  token_hash BLOB NOT NULL UNIQUE,"
        "  created_at INTEGER NOT NULL,"
        "  expires_at INTEGER NOT NULL,"
        "  last_seen_at INTEGER NOT NULL,"
        "  ip TEXT"
        ");"
        "CREATE INDEX sessions_user ON sessions(user_id);"
        "CREATE TABLE api_tokens ("
        "  id INTEGER PRIMARY KEY,"
        "  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
        "  name TEXT NOT NULL,"
        "  prefix TEXT NOT NULL,"
        "  token_hash BLOB NOT NULL UNIQUE,"
        "  created_at INTEGER NOT NULL,"
        "  last_used_at INTEGER,"
        "  expires_at INTEGER"
        ");"
        "CREATE INDEX api_tokens_user ON api_tokens(user_id);"
        "CREATE TABLE settings ("
        "  key TEXT PRIMARY KEY,"
        "  value TEXT NOT NULL,"
        "  updated_at INTEGER NOT NULL"
        ");",

        /* 2: audit trail. No foreign key to users: entries outlive accounts. */
        "CREATE TABLE audit ("
        "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
        "  at INTEGER NOT NULL,"
        "  user_id INTEGER,"
        "  username TEXT,"
        "  action TEXT NOT NULL,"
        "  target TEXT,"
        "  result TEXT NOT NULL,"
        "  detail TEXT,"
        "  ip TEXT"
        ");"
        "CREATE INDEX audit_at ON audit(at);"
        "CREATE INDEX audit_action ON audit(action);"
        "CREATE INDEX audit_username ON audit(username);",

        /* 3: daemon targets (api_key_enc: secret.c ciphertext, never plain) and
         * each user's active target */
        "CREATE TABLE targets ("
        "  id INTEGER PRIMARY KEY,"
        "  label TEXT NOT NULL UNIQUE COLLATE NOCASE,"
        "  url TEXT NOT NULL,"
        "  api_key_enc TEXT,"
        "  api_key_hint TEXT,"
        "  lms_host TEXT,"
        "  lms_port INTEGER,"
        "  tags TEXT NOT NULL DEFAULT '[]',"
        "  created_at INTEGER NOT NULL,"
        "  updated_at INTEGER NOT NULL"
        ");"
        "CREATE TABLE user_targets ("
        "  user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,"
        "  target_id INTEGER REFERENCES targets(id) ON DELETE SET NULL,"
        "  updated_at INTEGER NOT NULL"
        ");",

        /* 4: chat history (issue 7, conversations.c): conversations per user and
         * their messages. target_id has no foreign key: history outlives targets */
        "CREATE TABLE conversations ("
        "  id INTEGER PRIMARY KEY,"
        "  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
        "  title TEXT NOT NULL,"
        "  target_id INTEGER,"
        "  model TEXT NOT NULL DEFAULT '',"
        "  api TEXT NOT NULL DEFAULT 'v1',"
        "  system_prompt TEXT,"
        "  created_at INTEGER NOT NULL,"
        "  updated_at INTEGER NOT NULL"
        ");"
        "CREATE INDEX conversations_user ON conversations(user_id, updated_at);"
        "CREATE TABLE conversation_messages ("
        "  id INTEGER PRIMARY KEY,"
        "  conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,"
        "  role TEXT NOT NULL CHECK (role IN ('system','user','assistant')),"
        "  content TEXT NOT NULL,"
        "  reasoning TEXT,"
        "  model TEXT,"
        "  stats TEXT,"
        "  stop_reason TEXT,"
        "  created_at INTEGER NOT NULL"
        ");"
        "CREATE INDEX conversation_messages_conv ON conversation_messages(conversation_id, id);",

        /* 5: the MCP toolchain (issue 10, mcp_registry.c): servers per target
         * (ephemeral ones with encrypted header values; mcp_json rows stand for
         * the host's mcp.json entries and hold their policy), discovered tools,
         * and per-tool decisions bound to the server identity and schema hash */
        "CREATE TABLE mcp_servers ("
        "  id INTEGER PRIMARY KEY,"
        "  target_id INTEGER NOT NULL REFERENCES targets(id) ON DELETE CASCADE,"
        "  kind TEXT NOT NULL CHECK (kind IN ('ephemeral','mcp_json')),"
        "  label TEXT NOT NULL,"
        "  url TEXT,"
        "  headers_enc TEXT,"
        "  header_names TEXT NOT NULL DEFAULT '[]',"
        "  spec TEXT,"
        "  identity TEXT NOT NULL,"
        "  auto_allow_read_only INTEGER NOT NULL DEFAULT 0,"
        "  in_mcp_json INTEGER NOT NULL DEFAULT 1,"
        "  discovery TEXT,"
        "  created_at INTEGER NOT NULL,"
        "  updated_at INTEGER NOT NULL,"
        "  UNIQUE (target_id, kind, label)"
        ");"
        "CREATE TABLE mcp_tools ("
        "  server_id INTEGER NOT NULL REFERENCES mcp_servers(id) ON DELETE CASCADE,"
        "  name TEXT NOT NULL,"
        "  tool TEXT NOT NULL,"
        "  schema_hash TEXT NOT NULL,"
        "  present INTEGER NOT NULL DEFAULT 1,"
        "  first_seen_at INTEGER NOT NULL,"
        "  last_seen_at INTEGER NOT NULL,"
        "  PRIMARY KEY (server_id, name)"
        ");"
        "CREATE TABLE mcp_policy ("
        "  server_id INTEGER NOT NULL REFERENCES mcp_servers(id) ON DELETE CASCADE,"
        "  tool TEXT NOT NULL,"
        "  decision TEXT NOT NULL CHECK (decision IN ('allow','deny')),"
        "  identity TEXT NOT NULL,"
        "  schema_hash TEXT NOT NULL,"
        "  decided_by TEXT NOT NULL DEFAULT '',"
        "  decided_at INTEGER NOT NULL,"
        "  PRIMARY KEY (server_id, tool)"
        ");",

        /* 6: the host agent of a target (issue 9, agent_client.c): its URL and
         * bearer token (encrypted with secret.h, write-only) */
        "CREATE TABLE target_agents ("
        "  target_id INTEGER PRIMARY KEY REFERENCES targets(id) ON DELETE CASCADE,"
        "  url TEXT NOT NULL,"
        "  token_enc TEXT NOT NULL,"
        "  token_hint TEXT NOT NULL DEFAULT '',"
        "  created_at INTEGER NOT NULL,"
        "  updated_at INTEGER NOT NULL"
        ");",

        /* 7: ids are never reused. INTEGER PRIMARY KEY hands a deleted row's id
         * to the next insert when it was the largest: a new user would inherit
         * a deleted one's audit entries (audit.user_id has no foreign key, by
         * design), a new target a deleted one's saved conversations
         * (conversations.target_id likewise). Rebuilt with AUTOINCREMENT, the
         * SQLite way (foreign keys off around the step, checked before commit;
         * see migrate()). */
        "CREATE TABLE users_v7 ("
        "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
        "  username TEXT NOT NULL UNIQUE COLLATE NOCASE,"
        "  role TEXT NOT NULL CHECK (role IN ('viewer','operator','admin')),"
        "  pwhash TEXT NOT NULL,"
        "  created_at INTEGER NOT NULL,"
        "  updated_at INTEGER NOT NULL,"
        "  last_login_at INTEGER"
        ");"
        "INSERT INTO users_v7 (id, username, role, pwhash, created_at, updated_at, last_login_at)"
        "  SELECT id, username, role, pwhash, created_at, updated_at, last_login_at FROM users;"
        "DROP TABLE users;"
        "ALTER TABLE users_v7 RENAME TO users;"
        "CREATE TABLE api_tokens_v7 ("
        "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
        "  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
        "  name TEXT NOT NULL,"
        "  prefix TEXT NOT NULL,"
        "  token_hash BLOB NOT NULL UNIQUE,"
        "  created_at INTEGER NOT NULL,"
        "  last_used_at INTEGER,"
        "  expires_at INTEGER"
        ");"
        "INSERT INTO api_tokens_v7 (id, user_id, name, prefix, token_hash, created_at, last_used_at, expires_at)"
        "  SELECT id, user_id, name, prefix, token_hash, created_at, last_used_at, expires_at FROM api_tokens;"
        "DROP TABLE api_tokens;"
        "ALTER TABLE api_tokens_v7 RENAME TO api_tokens;"
        "CREATE INDEX api_tokens_user ON api_tokens(user_id);"
        "CREATE TABLE targets_v7 ("
        "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
        "  label TEXT NOT NULL UNIQUE COLLATE NOCASE,"
        "  url TEXT NOT NULL,"
        "  api_key_enc TEXT,"
        "  api_key_hint TEXT,"
        "  lms_host TEXT,"
        "  lms_port INTEGER,"
        "  tags TEXT NOT NULL DEFAULT '[]',"
        "  created_at INTEGER NOT NULL,"
        "  updated_at INTEGER NOT NULL"
        ");"
        "INSERT INTO targets_v7 (id, label, url, api_key_enc, api_key_hint, lms_host, lms_port, tags, created_at,"
        "  updated_at) SELECT id, label, url, api_key_enc, api_key_hint, lms_host, lms_port, tags, created_at,"
        "  updated_at FROM targets;"
        "DROP TABLE targets;"
        "ALTER TABLE targets_v7 RENAME TO targets;",

        /* 8: the Forge's download jobs (forge.c), so that a restart of the
         * control plane does not lose track of a download LM Studio is still
         * running: `job` is the job's JSON as the API shows it; active ones
         * (ended_at NULL) are polled again after a restart */
        "CREATE TABLE forge_downloads ("
        "  target_id INTEGER NOT NULL REFERENCES targets(id) ON DELETE CASCADE,"
        "  job_id TEXT NOT NULL,"
        "  user_id INTEGER,"
        "  username TEXT,"
        "  job TEXT NOT NULL,"
        "  ended_at INTEGER,"
        "  updated_at INTEGER NOT NULL,"
        "  PRIMARY KEY (target_id, job_id)"
        ");",

        /* 9: history ids are never reused either (as 7 did for users, tokens
         * and targets). Regenerating an answer deletes the newest message, and
         * the next answer must not take its id; a deleted conversation's id
         * must not open a new one from an old link (/pulse?c=ID). */
        "CREATE TABLE conversations_v9 ("
        "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
        "  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
        "  title TEXT NOT NULL,"
        "  target_id INTEGER,"
        "  model TEXT NOT NULL DEFAULT '',"
        "  api TEXT NOT NULL DEFAULT 'v1',"
        "  system_prompt TEXT,"
        "  created_at INTEGER NOT NULL,"
        "  updated_at INTEGER NOT NULL"
        ");"
        "INSERT INTO conversations_v9 (id, user_id, title, target_id, model, api, system_prompt, created_at,"
        "  updated_at) SELECT id, user_id, title, target_id, model, api, system_prompt, created_at, updated_at"
        "  FROM conversations;"
        "DROP TABLE conversations;"
        "ALTER TABLE conversations_v9 RENAME TO conversations;"
        "CREATE INDEX conversations_user ON conversations(user_id, updated_at);"
        "CREATE TABLE conversation_messages_v9 ("
        "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
        "  conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,"
        "  role TEXT NOT NULL CHECK (role IN ('system','user','assistant')),"
        "  content TEXT NOT NULL,"
        "  reasoning TEXT,"
        "  model TEXT,"
        "  stats TEXT,"
        "  stop_reason TEXT,"
        "  created_at INTEGER NOT NULL"
        ");"
        "INSERT INTO conversation_messages_v9 (id, conversation_id, role, content, reasoning, model, stats,"
        "  stop_reason, created_at) SELECT id, conversation_id, role, content, reasoning, model, stats,"
        "  stop_reason, created_at FROM conversation_messages;"
        "DROP TABLE conversation_messages;"
        "ALTER TABLE conversation_messages_v9 RENAME TO conversation_messages;"
        "CREATE INDEX conversation_messages_conv ON conversation_messages(conversation_id, id);",
};
#define NMIGRATIONS ((int)(sizeof(migrations) / sizeof(migrations[0])))

enum q {
	Q_USER_INSERT,
	Q_USER_GET,
	Q_USER_BY_NAME,
	Q_USER_ALL,
	Q_USER_COUNT,
	Q_USER_COUNT_ROLE,
	Q_USER_SET_ROLE,
	Q_USER_SET_PW,
	Q_USER_TOUCH,
	Q_USER_DELETE,
	Q_SESS_INSERT,
	Q_SESS_LOOKUP,
	Q_SESS_GET,
	Q_SESS_TOUCH,
	Q_SESS_DELETE,
	Q_SESS_DELETE_USER,
	Q_SESS_PURGE,
	Q_TOK_COUNT,
	Q_TOK_INSERT,
	Q_TOK_LOOKUP,
	Q_TOK_GET,
	Q_TOK_TOUCH,
	Q_TOK_EACH,
	Q_TOK_DELETE,
	Q_SET_GET,
	Q_SET_PUT,
	Q_AUDIT_INSERT,
	Q_AUDIT_QUERY,
	Q_AUDIT_PRUNE,
	Q_DL_PUT,
	Q_DL_ALL,
	Q_DL_DELETE,
	Q_BEGIN,
	Q_COMMIT,
	Q_ROLLBACK,
	Q__COUNT
};

#define USER_COLS "id, username, role, pwhash, created_at, updated_at, last_login_at"
#define TOK_COLS  "t.id, t.user_id, t.name, t.prefix, t.created_at, t.last_used_at, t.expires_at, t.token_hash"

static const char *const sql[Q__COUNT] = {
        [Q_USER_INSERT] = "INSERT INTO users (username, role, pwhash, created_at, updated_at) "
                          "VALUES (?1, ?2, ?3, ?4, ?4)",
        [Q_USER_GET] = "SELECT " USER_COLS " FROM users WHERE id = ?1",
        [Q_USER_BY_NAME] = "SELECT " USER_COLS " FROM users WHERE username = ?1",
        [Q_USER_ALL] = "SELECT " USER_COLS " FROM users ORDER BY username",
        [Q_USER_COUNT] = "SELECT count(*) FROM users",
        [Q_USER_COUNT_ROLE] = "SELECT count(*) FROM users WHERE role = ?1",
        [Q_USER_SET_ROLE] = "UPDATE users SET role = ?2, updated_at = ?3 WHERE id = ?1",
        [Q_USER_SET_PW] = "UPDATE users SET pwhash = ?2, updated_at = ?3 WHERE id = ?1",
        [Q_USER_TOUCH] = "UPDATE users SET last_login_at = ?2 WHERE id = ?1",
        [Q_USER_DELETE] = "DELETE FROM users WHERE id = ?1",
        [Q_SESS_INSERT] = "INSERT INTO sessions (user_id, token_hash, created_at, expires_at, last_seen_at, ip) "
                          "VALUES (?1, ?2, ?3, ?4, ?3, ?5)",
        [Q_SESS_LOOKUP] =
                "SELECT s.id, s.created_at, s.expires_at, s.last_seen_at, u.id, u.username, u.role, s.token_hash "
                "FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = ?1",
        [Q_SESS_GET] =
                "SELECT s.id, s.created_at, s.expires_at, s.last_seen_at, u.id, u.username, u.role, s.token_hash "
                "FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = ?1",
        [Q_SESS_TOUCH] = "UPDATE sessions SET last_seen_at = ?2 WHERE id = ?1",
        [Q_SESS_DELETE] = "DELETE FROM sessions WHERE id = ?1",
        [Q_SESS_DELETE_USER] = "DELETE FROM sessions WHERE user_id = ?1 AND id != ?2",
        [Q_SESS_PURGE] = "DELETE FROM sessions WHERE expires_at <= ?1 OR last_seen_at <= ?1 - ?2",
        [Q_TOK_COUNT] = "SELECT count(*) FROM api_tokens WHERE user_id = ?1",
        [Q_TOK_INSERT] = "INSERT INTO api_tokens (user_id, name, prefix, token_hash, created_at, expires_at) "
                         "VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        [Q_TOK_LOOKUP] = "SELECT " TOK_COLS ", u.username, u.role FROM api_tokens t "
                         "JOIN users u ON u.id = t.user_id WHERE t.token_hash = ?1",
        [Q_TOK_GET] = "SELECT " TOK_COLS ", u.username, u.role FROM api_tokens t "
                      "JOIN users u ON u.id = t.user_id WHERE t.id = ?1",
        [Q_TOK_TOUCH] = "UPDATE api_tokens SET last_used_at = ?2 WHERE id = ?1",
        [Q_TOK_EACH] = "SELECT " TOK_COLS ", u.username, u.role FROM api_tokens t "
                       "JOIN users u ON u.id = t.user_id WHERE t.user_id = ?1 ORDER BY t.id DESC",
        [Q_TOK_DELETE] = "DELETE FROM api_tokens WHERE id = ?1 AND user_id = ?2",
        [Q_SET_GET] = "SELECT value FROM settings WHERE key = ?1",
        [Q_SET_PUT] = "INSERT INTO settings (key, value, updated_at) VALUES (?1, ?2, ?3) "
                      "ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        [Q_AUDIT_INSERT] = "INSERT INTO audit (at, user_id, username, action, target, result, detail, ip) "
                           "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        [Q_AUDIT_QUERY] = "SELECT id, at, user_id, username, action, target, result, detail, ip FROM audit "
                          "WHERE (?1 = 0 OR id < ?1) AND (?2 = 0 OR at >= ?2) AND (?3 = 0 OR at <= ?3) "
                          "AND (?4 IS NULL OR username = ?4) AND (?5 IS NULL OR action = ?5) "
                          "AND (?6 IS NULL OR substr(action, 1, length(?6)) = ?6) "
                          "AND (?7 IS NULL OR target = ?7) ORDER BY id DESC LIMIT ?8",
        [Q_AUDIT_PRUNE] = "DELETE FROM audit WHERE id IN (SELECT id FROM audit WHERE at < ?1 ORDER BY id LIMIT ?2)",
        [Q_DL_PUT] = "INSERT INTO forge_downloads (target_id, job_id, user_id, username, job, ended_at, updated_at) "
                     "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT(target_id, job_id) DO UPDATE SET "
                     "job = excluded.job, ended_at = excluded.ended_at, updated_at = excluded.updated_at",
        [Q_DL_ALL] =
                "SELECT target_id, job_id, user_id, username, job, ended_at FROM forge_downloads ORDER BY updated_at",
        [Q_DL_DELETE] = "DELETE FROM forge_downloads WHERE target_id = ?1 AND job_id = ?2",
        [Q_BEGIN] = "BEGIN IMMEDIATE",
        [Q_COMMIT] = "COMMIT",
        [Q_ROLLBACK] = "ROLLBACK",
};

struct dp_store {
	sqlite3 *db;
	sqlite3_stmt *stmts[Q__COUNT];
	int version;
};

static int fail(struct dp_store *s, const char *what)
{
	int rc = sqlite3_extended_errcode(s->db);
	if ((rc & 0xff) == SQLITE_CONSTRAINT) {
		if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY)
			return -EEXIST;
		dp_warn("store: %s: %s", what, sqlite3_errmsg(s->db));
		return -EINVAL;
	}
	dp_error("store: %s: %s", what, sqlite3_errmsg(s->db));
	return (rc & 0xff) == SQLITE_BUSY ? -EAGAIN : -EIO;
}

/* The cached statement for `id`, reset and unbound. NULL (logged) when it
 * does not compile, which is a programming error caught by the unit tests. */
static sqlite3_stmt *stmt(struct dp_store *s, enum q id)
{
	sqlite3_stmt *st = s->stmts[id];
	if (!st) {
		if (sqlite3_prepare_v3(s->db, sql[id], -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK) {
			dp_error("store: cannot prepare query %d: %s", (int)id, sqlite3_errmsg(s->db));
			return NULL;
		}
		s->stmts[id] = st;
	}
	return st;
}

static void done(sqlite3_stmt *st)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

/* Step a statement that returns no rows; 0 or -errno. */
static int exec_stmt(struct dp_store *s, sqlite3_stmt *st, const char *what)
{
	int rc = sqlite3_step(st);
	int ret = rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : fail(s, what);
	done(st);
	return ret;
}

static int exec_q(struct dp_store *s, enum q id, const char *what)
{
	sqlite3_stmt *st = stmt(s, id);
	return st ? exec_stmt(s, st, what) : -EIO;
}

static void bind_text_or_null(sqlite3_stmt *st, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, i);
}

static void copy_col(char *out, size_t n, sqlite3_stmt *st, int col)
{
	const unsigned char *v = sqlite3_column_text(st, col);
	size_t len = v ? (size_t)sqlite3_column_bytes(st, col) : 0;
	if (len >= n)
		len = n - 1;
	if (len)
		memcpy(out, v, len);
	out[len] = '\0';
}

static void copy_hash(uint8_t out[DP_STORE_HASH_BYTES], sqlite3_stmt *st, int col)
{
	const void *p = sqlite3_column_blob(st, col);
	memset(out, 0, DP_STORE_HASH_BYTES);
	if (p && sqlite3_column_bytes(st, col) == DP_STORE_HASH_BYTES)
		memcpy(out, p, DP_STORE_HASH_BYTES);
}

static int role_from_db(sqlite3_stmt *st, int col)
{
	int r = dp_role_parse((const char *)sqlite3_column_text(st, col));
	return r < 0 ? DP_ROLE_VIEWER : r; /* the CHECK constraint makes this unreachable */
}

/* --- opening and migrating --- */

static int mkdir_parents(const char *path)
{
	char *dir = xstrdup(path);
	char *slash = strrchr(dir, '/');
	if (!slash || slash == dir) {
		free(dir);
		return 0;
	}
	*slash = '\0';
	for (char *p = dir + 1;; p++) {
		if (*p == '/' || *p == '\0') {
			char c = *p;
			*p = '\0';
			if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
				int e = -errno;
				free(dir);
				return e;
			}
			*p = c;
			if (!c)
				break;
		}
	}
	free(dir);
	return 0;
}

static int get_version(sqlite3 *db, int *v)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
		return -EIO;
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : -EIO;
}

static char *db_err(sqlite3 *db, const char *what, const char *path)
{
	return xasprintf("%s '%s': %s", what, path, db ? sqlite3_errmsg(db) : "out of memory");
}

/* sqlite3_exec callback: count the rows a statement returns. */
static int count_rows(void *arg, int ncol, char **vals, char **names)
{
	(void)ncol;
	(void)vals;
	(void)names;
	(*(int *)arg)++;
	return 0;
}

static int migrate(struct dp_store *s, int max_version, const char *path, char **err)
{
	for (;;) {
		int v;
		if (get_version(s->db, &v) < 0) {
			*err = db_err(s->db, "cannot read schema version of", path);
			return -EIO;
		}
		if (v > NMIGRATIONS) {
			*err = xasprintf("database '%s' has schema version %d, newer than this binary (%d)", path, v,
			                 NMIGRATIONS);
			return -EPROTO;
		}
		if (v >= max_version) {
			s->version = v;
			return 0;
		}
		char *msg = NULL;
		/* a step may rebuild a table that others reference (7): foreign
		 * keys are off for the step (the pragma is a no-op inside a
		 * transaction) and checked before it commits */
		sqlite3_exec(s->db, "PRAGMA foreign_keys = OFF", NULL, NULL, NULL);
		if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, &msg) != SQLITE_OK) {
			sqlite3_exec(s->db, "PRAGMA foreign_keys = ON", NULL, NULL, NULL);
			*err = xasprintf("cannot migrate '%s': %s", path, msg ? msg : "?");
			sqlite3_free(msg);
			return -EIO;
		}
		/* Re-read inside the write lock: another process may have migrated. */
		if (get_version(s->db, &v) < 0 || v >= max_version) {
			sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
			sqlite3_exec(s->db, "PRAGMA foreign_keys = ON", NULL, NULL, NULL);
			continue;
		}
		char setv[64];
		snprintf(setv, sizeof(setv), "PRAGMA user_version = %d", v + 1);
		int broken = 0,
		    failed = sqlite3_exec(s->db, migrations[v], NULL, NULL, &msg) != SQLITE_OK ||
		             sqlite3_exec(s->db, "PRAGMA foreign_key_check", count_rows, &broken, &msg) != SQLITE_OK;
		if (!failed && broken) {
			msg = sqlite3_mprintf("%d rows would break a foreign key", broken);
			failed = 1;
		}
		if (failed || sqlite3_exec(s->db, setv, NULL, NULL, &msg) != SQLITE_OK ||
		    sqlite3_exec(s->db, "COMMIT", NULL, NULL, &msg) != SQLITE_OK) {
			*err = xasprintf("migration %d of '%s' failed: %s", v + 1, path, msg ? msg : "?");
			sqlite3_free(msg);
			sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
			sqlite3_exec(s->db, "PRAGMA foreign_keys = ON", NULL, NULL, NULL);
			return -EIO;
		}
		sqlite3_exec(s->db, "PRAGMA foreign_keys = ON", NULL, NULL, NULL);
		dp_debug("store: migrated '%s' to schema version %d", path, v + 1);
	}
}

/* A pragma's integer answer, or -1. */
static int64_t pragma_int(sqlite3 *db, const char *q)
{
	sqlite3_stmt *st;
	int64_t v = -1;
	if (sqlite3_prepare_v2(db, q, -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

struct dp_store *dp_store_open_version(const char *path, int max_version, char **err)
{
	*err = NULL;
	if (max_version > NMIGRATIONS)
		max_version = NMIGRATIONS;
	int mem = strcmp(path, ":memory:") == 0;
	if (!mem) {
		int e = mkdir_parents(path);
		if (e < 0) {
			*err = xasprintf("cannot create the directory of '%s': %s", path, strerror(-e));
			return NULL;
		}
		/* Create the file ourselves so it is 0600 whatever the umask;
		 * SQLite gives -wal and -shm the same mode. */
		int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		if (fd < 0) {
			*err = xasprintf("cannot open '%s': %s", path, strerror(errno));
			return NULL;
		}
		struct stat st;
		if (fstat(fd, &st) == 0 && st.st_size == 0)
			fchmod(fd, 0600);
		close(fd);
	}

	struct dp_store *s = xcalloc(1, sizeof(*s));
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
	if (sqlite3_open_v2(path, &s->db, flags, NULL) != SQLITE_OK) {
		*err = db_err(s->db, "cannot open", path);
		dp_store_free(s);
		return NULL;
	}
	sqlite3_extended_result_codes(s->db, 1);
	sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);

	char *msg = NULL;
	sqlite3_stmt *st;
	/* a new file gives deleted pages back over time (dp_store_reclaim);
	 * this works only before the first table exists */
	if (!mem && pragma_int(s->db, "PRAGMA page_count") == 0)
		sqlite3_exec(s->db, "PRAGMA auto_vacuum = INCREMENTAL", NULL, NULL, NULL);
	int wal = 0;
	if (sqlite3_prepare_v2(s->db, "PRAGMA journal_mode = WAL", -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW) {
			const char *m = (const char *)sqlite3_column_text(st, 0);
			wal = m && (strcmp(m, "wal") == 0 || (mem && strcmp(m, "memory") == 0));
		}
		sqlite3_finalize(st);
	}
	if (!wal) {
		*err = db_err(s->db, "cannot switch to WAL mode:", path);
		dp_store_free(s);
		return NULL;
	}
	if (sqlite3_exec(s->db, "PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;", NULL, NULL, &msg) !=
	    SQLITE_OK) {
		*err = xasprintf("cannot configure '%s': %s", path, msg ? msg : "?");
		sqlite3_free(msg);
		dp_store_free(s);
		return NULL;
	}
	if (migrate(s, max_version, path, err) < 0) {
		dp_store_free(s);
		return NULL;
	}
	return s;
}

int dp_store_space(struct dp_store *s, struct dp_store_space *out)
{
	out->page_size = pragma_int(s->db, "PRAGMA page_size");
	out->pages = pragma_int(s->db, "PRAGMA page_count");
	out->free_pages = pragma_int(s->db, "PRAGMA freelist_count");
	out->auto_vacuum = (int)pragma_int(s->db, "PRAGMA auto_vacuum");
	return out->page_size < 0 || out->pages < 0 || out->free_pages < 0 || out->auto_vacuum < 0 ? -EIO : 0;
}

int dp_store_reclaim(struct dp_store *s, int pages)
{
	if (pragma_int(s->db, "PRAGMA auto_vacuum") != 2)
		return 0;
	int64_t before = pragma_int(s->db, "PRAGMA freelist_count");
	if (before <= 0)
		return before < 0 ? -EIO : 0;
	char q[64];
	snprintf(q, sizeof(q), "PRAGMA incremental_vacuum(%d)", pages < 1 ? 1 : pages);
	/* the pragma returns a row per step: run it to the end */
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(s->db, q, -1, &st, NULL) != SQLITE_OK)
		return -EIO;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		;
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return -EIO;
	int64_t after = pragma_int(s->db, "PRAGMA freelist_count");
	return after < 0 ? -EIO : (int)(before - after);
}

int dp_store_vacuum(struct dp_store *s, char **err)
{
	char *msg = NULL;
	if (sqlite3_exec(s->db, "PRAGMA auto_vacuum = INCREMENTAL; VACUUM", NULL, NULL, &msg) != SQLITE_OK) {
		*err = xasprintf("VACUUM failed: %s", msg ? msg : sqlite3_errmsg(s->db));
		sqlite3_free(msg);
		return -EIO;
	}
	return 0;
}

struct dp_store *dp_store_open(const char *path, char **err)
{
	return dp_store_open_version(path, NMIGRATIONS, err);
}

void dp_store_free(struct dp_store *s)
{
	if (!s)
		return;
	for (int i = 0; i < Q__COUNT; i++)
		sqlite3_finalize(s->stmts[i]);
	sqlite3_close(s->db);
	free(s);
}

int dp_store_version(struct dp_store *s)
{
	return s->version;
}

int dp_store_latest_version(void)
{
	return NMIGRATIONS;
}

struct sqlite3 *dp_store_db(struct dp_store *s)
{
	return s->db;
}

/* --- users --- */

static void read_user(sqlite3_stmt *st, struct dp_store_user *u)
{
	memset(u, 0, sizeof(*u));
	u->id = sqlite3_column_int64(st, 0);
	copy_col(u->username, sizeof(u->username), st, 1);
	u->role = role_from_db(st, 2);
	copy_col(u->pwhash, sizeof(u->pwhash), st, 3);
	u->created_at = sqlite3_column_int64(st, 4);
	u->updated_at = sqlite3_column_int64(st, 5);
	u->last_login_at = sqlite3_column_int64(st, 6);
}

int dp_store_user_create(struct dp_store *s, const char *username, const char *pwhash, int role, int64_t now,
                         int64_t *id)
{
	const char *rn = dp_role_name(role);
	if (!rn || role < DP_ROLE_VIEWER)
		return -EINVAL;
	sqlite3_stmt *st = stmt(s, Q_USER_INSERT);
	if (!st)
		return -EIO;
	sqlite3_bind_text(st, 1, username, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, rn, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, pwhash, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 4, now);
	int ret = exec_stmt(s, st, "create user");
	if (ret == 0 && id)
		*id = sqlite3_last_insert_rowid(s->db);
	return ret;
}

static int user_one(struct dp_store *s, sqlite3_stmt *st, struct dp_store_user *out)
{
	int rc = sqlite3_step(st);
	int ret = 0;
	if (rc == SQLITE_ROW)
		read_user(st, out);
	else
		ret = rc == SQLITE_DONE ? -ENOENT : fail(s, "read user");
	done(st);
	return ret;
}

int dp_store_user_get(struct dp_store *s, int64_t id, struct dp_store_user *out)
{
	sqlite3_stmt *st = stmt(s, Q_USER_GET);
	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, id);
	return user_one(s, st, out);
}

int dp_store_user_by_name(struct dp_store *s, const char *username, struct dp_store_user *out)
{
	sqlite3_stmt *st = stmt(s, Q_USER_BY_NAME);
	if (!st)
		return -EIO;
	sqlite3_bind_text(st, 1, username, -1, SQLITE_TRANSIENT);
	return user_one(s, st, out);
}

int dp_store_user_each(struct dp_store *s, dp_store_user_fn fn, void *arg)
{
	sqlite3_stmt *st = stmt(s, Q_USER_ALL);
	if (!st)
		return -EIO;
	int rc, ret = 0;
	struct dp_store_user u;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		read_user(st, &u);
		if (fn(&u, arg) != 0)
			break;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		ret = fail(s, "list users");
	done(st);
	return ret;
}

static int count_q(struct dp_store *s, sqlite3_stmt *st, int64_t *n, const char *what)
{
	int rc = sqlite3_step(st);
	int ret = 0;
	if (rc == SQLITE_ROW)
		*n = sqlite3_column_int64(st, 0);
	else
		ret = fail(s, what);
	done(st);
	return ret;
}

int dp_store_user_count(struct dp_store *s, int role, int64_t *n)
{
	sqlite3_stmt *st = stmt(s, role ? Q_USER_COUNT_ROLE : Q_USER_COUNT);
	if (!st)
		return -EIO;
	if (role) {
		const char *rn = dp_role_name(role);
		if (!rn) {
			done(st);
			return -EINVAL;
		}
		sqlite3_bind_text(st, 1, rn, -1, SQLITE_STATIC);
	}
	return count_q(s, st, n, "count users");
}

static int begin(struct dp_store *s)
{
	return exec_q(s, Q_BEGIN, "begin");
}

static int finish(struct dp_store *s, int ret)
{
	if (ret == 0) {
		ret = exec_q(s, Q_COMMIT, "commit");
		if (ret == 0)
			return 0;
	}
	exec_q(s, Q_ROLLBACK, "rollback");
	return ret;
}

static int update_changed(struct dp_store *s, int ret)
{
	if (ret == 0 && sqlite3_changes(s->db) == 0)
		return -ENOENT;
	return ret;
}

/* Inside a transaction: -EBUSY when user `id` is the only admin. */
static int check_not_last_admin(struct dp_store *s, int64_t id)
{
	struct dp_store_user u;
	int ret = dp_store_user_get(s, id, &u);
	if (ret < 0)
		return ret;
	if (u.role != DP_ROLE_ADMIN)
		return 0;
	int64_t n = 0;
	ret = dp_store_user_count(s, DP_ROLE_ADMIN, &n);
	if (ret < 0)
		return ret;
	return n <= 1 ? -EBUSY : 0;
}

int dp_store_user_set_role(struct dp_store *s, int64_t id, int role, int64_t now)
{
	const char *rn = dp_role_name(role);
	if (!rn || role < DP_ROLE_VIEWER)
		return -EINVAL;
	int ret = begin(s);
	if (ret < 0)
		return ret;
	if (role != DP_ROLE_ADMIN)
		ret = check_not_last_admin(s, id);
	if (ret == 0) {
		sqlite3_stmt *st = stmt(s, Q_USER_SET_ROLE);
		if (!st)
			ret = -EIO;
		else {
			sqlite3_bind_int64(st, 1, id);
			sqlite3_bind_text(st, 2, rn, -1, SQLITE_STATIC);
			sqlite3_bind_int64(st, 3, now);
			ret = update_changed(s, exec_stmt(s, st, "set role"));
		}
	}
	return finish(s, ret);
}

int dp_store_user_set_password(struct dp_store *s, int64_t id, const char *pwhash, int64_t now)
{
	sqlite3_stmt *st = stmt(s, Q_USER_SET_PW);
	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_text(st, 2, pwhash, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 3, now);
	return update_changed(s, exec_stmt(s, st, "set password"));
}

int dp_store_user_touch_login(struct dp_store *s, int64_t id, int64_t now)
{
	sqlite3_stmt *st = stmt(s, Q_USER_TOUCH);
	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, now);
	return update_changed(s, exec_stmt(s, st, "record login"));
}

int dp_store_user_delete(struct dp_store *s, int64_t id)
{
	int ret = begin(s);
	if (ret < 0)
		return ret;
	ret = check_not_last_admin(s, id);
	if (ret == 0) {
		sqlite3_stmt *st = stmt(s, Q_USER_DELETE);
		if (!st)
			ret = -EIO;
		else {
			sqlite3_bind_int64(st, 1, id);
			ret = update_changed(s, exec_stmt(s, st, "delete user"));
		}
	}
	return finish(s, ret);
}

/* --- sessions --- */

int dp_store_session_create(struct dp_store *s, int64_t user_id, const uint8_t hash[DP_STORE_HASH_BYTES], int64_t now,
                            int64_t expires_at, const char *ip, int64_t *id)
{
	sqlite3_stmt *st = stmt(s, Q_SESS_INSERT);
	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, user_id);
	sqlite3_bind_blob(st, 2, hash, DP_STORE_HASH_BYTES, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 3, now);
	sqlite3_bind_int64(st, 4, expires_at);
	bind_text_or_null(st, 5, ip);
	int ret = exec_stmt(s, st, "create session");
	if (ret == 0 && id)
		*id = sqlite3_last_insert_rowid(s->db);
	return ret == -EINVAL ? -ENOENT : ret; /* FK failure: the user is gone */
}

static int session_one(struct dp_store *s, sqlite3_stmt *st, struct dp_store_session *out)
{
	int rc = sqlite3_step(st), ret = 0;
	if (rc == SQLITE_ROW) {
		memset(out, 0, sizeof(*out));
		out->id = sqlite3_column_int64(st, 0);
		out->created_at = sqlite3_column_int64(st, 1);
		out->expires_at = sqlite3_column_int64(st, 2);
		out->last_seen_at = sqlite3_column_int64(st, 3);
		out->user.id = sqlite3_column_int64(st, 4);
		copy_col(out->user.username, sizeof(out->user.username), st, 5);
		out->user.role = role_from_db(st, 6);
		copy_hash(out->hash, st, 7);
	} else
		ret = rc == SQLITE_DONE ? -ENOENT : fail(s, "look up session");
	done(st);
	return ret;
}

int dp_store_session_lookup(struct dp_store *s, const uint8_t hash[DP_STORE_HASH_BYTES], struct dp_store_session *out)
{
	sqlite3_stmt *st = stmt(s, Q_SESS_LOOKUP);
	if (!st)
		return -EIO;
	sqlite3_bind_blob(st, 1, hash, DP_STORE_HASH_BYTES, SQLITE_STATIC);
	return session_one(s, st, out);
}

int dp_store_session_get(struct dp_store *s, int64_t id, struct dp_store_session *out)
{
	sqlite3_stmt *st = stmt(s, Q_SESS_GET);
	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, id);
	return session_one(s, st, out);
}

static int by_id(struct dp_store *s, enum q q, int64_t id, int64_t v, int has_v, const char *what)
{
	sqlite3_stmt *st = stmt(s, q);
	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, id);
	if (has_v)
		sqlite3_bind_int64(st, 2, v);
	return exec_stmt(s, st, what);
}

int dp_store_session_touch(struct dp_store *s, int64_t id, int64_t now)
{
	return by_id(s, Q_SESS_TOUCH, id, now, 1, "touch session");
}

int dp_store_session_delete(struct dp_store *s, int64_t id)
{
	return update_changed(s, by_id(s, Q_SESS_DELETE, id, 0, 0, "delete session"));
}

int dp_store_session_delete_user(struct dp_store *s, int64_t user_id, int64_t keep_id)
{
	return by_id(s, Q_SESS_DELETE_USER, user_id, keep_id, 1, "revoke sessions");
}

int dp_store_session_purge(struct dp_store *s, int64_t now, int64_t idle_s)
{
	return by_id(s, Q_SESS_PURGE, now, idle_s, 1, "purge sessions");
}

/* --- API tokens --- */

static void read_token(sqlite3_stmt *st, struct dp_store_token *t)
{
	memset(t, 0, sizeof(*t));
	t->id = sqlite3_column_int64(st, 0);
	t->user_id = sqlite3_column_int64(st, 1);
	copy_col(t->name, sizeof(t->name), st, 2);
	copy_col(t->prefix, sizeof(t->prefix), st, 3);
	t->created_at = sqlite3_column_int64(st, 4);
	t->last_used_at = sqlite3_column_int64(st, 5);
	t->expires_at = sqlite3_column_int64(st, 6);
	copy_hash(t->hash, st, 7);
	t->user.id = t->user_id;
	copy_col(t->user.username, sizeof(t->user.username), st, 8);
	t->user.role = role_from_db(st, 9);
}

int dp_store_token_create(struct dp_store *s, int64_t user_id, const char *name, const char *prefix,
                          const uint8_t hash[DP_STORE_HASH_BYTES], int64_t now, int64_t expires_at, int64_t *id)
{
	sqlite3_stmt *st = stmt(s, Q_TOK_COUNT);
	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, user_id);
	int64_t n = 0;
	int ret = count_q(s, st, &n, "count tokens");
	if (ret < 0)
		return ret;
	if (n >= DP_STORE_TOKENS_PER_USER)
		return -ENOSPC;
	st = stmt(s, Q_TOK_INSERT);
	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, user_id);
	sqlite3_bind_text(st, 2, name, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 3, prefix, -1, SQLITE_TRANSIENT);
	sqlite3_bind_blob(st, 4, hash, DP_STORE_HASH_BYTES, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 5, now);
	if (expires_at > 0)
		sqlite3_bind_int64(st, 6, expires_at);
	else
		sqlite3_bind_null(st, 6);
	ret = exec_stmt(s, st, "create token");
	if (ret == 0 && id)
		*id = sqlite3_last_insert_rowid(s->db);
	return ret == -EINVAL ? -ENOENT : ret;
}

static int token_one(struct dp_store *s, sqlite3_stmt *st, struct dp_store_token *out)
{
	int rc = sqlite3_step(st), ret = 0;
	if (rc == SQLITE_ROW)
		read_token(st, out);
	else
		ret = rc == SQLITE_DONE ? -ENOENT : fail(s, "read token");
	done(st);
	return ret;
}

int dp_store_token_lookup(struct dp_store *s, const uint8_t hash[DP_STORE_HASH_BYTES], struct dp_store_token *out)
{
	sqlite3_stmt *st = stmt(s, Q_TOK_LOOKUP);
	if (!st)
		return -EIO;
	sqlite3_bind_blob(st, 1, hash, DP_STORE_HASH_BYTES, SQLITE_STATIC);
	return token_one(s, st, out);
}

int dp_store_token_get(struct dp_store *s, int64_t id, struct dp_store_token *out)
{
	sqlite3_stmt *st = stmt(s, Q_TOK_GET);
	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, id);
	return token_one(s, st, out);
}

int dp_store_token_touch(struct dp_store *s, int64_t id, int64_t now)
{
	return by_id(s, Q_TOK_TOUCH, id, now, 1, "touch token");
}

int dp_store_token_each(struct dp_store *s, int64_t user_id, dp_store_token_fn fn, void *arg)
{
	sqlite3_stmt *st = stmt(s, Q_TOK_EACH);
	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, user_id);
	int rc, ret = 0;
	struct dp_store_token t;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		read_token(st, &t);
		if (fn(&t, arg) != 0)
			break;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		ret = fail(s, "list tokens");
	done(st);
	return ret;
}

int dp_store_token_delete(struct dp_store *s, int64_t id, int64_t user_id)
{
	return update_changed(s, by_id(s, Q_TOK_DELETE, id, user_id, 1, "delete token"));
}

/* --- settings --- */

int dp_store_setting_get(struct dp_store *s, const char *key, char **value)
{
	sqlite3_stmt *st = stmt(s, Q_SET_GET);
	if (!st)
		return -EIO;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
	int rc = sqlite3_step(st), ret = 0;
	if (rc == SQLITE_ROW) {
		const char *v = (const char *)sqlite3_column_text(st, 0);
		*value = xstrdup(v ? v : "");
	} else
		ret = rc == SQLITE_DONE ? -ENOENT : fail(s, "read setting");
	done(st);
	return ret;
}

int dp_store_setting_set(struct dp_store *s, const char *key, const char *value, int64_t now)
{
	sqlite3_stmt *st = stmt(s, Q_SET_PUT);
	if (!st)
		return -EIO;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, value, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 3, now);
	return exec_stmt(s, st, "write setting");
}

/* --- audit --- */

int dp_store_audit_insert(struct dp_store *s, const struct dp_store_audit *e, int64_t *id)
{
	sqlite3_stmt *st = stmt(s, Q_AUDIT_INSERT);
	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, e->at);
	if (e->user_id > 0)
		sqlite3_bind_int64(st, 2, e->user_id);
	else
		sqlite3_bind_null(st, 2);
	bind_text_or_null(st, 3, e->username);
	sqlite3_bind_text(st, 4, e->action, -1, SQLITE_TRANSIENT);
	bind_text_or_null(st, 5, e->target);
	sqlite3_bind_text(st, 6, e->result, -1, SQLITE_TRANSIENT);
	bind_text_or_null(st, 7, e->detail);
	bind_text_or_null(st, 8, e->ip);
	int ret = exec_stmt(s, st, "record audit entry");
	if (ret == 0 && id)
		*id = sqlite3_last_insert_rowid(s->db);
	return ret;
}

/* --- forge download jobs --- */

int dp_store_download_put(struct dp_store *s, const struct dp_store_download *d, int64_t now)
{
	sqlite3_stmt *st = stmt(s, Q_DL_PUT);
	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, d->target_id);
	sqlite3_bind_text(st, 2, d->job_id, -1, SQLITE_TRANSIENT);
	if (d->user_id > 0)
		sqlite3_bind_int64(st, 3, d->user_id);
	else
		sqlite3_bind_null(st, 3);
	bind_text_or_null(st, 4, d->username && *d->username ? d->username : NULL);
	sqlite3_bind_text(st, 5, d->job, -1, SQLITE_TRANSIENT);
	if (d->ended_at > 0)
		sqlite3_bind_int64(st, 6, d->ended_at);
	else
		sqlite3_bind_null(st, 6);
	sqlite3_bind_int64(st, 7, now);
	return exec_stmt(s, st, "save a download job");
}

int dp_store_download_each(struct dp_store *s, dp_store_download_fn fn, void *arg)
{
	sqlite3_stmt *st = stmt(s, Q_DL_ALL);
	if (!st)
		return -EIO;
	int rc, ret = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct dp_store_download d = {
		        .target_id = sqlite3_column_int64(st, 0),
		        .job_id = (const char *)sqlite3_column_text(st, 1),
		        .user_id = sqlite3_column_int64(st, 2),
		        .username = (const char *)sqlite3_column_text(st, 3),
		        .job = (const char *)sqlite3_column_text(st, 4),
		        .ended_at = sqlite3_column_int64(st, 5),
		};
		if (!d.job_id || !d.job)
			continue;
		if (fn(&d, arg) != 0)
			break;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		ret = fail(s, "list download jobs");
	done(st);
	return ret;
}

int dp_store_download_delete(struct dp_store *s, int64_t target_id, const char *job_id)
{
	sqlite3_stmt *st = stmt(s, Q_DL_DELETE);
	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, target_id);
	sqlite3_bind_text(st, 2, job_id, -1, SQLITE_TRANSIENT);
	return exec_stmt(s, st, "delete a download job");
}

int dp_store_audit_prune(struct dp_store *s, int64_t before, int limit)
{
	sqlite3_stmt *st = stmt(s, Q_AUDIT_PRUNE);
	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, before);
	sqlite3_bind_int(st, 2, limit < 1 ? 1 : limit);
	int ret = exec_stmt(s, st, "prune the audit trail");
	return ret < 0 ? ret : sqlite3_changes(s->db);
}

int dp_store_audit_query(struct dp_store *s, const struct dp_store_audit_filter *f, dp_store_audit_fn fn, void *arg)
{
	sqlite3_stmt *st = stmt(s, Q_AUDIT_QUERY);
	if (!st)
		return -EIO;
	int limit = f->limit < 1 ? 1 : f->limit > 1000 ? 1000 : f->limit;
	const char *exact = NULL, *prefix = NULL;
	if (f->action && *f->action) {
		size_t n = strlen(f->action);
		if (f->action[n - 1] == '.')
			prefix = f->action;
		else
			exact = f->action;
	}
	sqlite3_bind_int64(st, 1, f->before_id > 0 ? f->before_id : 0);
	sqlite3_bind_int64(st, 2, f->since > 0 ? f->since : 0);
	sqlite3_bind_int64(st, 3, f->until > 0 ? f->until : 0);
	bind_text_or_null(st, 4, f->username && *f->username ? f->username : NULL);
	bind_text_or_null(st, 5, exact);
	bind_text_or_null(st, 6, prefix);
	bind_text_or_null(st, 7, f->target && *f->target ? f->target : NULL);
	sqlite3_bind_int(st, 8, limit);
	int rc, ret = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct dp_store_audit e = {
		        .id = sqlite3_column_int64(st, 0),
		        .at = sqlite3_column_int64(st, 1),
		        .user_id = sqlite3_column_int64(st, 2),
		        .username = (const char *)sqlite3_column_text(st, 3),
		        .action = (const char *)sqlite3_column_text(st, 4),
		        .target = (const char *)sqlite3_column_text(st, 5),
		        .result = (const char *)sqlite3_column_text(st, 6),
		        .detail = (const char *)sqlite3_column_text(st, 7),
		        .ip = (const char *)sqlite3_column_text(st, 8),
		};
		if (fn(&e, arg) != 0)
			break;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		ret = fail(s, "query audit");
	done(st);
	return ret;
}
