/*
 * events.c - ring of recent events + fan-out hub for GET /api/events (see
 * events.h).
 *
 * The ring stores each event's id, name and serialised data; a resume
 * replays the entries after the client's id with dp_sse_send(). Publishing
 * goes through dp_sse_hub_broadcast(), whose id counter (hub.last_id) is
 * the one id sequence: the ring entry gets the same number.
 */
#include "events.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "sse.h"
#include "xmalloc.h"

struct entry {
	uint64_t id;
	char *event;
	char *data;
	size_t len;
};

struct dp_events {
	struct dp_sse_hub hub;
	struct entry ring[DP_EVENTS_RING];
	size_t head;  /* next slot */
	size_t count; /* entries in the ring */
	uint64_t published;
	dp_events_tap_fn tap;
	void *tap_arg;
};

struct dp_events *dp_events_new(uint64_t first_id)
{
	struct dp_events *e = xcalloc(1, sizeof(*e));
	dp_sse_hub_init(&e->hub);
	if (!first_id) {
		struct timeval tv;
		gettimeofday(&tv, NULL);
		first_id = (uint64_t)tv.tv_sec * 1000 + (uint64_t)tv.tv_usec / 1000;
	}
	e->hub.last_id = first_id;
	return e;
}

void dp_events_free(struct dp_events *e)
{
	if (!e)
		return;
	dp_sse_hub_release(&e->hub);
	for (size_t i = 0; i < DP_EVENTS_RING; i++) {
		free(e->ring[i].event);
		free(e->ring[i].data);
	}
	free(e);
}

uint64_t dp_events_publish(struct dp_events *e, const char *event, const json_t *data)
{
	char *txt = json_dumps(data, JSON_COMPACT);
	if (!txt)
		return 0;
	size_t len = strlen(txt);
	dp_sse_hub_broadcast(&e->hub, event, txt, len);
	struct entry *x = &e->ring[e->head];
	free(x->event);
	free(x->data);
	x->id = e->hub.last_id;
	x->event = xstrdup(event);
	x->data = txt;
	x->len = len;
	e->head = (e->head + 1) % DP_EVENTS_RING;
	if (e->count < DP_EVENTS_RING)
		e->count++;
	e->published++;
	if (e->tap)
		e->tap(event, data, e->tap_arg);
	return x->id;
}

void dp_events_set_tap(struct dp_events *e, dp_events_tap_fn fn, void *arg)
{
	e->tap = fn;
	e->tap_arg = arg;
}

/* Strict decimal; 0 when not one. */
static uint64_t parse_id(const char *s)
{
	if (!s || !*s || strlen(s) > 20)
		return 0;
	uint64_t v = 0;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return 0;
		uint64_t d = (uint64_t)(*p - '0');
		if (v > (UINT64_MAX - d) / 10)
			return 0;
		v = v * 10 + d;
	}
	return v;
}

int dp_events_subscribe(struct dp_events *e, struct dp_sse *s, const char *last_event_id, json_t *snapshot)
{
	uint64_t last = parse_id(last_event_id);
	uint64_t newest = e->hub.last_id;
	uint64_t oldest = e->count ? e->ring[(e->head + DP_EVENTS_RING - e->count) % DP_EVENTS_RING].id : newest + 1;
	/* resumable when nothing the client missed has left the ring */
	int resumed = last && last <= newest && last + 1 >= oldest;
	char idbuf[24];
	snprintf(idbuf, sizeof(idbuf), "%llu", (unsigned long long)newest);
	json_object_set_new(snapshot, "last_event_id", json_string(idbuf));
	json_object_set_new(snapshot, "resumed", json_boolean(resumed));
	if (dp_sse_send_json(s, NULL, "snapshot", snapshot) < 0)
		return -EPIPE;
	if (resumed) {
		for (size_t k = 0; k < e->count; k++) {
			struct entry *x = &e->ring[(e->head + DP_EVENTS_RING - e->count + k) % DP_EVENTS_RING];
			if (x->id <= last)
				continue;
			snprintf(idbuf, sizeof(idbuf), "%llu", (unsigned long long)x->id);
			if (dp_sse_send(s, idbuf, x->event, x->data, x->len) < 0)
				return -EPIPE;
		}
	}
	dp_sse_hub_add(&e->hub, s);
	return resumed;
}

size_t dp_events_subscribers(const struct dp_events *e)
{
	return e->hub.n;
}

uint64_t dp_events_last_id(const struct dp_events *e)
{
	return e->hub.last_id;
}

uint64_t dp_events_published(const struct dp_events *e)
{
	return e->published;
}
