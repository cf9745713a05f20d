/*
 * conversations.c - chat history in SQLite (see conversations.h).
 *
 * Statements are prepared per call: history is not a hot path (a few
 * queries per chat turn and per page view) and this keeps the module out
 * of store.c's statement cache, which another module owns.
 */
#include "conversations.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "log.h"
#include "store.h"

static int prep(struct dp_store *s, const char *sql, sqlite3_stmt **st)
{
	if (sqlite3_prepare_v2(dp_store_db(s), sql, -1, st, NULL) != SQLITE_OK) {
		dp_error("conversations: prepare failed: %s", sqlite3_errmsg(dp_store_db(s)));
		*st = NULL;
		return -EIO;
	}
	return 0;
}

static int fail(struct dp_store *s, sqlite3_stmt *st)
{
	dp_error("conversations: query failed: %s", sqlite3_errmsg(dp_store_db(s)));
	sqlite3_finalize(st);
	return -EIO;
}

/* Run a statement with two integer parameters; 0 or -EIO. */
static int run2(struct dp_store *s, const char *sql, int64_t a, int64_t b)
{
	sqlite3_stmt *st;
	if (prep(s, sql, &st) < 0)
		return -EIO;
	sqlite3_bind_int64(st, 1, a);
	sqlite3_bind_int64(st, 2, b);
	if (sqlite3_step(st) != SQLITE_DONE)
		return fail(s, st);
	sqlite3_finalize(st);
	return 0;
}

#define TOUCH_SQL "UPDATE conversations SET updated_at = ? WHERE id = ?"

static void bind_text(sqlite3_stmt *st, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, i);
}

static json_t *col_text(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	if (!t)
		return json_null();
	json_t *j = json_stringn((const char *)t, (size_t)sqlite3_column_bytes(st, i));
	return j ? j : json_string("");
}

static int utf8_ok(const unsigned char *s, size_t n, size_t *chars)
{
	size_t i = 0, c = 0;
	while (i < n) {
		unsigned char b = s[i];
		size_t len = b < 0x80             ? 1
		             : (b & 0xe0) == 0xc0 ? 2
		             : (b & 0xf0) == 0xe0 ? 3
		             : (b & 0xf8) == 0xf0 ? 4
		                                  : 0;
		if (!len || i + len > n || (len == 2 && b < 0xc2))
			return 0;
		for (size_t k = 1; k < len; k++)
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
		i += len;
		c++;
	}
	*chars = c;
	return 1;
}

int dp_conv_check_title(const char *title)
{
	size_t n, chars;
	if (!title || !(n = strlen(title)))
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)title[i] < 0x20 || title[i] == 0x7f)
			return -EINVAL;
	if (!utf8_ok((const unsigned char *)title, n, &chars) || chars > DP_CONV_TITLE_MAX)
		return -EINVAL;
	return 0;
}

void dp_conv_title_from(const char *text, char *out, size_t outlen)
{
	size_t o = 0, chars = 0;
	int space = 0;
	const unsigned char *p = (const unsigned char *)(text ? text : "");
	while (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')
		p++;
	int cut = 0;
	while (*p) {
		unsigned char c = *p;
		if (c < 0x20 || c == ' ' || c == 0x7f) {
			space = 1;
			p++;
			continue;
		}
		size_t len = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : 4;
		if (chars + (space ? 1 : 0) >= 60 || o + len + (space ? 1 : 0) + 4 >= outlen) {
			cut = 1;
			break;
		}
		if (space) {
			out[o++] = ' ';
			chars++;
			space = 0;
		}
		for (size_t k = 0; k < len && p[k]; k++)
			out[o++] = (char)p[k];
		p += len;
		chars++;
	}
	if (cut && o + 4 <= outlen) {
		memcpy(out + o, "\xe2\x80\xa6", 3);
		o += 3;
	}
	out[o] = '\0';
	size_t ch;
	if (!o || !utf8_ok((const unsigned char *)out, o, &ch))
		snprintf(out, outlen, "New conversation");
}

int dp_conv_create(struct dp_store *s, int64_t user_id, const struct dp_conv_new *c, int64_t now, int64_t *id)
{
	sqlite3_stmt *st;
	if (prep(s,
	         "INSERT INTO conversations (user_id, title, target_id, model, api, system_prompt, created_at, "
	         "updated_at)"
	         " VALUES (?,?,?,?,?,?,?,?)",
	         &st) < 0)
		return -EIO;
	sqlite3_bind_int64(st, 1, user_id);
	bind_text(st, 2, c->title && *c->title ? c->title : "New conversation");
	if (c->target_id > 0)
		sqlite3_bind_int64(st, 3, c->target_id);
	else
		sqlite3_bind_null(st, 3);
	bind_text(st, 4, c->model ? c->model : "");
	bind_text(st, 5, c->api ? c->api : "v1");
	bind_text(st, 6, c->system_prompt);
	sqlite3_bind_int64(st, 7, now);
	sqlite3_bind_int64(st, 8, now);
	if (sqlite3_step(st) != SQLITE_DONE)
		return fail(s, st);
	sqlite3_finalize(st);
	if (id)
		*id = sqlite3_last_insert_rowid(dp_store_db(s));
	return 0;
}

int dp_conv_check(struct dp_store *s, int64_t id, int64_t user_id)
{
	sqlite3_stmt *st;
	if (prep(s, "SELECT 1 FROM conversations WHERE id = ? AND user_id = ?", &st) < 0)
		return -EIO;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, user_id);
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc == SQLITE_ROW)
		return 0;
	return rc == SQLITE_DONE ? -ENOENT : -EIO;
}

int dp_conv_append(struct dp_store *s, int64_t id, int64_t user_id, const char *role, const char *content,
                   const char *reasoning, const char *model, const char *stats_json, const char *stop_reason,
                   int64_t now, int64_t *msg_id)
{
	if (!role || (strcmp(role, "system") && strcmp(role, "user") && strcmp(role, "assistant")))
		return -EINVAL;
	int rc = dp_conv_check(s, id, user_id);
	if (rc < 0)
		return rc;
	sqlite3_stmt *st;
	if (prep(s,
	         "INSERT INTO conversation_messages (conversation_id, role, content, reasoning, model, stats,"
	         " stop_reason, created_at) VALUES (?,?,?,?,?,?,?,?)",
	         &st) < 0)
		return -EIO;
	sqlite3_bind_int64(st, 1, id);
	bind_text(st, 2, role);
	bind_text(st, 3, content ? content : "");
	bind_text(st, 4, reasoning && *reasoning ? reasoning : NULL);
	bind_text(st, 5, model);
	bind_text(st, 6, stats_json);
	bind_text(st, 7, stop_reason);
	sqlite3_bind_int64(st, 8, now);
	if (sqlite3_step(st) != SQLITE_DONE)
		return fail(s, st);
	sqlite3_finalize(st);
	if (msg_id)
		*msg_id = sqlite3_last_insert_rowid(dp_store_db(s));
	return run2(s, TOUCH_SQL, now, id);
}

int dp_conv_retry_last(struct dp_store *s, int64_t id, int64_t user_id, const char *content, int64_t now)
{
	int rc = dp_conv_check(s, id, user_id);
	if (rc < 0)
		return rc;
	sqlite3_stmt *st;
	if (prep(s,
	         "SELECT id, content FROM conversation_messages WHERE conversation_id = ? AND role = 'user'"
	         " ORDER BY id DESC LIMIT 1",
	         &st) < 0)
		return -EIO;
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		sqlite3_finalize(st);
		return rc == SQLITE_DONE ? -ESTALE : -EIO;
	}
	int64_t mid = sqlite3_column_int64(st, 0);
	const char *have = (const char *)sqlite3_column_text(st, 1);
	int same = have && content && strcmp(have, content) == 0;
	sqlite3_finalize(st);
	if (!same)
		return -ESTALE;
	rc = run2(s, "DELETE FROM conversation_messages WHERE conversation_id = ? AND id > ?", id, mid);
	return rc < 0 ? rc : run2(s, TOUCH_SQL, now, id);
}

#define CONV_COLS                                                                                                      \
	"c.id, c.title, c.target_id, c.model, c.api, c.system_prompt, c.created_at, c.updated_at,"                     \
	" (SELECT COUNT(*) FROM conversation_messages m WHERE m.conversation_id = c.id)"

static json_t *conv_row(sqlite3_stmt *st, int with_prompt)
{
	json_t *o = json_object();
	json_object_set_new(o, "id", json_integer(sqlite3_column_int64(st, 0)));
	json_object_set_new(o, "title", col_text(st, 1));
	json_object_set_new(o, "target_id",
	                    sqlite3_column_type(st, 2) == SQLITE_NULL ? json_null()
	                                                              : json_integer(sqlite3_column_int64(st, 2)));
	json_object_set_new(o, "model", col_text(st, 3));
	json_object_set_new(o, "api", col_text(st, 4));
	if (with_prompt)
		json_object_set_new(o, "system_prompt", col_text(st, 5));
	json_object_set_new(o, "messages", json_integer(sqlite3_column_int64(st, 8)));
	json_object_set_new(o, "created_at", dp_auth_time_json(sqlite3_column_int64(st, 6)));
	json_object_set_new(o, "updated_at", dp_auth_time_json(sqlite3_column_int64(st, 7)));
	return o;
}

int dp_conv_list(struct dp_store *s, int64_t user_id, const char *query, int64_t offset, int limit, json_t **out)
{
	sqlite3_stmt *st;
	size_t qn = query ? strlen(query) : 0;
	if (limit < 1 || limit > DP_CONV_LIST_MAX || offset < 0 || qn > DP_CONV_QUERY_MAX)
		return -EINVAL;
	/* a LIKE pattern that matches the text literally: %, _ and the escape
	 * character itself are escaped */
	char pat[2 * DP_CONV_QUERY_MAX + 3];
	size_t pn = 0;
	pat[pn++] = '%';
	for (size_t i = 0; i < qn; i++) {
		if (query[i] == '%' || query[i] == '_' || query[i] == '\\')
			pat[pn++] = '\\';
		pat[pn++] = query[i];
	}
	pat[pn++] = '%';
	pat[pn] = '\0';
	if (prep(s,
	         "SELECT " CONV_COLS " FROM conversations c WHERE c.user_id = ?1"
	         " AND (?4 = 0 OR c.title LIKE ?5 ESCAPE '\\' OR EXISTS (SELECT 1 FROM conversation_messages m"
	         "   WHERE m.conversation_id = c.id AND m.content LIKE ?5 ESCAPE '\\'))"
	         " ORDER BY c.updated_at DESC, c.id DESC LIMIT ?2 OFFSET ?3",
	         &st) < 0)
		return -EIO;
	sqlite3_bind_int64(st, 1, user_id);
	sqlite3_bind_int(st, 2, limit + 1);
	sqlite3_bind_int64(st, 3, offset);
	sqlite3_bind_int(st, 4, qn > 0);
	sqlite3_bind_text(st, 5, pat, (int)pn, SQLITE_TRANSIENT);
	json_t *arr = json_array();
	int rc, n = 0, more = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == limit) {
			more = 1;
			break;
		}
		json_array_append_new(arr, conv_row(st, 0));
		n++;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		json_decref(arr);
		return fail(s, st);
	}
	sqlite3_finalize(st);
	*out = json_pack("{s:o,s:o}", "conversations", arr, "next_offset",
	                 more ? json_integer(offset + limit) : json_null());
	return 0;
}

static int messages(struct dp_store *s, int64_t id, json_t *arr)
{
	sqlite3_stmt *st;
	if (prep(s,
	         "SELECT id, role, content, reasoning, model, stats, stop_reason, created_at"
	         " FROM conversation_messages WHERE conversation_id = ? ORDER BY id LIMIT ?",
	         &st) < 0)
		return -EIO;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int(st, 2, DP_CONV_MESSAGES_MAX);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		json_t *m = json_object();
		const char *role = (const char *)sqlite3_column_text(st, 1);
		json_object_set_new(m, "id", json_integer(sqlite3_column_int64(st, 0)));
		json_object_set_new(m, "role", col_text(st, 1));
		json_object_set_new(m, "content", col_text(st, 2));
		if (role && !strcmp(role, "assistant")) {
			json_object_set_new(m, "reasoning", col_text(st, 3));
			json_object_set_new(m, "model", col_text(st, 4));
			json_object_set_new(m, "stop_reason", col_text(st, 6));
			const char *stats = (const char *)sqlite3_column_text(st, 5);
			json_t *sj = stats ? json_loads(stats, 0, NULL) : NULL;
			json_object_set_new(m, "stats", sj ? sj : json_null());
		}
		json_object_set_new(m, "created_at", dp_auth_time_json(sqlite3_column_int64(st, 7)));
		json_array_append_new(arr, m);
	}
	if (rc != SQLITE_DONE)
		return fail(s, st);
	sqlite3_finalize(st);
	return 0;
}

int dp_conv_get(struct dp_store *s, int64_t id, int64_t user_id, int with_messages, json_t **out)
{
	sqlite3_stmt *st;
	if (prep(s, "SELECT " CONV_COLS " FROM conversations c WHERE c.id = ? AND c.user_id = ?", &st) < 0)
		return -EIO;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, user_id);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		sqlite3_finalize(st);
		return -ENOENT;
	}
	if (rc != SQLITE_ROW)
		return fail(s, st);
	json_t *o = conv_row(st, 1);
	sqlite3_finalize(st);
	if (with_messages) {
		json_t *arr = json_array();
		json_object_set_new(o, "messages", arr);
		if (messages(s, id, arr) < 0) {
			json_decref(o);
			return -EIO;
		}
	}
	*out = o;
	return 0;
}

int dp_conv_rename(struct dp_store *s, int64_t id, int64_t user_id, const char *title, int64_t now)
{
	if (dp_conv_check_title(title) < 0)
		return -EINVAL;
	sqlite3_stmt *st;
	if (prep(s, "UPDATE conversations SET title = ?, updated_at = ? WHERE id = ? AND user_id = ?", &st) < 0)
		return -EIO;
	bind_text(st, 1, title);
	sqlite3_bind_int64(st, 2, now);
	sqlite3_bind_int64(st, 3, id);
	sqlite3_bind_int64(st, 4, user_id);
	if (sqlite3_step(st) != SQLITE_DONE)
		return fail(s, st);
	sqlite3_finalize(st);
	return sqlite3_changes(dp_store_db(s)) ? 0 : -ENOENT;
}

int dp_conv_delete(struct dp_store *s, int64_t id, int64_t user_id)
{
	int rc = run2(s, "DELETE FROM conversations WHERE id = ? AND user_id = ?", id, user_id);
	return rc < 0 ? rc : sqlite3_changes(dp_store_db(s)) ? 0 : -ENOENT;
}

/* ------------------------------------------------------------- Markdown */

static const char *jstr(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "";
}

/* A fence longer than any backtick run in `s`, so content cannot close it. */
static void fence_for(const char *s, char *out, size_t outlen)
{
	size_t run = 0, best = 0;
	for (; *s; s++) {
		run = *s == '`' ? run + 1 : 0;
		if (run > best)
			best = run;
	}
	size_t n = best < 3 ? 3 : best + 1;
	if (n >= outlen)
		n = outlen - 1;
	memset(out, '`', n);
	out[n] = '\0';
}

void dp_conv_markdown(const json_t *conv, struct dp_buf *out)
{
	dp_buf_addf(out, "# %s\n\n", jstr(conv, "title"));
	dp_buf_addf(out, "- Model: %s\n- API: %s\n- Created: %s\n- Updated: %s\n", jstr(conv, "model"),
	            jstr(conv, "api"), jstr(conv, "created_at"), jstr(conv, "updated_at"));
	const char *sp = jstr(conv, "system_prompt");
	if (*sp) {
		char f[64];
		fence_for(sp, f, sizeof(f));
		dp_buf_addf(out, "\n## System prompt\n\n%s\n%s\n%s\n", f, sp, f);
	}
	size_t i;
	json_t *m;
	json_array_foreach(json_object_get(conv, "messages"), i, m)
	{
		const char *role = jstr(m, "role");
		int assistant = !strcmp(role, "assistant");
		dp_buf_addf(out, "\n## %s\n\n", assistant ? "Assistant" : !strcmp(role, "system") ? "System" : "User");
		const char *r = jstr(m, "reasoning");
		if (assistant && *r) {
			char f[64];
			fence_for(r, f, sizeof(f));
			dp_buf_addf(out, "<details><summary>Reasoning</summary>\n\n%s\n%s\n%s\n\n</details>\n\n", f, r,
			            f);
		}
		dp_buf_adds(out, jstr(m, "content"));
		dp_buf_addch(out, '\n');
		json_t *srv = json_object_get(json_object_get(m, "stats"), "server");
		if (assistant && srv) {
			dp_buf_addf(out, "\n*%s", jstr(m, "model"));
			json_t *v = json_object_get(srv, "tokens");
			if (json_is_integer(v))
				dp_buf_addf(out, " · %lld tokens", (long long)json_integer_value(v));
			v = json_object_get(srv, "tokens_per_second");
			if (json_is_number(v))
				dp_buf_addf(out, " · %.1f tok/s", json_number_value(v));
			v = json_object_get(srv, "ttft_ms");
			if (json_is_number(v))
				dp_buf_addf(out, " · TTFT %.0f ms", json_number_value(v));
			dp_buf_addf(out, " · %s*\n", jstr(m, "stop_reason"));
		}
	}
}
