// agent.test.mjs - the host agent in the UI (issue 9 parts 3 and 5,
// docs/agent.md) in Chromium: a target without an agent says why the Fleet
// offers no lifecycle buttons and links to Settings; Settings → Daemon
// targets → "Add agent" shows the token and the command exactly once; the
// test sets that token on "the host" (`daemonpulse agent set-token`, stdin)
// and starts `daemonpulse agent` on loopback with the lms stand-in and a
// llmster-sim, moves the agent URL to where it listens ("Change URL"); the
// Fleet card then shows host info and the lifecycle buttons: stop the server
// (confirmed) and watch the state go to stopped, start it again, restart
// (both steps); a viewer sees host info but no buttons; rotate by pasting
// the agent's token; remove the agent.
// Screenshots (desktop and 360 px) in tests/e2e/artifacts/; contrast and
// overflow measured on the rendered pages.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { Client, bin, run, startControlPlane, startProc, tempDir } from '../lib/harness.mjs';
import { collectErrors, contrastAudit, horizontalOverflow, launch, shot, signIn } from './browser.mjs';

const T = 60000;
let sim, cp, br, page, agent, tmp, admin, targetId;
const pageErrors = [];

async function audit(p, what) {
  const a = await contrastAudit(p);
  assert.deepEqual(a.failing, [], `${what}: ${JSON.stringify(a.failing)}`);
}

async function noOverflow(p, what) {
  const o = await horizontalOverflow(p);
  assert.ok(o.scrollWidth <= o.clientWidth, `${what}: ${JSON.stringify(o)}`);
}

async function stopClean(p, what) {
  if (!p) return;
  const closed = p.proc.exitCode === null && p.proc.signalCode === null
    ? new Promise((r) => p.proc.once('close', r)) : Promise.resolve();
  await p.stop();
  await closed;
  assert.doesNotMatch(p.out.stderr, /Sanitizer|runtime error:/, `${what}: sanitizer report`);
}

describe('the host agent in the UI', { timeout: 300000 }, () => {
  before(async () => {
    tmp = tempDir('dp-e2e-agent-');
    mkdirSync(path.join(tmp.dir, 'lms-home'));
    sim = await startProc(bin('llmster-sim'), ['--port', '0', '--speed', '0', '--seed', '21']);
    cp = await startControlPlane({
      args: ['--health-interval-ms', '300', '--telemetry-interval-ms', '500', '--nvml-library', 'off'],
      env: { LMS_BIN: bin('lms') },
    });
    admin = new Client(cp.url);
    await admin.login(cp.admin.username, cp.admin.password);
    const r = await admin.post('/api/targets', { label: 'gpu-host', url: sim.url });
    assert.equal(r.status, 201, r.text);
    targetId = r.json.target.id;
    br = await launch();
    const ctx = await br.newContext();
    page = await ctx.newPage();
    page.setDefaultTimeout(T);
    collectErrors(page, pageErrors, { only: /Content Security Policy/i });
    await signIn(page, cp.url, cp.admin.username, cp.admin.password);
  });
  after(async () => {
    await br?.close();
    await stopClean(agent, 'agent');
    await cp?.cleanup();
    await sim?.stop();
    tmp?.cleanup();
  });

  test('without an agent the Fleet says why and links to Add agent', async () => {
    const card = page.locator('[data-target-card="gpu-host"]');
    await card.locator('[data-testid="state-badge"][data-state="running"]').waitFor();
    const note = card.getByTestId('lifecycle-no-agent');
    await note.waitFor();
    assert.match(await note.innerText(), /act only on the machine they run on/);
    assert.equal(await card.getByRole('button', { name: /Stop server/ }).count(), 0);
    await note.getByRole('link', { name: /Add agent/ }).click();
    await page.waitForURL((u) => u.pathname === '/settings/targets');
  });

  let token = '';
  test('Add agent shows the token and the command once', async () => {
    const row = page.locator('li[data-target="gpu-host"]');
    await row.getByTestId('agent-state').getByText('none').waitFor();
    await row.getByRole('button', { name: 'Add agent for gpu-host' }).click();
    const dlg = page.getByRole('dialog', { name: 'Add agent for gpu-host' });
    // default: the target's host on port 3001; the SSH tunnel advice is there
    assert.equal(await dlg.getByLabel('Agent URL').inputValue(), 'http://127.0.0.1:3001');
    assert.match(await dlg.innerText(), /ssh -N -L 13001:127\.0\.0\.1:3001/);
    // the paste path checks the token's shape before sending
    await dlg.getByLabel('Paste the token the agent printed at its first start.').check();
    await dlg.getByLabel('The agent’s token').fill('not-a-token');
    await dlg.getByRole('button', { name: 'Add agent' }).click();
    await dlg.locator('#ag-token-err').waitFor();
    await dlg.getByLabel(/Make a new token here/).check();
    await dlg.getByRole('button', { name: 'Add agent' }).click();
    const res = page.getByRole('dialog', { name: 'Agent token for gpu-host' });
    await res.getByTestId('enrol-result').waitFor();
    await res.getByText('Copy it now: it is shown only this once').waitFor();
    token = await res.getByLabel('Agent token', { exact: true }).inputValue();
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'enrol-token', 'keyboard focus on the token to copy');
    assert.match(token, /^dpa_[0-9a-f]{64}$/);
    const cmd = await res.locator('#enrol-command').inputValue();
    assert.match(cmd, /^daemonpulse agent set-token --token-file \S+ && daemonpulse agent --token-file \S+ --port 3001$/);
    assert.ok(!cmd.includes(token), 'the token is not on the command line');
    await res.getByRole('button', { name: 'Copy: Agent token' }).waitFor();
    await audit(page, 'enrol result dialog');
    await shot(page, 'agent-enrol-once');
    await page.setViewportSize({ width: 360, height: 740 });
    await noOverflow(page, 'enrol result at 360 px');
    await shot(page, 'mobile-agent-enrol-once');
    await page.setViewportSize({ width: 1280, height: 800 });
    await res.getByRole('button', { name: 'I have stored it' }).click();
    await res.waitFor({ state: 'detached' });
    // never shown again, never kept in the page or its storage
    const row2 = page.locator('li[data-target="gpu-host"]');
    await row2.getByTestId('agent-state').getByText('enrolled').waitFor();
    const html = await page.content();
    assert.ok(!html.includes(token), 'the token is gone from the page');
    const stored = await page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }));
    assert.ok(!stored.includes('dpa_'), 'no agent token in web storage');
    const g = await admin.get(`/api/targets/${targetId}/agent`);
    assert.equal(g.json.enrolled, true);
    assert.ok(!g.text.includes(token));
  });

  test('run the agent with that token and point the target at it', async () => {
    const tf = path.join(tmp.dir, 'agent.token');
    const st = await run(bin('daemonpulse'), ['agent', 'set-token', '--token-file', tf], { stdin: token + '\n' });
    assert.equal(st.code, 0, st.stderr);
    agent = await startProc(bin('daemonpulse'), ['agent', '--port', '0', '--token-file', tf, '--lms-bin', bin('lms'),
      '--lmstudio-home', path.join(tmp.dir, 'lms-home'), '--nvml-lib', 'off', '--interval-ms', '500'],
    { env: { HOME: tmp.dir, LMS_SIM_PORT: String(sim.port), LMS_SIM_HOST: '127.0.0.1' } });
    const row = page.locator('li[data-target="gpu-host"]');
    await row.getByRole('button', { name: 'Change the agent URL of gpu-host' }).click();
    const dlg = page.getByRole('dialog', { name: 'Agent URL of gpu-host' });
    await dlg.getByLabel('Agent URL').fill(agent.url);
    await dlg.getByRole('button', { name: 'Save URL' }).click();
    await dlg.waitFor({ state: 'detached' });
    await page.getByText('The agent URL of gpu-host was changed.').waitFor();
    await row.getByTestId('agent-url').getByText(agent.url).waitFor();
    await audit(page, 'settings/targets with an agent');
    await shot(page, 'agent-settings-targets');
    await page.setViewportSize({ width: 360, height: 740 });
    await noOverflow(page, 'settings/targets at 360 px');
    await shot(page, 'mobile-agent-settings-targets');
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  const lifecycle = async (card, button, title, confirm, expect) => {
    await card.getByRole('button', { name: `${button} on gpu-host`, exact: true }).click();
    const dlg = page.getByRole('dialog', { name: title });
    await dlg.waitFor();
    const desc = await dlg.innerText();
    assert.match(desc, /gpu-host/);
    assert.match(desc, /lms (server|daemon)/);
    await dlg.getByRole('button', { name: confirm, exact: true }).click();
    await dlg.getByTestId('life-result').getByText(expect).waitFor({ timeout: T });
    return dlg;
  };

  test('the Fleet shows host info and stops / starts / restarts the server through the agent', async () => {
    await page.goto(cp.url + '/fleet');
    const card = page.locator('[data-target-card="gpu-host"]');
    await card.locator('[data-testid="state-badge"][data-state="running"]').waitFor();
    const info = card.getByTestId('host-info');
    await info.locator('dd[data-info="Host"]').waitFor();
    assert.notEqual(await info.locator('dd[data-info="Host"]').innerText(), '');
    assert.match(await info.locator('dd[data-info="CPU"]').innerText(), /logical CPUs|not reported/);
    assert.match(await info.locator('dd[data-info="RAM"]').innerText(), /B/);
    for (const b of ['Start server', 'Stop server', 'Restart server', 'Daemon up', 'Daemon down']) {
      await card.getByRole('button', { name: `${b} on gpu-host`, exact: true }).waitFor();
    }
    // cancel does nothing
    await card.getByRole('button', { name: 'Stop server on gpu-host' }).click();
    const c = page.getByRole('dialog', { name: 'Stop the server on gpu-host?' });
    await c.getByRole('button', { name: 'Cancel' }).click();
    await c.waitFor({ state: 'detached' });
    assert.equal((await admin.get(`/api/targets/${targetId}`)).json.target.health?.state ?? 'running', 'running');

    let dlg = await lifecycle(card, 'Stop server', 'Stop the server on gpu-host?', 'Stop server', 'The server was stopped.');
    await audit(page, 'lifecycle result dialog');
    await shot(page, 'agent-fleet-stop-result');
    await dlg.getByRole('button', { name: 'Close' }).click();
    await card.locator('[data-testid="state-badge"][data-state="stopped"]').waitFor({ timeout: T });
    await card.getByTestId('lifecycle-result').getByText('The server was stopped.').waitFor();

    // stopping again: the server's error message is shown
    dlg = await lifecycle(card, 'Stop server', 'Stop the server on gpu-host?', 'Stop server', /server stop failed: .*not running/);
    await dlg.getByRole('button', { name: 'Close' }).click();

    dlg = await lifecycle(card, 'Start server', 'Start the server on gpu-host?', 'Start server', 'The server was started.');
    await dlg.getByRole('button', { name: 'Close' }).click();
    await card.locator('[data-testid="state-badge"][data-state="running"]').waitFor({ timeout: T });

    // restart: one action, both steps' results
    dlg = await lifecycle(card, 'Restart server', 'Restart the server on gpu-host?', 'Restart server', 'The server was restarted.');
    await dlg.locator('[data-step="server-stop"][data-ok="true"]').waitFor();
    await dlg.locator('[data-step="server-start"][data-ok="true"]').waitFor();
    await shot(page, 'agent-fleet-restart-result');
    await page.setViewportSize({ width: 360, height: 740 });
    await shot(page, 'mobile-agent-fleet-restart');
    await page.setViewportSize({ width: 1280, height: 800 });
    await dlg.getByRole('button', { name: 'Close' }).click();
    await card.locator('[data-testid="state-badge"][data-state="running"]').waitFor({ timeout: T });

    // daemon up while it runs: lms daemon up through the agent succeeds (nothing to start)
    dlg = await lifecycle(card, 'Daemon up', 'Start the daemon on gpu-host?', 'Daemon up', 'The daemon was started.');
    await dlg.getByRole('button', { name: 'Close' }).click();
    await card.getByTestId('lifecycle-result').getByText('The daemon was started.').waitFor();

    await audit(page, 'fleet with an agent');
    await shot(page, 'agent-fleet');
    await page.setViewportSize({ width: 360, height: 740 });
    await noOverflow(page, 'fleet at 360 px');
    await shot(page, 'mobile-agent-fleet');
    await page.setViewportSize({ width: 1280, height: 800 });

    // audited
    const a = await admin.get('/api/audit?action=target.&limit=100');
    const rows = a.json.entries.map((e) => `${e.action} ${e.result}`);
    for (const want of ['target.agent.enrol ok', 'target.agent.update ok', 'target.server.stop ok', 'target.server.stop failed', 'target.server.start ok', 'target.daemon.up ok']) {
      assert.ok(rows.includes(want), `audit row '${want}' in ${JSON.stringify(rows)}`);
    }
  });

  test('a viewer sees the host info but no lifecycle buttons', async () => {
    const password = 'pw-' + Math.random().toString(36).slice(2) + 'Xyz123';
    const u = await admin.post('/api/users', { username: 'viewer1', password, role: 'viewer' });
    assert.equal(u.status, 201, u.text);
    const ctx = await br.newContext();
    const vp = await ctx.newPage();
    vp.setDefaultTimeout(T);
    await vp.goto(cp.url + '/login');
    await vp.getByLabel('Username', { exact: true }).fill('viewer1');
    await vp.getByLabel('Password', { exact: true }).fill(password);
    await vp.getByRole('button', { name: 'Sign in' }).click();
    await vp.waitForURL((x) => x.pathname === '/fleet');
    const card = vp.locator('[data-target-card="gpu-host"]');
    await card.getByTestId('host-info').locator('dd[data-info="Host"]').waitFor();
    await card.getByText('Operators and administrators can start and stop').waitFor();
    assert.equal(await card.getByRole('button', { name: /server on gpu-host|Daemon/ }).count(), 0);
    await vp.goto(cp.url + '/settings/targets');
    const row = vp.locator('li[data-target="gpu-host"]');
    await row.getByTestId('agent-state').getByText('enrolled').waitFor();
    assert.equal(await row.getByRole('button', { name: /agent/i }).count(), 0, 'only admins manage the agent');
    await ctx.close();
  });

  test('rotate by pasting the token the agent has: stored, not echoed, the agent still answers', async () => {
    await page.goto(cp.url + '/settings/targets');
    const row = page.locator('li[data-target="gpu-host"]');
    await row.getByRole('button', { name: 'Rotate the agent token of gpu-host' }).click();
    const dlg = page.getByRole('dialog', { name: 'Rotate the agent token of gpu-host' });
    await dlg.getByText('The current token stops working at once').waitFor();
    assert.equal(await dlg.getByLabel('Agent URL').inputValue(), agent.url, 'the current agent URL is kept');
    await dlg.getByLabel('Paste the token the agent printed at its first start.').check();
    await dlg.getByLabel('The agent’s token').fill(token);
    await dlg.getByRole('button', { name: 'Rotate token' }).click();
    const res = page.getByRole('dialog', { name: 'Agent stored for gpu-host' });
    await res.getByTestId('enrol-result').waitFor();
    assert.ok(!(await res.innerText()).includes(token), 'a pasted token is not echoed');
    assert.doesNotMatch(await res.locator('#enrol-command').inputValue(), /set-token/);
    await res.getByRole('button', { name: 'Close' }).click();
    await page.getByText('The agent token of gpu-host was rotated.').waitFor();
    const info = await admin.get(`/api/targets/${targetId}/agent/info`);
    assert.equal(info.status, 200, info.text);
  });

  test('remove the agent: the Fleet says so again', async () => {
    await page.goto(cp.url + '/settings/targets');
    const row = page.locator('li[data-target="gpu-host"]');
    await row.getByRole('button', { name: 'Remove the agent of gpu-host' }).click();
    const dlg = page.getByRole('dialog', { name: 'Remove the agent of gpu-host?' });
    await dlg.getByRole('button', { name: 'Remove agent' }).click();
    await dlg.waitFor({ state: 'detached' });
    await row.getByTestId('agent-state').getByText('none').waitFor();
    await page.goto(cp.url + '/fleet');
    await page.locator('[data-target-card="gpu-host"]').getByTestId('lifecycle-no-agent').waitFor();
    assert.deepEqual(pageErrors, []);
  });
});
