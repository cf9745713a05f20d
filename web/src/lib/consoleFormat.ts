// consoleFormat.ts - how the Console presents a line: time of day, labels
// and colour classes by source, type and level (palette colours only; the
// pairs are checked in consoleContrast.test.ts), the folded JSON payload and
// the text of a download. Pure.
import type { LogLine, LogSource, SourceStatus } from '../api/logs';

export function timeOfDay(l: LogLine, utc = false): string {
  const d = new Date(typeof l.ts_ms === 'number' ? l.ts_ms : Date.parse(l.ts));
  if (Number.isNaN(d.getTime())) return '--:--:--.---';
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return utc
    ? `${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}.${p(d.getUTCMilliseconds(), 3)}`
    : `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

export const SOURCE_LABEL: Record<LogSource, string> = {
  server: 'server', model: 'model', runtime: 'runtime', daemonpulse: 'DaemonPulse',
};

export const LEVEL_LABEL: Record<string, string> = { debug: 'DEBUG', info: 'INFO', warn: 'WARN', error: 'ERROR' };

/** Text colour of the summary, by level first, then by type. */
export function lineClass(l: LogLine): string {
  if (l.level === 'error') return 'text-red-300';
  if (l.level === 'warn') return 'text-amber-200';
  if (l.type === 'llm.prediction.output') return 'text-emerald-300';
  if (l.type === 'llm.prediction.input') return 'text-indigo-200';
  if (l.source === 'daemonpulse') return 'text-indigo-300';
  if (l.level === 'debug') return 'text-slate-400';
  return 'text-slate-200';
}

/** Level badge colour (text on the list background). */
export function levelClass(level: string): string {
  switch (level) {
    case 'error': return 'text-red-300';
    case 'warn': return 'text-amber-200';
    case 'info': return 'text-slate-300';
    default: return 'text-slate-400';
  }
}

export function sourceClass(s: LogSource): string {
  switch (s) {
    case 'model': return 'text-emerald-300';
    case 'runtime': return 'text-amber-200';
    case 'daemonpulse': return 'text-indigo-300';
    default: return 'text-slate-300';
  }
}

/** Does the line carry something worth unfolding? */
export function hasPayload(l: LogLine): boolean {
  return l.payload !== null && typeof l.payload === 'object' && Object.keys(l.payload as object).length > 0;
}

/** The payload pretty-printed (bounded: the server already cut strings at 64 KiB). */
export function payloadPretty(l: LogLine, max = 200000): string {
  let s: string;
  try { s = JSON.stringify(l.payload, null, 2) ?? ''; } catch { s = String(l.payload); }
  return s.length > max ? s.slice(0, max) + '\n… (cut for display)' : s;
}

/** One line of the plain-text download. */
export function lineText(l: LogLine): string {
  return `${l.ts}\t${l.source}\t${l.level}\t${l.type}\t${l.summary}`;
}

export function downloadText(lines: readonly LogLine[], format: 'ndjson' | 'txt'): string {
  if (!lines.length) return '';
  if (format === 'ndjson') return lines.map((l) => JSON.stringify(l)).join('\n') + '\n';
  return lines.map(lineText).join('\n') + '\n';
}

/** File name for a download: label sanitised, UTC timestamp. */
export function downloadName(label: string, format: 'ndjson' | 'txt', now = new Date()): string {
  const safe = label.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 60) || 'target';
  const ts = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `daemonpulse-${safe}-logs-${ts}.${format === 'ndjson' ? 'ndjson' : 'txt'}`;
}

export const STATE_TEXT: Record<string, string> = {
  idle: 'idle', running: 'streaming', restarting: 'restarting', refused: 'refused', unavailable: 'unavailable',
};

/** "server", "server and model", "server, model and runtime". */
export function joinSources(names: readonly string[]): string {
  if (names.length <= 1) return names.join('');
  return `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}`;
}

export interface Banner { kind: 'warning' | 'error' | 'info'; title: string; text: string; sources: LogSource[] }

/** A banner for a source status that needs the user's attention, or null. */
export function statusBanner(s: SourceStatus): Banner | null {
  return statusBanners([s])[0] ?? null;
}

/**
 * Banners for the sources' states that need the user's attention; sources
 * in the same state for the same reason share one banner.
 */
export function statusBanners(list: readonly SourceStatus[]): Banner[] {
  const groups = new Map<string, SourceStatus[]>();
  for (const s of list) {
    if (s.state === 'idle' || (s.state === 'running' && !s.reason)) continue;
    const key = `${s.state}\u0000${s.reason ?? ''}\u0000${s.state === 'restarting' ? s.retry_in_ms : ''}`;
    const g = groups.get(key);
    if (g) g.push(s); else groups.set(key, [s]);
  }
  const out: Banner[] = [];
  for (const g of groups.values()) {
    const s = g[0];
    const names = joinSources(g.map((x) => SOURCE_LABEL[x.source] ?? x.source));
    const streams = g.length > 1 ? `${names} log streams` : `${names} log stream`;
    const reason = (s.reason ?? '').trim();
    const sources = g.map((x) => x.source);
    switch (s.state) {
      case 'restarting':
        out.push({
          kind: 'warning', title: `The ${streams} stopped; restarting`, sources,
          text: `${reason || 'lms log stream exited'}${s.retry_in_ms !== null ? ` — next try in ${Math.max(1, Math.round(s.retry_in_ms / 1000))} s` : ''}` +
            ` (restart ${Math.max(...g.map((x) => x.restarts))}).`,
        });
        break;
      case 'refused': {
        const says = /remote log streaming/i.test(reason);
        out.push({
          kind: 'error', title: `The target refuses the ${streams}`, sources,
          text: `${reason || 'lms log stream failed three times without a line'}` +
            `${says ? '' : ' The target may not allow remote log streaming, or lms cannot reach it.'}` +
            ' DaemonPulse retries every 30 s while you watch.',
        });
        break;
      }
      case 'unavailable':
        out.push({ kind: 'warning', title: `No ${names} logs from LM Studio`, text: reason || 'lms is not available', sources });
        break;
      case 'running':
        out.push({ kind: 'info', title: `No ${names} log line yet`, text: reason, sources });
        break;
      default:
        break;
    }
  }
  return out;
}
