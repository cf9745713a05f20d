/*
 * main.c - llmster-sim: command line, event loop, signals.
 *
 * Usage in sim/README.md. Prints "listening on http://ADDR:PORT" on stderr
 * once the listener accepts connections; SIGTERM/SIGINT stop the loop and
 * everything is freed (ASan clean).
 */
#include "sim.h"

#include <errno.h>
#include <event2/event.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "log.h"
#include "version.h"
#include "xmalloc.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: llmster-sim [--bind ADDR] [--port N] [--catalog FILE] [--gpus \"NAME:SIZE,...\"]\n"
	           "                  [--ram BYTES] [--api-token TOKEN | --api-token-file PATH]... [--speed X] [--seed "
	           "N]\n"
	           "                  [--jit on|off] [--ttl SECONDS]\n");
}

static int parse_long(const char *s, long lo, long hi, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

static void on_signal(evutil_socket_t sig, short ev, void *arg)
{
	(void)sig;
	(void)ev;
	event_base_loopexit(arg, NULL);
}

static void error_body(int status, const char *code, const char *message, struct dp_buf *out, const char **ctype)
{
	/* errors the HTTP layer produces itself, in LM Studio's v1 envelope */
	(void)status;
	json_t *o =
	        json_pack("{s:{s:s,s:s,s:s}}", "error", "type", "invalid_request", "message", message, "code", code);
	char *s = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(10));
	json_decref(o);
	if (s)
		dp_buf_adds(out, s);
	free(s);
	*ctype = "application/json";
}

int main(int argc, char **argv)
{
	struct dp_sim_config cfg = {
	        .bind = "127.0.0.1",
	        .port = 1234,
	        .gpus = "RTX 4090:24GiB",
	        .ram = 64ull << 30,
	        .speed = 1,
	        .seed = 1,
	        .jit = 1,
	        .ttl_seconds = 3600,
	};
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		long l;
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return 0;
		}
		if (!v) {
			fprintf(stderr, "llmster-sim: unknown option or missing value: %s\n", a);
			usage(stderr);
			return 2;
		}
		i++;
		if (!strcmp(a, "--bind")) {
			cfg.bind = v;
		} else if (!strcmp(a, "--port")) {
			if (parse_long(v, 0, 65535, &l) < 0)
				goto bad;
			cfg.port = (int)l;
		} else if (!strcmp(a, "--catalog")) {
			cfg.catalog_path = v;
		} else if (!strcmp(a, "--gpus")) {
			cfg.gpus = v;
		} else if (!strcmp(a, "--ram")) {
			if (dp_hw_parse_size(v, &cfg.ram) < 0 || cfg.ram < (1ull << 30))
				goto bad;
		} else if (!strcmp(a, "--api-token")) {
			if (cfg.ntokens >= DP_SIM_MAX_TOKENS || !*v || strlen(v) > 256)
				goto bad;
			cfg.tokens[cfg.ntokens++] = v;
		} else if (!strcmp(a, "--api-token-file")) {
			/* the token from a file: not in argv, where every local
			 * user can read it with ps */
			char tok[300];
			FILE *f = fopen(v, "r");
			int ok = f && fgets(tok, sizeof(tok), f) != NULL;
			if (f)
				fclose(f);
			if (!ok) {
				fprintf(stderr, "llmster-sim: cannot read the token from %s\n", v);
				return 2;
			}
			tok[strcspn(tok, "\r\n")] = '\0';
			if (cfg.ntokens >= DP_SIM_MAX_TOKENS || !*tok || strlen(tok) > 256)
				goto bad;
			cfg.tokens[cfg.ntokens++] = xstrdup(tok);
			explicit_bzero(tok, sizeof(tok));
		} else if (!strcmp(a, "--speed")) {
			char *end;
			errno = 0;
			cfg.speed = strtod(v, &end);
			if (errno || end == v || *end || !(cfg.speed >= 0) || cfg.speed > 1e6)
				goto bad;
		} else if (!strcmp(a, "--seed")) {
			char *end;
			errno = 0;
			cfg.seed = strtoull(v, &end, 10);
			if (errno || end == v || *end)
				goto bad;
		} else if (!strcmp(a, "--jit")) {
			if (strcmp(v, "on") && strcmp(v, "off"))
				goto bad;
			cfg.jit = !strcmp(v, "on");
		} else if (!strcmp(a, "--ttl")) {
			if (parse_long(v, 1, 31536000, &l) < 0)
				goto bad;
			cfg.ttl_seconds = (int)l;
		} else {
			fprintf(stderr, "llmster-sim: unknown option: %s\n", a);
			usage(stderr);
			return 2;
		}
		continue;
	bad:
		fprintf(stderr, "llmster-sim: bad value for %s: '%s'\n", a, v);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	struct event_base *base = event_base_new();
	if (!base) {
		fprintf(stderr, "llmster-sim: cannot create event base\n");
		return 1;
	}
	static struct dp_sim sim;
	dp_sim_init(&sim, &cfg, base);
	char err[512];
	if (dp_sim_setup(&sim, err, sizeof(err)) < 0) {
		fprintf(stderr, "llmster-sim: %s\n", err);
		dp_sim_release(&sim);
		event_base_free(base);
		return 2;
	}
	struct dp_http_config hc;
	dp_http_config_defaults(&hc);
	hc.max_body_bytes = DP_SIM_MAX_BODY;
	hc.max_connections = 8192;
	hc.max_stream_queue = 4u << 20;
	hc.handler = dp_api_handle;
	hc.handler_arg = &sim;
	hc.error_body = error_body;
	hc.idle_timeout_ms = 120000;
	hc.write_timeout_ms = 60000;
	sim.http = dp_http_server_new(base, &hc);
	int port = 0;
	int rc = dp_http_server_listen(sim.http, cfg.bind, cfg.port, &port);
	if (rc < 0) {
		fprintf(stderr, "llmster-sim: cannot listen on %s:%d: %s\n", cfg.bind, cfg.port, strerror(-rc));
		dp_http_server_free(sim.http);
		dp_sim_release(&sim);
		event_base_free(base);
		return 1;
	}
	sim.port = port;
	dp_api_start(&sim);
	struct event *sigterm = evsignal_new(base, SIGTERM, on_signal, base);
	struct event *sigint = evsignal_new(base, SIGINT, on_signal, base);
	event_add(sigterm, NULL);
	event_add(sigint, NULL);
	dp_simlog_server(&sim, "info", "Server started on port %d", port);
	fprintf(stderr, "llmster-sim %s: %d models, %d GPUs, speed %g, jit %s, auth %s\n", dp_version, sim.nmodels,
	        sim.ngpus, cfg.speed, cfg.jit ? "on" : "off", cfg.ntokens ? "on" : "off");
	if (strchr(cfg.bind, ':'))
		fprintf(stderr, "listening on http://[%s]:%d\n", cfg.bind, port);
	else
		fprintf(stderr, "listening on http://%s:%d\n", cfg.bind, port);
	fflush(stderr);
	event_base_dispatch(base);
	fprintf(stderr, "llmster-sim: shutting down\n");
	dp_http_server_stop_listening(sim.http);
	dp_simlog_close_all(&sim);
	dp_http_server_free(sim.http);
	sim.http = NULL;
	dp_sim_release(&sim);
	dp_api_release(&sim);
	event_free(sigterm);
	event_free(sigint);
	event_base_free(base);
	return 0;
}
