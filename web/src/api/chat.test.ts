// chat.test.ts - streamChat over a fake fetch: events decoded in order
// from arbitrarily split chunks, HTTP errors before the stream, a stream
// cut short, Stop (POST /api/chat/{id}/stop) and abort.
import { afterEach, describe, expect, test, vi } from 'vitest';
import { streamChat, type ChatEvent } from './chat';

const enc = new TextEncoder();

function sse(events: [string, unknown][]): string {
  return ': ok\n\n' + events.map(([n, d]) => `event: ${n}\ndata: ${JSON.stringify(d)}\n\n`).join('');
}

/** A Response whose body yields `chunks`, then waits for `release` (if given) before closing. */
function streamResponse(chunks: string[], opts: { hold?: Promise<void>; signal?: AbortSignal } = {}): Response {
  const body = new ReadableStream<Uint8Array>({
    async start(ctrl) {
      for (const c of chunks) ctrl.enqueue(enc.encode(c));
      if (opts.hold) {
        opts.signal?.addEventListener('abort', () => ctrl.error(new DOMException('aborted', 'AbortError')));
        await opts.hold;
      }
      try { ctrl.close(); } catch { /* errored */ }
    },
  });
  return new Response(body, { status: 200, headers: { 'Content-Type': 'text/event-stream' } });
}

function run(fetchFn: (url: string, init: RequestInit) => Promise<Response>) {
  const events: ChatEvent[] = [];
  let closed: { code: string | null; aborted: boolean } | null = null;
  let resolve!: () => void;
  const done = new Promise<void>((r) => { resolve = r; });
  const h = streamChat(3, { model: 'm', messages: [{ role: 'user', content: 'hi' }] }, {
    onEvent: (e) => events.push(e),
    onClose: (err, aborted) => { closed = { code: err?.code ?? null, aborted }; resolve(); },
  }, fetchFn);
  return { events, handle: h, done, closed: () => closed };
}

const FULL: [string, unknown][] = [
  ['start', { request_id: 'c_1', model: 'm', api: 'v1', target_id: 3, conversation_id: null }],
  ['reasoning', { text: 'hmm' }],
  ['content', { text: '<b>hi</b>' }],
  ['stats', { server: { ttft_ms: 5 }, lmstudio: null }],
  ['end', { stop_reason: 'eosFound', response_id: null, conversation_id: null, message_id: null }],
];

afterEach(() => { vi.unstubAllGlobals(); });

describe('streamChat', () => {
  test('posts the request and decodes every event, whatever the chunking', async () => {
    const text = sse(FULL);
    for (const size of [1, 3, 17, text.length]) {
      const chunks = text.match(new RegExp(`[\\s\\S]{1,${size}}`, 'g'))!;
      let seen: { url: string; init: RequestInit } | null = null;
      const r = run(async (url, init) => { seen = { url, init }; return streamResponse(chunks); });
      await r.done;
      expect(seen!.url).toBe('/api/targets/3/chat');
      expect(seen!.init.method).toBe('POST');
      expect(JSON.parse(String(seen!.init.body))).toEqual({ model: 'm', messages: [{ role: 'user', content: 'hi' }] });
      expect(r.events.map((e) => e.type)).toEqual(['start', 'reasoning', 'content', 'stats', 'end']);
      expect(r.events[2]).toEqual({ type: 'content', text: '<b>hi</b>' });
      expect(r.closed()).toEqual({ code: null, aborted: false });
    }
  });

  test('an HTTP error before the stream is reported with the server code', async () => {
    const r = run(async () => new Response(JSON.stringify({ error: { code: 'bad_request', message: 'model is required' } }), { status: 400 }));
    await r.done;
    expect(r.events).toEqual([]);
    expect(r.closed()).toEqual({ code: 'bad_request', aborted: false });
  });

  test('a stream without its end event is incomplete', async () => {
    const r = run(async () => streamResponse([sse(FULL.slice(0, 3))]));
    await r.done;
    expect(r.events.length).toBe(3);
    expect(r.closed()!.code).toBe('incomplete_stream');
  });

  test('stop asks the server to stop the request named by start', async () => {
    let release!: () => void;
    const hold = new Promise<void>((r) => { release = r; });
    const stopCalls: string[] = [];
    vi.stubGlobal('fetch', async (url: string, init: RequestInit) => {
      stopCalls.push(`${init.method} ${url}`);
      // the server ends the stream with stats + end userStopped
      release();
      return new Response(null, { status: 204 });
    });
    let ctrl: ReadableStreamDefaultController<Uint8Array>;
    const r = run(async () => new Response(new ReadableStream<Uint8Array>({
      async start(c) {
        ctrl = c;
        c.enqueue(enc.encode(sse(FULL.slice(0, 2))));
        await hold;
        c.enqueue(enc.encode(sse([['stats', { server: null }], ['end', { stop_reason: 'userStopped' }]])));
        c.close();
      },
    }), { status: 200 }));
    while (r.events.length < 2) await new Promise((res) => setTimeout(res, 1));
    r.handle.stop();
    await r.done;
    expect(ctrl!).toBeDefined();
    expect(stopCalls).toEqual(['POST /api/chat/c_1/stop']);
    expect(r.events.at(-1)).toMatchObject({ type: 'end', stop_reason: 'userStopped' });
    expect(r.closed()).toEqual({ code: null, aborted: false });
  });

  test('abort drops the stream at once', async () => {
    let signal: AbortSignal | undefined;
    const never = new Promise<void>(() => {});
    const r = run(async (_u, init) => { signal = init.signal ?? undefined; return streamResponse([sse(FULL.slice(0, 2))], { hold: never, signal }); });
    while (r.events.length < 2) await new Promise((res) => setTimeout(res, 1));
    r.handle.abort();
    await r.done;
    expect(signal!.aborted).toBe(true);
    expect(r.closed()).toEqual({ code: null, aborted: true });
  });

  test('stop falls back to abort when the server does not know the request', async () => {
    vi.stubGlobal('fetch', async () => new Response(JSON.stringify({ error: { code: 'not_found', message: 'x' } }), { status: 404 }));
    let signal: AbortSignal | undefined;
    const never = new Promise<void>(() => {});
    const r = run(async (_u, init) => { signal = init.signal ?? undefined; return streamResponse([sse(FULL.slice(0, 1))], { hold: never, signal }); });
    while (r.events.length < 1) await new Promise((res) => setTimeout(res, 1));
    r.handle.stop();
    await r.done;
    expect(r.closed()).toEqual({ code: null, aborted: true });
  });
});
