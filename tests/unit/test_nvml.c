/*
 * test_nvml.c - lib/nvml.c against the fake libnvidia-ml.so.1
 * (tests/fake_nvml, built by `make unit` into build/fake_nvml/{full,old,
 * oldest,new}/) driven by the scenario files in tests/fake_nvml/scenarios:
 * every field, library missing, wrong library, init error, the _v2/_v3
 * symbol fallbacks, the versioned temperature call, a process list that grows between calls, the 32- and
 * 16-byte _v3 strides, values not available, an integrated GPU and a lost
 * GPU. Run from the repository root (tests/run.sh does);
 * DP_FAKE_NVML_DIR overrides where the fake libraries are.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "nvml.h"

static char libpath[512];

static const char *lib(const char *variant)
{
	const char *dir = getenv("DP_FAKE_NVML_DIR");
	snprintf(libpath, sizeof(libpath), "%s/%s/libnvidia-ml.so.1", dir && *dir ? dir : "build/fake_nvml", variant);
	return libpath;
}

static void scenario(const char *name)
{
	char p[512];
	snprintf(p, sizeof(p), "tests/fake_nvml/scenarios/%s.txt", name);
	setenv("FAKE_NVML_SCENARIO", p, 1);
}

static struct dp_nvml *open_ok(const char *variant, const char *scen)
{
	scenario(scen);
	struct dp_nvml *n = NULL;
	char err[256] = "";
	int rc = dp_nvml_open(&n, lib(variant), NULL, err, sizeof(err));
	if (rc != 0)
		fail_msg("open %s/%s: %d %s", variant, scen, rc, err);
	return n;
}

static const struct dp_gpu_proc *find_proc(const struct dp_gpu *g, uint32_t pid)
{
	for (int i = 0; i < g->nprocs; i++)
		if (g->procs[i].pid == pid)
			return &g->procs[i];
	return NULL;
}

static void test_full(void **state)
{
	(void)state;
	struct dp_nvml *n = open_ok("full", "two_gpus");
	assert_string_equal(dp_nvml_procs_symbol(n), "nvmlDeviceGetComputeRunningProcesses_v3");
	assert_string_equal(dp_nvml_memory_symbol(n), "nvmlDeviceGetMemoryInfo_v2");
	assert_string_equal(dp_nvml_driver_version(n), "560.35.03");
	unsigned c = 0;
	assert_int_equal(dp_nvml_count(n, &c, NULL, 0), 0);
	assert_int_equal(c, 2);
	struct dp_gpu *g = calloc(1, sizeof(*g));
	char err[256];
	assert_int_equal(dp_nvml_read(n, 0, g, err, sizeof(err)), 0);
	assert_string_equal(g->vendor, "nvidia");
	assert_string_equal(g->name, "NVIDIA GeForce RTX 4090");
	assert_string_equal(g->uuid, "GPU-5f3e0c1a-0000-4000-8000-000000000001");
	assert_string_equal(g->pci, "00000000:01:00.0");
	unsigned want = DP_GPU_HAVE_MEM_TOTAL | DP_GPU_HAVE_MEM_USED | DP_GPU_HAVE_MEM_FREE | DP_GPU_HAVE_MEM_RESERVED |
	                DP_GPU_HAVE_UTIL_GPU | DP_GPU_HAVE_UTIL_MEM | DP_GPU_HAVE_TEMP | DP_GPU_HAVE_POWER |
	                DP_GPU_HAVE_POWER_LIMIT | DP_GPU_HAVE_FAN | DP_GPU_HAVE_CLK_GRAPHICS | DP_GPU_HAVE_CLK_SM |
	                DP_GPU_HAVE_CLK_MEM | DP_GPU_HAVE_PROCS;
	assert_int_equal(g->have & want, want);
	assert_int_equal(g->mem_total, 25757220864ULL);
	assert_int_equal(g->mem_used, 6442450944ULL);
	assert_int_equal(g->mem_reserved, 335544320ULL);
	assert_int_equal(g->mem_free, 18979225600ULL);
	assert_true(g->util_gpu > 0.869 && g->util_gpu < 0.871);
	assert_true(g->util_mem > 0.419 && g->util_mem < 0.421);
	assert_true(g->temp_c == 71);
	assert_true(g->power_w > 310.49 && g->power_w < 310.51);
	assert_true(g->power_limit_w == 450);
	assert_true(g->fan_ratio > 0.449 && g->fan_ratio < 0.451);
	assert_int_equal(g->clk_graphics, 2520);
	assert_int_equal(g->clk_mem, 10501);
	/* 1717 is both a compute and a graphics process: listed once */
	assert_int_equal(g->nprocs, 3);
	assert_int_equal(dp_nvml_last_stride(n), 24);
	const struct dp_gpu_proc *p = find_proc(g, 4243);
	assert_non_null(p);
	assert_true(p->used_known);
	assert_int_equal(p->used, 4294967296ULL);
	assert_non_null(find_proc(g, 1717));
	assert_int_equal(dp_nvml_read(n, 1, g, err, sizeof(err)), 0);
	assert_string_equal(g->name, "NVIDIA RTX A6000");
	assert_int_equal(g->nprocs, 1);
	assert_int_equal(g->procs[0].pid, 999);
	free(g);
	dp_nvml_close(n);
}

static void test_missing_library(void **state)
{
	(void)state;
	struct dp_nvml *n = (struct dp_nvml *)1;
	char err[256] = "";
	assert_int_equal(dp_nvml_open(&n, "/nonexistent/libnvidia-ml.so.1", NULL, err, sizeof(err)), -ENOENT);
	assert_null(n);
	assert_non_null(strstr(err, "cannot load /nonexistent/libnvidia-ml.so.1"));
}

static void test_wrong_library(void **state)
{
	(void)state;
	struct dp_nvml *n = NULL;
	char err[256] = "";
	/* a real library without NVML's symbols */
	assert_int_equal(dp_nvml_open(&n, "libm.so.6", NULL, err, sizeof(err)), -ENOSYS);
	assert_null(n);
	assert_non_null(strstr(err, "nvmlInit_v2"));
}

static void test_init_error(void **state)
{
	(void)state;
	scenario("init_error");
	struct dp_nvml *n = NULL;
	char err[256] = "";
	int nrc = 0;
	assert_int_equal(dp_nvml_open(&n, lib("full"), &nrc, err, sizeof(err)), -EIO);
	assert_null(n);
	assert_int_equal(nrc, DP_NVML_ERROR_DRIVER_NOT_LOADED);
	assert_non_null(strstr(err, "nvmlInit_v2 failed: DRIVER_NOT_LOADED"));
}

static void test_old_symbols(void **state)
{
	(void)state;
	/* no nvmlInit_v2, no _v2 memory call, no _v3 process calls */
	struct dp_nvml *n = open_ok("old", "two_gpus");
	assert_string_equal(dp_nvml_procs_symbol(n), "nvmlDeviceGetComputeRunningProcesses_v2");
	assert_string_equal(dp_nvml_memory_symbol(n), "nvmlDeviceGetMemoryInfo");
	struct dp_gpu *g = calloc(1, sizeof(*g));
	assert_int_equal(dp_nvml_read(n, 0, g, NULL, 0), 0);
	assert_true(g->have & DP_GPU_HAVE_MEM_USED);
	assert_false(g->have & DP_GPU_HAVE_MEM_RESERVED); /* v1 has no reserve apart */
	assert_int_equal(g->mem_used, 6442450944ULL + 335544320ULL);
	assert_int_equal(dp_nvml_last_stride(n), 24);
	assert_int_equal(g->nprocs, 3);
	assert_int_equal(find_proc(g, 4243)->used, 4294967296ULL);
	free(g);
	dp_nvml_close(n);

	n = open_ok("oldest", "two_gpus");
	assert_string_equal(dp_nvml_procs_symbol(n), "nvmlDeviceGetComputeRunningProcesses");
	g = calloc(1, sizeof(*g));
	assert_int_equal(dp_nvml_read(n, 0, g, NULL, 0), 0);
	assert_int_equal(dp_nvml_last_stride(n), 16);
	assert_int_equal(g->nprocs, 3);
	assert_int_equal(find_proc(g, 4242)->used, 1073741824ULL);
	assert_int_equal(find_proc(g, 1717)->used, 268435456ULL);
	free(g);
	dp_nvml_close(n);
}

static void test_temperature_v(void **state)
{
	(void)state;
	/* a driver without the deprecated nvmlDeviceGetTemperature */
	struct dp_nvml *n = open_ok("new", "two_gpus");
	struct dp_gpu *g = calloc(1, sizeof(*g));
	assert_int_equal(dp_nvml_read(n, 1, g, NULL, 0), 0);
	assert_true(g->have & DP_GPU_HAVE_TEMP);
	assert_true(g->temp_c == 40);
	free(g);
	dp_nvml_close(n);
	n = open_ok("new", "not_available");
	g = calloc(1, sizeof(*g));
	assert_int_equal(dp_nvml_read(n, 0, g, NULL, 0), 0);
	assert_false(g->have & DP_GPU_HAVE_TEMP);
	free(g);
	dp_nvml_close(n);
}

static void test_not_available(void **state)
{
	(void)state;
	struct dp_nvml *n = open_ok("full", "not_available");
	struct dp_gpu *g = calloc(1, sizeof(*g));
	assert_int_equal(dp_nvml_read(n, 0, g, NULL, 0), 0);
	assert_true(g->have & DP_GPU_HAVE_MEM_TOTAL);
	assert_false(g->have & DP_GPU_HAVE_TEMP);
	assert_false(g->have & DP_GPU_HAVE_FAN);
	assert_false(g->have & DP_GPU_HAVE_UTIL_GPU);
	assert_false(g->have & DP_GPU_HAVE_POWER);
	assert_false(g->have & DP_GPU_HAVE_POWER_LIMIT);
	assert_false(g->have & DP_GPU_HAVE_CLK_GRAPHICS);
	/* compute list read, graphics NOT_SUPPORTED: the list still counts */
	assert_true(g->have & DP_GPU_HAVE_PROCS);
	assert_int_equal(g->nprocs, 2);
	assert_false(find_proc(g, 4242)->used_known);
	assert_true(find_proc(g, 77)->used_known);
	free(g);
	dp_nvml_close(n);
}

static void test_unified(void **state)
{
	(void)state;
	struct dp_nvml *n = open_ok("full", "unified");
	struct dp_gpu *g = calloc(1, sizeof(*g));
	assert_int_equal(dp_nvml_read(n, 0, g, NULL, 0), 0);
	assert_true(g->unified);
	assert_false(g->have & (DP_GPU_HAVE_MEM_TOTAL | DP_GPU_HAVE_MEM_USED | DP_GPU_HAVE_MEM_FREE));
	assert_true(g->have & DP_GPU_HAVE_TEMP);
	free(g);
	dp_nvml_close(n);
}

static void test_buffer_grows(void **state)
{
	(void)state;
	struct dp_nvml *n = open_ok("full", "small_buffer");
	struct dp_gpu *g = calloc(1, sizeof(*g));
	assert_int_equal(dp_nvml_read(n, 0, g, NULL, 0), 0);
	assert_true(g->have & DP_GPU_HAVE_PROCS);
	assert_int_equal(g->nprocs, 9);
	for (uint32_t pid = 101; pid <= 109; pid++)
		assert_non_null(find_proc(g, pid));
	free(g);
	dp_nvml_close(n);
}

static void test_strides(void **state)
{
	(void)state;
	struct dp_nvml *n = open_ok("full", "old_stride");
	struct dp_gpu *g = calloc(1, sizeof(*g));
	assert_int_equal(dp_nvml_read(n, 0, g, NULL, 0), 0);
	assert_int_equal(dp_nvml_last_stride(n), 32);
	assert_int_equal(g->nprocs, 3);
	assert_int_equal(find_proc(g, 4243)->used, 1073741824ULL);
	assert_non_null(find_proc(g, 555));
	dp_nvml_close(n);

	n = open_ok("full", "stride16");
	assert_int_equal(dp_nvml_read(n, 0, g, NULL, 0), 0);
	assert_int_equal(dp_nvml_last_stride(n), 16);
	assert_int_equal(g->nprocs, 2);
	assert_int_equal(find_proc(g, 31337)->used, 1073741824ULL);
	free(g);
	dp_nvml_close(n);
}

static void test_detail_list(void **state)
{
	(void)state;
	struct dp_nvml *n = open_ok("full", "detail_list");
	struct dp_gpu *g = calloc(1, sizeof(*g));
	assert_int_equal(dp_nvml_read(n, 0, g, NULL, 0), 0);
	assert_string_equal(dp_nvml_procs_source(n), "nvmlDeviceGetRunningProcessDetailList");
	assert_true(g->have & DP_GPU_HAVE_PROCS);
	assert_int_equal(g->nprocs, 3);
	assert_int_equal(find_proc(g, 4243)->used, 4294967296ULL);
	/* 77: hidden as a compute process, known as a graphics one */
	assert_true(find_proc(g, 77)->used_known);
	assert_int_equal(find_proc(g, 77)->used, 1073741824ULL);
	dp_nvml_close(n);
	/* elsewhere it is NOT_SUPPORTED and the _v3 list is used */
	n = open_ok("full", "two_gpus");
	assert_int_equal(dp_nvml_read(n, 0, g, NULL, 0), 0);
	assert_string_equal(dp_nvml_procs_source(n), "nvmlDeviceGetComputeRunningProcesses_v3");
	assert_int_equal(g->nprocs, 3);
	free(g);
	dp_nvml_close(n);
}

static void test_gpu_lost(void **state)
{
	(void)state;
	struct dp_nvml *n = open_ok("full", "gpu_lost");
	struct dp_gpu *g = calloc(1, sizeof(*g));
	char err[256] = "";
	assert_int_equal(dp_nvml_read(n, 0, g, err, sizeof(err)), 0);
	assert_int_equal(dp_nvml_read(n, 1, g, err, sizeof(err)), -EIO);
	assert_non_null(strstr(err, "GPU_IS_LOST"));
	free(g);
	dp_nvml_close(n);
}

static void put(unsigned char *b, unsigned stride, unsigned i, uint32_t pid, uint64_t used, uint32_t inst)
{
	unsigned char *e = b + (size_t)i * stride;
	memcpy(e, &pid, 4);
	memcpy(e + 8, &used, 8);
	if (stride >= 24) {
		memcpy(e + 16, &inst, 4);
		memcpy(e + 20, &inst, 4);
	}
}

static void test_probe_stride(void **state)
{
	(void)state;
	unsigned char b[256];
	for (unsigned st = 16; st <= 32; st += 8) {
		memset(b, 0, sizeof(b));
		for (unsigned i = 0; i < 3; i++)
			put(b, st, i, 1000 + i, (uint64_t)(i + 1) << 30, 0xFFFFFFFFu);
		assert_int_equal(dp_nvml_probe_stride(b, 3, 1ULL << 36), st);
	}
	/* one entry: every stride reads the same first element */
	memset(b, 0, sizeof(b));
	put(b, 24, 0, 42, 1 << 20, 0xFFFFFFFFu);
	assert_int_equal(dp_nvml_probe_stride(b, 1, 1ULL << 36), 24);
	/* MIG instance ids are small numbers */
	memset(b, 0, sizeof(b));
	put(b, 24, 0, 42, 1 << 20, 1);
	put(b, 24, 1, 43, 1 << 20, 2);
	assert_int_equal(dp_nvml_probe_stride(b, 2, 1ULL << 36), 24);
	assert_string_equal(dp_nvml_return_name(15), "GPU_IS_LOST");
	assert_string_equal(dp_nvml_return_name(999), "UNKNOWN");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_full),          cmocka_unit_test(test_missing_library),
	        cmocka_unit_test(test_wrong_library), cmocka_unit_test(test_init_error),
	        cmocka_unit_test(test_old_symbols),   cmocka_unit_test(test_temperature_v),
	        cmocka_unit_test(test_not_available), cmocka_unit_test(test_unified),
	        cmocka_unit_test(test_buffer_grows),  cmocka_unit_test(test_strides),
	        cmocka_unit_test(test_detail_list),   cmocka_unit_test(test_gpu_lost),
	        cmocka_unit_test(test_probe_stride),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
