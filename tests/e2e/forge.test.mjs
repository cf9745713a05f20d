// forge.test.mjs - The Forge end to end in Chromium: the real control
// plane (build/daemonpulse with the web UI embedded, or $DP_BIN_DIR) over
// llmster-sim with build/lms as the bridge.
//
// An operator sees the library (search, filters), opens the load dialog,
// sees the VRAM pre-flight bars with LM Studio's own figure, loads, sees
// the instance appear without a reload (via /api/events), ejects it with
// a confirmation, is blocked from a load that will not fit (an admin gets
// the override), unloads all, downloads a model with a progress bar to
// completion (the library then lists it). In Live mode the dialog offers
// only the saved presets and says why. A viewer sees no load, eject or
// download controls. 360 px without horizontal scrolling; WCAG contrast
// measured on the rendered pages. Screenshots in tests/e2e/artifacts/.
//
// The simulator runs at --speed 2 so a download of qwen/qwen3-1.7b
// (1.8 GB at 200 MB/s) lasts several seconds and its progress is visible;
// loads then take about a second. Waits are on the page, never sleeps.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { Client, ROOT, bin, startControlPlane, startProc, tempDir } from '../lib/harness.mjs';
import path from 'node:path';
import { ARTIFACTS, collectErrors, contrastAudit, horizontalOverflow, launch, shot, signIn } from './browser.mjs';

const SLOW = process.env.DP_BIN_DIR && /asan/.test(process.env.DP_BIN_DIR) ? 3 : 1;
const T = 30000 * SLOW;

let sim, cp, br, admin, page, ctx;
const users = {};
const pageErrors = [];

async function signInAs(p, username, password) {
  await signIn(p, cp.url, username, password);
}

async function openForge(p) {
  await p.goto(cp.url + '/forge');
  await p.getByRole('heading', { level: 1, name: 'The Forge' }).waitFor();
  await p.locator('[data-testid="model-row"]').first().waitFor();
}

async function auditContrast(p, name) {
  const a = await contrastAudit(p);
  assert.deepEqual(a.unparsed, [], `colours the audit cannot parse on ${name}`);
  assert.deepEqual(a.failing, [], `text below WCAG AA on ${name}: ${JSON.stringify(a.failing, null, 1)}`);
}

// A modal dialog in a full-page shot is drawn over a repeated page: shoot
// the viewport instead, made tall enough for the whole dialog.
async function shotDialog(p, name) {
  const vp = p.viewportSize();
  const h = await p.evaluate(() => document.querySelector('dialog[open]')?.scrollHeight ?? 0);
  await p.setViewportSize({ width: vp.width, height: Math.min(Math.max(vp.height, h + 80), 3000) });
  await p.waitForFunction(() => true);
  const file = path.join(ARTIFACTS, `${name}.png`);
  await p.screenshot({ path: file });
  await p.setViewportSize(vp);
  return file;
}

const row = (p, key) => p.locator(`[data-testid="model-row"][data-model-key="${key}"]`);
const dialog = (p) => p.locator('dialog[open]');

describe('the forge in the browser', { timeout: 600000 }, () => {
  before(async () => {
    sim = await startProc(bin('llmster-sim'), ['--port', '0', '--speed', '2', '--ram', '128GiB', '--seed', '7']);
    cp = await startControlPlane({
      env: { DAEMON_API_URL: sim.url, LMS_BIN: bin('lms') },
      args: ['--health-interval-ms', '300'],
    });
    admin = new Client(cp.url);
    await admin.login(cp.admin.username, cp.admin.password);
    for (const role of ['operator', 'viewer']) {
      const password = `pw-${role}-${Math.random().toString(36).slice(2)}-0123456789`;
      const r = await admin.post('/api/users', { username: `e2e-${role}`, password, role });
      assert.equal(r.status, 201, r.text);
      users[role] = { username: `e2e-${role}`, password };
    }
    br = await launch();
    ctx = await br.newContext();
    // count the EventSource objects the app opens (one per tab is the rule)
    await ctx.addInitScript(() => {
      const Orig = window.EventSource;
      window.__eventSources = [];
      window.EventSource = class extends Orig {
        constructor(...a) { super(...a); window.__eventSources.push(this); }
      };
    });
    page = await ctx.newPage();
    page.setDefaultTimeout(T);
    collectErrors(page, pageErrors);
    await signInAs(page, users.operator.username, users.operator.password);
  });
  after(async () => {
    await br?.close();
    await cp?.cleanup();
    await sim?.stop();
  });

  test('library: every model the daemon reports, with search, filters and facts', async () => {
    // the page listens on the tab's one /api/events stream (the shell's), not a second one
    await openForge(page);
    await page.getByTestId('forge-facts').waitFor();
    assert.equal(await page.evaluate(() => window.__eventSources.filter((e) => e.readyState !== 2).length), 1,
      'one open event stream per tab');
    const api = (await admin.get('/api/targets/1/models')).json;
    assert.ok(api.models.length >= 5, 'the simulator reports models');
    await page.waitForFunction((n) => document.querySelectorAll('[data-testid="model-row"]').length === n, Math.min(api.models.length, 25));
    const q = api.models.find((m) => m.key === 'qwen/qwen3-8b');
    const r = row(page, 'qwen/qwen3-8b');
    const text = (await r.innerText()).replace(/\s+/g, ' ');
    for (const s of [q.display_name, q.publisher, q.architecture, q.params, q.quantization.name, 'tool use', 'reasoning', 'GGUF']) {
      assert.ok(text.includes(s), `row shows ${s}: ${text}`);
    }
    assert.ok(text.includes('40,960'), 'max context');
    // JIT is never claimed: LM Studio does not report it
    assert.match(await page.getByTestId('jit').innerText(), /not reported/);
    // search and capability filters (LM Studio's flags)
    await page.getByLabel('Search models').fill('gemma');
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="model-row"]').length === 1);
    await page.getByLabel('Search models').fill('');
    await page.getByRole('checkbox', { name: 'vision' }).check();
    const vision = api.models.filter((m) => m.capabilities?.vision === true).length;
    await page.waitForFunction((n) => document.querySelectorAll('[data-testid="model-row"]').length === n, vision);
    await page.getByRole('checkbox', { name: 'vision' }).uncheck();
    await page.getByLabel('Format').selectOption('mlx');
    await page.waitForFunction((n) => document.querySelectorAll('[data-testid="model-row"]').length === n,
      api.models.filter((m) => m.format === 'mlx').length);
    await page.getByLabel('Format').selectOption('');
    await page.getByLabel('Sort by').selectOption('size');
    await page.getByRole('button', { name: /Ascending; switch/ }).click();
    const firstKey = await page.locator('[data-testid="model-row"]').first().getAttribute('data-model-key');
    const biggest = [...api.models].sort((a, b) => b.size_bytes - a.size_bytes)[0].key;
    assert.equal(firstKey, biggest, 'largest first when sorted by size, descending');
    await page.getByLabel('Sort by').selectOption('name');
    await page.getByRole('button', { name: /Descending; switch/ }).click();
    await shot(page, 'forge-library');
    await auditContrast(page, 'forge library');
  });

  test('load with the pre-flight; the instance appears without a reload; eject with confirmation', async () => {
    await openForge(page);
    await page.getByRole('button', { name: 'Load qwen/qwen3-8b' }).click();
    const d = dialog(page);
    await d.getByRole('heading', { name: 'Load Qwen3 8B' }).waitFor();
    await d.getByLabel('Context length', { exact: true }).fill('8192');
    await d.getByLabel('Flash attention').selectOption('on');
    assert.match(await d.getByTestId('load-path').innerText(), /POST \/api\/v1\/models\/load/);
    // the pre-flight: one bar for the GPU and one for RAM, our figure and LM Studio's
    await d.locator('[data-testid="preflight-bar"][data-fits="true"]').first().waitFor();
    await d.getByText('Fits, by our estimate.').waitFor();
    assert.equal(await d.locator('[data-testid="preflight-bar"]').count(), 2);
    assert.match(await d.locator('[data-testid="preflight-bar"]').first().innerText(), /GPU 0 · RTX 4090/);
    assert.match(await d.getByTestId('ours-gpu').innerText(), /GiB/);
    assert.match(await d.getByTestId('lmstudio-gpu').innerText(), /GiB|MiB/);
    assert.equal(await d.getByTestId('lmstudio-marker').count(), 1, "LM Studio's figure marked on the one GPU bar");
    await d.getByText(/Ours is .* (higher|lower) than LM Studio's|Both figures agree/).waitFor();
    await shotDialog(page, 'forge-load-dialog');
    await auditContrast(page, 'load dialog');
    await d.getByTestId('load-submit').click();
    await d.getByText('Loaded', { exact: true }).waitFor();
    assert.match(await d.innerText(), /Instance qwen\/qwen3-8b via the REST API/);
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Close', 'focus stays in the dialog');
    await d.getByRole('button', { name: 'Close' }).click();
    // the instance is in the library (pushed by /api/events; no reload)
    const inst = row(page, 'qwen/qwen3-8b').locator('[data-testid="instance"]');
    await inst.waitFor();
    const it = (await inst.innerText()).replace(/\s+/g, ' ');
    assert.match(it, /context 8192/);
    assert.match(it, /flash attn on/);
    assert.match(it, /idle/);
    assert.match(it, /loaded by e2e-operator via REST/);
    assert.match(it, /not a JIT load/);
    // the next load of this model can start from the last used values (the server's record)
    await page.getByRole('button', { name: 'Load qwen/qwen3-8b' }).click();
    const again = dialog(page);
    const start = again.getByLabel('Start from');
    const lastOpt = await start.locator('option[value="last"]').innerText();
    assert.match(lastOpt, /last load here by e2e-operator/);
    await start.selectOption('last');
    assert.equal(await again.getByLabel('Context length', { exact: true }).inputValue(), '8192');
    assert.equal(await again.getByLabel('Flash attention').inputValue(), 'on');
    await page.keyboard.press('Escape');
    await again.waitFor({ state: 'detached' });
    // eject: one confirmation, one request
    let unloads = 0;
    page.on('request', (r) => { if (r.method() === 'POST' && r.url().endsWith('/models/unload')) unloads++; });
    await page.getByRole('button', { name: 'Eject qwen/qwen3-8b' }).click();
    const c = dialog(page);
    await c.getByRole('heading', { name: 'Eject this instance?' }).waitFor();
    await c.getByRole('button', { name: 'Eject' }).click();
    await inst.waitFor({ state: 'detached' });
    assert.equal(unloads, 1);
    await page.getByText('Unloaded 1 instance.').waitFor();
  });

  test('a load that will not fit is blocked; only an admin can override', async () => {
    await page.getByRole('button', { name: 'Load google/gemma-3-12b' }).click();
    const d = dialog(page);
    await d.getByLabel('Context length', { exact: true }).fill('131072');
    await d.locator('[data-testid="preflight-bar"][data-fits="false"]').waitFor();
    await d.getByText('Will not fit', { exact: true }).waitFor();
    await d.getByText('Only an admin can override a failed pre-flight.').waitFor();
    assert.equal(await d.getByTestId('load-submit').getAttribute('aria-disabled'), 'true');
    let loads = 0;
    page.on('request', (r) => { if (r.method() === 'POST' && r.url().endsWith('/models/load')) loads++; });
    // aria-disabled keeps it focusable; a click explains instead of sending
    await d.getByTestId('load-submit').click({ force: true });
    await d.getByText('This load will not fit. Only an admin can override the pre-flight.').waitFor();
    assert.equal(loads, 0, 'nothing sent');
    await shotDialog(page, 'forge-too-big');
    // above the model's maximum: refused in the form
    await d.getByLabel('Context length', { exact: true }).fill('200000');
    await d.getByText(/above the model's maximum 131072/).waitFor();
    // Escape closes the dialog and focus returns to the opener
    await page.keyboard.press('Escape');
    await d.waitFor({ state: 'detached' });
    assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('aria-label')), 'Load google/gemma-3-12b');

    // an admin sees the override
    const actx = await br.newContext();
    const ap = await actx.newPage();
    ap.setDefaultTimeout(T);
    try {
      await signInAs(ap, cp.admin.username, cp.admin.password);
      await openForge(ap);
      await ap.getByRole('button', { name: 'Load google/gemma-3-12b' }).click();
      const ad = dialog(ap);
      await ad.getByLabel('Context length', { exact: true }).fill('131072');
      const box = ad.getByRole('checkbox', { name: /Override the pre-flight/ });
      await box.waitFor();
      assert.equal(await ad.getByTestId('load-submit').getAttribute('aria-disabled'), 'true');
      await box.check();
      assert.equal(await ad.getByTestId('load-submit').getAttribute('aria-disabled'), null);
      assert.equal((await ad.getByTestId('load-submit').innerText()).trim(), 'Load anyway');
      await shotDialog(ap, 'forge-override');
    } finally {
      await actx.close();
    }
  });

  test('the fields follow the model: experts for MoE only, llama.cpp fields off for MLX, CLI-only fields switch to lms', async () => {
    await page.getByRole('button', { name: 'Load qwen/qwen3-30b-a3b' }).click();
    let d = dialog(page);
    await d.getByLabel('Experts').waitFor();
    await d.getByLabel('Experts').fill('4');
    await d.getByLabel('Parallel slots').fill('2');
    // a REST-only and a CLI-only field together: neither interface takes both
    await d.getByText(/can only be sent through LM Studio's REST API/).waitFor();
    await d.getByLabel('Experts').fill('');
    await d.getByTestId('load-path').getByText(/Sent with lms load/).waitFor();
    await page.keyboard.press('Escape');
    await d.waitFor({ state: 'detached' });
    await page.getByRole('button', { name: 'Load qwen/qwen3-8b' }).click();
    d = dialog(page);
    await d.getByLabel('Flash attention').waitFor();
    assert.equal(await d.getByLabel('Experts').count(), 0, 'not a mixture of experts');
    await page.keyboard.press('Escape');
    await d.waitFor({ state: 'detached' });
    await page.getByRole('button', { name: 'Load qwen2.5-7b-instruct-mlx' }).click();
    d = dialog(page);
    await d.getByLabel('Flash attention').waitFor();
    assert.equal(await d.getByLabel('Flash attention').isDisabled(), true);
    assert.equal(await d.getByLabel('Eval batch size').isDisabled(), true);
    await page.keyboard.press('Escape');
    await d.waitFor({ state: 'detached' });
  });

  test('unload all asks first, then empties the target', async () => {
    for (const body of [{ model: 'meta/llama-3.2-3b', context_length: 2048 }, { model: 'ibm/granite-4-micro', context_length: 2048 }]) {
      const r = await admin.post('/api/targets/1/models/load', body);
      assert.equal(r.status, 200, r.text);
    }
    // loads by someone else show up by themselves
    await page.getByRole('button', { name: /^Unload all \(2\)$/ }).waitFor();
    await shot(page, 'forge-instances');
    await page.getByRole('button', { name: /^Unload all/ }).click();
    const c = dialog(page);
    await c.getByText(/Unload all 2 loaded instances/).waitFor();
    await c.getByRole('button', { name: 'Unload all' }).click();
    await page.getByText('Unloaded 2 instances.').waitFor();
    await page.waitForFunction(() => !document.querySelector('[data-testid="instance"]'));
  });

  test('an instance loaded with a TTL (through lms) shows the time left counting down', async () => {
    const r = await admin.post('/api/targets/1/models/load',
      { model: 'meta/llama-3.2-3b', context_length: 2048, ttl: 600, identifier: 'llama-ttl' });
    assert.equal(r.status, 200, r.text);
    const ttl = page.locator('[data-instance-id="llama-ttl"] [data-testid="ttl"]');
    await ttl.getByText(/^\d+ min \d+ s left of 10 min 00 s if idle$/).waitFor();
    const t1 = await ttl.innerText();
    await page.waitForFunction((t) => document.querySelector('[data-instance-id="llama-ttl"] [data-testid="ttl"]')?.textContent !== t, t1);
    assert.equal((await admin.post('/api/targets/1/models/unload', { instance_id: 'llama-ttl' })).status, 200);
    await page.locator('[data-instance-id="llama-ttl"]').waitFor({ state: 'detached' });
  });

  test('download with a progress bar pushed by the server, to completion', async () => {
    assert.equal(await row(page, 'qwen/qwen3-1.7b').count(), 0, 'not downloaded yet');
    await page.getByLabel('Model id or Hugging Face URL').fill('qwen/qwen3-1.7b');
    await page.getByRole('button', { name: 'Download', exact: true }).click();
    const job = page.locator('[data-testid="download-job"]').filter({ hasText: 'qwen/qwen3-1.7b' });
    await job.waitFor();
    // progress between 0 and 100 % (pushed on /api/events once per poll)
    await page.waitForFunction(() => {
      const b = document.querySelector('[data-testid="download-job"] [role="progressbar"]');
      const v = Number(b?.getAttribute('aria-valuenow'));
      return v > 0 && v < 100;
    }, null, { timeout: T });
    await shot(page, 'forge-download');
    await job.and(page.locator('[data-status="completed"]')).waitFor({ timeout: 90000 * SLOW });
    assert.equal(await job.locator('[role="progressbar"]').getAttribute('aria-valuenow'), '100');
    // completion refreshes the library
    await row(page, 'qwen/qwen3-1.7b').waitFor({ timeout: T });
    // a bad quantization is refused in the form
    await page.getByLabel('Model id or Hugging Face URL').fill('qwen/qwen3-1.7b');
    await page.getByLabel(/Quantization/).fill('Q4 K');
    await page.getByRole('button', { name: 'Download', exact: true }).click();
    await page.getByText(/Quantization: 1 to 32/).waitFor();
  });

  test('Live mode: the dialog offers only saved presets and says why', async () => {
    const r = await admin.put('/api/settings', {
      mode: 'live', load_presets: [{ name: 'small-2k', model: 'meta/llama-3.2-3b', context_length: 2048 },
        { name: 'any-4k', context_length: 4096 }],
    });
    assert.equal(r.status, 200, r.text);
    try {
      await page.getByTestId('forge-facts').getByText(/Live — loads use saved presets only/).waitFor();
      await page.getByRole('button', { name: 'Load meta/llama-3.2-3b' }).click();
      const d = dialog(page);
      await d.getByText('Live mode: saved presets only').waitFor();
      assert.equal(await d.getByLabel('Context length', { exact: true }).count(), 0, 'no free fields');
      assert.equal(await d.getByRole('radio').count(), 2);
      await d.getByRole('radio', { name: /small-2k/ }).check();
      await d.locator('[data-testid="preflight-bar"]').first().waitFor();
      await shotDialog(page, 'forge-live-mode');
      await d.getByTestId('load-submit').click();
      await d.getByText('Loaded', { exact: true }).waitFor();
      await d.getByRole('button', { name: 'Close' }).click();
      await row(page, 'meta/llama-3.2-3b').locator('[data-testid="instance"]').first().getByText('2048').waitFor();
    } finally {
      assert.equal((await admin.put('/api/settings', { mode: 'dev' })).status, 200);
    }
    await page.getByTestId('forge-facts').getByText(/Dev — every load setting/).waitFor();
  });

  test('a viewer sees the library but no load, eject or download controls', async () => {
    const vctx = await br.newContext();
    const vp = await vctx.newPage();
    vp.setDefaultTimeout(T);
    try {
      await signInAs(vp, users.viewer.username, users.viewer.password);
      await openForge(vp);
      await vp.locator('[data-testid="instance"]').first().waitFor();
      assert.equal(await vp.getByRole('button', { name: /^Load / }).count(), 0);
      assert.equal(await vp.getByRole('button', { name: /^Eject / }).count(), 0);
      assert.equal(await vp.getByRole('button', { name: /^Unload all/ }).count(), 0);
      assert.equal(await vp.getByLabel('Model id or Hugging Face URL').count(), 0);
      await vp.getByText(/signed in as a viewer/).waitFor();
      await shot(vp, 'forge-viewer');
    } finally {
      await vctx.close();
    }
  });

  test('360 px: no horizontal scrolling; the load dialog fits', async () => {
    await page.setViewportSize({ width: 360, height: 740 });
    try {
      await openForge(page);
      await page.waitForFunction(() => !document.querySelector('[role="progressbar"][aria-busy="true"]'));
      let o = await horizontalOverflow(page);
      assert.ok(o.scrollWidth <= o.clientWidth, `library overflows at 360 px: ${JSON.stringify(o)}`);
      await shot(page, 'mobile-forge-library');
      await page.getByRole('button', { name: 'Load qwen/qwen3-8b' }).click();
      const d = dialog(page);
      await d.locator('[data-testid="preflight-bar"]').first().waitFor();
      o = await horizontalOverflow(page);
      assert.ok(o.scrollWidth <= o.clientWidth, `dialog overflows at 360 px: ${JSON.stringify(o)}`);
      const box = await d.boundingBox();
      assert.ok(box && box.width <= 360, `dialog width ${box?.width}`);
      await shotDialog(page, 'mobile-forge-load-dialog');
      await page.keyboard.press('Escape');
      await d.waitFor({ state: 'detached' });
    } finally {
      await page.setViewportSize({ width: 1280, height: 800 });
    }
  });

  test('a large library (256 models, the simulator maximum) pages and filters quickly; targets switch', async () => {
    // a catalog of 256 models derived from the simulator's own first entry
    const base = JSON.parse(readFileSync(path.join(ROOT, 'sim/catalog.json'), 'utf8')).models[0];
    const models = Array.from({ length: 256 }, (_, i) => ({
      ...base, key: `bulk/model-${String(i).padStart(3, '0')}`, display_name: `Bulk Model ${i}`,
      publisher: `pub${i % 7}`, size_bytes: 1e9 + i * 1e7, path: `bulk/Model-${i}-GGUF/model-${i}.gguf`,
      variant: `bulk/model-${i}@q4_k_m`, downloaded: true, vision: i % 5 === 0,
    }));
    const tmp = tempDir('dp-forge-e2e-');
    const file = path.join(tmp.dir, 'catalog.json');
    writeFileSync(file, JSON.stringify({ models }));
    const big = await startProc(bin('llmster-sim'), ['--port', '0', '--speed', '0', '--catalog', file]);
    try {
      const r = await admin.post('/api/targets', { label: 'big-library', url: big.url });
      assert.equal(r.status, 201, r.text);
      await openForge(page);
      await page.getByLabel('Target', { exact: true }).selectOption({ label: 'big-library' });
      await page.getByTestId('library-count').getByText('256 models').waitFor();
      assert.equal(await page.locator('[data-testid="model-row"]').count(), 25, 'one page of rows in the DOM');
      await page.getByText('page 1 of 11').waitFor();
      await page.getByRole('button', { name: 'Next' }).click();
      await page.getByText('page 2 of 11').waitFor();
      assert.equal(await page.locator('[data-testid="model-row"]').first().getAttribute('data-model-key'), 'bulk/model-025');
      const t0 = Date.now();
      await page.getByLabel('Search models').fill('pub3');
      await page.getByTestId('library-count').getByText(/^\d+ of 256 models match/).waitFor();
      const ms = Date.now() - t0;
      assert.ok(ms < 3000 * SLOW, `search took ${ms} ms`);
      await page.getByText('page 1 of 2').waitFor();
      await shot(page, 'forge-large-library');
      await page.getByLabel('Search models').fill('');
      // the daemon goes away: the page says the list is from before
      await big.stop();
      await page.getByText('The target is stopped').waitFor();
      // back to the first target; the choice is remembered as the active target
      await page.getByLabel('Target', { exact: true }).selectOption({ label: 'default' });
      await row(page, 'qwen/qwen3-8b').waitFor();
      assert.equal((await admin.del(`/api/targets/${r.json.target.id}`)).status, 204);
    } finally {
      await big.stop();
      tmp.cleanup();
    }
  });

  test('no script errors in the page', () => {
    assert.deepEqual(pageErrors, []);
  });
});
