/*
 * config.h - the control plane's configuration.
 *
 * Sources, strongest first: command-line flags, environment variables, an
 * optional `--config FILE` (lines `KEY = value`, keys named like the
 * environment variables, `#` comments), built-in defaults. An empty
 * environment variable counts as unset. Every value is validated; the first
 * invalid one stops start-up with one line naming the setting and where it
 * came from (e.g. `invalid BRIDGE_PORT '70000' (environment): expected 0..65535`).
 *
 * struct dp_config owns its strings; dp_config_release() frees them.
 * dp_config_usage() prints the option reference used by `serve --help`.
 */
#ifndef DP_CONFIG_H
#define DP_CONFIG_H

#include <stddef.h>
#include <stdio.h>

#define DP_CONFIG_FILE_MAX (64 * 1024) /* bytes read from --config FILE */
#define DP_CONFIG_LINE_MAX 4096

struct dp_config {
	char *bind;                /* BIND, --bind; default 127.0.0.1 */
	int port;                  /* BRIDGE_PORT, --port; default 3000; 0 picks one */
	char *data_dir;            /* DATA_DIR, --data-dir; default ./var */
	char *db_path;             /* DB_PATH, --db; default <data_dir>/daemonpulse.db */
	char *daemon_api_url;      /* DAEMON_API_URL, --daemon-api-url; "" = none */
	char *daemon_api_key;      /* DAEMON_API_KEY (env or file only: no flag, argv is visible in ps) */
	char *lms_bin;             /* LMS_BIN, --lms-bin; default "lms" */
	int secure_cookies;        /* DP_SECURE_COOKIES, --secure-cookies / --tls-proxy */
	int trust_proxy;           /* DP_TRUST_PROXY, --trust-proxy: honour X-Forwarded-Proto/-For */
	int metrics_public;        /* DP_METRICS_PUBLIC, --metrics-public: /metrics without a session */
	int access_log;            /* DP_ACCESS_LOG, --access-log on|off; default on */
	int log_level;             /* DP_LOG_LEVEL, --log-level (enum dp_log_level); default info */
	int request_timeout_ms;    /* DP_REQUEST_TIMEOUT_MS, --request-timeout-ms; default 30000 */
	int idle_timeout_ms;       /* DP_IDLE_TIMEOUT_MS, --idle-timeout-ms; default 60000 */
	int shutdown_grace_ms;     /* DP_SHUTDOWN_GRACE_MS, --shutdown-grace-ms; default 5000 */
	size_t max_body_bytes;     /* DP_MAX_BODY_BYTES, --max-body-bytes; default 1 MiB */
	int health_interval_ms;    /* DP_HEALTH_INTERVAL_MS, --health-interval-ms; default 5000 */
	int telemetry_interval_ms; /* DP_TELEMETRY_INTERVAL_MS, --telemetry-interval-ms; default 2000 */
	char *nvml_library;        /* DP_NVML_LIBRARY, --nvml-library; default libnvidia-ml.so.1, "off" */
	char *sysfs_root;          /* DP_SYSFS_ROOT, --sysfs-root; default /sys */
	char *procfs_root;         /* DP_PROCFS_ROOT, --procfs-root; default /proc */
	int alert_vram_percent;    /* DP_ALERT_VRAM_PERCENT, --alert-vram-percent; default 90 */
	int alert_temp_c;          /* DP_ALERT_TEMP_C, --alert-temp-c; default 85 */
	int audit_retention_days;  /* DP_AUDIT_RETENTION_DAYS, --audit-retention-days; default 365, 0 = forever */
	char *config_file;         /* --config FILE (flag only) */
};

/* Zero + defaults. */
void dp_config_init(struct dp_config *c);
/* Free owned strings; leaves the struct zeroed. */
void dp_config_release(struct dp_config *c);

/*
 * Load from `argv` (argv[0] is the subcommand name, options follow) and
 * `envp` (NULL-terminated "KEY=value" array, e.g. environ; NULL for none).
 * Returns 0; 1 when --help was given (usage printed to `out`); or -EINVAL
 * with a heap message in *err (caller frees) naming the bad setting.
 */
int dp_config_load(struct dp_config *c, int argc, char **argv, char **envp, FILE *out, char **err);

/* Print every option, its environment name and default. */
void dp_config_usage(FILE *out);

#endif
