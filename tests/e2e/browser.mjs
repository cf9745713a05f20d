// browser.mjs - shared helpers for the end-to-end tests: launch Debian's
// Chromium through playwright-core (no downloaded browsers), save
// screenshots to tests/e2e/artifacts/, measure contrast and horizontal
// overflow inside the page.
import { createRequire } from 'node:module';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from '../lib/harness.mjs';

const require = createRequire(path.join(ROOT, 'web/package.json'));
const { chromium } = require('playwright-core');

export const ARTIFACTS = path.join(ROOT, 'tests/e2e/artifacts');
export const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';

const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

// One browser per test file. chromium.launch() gives Chromium a fresh
// temporary user-data-dir of its own (deleted on close); every context is
// an isolated cookie jar and storage.
export async function launch() {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ARGS,
    timeout: 60000,
  });
  return {
    browser,
    newContext(opts = {}) {
      return browser.newContext({ viewport: { width: 1280, height: 800 }, ...opts });
    },
    async close() {
      await browser.close().catch(() => {});
    },
  };
}

export async function shot(page, name) {
  mkdirSync(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

// Page-side: no horizontal scrolling of the document.
export function horizontalOverflow(page) {
  return page.evaluate(() => {
    const d = document.documentElement;
    return { scrollWidth: d.scrollWidth, clientWidth: d.clientWidth, bodyScroll: document.body.scrollWidth };
  });
}

// Page-side WCAG contrast audit of every visible text node's element:
// text colour against the effective background (translucent layers are
// composited up the ancestor chain). Returns the worst pairs.
export function contrastAudit(page) {
  return page.evaluate(() => {
    const parse = (s) => {
      let m = /^rgba?\(([\d.]+)[ ,]+([\d.]+)[ ,]+([\d.]+)(?:[ ,/]+([\d.]+))?\)$/.exec(s.trim());
      if (m) return { r: +m[1], g: +m[2], b: +m[3], a: m[4] === undefined ? 1 : +m[4] };
      m = /^color\(srgb ([\d.]+) ([\d.]+) ([\d.]+)(?: \/ ([\d.]+))?\)$/.exec(s.trim());
      if (m) return { r: m[1] * 255, g: m[2] * 255, b: m[3] * 255, a: m[4] === undefined ? 1 : +m[4] };
      return null;
    };
    const over = (f, b) => ({ r: f.r * f.a + b.r * (1 - f.a), g: f.g * f.a + b.g * (1 - f.a), b: f.b * f.a + b.b * (1 - f.a), a: 1 });
    const ch = (c) => { const s = c / 255; return s <= 0.04045 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4; };
    const lum = (c) => 0.2126 * ch(c.r) + 0.7152 * ch(c.g) + 0.0722 * ch(c.b);
    const ratio = (a, b) => { const x = lum(a), y = lum(b); return (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05); };
    const bgOf = (el) => {
      const layers = [];
      for (let e = el; e; e = e.parentElement) {
        const c = parse(getComputedStyle(e).backgroundColor);
        if (c && c.a > 0) { layers.push(c); if (c.a >= 1) break; }
      }
      let bg = { r: 255, g: 255, b: 255, a: 1 };
      for (let i = layers.length - 1; i >= 0; i--) bg = over(layers[i], bg);
      return bg;
    };
    const results = [];
    const unparsed = new Set();
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    const seen = new Set();
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      if (!n.textContent.trim()) continue;
      const el = n.parentElement;
      if (!el || seen.has(el)) continue;
      seen.add(el);
      const cs = getComputedStyle(el);
      const r = el.getBoundingClientRect();
      if (cs.visibility === 'hidden' || cs.display === 'none' || r.width === 0 || r.height === 0) continue;
      if (el.closest('.sr-only, [aria-hidden="true"], option, datalist')) continue;
      let hiddenAncestor = false;
      for (let e = el; e; e = e.parentElement) if (getComputedStyle(e).opacity === '0') hiddenAncestor = true;
      if (hiddenAncestor) continue;
      const fg = parse(cs.color);
      if (!fg) { unparsed.add(cs.color); continue; }
      const bg = bgOf(el);
      const size = parseFloat(cs.fontSize);
      const bold = parseInt(cs.fontWeight, 10) >= 700;
      const large = size >= 24 || (bold && size >= 18.66);
      // disabled controls are exempt from WCAG 1.4.3
      const disabled = !!el.closest('button:disabled, input:disabled, select:disabled');
      results.push({
        text: n.textContent.trim().slice(0, 40), ratio: Math.round(ratio(over(fg, bg), bg) * 100) / 100,
        need: large ? 3 : 4.5, fg: cs.color, bg: `rgb(${Math.round(bg.r)}, ${Math.round(bg.g)}, ${Math.round(bg.b)})`,
        size, disabled,
      });
    }
    results.sort((a, b) => a.ratio - b.ratio);
    return { checked: results.length, worst: results.slice(0, 5), failing: results.filter((x) => !x.disabled && x.ratio < x.need), unparsed: [...unparsed] };
  });
}

/** Sign in through the login form, as a user does; resolves on the page the app lands on. */
export async function signIn(page, baseUrl, username, password, landing = '/fleet') {
  await page.goto(baseUrl + '/login');
  await page.getByLabel('Username', { exact: true }).fill(username);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL((u) => u.pathname === landing);
}

/**
 * Collect the page's uncaught errors, and its console errors, into `errors` (the tests assert it
 * stays empty). Console errors: all but failed resource loads (an expected 4xx/5xx shows as one),
 * or with `only`, just those matching it.
 */
export function collectErrors(page, errors, { only } = {}) {
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    if (only ? only.test(m.text()) : !/Failed to load resource/.test(m.text())) errors.push(m.text());
  });
}
