/*
 * gpu.h - one GPU's measured state, shared by the collectors (nvml.c,
 * amdgpu.c) and the sampler (src/telemetry.c).
 *
 * A value is meaningful only when its bit is set in `have`: a field the
 * driver reports as not supported / not available, or a file that is
 * missing, leaves its bit clear. Nothing is ever guessed or defaulted to 0.
 * Units are base units: bytes, ratios 0..1 (fan may exceed 1), degrees C,
 * watts, MHz.
 *
 * Plain data: no pointers, so a struct dp_gpu can be copied between the
 * sampler thread and the loop with memcpy.
 */
#ifndef DP_GPU_H
#define DP_GPU_H

#include <stdint.h>

#define DP_GPU_NAME_MAX  96
#define DP_GPU_UUID_MAX  96
#define DP_GPU_PCI_MAX   32
#define DP_GPU_MAX_PROCS 64
#define DP_GPU_MAX       16 /* GPUs per host that are reported */

enum dp_gpu_have {
	DP_GPU_HAVE_MEM_TOTAL = 1u << 0,
	DP_GPU_HAVE_MEM_USED = 1u << 1,
	DP_GPU_HAVE_MEM_FREE = 1u << 2,
	DP_GPU_HAVE_MEM_RESERVED = 1u << 3,
	DP_GPU_HAVE_UTIL_GPU = 1u << 4,
	DP_GPU_HAVE_UTIL_MEM = 1u << 5,
	DP_GPU_HAVE_TEMP = 1u << 6,
	DP_GPU_HAVE_POWER = 1u << 7,
	DP_GPU_HAVE_POWER_LIMIT = 1u << 8,
	DP_GPU_HAVE_FAN = 1u << 9,
	DP_GPU_HAVE_CLK_GRAPHICS = 1u << 10,
	DP_GPU_HAVE_CLK_SM = 1u << 11,
	DP_GPU_HAVE_CLK_MEM = 1u << 12,
	DP_GPU_HAVE_PROCS = 1u << 13, /* the process list was read (it may be empty) */
	DP_GPU_HAVE_UUID = 1u << 14,
	DP_GPU_HAVE_PCI = 1u << 15,
	DP_GPU_HAVE_NAME = 1u << 16,
	DP_GPU_HAVE_GTT = 1u << 17, /* amdgpu: GTT (system memory mapped for the GPU) */
};

struct dp_gpu_proc {
	uint32_t pid;
	int used_known; /* 0: the driver does not report this process's size */
	uint64_t used;  /* bytes */
	int lmstudio;   /* set by the sampler: LM Studio's daemon or a descendant */
};

struct dp_gpu {
	int index;
	char vendor[12]; /* "nvidia", "amd", "simulated" */
	char name[DP_GPU_NAME_MAX];
	char uuid[DP_GPU_UUID_MAX];
	char pci[DP_GPU_PCI_MAX];
	unsigned have; /* enum dp_gpu_have bits */
	int unified;   /* integrated GPU without dedicated memory (memory = host RAM
	                * when the sampler fills it in from /proc/meminfo) */
	uint64_t mem_total, mem_used, mem_free, mem_reserved;
	uint64_t gtt_total, gtt_used;
	double util_gpu, util_mem;
	double temp_c;
	double power_w, power_limit_w;
	double fan_ratio;
	unsigned clk_graphics, clk_sm, clk_mem;
	int nprocs;
	int procs_truncated; /* more than DP_GPU_MAX_PROCS processes */
	struct dp_gpu_proc procs[DP_GPU_MAX_PROCS];
};

#endif
