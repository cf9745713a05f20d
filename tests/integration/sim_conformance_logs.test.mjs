// sim_conformance_logs.test.mjs - the log events llmster-sim produces, against
// reference §7.1 (DiagnosticsLogEvent shapes and the observed server.log
// content). Events are read through the simulator's documented private ring
// (GET /__sim/logs?since=SEQ, sim/README.md), the same events `lms log stream`
// relays. Written from the reference only; model keys discovered at start.
import { test, before, after } from 'node:test';
import { startProc, bin } from '../lib/harness.mjs';
import { A, assertionCount, isStr, isNum, isInt, isObj, onlyKeys, get, post, models } from './sim_conformance_util.mjs';

const T = { timeout: 120000 };
let sim, base, catalog, llm;

before(async () => {
  sim = await startProc(bin('llmster-sim'), ['--port', '0', '--speed', '0', '--seed', '1']);
  base = sim.url;
  catalog = await models(base);
  llm = catalog.filter((m) => m.type === 'llm' && !m.capabilities?.reasoning).sort((a, b) => a.size_bytes - b.size_bytes)[0];
});

after(async () => {
  console.log(`# conformance assertions (sim_conformance_logs.test.mjs): ${assertionCount()}`);
  await sim?.stop();
});

async function mark() { return (await get(base, '/__sim/logs')).json.next; }
async function since(seq) {
  const r = await get(base, `/__sim/logs?since=${seq}`);
  A.equal(r.status, 200);
  return r.json.events;
}

const LEVELS = ['debug', 'info', 'warn', 'error'];
const STATS_KEYS = ['stopReason', 'stopString', 'tokensPerSecond', 'numGpuLayers', 'timeToFirstTokenSec',
  'totalTimeSec', 'promptTokensCount', 'predictedTokensCount', 'totalTokensCount', 'usedDraftModelKey',
  'totalDraftTokensCount', 'acceptedDraftTokensCount', 'rejectedDraftTokensCount', 'ignoredDraftTokensCount'];
const STOP_REASONS = ['userStopped', 'modelUnloaded', 'failed', 'eosFound', 'stopStringFound',
  'toolCalls', 'maxPredictedTokensReached', 'contextLengthReached'];

// §7.1 DiagnosticsLogEvent = {timestamp: epoch ms, data: one of four shapes}
function checkEvent(ev) {
  A.deepEqual(Object.keys(ev).sort(), ['data', 'timestamp'], 'event keys');
  A.ok(isInt(ev.timestamp) && Math.abs(ev.timestamp - Date.now()) < 3600e3, 'timestamp epoch ms');
  const d = ev.data;
  A.ok(isObj(d) && isStr(d.type));
  switch (d.type) {
  case 'llm.prediction.input':
    A.deepEqual(Object.keys(d).sort(), ['input', 'modelIdentifier', 'modelPath', 'type']);
    A.ok(isStr(d.input) && isStr(d.modelPath) && isStr(d.modelIdentifier));
    break;
  case 'llm.prediction.output':
    onlyKeys(d, ['type', 'output', 'stats', 'modelIdentifier'], 'llm.prediction.output');
    A.ok(isStr(d.output) && isStr(d.modelIdentifier));
    if ('stats' in d) {
      onlyKeys(d.stats, STATS_KEYS, 'LLMPredictionStats');
      A.ok(STOP_REASONS.includes(d.stats.stopReason), `stopReason ${d.stats.stopReason}`);
      for (const k of Object.keys(d.stats)) if (k !== 'stopReason' && k !== 'stopString' && k !== 'usedDraftModelKey') A.ok(isNum(d.stats[k]), `stats.${k} number`);
    }
    break;
  case 'server.log':
    A.deepEqual(Object.keys(d).sort(), ['content', 'level', 'type']);
    A.ok(isStr(d.content));
    A.ok(LEVELS.includes(d.level), `level ${d.level}`);
    break;
  case 'runtime.log':
    onlyKeys(d, ['type', 'level', 'message', 'engineName', 'engineVersion', 'engineType', 'modelIdentifier', 'instanceReference', 'pid'], 'runtime.log');
    for (const k of ['level', 'message', 'engineName', 'engineVersion', 'engineType']) A.ok(isStr(d[k]), `runtime.log ${k}`);
    break;
  default:
    A.fail(`unknown DiagnosticsLogEvent type ${d.type}`);
  }
}

test('§7.1 a chat completion logs the request body, llm.prediction.input/output with matching stats', T, async () => {
  const s = await mark();
  const body = { model: llm.key, messages: [{ role: 'user', content: 'Tell me about owls.' }], max_tokens: 12 };
  const r = await post(base, '/v1/chat/completions', body);
  A.equal(r.status, 200, r.text);
  const evs = await since(s);
  for (const e of evs) checkEvent(e);
  const sl = evs.filter((e) => e.data.type === 'server.log').map((e) => e.data);
  // observed: "Received request: POST to /v1/chat/completions with body {…}" (debug)
  const recv = sl.find((d) => d.content.startsWith('Received request: POST to /v1/chat/completions with body '));
  A.ok(recv, 'request line logged');
  A.deepEqual(JSON.parse(recv.content.slice('Received request: POST to /v1/chat/completions with body '.length)), body, 'full request body');
  const inp = evs.find((e) => e.data.type === 'llm.prediction.input');
  const out = evs.find((e) => e.data.type === 'llm.prediction.output');
  A.ok(inp && out, 'input and output events');
  A.ok(inp.data.input.includes('Tell me about owls.'), 'fully templated prompt contains the message');
  A.ok(evs.indexOf(inp) < evs.indexOf(out), 'input before output');
  // output: "whole completion, emitted at end"
  A.equal(out.data.output, r.json.choices[0].message.content);
  A.equal(inp.data.modelIdentifier, out.data.modelIdentifier);
  if (out.data.stats) {
    A.equal(out.data.stats.predictedTokensCount, r.json.usage.completion_tokens);
    A.equal(out.data.stats.promptTokensCount, r.json.usage.prompt_tokens);
    if ('totalTokensCount' in out.data.stats) A.equal(out.data.stats.totalTokensCount, r.json.usage.total_tokens);
  }
});

test('§7.1 observed server.log content: "Generated prediction: {…}" carries the response body', T, async () => {
  // §7.1 (3rd-party captures): "[INFO][<model>] Generated prediction: {…}" - full response bodies
  const s = await mark();
  const r = await post(base, '/v1/chat/completions', { model: llm.key, messages: [{ role: 'user', content: 'One word.' }], max_tokens: 3 });
  A.equal(r.status, 200);
  const sl = (await since(s)).filter((e) => e.data.type === 'server.log').map((e) => e.data.content);
  const gen = sl.find((c) => c.includes('Generated prediction:'));
  A.ok(gen, `a "Generated prediction:" line; got ${JSON.stringify(sl)}`);
  A.ok(gen.includes(llm.key) || gen.includes(r.json.model), 'names the model');
  const j = JSON.parse(gen.slice(gen.indexOf('{')));
  A.equal(j.id, r.json.id, 'the logged body is the response');
});

test('§7.1 observed server.log content: "Returning N models from v1 API"', T, async () => {
  const s = await mark();
  const r = await get(base, '/api/v1/models');
  const sl = (await since(s)).filter((e) => e.data.type === 'server.log').map((e) => e.data.content);
  A.ok(sl.includes(`Returning ${r.json.models.length} models from v1 API`), JSON.stringify(sl));
});

test('§1.4 invalid JSON is logged as "Received request for /api/v1/chat with invalid JSON: …"', T, async () => {
  const s = await mark();
  await post(base, '/api/v1/chat', '{"model": ');
  const sl = (await since(s)).filter((e) => e.data.type === 'server.log').map((e) => e.data);
  const bad = sl.find((d) => d.content.includes('Received request for /api/v1/chat with invalid JSON'));
  A.ok(bad, JSON.stringify(sl));
});

test('§7.1 runtime.log events accompany a model load', T, async () => {
  const s = await mark();
  const r = await post(base, '/api/v1/models/load', { model: llm.key });
  A.equal(r.status, 200, r.text);
  const evs = await since(s);
  for (const e of evs) checkEvent(e);
  const rt = evs.filter((e) => e.data.type === 'runtime.log');
  A.ok(rt.length >= 1, 'runtime.log on load');
  await post(base, '/api/v1/models/unload', { instance_id: r.json.instance_id });
});
