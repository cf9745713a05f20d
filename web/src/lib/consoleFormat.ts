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

/** A banner for a source status that needs the user's attention, or null. */
export function statusBanner(s: SourceStatus): { kind: 'warning' | 'error' | 'info'; title: string; text: string } | null {
  const src = SOURCE_LABEL[s.source] ?? s.source;
  const reason = s.reason ?? '';
  switch (s.state) {
    case 'restarting':
      return {
        kind: 'warning', title: `The ${src} log stream stopped; restarting`,
        text: `${reason || 'lms log stream exited'}${s.retry_in_ms !== null ? ` — next try in ${Math.max(1, Math.round(s.retry_in_ms / 1000))} s` : ''}` +
          ` (restart ${s.restarts}).`,
      };
    case 'refused':
      return {
        kind: 'error', title: `The target refuses the ${src} log stream`,
        text: `${reason || 'lms log stream failed three times without a line'}. The target may not allow remote log ` +
          'streaming, or lms cannot reach it; DaemonPulse retries every 30 s while you watch.',
      };
    case 'unavailable':
      return { kind: 'warning', title: `No ${src} logs from LM Studio`, text: reason || 'lms is not available' };
    case 'running':
      return reason ? { kind: 'info', title: `No ${src} log line yet`, text: reason } : null;
    default:
      return null;
  }
}
