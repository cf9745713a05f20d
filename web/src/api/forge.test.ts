import { describe, expect, test } from 'vitest';
import { parseForgeEvent, subscribeForge } from './forge';

describe('parseForgeEvent', () => {
  test('typed events from the server shapes', () => {
    expect(parseForgeEvent('models', { target_id: 1, fingerprint: 'x', loaded: [], models: 3 })).toEqual({ type: 'models', target_id: 1 });
    const job = { target_id: 1, job_id: 'job_1', model: 'qwen/qwen3-1.7b', status: 'downloading' };
    expect(parseForgeEvent('download', { target_id: 1, job })).toEqual({ type: 'download', target_id: 1, job });
    const load = { target_id: 2, model: 'm', instance_id: null, path: 'rest', result: 'started', error: null, by: 'alice' };
    expect(parseForgeEvent('load', load)).toEqual({ type: 'load', data: load });
    expect(parseForgeEvent('settings', { mode: 'live', load_presets: [], updated_at: null })?.type).toBe('settings');
    expect(parseForgeEvent('snapshot', { targets: [], resumed: true })).toEqual({ type: 'snapshot', resumed: true });
  });
  test('malformed or foreign events are dropped', () => {
    expect(parseForgeEvent('models', { target_id: '1' })).toBeNull();
    expect(parseForgeEvent('download', { target_id: 1, job: null })).toBeNull();
    expect(parseForgeEvent('settings', { mode: 'other', load_presets: [] })).toBeNull();
    expect(parseForgeEvent('health', { target_id: 1 })).toBeNull();
    expect(parseForgeEvent('health', { target_id: 1, health: { state: 'running' }, previous: 'stopped' }))
      .toEqual({ type: 'health', target_id: 1, state: 'running' });
    expect(parseForgeEvent('load', 'text')).toBeNull();
  });
});

describe('subscribeForge', () => {
  test('delivers parsed events and unsubscribes (closes the stream)', () => {
    const listeners = new Map<string, (e: Event) => void>();
    let closed = false;
    let url = '';
    class FakeES {
      readyState = 1;
      constructor(u: string) { url = u; }
      addEventListener(t: string, fn: (e: Event) => void) { listeners.set(t, fn); }
      removeEventListener(t: string) { listeners.delete(t); }
      close() { closed = true; }
    }
    const got: unknown[] = [];
    const unsub = subscribeForge({ onEvent: (e) => got.push(e) }, FakeES as unknown as typeof EventSource);
    expect(url).toBe('/api/events');
    listeners.get('models')!({ data: '{"target_id":3}', lastEventId: '1' } as unknown as Event);
    listeners.get('models')!({ data: 'not json', lastEventId: '2' } as unknown as Event);
    expect(got).toEqual([{ type: 'models', target_id: 3 }]);
    unsub();
    expect(closed).toBe(true);
    expect(listeners.size).toBe(0);
  });
});
