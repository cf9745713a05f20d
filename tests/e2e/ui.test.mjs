// ui.test.mjs - end-to-end tests of the web UI: the real control plane
// (build/daemonpulse, or $DP_BIN_DIR) on an ephemeral port with a seeded
// admin, driven through Debian's Chromium with playwright-core.
//
// Covers: wrong-password message, keyboard-only sign-in, every module page
// and settings tab (full-page screenshots in tests/e2e/artifacts/), user
// management (add, change role, reset password, remove, last-admin rule),
// API tokens (shown once, usable, revoked), audit log filters, no secret in
// JS-readable storage, server text rendered as text, 401 -> login, sign
// out, 360 px layout without horizontal scrolling, WCAG AA contrast.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Client, startControlPlane } from '../lib/harness.mjs';
import { collectErrors, contrastAudit, horizontalOverflow, launch, shot } from './browser.mjs';

const T = 30000; // per-step timeout: generous for a loaded 2-core machine

let cp, br, ctx, page;
const pageErrors = []; // uncaught exceptions and CSP violations in the main page
const contrast = {}; // page name -> worst ratio, for the summary

async function signIn(p, username, password) {
  await p.goto(cp.url + '/login');
  await p.getByLabel('Username', { exact: true }).fill(username);
  await p.getByLabel('Password', { exact: true }).fill(password);
  await p.getByRole('button', { name: 'Sign in' }).click();
  await p.waitForURL((u) => u.pathname === '/fleet', { timeout: T });
}

async function auditContrast(name) {
  const a = await contrastAudit(page);
  assert.deepEqual(a.unparsed, [], `colours the audit cannot parse on ${name}`);
  assert.ok(a.checked > 3, `contrast audit saw text on ${name}`);
  assert.deepEqual(a.failing, [], `text below WCAG AA on ${name}: ${JSON.stringify(a.failing, null, 1)}`);
  contrast[name] = a.worst[0]?.ratio;
}

describe('web UI', { timeout: 300000 }, () => {
  before(async () => {
    cp = await startControlPlane();
    br = await launch();
    ctx = await br.newContext();
    page = await ctx.newPage();
    page.setDefaultTimeout(T);
    collectErrors(page, pageErrors);
  });
  after(async () => {
    if (Object.keys(contrast).length) console.log('# worst contrast ratio per page:', JSON.stringify(contrast));
    await br?.close();
    await cp?.cleanup();
  });

  test('unknown paths need a session: / and /fleet go to the login page', async () => {
    await page.goto(cp.url + '/');
    await page.waitForURL((u) => u.pathname === '/login');
    await page.goto(cp.url + '/settings/users');
    await page.waitForURL((u) => u.pathname === '/login' && u.searchParams.get('next') === '/settings/users');
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    // the honest help and the session notice are there
    await page.getByText('A session lasts 8 hours').waitFor();
    await page.getByRole('button', { name: 'Forgot password?' }).click();
    await page.getByText('daemonpulse user passwd <name>').waitFor();
    await shot(page, 'login');
    await auditContrast('login');
  });

  test('a wrong password shows the server message and no session', async () => {
    await page.goto(cp.url + '/login');
    await page.getByLabel('Username', { exact: true }).fill('admin');
    await page.getByLabel('Password', { exact: true }).fill('definitely-not-the-password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    const alert = page.getByRole('alert');
    await alert.waitFor();
    assert.match(await alert.innerText(), /invalid username or password/i);
    assert.equal(new URL(page.url()).pathname, '/login');
    // same message for an unknown user
    await page.getByLabel('Username', { exact: true }).fill('nobody-here');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').getByText(/invalid username or password/i).waitFor();
    await shot(page, 'login-error');
  });

  test('repeated failures are throttled: the server says when to retry', async () => {
    await page.goto(cp.url + '/login');
    await page.getByLabel('Username', { exact: true }).fill('throttle-me');
    await page.getByLabel('Password', { exact: true }).fill('wrong-password-0');
    let text = '';
    for (let i = 0; i < 8 && !/too many/i.test(text); i++) {
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('button', { name: 'Sign in' }).waitFor(); // not busy any more
      text = await page.getByRole('alert').innerText();
    }
    assert.match(text, /too many failed sign-in attempts.*\d+ s/i);
    await shot(page, 'login-throttled');
  });

  test('show/hide toggles the password field', async () => {
    const pw = page.getByLabel('Password', { exact: true });
    assert.equal(await pw.getAttribute('type'), 'password');
    await page.getByRole('button', { name: 'Show password' }).click();
    assert.equal(await pw.getAttribute('type'), 'text');
    await page.getByRole('button', { name: 'Hide password' }).click();
    assert.equal(await pw.getAttribute('type'), 'password');
  });

  test('keyboard only: sign in with Tab and Enter, then the skip link', async () => {
    const c = await br.newContext();
    const p = await c.newPage();
    p.setDefaultTimeout(T);
    try {
      await p.goto(cp.url + '/login');
      await p.getByRole('heading', { name: 'Sign in' }).waitFor();
      // the username field has focus on arrival
      assert.equal(await p.evaluate(() => document.activeElement?.id), 'login-username');
      await p.keyboard.type(cp.admin.username);
      await p.keyboard.press('Tab');
      assert.equal(await p.evaluate(() => document.activeElement?.id), 'login-password');
      await p.keyboard.type(cp.admin.password);
      await p.keyboard.press('Tab'); // show/hide
      await p.keyboard.press('Tab'); // remember me
      assert.equal(await p.evaluate(() => document.activeElement?.id), 'login-remember');
      await p.keyboard.press('Space');
      await p.keyboard.press('Enter');
      await p.waitForURL((u) => u.pathname === '/fleet');
      // only the username is remembered; nothing secret is JS-readable
      const store = await p.evaluate(() => ({
        local: Object.fromEntries(Object.entries(localStorage)),
        session: Object.keys(sessionStorage),
        cookie: document.cookie,
      }));
      assert.deepEqual(store.local, { 'dp.remembered-username': cp.admin.username });
      assert.deepEqual(store.session, []);
      assert.equal(store.cookie, '', 'the session cookie must be HttpOnly');
      // first Tab on a page reaches the skip link, Enter moves focus to main
      await p.goto(cp.url + '/forge');
      await p.getByRole('heading', { level: 1, name: 'The Forge' }).waitFor();
      await p.keyboard.press('Tab');
      assert.equal(await p.evaluate(() => document.activeElement?.textContent?.trim()), 'Skip to main content');
      await p.keyboard.press('Enter');
      assert.equal(await p.evaluate(() => document.activeElement?.id), 'main');
      // focus is visible: the outline is drawn on focused controls
      await p.keyboard.press('Tab');
      const outline = await p.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
      assert.notEqual(outline, 'none');
      // a remembered username puts focus in the password field next time
      await c.clearCookies();
      await p.goto(cp.url + '/login');
      await p.getByRole('heading', { name: 'Sign in' }).waitFor();
      assert.equal(await p.getByLabel('Username', { exact: true }).inputValue(), cp.admin.username);
      assert.equal(await p.evaluate(() => document.activeElement?.id), 'login-password');
    } finally {
      await c.close();
    }
  });

  test('sign in and visit every module: honest empty states, active item', async () => {
    await signIn(page, cp.admin.username, cp.admin.password);
    const badge = page.getByTestId('user-badge');
    assert.match((await badge.innerText()).replace(/\s+/g, ' '), /admin · admin/);
    // the target strip says honestly that nothing is configured
    await page.getByRole('region', { name: 'Daemon targets' }).getByText('No targets configured').waitFor();
    const modules = [['fleet', 'The Fleet'], ['forge', 'The Forge'], ['pulse', 'The Pulse'],
      ['toolchain', 'The Toolchain'], ['console', 'The Console']];
    for (const [key, title] of modules) {
      await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: title }).click();
      await page.waitForURL((u) => u.pathname === '/' + key);
      await page.getByRole('heading', { level: 1, name: title }).waitFor();
      // The Fleet is built (tests/e2e/fleet.test.mjs): without targets it says there is nothing to show
      if (key === 'fleet') await page.getByText(/No daemon targets are configured/).waitFor();
      // The Forge is built (tests/e2e/forge.test.mjs): without targets it says so
      else if (key === 'forge') await page.getByText('No daemon target', { exact: true }).waitFor();
      // The Toolchain is built (tests/e2e/toolchain.test.mjs): MCP servers are per target, so it asks for one
      else if (key === 'toolchain') await page.getByText('No daemon targets', { exact: true }).waitFor();
      // The Console is built (tests/e2e/console.test.mjs): logs are per target, so it says there is none
      else if (key === 'console') await page.getByText('No daemon target yet', { exact: true }).waitFor();
      // The Pulse is built (tests/e2e/pulse.test.mjs): chatting needs a target, so it says there is none
      else if (key === 'pulse') await page.getByText('No daemon targets', { exact: true }).waitFor();
      else await page.getByText('Not built yet', { exact: true }).waitFor();
      const current = page.locator('nav[aria-label="Main"] a[aria-current="page"]');
      assert.equal(await current.count(), 1);
      assert.equal((await current.innerText()).trim(), title);
      assert.equal(await page.title(), `${title} · DaemonPulse`);
      await shot(page, `module-${key}`);
      await auditContrast(key);
    }
    // deep links work through the SPA fallback, and reloads keep the session
    await page.goto(cp.url + '/pulse');
    await page.getByRole('heading', { level: 1, name: 'The Pulse' }).waitFor();
    await page.goto(cp.url + '/no/such/page');
    await page.getByRole('heading', { level: 1, name: 'Page not found' }).waitFor();
  });

  test('users: add, change role, reset password, remove; the last-admin rule', async () => {
    await page.goto(cp.url + '/settings');
    await page.waitForURL((u) => u.pathname === '/settings/users');
    const list = page.getByTestId('user-list');
    await list.locator('[data-username="admin"]').waitFor();
    await shot(page, 'settings-users');
    await auditContrast('settings-users');

    // add alice as operator; a short password is refused first (client side)
    await page.getByRole('button', { name: 'Add user' }).click();
    const dlg = page.getByRole('dialog', { name: 'Add user' });
    await dlg.getByLabel('Username', { exact: true }).fill('alice');
    await dlg.getByLabel('Role', { exact: true }).selectOption('operator');
    await dlg.getByLabel('Initial password', { exact: true }).fill('short');
    await dlg.getByRole('button', { name: 'Add user' }).click();
    await dlg.getByRole('alert').getByText(/at least 12 characters/).waitFor();
    await dlg.getByLabel('Initial password', { exact: true }).fill('alice-password-123');
    await shot(page, 'settings-users-add');
    await dlg.getByRole('button', { name: 'Add user' }).click();
    await dlg.waitFor({ state: 'detached' });
    await page.getByRole('status').getByText('User alice added as operator.').waitFor();
    const alice = list.locator('[data-username="alice"]');
    await alice.getByText('operator', { exact: true }).waitFor();

    // a taken name: the server's message is shown in the dialog
    await page.getByRole('button', { name: 'Add user' }).click();
    await dlg.getByLabel('Username', { exact: true }).fill('alice');
    await dlg.getByLabel('Initial password', { exact: true }).fill('another-password-1');
    await dlg.getByRole('button', { name: 'Add user' }).click();
    const taken = await dlg.getByRole('alert').innerText();
    assert.match(taken, /alice|taken|exists/i);
    // Escape closes the dialog and focus returns to the button that opened it
    await page.keyboard.press('Escape');
    await dlg.waitFor({ state: 'detached' });
    assert.equal(await page.evaluate(() => document.activeElement?.textContent?.trim()), 'Add user');

    // change alice's role to viewer
    await page.getByRole('button', { name: 'Change role of alice' }).click();
    const roleDlg = page.getByRole('dialog', { name: 'Change role of alice' });
    await roleDlg.getByLabel('Role', { exact: true }).selectOption('viewer');
    await roleDlg.getByRole('button', { name: 'Save role' }).click();
    await roleDlg.waitFor({ state: 'detached' });
    await alice.getByText('viewer', { exact: true }).waitFor();

    // the last admin cannot be demoted: the server's rule is shown
    await page.getByRole('button', { name: 'Change role of admin' }).click();
    const adminDlg = page.getByRole('dialog', { name: 'Change role of admin' });
    await adminDlg.getByLabel('Role', { exact: true }).selectOption('operator');
    await adminDlg.getByRole('button', { name: 'Save role' }).click();
    const lastAdmin = await adminDlg.getByRole('alert').innerText();
    assert.match(lastAdmin, /last admin/i);
    await shot(page, 'settings-users-last-admin');
    await auditContrast('dialog-error');
    await adminDlg.getByRole('button', { name: 'Cancel' }).click();
    await adminDlg.waitFor({ state: 'detached' });

    // reset alice's password; she can sign in with the new one
    await page.getByRole('button', { name: 'Reset password of alice' }).click();
    const pwDlg = page.getByRole('dialog', { name: 'Reset password of alice' });
    await pwDlg.getByLabel('New password', { exact: true }).fill('alice-new-password-456');
    await pwDlg.getByRole('button', { name: 'Reset password' }).click();
    await pwDlg.waitFor({ state: 'detached' });
    const c = new Client(cp.url);
    assert.equal((await c.post('/api/auth/login', { username: 'alice', password: 'alice-new-password-456' })).status, 200);

    // alice (viewer) in her own browser context: no admin sections
    const actx = await br.newContext();
    const ap = await actx.newPage();
    ap.setDefaultTimeout(T);
    try {
      await signIn(ap, 'alice', 'alice-new-password-456');
      assert.match((await ap.getByTestId('user-badge').innerText()).replace(/\s+/g, ' '), /alice · viewer/);
      await ap.goto(cp.url + '/settings');
      await ap.waitForURL((u) => u.pathname === '/settings/tokens');
      const tabs = await ap.getByRole('navigation', { name: 'Settings sections' }).getByRole('link').allInnerTexts();
      assert.deepEqual(tabs.map((t) => t.trim()), ['Daemon targets', 'Mode & presets', 'API tokens', 'Account']);
      await ap.goto(cp.url + '/settings/users');
      await ap.getByText('This section is available to administrators.').waitFor();
      assert.equal(await ap.getByTestId('user-list').count(), 0);
      await shot(ap, 'settings-viewer-denied');

      // alice changes her own password (old one required)
      await ap.goto(cp.url + '/settings/account');
      await ap.getByLabel('Current password', { exact: true }).fill('alice-new-password-456');
      await ap.getByLabel('New password', { exact: true }).fill('alice-own-password-789');
      await ap.getByLabel('New password again', { exact: true }).fill('alice-own-password-789');
      await ap.getByRole('button', { name: 'Change password' }).click();
      await ap.getByRole('status').getByText('Password changed.', { exact: false }).waitFor();
      assert.equal(await ap.getByLabel('Current password', { exact: true }).inputValue(), '');
      // her other sessions were signed out; the new password works
      assert.equal((await c.get('/api/auth/me')).status, 401);
      assert.equal((await c.post('/api/auth/login', { username: 'alice', password: 'alice-own-password-789' })).status, 200);

      // remove alice, with confirmation
      await page.getByRole('button', { name: 'Remove alice' }).click();
      const rm = page.getByRole('dialog', { name: 'Remove alice?' });
      await rm.getByText(/cannot be undone/).waitFor();
      await shot(page, 'settings-users-remove');
      await rm.getByRole('button', { name: 'Remove user' }).click();
      await rm.waitFor({ state: 'detached' });
      await page.getByRole('status').getByText('User alice removed.').waitFor();
      await list.locator('[data-username="alice"]').waitFor({ state: 'detached' });

      // alice's open page notices on its next request and goes to the login page
      await ap.getByRole('navigation', { name: 'Settings sections' }).getByRole('link', { name: 'API tokens' }).click();
      await ap.waitForURL((u) => u.pathname === '/login');
      await ap.getByText('Your session ended. Please sign in again.').waitFor();
    } finally {
      await actx.close();
    }

    // her session is gone with her
    assert.equal((await c.get('/api/auth/me')).status, 401);
  });

  test('API tokens: secret shown once, usable, revoked after confirmation', async () => {
    await page.getByRole('navigation', { name: 'Settings sections' }).getByRole('link', { name: 'API tokens' }).click();
    await page.waitForURL((u) => u.pathname === '/settings/tokens');
    await page.getByText('You have no API tokens.').waitFor();
    await page.getByLabel('Name', { exact: true }).fill('e2e script');
    await page.getByLabel('Name', { exact: true }).press('Enter'); // Enter submits
    const dlg = page.getByRole('dialog', { name: /Token .e2e script. created/ });
    await dlg.getByText('it is shown only this once').waitFor();
    const secret = await dlg.getByLabel('Secret', { exact: true }).inputValue();
    assert.match(secret, /^dp_[A-Za-z0-9_-]{20,}$/);
    await shot(page, 'settings-tokens-secret');
    await dlg.getByRole('button', { name: 'I have stored it' }).click();
    await dlg.waitFor({ state: 'detached' });
    const row = page.getByTestId('token-list').locator('[data-token-name="e2e script"]');
    await row.waitFor();
    // the secret is not on the page any more, only its prefix
    assert.equal(await page.getByText(secret).count(), 0);
    assert.ok(!(await page.content()).includes(secret));
    await row.getByText(secret.slice(0, 7) + '…').waitFor();
    // it works for scripts
    const me = await fetch(cp.url + '/api/auth/me', { headers: { authorization: `Bearer ${secret}` } });
    assert.equal(me.status, 200);
    await page.reload();
    await row.getByText(/last used (just now|\d+ min ago)/).waitFor();
    await shot(page, 'settings-tokens');
    await auditContrast('settings-tokens');

    // text from the server is text: a token named like markup stays inert
    const evil = '<img src=x onerror="window.__dpxss=1">';
    await page.getByLabel('Name', { exact: true }).fill(evil);
    await page.getByRole('button', { name: 'Create token' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'I have stored it' }).click();
    await page.getByTestId('token-list').getByText(evil, { exact: true }).waitFor();
    assert.equal(await page.evaluate(() => window.__dpxss), undefined);
    assert.equal(await page.locator('[data-testid="token-list"] img').count(), 0);

    // revoke, with confirmation; the secret stops working
    await row.getByRole('button', { name: 'Revoke token e2e script' }).click();
    const confirm = page.getByRole('dialog', { name: 'Revoke token e2e script?' });
    await confirm.getByRole('button', { name: 'Revoke token' }).click();
    await confirm.waitFor({ state: 'detached' });
    await page.getByRole('status').getByText('Token e2e script revoked.').waitFor();
    await row.waitFor({ state: 'detached' });
    const after = await fetch(cp.url + '/api/auth/me', { headers: { authorization: `Bearer ${secret}` } });
    assert.equal(after.status, 401);
  });

  test('audit log lists what happened and filters by action and user', async () => {
    await page.goto(cp.url + '/settings/audit');
    const table = page.getByRole('region', { name: 'Audit entries' });
    await table.getByText('user.create').first().waitFor();
    await table.getByText('token.revoke').first().waitFor();
    await shot(page, 'settings-audit');
    await auditContrast('settings-audit');
    await page.getByLabel('Action', { exact: true }).fill('user.create');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.waitForFunction(() => {
      const cells = [...document.querySelectorAll('[aria-label="Audit entries"] tbody tr td:nth-child(3)')];
      return cells.length > 0 && cells.every((c) => c.textContent === 'user.create');
    });
    await table.getByText('user:alice').waitFor();
    await page.getByLabel('Action', { exact: true }).fill('');
    await page.getByLabel('User', { exact: true }).fill('nobody-at-all');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.getByText('No entries match.').waitFor();
    await page.getByRole('button', { name: 'Clear' }).click();
    await table.getByText('auth.login').first().waitFor();
  });

  test('audit log pages with Older / Newer (server cursor)', async () => {
    // 60 more entries through the API: 30 tokens created and revoked
    const c = new Client(cp.url);
    await c.login(cp.admin.username, cp.admin.password);
    for (let i = 0; i < 30; i++) {
      const r = await c.post('/api/tokens', { name: `bulk ${i}` });
      assert.equal(r.status, 201);
      assert.equal((await c.del(`/api/tokens/${r.json.token.id}`)).status, 204);
    }
    // older pages answer slowly, as on a busy server: the range label must
    // not claim 'Entries 51-' while the rows on screen are still page one's
    const slow = /\/api\/audit\?.*before=/;
    await page.route(slow, async (r) => { await new Promise((ok) => setTimeout(ok, 400)); await r.continue(); });
    await page.goto(cp.url + '/settings/audit');
    const nav = page.getByRole('navigation', { name: 'Audit pages' });
    await nav.getByText('Entries 1–50').waitFor();
    const rows = page.locator('[aria-label="Audit entries"] tbody tr');
    assert.equal(await rows.count(), 50);
    const firstId = await rows.first().getAttribute('data-id');
    assert.equal(await nav.getByRole('button', { name: 'Newer' }).isDisabled(), true);
    await nav.getByRole('button', { name: 'Older' }).click();
    await nav.getByText(/Entries 51–\d+/).waitFor();
    assert.ok(Number(await rows.first().getAttribute('data-id')) < Number(firstId) - 49);
    await nav.getByRole('button', { name: 'Newer' }).click();
    await nav.getByText('Entries 1–50').waitFor();
    assert.equal(await rows.first().getAttribute('data-id'), firstId);
    await page.unroute(slow);
  });

  test('account: wrong current password is refused with the server message', async () => {
    await page.goto(cp.url + '/settings/account');
    await page.getByRole('heading', { name: 'Change password' }).waitFor();
    await shot(page, 'settings-account');
    await auditContrast('settings-account');
    await page.getByLabel('Current password', { exact: true }).fill('wrong-old-password');
    await page.getByLabel('New password', { exact: true }).fill('a-new-password-789');
    await page.getByLabel('New password again', { exact: true }).fill('a-new-password-789');
    await page.getByRole('button', { name: 'Change password' }).click();
    await page.getByRole('alert').waitFor();
    assert.ok((await page.getByRole('alert').innerText()).length > 0);
    assert.equal(new URL(page.url()).pathname, '/settings/account');
  });

  test('360 px wide: no horizontal scrolling, menu works', async () => {
    const c = await br.newContext({ viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true });
    const p = await c.newPage();
    p.setDefaultTimeout(T);
    try {
      await p.goto(cp.url + '/login');
      await p.getByRole('heading', { name: 'Sign in' }).waitFor();
      let o = await horizontalOverflow(p);
      assert.ok(o.scrollWidth <= o.clientWidth, `login overflows: ${JSON.stringify(o)}`);
      await shot(p, 'mobile-login');
      await p.getByLabel('Username', { exact: true }).fill(cp.admin.username);
      await p.getByLabel('Password', { exact: true }).fill(cp.admin.password);
      await p.getByRole('button', { name: 'Sign in' }).click();
      await p.waitForURL((u) => u.pathname === '/fleet');
      // the sidebar is collapsed into a menu button
      assert.equal(await p.getByRole('navigation', { name: 'Main' }).isVisible(), false);
      const menu = p.getByRole('button', { name: 'Open menu' });
      await menu.click();
      await p.getByRole('navigation', { name: 'Main' }).waitFor();
      await shot(p, 'mobile-menu');
      await p.keyboard.press('Escape');
      assert.equal(await p.getByRole('navigation', { name: 'Main' }).isVisible(), false);
      for (const path of ['/fleet', '/forge', '/pulse', '/toolchain', '/console', '/settings/users',
        '/settings/tokens', '/settings/audit', '/settings/account']) {
        await p.goto(cp.url + path);
        await p.getByRole('heading', { level: 1 }).waitFor();
        // lists have loaded when no progress bar is left
        await p.waitForFunction(() => !document.querySelector('[role="progressbar"]'));
        o = await horizontalOverflow(p);
        assert.ok(o.scrollWidth <= o.clientWidth, `${path} overflows at 360 px: ${JSON.stringify(o)}`);
        await shot(p, 'mobile-' + path.slice(1).replace('/', '-'));
      }
      // navigating from the menu closes it
      await p.getByRole('button', { name: 'Open menu' }).click();
      await p.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'The Pulse' }).click();
      await p.waitForURL((u) => u.pathname === '/pulse');
      assert.equal(await p.getByRole('navigation', { name: 'Main' }).isVisible(), false);
    } finally {
      await c.close();
    }
  });

  test('a session that ends under the app leads to the login page', async () => {
    await page.goto(cp.url + '/fleet');
    await page.getByRole('heading', { level: 1, name: 'The Fleet' }).waitFor();
    // the event stream is connected (it has delivered its snapshot) before the cookie goes
    await page.getByTestId('target-strip').getByText('No targets configured').waitFor();
    await ctx.clearCookies();
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Settings' }).click();
    await page.waitForURL((u) => u.pathname === '/login');
    await page.getByText('Your session ended. Please sign in again.').waitFor();
    // signing in again returns to where the user was going
    await page.getByLabel('Username', { exact: true }).fill(cp.admin.username);
    await page.getByLabel('Password', { exact: true }).fill(cp.admin.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL((u) => u.pathname === '/settings/users');
  });

  test('no script errors or CSP violations on the way', () => {
    assert.deepEqual(pageErrors, []);
  });

  test('sign out ends the session on the server', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL((u) => u.pathname === '/login');
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    const r = await page.evaluate(async () => (await fetch('/api/auth/me')).status);
    assert.equal(r, 401);
    await page.goto(cp.url + '/fleet');
    await page.waitForURL((u) => u.pathname === '/login');
  });
});
