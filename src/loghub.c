/*
 * loghub.c - per target and source one `lms log stream` child, a bounded
 * ring, server-side filters and fan-out to SSE viewers (contract in
 * loghub.h, event shapes in docs/api-logs.md).
 *
 * Data: hub -> targets (list) -> 4 streams (server, model, runtime,
 * daemonpulse), each with a ring of lines; viewers (subs) hang off the
 * target with their filter. A line is parsed once, turned into its JSON
 * object once, and framed once per variant (payloads shown / hidden); the
 * framed bytes plus a lower-cased search text per variant live in the ring
 * so a late viewer's backlog costs no re-parsing.
 *
 * Timers per stream: restart (backoff after an exit), linger (stop the
 * child a while after the last viewer left), quiet (the "no line yet"
 * hint). One hub tick per second re-reads Live mode and drops targets that
 * no longer exist.
 */
#include "loghub.h"

#include <ctype.h>
#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent_client.h"
#include "buf.h"
#include "events.h"
#include "health.h"
#include "lms.h"
#include "log.h"
#include "server.h"
#include "sse.h"
#include "store.h"
#include "targets.h"
#include "upstream.h"
#include "xmalloc.h"

#define NSRC    DP_LOGPARSE__NSRC
#define Q_MAX   256
#define TICK_MS 1000

enum lh_state { ST_IDLE, ST_RUNNING, ST_RESTARTING, ST_REFUSED, ST_UNAVAILABLE };
static const char *const state_names[] = {"idle", "running", "restarting", "refused", "unavailable"};

struct lh_line {
	int refs; /* the ring, and the pending fan-out list */
	uint64_t seq;
	uint8_t src, level, high;
	char *frame, *hframe; /* hframe == frame when hiding changes nothing */
	size_t frame_len, hframe_len;
	char *text, *htext; /* lower-cased search text; htext may == text */
	size_t text_len, htext_len;
	size_t bytes;
};

struct lh_target;
struct lh_stream;

/* The agent input of a stream: GET /agent/v1/logs/stream?source=S (NDJSON)
 * instead of a local `lms log stream --host` child. Heap, owned by the
 * upstream request until its on_done (st NULL once the target is gone). */
struct lh_agent_in {
	struct lh_stream *st;
	struct dp_upstream_req *req;
	char *buf; /* the current partial line */
	size_t len, cap;
	int overflow; /* the current line is over the limit: skipped */
	uint64_t skipped;
	char end_msg[300]; /* the agent's dp.stream_end message */
};

struct lh_stream {
	struct lh_target *t;
	int src;
	struct lh_line **ring;
	int head, n; /* oldest at head */
	size_t bytes;
	int nsubs;
	int64_t perf_until_ms;
	struct dp_lms_stream *child;
	struct lh_agent_in *up; /* the agent's stream instead of a child */
	int stopping;
	enum lh_state state;
	char reason[600];
	int restarts, fails, backoff_ms, retry_in_ms;
	int64_t child_started_ms, since_ms;
	uint64_t lines, bad, skipped, child_lines;
	int warned_bad;
	struct event *restart_ev, *linger_ev, *quiet_ev;
};

struct lh_pred {
	int64_t ts_ms;
	struct dp_logparse_stats st;
};

struct lh_perf {
	char model[256];
	struct lh_pred *p;
	int head, n;
	int64_t last_ms;
};

struct lh_sub {
	struct lh_sub *prev, *next;
	struct lh_target *t;
	struct dp_sse *sse;
	unsigned sources;
	int level;
	int payloads;
	char q[Q_MAX + 1];
	size_t qlen;
};

struct lh_target {
	struct lh_target *next;
	struct dp_loghub *h;
	int64_t id;
	uint64_t seq_base; /* ids of this process start above it (see target_get) */
	char label[DP_TARGET_LABEL_MAX * 4 + 1];
	char host[DP_TARGET_HOST_MAX + 1];
	int port;
	int agent; /* the target has an agent: its log stream instead of lms --host */
	char unusable[200];
	uint64_t seq;
	struct lh_stream st[NSRC];
	struct lh_sub *subs;
	size_t nsubs;
	struct lh_perf *perf;
	int nperf;
	int64_t perf_since_ms;
	struct lh_line **pend; /* ingested, not yet fanned out (flush_ms) */
	int npend, cappend;
	struct event *flush_ev;
	int64_t last_flush_us;
};

struct dp_loghub {
	struct event_base *base;
	struct dp_lms *lms;
	struct dp_server *srv; /* for agent requests; NULL = no agent input (unit tests) */
	struct dp_loghub_config cfg;
	struct lh_target *targets;
	dp_loghub_live_fn live_fn;
	void *live_arg;
	dp_loghub_exists_fn exists_fn;
	void *exists_arg;
	int live;
	struct event *tick;
	uint64_t lines, bad, restarts, sent, dropped_backlog;
	int freeing;
};

/* ------------------------------------------------------------ helpers */

static int64_t mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static json_t *time_json(int64_t ms)
{
	if (ms <= 0)
		return json_null();
	time_t s = (time_t)(ms / 1000);
	struct tm tm;
	if (!gmtime_r(&s, &tm))
		return json_null();
	char buf[96];
	snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
	         tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
	return json_string(buf);
}

static void arm(struct event *ev, int ms)
{
	if (ms < 0)
		ms = 0;
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
	event_add(ev, &tv);
}

static int env_int(const char *name, int def, int lo, int hi)
{
	const char *v = getenv(name);
	if (!v || !*v)
		return def;
	char *end;
	errno = 0;
	long n = strtol(v, &end, 10);
	if (errno || *end || n < lo || n > hi) {
		dp_warn("ignoring %s=%s (expected %d..%d)", name, v, lo, hi);
		return def;
	}
	return (int)n;
}

void dp_loghub_config_defaults(struct dp_loghub_config *c)
{
	memset(c, 0, sizeof(*c));
	c->ring_lines = env_int("DP_LOG_RING_LINES", 1000, 1, 100000);
	c->ring_bytes = 4u << 20;
	c->linger_ms = env_int("DP_LOG_LINGER_MS", 30000, 0, 3600000);
	c->backoff_min_ms = env_int("DP_LOG_BACKOFF_MIN_MS", 1000, 10, 600000);
	c->backoff_max_ms = env_int("DP_LOG_BACKOFF_MAX_MS", 30000, 10, 3600000);
	if (c->backoff_max_ms < c->backoff_min_ms)
		c->backoff_max_ms = c->backoff_min_ms;
	c->stable_ms = 10000;
	c->quiet_ms = env_int("DP_LOG_QUIET_MS", 30000, 10, 3600000);
	c->refuse_after = 3;
	c->perf_keep = 500;
	c->perf_models = 64;
	c->perf_linger_ms = 300000;
	c->backlog_bytes = 512u << 10;
	c->flush_ms = env_int("DP_LOG_FLUSH_MS", 10, 0, 1000);
}

/* ASCII lower-case copy appended to b. */
static void add_lower(struct dp_buf *b, const char *s, size_t n)
{
	size_t o = b->len;
	if (dp_buf_add(b, s, n) < 0)
		return;
	for (size_t i = o; i < b->len; i++)
		b->data[i] = (char)tolower((unsigned char)b->data[i]);
}

/* Search text: the summary and every top-level string of the payload. */
static char *search_text(const char *summary, const json_t *payload, size_t *len)
{
	struct dp_buf b;
	dp_buf_init(&b, 4u << 20);
	add_lower(&b, summary, strlen(summary));
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)payload, k, v)
	{
		if (!json_is_string(v) || strcmp(k, "type") == 0 || strcmp(k, "level") == 0)
			continue;
		dp_buf_addch(&b, '\n');
		add_lower(&b, json_string_value(v), json_string_length(v));
	}
	*len = b.len;
	char *out = xmalloc(b.len + 1);
	memcpy(out, b.data, b.len);
	out[b.len] = '\0';
	dp_buf_release(&b);
	return out;
}

static char *frame(const char *id, const char *event, const json_t *obj, size_t *len)
{
	char *txt = json_dumps(obj, JSON_COMPACT | JSON_REAL_PRECISION(10));
	if (!txt)
		return NULL;
	struct dp_buf b;
	dp_buf_init(&b, DP_SSE_MAX_EVENT);
	char *out = NULL;
	if (dp_sse_format(&b, id, event, txt, strlen(txt)) == 0) {
		out = xmalloc(b.len + 1);
		memcpy(out, b.data, b.len);
		out[b.len] = '\0';
		*len = b.len;
	}
	dp_buf_release(&b);
	free(txt);
	return out;
}

static void line_free(struct lh_line *l)
{
	if (!l || --l->refs > 0)
		return;
	if (l->hframe != l->frame)
		free(l->hframe);
	free(l->frame);
	if (l->htext != l->text)
		free(l->htext);
	free(l->text);
	free(l);
}

/* ------------------------------------------------------------ filters */

static int sub_live(const struct lh_sub *s)
{
	return s->t->h->live;
}

static int sub_payloads(const struct lh_sub *s)
{
	return s->payloads && !sub_live(s);
}

static int sub_high_only(const struct lh_sub *s)
{
	return sub_live(s) || s->level == DP_LOGHUB_LEVEL_LIVE;
}

static int sub_min_level(const struct lh_sub *s)
{
	return s->level == DP_LOGHUB_LEVEL_LIVE ? DP_LOGPARSE_DEBUG : s->level;
}

static const char *effective_level(const struct lh_sub *s)
{
	if (sub_high_only(s) && sub_min_level(s) <= DP_LOGPARSE_INFO)
		return "live";
	if (sub_min_level(s) == DP_LOGPARSE_DEBUG)
		return "all";
	return dp_logparse_level_name((enum dp_logparse_level)sub_min_level(s));
}

static const char *requested_level(int level)
{
	if (level == DP_LOGHUB_LEVEL_LIVE)
		return "live";
	if (level == DP_LOGPARSE_DEBUG)
		return "all";
	return dp_logparse_level_name((enum dp_logparse_level)level);
}

static int sub_match(const struct lh_sub *s, const struct lh_line *l)
{
	if (!(s->sources & (1u << l->src)))
		return 0;
	if (l->level < sub_min_level(s))
		return 0;
	if (sub_high_only(s) && !l->high)
		return 0;
	if (s->qlen) {
		int pay = sub_payloads(s);
		const char *t = pay ? l->text : l->htext;
		size_t tl = pay ? l->text_len : l->htext_len;
		if (!memmem(t, tl, s->q, s->qlen))
			return 0;
	}
	return 1;
}

static int sub_send_line(struct lh_sub *s, const struct lh_line *l)
{
	if (sub_payloads(s))
		return dp_sse_send_framed(s->sse, l->frame, l->frame_len);
	return dp_sse_send_framed(s->sse, l->hframe, l->hframe_len);
}

/* ------------------------------------------------------------ status */

static void flush_pending(struct lh_target *t);

static int stream_wanted(const struct lh_stream *st)
{
	return st->nsubs > 0 || st->perf_until_ms > now_ms();
}

/* A child or an agent stream is attached. */
static int st_running(const struct lh_stream *st)
{
	return st->child != NULL || st->up != NULL;
}

static json_t *status_json(const struct lh_stream *st)
{
	int has_retry = st->state == ST_RESTARTING || st->state == ST_REFUSED;
	return json_pack(
	        "{s:I, s:s, s:s, s:o, s:i, s:o, s:I, s:I, s:I, s:o}", "target_id", (json_int_t)st->t->id, "source",
	        dp_logparse_source_name((enum dp_logparse_source)st->src), "state", state_names[st->state], "reason",
	        st->reason[0] ? json_string(st->reason) : json_null(), "restarts", st->restarts, "retry_in_ms",
	        has_retry ? json_integer(st->retry_in_ms) : json_null(), "lines", (json_int_t)st->lines, "bad_lines",
	        (json_int_t)st->bad, "skipped_lines", (json_int_t)st->skipped, "since", time_json(st->since_ms));
}

static void broadcast_status(struct lh_stream *st)
{
	struct lh_target *t = st->t;
	if (!t->subs)
		return;
	flush_pending(t);
	json_t *j = status_json(st);
	size_t len = 0;
	char *f = frame(NULL, "status", j, &len);
	json_decref(j);
	if (!f)
		return;
	for (struct lh_sub *s = t->subs; s; s = s->next)
		if (s->sources & (1u << st->src))
			dp_sse_send_framed(s->sse, f, len);
	free(f);
}

static void set_state(struct lh_stream *st, enum lh_state state, const char *reason)
{
	int changed = st->state != state || strcmp(st->reason, reason ? reason : "") != 0;
	if (st->state != state)
		st->since_ms = now_ms();
	st->state = state;
	snprintf(st->reason, sizeof(st->reason), "%s", reason ? reason : "");
	if (changed)
		broadcast_status(st);
}

/* ------------------------------------------------------------ ring + fan-out */

static void ring_push(struct lh_stream *st, struct lh_line *l)
{
	struct dp_loghub *h = st->t->h;
	int cap = h->cfg.ring_lines;
	while (st->n > 0 && (st->n >= cap || st->bytes + l->bytes > h->cfg.ring_bytes)) {
		struct lh_line *old = st->ring[st->head];
		st->ring[st->head] = NULL;
		st->bytes -= old->bytes;
		line_free(old);
		st->head = (st->head + 1) % cap;
		st->n--;
	}
	st->ring[(st->head + st->n) % cap] = l;
	st->n++;
	st->bytes += l->bytes;
}

static void fanout(struct lh_target *t, const struct lh_line *l)
{
	for (struct lh_sub *s = t->subs; s; s = s->next)
		if (sub_match(s, l) && sub_send_line(s, l) == 0)
			t->h->sent++;
}

/* Send the pending lines now (also before any other event, so viewers
 * see events in order). */
static void flush_pending(struct lh_target *t)
{
	if (!t->npend)
		return;
	event_del(t->flush_ev);
	int n = t->npend;
	t->npend = 0;
	for (int i = 0; i < n; i++) {
		fanout(t, t->pend[i]);
		line_free(t->pend[i]);
	}
	t->last_flush_us = mono_us();
}

static void flush_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	flush_pending(arg);
}

/* Build, keep and fan out one line. Takes nothing from ev. */
static void ingest(struct lh_target *t, struct dp_logparse_event *ev)
{
	struct dp_loghub *h = t->h;
	struct lh_stream *st = &t->st[ev->source];
	struct lh_line *l = xcalloc(1, sizeof(*l));
	l->seq = ++t->seq;
	l->src = (uint8_t)ev->source;
	l->level = (uint8_t)ev->level;
	l->high = (uint8_t)(ev->high != 0);
	int64_t ts = ev->ts_ms > 0 ? ev->ts_ms : now_ms();
	json_t *stats = ev->has_stats ? dp_logparse_stats_json(&ev->stats) : json_null();
	json_t *o = json_pack("{s:I, s:I, s:s, s:s, s:s, s:o, s:I, s:s, s:b, s:o, s:o, s:O, s:b, s:b}", "seq",
	                      (json_int_t)l->seq, "target_id", (json_int_t)t->id, "source",
	                      dp_logparse_source_name(ev->source), "type", ev->type, "level",
	                      dp_logparse_level_name(ev->level), "ts", time_json(ts), "ts_ms", (json_int_t)ts,
	                      "summary", ev->summary, "high", l->high, "model",
	                      ev->model[0] ? json_string(ev->model) : json_null(), "stats", stats, "payload",
	                      ev->payload ? ev->payload : json_null(), "payload_hidden", 0, "truncated", ev->truncated);
	if (!o) {
		/* a summary jansson refused (cannot happen: sanitised) */
		free(l);
		t->seq--;
		st->bad++;
		return;
	}
	char id[24];
	snprintf(id, sizeof(id), "%llu", (unsigned long long)l->seq);
	l->frame = frame(id, "line", o, &l->frame_len);
	l->text = search_text(ev->summary, ev->payload, &l->text_len);
	if (ev->has_body) {
		json_t *red = dp_logparse_redact(ev->payload);
		json_object_set_new(o, "payload", red ? red : json_null());
		json_object_set_new(o, "summary", json_string(ev->summary_hidden));
		json_object_set_new(o, "payload_hidden", json_true());
		l->hframe = frame(id, "line", o, &l->hframe_len);
		l->htext = search_text(ev->summary_hidden, red, &l->htext_len);
	} else {
		l->hframe = l->frame;
		l->hframe_len = l->frame_len;
		l->htext = l->text;
		l->htext_len = l->text_len;
	}
	json_decref(o);
	if (!l->frame || !l->hframe) {
		line_free(l);
		st->bad++;
		return;
	}
	l->bytes = sizeof(*l) + l->frame_len + l->text_len + (l->hframe != l->frame ? l->hframe_len : 0) +
	           (l->htext != l->text ? l->htext_len : 0);
	h->lines++;
	l->refs = 1;
	ring_push(st, l);
	if (!t->subs)
		return;
	/* Coalescing: a line after a quiet spell goes out at once; lines that
	 * follow within flush_ms wait for one flush, so a busy stream costs
	 * one write per viewer per flush_ms instead of one per line. */
	int64_t now = mono_us();
	int64_t win = (int64_t)h->cfg.flush_ms * 1000;
	if (win == 0 || (t->npend == 0 && now - t->last_flush_us >= win)) {
		t->last_flush_us = now;
		fanout(t, l);
		return;
	}
	if (t->npend == t->cappend) {
		t->cappend = t->cappend ? t->cappend * 2 : 64;
		t->pend = xrealloc(t->pend, (size_t)t->cappend * sizeof(*t->pend));
	}
	l->refs++;
	t->pend[t->npend++] = l;
	if (!event_pending(t->flush_ev, EV_TIMEOUT, NULL)) {
		int64_t wait = t->last_flush_us + win - now;
		arm(t->flush_ev, wait > 0 ? (int)((wait + 999) / 1000) : 0);
	}
}

/* ------------------------------------------------------------ perf */

static struct lh_perf *perf_model(struct lh_target *t, const char *model, int create)
{
	struct dp_loghub *h = t->h;
	for (int i = 0; i < t->nperf; i++)
		if (strcmp(t->perf[i].model, model) == 0)
			return &t->perf[i];
	if (!create)
		return NULL;
	if (t->nperf >= h->cfg.perf_models) {
		/* drop the least recently seen model */
		int lru = 0;
		for (int i = 1; i < t->nperf; i++)
			if (t->perf[i].last_ms < t->perf[lru].last_ms)
				lru = i;
		free(t->perf[lru].p);
		t->perf[lru] = t->perf[t->nperf - 1];
		t->nperf--;
	}
	if (!t->perf)
		t->perf = xcalloc((size_t)h->cfg.perf_models, sizeof(*t->perf));
	struct lh_perf *p = &t->perf[t->nperf++];
	memset(p, 0, sizeof(*p));
	snprintf(p->model, sizeof(p->model), "%s", model);
	p->p = xcalloc((size_t)h->cfg.perf_keep, sizeof(*p->p));
	return p;
}

static json_t *pred_json(const struct lh_pred *p)
{
	json_t *j = dp_logparse_stats_json(&p->st);
	json_object_set_new(j, "ts", time_json(p->ts_ms));
	json_object_set_new(j, "ts_ms", json_integer((json_int_t)p->ts_ms));
	return j;
}

static void perf_record(struct lh_target *t, const struct dp_logparse_event *ev)
{
	struct dp_loghub *h = t->h;
	const char *model = ev->model[0] ? ev->model : "(unknown)";
	struct lh_perf *p = perf_model(t, model, 1);
	struct lh_pred *x;
	int keep = h->cfg.perf_keep;
	if (p->n < keep) {
		x = &p->p[(p->head + p->n) % keep];
		p->n++;
	} else {
		x = &p->p[p->head];
		p->head = (p->head + 1) % keep;
	}
	x->ts_ms = ev->ts_ms > 0 ? ev->ts_ms : now_ms();
	x->st = ev->stats;
	p->last_ms = now_ms();
	/* live perf event to viewers of the model source */
	int any = 0;
	for (struct lh_sub *s = t->subs; s; s = s->next)
		any |= (s->sources & (1u << DP_LOGPARSE_MODEL)) != 0;
	if (!any)
		return;
	flush_pending(t);
	json_t *j = json_pack("{s:I, s:s, s:o}", "target_id", (json_int_t)t->id, "model", model, "prediction",
	                      pred_json(x));
	size_t len = 0;
	char *f = frame(NULL, "perf", j, &len);
	json_decref(j);
	if (!f)
		return;
	for (struct lh_sub *s = t->subs; s; s = s->next)
		if (s->sources & (1u << DP_LOGPARSE_MODEL))
			dp_sse_send_framed(s->sse, f, len);
	free(f);
}

/* ------------------------------------------------------------ children */

static void child_start(struct lh_stream *st);

static void on_line(const char *line, size_t len, void *arg)
{
	struct lh_stream *st = arg;
	struct lh_target *t = st->t;
	struct dp_logparse_event ev;
	char err[200];
	int rc = dp_logparse_line(line, len, (enum dp_logparse_source)st->src, &ev, err, sizeof(err));
	if (rc == 0 && (int)ev.source != st->src) {
		snprintf(err, sizeof(err), "a %s event on the %s stream", ev.type,
		         dp_logparse_source_name((enum dp_logparse_source)st->src));
		dp_logparse_event_release(&ev);
		rc = -EINVAL;
	}
	if (rc < 0) {
		st->bad++;
		t->h->bad++;
		if (!st->warned_bad) {
			st->warned_bad = 1;
			dp_warn("target %lld %s log stream: skipping bad line: %s", (long long)t->id,
			        dp_logparse_source_name((enum dp_logparse_source)st->src), err);
		}
		return;
	}
	st->lines++;
	st->child_lines++;
	if (st->child_lines == 1 && st->reason[0] && st->state == ST_RUNNING)
		set_state(st, ST_RUNNING, NULL); /* clear the "no line yet" hint */
	ingest(t, &ev);
	if (ev.has_stats && ev.source == DP_LOGPARSE_MODEL)
		perf_record(t, &ev);
	dp_logparse_event_release(&ev);
}

static void stream_ended(struct lh_stream *st, const char *message);

static void on_exit_cb(const struct dp_lms_result *res, void *arg)
{
	struct lh_stream *st = arg;
	struct dp_loghub *h = st->t->h;
	st->child = NULL;
	event_del(st->quiet_ev);
	st->skipped += res->lines_skipped;
	if (res->status == DP_LMS_CANCELLED || h->freeing)
		return;
	stream_ended(st, res->message);
}

/* The child or agent stream ended (not cancelled): restart with backoff. */
static void stream_ended(struct lh_stream *st, const char *message)
{
	struct dp_loghub *h = st->t->h;
	if (st->stopping) {
		st->stopping = 0;
		if (stream_wanted(st))
			child_start(st);
		else
			set_state(st, ST_IDLE, NULL);
		return;
	}
	st->restarts++;
	h->restarts++;
	int64_t ran = now_ms() - st->child_started_ms;
	int good = st->child_lines > 0 || ran >= h->cfg.stable_ms;
	if (st->child_lines > 0)
		st->fails = 0;
	else
		st->fails++;
	if (good || !st->backoff_ms)
		st->backoff_ms = h->cfg.backoff_min_ms;
	else
		st->backoff_ms =
		        st->backoff_ms * 2 > h->cfg.backoff_max_ms ? h->cfg.backoff_max_ms : st->backoff_ms * 2;
	if (!stream_wanted(st)) {
		set_state(st, ST_IDLE, message);
		return;
	}
	char why[600];
	if (st->fails >= h->cfg.refuse_after) {
		st->retry_in_ms = h->cfg.backoff_max_ms;
		snprintf(why, sizeof(why),
		         "no log line after %d attempts; the target may not allow remote log streaming or lms cannot "
		         "reach it (%s)",
		         st->fails, message ? message : "");
		set_state(st, ST_REFUSED, why);
	} else {
		st->retry_in_ms = st->backoff_ms;
		snprintf(why, sizeof(why), "%s", message ? message : "lms log stream ended");
		/* always tell: the retry count changed even if the text did not */
		st->state = ST_IDLE;
		set_state(st, ST_RESTARTING, why);
	}
	arm(st->restart_ev, st->retry_in_ms);
}

static void restart_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct lh_stream *st = arg;
	if (st_running(st))
		return;
	if (stream_wanted(st))
		child_start(st);
	else
		set_state(st, ST_IDLE, NULL);
}

static void quiet_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct lh_stream *st = arg;
	if (st->up && st->child_lines == 0)
		set_state(st, ST_RUNNING, "no log line received yet through the agent; LM Studio may be quiet");
	else if (st->child && st->child_lines == 0)
		set_state(st, ST_RUNNING,
		          "no log line received yet; the target may not allow remote log streaming "
		          "(lms --host connects as a non-privileged client) or it is quiet");
}

static void child_stop(struct lh_stream *st)
{
	event_del(st->restart_ev);
	if (st->up) {
		if (!st->stopping) {
			st->stopping = 1;
			dp_upstream_abort(st->up->req); /* on_done: restart or idle */
		}
	} else if (st->child) {
		if (!st->stopping) {
			st->stopping = 1;
			dp_lms_stream_stop(st->child);
		}
	} else if (st->state != ST_UNAVAILABLE) {
		set_state(st, ST_IDLE, NULL);
	}
}

static void linger_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct lh_stream *st = arg;
	if (!stream_wanted(st)) {
		child_stop(st);
		return;
	}
	if (st->nsubs == 0) /* only a perf request keeps it: look again then */
		arm(st->linger_ev, (int)(st->perf_until_ms - now_ms()) + 10);
}

/* ------------------------------------------------------------ agent input */

#define AGENT_LINE_MAX (1u << 20) /* as lms.h's log stream line limit */

static void agent_line(struct lh_agent_in *a, const char *line, size_t len)
{
	if (len && line[len - 1] == '\r')
		len--;
	if (!len)
		return;
	static const char end[] = "\"dp.stream_end\"";
	if (len < 4096 && memmem(line, len, end, sizeof(end) - 1)) {
		json_t *j = json_loadb(line, len, 0, NULL);
		const char *type = json_string_value(json_object_get(j, "type"));
		if (type && strcmp(type, "dp.stream_end") == 0) {
			const char *m = json_string_value(json_object_get(j, "message"));
			const char *c = json_string_value(json_object_get(j, "code"));
			snprintf(a->end_msg, sizeof(a->end_msg), "lms log stream on the agent's host ended: %.200s",
			         m && *m ? m
			         : c     ? c
			                 : "no reason given");
			json_decref(j);
			return;
		}
		json_decref(j);
	}
	on_line(line, len, a->st);
}

static void agent_data(struct dp_upstream_req *r, const char *p, size_t n, void *arg)
{
	struct lh_agent_in *a = arg;
	(void)r;
	while (n && a->st) {
		const char *nl = memchr(p, '\n', n);
		size_t take = nl ? (size_t)(nl - p) : n;
		if (!a->overflow && a->len + take > AGENT_LINE_MAX) {
			a->overflow = 1;
			a->skipped++;
		}
		if (!a->overflow) {
			if (!a->len && nl) {
				agent_line(a, p, take); /* whole line in the chunk: no copy */
			} else {
				if (a->len + take + 1 > a->cap) {
					a->cap = (a->len + take + 1) * 2;
					if (a->cap > AGENT_LINE_MAX + 1)
						a->cap = AGENT_LINE_MAX + 1;
					a->buf = xrealloc(a->buf, a->cap);
				}
				memcpy(a->buf + a->len, p, take);
				a->len += take;
				if (nl) {
					agent_line(a, a->buf, a->len);
					a->len = 0;
				}
			}
		}
		if (!nl)
			break;
		a->overflow = 0;
		p = nl + 1;
		n -= take + 1;
	}
}

static void agent_done(struct dp_upstream_req *r, const struct dp_upstream_result *res, void *arg)
{
	struct lh_agent_in *a = arg;
	(void)r;
	struct lh_stream *st = a->st;
	char msg[400];
	if (a->end_msg[0]) {
		snprintf(msg, sizeof(msg), "%s", a->end_msg);
	} else if (res->outcome == DP_UPSTREAM_UNAUTHORIZED) {
		snprintf(msg, sizeof(msg), "the agent refused its token: enrol the agent again");
	} else if (res->outcome == DP_UPSTREAM_OK) {
		snprintf(msg, sizeof(msg), "the agent's log stream ended");
	} else {
		const char *am = json_string_value(json_object_get(json_object_get(res->json, "error"), "message"));
		snprintf(msg, sizeof(msg), "the agent's log stream failed: %.300s",
		         am                              ? am
		         : res->message && *res->message ? res->message
		                                         : res->code);
	}
	uint64_t skipped = a->skipped;
	free(a->buf);
	free(a);
	if (!st)
		return; /* the target is gone */
	st->up = NULL;
	event_del(st->quiet_ev);
	st->skipped += skipped;
	if (st->t->h->freeing || (res->outcome == DP_UPSTREAM_CANCELLED && !st->stopping))
		return;
	stream_ended(st, msg);
}

/* Start the agent's stream of this source; 0 or -1 (state set). */
static int agent_start(struct lh_stream *st)
{
	struct lh_target *t = st->t;
	char path[80];
	snprintf(path, sizeof(path), "/agent/v1/logs/stream?source=%s",
	         dp_logparse_source_name((enum dp_logparse_source)st->src));
	struct lh_agent_in *a = xcalloc(1, sizeof(*a));
	a->st = st;
	const char *err = NULL;
	a->req = dp_agent_client_stream(t->h->srv, t->id, path, agent_data, agent_done, a, &err);
	if (!a->req) {
		free(a);
		st->backoff_ms = st->backoff_ms ? st->backoff_ms : t->h->cfg.backoff_min_ms;
		st->retry_in_ms = st->backoff_ms;
		set_state(st, ST_RESTARTING, err ? err : "cannot reach the agent");
		arm(st->restart_ev, st->retry_in_ms);
		return -1;
	}
	st->up = a;
	return 0;
}

static void child_start(struct lh_stream *st)
{
	struct lh_target *t = st->t;
	struct dp_loghub *h = t->h;
	if (st->src == DP_LOGPARSE_DAEMONPULSE || st_running(st) || h->freeing)
		return;
	event_del(st->restart_ev);
	if (t->agent && h->srv) {
		if (agent_start(st) < 0)
			return;
		goto started;
	}
	if (t->unusable[0]) {
		set_state(st, ST_UNAVAILABLE, t->unusable);
		return;
	}
	char key[32];
	snprintf(key, sizeof(key), "target:%lld", (long long)t->id);
	struct dp_lms_target lt = {.key = key, .host = t->host[0] ? t->host : NULL, .port = t->port};
	struct dp_lms_req r = {.cmd = DP_LMS_LOG_STREAM,
	                       .source = dp_logparse_source_name((enum dp_logparse_source)st->src)};
	char err[512];
	int rc = dp_lms_stream_start(h->lms, &lt, &r, on_line, on_exit_cb, st, &st->child, err, sizeof(err));
	if (rc == -ENOENT || rc == -EINVAL) {
		st->child = NULL;
		set_state(st, ST_UNAVAILABLE, err);
		return;
	}
	if (rc < 0) {
		st->child = NULL;
		st->backoff_ms = st->backoff_ms ? st->backoff_ms : h->cfg.backoff_min_ms;
		st->retry_in_ms = st->backoff_ms;
		set_state(st, ST_RESTARTING, err);
		arm(st->restart_ev, st->retry_in_ms);
		return;
	}
started:
	st->stopping = 0;
	st->child_lines = 0;
	st->warned_bad = 0;
	st->child_started_ms = now_ms();
	st->retry_in_ms = 0;
	set_state(st, ST_RUNNING, NULL);
	arm(st->quiet_ev, h->cfg.quiet_ms);
}

/* A viewer (or perf) wants this stream now. */
static void stream_want(struct lh_stream *st)
{
	event_del(st->linger_ev);
	if (st->src == DP_LOGPARSE_DAEMONPULSE)
		return;
	if (st_running(st)) {
		/* a stop in flight is turned into a restart by on_exit */
		return;
	}
	if (event_pending(st->restart_ev, EV_TIMEOUT, NULL))
		return;
	child_start(st);
}

/* ------------------------------------------------------------ targets */

static void target_init_streams(struct lh_target *t)
{
	struct dp_loghub *h = t->h;
	for (int i = 0; i < NSRC; i++) {
		struct lh_stream *st = &t->st[i];
		st->t = t;
		st->src = i;
		st->ring = xcalloc((size_t)h->cfg.ring_lines, sizeof(*st->ring));
		st->state = i == DP_LOGPARSE_DAEMONPULSE ? ST_RUNNING : ST_IDLE;
		st->since_ms = now_ms();
		st->restart_ev = evtimer_new(h->base, restart_cb, st);
		st->linger_ev = evtimer_new(h->base, linger_cb, st);
		st->quiet_ev = evtimer_new(h->base, quiet_cb, st);
	}
}

static struct lh_target *target_find(struct dp_loghub *h, int64_t id)
{
	for (struct lh_target *t = h->targets; t; t = t->next)
		if (t->id == id)
			return t;
	return NULL;
}

static struct lh_target *target_get(struct dp_loghub *h, int64_t id)
{
	struct lh_target *t = target_find(h, id);
	if (t)
		return t;
	t = xcalloc(1, sizeof(*t));
	t->h = h;
	t->id = id;
	t->perf_since_ms = now_ms();
	/* line ids start at the creation time in ms x 1024, so an id sent by an
	 * earlier process (Last-Event-ID) is below every id of this one unless
	 * that process sent over 1024 lines per millisecond */
	t->seq_base = (uint64_t)now_ms() << 10;
	t->seq = t->seq_base;
	t->flush_ev = evtimer_new(h->base, flush_cb, t);
	target_init_streams(t);
	t->next = h->targets;
	h->targets = t;
	return t;
}

/* Record where lms connects; a change restarts running children. */
static void target_set_endpoint(struct lh_target *t, const struct dp_loghub_endpoint *ep)
{
	if (!ep)
		return;
	if (ep->label)
		snprintf(t->label, sizeof(t->label), "%s", ep->label);
	char host[sizeof(t->host)], unusable[sizeof(t->unusable)];
	snprintf(host, sizeof(host), "%s", ep->host ? ep->host : "");
	snprintf(unusable, sizeof(unusable), "%s", ep->unusable ? ep->unusable : "");
	int agent = ep->agent && t->h->srv;
	if (strcmp(host, t->host) == 0 && ep->port == t->port && strcmp(unusable, t->unusable) == 0 &&
	    agent == t->agent)
		return;
	memcpy(t->host, host, sizeof(host));
	memcpy(t->unusable, unusable, sizeof(unusable));
	t->port = ep->port;
	t->agent = agent;
	for (int i = 0; i < NSRC; i++) {
		struct lh_stream *st = &t->st[i];
		st->fails = 0;
		st->backoff_ms = 0;
		if (st->up && !st->stopping) {
			st->stopping = 1; /* agent_done restarts it with the new input */
			dp_upstream_abort(st->up->req);
		} else if (st->child && !st->stopping) {
			st->stopping = 1; /* on_exit restarts it with the new endpoint */
			dp_lms_stream_stop(st->child);
		} else if (st->state == ST_UNAVAILABLE) {
			st->state = ST_IDLE;
		}
	}
}

static void sub_close(struct dp_sse *s, void *arg);

static void target_free(struct lh_target *t)
{
	/* end viewers first: their on_close touches the streams */
	int npend = t->npend;
	t->npend = 0;
	while (t->subs)
		dp_sse_end(t->subs->sse);
	for (int i = 0; i < npend; i++)
		line_free(t->pend[i]);
	free(t->pend);
	event_free(t->flush_ev);
	for (int i = 0; i < NSRC; i++) {
		struct lh_stream *st = &t->st[i];
		if (st->child)
			dp_lms_stream_cancel(st->child);
		st->child = NULL;
		if (st->up) {
			st->up->st = NULL; /* agent_done frees it */
			dp_upstream_abort(st->up->req);
			st->up = NULL;
		}
		event_free(st->restart_ev);
		event_free(st->linger_ev);
		event_free(st->quiet_ev);
		for (int k = 0; k < st->n; k++)
			line_free(st->ring[(st->head + k) % t->h->cfg.ring_lines]);
		free(st->ring);
	}
	for (int i = 0; i < t->nperf; i++)
		free(t->perf[i].p);
	free(t->perf);
	free(t);
}

void dp_loghub_remove_target(struct dp_loghub *h, int64_t id)
{
	for (struct lh_target **pp = &h->targets; *pp; pp = &(*pp)->next) {
		if ((*pp)->id == id) {
			struct lh_target *t = *pp;
			*pp = t->next;
			target_free(t);
			return;
		}
	}
}

/* ------------------------------------------------------------ hub */

static void send_mode(struct lh_sub *s)
{
	json_t *j = json_pack("{s:s, s:s, s:b}", "mode", sub_live(s) ? "live" : "dev", "effective_level",
	                      effective_level(s), "payloads", sub_payloads(s));
	dp_sse_send_json(s->sse, NULL, "mode", j);
	json_decref(j);
}

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct dp_loghub *h = arg;
	if (h->live_fn) {
		int live = h->live_fn(h->live_arg) ? 1 : 0;
		if (live != h->live) {
			h->live = live;
			for (struct lh_target *t = h->targets; t; t = t->next) {
				flush_pending(t);
				for (struct lh_sub *s = t->subs; s; s = s->next)
					send_mode(s);
			}
		}
	}
	if (h->exists_fn) {
		struct lh_target **pp = &h->targets;
		while (*pp) {
			struct lh_target *t = *pp;
			if (!h->exists_fn(t->id, h->exists_arg)) {
				*pp = t->next;
				target_free(t);
			} else {
				pp = &t->next;
			}
		}
	}
}

struct dp_loghub *dp_loghub_new(struct event_base *base, struct dp_lms *lms, const struct dp_loghub_config *cfg)
{
	struct dp_loghub *h = xcalloc(1, sizeof(*h));
	h->base = base;
	h->lms = lms;
	if (cfg)
		h->cfg = *cfg;
	else
		dp_loghub_config_defaults(&h->cfg);
	if (h->cfg.ring_lines < 1)
		h->cfg.ring_lines = 1;
	if (h->cfg.perf_keep < 1)
		h->cfg.perf_keep = 1;
	if (h->cfg.perf_models < 1)
		h->cfg.perf_models = 1;
	h->tick = event_new(base, -1, EV_PERSIST, tick_cb, h);
	struct timeval tv = {TICK_MS / 1000, (TICK_MS % 1000) * 1000};
	event_add(h->tick, &tv);
	return h;
}

void dp_loghub_free(struct dp_loghub *h)
{
	if (!h)
		return;
	h->freeing = 1;
	while (h->targets) {
		struct lh_target *t = h->targets;
		h->targets = t->next;
		target_free(t);
	}
	event_free(h->tick);
	free(h);
}

void dp_loghub_set_live_fn(struct dp_loghub *h, dp_loghub_live_fn fn, void *arg)
{
	h->live_fn = fn;
	h->live_arg = arg;
	if (fn)
		h->live = fn(arg) ? 1 : 0;
}

void dp_loghub_set_exists_fn(struct dp_loghub *h, dp_loghub_exists_fn fn, void *arg)
{
	h->exists_fn = fn;
	h->exists_arg = arg;
}

/* ------------------------------------------------------------ subscribe */

static void sub_close(struct dp_sse *s, void *arg)
{
	(void)s;
	struct lh_sub *sub = arg;
	struct lh_target *t = sub->t;
	if (sub->prev)
		sub->prev->next = sub->next;
	else
		t->subs = sub->next;
	if (sub->next)
		sub->next->prev = sub->prev;
	t->nsubs--;
	for (int i = 0; i < NSRC; i++) {
		if (!(sub->sources & (1u << i)))
			continue;
		struct lh_stream *st = &t->st[i];
		st->nsubs--;
		if (st->nsubs == 0 && i != DP_LOGPARSE_DAEMONPULSE && !t->h->freeing)
			arm(st->linger_ev, t->h->cfg.linger_ms);
	}
	free(sub);
}

static int cmp_line(const void *a, const void *b)
{
	const struct lh_line *x = *(const struct lh_line *const *)a, *y = *(const struct lh_line *const *)b;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* The backlog: matching lines of the wanted sources, in seq order, the
 * newest `max` of them within the byte budget. Returns lines sent. */
static int send_backlog(struct lh_sub *sub, int max, uint64_t after)
{
	struct lh_target *t = sub->t;
	struct dp_loghub *h = t->h;
	size_t total = 0;
	for (int i = 0; i < NSRC; i++)
		if (sub->sources & (1u << i))
			total += (size_t)t->st[i].n;
	if (!total || max <= 0)
		return 0;
	struct lh_line **v = xmalloc(total * sizeof(*v));
	size_t n = 0;
	for (int i = 0; i < NSRC; i++) {
		if (!(sub->sources & (1u << i)))
			continue;
		struct lh_stream *st = &t->st[i];
		for (int k = 0; k < st->n; k++) {
			struct lh_line *l = st->ring[(st->head + k) % h->cfg.ring_lines];
			if (l->seq > after && sub_match(sub, l))
				v[n++] = l;
		}
	}
	qsort(v, n, sizeof(*v), cmp_line);
	/* newest first within the budgets, then send oldest first */
	size_t first = n, bytes = 0;
	int pay = sub_payloads(sub);
	while (first > 0 && (int)(n - first) < max) {
		size_t b = pay ? v[first - 1]->frame_len : v[first - 1]->hframe_len;
		if (bytes + b > h->cfg.backlog_bytes)
			break;
		bytes += b;
		first--;
	}
	h->dropped_backlog += first;
	int sent = 0;
	for (size_t i = first; i < n; i++) {
		if (sub_send_line(sub, v[i]) < 0)
			break;
		sent++;
	}
	free(v);
	return sent;
}

int dp_loghub_subscribe(struct dp_loghub *h, int64_t target_id, const struct dp_loghub_endpoint *ep,
                        const struct dp_loghub_filter *f, struct dp_sse *s)
{
	struct lh_target *t = target_get(h, target_id);
	target_set_endpoint(t, ep);
	flush_pending(t); /* pending lines are in the ring: the backlog has them */
	struct lh_sub *sub = xcalloc(1, sizeof(*sub));
	sub->t = t;
	sub->sse = s;
	sub->sources = f->sources & ((1u << NSRC) - 1);
	if (!sub->sources)
		sub->sources = (1u << NSRC) - 1;
	sub->level = f->level;
	sub->payloads = f->payloads;
	if (f->q && *f->q) {
		size_t ql = strnlen(f->q, Q_MAX);
		for (size_t i = 0; i < ql; i++)
			sub->q[i] = (char)tolower((unsigned char)f->q[i]);
		sub->qlen = ql;
	}

	/* hello */
	const char *reason = NULL;
	int avail = t->agent ? 1 : dp_lms_available(h->lms, &reason);
	json_t *sources = json_array(), *streams = json_array();
	for (int i = 0; i < NSRC; i++) {
		if (!(sub->sources & (1u << i)))
			continue;
		json_array_append_new(sources, json_string(dp_logparse_source_name((enum dp_logparse_source)i)));
	}
	/* start the wanted children first so hello shows their state */
	for (int i = 0; i < NSRC; i++) {
		if (!(sub->sources & (1u << i)))
			continue;
		t->st[i].nsubs++;
		stream_want(&t->st[i]);
		json_array_append_new(streams, status_json(&t->st[i]));
	}
	/* linked only now: the status changes above went to the others */
	sub->next = t->subs;
	if (t->subs)
		t->subs->prev = sub;
	t->subs = sub;
	t->nsubs++;
	dp_sse_set_on_close(s, sub_close, sub);
	int resumed = f->after > t->seq_base && f->after <= t->seq;
	json_t *hello =
	        json_pack("{s:I, s:s, s:s, s:o, s:s, s:s, s:o, s:b, s:{s:b, s:o}, s:o, s:b}", "target_id",
	                  (json_int_t)t->id, "label", t->label, "mode", h->live ? "live" : "dev", "sources", sources,
	                  "level", requested_level(sub->level), "effective_level", effective_level(sub), "q",
	                  sub->qlen ? json_stringn(f->q, sub->qlen) : json_null(), "payloads", sub_payloads(sub), "lms",
	                  "available", avail, "reason", !avail && reason ? json_string(reason) : json_null(), "streams",
	                  streams, "resumed", resumed);
	if (hello)
		json_object_set_new(json_object_get(hello, "lms"), "via", json_string(t->agent ? "agent" : "lms"));
	int rc = hello ? dp_sse_send_json(s, NULL, "hello", hello) : -EPIPE;
	json_decref(hello);
	if (rc < 0)
		return -EPIPE;
	int n = send_backlog(sub, f->backlog, resumed ? f->after : 0);
	json_t *live = json_pack("{s:i}", "backlog", n);
	rc = dp_sse_send_json(s, NULL, "live", live);
	json_decref(live);
	return rc < 0 ? -EPIPE : 0;
}

/* ------------------------------------------------------------ emit */

static void emit(struct dp_loghub *h, int64_t target_id, const char *level, const char *summary, const json_t *json,
                 int high)
{
	if (!h || target_id <= 0)
		return;
	struct lh_target *t = target_get(h, target_id);
	struct dp_logparse_event ev;
	memset(&ev, 0, sizeof(ev));
	ev.source = DP_LOGPARSE_DAEMONPULSE;
	int lv = dp_logparse_level_parse(level);
	ev.level = lv < 0 ? DP_LOGPARSE_INFO : (enum dp_logparse_level)lv;
	ev.high = high || ev.level >= DP_LOGPARSE_WARN;
	ev.ts_ms = now_ms();
	const char *type = json_string_value(json_object_get(json, "type"));
	dp_logparse_sanitize(type ? type : "dp.event", strlen(type ? type : "dp.event"), ev.type, sizeof(ev.type));
	const char *model = json_string_value(json_object_get(json, "model"));
	if (model)
		dp_logparse_sanitize(model, strlen(model), ev.model, sizeof(ev.model));
	dp_logparse_sanitize(summary ? summary : "", summary ? strlen(summary) : 0, ev.summary, sizeof(ev.summary));
	memcpy(ev.summary_hidden, ev.summary, sizeof(ev.summary));
	ev.payload = json_is_object(json) ? json_deep_copy(json) : json_object();
	ingest(t, &ev);
	json_decref(ev.payload);
}

void dp_loghub_emit(struct dp_loghub *h, int64_t target_id, const char *level, const char *summary, const json_t *json)
{
	emit(h, target_id, level, summary, json, 0);
}

void dp_loghub_emit_high(struct dp_loghub *h, int64_t target_id, const char *level, const char *summary,
                         const json_t *json)
{
	emit(h, target_id, level, summary, json, 1);
}

void dp_loghub_audit(struct dp_loghub *h, const char *id_text, const char *action, const char *user, const char *result,
                     const json_t *detail)
{
	if (!h || !id_text)
		return;
	char *end;
	errno = 0;
	long long id = strtoll(id_text, &end, 10);
	if (errno || *end || id <= 0)
		return;
	char sum[300];
	snprintf(sum, sizeof(sum), "%s by %s: %s", action ? action : "?", user ? user : "(none)",
	         result ? result : "?");
	json_t *p = json_pack("{s:s, s:s?, s:s?, s:s?, s:O}", "type", "dp.audit", "action", action, "user", user,
	                      "result", result, "detail", detail ? (json_t *)detail : json_null());
	int bad = result && strcmp(result, "ok") != 0;
	dp_loghub_emit_high(h, (int64_t)id, bad ? "warn" : "info", sum, p);
	json_decref(p);
}

/* ------------------------------------------------------------ perf API */

static int cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static json_t *summary_of(double *v, int n)
{
	if (n == 0)
		return json_pack("{s:n, s:n, s:n, s:n}", "avg", "p50", "min", "max");
	double sum = 0;
	for (int i = 0; i < n; i++)
		sum += v[i];
	qsort(v, (size_t)n, sizeof(*v), cmp_dbl);
	double p50 = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
	return json_pack("{s:f, s:f, s:f, s:f}", "avg", sum / n, "p50", p50, "min", v[0], "max", v[n - 1]);
}

static int cmp_perf(const void *a, const void *b)
{
	return strcmp(((const struct lh_perf *)a)->model, ((const struct lh_perf *)b)->model);
}

json_t *dp_loghub_perf(struct dp_loghub *h, int64_t target_id, const struct dp_loghub_endpoint *ep, const char *model,
                       int n)
{
	struct lh_target *t = target_get(h, target_id);
	target_set_endpoint(t, ep);
	struct lh_stream *st = &t->st[DP_LOGPARSE_MODEL];
	st->perf_until_ms = now_ms() + h->cfg.perf_linger_ms;
	stream_want(st);
	if (st->nsubs == 0)
		arm(st->linger_ev, h->cfg.perf_linger_ms + 10);
	if (n < 1)
		n = 1;
	if (n > h->cfg.perf_keep)
		n = h->cfg.perf_keep;
	if (t->nperf > 1)
		qsort(t->perf, (size_t)t->nperf, sizeof(*t->perf), cmp_perf);
	json_t *models = json_array();
	double *tps = xmalloc((size_t)n * sizeof(double)), *ttft = xmalloc((size_t)n * sizeof(double));
	for (int i = 0; i < t->nperf; i++) {
		struct lh_perf *p = &t->perf[i];
		if (model && strcmp(model, p->model) != 0)
			continue;
		int take = p->n < n ? p->n : n;
		json_t *preds = json_array();
		int ntps = 0, nttft = 0;
		for (int k = p->n - take; k < p->n; k++) {
			const struct lh_pred *x = &p->p[(p->head + k) % h->cfg.perf_keep];
			json_array_append_new(preds, pred_json(x));
			if (x->st.tokens_per_second >= 0)
				tps[ntps++] = x->st.tokens_per_second;
			if (x->st.ttft_sec >= 0)
				ttft[nttft++] = x->st.ttft_sec;
		}
		json_array_append_new(models, json_pack("{s:s, s:i, s:o, s:o, s:o}", "model", p->model, "count", p->n,
		                                        "tokens_per_second", summary_of(tps, ntps), "ttft_sec",
		                                        summary_of(ttft, nttft), "predictions", preds));
	}
	free(tps);
	free(ttft);
	int collecting = st_running(st) || st->state == ST_RESTARTING;
	return json_pack("{s:I, s:b, s:o, s:o, s:o}", "target_id", (json_int_t)t->id, "collecting", collecting, "since",
	                 time_json(t->perf_since_ms), "stream", status_json(st), "models", models);
}

/* ------------------------------------------------------------ introspection */

void dp_loghub_counts(const struct dp_loghub *h, struct dp_loghub_counts *out)
{
	memset(out, 0, sizeof(*out));
	for (const struct lh_target *t = h->targets; t; t = t->next) {
		out->targets++;
		out->viewers += t->nsubs;
		for (int i = 0; i < NSRC; i++)
			out->children += st_running(&t->st[i]);
	}
	out->lines = h->lines;
	out->bad_lines = h->bad;
	out->restarts = h->restarts;
	out->sent = h->sent;
	out->dropped_backlog = h->dropped_backlog;
}

json_t *dp_loghub_status(struct dp_loghub *h, int64_t target_id, enum dp_logparse_source src)
{
	struct lh_target *t = target_find(h, target_id);
	if (!t || (unsigned)src >= NSRC)
		return NULL;
	return status_json(&t->st[src]);
}

/* ------------------------------------------------------------ server wiring */

static int live_from_store(void *arg)
{
	struct dp_server *s = arg;
	char *mode = NULL;
	if (!s->store || dp_store_setting_get(s->store, "mode", &mode) < 0)
		return 0;
	int live = mode && strcmp(mode, "live") == 0;
	free(mode);
	return live;
}

static int target_exists(int64_t id, void *arg)
{
	struct dp_server *s = arg;
	return !s->health || dp_health_target(s->health, id) != NULL;
}

static void health_line(struct dp_server *s, const json_t *d)
{
	int64_t id = json_integer_value(json_object_get(d, "target_id"));
	const json_t *hl = json_object_get(d, "health");
	const char *state = json_string_value(json_object_get(hl, "state"));
	const char *prev = json_string_value(json_object_get(d, "previous"));
	const char *msg = json_string_value(json_object_get(json_object_get(hl, "error"), "message"));
	char sum[400];
	snprintf(sum, sizeof(sum), "health: %s -> %s%s%s", prev ? prev : "unknown", state ? state : "unknown",
	         msg ? " (" : "", msg ? msg : "");
	if (msg)
		snprintf(sum + strlen(sum), sizeof(sum) - strlen(sum), ")");
	json_t *p =
	        json_pack("{s:s, s:O, s:s?}", "type", "dp.health", "health", hl ? hl : json_null(), "previous", prev);
	int ok = state && strcmp(state, "running") == 0;
	dp_loghub_emit_high(s->loghub, id, ok ? "info" : "warn", sum, p);
	json_decref(p);
}

static void models_line(struct dp_server *s, const json_t *d)
{
	int64_t id = json_integer_value(json_object_get(d, "target_id"));
	const json_t *loaded = json_object_get(d, "loaded");
	char sum[400];
	size_t n = json_array_size(loaded);
	int o = snprintf(sum, sizeof(sum), n ? "loaded models (%zu):" : "no model loaded", n);
	for (size_t i = 0; i < n && o > 0 && (size_t)o < sizeof(sum); i++) {
		const char *iid = json_string_value(json_object_get(json_array_get(loaded, i), "instance_id"));
		o += snprintf(sum + o, sizeof(sum) - (size_t)o, "%s %s", i ? "," : "", iid ? iid : "?");
	}
	json_t *p = json_pack("{s:s, s:O, s:O}", "type", "dp.models", "loaded", loaded ? loaded : json_null(), "models",
	                      json_object_get(d, "models") ? json_object_get(d, "models") : json_null());
	dp_loghub_emit_high(s->loghub, id, "info", sum, p);
	json_decref(p);
}

/* events.h tap: the control plane's own events become daemonpulse lines. */
static void events_tap(const char *event, const json_t *data, void *arg)
{
	struct dp_server *s = arg;
	if (!s->loghub || !json_is_object(data))
		return;
	int64_t id = json_integer_value(json_object_get(data, "target_id"));
	if (id <= 0)
		return;
	if (strcmp(event, "health") == 0) {
		health_line(s, data);
	} else if (strcmp(event, "models") == 0) {
		models_line(s, data);
	} else if (strcmp(event, "target") == 0) {
		const char *action = json_string_value(json_object_get(data, "action"));
		char sum[128];
		snprintf(sum, sizeof(sum), "target %s", action ? action : "changed");
		json_t *p = json_pack("{s:s, s:s?}", "type", "dp.target", "action", action);
		dp_loghub_emit_high(s->loghub, id, "info", sum, p);
		json_decref(p);
	} else if (strcmp(event, "load") == 0) {
		const char *model = json_string_value(json_object_get(data, "model"));
		const char *result = json_string_value(json_object_get(data, "result"));
		const char *by = json_string_value(json_object_get(data, "by"));
		const char *emsg = json_string_value(json_object_get(json_object_get(data, "error"), "message"));
		int ok = !result || strcmp(result, "failed") != 0; /* started, queued, cancelled, ok or failed */
		char sum[600];
		snprintf(sum, sizeof(sum), "load %s %s%s%s%s%s", model ? model : "?", result ? result : "?",
		         by ? " by " : "", by ? by : "", emsg ? ": " : "", emsg ? emsg : "");
		json_t *p = json_deep_copy(data);
		json_object_set_new(p, "type", json_string("dp.load"));
		dp_loghub_emit_high(s->loghub, id, ok ? "info" : "error", sum, p);
		json_decref(p);
	} else {
		/* downloads (start and end only, not every progress step) and
		 * whatever comes later: kept, not high-level */
		const json_t *dj = json_object_get(data, "job");
		const char *dst = json_string_value(json_object_get(dj, "status"));
		if (strcmp(event, "download") == 0 && dst && strcmp(dst, "downloading") == 0 &&
		    json_integer_value(json_object_get(dj, "downloaded_bytes")) > 0)
			return;
		char type[64], sum[128];
		snprintf(type, sizeof(type), "dp.%s", event);
		snprintf(sum, sizeof(sum), "%s", event);
		const json_t *job = json_object_get(data, "job");
		const char *status = json_string_value(json_object_get(job, "status"));
		if (status)
			snprintf(sum, sizeof(sum), "%s %s", event, status);
		json_t *p = json_deep_copy(data);
		json_object_set_new(p, "type", json_string(type));
		dp_loghub_emit(s->loghub, id, "info", sum, p);
		json_decref(p);
	}
}

int dp_loghub_attach(struct dp_server *s, char **err)
{
	(void)err;
	struct dp_loghub_config c;
	dp_loghub_config_defaults(&c);
	s->loghub = dp_loghub_new(s->base, s->lms, &c);
	s->loghub->srv = s;
	dp_loghub_set_live_fn(s->loghub, live_from_store, s);
	dp_loghub_set_exists_fn(s->loghub, target_exists, s);
	if (s->events)
		dp_events_set_tap(s->events, events_tap, s);
	return 0;
}

void dp_loghub_detach(struct dp_server *s)
{
	if (s->events)
		dp_events_set_tap(s->events, NULL, NULL);
	dp_loghub_free(s->loghub);
	s->loghub = NULL;
}
