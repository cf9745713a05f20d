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

#include "api.h"

#define DP_SESSION_COOKIE "dp_session"

/* Fill c->auth_kind/user/session_id/token_id from the cookie or Bearer
 * token. Returns 0 when authenticated, -EACCES when not (expired, revoked,
 * unknown or absent). Refreshes the idle timer. Never blocks. */
int dp_auth_authenticate(struct dp_ctx *c);

/* CSRF: for mutating methods on cookie-authenticated requests, the Origin
 * (or Referer) must match the server's own origin, or the X-CSRF-Token
 * header must be present. Bearer-token requests are exempt. 0 or -EPERM. */
int dp_auth_csrf_check(struct dp_ctx *c);

#endif
