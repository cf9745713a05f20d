/*
 * events_clients.c - SSE load client for bench/events.sh: holds N
 * connections to the control plane's GET /api/events (Bearer token), waits
 * until every one got its `snapshot`, reports the server's RSS before and
 * after, holds them for HOLD seconds (the script counts upstream polls
 * meanwhile), then SIGSTOPs the simulator and measures how long the
 * `health` change ("stalled") takes to reach every client (first and last
 * delivery), SIGCONTs it and measures the "running" change the same way.
 * Lines printed (stdout, flushed):
 *   rss_before_kib=N
 *   ready clients=N connect_seconds=S rss_after_kib=N
 *   stalled detect_ms=D first_ms=F last_ms=L spread_ms=L-F got=N
 *   running detect_ms=D first_ms=F last_ms=L spread_ms=L-F got=N
 * Loopback only; single-threaded epoll; bounded by a 300 s deadline.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define TAIL 48

struct conn {
	int fd;
	size_t sent;
	int ready;       /* snapshot seen */
	int phase_seen;  /* the current phase's pattern seen */
	char tail[TAIL]; /* last bytes, for patterns split across reads */
	size_t tlen;
};

static char req[1024];
static size_t reqlen;
static struct sockaddr_in addr;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static long rss_kib(pid_t pid)
{
	char p[64], line[256];
	snprintf(p, sizeof(p), "/proc/%d/status", (int)pid);
	FILE *f = fopen(p, "r");
	long v = -1;
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "VmRSS:", 6)) {
			v = strtol(line + 6, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

static int open_conn(int ep, struct conn *c)
{
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (c->fd < 0)
		return -1;
	if (connect(c->fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 && errno != EINPROGRESS) {
		close(c->fd);
		c->fd = -1;
		return -1;
	}
	struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
	return epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
}

/* Search pattern in tail + new bytes; keep the new tail. */
static int feed(struct conn *c, const char *buf, size_t n, const char *pat)
{
	static char scratch[TAIL + 65536];
	memcpy(scratch, c->tail, c->tlen);
	memcpy(scratch + c->tlen, buf, n);
	size_t L = c->tlen + n;
	int hit = pat && memmem(scratch, L, pat, strlen(pat)) != NULL;
	size_t keep = L < TAIL ? L : TAIL;
	memcpy(c->tail, scratch + L - keep, keep);
	c->tlen = keep;
	return hit;
}

int main(int argc, char **argv)
{
	if (argc < 7) {
		fprintf(stderr, "usage: events_clients PORT N TOKEN SERVER_PID SIM_PID HOLD_SECONDS\n");
		return 2;
	}
	int port = (int)strtol(argv[1], NULL, 10), n = (int)strtol(argv[2], NULL, 10);
	const char *token = argv[3];
	pid_t spid = (pid_t)strtol(argv[4], NULL, 10), simpid = (pid_t)strtol(argv[5], NULL, 10);
	int hold = (int)strtol(argv[6], NULL, 10);
	if (port <= 0 || n <= 0 || n > 60000 || strlen(token) > 200 || spid <= 0 || simpid <= 0 || hold < 0)
		return 2;
	reqlen = (size_t)snprintf(req, sizeof(req),
	                          "GET /api/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n"
	                          "Authorization: Bearer %s\r\n\r\n",
	                          token);
	addr.sin_family = AF_INET;
	addr.sin_port = htons((uint16_t)port);
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int ep = epoll_create1(0);
	struct conn *cs = calloc((size_t)n, sizeof(*cs));
	long before = rss_kib(spid);
	printf("rss_before_kib=%ld\n", before);
	fflush(stdout);
	double t0 = now(), deadline = t0 + 300;
	int opened = 0, ready = 0, errors = 0;
	/* phases: 0 connect, 1 hold, 2 wait stalled, 3 wait running */
	int phase = 0;
	const char *pat = "event: snapshot";
	double phase_t0 = 0, first = 0, last = 0, hold_end = 0;
	int got = 0;
	struct epoll_event evs[512];
	static char buf[65536];
	while (now() < deadline) {
		/* open in batches so the listen backlog is not overrun */
		while (opened < n && opened - ready < 512) {
			if (open_conn(ep, &cs[opened]) < 0)
				errors++;
			opened++;
		}
		int k = epoll_wait(ep, evs, 512, 100);
		for (int i = 0; i < k; i++) {
			struct conn *c = evs[i].data.ptr;
			if ((evs[i].events & EPOLLOUT) && c->sent < reqlen) {
				ssize_t w = write(c->fd, req + c->sent, reqlen - c->sent);
				if (w > 0)
					c->sent += (size_t)w;
				if (c->sent == reqlen) {
					struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
					epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
				}
			}
			if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
				for (;;) {
					ssize_t r = read(c->fd, buf, sizeof(buf));
					if (r > 0) {
						int hit = feed(c, buf, (size_t)r, pat);
						if (hit && phase == 0 && !c->ready) {
							c->ready = 1;
							ready++;
						} else if (hit && (phase == 2 || phase == 3) && !c->phase_seen) {
							c->phase_seen = 1;
							double t = now();
							if (!got)
								first = t;
							last = t;
							got++;
						}
						continue;
					}
					if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
						epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
						close(c->fd);
						c->fd = -1;
						errors++;
					}
					break;
				}
			}
		}
		if (phase == 0 && ready + errors >= n) {
			sleep(1); /* let the server settle before measuring memory */
			printf("ready clients=%d errors=%d connect_seconds=%.2f rss_after_kib=%ld\n", ready, errors,
			       now() - t0, rss_kib(spid));
			fflush(stdout);
			phase = 1;
			hold_end = now() + hold;
		} else if (phase == 1 && now() >= hold_end) {
			phase = 2;
			pat = "\"state\":\"stalled\"";
			got = 0;
			for (int i = 0; i < n; i++)
				cs[i].phase_seen = 0;
			phase_t0 = now();
			kill(simpid, SIGSTOP);
		} else if ((phase == 2 || phase == 3) && got >= ready) {
			printf("%s detect_ms=%.1f first_ms=%.1f last_ms=%.1f spread_ms=%.1f got=%d\n",
			       phase == 2 ? "stalled" : "running", (first - phase_t0) * 1000, (first - phase_t0) * 1000,
			       (last - phase_t0) * 1000, (last - first) * 1000, got);
			fflush(stdout);
			if (phase == 3)
				break;
			phase = 3;
			pat = "\"state\":\"running\"";
			got = 0;
			for (int i = 0; i < n; i++)
				cs[i].phase_seen = 0;
			phase_t0 = now();
			kill(simpid, SIGCONT);
		}
	}
	if (phase == 2)
		kill(simpid, SIGCONT);
	for (int i = 0; i < n; i++)
		if (cs[i].fd > 0)
			close(cs[i].fd);
	free(cs);
	close(ep);
	return phase == 3 && got >= ready ? 0 : 1;
}
