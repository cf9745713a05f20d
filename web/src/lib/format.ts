// format.ts - turning server values into short human text.
//
// Timestamps from the server may be ISO-8601 strings or Unix seconds; both
// are accepted. Everything returns plain strings that the views render as
// text (never as HTML).

export function toDate(v: string | number | null | undefined): Date | null {
  if (v === null || v === undefined || v === '') return null;
  if (typeof v === 'number') return Number.isFinite(v) ? new Date(v < 1e12 ? v * 1000 : v) : null;
  if (/^\d+(\.\d+)?$/.test(v)) return toDate(Number(v));
  // "2026-11-26 10:00:00" (SQLite) is UTC without a zone marker
  const iso = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(v) ? v.replace(' ', 'T') + 'Z' : v;
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? null : d;
}

const pad = (n: number) => String(n).padStart(2, '0');

/** "2026-11-26 10:06" in the given zone ("UTC" or local when omitted). */
export function formatDateTime(v: string | number | null | undefined, utc = false): string {
  const d = toDate(v);
  if (!d) return '—';
  if (utc) {
    return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())} UTC`;
  }
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** "just now", "5 min ago", "3 h ago", "2 days ago"; future times say "in …". */
export function relativeTime(v: string | number | null | undefined, now: number = Date.now()): string {
  const d = toDate(v);
  if (!d) return 'never';
  const s = Math.round((now - d.getTime()) / 1000);
  const abs = Math.abs(s);
  let text: string;
  if (abs < 45) return 'just now';
  if (abs < 3600) text = `${Math.round(abs / 60)} min`;
  else if (abs < 86400) text = `${Math.round(abs / 3600)} h`;
  else {
    const days = Math.round(abs / 86400);
    text = `${days} day${days === 1 ? '' : 's'}`;
  }
  return s >= 0 ? `${text} ago` : `in ${text}`;
}

export function roleLabel(role: string): string {
  switch (role) {
    case 'admin': return 'admin';
    case 'operator': return 'operator';
    case 'viewer': return 'viewer';
    default: return role || 'unknown';
  }
}

/** "1–50 of 123" for a page of `count` rows starting at `offset`. */
export function rangeLabel(offset: number, count: number, total?: number | null): string {
  if (count === 0) return total ? `0 of ${total}` : 'no entries';
  const a = offset + 1, b = offset + count;
  return total !== undefined && total !== null ? `${a}–${b} of ${total}` : `${a}–${b}`;
}
