// auth.test.mjs - sessions, roles, CSRF, throttling, users, API tokens and
// the user CLI against the real daemonpulse binary (docs/api-auth.md).
//
// Each describe() block starts its own control plane on an ephemeral port
// with a temp database (startControlPlane); throttling state is in memory,
// so blocks that trip it get their own server. Short session lifetimes use
// the hidden DP_SESSION_* environment knobs.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { bin, run, startControlPlane, tempDir, Client } from '../lib/harness.mjs';

const DP = bin('daemonpulse');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// A request without the harness's automatic Origin header.
async function raw(base, method, p, { headers = {}, body } = {}) {
  const h = { ...headers };
  if (body !== undefined) { h['content-type'] = 'application/json'; body = JSON.stringify(body); }
  const r = await fetch(base + p, { method, headers: h, body, redirect: 'manual' });
  const text = await r.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
  return { status: r.status, headers: r.headers, text, json };
}

function cookieOf(res) {
  const sc = res.headers.getSetCookie();
  assert.equal(sc.length, 1, 'one Set-Cookie');
  return sc[0];
}

async function addUser(admin, username, role, password = `pw-${username}-0123456789`) {
  const r = await admin.post('/api/users', { username, password, role });
  assert.equal(r.status, 201, r.text);
  return { id: r.json.user.id, username, password };
}

describe('sessions and roles', { timeout: 120000 }, () => {
  let cp; let admin; const secrets = [];
  before(async () => {
    cp = await startControlPlane();
    secrets.push(cp.admin.password);
    admin = new Client(cp.url);
  });
  after(async () => {
    // Nothing secret ever reaches the server's log.
    for (const s of secrets) assert.ok(!cp.out.stderr.includes(s), 'a secret appeared in stderr');
    assert.ok(!/dp_session=/.test(cp.out.stderr), 'a session cookie appeared in stderr');
    await cp.cleanup();
  });

  it('logs in with an HttpOnly SameSite=Strict cookie and answers /me', async () => {
    const r = await admin.login('admin', cp.admin.password);
    assert.deepEqual(r.json.user, { id: 1, username: 'admin', role: 'admin' });
    assert.match(r.json.expires_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const exp = Date.parse(r.json.expires_at);
    assert.ok(Math.abs(exp - Date.now() - 8 * 3600 * 1000) < 120000, 'expires in 8 h');
    assert.equal(typeof r.json.idle_timeout_s, 'number');
    const c = cookieOf(r);
    secrets.push(c.split(';')[0].split('=')[1]);
    assert.match(c, /^dp_session=[A-Za-z0-9_-]{43};/);
    assert.match(c, /; HttpOnly/);
    assert.match(c, /; SameSite=Strict/);
    assert.match(c, /; Path=\//);
    assert.match(c, /; Max-Age=28800/);
    assert.doesNotMatch(c, /Secure/, 'no Secure flag over plain http by default');
    const me = await admin.get('/api/auth/me');
    assert.equal(me.status, 200);
    assert.deepEqual(me.json.user, r.json.user);
    assert.equal(me.json.auth, 'session');
    assert.equal(me.json.expires_at, r.json.expires_at);
  });

  it('answers 401 without a session and for a forged or malformed one', async () => {
    assert.equal((await raw(cp.url, 'GET', '/api/auth/me')).status, 401);
    const forged = 'A'.repeat(43);
    const r = await raw(cp.url, 'GET', '/api/auth/me', { headers: { cookie: `dp_session=${forged}` } });
    assert.equal(r.status, 401);
    assert.equal(r.json.error.code, 'unauthorized');
    for (const v of ['', 'x', 'A'.repeat(44), '%00', 'A'.repeat(5000)]) {
      const q = await raw(cp.url, 'GET', '/api/auth/me', { headers: { cookie: `a=b; dp_session=${v}` } });
      assert.equal(q.status, 401, `cookie value ${v.slice(0, 10)}`);
    }
    for (const h of ['Bearer', 'Bearer dp_short', 'Basic YWRtaW46eA==', `Bearer dp_${'A'.repeat(43)}`]) {
      const q = await raw(cp.url, 'GET', '/api/auth/me', { headers: { authorization: h } });
      assert.equal(q.status, 401, h);
    }
  });

  it('gives the same 401 for an unknown user and a wrong password', async () => {
    const c = new Client(cp.url);
    const a = await c.post('/api/auth/login', { username: 'nobody-here', password: 'whatever-password-1' });
    const b = await c.post('/api/auth/login', { username: 'admin', password: 'wrong-password-123' });
    assert.equal(a.status, 401);
    assert.equal(b.status, 401);
    assert.equal(a.text, b.text);
    assert.deepEqual(a.json, { error: { code: 'invalid_credentials', message: 'invalid username or password' } });
    assert.equal(c.cookie, null);
    const bad = await c.post('/api/auth/login', { username: 'admin' });
    assert.equal(bad.status, 400);
  });

  it('enforces 401 vs 403 on every auth, user, token and audit route for each role', async () => {
    const viewer = await addUser(admin, 'vera', 'viewer');
    const operator = await addUser(admin, 'otto', 'operator');
    secrets.push(viewer.password, operator.password);
    const clients = { viewer: new Client(cp.url), operator: new Client(cp.url), admin: new Client(cp.url) };
    await clients.viewer.login('vera', viewer.password);
    await clients.operator.login('otto', operator.password);
    await clients.admin.login('admin', cp.admin.password);
    const rank = { viewer: 2, operator: 3, admin: 4 };
    // Requests chosen to have no lasting effect when allowed (bad bodies, unknown ids).
    const routes = [
      ['GET', '/api/auth/me', undefined, 'viewer'],
      ['POST', '/api/auth/password', {}, 'viewer'],
      ['GET', '/api/tokens', undefined, 'viewer'],
      ['POST', '/api/tokens', {}, 'viewer'],
      ['DELETE', '/api/tokens/999999', undefined, 'viewer'],
      ['GET', '/api/users', undefined, 'admin'],
      ['POST', '/api/users', {}, 'admin'],
      ['PATCH', '/api/users/999999', {}, 'admin'],
      ['DELETE', '/api/users/999999', undefined, 'admin'],
      ['GET', '/api/audit', undefined, 'admin'],
      ['POST', '/api/auth/logout', undefined, 'viewer'],
    ];
    for (const [m, p, body, min] of routes) {
      const anon = await raw(cp.url, m, p, { body, headers: { origin: new URL(cp.url).origin } });
      assert.equal(anon.status, 401, `${m} ${p} without a session`);
      assert.equal(anon.json.error.code, 'unauthorized');
      for (const role of ['viewer', 'operator', 'admin']) {
        if (p === '/api/auth/logout') continue; // below, it would end the sessions
        const r = await clients[role].req(m, p, body);
        if (rank[role] < rank[min]) {
          assert.equal(r.status, 403, `${m} ${p} as ${role}: ${r.text}`);
          assert.equal(r.json.error.code, 'forbidden');
        } else {
          assert.ok(r.status !== 401 && r.status !== 403, `${m} ${p} as ${role} -> ${r.status} ${r.text}`);
        }
      }
    }
    // logout works for every role and revokes the session server-side
    for (const role of ['viewer', 'operator']) {
      const before = clients[role].cookie;
      const r = await clients[role].post('/api/auth/logout');
      assert.equal(r.status, 204);
      assert.match(r.headers.getSetCookie()[0], /^dp_session=; .*Max-Age=0/);
      const again = await raw(cp.url, 'GET', '/api/auth/me', { headers: { cookie: before } });
      assert.equal(again.status, 401, 'the old cookie is dead after logout');
    }
  });

  it('refuses cookie requests with a missing or foreign Origin (CSRF)', async () => {
    const origin = new URL(cp.url).origin;
    const body = { name: 'csrf-probe' };
    const none = await raw(cp.url, 'POST', '/api/tokens', { body, headers: { cookie: admin.cookie } });
    assert.equal(none.status, 403);
    assert.equal(none.json.error.code, 'csrf');
    const foreign = await raw(cp.url, 'POST', '/api/tokens', { body, headers: { cookie: admin.cookie, origin: 'http://evil.example' } });
    assert.equal(foreign.status, 403);
    const otherPort = await raw(cp.url, 'DELETE', '/api/users/999999', { headers: { cookie: admin.cookie, origin: 'http://127.0.0.1:1' } });
    assert.equal(otherPort.status, 403);
    const nullOrigin = await raw(cp.url, 'POST', '/api/tokens', { body, headers: { cookie: admin.cookie, origin: 'null' } });
    assert.equal(nullOrigin.status, 403);
    const badReferer = await raw(cp.url, 'POST', '/api/tokens', { body, headers: { cookie: admin.cookie, referer: 'http://evil.example/' + origin } });
    assert.equal(badReferer.status, 403);
    // a same-origin Referer is accepted when Origin is absent
    const referer = await raw(cp.url, 'DELETE', '/api/tokens/999999', { headers: { cookie: admin.cookie, referer: origin + '/settings' } });
    assert.equal(referer.status, 404);
    // GET needs no Origin
    assert.equal((await raw(cp.url, 'GET', '/api/tokens', { headers: { cookie: admin.cookie } })).status, 200);
    // a cross-site login attempt is refused too
    const login = await raw(cp.url, 'POST', '/api/auth/login', { body: { username: 'admin', password: cp.admin.password }, headers: { origin: 'http://evil.example' } });
    assert.equal(login.status, 403);
  });

  it('creates, uses and revokes personal API tokens (Bearer is CSRF-exempt)', async () => {
    const r = await admin.post('/api/tokens', { name: 'ci script', expires_in_days: 30 });
    assert.equal(r.status, 201, r.text);
    const { token, secret } = r.json;
    secrets.push(secret);
    assert.match(secret, /^dp_[A-Za-z0-9_-]{43}$/);
    assert.equal(token.name, 'ci script');
    assert.equal(token.prefix, secret.slice(0, 7));
    assert.equal(token.last_used_at, null);
    assert.ok(Date.parse(token.expires_at) > Date.now() + 29 * 86400 * 1000);
    const list = await admin.get('/api/tokens');
    assert.equal(list.status, 200);
    assert.ok(list.json.tokens.some((t) => t.id === token.id));
    assert.ok(!list.text.includes(secret), 'the secret is never listed');

    const bearer = { authorization: `Bearer ${secret}` };
    const me = await raw(cp.url, 'GET', '/api/auth/me', { headers: bearer });
    assert.equal(me.status, 200);
    assert.equal(me.json.auth, 'token');
    assert.equal(me.json.user.username, 'admin');
    // mutating with a Bearer token and no Origin: allowed (no ambient credential)
    const nob = await raw(cp.url, 'PATCH', '/api/users/999999', { headers: bearer, body: { role: 'viewer' } });
    assert.equal(nob.status, 404);
    // a token cannot mint tokens or change the password
    const mint = await raw(cp.url, 'POST', '/api/tokens', { headers: bearer, body: { name: 'x' } });
    assert.equal(mint.status, 403);
    assert.equal(mint.json.error.code, 'session_required');
    // a bad bearer is not rescued by a good cookie
    const mixed = await raw(cp.url, 'GET', '/api/auth/me', { headers: { authorization: 'Bearer dp_nope', cookie: admin.cookie } });
    assert.equal(mixed.status, 401);

    assert.equal((await admin.post('/api/tokens', { name: '' })).status, 400);
    assert.equal((await admin.post('/api/tokens', { name: 'x'.repeat(65) })).status, 400);
    assert.equal((await admin.post('/api/tokens', { name: 'ok', expires_in_days: 0 })).status, 400);
    assert.equal((await admin.post('/api/tokens', { name: 'ok', expires_in_days: 'soon' })).status, 400);

    const del = await admin.del(`/api/tokens/${token.id}`);
    assert.equal(del.status, 204);
    assert.equal((await raw(cp.url, 'GET', '/api/auth/me', { headers: bearer })).status, 401);
    assert.equal((await admin.del(`/api/tokens/${token.id}`)).status, 404);
  });

  it('keeps the last admin and refuses self-removal', async () => {
    const me = (await admin.get('/api/auth/me')).json.user;
    const demote = await admin.patch(`/api/users/${me.id}`, { role: 'operator' });
    assert.equal(demote.status, 409);
    assert.equal(demote.json.error.code, 'last_admin');
    const self = await admin.del(`/api/users/${me.id}`);
    assert.equal(self.status, 409);
    assert.equal(self.json.error.code, 'self_delete');
    // with a second admin, the first may step down; the second cannot then
    const second = await addUser(admin, 'root2', 'admin');
    secrets.push(second.password);
    const c2 = new Client(cp.url);
    await c2.login('root2', second.password);
    assert.equal((await c2.patch(`/api/users/${me.id}`, { role: 'operator' })).status, 200);
    const last = await c2.patch(`/api/users/${second.id}`, { role: 'viewer' });
    assert.equal(last.status, 409);
    assert.equal(last.json.error.code, 'last_admin');
    // the demoted admin is now an operator: users API is forbidden to it
    assert.equal((await admin.get('/api/users')).status, 403);
    assert.equal((await c2.patch(`/api/users/${me.id}`, { role: 'admin' })).status, 200);
    assert.equal((await admin.get('/api/users')).status, 200);
  });

  it('validates user input and revokes a deleted user\'s sessions and tokens', async () => {
    assert.equal((await admin.post('/api/users', { username: 'bad name', password: 'long-enough-pw', role: 'viewer' })).json.error.code, 'invalid_username');
    assert.equal((await admin.post('/api/users', { username: 'x'.repeat(65), password: 'long-enough-pw' })).status, 400);
    assert.equal((await admin.post('/api/users', { username: 'shorty', password: 'short' })).json.error.code, 'weak_password');
    assert.equal((await admin.post('/api/users', { username: 'shorty', password: 'x'.repeat(1025) })).json.error.code, 'weak_password');
    assert.equal((await admin.post('/api/users', { username: 'shorty', password: 'long-enough-pw', role: 'root' })).json.error.code, 'invalid_role');
    assert.equal((await admin.post('/api/users', { username: 'ADMIN', password: 'long-enough-pw' })).json.error.code, 'username_taken');

    const u = await addUser(admin, 'temp.user', 'operator');
    secrets.push(u.password);
    const c = new Client(cp.url);
    await c.login('temp.user', u.password);
    const t = await c.post('/api/tokens', { name: 'doomed' });
    assert.equal(t.status, 201);
    secrets.push(t.json.secret);
    // admin password reset ends the user's sessions
    const reset = await admin.patch(`/api/users/${u.id}`, { password: 'a-brand-new-password' });
    assert.equal(reset.status, 200, reset.text);
    assert.equal(reset.json.user.username, 'temp.user');
    assert.equal((await c.get('/api/auth/me')).status, 401);
    await c.login('temp.user', 'a-brand-new-password');
    assert.equal((await c.get('/api/auth/me')).status, 200);
    const del = await admin.del(`/api/users/${u.id}`);
    assert.equal(del.status, 204);
    assert.equal((await c.get('/api/auth/me')).status, 401);
    assert.equal((await raw(cp.url, 'GET', '/api/auth/me', { headers: { authorization: `Bearer ${t.json.secret}` } })).status, 401);
    assert.equal((await admin.del(`/api/users/${u.id}`)).status, 404);
    const list = await admin.get('/api/users');
    assert.ok(!list.json.users.some((x) => x.username === 'temp.user'));
    for (const x of list.json.users) assert.deepEqual(Object.keys(x).sort(), ['created_at', 'id', 'last_login_at', 'role', 'updated_at', 'username']);
  });

  it('changes the own password only with the old one and ends other sessions', async () => {
    const u = await addUser(admin, 'pat', 'viewer');
    secrets.push(u.password);
    const a = new Client(cp.url); const b = new Client(cp.url);
    await a.login('pat', u.password);
    await b.login('pat', u.password);
    const wrong = await a.post('/api/auth/password', { old_password: 'not-the-password', new_password: 'another-long-password' });
    assert.equal(wrong.status, 403);
    assert.equal(wrong.json.error.code, 'wrong_password');
    const weak = await a.post('/api/auth/password', { old_password: u.password, new_password: 'short' });
    assert.equal(weak.status, 400);
    assert.equal(weak.json.error.code, 'weak_password');
    const ok = await a.post('/api/auth/password', { old_password: u.password, new_password: 'another-long-password' });
    assert.equal(ok.status, 204, ok.text);
    secrets.push('another-long-password');
    assert.equal((await a.get('/api/auth/me')).status, 200, 'the current session survives');
    assert.equal((await b.get('/api/auth/me')).status, 401, 'other sessions are revoked');
    const old = await new Client(cp.url).post('/api/auth/login', { username: 'pat', password: u.password });
    assert.equal(old.status, 401);
    await new Client(cp.url).login('pat', 'another-long-password');
  });

  it('records an audit trail that admins can page and filter', async () => {
    const r = await admin.get('/api/audit?limit=200');
    assert.equal(r.status, 200);
    const acts = new Set(r.json.entries.map((e) => e.action));
    for (const a of ['auth.login', 'auth.logout', 'auth.password', 'user.create', 'user.update', 'user.delete', 'token.create', 'token.revoke']) {
      assert.ok(acts.has(a), `audit has ${a}`);
    }
    const failed = r.json.entries.find((e) => e.action === 'auth.login' && e.result === 'failed' && e.username === 'nobody-here');
    assert.ok(failed, 'a failed login records the attempted username');
    assert.equal(failed.user_id, null);
    for (const s of secrets) assert.ok(!r.text.includes(s), 'no secret in the audit log');

    const p1 = await admin.get('/api/audit?limit=2');
    assert.equal(p1.json.entries.length, 2);
    assert.ok(p1.json.entries[0].id > p1.json.entries[1].id);
    assert.equal(p1.json.next_before, p1.json.entries[1].id);
    const p2 = await admin.get(`/api/audit?limit=2&before=${p1.json.next_before}`);
    assert.ok(p2.json.entries[0].id < p1.json.entries[1].id);

    const users = await admin.get('/api/audit?action=user.&user=admin');
    assert.ok(users.json.entries.length > 0);
    for (const e of users.json.entries) { assert.match(e.action, /^user\./); assert.equal(e.username, 'admin'); }
    const tgt = await admin.get('/api/audit?target=user:pat&action=user.create');
    assert.equal(tgt.json.entries.length, 1);
    assert.deepEqual(tgt.json.entries[0].detail, { role: 'viewer' });
    const future = await admin.get('/api/audit?since=2999-01-01T00:00:00Z');
    assert.deepEqual(future.json, { entries: [], next_before: null });
    assert.equal((await admin.get('/api/audit?since=yesterday')).status, 400);
    assert.equal((await admin.get('/api/audit?limit=201')).status, 400);
    assert.equal((await admin.get('/api/audit?before=-1')).status, 400);
  });
});

describe('login throttling', { timeout: 120000 }, () => {
  let cp;
  before(async () => { cp = await startControlPlane({ env: { DP_LOGIN_MAX_IP_FAILURES: '8' } }); });
  after(async () => { await cp.cleanup(); });

  it('answers 429 with Retry-After after 5 failures for one username', async () => {
    const c = new Client(cp.url);
    for (let i = 0; i < 5; i++) {
      const r = await c.post('/api/auth/login', { username: 'admin', password: `wrong-password-${i}` });
      assert.equal(r.status, 401);
    }
    const r = await c.post('/api/auth/login', { username: 'admin', password: cp.admin.password });
    assert.equal(r.status, 429, 'even the right password is refused while throttled');
    assert.equal(r.json.error.code, 'too_many_attempts');
    const ra = Number(r.headers.get('retry-after'));
    assert.ok(ra > 0 && ra <= 900, `Retry-After ${ra}`);
    // case does not dodge the username limit
    assert.equal((await c.post('/api/auth/login', { username: 'ADMIN', password: 'x-wrong-password' })).status, 429);
  });

  it('limits failures per client IP across usernames', async () => {
    const c = new Client(cp.url);
    // 5 failures so far from this IP; the limit here is 8
    for (let i = 0; i < 3; i++) {
      const r = await c.post('/api/auth/login', { username: `ghost${i}`, password: 'wrong-password-x' });
      assert.equal(r.status, 401);
    }
    const r = await c.post('/api/auth/login', { username: 'ghost-new', password: 'wrong-password-x' });
    assert.equal(r.status, 429);
    assert.ok(Number(r.headers.get('retry-after')) > 0);
  });

  it('does not let parallel attempts race past the limit', async () => {
    const cp2 = await startControlPlane();
    try {
      const c = new Client(cp2.url);
      const rs = await Promise.all(Array.from({ length: 12 }, (_, i) =>
        c.post('/api/auth/login', { username: 'admin', password: `parallel-wrong-${i}` })));
      const n401 = rs.filter((r) => r.status === 401).length;
      const n429 = rs.filter((r) => r.status === 429).length;
      assert.equal(n401, 5, `401s: ${rs.map((r) => r.status)}`);
      assert.equal(n429, 7);
    } finally { await cp2.cleanup(); }
  });
});

describe('session lifetimes', { timeout: 120000 }, () => {
  it('ends a session after the idle timeout', async () => {
    const cp = await startControlPlane({ env: { DP_SESSION_IDLE_SECONDS: '2' } });
    try {
      const c = new Client(cp.url);
      const r = await c.login('admin', cp.admin.password);
      assert.equal(r.json.idle_timeout_s, 2);
      assert.equal((await c.get('/api/auth/me')).status, 200);
      await sleep(3200);
      assert.equal((await c.get('/api/auth/me')).status, 401);
    } finally { await cp.cleanup(); }
  });

  it('ends a session at its absolute lifetime even when active', async () => {
    const cp = await startControlPlane({ env: { DP_SESSION_TTL_SECONDS: '3', DP_SESSION_IDLE_SECONDS: '60' } });
    try {
      const c = new Client(cp.url);
      const r = await c.login('admin', cp.admin.password);
      assert.match(cookieOf(r), /Max-Age=3;/);
      // The server counts whole seconds: the session ends between 2 and 3 s
      // after this point. Stay active for 1.5 s, then look after 4.2 s.
      const t0 = Date.now();
      while (Date.now() < t0 + 1500) {
        assert.equal((await c.get('/api/auth/me')).status, 200);
        await sleep(300);
      }
      await sleep(Math.max(0, t0 + 4200 - Date.now()));
      assert.equal((await c.get('/api/auth/me')).status, 401);
    } finally { await cp.cleanup(); }
  });

  it('marks the cookie Secure when configured for TLS', async () => {
    const cp = await startControlPlane({ env: { DP_SECURE_COOKIES: '1' } });
    try {
      const r = await new Client(cp.url).post('/api/auth/login', { username: 'admin', password: cp.admin.password },
        { origin: 'https://' + new URL(cp.url).host });
      assert.equal(r.status, 200, r.text);
      assert.match(cookieOf(r), /; Secure/);
    } finally { await cp.cleanup(); }
  });
});

describe('user CLI', { timeout: 120000 }, () => {
  let t; let db;
  before(() => { t = tempDir('dp-cli-'); db = path.join(t.dir, 'sub', 'dp.db'); });
  after(() => t.cleanup());
  const dp = (args, stdin) => run(DP, args, { stdin });

  it('seeds once, with a generated password printed once', async () => {
    const r = await dp(['seed', '--db', db]);
    assert.equal(r.code, 0, r.stderr);
    const m = /^password: (\S+)$/m.exec(r.stdout);
    assert.ok(m, r.stdout);
    assert.ok(m[1].length >= 20);
    assert.ok(!r.stderr.includes(m[1]), 'the password is only on stdout');
    const again = await dp(['seed', '--db', db, '--password-stdin'], 'another-long-password\n');
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already has/);
    const forced = await dp(['seed', '--db', db, '--force', '--username', 'admin2', '--password-stdin'], 'another-long-password\n');
    assert.equal(forced.code, 0, forced.stderr);
    assert.ok(!forced.stdout.includes('another-long-password'));
  });

  it('adds, lists, changes role, resets password and removes users', async () => {
    assert.equal((await dp(['user', 'add', 'carol', '--role', 'operator', '--password-stdin', '--db', db], 'carol-password-12\n')).code, 0);
    const short = await dp(['user', 'add', 'dave', '--password-stdin', '--db', db], 'short\n');
    assert.equal(short.code, 1);
    assert.match(short.stderr, /at least 12/);
    assert.equal((await dp(['user', 'add', 'bad name', '--password-stdin', '--db', db], 'carol-password-12\n')).code, 2);
    assert.equal((await dp(['user', 'add', 'carol', '--password-stdin', '--db', db], 'carol-password-12\n')).code, 1);
    const list = await dp(['user', 'list', '--json', '--db', db]);
    assert.equal(list.code, 0);
    const users = JSON.parse(list.stdout).users;
    assert.deepEqual(users.map((u) => [u.username, u.role]), [['admin', 'admin'], ['admin2', 'admin'], ['carol', 'operator']]);
    assert.ok(!list.stdout.includes('argon2'), 'no hashes in the listing');
    assert.equal((await dp(['user', 'role', 'carol', 'viewer', '--db', db])).code, 0);
    assert.equal((await dp(['user', 'role', 'carol', 'wizard', '--db', db])).code, 2);
    assert.equal((await dp(['user', 'passwd', 'carol', '--password-stdin', '--db', db], 'carol-new-password\n')).code, 0);
    const nostdin = await dp(['user', 'passwd', 'carol', '--db', db]);
    assert.equal(nostdin.code, 1, 'no terminal and no --password-stdin');
    assert.equal((await dp(['user', 'remove', 'nobody', '--db', db])).code, 1);
    assert.equal((await dp(['user', 'remove', 'carol', '--db', db])).code, 0);
    assert.equal((await dp(['user', 'frobnicate', '--db', db])).code, 2);
  });

  it('enforces the last-admin rule', async () => {
    assert.equal((await dp(['user', 'remove', 'admin2', '--db', db])).code, 0);
    const rm = await dp(['user', 'remove', 'admin', '--db', db]);
    assert.equal(rm.code, 1);
    assert.match(rm.stderr, /last admin/);
    const demote = await dp(['user', 'role', 'admin', 'viewer', '--db', db]);
    assert.equal(demote.code, 1);
    assert.match(demote.stderr, /last admin/);
  });

  it('db info and db vacuum: a new file gives pages back by itself; vacuum converts an old one, keeping its data', async () => {
    const info = async (file) => {
      const r = await dp(['db', 'info', '--json', '--db', file]);
      assert.equal(r.code, 0, r.stderr);
      return JSON.parse(r.stdout);
    };
    const i = await info(db);
    assert.equal(i.auto_vacuum, 'incremental');
    assert.ok(i.schema_version >= 9 && i.page_size > 0 && i.pages > 0, JSON.stringify(i));
    const text = await dp(['db', 'info', '--db', db]);
    assert.match(text.stdout, /^schema version \d+\nsize [\d.]+ MiB/);
    const v = await dp(['db', 'vacuum', '--db', db]);
    assert.equal(v.code, 0, v.stderr);
    assert.match(v.stdout, /^vacuumed: [\d.]+ MiB -> [\d.]+ MiB; auto-vacuum incremental -> incremental$/m);
    assert.equal((await info(db)).free_pages, 0);
    assert.equal((await dp(['db', 'vacuum', '--json', '--db', db])).code, 2);
    assert.equal((await dp(['db', 'shrink', '--db', db])).code, 2);
    const list = await dp(['user', 'list', '--json', '--db', db]);
    assert.ok(JSON.parse(list.stdout).users.some((u) => u.username === 'admin'), 'data kept');
  });

  it('uses DB_PATH when --db is absent and works with a served database', async () => {
    const r = await run(DP, ['user', 'list'], { env: { DB_PATH: db } });
    assert.equal(r.code, 0);
    assert.match(r.stdout, /admin/);
  });
});

describe('login timing', { timeout: 120000 }, () => {
  // An unknown user costs an argon2id hash just like a wrong password does, so
  // response times do not reveal which usernames exist. Loose bounds: this
  // guards against a missing dummy hash (a ~100x difference), not jitter.
  it('takes comparable time for an unknown user and a wrong password', async () => {
    const cp = await startControlPlane();
    try {
      const c = new Client(cp.url);
      const time = async (username) => {
        const t = process.hrtime.bigint();
        const r = await c.post('/api/auth/login', { username, password: 'definitely-wrong-pw' });
        assert.equal(r.status, 401);
        return Number(process.hrtime.bigint() - t) / 1e6;
      };
      const med = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
      const unknown = []; const wrong = [];
      for (let i = 0; i < 3; i++) { unknown.push(await time(`nobody${i}`)); wrong.push(await time('admin')); }
      const ratio = med(unknown) / med(wrong);
      assert.ok(ratio > 0.3 && ratio < 3.3, `unknown ${med(unknown).toFixed(1)} ms vs wrong ${med(wrong).toFixed(1)} ms`);
      assert.ok(med(unknown) > 5, 'an unknown user still costs a password hash');
    } finally { await cp.cleanup(); }
  });
});
