// settings-targets.test.mjs - Settings → Daemon targets and Settings → Mode
// & presets in Chromium against two llmster-sim instances (one requiring an
// API token): add a target and watch it turn running, a wrong token shows
// "unauthorized", "Replace token" fixes it, the server's URL validation
// message appears under the field, test connection, remove with a confirm;
// the Dev/Live switch and a load preset. The token never reaches the page.
// Screenshots (desktop and 360 px) in tests/e2e/artifacts/.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Client, bin, startControlPlane, startProc } from '../lib/harness.mjs';
import path from 'node:path';
import { ARTIFACTS, collectErrors, contrastAudit, horizontalOverflow, launch, shot, signIn } from './browser.mjs';

const T = 30000;
const TOKEN = 'sk-lm-e2eSet01:s3cretS3cretS3cret01';
let simA, simB, cp, br, page;
const pageErrors = [];

async function audit(p, what) {
  const a = await contrastAudit(p);
  assert.deepEqual(a.failing, [], `${what}: ${JSON.stringify(a.failing)}`);
}

async function noOverflow(p, what) {
  const o = await horizontalOverflow(p);
  assert.ok(o.scrollWidth <= o.clientWidth, `${what}: ${JSON.stringify(o)}`);
}

describe('settings: daemon targets and mode', { timeout: 240000 }, () => {
  before(async () => {
    simA = await startProc(bin('llmster-sim'), ['--port', '0', '--speed', '0', '--seed', '11']);
    simB = await startProc(bin('llmster-sim'), ['--port', '0', '--speed', '0', '--seed', '12', '--api-token', TOKEN]);
    cp = await startControlPlane({ args: ['--health-interval-ms', '300'], env: { LMS_BIN: bin('lms') } });
    br = await launch();
    const ctx = await br.newContext();
    page = await ctx.newPage();
    page.setDefaultTimeout(T);
    collectErrors(page, pageErrors, { only: /Content Security Policy/i });
    await signIn(page, cp.url, cp.admin.username, cp.admin.password);
  });
  after(async () => {
    await br?.close();
    await cp?.cleanup();
    await simA?.stop();
    await simB?.stop();
  });

  test('add a target, test the connection, watch it turn running', async () => {
    await page.goto(cp.url + '/settings/targets');
    await page.getByRole('heading', { name: 'Daemon targets', level: 2 }).waitFor();
    await page.getByText('No targets yet.').waitFor();
    await page.getByRole('button', { name: 'Add target' }).click();
    const dlg = page.getByRole('dialog', { name: 'Add a daemon target' });
    await dlg.getByLabel('Label').fill('sim-a');
    // the server's URL validation message shows under the field
    await dlg.getByLabel('URL', { exact: true }).fill('ftp://127.0.0.1:1');
    await dlg.getByRole('button', { name: 'Add target' }).click();
    const urlErr = dlg.locator('#tf-url-err');
    await urlErr.waitFor();
    assert.match(await urlErr.innerText(), /http/i);
    assert.equal(await dlg.getByLabel('URL', { exact: true }).getAttribute('aria-invalid'), 'true');
    await dlg.getByLabel('URL', { exact: true }).fill(simA.url);
    await dlg.getByRole('button', { name: 'Test connection' }).click();
    await dlg.getByTestId('draft-test-result').getByText(/^Connected: running/).waitFor();
    await dlg.getByRole('button', { name: 'Add target' }).click();
    await dlg.waitFor({ state: 'detached' });
    await page.getByText('Target sim-a added.').waitFor();
    const row = page.locator('li[data-target="sim-a"]');
    await row.locator('[data-testid="state-badge"][data-state="running"]').waitFor();
    await row.getByText('no API token').waitFor();
    // the saved target's own test
    await row.getByRole('button', { name: 'Test connection to sim-a' }).click();
    await row.getByTestId('test-result').getByText(/^Connected: running .* models on disk/).waitFor();
    // make it the active target
    await row.getByRole('button', { name: 'Make sim-a the active target' }).click();
    await row.getByText('active', { exact: true }).waitFor();
  });

  test('a wrong token shows unauthorized; "Replace token" fixes it; the token is never shown', async () => {
    await page.getByRole('button', { name: 'Add target' }).click();
    const dlg = page.getByRole('dialog', { name: 'Add a daemon target' });
    await dlg.getByLabel('Label').fill('locked');
    await dlg.getByLabel('URL', { exact: true }).fill(simB.url);
    await dlg.locator('#tf-token').fill('sk-lm-wrongTok:wrongWrongWrong00000');
    await dlg.getByRole('button', { name: 'Test connection' }).click();
    await dlg.getByTestId('draft-test-result').getByText(/^unauthorized:/).waitFor();
    await dlg.getByRole('button', { name: 'Add target' }).click();
    await dlg.waitFor({ state: 'detached' });
    const row = page.locator('li[data-target="locked"]');
    await row.locator('[data-testid="state-badge"][data-state="unauthorized"]').waitFor();
    await row.getByText('API token set').waitFor();
    await shot(page, 'settings-targets-unauthorized');

    await row.getByRole('button', { name: 'Edit locked' }).click();
    const ed = page.getByRole('dialog', { name: 'Edit locked' });
    await ed.getByText(/^Set: /).waitFor();
    assert.equal(await ed.locator('#tf-token').count(), 0, 'no token field until "Replace token"');
    await ed.getByRole('button', { name: 'Replace token' }).click();
    await ed.locator('#tf-token').fill(TOKEN);
    await ed.getByRole('button', { name: 'Test connection' }).click();
    const res = ed.getByTestId('draft-test-result');
    await page.waitForFunction(() => document.querySelector('[data-testid="draft-test-result"]')?.textContent);
    assert.match(await res.innerText(), /^Connected: running/);
    await ed.getByRole('button', { name: 'Save' }).click();
    await ed.waitFor({ state: 'detached' });
    await row.locator('[data-testid="state-badge"][data-state="running"]').waitFor();

    // the hint is masked; the token itself is nowhere in the page or its storage
    assert.ok(!(await page.content()).includes(TOKEN));
    const stored = await page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }) + document.cookie);
    assert.ok(!stored.includes(TOKEN) && !stored.includes('wrongWrongWrong'));
    await audit(page, 'settings/targets');
    await shot(page, 'settings-targets');
    await page.setViewportSize({ width: 360, height: 740 });
    await noOverflow(page, 'settings/targets at 360 px');
    await shot(page, 'mobile-settings-targets');
    // the edit dialog at 360 px; Escape closes it and focus returns to its opener
    const edit = row.getByRole('button', { name: 'Edit locked' });
    await edit.click();
    const ed2 = page.getByRole('dialog', { name: 'Edit locked' });
    await ed2.getByRole('button', { name: 'Replace token' }).waitFor();
    await page.screenshot({ path: path.join(ARTIFACTS, 'mobile-settings-target-edit.png') }); // the viewport, as seen
    await page.keyboard.press('Escape');
    await ed2.waitFor({ state: 'detached' });
    assert.equal(await edit.evaluate((el) => el === document.activeElement), true);
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  test('a stopped simulator turns the badge "stopped"; remove asks first', async () => {
    const row = page.locator('li[data-target="locked"]');
    await simB.stop();
    await row.locator('[data-testid="state-badge"][data-state="stopped"]').waitFor({ timeout: 60000 });
    await row.getByRole('button', { name: 'Remove locked' }).click();
    const dlg = page.getByRole('dialog', { name: 'Remove locked?' });
    await dlg.getByRole('button', { name: 'Remove target' }).click();
    await page.getByText('Target locked removed.').waitFor();
    await row.waitFor({ state: 'detached' });
  });

  test('Mode: a load preset and the Dev/Live switch', async () => {
    await page.getByRole('navigation', { name: 'Settings sections' }).getByRole('link', { name: 'Mode & presets' }).click();
    await page.waitForURL((u) => u.pathname === '/settings/mode');
    await page.getByTestId('current-mode').getByText('Dev').waitFor();
    await page.getByText('No presets yet.').waitFor();
    await page.getByRole('button', { name: 'Add preset' }).click();
    const dlg = page.getByRole('dialog', { name: 'Add a load preset' });
    await dlg.getByLabel('Name').fill('fast-8k');
    await dlg.getByLabel('Model key (optional)').fill('qwen/qwen3-8b');
    await dlg.getByLabel('Context length').fill('0');
    await dlg.getByRole('button', { name: 'Save preset' }).click();
    await dlg.getByText(/Context length must be a whole number/).waitFor();
    await dlg.getByLabel('Context length').fill('8192');
    await dlg.getByLabel('GPU offload', { exact: true }).selectOption('max');
    await dlg.getByLabel('Flash attention').selectOption('on');
    await dlg.getByLabel('Parallel slots').fill('4');
    await dlg.getByRole('button', { name: 'Save preset' }).click();
    await dlg.waitFor({ state: 'detached' });
    const item = page.locator('li[data-preset="fast-8k"]');
    await item.getByText('qwen/qwen3-8b · context 8,192 · GPU max · flash attention on · 4 parallel').waitFor();

    await page.getByLabel(/^Live/).check();
    await page.getByRole('button', { name: 'Switch to Live' }).click();
    await page.getByTestId('current-mode').getByText('Live').waitFor();
    // the server has it
    const c = new Client(cp.url);
    await c.login(cp.admin.username, cp.admin.password);
    const s = await c.get('/api/settings');
    assert.equal(s.json.mode, 'live');
    assert.equal(s.json.load_presets[0].name, 'fast-8k');
    assert.equal(s.json.load_presets[0].context_length, 8192);
    await audit(page, 'settings/mode');
    await shot(page, 'settings-mode');
    await page.setViewportSize({ width: 360, height: 740 });
    await noOverflow(page, 'settings/mode at 360 px');
    await shot(page, 'mobile-settings-mode');
    await page.setViewportSize({ width: 1280, height: 800 });

    await page.getByLabel(/^Dev/).check();
    await page.getByRole('button', { name: 'Switch to Dev' }).click();
    await page.getByTestId('current-mode').getByText('Dev').waitFor();
    // delete asks first
    await item.getByRole('button', { name: 'Delete preset fast-8k' }).click();
    await page.getByRole('dialog', { name: 'Delete preset fast-8k?' }).getByRole('button', { name: 'Delete preset' }).click();
    await page.getByText('Preset fast-8k deleted.').waitFor();
  });

  test('no script errors or CSP violations', () => {
    assert.deepEqual(pageErrors, []);
  });
});
