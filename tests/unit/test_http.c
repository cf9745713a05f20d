/*
 * test_http.c - lib/http: the head parser, URL decoding, and live
 * request/response round trips over loopback on a private event base
 * (keep-alive, pipelining, 413/431/411/400 JSON errors, Expect:
 * 100-continue, chunked streaming, slow-client drop, on_close, out of
 * descriptors).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <event2/event.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <time.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buf.h"
#include "http.h"

static int parse(const char *s, struct dp_http_head *h, int *status)
{
	static char buf[8192];
	size_t n = strlen(s);
	memcpy(buf, s, n + 1);
	const char *code;
	return dp_http_parse_head(buf, n, 64, h, status, &code);
}

static void test_parse_ok(void **state)
{
	(void)state;
	struct dp_http_head h;
	int st;
	assert_int_equal(parse("GET /a/b?x=1 HTTP/1.1\r\nHost: x\r\nX-Y:  z \r\n\r\n", &h, &st), 0);
	assert_string_equal(h.method, "GET");
	assert_string_equal(h.target, "/a/b?x=1");
	assert_int_equal(h.minor_version, 1);
	assert_int_equal(h.nheaders, 2);
	assert_string_equal(h.headers[1].value, "z");
	assert_int_equal(h.content_length, -1);
	assert_true(h.keep_alive);
	assert_int_equal(parse("POST / HTTP/1.0\nContent-Length: 12\n\n", &h, &st), 0);
	assert_int_equal(h.content_length, 12);
	assert_false(h.keep_alive);
	assert_int_equal(parse("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", &h, &st), 0);
	assert_false(h.keep_alive);
}

static void test_parse_bad(void **state)
{
	(void)state;
	struct dp_http_head h;
	int st;
	const char *bad[] = {
	        "GET\r\n\r\n",
	        "GET / HTTP/1.1\r\nHost: x\r\n folded: x\r\n\r\n",
	        "GET / HTTP/1.1\r\nHost: x\r\nNo colon\r\n\r\n",
	        "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
	        "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
	        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
	        "GET http://x/ HTTP/1.1\r\n\r\n",
	        "G(T / HTTP/1.1\r\n\r\n",
	        "GET /\x01 HTTP/1.1\r\n\r\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(parse(bad[i], &h, &st), -EINVAL);
		assert_int_equal(st, 400);
	}
	/* RFC 9112 section 3.2: HTTP/1.1 needs one Host; never two */
	const char *code;
	const char *hostless[] = {
	        "GET / HTTP/1.1\r\n\r\n",
	        "GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n",
	        "GET / HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n",
	};
	for (size_t i = 0; i < sizeof(hostless) / sizeof(hostless[0]); i++) {
		char buf[128];
		size_t n = strlen(hostless[i]);
		memcpy(buf, hostless[i], n + 1);
		assert_int_equal(dp_http_parse_head(buf, n, 64, &h, &st, &code), -EINVAL);
		assert_int_equal(st, 400);
		assert_string_equal(code, "bad_host");
	}
	assert_int_equal(parse("GET / HTTP/1.0\r\n\r\n", &h, &st), 0); /* 1.0 may leave it out */
	assert_int_equal(parse("GET / HTTP/2.0\r\n\r\n", &h, &st), -EINVAL);
	assert_int_equal(st, 505);
}

static void test_urldecode(void **state)
{
	(void)state;
	char out[64];
	assert_int_equal(dp_http_urldecode("a%20b+c", 7, out, 1), 0);
	assert_string_equal(out, "a b c");
	assert_int_equal(dp_http_urldecode("a+b", 3, out, 0), 0);
	assert_string_equal(out, "a+b");
	assert_int_equal(dp_http_urldecode("%zz", 3, out, 0), -EINVAL);
	assert_int_equal(dp_http_urldecode("%2", 2, out, 0), -EINVAL);
	assert_int_equal(dp_http_urldecode("%00", 3, out, 0), -EINVAL);
}

/* ------------------------------------------------------- live server */

struct live {
	struct event_base *base;
	struct dp_http_server *srv;
	int port;
	struct dp_http_req *held; /* a stream kept open by the handler */
	int closed;               /* on_close calls */
	int done;                 /* on_done calls */
};

static void on_close(struct dp_http_req *req, void *arg)
{
	struct live *l = arg;
	(void)req;
	l->closed++;
	l->held = NULL;
}

static void on_done(struct dp_http_req *req, int status, uint64_t bytes, uint64_t us, void *arg)
{
	struct live *l = arg;
	(void)req;
	(void)status;
	(void)bytes;
	(void)us;
	l->done++;
}

static void handler(struct dp_http_req *req, void *arg)
{
	struct live *l = arg;
	const char *p = dp_http_req_path(req);
	if (strcmp(p, "/echo") == 0) {
		size_t n;
		const char *b = dp_http_req_body(req, &n);
		dp_http_add_header(req, "X-Test", "1");
		dp_http_reply(req, 200, "text/plain", b, n);
	} else if (strcmp(p, "/q") == 0) {
		const char *v = dp_http_req_query_param(req, "name");
		dp_http_reply(req, 200, "text/plain", v ? v : "-", v ? strlen(v) : 1);
	} else if (strcmp(p, "/stream") == 0) {
		dp_http_stream_start(req, 200, "text/event-stream");
		dp_http_stream_write(req, "data: a\n\n", 9);
		dp_http_stream_write(req, "data: b\n\n", 9);
		dp_http_stream_end(req);
	} else if (strcmp(p, "/hold") == 0) {
		dp_http_stream_start(req, 200, "text/event-stream");
		dp_http_req_on_close(req, on_close, l);
		l->held = req;
	} else {
		dp_http_reply(req, 404, "text/plain", "nf", 2);
	}
}

static void live_setup(struct live *l, size_t max_queue)
{
	memset(l, 0, sizeof(*l));
	l->base = event_base_new();
	struct dp_http_config cfg;
	dp_http_config_defaults(&cfg);
	cfg.handler = handler;
	cfg.handler_arg = l;
	cfg.on_done = on_done;
	cfg.done_arg = l;
	cfg.max_body_bytes = 1024;
	if (max_queue)
		cfg.max_stream_queue = max_queue;
	l->srv = dp_http_server_new(l->base, &cfg);
	assert_int_equal(dp_http_server_listen(l->srv, "127.0.0.1", 0, &l->port), 0);
	assert_true(l->port > 0);
}

static void live_teardown(struct live *l)
{
	dp_http_server_free(l->srv);
	event_base_free(l->base);
}

static int client(struct live *l)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)l->port)};
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	fcntl(fd, F_SETFL, O_NONBLOCK);
	return fd;
}

/* Run the loop until `want` appears in what the client read (or EOF). */
static void pump(struct live *l, int fd, struct dp_buf *got, const char *want)
{
	for (int i = 0; i < 2000; i++) {
		event_base_loop(l->base, EVLOOP_NONBLOCK);
		char tmp[65536];
		ssize_t n = read(fd, tmp, sizeof(tmp));
		if (n > 0)
			dp_buf_add(got, tmp, (size_t)n);
		if (n == 0)
			return;
		if (want && strstr(got->data, want))
			return;
		usleep(500);
	}
}

static void send_all(int fd, const char *s, size_t n)
{
	while (n) {
		ssize_t w = write(fd, s, n);
		if (w < 0 && errno == EAGAIN) {
			usleep(100);
			continue;
		}
		assert_true(w > 0);
		s += w;
		n -= (size_t)w;
	}
}

static void test_live_keepalive_pipelining(void **state)
{
	(void)state;
	struct live l;
	live_setup(&l, 0);
	int fd = client(&l);
	struct dp_buf got;
	dp_buf_init(&got, 1 << 20);
	const char *req = "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhelloGET /q?name=a%20b "
	                  "HTTP/1.1\r\nHost: x\r\n\r\n";
	send_all(fd, req, strlen(req));
	pump(&l, fd, &got, "a b");
	assert_non_null(strstr(got.data, "HTTP/1.1 200 OK\r\n"));
	assert_non_null(strstr(got.data, "X-Test: 1\r\n"));
	assert_non_null(strstr(got.data, "Content-Length: 5\r\n"));
	assert_non_null(strstr(got.data, "\r\n\r\nhello"));
	assert_non_null(strstr(got.data, "a b"));
	assert_int_equal(l.done, 2);
	close(fd);
	dp_buf_release(&got);
	live_teardown(&l);
}

static void expect_error(const char *req, const char *status_line, const char *code)
{
	struct live l;
	live_setup(&l, 0);
	int fd = client(&l);
	struct dp_buf got;
	dp_buf_init(&got, 1 << 20);
	send_all(fd, req, strlen(req));
	pump(&l, fd, &got, NULL);
	assert_non_null(strstr(got.data, status_line));
	assert_non_null(strstr(got.data, "Content-Type: application/json"));
	assert_non_null(strstr(got.data, code));
	assert_non_null(strstr(got.data, "Connection: close"));
	close(fd);
	dp_buf_release(&got);
	live_teardown(&l);
}

static void test_live_errors(void **state)
{
	(void)state;
	expect_error("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 999999\r\n\r\n", "HTTP/1.1 413 ",
	             "\"payload_too_large\"");
	expect_error("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", "HTTP/1.1 411 ",
	             "\"length_required\"");
	expect_error("GARBAGE\r\n\r\n", "HTTP/1.1 400 ", "\"bad_request\"");
	expect_error("GET /%00 HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 400 ", "\"bad_request\"");
	expect_error("GET / HTTP/1.1\r\n\r\n", "HTTP/1.1 400 ", "exactly one Host header");
	static char big[20000];
	memset(big, 'a', sizeof(big) - 1);
	memcpy(big, "GET / HTTP/1.1\r\nX: ", 19);
	expect_error(big, "HTTP/1.1 431 ", "\"header_too_large\"");
}

/* A client that uploads before reading still gets the 413 JSON, not a reset. */
static void test_live_413_linger(void **state)
{
	(void)state;
	struct live l;
	live_setup(&l, 0);
	int fd = client(&l);
	struct dp_buf got;
	dp_buf_init(&got, 1 << 20);
	const char *h = "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 200000\r\n\r\n";
	send_all(fd, h, strlen(h));
	static char body[200000];
	memset(body, 'b', sizeof(body));
	size_t off = 0;
	for (int i = 0; i < 2000 && off < sizeof(body); i++) {
		ssize_t w = write(fd, body + off, sizeof(body) - off);
		if (w > 0)
			off += (size_t)w;
		event_base_loop(l.base, EVLOOP_NONBLOCK);
	}
	pump(&l, fd, &got, "\"payload_too_large\"");
	assert_non_null(strstr(got.data, "HTTP/1.1 413 "));
	assert_non_null(strstr(got.data, "\"payload_too_large\""));
	close(fd);
	dp_buf_release(&got);
	live_teardown(&l);
}

static void test_live_expect_continue(void **state)
{
	(void)state;
	struct live l;
	live_setup(&l, 0);
	int fd = client(&l);
	struct dp_buf got;
	dp_buf_init(&got, 1 << 20);
	const char *h = "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n";
	send_all(fd, h, strlen(h));
	pump(&l, fd, &got, "100 Continue\r\n\r\n");
	assert_non_null(strstr(got.data, "HTTP/1.1 100 Continue"));
	send_all(fd, "abc", 3);
	pump(&l, fd, &got, "abc");
	assert_non_null(strstr(got.data, "\r\n\r\nabc"));
	close(fd);
	dp_buf_release(&got);
	live_teardown(&l);
}

static void test_live_stream(void **state)
{
	(void)state;
	struct live l;
	live_setup(&l, 0);
	int fd = client(&l);
	struct dp_buf got;
	dp_buf_init(&got, 1 << 20);
	const char *r = "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n";
	send_all(fd, r, strlen(r));
	pump(&l, fd, &got, "0\r\n\r\n");
	assert_non_null(strstr(got.data, "Transfer-Encoding: chunked"));
	assert_non_null(strstr(got.data, "9\r\ndata: a\n\n\r\n9\r\ndata: b\n\n\r\n0\r\n\r\n"));
	close(fd);
	dp_buf_release(&got);
	live_teardown(&l);
}

static void test_live_disconnect_and_slow_client(void **state)
{
	(void)state;
	struct live l;
	/* disconnect: on_close runs once, from the loop */
	live_setup(&l, 0);
	int fd = client(&l);
	struct dp_buf got;
	dp_buf_init(&got, 1 << 20);
	send_all(fd, "GET /hold HTTP/1.1\r\nHost: x\r\n\r\n", 31);
	pump(&l, fd, &got, "chunked\r\n\r\n");
	assert_non_null(l.held);
	close(fd);
	for (int i = 0; i < 200 && l.closed == 0; i++) {
		event_base_loop(l.base, EVLOOP_NONBLOCK);
		usleep(1000);
	}
	assert_int_equal(l.closed, 1);
	live_teardown(&l);

	/* a reader that never reads is dropped once the queue passes the cap */
	live_setup(&l, 64 * 1024);
	fd = client(&l);
	int small = 4096;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	send_all(fd, "GET /hold HTTP/1.1\r\nHost: x\r\n\r\n", 31);
	for (int i = 0; i < 200 && !l.held; i++) {
		event_base_loop(l.base, EVLOOP_NONBLOCK);
		usleep(1000);
	}
	assert_non_null(l.held);
	static char chunk[8192];
	memset(chunk, 'x', sizeof(chunk));
	int rc = 0;
	for (int i = 0; i < 10000 && rc == 0; i++) {
		rc = dp_http_stream_write(l.held, chunk, sizeof(chunk));
		event_base_loop(l.base, EVLOOP_NONBLOCK);
	}
	assert_int_equal(rc, -ENOBUFS);
	for (int i = 0; i < 200 && l.closed == 0; i++) {
		event_base_loop(l.base, EVLOOP_NONBLOCK);
		usleep(1000);
	}
	assert_int_equal(l.closed, 1);
	close(fd);
	dp_buf_release(&got);
	live_teardown(&l);
}

/* Out of descriptors: accept() fails with EMFILE while the connection waits
 * in the backlog, so the listening socket stays readable. The server must
 * pause accepting instead of spinning, and serve the client once
 * descriptors are free again. */
static void test_live_out_of_descriptors(void **state)
{
	(void)state;
	struct live l;
	live_setup(&l, 0);
	struct rlimit old;
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
	int fd = client(&l); /* connected: waiting in the backlog */
	static int fill[4096];
	int nfill = 0;
	struct rlimit low = {(rlim_t)fd + 16, old.rlim_max};
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	for (;;) {
		int d = dup(fd);
		if (d < 0) {
			assert_int_equal(errno, EMFILE);
			break;
		}
		assert_true(nfill < 4096);
		fill[nfill++] = d;
	}
	/* spinning would turn the loop hundreds of times in 300 ms; a pause
	 * of 100 ms at a time lets it turn a few times */
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int turns = 0;
	do {
		event_base_loop(l.base, EVLOOP_ONCE);
		turns++;
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 < 300 && turns < 1000);
	assert_in_range(turns, 1, 20);

	for (int i = 0; i < nfill; i++)
		close(fill[i]);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
	struct dp_buf got;
	dp_buf_init(&got, 1 << 20);
	const char *req = "GET /q?name=back HTTP/1.1\r\nHost: x\r\n\r\n";
	send_all(fd, req, strlen(req));
	pump(&l, fd, &got, "back");
	assert_non_null(strstr(got.data, "HTTP/1.1 200 OK\r\n"));
	close(fd);
	dp_buf_release(&got);
	live_teardown(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_parse_ok),
	        cmocka_unit_test(test_parse_bad),
	        cmocka_unit_test(test_urldecode),
	        cmocka_unit_test(test_live_keepalive_pipelining),
	        cmocka_unit_test(test_live_errors),
	        cmocka_unit_test(test_live_413_linger),
	        cmocka_unit_test(test_live_expect_continue),
	        cmocka_unit_test(test_live_stream),
	        cmocka_unit_test(test_live_disconnect_and_slow_client),
	        cmocka_unit_test(test_live_out_of_descriptors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
