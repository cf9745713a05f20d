/*
 * logs_clients.c - SSE viewers for bench/logs.sh: N connections to the
 * control plane's GET /api/targets/{id}/logs?source=server&backlog=0
 * (Bearer token, HTTP/1.0 so the body is the raw event stream). Waits until
 * every viewer got its `live` event and prints "ready"; then, from the
 * first bench line on, skips WARM seconds and measures for SECS seconds:
 * for every line received by every viewer, the lag between the fake lms
 * writing it (t_ns=... in the line, CLOCK_REALTIME) and its arrival here.
 * Prints (stdout, flushed):
 *   ready viewers=N
 *   result viewers=N closed=C lines=L lines_per_viewer_min=A max=B gaps=G
 *          rate_per_viewer=R lag_p50_ms=.. lag_p90_ms=.. lag_p99_ms=.. lag_max_ms=..
 * `gaps`: lines missing in a viewer's sequence (a dropped slow viewer or
 * lost lines); `closed`: viewers whose connection ended. Single-threaded
 * epoll, loopback only, bounded by a deadline.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define LINE_MAX_BYTES 65536

struct viewer {
	int fd;
	int live, closed;
	char *line;
	size_t len;
	unsigned long long last_seq, lines, gaps;
	int have_seq;
};

static unsigned long long now_ns(int clock)
{
	struct timespec ts;
	clock_gettime(clock, &ts);
	return (unsigned long long)ts.tv_sec * 1000000000ull + (unsigned long long)ts.tv_nsec;
}

static uint32_t *samples;
static size_t nsamples, capsamples;
static unsigned long long first_line_ns, warm_ns, measure_ns;

static void sample(uint32_t us)
{
	if (nsamples == capsamples) {
		capsamples = capsamples ? capsamples * 2 : 1u << 20;
		samples = realloc(samples, capsamples * sizeof(*samples));
		if (!samples)
			exit(2);
	}
	samples[nsamples++] = us;
}

static unsigned long long field(const char *s, size_t n, const char *key)
{
	const char *p = memmem(s, n, key, strlen(key));
	if (!p)
		return (unsigned long long)-1;
	return strtoull(p + strlen(key), NULL, 10);
}

static void on_line(struct viewer *v, const char *s, size_t n)
{
	if (n >= 11 && !memcmp(s, "event: live", 11)) {
		v->live = 1;
		return;
	}
	if (n < 6 || memcmp(s, "data: ", 6) != 0)
		return;
	unsigned long long now = now_ns(CLOCK_REALTIME);
	unsigned long long mono = now_ns(CLOCK_MONOTONIC);
	unsigned long long seq = field(s, n, "bench seq=");
	unsigned long long t = field(s, n, " t_ns=");
	if (seq == (unsigned long long)-1 || t == (unsigned long long)-1)
		return;
	if (!first_line_ns)
		first_line_ns = mono;
	if (v->have_seq && seq > v->last_seq + 1)
		v->gaps += seq - v->last_seq - 1;
	v->have_seq = 1;
	v->last_seq = seq;
	unsigned long long since = mono - first_line_ns;
	if (since >= warm_ns && since < warm_ns + measure_ns) {
		v->lines++;
		sample(now > t ? (uint32_t)((now - t) / 1000ull) : 0);
	}
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static double pct(double p)
{
	if (!nsamples)
		return -1;
	size_t i = (size_t)(p * (double)(nsamples - 1));
	return samples[i] / 1000.0;
}

int main(int argc, char **argv)
{
	if (argc != 7) {
		fprintf(stderr, "usage: logs_clients PORT N TOKEN TARGET_ID WARM_S SECS\n");
		return 2;
	}
	int port = (int)strtol(argv[1], NULL, 10), n = (int)strtol(argv[2], NULL, 10);
	const char *token = argv[3];
	long target = strtol(argv[4], NULL, 10);
	warm_ns = (unsigned long long)strtol(argv[5], NULL, 10) * 1000000000ull;
	measure_ns = (unsigned long long)strtol(argv[6], NULL, 10) * 1000000000ull;
	if (port <= 0 || n <= 0 || n > 10000)
		return 2;
	struct viewer *vs = calloc((size_t)n, sizeof(*vs));
	int ep = epoll_create1(0);
	char req[1024];
	int rl = snprintf(req, sizeof(req),
	                  "GET /api/targets/%ld/logs?source=server&backlog=0 HTTP/1.0\r\nHost: 127.0.0.1\r\n"
	                  "Authorization: Bearer %s\r\nAccept: text/event-stream\r\n\r\n",
	                  target, token);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	for (int i = 0; i < n; i++) {
		struct viewer *v = &vs[i];
		v->line = malloc(LINE_MAX_BYTES);
		v->fd = socket(AF_INET, SOCK_STREAM, 0);
		if (v->fd < 0 || connect(v->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			perror("connect");
			return 1;
		}
		if (write(v->fd, req, (size_t)rl) != rl) {
			perror("write");
			return 1;
		}
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = v};
		epoll_ctl(ep, EPOLL_CTL_ADD, v->fd, &ev);
	}
	int ready = 0;
	unsigned long long deadline = now_ns(CLOCK_MONOTONIC) + 120ull * 1000000000ull + warm_ns + measure_ns;
	char buf[65536];
	struct epoll_event evs[128];
	for (;;) {
		unsigned long long mono = now_ns(CLOCK_MONOTONIC);
		if (mono > deadline)
			break;
		if (first_line_ns && mono - first_line_ns > warm_ns + measure_ns + 500000000ull)
			break;
		int k = epoll_wait(ep, evs, 128, 100);
		for (int e = 0; e < k; e++) {
			struct viewer *v = evs[e].data.ptr;
			ssize_t r = read(v->fd, buf, sizeof(buf));
			if (r <= 0) {
				if (r < 0 && (errno == EINTR || errno == EAGAIN))
					continue;
				v->closed = 1;
				epoll_ctl(ep, EPOLL_CTL_DEL, v->fd, NULL);
				close(v->fd);
				continue;
			}
			/* whole lines straight from buf; only a partial line is copied */
			const char *p = buf, *end = buf + r;
			while (p < end) {
				const char *nl = memchr(p, '\n', (size_t)(end - p));
				size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
				if (v->len || !nl) {
					size_t room = LINE_MAX_BYTES - v->len;
					size_t c = n < room ? n : room;
					memcpy(v->line + v->len, p, c);
					v->len += c;
					if (nl) {
						on_line(v, v->line, v->len);
						v->len = 0;
					}
				} else {
					on_line(v, p, n);
				}
				p += n + (nl ? 1 : 0);
			}
		}
		if (!ready) {
			int all = 1;
			for (int i = 0; i < n && all; i++)
				all = vs[i].live;
			if (all) {
				ready = 1;
				printf("ready viewers=%d\n", n);
				fflush(stdout);
			}
		}
	}
	int closed = 0;
	unsigned long long total = 0, gaps = 0, mn = (unsigned long long)-1, mx = 0;
	for (int i = 0; i < n; i++) {
		closed += vs[i].closed;
		total += vs[i].lines;
		gaps += vs[i].gaps;
		if (vs[i].lines < mn)
			mn = vs[i].lines;
		if (vs[i].lines > mx)
			mx = vs[i].lines;
	}
	qsort(samples, nsamples, sizeof(*samples), cmp_u32);
	printf("result viewers=%d closed=%d lines=%llu lines_per_viewer_min=%llu max=%llu gaps=%llu "
	       "rate_per_viewer=%.0f lag_p50_ms=%.2f lag_p90_ms=%.2f lag_p99_ms=%.2f lag_max_ms=%.2f\n",
	       n, closed, total, mn, mx, gaps, (double)total / n / ((double)measure_ns / 1e9), pct(0.50), pct(0.90),
	       pct(0.99), nsamples ? samples[nsamples - 1] / 1000.0 : -1.0);
	fflush(stdout);
	return 0;
}
