// consoleFormat.test.ts - colours by type and level, downloads, banners and
// the performance figures of the Console.
import { describe, expect, test } from 'vitest';
import type { SourceStatus } from '../api/logs';
import {
  downloadName, downloadText, hasPayload, joinSources, levelClass, lineClass, payloadPretty, statusBanner, statusBanners, timeOfDay,
} from './consoleFormat';
import { chartSeries, fmt, fmtInt, fmtTtft, newestModel } from './consolePerf';
import { mkLine } from './consoleTestLines';

describe('presentation', () => {
  test('colour by level first, then type', () => {
    expect(lineClass(mkLine(1, { level: 'error', type: 'llm.prediction.output' }))).toBe('text-red-300');
    expect(lineClass(mkLine(1, { level: 'warn' }))).toBe('text-amber-200');
    expect(lineClass(mkLine(1, { source: 'model', type: 'llm.prediction.output' }))).toBe('text-emerald-300');
    expect(lineClass(mkLine(1, { source: 'model', type: 'llm.prediction.input' }))).toBe('text-indigo-200');
    expect(lineClass(mkLine(1, { source: 'daemonpulse' }))).toBe('text-indigo-300');
    expect(lineClass(mkLine(1, { level: 'debug' }))).toBe('text-slate-400');
    expect(levelClass('error')).toBe('text-red-300');
  });

  test('time of day in UTC', () => {
    expect(timeOfDay(mkLine(1, { ts_ms: Date.UTC(2026, 10, 26, 10, 0, 5, 42) }), true)).toBe('10:00:05.042');
  });

  test('payloads: folded only when there is one; pretty and bounded', () => {
    expect(hasPayload(mkLine(1))).toBe(true);
    expect(hasPayload(mkLine(1, { payload: null }))).toBe(false);
    expect(hasPayload(mkLine(1, { payload: {} }))).toBe(false);
    expect(payloadPretty(mkLine(1, { payload: { a: 1 } }))).toBe('{\n  "a": 1\n}');
    expect(payloadPretty(mkLine(1, { payload: { a: 'x'.repeat(100) } }), 20).endsWith('(cut for display)')).toBe(true);
  });

  test('download of the visible lines', () => {
    const ls = [mkLine(1), mkLine(2, { level: 'warn', summary: 'careful' })];
    const nd = downloadText(ls, 'ndjson').trim().split('\n').map((l) => JSON.parse(l));
    expect(nd.map((l) => l.seq)).toEqual([1, 2]);
    const txt = downloadText(ls, 'txt').split('\n');
    expect(txt[1]).toBe(`${ls[1].ts}\tserver\twarn\tserver.log\tcareful`);
    expect(downloadText([], 'txt')).toBe('');
    expect(downloadName('gpu box/1 <x>', 'ndjson', new Date(Date.UTC(2026, 10, 26, 10, 0, 5))))
      .toBe('daemonpulse-gpu-box-1-x-logs-20261126T100005Z.ndjson');
    expect(downloadName('///', 'txt', new Date(0))).toBe('daemonpulse-target-logs-19700101T000000Z.txt');
  });

  test('status banners say what happened', () => {
    const st = (over: Partial<SourceStatus>): SourceStatus => ({
      target_id: 1, source: 'model', state: 'running', reason: null, restarts: 0, retry_in_ms: null,
      lines: 0, bad_lines: 0, skipped_lines: 0, since: null, ...over,
    });
    expect(statusBanner(st({}))).toBeNull();
    expect(statusBanner(st({ state: 'idle' }))).toBeNull();
    const hint = statusBanner(st({ reason: 'no log line received yet; the target may not allow remote log streaming' }));
    expect(hint?.kind).toBe('info');
    const r = statusBanner(st({ state: 'restarting', reason: 'lms log stream exited with code 1', restarts: 3, retry_in_ms: 4000 }));
    expect(r?.kind).toBe('warning');
    expect(r?.text).toContain('exited with code 1');
    expect(r?.text).toContain('4 s');
    expect(statusBanner(st({ state: 'refused', reason: 'connection refused' }))?.kind).toBe('error');
    expect(statusBanner(st({ state: 'unavailable', reason: 'lms not found on PATH (set LMS_BIN)' }))?.text)
      .toBe('lms not found on PATH (set LMS_BIN)');
  });

  test('sources in the same state for the same reason share one banner', () => {
    const st = (source: SourceStatus['source'], over: Partial<SourceStatus>): SourceStatus => ({
      target_id: 1, source, state: 'running', reason: null, restarts: 0, retry_in_ms: null,
      lines: 0, bad_lines: 0, skipped_lines: 0, since: null, ...over,
    });
    const why = 'no log line after 3 attempts; the target may not allow remote log streaming';
    const bs = statusBanners([
      st('server', { state: 'refused', reason: why }), st('model', { state: 'refused', reason: why }),
      st('runtime', { state: 'refused', reason: why }), st('daemonpulse', {}),
    ]);
    expect(bs.length).toBe(1);
    expect(bs[0].title).toBe('The target refuses the server, model and runtime log streams');
    expect(bs[0].sources).toEqual(['server', 'model', 'runtime']);
    // the reason already says it: not repeated
    expect(bs[0].text.match(/remote log streaming/g)?.length).toBe(1);
    const two = statusBanners([st('server', { state: 'refused', reason: 'a' }), st('model', { state: 'restarting', reason: 'b', retry_in_ms: 1000 })]);
    expect(two.map((b) => b.kind)).toEqual(['error', 'warning']);
    expect(two[0].text).toContain('may not allow remote log streaming');
    expect(joinSources(['a'])).toBe('a');
    expect(joinSources(['a', 'b'])).toBe('a and b');
  });
});

describe('performance figures', () => {
  test('missing values stay a dash', () => {
    expect(fmt(null)).toBe('—');
    expect(fmt(45.25)).toBe('45.3');
    expect(fmtInt(1234)).toBe('1,234');
    expect(fmtInt(undefined)).toBe('—');
    expect(fmtTtft(0.123)).toBe('123 ms');
    expect(fmtTtft(2.5)).toBe('2.50 s');
    expect(fmtTtft(null)).toBe('—');
  });

  test('chart series keep gaps as null', () => {
    const p = (tps: number | null, ttft: number | null, ts_ms: number) => ({
      ts: '', ts_ms, tokens_per_second: tps, ttft_sec: ttft, prompt_tokens: null, predicted_tokens: null,
      total_tokens: null, total_time_sec: null, stop_reason: null,
    });
    expect(chartSeries([p(40, 0.1, 1), p(null, 0.2, 2)])).toEqual([[1, 2], [40, null], [0.1, 0.2]]);
    const m = (model: string, ts: number[]) => ({
      model, count: ts.length, tokens_per_second: { avg: null, p50: null, min: null, max: null },
      ttft_sec: { avg: null, p50: null, min: null, max: null }, predictions: ts.map((t) => p(1, 1, t)),
    });
    expect(newestModel([m('a', [1, 5]), m('b', [9]), m('c', [])])).toBe('b');
    expect(newestModel([])).toBeNull();
  });
});
