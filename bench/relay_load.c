/*
 * relay_load.c - load client and stamping origin for bench/relay.sh.
 *
 *   relay_load origin [N_EVENTS] [INTERVAL_US]
 *       An LM Studio v1-shaped SSE origin on 127.0.0.1:<ephemeral> (prints
 *       "listening on http://127.0.0.1:PORT" on stderr). Every POST gets
 *       `chat.start`, N `message.delta` events whose content is
 *       "t=<CLOCK_MONOTONIC ns>" taken right before the write, one chunk per
 *       event, INTERVAL_US apart, then `chat.end`. One thread per connection.
 *
 *   relay_load get URL BODYFILE CONNS REQUESTS [HEADER]...
 *       REQUESTS POSTs of BODYFILE over CONNS concurrent connections (one
 *       request per connection, Connection: close); de-chunks, splits SSE
 *       events, counts them, and for events carrying "t=<ns>" records
 *       receive time - t (same host, same clock). Prints one line:
 *       `events N secs S events_per_s E lat_p50_us A lat_p99_us B lat_n K errors X`.
 *
 * A benchmark tool, not part of the product: plain POSIX, poll(), no TLS.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* ------------------------------------------------------------ origin */

static long o_events = 1000, o_interval_us = 0;

static int chunk(int fd, const char *p, size_t n)
{
	char h[32];
	int hl = snprintf(h, sizeof(h), "%zx\r\n", n);
	char buf[1024];
	if (n + (size_t)hl + 2 > sizeof(buf))
		return -1;
	memcpy(buf, h, (size_t)hl);
	memcpy(buf + hl, p, n);
	memcpy(buf + hl + n, "\r\n", 2);
	return write_all(fd, buf, (size_t)hl + n + 2);
}

static void *serve(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char req[65536];
	size_t got = 0;
	long clen = -1;
	char *hend = NULL;
	for (;;) {
		ssize_t r = read(fd, req + got, sizeof(req) - 1 - got);
		if (r <= 0)
			goto out;
		got += (size_t)r;
		req[got] = '\0';
		if (!hend && (hend = strstr(req, "\r\n\r\n"))) {
			char *cl = strcasestr(req, "content-length:");
			clen = cl ? strtol(cl + 15, NULL, 10) : 0;
		}
		if (hend && (long)(got - (size_t)(hend + 4 - req)) >= clen)
			break;
		if (got >= sizeof(req) - 1)
			goto out;
	}
	static const char head[] = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
	                           "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
	if (write_all(fd, head, sizeof(head) - 1) < 0)
		goto out;
	static const char start[] =
	        "event: chat.start\ndata: {\"type\":\"chat.start\",\"model_instance_id\":\"stamp\"}\n\n";
	if (chunk(fd, start, sizeof(start) - 1) < 0)
		goto out;
	for (long i = 0; i < o_events; i++) {
		if (o_interval_us > 0) {
			struct timespec ts = {o_interval_us / 1000000, (o_interval_us % 1000000) * 1000};
			nanosleep(&ts, NULL);
		}
		char ev[256];
		int n = snprintf(ev, sizeof(ev),
		                 "event: message.delta\ndata: {\"type\":\"message.delta\",\"content\":\"t=%llu\"}\n\n",
		                 (unsigned long long)now_ns());
		if (chunk(fd, ev, (size_t)n) < 0)
			goto out;
	}
	static const char end[] = "event: chat.end\ndata: {\"type\":\"chat.end\",\"result\":{\"stats\":{}}}\n\n";
	if (chunk(fd, end, sizeof(end) - 1) == 0)
		write_all(fd, "0\r\n\r\n", 5);
out:
	close(fd);
	return NULL;
}

static int origin(void)
{
	int ls = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	if (bind(ls, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(ls, 512) < 0 ||
	    getsockname(ls, (struct sockaddr *)&a, &al) < 0) {
		perror("origin");
		return 1;
	}
	fprintf(stderr, "listening on http://127.0.0.1:%d\n", ntohs(a.sin_port));
	for (;;) {
		int fd = accept(ls, NULL, NULL);
		if (fd < 0)
			continue;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		pthread_t t;
		pthread_attr_t at;
		pthread_attr_init(&at);
		pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
		if (pthread_create(&t, &at, serve, (void *)(intptr_t)fd) != 0)
			close(fd);
		pthread_attr_destroy(&at);
	}
}

/* ------------------------------------------------------------ client */

struct conn {
	int fd;
	int state; /* 0 free, 1 sending, 2 head, 3 chunk size, 4 chunk data, 5 chunk crlf, 6 body (not chunked) */
	size_t sent;
	char *in; /* unparsed raw bytes */
	size_t inlen, incap;
	long chunk_left;
	char *ev; /* de-chunked SSE bytes not yet split */
	size_t evlen, evcap;
	int status;
};

static const char *c_req;
static size_t c_reqlen;
static uint64_t events, lat_n, errors;
static uint32_t *lat; /* microseconds */
static size_t lat_cap;

static void grow(char **p, size_t *cap, size_t need)
{
	if (need <= *cap)
		return;
	size_t c = *cap ? *cap : 4096;
	while (c < need)
		c *= 2;
	*p = realloc(*p, c);
	if (!*p)
		abort();
	*cap = c;
}

static void sse_bytes(struct conn *c, const char *p, size_t n, uint64_t t)
{
	grow(&c->ev, &c->evcap, c->evlen + n + 1);
	memcpy(c->ev + c->evlen, p, n);
	c->evlen += n;
	size_t start = 0;
	for (;;) {
		char *e = memmem(c->ev + start, c->evlen - start, "\n\n", 2);
		if (!e)
			break;
		size_t elen = (size_t)(e - (c->ev + start));
		const char *b = c->ev + start;
		if (elen && b[0] != ':') {
			events++;
			const char *s = memmem(b, elen, "t=", 2);
			if (s) {
				unsigned long long v = strtoull(s + 2, NULL, 10);
				if (v && t > v) {
					if (lat_n == lat_cap) {
						lat_cap = lat_cap ? lat_cap * 2 : 65536;
						lat = realloc(lat, lat_cap * sizeof(*lat));
						if (!lat)
							abort();
					}
					lat[lat_n++] = (uint32_t)((t - v) / 1000);
				}
			}
		}
		start += elen + 2;
	}
	memmove(c->ev, c->ev + start, c->evlen - start);
	c->evlen -= start;
}

/* Consume raw response bytes; -1 on a protocol error. */
static int feed(struct conn *c, uint64_t t)
{
	size_t i = 0;
	while (i < c->inlen) {
		char *p = c->in + i;
		size_t n = c->inlen - i;
		if (c->state == 2) {
			char *e = memmem(p, n, "\r\n\r\n", 4);
			if (!e)
				break;
			c->status = (int)strtol(p + 9, NULL, 10);
			*e = '\0';
			c->state = strcasestr(p, "transfer-encoding: chunked") ? 3 : 6;
			i += (size_t)(e - p) + 4;
		} else if (c->state == 3) {
			char *e = memmem(p, n, "\r\n", 2);
			if (!e)
				break;
			c->chunk_left = strtol(p, NULL, 16);
			i += (size_t)(e - p) + 2;
			c->state = c->chunk_left ? 4 : 7;
		} else if (c->state == 4) {
			size_t take = n < (size_t)c->chunk_left ? n : (size_t)c->chunk_left;
			sse_bytes(c, p, take, t);
			c->chunk_left -= (long)take;
			i += take;
			if (!c->chunk_left)
				c->state = 5;
		} else if (c->state == 5) {
			if (n < 2)
				break;
			i += 2;
			c->state = 3;
		} else if (c->state == 6) {
			sse_bytes(c, p, n, t);
			i += n;
		} else {
			i = c->inlen;
		}
	}
	memmove(c->in, c->in + i, c->inlen - i);
	c->inlen -= i;
	return 0;
}

static int open_conn(struct sockaddr_in *a)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)a, sizeof(*a)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static int get(int argc, char **argv)
{
	const char *url = argv[2];
	int conns = (int)strtol(argv[4], NULL, 10), requests = (int)strtol(argv[5], NULL, 10);
	int port = 0;
	char host[64], path[512];
	/* http://IPV4:PORT/path */
	const char *h = strncmp(url, "http://", 7) == 0 ? url + 7 : NULL;
	const char *colon = h ? strchr(h, ':') : NULL;
	char *end = NULL;
	if (colon)
		port = (int)strtol(colon + 1, &end, 10);
	if (!colon || (size_t)(colon - h) >= sizeof(host) || !end || *end != '/' || strlen(end) >= sizeof(path) ||
	    conns < 1 || requests < 1) {
		fprintf(stderr, "bad arguments (url %s)\n", url);
		return 2;
	}
	memcpy(host, h, (size_t)(colon - h));
	host[colon - h] = '\0';
	memcpy(path, end, strlen(end) + 1);
	FILE *f = fopen(argv[3], "rb");
	if (!f) {
		perror(argv[3]);
		return 2;
	}
	static char body[1 << 16];
	size_t blen = fread(body, 1, sizeof(body), f);
	fclose(f);
	static char req[1 << 17];
	int n = snprintf(req, sizeof(req),
	                 "POST %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/json\r\n"
	                 "Accept: text/event-stream\r\nConnection: close\r\nContent-Length: %zu\r\n",
	                 path, host, port, blen);
	for (int i = 6; i < argc; i++)
		n += snprintf(req + n, sizeof(req) - (size_t)n, "%s\r\n", argv[i]);
	n += snprintf(req + n, sizeof(req) - (size_t)n, "\r\n");
	memcpy(req + n, body, blen);
	c_req = req;
	c_reqlen = (size_t)n + blen;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	inet_pton(AF_INET, host, &a.sin_addr);

	struct conn *cs = calloc((size_t)conns, sizeof(*cs));
	struct pollfd *pf = calloc((size_t)conns, sizeof(*pf));
	int started = 0, done = 0;
	uint64_t t0 = now_ns();
	while (done < requests) {
		for (int i = 0; i < conns; i++) {
			if (cs[i].state == 0 && started < requests) {
				cs[i].fd = open_conn(&a);
				if (cs[i].fd < 0) {
					errors++;
					done++;
					started++;
					continue;
				}
				cs[i].state = 1;
				cs[i].sent = 0;
				cs[i].inlen = cs[i].evlen = 0;
				started++;
			}
			pf[i].fd = cs[i].state ? cs[i].fd : -1;
			pf[i].events = cs[i].state == 1 ? POLLOUT : POLLIN;
		}
		if (poll(pf, (nfds_t)conns, 30000) <= 0) {
			fprintf(stderr, "timeout\n");
			errors++;
			break;
		}
		for (int i = 0; i < conns; i++) {
			struct conn *c = &cs[i];
			if (!c->state || !pf[i].revents)
				continue;
			if (c->state == 1) {
				ssize_t w = write(c->fd, c_req + c->sent, c_reqlen - c->sent);
				if (w > 0 && (c->sent += (size_t)w) == c_reqlen)
					c->state = 2;
				continue;
			}
			grow(&c->in, &c->incap, c->inlen + 65536);
			ssize_t r = read(c->fd, c->in + c->inlen, 65536);
			uint64_t t = now_ns();
			if (r > 0) {
				c->inlen += (size_t)r;
				feed(c, t);
				continue;
			}
			if (c->status != 200 || (c->state != 7 && c->state != 6))
				errors++;
			close(c->fd);
			c->state = 0;
			c->status = 0;
			done++;
		}
	}
	double secs = (double)(now_ns() - t0) / 1e9;
	qsort(lat, lat_n, sizeof(*lat), cmp_u32);
	double p50 = lat_n ? (double)lat[lat_n / 2] : -1.0,
	       p99 = lat_n ? (double)lat[(size_t)((double)lat_n * 0.99)] : -1.0;
	printf("events %llu secs %.3f events_per_s %.0f lat_p50_us %.0f lat_p99_us %.0f lat_n %llu errors %llu\n",
	       (unsigned long long)events, secs, (double)events / secs, p50, p99, (unsigned long long)lat_n,
	       (unsigned long long)errors);
	return errors ? 1 : 0;
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	if (argc >= 2 && !strcmp(argv[1], "origin")) {
		if (argc > 2)
			o_events = strtol(argv[2], NULL, 10);
		if (argc > 3)
			o_interval_us = strtol(argv[3], NULL, 10);
		return origin();
	}
	if (argc >= 6 && !strcmp(argv[1], "get"))
		return get(argc, argv);
	fprintf(stderr, "usage: relay_load origin [N] [INTERVAL_US] | get URL BODYFILE CONNS REQUESTS [HEADER]...\n");
	return 2;
}
