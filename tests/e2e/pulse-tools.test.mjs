// pulse-tools.test.mjs - the Pulse's tools toggle end to end in Chromium:
// the real control plane (build/daemonpulse with the web UI embedded, or
// $DP_BIN_DIR) over llmster-sim, and the pinned
// @modelcontextprotocol/server-everything (tests/mcp) on loopback over
// streamable HTTP, registered through the API as two ephemeral servers:
// "everything" (discovered, echo and get-sum allowed) and "idle" (nothing
// allowed).
//
// An operator turns Tools on: the API picker is locked to v1 and says why,
// "idle" is listed disabled ("nothing allowed"), picking "everything"
// previews exactly echo and get-sum; a prompt naming echo goes to
// POST …/toolchain/run and the simulator calls echo on the real server
// (sim/README.md): the Toolchain's tool-call card with the arguments and
// server-everything's output is in the answer, and the audit has the call.
// Tools off: the next prompt goes to the plain chat route without servers.
// A viewer does not see the toggle. Screenshots at 1280 and 360 px in
// tests/e2e/artifacts/pulse-tools-*.png, contrast and overflow measured.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { Client, ROOT, bin, startControlPlane, startProc } from '../lib/harness.mjs';
import { EVERYTHING as EV, startEverything } from '../lib/mcp.mjs';
import { collectErrors, contrastAudit, horizontalOverflow, launch, shot, signIn } from './browser.mjs';

const SLOW = process.env.DP_BIN_DIR && /asan/.test(process.env.DP_BIN_DIR) ? 3 : 1;
const T = 30000 * SLOW;
const MODEL = 'ibm/granite-4-micro';
const PROMPT = 'Please call echo with {"message": "hello from the pulse tools e2e"} and tell me what it said.';

let sim, cp, br, admin, ev, ctx, page, simTarget, everything, idle;
const users = {};
const procs = [];
const pageErrors = [];
const chatRequests = [];

async function signInAs(p, username, password) {
  await p.context().clearCookies();
  await signIn(p, cp.url, username, password);
}

async function openPulse(p) {
  await p.goto(cp.url + '/pulse');
  await p.getByRole('heading', { level: 1, name: 'The Pulse' }).waitFor();
  await p.locator('#pulse-target').selectOption(String(simTarget.id));
  // nothing is loaded on the simulator: pick one (LM Studio loads it on first use)
  await p.waitForFunction((m) => [...(document.querySelector('#pulse-model')?.options ?? [])].some((o) => o.value === m), MODEL);
  await p.locator('#pulse-model').selectOption(MODEL);
}

async function checkPage(p, name) {
  const a = await contrastAudit(p);
  assert.deepEqual(a.unparsed, [], `colours the audit cannot parse on ${name}`);
  assert.deepEqual(a.failing, [], `text below WCAG AA on ${name}: ${JSON.stringify(a.failing, null, 1)}`);
  const o = await horizontalOverflow(p);
  assert.ok(o.scrollWidth <= o.clientWidth, `${name} overflows horizontally: ${JSON.stringify(o)}`);
}

const server = (p, label) => p.locator(`[data-testid="tools-server"][data-label="${label}"]`);

describe('the pulse with tools', { timeout: 600000 }, () => {
  before(async () => {
    assert.ok(existsSync(EV), 'run `npm ci` in tests/mcp (scripts/deps.sh does)');
    sim = await startProc(bin('llmster-sim'), ['--port', '0', '--speed', '0', '--seed', '11']);
    ev = await startEverything(procs);
    cp = await startControlPlane({ env: { DAEMON_API_URL: sim.url }, args: ['--health-interval-ms', '500'] });
    admin = new Client(cp.url);
    await admin.login(cp.admin.username, cp.admin.password);
    for (const role of ['operator', 'viewer']) {
      const password = `pw-${role}-${Math.random().toString(36).slice(2)}-0123456789`;
      const r = await admin.post('/api/users', { username: `e2e-${role}`, password, role });
      assert.equal(r.status, 201, r.text);
      users[role] = { username: `e2e-${role}`, password };
    }
    simTarget = (await admin.get('/api/targets')).json.targets[0];
    const base = `/api/targets/${simTarget.id}/mcp/servers`;
    let r = await admin.post(base, { label: 'everything', url: ev.url });
    assert.equal(r.status, 201, r.text);
    everything = r.json.server;
    r = await admin.post(`${base}/${everything.id}/discover`, {});
    assert.equal(r.status, 200, r.text);
    r = await admin.put(`${base}/${everything.id}/policy`, { tools: { echo: 'allow', 'get-sum': 'allow' } });
    assert.equal(r.status, 200, r.text);
    r = await admin.post(base, { label: 'idle', url: ev.url });
    assert.equal(r.status, 201, r.text);
    idle = r.json.server;
    br = await launch();
    ctx = await br.newContext();
    page = await ctx.newPage();
    page.setDefaultTimeout(T);
    collectErrors(page, pageErrors);
    page.on('request', (q) => {
      const u = new URL(q.url());
      if (q.method() === 'POST' && /^\/api\/targets\/\d+\/(chat|toolchain\/run)$/.test(u.pathname)) {
        chatRequests.push({ path: u.pathname, body: JSON.parse(q.postData() ?? 'null') });
      }
    });
  });

  after(async () => {
    await br?.close();
    await cp?.cleanup();
    await sim?.stop();
    for (const p of procs) p.kill('SIGTERM');
  });

  test('operator turns Tools on: v1 locked, only servers with an allowed tool can be picked, the preview lists them', async () => {
    await signInAs(page, users.operator.username, users.operator.password);
    await openPulse(page);
    await page.locator('#pulse-api').selectOption('openai');
    const toggle = page.getByRole('switch', { name: 'Tools' });
    assert.equal(await toggle.isChecked(), false);
    await toggle.check();
    // the API picker is forced to v1 and says why
    await page.getByTestId('api-lock').waitFor();
    assert.equal(await page.locator('#pulse-api').inputValue(), 'v1');
    assert.equal(await page.locator('#pulse-api').isDisabled(), true);
    assert.match(await page.getByTestId('api-lock').innerText(), /only \/api\/v1\/chat takes integrations/);
    // the servers: everything can be picked, idle cannot (nothing allowed)
    await server(page, 'everything').waitFor();
    assert.equal(await server(page, 'everything').isDisabled(), false);
    assert.equal(await server(page, 'idle').isDisabled(), true);
    const idleRow = page.locator('li', { has: server(page, 'idle') });
    assert.match(await idleRow.innerText(), /nothing allowed/);
    assert.match(await page.locator('li', { has: server(page, 'everything') }).innerText(), /2 of \d+ tools allowed/);
    assert.match(await idleRow.innerText(), /not discovered yet/);
    // nothing picked yet: no send
    await page.locator('#pulse-prompt').fill(PROMPT);
    assert.match(await page.getByTestId('tools-none').innerText(), /Pick at least one server/);
    assert.equal(await page.getByRole('button', { name: 'Send' }).isDisabled(), true);
    await server(page, 'everything').check();
    const preview = page.getByTestId('tools-preview');
    await preview.filter({ hasText: 'everything: echo, get-sum' }).waitFor();
    assert.doesNotMatch(await preview.innerText(), /idle/);
    assert.equal(await page.getByRole('button', { name: 'Send' }).isDisabled(), false);
  });

  test('a prompt naming echo goes through toolchain/run: the tool-call card has the echo output', async () => {
    chatRequests.length = 0;
    await page.locator('#pulse-prompt').press('Control+Enter');
    const call = page.locator('[data-testid="answer"] [data-testid="tool-call"][data-tool="echo"]');
    await call.waitFor();
    await page.waitForFunction(() => document.querySelector('[data-testid="answer"]')?.getAttribute('data-status') === 'done');
    assert.equal(chatRequests.length, 1);
    assert.equal(chatRequests[0].path, `/api/targets/${simTarget.id}/toolchain/run`);
    assert.deepEqual(chatRequests[0].body.servers, [everything.id]);
    assert.equal(chatRequests[0].body.api, 'v1');
    assert.equal(await page.locator('[data-testid="tool-call"]').count(), 1);
    assert.equal(await call.getAttribute('data-status'), 'success');
    assert.equal(await call.getAttribute('data-outside'), 'false');
    assert.match(await call.innerText(), /start → arguments → success/);
    assert.match(await call.getByTestId('call-args').innerText(), /"message": "hello from the pulse tools e2e"/);
    // server-everything's own answer, through the simulator and DaemonPulse
    assert.match(await call.getByTestId('call-output').innerText(), /Echo: hello from the pulse tools e2e/);
    assert.notEqual((await page.getByTestId('answer-content').innerText()).trim(), '');
    await page.getByTestId('stats-bar').waitFor();
    // the call is in the tool-call audit
    const audit = (await admin.get('/api/audit?action=mcp.tool_call')).json;
    const rows = audit.entries ?? audit.items ?? [];
    assert.ok(rows.some((e) => e.detail?.tool === 'echo'), `no echo call in the audit: ${JSON.stringify(audit).slice(0, 400)}`);
    await page.getByRole('switch', { name: 'Tools' }).scrollIntoViewIfNeeded();
    await shot(page, 'pulse-tools-desktop');
    await checkPage(page, 'pulse tools');
    await page.setViewportSize({ width: 360, height: 800 });
    await shot(page, 'pulse-tools-360');
    await checkPage(page, 'pulse tools at 360 px');
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  test('Tools off: the API picker is free again and the next prompt is a plain chat', async () => {
    chatRequests.length = 0;
    await page.getByRole('switch', { name: 'Tools' }).uncheck();
    await page.getByTestId('api-lock').waitFor({ state: 'detached' });
    assert.equal(await page.locator('#pulse-api').isDisabled(), false);
    // the user's own choice comes back
    assert.equal(await page.locator('#pulse-api').inputValue(), 'openai');
    assert.equal(await page.getByTestId('api-lock').count(), 0);
    assert.equal(await page.getByTestId('tools-preview').count(), 0);
    await page.locator('#pulse-prompt').fill('Say hello, and do not call echo.');
    await page.locator('#pulse-prompt').press('Control+Enter');
    await page.waitForFunction(() => {
      const a = document.querySelectorAll('[data-testid="answer"]');
      return a.length === 2 && a[1].getAttribute('data-status') === 'done';
    });
    assert.equal(chatRequests.length, 1);
    assert.equal(chatRequests[0].path, `/api/targets/${simTarget.id}/chat`);
    assert.equal(chatRequests[0].body.servers, undefined);
    assert.equal(chatRequests[0].body.api, 'openai');
    assert.equal(await page.locator('[data-testid="answer"]').nth(1).locator('[data-testid="tool-call"]').count(), 0);
    // the first answer keeps its card
    assert.equal(await page.locator('[data-testid="tool-call"][data-tool="echo"]').count(), 1);
    assert.deepEqual(pageErrors, []);
  });

  test('a viewer does not see the Tools toggle', async () => {
    await signInAs(page, users.viewer.username, users.viewer.password);
    await page.goto(cp.url + '/pulse');
    await page.getByRole('heading', { level: 1, name: 'The Pulse' }).waitFor();
    await page.getByText(/Your role \(viewer\)/).waitFor();
    assert.equal(await page.getByTestId('pulse-tools').count(), 0);
    assert.equal(await page.getByRole('switch', { name: 'Tools' }).count(), 0);
    assert.equal(idle.allowed_count ?? 0, 0);
  });
});
