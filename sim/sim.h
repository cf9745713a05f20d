/*
 * sim.h - llmster-sim: the simulated LM Studio daemon's state and modules.
 *
 * One struct dp_sim (created in main.c) holds everything: the catalog of
 * models on "disk", simulated GPUs and RAM, loaded instances with their
 * parallel slots and queues, running predictions, download jobs, the
 * diagnostics log ring and fault injection. It runs on one libevent loop;
 * every delay is a timer on that loop (nothing sleeps). Time comes from
 * sim->now_ms so unit tests can inject a clock.
 *
 * Modules (file = prefix):
 *   catalog.c   dp_catalog_*  catalog JSON -> struct dp_sim_model
 *   catalog_default.c         the built-in catalog (a string literal kept in
 *                             sync with sim/catalog.json by a unit test)
 *   hw.c        dp_hw_*       GPUs, RAM, memory estimates, allocation
 *   inst.c      dp_inst_*     load/unload, JIT, TTL sweep, status
 *   gen.c       dp_gen_*      deterministic text, token plans, timing model
 *   pred.c      dp_pred_*     one running prediction (timers, queue, sinks)
 *   fmt.c       dp_fmt_*      wire formats of every API flavour
 *   reqparse.c  dp_reqparse_* JSON request parsing (fuzzed)
 *   simlog.c    dp_simlog_*   DiagnosticsLogEvent ring + live subscribers
 *   api.c       dp_api_*      routing, auth, faults, REST v0/v1/OpenAI
 *   api_sim.c   dp_apisim_*   the private /__sim/ API (lms backend)
 *
 * Ownership: the sim owns models, instances, predictions and jobs; a
 * prediction holds a borrowed struct dp_http_req that it forgets in the
 * request's on_close callback and frees itself later from a timer, never
 * from inside that callback.
 */
#ifndef DP_SIM_H
#define DP_SIM_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include "buf.h"

struct event_base;
struct event;
struct dp_http_server;
struct dp_http_req;

#define DP_SIM_MAX_GPUS          8
#define DP_SIM_MAX_TOKENS        16
#define DP_SIM_MAX_BODY          (4u << 20)
#define DP_SIM_MAX_MODELS        256
#define DP_SIM_MAX_INSTANCES     64
#define DP_SIM_MAX_OUTPUT_TOKENS 32768
#define DP_SIM_HIST              128          /* stored v1 responses */
#define DP_SIM_HIST_BYTES        (256u << 10) /* per stored conversation */
#define DP_SIM_APP_VERSION       "0.4.4+1"
#define DP_SIM_LMS_VERSION       "07b7252"

struct dp_gen {
	uint64_t s[2];
	int kind; /* 0 prose, 1 code, 2 reasoning */
	int pos;  /* tokens emitted */
	int cur;  /* current corpus line */
	int off;  /* offset inside it */
	int since_break;
};

/* ---- catalog ---------------------------------------------------------- */

enum dp_sim_mtype { DP_SIM_LLM = 0, DP_SIM_EMBEDDING = 1 };
/* How a reasoning model exposes its thoughts on v0/OpenAI endpoints. */
enum dp_sim_rstyle {
	DP_SIM_R_NONE = 0,
	DP_SIM_R_THINK_TAGS,        /* <think>...</think> inside content */
	DP_SIM_R_REASONING_CONTENT, /* message.reasoning_content (DeepSeek R1 style) */
	DP_SIM_R_REASONING,         /* message.reasoning (gpt-oss style, 0.3.23) */
};

struct dp_sim_model {
	char *key, *display_name, *publisher, *architecture, *params_string;
	char *format;     /* "gguf" | "mlx" */
	char *quant_name; /* "Q4_K_M", "4bit" */
	double bits_per_weight;
	char *description; /* may be NULL */
	char *path;        /* lms path / indexedModelIdentifier */
	char *variant;     /* "key@q4_k_m" */
	int type;          /* enum dp_sim_mtype */
	int vision, tool_use;
	int rstyle; /* enum dp_sim_rstyle */
	char reasoning_options[5][8];
	int n_reasoning_options;
	char reasoning_default[8];
	uint64_t size_bytes;
	double params_b; /* total parameters, billions */
	double active_b; /* active parameters (MoE), billions */
	int num_experts; /* 0 = dense */
	int experts_used;
	int max_context_length;
	uint64_t kv_bytes_per_token;
	int embedding_dims;
	int downloaded;
};

/* ---- hardware --------------------------------------------------------- */

struct dp_sim_gpu {
	char name[64];
	char id[48];
	uint64_t total, used;
	double bandwidth_gbps;
	int busy;                 /* predictions currently using it */
	double util, temp, power; /* smoothed telemetry */
};

struct dp_sim_mem {
	uint64_t vram[DP_SIM_MAX_GPUS];
	uint64_t ram;
	uint64_t model_vram, context_vram, model_bytes, context_bytes;
	double ratio; /* effective GPU offload ratio */
	int fits;
};

/* ---- instances and predictions ----------------------------------------- */

enum dp_sim_status { DP_SIM_IDLE = 0, DP_SIM_PROCESSING_PROMPT, DP_SIM_GENERATING, DP_SIM_EMBEDDING_ST };

struct dp_pred;
TAILQ_HEAD(dp_pred_q, dp_pred);

struct dp_sim_load_opts {
	int context_length;     /* 0 = default */
	int eval_batch_size;    /* 0 = default 512 */
	int flash_attention;    /* -1 default */
	int num_experts;        /* 0 = default */
	int offload_kv;         /* -1 default */
	int parallel;           /* 0 = default 4 */
	double gpu_ratio;       /* < 0 = auto ("max" that fits) */
	int64_t ttl_ms;         /* -1 none */
	const char *identifier; /* NULL = key, key:2, ... */
	int jit;
};

struct dp_sim_inst {
	TAILQ_ENTRY(dp_sim_inst) link;
	struct dp_sim *sim;
	struct dp_sim_model *m;
	char *id;
	int jit;
	int context_length, eval_batch_size, parallel, flash_attention, num_experts, offload_kv;
	struct dp_sim_mem mem;
	int64_t ttl_ms; /* -1 = none */
	uint64_t last_used_ms;
	uint64_t load_started_ms;
	double load_seconds;
	int loading;            /* still loading; waiters in `queue` */
	int active;             /* running predictions (<= parallel) */
	int active_gen;         /* of which generating */
	struct dp_pred_q queue; /* waiting for a slot or for the load */
	struct dp_pred_q running;
	struct event *load_timer;
	/* load waiters that are not predictions (REST/lms load calls) */
	struct dp_loadwait *waiters;
	double gpu_ratio_req; /* as requested (-1 auto) */
	int unloading;        /* being unloaded: start nothing new */
};
TAILQ_HEAD(dp_sim_inst_q, dp_sim_inst);

/* Something waiting for an instance to finish loading (load endpoints). */
typedef void (*dp_loadwait_fn)(struct dp_sim_inst *inst, int ok, void *arg);
struct dp_loadwait {
	struct dp_loadwait *next;
	dp_loadwait_fn fn;
	void *arg;
};

struct dp_sim_download {
	char job_id[24];
	struct dp_sim_model *m;
	uint64_t started_ms, total, done_bytes;
	double rate; /* bytes per (real) ms */
	int status;  /* 0 downloading, 1 completed */
	uint64_t completed_ms;
};

enum dp_fault_mode {
	DP_FAULT_NONE = 0,
	DP_FAULT_SLOW,
	DP_FAULT_STALL,
	DP_FAULT_ERROR500,
	DP_FAULT_CLOSE_MID_STREAM,
	DP_FAULT_REFUSE
};

struct dp_sim_fault {
	int mode;
	uint64_t until_ms;
	int npaths;
	char paths[8][128];
};

/* ---- parsed inference requests (reqparse.c, fuzzed) ---------------------- */

enum dp_api_kind {
	DP_K_V1_CHAT = 1,
	DP_K_V0_CHAT,
	DP_K_V0_COMPL,
	DP_K_OAI_CHAT,
	DP_K_OAI_COMPL,
	DP_K_RESPONSES,
	DP_K_V0_EMBED,
	DP_K_OAI_EMBED,
};
#define DP_REQ_MAX_ITEMS  1024
#define DP_REQ_MAX_INPUTS 2048

struct dp_chatreq {
	int kind;             /* enum dp_api_kind */
	char *model;          /* NULL when absent */
	struct dp_buf prompt; /* templated prompt (logs, token count) */
	char *last_user;      /* last user text (kind of output) */
	int stream, include_usage;
	int max_tokens; /* -1 = no limit */
	int has_seed;
	uint64_t seed;
	double temperature;
	char reasoning[8];  /* "" = model default */
	int context_length; /* v1: applies when this request loads */
	int64_t ttl_s;      /* -1 = default */
	int store;
	char *previous_response_id;
	int n_images;
	int n_integrations;
	int integ_ephemeral;  /* first integration is ephemeral_mcp */
	char integ_name[128]; /* "mcp/x" or server_label */
	int ntools;
	char tool_name[128];
	json_t *tool_params; /* first tool's JSON schema (owned ref) */
	int tool_choice;     /* 0 auto, 1 none, 2 required */
	int last_is_tool;    /* the last message is a tool result */
	json_t *mcp_call;    /* v1 integrations: the MCP tool call made before the
	                      * answer (api.c), {tool, arguments, provider_info, ok,
	                      * output | reason}; owned; NULL when none */
	char *stop;          /* first stop string */
	char **inputs;       /* embeddings */
	int ninputs;
	/* on error: */
	int err_status;
	const char *err_type, *err_code, *err_param;
	char err_msg[256];
};

/* Parse `body` for API `kind`. 0, or -EINVAL with err_* filled in the
 * shape family of that API (v1 vs OpenAI/v0). Always release afterwards. */
int dp_reqparse(int kind, const char *body, size_t len, struct dp_chatreq *r);
void dp_reqparse_release(struct dp_chatreq *r);

/* ---- diagnostics log ring ---------------------------------------------- */

#define DP_SIMLOG_RING 2048
enum dp_simlog_src { DP_SIMLOG_MODEL = 1, DP_SIMLOG_SERVER = 2, DP_SIMLOG_RUNTIME = 4 };

struct dp_simlog_sub;
struct dp_simlog {
	char *lines[DP_SIMLOG_RING]; /* NDJSON line without '\n' */
	uint8_t srcs[DP_SIMLOG_RING];
	uint64_t next_seq;
	struct dp_simlog_sub *subs;
};

/* ---- the simulator ------------------------------------------------------ */

typedef uint64_t (*dp_sim_clock_fn)(void *arg);

struct dp_sim_config {
	const char *bind;
	int port;
	const char *catalog_path; /* NULL = built in */
	const char *gpus;         /* spec */
	uint64_t ram;
	const char *tokens[DP_SIM_MAX_TOKENS];
	int ntokens;
	double speed;
	uint64_t seed;
	int jit;
	int ttl_seconds;
};

struct dp_sim {
	struct event_base *base; /* NULL in unit tests: no timers armed */
	struct dp_http_server *http;
	struct dp_sim_config cfg;
	dp_sim_clock_fn now_fn;
	void *now_arg;
	int port;
	int server_running;
	struct dp_sim_model *models[DP_SIM_MAX_MODELS];
	int nmodels;
	struct dp_sim_gpu gpus[DP_SIM_MAX_GPUS];
	int ngpus;
	uint64_t ram_total, ram_used;
	double cpu_bandwidth_gbps;
	struct dp_sim_inst_q insts;
	struct dp_sim_download *downloads[256];
	int ndownloads;
	struct dp_sim_fault fault;
	struct dp_simlog log;
	struct event *tick;       /* 250 ms: TTL sweep, telemetry, downloads */
	struct event *reaper;     /* frees finished predictions */
	struct dp_pred_q dead;    /* predictions to free */
	struct dp_stall *stalled; /* requests held by a stall fault */
	uint64_t counters_requests, counters_predictions, counters_tokens, counters_events;
	uint64_t id_counter;
	struct {
		char id[64];
		char *prompt;
	} hist[DP_SIM_HIST]; /* v1 stored responses */
	int hist_next;
};

/* sim state (inst.c) */
void dp_sim_init(struct dp_sim *sim, const struct dp_sim_config *cfg, struct event_base *base);
/* Parse the catalog and GPUs; 0 or -errno with a message on stderr. */
int dp_sim_setup(struct dp_sim *sim, char *err, size_t errlen);
void dp_sim_release(struct dp_sim *sim);
uint64_t dp_sim_now(const struct dp_sim *sim);
/* Scale a simulated duration (seconds) to real milliseconds by --speed. */
double dp_sim_scale_ms(const struct dp_sim *sim, double seconds);
struct dp_sim_model *dp_sim_find_model(struct dp_sim *sim, const char *key);
/* Resolve a key the way lms load does: exact key, indexed id, variant,
 * unique case-insensitive substring. *ambiguous set when > 1 match. */
struct dp_sim_model *dp_sim_match_model(struct dp_sim *sim, const char *q, int *ambiguous);
struct dp_sim_inst *dp_sim_find_inst(struct dp_sim *sim, const char *id);
/* Pick the least busy loaded instance of model key `key`, else NULL. */
struct dp_sim_inst *dp_sim_inst_for_key(struct dp_sim *sim, const char *key);

/* catalog.c */
int dp_catalog_parse(struct dp_sim *sim, const char *json, char *err, size_t errlen);
void dp_catalog_model_free(struct dp_sim_model *m);
extern const char dp_catalog_default_json[];

/* hw.c */
int dp_hw_parse_gpus(struct dp_sim *sim, const char *spec, char *err, size_t errlen);
/* "64GiB", "1.5G", "1000" -> bytes; -EINVAL on junk. */
int dp_hw_parse_size(const char *s, uint64_t *out);
/* Estimate memory for a load; fills `mem` incl. the per-GPU split and `fits`. */
void dp_hw_estimate(struct dp_sim *sim, const struct dp_sim_model *m, int ctx, int parallel, int offload_kv,
                    double gpu_ratio, struct dp_sim_mem *mem);
void dp_hw_commit(struct dp_sim *sim, const struct dp_sim_mem *mem);
void dp_hw_free(struct dp_sim *sim, const struct dp_sim_mem *mem);
/* Update smoothed utilisation/temperature/power (dt in ms). */
void dp_hw_tick(struct dp_sim *sim, double dt_ms);
#define DP_HW_RAM_RESERVE (2ull << 30)

/* inst.c */
/* Start loading; 0 and *out, or -ENOENT / -EEXIST / -ENOSPC (does not fit). */
int dp_inst_load(struct dp_sim *sim, struct dp_sim_model *m, const struct dp_sim_load_opts *o,
                 struct dp_sim_inst **out);
void dp_inst_wait_loaded(struct dp_sim_inst *inst, dp_loadwait_fn fn, void *arg);
/* Unload: fails pending predictions, frees memory. */
void dp_inst_unload(struct dp_sim_inst *inst, const char *why);
int dp_inst_status(const struct dp_sim_inst *inst);
const char *dp_inst_status_name(int st);
/* Unload idle instances past their TTL; returns how many. */
int dp_inst_sweep(struct dp_sim *sim);
/* Auto-evict: unload every JIT-loaded instance (before a JIT load). */
void dp_inst_evict_jit(struct dp_sim *sim);
void dp_inst_touch(struct dp_sim_inst *inst);
int dp_inst_count(const struct dp_sim *sim);

/* pred.c - one prediction */
enum dp_pred_phase { PH_WAIT = 0, PH_PP, PH_REASON, PH_MSG, PH_DONE };

struct dp_pred {
	TAILQ_ENTRY(dp_pred) link;
	int where; /* 0 none, 1 inst->queue, 2 inst->running, 3 sim->dead */
	struct dp_sim *sim;
	struct dp_sim_inst *inst;
	struct dp_http_req *req; /* NULL once the client went away */
	struct dp_chatreq r;
	int phase;
	struct event *timer;
	struct dp_gen gen;
	int prompt_tokens;
	int plan_reason, plan_msg;
	int n_reason, n_msg; /* tokens emitted (= delta events) */
	int jit_trigger, load_end_sent, pp_step;
	int reasoning_on, think_tags, reason_api; /* how reasoning is shown */
	int streaming, started_stream, first_chunk_sent;
	double load_s, tps, ttft_s;
	uint64_t t_start_ms;
	struct dp_buf reasoning, content, wire;
	char id[64];
	char msg_id[40];
	char inst_id[520];
	char model_key[520];
	int64_t created;
	uint64_t events, seq;
	int cut_after; /* close_mid_stream fault: events before the cut */
	int cut_pending;
	int gen_counted;  /* counted in inst->active_gen */
	uint64_t id_seed; /* response_id generator */
	int do_tool;
	char call_id[32];
	char *tool_args;
	const char *stop_reason, *finish_reason;
	int truncated;
	int cancelled;
	int slow_ms;       /* slow fault: extra delay per event */
	char *prev_prompt; /* v1 previous_response_id history (owned) */
	int embed;
};

/* Start a prediction for `req` on `inst` (possibly still loading).
 * Takes over `r` (moved; the caller must not release it). */
void dp_pred_start(struct dp_sim *sim, struct dp_http_req *req, struct dp_chatreq *r, struct dp_sim_inst *inst,
                   int jit_trigger, const char *history);
/* Write an API-specific error as the whole response (non-streaming). */
void dp_pred_reply_error(struct dp_http_req *req, int kind, int status, const char *type, const char *code,
                         const char *param, const char *msg);
/* Look up the stored prompt of a v1 response id (NULL when unknown). */
const char *dp_pred_history(struct dp_sim *sim, const char *resp_id);
void dp_pred_history_release(struct dp_sim *sim);
/* Free predictions that ended (from the sim's reaper event). */
void dp_pred_reap(struct dp_sim *sim);

/* Start queued predictions while slots are free. */
void dp_pred_kick(struct dp_sim_inst *inst);
/* The instance goes away: end every prediction on it (stop reason
 * modelUnloaded / an error), detaching them from `inst`. */
void dp_pred_detach_all(struct dp_sim_inst *inst);
void dp_pred_release_all(struct dp_sim *sim);

/* gen.c */
uint64_t dp_gen_hash(const void *p, size_t n, uint64_t h);
void dp_gen_init(struct dp_gen *g, uint64_t seed, int kind);
uint64_t dp_gen_next(struct dp_gen *g);
/* Next token text ("word" with a leading space or newline) into out. */
size_t dp_gen_token(struct dp_gen *g, char *out, size_t outlen);
/* Rough token count of a prompt (words and punctuation, ~4 chars/token). */
int dp_gen_count_tokens(const char *s, size_t n);
int dp_gen_pick_kind(const char *prompt);
/* Timing model. Seconds of simulated time, before --speed. */
double dp_gen_tokens_per_second(const struct dp_sim *sim, const struct dp_sim_inst *inst);
double dp_gen_ttft(const struct dp_sim *sim, const struct dp_sim_inst *inst, int prompt_tokens);
double dp_gen_load_seconds(const struct dp_sim_model *m, const struct dp_sim_mem *mem);
void dp_gen_embedding(uint64_t seed, int dims, double *out);

/* simlog.c */
void dp_simlog_init(struct dp_simlog *l);
void dp_simlog_release(struct dp_simlog *l);
/* Take ownership of `data` (a JSON object) and record {timestamp,data}. */
void dp_simlog_add(struct dp_sim *sim, int src, json_t *data);
void dp_simlog_server(struct dp_sim *sim, const char *level, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
void dp_simlog_runtime(struct dp_sim *sim, const char *level, const struct dp_sim_inst *inst, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
/* Live NDJSON subscriber on `req` (already streaming). */
void dp_simlog_subscribe(struct dp_sim *sim, struct dp_http_req *req, int srcmask);
json_t *dp_simlog_since(struct dp_sim *sim, uint64_t since, uint64_t *next);
void dp_simlog_close_all(struct dp_sim *sim);
const char *dp_simlog_engine_name(const struct dp_sim_model *m);
const char *dp_simlog_engine_version(const struct dp_sim_model *m);

/* api.c / api_sim.c */
void dp_api_handle(struct dp_http_req *req, void *arg);
/* Create the periodic tick (TTL sweep, telemetry, downloads, faults) and
 * the reaper event on sim->base. */
void dp_api_start(struct dp_sim *sim);
/* Advance download jobs to `now`; completed ones put the model on disk. */
void dp_api_downloads_update(struct dp_sim *sim);
void dp_apisim_handle(struct dp_sim *sim, struct dp_http_req *req, const char *path);
void dp_api_release(struct dp_sim *sim);
/* Fault currently active for `path` (DP_FAULT_NONE when none). */
int dp_api_fault_for(struct dp_sim *sim, const char *path);
void dp_api_reply_json(struct dp_http_req *req, int status, json_t *body); /* steals body */
void dp_api_simerr(struct dp_http_req *req, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* JSON views shared by v1/v0/lms. New references. */
json_t *dp_api_model_v1(struct dp_sim *sim, const struct dp_sim_model *m);
json_t *dp_api_model_v0(struct dp_sim *sim, const struct dp_sim_model *m);
json_t *dp_api_lms_modelinfo(const struct dp_sim_model *m, int with_variants);
json_t *dp_api_lms_ps_entry(const struct dp_sim_inst *inst);
json_t *dp_api_load_config(const struct dp_sim_inst *inst);
json_t *dp_api_num(double v);
json_t *dp_api_estimate(struct dp_sim *sim, const struct dp_sim_model *m, int ctx, double ratio, int parallel);

#endif
