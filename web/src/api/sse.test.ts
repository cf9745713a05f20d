import { describe, expect, test, vi } from 'vitest';
import { decodeData, subscribe } from './sse';

class FakeES {
  static last: FakeES;
  listeners = new Map<string, Set<(e: Event) => void>>();
  closed = false;
  readyState = 0;
  constructor(public url: string) { FakeES.last = this; }
  addEventListener(t: string, fn: (e: Event) => void) {
    if (!this.listeners.has(t)) this.listeners.set(t, new Set());
    this.listeners.get(t)!.add(fn);
  }
  removeEventListener(t: string, fn: (e: Event) => void) { this.listeners.get(t)?.delete(fn); }
  close() { this.closed = true; }
  emit(t: string, data?: string, id = '') {
    const ev = Object.assign(new Event(t), { data, lastEventId: id });
    for (const fn of this.listeners.get(t) ?? []) fn(ev);
  }
  count() { let n = 0; for (const s of this.listeners.values()) n += s.size; return n; }
}

describe('subscribe', () => {
  test('delivers decoded events and unsubscribes completely', () => {
    const onEvent = vi.fn();
    const onOpen = vi.fn();
    const unsub = subscribe('/api/events', ['health'], { onEvent, onOpen },
      FakeES as unknown as typeof EventSource);
    const es = FakeES.last;
    expect(es.url).toBe('/api/events');
    es.emit('open');
    es.emit('health', '{"state":"running"}', '7');
    es.emit('message', 'plain');
    expect(onOpen).toHaveBeenCalledOnce();
    expect(onEvent).toHaveBeenNthCalledWith(1, 'health', { state: 'running' }, '7');
    expect(onEvent).toHaveBeenNthCalledWith(2, 'message', 'plain', '');
    unsub();
    expect(es.closed).toBe(true);
    expect(es.count()).toBe(0);
    es.emit('health', '{}');
    expect(onEvent).toHaveBeenCalledTimes(2);
    unsub(); // idempotent
  });
  test('onError tells a reconnect from a refusal', () => {
    const onError = vi.fn();
    const unsub = subscribe('/api/events', [], { onEvent: () => {}, onError }, FakeES as unknown as typeof EventSource);
    const es = FakeES.last;
    es.emit('error');
    es.readyState = 2;
    es.emit('error');
    expect(onError.mock.calls).toEqual([[false], [true]]);
    unsub();
  });
  test('decodeData keeps non-JSON as text', () => {
    expect(decodeData('{"a":1}')).toEqual({ a: 1 });
    expect(decodeData('<b>')).toBe('<b>');
  });
});
