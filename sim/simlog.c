/*
 * simlog.c - the diagnostics log: DiagnosticsLogEvent objects (reference
 * §7.1) kept in a bounded ring and pushed live to /__sim/lms/log-stream
 * subscribers as NDJSON.
 *
 * Event shapes, exactly as lmstudio-js's DiagnosticsLogEvent:
 *   {"timestamp":ms,"data":{"type":"server.log","content","level"}}
 *   {"timestamp":ms,"data":{"type":"runtime.log","level","message","engineName",
 *                           "engineVersion","engineType","modelIdentifier"?,"pid"?}}
 *   {"timestamp":ms,"data":{"type":"llm.prediction.input","input","modelPath","modelIdentifier"}}
 *   {"timestamp":ms,"data":{"type":"llm.prediction.output","output","stats"?,"modelIdentifier"}}
 * server.log `content` carries the message only; LM Studio's log files show
 * a "[time][LEVEL]" prefix, which we believe is added by the file writer
 * (uncertain; documented in sim/README.md).
 *
 * A subscriber is a streaming request; its on_close callback unlinks it.
 * A slow subscriber is dropped by the HTTP layer's bounded stream queue.
 */
#include "sim.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http.h"
#include "xmalloc.h"

struct dp_simlog_sub {
	struct dp_simlog_sub *next;
	struct dp_sim *sim;
	struct dp_http_req *req;
	int mask;
	int dead;
};

void dp_simlog_init(struct dp_simlog *l)
{
	memset(l, 0, sizeof(*l));
}

void dp_simlog_release(struct dp_simlog *l)
{
	for (int i = 0; i < DP_SIMLOG_RING; i++) {
		free(l->lines[i]);
		l->lines[i] = NULL;
	}
	struct dp_simlog_sub *s = l->subs, *n;
	for (; s; s = n) {
		n = s->next;
		free(s);
	}
	l->subs = NULL;
}

void dp_simlog_add(struct dp_sim *sim, int src, json_t *data)
{
	struct dp_simlog *l = &sim->log;
	json_t *ev = json_pack("{s:I,s:o}", "timestamp", (json_int_t)dp_sim_now(sim), "data", data);
	char *line = json_dumps(ev, JSON_COMPACT | JSON_REAL_PRECISION(10));
	json_decref(ev);
	if (!line)
		return;
	if (!src)
		src = DP_SIMLOG_SERVER;
	size_t slot = l->next_seq % DP_SIMLOG_RING;
	free(l->lines[slot]);
	l->lines[slot] = line;
	l->srcs[slot] = (uint8_t)src;
	l->next_seq++;
	size_t len = strlen(line);
	for (struct dp_simlog_sub *s = l->subs; s; s = s->next) {
		if (s->dead || !(s->mask & src))
			continue;
		line[len] = '\n'; /* temporarily, to write line + newline at once */
		int rc = dp_http_stream_write(s->req, line, len + 1);
		line[len] = '\0';
		if (rc < 0)
			s->dead = 1;
	}
}

void dp_simlog_server(struct dp_sim *sim, const char *level, const char *fmt, ...)
{
	char msg[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	dp_simlog_add(sim, DP_SIMLOG_SERVER,
	              json_pack("{s:s,s:s,s:s}", "type", "server.log", "content", msg, "level", level));
}

const char *dp_simlog_engine_name(const struct dp_sim_model *m)
{
	if (m && m->format && !strcmp(m->format, "mlx"))
		return "mlx-llm-linux-x86_64";
	return "llama.cpp-linux-x86_64-nvidia-cuda12-avx2";
}

const char *dp_simlog_engine_version(const struct dp_sim_model *m)
{
	return m && m->format && !strcmp(m->format, "mlx") ? "0.30.0" : "1.51.0";
}

void dp_simlog_runtime(struct dp_sim *sim, const char *level, const struct dp_sim_inst *inst, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	const struct dp_sim_model *m = inst ? inst->m : NULL;
	json_t *d = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "type", "runtime.log", "level", level, "message", msg,
	                      "engineName", dp_simlog_engine_name(m), "engineVersion", dp_simlog_engine_version(m),
	                      "engineType", m && !strcmp(m->format, "mlx") ? "mlx-llm" : "llama.cpp");
	if (inst)
		json_object_set_new(d, "modelIdentifier", json_string(inst->id));
	json_object_set_new(d, "pid", json_integer((json_int_t)getpid()));
	dp_simlog_add(sim, DP_SIMLOG_RUNTIME, d);
}

static void sub_closed(struct dp_http_req *req, void *arg)
{
	struct dp_simlog_sub *sub = arg;
	struct dp_simlog_sub **pp = &sub->sim->log.subs;
	while (*pp && *pp != sub)
		pp = &(*pp)->next;
	if (*pp)
		*pp = sub->next;
	free(sub);
}

void dp_simlog_subscribe(struct dp_sim *sim, struct dp_http_req *req, int srcmask)
{
	struct dp_simlog_sub *s = xcalloc(1, sizeof(*s));
	s->sim = sim;
	s->req = req;
	s->mask = srcmask;
	s->next = sim->log.subs;
	sim->log.subs = s;
	dp_http_req_on_close(req, sub_closed, s);
}

void dp_simlog_close_all(struct dp_sim *sim)
{
	/* end every stream; each end frees the request, so unlink first */
	struct dp_simlog_sub *s = sim->log.subs, *n;
	sim->log.subs = NULL;
	for (; s; s = n) {
		n = s->next;
		dp_http_stream_end(s->req);
		free(s);
	}
}

json_t *dp_simlog_since(struct dp_sim *sim, uint64_t since, uint64_t *next)
{
	struct dp_simlog *l = &sim->log;
	uint64_t first = l->next_seq > DP_SIMLOG_RING ? l->next_seq - DP_SIMLOG_RING : 0;
	if (since < first)
		since = first;
	json_t *arr = json_array();
	for (uint64_t q = since; q < l->next_seq; q++) {
		json_t *v = json_loads(l->lines[q % DP_SIMLOG_RING], 0, NULL);
		if (v)
			json_array_append_new(arr, v);
	}
	*next = l->next_seq;
	return arr;
}
