// sim_conformance.test.mjs - llmster-sim against the LM Studio reference:
// paths, model listings (v1, v0, OpenAI), load/unload/download, error bodies,
// unknown routes and authentication.
//
// Written from ../shared/reference/lmstudio-protocol.md only ("§n" below is
// its section). Model keys are discovered from GET /api/v1/models by their
// fields, never hard-coded. Where the reference is uncertain the test asserts
// only what it states and says so in a comment. A failure here means the
// simulator deviates from LM Studio: fix the simulator, not the test.
import { test, before, after } from 'node:test';
import { startProc, bin } from '../lib/harness.mjs';
import {
  A, assertionCount, isStr, isNum, isInt, isBool, isObj, ISO_RE, onlyKeys,
  get, post, req, unloadAll, models,
} from './sim_conformance_util.mjs';

const TOKEN = 'sk-lm-Abcdefgh:Abcdefghijklmnopqrst'; // §1.3 token format
const AUTH = { authorization: `Bearer ${TOKEN}` };
const T = { timeout: 120000 };
let sim, simAuth, simNoJit, base, baseAuth, baseNoJit;
let catalog = [];
const pick = {};

before(async () => {
  [sim, simAuth, simNoJit] = await Promise.all([
    startProc(bin('llmster-sim'), ['--port', '0', '--speed', '0', '--seed', '1']),
    startProc(bin('llmster-sim'), ['--port', '0', '--speed', '0', '--seed', '1', '--api-token', TOKEN]),
    startProc(bin('llmster-sim'), ['--port', '0', '--speed', '0', '--seed', '1', '--jit', 'off']),
  ]);
  base = sim.url; baseAuth = simAuth.url; baseNoJit = simNoJit.url;
  catalog = await models(base);
  const bySize = (a, b) => a.size_bytes - b.size_bytes;
  const llms = catalog.filter((m) => m.type === 'llm').sort(bySize);
  pick.llm = llms.find((m) => !m.capabilities?.reasoning) || llms[0];
  pick.gguf = llms.find((m) => m.format === 'gguf');
  pick.mlx = llms.find((m) => m.format === 'mlx');
  pick.embedding = catalog.filter((m) => m.type === 'embedding').sort(bySize)[0];
  pick.moe = llms.find((m) => /-A\d/i.test(m.params_string || ''));
});

after(async () => {
  console.log(`# conformance assertions (sim_conformance.test.mjs): ${assertionCount()}`);
  await Promise.all([sim?.stop(), simAuth?.stop(), simNoJit?.stop()]);
});

// ---------------------------------------------------------------- §1.2

test('§1.2 GET /lmstudio-greeting answers {"lmstudio":true}', T, async () => {
  const r = await get(base, '/lmstudio-greeting');
  A.equal(r.status, 200);
  A.equal(r.json?.lmstudio, true);
});

test('§1.2 unknown routes answer HTTP 200 with the "Unexpected endpoint" body', T, async () => {
  for (const [method, path] of [['GET', '/nope'], ['GET', '/'], ['POST', '/api/v1/nothing'],
    ['DELETE', '/api/v1/models'], ['GET', '/api/v2/models']]) {
    const r = await req(base, method, path, method === 'POST' ? { body: {} } : {});
    A.equal(r.status, 200, `${method} ${path}`);
    A.deepEqual(r.json, { error: `Unexpected endpoint or method. (${method} ${path})` }, `${method} ${path}`);
  }
});

// ---------------------------------------------------------------- §3.1

const V1_MODEL_KEYS = ['type', 'publisher', 'key', 'display_name', 'architecture', 'quantization',
  'size_bytes', 'params_string', 'loaded_instances', 'max_context_length', 'format',
  'capabilities', 'description', 'variants', 'selected_variant'];
const V1_INSTANCE_CONFIG_KEYS = ['context_length', 'eval_batch_size', 'parallel', 'flash_attention',
  'num_experts', 'offload_kv_cache_to_gpu'];
const REASONING_OPTS = ['off', 'on', 'low', 'medium', 'high'];

// One /api/v1/models entry, field by field (§3.1 table).
function checkV1Model(m) {
  const w = `model ${m.key}`;
  A.ok(isObj(m), 'entry is an object');
  onlyKeys(m, V1_MODEL_KEYS, w); // §3.1 "Not present in v1: load status, TTL, memory use, …"
  A.ok(['llm', 'embedding'].includes(m.type), `${w}: type ${m.type}`);
  for (const k of ['publisher', 'key', 'display_name']) A.ok(isStr(m[k]) && m[k].length > 0, `${w}: ${k} string`);
  if (m.type === 'embedding') A.ok(!('architecture' in m), `${w}: architecture absent for embeddings`);
  else A.ok(m.architecture === null || isStr(m.architecture), `${w}: architecture string|null`);
  A.ok('quantization' in m, `${w}: quantization present`);
  if (m.quantization !== null) {
    A.ok(isObj(m.quantization), `${w}: quantization object|null`);
    A.deepEqual(Object.keys(m.quantization).sort(), ['bits_per_weight', 'name'], `${w}: quantization keys`);
    A.ok(m.quantization.name === null || isStr(m.quantization.name), `${w}: quantization.name`);
    A.ok(m.quantization.bits_per_weight === null || isNum(m.quantization.bits_per_weight), `${w}: bits_per_weight`);
  }
  A.ok(isNum(m.size_bytes) && m.size_bytes > 0, `${w}: size_bytes number`);
  A.ok('params_string' in m && (m.params_string === null || isStr(m.params_string)), `${w}: params_string string|null`);
  A.ok(Array.isArray(m.loaded_instances), `${w}: loaded_instances array`);
  for (const inst of m.loaded_instances) {
    A.deepEqual(Object.keys(inst).sort(), ['config', 'id'], `${w}: instance keys`);
    A.ok(isStr(inst.id), `${w}: instance id string`);
    A.ok(isObj(inst.config), `${w}: instance config object`);
    onlyKeys(inst.config, V1_INSTANCE_CONFIG_KEYS, `${w} instance config`);
    A.ok(isNum(inst.config.context_length), `${w}: config.context_length number`);
    for (const k of ['eval_batch_size', 'parallel', 'num_experts']) {
      if (k in inst.config) A.ok(isNum(inst.config[k]), `${w}: config.${k} number`);
    }
    for (const k of ['flash_attention', 'offload_kv_cache_to_gpu']) {
      if (k in inst.config) A.ok(isBool(inst.config[k]), `${w}: config.${k} bool`);
    }
    if (m.type === 'embedding') {
      // §3.1: the optional config fields are absent for embeddings
      A.deepEqual(Object.keys(inst.config), ['context_length'], `${w}: embedding instance config`);
    }
  }
  A.ok(isNum(m.max_context_length) && m.max_context_length > 0, `${w}: max_context_length number`);
  A.ok(['gguf', 'mlx', null].includes(m.format), `${w}: format ${m.format}`);
  if (m.type === 'embedding') {
    A.ok(!('capabilities' in m), `${w}: capabilities absent for embeddings`);
  } else if ('capabilities' in m) {
    const c = m.capabilities;
    A.ok(isObj(c), `${w}: capabilities object`);
    onlyKeys(c, ['vision', 'trained_for_tool_use', 'reasoning'], `${w} capabilities`);
    A.ok(isBool(c.vision), `${w}: capabilities.vision bool`);
    A.ok(isBool(c.trained_for_tool_use), `${w}: capabilities.trained_for_tool_use bool`);
    if ('reasoning' in c) {
      A.ok(isObj(c.reasoning), `${w}: capabilities.reasoning object`);
      A.deepEqual(Object.keys(c.reasoning).sort(), ['allowed_options', 'default'], `${w}: reasoning keys`);
      A.ok(Array.isArray(c.reasoning.allowed_options) && c.reasoning.allowed_options.length > 0, `${w}: allowed_options`);
      for (const o of c.reasoning.allowed_options) A.ok(REASONING_OPTS.includes(o), `${w}: reasoning option ${o}`);
      A.ok(REASONING_OPTS.includes(c.reasoning.default), `${w}: reasoning.default`);
    }
  }
  if ('description' in m) A.ok(m.description === null || isStr(m.description), `${w}: description string|null`);
  if ('variants' in m) {
    A.ok(Array.isArray(m.variants) && m.variants.every(isStr), `${w}: variants string[]`);
    A.ok(isStr(m.selected_variant), `${w}: selected_variant present with variants`);
  } else {
    A.ok(!('selected_variant' in m), `${w}: selected_variant only with variants`);
  }
}

test('§3.1 GET /api/v1/models: {"models":[…]} with every documented field and type', T, async () => {
  const r = await get(base, '/api/v1/models');
  A.equal(r.status, 200);
  A.deepEqual(Object.keys(r.json), ['models']);
  A.ok(Array.isArray(r.json.models) && r.json.models.length > 0);
  for (const m of r.json.models) checkV1Model(m);
  const keys = r.json.models.map((m) => m.key);
  A.equal(new Set(keys).size, keys.length, 'model keys are unique');
});

test('issue #4 part 2: catalog covers llm/embedding, gguf/mlx, vision, tool use, reasoning', T, async () => {
  // Not from the reference: the issue asks for these kinds so every §3.1 branch is exercised.
  A.ok(catalog.some((m) => m.type === 'llm'), 'an llm');
  A.ok(pick.embedding, 'an embedding model');
  A.ok(pick.gguf, 'a gguf llm');
  A.ok(pick.mlx, 'an mlx llm');
  A.ok(catalog.some((m) => m.capabilities?.vision === true), 'a vision model');
  A.ok(catalog.some((m) => m.capabilities?.trained_for_tool_use === true), 'a tool-use model');
  A.ok(catalog.some((m) => m.capabilities?.reasoning), 'a model with capabilities.reasoning');
});

// ---------------------------------------------------------------- §2.1

const V0_TYPES = ['llm', 'vlm', 'embeddings'];
function checkV0Model(m) {
  const w = `v0 model ${m.id}`;
  A.ok(isStr(m.id), `${w}: id`);
  A.equal(m.object, 'model', `${w}: object`);
  A.ok(V0_TYPES.includes(m.type), `${w}: type ${m.type}`);
  A.ok(isStr(m.publisher), `${w}: publisher`);
  if (m.type !== 'embeddings' || 'arch' in m) A.ok(isStr(m.arch), `${w}: arch`);
  A.ok(['gguf', 'mlx'].includes(m.compatibility_type), `${w}: compatibility_type ${m.compatibility_type}`);
  A.ok(isStr(m.quantization), `${w}: quantization string`);
  A.ok(['loaded', 'not-loaded'].includes(m.state), `${w}: state ${m.state}`);
  A.ok(isNum(m.max_context_length), `${w}: max_context_length`);
  if ('capabilities' in m) A.ok(Array.isArray(m.capabilities) && m.capabilities.every(isStr), `${w}: capabilities string[]`);
  // §2.1 (observed, 3rd party, several clients): loaded models carry loaded_context_length
  if (m.state === 'loaded') A.ok(isNum(m.loaded_context_length), `${w}: loaded_context_length`);
}

test('§2.1 GET /api/v0/models and /api/v0/models/{model}', T, async () => {
  const r = await get(base, '/api/v0/models');
  A.equal(r.status, 200);
  A.equal(r.json.object, 'list');
  A.ok(Array.isArray(r.json.data) && r.json.data.length > 0);
  for (const m of r.json.data) checkV0Model(m);
  // v0 embeddings are "embeddings" (plural), never v1's "embedding"
  A.ok(r.json.data.some((m) => m.type === 'embeddings'), 'an embeddings entry in v0');
  A.ok(r.json.data.some((m) => m.compatibility_type === 'mlx'), 'an mlx entry in v0');
  const one = r.json.data[0];
  const s = await get(base, `/api/v0/models/${one.id}`);
  A.equal(s.status, 200);
  checkV0Model(s.json);
  A.deepEqual(s.json, one, 'single model equals its list entry');
});

test('§2.1 v0 state and loaded_context_length follow a load', T, async () => {
  const m = pick.llm;
  const l = await post(base, '/api/v1/models/load', { model: m.key, context_length: 4096 });
  A.equal(l.status, 200, l.text);
  const r = await get(base, '/api/v0/models');
  const loaded = r.json.data.filter((x) => x.state === 'loaded');
  A.ok(loaded.length >= 1, 'one v0 model is loaded');
  for (const x of loaded) checkV0Model(x);
  A.ok(loaded.some((x) => x.loaded_context_length === 4096), 'loaded_context_length is the loaded context');
  await unloadAll(base);
  const r2 = await get(base, '/api/v0/models');
  A.ok(r2.json.data.every((x) => x.state === 'not-loaded'), 'all not-loaded after unload');
});

// ---------------------------------------------------------------- §4

test('§4 GET /v1/models: OpenAI list, no "created", all downloaded models when JIT is on', T, async () => {
  await unloadAll(base);
  const r = await get(base, '/v1/models');
  A.equal(r.status, 200);
  A.deepEqual(Object.keys(r.json).sort(), ['data', 'object']);
  A.equal(r.json.object, 'list');
  for (const d of r.json.data) {
    A.deepEqual(Object.keys(d).sort(), ['id', 'object', 'owned_by'], `entry ${d.id}: keys (no created)`);
    A.ok(isStr(d.id));
    A.equal(d.object, 'model');
    A.equal(d.owned_by, 'organization_owner');
  }
  A.equal(r.json.data.length, catalog.length, 'JIT on: every downloaded model is listed');
});

test('§4/§5 GET /v1/models with JIT off lists only loaded models', T, async () => {
  const r = await get(baseNoJit, '/v1/models');
  A.equal(r.status, 200);
  A.deepEqual(r.json.data, [], 'nothing loaded, nothing listed');
  const l = await post(baseNoJit, '/api/v1/models/load', { model: pick.llm.key });
  A.equal(l.status, 200, l.text);
  const r2 = await get(baseNoJit, '/v1/models');
  A.equal(r2.json.data.length, 1, 'the loaded model is listed');
  A.ok(isStr(r2.json.data[0].id));
  await unloadAll(baseNoJit);
});

test('§5 JIT off: an inference request for a not-loaded model fails', T, async () => {
  // §5 "Off: models must be loaded first"; the error's exact shape is not documented.
  const r = await post(baseNoJit, '/v1/chat/completions',
    { model: pick.llm.key, messages: [{ role: 'user', content: 'hi' }] });
  A.ok(r.json && 'error' in r.json, `error body, got ${r.text.slice(0, 200)}`);
  A.ok(!('choices' in r.json), 'no completion');
});

// ---------------------------------------------------------------- §3.2 / §3.3

const V1_ERROR_TYPES = ['invalid_request', 'unknown', 'mcp_connection_error', 'plugin_connection_error',
  'not_implemented', 'model_not_found', 'job_not_found', 'internal_error'];
// §1.4 REST v1 error envelope {"error":{"type","message","code"?,"param"?}}
function checkV1Error(r, what) {
  A.ok(isObj(r.json) && isObj(r.json.error), `${what}: v1 error envelope, got ${r.text.slice(0, 300)}`);
  onlyKeys(r.json, ['error'], `${what} body`);
  onlyKeys(r.json.error, ['type', 'message', 'code', 'param'], `${what} error`);
  A.ok(V1_ERROR_TYPES.includes(r.json.error.type), `${what}: error.type ${r.json.error.type}`);
  A.ok(isStr(r.json.error.message) && r.json.error.message.length > 0, `${what}: error.message`);
  if ('code' in r.json.error) A.ok(isStr(r.json.error.code), `${what}: error.code string`);
  if ('param' in r.json.error) A.ok(isStr(r.json.error.param), `${what}: error.param string`);
  // HTTP statuses per error type are uncertain (§1.4, §11.3): not asserted
}

test('§3.2 POST /api/v1/models/load: response shape without echo_load_config', T, async () => {
  await unloadAll(base);
  const m = pick.llm;
  const r = await post(base, '/api/v1/models/load', { model: m.key });
  A.equal(r.status, 200, r.text);
  A.deepEqual(Object.keys(r.json).sort(), ['instance_id', 'load_time_seconds', 'status', 'type']);
  A.equal(r.json.type, 'llm');
  A.equal(r.json.instance_id, m.key, 'first instance id is the model key');
  A.ok(isNum(r.json.load_time_seconds) && r.json.load_time_seconds >= 0);
  A.equal(r.json.status, 'loaded');
  const after1 = (await models(base)).find((x) => x.key === m.key);
  A.deepEqual(after1.loaded_instances.map((i) => i.id), [m.key], '/api/v1/models lists the instance');
  checkV1Model(after1);
});

test('§3.2 repeated load creates key:2 and key:3; §3.3 unload answers {instance_id}', T, async () => {
  await unloadAll(base);
  const m = pick.llm;
  const ids = [];
  for (let i = 0; i < 3; i++) {
    const r = await post(base, '/api/v1/models/load', { model: m.key });
    A.equal(r.status, 200, r.text);
    ids.push(r.json.instance_id);
  }
  A.deepEqual(ids, [m.key, `${m.key}:2`, `${m.key}:3`]);
  let e = (await models(base)).find((x) => x.key === m.key);
  A.deepEqual(e.loaded_instances.map((i) => i.id).sort(), [...ids].sort());
  const u = await post(base, '/api/v1/models/unload', { instance_id: `${m.key}:2` });
  A.equal(u.status, 200, u.text);
  A.deepEqual(u.json, { instance_id: `${m.key}:2` });
  e = (await models(base)).find((x) => x.key === m.key);
  A.deepEqual(e.loaded_instances.map((i) => i.id).sort(), [m.key, `${m.key}:3`].sort());
  await unloadAll(base);
  e = (await models(base)).find((x) => x.key === m.key);
  A.deepEqual(e.loaded_instances, []);
});

test('§3.2 echo_load_config echoes the documented load_config (llm, llama.cpp fields)', T, async () => {
  await unloadAll(base);
  const m = pick.gguf;
  const r = await post(base, '/api/v1/models/load', {
    model: m.key, context_length: 8192, eval_batch_size: 256, flash_attention: true,
    offload_kv_cache_to_gpu: false, echo_load_config: true,
  });
  A.equal(r.status, 200, r.text);
  A.deepEqual(Object.keys(r.json).sort(), ['instance_id', 'load_config', 'load_time_seconds', 'status', 'type']);
  const c = r.json.load_config;
  onlyKeys(c, ['context_length', 'eval_batch_size', 'flash_attention', 'offload_kv_cache_to_gpu', 'num_experts'], 'load_config');
  A.equal(c.context_length, 8192);
  A.equal(c.eval_batch_size, 256);
  A.equal(c.flash_attention, true);
  A.equal(c.offload_kv_cache_to_gpu, false);
  // the loaded instance reports the same config in §3.1
  const e = (await models(base)).find((x) => x.key === m.key);
  const inst = e.loaded_instances.find((i) => i.id === r.json.instance_id);
  A.ok(inst, 'instance listed');
  A.equal(inst.config.context_length, 8192);
  if ('eval_batch_size' in inst.config) A.equal(inst.config.eval_batch_size, 256);
  if ('flash_attention' in inst.config) A.equal(inst.config.flash_attention, true);
  if ('offload_kv_cache_to_gpu' in inst.config) A.equal(inst.config.offload_kv_cache_to_gpu, false);
  await unloadAll(base);
});

test('§3.2 num_experts on a MoE model is echoed', T, async (t) => {
  if (!pick.moe || pick.moe.format !== 'gguf') { t.skip('no gguf MoE model (params_string "…-A…") in the catalog'); return; }
  await unloadAll(base);
  const r = await post(base, '/api/v1/models/load', { model: pick.moe.key, context_length: 4096, num_experts: 4, echo_load_config: true });
  A.equal(r.status, 200, r.text);
  A.equal(r.json.load_config.num_experts, 4);
  await unloadAll(base);
});

test('§3.2 embedding load: type embedding, load_config has only context_length', T, async () => {
  await unloadAll(base);
  const m = pick.embedding;
  const r = await post(base, '/api/v1/models/load', { model: m.key, echo_load_config: true });
  A.equal(r.status, 200, r.text);
  A.equal(r.json.type, 'embedding');
  A.equal(r.json.status, 'loaded');
  A.ok(isStr(r.json.instance_id));
  A.deepEqual(Object.keys(r.json.load_config), ['context_length']);
  A.ok(isNum(r.json.load_config.context_length));
  const e = (await models(base)).find((x) => x.key === m.key);
  checkV1Model(e);
  A.equal(e.loaded_instances.length, 1);
  await unloadAll(base);
});

test('§3.2/§1.4 load errors: unknown model, missing model, bad JSON', T, async () => {
  const r = await post(base, '/api/v1/models/load', { model: 'no-such-publisher/no-such-model-xyz' });
  checkV1Error(r, 'load unknown model');
  // which type an unknown model gets is not documented; model_not_found or invalid_request are the candidates
  A.ok(['model_not_found', 'invalid_request'].includes(r.json.error.type), r.json.error.type);
  const m = await post(base, '/api/v1/models/load', {});
  checkV1Error(m, 'load without model');
  A.equal(m.json.error.type, 'invalid_request');
  const b = await post(base, '/api/v1/models/load', '{"model": ');
  // §1.4: invalid JSON body -> response shape uncertain; assert only that it is an error, not a load
  A.ok(b.json && 'error' in b.json, `bad JSON -> error body, got ${b.text.slice(0, 200)}`);
  A.ok(!('instance_id' in b.json), 'bad JSON loads nothing');
  const u = await post(base, '/api/v1/models/unload', { instance_id: 'no-such-instance-xyz' });
  checkV1Error(u, 'unload unknown instance');
});

// ---------------------------------------------------------------- §3.4 / §3.5

function checkJob(j, what) {
  onlyKeys(j, ['job_id', 'status', 'completed_at', 'total_size_bytes', 'started_at',
    'bytes_per_second', 'estimated_completion', 'downloaded_bytes'], what);
  A.ok(['downloading', 'paused', 'completed', 'failed', 'already_downloaded'].includes(j.status), `${what}: status ${j.status}`);
  if ('total_size_bytes' in j) A.ok(isNum(j.total_size_bytes), `${what}: total_size_bytes`);
  if ('started_at' in j) A.match(j.started_at, ISO_RE, `${what}: started_at ISO 8601`);
  if (j.status === 'completed') A.match(j.completed_at, ISO_RE, `${what}: completed_at ISO 8601`);
}

test('§3.4 download of an already-downloaded model: status already_downloaded, no job_id', T, async () => {
  const r = await post(base, '/api/v1/models/download', { model: pick.llm.key });
  A.equal(r.status, 200, r.text);
  checkJob(r.json, 'download');
  A.equal(r.json.status, 'already_downloaded');
  A.ok(!('job_id' in r.json), 'job_id absent when already_downloaded');
});

test('§3.4/§3.5 download job: shape, status polling until completed, model appears', T, async () => {
  // Which remote models exist is not in the reference: try the docs' example catalog id, then an
  // exact Hugging Face URL with a quantization (both documented request forms, §3.4).
  const have = new Set(catalog.map((m) => m.key));
  const candidates = [
    { model: 'openai/gpt-oss-20b' },
    { model: 'https://huggingface.co/lmstudio-community/Qwen3-0.6B-GGUF', quantization: 'Q4_K_M' },
  ].filter((c) => !have.has(c.model));
  let r;
  for (const c of candidates) {
    r = await post(base, '/api/v1/models/download', c);
    if (r.status === 200 && r.json?.job_id) break;
  }
  A.equal(r.status, 200, r.text);
  checkJob(r.json, 'download');
  A.ok(isStr(r.json.job_id) && r.json.job_id.length > 0, 'job_id');
  A.ok(['downloading', 'completed'].includes(r.json.status));
  A.ok(isNum(r.json.total_size_bytes) && r.json.total_size_bytes > 0);
  A.match(r.json.started_at, ISO_RE);
  const job = r.json.job_id;
  let s;
  const deadline = Date.now() + 60000;
  for (;;) {
    s = await get(base, `/api/v1/models/download/status/${job}`);
    A.equal(s.status, 200, s.text);
    checkJob(s.json, 'status');
    A.equal(s.json.job_id, job);
    A.ok(['downloading', 'paused', 'completed', 'failed'].includes(s.json.status), s.json.status);
    A.ok(isNum(s.json.downloaded_bytes), 'downloaded_bytes');
    A.ok(isNum(s.json.total_size_bytes), 'total_size_bytes');
    A.match(s.json.started_at, ISO_RE);
    if (s.json.status === 'downloading') {
      A.ok(isNum(s.json.bytes_per_second), 'bytes_per_second while downloading');
      A.match(s.json.estimated_completion, ISO_RE, 'estimated_completion while downloading');
      A.ok(s.json.downloaded_bytes <= s.json.total_size_bytes);
    }
    if (s.json.status !== 'downloading' || Date.now() > deadline) break;
    await new Promise((res) => setTimeout(res, 100));
  }
  A.equal(s.json.status, 'completed');
  A.equal(s.json.downloaded_bytes, s.json.total_size_bytes);
  A.match(s.json.completed_at, ISO_RE);
  const after2 = await models(base);
  A.equal(after2.length, catalog.length + 1, 'the downloaded model is now listed in /api/v1/models');
  for (const m of after2) checkV1Model(m);
});

test('§3.5 unknown download job id answers an error', T, async () => {
  const s = await get(base, '/api/v1/models/download/status/job_doesnotexist00');
  // §3.5: "presumably error type job_not_found (uncertain)": assert the v1 error envelope only
  checkV1Error(s, 'unknown job');
});

// ---------------------------------------------------------------- §1.3 auth

const AUTH_MSG_PREFIX = "An LM Studio API token is required to make requests to this server, but none was provided using the Authorization header using the 'Bearer' scheme";

function check401(r, what) {
  A.equal(r.status, 401, `${what}: HTTP 401`);
  A.ok(isObj(r.json?.error), `${what}: error envelope, got ${r.text.slice(0, 200)}`);
  onlyKeys(r.json, ['error'], what);
  A.equal(r.json.error.type, 'invalid_request', `${what}: type`);
  A.equal(r.json.error.code, 'invalid_api_key', `${what}: code`);
  A.ok(isStr(r.json.error.message), `${what}: message`);
}

test('§1.3 auth on: missing Bearer -> 401 with the exact envelope', T, async () => {
  for (const p of ['/api/v1/models', '/api/v0/models', '/v1/models']) { // "Auth also applies to /v1/models"
    const r = await get(baseAuth, p);
    check401(r, `GET ${p} without token`);
    A.ok(r.json.error.message.startsWith(AUTH_MSG_PREFIX), `message: ${r.json.error.message}`);
  }
  const c = await post(baseAuth, '/api/v1/chat', { model: pick.llm.key, input: 'hi' });
  check401(c, 'POST /api/v1/chat without token');
});

test('§1.3 auth on: wrong or malformed Bearer -> 401, right token -> 200', T, async () => {
  const wrong = await get(baseAuth, '/api/v1/models', { headers: { authorization: 'Bearer sk-lm-Zzzzzzzz:Zzzzzzzzzzzzzzzzzzzz' } });
  check401(wrong, 'well-formed wrong token');
  const bad = await get(baseAuth, '/api/v1/models', { headers: { authorization: 'Bearer not-a-token' } });
  check401(bad, 'malformed token');
  A.ok(bad.json.error.message.startsWith('Malformed LM Studio API token provided'), bad.json.error.message);
  const right = await get(baseAuth, '/api/v1/models', { headers: AUTH });
  A.equal(right.status, 200);
  A.ok(Array.isArray(right.json.models));
  const v1 = await get(baseAuth, '/v1/models', { headers: AUTH });
  A.equal(v1.status, 200);
  A.equal(v1.json.object, 'list');
});

test('§1.3 auth on: /v1/chat/completions without a token is refused', T, async () => {
  const r = await post(baseAuth, '/v1/chat/completions', { model: pick.llm.key, messages: [{ role: 'user', content: 'hi' }] });
  // §1.3: a 401 envelope, or (one report) the "Unexpected endpoint" 200 reply: both mean unauthorised
  if (r.status === 401) check401(r, 'chat completions without token');
  else A.deepEqual(r.json, { error: 'Unexpected endpoint or method. (POST /v1/chat/completions)' });
  A.ok(!('choices' in (r.json || {})), 'no completion without a token');
});

test('§1.3 auth on: an authorised chat works', T, async () => {
  const r = await post(baseAuth, '/api/v1/chat', { model: pick.llm.key, input: 'hello', max_output_tokens: 8 }, { headers: AUTH });
  A.equal(r.status, 200, r.text);
  A.ok(Array.isArray(r.json.output));
});

test('§1.5 CORS is off by default: no Access-Control-Allow-Origin for a cross-origin request', T, async () => {
  const r = await get(base, '/api/v1/models', { headers: { origin: 'http://evil.example' } });
  A.equal(r.status, 200);
  A.equal(r.headers.get('access-control-allow-origin'), null);
});

test('§3.2/§1.4 a load that does not fit in memory answers a v1 error and loads nothing', T, async () => {
  const small = await startProc(bin('llmster-sim'), ['--port', '0', '--speed', '0', '--gpus', 'Tiny:1GiB', '--ram', '2GiB']);
  try {
    const big = catalog.filter((m) => m.type === 'llm').sort((a, b) => b.size_bytes - a.size_bytes)[0];
    const r = await post(small.url, '/api/v1/models/load', { model: big.key });
    checkV1Error(r, 'load too big');
    const e = (await models(small.url)).find((x) => x.key === big.key);
    A.deepEqual(e.loaded_instances, []);
  } finally {
    await small.stop();
  }
});

test('§3.1/§3.2 MLX instances carry no llama.cpp-only config fields', T, async () => {
  // §3.2: eval_batch_size, flash_attention, num_experts, offload_kv_cache_to_gpu are llama.cpp only;
  // §3.1: an MLX instance was observed with only context_length and parallel
  await unloadAll(base);
  const m = pick.mlx;
  const r = await post(base, '/api/v1/models/load', { model: m.key, context_length: 4096, echo_load_config: true });
  A.equal(r.status, 200, r.text);
  onlyKeys(r.json.load_config, ['context_length', 'parallel'], 'mlx load_config');
  A.equal(r.json.load_config.context_length, 4096);
  const e = (await models(base)).find((x) => x.key === m.key);
  onlyKeys(e.loaded_instances[0].config, ['context_length', 'parallel'], 'mlx instance config');
  A.equal(e.loaded_instances[0].config.context_length, 4096);
  await unloadAll(base);
});
