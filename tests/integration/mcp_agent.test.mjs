// mcp_agent.test.mjs - the Toolchain's mcp.json of another host through its
// DaemonPulse agent (docs/api-mcp.md, docs/agent.md): an agent on loopback
// with a temporary LM Studio home, enrolled on a remote target; the registry
// lists the host's entries, adds / edits / removes one through the agent
// (same validation, atomic write with mcp.json.bak on the host, an entry
// added on the host meanwhile is kept), an invalid host file and an agent
// that is down are reported, a url entry is discovered from here with the
// host file's headers, stdio and host-loopback entries fail honestly, and the local
// mcp.json of the control plane's host is never touched.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { existsSync, mkdirSync, readFileSync, writeFileSync, statSync } from 'node:fs';
import { startProc, startControlPlane, bin, tempDir, Client } from '../lib/harness.mjs';

const T = { timeout: 120000 };
const SECRET = 'Bearer hf_agent_secret_7731';

let cp, admin, oper, tmp, home, file, localJson, agent, tid;

async function stopClean(p, what) {
  if (!p) return;
  const closed = p.proc.exitCode === null && p.proc.signalCode === null
    ? new Promise((r) => p.proc.once('close', r)) : Promise.resolve();
  await p.stop();
  await closed;
  assert.doesNotMatch(p.out.stderr, /Sanitizer|runtime error:/, `${what}: sanitizer report`);
}

before(async () => {
  tmp = tempDir('dp-mcp-agent-');
  home = path.join(tmp.dir, 'lmstudio');
  mkdirSync(home);
  file = path.join(home, 'mcp.json');
  writeFileSync(file, JSON.stringify({
    mcpServers: {
      docs: { url: 'https://mcp.example.com/mcp', headers: { Authorization: SECRET } },
      fs: { command: 'npx', args: ['-y', '@modelcontextprotocol/server-filesystem', '/tmp'], env: { TOKEN: 'env-secret-55' } },
    },
  }), { mode: 0o600 });
  localJson = path.join(tmp.dir, 'local-mcp.json'); // this host's file: must stay untouched
  agent = await startProc(bin('daemonpulse'), ['agent', '--port', '0', '--token-file', path.join(tmp.dir, 'agent.token'),
    '--lms-bin', path.join(tmp.dir, 'no-lms'), '--lmstudio-home', home, '--nvml-lib', 'off', '--interval-ms', '60000'],
  { env: { HOME: tmp.dir } });
  cp = await startControlPlane({ env: { DP_MCP_JSON: localJson }, args: ['--nvml-library', 'off'] });
  admin = new Client(cp.url);
  await admin.login(cp.admin.username, cp.admin.password);
  let r = await admin.post('/api/targets', { label: 'gpu-host', url: 'http://10.255.255.1:1234' });
  assert.equal(r.status, 201, r.text);
  tid = r.json.target.id;
  // the token the agent created at its first start, pasted at enrolment
  const token = readFileSync(path.join(tmp.dir, 'agent.token'), 'utf8').trim();
  r = await admin.post(`/api/targets/${tid}/agent`, { url: agent.url, token });
  assert.equal(r.status, 201, r.text);
  r = await admin.post('/api/users', { username: 'op', password: 'operator-password-1', role: 'operator' });
  assert.equal(r.status, 201, r.text);
  oper = new Client(cp.url);
  await oper.login('op', 'operator-password-1');
});

after(async () => {
  await stopClean(cp, 'control plane');
  await cp?.cleanup();
  await stopClean(agent, 'agent');
  tmp?.cleanup();
});

test('GET lists the host mcp.json entries through the agent (values never returned)', T, async () => {
  const r = await oper.get(`/api/targets/${tid}/mcp`);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.mcp_json.available, true, r.text);
  assert.equal(r.json.mcp_json.local, false);
  assert.equal(r.json.mcp_json.via_agent, true);
  assert.equal(r.json.mcp_json.exists, true);
  assert.equal(r.json.mcp_json.path, file);
  const docs = r.json.servers.find((s) => s.label === 'docs');
  const fs = r.json.servers.find((s) => s.label === 'fs');
  assert.equal(docs.kind, 'mcp_json');
  assert.equal(docs.transport, 'http');
  assert.deepEqual(docs.header_names, ['Authorization']);
  assert.equal(docs.in_mcp_json, true);
  assert.equal(fs.transport, 'stdio');
  assert.deepEqual(fs.env_names, ['TOKEN']);
  assert.ok(!r.text.includes('hf_agent_secret') && !r.text.includes('env-secret-55'), 'values are write-only');
  assert.ok(!existsSync(localJson), 'the control plane host file is not used');
});

test('add, edit, remove an entry through the agent: file, backup, validation', T, async () => {
  assert.equal((await oper.put(`/api/targets/${tid}/mcp/mcp-json/hf`, { url: 'https://huggingface.co/mcp' })).status, 403);
  let r = await admin.put(`/api/targets/${tid}/mcp/mcp-json/hf`, { url: 'https://huggingface.co/mcp', command: 'x' });
  assert.equal(r.status, 400, r.text);
  r = await admin.put(`/api/targets/${tid}/mcp/mcp-json/bad%20label`, { url: 'https://huggingface.co/mcp' });
  assert.equal(r.status, 400, r.text);
  assert.equal((await admin.put(`/api/targets/${tid}/mcp/mcp-json/hf`, { url: 'ftp://x.example' })).status, 400);
  const before1 = readFileSync(file, 'utf8');

  r = await admin.put(`/api/targets/${tid}/mcp/mcp-json/hf`, { url: 'https://huggingface.co/mcp', headers: { Authorization: 'Bearer hf_new_1234' } });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.server.kind, 'mcp_json');
  assert.equal(r.json.server.label, 'hf');
  assert.deepEqual(r.json.server.header_names, ['Authorization']);
  assert.ok(!r.text.includes('hf_new_1234'));
  const onDisk = JSON.parse(readFileSync(file, 'utf8'));
  assert.equal(onDisk.mcpServers.hf.url, 'https://huggingface.co/mcp');
  assert.equal(onDisk.mcpServers.hf.headers.Authorization, 'Bearer hf_new_1234');
  assert.equal(onDisk.mcpServers.docs.headers.Authorization, SECRET, 'other entries kept');
  assert.ok(onDisk.mcpServers.fs);
  assert.equal(readFileSync(file + '.bak', 'utf8'), before1, 'the previous file is the backup');
  assert.equal(statSync(file).mode & 0o777, 0o600);

  // an entry added on the host meanwhile (LM Studio's editor) is not lost
  const host = JSON.parse(readFileSync(file, 'utf8'));
  host.mcpServers.added_on_host = { url: 'https://host.example/mcp' };
  writeFileSync(file, JSON.stringify(host));
  // null keeps the current value of that header
  r = await admin.put(`/api/targets/${tid}/mcp/mcp-json/hf`, { url: 'https://huggingface.co/mcp2', headers: { Authorization: null } });
  assert.equal(r.status, 200, r.text);
  const d2 = JSON.parse(readFileSync(file, 'utf8'));
  assert.equal(d2.mcpServers.hf.url, 'https://huggingface.co/mcp2');
  assert.equal(d2.mcpServers.hf.headers.Authorization, 'Bearer hf_new_1234');
  assert.ok(d2.mcpServers.added_on_host, 'the host edit is kept');
  const id = r.json.server.id;

  r = await admin.del(`/api/targets/${tid}/mcp/mcp-json/hf`);
  assert.equal(r.status, 204, r.text);
  assert.equal(JSON.parse(readFileSync(file, 'utf8')).mcpServers.hf, undefined);
  assert.ok(JSON.parse(readFileSync(file + '.bak', 'utf8')).mcpServers.hf, 'the backup holds the entry');
  const gone = (await admin.get(`/api/targets/${tid}/mcp`)).json.servers.find((x) => x.id === id);
  assert.equal(gone.in_mcp_json, false);
  assert.equal((await admin.del(`/api/targets/${tid}/mcp/mcp-json/hf`)).status, 404);
  assert.equal((await admin.del(`/api/targets/${tid}/mcp/servers/${id}`)).status, 204);

  const audit = await admin.get('/api/audit?action=mcp.mcp_json.put');
  assert.equal(audit.status, 200, audit.text);
  assert.ok(!audit.text.includes('hf_new_1234'), 'no values in the audit');
  assert.ok(!existsSync(localJson), 'the control plane host file is not used');
});

test('dispatch attaches host mcp.json entries of an agent target; stdio discovery stays honest', T, async () => {
  const l = await admin.get(`/api/targets/${tid}/mcp`);
  const fs = l.json.servers.find((s) => s.label === 'fs');
  const p = await oper.get(`/api/targets/${tid}/toolchain/integrations?servers=${fs.id}`);
  assert.equal(p.status, 200, p.text);
  assert.deepEqual(p.json.skipped, [{ server_id: fs.id, reason: 'nothing_allowed' }], 'not agent_required any more');
  const d = await admin.post(`/api/targets/${tid}/mcp/servers/${fs.id}/discover`, {});
  assert.equal(d.status, 200, d.text);
  assert.equal(d.json.server.discovery.status, 'failed');
  assert.equal(d.json.server.discovery.code, 'agent_required');
  assert.match(d.json.server.discovery.message, /on that host/);
});

test('discovery of host entries: url from here with the file headers; loopback and stdio honest', T, async (t) => {
  const host = JSON.parse(readFileSync(file, 'utf8'));
  host.mcpServers.loop = { url: 'http://127.0.0.1:3001/mcp' };
  // a non-loopback address of this machine stands for a server the control plane can reach
  const ip = Object.values(os.networkInterfaces()).flat().find((i) => i && i.family === 'IPv4' && !i.internal)?.address;
  let srv, seen = [];
  if (ip) {
    srv = http.createServer((req, res) => {
      seen.push(req.headers.authorization);
      req.resume();
      res.writeHead(401, { 'www-authenticate': 'Bearer realm="x"', 'content-type': 'application/json' });
      res.end('{}');
    });
    await new Promise((r) => srv.listen(0, '0.0.0.0', r));
    host.mcpServers.reach = { url: `http://${ip}:${srv.address().port}/mcp`, headers: { Authorization: 'Bearer from-host-file-42' } };
  }
  writeFileSync(file, JSON.stringify(host));
  try {
    const l = await oper.get(`/api/targets/${tid}/mcp`);
    const loop = l.json.servers.find((s) => s.label === 'loop');
    let d = await oper.post(`/api/targets/${tid}/mcp/servers/${loop.id}/discover`, {});
    assert.equal(d.status, 200, d.text);
    assert.equal(d.json.server.discovery.status, 'failed');
    assert.equal(d.json.server.discovery.code, 'agent_required');
    assert.match(d.json.server.discovery.message, /loopback of the target's host/);
    if (!ip) { t.diagnostic('no non-loopback IPv4 address here: url discovery not exercised'); return; }
    const reach = l.json.servers.find((s) => s.label === 'reach');
    d = await oper.post(`/api/targets/${tid}/mcp/servers/${reach.id}/discover`, {});
    assert.equal(d.status, 200, d.text);
    assert.equal(d.json.server.discovery.status, 'needs_oauth', d.text);
    assert.ok(seen.includes('Bearer from-host-file-42'), 'the header value of the host file is sent');
    assert.ok(!d.text.includes('from-host-file-42'));
  } finally {
    srv?.close();
    delete host.mcpServers.loop;
    delete host.mcpServers.reach;
    writeFileSync(file, JSON.stringify(host));
  }
});

test('If-Match: the ETag read is sent back; a change on the host meanwhile (412) is a 409 conflict', T, async () => {
  // a stand-in agent whose file changes between the read and the write
  const seen = [];
  const fakeAgent = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      seen.push({ method: req.method, url: req.url, ifMatch: req.headers['if-match'], auth: req.headers.authorization, body });
      res.setHeader('content-type', 'application/json');
      if (req.method === 'GET') {
        res.setHeader('etag', 'etag-one');
        res.end(JSON.stringify({ home: '/h', path: '/h/mcp.json', exists: true, etag: 'etag-one', valid: true,
          content: { mcpServers: { a: { url: 'https://a.example/mcp' } } }, error: null, size_bytes: 10 }));
      } else {
        res.statusCode = 412;
        res.end(JSON.stringify({ error: { code: 'changed', message: 'mcp.json changed since it was read' }, etag: 'etag-two' }));
      }
    });
  });
  await new Promise((r) => fakeAgent.listen(0, '127.0.0.1', r));
  try {
    let r = await admin.post('/api/targets', { label: 'gpu-host-2', url: 'http://10.255.255.2:1234' });
    assert.equal(r.status, 201, r.text);
    const id2 = r.json.target.id;
    r = await admin.post(`/api/targets/${id2}/agent`, { url: `http://127.0.0.1:${fakeAgent.address().port}`, token: 'dpa_' + 'ab'.repeat(32) });
    assert.equal(r.status, 201, r.text);
    r = await admin.put(`/api/targets/${id2}/mcp/mcp-json/b`, { url: 'https://b.example/mcp' });
    assert.equal(r.status, 409, r.text);
    assert.equal(r.json.error.code, 'conflict');
    const put = seen.find((x) => x.method === 'PUT');
    assert.equal(put.url, '/agent/v1/mcp.json');
    assert.equal(put.ifMatch, 'etag-one');
    assert.equal(put.auth, 'Bearer dpa_' + 'ab'.repeat(32));
    assert.deepEqual(JSON.parse(put.body), { mcpServers: { a: { url: 'https://a.example/mcp' }, b: { url: 'https://b.example/mcp' } } });
    const audit = await admin.get('/api/audit?action=mcp.mcp_json.put');
    assert.ok(audit.json.entries.some((e) => e.target === 'gpu-host-2' && e.result === 'failed'), audit.text);
  } finally {
    fakeAgent.close();
  }
});

test('an invalid host file and an agent that is down are reported; edits refused', T, async () => {
  const good = readFileSync(file, 'utf8');
  writeFileSync(file, '{"mcpServers": [1, 2]}');
  let r = await admin.get(`/api/targets/${tid}/mcp`);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.mcp_json.available, false);
  assert.equal(r.json.mcp_json.error.code, 'invalid_mcp_json');
  assert.ok(r.json.servers.find((s) => s.label === 'docs'), 'the rows stay listed');
  r = await admin.put(`/api/targets/${tid}/mcp/mcp-json/x`, { url: 'https://e.example/mcp' });
  assert.equal(r.status, 409, r.text);
  assert.equal(r.json.error.code, 'invalid_mcp_json');
  assert.equal(readFileSync(file, 'utf8'), '{"mcpServers": [1, 2]}', 'not overwritten');
  writeFileSync(file, good);

  // the agent moves away (a port nobody listens on)
  const m = await admin.patch(`/api/targets/${tid}/agent`, { url: 'http://127.0.0.1:9' });
  assert.equal(m.status, 200, m.text);
  r = await admin.get(`/api/targets/${tid}/mcp`);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.mcp_json.available, false);
  assert.equal(r.json.mcp_json.error.code, 'agent_down');
  r = await admin.put(`/api/targets/${tid}/mcp/mcp-json/x`, { url: 'https://e.example/mcp' });
  assert.equal(r.status, 502, r.text);
  assert.equal(r.json.error.code, 'agent_down');
  assert.equal((await admin.patch(`/api/targets/${tid}/agent`, { url: agent.url })).status, 200);

  // without the agent: agent_required again
  assert.equal((await admin.del(`/api/targets/${tid}/agent`)).status, 204);
  r = await admin.get(`/api/targets/${tid}/mcp`);
  assert.equal(r.json.mcp_json.error.code, 'agent_required');
  assert.equal((await admin.put(`/api/targets/${tid}/mcp/mcp-json/x`, { url: 'https://e.example/mcp' })).status, 409);
});
