/*
 * api_chat.c - The Pulse's server side: POST /api/targets/{id}/chat relays
 * LM Studio's streaming answer to the browser event by event, normalised
 * (chat.h) into the event stream of docs/api-chat.md; POST
 * /api/chat/{request_id}/stop; GET /api/targets/{id}/slots.
 *
 * One struct relay per chat request joins three lifetimes: the browser's
 * SSE stream (sse.h), the upstream request (upstream.h) and the relay
 * itself. The relay is freed when both the stream and the upstream request
 * are gone, in whichever order that happens:
 *
 *   - the upstream ends (done, failed, aborted by Stop): on_done sends the
 *     closing events (`error`?, `stats`, `end`), saves the assistant
 *     message, ends the stream;
 *   - the browser goes away (closed, dropped for a full queue, server
 *     shutdown): the stream's on_close aborts the upstream request (LM
 *     Studio sees the connection close in the same loop turn); on_done
 *     follows and still saves what arrived.
 *
 * No buffering: every upstream event is normalised and written (and
 * flushed by the HTTP layer) from the upstream's event callback, which runs
 * at the byte that completes the event. Back-pressure: past RELAY_HIGH bytes
 * queued for the browser the upstream is paused (dp_upstream_pause; LM
 * Studio is slowed by TCP) and a RELAY_POLL_MS timer resumes it once the
 * queue is under RELAY_LOW; a client that still overflows the SSE writer's
 * queue is dropped by sse.c, which counts as a disconnect.
 *
 * Live relays are kept in a list of this file (loop thread only) so Stop
 * can find them by request id.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <sodium.h>

#include "api.h"
#include "audit.h"
#include "api_chat.h"
#include "auth.h"
#include "chat.h"
#include "conversations.h"
#include "http.h"
#include "lms.h"
#include "log.h"
#include "secret.h"
#include "server.h"
#include "sse.h"
#include "targets.h"
#include "upstream.h"

#define RELAY_HIGH            (256u << 10)
#define RELAY_LOW             (64u << 10)
#define RELAY_POLL_MS         5
#define RELAY_IDLE_TIMEOUT_MS 120000
#define RELAY_MAX_EVENT       (16u << 20) /* v1 chat.end carries the whole answer */
#define MAX_MESSAGES          512
#define MAX_TEXT_TOTAL        (1u << 20)
#define MAX_STOP              8
#define MAX_MODEL             256
#define MAX_CHATS_PER_USER    16   /* running relays of one user (compare needs 2) */
#define MAX_CHATS             1024 /* running relays in all */

struct relay {
	struct relay *next, *prev; /* the live list */
	struct dp_server *srv;
	struct dp_sse *down;        /* NULL once the browser's stream is gone */
	struct dp_http_req *req;    /* the stream's request (valid while down) */
	struct dp_upstream_req *up; /* NULL once on_done ran (or never started) */
	struct event *bp_timer;     /* back-pressure resume poll */
	struct dp_chat_norm norm;
	enum dp_chat_api api;
	char request_id[24];
	char model[MAX_MODEL + 1];
	int64_t user_id;
	int user_role;
	char username[DP_USERNAME_MAX + 1]; /* for the audit entry */
	char ip[64];
	int64_t target_id;
	int64_t conversation_id; /* 0: not saving */
	int regenerate;          /* the answer replaces the last one */
	int64_t message_id;
	int64_t max_tokens; /* requested limit, 0 none */
	struct timespec t0;
	double t_first_byte, t_first_tok, t_last_tok; /* ms since t0, -1 none */
	int stopped;                                  /* Stop or disconnect: userStopped */
	int failed;                                   /* upstream error: error event sent */
	int finishing;
	json_t *stats;            /* the stats event, kept for history */
	struct dp_chat_hook hook; /* api_chat.h (toolchain), zero when none */
};

static struct relay *live;

static double ms_since(const struct timespec *t0)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t0->tv_sec) * 1e3 + (double)(now.tv_nsec - t0->tv_nsec) / 1e6;
}

static void relay_free(struct relay *x)
{
	if (x->prev)
		x->prev->next = x->next;
	else if (live == x)
		live = x->next;
	if (x->next)
		x->next->prev = x->prev;
	if (x->bp_timer)
		event_free(x->bp_timer);
	dp_chat_norm_release(&x->norm);
	json_decref(x->stats);
	if (x->hook.on_free)
		x->hook.on_free(x->hook.arg);
	free(x);
}

static void maybe_free(struct relay *x)
{
	if (!x->down && !x->up && !x->finishing)
		relay_free(x);
}

static void send_ev(struct relay *x, const char *name, const char *json, size_t len)
{
	if (x->hook.on_event)
		x->hook.on_event(x->hook.arg, name, json, len);
	if (!x->down)
		return;
	int rc = dp_sse_send(x->down, NULL, name, json, len);
	if (rc == -EPIPE && x->up && !x->stopped) {
		/* the client is gone or was dropped: stop generating now, its
		 * on_close follows from the loop */
		x->stopped = 1;
		dp_upstream_abort(x->up);
	} else if (rc < 0 && rc != -EPIPE) {
		/* an event past the SSE writer's 1 MiB bound (a huge tool
		 * output): skipped, said so, the stream goes on */
		dp_warn("chat %s: %s event of %zu bytes not relayed (%d)", x->request_id, name, len, rc);
		if (strcmp(name, "error") != 0) {
			static const char msg[] =
			        "{\"code\":\"event_too_large\",\"message\":\"an event was too large to relay\"}";
			dp_sse_send(x->down, NULL, "error", msg, sizeof(msg) - 1);
		}
	}
}

static void send_json(struct relay *x, const char *name, json_t *o)
{
	char *s = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(12));
	json_decref(o);
	if (s) {
		send_ev(x, name, s, strlen(s));
		free(s);
	}
}

static void send_stats(struct relay *x)
{
	if (x->stats)
		return;
	double now = ms_since(&x->t0);
	struct dp_chat_timing t = {
	        .ttft_ms = x->t_first_tok,
	        .ttfb_ms = x->t_first_byte,
	        .generation_ms = x->t_first_tok >= 0 ? x->t_last_tok - x->t_first_tok : -1,
	        .total_ms = now,
	};
	x->stats = dp_chat_stats_json(&x->norm, &t);
	char *s = json_dumps(x->stats, JSON_COMPACT | JSON_REAL_PRECISION(12));
	if (s) {
		send_ev(x, "stats", s, strlen(s));
		free(s);
	}
}

/* chat.h's emit: one downstream event. */
static void on_norm(void *arg, enum dp_chat_ev ev, const char *json, size_t len)
{
	struct relay *x = arg;
	if (ev == DP_CHAT_EV_STATS) {
		send_stats(x);
		return;
	}
	if (ev == DP_CHAT_EV_REASONING || ev == DP_CHAT_EV_CONTENT || ev == DP_CHAT_EV_TOOL_CALL) {
		double now = ms_since(&x->t0);
		if (x->t_first_tok < 0)
			x->t_first_tok = now;
		x->t_last_tok = now;
	}
	send_ev(x, dp_chat_ev_name(ev), json, len);
}

static void bp_poll(evutil_socket_t fd, short what, void *arg)
{
	struct relay *x = arg;
	(void)fd;
	(void)what;
	if (!x->up || !dp_upstream_paused(x->up))
		return;
	if (!x->down || dp_http_stream_pending(x->req) <= RELAY_LOW) {
		dp_upstream_resume(x->up);
		return;
	}
	struct timeval tv = {0, RELAY_POLL_MS * 1000};
	evtimer_add(x->bp_timer, &tv);
}

static void up_event(struct dp_upstream_req *r, const struct dp_sse_parse_event *ev, void *arg)
{
	struct relay *x = arg;
	if (x->t_first_byte < 0) {
		double tb = dp_upstream_req_ttfb_ms(r);
		x->t_first_byte = tb >= 0 ? tb : ms_since(&x->t0);
	}
	dp_chat_norm_feed(&x->norm, ev->event, ev->event_len, ev->data, ev->data_len);
	if (x->down && x->up && !x->stopped && dp_http_stream_pending(x->req) > RELAY_HIGH) {
		dp_upstream_pause(r);
		if (!x->bp_timer)
			x->bp_timer = evtimer_new(x->srv->base, bp_poll, x);
		struct timeval tv = {0, RELAY_POLL_MS * 1000};
		evtimer_add(x->bp_timer, &tv);
	}
}

static void save_assistant(struct relay *x, const char *stop_reason)
{
	if (!x->conversation_id || !x->srv->store)
		return;
	char *stats = x->stats ? json_dumps(x->stats, JSON_COMPACT | JSON_REAL_PRECISION(12)) : NULL;
	int rc = dp_conv_append(x->srv->store, x->conversation_id, x->user_id, "assistant", x->norm.content.data,
	                        x->norm.reasoning.data, x->model, stats, stop_reason, dp_auth_now(x->srv->auth),
	                        &x->message_id);
	free(stats);
	if (rc < 0 && rc != -ENOENT) /* -ENOENT: deleted meanwhile */
		dp_warn("chat %s: could not save the answer (%d)", x->request_id, rc);
}

/* ------------------------------------------------------------ metrics */

/* A fixed table: targets past CHAT_METRICS_TARGETS share the last row
 * (target_id="other"), so the label values stay bounded. */
#define CHAT_METRICS_TARGETS 64
static const double ttft_le[] = {0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
#define NTTFT (sizeof(ttft_le) / sizeof(ttft_le[0]))

struct chat_stat {
	int64_t target_id;
	uint64_t ended[3]; /* ok (completed, stop string, max tokens...), stopped by the user, failed */
	uint64_t token_events;
	uint64_t ttft_bucket[NTTFT]; /* non-cumulative; +Inf = ttft_count */
	uint64_t ttft_count;
	double ttft_sum;
};
static struct chat_stat chat_stats[CHAT_METRICS_TARGETS + 1];
static size_t nchat_stats;
static const char *const ended_names[3] = {"ok", "stopped", "failed"};

static void count_chat(const struct relay *x, const char *stop_reason)
{
	struct chat_stat *st = NULL;
	for (size_t i = 0; i < nchat_stats && !st; i++)
		if (chat_stats[i].target_id == x->target_id)
			st = &chat_stats[i];
	if (!st) {
		st = nchat_stats < CHAT_METRICS_TARGETS ? &chat_stats[nchat_stats++]
		                                        : &chat_stats[CHAT_METRICS_TARGETS];
		if (st != &chat_stats[CHAT_METRICS_TARGETS])
			st->target_id = x->target_id;
	}
	st->ended[x->failed ? 2 : strcmp(stop_reason, "userStopped") == 0 ? 1 : 0]++;
	st->token_events += x->norm.token_events;
	if (x->t_first_tok >= 0) {
		double sec = x->t_first_tok / 1000.0;
		st->ttft_count++;
		st->ttft_sum += sec;
		for (size_t b = 0; b < NTTFT; b++)
			if (sec <= ttft_le[b]) {
				st->ttft_bucket[b]++;
				break;
			}
	}
}

static void stat_label(struct dp_buf *out, size_t i)
{
	if (i == CHAT_METRICS_TARGETS)
		dp_buf_adds(out, "target_id=\"other\"");
	else
		dp_buf_addf(out, "target_id=\"%lld\"", (long long)chat_stats[i].target_id);
}

int dp_api_chat_metrics(void *arg, struct dp_buf *out)
{
	(void)arg;
	size_t running = 0;
	for (const struct relay *r = live; r; r = r->next)
		running++;
	dp_buf_addf(out,
	            "# HELP daemonpulse_chat_streams Chats being relayed now (Pulse and Toolchain runs).\n"
	            "# TYPE daemonpulse_chat_streams gauge\n"
	            "daemonpulse_chat_streams %zu\n"
	            "# HELP daemonpulse_chat_total Chats that ended, by target and how: ok, stopped (by the user"
	            " or a disconnect), failed.\n"
	            "# TYPE daemonpulse_chat_total counter\n",
	            running);
	size_t rows[CHAT_METRICS_TARGETS + 1], nrows = 0;
	for (size_t i = 0; i < nchat_stats; i++)
		rows[nrows++] = i;
	if (chat_stats[CHAT_METRICS_TARGETS].ended[0] + chat_stats[CHAT_METRICS_TARGETS].ended[1] +
	    chat_stats[CHAT_METRICS_TARGETS].ended[2])
		rows[nrows++] = CHAT_METRICS_TARGETS;
	for (size_t r = 0; r < nrows; r++)
		for (int k = 0; k < 3; k++) {
			dp_buf_adds(out, "daemonpulse_chat_total{");
			stat_label(out, rows[r]);
			dp_buf_addf(out, ",result=\"%s\"} %llu\n", ended_names[k],
			            (unsigned long long)chat_stats[rows[r]].ended[k]);
		}
	dp_buf_adds(out, "# HELP daemonpulse_chat_token_events_total Reasoning, content and tool events relayed.\n"
	                 "# TYPE daemonpulse_chat_token_events_total counter\n");
	for (size_t r = 0; r < nrows; r++) {
		dp_buf_adds(out, "daemonpulse_chat_token_events_total{");
		stat_label(out, rows[r]);
		dp_buf_addf(out, "} %llu\n", (unsigned long long)chat_stats[rows[r]].token_events);
	}
	dp_buf_adds(out, "# HELP daemonpulse_chat_ttft_seconds Time to first token measured at DaemonPulse (request"
	                 " sent upstream to the first token byte; a JIT model load is part of it).\n"
	                 "# TYPE daemonpulse_chat_ttft_seconds histogram\n");
	for (size_t r = 0; r < nrows; r++) {
		const struct chat_stat *st = &chat_stats[rows[r]];
		uint64_t cum = 0;
		for (size_t b = 0; b < NTTFT; b++) {
			cum += st->ttft_bucket[b];
			dp_buf_adds(out, "daemonpulse_chat_ttft_seconds_bucket{");
			stat_label(out, rows[r]);
			dp_buf_addf(out, ",le=\"%g\"} %llu\n", ttft_le[b], (unsigned long long)cum);
		}
		dp_buf_adds(out, "daemonpulse_chat_ttft_seconds_bucket{");
		stat_label(out, rows[r]);
		dp_buf_addf(out, ",le=\"+Inf\"} %llu\ndaemonpulse_chat_ttft_seconds_sum{",
		            (unsigned long long)st->ttft_count);
		stat_label(out, rows[r]);
		dp_buf_addf(out, "} %.6f\ndaemonpulse_chat_ttft_seconds_count{", st->ttft_sum);
		stat_label(out, rows[r]);
		if (dp_buf_addf(out, "} %llu\n", (unsigned long long)st->ttft_count) < 0)
			return -ENOSPC;
	}
	return 0;
}

/* One audit entry per chat, when it ends: who used which model on which
 * target, how it ended and how much it produced. Never the prompt or the
 * answer (they stay in the user's own history, when saved). */
static void audit_chat(struct relay *x, const char *stop_reason, const struct dp_upstream_result *res)
{
	if (!x->srv->store)
		return;
	char ref[40];
	snprintf(ref, sizeof(ref), "target:%lld", (long long)x->target_id);
	const char *result = x->failed ? DP_AUDIT_FAILED : DP_AUDIT_OK;
	json_t *d = json_pack("{s:s,s:s,s:s,s:s,s:I,s:f}", "model", x->model, "api", dp_chat_api_name(x->api),
	                      "stop_reason", stop_reason, "request_id", x->request_id, "token_events",
	                      (json_int_t)x->norm.token_events, "duration_ms", ms_since(&x->t0));
	if (x->conversation_id)
		json_object_set_new(d, "conversation_id", json_integer(x->conversation_id));
	if (x->regenerate)
		json_object_set_new(d, "regenerate", json_true());
	if (x->norm.lms_tokens >= 0)
		json_object_set_new(d, "tokens", json_integer(x->norm.lms_tokens));
	if (x->t_first_tok >= 0)
		json_object_set_new(d, "ttft_ms", json_real(x->t_first_tok));
	if (x->failed && res && res->code)
		json_object_set_new(d, "error", json_string(res->code));
	if (x->hook.on_event)
		json_object_set_new(d, "tools", json_true());
	dp_audit_record(x->srv->store, x->user_id, x->username, "chat", ref, result, d, x->ip);
	json_decref(d);
}

static void up_done(struct dp_upstream_req *r, const struct dp_upstream_result *res, void *arg)
{
	struct relay *x = arg;
	(void)r;
	x->up = NULL;
	x->finishing = 1;
	if (x->bp_timer)
		evtimer_del(x->bp_timer);
	dp_chat_norm_finish(&x->norm);
	const char *stop_reason;
	if (res->outcome == DP_UPSTREAM_CANCELLED || x->stopped) {
		stop_reason = "userStopped";
	} else if (res->outcome != DP_UPSTREAM_OK) {
		x->failed = 1;
		stop_reason = "error";
		char msg[DP_CHAT_MAX_ERROR_MSG + 1];
		dp_chat_sanitize(msg, sizeof(msg), res->message ? res->message : "",
		                 res->message ? strlen(res->message) : 0);
		send_json(x, "error",
		          json_pack("{s:s,s:s}", "code", res->code ? res->code : "upstream_error", "message",
		                    msg[0] ? msg : "the upstream request failed"));
	} else if (!x->norm.done) {
		/* a clean end of the HTTP stream without chat.end / [DONE] */
		x->failed = 1;
		stop_reason = "error";
		send_json(x, "error",
		          json_pack("{s:s,s:s}", "code", "incomplete_stream", "message",
		                    x->api == DP_CHAT_API_V1 ? "the daemon ended the stream without chat.end"
		                                             : "the daemon ended the stream without [DONE]"));
	} else {
		stop_reason = dp_chat_norm_stop_reason(&x->norm);
		if (!strcmp(stop_reason, "completed") && x->norm.error_events)
			stop_reason = "error"; /* LM Studio reported an error in the stream */
		/* v1 does not say why it stopped: reaching the requested limit is
		 * the one reason that can be told from its stats */
		if (!strcmp(stop_reason, "completed") && x->max_tokens > 0 && x->norm.lms_tokens >= x->max_tokens)
			stop_reason = "maxPredictedTokensReached";
	}
	send_stats(x);
	save_assistant(x, stop_reason);
	count_chat(x, stop_reason);
	audit_chat(x, stop_reason, res);
	json_t *end = json_pack("{s:s,s:o,s:o,s:o}", "stop_reason", stop_reason, "response_id",
	                        x->norm.response_id[0] ? json_string(x->norm.response_id) : json_null(),
	                        "conversation_id", x->conversation_id ? json_integer(x->conversation_id) : json_null(),
	                        "message_id", x->message_id ? json_integer(x->message_id) : json_null());
	send_json(x, "end", end);
	if (x->down)
		dp_sse_end(x->down); /* on_close runs now and clears x->down */
	x->finishing = 0;
	maybe_free(x);
}

static void down_closed(struct dp_sse *s, void *arg)
{
	struct relay *x = arg;
	(void)s;
	x->down = NULL;
	x->req = NULL;
	if (x->up) {
		x->stopped = 1;
		dp_upstream_abort(x->up); /* on_done (cancelled) follows and frees x */
		return;
	}
	maybe_free(x);
}

/* ------------------------------------------------------- request body */

struct chatreq {
	const char *model;
	enum dp_chat_api api;
	json_t *messages;
	const char *system_prompt;
	const char *prev_id;
	const char *think_open, *think_close;
	int think_off;
	int save;
	int regenerate; /* answer the conversation's last user message again */
	int64_t conversation_id;
};

static int bad(struct dp_ctx *c, const char *fmt, const char *field)
{
	dp_reply_error(c, 400, "bad_request", fmt, field);
	return -1;
}

static int check_number(struct dp_ctx *c, const char *k, double lo, double hi, int integer)
{
	json_t *v = json_object_get(c->body, k);
	if (!v || json_is_null(v))
		return 0;
	if (integer ? !json_is_integer(v) : !json_is_number(v))
		return bad(c, integer ? "%s must be an integer" : "%s must be a number", k);
	double d = json_number_value(v);
	if (!(d >= lo && d <= hi)) {
		dp_reply_error(c, 400, "bad_request", "%s must be between %g and %g", k, lo, hi);
		return -1;
	}
	return 1;
}

static int parse_body(struct dp_ctx *c, struct chatreq *q)
{
	json_t *b = c->body;
	memset(q, 0, sizeof(*q));
	q->save = 1;
	if (!b)
		return bad(c, "%s", "a JSON body is required");
	json_t *v = json_object_get(b, "model");
	if (!json_is_string(v) || !json_string_length(v) || json_string_length(v) > MAX_MODEL)
		return bad(c, "%s must be a string of 1 to 256 bytes", "model");
	q->model = json_string_value(v);
	for (const char *p = q->model; *p; p++)
		if ((unsigned char)*p < 0x20)
			return bad(c, "%s must not contain control characters", "model");
	v = json_object_get(b, "api");
	q->api = DP_CHAT_API_V1;
	if (v && !json_is_null(v)) {
		int a = dp_chat_api_parse(json_string_value(v));
		if (a < 0)
			return bad(c, "%s must be \"v1\", \"v0\" or \"openai\"", "api");
		q->api = (enum dp_chat_api)a;
	}
	q->messages = json_object_get(b, "messages");
	size_t n = json_array_size(q->messages), total = 0;
	if (!json_is_array(q->messages) || n < 1 || n > MAX_MESSAGES)
		return bad(c, "%s must be an array of 1 to 512 messages", "messages");
	size_t i;
	json_t *m;
	json_array_foreach(q->messages, i, m)
	{
		const char *role = json_string_value(json_object_get(m, "role"));
		json_t *content = json_object_get(m, "content");
		if (!role || (strcmp(role, "system") && strcmp(role, "user") && strcmp(role, "assistant")))
			return bad(c, "%s: each role must be system, user or assistant", "messages");
		if (!json_is_string(content))
			return bad(c, "%s: each content must be a string", "messages");
		total += json_string_length(content);
		if (i == n - 1 && strcmp(role, "user"))
			return bad(c, "%s: the last message must be from the user", "messages");
	}
	v = json_object_get(b, "system_prompt");
	if (v && !json_is_null(v)) {
		if (!json_is_string(v))
			return bad(c, "%s must be a string", "system_prompt");
		q->system_prompt = json_string_value(v);
		total += json_string_length(v);
	}
	if (total > MAX_TEXT_TOTAL)
		return bad(c, "%s: the text of the request is limited to 1 MiB", "messages");
	if (check_number(c, "temperature", 0, 5, 0) < 0 || check_number(c, "top_p", 0, 1, 0) < 0 ||
	    check_number(c, "top_k", 0, 100000, 1) < 0 || check_number(c, "repeat_penalty", 0, 10, 0) < 0 ||
	    check_number(c, "max_tokens", -1, 10000000, 1) < 0 || check_number(c, "seed", -9.2e18, 9.2e18, 1) < 0)
		return -1;
	v = json_object_get(b, "stop");
	if (v && !json_is_null(v)) {
		int ok = json_is_string(v) && json_string_length(v) <= 256;
		if (json_is_array(v) && json_array_size(v) <= MAX_STOP) {
			ok = 1;
			json_t *s;
			json_array_foreach(v, i, s) if (!json_is_string(s) || !json_string_length(s) ||
			                                json_string_length(s) > 256) ok = 0;
		}
		if (!ok)
			return bad(c, "%s must be a string or an array of at most 8 strings of 1 to 256 bytes", "stop");
	}
	v = json_object_get(b, "reasoning");
	if (v && !json_is_null(v)) {
		const char *r = json_string_value(v);
		if (!r || (strcmp(r, "off") && strcmp(r, "low") && strcmp(r, "medium") && strcmp(r, "high") &&
		           strcmp(r, "on")))
			return bad(c, "%s must be off, low, medium, high or on", "reasoning");
	}
	v = json_object_get(b, "think_tags");
	if (json_is_false(v)) {
		q->think_off = 1;
	} else if (v && !json_is_null(v)) {
		json_t *o = json_object_get(v, "open"), *cl = json_object_get(v, "close");
		if (!json_is_object(v) || !json_is_string(o) || !json_is_string(cl) || !json_string_length(o) ||
		    !json_string_length(cl) || json_string_length(o) > DP_THINK_TAG_MAX ||
		    json_string_length(cl) > DP_THINK_TAG_MAX || json_equal(o, cl))
			return bad(c, "%s must be false or {open, close}: two different strings of 1 to 31 bytes",
			           "think_tags");
		q->think_open = json_string_value(o);
		q->think_close = json_string_value(cl);
	}
	v = json_object_get(b, "conversation_id");
	if (v && !json_is_null(v)) {
		if (!json_is_integer(v) || json_integer_value(v) < 1)
			return bad(c, "%s must be a positive integer", "conversation_id");
		q->conversation_id = json_integer_value(v);
	}
	v = json_object_get(b, "save");
	if (v && !json_is_null(v)) {
		if (!json_is_boolean(v))
			return bad(c, "%s must be true or false", "save");
		q->save = json_is_true(v);
	}
	v = json_object_get(b, "regenerate");
	if (v && !json_is_null(v)) {
		if (!json_is_boolean(v))
			return bad(c, "%s must be true or false", "regenerate");
		q->regenerate = json_is_true(v);
		if (q->regenerate && (!q->conversation_id || !q->save))
			return bad(c, "%s needs a saved conversation: give conversation_id (and not save: false)",
			           "regenerate");
	}
	v = json_object_get(b, "previous_response_id");
	if (v && !json_is_null(v)) {
		const char *p = json_string_value(v);
		if (!p || !*p || strlen(p) > 128 || q->api != DP_CHAT_API_V1)
			return bad(c, "%s must be a response id of at most 128 bytes (v1 only)",
			           "previous_response_id");
		for (const char *s = p; *s; s++)
			if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
			      *s == '_' || *s == '-'))
				return bad(c, "%s may only contain letters, digits, '_' and '-'",
				           "previous_response_id");
		q->prev_id = p;
	}
	return 0;
}

static void copy_field(json_t *dst, const char *dk, json_t *src, const char *sk)
{
	json_t *v = json_object_get(src, sk);
	if (v && !json_is_null(v))
		json_object_set(dst, dk, v);
}

/* The v1 `input`: see docs/api-chat.md ("Multi-turn on v1"). */
static void v1_input(const struct chatreq *q, struct dp_buf *input, struct dp_buf *sys)
{
	size_t i, turns = 0;
	json_t *m;
	if (q->system_prompt)
		dp_buf_adds(sys, q->system_prompt);
	json_array_foreach(q->messages, i, m)
	{
		const char *role = json_string_value(json_object_get(m, "role"));
		if (strcmp(role, "system") == 0) {
			if (sys->len)
				dp_buf_adds(sys, "\n\n");
			dp_buf_adds(sys, json_string_value(json_object_get(m, "content")));
		} else {
			turns++;
		}
	}
	json_t *last = json_array_get(q->messages, json_array_size(q->messages) - 1);
	if (turns == 1 || q->prev_id) {
		dp_buf_adds(input, json_string_value(json_object_get(last, "content")));
		return;
	}
	json_array_foreach(q->messages, i, m)
	{
		const char *role = json_string_value(json_object_get(m, "role"));
		if (strcmp(role, "system") == 0)
			continue;
		if (input->len)
			dp_buf_adds(input, "\n\n");
		dp_buf_adds(input, strcmp(role, "user") == 0 ? "User: " : "Assistant: ");
		dp_buf_adds(input, json_string_value(json_object_get(m, "content")));
	}
}

/* The exact upstream body (reference §3.6 for v1, §2.2 / §4 otherwise). */
static char *upstream_body(struct dp_ctx *c, const struct chatreq *q, json_t *integrations)
{
	json_t *b = c->body, *o = json_object();
	json_object_set_new(o, "model", json_string(q->model));
	if (q->api == DP_CHAT_API_V1) {
		struct dp_buf input, sys;
		dp_buf_init(&input, 4u << 20);
		dp_buf_init(&sys, 4u << 20);
		v1_input(q, &input, &sys);
		json_object_set_new(o, "input", json_stringn(input.data, input.len));
		if (sys.len)
			json_object_set_new(o, "system_prompt", json_stringn(sys.data, sys.len));
		dp_buf_release(&input);
		dp_buf_release(&sys);
		json_object_set_new(o, "stream", json_true());
		copy_field(o, "temperature", b, "temperature");
		copy_field(o, "top_p", b, "top_p");
		copy_field(o, "top_k", b, "top_k");
		copy_field(o, "repeat_penalty", b, "repeat_penalty");
		copy_field(o, "max_output_tokens", b, "max_tokens");
		copy_field(o, "reasoning", b, "reasoning");
		if (q->prev_id)
			json_object_set_new(o, "previous_response_id", json_string(q->prev_id));
		if (integrations)
			json_object_set(o, "integrations", integrations);
	} else {
		json_t *msgs = json_array();
		if (q->system_prompt)
			json_array_append_new(msgs,
			                      json_pack("{s:s,s:s}", "role", "system", "content", q->system_prompt));
		size_t i;
		json_t *m;
		json_array_foreach(q->messages, i, m)
		        json_array_append_new(msgs, json_pack("{s:O,s:O}", "role", json_object_get(m, "role"),
		                                              "content", json_object_get(m, "content")));
		json_object_set_new(o, "messages", msgs);
		json_object_set_new(o, "stream", json_true());
		if (q->api == DP_CHAT_API_OPENAI)
			json_object_set_new(o, "stream_options", json_pack("{s:b}", "include_usage", 1));
		copy_field(o, "temperature", b, "temperature");
		copy_field(o, "top_p", b, "top_p");
		copy_field(o, "top_k", b, "top_k");
		copy_field(o, "repeat_penalty", b, "repeat_penalty");
		copy_field(o, "max_tokens", b, "max_tokens");
		copy_field(o, "seed", b, "seed");
		copy_field(o, "stop", b, "stop");
	}
	char *s = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(17));
	json_decref(o);
	return s;
}

/* ---------------------------------------------------------------- chat */

static void new_request_id(char out[24])
{
	unsigned char r[8];
	static const char hex[] = "0123456789abcdef";
	randombytes_buf(r, sizeof(r));
	out[0] = 'c';
	out[1] = '_';
	for (int i = 0; i < 8; i++) {
		out[2 + 2 * i] = hex[r[i] >> 4];
		out[3 + 2 * i] = hex[r[i] & 15];
	}
	out[18] = '\0';
}

/* The history side of a new turn: the conversation (given or new) and the
 * user's message. 0, or -1 after replying. */
static int save_user(struct dp_ctx *c, const struct chatreq *q, int64_t target_id, int64_t *conv)
{
	struct dp_store *st = c->srv->store;
	int64_t now = dp_auth_now(c->srv->auth);
	*conv = 0;
	if (!q->save || !st)
		return 0;
	int rc;
	json_t *last = json_array_get(q->messages, json_array_size(q->messages) - 1);
	const char *text = json_string_value(json_object_get(last, "content"));
	if (q->regenerate) {
		/* the user message is saved already: drop its old answers */
		rc = dp_conv_retry_last(st, q->conversation_id, c->user.id, text, now);
		if (rc == -ENOENT) {
			dp_reply_error(c, 404, "not_found", "no such conversation");
			return -1;
		}
		if (rc == -ESTALE) {
			dp_reply_error(
			        c, 409, "conflict",
			        "the conversation's last saved message is not this one: reopen it and try again");
			return -1;
		}
		if (rc < 0) {
			dp_reply_error(c, 500, "internal", "could not save the conversation");
			return -1;
		}
		*conv = q->conversation_id;
		return 0;
	}
	if (q->conversation_id) {
		rc = dp_conv_check(st, q->conversation_id, c->user.id);
		if (rc == -ENOENT) {
			dp_reply_error(c, 404, "not_found", "no such conversation");
			return -1;
		}
		*conv = q->conversation_id;
	} else {
		char title[256];
		dp_conv_title_from(text, title, sizeof(title));
		struct dp_conv_new n = {.title = title,
		                        .target_id = target_id,
		                        .model = q->model,
		                        .api = dp_chat_api_name(q->api),
		                        .system_prompt = q->system_prompt};
		rc = dp_conv_create(st, c->user.id, &n, now, conv);
	}
	if (rc == 0)
		rc = dp_conv_append(st, *conv, c->user.id, "user", text, NULL, NULL, NULL, NULL, now, NULL);
	if (rc < 0) {
		dp_reply_error(c, 500, "internal", "could not save the conversation");
		return -1;
	}
	return 0;
}

static void hook_done(const struct dp_chat_hook *h)
{
	if (h->on_free)
		h->on_free(h->arg);
}

void dp_api_chat_run(struct dp_ctx *c, const struct dp_chat_hook *hook)
{
	struct dp_server *srv = c->srv;
	int64_t tid = dp_ctx_param_id(c, "id");
	struct dp_chat_hook h = {0};
	if (hook)
		h = *hook;
	struct chatreq q;
	if (parse_body(c, &q) < 0) {
		hook_done(&h);
		return;
	}
	int mine = 0, all = 0;
	for (struct relay *r = live; r; r = r->next) {
		all++;
		mine += r->user_id == c->user.id;
	}
	if (mine >= MAX_CHATS_PER_USER || all >= MAX_CHATS) {
		dp_http_add_header(c->req, "Retry-After", "1");
		dp_reply_error(c, 429, "too_many_chats", "at most %d chats may run at once per user (%d in all)",
		               MAX_CHATS_PER_USER, MAX_CHATS);
		hook_done(&h);
		return;
	}
	struct dp_target t;
	dp_target_init(&t);
	if (tid < 0 || !srv->store || dp_targets_get(srv->store, tid, &t) < 0) {
		dp_target_release(&t);
		dp_reply_error(c, 404, "not_found", "no such target");
		hook_done(&h);
		return;
	}
	char *token = NULL;
	if (t.api_key_enc && dp_target_token(&t, srv->secret, &token) < 0) {
		dp_target_release(&t);
		dp_reply_error(c, 500, "token_unreadable",
		               "the target's stored API token cannot be decrypted with this secret.key; set it again");
		hook_done(&h);
		return;
	}
	char *body = upstream_body(c, &q, q.api == DP_CHAT_API_V1 ? h.integrations : NULL);
	int64_t conv = 0;
	if (!body || save_user(c, &q, tid, &conv) < 0) {
		if (!body)
			dp_reply_error(c, 500, "internal", "could not build the upstream request");
		free(body);
		dp_secret_wipe_free(token);
		dp_target_release(&t);
		hook_done(&h);
		return;
	}

	struct relay *x = calloc(1, sizeof(*x));
	if (!x)
		abort();
	x->srv = srv;
	x->hook = h;
	x->hook.integrations = NULL; /* borrowed: used for the body only */
	x->api = q.api;
	x->user_id = c->user.id;
	x->user_role = c->user.role;
	snprintf(x->username, sizeof(x->username), "%s", c->user.username);
	snprintf(x->ip, sizeof(x->ip), "%s", dp_ctx_peer(c));
	x->target_id = tid;
	x->conversation_id = conv;
	x->regenerate = q.regenerate;
	x->max_tokens = json_integer_value(json_object_get(c->body, "max_tokens"));
	x->t_first_byte = x->t_first_tok = x->t_last_tok = -1;
	snprintf(x->model, sizeof(x->model), "%s", q.model);
	new_request_id(x->request_id);
	dp_chat_norm_init(&x->norm, q.api, on_norm, x);
	x->norm.keep_text = conv != 0;
	if (q.think_off)
		dp_chat_norm_think_off(&x->norm);
	else if (q.think_open)
		dp_chat_norm_set_think(&x->norm, q.think_open, q.think_close);
	x->next = live;
	if (live)
		live->prev = x;
	live = x;

	struct dp_sse *s = dp_sse_start(c, 0); /* replies 500 itself on failure */
	if (!s) {
		free(body);
		dp_secret_wipe_free(token);
		dp_target_release(&t);
		relay_free(x);
		return;
	}
	x->down = s;
	x->req = c->req;
	dp_sse_set_on_close(s, down_closed, x);
	send_json(x, "start",
	          json_pack("{s:s,s:s,s:s,s:I,s:o}", "request_id", x->request_id, "model", x->model, "api",
	                    dp_chat_api_name(q.api), "target_id", (json_int_t)tid, "conversation_id",
	                    conv ? json_integer(conv) : json_null()));

	struct dp_upstream_opts uo = {
	        .base_url = t.url,
	        .path = dp_chat_api_path(q.api),
	        .body = body,
	        .token = token,
	        .idle_timeout_ms = RELAY_IDLE_TIMEOUT_MS,
	        .timeout_ms = -1,
	        .max_event = RELAY_MAX_EVENT,
	        .mode = DP_UPSTREAM_SSE,
	        .on_done = up_done,
	        .on_event = up_event,
	        .arg = x,
	};
	const char *err = NULL;
	clock_gettime(CLOCK_MONOTONIC, &x->t0);
	if (x->down)
		x->up = dp_upstream_start(srv->upstream, &uo, &err);
	free(body);
	dp_secret_wipe_free(token);
	dp_target_release(&t);
	if (!x->up) {
		/* invalid options (or the client left during `start`): report
		 * and end in the same shape as an upstream failure */
		struct dp_upstream_result res = {.outcome = DP_UPSTREAM_BAD_RESPONSE,
		                                 .code = "invalid_request",
		                                 .message = err ? err : "the upstream request could not be started"};
		if (!x->down)
			res.outcome = DP_UPSTREAM_CANCELLED;
		up_done(NULL, &res, x);
	}
}

static void chat(struct dp_ctx *c)
{
	dp_api_chat_run(c, NULL);
}

/* ---------------------------------------------------------------- stop */

static void stop(struct dp_ctx *c)
{
	const char *id = dp_ctx_param(c, "request_id");
	struct relay *x;
	for (x = live; x; x = x->next)
		if (id && strcmp(x->request_id, id) == 0)
			break;
	if (!x || !x->up || (x->user_id != c->user.id && c->user.role < DP_ROLE_ADMIN)) {
		dp_reply_error(c, 404, "not_found", "no such running chat request");
		return;
	}
	if (!x->stopped) {
		x->stopped = 1;
		dp_upstream_abort(x->up);
	}
	dp_reply_empty(c);
}

/* --------------------------------------------------------------- slots */

struct slots_op {
	struct dp_ctx *c; /* NULL once the client left */
	struct dp_lms_call *call;
	int64_t target_id;
};

static json_t *slots_body(int64_t tid, json_t *instances, const char *code, const char *msg)
{
	return json_pack("{s:I,s:b,s:o,s:o}", "target_id", (json_int_t)tid, "available", code == NULL, "error",
	                 code ? json_pack("{s:s,s:s}", "code", code, "message", msg) : json_null(), "instances",
	                 instances ? instances : json_array());
}

static void slots_abort(struct dp_ctx *c, void *arg)
{
	struct slots_op *o = arg;
	(void)c;
	o->c = NULL;
	dp_lms_cancel(o->call); /* its callback will not run */
	free(o);
}

static json_t *num_or_null(json_t *v)
{
	return json_is_integer(v) ? json_integer(json_integer_value(v)) : json_null();
}

static void slots_done(const struct dp_lms_result *res, void *arg)
{
	struct slots_op *o = arg;
	struct dp_ctx *c = o->c;
	int64_t tid = o->target_id;
	free(o);
	if (!c)
		return;
	dp_ctx_on_abort(c, NULL, NULL);
	if (res->status != DP_LMS_OK) {
		char msg[DP_CHAT_MAX_ERROR_MSG + 1];
		dp_chat_sanitize(msg, sizeof(msg), res->message ? res->message : "",
		                 res->message ? strlen(res->message) : 0);
		dp_reply_json(c, 200, slots_body(tid, NULL, res->code ? res->code : "failed", msg));
		return;
	}
	json_t *arr = json_array();
	size_t i;
	json_t *e;
	json_array_foreach(res->json, i, e)
	{
		json_t *par = json_object_get(e, "parallel"), *qd = json_object_get(e, "queued");
		if (!json_is_integer(par) && !json_is_integer(qd))
			continue; /* nothing measured for this instance */
		const char *id = json_string_value(json_object_get(e, "identifier"));
		const char *st = json_string_value(json_object_get(e, "status"));
		json_array_append_new(arr, json_pack("{s:o,s:o,s:o,s:o}", "id", id ? json_string(id) : json_null(),
		                                     "status", st ? json_string(st) : json_null(), "parallel",
		                                     num_or_null(par), "queued", num_or_null(qd)));
	}
	dp_reply_json(c, 200, slots_body(tid, arr, NULL, NULL));
}

static void slots(struct dp_ctx *c)
{
	struct dp_server *srv = c->srv;
	int64_t tid = dp_ctx_param_id(c, "id");
	struct dp_target t;
	dp_target_init(&t);
	if (tid < 0 || !srv->store || dp_targets_get(srv->store, tid, &t) < 0) {
		dp_target_release(&t);
		dp_reply_error(c, 404, "not_found", "no such target");
		return;
	}
	const char *reason = NULL;
	char host[DP_TARGET_HOST_MAX + 1], key[40];
	int port, derived;
	if (!srv->lms || !dp_lms_available(srv->lms, &reason)) {
		dp_target_release(&t);
		dp_reply_json(
		        c, 200,
		        slots_body(tid, NULL, "unavailable", reason ? reason : "the lms bridge is not available"));
		return;
	}
	if (dp_target_lms_endpoint(&t, host, &port, &derived) < 0) {
		dp_target_release(&t);
		dp_reply_json(c, 200,
		              slots_body(tid, NULL, "no_lms_host", "no lms host for this target (set lms_host)"));
		return;
	}
	dp_target_release(&t);
	snprintf(key, sizeof(key), "target:%lld", (long long)tid); /* api_targets.c's concurrency key */
	struct dp_lms_target lt = {.key = key, .host = host, .port = port};
	struct dp_lms_req lr = {.cmd = DP_LMS_PS};
	struct slots_op *o = calloc(1, sizeof(*o));
	if (!o)
		abort();
	o->c = c;
	o->target_id = tid;
	dp_ctx_on_abort(c, slots_abort, o);
	o->call = dp_lms_call(srv->lms, &lt, &lr, slots_done, o);
}

const struct dp_route dp_api_chat_routes[] = {
        {.method = "POST", .path = "/api/targets/{id}/chat", .fn = chat, .role = DP_ROLE_OPERATOR},
        {.method = "POST", .path = "/api/chat/{request_id}/stop", .fn = stop, .role = DP_ROLE_OPERATOR},
        {.method = "GET", .path = "/api/targets/{id}/slots", .fn = slots, .role = DP_ROLE_VIEWER},
        {0},
};
