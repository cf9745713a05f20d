/*
 * route.h - the route table, the path matcher and the central dispatcher.
 *
 * Every src/api_<area>.c exports one slice `dp_api_<area>_routes[]`
 * terminated by `{0}`; dp_route_slices lists them all. At start-up
 * dp_route_table_new() checks every route (dp_route_table_check: method,
 * path, handler and a declared role; DP_ROLE_UNSET is refused), rejects
 * duplicates (same method and same path shape) and compiles the paths into
 * segments. Matching: a literal segment must equal the request's raw
 * segment, `{name}` matches one non-empty segment (percent-decoded into the
 * parameter); when several routes match, the one with a literal where the
 * other has a parameter (leftmost first) wins. HEAD is served by GET routes.
 *
 * dp_route_dispatch() is the dp_http handler. Its order never varies (see
 * api.h): 404 (after the web-UI fallback: a GET/HEAD outside /api/ that no
 * route claims is served by webui.c) -> 405 + Allow -> authentication
 * (401) -> role (403) -> CSRF for mutating cookie requests (403) -> JSON
 * body for POST/PUT/PATCH (400) -> the handler.
 *
 * The table is read-only after creation; loop thread only.
 */
#ifndef DP_ROUTE_H
#define DP_ROUTE_H

#include <jansson.h>
#include <stddef.h>

#include "api.h"

struct dp_http_req;

/* Route flag: the route's role becomes DP_ROLE_PUBLIC when the server is
 * configured with metrics_public (GET /metrics). */
#define DP_ROUTE_OPT_PUBLIC 0x100

#define DP_ROUTE_MAX_SEGMENTS 16

/* The slices (each ends with {0}); NULL-terminated. */
extern const struct dp_route dp_api_health_routes[];
extern const struct dp_route dp_api_auth_routes[];
extern const struct dp_route dp_api_users_routes[];
extern const struct dp_route dp_api_tokens_routes[];
extern const struct dp_route dp_api_audit_routes[];
extern const struct dp_route dp_api_targets_routes[];
extern const struct dp_route dp_api_events_routes[];
extern const struct dp_route dp_api_settings_routes[];
extern const struct dp_route dp_api_logs_routes[];
extern const struct dp_route dp_api_chat_routes[];
extern const struct dp_route dp_api_conversations_routes[];
extern const struct dp_route dp_api_forge_routes[];
extern const struct dp_route dp_api_mcp_routes[];
extern const struct dp_route dp_api_gpus_routes[];
extern const struct dp_route dp_api_agent_routes[];
extern const struct dp_route *const dp_route_slices[];
/* webui.c's catch-all for the single-page app: one route, not matched like
 * the others (see dp_route_dispatch). */
extern const struct dp_route dp_webui_routes[];

/* Check one slice. 0, or -EINVAL with a message in err naming the route. */
int dp_route_table_check(const struct dp_route *routes, char *err, size_t errlen);

struct dp_route_table;

/* Check and compile `slices` (NULL-terminated). NULL with a heap message in
 * *err on an invalid or duplicate route. */
struct dp_route_table *dp_route_table_new(const struct dp_route *const *slices, int metrics_public, char **err);
void dp_route_table_free(struct dp_route_table *t);
/* Routes in the table (for metrics labels); index i < count. */
size_t dp_route_table_count(const struct dp_route_table *t);
const struct dp_route *dp_route_table_at(const struct dp_route_table *t, size_t i);

struct dp_route_match {
	int index; /* table index, -1 when none */
	const struct dp_route *route;
	int role; /* effective role (DP_ROUTE_OPT_PUBLIC applied) */
	int nparams;
	const char *names[DP_MAX_PATH_PARAMS];
	const char *values[DP_MAX_PATH_PARAMS]; /* point into `scratch` */
	char allow[64];                         /* for 405: "GET, HEAD, POST" */
};

/*
 * Match `method` and the raw request path `path` (no query string; `len`
 * bytes). Parameter values are decoded into `scratch` (needs len + 1
 * bytes). Returns 0 (match), 404 (no route for the path) or 405 (path
 * known, method not; m->allow filled) or 400 (bad percent-escape in a
 * parameter).
 */
int dp_route_match(const struct dp_route_table *t, const char *method, const char *path, size_t len,
                   struct dp_route_match *m, char *scratch);

/*
 * Parse a request body as JSON (the router's body step, exposed for the
 * fuzz target). Returns 0 with *out set (a JSON object) or -EINVAL with a
 * helpful message in msg ("malformed JSON at line 1, column 5: ...").
 */
int dp_route_parse_body(const char *body, size_t len, json_t **out, char *msg, size_t msglen);

/* The dp_http handler; `arg` is the struct dp_server. */
void dp_route_dispatch(struct dp_http_req *req, void *arg);
/* The dp_http on_done hook: metrics, access log, ctx cleanup. */
void dp_route_done(struct dp_http_req *req, int status, uint64_t bytes, uint64_t dur_us, void *arg);

#endif
