/*
 * targets.h - daemon targets: the LM Studio hosts DaemonPulse manages.
 *
 * A target is a label, a base URL (http/https, a host, no credentials:
 * dp_upstream_check_url), an optional LM Studio API token, an optional
 * `lms` host/port and tags. The token is stored encrypted (secret.h) and is
 * write-only: nothing here returns it except dp_targets_token(), which the
 * health hub and the API handlers use to talk to the daemon, never to
 * answer a browser. Responses carry `has_api_key` and a masked hint.
 *
 * Storage: tables `targets` and `user_targets` (each user's active target),
 * created by migration 3 in store.c; the queries live here and use the
 * store's sqlite handle (dp_store_db). Loop thread only. Functions return 0
 * or -errno: -ENOENT, -EEXIST (label taken), -EINVAL, -EIO.
 */
#ifndef DP_TARGETS_H
#define DP_TARGETS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "upstream.h"

struct dp_store;
struct dp_secret;

#define DP_TARGET_LABEL_MAX 64
#define DP_TARGET_HOST_MAX  253
#define DP_TARGET_TAGS_MAX  16
#define DP_TARGET_TAG_MAX   32
#define DP_TARGET_HINT_MAX  48
#define DP_TARGETS_MAX      256

struct dp_target {
	int64_t id;
	char label[DP_TARGET_LABEL_MAX * 4 + 1]; /* UTF-8, 64 characters at most */
	char url[DP_UPSTREAM_MAX_URL + 1];
	char *api_key_enc;                                           /* heap ciphertext or NULL */
	char api_key_hint[DP_TARGET_HINT_MAX];                       /* "" when no key */
	char lms_host[DP_TARGET_HOST_MAX + 1];                       /* "" = not set */
	int lms_port;                                                /* 0 = not set */
	char tags[DP_TARGET_TAGS_MAX * (DP_TARGET_TAG_MAX + 4) + 8]; /* JSON array text */
	int64_t created_at, updated_at;
};

void dp_target_init(struct dp_target *t);
void dp_target_release(struct dp_target *t);
/* Deep copy (dst is initialised by the call). */
void dp_target_copy(struct dp_target *dst, const struct dp_target *src);

/* --- validation (0 or -EINVAL with a static reason in *why) --- */
int dp_target_check_label(const char *s, const char **why);
int dp_target_check_url(const char *s, const char **why);
/* 1..512 printable ASCII characters without spaces (it goes in a header). */
int dp_target_check_api_key(const char *s, const char **why);
/* A bare host: letters, digits, '.', '-' (no scheme, no port), 1..253. */
int dp_target_check_lms_host(const char *s, const char **why);
/* A JSON array of 0..16 tags [A-Za-z0-9._:-]{1,32}. */
int dp_target_check_tags(const json_t *tags, const char **why);

/* The masked hint of a token: at most the first 8 characters, never more
 * than a quarter of it, none under 16 characters, then "…(N chars)". */
void dp_target_mask(const char *token, char *out, size_t outlen);

/* Where lms connects: the stored lms host/port, else the URL's host and
 * port (derived = 1). 0, or -ENOENT when nothing usable (IPv6 literal, no
 * host). host must hold DP_TARGET_HOST_MAX + 1 bytes. */
int dp_target_lms_endpoint(const struct dp_target *t, char *host, int *port, int *derived);

/* The target as the API shows it (never the token); health is added by
 * the caller. New reference. */
json_t *dp_target_json(const struct dp_target *t);

/* Set or clear (token NULL/"") the token: encrypts and fills the hint. */
void dp_target_set_token(struct dp_target *t, const struct dp_secret *sec, const char *token);
/* The plain token (heap; dp_secret_wipe_free) or NULL when none. -EBADMSG
 * when it cannot be decrypted (a different secret.key). */
int dp_target_token(const struct dp_target *t, const struct dp_secret *sec, char **token);

/* Start a buffered upstream request to target t with its API token injected
 * (decrypted for the call and wiped right after). NULL with *err set when the
 * token cannot be decrypted or the options are invalid; otherwise `done`
 * runs exactly once (see upstream.h). */
struct dp_upstream_req *dp_target_request(struct dp_upstream *u, struct dp_secret *sec, const struct dp_target *t,
                                          const char *method, const char *path, const char *body, int timeout_ms,
                                          dp_upstream_done_fn done, void *arg, const char **err);

/* --- storage --- */
typedef int (*dp_targets_fn)(const struct dp_target *t, void *arg);

int dp_targets_insert(struct dp_store *s, struct dp_target *t, int64_t now); /* sets t->id */
int dp_targets_update(struct dp_store *s, struct dp_target *t, int64_t now);
int dp_targets_delete(struct dp_store *s, int64_t id);
int dp_targets_get(struct dp_store *s, int64_t id, struct dp_target *out);
/* Every target ordered by label (case-insensitively). */
int dp_targets_each(struct dp_store *s, dp_targets_fn fn, void *arg);
int dp_targets_count(struct dp_store *s, int64_t *n);

/* Each user's active target; *target_id 0 when none. */
int dp_targets_active_get(struct dp_store *s, int64_t user_id, int64_t *target_id);
int dp_targets_active_set(struct dp_store *s, int64_t user_id, int64_t target_id /* 0 clears */, int64_t now);

#endif
