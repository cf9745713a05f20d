/*
 * lms_args.c - commander.js-like option parsing for the `lms` stand-in.
 *
 * Accepts "--name value", "--name=value", "-x value", "-x" flags and
 * positionals, plus the real CLI's hidden global options --log-level,
 * --quiet and --verbose. Errors are printed the way commander prints them
 * ("error: unknown option '--x'") and make the command exit 1.
 */
#include "lms.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct dp_lms_opt global_opts[] = {
        {"log-level", 0, 1},
        {"quiet", 0, 0},
        {"verbose", 0, 0},
};

static int find_long(const struct dp_lms_opt *opts, size_t n, const char *name, size_t len)
{
	for (size_t i = 0; i < n; i++)
		if (strlen(opts[i].name) == len && memcmp(opts[i].name, name, len) == 0)
			return (int)i;
	return -1;
}

static int find_short(const struct dp_lms_opt *opts, size_t n, char c)
{
	for (size_t i = 0; i < n; i++)
		if (opts[i].short_name && opts[i].short_name == c)
			return (int)i;
	return -1;
}

static int apply_global(const char *name, const char *value)
{
	if (strcmp(name, "quiet") == 0) {
		dp_lms_set_quiet(1);
	} else if (strcmp(name, "log-level") == 0) {
		if (strcmp(value, "debug") && strcmp(value, "info") && strcmp(value, "warn") &&
		    strcmp(value, "error") && strcmp(value, "none")) {
			fprintf(dp_lms_errout(), "error: option '--log-level <level>' argument '%s' is invalid\n",
			        value);
			return -EINVAL;
		}
		if (strcmp(value, "error") == 0 || strcmp(value, "none") == 0 || strcmp(value, "warn") == 0)
			dp_lms_set_quiet(1);
	}
	return 0;
}

int dp_lms_args_parse(struct dp_lms_args *a, const struct dp_lms_opt *opts, size_t nopts, size_t max_pos, int argc,
                      char **argv)
{
	memset(a, 0, sizeof(*a));
	if (nopts > DP_LMS_MAX_OPTS)
		nopts = DP_LMS_MAX_OPTS;
	if (max_pos > DP_LMS_MAX_POS)
		max_pos = DP_LMS_MAX_POS;
	a->opts = opts;
	a->nopts = nopts;
	int only_pos = 0;
	for (int i = 0; i < argc; i++) {
		const char *s = argv[i];
		if (only_pos || s[0] != '-' || s[1] == '\0') {
			if (a->npos >= max_pos) {
				fprintf(dp_lms_errout(),
				        "error: too many arguments. Expected %zu argument%s but got %zu.\n", max_pos,
				        max_pos == 1 ? "" : "s", a->npos + 1);
				return -EINVAL;
			}
			a->pos[a->npos++] = s;
			continue;
		}
		if (strcmp(s, "--") == 0) {
			only_pos = 1;
			continue;
		}
		const struct dp_lms_opt *o = NULL;
		int idx = -1, global = 0;
		const char *inline_val = NULL;
		if (s[1] == '-') {
			const char *name = s + 2;
			const char *eq = strchr(name, '=');
			size_t len = eq ? (size_t)(eq - name) : strlen(name);
			idx = find_long(opts, nopts, name, len);
			if (idx < 0) {
				idx = find_long(global_opts, sizeof(global_opts) / sizeof(global_opts[0]), name, len);
				global = idx >= 0;
			}
			if (eq)
				inline_val = eq + 1;
		} else {
			if (s[2] != '\0') {
				/* "-c4096": short option with attached value */
				idx = find_short(opts, nopts, s[1]);
				if (idx >= 0 && opts[idx].takes_value)
					inline_val = s + 2;
				else
					idx = -1;
			} else {
				idx = find_short(opts, nopts, s[1]);
			}
		}
		if (idx < 0) {
			fprintf(dp_lms_errout(), "error: unknown option '%s'\n", s);
			return -EINVAL;
		}
		o = global ? &global_opts[idx] : &opts[idx];
		const char *val = "";
		if (o->takes_value) {
			if (inline_val) {
				val = inline_val;
			} else if (i + 1 < argc) {
				val = argv[++i];
			} else {
				fprintf(dp_lms_errout(), "error: option '--%s <value>' argument missing\n", o->name);
				return -EINVAL;
			}
		} else if (inline_val) {
			fprintf(dp_lms_errout(), "error: option '--%s' does not take an argument\n", o->name);
			return -EINVAL;
		}
		if (global) {
			if (apply_global(o->name, val) < 0)
				return -EINVAL;
		} else {
			a->values[idx] = val;
		}
	}
	return 0;
}

const char *dp_lms_args_get(const struct dp_lms_args *a, const char *name)
{
	int idx = find_long(a->opts, a->nopts, name, strlen(name));
	return idx < 0 ? NULL : a->values[idx];
}

int dp_lms_args_has(const struct dp_lms_args *a, const char *name)
{
	return dp_lms_args_get(a, name) != NULL;
}

int dp_lms_args_int(const struct dp_lms_args *a, const char *name, long min, long max, long *out)
{
	const char *v = dp_lms_args_get(a, name);
	if (!v)
		return -ENOENT;
	char *end = NULL;
	errno = 0;
	long n = strtol(v, &end, 10);
	if (errno || end == v || *end != '\0' || n < min || n > max) {
		fprintf(dp_lms_errout(), "error: option '--%s' argument '%s' is invalid. Must be an integer", name, v);
		if (max == LONG_MAX)
			fprintf(dp_lms_errout(), " of at least %ld\n", min);
		else
			fprintf(dp_lms_errout(), " between %ld and %ld\n", min, max);
		return -EINVAL;
	}
	*out = n;
	return 0;
}
