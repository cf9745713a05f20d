// toolchain.test.mjs - The Toolchain end to end in Chromium: the real
// control plane (build/daemonpulse with the web UI embedded, or
// $DP_BIN_DIR) over llmster-sim, and the pinned
// @modelcontextprotocol/server-everything (tests/mcp) on loopback over
// streamable HTTP.
//
// An admin registers server-everything as an ephemeral server in the UI
// (with a header whose value must never reach the page), discovers its
// tools (pending review, badges, required parameters), allows two and
// saves; an operator runs a chat on the llmster-sim target whose prompt
// names one of them, and the simulator calls it on the real server
// (sim/README.md: the first allowed tool named in the prompt, arguments =
// the first JSON object in it): the call, its arguments and server-
// everything's own output are in the stream; the admin sees it in the
// tool-call audit. A viewer sees everything read-only. Desktop and 360 px
// screenshots in tests/e2e/artifacts/, contrast and overflow measured.
//
// A well-behaved host never calls a tool outside allowed_tools, so the
// violation path uses a second target: an LM Studio stand-in in front of
// the same simulator that, for a prompt saying "misbehave", calls a tool
// that is not allowed (for real, over MCP) and streams tool_call.* events;
// every other request goes to the simulator. The page must mark the call
// and the audit must flag it.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import path from 'node:path';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { Client, ROOT, bin, startControlPlane, startProc, tempDir } from '../lib/harness.mjs';
import { EVERYTHING as EV, startEverything } from '../lib/mcp.mjs';
import { collectErrors, contrastAudit, horizontalOverflow, launch, shot, signIn } from './browser.mjs';

const SLOW = process.env.DP_BIN_DIR && /asan/.test(process.env.DP_BIN_DIR) ? 3 : 1;
const T = 30000 * SLOW;
const SECRET = 'e2e-header-secret-7f3a91';
const ENV_SECRET = 'e2e-env-secret-22c9d4';
const PROMPT = 'Please call echo with {"message": "hello from the toolchain e2e"} and tell me what it said.';

let sim, cp, br, admin, ev, standIn, ctx, page, tmp, MCP_JSON;
const users = {};
const pageErrors = [];
const procs = [];
const standInBodies = [];

// ---- a minimal MCP streamable-HTTP client (the stand-in's) ----
function rpcResult(text, id) {
  const t = text.trim();
  if (t.startsWith('{')) { const j = JSON.parse(t); if (j.id === id) return j; }
  for (const block of text.replace(/\r\n?/g, '\n').split('\n\n')) {
    const data = block.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trim()).join('\n');
    if (!data) continue;
    const j = JSON.parse(data);
    if (j.id === id) return j;
  }
  throw new Error('no JSON-RPC answer for id ' + id);
}

async function mcpCall(url, headers, tool, args) {
  const h = { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers };
  let res = await fetch(url, { method: 'POST', headers: h, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize',
    params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'e2e-lmstudio-stand-in', version: '1' } } }) });
  const init = rpcResult(await res.text(), 1);
  const sid = res.headers.get('mcp-session-id');
  const sh = { ...h, 'mcp-protocol-version': init.result.protocolVersion, ...(sid ? { 'mcp-session-id': sid } : {}) };
  await (await fetch(url, { method: 'POST', headers: sh, body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) })).text();
  res = await fetch(url, { method: 'POST', headers: sh, body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: tool, arguments: args } }) });
  const out = rpcResult(await res.text(), 2);
  if (sid) await fetch(url, { method: 'DELETE', headers: sh }).then((r) => r.text()).catch(() => {});
  return out;
}

const ARGS = { echo: { message: 'hello from the toolchain e2e' }, 'get-sum': { a: 2, b: 3 }, 'get-annotated-message': { messageType: 'success', includeImage: false } };

// The LM Studio stand-in: /api/v1/chat with integrations calls the tool the
// prompt names (if allowed) for real; everything else goes to the simulator.
function startStandIn(simUrl) {
  const srv = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (d) => chunks.push(d));
    req.on('end', async () => {
      const body = Buffer.concat(chunks);
      const url = new URL(req.url, 'http://x');
      let j = null;
      if (url.pathname === '/api/v1/chat' && req.method === 'POST') { try { j = JSON.parse(body.toString()); } catch { j = null; } }
      if (!j || !Array.isArray(j.integrations)) {
        const up = await fetch(simUrl + req.url, { method: req.method, headers: { ...req.headers, host: new URL(simUrl).host },
          body: req.method === 'GET' || req.method === 'HEAD' ? undefined : body }).catch(() => null);
        if (!up) { res.writeHead(502); return res.end(); }
        const h = {};
        up.headers.forEach((v, k) => { if (!['content-length', 'transfer-encoding', 'content-encoding', 'connection'].includes(k)) h[k] = v; });
        res.writeHead(up.status, h);
        if (up.body) for await (const c of up.body) res.write(c);
        return res.end();
      }
      standInBodies.push(j);
      const input = typeof j.input === 'string' ? j.input : JSON.stringify(j.input);
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const ev = (type, data) => res.write(`event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`);
      ev('chat.start', { model_instance_id: j.model });
      let said = 'No allowed tool was named.';
      for (const integ of j.integrations) {
        if (integ.type !== 'ephemeral_mcp' || !Array.isArray(integ.allowed_tools)) continue;
        // "misbehave": play a host that ignores allowed_tools (DaemonPulse must flag it)
        const tool = /misbehave/.test(input) ? 'get-annotated-message'
          : integ.allowed_tools.find((t) => new RegExp(`\\b${t}\\b`).test(input));
        if (!tool) continue;
        const pi = { type: 'ephemeral_mcp', server_label: integ.server_label };
        const args = ARGS[tool] ?? {};
        ev('tool_call.start', { tool, provider_info: pi });
        ev('tool_call.arguments', { tool, arguments: args, provider_info: pi });
        try {
          const r = await mcpCall(integ.server_url, integ.headers ?? {}, tool, args);
          const text = (r.result?.content ?? []).filter((c) => c.type === 'text').map((c) => c.text).join('\n');
          ev('tool_call.success', { tool, arguments: args, output: text, provider_info: pi });
          said = `The ${tool} tool answered: ${text}`;
        } catch (e) {
          ev('tool_call.failure', { reason: String(e.message), metadata: { type: 'unknown', tool_name: tool } });
        }
        break;
      }
      ev('message.start', {});
      for (const w of said.split(/(?<= )/)) ev('message.delta', { content: w });
      ev('message.end', {});
      ev('chat.end', { result: { output: [], stats: { total_output_tokens: said.split(' ').length, tokens_per_second: 40, time_to_first_token: 0.05 } } });
      res.end();
    });
  });
  return new Promise((resolve) => srv.listen(0, '127.0.0.1', () => resolve({ srv, url: `http://127.0.0.1:${srv.address().port}` })));
}

async function signInAs(p, username, password) {
  await p.context().clearCookies();
  await signIn(p, cp.url, username, password);
}

async function auditContrast(p, name) {
  const a = await contrastAudit(p);
  assert.deepEqual(a.unparsed, [], `colours the audit cannot parse on ${name}`);
  assert.deepEqual(a.failing, [], `text below WCAG AA on ${name}: ${JSON.stringify(a.failing, null, 1)}`);
}

async function noOverflow(p, name) {
  const o = await horizontalOverflow(p);
  assert.ok(o.scrollWidth <= o.clientWidth, `${name} overflows horizontally: ${JSON.stringify(o)}`);
}

async function secretAbsent(p) {
  const html = await p.content();
  assert.ok(!html.includes(SECRET), 'a header value reached the page');
}

const tool = (p, name) => p.locator(`[data-testid="tool"][data-tool="${name}"]`);

async function openToolchain(p, q = '') {
  await p.goto(cp.url + '/toolchain' + q);
  await p.getByRole('heading', { level: 1, name: 'The Toolchain' }).waitFor();
}

describe('the toolchain in the browser', { timeout: 600000 }, () => {
  let simTarget, standTarget;

  before(async () => {
    assert.ok(existsSync(EV), 'run `npm ci` in tests/mcp (scripts/deps.sh does)');
    sim = await startProc(bin('llmster-sim'), ['--port', '0', '--speed', '0', '--seed', '7']);
    [ev, standIn] = await Promise.all([startEverything(procs), startStandIn(sim.url)]);
    tmp = tempDir('dp-e2e-mcp-');
    MCP_JSON = path.join(tmp.dir, 'mcp.json');
    writeFileSync(MCP_JSON, JSON.stringify({ mcpServers: {} }, null, 2));
    cp = await startControlPlane({ env: { DAEMON_API_URL: sim.url, DP_MCP_JSON: MCP_JSON }, args: ['--health-interval-ms', '500'] });
    admin = new Client(cp.url);
    await admin.login(cp.admin.username, cp.admin.password);
    for (const role of ['operator', 'viewer']) {
      const password = `pw-${role}-${Math.random().toString(36).slice(2)}-0123456789`;
      const r = await admin.post('/api/users', { username: `e2e-${role}`, password, role });
      assert.equal(r.status, 201, r.text);
      users[role] = { username: `e2e-${role}`, password };
    }
    const ts = (await admin.get('/api/targets')).json.targets;
    simTarget = ts[0];
    const r = await admin.post('/api/targets', { label: 'lmstudio-stand-in', url: standIn.url });
    assert.equal(r.status, 201, r.text);
    standTarget = r.json.target;
    br = await launch();
    ctx = await br.newContext();
    page = await ctx.newPage();
    page.setDefaultTimeout(T);
    collectErrors(page, pageErrors);
    await signInAs(page, cp.admin.username, cp.admin.password);
  });

  after(async () => {
    await br?.close();
    await cp?.cleanup();
    await sim?.stop();
    standIn?.srv.close();
    for (const p of procs) p.kill('SIGTERM');
    tmp?.cleanup();
  });

  test('admin registers server-everything in the UI; the header value never reaches the page', async () => {
    await openToolchain(page, `?t=${simTarget.id}`);
    await page.getByText('No MCP servers yet').waitFor();
    await page.getByRole('button', { name: 'Register server' }).click();
    const d = page.locator('dialog[open]');
    await d.getByLabel('Label', { exact: true }).fill('everything');
    await d.getByLabel('URL', { exact: true }).fill(ev.url);
    await d.getByRole('button', { name: 'Add header' }).click();
    await d.getByLabel('Headers: name 1').fill('X-Api-Key');
    await d.getByLabel('Headers: value 1').fill(SECRET);
    assert.equal(await d.getByLabel('Headers: value 1').getAttribute('type'), 'password');
    await shot(page, 'toolchain-register');
    await d.getByRole('button', { name: 'Register', exact: true }).click();
    await page.locator('dialog[open]').waitFor({ state: 'detached' });
    const detail = page.getByTestId('server-detail');
    await detail.getByRole('heading', { name: 'everything' }).waitFor();
    assert.match(await detail.getByTestId('header-names').innerText(), /X-Api-Key.*write-only/);
    assert.equal(await detail.getByTestId('discovery-state').innerText(), 'Not discovered');
    await secretAbsent(page);
  });

  test('discovery lists the tools pending review, with badges and required parameters', async () => {
    const detail = page.getByTestId('server-detail');
    await detail.getByRole('button', { name: 'Discover tools' }).click();
    await detail.getByTestId('discovery-state').filter({ hasText: 'Discovered' }).waitFor();
    await tool(page, 'get-sum').waitFor();
    const api = (await admin.get(`/api/targets/${simTarget.id}/mcp`)).json.servers[0];
    assert.equal(await page.locator('[data-testid="tool"]').count(), api.tools_count);
    assert.equal(await page.locator('[data-testid="tool"][data-policy="pending"]').count(), api.tools_count, 'every new tool starts pending');
    assert.match(await detail.getByTestId('discovery-changes').innerText(), new RegExp(`${api.tools_count} new`));
    const sum = tool(page, 'get-sum');
    assert.equal(await sum.getByTestId('policy-badge').innerText(), 'Pending review');
    const text = await sum.innerText();
    assert.match(text, /read-only/);
    assert.match(text, /last seen/);
    await sum.getByText(/^Parameters \(2, 2 required\)$/).click();
    assert.equal(await sum.locator('[data-testid="params"] [data-required="true"]').count(), 2);
    assert.match(await sum.getByTestId('params').innerText(), /a : number\s+required/);
    // the switch says whose word it takes
    assert.match(await detail.innerText(), /Trusts the server’s own hints/);
    await secretAbsent(page);
    await shot(page, 'toolchain-discovered');
    await auditContrast(page, 'toolchain servers');
    await noOverflow(page, 'toolchain servers');
  });

  test('admin allows two tools and saves; the policy comes back from the server', async () => {
    for (const name of ['echo', 'get-sum']) {
      await tool(page, name).locator('label', { hasText: 'Allow' }).click();
    }
    // keyboard: the options are radio buttons (arrow keys move within a tool's group)
    assert.equal(await page.getByTestId('policy-status').innerText(), '2 unsaved changes');
    await page.getByRole('button', { name: 'Save policy' }).click();
    await page.getByTestId('policy-status').filter({ hasText: 'Saved 2 decisions.' }).waitFor();
    for (const name of ['echo', 'get-sum']) {
      assert.equal(await tool(page, name).getAttribute('data-policy'), 'allow');
      assert.equal(await tool(page, name).getByTestId('policy-badge').innerText(), 'Allowed');
    }
    const api = (await admin.get(`/api/targets/${simTarget.id}/mcp`)).json.servers[0];
    assert.equal(api.allowed_count, 2);
    assert.match(await page.locator('[data-testid="server-item"][data-label="everything"]').innerText(), /2 allowed/);
  });

  test('operator runs a chat on the simulator that calls echo for real: the call is in the stream', async () => {
    await signInAs(page, users.operator.username, users.operator.password);
    await openToolchain(page, `?view=run&t=${simTarget.id}`);
    const preview = page.getByTestId('run-preview');
    await preview.waitFor();
    assert.match(await preview.innerText(), /everything: echo, get-sum/);
    await page.waitForFunction(() => (document.querySelector('#run-model')?.value ?? '') !== '');
    await page.getByLabel('Prompt').fill(PROMPT);
    await page.getByLabel('Prompt').press('Control+Enter');
    const call = page.locator('[data-testid="tool-call"][data-tool="echo"]');
    await call.waitFor();
    await page.waitForFunction(() => document.querySelector('[data-testid="run-view"]')?.getAttribute('data-status') === 'done');
    assert.equal(await page.locator('[data-testid="tool-call"]').count(), 1);
    assert.equal(await call.getAttribute('data-status'), 'success');
    assert.equal(await call.getAttribute('data-outside'), 'false');
    const ct = await call.innerText();
    assert.match(ct, /start → arguments → success/);
    assert.match(ct, /on everything/);
    assert.match(await call.getByTestId('call-args').innerText(), /"message": "hello from the toolchain e2e"/);
    // server-everything's own answer, through the simulator and DaemonPulse
    assert.match(await call.getByTestId('call-output').innerText(), /Echo: hello from the toolchain e2e/);
    assert.notEqual((await page.getByTestId('run-answer').innerText()).trim(), '');
    await page.getByTestId('stats-bar').waitFor();
    await secretAbsent(page);
    await shot(page, 'toolchain-run');
    await auditContrast(page, 'toolchain run');
    await noOverflow(page, 'toolchain run');
  });

  test('a host that calls a tool outside the allowed set: flagged in the stream and the audit', async () => {
    // the same server on the stand-in's target, set up through the API
    let r = await admin.post(`/api/targets/${standTarget.id}/mcp/servers`, { label: 'everything', url: ev.url, headers: { 'X-Api-Key': SECRET } });
    assert.equal(r.status, 201, r.text);
    const sid = r.json.server.id;
    r = await admin.post(`/api/targets/${standTarget.id}/mcp/servers/${sid}/discover`, {});
    assert.equal(r.json.server.discovery.status, 'ok', r.text);
    r = await admin.put(`/api/targets/${standTarget.id}/mcp/servers/${sid}/policy`, { tools: { echo: 'allow', 'get-sum': 'allow' } });
    assert.equal(r.status, 200, r.text);

    await openToolchain(page, `?view=run&t=${standTarget.id}`);
    await page.getByTestId('run-preview').filter({ hasText: 'everything: echo, get-sum' }).waitFor();
    await page.waitForFunction(() => (document.querySelector('#run-model')?.value ?? '') !== '');
    await page.getByLabel('Prompt').fill('Please misbehave.');
    await page.getByRole('button', { name: 'Run chat' }).click();
    const bad = page.locator('[data-testid="tool-call"][data-tool="get-annotated-message"]');
    await bad.waitFor();
    await page.waitForFunction(() => document.querySelector('[data-testid="run-view"]')?.getAttribute('data-status') === 'done');
    assert.equal(await bad.getAttribute('data-outside'), 'true');
    assert.match(await bad.innerText(), /not allowed/);
    // LM Studio got the explicit list and the real header value; the page never did
    const up = standInBodies.at(-1);
    assert.deepEqual(up.integrations.map((i) => [i.server_label, i.allowed_tools]), [['everything', ['echo', 'get-sum']]]);
    assert.equal(up.integrations[0].headers['X-Api-Key'], SECRET);
    await secretAbsent(page);
    await shot(page, 'toolchain-run-violation');

    // the operator cannot read the audit log: told so, nothing invented
    await openToolchain(page, `?view=audit&t=${simTarget.id}`);
    await page.getByText('Admins only').waitFor();

    await signInAs(page, cp.admin.username, cp.admin.password);
    await openToolchain(page, `?view=audit&t=${simTarget.id}`);
    const row = page.locator('[data-testid="audit-call"][data-tool="echo"]');
    await row.waitFor();
    assert.equal(await row.getAttribute('data-outcome'), 'success');
    const rt = await row.innerText();
    assert.match(rt, /on everything/);
    assert.match(rt, /by e2e-operator/);
    assert.match(rt, /hello from the toolchain e2e/);
    assert.equal(await page.locator('[data-testid="audit-call"][data-outcome="violation"]').count(), 0);
    await shot(page, 'toolchain-audit');
    await auditContrast(page, 'toolchain audit');

    await openToolchain(page, `?view=audit&t=${standTarget.id}`);
    const v = page.locator('[data-testid="audit-call"][data-tool="get-annotated-message"]');
    await v.waitFor();
    assert.equal(await v.getAttribute('data-outcome'), 'violation');
    assert.match(await v.innerText(), /VIOLATION/);
    await page.getByText('1 violation on this page').waitFor();
    await page.getByLabel('Violations only').check();
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="audit-call"]').length === 1);
    await shot(page, 'toolchain-audit-violation');
    await auditContrast(page, 'toolchain audit with a violation');
  });

  test('a viewer sees servers, tools and policy read-only', async () => {
    await signInAs(page, users.viewer.username, users.viewer.password);
    await openToolchain(page, `?t=${simTarget.id}`);
    await tool(page, 'echo').waitFor();
    assert.equal(await page.getByRole('button', { name: 'Register server' }).count(), 0);
    assert.equal(await page.getByRole('button', { name: 'Re-discover', exact: true }).count(), 0);
    assert.equal(await page.getByRole('button', { name: 'Discover tools', exact: true }).count(), 0);
    assert.equal(await page.getByRole('button', { name: 'Save policy' }).count(), 0);
    assert.equal(await page.locator('[data-testid="choose-allow"]').count(), 0);
    assert.equal(await tool(page, 'echo').getByTestId('policy-badge').innerText(), 'Allowed');
    assert.ok(await page.getByTestId('auto-ro').isDisabled());
    await page.getByText(/Your role \(viewer\)/).waitFor();
    await shot(page, 'toolchain-viewer');
    await openToolchain(page, `?view=run&t=${simTarget.id}`);
    assert.equal(await page.getByRole('button', { name: 'Run chat' }).count(), 0);
    assert.ok(await page.getByLabel('Prompt').isDisabled());
    await secretAbsent(page);
  });

  test('360 px: usable without horizontal scrolling; keyboard reaches the views', async () => {
    await signInAs(page, cp.admin.username, cp.admin.password);
    await page.setViewportSize({ width: 360, height: 740 });
    try {
      await openToolchain(page, `?t=${simTarget.id}`);
      await tool(page, 'echo').waitFor();
      await noOverflow(page, 'toolchain servers at 360 px');
      await auditContrast(page, 'toolchain at 360 px');
      await shot(page, 'mobile-toolchain');
      await openToolchain(page, `?view=run&t=${simTarget.id}`);
      await page.getByTestId('run-preview').waitFor();
      await page.waitForFunction(() => (document.querySelector('#run-model')?.value ?? '') !== '');
      await page.getByLabel('Prompt').fill('Use get-sum on {"a": 2, "b": 3}, please.');
      await page.getByRole('button', { name: 'Run chat' }).click();
      await page.locator('[data-testid="tool-call"][data-tool="get-sum"][data-status="success"]').waitFor();
      await page.waitForFunction(() => document.querySelector('[data-testid="run-view"]')?.getAttribute('data-status') === 'done');
      assert.match(await page.getByTestId('call-output').innerText(), /The sum of 2 and 3 is 5/);
      await noOverflow(page, 'toolchain run at 360 px');
      await shot(page, 'mobile-toolchain-run');
      await openToolchain(page, `?view=audit&t=${simTarget.id}`);
      await page.locator('[data-testid="audit-call"][data-tool="get-sum"]').waitFor();
      await noOverflow(page, 'toolchain audit at 360 px');
      await shot(page, 'mobile-toolchain-audit');
      // keyboard: Tab reaches the view switch and Enter changes the view
      await openToolchain(page, `?t=${simTarget.id}`);
      const sw = page.getByRole('button', { name: 'Tool-call audit' });
      for (let i = 0; i < 60 && !(await sw.evaluate((el) => el === document.activeElement)); i++) await page.keyboard.press('Tab');
      assert.ok(await sw.evaluate((el) => el === document.activeElement), 'the view switch is reachable with Tab');
      await page.keyboard.press('Enter');
      await page.waitForURL((u) => u.search.includes('view=audit'));
    } finally {
      await page.setViewportSize({ width: 1280, height: 800 });
    }
  });

  test('admin edits a header value: the identity changes, approvals go back to review, a banner says so', async () => {
    await openToolchain(page, `?t=${standTarget.id}`);
    const detail = page.getByTestId('server-detail');
    await tool(page, 'echo').waitFor();
    assert.equal(await tool(page, 'echo').getAttribute('data-policy'), 'allow');
    const before = (await admin.get(`/api/targets/${standTarget.id}/mcp`)).json.servers[0].identity;
    await detail.getByRole('button', { name: 'Edit', exact: true }).click();
    const d = page.locator('dialog[open]');
    // the stored value is not shown: the field is empty and says it keeps the value
    const value = d.getByLabel('Headers: value 1');
    assert.equal(await value.inputValue(), '');
    assert.equal(await value.getAttribute('placeholder'), 'unchanged (stored)');
    await value.fill('a-new-secret-value-55');
    await d.getByRole('button', { name: 'Save', exact: true }).click();
    await page.locator('dialog[open]').waitFor({ state: 'detached' });
    await page.getByText('This server’s identity changed').waitFor();
    await page.waitForFunction(() => document.querySelector('[data-testid="tool"][data-tool="echo"]')?.getAttribute('data-policy') === 'pending');
    assert.match(await tool(page, 'echo').innerText(), /identity changed/);
    const after = (await admin.get(`/api/targets/${standTarget.id}/mcp`)).json.servers[0];
    assert.notEqual(after.identity, before);
    assert.equal(after.allowed_count, 0);
    const html = await page.content();
    assert.ok(!html.includes('a-new-secret-value-55') && !html.includes(SECRET), 'header values stay out of the page');
    await shot(page, 'toolchain-identity-changed');
    await auditContrast(page, 'toolchain identity banner');
    // re-approve in bulk: filter, then one decision for every tool shown
    await page.getByLabel('Filter tools by name or description').fill('get-s');
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="tool"]').length === 2);
    await page.getByRole('button', { name: 'Allow every tool shown' }).click();
    assert.equal(await page.getByTestId('policy-status').innerText(), '2 unsaved changes');
    await page.getByRole('button', { name: 'Save policy' }).click();
    await page.getByTestId('policy-status').filter({ hasText: 'Saved 2 decisions.' }).waitFor();
    const names = (await admin.get(`/api/targets/${standTarget.id}/toolchain/integrations`)).json.integrations[0].integration.allowed_tools;
    assert.deepEqual(names, ['get-structured-content', 'get-sum']);
  });

  test('admin adds an mcp.json stdio entry in the UI, discovers it, removes it; env values never shown', async () => {
    await openToolchain(page, `?t=${simTarget.id}`);
    assert.ok((await page.getByTestId('mcp-json-state').innerText()).includes(MCP_JSON));
    await page.getByRole('button', { name: 'Add mcp.json entry' }).click();
    const d = page.locator('dialog[open]');
    await d.getByLabel('Label', { exact: true }).fill('ev-stdio');
    await d.getByLabel('Local command (stdio)').check();
    await d.getByLabel('Command', { exact: true }).fill(process.execPath);
    await d.getByLabel('Arguments, one per line').fill(`${EV}\nstdio`);
    await d.getByRole('button', { name: 'Add environment' }).click();
    await d.getByLabel('Environment: name 1').fill('E2E_TOKEN');
    await d.getByLabel('Environment: value 1').fill(ENV_SECRET);
    await shot(page, 'toolchain-mcp-json-dialog');
    await d.getByRole('button', { name: 'Add entry' }).click();
    await page.locator('dialog[open]').waitFor({ state: 'detached' });
    const file = JSON.parse(readFileSync(MCP_JSON, 'utf8'));
    assert.deepEqual(file.mcpServers['ev-stdio'], { command: process.execPath, args: [EV, 'stdio'], env: { E2E_TOKEN: ENV_SECRET } });
    const detail = page.getByTestId('server-detail');
    await detail.getByRole('heading', { name: 'ev-stdio' }).waitFor();
    assert.match(await detail.innerText(), /mcp\/ev-stdio/);
    assert.match(await detail.getByTestId('header-names').innerText(), /E2E_TOKEN.*write-only/);
    await detail.getByRole('button', { name: 'Discover tools' }).click();
    await detail.getByTestId('discovery-state').filter({ hasText: 'Discovered' }).waitFor();
    await tool(page, 'get-sum').waitFor();
    assert.ok(!(await page.content()).includes(ENV_SECRET), 'env values stay out of the page');
    await detail.getByRole('button', { name: 'Remove from mcp.json' }).click();
    await page.locator('dialog[open]').getByRole('button', { name: 'Remove entry' }).click();
    await page.locator('dialog[open]').waitFor({ state: 'detached' });
    assert.equal(JSON.parse(readFileSync(MCP_JSON, 'utf8')).mcpServers['ev-stdio'], undefined);
    assert.ok(existsSync(MCP_JSON + '.bak'), 'the previous file is kept');
    await page.locator('[data-testid="server-item"][data-label="ev-stdio"]').getByText('Removed from mcp.json').waitFor();
  });

  test('no page errors', () => {
    assert.deepEqual(pageErrors, []);
  });
});
