// fleet.test.ts - The Fleet's pure logic: formatting, thresholds, the VRAM
// split, the survey + telemetry merge (never inventing a value), alerts.
import { describe, expect, test } from 'vitest';
import css from '../index.css?raw';
import type { GpusView } from '../api/targets';
import type { Telemetry } from '../api/telemetry';
import {
  CHART_COLORS, applyAlertEvent, formatBytes, formatLatency, formatRatio, instanceConfigText, mergeGpus,
  sentence, tempLevel, vramLevel, vramSegments,
} from './fleet';

const GiB = 2 ** 30;

const survey = (gpus: GpusView['gpus'], available = true): GpusView => ({
  target_id: 1, source: 'lms runtime survey', available, error: null, status: 'ok', engine: null, gpus,
  memory: null, vram_estimate: null, live: null,
});
const sg = (index: number, est: number | null = null) => ({
  index, name: `RTX ${index}`, vram_bytes: 24 * GiB, total_bytes: 24 * GiB, dedicated_bytes: 24 * GiB,
  platform: 'CUDA', integration: 'discrete', estimated_used_bytes: est,
});
const tel = (over: Partial<Telemetry>): Telemetry => ({
  target_id: 1, source: 'simulated', simulated: true, available: true, reason: null,
  measured_at: '2026-11-26T10:00:05.123Z', interval_ms: 2000, gpus: [], ram: null, alerts: [], ...over,
});
const lg = (index: number, used: number | null) => ({
  index, name: 'RTX 4090', uuid: `GPU-${index}`, pci_bus_id: null, vendor: 'simulated',
  memory: { total_bytes: 24 * GiB, used_bytes: used, free_bytes: used === null ? null : 24 * GiB - used,
    reserved_bytes: null, lmstudio_bytes: used, other_bytes: null, unattributed_bytes: null, unified: false },
  utilization: { gpu_ratio: 0.5, memory_ratio: null }, temperature_c: 70, power: { watts: 200, limit_watts: 450 },
  fan_ratio: null, clocks_mhz: null, processes: [],
});

describe('formatting', () => {
  test('bytes in binary units, unknown as a dash', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1023)).toBe('1023 B');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(24 * GiB)).toBe('24.0 GiB');
    expect(formatBytes(5030000000)).toBe('4.7 GiB');
    expect(formatBytes(512 * GiB)).toBe('512 GiB');
    expect(formatBytes(null)).toBe('—');
    expect(formatBytes(undefined)).toBe('—');
    expect(formatBytes(-1)).toBe('—');
    expect(formatBytes(Number.NaN)).toBe('—');
  });
  test('ratios and latency', () => {
    expect(formatRatio(0.873)).toBe('87 %');
    expect(formatRatio(null)).toBe('—');
    expect(formatLatency(3.24)).toBe('3.2 ms');
    expect(formatLatency(120.6)).toBe('121 ms');
    expect(formatLatency(null)).toBe('—');
  });
  test('sentences end once', () => {
    expect(sentence('no answer')).toBe('no answer.');
    expect(sentence('the address.. ')).toBe('the address..');
    expect(sentence('done.')).toBe('done.');
  });
  test('instance config text', () => {
    expect(instanceConfigText({ context_length: 8192, parallel: 4, flash_attention: true }))
      .toBe('context 8,192 · 4 parallel · flash attention on');
    expect(instanceConfigText(null, { context_length: 4096, parallel: null })).toBe('context 4,096');
    expect(instanceConfigText({})).toBe('configuration not reported');
  });
});

describe('thresholds', () => {
  test('VRAM: ok below 75 %, high from 75 %, critical from 90 %', () => {
    expect(vramLevel(0, 100)).toBe('ok');
    expect(vramLevel(74, 100)).toBe('ok');
    expect(vramLevel(75, 100)).toBe('warn');
    expect(vramLevel(89.9, 100)).toBe('warn');
    expect(vramLevel(90, 100)).toBe('critical');
    expect(vramLevel(null, 100)).toBeNull();
    expect(vramLevel(10, null)).toBeNull();
    expect(vramLevel(10, 0)).toBeNull();
  });
  test('temperature: high from 75 °C, critical from 85 °C', () => {
    expect(tempLevel(60)).toBe('ok');
    expect(tempLevel(75)).toBe('warn');
    expect(tempLevel(85)).toBe('critical');
    expect(tempLevel(null)).toBeNull();
  });
});

describe('VRAM segments', () => {
  test('LM Studio / other / unattributed / free when the split is measured', () => {
    const s = vramSegments({ total_bytes: 100, used_bytes: 60, lmstudio_bytes: 50, other_bytes: 5, unattributed_bytes: 5 });
    expect(s.map((x) => [x.kind, x.bytes])).toEqual([['lmstudio', 50], ['other', 5], ['unattributed', 5], ['free', 40]]);
    expect(s.reduce((a, x) => a + x.fraction, 0)).toBeCloseTo(1);
  });
  test('AMD: other is everything else in used (unattributed null)', () => {
    const s = vramSegments({ total_bytes: 100, used_bytes: 60, lmstudio_bytes: 50, other_bytes: 10, unattributed_bytes: null });
    expect(s.map((x) => [x.kind, x.bytes])).toEqual([['lmstudio', 50], ['other', 10], ['free', 40]]);
  });
  test('LM Studio at 0 B stays in the split', () => {
    const s = vramSegments({ total_bytes: 100, used_bytes: 10, lmstudio_bytes: 0, other_bytes: 10, unattributed_bytes: 0 });
    expect(s.map((x) => [x.kind, x.bytes])).toEqual([['lmstudio', 0], ['other', 10], ['free', 90]]);
  });
  test('used / free without a split, nothing when unknown', () => {
    expect(vramSegments({ total_bytes: 100, used_bytes: 30, lmstudio_bytes: null }).map((x) => x.kind)).toEqual(['used', 'free']);
    expect(vramSegments({ total_bytes: 100, used_bytes: null })).toEqual([]);
    expect(vramSegments({ total_bytes: null, used_bytes: 5 })).toEqual([]);
    expect(vramSegments(null)).toEqual([]);
  });
  test('used above total is clamped', () => {
    const s = vramSegments({ total_bytes: 100, used_bytes: 150, lmstudio_bytes: 150 });
    expect(s.map((x) => [x.kind, x.bytes])).toEqual([['lmstudio', 100], ['free', 0]]);
  });
});

describe('merge of survey and telemetry', () => {
  test('live rows win and are labelled simulated when the source says so', () => {
    const r = mergeGpus(survey([sg(0, 5 * GiB)]), tel({ gpus: [lg(0, 6 * GiB)] }));
    expect(r).toHaveLength(1);
    expect(r[0].provenance).toBe('simulated');
    expect(r[0].used_bytes).toBe(6 * GiB);
    expect(r[0].platform).toBe('CUDA');
    expect(r[0].temperature_c).toBe(70);
  });
  test('measured for a real driver', () => {
    const g = { ...lg(0, GiB), vendor: 'nvidia' };
    const r = mergeGpus(null, tel({ source: 'nvml', simulated: false, gpus: [g] }));
    expect(r[0].provenance).toBe('measured');
  });
  test('without telemetry a single GPU shows the estimate, labelled so', () => {
    const t = tel({ available: false, source: 'none', simulated: false, reason: { code: 'remote_no_agent', message: 'remote host without an agent' } });
    const r = mergeGpus(survey([sg(0, 5 * GiB)]), t);
    expect(r[0].provenance).toBe('estimated');
    expect(r[0].used_bytes).toBe(5 * GiB);
    expect(r[0].temperature_c).toBeNull();
    expect(r[0].note).toBe('remote host without an agent');
  });
  test('several GPUs without telemetry: not measurable, no invented use', () => {
    const r = mergeGpus(survey([sg(0), sg(1)]), null);
    expect(r.map((x) => x.provenance)).toEqual(['none', 'none']);
    expect(r.every((x) => x.used_bytes === null && x.gpu_ratio === null)).toBe(true);
    expect(r[0].total_bytes).toBe(24 * GiB);
  });
  test('source_down keeps the last sample; an unavailable survey adds nothing', () => {
    const t = tel({ available: false, reason: { code: 'source_down', message: 'down' }, gpus: [lg(0, GiB)] });
    expect(mergeGpus(survey([], false), t)).toHaveLength(1);
    expect(mergeGpus(survey([], false), tel({ available: false, reason: { code: 'pending', message: '' } }))).toEqual([]);
  });
  test('row keys are unique even when a source repeats a UUID', () => {
    const r = mergeGpus(survey([sg(0), sg(1)]), tel({ gpus: [lg(0, GiB), { ...lg(1, GiB), uuid: 'GPU-0' }] }));
    expect(new Set(r.map((x) => x.key)).size).toBe(2);
  });
  test('a null value stays null', () => {
    const r = mergeGpus(null, tel({ gpus: [lg(0, null)] }));
    expect(r[0].used_bytes).toBeNull();
    expect(r[0].fan_ratio).toBeNull();
  });
});

describe('alerts', () => {
  const a = { key: '1:0:vram', state: 'firing', message: 'x' };
  test('fired adds, resolved removes, junk is ignored', () => {
    const l1 = applyAlertEvent([], { action: 'fired', alert: a });
    expect(l1).toEqual([a]);
    const l2 = applyAlertEvent(l1, { action: 'fired', alert: { ...a, message: 'y' } });
    expect(l2).toHaveLength(1);
    expect(applyAlertEvent(l2, { action: 'resolved', alert: { ...a, state: 'resolved' } })).toEqual([]);
    expect(applyAlertEvent(l2, null)).toBe(l2);
    expect(applyAlertEvent(l2, { action: 'fired', alert: { state: 'firing' } })).toBe(l2);
  });
});

describe('chart colours', () => {
  test('come from the palette in index.css', () => {
    for (const { name, hex } of Object.values(CHART_COLORS)) {
      const m = new RegExp(`--color-${name}:\\s*(#[0-9a-f]{6});`, 'i').exec(css);
      expect(m?.[1]?.toLowerCase(), name).toBe(hex);
    }
  });
});
