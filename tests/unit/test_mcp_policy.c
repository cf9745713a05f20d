/*
 * test_mcp_policy.c - the Toolchain's policy rules (mcp_registry.h): a new
 * tool is pending (denied), a schema change or an identity change voids a
 * decision, read-only tools are auto-allowed only with the server's switch,
 * dispatch always sends an explicit allowed_tools list, a server with nothing
 * allowed is not attached; plus the tool view (parameters, badges), header
 * validation, the mcp.json entry merge (null keeps values) and its atomic
 * write with a backup, and the tool-call watch flagging violations.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "mcp.h"
#include "mcp_registry.h"
#include "secret.h"
#include "store.h"
#include "targets.h"

static char tmpdir[64];

static void test_eval_rules(void **state)
{
	(void)state;
	struct dp_mcp_policy_view v;
	dp_mcp_policy_eval(NULL, NULL, NULL, "id1", "h1", 0, 0, 1, &v);
	assert_string_equal(v.state, "pending");
	assert_string_equal(v.effective, "deny");
	assert_string_equal(v.reason, "new");
	dp_mcp_policy_eval("allow", "id1", "h1", "id1", "h1", 0, 0, 1, &v);
	assert_string_equal(v.state, "allow");
	assert_string_equal(v.effective, "allow");
	assert_string_equal(v.source, "admin");
	assert_null(v.reason);
	dp_mcp_policy_eval("allow", "id1", "h1", "id1", "h2", 0, 0, 1, &v);
	assert_string_equal(v.state, "pending");
	assert_string_equal(v.reason, "schema_changed");
	assert_string_equal(v.effective, "deny");
	dp_mcp_policy_eval("allow", "id1", "h1", "id2", "h1", 0, 0, 1, &v);
	assert_string_equal(v.reason, "identity_changed");
	assert_string_equal(v.effective, "deny");
	/* read-only auto-allow: only with the switch, only for a read-only hint */
	dp_mcp_policy_eval(NULL, NULL, NULL, "id1", "h1", 1, 1, 1, &v);
	assert_string_equal(v.state, "pending");
	assert_string_equal(v.effective, "allow");
	assert_string_equal(v.source, "auto_read_only");
	dp_mcp_policy_eval(NULL, NULL, NULL, "id1", "h1", 1, 0, 1, &v);
	assert_string_equal(v.effective, "deny");
	dp_mcp_policy_eval(NULL, NULL, NULL, "id1", "h1", 0, 1, 1, &v);
	assert_string_equal(v.effective, "deny");
	/* an explicit deny wins over the switch */
	dp_mcp_policy_eval("deny", "id1", "h1", "id1", "h1", 1, 1, 1, &v);
	assert_string_equal(v.effective, "deny");
	/* a tool that is gone is never allowed */
	dp_mcp_policy_eval("allow", "id1", "h1", "id1", "h1", 0, 0, 0, &v);
	assert_string_equal(v.effective, "deny");
}

static void test_identity_and_hash(void **state)
{
	(void)state;
	char a[17], b[17], c[17];
	json_t *h1 = json_pack("{s:s,s:s}", "Authorization", "Bearer x", "X-A", "1");
	json_t *h2 = json_pack("{s:s,s:s}", "x-a", "1", "authorization", "Bearer x"); /* order, case */
	json_t *h3 = json_pack("{s:s,s:s}", "Authorization", "Bearer y", "X-A", "1");
	dp_mcp_identity_http("l", "http://h/mcp", h1, a);
	dp_mcp_identity_http("l", "http://h/mcp", h2, b);
	dp_mcp_identity_http("l", "http://h/mcp", h3, c);
	assert_string_equal(a, b);
	assert_string_not_equal(a, c);
	assert_int_equal(strlen(a), 16);
	assert_null(strstr(a, "Bearer"));
	dp_mcp_identity_http("l", "http://h/mcp2", h1, c);
	assert_string_not_equal(a, c);
	json_t *args = json_pack("[s]", "x"), *args2 = json_pack("[s]", "y");
	dp_mcp_identity_stdio("l", "npx", args, NULL, a);
	dp_mcp_identity_stdio("l", "npx", args2, NULL, b);
	assert_string_not_equal(a, b);
	json_t *t1 = json_loads("{\"name\":\"t\",\"inputSchema\":{\"type\":\"object\",\"a\":1,\"b\":2}}", 0, NULL);
	json_t *t2 = json_loads(
	        "{\"inputSchema\":{\"b\":2,\"a\":1,\"type\":\"object\"},\"name\":\"t\",\"title\":\"x\"}", 0, NULL);
	json_t *t3 = json_loads("{\"name\":\"t\",\"inputSchema\":{\"type\":\"object\",\"a\":1,\"b\":3}}", 0, NULL);
	dp_mcp_schema_hash(t1, a);
	dp_mcp_schema_hash(t2, b); /* key order and title do not matter */
	dp_mcp_schema_hash(t3, c);
	assert_string_equal(a, b);
	assert_string_not_equal(a, c);
	json_decref(h1);
	json_decref(h2);
	json_decref(h3);
	json_decref(args);
	json_decref(args2);
	json_decref(t1);
	json_decref(t2);
	json_decref(t3);
}

static void test_tool_view(void **state)
{
	(void)state;
	json_t *t = json_loads("{\"name\":\"get-sum\",\"annotations\":{\"title\":\"Sum\",\"readOnlyHint\":true},"
	                       "\"inputSchema\":{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"number\","
	                       "\"description\":\"A\"},\"b\":{\"type\":[\"number\",\"null\"]}},\"required\":[\"a\"]}}",
	                       JSON_PRESERVE_ORDER, NULL);
	json_t *v = dp_mcp_tool_view(t);
	assert_string_equal(json_string_value(json_object_get(v, "title")), "Sum");
	json_t *p = json_object_get(v, "parameters");
	assert_int_equal(json_array_size(p), 2);
	assert_true(json_is_true(json_object_get(json_array_get(p, 0), "required")));
	assert_true(json_is_false(json_object_get(json_array_get(p, 1), "required")));
	assert_string_equal(json_string_value(json_object_get(json_array_get(p, 1), "type")), "number|null");
	json_t *b = json_object_get(v, "badges");
	assert_true(json_is_true(json_object_get(b, "read_only")));
	assert_true(json_is_true(json_object_get(b, "destructive"))); /* default: worst case */
	assert_true(json_is_true(json_object_get(b, "open_world")));
	assert_true(json_is_false(json_object_get(b, "idempotent")));
	json_decref(v);
	json_decref(t);
}

static void test_header_checks(void **state)
{
	(void)state;
	const char *why;
	json_t *h = json_pack("{s:s}", "X-Key", "v");
	assert_int_equal(dp_mcp_check_headers(h, 0, &why), 0);
	json_decref(h);
	h = json_pack("{s:s}", "Mcp-Session-Id", "v");
	assert_int_equal(dp_mcp_check_headers(h, 0, &why), -EINVAL);
	json_decref(h);
	h = json_pack("{s:s}", "X-Key", "a\r\nInjected: 1");
	assert_int_equal(dp_mcp_check_headers(h, 0, &why), -EINVAL);
	json_decref(h);
	h = json_pack("{s:n}", "X-Key");
	assert_int_equal(dp_mcp_check_headers(h, 0, &why), -EINVAL);
	assert_int_equal(dp_mcp_check_headers(h, 1, &why), 0);
	json_decref(h);
	assert_int_equal(dp_mcp_check_label("ok_label-1.2", &why), 0);
	assert_int_equal(dp_mcp_check_label("bad/label", &why), -EINVAL);
	assert_int_equal(dp_mcp_check_url("http://u:p@h/mcp", &why), -EINVAL);
	assert_int_equal(dp_mcp_check_url("https://h:8443/mcp?x=1", &why), 0);
}

/* --- the store part --- */

struct fx {
	struct dp_store *s;
	struct dp_secret *sec;
	struct dp_target t;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/dp-test-mcp-XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	char path[128], *err = NULL;
	snprintf(path, sizeof(path), "%s/db", tmpdir);
	f->s = dp_store_open(path, &err);
	assert_non_null(f->s);
	unsigned char key[DP_SECRET_KEY_BYTES] = {7};
	f->sec = dp_secret_from_key(key);
	dp_target_init(&f->t);
	snprintf(f->t.label, sizeof(f->t.label), "box");
	snprintf(f->t.url, sizeof(f->t.url), "http://10.1.2.3:1234");
	snprintf(f->t.tags, sizeof(f->t.tags), "[]");
	assert_int_equal(dp_targets_insert(f->s, &f->t, 10), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	dp_target_release(&f->t);
	dp_secret_free(f->sec);
	dp_store_free(f->s);
	char cmd[160];
	snprintf(cmd, sizeof(cmd), "%s/db", tmpdir);
	unlink(cmd);
	snprintf(cmd, sizeof(cmd), "%s/db-wal", tmpdir);
	unlink(cmd);
	snprintf(cmd, sizeof(cmd), "%s/db-shm", tmpdir);
	unlink(cmd);
	rmdir(tmpdir);
	free(f);
	return 0;
}

static void discover(struct fx *f, int64_t sid, const char *tools_json)
{
	json_t *row = NULL;
	assert_int_equal(dp_mcp_server_get(f->s, f->t.id, sid, &row), 0);
	json_t *tools = json_loads(tools_json, 0, NULL);
	assert_non_null(tools);
	struct dp_mcp_outcome o = {.status = "ok",
	                           .code = "ok",
	                           .message = "",
	                           .transport = DP_MCP_STREAMABLE_HTTP,
	                           .protocol_version = "2025-11-25",
	                           .tools = tools};
	json_t *changes = NULL;
	assert_int_equal(dp_mcp_store_discovery(f->s, row, &o, 5, 100, &changes), 0);
	json_decref(changes);
	json_decref(tools);
	json_decref(row);
}

static const char *policy_of(struct fx *f, int64_t sid, const char *tool, const char *field)
{
	static char out[32];
	json_t *row = NULL;
	assert_int_equal(dp_mcp_server_get(f->s, f->t.id, sid, &row), 0);
	json_t *tools = dp_mcp_tools_json(f->s, row);
	size_t i;
	json_t *t;
	out[0] = '\0';
	json_array_foreach(tools, i, t) if (strcmp(json_string_value(json_object_get(t, "name")), tool) == 0)
	{
		json_t *v = json_object_get(json_object_get(t, "policy"), field);
		snprintf(out, sizeof(out), "%s", json_is_string(v) ? json_string_value(v) : "null");
	}
	json_decref(tools);
	json_decref(row);
	return out;
}

static void set(struct fx *f, int64_t sid, const char *tool, const char *d)
{
	json_t *row = NULL;
	assert_int_equal(dp_mcp_server_get(f->s, f->t.id, sid, &row), 0);
	assert_int_equal(dp_mcp_policy_set(f->s, row, tool, d, "admin", 200), 0);
	json_decref(row);
}

#define TOOLS_V1                                                                                                       \
	"[{\"name\":\"echo\",\"inputSchema\":{\"type\":\"object\"},\"annotations\":{\"readOnlyHint\":true}},"          \
	"{\"name\":\"rm\",\"inputSchema\":{\"type\":\"object\"},\"annotations\":{\"destructiveHint\":true}}]"
#define TOOLS_V2                                                                                                       \
	"[{\"name\":\"echo\",\"inputSchema\":{\"type\":\"object\",\"properties\":{\"x\":{}}},"                         \
	"\"annotations\":{\"readOnlyHint\":true}},"                                                                    \
	"{\"name\":\"rm\",\"inputSchema\":{\"type\":\"object\"},\"annotations\":{\"destructiveHint\":true}},"          \
	"{\"name\":\"new-one\",\"inputSchema\":{\"type\":\"object\"}}]"

static void test_store_policy_and_dispatch(void **state)
{
	struct fx *f = *state;
	int64_t a = 0, b = 0;
	json_t *h = json_pack("{s:s}", "Authorization", "Bearer secret-1");
	assert_int_equal(
	        dp_mcp_ephemeral_create(f->s, f->sec, f->t.id, "srv-a", "http://127.0.0.1:9/mcp", h, 0, 50, &a), 0);
	assert_int_equal(
	        dp_mcp_ephemeral_create(f->s, f->sec, f->t.id, "srv-b", "http://127.0.0.1:9/mcp", NULL, 0, 50, &b), 0);
	assert_int_equal(dp_mcp_ephemeral_create(f->s, f->sec, f->t.id, "srv-a", "http://x/mcp", NULL, 0, 50, NULL),
	                 -EEXIST);
	json_decref(h);
	discover(f, a, TOOLS_V1);
	discover(f, b, TOOLS_V1);

	/* new tools are pending (denied) */
	assert_string_equal(policy_of(f, a, "echo", "state"), "pending");
	assert_string_equal(policy_of(f, a, "echo", "reason"), "new");
	assert_string_equal(policy_of(f, a, "echo", "effective"), "deny");

	/* nothing allowed anywhere: nothing attached, both skipped */
	json_t *items, *skipped, *allowed;
	json_t *integ = dp_mcp_integrations(f->s, f->sec, &f->t, NULL, 1, &items, &skipped, &allowed);
	assert_int_equal(json_array_size(integ), 0);
	assert_int_equal(json_array_size(skipped), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(skipped, 0), "reason")),
	                    "nothing_allowed");
	json_decref(integ);
	json_decref(items);
	json_decref(skipped);
	json_decref(allowed);

	/* allow echo on a only: a attached with exactly ["echo"], b not */
	set(f, a, "echo", "allow");
	assert_string_equal(policy_of(f, a, "echo", "effective"), "allow");
	integ = dp_mcp_integrations(f->s, f->sec, &f->t, NULL, 1, &items, &skipped, &allowed);
	assert_int_equal(json_array_size(integ), 1);
	json_t *i0 = json_array_get(integ, 0);
	assert_string_equal(json_string_value(json_object_get(i0, "type")), "ephemeral_mcp");
	assert_string_equal(json_string_value(json_object_get(i0, "server_label")), "srv-a");
	json_t *at = json_object_get(i0, "allowed_tools");
	assert_true(json_is_array(at));
	assert_int_equal(json_array_size(at), 1);
	assert_string_equal(json_string_value(json_array_get(at, 0)), "echo");
	assert_string_equal(json_string_value(json_object_get(json_object_get(i0, "headers"), "Authorization")),
	                    "Bearer secret-1");
	assert_int_equal(json_array_size(skipped), 1);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(skipped, 0), "server_id")), b);
	assert_non_null(json_object_get(allowed, "ephemeral_mcp:srv-a"));
	json_decref(integ);
	json_decref(items);
	json_decref(skipped);
	json_decref(allowed);

	/* everything allowed: the list is still explicit (never omitted) */
	set(f, a, "rm", "allow");
	integ = dp_mcp_integrations(f->s, f->sec, &f->t, NULL, 0, &items, &skipped, &allowed);
	i0 = json_array_get(integ, 0);
	assert_int_equal(json_array_size(json_object_get(i0, "allowed_tools")), 2);
	/* the preview hides header values */
	assert_string_equal(json_string_value(json_object_get(json_object_get(i0, "headers"), "Authorization")),
	                    "(hidden)");
	json_decref(integ);
	json_decref(items);
	json_decref(skipped);
	json_decref(allowed);

	/* a schema change voids the decision; an unchanged tool keeps it; a new tool is pending */
	discover(f, a, TOOLS_V2);
	assert_string_equal(policy_of(f, a, "echo", "state"), "pending");
	assert_string_equal(policy_of(f, a, "echo", "reason"), "schema_changed");
	assert_string_equal(policy_of(f, a, "rm", "state"), "allow");
	assert_string_equal(policy_of(f, a, "new-one", "reason"), "new");

	/* read-only auto-allow through the server's switch */
	assert_int_equal(dp_mcp_server_set_auto(f->s, a, 1, 300), 0);
	assert_string_equal(policy_of(f, a, "echo", "effective"), "allow");
	assert_string_equal(policy_of(f, a, "echo", "source"), "auto_read_only");
	assert_string_equal(policy_of(f, a, "new-one", "effective"), "deny");

	/* an identity change (another header value) sends decisions back to review */
	json_t *row = NULL;
	assert_int_equal(dp_mcp_server_get(f->s, f->t.id, a, &row), 0);
	json_t *keep = json_pack("{s:n}", "Authorization");
	assert_int_equal(dp_mcp_ephemeral_update(f->s, f->sec, row, NULL, NULL, keep, -1, 400), 0);
	assert_string_equal(policy_of(f, a, "rm", "state"), "allow"); /* same value kept: same identity */
	json_decref(keep);
	json_decref(row);
	assert_int_equal(dp_mcp_server_get(f->s, f->t.id, a, &row), 0);
	json_t *nh = json_pack("{s:s}", "Authorization", "Bearer secret-2");
	assert_int_equal(dp_mcp_ephemeral_update(f->s, f->sec, row, NULL, NULL, nh, -1, 400), 0);
	json_decref(nh);
	json_decref(row);
	assert_string_equal(policy_of(f, a, "rm", "state"), "pending");
	assert_string_equal(policy_of(f, a, "rm", "reason"), "identity_changed");
	/* the api object never carries header values */
	assert_int_equal(dp_mcp_server_get(f->s, f->t.id, a, &row), 0);
	json_t *o = dp_mcp_server_json(f->s, row);
	char *text = json_dumps(o, 0);
	assert_null(strstr(text, "secret-2"));
	assert_null(strstr(text, "headers_enc"));
	free(text);
	json_decref(o);
	/* ...but the stored ciphertext decrypts to them */
	char **lines = NULL;
	assert_int_equal(dp_mcp_server_header_lines(row, f->sec, &lines), 0);
	assert_string_equal(lines[0], "Authorization: Bearer secret-2");
	assert_null(lines[1]);
	dp_mcp_strv_free(lines);
	json_decref(row);
	/* deleting a server removes its tools and policy */
	assert_int_equal(dp_mcp_server_delete(f->s, a), 0);
	assert_int_equal(dp_mcp_server_get(f->s, f->t.id, a, &row), -ENOENT);
}

static void test_mcp_json_merge_and_write(void **state)
{
	(void)state;
	const char *why = NULL;
	json_t *old = json_loads("{\"url\":\"https://a/mcp\",\"headers\":{\"Authorization\":\"Bearer "
	                         "1\"},\"auth\":{\"CLIENT_ID\":\"c\"}}",
	                         0, NULL);
	json_t *body =
	        json_loads("{\"url\":\"https://b/mcp\",\"headers\":{\"Authorization\":null,\"X\":\"y\"}}", 0, NULL);
	json_t *e = dp_mcp_json_entry_merge(old, body, &why);
	assert_non_null(e);
	assert_string_equal(json_string_value(json_object_get(e, "url")), "https://b/mcp");
	assert_string_equal(json_string_value(json_object_get(json_object_get(e, "headers"), "Authorization")),
	                    "Bearer 1");
	assert_non_null(json_object_get(e, "auth")); /* other members kept */
	json_decref(e);
	json_decref(body);
	body = json_loads("{\"url\":\"https://b/mcp\",\"command\":\"x\"}", 0, NULL);
	assert_null(dp_mcp_json_entry_merge(old, body, &why));
	json_decref(body);
	body = json_loads("{\"command\":\"npx\",\"args\":[\"-y\",1]}", 0, NULL);
	assert_null(dp_mcp_json_entry_merge(NULL, body, &why));
	json_decref(body);
	body = json_loads("{\"command\":\"npx\",\"args\":[\"-y\"],\"env\":{\"K\":\"v\"}}", 0, NULL);
	e = dp_mcp_json_entry_merge(old, body, &why);
	assert_non_null(e);
	assert_null(json_object_get(e, "url"));
	assert_null(json_object_get(e, "headers"));
	json_decref(body);
	json_decref(old);

	char dir[64], path[128], bak[160];
	snprintf(dir, sizeof(dir), "/tmp/dp-test-mcpjson-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/mcp.json", dir);
	snprintf(bak, sizeof(bak), "%s.bak", path);
	json_t *root = NULL;
	assert_int_equal(dp_mcp_json_load(path, &root, &why), -ENOENT);
	assert_true(json_is_object(json_object_get(root, "mcpServers")));
	json_object_set(json_object_get(root, "mcpServers"), "s1", e);
	assert_int_equal(dp_mcp_json_write(path, root), 0);
	struct stat sb;
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	assert_int_not_equal(access(bak, F_OK), 0); /* nothing to back up the first time */
	json_object_del(json_object_get(root, "mcpServers"), "s1");
	assert_int_equal(dp_mcp_json_write(path, root), 0);
	assert_int_equal(access(bak, F_OK), 0);
	json_t *back = NULL, *now = NULL;
	assert_int_equal(dp_mcp_json_load(bak, &back, &why), 0);
	assert_non_null(json_object_get(json_object_get(back, "mcpServers"), "s1"));
	assert_int_equal(dp_mcp_json_load(path, &now, &why), 0);
	assert_null(json_object_get(json_object_get(now, "mcpServers"), "s1"));
	json_decref(back);
	json_decref(now);
	json_decref(root);
	json_decref(e);
	/* garbage is refused, not overwritten */
	FILE *fp = fopen(path, "w");
	fputs("[1,2", fp);
	fclose(fp);
	assert_int_equal(dp_mcp_json_load(path, &root, &why), -EINVAL);
	unlink(path);
	unlink(bak);
	rmdir(dir);
}

static void test_watch_flags_violations(void **state)
{
	struct fx *f = *state;
	json_t *allowed = json_loads(
	        "{\"ephemeral_mcp:srv\":{\"server_id\":1,\"server\":\"srv\",\"tools\":[\"echo\"]}}", 0, NULL);
	struct dp_mcp_watch *w = dp_mcp_watch_new(f->s, 0, "u", "127.0.0.1", "box", NULL, allowed);
	const char *start = "{\"request_id\":\"c_1\"}";
	dp_mcp_watch_event(w, "start", start, strlen(start));
	const char *ev[] = {
	        "{\"phase\":\"start\",\"tool\":\"echo\",\"provider_info\":{\"type\":\"ephemeral_mcp\",\"server_label\":"
	        "\"srv\"}}",
	        "{\"phase\":\"success\",\"tool\":\"echo\",\"arguments\":{\"message\":\"hi\"},\"output\":\"x\","
	        "\"provider_info\":{\"type\":\"ephemeral_mcp\",\"server_label\":\"srv\"}}",
	        "{\"phase\":\"start\",\"tool\":\"rm\",\"provider_info\":{\"type\":\"ephemeral_mcp\",\"server_label\":"
	        "\"srv\"}}",
	        "{\"phase\":\"success\",\"tool\":\"rm\",\"provider_info\":{\"type\":\"ephemeral_mcp\",\"server_label\":"
	        "\"srv\"}}",
	};
	for (size_t i = 0; i < 4; i++)
		dp_mcp_watch_event(w, "tool_call", ev[i], strlen(ev[i]));
	dp_mcp_watch_free(w);
	struct dp_buf m;
	dp_buf_init(&m, 1 << 16);
	dp_mcp_metrics_render(&m);
	assert_non_null(strstr(m.data, "daemonpulse_mcp_tool_violations_total 1\n"));
	assert_non_null(strstr(m.data, "{outcome=\"success\"} 1\n"));
	dp_buf_release(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_eval_rules),
	        cmocka_unit_test(test_identity_and_hash),
	        cmocka_unit_test(test_tool_view),
	        cmocka_unit_test(test_header_checks),
	        cmocka_unit_test_setup_teardown(test_store_policy_and_dispatch, setup, teardown),
	        cmocka_unit_test(test_mcp_json_merge_and_write),
	        cmocka_unit_test_setup_teardown(test_watch_flags_violations, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
