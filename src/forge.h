/*
 * forge.h - the Forge: model loads with a pre-flight, Live-mode presets,
 * downloads. HTTP shapes in docs/api-forge.md; handlers in api_forge.c.
 *
 * Pure part (unit-tested in tests/unit/test_forge.c): a load request is
 * parsed into struct dp_forge_load (every field optional, "not given" kept
 * apart from every value), merged with a saved preset (Dev mode: the
 * request wins; Live mode: the request must be the preset unchanged),
 * checked against the model (bounds, llama.cpp-only fields), and turned
 * into exactly what is sent:
 *
 *   REST  POST /api/v1/models/load with only the documented fields (model,
 *         context_length, eval_batch_size, flash_attention, num_experts,
 *         offload_kv_cache_to_gpu) that were given, + echo_load_config:true
 *         (reference §3.2) - when no CLI-only setting is asked for;
 *   lms   `lms load <path> --gpu R --context-length N --ttl S --parallel N
 *         --identifier ID --exact --yes` (+ --host/--port) through lms.h, the
 *         path looked up by key in `lms ls --json` first - when gpu,
 *         parallel, ttl or identifier is set (reference §6.2: only the CLI
 *         takes them);
 *   both  kinds at once -> refused (conflicting_fields): nothing is dropped.
 *
 * Runtime part: struct dp_forge hangs off struct dp_server (attach/detach)
 * and owns the download jobs (one upstream status poll per active job per
 * second, whatever the number of viewers; changes published as `download`
 * events) and the record of instances DaemonPulse loaded (for the JIT/TTL
 * facts). Loop thread only.
 */
#ifndef DP_FORGE_H
#define DP_FORGE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "estimate.h"
#include "lms.h"

struct dp_server;
struct dp_forge;

#define DP_FORGE_MODEL_MAX       512
#define DP_FORGE_IDENT_MAX       128
#define DP_FORGE_PRESET_MAX      64
#define DP_FORGE_QUANT_MAX       32
#define DP_FORGE_JOBS_PER_TARGET 64
#define DP_FORGE_POLL_MS         1000
#define DP_FORGE_JOB_KEEP_S      3600

/* A load request; "not given" is 0 / -1 / "" as noted. */
struct dp_forge_load {
	char model[DP_FORGE_MODEL_MAX + 1];      /* "" = not given */
	long context_length;                     /* 0 */
	int flash_attention;                     /* -1 */
	long eval_batch_size;                    /* 0 */
	long num_experts;                        /* 0 */
	int offload_kv;                          /* -1 (offload_kv_cache_to_gpu) */
	char gpu[16];                            /* "" | "off" | "max" | "0.5" */
	long parallel;                           /* 0 */
	long ttl;                                /* 0 (seconds) */
	char identifier[DP_FORGE_IDENT_MAX + 1]; /* "" */
	char preset[DP_FORGE_PRESET_MAX + 1];    /* "" */
	int override;                            /* 0 */
};

enum dp_forge_path {
	DP_FORGE_PATH_REST = 0,
	DP_FORGE_PATH_LMS,
	DP_FORGE_PATH_CONFLICT,
};

/* Error of the pure checks: the HTTP status, a stable code and a message. */
struct dp_forge_err {
	int status;
	char code[40];
	char message[320];
};

void dp_forge_load_init(struct dp_forge_load *l);
/* Parse a request body (or a stored preset: `preset` 1 ignores "name" and
 * does not accept "preset"/"override"). Types and static bounds only.
 * 0, or -EINVAL with e filled (400 bad_request / invalid_<field>). */
int dp_forge_load_parse(const json_t *body, int preset, struct dp_forge_load *out, struct dp_forge_err *e);

/*
 * Apply the saved settings: `mode` "dev"|"live" and `presets` (the array
 * of GET /api/settings, may be NULL). Dev: a named preset's fields fill
 * what the request left out. Live: a preset must be named and the request
 * may only repeat its values (and name its model when the preset has one).
 * 0; -EINVAL (400 unknown_preset); -EPERM (403 live_mode).
 */
int dp_forge_apply_settings(struct dp_forge_load *l, const char *mode, const json_t *presets, struct dp_forge_err *e);

/* Check against the model's entry of GET /api/v1/models: context_length
 * <= max_context_length, llama.cpp-only fields only on gguf LLMs.
 * 0 or -EINVAL (400 invalid_context_length / not_applicable). */
int dp_forge_check_model(const struct dp_forge_load *l, const json_t *model, struct dp_forge_err *e);

/* Which interface takes this load; CONFLICT fills e (400 conflicting_fields). */
enum dp_forge_path dp_forge_choose_path(const struct dp_forge_load *l, struct dp_forge_err *e);
const char *dp_forge_path_name(enum dp_forge_path p);

/* The exact POST /api/v1/models/load body (heap, compact JSON). */
char *dp_forge_rest_body(const struct dp_forge_load *l);
/* The lms request for a load (estimate 1: --estimate-only, which takes
 * only gpu and context length). `path` (from dp_forge_ls_path) pins the
 * model with --exact: without it lms fuzzy-matches the key against every
 * model path and --yes takes the first match, which may be another model.
 * NULL passes the key (tests only). Pointers borrow from l and path. */
void dp_forge_lms_req(const struct dp_forge_load *l, int estimate, const char *path, struct dp_lms_req *r);
/* The `path` of model `key` in normalised `lms ls --json` output (the
 * local copy first), or NULL. Borrowed from ls. */
const char *dp_forge_ls_path(const json_t *ls, const char *key);
/* The exact POST /api/v1/models/download body (heap). */
char *dp_forge_download_body(const char *model, const char *quantization);
/* Validate a download request. 0 or -EINVAL with e. model/quant point into body. */
int dp_forge_download_parse(const json_t *body, const char **model, const char **quantization, struct dp_forge_err *e);

/* The load as the estimator takes it. */
void dp_forge_estimate_load(const struct dp_forge_load *l, struct dp_estimate_load *el);
/* The model as the estimator takes it (pointers borrow from `model`). */
void dp_forge_estimate_model(const json_t *model, struct dp_estimate_model *m);
/* {"model",…,"preset"} with null for what was not given (new reference). */
json_t *dp_forge_load_json(const struct dp_forge_load *l);

/* The model entry with `key` in a GET /api/v1/models body (borrowed), NULL. */
json_t *dp_forge_find_model(const json_t *v1, const char *key);
/* Every loaded instance id in a GET /api/v1/models body (new array). */
json_t *dp_forge_instance_ids(const json_t *v1);

/* ---- runtime ---- */

int dp_forge_attach(struct dp_server *s, char **err);
void dp_forge_detach(struct dp_server *s);

/* Remember an instance DaemonPulse loaded (for the facts view). */
void dp_forge_note_loaded(struct dp_forge *f, int64_t target_id, const char *instance_id, const char *model,
                          const char *via, const char *by, int64_t at_ms);
/* Remember the config of the last successful load of `model` on a target
 * (`requested` borrowed: dp_forge_load_json), for the load dialog's "last
 * used values"; kept in memory only. */
void dp_forge_note_last(struct dp_forge *f, int64_t target_id, const char *model, const json_t *requested,
                        const char *by, int64_t at_ms);
/* {"<model>": {"config": requested, "by", "at"}} of a target (new object). */
json_t *dp_forge_last_loads(struct dp_forge *f, int64_t target_id);
/* {"via","by","loaded_at"} of an instance we loaded (borrowed), or NULL. */
const json_t *dp_forge_loaded_info(struct dp_forge *f, int64_t target_id, const char *instance_id);

/*
 * JIT/TTL facts of one loaded instance (new object): {"loaded_by":
 * "daemonpulse"|null, "via": "rest"|"lms"|null, "by", "loaded_at", "jit":
 * false (we loaded it: not a JIT load) | null (unknown: LM Studio does not
 * say), "ttl_remaining_ms": max(0, ttl_ms - (now - last_used_ms)) | null}.
 * ttl_ms / last_used_ms are lms ps's values (JSON integers, or NULL/null
 * when unknown). f may be NULL. For GET .../models/facts and for the models
 * view (json_object_update into an instance entry).
 */
json_t *dp_forge_instance_facts(struct dp_forge *f, int64_t target_id, const char *instance_id, const json_t *ttl_ms,
                                const json_t *last_used_ms, int64_t now_ms);

/* Start tracking a download job (from the daemon's answer to
 * POST /api/v1/models/download) and poll it until it ends; the final state
 * is audited as model.download.done in the name of user_id/username.
 * Returns the job JSON (borrowed). */
const json_t *dp_forge_job_track(struct dp_forge *f, int64_t target_id, const char *model, const char *quantization,
                                 const json_t *answer, int64_t user_id, const char *username);
/* A tracked job (borrowed) or NULL. */
const json_t *dp_forge_job_get(struct dp_forge *f, int64_t target_id, const char *job_id);
/* Every tracked job of a target, newest first (new array). */
json_t *dp_forge_jobs(struct dp_forge *f, int64_t target_id);
/* Upstream status polls made (tests: one per job per interval). */
uint64_t dp_forge_polls(const struct dp_forge *f);

/* Pure: the job object from a download / status answer merged into `job`
 * (fields LM Studio gave replace ours). Returns 1 when something changed. */
int dp_forge_job_merge(json_t *job, const json_t *answer);
/* 1 while a job status needs polling (downloading, paused). */
int dp_forge_job_active(const char *status);

#endif
