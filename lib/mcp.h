/*
 * mcp.h - an MCP client on the event loop: discover a server's tools, or call
 * one tool, over streamable HTTP, the legacy HTTP+SSE transport or stdio
 * (reference: ../shared/reference/mcp-protocol.md). Used by the control
 * plane (tool discovery) and usable by the simulator (tools/call).
 *
 * One operation = one short session: initialize (protocolVersion
 * negotiation: we send 2025-11-25 and accept 2025-11-25, 2025-06-18,
 * 2025-03-26 and 2024-11-05), notifications/initialized, then tools/list
 * (every page, following nextCursor) or tools/call, then the transport's
 * shutdown. on_done runs once, from the loop, after the shutdown finished.
 *
 *   streamable HTTP  every message is a POST to the URL with
 *                    `Accept: application/json, text/event-stream`; the
 *                    answer is JSON or an event stream (parsed incrementally,
 *                    notifications interleaved); `Mcp-Session-Id` and
 *                    `MCP-Protocol-Version` are sent after initialize; a 404
 *                    (or a 400, server-everything's deviation) on a request
 *                    that carried a session id re-initialises once; the
 *                    session is ended with DELETE (a 405 is fine).
 *   legacy HTTP+SSE  GET the URL as an event stream; the first `endpoint`
 *                    event names the URL to POST messages to (it must stay
 *                    on the same scheme, host and port); answers arrive as
 *                    `message` events on the GET stream.
 *   auto             (a URL without a fixed transport) streamable HTTP
 *                    first; a 400, 404 or 405 to the initialize POST falls
 *                    back to legacy HTTP+SSE.
 *   stdio            the entry's argv (no shell) with its env additions,
 *                    newline-delimited JSON-RPC on stdin/stdout, stderr
 *                    ignored; shutdown: close stdin, wait, SIGTERM, SIGKILL.
 *
 * Server requests (ping) are answered; other server requests get "method
 * not found" (we declare no client capabilities). A
 * notifications/tools/list_changed seen while listing (or within
 * list_changed_wait_ms after it, on transports that can push) makes the
 * client list again, at most twice.
 *
 * Safety: link-local addresses (169.254/16, fe80::/10: cloud metadata
 * services) are refused after name resolution (code "blocked_address"),
 * redirects are never followed (a 3xx is an error), header values
 * are never logged or put into messages, every answer is bounded
 * (max_response), every request has a timeout and the whole operation a
 * deadline. A 401 carrying WWW-Authenticate is reported as status
 * "needs_oauth" ("needs OAuth: use it through the host's mcp.json"), not as
 * a failure.
 *
 * Ownership: the op is owned by the module; it is valid until on_done
 * returns (or until dp_mcp_cancel, after which no callback runs). The
 * outcome and the JSON it points to are borrowed during on_done
 * (json_incref to keep). Loop thread only.
 */
#ifndef DP_MCP_H
#define DP_MCP_H

#include <jansson.h>
#include <stddef.h>

struct event_base;
struct dp_upstream;
struct dp_jobs;
struct dp_mcp_op;

#define DP_MCP_PROTOCOL_VERSION           "2025-11-25"
#define DP_MCP_MAX_TOOLS                  2000
#define DP_MCP_MAX_PAGES                  100
#define DP_MCP_DEFAULT_REQUEST_TIMEOUT_MS 15000
#define DP_MCP_DEFAULT_TOTAL_TIMEOUT_MS   45000
#define DP_MCP_DEFAULT_CONNECT_TIMEOUT_MS 5000
#define DP_MCP_DEFAULT_MAX_RESPONSE       (4u << 20)
#define DP_MCP_NEEDS_OAUTH_MESSAGE        "needs OAuth: use it through the host's mcp.json"

enum dp_mcp_transport {
	DP_MCP_AUTO = 0, /* URL: streamable HTTP, falling back to legacy SSE */
	DP_MCP_STREAMABLE_HTTP,
	DP_MCP_SSE,
	DP_MCP_STDIO,
};

/* "auto", "streamable_http", "sse", "stdio". */
const char *dp_mcp_transport_name(enum dp_mcp_transport t);

/* What the client needs from its host. */
struct dp_mcp_env {
	struct event_base *base;
	struct dp_upstream *up; /* HTTP transports */
	struct dp_jobs *jobs;   /* stdio */
};

/* The server to talk to. Everything is copied by the start functions. */
struct dp_mcp_server {
	enum dp_mcp_transport transport;
	const char *url;            /* http(s) URL (not stdio) */
	const char *const *headers; /* "Name: value" lines, NULL-terminated (HTTP) */
	const char *const *argv;    /* stdio: argv[0] a path or a name on PATH */
	const char *const *env;     /* stdio: "NAME=value" additions */
	int connect_timeout_ms;     /* 0: default */
	int request_timeout_ms;     /* one request; 0: default */
	int total_timeout_ms;       /* the whole operation; 0: default */
	size_t max_response;        /* one answer / event / line; 0: default */
	int list_changed_wait_ms;   /* after the last page; <0 none, 0: 300 ms */
};

struct dp_mcp_outcome {
	const char *status;              /* "ok" | "needs_oauth" | "failed" | "cancelled" */
	const char *code;                /* "ok", "needs_oauth", "stopped", "stalled", "timeout",
	                                  * "http_error", "unauthorized", "redirect", "bad_response",
	                                  * "response_too_large", "protocol_error", "unsupported_version",
	                                  * "spawn_failed", "server_exited", "rpc_error", "blocked_address",
	                                  * "cancelled" */
	const char *message;             /* for people, lower case; never a header value */
	enum dp_mcp_transport transport; /* the one that was used (detected) */
	const char *protocol_version;    /* negotiated, "" when none */
	const char *session_id_hint;     /* "" / first 8 chars + "…" (never the whole id) */
	json_t *server_info;             /* initialize result serverInfo or NULL */
	json_t *capabilities;            /* server capabilities or NULL */
	json_t *tools;                   /* discover: array of Tool objects (never NULL when ok) */
	json_t *call_result;             /* call: the CallToolResult, NULL otherwise */
	int rpc_error_code;              /* code "rpc_error": the JSON-RPC error code */
	int list_changed;                /* notifications/tools/list_changed seen */
	int pages;                       /* tools/list pages read */
	int reinitialised;               /* the session was gone and was re-initialised */
	double duration_ms;
};

typedef void (*dp_mcp_done_fn)(const struct dp_mcp_outcome *o, void *arg);

/* Start a discovery (initialize + tools/list). NULL with a static reason in
 * *err for an unusable server description (no URL / argv, bad URL, bad
 * header); then no callback runs. */
struct dp_mcp_op *dp_mcp_discover(const struct dp_mcp_env *env, const struct dp_mcp_server *srv, dp_mcp_done_fn fn,
                                  void *arg, const char **err);
/* Start a tools/call of `tool` with `arguments` (an object or NULL; copied). */
struct dp_mcp_op *dp_mcp_call(const struct dp_mcp_env *env, const struct dp_mcp_server *srv, const char *tool,
                              json_t *arguments, dp_mcp_done_fn fn, void *arg, const char **err);
/* No callback runs any more; the session is shut down in the background. */
void dp_mcp_cancel(struct dp_mcp_op *op);

/* Resolve the legacy transport's `endpoint` event data against the SSE URL.
 * 0 and a heap URL in *out; -EINVAL when it is not a URL, or -EPERM when it
 * points to another scheme, host or port (redirects to other hosts are
 * refused). Pure (for the fuzzer too). */
int dp_mcp_resolve_endpoint(const char *sse_url, const char *data, size_t len, char **out);

/* Split an http(s) URL into the upstream client's base ("scheme://host:port")
 * and path ("/path?query"). 0 or -EINVAL; heap strings. */
int dp_mcp_split_url(const char *url, char **base, char **path);

/* Is this protocol version one we speak? */
int dp_mcp_version_supported(const char *v);

#endif
