/*
 * api_users.c - /api/users: user administration (admin only).
 * Shapes and status codes: docs/api-auth.md.
 *
 * The last-admin rule lives in the store (inside a write transaction, so
 * the CLI running at the same time cannot race it); this file maps -EBUSY to
 * 409 last_admin. New passwords are hashed on the worker pool; the store
 * change happens in the completion, back on the loop.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "audit.h"
#include "auth.h"
#include "http.h"
#include "server.h"
#include "store.h"

static json_t *user_json(const struct dp_store_user *u)
{
	const char *r = dp_role_name(u->role);
	return json_pack("{s:I, s:s, s:s, s:o, s:o, s:o}", "id", (json_int_t)u->id, "username", u->username, "role",
	                 r ? r : "viewer", "created_at", dp_auth_time_json(u->created_at), "updated_at",
	                 dp_auth_time_json(u->updated_at), "last_login_at", dp_auth_time_json(u->last_login_at));
}

static void target_of(char out[96], const char *username)
{
	snprintf(out, 96, "user:%s", username);
}

static void reply_busy(struct dp_ctx *c)
{
	dp_http_add_header(c->req, "Retry-After", "1");
	dp_reply_error(c, 503, "busy", "the server is busy, try again");
}

static int add_user(const struct dp_store_user *u, void *arg)
{
	json_array_append_new(arg, user_json(u));
	return 0;
}

static void list(struct dp_ctx *c)
{
	json_t *arr = json_array();
	if (dp_store_user_each(c->srv->store, add_user, arr) < 0) {
		json_decref(arr);
		dp_reply_error(c, 500, "internal", "could not list users");
		return;
	}
	dp_reply_json(c, 200, json_pack("{s:o}", "users", arr));
}

/* Role from the body: absent -> dflt; -1 when present but invalid. */
static int body_role(const struct dp_ctx *c, int dflt, int *present)
{
	json_t *r = c->body ? json_object_get(c->body, "role") : NULL;
	*present = r != NULL;
	if (!r)
		return dflt;
	int role = json_is_string(r) ? dp_role_parse(json_string_value(r)) : -1;
	return role >= DP_ROLE_VIEWER ? role : -1;
}

static void create_done(struct dp_auth_pwjob *j)
{
	struct dp_ctx *c = j->c;
	struct dp_store *st = j->arg;
	char target[96];
	target_of(target, j->username);
	if (j->status != 0 || !j->hashed) {
		if (c)
			reply_busy(c);
		return;
	}
	int64_t id;
	int ret = dp_store_user_create(st, j->username, j->new_hash, j->role, dp_auth_now(j->auth), &id);
	json_t *d = json_pack("{s:s}", "role", dp_role_name(j->role));
	if (c) /* the actor's identity is still in the request */
		dp_audit_ctx(c, "user.create", target, ret == 0 ? DP_AUDIT_OK : DP_AUDIT_FAILED, d);
	else
		dp_audit_record(st, j->other_id, NULL, "user.create", target, ret == 0 ? DP_AUDIT_OK : DP_AUDIT_FAILED,
		                d, j->ip);
	json_decref(d);
	if (!c)
		return;
	struct dp_store_user u;
	if (ret == -EEXIST)
		dp_reply_error(c, 409, "username_taken", "a user named '%s' already exists", j->username);
	else if (ret < 0 || dp_store_user_get(st, id, &u) < 0)
		dp_reply_error(c, 500, "internal", "could not create the user");
	else
		dp_reply_json(c, 201, json_pack("{s:o}", "user", user_json(&u)));
}

static void create(struct dp_ctx *c)
{
	const char *username = c->body ? json_string_value(json_object_get(c->body, "username")) : NULL;
	const char *password = c->body ? json_string_value(json_object_get(c->body, "password")) : NULL;
	const char *why;
	int present;
	int role = body_role(c, DP_ROLE_VIEWER, &present);
	if (!dp_auth_username_valid(username)) {
		dp_reply_error(c, 400, "invalid_username", "username must be 1 to 64 characters of a-z A-Z 0-9 . _ -");
		return;
	}
	if (role < 0) {
		dp_reply_error(c, 400, "invalid_role", "role must be viewer, operator or admin");
		return;
	}
	if (dp_auth_password_check(password, &why) < 0) {
		dp_reply_error(c, 400, "weak_password", "%s", why);
		return;
	}
	struct dp_store_user u;
	if (dp_store_user_by_name(c->srv->store, username, &u) == 0) {
		dp_reply_error(c, 409, "username_taken", "a user named '%s' already exists", username);
		return;
	}
	struct dp_auth_pwjob *j = dp_auth_pwjob_new(c, create_done);
	dp_auth_pwjob_hash(j, password);
	j->role = role;
	j->other_id = c->user.id;
	j->arg = c->srv->store;
	snprintf(j->username, sizeof(j->username), "%s", username);
	if (dp_auth_pwjob_submit(j) < 0)
		reply_busy(c);
}

/* Apply a role change; replies on failure and returns -1. */
static int apply_role(struct dp_ctx *c, struct dp_store *st, int64_t id, int role, const char *target)
{
	int ret = dp_store_user_set_role(st, id, role, dp_auth_now(c->srv->auth));
	if (ret == 0)
		return 0;
	json_t *d = json_pack("{s:s}", "role", dp_role_name(role));
	dp_audit_ctx(c, "user.update", target, ret == -EBUSY ? DP_AUDIT_DENIED : DP_AUDIT_FAILED, d);
	json_decref(d);
	if (ret == -EBUSY)
		dp_reply_error(c, 409, "last_admin", "cannot demote the last admin");
	else if (ret == -ENOENT)
		dp_reply_error(c, 404, "not_found", "no such user");
	else
		dp_reply_error(c, 500, "internal", "could not change the role");
	return -1;
}

static void reply_user(struct dp_ctx *c, struct dp_store *st, int64_t id)
{
	struct dp_store_user u;
	if (dp_store_user_get(st, id, &u) < 0)
		dp_reply_error(c, 404, "not_found", "no such user");
	else
		dp_reply_json(c, 200, json_pack("{s:o}", "user", user_json(&u)));
}

static void patch_done(struct dp_auth_pwjob *j)
{
	struct dp_ctx *c = j->c;
	struct dp_store *st = j->arg;
	if (!c)
		return; /* an admin action whose requester vanished is not applied */
	char target[96];
	target_of(target, j->username);
	if (j->status != 0 || !j->hashed) {
		reply_busy(c);
		return;
	}
	if (j->role && apply_role(c, st, j->user_id, j->role, target) < 0)
		return;
	int ret = dp_store_user_set_password(st, j->user_id, j->new_hash, dp_auth_now(j->auth));
	if (ret == 0)
		dp_store_session_delete_user(st, j->user_id, 0);
	json_t *d = j->role ? json_pack("{s:s, s:b}", "role", dp_role_name(j->role), "password_reset", 1)
	                    : json_pack("{s:b}", "password_reset", 1);
	dp_audit_ctx(c, "user.update", target, ret == 0 ? DP_AUDIT_OK : DP_AUDIT_FAILED, d);
	json_decref(d);
	if (ret == -ENOENT)
		dp_reply_error(c, 404, "not_found", "no such user");
	else if (ret < 0)
		dp_reply_error(c, 500, "internal", "could not change the password");
	else
		reply_user(c, st, j->user_id);
}

static void patch(struct dp_ctx *c)
{
	struct dp_store *st = c->srv->store;
	int64_t id = dp_ctx_param_id(c, "id");
	struct dp_store_user u;
	if (id < 0 || dp_store_user_get(st, id, &u) < 0) {
		dp_reply_error(c, 404, "not_found", "no such user");
		return;
	}
	if (!c->body || !json_is_object(c->body)) {
		dp_reply_error(c, 400, "bad_request", "expected a JSON object with role and/or password");
		return;
	}
	int has_role;
	int role = body_role(c, 0, &has_role);
	json_t *pw = json_object_get(c->body, "password");
	if (!has_role && !pw) {
		dp_reply_error(c, 400, "bad_request", "nothing to change: give role and/or password");
		return;
	}
	if (has_role && role < 0) {
		dp_reply_error(c, 400, "invalid_role", "role must be viewer, operator or admin");
		return;
	}
	const char *why;
	if (pw && dp_auth_password_check(json_string_value(pw), &why) < 0) {
		dp_reply_error(c, 400, "weak_password", "%s", why);
		return;
	}
	char target[96];
	target_of(target, u.username);
	if (!pw) {
		if (apply_role(c, st, id, role, target) < 0)
			return;
		json_t *d = json_pack("{s:s}", "role", dp_role_name(role));
		dp_audit_ctx(c, "user.update", target, DP_AUDIT_OK, d);
		json_decref(d);
		reply_user(c, st, id);
		return;
	}
	struct dp_auth_pwjob *j = dp_auth_pwjob_new(c, patch_done);
	dp_auth_pwjob_hash(j, json_string_value(pw));
	j->user_id = id;
	j->role = has_role ? role : 0;
	j->arg = st;
	snprintf(j->username, sizeof(j->username), "%s", u.username);
	if (dp_auth_pwjob_submit(j) < 0)
		reply_busy(c);
}

static void del(struct dp_ctx *c)
{
	struct dp_store *st = c->srv->store;
	int64_t id = dp_ctx_param_id(c, "id");
	struct dp_store_user u;
	if (id < 0 || dp_store_user_get(st, id, &u) < 0) {
		dp_reply_error(c, 404, "not_found", "no such user");
		return;
	}
	char target[96];
	target_of(target, u.username);
	if (id == c->user.id) {
		dp_reply_error(c, 409, "self_delete", "you cannot remove your own account");
		return;
	}
	int ret = dp_store_user_delete(st, id);
	dp_audit_ctx(c, "user.delete", target,
	             ret == 0        ? DP_AUDIT_OK
	             : ret == -EBUSY ? DP_AUDIT_DENIED
	                             : DP_AUDIT_FAILED,
	             NULL);
	if (ret == -EBUSY)
		dp_reply_error(c, 409, "last_admin", "cannot remove the last admin");
	else if (ret == -ENOENT)
		dp_reply_error(c, 404, "not_found", "no such user");
	else if (ret < 0)
		dp_reply_error(c, 500, "internal", "could not remove the user");
	else
		dp_reply_empty(c);
}

const struct dp_route dp_api_users_routes[] = {
        {.method = "GET", .path = "/api/users", .fn = list, .role = DP_ROLE_ADMIN},
        {.method = "POST", .path = "/api/users", .fn = create, .role = DP_ROLE_ADMIN},
        {.method = "PATCH", .path = "/api/users/{id}", .fn = patch, .role = DP_ROLE_ADMIN},
        {.method = "DELETE", .path = "/api/users/{id}", .fn = del, .role = DP_ROLE_ADMIN},
        {0},
};
