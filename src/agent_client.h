/*
 * agent_client.h - the control plane's side of the host agent (issue 9
 * part 3): a target's enrolled agent (table target_agents, migration 6),
 * requests to it, and the parsing of its telemetry.
 *
 * An enrolled target has an agent URL and a bearer token. The token is
 * generated here at enrolment (POST /api/targets/{id}/agent, api_agent.c),
 * shown once, stored encrypted with secret.h and never returned again (the
 * API shows a masked hint). Requests go through upstream.h (non-blocking,
 * the token only as Authorization: Bearer, wiped when the request ends).
 *
 * For other modules:
 *   - telemetry.c polls GET /agent/v1/telemetry of enrolled targets (source
 *     "agent") and parses it with dp_agent_client_parse_telemetry();
 *   - the MCP registry (mcp_registry.c, H13) may read and write a remote
 *     host's mcp.json with dp_agent_client_mcp_get() / _mcp_put();
 *   - lifecycle (server start/stop) is api_agent.c.
 *
 * Loop thread only. 0 or -errno (-ENOENT: no agent for that target).
 */
#ifndef DP_AGENT_CLIENT_H
#define DP_AGENT_CLIENT_H

#include <jansson.h>
#include <stdint.h>

#include "upstream.h"

struct dp_store;
struct dp_secret;
struct dp_server;
struct dp_telemetry_sample;

#define DP_AGENT_CLIENT_TIMEOUT_MS     15000
#define DP_AGENT_CLIENT_LMS_TIMEOUT_MS 660000 /* lms server start may take minutes (lms.h) */

struct dp_agent_link {
	int64_t target_id;
	char url[DP_UPSTREAM_MAX_URL + 1];
	char token_hint[48];
	char *token_enc; /* heap ciphertext */
	int64_t created_at, updated_at;
};

void dp_agent_link_release(struct dp_agent_link *l);
/* The agent of a target: 0, -ENOENT (none), -EIO. */
int dp_agent_client_get(struct dp_store *s, int64_t target_id, struct dp_agent_link *out);
/* 1 when the target has an agent (errors count as none). */
int dp_agent_client_enrolled(struct dp_store *s, int64_t target_id);
/* Create or replace the target's agent (token encrypted). */
int dp_agent_client_set(struct dp_store *s, const struct dp_secret *sec, int64_t target_id, const char *url,
                        const char *token, int64_t now);
int dp_agent_client_delete(struct dp_store *s, int64_t target_id);
/* Change only the URL (an SSH tunnel moved); -ENOENT when not enrolled. */
int dp_agent_client_set_url(struct dp_store *s, int64_t target_id, const char *url, int64_t now);
/* The plain token (heap, dp_secret_wipe_free) of a link. */
int dp_agent_client_token(const struct dp_agent_link *l, const struct dp_secret *sec, char **token);
/* The agent URL a target gets when enrolment names none: the target URL's
 * host with the agent's default port ("http://HOST:3001"). */
int dp_agent_client_default_url(const char *target_url, char *out, size_t outlen);
/* {"enrolled","url","token_hint","created_at","updated_at"} (new reference). */
json_t *dp_agent_client_json(const struct dp_agent_link *l);

/* Start a request to the agent of `target_id`: `path` under the agent
 * (e.g. "/agent/v1/telemetry"), optional JSON body and extra headers.
 * Returns the upstream request, or NULL with a static reason in *err (no
 * agent, token unreadable, bad URL): then no callback runs. */
struct dp_upstream_req *dp_agent_client_request(struct dp_server *srv, int64_t target_id, const char *method,
                                                const char *path, const char *body, const char *const *headers,
                                                int timeout_ms, dp_upstream_done_fn on_done, void *arg,
                                                const char **err);

/* A streaming GET (the NDJSON log stream, GET /agent/v1/logs/stream?source=S):
 * RAW mode, no total timeout, no size bound; on_data per received chunk,
 * on_done once (the loghub's agent input). */
struct dp_upstream_req *dp_agent_client_stream(struct dp_server *srv, int64_t target_id, const char *path,
                                               dp_upstream_data_fn on_data, dp_upstream_done_fn on_done, void *arg,
                                               const char **err);

/* mcp.json through the agent (for the MCP registry). GET answers
 * {"home","path","exists","etag","valid","content","error","size_bytes"};
 * PUT sends `doc` (validated by the agent too) with If-Match `etag` when
 * non-NULL, and answers {"path","etag","backup","size_bytes"}; 412 when the
 * file changed, 422 for an invalid document (docs/agent.md). */
struct dp_upstream_req *dp_agent_client_mcp_get(struct dp_server *srv, int64_t target_id, dp_upstream_done_fn on_done,
                                                void *arg, const char **err);
struct dp_upstream_req *dp_agent_client_mcp_put(struct dp_server *srv, int64_t target_id, const json_t *doc,
                                                const char *etag, dp_upstream_done_fn on_done, void *arg,
                                                const char **err);

/* Parse the agent's GET /agent/v1/telemetry answer into `s` (GPU objects
 * as dp_telemetry_gpu_json writes them). Returns 1 when the agent has a
 * sample (available), 0 when it says it has none (code/message copied to
 * code/msg), -EINVAL when the body is not the agent's shape. */
int dp_agent_client_parse_telemetry(const json_t *body, struct dp_telemetry_sample *s, char *code, size_t codelen,
                                    char *msg, size_t msglen);

#endif
