// fleetTargets.ts - pure helpers of Settings → Daemon targets: the text of
// a connection test result and the tags field.
import type { TestResult } from '../api/targets';
import { formatLatency } from './fleet';

/** "Connected: running · 3.0 ms · 10 models on disk · 1 loaded" or "unauthorized: <server message>". */
export function testText(r: TestResult): string {
  if (r.ok) {
    const parts = [`Connected: ${r.state}`, formatLatency(r.latency_ms)];
    if (r.models !== null) parts.push(`${r.models} model${r.models === 1 ? '' : 's'} on disk`);
    if (r.loaded !== null) parts.push(`${r.loaded} loaded`);
    return parts.join(' · ');
  }
  return `${r.state}: ${r.error?.message ?? 'no answer'}`;
}

/** "lab, a100  x" -> ["lab", "a100", "x"] (the server validates each tag). */
export function parseTags(s: string): string[] {
  return s.split(/[\s,]+/).map((x) => x.trim()).filter(Boolean);
}
