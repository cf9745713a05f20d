/*
 * lms_models.c - `lms ps`, `lms ls`, `lms load`, `lms unload` (reference §6.2).
 *
 * JSON output is what the simulator's /__sim/lms/ backend returns, which
 * sim/README.md documents as the real CLI's shapes (ModelInfo[], loaded
 * instance info); it is printed compact on one line like JSON.stringify.
 * Text output is a simple table like the real CLI's. `load` has no --json
 * (as the real CLI); its messages and the --estimate-only report go to
 * stderr in the real CLI's wording.
 */
#include "lms.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unistd.h>

#include "xmalloc.h"

#define HOST_OPTS                                                                                                      \
	{"host", 0, 1},                                                                                                \
	{                                                                                                              \
		"port", 0, 1                                                                                           \
	}
#define NOPTS(a) (sizeof(a) / sizeof((a)[0]))

enum { CALL_TIMEOUT_MS = 30000, LOAD_TIMEOUT_MS = 600000 };

static int setup(struct dp_lms_target *t, const struct dp_lms_args *a)
{
	if (dp_lms_target_from_env(t) < 0 || dp_lms_target_from_args(t, a) < 0)
		return -EINVAL;
	return 0;
}

static const char *str(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	return json_is_string(v) ? json_string_value(v) : "";
}

static double num(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	return json_is_number(v) ? json_number_value(v) : 0;
}

static void upper(char *dst, size_t n, const char *s)
{
	size_t i = 0;
	for (; s[i] && i + 1 < n; i++)
		dst[i] = (s[i] >= 'a' && s[i] <= 'z') ? (char)(s[i] - 32) : s[i];
	dst[i] = '\0';
}

/* ---- ps ---- */

static const struct dp_lms_opt ps_opts[] = {{"json", 0, 0}, HOST_OPTS};

int dp_lms_models_ps(int argc, char **argv)
{
	struct dp_lms_args a;
	struct dp_lms_target t;
	if (dp_lms_args_parse(&a, ps_opts, NOPTS(ps_opts), 0, argc, argv) < 0 || setup(&t, &a) < 0)
		return 1;
	json_t *j;
	long st;
	if (dp_lms_call(&t, "/__sim/lms/ps", NULL, CALL_TIMEOUT_MS, &j, &st) < 0)
		return 1;
	if (st != 200 || !json_is_array(j)) {
		dp_lms_err("%s", dp_lms_error_text(j, "failed to list loaded models"));
		json_decref(j);
		return 1;
	}
	if (dp_lms_args_has(&a, "json")) {
		dp_lms_print_json(j, 0);
		json_decref(j);
		return 0;
	}
	if (json_array_size(j) == 0) {
		printf("\n   No models are currently loaded\n\n   To load a model, run:\n\n       lms load\n\n");
		json_decref(j);
		return 0;
	}
	struct dp_lms_table tb;
	dp_lms_table_init(&tb, 7);
	const char *hdr[] = {"IDENTIFIER", "MODEL", "STATUS", "SIZE", "CONTEXT", "PARALLEL", "TTL"};
	dp_lms_table_add(&tb, hdr);
	size_t i;
	json_t *m;
	json_array_foreach(j, i, m)
	{
		char status[32], size[32], ctx[32], par[32], ttl[48];
		upper(status, sizeof(status), str(m, "status"));
		dp_lms_fmt_bytes1000(size, sizeof(size), num(m, "sizeBytes"));
		snprintf(ctx, sizeof(ctx), "%.0f", num(m, "contextLength"));
		json_t *p = json_object_get(m, "parallel");
		if (json_is_number(p))
			snprintf(par, sizeof(par), "%.0f", json_number_value(p));
		else
			snprintf(par, sizeof(par), "-");
		json_t *tm = json_object_get(m, "ttlMs");
		if (json_is_number(tm))
			snprintf(ttl, sizeof(ttl), "%.0fs", json_number_value(tm) / 1000.0);
		else
			snprintf(ttl, sizeof(ttl), "-");
		const char *row[] = {str(m, "identifier"), str(m, "modelKey"), status, size, ctx, par, ttl};
		dp_lms_table_add(&tb, row);
	}
	putchar('\n');
	dp_lms_table_print(&tb, "");
	putchar('\n');
	dp_lms_table_release(&tb);
	json_decref(j);
	return 0;
}

/* ---- ls ---- */

static const struct dp_lms_opt ls_opts[] = {
        {"json", 0, 0}, {"llm", 0, 0}, {"embedding", 0, 0}, {"variants", 0, 0}, {"detailed", 0, 0}, HOST_OPTS,
};

static int ls_keep(json_t *m, int llm, int emb, const char *key)
{
	const char *type = str(m, "type");
	if ((llm || emb) && !((llm && strcmp(type, "llm") == 0) || (emb && strcmp(type, "embedding") == 0)))
		return 0;
	if (key && strcmp(str(m, "modelKey"), key) != 0)
		return 0;
	return 1;
}

static void ls_section(json_t *all, const char *type, const char *title)
{
	struct dp_lms_table tb;
	dp_lms_table_init(&tb, 4);
	const char *hdr[] = {title, "PARAMS", "ARCH", "SIZE"};
	dp_lms_table_add(&tb, hdr);
	size_t i, n = 0;
	json_t *m;
	json_array_foreach(all, i, m)
	{
		if (strcmp(str(m, "type"), type) != 0)
			continue;
		char size[32];
		dp_lms_fmt_bytes1000(size, sizeof(size), num(m, "sizeBytes"));
		const char *row[] = {str(m, "modelKey"), str(m, "paramsString"), str(m, "architecture"), size};
		dp_lms_table_add(&tb, row);
		n++;
	}
	if (n) {
		dp_lms_table_print(&tb, "");
		putchar('\n');
	}
	dp_lms_table_release(&tb);
}

int dp_lms_models_ls(int argc, char **argv)
{
	struct dp_lms_args a;
	struct dp_lms_target t;
	if (dp_lms_args_parse(&a, ls_opts, NOPTS(ls_opts), 1, argc, argv) < 0 || setup(&t, &a) < 0)
		return 1;
	json_t *j;
	long st;
	if (dp_lms_call(&t, "/__sim/lms/ls", NULL, CALL_TIMEOUT_MS, &j, &st) < 0)
		return 1;
	if (st != 200 || !json_is_array(j)) {
		dp_lms_err("%s", dp_lms_error_text(j, "failed to list downloaded models"));
		json_decref(j);
		return 1;
	}
	int llm = dp_lms_args_has(&a, "llm"), emb = dp_lms_args_has(&a, "embedding");
	const char *key = a.npos ? a.pos[0] : NULL;
	json_t *sel = json_array();
	size_t i;
	json_t *m;
	double total = 0;
	json_array_foreach(j, i, m)
	{
		if (ls_keep(m, llm, emb, key)) {
			json_array_append(sel, m);
			total += num(m, "sizeBytes");
		}
	}
	json_decref(j);
	if (key && json_array_size(sel) == 0) {
		dp_lms_err("No model found with key \"%s\".", key);
		json_decref(sel);
		return 1;
	}
	if (dp_lms_args_has(&a, "json")) {
		if (dp_lms_args_has(&a, "variants")) {
			/* `--variants --json` -> [{model, variants:[ModelInfo…]}] (§6.2); the
			 * simulator has one variant per model: the model itself */
			json_t *out = json_array();
			json_array_foreach(sel, i, m) json_array_append_new(
			        out, json_pack("{s:s,s:[O]}", "model", str(m, "modelKey"), "variants", m));
			dp_lms_print_json(out, 0);
			json_decref(out);
		} else {
			dp_lms_print_json(sel, 0);
		}
		json_decref(sel);
		return 0;
	}
	char tot[32];
	dp_lms_fmt_bytes1000(tot, sizeof(tot), total);
	size_t n = json_array_size(sel);
	if (n == 0) {
		printf("\nYou have 0 models. To download a model, run:\n\n    lms get\n\n");
		json_decref(sel);
		return 0;
	}
	printf("\nYou have %zu model%s, taking up %s of disk space.\n\n", n, n == 1 ? "" : "s", tot);
	if (!emb || llm)
		ls_section(sel, "llm", "LLM");
	if (!llm || emb)
		ls_section(sel, "embedding", "EMBEDDING");
	json_decref(sel);
	return 0;
}

/* ---- load ---- */

static const struct dp_lms_opt load_opts[] = {
        {"gpu", 0, 1},        {"context-length", 'c', 1},
        {"parallel", 0, 1},   {"ttl", 0, 1},
        {"identifier", 0, 1}, {"estimate-only", 0, 0},
        {"yes", 'y', 0},      {"exact", 0, 0},
        {"local", 0, 0},      HOST_OPTS,
};

/* reference §6.2: Ctrl-C cancels a load -> exit 1 (async-signal-safe: write + _exit) */
static void on_load_sigint(int sig)
{
	static const char msg[] = "Load cancelled.\n";
	(void)sig;
	ssize_t n = write(STDERR_FILENO, msg, sizeof(msg) - 1);
	(void)n;
	_exit(1);
}

/* reference §6.2: --gpu off|max|0..1 (SDK gpu.ratio). Returns ratio, -1 on error. */
static double parse_gpu(const char *v)
{
	if (strcmp(v, "off") == 0)
		return 0;
	if (strcmp(v, "max") == 0)
		return 1;
	char *end = NULL;
	errno = 0;
	double d = strtod(v, &end);
	if (errno || end == v || *end || !(d >= 0 && d <= 1)) {
		fprintf(dp_lms_errout(),
		        "error: option '--gpu <offload-ratio>' argument '%s' is invalid. "
		        "Number out of range, must be between 0 and 1\n",
		        v);
		return -1;
	}
	return d;
}

static void print_estimate(json_t *r, const char *key, long ctx, double gpu)
{
	/* reference §6.2 "--estimate-only prints to stderr, plain text" */
	json_t *mem = json_object_get(r, "memory");
	char gpu_mem[32], total[32], pct[40];
	dp_lms_fmt_bytes1024(gpu_mem, sizeof(gpu_mem), num(mem, "totalVramBytes"));
	dp_lms_fmt_bytes1024(total, sizeof(total), num(mem, "totalBytes"));
	fprintf(stderr, "Model: %s\n", key);
	if (ctx > 0)
		fprintf(stderr, "Context Length: %ld\n", ctx);
	if (gpu >= 0) {
		dp_lms_fmt_number(pct, sizeof(pct), gpu * 100);
		fprintf(stderr, "GPU Offload: %s%%\n", pct);
	}
	fprintf(stderr, "Estimated GPU Memory:   %s\n", gpu_mem);
	fprintf(stderr, "Estimated Total Memory: %s\n", total);
	if (strcmp(str(mem, "confidence"), "low") == 0)
		fprintf(stderr, "Confidence: LOW\n");
	fprintf(stderr, "\nEstimate: %s\n",
	        json_is_true(json_object_get(r, "passesGuardrails"))
	                ? "This model may be loaded based on your resource guardrails settings."
	                : "This model will fail to load based on your resource guardrails settings.");
}

int dp_lms_models_load(int argc, char **argv)
{
	struct dp_lms_args a;
	struct dp_lms_target t;
	if (dp_lms_args_parse(&a, load_opts, NOPTS(load_opts), 1, argc, argv) < 0 || setup(&t, &a) < 0)
		return 1;
	if (a.npos == 0) {
		/* the real CLI opens an interactive picker here; a stand-in cannot */
		dp_lms_err("A model key is required (the interactive model picker is not available).");
		return 1;
	}
	const char *key = a.pos[0];
	json_t *req = json_pack("{s:s}", "modelKey", key);
	double gpu = -1;
	long ctx = 0, par = 0, ttl = 0;
	const char *g = dp_lms_args_get(&a, "gpu");
	if (g) {
		gpu = parse_gpu(g);
		if (gpu < 0)
			goto bad;
		if (strcmp(g, "off") == 0 || strcmp(g, "max") == 0)
			json_object_set_new(req, "gpu", json_string(g));
		else
			json_object_set_new(req, "gpu", json_real(gpu));
	}
	if (dp_lms_args_has(&a, "context-length")) {
		if (dp_lms_args_int(&a, "context-length", 1, INT_MAX, &ctx) < 0)
			goto bad;
		json_object_set_new(req, "contextLength", json_integer(ctx));
	}
	if (dp_lms_args_has(&a, "parallel")) {
		if (dp_lms_args_int(&a, "parallel", 1, 1024, &par) < 0)
			goto bad;
		json_object_set_new(req, "parallel", json_integer(par));
	}
	if (dp_lms_args_has(&a, "ttl")) {
		if (dp_lms_args_int(&a, "ttl", 1, INT_MAX, &ttl) < 0)
			goto bad;
		json_object_set_new(req, "ttlSeconds", json_integer(ttl));
	}
	const char *ident = dp_lms_args_get(&a, "identifier");
	if (ident)
		json_object_set_new(req, "identifier", json_string(ident));
	int estimate = dp_lms_args_has(&a, "estimate-only");
	if (estimate)
		json_object_set_new(req, "estimateOnly", json_true());

	char *body = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	if (!estimate) {
		struct sigaction sa;
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_load_sigint;
		sigemptyset(&sa.sa_mask);
		sigaction(SIGINT, &sa, NULL);
		dp_lms_info("Loading model \"%s\"...", key);
	}
	json_t *r;
	long st;
	int rc = dp_lms_call(&t, "/__sim/lms/load", body, LOAD_TIMEOUT_MS, &r, &st);
	free(body);
	if (rc < 0)
		return 1;
	if (st != 200) {
		dp_lms_err("%s", dp_lms_error_text(r, "failed to load the model"));
		json_decref(r);
		return 1;
	}
	if (estimate) {
		const char *mk = str(r, "modelKey");
		print_estimate(r, *mk ? mk : key, ctx, gpu);
		json_decref(r);
		return 0;
	}
	char size[32];
	dp_lms_fmt_bytes1000(size, sizeof(size), num(r, "sizeBytes"));
	dp_lms_info("Model loaded successfully in %.2fs. (%s)", num(r, "loadTimeMs") / 1000.0, size);
	dp_lms_info("To use the model in the API/SDK, use the identifier \"%s\".", str(r, "identifier"));
	json_decref(r);
	return 0;
bad:
	json_decref(req);
	return 1;
}

/* ---- unload ---- */

static const struct dp_lms_opt unload_opts[] = {{"all", 'a', 0}, HOST_OPTS};

int dp_lms_models_unload(int argc, char **argv)
{
	struct dp_lms_args a;
	struct dp_lms_target t;
	if (dp_lms_args_parse(&a, unload_opts, NOPTS(unload_opts), 1, argc, argv) < 0 || setup(&t, &a) < 0)
		return 1;
	json_t *req = NULL;
	json_t *r;
	long st;
	if (dp_lms_args_has(&a, "all")) {
		req = json_pack("{s:b}", "all", 1);
	} else if (a.npos) {
		req = json_pack("{s:s}", "identifier", a.pos[0]);
	} else {
		/* no identifier: unload the only loaded model, else the real CLI asks */
		if (dp_lms_call(&t, "/__sim/lms/ps", NULL, CALL_TIMEOUT_MS, &r, &st) < 0)
			return 1;
		size_t n = json_is_array(r) ? json_array_size(r) : 0;
		if (st != 200 || n != 1) {
			if (st == 200 && n == 0)
				dp_lms_err("No models to unload.");
			else
				dp_lms_err("Multiple models are loaded: give an identifier or --all.");
			json_decref(r);
			return 1;
		}
		req = json_pack("{s:s}", "identifier", str(json_array_get(r, 0), "identifier"));
		json_decref(r);
	}
	char *body = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	int rc = dp_lms_call(&t, "/__sim/lms/unload", body, CALL_TIMEOUT_MS, &r, &st);
	free(body);
	if (rc < 0)
		return 1;
	if (st != 200) {
		dp_lms_err("%s", dp_lms_error_text(r, "failed to unload"));
		json_decref(r);
		return 1;
	}
	json_t *list = json_object_get(r, "unloaded");
	size_t i;
	json_t *id;
	if (dp_lms_args_has(&a, "all") && json_array_size(list) == 0)
		dp_lms_info("No models to unload.");
	json_array_foreach(list, i, id)
	        dp_lms_info("Model \"%s\" unloaded.", json_string_value(id) ? json_string_value(id) : "");
	json_decref(r);
	return 0;
}
