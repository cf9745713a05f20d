// consoleFilter.ts - what the Console shows of the lines it holds: the
// source toggles, the level filter (All, Live, Info, Warn, Error) and the
// text search, applied on the client so changing them re-filters what is
// already on screen; and the search highlight, split into text pieces
// (rendered as spans, never as HTML). Pure: unit-tested without a browser.
import type { LogLevel, LogLine, LogSource } from '../api/logs';

export type LevelFilter = 'all' | 'live' | 'info' | 'warn' | 'error';
export const LEVEL_FILTERS: readonly LevelFilter[] = ['all', 'live', 'info', 'warn', 'error'];

export interface Filter {
  sources: ReadonlySet<LogSource>;
  level: LevelFilter;
  /** search text as typed; matched case-insensitively */
  q: string;
}

const RANK: Record<string, number> = { debug: 0, info: 1, warn: 2, error: 3 };
export const levelRank = (l: LogLevel | string): number => RANK[l] ?? 1;

/** Longest search text (the server accepts 256 bytes for its own `q`). */
export const MAX_QUERY = 256;
/** Payload text searched per line (bigger payloads are searched in their first part). */
const MAX_PAYLOAD_TEXT = 65536;

const payloadText = new WeakMap<LogLine, string>();

/** The payload as searchable text (cached per line). */
export function payloadString(l: LogLine): string {
  let s = payloadText.get(l);
  if (s === undefined) {
    if (l.payload === null || l.payload === undefined) s = '';
    else {
      try { s = JSON.stringify(l.payload) ?? ''; } catch { s = ''; }
    }
    if (s.length > MAX_PAYLOAD_TEXT) s = s.slice(0, MAX_PAYLOAD_TEXT);
    s = s.toLowerCase();
    payloadText.set(l, s);
  }
  return s;
}

export function normQuery(q: string): string {
  return q.trim().slice(0, MAX_QUERY).toLowerCase();
}

/** Does the line pass the filter? `nq` is normQuery(f.q), computed once per pass. */
export function matches(l: LogLine, f: Filter, nq: string = normQuery(f.q)): boolean {
  if (!f.sources.has(l.source)) return false;
  switch (f.level) {
    case 'all': break;
    case 'live': if (!l.high) return false; break;
    default: if (levelRank(l.level) < levelRank(f.level)) return false;
  }
  if (!nq) return true;
  return l.summary.toLowerCase().includes(nq) || l.type.toLowerCase().includes(nq) ||
    (l.model !== null && l.model.toLowerCase().includes(nq)) || payloadString(l).includes(nq);
}

export interface Piece { text: string; hit: boolean }

/** At most this many highlighted pieces per text (the rest stays plain). */
export const MAX_HITS = 200;

/**
 * Split `text` into pieces where the case-insensitive matches of `q` are
 * marked; concatenating the pieces gives `text` back unchanged.
 */
export function splitHighlight(text: string, q: string): Piece[] {
  const nq = normQuery(q);
  if (!nq || !text) return text ? [{ text, hit: false }] : [];
  const lower = text.toLowerCase();
  // toLowerCase can change the length of some characters (e.g. "İ"); only
  // index into the original when lengths agree, else match nothing
  if (lower.length !== text.length) return [{ text, hit: false }];
  const out: Piece[] = [];
  let from = 0;
  let hits = 0;
  while (hits < MAX_HITS) {
    const i = lower.indexOf(nq, from);
    if (i < 0) break;
    if (i > from) out.push({ text: text.slice(from, i), hit: false });
    out.push({ text: text.slice(i, i + nq.length), hit: true });
    from = i + nq.length;
    hits++;
  }
  if (from < text.length) out.push({ text: text.slice(from), hit: false });
  return out;
}

/**
 * The part of a one-line `text` to show when the first match of `q` lies
 * beyond `lead` characters: an ellipsis and the text from a little before
 * the match, so a truncated row still shows why it matched.
 */
export function aroundMatch(text: string, q: string, lead = 60, before = 24): string {
  const nq = normQuery(q);
  if (!nq) return text;
  const lower = text.toLowerCase();
  if (lower.length !== text.length) return text;
  const i = lower.indexOf(nq);
  if (i < 0 || i + nq.length <= lead) return text;
  return '…' + text.slice(Math.max(0, i - before));
}
