// consoleTestLines.ts - log lines for the Console's unit tests (shape of
// docs/api-logs.md `line` events).
import type { LogLine, LogLevel, LogSource } from '../api/logs';

export function mkLine(seq: number, over: Partial<LogLine> = {}): LogLine {
  const source: LogSource = over.source ?? 'server';
  const level: LogLevel = over.level ?? 'info';
  return {
    seq, target_id: 1, source, type: source === 'server' ? 'server.log' : source === 'model' ? 'llm.prediction.output'
      : source === 'runtime' ? 'runtime.log' : 'dp.event',
    level, ts: new Date(1795600000000 + seq).toISOString(), ts_ms: 1795600000000 + seq,
    summary: `line ${seq}`, high: level === 'warn' || level === 'error', model: null, stats: null,
    payload: { type: 'server.log', content: `line ${seq}`, level }, payload_hidden: false, truncated: false,
    ...over,
  };
}
