/*
 * test_sse.c - the SSE writer (src/sse.c): event framing, and live streams
 * over loopback on an in-process dp_http server: headers, hub fan-out,
 * disconnect detection, dropping a client that does not read, and ending
 * every stream at shutdown.
 */
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "api.h"
#include "buf.h"
#include "http.h"
#include "server.h"
#include "sse.h"

/* ------------------------------------------------------------- framing */

static void fmt_is(const char *id, const char *event, const char *data, const char *want)
{
	struct dp_buf b;
	dp_buf_init(&b, 1 << 16);
	assert_int_equal(dp_sse_format(&b, id, event, data, strlen(data)), 0);
	assert_string_equal(b.data, want);
	dp_buf_release(&b);
}

static void test_format(void **state)
{
	(void)state;
	fmt_is(NULL, NULL, "hello", "data: hello\n\n");
	fmt_is("7", "tick", "x", "id: 7\nevent: tick\ndata: x\n\n");
	fmt_is(NULL, NULL, "", "data: \n\n");
	fmt_is(NULL, "m", "a\nb\nc", "event: m\ndata: a\ndata: b\ndata: c\n\n");
	fmt_is(NULL, NULL, "a\r\nb\rc", "data: a\ndata: b\ndata: c\n\n");
	/* a trailing newline survives the client's reassembly */
	fmt_is(NULL, NULL, "a\n", "data: a\ndata: \n\n");
	fmt_is(NULL, NULL, "\n\n", "data: \ndata: \ndata: \n\n");
	/* an injected blank line cannot end the event early */
	fmt_is(NULL, NULL, "x\n\nevent: evil", "data: x\ndata: \ndata: event: evil\n\n");

	struct dp_buf b;
	dp_buf_init(&b, 1 << 16);
	assert_int_equal(dp_sse_format(&b, "1\n2", NULL, "x", 1), -EINVAL);
	assert_int_equal(dp_sse_format(&b, NULL, "e\rv", "x", 1), -EINVAL);
	dp_buf_release(&b);
	/* bounded */
	dp_buf_init(&b, 64);
	char big[200];
	memset(big, 'a', sizeof(big));
	assert_int_equal(dp_sse_format(&b, NULL, NULL, big, sizeof(big)), -EMSGSIZE);
	dp_buf_release(&b);
}

/* ------------------------------------------------------------- live */

struct fixture {
	struct dp_server srv;
	struct dp_sse_hub hub;
	int port;
	int closed_cbs; /* owner on_close calls */
	int empty_cbs;  /* hub on_empty calls */
	int started;
};

static void owner_closed(struct dp_sse *s, void *arg)
{
	(void)s;
	((struct fixture *)arg)->closed_cbs++;
}

static void hub_empty(struct dp_sse_hub *h, void *arg)
{
	(void)h;
	((struct fixture *)arg)->empty_cbs++;
}

/* What route.c does for every request, reduced to what sse.c needs. */
static void ctx_closed(struct dp_http_req *req, void *arg)
{
	(void)req;
	struct dp_ctx *c = arg;
	if (c->on_abort)
		c->on_abort(c, c->abort_arg);
}

static void handler(struct dp_http_req *req, void *arg)
{
	struct fixture *f = arg;
	struct dp_ctx *c = dp_http_req_alloc(req, sizeof(*c));
	c->srv = &f->srv;
	c->req = req;
	dp_http_req_on_close(req, ctx_closed, c);
	struct dp_sse *s = dp_sse_start(c, 50);
	assert_non_null(s);
	assert_ptr_equal(dp_sse_ctx(s), c);
	dp_sse_set_on_close(s, owner_closed, f);
	dp_sse_hub_add(&f->hub, s);
	f->started++;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	f->srv.base = event_base_new();
	dp_sse_registry_init(&f->srv.sse);
	dp_sse_hub_init(&f->hub);
	f->hub.on_empty = hub_empty;
	f->hub.empty_arg = f;
	struct dp_http_config hc;
	dp_http_config_defaults(&hc);
	hc.handler = handler;
	hc.handler_arg = f;
	hc.max_stream_queue = 64 * 1024;
	f->srv.http = dp_http_server_new(f->srv.base, &hc);
	assert_int_equal(dp_http_server_listen(f->srv.http, "127.0.0.1", 0, &f->port), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	dp_http_server_free(f->srv.http);
	event_base_free(f->srv.base);
	free(f);
	return 0;
}

static int connect_client(int port, int rcvbuf)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	if (rcvbuf)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	const char *rq = "GET /events HTTP/1.1\r\nHost: x\r\n\r\n";
	assert_int_equal(write(fd, rq, strlen(rq)), (ssize_t)strlen(rq));
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	return fd;
}

/* Turn the loop a few times and collect what the client received. */
static void pump(struct fixture *f, int fd, struct dp_buf *got, int rounds)
{
	for (int i = 0; i < rounds; i++) {
		event_base_loop(f->srv.base, EVLOOP_NONBLOCK);
		char tmp[4096];
		ssize_t n;
		while (fd >= 0 && (n = read(fd, tmp, sizeof(tmp))) > 0)
			dp_buf_add(got, tmp, (size_t)n);
		usleep(2000);
	}
}

static void test_stream_headers_and_fanout(void **state)
{
	struct fixture *f = *state;
	int a = connect_client(f->port, 0), b = connect_client(f->port, 0);
	struct dp_buf ga, gb;
	dp_buf_init(&ga, 1 << 20);
	dp_buf_init(&gb, 1 << 20);
	for (int i = 0; i < 200 && f->started < 2; i++)
		pump(f, a, &ga, 1);
	assert_int_equal(f->started, 2);
	assert_int_equal(f->hub.n, 2);
	assert_int_equal(f->srv.sse.open, 2);
	assert_int_equal(dp_sse_hub_broadcast(&f->hub, "tick", "one\ntwo", 7), 2);
	pump(f, a, &ga, 5);
	pump(f, b, &gb, 5);
	const struct dp_buf *both[] = {&ga, &gb};
	for (int k = 0; k < 2; k++) {
		const char *t = both[k]->data;
		assert_non_null(strstr(t, "HTTP/1.1 200"));
		assert_non_null(strcasestr(t, "Content-Type: text/event-stream"));
		assert_non_null(strcasestr(t, "Cache-Control: no-cache"));
		assert_non_null(strcasestr(t, "X-Accel-Buffering: no"));
		assert_non_null(strstr(t, "id: 1\nevent: tick\ndata: one\ndata: two\n\n"));
	}
	/* heartbeats arrive on their own (50 ms here) */
	dp_buf_reset(&ga);
	for (int i = 0; i < 100 && !strstr(ga.data, ": keepalive\n\n"); i++)
		pump(f, a, &ga, 1);
	assert_non_null(strstr(ga.data, ": keepalive\n\n"));

	/* client a leaves: detected, unlinked, owner told */
	close(a);
	for (int i = 0; i < 200 && f->srv.sse.open > 1; i++)
		pump(f, b, &gb, 1);
	assert_int_equal(f->srv.sse.open, 1);
	assert_int_equal(f->hub.n, 1);
	assert_int_equal(f->closed_cbs, 1);
	assert_int_equal(f->empty_cbs, 0);
	assert_int_equal(dp_sse_hub_broadcast(&f->hub, NULL, "x", 1), 1);

	/* shutdown ends the rest with a terminating chunk */
	dp_sse_registry_close_all(&f->srv.sse);
	assert_int_equal(f->srv.sse.open, 0);
	assert_int_equal(f->hub.n, 0);
	assert_int_equal(f->closed_cbs, 2);
	assert_int_equal(f->empty_cbs, 1);
	dp_buf_reset(&gb);
	pump(f, b, &gb, 5);
	assert_non_null(strstr(gb.data, "0\r\n\r\n"));
	assert_int_equal(f->srv.sse.dropped, 0);
	close(b);
	pump(f, -1, &gb, 3);
	dp_buf_release(&ga);
	dp_buf_release(&gb);
}

static void test_slow_client_dropped(void **state)
{
	struct fixture *f = *state;
	int fd = connect_client(f->port, 4096);
	struct dp_buf got;
	dp_buf_init(&got, 1 << 20);
	for (int i = 0; i < 200 && f->started < 1; i++)
		pump(f, fd, &got, 1);
	assert_int_equal(f->srv.sse.open, 1);
	/* the client stops reading; the producer keeps going */
	char ev[1024];
	memset(ev, 'z', sizeof(ev));
	size_t delivered = 0;
	for (int i = 0; i < 4000 && f->srv.sse.dropped == 0; i++) {
		delivered += dp_sse_hub_broadcast(&f->hub, "big", ev, sizeof(ev));
		event_base_loop(f->srv.base, EVLOOP_NONBLOCK);
	}
	assert_int_equal(f->srv.sse.dropped, 1);
	assert_true(delivered < 4000);
	/* later writes fail fast, nothing is queued */
	assert_int_equal(dp_sse_hub_broadcast(&f->hub, "big", ev, sizeof(ev)), 0);
	for (int i = 0; i < 200 && f->srv.sse.open; i++)
		pump(f, -1, &got, 1);
	assert_int_equal(f->srv.sse.open, 0);
	assert_int_equal(f->closed_cbs, 1);
	assert_int_equal(f->empty_cbs, 1);
	close(fd);
	dp_buf_release(&got);
}

static void test_owner_ends_stream(void **state)
{
	struct fixture *f = *state;
	int fd = connect_client(f->port, 0);
	struct dp_buf got;
	dp_buf_init(&got, 1 << 20);
	for (int i = 0; i < 200 && f->started < 1; i++)
		pump(f, fd, &got, 1);
	struct dp_sse *s = f->hub.head;
	assert_non_null(s);
	assert_int_equal(dp_sse_send(s, "a", "b", "c", 1), 0);
	assert_int_equal(dp_sse_send(s, "bad\nid", NULL, "c", 1), -EINVAL);
	assert_int_equal(dp_sse_comment(s, "hi"), 0);
	json_t *j = json_pack("{s:i}", "n", 5);
	assert_int_equal(dp_sse_send_json(s, NULL, "j", j), 0);
	json_decref(j);
	dp_sse_end(s);
	assert_int_equal(f->closed_cbs, 1);
	assert_int_equal(f->srv.sse.open, 0);
	pump(f, fd, &got, 5);
	assert_non_null(strstr(got.data, "id: a\nevent: b\ndata: c\n\n"));
	assert_non_null(strstr(got.data, ": hi\n\n"));
	assert_non_null(strstr(got.data, "event: j\ndata: {\"n\":5}\n\n"));
	assert_non_null(strstr(got.data, "0\r\n\r\n"));
	close(fd);
	pump(f, -1, &got, 3);
	dp_buf_release(&got);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_format),
	        cmocka_unit_test_setup_teardown(test_stream_headers_and_fanout, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_slow_client_dropped, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_owner_ends_stream, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
