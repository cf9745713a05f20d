/*
 * telemetry.c - GPU telemetry hub (see telemetry.h).
 *
 * Loop side: a persistent timer ticks every interval. Each tick re-reads
 * the target list from the store (cheap: one SELECT), then for every
 * target whose simulator status is unknown, confirmed, or due for a
 * re-check (60 s), starts one GET /__sim/gpus (never two at once for the
 * same target). Answers are applied on the loop.
 *
 * Sampler side: one thread owns the NVML handle (or reads amdgpu sysfs),
 * samples every interval, attributes processes by walking /proc, and puts
 * the sample into a one-slot hand-off (a newer sample replaces an unread
 * one) and writes a byte to a pipe; the loop's pipe event takes it and
 * applies it to every local target that is not a simulator. The loop
 * never waits for the thread except in detach (join).
 *
 * Removed targets: their state leaves the list at once; one with a request
 * in flight is marked gone, the request aborted, and freed in on_done.
 */
#include "telemetry.h"

#include <dirent.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "agent_client.h"
#include "alerts.h"
#include "amdgpu.h"
#include "buf.h"
#include "events.h"
#include "log.h"
#include "metrics.h"
#include "nvml.h"
#include "server.h"
#include "targets.h"
#include "upstream.h"
#include "xmalloc.h"

#define REPROBE_MS       60000
#define SIM_MAX_RESPONSE (256u << 10)

static const char *const src_names[] = {"pending", "nvml", "amdgpu", "simulated", "none", "agent"};

const char *dp_telemetry_source_name(int source)
{
	return source >= 0 && source < DP_TSRC__N ? src_names[source] : "none";
}

static int64_t now_ms(void)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* ------------------------------------------------------------ /proc */

/* Read <root>/<pid>/stat: comm and parent pid. 0 or -errno. */
static int read_stat(const char *root, uint32_t pid, char *comm, size_t commlen, uint32_t *ppid)
{
	char path[PATH_MAX], buf[1024];
	if ((size_t)snprintf(path, sizeof(path), "%s/%u/stat", root, pid) >= sizeof(path))
		return -ENAMETOOLONG;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	int e = errno;
	close(fd);
	if (n <= 0)
		return n < 0 ? -e : -EINVAL;
	buf[n] = '\0';
	/* "pid (comm) S ppid ...": comm may hold spaces and parentheses */
	char *open_p = strchr(buf, '('), *close_p = strrchr(buf, ')');
	if (!open_p || !close_p || close_p < open_p || close_p[1] != ' ' || !close_p[2] || close_p[3] != ' ')
		return -EINVAL;
	size_t cl = (size_t)(close_p - open_p - 1);
	if (cl >= commlen)
		cl = commlen - 1;
	memcpy(comm, open_p + 1, cl);
	comm[cl] = '\0';
	char *end;
	errno = 0;
	unsigned long pp = strtoul(close_p + 4, &end, 10);
	if (errno || end == close_p + 4 || pp > UINT32_MAX)
		return -EINVAL;
	*ppid = (uint32_t)pp;
	return 0;
}

int dp_telemetry_is_lms(const char *proc_root, uint32_t pid, const char *comm)
{
	if (!comm)
		comm = DP_TELEMETRY_LMS_COMM;
	uint32_t cur = pid;
	for (int depth = 0; depth < 64 && cur > 0; depth++) {
		char c[64];
		uint32_t pp;
		int rc = read_stat(proc_root, cur, c, sizeof(c), &pp);
		if (rc < 0)
			return depth == 0 ? rc : 0;
		if (!strcmp(c, comm))
			return 1;
		if (pp == cur)
			break;
		cur = pp;
	}
	return 0;
}

void dp_telemetry_attribute(struct dp_telemetry_sample *s, const char *proc_root, const char *comm)
{
	struct {
		uint32_t pid;
		int lms;
	} cache[DP_GPU_MAX_PROCS];
	int nc = 0;
	for (int i = 0; i < s->ngpus; i++) {
		struct dp_telemetry_gpu *tg = &s->gpus[i];
		struct dp_gpu *g = &tg->g;
		tg->split_known = tg->unattributed_known = 0;
		tg->lms = tg->other = tg->unattributed = 0;
		if (!(g->have & DP_GPU_HAVE_PROCS))
			continue;
		int all_known = !g->procs_truncated;
		uint64_t listed = 0;
		for (int k = 0; k < g->nprocs; k++) {
			struct dp_gpu_proc *p = &g->procs[k];
			int lms = -1;
			for (int c = 0; c < nc; c++)
				if (cache[c].pid == p->pid)
					lms = cache[c].lms;
			if (lms < 0) {
				lms = dp_telemetry_is_lms(proc_root, p->pid, comm) == 1;
				if (nc < DP_GPU_MAX_PROCS) {
					cache[nc].pid = p->pid;
					cache[nc++].lms = lms;
				}
			}
			p->lmstudio = lms;
			if (!p->used_known) {
				all_known = 0;
				continue;
			}
			listed += p->used;
			if (lms)
				tg->lms += p->used;
			else
				tg->other += p->used;
		}
		tg->split_known = all_known;
		if (all_known && (g->have & DP_GPU_HAVE_MEM_USED)) {
			tg->unattributed = g->mem_used > listed ? g->mem_used - listed : 0;
			tg->unattributed_known = 1;
		}
	}
}

struct pp {
	uint32_t pid, ppid;
	int mark;
};

static int cmp_pp(const void *a, const void *b)
{
	uint32_t x = ((const struct pp *)a)->pid, y = ((const struct pp *)b)->pid;
	return (x > y) - (x < y);
}

int dp_telemetry_lms_tree(const char *proc_root, const char *comm, uint32_t *out, int max)
{
	if (!comm)
		comm = DP_TELEMETRY_LMS_COMM;
	DIR *d = opendir(proc_root);
	if (!d)
		return -errno;
	size_t n = 0, cap = 512;
	struct pp *v = xmalloc(cap * sizeof(*v));
	struct dirent *e;
	while ((e = readdir(d))) {
		char *end;
		unsigned long pid = strtoul(e->d_name, &end, 10);
		if (*end || !pid || pid > UINT32_MAX || e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		char c[64];
		uint32_t ppid;
		if (read_stat(proc_root, (uint32_t)pid, c, sizeof(c), &ppid) < 0)
			continue; /* exited meanwhile */
		if (n == cap) {
			cap *= 2;
			v = xrealloc(v, cap * sizeof(*v));
		}
		v[n].pid = (uint32_t)pid;
		v[n].ppid = ppid;
		v[n].mark = !strcmp(c, comm);
		n++;
	}
	closedir(d);
	qsort(v, n, sizeof(*v), cmp_pp);
	/* descendants: a process is marked when its parent is; repeat until
	 * nothing changes (the depth of the tree, bounded) */
	for (int pass = 0, changed = 1; changed && pass < 64; pass++) {
		changed = 0;
		for (size_t i = 0; i < n; i++) {
			if (v[i].mark)
				continue;
			struct pp key = {.pid = v[i].ppid};
			struct pp *par = bsearch(&key, v, n, sizeof(*v), cmp_pp);
			if (par && par->mark) {
				v[i].mark = 1;
				changed = 1;
			}
		}
	}
	int k = 0;
	for (size_t i = 0; i < n && k < max; i++)
		if (v[i].mark)
			out[k++] = v[i].pid;
	free(v);
	return k;
}

void dp_telemetry_attribute_amd(struct dp_telemetry_sample *s, const char *proc_root, const char *comm)
{
	uint32_t pids[256];
	int np = dp_telemetry_lms_tree(proc_root, comm, pids, 256);
	if (np < 0)
		return;
	for (int i = 0; i < s->ngpus; i++) {
		struct dp_telemetry_gpu *tg = &s->gpus[i];
		const struct dp_gpu *g = &tg->g;
		if (!(g->have & DP_GPU_HAVE_PCI) || !(g->have & DP_GPU_HAVE_MEM_USED))
			continue;
		uint64_t seen[256], lms = 0;
		int nseen = 0, ok = 1;
		for (int k = 0; k < np && ok; k++) {
			int rc = dp_amdgpu_fdinfo_vram(proc_root, pids[k], g->pci, seen, &nseen, 256, &lms);
			ok = rc == 0 || rc == -ENOENT; /* ENOENT: the process just exited */
		}
		if (!ok)
			continue; /* unreadable fdinfo: no split rather than a wrong one */
		tg->lms = lms > g->mem_used ? g->mem_used : lms;
		tg->other = g->mem_used - tg->lms; /* other processes and the driver */
		tg->split_known = 1;
		tg->unattributed_known = 0;
	}
}

void dp_telemetry_unified_fill(struct dp_telemetry_sample *s)
{
	if (!s->have_ram)
		return;
	for (int i = 0; i < s->ngpus; i++) {
		struct dp_gpu *g = &s->gpus[i].g;
		if (!g->unified || (g->have & DP_GPU_HAVE_MEM_TOTAL))
			continue;
		g->mem_total = s->ram_total;
		g->mem_used = s->ram_used;
		g->mem_free = s->ram_total - s->ram_used;
		g->have |= DP_GPU_HAVE_MEM_TOTAL | DP_GPU_HAVE_MEM_USED | DP_GPU_HAVE_MEM_FREE;
	}
}

int dp_telemetry_meminfo(const char *proc_root, uint64_t *total, uint64_t *used)
{
	char path[PATH_MAX], buf[4096];
	if ((size_t)snprintf(path, sizeof(path), "%s/meminfo", proc_root) >= sizeof(path))
		return -ENAMETOOLONG;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EINVAL;
	buf[n] = '\0';
	unsigned long long tot = 0, avail = 0;
	int have_t = 0, have_a = 0;
	for (char *line = buf; line && *line;) {
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		unsigned long long *dst = NULL;
		const char *p = NULL;
		if (!strncmp(line, "MemTotal:", 9)) {
			dst = &tot;
			p = line + 9;
			have_t = 1;
		} else if (!strncmp(line, "MemAvailable:", 13)) {
			dst = &avail;
			p = line + 13;
			have_a = 1;
		}
		if (dst) {
			char *end;
			*dst = strtoull(p, &end, 10) * 1024ULL; /* kB */
		}
		line = nl ? nl + 1 : NULL;
	}
	if (!have_t || !have_a || avail > tot)
		return -EINVAL;
	*total = tot;
	*used = tot - avail;
	return 0;
}

/* ------------------------------------------------------------ simulator */

static int get_u64(const json_t *o, const char *k, uint64_t *v)
{
	json_t *x = json_object_get(o, k);
	if (!json_is_integer(x) || json_integer_value(x) < 0)
		return -1;
	*v = (uint64_t)json_integer_value(x);
	return 0;
}

static int get_num(const json_t *o, const char *k, double *v)
{
	json_t *x = json_object_get(o, k);
	if (!json_is_number(x))
		return -1;
	*v = json_number_value(x);
	return isfinite(*v) ? 0 : -1;
}

/* Copy valid UTF-8, cutting only between characters so the result stays
 * valid (json_string refuses a split sequence). */
static void copy_utf8(char *dst, size_t len, const char *src)
{
	size_t n = strlen(src);
	if (n >= len) {
		n = len - 1;
		while (n > 0 && ((unsigned char)src[n] & 0xC0) == 0x80)
			n--;
	}
	memcpy(dst, src, n);
	dst[n] = '\0';
}

int dp_telemetry_parse_sim(const json_t *body, struct dp_telemetry_sample *s)
{
	json_t *gpus = json_is_object(body) ? json_object_get(body, "gpus") : NULL;
	if (!json_is_array(gpus))
		return -EINVAL;
	memset(s, 0, sizeof(*s));
	s->source = DP_TSRC_SIMULATED;
	size_t i;
	json_t *o;
	json_array_foreach(gpus, i, o)
	{
		if (s->ngpus >= DP_GPU_MAX)
			break;
		if (!json_is_object(o))
			return -EINVAL;
		struct dp_telemetry_gpu *tg = &s->gpus[s->ngpus];
		struct dp_gpu *g = &tg->g;
		g->index = s->ngpus++;
		memcpy(g->vendor, "simulated", 10);
		const char *name = json_string_value(json_object_get(o, "name"));
		const char *id = json_string_value(json_object_get(o, "id"));
		if (name) {
			copy_utf8(g->name, sizeof(g->name), name);
			g->have |= DP_GPU_HAVE_NAME;
		}
		if (id) {
			copy_utf8(g->uuid, sizeof(g->uuid), id);
			g->have |= DP_GPU_HAVE_UUID;
		}
		uint64_t total, used;
		double v;
		if (get_u64(o, "total_vram_bytes", &total) == 0) {
			g->mem_total = total;
			g->have |= DP_GPU_HAVE_MEM_TOTAL;
			if (get_u64(o, "used_vram_bytes", &used) == 0 && used <= total) {
				g->mem_used = used;
				g->mem_free = total - used;
				g->have |= DP_GPU_HAVE_MEM_USED | DP_GPU_HAVE_MEM_FREE;
				tg->lms = used; /* the simulator runs nothing else */
				tg->split_known = 1;
				tg->unattributed_known = 1;
			}
		}
		if (get_num(o, "utilization_percent", &v) == 0 && v >= 0) {
			g->util_gpu = v / 100.0;
			g->have |= DP_GPU_HAVE_UTIL_GPU;
		}
		if (get_num(o, "temperature_c", &v) == 0) {
			g->temp_c = v;
			g->have |= DP_GPU_HAVE_TEMP;
		}
		if (get_num(o, "power_w", &v) == 0 && v >= 0) {
			g->power_w = v;
			g->have |= DP_GPU_HAVE_POWER;
		}
	}
	json_t *ram = json_object_get(body, "ram");
	if (json_is_object(ram) && get_u64(ram, "total_bytes", &s->ram_total) == 0 &&
	    get_u64(ram, "used_bytes", &s->ram_used) == 0)
		s->have_ram = 1;
	return 0;
}

/* ------------------------------------------------------------ JSON */

static json_t *u64_or_null(int have, uint64_t v)
{
	return have ? json_integer((json_int_t)v) : json_null();
}

static json_t *dbl_or_null(int have, double v)
{
	if (!have || !isfinite(v))
		return json_null();
	return json_real(round(v * 1000.0) / 1000.0);
}

json_t *dp_telemetry_gpu_json(const struct dp_telemetry_gpu *tg)
{
	const struct dp_gpu *g = &tg->g;
	unsigned h = g->have;
	json_t *procs = json_null();
	if (h & DP_GPU_HAVE_PROCS) {
		procs = json_array();
		for (int i = 0; i < g->nprocs; i++)
			json_array_append_new(procs, json_pack("{s:I,s:o,s:b}", "pid", (json_int_t)g->procs[i].pid,
			                                       "used_bytes",
			                                       u64_or_null(g->procs[i].used_known, g->procs[i].used),
			                                       "lmstudio", g->procs[i].lmstudio));
	}
	json_t *mem =
	        json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:b,s:o,s:o}", "total_bytes",
	                  u64_or_null(h & DP_GPU_HAVE_MEM_TOTAL, g->mem_total), "used_bytes",
	                  u64_or_null(h & DP_GPU_HAVE_MEM_USED, g->mem_used), "free_bytes",
	                  u64_or_null(h & DP_GPU_HAVE_MEM_FREE, g->mem_free), "reserved_bytes",
	                  u64_or_null(h & DP_GPU_HAVE_MEM_RESERVED, g->mem_reserved), "lmstudio_bytes",
	                  u64_or_null(tg->split_known, tg->lms), "other_bytes", u64_or_null(tg->split_known, tg->other),
	                  "unattributed_bytes", u64_or_null(tg->unattributed_known, tg->unattributed), "unified",
	                  g->unified, "gtt_total_bytes", u64_or_null(h & DP_GPU_HAVE_GTT, g->gtt_total),
	                  "gtt_used_bytes", u64_or_null(h & DP_GPU_HAVE_GTT, g->gtt_used));
	json_t *o = json_pack("{s:i,s:o,s:o,s:o,s:s,s:o}", "index", g->index, "name",
	                      (h & DP_GPU_HAVE_NAME) ? json_string(g->name) : json_null(), "uuid",
	                      (h & DP_GPU_HAVE_UUID) ? json_string(g->uuid) : json_null(), "pci_bus_id",
	                      (h & DP_GPU_HAVE_PCI) ? json_string(g->pci) : json_null(), "vendor", g->vendor, "memory",
	                      mem);
	json_object_set_new(o, "utilization",
	                    json_pack("{s:o,s:o}", "gpu_ratio", dbl_or_null(h & DP_GPU_HAVE_UTIL_GPU, g->util_gpu),
	                              "memory_ratio", dbl_or_null(h & DP_GPU_HAVE_UTIL_MEM, g->util_mem)));
	json_object_set_new(o, "temperature_c", dbl_or_null(h & DP_GPU_HAVE_TEMP, g->temp_c));
	json_object_set_new(o, "power",
	                    json_pack("{s:o,s:o}", "watts", dbl_or_null(h & DP_GPU_HAVE_POWER, g->power_w),
	                              "limit_watts", dbl_or_null(h & DP_GPU_HAVE_POWER_LIMIT, g->power_limit_w)));
	json_object_set_new(o, "fan_ratio", dbl_or_null(h & DP_GPU_HAVE_FAN, g->fan_ratio));
	json_object_set_new(o, "clocks_mhz",
	                    json_pack("{s:o,s:o,s:o}", "graphics",
	                              u64_or_null(h & DP_GPU_HAVE_CLK_GRAPHICS, g->clk_graphics), "sm",
	                              u64_or_null(h & DP_GPU_HAVE_CLK_SM, g->clk_sm), "memory",
	                              u64_or_null(h & DP_GPU_HAVE_CLK_MEM, g->clk_mem)));
	json_object_set_new(o, "processes", procs);
	return o;
}

/* ------------------------------------------------------------ ring */

void dp_telemetry_ring_init(struct dp_telemetry_ring *r, size_t cap)
{
	memset(r, 0, sizeof(*r));
	r->cap = cap < 2 ? 2 : cap;
}

void dp_telemetry_ring_release(struct dp_telemetry_ring *r)
{
	free(r->t);
	free(r->pts);
	size_t cap = r->cap;
	dp_telemetry_ring_init(r, cap);
}

static int same_set(const struct dp_telemetry_ring *r, const struct dp_telemetry_sample *s)
{
	if (r->ngpus != s->ngpus)
		return 0;
	for (int i = 0; i < s->ngpus; i++)
		if (strcmp(r->uuids[i], s->gpus[i].g.uuid) != 0 || strcmp(r->names[i], s->gpus[i].g.name) != 0)
			return 0;
	return 1;
}

void dp_telemetry_ring_push(struct dp_telemetry_ring *r, const struct dp_telemetry_sample *s)
{
	if (!r->t || !same_set(r, s)) {
		free(r->pts);
		free(r->t);
		r->t = xcalloc(r->cap, sizeof(*r->t));
		r->ngpus = s->ngpus;
		r->pts = xcalloc(r->cap * (size_t)(s->ngpus ? s->ngpus : 1) * DP_TELEMETRY_RING_FIELDS, sizeof(double));
		r->n = r->head = 0;
		for (int i = 0; i < s->ngpus; i++) {
			memcpy(r->uuids[i], s->gpus[i].g.uuid, sizeof(r->uuids[i]));
			memcpy(r->names[i], s->gpus[i].g.name, sizeof(r->names[i]));
		}
	}
	r->t[r->head] = s->measured_ms;
	for (int i = 0; i < s->ngpus; i++) {
		const struct dp_telemetry_gpu *tg = &s->gpus[i];
		const struct dp_gpu *g = &tg->g;
		double *p = r->pts + (r->head * (size_t)r->ngpus + (size_t)i) * DP_TELEMETRY_RING_FIELDS;
		p[0] = (g->have & DP_GPU_HAVE_MEM_USED) ? (double)g->mem_used : NAN;
		p[1] = tg->split_known ? (double)tg->lms : NAN;
		p[2] = (g->have & DP_GPU_HAVE_UTIL_GPU) ? g->util_gpu : NAN;
		p[3] = (g->have & DP_GPU_HAVE_TEMP) ? g->temp_c : NAN;
		p[4] = (g->have & DP_GPU_HAVE_POWER) ? g->power_w : NAN;
		r->total[i] = (g->have & DP_GPU_HAVE_MEM_TOTAL) ? (double)g->mem_total : NAN;
	}
	r->head = (r->head + 1) % r->cap;
	if (r->n < r->cap)
		r->n++;
}

static json_t *pt_json(double v, int integer)
{
	if (isnan(v))
		return json_null();
	return integer ? json_integer((json_int_t)v) : json_real(round(v * 1000.0) / 1000.0);
}

json_t *dp_telemetry_ring_json(const struct dp_telemetry_ring *r, int64_t since_ms)
{
	static const char *const fields[DP_TELEMETRY_RING_FIELDS] = {
	        "used_bytes", "lmstudio_bytes", "utilization_ratio", "temperature_c", "power_watts"};
	json_t *t = json_array(), *gpus = json_array();
	json_t *cols[DP_GPU_MAX][DP_TELEMETRY_RING_FIELDS];
	for (int i = 0; i < r->ngpus; i++) {
		json_t *g = json_pack("{s:i,s:o,s:o,s:o}", "index", i, "uuid",
		                      r->uuids[i][0] ? json_string(r->uuids[i]) : json_null(), "name",
		                      r->names[i][0] ? json_string(r->names[i]) : json_null(), "total_bytes",
		                      pt_json(r->total[i], 1));
		for (int f = 0; f < DP_TELEMETRY_RING_FIELDS; f++) {
			cols[i][f] = json_array();
			json_object_set_new(g, fields[f], cols[i][f]);
		}
		json_array_append_new(gpus, g);
	}
	for (size_t k = 0; k < r->n; k++) {
		size_t idx = (r->head + r->cap - r->n + k) % r->cap;
		if (r->t[idx] < since_ms)
			continue;
		json_array_append_new(t, json_integer((json_int_t)r->t[idx]));
		for (int i = 0; i < r->ngpus; i++) {
			const double *p = r->pts + (idx * (size_t)r->ngpus + (size_t)i) * DP_TELEMETRY_RING_FIELDS;
			for (int f = 0; f < DP_TELEMETRY_RING_FIELDS; f++)
				json_array_append_new(cols[i][f], pt_json(p[f], f < 2));
		}
	}
	return json_pack("{s:o,s:o}", "t", t, "gpus", gpus);
}

/* ------------------------------------------------------------ runtime */

struct ttarget {
	int64_t id;
	char label[DP_TARGET_LABEL_MAX * 4 + 1];
	char url[DP_UPSTREAM_MAX_URL + 1];
	int local;        /* URL host is loopback */
	int agent;        /* an agent is enrolled: telemetry comes from it */
	int sim;          /* 1 simulator, -1 not one, 0 unknown */
	int probe_failed; /* the last probe got no answer */
	int64_t next_probe_ms;
	struct dp_upstream_req *req;  /* GET /__sim/gpus in flight */
	struct dp_upstream_req *sreq; /* GET /__sim/state in flight */
	json_t *instances;            /* simulator: [{"id","model","vram_bytes":[per GPU]}] */
	int inst_age;                 /* samples since the instances were read */
	struct dp_telemetry *hub;
	int gone, seen;
	int source, available, up;
	char rcode[32], reason[512];
	int pub_source, pub_available; /* last published `gpus` event */
	struct dp_telemetry_sample *latest;
	struct dp_telemetry_ring ring;
};

struct handoff {
	struct dp_telemetry_sample *s;
	char code[32], reason[512];
};

struct dp_telemetry {
	struct dp_server *srv;
	struct dp_telemetry_config c;
	char *nvml_library, *sysfs_root, *procfs_root;
	struct event *tick;
	struct ttarget **t;
	size_t nt, tcap;
	struct dp_alerts *alerts;
	size_t ring_cap;
	/* sampler thread */
	pthread_t th;
	int th_started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int stop;
	struct handoff pending; /* under mu */
	int pipefd[2];
	struct event *pipe_ev;
	/* loop copy of the local host's state */
	struct dp_telemetry_sample *local;
	int local_known;
	char local_code[32], local_reason[512];
	/* counters */
	uint64_t samples[DP_TSRC__N];
	double sampler_cpu;
	uint64_t sampler_samples, sampler_gpus;
};

static int is_loopback_url(const char *url)
{
	const char *p = strstr(url, "://");
	if (!p)
		return 0;
	p += 3;
	char host[256];
	size_t n = 0;
	if (*p == '[') {
		p++;
		while (*p && *p != ']' && n + 1 < sizeof(host))
			host[n++] = *p++;
	} else {
		while (*p && *p != ':' && *p != '/' && n + 1 < sizeof(host))
			host[n++] = *p++;
	}
	host[n] = '\0';
	return !strcasecmp(host, "localhost") || !strncmp(host, "127.", 4) || !strcmp(host, "::1");
}

static void publish_gpus(struct dp_telemetry *t, struct ttarget *tt)
{
	if (tt->pub_source == tt->source && tt->pub_available == tt->available)
		return;
	tt->pub_source = tt->source;
	tt->pub_available = tt->available;
	if (!t->srv->events)
		return;
	json_t *d = json_pack("{s:I,s:s,s:b,s:b,s:o}", "target_id", (json_int_t)tt->id, "source",
	                      dp_telemetry_source_name(tt->source), "simulated", tt->source == DP_TSRC_SIMULATED,
	                      "available", tt->available, "reason",
	                      tt->available ? json_null()
	                                    : json_pack("{s:s,s:s}", "code", tt->rcode, "message", tt->reason));
	dp_events_publish(t->srv->events, "gpus", d);
	json_decref(d);
}

static void set_unavailable(struct dp_telemetry *t, struct ttarget *tt, int source, const char *code, const char *msg)
{
	tt->source = source;
	tt->available = 0;
	tt->up = 0;
	snprintf(tt->rcode, sizeof(tt->rcode), "%s", code);
	snprintf(tt->reason, sizeof(tt->reason), "%s", msg);
	publish_gpus(t, tt);
}

static void apply_sample(struct dp_telemetry *t, struct ttarget *tt, const struct dp_telemetry_sample *s)
{
	if (!tt->latest)
		tt->latest = xmalloc(sizeof(*tt->latest));
	memcpy(tt->latest, s, sizeof(*s));
	dp_telemetry_ring_push(&tt->ring, s);
	tt->source = s->source;
	tt->available = 1;
	tt->up = 1;
	tt->rcode[0] = tt->reason[0] = '\0';
	t->samples[s->source]++;
	dp_alerts_source(t->alerts, tt->id, tt->label, 1, s->measured_ms);
	for (int i = 0; i < s->ngpus; i++)
		dp_alerts_gpu(t->alerts, tt->id, tt->label, &s->gpus[i].g, s->measured_ms);
	dp_alerts_retain_gpus(t->alerts, tt->id, s->ngpus);
	publish_gpus(t, tt);
}

/* The source of a confirmed simulator (or the local host) failed once. */
static void source_failed(struct dp_telemetry *t, struct ttarget *tt, const char *msg)
{
	dp_alerts_source(t->alerts, tt->id, tt->label, 0, now_ms());
	set_unavailable(t, tt, tt->source == DP_TSRC_PENDING ? DP_TSRC_NONE : tt->source, "source_down", msg);
}

/* A local target that is not (or not yet known to be) a simulator follows
 * the local host's state. */
static int follows_local(const struct ttarget *tt)
{
	return !tt->agent && tt->local && (tt->sim == -1 || (tt->sim == 0 && tt->probe_failed));
}

static void apply_local(struct dp_telemetry *t, struct ttarget *tt)
{
	if (!t->local_known)
		return;
	if (t->local)
		apply_sample(t, tt, t->local);
	else
		set_unavailable(t, tt, DP_TSRC_NONE, t->local_code, t->local_reason);
}

static void free_target(struct ttarget *tt)
{
	json_decref(tt->instances);
	dp_telemetry_ring_release(&tt->ring);
	free(tt->latest);
	free(tt);
}

#define INST_REFRESH 10 /* samples */

/* Same GPUs with the same VRAM use (the instances cannot have changed). */
static int same_usage(const struct dp_telemetry_sample *a, const struct dp_telemetry_sample *b)
{
	if (a->ngpus != b->ngpus)
		return 0;
	for (int i = 0; i < a->ngpus; i++)
		if (a->gpus[i].g.mem_used != b->gpus[i].g.mem_used)
			return 0;
	return 1;
}

/* The simulator's loaded instances and their VRAM per GPU, from
 * /__sim/state (new reference), NULL when the body is not that shape. */
static json_t *parse_instances(const json_t *state, int ngpus)
{
	json_t *in = json_is_object(state) ? json_object_get(state, "instances") : NULL;
	if (!json_is_array(in))
		return NULL;
	json_t *out = json_array();
	size_t i;
	json_t *o;
	json_array_foreach(in, i, o)
	{
		const char *id = json_string_value(json_object_get(o, "identifier"));
		const char *model = json_string_value(json_object_get(o, "model_key"));
		json_t *v = json_object_get(o, "vram_bytes");
		if (!id || !json_is_array(v) || json_array_size(out) >= 256)
			continue;
		json_t *per = json_array();
		for (int g = 0; g < ngpus; g++) {
			json_t *x = json_array_get(v, (size_t)g);
			json_array_append_new(per, json_is_integer(x) && json_integer_value(x) >= 0
			                                   ? json_integer(json_integer_value(x))
			                                   : json_null());
		}
		char idb[DP_GPU_NAME_MAX * 2], mb[DP_GPU_NAME_MAX * 2];
		copy_utf8(idb, sizeof(idb), id);
		copy_utf8(mb, sizeof(mb), model ? model : "");
		json_array_append_new(out, json_pack("{s:s,s:o,s:o}", "id", idb, "model",
		                                     model ? json_string(mb) : json_null(), "vram_bytes", per));
	}
	return out;
}

static void state_done(struct dp_upstream_req *r, const struct dp_upstream_result *res, void *arg)
{
	struct ttarget *tt = arg;
	(void)r;
	tt->sreq = NULL;
	if (tt->gone) {
		if (!tt->req)
			free_target(tt);
		return;
	}
	if (res->outcome != DP_UPSTREAM_OK || !tt->latest)
		return; /* keep what we had; the next change retries */
	json_t *in = parse_instances(res->json, tt->latest->ngpus);
	if (in) {
		json_decref(tt->instances);
		tt->instances = in;
		tt->inst_age = 0;
	}
}

static void start_state(struct dp_telemetry *t, struct ttarget *tt)
{
	if (tt->sreq)
		return;
	int to = t->c.interval_ms < 5000 ? t->c.interval_ms : 5000;
	struct dp_upstream_opts o = {
	        .method = "GET",
	        .base_url = tt->url,
	        .path = "/__sim/state",
	        .connect_timeout_ms = to < 3000 ? to : 3000,
	        .timeout_ms = to < 200 ? 200 : to,
	        .max_response = SIM_MAX_RESPONSE * 4,
	        .mode = DP_UPSTREAM_BUFFERED,
	        .on_done = state_done,
	        .arg = tt,
	};
	const char *err = NULL;
	tt->sreq = dp_upstream_start(t->srv->upstream, &o, &err);
}

static void probe_done(struct dp_upstream_req *r, const struct dp_upstream_result *res, void *arg)
{
	struct ttarget *tt = arg;
	(void)r;
	tt->req = NULL;
	if (tt->gone) {
		if (!tt->sreq)
			free_target(tt);
		return;
	}
	if (res->outcome == DP_UPSTREAM_CANCELLED)
		return;
	struct dp_telemetry *t = tt->hub;
	if (res->outcome == DP_UPSTREAM_OK) {
		struct dp_telemetry_sample *s = xmalloc(sizeof(*s));
		if (dp_telemetry_parse_sim(res->json, s) == 0) {
			tt->sim = 1;
			tt->probe_failed = 0;
			s->measured_ms = now_ms();
			int changed = !tt->latest || !same_usage(tt->latest, s);
			apply_sample(t, tt, s);
			free(s);
			if (changed || !tt->instances || ++tt->inst_age >= INST_REFRESH)
				start_state(t, tt);
			return;
		}
		free(s);
	}
	int answered = res->outcome != DP_UPSTREAM_STOPPED && res->outcome != DP_UPSTREAM_STALLED;
	if (tt->sim == 1) {
		/* a confirmed simulator that fails: source down (never re-labelled) */
		char msg[256];
		snprintf(msg, sizeof(msg), "simulator telemetry failed: %s%s%s", res->code,
		         res->message && *res->message ? ": " : "", res->message ? res->message : "");
		source_failed(t, tt, msg);
		return;
	}
	if (answered) {
		/* it answered, but not as the simulator does: a real daemon */
		tt->sim = -1;
		tt->next_probe_ms = now_ms() + REPROBE_MS;
	} else {
		tt->probe_failed = 1;
	}
	if (follows_local(tt))
		apply_local(t, tt);
	else if (!tt->local && tt->sim == -1)
		set_unavailable(t, tt, DP_TSRC_NONE, "remote_no_agent",
		                "telemetry not supported here: the target is on another host and live GPU telemetry "
		                "needs the DaemonPulse agent there (Settings, Daemon targets, Add agent)");
	else if (!tt->local)
		set_unavailable(t, tt, DP_TSRC_NONE, "unreachable",
		                "the target does not answer; a remote host's live GPU telemetry needs the DaemonPulse "
		                "agent there (Settings, Daemon targets, Add agent)");
}

static void start_probe(struct dp_telemetry *t, struct ttarget *tt)
{
	int to = t->c.interval_ms * 9 / 10;
	if (to > 5000)
		to = 5000;
	if (to < 200)
		to = 200;
	struct dp_upstream_opts o = {
	        .method = "GET",
	        .base_url = tt->url,
	        .path = "/__sim/gpus",
	        .connect_timeout_ms = to < 3000 ? to : 3000,
	        .timeout_ms = to,
	        .max_response = SIM_MAX_RESPONSE,
	        .mode = DP_UPSTREAM_BUFFERED,
	        .allow_non_json = 1,
	        .on_done = probe_done,
	        .arg = tt,
	};
	const char *err = NULL;
	tt->req = dp_upstream_start(t->srv->upstream, &o, &err);
	if (!tt->req)
		set_unavailable(t, tt, DP_TSRC_NONE, "bad_target", err ? err : "invalid target URL");
}

/* GET /agent/v1/telemetry of the target's agent. */
static void agent_done(struct dp_upstream_req *r, const struct dp_upstream_result *res, void *arg)
{
	struct ttarget *tt = arg;
	(void)r;
	tt->req = NULL;
	if (tt->gone) {
		if (!tt->sreq)
			free_target(tt);
		return;
	}
	if (res->outcome == DP_UPSTREAM_CANCELLED || !tt->agent)
		return;
	struct dp_telemetry *t = tt->hub;
	if (res->outcome == DP_UPSTREAM_OK) {
		struct dp_telemetry_sample *s = xmalloc(sizeof(*s));
		char code[32], msg[400];
		int rc = dp_agent_client_parse_telemetry(res->json, s, code, sizeof(code), msg, sizeof(msg));
		if (rc == 1) {
			s->measured_ms = now_ms();
			apply_sample(t, tt, s);
		} else if (rc == 0) {
			char m2[410];
			snprintf(m2, sizeof(m2), "agent: %s", msg);
			set_unavailable(t, tt, DP_TSRC_AGENT, code, m2);
		} else {
			source_failed(t, tt, "the agent's telemetry answer is not in the expected shape");
		}
		free(s);
		return;
	}
	char msg[400];
	snprintf(msg, sizeof(msg), "the agent does not answer: %.64s%s%.300s",
	         res->outcome == DP_UPSTREAM_UNAUTHORIZED ? "its token was refused (enrol it again)" : res->code,
	         res->message && *res->message ? ": " : "", res->message ? res->message : "");
	if (tt->source == DP_TSRC_AGENT && tt->available)
		source_failed(t, tt, msg);
	else
		set_unavailable(t, tt, DP_TSRC_AGENT,
		                res->outcome == DP_UPSTREAM_UNAUTHORIZED ? "agent_unauthorized" : "agent_down", msg);
}

static void start_agent(struct dp_telemetry *t, struct ttarget *tt)
{
	int to = t->c.interval_ms * 9 / 10;
	if (to > 5000)
		to = 5000;
	if (to < 200)
		to = 200;
	const char *err = NULL;
	tt->req = dp_agent_client_request(t->srv, tt->id, "GET", "/agent/v1/telemetry", NULL, NULL, to, agent_done, tt,
	                                  &err);
	if (!tt->req)
		set_unavailable(t, tt, DP_TSRC_AGENT, "agent_error", err ? err : "cannot reach the agent");
}

struct collect {
	struct dp_telemetry *t;
};

static struct ttarget *find_target(struct dp_telemetry *t, int64_t id)
{
	for (size_t i = 0; i < t->nt; i++)
		if (t->t[i]->id == id)
			return t->t[i];
	return NULL;
}

static int collect_cb(const struct dp_target *tgt, void *arg)
{
	struct dp_telemetry *t = ((struct collect *)arg)->t;
	struct ttarget *tt = find_target(t, tgt->id);
	int agent = dp_agent_client_enrolled(t->srv->store, tgt->id);
	if (tt && (strcmp(tt->url, tgt->url) != 0 || tt->agent != agent)) {
		/* the URL changed: start over (new host, new source) */
		tt->sim = 0;
		tt->probe_failed = 0;
		tt->local = is_loopback_url(tgt->url);
		snprintf(tt->url, sizeof(tt->url), "%s", tgt->url);
		dp_telemetry_ring_release(&tt->ring);
		free(tt->latest);
		tt->latest = NULL;
		json_decref(tt->instances);
		tt->instances = NULL;
		tt->source = DP_TSRC_PENDING;
		tt->available = 0;
		tt->agent = agent;
	}
	if (!tt) {
		tt = xcalloc(1, sizeof(*tt));
		tt->hub = t;
		tt->id = tgt->id;
		snprintf(tt->url, sizeof(tt->url), "%s", tgt->url);
		tt->local = is_loopback_url(tgt->url);
		tt->agent = agent;
		tt->pub_source = -1;
		snprintf(tt->rcode, sizeof(tt->rcode), "pending");
		snprintf(tt->reason, sizeof(tt->reason), "no sample yet");
		dp_telemetry_ring_init(&tt->ring, t->ring_cap);
		if (t->nt == t->tcap) {
			t->tcap = t->tcap ? t->tcap * 2 : 16;
			t->t = xrealloc(t->t, t->tcap * sizeof(*t->t));
		}
		t->t[t->nt++] = tt;
	}
	snprintf(tt->label, sizeof(tt->label), "%s", tgt->label);
	tt->seen = 1;
	return 0;
}

static void sync_targets(struct dp_telemetry *t)
{
	if (!t->srv->store)
		return;
	for (size_t i = 0; i < t->nt; i++)
		t->t[i]->seen = 0;
	struct collect c = {t};
	if (dp_targets_each(t->srv->store, collect_cb, &c) < 0)
		return; /* keep the previous list */
	for (size_t i = 0; i < t->nt;) {
		struct ttarget *tt = t->t[i];
		if (tt->seen) {
			i++;
			continue;
		}
		dp_alerts_forget_target(t->alerts, tt->id, now_ms());
		t->t[i] = t->t[--t->nt];
		if (tt->req || tt->sreq) {
			tt->gone = 1; /* the last on_done frees it */
			if (tt->req)
				dp_upstream_abort(tt->req);
			if (tt->sreq)
				dp_upstream_abort(tt->sreq);
		} else {
			free_target(tt);
		}
	}
}

static void run_tick(struct dp_telemetry *t)
{
	sync_targets(t);
	int64_t now = now_ms();
	for (size_t i = 0; i < t->nt; i++) {
		struct ttarget *tt = t->t[i];
		if (tt->req)
			continue;
		if (tt->agent)
			start_agent(t, tt);
		else if (tt->sim != -1 || now >= tt->next_probe_ms)
			start_probe(t, tt);
	}
}

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	run_tick(arg);
}

void dp_telemetry_poke(struct dp_telemetry *t)
{
	run_tick(t);
}

void dp_telemetry_sync(struct dp_telemetry *t)
{
	sync_targets(t);
	for (size_t i = 0; i < t->nt; i++) {
		struct ttarget *tt = t->t[i];
		if (!tt->req && tt->agent && !tt->latest)
			start_agent(t, tt);
		else if (!tt->req && tt->sim == 0 && !tt->probe_failed && !tt->latest)
			start_probe(t, tt);
	}
}

int dp_telemetry_interval_ms(const struct dp_telemetry *t)
{
	return t->c.interval_ms;
}

/* ------------------------------------------------------------ sampler thread */

static double thread_cpu(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void post(struct dp_telemetry *t, struct dp_telemetry_sample *s, const char *code, const char *reason)
{
	pthread_mutex_lock(&t->mu);
	free(t->pending.s); /* an unread older sample is replaced */
	t->pending.s = s;
	snprintf(t->pending.code, sizeof(t->pending.code), "%s", code ? code : "");
	snprintf(t->pending.reason, sizeof(t->pending.reason), "%s", reason ? reason : "");
	pthread_mutex_unlock(&t->mu);
	char b = 1;
	if (write(t->pipefd[1], &b, 1) < 0) {
		/* full pipe: the loop has a wakeup pending anyway */
	}
}

#define REDETECT_MS 60000

/* Find this host's collector: NVML with at least one GPU, else amdgpu
 * cards, else none (reason in `code` / `none_reason`). */
static void detect(struct dp_telemetry *t, struct dp_nvml **nvp, int *use_amd, char *code, size_t codelen,
                   char *none_reason, size_t reasonlen)
{
	struct dp_nvml *nv = NULL;
	char nvml_msg[256] = "";
	snprintf(code, codelen, "no_gpu");
	if (strcmp(t->nvml_library, "off") != 0) {
		int nrc = 0;
		int rc = dp_nvml_open(&nv, t->nvml_library, &nrc, nvml_msg, sizeof(nvml_msg));
		if (rc == 0) {
			unsigned c = 0;
			if (dp_nvml_count(nv, &c, nvml_msg, sizeof(nvml_msg)) < 0 || c == 0) {
				if (!nvml_msg[0])
					snprintf(nvml_msg, sizeof(nvml_msg), "NVML reports no GPU");
				dp_nvml_close(nv);
				nv = NULL;
			} else {
				dp_info("telemetry: NVML %s, %u GPU(s), %s, %s", dp_nvml_driver_version(nv), c,
				        dp_nvml_memory_symbol(nv), dp_nvml_procs_symbol(nv));
			}
		} else if (rc == -EIO && nrc == DP_NVML_ERROR_LIB_RM_VERSION_MISMATCH) {
			snprintf(code, codelen, "nvml_error");
		}
	} else {
		snprintf(nvml_msg, sizeof(nvml_msg), "NVML disabled (DP_NVML_LIBRARY=off)");
	}
	*use_amd = 0;
	if (!nv) {
		struct dp_gpu *probe = xcalloc(DP_GPU_MAX, sizeof(*probe));
		*use_amd = dp_amdgpu_scan(t->sysfs_root, t->c.amdgpu_ids, probe, DP_GPU_MAX) > 0;
		free(probe);
		if (*use_amd)
			dp_info("telemetry: amdgpu sysfs under %s", t->sysfs_root);
	}
	snprintf(none_reason, reasonlen,
	         "telemetry not supported here: no NVIDIA (NVML) or AMD (amdgpu) GPU on this host (%s; no amdgpu "
	         "card under %s/class/drm)",
	         nvml_msg, t->sysfs_root);
	*nvp = nv;
}

static void *sampler_main(void *arg)
{
	struct dp_telemetry *t = arg;
	struct dp_nvml *nv = NULL;
	int use_amd = 0;
	char code[32], none_reason[512];
	detect(t, &nv, &use_amd, code, sizeof(code), none_reason, sizeof(none_reason));
	int64_t last_detect = now_ms();

	pthread_mutex_lock(&t->mu);
	while (!t->stop) {
		pthread_mutex_unlock(&t->mu);
		double c0 = thread_cpu();
		struct dp_telemetry_sample *s = xcalloc(1, sizeof(*s));
		const char *pcode = NULL, *preason = NULL;
		char err[256] = "";
		if (nv) {
			unsigned count = 0;
			if (dp_nvml_count(nv, &count, err, sizeof(err)) < 0) {
				pcode = "nvml_error";
				preason = err;
			} else {
				int ok = 0;
				for (unsigned i = 0; i < count && s->ngpus < DP_GPU_MAX; i++) {
					if (dp_nvml_read(nv, i, &s->gpus[s->ngpus].g, err, sizeof(err)) == 0) {
						s->ngpus++;
						ok++;
					}
				}
				if (!ok) {
					pcode = "nvml_error";
					preason = err[0] ? err : "no GPU could be read";
				}
			}
			s->source = DP_TSRC_NVML;
		} else if (use_amd) {
			struct dp_gpu g[DP_GPU_MAX];
			int n = dp_amdgpu_scan(t->sysfs_root, t->c.amdgpu_ids, g, DP_GPU_MAX);
			for (int i = 0; i < n; i++)
				s->gpus[i].g = g[i];
			s->ngpus = n > 0 ? n : 0;
			s->source = DP_TSRC_AMDGPU;
			if (n <= 0) {
				pcode = "source_down";
				preason = "amdgpu cards disappeared";
			}
		} else {
			/* a driver loaded after start (boot order): look again now and then */
			if (now_ms() - last_detect >= REDETECT_MS) {
				detect(t, &nv, &use_amd, code, sizeof(code), none_reason, sizeof(none_reason));
				last_detect = now_ms();
			}
			s->source = DP_TSRC_NONE;
			pcode = code;
			preason = none_reason;
		}
		if (!pcode) {
			if (dp_telemetry_meminfo(t->procfs_root, &s->ram_total, &s->ram_used) == 0)
				s->have_ram = 1;
			dp_telemetry_unified_fill(s);
			if (s->source == DP_TSRC_AMDGPU)
				dp_telemetry_attribute_amd(s, t->procfs_root, DP_TELEMETRY_LMS_COMM);
			else
				dp_telemetry_attribute(s, t->procfs_root, DP_TELEMETRY_LMS_COMM);
		}
		s->measured_ms = now_ms();
		s->cpu_seconds = thread_cpu() - c0;
		post(t, s, pcode, preason);

		struct timespec dl;
		clock_gettime(CLOCK_MONOTONIC, &dl);
		dl.tv_sec += t->c.interval_ms / 1000;
		dl.tv_nsec += (long)(t->c.interval_ms % 1000) * 1000000L;
		if (dl.tv_nsec >= 1000000000L) {
			dl.tv_sec++;
			dl.tv_nsec -= 1000000000L;
		}
		pthread_mutex_lock(&t->mu);
		while (!t->stop) {
			if (pthread_cond_timedwait(&t->cv, &t->mu, &dl) == ETIMEDOUT)
				break;
		}
	}
	pthread_mutex_unlock(&t->mu);
	dp_nvml_close(nv);
	return NULL;
}

static void pipe_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dp_telemetry *t = arg;
	(void)what;
	char buf[64];
	while (read(fd, buf, sizeof(buf)) > 0) {
	}
	pthread_mutex_lock(&t->mu);
	struct handoff h = t->pending;
	t->pending.s = NULL;
	pthread_mutex_unlock(&t->mu);
	if (!h.s)
		return;
	t->sampler_samples++;
	t->sampler_cpu += h.s->cpu_seconds;
	t->sampler_gpus += (uint64_t)h.s->ngpus;
	t->local_known = 1;
	if (h.code[0]) {
		free(h.s);
		free(t->local);
		t->local = NULL;
		snprintf(t->local_code, sizeof(t->local_code), "%s", h.code);
		snprintf(t->local_reason, sizeof(t->local_reason), "%s", h.reason);
	} else {
		free(t->local);
		t->local = h.s;
	}
	for (size_t i = 0; i < t->nt; i++) {
		struct ttarget *tt = t->t[i];
		if (!follows_local(tt))
			continue;
		if (t->local) {
			apply_sample(t, tt, t->local);
		} else if (!strcmp(t->local_code, "source_down") || !strcmp(t->local_code, "nvml_error")) {
			if (tt->available || tt->source == DP_TSRC_NVML || tt->source == DP_TSRC_AMDGPU)
				source_failed(t, tt, t->local_reason);
			else
				set_unavailable(t, tt, DP_TSRC_NONE, t->local_code, t->local_reason);
		} else {
			set_unavailable(t, tt, DP_TSRC_NONE, t->local_code, t->local_reason);
		}
	}
}

/* ------------------------------------------------------------ metrics */

static void esc(struct dp_buf *out, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			dp_buf_addch(out, '\\');
		if (*v == '\n') {
			dp_buf_adds(out, "\\n");
			continue;
		}
		dp_buf_addch(out, *v);
	}
}

static void gpu_labels(struct dp_buf *out, const struct ttarget *tt, const struct dp_gpu *g)
{
	dp_buf_adds(out, "{target=\"");
	esc(out, tt->label);
	dp_buf_addf(out, "\",gpu=\"%d\",uuid=\"", g->index);
	esc(out, g->uuid);
	dp_buf_adds(out, "\"}");
}

enum { M_TOTAL, M_USED, M_FREE, M_RESERVED, M_LMS, M_UTIL, M_MUTIL, M_TEMP, M_POWER, M_PLIMIT, M_FAN, M__N };
static const struct {
	const char *name, *help;
} mfam[M__N] = {
        {"daemonpulse_gpu_memory_total_bytes", "GPU memory (VRAM) total."},
        {"daemonpulse_gpu_memory_used_bytes", "GPU memory used."},
        {"daemonpulse_gpu_memory_free_bytes", "GPU memory free."},
        {"daemonpulse_gpu_memory_reserved_bytes", "GPU memory reserved by the driver (NVML v2 only)."},
        {"daemonpulse_gpu_memory_lmstudio_bytes", "GPU memory used by the LM Studio daemon and its descendants."},
        {"daemonpulse_gpu_utilization_ratio", "GPU utilisation (0-1)."},
        {"daemonpulse_gpu_memory_utilization_ratio", "GPU memory controller utilisation (0-1)."},
        {"daemonpulse_gpu_temperature_celsius", "GPU temperature."},
        {"daemonpulse_gpu_power_watts", "GPU power draw."},
        {"daemonpulse_gpu_power_limit_watts", "GPU enforced power limit."},
        {"daemonpulse_gpu_fan_ratio", "GPU fan speed (0-1, may exceed 1)."},
};

static int metric_value(int m, const struct dp_telemetry_gpu *tg, double *v)
{
	const struct dp_gpu *g = &tg->g;
	unsigned h = g->have;
	switch (m) {
	case M_TOTAL:
		*v = (double)g->mem_total;
		return !!(h & DP_GPU_HAVE_MEM_TOTAL);
	case M_USED:
		*v = (double)g->mem_used;
		return !!(h & DP_GPU_HAVE_MEM_USED);
	case M_FREE:
		*v = (double)g->mem_free;
		return !!(h & DP_GPU_HAVE_MEM_FREE);
	case M_RESERVED:
		*v = (double)g->mem_reserved;
		return !!(h & DP_GPU_HAVE_MEM_RESERVED);
	case M_LMS:
		*v = (double)tg->lms;
		return tg->split_known;
	case M_UTIL:
		*v = g->util_gpu;
		return !!(h & DP_GPU_HAVE_UTIL_GPU);
	case M_MUTIL:
		*v = g->util_mem;
		return !!(h & DP_GPU_HAVE_UTIL_MEM);
	case M_TEMP:
		*v = g->temp_c;
		return !!(h & DP_GPU_HAVE_TEMP);
	case M_POWER:
		*v = g->power_w;
		return !!(h & DP_GPU_HAVE_POWER);
	case M_PLIMIT:
		*v = g->power_limit_w;
		return !!(h & DP_GPU_HAVE_POWER_LIMIT);
	case M_FAN:
		*v = g->fan_ratio;
		return !!(h & DP_GPU_HAVE_FAN);
	}
	return 0;
}

static int render_metrics(void *arg, struct dp_buf *out)
{
	struct dp_telemetry *t = arg;
	dp_buf_adds(out, "# HELP daemonpulse_gpu_info GPU identity per target (value 1).\n"
	                 "# TYPE daemonpulse_gpu_info gauge\n");
	for (size_t i = 0; i < t->nt; i++) {
		const struct ttarget *tt = t->t[i];
		if (!tt->available || !tt->latest)
			continue;
		for (int k = 0; k < tt->latest->ngpus; k++) {
			const struct dp_gpu *g = &tt->latest->gpus[k].g;
			dp_buf_adds(out, "daemonpulse_gpu_info{target=\"");
			esc(out, tt->label);
			dp_buf_addf(out, "\",gpu=\"%d\",uuid=\"", g->index);
			esc(out, g->uuid);
			dp_buf_adds(out, "\",name=\"");
			esc(out, g->name);
			dp_buf_addf(out, "\",vendor=\"%s\",source=\"%s\"} 1\n", g->vendor,
			            dp_telemetry_source_name(tt->source));
		}
	}
	for (int m = 0; m < M__N; m++) {
		dp_buf_addf(out, "# HELP %s %s\n# TYPE %s gauge\n", mfam[m].name, mfam[m].help, mfam[m].name);
		for (size_t i = 0; i < t->nt; i++) {
			const struct ttarget *tt = t->t[i];
			if (!tt->available || !tt->latest)
				continue;
			for (int k = 0; k < tt->latest->ngpus; k++) {
				double v;
				if (!metric_value(m, &tt->latest->gpus[k], &v))
					continue;
				dp_buf_adds(out, mfam[m].name);
				gpu_labels(out, tt, &tt->latest->gpus[k].g);
				dp_buf_addf(out, " %.17g\n", v);
			}
		}
	}
	dp_buf_adds(out, "# HELP daemonpulse_telemetry_up 1 when the target's last telemetry sample succeeded.\n"
	                 "# TYPE daemonpulse_telemetry_up gauge\n");
	for (size_t i = 0; i < t->nt; i++) {
		const struct ttarget *tt = t->t[i];
		dp_buf_adds(out, "daemonpulse_telemetry_up{target=\"");
		esc(out, tt->label);
		dp_buf_addf(out, "\",source=\"%s\"} %d\n", dp_telemetry_source_name(tt->source), tt->up);
	}
	dp_buf_adds(out, "# HELP daemonpulse_telemetry_samples_total Telemetry samples applied, by source.\n"
	                 "# TYPE daemonpulse_telemetry_samples_total counter\n");
	for (int s = DP_TSRC_NVML; s <= DP_TSRC_SIMULATED; s++)
		dp_buf_addf(out, "daemonpulse_telemetry_samples_total{source=\"%s\"} %llu\n",
		            dp_telemetry_source_name(s), (unsigned long long)t->samples[s]);
	dp_buf_addf(out,
	            "# HELP daemonpulse_telemetry_sampler_cpu_seconds_total CPU time of the local sampler thread.\n"
	            "# TYPE daemonpulse_telemetry_sampler_cpu_seconds_total counter\n"
	            "daemonpulse_telemetry_sampler_cpu_seconds_total %.9f\n"
	            "# HELP daemonpulse_telemetry_sampler_samples_total Local host samples taken.\n"
	            "# TYPE daemonpulse_telemetry_sampler_samples_total counter\n"
	            "daemonpulse_telemetry_sampler_samples_total %llu\n"
	            "# HELP daemonpulse_telemetry_sampler_gpu_samples_total GPU readings taken by the local sampler.\n"
	            "# TYPE daemonpulse_telemetry_sampler_gpu_samples_total counter\n"
	            "daemonpulse_telemetry_sampler_gpu_samples_total %llu\n",
	            t->sampler_cpu, (unsigned long long)t->sampler_samples, (unsigned long long)t->sampler_gpus);
	dp_buf_adds(out, "# HELP daemonpulse_alerts_active Firing alerts by kind.\n"
	                 "# TYPE daemonpulse_alerts_active gauge\n");
	for (int k = 0; k < DP_ALERT__N; k++)
		dp_buf_addf(out, "daemonpulse_alerts_active{kind=\"%s\"} %zu\n", dp_alert_kind_name(k),
		            dp_alerts_active(t->alerts, k));
	dp_buf_adds(out, "# HELP daemonpulse_alerts_fired_total Alerts fired since start by kind.\n"
	                 "# TYPE daemonpulse_alerts_fired_total counter\n");
	for (int k = 0; k < DP_ALERT__N; k++)
		if (dp_buf_addf(out, "daemonpulse_alerts_fired_total{kind=\"%s\"} %llu\n", dp_alert_kind_name(k),
		                (unsigned long long)dp_alerts_fired_total(t->alerts, k)) < 0)
			return -ENOSPC;
	return 0;
}

/* ------------------------------------------------------------ API views */

json_t *dp_telemetry_target_json(struct dp_telemetry *t, int64_t target_id)
{
	struct ttarget *tt = find_target(t, target_id);
	if (!tt)
		return NULL;
	json_t *gpus = json_array();
	const struct dp_telemetry_sample *s = tt->latest;
	if (s)
		for (int i = 0; i < s->ngpus; i++)
			json_array_append_new(gpus, dp_telemetry_gpu_json(&s->gpus[i]));
	json_t *ram = s && s->have_ram ? json_pack("{s:I,s:I}", "total_bytes", (json_int_t)s->ram_total, "used_bytes",
	                                           (json_int_t)s->ram_used)
	                               : json_null();
	int source = tt->source;
	if (!tt->available && s && !strcmp(tt->rcode, "source_down"))
		source = s->source;
	json_t *o = json_pack("{s:I,s:s,s:b,s:b,s:o,s:o,s:i,s:o,s:o,s:o}", "target_id", (json_int_t)tt->id, "source",
	                      dp_telemetry_source_name(source), "simulated", source == DP_TSRC_SIMULATED, "available",
	                      tt->available, "reason",
	                      tt->available ? json_null()
	                                    : json_pack("{s:s,s:s}", "code", tt->rcode, "message", tt->reason),
	                      "measured_at", dp_alerts_time_json(s ? s->measured_ms : 0), "interval_ms",
	                      t->c.interval_ms, "gpus", gpus, "ram", ram, "alerts", dp_alerts_json(t->alerts, tt->id));
	/* each loaded instance's VRAM share: measurable only on the simulator */
	json_object_set(o, "instances", source == DP_TSRC_SIMULATED && tt->instances ? tt->instances : json_null());
	return o;
}

json_t *dp_telemetry_pending_json(struct dp_telemetry *t, int64_t target_id)
{
	return json_pack("{s:I,s:s,s:b,s:b,s:{s:s,s:s},s:n,s:i,s:[],s:n,s:[],s:n}", "target_id", (json_int_t)target_id,
	                 "source", "pending", "simulated", 0, "available", 0, "reason", "code", "pending", "message",
	                 "no sample yet", "measured_at", "interval_ms", t->c.interval_ms, "gpus", "ram", "alerts",
	                 "instances");
}

json_t *dp_telemetry_history_json(struct dp_telemetry *t, int64_t target_id, int seconds)
{
	struct ttarget *tt = find_target(t, target_id);
	if (!tt)
		return NULL;
	json_t *o = dp_telemetry_ring_json(&tt->ring, now_ms() - (int64_t)seconds * 1000);
	int source = tt->latest ? tt->latest->source : tt->source;
	json_object_set_new(o, "target_id", json_integer((json_int_t)tt->id));
	json_object_set_new(o, "source", json_string(dp_telemetry_source_name(source)));
	json_object_set_new(o, "simulated", json_boolean(source == DP_TSRC_SIMULATED));
	json_object_set_new(o, "interval_ms", json_integer(t->c.interval_ms));
	json_object_set_new(o, "seconds", json_integer(seconds));
	return o;
}

json_t *dp_telemetry_all_json(struct dp_telemetry *t)
{
	json_t *arr = json_array();
	for (size_t i = 0; i < t->nt; i++)
		json_array_append_new(arr, dp_telemetry_target_json(t, t->t[i]->id));
	return arr;
}

json_t *dp_telemetry_alerts_json(struct dp_telemetry *t)
{
	return dp_alerts_json(t->alerts, 0);
}

/* ------------------------------------------------------------ wiring */

static void alert_notify(void *arg, const struct dp_alert *a, int fired)
{
	struct dp_telemetry *t = arg;
	if (fired)
		dp_warn("alert: %s: %s", a->target, a->message);
	else
		dp_info("alert resolved: %s: %s", a->target, a->message);
	if (!t->srv->events)
		return;
	json_t *d = json_pack("{s:s,s:o}", "action", fired ? "fired" : "resolved", "alert", dp_alert_json(a));
	dp_events_publish(t->srv->events, "alert", d);
	json_decref(d);
}

static int fail(char **err, int rc, char *msg)
{
	if (err)
		*err = msg;
	else
		free(msg);
	return rc;
}

int dp_telemetry_attach(struct dp_server *s, char **err)
{
	const struct dp_config *cfg = s->cfg;
	struct dp_telemetry *t = xcalloc(1, sizeof(*t));
	t->srv = s;
	t->c.interval_ms = cfg->telemetry_interval_ms > 0 ? cfg->telemetry_interval_ms : 2000;
	t->nvml_library = xstrdup(cfg->nvml_library ? cfg->nvml_library : DP_NVML_DEFAULT_LIBRARY);
	t->sysfs_root = xstrdup(cfg->sysfs_root ? cfg->sysfs_root : "/sys");
	t->procfs_root = xstrdup(cfg->procfs_root ? cfg->procfs_root : "/proc");
	t->c.nvml_library = t->nvml_library;
	t->c.sysfs_root = t->sysfs_root;
	t->c.procfs_root = t->procfs_root;
	t->c.alert_vram_percent = cfg->alert_vram_percent > 0 ? cfg->alert_vram_percent : 90;
	t->c.alert_temp_c = cfg->alert_temp_c > 0 ? cfg->alert_temp_c : 85;
	t->ring_cap = (size_t)DP_TELEMETRY_HISTORY_S * 1000 / (size_t)t->c.interval_ms;
	t->pipefd[0] = t->pipefd[1] = -1;
	struct dp_alerts_config ac;
	dp_alerts_config_defaults(&ac);
	ac.vram_ratio = t->c.alert_vram_percent / 100.0;
	ac.temp_c = t->c.alert_temp_c;
	t->alerts = dp_alerts_new(&ac, alert_notify, t);
	s->telemetry = t;

	if (pipe2(t->pipefd, O_NONBLOCK | O_CLOEXEC) < 0)
		return fail(err, -errno, xasprintf("telemetry: cannot create a pipe: %s", strerror(errno)));
	t->pipe_ev = event_new(s->base, t->pipefd[0], EV_READ | EV_PERSIST, pipe_cb, t);
	t->tick = event_new(s->base, -1, EV_PERSIST, tick_cb, t);
	if (!t->pipe_ev || !t->tick || event_add(t->pipe_ev, NULL) < 0)
		return fail(err, -ENOMEM, xstrdup("telemetry: cannot create events"));
	struct timeval tv = {t->c.interval_ms / 1000, (t->c.interval_ms % 1000) * 1000};
	event_add(t->tick, &tv);

	pthread_mutex_init(&t->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&t->cv, &ca);
	pthread_condattr_destroy(&ca);
	int rc = pthread_create(&t->th, NULL, sampler_main, t);
	if (rc != 0)
		return fail(err, -rc, xasprintf("telemetry: cannot start the sampler thread: %s", strerror(rc)));
	t->th_started = 1;
	if (s->metrics)
		dp_metrics_add_extra(s->metrics, render_metrics, t);
	/* first look right away, not one interval later */
	event_active(t->tick, EV_TIMEOUT, 0);
	return 0;
}

void dp_telemetry_detach(struct dp_server *s)
{
	struct dp_telemetry *t = s->telemetry;
	if (!t)
		return;
	s->telemetry = NULL;
	if (s->metrics)
		dp_metrics_remove_extra(s->metrics, t);
	if (t->th_started) {
		pthread_mutex_lock(&t->mu);
		t->stop = 1;
		pthread_cond_broadcast(&t->cv);
		pthread_mutex_unlock(&t->mu);
		pthread_join(t->th, NULL);
		pthread_mutex_destroy(&t->mu);
		pthread_cond_destroy(&t->cv);
	}
	if (t->tick)
		event_free(t->tick);
	if (t->pipe_ev)
		event_free(t->pipe_ev);
	if (t->pipefd[0] >= 0)
		close(t->pipefd[0]);
	if (t->pipefd[1] >= 0)
		close(t->pipefd[1]);
	for (size_t i = 0; i < t->nt; i++) {
		struct ttarget *tt = t->t[i];
		if (tt->req || tt->sreq) {
			/* upstream still alive (detach before dp_upstream_free):
			 * the last on_done frees the target */
			tt->gone = 1;
			if (tt->req)
				dp_upstream_abort(tt->req);
			if (tt->sreq)
				dp_upstream_abort(tt->sreq);
		} else {
			free_target(tt);
		}
	}
	free(t->t);
	free(t->pending.s);
	free(t->local);
	dp_alerts_free(t->alerts);
	free(t->nvml_library);
	free(t->sysfs_root);
	free(t->procfs_root);
	free(t);
}
