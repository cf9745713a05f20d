// fleet.test.mjs - The Fleet in Chromium against two llmster-sim instances
// (one requiring a token the control plane does not have): a card per
// target with its state, the loaded instance and its config, the GPU with
// live telemetry labelled "simulated", VRAM bar and LM Studio split, RAM,
// a history chart, the shell's alert badge (VRAM threshold 10 %), the Kill
// Switch (confirm dialog naming the instance, result per instance, alert
// resolved), and no Kill Switch for a viewer. Screenshots at desktop width
// and 360 px in tests/e2e/artifacts/.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { Client, ROOT, bin, startControlPlane, startProc } from '../lib/harness.mjs';
import { ARTIFACTS, collectErrors, contrastAudit, horizontalOverflow, launch, shot, signIn } from './browser.mjs';

const T = 30000;
const TOKEN = 'sk-lm-fleetE2e:fleetFleetFleet01234';
let simA, simB, cp, br, page, admin;
const pageErrors = [];

async function simLoad(sim, model) {
  const r = await fetch(sim.url + '/api/v1/models/load', {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model, context_length: 4096, flash_attention: true }),
  });
  assert.equal(r.status, 200, await r.text());
}

async function signInAs(p, username, password) {
  await signIn(p, cp.url, username, password);
}

describe('the fleet', { timeout: 240000 }, () => {
  before(async () => {
    simA = await startProc(bin('llmster-sim'), ['--port', '0', '--speed', '0', '--seed', '21', '--gpus', 'RTX 4090:24GiB']);
    simB = await startProc(bin('llmster-sim'), ['--port', '0', '--speed', '0', '--seed', '22', '--api-token', TOKEN]);
    cp = await startControlPlane({
      env: { LMS_BIN: bin('lms') },
      args: ['--health-interval-ms', '300', '--telemetry-interval-ms', '500', '--alert-vram-percent', '10',
        '--nvml-library', 'off', '--sysfs-root', path.join(ROOT, 'tests/fixtures/amdgpu/empty')],
    });
    admin = new Client(cp.url);
    await admin.login(cp.admin.username, cp.admin.password);
    assert.equal((await admin.post('/api/targets', { label: 'sim-a', url: simA.url })).status, 201);
    assert.equal((await admin.post('/api/targets', { label: 'locked', url: simB.url })).status, 201);
    // a remote host nobody answers on (TEST-NET-1): nothing measurable, nothing invented
    assert.equal((await admin.post('/api/targets', { label: 'ghost', url: 'http://192.0.2.1:1234' })).status, 201);
    await simLoad(simA, 'qwen/qwen3-8b');
    br = await launch();
    const ctx = await br.newContext();
    page = await ctx.newPage();
    page.setDefaultTimeout(T);
    collectErrors(page, pageErrors, { only: /Content Security Policy/i });
    await signInAs(page, cp.admin.username, cp.admin.password);
  });
  after(async () => {
    await br?.close();
    await cp?.cleanup();
    await simA?.stop();
    await simB?.stop();
  });

  test('a card per target: state, loaded instance, simulated GPU telemetry, RAM, history', async () => {
    await page.getByRole('heading', { level: 1, name: 'The Fleet' }).waitFor();
    const a = page.locator('article[data-target-card="sim-a"]');
    const b = page.locator('article[data-target-card="locked"]');
    await a.locator('[data-testid="state-badge"][data-state="running"]').waitFor();
    await b.locator('[data-testid="state-badge"][data-state="unauthorized"]').waitFor();
    // the loaded instance with its config
    const inst = a.locator('li[data-instance="qwen/qwen3-8b"]');
    await inst.waitFor();
    assert.match(await inst.innerText(), /context 4,096/);
    // its VRAM share per GPU, which the simulator reports
    await inst.getByTestId('instance-vram').getByText(/^VRAM: GPU 0 \d+(\.\d)? GiB$/).waitFor();
    // live telemetry from the simulator, labelled so
    const gpu = a.locator('[data-gpu="0"]');
    await gpu.locator('[data-provenance="simulated"]').waitFor();
    await gpu.getByText('RTX 4090').waitFor();
    await page.waitForFunction(() => /GiB of 24\.0 GiB/.test(
      document.querySelector('article[data-target-card="sim-a"] [data-gpu="0"] [data-testid="vram-text"]')?.textContent ?? ''));
    await gpu.getByTestId('vram-split').getByText(/^LM Studio/).waitFor();
    assert.match(await a.getByTestId('telemetry-note').innerText(), /Simulated numbers/);
    await a.getByRole('meter', { name: 'VRAM of GPU 0' }).waitFor();
    // a measured value that the simulator does not report reads "not measurable", never 0
    assert.match(await gpu.innerText(), /Fan\s*not measurable/);
    await a.locator('.uplot canvas').first().waitFor();
    // the locked target: its simulator's GPU endpoint needs no token, so its numbers are shown, labelled simulated
    await b.locator('[data-gpu="0"] [data-provenance="simulated"]').waitFor();
    const g = page.locator('article[data-target-card="ghost"]');
    await g.locator('[data-testid="state-badge"]:not([data-state="unknown"]):not([data-state="running"])').waitFor({ timeout: 60000 });
    await g.getByTestId('telemetry-note').getByText(/^Live values not measurable: /).waitFor({ timeout: 60000 });
    assert.equal(await g.getByTestId('vram-fill').count(), 0);
    assert.equal(await g.locator('[data-provenance="simulated"], [data-provenance="measured"]').count(), 0);
    assert.equal(await g.getByRole('button', { name: /Kill Switch/ }).isDisabled(), true);
    // the shell shows the VRAM alert (threshold 10 %)
    await page.getByTestId('alert-badge').getByText('1 alert').waitFor();
    assert.ok(!(await page.content()).includes(TOKEN));

    const audit = await contrastAudit(page);
    assert.deepEqual(audit.failing, [], JSON.stringify(audit.failing));
    await shot(page, 'fleet');
    await page.setViewportSize({ width: 360, height: 740 });
    await page.waitForTimeout(300); // let uPlot follow the resize (ResizeObserver)
    const o = await horizontalOverflow(page);
    assert.ok(o.scrollWidth <= o.clientWidth, JSON.stringify(o));
    await shot(page, 'mobile-fleet');
    await a.locator('[data-gpu="0"]').scrollIntoViewIfNeeded();
    await page.screenshot({ path: path.join(ARTIFACTS, 'mobile-fleet-card.png') }); // the viewport, as seen
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  test('Kill Switch: confirm names the instances, result per instance, alert resolves', async () => {
    const a = page.locator('article[data-target-card="sim-a"]');
    await a.getByRole('button', { name: 'Kill Switch: unload every model on sim-a' }).click();
    const dlg = page.getByRole('dialog', { name: 'Kill Switch: sim-a' });
    await dlg.getByTestId('kill-list').getByText('qwen/qwen3-8b').waitFor();
    await page.screenshot({ path: path.join(ARTIFACTS, 'fleet-kill-switch-confirm.png') }); // the viewport, as seen
    await dlg.getByRole('button', { name: 'Unload everything' }).click();
    const res = dlg.getByTestId('kill-result');
    await res.getByText('1 of 1 instance unloaded.').waitFor();
    await res.locator('li[data-unload="qwen/qwen3-8b"]').getByText('unloaded').waitFor();
    await page.screenshot({ path: path.join(ARTIFACTS, 'fleet-kill-switch-result.png') });
    await dlg.getByRole('button', { name: 'Close' }).click();
    await a.getByTestId('no-instances').waitFor();
    await page.getByTestId('alert-badge').waitFor({ state: 'detached', timeout: 60000 });
    const m = await admin.get(`/api/targets/${(await admin.get('/api/targets')).json.targets.find((t) => t.label === 'sim-a').id}/models`);
    assert.equal(m.json.models.flatMap((x) => x.loaded_instances).length, 0);
  });

  test('a viewer sees the fleet but no Kill Switch', async () => {
    const password = `pw-viewer-${Math.random().toString(36).slice(2)}-0123456789`;
    assert.equal((await admin.post('/api/users', { username: 'v1', password, role: 'viewer' })).status, 201);
    const ctx = await br.newContext();
    const p = await ctx.newPage();
    p.setDefaultTimeout(T);
    try {
      await signInAs(p, 'v1', password);
      const a = p.locator('article[data-target-card="sim-a"]');
      await a.locator('[data-testid="state-badge"][data-state="running"]').waitFor();
      await a.locator('[data-provenance="simulated"]').first().waitFor();
      assert.equal(await p.getByRole('button', { name: /Kill Switch/ }).count(), 0);
    } finally {
      await ctx.close();
    }
  });

  test('no script errors or CSP violations', () => {
    assert.deepEqual(pageErrors, []);
  });
});

// The measured path: a loopback target read through the fake NVML library
// (tests/fake_nvml, scenario two_gpus) with the /proc fixture: labelled
// "measured", VRAM split LM Studio / other processes / free, temperature
// and power, and per-instance VRAM "not measurable".
const FAKE_NVML = path.join(ROOT, process.env.DP_FAKE_NVML_DIR || 'build/fake_nvml', 'full/libnvidia-ml.so.1');

describe('the fleet: measured through NVML', { timeout: 180000 }, () => {
  let cp2, br2;
  before(async () => {
    const { existsSync } = await import('node:fs');
    if (!existsSync(FAKE_NVML)) return; // built by the unit suite (make unit)
    cp2 = await startControlPlane({
      args: ['--telemetry-interval-ms', '500', '--nvml-library', FAKE_NVML,
        '--procfs-root', path.join(ROOT, 'tests/fixtures/proc')],
      env: { FAKE_NVML_SCENARIO: path.join(ROOT, 'tests/fake_nvml/scenarios/two_gpus.txt') },
    });
    const c = new Client(cp2.url);
    await c.login(cp2.admin.username, cp2.admin.password);
    assert.equal((await c.post('/api/targets', { label: 'local', url: 'http://127.0.0.1:9' })).status, 201);
    br2 = await launch();
  });
  after(async () => {
    await br2?.close();
    await cp2?.cleanup();
  });

  test('two NVIDIA GPUs with the LM Studio / other split', async (t) => {
    if (!cp2) { t.skip(`no fake NVML at ${FAKE_NVML}`); return; }
    const ctx = await br2.newContext();
    const p = await ctx.newPage();
    p.setDefaultTimeout(T);
    const errors = [];
    p.on('pageerror', (e) => errors.push(String(e)));
    try {
      await signIn(p, cp2.url, cp2.admin.username, cp2.admin.password);
      const card = p.locator('article[data-target-card="local"]');
      const g0 = card.locator('[data-gpu="0"]');
      await g0.locator('[data-provenance="measured"]').waitFor();
      await g0.getByText('NVIDIA GeForce RTX 4090').waitFor();
      const split = g0.getByTestId('vram-split');
      await split.getByText('LM Studio 5.0 GiB').waitFor();
      await split.getByText('other processes 256 MiB').waitFor();
      await split.getByText('driver / unattributed 768 MiB').waitFor();
      // GPU 1: only a graphics client, LM Studio measured at 0 B
      await card.locator('[data-gpu="1"]').getByTestId('vram-split').getByText('LM Studio 0 B').waitFor();
      assert.match(await g0.innerText(), /71 °C/);
      assert.match(await g0.innerText(), /311 W of 450 W/);
      assert.match(await g0.innerText(), /87 %/);
      await card.locator('[data-gpu="1"]').getByText('NVIDIA RTX A6000').waitFor();
      assert.match(await card.getByTestId('telemetry-note').innerText(), /^Measured through NVML/);
      await card.locator('.uplot canvas').first().waitFor();
      const a = await contrastAudit(p);
      assert.deepEqual(a.failing, [], JSON.stringify(a.failing));
      await shot(p, 'fleet-measured');
      await p.setViewportSize({ width: 360, height: 740 });
      await g0.scrollIntoViewIfNeeded();
      await p.screenshot({ path: path.join(ARTIFACTS, 'mobile-fleet-measured.png') });
      const o = await horizontalOverflow(p);
      assert.ok(o.scrollWidth <= o.clientWidth, JSON.stringify(o));
      assert.deepEqual(errors, []);
    } finally {
      await ctx.close();
    }
  });
});
