import { describe, expect, test } from 'vitest';
import type { Estimate } from '../api/forge';
import { bar, compareFigures, estimateBars, lmStudioMarker, markerPct, mayLoad, verdict } from './forgeEstimate';

const GIB = 1024 ** 3;

function est(over: Partial<Estimate> = {}): Estimate {
  return {
    target_id: 1, model: 'm', config: {}, notes: [], basis: {}, confidence: 'medium', reason: null, fits: true,
    gpus: [{ index: 0, name: 'RTX 4090', total_bytes: 24 * GIB, used_before: 4 * GIB, load_bytes: 8 * GIB, used_after: 12 * GIB, fits: true }],
    ram: { total_bytes: 64 * GIB, used_before: 0, load_bytes: 200 * 1024 ** 2, used_after: 200 * 1024 ** 2, fits: true },
    breakdown: { weights: 5 * GIB, weights_gpu: 5 * GIB, weights_ram: 0, kv_cache: 2 * GIB, kv_cache_gpu: 2 * GIB, kv_cache_ram: 0,
      overhead: GIB, gpu_total: 8 * GIB, ram_total: 0, total: 8 * GIB },
    ...over,
  };
}

describe('bar maths', () => {
  test('a load that fits: widths against the capacity', () => {
    const b = bar('GPU 0', 24 * GIB, 6 * GIB, 6 * GIB);
    expect(b.fits).toBe(true);
    expect(b.beforePct).toBe(25);
    expect(b.loadPct).toBe(25);
    expect(b.capacityPct).toBe(100);
    expect(b.over).toBe(0);
    expect(b.free).toBe(12 * GIB);
    expect(b.text).toBe('12.0 GiB of 24.0 GiB after the load (12.0 GiB free)');
  });
  test('an overflow scales the bar to the total after the load and marks the capacity', () => {
    const b = bar('GPU 0', 24 * GIB, 12 * GIB, 36 * GIB);
    expect(b.fits).toBe(false);
    expect(b.after).toBe(48 * GIB);
    expect(b.beforePct).toBe(25);
    expect(b.loadPct).toBe(75);
    expect(b.capacityPct).toBe(50);
    expect(b.over).toBe(24 * GIB);
    expect(b.text).toBe('needs 48.0 GiB of 24.0 GiB: 24.0 GiB short');
  });
  test('widths never exceed 100 % together; zero capacity is safe', () => {
    const b = bar('x', 0, 0, 0);
    expect(b.beforePct + b.loadPct).toBeLessThanOrEqual(100);
    expect(Number.isFinite(b.capacityPct)).toBe(true);
    const c = bar('x', 10, 30, 5);
    expect(c.beforePct + c.loadPct).toBeLessThanOrEqual(100.0001);
  });
  test('the server verdict wins over our arithmetic', () => {
    expect(bar('x', 10, 0, 5, false).fits).toBe(false);
  });
  test('one bar per GPU plus RAM', () => {
    const e = est({ gpus: [...est().gpus, { index: 1, name: 'RTX 3060', total_bytes: 12 * GIB, used_before: 0, load_bytes: GIB, used_after: GIB, fits: true }] });
    expect(estimateBars(e).map((b) => b.label)).toEqual(['GPU 0 · RTX 4090', 'GPU 1 · RTX 3060', 'System RAM']);
    expect(estimateBars(est({ gpus: [], ram: null }))).toEqual([]);
  });
});

describe('verdict and blocking', () => {
  test('fits / will not fit / unknown', () => {
    expect(verdict(est())).toBe('fits');
    expect(verdict(est({ fits: false }))).toBe('will_not_fit');
    expect(verdict(est({ fits: null }))).toBe('unknown');
    expect(verdict(null)).toBe('unknown');
  });
  test('a load that will not fit needs an admin and the override', () => {
    const no = est({ fits: false });
    expect(mayLoad(no, false, false)).toBe(false);
    expect(mayLoad(no, false, true)).toBe(false);
    expect(mayLoad(no, true, false)).toBe(false);
    expect(mayLoad(no, true, true)).toBe(true);
    expect(mayLoad(est(), false, false)).toBe(true);
    expect(mayLoad(est({ fits: null }), false, false)).toBe(true);
  });
});

describe('ours vs LM Studio', () => {
  test('difference in both directions', () => {
    const hi = compareFigures(est({ lmstudio: { available: true, gpu_bytes: 7 * GIB } }));
    expect(hi.diff).toBe(GIB);
    expect(hi.text).toBe("Ours is 1.0 GiB higher than LM Studio's.");
    const lo = compareFigures(est({ lmstudio: { available: true, gpu_bytes: 9 * GIB } }));
    expect(lo.text).toMatch(/lower/);
    expect(compareFigures(est({ lmstudio: { available: true, gpu_bytes: 8 * GIB } })).text).toBe('Both figures agree.');
  });
  test('unavailable figure says why', () => {
    const c = compareFigures(est({ lmstudio: { available: false, reason: 'lms not found' } }));
    expect(c.theirs).toBeNull();
    expect(c.text).toMatch(/lms not found/);
  });
});

describe("LM Studio's figure on the bar", () => {
  test('marker position on the bar scale', () => {
    const b = bar('GPU 0', 24 * GIB, 6 * GIB, 6 * GIB);
    expect(markerPct(b, 12 * GIB)).toBe(50);
    expect(markerPct(b, 48 * GIB)).toBe(100);
    const over = bar('GPU 0', 24 * GIB, 12 * GIB, 36 * GIB);
    expect(markerPct(over, 24 * GIB)).toBe(50);
  });
  test('only with one GPU and a figure', () => {
    expect(lmStudioMarker(est({ lmstudio: { available: true, gpu_bytes: 7 * GIB } }))).toEqual({ gpuIndex: 0, bytesAfter: 11 * GIB });
    expect(lmStudioMarker(est({ lmstudio: { available: false, reason: 'x' } }))).toBeNull();
    expect(lmStudioMarker(est())).toBeNull();
    const two = est({ lmstudio: { available: true, gpu_bytes: GIB },
      gpus: [...est().gpus, { index: 1, name: 'b', total_bytes: GIB, used_before: 0, load_bytes: 0, used_after: 0, fits: true }] });
    expect(lmStudioMarker(two)).toBeNull();
  });
});
