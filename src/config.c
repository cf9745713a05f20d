/*
 * config.c - flags > environment > --config FILE > defaults (see config.h).
 *
 * One table describes every setting: its environment/file key, its flag,
 * its kind (which decides parsing and validation) and its help text, so
 * `serve --help`, the parser and the file reader cannot drift apart.
 * Sources are applied weakest first (defaults, file, environment, flags);
 * each value is validated when applied so the error names the source.
 * Secret values (DAEMON_API_KEY) are never echoed in an error.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "xmalloc.h"

enum kind { K_ADDR, K_PORT, K_PATH, K_URL, K_SECRET, K_BOOL, K_LEVEL, K_MS, K_SIZE, K_INT };

struct opt {
	const char *key;   /* environment variable and file key */
	const char *flag;  /* "--port", NULL when there is no flag */
	const char *alias; /* second flag spelling or NULL */
	enum kind kind;
	size_t off;
	long long min, max; /* K_MS / K_SIZE / K_INT bounds */
	const char *meta;
	const char *help;
	const char *def; /* shown in --help */
};

#define OFF(f) offsetof(struct dp_config, f)

static const struct opt opts[] = {
        {"BIND", "--bind", NULL, K_ADDR, OFF(bind), 0, 0, "ADDR",
         "address to listen on (IPv4/IPv6 literal or localhost)", "127.0.0.1"},
        {"BRIDGE_PORT", "--port", NULL, K_PORT, OFF(port), 0, 65535, "PORT", "TCP port; 0 picks a free one", "3000"},
        {"DATA_DIR", "--data-dir", NULL, K_PATH, OFF(data_dir), 0, 0, "DIR",
         "directory for the database and generated keys", "./var"},
        {"DB_PATH", "--db", NULL, K_PATH, OFF(db_path), 0, 0, "FILE", "SQLite database file",
         "<data-dir>/daemonpulse.db"},
        {"DAEMON_API_URL", "--daemon-api-url", NULL, K_URL, OFF(daemon_api_url), 0, 0, "URL",
         "default LM Studio target, e.g. http://127.0.0.1:1234; empty for none", "(none)"},
        {"DAEMON_API_KEY", NULL, NULL, K_SECRET, OFF(daemon_api_key), 0, 0, "KEY",
         "LM Studio API token for the default target (environment or config file only)", "(none)"},
        {"LMS_BIN", "--lms-bin", NULL, K_PATH, OFF(lms_bin), 0, 0, "PATH", "the lms command-line tool", "lms"},
        {"DP_SECURE_COOKIES", "--secure-cookies", "--tls-proxy", K_BOOL, OFF(secure_cookies), 0, 0, "BOOL",
         "mark the session cookie Secure (set when served over https or behind a TLS proxy)", "false"},
        {"DP_TRUST_PROXY", "--trust-proxy", NULL, K_BOOL, OFF(trust_proxy), 0, 0, "BOOL",
         "a reverse proxy in front sets X-Forwarded-Proto/-For (never enable without one)", "false"},
        {"DP_METRICS_PUBLIC", "--metrics-public", NULL, K_BOOL, OFF(metrics_public), 0, 0, "BOOL",
         "serve GET /metrics without a session (default: viewer role needed)", "false"},
        {"DP_ACCESS_LOG", "--access-log", NULL, K_BOOL, OFF(access_log), 0, 0, "BOOL",
         "one stderr line per request (method, path without query, status, bytes, time, peer)", "true"},
        {"DP_LOG_LEVEL", "--log-level", NULL, K_LEVEL, OFF(log_level), 0, 0, "LEVEL",
         "debug, info, warn, error or none", "info"},
        {"DP_REQUEST_TIMEOUT_MS", "--request-timeout-ms", NULL, K_MS, OFF(request_timeout_ms), 100, 3600000, "MS",
         "a request's head and body must arrive within this time", "30000"},
        {"DP_IDLE_TIMEOUT_MS", "--idle-timeout-ms", NULL, K_MS, OFF(idle_timeout_ms), 100, 86400000, "MS",
         "close keep-alive connections idle for this long", "60000"},
        {"DP_SHUTDOWN_GRACE_MS", "--shutdown-grace-ms", NULL, K_MS, OFF(shutdown_grace_ms), 0, 600000, "MS",
         "on SIGINT/SIGTERM, let in-flight requests finish for up to this long", "5000"},
        {"DP_MAX_BODY_BYTES", "--max-body-bytes", NULL, K_SIZE, OFF(max_body_bytes), 1024, 64 << 20, "BYTES",
         "largest accepted request body (larger gets 413)", "1048576"},
        {"DP_HEALTH_INTERVAL_MS", "--health-interval-ms", NULL, K_MS, OFF(health_interval_ms), 100, 3600000, "MS",
         "poll each LM Studio target this often (one poll per target, backoff while down)", "5000"},
        /* GPU telemetry (docs/api-telemetry.md) */
        {"DP_TELEMETRY_INTERVAL_MS", "--telemetry-interval-ms", NULL, K_MS, OFF(telemetry_interval_ms), 250, 60000,
         "MS", "sample GPU telemetry this often (NVML/amdgpu off the loop, simulator over HTTP)", "2000"},
        {"DP_NVML_LIBRARY", "--nvml-library", NULL, K_PATH, OFF(nvml_library), 0, 0, "PATH",
         "NVML library to dlopen; \"off\" disables NVIDIA telemetry", "libnvidia-ml.so.1"},
        {"DP_SYSFS_ROOT", "--sysfs-root", NULL, K_PATH, OFF(sysfs_root), 0, 0, "DIR", "sysfs root for amdgpu telemetry",
         "/sys"},
        {"DP_PROCFS_ROOT", "--procfs-root", NULL, K_PATH, OFF(procfs_root), 0, 0, "DIR",
         "procfs root for per-process VRAM attribution", "/proc"},
        {"DP_ALERT_VRAM_PERCENT", "--alert-vram-percent", NULL, K_INT, OFF(alert_vram_percent), 1, 100, "PERCENT",
         "alert when a GPU's VRAM use reaches this share of its total", "90"},
        {"DP_ALERT_TEMP_C", "--alert-temp-c", NULL, K_INT, OFF(alert_temp_c), 1, 150, "CELSIUS",
         "alert when a GPU's temperature reaches this", "85"},
        {"DP_AUDIT_RETENTION_DAYS", "--audit-retention-days", NULL, K_INT, OFF(audit_retention_days), 0, 36500, "DAYS",
         "delete audit entries older than this, hourly (0 keeps them forever)", "365"},
};
#define NOPTS (sizeof(opts) / sizeof(opts[0]))

void dp_config_init(struct dp_config *c)
{
	memset(c, 0, sizeof(*c));
	c->bind = xstrdup("127.0.0.1");
	c->port = 3000;
	c->data_dir = xstrdup("./var");
	c->daemon_api_url = xstrdup("");
	c->daemon_api_key = xstrdup("");
	c->lms_bin = xstrdup("lms");
	c->access_log = 1;
	c->log_level = DP_LOG_INFO;
	c->request_timeout_ms = 30000;
	c->idle_timeout_ms = 60000;
	c->shutdown_grace_ms = 5000;
	c->max_body_bytes = 1 << 20;
	c->health_interval_ms = 5000;
	c->telemetry_interval_ms = 2000;
	c->nvml_library = xstrdup("libnvidia-ml.so.1");
	c->sysfs_root = xstrdup("/sys");
	c->procfs_root = xstrdup("/proc");
	c->alert_vram_percent = 90;
	c->alert_temp_c = 85;
	c->audit_retention_days = 365;
}

void dp_config_release(struct dp_config *c)
{
	free(c->bind);
	free(c->data_dir);
	free(c->db_path);
	free(c->daemon_api_url);
	free(c->daemon_api_key);
	free(c->lms_bin);
	free(c->config_file);
	free(c->nvml_library);
	free(c->sysfs_root);
	free(c->procfs_root);
	memset(c, 0, sizeof(*c));
}

void dp_config_usage(FILE *out)
{
	fprintf(out, "usage: daemonpulse serve [options]\n\n"
	             "Runs the control plane. Every option can also be set with the environment\n"
	             "variable named in brackets, or as `NAME = value` in a --config file.\n"
	             "Precedence: flags > environment > config file > defaults. An invalid value\n"
	             "stops start-up with a message naming the setting.\n\n");
	for (size_t i = 0; i < NOPTS; i++) {
		const struct opt *o = &opts[i];
		char left[64];
		if (o->flag && o->kind == K_BOOL)
			snprintf(left, sizeof(left), "%s%s%s", o->flag, o->alias ? ", " : "", o->alias ? o->alias : "");
		else if (o->flag)
			snprintf(left, sizeof(left), "%s %s", o->flag, o->meta);
		else
			snprintf(left, sizeof(left), "(no flag)");
		fprintf(out, "  %-30s %s\n  %-30s [%s] default: %s\n", left, o->help, "", o->key, o->def);
	}
	fprintf(out, "  %-30s %s\n", "--config FILE", "read settings from FILE (`KEY = value` lines, # comments)");
	fprintf(out, "  %-30s %s\n", "-h, --help", "show this help");
	fprintf(out, "\nBooleans accept 1/0, true/false, yes/no, on/off; a boolean flag without a\n"
	             "value means true (--secure-cookies). /metrics needs a viewer session or API\n"
	             "token unless --metrics-public is set.\n");
}

/* ------------------------------------------------------------- validation */

static int fail(char **err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(char **err, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (err)
		*err = xstrdup(msg);
	return -EINVAL;
}

static int has_ctl(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 1;
	return 0;
}

static int parse_ll(const char *v, long long min, long long max, long long *out)
{
	if (!*v)
		return -1;
	char *end;
	errno = 0;
	long long n = strtoll(v, &end, 10);
	if (errno || *end || n < min || n > max)
		return -1;
	*out = n;
	return 0;
}

static int parse_bool(const char *v)
{
	static const char *yes[] = {"1", "true", "yes", "on"}, *no[] = {"0", "false", "no", "off"};
	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(v, yes[i]) == 0)
			return 1;
		if (strcasecmp(v, no[i]) == 0)
			return 0;
	}
	return -1;
}

/* Apply `v` to setting `o`; `src` describes the source for messages. */
static int apply(struct dp_config *c, const struct opt *o, const char *v, const char *src, char **err)
{
	char *base = (char *)c;
	const char *shown = o->kind == K_SECRET ? "(hidden)" : v;
	char sv[80];
	/* keep messages one short line even for absurd values */
	if (o->kind != K_SECRET && strlen(v) > 64) {
		snprintf(sv, sizeof(sv), "%.60s...", v);
		shown = sv;
	}
	const char *why = NULL;
	long long n;
	switch (o->kind) {
	case K_ADDR: {
		unsigned char tmp[16];
		if (strcmp(v, "localhost") != 0 && inet_pton(AF_INET, v, tmp) != 1 && inet_pton(AF_INET6, v, tmp) != 1)
			why = "expected an IPv4 or IPv6 address or localhost";
		break;
	}
	case K_PORT:
		if (parse_ll(v, 0, 65535, &n) < 0)
			why = "expected a port number 0..65535";
		else
			*(int *)(base + o->off) = (int)n;
		break;
	case K_PATH:
		if (!*v)
			why = "must not be empty";
		else if (strlen(v) > PATH_MAX - 64)
			why = "path too long";
		else if (has_ctl(v))
			why = "contains control characters";
		break;
	case K_URL:
		if (strlen(v) > 2048)
			why = "too long";
		else if (has_ctl(v) || strchr(v, ' '))
			why = "contains spaces or control characters";
		else if (*v && strncmp(v, "http://", 7) != 0 && strncmp(v, "https://", 8) != 0)
			why = "expected an http:// or https:// URL";
		else if (*v && !v[strncmp(v, "http://", 7) == 0 ? 7 : 8])
			why = "missing host";
		break;
	case K_SECRET:
		if (strlen(v) > 1024)
			why = "too long";
		else if (has_ctl(v))
			why = "contains control characters";
		break;
	case K_BOOL: {
		int b = parse_bool(v);
		if (b < 0)
			why = "expected true or false";
		else
			*(int *)(base + o->off) = b;
		break;
	}
	case K_LEVEL: {
		int l = dp_log_parse_level(v);
		if (l < 0)
			why = "expected debug, info, warn, error or none";
		else
			*(int *)(base + o->off) = l;
		break;
	}
	case K_MS:
		if (parse_ll(v, o->min, o->max, &n) < 0)
			return fail(err, "invalid %s '%s' (%s): expected milliseconds %lld..%lld", o->key, shown, src,
			            o->min, o->max);
		*(int *)(base + o->off) = (int)n;
		break;
	case K_SIZE:
		if (parse_ll(v, o->min, o->max, &n) < 0)
			return fail(err, "invalid %s '%s' (%s): expected bytes %lld..%lld", o->key, shown, src, o->min,
			            o->max);
		*(size_t *)(base + o->off) = (size_t)n;
		break;
	case K_INT:
		if (parse_ll(v, o->min, o->max, &n) < 0)
			return fail(err, "invalid %s '%s' (%s): expected an integer %lld..%lld", o->key, shown, src,
			            o->min, o->max);
		*(int *)(base + o->off) = (int)n;
		break;
	}
	if (why)
		return fail(err, "invalid %s '%s' (%s): %s", o->key, shown, src, why);
	if (o->kind == K_ADDR || o->kind == K_PATH || o->kind == K_URL || o->kind == K_SECRET) {
		char **slot = (char **)(base + o->off);
		free(*slot);
		*slot = xstrdup(v);
	}
	return 0;
}

static const struct opt *by_key(const char *k, size_t n)
{
	for (size_t i = 0; i < NOPTS; i++)
		if (strlen(opts[i].key) == n && memcmp(opts[i].key, k, n) == 0)
			return &opts[i];
	return NULL;
}

static const struct opt *by_flag(const char *f, size_t n)
{
	for (size_t i = 0; i < NOPTS; i++) {
		const struct opt *o = &opts[i];
		if (o->flag && strlen(o->flag) == n && memcmp(o->flag, f, n) == 0)
			return o;
		if (o->alias && strlen(o->alias) == n && memcmp(o->alias, f, n) == 0)
			return o;
	}
	return NULL;
}

/* ------------------------------------------------------------- the file */

static char *trim(char *s, char *end)
{
	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
		end--;
	*end = '\0';
	return s;
}

static int load_file(struct dp_config *c, const char *path, char **err)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return fail(err, "cannot read config file '%s': %s", path, strerror(errno));
	char *data = xmalloc(DP_CONFIG_FILE_MAX + 1);
	size_t n = fread(data, 1, DP_CONFIG_FILE_MAX + 1, f);
	int rerr = ferror(f);
	fclose(f);
	if (rerr) {
		free(data);
		return fail(err, "cannot read config file '%s'", path);
	}
	if (n > DP_CONFIG_FILE_MAX) {
		free(data);
		return fail(err, "config file '%s' is larger than %d bytes", path, DP_CONFIG_FILE_MAX);
	}
	data[n] = '\0';
	if (memchr(data, '\0', n)) {
		free(data);
		return fail(err, "config file '%s' contains a NUL byte", path);
	}
	unsigned char seen[NOPTS] = {0};
	int rc = 0, lineno = 0;
	char *p = data;
	while (*p && rc == 0) {
		lineno++;
		char *nl = strchr(p, '\n');
		char *end = nl ? nl : p + strlen(p);
		char *next = nl ? nl + 1 : end;
		if ((size_t)(end - p) > DP_CONFIG_LINE_MAX) {
			rc = fail(err, "%s line %d: line longer than %d bytes", path, lineno, DP_CONFIG_LINE_MAX);
			break;
		}
		char *line = trim(p, end);
		p = next;
		if (!*line || *line == '#')
			continue;
		char *eq = strchr(line, '=');
		if (!eq) {
			rc = fail(err, "%s line %d: expected KEY = value", path, lineno);
			break;
		}
		char *key = trim(line, eq);
		char *val = trim(eq + 1, eq + 1 + strlen(eq + 1));
		size_t vl = strlen(val);
		if (vl >= 2 && ((val[0] == '"' && val[vl - 1] == '"') || (val[0] == '\'' && val[vl - 1] == '\''))) {
			val[vl - 1] = '\0';
			val++;
		}
		const struct opt *o = by_key(key, strlen(key));
		if (!o) {
			char k[48];
			snprintf(k, sizeof(k), "%s", key);
			rc = fail(err, "%s line %d: unknown setting '%s'", path, lineno, k);
			break;
		}
		if (seen[o - opts]++) {
			rc = fail(err, "%s line %d: %s set twice", path, lineno, o->key);
			break;
		}
		char src[PATH_MAX + 32];
		snprintf(src, sizeof(src), "%s line %d", path, lineno);
		rc = apply(c, o, val, src, err);
	}
	free(data);
	return rc;
}

/* ------------------------------------------------------------- loading */

static const char *env_get(char **envp, const char *key)
{
	if (!envp)
		return NULL;
	size_t kl = strlen(key);
	for (char **e = envp; *e; e++)
		if (strncmp(*e, key, kl) == 0 && (*e)[kl] == '=')
			return *e + kl + 1;
	return NULL;
}

int dp_config_load(struct dp_config *c, int argc, char **argv, char **envp, FILE *out, char **err)
{
	if (err)
		*err = NULL;
	/* pass 1: collect flags (validated later, strongest last) */
	const char *flagval[NOPTS] = {0};
	const char *cfgfile = NULL;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			dp_config_usage(out ? out : stdout);
			return 1;
		}
		if (strncmp(a, "--", 2) != 0)
			return fail(err, "unexpected argument '%.64s' (see daemonpulse serve --help)", a);
		const char *eq = strchr(a, '=');
		size_t fl = eq ? (size_t)(eq - a) : strlen(a);
		const char *val = eq ? eq + 1 : NULL;
		if (fl == 8 && memcmp(a, "--config", 8) == 0) {
			if (!val && i + 1 >= argc)
				return fail(err, "option '--config' needs a file name");
			cfgfile = val ? val : argv[++i];
			continue;
		}
		const struct opt *o = by_flag(a, fl);
		if (!o)
			return fail(err, "unknown option '%.*s' (see daemonpulse serve --help)",
			            (int)(fl > 64 ? 64 : fl), a);
		if (!val) {
			if (o->kind == K_BOOL)
				val = "true";
			else if (i + 1 >= argc)
				return fail(err, "option '%s' needs a value", o->flag);
			else
				val = argv[++i];
		}
		flagval[o - opts] = val;
	}
	/* config file, then environment, then flags */
	if (cfgfile) {
		free(c->config_file);
		c->config_file = xstrdup(cfgfile);
		int rc = load_file(c, cfgfile, err);
		if (rc)
			return rc;
	}
	for (size_t i = 0; i < NOPTS; i++) {
		const char *v = env_get(envp, opts[i].key);
		if (!v || !*v)
			continue;
		int rc = apply(c, &opts[i], v, "environment", err);
		if (rc)
			return rc;
	}
	for (size_t i = 0; i < NOPTS; i++) {
		if (!flagval[i])
			continue;
		char src[48];
		snprintf(src, sizeof(src), "%s", opts[i].flag);
		int rc = apply(c, &opts[i], flagval[i], src, err);
		if (rc)
			return rc;
	}
	if (!c->db_path) {
		size_t n = strlen(c->data_dir);
		c->db_path = xasprintf("%s%sdaemonpulse.db", c->data_dir, n && c->data_dir[n - 1] == '/' ? "" : "/");
	}
	return 0;
}
