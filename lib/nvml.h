/*
 * nvml.h - NVIDIA GPU telemetry through NVML loaded with dlopen.
 *
 * No nvml.h and no link-time dependency: nvml.c declares the few types and
 * prototypes it needs (from the documented ABI) and resolves the real
 * exported, versioned symbol names with dlsym, falling back to older
 * symbols where drivers lack the new ones:
 *   nvmlInit_v2 -> nvmlInit, nvmlDeviceGetCount_v2 -> plain,
 *   nvmlDeviceGetHandleByIndex_v2 -> plain, nvmlDeviceGetPciInfo_v3 -> _v2 -> plain,
 *   nvmlDeviceGetMemoryInfo_v2 (with `reserved`) -> nvmlDeviceGetMemoryInfo (v1),
 *   nvmlDeviceGetTemperature (deprecated in NVML 13) -> nvmlDeviceGetTemperatureV,
 *   nvmlDeviceGetRunningProcessDetailList (versioned; NOT_SUPPORTED before
 *   Hopper) -> nvmlDevice{Compute,Graphics}RunningProcesses_v3 -> _v2 -> plain (16-byte
 *   elements); the _v3 element stride (24, or 32 on 530-535 drivers, or 16)
 *   is probed from the data.
 * Only init, count and handle are required; every other getter is
 * optional, and NOT_SUPPORTED / NVML_VALUE_NOT_AVAILABLE leave the field's
 * bit clear in struct dp_gpu (gpu.h): "not available", never guessed.
 *
 * Blocking: NVML calls may block (driver, persistence mode off), so these
 * functions are for a sampler thread, never the event loop. One struct
 * dp_nvml is used by one thread at a time.
 *
 * Ownership: dp_nvml_open() returns a handle that dp_nvml_close() frees
 * (nvmlShutdown, dlclose).
 */
#ifndef DP_NVML_H
#define DP_NVML_H

#include <stddef.h>

#include "gpu.h"

#define DP_NVML_DEFAULT_LIBRARY "libnvidia-ml.so.1"

/* nvmlReturn_t values used by callers and tests. */
#define DP_NVML_SUCCESS                       0
#define DP_NVML_ERROR_NOT_SUPPORTED           3
#define DP_NVML_ERROR_INSUFFICIENT_SIZE       7
#define DP_NVML_ERROR_DRIVER_NOT_LOADED       9
#define DP_NVML_ERROR_GPU_IS_LOST             15
#define DP_NVML_ERROR_LIB_RM_VERSION_MISMATCH 18

struct dp_nvml;

/*
 * Load `path` (NULL: DP_NVML_DEFAULT_LIBRARY) and call nvmlInit_v2.
 * Returns 0, or: -ENOENT (library cannot be loaded: no NVIDIA driver),
 * -ENOSYS (a required symbol is missing), -EIO (init failed; *nvml_rc
 * holds the nvmlReturn_t when not NULL). A message goes to err.
 */
int dp_nvml_open(struct dp_nvml **out, const char *path, int *nvml_rc, char *err, size_t errlen);
/* nvmlShutdown + dlclose. NULL is a no-op. */
void dp_nvml_close(struct dp_nvml *n);

/* Devices now (nvmlDeviceGetCount). 0 or -EIO (message in err). */
int dp_nvml_count(struct dp_nvml *n, unsigned *count, char *err, size_t errlen);
/* Fill `g` for device `index`. 0, or -EIO when the device cannot be
 * reached at all (handle error, GPU lost); missing fields are not errors. */
int dp_nvml_read(struct dp_nvml *n, unsigned index, struct dp_gpu *g, char *err, size_t errlen);

/* Which symbols were bound (for tests and the info log): e.g.
 * "nvmlDeviceGetComputeRunningProcesses_v3", "nvmlDeviceGetMemoryInfo_v2". */
const char *dp_nvml_procs_symbol(const struct dp_nvml *n);
const char *dp_nvml_memory_symbol(const struct dp_nvml *n);
/* The process list API the last dp_nvml_read used: the versioned
 * "nvmlDeviceGetRunningProcessDetailList" (tried first when exported) or
 * dp_nvml_procs_symbol(). */
const char *dp_nvml_procs_source(const struct dp_nvml *n);
/* Element stride in bytes used by the last process list read (16/24/32). */
unsigned dp_nvml_last_stride(const struct dp_nvml *n);
/* The driver version, "" when unknown. */
const char *dp_nvml_driver_version(const struct dp_nvml *n);

/* "NOT_SUPPORTED", "DRIVER_NOT_LOADED", ... for an nvmlReturn_t. */
const char *dp_nvml_return_name(int rc);

/*
 * Pick the element stride of a process-info buffer holding `count`
 * entries as an NVML _v3 call filled it (exposed for tests): the first of
 * 24, 32, 16 whose every entry has a plausible pid (1..4194304), a size
 * that is NVML_VALUE_NOT_AVAILABLE or at most `mem_total` (when non-zero),
 * and (24/32) instance ids that are 0xFFFFFFFF or small. 24 when none fits.
 */
unsigned dp_nvml_probe_stride(const unsigned char *buf, unsigned count, unsigned long long mem_total);

#endif
