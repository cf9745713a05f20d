/*
 * amdgpu.h - AMD GPU telemetry from amdgpu's sysfs files, under a
 * configurable root (default /sys) so tests read fixture trees.
 *
 * Cards are the entries of <root>/class/drm named exactly card<N> (connector
 * entries such as card0-DP-1 and renderD* are skipped) whose device/vendor
 * is 0x1002 and whose device/driver links to "amdgpu". Per card, from
 * <card>/device/: mem_info_vram_total / mem_info_vram_used (bytes),
 * mem_info_gtt_total / mem_info_gtt_used, gpu_busy_percent, mem_busy_percent,
 * unique_id, product_name; from the
 * hwmon directory whose `name` is amdgpu: temp1_input (m°C),
 * power1_average or else power1_input (µW), power1_cap (µW), pwm1 (0-255,
 * the fan duty), freq1_input / freq2_input (Hz: sclk, mclk). The name comes
 * from product_name, else the libdrm amdgpu.ids table (device id,
 * revision), else "AMD GPU 0x<id>". Every file is optional: a missing or
 * unreadable file leaves its bit clear (gpu.h). Per-process VRAM comes from
 * DRM fdinfo (dp_amdgpu_fdinfo_vram), read only for the processes asked.
 *
 * Blocking: sysfs reads can wake a suspended GPU; call from the sampler
 * thread, not the event loop. No state: each scan reads everything.
 */
#ifndef DP_AMDGPU_H
#define DP_AMDGPU_H

#include <stddef.h>
#include <stdint.h>

#include "gpu.h"

#define DP_AMDGPU_IDS_DEFAULT "/usr/share/libdrm/amdgpu.ids"

/* Fill up to `max` GPUs (ordered by card number). Returns how many, or
 * -errno when <root>/class/drm cannot be read (-ENOENT: no DRM at all).
 * `root` NULL means "/sys"; `ids_path` NULL means the default table. */
int dp_amdgpu_scan(const char *root, const char *ids_path, struct dp_gpu *out, int max);

/*
 * VRAM held by process `pid`'s DRM clients on the amdgpu device at PCI
 * address `pci`, from <proc_root>/<pid>/fdinfo/<fd> ("drm-driver: amdgpu",
 * "drm-pdev", "drm-client-id", "drm-memory-vram" or else
 * "drm-resident-vram", in KiB/MiB/bytes). Several fds (also across
 * processes) can share one client: `seen` (capacity `max_seen`, count in
 * *nseen, kept by the caller across calls) dedupes by client id. Adds to
 * *bytes. 0, or -errno when the fdinfo directory cannot be read (another
 * user's process without CAP_SYS_PTRACE: the caller must not guess).
 */
int dp_amdgpu_fdinfo_vram(const char *proc_root, uint32_t pid, const char *pci, uint64_t *seen, int *nseen,
                          int max_seen, uint64_t *bytes);

/* Look up a product name in an amdgpu.ids file. 0, or -ENOENT. */
int dp_amdgpu_ids_lookup(const char *ids_path, unsigned device, unsigned revision, char *name, size_t len);

#endif
