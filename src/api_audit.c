/*
 * api_audit.c - GET /api/audit (admin): the audit trail, newest first,
 * paginated with an id cursor and filterable. docs/api-auth.md.
 *
 * Paging: the query asks the store for limit+1 rows; when the extra row
 * exists, `next_before` is the id of the last row returned, else null.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "auth.h"
#include "server.h"
#include "store.h"

#define DEFAULT_LIMIT 50
#define MAX_LIMIT     200
#define MAX_FILTER    128

struct page {
	json_t *entries;
	int limit;
	int n;
	int more;
	int64_t last_id;
};

static json_t *str_or_null(const char *s)
{
	json_t *j = s ? json_string(s) : NULL; /* NULL for invalid UTF-8 as well */
	return j ? j : json_null();
}

static int add_entry(const struct dp_store_audit *e, void *arg)
{
	struct page *p = arg;
	if (p->n == p->limit) {
		p->more = 1;
		return 1;
	}
	json_t *detail = NULL;
	if (e->detail) {
		detail = json_loads(e->detail, 0, NULL);
		if (detail && !json_is_object(detail)) {
			json_decref(detail);
			detail = NULL;
		}
	}
	json_t *o =
	        json_pack("{s:I, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "id", (json_int_t)e->id, "at",
	                  dp_auth_time_json(e->at), "user_id", e->user_id > 0 ? json_integer(e->user_id) : json_null(),
	                  "username", str_or_null(e->username), "action", str_or_null(e->action), "target",
	                  str_or_null(e->target), "result", str_or_null(e->result), "detail",
	                  detail ? detail : json_null(), "ip", str_or_null(e->ip));
	json_array_append_new(p->entries, o);
	p->n++;
	p->last_id = e->id;
	return 0;
}

/* A bounded text filter; -1 (and a 400 sent) when too long. */
static int text_param(struct dp_ctx *c, const char *name, const char **out)
{
	const char *v = dp_ctx_query(c, name);
	if (v && strlen(v) > MAX_FILTER) {
		dp_reply_error(c, 400, "bad_request", "%s is longer than %d characters", name, MAX_FILTER);
		return -1;
	}
	*out = v && *v ? v : NULL;
	return 0;
}

static int int_param(struct dp_ctx *c, const char *name, int64_t lo, int64_t hi, int64_t *out)
{
	const char *v = dp_ctx_query(c, name);
	if (!v || !*v)
		return 0;
	char *end;
	errno = 0;
	long long n = strtoll(v, &end, 10);
	if (errno || *end || n < lo || n > hi) {
		dp_reply_error(c, 400, "bad_request", "%s must be an integer from %lld to %lld", name, (long long)lo,
		               (long long)hi);
		return -1;
	}
	*out = n;
	return 0;
}

static int time_param(struct dp_ctx *c, const char *name, int64_t *out)
{
	const char *v = dp_ctx_query(c, name);
	if (!v || !*v)
		return 0;
	if (strlen(v) > 40 || dp_auth_parse_time(v, out) < 0) {
		dp_reply_error(c, 400, "bad_request", "%s must be an ISO 8601 UTC time or Unix seconds", name);
		return -1;
	}
	return 0;
}

static void list(struct dp_ctx *c)
{
	struct dp_store_audit_filter f = {0};
	int64_t limit = DEFAULT_LIMIT;
	if (int_param(c, "limit", 1, MAX_LIMIT, &limit) < 0 || int_param(c, "before", 1, INT64_MAX, &f.before_id) < 0 ||
	    time_param(c, "since", &f.since) < 0 || time_param(c, "until", &f.until) < 0 ||
	    text_param(c, "user", &f.username) < 0 || text_param(c, "action", &f.action) < 0 ||
	    text_param(c, "target", &f.target) < 0)
		return;
	/* One more than asked tells whether another page exists. */
	f.limit = (int)limit + 1;
	struct page p = {.entries = json_array(), .limit = (int)limit};
	if (dp_store_audit_query(c->srv->store, &f, add_entry, &p) < 0) {
		json_decref(p.entries);
		dp_reply_error(c, 500, "internal", "could not read the audit log");
		return;
	}
	dp_reply_json(c, 200,
	              json_pack("{s:o, s:o}", "entries", p.entries, "next_before",
	                        p.more ? json_integer(p.last_id) : json_null()));
}

const struct dp_route dp_api_audit_routes[] = {
        {.method = "GET", .path = "/api/audit", .fn = list, .role = DP_ROLE_ADMIN},
        {0},
};
