// agent.test.mjs - `daemonpulse agent` (issue 9 parts 2-3, docs/agent.md).
//
// 1. one agent on loopback with the lms stand-in (build/lms) and a
//    llmster-sim: health reveals nothing, every other route needs the token
//    (none / wrong -> 401), each lms command through the stand-in, argument
//    validation, the NDJSON log stream, mcp.json (atomic write with a backup,
//    a crash leftover ignored and cleaned, If-Match, symlink and path
//    traversal refused, invalid documents and oversized bodies refused);
// 2. the bind policy: non-loopback refused without --insecure-listen;
// 3. a control plane with two agents: enrolment shows the token and the
//    command once, telemetry source "agent" (fake NVML on the agent), server
//    stop/start through the agent, 409 needs_agent without one, audit rows.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import path from 'node:path';
import { readFileSync, writeFileSync, existsSync, statSync, mkdirSync, symlinkSync, unlinkSync, readdirSync } from 'node:fs';
import { startProc, startControlPlane, run, bin, tempDir, Client, ROOT } from '../lib/harness.mjs';

const T = { timeout: 180000 };
const FAKE_NVML = path.join(ROOT, process.env.DP_FAKE_NVML_DIR || 'build/fake_nvml', 'full/libnvidia-ml.so.1');
const SCENARIO = path.join(ROOT, 'tests/fake_nvml/scenarios/two_gpus.txt');
const PROC = path.join(ROOT, 'tests/fixtures/proc');

// Under the sanitizer build a report (leak, overflow, UB) lands on stderr:
// stop the process and fail on it.
async function stopClean(p, what) {
  if (!p) return;
  // 'close' (all of stderr read) comes after 'exit': wait for it
  const closed = p.proc.exitCode === null && p.proc.signalCode === null
    ? new Promise((r) => p.proc.once('close', r)) : Promise.resolve();
  await p.stop();
  await closed;
  assert.doesNotMatch(p.out.stderr, /Sanitizer|runtime error:/, `${what}: sanitizer report`);
}

const until = async (fn, what, ms = 30000) => {
  const end = Date.now() + ms;
  let last;
  while (Date.now() < end) {
    last = await fn();
    if (last) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
};

// Start an agent; `tokenFile` must not exist unless `token` was set with set-token.
async function startAgent({ dir, sim, home, extra = [], env = {} }) {
  const tokenFile = path.join(dir, 'agent.token');
  const a = await startProc(bin('daemonpulse'), ['agent', '--port', '0', '--token-file', tokenFile,
    '--lms-bin', bin('lms'), '--lmstudio-home', home, '--interval-ms', '500', ...extra],
  { env: { HOME: dir, LMS_SIM_PORT: String(sim.port), LMS_SIM_HOST: '127.0.0.1', ...env } });
  return { ...a, tokenFile };
}

const rawGet = (port, target, headers = {}) => new Promise((resolve, reject) => {
  const s = net.connect(port, '127.0.0.1');
  let data = '';
  s.on('connect', () => {
    let h = `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n`;
    for (const [k, v] of Object.entries(headers)) h += `${k}: ${v}\r\n`;
    s.write(h + '\r\n');
  });
  s.on('data', (d) => { data += d; });
  s.on('end', () => resolve(Number(/^HTTP\/1\.1 (\d+)/.exec(data)?.[1])));
  s.on('error', reject);
});

describe('one agent on loopback', () => {
  let sim, agent, tmp, home, token;
  const api = (p, opts = {}) => fetch(agent.url + p, {
    ...opts, headers: { authorization: `Bearer ${token}`, ...(opts.headers || {}) },
  });
  const apiJson = async (p, opts) => { const r = await api(p, opts); return { status: r.status, json: await r.json() }; };

  before(async () => {
    tmp = tempDir('dp-agent-');
    home = path.join(tmp.dir, 'lmstudio');
    mkdirSync(home);
    sim = await startProc(bin('llmster-sim'), ['--port', '0', '--speed', '0', '--seed', '3']);
    agent = await startAgent({ dir: tmp.dir, sim, home, extra: ['--nvml-lib', 'off'] });
    token = readFileSync(agent.tokenFile, 'utf8').trim();
  });
  after(async () => { await stopClean(agent, 'agent'); await sim?.stop(); tmp?.cleanup(); });

  test('the token file is created 0600 and the token printed once', T, async () => {
    assert.match(token, /^dpa_[0-9a-f]{64}$/);
    assert.equal(statSync(agent.tokenFile).mode & 0o777, 0o600);
    assert.ok(agent.out.stdout.includes(token), 'printed on stdout for enrolment');
    assert.ok(!agent.out.stderr.includes(token), 'never in the log');
    // a second start with the same file prints nothing
    const again = await startAgent({ dir: tmp.dir, sim, home, extra: ['--nvml-lib', 'off'] });
    try {
      assert.ok(!again.out.stdout.includes(token));
      assert.equal(readFileSync(agent.tokenFile, 'utf8').trim(), token);
    } finally { await again.stop(); }
  });

  test('auth: health says only ok; no token / wrong token -> 401; right token -> 200', T, async () => {
    const h = await fetch(agent.url + '/agent/v1/health');
    assert.equal(h.status, 200);
    assert.deepEqual(await h.json(), { status: 'ok' });
    for (const p of ['/agent/v1/info', '/agent/v1/telemetry', '/agent/v1/lms/ps', '/agent/v1/mcp.json',
      '/agent/v1/nonexistent', '/']) {
      const r = await fetch(agent.url + p);
      assert.equal(r.status, 401, `${p} without a token`);
      assert.equal(r.headers.get('www-authenticate'), 'Bearer');
      const w = await fetch(agent.url + p, { headers: { authorization: 'Bearer dpa_' + '0'.repeat(64) } });
      assert.equal(w.status, 401, `${p} with a wrong token`);
      const w2 = await fetch(agent.url + p, { headers: { authorization: `Bearer ${token}x` } });
      assert.equal(w2.status, 401, `${p} with a longer token`);
      const w3 = await fetch(agent.url + p, { headers: { authorization: `Basic ${token}` } });
      assert.equal(w3.status, 401, `${p} with another scheme`);
    }
    const r = await apiJson('/agent/v1/info');
    assert.equal(r.status, 200);
    assert.equal(typeof r.json.hostname, 'string');
    assert.equal(r.json.os.name, 'Linux');
    assert.ok(r.json.cpu.logical_cpus >= 1);
    assert.ok(r.json.ram.total_bytes > 0);
    assert.equal(r.json.lms.available, true);
    assert.equal(r.json.lmstudio_home.exists, true);
    assert.equal(r.json.transport, 'http');
  });

  test('telemetry without a GPU says so; history answers', T, async () => {
    const t = await until(async () => { const r = await apiJson('/agent/v1/telemetry'); return r.json.source !== 'pending' && r; }, 'a sample');
    assert.equal(t.status, 200);
    assert.equal(t.json.source, 'none');
    assert.equal(t.json.available, false);
    assert.equal(t.json.reason.code, 'no_gpu');
    assert.match(t.json.reason.message, /telemetry not supported here/);
    assert.ok(t.json.ram.total_bytes > 0);
    const h = await apiJson('/agent/v1/telemetry/history?seconds=60');
    assert.equal(h.status, 200);
    assert.ok(Array.isArray(h.json.t));
    assert.equal((await apiJson('/agent/v1/telemetry/history?seconds=0')).status, 400);
  });

  test('each lms command through the stand-in', T, async () => {
    const ls = await apiJson('/agent/v1/lms/ls');
    assert.equal(ls.status, 200, JSON.stringify(ls.json));
    assert.equal(ls.json.ok, true);
    assert.ok(Array.isArray(ls.json.result) && ls.json.result.length > 0);
    const llm = ls.json.result.find((m) => m.type === 'llm');

    const survey = await apiJson('/agent/v1/lms/runtime-survey');
    assert.equal(survey.status, 200, JSON.stringify(survey.json));
    assert.equal(typeof survey.json.result, 'object');

    const ds = await apiJson('/agent/v1/lms/daemon-status');
    assert.equal(ds.status, 200);
    assert.equal(ds.json.result.status, 'running');

    const up = await apiJson('/agent/v1/lms/daemon-up', { method: 'POST' });
    assert.equal(up.status, 200, JSON.stringify(up.json));
    assert.equal(up.json.result.status, 'running');

    const ver = await apiJson('/agent/v1/lms/version');
    assert.equal(ver.status, 200);

    const load = await apiJson('/agent/v1/lms/load', { method: 'POST', body: JSON.stringify({ model: llm.model_key, identifier: 'agent-test', ttl_s: 600 }) });
    assert.equal(load.status, 200, JSON.stringify(load.json));
    assert.equal(load.json.command, 'load');
    const ps = await apiJson('/agent/v1/lms/ps');
    assert.equal(ps.status, 200);
    assert.ok(ps.json.result.some((m) => m.identifier === 'agent-test'), JSON.stringify(ps.json.result));
    const un = await apiJson('/agent/v1/lms/unload', { method: 'POST', body: JSON.stringify({ identifier: 'agent-test' }) });
    assert.equal(un.status, 200, JSON.stringify(un.json));
    assert.equal((await apiJson('/agent/v1/lms/ps')).json.result.length, 0);
    const unAll = await apiJson('/agent/v1/lms/unload', { method: 'POST', body: JSON.stringify({ all: true }) });
    assert.equal(unAll.status, 200, JSON.stringify(unAll.json));

    const stop = await apiJson('/agent/v1/lms/server-stop', { method: 'POST' });
    assert.equal(stop.status, 200, JSON.stringify(stop.json));
    const st1 = await apiJson('/agent/v1/lms/server-status');
    assert.equal(st1.json.result.running, false);
    const stop2 = await apiJson('/agent/v1/lms/server-stop', { method: 'POST' });
    assert.equal(stop2.status, 502, 'lms exits 1 when the server is not running');
    assert.equal(stop2.json.error.code, 'failed');
    assert.match(stop2.json.error.message, /not running/);
    const start = await apiJson('/agent/v1/lms/server-start', { method: 'POST', body: JSON.stringify({ port: sim.port }) });
    assert.equal(start.status, 200, JSON.stringify(start.json));
    const st2 = await apiJson('/agent/v1/lms/server-status');
    assert.equal(st2.json.result.running, true);
  });

  test('lms arguments are validated: fixed commands only, never arbitrary argv', T, async () => {
    const bad = [
      ['/agent/v1/lms/load', { model: '--help' }],
      ['/agent/v1/lms/load', { model: 'x', extra: 1 }],
      ['/agent/v1/lms/load', { model: 'x', gpu: 'lots' }],
      ['/agent/v1/lms/load', { model: 'x', context_length: -1 }],
      ['/agent/v1/lms/load', { }],
      ['/agent/v1/lms/load', { model: 'x', gpu: true }],
      ['/agent/v1/lms/load', { model: 'x', identifier: 5 }],
      ['/agent/v1/lms/load', { model: 'x', exact: 'yes' }],
      ['/agent/v1/lms/unload', { identifier: 'a', all: false, x: 1 }],
      ['/agent/v1/lms/unload', { all: 'true' }],
      ['/agent/v1/lms/server-start', { cors: 'yes' }],
      ['/agent/v1/lms/server-start', { bind: 127 }],
      ['/agent/v1/lms/unload', { identifier: 'a', all: true }],
      ['/agent/v1/lms/unload', { }],
      ['/agent/v1/lms/server-start', { bind: '0.0.0.0; rm -rf /' }],
      ['/agent/v1/lms/server-start', { port: 70000 }],
      ['/agent/v1/lms/server-stop', { now: true }],
      ['/agent/v1/lms/daemon-down', { argv: ['x'] }],
    ];
    for (const [p, b] of bad) {
      const r = await api(p, { method: 'POST', body: JSON.stringify(b) });
      assert.equal(r.status, 400, `${p} ${JSON.stringify(b)}`);
    }
    assert.equal((await api('/agent/v1/lms/load', { method: 'POST', body: 'not json' })).status, 400);
    assert.equal((await api('/agent/v1/lms/rm', { method: 'POST', body: '{}' })).status, 404);
    assert.equal((await api('/agent/v1/lms/ps', { method: 'POST', body: '{}' })).status, 404);
    assert.equal((await api('/agent/v1/lms/server-stop')).status, 404, 'mutations are POST only');
  });

  test('log stream: NDJSON lines of lms log stream, shared by two viewers', T, async () => {
    const ac = new AbortController();
    const open = async () => {
      const r = await api('/agent/v1/logs/stream?source=server', { signal: ac.signal });
      assert.equal(r.status, 200);
      assert.match(r.headers.get('content-type'), /application\/x-ndjson/);
      return r.body.getReader();
    };
    const readers = [await open(), await open()];
    const dec = new TextDecoder();
    const firstLine = async (rd) => {
      let buf = '';
      for (;;) {
        const { value, done } = await rd.read();
        if (done) throw new Error('stream ended');
        buf += dec.decode(value);
        const i = buf.indexOf('\n');
        if (i >= 0) return JSON.parse(buf.slice(0, i));
      }
    };
    const got = Promise.all(readers.map(firstLine));
    // make the server log something until both viewers saw a line
    let done = false;
    got.finally(() => { done = true; });
    (async () => { while (!done) { await fetch(sim.url + '/v1/models').catch(() => {}); await new Promise((r) => setTimeout(r, 200)); } })();
    const lines = await got;
    for (const l of lines) {
      assert.equal(typeof l.timestamp, 'number');
      assert.equal(l.data.type, 'server.log');
    }
    ac.abort();
    assert.equal((await api('/agent/v1/logs/stream?source=evil')).status, 400);
  });

  test('mcp.json: atomic write, backup kept, content valid, If-Match', T, async () => {
    const file = path.join(home, 'mcp.json');
    const g0 = await apiJson('/agent/v1/mcp.json');
    assert.equal(g0.status, 200);
    assert.equal(g0.json.exists, false);
    assert.equal(g0.json.path, file);

    const v1 = { mcpServers: { docs: { url: 'https://mcp.example.com/mcp', headers: { Authorization: 'Bearer x' } } } };
    const p1 = await apiJson('/agent/v1/mcp.json', { method: 'PUT', body: JSON.stringify(v1) });
    assert.equal(p1.status, 200, JSON.stringify(p1.json));
    assert.equal(p1.json.backup, false);
    assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')), v1);
    assert.equal(statSync(file).mode & 0o777, 0o600);

    const v2 = { mcpServers: { ...v1.mcpServers, fs: { command: 'npx', args: ['-y', '@modelcontextprotocol/server-filesystem', '/tmp'], env: { A: 'b' } } } };
    const p2 = await apiJson('/agent/v1/mcp.json', { method: 'PUT', body: JSON.stringify(v2), headers: { 'if-match': p1.json.etag } });
    assert.equal(p2.status, 200, JSON.stringify(p2.json));
    assert.equal(p2.json.backup, true);
    assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')), v2);
    assert.deepEqual(JSON.parse(readFileSync(file + '.bak', 'utf8')), v1, 'the previous file is kept');

    const g = await apiJson('/agent/v1/mcp.json');
    assert.equal(g.json.valid, true);
    assert.deepEqual(g.json.content, v2);
    assert.equal(g.json.etag, p2.json.etag);

    // a stale ETag -> 412 and nothing written
    const stale = await apiJson('/agent/v1/mcp.json', { method: 'PUT', body: JSON.stringify(v1), headers: { 'if-match': p1.json.etag } });
    assert.equal(stale.status, 412);
    assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')), v2);

    // invalid documents -> 422 / 400, the file untouched
    for (const bad of [{ mcpServers: { 'bad label!': { url: 'https://x.example' } } },
      { mcpServers: { a: { url: 'ftp://x.example' } } },
      { mcpServers: { a: { url: 'https://x.example', command: 'x' } } },
      { mcpServers: { a: { command: 'x', args: 'not-an-array' } } },
      { mcpServers: {}, other: 1 }, [1, 2]]) {
      const r = await api('/agent/v1/mcp.json', { method: 'PUT', body: JSON.stringify(bad) });
      assert.equal(r.status, 422, JSON.stringify(bad));
    }
    assert.equal((await api('/agent/v1/mcp.json', { method: 'PUT', body: '{"mcpServers": {}, "mcpServers": {}}' })).status, 400, 'duplicate keys');
    assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')), v2);
  });

  test('mcp.json: a crash mid-write leaves the old file; the leftover temp file is ignored then cleaned', T, async () => {
    const file = path.join(home, 'mcp.json');
    const before = readFileSync(file, 'utf8');
    // what a crash between the temp write and the rename leaves behind
    const leftover = path.join(home, '.mcp.json.tmp-0123456789abcdef');
    writeFileSync(leftover, '{"mcpServers": {"half": ', { mode: 0o600 });
    const g = await apiJson('/agent/v1/mcp.json');
    assert.equal(g.json.valid, true, 'the old file is what is read');
    assert.equal(readFileSync(file, 'utf8'), before);
    const p = await apiJson('/agent/v1/mcp.json', { method: 'PUT', body: JSON.stringify({ mcpServers: {} }) });
    assert.equal(p.status, 200);
    assert.ok(!existsSync(leftover), 'the next write removes the leftover');
    assert.deepEqual(readdirSync(home).filter((n) => n.includes('tmp')), []);
    assert.equal(readFileSync(file + '.bak', 'utf8'), before);
  });

  test('mcp.json: oversized bodies -> 413', T, async () => {
    const big = { mcpServers: { a: { command: 'x', args: Array.from({ length: 200 }, () => 'y'.repeat(2000)) } } };
    const r = await api('/agent/v1/mcp.json', { method: 'PUT', body: JSON.stringify(big) });
    assert.equal(r.status, 413);
    const huge = await api('/agent/v1/lms/load', { method: 'POST', body: 'x'.repeat(600 * 1024) }).catch(() => null);
    if (huge) assert.equal(huge.status, 413);
  });

  test('mcp.json: no path outside the LM Studio home (symlink, traversal)', T, async () => {
    const file = path.join(home, 'mcp.json');
    const outside = path.join(tmp.dir, 'outside.json');
    writeFileSync(outside, '{"mcpServers": {}}');
    const keep = readFileSync(file, 'utf8');
    unlinkSync(file);
    symlinkSync(outside, file);
    try {
      const g = await apiJson('/agent/v1/mcp.json');
      assert.equal(g.status, 403);
      assert.equal(g.json.error.code, 'outside_home');
      const p = await apiJson('/agent/v1/mcp.json', { method: 'PUT', body: JSON.stringify({ mcpServers: { x: { url: 'https://e.example' } } }) });
      assert.equal(p.status, 403);
      assert.equal(readFileSync(outside, 'utf8'), '{"mcpServers": {}}', 'the file outside is untouched');
    } finally { unlinkSync(file); writeFileSync(file, keep, { mode: 0o600 }); }
    const auth = { authorization: `Bearer ${token}` };
    for (const t of ['/agent/v1/mcp.json/../../../etc/passwd', '/agent/v1/../../etc/passwd',
      '/agent/v1/%2e%2e/%2e%2e/etc/passwd', '/agent/v1/mcp.json%2f..%2f..%2fetc%2fpasswd',
      '/agent/v1/mcp.json?path=/etc/passwd&file=../../x']) {
      const st = await rawGet(agent.port, t, auth);
      assert.ok(st === 404 || st === 400 || (st === 200 && t.includes('?')), `${t} -> ${st}`);
    }
    // the query string never chooses a file: still the home's mcp.json
    const q = await apiJson('/agent/v1/mcp.json?path=/etc/passwd');
    assert.equal(q.json.path, file);
  });

  test('lms command errors map to statuses (daemon down, then up fails on the stand-in)', T, async () => {
    const down = await apiJson('/agent/v1/lms/daemon-down', { method: 'POST' });
    assert.equal(down.status, 200, JSON.stringify(down.json));
    await until(async () => (await apiJson('/agent/v1/lms/daemon-status')).json.result?.status === 'not-running', 'daemon down');
    const ps = await apiJson('/agent/v1/lms/ps');
    assert.equal(ps.status, 502);
    assert.equal(ps.json.ok, false);
  });
});

describe('bind policy', () => {
  test('a non-loopback bind is refused without --insecure-listen, loudly allowed with it', T, async () => {
    const t = tempDir('dp-agent-bind-');
    try {
      const tf = path.join(t.dir, 'tok');
      const r = await run(bin('daemonpulse'), ['agent', '--bind', '0.0.0.0', '--port', '0', '--token-file', tf], { env: { HOME: t.dir } });
      assert.equal(r.code, 2);
      assert.match(r.stderr, /refusing to listen on 0\.0\.0\.0/);
      assert.match(r.stderr, /--insecure-listen/);
      assert.match(r.stderr, /SSH tunnel/);
      assert.ok(!existsSync(tf), 'nothing created when refused');
      const a = await startProc(bin('daemonpulse'), ['agent', '--bind', '0.0.0.0', '--port', '0', '--token-file', tf,
        '--insecure-listen', '--nvml-lib', 'off', '--lms-bin', '/nonexistent/lms'], { env: { HOME: t.dir } });
      try {
        assert.match(a.out.stderr, /CLEAR TEXT/);
        const h = await fetch(`http://127.0.0.1:${a.port}/agent/v1/health`);
        assert.equal(h.status, 200);
        const tok = readFileSync(tf, 'utf8').trim();
        const ps = await fetch(`http://127.0.0.1:${a.port}/agent/v1/lms/ps`, { headers: { authorization: `Bearer ${tok}` } });
        assert.equal(ps.status, 503, 'lms missing: unavailable');
      } finally { await a.stop(); }
      // a token file readable by others is refused
      const loose = path.join(t.dir, 'loose');
      writeFileSync(loose, 'dpa_' + 'a'.repeat(64) + '\n', { mode: 0o644 });
      const r2 = await run(bin('daemonpulse'), ['agent', '--port', '0', '--token-file', loose], { env: { HOME: t.dir } });
      assert.equal(r2.code, 1);
      assert.match(r2.stderr, /chmod 600/);
    } finally { t.cleanup(); }
  });
});

describe('control plane with two agents', () => {
  let cp, admin, simA, simB, agentA, agentB, tA, tB, idA, idB;

  before(async () => {
    tA = tempDir('dp-agentA-');
    tB = tempDir('dp-agentB-');
    mkdirSync(path.join(tA.dir, 'lms-home'));
    mkdirSync(path.join(tB.dir, 'lms-home'));
    simA = await startProc(bin('llmster-sim'), ['--port', '0', '--speed', '0', '--seed', '4']);
    simB = await startProc(bin('llmster-sim'), ['--port', '0', '--speed', '0', '--seed', '5']);
    cp = await startControlPlane({ args: ['--telemetry-interval-ms', '250', '--nvml-library', 'off'] });
    admin = new Client(cp.url);
    await admin.login(cp.admin.username, cp.admin.password);
    let r = await admin.post('/api/targets', { label: 'host-a', url: simA.url });
    assert.equal(r.status, 201, r.text);
    idA = r.json.target.id;
    r = await admin.post('/api/targets', { label: 'host-b', url: simB.url });
    assert.equal(r.status, 201, r.text);
    idB = r.json.target.id;
  });
  after(async () => {
    await stopClean(agentA, 'agent A');
    await stopClean(agentB, 'agent B');
    await stopClean(cp, 'control plane');
    await cp?.cleanup(); await simA?.stop(); await simB?.stop();
    tA?.cleanup(); tB?.cleanup();
  });

  test('without an agent: server start/stop -> 409 needs_agent (audited)', T, async () => {
    const r = await admin.post(`/api/targets/${idB}/server/stop`, {});
    assert.equal(r.status, 409);
    assert.equal(r.json.error.code, 'needs_agent');
    assert.match(r.json.error.message, /lms server start\/stop act only on the local machine/);
    const g = await admin.get(`/api/targets/${idB}/agent`);
    assert.equal(g.status, 200);
    assert.equal(g.json.enrolled, false);
  });

  const enrolAndStart = async (id, t, sim, env) => {
    const r = await admin.post(`/api/targets/${id}/agent`, {});
    assert.equal(r.status, 201, r.text);
    assert.match(r.json.token, /^dpa_[0-9a-f]{64}$/);
    assert.match(r.json.command, /^daemonpulse agent set-token --token-file \S+ && daemonpulse agent --token-file \S+ --port 3001$/);
    assert.equal(r.json.shown_once, true);
    assert.ok(!r.json.command.includes(r.json.token), 'the token is never on the command line');
    // on the host: set-token reads it from stdin
    const tf = path.join(t.dir, 'agent.token');
    const st = await run(bin('daemonpulse'), ['agent', 'set-token', '--token-file', tf], { stdin: r.json.token + '\n' });
    assert.equal(st.code, 0, st.stderr);
    assert.equal(statSync(tf).mode & 0o777, 0o600);
    const a = await startAgent({ dir: t.dir, sim, home: path.join(t.dir, 'lms-home'), env,
      extra: ['--nvml-lib', FAKE_NVML, '--procfs-root', PROC] });
    assert.ok(!a.out.stdout.includes('dpa_'), 'an existing token is not printed');
    // the agent listens on another port here: move the URL, the token stays
    const m = await admin.patch(`/api/targets/${id}/agent`, { url: a.url });
    assert.equal(m.status, 200, m.text);
    assert.equal(m.json.url, a.url);
    return { a, token: r.json.token };
  };

  test('enrolment returns the token and command once; two agents feed telemetry source "agent"', T, async () => {
    const env = { FAKE_NVML_SCENARIO: SCENARIO };
    const ea = await enrolAndStart(idA, tA, simA, env);
    agentA = ea.a;
    const eb = await enrolAndStart(idB, tB, simB, env);
    agentB = eb.a;
    assert.notEqual(ea.token, eb.token);
    for (const id of [idA, idB]) {
      const g = await admin.get(`/api/targets/${id}/agent`);
      assert.equal(g.json.enrolled, true);
      assert.ok(!('token' in g.json) && !('command' in g.json), 'never shown again');
      assert.ok(!g.text.includes('dpa_') || /dpa_[0-9a-f]{0,8}…/.test(g.json.token_hint), 'only a masked hint');
      const t = await until(async () => {
        const r = await admin.get(`/api/targets/${id}/telemetry`);
        return r.json?.source === 'agent' && r.json.available && r.json.gpus.length > 0 && r;
      }, `telemetry via the agent of target ${id}`);
      assert.equal(t.json.simulated, false);
      assert.equal(t.json.gpus.length, 2, 'two GPUs from the fake NVML on the agent host');
      assert.ok(t.json.gpus[0].memory.total_bytes > 0);
      assert.ok(t.json.ram.total_bytes > 0);
    }
    const list = await admin.get('/api/targets');
    for (const tg of list.json.targets) {
      assert.equal(tg.agent.enrolled, true, 'the targets list says which targets have an agent');
      assert.ok(!JSON.stringify(tg).includes(ea.token) && !JSON.stringify(tg).includes(eb.token));
    }
    // the database holds the token encrypted only
    const db = readFileSync(cp.db);
    assert.ok(!db.includes(Buffer.from(ea.token)) && !db.includes(Buffer.from(eb.token)), 'no plain token at rest');
  });

  test('server stop/start through the agent, audited', T, async () => {
    const stop = await admin.post(`/api/targets/${idA}/server/stop`, {});
    assert.equal(stop.status, 200, stop.text);
    assert.equal(stop.json.via, 'agent');
    const st = await run(bin('lms'), ['server', 'status', '--json'], { env: { LMS_SIM_PORT: String(simA.port) } });
    assert.equal(JSON.parse(st.stdout).running, false);
    const again = await admin.post(`/api/targets/${idA}/server/stop`, {});
    assert.equal(again.status, 502);
    assert.match(again.json.error.message, /not running/);
    assert.equal((await admin.post(`/api/targets/${idA}/server/start`, { argv: ['rm'] })).status, 400);
    const start = await admin.post(`/api/targets/${idA}/server/start`, { port: simA.port });
    assert.equal(start.status, 200, start.text);
    const st2 = await run(bin('lms'), ['server', 'status', '--json'], { env: { LMS_SIM_PORT: String(simA.port) } });
    assert.equal(JSON.parse(st2.stdout).running, true);

    const audit = await admin.get('/api/audit?action=target.&limit=100');
    assert.equal(audit.status, 200);
    const rows = audit.json.entries.map((e) => `${e.action} ${e.target} ${e.result}`);
    for (const want of [`target.server.stop target:${idB} denied`, `target.agent.enrol target:${idA} ok`,
      `target.agent.enrol target:${idB} ok`, `target.agent.update target:${idA} ok`,
      `target.server.stop target:${idA} ok`, `target.server.stop target:${idA} failed`,
      `target.server.start target:${idA} ok`]) {
      assert.ok(rows.includes(want), `audit row '${want}' in ${JSON.stringify(rows)}`);
    }
    assert.ok(!JSON.stringify(audit.json).includes('dpa_'), 'no token in the audit');
  });

  test('rotation: the old token stops working until set-token + SIGHUP; removal falls back', T, async () => {
    const r = await admin.post(`/api/targets/${idB}/agent`, { url: agentB.url });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.rotated, true);
    const t = await until(async () => {
      const x = await admin.get(`/api/targets/${idB}/telemetry`);
      return x.json?.reason?.code === 'agent_unauthorized' && x;
    }, 'the agent refusing the new token');
    assert.equal(t.json.available, false);
    // on the host: set-token with the new token, then SIGHUP (systemctl reload) re-reads it
    const st = await run(bin('daemonpulse'), ['agent', 'set-token', '--token-file', agentB.tokenFile], { stdin: r.json.token + '\n' });
    assert.equal(st.code, 0, st.stderr);
    agentB.proc.kill('SIGHUP');
    await until(async () => {
      const x = await admin.get(`/api/targets/${idB}/telemetry`);
      return x.json?.source === 'agent' && x.json.available && x;
    }, 'telemetry back after the reload');
    // the other way round: the token the agent printed at its first start, pasted here
    assert.equal((await admin.post(`/api/targets/${idB}/agent`, { url: agentB.url, token: 'dpa_short' })).status, 400);
    const own = readFileSync(agentB.tokenFile, 'utf8').trim();
    const p = await admin.post(`/api/targets/${idB}/agent`, { url: agentB.url, token: own });
    assert.equal(p.status, 200, p.text);
    assert.equal(p.json.token, null, 'a pasted token is not echoed');
    assert.equal(p.json.token_source, 'agent');
    assert.ok(!p.json.command.includes('set-token'));
    const after = await admin.get(`/api/targets/${idB}/telemetry`);
    assert.equal(after.json.source, 'agent');
    const del = await admin.del(`/api/targets/${idB}/agent`);
    assert.equal(del.status, 204);
    const s = await admin.post(`/api/targets/${idB}/server/start`, {});
    assert.equal(s.status, 409);
  });

  test('roles: viewers see enrolment state, only admins enrol, operators run lifecycle', T, async () => {
    const anon = new Client(cp.url);
    assert.equal((await anon.get(`/api/targets/${idA}/agent`)).status, 401);
    assert.equal((await anon.post(`/api/targets/${idA}/server/stop`, {})).status, 401);
    const user = async (role) => {
      const password = 'pw-' + Math.random().toString(36).slice(2) + 'xyz123';
      const r = await admin.post('/api/users', { username: role + '1', password, role });
      assert.equal(r.status, 201, r.text);
      const c = new Client(cp.url);
      await c.login(role + '1', password);
      return c;
    };
    const viewer = await user('viewer');
    const operator = await user('operator');
    const g = await viewer.get(`/api/targets/${idA}/agent`);
    assert.equal(g.status, 200);
    assert.equal(g.json.enrolled, true);
    assert.equal((await viewer.post(`/api/targets/${idA}/server/stop`, {})).status, 403);
    assert.equal((await operator.post(`/api/targets/${idA}/agent`, {})).status, 403);
    assert.equal((await operator.del(`/api/targets/${idA}/agent`)).status, 403);
    const stop = await operator.post(`/api/targets/${idA}/server/stop`, {});
    assert.equal(stop.status, 200, stop.text);
    const start = await operator.post(`/api/targets/${idA}/server/start`, { port: simA.port });
    assert.equal(start.status, 200, start.text);
    const audit = await admin.get(`/api/audit?action=target.server.&user=operator1`);
    assert.equal(audit.json.entries.length, 2);
  });
  // last: daemon down stops simulator A
  test('host info through the agent; daemon down/up through the agent', T, async () => {
    const info = await admin.get(`/api/targets/${idA}/agent/info`);
    assert.equal(info.status, 200, info.text);
    assert.equal(typeof info.json.hostname, 'string');
    assert.ok(info.json.ram.total_bytes > 0);
    assert.equal(info.json.telemetry_source, 'nvml');
    assert.equal((await admin.get(`/api/targets/${idB}/agent/info`)).status, 409, 'B has no agent any more');
    assert.equal((await admin.post(`/api/targets/${idB}/daemon/down`, {})).json.error.code, 'needs_agent');
    assert.equal((await admin.post(`/api/targets/${idA}/daemon/down`, { force: true })).status, 400);
    const down = await admin.post(`/api/targets/${idA}/daemon/down`, {});
    assert.equal(down.status, 200, down.text);
    assert.equal(down.json.kind, 'daemon');
    await until(async () => {
      const st = await run(bin('lms'), ['daemon', 'status', '--json'], { env: { LMS_SIM_PORT: String(simA.port) } });
      return JSON.parse(st.stdout).status === 'not-running';
    }, 'the daemon down');
    // the stand-in cannot start a simulator: lms daemon up exits 1 and that is what we see
    const up = await admin.post(`/api/targets/${idA}/daemon/up`, {});
    assert.equal(up.status, 502, up.text);
    const audit = await admin.get('/api/audit?action=target.daemon.&limit=20');
    const rows = audit.json.entries.map((e) => `${e.action} ${e.target} ${e.result}`);
    for (const want of [`target.daemon.down target:${idA} ok`, `target.daemon.up target:${idA} failed`,
      `target.daemon.down target:${idB} denied`]) assert.ok(rows.includes(want), `${want} in ${JSON.stringify(rows)}`);
  });
});
