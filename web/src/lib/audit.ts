// audit.ts - small pure helpers for the audit log view.

/** "role: operator · password reset" from an entry's detail object (text only). */
export function describeDetail(d: Record<string, unknown> | null | undefined): string {
  if (!d || typeof d !== 'object') return '';
  const parts: string[] = [];
  for (const [k, v] of Object.entries(d)) {
    if (k === 'password_reset' && v === true) { parts.push('password reset'); continue; }
    let s: string;
    if (v === null || v === undefined) s = '—';
    else if (typeof v === 'string') s = v;
    else if (typeof v === 'number' || typeof v === 'boolean') s = String(v);
    else s = JSON.stringify(v);
    parts.push(`${k.replace(/_/g, ' ')}: ${s}`);
  }
  const out = parts.join(' · ');
  return out.length > 200 ? out.slice(0, 199) + '…' : out;
}

/** "Entries 51–100" for page `idx` (0-based) of `size` holding `count` rows. */
export function pageLabel(idx: number, size: number, count: number): string {
  if (count === 0) return idx === 0 ? 'No entries' : 'No more entries';
  const a = idx * size + 1;
  return `Entries ${a}–${a + count - 1}`;
}
