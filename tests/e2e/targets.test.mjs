// targets.test.mjs - the shell's target/health strip against real daemons:
// the control plane watches two llmster-sim instances (one bootstrapped
// from DAEMON_API_URL, one added over the API that needs a token it does
// not have), and the strip shows what the server's /api/events reports:
// running, unauthorized, and stopped once a simulator goes away.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Client, bin, startControlPlane, startProc } from '../lib/harness.mjs';
import { contrastAudit, horizontalOverflow, launch, shot, signIn } from './browser.mjs';

const T = 30000;
let simA, simB, cp, br, page;

describe('target strip', { timeout: 180000 }, () => {
  before(async () => {
    simA = await startProc(bin('llmster-sim'), ['--port', '0', '--speed', '0', '--seed', '3']);
    simB = await startProc(bin('llmster-sim'), ['--port', '0', '--speed', '0', '--seed', '4',
      '--api-token', 'sk-lm-e2e-secret-token-value']);
    cp = await startControlPlane({ env: { DAEMON_API_URL: simA.url }, args: ['--health-interval-ms', '300'] });
    const c = new Client(cp.url);
    await c.login(cp.admin.username, cp.admin.password);
    const r = await c.post('/api/targets', { label: 'locked-box', url: simB.url });
    assert.equal(r.status, 201, r.text);
    br = await launch();
    const ctx = await br.newContext();
    page = await ctx.newPage();
    page.setDefaultTimeout(T);
  });
  after(async () => {
    await br?.close();
    await cp?.cleanup();
    await simA?.stop();
    await simB?.stop();
  });

  test('shows each target with the health the server reports', async () => {
    await signIn(page, cp.url, cp.admin.username, cp.admin.password);
    const strip = page.getByTestId('target-strip');
    const items = strip.locator('li[data-target-label]');
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="target-strip"] li').length === 2);
    const locked = strip.locator('li[data-target-label="locked-box"]');
    await locked.getByText('unauthorized').waitFor();
    const other = items.filter({ hasNot: page.locator('[data-target-label="locked-box"]') }).first();
    const bootLabel = await items.evaluateAll((els) => els.map((e) => e.getAttribute('data-target-label'))
      .find((l) => l !== 'locked-box'));
    assert.ok(bootLabel, 'the bootstrapped target is listed');
    const boot = strip.locator(`li[data-target-label="${bootLabel}"]`);
    await boot.getByText(/^running · [\d.]+ ms$/).waitFor();
    assert.ok(other);
    // the token is never shown
    assert.ok(!(await page.content()).includes('sk-lm-e2e-secret-token-value'));
    await shot(page, 'strip-targets');
    const a = await contrastAudit(page);
    assert.deepEqual(a.failing, [], JSON.stringify(a.failing));

    // a daemon that goes away turns "stopped" without a reload
    await simA.stop();
    await boot.getByText('stopped').waitFor({ timeout: 60000 });
    await shot(page, 'strip-target-stopped');

    // narrow screens wrap the strip instead of scrolling sideways
    await page.setViewportSize({ width: 360, height: 740 });
    const o = await horizontalOverflow(page);
    assert.ok(o.scrollWidth <= o.clientWidth, JSON.stringify(o));
    await shot(page, 'mobile-strip-targets');
  });
});
