/*
 * nvml.c - NVML through dlopen with our own declarations (see nvml.h).
 *
 * The struct layouts below are the documented NVML ABI (nvml.h, NVML API
 * 12/13), written out here so the build needs no NVIDIA package: the
 * utilisation pair, the v1 and v2 memory structs (v2 carries a version
 * word, NVML_STRUCT_VERSION(Memory, 2) = sizeof | 2 << 24, and `reserved`),
 * the PCI info struct and the process-info elements (16-byte v1, 24-byte
 * v2/v3, and the 32-byte layout some 530-535 drivers wrote through _v3
 * without a symbol bump).
 *
 * Process lists: size query with a NULL buffer, then a buffer of count + 4
 * elements of 32 bytes (the largest stride ever used); NVML may answer
 * INSUFFICIENT_SIZE again when the list grew in between, so retry with the
 * count it reports (a few times). usedGpuMemory == NVML_VALUE_NOT_AVAILABLE
 * (~0ULL) marks a process whose size the driver hides.
 */
#include "nvml.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xmalloc.h"

typedef int nvml_ret;
typedef struct nvmlDevice_st *nvml_dev;

struct nvml_util {
	unsigned int gpu, memory;
};
struct nvml_mem_v1 {
	unsigned long long total, free, used;
};
struct nvml_mem_v2 {
	unsigned int version;
	unsigned long long total, reserved, free, used;
};
struct nvml_proc_detail {
	unsigned int pid;
	unsigned long long usedGpuMemory;
	unsigned int gpuInstanceId, computeInstanceId;
	unsigned long long usedGpuCcProtectedMemory;
};
struct nvml_proc_detail_list {
	unsigned int version, mode, numProcArrayEntries;
	struct nvml_proc_detail *procArray;
};
struct nvml_temp_v1 {
	unsigned int version;
	int sensorType;
	int temperature;
};
struct nvml_pci {
	char busIdLegacy[16];
	unsigned int domain, bus, device, pciDeviceId, pciSubSystemId;
	char busId[32];
};

#define NVML_VALUE_NOT_AVAILABLE    (~0ULL)
#define NVML_MEMORY_V2              ((unsigned int)(sizeof(struct nvml_mem_v2) | (2u << 24)))
#define NVML_PROCESS_DETAIL_LIST_V1 ((unsigned int)(sizeof(struct nvml_proc_detail_list) | (1u << 24)))
#define NVML_PROCESS_MODE_COMPUTE   0
#define NVML_PROCESS_MODE_GRAPHICS  1
#define NVML_TEMPERATURE_GPU        0
#define NVML_TEMPERATURE_V1         ((unsigned int)(sizeof(struct nvml_temp_v1) | (1u << 24)))
#define NVML_CLOCK_GRAPHICS         0
#define NVML_CLOCK_SM               1
#define NVML_CLOCK_MEM              2
#define MAX_STRIDE                  32
#define PROC_RETRIES                4

typedef nvml_ret (*fn_void)(void);
typedef const char *(*fn_errstr)(nvml_ret);
typedef nvml_ret (*fn_uintp)(unsigned int *);
typedef nvml_ret (*fn_handle)(unsigned int, nvml_dev *);
typedef nvml_ret (*fn_str)(nvml_dev, char *, unsigned int);
typedef nvml_ret (*fn_sysstr)(char *, unsigned int);
typedef nvml_ret (*fn_pci)(nvml_dev, struct nvml_pci *);
typedef nvml_ret (*fn_mem1)(nvml_dev, struct nvml_mem_v1 *);
typedef nvml_ret (*fn_mem2)(nvml_dev, struct nvml_mem_v2 *);
typedef nvml_ret (*fn_util)(nvml_dev, struct nvml_util *);
typedef nvml_ret (*fn_temp)(nvml_dev, int, unsigned int *);
typedef nvml_ret (*fn_tempv)(nvml_dev, struct nvml_temp_v1 *);
typedef nvml_ret (*fn_devuint)(nvml_dev, unsigned int *);
typedef nvml_ret (*fn_clock)(nvml_dev, int, unsigned int *);
typedef nvml_ret (*fn_procs)(nvml_dev, unsigned int *, void *);
typedef nvml_ret (*fn_detail)(nvml_dev, struct nvml_proc_detail_list *);

struct dp_nvml {
	void *dl;
	fn_void shutdown;
	fn_errstr errstr;
	fn_uintp count;
	fn_handle handle;
	fn_str name, uuid;
	fn_pci pci;
	fn_mem1 mem1;
	fn_mem2 mem2;
	fn_util util;
	fn_temp temp;
	fn_tempv tempv; /* nvmlDeviceGetTemperatureV: when the deprecated call is gone */
	fn_devuint power, power_limit, fan;
	fn_clock clock;
	fn_procs cprocs, gprocs;
	fn_detail detail;            /* nvmlDeviceGetRunningProcessDetailList (versioned, newer drivers) */
	int last_detail;             /* the last list came from it */
	unsigned procs_fixed_stride; /* 16 or 24 for the old symbols, 0: probe (_v3) */
	const char *procs_sym, *mem_sym;
	unsigned last_stride;
	char driver[96];
	unsigned char *pbuf; /* process buffer, grown as needed */
	size_t pbuf_elems;
};

static const char *const ret_names[] = {
        "SUCCESS",
        "UNINITIALIZED",
        "INVALID_ARGUMENT",
        "NOT_SUPPORTED",
        "NO_PERMISSION",
        "ALREADY_INITIALIZED",
        "NOT_FOUND",
        "INSUFFICIENT_SIZE",
        "INSUFFICIENT_POWER",
        "DRIVER_NOT_LOADED",
        "TIMEOUT",
        "IRQ_ISSUE",
        "LIBRARY_NOT_FOUND",
        "FUNCTION_NOT_FOUND",
        "CORRUPTED_INFOROM",
        "GPU_IS_LOST",
        "RESET_REQUIRED",
        "OPERATING_SYSTEM",
        "LIB_RM_VERSION_MISMATCH",
        "IN_USE",
        "MEMORY",
        "NO_DATA",
        "VGPU_ECC_NOT_SUPPORTED",
        "INSUFFICIENT_RESOURCES",
        "FREQ_NOT_SUPPORTED",
        "ARGUMENT_VERSION_MISMATCH",
        "DEPRECATED",
        "NOT_READY",
        "GPU_NOT_FOUND",
        "INVALID_STATE",
        "RESET_TYPE_NOT_SUPPORTED",
};

const char *dp_nvml_return_name(int rc)
{
	if (rc >= 0 && (size_t)rc < sizeof(ret_names) / sizeof(ret_names[0]))
		return ret_names[rc];
	return "UNKNOWN";
}

static void seterr(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
	if (!err || !errlen)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* dlsym of the first name that exists; *which gets it. */
static void *sym(void *dl, const char **which, const char *a, const char *b, const char *c)
{
	const char *names[3] = {a, b, c};
	for (int i = 0; i < 3; i++) {
		if (!names[i])
			continue;
		void *p = dlsym(dl, names[i]);
		if (p) {
			if (which)
				*which = names[i];
			return p;
		}
	}
	return NULL;
}

int dp_nvml_open(struct dp_nvml **out, const char *path, int *nvml_rc, char *err, size_t errlen)
{
	*out = NULL;
	if (nvml_rc)
		*nvml_rc = 0;
	if (!path || !*path)
		path = DP_NVML_DEFAULT_LIBRARY;
	dlerror();
	void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!dl) {
		const char *e = dlerror();
		seterr(err, errlen, "cannot load %s: %s", path, e ? e : "unknown error");
		return -ENOENT;
	}
	struct dp_nvml *n = xcalloc(1, sizeof(*n));
	n->dl = dl;
	const char *init_sym = NULL;
	fn_void init = (fn_void)sym(dl, &init_sym, "nvmlInit_v2", "nvmlInit", NULL);
	n->shutdown = (fn_void)sym(dl, NULL, "nvmlShutdown", NULL, NULL);
	n->errstr = (fn_errstr)sym(dl, NULL, "nvmlErrorString", NULL, NULL);
	n->count = (fn_uintp)sym(dl, NULL, "nvmlDeviceGetCount_v2", "nvmlDeviceGetCount", NULL);
	n->handle = (fn_handle)sym(dl, NULL, "nvmlDeviceGetHandleByIndex_v2", "nvmlDeviceGetHandleByIndex", NULL);
	if (!init || !n->count || !n->handle) {
		seterr(err, errlen, "%s lacks %s", path,
		       !init       ? "nvmlInit_v2"
		       : !n->count ? "nvmlDeviceGetCount_v2"
		                   : "nvmlDeviceGetHandleByIndex_v2");
		dlclose(dl);
		free(n);
		return -ENOSYS;
	}
	n->name = (fn_str)sym(dl, NULL, "nvmlDeviceGetName", NULL, NULL);
	n->uuid = (fn_str)sym(dl, NULL, "nvmlDeviceGetUUID", NULL, NULL);
	n->pci = (fn_pci)sym(dl, NULL, "nvmlDeviceGetPciInfo_v3", "nvmlDeviceGetPciInfo_v2", "nvmlDeviceGetPciInfo");
	n->mem2 = (fn_mem2)sym(dl, &n->mem_sym, "nvmlDeviceGetMemoryInfo_v2", NULL, NULL);
	n->mem1 = (fn_mem1)sym(dl, n->mem2 ? NULL : &n->mem_sym, "nvmlDeviceGetMemoryInfo", NULL, NULL);
	n->util = (fn_util)sym(dl, NULL, "nvmlDeviceGetUtilizationRates", NULL, NULL);
	n->temp = (fn_temp)sym(dl, NULL, "nvmlDeviceGetTemperature", NULL, NULL);
	if (!n->temp)
		n->tempv = (fn_tempv)sym(dl, NULL, "nvmlDeviceGetTemperatureV", NULL, NULL);
	n->power = (fn_devuint)sym(dl, NULL, "nvmlDeviceGetPowerUsage", NULL, NULL);
	n->power_limit =
	        (fn_devuint)sym(dl, NULL, "nvmlDeviceGetEnforcedPowerLimit", "nvmlDeviceGetPowerManagementLimit", NULL);
	n->fan = (fn_devuint)sym(dl, NULL, "nvmlDeviceGetFanSpeed", NULL, NULL);
	n->clock = (fn_clock)sym(dl, NULL, "nvmlDeviceGetClockInfo", NULL, NULL);
	n->detail = (fn_detail)dlsym(dl, "nvmlDeviceGetRunningProcessDetailList");
	/* processes: _v3 (stride probed), _v2 (24 bytes), plain (16 bytes) */
	if ((n->cprocs = (fn_procs)dlsym(dl, "nvmlDeviceGetComputeRunningProcesses_v3"))) {
		n->procs_sym = "nvmlDeviceGetComputeRunningProcesses_v3";
		n->gprocs = (fn_procs)dlsym(dl, "nvmlDeviceGetGraphicsRunningProcesses_v3");
		n->procs_fixed_stride = 0;
	} else if ((n->cprocs = (fn_procs)dlsym(dl, "nvmlDeviceGetComputeRunningProcesses_v2"))) {
		n->procs_sym = "nvmlDeviceGetComputeRunningProcesses_v2";
		n->gprocs = (fn_procs)dlsym(dl, "nvmlDeviceGetGraphicsRunningProcesses_v2");
		n->procs_fixed_stride = 24;
	} else if ((n->cprocs = (fn_procs)dlsym(dl, "nvmlDeviceGetComputeRunningProcesses"))) {
		n->procs_sym = "nvmlDeviceGetComputeRunningProcesses";
		n->gprocs = (fn_procs)dlsym(dl, "nvmlDeviceGetGraphicsRunningProcesses");
		n->procs_fixed_stride = 16;
	}

	nvml_ret rc = init();
	if (rc != 0) {
		if (nvml_rc)
			*nvml_rc = rc;
		const char *s = n->errstr ? n->errstr(rc) : NULL;
		seterr(err, errlen, "%s failed: %s (%s)", init_sym, dp_nvml_return_name(rc), s ? s : "no description");
		dlclose(dl);
		free(n);
		return -EIO;
	}
	fn_sysstr drv = (fn_sysstr)dlsym(dl, "nvmlSystemGetDriverVersion");
	if (drv && drv(n->driver, sizeof(n->driver)) != 0)
		n->driver[0] = '\0';
	n->driver[sizeof(n->driver) - 1] = '\0';
	*out = n;
	return 0;
}

void dp_nvml_close(struct dp_nvml *n)
{
	if (!n)
		return;
	if (n->shutdown)
		n->shutdown();
	dlclose(n->dl);
	free(n->pbuf);
	free(n);
}

int dp_nvml_count(struct dp_nvml *n, unsigned *count, char *err, size_t errlen)
{
	unsigned c = 0;
	nvml_ret rc = n->count(&c);
	if (rc != 0) {
		seterr(err, errlen, "nvmlDeviceGetCount failed: %s", dp_nvml_return_name(rc));
		return -EIO;
	}
	*count = c;
	return 0;
}

const char *dp_nvml_procs_symbol(const struct dp_nvml *n)
{
	return n->procs_sym ? n->procs_sym : "";
}
const char *dp_nvml_memory_symbol(const struct dp_nvml *n)
{
	return n->mem_sym ? n->mem_sym : "";
}
unsigned dp_nvml_last_stride(const struct dp_nvml *n)
{
	return n->last_stride;
}
const char *dp_nvml_driver_version(const struct dp_nvml *n)
{
	return n->driver;
}

/* Copy an NVML string into dst, making sure it is terminated and printable. */
static void copy_str(char *dst, size_t dstlen, const char *src)
{
	size_t i = 0;
	for (; i + 1 < dstlen && src[i]; i++)
		dst[i] = (src[i] >= 0x20 && src[i] < 0x7f) ? src[i] : '?';
	dst[i] = '\0';
}

static uint32_t rd32(const unsigned char *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}
static uint64_t rd64(const unsigned char *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}

static int plausible(const unsigned char *e, unsigned stride, unsigned long long mem_total)
{
	uint32_t pid = rd32(e);
	uint64_t used = rd64(e + 8);
	if (pid == 0 || pid > 4194304)
		return 0;
	if (used != NVML_VALUE_NOT_AVAILABLE && mem_total && used > mem_total)
		return 0;
	if (stride >= 24) {
		uint32_t gi = rd32(e + 16), ci = rd32(e + 20);
		if ((gi != 0xFFFFFFFFu && gi > 64) || (ci != 0xFFFFFFFFu && ci > 64))
			return 0;
	}
	return 1;
}

unsigned dp_nvml_probe_stride(const unsigned char *buf, unsigned count, unsigned long long mem_total)
{
	static const unsigned strides[] = {24, 32, 16};
	for (int s = 0; s < 3; s++) {
		unsigned st = strides[s];
		unsigned ok = 1;
		for (unsigned i = 0; i < count && ok; i++)
			ok = plausible(buf + (size_t)i * st, st, mem_total);
		if (ok)
			return st;
	}
	return 24;
}

static void add_proc(struct dp_gpu *g, uint32_t pid, uint64_t used)
{
	int known = used != NVML_VALUE_NOT_AVAILABLE;
	for (int i = 0; i < g->nprocs; i++) {
		if (g->procs[i].pid != pid)
			continue;
		/* listed as compute and graphics: one allocation, keep the larger */
		if (known && (!g->procs[i].used_known || used > g->procs[i].used)) {
			g->procs[i].used = used;
			g->procs[i].used_known = 1;
		}
		return;
	}
	if (g->nprocs >= DP_GPU_MAX_PROCS) {
		g->procs_truncated = 1;
		return;
	}
	struct dp_gpu_proc *p = &g->procs[g->nprocs++];
	p->pid = pid;
	p->used_known = known;
	p->used = known ? used : 0;
}

/* One process list call with the size query and the retry; 0, 1 when not
 * supported, -1 on another error. */
static int read_procs(struct dp_nvml *n, fn_procs f, nvml_dev d, struct dp_gpu *g, unsigned long long mem_total)
{
	unsigned cnt = 0;
	nvml_ret rc = f(d, &cnt, NULL);
	if (rc == 0)
		return 0; /* none running */
	if (rc == DP_NVML_ERROR_NOT_SUPPORTED)
		return 1;
	if (rc != DP_NVML_ERROR_INSUFFICIENT_SIZE)
		return -1;
	for (int attempt = 0; attempt < PROC_RETRIES; attempt++) {
		if (cnt > 4096)
			return -1;
		size_t want = (size_t)cnt + 4;
		if (want > n->pbuf_elems) {
			n->pbuf = xrealloc(n->pbuf, want * MAX_STRIDE);
			n->pbuf_elems = want;
		}
		memset(n->pbuf, 0, n->pbuf_elems * MAX_STRIDE);
		/* the element count we offer: what fits if the stride were the
		 * largest one, so a 32-byte writer cannot overrun the buffer */
		unsigned offer = (unsigned)n->pbuf_elems;
		unsigned got = offer;
		rc = f(d, &got, n->pbuf);
		if (rc == DP_NVML_ERROR_INSUFFICIENT_SIZE) {
			cnt = got > cnt ? got : cnt + 8; /* the list grew: retry bigger */
			continue;
		}
		if (rc != 0)
			return rc == DP_NVML_ERROR_NOT_SUPPORTED ? 1 : -1;
		if (got > offer)
			got = offer;
		unsigned stride =
		        n->procs_fixed_stride ? n->procs_fixed_stride : dp_nvml_probe_stride(n->pbuf, got, mem_total);
		n->last_stride = stride;
		for (unsigned i = 0; i < got; i++) {
			const unsigned char *e = n->pbuf + (size_t)i * stride;
			add_proc(g, rd32(e), rd64(e + 8));
		}
		return 0;
	}
	return -1;
}

/* One nvmlDeviceGetRunningProcessDetailList mode: 0, 1 when not
 * supported, -1 on another error. */
static int read_detail(struct dp_nvml *n, nvml_dev d, struct dp_gpu *g, unsigned mode)
{
	struct nvml_proc_detail_list l;
	memset(&l, 0, sizeof(l));
	l.version = NVML_PROCESS_DETAIL_LIST_V1;
	l.mode = mode;
	nvml_ret rc = n->detail(d, &l);
	if (rc == 0)
		return 0; /* none running */
	if (rc == DP_NVML_ERROR_NOT_SUPPORTED)
		return 1;
	if (rc != DP_NVML_ERROR_INSUFFICIENT_SIZE)
		return -1;
	unsigned cnt = l.numProcArrayEntries;
	for (int attempt = 0; attempt < PROC_RETRIES; attempt++) {
		if (cnt > 4096)
			return -1;
		size_t want = (size_t)cnt + 4;
		struct nvml_proc_detail *arr = xcalloc(want, sizeof(*arr));
		l.version = NVML_PROCESS_DETAIL_LIST_V1;
		l.mode = mode;
		l.numProcArrayEntries = (unsigned)want;
		l.procArray = arr;
		rc = n->detail(d, &l);
		if (rc == DP_NVML_ERROR_INSUFFICIENT_SIZE) {
			cnt = l.numProcArrayEntries > cnt ? l.numProcArrayEntries : cnt + 8;
			free(arr);
			continue;
		}
		if (rc != 0) {
			free(arr);
			return rc == DP_NVML_ERROR_NOT_SUPPORTED ? 1 : -1;
		}
		unsigned got = l.numProcArrayEntries < want ? l.numProcArrayEntries : (unsigned)want;
		for (unsigned i = 0; i < got; i++)
			add_proc(g, arr[i].pid, arr[i].usedGpuMemory);
		free(arr);
		return 0;
	}
	return -1;
}

/* The process list API the last read used. */
const char *dp_nvml_procs_source(const struct dp_nvml *n)
{
	return n->last_detail ? "nvmlDeviceGetRunningProcessDetailList" : dp_nvml_procs_symbol(n);
}

int dp_nvml_read(struct dp_nvml *n, unsigned index, struct dp_gpu *g, char *err, size_t errlen)
{
	memset(g, 0, sizeof(*g));
	g->index = (int)index;
	memcpy(g->vendor, "nvidia", 7);
	nvml_dev d = NULL;
	nvml_ret rc = n->handle(index, &d);
	if (rc != 0) {
		seterr(err, errlen, "gpu %u: nvmlDeviceGetHandleByIndex failed: %s", index, dp_nvml_return_name(rc));
		return -EIO;
	}
	char s[128];
	if (n->name && n->name(d, s, sizeof(s)) == 0) {
		s[sizeof(s) - 1] = '\0';
		copy_str(g->name, sizeof(g->name), s);
		g->have |= DP_GPU_HAVE_NAME;
	}
	if (n->uuid && n->uuid(d, s, sizeof(s)) == 0) {
		s[sizeof(s) - 1] = '\0';
		copy_str(g->uuid, sizeof(g->uuid), s);
		g->have |= DP_GPU_HAVE_UUID;
	}
	struct nvml_pci pci;
	memset(&pci, 0, sizeof(pci));
	if (n->pci && n->pci(d, &pci) == 0) {
		pci.busId[sizeof(pci.busId) - 1] = '\0';
		copy_str(g->pci, sizeof(g->pci), pci.busId);
		g->have |= DP_GPU_HAVE_PCI;
	}

	/* memory: v2 (reserved apart) when exported; v1 on any error but
	 * NOT_SUPPORTED, which means no dedicated framebuffer (iGPU) */
	int mem_done = 0;
	if (n->mem2) {
		struct nvml_mem_v2 m;
		memset(&m, 0, sizeof(m));
		m.version = NVML_MEMORY_V2;
		rc = n->mem2(d, &m);
		if (rc == 0) {
			g->mem_total = m.total;
			g->mem_used = m.used;
			g->mem_free = m.free;
			g->mem_reserved = m.reserved;
			g->have |= DP_GPU_HAVE_MEM_TOTAL | DP_GPU_HAVE_MEM_USED | DP_GPU_HAVE_MEM_FREE |
			           DP_GPU_HAVE_MEM_RESERVED;
			mem_done = 1;
		} else if (rc == DP_NVML_ERROR_NOT_SUPPORTED) {
			g->unified = 1;
			mem_done = 1;
		}
	}
	if (!mem_done) {
		fn_mem1 m1 = n->mem1 ? n->mem1 : (fn_mem1)dlsym(n->dl, "nvmlDeviceGetMemoryInfo");
		struct nvml_mem_v1 m;
		memset(&m, 0, sizeof(m));
		if (m1) {
			rc = m1(d, &m);
			if (rc == 0 && m.total > 0) {
				g->mem_total = m.total;
				g->mem_used = m.used;
				g->mem_free = m.free;
				g->have |= DP_GPU_HAVE_MEM_TOTAL | DP_GPU_HAVE_MEM_USED | DP_GPU_HAVE_MEM_FREE;
			} else if (rc == DP_NVML_ERROR_NOT_SUPPORTED || (rc == 0 && m.total == 0)) {
				g->unified = 1;
			}
		}
	}

	struct nvml_util u;
	if (n->util && n->util(d, &u) == 0) {
		g->util_gpu = u.gpu / 100.0;
		g->util_mem = u.memory / 100.0;
		g->have |= DP_GPU_HAVE_UTIL_GPU | DP_GPU_HAVE_UTIL_MEM;
	}
	unsigned v;
	if (n->temp && n->temp(d, NVML_TEMPERATURE_GPU, &v) == 0) {
		g->temp_c = v;
		g->have |= DP_GPU_HAVE_TEMP;
	} else if (n->tempv) {
		struct nvml_temp_v1 tv;
		memset(&tv, 0, sizeof(tv));
		tv.version = NVML_TEMPERATURE_V1;
		tv.sensorType = NVML_TEMPERATURE_GPU;
		if (n->tempv(d, &tv) == 0) {
			g->temp_c = tv.temperature;
			g->have |= DP_GPU_HAVE_TEMP;
		}
	}
	if (n->power && n->power(d, &v) == 0) {
		g->power_w = v / 1000.0; /* milliwatts */
		g->have |= DP_GPU_HAVE_POWER;
	}
	if (n->power_limit && n->power_limit(d, &v) == 0) {
		g->power_limit_w = v / 1000.0;
		g->have |= DP_GPU_HAVE_POWER_LIMIT;
	}
	if (n->fan && n->fan(d, &v) == 0) {
		g->fan_ratio = v / 100.0;
		g->have |= DP_GPU_HAVE_FAN;
	}
	if (n->clock) {
		if (n->clock(d, NVML_CLOCK_GRAPHICS, &v) == 0) {
			g->clk_graphics = v;
			g->have |= DP_GPU_HAVE_CLK_GRAPHICS;
		}
		if (n->clock(d, NVML_CLOCK_SM, &v) == 0) {
			g->clk_sm = v;
			g->have |= DP_GPU_HAVE_CLK_SM;
		}
		if (n->clock(d, NVML_CLOCK_MEM, &v) == 0) {
			g->clk_mem = v;
			g->have |= DP_GPU_HAVE_CLK_MEM;
		}
	}
	n->last_detail = 0;
	if (n->detail) {
		/* versioned, no stride hazard; "Hopper or newer fully supported
		 * devices": NOT_SUPPORTED elsewhere, then the _v3 path */
		int a = read_detail(n, d, g, NVML_PROCESS_MODE_COMPUTE);
		int b = a == 0 ? read_detail(n, d, g, NVML_PROCESS_MODE_GRAPHICS) : 1;
		if (a == 0 && b >= 0) {
			g->have |= DP_GPU_HAVE_PROCS;
			n->last_detail = 1;
			return 0;
		}
		g->nprocs = 0;
		g->procs_truncated = 0;
	}
	if (n->cprocs) {
		unsigned long long total = (g->have & DP_GPU_HAVE_MEM_TOTAL) ? g->mem_total : 0;
		int a = read_procs(n, n->cprocs, d, g, total);
		int b = n->gprocs ? read_procs(n, n->gprocs, d, g, total) : 1;
		/* the list is known when at least one call worked and none failed */
		if ((a == 0 || b == 0) && a >= 0 && b >= 0)
			g->have |= DP_GPU_HAVE_PROCS;
	}
	return 0;
}
