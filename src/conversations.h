/*
 * conversations.h - chat history: conversations saved per user in SQLite
 * (tables `conversations` and `conversation_messages`, migration 4 in
 * store.c; the queries live here and use dp_store_db()).
 *
 * Every function that takes a conversation id also takes the user id and
 * acts only on that user's rows: someone else's conversation is -ENOENT,
 * exactly like a missing one. Results are built as JSON in the API's shape
 * (docs/api-chat.md) because that is all callers need.
 *
 * Loop thread only (the store's connection). Functions return 0 or -errno:
 * -ENOENT, -EINVAL (bad role/title), -EIO (SQLite error, logged).
 */
#ifndef DP_CONVERSATIONS_H
#define DP_CONVERSATIONS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

struct dp_store;

#define DP_CONV_TITLE_MAX    200 /* characters */
#define DP_CONV_LIST_MAX     200
#define DP_CONV_MESSAGES_MAX 10000 /* per conversation, when reading */

struct dp_conv_new {
	const char *title;         /* NULL/"": "New conversation" */
	int64_t target_id;         /* 0: none */
	const char *model;         /* NULL: "" */
	const char *api;           /* NULL: "v1" */
	const char *system_prompt; /* NULL: none */
};

int dp_conv_create(struct dp_store *s, int64_t user_id, const struct dp_conv_new *c, int64_t now, int64_t *id);
/* 0 when `id` exists and belongs to `user_id`, else -ENOENT. */
int dp_conv_check(struct dp_store *s, int64_t id, int64_t user_id);
/* Append a message (role "system" | "user" | "assistant"); reasoning,
 * model, stats_json (JSON text), stop_reason may be NULL. Touches the
 * conversation's updated_at. *msg_id optional. */
int dp_conv_append(struct dp_store *s, int64_t id, int64_t user_id, const char *role, const char *content,
                   const char *reasoning, const char *model, const char *stats_json, const char *stop_reason,
                   int64_t now, int64_t *msg_id);
/* Answer the last user message again: drop every message after it (the
 * answers it had) and touch updated_at. Its text must be `content` (the
 * client's view of the conversation is current): -ESTALE when it is not, or
 * when there is no user message; -ENOENT when the conversation is not the
 * user's. */
int dp_conv_retry_last(struct dp_store *s, int64_t id, int64_t user_id, const char *content, int64_t now);
#define DP_CONV_QUERY_MAX 200 /* bytes of a search */
/* {"conversations":[...], "next_offset": n|null}, newest activity first
 * (updated_at, then id). limit 1..DP_CONV_LIST_MAX. With a non-empty
 * `query`, only conversations whose title or any message contains it
 * (case-insensitive for ASCII letters); -EINVAL when it is longer than
 * DP_CONV_QUERY_MAX. */
int dp_conv_list(struct dp_store *s, int64_t user_id, const char *query, int64_t offset, int limit, json_t **out);
/* The conversation object, with "messages" when with_messages. */
int dp_conv_get(struct dp_store *s, int64_t id, int64_t user_id, int with_messages, json_t **out);
/* Title: 1..DP_CONV_TITLE_MAX characters, control characters refused. */
int dp_conv_rename(struct dp_store *s, int64_t id, int64_t user_id, const char *title, int64_t now);
int dp_conv_delete(struct dp_store *s, int64_t id, int64_t user_id);

/* A title from the first user message: whitespace runs folded, at most 60
 * characters (cut at a UTF-8 boundary, "…" appended when cut). */
void dp_conv_title_from(const char *text, char *out, size_t outlen);
/* 0 or -EINVAL (empty, too long, control characters, bad UTF-8). */
int dp_conv_check_title(const char *title);
/* Render a conversation object (dp_conv_get with messages) as Markdown. */
void dp_conv_markdown(const json_t *conv, struct dp_buf *out);

#endif
