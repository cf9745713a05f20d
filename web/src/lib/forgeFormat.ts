// forgeFormat.ts - short human text for the Forge: byte sizes (binary
// units, as LM Studio prints them), durations, rates, counts. Pure.

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

/** 5027784224 -> "4.7 GiB"; null/invalid -> "—". One decimal from KiB up, none under 10 in B. */
export function formatBytes(n: number | null | undefined, digits = 1): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '—';
  const neg = n < 0;
  let v = Math.abs(n);
  let u = 0;
  while (v >= 1024 && u < UNITS.length - 1) { v /= 1024; u++; }
  const s = u === 0 ? String(Math.round(v)) : v.toFixed(v >= 100 ? 0 : digits);
  return `${neg ? '-' : ''}${s} ${UNITS[u]}`;
}

/** Bytes per second -> "12.5 MiB/s". */
export function formatRate(bps: number | null | undefined): string {
  if (bps === null || bps === undefined || !Number.isFinite(bps) || bps < 0) return '—';
  return `${formatBytes(bps)}/s`;
}

/** Milliseconds -> "1 h 05 min", "9 min 59 s", "42 s", "0 s". */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '—';
  const s = Math.max(0, Math.floor(ms / 1000));
  const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  if (d > 0) return `${d} d ${h} h`;
  if (h > 0) return `${h} h ${String(m).padStart(2, '0')} min`;
  if (m > 0) return `${m} min ${String(sec).padStart(2, '0')} s`;
  return `${sec} s`;
}

/** 131072 -> "131,072" (grouping independent of the browser locale). */
export function formatInt(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '—';
  return Math.round(n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** Percentage 0..100 of part/total, clamped; 0 when total is not positive. */
export function percent(part: number, total: number): number {
  if (!Number.isFinite(part) || !Number.isFinite(total) || total <= 0) return 0;
  return Math.min(100, Math.max(0, (part / total) * 100));
}
