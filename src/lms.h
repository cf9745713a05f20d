/*
 * lms.h - the `lms` bridge: LM Studio's CLI run as a child process for what
 * LM Studio exposes nowhere else (reference §6-§8: loaded-instance state,
 * memory estimates, the hardware survey, live logs, server/daemon lifecycle).
 *
 * The binary is LMS_BIN (config or environment; default "lms" looked up on
 * PATH once, at start-up). When it cannot be found every call completes with
 * DP_LMS_UNAVAILABLE and a human reason ("lms not found on PATH (set
 * LMS_BIN)") instead of failing: features that need it show "unavailable".
 *
 * Each call: an argv array (never a shell) built by dp_lms_build_argv(), the
 * target's --host/--port added only to the commands that accept them (ps, ls,
 * load, unload, log stream, runtime survey; never server/daemon/version,
 * which act on the local machine only and are refused for a remote target),
 * a timeout, stdout/stderr caps, the exit status checked, stdout JSON parsed
 * with jansson and normalised (snake_case keys, enums canonicalised
 * case-insensitively), stderr kept (bounded) for the error message.
 *
 * Concurrency: at most `per_target` lms processes run per target key; more
 * calls wait in a bounded FIFO per key; past `queue_max` a call completes with
 * DP_LMS_BUSY. Log streams (long-running) do not count against that limit;
 * they have their own global cap.
 *
 * Callbacks: dp_lms_call() always returns a handle and its callback runs
 * exactly once, later, on the loop (never from inside dp_lms_call), unless
 * dp_lms_cancel() was called first. Everything in the result (json, strings,
 * estimate) is borrowed and valid only during the callback: json_incref()
 * what must outlive it. A handle is invalid once its callback has started.
 *
 * The pure functions below (argv building, output parsing) spawn nothing and
 * are what the unit tests and the fuzz target drive. Loop thread only.
 */
#ifndef DP_LMS_H
#define DP_LMS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct dp_lms;
struct dp_lms_call;
struct dp_lms_stream;

enum dp_lms_cmd {
	DP_LMS_PS,             /* lms ps --json                          [target] */
	DP_LMS_LS,             /* lms ls --json                          [target] */
	DP_LMS_LOAD,           /* lms load KEY --yes [opts]              [target] */
	DP_LMS_ESTIMATE,       /* lms load KEY --yes [opts] --estimate-only [target] */
	DP_LMS_UNLOAD,         /* lms unload IDENTIFIER                  [target] */
	DP_LMS_UNLOAD_ALL,     /* lms unload --all                       [target] */
	DP_LMS_LOG_STREAM,     /* lms log stream --source S --json       [target] */
	DP_LMS_RUNTIME_SURVEY, /* lms runtime survey --json [--refresh]  [target] */
	DP_LMS_SERVER_START,   /* lms server start [--port N] [--bind A] [--cors] (local) */
	DP_LMS_SERVER_STOP,    /* lms server stop                        (local) */
	DP_LMS_SERVER_STATUS,  /* lms server status --json               (local) */
	DP_LMS_DAEMON_UP,      /* lms daemon up --json                   (local) */
	DP_LMS_DAEMON_DOWN,    /* lms daemon down                        (local) */
	DP_LMS_DAEMON_STATUS,  /* lms daemon status --json               (local) */
	DP_LMS_VERSION,        /* lms version --json                     (local) */
	DP_LMS__NCMD
};

enum dp_lms_status {
	DP_LMS_OK,
	DP_LMS_UNAVAILABLE,  /* "unavailable": no lms binary */
	DP_LMS_BUSY,         /* "busy": the target's queue is full */
	DP_LMS_INVALID,      /* "invalid": bad argument, or local-only command on a remote target */
	DP_LMS_FAILED,       /* "failed": lms exited non-zero; message from its stderr */
	DP_LMS_TIMEOUT,      /* "timeout" */
	DP_LMS_TOO_LARGE,    /* "output_too_large" */
	DP_LMS_BAD_OUTPUT,   /* "bad_output": stdout/stderr not in the expected shape */
	DP_LMS_KILLED,       /* "killed": ended by a signal nobody here sent */
	DP_LMS_SPAWN_FAILED, /* "spawn_failed": could not start (not ENOENT) */
	DP_LMS_STOPPED,      /* "stopped": a stream ended by dp_lms_stream_stop() */
	DP_LMS_CANCELLED,    /* "cancelled": the bridge was freed first */
};

/* Where lms connects. All NULL/0: the local daemon, no --host/--port. */
struct dp_lms_target {
	const char *key;  /* concurrency bucket (e.g. target id); NULL = "local" */
	const char *host; /* bare host name or IPv4 (no scheme, no port) */
	int port;         /* 1..65535, 0 = lms default */
};

struct dp_lms_req {
	enum dp_lms_cmd cmd;
	const char *model;      /* LOAD/ESTIMATE: model key or path (lms fuzzy-matches it
	                         * against model paths and --yes takes the first match;
	                         * pass the exact `path` with exact=1 to pin one);
	                         * UNLOAD: instance identifier */
	const char *identifier; /* LOAD: --identifier */
	const char *gpu;        /* LOAD/ESTIMATE: "off", "max" or a ratio "0".."1" */
	long context_length;    /* > 0: --context-length N */
	long ttl_s;             /* > 0: --ttl S */
	int parallel;           /* > 0: --parallel N (recent lms only) */
	int exact;              /* --exact */
	const char *source;     /* LOG_STREAM: "server" | "model" | "runtime" */
	const char *filter;     /* LOG_STREAM model source: "input" | "output" | "input,output" */
	int refresh;            /* RUNTIME_SURVEY: --refresh */
	int server_port;        /* SERVER_START: --port (the HTTP port to serve on) */
	const char *bind;       /* SERVER_START: --bind ADDR */
	int cors;               /* SERVER_START: --cors */
	int timeout_ms;         /* 0: the configured default for the command */
};

/* `lms load --estimate-only` as printed on stderr (reference §6.2). Sizes
 * are approximate: lms prints them with two decimals. */
struct dp_lms_estimate {
	char model[512];
	long context_length;    /* -1 when not printed */
	double gpu_offload_pct; /* -1 when not printed */
	uint64_t gpu_bytes;
	uint64_t total_bytes;
	int confidence_low; /* "Confidence: LOW" was printed */
	int fits;           /* 1 "may be loaded", 0 "will fail to load" */
};

struct dp_lms_result {
	enum dp_lms_status status;
	const char *code;    /* dp_lms_status_name(status) */
	const char *message; /* human reason; "" when ok */
	enum dp_lms_cmd cmd;
	int exit_code;                          /* -1 when it did not exit normally (or never ran) */
	json_t *json;                           /* normalised stdout (ps, ls, survey, status, version, daemon up) */
	const struct dp_lms_estimate *estimate; /* DP_LMS_ESTIMATE when ok */
	const char *out;                        /* raw stdout (bounded), "" when none */
	size_t out_len;
	const char *err; /* raw stderr (bounded), "" when none */
	size_t err_len;
	uint64_t lines, lines_skipped; /* streams */
	uint64_t queued_ms, duration_ms;
};

typedef void (*dp_lms_cb)(const struct dp_lms_result *res, void *arg);
/* One NDJSON line of a log stream (untrusted, not parsed here). */
typedef void (*dp_lms_line_fn)(const char *line, size_t len, void *arg);

/* Zero fields take the defaults below (dp_lms_config_defaults fills them). */
struct dp_lms_config {
	const char *bin;     /* NULL: $LMS_BIN, else "lms" on PATH */
	int timeout_ms;      /* default per call: 30 s */
	int load_timeout_ms; /* LOAD, SERVER_START, DAEMON_UP: 10 min */
	size_t max_stdout;   /* 4 MiB */
	size_t max_stderr;   /* 64 KiB */
	size_t max_line;     /* log stream line limit: 1 MiB */
	int per_target;      /* concurrent processes per target key: 2 */
	int queue_max;       /* waiting calls per target key: 16 (0 = default) */
	int max_streams;     /* log-stream children in total: 64 */
	int kill_grace_ms;   /* SIGTERM -> SIGKILL: 2 s */
};

void dp_lms_config_defaults(struct dp_lms_config *cfg);

/* Resolve the binary once and set up the queues; never fails for a missing
 * binary (the bridge is then "unavailable"). */
struct dp_lms *dp_lms_new(struct event_base *base, const struct dp_lms_config *cfg);
/* Cancel everything: queued and running calls complete with DP_LMS_CANCELLED,
 * streams get on_exit with DP_LMS_CANCELLED; children are killed and reaped.
 * NULL is a no-op. Not from inside a bridge callback. */
void dp_lms_free(struct dp_lms *l);
/* 1 when the binary was found; else 0 and *reason (optional) says why. */
int dp_lms_available(const struct dp_lms *l, const char **reason);
/* The resolved path ("" when unavailable). */
const char *dp_lms_bin(const struct dp_lms *l);
/* Running and queued calls for a target key (metrics, tests). */
void dp_lms_load_of(const struct dp_lms *l, const char *key, int *running, int *queued);

/* Run one command (not LOG_STREAM). See the header comment for the callback
 * rules. `t` may be NULL (local). Never NULL. */
struct dp_lms_call *dp_lms_call(struct dp_lms *l, const struct dp_lms_target *t, const struct dp_lms_req *r,
                                dp_lms_cb cb, void *arg);
/* Forget a call whose callback has not run: it will not run; a running
 * child is stopped. */
void dp_lms_cancel(struct dp_lms_call *c);

/* Start `lms log stream --source S --json` (r->cmd must be DP_LMS_LOG_STREAM).
 * Lines arrive as they are printed (bounded: longer lines are counted and
 * skipped); on_exit runs once when the child is gone (its status, stderr tail
 * and line counts in the result). 0 and *out set, or -ENOENT (unavailable),
 * -EINVAL (bad request), -EAGAIN (too many streams), -errno from spawn; on
 * error `err` receives a human reason and no callback will run. */
int dp_lms_stream_start(struct dp_lms *l, const struct dp_lms_target *t, const struct dp_lms_req *r,
                        dp_lms_line_fn on_line, dp_lms_cb on_exit, void *arg, struct dp_lms_stream **out, char *err,
                        size_t errlen);
/* SIGTERM (then SIGKILL); on_exit follows with DP_LMS_STOPPED. */
void dp_lms_stream_stop(struct dp_lms_stream *s);
/* Stop and drop the callbacks: neither on_line nor on_exit runs again. */
void dp_lms_stream_cancel(struct dp_lms_stream *s);
int dp_lms_stream_count(const struct dp_lms *l);

/* ---- pure helpers (no process, no loop) ---- */

#define DP_LMS_MAX_ARGV 40
struct dp_lms_argv {
	int argc;
	char *argv[DP_LMS_MAX_ARGV + 1]; /* NULL-terminated, heap strings */
};
/* Build the argv for `r` against `t` (NULL = local). 0, or -EINVAL with a
 * reason in err. Free with dp_lms_argv_release() in both cases. */
int dp_lms_build_argv(const char *bin, const struct dp_lms_target *t, const struct dp_lms_req *r,
                      struct dp_lms_argv *out, char *err, size_t errlen);
void dp_lms_argv_release(struct dp_lms_argv *a);
/* 1 when `host` is what lms accepts for --host: a bare name or IPv4
 * address (letters, digits, '.', '-', '_'; no scheme, port or path; not
 * starting with '-'). For validating a target's stored lms_host. */
int dp_lms_valid_host(const char *host);
/* 1 when the command accepts --host/--port (reference §6.1). */
int dp_lms_cmd_takes_target(enum dp_lms_cmd c);
/* "ps", "runtime survey", ... */
const char *dp_lms_cmd_name(enum dp_lms_cmd c);
const char *dp_lms_status_name(enum dp_lms_status s);

/* Parse the --estimate-only text. 0, or -EINVAL when the GPU memory, total
 * memory or verdict line is missing or malformed. */
int dp_lms_parse_estimate(const char *text, size_t len, struct dp_lms_estimate *out);
/* {"model","context_length","gpu_offload_pct","gpu_bytes","total_bytes","confidence","fits"} */
json_t *dp_lms_estimate_json(const struct dp_lms_estimate *e);
/* "12.34 GiB" / "512 Bytes" / "3.5 GB" -> bytes. 0 or -EINVAL. */
int dp_lms_parse_size(const char *s, size_t len, uint64_t *out);

/* stdout of `ps --json`, `ls --json`, `runtime survey --json`: a new
 * normalised JSON value, or NULL with a reason in err (-> "bad_output"). */
json_t *dp_lms_parse_ps(const char *s, size_t len, char *err, size_t errlen);
json_t *dp_lms_parse_ls(const char *s, size_t len, char *err, size_t errlen);
json_t *dp_lms_parse_survey(const char *s, size_t len, char *err, size_t errlen);
/* server status / daemon status / daemon up / version: a JSON object,
 * normalised per command. */
json_t *dp_lms_parse_status(enum dp_lms_cmd c, const char *s, size_t len, char *err, size_t errlen);
/* Canonical spelling of a survey enum value, matched ignoring case, spaces
 * and punctuation ("Incompatible app version" -> "incompatibleAppVersion").
 * `kind`: "status", "compatibility", "result", "architecture",
 * "extension", "platform", "integration", "format". Unknown values come back
 * camel-cased from their letters and digits, written to buf. */
const char *dp_lms_survey_enum(const char *kind, const char *value, char *buf, size_t buflen);
/* A one-line, printable, bounded message from lms's stderr (ANSI colours
 * and control characters removed, whitespace collapsed). */
void dp_lms_error_message(const char *err, size_t len, char *out, size_t outlen);

#endif
