// targets.test.mjs - daemon targets, the health hub, /api/events, models,
// GPUs, the kill switch, active target and settings (docs/api-targets.md)
// against the real daemonpulse binary and several llmster-sim instances
// (one with --api-token), with build/lms as LMS_BIN.
//
// The control plane runs with a 300 ms health interval. Timing assertions
// compare against that interval with slack for a loaded 2-core machine and
// sanitizer builds; waits are bounded polls, never fixed sleeps.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { bin, startProc, startControlPlane, Client } from '../lib/harness.mjs';
import { SseClient } from '../lib/sse.mjs';

const INTERVAL = 300;
const TOKEN = 'sk-lm-Abcdefgh:Abcdefghijklmnopqrst';
const WRONG = 'sk-lm-Zyxwvuts:Zyxwvutsrqponmlkjihg';
const SLOW = process.env.DP_BIN_DIR && /asan/.test(process.env.DP_BIN_DIR) ? 3 : 1;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const startSim = (extra = [], port = 0) =>
  startProc(bin('llmster-sim'), ['--port', String(port), '--speed', '0', ...extra]);

async function waitFor(fn, what, timeoutMs = 15000 * SLOW, stepMs = 25) {
  const t0 = Date.now();
  let last;
  for (;;) {
    last = await fn();
    if (last) return last;
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(stepMs);
  }
}

// A minimal EventSource over fetch: parses frames, queues them, lets a test
// wait for the next event that matches.
class Sse extends SseClient {
  constructor(base, cookie, lastEventId) {
    super(base + '/api/events', { cookie, lastEventId, timeoutMs: 15000 * SLOW });
  }
}

describe('daemon targets', { timeout: 300000 }, () => {
  let cp; let admin; let viewer; let operator;
  let simA; let simB;
  const texts = []; // every response body, checked for the token at the end

  const track = (r) => { texts.push(r.text); return r; };
  const health = async (c, id) => track(await c.get(`/api/targets/${id}/health`)).json.health;
  const waitState = (id, state, timeoutMs) =>
    waitFor(async () => ((await health(admin, id)).state === state ? true : null), `target ${id} ${state}`, timeoutMs);

  before(async () => {
    simA = await startSim();
    simB = await startSim(['--api-token', TOKEN]);
    cp = await startControlPlane({
      args: ['--health-interval-ms', String(INTERVAL)],
      env: { LMS_BIN: bin('lms') },
    });
    admin = new Client(cp.url);
    await admin.login('admin', cp.admin.password);
    for (const role of ['viewer', 'operator']) {
      const password = `pw-${role}-${Math.random().toString(36).slice(2)}-0123456789`;
      assert.equal((await admin.post('/api/users', { username: `t-${role}`, password, role })).status, 201);
      const c = new Client(cp.url);
      await c.login(`t-${role}`, password);
      if (role === 'viewer') viewer = c; else operator = c;
    }
  });

  after(async () => {
    try {
      for (const t of texts) assert.ok(!t.includes(TOKEN) && !t.includes('Abcdefghijklmnopqrst'), 'the token appeared in a response');
      assert.ok(!cp.out.stderr.includes(TOKEN) && !cp.out.stderr.includes('Abcdefghijklmnopqrst'), 'the token appeared in stderr');
      assert.ok(!cp.out.stderr.includes(WRONG), 'a token appeared in stderr');
    } finally {
      await cp.cleanup();
      await simA.stop();
      await simB.stop();
    }
  });

  it('refuses invalid targets with a reason', async () => {
    const bad = [
      [{ label: 'x', url: 'ftp://127.0.0.1:1234' }, 'invalid_url'],
      [{ label: 'x', url: 'http://user:pw@127.0.0.1:1234' }, 'invalid_url'],
      [{ label: 'x', url: 'http://127.0.0.1:1234/?a=b' }, 'invalid_url'],
      [{ label: 'x', url: 'not a url' }, 'invalid_url'],
      [{ label: 'x', url: 'http://' }, 'invalid_url'],
      [{ label: 'x' }, 'invalid_url'],
      [{ url: simA.url }, 'invalid_label'],
      [{ label: '', url: simA.url }, 'invalid_label'],
      [{ label: 'a\u0001b', url: simA.url }, 'invalid_label'],
      [{ label: 'x'.repeat(65), url: simA.url }, 'invalid_label'],
      [{ label: 'x', url: simA.url, api_key: 'has space' }, 'invalid_api_key'],
      [{ label: 'x', url: simA.url, api_key: 42 }, 'invalid_api_key'],
      [{ label: 'x', url: simA.url, lms_host: 'host:1234' }, 'invalid_lms_host'],
      [{ label: 'x', url: simA.url, lms_host: 'http://host' }, 'invalid_lms_host'],
      [{ label: 'x', url: simA.url, lms_port: 70000 }, 'invalid_lms_port'],
      [{ label: 'x', url: simA.url, tags: ['ok', 'not ok'] }, 'invalid_tags'],
      [{ label: 'x', url: simA.url, tags: 'lab' }, 'invalid_tags'],
    ];
    for (const [body, code] of bad) {
      const r = track(await admin.post('/api/targets', body));
      assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.text}`);
      assert.equal(r.json.error.code, code, JSON.stringify(body));
      assert.ok(r.json.error.message.length > 0);
    }
    assert.equal(track(await admin.get('/api/targets')).json.targets.length, 0);
  });

  let idA; let idB;
  it('adds a target and sees it running; everyone reads, only admins change', async () => {
    const r = track(await admin.post('/api/targets', { label: 'sim-a', url: simA.url, tags: ['lab', 'gpu:0'] }));
    assert.equal(r.status, 201, r.text);
    const t = r.json.target;
    idA = t.id;
    assert.equal(t.label, 'sim-a');
    assert.equal(t.url, simA.url);
    assert.equal(t.has_api_key, false);
    assert.equal(t.api_key_hint, null);
    assert.deepEqual(t.tags, ['lab', 'gpu:0']);
    assert.deepEqual(t.lms, { host: '127.0.0.1', port: simA.port, derived: true });
    await waitState(idA, 'running');
    const h = await health(viewer, idA);
    assert.equal(typeof h.latency_ms, 'number');
    assert.match(h.checked_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.equal(h.error, null);
    assert.equal('version' in h, false, 'no version is invented');

    const list = track(await viewer.get('/api/targets'));
    assert.equal(list.status, 200);
    assert.equal(list.json.targets.length, 1);
    assert.equal(list.json.active_target_id, null);
    assert.equal(track(await viewer.get(`/api/targets/${idA}`)).json.target.id, idA);
    assert.equal((await admin.get('/api/targets/999999')).status, 404);
    assert.equal((await admin.get('/api/targets/abc')).status, 404);

    // duplicate label (case-insensitive)
    const dup = track(await admin.post('/api/targets', { label: 'SIM-A', url: simA.url }));
    assert.equal(dup.status, 409);
    assert.equal(dup.json.error.code, 'label_taken');

    // roles on every new route with a real id
    const adminOnly = [
      ['POST', '/api/targets', { label: 'v', url: simA.url }],
      ['PATCH', `/api/targets/${idA}`, { label: 'v' }],
      ['DELETE', `/api/targets/${idA}`],
      ['POST', '/api/targets/test', { url: simA.url }],
      ['POST', `/api/targets/${idA}/test`, {}],
      ['PUT', '/api/settings', { mode: 'live' }],
    ];
    for (const [m, p, b] of adminOnly) {
      for (const c of [viewer, operator]) {
        const x = await c.req(m, p, b);
        assert.equal(x.status, 403, `${m} ${p}: ${x.text}`);
        assert.equal(x.json.error.code, 'forbidden');
      }
    }
    const unl = await viewer.post(`/api/targets/${idA}/models/unload`, { all: true });
    assert.equal(unl.status, 403);
    const anon = new Client(cp.url);
    for (const [m, p] of [['GET', '/api/targets'], ['GET', `/api/targets/${idA}`], ['GET', `/api/targets/${idA}/health`],
      ['GET', `/api/targets/${idA}/models`], ['GET', `/api/targets/${idA}/gpus`], ['GET', '/api/events'],
      ['GET', '/api/settings'], ['PUT', '/api/me/active-target'], ['POST', `/api/targets/${idA}/models/unload`]]) {
      const x = await anon.req(m, p, m === 'GET' ? undefined : {});
      assert.equal(x.status, 401, `${m} ${p}`);
    }
    // viewer-level routes work for a viewer
    for (const p of [`/api/targets/${idA}/health`, '/api/settings']) assert.equal((await viewer.get(p)).status, 200, p);
  });

  it('a token-protected daemon: missing or wrong token -> unauthorized, right token -> running, never shown', async () => {
    let r = track(await admin.post('/api/targets', { label: 'sim-b', url: simB.url }));
    assert.equal(r.status, 201, r.text);
    idB = r.json.target.id;
    await waitState(idB, 'unauthorized');
    let h = await health(admin, idB);
    assert.equal(h.error.code, 'unauthorized');

    r = track(await admin.patch(`/api/targets/${idB}`, { api_key: WRONG }));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.target.has_api_key, true);
    // the state may already be unauthorized; wait for a poll after the change
    await waitFor(async () => {
      const x = await health(admin, idB);
      return x.state === 'unauthorized' && Date.parse(x.checked_at) >= Date.parse(r.json.target.updated_at) ? x : null;
    }, 'poll with the wrong token');

    r = track(await admin.patch(`/api/targets/${idB}`, { api_key: TOKEN }));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.target.has_api_key, true);
    assert.equal(r.json.target.api_key_hint, 'sk-lm-Ab\u2026(35 chars)');
    assert.equal('api_key' in r.json.target, false);
    await waitState(idB, 'running');

    // every read shape is free of the token
    for (const c of [admin, viewer]) {
      track(await c.get('/api/targets'));
      track(await c.get(`/api/targets/${idB}`));
      track(await c.get(`/api/targets/${idB}/models`));
    }
    // test connection: saved target, and drafts
    r = track(await admin.post(`/api/targets/${idB}/test`, {}));
    assert.equal(r.status, 200);
    assert.equal(r.json.ok, true, r.text);
    assert.equal(r.json.state, 'running');
    assert.equal(r.json.models, 10);
    r = track(await admin.post('/api/targets/test', { url: simB.url }));
    assert.deepEqual([r.json.ok, r.json.state, r.json.error.code], [false, 'unauthorized', 'unauthorized']);
    r = track(await admin.post('/api/targets/test', { url: simB.url, api_key: WRONG }));
    assert.equal(r.json.state, 'unauthorized');
    r = track(await admin.post('/api/targets/test', { target_id: idB, url: simB.url }));
    assert.equal(r.json.ok, true, 'the stored token is used for a draft of a saved target');
    r = track(await admin.post('/api/targets/test', { url: 'http://127.0.0.1:1' }));
    assert.equal(r.json.state, 'stopped');
    r = track(await admin.post('/api/targets/test', { url: 'gopher://x' }));
    assert.equal(r.status, 400);

    // a daemon 401 on the models route is a 502, never the browser's own 401
    r = track(await admin.post('/api/targets/test', { url: simB.url }));
    const c = track(await admin.post('/api/targets', { label: 'sim-b-nokey', url: simB.url }));
    await waitState(c.json.target.id, 'unauthorized');
    const m = track(await admin.get(`/api/targets/${c.json.target.id}/models`));
    assert.equal(m.status, 502);
    assert.equal(m.json.error.code, 'daemon_unauthorized');
    assert.equal((await admin.del(`/api/targets/${c.json.target.id}`)).status, 204);

    // removing the token
    r = track(await admin.post('/api/targets', { label: 'tmp-key', url: simA.url, api_key: 'short-token' }));
    assert.equal(r.json.target.api_key_hint, '\u2026(11 chars)');
    const tmp = r.json.target.id;
    r = track(await admin.patch(`/api/targets/${tmp}`, { api_key: null }));
    assert.deepEqual([r.json.target.has_api_key, r.json.target.api_key_hint], [false, null]);
    assert.equal((await admin.del(`/api/targets/${tmp}`)).status, 204);

    // at rest: encrypted (not in the database file), key file 0600
    const db = readFileSync(cp.db);
    assert.equal(db.includes(Buffer.from('Abcdefghijklmnopqrst')), false, 'token in the database in clear');
    const st = statSync(path.join(cp.dataDir, 'secret.key'));
    assert.equal(st.mode & 0o777, 0o600);
    assert.equal(st.size, 32);
  });

  it('an HTTP-200 error body is an error, not running', async () => {
    const r = track(await admin.post('/api/targets', { label: 'wrong-path', url: simA.url + '/nope' }));
    assert.equal(r.status, 201);
    const id = r.json.target.id;
    await waitState(id, 'error');
    const h = await health(admin, id);
    assert.equal(h.error.code, 'unexpected_endpoint');
    const m = track(await admin.get(`/api/targets/${id}/models`));
    assert.equal(m.status, 502);
    assert.equal(m.json.error.code, 'unexpected_endpoint');
    const t = track(await admin.post(`/api/targets/${id}/test`, {}));
    assert.deepEqual([t.json.ok, t.json.state], [false, 'error']);
    assert.equal((await admin.del(`/api/targets/${id}`)).status, 204);
  });

  it('models view merges v1 with lms ps; GPUs from the survey with a labelled estimate', async () => {
    const load = await fetch(simA.url + '/__sim/lms/load', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ modelKey: 'qwen/qwen3-8b', ttlSeconds: 600 }) });
    assert.equal(load.status, 200);
    const r = await waitFor(async () => {
      const x = track(await viewer.get(`/api/targets/${idA}/models`));
      return x.json.models.some((m) => m.loaded_instances.length) ? x : null;
    }, 'a loaded model in the view');
    assert.equal(r.json.lms.available, true, JSON.stringify(r.json.lms));
    const q = r.json.models.find((m) => m.key === 'qwen/qwen3-8b');
    assert.equal(q.display_name, 'Qwen3 8B');
    assert.equal(q.format, 'gguf');
    const inst = q.loaded_instances[0];
    assert.equal(inst.id, 'qwen/qwen3-8b');
    assert.equal(inst.config.context_length, 8192);
    assert.equal(inst.status, 'idle');
    assert.equal(inst.queued, 0);
    assert.equal(inst.ttl_ms, 600000);
    assert.match(inst.last_used_at, /Z$/);
    // cached right after. The hub's own poll notices the load a moment after this view did and
    // drops the cache once (a changed fingerprint); after that, a request right after another one
    // is served from the cache.
    const again = await waitFor(async () => {
      track(await viewer.get(`/api/targets/${idA}/models`));
      const y = track(await viewer.get(`/api/targets/${idA}/models`));
      return y.json.cached ? y : null;
    }, 'a cached models view', 5000 * SLOW, 2 * INTERVAL);
    assert.equal(again.json.cached, true);

    const g = track(await viewer.get(`/api/targets/${idA}/gpus`));
    assert.equal(g.status, 200);
    assert.equal(g.json.available, true, g.text);
    assert.equal(g.json.source, 'lms runtime survey');
    assert.equal(g.json.gpus.length, 1);
    assert.equal(g.json.gpus[0].name, 'RTX 4090');
    assert.equal(g.json.gpus[0].vram_bytes, 24 * 2 ** 30);
    assert.equal(g.json.gpus[0].platform, 'CUDA');
    await waitFor(async () => (await admin.get(`/api/targets/${idA}/gpus`)).json.vram_estimate?.instances === 1, 'estimate');
    const g2 = track(await admin.get(`/api/targets/${idA}/gpus`));
    assert.equal(g2.json.vram_estimate.label, 'estimated from loaded models');
    assert.equal(g2.json.gpus[0].estimated_used_bytes, q.size_bytes);
    assert.equal(g2.json.live, null);
  });

  it('concurrent models and GPU requests share one upstream fetch', async () => {
    // an edit drops the caches
    assert.equal((await admin.patch(`/api/targets/${idA}`, { tags: ['lab'] })).status, 200);
    const a = await (await fetch(simA.url + '/__sim/logs?since=0')).json();
    const rs = await Promise.all(Array.from({ length: 20 }, () => viewer.get(`/api/targets/${idA}/models`)));
    const b = await (await fetch(`${simA.url}/__sim/logs?since=${a.next}`)).json();
    for (const r of rs) assert.equal(r.status, 200, r.text);
    const fetched = rs.filter((r) => !r.json.cached);
    assert.ok(fetched.every((r) => r.json.fetched_at === fetched[0].json.fetched_at));
    const n = b.events.filter((e) => e.data.content === 'Received request: GET to /api/v1/models').length;
    // one fetch for the 20, plus at most one health poll that fell in the window
    assert.ok(n >= 1 && n <= 2, `${n} upstream model lists for 20 concurrent requests`);
    const gs = await Promise.all(Array.from({ length: 10 }, () => viewer.get(`/api/targets/${idA}/gpus`)));
    for (const g of gs) assert.equal(g.json.available, true, g.text);
  });

  it('kill switch unloads every instance, one REST unload each, and pushes a models event', async () => {
    await fetch(simA.url + '/__sim/lms/load', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ modelKey: 'google/gemma-3-12b' }) });
    const s = new Sse(cp.url, admin.cookie);
    await s.ready;
    await s.next((e) => e.event === 'snapshot', 'snapshot');
    let r = await operator.post(`/api/targets/${idA}/models/unload`, {});
    assert.equal(r.status, 400);
    r = await operator.post(`/api/targets/${idA}/models/unload`, { all: true, instance_id: 'x' });
    assert.equal(r.status, 400);
    r = track(await operator.post(`/api/targets/${idA}/models/unload`, { all: true }));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.requested, 2);
    assert.equal(r.json.unloaded, 2);
    assert.equal(r.json.failed, 0);
    assert.deepEqual(r.json.results.map((x) => x.instance_id).sort(), ['google/gemma-3-12b', 'qwen/qwen3-8b']);
    const state = await (await fetch(simA.url + '/__sim/state')).json();
    assert.equal(state.instances.length, 0);
    const ev = await s.next((e) => e.event === 'models' && e.data.target_id === idA && e.data.loaded.length === 0, 'models event');
    assert.equal(typeof ev.data.fingerprint, 'string');
    s.close();
    // nothing loaded: zero requested; an unknown instance fails with the daemon's reason
    r = track(await operator.post(`/api/targets/${idA}/models/unload`, { all: true }));
    assert.equal(r.json.requested, 0);
    r = track(await operator.post(`/api/targets/${idA}/models/unload`, { instance_id: 'nope' }));
    assert.deepEqual([r.json.requested, r.json.failed], [1, 1]);
    assert.ok(r.json.results[0].error.code);
    const audit = await admin.get('/api/audit?action=model.unload');
    assert.equal(audit.status, 200, audit.text);
    assert.ok(audit.json.entries.length >= 2, audit.text);
  });

  it('SIGSTOP -> stalled, SIGTERM -> stopped within two intervals; restart -> running', async () => {
    const sim = await startSim();
    const r = track(await admin.post('/api/targets', { label: 'sim-c', url: sim.url }));
    const id = r.json.target.id;
    await waitState(id, 'running');
    const slack = 1500 * SLOW;

    let t0 = Date.now();
    sim.proc.kill('SIGSTOP');
    await waitState(id, 'stalled');
    const stalledMs = Date.now() - t0;
    sim.proc.kill('SIGCONT');
    await waitState(id, 'running');
    assert.ok(stalledMs <= 2 * INTERVAL + slack, `stalled after ${stalledMs} ms`);

    t0 = Date.now();
    await sim.stop('SIGTERM');
    await waitState(id, 'stopped');
    const stoppedMs = Date.now() - t0;
    assert.ok(stoppedMs <= 2 * INTERVAL + slack, `stopped after ${stoppedMs} ms`);
    assert.equal((await health(admin, id)).error.code, 'stopped');

    const again = await startSim([], sim.port);
    try {
      t0 = Date.now();
      await waitState(id, 'running', 30000 * SLOW);
      // backoff is capped at 16 intervals
      assert.ok(Date.now() - t0 <= 16 * INTERVAL + 2 * INTERVAL + slack, `running again after ${Date.now() - t0} ms`);
    } finally {
      await again.stop();
    }
    assert.equal((await admin.del(`/api/targets/${id}`)).status, 204);
  });

  it('50 /api/events subscribers cost exactly one upstream poll per interval', async () => {
    const sim = await startSim();
    const r = track(await admin.post('/api/targets', { label: 'sim-count', url: sim.url }));
    const id = r.json.target.id;
    await waitState(id, 'running');
    const polls = async (ms) => {
      const a = await (await fetch(sim.url + '/__sim/logs?since=0')).json();
      await sleep(ms);
      const b = await (await fetch(`${sim.url}/__sim/logs?since=${a.next}`)).json();
      return b.events.filter((e) => e.data.type === 'server.log' && e.data.content === 'Received request: GET to /api/v1/models').length;
    };
    const WINDOW = 3000;
    const alone = await polls(WINDOW);
    const subs = [];
    for (let i = 0; i < 50; i++) subs.push(new Sse(cp.url, viewer.cookie));
    await Promise.all(subs.map((s) => s.ready));
    assert.ok(subs.every((s) => s.status === 200));
    await Promise.all(subs.map((s) => s.next((e) => e.event === 'snapshot', 'snapshot')));
    const watched = await polls(WINDOW);
    const expected = WINDOW / INTERVAL;
    for (const [n, what] of [[alone, 'no subscriber'], [watched, '50 subscribers']]) {
      assert.ok(n >= expected - 3 && n <= expected + 1, `${what}: ${n} polls in ${WINDOW} ms (interval ${INTERVAL})`);
    }
    // one change reaches all 50
    sim.proc.kill('SIGSTOP');
    await Promise.all(subs.map((s) => s.next((e) => e.event === 'health' && e.data.target_id === id && e.data.health.state === 'stalled', 'stalled event')));
    sim.proc.kill('SIGCONT');
    for (const s of subs) s.close();
    await sim.stop();
    assert.equal((await admin.del(`/api/targets/${id}`)).status, 204);
  });

  it('Last-Event-ID resumes from the ring; an unknown id gets a fresh snapshot', async () => {
    const s1 = new Sse(cp.url, viewer.cookie);
    await s1.ready;
    const snap = await s1.next((e) => e.event === 'snapshot', 'snapshot');
    assert.equal(snap.data.resumed, false);
    assert.ok(snap.data.targets.some((t) => t.id === idA && t.health.state === 'running'));
    s1.close();
    const lastId = snap.data.last_event_id;
    // two changes while disconnected
    assert.equal((await admin.patch(`/api/targets/${idA}`, { tags: ['resumed'] })).status, 200);
    assert.equal((await admin.patch(`/api/targets/${idA}`, { tags: ['resumed', 'twice'] })).status, 200);
    const s2 = new Sse(cp.url, viewer.cookie, lastId);
    await s2.ready;
    const snap2 = await s2.next((e) => e.event === 'snapshot', 'snapshot');
    assert.equal(snap2.data.resumed, true);
    const a = await s2.next((e) => e.event === 'target' && e.data.target?.tags?.length === 1, 'first missed event');
    const b = await s2.next((e) => e.event === 'target' && e.data.target?.tags?.length === 2, 'second missed event');
    assert.ok(BigInt(a.id) > BigInt(lastId) && BigInt(b.id) > BigInt(a.id), 'ids increase');
    assert.equal(JSON.stringify(a.data).includes(TOKEN), false);
    s2.close();
    for (const bogus of ['1', 'abc', '99999999999999999999']) {
      const s3 = new Sse(cp.url, viewer.cookie, bogus);
      await s3.ready;
      const sn = await s3.next((e) => e.event === 'snapshot', 'snapshot');
      assert.equal(sn.data.resumed, false, bogus);
      await sleep(50);
      assert.equal(s3.events.filter((e) => e.event === 'target').length, 0);
      s3.close();
    }
  });

  it('each user has their own active target; deleting the target clears it', async () => {
    const tmp = track(await admin.post('/api/targets', { label: 'active-tmp', url: simA.url }));
    const tid = tmp.json.target.id;
    let r = await viewer.put('/api/me/active-target', { target_id: tid });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.active_target_id, tid);
    assert.equal((await viewer.get('/api/targets')).json.active_target_id, tid);
    assert.equal((await admin.get('/api/targets')).json.active_target_id, null);
    assert.equal((await viewer.put('/api/me/active-target', { target_id: 999999 })).status, 404);
    assert.equal((await viewer.put('/api/me/active-target', { target_id: 'x' })).status, 400);
    assert.equal((await admin.del(`/api/targets/${tid}`)).status, 204);
    assert.equal((await viewer.get('/api/targets')).json.active_target_id, null);
    assert.equal((await admin.get(`/api/targets/${tid}`)).status, 404);
    assert.equal((await admin.get(`/api/targets/${tid}/health`)).status, 404);
    r = await viewer.put('/api/me/active-target', { target_id: null });
    assert.equal(r.json.active_target_id, null);
  });

  it('settings: mode and load presets (admin writes, everyone reads)', async () => {
    let r = await viewer.get('/api/settings');
    assert.equal(r.status, 200);
    assert.equal(r.json.mode, 'dev');
    assert.deepEqual(r.json.load_presets, []);
    const ev = new Sse(cp.url, viewer.cookie);
    await ev.ready;
    await ev.next((e) => e.event === 'snapshot', 'snapshot');
    const preset = { name: 'fast-8k', model: 'qwen/qwen3-8b', context_length: 8192, flash_attention: true, gpu: 'max', parallel: 4, ttl: 3600 };
    r = await admin.put('/api/settings', { mode: 'live', load_presets: [preset, { name: 'tiny', gpu: 0.5 }] });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.mode, 'live');
    assert.equal(r.json.load_presets.length, 2);
    assert.equal(r.json.load_presets[0].context_length, 8192);
    assert.equal(r.json.load_presets[0].eval_batch_size, null);
    assert.equal(r.json.load_presets[1].gpu, 0.5);
    assert.equal((await operator.get('/api/settings')).json.mode, 'live');
    const se = await ev.next((e) => e.event === 'settings', 'settings event');
    assert.equal(se.data.mode, 'live');
    assert.equal(se.data.load_presets.length, 2);
    ev.close();
    for (const [body, code] of [
      [{ mode: 'prod' }, 'invalid_mode'],
      [{ load_presets: [{ name: '' }] }, 'invalid_preset'],
      [{ load_presets: [{ name: 'a', context_length: -1 }] }, 'invalid_preset'],
      [{ load_presets: [{ name: 'a', gpu: 2 }] }, 'invalid_preset'],
      [{ load_presets: [{ name: 'a', bogus: 1 }] }, 'invalid_preset'],
      [{ load_presets: [{ name: 'a' }, { name: 'a' }] }, 'invalid_preset'],
      [{ load_presets: {} }, 'invalid_preset'],
    ]) {
      const x = await admin.put('/api/settings', body);
      assert.equal(x.status, 400, JSON.stringify(body));
      assert.equal(x.json.error.code, code);
    }
    r = await admin.put('/api/settings', { mode: 'dev' });
    assert.equal(r.json.load_presets.length, 2, 'presets kept when only the mode changes');
  });

  it('every change is audited without the token', async () => {
    const r = await admin.get('/api/audit?action=target.');
    assert.equal(r.status, 200, r.text);
    const actions = new Set(r.json.entries.map((e) => e.action));
    for (const a of ['target.create', 'target.update', 'target.delete', 'target.test']) assert.ok(actions.has(a), a);
    assert.equal(r.text.includes('Abcdefghijklmnopqrst'), false);
    const s = await admin.get('/api/audit?action=settings.update');
    assert.ok(s.json.entries.length >= 2);
    texts.push(r.text, s.text);
  });

  it('DELETE removes the target and stops polling it', async () => {
    assert.equal((await admin.del(`/api/targets/${idB}`)).status, 204);
    assert.equal((await admin.del(`/api/targets/${idB}`)).status, 404);
    const list = await admin.get('/api/targets');
    assert.deepEqual(list.json.targets.map((t) => t.id), [idA]);
  });
});

describe('first start from DAEMON_API_URL / DAEMON_API_KEY', { timeout: 60000 }, () => {
  it('creates one default target with the encrypted key', async () => {
    const sim = await startSim(['--api-token', TOKEN]);
    const cp = await startControlPlane({ args: ['--health-interval-ms', String(INTERVAL)], env: { DAEMON_API_URL: sim.url, DAEMON_API_KEY: TOKEN } });
    try {
      const c = new Client(cp.url);
      await c.login('admin', cp.admin.password);
      const r = await c.get('/api/targets');
      assert.equal(r.json.targets.length, 1);
      const t = r.json.targets[0];
      assert.deepEqual([t.label, t.url, t.has_api_key], ['default', sim.url, true]);
      assert.equal(r.text.includes(TOKEN), false);
      await waitFor(async () => (await c.get(`/api/targets/${t.id}/health`)).json.health.state === 'running', 'default running');
      assert.equal(cp.out.stderr.includes('Abcdefghijklmnopqrst'), false);
      const st = statSync(path.join(cp.dataDir, 'secret.key'));
      assert.equal(st.mode & 0o777, 0o600);
    } finally {
      await cp.cleanup();
      await sim.stop();
    }
  });
});
