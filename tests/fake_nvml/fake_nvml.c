/*
 * fake_nvml.c - a stand-in libnvidia-ml.so.1 for tests and benchmarks on
 * machines without an NVIDIA GPU. It exports the NVML symbols lib/nvml.c
 * binds, with the documented signatures and struct layouts, and answers
 * from a scenario file named by FAKE_NVML_SCENARIO (re-read when it
 * changes, checked at init and at every device count, so a test can script
 * a sequence by rewriting the file).
 *
 * Build variants (Makefile block "fake NVML"):
 *   default            every symbol, _v3 process calls (24-byte elements,
 *                      or the scenario's gpuN.procs.stride)
 *   -DFAKE_NVML_OLD_ANY no nvmlInit_v2 / nvmlDeviceGetCount_v2 /
 *                      nvmlDeviceGetMemoryInfo_v2 / _v3 process calls:
 *                      only nvmlInit, the v1 memory call and the _v2 (24 B)
 *                      process calls
 *   + -DFAKE_NVML_OLDEST only the plain 16-byte process calls
 *   -DFAKE_NVML_NEW    no deprecated nvmlDeviceGetTemperature (only the
 *                      versioned nvmlDeviceGetTemperatureV)
 *
 * Scenario lines `key=value` (# comments):
 *   init=RC  count=N  driver=STR
 *   gpuN.name= .uuid= .pci=            strings
 *   gpuN.mem.total= .used= .free= .reserved=   bytes
 *   gpuN.util.gpu= .util.mem=  gpuN.temp=  gpuN.power= (mW) gpuN.power_limit= (mW)
 *   gpuN.fan= (%)  gpuN.clock.graphics= .clock.sm= .clock.mem= (MHz)
 *   gpuN.procs=PID:BYTES,...   gpuN.gprocs=...  (BYTES may be NA = not available)
 *   gpuN.procs.first_count=K   the size query reports K (the list "grows" after)
 *   gpuN.procs.stride=16|24|32 element size _v3 writes (a driver-bug emulation)
 *   gpuN.procs.detail=1        nvmlDeviceGetRunningProcessDetailList answers
 *                              (else NOT_SUPPORTED, as on pre-Hopper GPUs)
 *   gpuN.handle=RC  gpuN.mem=RC     force a return code
 * A value NOT_SUPPORTED (or a missing key) answers NVML_ERROR_NOT_SUPPORTED.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define NS 3 /* NOT_SUPPORTED */
#define INSUFF 7
#define MAXG 16
#define MAXP 64

typedef int nvmlReturn_t;
typedef struct nvmlDevice_st *nvmlDevice_t;

struct num { int rc; unsigned long long v; };
struct str { int rc; char s[128]; };
struct proc { unsigned pid; unsigned long long used; };
struct fgpu {
	struct str name, uuid, pci;
	struct num total, used, free, reserved, ugpu, umem, temp, power, plimit, fan, cg, csm, cmem, handle, mem;
	struct proc cp[MAXP], gp[MAXP];
	int ncp, ngp, has_cp, has_gp;
	int first_count, first_count_used, stride;
	int detail; /* nvmlDeviceGetRunningProcessDetailList supported */
};
static struct {
	int init_rc;
	struct num count;
	char driver[80];
	struct fgpu g[MAXG];
	time_t mtime;
	off_t size;
	long mtime_ns;
	int loaded;
} S;

static void unset_num(struct num *n) { n->rc = NS; n->v = 0; }

static void set_num(struct num *n, const char *v)
{
	if (!strcmp(v, "NOT_SUPPORTED")) {
		n->rc = NS;
		return;
	}
	n->rc = 0;
	n->v = strtoull(v, NULL, 0);
}

static void set_rc(struct num *n, const char *v) { n->rc = (int)strtol(v, NULL, 0); }

static void set_str(struct str *s, const char *v)
{
	if (!strcmp(v, "NOT_SUPPORTED")) {
		s->rc = NS;
		return;
	}
	s->rc = 0;
	snprintf(s->s, sizeof(s->s), "%s", v);
}

static int parse_procs(struct proc *p, const char *v)
{
	int n = 0;
	const char *q = v;
	while (*q && n < MAXP) {
		char *end;
		unsigned long pid = strtoul(q, &end, 10);
		if (*end != ':')
			break;
		q = end + 1;
		if (!strncmp(q, "NA", 2)) {
			p[n].used = ~0ULL;
			q += 2;
		} else {
			p[n].used = strtoull(q, &end, 10);
			q = end;
		}
		p[n].pid = (unsigned)pid;
		n++;
		if (*q == ',')
			q++;
		else
			break;
	}
	return n;
}

static void reset(void)
{
	memset(&S.g, 0, sizeof(S.g));
	S.init_rc = 0;
	S.count.rc = 0;
	S.count.v = 0;
	snprintf(S.driver, sizeof(S.driver), "560.35.03-fake");
	for (int i = 0; i < MAXG; i++) {
		struct fgpu *g = &S.g[i];
		g->name.rc = g->uuid.rc = g->pci.rc = NS;
		struct num *nums[] = { &g->total, &g->used, &g->free, &g->reserved, &g->ugpu, &g->umem, &g->temp,
				       &g->power, &g->plimit, &g->fan, &g->cg, &g->csm, &g->cmem };
		for (size_t k = 0; k < sizeof(nums) / sizeof(nums[0]); k++)
			unset_num(nums[k]);
		g->handle.rc = 0;
		g->mem.rc = -1; /* not forced */
		g->first_count = -1;
		g->stride = 24;
	}
}

static void apply(char *key, char *val)
{
	if (!strcmp(key, "init")) {
		S.init_rc = (int)strtol(val, NULL, 0);
		return;
	}
	if (!strcmp(key, "count")) {
		set_num(&S.count, val);
		return;
	}
	if (!strcmp(key, "driver")) {
		snprintf(S.driver, sizeof(S.driver), "%s", val);
		return;
	}
	if (strncmp(key, "gpu", 3) != 0)
		return;
	char *end;
	long i = strtol(key + 3, &end, 10);
	if (i < 0 || i >= MAXG || *end != '.')
		return;
	struct fgpu *g = &S.g[i];
	const char *k = end + 1;
	static const struct { const char *k; size_t off; } nk[] = {
		{ "mem.total", offsetof(struct fgpu, total) }, { "mem.used", offsetof(struct fgpu, used) },
		{ "mem.free", offsetof(struct fgpu, free) }, { "mem.reserved", offsetof(struct fgpu, reserved) },
		{ "util.gpu", offsetof(struct fgpu, ugpu) }, { "util.mem", offsetof(struct fgpu, umem) },
		{ "temp", offsetof(struct fgpu, temp) }, { "power", offsetof(struct fgpu, power) },
		{ "power_limit", offsetof(struct fgpu, plimit) }, { "fan", offsetof(struct fgpu, fan) },
		{ "clock.graphics", offsetof(struct fgpu, cg) }, { "clock.sm", offsetof(struct fgpu, csm) },
		{ "clock.mem", offsetof(struct fgpu, cmem) },
	};
	for (size_t j = 0; j < sizeof(nk) / sizeof(nk[0]); j++)
		if (!strcmp(k, nk[j].k)) {
			set_num((struct num *)((char *)g + nk[j].off), val);
			return;
		}
	if (!strcmp(k, "name"))
		set_str(&g->name, val);
	else if (!strcmp(k, "uuid"))
		set_str(&g->uuid, val);
	else if (!strcmp(k, "pci"))
		set_str(&g->pci, val);
	else if (!strcmp(k, "handle"))
		set_rc(&g->handle, val);
	else if (!strcmp(k, "mem"))
		set_rc(&g->mem, val);
	else if (!strcmp(k, "procs")) {
		g->has_cp = strcmp(val, "NOT_SUPPORTED") != 0;
		g->ncp = g->has_cp ? parse_procs(g->cp, val) : 0;
	} else if (!strcmp(k, "gprocs")) {
		g->has_gp = strcmp(val, "NOT_SUPPORTED") != 0;
		g->ngp = g->has_gp ? parse_procs(g->gp, val) : 0;
	} else if (!strcmp(k, "procs.first_count"))
		g->first_count = (int)strtol(val, NULL, 10);
	else if (!strcmp(k, "procs.stride"))
		g->stride = (int)strtol(val, NULL, 10);
	else if (!strcmp(k, "procs.detail"))
		g->detail = (int)strtol(val, NULL, 10);
}

/* (Re)load the scenario when its file changed. */
static void load(void)
{
	const char *path = getenv("FAKE_NVML_SCENARIO");
	struct stat st;
	if (!path || stat(path, &st) < 0) {
		if (!S.loaded) {
			reset();
			S.loaded = 1;
		}
		return;
	}
	if (S.loaded && st.st_mtime == S.mtime && st.st_mtim.tv_nsec == S.mtime_ns && st.st_size == S.size)
		return;
	FILE *f = fopen(path, "r");
	if (!f)
		return;
	reset();
	char line[4096];
	while (fgets(line, sizeof(line), f)) {
		char *p = line;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '#' || *p == '\n' || !*p)
			continue;
		p[strcspn(p, "\r\n")] = '\0';
		char *eq = strchr(p, '=');
		if (!eq)
			continue;
		*eq = '\0';
		apply(p, eq + 1);
	}
	fclose(f);
	S.mtime = st.st_mtime;
	S.mtime_ns = st.st_mtim.tv_nsec;
	S.size = st.st_size;
	S.loaded = 1;
}

static struct fgpu *dev(nvmlDevice_t d)
{
	uintptr_t i = (uintptr_t)d;
	if (i < 1 || i > MAXG || i > S.count.v)
		return NULL;
	return &S.g[i - 1];
}

#define EXPORT __attribute__((visibility("default")))

static nvmlReturn_t do_init(void)
{
	S.loaded = 0;
	load();
	return S.init_rc;
}
EXPORT nvmlReturn_t nvmlInit(void) { return do_init(); }
#ifndef FAKE_NVML_OLD_ANY
EXPORT nvmlReturn_t nvmlInit_v2(void) { return do_init(); }
#endif
EXPORT nvmlReturn_t nvmlShutdown(void) { return 0; }
EXPORT const char *nvmlErrorString(nvmlReturn_t r)
{
	switch (r) {
	case 0: return "Success";
	case 3: return "Not Supported";
	case 7: return "Insufficient Size";
	case 9: return "Driver Not Loaded";
	default: return "Unknown Error";
	}
}
EXPORT nvmlReturn_t nvmlSystemGetDriverVersion(char *v, unsigned len)
{
	snprintf(v, len, "%s", S.driver);
	return 0;
}
static nvmlReturn_t do_count(unsigned *c)
{
	load();
	if (S.count.rc)
		return S.count.rc;
	*c = (unsigned)(S.count.v > MAXG ? MAXG : S.count.v);
	return 0;
}
EXPORT nvmlReturn_t nvmlDeviceGetCount(unsigned *c) { return do_count(c); }
#ifndef FAKE_NVML_OLD_ANY
EXPORT nvmlReturn_t nvmlDeviceGetCount_v2(unsigned *c) { return do_count(c); }
#endif
static nvmlReturn_t do_handle(unsigned i, nvmlDevice_t *d)
{
	if (i >= S.count.v || i >= MAXG)
		return 2; /* INVALID_ARGUMENT */
	if (S.g[i].handle.rc)
		return S.g[i].handle.rc;
	*d = (nvmlDevice_t)(uintptr_t)(i + 1);
	return 0;
}
EXPORT nvmlReturn_t nvmlDeviceGetHandleByIndex(unsigned i, nvmlDevice_t *d) { return do_handle(i, d); }
EXPORT nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned i, nvmlDevice_t *d) { return do_handle(i, d); }

static nvmlReturn_t out_str(const struct str *s, char *buf, unsigned len)
{
	if (s->rc)
		return s->rc;
	if (strlen(s->s) + 1 > len)
		return INSUFF;
	snprintf(buf, len, "%s", s->s);
	return 0;
}
EXPORT nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t d, char *b, unsigned l)
{
	struct fgpu *g = dev(d);
	return g ? out_str(&g->name, b, l) : 2;
}
EXPORT nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t d, char *b, unsigned l)
{
	struct fgpu *g = dev(d);
	return g ? out_str(&g->uuid, b, l) : 2;
}

struct pci { char busIdLegacy[16]; unsigned domain, bus, device, pciDeviceId, pciSubSystemId; char busId[32]; };
EXPORT nvmlReturn_t nvmlDeviceGetPciInfo_v3(nvmlDevice_t d, struct pci *p)
{
	struct fgpu *g = dev(d);
	if (!g)
		return 2;
	if (g->pci.rc)
		return g->pci.rc;
	memset(p, 0, sizeof(*p));
	snprintf(p->busId, sizeof(p->busId), "%.31s", g->pci.s);
	p->pciDeviceId = 0x268410de;
	return 0;
}

struct mem1 { unsigned long long total, free, used; };
struct mem2 { unsigned version; unsigned long long total, reserved, free, used; };
EXPORT nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t d, struct mem1 *m)
{
	struct fgpu *g = dev(d);
	if (!g)
		return 2;
	if (g->mem.rc >= 0)
		return g->mem.rc;
	if (g->total.rc)
		return g->total.rc;
	m->total = g->total.v;
	m->used = g->used.v + g->reserved.v; /* v1 "used" includes the reserve */
	m->free = g->free.v;
	return 0;
}
#ifndef FAKE_NVML_OLD_ANY
EXPORT nvmlReturn_t nvmlDeviceGetMemoryInfo_v2(nvmlDevice_t d, struct mem2 *m)
{
	struct fgpu *g = dev(d);
	if (!g)
		return 2;
	if (m->version != ((unsigned)sizeof(struct mem2) | (2u << 24)))
		return 25; /* ARGUMENT_VERSION_MISMATCH */
	if (g->mem.rc >= 0)
		return g->mem.rc;
	if (g->total.rc)
		return g->total.rc;
	m->total = g->total.v;
	m->used = g->used.v;
	m->free = g->free.v;
	m->reserved = g->reserved.v;
	return 0;
}
#endif

struct util { unsigned gpu, memory; };
EXPORT nvmlReturn_t nvmlDeviceGetUtilizationRates(nvmlDevice_t d, struct util *u)
{
	struct fgpu *g = dev(d);
	if (!g)
		return 2;
	if (g->ugpu.rc)
		return g->ugpu.rc;
	u->gpu = (unsigned)g->ugpu.v;
	u->memory = g->umem.rc ? 0 : (unsigned)g->umem.v;
	return 0;
}

static nvmlReturn_t out_num(const struct num *n, unsigned *v)
{
	if (n->rc)
		return n->rc;
	*v = (unsigned)n->v;
	return 0;
}
#ifndef FAKE_NVML_NEW
EXPORT nvmlReturn_t nvmlDeviceGetTemperature(nvmlDevice_t d, int sensor, unsigned *v)
{
	struct fgpu *g = dev(d);
	return g ? (sensor == 0 ? out_num(&g->temp, v) : NS) : 2;
}
#endif
struct tempv { unsigned version; int sensorType; int temperature; };
EXPORT nvmlReturn_t nvmlDeviceGetTemperatureV(nvmlDevice_t d, struct tempv *t)
{
	struct fgpu *g = dev(d);
	if (!g)
		return 2;
	if (t->version != ((unsigned)sizeof(struct tempv) | (1u << 24)))
		return 25; /* ARGUMENT_VERSION_MISMATCH */
	if (t->sensorType != 0)
		return NS;
	unsigned v;
	nvmlReturn_t rc = out_num(&g->temp, &v);
	if (rc == 0)
		t->temperature = (int)v;
	return rc;
}
EXPORT nvmlReturn_t nvmlDeviceGetPowerUsage(nvmlDevice_t d, unsigned *v)
{
	struct fgpu *g = dev(d);
	return g ? out_num(&g->power, v) : 2;
}
EXPORT nvmlReturn_t nvmlDeviceGetEnforcedPowerLimit(nvmlDevice_t d, unsigned *v)
{
	struct fgpu *g = dev(d);
	return g ? out_num(&g->plimit, v) : 2;
}
EXPORT nvmlReturn_t nvmlDeviceGetFanSpeed(nvmlDevice_t d, unsigned *v)
{
	struct fgpu *g = dev(d);
	return g ? out_num(&g->fan, v) : 2;
}
EXPORT nvmlReturn_t nvmlDeviceGetClockInfo(nvmlDevice_t d, int type, unsigned *v)
{
	struct fgpu *g = dev(d);
	if (!g)
		return 2;
	switch (type) {
	case 0: return out_num(&g->cg, v);
	case 1: return out_num(&g->csm, v);
	case 2: return out_num(&g->cmem, v);
	default: return NS;
	}
}

/* Write `n` entries with `stride` bytes each (16: v1, 24: v2/v3, 32: the
 * 530-535 _v3 layout with usedGpuCcProtectedMemory). */
static nvmlReturn_t procs(struct fgpu *g, int graphics, unsigned *count, void *buf, int stride)
{
	const struct proc *p = graphics ? g->gp : g->cp;
	int n = graphics ? g->ngp : g->ncp;
	if (!(graphics ? g->has_gp : g->has_cp))
		return NS;
	if (!buf || *count == 0) {
		unsigned c = (unsigned)n;
		if (!graphics && g->first_count >= 0 && !g->first_count_used) {
			c = (unsigned)g->first_count;
			g->first_count_used = 1;
		}
		*count = c;
		return n == 0 ? 0 : INSUFF;
	}
	if (*count < (unsigned)n) {
		*count = (unsigned)n;
		return INSUFF;
	}
	unsigned char *b = buf;
	for (int i = 0; i < n; i++) {
		unsigned char *e = b + (size_t)i * (size_t)stride;
		memset(e, 0, (size_t)stride);
		memcpy(e, &p[i].pid, 4);
		memcpy(e + 8, &p[i].used, 8);
		if (stride >= 24) {
			unsigned none = 0xFFFFFFFFu;
			memcpy(e + 16, &none, 4);
			memcpy(e + 20, &none, 4);
		}
	}
	*count = (unsigned)n;
	return 0;
}
#define PROCS_FN(name, graphics, stride_expr)                                  \
	EXPORT nvmlReturn_t name(nvmlDevice_t d, unsigned *count, void *buf)   \
	{                                                                      \
		struct fgpu *g = dev(d);                                       \
		if (!g)                                                        \
			return 2;                                              \
		return procs(g, graphics, count, buf, stride_expr);            \
	}
#if !defined(FAKE_NVML_OLD_ANY)
PROCS_FN(nvmlDeviceGetComputeRunningProcesses_v3, 0, g->stride)
PROCS_FN(nvmlDeviceGetGraphicsRunningProcesses_v3, 1, g->stride)
#endif
#if !defined(FAKE_NVML_OLDEST)
PROCS_FN(nvmlDeviceGetComputeRunningProcesses_v2, 0, 24)
PROCS_FN(nvmlDeviceGetGraphicsRunningProcesses_v2, 1, 24)
#endif
PROCS_FN(nvmlDeviceGetComputeRunningProcesses, 0, 16)
PROCS_FN(nvmlDeviceGetGraphicsRunningProcesses, 1, 16)

struct pdetail { unsigned pid; unsigned long long used; unsigned gi, ci; unsigned long long cc; };
struct pdlist { unsigned version, mode, num; struct pdetail *arr; };
#ifndef FAKE_NVML_OLD_ANY
EXPORT nvmlReturn_t nvmlDeviceGetRunningProcessDetailList(nvmlDevice_t d, struct pdlist *l)
{
	struct fgpu *g = dev(d);
	if (!g)
		return 2;
	if (!g->detail)
		return NS;
	if (l->version != ((unsigned)sizeof(struct pdlist) | (1u << 24)))
		return 25;
	if (l->mode > 1)
		return NS;
	const struct proc *p = l->mode ? g->gp : g->cp;
	unsigned n = (unsigned)(l->mode ? g->ngp : g->ncp);
	if (!(l->mode ? g->has_gp : g->has_cp))
		return NS;
	if (!l->arr || l->num < n) {
		l->num = n;
		return n == 0 ? 0 : INSUFF;
	}
	for (unsigned i = 0; i < n; i++) {
		l->arr[i].pid = p[i].pid;
		l->arr[i].used = p[i].used;
		l->arr[i].gi = l->arr[i].ci = 0xFFFFFFFFu;
		l->arr[i].cc = 0;
	}
	l->num = n;
	return 0;
}
#endif
