/*
 * agent.c - `daemonpulse agent`: options, the token, the transport seam,
 * the sampler thread, the HTTP routes and the log fan-out (agent.h says
 * what the agent is; docs/agent.md is the HTTP contract).
 *
 * Threads: the event loop serves HTTP, runs `lms` children through the
 * bridge (lms.h) and streams logs; one sampler thread reads NVML / amdgpu
 * sysfs / procfs and stores the sample and the history ring under a mutex
 * (the loop only copies from them, never waits on a driver); one worker
 * (lib/workq.h) does mcp.json file I/O (fsync must not stall the loop).
 */
#include "agent.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "alerts.h"
#include "amdgpu.h"
#include "buf.h"
#include "http.h"
#include "lms.h"
#include "log.h"
#include "nvml.h"
#include "telemetry.h"
#include "workq.h"
#include "xmalloc.h"
#include "version.h"

#define AGENT_MAX_BODY        (DP_AGENT_MCP_MAX + 4096)
#define AGENT_MAX_CONNECTIONS 64
#define AGENT_MAX_LOG_VIEWERS 16
#define AGENT_REDETECT_MS     60000

struct agent_opts {
	const char *bind;
	int port;
	const char *token_file;
	const char *lms_bin;
	const char *lmstudio_home;
	const char *nvml_library;
	const char *sysfs_root;
	const char *procfs_root;
	int interval_ms;
	int insecure_listen;
};

/* ------------------------------------------------------------ sampler */

struct sampler {
	pthread_t th;
	int started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int stop;
	int interval_ms;
	const char *nvml_library, *sysfs_root, *procfs_root;
	/* under mu */
	struct dp_telemetry_sample latest;
	int have_latest; /* a sample (or a "none" verdict) exists */
	int available;
	char code[32], reason[512];
	struct dp_telemetry_ring ring;
	uint64_t samples;
};

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static double thread_cpu(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void detect(struct sampler *sm, struct dp_nvml **nvp, int *use_amd, char *reason, size_t reasonlen)
{
	struct dp_nvml *nv = NULL;
	char msg[256] = "";
	if (strcmp(sm->nvml_library, "off") != 0) {
		int nrc = 0;
		if (dp_nvml_open(&nv, sm->nvml_library, &nrc, msg, sizeof(msg)) == 0) {
			unsigned c = 0;
			if (dp_nvml_count(nv, &c, msg, sizeof(msg)) < 0 || c == 0) {
				if (!msg[0])
					snprintf(msg, sizeof(msg), "NVML reports no GPU");
				dp_nvml_close(nv);
				nv = NULL;
			} else {
				dp_info("agent telemetry: NVML, %u GPU(s)", c);
			}
		}
	} else {
		snprintf(msg, sizeof(msg), "NVML disabled");
	}
	*use_amd = 0;
	if (!nv) {
		struct dp_gpu *probe = xcalloc(DP_GPU_MAX, sizeof(*probe));
		*use_amd = dp_amdgpu_scan(sm->sysfs_root, NULL, probe, DP_GPU_MAX) > 0;
		free(probe);
		if (*use_amd)
			dp_info("agent telemetry: amdgpu sysfs under %s", sm->sysfs_root);
	}
	snprintf(reason, reasonlen,
	         "telemetry not supported here: no NVIDIA (NVML) or AMD (amdgpu) GPU on this host (%s; no amdgpu card "
	         "under %s/class/drm)",
	         msg, sm->sysfs_root);
	*nvp = nv;
}

static void *sampler_main(void *arg)
{
	struct sampler *sm = arg;
	struct dp_nvml *nv = NULL;
	int use_amd = 0;
	char none_reason[512];
	detect(sm, &nv, &use_amd, none_reason, sizeof(none_reason));
	int64_t last_detect = now_ms();
	struct dp_telemetry_sample *s = xmalloc(sizeof(*s));
	pthread_mutex_lock(&sm->mu);
	while (!sm->stop) {
		pthread_mutex_unlock(&sm->mu);
		double c0 = thread_cpu();
		memset(s, 0, sizeof(*s));
		const char *code = NULL, *reason = NULL;
		char err[256] = "";
		if (nv) {
			unsigned count = 0;
			s->source = DP_TSRC_NVML;
			if (dp_nvml_count(nv, &count, err, sizeof(err)) < 0) {
				code = "nvml_error";
				reason = err;
			} else {
				for (unsigned i = 0; i < count && s->ngpus < DP_GPU_MAX; i++)
					if (dp_nvml_read(nv, i, &s->gpus[s->ngpus].g, err, sizeof(err)) == 0)
						s->ngpus++;
				if (!s->ngpus) {
					code = "nvml_error";
					reason = err[0] ? err : "no GPU could be read";
				}
			}
		} else if (use_amd) {
			struct dp_gpu g[DP_GPU_MAX];
			int n = dp_amdgpu_scan(sm->sysfs_root, NULL, g, DP_GPU_MAX);
			for (int i = 0; i < n; i++)
				s->gpus[i].g = g[i];
			s->ngpus = n > 0 ? n : 0;
			s->source = DP_TSRC_AMDGPU;
			if (n <= 0) {
				code = "source_down";
				reason = "amdgpu cards disappeared";
			}
		} else {
			if (now_ms() - last_detect >= AGENT_REDETECT_MS) {
				detect(sm, &nv, &use_amd, none_reason, sizeof(none_reason));
				last_detect = now_ms();
			}
			s->source = DP_TSRC_NONE;
			code = "no_gpu";
			reason = none_reason;
		}
		if (dp_telemetry_meminfo(sm->procfs_root, &s->ram_total, &s->ram_used) == 0)
			s->have_ram = 1;
		if (!code) {
			dp_telemetry_unified_fill(s);
			if (s->source == DP_TSRC_AMDGPU)
				dp_telemetry_attribute_amd(s, sm->procfs_root, DP_TELEMETRY_LMS_COMM);
			else
				dp_telemetry_attribute(s, sm->procfs_root, DP_TELEMETRY_LMS_COMM);
		}
		s->measured_ms = now_ms();
		s->cpu_seconds = thread_cpu() - c0;

		pthread_mutex_lock(&sm->mu);
		sm->latest = *s;
		sm->have_latest = 1;
		sm->samples++;
		sm->available = !code;
		snprintf(sm->code, sizeof(sm->code), "%s", code ? code : "");
		snprintf(sm->reason, sizeof(sm->reason), "%s", reason ? reason : "");
		if (!code)
			dp_telemetry_ring_push(&sm->ring, s);

		struct timespec dl;
		clock_gettime(CLOCK_MONOTONIC, &dl);
		dl.tv_sec += sm->interval_ms / 1000;
		dl.tv_nsec += (long)(sm->interval_ms % 1000) * 1000000L;
		if (dl.tv_nsec >= 1000000000L) {
			dl.tv_sec++;
			dl.tv_nsec -= 1000000000L;
		}
		while (!sm->stop)
			if (pthread_cond_timedwait(&sm->cv, &sm->mu, &dl) == ETIMEDOUT)
				break;
	}
	pthread_mutex_unlock(&sm->mu);
	free(s);
	dp_nvml_close(nv);
	return NULL;
}

static int sampler_start(struct sampler *sm)
{
	pthread_mutex_init(&sm->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&sm->cv, &ca);
	pthread_condattr_destroy(&ca);
	dp_telemetry_ring_init(&sm->ring, (size_t)DP_TELEMETRY_HISTORY_S * 1000 / (size_t)sm->interval_ms);
	int rc = pthread_create(&sm->th, NULL, sampler_main, sm);
	if (rc != 0)
		return -rc;
	sm->started = 1;
	return 0;
}

static void sampler_stop(struct sampler *sm)
{
	if (sm->started) {
		pthread_mutex_lock(&sm->mu);
		sm->stop = 1;
		pthread_cond_broadcast(&sm->cv);
		pthread_mutex_unlock(&sm->mu);
		pthread_join(sm->th, NULL);
		sm->started = 0;
	}
	dp_telemetry_ring_release(&sm->ring);
	pthread_mutex_destroy(&sm->mu);
	pthread_cond_destroy(&sm->cv);
}

/* ------------------------------------------------------------ the agent */

/* The transport seam: how the agent listens. Only plain HTTP exists; a TLS
 * transport (docs/agent.md) would wrap accepted connections in
 * bufferevent_openssl before lib/http sees them and report "https". */
struct dp_agent;
struct dp_agent_transport {
	const char *name;   /* "http" */
	const char *scheme; /* for the listening line */
	int (*listen)(struct dp_agent *a, const char *addr, int port, int *bound);
};

struct log_viewer;

struct log_source {
	const char *name;
	struct dp_lms_stream *stream;
	struct log_viewer *viewers;
	int nviewers;
};

struct dp_agent {
	struct event_base *base;
	struct dp_http_server *http;
	struct dp_lms *lms;
	struct dp_workq *workq;
	const struct dp_agent_transport *transport;
	struct agent_opts o;
	unsigned char token_hash[32];
	char home[PATH_MAX];
	char home_error[256];
	struct sampler sm;
	struct log_source logs[3];
	int log_viewers;
	struct event *sig_int, *sig_term, *sig_hup;
	int64_t started_ms;
	uint64_t auth_failures;
};

static int plain_listen(struct dp_agent *a, const char *addr, int port, int *bound)
{
	return dp_http_server_listen(a->http, addr, port, bound);
}

static const struct dp_agent_transport plain_transport = {"http", "http", plain_listen};

/* ------------------------------------------------------------ replies */

static void reply_json(struct dp_http_req *req, int status, json_t *j)
{
	char *txt = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	dp_http_add_header(req, "Cache-Control", "no-store");
	dp_http_add_header(req, "X-Content-Type-Options", "nosniff");
	dp_http_reply(req, status, "application/json", txt ? txt : "{}", txt ? strlen(txt) : 2);
	free(txt);
}

static void reply_error(struct dp_http_req *req, int status, const char *code, const char *msg)
{
	reply_json(req, status, json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", msg));
}

/* ------------------------------------------------------------ auth */

static void token_hash(const char *tok, size_t len, unsigned char out[32])
{
	crypto_generichash(out, 32, (const unsigned char *)tok, len, NULL, 0);
}

static int authorized(struct dp_agent *a, struct dp_http_req *req)
{
	const char *h = dp_http_req_header(req, "Authorization");
	if (!h || strncasecmp(h, "Bearer ", 7) != 0)
		return 0;
	const char *t = h + 7;
	while (*t == ' ')
		t++;
	size_t n = strlen(t);
	while (n && t[n - 1] == ' ')
		n--;
	if (n > 512)
		return 0;
	unsigned char got[32];
	token_hash(t, n, got);
	return sodium_memcmp(got, a->token_hash, sizeof(got)) == 0;
}

/* ------------------------------------------------------------ info */

static void read_first_line_value(const char *path, const char *key, char *out, size_t outlen)
{
	out[0] = '\0';
	FILE *f = fopen(path, "re");
	if (!f)
		return;
	char line[512];
	size_t kl = strlen(key);
	for (int i = 0; i < 4096 && fgets(line, sizeof(line), f); i++) {
		if (strncmp(line, key, kl) != 0)
			continue;
		const char *v = line + kl;
		while (*v == ' ' || *v == '\t' || *v == ':' || *v == '=' || *v == '"')
			v++;
		size_t n = strcspn(v, "\"\n");
		if (n >= outlen)
			n = outlen - 1;
		memcpy(out, v, n);
		out[n] = '\0';
		for (size_t k = 0; k < n; k++)
			if ((unsigned char)out[k] < 0x20 || (unsigned char)out[k] >= 0x7f)
				out[k] = '?';
		break;
	}
	fclose(f);
}

static json_t *str_or_null(const char *s)
{
	return s && *s ? json_string(s) : json_null();
}

static void route_info(struct dp_agent *a, struct dp_http_req *req)
{
	char host[256] = "";
	gethostname(host, sizeof(host) - 1);
	struct utsname u;
	memset(&u, 0, sizeof(u));
	uname(&u);
	char pretty[256], cpu[256], path[PATH_MAX + 32];
	read_first_line_value("/etc/os-release", "PRETTY_NAME", pretty, sizeof(pretty));
	snprintf(path, sizeof(path), "%s/cpuinfo", a->o.procfs_root);
	read_first_line_value(path, "model name", cpu, sizeof(cpu));
	uint64_t total = 0, used = 0;
	int have_ram = dp_telemetry_meminfo(a->o.procfs_root, &total, &used) == 0;
	const char *why = NULL;
	int lms_ok = dp_lms_available(a->lms, &why);
	pthread_mutex_lock(&a->sm.mu);
	int source = a->sm.have_latest ? a->sm.latest.source : DP_TSRC_PENDING;
	pthread_mutex_unlock(&a->sm.mu);
	struct stat sb;
	int home_exists = a->home[0] && stat(a->home, &sb) == 0 && S_ISDIR(sb.st_mode);
	json_t *o = json_pack(
	        "{s:s,s:s,s:o,s:{s:s,s:s,s:s,s:o},s:{s:o,s:i},s:o,s:{s:b,s:o,s:o},s:{s:o,s:b,s:o},s:s,s:I,s:s}",
	        "agent_version", dp_version, "transport", a->transport->name, "hostname", str_or_null(host), "os",
	        "name", u.sysname, "release", u.release, "machine", u.machine, "pretty_name", str_or_null(pretty),
	        "cpu", "model", str_or_null(cpu), "logical_cpus", (int)sysconf(_SC_NPROCESSORS_ONLN), "ram",
	        have_ram ? json_pack("{s:I,s:I}", "total_bytes", (json_int_t)total, "used_bytes", (json_int_t)used)
	                 : json_null(),
	        "lms", "available", lms_ok, "path", str_or_null(dp_lms_bin(a->lms)), "reason",
	        lms_ok ? json_null() : str_or_null(why), "lmstudio_home", "path", str_or_null(a->home), "exists",
	        home_exists, "error", str_or_null(a->home_error), "telemetry_source", dp_telemetry_source_name(source),
	        "uptime_s", (json_int_t)((now_ms() - a->started_ms) / 1000), "status", "ok");
	reply_json(req, 200, o);
}

/* ------------------------------------------------------------ telemetry */

static json_t *ram_json(const struct dp_telemetry_sample *s)
{
	return s->have_ram ? json_pack("{s:I,s:I}", "total_bytes", (json_int_t)s->ram_total, "used_bytes",
	                               (json_int_t)s->ram_used)
	                   : json_null();
}

static void route_telemetry(struct dp_agent *a, struct dp_http_req *req)
{
	struct dp_telemetry_sample *s = xmalloc(sizeof(*s));
	pthread_mutex_lock(&a->sm.mu);
	int have = a->sm.have_latest, avail = a->sm.available;
	*s = a->sm.latest;
	char code[32], reason[512];
	snprintf(code, sizeof(code), "%s", a->sm.code);
	snprintf(reason, sizeof(reason), "%s", a->sm.reason);
	uint64_t n = a->sm.samples;
	pthread_mutex_unlock(&a->sm.mu);
	json_t *gpus = json_array();
	if (have && avail)
		for (int i = 0; i < s->ngpus; i++)
			json_array_append_new(gpus, dp_telemetry_gpu_json(&s->gpus[i]));
	json_t *o = json_pack(
	        "{s:s,s:b,s:o,s:o,s:o,s:i,s:o,s:o,s:I}", "source",
	        dp_telemetry_source_name(have ? s->source : DP_TSRC_PENDING), "available", have && avail, "reason",
	        !have   ? json_pack("{s:s,s:s}", "code", "pending", "message", "no sample yet")
	        : avail ? json_null()
	                : json_pack("{s:s,s:s}", "code", code, "message", reason),
	        "measured_ms", have ? json_integer((json_int_t)s->measured_ms) : json_null(), "measured_at",
	        dp_alerts_time_json(have ? s->measured_ms : 0), "interval_ms", a->sm.interval_ms, "gpus", gpus, "ram",
	        have ? ram_json(s) : json_null(), "samples", (json_int_t)n);
	free(s);
	reply_json(req, 200, o);
}

static void route_history(struct dp_agent *a, struct dp_http_req *req)
{
	const char *q = dp_http_req_query_param(req, "seconds");
	long secs = 300;
	if (q) {
		char *end = NULL;
		errno = 0;
		secs = strtol(q, &end, 10);
		if (errno || !end || *end || secs < 1 || secs > DP_TELEMETRY_HISTORY_S) {
			reply_error(req, 400, "invalid_seconds", "seconds must be an integer from 1 to 3600");
			return;
		}
	}
	pthread_mutex_lock(&a->sm.mu);
	json_t *o = dp_telemetry_ring_json(&a->sm.ring, now_ms() - secs * 1000);
	int source = a->sm.have_latest ? a->sm.latest.source : DP_TSRC_PENDING;
	pthread_mutex_unlock(&a->sm.mu);
	json_object_set_new(o, "source", json_string(dp_telemetry_source_name(source)));
	json_object_set_new(o, "interval_ms", json_integer(a->sm.interval_ms));
	json_object_set_new(o, "seconds", json_integer(secs));
	reply_json(req, 200, o);
}

/* ------------------------------------------------------------ lms commands */

struct lms_pend {
	struct dp_http_req *req;
	struct dp_lms_call *call;
};

static void lms_req_closed(struct dp_http_req *req, void *arg)
{
	struct lms_pend *p = arg;
	(void)req;
	dp_lms_cancel(p->call);
	free(p);
}

static int lms_http_status(enum dp_lms_status s)
{
	switch (s) {
	case DP_LMS_OK:
		return 200;
	case DP_LMS_UNAVAILABLE:
		return 503;
	case DP_LMS_BUSY:
		return 429;
	case DP_LMS_INVALID:
		return 400;
	case DP_LMS_TIMEOUT:
		return 504;
	default:
		return 502;
	}
}

static void lms_done(const struct dp_lms_result *res, void *arg)
{
	struct lms_pend *p = arg;
	int st = lms_http_status(res->status);
	json_t *o = json_pack("{s:s,s:b,s:s,s:s,s:i,s:I,s:O?}", "command", dp_lms_cmd_name(res->cmd), "ok",
	                      res->status == DP_LMS_OK, "code", res->code, "message", res->message ? res->message : "",
	                      "exit_code", res->exit_code, "duration_ms", (json_int_t)res->duration_ms, "result",
	                      res->json);
	if (!json_object_get(o, "result"))
		json_object_set_new(o, "result", json_null());
	if (res->cmd == DP_LMS_ESTIMATE && res->estimate)
		json_object_set_new(o, "result", dp_lms_estimate_json(res->estimate));
	if (st != 200)
		json_object_set_new(o, "error",
		                    json_pack("{s:s,s:s}", "code", res->code, "message",
		                              res->message && *res->message ? res->message : res->code));
	struct dp_http_req *req = p->req;
	free(p);
	reply_json(req, st, o);
}

static void run_lms(struct dp_agent *a, struct dp_http_req *req, const struct dp_lms_req *r)
{
	/* validate up front: a bad argument is the client's error, never run */
	char err[256];
	struct dp_lms_argv av;
	int rc = dp_lms_build_argv("lms", NULL, r, &av, err, sizeof(err));
	dp_lms_argv_release(&av);
	if (rc < 0) {
		reply_error(req, 400, "invalid", err);
		return;
	}
	struct lms_pend *p = xcalloc(1, sizeof(*p));
	p->req = req;
	p->call = dp_lms_call(a->lms, NULL, r, lms_done, p);
	dp_http_req_on_close(req, lms_req_closed, p);
}

static const char *jstr(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static int jint(const json_t *o, const char *k, long lo, long hi, long *out)
{
	json_t *v = json_object_get(o, k);
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
		return -1;
	*out = (long)json_integer_value(v);
	return 0;
}

/* `k` absent/null, or of the JSON type `type`. */
static int opt_type(const json_t *o, const char *k, json_type type)
{
	json_t *v = json_object_get(o, k);
	if (!v || json_is_null(v))
		return 1;
	if (type == JSON_TRUE)
		return json_is_boolean(v);
	if (type == JSON_REAL)
		return json_is_number(v) || json_is_string(v);
	return json_typeof(v) == type;
}

/* Members of `o` must all be in the NULL-terminated `allowed` list. */
static int only_keys(const json_t *o, const char *const *allowed)
{
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)o, k, v)
	{
		int ok = 0;
		for (const char *const *a = allowed; *a; a++)
			if (!strcmp(*a, k))
				ok = 1;
		if (!ok)
			return 0;
	}
	return 1;
}

static json_t *body_object(struct dp_http_req *req)
{
	size_t len = 0;
	const char *b = dp_http_req_body(req, &len);
	if (!b || len == 0)
		return json_object();
	json_error_t je;
	json_t *j = json_loadb(b, len, JSON_REJECT_DUPLICATES, &je);
	if (!json_is_object(j)) {
		json_decref(j);
		return NULL;
	}
	return j;
}

static void route_lms_post(struct dp_agent *a, struct dp_http_req *req, const char *cmd)
{
	json_t *b = body_object(req);
	if (!b) {
		reply_error(req, 400, "invalid_json", "the body must be a JSON object");
		return;
	}
	struct dp_lms_req r;
	memset(&r, 0, sizeof(r));
	long v = 0;
	int bad = 0;
	const char *why = "invalid arguments";
	if (!strcmp(cmd, "load") || !strcmp(cmd, "estimate")) {
		static const char *const k[] = {"model", "identifier", "gpu",   "context_length",
		                                "ttl_s", "parallel",   "exact", NULL};
		r.cmd = !strcmp(cmd, "load") ? DP_LMS_LOAD : DP_LMS_ESTIMATE;
		r.model = jstr(b, "model");
		r.identifier = jstr(b, "identifier");
		json_t *g = json_object_get(b, "gpu");
		char gbuf[32];
		if (json_is_number(g)) {
			snprintf(gbuf, sizeof(gbuf), "%g", json_number_value(g));
			r.gpu = gbuf;
		} else {
			r.gpu = json_string_value(g);
		}
		bad = !only_keys(b, k) || !r.model || !opt_type(b, "identifier", JSON_STRING) ||
		      !opt_type(b, "gpu", JSON_REAL) || !opt_type(b, "exact", JSON_TRUE);
		if (jint(b, "context_length", 1, 16777216, &v) < 0)
			bad = 1;
		r.context_length = v;
		v = 0;
		if (jint(b, "ttl_s", 1, 31536000, &v) < 0)
			bad = 1;
		r.ttl_s = v;
		v = 0;
		if (jint(b, "parallel", 1, 256, &v) < 0)
			bad = 1;
		r.parallel = (int)v;
		r.exact = json_is_true(json_object_get(b, "exact"));
		why = "load takes {model, identifier?, gpu?, context_length?, ttl_s?, parallel?, exact?}";
		if (!bad) {
			run_lms(a, req, &r);
			json_decref(b);
			return;
		}
	} else if (!strcmp(cmd, "unload")) {
		static const char *const k[] = {"identifier", "all", NULL};
		r.model = jstr(b, "identifier");
		int all = json_is_true(json_object_get(b, "all"));
		r.cmd = all ? DP_LMS_UNLOAD_ALL : DP_LMS_UNLOAD;
		bad = !only_keys(b, k) || (all == !!r.model) || !opt_type(b, "identifier", JSON_STRING) ||
		      !opt_type(b, "all", JSON_TRUE);
		why = "unload takes {identifier} or {all: true}";
	} else if (!strcmp(cmd, "server-start")) {
		static const char *const k[] = {"port", "bind", "cors", NULL};
		r.cmd = DP_LMS_SERVER_START;
		bad = !only_keys(b, k) || jint(b, "port", 1, 65535, &v) < 0 || !opt_type(b, "bind", JSON_STRING) ||
		      !opt_type(b, "cors", JSON_TRUE);
		r.server_port = (int)v;
		r.bind = jstr(b, "bind");
		r.cors = json_is_true(json_object_get(b, "cors"));
		why = "server-start takes {port?, bind?, cors?}";
	} else if (!strcmp(cmd, "server-stop") || !strcmp(cmd, "daemon-up") || !strcmp(cmd, "daemon-down")) {
		static const char *const k[] = {NULL};
		r.cmd = !strcmp(cmd, "server-stop") ? DP_LMS_SERVER_STOP
		        : !strcmp(cmd, "daemon-up") ? DP_LMS_DAEMON_UP
		                                    : DP_LMS_DAEMON_DOWN;
		bad = !only_keys(b, k);
		why = "this command takes no arguments";
	} else {
		json_decref(b);
		reply_error(req, 404, "not_found", "no such lms command");
		return;
	}
	if (bad) {
		json_decref(b);
		reply_error(req, 400, "invalid", why);
		return;
	}
	run_lms(a, req, &r);
	json_decref(b);
}

static void route_lms_get(struct dp_agent *a, struct dp_http_req *req, const char *cmd)
{
	struct dp_lms_req r;
	memset(&r, 0, sizeof(r));
	if (!strcmp(cmd, "ps"))
		r.cmd = DP_LMS_PS;
	else if (!strcmp(cmd, "ls"))
		r.cmd = DP_LMS_LS;
	else if (!strcmp(cmd, "runtime-survey"))
		r.cmd = DP_LMS_RUNTIME_SURVEY;
	else if (!strcmp(cmd, "server-status"))
		r.cmd = DP_LMS_SERVER_STATUS;
	else if (!strcmp(cmd, "daemon-status"))
		r.cmd = DP_LMS_DAEMON_STATUS;
	else if (!strcmp(cmd, "version"))
		r.cmd = DP_LMS_VERSION;
	else {
		reply_error(req, 404, "not_found", "no such lms command");
		return;
	}
	const char *refresh = dp_http_req_query_param(req, "refresh");
	r.refresh = r.cmd == DP_LMS_RUNTIME_SURVEY && refresh && !strcmp(refresh, "1");
	run_lms(a, req, &r);
}

/* ------------------------------------------------------------ log fan-out */

struct log_viewer {
	struct dp_agent *a;
	struct log_source *src;
	struct dp_http_req *req;
	struct log_viewer *next;
};

static void viewer_unlink(struct log_viewer *v)
{
	struct log_source *ls = v->src;
	for (struct log_viewer **pp = &ls->viewers; *pp; pp = &(*pp)->next)
		if (*pp == v) {
			*pp = v->next;
			break;
		}
	ls->nviewers--;
	v->a->log_viewers--;
}

static void log_line(const char *line, size_t len, void *arg)
{
	struct log_source *ls = arg;
	char *buf = xmalloc(len + 1);
	memcpy(buf, line, len);
	buf[len] = '\n';
	for (struct log_viewer *v = ls->viewers; v; v = v->next)
		dp_http_stream_write(v->req, buf, len + 1); /* -ENOBUFS: lib/http drops it, on_close follows */
	free(buf);
}

static void log_exit(const struct dp_lms_result *res, void *arg)
{
	struct log_source *ls = arg;
	ls->stream = NULL;
	json_t *end = json_pack("{s:s,s:s,s:s}", "type", "dp.stream_end", "code", res->code, "message",
	                        res->message ? res->message : "");
	char *txt = json_dumps(end, JSON_COMPACT);
	json_decref(end);
	while (ls->viewers) {
		struct log_viewer *v = ls->viewers;
		viewer_unlink(v);
		dp_http_stream_write(v->req, txt, strlen(txt));
		dp_http_stream_write(v->req, "\n", 1);
		dp_http_stream_end(v->req);
		free(v);
	}
	free(txt);
}

static void viewer_closed(struct dp_http_req *req, void *arg)
{
	struct log_viewer *v = arg;
	(void)req;
	struct log_source *ls = v->src;
	viewer_unlink(v);
	free(v);
	if (!ls->viewers && ls->stream) {
		dp_lms_stream_cancel(ls->stream);
		ls->stream = NULL;
	}
}

static void route_logs(struct dp_agent *a, struct dp_http_req *req)
{
	const char *src = dp_http_req_query_param(req, "source");
	if (!src)
		src = "server";
	struct log_source *ls = NULL;
	for (int i = 0; i < 3; i++)
		if (!strcmp(a->logs[i].name, src))
			ls = &a->logs[i];
	if (!ls) {
		reply_error(req, 400, "invalid_source", "source must be server, model or runtime");
		return;
	}
	if (a->log_viewers >= AGENT_MAX_LOG_VIEWERS) {
		reply_error(req, 429, "too_many_viewers", "too many log viewers on this agent");
		return;
	}
	if (!ls->stream) {
		struct dp_lms_req r;
		memset(&r, 0, sizeof(r));
		r.cmd = DP_LMS_LOG_STREAM;
		r.source = ls->name;
		char err[256] = "";
		int rc = dp_lms_stream_start(a->lms, NULL, &r, log_line, log_exit, ls, &ls->stream, err, sizeof(err));
		if (rc < 0) {
			ls->stream = NULL;
			reply_error(req, rc == -EAGAIN ? 429 : 503, rc == -ENOENT ? "unavailable" : "stream_failed",
			            err);
			return;
		}
	}
	dp_http_add_header(req, "Cache-Control", "no-store");
	dp_http_add_header(req, "X-Content-Type-Options", "nosniff");
	if (dp_http_stream_start(req, 200, "application/x-ndjson") < 0) {
		if (!ls->viewers) {
			dp_lms_stream_cancel(ls->stream);
			ls->stream = NULL;
		}
		return;
	}
	struct log_viewer *v = xcalloc(1, sizeof(*v));
	v->a = a;
	v->src = ls;
	v->req = req;
	v->next = ls->viewers;
	ls->viewers = v;
	ls->nviewers++;
	a->log_viewers++;
	dp_http_req_on_close(req, viewer_closed, v);
}

/* ------------------------------------------------------------ mcp.json */

struct mcp_job {
	struct dp_agent *a;
	struct dp_http_req *req; /* NULL once the client went away */
	int put;
	char *body; /* PUT: serialised document */
	size_t body_len;
	char if_match[64];
	/* results */
	int rc;
	int exists;
	char *text;
	size_t len;
	char etag[21];
	int had_backup;
	int precondition_failed;
};

static void mcp_closed(struct dp_http_req *req, void *arg)
{
	struct mcp_job *j = arg;
	(void)req;
	j->req = NULL;
}

static int open_home(const char *home)
{
	return open(home, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
}

static void mcp_work(void *arg)
{
	struct mcp_job *j = arg;
	int dfd = open_home(j->a->home);
	if (dfd < 0) {
		j->rc = -ENOTDIR;
		return;
	}
	char *cur = NULL;
	size_t curlen = 0;
	int rc = dp_agent_mcp_read(dfd, &cur, &curlen);
	if (rc < 0 && rc != -ENOENT) {
		j->rc = rc;
		close(dfd);
		return;
	}
	j->exists = rc == 0;
	if (j->put) {
		char cur_etag[21] = "";
		if (j->exists)
			dp_agent_mcp_etag(cur, curlen, cur_etag);
		if (j->if_match[0] && strcmp(j->if_match, "*") != 0 && strcmp(j->if_match, cur_etag) != 0) {
			j->precondition_failed = 1;
			snprintf(j->etag, sizeof(j->etag), "%s", cur_etag);
		} else {
			j->had_backup = j->exists;
			j->rc = dp_agent_mcp_write(dfd, j->body, j->body_len, DP_AGENT_MCP_NO_FAULT);
			if (!j->rc)
				dp_agent_mcp_etag(j->body, j->body_len, j->etag);
		}
		free(cur);
	} else {
		j->text = cur;
		j->len = curlen;
		if (j->exists)
			dp_agent_mcp_etag(cur, curlen, j->etag);
	}
	close(dfd);
}

static void mcp_io_error(struct mcp_job *j)
{
	struct dp_http_req *req = j->req;
	switch (j->rc) {
	case -ENOTDIR:
		reply_error(req, 404, "no_lmstudio_home",
		            "the LM Studio home does not exist on this host (start LM Studio once, or use "
		            "--lmstudio-home)");
		break;
	case -ELOOP:
		reply_error(req, 403, "outside_home",
		            "mcp.json is a symbolic link: refused, the agent reads and writes only inside the LM "
		            "Studio home");
		break;
	case -EFBIG:
		reply_error(req, 413, "too_large", "mcp.json is larger than 256 KiB");
		break;
	case -EINVAL:
		reply_error(req, 409, "not_a_file", "mcp.json is not a regular file");
		break;
	default: {
		char m[160];
		snprintf(m, sizeof(m), "mcp.json i/o failed: %s", strerror(-j->rc));
		reply_error(req, 500, "io_error", m);
	}
	}
}

static void mcp_done(void *arg, int status)
{
	struct mcp_job *j = arg;
	struct dp_http_req *req = j->req;
	if (req && status < 0)
		reply_error(req, 503, "shutting_down", "the agent is stopping");
	else if (req && j->rc < 0)
		mcp_io_error(j);
	else if (req && j->precondition_failed)
		reply_json(req, 412,
		           json_pack("{s:{s:s,s:s},s:o}", "error", "code", "precondition_failed", "message",
		                     "mcp.json changed since it was read (If-Match does not match)", "etag",
		                     str_or_null(j->etag)));
	else if (req && j->put) {
		char path[PATH_MAX + 16];
		snprintf(path, sizeof(path), "%s/%s", j->a->home, DP_AGENT_MCP_FILE);
		dp_http_add_header(req, "ETag", j->etag);
		reply_json(req, 200,
		           json_pack("{s:s,s:s,s:b,s:I}", "path", path, "etag", j->etag, "backup", j->had_backup,
		                     "size_bytes", (json_int_t)j->body_len));
	} else if (req) {
		char path[PATH_MAX + 16];
		snprintf(path, sizeof(path), "%s/%s", j->a->home, DP_AGENT_MCP_FILE);
		json_t *content = json_null(), *error = json_null();
		int valid = 0;
		if (j->exists) {
			json_error_t je;
			json_t *doc = json_loadb(j->text, j->len, JSON_REJECT_DUPLICATES, &je);
			const char *why = NULL;
			if (!doc) {
				error = json_pack("{s:s,s:s}", "code", "invalid_json", "message",
				                  "mcp.json is not valid JSON");
			} else {
				content = doc;
				if (dp_agent_mcp_validate(doc, &why) < 0)
					error = json_pack("{s:s,s:s}", "code", "invalid_mcp_json", "message", why);
				else
					valid = 1;
			}
			dp_http_add_header(req, "ETag", j->etag);
		}
		reply_json(req, 200,
		           json_pack("{s:s,s:s,s:b,s:o,s:b,s:o,s:o,s:I}", "home", j->a->home, "path", path, "exists",
		                     j->exists, "etag", j->exists ? json_string(j->etag) : json_null(), "valid", valid,
		                     "content", content, "error", error, "size_bytes", (json_int_t)j->len));
	}
	free(j->body);
	free(j->text);
	free(j);
}

static void route_mcp(struct dp_agent *a, struct dp_http_req *req, int put)
{
	if (!a->home[0] || a->home_error[0]) {
		reply_error(req, 404, "no_lmstudio_home", a->home_error[0] ? a->home_error : "no LM Studio home");
		return;
	}
	struct mcp_job *j = xcalloc(1, sizeof(*j));
	j->a = a;
	j->req = req;
	j->put = put;
	if (put) {
		size_t len = 0;
		const char *b = dp_http_req_body(req, &len);
		json_error_t je;
		json_t *doc = b && len ? json_loadb(b, len, JSON_REJECT_DUPLICATES, &je) : NULL;
		const char *why = "the body must be the mcp.json document (JSON)";
		if (!doc || dp_agent_mcp_validate(doc, &why) < 0) {
			json_decref(doc);
			free(j);
			reply_error(req, doc ? 422 : 400, doc ? "invalid_mcp_json" : "invalid_json", why);
			return;
		}
		j->body = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		json_decref(doc);
		j->body_len = strlen(j->body);
		if (j->body_len + 1 <= DP_AGENT_MCP_MAX) {
			j->body[j->body_len] = '\n'; /* room: json_dumps allocated len + 1 */
			j->body = xrealloc(j->body, j->body_len + 2);
			j->body[++j->body_len] = '\0';
		} else {
			free(j->body);
			free(j);
			reply_error(req, 413, "too_large", "mcp.json would be larger than 256 KiB");
			return;
		}
		const char *im = dp_http_req_header(req, "If-Match");
		if (im)
			snprintf(j->if_match, sizeof(j->if_match), "%s", im);
	}
	int rc = dp_workq_submit(a->workq, mcp_work, mcp_done, j);
	if (rc < 0) {
		free(j->body);
		free(j);
		reply_error(req, 503, "busy", "the agent is busy, try again");
		return;
	}
	dp_http_req_on_close(req, mcp_closed, j);
}

/* ------------------------------------------------------------ dispatch */

#define PFX "/agent/v1/"

static void handler(struct dp_http_req *req, void *arg)
{
	struct dp_agent *a = arg;
	const char *m = dp_http_req_method(req);
	const char *p = dp_http_req_path(req);
	int get = !strcmp(m, "GET") || !strcmp(m, "HEAD");
	if (!strcmp(p, PFX "health")) {
		if (!get) {
			dp_http_add_header(req, "Allow", "GET, HEAD");
			reply_error(req, 405, "method_not_allowed", "method not allowed");
			return;
		}
		reply_json(req, 200, json_pack("{s:s}", "status", "ok"));
		return;
	}
	if (!authorized(a, req)) {
		a->auth_failures++;
		dp_http_add_header(req, "WWW-Authenticate", "Bearer");
		reply_error(req, 401, "unauthorized",
		            "a valid agent token is required (Authorization: Bearer dpa_...)");
		return;
	}
	if (strncmp(p, PFX, sizeof(PFX) - 1) != 0) {
		reply_error(req, 404, "not_found", "no such route");
		return;
	}
	const char *r = p + sizeof(PFX) - 1;
	int post = !strcmp(m, "POST");
	if (get && !strcmp(r, "info"))
		route_info(a, req);
	else if (get && !strcmp(r, "telemetry"))
		route_telemetry(a, req);
	else if (get && !strcmp(r, "telemetry/history"))
		route_history(a, req);
	else if (get && !strcmp(r, "logs/stream"))
		route_logs(a, req);
	else if (get && !strcmp(r, "mcp.json"))
		route_mcp(a, req, 0);
	else if (!strcmp(m, "PUT") && !strcmp(r, "mcp.json"))
		route_mcp(a, req, 1);
	else if (get && !strncmp(r, "lms/", 4) && !strchr(r + 4, '/'))
		route_lms_get(a, req, r + 4);
	else if (post && !strncmp(r, "lms/", 4) && !strchr(r + 4, '/'))
		route_lms_post(a, req, r + 4);
	else
		reply_error(req, 404, "not_found", "no such route (or method)");
}

static void access_log(struct dp_http_req *req, int status, uint64_t bytes, uint64_t dur_us, void *arg)
{
	(void)arg;
	dp_info("access %s %s %d %llu %.1fms %s", dp_http_req_method(req), dp_http_req_path(req), status,
	        (unsigned long long)bytes, (double)dur_us / 1000.0, dp_http_req_peer(req));
}

/* ------------------------------------------------------------ start-up */

static int is_loopback(const char *addr)
{
	return !strcmp(addr, "localhost") || !strncmp(addr, "127.", 4) || !strcmp(addr, "::1");
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct dp_agent *a = arg;
	(void)what;
	dp_info("agent: signal %d, stopping", (int)sig);
	dp_http_server_stop_listening(a->http);
	for (int i = 0; i < 3; i++) {
		struct log_source *ls = &a->logs[i];
		if (ls->stream) {
			dp_lms_stream_cancel(ls->stream);
			ls->stream = NULL;
		}
		while (ls->viewers) {
			struct log_viewer *v = ls->viewers;
			viewer_unlink(v);
			dp_http_stream_end(v->req);
			free(v);
		}
	}
	event_base_loopexit(a->base, NULL);
}

/* SIGHUP: re-read the token file (after `set-token`, e.g. a rotation);
 * the old token stays in force when the file is unusable. */
static void on_hup(evutil_socket_t sig, short what, void *arg)
{
	struct dp_agent *a = arg;
	(void)sig;
	(void)what;
	char tok[DP_AGENT_TOKEN_LEN + 1], err[PATH_MAX + 256];
	int created = 0;
	struct stat sb;
	if (stat(a->o.token_file, &sb) < 0) {
		dp_warn("agent: SIGHUP: the token file %s is gone; keeping the current token", a->o.token_file);
		return;
	}
	if (dp_agent_token_load(a->o.token_file, tok, &created, err, sizeof(err)) < 0) {
		dp_warn("agent: SIGHUP: %s; keeping the current token", err);
		return;
	}
	token_hash(tok, DP_AGENT_TOKEN_LEN, a->token_hash);
	sodium_memzero(tok, sizeof(tok));
	dp_info("agent: token re-read from %s", a->o.token_file);
}

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: daemonpulse agent [options]\n"
	        "       daemonpulse agent set-token --token-file PATH   (reads the token on stdin)\n\n"
	        "The DaemonPulse host agent: run it on an LM Studio host, as the user that owns LM Studio.\n\n"
	        "options:\n"
	        "  --bind ADDR          listen address (default 127.0.0.1; beyond loopback needs --insecure-listen)\n"
	        "  --port PORT          listen port (default 3001; 0 picks one)\n"
	        "  --token-file PATH    the agent token (default ~/.config/daemonpulse/agent.token); created\n"
	        "                       with mode 0600 and printed once when missing\n"
	        "  --lms-bin PATH       the lms CLI (default $LMS_BIN, else lms on PATH)\n"
	        "  --lmstudio-home DIR  LM Studio home (default: ~/.lmstudio-home-pointer, ~/.cache/lm-studio,\n"
	        "                       ~/.lmstudio); mcp.json is read and written only there\n"
	        "  --nvml-lib PATH      NVML library (default libnvidia-ml.so.1; off = none)\n"
	        "  --sysfs-root DIR     sysfs root for amdgpu (default /sys)\n"
	        "  --procfs-root DIR    procfs root (default /proc)\n"
	        "  --interval-ms MS     telemetry sampling interval (default 2000, 500..60000)\n"
	        "  --insecure-listen    allow a non-loopback --bind over plain HTTP (the token travels in\n"
	        "                       clear text; prefer an SSH tunnel or a TLS-terminating proxy)\n\n"
	        "SIGHUP re-reads the token file (after set-token); SIGINT/SIGTERM stop the agent.\n");
}

static int parse_port(const char *s, int *out)
{
	char *end = NULL;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || !end || *end || v < 0 || v > 65535)
		return -1;
	*out = (int)v;
	return 0;
}

static int default_token_file(char *out, size_t outlen)
{
	const char *x = getenv("XDG_CONFIG_HOME");
	const char *h = getenv("HOME");
	char dir[PATH_MAX];
	if (x && *x == '/')
		snprintf(dir, sizeof(dir), "%s/daemonpulse", x);
	else if (h && *h == '/')
		snprintf(dir, sizeof(dir), "%s/.config/daemonpulse", h);
	else
		return -ENOENT;
	char parent[PATH_MAX];
	snprintf(parent, sizeof(parent), "%s", dir);
	char *sl = strrchr(parent, '/');
	if (sl && sl != parent) {
		*sl = '\0';
		mkdir(parent, 0700);
	}
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	return snprintf(out, outlen, "%s/agent.token", dir) >= (int)outlen ? -ENAMETOOLONG : 0;
}

static int parse_opts(struct agent_opts *o, int argc, char **argv, int *help)
{
	for (int i = 1; i < argc; i++) {
		const char *k = argv[i];
		if (!strcmp(k, "--help") || !strcmp(k, "-h")) {
			*help = 1;
			return 0;
		}
		if (!strcmp(k, "--insecure-listen")) {
			o->insecure_listen = 1;
			continue;
		}
		if (i + 1 >= argc) {
			fprintf(stderr, "daemonpulse agent: %.64s needs a value (see --help)\n", k);
			return -1;
		}
		const char *v = argv[++i];
		if (!strcmp(k, "--bind"))
			o->bind = v;
		else if (!strcmp(k, "--port")) {
			if (parse_port(v, &o->port) < 0) {
				fprintf(stderr, "daemonpulse agent: invalid --port '%.32s': expected 0..65535\n", v);
				return -1;
			}
		} else if (!strcmp(k, "--token-file"))
			o->token_file = v;
		else if (!strcmp(k, "--lms-bin"))
			o->lms_bin = v;
		else if (!strcmp(k, "--lmstudio-home"))
			o->lmstudio_home = v;
		else if (!strcmp(k, "--nvml-lib") || !strcmp(k, "--nvml-library"))
			o->nvml_library = v;
		else if (!strcmp(k, "--sysfs-root"))
			o->sysfs_root = v;
		else if (!strcmp(k, "--procfs-root"))
			o->procfs_root = v;
		else if (!strcmp(k, "--interval-ms")) {
			char *end = NULL;
			errno = 0;
			long ms = strtol(v, &end, 10);
			if (errno || !end || *end || ms < 500 || ms > 60000) {
				fprintf(stderr,
				        "daemonpulse agent: invalid --interval-ms '%.32s': expected 500..60000\n", v);
				return -1;
			}
			o->interval_ms = (int)ms;
		} else {
			fprintf(stderr, "daemonpulse agent: unknown option '%.64s' (see --help)\n", k);
			return -1;
		}
	}
	return 0;
}

/* `daemonpulse agent set-token --token-file PATH`: the token on stdin. */
static int set_token(int argc, char **argv)
{
	const char *path = NULL;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--token-file") && i + 1 < argc)
			path = argv[++i];
		else {
			fprintf(stderr, "usage: daemonpulse agent set-token [--token-file PATH] < token\n");
			return 2;
		}
	}
	char def[PATH_MAX];
	if (!path) {
		if (default_token_file(def, sizeof(def)) < 0) {
			fprintf(stderr, "daemonpulse agent: no HOME; give --token-file\n");
			return 1;
		}
		path = def;
	}
	char line[600];
	if (isatty(STDIN_FILENO))
		fprintf(stderr, "paste the agent token, then Enter: ");
	if (!fgets(line, sizeof(line), stdin)) {
		fprintf(stderr, "daemonpulse agent: no token on stdin\n");
		return 1;
	}
	size_t n = strlen(line);
	while (n && (line[n - 1] == '\n' || line[n - 1] == '\r' || line[n - 1] == ' '))
		line[--n] = '\0';
	char err[PATH_MAX + 128];
	int rc = dp_agent_token_store(path, line, err, sizeof(err));
	sodium_memzero(line, sizeof(line));
	if (rc < 0) {
		fprintf(stderr, "daemonpulse agent: %s\n", err);
		return 1;
	}
	fprintf(stderr, "agent token stored in %s (mode 0600)\n", path);
	return 0;
}

int dp_agent_main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "set-token"))
		return set_token(argc - 1, argv + 1);
	if (sodium_init() < 0) {
		fprintf(stderr, "daemonpulse agent: libsodium failed to initialise\n");
		return 1;
	}
	struct dp_agent *a = xcalloc(1, sizeof(*a));
	a->o.bind = "127.0.0.1";
	a->o.port = DP_AGENT_DEFAULT_PORT;
	a->o.nvml_library = getenv("DP_NVML_LIBRARY") && *getenv("DP_NVML_LIBRARY") ? getenv("DP_NVML_LIBRARY")
	                                                                            : DP_NVML_DEFAULT_LIBRARY;
	a->o.sysfs_root = "/sys";
	a->o.procfs_root = "/proc";
	a->o.interval_ms = 2000;
	int help = 0, rc = 1;
	if (parse_opts(&a->o, argc, argv, &help) < 0) {
		free(a);
		return 2;
	}
	if (help) {
		usage(stdout);
		free(a);
		return 0;
	}
	if (!is_loopback(a->o.bind)) {
		if (!a->o.insecure_listen) {
			fprintf(stderr,
			        "daemonpulse agent: refusing to listen on %.64s: the agent serves plain HTTP, so the "
			        "token "
			        "and everything else would cross the network in clear text. Keep the default 127.0.0.1 "
			        "and "
			        "reach it through an SSH tunnel (ssh -L 3001:127.0.0.1:3001 host) or a TLS-terminating "
			        "proxy; or pass --insecure-listen if you accept the risk\n",
			        a->o.bind);
			free(a);
			return 2;
		}
		dp_warn("***************************************************************************");
		dp_warn("agent: --insecure-listen: listening on %s over PLAIN HTTP", a->o.bind);
		dp_warn("agent: the bearer token, mcp.json contents and logs travel in CLEAR TEXT;");
		dp_warn("agent: anyone on the path can read the token and control LM Studio here.");
		dp_warn("agent: use an SSH tunnel or a TLS-terminating proxy instead (docs/agent.md)");
		dp_warn("***************************************************************************");
	}
	char tfile[PATH_MAX];
	if (!a->o.token_file) {
		if (default_token_file(tfile, sizeof(tfile)) < 0) {
			fprintf(stderr, "daemonpulse agent: no HOME; give --token-file\n");
			free(a);
			return 1;
		}
		a->o.token_file = tfile;
	}
	char tok[DP_AGENT_TOKEN_LEN + 1], err[PATH_MAX + 256];
	int created = 0;
	if (dp_agent_token_load(a->o.token_file, tok, &created, err, sizeof(err)) < 0) {
		fprintf(stderr, "daemonpulse agent: %s\n", err);
		free(a);
		return 1;
	}
	token_hash(tok, DP_AGENT_TOKEN_LEN, a->token_hash);
	if (created) {
		/* shown once: stdout, so it can be captured; never logged */
		printf("agent token (shown once; stored in %s with mode 0600):\n%s\n"
		       "paste it into DaemonPulse: Settings, Daemon targets, Add agent\n",
		       a->o.token_file, tok);
		fflush(stdout);
	}
	sodium_memzero(tok, sizeof(tok));

	if (dp_agent_resolve_home(a->o.lmstudio_home, getenv("HOME"), a->home, sizeof(a->home), a->home_error,
	                          sizeof(a->home_error)) < 0)
		dp_warn("agent: %s; mcp.json is unavailable", a->home_error);
	else {
		int dfd = open_home(a->home);
		if (dfd >= 0) {
			int n = dp_agent_mcp_clean_temps(dfd);
			if (n > 0)
				dp_warn("agent: removed %d leftover mcp.json temporary file(s) (an interrupted write)",
				        n);
			close(dfd);
		}
	}

	signal(SIGPIPE, SIG_IGN);
	a->started_ms = now_ms();
	a->transport = &plain_transport;
	a->base = event_base_new();
	struct dp_lms_config lc;
	dp_lms_config_defaults(&lc);
	lc.bin = a->o.lms_bin;
	a->lms = dp_lms_new(a->base, &lc);
	a->workq = dp_workq_new(a->base, 1, 16);
	const char *names[3] = {"server", "model", "runtime"};
	for (int i = 0; i < 3; i++)
		a->logs[i].name = names[i];
	a->sm.interval_ms = a->o.interval_ms;
	a->sm.nvml_library = a->o.nvml_library;
	a->sm.sysfs_root = a->o.sysfs_root;
	a->sm.procfs_root = a->o.procfs_root;

	struct dp_http_config hc;
	dp_http_config_defaults(&hc);
	hc.max_body_bytes = AGENT_MAX_BODY;
	hc.max_connections = AGENT_MAX_CONNECTIONS;
	hc.handler = handler;
	hc.handler_arg = a;
	hc.on_done = access_log;
	a->http = dp_http_server_new(a->base, &hc);
	if (!a->workq || !a->http || sampler_start(&a->sm) < 0) {
		fprintf(stderr, "daemonpulse agent: start-up failed\n");
		goto out;
	}
	const char *why = NULL;
	if (!dp_lms_available(a->lms, &why))
		dp_warn("agent: %s; lms commands answer 503", why ? why : "lms unavailable");
	int bound = 0;
	int lrc = a->transport->listen(a, a->o.bind, a->o.port, &bound);
	if (lrc < 0) {
		fprintf(stderr, "daemonpulse agent: cannot listen on %s:%d: %s\n", a->o.bind, a->o.port,
		        strerror(-lrc));
		goto out;
	}
	a->sig_int = evsignal_new(a->base, SIGINT, on_signal, a);
	a->sig_term = evsignal_new(a->base, SIGTERM, on_signal, a);
	event_add(a->sig_int, NULL);
	event_add(a->sig_term, NULL);
	a->sig_hup = evsignal_new(a->base, SIGHUP, on_hup, a);
	event_add(a->sig_hup, NULL);
	const char *shown = strchr(a->o.bind, ':') ? "[" : "";
	dp_info("agent: LM Studio home %s, lms %s", a->home[0] ? a->home : "(none)",
	        dp_lms_bin(a->lms)[0] ? dp_lms_bin(a->lms) : "(unavailable)");
	fprintf(stderr, "listening on %s://%s%s%s:%d\n", a->transport->scheme, shown, a->o.bind, *shown ? "]" : "",
	        bound);
	event_base_dispatch(a->base);
	rc = 0;
out:
	if (a->http)
		dp_http_server_free(a->http); /* on_close cancels pending lms calls, detaches jobs */
	dp_workq_free(a->workq);
	dp_lms_free(a->lms);
	if (a->sm.started || a->sm.ring.cap)
		sampler_stop(&a->sm);
	if (a->sig_int)
		event_free(a->sig_int);
	if (a->sig_term)
		event_free(a->sig_term);
	if (a->sig_hup)
		event_free(a->sig_hup);
	event_base_free(a->base);
	sodium_memzero(a->token_hash, sizeof(a->token_hash));
	free(a);
	libevent_global_shutdown();
	return rc;
}
