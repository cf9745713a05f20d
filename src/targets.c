/*
 * targets.c - target validation, token masking/encryption and the SQL for
 * the `targets` and `user_targets` tables (see targets.h).
 *
 * Statements are prepared per call: targets change rarely and the health
 * hub keeps its own copies, so nothing here is on a hot path.
 */
#include "targets.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "secret.h"
#include "store.h"
#include "url.h"
#include "xmalloc.h"

void dp_target_init(struct dp_target *t)
{
	memset(t, 0, sizeof(*t));
	memcpy(t->tags, "[]", 3);
}

void dp_target_release(struct dp_target *t)
{
	free(t->api_key_enc);
	dp_target_init(t);
}

void dp_target_copy(struct dp_target *dst, const struct dp_target *src)
{
	memcpy(dst, src, sizeof(*dst));
	dst->api_key_enc = src->api_key_enc ? xstrdup(src->api_key_enc) : NULL;
}

/* ------------------------------------------------------------ validation */

static size_t utf8_chars(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		if (((unsigned char)*s & 0xC0) != 0x80)
			n++;
	return n;
}

int dp_target_check_label(const char *s, const char **why)
{
	if (!s || !*s) {
		*why = "label is required";
		return -EINVAL;
	}
	if (utf8_chars(s) > DP_TARGET_LABEL_MAX || strlen(s) > DP_TARGET_LABEL_MAX * 4) {
		*why = "label must be at most 64 characters";
		return -EINVAL;
	}
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f) {
			*why = "label must not contain control characters";
			return -EINVAL;
		}
	if (s[0] == ' ' || s[strlen(s) - 1] == ' ') {
		*why = "label must not start or end with a space";
		return -EINVAL;
	}
	return 0;
}

int dp_target_check_url(const char *s, const char **why)
{
	if (!s || !*s) {
		*why = "url is required";
		return -EINVAL;
	}
	return dp_upstream_check_url(s, why);
}

int dp_target_check_api_key(const char *s, const char **why)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0 || n > DP_UPSTREAM_MAX_TOKEN) {
		*why = "api_key must be 1 to 512 characters";
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f) {
			*why = "api_key must be printable ASCII without spaces";
			return -EINVAL;
		}
	return 0;
}

static int host_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-';
}

int dp_target_check_lms_host(const char *s, const char **why)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0 || n > DP_TARGET_HOST_MAX) {
		*why = "lms_host must be 1 to 253 characters";
		return -EINVAL;
	}
	if (strstr(s, "://") || strchr(s, ':')) {
		*why = "lms_host must be a bare host name or IPv4 address (no scheme, no port: use lms_port)";
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++)
		if (!host_char(s[i])) {
			*why = "lms_host may contain only letters, digits, '.' and '-'";
			return -EINVAL;
		}
	if (s[0] == '-' || s[0] == '.') {
		*why = "lms_host must start with a letter or digit";
		return -EINVAL;
	}
	return 0;
}

static int tag_char(char c)
{
	return host_char(c) || c == '_' || c == ':';
}

int dp_target_check_tags(const json_t *tags, const char **why)
{
	if (!json_is_array(tags)) {
		*why = "tags must be an array of strings";
		return -EINVAL;
	}
	if (json_array_size(tags) > DP_TARGET_TAGS_MAX) {
		*why = "at most 16 tags";
		return -EINVAL;
	}
	size_t i;
	json_t *v;
	json_array_foreach(tags, i, v)
	{
		const char *s = json_string_value(v);
		size_t n = s ? strlen(s) : 0;
		if (n == 0 || n > DP_TARGET_TAG_MAX) {
			*why = "each tag must be a string of 1 to 32 characters";
			return -EINVAL;
		}
		for (size_t k = 0; k < n; k++)
			if (!tag_char(s[k])) {
				*why = "tags may contain only letters, digits, '.', '_', ':' and '-'";
				return -EINVAL;
			}
	}
	return 0;
}

/* --------------------------------------------------------------- tokens */

void dp_target_mask(const char *token, char *out, size_t outlen)
{
	size_t n = token ? strlen(token) : 0;
	if (n == 0) {
		if (outlen)
			out[0] = '\0';
		return;
	}
	size_t show = 0;
	if (n >= 16) {
		show = n / 4;
		if (show > 8)
			show = 8;
	}
	snprintf(out, outlen, "%.*s\xe2\x80\xa6(%zu chars)", (int)show, token, n);
}

void dp_target_set_token(struct dp_target *t, const struct dp_secret *sec, const char *token)
{
	free(t->api_key_enc);
	t->api_key_enc = NULL;
	t->api_key_hint[0] = '\0';
	if (!token || !*token)
		return;
	t->api_key_enc = dp_secret_encrypt(sec, token, strlen(token));
	dp_target_mask(token, t->api_key_hint, sizeof(t->api_key_hint));
}

int dp_target_token(const struct dp_target *t, const struct dp_secret *sec, char **token)
{
	*token = NULL;
	if (!t->api_key_enc)
		return 0;
	int rc = dp_secret_decrypt(sec, t->api_key_enc, token, NULL);
	return rc == -EINVAL ? -EBADMSG : rc;
}

/* ------------------------------------------------------------- lms host */

int dp_target_lms_endpoint(const struct dp_target *t, char *host, int *port, int *derived)
{
	*derived = 0;
	host[0] = '\0';
	*port = 0;
	if (t->lms_host[0]) {
		snprintf(host, DP_TARGET_HOST_MAX + 1, "%s", t->lms_host);
		*port = t->lms_port ? t->lms_port : 1234;
		return 0;
	}
	struct dp_url u;
	const char *why;
	if (dp_url_parse(t->url, &u, &why) < 0 || u.ipv6 || dp_target_check_lms_host(u.host, &why) < 0)
		return -ENOENT;
	snprintf(host, DP_TARGET_HOST_MAX + 1, "%s", u.host);
	*port = t->lms_port ? t->lms_port : u.port;
	*derived = 1;
	return 0;
}

/* ----------------------------------------------------------------- JSON */

static json_t *time_json(int64_t t)
{
	if (t <= 0)
		return json_null();
	char buf[32];
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return json_string(buf);
}

json_t *dp_target_json(const struct dp_target *t)
{
	json_t *tags = json_loads(t->tags, 0, NULL);
	if (!json_is_array(tags)) {
		json_decref(tags);
		tags = json_array();
	}
	char host[DP_TARGET_HOST_MAX + 1];
	int port, derived;
	json_t *lms = dp_target_lms_endpoint(t, host, &port, &derived) == 0
	                      ? json_pack("{s:s, s:i, s:b}", "host", host, "port", port, "derived", derived)
	                      : json_null();
	return json_pack("{s:I, s:s, s:s, s:b, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "id", (json_int_t)t->id, "label",
	                 t->label, "url", t->url, "has_api_key", t->api_key_enc != NULL, "api_key_hint",
	                 t->api_key_enc ? json_string(t->api_key_hint) : json_null(), "lms_host",
	                 t->lms_host[0] ? json_string(t->lms_host) : json_null(), "lms_port",
	                 t->lms_port ? json_integer(t->lms_port) : json_null(), "lms", lms, "tags", tags, "created_at",
	                 time_json(t->created_at), "updated_at", time_json(t->updated_at));
}

/* -------------------------------------------------------------- storage */

#define COLS "id, label, url, api_key_enc, api_key_hint, lms_host, lms_port, tags, created_at, updated_at"

static int sql_err(struct dp_store *s, const char *what)
{
	dp_warn("targets: %s: %s", what, sqlite3_errmsg(dp_store_db(s)));
	return -EIO;
}

static sqlite3_stmt *prep(struct dp_store *s, const char *sql)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(dp_store_db(s), sql, -1, &st, NULL) != SQLITE_OK) {
		sql_err(s, "prepare");
		return NULL;
	}
	return st;
}

static void col_text(sqlite3_stmt *st, int i, char *out, size_t outlen)
{
	const unsigned char *v = sqlite3_column_text(st, i);
	snprintf(out, outlen, "%s", v ? (const char *)v : "");
}

static void row_to_target(sqlite3_stmt *st, struct dp_target *t)
{
	dp_target_init(t);
	t->id = sqlite3_column_int64(st, 0);
	col_text(st, 1, t->label, sizeof(t->label));
	col_text(st, 2, t->url, sizeof(t->url));
	const unsigned char *enc = sqlite3_column_text(st, 3);
	t->api_key_enc = enc ? xstrdup((const char *)enc) : NULL;
	col_text(st, 4, t->api_key_hint, sizeof(t->api_key_hint));
	col_text(st, 5, t->lms_host, sizeof(t->lms_host));
	t->lms_port = sqlite3_column_int(st, 6);
	col_text(st, 7, t->tags, sizeof(t->tags));
	if (!t->tags[0])
		memcpy(t->tags, "[]", 3);
	t->created_at = sqlite3_column_int64(st, 8);
	t->updated_at = sqlite3_column_int64(st, 9);
}

static void bind_fields(sqlite3_stmt *st, const struct dp_target *t)
{
	sqlite3_bind_text(st, 1, t->label, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, t->url, -1, SQLITE_STATIC);
	if (t->api_key_enc) {
		sqlite3_bind_text(st, 3, t->api_key_enc, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 4, t->api_key_hint, -1, SQLITE_STATIC);
	} else {
		sqlite3_bind_null(st, 3);
		sqlite3_bind_null(st, 4);
	}
	if (t->lms_host[0])
		sqlite3_bind_text(st, 5, t->lms_host, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 5);
	if (t->lms_port)
		sqlite3_bind_int(st, 6, t->lms_port);
	else
		sqlite3_bind_null(st, 6);
	sqlite3_bind_text(st, 7, t->tags, -1, SQLITE_STATIC);
}

static int step_done(struct dp_store *s, sqlite3_stmt *st, const char *what)
{
	int rc = sqlite3_step(st);
	int ext = sqlite3_extended_errcode(dp_store_db(s));
	int ret = 0;
	if ((rc & 0xff) == SQLITE_CONSTRAINT &&
	    (ext == SQLITE_CONSTRAINT_UNIQUE || ext == SQLITE_CONSTRAINT_PRIMARYKEY))
		ret = -EEXIST;
	else if ((rc & 0xff) == SQLITE_CONSTRAINT)
		ret = -ENOENT; /* foreign key: the user or target is gone */
	else if (rc != SQLITE_DONE)
		ret = sql_err(s, what);
	sqlite3_finalize(st);
	return ret;
}

int dp_targets_insert(struct dp_store *s, struct dp_target *t, int64_t now)
{
	sqlite3_stmt *st = prep(s, "INSERT INTO targets (label, url, api_key_enc, api_key_hint, lms_host, lms_port,"
	                           " tags, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)");
	if (!st)
		return -EIO;
	bind_fields(st, t);
	sqlite3_bind_int64(st, 8, now);
	int rc = step_done(s, st, "insert");
	if (rc == 0) {
		t->id = sqlite3_last_insert_rowid(dp_store_db(s));
		t->created_at = t->updated_at = now;
	}
	return rc;
}

int dp_targets_update(struct dp_store *s, struct dp_target *t, int64_t now)
{
	sqlite3_stmt *st = prep(s, "UPDATE targets SET label = ?1, url = ?2, api_key_enc = ?3, api_key_hint = ?4,"
	                           " lms_host = ?5, lms_port = ?6, tags = ?7, updated_at = ?8 WHERE id = ?9");
	if (!st)
		return -EIO;
	bind_fields(st, t);
	sqlite3_bind_int64(st, 8, now);
	sqlite3_bind_int64(st, 9, t->id);
	int rc = step_done(s, st, "update");
	if (rc == 0 && sqlite3_changes(dp_store_db(s)) == 0)
		return -ENOENT;
	if (rc == 0)
		t->updated_at = now;
	return rc;
}

int dp_targets_delete(struct dp_store *s, int64_t id)
{
	sqlite3_stmt *st = prep(s, "DELETE FROM targets WHERE id = ?1");
	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, id);
	int rc = step_done(s, st, "delete");
	if (rc == 0 && sqlite3_changes(dp_store_db(s)) == 0)
		return -ENOENT;
	return rc;
}

int dp_targets_get(struct dp_store *s, int64_t id, struct dp_target *out)
{
	sqlite3_stmt *st = prep(s, "SELECT " COLS " FROM targets WHERE id = ?1");
	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, id);
	int rc = sqlite3_step(st);
	int ret = 0;
	if (rc == SQLITE_ROW)
		row_to_target(st, out);
	else if (rc == SQLITE_DONE)
		ret = -ENOENT;
	else
		ret = sql_err(s, "get");
	sqlite3_finalize(st);
	return ret;
}

int dp_targets_each(struct dp_store *s, dp_targets_fn fn, void *arg)
{
	sqlite3_stmt *st = prep(s, "SELECT " COLS " FROM targets ORDER BY label COLLATE NOCASE, id");
	if (!st)
		return -EIO;
	int rc, ret = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct dp_target t;
		row_to_target(st, &t);
		int stop = fn(&t, arg);
		dp_target_release(&t);
		if (stop)
			break;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		ret = sql_err(s, "list");
	sqlite3_finalize(st);
	return ret;
}

int dp_targets_count(struct dp_store *s, int64_t *n)
{
	sqlite3_stmt *st = prep(s, "SELECT count(*) FROM targets");
	if (!st)
		return -EIO;
	int ret = 0;
	if (sqlite3_step(st) == SQLITE_ROW)
		*n = sqlite3_column_int64(st, 0);
	else
		ret = sql_err(s, "count");
	sqlite3_finalize(st);
	return ret;
}

int dp_targets_active_get(struct dp_store *s, int64_t user_id, int64_t *target_id)
{
	*target_id = 0;
	sqlite3_stmt *st = prep(s, "SELECT target_id FROM user_targets WHERE user_id = ?1");
	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, user_id);
	int rc = sqlite3_step(st), ret = 0;
	if (rc == SQLITE_ROW)
		*target_id = sqlite3_column_type(st, 0) == SQLITE_NULL ? 0 : sqlite3_column_int64(st, 0);
	else if (rc != SQLITE_DONE)
		ret = sql_err(s, "active get");
	sqlite3_finalize(st);
	return ret;
}

int dp_targets_active_set(struct dp_store *s, int64_t user_id, int64_t target_id, int64_t now)
{
	sqlite3_stmt *st = prep(s, "INSERT INTO user_targets (user_id, target_id, updated_at) VALUES (?1, ?2, ?3)"
	                           " ON CONFLICT(user_id) DO UPDATE SET target_id = excluded.target_id,"
	                           " updated_at = excluded.updated_at");
	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, user_id);
	if (target_id > 0)
		sqlite3_bind_int64(st, 2, target_id);
	else
		sqlite3_bind_null(st, 2);
	sqlite3_bind_int64(st, 3, now);
	return step_done(s, st, "active set");
}

struct dp_upstream_req *dp_target_request(struct dp_upstream *u, struct dp_secret *sec, const struct dp_target *t,
                                          const char *method, const char *path, const char *body, int timeout_ms,
                                          dp_upstream_done_fn done, void *arg, const char **err)
{
	char *token = NULL;
	if (dp_target_token(t, sec, &token) < 0) {
		*err = "the stored API token cannot be decrypted with this secret.key; set it again";
		return NULL;
	}
	struct dp_upstream_opts uo = {
	        .method = method,
	        .base_url = t->url,
	        .path = path,
	        .body = body,
	        .token = token,
	        .timeout_ms = timeout_ms,
	        .mode = DP_UPSTREAM_BUFFERED,
	        .on_done = done,
	        .arg = arg,
	};
	struct dp_upstream_req *r = dp_upstream_start(u, &uo, err);
	dp_secret_wipe_free(token);
	return r;
}
