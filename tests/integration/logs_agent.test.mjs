// logs_agent.test.mjs - the Console's log hub for a target with an agent
// (docs/api-logs.md, docs/agent.md): the control plane has no usable lms
// (LMS_BIN points nowhere) and reads the agent's NDJSON log stream instead;
// one upstream stream per target and source however many viewers (the
// agent's own `lms log stream` children counted in /proc: one per source,
// none under the control plane), lines reach every viewer, a killed lms on
// the agent's host is restarted with status events, and the streams stop
// after the last viewer left.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { bin, startProc, startControlPlane, Client, tempDir } from '../lib/harness.mjs';
import { SseClient } from '../lib/sse.mjs';
import { SLOW, children, sleep, until, waitFor } from '../lib/wait.mjs';

const LINGER = 1500;

const logChildren = (pid) => children(pid).filter((c) => c.args.includes('log') && c.args.includes('stream'))
  .map((c) => ({ ...c, source: c.args[c.args.indexOf('--source') + 1] }));

class Sse extends SseClient {
  constructor(base, p, cookie) { super(base + p, { cookie, timeoutMs: 15000 * SLOW }); }
  lines() { return this.events.filter((e) => e.event === 'line').map((e) => e.data); }
}

describe('console log stream through the agent', { timeout: 300000 }, () => {
  let sim, agent, cp, admin, tmp, tid;
  const open = [];
  const watch = (p) => { const s = new Sse(cp.url, p, admin.cookie); open.push(s); return s; };
  const closeAll = () => { while (open.length) open.pop().close(); };
  const chat = (content) => fetch(`${sim.url}/v1/chat/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'qwen/qwen3-8b', messages: [{ role: 'user', content }], max_tokens: 8 }),
  }).then((r) => r.json());

  before(async () => {
    tmp = tempDir('dp-logs-agent-');
    sim = await startProc(bin('llmster-sim'), ['--port', '0', '--speed', '0']);
    agent = await startProc(bin('daemonpulse'), ['agent', '--port', '0', '--token-file', path.join(tmp.dir, 'agent.token'),
      '--lms-bin', bin('lms'), '--lmstudio-home', tmp.dir, '--nvml-lib', 'off', '--interval-ms', '60000'],
    { env: { HOME: tmp.dir, LMS_SIM_PORT: String(sim.port), LMS_SIM_HOST: '127.0.0.1' } });
    cp = await startControlPlane({
      args: ['--health-interval-ms', '500', '--nvml-library', 'off'],
      env: {
        LMS_BIN: '/nonexistent/lms', DP_LOG_LINGER_MS: String(LINGER), DP_LOG_BACKOFF_MIN_MS: '200',
        DP_LOG_BACKOFF_MAX_MS: '1000', DP_LOG_QUIET_MS: '1500',
      },
    });
    admin = new Client(cp.url);
    await admin.login('admin', cp.admin.password);
    let r = await admin.post('/api/targets', { label: 'gpu-host', url: sim.url });
    assert.equal(r.status, 201, r.text);
    tid = r.json.target.id;
    const token = readFileSync(path.join(tmp.dir, 'agent.token'), 'utf8').trim();
    r = await admin.post(`/api/targets/${tid}/agent`, { url: agent.url, token });
    assert.equal(r.status, 201, r.text);
  });

  after(async () => {
    closeAll();
    if (cp) await cp.cleanup();
    if (agent) await agent.stop();
    if (sim) await sim.stop();
    tmp?.cleanup();
  });

  it('one agent stream per source however many viewers; lines reach every viewer; stopped after the last leaves', async () => {
    const views = [];
    for (let i = 0; i < 4; i++) views.push(watch(`/api/targets/${tid}/logs`));
    for (let i = 0; i < 3; i++) views.push(watch(`/api/targets/${tid}/logs?source=model`));
    for (const v of views) {
      await v.ready;
      assert.equal(v.status, 200);
      await v.next((e) => e.event === 'live', 'live');
    }
    const hello = views[0].events.find((e) => e.event === 'hello').data;
    assert.equal(hello.lms.available, true, 'lms is not needed here: the agent has it');
    assert.equal(hello.lms.via, 'agent');
    const kids = await waitFor(() => {
      const k = logChildren(agent.proc.pid);
      return k.length === 3 ? k : null;
    }, 'one lms child per source on the agent');
    assert.deepEqual(kids.map((k) => k.source).sort(), ['model', 'runtime', 'server']);
    assert.equal(logChildren(cp.proc.pid).length, 0, 'no lms child under the control plane');
    await until(() => chat('through the agent'),
      () => views.every((v) => v.lines().some((l) => l.type === 'llm.prediction.output')), 'predictions');
    for (const v of views) {
      const ev = await v.next((e) => e.event === 'line' && e.data.type === 'llm.prediction.output', 'prediction output');
      assert.equal(ev.data.source, 'model');
      assert.equal(ev.data.target_id, tid);
    }
    for (const v of views) {
      const st = v.events.filter((e) => e.event === 'status' && e.data.source === 'model').map((e) => e.data.state);
      assert.ok(!st.includes('unavailable'), 'never unavailable');
    }
    const perf = await admin.get(`/api/targets/${tid}/perf`);
    assert.equal(perf.status, 200, perf.text);
    assert.ok(perf.json.models.length >= 1, 'perf recorded from the agent stream');
    assert.equal(logChildren(agent.proc.pid).length, 3, 'still one per source');
    closeAll();
    // the perf request keeps the model stream (perf_linger_ms); the others stop after the linger time
    const left = await waitFor(() => {
      const k = logChildren(agent.proc.pid);
      return k.length === 1 ? k : null;
    }, 'the agent children stopped after the last viewer left', (LINGER + 15000) * SLOW);
    assert.equal(left[0].source, 'model');
  });

  it('restarts after lms dies on the agent host and tells the viewers', async () => {
    const v = watch(`/api/targets/${tid}/logs?source=server`);
    await v.next((e) => e.event === 'live', 'live');
    const server = await waitFor(() => logChildren(agent.proc.pid).find((k) => k.source === 'server'), 'server child');
    process.kill(server.pid, 'SIGKILL');
    const st = await v.next((e) => e.event === 'status' && e.data.source === 'server' && e.data.state === 'restarting',
      'a restarting status');
    assert.ok(st.data.restarts >= 1);
    assert.ok(st.data.retry_in_ms > 0);
    assert.match(st.data.reason, /agent/);
    await v.next((e) => e.event === 'status' && e.data.source === 'server' && e.data.state === 'running' &&
      v.events.indexOf(e) > v.events.indexOf(st), 'running again');
    const again = await waitFor(() => {
      const k = logChildren(agent.proc.pid).filter((x) => x.source === 'server');
      return k.length === 1 && k[0].pid !== server.pid ? k[0] : null;
    }, 'a new server child on the agent');
    assert.ok(again.pid > 0);
    closeAll();
  });

  it('without the agent the target falls back to lms (unavailable here)', async () => {
    assert.equal((await admin.del(`/api/targets/${tid}/agent`)).status, 204);
    const v = watch(`/api/targets/${tid}/logs?source=server`);
    const hello = await v.next((e) => e.event === 'hello', 'hello');
    assert.equal(hello.data.lms.via, 'lms');
    assert.equal(hello.data.lms.available, false);
    await v.next((e) => e.event === 'status' && e.data.source === 'server' && e.data.state === 'unavailable' ||
      (e.event === 'hello' && e.data.streams.some((s) => s.source === 'server' && s.state === 'unavailable')),
    'unavailable without lms');
    closeAll();
  });
});
