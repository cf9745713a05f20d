// route_roles.test.mjs - every route the binary knows (`daemonpulse routes`)
// is checked centrally: 401 without a session, 403 for a role below the
// route's, 403 for a cross-site mutating cookie request. Routes added by
// later issues are covered automatically. Only refusals are exercised, so
// no request has a lasting effect.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startControlPlane, Client, run, bin } from '../lib/harness.mjs';

let cp;
let routes;
const clients = {};
const rank = { public: 1, viewer: 2, operator: 3, admin: 4 };

function concrete(path) {
  return path.replace(/\{[a-z0-9_]+\}/g, '999999');
}

before(async () => {
  const r = await run(bin('daemonpulse'), ['routes']);
  assert.equal(r.code, 0, r.stderr);
  routes = JSON.parse(r.stdout);
  cp = await startControlPlane();
  clients.admin = new Client(cp.url);
  await clients.admin.login(cp.admin.username, cp.admin.password);
  for (const role of ['viewer', 'operator']) {
    const name = `rr-${role}`;
    const password = 'pw-' + Math.random().toString(36).slice(2) + Math.random().toString(36).slice(2);
    const c = await clients.admin.post('/api/users', { username: name, password, role });
    assert.equal(c.status, 201, c.text);
    clients[role] = new Client(cp.url);
    await clients[role].login(name, password);
  }
});

after(async () => {
  if (cp) await cp.cleanup();
});

test('the route list is sane', () => {
  assert.ok(routes.length >= 10, `only ${routes.length} routes`);
  const seen = new Set();
  for (const r of routes) {
    assert.ok(['public', 'viewer', 'operator', 'admin'].includes(r.role), `${r.method} ${r.path}: ${r.role}`);
    const key = `${r.method} ${r.path.replace(/\{[a-z0-9_]+\}/g, '{}')}`;
    assert.ok(!seen.has(key), `duplicate ${key}`);
    seen.add(key);
  }
  const pub = routes.filter((r) => r.role === 'public').map((r) => `${r.method} ${r.path}`).sort();
  assert.deepEqual(pub, ['GET /healthz', 'POST /api/auth/login']);
});

test('no session: 401 on every non-public route', async () => {
  const anon = new Client(cp.url);
  for (const r of routes.filter((x) => x.role !== 'public')) {
    const body = ['POST', 'PUT', 'PATCH'].includes(r.method) ? {} : undefined;
    const res = await anon.req(r.method, concrete(r.path), body);
    assert.equal(res.status, 401, `${r.method} ${r.path}: ${res.text}`);
    assert.equal(res.json.error.code, 'unauthorized');
  }
});

test('a role below the route: 403 on every route', async () => {
  let checked = 0;
  for (const r of routes.filter((x) => x.role !== 'public')) {
    for (const role of ['viewer', 'operator']) {
      if (rank[role] >= rank[r.role]) continue;
      const body = ['POST', 'PUT', 'PATCH'].includes(r.method) ? {} : undefined;
      const res = await clients[role].req(r.method, concrete(r.path), body);
      assert.equal(res.status, 403, `${r.method} ${r.path} as ${role}: ${res.text}`);
      assert.equal(res.json.error.code, 'forbidden');
      checked++;
    }
  }
  assert.ok(checked > 0);
});

test('cross-site mutating cookie requests: 403 on every route', async () => {
  let checked = 0;
  for (const r of routes.filter((x) => ['POST', 'PUT', 'PATCH', 'DELETE'].includes(x.method))) {
    if (r.role === 'public' || r.csrf_exempt) continue;
    const body = r.method === 'DELETE' ? undefined : {};
    const res = await clients.admin.req(r.method, concrete(r.path), body, { origin: 'http://evil.example' });
    assert.equal(res.status, 403, `${r.method} ${r.path}: ${res.text}`);
    assert.equal(res.json.error.code, 'csrf');
    checked++;
  }
  assert.ok(checked > 0);
  // the admin session is still alive afterwards
  assert.equal((await clients.admin.get('/api/auth/me')).status, 200);
});
