/*
 * fake_lms.c - a stand-in for `lms log stream --source S --json` that
 * prints timestamped DiagnosticsLogEvent lines at a set rate, for
 * bench/logs.sh (used through LMS_BIN). Only the `server` source emits;
 * the other sources stay silent (as a quiet daemon would).
 *
 *   FAKE_LMS_RATE=5000      lines per second
 *   FAKE_LMS_GO=/path       wait until this file exists before emitting
 *   FAKE_LMS_PAD=120        bytes of padding in each message
 *   FAKE_LMS_CPU=1          pin to this CPU (-1: no pinning)
 *
 * Each line's content carries `seq=N t_ns=T` (T = CLOCK_REALTIME in ns
 * when the line was written) so the client can measure lag child ->
 * viewer. Paced in 1 ms steps, written with write(2) (no stdio buffering).
 * Exits on SIGTERM/SIGINT (default action) or when stdout goes away.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static long env_long(const char *name, long def)
{
	const char *v = getenv(name);
	if (!v || !*v)
		return def;
	char *end;
	errno = 0;
	long n = strtol(v, &end, 10);
	return errno || *end ? def : n;
}

static unsigned long long now_ns(int clock)
{
	struct timespec ts;
	clock_gettime(clock, &ts);
	return (unsigned long long)ts.tv_sec * 1000000000ull + (unsigned long long)ts.tv_nsec;
}

static int write_all(const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(1, p, n);
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

int main(int argc, char **argv)
{
	const char *source = "model";
	int stream = 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "stream"))
			stream = 1;
		else if ((!strcmp(argv[i], "--source") || !strcmp(argv[i], "-s")) && i + 1 < argc)
			source = argv[++i];
	}
	if (!stream) {
		fprintf(stderr, "fake_lms: only `log stream` is supported\n");
		return 1;
	}
	signal(SIGPIPE, SIG_DFL);
	long cpu = env_long("FAKE_LMS_CPU", -1);
	if (cpu >= 0) {
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET((int)cpu, &set);
		sched_setaffinity(0, sizeof(set), &set);
	}
	fprintf(stderr, "Streaming logs from LM Studio\n");
	if (strcmp(source, "server") != 0) {
		for (;;)
			pause();
	}
	long rate = env_long("FAKE_LMS_RATE", 5000);
	long pad = env_long("FAKE_LMS_PAD", 120);
	if (rate < 1)
		rate = 1;
	if (pad < 0 || pad > 60000)
		pad = 120;
	const char *go = getenv("FAKE_LMS_GO");
	while (go && *go && access(go, F_OK) != 0) {
		struct timespec d = {0, 5000000};
		nanosleep(&d, NULL);
	}
	char *padding = malloc((size_t)pad + 1);
	memset(padding, 'x', (size_t)pad);
	padding[pad] = '\0';
	size_t cap = (size_t)pad + 512;
	char *buf = malloc(cap * 64);
	unsigned long long start = now_ns(CLOCK_MONOTONIC), seq = 0;
	for (;;) {
		unsigned long long el = now_ns(CLOCK_MONOTONIC) - start;
		unsigned long long due = el * (unsigned long long)rate / 1000000000ull;
		while (seq < due) {
			size_t o = 0;
			for (int k = 0; k < 64 && seq < due; k++) {
				unsigned long long t = now_ns(CLOCK_REALTIME);
				int n = snprintf(
				        buf + o, cap,
				        "{\"timestamp\":%llu,\"data\":{\"type\":\"server.log\",\"level\":\"info\","
				        "\"content\":\"bench seq=%llu t_ns=%llu %s\"}}\n",
				        t / 1000000ull, seq, t, padding);
				if (n < 0 || (size_t)n >= cap)
					return 1;
				o += (size_t)n;
				seq++;
			}
			if (write_all(buf, o) < 0)
				return 0;
		}
		struct timespec d = {0, 1000000};
		nanosleep(&d, NULL);
	}
}
