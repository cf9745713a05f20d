// pulse.test.mjs - The Pulse end to end in Chromium: the real control plane
// with an llmster-sim target (--speed 0.2: streaming is visible but quick;
// build/lms as LMS_BIN so slots are real) and a tiny stand-in daemon whose
// answer carries HTML. Send to a reasoning model (JIT load, reasoning apart
// from the answer, stats), a second turn stopped mid-stream, reopen from
// the history, compare two models streaming at once, and an answer with
// <script> that stays text. Screenshots at 1280 px and 360 px go to
// tests/e2e/artifacts/pulse-*.png.
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { Client, bin, startControlPlane, startProc } from '../lib/harness.mjs';
import { contrastAudit, horizontalOverflow, launch, shot, signIn } from './browser.mjs';

const T = 60000;
let sim, fake, cp, br, page, simTarget, fakeTarget, admin;

// ---- a stand-in daemon whose model answers with HTML (OpenAI-compatible stream) ----
const EVIL = 'Here is <script>window.__pwned = 1</script> and <img src=x onerror="window.__pwned=2">.\n\n' +
  '**Bold** text, a [bad link](javascript:window.__pwned=3) and a [good link](https://lmstudio.ai/docs).\n\n' +
  '```html\n<script>alert(1)</script>\n```\n&lt;b&gt;entities stay&lt;/b&gt;';

function startFake() {
  const model = {
    type: 'llm', publisher: 'fake', key: 'fake/html-echo', display_name: 'HTML echo', architecture: null,
    quantization: null, size_bytes: 1000, params_string: null, max_context_length: 4096, format: 'gguf',
    capabilities: { vision: false, trained_for_tool_use: false },
    loaded_instances: [{ id: 'fake/html-echo', config: { context_length: 4096 } }],
  };
  const srv = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      if (req.method === 'GET' && req.url === '/api/v1/models') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ models: [model] }));
        return;
      }
      if (req.method === 'POST' && req.url === '/v1/chat/completions') {
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
        const chunk = (delta, finish = null) => `data: ${JSON.stringify({ id: 'x', object: 'chat.completion.chunk', created: 1,
          model: 'fake/html-echo', choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] })}\n\n`;
        // split inside tags so the client and the relay see "<scr" + "ipt>"
        const pieces = EVIL.match(/[\s\S]{1,7}/g);
        res.write(chunk({ role: 'assistant', content: '' }));
        for (const p of pieces) res.write(chunk({ content: p }));
        res.write(chunk({}, 'stop'));
        res.end('data: [DONE]\n\n');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: 'Unexpected endpoint or method.' }));
    });
  });
  return new Promise((resolve) => srv.listen(0, '127.0.0.1', () => {
    resolve({ url: `http://127.0.0.1:${srv.address().port}`, stop: () => new Promise((r) => srv.close(r)) });
  }));
}

const warm = async (url, model) => {
  const r = await fetch(url + '/__sim/lms/load', { method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ modelKey: model, identifier: model }) });
  assert.ok(r.status === 200 || r.status === 409, await r.text());
};

// wait until a <select> offers `value` (Preact leaves the value attribute out when it equals the text)
const waitOption = (sel, value) => page.waitForFunction(([s, v]) =>
  [...(document.querySelector(s)?.options ?? [])].some((o) => o.value === v), [sel, value]);

const answers = () => page.getByTestId('answer');
const status = (loc) => loc.getAttribute('data-status');

async function audit(name) {
  const a = await contrastAudit(page);
  assert.deepEqual(a.failing, [], `${name}: ${JSON.stringify(a.failing)}`);
}

describe('the pulse', { timeout: 400000 }, () => {
  before(async () => {
    sim = await startProc(bin('llmster-sim'), ['--port', '0', '--speed', '0.2', '--seed', '5']);
    fake = await startFake();
    cp = await startControlPlane({ env: { DAEMON_API_URL: sim.url, LMS_BIN: bin('lms') }, args: ['--health-interval-ms', '500'] });
    const c = new Client(cp.url);
    admin = c;
    await c.login(cp.admin.username, cp.admin.password);
    let r = await c.post('/api/targets', { label: 'html-box', url: fake.url });
    assert.equal(r.status, 201, r.text);
    fakeTarget = r.json.target.id;
    r = await c.get('/api/targets');
    simTarget = r.json.targets.find((t) => t.url === sim.url).id;
    // B of the comparison is loaded up front so that both stream at the same time
    await warm(sim.url, 'ibm/granite-4-micro');
    br = await launch();
    const ctx = await br.newContext({ acceptDownloads: true });
    await ctx.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: cp.url });
    page = await ctx.newPage();
    page.setDefaultTimeout(T);
    await signIn(page, cp.url, cp.admin.username, cp.admin.password);
  });
  afterEach(async (t) => {
    // the page as it was when a test failed, to look at
    if (page && t.signal?.aborted !== undefined) await shot(page, `pulse-last-${t.name.replace(/[^a-z0-9]+/gi, '-').slice(0, 40)}`).catch(() => {});
  });
  after(async () => {
    await br?.close();
    await cp?.cleanup();
    await sim?.stop();
    await fake?.stop();
  });

  test('a reasoning model: JIT load, reasoning apart from the answer, stats', async () => {
    await page.getByRole('link', { name: 'The Pulse' }).click();
    await page.waitForURL((u) => u.pathname === '/pulse');
    await page.getByRole('heading', { name: 'The Pulse', level: 1 }).waitFor();
    await page.locator('#pulse-target').selectOption(String(simTarget));
    await page.locator('#pulse-api').selectOption('v1');
    // not loaded: offered in the JIT group, marked as such
    await waitOption('#pulse-model', 'qwen/qwen3-8b');
    const groups = await page.locator('#pulse-model optgroup').evaluateAll((gs) =>
      Object.fromEntries(gs.map((g) => [g.label, [...g.querySelectorAll('option')].map((o) => [o.value, o.textContent])])));
    const jit = groups['On disk: loaded on first use (JIT)'].find(([v]) => v === 'qwen/qwen3-8b');
    assert.match(jit[1], /not loaded/);
    assert.ok(groups.Loaded.some(([v]) => v === 'ibm/granite-4-micro'), JSON.stringify(groups));
    await page.locator('#pulse-model').selectOption('qwen/qwen3-8b');
    await page.getByText('Not loaded: LM Studio loads it when the request arrives').waitFor();
    await shot(page, 'pulse-empty');
    await audit('empty page');

    await page.getByLabel('Message').fill('Why is the sky blue?');
    await page.getByLabel('Message').press('Control+Enter');
    const a = answers().first();
    await a.waitFor();
    // the JIT load shows its progress, then reasoning streams before the answer
    await page.getByTestId('model-load').waitFor({ timeout: 30000 });
    await shot(page, 'pulse-model-load');
    await a.getByTestId('reasoning-text').waitFor({ timeout: 30000 });
    await page.waitForFunction(() => document.querySelector('[data-testid="answer"]')?.getAttribute('data-status') === 'streaming');
    await page.getByTestId('rate-chart').waitFor();
    await shot(page, 'pulse-streaming');
    await page.waitForFunction(() => document.querySelector('[data-testid="answer"]')?.getAttribute('data-status') === 'done',
      undefined, { timeout: 60000 });

    const reasoning = (await a.getByTestId('reasoning-text').textContent()).trim();
    const content = (await a.getByTestId('answer-content').textContent()).trim();
    assert.ok(reasoning.length > 20, reasoning);
    assert.ok(content.length > 20, content);
    assert.ok(!content.includes(reasoning.slice(0, 30)), 'reasoning is not in the answer');
    assert.ok(!content.includes('<think>') && !reasoning.includes('<think>'));
    assert.match(await a.getByTestId('reasoning-count').textContent(), /^\d+ tokens/);
    // the reasoning panel closed itself once the answer started and can be opened with the keyboard
    assert.equal(await a.getByTestId('reasoning').evaluate((d) => d.open), false);
    await a.locator('summary').focus();
    await page.keyboard.press('Enter');
    assert.equal(await a.getByTestId('reasoning').evaluate((d) => d.open), true);

    const stats = a.getByTestId('stats-bar');
    for (const id of ['ttft-server', 'ttft-browser', 'rate-server', 'rate-browser', 'tokens']) {
      const v = (await stats.getByTestId(id).locator('dd').textContent()).trim();
      assert.match(v, /^[\d.,]+ (ms|s|tok\/s)$|^\d+( \(events\))?$/, `${id}: ${v}`);
    }
    // v1 does not say why it stopped unless it hit max tokens: the server reports "completed"
    assert.match((await stats.getByTestId('stop-reason').locator('dd').textContent()).trim(), /^(completed|end of answer)$/);
    const lm = await stats.getByTestId('lmstudio-stats').textContent();
    assert.match(lm, /tokens\/s/);
    assert.match(lm, /model load/, 'the JIT load time LM Studio reported');
    // the browser cannot see the first token before the server relayed it
    const ms = (s) => (s.endsWith(' s') ? parseFloat(s) * 1000 : parseFloat(s));
    const tServer = ms((await stats.getByTestId('ttft-server').locator('dd').textContent()).trim());
    const tBrowser = ms((await stats.getByTestId('ttft-browser').locator('dd').textContent()).trim());
    assert.ok(tBrowser >= tServer - 1, `browser ${tBrowser} ms vs server ${tServer} ms`);
    assert.match(new URL(page.url()).search, /^\?c=\d+$/);
    await shot(page, 'pulse-answer');
    await audit('answer');
    // slots come from lms ps for the loaded instances
    await page.getByTestId('slots').waitFor();
    assert.match(await page.getByTestId('slots').textContent(), /parallel slot/);
  });

  test('a second turn is stopped mid-stream', async () => {
    await page.getByLabel('Message').fill('Now write a python function that sums a list, with a long explanation.');
    await page.getByRole('button', { name: 'Send' }).click();
    const a = answers().nth(1);
    await page.waitForFunction(() => {
      const el = document.querySelectorAll('[data-testid="answer"]')[1];
      return el && el.getAttribute('data-status') === 'streaming';
    });
    // the page follows the answer with Stop in view (the composer is below the transcript)
    await page.waitForFunction(() => {
      const b = document.querySelector('[data-testid="stop"]')?.getBoundingClientRect();
      return !!b && b.top >= 0 && b.bottom <= window.innerHeight;
    }, undefined, { timeout: 5000 });
    const stopAt = Date.now();
    await page.getByTestId('stop').click();
    try {
      await page.waitForFunction(() => document.querySelectorAll('[data-testid="answer"]')[1]?.getAttribute('data-status') === 'stopped',
        undefined, { timeout: 10000 });
    } catch (e) {
      const st = await page.evaluate(() => [...document.querySelectorAll('[data-testid="answer"]')].map((x) => x.getAttribute('data-status')));
      // the server's side: did the answer end before the Stop reached it (a view behind the stream)?
      const last = await page.evaluate(async () => (await (await fetch('/api/audit?action=chat&limit=1')).json()).entries[0]);
      throw new Error(`not stopped ${Date.now() - stopAt} ms after Stop (answers: ${JSON.stringify(st)}; `
        + `server: ${JSON.stringify({ at: last?.at, detail: last?.detail })}; Stop clicked at ${new Date(stopAt).toISOString()}): ${e.message}`);
    }
    assert.ok(Date.now() - stopAt < 5000, 'stopped promptly');
    assert.equal((await a.getByTestId('stop-reason').locator('dd').textContent()).trim(), 'stopped');
    // nothing more arrives once stopped
    const before1 = await a.textContent();
    await page.waitForTimeout(800);
    assert.equal(await a.textContent(), before1);
    assert.equal(await page.getByTestId('user-message').count(), 2);
    await page.getByRole('button', { name: 'Send' }).waitFor();
    await shot(page, 'pulse-stopped');
  });

  test('reopen from history', async () => {
    const convId = Number(new URL(page.url()).searchParams.get('c'));
    assert.ok(convId > 0);
    await page.getByRole('button', { name: 'New chat' }).click();
    assert.equal(await answers().count(), 0);
    const item = page.locator(`[data-testid="history-item"][data-conversation-id="${convId}"]`);
    await item.waitFor();
    assert.match(await item.textContent(), /Why is the sky blue\?/);
    await item.locator('button').first().click();
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="answer"]').length === 2);
    assert.equal(await page.getByTestId('user-message').count(), 2);
    const first = answers().first();
    assert.equal(await status(first), 'done');
    assert.ok((await first.getByTestId('reasoning-text').textContent()).length > 20, 'reasoning saved and shown');
    assert.equal(await status(answers().nth(1)), 'stopped');
    assert.match((await first.getByTestId('stop-reason').locator('dd').textContent()).trim(), /^(completed|end of answer)$/);
    // rename through the dialog; export as JSON is a download of the server's file
    await item.getByRole('button', { name: /^Rename/ }).click();
    await page.getByLabel('Title').fill('Sky colour');
    await page.getByRole('button', { name: 'Save' }).click();
    await item.getByText('Sky colour').waitFor();
    const [dl] = await Promise.all([page.waitForEvent('download'), item.getByRole('button', { name: /as JSON$/ }).click()]);
    assert.equal(dl.suggestedFilename(), `conversation-${convId}.json`);
    // a reload of /pulse?c=N reopens the conversation
    await page.reload();
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="answer"]').length === 2);
    await shot(page, 'pulse-reopened');
    await page.setViewportSize({ width: 360, height: 740 });
    const o = await horizontalOverflow(page);
    assert.ok(o.scrollWidth <= o.clientWidth, JSON.stringify(o));
    await shot(page, 'pulse-mobile-chat');
    await audit('mobile chat');
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  test('regenerate the last answer; copy an answer', async () => {
    const convId = Number(new URL(page.url()).searchParams.get('c'));
    // a short answer this time
    await page.getByText('Sampling and reasoning').click();
    await page.getByLabel('Max tokens').fill('12');
    // only the last answer offers it
    assert.equal(await page.getByRole('button', { name: /^Regenerate/ }).count(), 1);
    assert.equal(await answers().first().getByRole('button', { name: /^Regenerate/ }).count(), 0);
    await answers().nth(1).getByRole('button', { name: /^Regenerate/ }).click();
    await page.waitForFunction(() => {
      const a = document.querySelectorAll('[data-testid="answer"]');
      return a.length === 2 && a[1].getAttribute('data-status') === 'done';
    });
    assert.equal(await page.getByTestId('user-message').count(), 2);
    assert.equal((await answers().nth(1).getByTestId('stop-reason').locator('dd').textContent()).trim(), 'max tokens reached');
    // the saved conversation holds the new answer in place of the stopped one
    const saved = await page.evaluate(async (id) => (await (await fetch(`/api/conversations/${id}`)).json()).conversation, convId);
    assert.deepEqual(saved.messages.map((m) => m.role), ['user', 'assistant', 'user', 'assistant']);
    assert.equal(saved.messages[3].stop_reason, 'maxPredictedTokensReached');
    assert.equal(saved.messages[2].content, 'Now write a python function that sums a list, with a long explanation.');
    await shot(page, 'pulse-regenerated');
    // copy the first answer: the clipboard holds its Markdown source
    await answers().first().getByRole('button', { name: 'Copy answer' }).click();
    await answers().first().getByRole('button', { name: 'Copied' }).waitFor();
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), saved.messages[1].content);
    await page.getByLabel('Max tokens').fill('');
    await page.getByText('Sampling and reasoning').click();
  });

  test('search the history: titles and messages', async () => {
    const items = page.getByTestId('history-item');
    const search = page.getByLabel('Search conversations');
    // in a message, not in the title; the list is the server's answer to this search
    const answered = page.waitForResponse((r) => /\/api\/conversations\?.*q=SUMS(\+|%20)A(\+|%20)LIST/.test(r.url()));
    await search.fill('SUMS A LIST');
    assert.equal((await answered).status(), 200);
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="history-item"]').length === 1);
    assert.match(await items.first().textContent(), /Sky colour/);
    await search.fill('no such words 42');
    await page.getByText('No conversation contains “no such words 42”.').waitFor();
    assert.equal(await items.count(), 0);
    await shot(page, 'pulse-history-search');
    await search.fill('');
    await items.first().waitFor();
  });

  test('compare two models streaming at once', async () => {
    await page.getByRole('button', { name: 'Compare' }).click();
    await page.locator('#cmp-a-target').selectOption(String(simTarget));
    await page.locator('#cmp-b-target').selectOption(String(simTarget));
    await waitOption('#cmp-a-model', 'qwen/qwen3-8b');
    await page.locator('#cmp-a-model').selectOption('qwen/qwen3-8b');
    await waitOption('#cmp-b-model', 'ibm/granite-4-micro');
    await page.locator('#cmp-b-model').selectOption('ibm/granite-4-micro');
    await page.locator('#cmp-b-api').selectOption('v0');
    await page.getByLabel('Prompt for both').fill('Tell me about local inference.');
    await page.getByRole('button', { name: 'Send to both' }).click();
    // both answers stream at the same moment
    await page.waitForFunction(() => ['compare-a', 'compare-b'].every((id) =>
      document.querySelector(`[data-testid="${id}"] [data-testid="answer"]`)?.getAttribute('data-status') === 'streaming'),
    undefined, { timeout: 30000 });
    await shot(page, 'pulse-compare-streaming');
    await page.waitForFunction(() => ['compare-a', 'compare-b'].every((id) =>
      document.querySelector(`[data-testid="${id}"] [data-testid="answer"]`)?.getAttribute('data-status') === 'done'),
    undefined, { timeout: 60000 });
    const table = page.getByTestId('compare-table');
    await table.waitFor();
    const txt = await table.textContent();
    assert.match(txt, /qwen\/qwen3-8b/);
    assert.match(txt, /ibm\/granite-4-micro/);
    for (const id of ['compare-a', 'compare-b']) {
      const v = (await page.getByTestId(id).getByTestId('rate-server').locator('dd').textContent()).trim();
      assert.match(v, /tok\/s$/);
    }
    await shot(page, 'pulse-compare');
    await audit('compare');
    await page.setViewportSize({ width: 360, height: 740 });
    const o = await horizontalOverflow(page);
    assert.ok(o.scrollWidth <= o.clientWidth, JSON.stringify(o));
    await shot(page, 'pulse-mobile-compare');
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  // A timeout reports what the page showed, so a failure can be diagnosed from the CI log.
  test('an answer with <script> and javascript: links is shown as text', async () => {
    await page.goto(cp.url + '/pulse');
    // Pick target, model and API as a user does, right away: the default target's model list
    // may arrive after the target was switched, and must not switch it back (it did: the
    // picker applied that late list to the value of an earlier render)
    await page.locator('#pulse-target').selectOption(String(fakeTarget));
    await waitOption('#pulse-model', 'fake/html-echo');
    await page.locator('#pulse-model').selectOption('fake/html-echo');
    await page.locator('#pulse-api').selectOption('openai');
    await page.waitForTimeout(300);
    assert.deepEqual(await Promise.all(['#pulse-target', '#pulse-model', '#pulse-api'].map((q) => page.locator(q).inputValue())),
      [String(fakeTarget), 'fake/html-echo', 'openai']);
    assert.equal(await page.locator('#pulse-model').inputValue(), 'fake/html-echo');
    await page.getByLabel('Message').fill('Show me some HTML');
    const before = await answers().count();
    await page.getByRole('button', { name: 'Send' }).click();
    try {
      await page.waitForFunction((n) => {
        const all = document.querySelectorAll('[data-testid="answer"]');
        return all.length > n && ['done', 'error', 'stopped'].includes(all[all.length - 1].getAttribute('data-status'));
      }, before);
    } catch (e) {
      const seen = await page.evaluate(() => [...document.querySelectorAll('[data-testid="answer"]')]
        .map((x) => `${x.getAttribute('data-status')}: ${x.textContent.slice(0, 200)}`));
      const picks = await Promise.all(['#pulse-target', '#pulse-model', '#pulse-api'].map((q) => page.locator(q).inputValue()));
      await shot(page, 'pulse-html-timeout');
      throw new Error(`no final answer (${before} before): ${JSON.stringify({ seen, picks })}: ${e.message}`);
    }
    const a = answers().last();
    assert.equal(await a.getAttribute('data-status'), 'done', await a.textContent());
    const body = a.getByTestId('answer-content');
    const text = await body.textContent();
    assert.ok(text.includes('<script>window.__pwned = 1</script>'), text);
    assert.ok(text.includes('<img src=x onerror="window.__pwned=2">'), text);
    assert.ok(text.includes('&lt;b&gt;entities stay&lt;/b&gt;'), text);
    const dom = await body.evaluate((el) => ({
      scripts: el.querySelectorAll('script').length,
      imgs: el.querySelectorAll('img').length,
      links: [...el.querySelectorAll('a')].map((x) => [x.getAttribute('href'), x.getAttribute('rel'), x.getAttribute('target')]),
      strong: el.querySelector('strong')?.textContent,
      pwned: window.__pwned,
    }));
    assert.deepEqual(dom, { scripts: 0, imgs: 0, links: [['https://lmstudio.ai/docs', 'noopener noreferrer nofollow', '_blank']],
      strong: 'Bold', pwned: undefined });
    assert.match(text, /bad link/);
    // the fenced block keeps its HTML as text and has a copy button
    const code = a.getByTestId('code-block');
    assert.equal((await code.locator('code').textContent()).trim(), '<script>alert(1)</script>');
    await code.getByRole('button', { name: /Copy/ }).click();
    await code.getByText(/Copied|Copy failed/).waitFor();
    await shot(page, 'pulse-html-as-text');
    await audit('html answer');
  });

  test('a viewer reads the history but cannot send', async () => {
    const pw = 'viewer-pw-' + Math.random().toString(36).slice(2);
    const r = await admin.post('/api/users', { username: 'watcher', password: pw, role: 'viewer' });
    assert.equal(r.status, 201, r.text);
    const ctx = await br.newContext();
    const p = await ctx.newPage();
    p.setDefaultTimeout(T);
    try {
      await signIn(p, cp.url, 'watcher', pw);
      await p.goto(cp.url + '/pulse');
      await p.getByText(/can read the history but not send prompts/).waitFor();
      assert.equal(await p.getByLabel('Message').isDisabled(), true);
      assert.equal(await p.getByRole('button', { name: 'Send' }).isDisabled(), true);
      // each user sees only their own conversations
      await p.getByText('No saved conversations yet.').waitFor();
      await shot(p, 'pulse-viewer');
    } finally {
      await ctx.close();
    }
  });
});
