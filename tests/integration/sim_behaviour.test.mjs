// sim_behaviour.test.mjs - llmster-sim behaviour beyond wire shapes: JIT
// load + TTL eviction, parallel slots and queueing, memory accounting on
// /__sim/gpus, downloads over simulated time, determinism, faults, the lms
// backend and server stop/start. Uses --speed 0 except where time matters.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startProc, bin } from '../lib/harness.mjs';

const T = { timeout: 120000 };
let sim, base;
const j = async (path, body, method) => {
  const r = await fetch(base + path, body === undefined && !method ? {} : {
    method: method || 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body ?? {}),
  });
  const text = await r.text();
  let json; try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: r.status, json, text };
};
const waitFor = async (fn, ms = 20000) => {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 50));
  }
};

before(async () => {
  sim = await startProc(bin('llmster-sim'), ['--port', '0', '--speed', '0', '--seed', '7',
    '--gpus', 'RTX 4090:24GiB,RTX 3060:12GiB', '--ram', '64GiB']);
  base = sim.url;
});
after(async () => { await sim?.stop(); });

test('memory accounting: load uses VRAM on both GPUs, unload frees it', T, async () => {
  await j('/__sim/lms/unload', { all: true });
  const g0 = (await j('/__sim/gpus')).json;
  assert.equal(g0.gpus.length, 2);
  assert.ok(g0.gpus.every((g) => g.used_vram_bytes === 0 && /^GPU-/.test(g.id)));
  const l = await j('/api/v1/models/load', { model: 'qwen/qwen3-8b', context_length: 4096 });
  assert.equal(l.status, 200, l.text);
  const g1 = (await j('/__sim/gpus')).json;
  assert.ok(g1.gpus[0].used_vram_bytes > g1.gpus[1].used_vram_bytes && g1.gpus[1].used_vram_bytes > 0);
  const total = g1.gpus.reduce((s, g) => s + g.used_vram_bytes, 0);
  assert.ok(total > 5027784224 && total < 5027784224 + 4e9, `used ${total}`);
  const est = await j('/__sim/lms/load', { modelKey: 'qwen/qwen3-8b', contextLength: 4096, estimateOnly: true });
  assert.equal(est.status, 200);
  assert.equal(est.json.passesGuardrails, true);
  assert.equal(est.json.memory.modelBytes, 5027784224);
  // a load that cannot fit fails in the v1 error envelope and changes nothing
  const big = await j('/__sim/lms/load', { modelKey: 'qwen/qwen3-30b-a3b', gpu: 'max', contextLength: 40960, parallel: 8 });
  assert.equal(big.status, 507, big.text);
  assert.deepEqual((await j('/__sim/gpus')).json.gpus.map((g) => g.used_vram_bytes), g1.gpus.map((g) => g.used_vram_bytes));
  await j('/api/v1/models/unload', { instance_id: 'qwen/qwen3-8b' });
  const g2 = (await j('/__sim/gpus')).json;
  assert.ok(g2.gpus.every((g) => g.used_vram_bytes === 0));
  assert.equal(g2.ram.used_bytes, 0);
});

test('JIT load with a per-request ttl, then idle eviction', T, async () => {
  await j('/__sim/lms/unload', { all: true });
  const r = await j('/v1/chat/completions', { model: 'ibm/granite-4-micro', ttl: 1, messages: [{ role: 'user', content: 'hi' }] });
  assert.equal(r.status, 200, r.text);
  let ps = (await j('/__sim/lms/ps')).json;
  assert.equal(ps.length, 1);
  assert.equal(ps[0].identifier, 'ibm/granite-4-micro');
  assert.equal(ps[0].ttlMs, 1000);
  assert.equal(ps[0].status, 'idle');
  await waitFor(async () => (await j('/__sim/lms/ps')).json.length === 0, 10000);
  ps = (await j('/__sim/lms/ps')).json;
  assert.deepEqual(ps, []);
});

test('parallel slots and queue: lms ps reports queued including running', T, async () => {
  // a slow simulator so requests overlap
  const slow = await startProc(bin('llmster-sim'), ['--port', '0', '--speed', '20']);
  try {
    const b = slow.url;
    const load = await fetch(`${b}/__sim/lms/load`, { method: 'POST', body: JSON.stringify({ modelKey: 'ibm/granite-4-micro', parallel: 2 }) });
    assert.equal(load.status, 200);
    const reqs = [];
    for (let i = 0; i < 5; i++) {
      reqs.push(fetch(`${b}/v1/chat/completions`, { method: 'POST', body: JSON.stringify({ model: 'ibm/granite-4-micro', max_tokens: 60, messages: [{ role: 'user', content: `q${i}` }] }) }).then((r) => r.json()));
    }
    const seen = await waitFor(async () => {
      const ps = await (await fetch(`${b}/__sim/lms/ps`)).json();
      return ps[0] && ps[0].queued >= 3 ? ps[0] : null;
    });
    assert.equal(seen.parallel, 2);
    assert.ok(['processingPrompt', 'generating'].includes(seen.status), seen.status);
    const st = await (await fetch(`${b}/__sim/state`)).json();
    assert.ok(st.instances[0].active <= 2, 'never more running than slots');
    const out = await Promise.all(reqs);
    assert.ok(out.every((o) => o.choices[0].message.content.length > 0));
    const ps = await (await fetch(`${b}/__sim/lms/ps`)).json();
    assert.equal(ps[0].queued, 0);
    assert.equal(ps[0].status, 'idle');
  } finally { await slow.stop(); }
});

test('determinism: same seed and request give the same text; another seed differs', T, async () => {
  const body = { model: 'meta/llama-3.2-3b', messages: [{ role: 'user', content: 'Describe a river.' }], seed: 3 };
  const a = await j('/v1/chat/completions', body);
  const b = await j('/v1/chat/completions', body);
  assert.equal(a.json.choices[0].message.content, b.json.choices[0].message.content);
  const c = await j('/v1/chat/completions', { ...body, seed: 4 });
  assert.notEqual(a.json.choices[0].message.content, c.json.choices[0].message.content);
  assert.equal(a.json.usage.completion_tokens, b.json.usage.completion_tokens);
});

test('streamed token counts equal stats (v0 final chunk)', T, async () => {
  const r = await fetch(`${base}/api/v0/chat/completions`, { method: 'POST', body: JSON.stringify({ model: 'qwen/qwen3-8b', stream: true, messages: [{ role: 'user', content: 'Why is the sky blue?' }] }) });
  const text = await r.text();
  const chunks = text.split('\n\n').filter((l) => l.startsWith('data: {')).map((l) => JSON.parse(l.slice(6)));
  const deltas = chunks.filter((c) => c.choices[0]?.delta?.content);
  const last = chunks[chunks.length - 1];
  assert.equal(last.usage.completion_tokens, deltas.length);
  assert.ok(deltas[0].choices[0].delta.content === '<think>', 'think tags inside content for a think-tag model');
  assert.ok(text.trimEnd().endsWith('data: [DONE]'));
});

test('downloads progress over simulated time and the model appears', T, async () => {
  const fast = await startProc(bin('llmster-sim'), ['--port', '0', '--speed', '50']);
  try {
    const b = fast.url;
    const before = (await (await fetch(`${b}/api/v1/models`)).json()).models.length;
    const d = await (await fetch(`${b}/api/v1/models/download`, { method: 'POST', body: JSON.stringify({ model: 'qwen/qwen3-1.7b' }) })).json();
    assert.equal(d.status, 'downloading');
    const s1 = await (await fetch(`${b}/api/v1/models/download/status/${d.job_id}`)).json();
    assert.ok(s1.downloaded_bytes < s1.total_size_bytes);
    const fin = await waitFor(async () => {
      const s = await (await fetch(`${b}/api/v1/models/download/status/${d.job_id}`)).json();
      return s.status === 'completed' ? s : null;
    });
    assert.equal(fin.downloaded_bytes, fin.total_size_bytes);
    const after2 = (await (await fetch(`${b}/api/v1/models`)).json()).models;
    assert.equal(after2.length, before + 1);
    assert.ok(after2.some((m) => m.key === 'qwen/qwen3-1.7b'));
  } finally { await fast.stop(); }
});

test('faults: error500, refuse, close_mid_stream, then recovery', T, async () => {
  let f = await j('/__sim/faults', { mode: 'error500', duration_ms: 60000, paths: ['/v1/models'] });
  assert.equal(f.status, 200);
  assert.equal((await j('/v1/models')).status, 500);
  assert.equal((await j('/api/v1/models')).status, 200, 'other paths unaffected');
  await j('/__sim/faults', { mode: 'refuse', duration_ms: 60000 });
  await assert.rejects(fetch(`${base}/api/v1/models`));
  assert.equal((await j('/__sim/state')).json.fault.mode, 'refuse');
  await j('/__sim/faults', { mode: 'close_mid_stream', duration_ms: 60000 });
  const r = await fetch(`${base}/v1/chat/completions`, { method: 'POST', body: JSON.stringify({ model: 'ibm/granite-4-micro', stream: true, messages: [{ role: 'user', content: 'x' }] }) });
  await assert.rejects(r.text(), 'stream is cut');
  f = await j('/__sim/faults', {}, 'DELETE');
  assert.equal(f.status, 200);
  assert.equal((await j('/v1/models')).status, 200);
  assert.equal((await j('/__sim/faults', { mode: 'bogus', duration_ms: 1 })).status, 400);
});

test('server stop closes the REST API but keeps /__sim/; start restores it', T, async () => {
  assert.deepEqual((await j('/__sim/lms/server-status')).json, { running: true, port: sim.port });
  assert.equal((await j('/__sim/lms/server-stop', {})).status, 200);
  await assert.rejects(fetch(`${base}/lmstudio-greeting`));
  assert.equal((await j('/__sim/lms/server-stop', {})).status, 409);
  assert.equal((await j('/__sim/lms/server-status')).json.running, false);
  assert.equal((await j('/__sim/lms/server-start', {})).status, 200);
  assert.equal((await j('/lmstudio-greeting')).json.lmstudio, true);
});

test('log stream: live NDJSON DiagnosticsLogEvents filtered by source', T, async () => {
  const ctl = new AbortController();
  const r = await fetch(`${base}/__sim/lms/log-stream?source=model`, { signal: ctl.signal });
  assert.equal(r.status, 200);
  const reader = r.body.getReader();
  await j('/api/v1/chat', { model: 'ibm/granite-4-micro', input: 'hello there', store: false });
  let buf = '';
  const events = await waitFor(async () => {
    const { value } = await reader.read();
    buf += new TextDecoder().decode(value);
    const lines = buf.split('\n').filter(Boolean);
    return lines.length >= 2 ? lines.map((l) => JSON.parse(l)) : null;
  });
  ctl.abort();
  assert.equal(events[0].data.type, 'llm.prediction.input');
  assert.ok(events[0].data.input.includes('hello there'));
  assert.equal(events[1].data.type, 'llm.prediction.output');
  assert.equal(events[1].data.modelIdentifier, 'ibm/granite-4-micro');
  assert.ok(Number.isInteger(events[1].timestamp));
  assert.ok(events.every((e) => e.data.type.startsWith('llm.prediction.')));
});

test('lms backend errors: ambiguous key, unknown key, identifier in use, unknown unload; still serving', T, async () => {
  await j('/__sim/lms/unload', { all: true });
  assert.equal((await j('/__sim/lms/load', { modelKey: 'qwen' })).status, 409);
  const nf = await j('/__sim/lms/load', { modelKey: 'no-such-model-at-all' });
  assert.equal(nf.status, 404);
  assert.match(nf.json.error, /no-such-model-at-all/);
  assert.equal((await j('/__sim/lms/load', { modelKey: 'ibm/granite-4-micro', identifier: 'dup' })).status, 200);
  const dup = await j('/__sim/lms/load', { modelKey: 'ibm/granite-4-micro', identifier: 'dup' });
  assert.equal(dup.status, 409);
  assert.match(dup.json.error, /dup/);
  const un = await j('/__sim/lms/unload', { identifier: 'nobody-here' });
  assert.equal(un.status, 404);
  assert.match(un.json.error, /nobody-here/);
  assert.equal((await j('/__sim/lms/load', { modelKey: 'ibm/granite-4-micro', gpu: 'lots' })).status, 400);
  assert.deepEqual((await j('/__sim/lms/unload', { all: true })).json.unloaded, ['dup']);
  assert.equal((await j('/lmstudio-greeting')).json.lmstudio, true);
});
