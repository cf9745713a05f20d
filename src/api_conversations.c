/*
 * api_conversations.c - /api/conversations: each user's saved chats (list,
 * get, create, rename, delete, export as Markdown or JSON). Shapes:
 * docs/api-chat.md. Someone else's conversation answers 404, like a missing
 * one, so ids are not confirmed to exist. The chat relay (api_chat.c)
 * appends the messages.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "auth.h"
#include "chat.h"
#include "conversations.h"
#include "http.h"
#include "server.h"

static int64_t now_s(struct dp_ctx *c)
{
	return dp_auth_now(c->srv->auth);
}

static void reply_rc(struct dp_ctx *c, int rc)
{
	if (rc == -ENOENT)
		dp_reply_error(c, 404, "not_found", "no such conversation");
	else if (rc == -EINVAL)
		dp_reply_error(c, 400, "bad_request", "invalid request");
	else
		dp_reply_error(c, 500, "internal", "could not read or write the history");
}

static int query_int(struct dp_ctx *c, const char *name, int64_t def, int64_t lo, int64_t hi, int64_t *out)
{
	const char *v = dp_ctx_query(c, name);
	*out = def;
	if (!v)
		return 0;
	char *end;
	errno = 0;
	long long n = strtoll(v, &end, 10);
	if (errno || end == v || *end || n < lo || n > hi) {
		dp_reply_error(c, 400, "bad_request", "%s must be an integer from %lld to %lld", name, (long long)lo,
		               (long long)hi);
		return -1;
	}
	*out = n;
	return 0;
}

static void list(struct dp_ctx *c)
{
	int64_t limit, offset;
	if (query_int(c, "limit", 50, 1, DP_CONV_LIST_MAX, &limit) < 0 ||
	    query_int(c, "offset", 0, 0, INT32_MAX, &offset) < 0)
		return;
	const char *q = dp_ctx_query(c, "q");
	if (q && strlen(q) > DP_CONV_QUERY_MAX) {
		dp_reply_error(c, 400, "bad_request", "q (the search) must be at most %d bytes", DP_CONV_QUERY_MAX);
		return;
	}
	json_t *o;
	int rc = dp_conv_list(c->srv->store, c->user.id, q, offset, (int)limit, &o);
	if (rc < 0) {
		reply_rc(c, rc);
		return;
	}
	dp_reply_json(c, 200, o);
}

static void get_one(struct dp_ctx *c)
{
	int64_t id = dp_ctx_param_id(c, "id");
	json_t *o;
	int rc = id < 0 ? -ENOENT : dp_conv_get(c->srv->store, id, c->user.id, 1, &o);
	if (rc < 0) {
		reply_rc(c, rc);
		return;
	}
	dp_reply_json(c, 200, json_pack("{s:o}", "conversation", o));
}

static const char *opt_str(struct dp_ctx *c, const char *k, size_t max, int *bad)
{
	json_t *v = c->body ? json_object_get(c->body, k) : NULL;
	if (!v || json_is_null(v))
		return NULL;
	if (!json_is_string(v) || json_string_length(v) > max) {
		dp_reply_error(c, 400, "bad_request", "%s must be a string of at most %zu bytes", k, max);
		*bad = 1;
		return NULL;
	}
	return json_string_value(v);
}

static void create(struct dp_ctx *c)
{
	int bad = 0;
	struct dp_conv_new n = {0};
	n.title = opt_str(c, "title", 1024, &bad);
	if (!bad)
		n.model = opt_str(c, "model", 256, &bad);
	if (!bad)
		n.api = opt_str(c, "api", 16, &bad);
	if (!bad)
		n.system_prompt = opt_str(c, "system_prompt", 1 << 20, &bad);
	if (bad)
		return;
	if (n.title && dp_conv_check_title(n.title) < 0) {
		dp_reply_error(c, 400, "invalid_title", "title must be 1 to %d characters without control characters",
		               DP_CONV_TITLE_MAX);
		return;
	}
	if (n.api && dp_chat_api_parse(n.api) < 0) {
		dp_reply_error(c, 400, "bad_request", "api must be \"v1\", \"v0\" or \"openai\"");
		return;
	}
	json_t *t = c->body ? json_object_get(c->body, "target_id") : NULL;
	if (t && !json_is_null(t)) {
		if (!json_is_integer(t) || json_integer_value(t) < 1) {
			dp_reply_error(c, 400, "bad_request", "target_id must be a positive integer");
			return;
		}
		n.target_id = json_integer_value(t);
	}
	int64_t id;
	json_t *o;
	int rc = dp_conv_create(c->srv->store, c->user.id, &n, now_s(c), &id);
	if (rc == 0)
		rc = dp_conv_get(c->srv->store, id, c->user.id, 1, &o);
	if (rc < 0) {
		reply_rc(c, rc);
		return;
	}
	dp_reply_json(c, 201, json_pack("{s:o}", "conversation", o));
}

static void rename_one(struct dp_ctx *c)
{
	int64_t id = dp_ctx_param_id(c, "id");
	const char *title = c->body ? json_string_value(json_object_get(c->body, "title")) : NULL;
	if (id < 0 || dp_conv_check(c->srv->store, id, c->user.id) < 0) {
		reply_rc(c, -ENOENT);
		return;
	}
	if (dp_conv_check_title(title) < 0) {
		dp_reply_error(c, 400, "invalid_title", "title must be 1 to %d characters without control characters",
		               DP_CONV_TITLE_MAX);
		return;
	}
	json_t *o;
	int rc = dp_conv_rename(c->srv->store, id, c->user.id, title, now_s(c));
	if (rc == 0)
		rc = dp_conv_get(c->srv->store, id, c->user.id, 0, &o);
	if (rc < 0) {
		reply_rc(c, rc);
		return;
	}
	dp_reply_json(c, 200, json_pack("{s:o}", "conversation", o));
}

static void del(struct dp_ctx *c)
{
	int64_t id = dp_ctx_param_id(c, "id");
	int rc = id < 0 ? -ENOENT : dp_conv_delete(c->srv->store, id, c->user.id);
	if (rc < 0) {
		reply_rc(c, rc);
		return;
	}
	dp_reply_empty(c);
}

static void export_one(struct dp_ctx *c)
{
	int64_t id = dp_ctx_param_id(c, "id");
	const char *fmt = dp_ctx_query(c, "format");
	if (!fmt)
		fmt = "json";
	int md = !strcmp(fmt, "md") || !strcmp(fmt, "markdown");
	if (!md && strcmp(fmt, "json")) {
		dp_reply_error(c, 400, "bad_request", "format must be md or json");
		return;
	}
	json_t *o;
	int rc = id < 0 ? -ENOENT : dp_conv_get(c->srv->store, id, c->user.id, 1, &o);
	if (rc < 0) {
		reply_rc(c, rc);
		return;
	}
	char disp[96];
	snprintf(disp, sizeof(disp), "attachment; filename=\"conversation-%lld.%s\"", (long long)id,
	         md ? "md" : "json");
	dp_http_add_header(c->req, "Content-Disposition", disp);
	if (!md) {
		json_object_set_new(o, "exported_at", dp_auth_time_json(now_s(c)));
		dp_reply_json(c, 200, json_pack("{s:o}", "conversation", o));
		return;
	}
	struct dp_buf b;
	dp_buf_init(&b, 256u << 20);
	dp_conv_markdown(o, &b);
	json_decref(o);
	struct dp_http_req *req = c->req;
	c->replied = 1;
	dp_http_add_header(req, "X-Content-Type-Options", "nosniff");
	dp_http_add_header(req, "Cache-Control", "no-store");
	dp_http_reply(req, 200, "text/markdown; charset=utf-8", b.data, b.len); /* ctx gone after this */
	dp_buf_release(&b);
}

const struct dp_route dp_api_conversations_routes[] = {
        {.method = "GET", .path = "/api/conversations", .fn = list, .role = DP_ROLE_VIEWER},
        {.method = "POST", .path = "/api/conversations", .fn = create, .role = DP_ROLE_OPERATOR},
        {.method = "GET", .path = "/api/conversations/{id}", .fn = get_one, .role = DP_ROLE_VIEWER},
        {.method = "PATCH", .path = "/api/conversations/{id}", .fn = rename_one, .role = DP_ROLE_VIEWER},
        {.method = "DELETE", .path = "/api/conversations/{id}", .fn = del, .role = DP_ROLE_VIEWER},
        {.method = "GET", .path = "/api/conversations/{id}/export", .fn = export_one, .role = DP_ROLE_VIEWER},
        {0},
};
