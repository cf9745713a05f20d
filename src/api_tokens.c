/*
 * api_tokens.c - /api/tokens: a user's own personal API tokens for scripts.
 * Shapes and status codes: docs/api-auth.md.
 *
 * The secret ("dp_" + 43 base64url characters) is generated here, returned
 * once in the POST response and stored only as a hash (auth.c). Creating a
 * token needs a session: a leaked token must not be able to mint more
 * tokens that would outlive its own revocation.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "api.h"
#include "audit.h"
#include "auth.h"
#include "server.h"
#include "store.h"

#define MAX_EXPIRY_DAYS 3650

static json_t *token_json(const struct dp_store_token *t)
{
	return json_pack("{s:I, s:s, s:s, s:o, s:o, s:o}", "id", (json_int_t)t->id, "name", t->name, "prefix",
	                 t->prefix, "created_at", dp_auth_time_json(t->created_at), "last_used_at",
	                 dp_auth_time_json(t->last_used_at), "expires_at", dp_auth_time_json(t->expires_at));
}

static int add_token(const struct dp_store_token *t, void *arg)
{
	json_array_append_new(arg, token_json(t));
	return 0;
}

static void list(struct dp_ctx *c)
{
	json_t *arr = json_array();
	if (dp_store_token_each(c->srv->store, c->user.id, add_token, arr) < 0) {
		json_decref(arr);
		dp_reply_error(c, 500, "internal", "could not list tokens");
		return;
	}
	dp_reply_json(c, 200, json_pack("{s:o}", "tokens", arr));
}

/* 1..64 bytes of valid UTF-8 (jansson guarantees that) without control
 * characters. */
static int name_valid(const char *s)
{
	if (!s)
		return 0;
	size_t n = strlen(s);
	if (n < 1 || n > DP_STORE_TOKEN_NAME_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch < 0x20 || ch == 0x7f)
			return 0;
	}
	return 1;
}

static void create(struct dp_ctx *c)
{
	if (c->auth_kind != DP_AUTH_SESSION) {
		dp_reply_error(c, 403, "session_required", "API tokens can only be created from a signed-in session");
		return;
	}
	const char *name = c->body ? json_string_value(json_object_get(c->body, "name")) : NULL;
	if (!name_valid(name)) {
		dp_reply_error(c, 400, "invalid_name", "name must be 1 to 64 characters without control characters");
		return;
	}
	json_t *exp = c->body ? json_object_get(c->body, "expires_in_days") : NULL;
	int64_t days = 0;
	if (exp && !json_is_null(exp)) {
		if (!json_is_integer(exp) || json_integer_value(exp) < 1 || json_integer_value(exp) > MAX_EXPIRY_DAYS) {
			dp_reply_error(c, 400, "invalid_expiry",
			               "expires_in_days must be an integer from 1 to %d or null", MAX_EXPIRY_DAYS);
			return;
		}
		days = json_integer_value(exp);
	}
	int64_t now = dp_auth_now(c->srv->auth);
	char secret[DP_AUTH_TOKEN_LEN + 1], prefix[8];
	uint8_t hash[32];
	dp_auth_new_api_token(secret, hash);
	memcpy(prefix, secret, 7);
	prefix[7] = '\0';
	int64_t id;
	int ret = dp_store_token_create(c->srv->store, c->user.id, name, prefix, hash, now,
	                                days ? now + days * 86400 : 0, &id);
	struct dp_store_token t;
	if (ret == 0)
		ret = dp_store_token_get(c->srv->store, id, &t);
	char target[48];
	snprintf(target, sizeof(target), "token:%lld", ret == 0 ? (long long)id : 0LL);
	json_t *d = json_pack("{s:s}", "name", name);
	dp_audit_ctx(c, "token.create", ret == 0 ? target : NULL, ret == 0 ? DP_AUDIT_OK : DP_AUDIT_FAILED, d);
	json_decref(d);
	if (ret == -ENOSPC)
		dp_reply_error(c, 409, "too_many_tokens", "at most %d tokens per user; revoke one first",
		               DP_STORE_TOKENS_PER_USER);
	else if (ret < 0)
		dp_reply_error(c, 500, "internal", "could not create the token");
	else
		dp_reply_json(c, 201, json_pack("{s:o, s:s}", "token", token_json(&t), "secret", secret));
	sodium_memzero(secret, sizeof(secret));
}

static void del(struct dp_ctx *c)
{
	int64_t id = dp_ctx_param_id(c, "id");
	int ret = id > 0 ? dp_store_token_delete(c->srv->store, id, c->user.id) : -ENOENT;
	char target[48];
	snprintf(target, sizeof(target), "token:%lld", (long long)(id > 0 ? id : 0));
	if (ret != -ENOENT)
		dp_audit_ctx(c, "token.revoke", target, ret == 0 ? DP_AUDIT_OK : DP_AUDIT_FAILED, NULL);
	if (ret == -ENOENT)
		dp_reply_error(c, 404, "not_found", "no such token");
	else if (ret < 0)
		dp_reply_error(c, 500, "internal", "could not revoke the token");
	else
		dp_reply_empty(c);
}

const struct dp_route dp_api_tokens_routes[] = {
        {.method = "GET", .path = "/api/tokens", .fn = list, .role = DP_ROLE_VIEWER},
        {.method = "POST", .path = "/api/tokens", .fn = create, .role = DP_ROLE_VIEWER},
        {.method = "DELETE", .path = "/api/tokens/{id}", .fn = del, .role = DP_ROLE_VIEWER},
        {0},
};
