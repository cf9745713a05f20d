/*
 * sim_load.c - load client for bench/sim.sh: keeps C connections to
 * llmster-sim open, each running streaming chat requests back to back
 * until R requests finished, and counts SSE events ("\n\n"-terminated
 * frames) across all streams. Prints one line:
 *   requests=N events=N seconds=S events_per_sec=X max_concurrent=C errors=E
 * Loopback only; bounded by R and a 120 s deadline. Single-threaded epoll.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct conn {
	int fd;
	size_t sent;
	char last;
	int active;
};

static char req[4096];
static size_t reqlen;
static struct sockaddr_in addr;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int open_conn(int ep, struct conn *c)
{
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (c->fd < 0)
		return -1;
	int one = 1;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(c->fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 && errno != EINPROGRESS) {
		close(c->fd);
		return -1;
	}
	c->sent = 0;
	c->last = 0;
	c->active = 1;
	struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
	return epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
}

int main(int argc, char **argv)
{
	if (argc < 6) {
		fprintf(stderr, "usage: sim_load PORT CONNS REQUESTS MODEL MAX_TOKENS\n");
		return 2;
	}
	int port = (int)strtol(argv[1], NULL, 10), nconn = (int)strtol(argv[2], NULL, 10);
	long total = strtol(argv[3], NULL, 10);
	const char *model = argv[4];
	int maxtok = (int)strtol(argv[5], NULL, 10);
	if (port <= 0 || nconn <= 0 || nconn > 20000 || total <= 0 || maxtok <= 0 || strlen(model) > 200)
		return 2;
	char body[512];
	int bl = snprintf(body, sizeof(body),
	                  "{\"model\":\"%s\",\"messages\":[{\"role\":\"user\",\"content\":\"Tell me about rivers.\"}],"
	                  "\"stream\":true,\"max_tokens\":%d}",
	                  model, maxtok);
	reqlen = (size_t)snprintf(
	        req, sizeof(req),
	        "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
	        "Content-Length: %d\r\nConnection: close\r\n\r\n%s",
	        bl, body);
	addr.sin_family = AF_INET;
	addr.sin_port = htons((uint16_t)port);
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int ep = epoll_create1(0);
	struct conn *cs = calloc((size_t)nconn, sizeof(*cs));
	long started = 0, done = 0, errors = 0;
	unsigned long long events = 0;
	int live = 0, maxlive = 0;
	double t0 = now(), deadline = t0 + 120;
	for (int i = 0; i < nconn && started < total; i++) {
		if (open_conn(ep, &cs[i]) == 0) {
			started++;
			live++;
		} else {
			errors++;
		}
	}
	maxlive = live;
	struct epoll_event evs[256];
	static char buf[65536];
	while (done + errors < total && now() < deadline && live > 0) {
		int n = epoll_wait(ep, evs, 256, 1000);
		for (int i = 0; i < n; i++) {
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
			int closed = 0;
			if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
				for (;;) {
					ssize_t r = read(c->fd, buf, sizeof(buf));
					if (r > 0) {
						for (ssize_t k = 0; k < r; k++) {
							if (buf[k] == '\n' && c->last == '\n')
								events++;
							c->last = buf[k];
						}
						continue;
					}
					if (r == 0 || (errno != EAGAIN && errno != EINTR))
						closed = 1;
					break;
				}
			}
			if (closed) {
				epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
				close(c->fd);
				c->active = 0;
				live--;
				done++;
				if (started < total) {
					if (open_conn(ep, c) == 0) {
						started++;
						live++;
					} else {
						errors++;
					}
				}
			}
		}
		if (live > maxlive)
			maxlive = live;
	}
	double dt = now() - t0;
	printf("requests=%ld events=%llu seconds=%.3f events_per_sec=%.0f max_concurrent=%d errors=%ld\n", done, events,
	       dt, events / dt, maxlive, errors + (total - done - errors));
	for (int i = 0; i < nconn; i++)
		if (cs[i].active)
			close(cs[i].fd);
	free(cs);
	close(ep);
	return done == total ? 0 : 1;
}
