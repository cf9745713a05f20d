// targets.ts - the shell strip's view of the targets, folded from
// /api/events (pure: unit-tested without a browser).
import type { Health, TargetSummary } from '../api/types';

export type TargetMap = ReadonlyMap<number, TargetSummary>;

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null;
}

function toSummary(v: unknown): TargetSummary | null {
  if (!isObj(v) || typeof v.id !== 'number' || typeof v.label !== 'string') return null;
  return { id: v.id, label: v.label, health: isObj(v.health) ? (v.health as unknown as Health) : null };
}

/** Apply one event; returns the same map when nothing changed. */
export function applyEvent(m: TargetMap, type: string, data: unknown): TargetMap {
  if (!isObj(data)) return m;
  switch (type) {
    case 'snapshot': {
      if (!Array.isArray(data.targets)) return m;
      const next = new Map<number, TargetSummary>();
      for (const t of data.targets) {
        const s = toSummary(t);
        if (s) next.set(s.id, s);
      }
      return next;
    }
    case 'health': {
      const id = data.target_id;
      if (typeof id !== 'number' || !isObj(data.health)) return m;
      const cur = m.get(id);
      if (!cur) return m;
      const next = new Map(m);
      next.set(id, { ...cur, health: data.health as unknown as Health });
      return next;
    }
    case 'target': {
      const id = data.target_id;
      if (typeof id !== 'number') return m;
      const next = new Map(m);
      if (data.action === 'deleted') {
        if (!next.delete(id)) return m;
        return next;
      }
      const s = toSummary(data.target);
      if (!s) return m;
      next.set(id, s);
      return next;
    }
    default:
      return m;
  }
}

export function sortedTargets(m: TargetMap): TargetSummary[] {
  return [...m.values()].sort((a, b) => a.label.localeCompare(b.label, undefined, { sensitivity: 'base' }));
}

export const STATE_LABEL: Record<string, string> = {
  unknown: 'not checked yet',
  running: 'running',
  stopped: 'stopped',
  stalled: 'stalled',
  unauthorized: 'unauthorized',
  error: 'error',
};

/** "running · 4 ms", "stopped", "not checked yet". */
export function healthText(h: Health | null): string {
  if (!h) return STATE_LABEL.unknown;
  const base = STATE_LABEL[h.state] ?? h.state;
  if (h.state === 'running' && typeof h.latency_ms === 'number') {
    return `${base} · ${h.latency_ms < 10 ? h.latency_ms.toFixed(1) : Math.round(h.latency_ms)} ms`;
  }
  return base;
}

/** Counts for the strip summary: how many run, how many need attention. */
export function healthCounts(list: TargetSummary[]): { running: number; problems: number; unknown: number } {
  let running = 0, problems = 0, unknown = 0;
  for (const t of list) {
    const s = t.health?.state ?? 'unknown';
    if (s === 'running') running++;
    else if (s === 'unknown') unknown++;
    else problems++;
  }
  return { running, problems, unknown };
}
