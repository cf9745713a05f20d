/*
 * lms_fmt.c - output helpers of the `lms` stand-in: byte sizes as the real
 * CLI formats them (base 1000 for files, base 1024 for memory, reference
 * §6.2), JSON printing, stderr messages and plain-text tables.
 */
#include "lms.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xmalloc.h"

static int quiet;
static FILE *errout;

FILE *dp_lms_errout(void)
{
	return errout ? errout : stderr;
}

void dp_lms_set_errout(FILE *f)
{
	errout = f;
}

void dp_lms_set_quiet(int q)
{
	quiet = q;
}

void dp_lms_err(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("Error: ", dp_lms_errout());
	vfprintf(dp_lms_errout(), fmt, ap);
	fputc('\n', dp_lms_errout());
	va_end(ap);
}

void dp_lms_info(const char *fmt, ...)
{
	if (quiet)
		return;
	va_list ap;
	va_start(ap, fmt);
	vfprintf(dp_lms_errout(), fmt, ap);
	fputc('\n', dp_lms_errout());
	va_end(ap);
}

void dp_lms_fmt_bytes1024(char *dst, size_t n, double bytes)
{
	static const char *const units[] = {"Bytes", "KiB", "MiB", "GiB", "TiB"};
	if (!(bytes > 0)) { /* 0, negative or NaN */
		snprintf(dst, n, "0 GiB");
		return;
	}
	double e = floor(log(bytes) / log(1024.0));
	int idx = e < 0 ? 0 : e > 4 ? 4 : (int)e; /* clamp before the cast: inf is possible */
	double size = bytes / pow(1024.0, idx);
	if (idx == 0)
		snprintf(dst, n, "%.0f %s", size, units[idx]);
	else
		snprintf(dst, n, "%.2f %s", size, units[idx]);
}

void dp_lms_fmt_bytes1000(char *dst, size_t n, double bytes)
{
	if (isnan(bytes))
		bytes = 0;
	if (bytes < 1e3)
		snprintf(dst, n, "%.0f B", bytes);
	else if (bytes < 1e6)
		snprintf(dst, n, "%.2f KB", bytes / 1e3);
	else if (bytes < 1e9)
		snprintf(dst, n, "%.2f MB", bytes / 1e6);
	else if (bytes < 1e12)
		snprintf(dst, n, "%.2f GB", bytes / 1e9);
	else
		snprintf(dst, n, "%.2f TB", bytes / 1e12);
}

void dp_lms_fmt_number(char *dst, size_t n, double v)
{
	/* shortest of %.15g/%.17g that round-trips, like JS for ordinary values */
	snprintf(dst, n, "%.15g", v);
	if (strtod(dst, NULL) != v)
		snprintf(dst, n, "%.17g", v);
}

int dp_lms_print_json(json_t *v, int pretty)
{
	/* 15 significant digits: 267.617 rather than jansson's default 267.61700000000002,
	 * closer to what JSON.stringify prints */
	size_t flags = (pretty ? JSON_INDENT(2) : JSON_COMPACT) | JSON_REAL_PRECISION(15);
	char *s = json_dumps(v, flags);
	if (!s)
		return -1;
	fputs(s, stdout);
	fputc('\n', stdout);
	fflush(stdout);
	free(s);
	return 0;
}

void dp_lms_table_init(struct dp_lms_table *t, size_t ncols)
{
	t->ncols = ncols;
	t->nrows = 0;
	t->cells = NULL;
}

void dp_lms_table_add(struct dp_lms_table *t, const char *const *row)
{
	t->cells = xrealloc(t->cells, (t->nrows + 1) * t->ncols * sizeof(char *));
	for (size_t c = 0; c < t->ncols; c++)
		t->cells[t->nrows * t->ncols + c] = xstrdup(row[c] ? row[c] : "");
	t->nrows++;
}

void dp_lms_table_print(const struct dp_lms_table *t, const char *indent)
{
	size_t w[16] = {0};
	size_t nc = t->ncols < 16 ? t->ncols : 16;
	for (size_t r = 0; r < t->nrows; r++)
		for (size_t c = 0; c < nc; c++) {
			size_t l = strlen(t->cells[r * t->ncols + c]);
			if (l > w[c])
				w[c] = l;
		}
	for (size_t r = 0; r < t->nrows; r++) {
		fputs(indent, stdout);
		for (size_t c = 0; c < nc; c++) {
			const char *s = t->cells[r * t->ncols + c];
			if (c + 1 == nc)
				fputs(s, stdout);
			else
				printf("%-*s    ", (int)w[c], s);
		}
		fputc('\n', stdout);
	}
	fflush(stdout);
}

void dp_lms_table_release(struct dp_lms_table *t)
{
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	t->cells = NULL;
	t->nrows = 0;
}
