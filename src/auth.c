/*
 * auth.c - sessions, personal API tokens, CSRF, passwords and login
 * throttling (see auth.h; the HTTP contract is docs/api-auth.md).
 *
 * Secrets: a session token is 32 bytes from randombytes_buf() sent to the
 * browser base64url-encoded; an API token is "dp_" + the same encoding.
 * Only BLAKE2b-256 hashes of them are stored, looked up through a unique
 * index and re-compared with sodium_memcmp() (constant time) before use.
 * Nothing here ever logs a token, cookie or password.
 *
 * Passwords are argon2id strings (crypto_pwhash_str, interactive limits).
 * Hashing and verifying take ~0.1 s and 64 MiB, so they run on the worker
 * pool through struct dp_auth_pwjob and never on the event loop; an unknown
 * user costs the same (a throwaway hash of the attempt) so timing does not
 * reveal which usernames exist.
 *
 * Activity: the idle timer is refreshed at most once a minute per session
 * (TOUCH_EVERY_S) so an authenticated request costs one indexed read, not a
 * write.
 */
#include "auth.h"

#include <ctype.h>
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "http.h"
#include "log.h"
#include "server.h"
#include "store.h"
#include "workq.h"
#include "xmalloc.h"

/* Record activity at most this often (and at least 4 times per idle period,
 * for short test settings). */
#define TOUCH_EVERY_S 60
static int64_t touch_every(const struct dp_auth_config *cfg)
{
	int64_t t = cfg->session_idle_s / 4;
	return t < 1 ? 1 : t > TOUCH_EVERY_S ? TOUCH_EVERY_S : t;
}
#define THROTTLE_MAX_LIMIT 64
#define THROTTLE_KEY_MAX   80

struct throttle_entry {
	char key[THROTTLE_KEY_MAX]; /* "u:<lower-case name>" or "i:<ip>" */
	int n;                      /* timestamps in `t`, oldest first */
	int64_t t[THROTTLE_MAX_LIMIT];
};

struct dp_auth {
	struct dp_store *store;
	struct dp_workq *wq;
	struct dp_auth_config cfg;
	struct throttle_entry **thr;
	size_t nthr, cap;
};

/* ---------------------------------------------------------------- config */

static int64_t wall_clock(void)
{
	return (int64_t)time(NULL);
}

static void env_int(const char *name, int64_t lo, int64_t hi, int64_t *out)
{
	const char *v = getenv(name);
	if (!v || !*v)
		return;
	char *end;
	errno = 0;
	long long n = strtoll(v, &end, 10);
	if (errno || *end || n < lo || n > hi) {
		dp_warn("ignoring invalid %s '%s': expected %lld..%lld", name, v, (long long)lo, (long long)hi);
		return;
	}
	*out = n;
}

void dp_auth_config_defaults(struct dp_auth_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->session_ttl_s = DP_AUTH_SESSION_TTL_DEFAULT;
	cfg->session_idle_s = DP_AUTH_SESSION_IDLE_DEFAULT;
	cfg->window_s = 15 * 60;
	int64_t u = 5, i = 20;
	/* Hidden knobs for tests (short lifetimes); not in --help on purpose. */
	env_int("DP_SESSION_TTL_SECONDS", 1, 30 * 86400, &cfg->session_ttl_s);
	env_int("DP_SESSION_IDLE_SECONDS", 1, 30 * 86400, &cfg->session_idle_s);
	env_int("DP_LOGIN_WINDOW_SECONDS", 1, 86400, &cfg->window_s);
	env_int("DP_LOGIN_MAX_USER_FAILURES", 1, THROTTLE_MAX_LIMIT, &u);
	env_int("DP_LOGIN_MAX_IP_FAILURES", 1, THROTTLE_MAX_LIMIT, &i);
	cfg->max_user_failures = (int)u;
	cfg->max_ip_failures = (int)i;
}

struct dp_auth *dp_auth_new(struct dp_store *store, struct dp_workq *wq, const struct dp_auth_config *cfg)
{
	if (sodium_init() < 0)
		return NULL;
	struct dp_auth *a = xcalloc(1, sizeof(*a));
	a->store = store;
	a->wq = wq;
	if (cfg)
		a->cfg = *cfg;
	else
		dp_auth_config_defaults(&a->cfg);
	if (!a->cfg.clock)
		a->cfg.clock = wall_clock;
	if (a->cfg.max_user_failures < 1 || a->cfg.max_user_failures > THROTTLE_MAX_LIMIT)
		a->cfg.max_user_failures = 5;
	if (a->cfg.max_ip_failures < 1 || a->cfg.max_ip_failures > THROTTLE_MAX_LIMIT)
		a->cfg.max_ip_failures = 20;
	if (a->cfg.window_s < 1)
		a->cfg.window_s = 15 * 60;
	if (a->cfg.session_ttl_s < 1)
		a->cfg.session_ttl_s = DP_AUTH_SESSION_TTL_DEFAULT;
	if (a->cfg.session_idle_s < 1)
		a->cfg.session_idle_s = DP_AUTH_SESSION_IDLE_DEFAULT;
	return a;
}

void dp_auth_free(struct dp_auth *a)
{
	if (!a)
		return;
	for (size_t i = 0; i < a->nthr; i++)
		free(a->thr[i]);
	free(a->thr);
	free(a);
}

const struct dp_auth_config *dp_auth_config(const struct dp_auth *a)
{
	return &a->cfg;
}

int64_t dp_auth_now(const struct dp_auth *a)
{
	return a->cfg.clock();
}

/* ------------------------------------------------------------- passwords */

int dp_auth_password_check(const char *pw, const char **why)
{
	static const char *too_short = "password must be at least 12 characters";
	static const char *too_long = "password must be at most 1024 bytes";
	if (!pw) {
		*why = too_short;
		return -EINVAL;
	}
	size_t n = strlen(pw);
	if (n > DP_AUTH_PASSWORD_MAX) {
		*why = too_long;
		return -EINVAL;
	}
	/* Count characters, not bytes: UTF-8 continuation bytes do not count. */
	size_t chars = 0;
	for (size_t i = 0; i < n; i++)
		if (((unsigned char)pw[i] & 0xc0) != 0x80)
			chars++;
	if (chars < DP_AUTH_PASSWORD_MIN) {
		*why = too_short;
		return -EINVAL;
	}
	return 0;
}

int dp_auth_username_valid(const char *name)
{
	if (!name)
		return 0;
	size_t n = strlen(name);
	if (n < 1 || n > DP_USERNAME_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)name[i];
		if (!(isalnum(ch) || ch == '.' || ch == '_' || ch == '-') || ch > 0x7f)
			return 0;
	}
	return 1;
}

int dp_auth_hash_password(const char *pw, char out[128])
{
	_Static_assert(crypto_pwhash_STRBYTES <= 128, "argon2 string fits");
	if (crypto_pwhash_str(out, pw, strlen(pw), crypto_pwhash_OPSLIMIT_INTERACTIVE,
	                      crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
		return -ENOMEM;
	return 0;
}

int dp_auth_verify_password(const char *hash, const char *pw)
{
	if (!hash || !*hash)
		return -EACCES;
	return crypto_pwhash_str_verify(hash, pw, strlen(pw)) == 0 ? 0 : -EACCES;
}

/* ---------------------------------------------------------------- tokens */

void dp_auth_hash_secret(const char *secret, size_t len, uint8_t hash[32])
{
	crypto_generichash(hash, 32, (const unsigned char *)secret, len, NULL, 0);
}

static void b64url(char *out, size_t outsz, const uint8_t *raw, size_t n)
{
	sodium_bin2base64(out, outsz, raw, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

void dp_auth_new_session_token(char out[DP_AUTH_SESSION_LEN + 1], uint8_t hash[32])
{
	uint8_t raw[32];
	randombytes_buf(raw, sizeof(raw));
	b64url(out, DP_AUTH_SESSION_LEN + 1, raw, sizeof(raw));
	sodium_memzero(raw, sizeof(raw));
	dp_auth_hash_secret(out, DP_AUTH_SESSION_LEN, hash);
}

void dp_auth_new_api_token(char out[DP_AUTH_TOKEN_LEN + 1], uint8_t hash[32])
{
	uint8_t raw[32];
	randombytes_buf(raw, sizeof(raw));
	memcpy(out, DP_AUTH_TOKEN_PREFIX, 3);
	b64url(out + 3, DP_AUTH_TOKEN_LEN + 1 - 3, raw, sizeof(raw));
	sodium_memzero(raw, sizeof(raw));
	dp_auth_hash_secret(out, DP_AUTH_TOKEN_LEN, hash);
}

void dp_auth_random_password(char out[25])
{
	uint8_t raw[18];
	randombytes_buf(raw, sizeof(raw));
	b64url(out, 25, raw, sizeof(raw));
	sodium_memzero(raw, sizeof(raw));
}

static int is_b64url(int ch)
{
	return isalnum(ch) || ch == '-' || ch == '_';
}

int dp_auth_decode_session(const char *value, uint8_t raw[32])
{
	size_t n = strlen(value), len = 0;
	if (n != DP_AUTH_SESSION_LEN)
		return -EINVAL;
	if (sodium_base642bin(raw, 32, value, n, NULL, &len, NULL, sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
	    len != 32)
		return -EINVAL;
	return 0;
}

/* ------------------------------------------------------- header parsing */

static const char *skip_ows(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

int dp_auth_parse_cookie(const char *header, const char *name, char *out, size_t outsz)
{
	if (!header || !name || outsz == 0)
		return -ENOENT;
	size_t nlen = strlen(name);
	const char *p = header;
	while (*p) {
		p = skip_ows(p);
		const char *pair = p;
		const char *end = strchr(p, ';');
		if (!end)
			end = p + strlen(p);
		const char *eq = memchr(pair, '=', (size_t)(end - pair));
		if (eq) {
			const char *k_end = eq;
			while (k_end > pair && (k_end[-1] == ' ' || k_end[-1] == '\t'))
				k_end--;
			if ((size_t)(k_end - pair) == nlen && memcmp(pair, name, nlen) == 0) {
				const char *v = skip_ows(eq + 1);
				const char *v_end = end;
				while (v_end > v && (v_end[-1] == ' ' || v_end[-1] == '\t'))
					v_end--;
				if (v_end - v >= 2 && *v == '"' && v_end[-1] == '"') {
					v++;
					v_end--;
				}
				size_t vlen = (size_t)(v_end - v);
				if (vlen >= outsz)
					return -E2BIG;
				memcpy(out, v, vlen);
				out[vlen] = '\0';
				return 0;
			}
		}
		p = *end ? end + 1 : end;
	}
	return -ENOENT;
}

int dp_auth_parse_bearer(const char *header, char *out, size_t outsz)
{
	if (!header)
		return -ENOENT;
	const char *p = skip_ows(header);
	if (strncasecmp(p, "Bearer", 6) != 0 || (p[6] != ' ' && p[6] != '\t'))
		return -EINVAL;
	p = skip_ows(p + 6);
	const char *e = p;
	/* token68: A-Z a-z 0-9 - . _ ~ + / then '=' padding */
	while (*e && (isalnum((unsigned char)*e) || strchr("-._~+/", *e)))
		e++;
	while (*e == '=')
		e++;
	const char *t = skip_ows(e);
	if (e == p || *t)
		return -EINVAL;
	size_t n = (size_t)(e - p);
	if (n >= outsz)
		return -E2BIG;
	memcpy(out, p, n);
	out[n] = '\0';
	return 0;
}

/* Lower-case scheme://host with default ports removed, into out. */
static int norm_origin(const char *scheme, const char *host, size_t hostlen, char *out, size_t outsz)
{
	if (hostlen == 0 || hostlen > 255)
		return -EINVAL;
	size_t sl = strlen(scheme);
	if (sl + 3 + hostlen + 1 > outsz)
		return -EINVAL;
	size_t n = 0;
	for (size_t i = 0; i < sl; i++)
		out[n++] = (char)tolower((unsigned char)scheme[i]);
	memcpy(out + n, "://", 3);
	n += 3;
	for (size_t i = 0; i < hostlen; i++) {
		unsigned char ch = (unsigned char)host[i];
		if (ch <= ' ' || ch == '/' || ch == '\\' || ch == '@' || ch >= 0x7f)
			return -EINVAL;
		out[n++] = (char)tolower(ch);
	}
	out[n] = '\0';
	const char *dflt = strncmp(out, "https://", 8) == 0 ? ":443" : strncmp(out, "http://", 7) == 0 ? ":80" : NULL;
	size_t dl = dflt ? strlen(dflt) : 0;
	if (dflt && n > dl && strcmp(out + n - dl, dflt) == 0)
		out[n - dl] = '\0';
	return 0;
}

int dp_auth_origin_matches(const char *origin, const char *scheme, const char *host)
{
	if (!origin || !scheme || !host || !*host)
		return 0;
	const char *sep = strstr(origin, "://");
	if (!sep || sep == origin || sep - origin > 8)
		return 0;
	char oscheme[9];
	memcpy(oscheme, origin, (size_t)(sep - origin));
	oscheme[sep - origin] = '\0';
	const char *h = sep + 3;
	size_t hl = strcspn(h, "/?#");
	/* An Origin is exactly scheme://host[:port]; a Referer may go on with a path. */
	char a[300], b[300];
	if (norm_origin(oscheme, h, hl, a, sizeof(a)) < 0)
		return 0;
	if (norm_origin(scheme, host, strlen(host), b, sizeof(b)) < 0)
		return 0;
	return strcmp(a, b) == 0;
}

/* ------------------------------------------------------- authentication */

static struct dp_auth *auth_of(struct dp_ctx *c)
{
	return c->srv ? c->srv->auth : NULL;
}

int dp_auth_session_valid(const struct dp_auth_config *cfg, int64_t expires_at, int64_t last_seen_at, int64_t now)
{
	if (now >= expires_at)
		return 0;
	if (now - last_seen_at >= cfg->session_idle_s)
		return 0;
	return 1;
}

static int auth_token(struct dp_ctx *c, struct dp_auth *a, const char *authz)
{
	char tok[DP_AUTH_TOKEN_LEN + 2];
	if (dp_auth_parse_bearer(authz, tok, sizeof(tok)) < 0)
		return -EACCES;
	if (strlen(tok) != DP_AUTH_TOKEN_LEN || strncmp(tok, DP_AUTH_TOKEN_PREFIX, 3) != 0)
		return -EACCES;
	for (const char *p = tok + 3; *p; p++)
		if (!is_b64url((unsigned char)*p))
			return -EACCES;
	uint8_t h[32];
	dp_auth_hash_secret(tok, DP_AUTH_TOKEN_LEN, h);
	sodium_memzero(tok, sizeof(tok));
	struct dp_store_token t;
	if (dp_store_token_lookup(a->store, h, &t) < 0)
		return -EACCES;
	if (sodium_memcmp(t.hash, h, 32) != 0)
		return -EACCES;
	int64_t now = a->cfg.clock();
	if (t.expires_at > 0 && now >= t.expires_at)
		return -EACCES;
	if (now - t.last_used_at >= touch_every(&a->cfg))
		dp_store_token_touch(a->store, t.id, now);
	c->auth_kind = DP_AUTH_TOKEN;
	c->token_id = t.id;
	c->session_id = 0;
	c->user = t.user;
	return 0;
}

static int auth_session(struct dp_ctx *c, struct dp_auth *a, const char *cookie)
{
	char val[DP_AUTH_SESSION_LEN + 2];
	uint8_t raw[32], h[32];
	if (dp_auth_parse_cookie(cookie, DP_SESSION_COOKIE, val, sizeof(val)) < 0)
		return -EACCES;
	if (dp_auth_decode_session(val, raw) < 0)
		return -EACCES;
	sodium_memzero(raw, sizeof(raw));
	dp_auth_hash_secret(val, strlen(val), h);
	sodium_memzero(val, sizeof(val));
	struct dp_store_session s;
	if (dp_store_session_lookup(a->store, h, &s) < 0)
		return -EACCES;
	if (sodium_memcmp(s.hash, h, 32) != 0)
		return -EACCES;
	int64_t now = a->cfg.clock();
	if (!dp_auth_session_valid(&a->cfg, s.expires_at, s.last_seen_at, now)) {
		dp_store_session_delete(a->store, s.id);
		return -EACCES;
	}
	if (now - s.last_seen_at >= touch_every(&a->cfg))
		dp_store_session_touch(a->store, s.id, now);
	c->auth_kind = DP_AUTH_SESSION;
	c->session_id = s.id;
	c->token_id = 0;
	c->user = s.user;
	return 0;
}

int dp_auth_check_headers(struct dp_auth *a, const char *authz, const char *cookie, struct dp_ctx *c)
{
	c->auth_kind = DP_AUTH_NONE;
	if (!a || !a->store)
		return -EACCES;
	/* An Authorization header decides alone: a bad token is never rescued
	 * by a cookie that happens to ride along. */
	if (authz)
		return auth_token(c, a, authz);
	if (cookie)
		return auth_session(c, a, cookie);
	return -EACCES;
}

int dp_auth_authenticate(struct dp_ctx *c)
{
	return dp_auth_check_headers(auth_of(c), dp_http_req_header(c->req, "Authorization"),
	                             dp_http_req_header(c->req, "Cookie"), c);
}

const char *dp_auth_request_scheme(struct dp_ctx *c)
{
	struct dp_auth *a = auth_of(c);
	if (c->srv && c->srv->cfg && c->srv->cfg->secure_cookies)
		return "https";
	if (a && a->cfg.cookie_secure)
		return "https";
	if (a && a->cfg.trust_proxy) {
		const char *p = dp_http_req_header(c->req, "X-Forwarded-Proto");
		if (p && strcasecmp(p, "https") == 0)
			return "https";
	}
	return "http";
}

static int is_mutating(const char *m)
{
	return strcmp(m, "GET") != 0 && strcmp(m, "HEAD") != 0 && strcmp(m, "OPTIONS") != 0;
}

int dp_auth_csrf_check(struct dp_ctx *c)
{
	if (c->auth_kind == DP_AUTH_TOKEN)
		return 0;
	if (!is_mutating(dp_http_req_method(c->req)))
		return 0;
	const char *host = dp_http_req_header(c->req, "Host");
	const char *origin = dp_http_req_header(c->req, "Origin");
	if (!origin)
		origin = dp_http_req_header(c->req, "Referer");
	if (!origin || !host)
		return -EPERM;
	return dp_auth_origin_matches(origin, dp_auth_request_scheme(c), host) ? 0 : -EPERM;
}

int dp_auth_set_cookie(struct dp_ctx *c, const char *token, int64_t max_age)
{
	char v[256];
	struct dp_auth *a = auth_of(c);
	int secure = (c->srv && c->srv->cfg && c->srv->cfg->secure_cookies) || (a && a->cfg.cookie_secure);
	int n = snprintf(v, sizeof(v), "%s=%s; Path=/; Max-Age=%lld; HttpOnly; SameSite=Strict%s", DP_SESSION_COOKIE,
	                 token, (long long)max_age, secure ? "; Secure" : "");
	if (n < 0 || (size_t)n >= sizeof(v))
		return -E2BIG;
	int ret = dp_http_add_header(c->req, "Set-Cookie", v);
	sodium_memzero(v, sizeof(v));
	return ret;
}

/* ------------------------------------------------------------ throttling */

static void throttle_key(char out[THROTTLE_KEY_MAX], char kind, const char *s)
{
	size_t n = 0;
	out[n++] = kind;
	out[n++] = ':';
	for (; s && *s && n < THROTTLE_KEY_MAX - 1; s++)
		out[n++] = (char)tolower((unsigned char)*s);
	out[n] = '\0';
}

/* Drop timestamps that left the window. */
static void prune(struct throttle_entry *e, int64_t now, int64_t window)
{
	int k = 0;
	while (k < e->n && e->t[k] <= now - window)
		k++;
	if (k) {
		memmove(e->t, e->t + k, (size_t)(e->n - k) * sizeof(e->t[0]));
		e->n -= k;
	}
}

static struct throttle_entry *find(struct dp_auth *a, const char *key, int create, int64_t now)
{
	size_t stalest = 0;
	int64_t stalest_t = INT64_MAX;
	for (size_t i = 0; i < a->nthr; i++) {
		struct throttle_entry *e = a->thr[i];
		if (strcmp(e->key, key) == 0)
			return e;
		int64_t last = e->n ? e->t[e->n - 1] : 0;
		if (last < stalest_t) {
			stalest_t = last;
			stalest = i;
		}
	}
	if (!create)
		return NULL;
	struct throttle_entry *e;
	if (a->nthr >= DP_AUTH_THROTTLE_KEYS) {
		e = a->thr[stalest]; /* reuse the least recently failed key */
		memset(e, 0, sizeof(*e));
	} else {
		if (a->nthr == a->cap) {
			a->cap = a->cap ? a->cap * 2 : 16;
			a->thr = xrealloc(a->thr, a->cap * sizeof(*a->thr));
		}
		e = xcalloc(1, sizeof(*e));
		a->thr[a->nthr++] = e;
	}
	snprintf(e->key, sizeof(e->key), "%s", key);
	return e;
}

static int64_t wait_for(struct dp_auth *a, const char *key, int limit, int64_t now)
{
	struct throttle_entry *e = find(a, key, 0, now);
	if (!e)
		return 0;
	prune(e, now, a->cfg.window_s);
	if (e->n < limit)
		return 0;
	/* The window opens again when the oldest counted failure leaves it. */
	int64_t w = e->t[e->n - limit] + a->cfg.window_s - now;
	return w < 1 ? 1 : w;
}

int64_t dp_auth_throttle_check(struct dp_auth *a, const char *ip, const char *username)
{
	int64_t now = a->cfg.clock();
	char k[THROTTLE_KEY_MAX];
	int64_t w = 0, x;
	if (ip && *ip) {
		throttle_key(k, 'i', ip);
		w = wait_for(a, k, a->cfg.max_ip_failures, now);
	}
	if (username && *username) {
		throttle_key(k, 'u', username);
		x = wait_for(a, k, a->cfg.max_user_failures, now);
		if (x > w)
			w = x;
	}
	return w;
}

static void add_failure(struct dp_auth *a, const char *key, int64_t now)
{
	struct throttle_entry *e = find(a, key, 1, now);
	prune(e, now, a->cfg.window_s);
	if (e->n == THROTTLE_MAX_LIMIT) {
		memmove(e->t, e->t + 1, (THROTTLE_MAX_LIMIT - 1) * sizeof(e->t[0]));
		e->n--;
	}
	e->t[e->n++] = now;
}

void dp_auth_throttle_fail(struct dp_auth *a, const char *ip, const char *username)
{
	int64_t now = a->cfg.clock();
	char k[THROTTLE_KEY_MAX];
	if (ip && *ip) {
		throttle_key(k, 'i', ip);
		add_failure(a, k, now);
	}
	if (username && *username) {
		throttle_key(k, 'u', username);
		add_failure(a, k, now);
	}
}

void dp_auth_throttle_success(struct dp_auth *a, const char *ip, const char *username)
{
	int64_t now = a->cfg.clock();
	char k[THROTTLE_KEY_MAX];
	struct throttle_entry *e;
	if (ip && *ip) {
		throttle_key(k, 'i', ip);
		if ((e = find(a, k, 0, now)) && e->n > 0)
			e->n--; /* take back the attempt counted when it started */
	}
	if (username && *username) {
		throttle_key(k, 'u', username);
		if ((e = find(a, k, 0, now)))
			e->n = 0;
	}
}

/* ------------------------------------------------------------------ JSON */

json_t *dp_auth_time_json(int64_t t)
{
	if (t <= 0)
		return json_null();
	time_t tt = (time_t)t;
	struct tm tm;
	char buf[32];
	if (!gmtime_r(&tt, &tm) || strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		return json_null();
	return json_string(buf);
}

json_t *dp_auth_user_json(const struct dp_user *u)
{
	const char *r = dp_role_name(u->role);
	return json_pack("{s:I, s:s, s:s}", "id", (json_int_t)u->id, "username", u->username, "role", r ? r : "viewer");
}

static int digits(const char *s, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

int dp_auth_parse_time(const char *s, int64_t *t)
{
	if (!s || !*s)
		return -EINVAL;
	size_t n = strlen(s);
	int all_digits = 1;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			all_digits = 0;
	if (all_digits) {
		if (n > 12)
			return -EINVAL;
		char *end;
		long long v = strtoll(s, &end, 10);
		*t = v;
		return 0;
	}
	/* YYYY-MM-DD[THH:MM[:SS]][Z] */
	int Y, M, D, h = 0, m = 0, sec = 0;
	if (n < 10 || digits(s, 4, &Y) || s[4] != '-' || digits(s + 5, 2, &M) || s[7] != '-' || digits(s + 8, 2, &D))
		return -EINVAL;
	const char *p = s + 10;
	if (*p == 'T' || *p == 't' || *p == ' ') {
		if (strlen(p) < 6 || digits(p + 1, 2, &h) || p[3] != ':' || digits(p + 4, 2, &m))
			return -EINVAL;
		p += 6;
		if (*p == ':') {
			if (digits(p + 1, 2, &sec))
				return -EINVAL;
			p += 3;
		}
	}
	if (*p == 'Z' || *p == 'z')
		p++;
	if (*p || Y < 1970 || M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || sec > 60)
		return -EINVAL;
	struct tm tm = {.tm_year = Y - 1900, .tm_mon = M - 1, .tm_mday = D, .tm_hour = h, .tm_min = m, .tm_sec = sec};
	*t = (int64_t)timegm(&tm);
	return 0;
}

/* ----------------------------------------------------------- password jobs */

static void pwjob_abort(struct dp_ctx *c, void *arg)
{
	struct dp_auth_pwjob *j = arg;
	j->c = NULL;
}

struct dp_auth_pwjob *dp_auth_pwjob_new(struct dp_ctx *c, dp_auth_pwjob_fn fn)
{
	struct dp_auth_pwjob *j = xcalloc(1, sizeof(*j));
	j->c = c;
	j->auth = auth_of(c);
	j->fn = fn;
	const char *ip = dp_ctx_peer(c);
	snprintf(j->ip, sizeof(j->ip), "%s", ip ? ip : "");
	return j;
}

static char *secret_dup(const char *pw)
{
	size_t n = strlen(pw);
	char *p = xmalloc(n + 1);
	memcpy(p, pw, n + 1);
	return p;
}

static void secret_free(char *p)
{
	if (p) {
		sodium_memzero(p, strlen(p));
		free(p);
	}
}

void dp_auth_pwjob_verify(struct dp_auth_pwjob *j, const char *pw, const char *hash)
{
	secret_free(j->verify_pw);
	j->verify_pw = secret_dup(pw);
	snprintf(j->verify_hash, sizeof(j->verify_hash), "%s", hash ? hash : "");
}

void dp_auth_pwjob_hash(struct dp_auth_pwjob *j, const char *pw)
{
	secret_free(j->new_pw);
	j->new_pw = secret_dup(pw);
}

static void pwjob_free(struct dp_auth_pwjob *j)
{
	secret_free(j->verify_pw);
	secret_free(j->new_pw);
	sodium_memzero(j, sizeof(*j));
	free(j);
}

/* Worker thread: no store, no libevent, no ctx. */
static void pwjob_work(void *arg)
{
	struct dp_auth_pwjob *j = arg;
	int ok = 1;
	if (j->verify_pw) {
		if (j->verify_hash[0])
			ok = dp_auth_verify_password(j->verify_hash, j->verify_pw) == 0;
		else {
			/* Unknown user: spend what a verify would cost, then fail. */
			char dummy[128];
			dp_auth_hash_password(j->verify_pw, dummy);
			ok = 0;
		}
		j->verified = ok;
	}
	if (ok && j->new_pw)
		j->hashed = dp_auth_hash_password(j->new_pw, j->new_hash) == 0;
}

static void pwjob_done(void *arg, int status)
{
	struct dp_auth_pwjob *j = arg;
	j->status = status;
	if (status != 0) {
		j->verified = 0;
		j->hashed = 0;
	}
	if (j->c)
		dp_ctx_on_abort(j->c, NULL, NULL);
	j->fn(j);
	pwjob_free(j);
}

int dp_auth_pwjob_submit(struct dp_auth_pwjob *j)
{
	struct dp_workq *wq = j->auth ? j->auth->wq : NULL;
	int ret = wq ? dp_workq_submit(wq, pwjob_work, pwjob_done, j) : -ESHUTDOWN;
	if (ret < 0) {
		pwjob_free(j);
		return ret;
	}
	dp_ctx_on_abort(j->c, pwjob_abort, j);
	return 0;
}
