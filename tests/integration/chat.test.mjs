// chat.test.mjs - The Pulse's relay against llmster-sim through the control
// plane: every upstream event relayed in order (compared with the same
// request sent straight to the simulator, same seed), reasoning/content
// counts and text equal for the three reasoning styles, LM Studio's stats
// passed through, Stop and a client disconnect abort the upstream request
// within 100 ms (the simulator's own log says when it saw the close), an
// upstream cut mid-stream becomes an error event, an auth-on target works
// (and the token never reaches the browser), history saved, listed,
// renamed, exported and private, and a viewer gets 403.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startProc, startControlPlane, Client, bin } from '../lib/harness.mjs';

const T = { timeout: 120000 };
const SIM_TOKEN = 'sk-lm-Simtest1:' + 'Zq7'.repeat(6) + 'ab';
let cp, admin, sim, simAuth, tid, tidAuth;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const waitFor = async (fn, ms = 20000) => {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error('condition not reached');
    await sleep(20);
  }
};

// Parse a text/event-stream body incrementally; onEvent(name, dataText).
async function readSSE(res, onEvent) {
  const dec = new TextDecoder();
  let buf = '';
  for await (const chunk of res.body) {
    buf += dec.decode(chunk, { stream: true }).replace(/\r\n?/g, '\n');
    let i;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, i);
      buf = buf.slice(i + 2);
      let name = 'message';
      const data = [];
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) continue;
        const c = line.indexOf(':');
        const f = c < 0 ? line : line.slice(0, c);
        const v = c < 0 ? '' : line.slice(c + 1).replace(/^ /, '');
        if (f === 'event') name = v;
        else if (f === 'data') data.push(v);
      }
      if (data.length && onEvent(name, data.join('\n')) === false) return;
    }
  }
}

// Chat through the control plane; returns the events as [name, json].
async function chat(client, targetId, body, { onEvent, signal } = {}) {
  const h = { 'content-type': 'application/json', origin: client.origin };
  if (client.cookie) h.cookie = client.cookie;
  const res = await fetch(`${cp.url}/api/targets/${targetId}/chat`, { method: 'POST', headers: h, body: JSON.stringify(body), signal });
  if (res.status !== 200) return { status: res.status, json: await res.json().catch(() => null), events: [] };
  assert.match(res.headers.get('content-type'), /^text\/event-stream/);
  const events = [];
  try {
    await readSSE(res, (name, data) => {
      const j = JSON.parse(data);
      events.push([name, j]);
      return onEvent ? onEvent(name, j, events) : undefined;
    });
  } catch (e) {
    if (!signal?.aborted) throw e;
  }
  return { status: 200, events };
}

// The same upstream request straight to the simulator; events as [type, json|text].
async function direct(simUrl, path, body, token) {
  const h = { 'content-type': 'application/json' };
  if (token) h.authorization = 'Bearer ' + token;
  const res = await fetch(simUrl + path, { method: 'POST', headers: h, body: JSON.stringify(body) });
  assert.equal(res.status, 200);
  const out = [];
  await readSSE(res, (name, data) => { out.push([name, data === '[DONE]' ? data : JSON.parse(data)]); });
  return out;
}

// What the relay must make of the direct v1 events (docs/api-chat.md).
function expectV1(evs) {
  const out = [];
  for (const [name, j] of evs) {
    if (name === 'model_load.start' || name === 'model_load.progress' || name === 'model_load.end') out.push(['model_load']);
    else if (name.startsWith('prompt_processing.')) out.push(['prompt_progress']);
    else if (name === 'reasoning.delta') out.push(['reasoning', j.content]);
    else if (name === 'message.delta') out.push(['content', j.content]);
    else if (name === 'chat.end') out.push(['stats']);
  }
  return out;
}
const shape = (events) => events.filter(([n]) => !['start', 'end'].includes(n))
  .map(([n, j]) => (n === 'reasoning' || n === 'content' ? [n, j.text] : [n]));
const text = (events, kind) => events.filter(([n]) => n === kind).map(([, j]) => j.text).join('');
const simLogs = async (url, since = 0) => (await (await fetch(`${url}/__sim/logs?since=${since}`)).json());
// Load with `lms load` semantics (not JIT: never auto-evicted), so neither the
// relayed nor the direct request carries model_load events.
const warm = async (url, model) => {
  const r = await fetch(url + '/__sim/lms/load', { method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ modelKey: model, identifier: model }) });
  assert.ok(r.status === 200 || r.status === 409, await r.text());
};

before(async () => {
  sim = await startProc(bin('llmster-sim'), ['--port', '0', '--speed', '1', '--seed', '11']);
  simAuth = await startProc(bin('llmster-sim'), ['--port', '0', '--speed', '0', '--seed', '11', '--api-token', SIM_TOKEN]);
  cp = await startControlPlane({ env: { LMS_BIN: bin('lms') } });
  admin = new Client(cp.url);
  await admin.login(cp.admin.username, cp.admin.password);
  let r = await admin.post('/api/targets', { label: 'sim', url: sim.url });
  assert.equal(r.status, 201, r.text);
  tid = r.json.target.id;
  r = await admin.post('/api/targets', { label: 'sim-auth', url: simAuth.url, api_key: SIM_TOKEN });
  assert.equal(r.status, 201, r.text);
  tidAuth = r.json.target.id;
  for (const m of ['qwen/qwen3-8b', 'deepseek/deepseek-r1-0528-qwen3-8b', 'openai/gpt-oss-20b']) await warm(sim.url, m);
  await warm(simAuth.url, 'qwen/qwen3-8b');
});
after(async () => { await cp?.cleanup(); await sim?.stop(); await simAuth?.stop(); });

test('v1: every event relayed in order, same text and stats as a direct call', T, async () => {
  const body = { model: 'qwen/qwen3-8b', messages: [{ role: 'user', content: 'Explain relays.' }], max_tokens: 60, save: false };
  const got = await chat(admin, tid, body);
  assert.equal(got.status, 200);
  const want = await direct(sim.url, '/api/v1/chat', { model: 'qwen/qwen3-8b', input: 'Explain relays.', stream: true, max_output_tokens: 60 });
  assert.deepEqual(shape(got.events), expectV1(want));
  assert.equal(got.events[0][0], 'start');
  assert.match(got.events[0][1].request_id, /^c_[0-9a-f]{16}$/);
  assert.equal(got.events.at(-1)[0], 'end');
  const nReason = want.filter(([n]) => n === 'reasoning.delta').length;
  const nContent = want.filter(([n]) => n === 'message.delta').length;
  assert.ok(nReason > 0 && nContent > 0);
  const stats = got.events.find(([n]) => n === 'stats')[1];
  const chatEnd = want.find(([n]) => n === 'chat.end')[1];
  assert.deepEqual(stats.lmstudio, chatEnd.result.stats);
  assert.equal(stats.server.reasoning_events, nReason);
  assert.equal(stats.server.content_events, nContent);
  assert.equal(stats.server.tokens, chatEnd.result.stats.total_output_tokens);
  assert.ok(stats.server.ttft_ms > 0 && stats.server.total_ms >= stats.server.ttft_ms);
  assert.ok(stats.server.generation_ms > 0);
  assert.equal(got.events.at(-1)[1].stop_reason, 'maxPredictedTokensReached');
  assert.match(got.events.at(-1)[1].response_id, /^resp_/);
});

test('v0 with <think> in content and openai with reasoning_content: counts and text equal', T, async () => {
  for (const [api, path, model, extra] of [
    ['v0', '/api/v0/chat/completions', 'qwen/qwen3-8b', {}],
    ['openai', '/v1/chat/completions', 'deepseek/deepseek-r1-0528-qwen3-8b', { stream_options: { include_usage: true } }],
    ['openai', '/v1/chat/completions', 'openai/gpt-oss-20b', { stream_options: { include_usage: true } }],
  ]) {
    const messages = [{ role: 'user', content: 'Tell me about pipes.' }];
    const got = await chat(admin, tid, { model, api, messages, max_tokens: 50, seed: 3, save: false });
    const want = await direct(sim.url, path, { model, messages, stream: true, max_tokens: 50, seed: 3, ...extra });
    const chunks = want.filter(([, j]) => j !== '[DONE]' && j.choices?.[0]?.delta);
    const dContent = chunks.map(([, j]) => j.choices[0].delta.content ?? '').join('');
    const dReason = chunks.map(([, j]) => j.choices[0].delta.reasoning_content ?? j.choices[0].delta.reasoning ?? '').join('');
    const m = /^<think>([\s\S]*)<\/think>([\s\S]*)$/.exec(dContent);
    const wantReason = m ? m[1] : dReason;
    const wantContent = m ? m[2] : dContent;
    assert.ok(wantReason.length > 0, `${model}: the simulator streamed reasoning`);
    assert.equal(text(got.events, 'reasoning'), wantReason, `${api} ${model} reasoning`);
    assert.equal(text(got.events, 'content'), wantContent, `${api} ${model} content`);
    const stats = got.events.find(([n]) => n === 'stats')[1];
    const last = want.filter(([, j]) => j !== '[DONE]' && j.usage).at(-1)[1];
    assert.deepEqual(stats.usage, last.usage);
    assert.equal(stats.server.tokens, last.usage.completion_tokens);
    if (api === 'v0') assert.deepEqual(stats.lmstudio, last.stats);
    // one event per delta and kind: a delta "</think>\n\n" gives one content event
    let pieces = 0;
    for (const [, j] of chunks) {
      const d = j.choices[0].delta;
      if (d.reasoning_content || d.reasoning) pieces++;
      if (d.content) pieces += d.content.split(/<\/?think>/).filter((x) => x.length).length;
    }
    assert.equal(stats.server.reasoning_events + stats.server.content_events, pieces);
    assert.equal(got.events.filter(([n]) => n === 'reasoning' || n === 'content').length, pieces);
    assert.equal(got.events.at(-1)[1].stop_reason, 'maxPredictedTokensReached');
    assert.deepEqual(got.events.map(([n]) => n).slice(-2), ['stats', 'end']);
  }
});

test('every chat is audited: who, target, model, how it ended; never the prompt or the answer', T, async () => {
  const secret = 'audit-me-not-' + Math.random().toString(36).slice(2);
  const got = await chat(admin, tid, { model: 'qwen/qwen3-8b', messages: [{ role: 'user', content: secret }], max_tokens: 20, save: false });
  const rid = got.events[0][1].request_id;
  const a = await admin.get('/api/audit?action=chat&limit=50');
  assert.equal(a.status, 200, a.text);
  const e = a.json.entries.find((x) => x.detail?.request_id === rid);
  assert.ok(e, a.text);
  assert.equal(e.action, 'chat');
  assert.equal(e.target, `target:${tid}`);
  assert.equal(e.result, 'ok');
  assert.equal(e.username, 'admin');
  assert.equal(e.detail.model, 'qwen/qwen3-8b');
  assert.equal(e.detail.api, 'v1');
  assert.equal(e.detail.stop_reason, got.events.at(-1)[1].stop_reason);
  assert.ok(e.detail.token_events > 0 && e.detail.duration_ms > 0);
  assert.ok(!a.text.includes(secret), 'the prompt never reaches the audit');
  const said = (text(got.events, 'reasoning') + text(got.events, 'content')).trim();
  assert.ok(said.length >= 12, 'the model said something');
  assert.ok(!a.text.includes(said.slice(0, 40)), 'nor the answer');
});

test('stop aborts the upstream request within 100 ms', T, async (t) => {
  const since = (await simLogs(sim.url)).next;
  let stopAt = 0, stopStatus = 0;
  const got = await chat(admin, tid, { model: 'qwen/qwen3-8b', messages: [{ role: 'user', content: 'long' }], max_tokens: 4000, save: false }, {
    onEvent: (name, j, evs) => {
      if (!stopAt && evs.filter(([n]) => n === 'reasoning' || n === 'content').length === 3) {
        stopAt = Date.now();
        const rid = evs[0][1].request_id;
        admin.post(`/api/chat/${rid}/stop`, {}).then((r) => { stopStatus = r.status; });
      }
    },
  });
  assert.equal(got.events.at(-1)[0], 'end');
  assert.equal(got.events.at(-1)[1].stop_reason, 'userStopped');
  const stats = got.events.find(([n]) => n === 'stats');
  assert.ok(stats, 'stats before end');
  await waitFor(() => stopStatus);
  assert.equal(stopStatus, 204);
  const out = await waitFor(async () => (await simLogs(sim.url, since)).events
    .find((e) => e.data.type === 'llm.prediction.output' && e.data.stats.stopReason === 'userStopped'));
  const lag = out.timestamp - stopAt;
  t.diagnostic(`the simulator saw the close ${lag} ms after Stop was sent`);
  assert.ok(lag <= 100, `the simulator saw the close ${lag} ms after Stop`);
  // far fewer tokens than asked for were generated
  assert.ok(out.data.stats.predictedTokensCount < 200);
  const again = await admin.post(`/api/chat/${got.events[0][1].request_id}/stop`, {});
  assert.equal(again.status, 404);
});

test('a client that disconnects aborts the upstream request within 100 ms', T, async (t) => {
  const since = (await simLogs(sim.url)).next;
  const ac = new AbortController();
  let abortAt = 0;
  await chat(admin, tid, { model: 'qwen/qwen3-8b', messages: [{ role: 'user', content: 'gone' }], max_tokens: 4000, save: false }, {
    signal: ac.signal,
    onEvent: (name, j, evs) => {
      if (evs.filter(([n]) => n === 'reasoning' || n === 'content').length === 3) {
        abortAt = Date.now();
        ac.abort();
        return false;
      }
      return undefined;
    },
  });
  assert.ok(abortAt);
  const out = await waitFor(async () => (await simLogs(sim.url, since)).events
    .find((e) => e.data.type === 'llm.prediction.output' && e.data.stats.stopReason === 'userStopped'));
  const lag = out.timestamp - abortAt;
  t.diagnostic(`the simulator saw the close ${lag} ms after the client left`);
  assert.ok(lag <= 100, `the simulator saw the close ${lag} ms after the client left`);
});

test('upstream dropped mid-stream becomes an error event, then stats and end', T, async () => {
  const f = await fetch(sim.url + '/__sim/faults', { method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ mode: 'close_mid_stream', duration_ms: 60000, paths: ['/api/v1/chat'] }) });
  assert.equal(f.status, 200);
  try {
    const got = await chat(admin, tid, { model: 'qwen/qwen3-8b', messages: [{ role: 'user', content: 'cut' }], max_tokens: 100 });
    const names = got.events.map(([n]) => n);
    assert.deepEqual(names.slice(-3), ['error', 'stats', 'end']);
    const err = got.events.find(([n]) => n === 'error')[1];
    assert.match(err.code, /^(connection_lost|stream_truncated|stopped)$/);
    assert.ok(err.message.length > 0);
    assert.equal(got.events.at(-1)[1].stop_reason, 'error');
  } finally {
    await fetch(sim.url + '/__sim/faults', { method: 'DELETE' });
  }
  // a refused daemon: error before any token
  const r = await admin.post('/api/targets', { label: 'nowhere', url: 'http://127.0.0.1:9' });
  const got = await chat(admin, r.json.target.id, { model: 'x', messages: [{ role: 'user', content: 'hi' }], save: false });
  assert.deepEqual(got.events.map(([n]) => n), ['start', 'error', 'stats', 'end']);
  assert.equal(got.events[1][1].code, 'stopped');
});

test('auth-on target: the stored token is used and never reaches the browser', T, async () => {
  const body = { model: 'qwen/qwen3-8b', messages: [{ role: 'user', content: 'secret?' }], max_tokens: 20, save: false };
  const h = { 'content-type': 'application/json', origin: admin.origin, cookie: admin.cookie };
  const res = await fetch(`${cp.url}/api/targets/${tidAuth}/chat`, { method: 'POST', headers: h, body: JSON.stringify(body) });
  const raw = await res.text();
  assert.equal(res.status, 200);
  assert.ok(!raw.includes(SIM_TOKEN) && !raw.includes('Zq7Zq7'), 'no token in the stream');
  assert.match(raw, /event: content/);
  assert.match(raw, /"stop_reason":"maxPredictedTokensReached"/);
  // the same daemon without the token: unauthorized, reported in the stream
  const r = await admin.post('/api/targets', { label: 'sim-auth-notoken', url: simAuth.url });
  const got = await chat(admin, r.json.target.id, body);
  const err = got.events.find(([n]) => n === 'error');
  assert.ok(err);
  assert.equal(err[1].code, 'unauthorized');
});

test('history: saved, continued, listed, renamed, exported, private; viewer gets 403', T, async () => {
  const first = await chat(admin, tid, { model: 'qwen/qwen3-8b', api: 'v0', messages: [{ role: 'user', content: 'First   question\nhere' }], max_tokens: 30 });
  const convId = first.events[0][1].conversation_id;
  assert.ok(convId > 0);
  const end1 = first.events.at(-1)[1];
  assert.equal(end1.conversation_id, convId);
  const second = await chat(admin, tid, {
    model: 'qwen/qwen3-8b', api: 'v0', conversation_id: convId, max_tokens: 30,
    messages: [{ role: 'user', content: 'First question' }, { role: 'assistant', content: text(first.events, 'content') },
      { role: 'user', content: 'Second' }],
  });
  assert.equal(second.events[0][1].conversation_id, convId);
  let r = await admin.get(`/api/conversations/${convId}`);
  assert.equal(r.status, 200);
  const c = r.json.conversation;
  assert.equal(c.title, 'First question here');
  assert.deepEqual(c.messages.map((m) => m.role), ['user', 'assistant', 'user', 'assistant']);
  assert.equal(c.messages[1].content, text(first.events, 'content'));
  assert.equal(c.messages[1].reasoning, text(first.events, 'reasoning'));
  assert.equal(c.messages[1].id, end1.message_id);
  assert.deepEqual(c.messages[1].stats, first.events.find(([n]) => n === 'stats')[1]);
  assert.equal(c.messages[1].stop_reason, 'maxPredictedTokensReached');
  r = await admin.get('/api/conversations?limit=1');
  assert.equal(r.json.conversations[0].id, convId);
  assert.equal(r.json.conversations[0].messages, 4);
  assert.equal(r.json.next_offset, 1);
  // search: the title or any message, ignoring case; % and _ are plain characters
  r = await admin.get('/api/conversations?q=QUESTION+here'); // the title
  assert.deepEqual(r.json.conversations.map((x) => x.id), [convId]);
  r = await admin.get('/api/conversations?q=' + encodeURIComponent('First   question\nhere')); // the message
  assert.deepEqual(r.json.conversations.map((x) => x.id), [convId]);
  assert.deepEqual((await admin.get('/api/conversations?q=%25')).json.conversations, []);
  r = await admin.get('/api/conversations?q=' + 'x'.repeat(201));
  assert.equal(r.status, 400);
  assert.match(r.json.error.message, /at most 200/);
  r = await admin.patch(`/api/conversations/${convId}`, { title: 'Renamed' });
  assert.equal(r.status, 200);
  assert.equal(r.json.conversation.title, 'Renamed');
  assert.equal((await admin.patch(`/api/conversations/${convId}`, { title: '' })).status, 400);
  r = await admin.get(`/api/conversations/${convId}/export?format=md`);
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type'), /^text\/markdown/);
  assert.match(r.headers.get('content-disposition'), /attachment; filename="conversation-\d+\.md"/);
  assert.match(r.text, /^# Renamed\n/);
  assert.match(r.text, /## User\n\nSecond\n/);
  assert.match(r.text, /<details><summary>Reasoning<\/summary>/);
  r = await admin.get(`/api/conversations/${convId}/export?format=json`);
  assert.equal(r.json.conversation.messages.length, 4);
  assert.ok(r.json.conversation.exported_at);
  // another user (viewer) cannot chat, stop or see it
  assert.equal((await admin.post('/api/users', { username: 'vic', password: 'viewer-pass-123456', role: 'viewer' })).status, 201);
  const viewer = new Client(cp.url);
  await viewer.login('vic', 'viewer-pass-123456');
  const v = await chat(viewer, tid, { model: 'qwen/qwen3-8b', messages: [{ role: 'user', content: 'hi' }] });
  assert.equal(v.status, 403);
  assert.equal((await viewer.post(`/api/chat/${first.events[0][1].request_id}/stop`, {})).status, 403);
  assert.equal((await viewer.get(`/api/conversations/${convId}`)).status, 404);
  assert.equal((await viewer.get(`/api/conversations/${convId}/export`)).status, 404);
  assert.equal((await viewer.del(`/api/conversations/${convId}`)).status, 404);
  assert.deepEqual((await viewer.get('/api/conversations')).json.conversations, []);
  // save:false stores nothing; delete works for the owner
  const before = (await admin.get('/api/conversations?limit=200')).json.conversations.length;
  await chat(admin, tid, { model: 'qwen/qwen3-8b', messages: [{ role: 'user', content: 'x' }], max_tokens: 5, save: false });
  assert.equal((await admin.get('/api/conversations?limit=200')).json.conversations.length, before);
  assert.equal((await admin.del(`/api/conversations/${convId}`)).status, 204);
  assert.equal((await admin.get(`/api/conversations/${convId}`)).status, 404);
  // unknown conversation id in a chat: 404 before any stream
  const bad = await chat(admin, tid, { model: 'qwen/qwen3-8b', conversation_id: convId, messages: [{ role: 'user', content: 'x' }] });
  assert.equal(bad.status, 404);
});

test('regenerate: the last answer is replaced, the question kept; a stale view gets 409', T, async () => {
  const q = [{ role: 'user', content: 'Name a colour' }];
  const first = await chat(admin, tid, { model: 'qwen/qwen3-8b', api: 'v0', messages: q, max_tokens: 12 });
  const convId = first.events[0][1].conversation_id;
  const oldAnswerId = first.events.at(-1)[1].message_id;
  const again = await chat(admin, tid, { model: 'qwen/qwen3-8b', api: 'v0', messages: q, max_tokens: 12, seed: 9,
    conversation_id: convId, regenerate: true });
  assert.equal(again.status, 200);
  const end = again.events.at(-1)[1];
  assert.equal(end.conversation_id, convId);
  assert.ok(end.message_id > oldAnswerId);
  const c = (await admin.get(`/api/conversations/${convId}`)).json.conversation;
  assert.deepEqual(c.messages.map((m) => [m.role, m.id === oldAnswerId]), [['user', false], ['assistant', false]]);
  assert.equal(c.messages[0].content, 'Name a colour');
  assert.equal(c.messages[1].content, text(again.events, 'content'));
  assert.equal(c.messages[1].id, end.message_id);
  const audit = (await admin.get('/api/audit?action=chat&limit=1')).json.entries[0];
  assert.equal(audit.detail.request_id, again.events[0][1].request_id);
  assert.equal(audit.detail.regenerate, true);
  // the client's last message is not the saved one: refused before any stream, nothing changed
  const stale = await chat(admin, tid, { model: 'qwen/qwen3-8b', api: 'v0', max_tokens: 12,
    messages: [{ role: 'user', content: 'Something else' }], conversation_id: convId, regenerate: true });
  assert.equal(stale.status, 409);
  assert.equal(stale.json.error.code, 'conflict');
  assert.equal((await admin.get(`/api/conversations/${convId}`)).json.conversation.messages.length, 2);
  // regenerate needs a saved conversation
  for (const extra of [{}, { conversation_id: convId, save: false }, { conversation_id: convId, regenerate: 'yes' }]) {
    const r = await chat(admin, tid, { model: 'qwen/qwen3-8b', messages: q, regenerate: true, ...extra });
    assert.equal(r.status, 400, JSON.stringify(extra));
    assert.match(r.json.error.message, /regenerate/);
  }
});

test('request validation and slots', T, async () => {
  for (const body of [{}, { model: 'm' }, { model: 'm', messages: [] }, { model: 'm', messages: [{ role: 'assistant', content: 'x' }] },
    { model: 'm', api: 'v9', messages: [{ role: 'user', content: 'x' }] },
    { model: 'm', messages: [{ role: 'user', content: 'x' }], temperature: 'hot' },
    { model: 'm', messages: [{ role: 'user', content: 'x' }], think_tags: { open: 'a', close: 'a' } }]) {
    const r = await chat(admin, tid, body);
    assert.equal(r.status, 400, JSON.stringify(body));
  }
  assert.equal((await chat(admin, 9999, { model: 'm', messages: [{ role: 'user', content: 'x' }] })).status, 404);
  // slots through the lms stand-in (`lms ps --json` against the simulator)
  let r = await admin.get(`/api/targets/${tid}/slots`);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.target_id, tid);
  assert.equal(r.json.available, true, JSON.stringify(r.json.error));
  const q = r.json.instances.find((i) => i.id === 'qwen/qwen3-8b');
  assert.ok(q, JSON.stringify(r.json.instances));
  assert.equal(q.parallel, 4);
  assert.equal(q.queued, 0);
  assert.equal(q.status, 'idle');
  // while a stream runs, the slot shows it
  let busy = null;
  await chat(admin, tid, { model: 'qwen/qwen3-8b', messages: [{ role: 'user', content: 'busy' }], max_tokens: 4000, save: false }, {
    onEvent: (name, j, evs) => {
      if (!busy && name === 'content') {
        busy = admin.get(`/api/targets/${tid}/slots`).then(async (x) => {
          await admin.post(`/api/chat/${evs[0][1].request_id}/stop`, {});
          return x;
        });
      }
    },
  });
  const during = (await busy).json.instances.find((i) => i.id === 'qwen/qwen3-8b');
  assert.equal(during.status, 'generating');
  assert.ok(during.queued >= 1);
  // a target whose lms endpoint is unusable: nothing measured, nothing shown
  const t6 = await admin.post('/api/targets', { label: 'v6', url: 'http://[::1]:9' });
  r = await admin.get(`/api/targets/${t6.json.target.id}/slots`);
  assert.equal(r.json.available, false);
  assert.deepEqual(r.json.instances, []);
  assert.equal(r.json.error.code, 'no_lms_host');
  assert.equal((await admin.get('/api/targets/9999/slots')).status, 404);
});

test('compare: two concurrent streams to two models, both complete', T, async () => {
  const mk = (model) => chat(admin, tid, { model, api: 'openai', messages: [{ role: 'user', content: 'compare' }], max_tokens: 40, save: false });
  const [a, b] = await Promise.all([mk('qwen/qwen3-8b'), mk('deepseek/deepseek-r1-0528-qwen3-8b')]);
  for (const x of [a, b]) {
    assert.equal(x.events.at(-1)[0], 'end');
    assert.equal(x.events.at(-1)[1].stop_reason, 'maxPredictedTokensReached');
  }
  assert.notEqual(a.events[0][1].request_id, b.events[0][1].request_id);
});

test('at most 16 running chats per user: the 17th gets 429', T, async () => {
  const acs = [], started = [], done = [];
  for (let i = 0; i < 16; i++) {
    const ac = new AbortController();
    acs.push(ac);
    let resolveStart;
    started.push(new Promise((r) => { resolveStart = r; }));
    done.push(chat(admin, tid, { model: 'qwen/qwen3-8b', messages: [{ role: 'user', content: `n${i}` }], max_tokens: 4000, save: false }, {
      signal: ac.signal,
      onEvent: (name) => { if (name === 'start') resolveStart(); },
    }));
  }
  await Promise.all(started);
  const r = await chat(admin, tid, { model: 'qwen/qwen3-8b', messages: [{ role: 'user', content: 'one more' }], save: false });
  assert.equal(r.status, 429);
  assert.equal(r.json.error.code, 'too_many_chats');
  for (const ac of acs) ac.abort();
  await Promise.all(done);
  // the slots free up once the relays are gone
  const again = await waitFor(async () => {
    const x = await chat(admin, tid, { model: 'qwen/qwen3-8b', messages: [{ role: 'user', content: 'after' }], max_tokens: 3, save: false });
    return x.status === 200 ? x : null;
  });
  assert.equal(again.events.at(-1)[0], 'end');
});

// The body LM Studio received, from the simulator's server.log.
async function upstreamBody(since, path) {
  const ev = await waitFor(async () => (await simLogs(sim.url, since)).events
    .find((e) => e.data.type === 'server.log' && e.data.content.startsWith(`Received request: POST to ${path} with body `)));
  return JSON.parse(ev.data.content.slice(`Received request: POST to ${path} with body `.length));
}

test('the exact upstream requests: v1 transcript + system_prompt, v0/openai messages, sampling fields', T, async () => {
  const messages = [{ role: 'system', content: 'Inline system.' }, { role: 'user', content: 'Q1' },
    { role: 'assistant', content: 'A1' }, { role: 'user', content: 'Q2' }];
  const sampling = { temperature: 0.5, top_p: 0.9, top_k: 40, repeat_penalty: 1.1, max_tokens: 7, seed: 5, stop: ['\n\n'] };
  let since = (await simLogs(sim.url)).next;
  await chat(admin, tid, { model: 'qwen/qwen3-8b', messages, system_prompt: 'Top system.', reasoning: 'on', ...sampling, save: false });
  assert.deepEqual(await upstreamBody(since, '/api/v1/chat'), {
    model: 'qwen/qwen3-8b', input: 'User: Q1\n\nAssistant: A1\n\nUser: Q2', system_prompt: 'Top system.\n\nInline system.',
    stream: true, temperature: 0.5, top_p: 0.9, top_k: 40, repeat_penalty: 1.1, max_output_tokens: 7, reasoning: 'on',
  });
  for (const [api, path] of [['v0', '/api/v0/chat/completions'], ['openai', '/v1/chat/completions']]) {
    since = (await simLogs(sim.url)).next;
    await chat(admin, tid, { model: 'qwen/qwen3-8b', api, messages, system_prompt: 'Top system.', ...sampling, save: false });
    const want = {
      model: 'qwen/qwen3-8b', messages: [{ role: 'system', content: 'Top system.' }, ...messages], stream: true,
      temperature: 0.5, top_p: 0.9, top_k: 40, repeat_penalty: 1.1, max_tokens: 7, seed: 5, stop: ['\n\n'],
    };
    if (api === 'openai') want.stream_options = { include_usage: true };
    assert.deepEqual(await upstreamBody(since, path), want);
  }
  // v1 continuation: previous_response_id with only the new message
  const first = await chat(admin, tid, { model: 'qwen/qwen3-8b', messages: [{ role: 'user', content: 'Q1' }], max_tokens: 5, save: false });
  const rid = first.events.at(-1)[1].response_id;
  since = (await simLogs(sim.url)).next;
  const next = await chat(admin, tid, { model: 'qwen/qwen3-8b', previous_response_id: rid, max_tokens: 5, save: false,
    messages: [{ role: 'user', content: 'Q1' }, { role: 'assistant', content: 'x' }, { role: 'user', content: 'Q2' }] });
  assert.equal(next.events.at(-1)[0], 'end');
  assert.deepEqual(await upstreamBody(since, '/api/v1/chat'),
    { model: 'qwen/qwen3-8b', input: 'Q2', stream: true, max_output_tokens: 5, previous_response_id: rid });
});

test('/metrics: every audited chat is counted once, by target and outcome, with its token events and TTFT', T, async () => {
  // runs last: every chat of this file has ended and was audited
  const audit = (await admin.get('/api/audit?action=chat&limit=200')).json.entries;
  assert.ok(audit.length > 10 && audit.length < 200, String(audit.length));
  const r = await admin.get('/metrics');
  assert.equal(r.status, 200);
  const series = (name) => [...r.text.matchAll(new RegExp(`^${name}\\{([^}]*)\\} (\\S+)$`, 'gm'))]
    .map(([, labels, v]) => ({ labels: Object.fromEntries([...labels.matchAll(/(\w+)="([^"]*)"/g)].map(([, k, x]) => [k, x])), v: Number(v) }));
  const total = series('daemonpulse_chat_total');
  const sum = (rows) => rows.reduce((a, x) => a + x.v, 0);
  assert.equal(sum(total), audit.length);
  for (const [target, result] of [[tid, 'ok'], [tid, 'stopped'], [tid, 'failed'], [tidAuth, 'ok']]) {
    const want = audit.filter((e) => e.target === `target:${target}` && (result === 'failed' ? e.result === 'failed'
      : e.result === 'ok' && (e.detail.stop_reason === 'userStopped') === (result === 'stopped'))).length;
    assert.ok(want > 0, `${target} ${result}`);
    assert.equal(total.find((x) => x.labels.target_id === String(target) && x.labels.result === result)?.v, want, `${target} ${result}`);
  }
  assert.equal(sum(series('daemonpulse_chat_token_events_total')), audit.reduce((a, e) => a + e.detail.token_events, 0));
  const ttft = series('daemonpulse_chat_ttft_seconds_count');
  assert.equal(sum(ttft), audit.filter((e) => e.detail.ttft_ms !== undefined).length);
  const inf = series('daemonpulse_chat_ttft_seconds_bucket').filter((x) => x.labels.le === '+Inf');
  assert.equal(sum(inf), sum(ttft));
  assert.match(r.text, /^daemonpulse_chat_streams 0$/m);
});
