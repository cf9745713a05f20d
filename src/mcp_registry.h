/*
 * mcp_registry.h - the Toolchain's state: MCP servers per target, their
 * discovered tools, the per-tool policy, the host's mcp.json, the
 * `integrations` array for /api/v1/chat, and the audit of tool calls seen in
 * a chat stream (docs/api-mcp.md is the HTTP contract).
 *
 * Servers are rows of `mcp_servers` (migration 5): `ephemeral` ones are
 * kept by DaemonPulse (label, URL, header values encrypted with secret.h,
 * never returned), `mcp_json` ones stand for entries of the LM Studio host's
 * mcp.json (read from the local file when the target is this host) and hold
 * their policy. Rows are handled as JSON objects (the columns by name;
 * "headers_enc" is the ciphertext and never leaves this module).
 *
 * Policy: a decision (allow/deny) is bound to the server's identity at the
 * time (a hash over URL + header names and values, or label + command,
 * args and env) and the tool's schema hash (name, description, input and
 * output schema, annotations). A decision that no longer matches either is
 * void: the tool is "pending" (denied) again. A pending tool whose
 * readOnlyHint is true is allowed when the server's auto_allow_read_only
 * switch is on (trusting the server's hints). dp_mcp_policy_eval() is that
 * rule, pure, for the unit tests.
 *
 * Dispatch: dp_mcp_integrations() builds LM Studio's `integrations` with an
 * explicit `allowed_tools` for every attached server (never omitted); a
 * server with nothing allowed is not attached.
 *
 * Loop thread only. Functions return 0 or -errno (-ENOENT, -EEXIST,
 * -EINVAL with a static reason in *why, -EIO).
 */
#ifndef DP_MCP_REGISTRY_H
#define DP_MCP_REGISTRY_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

struct dp_store;
struct dp_secret;
struct dp_target;
struct dp_server;
struct dp_mcp_outcome;

#define DP_MCP_LABEL_MAX          64
#define DP_MCP_HEADERS_MAX        16
#define DP_MCP_HEADER_VALUE_MAX   4096
#define DP_MCP_ARGS_MAX           64
#define DP_MCP_ENV_MAX            32
#define DP_MCP_SERVERS_PER_TARGET 64
#define DP_MCP_AUDIT_ARGS_MAX     2048

/* --- validation --- */
/* 1..64 of [A-Za-z0-9_.-]. */
int dp_mcp_check_label(const char *s, const char **why);
/* An http(s) URL the client accepts (no credentials, no fragment). */
int dp_mcp_check_url(const char *s, const char **why);
/* {"Name": "value" | null (when allow_null)}: <= 16, token names, not
 * reserved (Host, Content-Length, Accept, Content-Type, Mcp-Session-Id,
 * MCP-Protocol-Version, Transfer-Encoding, Connection), values 1..4096 bytes
 * without control characters. */
int dp_mcp_check_headers(const json_t *h, int allow_null, const char **why);

/* --- identity and hashes (16 lower-case hex + NUL) --- */
void dp_mcp_identity_http(const char *label, const char *url, const json_t *headers, char out[17]);
void dp_mcp_identity_stdio(const char *label, const char *command, const json_t *args, const json_t *env, char out[17]);
void dp_mcp_schema_hash(const json_t *tool, char out[17]);

/* --- policy --- */
struct dp_mcp_policy_view {
	const char *state;     /* "allow" | "deny" | "pending" */
	const char *effective; /* "allow" | "deny" */
	const char *source;    /* "admin" | "auto_read_only" | "none" */
	const char *reason;    /* pending: "new" | "schema_changed" | "identity_changed"; else NULL */
};
/* decision NULL = none recorded. present = listed by the last discovery
 * (a tool that is gone is never effectively allowed). */
void dp_mcp_policy_eval(const char *decision, const char *dec_identity, const char *dec_hash, const char *cur_identity,
                        const char *cur_hash, int auto_ro, int read_only_hint, int present,
                        struct dp_mcp_policy_view *out);

/* --- the tool as the API shows it (parameters, badges) --- */
json_t *dp_mcp_tool_view(const json_t *tool);

/* --- servers --- */
/* Is the target this host (URL host localhost / 127.0.0.1 / ::1)? */
int dp_mcp_target_is_local(const struct dp_target *t);
/* The raw row (JSON object with every column), -ENOENT when it is not a
 * server of `target_id`. */
int dp_mcp_server_get(struct dp_store *s, int64_t target_id, int64_t id, json_t **row);
/* The API object of a row (no secrets; counts from the tool table). */
json_t *dp_mcp_server_json(struct dp_store *s, const json_t *row);
/* Every server of a target as API objects; for a local target the mcp.json
 * rows are synchronised with the file first. *mcp_json gets the
 * "mcp_json" member of GET /api/targets/{id}/mcp. */
json_t *dp_mcp_servers_list(struct dp_store *s, const struct dp_target *t, json_t **mcp_json);
/* The same list for a remote target whose mcp.json came through its agent:
 * `root` (checked with dp_mcp_json_check) synchronises the mcp_json rows
 * first; NULL lists the rows as they are. */
json_t *dp_mcp_servers_list_doc(struct dp_store *s, const struct dp_target *t, const json_t *root);

int dp_mcp_ephemeral_create(struct dp_store *s, const struct dp_secret *sec, int64_t target_id, const char *label,
                            const char *url, const json_t *headers, int auto_ro, int64_t now, int64_t *id);
/* label/url NULL = keep; headers NULL = keep (null values keep that one);
 * auto_ro < 0 = keep. */
int dp_mcp_ephemeral_update(struct dp_store *s, const struct dp_secret *sec, const json_t *row, const char *label,
                            const char *url, const json_t *headers, int auto_ro, int64_t now);
int dp_mcp_server_set_auto(struct dp_store *s, int64_t id, int auto_ro, int64_t now);
int dp_mcp_server_delete(struct dp_store *s, int64_t id);
/* Plain header values of an ephemeral row as "Name: value" lines (heap,
 * NULL-terminated; free with dp_mcp_strv_free, which wipes). -EBADMSG when
 * they cannot be decrypted. */
int dp_mcp_server_header_lines(const json_t *row, const struct dp_secret *sec, char ***lines);
/* Headers as an object {"Name":"value"} (new reference; wipe by decref). */
int dp_mcp_server_headers(const json_t *row, const struct dp_secret *sec, json_t **headers);
void dp_mcp_strv_free(char **v);

/* --- tools and policy --- */
json_t *dp_mcp_tools_json(struct dp_store *s, const json_t *row);
/* Record a discovery: the discovery object always; on success the tool
 * list (new, changed, gone); *changes = {"new":[],"changed":[],"removed":[]}. */
int dp_mcp_store_discovery(struct dp_store *s, const json_t *row, const struct dp_mcp_outcome *o, double duration_ms,
                           int64_t now, json_t **changes);
/* decision "allow" | "deny" | "reset". -ENOENT for a tool never discovered. */
int dp_mcp_policy_set(struct dp_store *s, const json_t *row, const char *tool, const char *decision, const char *by,
                      int64_t now);

/* --- dispatch --- */
/* The integrations for `server_ids` (array of ids; NULL = every server of
 * the target). reveal = 0 replaces header values with "(hidden)" (the
 * preview). *items = [{"server_id","integration"}], *skipped =
 * [{"server_id","reason"}], *allowed = {"<provider key>": {"server_id",
 * "server", "tools":[...]}} for the tool-call audit. Returns the plain
 * `integrations` array for LM Studio (new reference). */
json_t *dp_mcp_integrations(struct dp_store *s, const struct dp_secret *sec, const struct dp_target *t,
                            const json_t *server_ids, int reveal, json_t **items, json_t **skipped, json_t **allowed);
/* "ephemeral_mcp:<label>" | "plugin:<id>" of a provider_info; "" unknown. */
void dp_mcp_provider_key(const json_t *provider_info, char *out, size_t outlen);

/* --- mcp.json on this host --- */
/* $DP_MCP_JSON, else <home>/mcp.json (home: $DP_LMSTUDIO_HOME, else
 * ~/.lmstudio-home-pointer's contents, else ~/.cache/lm-studio if it
 * exists, else ~/.lmstudio). 0 or -ENAMETOOLONG / -ENOENT (no HOME). */
int dp_mcp_json_path(char *out, size_t outlen);
/* Load and validate ({"mcpServers":{...}}); a missing file gives an empty
 * document and -ENOENT; -EINVAL with *why for an unusable one. */
int dp_mcp_json_load(const char *path, json_t **root, const char **why);
/* The shape check of dp_mcp_json_load on a parsed document (adds an empty
 * mcpServers when absent). 0 or -EINVAL with *why. */
int dp_mcp_json_check(json_t *root, const char **why);
/* Atomic write: temp file in the same directory (0600), fsync, previous
 * file copied to <path>.bak, rename, directory fsync. */
int dp_mcp_json_write(const char *path, const json_t *root);
/* Validate one entry as the API receives it and merge it over `old` (may be
 * NULL): null values keep old values, other members of `old` are kept. New
 * reference or NULL with *why. */
json_t *dp_mcp_json_entry_merge(const json_t *old, const json_t *body, const char **why);

/* --- tool-call audit --- */
struct dp_mcp_watch;
/* `allowed` as from dp_mcp_integrations (reference taken). */
struct dp_mcp_watch *dp_mcp_watch_new(struct dp_store *s, int64_t user_id, const char *username, const char *ip,
                                      const char *target_label, const char *request_id, json_t *allowed);
/* One downstream chat event (docs/api-chat.md); only tool_call matters. */
void dp_mcp_watch_event(struct dp_mcp_watch *w, const char *name, const char *json, size_t len);
void dp_mcp_watch_free(struct dp_mcp_watch *w);
/* Prometheus lines: daemonpulse_mcp_tool_calls_total{outcome},
 * daemonpulse_mcp_tool_violations_total. */
void dp_mcp_metrics_render(struct dp_buf *out);

#endif
