// sim_conformance_chat.test.mjs - llmster-sim inference endpoints against the
// LM Studio reference: /api/v1/chat (plain and SSE events), /api/v0 chat and
// text completions, /v1 OpenAI-compatible chat, embeddings, JIT loading and
// auto-evict, inference errors.
//
// Written from ../shared/reference/lmstudio-protocol.md only ("§n" below is
// its section). Model keys are discovered from GET /api/v1/models by their
// fields. Where the reference is uncertain the test asserts only what it
// states and says so. A failure means the simulator deviates: fix the
// simulator, not the test.
import { test, before, after } from 'node:test';
import { startProc, bin } from '../lib/harness.mjs';
import {
  A, assertionCount, isStr, isNum, isInt, isObj, onlyKeys,
  get, post, postSSE, unloadAll, models,
} from './sim_conformance_util.mjs';

const T = { timeout: 120000 };
let sim, base;
let catalog = [];
const pick = {};

before(async () => {
  sim = await startProc(bin('llmster-sim'), ['--port', '0', '--speed', '0', '--seed', '1']);
  base = sim.url;
  catalog = await models(base);
  const bySize = (a, b) => a.size_bytes - b.size_bytes;
  const llms = catalog.filter((m) => m.type === 'llm').sort(bySize);
  pick.llm = llms.find((m) => !m.capabilities?.reasoning) || llms[0];
  pick.llm2 = llms.find((m) => m !== pick.llm && !m.capabilities?.reasoning) || llms.find((m) => m !== pick.llm);
  pick.reasoning = llms.find((m) => m.capabilities?.reasoning &&
    m.capabilities.reasoning.allowed_options.some((o) => o !== 'off'));
  pick.embedding = catalog.filter((m) => m.type === 'embedding').sort(bySize)[0];
});

after(async () => {
  console.log(`# conformance assertions (sim_conformance_chat.test.mjs): ${assertionCount()}`);
  await sim?.stop();
});

const STOP_REASONS = ['userStopped', 'modelUnloaded', 'failed', 'eosFound', 'stopStringFound',
  'toolCalls', 'maxPredictedTokensReached', 'contextLengthReached'];
const V1_ERROR_TYPES = ['invalid_request', 'unknown', 'mcp_connection_error', 'plugin_connection_error',
  'not_implemented', 'model_not_found', 'job_not_found', 'internal_error'];

function checkV1Error(r, what) {
  A.ok(isObj(r.json) && isObj(r.json.error), `${what}: v1 error envelope, got ${r.text.slice(0, 300)}`);
  onlyKeys(r.json.error, ['type', 'message', 'code', 'param'], `${what} error`);
  A.ok(V1_ERROR_TYPES.includes(r.json.error.type), `${what}: error.type ${r.json.error.type}`);
  A.ok(isStr(r.json.error.message) && r.json.error.message.length > 0, `${what}: message`);
}

// ---------------------------------------------------------------- §3.6

// The /api/v1/chat response body (§3.6), also chat.end's `result` (§3.7).
function checkV1ChatBody(b, { loaded, store = true } = {}) {
  A.ok(isObj(b), 'chat body object');
  onlyKeys(b, ['model_instance_id', 'output', 'stats', 'response_id'], 'v1 chat body');
  A.ok(isStr(b.model_instance_id), 'model_instance_id');
  A.ok(Array.isArray(b.output), 'output array');
  for (const it of b.output) {
    A.ok(['reasoning', 'tool_call', 'invalid_tool_call', 'message'].includes(it.type), `output type ${it.type}`);
    if (it.type === 'message' || it.type === 'reasoning') {
      A.deepEqual(Object.keys(it).sort(), ['content', 'type'], `${it.type} item keys`);
      A.ok(isStr(it.content), `${it.type}.content string`);
    }
  }
  A.equal(b.output.filter((i) => i.type === 'message').length, 1, 'one message item');
  const s = b.stats;
  onlyKeys(s, ['input_tokens', 'total_output_tokens', 'reasoning_output_tokens', 'tokens_per_second',
    'time_to_first_token_seconds', 'model_load_time_seconds'], 'v1 chat stats');
  for (const k of ['input_tokens', 'total_output_tokens', 'reasoning_output_tokens']) A.ok(isInt(s[k]) && s[k] >= 0, `stats.${k} int`);
  A.ok(isNum(s.tokens_per_second), 'stats.tokens_per_second');
  A.ok(isNum(s.time_to_first_token_seconds), 'stats.time_to_first_token_seconds');
  A.ok(s.reasoning_output_tokens <= s.total_output_tokens, 'reasoning tokens are part of output tokens');
  // §3.6: model_load_time_seconds only when the request loaded the model
  if (loaded === true) A.ok(isNum(s.model_load_time_seconds), 'model_load_time_seconds when loaded');
  if (loaded === false) A.ok(!('model_load_time_seconds' in s), 'no model_load_time_seconds when already loaded');
  // §3.6: store defaults to true -> response_id "resp_…"
  if (store) A.ok(isStr(b.response_id) && b.response_id.startsWith('resp_'), `response_id ${b.response_id}`);
  else A.ok(!('response_id' in b), 'no response_id with store:false');
}

test('§3.6 POST /api/v1/chat non-streaming: output items, stats, response_id', T, async () => {
  await unloadAll(base);
  const m = pick.llm;
  const r = await post(base, '/api/v1/chat', { model: m.key, input: 'Write one sentence about rivers.' });
  A.equal(r.status, 200, r.text);
  checkV1ChatBody(r.json, { loaded: true });
  A.equal(r.json.model_instance_id, m.key);
  A.equal(r.json.stats.reasoning_output_tokens, 0, 'no reasoning for a non-reasoning model');
  A.ok(r.json.stats.total_output_tokens > 0);
  A.ok(r.json.output.find((i) => i.type === 'message').content.length > 0, 'non-empty message');
  // second request: model already loaded
  const r2 = await post(base, '/api/v1/chat', { model: m.key, input: [{ type: 'message', content: 'And one about lakes.' }] });
  A.equal(r2.status, 200, r2.text);
  checkV1ChatBody(r2.json, { loaded: false });
  A.notEqual(r2.json.response_id, r.json.response_id, 'a new response_id per response');
});

test('§3.6 input item {"type":"text"} (docs examples) and system_prompt are accepted', T, async () => {
  // §3.6 / §11.4: schema says "message", examples use "text"; most clients send "text".
  const r = await post(base, '/api/v1/chat', {
    model: pick.llm.key, system_prompt: 'You are terse.', input: [{ type: 'text', content: 'Hi.' }],
  });
  A.equal(r.status, 200, r.text);
  checkV1ChatBody(r.json, {});
});

test('§3.6 store:false -> no response_id; previous_response_id continues a stored chat', T, async () => {
  const r = await post(base, '/api/v1/chat', { model: pick.llm.key, input: 'One.', store: false });
  A.equal(r.status, 200, r.text);
  checkV1ChatBody(r.json, { store: false });
  const a = await post(base, '/api/v1/chat', { model: pick.llm.key, input: 'Two.' });
  A.equal(a.status, 200, a.text);
  const b = await post(base, '/api/v1/chat', { model: pick.llm.key, input: 'Three.', previous_response_id: a.json.response_id });
  A.equal(b.status, 200, b.text);
  checkV1ChatBody(b.json, {});
  A.notEqual(b.json.response_id, a.json.response_id);
  // the continued chat includes the earlier turn in the prompt: more input tokens than "Three." alone
  const c = await post(base, '/api/v1/chat', { model: pick.llm.key, input: 'Three.' });
  A.ok(b.json.stats.input_tokens > c.json.stats.input_tokens, 'previous turns count as input');
});

test('§3.6 reasoning model: reasoning output item before the message, reasoning tokens counted', T, async () => {
  const m = pick.reasoning;
  A.ok(m, 'a model with capabilities.reasoning');
  const opt = m.capabilities.reasoning.default !== 'off' ? m.capabilities.reasoning.default
    : m.capabilities.reasoning.allowed_options.find((o) => o !== 'off');
  const r = await post(base, '/api/v1/chat', { model: m.key, input: 'Why is the sky blue?', reasoning: opt });
  A.equal(r.status, 200, r.text);
  checkV1ChatBody(r.json, {});
  const types = r.json.output.map((i) => i.type);
  A.ok(types.indexOf('reasoning') >= 0 && types.indexOf('reasoning') < types.indexOf('message'), `order ${types}`);
  A.ok(r.json.stats.reasoning_output_tokens > 0, 'reasoning_output_tokens > 0');
  A.ok(!/<think>|<\/think>/.test(r.json.output.find((i) => i.type === 'message').content), 'no think tags in v1 message');
  if (m.capabilities.reasoning.allowed_options.includes('off')) {
    const off = await post(base, '/api/v1/chat', { model: m.key, input: 'Why is the sky blue?', reasoning: 'off' });
    A.equal(off.status, 200, off.text);
    A.ok(!off.json.output.some((i) => i.type === 'reasoning'), 'reasoning off -> no reasoning item');
    A.equal(off.json.stats.reasoning_output_tokens, 0);
  }
});

test('§3.6 reasoning on a model without reasoning support errors', T, async () => {
  // §3.6: "reasoning … errors if unsupported by model"
  const r = await post(base, '/api/v1/chat', { model: pick.llm.key, input: 'hi', reasoning: 'high' });
  checkV1Error(r, 'unsupported reasoning');
});

test('§3.6/§1.4 v1 chat errors: missing model (documented body), unknown model, bad JSON', T, async () => {
  const r = await post(base, '/api/v1/chat', { input: 'hi' });
  checkV1Error(r, 'missing model');
  // §1.4 documented example for a missing model
  A.deepEqual(r.json.error, { type: 'invalid_request', message: '"model" is required', code: 'missing_required_parameter', param: 'model' });
  const u = await post(base, '/api/v1/chat', { model: 'no-such-publisher/no-such-model-xyz', input: 'hi' });
  checkV1Error(u, 'unknown model');
  A.ok(['model_not_found', 'invalid_request'].includes(u.json.error.type), u.json.error.type);
  const b = await post(base, '/api/v1/chat', '{"model": "x", "input": ');
  // §1.4/§11.3: the exact reply to malformed JSON is unknown; an error body is all that is asserted
  A.ok(b.json && 'error' in b.json, `bad JSON -> error body, got ${b.text.slice(0, 200)}`);
  A.ok(!('output' in b.json), 'no chat output for bad JSON');
});

// ---------------------------------------------------------------- §3.7

// Validate a /api/v1/chat SSE stream; returns {types, frames, result}.
function checkV1Stream(r) {
  A.equal(r.status, 200, r.text.slice(0, 300));
  A.match(r.headers.get('content-type') || '', /^text\/event-stream/);
  A.ok(r.frames.length >= 2, 'frames');
  for (const f of r.frames) {
    A.ok(isStr(f.event), `every frame has "event:", got ${f.data.slice(0, 80)}`);
    A.ok(isObj(f.json), `data is JSON: ${f.data.slice(0, 80)}`);
    A.equal(f.json.type, f.event, 'data.type equals the event name');
  }
  const types = r.frames.map((f) => f.event);
  const seq = types.join(' ');
  // §3.7: starts with chat.start, ends with chat.end; model_load.* only if a load is needed;
  // prompt_processing.* then reasoning.* then message.*
  const order = /^chat\.start( model_load\.start( model_load\.progress)* model_load\.end)? prompt_processing\.start( prompt_processing\.progress)* prompt_processing\.end( reasoning\.start( reasoning\.delta)* reasoning\.end)? message\.start( message\.delta)* message\.end chat\.end$/;
  A.match(seq, order, 'event order');
  const f = (t) => r.frames.filter((x) => x.event === t).map((x) => x.json);
  const start = f('chat.start')[0];
  A.deepEqual(Object.keys(start).sort(), ['model_instance_id', 'type']);
  A.ok(isStr(start.model_instance_id));
  for (const e of f('model_load.start')) A.deepEqual(Object.keys(e).sort(), ['model_instance_id', 'type']);
  for (const e of f('model_load.progress')) {
    A.deepEqual(Object.keys(e).sort(), ['model_instance_id', 'progress', 'type']);
    A.ok(isNum(e.progress) && e.progress >= 0 && e.progress <= 1, 'model_load.progress 0..1');
  }
  for (const e of f('model_load.end')) {
    A.deepEqual(Object.keys(e).sort(), ['load_time_seconds', 'model_instance_id', 'type']);
    A.ok(isNum(e.load_time_seconds));
  }
  for (const e of [...f('model_load.start'), ...f('model_load.progress'), ...f('model_load.end')]) {
    A.equal(e.model_instance_id, start.model_instance_id, 'model_load.* names the chat instance');
  }
  for (const t of ['prompt_processing.start', 'prompt_processing.end', 'reasoning.start', 'reasoning.end', 'message.start', 'message.end']) {
    for (const e of f(t)) A.deepEqual(Object.keys(e), ['type'], `${t} has no payload`);
  }
  for (const e of f('prompt_processing.progress')) {
    A.deepEqual(Object.keys(e).sort(), ['progress', 'type']);
    A.ok(isNum(e.progress) && e.progress >= 0 && e.progress <= 1, 'prompt_processing.progress 0..1');
  }
  for (const t of ['reasoning.delta', 'message.delta']) {
    for (const e of f(t)) {
      A.deepEqual(Object.keys(e).sort(), ['content', 'type'], `${t} keys`);
      A.ok(isStr(e.content), `${t}.content`);
    }
  }
  const end = f('chat.end')[0];
  A.deepEqual(Object.keys(end).sort(), ['result', 'type']);
  const result = end.result;
  A.equal(result.model_instance_id, start.model_instance_id);
  // deltas add up to the final items
  const msg = f('message.delta').map((e) => e.content).join('');
  A.equal(msg, result.output.find((i) => i.type === 'message').content, 'message.delta concatenation = message item');
  const rsn = f('reasoning.delta').map((e) => e.content).join('');
  const ritem = result.output.find((i) => i.type === 'reasoning');
  if (ritem) A.equal(rsn, ritem.content, 'reasoning.delta concatenation = reasoning item');
  else A.equal(f('reasoning.delta').length, 0);
  // issue #4 part 7 "token counts in stats agree with what was streamed" (the reference does not
  // define delta granularity; LM Studio emits one delta per generated token)
  A.equal(result.stats.total_output_tokens, f('message.delta').length + f('reasoning.delta').length, 'total_output_tokens = delta events');
  A.equal(result.stats.reasoning_output_tokens, f('reasoning.delta').length, 'reasoning_output_tokens = reasoning.delta events');
  return { types, frames: r.frames, result };
}

test('§3.7 v1 chat streaming with JIT load: chat.start, model_load.*, …, chat.end{result}', T, async () => {
  await unloadAll(base);
  const m = pick.llm;
  const r = await postSSE(base, '/api/v1/chat', { model: m.key, input: 'Tell me about bread.', stream: true });
  const { types, result } = checkV1Stream(r);
  A.ok(types.includes('model_load.start') && types.includes('model_load.end'), 'model_load.* when JIT-loading');
  checkV1ChatBody(result, { loaded: true });
  // §3.7 chat.end result = full non-streaming body; the same request again (now loaded) is
  // compared key by key with a non-streaming call
  const r2 = await postSSE(base, '/api/v1/chat', { model: m.key, input: 'Tell me about bread.', stream: true });
  const s2 = checkV1Stream(r2);
  A.ok(!s2.types.some((t) => t.startsWith('model_load.')), 'no model_load.* when loaded');
  checkV1ChatBody(s2.result, { loaded: false });
  const plain = await post(base, '/api/v1/chat', { model: m.key, input: 'Tell me about bread.' });
  A.deepEqual(Object.keys(s2.result).sort(), Object.keys(plain.json).sort(), 'result keys = non-streaming keys');
  A.deepEqual(Object.keys(s2.result.stats).sort(), Object.keys(plain.json.stats).sort(), 'result.stats keys');
  A.deepEqual(s2.result.output.map((i) => i.type), plain.json.output.map((i) => i.type), 'result.output item types');
});

test('§3.7 v1 chat streaming with a reasoning model: reasoning.* before message.*', T, async () => {
  const m = pick.reasoning;
  A.ok(m, 'a reasoning model');
  const opt = m.capabilities.reasoning.default !== 'off' ? m.capabilities.reasoning.default
    : m.capabilities.reasoning.allowed_options.find((o) => o !== 'off');
  const r = await postSSE(base, '/api/v1/chat', { model: m.key, input: 'Explain tides.', stream: true, reasoning: opt });
  const { types, result } = checkV1Stream(r);
  A.ok(types.includes('reasoning.start') && types.includes('reasoning.delta') && types.includes('reasoning.end'), 'reasoning events');
  A.ok(types.lastIndexOf('reasoning.end') < types.indexOf('message.start'), 'reasoning.* before message.*');
  checkV1ChatBody(result, {});
  A.ok(result.stats.reasoning_output_tokens > 0);
});

test('§3.6 context_length applies when the chat request loads the model', T, async () => {
  await unloadAll(base);
  const m = pick.llm;
  const r = await post(base, '/api/v1/chat', { model: m.key, input: 'hi', context_length: 3072 });
  A.equal(r.status, 200, r.text);
  const e = (await models(base)).find((x) => x.key === m.key);
  A.equal(e.loaded_instances.length, 1);
  A.equal(e.loaded_instances[0].config.context_length, 3072);
});

// ---------------------------------------------------------------- §2.2 / §2.3

function checkUsage(u, what) {
  A.deepEqual(Object.keys(u).sort(), ['completion_tokens', 'prompt_tokens', 'total_tokens'], `${what}: usage keys`);
  for (const k of Object.keys(u)) A.ok(isInt(u[k]) && u[k] >= 0, `${what}: usage.${k}`);
  A.equal(u.total_tokens, u.prompt_tokens + u.completion_tokens, `${what}: total = prompt + completion`);
}
function checkV0Stats(s, what) {
  A.ok(isObj(s), `${what}: stats object`);
  A.ok(isNum(s.tokens_per_second), `${what}: stats.tokens_per_second`);
  A.ok(isNum(s.time_to_first_token), `${what}: stats.time_to_first_token (seconds)`);
  A.ok(isNum(s.generation_time), `${what}: stats.generation_time (seconds)`);
  A.ok(STOP_REASONS.includes(s.stop_reason), `${what}: stats.stop_reason ${s.stop_reason}`);
}
function checkModelInfoRuntime(b, m, what) {
  A.deepEqual(Object.keys(b.model_info).sort(), ['arch', 'context_length', 'format', 'quant'], `${what}: model_info keys`);
  A.ok(isStr(b.model_info.arch) && isStr(b.model_info.quant), `${what}: model_info arch/quant`);
  A.ok(isNum(b.model_info.context_length), `${what}: model_info.context_length`);
  A.equal(b.model_info.format, m.format, `${what}: model_info.format`);
  A.deepEqual(Object.keys(b.runtime).sort(), ['name', 'supported_formats', 'version'], `${what}: runtime keys`);
  A.ok(isStr(b.runtime.name) && isStr(b.runtime.version), `${what}: runtime name/version`);
  A.ok(Array.isArray(b.runtime.supported_formats) && b.runtime.supported_formats.includes(m.format), `${what}: runtime.supported_formats`);
}

test('§2.2 POST /api/v0/chat/completions non-streaming: usage, stats, model_info, runtime', T, async () => {
  const m = pick.llm;
  const r = await post(base, '/api/v0/chat/completions', { model: m.key, messages: [{ role: 'user', content: 'Say something.' }], max_tokens: -1 });
  A.equal(r.status, 200, r.text);
  const b = r.json;
  A.ok(isStr(b.id) && b.id.startsWith('chatcmpl-'), `id ${b.id}`);
  A.equal(b.object, 'chat.completion');
  A.ok(isInt(b.created) && Math.abs(b.created - Date.now() / 1000) < 3600, 'created: epoch seconds');
  A.ok(isStr(b.model));
  A.equal(b.choices.length, 1);
  const c = b.choices[0];
  A.equal(c.index, 0);
  A.equal(c.logprobs, null);
  A.ok(isStr(c.finish_reason));
  A.equal(c.message.role, 'assistant');
  A.ok(isStr(c.message.content) && c.message.content.length > 0);
  checkUsage(b.usage, 'v0 chat');
  checkV0Stats(b.stats, 'v0 chat');
  checkModelInfoRuntime(b, m, 'v0 chat');
});

test('§2.2 POST /api/v0/completions: text_completion, max_tokens -> length / maxPredictedTokensReached', T, async () => {
  const m = pick.llm;
  const r = await post(base, '/api/v0/completions', { model: m.key, prompt: 'Once upon a time', max_tokens: 5 });
  A.equal(r.status, 200, r.text);
  const b = r.json;
  A.equal(b.object, 'text_completion');
  A.ok(isStr(b.choices[0].text));
  A.equal(b.choices[0].finish_reason, 'length');
  A.equal(b.stats.stop_reason, 'maxPredictedTokensReached');
  checkUsage(b.usage, 'v0 completion');
  A.equal(b.usage.completion_tokens, 5);
  checkV0Stats(b.stats, 'v0 completion');
  checkModelInfoRuntime(b, m, 'v0 completion');
});

// OpenAI-style SSE (§2.3): data-only frames, chat.completion.chunk objects, "data: [DONE]" last.
function checkChunkStream(r, what) {
  A.equal(r.status, 200, r.text.slice(0, 300));
  A.match(r.headers.get('content-type') || '', /^text\/event-stream/);
  const fr = r.frames;
  A.ok(fr.length >= 3, `${what}: frames`);
  A.equal(fr[fr.length - 1].data, '[DONE]', `${what}: data: [DONE] last`);
  A.equal(fr.filter((f) => f.data === '[DONE]').length, 1, `${what}: one [DONE]`);
  const chunks = fr.slice(0, -1).map((f) => f.json);
  for (const c of chunks) {
    A.ok(isObj(c), `${what}: chunk is JSON`);
    A.equal(c.object, 'chat.completion.chunk', `${what}: object`);
    A.ok(isStr(c.id) && isStr(c.model) && isInt(c.created), `${what}: id/model/created`);
    A.ok(Array.isArray(c.choices), `${what}: choices`);
  }
  // token-bearing chunks: content, or reasoning in `reasoning_content` (DeepSeek style) or
  // `reasoning` (gpt-oss style), §4
  const content = chunks.filter((c) => c.choices[0] && ['content', 'reasoning_content', 'reasoning']
    .some((k) => isStr(c.choices[0].delta?.[k]) && c.choices[0].delta[k].length > 0));
  return { chunks, content };
}

test('§2.3 /api/v0/chat/completions streaming: chunks, final chunk with usage+stats, [DONE]', T, async () => {
  const m = pick.llm;
  const r = await postSSE(base, '/api/v0/chat/completions', { model: m.key, messages: [{ role: 'user', content: 'Count to five.' }], stream: true });
  const { chunks, content } = checkChunkStream(r, 'v0 stream');
  const last = chunks[chunks.length - 1];
  A.deepEqual(last.choices[0].delta, {}, 'final chunk delta {}');
  A.ok(isStr(last.choices[0].finish_reason), 'final chunk finish_reason set');
  checkUsage(last.usage, 'v0 final chunk');
  checkV0Stats(last.stats, 'v0 final chunk');
  // §2.3: whether model_info/runtime also appear is uncertain: checked only if present
  if ('model_info' in last) checkModelInfoRuntime(last, m, 'v0 final chunk');
  for (const c of chunks.slice(0, -1)) A.equal(c.choices[0]?.finish_reason ?? null, null, 'no finish_reason before the end');
  // issue #4 part 7: completion tokens agree with what was streamed (one chunk per token)
  A.equal(last.usage.completion_tokens, content.length, 'usage.completion_tokens = content chunks');
});

test('§4 POST /v1/chat/completions non-streaming: OpenAI shape with "stats":{}', T, async () => {
  const r = await post(base, '/v1/chat/completions', { model: pick.llm.key, messages: [{ role: 'user', content: 'Hello!' }] });
  A.equal(r.status, 200, r.text);
  const b = r.json;
  A.equal(b.object, 'chat.completion');
  A.ok(isStr(b.id) && isInt(b.created) && isStr(b.model));
  A.equal(b.choices[0].index, 0);
  A.equal(b.choices[0].message.role, 'assistant');
  A.ok(isStr(b.choices[0].message.content));
  A.ok(isStr(b.choices[0].finish_reason));
  checkUsage(b.usage, 'v1 chat');
  // §4 (observed, 3rd-party capture 2026-08): OpenAI-compat responses include an empty "stats":{}
  A.deepEqual(b.stats, {}, 'stats is {}');
});

test('§4 /v1/chat/completions streaming: chunks, include_usage, [DONE]', T, async () => {
  const r = await postSSE(base, '/v1/chat/completions', {
    model: pick.llm.key, messages: [{ role: 'user', content: 'Write a haiku.' }], stream: true,
    stream_options: { include_usage: true },
  });
  const { chunks, content } = checkChunkStream(r, 'v1 stream');
  const withUsage = chunks.filter((c) => c.usage);
  A.ok(withUsage.length >= 1, 'a chunk carries usage with include_usage');
  checkUsage(withUsage[withUsage.length - 1].usage, 'v1 stream usage');
  A.equal(withUsage[withUsage.length - 1].usage.completion_tokens, content.length, 'completion_tokens = content chunks');
  A.ok(chunks.some((c) => c.choices[0] && isStr(c.choices[0].finish_reason)), 'a chunk sets finish_reason');
});

test('§1.4 /v1/chat/completions unknown model: 404 OpenAI error envelope', T, async () => {
  const r = await post(base, '/v1/chat/completions', { model: 'no-such-model-xyz', messages: [{ role: 'user', content: 'hi' }] });
  // §1.4 observed (0.3.x): {"error":{"message":"Model \"x\" not found. …","type":"invalid_request_error","param":"model","code":"model_not_found"}}, HTTP 404
  A.equal(r.status, 404, r.text);
  A.deepEqual(Object.keys(r.json.error).sort(), ['code', 'message', 'param', 'type']);
  A.equal(r.json.error.type, 'invalid_request_error');
  A.equal(r.json.error.param, 'model');
  A.equal(r.json.error.code, 'model_not_found');
  A.ok(r.json.error.message.startsWith('Model "no-such-model-xyz" not found.'), r.json.error.message);
});

// ---------------------------------------------------------------- §2.4 / §4 embeddings

function checkEmbeddings(r, n, what) {
  A.equal(r.status, 200, r.text.slice(0, 300));
  const b = r.json;
  A.equal(b.object, 'list', `${what}: object`);
  A.ok(isStr(b.model), `${what}: model`);
  A.deepEqual(Object.keys(b.usage).sort(), ['prompt_tokens', 'total_tokens'], `${what}: usage keys`);
  A.ok(isInt(b.usage.prompt_tokens) && isInt(b.usage.total_tokens), `${what}: usage ints`);
  A.equal(b.data.length, n, `${what}: one entry per input`);
  b.data.forEach((d, i) => {
    A.deepEqual(Object.keys(d).sort(), ['embedding', 'index', 'object'], `${what}: entry keys`);
    A.equal(d.object, 'embedding');
    A.equal(d.index, i);
    A.ok(Array.isArray(d.embedding) && d.embedding.length > 0 && d.embedding.every(isNum), `${what}: vector of numbers`);
  });
  A.ok(b.data.every((d) => d.embedding.length === b.data[0].embedding.length), `${what}: one dimension`);
  return b;
}

test('§2.4 POST /api/v0/embeddings and §4 /v1/embeddings', T, async () => {
  const m = pick.embedding;
  const a = checkEmbeddings(await post(base, '/api/v0/embeddings', { model: m.key, input: 'Some text to embed' }), 1, 'v0 embeddings');
  const b = checkEmbeddings(await post(base, '/v1/embeddings', { model: m.key, input: ['first text', 'second text'] }), 2, 'v1 embeddings');
  const c = checkEmbeddings(await post(base, '/v1/embeddings', { model: m.key, input: 'Some text to embed' }), 1, 'v1 embeddings single');
  A.notDeepEqual(b.data[0].embedding, b.data[1].embedding, 'different texts, different vectors');
  A.deepEqual(a.data[0].embedding, c.data[0].embedding, 'same text, same vector');
});

// ---------------------------------------------------------------- §5 JIT / auto-evict

test('§5 JIT: an inference request loads the model; auto-evict unloads the previous JIT model', T, async () => {
  await unloadAll(base);
  const [m1, m2] = [pick.llm, pick.llm2];
  A.ok(m2, 'two llms');
  let r = await post(base, '/v1/chat/completions', { model: m1.key, messages: [{ role: 'user', content: 'hi' }] });
  A.equal(r.status, 200, r.text);
  let ms = await models(base);
  A.equal(ms.find((x) => x.key === m1.key).loaded_instances.length, 1, 'JIT-loaded');
  // a non-JIT (explicit) load is not evicted by a JIT load (§5 Auto-Evict)
  const e = await post(base, '/api/v1/models/load', { model: pick.embedding.key });
  A.equal(e.status, 200, e.text);
  r = await post(base, '/v1/chat/completions', { model: m2.key, messages: [{ role: 'user', content: 'hi' }] });
  A.equal(r.status, 200, r.text);
  ms = await models(base);
  A.equal(ms.find((x) => x.key === m2.key).loaded_instances.length, 1, 'second JIT-loaded');
  A.equal(ms.find((x) => x.key === m1.key).loaded_instances.length, 0, 'previous JIT model auto-evicted');
  A.equal(ms.find((x) => x.key === pick.embedding.key).loaded_instances.length, 1, 'explicit load kept');
  await unloadAll(base);
});

test('issue #4 part 7: generation is deterministic for a seed', T, async () => {
  const body = { model: pick.llm.key, input: 'Describe a cat.', store: false };
  const a = await post(base, '/api/v1/chat', body);
  const b = await post(base, '/api/v1/chat', body);
  A.equal(a.status, 200);
  A.deepEqual(a.json.output, b.json.output, 'same seed + same request = same output');
});

test('§2.2/§4 completion ids identify one response: two requests, two ids; one id per stream', T, async () => {
  // §2.2 shows a per-response "chatcmpl-…" id (LM Studio generates a random one per completion, as
  // OpenAI does); a control plane keys history by it, so two completions must not share an id.
  const body = { model: pick.llm.key, messages: [{ role: 'user', content: 'Name a colour.' }], max_tokens: 4 };
  for (const path of ['/api/v0/chat/completions', '/v1/chat/completions']) {
    const a = await post(base, path, body);
    const b = await post(base, path, body);
    A.equal(a.status, 200);
    A.notEqual(a.json.id, b.json.id, `${path}: distinct ids for distinct completions`);
  }
  const s = await postSSE(base, '/api/v0/chat/completions', { ...body, stream: true });
  const ids = new Set(s.frames.filter((f) => f.json).map((f) => f.json.id));
  A.equal(ids.size, 1, 'one id for all chunks of a stream');
});

test('§4 POST /v1/completions (legacy): text_completion with usage', T, async () => {
  const r = await post(base, '/v1/completions', { model: pick.llm.key, prompt: 'Once upon a time', max_tokens: 6 });
  A.equal(r.status, 200, r.text);
  A.equal(r.json.object, 'text_completion');
  A.ok(isStr(r.json.id) && isInt(r.json.created) && isStr(r.json.model));
  A.equal(r.json.choices[0].index, 0);
  A.ok(isStr(r.json.choices[0].text));
  A.ok(isStr(r.json.choices[0].finish_reason));
  checkUsage(r.json.usage, 'v1 completions');
  A.ok(r.json.usage.completion_tokens <= 6, 'max_tokens honoured');
});

test('§4 POST /v1/responses streaming: response.created first, output_text deltas, response.completed last', T, async () => {
  // §4 names these SSE events; the rest of the Responses API shape is OpenAI's and not in the reference.
  const r = await postSSE(base, '/v1/responses', { model: pick.llm.key, input: 'Say hello.', stream: true });
  A.equal(r.status, 200, r.text.slice(0, 300));
  const ev = r.frames.filter((f) => f.json);
  A.ok(ev.length >= 3);
  for (const f of ev) A.equal(f.json.type, f.event, 'data.type equals the event name');
  A.equal(ev[0].event, 'response.created');
  A.equal(ev[ev.length - 1].event, 'response.completed');
  const deltas = ev.filter((f) => f.event === 'response.output_text.delta');
  A.ok(deltas.length > 0, 'response.output_text.delta events');
  A.ok(deltas.every((f) => isStr(f.json.delta)));
  const id = ev[ev.length - 1].json.response?.id;
  A.ok(isStr(id), 'response.completed carries the response id');
  // previous_response_id (§4) continues from it
  const c = await post(base, '/v1/responses', { model: pick.llm.key, input: 'And again.', previous_response_id: id });
  A.equal(c.status, 200, c.text);
  A.ok(isStr(c.json.id) && c.json.id !== id);
});

test('§3.6/§9 integrations: tool_call.* events and items, or an MCP/plugin connection error', T, async () => {
  const m = catalog.find((x) => x.capabilities?.trained_for_tool_use) || pick.llm;
  const body = {
    model: m.key, input: 'Find the trending model on Hugging Face.', stream: true,
    integrations: [{ type: 'ephemeral_mcp', server_label: 'huggingface', server_url: 'https://huggingface.co/mcp', allowed_tools: ['model_search'] }],
  };
  if (m.capabilities?.reasoning?.allowed_options.includes('off')) body.reasoning = 'off';
  const r = await postSSE(base, '/api/v1/chat', body);
  if (r.frames.length === 0 || !r.frames[0].event) {
    // the request failed before streaming: a v1 error envelope naming the MCP failure (§1.4 types)
    checkV1Error({ json: JSON.parse(r.text), text: r.text }, 'integrations');
    A.ok(['mcp_connection_error', 'plugin_connection_error', 'invalid_request', 'not_implemented'].includes(JSON.parse(r.text).error.type));
    return;
  }
  const evs = r.frames.map((f) => f.json);
  A.equal(evs[0].type, 'chat.start');
  A.equal(evs[evs.length - 1].type, 'chat.end');
  for (const e of evs) {
    if (e.type === 'tool_call.start') {
      A.ok(isStr(e.tool));
      A.deepEqual(e.provider_info, { type: 'ephemeral_mcp', server_label: 'huggingface' });
    } else if (e.type === 'tool_call.arguments') {
      A.ok(isStr(e.tool) && isObj(e.arguments) && isObj(e.provider_info));
    } else if (e.type === 'tool_call.success') {
      A.ok(isStr(e.tool) && isObj(e.arguments) && isStr(e.output) && isObj(e.provider_info));
    } else if (e.type === 'tool_call.failure') {
      A.ok(isStr(e.reason) && isObj(e.metadata));
    } else if (e.type === 'error') {
      A.ok(isObj(e.error) && V1_ERROR_TYPES.includes(e.error.type), 'error event payload');
    }
  }
  for (const it of evs[evs.length - 1].result.output.filter((i) => i.type === 'tool_call')) {
    A.deepEqual(Object.keys(it).sort(), ['arguments', 'output', 'provider_info', 'tool', 'type']);
  }
});

test('every LLM in the catalog: v1 SSE stream, v0 stream and v0 body conform', T, async () => {
  await unloadAll(base);
  for (const m of catalog.filter((x) => x.type === 'llm')) {
    const body = { model: m.key, input: 'Explain how a compass works.', stream: true, max_output_tokens: 40 };
    const r = m.capabilities?.reasoning;
    if (r) body.reasoning = r.default;
    const s1 = await postSSE(base, '/api/v1/chat', body);
    const { result } = checkV1Stream(s1);
    checkV1ChatBody(result, {});
    A.ok(result.stats.total_output_tokens <= 40, `${m.key}: max_output_tokens honoured`);
    if (r && r.default !== 'off') A.ok(result.stats.reasoning_output_tokens > 0, `${m.key}: reasoning by default`);
    const s0 = await postSSE(base, '/api/v0/chat/completions', { model: m.key, messages: [{ role: 'user', content: 'Hi there.' }], stream: true, max_tokens: 30 });
    const { chunks, content } = checkChunkStream(s0, `${m.key} v0 stream`);
    const last = chunks[chunks.length - 1];
    checkUsage(last.usage, `${m.key} v0 final chunk`);
    A.equal(last.usage.completion_tokens, content.length, `${m.key}: completion_tokens = token chunks`);
    A.ok(last.usage.completion_tokens <= 30);
    const b0 = await post(base, '/api/v0/chat/completions', { model: m.key, messages: [{ role: 'user', content: 'Hi there.' }], max_tokens: 30 });
    A.equal(b0.status, 200, b0.text);
    checkUsage(b0.json.usage, `${m.key} v0 body`);
    checkV0Stats(b0.json.stats, `${m.key} v0 body`);
    checkModelInfoRuntime(b0.json, m, `${m.key} v0 body`);
  }
  await unloadAll(base);
});

test('§3.6 image input item on a vision model', T, async () => {
  const m = catalog.find((x) => x.capabilities?.vision === true);
  A.ok(m, 'a vision model');
  const png = 'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';
  const r = await post(base, '/api/v1/chat', { model: m.key, input: [{ type: 'text', content: 'What is in this image?' }, { type: 'image', data_url: png }] });
  A.equal(r.status, 200, r.text);
  checkV1ChatBody(r.json, {});
  await unloadAll(base);
});

test('§3.6/§3.1 a reasoning value outside the model\'s allowed_options errors; allowed ones work', T, async () => {
  for (const m of catalog.filter((x) => x.capabilities?.reasoning)) {
    const allowed = m.capabilities.reasoning.allowed_options;
    for (const opt of ['off', 'on', 'low', 'medium', 'high']) {
      const r = await post(base, '/api/v1/chat', { model: m.key, input: 'hi', reasoning: opt, max_output_tokens: 2, store: false });
      if (allowed.includes(opt)) A.equal(r.status, 200, `${m.key} reasoning ${opt}: ${r.text}`);
      else checkV1Error(r, `${m.key} reasoning ${opt}`);
    }
  }
  await unloadAll(base);
});
