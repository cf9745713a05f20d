// logs.test.ts - the log stream's URL and event validation.
import { expect, test } from 'vitest';
import { logsPath, toLogEvent } from './logs';

test('logsPath builds the query of docs/api-logs.md', () => {
  expect(logsPath(1)).toBe('/api/targets/1/logs');
  expect(logsPath(3, { sources: ['server', 'model'], level: 'all', payloads: true })).toBe('/api/targets/3/logs?source=server%2Cmodel');
  expect(logsPath(3, { level: 'warn', q: 'a b', payloads: false, backlog: 0 }))
    .toBe('/api/targets/3/logs?level=warn&q=a+b&payloads=0&backlog=0');
});

test('toLogEvent keeps well-formed events and drops the rest', () => {
  expect(toLogEvent('line', { seq: 1, summary: 's', source: 'server', level: 'info', type: 'server.log' })?.type).toBe('line');
  expect(toLogEvent('line', { seq: '1', summary: 's' })).toBeNull();
  expect(toLogEvent('line', 'text')).toBeNull();
  expect(toLogEvent('live', {})).toEqual({ type: 'live', data: { backlog: 0 } });
  expect(toLogEvent('status', { source: 'model', state: 'refused' })?.type).toBe('status');
  expect(toLogEvent('mode', { mode: 'other' })).toBeNull();
  expect(toLogEvent('mode', { mode: 'live', effective_level: 'live', payloads: false })?.type).toBe('mode');
  expect(toLogEvent('hello', { streams: [], lms: { available: true, reason: null } })?.type).toBe('hello');
  expect(toLogEvent('hello', { streams: [] })).toBeNull();
  expect(toLogEvent('perf', { model: 'm', prediction: {} })?.type).toBe('perf');
  expect(toLogEvent('bogus', {})).toBeNull();
});
