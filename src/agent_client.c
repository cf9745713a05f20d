/*
 * agent_client.c - a target's host agent as the control plane sees it:
 * storage (target_agents), requests through upstream.h, and the parsing of
 * the agent's telemetry back into a struct dp_telemetry_sample (the inverse
 * of dp_telemetry_gpu_json). See agent_client.h.
 */
#include "agent_client.h"

#include <errno.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "log.h"
#include "secret.h"
#include "server.h"
#include "store.h"
#include "targets.h"
#include "telemetry.h"
#include "xmalloc.h"

void dp_agent_link_release(struct dp_agent_link *l)
{
	if (!l)
		return;
	free(l->token_enc);
	l->token_enc = NULL;
}

static sqlite3_stmt *prep(struct dp_store *s, const char *sql)
{
	sqlite3_stmt *st = NULL;
	if (!s || sqlite3_prepare_v2(dp_store_db(s), sql, -1, &st, NULL) != SQLITE_OK) {
		if (s)
			dp_error("agent store: %s", sqlite3_errmsg(dp_store_db(s)));
		return NULL;
	}
	return st;
}

int dp_agent_client_get(struct dp_store *s, int64_t target_id, struct dp_agent_link *out)
{
	memset(out, 0, sizeof(*out));
	sqlite3_stmt *st = prep(s, "SELECT url, token_enc, token_hint, created_at, updated_at FROM target_agents "
	                           "WHERE target_id = ?1");
	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, target_id);
	int rc = sqlite3_step(st);
	int ret = -ENOENT;
	if (rc == SQLITE_ROW) {
		out->target_id = target_id;
		const unsigned char *u = sqlite3_column_text(st, 0);
		const unsigned char *e = sqlite3_column_text(st, 1);
		const unsigned char *h = sqlite3_column_text(st, 2);
		snprintf(out->url, sizeof(out->url), "%s", u ? (const char *)u : "");
		out->token_enc = xstrdup(e ? (const char *)e : "");
		snprintf(out->token_hint, sizeof(out->token_hint), "%s", h ? (const char *)h : "");
		out->created_at = sqlite3_column_int64(st, 3);
		out->updated_at = sqlite3_column_int64(st, 4);
		ret = 0;
	} else if (rc != SQLITE_DONE) {
		ret = -EIO;
	}
	sqlite3_finalize(st);
	return ret;
}

int dp_agent_client_enrolled(struct dp_store *s, int64_t target_id)
{
	struct dp_agent_link l;
	int rc = dp_agent_client_get(s, target_id, &l);
	dp_agent_link_release(&l);
	return rc == 0;
}

int dp_agent_client_set(struct dp_store *s, const struct dp_secret *sec, int64_t target_id, const char *url,
                        const char *token, int64_t now)
{
	char *enc = dp_secret_encrypt(sec, token, strlen(token));
	if (!enc)
		return -EINVAL;
	char hint[48];
	dp_target_mask(token, hint, sizeof(hint));
	sqlite3_stmt *st =
	        prep(s, "INSERT INTO target_agents (target_id, url, token_enc, token_hint, created_at, "
	                "updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5) ON CONFLICT(target_id) DO UPDATE SET "
	                "url = excluded.url, token_enc = excluded.token_enc, token_hint = excluded.token_hint, "
	                "updated_at = excluded.updated_at");
	if (!st) {
		free(enc);
		return -EIO;
	}
	sqlite3_bind_int64(st, 1, target_id);
	sqlite3_bind_text(st, 2, url, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 3, enc, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 4, hint, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 5, now);
	int rc = sqlite3_step(st);
	int ret = rc == SQLITE_DONE ? 0 : ((rc & 0xff) == SQLITE_CONSTRAINT ? -ENOENT : -EIO);
	sqlite3_finalize(st);
	free(enc);
	return ret;
}

int dp_agent_client_delete(struct dp_store *s, int64_t target_id)
{
	sqlite3_stmt *st = prep(s, "DELETE FROM target_agents WHERE target_id = ?1");
	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, target_id);
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return -EIO;
	return sqlite3_changes(dp_store_db(s)) ? 0 : -ENOENT;
}

int dp_agent_client_set_url(struct dp_store *s, int64_t target_id, const char *url, int64_t now)
{
	sqlite3_stmt *st = prep(s, "UPDATE target_agents SET url = ?2, updated_at = ?3 WHERE target_id = ?1");
	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, target_id);
	sqlite3_bind_text(st, 2, url, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 3, now);
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return -EIO;
	return sqlite3_changes(dp_store_db(s)) ? 0 : -ENOENT;
}

int dp_agent_client_token(const struct dp_agent_link *l, const struct dp_secret *sec, char **token)
{
	*token = NULL;
	if (!l->token_enc || !*l->token_enc)
		return -ENOENT;
	int rc = dp_secret_decrypt(sec, l->token_enc, token, NULL);
	return rc == -EINVAL ? -EBADMSG : rc;
}

int dp_agent_client_default_url(const char *target_url, char *out, size_t outlen)
{
	const char *p = strstr(target_url, "://");
	if (!p)
		return -EINVAL;
	p += 3;
	char host[300];
	size_t n = 0;
	if (*p == '[') {
		while (*p && *p != ']' && n + 2 < sizeof(host))
			host[n++] = *p++;
		if (*p != ']')
			return -EINVAL;
		host[n++] = ']';
	} else {
		while (*p && *p != ':' && *p != '/' && *p != '?' && n + 1 < sizeof(host))
			host[n++] = *p++;
	}
	host[n] = '\0';
	if (!n)
		return -EINVAL;
	return snprintf(out, outlen, "http://%s:%d", host, DP_AGENT_DEFAULT_PORT) >= (int)outlen ? -ENAMETOOLONG : 0;
}

json_t *dp_agent_client_json(const struct dp_agent_link *l)
{
	if (!l)
		return json_pack("{s:b,s:n,s:n,s:n,s:n}", "enrolled", 0, "url", "token_hint", "created_at",
		                 "updated_at");
	return json_pack("{s:b,s:s,s:s,s:I,s:I}", "enrolled", 1, "url", l->url, "token_hint", l->token_hint,
	                 "created_at", (json_int_t)l->created_at, "updated_at", (json_int_t)l->updated_at);
}

static struct dp_upstream_req *start(struct dp_server *srv, int64_t target_id, const char *method, const char *path,
                                     const char *body, const char *const *headers, int timeout_ms,
                                     dp_upstream_data_fn on_data, dp_upstream_done_fn on_done, void *arg,
                                     const char **err)
{
	struct dp_agent_link l;
	int rc = dp_agent_client_get(srv->store, target_id, &l);
	if (rc < 0) {
		*err = rc == -ENOENT ? "this target has no agent" : "cannot read the target's agent";
		dp_agent_link_release(&l);
		return NULL;
	}
	char *token = NULL;
	if (dp_agent_client_token(&l, srv->secret, &token) < 0) {
		*err = "the agent token cannot be decrypted (was secret.key replaced?): enrol the agent again";
		dp_agent_link_release(&l);
		return NULL;
	}
	struct dp_upstream_opts o = {
	        .method = method,
	        .base_url = l.url,
	        .path = path,
	        .body = body,
	        .token = token,
	        .timeout_ms = on_data          ? -1
	                      : timeout_ms > 0 ? timeout_ms
	                                       : DP_AGENT_CLIENT_TIMEOUT_MS,
	        .max_response = on_data ? 0 : 4u << 20,
	        .mode = on_data ? DP_UPSTREAM_RAW : DP_UPSTREAM_BUFFERED,
	        .headers = headers,
	        .plain_http = 1,
	        .on_done = on_done,
	        .on_data = on_data,
	        .arg = arg,
	};
	struct dp_upstream_req *r = dp_upstream_start(srv->upstream, &o, err);
	dp_secret_wipe_free(token);
	dp_agent_link_release(&l);
	return r;
}

struct dp_upstream_req *dp_agent_client_request(struct dp_server *srv, int64_t target_id, const char *method,
                                                const char *path, const char *body, const char *const *headers,
                                                int timeout_ms, dp_upstream_done_fn on_done, void *arg,
                                                const char **err)
{
	return start(srv, target_id, method, path, body, headers, timeout_ms, NULL, on_done, arg, err);
}

struct dp_upstream_req *dp_agent_client_stream(struct dp_server *srv, int64_t target_id, const char *path,
                                               dp_upstream_data_fn on_data, dp_upstream_done_fn on_done, void *arg,
                                               const char **err)
{
	return start(srv, target_id, "GET", path, NULL, NULL, 0, on_data, on_done, arg, err);
}

struct dp_upstream_req *dp_agent_client_mcp_get(struct dp_server *srv, int64_t target_id, dp_upstream_done_fn on_done,
                                                void *arg, const char **err)
{
	return dp_agent_client_request(srv, target_id, "GET", "/agent/v1/mcp.json", NULL, NULL, 0, on_done, arg, err);
}

struct dp_upstream_req *dp_agent_client_mcp_put(struct dp_server *srv, int64_t target_id, const json_t *doc,
                                                const char *etag, dp_upstream_done_fn on_done, void *arg,
                                                const char **err)
{
	char *body = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (!body) {
		*err = "mcp.json cannot be serialised";
		return NULL;
	}
	char im[128];
	const char *hdrs[2] = {NULL, NULL};
	if (etag && *etag && strlen(etag) < 64 && !strpbrk(etag, "\r\n")) {
		snprintf(im, sizeof(im), "If-Match: %s", etag);
		hdrs[0] = im;
	}
	struct dp_upstream_req *r =
	        dp_agent_client_request(srv, target_id, "PUT", "/agent/v1/mcp.json", body, hdrs, 0, on_done, arg, err);
	free(body);
	return r;
}

/* ------------------------------------------------------------ telemetry */

static int u64_of(const json_t *o, const char *k, uint64_t *v)
{
	json_t *x = json_object_get(o, k);
	if (!json_is_integer(x) || json_integer_value(x) < 0)
		return 0;
	*v = (uint64_t)json_integer_value(x);
	return 1;
}

static int dbl_of(const json_t *o, const char *k, double *v)
{
	json_t *x = json_object_get(o, k);
	if (!json_is_number(x))
		return 0;
	*v = json_number_value(x);
	return isfinite(*v);
}

static void str_of(const json_t *o, const char *k, char *out, size_t outlen, unsigned *have, unsigned bit)
{
	const char *s = json_string_value(json_object_get(o, k));
	if (!s)
		return;
	size_t n = strlen(s);
	if (n >= outlen) {
		n = outlen - 1;
		while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
			n--;
	}
	memcpy(out, s, n);
	out[n] = '\0';
	if (have)
		*have |= bit;
}

static void parse_gpu(const json_t *o, int index, struct dp_telemetry_gpu *tg)
{
	struct dp_gpu *g = &tg->g;
	memset(tg, 0, sizeof(*tg));
	g->index = index;
	str_of(o, "vendor", g->vendor, sizeof(g->vendor), NULL, 0);
	str_of(o, "name", g->name, sizeof(g->name), &g->have, DP_GPU_HAVE_NAME);
	str_of(o, "uuid", g->uuid, sizeof(g->uuid), &g->have, DP_GPU_HAVE_UUID);
	str_of(o, "pci_bus_id", g->pci, sizeof(g->pci), &g->have, DP_GPU_HAVE_PCI);
	json_t *m = json_object_get(o, "memory");
	uint64_t a = 0, b = 0;
	if (u64_of(m, "total_bytes", &g->mem_total))
		g->have |= DP_GPU_HAVE_MEM_TOTAL;
	if (u64_of(m, "used_bytes", &g->mem_used))
		g->have |= DP_GPU_HAVE_MEM_USED;
	if (u64_of(m, "free_bytes", &g->mem_free))
		g->have |= DP_GPU_HAVE_MEM_FREE;
	if (u64_of(m, "reserved_bytes", &g->mem_reserved))
		g->have |= DP_GPU_HAVE_MEM_RESERVED;
	if (u64_of(m, "lmstudio_bytes", &a) && u64_of(m, "other_bytes", &b)) {
		tg->split_known = 1;
		tg->lms = a;
		tg->other = b;
	}
	if (u64_of(m, "unattributed_bytes", &a)) {
		tg->unattributed_known = 1;
		tg->unattributed = a;
	}
	g->unified = json_is_true(json_object_get(m, "unified"));
	if (u64_of(m, "gtt_total_bytes", &g->gtt_total) && u64_of(m, "gtt_used_bytes", &g->gtt_used))
		g->have |= DP_GPU_HAVE_GTT;
	json_t *u = json_object_get(o, "utilization");
	if (dbl_of(u, "gpu_ratio", &g->util_gpu))
		g->have |= DP_GPU_HAVE_UTIL_GPU;
	if (dbl_of(u, "memory_ratio", &g->util_mem))
		g->have |= DP_GPU_HAVE_UTIL_MEM;
	if (dbl_of(o, "temperature_c", &g->temp_c))
		g->have |= DP_GPU_HAVE_TEMP;
	json_t *p = json_object_get(o, "power");
	if (dbl_of(p, "watts", &g->power_w))
		g->have |= DP_GPU_HAVE_POWER;
	if (dbl_of(p, "limit_watts", &g->power_limit_w))
		g->have |= DP_GPU_HAVE_POWER_LIMIT;
	if (dbl_of(o, "fan_ratio", &g->fan_ratio))
		g->have |= DP_GPU_HAVE_FAN;
	json_t *c = json_object_get(o, "clocks_mhz");
	if (u64_of(c, "graphics", &a) && a < 1000000) {
		g->clk_graphics = (unsigned)a;
		g->have |= DP_GPU_HAVE_CLK_GRAPHICS;
	}
	if (u64_of(c, "sm", &a) && a < 1000000) {
		g->clk_sm = (unsigned)a;
		g->have |= DP_GPU_HAVE_CLK_SM;
	}
	if (u64_of(c, "memory", &a) && a < 1000000) {
		g->clk_mem = (unsigned)a;
		g->have |= DP_GPU_HAVE_CLK_MEM;
	}
	json_t *procs = json_object_get(o, "processes");
	if (json_is_array(procs)) {
		g->have |= DP_GPU_HAVE_PROCS;
		size_t i;
		json_t *pr;
		json_array_foreach(procs, i, pr)
		{
			if (g->nprocs >= DP_GPU_MAX_PROCS) {
				g->procs_truncated = 1;
				break;
			}
			struct dp_gpu_proc *gp = &g->procs[g->nprocs];
			uint64_t pid = 0;
			if (!u64_of(pr, "pid", &pid) || pid > UINT32_MAX)
				continue;
			gp->pid = (uint32_t)pid;
			gp->used_known = u64_of(pr, "used_bytes", &gp->used);
			gp->lmstudio = json_is_true(json_object_get(pr, "lmstudio"));
			g->nprocs++;
		}
	}
}

int dp_agent_client_parse_telemetry(const json_t *body, struct dp_telemetry_sample *s, char *code, size_t codelen,
                                    char *msg, size_t msglen)
{
	memset(s, 0, sizeof(*s));
	if (!json_is_object(body) || !json_is_boolean(json_object_get(body, "available")) ||
	    !json_is_array(json_object_get(body, "gpus")))
		return -EINVAL;
	s->source = DP_TSRC_AGENT;
	json_t *ram = json_object_get(body, "ram");
	if (json_is_object(ram) && u64_of(ram, "total_bytes", &s->ram_total) && u64_of(ram, "used_bytes", &s->ram_used))
		s->have_ram = 1;
	uint64_t ms = 0;
	if (u64_of(body, "measured_ms", &ms))
		s->measured_ms = (int64_t)ms;
	if (!json_is_true(json_object_get(body, "available"))) {
		json_t *r = json_object_get(body, "reason");
		const char *c = json_string_value(json_object_get(r, "code"));
		const char *m = json_string_value(json_object_get(r, "message"));
		snprintf(code, codelen, "%s", c ? c : "none");
		snprintf(msg, msglen, "%s", m ? m : "the agent reports no telemetry");
		for (char *p = msg; *p; p++)
			if ((unsigned char)*p < 0x20)
				*p = ' ';
		return 0;
	}
	size_t i;
	json_t *o;
	json_array_foreach(json_object_get(body, "gpus"), i, o)
	{
		if (s->ngpus >= DP_GPU_MAX)
			break;
		if (!json_is_object(o))
			return -EINVAL;
		parse_gpu(o, s->ngpus, &s->gpus[s->ngpus]);
		s->ngpus++;
	}
	return 1;
}
