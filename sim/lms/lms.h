/*
 * lms.h - the `lms` stand-in: shared declarations of its modules.
 *
 * build/lms answers the subset of LM Studio's `lms` CLI that DaemonPulse uses
 * (reference §6, §7, §8) against llmster-sim, through the simulator's private
 * /__sim/lms/ endpoints (sim/README.md). stdout carries exactly what the real
 * CLI prints there (JSON, NDJSON, tables); banners, progress and errors go to
 * stderr. Exit status is 0 on success and 1 on any error (reference §6.2).
 *
 * Modules: lms_args.c (commander-like option parsing), lms_http.c (blocking
 * libcurl calls; this is a short-lived CLI, not an event loop), lms_fmt.c
 * (byte sizes, tables), lms_models.c (ps, ls, load, unload),
 * lms_system.c (log stream, runtime survey, server, version, daemon),
 * main.c (dispatch).
 *
 * Target selection: commands that accept --host/--port in the real CLI take
 * them; every command also reads LMS_SIM_HOST / LMS_SIM_PORT from the
 * environment as its default (127.0.0.1:1234), which is how tests point the
 * local-only commands (server, daemon, version) at a simulator.
 */
#ifndef DP_LMS_H
#define DP_LMS_H

#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

#include "buf.h"

/* ---- argument parsing (lms_args.c) ---- */

enum { DP_LMS_MAX_OPTS = 24, DP_LMS_MAX_POS = 4 };

/* One option of a command: long name without "--", optional short letter. */
struct dp_lms_opt {
	const char *name;
	char short_name;
	int takes_value;
};

struct dp_lms_args {
	const struct dp_lms_opt *opts;
	size_t nopts;
	const char *values[DP_LMS_MAX_OPTS]; /* value, or "" for a set flag; NULL unset */
	const char *pos[DP_LMS_MAX_POS];
	size_t npos;
};

/*
 * Parse argv (after the command words) against `opts` plus the hidden global
 * options (--log-level, --quiet, --verbose). Prints a commander-style error
 * and returns -EINVAL on an unknown option, a missing value or too many
 * positionals (more than max_pos).
 */
int dp_lms_args_parse(struct dp_lms_args *a, const struct dp_lms_opt *opts, size_t nopts, size_t max_pos, int argc,
                      char **argv);
/* The value of option `name` (NULL when not given; "" for a flag). */
const char *dp_lms_args_get(const struct dp_lms_args *a, const char *name);
int dp_lms_args_has(const struct dp_lms_args *a, const char *name);
/* Parse an integer option in [min, max]; prints an error and returns -EINVAL. */
int dp_lms_args_int(const struct dp_lms_args *a, const char *name, long min, long max, long *out);

/* ---- HTTP to the simulator (lms_http.c) ---- */

struct dp_lms_target {
	char host[256];
	long port;
};

/* Fill `t` from LMS_SIM_HOST / LMS_SIM_PORT (defaults 127.0.0.1:1234). */
int dp_lms_target_from_env(struct dp_lms_target *t);
/*
 * Apply --host/--port from `a` (reference §6.1: a bare host; "://" or ":port"
 * is an error). Prints the error; returns 0 or -EINVAL.
 */
int dp_lms_target_from_args(struct dp_lms_target *t, const struct dp_lms_args *a);

/*
 * One request; the body of the reply goes to `out` (bounded). `body` NULL
 * means GET. Returns 0 with *status set, -ECONNREFUSED when nothing answers
 * (or the connection was closed without a reply), -ETIMEDOUT, -EIO.
 */
int dp_lms_http_request(const struct dp_lms_target *t, const char *path, const char *body, long timeout_ms,
                        struct dp_buf *out, long *status);

/* Called with each complete line of a streamed reply; return non-zero to stop. */
typedef int (*dp_lms_line_fn)(const char *line, size_t len, void *ud);

/*
 * GET `path` and call `fn` for each line as it arrives, until the server
 * closes, `fn` asks to stop, or *stop becomes non-zero (checked every 100 ms;
 * set from a signal handler). Returns 0 when stopped by *stop or fn, -EPIPE
 * when the server ended the stream, -ECONNREFUSED, -EIO.
 */
int dp_lms_http_stream(const struct dp_lms_target *t, const char *path, dp_lms_line_fn fn, void *ud,
                       volatile int *stop);

/*
 * Request and parse a JSON reply. On success *json is owned by the caller.
 * On connection failure prints the real CLI's "server does not appear to be
 * running" message. Returns 0, or a negative errno after printing why.
 */
int dp_lms_call(const struct dp_lms_target *t, const char *path, const char *body, long timeout_ms, json_t **json,
                long *status);

/* The "error" string of a simulator error reply, or a fallback. */
const char *dp_lms_error_text(json_t *reply, const char *fallback);

/* ---- output helpers (lms_fmt.c) ---- */

/* Base-1024 size as lms formatSizeBytes1024: "0 GiB", "512 Bytes", "1.50 GiB". */
void dp_lms_fmt_bytes1024(char *dst, size_t n, double bytes);
/* Base-1000 size as lms formatSizeBytes1000: "999 B", "4.68 GB". */
void dp_lms_fmt_bytes1000(char *dst, size_t n, double bytes);
/* A number as JavaScript's String(n) prints it for the values lms prints. */
void dp_lms_fmt_number(char *dst, size_t n, double v);
/* Print `v` as one compact JSON line on stdout (JSON.stringify). */
int dp_lms_print_json(json_t *v, int pretty);
/* stderr message helpers: "Error: …" and plain info lines. */
void dp_lms_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void dp_lms_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Where messages go: stderr unless redirected (the fuzz target silences them). */
FILE *dp_lms_errout(void);
void dp_lms_set_errout(FILE *f);
/* --quiet / --log-level none|error silences info lines. */
void dp_lms_set_quiet(int quiet);

/* A plain-text table on stdout: columns padded to their widest cell. */
struct dp_lms_table {
	size_t ncols;
	size_t nrows;
	char **cells; /* nrows * ncols heap strings */
};
void dp_lms_table_init(struct dp_lms_table *t, size_t ncols);
void dp_lms_table_add(struct dp_lms_table *t, const char *const *row);
void dp_lms_table_print(const struct dp_lms_table *t, const char *indent);
void dp_lms_table_release(struct dp_lms_table *t);

/* ---- commands (lms_models.c, lms_system.c); argc/argv after the command words ---- */

int dp_lms_models_ps(int argc, char **argv);
int dp_lms_models_ls(int argc, char **argv);
int dp_lms_models_load(int argc, char **argv);
int dp_lms_models_unload(int argc, char **argv);
int dp_lms_system_log_stream(int argc, char **argv);
int dp_lms_system_survey(int argc, char **argv);
int dp_lms_system_server_status(int argc, char **argv);
int dp_lms_system_server_start(int argc, char **argv);
int dp_lms_system_server_stop(int argc, char **argv);
int dp_lms_system_version(int argc, char **argv);
int dp_lms_system_daemon_status(int argc, char **argv);
int dp_lms_system_daemon_up(int argc, char **argv);
int dp_lms_system_daemon_down(int argc, char **argv);

#endif
