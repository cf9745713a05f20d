/*
 * events.h - the control plane's own event stream (GET /api/events): one
 * SSE stream per browser tab carrying health, model, target and (later)
 * GPU changes for every target.
 *
 * Producers (health.c, api_targets.c) call dp_events_publish() once per
 * change; the event is framed once and queued to every subscriber through
 * an sse.h hub, whatever the number of subscribers. Every published event
 * gets the next id and is kept in a bounded ring (DP_EVENTS_RING) so a
 * reconnecting EventSource that sends Last-Event-ID gets what it missed.
 * Ids are decimal, increasing within one process, and start at the start
 * time in milliseconds so ids of an earlier process are (practically)
 * never mistaken for current ones.
 *
 * Ownership: struct dp_events owns the ring and the hub; subscribers are
 * sse.h streams, owned by sse.c, that leave the hub when they close.
 * Loop thread only.
 */
#ifndef DP_EVENTS_H
#define DP_EVENTS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct dp_events;
struct dp_sse;

#define DP_EVENTS_RING 1024

/* first_id: the id before the first event (0: wall-clock milliseconds). */
struct dp_events *dp_events_new(uint64_t first_id);
/* Ends every subscriber's stream, frees the ring. NULL is a no-op. */
void dp_events_free(struct dp_events *e);

/* Publish one event (`data` borrowed, serialised compactly). Returns its id. */
uint64_t dp_events_publish(struct dp_events *e, const char *event, const json_t *data);

/*
 * Subscribe stream `s`: first a `snapshot` event carrying `snapshot` (an
 * object, borrowed; "last_event_id" and "resumed" are added), then, when
 * `last_event_id` names an id still in the ring, every later event in order;
 * then live events. Returns 1 when resumed, 0 when not, -EPIPE when the
 * client is already gone.
 */
int dp_events_subscribe(struct dp_events *e, struct dp_sse *s, const char *last_event_id, json_t *snapshot);

/* An observer of every published event (the log hub turns them into
 * console lines); called after the broadcast, data borrowed. NULL clears. */
typedef void (*dp_events_tap_fn)(const char *event, const json_t *data, void *arg);
void dp_events_set_tap(struct dp_events *e, dp_events_tap_fn fn, void *arg);

size_t dp_events_subscribers(const struct dp_events *e);
uint64_t dp_events_last_id(const struct dp_events *e);
/* Events published since start (metrics, tests). */
uint64_t dp_events_published(const struct dp_events *e);

#endif
