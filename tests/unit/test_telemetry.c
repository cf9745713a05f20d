/*
 * test_telemetry.c - the pure parts of telemetry.c and alerts.c: process
 * attribution over the /proc fixture (tests/fixtures/proc: llmster 4242,
 * its child 4243 and grandchild 4300, unrelated 1717 / 999, a comm with
 * spaces and parentheses), host RAM, the simulator's /__sim/gpus parsing and
 * its "simulated" labelling, the GPU JSON (null = not available), the
 * history ring (bounds, wrap, restart on a new GPU set, since filter), and
 * alert thresholds with hysteresis and source-down counting.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "alerts.h"
#include "telemetry.h"

#define PROC "tests/fixtures/proc"

static void test_is_lms(void **state)
{
	(void)state;
	assert_int_equal(dp_telemetry_is_lms(PROC, 4242, NULL), 1); /* the daemon */
	assert_int_equal(dp_telemetry_is_lms(PROC, 4243, NULL), 1); /* its child, comm "llama (engine) 1" */
	assert_int_equal(dp_telemetry_is_lms(PROC, 4300, NULL), 1); /* grandchild */
	assert_int_equal(dp_telemetry_is_lms(PROC, 1717, NULL), 0);
	assert_int_equal(dp_telemetry_is_lms(PROC, 5000, NULL), 0); /* llmster-sim is not llmster */
	assert_int_equal(dp_telemetry_is_lms(PROC, 999, NULL), 0);
	assert_true(dp_telemetry_is_lms(PROC, 31337, NULL) < 0); /* gone */
	assert_int_equal(dp_telemetry_is_lms(PROC, 1717, "python3"), 1);
}

static void add_proc(struct dp_gpu *g, uint32_t pid, int known, uint64_t used)
{
	g->procs[g->nprocs].pid = pid;
	g->procs[g->nprocs].used_known = known;
	g->procs[g->nprocs].used = used;
	g->nprocs++;
}

static void test_attribute(void **state)
{
	(void)state;
	struct dp_telemetry_sample *s = calloc(1, sizeof(*s));
	s->ngpus = 3;
	struct dp_gpu *g0 = &s->gpus[0].g, *g1 = &s->gpus[1].g, *g2 = &s->gpus[2].g;
	g0->have = DP_GPU_HAVE_PROCS | DP_GPU_HAVE_MEM_USED;
	g0->mem_used = 6000;
	add_proc(g0, 4242, 1, 1000);
	add_proc(g0, 4300, 1, 3000);
	add_proc(g0, 1717, 1, 500);
	g1->have = DP_GPU_HAVE_PROCS | DP_GPU_HAVE_MEM_USED;
	g1->mem_used = 100;
	add_proc(g1, 4243, 0, 0); /* size hidden */
	add_proc(g1, 999, 1, 50);
	g2->have = DP_GPU_HAVE_MEM_USED; /* no process list (AMD) */
	dp_telemetry_attribute(s, PROC, NULL);
	assert_true(s->gpus[0].split_known);
	assert_int_equal(s->gpus[0].lms, 4000);
	assert_int_equal(s->gpus[0].other, 500);
	assert_true(s->gpus[0].unattributed_known);
	assert_int_equal(s->gpus[0].unattributed, 1500);
	assert_true(g0->procs[0].lmstudio && g0->procs[1].lmstudio && !g0->procs[2].lmstudio);
	assert_false(s->gpus[1].split_known); /* one size unknown: no split, never a guess */
	assert_true(g1->procs[0].lmstudio);
	assert_false(s->gpus[2].split_known);
	json_t *j = dp_telemetry_gpu_json(&s->gpus[1]);
	assert_true(json_is_null(json_object_get(json_object_get(j, "memory"), "lmstudio_bytes")));
	assert_true(json_is_null(json_object_get(json_array_get(json_object_get(j, "processes"), 0), "used_bytes")));
	json_decref(j);
	j = dp_telemetry_gpu_json(&s->gpus[2]);
	assert_true(json_is_null(json_object_get(j, "processes")));
	assert_true(json_is_null(json_object_get(j, "temperature_c")));
	assert_true(json_is_null(json_object_get(json_object_get(j, "memory"), "total_bytes")));
	json_decref(j);
	free(s);
}

static void test_amd_fdinfo(void **state)
{
	(void)state;
	uint32_t pids[16];
	int n = dp_telemetry_lms_tree(PROC, NULL, pids, 16);
	assert_int_equal(n, 3);
	assert_int_equal(pids[0], 4242);
	assert_int_equal(pids[1], 4243);
	assert_int_equal(pids[2], 4300);
	struct dp_telemetry_sample *s = calloc(1, sizeof(*s));
	s->ngpus = 3;
	const char *pci[3] = {"0000:03:00.0", "0000:04:00.0", "0000:05:00.0"};
	for (int i = 0; i < 3; i++) {
		struct dp_gpu *g = &s->gpus[i].g;
		g->index = i;
		snprintf(g->pci, sizeof(g->pci), "%s", pci[i]);
		g->have = DP_GPU_HAVE_PCI | DP_GPU_HAVE_MEM_USED;
		g->mem_used = 3ULL << 30;
	}
	s->gpus[2].g.have &= ~(unsigned)DP_GPU_HAVE_MEM_USED; /* no VRAM figure: no split */
	dp_telemetry_attribute_amd(s, PROC, NULL);
	/* client 10 counted once (two fds), client 11 by drm-resident-vram,
	 * 1717's client is not LM Studio's */
	assert_true(s->gpus[0].split_known);
	assert_int_equal(s->gpus[0].lms, (1ULL << 30) + (512ULL << 20));
	assert_int_equal(s->gpus[0].other, (3ULL << 30) - (1ULL << 30) - (512ULL << 20));
	assert_false(s->gpus[0].unattributed_known);
	assert_int_equal(s->gpus[1].lms, 2ULL << 30);
	assert_false(s->gpus[2].split_known);
	free(s);
}

static void test_meminfo(void **state)
{
	(void)state;
	uint64_t total = 0, used = 0;
	assert_int_equal(dp_telemetry_meminfo(PROC, &total, &used), 0);
	assert_int_equal(total, 65799340ULL * 1024);
	assert_int_equal(used, (65799340ULL - 49152000ULL) * 1024);
	assert_true(dp_telemetry_meminfo("/nonexistent", &total, &used) < 0);
	/* an integrated GPU gets the host RAM, still flagged unified */
	struct dp_telemetry_sample *s = calloc(1, sizeof(*s));
	s->ngpus = 2;
	s->gpus[0].g.unified = 1;
	s->gpus[1].g.have = DP_GPU_HAVE_MEM_TOTAL;
	s->gpus[1].g.mem_total = 5;
	dp_telemetry_unified_fill(s); /* no RAM known: nothing */
	assert_false(s->gpus[0].g.have & DP_GPU_HAVE_MEM_TOTAL);
	s->have_ram = 1;
	s->ram_total = total;
	s->ram_used = used;
	dp_telemetry_unified_fill(s);
	assert_int_equal(s->gpus[0].g.mem_total, total);
	assert_int_equal(s->gpus[0].g.mem_free, total - used);
	assert_int_equal(s->gpus[1].g.mem_total, 5);
	json_t *j = dp_telemetry_gpu_json(&s->gpus[0]);
	assert_true(json_is_true(json_object_get(json_object_get(j, "memory"), "unified")));
	assert_true(json_is_null(json_object_get(json_object_get(j, "memory"), "gtt_total_bytes")));
	json_decref(j);
	free(s);
}

static void test_sim_parse_and_label(void **state)
{
	(void)state;
	json_error_t e;
	json_t *b =
	        json_loads("{\"gpus\":[{\"index\":0,\"name\":\"RTX 4090\",\"id\":\"GPU-1\",\"total_vram_bytes\":1000,"
	                   "\"used_vram_bytes\":250,\"utilization_percent\":87,\"temperature_c\":71,\"power_w\":310},"
	                   "{\"index\":1,\"name\":\"RTX 3090\",\"id\":\"GPU-2\",\"total_vram_bytes\":2000}],"
	                   "\"ram\":{\"total_bytes\":64,\"used_bytes\":8}}",
	                   0, &e);
	assert_non_null(b);
	struct dp_telemetry_sample *s = calloc(1, sizeof(*s));
	assert_int_equal(dp_telemetry_parse_sim(b, s), 0);
	assert_int_equal(s->source, DP_TSRC_SIMULATED);
	assert_string_equal(dp_telemetry_source_name(s->source), "simulated");
	assert_int_equal(s->ngpus, 2);
	assert_string_equal(s->gpus[0].g.vendor, "simulated");
	assert_int_equal(s->gpus[0].g.mem_free, 750);
	assert_int_equal(s->gpus[0].lms, 250);
	assert_true(s->gpus[0].split_known);
	assert_true(s->have_ram);
	assert_int_equal(s->ram_used, 8);
	/* GPU 1: no used / util / temperature given: not available */
	assert_false(s->gpus[1].g.have & DP_GPU_HAVE_MEM_USED);
	assert_false(s->gpus[1].g.have & DP_GPU_HAVE_TEMP);
	json_t *j = dp_telemetry_gpu_json(&s->gpus[0]);
	assert_string_equal(json_string_value(json_object_get(j, "vendor")), "simulated");
	assert_true(json_real_value(json_object_get(json_object_get(j, "utilization"), "gpu_ratio")) > 0.869);
	assert_true(json_is_null(json_object_get(j, "pci_bus_id")));
	assert_true(json_is_null(json_object_get(j, "fan_ratio")));
	json_decref(j);
	json_decref(b);
	/* not the simulator's shape */
	b = json_loads("{\"error\":\"Unexpected endpoint or method.\"}", 0, &e);
	assert_int_equal(dp_telemetry_parse_sim(b, s), -EINVAL);
	json_decref(b);
	b = json_loads("{\"gpus\":[1]}", 0, &e);
	assert_int_equal(dp_telemetry_parse_sim(b, s), -EINVAL);
	json_decref(b);
	assert_string_equal(dp_telemetry_source_name(DP_TSRC_NVML), "nvml");
	assert_string_equal(dp_telemetry_source_name(DP_TSRC_AMDGPU), "amdgpu");
	assert_string_equal(dp_telemetry_source_name(DP_TSRC_NONE), "none");
	assert_string_equal(dp_telemetry_source_name(DP_TSRC_PENDING), "pending");
	free(s);
}

static void one_gpu(struct dp_telemetry_sample *s, int64_t t, const char *uuid, uint64_t used)
{
	memset(s, 0, sizeof(*s));
	s->measured_ms = t;
	s->ngpus = 1;
	struct dp_gpu *g = &s->gpus[0].g;
	snprintf(g->uuid, sizeof(g->uuid), "%s", uuid);
	g->have = DP_GPU_HAVE_MEM_USED | DP_GPU_HAVE_MEM_TOTAL | DP_GPU_HAVE_UUID;
	g->mem_used = used;
	g->mem_total = 1000;
}

static void test_ring(void **state)
{
	(void)state;
	struct dp_telemetry_ring r;
	dp_telemetry_ring_init(&r, 5);
	struct dp_telemetry_sample *s = calloc(1, sizeof(*s));
	for (int i = 1; i <= 12; i++) {
		one_gpu(s, i * 1000, "GPU-a", (uint64_t)i);
		dp_telemetry_ring_push(&r, s);
	}
	assert_int_equal(r.n, 5); /* bounded */
	json_t *j = dp_telemetry_ring_json(&r, 0);
	json_t *t = json_object_get(j, "t");
	assert_int_equal(json_array_size(t), 5);
	assert_int_equal(json_integer_value(json_array_get(t, 0)), 8000); /* oldest kept */
	assert_int_equal(json_integer_value(json_array_get(t, 4)), 12000);
	json_t *g = json_array_get(json_object_get(j, "gpus"), 0);
	json_t *used = json_object_get(g, "used_bytes");
	assert_int_equal(json_array_size(used), 5);
	assert_int_equal(json_integer_value(json_array_get(used, 4)), 12);
	assert_true(json_is_null(json_array_get(json_object_get(g, "temperature_c"), 0)));
	assert_int_equal(json_integer_value(json_object_get(g, "total_bytes")), 1000);
	json_decref(j);
	j = dp_telemetry_ring_json(&r, 10500); /* since filter */
	assert_int_equal(json_array_size(json_object_get(j, "t")), 2);
	json_decref(j);
	/* a different GPU: history restarts */
	one_gpu(s, 13000, "GPU-b", 1);
	dp_telemetry_ring_push(&r, s);
	assert_int_equal(r.n, 1);
	j = dp_telemetry_ring_json(&r, 0);
	assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(j, "gpus"), 0), "uuid")),
	                    "GPU-b");
	json_decref(j);
	dp_telemetry_ring_release(&r);
	free(s);
}

struct note {
	int fired, resolved;
	char last_key[48];
	int last_kind;
};

static void notify(void *arg, const struct dp_alert *a, int fired)
{
	struct note *n = arg;
	if (fired)
		n->fired++;
	else
		n->resolved++;
	memcpy(n->last_key, a->key, sizeof(n->last_key));
	n->last_kind = a->kind;
}

static void gpu_at(struct dp_gpu *g, uint64_t used, double temp)
{
	memset(g, 0, sizeof(*g));
	g->index = 0;
	snprintf(g->uuid, sizeof(g->uuid), "GPU-x");
	g->have = DP_GPU_HAVE_MEM_TOTAL | DP_GPU_HAVE_MEM_USED | DP_GPU_HAVE_TEMP | DP_GPU_HAVE_UUID;
	g->mem_total = 1000;
	g->mem_used = used;
	g->temp_c = temp;
}

static void test_alert_hysteresis(void **state)
{
	(void)state;
	struct note n = {0};
	struct dp_alerts_config c;
	dp_alerts_config_defaults(&c); /* 90 % / 85 C, hysteresis 5 % / 5 C */
	struct dp_alerts *a = dp_alerts_new(&c, notify, &n);
	struct dp_gpu g;
	gpu_at(&g, 899, 50);
	dp_alerts_gpu(a, 1, "box", &g, 1000);
	assert_int_equal(n.fired, 0);
	gpu_at(&g, 900, 50); /* at the threshold: fires */
	dp_alerts_gpu(a, 1, "box", &g, 2000);
	assert_int_equal(n.fired, 1);
	assert_string_equal(n.last_key, "1:0:vram");
	assert_int_equal(dp_alerts_active(a, DP_ALERT_VRAM), 1);
	gpu_at(&g, 860, 50); /* below the threshold, above threshold - 5 %: stays */
	dp_alerts_gpu(a, 1, "box", &g, 3000);
	gpu_at(&g, 920, 50);
	dp_alerts_gpu(a, 1, "box", &g, 4000);
	assert_int_equal(n.fired, 1);
	assert_int_equal(n.resolved, 0);
	json_t *arr = dp_alerts_json(a, 1);
	assert_int_equal(json_array_size(arr), 1);
	json_t *al = json_array_get(arr, 0);
	assert_string_equal(json_string_value(json_object_get(al, "state")), "firing");
	assert_true(json_real_value(json_object_get(al, "value")) > 0.919);
	assert_string_equal(json_string_value(json_object_get(al, "since")), "1970-01-01T00:00:02.000Z");
	json_decref(arr);
	gpu_at(&g, 849, 50); /* below 85 %: clears */
	dp_alerts_gpu(a, 1, "box", &g, 5000);
	assert_int_equal(n.resolved, 1);
	assert_int_equal(dp_alerts_active(a, DP_ALERT__N), 0);
	/* temperature */
	gpu_at(&g, 0, 85);
	dp_alerts_gpu(a, 1, "box", &g, 6000);
	assert_int_equal(n.last_kind, DP_ALERT_TEMPERATURE);
	gpu_at(&g, 0, 81);
	dp_alerts_gpu(a, 1, "box", &g, 7000);
	assert_int_equal(dp_alerts_active(a, DP_ALERT_TEMPERATURE), 1);
	g.have &= ~(unsigned)DP_GPU_HAVE_TEMP; /* not available: state kept */
	dp_alerts_gpu(a, 1, "box", &g, 7500);
	assert_int_equal(dp_alerts_active(a, DP_ALERT_TEMPERATURE), 1);
	gpu_at(&g, 0, 79.9);
	dp_alerts_gpu(a, 1, "box", &g, 8000);
	assert_int_equal(dp_alerts_active(a, DP_ALERT_TEMPERATURE), 0);
	assert_int_equal(dp_alerts_fired_total(a, DP_ALERT_VRAM), 1);
	assert_int_equal(dp_alerts_fired_total(a, DP_ALERT_TEMPERATURE), 1);
	/* a GPU that goes away takes its alerts with it; source_down (gpu -1) stays */
	gpu_at(&g, 1000, 99);
	g.index = 1;
	dp_alerts_gpu(a, 1, "box", &g, 9000);
	assert_int_equal(dp_alerts_active(a, DP_ALERT__N), 2);
	dp_alerts_retain_gpus(a, 1, 2);
	assert_int_equal(dp_alerts_active(a, DP_ALERT__N), 2);
	dp_alerts_retain_gpus(a, 1, 1);
	assert_int_equal(dp_alerts_active(a, DP_ALERT__N), 0);
	dp_alerts_free(a);
}

static void test_alert_source_down(void **state)
{
	(void)state;
	struct note n = {0};
	struct dp_alerts *a = dp_alerts_new(NULL, notify, &n);
	/* never up: failures alone do not alert (a target that never had telemetry) */
	for (int i = 0; i < 5; i++)
		dp_alerts_source(a, 7, "sim", 0, 1000 + i);
	assert_int_equal(n.fired, 0);
	dp_alerts_source(a, 7, "sim", 1, 2000);
	dp_alerts_source(a, 7, "sim", 0, 3000);
	dp_alerts_source(a, 7, "sim", 0, 4000);
	assert_int_equal(n.fired, 0);
	dp_alerts_source(a, 7, "sim", 0, 5000); /* third failure in a row */
	assert_int_equal(n.fired, 1);
	assert_string_equal(n.last_key, "7:-:source_down");
	json_t *arr = dp_alerts_json(a, 0);
	json_t *al = json_array_get(arr, 0);
	assert_true(json_is_null(json_object_get(al, "gpu")));
	assert_true(json_is_null(json_object_get(al, "value")));
	assert_string_equal(json_string_value(json_object_get(al, "kind")), "source_down");
	json_decref(arr);
	dp_alerts_source(a, 7, "sim", 0, 6000);
	assert_int_equal(n.fired, 1);
	dp_alerts_source(a, 7, "sim", 1, 7000);
	assert_int_equal(n.resolved, 1);
	/* forgetting a target resolves what it had */
	struct dp_gpu g;
	gpu_at(&g, 1000, 99);
	dp_alerts_gpu(a, 8, "other", &g, 8000);
	assert_int_equal(dp_alerts_active(a, DP_ALERT__N), 2);
	dp_alerts_forget_target(a, 8, 9000);
	assert_int_equal(dp_alerts_active(a, DP_ALERT__N), 0);
	assert_int_equal(n.resolved, 3);
	dp_alerts_free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_is_lms),
	        cmocka_unit_test(test_attribute),
	        cmocka_unit_test(test_amd_fdinfo),
	        cmocka_unit_test(test_meminfo),
	        cmocka_unit_test(test_sim_parse_and_label),
	        cmocka_unit_test(test_ring),
	        cmocka_unit_test(test_alert_hysteresis),
	        cmocka_unit_test(test_alert_source_down),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
