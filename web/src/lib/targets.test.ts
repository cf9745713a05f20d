import { describe, expect, test } from 'vitest';
import { applyEvent, healthCounts, healthText, sortedTargets, type TargetMap } from './targets';

const running = { state: 'running', latency_ms: 4.24, checked_at: null, error: null } as const;
const stopped = { state: 'stopped', latency_ms: null, checked_at: null, error: { code: 'stopped', message: 'refused' } } as const;

function snap(): TargetMap {
  return applyEvent(new Map(), 'snapshot', {
    targets: [{ id: 2, label: 'beta', health: stopped }, { id: 1, label: 'Alpha', health: running }, { bogus: true }],
    last_event_id: '5', resumed: false,
  });
}

describe('applyEvent', () => {
  test('snapshot replaces everything and drops malformed entries', () => {
    const m = snap();
    expect([...m.keys()].sort()).toEqual([1, 2]);
    expect(applyEvent(m, 'snapshot', { targets: [] }).size).toBe(0);
  });
  test('health updates a known target only', () => {
    const m = snap();
    const m2 = applyEvent(m, 'health', { target_id: 2, health: running, previous: 'stopped' });
    expect(m2.get(2)?.health?.state).toBe('running');
    expect(m.get(2)?.health?.state).toBe('stopped'); // not mutated
    expect(applyEvent(m, 'health', { target_id: 9, health: running })).toBe(m);
  });
  test('target created, updated, deleted', () => {
    let m = snap();
    m = applyEvent(m, 'target', { action: 'created', target_id: 3, target: { id: 3, label: 'gamma', health: null } });
    expect(m.get(3)?.label).toBe('gamma');
    m = applyEvent(m, 'target', { action: 'updated', target_id: 3, target: { id: 3, label: 'gamma-2', health: running } });
    expect(m.get(3)?.label).toBe('gamma-2');
    m = applyEvent(m, 'target', { action: 'deleted', target_id: 3, target: null });
    expect(m.has(3)).toBe(false);
    expect(applyEvent(m, 'target', { action: 'deleted', target_id: 3 })).toBe(m);
  });
  test('other and malformed events change nothing', () => {
    const m = snap();
    expect(applyEvent(m, 'models', { target_id: 1 })).toBe(m);
    expect(applyEvent(m, 'health', 'nope')).toBe(m);
    expect(applyEvent(m, 'snapshot', { targets: 'x' })).toBe(m);
  });
});

describe('presentation', () => {
  test('sorted by label, case-insensitive', () => {
    expect(sortedTargets(snap()).map((t) => t.label)).toEqual(['Alpha', 'beta']);
  });
  test('health text', () => {
    expect(healthText(running)).toBe('running · 4.2 ms');
    expect(healthText({ ...running, latency_ms: 123.4 })).toBe('running · 123 ms');
    expect(healthText(stopped)).toBe('stopped');
    expect(healthText(null)).toBe('not checked yet');
  });
  test('counts', () => {
    expect(healthCounts(sortedTargets(snap()))).toEqual({ running: 1, problems: 1, unknown: 0 });
  });
});
