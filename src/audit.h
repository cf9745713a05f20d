/*
 * audit.h - the audit trail: who did what to which target, when, from where,
 * and with what result. Every mutating action records one entry (login
 * success and failure, logout, password changes, user and token changes;
 * later issues: loads, unloads, settings...).
 *
 * Entries go to the `audit` table through the store; a failure to record is
 * logged (never fatal). `detail` is a JSON object or NULL and must never
 * contain a password, cookie, session token or API token: callers build it
 * from safe fields only. Loop thread (or CLI) only.
 */
#ifndef DP_AUDIT_H
#define DP_AUDIT_H

#include <jansson.h>
#include <stdint.h>

struct dp_store;
struct dp_ctx;

#define DP_AUDIT_OK     "ok"
#define DP_AUDIT_DENIED "denied"
#define DP_AUDIT_FAILED "failed"
#define DP_AUDIT_ERROR  "error"

/* Record one entry. user_id 0 = no authenticated actor; username may be the
 * attempted name of a failed login. `detail` (may be NULL) is borrowed. */
void dp_audit_record(struct dp_store *s, int64_t user_id, const char *username, const char *action, const char *target,
                     const char *result, json_t *detail, const char *ip);
/* Same with actor and ip taken from an authenticated request. */
void dp_audit_ctx(struct dp_ctx *c, const char *action, const char *target, const char *result, json_t *detail);

#endif
