/*
 * audit.c - record audit entries (see audit.h). The reader is api_audit.c.
 *
 * Recording never fails the action it describes: a store error is logged
 * and the request goes on. Detail objects are serialised compactly and cut
 * at DETAIL_MAX bytes (replaced by {"truncated":true}) so one entry stays
 * small whatever a caller puts in it.
 */
#include "audit.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "auth.h"
#include "log.h"
#include "loghub.h"
#include "server.h"
#include "store.h"

#define DETAIL_MAX 4096

void dp_audit_record(struct dp_store *s, int64_t user_id, const char *username, const char *action, const char *target,
                     const char *result, json_t *detail, const char *ip)
{
	if (!s || !action || !result)
		return;
	char *d = NULL;
	if (detail && json_is_object(detail)) {
		d = json_dumps(detail, JSON_COMPACT | JSON_SORT_KEYS);
		if (d && strlen(d) > DETAIL_MAX) {
			free(d);
			d = strdup("{\"truncated\":true}");
		}
	}
	struct dp_store_audit e = {
	        .at = (int64_t)time(NULL),
	        .user_id = user_id,
	        .username = username && *username ? username : NULL,
	        .action = action,
	        .target = target,
	        .result = result,
	        .detail = d,
	        .ip = ip && *ip ? ip : NULL,
	};
	if (s && dp_store_audit_insert(s, &e, NULL) < 0)
		dp_warn("audit: could not record %s (%s)", action, result);
	free(d);
}

void dp_audit_ctx(struct dp_ctx *c, const char *action, const char *target, const char *result, json_t *detail)
{
	int authed = c->auth_kind != DP_AUTH_NONE;
	dp_audit_record(c->srv ? c->srv->store : NULL, authed ? c->user.id : 0, authed ? c->user.username : NULL,
	                action, target, result, detail, dp_ctx_peer(c));
	/* actions on a target also appear on its console (daemonpulse source) */
	if (c->srv && c->srv->loghub && target && strncmp(target, "target:", 7) == 0)
		dp_loghub_audit(c->srv->loghub, target + 7, action, authed ? c->user.username : NULL, result, detail);
}
