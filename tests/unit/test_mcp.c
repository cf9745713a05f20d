/*
 * test_mcp.c - the MCP client's pure parts (JSON-RPC classification and
 * encoding, newline framing, the legacy `endpoint` resolution that refuses
 * other hosts, URL split, version list) and its stdio transport against
 * small node scripts: handshake, a server ping answered, list_changed
 * re-listing, cursor pagination, tools/call, a server that speaks an
 * unknown protocol version, one that exits early, and the shutdown sequence
 * (close stdin, wait, SIGTERM, SIGKILL) with a server that ignores both
 * EOF and SIGTERM. Skipped parts when node is not installed. Streamable
 * HTTP against a lib/http fake server on the same loop: Accept and user
 * headers sent, SSE and JSON answers, the session id and version headers,
 * a gone session re-initialised once, pagination, DELETE at the end, a 401
 * with WWW-Authenticate = needs_oauth, a redirect refused, the response
 * cap, and a legacy endpoint event pointing to another host refused.
 */
#include <errno.h>
#include <event2/event.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "buf.h"
#include "http.h"
#include "job.h"
#include "jsonrpc.h"
#include "mcp.h"
#include "upstream.h"

static void test_classify(void **state)
{
	(void)state;
	struct dp_jsonrpc_msg m;
	const char *req = "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"ping\"}";
	assert_int_equal(dp_jsonrpc_parse(req, strlen(req), 0, &m), 0);
	assert_int_equal(m.kind, DP_JSONRPC_REQUEST);
	assert_true(m.id_is_int);
	assert_int_equal(m.id_int, 7);
	dp_jsonrpc_msg_release(&m);
	const char *n = "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/tools/list_changed\"}";
	assert_int_equal(dp_jsonrpc_parse(n, strlen(n), 0, &m), 0);
	assert_int_equal(m.kind, DP_JSONRPC_NOTIFICATION);
	dp_jsonrpc_msg_release(&m);
	const char *r = "{\"jsonrpc\":\"2.0\",\"id\":\"a\",\"result\":{}}";
	assert_int_equal(dp_jsonrpc_parse(r, strlen(r), 0, &m), 0);
	assert_int_equal(m.kind, DP_JSONRPC_RESULT);
	assert_false(m.id_is_int);
	dp_jsonrpc_msg_release(&m);
	const char *e = "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32700,\"message\":\"parse\"}}";
	assert_int_equal(dp_jsonrpc_parse(e, strlen(e), 0, &m), 0);
	assert_int_equal(m.kind, DP_JSONRPC_ERROR);
	assert_int_equal(m.error_code, -32700);
	assert_string_equal(m.error_message, "parse");
	dp_jsonrpc_msg_release(&m);
	static const char *const bad[] = {
	        "[{\"jsonrpc\":\"2.0\",\"method\":\"a\"}]",                            /* batch */
	        "{\"jsonrpc\":\"1.0\",\"id\":1,\"result\":{}}",                        /* version */
	        "{\"jsonrpc\":\"2.0\",\"id\":1.5,\"result\":{}}",                      /* id type */
	        "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{},\"error\":{\"code\":1}}", /* both */
	        "{\"jsonrpc\":\"2.0\",\"id\":1}",                                      /* neither */
	        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"\"}",                      /* empty method */
	        "{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"x\"}",                  /* null request id */
	        "{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"message\":\"x\"}}",        /* no code */
	        "{\"jsonrpc\":\"2.0\",\"method\":\"x\",\"params\":3}",                 /* params */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(dp_jsonrpc_parse(bad[i], strlen(bad[i]), 0, &m), 0);
		assert_int_equal(m.kind, DP_JSONRPC_INVALID);
		assert_non_null(m.why);
		dp_jsonrpc_msg_release(&m);
	}
	assert_int_equal(dp_jsonrpc_parse("{", 1, 0, &m), -EINVAL);
	assert_int_equal(dp_jsonrpc_parse(req, strlen(req), 10, &m), -EMSGSIZE);
	const char *dup = "{\"jsonrpc\":\"2.0\",\"id\":1,\"id\":2,\"result\":{}}";
	assert_int_equal(dp_jsonrpc_parse(dup, strlen(dup), 0, &m), -EINVAL);
}

static void test_encode(void **state)
{
	(void)state;
	json_t *p = json_pack("{s:s}", "text", "two\nlines");
	char *s = dp_jsonrpc_request(3, "tools/call", p);
	assert_non_null(s);
	assert_null(strchr(s, '\n')); /* the stdio framing depends on it */
	assert_non_null(strstr(s, "\"id\":3"));
	free(s);
	assert_null(dp_jsonrpc_request(1, "", NULL));
	s = dp_jsonrpc_notification("notifications/initialized", NULL);
	assert_string_equal(s, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}");
	free(s);
	json_t *id = json_string("x");
	s = dp_jsonrpc_result(id, NULL);
	assert_string_equal(s, "{\"jsonrpc\":\"2.0\",\"id\":\"x\",\"result\":{}}");
	free(s);
	s = dp_jsonrpc_error(id, -32601, "method not found");
	assert_non_null(strstr(s, "-32601"));
	free(s);
	json_decref(id);
	json_decref(p);
}

struct lines {
	int n;
	char got[8][64];
};

static int on_line(const char *l, size_t n, void *arg)
{
	struct lines *x = arg;
	if (x->n < 8)
		snprintf(x->got[x->n], sizeof(x->got[0]), "%.*s", (int)n, l);
	x->n++;
	return 0;
}

static void test_framing(void **state)
{
	(void)state;
	struct dp_jsonrpc_lines l;
	struct lines x = {0};
	dp_jsonrpc_lines_init(&l, 16);
	const char *in = "ab\r\n\ncd";
	/* byte by byte */
	for (size_t i = 0; in[i]; i++)
		dp_jsonrpc_lines_feed(&l, in + i, 1, on_line, &x);
	dp_jsonrpc_lines_feed(&l, "e\n0123456789abcdefXYZ\nok\n", 25, on_line, &x);
	assert_int_equal(x.n, 3);
	assert_string_equal(x.got[0], "ab");
	assert_string_equal(x.got[1], "cde");
	assert_string_equal(x.got[2], "ok");
	assert_int_equal(l.skipped, 1);
	dp_jsonrpc_lines_release(&l);
}

static void test_endpoint_and_urls(void **state)
{
	(void)state;
	char *u = NULL;
	const char *base = "http://127.0.0.1:3001/sse";
	const char *d = "/message?sessionId=abc";
	assert_int_equal(dp_mcp_resolve_endpoint(base, d, strlen(d), &u), 0);
	assert_string_equal(u, "http://127.0.0.1:3001/message?sessionId=abc");
	free(u);
	d = "messages/?session_id=1";
	assert_int_equal(dp_mcp_resolve_endpoint(base, d, strlen(d), &u), 0);
	assert_string_equal(u, "http://127.0.0.1:3001/messages/?session_id=1");
	free(u);
	d = "http://127.0.0.1:3001/m";
	assert_int_equal(dp_mcp_resolve_endpoint(base, d, strlen(d), &u), 0);
	free(u);
	static const char *const other[] = {"http://evil.example/m", "https://127.0.0.1:3001/m",
	                                    "http://127.0.0.1:3002/m", "//evil.example/m"};
	for (size_t i = 0; i < 4; i++)
		assert_int_equal(dp_mcp_resolve_endpoint(base, other[i], strlen(other[i]), &u), -EPERM);
	assert_int_equal(dp_mcp_resolve_endpoint(base, "a b", 3, &u), -EINVAL);
	assert_int_equal(dp_mcp_resolve_endpoint(base, "", 0, &u), -EINVAL);
	d = "http://user:pw@127.0.0.1:3001/m";
	assert_int_equal(dp_mcp_resolve_endpoint(base, d, strlen(d), &u), -EINVAL);

	char *b, *p;
	assert_int_equal(dp_mcp_split_url("https://h.example:8443/a/mcp?x=1", &b, &p), 0);
	assert_string_equal(b, "https://h.example:8443");
	assert_string_equal(p, "/a/mcp?x=1");
	free(b);
	free(p);
	assert_int_equal(dp_mcp_split_url("http://h", &b, &p), 0);
	assert_string_equal(p, "/");
	free(b);
	free(p);
	assert_int_equal(dp_mcp_split_url("file:///etc/passwd", &b, &p), -EINVAL);
	assert_int_equal(dp_mcp_split_url("http://u:p@h/", &b, &p), -EINVAL);
	assert_int_equal(dp_mcp_split_url("http://h/#f", &b, &p), -EINVAL);
	assert_true(dp_mcp_version_supported("2025-06-18"));
	assert_false(dp_mcp_version_supported("1999-01-01"));
	assert_false(dp_mcp_version_supported(NULL));
}

/* --- stdio against node scripts --- */

struct run {
	struct event_base *base;
	struct dp_mcp_env env;
	int done;
	char status[32], code[32], msg[512];
	int ntools, pages, lc;
	char call[256];
	double ms;
};

static void on_done(const struct dp_mcp_outcome *o, void *arg)
{
	struct run *r = arg;
	r->done++;
	snprintf(r->status, sizeof(r->status), "%s", o->status);
	snprintf(r->code, sizeof(r->code), "%s", o->code);
	snprintf(r->msg, sizeof(r->msg), "%s", o->message);
	r->ntools = (int)json_array_size(o->tools);
	r->pages = o->pages;
	r->lc = o->list_changed;
	r->ms = o->duration_ms;
	r->call[0] = '\0';
	if (o->call_result) {
		char *s = json_dumps(o->call_result, JSON_COMPACT);
		snprintf(r->call, sizeof(r->call), "%s", s);
		free(s);
	}
	event_base_loopbreak(r->base);
}

static int have_node(void)
{
	char p[4096];
	return dp_job_resolve("node", p, sizeof(p)) == 0;
}

/* A small MCP server over stdio. MODE: "ok", "badver", "exit", "stubborn". */
static const char *script =
        "const mode = process.argv[1]; let buf = ''; let listed = 0;\n"
        "const send = (m) => process.stdout.write(JSON.stringify(m) + '\\n');\n"
        "if (mode === 'stubborn') { process.on('SIGTERM', () => {}); setInterval(() => {}, 1000); }\n"
        "process.stdin.on('data', (d) => { buf += d; let i;\n"
        " while ((i = buf.indexOf('\\n')) >= 0) { const line = buf.slice(0, i); buf = buf.slice(i + 1);\n"
        "  if (!line) continue; const m = JSON.parse(line);\n"
        "  if (m.method === 'initialize') {\n"
        "   if (mode === 'exit') process.exit(3);\n"
        "   send({jsonrpc:'2.0', id:m.id, result:{protocolVersion: mode === 'badver' ? '1999-01-01' : "
        "m.params.protocolVersion,\n"
        "     capabilities:{tools:{listChanged:true}}, serverInfo:{name:'fake', version:'1'}}});\n"
        "  } else if (m.method === 'notifications/initialized') {\n"
        "   send({jsonrpc:'2.0', id:'srv-1', method:'ping'});\n"
        "  } else if (m.method === 'tools/list') {\n"
        "   listed++;\n"
        "   if (listed === 1) send({jsonrpc:'2.0', method:'notifications/tools/list_changed'});\n"
        "   if (!m.params || !m.params.cursor) send({jsonrpc:'2.0', id:m.id, "
        "result:{tools:[{name:'a',inputSchema:{type:'object'}}], nextCursor:'c2'}});\n"
        "   else send({jsonrpc:'2.0', id:m.id, result:{tools:[{name:'b',inputSchema:{type:'object'}}, {nope:1}]}});\n"
        "  } else if (m.method === 'tools/call') {\n"
        "   send({jsonrpc:'2.0', id:m.id, result:{content:[{type:'text', text:'hi ' + m.params.arguments.who}]}});\n"
        "  } else if (m.id === 'srv-1') { /* our ping answered */ process.stderr.write('pong ' + JSON.stringify(m) + "
        "'\\n'); }\n"
        " } });\n"
        "process.stdin.on('end', () => { if (mode !== 'stubborn') process.exit(0); });\n";

static void start_and_wait(struct run *r, struct dp_mcp_op *op, int seconds)
{
	assert_non_null(op);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!r->done) {
		event_base_loop(r->base, EVLOOP_ONCE);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		if (t1.tv_sec - t0.tv_sec > seconds)
			fail_msg("mcp operation did not finish");
	}
	/* let the op free itself */
	event_base_loop(r->base, EVLOOP_NONBLOCK);
}

static void test_stdio(void **state)
{
	(void)state;
	if (!have_node()) {
		fprintf(stderr, "node not found: stdio tests skipped\n");
		return;
	}
	struct run r = {0};
	r.base = event_base_new();
	r.env = (struct dp_mcp_env){.base = r.base, .up = dp_upstream_new(r.base), .jobs = dp_jobs_new(r.base)};
	const char *argv_ok[] = {"node", "-e", script, "ok", NULL};
	struct dp_mcp_server s = {.transport = DP_MCP_STDIO, .argv = argv_ok, .list_changed_wait_ms = 50};

	/* discovery: ping answered, list_changed -> one re-list, two pages, malformed tool skipped */
	start_and_wait(&r, dp_mcp_discover(&r.env, &s, on_done, &r, NULL), 20);
	assert_string_equal(r.status, "ok");
	assert_int_equal(r.ntools, 2);
	assert_int_equal(r.lc, 1);
	assert_int_equal(r.pages, 4); /* two listings of two pages */

	/* tools/call */
	memset(r.status, 0, sizeof(r.status));
	r.done = 0;
	json_t *args = json_pack("{s:s}", "who", "there");
	start_and_wait(&r, dp_mcp_call(&r.env, &s, "greet", args, on_done, &r, NULL), 20);
	json_decref(args);
	assert_string_equal(r.status, "ok");
	assert_string_equal(r.call, "{\"content\":[{\"type\":\"text\",\"text\":\"hi there\"}]}");

	/* an unknown protocol version is refused */
	const char *argv_bad[] = {"node", "-e", script, "badver", NULL};
	s.argv = argv_bad;
	r.done = 0;
	start_and_wait(&r, dp_mcp_discover(&r.env, &s, on_done, &r, NULL), 20);
	assert_string_equal(r.status, "failed");
	assert_string_equal(r.code, "unsupported_version");

	/* a server that exits before answering */
	const char *argv_exit[] = {"node", "-e", script, "exit", NULL};
	s.argv = argv_exit;
	r.done = 0;
	start_and_wait(&r, dp_mcp_discover(&r.env, &s, on_done, &r, NULL), 20);
	assert_string_equal(r.code, "server_exited");

	/* a missing binary */
	const char *argv_none[] = {"/nonexistent/mcp-server", NULL};
	s.argv = argv_none;
	r.done = 0;
	start_and_wait(&r, dp_mcp_discover(&r.env, &s, on_done, &r, NULL), 5);
	assert_string_equal(r.code, "spawn_failed");

	/* shutdown of a server ignoring EOF and SIGTERM: SIGKILL after
	 * close-wait (2 s) + grace (2 s); the outcome comes after it */
	const char *argv_st[] = {"node", "-e", script, "stubborn", NULL};
	s.argv = argv_st;
	r.done = 0;
	start_and_wait(&r, dp_mcp_discover(&r.env, &s, on_done, &r, NULL), 30);
	assert_string_equal(r.status, "ok");
	assert_true(r.ms >= 3900);
	assert_int_equal(dp_jobs_count(r.env.jobs), 0);

	/* cancel: no callback */
	s.argv = argv_ok;
	r.done = 0;
	struct dp_mcp_op *op = dp_mcp_discover(&r.env, &s, on_done, &r, NULL);
	dp_mcp_cancel(op);
	for (int i = 0; i < 200 && dp_jobs_count(r.env.jobs) > 0; i++)
		event_base_loop(r.base, EVLOOP_ONCE | EVLOOP_NONBLOCK), usleep(10000);
	event_base_loop(r.base, EVLOOP_NONBLOCK);
	assert_int_equal(r.done, 0);

	/* bad descriptions fail synchronously */
	const char *err = NULL;
	struct dp_mcp_server h = {.transport = DP_MCP_AUTO, .url = "ftp://x/"};
	assert_null(dp_mcp_discover(&r.env, &h, on_done, &r, &err));
	assert_non_null(err);
	struct dp_mcp_server none = {.transport = DP_MCP_STDIO};
	assert_null(dp_mcp_discover(&r.env, &none, on_done, &r, &err));

	dp_jobs_free(r.env.jobs);
	dp_upstream_free(r.env.up);
	event_base_loop(r.base, EVLOOP_NONBLOCK);
	event_base_free(r.base);
	int st;
	assert_int_equal(waitpid(-1, &st, WNOHANG), -1); /* no zombies */
}

/* --- streamable HTTP against a fake --- */

struct fake {
	struct dp_http_server *srv;
	int port;
	int sessions, deletes, gone_sent;
	int saw_user_header, saw_accept, saw_version;
};

static void reply_rpc_json(struct dp_http_req *req, const char *json)
{
	dp_http_reply(req, 200, "application/json", json, strlen(json));
}

static void fake_handler(struct dp_http_req *req, void *arg)
{
	struct fake *f = arg;
	const char *path = dp_http_req_path(req);
	const char *method = dp_http_req_method(req);
	size_t n;
	const char *body = dp_http_req_body(req, &n);
	if (!strcmp(path, "/oauth")) {
		dp_http_add_header(req, "WWW-Authenticate",
		                   "Bearer resource_metadata=\"http://x/.well-known/oauth-protected-resource\"");
		dp_http_reply(req, 401, "application/json", "{}", 2);
		return;
	}
	if (!strcmp(path, "/redirect")) {
		dp_http_add_header(req, "Location", "http://evil.example/mcp");
		dp_http_reply(req, 302, "text/plain", "", 0);
		return;
	}
	if (!strcmp(path, "/legacy")) {
		if (!strcmp(method, "POST")) {
			dp_http_reply(req, 405, "text/plain", "", 0);
			return;
		}
		dp_http_stream_start(req, 200, "text/event-stream");
		const char *ev = "event: endpoint\ndata: http://evil.example/message?s=1\n\n";
		dp_http_stream_write(req, ev, strlen(ev));
		dp_http_stream_end(req);
		return;
	}
	if (!strcmp(path, "/big")) {
		struct dp_buf b;
		dp_buf_init(&b, 1u << 20);
		dp_buf_adds(&b, "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"pad\":\"");
		for (int i = 0; i < 20000; i++)
			dp_buf_addch(&b, 'x');
		dp_buf_adds(&b, "\"}}");
		dp_http_reply(req, 200, "application/json", b.data, b.len);
		dp_buf_release(&b);
		return;
	}
	if (strcmp(path, "/mcp") != 0) {
		dp_http_reply(req, 404, "text/plain", "", 0);
		return;
	}
	const char *sid = dp_http_req_header(req, "Mcp-Session-Id");
	if (!strcmp(method, "DELETE")) {
		f->deletes++;
		dp_http_reply(req, 200, "text/plain", "", 0);
		return;
	}
	const char *acc = dp_http_req_header(req, "Accept");
	if (acc && strstr(acc, "application/json") && strstr(acc, "text/event-stream"))
		f->saw_accept++;
	const char *uh = dp_http_req_header(req, "X-Key");
	if (uh && !strcmp(uh, "k-123"))
		f->saw_user_header++;
	struct dp_jsonrpc_msg m;
	if (dp_jsonrpc_parse(body, n, 0, &m) < 0) {
		dp_http_reply(req, 400, "text/plain", "", 0);
		return;
	}
	char out[512];
	if (m.kind == DP_JSONRPC_NOTIFICATION) {
		dp_http_reply(req, 202, "text/plain", "", 0);
	} else if (!strcmp(m.method, "initialize")) {
		char sess[32];
		snprintf(sess, sizeof(sess), "sess-%d", ++f->sessions);
		dp_http_add_header(req, "Mcp-Session-Id", sess);
		dp_http_stream_start(req, 200, "text/event-stream");
		snprintf(out, sizeof(out),
		         "id: p1\ndata: \n\n: comment\nevent: message\ndata: "
		         "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\"}\n\n"
		         "event: message\ndata: "
		         "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":{\"protocolVersion\":\"2025-11-25\","
		         "\"capabilities\":{\"tools\":{}},\"serverInfo\":{\"name\":\"fake\",\"version\":\"1\"}}}\n\n",
		         (long long)m.id_int);
		dp_http_stream_write(req, out, strlen(out));
		dp_http_stream_end(req);
	} else if (sid && !strcmp(sid, "sess-1") && !f->gone_sent) {
		f->gone_sent = 1;
		dp_http_reply(req, 404, "text/plain", "", 0);
	} else {
		const char *v = dp_http_req_header(req, "MCP-Protocol-Version");
		if (v && !strcmp(v, "2025-11-25"))
			f->saw_version++;
		int page2 = m.params && json_is_string(json_object_get(m.params, "cursor"));
		snprintf(out, sizeof(out),
		         "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":{\"tools\":[{\"name\":\"%s\","
		         "\"inputSchema\":{\"type\":\"object\"}}]%s}}",
		         (long long)m.id_int, page2 ? "two" : "one", page2 ? "" : ",\"nextCursor\":\"c2\"");
		reply_rpc_json(req, out);
	}
	dp_jsonrpc_msg_release(&m);
}

static void test_streamable_http(void **state)
{
	(void)state;
	struct run r = {0};
	struct fake f = {0};
	r.base = event_base_new();
	r.env = (struct dp_mcp_env){.base = r.base, .up = dp_upstream_new(r.base), .jobs = NULL};
	struct dp_http_config cfg;
	dp_http_config_defaults(&cfg);
	cfg.handler = fake_handler;
	cfg.handler_arg = &f;
	f.srv = dp_http_server_new(r.base, &cfg);
	assert_int_equal(dp_http_server_listen(f.srv, "127.0.0.1", 0, &f.port), 0);
	char url[128];
	const char *hdrs[] = {"X-Key: k-123", NULL};

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/mcp", f.port);
	struct dp_mcp_server s = {.transport = DP_MCP_AUTO, .url = url, .headers = hdrs};
	start_and_wait(&r, dp_mcp_discover(&r.env, &s, on_done, &r, NULL), 10);
	assert_string_equal(r.status, "ok");
	assert_int_equal(r.ntools, 2);
	assert_int_equal(r.pages, 2);
	assert_int_equal(f.sessions, 2); /* the first session was gone: re-initialised once */
	assert_int_equal(f.deletes, 1);
	assert_true(f.saw_accept >= 5);
	assert_true(f.saw_user_header >= 5);
	assert_int_equal(f.saw_version, 2);

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/oauth", f.port);
	r.done = 0;
	start_and_wait(&r, dp_mcp_discover(&r.env, &s, on_done, &r, NULL), 10);
	assert_string_equal(r.status, "needs_oauth");
	assert_string_equal(r.msg, DP_MCP_NEEDS_OAUTH_MESSAGE);

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/redirect", f.port);
	r.done = 0;
	start_and_wait(&r, dp_mcp_discover(&r.env, &s, on_done, &r, NULL), 10);
	assert_string_equal(r.code, "redirect");

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/big", f.port);
	s.max_response = 4096;
	r.done = 0;
	start_and_wait(&r, dp_mcp_discover(&r.env, &s, on_done, &r, NULL), 10);
	assert_string_equal(r.code, "response_too_large");
	s.max_response = 0;

	/* link-local (cloud metadata) addresses are refused before connecting */
	snprintf(url, sizeof(url), "http://169.254.169.254/mcp");
	r.done = 0;
	start_and_wait(&r, dp_mcp_discover(&r.env, &s, on_done, &r, NULL), 10);
	assert_string_equal(r.code, "blocked_address");
	snprintf(url, sizeof(url), "http://[fe80::1]:80/mcp");
	r.done = 0;
	start_and_wait(&r, dp_mcp_discover(&r.env, &s, on_done, &r, NULL), 10);
	assert_true(!strcmp(r.code, "blocked_address") ||
	            !strcmp(r.code, "stopped")); /* no route for a scope-less fe80 */

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/legacy", f.port);
	r.done = 0;
	start_and_wait(&r, dp_mcp_discover(&r.env, &s, on_done, &r, NULL), 10);
	assert_string_equal(r.code, "redirect"); /* the endpoint on another host is refused */

	dp_upstream_free(r.env.up);
	dp_http_server_free(f.srv);
	event_base_loop(r.base, EVLOOP_NONBLOCK);
	event_base_free(r.base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_classify), cmocka_unit_test(test_encode),
	        cmocka_unit_test(test_framing),  cmocka_unit_test(test_endpoint_and_urls),
	        cmocka_unit_test(test_stdio),    cmocka_unit_test(test_streamable_http),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
