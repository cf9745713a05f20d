/*
 * auth.h - authentication, authorisation helpers, sessions, API tokens.
 *
 * Called centrally by the router (route.c) for every non-public route; no
 * handler authenticates on its own. Sessions: random 256-bit tokens carried
 * in the `dp_session` HttpOnly cookie, stored as a hash. API tokens:
 * `Authorization: Bearer dp_...`, stored as a hash. Passwords: argon2id via
 * libsodium, computed on the worker pool (never on the loop thread).
 */
#ifndef DP_AUTH_H
#define DP_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "api.h"

#define DP_SESSION_COOKIE "dp_session"

/* Fill c->auth_kind/user/session_id/token_id from the cookie or Bearer
 * token. Returns 0 when authenticated, -EACCES when not (expired, revoked,
 * unknown or absent). Refreshes the idle timer. Never blocks. */
int dp_auth_authenticate(struct dp_ctx *c);

/* CSRF: for mutating methods (POST/PUT/PATCH/DELETE) on cookie-authenticated
 * requests, the Origin header (or, when Origin is absent, the Referer) must
 * name the origin the request was sent to: scheme (https when the config
 * says TLS or a trusted proxy sent X-Forwarded-Proto: https, else http) +
 * "://" + the Host header. Neither header present -> refused. Together with
 * SameSite=Strict this is the one documented scheme (docs/api-auth.md).
 * Bearer-token requests are exempt. 0 or -EPERM. */
int dp_auth_csrf_check(struct dp_ctx *c);

/* --- the authentication service (created by main, reached as srv->auth) --- */

struct dp_store;
struct dp_workq;
struct dp_auth;

/* Clock in Unix seconds; injectable for tests. */
typedef int64_t (*dp_auth_clock_fn)(void);

struct dp_auth_config {
	int64_t session_ttl_s;  /* absolute lifetime; default 8 h */
	int64_t session_idle_s; /* idle timeout; default 1 h */
	int cookie_secure;      /* add "Secure" to the cookie (TLS or https proxy) */
	int trust_proxy;        /* honour X-Forwarded-Proto / X-Forwarded-For */
	int max_user_failures;  /* failed logins per username per window; default 5 */
	int max_ip_failures;    /* failed logins per client IP per window; default 20 */
	int64_t window_s;       /* throttle window; default 15 min */
	dp_auth_clock_fn clock; /* NULL = time(NULL) */
};

#define DP_AUTH_SESSION_TTL_DEFAULT  (8 * 3600)
#define DP_AUTH_SESSION_IDLE_DEFAULT 3600
#define DP_AUTH_PASSWORD_MIN         12
#define DP_AUTH_PASSWORD_MAX         1024
/* "dp_" + 43 base64url characters (32 bytes). */
#define DP_AUTH_TOKEN_PREFIX "dp_"
#define DP_AUTH_TOKEN_LEN    46
/* base64url of 32 bytes, no padding. */
#define DP_AUTH_SESSION_LEN 43

/* Defaults above, then the hidden test knobs DP_SESSION_TTL_SECONDS,
 * DP_SESSION_IDLE_SECONDS, DP_LOGIN_MAX_USER_FAILURES,
 * DP_LOGIN_MAX_IP_FAILURES, DP_LOGIN_WINDOW_SECONDS from the environment. */
void dp_auth_config_defaults(struct dp_auth_config *cfg);
/* `store` and `wq` are borrowed and must outlive the returned object.
 * Calls sodium_init(); NULL only when libsodium cannot start. Shutdown
 * order: free the HTTP server, then the workq (its completions use auth and
 * store), then auth, then the store. */
struct dp_auth *dp_auth_new(struct dp_store *store, struct dp_workq *wq, const struct dp_auth_config *cfg);
void dp_auth_free(struct dp_auth *a);
const struct dp_auth_config *dp_auth_config(const struct dp_auth *a);
int64_t dp_auth_now(const struct dp_auth *a);

/* --- helpers shared by api_auth.c, api_users.c, api_tokens.c, cli_user.c --- */

/* 0, or -EINVAL with a static reason in *why ("password must be at least
 * 12 characters"). */
int dp_auth_password_check(const char *pw, const char **why);
/* [a-zA-Z0-9._-]{1,64}: 1 when valid. */
int dp_auth_username_valid(const char *name);
/* argon2id (OPSLIMIT/MEMLIMIT_INTERACTIVE). Blocking (~0.1 s, 64 MiB):
 * call from a worker or the CLI, never from the loop. 0 or -ENOMEM. */
int dp_auth_hash_password(const char *pw, char out[128]);
/* 0 when pw matches the stored hash, -EACCES otherwise. Blocking. */
int dp_auth_verify_password(const char *hash, const char *pw);
/* A fresh session token (base64url, DP_AUTH_SESSION_LEN chars + NUL) and
 * its storage hash. */
void dp_auth_new_session_token(char out[DP_AUTH_SESSION_LEN + 1], uint8_t hash[32]);
/* A fresh API token ("dp_..." + NUL) and its storage hash. */
void dp_auth_new_api_token(char out[DP_AUTH_TOKEN_LEN + 1], uint8_t hash[32]);
/* BLAKE2b-256 of a presented secret. */
void dp_auth_hash_secret(const char *secret, size_t len, uint8_t hash[32]);
/* A random password for `seed` (24 base64url characters = 144 bits). */
void dp_auth_random_password(char out[25]);

/* Header parsing (fuzzed by fuzz/fuzz_auth_cookie.c). Copy the value of
 * cookie `name` from a Cookie header into out; 0, -ENOENT, -E2BIG. */
int dp_auth_parse_cookie(const char *header, const char *name, char *out, size_t outsz);
/* Copy the token of "Bearer <token>" into out; 0, -ENOENT, -EINVAL, -E2BIG. */
int dp_auth_parse_bearer(const char *header, char *out, size_t outsz);
/* Decode a session cookie value; 0 when it is exactly 32 bytes base64url. */
int dp_auth_decode_session(const char *value, uint8_t raw[32]);
/* 1 when `origin` ("http://host:port", or a Referer URL) names
 * scheme://host exactly. */
int dp_auth_origin_matches(const char *origin, const char *scheme, const char *host);
/* The scheme the client used: "https" when configured for TLS / an https
 * proxy (config secure_cookies), or when trust_proxy is set and the proxy
 * sent X-Forwarded-Proto: https; else "http". */
const char *dp_auth_request_scheme(struct dp_ctx *c);

/* The core of dp_auth_authenticate() on raw header values (either may be
 * NULL); used by it, by unit tests and by the fuzz target. Fills c->auth_kind,
 * user, session_id / token_id. 0 or -EACCES. */
int dp_auth_check_headers(struct dp_auth *a, const char *authz, const char *cookie, struct dp_ctx *c);

/* Is a session still valid at `now`? 1 when now < expires_at and it was
 * used less than session_idle_s ago. */
int dp_auth_session_valid(const struct dp_auth_config *cfg, int64_t expires_at, int64_t last_seen_at, int64_t now);

/* Login throttling (sliding window, in memory; DP_AUTH_THROTTLE_KEYS keys at
 * most, the stalest evicted first). Usernames compare case-insensitively.
 * dp_auth_throttle_check returns the seconds to wait (>0) when `ip` or
 * `username` already has its limit of failures in the window, else 0.
 * A login attempt is counted as a failure when it *starts*
 * (dp_auth_throttle_fail), so parallel attempts cannot race past the limit;
 * dp_auth_throttle_success then takes the IP's attempt back and clears the
 * username. */
#define DP_AUTH_THROTTLE_KEYS 8192
int64_t dp_auth_throttle_check(struct dp_auth *a, const char *ip, const char *username);
void dp_auth_throttle_fail(struct dp_auth *a, const char *ip, const char *username);
void dp_auth_throttle_success(struct dp_auth *a, const char *ip, const char *username);

/* Add "Set-Cookie: dp_session=<token>; Path=/; Max-Age=<max_age>; HttpOnly;
 * SameSite=Strict[; Secure]" to the response. token "" + max_age 0 clears. */
int dp_auth_set_cookie(struct dp_ctx *c, const char *token, int64_t max_age);

/* JSON helpers shared by the api_* files: ISO 8601 UTC string, or null for
 * t <= 0; {"id","username","role"}. New references. */
json_t *dp_auth_time_json(int64_t t);
json_t *dp_auth_user_json(const struct dp_user *u);
/* Parse ISO 8601 UTC ("2026-11-26T10:00:00Z", date only, or Unix seconds);
 * 0 or -EINVAL. */
int dp_auth_parse_time(const char *s, int64_t *t);

/* --- password work on the worker pool ---
 *
 * A pwjob verifies a password against a hash and/or hashes a new password on
 * a worker thread, then calls `fn` on the loop thread. `fn` is called even
 * when the client went away (then j->c is NULL: record, do not reply) so
 * that throttling and audit cannot be dodged by hanging up. The job (and the
 * passwords in it, wiped) is freed by auth.c after `fn` returns. */
struct dp_auth_pwjob;
typedef void (*dp_auth_pwjob_fn)(struct dp_auth_pwjob *j);

struct dp_auth_pwjob {
	struct dp_ctx *c; /* NULL once the client went away */
	struct dp_auth *auth;
	dp_auth_pwjob_fn fn;
	int status; /* 0, or -ECANCELED at shutdown (nothing computed) */
	/* inputs: set with dp_auth_pwjob_verify()/_hash() */
	char *verify_pw;       /* password to check, or NULL */
	char verify_hash[128]; /* "" = unknown user: a dummy hash of equal cost runs */
	char *new_pw;          /* password to hash (only if the verify step passed) */
	/* outputs */
	int verified; /* 1 when verify_pw matched verify_hash */
	int hashed;   /* 1 when new_hash is filled */
	char new_hash[128];
	/* free for the caller */
	int64_t user_id;
	int64_t other_id;
	int role;
	char username[DP_USERNAME_MAX + 1];
	char ip[64];
	void *arg;
};

/* A job bound to request `c` (registers the abort callback). */
struct dp_auth_pwjob *dp_auth_pwjob_new(struct dp_ctx *c, dp_auth_pwjob_fn fn);
void dp_auth_pwjob_verify(struct dp_auth_pwjob *j, const char *pw, const char *hash);
void dp_auth_pwjob_hash(struct dp_auth_pwjob *j, const char *pw);
/* Queue it. On failure (-EAGAIN queue full, -ESHUTDOWN) the job is freed,
 * fn is not called, and the caller answers 503. */
int dp_auth_pwjob_submit(struct dp_auth_pwjob *j);

#endif
