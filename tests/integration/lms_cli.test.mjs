// lms_cli.test.mjs - build/lms (the `lms` stand-in) against llmster-sim.
//
// Checks every command DaemonPulse uses against the shapes, exit codes and
// output streams of reference §6 (CLI), §7.1 (log stream) and §8.1 (survey):
// JSON on stdout only, messages on stderr, exit 0 on success and 1 on errors.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import net from 'node:net';
import { startProc, run, bin } from '../lib/harness.mjs';

const T = { timeout: 120000 };
let sim, env;
let v1models = [];

const lms = (args, opts = {}) => run(bin('lms'), args, { env, timeoutMs: 60000, ...opts });
const json = (r) => {
  assert.equal(r.code, 0, `exit 0 expected, got ${r.code}: ${r.stderr}`);
  try { return JSON.parse(r.stdout); } catch (e) { throw new Error(`stdout is not JSON: ${r.stdout.slice(0, 300)}`); }
};
const hp = () => ['--host', '127.0.0.1', '--port', String(sim.port)];
const isStr = (v) => typeof v === 'string';
const isNum = (v) => typeof v === 'number' && Number.isFinite(v);
const isBool = (v) => typeof v === 'boolean';

before(async () => {
  sim = await startProc(bin('llmster-sim'), ['--port', '0', '--speed', '0', '--seed', '1',
    '--gpus', 'RTX 4090:24GiB,RTX 3060:12GiB', '--ram', '64GiB']);
  env = { LMS_SIM_HOST: '127.0.0.1', LMS_SIM_PORT: String(sim.port) };
  v1models = (await (await fetch(`${sim.url}/api/v1/models`)).json()).models;
});

after(async () => { await sim?.stop(); });

// reference §6.2 ModelInfo
const MODELINFO_KEYS = ['type', 'modelKey', 'format', 'displayName', 'publisher', 'path', 'sizeBytes',
  'indexedModelIdentifier', 'deviceIdentifier', 'paramsString', 'architecture', 'quantization', 'variants',
  'selectedVariant', 'maxContextLength', 'vision', 'trainedForToolUse'];
const FORMATS = ['gguf', 'safetensors', 'onnx', 'ggml', 'pte', 'mlx_placeholder', 'torch_safetensors'];

function checkModelInfo(m, extraKeys = []) {
  const w = `ModelInfo ${m.modelKey}`;
  const extra = Object.keys(m).filter((k) => !MODELINFO_KEYS.includes(k) && !extraKeys.includes(k));
  assert.deepEqual(extra, [], `${w}: undocumented keys`);
  assert.ok(['llm', 'embedding'].includes(m.type), `${w}: type`);
  for (const k of ['modelKey', 'displayName', 'publisher', 'path', 'indexedModelIdentifier']) assert.ok(isStr(m[k]), `${w}: ${k}`);
  assert.ok(FORMATS.includes(m.format), `${w}: format ${m.format}`);
  assert.ok(isNum(m.sizeBytes), `${w}: sizeBytes`);
  assert.equal(m.deviceIdentifier, null, `${w}: deviceIdentifier null = local`);
  assert.ok(isNum(m.maxContextLength), `${w}: maxContextLength`);
  if ('paramsString' in m) assert.ok(isStr(m.paramsString), `${w}: paramsString`);
  if ('architecture' in m) assert.ok(isStr(m.architecture), `${w}: architecture`);
  if ('quantization' in m) {
    assert.deepEqual(Object.keys(m.quantization).sort(), ['bits', 'name'], `${w}: quantization {name,bits}`);
  }
  if ('variants' in m) {
    assert.ok(Array.isArray(m.variants) && m.variants.every(isStr), `${w}: variants`);
    assert.ok(isStr(m.selectedVariant), `${w}: selectedVariant with variants`);
  }
  if (m.type === 'llm') {
    assert.ok(isBool(m.vision), `${w}: vision`);
    assert.ok(isBool(m.trainedForToolUse), `${w}: trainedForToolUse`);
  } else {
    assert.ok(!('vision' in m) && !('trainedForToolUse' in m), `${w}: llm-only fields on an embedding`);
  }
}

const PS_EXTRA = ['identifier', 'ttlMs', 'lastUsedTime', 'contextLength', 'status', 'queued', 'parallel'];
function checkPsEntry(e) {
  checkModelInfo(e, PS_EXTRA);
  assert.ok(isStr(e.identifier));
  assert.ok(e.ttlMs === null || isNum(e.ttlMs), 'ttlMs number|null');
  assert.ok(isNum(e.lastUsedTime), 'lastUsedTime epoch ms');
  assert.ok(isNum(e.contextLength));
  assert.ok(['idle', 'processingPrompt', 'generating', 'computingEmbedding'].includes(e.status), `status ${e.status}`);
  assert.ok(Number.isInteger(e.queued) && e.queued >= 0, 'queued');
  if (e.type === 'embedding') assert.equal(e.parallel, null, 'parallel null for embeddings');
  else assert.ok(Number.isInteger(e.parallel) && e.parallel >= 1, 'parallel');
}

const smallest = (type) => v1models.filter((m) => m.type === type).sort((a, b) => a.size_bytes - b.size_bytes)[0];

test('ls --json: ModelInfo[] for every downloaded model; --llm / --embedding filter', T, async () => {
  const all = json(await lms(['ls', '--json', ...hp()]));
  assert.ok(Array.isArray(all) && all.length > 0);
  for (const m of all) checkModelInfo(m);
  assert.deepEqual(all.map((m) => m.modelKey).sort(), v1models.map((m) => m.key).sort(), 'same models as /api/v1/models');
  for (const m of all) {
    const v = v1models.find((x) => x.key === m.modelKey);
    assert.equal(m.format, v.format === 'mlx' ? 'safetensors' : v.format, `${m.modelKey}: MLX shows "safetensors"`);
    assert.equal(m.sizeBytes, v.size_bytes);
    assert.equal(m.maxContextLength, v.max_context_length);
  }
  const llm = json(await lms(['ls', '--json', '--llm', ...hp()]));
  assert.ok(llm.length > 0 && llm.every((m) => m.type === 'llm'));
  const emb = json(await lms(['ls', '--json', '--embedding', ...hp()]));
  assert.ok(emb.length > 0 && emb.every((m) => m.type === 'embedding'));
  assert.equal(llm.length + emb.length, all.length);
  const text = await lms(['ls', ...hp()]);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /LLM/);
  for (const m of all) assert.ok(text.stdout.includes(m.modelKey), `table lists ${m.modelKey}`);
});

test('load with options, then ps --json shows identifier/contextLength/ttlMs/parallel', T, async () => {
  const m = smallest('llm');
  const r = await lms(['load', m.key, '--context-length', '4096', '--parallel', '2', '--ttl', '300',
    '--identifier', 'my-model', '--gpu', 'max', '-y', ...hp()]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, '', 'load prints nothing on stdout (no --json in the real CLI)');
  assert.match(r.stderr, /my-model/);
  const ps = json(await lms(['ps', '--json', ...hp()]));
  assert.equal(ps.length, 1);
  checkPsEntry(ps[0]);
  assert.equal(ps[0].identifier, 'my-model');
  assert.equal(ps[0].modelKey, m.key);
  assert.equal(ps[0].contextLength, 4096);
  assert.equal(ps[0].ttlMs, 300000);
  assert.equal(ps[0].parallel, 2);
  assert.equal(ps[0].status, 'idle');
  assert.equal(ps[0].queued, 0);
  // the same instance over REST
  const v1 = (await (await fetch(`${sim.url}/api/v1/models`)).json()).models.find((x) => x.key === m.key);
  const inst = v1.loaded_instances.find((i) => i.id === 'my-model');
  assert.ok(inst, 'REST lists the instance under its identifier');
  assert.equal(inst.config.context_length, 4096);
  // text table
  const t = await lms(['ps', ...hp()]);
  assert.equal(t.code, 0);
  assert.match(t.stdout, /my-model/);
  assert.match(t.stdout, /IDLE/);
});

test('load an embedding model: ps shows parallel null; ttlMs null without --ttl', T, async () => {
  const m = smallest('embedding');
  const r = await lms(['load', m.key, '-y', ...hp()]);
  assert.equal(r.code, 0, r.stderr);
  const ps = json(await lms(['ps', '--json', ...hp()]));
  const e = ps.find((x) => x.modelKey === m.key);
  assert.ok(e);
  checkPsEntry(e);
  assert.equal(e.parallel, null);
  assert.equal(e.ttlMs, null, 'lms load models have no TTL unless --ttl (§5)');
});

test('load --estimate-only prints the estimate on stderr and loads nothing', T, async () => {
  const before1 = json(await lms(['ps', '--json', ...hp()])).length;
  const m = smallest('llm');
  const r = await lms(['load', m.key, '--estimate-only', '-c', '8192', '--gpu', '0.5', '-y', ...hp()]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, '');
  const units = '(\\d+ Bytes|\\d+\\.\\d\\d (KiB|MiB|GiB|TiB)|0 GiB)';
  assert.match(r.stderr, /^Model: \S+$/m);
  assert.match(r.stderr, /^Context Length: 8192$/m);
  assert.match(r.stderr, /^GPU Offload: 50%$/m);
  assert.match(r.stderr, new RegExp(`^Estimated GPU Memory:   ${units}$`, 'm'));
  assert.match(r.stderr, new RegExp(`^Estimated Total Memory: ${units}$`, 'm'));
  assert.match(r.stderr, /^Estimate: This model (may be loaded|will fail to load) based on your resource guardrails settings\.$/m);
  assert.equal(json(await lms(['ps', '--json', ...hp()])).length, before1, 'nothing loaded');
});

test('load errors: unknown model, bad --gpu, missing key -> exit 1', T, async () => {
  for (const args of [['load', 'no-such-model-xyz-123', '-y'], ['load', smallest('llm').key, '--gpu', '1.5'],
    ['load', smallest('llm').key, '-c', 'abc'], ['load']]) {
    const r = await lms([...args, ...hp()]);
    assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stdout, '');
    assert.ok(r.stderr.length > 0, 'a message on stderr');
  }
});

test('unload <id>, unknown id -> exit 1, unload --all', T, async () => {
  let r = await lms(['unload', 'my-model', ...hp()]);
  assert.equal(r.code, 0, r.stderr);
  let ps = json(await lms(['ps', '--json', ...hp()]));
  assert.ok(!ps.some((e) => e.identifier === 'my-model'));
  r = await lms(['unload', 'no-such-instance', ...hp()]);
  assert.equal(r.code, 1);
  await lms(['load', smallest('llm').key, '-y', ...hp()]);
  r = await lms(['unload', '--all', ...hp()]);
  assert.equal(r.code, 0, r.stderr);
  ps = json(await lms(['ps', '--json', ...hp()]));
  assert.deepEqual(ps, []);
  const t = await lms(['ps', ...hp()]);
  assert.equal(t.code, 0);
});

// Spawn `lms log stream …`, collect stdout lines, resolve when the banner is on stderr.
function startStream(args) {
  const p = spawn(bin('lms'), ['log', 'stream', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const st = { p, stdout: '', stderr: '', lines: [] };
  p.stdout.on('data', (d) => {
    st.stdout += d;
    const parts = st.stdout.split('\n');
    st.stdout = parts.pop();
    st.lines.push(...parts.filter((l) => l.length));
  });
  st.exited = new Promise((res) => p.on('exit', (code, signal) => res({ code, signal })));
  st.ready = new Promise((res, rej) => {
    const t = setTimeout(() => rej(new Error('no banner: ' + st.stderr)), 20000);
    p.stderr.on('data', (d) => { st.stderr += d; if (st.stderr.includes('Streaming logs from LM Studio')) { clearTimeout(t); res(); } });
  });
  return st;
}

// Send chat requests until `pred(lines)` holds (the stream has no backlog, and
// subscribing races with the first request).
async function chatUntil(st, pred) {
  const m = smallest('llm');
  const deadline = Date.now() + 40000;
  while (Date.now() < deadline) {
    await fetch(`${sim.url}/v1/chat/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: m.key, messages: [{ role: 'user', content: 'hello log' }], max_tokens: 8 }),
    }).then((r) => r.text());
    const until = Date.now() + 1000;
    while (Date.now() < until) {
      if (pred(st.lines)) return;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error('expected log lines did not arrive; got ' + st.lines.slice(0, 5).join('\n'));
}

test('log stream -s server --json: server.log NDJSON lines; SIGINT -> exit 0', T, async () => {
  const st = startStream(['-s', 'server', '--json', '--port', String(sim.port)]);
  await st.ready;
  await chatUntil(st, (ls) => ls.length >= 1);
  for (const l of st.lines) {
    const ev = JSON.parse(l);
    assert.deepEqual(Object.keys(ev).sort(), ['data', 'timestamp'], 'DiagnosticsLogEvent keys');
    assert.ok(Number.isInteger(ev.timestamp) && Math.abs(ev.timestamp - Date.now()) < 3600e3, 'timestamp epoch ms');
    assert.equal(ev.data.type, 'server.log');
    assert.deepEqual(Object.keys(ev.data).sort(), ['content', 'level', 'type']);
    assert.ok(isStr(ev.data.content));
    assert.ok(['debug', 'info', 'warn', 'error'].includes(ev.data.level));
  }
  assert.ok(!st.stderr.includes('{'), 'stderr carries no JSON');
  st.p.kill('SIGINT');
  const ex = await st.exited;
  assert.equal(ex.code, 0, 'exit 0 on SIGINT');
});

test('log stream --json (model source): llm.prediction.input and .output; SIGTERM -> exit 0', T, async () => {
  const st = startStream(['--json', '--host', '127.0.0.1', '--port', String(sim.port)]);
  await st.ready;
  const types = (ls) => ls.map((l) => JSON.parse(l).data.type);
  await chatUntil(st, (ls) => types(ls).includes('llm.prediction.input') && types(ls).includes('llm.prediction.output'));
  for (const l of st.lines) {
    const ev = JSON.parse(l);
    assert.ok(Number.isInteger(ev.timestamp));
    const d = ev.data;
    assert.ok(['llm.prediction.input', 'llm.prediction.output'].includes(d.type), `model source only: ${d.type}`);
    assert.ok(isStr(d.modelIdentifier));
    if (d.type === 'llm.prediction.input') {
      assert.deepEqual(Object.keys(d).sort(), ['input', 'modelIdentifier', 'modelPath', 'type']);
      assert.ok(isStr(d.input) && isStr(d.modelPath));
      assert.ok(d.input.includes('hello log'), 'templated prompt contains the message');
    } else {
      const extra = Object.keys(d).filter((k) => !['type', 'output', 'stats', 'modelIdentifier'].includes(k));
      assert.deepEqual(extra, []);
      assert.ok(isStr(d.output));
      if ('stats' in d) {
        assert.ok(isStr(d.stats.stopReason), 'stats.stopReason');
        const allowed = ['stopReason', 'stopString', 'tokensPerSecond', 'numGpuLayers', 'timeToFirstTokenSec',
          'totalTimeSec', 'promptTokensCount', 'predictedTokensCount', 'totalTokensCount', 'usedDraftModelKey',
          'totalDraftTokensCount', 'acceptedDraftTokensCount', 'rejectedDraftTokensCount', 'ignoredDraftTokensCount'];
        assert.deepEqual(Object.keys(d.stats).filter((k) => !allowed.includes(k)), [], 'LLMPredictionStats keys');
      }
    }
  }
  st.p.kill('SIGTERM');
  assert.equal((await st.exited).code, 0, 'exit 0 on SIGTERM');
});

test('log stream --filter output: only llm.prediction.output; bad flag combos exit 1', T, async () => {
  const st = startStream(['--json', '--filter', 'output', '--port', String(sim.port)]);
  await st.ready;
  await chatUntil(st, (ls) => ls.length >= 1);
  for (const l of st.lines) assert.equal(JSON.parse(l).data.type, 'llm.prediction.output');
  st.p.kill('SIGINT');
  assert.equal((await st.exited).code, 0);
  for (const args of [['-s', 'server', '--stats'], ['-s', 'runtime', '--filter', 'input'], ['--filter', ''], ['-s', 'bogus']]) {
    const r = await lms(['log', 'stream', ...args, '--port', String(sim.port)]);
    assert.equal(r.code, 1, `log stream ${args.join(' ')}`);
  }
});

test('runtime survey --json: the §8.1 object, GPUs from --gpus', T, async () => {
  const r = await lms(['runtime', 'survey', '--json', ...hp()]);
  const s = json(r);
  assert.ok(r.stdout.includes('\n  '), 'pretty-printed');
  assert.ok(['ok', 'noCompatibleBackends'].includes(s.status));
  assert.ok(Array.isArray(s.engines) && s.engines.length >= 1);
  const e = s.engines.find((x) => x.engine === 'llama.cpp') || s.engines[0];
  for (const k of ['name', 'version', 'engine', 'platform']) assert.ok(isStr(e[k]), `engine.${k}`);
  assert.ok(isStr(e.compatibility.status));
  assert.ok(e.supportedModelFormatNames.every((f) => ['GGUF', 'MLX', 'GGML', 'PT', 'PTE'].includes(f)));
  const g = e.hardwareSurvey.gpuSurveyResult;
  assert.ok(['unset', 'success', 'error', 'noDevicesFound', 'invalidDevice'].includes(g.result.code));
  assert.deepEqual(g.gpuInfo.map((x) => x.name), ['RTX 4090', 'RTX 3060']);
  for (const gi of g.gpuInfo) {
    for (const k of ['totalMemoryCapacityBytes', 'dedicatedMemoryCapacityBytes']) assert.ok(isNum(gi[k]), k);
    assert.ok(['unknown', 'integrated', 'discrete'].includes(gi.integrationType));
    assert.ok(['unknown', 'shell', 'ROCm', 'CUDA', 'OpenCl', 'Metal', 'Vulkan'].includes(gi.detectionPlatform));
    assert.ok(isStr(gi.deviceId) || isNum(gi.deviceId), 'deviceId');
  }
  assert.equal(g.gpuInfo[0].dedicatedMemoryCapacityBytes, 24 * 2 ** 30);
  const c = e.hardwareSurvey.cpuSurveyResult;
  assert.ok(c.result && isStr(c.result.code));
  if (c.cpuInfo) assert.ok(['x86_64', 'ARM64', 'unknown'].includes(c.cpuInfo.architecture));
  for (const k of ['ramCapacity', 'vramCapacity', 'totalMemory']) assert.ok(isNum(e.memoryInfo[k]), `memoryInfo.${k}`);
  assert.equal(e.memoryInfo.ramCapacity, 64 * 2 ** 30);
  const t = await lms(['runtime', 'survey', ...hp()]);
  assert.equal(t.code, 0, t.stderr);
  assert.match(t.stdout, /RTX 4090/);
});

test('server status/stop/start (local-only commands, target from LMS_SIM_PORT)', T, async () => {
  let s = json(await lms(['server', 'status', '--json']));
  assert.deepEqual(s, { running: true, port: sim.port });
  let r = await lms(['server', 'stop']);
  assert.equal(r.code, 0, r.stderr);
  s = json(await lms(['server', 'status', '--json']));
  assert.equal(s.running, false);
  await assert.rejects(fetch(`${sim.url}/api/v1/models`), 'REST refused while stopped');
  r = await lms(['server', 'stop']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /The server is not running\./);
  r = await lms(['server', 'start']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, new RegExp(`Success! Server is now running on port ${sim.port}`));
  assert.equal(r.stdout, '');
  const g = await (await fetch(`${sim.url}/lmstudio-greeting`)).json();
  assert.equal(g.lmstudio, true);
  s = json(await lms(['server', 'status', '--json']));
  assert.deepEqual(s, { running: true, port: sim.port });
  // --host is not an option of server commands (§6.1)
  r = await lms(['server', 'status', '--json', '--host', '127.0.0.1']);
  assert.equal(r.code, 1);
});

test('version --json and daemon status --json', T, async () => {
  const v = json(await lms(['version', '--json']));
  assert.deepEqual(Object.keys(v), ['version']);
  assert.ok(isStr(v.version) && v.version.length > 0);
  const vt = await lms(['version']);
  assert.equal(vt.code, 0);
  const d = json(await lms(['daemon', 'status', '--json']));
  assert.equal(d.status, 'running');
  assert.ok(isBool(d.isDaemon));
  assert.ok(Number.isInteger(d.pid), 'pid');
  assert.deepEqual(Object.keys(d).sort(), ['isDaemon', 'pid', 'status']);
  const dn = json(await lms(['daemon', 'status', '--json'], { env: { ...env, LMS_SIM_PORT: String(await freePort()) } }));
  assert.deepEqual(dn, { status: 'not-running' });
});

function freePort() {
  return new Promise((res) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => res(p)); });
  });
}

test('--host with a scheme or a port, unknown options, connection refused -> exit 1', T, async () => {
  let r = await lms(['ps', '--json', '--host', 'http://127.0.0.1']);
  assert.equal(r.code, 1);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /protocol/);
  r = await lms(['ps', '--json', '--host', '127.0.0.1:1234']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /port/);
  r = await lms(['ps', '--bogus']);
  assert.equal(r.code, 1);
  r = await lms(['frobnicate']);
  assert.equal(r.code, 1);
  const port = await freePort();
  for (const args of [['ps', '--json'], ['ls', '--json'], ['load', 'x', '-y'], ['unload', '--all'], ['runtime', 'survey', '--json'], ['log', 'stream']]) {
    r = await lms([...args, '--host', '127.0.0.1', '--port', String(port)]);
    assert.equal(r.code, 1, `${args.join(' ')} against a closed port`);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /does not appear to be running/);
  }
});

test('load with an identifier already in use -> exit 1, the simulator keeps serving', T, async () => {
  const m = smallest('llm');
  let r = await lms(['load', m.key, '--identifier', 'dup-id', '-y', ...hp()]);
  assert.equal(r.code, 0, r.stderr);
  r = await lms(['load', m.key, '--identifier', 'dup-id', '-y', ...hp()]);
  assert.equal(r.code, 1, 'duplicate identifier fails');
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /dup-id/);
  const ps = json(await lms(['ps', '--json', ...hp()]));
  assert.equal(ps.filter((e) => e.identifier === 'dup-id').length, 1);
  r = await lms(['unload', '--all', ...hp()]);
  assert.equal(r.code, 0);
});

test('ps during predictions: status generating/processingPrompt, queued counts running + waiting; JIT ttlMs 60 min', T, async () => {
  // a second simulator at real speed so predictions last long enough to observe
  const slow = await startProc(bin('llmster-sim'), ['--port', '0', '--speed', '1', '--seed', '1']);
  try {
    const senv = { ...env, LMS_SIM_PORT: String(slow.port) };
    const m = smallest('llm');
    let r = await lms(['load', m.key, '--parallel', '1', '--identifier', 'busy', '-y'], { env: senv });
    assert.equal(r.code, 0, r.stderr);
    const chat = () => fetch(`${slow.url}/v1/chat/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'busy', messages: [{ role: 'user', content: 'Write a long story.' }], max_tokens: 300 }),
    }).then((x) => x.text());
    const reqs = [chat(), chat()];
    let seen = null;
    const deadline = Date.now() + 20000;
    while (Date.now() < deadline) {
      const ps = json(await lms(['ps', '--json'], { env: senv }));
      const e = ps.find((x) => x.identifier === 'busy');
      if (e && e.queued === 2) { seen = e; break; }
      await new Promise((res) => setTimeout(res, 50));
    }
    assert.ok(seen, 'queued reached 2 (one running with parallel 1, one waiting)');
    assert.ok(['processingPrompt', 'generating'].includes(seen.status), `busy status ${seen.status}`);
    await Promise.all(reqs);
    const idle = json(await lms(['ps', '--json'], { env: senv })).find((x) => x.identifier === 'busy');
    assert.equal(idle.status, 'idle');
    assert.equal(idle.queued, 0);
    r = await lms(['unload', '--all'], { env: senv });
    assert.equal(r.code, 0);
    // §5: JIT-loaded models default to a 60 min idle TTL
    await fetch(`${slow.url}/v1/chat/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: m.key, messages: [{ role: 'user', content: 'hi' }], max_tokens: 1 }),
    }).then((x) => x.text());
    const jit = json(await lms(['ps', '--json'], { env: senv }));
    assert.equal(jit.length, 1);
    assert.equal(jit[0].ttlMs, 3600000);
  } finally {
    await slow.stop();
  }
});

test('daemon up --json, daemon down stops the daemon, then not-running', T, async () => {
  const d = await startProc(bin('llmster-sim'), ['--port', '0', '--speed', '0']);
  const denv = { ...env, LMS_SIM_PORT: String(d.port) };
  const exited = new Promise((res) => d.proc.on('exit', (code, signal) => res({ code, signal })));
  const up = json(await lms(['daemon', 'up', '--json'], { env: denv }));
  // reference §6.2 {"status":"running","pid":26754,"isDaemon":true,"version":"0.4.4+1"}
  assert.deepEqual(Object.keys(up).sort(), ['isDaemon', 'pid', 'status', 'version']);
  assert.equal(up.status, 'running');
  assert.equal(up.pid, d.proc.pid);
  assert.equal(up.isDaemon, true);
  assert.match(up.version, /^\d+\.\d+\.\d+\+\d+$/, 'version+build');
  const st = json(await lms(['daemon', 'status', '--json'], { env: denv }));
  assert.deepEqual(st, { status: 'running', pid: d.proc.pid, isDaemon: true });
  const down = await lms(['daemon', 'down'], { env: denv });
  assert.equal(down.code, 0, down.stderr);
  assert.equal((await exited).code, 0, 'the daemon exited cleanly');
  assert.deepEqual(json(await lms(['daemon', 'status', '--json'], { env: denv })), { status: 'not-running' });
  const again = await lms(['daemon', 'down'], { env: denv });
  assert.equal(again.code, 1, 'down when not running -> exit 1');
});

test('a model that does not fit: --estimate-only says it will fail, load exits 1 and loads nothing', T, async () => {
  const small = await startProc(bin('llmster-sim'), ['--port', '0', '--speed', '0', '--gpus', 'Tiny:1GiB', '--ram', '2GiB']);
  try {
    const senv = { ...env, LMS_SIM_PORT: String(small.port) };
    const big = v1models.filter((m) => m.type === 'llm').sort((a, b) => b.size_bytes - a.size_bytes)[0];
    const est = await lms(['load', big.key, '--estimate-only', '-y'], { env: senv });
    assert.equal(est.code, 0, est.stderr);
    assert.match(est.stderr, /^Estimate: This model will fail to load based on your resource guardrails settings\.$/m);
    const r = await lms(['load', big.key, '-y'], { env: senv });
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^Error: /m);
    assert.deepEqual(json(await lms(['ps', '--json'], { env: senv })), []);
  } finally {
    await small.stop();
  }
});

test('Ctrl-C during a load exits 1 (§6.2)', T, async () => {
  const slow = await startProc(bin('llmster-sim'), ['--port', '0', '--speed', '0.2']);
  try {
    const big = v1models.filter((m) => m.type === 'llm').sort((a, b) => b.size_bytes - a.size_bytes)[0];
    const p = spawn(bin('lms'), ['load', big.key, '-y', '--port', String(slow.port)], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d) => { err += d; });
    const exited = new Promise((res) => p.on('exit', (code, signal) => res({ code, signal })));
    // wait until the load request is under way, then interrupt
    const deadline = Date.now() + 10000;
    while (!err.includes('Loading model') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 200));
    p.kill('SIGINT');
    const ex = await exited;
    assert.equal(ex.code, 1, `exit 1 on Ctrl-C (got ${ex.code}/${ex.signal}): ${err}`);
  } finally {
    await slow.stop();
  }
});
