// logs.test.mjs - the Console's server side (docs/api-logs.md) against the
// real daemonpulse binary, llmster-sim and the `lms` stand-in (LMS_BIN):
// one `lms log stream` child per target and source however many viewers
// (children counted in /proc), backlog for a late viewer, a killed child
// restarted with viewers told, filters applied server-side, Live mode
// hiding payloads, payloads=0, the daemonpulse source, perf, roles, 401,
// and honest "unavailable" without lms.
//
// Waits are bounded polls on events or /proc, never sleeps-as-sync; the
// control plane runs with short linger/backoff (environment) so the test
// stays quick even under ASan on a loaded 2-core machine.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { bin, startProc, startControlPlane, Client } from '../lib/harness.mjs';
import { SseClient } from '../lib/sse.mjs';
import { SLOW, children, sleep, until, waitFor } from '../lib/wait.mjs';

const LINGER = 1500;

// lms log stream children of the control plane for a given lms port.
function logChildren(cpPid, port) {
  return children(cpPid).filter((c) => c.args.includes('log') && c.args.includes('stream') &&
    (port === undefined || c.args.includes(String(port))))
    .map((c) => ({ ...c, source: c.args[c.args.indexOf('--source') + 1] }));
}

// A minimal EventSource over fetch.
class Sse extends SseClient {
  constructor(base, path, cookie, lastEventId) {
    super(base + path, { cookie, lastEventId, timeoutMs: 15000 * SLOW });
  }
  lines() { return this.events.filter((e) => e.event === 'line').map((e) => e.data); }
}

describe('console log stream', { timeout: 300000 }, () => {
  let sim; let sim2; let cp; let admin; let viewer; let t1; let t2;
  const open = [];
  const watch = (path, client = admin) => {
    const s = new Sse(cp.url, path, client.cookie);
    open.push(s);
    return s;
  };
  const chat = (s, content, model = 'qwen/qwen3-8b') => fetch(`${s.url}/v1/chat/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages: [{ role: 'user', content }], max_tokens: 8 }),
  }).then((r) => r.json());
  const closeAll = () => { while (open.length) open.pop().close(); };

  before(async () => {
    sim = await startProc(bin('llmster-sim'), ['--port', '0', '--speed', '0']);
    sim2 = await startProc(bin('llmster-sim'), ['--port', '0', '--speed', '0']);
    cp = await startControlPlane({
      args: ['--health-interval-ms', '500'],
      env: {
        LMS_BIN: bin('lms'), DP_LOG_LINGER_MS: String(LINGER), DP_LOG_BACKOFF_MIN_MS: '200',
        DP_LOG_BACKOFF_MAX_MS: '1000', DP_LOG_QUIET_MS: '1500',
      },
    });
    admin = new Client(cp.url);
    await admin.login('admin', cp.admin.password);
    const r1 = await admin.post('/api/targets', { label: 'sim-one', url: sim.url });
    const r2 = await admin.post('/api/targets', { label: 'sim-two', url: sim2.url });
    assert.equal(r1.status, 201, r1.text);
    assert.equal(r2.status, 201, r2.text);
    t1 = r1.json.target.id;
    t2 = r2.json.target.id;
    const u = await admin.post('/api/users', { username: 'vera', password: 'viewer-pass-123456', role: 'viewer' });
    assert.equal(u.status, 201, u.text);
    viewer = new Client(cp.url);
    await viewer.login('vera', 'viewer-pass-123456');
  });

  after(async () => {
    closeAll();
    if (cp) await cp.cleanup();
    if (sim) await sim.stop();
    if (sim2) await sim2.stop();
  });

  it('refuses unauthenticated requests and bad parameters', async () => {
    const r = await fetch(`${cp.url}/api/targets/${t1}/logs`);
    assert.equal(r.status, 401);
    await r.text();
    assert.equal((await fetch(`${cp.url}/api/targets/${t1}/perf`)).status, 401);
    assert.equal((await admin.get(`/api/targets/${t1}/logs?source=server,bogus`)).json.error.code, 'invalid_source');
    assert.equal((await admin.get(`/api/targets/${t1}/logs?level=loud`)).json.error.code, 'invalid_level');
    assert.equal((await admin.get(`/api/targets/${t1}/logs?backlog=5000`)).status, 400);
    assert.equal((await admin.get(`/api/targets/${t1}/logs?q=${'x'.repeat(300)}`)).status, 400);
    assert.equal((await admin.get('/api/targets/9999/logs')).status, 404);
    assert.equal((await admin.get('/api/targets/9999/perf')).status, 404);
  });

  it('one child per target and source however many viewers; stopped after the last leaves', async () => {
    const views = [];
    for (let i = 0; i < 6; i++) views.push(watch(`/api/targets/${t1}/logs`, i % 2 ? viewer : admin));
    for (let i = 0; i < 4; i++) views.push(watch(`/api/targets/${t1}/logs?source=model`));
    views.push(watch(`/api/targets/${t2}/logs?source=server`));
    for (const v of views) {
      await v.ready;
      assert.equal(v.status, 200);
      await v.next((e) => e.event === 'live', 'live');
    }
    const hello = views[1].events.find((e) => e.event === 'hello').data; // a viewer-role stream
    assert.equal(hello.target_id, t1);
    assert.deepEqual(hello.sources, ['server', 'model', 'runtime', 'daemonpulse']);
    assert.equal(hello.lms.available, true);
    assert.equal(hello.streams.length, 4);
    // children: exactly one per source on target 1, one (server) on target 2
    const kids = await waitFor(() => {
      const k1 = logChildren(cp.proc.pid, sim.port);
      const k2 = logChildren(cp.proc.pid, sim2.port);
      return k1.length === 3 && k2.length === 1 ? { k1, k2 } : null;
    }, 'the lms children');
    assert.deepEqual(kids.k1.map((k) => k.source).sort(), ['model', 'runtime', 'server']);
    assert.equal(kids.k2[0].source, 'server');
    assert.ok(kids.k1[0].args.includes('--host') && kids.k1[0].args.includes('--json'));
    // one chat: every viewer of the model source gets the same prediction line
    await until(() => chat(sim, 'count the children'),
      () => views.slice(0, 10).every((v) => v.lines().some((l) => l.type === 'llm.prediction.output')), 'predictions');
    for (const v of views.slice(0, 10)) {
      const ev = await v.next((e) => e.event === 'line' && e.data.type === 'llm.prediction.output', 'prediction output');
      assert.equal(ev.data.source, 'model');
      assert.ok(ev.data.stats.tokens_per_second > 0);
    }
    const firstSeq = (v) => v.lines().filter((l) => l.type === 'llm.prediction.output').map((l) => l.seq);
    const common = firstSeq(views[0]).filter((q) => views.slice(0, 10).every((v) => firstSeq(v).includes(q)));
    assert.ok(common.length >= 1, 'the same line (same seq) reached every viewer');
    assert.equal(logChildren(cp.proc.pid, sim.port).length, 3);
    // target 2's server-only viewer saw nothing of target 1
    assert.ok(views[10].lines().every((l) => l.target_id === t2 && (l.source === 'server')));
    // everybody leaves: children are stopped after the linger time
    for (const v of views) v.close();
    await sleep(LINGER / 3);
    assert.ok(logChildren(cp.proc.pid).length > 0, 'children linger a while');
    await waitFor(() => logChildren(cp.proc.pid).length === 0, 'children stopped after the last viewer left');
  });

  it('delivers the backlog to a late viewer', async () => {
    const a = watch(`/api/targets/${t1}/logs`);
    await a.next((e) => e.event === 'live', 'live');
    const mark = `backlog-mark-${Date.now()}`;
    await until(() => chat(sim, mark), () => a.lines().some((l) => l.type === 'llm.prediction.input' &&
      l.payload.input.includes(mark)), 'the marked model line');
    const input = await a.next((e) => e.event === 'line' && e.data.type === 'llm.prediction.input' &&
      e.data.payload.input.includes(mark), 'the marked input');
    const b = watch(`/api/targets/${t1}/logs`);
    const live = await b.next((e) => e.event === 'live', 'live');
    const idx = b.events.indexOf(live);
    const backlog = b.events.slice(0, idx).filter((e) => e.event === 'line');
    assert.equal(live.data.backlog, backlog.length);
    const found = backlog.find((e) => e.data.seq === input.data.seq);
    assert.ok(found, 'the earlier line is in the backlog');
    assert.equal(found.id, String(input.data.seq));
    assert.ok(found.data.payload.input.includes(mark));
    // oldest first, increasing seq
    for (let i = 1; i < backlog.length; i++) assert.ok(backlog[i].data.seq > backlog[i - 1].data.seq);
    // the hello comes first
    assert.equal(b.events[0].event, 'hello');
    assert.equal(b.events[0].data.resumed, false);
    // a reconnecting EventSource (Last-Event-ID) gets only what came after
    const r = new Sse(cp.url, `/api/targets/${t1}/logs`, admin.cookie, found.id);
    open.push(r);
    const rl = await r.next((e) => e.event === 'live', 'live (resumed)');
    assert.equal(r.events[0].data.resumed, true);
    const rb = r.events.slice(0, r.events.indexOf(rl)).filter((e) => e.event === 'line');
    assert.equal(rl.data.backlog, rb.length);
    assert.ok(rb.every((e) => e.data.seq > input.data.seq));
    assert.equal(rb.length, backlog.filter((e) => e.data.seq > input.data.seq).length);
    // an id from another process (below this one's ids): a full backlog
    const o = new Sse(cp.url, `/api/targets/${t1}/logs`, admin.cookie, '12');
    open.push(o);
    const ol = await o.next((e) => e.event === 'live', 'live (stale id)');
    assert.equal(o.events[0].data.resumed, false);
    assert.ok(ol.data.backlog >= backlog.length);
    // a limited backlog
    const c = watch(`/api/targets/${t1}/logs?backlog=2`);
    const cl = await c.next((e) => e.event === 'live', 'live');
    assert.ok(cl.data.backlog <= 2);
    closeAll();
  });

  it('restarts a killed child and tells the viewers', async () => {
    const v = watch(`/api/targets/${t1}/logs?source=server,runtime`);
    await v.next((e) => e.event === 'live', 'live');
    const server = await waitFor(() => logChildren(cp.proc.pid, sim.port).find((k) => k.source === 'server'), 'server child');
    process.kill(server.pid, 'SIGKILL');
    const st = await v.next((e) => e.event === 'status' && e.data.source === 'server' && e.data.state === 'restarting',
      'a restarting status');
    assert.ok(st.data.restarts >= 1);
    assert.ok(st.data.retry_in_ms > 0);
    assert.match(st.data.reason, /signal 9|killed/);
    const back = await v.next((e) => e.event === 'status' && e.data.source === 'server' && e.data.state === 'running' &&
      v.events.indexOf(e) > v.events.indexOf(st), 'running again');
    assert.ok(back);
    const again = await waitFor(() => {
      const k = logChildren(cp.proc.pid, sim.port).filter((x) => x.source === 'server');
      return k.length === 1 && k[0].pid !== server.pid ? k[0] : null;
    }, 'a new server child');
    assert.ok(again.pid > 0);
    // lines flow again through the new child
    const mark = `after-restart-${Date.now()}`;
    await until(() => fetch(`${sim.url}/api/v1/models/${mark}`).then((r) => r.text()),
      () => v.lines().some((l) => l.summary.includes(mark)), 'a line through the new child');
    await v.next((e) => e.event === 'line' && e.data.source === 'server' && e.data.summary.includes(mark),
      'a server line after the restart');
    // the runtime child was not touched
    assert.equal(logChildren(cp.proc.pid, sim.port).filter((x) => x.source === 'runtime').length, 1);
    closeAll();
  });

  it('applies source, level and text filters server-side', async () => {
    const runtimeOnly = watch(`/api/targets/${t1}/logs?source=runtime&backlog=0`);
    const warnUp = watch(`/api/targets/${t1}/logs?level=warn&backlog=0`);
    const search = watch(`/api/targets/${t1}/logs?source=server&q=NEEDLE-42&backlog=0`);
    const all = watch(`/api/targets/${t1}/logs?backlog=0`);
    for (const s of [runtimeOnly, warnUp, search, all]) await s.next((e) => e.event === 'live', 'live');
    await until(() => fetch(`${sim.url}/api/v1/models/warm-up`).then((r) => r.text()),
      () => all.lines().some((l) => l.summary.includes('warm-up')), 'the server stream');
    await until(() => chat(sim, 'warm up'), () => all.lines().some((l) => l.source === 'model'), 'the model stream');
    // JIT load of another model -> runtime lines; a bad JSON body -> an error server line
    await chat(sim, 'filters please', 'google/gemma-3-12b');
    await fetch(`${sim.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{nope' });
    await fetch(`${sim.url}/api/v1/models/needle-42-here`);
    await all.next((e) => e.event === 'line' && e.data.level === 'error', 'an error line on the unfiltered stream');
    await all.next((e) => e.event === 'line' && e.data.summary.toLowerCase().includes('needle-42'), 'the needle');
    await runtimeOnly.next((e) => e.event === 'line', 'a runtime line');
    await warnUp.next((e) => e.event === 'line' && e.data.level === 'error', 'the error line');
    await search.next((e) => e.event === 'line', 'the search hit');
    // give the filtered streams time to (wrongly) receive more, bounded by the unfiltered one
    await all.next((e) => e.event === 'line' && e.data.type === 'llm.prediction.output', 'prediction on the unfiltered stream');
    assert.ok(runtimeOnly.lines().every((l) => l.source === 'runtime'));
    assert.ok(warnUp.lines().every((l) => l.level === 'warn' || l.level === 'error'));
    assert.ok(search.lines().length >= 1);
    assert.ok(search.lines().every((l) => l.source === 'server' &&
      (l.summary + JSON.stringify(l.payload)).toLowerCase().includes('needle-42')));
    assert.ok(all.lines().some((l) => l.source === 'server' && l.level === 'debug'));
    assert.ok(all.lines().length > search.lines().length + runtimeOnly.lines().length);
    closeAll();
  });

  it('hides payloads with payloads=0 and in Live mode', async () => {
    const hidden = watch(`/api/targets/${t1}/logs?payloads=0&backlog=0`);
    const dev = watch(`/api/targets/${t1}/logs?backlog=0`);
    await hidden.next((e) => e.event === 'live', 'live');
    await dev.next((e) => e.event === 'live', 'live');
    const secret = `secret-prompt-${Date.now()}`;
    await until(() => chat(sim, secret), () => hidden.lines().some((l) => l.type === 'llm.prediction.input') &&
      dev.lines().some((l) => l.type === 'llm.prediction.input' && l.payload.input.includes(secret)), 'the model stream');
    const inHidden = await hidden.next((e) => e.event === 'line' && e.data.type === 'llm.prediction.input', 'input (hidden)');
    assert.equal(inHidden.data.payload_hidden, true);
    assert.equal(inHidden.data.payload.input, undefined);
    const outHidden = await hidden.next((e) => e.event === 'line' && e.data.type === 'llm.prediction.output', 'output (hidden)');
    assert.equal(outHidden.data.payload.output, undefined);
    assert.ok(outHidden.data.stats.predicted_tokens > 0, 'stats stay');
    const req = await hidden.next((e) => e.event === 'line' && e.data.summary.includes('/v1/chat/completions') &&
      e.data.summary.includes('with body'), 'the request line (hidden)');
    assert.ok(!JSON.stringify(req.data).includes(secret), 'no prompt in a hidden request line');
    // q does not search hidden text
    const probe = watch(`/api/targets/${t1}/logs?payloads=0&backlog=1000&q=${secret}`);
    const pl = await probe.next((e) => e.event === 'live', 'live');
    assert.equal(pl.data.backlog, 0);
    // the dev stream had the payloads
    const inDev = await dev.next((e) => e.event === 'line' && e.data.type === 'llm.prediction.input' &&
      e.data.payload.input.includes(secret), 'input (dev)');
    assert.ok(hidden.lines().some((l) => l.seq === inDev.data.seq && l.payload_hidden && l.payload.input === undefined),
      'the same line, hidden, on the payloads=0 stream');

    // Live mode: switched while `dev` is open, then a fresh viewer
    const put = await admin.put('/api/settings', { mode: 'live' });
    assert.equal(put.status, 200, put.text);
    const mode = await dev.next((e) => e.event === 'mode', 'a mode event');
    assert.deepEqual(mode.data, { mode: 'live', effective_level: 'live', payloads: false });
    const lv = watch(`/api/targets/${t1}/logs?level=all&payloads=1`);
    const hello = await lv.next((e) => e.event === 'hello', 'hello');
    assert.equal(hello.data.mode, 'live');
    assert.equal(hello.data.payloads, false);
    assert.equal(hello.data.effective_level, 'live');
    await lv.next((e) => e.event === 'live', 'live');
    const secret2 = `live-secret-${Date.now()}`;
    await chat(sim, secret2, 'meta/llama-3.2-3b'); // JIT load: a high-level runtime line
    await lv.next((e) => e.event === 'perf', 'perf event in Live mode');
    await lv.next((e) => e.event === 'line' && /load/i.test(e.data.summary), 'a load line in Live mode');
    const afterMode = dev.events.slice(dev.events.indexOf(mode));
    for (const s of [lv.events, afterMode]) {
      for (const e of s.filter((x) => x.event === 'line')) {
        assert.equal(e.data.high, true, `only high-level lines in Live mode: ${e.data.summary}`);
        assert.ok(!e.data.type.startsWith('llm.prediction'));
        assert.ok(!JSON.stringify(e.data).includes(secret2));
      }
    }
    assert.ok(!lv.events.some((e) => JSON.stringify(e.data).includes(secret)), 'backlog hides payloads too');
    await admin.put('/api/settings', { mode: 'dev' });
    closeAll();
  });

  it('shows DaemonPulse events and per-model perf', async () => {
    const v = watch(`/api/targets/${t2}/logs?source=daemonpulse`);
    await v.next((e) => e.event === 'live', 'live');
    // health change: the simulator's server stops -> the health hub sees it
    await fetch(`${sim2.url}/__sim/lms/server-stop`, { method: 'POST', body: '{}' });
    const h = await v.next((e) => e.event === 'line' && e.data.type === 'dp.health' && e.data.level === 'warn',
      'a health line');
    assert.equal(h.data.source, 'daemonpulse');
    assert.equal(h.data.high, true);
    assert.match(h.data.summary, /running -> stopped/);
    await fetch(`${sim2.url}/__sim/lms/server-start`, { method: 'POST', body: '{}' });
    await v.next((e) => e.event === 'line' && e.data.type === 'dp.health' && /-> running/.test(e.data.summary), 'running again');
    // an audited admin action on the target
    const patch = await admin.patch(`/api/targets/${t2}`, { tags: ['console'] });
    assert.equal(patch.status, 200, patch.text);
    assert.ok(v.lines().some((l) => l.type === 'dp.audit' && l.payload.action === 'target.create'),
      'the creation is in the backlog');
    const au = await v.next((e) => e.event === 'line' && e.data.type === 'dp.audit' &&
      e.data.payload.action === 'target.update', 'an audit line');
    assert.equal(au.data.summary, 'target.update by admin: ok');
    assert.equal(au.data.payload.action, 'target.update');
    assert.equal(au.data.high, true);
    // a load through DaemonPulse, then the loaded set changing
    const ld = await admin.post(`/api/targets/${t2}/models/load`, { model: 'ibm/granite-4-micro' });
    assert.ok(ld.status === 200 || ld.status === 201, ld.text);
    const started = await v.next((e) => e.event === 'line' && e.data.type === 'dp.load', 'a load line');
    assert.equal(started.data.summary, 'load ibm/granite-4-micro started by admin');
    const lline = await v.next((e) => e.event === 'line' && e.data.type === 'dp.load' && e.data.payload.result === 'ok',
      'the load done');
    assert.equal(lline.data.summary, 'load ibm/granite-4-micro ok by admin');
    assert.equal(lline.data.level, 'info');
    await v.next((e) => e.event === 'line' && e.data.type === 'dp.models' && /granite/.test(e.data.summary),
      'the loaded set');
    closeAll();

    const p0 = await viewer.get(`/api/targets/${t1}/perf?n=5`);
    assert.equal(p0.status, 200, p0.text);
    assert.equal(p0.json.collecting, true);
    await waitFor(() => logChildren(cp.proc.pid, sim.port).some((k) => k.source === 'model'), 'perf keeps a model child');
    const p = await until(() => chat(sim, 'perf one'), () => true, 'chat').then(() => waitFor(async () => {
      const r = await viewer.get(`/api/targets/${t1}/perf?n=5&model=qwen/qwen3-8b`);
      if (r.json.models.length && r.json.models[0].count >= 1) return r.json;
      await chat(sim, 'perf again');
      return null;
    }, 'perf entries'));
    const m = p.models[0];
    assert.equal(m.model, 'qwen/qwen3-8b');
    assert.ok(m.predictions.length >= 1 && m.predictions.length <= 5);
    const last = m.predictions[m.predictions.length - 1];
    assert.ok(last.tokens_per_second > 0 && last.ttft_sec > 0 && last.predicted_tokens > 0 && last.prompt_tokens > 0);
    assert.ok(m.tokens_per_second.avg > 0 && m.ttft_sec.p50 > 0);
    assert.equal(p.stream.source, 'model');
  });

  it('reports a target that refuses log streaming, and a silent stream', async () => {
    const dead = await admin.post('/api/targets', { label: 'nobody-home', url: 'http://127.0.0.1:9' });
    assert.equal(dead.status, 201, dead.text);
    const v = watch(`/api/targets/${dead.json.target.id}/logs?source=server`);
    const st = await v.next((e) => e.event === 'status' && e.data.state === 'refused', 'a refused status');
    assert.equal(st.data.source, 'server');
    assert.match(st.data.reason, /no log line after 3 attempts/);
    assert.match(st.data.reason, /not appear to be running|exited with code 1/);
    assert.ok(st.data.retry_in_ms > 0);
    const restarting = v.events.filter((e) => e.event === 'status' && e.data.state === 'restarting');
    assert.ok(restarting.length >= 2, 'viewers were told about each restart');
    // retries continue at the capped backoff while someone watches
    const before = st.data.restarts;
    await v.next((e) => e.event === 'status' && e.data.restarts > before, 'another attempt');
    v.close();
    // a quiet source (no loads on sim-two): the honest "no line yet" hint
    const q = watch(`/api/targets/${t2}/logs?source=runtime`);
    const hint = await q.next((e) => e.event === 'status' && e.data.source === 'runtime' && e.data.state === 'running' &&
      /no log line received yet/.test(e.data.reason || ''), 'the quiet hint');
    assert.match(hint.data.reason, /may not allow remote log streaming/);
    closeAll();
    // deleting a watched target ends its viewers' streams and its children
    const w = watch(`/api/targets/${dead.json.target.id}/logs?source=server,daemonpulse`);
    await w.next((e) => e.event === 'live', 'live');
    assert.equal((await admin.del(`/api/targets/${dead.json.target.id}`)).status, 204);
    await waitFor(() => w.ended, 'the stream of a deleted target to end');
    await waitFor(() => logChildren(cp.proc.pid, 9).length === 0, 'no child for the deleted target');
    closeAll();
  });

  it('says honestly when lms is unavailable, and still streams DaemonPulse events', async () => {
    const cp2 = await startControlPlane({ env: { LMS_BIN: '/nonexistent/lms' } });
    try {
      const c = new Client(cp2.url);
      await c.login('admin', cp2.admin.password);
      const r = await c.post('/api/targets', { label: 'x', url: sim.url });
      assert.equal(r.status, 201);
      const s = new Sse(cp2.url, `/api/targets/${r.json.target.id}/logs`, c.cookie);
      open.push(s);
      const hello = await s.next((e) => e.event === 'hello', 'hello');
      assert.equal(hello.data.lms.available, false);
      assert.match(hello.data.lms.reason, /lms/);
      const st = hello.data.streams.find((x) => x.source === 'server');
      assert.equal(st.state, 'unavailable');
      assert.match(st.reason, /lms/);
      assert.equal(hello.data.streams.find((x) => x.source === 'daemonpulse').state, 'running');
      await s.next((e) => e.event === 'line' && e.data.source === 'daemonpulse', 'a daemonpulse line');
      assert.equal(children(cp2.proc.pid).length, 0);
      s.close();
    } finally {
      await cp2.cleanup();
    }
  });
});
