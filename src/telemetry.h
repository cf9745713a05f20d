/*
 * telemetry.h - live GPU telemetry per target: sources, the local sampler
 * thread, history rings, alerts, /metrics series. HTTP shapes in
 * docs/api-telemetry.md; handlers in api_gpus.c.
 *
 * Sources per target (decided per target, re-checked):
 *   "simulated"  the target answers the simulator's GET /__sim/gpus; read
 *                through upstream.h on the loop (non-blocking), no token
 *                sent (the /__sim/ surface has none);
 *   "nvml" / "amdgpu"  the target's URL host is loopback and this host has
 *                GPUs: sampled by ONE dedicated sampler thread (NVML calls
 *                may block; the loop never waits on a driver), handed to the
 *                loop through a pipe watched by a libevent event;
 *   "agent"      the target has an enrolled host agent (agent_client.h):
 *                GET /agent/v1/telemetry through upstream.h each interval;
 *   "none"       anything else, with a reason (remote host without an
 *                agent, no GPU, driver error) - values are never guessed.
 *
 * Per-process VRAM (NVML): a process is LM Studio's when it or one of its
 * ancestors (walking /proc/<pid>/stat parent ids under the procfs root) is
 * the daemon, comm "llmster"; so the daemon and all its descendants count.
 *
 * Each target keeps its latest sample and a ring of one hour of compact
 * points (3600 s / interval). Alerts (alerts.h) are evaluated per sample
 * and pushed as `alert` events; a change of source or availability is a
 * `gpus` event.
 *
 * Threads: the sampler thread touches only its own NVML handle, sysfs and
 * procfs, and a mutex-protected hand-off slot. Everything else is loop
 * thread only.
 */
#ifndef DP_TELEMETRY_H
#define DP_TELEMETRY_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "gpu.h"

struct dp_server;
struct dp_telemetry;

enum dp_telemetry_source {
	DP_TSRC_PENDING = 0,
	DP_TSRC_NVML,
	DP_TSRC_AMDGPU,
	DP_TSRC_SIMULATED,
	DP_TSRC_NONE,
	DP_TSRC_AGENT, /* the target's host agent (agent_client.h) */
	DP_TSRC__N
};

#define DP_TELEMETRY_LMS_COMM  "llmster"
#define DP_TELEMETRY_HISTORY_S 3600

struct dp_telemetry_gpu {
	struct dp_gpu g;
	int split_known;     /* lms/other known (every listed process has a size) */
	uint64_t lms, other; /* bytes, from the process list */
	int unattributed_known;
	uint64_t unattributed; /* used - listed processes (>= 0) */
};

struct dp_telemetry_sample {
	int64_t measured_ms;
	int source; /* enum dp_telemetry_source */
	int ngpus;
	int have_ram;
	uint64_t ram_total, ram_used;
	double cpu_seconds; /* sampler CPU time spent on this sample */
	struct dp_telemetry_gpu gpus[DP_GPU_MAX];
};

/* --- pure helpers (unit-tested) --- */

/* "pending", "nvml", "amdgpu", "simulated", "none". */
const char *dp_telemetry_source_name(int source);
/* 1 when `pid` or an ancestor has comm `comm` (DP_TELEMETRY_LMS_COMM when
 * NULL) under `proc_root`, 0 when not, -errno when pid's stat cannot be
 * read. At most 64 ancestors are followed. */
int dp_telemetry_is_lms(const char *proc_root, uint32_t pid, const char *comm);
/* Mark processes and fill the split of every GPU of `s`. */
void dp_telemetry_attribute(struct dp_telemetry_sample *s, const char *proc_root, const char *comm);
/* LM Studio's processes: every process whose comm is `comm` (NULL:
 * DP_TELEMETRY_LMS_COMM) and all their descendants, from a scan of
 * <proc_root>/<pid>/stat. Up to `max` pids into out; count or -errno. */
int dp_telemetry_lms_tree(const char *proc_root, const char *comm, uint32_t *out, int max);
/* amdgpu: LM Studio's VRAM per GPU from the DRM fdinfo of its processes;
 * other = used - LM Studio's (other processes and the driver). A GPU whose
 * fdinfo cannot be read keeps no split. */
void dp_telemetry_attribute_amd(struct dp_telemetry_sample *s, const char *proc_root, const char *comm);
/* Host RAM from <proc_root>/meminfo (MemTotal, MemAvailable). 0 or -errno. */
int dp_telemetry_meminfo(const char *proc_root, uint64_t *total, uint64_t *used);
/* Integrated GPUs (unified memory, no framebuffer figures from the driver):
 * memory = host RAM (MemTotal, MemTotal - MemAvailable), as nvtop does;
 * `unified` stays set so the UI says so. */
void dp_telemetry_unified_fill(struct dp_telemetry_sample *s);
/* Parse the simulator's GET /__sim/gpus answer into `s` (source simulated,
 * lms = used: the simulator runs nothing else). 0 or -EINVAL. */
int dp_telemetry_parse_sim(const json_t *body, struct dp_telemetry_sample *s);
/* The GPU object (docs/api-telemetry.md), new reference. */
json_t *dp_telemetry_gpu_json(const struct dp_telemetry_gpu *tg);

/* History ring: compact points per GPU, restarted when the GPU set changes. */
struct dp_telemetry_ring {
	size_t cap, n, head; /* head: next write slot */
	int ngpus;
	char uuids[DP_GPU_MAX][DP_GPU_UUID_MAX];
	char names[DP_GPU_MAX][DP_GPU_NAME_MAX];
	double total[DP_GPU_MAX]; /* latest total bytes (NAN when unknown) */
	int64_t *t;               /* cap */
	double *pts;              /* cap * ngpus * DP_TELEMETRY_RING_FIELDS, NAN = null */
};
#define DP_TELEMETRY_RING_FIELDS 5 /* used, lmstudio, utilization, temperature, power */

void dp_telemetry_ring_init(struct dp_telemetry_ring *r, size_t cap);
void dp_telemetry_ring_release(struct dp_telemetry_ring *r);
void dp_telemetry_ring_push(struct dp_telemetry_ring *r, const struct dp_telemetry_sample *s);
/* {"t":[…],"gpus":[…]} for points with t >= since_ms (new reference). */
json_t *dp_telemetry_ring_json(const struct dp_telemetry_ring *r, int64_t since_ms);

/* --- runtime (loop thread) --- */

struct dp_telemetry_config {
	int interval_ms;
	const char *nvml_library; /* "off": no NVML */
	const char *sysfs_root;
	const char *procfs_root;
	const char *amdgpu_ids; /* NULL: the libdrm default */
	int alert_vram_percent;
	int alert_temp_c;
};

/* Server wiring: needs s->store, s->upstream, s->events, s->metrics. Starts
 * the sampler thread and the per-interval tick. 0 or -errno with a heap
 * message in *err. */
int dp_telemetry_attach(struct dp_server *s, char **err);
/* Stop the thread and free; call after dp_upstream_free(). */
void dp_telemetry_detach(struct dp_server *s);

/* The telemetry response of a target (new reference), NULL when the target
 * is not known to the telemetry hub yet (the caller checks the store). */
json_t *dp_telemetry_target_json(struct dp_telemetry *t, int64_t target_id);
/* A pending answer for a target created since the last tick. */
json_t *dp_telemetry_pending_json(struct dp_telemetry *t, int64_t target_id);
/* History of the last `seconds` (new reference), NULL when unknown. */
json_t *dp_telemetry_history_json(struct dp_telemetry *t, int64_t target_id, int seconds);
/* The telemetry response of every known target, as an array (new reference). */
json_t *dp_telemetry_all_json(struct dp_telemetry *t);
/* Every firing alert (new reference). */
json_t *dp_telemetry_alerts_json(struct dp_telemetry *t);
/* Run one tick now (tests). */
void dp_telemetry_poke(struct dp_telemetry *t);
/* Pick up targets created since the last tick and probe only those (a
 * GET for a new target answers "pending" and starts its first sample). */
void dp_telemetry_sync(struct dp_telemetry *t);
int dp_telemetry_interval_ms(const struct dp_telemetry *t);

#endif
