/*
 * store.h - DaemonPulse's own state in SQLite: users, sessions, API tokens,
 * settings, audit (later issues add their tables through the same
 * migration list in store.c).
 *
 * The database runs in WAL mode with foreign_keys=ON and a busy timeout;
 * every query is a prepared statement (compiled once per connection and
 * cached). The schema is versioned with PRAGMA user_version: store.c holds
 * an ordered list of migrations; dp_store_open() applies every migration
 * above the file's version, each in its own transaction, and refuses a file
 * newer than this binary.
 *
 * Threading: one struct dp_store per thread. The control plane uses it from
 * the event-loop thread only (queries are short, indexed, local; WAL keeps
 * readers from blocking); the CLI opens its own. Never from a workq worker.
 *
 * Times are Unix seconds (int64). Functions return 0 or a negative errno:
 * -ENOENT (no such row), -EEXIST (unique constraint), -EBUSY (the last-admin
 * rule), -EIO (SQLite error; logged with the SQLite message, never with
 * secret values).
 */
#ifndef DP_STORE_H
#define DP_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "api.h"

struct dp_store;
struct sqlite3;

/* argon2id strings from crypto_pwhash_str fit in 128 bytes. */
#define DP_STORE_PWHASH_MAX       128
#define DP_STORE_HASH_BYTES       32 /* session / token hashes (BLAKE2b-256) */
#define DP_STORE_TOKEN_NAME_MAX   64
#define DP_STORE_TOKEN_PREFIX_MAX 16
#define DP_STORE_TOKENS_PER_USER  50

/* Open (creating parent dir 0700 and file 0600 when missing) and migrate.
 * NULL on failure with a heap message in *err (caller frees). */
struct dp_store *dp_store_open(const char *path, char **err);
/* Same, but migrate no further than `max_version` (tests of old layouts). */
struct dp_store *dp_store_open_version(const char *path, int max_version, char **err);
void dp_store_free(struct dp_store *s);
/* Schema version of the open file; newest version this binary knows. */
int dp_store_version(struct dp_store *s);
int dp_store_latest_version(void);
/* Raw handle for modules of later issues that own their own queries. */
struct sqlite3 *dp_store_db(struct dp_store *s);

/* --- users --- */
struct dp_store_user {
	int64_t id;
	char username[DP_USERNAME_MAX + 1];
	int role; /* enum dp_role */
	char pwhash[DP_STORE_PWHASH_MAX];
	int64_t created_at;
	int64_t updated_at;
	int64_t last_login_at; /* 0 = never */
};
typedef int (*dp_store_user_fn)(const struct dp_store_user *u, void *arg);

int dp_store_user_create(struct dp_store *s, const char *username, const char *pwhash, int role, int64_t now,
                         int64_t *id);
int dp_store_user_get(struct dp_store *s, int64_t id, struct dp_store_user *out);
int dp_store_user_by_name(struct dp_store *s, const char *username, struct dp_store_user *out);
/* Every user ordered by username; stops early when fn returns non-zero. */
int dp_store_user_each(struct dp_store *s, dp_store_user_fn fn, void *arg);
int dp_store_user_count(struct dp_store *s, int role /* 0 = all */, int64_t *n);
/* -EBUSY when this would demote the last admin. */
int dp_store_user_set_role(struct dp_store *s, int64_t id, int role, int64_t now);
int dp_store_user_set_password(struct dp_store *s, int64_t id, const char *pwhash, int64_t now);
int dp_store_user_touch_login(struct dp_store *s, int64_t id, int64_t now);
/* Deletes the user with their sessions and tokens (foreign keys cascade).
 * -EBUSY when the user is the last admin. */
int dp_store_user_delete(struct dp_store *s, int64_t id);

/* --- sessions --- */
struct dp_store_session {
	int64_t id;
	int64_t created_at;
	int64_t expires_at; /* absolute end */
	int64_t last_seen_at;
	uint8_t hash[DP_STORE_HASH_BYTES]; /* as stored, for a constant-time re-check */
	struct dp_user user;
};
int dp_store_session_create(struct dp_store *s, int64_t user_id, const uint8_t hash[DP_STORE_HASH_BYTES], int64_t now,
                            int64_t expires_at, const char *ip, int64_t *id);
/* Look a session up by token hash (joined with its user). -ENOENT. */
int dp_store_session_lookup(struct dp_store *s, const uint8_t hash[DP_STORE_HASH_BYTES], struct dp_store_session *out);
/* By id (for /api/auth/me). -ENOENT. */
int dp_store_session_get(struct dp_store *s, int64_t id, struct dp_store_session *out);
int dp_store_session_touch(struct dp_store *s, int64_t id, int64_t now);
int dp_store_session_delete(struct dp_store *s, int64_t id);
/* Revoke every session of a user except `keep_id` (0 = all). */
int dp_store_session_delete_user(struct dp_store *s, int64_t user_id, int64_t keep_id);
/* Delete sessions past their absolute end or idle for more than idle_s. */
int dp_store_session_purge(struct dp_store *s, int64_t now, int64_t idle_s);

/* --- personal API tokens --- */
struct dp_store_token {
	int64_t id;
	int64_t user_id;
	char name[DP_STORE_TOKEN_NAME_MAX + 1];
	char prefix[DP_STORE_TOKEN_PREFIX_MAX + 1]; /* first chars, for display */
	int64_t created_at;
	int64_t last_used_at; /* 0 = never */
	int64_t expires_at;   /* 0 = never */
	uint8_t hash[DP_STORE_HASH_BYTES];
	struct dp_user user; /* filled by lookup */
};
typedef int (*dp_store_token_fn)(const struct dp_store_token *t, void *arg);

/* -ENOSPC when the user already has DP_STORE_TOKENS_PER_USER tokens. */
int dp_store_token_create(struct dp_store *s, int64_t user_id, const char *name, const char *prefix,
                          const uint8_t hash[DP_STORE_HASH_BYTES], int64_t now, int64_t expires_at, int64_t *id);
int dp_store_token_lookup(struct dp_store *s, const uint8_t hash[DP_STORE_HASH_BYTES], struct dp_store_token *out);
int dp_store_token_get(struct dp_store *s, int64_t id, struct dp_store_token *out);
int dp_store_token_touch(struct dp_store *s, int64_t id, int64_t now);
int dp_store_token_each(struct dp_store *s, int64_t user_id, dp_store_token_fn fn, void *arg);
/* Delete token `id` owned by `user_id`; -ENOENT otherwise. */
int dp_store_token_delete(struct dp_store *s, int64_t id, int64_t user_id);

/* --- settings (key/value text) --- */
/* *value is a heap copy (caller frees); -ENOENT when unset. */
int dp_store_setting_get(struct dp_store *s, const char *key, char **value);
int dp_store_setting_set(struct dp_store *s, const char *key, const char *value, int64_t now);

/* --- audit --- */
struct dp_store_audit {
	int64_t id;
	int64_t at;
	int64_t user_id;      /* 0 = none (failed login, CLI) */
	const char *username; /* actor name or attempted name; may be NULL */
	const char *action;   /* "auth.login", "user.create", ... */
	const char *target;   /* may be NULL */
	const char *result;   /* "ok", "denied", "failed", "error" */
	const char *detail;   /* JSON text or NULL */
	const char *ip;       /* may be NULL */
};
struct dp_store_audit_filter {
	int64_t before_id; /* 0 = newest */
	int64_t since;     /* 0 = no bound */
	int64_t until;     /* 0 = no bound */
	const char *username;
	const char *action; /* exact, or a prefix ending in '.' ("user.") */
	const char *target;
	int limit; /* 1..1000 (the API allows 200 per page) */
};
/* Pointers in *e are valid only during the callback. */
typedef int (*dp_store_audit_fn)(const struct dp_store_audit *e, void *arg);

int dp_store_audit_insert(struct dp_store *s, const struct dp_store_audit *e, int64_t *id);
/* Newest first. */
/* --- the Forge's download jobs (survive a restart) --- */
struct dp_store_download {
	int64_t target_id;
	const char *job_id;
	int64_t user_id;      /* 0: unknown */
	const char *username; /* may be NULL */
	const char *job;      /* the job's JSON */
	int64_t ended_at;     /* unix seconds; 0 while the download runs */
};
typedef int (*dp_store_download_fn)(const struct dp_store_download *d, void *arg);
/* Insert or update (target_id, job_id). */
int dp_store_download_put(struct dp_store *s, const struct dp_store_download *d, int64_t now);
/* Every saved job, oldest update first (borrowed strings, valid in fn). */
int dp_store_download_each(struct dp_store *s, dp_store_download_fn fn, void *arg);
int dp_store_download_delete(struct dp_store *s, int64_t target_id, const char *job_id);

/* Delete at most `limit` entries older than `before` (unix seconds), the
 * oldest first; returns how many went, or -EIO. */
int dp_store_audit_prune(struct dp_store *s, int64_t before, int limit);

/* The file's space. auto_vacuum: 0 none (files made before this), 1 full,
 * 2 incremental (every file created since). */
struct dp_store_space {
	int64_t page_size, pages, free_pages;
	int auto_vacuum;
};
int dp_store_space(struct dp_store *s, struct dp_store_space *out);
/* Give up to `pages` free pages back to the file system (incremental
 * auto-vacuum only; else 0). The number given back, or -EIO. */
int dp_store_reclaim(struct dp_store *s, int pages);
/* Rewrite the file without free pages and switch it to incremental
 * auto-vacuum (VACUUM: needs about the file's size again on disk, and no
 * other connection writing). 0, or -EIO with *err set. */
int dp_store_vacuum(struct dp_store *s, char **err);
int dp_store_audit_query(struct dp_store *s, const struct dp_store_audit_filter *f, dp_store_audit_fn fn, void *arg);

#endif
