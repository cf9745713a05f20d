import { describe, expect, test } from 'vitest';
import type { ChatEvent } from './chat';
import { streamRun } from './mcp';

function sseResponse(text: string): Response {
  const enc = new TextEncoder();
  return new Response(new ReadableStream({ start(c) { c.enqueue(enc.encode(text)); c.close(); } }),
    { status: 200, headers: { 'Content-Type': 'text/event-stream' } });
}

describe('streamRun', () => {
  test('posts the chat body plus servers to the toolchain route and decodes the Pulse stream', async () => {
    const seen: { url: string; body: unknown; method: string }[] = [];
    const events: ChatEvent[] = [];
    const fetchFn = async (url: string, init: RequestInit) => {
      seen.push({ url, body: JSON.parse(String(init.body)), method: String(init.method) });
      return sseResponse(': ok\n\n'
        + 'event: start\ndata: {"request_id":"c_1","model":"m","api":"v1","target_id":4,"conversation_id":null}\n\n'
        + 'event: tool_call\ndata: {"phase":"start","tool":"echo","provider_info":{"type":"ephemeral_mcp","server_label":"ev"}}\n\n'
        + 'event: tool_call\ndata: {"phase":"success","tool":"echo","arguments":{"message":"hi"},"output":"Echo: hi"}\n\n'
        + 'event: stats\ndata: {"server":{},"lmstudio":null}\n\n'
        + 'event: end\ndata: {"stop_reason":"completed","response_id":null,"conversation_id":null,"message_id":null}\n\n');
    };
    let closed: unknown = 'open';
    const h = streamRun(4, { model: 'm', messages: [{ role: 'user', content: 'use echo' }], servers: [3, 5], save: false },
      { onEvent: (e) => events.push(e), onClose: (err) => { closed = err; } }, fetchFn);
    await h.done;
    expect(seen).toEqual([{ url: '/api/targets/4/toolchain/run', method: 'POST',
      body: { model: 'm', messages: [{ role: 'user', content: 'use echo' }], servers: [3, 5], save: false } }]);
    expect(events.map((e) => e.type)).toEqual(['start', 'tool_call', 'tool_call', 'stats', 'end']);
    const tc = events[1] as ChatEvent & { provider_info?: unknown };
    expect(tc.provider_info).toEqual({ type: 'ephemeral_mcp', server_label: 'ev' });
    expect(closed).toBeNull();
  });

  test('an error before the stream (409 no_tools) comes back as ApiError', async () => {
    const fetchFn = async () => new Response(JSON.stringify({ error: { code: 'no_tools', message: 'none of the servers has an allowed tool' } }),
      { status: 409, headers: { 'Content-Type': 'application/json' } });
    let err: { code?: string; message?: string } | null = null;
    const h = streamRun(1, { model: 'm', messages: [{ role: 'user', content: 'x' }], servers: [1] },
      { onEvent: () => {}, onClose: (e) => { err = e; } }, fetchFn);
    await h.done;
    expect(err).toMatchObject({ code: 'no_tools', message: 'none of the servers has an allowed tool' });
  });
});
