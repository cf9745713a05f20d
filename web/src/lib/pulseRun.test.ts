// pulseRun.test.ts - folding chat events into a run, and the stats maths.
import { describe, expect, test } from 'vitest';
import type { ChatEvent } from '../api/chat';
import { decodeChatEvent } from '../api/chat';
import { applyEvent, closeRun, isActive, joinedToolCalls, newRun } from './pulseRun';
import { arrivalRate, browserTtftMs, fmtMs, fmtRate, lmstudioFigures, rateSeries, reasoningTokens, serverFigures, stopReasonText } from './pulseStats';

const ev = (name: string, data: unknown) => decodeChatEvent(name, JSON.stringify(data))!;

describe('decodeChatEvent', () => {
  test('known events decode, unknown and bad JSON are skipped', () => {
    expect(ev('content', { text: 'hi' })).toEqual({ type: 'content', text: 'hi' });
    expect(ev('end', { stop_reason: 'eosFound', response_id: null, conversation_id: 3, message_id: 9 }))
      .toEqual({ type: 'end', stop_reason: 'eosFound', response_id: null, conversation_id: 3, message_id: 9 });
    expect(decodeChatEvent('weird', '{}')).toBeNull();
    expect(decodeChatEvent('content', 'not json')).toBeNull();
    expect(decodeChatEvent('content', '[1]')).toBeNull();
    expect(ev('content', { text: 5 })).toEqual({ type: 'content', text: '' });
  });
});

describe('applyEvent', () => {
  test('a v1 stream with a JIT load, reasoning and content', () => {
    let r = newRun('qwen/qwen3-8b', 1000);
    const seq: [ChatEvent, number][] = [
      [ev('start', { request_id: 'c_1', model: 'qwen/qwen3-8b', api: 'v1', target_id: 1, conversation_id: 4 }), 1001],
      [ev('model_load', { progress: 0 }), 1010],
      [ev('model_load', { progress: 0.5 }), 1020],
      [ev('model_load', { done: true, load_time_seconds: 2.5 }), 1030],
      [ev('prompt_progress', { progress: 0.5 }), 1040],
      [ev('prompt_progress', { progress: 1 }), 1050],
      [ev('reasoning', { text: 'Let me ' }), 1100],
      [ev('reasoning', { text: 'think.' }), 1120],
      [ev('content', { text: 'Hello' }), 1140],
      [ev('content', { text: ' **world**' }), 1160],
      [ev('stats', { server: { ttft_ms: 99, tokens: 4, tokens_per_second: 50 }, lmstudio: { tokens_per_second: 48 }, usage: null }), 1170],
      [ev('end', { stop_reason: 'eosFound', response_id: 'resp_1', conversation_id: 4, message_id: 8 }), 1180],
    ];
    const statuses: string[] = [];
    for (const [e, at] of seq) { r = applyEvent(r, e, at); statuses.push(r.status); }
    expect(statuses).toEqual(['sending', 'loading', 'loading', 'processing', 'processing', 'processing',
      'streaming', 'streaming', 'streaming', 'streaming', 'streaming', 'done']);
    expect(r.reasoning).toBe('Let me think.');
    expect(r.content).toBe('Hello **world**');
    expect([r.reasoningEvents, r.contentEvents]).toEqual([2, 2]);
    expect(r.modelLoadSeconds).toBe(2.5);
    expect(r.firstTokenAt).toBe(1100);
    expect(r.lastTokenAt).toBe(1160);
    expect(r.tokenTimes).toEqual([1100, 1120, 1140, 1160]);
    expect(r.messageId).toBe(8);
    expect(r.responseId).toBe('resp_1');
    expect(browserTtftMs(r.sentAt, r.firstTokenAt)).toBe(100);
    expect(arrivalRate(4, r.firstTokenAt, r.lastTokenAt)).toBeCloseTo(3 / 0.06, 6);
    expect(isActive(r)).toBe(false);
  });
  test('stopped and errors', () => {
    let r = newRun('m', 0);
    r = applyEvent(r, ev('content', { text: 'a' }), 5);
    r = applyEvent(r, ev('error', { code: 'stopped', message: 'stopped by the user' }), 6);
    r = applyEvent(r, ev('end', { stop_reason: 'userStopped' }), 7);
    expect(r.status).toBe('stopped');
    expect(r.errors).toEqual([{ code: 'stopped', message: 'stopped by the user' }]);
    const cut = closeRun(applyEvent(newRun('m', 0), ev('content', { text: 'a' }), 1), 9, { code: 'connection_lost', message: 'x' }, false);
    expect(cut.status).toBe('error');
    expect(cut.errors[0].code).toBe('connection_lost');
    const aborted = closeRun(newRun('m', 0), 3, null, true);
    expect(aborted.status).toBe('stopped');
    // closing a finished run changes nothing
    expect(closeRun(r, 99, { code: 'x', message: 'y' }, false)).toBe(r);
  });
  test('OpenAI tool-call fragments are joined per index', () => {
    const calls = joinedToolCalls([
      { phase: 'call', index: 0, id: 'a', tool: 'get_weather', arguments: '{"ci' },
      { phase: 'call', index: 0, arguments: 'ty":"Oslo"}' },
      { phase: 'call', index: 1, tool: 'noop', arguments: '{}' },
    ]);
    expect(calls.map((c) => [c.tool, c.args])).toEqual([['get_weather', '{"city":"Oslo"}'], ['noop', '{}']]);
  });
});

describe('stats maths', () => {
  test('browser TTFT and arrival rate', () => {
    expect(browserTtftMs(null, 5)).toBeNull();
    expect(browserTtftMs(10, null)).toBeNull();
    expect(browserTtftMs(10, 5)).toBeNull();
    expect(browserTtftMs(10, 135.5)).toBe(125.5);
    expect(arrivalRate(1, 0, 0)).toBeNull();
    expect(arrivalRate(11, 0, 1000)).toBe(10);
    expect(arrivalRate(5, 100, 100)).toBeNull();
  });
  test('rate series: a steady 20 tokens/s gives 20 once the window is full', () => {
    const times = Array.from({ length: 61 }, (_, i) => 1000 + i * 50); // 20/s for 3 s
    const s = rateSeries(times, 5500, 250, 1000);
    expect(s.x[0]).toBe(0);
    const mid = s.x.findIndex((x) => x === 2);
    expect(s.y[mid]).toBe(20);
    // after the last token the rate falls to 0 once the window has passed
    expect(s.y[s.y.length - 1]).toBe(0);
    expect(rateSeries([], 10)).toEqual({ x: [], y: [] });
  });
  test('rate series stays bounded for long runs', () => {
    const times = Array.from({ length: 1000 }, (_, i) => i * 1000);
    expect(rateSeries(times, 1e6).x.length).toBeLessThanOrEqual(2401);
  });
  test('formatting', () => {
    expect(fmtMs(null)).toBe('—');
    expect(fmtMs(0.5)).toBe('0.50 ms');
    expect(fmtMs(3.14)).toBe('3.1 ms');
    expect(fmtMs(112.4)).toBe('112 ms');
    expect(fmtMs(1250)).toBe('1.25 s');
    expect(fmtRate(55.55)).toBe('55.5 tok/s'.replace('55.5', (55.55).toFixed(1)));
    expect(fmtRate(123.4)).toBe('123 tok/s');
    expect(fmtRate(123456)).toBe('123,456 tok/s');
    expect(stopReasonText('maxPredictedTokensReached')).toBe('max tokens reached');
    expect(stopReasonText('somethingNew')).toBe('somethingNew');
  });
  test('LM Studio figures, v0 and v1 shapes', () => {
    expect(lmstudioFigures({ tokens_per_second: 51.43, time_to_first_token: 0.111, generation_time: 0.954, stop_reason: 'eosFound' }))
      .toEqual([{ label: 'tokens/s', value: '51.4 tok/s' }, { label: 'TTFT', value: '111 ms' },
        { label: 'generation', value: '954 ms' }, { label: 'stop', value: 'eosFound' }]);
    const v1 = lmstudioFigures({ input_tokens: 646, total_output_tokens: 586, reasoning_output_tokens: 0, tokens_per_second: 29.75,
      time_to_first_token_seconds: 1.088, model_load_time_seconds: 2.656, extra_thing: 3 });
    expect(v1.map((f) => f.label)).toEqual(['tokens/s', 'TTFT', 'output tokens', 'reasoning tokens', 'input tokens', 'model load', 'extra thing']);
    expect(lmstudioFigures(null)).toEqual([]);
  });
  test('server figures and reasoning tokens', () => {
    const s = { server: { ttft_ms: 12, tokens: 53, tokens_source: 'lmstudio', tokens_per_second: 55.5, reasoning_events: 20 }, lmstudio: null, usage: null };
    expect(serverFigures(s)).toMatchObject({ ttft: 12, tokens: 53, rate: 55.5, tokensSource: 'lmstudio' });
    expect(serverFigures(null).ttft).toBeNull();
    expect(reasoningTokens(s, 3)).toEqual({ count: 20, source: 'events' });
    expect(reasoningTokens({ ...s, lmstudio: { reasoning_output_tokens: 18 } }, 3)).toEqual({ count: 18, source: 'lmstudio' });
    expect(reasoningTokens(null, 0)).toBeNull();
    expect(reasoningTokens(null, 7)).toEqual({ count: 7, source: 'events' });
  });
});
