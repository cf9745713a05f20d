// harness.mjs - start the real binaries on ephemeral loopback ports for
// integration and end-to-end tests, and stop them afterwards.
//
// Binaries come from $DP_BIN_DIR (default build/; the sanitizer pass sets
// build/asan). Every binary prints a line containing
// "listening on http://ADDR:PORT" on stderr once it accepts connections;
// the harness waits for it. Each started process is killed when the test
// process exits, so a failing test never leaves servers behind.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const BIN_DIR = path.resolve(ROOT, process.env.DP_BIN_DIR || 'build');
export const bin = (name) => path.join(BIN_DIR, name);

const live = new Set();
process.on('exit', () => { for (const p of live) { try { p.kill('SIGKILL'); } catch { /* gone */ } } });

export function tempDir(prefix = 'dp-test-') {
  const d = mkdtempSync(path.join(tmpdir(), prefix));
  return { dir: d, cleanup: () => rmSync(d, { recursive: true, force: true }) };
}

// Start `file` with `args`; resolve when it prints its listening line.
export function startProc(file, args = [], { env = {}, timeoutMs = 15000, stdin } = {}) {
  return new Promise((resolve, reject) => {
    const p = spawn(file, args, { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    live.add(p);
    const out = { stdout: '', stderr: '' };
    let done = false;
    const timer = setTimeout(() => {
      if (done) return;
      done = true;
      p.kill('SIGKILL');
      reject(new Error(`${path.basename(file)} did not start in ${timeoutMs} ms:\n${out.stderr}`));
    }, timeoutMs);
    p.stdout.on('data', (d) => { out.stdout += d; });
    p.stderr.on('data', (d) => {
      out.stderr += d;
      const m = /listening on (https?):\/\/([^\s:]+|\[[^\]]+\]):(\d+)/.exec(out.stderr);
      if (m && !done) {
        done = true;
        clearTimeout(timer);
        const url = `${m[1]}://${m[2]}:${m[3]}`;
        resolve({
          proc: p, url, port: Number(m[3]), out,
          stop: (sig = 'SIGTERM') => stopProc(p, sig),
        });
      }
    });
    p.on('exit', (code, sig) => {
      live.delete(p);
      if (!done) {
        done = true;
        clearTimeout(timer);
        reject(new Error(`${path.basename(file)} exited (${code ?? sig}) before listening:\n${out.stderr}`));
      }
    });
    if (stdin !== undefined) p.stdin.end(stdin); else p.stdin.end();
  });
}

export function stopProc(p, sig = 'SIGTERM', timeoutMs = 10000) {
  return new Promise((resolve) => {
    if (p.exitCode !== null || p.signalCode !== null) return resolve({ code: p.exitCode, signal: p.signalCode });
    const t = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.once('exit', (code, signal) => { clearTimeout(t); live.delete(p); resolve({ code, signal }); });
    p.kill(sig);
  });
}

// Run a command to completion; resolve {code, stdout, stderr}.
export function run(file, args = [], { env = {}, stdin, timeoutMs = 30000 } = {}) {
  return new Promise((resolve, reject) => {
    const p = spawn(file, args, { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '', stderr = '';
    const t = setTimeout(() => { p.kill('SIGKILL'); reject(new Error(`${file} timed out`)); }, timeoutMs);
    p.stdout.on('data', (d) => { stdout += d; });
    p.stderr.on('data', (d) => { stderr += d; });
    p.on('exit', (code, signal) => { clearTimeout(t); resolve({ code, signal, stdout, stderr }); });
    if (stdin !== undefined) p.stdin.end(stdin); else p.stdin.end();
  });
}

// A fresh control plane: temp data dir, seeded admin with a random password.
// Returns { url, admin: {username, password}, dataDir, proc, stop, cleanup }.
export async function startControlPlane({ args = [], env = {} } = {}) {
  const t = tempDir('dp-cp-');
  const password = 'pw-' + Math.random().toString(36).slice(2) + Math.random().toString(36).slice(2);
  const db = path.join(t.dir, 'daemonpulse.db');
  const seed = await run(bin('daemonpulse'), ['seed', '--db', db, '--username', 'admin', '--password-stdin'], { stdin: password + '\n' });
  if (seed.code !== 0) throw new Error('seed failed: ' + seed.stderr);
  const s = await startProc(bin('daemonpulse'), ['serve', '--port', '0', '--db', db, '--data-dir', t.dir, ...args],
    { env: { DAEMON_API_URL: '', ...env } });
  return {
    ...s, db, dataDir: t.dir, admin: { username: 'admin', password },
    cleanup: async () => { await s.stop(); t.cleanup(); },
  };
}

// A cookie-jar client for the control plane's JSON API.
export class Client {
  constructor(base) { this.base = base; this.cookie = null; this.origin = new URL(base).origin; }
  async req(method, p, body, headers = {}) {
    const h = { ...headers };
    if (this.cookie) h.cookie = this.cookie;
    if (body !== undefined && typeof body !== 'string') { h['content-type'] = 'application/json'; body = JSON.stringify(body); }
    if (method !== 'GET' && method !== 'HEAD' && !('origin' in h)) h.origin = this.origin;
    const r = await fetch(this.base + p, { method, headers: h, body, redirect: 'manual' });
    const sc = r.headers.getSetCookie ? r.headers.getSetCookie() : [];
    for (const c of sc) {
      const kv = c.split(';')[0];
      if (/=\s*$/.test(kv) || /max-age=0/i.test(c)) this.cookie = null; else this.cookie = kv;
    }
    const text = await r.text();
    let json = null;
    try { json = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
    return { status: r.status, headers: r.headers, text, json };
  }
  get(p, h) { return this.req('GET', p, undefined, h); }
  post(p, b, h) { return this.req('POST', p, b, h); }
  patch(p, b, h) { return this.req('PATCH', p, b, h); }
  put(p, b, h) { return this.req('PUT', p, b, h); }
  del(p, h) { return this.req('DELETE', p, undefined, h); }
  async login(username, password) {
    const r = await this.post('/api/auth/login', { username, password });
    if (r.status !== 200) throw new Error(`login ${username} failed: ${r.status} ${r.text}`);
    return r;
  }
}
