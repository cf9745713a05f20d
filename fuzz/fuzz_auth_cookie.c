/*
 * fuzz_auth_cookie.c - libFuzzer target for everything auth.c reads from a
 * request before it trusts it: the Cookie header (dp_auth_parse_cookie,
 * dp_auth_decode_session), the Authorization header (dp_auth_parse_bearer),
 * Origin/Referer against Host (dp_auth_origin_matches), the audit API's time
 * parameters (dp_auth_parse_time), and the whole header -> user path
 * (dp_auth_check_headers) against an in-memory store holding one user with a
 * live session and API token.
 *
 * Input: up to five lines, "Cookie\nAuthorization\nOrigin\nHost\ntime".
 * A missing line means an absent header.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "auth.h"
#include "store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW 1800000000

static struct dp_store *store;
static struct dp_auth *auth;

static int64_t fixed_clock(void)
{
	return NOW;
}

static void setup(void)
{
	char *err = NULL;
	if (sodium_init() < 0)
		abort();
	store = dp_store_open(":memory:", &err);
	if (!store)
		abort();
	struct dp_auth_config cfg;
	dp_auth_config_defaults(&cfg);
	cfg.clock = fixed_clock;
	auth = dp_auth_new(store, NULL, &cfg);
	int64_t uid;
	if (dp_store_user_create(store, "fuzz", "$argon2id$x", DP_ROLE_ADMIN, 1, &uid) < 0)
		abort();
	/* Fixed, documented secrets so seeds can reach the success paths:
	 * the cookie value is 43 'A's, the token dp_ + 43 'B's. */
	char sess[DP_AUTH_SESSION_LEN + 1], tok[DP_AUTH_TOKEN_LEN + 1];
	memset(sess, 'A', DP_AUTH_SESSION_LEN);
	sess[DP_AUTH_SESSION_LEN] = '\0';
	memcpy(tok, "dp_", 3);
	memset(tok + 3, 'B', DP_AUTH_TOKEN_LEN - 3);
	tok[DP_AUTH_TOKEN_LEN] = '\0';
	uint8_t h[32];
	dp_auth_hash_secret(sess, strlen(sess), h);
	dp_store_session_create(store, uid, h, NOW, NOW + 3600 * 1000, NULL, NULL);
	dp_auth_hash_secret(tok, strlen(tok), h);
	dp_store_token_create(store, uid, "fuzz", "dp_BBBB", h, NOW, 0, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!store)
		setup();
	if (size > 64 * 1024)
		return 0;
	char *buf = malloc(size + 1);
	memcpy(buf, data, size);
	buf[size] = '\0';
	/* NUL bytes cannot occur in parsed header values: cut there */
	char *field[5] = {0};
	char *p = buf;
	for (int i = 0; i < 5 && p; i++) {
		field[i] = p;
		char *nl = strchr(p, '\n');
		if (nl)
			*nl = '\0';
		p = nl ? nl + 1 : NULL;
	}
	char out[128];
	uint8_t raw[32];
	if (dp_auth_parse_cookie(field[0], DP_SESSION_COOKIE, out, sizeof(out)) == 0)
		(void)dp_auth_decode_session(out, raw);
	(void)dp_auth_parse_cookie(field[0], "x", out, 1);
	(void)dp_auth_parse_bearer(field[1], out, sizeof(out));
	(void)dp_auth_parse_bearer(field[1], out, 4);
	if (field[2] && field[3]) {
		(void)dp_auth_origin_matches(field[2], "http", field[3]);
		(void)dp_auth_origin_matches(field[2], "https", field[3]);
	}
	if (field[4]) {
		int64_t t;
		(void)dp_auth_parse_time(field[4], &t);
	}
	struct dp_ctx c;
	memset(&c, 0, sizeof(c));
	if (dp_auth_check_headers(auth, field[1], field[0], &c) == 0) {
		if (c.auth_kind == DP_AUTH_NONE || strcmp(c.user.username, "fuzz") != 0)
			abort(); /* success must name the one user */
	} else if (c.auth_kind != DP_AUTH_NONE) {
		abort(); /* a failure must leave the request unauthenticated */
	}
	free(buf);
	return 0;
}
