/*
 * mcp_registry.c - MCP servers, tools, policy, mcp.json, integrations and
 * the tool-call audit (see mcp_registry.h; docs/api-mcp.md).
 */
#include "mcp_registry.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent_client.h"
#include "audit.h"
#include "auth.h"
#include "log.h"
#include "mcp.h"
#include "secret.h"
#include "store.h"
#include "targets.h"
#include "upstream.h"
#include "fileio.h"
#include "xmalloc.h"

#define MAX_TOOL_JSON (256u << 10) /* one stored Tool object */
#define MCP_JSON_MAX  (1u << 20)

/* ------------------------------------------------------------ validation */

int dp_mcp_check_label(const char *s, const char **why)
{
	size_t n = s ? strlen(s) : 0;
	if (n < 1 || n > DP_MCP_LABEL_MAX)
		return *why = "label must be 1 to 64 characters", -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-' && s[i] != '.')
			return *why = "label may only contain letters, digits, '_', '-' and '.'", -EINVAL;
	return 0;
}

int dp_mcp_check_url(const char *s, const char **why)
{
	char *b = NULL, *p = NULL;
	if (!s || !*s || strlen(s) > DP_UPSTREAM_MAX_URL)
		return *why = "url must be an http or https url of at most 2048 bytes", -EINVAL;
	for (const char *c = s; *c; c++)
		if ((unsigned char)*c <= 0x20 || (unsigned char)*c >= 0x7f)
			return *why = "url must not contain spaces or control characters", -EINVAL;
	if (dp_mcp_split_url(s, &b, &p) < 0)
		return *why = "url must be an http or https url with a host, without credentials or fragment", -EINVAL;
	const char *err = NULL;
	int rc = dp_upstream_check_url(b, &err);
	free(b);
	free(p);
	if (rc < 0)
		return *why = err ? err : "url is not valid", -EINVAL;
	return 0;
}

static int reserved_header(const char *n)
{
	static const char *const r[] = {"host",
	                                "content-length",
	                                "accept",
	                                "content-type",
	                                "mcp-session-id",
	                                "mcp-protocol-version",
	                                "transfer-encoding",
	                                "connection",
	                                "expect",
	                                "last-event-id"};
	for (size_t i = 0; i < sizeof(r) / sizeof(r[0]); i++)
		if (strcasecmp(n, r[i]) == 0)
			return 1;
	return 0;
}

int dp_mcp_check_headers(const json_t *h, int allow_null, const char **why)
{
	if (!json_is_object(h))
		return *why = "headers must be an object of names to values", -EINVAL;
	if (json_object_size(h) > DP_MCP_HEADERS_MAX)
		return *why = "at most 16 headers", -EINVAL;
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)h, k, v)
	{
		size_t n = strlen(k);
		if (n < 1 || n > 64)
			return *why = "a header name must be 1 to 64 characters", -EINVAL;
		for (size_t i = 0; i < n; i++)
			if (!isalnum((unsigned char)k[i]) && k[i] != '-' && k[i] != '_')
				return *why = "a header name may only contain letters, digits, '-' and '_'", -EINVAL;
		if (reserved_header(k))
			return *why = "that header is set by the client itself and cannot be configured", -EINVAL;
		if (json_is_null(v) && allow_null)
			continue;
		if (!json_is_string(v) || json_string_length(v) < 1 || json_string_length(v) > DP_MCP_HEADER_VALUE_MAX)
			return *why = "a header value must be a string of 1 to 4096 bytes", -EINVAL;
		const char *s = json_string_value(v);
		for (size_t i = 0; i < json_string_length(v); i++)
			if (((unsigned char)s[i] < 0x20 && s[i] != '\t') || s[i] == 0x7f)
				return *why = "a header value must not contain control characters", -EINVAL;
	}
	return 0;
}

/* ------------------------------------------------------------ hashes */

static void hex16(const unsigned char *h, char out[17])
{
	static const char x[] = "0123456789abcdef";
	for (int i = 0; i < 8; i++) {
		out[2 * i] = x[h[i] >> 4];
		out[2 * i + 1] = x[h[i] & 15];
	}
	out[16] = '\0';
}

static void hash_add(crypto_generichash_state *st, const char *s)
{
	size_t n = s ? strlen(s) : 0;
	unsigned char len[8];
	for (int i = 0; i < 8; i++)
		len[i] = (unsigned char)((uint64_t)n >> (8 * i));
	crypto_generichash_update(st, len, sizeof(len)); /* length-prefixed: no ambiguity */
	if (n)
		crypto_generichash_update(st, (const unsigned char *)s, n);
}

/* name=value pairs sorted by lower-cased name (order and case do not
 * change the identity; values do). */
static void hash_pairs(crypto_generichash_state *st, const json_t *obj)
{
	const char *keys[64];
	size_t n = 0;
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)obj, k, v)
	{
		if (n < 64)
			keys[n++] = k;
	}
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && strcasecmp(keys[j - 1], keys[j]) > 0; j--) {
			const char *t = keys[j];
			keys[j] = keys[j - 1];
			keys[j - 1] = t;
		}
	char low[80];
	for (size_t i = 0; i < n; i++) {
		size_t m = 0;
		for (; keys[i][m] && m + 1 < sizeof(low); m++)
			low[m] = (char)tolower((unsigned char)keys[i][m]);
		low[m] = '\0';
		hash_add(st, low);
		hash_add(st, json_string_value(json_object_get(obj, keys[i])));
	}
}

void dp_mcp_identity_http(const char *label, const char *url, const json_t *headers, char out[17])
{
	unsigned char h[16];
	crypto_generichash_state st;
	crypto_generichash_init(&st, NULL, 0, sizeof(h));
	hash_add(&st, "http");
	hash_add(&st, label);
	hash_add(&st, url);
	if (headers)
		hash_pairs(&st, headers);
	crypto_generichash_final(&st, h, sizeof(h));
	hex16(h, out);
}

void dp_mcp_identity_stdio(const char *label, const char *command, const json_t *args, const json_t *env, char out[17])
{
	unsigned char h[16];
	crypto_generichash_state st;
	crypto_generichash_init(&st, NULL, 0, sizeof(h));
	hash_add(&st, "stdio");
	hash_add(&st, label);
	hash_add(&st, command);
	size_t i;
	json_t *a;
	json_array_foreach((json_t *)args, i, a) hash_add(&st, json_string_value(a));
	hash_add(&st, "env");
	if (env)
		hash_pairs(&st, env);
	crypto_generichash_final(&st, h, sizeof(h));
	hex16(h, out);
}

void dp_mcp_schema_hash(const json_t *tool, char out[17])
{
	json_t *o = json_object();
	static const char *const keys[] = {"name", "description", "inputSchema", "outputSchema", "annotations"};
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		json_t *v = json_object_get(tool, keys[i]);
		if (v)
			json_object_set(o, keys[i], v);
	}
	char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
	json_decref(o);
	unsigned char h[16];
	crypto_generichash(h, sizeof(h), (const unsigned char *)(s ? s : ""), s ? strlen(s) : 0, NULL, 0);
	free(s);
	hex16(h, out);
}

/* ------------------------------------------------------------ policy */

void dp_mcp_policy_eval(const char *decision, const char *dec_identity, const char *dec_hash, const char *cur_identity,
                        const char *cur_hash, int auto_ro, int read_only_hint, int present,
                        struct dp_mcp_policy_view *out)
{
	out->state = "pending";
	out->effective = "deny";
	out->source = "none";
	out->reason = "new";
	if (decision) {
		if (!dec_identity || !cur_identity || strcmp(dec_identity, cur_identity) != 0) {
			out->reason = "identity_changed";
		} else if (!dec_hash || !cur_hash || strcmp(dec_hash, cur_hash) != 0) {
			out->reason = "schema_changed";
		} else {
			out->state = strcmp(decision, "allow") == 0 ? "allow" : "deny";
			out->reason = NULL;
			out->source = "admin";
			out->effective = present ? out->state : "deny";
			return;
		}
	}
	if (auto_ro && read_only_hint && present) {
		out->effective = "allow";
		out->source = "auto_read_only";
	}
}

/* ------------------------------------------------------------ tool view */

static int hint(const json_t *ann, const char *k, int dflt)
{
	json_t *v = json_object_get(ann, k);
	return json_is_boolean(v) ? json_is_true(v) : dflt;
}

json_t *dp_mcp_tool_view(const json_t *tool)
{
	json_t *o = json_object();
	json_t *ann = json_object_get(tool, "annotations");
	if (!json_is_object(ann))
		ann = NULL;
	json_object_set_new(o, "name", json_string(json_string_value(json_object_get(tool, "name"))));
	const char *title = json_string_value(json_object_get(tool, "title"));
	if (!title)
		title = json_string_value(json_object_get(ann, "title"));
	json_object_set_new(o, "title", title ? json_string(title) : json_null());
	const char *d = json_string_value(json_object_get(tool, "description"));
	json_object_set_new(o, "description", d ? json_string(d) : json_null());
	json_t *schema = json_object_get(tool, "inputSchema");
	json_t *params = json_array();
	json_t *props = json_object_get(schema, "properties");
	json_t *req = json_object_get(schema, "required");
	const char *k;
	json_t *p;
	json_object_foreach(props, k, p)
	{
		int required = 0;
		size_t i;
		json_t *r;
		json_array_foreach(req, i, r) if (json_is_string(r) && strcmp(json_string_value(r), k) == 0) required =
		        1;
		json_t *type = json_object_get(p, "type");
		json_t *tj = json_null();
		if (json_is_string(type)) {
			tj = json_string(json_string_value(type));
		} else if (json_is_array(type)) {
			struct dp_buf b;
			dp_buf_init(&b, 256);
			json_t *t;
			json_array_foreach(type, i, t)
			{
				if (!json_is_string(t))
					continue;
				if (b.len)
					dp_buf_addch(&b, '|');
				dp_buf_adds(&b, json_string_value(t));
			}
			tj = json_string(b.data);
			dp_buf_release(&b);
		}
		const char *pd = json_string_value(json_object_get(p, "description"));
		json_array_append_new(params, json_pack("{s:s,s:o,s:o,s:b}", "name", k, "type", tj, "description",
		                                        pd ? json_string(pd) : json_null(), "required", required));
	}
	json_object_set_new(o, "parameters", params);
	json_object_set_new(o, "input_schema", schema ? json_deep_copy(schema) : json_object());
	json_object_set_new(o, "annotations", ann ? json_deep_copy(ann) : json_object());
	json_object_set_new(o, "badges",
	                    json_pack("{s:b,s:b,s:b,s:b}", "read_only", hint(ann, "readOnlyHint", 0), "destructive",
	                              hint(ann, "destructiveHint", 1), "idempotent", hint(ann, "idempotentHint", 0),
	                              "open_world", hint(ann, "openWorldHint", 1)));
	return o;
}

/* ------------------------------------------------------------ sql helpers */

static sqlite3_stmt *prep(struct dp_store *s, const char *sql)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(dp_store_db(s), sql, -1, &st, NULL) != SQLITE_OK) {
		dp_warn("mcp: prepare: %s", sqlite3_errmsg(dp_store_db(s)));
		return NULL;
	}
	return st;
}

static int step_done(struct dp_store *s, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);
	int ext = sqlite3_extended_errcode(dp_store_db(s));
	sqlite3_finalize(st);
	if (rc == SQLITE_DONE)
		return 0;
	if (ext == SQLITE_CONSTRAINT_UNIQUE || ext == SQLITE_CONSTRAINT_PRIMARYKEY)
		return -EEXIST;
	dp_warn("mcp: sql: %s", sqlite3_errmsg(dp_store_db(s)));
	return -EIO;
}

static void bind_text(sqlite3_stmt *st, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, i);
}

static void bind_json(sqlite3_stmt *st, int i, const json_t *v)
{
	if (!v || json_is_null(v)) {
		sqlite3_bind_null(st, i);
		return;
	}
	char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	sqlite3_bind_text(st, i, s ? s : "null", -1, SQLITE_TRANSIENT);
	free(s);
}

static json_t *col_json(sqlite3_stmt *st, int i)
{
	const char *s = (const char *)sqlite3_column_text(st, i);
	if (!s)
		return json_null();
	json_t *j = json_loads(s, JSON_DECODE_ANY, NULL);
	return j ? j : json_null();
}

static json_t *col_text(sqlite3_stmt *st, int i)
{
	const char *s = (const char *)sqlite3_column_text(st, i);
	return s ? json_string(s) : json_null();
}

#define COLS                                                                                                           \
	"id, target_id, kind, label, url, headers_enc, header_names, spec, identity, "                                 \
	"auto_allow_read_only, in_mcp_json, discovery, created_at, updated_at"

static json_t *row_json(sqlite3_stmt *st)
{
	json_t *r = json_object();
	json_object_set_new(r, "id", json_integer(sqlite3_column_int64(st, 0)));
	json_object_set_new(r, "target_id", json_integer(sqlite3_column_int64(st, 1)));
	json_object_set_new(r, "kind", col_text(st, 2));
	json_object_set_new(r, "label", col_text(st, 3));
	json_object_set_new(r, "url", col_text(st, 4));
	json_object_set_new(r, "headers_enc", col_text(st, 5));
	json_object_set_new(r, "header_names", col_json(st, 6));
	json_object_set_new(r, "spec", col_json(st, 7));
	json_object_set_new(r, "identity", col_text(st, 8));
	json_object_set_new(r, "auto_allow_read_only", json_boolean(sqlite3_column_int(st, 9)));
	json_object_set_new(r, "in_mcp_json", json_boolean(sqlite3_column_int(st, 10)));
	json_object_set_new(r, "discovery", col_json(st, 11));
	json_object_set_new(r, "created_at", json_integer(sqlite3_column_int64(st, 12)));
	json_object_set_new(r, "updated_at", json_integer(sqlite3_column_int64(st, 13)));
	return r;
}

static int64_t rint64(const json_t *row, const char *k)
{
	return json_integer_value(json_object_get(row, k));
}

static const char *rstr(const json_t *row, const char *k)
{
	return json_string_value(json_object_get(row, k));
}

int dp_mcp_server_get(struct dp_store *s, int64_t target_id, int64_t id, json_t **row)
{
	*row = NULL;
	sqlite3_stmt *st = prep(s, "SELECT " COLS " FROM mcp_servers WHERE id = ?1 AND target_id = ?2");
	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, target_id);
	int rc = sqlite3_step(st), ret = 0;
	if (rc == SQLITE_ROW)
		*row = row_json(st);
	else
		ret = rc == SQLITE_DONE ? -ENOENT : -EIO;
	sqlite3_finalize(st);
	return ret;
}

/* --------------------------------------------------------- tools + policy */

struct toolrow {
	json_t *tool;
	char hash[17];
	int present;
	int64_t first_seen, last_seen;
	const char *decision, *dec_identity, *dec_hash, *decided_by;
	int64_t decided_at;
};

static json_t *tool_json_from(sqlite3_stmt *st, const json_t *row)
{
	/* columns: name, tool, schema_hash, present, first_seen_at, last_seen_at,
	 * decision, identity, p.schema_hash, decided_by, decided_at */
	json_t *tool = col_json(st, 1);
	json_t *v = dp_mcp_tool_view(tool);
	const char *hash = (const char *)sqlite3_column_text(st, 2);
	int present = sqlite3_column_int(st, 3);
	json_object_set_new(v, "schema_hash", json_string(hash ? hash : ""));
	json_object_set_new(v, "present", json_boolean(present));
	json_object_set_new(v, "first_seen_at", dp_auth_time_json(sqlite3_column_int64(st, 4)));
	json_object_set_new(v, "last_seen_at", dp_auth_time_json(sqlite3_column_int64(st, 5)));
	const char *decision = (const char *)sqlite3_column_text(st, 6);
	struct dp_mcp_policy_view pv;
	json_t *ann = json_object_get(tool, "annotations");
	dp_mcp_policy_eval(decision, (const char *)sqlite3_column_text(st, 7), (const char *)sqlite3_column_text(st, 8),
	                   rstr(row, "identity"), hash, json_is_true(json_object_get(row, "auto_allow_read_only")),
	                   json_is_true(json_object_get(ann, "readOnlyHint")), present, &pv);
	json_object_set_new(v, "policy",
	                    json_pack("{s:s,s:s,s:s,s:o,s:o,s:o}", "state", pv.state, "effective", pv.effective,
	                              "source", pv.source, "reason", pv.reason ? json_string(pv.reason) : json_null(),
	                              "decided_by", decision ? col_text(st, 9) : json_null(), "decided_at",
	                              decision ? dp_auth_time_json(sqlite3_column_int64(st, 10)) : json_null()));
	json_decref(tool);
	return v;
}

json_t *dp_mcp_tools_json(struct dp_store *s, const json_t *row)
{
	json_t *a = json_array();
	sqlite3_stmt *st =
	        prep(s, "SELECT t.name, t.tool, t.schema_hash, t.present, t.first_seen_at, t.last_seen_at,"
	                " p.decision, p.identity, p.schema_hash, p.decided_by, p.decided_at"
	                " FROM mcp_tools t LEFT JOIN mcp_policy p ON p.server_id = t.server_id AND p.tool = t.name"
	                " WHERE t.server_id = ?1 ORDER BY t.present DESC, t.name");
	if (!st)
		return a;
	sqlite3_bind_int64(st, 1, rint64(row, "id"));
	while (sqlite3_step(st) == SQLITE_ROW)
		json_array_append_new(a, tool_json_from(st, row));
	sqlite3_finalize(st);
	return a;
}

json_t *dp_mcp_server_json(struct dp_store *s, const json_t *row)
{
	(void)s;
	json_t *o = json_object();
	const char *kind = rstr(row, "kind");
	int ephemeral = kind && strcmp(kind, "ephemeral") == 0;
	json_t *spec = json_object_get(row, "spec");
	json_object_set_new(o, "id", json_integer(rint64(row, "id")));
	json_object_set_new(o, "target_id", json_integer(rint64(row, "target_id")));
	json_object_set_new(o, "kind", json_string(kind ? kind : ""));
	json_object_set_new(o, "label", json_string(rstr(row, "label") ? rstr(row, "label") : ""));
	const char *transport = ephemeral ? "http" : json_string_value(json_object_get(spec, "transport"));
	json_object_set_new(o, "transport", json_string(transport ? transport : "http"));
	const char *url = ephemeral ? rstr(row, "url") : json_string_value(json_object_get(spec, "url"));
	json_object_set_new(o, "url", url ? json_string(url) : json_null());
	json_t *hn = ephemeral ? json_object_get(row, "header_names") : json_object_get(spec, "header_names");
	json_object_set_new(o, "header_names", json_is_array(hn) ? json_deep_copy(hn) : json_array());
	int stdio = transport && strcmp(transport, "stdio") == 0;
	json_object_set_new(o, "command", stdio ? json_deep_copy(json_object_get(spec, "command")) : json_null());
	json_object_set_new(o, "args", stdio ? json_deep_copy(json_object_get(spec, "args")) : json_null());
	json_object_set_new(o, "env_names", stdio ? json_deep_copy(json_object_get(spec, "env_names")) : json_null());
	json_object_set_new(o, "in_mcp_json",
	                    ephemeral ? json_null() : json_boolean(json_is_true(json_object_get(row, "in_mcp_json"))));
	char pid[DP_MCP_LABEL_MAX + 8];
	snprintf(pid, sizeof(pid), "mcp/%s", rstr(row, "label") ? rstr(row, "label") : "");
	json_object_set_new(
	        o, "integration",
	        ephemeral ? json_pack("{s:s,s:s}", "type", "ephemeral_mcp", "server_label", rstr(row, "label"))
	                  : json_pack("{s:s,s:s}", "type", "plugin", "id", pid));
	json_object_set_new(o, "identity", json_string(rstr(row, "identity") ? rstr(row, "identity") : ""));
	json_object_set_new(o, "auto_allow_read_only",
	                    json_boolean(json_is_true(json_object_get(row, "auto_allow_read_only"))));
	json_t *disc = json_object_get(row, "discovery");
	json_object_set_new(o, "discovery",
	                    json_is_object(disc) ? json_deep_copy(disc)
	                                         : json_pack("{s:s,s:s,s:s,s:n,s:n,s:n,s:n,s:n}", "status", "never",
	                                                     "code", "never", "message", "", "transport",
	                                                     "protocol_version", "server_info", "at", "duration_ms"));
	/* counts */
	int tools = 0, allowed = 0, pending = 0;
	if (s) {
		json_t *ta = dp_mcp_tools_json(s, row);
		size_t i;
		json_t *t;
		json_array_foreach(ta, i, t)
		{
			if (!json_is_true(json_object_get(t, "present")))
				continue;
			tools++;
			json_t *p = json_object_get(t, "policy");
			if (strcmp(json_string_value(json_object_get(p, "effective")), "allow") == 0)
				allowed++;
			if (strcmp(json_string_value(json_object_get(p, "state")), "pending") == 0)
				pending++;
		}
		json_decref(ta);
	}
	json_object_set_new(o, "tools_count", json_integer(tools));
	json_object_set_new(o, "allowed_count", json_integer(allowed));
	json_object_set_new(o, "pending_count", json_integer(pending));
	json_object_set_new(o, "created_at", dp_auth_time_json(rint64(row, "created_at")));
	json_object_set_new(o, "updated_at", dp_auth_time_json(rint64(row, "updated_at")));
	return o;
}

int dp_mcp_store_discovery(struct dp_store *s, const json_t *row, const struct dp_mcp_outcome *o, double duration_ms,
                           int64_t now, json_t **changes)
{
	int64_t sid = rint64(row, "id");
	*changes = json_pack("{s:[],s:[],s:[]}", "new", "changed", "removed");
	json_t *disc =
	        json_pack("{s:s,s:s,s:s,s:o,s:o,s:o,s:o,s:I}", "status", o->status, "code", o->code, "message",
	                  o->message ? o->message : "", "transport",
	                  strcmp(o->status, "ok") == 0 || o->protocol_version[0]
	                          ? json_string(dp_mcp_transport_name(o->transport))
	                          : json_null(),
	                  "protocol_version", o->protocol_version[0] ? json_string(o->protocol_version) : json_null(),
	                  "server_info", o->server_info ? json_deep_copy(o->server_info) : json_null(), "at",
	                  dp_auth_time_json(now), "duration_ms", (json_int_t)duration_ms);
	sqlite3_stmt *st = prep(s, "UPDATE mcp_servers SET discovery = ?1 WHERE id = ?2");
	if (!st) {
		json_decref(disc);
		return -EIO;
	}
	bind_json(st, 1, disc);
	sqlite3_bind_int64(st, 2, sid);
	json_decref(disc);
	int rc = step_done(s, st);
	if (rc < 0 || strcmp(o->status, "ok") != 0 || !o->tools)
		return rc;

	sqlite3_exec(dp_store_db(s), "BEGIN", NULL, NULL, NULL);
	/* what we had */
	json_t *old = json_object(); /* name -> [hash, present] */
	st = prep(s, "SELECT name, schema_hash, present FROM mcp_tools WHERE server_id = ?1");
	if (st) {
		sqlite3_bind_int64(st, 1, sid);
		while (sqlite3_step(st) == SQLITE_ROW)
			json_object_set_new(old, (const char *)sqlite3_column_text(st, 0),
			                    json_pack("[s,i]", (const char *)sqlite3_column_text(st, 1),
			                              sqlite3_column_int(st, 2)));
		sqlite3_finalize(st);
	}
	json_t *seen = json_object();
	size_t i;
	json_t *t;
	json_array_foreach(o->tools, i, t)
	{
		const char *name = json_string_value(json_object_get(t, "name"));
		if (!name || !*name || strlen(name) > 256 || json_object_get(seen, name))
			continue;
		char *text = json_dumps(t, JSON_COMPACT);
		if (!text || strlen(text) > MAX_TOOL_JSON) {
			free(text);
			continue;
		}
		char hash[17];
		dp_mcp_schema_hash(t, hash);
		json_object_set_new(seen, name, json_true());
		json_t *prev = json_object_get(old, name);
		if (!prev || !json_integer_value(json_array_get(prev, 1)))
			json_array_append_new(json_object_get(*changes, "new"), json_string(name));
		else if (strcmp(json_string_value(json_array_get(prev, 0)), hash) != 0)
			json_array_append_new(json_object_get(*changes, "changed"), json_string(name));
		st = prep(s, "INSERT INTO mcp_tools (server_id, name, tool, schema_hash, present, first_seen_at, "
		             "last_seen_at)"
		             " VALUES (?1, ?2, ?3, ?4, 1, ?5, ?5) ON CONFLICT (server_id, name) DO UPDATE SET"
		             " tool = excluded.tool, schema_hash = excluded.schema_hash, present = 1,"
		             " last_seen_at = excluded.last_seen_at");
		if (st) {
			sqlite3_bind_int64(st, 1, sid);
			bind_text(st, 2, name);
			bind_text(st, 3, text);
			bind_text(st, 4, hash);
			sqlite3_bind_int64(st, 5, now);
			step_done(s, st);
		}
		free(text);
	}
	const char *k;
	json_t *v;
	json_object_foreach(old, k, v)
	{
		if (json_object_get(seen, k) || !json_integer_value(json_array_get(v, 1)))
			continue;
		json_array_append_new(json_object_get(*changes, "removed"), json_string(k));
		st = prep(s, "UPDATE mcp_tools SET present = 0 WHERE server_id = ?1 AND name = ?2");
		if (st) {
			sqlite3_bind_int64(st, 1, sid);
			bind_text(st, 2, k);
			step_done(s, st);
		}
	}
	sqlite3_exec(dp_store_db(s), "COMMIT", NULL, NULL, NULL);
	json_decref(old);
	json_decref(seen);
	return 0;
}

int dp_mcp_policy_set(struct dp_store *s, const json_t *row, const char *tool, const char *decision, const char *by,
                      int64_t now)
{
	int64_t sid = rint64(row, "id");
	sqlite3_stmt *st = prep(s, "SELECT schema_hash FROM mcp_tools WHERE server_id = ?1 AND name = ?2");
	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, sid);
	bind_text(st, 2, tool);
	char hash[17] = "";
	int found = sqlite3_step(st) == SQLITE_ROW;
	if (found)
		snprintf(hash, sizeof(hash), "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	if (!found)
		return -ENOENT;
	if (strcmp(decision, "reset") == 0) {
		st = prep(s, "DELETE FROM mcp_policy WHERE server_id = ?1 AND tool = ?2");
		if (!st)
			return -EIO;
		sqlite3_bind_int64(st, 1, sid);
		bind_text(st, 2, tool);
		return step_done(s, st);
	}
	if (strcmp(decision, "allow") != 0 && strcmp(decision, "deny") != 0)
		return -EINVAL;
	st = prep(s, "INSERT INTO mcp_policy (server_id, tool, decision, identity, schema_hash, decided_by, decided_at)"
	             " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (server_id, tool) DO UPDATE SET"
	             " decision = excluded.decision, identity = excluded.identity, schema_hash = excluded.schema_hash,"
	             " decided_by = excluded.decided_by, decided_at = excluded.decided_at");
	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, sid);
	bind_text(st, 2, tool);
	bind_text(st, 3, decision);
	bind_text(st, 4, rstr(row, "identity"));
	bind_text(st, 5, hash);
	bind_text(st, 6, by ? by : "");
	sqlite3_bind_int64(st, 7, now);
	return step_done(s, st);
}

/* The effectively allowed tools of a row (present ones), a new array. */
static json_t *allowed_tools(struct dp_store *s, const json_t *row)
{
	json_t *out = json_array();
	json_t *ta = dp_mcp_tools_json(s, row);
	size_t i;
	json_t *t;
	json_array_foreach(ta, i, t)
	{
		json_t *p = json_object_get(t, "policy");
		if (json_is_true(json_object_get(t, "present")) &&
		    strcmp(json_string_value(json_object_get(p, "effective")), "allow") == 0)
			json_array_append(out, json_object_get(t, "name"));
	}
	json_decref(ta);
	return out;
}

/* ------------------------------------------------------------- ephemeral */

int dp_mcp_server_headers(const json_t *row, const struct dp_secret *sec, json_t **headers)
{
	*headers = NULL;
	const char *enc = rstr(row, "headers_enc");
	if (!enc) {
		*headers = json_object();
		return 0;
	}
	char *plain = NULL;
	size_t len = 0;
	int rc = dp_secret_decrypt(sec, enc, &plain, &len);
	if (rc < 0)
		return -EBADMSG;
	*headers = json_loadb(plain, len, 0, NULL);
	dp_secret_wipe_free(plain);
	if (!json_is_object(*headers)) {
		json_decref(*headers);
		*headers = NULL;
		return -EBADMSG;
	}
	return 0;
}

void dp_mcp_strv_free(char **v)
{
	for (size_t i = 0; v && v[i]; i++) {
		sodium_memzero(v[i], strlen(v[i]));
		free(v[i]);
	}
	free(v);
}

static char **header_lines_of(const json_t *h)
{
	char **v = xcalloc(json_object_size(h) + 1, sizeof(*v));
	size_t n = 0;
	const char *k;
	json_t *val;
	json_object_foreach((json_t *)h, k, val)
	{
		if (json_is_string(val))
			v[n++] = xasprintf("%s: %s", k, json_string_value(val));
	}
	return v;
}

int dp_mcp_server_header_lines(const json_t *row, const struct dp_secret *sec, char ***lines)
{
	json_t *h;
	*lines = NULL;
	int rc = dp_mcp_server_headers(row, sec, &h);
	if (rc < 0)
		return rc;
	*lines = header_lines_of(h);
	json_decref(h);
	return 0;
}

static json_t *names_of(const json_t *h)
{
	json_t *a = json_array();
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)h, k, v) json_array_append_new(a, json_string(k));
	return a;
}

static char *encrypt_headers(const struct dp_secret *sec, const json_t *h)
{
	if (!json_object_size(h))
		return NULL;
	char *plain = json_dumps(h, JSON_COMPACT);
	char *enc = dp_secret_encrypt(sec, plain, strlen(plain));
	sodium_memzero(plain, strlen(plain));
	free(plain);
	return enc;
}

static int count_servers(struct dp_store *s, int64_t target_id)
{
	sqlite3_stmt *st = prep(s, "SELECT COUNT(*) FROM mcp_servers WHERE target_id = ?1");
	if (!st)
		return 0;
	sqlite3_bind_int64(st, 1, target_id);
	int n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
	sqlite3_finalize(st);
	return n;
}

int dp_mcp_ephemeral_create(struct dp_store *s, const struct dp_secret *sec, int64_t target_id, const char *label,
                            const char *url, const json_t *headers, int auto_ro, int64_t now, int64_t *id)
{
	json_t *h = headers ? (json_t *)headers : json_object();
	if (count_servers(s, target_id) >= DP_MCP_SERVERS_PER_TARGET) {
		if (!headers)
			json_decref(h);
		return -ENOSPC;
	}
	char ident[17];
	dp_mcp_identity_http(label, url, h, ident);
	char *enc = encrypt_headers(sec, h);
	json_t *names = names_of(h);
	if (!headers)
		json_decref(h);
	if (json_array_size(names) && !enc) {
		json_decref(names);
		return -EINVAL;
	}
	sqlite3_stmt *st = prep(s, "INSERT INTO mcp_servers (target_id, kind, label, url, headers_enc, header_names,"
	                           " identity, auto_allow_read_only, in_mcp_json, created_at, updated_at)"
	                           " VALUES (?1, 'ephemeral', ?2, ?3, ?4, ?5, ?6, ?7, 1, ?8, ?8)");
	if (!st) {
		free(enc);
		json_decref(names);
		return -EIO;
	}
	sqlite3_bind_int64(st, 1, target_id);
	bind_text(st, 2, label);
	bind_text(st, 3, url);
	bind_text(st, 4, enc);
	bind_json(st, 5, names);
	bind_text(st, 6, ident);
	sqlite3_bind_int(st, 7, auto_ro ? 1 : 0);
	sqlite3_bind_int64(st, 8, now);
	free(enc);
	json_decref(names);
	int rc = step_done(s, st);
	if (rc == 0 && id)
		*id = sqlite3_last_insert_rowid(dp_store_db(s));
	return rc;
}

int dp_mcp_ephemeral_update(struct dp_store *s, const struct dp_secret *sec, const json_t *row, const char *label,
                            const char *url, const json_t *headers, int auto_ro, int64_t now)
{
	json_t *cur;
	int rc = dp_mcp_server_headers(row, sec, &cur);
	if (rc < 0)
		return rc;
	json_t *h = cur;
	if (headers) {
		h = json_object();
		const char *k;
		json_t *v;
		json_object_foreach((json_t *)headers, k, v)
		{
			if (json_is_string(v)) {
				json_object_set(h, k, v);
			} else {
				/* null: keep the stored value (case-insensitive name) */
				const char *ck;
				json_t *cv;
				json_object_foreach(cur, ck, cv) if (strcasecmp(ck, k) == 0) json_object_set(h, k, cv);
			}
		}
		json_decref(cur);
	}
	const char *nl = label ? label : rstr(row, "label");
	const char *nu = url ? url : rstr(row, "url");
	char ident[17];
	dp_mcp_identity_http(nl, nu, h, ident);
	char *enc = encrypt_headers(sec, h);
	json_t *names = names_of(h);
	json_decref(h);
	sqlite3_stmt *st = prep(s, "UPDATE mcp_servers SET label = ?1, url = ?2, headers_enc = ?3, header_names = ?4,"
	                           " identity = ?5, auto_allow_read_only = ?6, updated_at = ?7 WHERE id = ?8");
	if (!st) {
		free(enc);
		json_decref(names);
		return -EIO;
	}
	bind_text(st, 1, nl);
	bind_text(st, 2, nu);
	bind_text(st, 3, enc);
	bind_json(st, 4, names);
	bind_text(st, 5, ident);
	sqlite3_bind_int(st, 6, auto_ro < 0 ? json_is_true(json_object_get(row, "auto_allow_read_only")) : auto_ro);
	sqlite3_bind_int64(st, 7, now);
	sqlite3_bind_int64(st, 8, rint64(row, "id"));
	free(enc);
	json_decref(names);
	return step_done(s, st);
}

int dp_mcp_server_set_auto(struct dp_store *s, int64_t id, int auto_ro, int64_t now)
{
	sqlite3_stmt *st = prep(s, "UPDATE mcp_servers SET auto_allow_read_only = ?1, updated_at = ?2 WHERE id = ?3");
	if (!st)
		return -EIO;
	sqlite3_bind_int(st, 1, auto_ro ? 1 : 0);
	sqlite3_bind_int64(st, 2, now);
	sqlite3_bind_int64(st, 3, id);
	return step_done(s, st);
}

int dp_mcp_server_delete(struct dp_store *s, int64_t id)
{
	sqlite3_stmt *st = prep(s, "DELETE FROM mcp_servers WHERE id = ?1");
	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, id);
	return step_done(s, st);
}

/* ------------------------------------------------------------- mcp.json */

int dp_mcp_target_is_local(const struct dp_target *t)
{
	char *b = NULL, *p = NULL;
	if (dp_mcp_split_url(t->url, &b, &p) < 0)
		return 0;
	const char *h = strstr(b, "://");
	h = h ? h + 3 : b;
	int local = !strncasecmp(h, "localhost", 9) || !strncmp(h, "127.", 4) || !strncmp(h, "[::1]", 5);
	if (!strncasecmp(h, "localhost", 9))
		local = h[9] == '\0' || h[9] == ':';
	free(b);
	free(p);
	return local;
}

int dp_mcp_json_path(char *out, size_t outlen)
{
	const char *e = getenv("DP_MCP_JSON");
	if (e && *e)
		return snprintf(out, outlen, "%s", e) >= (int)outlen ? -ENAMETOOLONG : 0;
	char home[PATH_MAX];
	const char *lh = getenv("DP_LMSTUDIO_HOME");
	const char *uh = getenv("HOME");
	if (lh && *lh) {
		snprintf(home, sizeof(home), "%s", lh);
	} else {
		if (!uh || !*uh)
			return -ENOENT;
		char ptr[PATH_MAX];
		snprintf(ptr, sizeof(ptr), "%s/.lmstudio-home-pointer", uh);
		FILE *f = fopen(ptr, "re");
		home[0] = '\0';
		if (f) {
			if (fgets(home, sizeof(home), f)) {
				size_t n = strlen(home);
				while (n && (home[n - 1] == '\n' || home[n - 1] == '\r' || home[n - 1] == ' '))
					home[--n] = '\0';
			}
			fclose(f);
		}
		if (!home[0]) {
			struct stat sb;
			snprintf(home, sizeof(home), "%s/.cache/lm-studio", uh);
			if (stat(home, &sb) != 0 || !S_ISDIR(sb.st_mode))
				snprintf(home, sizeof(home), "%s/.lmstudio", uh);
		}
	}
	return snprintf(out, outlen, "%s/mcp.json", home) >= (int)outlen ? -ENAMETOOLONG : 0;
}

int dp_mcp_json_load(const char *path, json_t **root, const char **why)
{
	*root = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		if (errno == ENOENT) {
			*root = json_pack("{s:{}}", "mcpServers");
			return -ENOENT;
		}
		*why = "the mcp.json file cannot be read";
		return -EIO;
	}
	struct stat sb;
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) || sb.st_size > MCP_JSON_MAX) {
		close(fd);
		*why = "mcp.json is not a regular file of at most 1 MiB";
		return -EINVAL;
	}
	json_error_t je;
	json_t *j = json_loadfd(fd, JSON_REJECT_DUPLICATES, &je);
	close(fd);
	if (!json_is_object(j)) {
		json_decref(j);
		*why = "mcp.json is not a json object";
		return -EINVAL;
	}
	json_t *ms = json_object_get(j, "mcpServers");
	if (!ms) {
		json_object_set_new(j, "mcpServers", json_object());
	} else if (!json_is_object(ms)) {
		json_decref(j);
		*why = "mcp.json's mcpServers is not an object";
		return -EINVAL;
	}
	*root = j;
	return 0;
}

/* Copy the current file to <path>.bak (written the same careful way). */
static int backup(const char *path)
{
	int in = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (in < 0)
		return errno == ENOENT ? 0 : -errno;
	char bak[PATH_MAX], tmp[PATH_MAX];
	snprintf(bak, sizeof(bak), "%s.bak", path);
	snprintf(tmp, sizeof(tmp), "%s.bak.tmp", path);
	int out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (out < 0) {
		int e = -errno;
		close(in);
		return e;
	}
	char buf[8192];
	ssize_t r;
	int rc = 0;
	while ((r = read(in, buf, sizeof(buf))) > 0)
		if ((rc = dp_write_all(out, buf, (size_t)r)) < 0)
			break;
	if (r < 0)
		rc = -errno;
	if (!rc && fsync(out) < 0)
		rc = -errno;
	close(in);
	close(out);
	if (!rc && rename(tmp, bak) < 0)
		rc = -errno;
	if (rc)
		unlink(tmp);
	return rc;
}

int dp_mcp_json_write(const char *path, const json_t *root)
{
	char tmp[PATH_MAX];
	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	char *text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	if (!text)
		return -ENOMEM;
	struct stat sb;
	mode_t mode = stat(path, &sb) == 0 ? (sb.st_mode & 0777) : 0600;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0) {
		free(text);
		return -errno;
	}
	int rc = dp_write_all(fd, text, strlen(text));
	if (!rc)
		rc = dp_write_all(fd, "\n", 1);
	free(text);
	if (!rc && fsync(fd) < 0)
		rc = -errno;
	close(fd);
	if (!rc)
		rc = backup(path);
	if (!rc && rename(tmp, path) < 0)
		rc = -errno;
	if (rc) {
		unlink(tmp);
		return rc;
	}
	dp_fsync_parent(path);
	return 0;
}

static int check_str_map(const json_t *m, size_t max, int allow_null, const char **why, const char *what)
{
	if (!json_is_object(m) || json_object_size(m) > max) {
		*why = what;
		return -EINVAL;
	}
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)m, k, v)
	{
		if (!*k || strlen(k) > 128 || strchr(k, '=')) {
			*why = what;
			return -EINVAL;
		}
		if (json_is_null(v) && allow_null)
			continue;
		if (!json_is_string(v) || json_string_length(v) > DP_MCP_HEADER_VALUE_MAX) {
			*why = what;
			return -EINVAL;
		}
		for (const char *c = json_string_value(v); *c; c++)
			if ((unsigned char)*c < 0x20 && *c != '\t') {
				*why = what;
				return -EINVAL;
			}
	}
	return 0;
}

/* new map: body's values, null = old's value of that name */
static json_t *merge_map(const json_t *old, const json_t *body)
{
	json_t *o = json_object();
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)body, k, v)
	{
		if (json_is_string(v))
			json_object_set(o, k, v);
		else if (json_is_string(json_object_get(old, k)))
			json_object_set(o, k, json_object_get(old, k));
	}
	return o;
}

json_t *dp_mcp_json_entry_merge(const json_t *old, const json_t *body, const char **why)
{
	if (!json_is_object(body))
		return *why = "a JSON object is required", NULL;
	json_t *url = json_object_get(body, "url"), *cmd = json_object_get(body, "command");
	if ((url && !json_is_null(url)) == (cmd && !json_is_null(cmd)))
		return *why = "exactly one of url and command is required", NULL;
	json_t *e = json_is_object(old) ? json_deep_copy(old) : json_object();
	if (url && !json_is_null(url)) {
		if (!json_is_string(url) || dp_mcp_check_url(json_string_value(url), why) < 0) {
			json_decref(e);
			if (!json_is_string(url))
				*why = "url must be a string";
			return NULL;
		}
		json_t *h = json_object_get(body, "headers");
		if (h && !json_is_null(h) && dp_mcp_check_headers(h, 1, why) < 0) {
			json_decref(e);
			return NULL;
		}
		json_object_del(e, "command");
		json_object_del(e, "args");
		json_object_del(e, "env");
		json_object_set(e, "url", url);
		if (h && !json_is_null(h)) {
			json_t *m = merge_map(json_object_get(old, "headers"), h);
			if (json_object_size(m))
				json_object_set_new(e, "headers", m);
			else
				json_decref(m), json_object_del(e, "headers");
		}
		return e;
	}
	if (!json_is_string(cmd) || !json_string_length(cmd) || json_string_length(cmd) > 1024) {
		json_decref(e);
		return *why = "command must be a string of 1 to 1024 bytes", NULL;
	}
	for (const char *c = json_string_value(cmd); *c; c++)
		if ((unsigned char)*c < 0x20) {
			json_decref(e);
			return *why = "command must not contain control characters", NULL;
		}
	json_t *args = json_object_get(body, "args");
	if (args && !json_is_null(args)) {
		size_t i;
		json_t *a;
		int ok = json_is_array(args) && json_array_size(args) <= DP_MCP_ARGS_MAX;
		json_array_foreach(args, i, a) if (!json_is_string(a) || json_string_length(a) > 4096) ok = 0;
		if (!ok) {
			json_decref(e);
			return *why = "args must be an array of at most 64 strings", NULL;
		}
	}
	json_t *env = json_object_get(body, "env");
	if (env && !json_is_null(env) &&
	    check_str_map(env, DP_MCP_ENV_MAX, 1, why, "env must be an object of at most 32 names to strings") < 0) {
		json_decref(e);
		return NULL;
	}
	json_object_del(e, "url");
	json_object_del(e, "headers");
	json_object_set(e, "command", cmd);
	if (args && !json_is_null(args))
		json_object_set(e, "args", args);
	else
		json_object_del(e, "args");
	if (env && !json_is_null(env)) {
		json_t *m = merge_map(json_object_get(old, "env"), env);
		if (json_object_size(m))
			json_object_set_new(e, "env", m);
		else
			json_decref(m), json_object_del(e, "env");
	}
	return e;
}

/* The spec (no values) and identity of an mcp.json entry; NULL when the
 * entry is unusable (neither url nor command). */
static json_t *entry_spec(const char *label, const json_t *e, char ident[17])
{
	const char *url = json_string_value(json_object_get(e, "url"));
	if (!url)
		url = json_string_value(json_object_get(e, "serverUrl"));
	const char *cmd = json_string_value(json_object_get(e, "command"));
	json_t *h = json_object_get(e, "headers");
	if (url) {
		json_t *hs = json_object();
		const char *k;
		json_t *v;
		json_object_foreach(h, k, v) if (json_is_string(v)) json_object_set(hs, k, v);
		dp_mcp_identity_http(label, url, hs, ident);
		json_t *spec =
		        json_pack("{s:s,s:s,s:o}", "transport", "http", "url", url, "header_names", names_of(hs));
		json_decref(hs);
		return spec;
	}
	if (cmd) {
		json_t *args = json_object_get(e, "args");
		json_t *env = json_object_get(e, "env");
		json_t *a = json_array();
		size_t i;
		json_t *x;
		json_array_foreach(args, i, x) if (json_is_string(x)) json_array_append(a, x);
		json_t *ev = json_object();
		const char *k;
		json_t *v;
		json_object_foreach(env, k, v) if (json_is_string(v)) json_object_set(ev, k, v);
		dp_mcp_identity_stdio(label, cmd, a, ev, ident);
		json_t *spec = json_pack("{s:s,s:s,s:o,s:o}", "transport", "stdio", "command", cmd, "args", a,
		                         "env_names", names_of(ev));
		json_decref(ev);
		return spec;
	}
	return NULL;
}

/* Upsert the rows for the file's entries; mark the others gone. */
static void sync_mcp_json(struct dp_store *s, int64_t target_id, const json_t *root, int64_t now)
{
	json_t *ms = json_object_get(root, "mcpServers");
	const char *label;
	json_t *e;
	const char *why;
	sqlite3_stmt *st = prep(s, "UPDATE mcp_servers SET in_mcp_json = 0 WHERE target_id = ?1 AND kind = 'mcp_json'");
	if (st) {
		sqlite3_bind_int64(st, 1, target_id);
		step_done(s, st);
	}
	json_object_foreach(ms, label, e)
	{
		char ident[17];
		if (dp_mcp_check_label(label, &why) < 0 || !json_is_object(e))
			continue;
		json_t *spec = entry_spec(label, e, ident);
		if (!spec)
			continue;
		st = prep(s,
		          "INSERT INTO mcp_servers (target_id, kind, label, spec, identity, in_mcp_json, created_at,"
		          " updated_at) VALUES (?1, 'mcp_json', ?2, ?3, ?4, 1, ?5, ?5)"
		          " ON CONFLICT (target_id, kind, label) DO UPDATE SET spec = excluded.spec,"
		          " identity = excluded.identity, in_mcp_json = 1,"
		          " updated_at = CASE WHEN mcp_servers.identity = excluded.identity THEN mcp_servers.updated_at"
		          " ELSE excluded.updated_at END");
		if (st) {
			sqlite3_bind_int64(st, 1, target_id);
			bind_text(st, 2, label);
			bind_json(st, 3, spec);
			bind_text(st, 4, ident);
			sqlite3_bind_int64(st, 5, now);
			step_done(s, st);
		}
		json_decref(spec);
	}
}

int dp_mcp_json_check(json_t *root, const char **why)
{
	if (!json_is_object(root))
		return *why = "mcp.json is not a json object", -EINVAL;
	json_t *ms = json_object_get(root, "mcpServers");
	if (!ms)
		json_object_set_new(root, "mcpServers", json_object());
	else if (!json_is_object(ms))
		return *why = "mcp.json's mcpServers is not an object", -EINVAL;
	return 0;
}

static json_t *rows_list(struct dp_store *s, const struct dp_target *t);

json_t *dp_mcp_servers_list_doc(struct dp_store *s, const struct dp_target *t, const json_t *root)
{
	if (root)
		sync_mcp_json(s, t->id, root, (int64_t)time(NULL));
	return rows_list(s, t);
}

json_t *dp_mcp_servers_list(struct dp_store *s, const struct dp_target *t, json_t **mcp_json)
{
	*mcp_json = NULL;
	if (!dp_mcp_target_is_local(t)) {
		*mcp_json =
		        json_pack("{s:b,s:b,s:n,s:b,s:{s:s,s:s}}", "local", 0, "available", 0, "path", "exists", 0,
		                  "error", "code", "agent_required", "message",
		                  "this target is on another host: reading its mcp.json needs the DaemonPulse agent "
		                  "on that host; enrol one (Add agent)");
	} else {
		char path[PATH_MAX];
		if (dp_mcp_json_path(path, sizeof(path)) < 0) {
			*mcp_json = json_pack("{s:b,s:b,s:n,s:b,s:{s:s,s:s}}", "local", 1, "available", 0, "path",
			                      "exists", 0, "error", "code", "no_home", "message",
			                      "the LM Studio home cannot be determined (no HOME)");
		} else {
			json_t *root = NULL;
			const char *why = NULL;
			int rc = dp_mcp_json_load(path, &root, &why);
			if (rc < 0 && rc != -ENOENT) {
				*mcp_json = json_pack("{s:b,s:b,s:s,s:b,s:{s:s,s:s}}", "local", 1, "available", 0,
				                      "path", path, "exists", 1, "error", "code", "invalid_mcp_json",
				                      "message", why ? why : "mcp.json cannot be used");
			} else {
				sync_mcp_json(s, t->id, root, (int64_t)time(NULL));
				*mcp_json = json_pack("{s:b,s:b,s:s,s:b,s:n}", "local", 1, "available", 1, "path", path,
				                      "exists", rc == 0, "error");
			}
			json_decref(root);
		}
	}
	return rows_list(s, t);
}

static json_t *rows_list(struct dp_store *s, const struct dp_target *t)
{
	json_t *a = json_array();
	sqlite3_stmt *st = prep(s, "SELECT " COLS " FROM mcp_servers WHERE target_id = ?1 ORDER BY kind, label");
	if (!st)
		return a;
	sqlite3_bind_int64(st, 1, t->id);
	while (sqlite3_step(st) == SQLITE_ROW) {
		json_t *row = row_json(st);
		json_array_append_new(a, dp_mcp_server_json(s, row));
		json_decref(row);
	}
	sqlite3_finalize(st);
	return a;
}

/* ------------------------------------------------------------- dispatch */

void dp_mcp_provider_key(const json_t *pi, char *out, size_t outlen)
{
	const char *type = json_string_value(json_object_get(pi, "type"));
	out[0] = '\0';
	if (type && strcmp(type, "ephemeral_mcp") == 0 && json_string_value(json_object_get(pi, "server_label")))
		snprintf(out, outlen, "ephemeral_mcp:%s", json_string_value(json_object_get(pi, "server_label")));
	else if (type && strcmp(type, "plugin") == 0 && json_string_value(json_object_get(pi, "plugin_id")))
		snprintf(out, outlen, "plugin:%s", json_string_value(json_object_get(pi, "plugin_id")));
}

json_t *dp_mcp_integrations(struct dp_store *s, const struct dp_secret *sec, const struct dp_target *t,
                            const json_t *server_ids, int reveal, json_t **items, json_t **skipped, json_t **allowed)
{
	json_t *out = json_array();
	*items = json_array();
	*skipped = json_array();
	*allowed = json_object();
	json_t *ids = json_array();
	if (server_ids) {
		json_array_extend(ids, (json_t *)server_ids);
	} else {
		sqlite3_stmt *st = prep(s, "SELECT id FROM mcp_servers WHERE target_id = ?1 ORDER BY kind, label");
		if (st) {
			sqlite3_bind_int64(st, 1, t->id);
			while (sqlite3_step(st) == SQLITE_ROW)
				json_array_append_new(ids, json_integer(sqlite3_column_int64(st, 0)));
			sqlite3_finalize(st);
		}
	}
	int local = dp_mcp_target_is_local(t);
	size_t i;
	json_t *idv;
	json_array_foreach(ids, i, idv)
	{
		int64_t id = json_integer_value(idv);
		json_t *row = NULL;
		const char *reason = NULL;
		if (dp_mcp_server_get(s, t->id, id, &row) < 0) {
			reason = "not_found";
		} else if (strcmp(rstr(row, "kind"), "mcp_json") == 0 && !local &&
		           !dp_agent_client_enrolled(s, t->id)) {
			reason = "agent_required";
		} else if (strcmp(rstr(row, "kind"), "mcp_json") == 0 &&
		           !json_is_true(json_object_get(row, "in_mcp_json"))) {
			reason = "not_in_mcp_json";
		}
		json_t *tools = reason ? NULL : allowed_tools(s, row);
		if (!reason && !json_array_size(tools))
			reason = "nothing_allowed";
		json_t *integ = NULL;
		char key[DP_MCP_LABEL_MAX + 32];
		if (!reason && strcmp(rstr(row, "kind"), "ephemeral") == 0) {
			json_t *h = NULL;
			if (dp_mcp_server_headers(row, sec, &h) < 0) {
				reason = "token_unreadable";
			} else {
				integ = json_pack("{s:s,s:s,s:s,s:O}", "type", "ephemeral_mcp", "server_label",
				                  rstr(row, "label"), "server_url", rstr(row, "url"), "allowed_tools",
				                  tools);
				if (json_object_size(h)) {
					if (!reveal) {
						const char *k;
						json_t *v;
						json_object_foreach(h, k, v)
						        json_object_set_new(h, k, json_string("(hidden)"));
					}
					json_object_set(integ, "headers", h);
				}
				json_decref(h);
				snprintf(key, sizeof(key), "ephemeral_mcp:%s", rstr(row, "label"));
			}
		} else if (!reason) {
			char pid[DP_MCP_LABEL_MAX + 8];
			snprintf(pid, sizeof(pid), "mcp/%s", rstr(row, "label"));
			integ = json_pack("{s:s,s:s,s:O}", "type", "plugin", "id", pid, "allowed_tools", tools);
			snprintf(key, sizeof(key), "plugin:%s", pid);
		}
		if (reason) {
			json_array_append_new(*skipped,
			                      json_pack("{s:I,s:s}", "server_id", (json_int_t)id, "reason", reason));
		} else {
			json_array_append(out, integ);
			json_array_append_new(
			        *items, json_pack("{s:I,s:O}", "server_id", (json_int_t)id, "integration", integ));
			json_object_set_new(*allowed, key,
			                    json_pack("{s:I,s:s,s:O}", "server_id", (json_int_t)id, "server",
			                              rstr(row, "label"), "tools", tools));
			json_decref(integ);
		}
		json_decref(tools);
		json_decref(row);
	}
	json_decref(ids);
	return out;
}

/* ------------------------------------------------------------- audit */

static struct {
	uint64_t success, failure, violation;
} counters;

void dp_mcp_metrics_render(struct dp_buf *out)
{
	dp_buf_addf(out,
	            "# HELP daemonpulse_mcp_tool_calls_total MCP tool calls seen in chat streams, by outcome.\n"
	            "# TYPE daemonpulse_mcp_tool_calls_total counter\n"
	            "daemonpulse_mcp_tool_calls_total{outcome=\"success\"} %llu\n"
	            "daemonpulse_mcp_tool_calls_total{outcome=\"failure\"} %llu\n"
	            "daemonpulse_mcp_tool_calls_total{outcome=\"violation\"} %llu\n"
	            "# HELP daemonpulse_mcp_tool_violations_total Tool calls to a tool outside the allowed set.\n"
	            "# TYPE daemonpulse_mcp_tool_violations_total counter\n"
	            "daemonpulse_mcp_tool_violations_total %llu\n",
	            (unsigned long long)counters.success, (unsigned long long)counters.failure,
	            (unsigned long long)counters.violation, (unsigned long long)counters.violation);
}

struct dp_mcp_watch {
	struct dp_store *s;
	int64_t user_id;
	char username[DP_USERNAME_MAX + 1];
	char ip[64];
	char target[DP_TARGET_LABEL_MAX * 4 + 1];
	char request_id[32];
	json_t *allowed;
	/* the call in progress (LM Studio runs tools one at a time) */
	int active;
	struct timespec t0;
	json_t *cur; /* tool, provider_info, arguments */
	int violation_flagged;
};

struct dp_mcp_watch *dp_mcp_watch_new(struct dp_store *s, int64_t user_id, const char *username, const char *ip,
                                      const char *target_label, const char *request_id, json_t *allowed)
{
	struct dp_mcp_watch *w = xcalloc(1, sizeof(*w));
	w->s = s;
	w->user_id = user_id;
	snprintf(w->username, sizeof(w->username), "%s", username ? username : "");
	snprintf(w->ip, sizeof(w->ip), "%s", ip ? ip : "");
	snprintf(w->target, sizeof(w->target), "%s", target_label ? target_label : "");
	snprintf(w->request_id, sizeof(w->request_id), "%s", request_id ? request_id : "");
	w->allowed = allowed ? allowed : json_object();
	return w;
}

static int is_allowed(struct dp_mcp_watch *w, const json_t *pi, const char *tool, json_t **entry)
{
	char key[512];
	dp_mcp_provider_key(pi, key, sizeof(key));
	*entry = key[0] ? json_object_get(w->allowed, key) : NULL;
	if (!key[0] && tool) {
		/* no provider_info (a failure event): any attached server
		 * that allows this tool name */
		const char *k;
		json_t *v;
		json_object_foreach(w->allowed, k, v)
		{
			size_t i;
			json_t *t;
			json_array_foreach(json_object_get(v, "tools"), i,
			                   t) if (strcmp(json_string_value(t), tool) == 0)
			{
				*entry = v;
				return 1;
			}
		}
		return 0;
	}
	if (!*entry || !tool)
		return 0;
	size_t i;
	json_t *t;
	json_array_foreach(json_object_get(*entry, "tools"), i,
	                   t) if (strcmp(json_string_value(t), tool) == 0) return 1;
	return 0;
}

static void record(struct dp_mcp_watch *w, const char *outcome, const char *reason)
{
	json_t *cur = w->cur ? w->cur : json_object();
	const char *tool = json_string_value(json_object_get(cur, "tool"));
	json_t *pi = json_object_get(cur, "provider_info");
	json_t *entry = NULL;
	int ok = is_allowed(w, pi, tool, &entry);
	json_t *args = json_object_get(cur, "arguments");
	char *as = args ? json_dumps(args, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
	int trunc = 0;
	if (as && strlen(as) > DP_MCP_AUDIT_ARGS_MAX) {
		size_t n = DP_MCP_AUDIT_ARGS_MAX;
		while (n && ((unsigned char)as[n] & 0xC0) == 0x80)
			n--; /* cut at a UTF-8 boundary */
		as[n] = '\0';
		trunc = 1;
	}
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	double ms =
	        w->active ? (double)(now.tv_sec - w->t0.tv_sec) * 1e3 + (double)(now.tv_nsec - w->t0.tv_nsec) / 1e6 : 0;
	int violation = !ok;
	json_t *d = json_pack("{s:s,s:o,s:o,s:o,s:o,s:o,s:b,s:s,s:I,s:b,s:o}", "request_id", w->request_id, "server_id",
	                      entry ? json_incref(json_object_get(entry, "server_id")) : json_null(), "server",
	                      entry ? json_incref(json_object_get(entry, "server")) : json_null(), "tool",
	                      tool ? json_string(tool) : json_null(), "provider_info",
	                      pi ? json_deep_copy(pi) : json_null(), "arguments", as ? json_string(as) : json_null(),
	                      "arguments_truncated", trunc, "outcome", outcome, "duration_ms", (json_int_t)ms,
	                      "violation", violation, "reason", reason ? json_string(reason) : json_null());
	free(as);
	if (violation)
		counters.violation++;
	else if (strcmp(outcome, "success") == 0)
		counters.success++;
	else
		counters.failure++;
	dp_audit_record(w->s, w->user_id, w->username[0] ? w->username : NULL, "mcp.tool_call", w->target,
	                violation                         ? "violation"
	                : strcmp(outcome, "success") == 0 ? DP_AUDIT_OK
	                                                  : DP_AUDIT_FAILED,
	                d, w->ip[0] ? w->ip : NULL);
	if (violation)
		dp_warn("mcp: tool call outside the allowed set: %s (request %s)", tool ? tool : "?", w->request_id);
	json_decref(d);
	if (!w->cur)
		json_decref(cur);
	json_decref(w->cur);
	w->cur = NULL;
	w->active = 0;
}

void dp_mcp_watch_event(struct dp_mcp_watch *w, const char *name, const char *json, size_t len)
{
	if (w && strcmp(name, "start") == 0 && !w->request_id[0]) {
		json_t *e = json_loadb(json, len, 0, NULL);
		const char *id = json_string_value(json_object_get(e, "request_id"));
		snprintf(w->request_id, sizeof(w->request_id), "%s", id ? id : "");
		json_decref(e);
		return;
	}
	if (!w || strcmp(name, "tool_call") != 0)
		return;
	json_t *e = json_loadb(json, len, 0, NULL);
	if (!json_is_object(e)) {
		json_decref(e);
		return;
	}
	const char *phase = json_string_value(json_object_get(e, "phase"));
	if (!phase) {
		json_decref(e);
		return;
	}
	if (strcmp(phase, "start") == 0 || (!w->active && strcmp(phase, "arguments") == 0)) {
		if (w->active)
			record(w, "failure", "no result before the next call");
		w->active = 1;
		clock_gettime(CLOCK_MONOTONIC, &w->t0);
		w->cur = json_object();
	}
	if (!w->cur) {
		w->cur = json_object();
		w->active = 1;
		clock_gettime(CLOCK_MONOTONIC, &w->t0);
	}
	static const char *const keys[] = {"tool", "provider_info", "arguments"};
	for (size_t i = 0; i < 3; i++) {
		json_t *v = json_object_get(e, keys[i]);
		if (v)
			json_object_set(w->cur, keys[i], v);
	}
	if (strcmp(phase, "success") == 0) {
		record(w, "success", NULL);
	} else if (strcmp(phase, "failure") == 0) {
		const char *reason = json_string_value(json_object_get(e, "reason"));
		char r[256];
		snprintf(r, sizeof(r), "%s", reason ? reason : "failed");
		record(w, "failure", r);
	}
	json_decref(e);
}

void dp_mcp_watch_free(struct dp_mcp_watch *w)
{
	if (!w)
		return;
	if (w->active)
		record(w, "failure", "the stream ended before the call finished");
	json_decref(w->allowed);
	json_decref(w->cur);
	free(w);
}
