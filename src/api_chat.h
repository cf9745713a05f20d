/*
 * api_chat.h - a hook into the Pulse's chat relay (api_chat.c) for modules
 * that run a chat with extra upstream fields and watch its events (the
 * Toolchain: POST /api/targets/{id}/toolchain/run adds MCP `integrations`
 * and audits the tool calls in the stream). One relay, one normaliser: the
 * hooked run is the same request/stream as POST /api/targets/{id}/chat.
 */
#ifndef DP_API_CHAT_H
#define DP_API_CHAT_H

#include <jansson.h>
#include <stddef.h>

struct dp_ctx;
struct dp_buf;

struct dp_chat_hook {
	json_t *integrations; /* v1 only: set as `integrations` in the upstream body (borrowed) */
	/* every downstream event as sent (also when the browser is gone) */
	void (*on_event)(void *arg, const char *name, const char *json, size_t len);
	/* exactly once: when the run is over (or was refused before it began) */
	void (*on_free)(void *arg);
	void *arg;
};

/* The chat route's handler with a hook (NULL: exactly POST .../chat). */
void dp_api_chat_run(struct dp_ctx *c, const struct dp_chat_hook *hook);

/* The chat series of /metrics (a dp_metrics_extra_fn; arg unused): running
 * relays; per target, chats by how they ended, relayed token events and the
 * server-measured time to first token. */
int dp_api_chat_metrics(void *arg, struct dp_buf *out);

#endif
