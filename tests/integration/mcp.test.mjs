// mcp.test.mjs - the Toolchain against a real MCP server: the pinned
// @modelcontextprotocol/server-everything (tests/mcp/package.json) started on
// loopback over streamable HTTP, legacy HTTP+SSE and stdio (an mcp.json
// entry of this host). Registration with write-only header values, discovery
// over each transport (tools, parameters, badges, pending review), roles,
// policy, auto-allow of read-only tools, identity change back to review, the
// integrations preview, a toolchain run whose upstream (a fake LM Studio
// here: the simulator does not call MCP tools) receives an explicit
// allowed_tools list and streams tool calls, the audit with a violation and
// /metrics, mcp.json editing (atomic write + backup), a 401 with
// WWW-Authenticate reported as needs_oauth, and a session that disappears
// (re-initialised once) with a paginated JSON-answering server.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import path from 'node:path';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { startControlPlane, Client, tempDir, ROOT } from '../lib/harness.mjs';
import { EVERYTHING as EV, startEverything } from '../lib/mcp.mjs';

const T = { timeout: 120000 };
const HEADER_SECRET = 'topsecret-header-value-4821';
const ENV_SECRET = 's3cret-env-value-9917';

let cp, admin, oper, viewer, tmp, mcpJson, tid;
let evHttp, evSse, fake;
const procs = [];
const upstreamBodies = [];
let toolPlan = [];            // what the fake LM Studio "calls"
let sessionGoneDeletes = 0;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// A fake LM Studio (/api/v1/chat streaming tool calls from toolPlan) that
// also plays two small MCP servers: /oauth-mcp (401 + WWW-Authenticate) and
// /gone-mcp (JSON answers, drops the first session, two pages of tools).
function startFake() {
  let sessions = 0;
  const srv = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      const url = new URL(req.url, 'http://x');
      if (url.pathname === '/api/v1/models') {
        res.writeHead(200, { 'content-type': 'application/json' });
        return res.end(JSON.stringify({ models: [] }));
      }
      if (url.pathname === '/api/v1/chat' && req.method === 'POST') {
        const b = JSON.parse(body);
        upstreamBodies.push(b);
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        const ev = (type, data) => res.write(`event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`);
        ev('chat.start', { model_instance_id: b.model });
        for (const call of toolPlan) {
          const pi = call.provider_info;
          ev('tool_call.start', { tool: call.tool, provider_info: pi });
          ev('tool_call.arguments', { tool: call.tool, arguments: call.arguments, provider_info: pi });
          ev('tool_call.success', { tool: call.tool, arguments: call.arguments, output: call.output, provider_info: pi });
        }
        ev('message.start', {});
        ev('message.delta', { content: 'done' });
        ev('message.end', {});
        ev('chat.end', { result: { output: [], stats: { total_output_tokens: 1 } } });
        return res.end();
      }
      if (url.pathname === '/oauth-mcp') {
        res.writeHead(401, { 'www-authenticate': 'Bearer resource_metadata="http://127.0.0.1/.well-known/oauth-protected-resource"', 'content-type': 'application/json' });
        return res.end('{"error":"unauthorized"}');
      }
      if (url.pathname === '/gone-mcp') {
        const sid = req.headers['mcp-session-id'];
        if (req.method === 'DELETE') { sessionGoneDeletes++; res.writeHead(200); return res.end(); }
        const m = JSON.parse(body || '{}');
        if (m.method === 'initialize') {
          sessions++;
          res.writeHead(200, { 'content-type': 'application/json', 'mcp-session-id': `s${sessions}` });
          return res.end(JSON.stringify({ jsonrpc: '2.0', id: m.id, result: { protocolVersion: '2025-06-18',
            capabilities: { tools: {} }, serverInfo: { name: 'gone', version: '1' } } }));
        }
        if (!m.id) { res.writeHead(202); return res.end(); }
        if (sid === 's1') { res.writeHead(404); return res.end(); }   // the first session is gone
        assert.equal(req.headers['mcp-protocol-version'], '2025-06-18');
        const page2 = m.params && m.params.cursor === 'p2';
        res.writeHead(200, { 'content-type': 'application/json' });
        return res.end(JSON.stringify({ jsonrpc: '2.0', id: m.id, result: page2
          ? { tools: [{ name: 'two', inputSchema: { type: 'object' } }] }
          : { tools: [{ name: 'one', inputSchema: { type: 'object' } }], nextCursor: 'p2' } }));
      }
      res.writeHead(404);
      res.end();
    });
  });
  return new Promise((resolve) => srv.listen(0, '127.0.0.1', () => resolve({ srv, url: `http://127.0.0.1:${srv.address().port}` })));
}

async function runChat(client, body) {
  const h = { 'content-type': 'application/json', origin: client.origin, cookie: client.cookie };
  const res = await fetch(`${cp.url}/api/targets/${tid}/toolchain/run`, { method: 'POST', headers: h, body: JSON.stringify(body) });
  const ct = res.headers.get('content-type') || '';
  if (!ct.startsWith('text/event-stream')) return { status: res.status, json: await res.json().catch(() => null), events: [] };
  const text = await res.text();
  const events = [];
  for (const block of text.replace(/\r\n?/g, '\n').split('\n\n')) {
    let name = 'message'; const data = [];
    for (const line of block.split('\n')) {
      if (line.startsWith('event:')) name = line.slice(6).trim();
      else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
    }
    if (data.length) events.push([name, JSON.parse(data.join('\n'))]);
  }
  return { status: res.status, events };
}

const serverByLabel = async (label) => (await admin.get(`/api/targets/${tid}/mcp`)).json.servers.find((s) => s.label === label);

before(async () => {
  assert.ok(existsSync(EV), 'run `npm ci` in tests/mcp (scripts/deps.sh does)');
  tmp = tempDir('dp-mcp-');
  mcpJson = path.join(tmp.dir, 'mcp.json');
  writeFileSync(mcpJson, JSON.stringify({ mcpServers: { 'ev-stdio': { command: process.execPath, args: [EV, 'stdio'], env: { DP_TEST_SECRET: ENV_SECRET } } }, otherTopLevel: 1 }, null, 2));
  [evHttp, evSse, fake] = await Promise.all([startEverything(procs, 'streamableHttp'), startEverything(procs, 'sse'), startFake()]);
  cp = await startControlPlane({ env: { DP_MCP_JSON: mcpJson } });
  admin = new Client(cp.url);
  await admin.login(cp.admin.username, cp.admin.password);
  for (const [u, role] of [['oper', 'operator'], ['view', 'viewer']]) {
    const r = await admin.post('/api/users', { username: u, password: 'pw-' + u + '-long-enough-1', role });
    assert.equal(r.status, 201, r.text);
  }
  oper = new Client(cp.url); await oper.login('oper', 'pw-oper-long-enough-1');
  viewer = new Client(cp.url); await viewer.login('view', 'pw-view-long-enough-1');
  const r = await admin.post('/api/targets', { label: 'local-lm', url: fake.url });
  assert.equal(r.status, 201, r.text);
  tid = r.json.target.id;
});

after(async () => {
  await cp?.cleanup();
  for (const p of procs) p.kill('SIGTERM');
  fake?.srv.close();
  tmp?.cleanup();
});

test('register ephemeral servers: admin only, header values write-only', T, async () => {
  let r = await oper.post(`/api/targets/${tid}/mcp/servers`, { label: 'x', url: 'http://127.0.0.1:1/mcp' });
  assert.equal(r.status, 403);
  r = await admin.post(`/api/targets/${tid}/mcp/servers`, { label: 'bad label', url: 'http://127.0.0.1:1/mcp' });
  assert.equal(r.status, 400);
  r = await admin.post(`/api/targets/${tid}/mcp/servers`, { label: 'x', url: 'ftp://127.0.0.1/mcp' });
  assert.equal(r.status, 400);
  r = await admin.post(`/api/targets/${tid}/mcp/servers`, { label: 'x', url: 'http://127.0.0.1:1/mcp', headers: { 'Mcp-Session-Id': 'x' } });
  assert.equal(r.status, 400);
  r = await admin.post(`/api/targets/${tid}/mcp/servers`, { label: 'ev-http', url: `http://127.0.0.1:${evHttp.port}/mcp`, headers: { 'X-Api-Key': HEADER_SECRET } });
  assert.equal(r.status, 201, r.text);
  assert.deepEqual(r.json.server.header_names, ['X-Api-Key']);
  assert.equal(r.json.server.discovery.status, 'never');
  assert.ok(!r.text.includes(HEADER_SECRET));
  r = await admin.post(`/api/targets/${tid}/mcp/servers`, { label: 'ev-http', url: `http://127.0.0.1:${evHttp.port}/mcp` });
  assert.equal(r.status, 409);
  r = await admin.post(`/api/targets/${tid}/mcp/servers`, { label: 'ev-sse', url: `http://127.0.0.1:${evSse.port}/sse` });
  assert.equal(r.status, 201, r.text);
  const list = await viewer.get(`/api/targets/${tid}/mcp`);
  assert.equal(list.status, 200);
  assert.equal(list.json.mcp_json.local, true);
  assert.equal(list.json.mcp_json.available, true);
  assert.deepEqual(list.json.servers.map((s) => s.label).sort(), ['ev-http', 'ev-sse', 'ev-stdio']);
  const st = list.json.servers.find((s) => s.label === 'ev-stdio');
  assert.equal(st.kind, 'mcp_json');
  assert.equal(st.transport, 'stdio');
  assert.deepEqual(st.env_names, ['DP_TEST_SECRET']);
  assert.deepEqual(st.integration, { type: 'plugin', id: 'mcp/ev-stdio' });
  assert.ok(!list.text.includes(HEADER_SECRET) && !list.text.includes(ENV_SECRET));
});

test('discovery over streamable HTTP, legacy SSE and stdio', T, async () => {
  const want = ['echo', 'get-sum', 'get-env', 'get-tiny-image'];
  for (const [label, transport] of [['ev-http', 'streamable_http'], ['ev-sse', 'sse'], ['ev-stdio', 'stdio']]) {
    const s = await serverByLabel(label);
    const r = await (label === 'ev-stdio' ? admin : oper).post(`/api/targets/${tid}/mcp/servers/${s.id}/discover`, {});
    assert.equal(r.status, 200, r.text);
    const d = r.json.server.discovery;
    assert.equal(d.status, 'ok', `${label}: ${d.code} ${d.message}`);
    assert.equal(d.transport, transport);
    assert.equal(d.protocol_version, '2025-11-25');
    assert.equal(d.server_info.name, 'mcp-servers/everything');
    const names = r.json.tools.map((t) => t.name);
    for (const n of want) assert.ok(names.includes(n), `${label} lists ${n}`);
    assert.ok(r.json.changes.new.length >= 13);
    const sum = r.json.tools.find((t) => t.name === 'get-sum');
    assert.deepEqual(sum.parameters.map((p) => [p.name, p.required]), [['a', true], ['b', true]]);
    assert.equal(sum.badges.read_only, true);
    assert.equal(sum.badges.destructive, false);
    assert.equal(sum.policy.state, 'pending');
    assert.equal(sum.policy.effective, 'deny');
    assert.equal(sum.policy.reason, 'new');
    assert.ok(sum.first_seen_at && sum.last_seen_at);
    assert.equal(r.json.server.allowed_count, 0);
    assert.ok(!r.text.includes(HEADER_SECRET) && !r.text.includes(ENV_SECRET));
  }
  // re-discovery: nothing new
  const s = await serverByLabel('ev-http');
  const again = await oper.post(`/api/targets/${tid}/mcp/servers/${s.id}/discover`, {});
  assert.deepEqual(again.json.changes, { new: [], changed: [], removed: [] });
  // stdio discovery spawns a command: operators may not
  const st = await serverByLabel('ev-stdio');
  assert.equal((await oper.post(`/api/targets/${tid}/mcp/servers/${st.id}/discover`, {})).status, 403);
  assert.equal((await viewer.post(`/api/targets/${tid}/mcp/servers/${s.id}/discover`, {})).status, 403);
});

test('a 401 with WWW-Authenticate is needs_oauth; a gone session is re-initialised once; pagination', T, async () => {
  let r = await admin.post(`/api/targets/${tid}/mcp/servers`, { label: 'oauth', url: `${fake.url}/oauth-mcp` });
  assert.equal(r.status, 201);
  r = await oper.post(`/api/targets/${tid}/mcp/servers/${r.json.server.id}/discover`, {});
  assert.equal(r.json.server.discovery.status, 'needs_oauth');
  assert.match(r.json.server.discovery.message, /needs OAuth: use it through the host's mcp.json/);
  r = await admin.post(`/api/targets/${tid}/mcp/servers`, { label: 'gone', url: `${fake.url}/gone-mcp` });
  r = await oper.post(`/api/targets/${tid}/mcp/servers/${r.json.server.id}/discover`, {});
  assert.equal(r.json.server.discovery.status, 'ok', r.text);
  assert.equal(r.json.server.discovery.protocol_version, '2025-06-18');
  assert.deepEqual(r.json.tools.map((t) => t.name), ['one', 'two']);
  assert.ok(sessionGoneDeletes >= 1, 'the session is ended with DELETE');
  r = await admin.post(`/api/targets/${tid}/mcp/servers`, { label: 'nothing', url: 'http://127.0.0.1:1/mcp' });
  r = await oper.post(`/api/targets/${tid}/mcp/servers/${r.json.server.id}/discover`, {});
  assert.equal(r.json.server.discovery.status, 'failed');
  assert.equal(r.json.server.discovery.code, 'stopped');
});

test('policy, dispatch with explicit allowed_tools, tool-call audit and violations', T, async () => {
  const s = await serverByLabel('ev-http');
  const base = `/api/targets/${tid}/mcp/servers/${s.id}`;
  // nothing allowed: not attached, a run is refused
  let r = await oper.get(`/api/targets/${tid}/toolchain/integrations?servers=${s.id}`);
  assert.equal(r.status, 200);
  assert.deepEqual(r.json.integrations, []);
  assert.deepEqual(r.json.skipped, [{ server_id: s.id, reason: 'nothing_allowed' }]);
  r = await runChat(oper, { model: 'm', messages: [{ role: 'user', content: 'hi' }], servers: [s.id], save: false });
  assert.equal(r.status, 409);
  assert.equal(r.json.error.code, 'no_tools');

  assert.equal((await oper.put(`${base}/policy`, { tools: { echo: 'allow' } })).status, 403);
  assert.equal((await admin.put(`${base}/policy`, { tools: { nope: 'allow' } })).status, 400);
  r = await admin.put(`${base}/policy`, { tools: { echo: 'allow', 'get-sum': 'allow', 'get-env': 'deny' } });
  assert.equal(r.status, 200, r.text);
  const by = Object.fromEntries(r.json.tools.map((t) => [t.name, t.policy]));
  assert.equal(by.echo.state, 'allow');
  assert.equal(by.echo.source, 'admin');
  assert.equal(by.echo.decided_by, 'admin');
  assert.equal(by['get-env'].state, 'deny');
  assert.equal(r.json.server.allowed_count, 2);

  r = await oper.get(`/api/targets/${tid}/toolchain/integrations?servers=${s.id}`);
  assert.deepEqual(r.json.integrations, [{ server_id: s.id, integration: { type: 'ephemeral_mcp', server_label: 'ev-http',
    server_url: `http://127.0.0.1:${evHttp.port}/mcp`, allowed_tools: ['echo', 'get-sum'], headers: { 'X-Api-Key': '(hidden)' } } }]);

  const pi = { type: 'ephemeral_mcp', server_label: 'ev-http' };
  toolPlan = [
    { tool: 'get-sum', arguments: { a: 2, b: 3 }, output: 'The sum of 2 and 3 is 5.', provider_info: pi },
    { tool: 'get-env', arguments: {}, output: '{}', provider_info: pi },
  ];
  r = await runChat(oper, { model: 'm', messages: [{ role: 'user', content: 'add 2 and 3 with get-sum' }], servers: [s.id], save: false });
  assert.equal(r.status, 200);
  const up = upstreamBodies.at(-1);
  assert.deepEqual(up.integrations, [{ type: 'ephemeral_mcp', server_label: 'ev-http', server_url: `http://127.0.0.1:${evHttp.port}/mcp`,
    allowed_tools: ['echo', 'get-sum'], headers: { 'X-Api-Key': HEADER_SECRET } }]);
  const calls = r.events.filter(([n]) => n === 'tool_call').map(([, j]) => [j.phase, j.tool]);
  assert.deepEqual(calls.slice(0, 3), [['start', 'get-sum'], ['arguments', 'get-sum'], ['success', 'get-sum']]);
  assert.ok(!JSON.stringify(r.events).includes(HEADER_SECRET));
  assert.equal(r.events.at(-1)[0], 'end');

  let audit;
  for (let i = 0; i < 50; i++) {
    audit = await admin.get('/api/audit?action=mcp.tool_call&limit=50');
    if (audit.json.entries.length >= 2) break;
    await sleep(50);
  }
  const entries = audit.json.entries;
  const ok = entries.find((e) => e.detail.tool === 'get-sum');
  assert.equal(ok.result, 'ok');
  assert.equal(ok.username, 'oper');
  assert.equal(ok.target, 'local-lm');
  assert.equal(ok.detail.server, 'ev-http');
  assert.equal(ok.detail.arguments, '{"a":2,"b":3}');
  assert.equal(ok.detail.violation, false);
  assert.match(ok.detail.request_id, /^c_/);
  const bad = entries.find((e) => e.detail.tool === 'get-env');
  assert.equal(bad.result, 'violation');
  assert.equal(bad.detail.violation, true);
  const metrics = await admin.get('/metrics');
  assert.match(metrics.text, /daemonpulse_mcp_tool_violations_total 1\b/);
  assert.match(metrics.text, /daemonpulse_mcp_tool_calls_total\{outcome="success"\} 1\b/);
});

test('auto-allow read-only tools; an identity change sends decisions back to review', T, async () => {
  const s = await serverByLabel('ev-sse');
  const base = `/api/targets/${tid}/mcp/servers/${s.id}`;
  let r = await admin.put(`${base}/policy`, { auto_allow_read_only: true });
  assert.equal(r.status, 200, r.text);
  const by = Object.fromEntries(r.json.tools.map((t) => [t.name, t.policy]));
  assert.deepEqual([by['get-sum'].effective, by['get-sum'].source, by['get-sum'].state], ['allow', 'auto_read_only', 'pending']);
  assert.equal(by['toggle-simulated-logging'].effective, 'deny'); // not read-only
  assert.equal(r.json.server.auto_allow_read_only, true);

  const h = await serverByLabel('ev-http');
  const before = h.identity;
  r = await admin.patch(`/api/targets/${tid}/mcp/servers/${h.id}`, { headers: { 'X-Api-Key': null } }); // keep the value
  assert.equal(r.json.server.identity, before);
  r = await admin.patch(`/api/targets/${tid}/mcp/servers/${h.id}`, { headers: { 'X-Api-Key': 'another-value-xyz' } });
  assert.equal(r.status, 200, r.text);
  assert.notEqual(r.json.server.identity, before);
  assert.ok(!r.text.includes('another-value-xyz'));
  r = await viewer.get(`/api/targets/${tid}/mcp/servers/${h.id}/tools`);
  const echo = r.json.tools.find((t) => t.name === 'echo');
  assert.deepEqual([echo.policy.state, echo.policy.reason, echo.policy.effective], ['pending', 'identity_changed', 'deny']);
  assert.equal(r.json.server.allowed_count, 0);
});

test('mcp.json entries: validated, atomic write with backup, values write-only', T, async () => {
  assert.equal((await oper.put(`/api/targets/${tid}/mcp/mcp-json/remote1`, { url: 'https://example.com/mcp' })).status, 403);
  assert.equal((await admin.put(`/api/targets/${tid}/mcp/mcp-json/remote1`, { url: 'https://example.com/mcp', command: 'x' })).status, 400);
  let r = await admin.put(`/api/targets/${tid}/mcp/mcp-json/remote1`, { url: 'https://example.com/mcp', headers: { Authorization: 'Bearer hf_abcdefgh' } });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.server.kind, 'mcp_json');
  assert.deepEqual(r.json.server.header_names, ['Authorization']);
  assert.ok(!r.text.includes('hf_abcdefgh'));
  const file = JSON.parse(readFileSync(mcpJson, 'utf8'));
  assert.equal(file.otherTopLevel, 1);
  assert.equal(file.mcpServers.remote1.headers.Authorization, 'Bearer hf_abcdefgh');
  assert.ok(file.mcpServers['ev-stdio']);
  assert.ok(existsSync(mcpJson + '.bak'));
  // keep the value with null
  r = await admin.put(`/api/targets/${tid}/mcp/mcp-json/remote1`, { url: 'https://example.com/mcp2', headers: { Authorization: null } });
  assert.equal(JSON.parse(readFileSync(mcpJson, 'utf8')).mcpServers.remote1.headers.Authorization, 'Bearer hf_abcdefgh');
  const id = r.json.server.id;
  r = await admin.del(`/api/targets/${tid}/mcp/mcp-json/remote1`);
  assert.equal(r.status, 204);
  assert.equal(JSON.parse(readFileSync(mcpJson, 'utf8')).mcpServers.remote1, undefined);
  const gone = (await admin.get(`/api/targets/${tid}/mcp`)).json.servers.find((x) => x.id === id);
  assert.equal(gone.in_mcp_json, false);
  assert.equal((await admin.del(`/api/targets/${tid}/mcp/mcp-json/remote1`)).status, 404);
  assert.equal((await admin.del(`/api/targets/${tid}/mcp/servers/${id}`)).status, 204);
});

test('a remote target says honestly that mcp.json needs the agent', T, async () => {
  const r = await admin.post('/api/targets', { label: 'remote-lm', url: 'http://10.255.255.1:1234' });
  assert.equal(r.status, 201, r.text);
  const l = await admin.get(`/api/targets/${r.json.target.id}/mcp`);
  assert.equal(l.json.mcp_json.available, false);
  assert.equal(l.json.mcp_json.error.code, 'agent_required');
  assert.equal((await admin.put(`/api/targets/${r.json.target.id}/mcp/mcp-json/x`, { url: 'https://e.com/mcp' })).status, 409);
});

test('end to end with llmster-sim: allowed tools only, the real MCP server called, tool calls in the stream and the audit', T, async () => {
  const { startProc, bin } = await import('../lib/harness.mjs');
  const sim = await startProc(bin('llmster-sim'), ['--port', '0', '--speed', '0', '--seed', '5']);
  try {
    let r = await admin.post('/api/targets', { label: 'sim-lm', url: sim.url });
    assert.equal(r.status, 201, r.text);
    const simTid = r.json.target.id;
    r = await admin.post(`/api/targets/${simTid}/mcp/servers`, { label: 'everything', url: `http://127.0.0.1:${evHttp.port}/mcp` });
    const sid = r.json.server.id;
    r = await oper.post(`/api/targets/${simTid}/mcp/servers/${sid}/discover`, {});
    assert.equal(r.json.server.discovery.status, 'ok', r.text);
    r = await admin.put(`/api/targets/${simTid}/mcp/servers/${sid}/policy`, { tools: { echo: 'allow', 'get-sum': 'allow' } });
    assert.equal(r.status, 200);
    const run = async (content) => {
      const h = { 'content-type': 'application/json', origin: oper.origin, cookie: oper.cookie };
      const res = await fetch(`${cp.url}/api/targets/${simTid}/toolchain/run`, { method: 'POST', headers: h,
        body: JSON.stringify({ model: 'qwen/qwen3-8b', messages: [{ role: 'user', content }], servers: [sid], max_tokens: 8, save: false }) });
      assert.equal(res.status, 200);
      const text = await res.text();
      return text.split('\n\n').filter((b) => b.includes('data:')).map((b) => {
        const name = (/^event: (.*)$/m.exec(b) || [])[1];
        return [name, JSON.parse(/^data: (.*)$/m.exec(b)[1])];
      });
    };
    // the prompt names an allowed tool: the simulator calls it on the real server
    let evs = await run('please call get-sum with {"a":20,"b":22}');
    const calls = evs.filter(([n]) => n === 'tool_call').map(([, j]) => j);
    assert.deepEqual(calls.map((c) => c.phase), ['start', 'arguments', 'success']);
    assert.equal(calls[2].tool, 'get-sum');
    assert.equal(calls[2].output, 'The sum of 20 and 22 is 42.');
    assert.deepEqual(calls[2].provider_info, { type: 'ephemeral_mcp', server_label: 'everything' });
    // a tool that is not allowed is never called (it is not in allowed_tools)
    evs = await run('please call get-env now');
    assert.equal(evs.filter(([n]) => n === 'tool_call').length, 0);
    assert.equal(evs.at(-1)[0], 'end');
    let entry;
    for (let i = 0; i < 50 && !entry; i++) {
      const a = await admin.get('/api/audit?action=mcp.tool_call&limit=50');
      entry = a.json.entries.find((e) => e.target === 'sim-lm');
      if (!entry) await sleep(50);
    }
    assert.equal(entry.result, 'ok');
    assert.equal(entry.detail.tool, 'get-sum');
    assert.equal(entry.detail.arguments, '{"a":20,"b":22}');
    assert.equal(entry.detail.outcome, 'success');
  } finally {
    await sim.stop();
  }
});
