/*
 * api_auth.c - /api/auth/...: login, logout, me, own password change.
 * Shapes and status codes: docs/api-auth.md.
 *
 * Login runs in two halves: on the loop, the Origin check, throttling, and
 * the user lookup; on the worker pool, the argon2id verify (or an equally
 * expensive throwaway hash for an unknown user); back on the loop,
 * login_done() creates the session. Both "no such user" and "wrong password"
 * give the same 401 body. The attempt is counted against the IP and the
 * username when it starts (see dp_auth_throttle_fail) and taken back on
 * success.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "audit.h"
#include "auth.h"
#include "http.h"
#include "log.h"
#include "server.h"
#include "store.h"

#define INVALID_CREDENTIALS "invalid username or password"

static const char *body_str(const struct dp_ctx *c, const char *key)
{
	return c->body ? json_string_value(json_object_get(c->body, key)) : NULL;
}

/* A printable, bounded copy of an attempted username for the audit log. */
static void safe_name(char out[DP_USERNAME_MAX + 1], const char *in)
{
	size_t n = 0;
	for (; in && *in && n < DP_USERNAME_MAX; in++)
		out[n++] = (*in >= 0x20 && *in < 0x7f) ? *in : '?';
	out[n] = '\0';
}

static void reply_busy(struct dp_ctx *c)
{
	dp_http_add_header(c->req, "Retry-After", "1");
	dp_reply_error(c, 503, "busy", "the server is busy, try again");
}

static void reply_throttled(struct dp_ctx *c, int64_t wait)
{
	char v[24];
	snprintf(v, sizeof(v), "%lld", (long long)wait);
	dp_http_add_header(c->req, "Retry-After", v);
	dp_reply_error(c, 429, "too_many_attempts", "too many failed sign-in attempts, try again in %lld seconds",
	               (long long)wait);
}

static void login_done(struct dp_auth_pwjob *j)
{
	struct dp_ctx *c = j->c;
	struct dp_auth *a = j->auth;
	/* j->arg is the store, which (like the auth service) outlives every
	 * job: the server frees the worker pool before either. */
	struct dp_store *st = j->arg;
	if (j->status != 0) {
		if (c)
			reply_busy(c);
		return;
	}
	if (!j->verified) {
		json_t *d = json_pack("{s:s}", "reason", "invalid_credentials");
		dp_audit_record(st, 0, j->username, "auth.login", NULL, DP_AUDIT_FAILED, d, j->ip);
		json_decref(d);
		if (c)
			dp_reply_error(c, 401, "invalid_credentials", INVALID_CREDENTIALS);
		return;
	}
	dp_auth_throttle_success(a, j->ip, j->username);
	struct dp_store_user u;
	if (dp_store_user_get(st, j->user_id, &u) < 0) { /* deleted meanwhile */
		if (c)
			dp_reply_error(c, 401, "invalid_credentials", INVALID_CREDENTIALS);
		return;
	}
	if (!c)
		return; /* the client hung up: no session for nobody */

	int64_t now = dp_auth_now(a);
	const struct dp_auth_config *cfg = dp_auth_config(a);
	int64_t expires = now + cfg->session_ttl_s;
	char token[DP_AUTH_SESSION_LEN + 1];
	uint8_t hash[32];
	dp_auth_new_session_token(token, hash);
	int64_t sid;
	dp_store_session_purge(st, now, cfg->session_idle_s);
	int ret = dp_store_session_create(st, u.id, hash, now, expires, j->ip, &sid);
	if (ret < 0) {
		memset(token, 0, sizeof(token));
		dp_reply_error(c, 500, "internal", "could not create the session");
		return;
	}
	dp_store_user_touch_login(st, u.id, now);
	dp_auth_set_cookie(c, token, cfg->session_ttl_s);
	memset(token, 0, sizeof(token));

	struct dp_user pu = {.id = u.id, .role = u.role};
	snprintf(pu.username, sizeof(pu.username), "%s", u.username);
	dp_audit_record(st, u.id, u.username, "auth.login", NULL, DP_AUDIT_OK, NULL, j->ip);
	dp_reply_json(c, 200,
	              json_pack("{s:o, s:o, s:I}", "user", dp_auth_user_json(&pu), "expires_at",
	                        dp_auth_time_json(expires), "idle_timeout_s", (json_int_t)cfg->session_idle_s));
}

static void login(struct dp_ctx *c)
{
	struct dp_auth *a = c->srv->auth;
	if (!a || !c->srv->store) {
		dp_reply_error(c, 503, "unavailable", "authentication is not available");
		return;
	}
	/* No session yet, so the router skipped CSRF; a cross-site login form
	 * (login CSRF) still carries a foreign Origin, which is refused. */
	const char *origin = dp_http_req_header(c->req, "Origin");
	const char *host = dp_http_req_header(c->req, "Host");
	if (origin && !dp_auth_origin_matches(origin, dp_auth_request_scheme(c), host ? host : "")) {
		dp_reply_error(c, 403, "csrf", "cross-site request refused");
		return;
	}
	const char *username = body_str(c, "username");
	const char *password = body_str(c, "password");
	if (!username || !password) {
		dp_reply_error(c, 400, "bad_request", "username and password are required");
		return;
	}
	if (strlen(password) > DP_AUTH_PASSWORD_MAX) {
		dp_reply_error(c, 400, "bad_request", "password is longer than %d bytes", DP_AUTH_PASSWORD_MAX);
		return;
	}
	char name[DP_USERNAME_MAX + 1];
	safe_name(name, username);
	const char *ip = dp_ctx_peer(c);
	int64_t wait = dp_auth_throttle_check(a, ip, name);
	if (wait > 0) {
		json_t *d = json_pack("{s:s}", "reason", "throttled");
		dp_audit_record(c->srv->store, 0, name, "auth.login", NULL, DP_AUDIT_DENIED, d, ip);
		json_decref(d);
		reply_throttled(c, wait);
		return;
	}

	struct dp_store_user u;
	int found = dp_auth_username_valid(username) && dp_store_user_by_name(c->srv->store, username, &u) == 0;
	struct dp_auth_pwjob *j = dp_auth_pwjob_new(c, login_done);
	dp_auth_pwjob_verify(j, password, found ? u.pwhash : "");
	j->user_id = found ? u.id : 0;
	j->arg = c->srv->store;
	snprintf(j->username, sizeof(j->username), "%s", name);
	if (found)
		memset(u.pwhash, 0, sizeof(u.pwhash));
	dp_auth_throttle_fail(a, ip, name);
	if (dp_auth_pwjob_submit(j) < 0)
		reply_busy(c);
}

static void logout(struct dp_ctx *c)
{
	if (c->auth_kind == DP_AUTH_SESSION) {
		dp_store_session_delete(c->srv->store, c->session_id);
		dp_audit_ctx(c, "auth.logout", NULL, DP_AUDIT_OK, NULL);
	}
	dp_auth_set_cookie(c, "", 0);
	dp_reply_empty(c);
}

static void me(struct dp_ctx *c)
{
	json_t *expires = NULL, *idle = NULL;
	if (c->auth_kind == DP_AUTH_SESSION) {
		struct dp_store_session s;
		if (dp_store_session_get(c->srv->store, c->session_id, &s) == 0)
			expires = dp_auth_time_json(s.expires_at);
		idle = json_integer(dp_auth_config(c->srv->auth)->session_idle_s);
	} else {
		struct dp_store_token t;
		if (dp_store_token_get(c->srv->store, c->token_id, &t) == 0)
			expires = dp_auth_time_json(t.expires_at);
	}
	dp_reply_json(c, 200,
	              json_pack("{s:o, s:s, s:o, s:o}", "user", dp_auth_user_json(&c->user), "auth",
	                        c->auth_kind == DP_AUTH_SESSION ? "session" : "token", "expires_at",
	                        expires ? expires : json_null(), "idle_timeout_s", idle ? idle : json_null()));
}

static void password_done(struct dp_auth_pwjob *j)
{
	struct dp_ctx *c = j->c;
	struct dp_store *st = (struct dp_store *)j->arg;
	char target[96];
	snprintf(target, sizeof(target), "user:%s", j->username);
	if (j->status != 0) {
		if (c)
			reply_busy(c);
		return;
	}
	if (!j->verified) {
		json_t *d = json_pack("{s:s}", "reason", "wrong_password");
		dp_audit_record(st, j->user_id, j->username, "auth.password", target, DP_AUDIT_FAILED, d, j->ip);
		json_decref(d);
		if (c)
			dp_reply_error(c, 403, "wrong_password", "the current password is not correct");
		return;
	}
	dp_auth_throttle_success(j->auth, j->ip, j->username);
	int64_t now = dp_auth_now(j->auth);
	int ret = j->hashed ? dp_store_user_set_password(st, j->user_id, j->new_hash, now) : -ENOMEM;
	if (ret == 0)
		dp_store_session_delete_user(st, j->user_id, j->other_id);
	dp_audit_record(st, j->user_id, j->username, "auth.password", target, ret == 0 ? DP_AUDIT_OK : DP_AUDIT_ERROR,
	                NULL, j->ip);
	if (!c)
		return;
	if (ret == -ENOENT)
		dp_reply_error(c, 401, "unauthorized", "the account no longer exists");
	else if (ret < 0)
		dp_reply_error(c, 500, "internal", "could not change the password");
	else
		dp_reply_empty(c);
}

static void password(struct dp_ctx *c)
{
	if (c->auth_kind != DP_AUTH_SESSION) {
		dp_reply_error(c, 403, "session_required", "sign in with a password to change it");
		return;
	}
	const char *old_pw = body_str(c, "old_password");
	const char *new_pw = body_str(c, "new_password");
	const char *why;
	if (!old_pw || !new_pw) {
		dp_reply_error(c, 400, "bad_request", "old_password and new_password are required");
		return;
	}
	if (strlen(old_pw) > DP_AUTH_PASSWORD_MAX) {
		dp_reply_error(c, 400, "bad_request", "password is longer than %d bytes", DP_AUTH_PASSWORD_MAX);
		return;
	}
	if (dp_auth_password_check(new_pw, &why) < 0) {
		dp_reply_error(c, 400, "weak_password", "%s", why);
		return;
	}
	struct dp_auth *a = c->srv->auth;
	const char *ip = dp_ctx_peer(c);
	int64_t wait = dp_auth_throttle_check(a, ip, c->user.username);
	if (wait > 0) {
		reply_throttled(c, wait);
		return;
	}
	struct dp_store_user u;
	if (dp_store_user_get(c->srv->store, c->user.id, &u) < 0) {
		dp_reply_error(c, 401, "unauthorized", "the account no longer exists");
		return;
	}
	struct dp_auth_pwjob *j = dp_auth_pwjob_new(c, password_done);
	dp_auth_pwjob_verify(j, old_pw, u.pwhash);
	dp_auth_pwjob_hash(j, new_pw);
	memset(u.pwhash, 0, sizeof(u.pwhash));
	j->user_id = c->user.id;
	j->other_id = c->session_id;
	j->arg = c->srv->store;
	snprintf(j->username, sizeof(j->username), "%s", c->user.username);
	dp_auth_throttle_fail(a, ip, c->user.username);
	if (dp_auth_pwjob_submit(j) < 0)
		reply_busy(c);
}

const struct dp_route dp_api_auth_routes[] = {
        {.method = "POST", .path = "/api/auth/login", .fn = login, .role = DP_ROLE_PUBLIC, .flags = DP_ROUTE_NO_CSRF},
        {.method = "POST", .path = "/api/auth/logout", .fn = logout, .role = DP_ROLE_VIEWER},
        {.method = "GET", .path = "/api/auth/me", .fn = me, .role = DP_ROLE_VIEWER},
        {.method = "POST", .path = "/api/auth/password", .fn = password, .role = DP_ROLE_VIEWER},
        {0},
};
