// sim_conformance_timing.test.mjs - llmster-sim behaviour over (simulated)
// time against the LM Studio reference: idle TTL of JIT-loaded models, the
// per-load parallel default. Runs one simulator at --speed 1 (real time) for
// the TTL check; written from the reference only ("§n" = its section).
import { test, before, after } from 'node:test';
import { startProc, bin } from '../lib/harness.mjs';
import { A, assertionCount, isNum, get, post, models } from './sim_conformance_util.mjs';

const T = { timeout: 120000 };
let sim, base, catalog;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

before(async () => {
  sim = await startProc(bin('llmster-sim'), ['--port', '0', '--speed', '1', '--seed', '1']);
  base = sim.url;
  catalog = await models(base);
});

after(async () => {
  console.log(`# conformance assertions (sim_conformance_timing.test.mjs): ${assertionCount()}`);
  await sim?.stop();
});

const smallest = (type) => catalog.filter((m) => m.type === type).sort((a, b) => a.size_bytes - b.size_bytes)[0];
const instances = async (key) => (await models(base)).find((m) => m.key === key).loaded_instances;

test('§5 per-request "ttl" on a JIT load: the idle instance is unloaded after ttl seconds; explicit loads stay', T, async () => {
  const m = smallest('llm');
  const e = smallest('embedding');
  const l = await post(base, '/api/v1/models/load', { model: e.key });
  A.equal(l.status, 200, l.text);
  const r = await post(base, '/v1/chat/completions', { model: m.key, messages: [{ role: 'user', content: 'hi' }], max_tokens: 2, ttl: 2 });
  A.equal(r.status, 200, r.text);
  const done = Date.now();
  A.equal((await instances(m.key)).length, 1, 'JIT-loaded');
  let gone = null;
  while (Date.now() - done < 30000) {
    if ((await instances(m.key)).length === 0) { gone = Date.now(); break; }
    await sleep(100);
  }
  A.ok(gone !== null, 'JIT instance unloaded after its TTL');
  A.ok(gone - done >= 1500, `not before the TTL (${gone - done} ms)`);
  A.equal((await instances(e.key)).length, 1, '§5: lms/REST loads have no TTL');
  await post(base, '/api/v1/models/unload', { instance_id: (await instances(e.key))[0].id });
});

test('§5 the idle timer restarts on every request', T, async () => {
  const m = smallest('llm');
  const body = { model: m.key, messages: [{ role: 'user', content: 'hi' }], max_tokens: 1, ttl: 4 };
  A.equal((await post(base, '/v1/chat/completions', body)).status, 200);
  // use it every second for 5 s (> ttl 4 s): it must survive
  for (let i = 0; i < 5; i++) {
    await sleep(1000);
    A.equal((await post(base, '/v1/chat/completions', body)).status, 200);
    A.equal((await instances(m.key)).length, 1, `still loaded after ${i + 1} s of use`);
  }
  await post(base, '/api/v1/models/unload', { instance_id: (await instances(m.key))[0].id });
});

test('§5/§3.1 parallel defaults to 4 (Max Concurrent Predictions) for a load without it', T, async () => {
  const m = catalog.filter((x) => x.type === 'llm' && x.format === 'gguf').sort((a, b) => a.size_bytes - b.size_bytes)[0];
  const r = await post(base, '/api/v1/models/load', { model: m.key, context_length: 2048 });
  A.equal(r.status, 200, r.text);
  const inst = (await instances(m.key))[0];
  if ('parallel' in inst.config) A.equal(inst.config.parallel, 4);
  A.ok(isNum(inst.config.context_length));
  await post(base, '/api/v1/models/unload', { instance_id: inst.id });
});

test('§3.7 model_load.progress and prompt_processing.progress rise to 1 at real speed', T, async () => {
  const m = smallest('llm');
  const r = await fetch(`${base}/api/v1/chat`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: m.key, input: 'Tell me a story about a lighthouse.', stream: true, max_output_tokens: 5 }),
  });
  const text = await r.text();
  const { parseSSE } = await import('./sim_conformance_util.mjs');
  const ev = parseSSE(text).map((f) => f.json);
  const lp = ev.filter((e) => e.type === 'model_load.progress').map((e) => e.progress);
  const pp = ev.filter((e) => e.type === 'prompt_processing.progress').map((e) => e.progress);
  A.ok(lp.length >= 1 && pp.length >= 1);
  for (const s of [lp, pp]) {
    for (let i = 1; i < s.length; i++) A.ok(s[i] >= s[i - 1], 'progress never goes back');
    A.ok(s.every((p) => p >= 0 && p <= 1));
  }
  const end = ev[ev.length - 1];
  A.equal(end.type, 'chat.end');
  A.ok(end.result.stats.model_load_time_seconds > 0, 'a real-speed load takes time');
  A.ok(end.result.stats.time_to_first_token_seconds > 0);
  await get(base, '/api/v1/models');
});
