/*
 * agent.h - `daemonpulse agent`: the host agent that a remote control plane
 * pulls from (issue 9 parts 2-3; HTTP contract and security notes in
 * docs/agent.md).
 *
 * The agent runs on an LM Studio host, as the user that owns LM Studio, and
 * serves a small authenticated HTTP API: host info, GPU telemetry (latest and
 * history, sampled by its own thread with lib/nvml or lib/amdgpu), the local
 * `lms` commands the control plane needs (fixed commands, validated
 * arguments, through the lms bridge of lms.h), a log stream (one `lms log
 * stream` child per source shared by every viewer, NDJSON) and mcp.json read
 * and write inside the LM Studio home.
 *
 * Transport: plain HTTP. TLS needs a new runtime library (OpenSSL through
 * libevent_openssl) that has not been approved, so the agent refuses to
 * listen beyond loopback unless --insecure-listen is given. The listener is
 * chosen through struct dp_agent_transport (agent.c) so a TLS transport can
 * be added without touching the handlers.
 *
 * Authentication: one bearer token per agent ("dpa_" + 64 hex digits, 256
 * random bits) kept in a 0600 file. Only its BLAKE2b hash stays in memory;
 * a presented token is hashed the same way and compared with sodium_memcmp
 * (constant time, whatever its length). Every route but GET
 * /agent/v1/health (which says only "ok") needs it.
 *
 * The pure helpers below (token, home resolution, mcp.json validation and
 * atomic write) are what tests/unit/test_agent.c drives.
 */
#ifndef DP_AGENT_H
#define DP_AGENT_H

#include <jansson.h>
#include <stddef.h>

#define DP_AGENT_DEFAULT_PORT   3001
#define DP_AGENT_TOKEN_PREFIX   "dpa_"
#define DP_AGENT_TOKEN_LEN      68           /* "dpa_" + 64 hex digits */
#define DP_AGENT_MCP_MAX        (256u << 10) /* mcp.json bound (file and request body) */
#define DP_AGENT_MCP_FILE       "mcp.json"
#define DP_AGENT_MCP_BACKUP     "mcp.json.bak"
#define DP_AGENT_MCP_TMP_PREFIX ".mcp.json.tmp-"

/* `daemonpulse agent ...` (argv[0] is "agent"). Exit status. */
int dp_agent_main(int argc, char **argv);

/* --- token --- */
/* A new random token into out (DP_AGENT_TOKEN_LEN + 1 bytes). */
void dp_agent_token_new(char out[DP_AGENT_TOKEN_LEN + 1]);
/* 1 when `s` has the token format ("dpa_" + 64 lower-case hex digits). */
int dp_agent_token_valid(const char *s);
/* Read the token file, or create it (0600, O_EXCL, fsync'ed) when absent
 * (*created = 1). An existing file must be a regular file of ours that
 * neither group nor others can access. 0 or -errno with a message in err. */
int dp_agent_token_load(const char *path, char out[DP_AGENT_TOKEN_LEN + 1], int *created, char *err, size_t errlen);
/* Write `token` to `path` atomically with mode 0600 (set-token). */
int dp_agent_token_store(const char *path, const char *token, char *err, size_t errlen);

/* --- the LM Studio home (reference protocol §1.1) --- */
/* `explicit_home` (--lmstudio-home) when given, else the contents of
 * <user_home>/.lmstudio-home-pointer, else <user_home>/.cache/lm-studio if
 * it is a directory, else <user_home>/.lmstudio. The result must be an
 * absolute path without "." or ".." components and is canonicalised with
 * realpath() when it exists. 0 or -errno (-EINVAL: relative or traversing
 * path, with a reason in err). */
int dp_agent_resolve_home(const char *explicit_home, const char *user_home, char *out, size_t outlen, char *err,
                          size_t errlen);

/* --- mcp.json --- */
/* Validate the documented shape: {"mcpServers": {"<label>": entry}} where a
 * label is 1..64 of [A-Za-z0-9_.-] and an entry is either {"url": http(s)
 * URL, "headers"?: {name: string}} or {"command": string, "args"?: [string],
 * "env"?: {name: string}}, optionally with "auth": {name: string}. Nothing
 * else. 0 or -EINVAL with a static reason in *why. */
int dp_agent_mcp_validate(const json_t *root, const char **why);

/* The current mcp.json in the home directory `dirfd` (never following a
 * symbolic link). *text (heap, NUL-terminated) and *len; -ENOENT when
 * absent, -ELOOP for a symbolic link, -EFBIG over DP_AGENT_MCP_MAX,
 * -EINVAL not a regular file. */
int dp_agent_mcp_read(int dirfd, char **text, size_t *len);
/* ETag of a content: "\"" + 16 hex digits of BLAKE2b + "\"" (20 bytes + NUL). */
void dp_agent_mcp_etag(const char *text, size_t len, char out[21]);

/* Test hook for the atomic write: stop after the temporary file is written
 * and synced, before the rename, as a crash there would. */
enum dp_agent_mcp_fault { DP_AGENT_MCP_NO_FAULT = 0, DP_AGENT_MCP_CRASH_BEFORE_RENAME };
/* Write `text` as mcp.json inside `dirfd`: remove stale temporary files,
 * write .mcp.json.tmp-<random> (0600, O_EXCL|O_NOFOLLOW), fsync it, keep the
 * previous file as mcp.json.bak (hard link, else a copy, fsync'ed), rename
 * over mcp.json, fsync the directory. 0 or -errno. */
int dp_agent_mcp_write(int dirfd, const char *text, size_t len, enum dp_agent_mcp_fault fault);
/* Remove leftover .mcp.json.tmp-* files in `dirfd` (a crash mid-write).
 * Returns how many were removed. */
int dp_agent_mcp_clean_temps(int dirfd);

#endif
