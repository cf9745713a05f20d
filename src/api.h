/*
 * api.h - the contract between the HTTP layer and every src/api_<area>.c.
 *
 * Each API area exports a table slice of struct dp_route built with
 * designated initializers:
 *
 *   const struct dp_route dp_api_users_routes[] = {
 *       { .method = "GET", .path = "/api/users", .fn = list, .role = DP_ROLE_ADMIN },
 *       { .method = "PATCH", .path = "/api/users/{id}", .fn = patch, .role = DP_ROLE_ADMIN },
 *       { 0 }
 *   };
 *
 * A route whose .role is left out has DP_ROLE_UNSET; the router refuses to
 * start with such a route (dp_route_table_check) and a unit test walks every
 * table, so a route without a declared role cannot ship.
 *
 * Dispatch order (route.c, central, never per handler): match path -> 404;
 * match method -> 405 + Allow; authenticate (cookie session or Bearer dp_
 * token) unless DP_ROLE_PUBLIC -> 401; role check -> 403; CSRF check for
 * mutating cookie requests -> 403; parse JSON body for POST/PUT/PATCH when
 * present -> 400; then the handler.
 *
 * A handler gets a struct dp_ctx that lives as long as the request. It must
 * end the request exactly once with dp_reply_*() or an SSE stream (sse.h),
 * now or later; if it answers later it must register dp_ctx_on_abort().
 */
#ifndef DP_API_H
#define DP_API_H

#include <jansson.h>
#include <stdint.h>

struct dp_server;
struct dp_http_req;

enum dp_role {
	DP_ROLE_UNSET = 0,  /* a route must never have this */
	DP_ROLE_PUBLIC = 1, /* no session needed (login, healthz) */
	DP_ROLE_VIEWER = 2,
	DP_ROLE_OPERATOR = 3,
	DP_ROLE_ADMIN = 4,
};

/* "viewer" | "operator" | "admin" <-> enum; -1 / NULL when unknown. */
int dp_role_parse(const char *s);
const char *dp_role_name(int role);

#define DP_USERNAME_MAX    64
#define DP_MAX_PATH_PARAMS 4

struct dp_user {
	int64_t id;
	char username[DP_USERNAME_MAX + 1];
	int role; /* enum dp_role */
};

enum dp_auth_kind { DP_AUTH_NONE = 0, DP_AUTH_SESSION, DP_AUTH_TOKEN };

struct dp_ctx {
	struct dp_server *srv;
	struct dp_http_req *req;
	const struct dp_route *route;
	/* set by authentication */
	int auth_kind;       /* enum dp_auth_kind */
	int64_t session_id;  /* when DP_AUTH_SESSION */
	int64_t token_id;    /* when DP_AUTH_TOKEN */
	struct dp_user user; /* valid when auth_kind != DP_AUTH_NONE */
	/* path parameters, e.g. {id} */
	int nparams;
	const char *param_names[DP_MAX_PATH_PARAMS];
	const char *param_values[DP_MAX_PATH_PARAMS];
	/* parsed JSON body (POST/PUT/PATCH with a body), else NULL; owned by ctx */
	json_t *body;
	/* set when the response has been started or sent */
	int replied;
	void (*on_abort)(struct dp_ctx *c, void *arg);
	void *abort_arg;
};

typedef void (*dp_route_fn)(struct dp_ctx *c);

#define DP_ROUTE_NO_CSRF 0x1 /* e.g. login: checks Origin itself */

struct dp_route {
	const char *method; /* "GET", "POST", "PUT", "PATCH", "DELETE" */
	const char *path;   /* "/api/users/{id}"; a {name} matches one segment */
	dp_route_fn fn;
	int role; /* enum dp_role; DP_ROLE_UNSET is rejected */
	unsigned flags;
};

/* Path parameter by name; NULL when absent. */
const char *dp_ctx_param(const struct dp_ctx *c, const char *name);
/* Path parameter parsed as a positive int64; -1 when absent or invalid. */
int64_t dp_ctx_param_id(const struct dp_ctx *c, const char *name);
/* Query parameter, percent-decoded; NULL when absent. */
const char *dp_ctx_query(const struct dp_ctx *c, const char *name);
/* Run `fn` if the client goes away before the response ends. */
void dp_ctx_on_abort(struct dp_ctx *c, void (*fn)(struct dp_ctx *c, void *arg), void *arg);

/* Send `json` (reference stolen) with `status`; ends the request. */
void dp_reply_json(struct dp_ctx *c, int status, json_t *json);
/* Send {"error":{"code":code,"message":...}}; ends the request. */
void dp_reply_error(struct dp_ctx *c, int status, const char *code, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
/* 204 No Content. */
void dp_reply_empty(struct dp_ctx *c);
/* Map a negative errno from a module to a status + code and reply with
 * `message` (used with struct dp_err from lib/err.h when present). */
void dp_reply_errno(struct dp_ctx *c, int err, const char *message);

/* Client identity for audit/throttling ("127.0.0.1"). */
const char *dp_ctx_peer(const struct dp_ctx *c);

#endif
