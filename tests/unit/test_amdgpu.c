/*
 * test_amdgpu.c - lib/amdgpu.c over the sysfs fixture trees in
 * tests/fixtures/amdgpu: a discrete card reached through class/drm
 * symlinks (connector and render entries and an NVIDIA card skipped, the
 * name from an amdgpu.ids table, hwmon picked by name among two), an APU
 * with real directories, product_name, power1_input only and an unreadable
 * gpu_busy_percent, an empty DRM class and a missing root. Run from the
 * repository root.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "amdgpu.h"

#define FIX "tests/fixtures/amdgpu"

static void test_dgpu(void **state)
{
	(void)state;
	struct dp_gpu *g = calloc(4, sizeof(*g));
	int n = dp_amdgpu_scan(FIX "/dgpu", FIX "/amdgpu.ids", g, 4);
	assert_int_equal(n, 1); /* card1 is NVIDIA, card0-DP-1 / renderD128 are not cards */
	assert_int_equal(g[0].index, 0);
	assert_string_equal(g[0].vendor, "amd");
	assert_string_equal(g[0].name, "AMD Radeon RX 7900 XTX");
	assert_string_equal(g[0].pci, "0000:03:00.0");
	assert_string_equal(g[0].uuid, "8e3b2c1a9f7d6e5c");
	assert_int_equal(g[0].mem_total, 25753026560ULL);
	assert_int_equal(g[0].mem_used, 8589934592ULL);
	assert_int_equal(g[0].mem_free, 25753026560ULL - 8589934592ULL);
	assert_false(g[0].have & DP_GPU_HAVE_MEM_RESERVED);
	assert_true(g[0].have & DP_GPU_HAVE_GTT);
	assert_int_equal(g[0].gtt_total, 33554432000ULL);
	assert_int_equal(g[0].gtt_used, 20971520ULL);
	assert_true(g[0].util_gpu > 0.369 && g[0].util_gpu < 0.371);
	assert_true(g[0].have & DP_GPU_HAVE_UTIL_MEM);
	assert_true(g[0].temp_c == 45.0);
	assert_true(g[0].power_w == 35.0);
	assert_true(g[0].power_limit_w == 327.0);
	assert_true(g[0].fan_ratio == 0.4);
	assert_int_equal(g[0].clk_graphics, 2500);
	assert_int_equal(g[0].clk_mem, 1250);
	assert_false(g[0].have & DP_GPU_HAVE_PROCS); /* not measured on AMD */
	free(g);
}

static void test_apu_missing_files(void **state)
{
	(void)state;
	struct dp_gpu g[2];
	int n = dp_amdgpu_scan(FIX "/apu", "/nonexistent/amdgpu.ids", g, 2);
	assert_int_equal(n, 1);
	assert_string_equal(g[0].name, "AMD Radeon 780M"); /* product_name */
	assert_false(g[0].have & DP_GPU_HAVE_UUID);
	assert_int_equal(g[0].mem_total, 536870912ULL);
	assert_int_equal(g[0].gtt_total, 30064771072ULL);
	assert_false(g[0].have & DP_GPU_HAVE_UTIL_GPU); /* a directory: read error */
	assert_false(g[0].have & DP_GPU_HAVE_UTIL_MEM); /* missing */
	assert_true(g[0].have & DP_GPU_HAVE_POWER);     /* power1_input fallback */
	assert_true(g[0].power_w == 15.0);
	assert_false(g[0].have & DP_GPU_HAVE_POWER_LIMIT);
	assert_false(g[0].have & DP_GPU_HAVE_FAN);
	assert_true(g[0].temp_c == 52.0);
}

static void test_no_cards(void **state)
{
	(void)state;
	struct dp_gpu g[1];
	assert_int_equal(dp_amdgpu_scan(FIX "/empty", NULL, g, 1), 0);
	assert_int_equal(dp_amdgpu_scan(FIX "/does-not-exist", NULL, g, 1), -ENOENT);
	/* max bounds the output */
	assert_int_equal(dp_amdgpu_scan(FIX "/dgpu", NULL, g, 0), 0);
}

static void test_ids(void **state)
{
	(void)state;
	char name[64];
	assert_int_equal(dp_amdgpu_ids_lookup(FIX "/amdgpu.ids", 0x744c, 0xcc, name, sizeof(name)), 0);
	assert_string_equal(name, "AMD Radeon RX 7900 XT");
	assert_int_equal(dp_amdgpu_ids_lookup(FIX "/amdgpu.ids", 0x744c, 0x01, name, sizeof(name)), -ENOENT);
	/* without a table the name falls back to the device id */
	struct dp_gpu g[1];
	assert_int_equal(dp_amdgpu_scan(FIX "/dgpu", "/nonexistent", g, 1), 1);
	assert_string_equal(g[0].name, "AMD GPU 0x744c");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_dgpu),
	        cmocka_unit_test(test_apu_missing_files),
	        cmocka_unit_test(test_no_cards),
	        cmocka_unit_test(test_ids),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
