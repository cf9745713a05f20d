/*
 * test_route.c - the route table and matcher (src/route.c), the body
 * parser, reply helpers that need no connection (api.c), metrics text and
 * a walk over every real route table: no route without a role, no
 * duplicate method + path.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api.h"
#include "buf.h"
#include "metrics.h"
#include "route.h"

static void h(struct dp_ctx *c)
{
	(void)c;
}

static const struct dp_route demo[] = {
        {.method = "GET", .path = "/api/targets", .fn = h, .role = DP_ROLE_VIEWER},
        {.method = "POST", .path = "/api/targets", .fn = h, .role = DP_ROLE_ADMIN},
        {.method = "GET", .path = "/api/targets/{id}", .fn = h, .role = DP_ROLE_VIEWER},
        {.method = "PATCH", .path = "/api/targets/{id}", .fn = h, .role = DP_ROLE_ADMIN},
        {.method = "DELETE", .path = "/api/targets/{id}", .fn = h, .role = DP_ROLE_ADMIN},
        {.method = "GET", .path = "/api/targets/active", .fn = h, .role = DP_ROLE_VIEWER},
        {.method = "GET", .path = "/api/targets/{id}/downloads/{job_id}", .fn = h, .role = DP_ROLE_OPERATOR},
        {.method = "GET", .path = "/", .fn = h, .role = DP_ROLE_PUBLIC},
        {.method = "GET", .path = "/metrics", .fn = h, .role = DP_ROLE_VIEWER, .flags = DP_ROUTE_OPT_PUBLIC},
        {0},
};

static struct dp_route_table *demo_table(int metrics_public)
{
	const struct dp_route *const slices[] = {demo, NULL};
	char *err = NULL;
	struct dp_route_table *t = dp_route_table_new(slices, metrics_public, &err);
	if (!t)
		fail_msg("table: %s", err);
	return t;
}

static int match(struct dp_route_table *t, const char *method, const char *path, struct dp_route_match *m,
                 char *scratch)
{
	return dp_route_match(t, method, path, strlen(path), m, scratch);
}

static void test_match_literal_and_params(void **state)
{
	(void)state;
	struct dp_route_table *t = demo_table(0);
	struct dp_route_match m;
	char scratch[256];
	assert_int_equal(match(t, "GET", "/api/targets", &m, scratch), 0);
	assert_ptr_equal(m.route, &demo[0]);
	assert_int_equal(m.nparams, 0);
	assert_int_equal(m.role, DP_ROLE_VIEWER);

	assert_int_equal(match(t, "POST", "/api/targets", &m, scratch), 0);
	assert_ptr_equal(m.route, &demo[1]);

	assert_int_equal(match(t, "GET", "/api/targets/42", &m, scratch), 0);
	assert_ptr_equal(m.route, &demo[2]);
	assert_int_equal(m.nparams, 1);
	assert_string_equal(m.names[0], "id");
	assert_string_equal(m.values[0], "42");

	/* a literal beats a parameter */
	assert_int_equal(match(t, "GET", "/api/targets/active", &m, scratch), 0);
	assert_ptr_equal(m.route, &demo[5]);
	/* ...but only for its own method */
	assert_int_equal(match(t, "DELETE", "/api/targets/active", &m, scratch), 0);
	assert_ptr_equal(m.route, &demo[4]);
	assert_string_equal(m.values[0], "active");

	assert_int_equal(match(t, "GET", "/api/targets/7/downloads/abc%20d", &m, scratch), 0);
	assert_ptr_equal(m.route, &demo[6]);
	assert_int_equal(m.nparams, 2);
	assert_string_equal(m.names[1], "job_id");
	assert_string_equal(m.values[0], "7");
	assert_string_equal(m.values[1], "abc d");

	/* an encoded slash stays inside its parameter */
	assert_int_equal(match(t, "GET", "/api/targets/a%2Fb", &m, scratch), 0);
	assert_ptr_equal(m.route, &demo[2]);
	assert_string_equal(m.values[0], "a/b");

	assert_int_equal(match(t, "GET", "/", &m, scratch), 0);
	assert_ptr_equal(m.route, &demo[7]);
	/* HEAD is served by GET routes */
	assert_int_equal(match(t, "HEAD", "/api/targets", &m, scratch), 0);
	assert_ptr_equal(m.route, &demo[0]);
	dp_route_table_free(t);
}

static void test_match_404_405(void **state)
{
	(void)state;
	struct dp_route_table *t = demo_table(0);
	struct dp_route_match m;
	char scratch[256];
	assert_int_equal(match(t, "GET", "/api/nothing", &m, scratch), 404);
	assert_int_equal(match(t, "GET", "/api/targets/", &m, scratch), 404); /* empty param */
	assert_int_equal(match(t, "GET", "/api/targets//x", &m, scratch), 404);
	assert_int_equal(match(t, "GET", "api/targets", &m, scratch), 404);
	assert_int_equal(match(t, "GET", "/api/targets/1/downloads", &m, scratch), 404);
	assert_int_equal(match(t, "GET", "/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q/r", &m, scratch), 404);
	assert_int_equal(dp_route_match(t, "GET", "/", 0, &m, scratch), 404);

	assert_int_equal(match(t, "PUT", "/api/targets", &m, scratch), 405);
	assert_string_equal(m.allow, "GET, HEAD, POST");
	assert_null(m.route);
	assert_int_equal(match(t, "POST", "/api/targets/9", &m, scratch), 405);
	assert_string_equal(m.allow, "GET, HEAD, PATCH, DELETE");
	assert_int_equal(match(t, "OPTIONS", "/api/targets", &m, scratch), 405);
	assert_int_equal(match(t, "BREW", "/metrics", &m, scratch), 405);
	assert_string_equal(m.allow, "GET, HEAD");

	/* a bad escape in a parameter */
	assert_int_equal(match(t, "GET", "/api/targets/%zz", &m, scratch), 400);
	assert_int_equal(match(t, "GET", "/api/targets/a%00b", &m, scratch), 400);
	dp_route_table_free(t);
}

static void test_metrics_public_flag(void **state)
{
	(void)state;
	struct dp_route_match m;
	char scratch[64];
	struct dp_route_table *t = demo_table(0);
	assert_int_equal(match(t, "GET", "/metrics", &m, scratch), 0);
	assert_int_equal(m.role, DP_ROLE_VIEWER);
	dp_route_table_free(t);
	t = demo_table(1);
	assert_int_equal(match(t, "GET", "/metrics", &m, scratch), 0);
	assert_int_equal(m.role, DP_ROLE_PUBLIC);
	/* the flag touches no other route */
	assert_int_equal(match(t, "GET", "/api/targets", &m, scratch), 0);
	assert_int_equal(m.role, DP_ROLE_VIEWER);
	dp_route_table_free(t);
}

static void test_check_rejects_unset_role(void **state)
{
	(void)state;
	char err[256];
	const struct dp_route no_role[] = {
	        {.method = "GET", .path = "/api/ok", .fn = h, .role = DP_ROLE_VIEWER},
	        {.method = "GET", .path = "/api/forgot", .fn = h},
	        {0},
	};
	assert_int_equal(dp_route_table_check(no_role, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "/api/forgot"));
	assert_non_null(strstr(err, "no role"));

	const struct dp_route *const slices[] = {demo, no_role, NULL};
	char *msg = NULL;
	assert_null(dp_route_table_new(slices, 0, &msg));
	assert_non_null(msg);
	assert_non_null(strstr(msg, "/api/forgot"));
	free(msg);
}

static void test_check_rejects_bad_routes(void **state)
{
	(void)state;
	char err[256];
	struct {
		struct dp_route r[2];
		const char *why;
	} bad[] = {
	        {{{.method = "GET", .path = "api/x", .fn = h, .role = DP_ROLE_VIEWER}, {0}}, "start with"},
	        {{{.method = "GET", .path = "/api//x", .fn = h, .role = DP_ROLE_VIEWER}, {0}}, "empty"},
	        {{{.method = "GET", .path = "/api/{ID}", .fn = h, .role = DP_ROLE_VIEWER}, {0}}, "parameter"},
	        {{{.method = "GET", .path = "/api/{id", .fn = h, .role = DP_ROLE_VIEWER}, {0}}, "param"},
	        {{{.method = "GET", .path = "/a/{a}/{b}/{c}/{d}/{e}", .fn = h, .role = DP_ROLE_VIEWER}, {0}},
	         "too many"},
	        {{{.method = "FETCH", .path = "/api/x", .fn = h, .role = DP_ROLE_VIEWER}, {0}}, "method"},
	        {{{.method = "HEAD", .path = "/api/x", .fn = h, .role = DP_ROLE_VIEWER}, {0}}, "method"},
	        {{{.method = "GET", .path = "/api/x", .role = DP_ROLE_VIEWER}, {0}}, "handler"},
	        {{{.method = "GET", .path = "/api/x", .fn = h, .role = 9}, {0}}, "role"},
	        {{{.method = "GET", .path = "/api/x?y", .fn = h, .role = DP_ROLE_VIEWER}, {0}}, "character"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_int_equal(dp_route_table_check(bad[i].r, err, sizeof(err)), -EINVAL);
		if (!strstr(err, bad[i].why))
			fail_msg("case %zu: '%s' lacks '%s'", i, err, bad[i].why);
	}
}

static void test_duplicates_rejected(void **state)
{
	(void)state;
	const struct dp_route a[] = {
	        {.method = "GET", .path = "/api/users/{id}", .fn = h, .role = DP_ROLE_ADMIN},
	        {0},
	};
	const struct dp_route b[] = {
	        {.method = "GET", .path = "/api/users/{name}", .fn = h, .role = DP_ROLE_VIEWER},
	        {0},
	};
	const struct dp_route *const slices[] = {a, b, NULL};
	char *msg = NULL;
	assert_null(dp_route_table_new(slices, 0, &msg));
	assert_non_null(strstr(msg, "duplicate"));
	free(msg);
	/* same path, other method: fine */
	const struct dp_route c[] = {
	        {.method = "DELETE", .path = "/api/users/{x}", .fn = h, .role = DP_ROLE_ADMIN},
	        {0},
	};
	const struct dp_route *const ok[] = {a, c, NULL};
	struct dp_route_table *t = dp_route_table_new(ok, 0, &msg);
	assert_non_null(t);
	dp_route_table_free(t);
}

/* Every real table: each route declares a role, no method+path twice
 * (dp_route_table_new checks both), and the sanity of the web UI
 * fallback. */
static void test_every_real_table(void **state)
{
	(void)state;
	size_t total = 0;
	for (size_t i = 0; dp_route_slices[i]; i++) {
		char err[256];
		assert_int_equal(dp_route_table_check(dp_route_slices[i], err, sizeof(err)), 0);
		for (const struct dp_route *r = dp_route_slices[i]; r->method || r->path || r->fn; r++) {
			assert_int_not_equal(r->role, DP_ROLE_UNSET);
			assert_true(r->role >= DP_ROLE_PUBLIC && r->role <= DP_ROLE_ADMIN);
			/* only a short list may be public */
			if (r->role == DP_ROLE_PUBLIC && strncmp(r->path, "/api/", 5) == 0 &&
			    strcmp(r->path, "/api/auth/login") != 0)
				fail_msg("unexpected public API route %s %s", r->method, r->path);
			total++;
		}
	}
	assert_true(total >= 2);
	for (int pub = 0; pub < 2; pub++) {
		char *msg = NULL;
		struct dp_route_table *t = dp_route_table_new(dp_route_slices, pub, &msg);
		if (!t)
			fail_msg("real table: %s", msg);
		assert_int_equal(dp_route_table_count(t), total + 1);
		/* the last entry is the web UI fallback, public */
		const struct dp_route *w = dp_route_table_at(t, total);
		assert_ptr_equal(w, &dp_webui_routes[0]);
		assert_int_equal(w->role, DP_ROLE_PUBLIC);
		struct dp_route_match m;
		char scratch[64];
		assert_int_equal(dp_route_match(t, "GET", "/healthz", 8, &m, scratch), 0);
		assert_int_equal(m.role, DP_ROLE_PUBLIC);
		assert_int_equal(dp_route_match(t, "GET", "/metrics", 8, &m, scratch), 0);
		assert_int_equal(m.role, pub ? DP_ROLE_PUBLIC : DP_ROLE_VIEWER);
		dp_route_table_free(t);
	}
}

static void test_parse_body(void **state)
{
	(void)state;
	json_t *j = NULL;
	char msg[256];
	assert_int_equal(dp_route_parse_body("{\"a\":1}", 7, &j, msg, sizeof(msg)), 0);
	assert_non_null(j);
	assert_int_equal(json_integer_value(json_object_get(j, "a")), 1);
	json_decref(j);

	const char *bad = "{\n  \"a\": 1,\n  \"b\": }";
	assert_int_equal(dp_route_parse_body(bad, strlen(bad), &j, msg, sizeof(msg)), -EINVAL);
	assert_null(j);
	assert_non_null(strstr(msg, "line 3"));
	assert_non_null(strstr(msg, "column"));

	assert_int_equal(dp_route_parse_body("[1,2]", 5, &j, msg, sizeof(msg)), -EINVAL);
	assert_non_null(strstr(msg, "object"));
	assert_int_equal(dp_route_parse_body("{\"a\":1,\"a\":2}", 13, &j, msg, sizeof(msg)), -EINVAL);
	assert_int_equal(dp_route_parse_body("{\"a\":\"\\u0000\"}", 14, &j, msg, sizeof(msg)), -EINVAL);
	assert_int_equal(dp_route_parse_body("{} x", 4, &j, msg, sizeof(msg)), -EINVAL);
	assert_int_equal(dp_route_parse_body("{\"a\":\"\xff\"}", 8, &j, msg, sizeof(msg)), -EINVAL);
}

static void test_roles_and_params(void **state)
{
	(void)state;
	assert_int_equal(dp_role_parse("viewer"), DP_ROLE_VIEWER);
	assert_int_equal(dp_role_parse("operator"), DP_ROLE_OPERATOR);
	assert_int_equal(dp_role_parse("admin"), DP_ROLE_ADMIN);
	assert_int_equal(dp_role_parse("public"), -1);
	assert_int_equal(dp_role_parse("Admin"), -1);
	assert_int_equal(dp_role_parse(NULL), -1);
	assert_string_equal(dp_role_name(DP_ROLE_ADMIN), "admin");
	assert_string_equal(dp_role_name(DP_ROLE_VIEWER), "viewer");
	assert_null(dp_role_name(DP_ROLE_UNSET));
	assert_null(dp_role_name(17));

	struct dp_ctx c;
	memset(&c, 0, sizeof(c));
	c.nparams = 2;
	c.param_names[0] = "id";
	c.param_values[0] = "123";
	c.param_names[1] = "job";
	c.param_values[1] = "x1";
	assert_string_equal(dp_ctx_param(&c, "job"), "x1");
	assert_null(dp_ctx_param(&c, "nope"));
	assert_int_equal(dp_ctx_param_id(&c, "id"), 123);
	assert_int_equal(dp_ctx_param_id(&c, "job"), -1);
	const char *badids[] = {"0", "-1", "+1", "01", " 1", "1 ", "12a", "", "9999999999999999999"};
	for (size_t i = 0; i < sizeof(badids) / sizeof(badids[0]); i++) {
		c.param_values[0] = badids[i];
		if (dp_ctx_param_id(&c, "id") != -1)
			fail_msg("'%s' accepted as an id", badids[i]);
	}
	c.param_values[0] = "999999999999999999";
	assert_int_equal(dp_ctx_param_id(&c, "id"), 999999999999999999LL);
}

static void test_metrics_render(void **state)
{
	(void)state;
	struct dp_route_table *t = demo_table(0);
	struct dp_metrics *m = dp_metrics_new(t);
	dp_metrics_observe(m, 2, 200, 300);
	dp_metrics_observe(m, 2, 200, 7000);
	dp_metrics_observe(m, 2, 404, 50);
	dp_metrics_observe(m, -1, 405, 10);
	dp_metrics_observe(m, 2, 799, 10); /* unknown status: "other" */
	struct dp_buf b;
	dp_buf_init(&b, 1 << 20);
	assert_int_equal(dp_metrics_render(m, NULL, &b), 0);
	const char *want[] = {
	        "daemonpulse_http_requests_total{method=\"GET\",route=\"/api/targets/{id}\",status=\"200\"} 2\n",
	        "daemonpulse_http_requests_total{method=\"GET\",route=\"/api/targets/{id}\",status=\"404\"} 1\n",
	        "daemonpulse_http_requests_total{method=\"GET\",route=\"/api/targets/{id}\",status=\"other\"} 1\n",
	        "daemonpulse_http_requests_total{method=\"\",route=\"unmatched\",status=\"405\"} 1\n",
	        "daemonpulse_http_request_duration_seconds_bucket{method=\"GET\",route=\"/api/targets/"
	        "{id}\",le=\"0.0005\"} 3\n",
	        "daemonpulse_http_request_duration_seconds_bucket{method=\"GET\",route=\"/api/targets/"
	        "{id}\",le=\"0.01\"} 4\n",
	        "daemonpulse_http_request_duration_seconds_bucket{method=\"GET\",route=\"/api/targets/"
	        "{id}\",le=\"+Inf\"} 4\n",
	        "daemonpulse_http_request_duration_seconds_count{method=\"GET\",route=\"/api/targets/{id}\"} 4\n",
	        "# TYPE daemonpulse_http_request_duration_seconds histogram\n",
	        "daemonpulse_build_info{version=",
	        "daemonpulse_sse_clients 0\n",
	        "daemonpulse_uptime_seconds ",
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		if (!strstr(b.data, want[i]))
			fail_msg("metrics lack: %s\n---\n%s", want[i], b.data);
	/* routes never hit are not listed */
	assert_null(strstr(b.data, "route=\"/api/targets/active\""));
	dp_buf_release(&b);
	dp_metrics_free(m);
	dp_route_table_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_match_literal_and_params), cmocka_unit_test(test_match_404_405),
	        cmocka_unit_test(test_metrics_public_flag),      cmocka_unit_test(test_check_rejects_unset_role),
	        cmocka_unit_test(test_check_rejects_bad_routes), cmocka_unit_test(test_duplicates_rejected),
	        cmocka_unit_test(test_every_real_table),         cmocka_unit_test(test_parse_body),
	        cmocka_unit_test(test_roles_and_params),         cmocka_unit_test(test_metrics_render),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
