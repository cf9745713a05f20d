// server_basics.test.mjs - the control-plane server core over loopback:
// /healthz, /metrics, the JSON error envelope for 400/404/405/413, the
// embedded web UI (content types, caching, gzip, ETag, SPA fallback), the
// access log (no query string, no cookie) and a graceful SIGTERM exit.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startControlPlane, Client } from '../lib/harness.mjs';

let cp;
let admin;

before(async () => {
  cp = await startControlPlane();
  admin = new Client(cp.url);
  await admin.login(cp.admin.username, cp.admin.password);
});

after(async () => {
  if (!cp) return;
  // after every kind of request above, a clean exit (the sanitizer build
  // fails the exit status on a leak)
  const res = await cp.stop('SIGTERM');
  await cp.cleanup();
  assert.equal(res.code, 0, cp.out.stderr.slice(-4000));
});

function assertEnvelope(r, status, code) {
  assert.equal(r.status, status, r.text);
  assert.match(r.headers.get('content-type') || '', /^application\/json/);
  assert.ok(r.json && r.json.error, `no error envelope: ${r.text}`);
  assert.equal(typeof r.json.error.message, 'string');
  assert.ok(r.json.error.message.length > 0);
  if (code) assert.equal(r.json.error.code, code);
}

// Raw HTTP over a socket, for what fetch cannot express: announce a body,
// wait for the server's early answer, then try to send the body anyway.
// (Sending it all first races with the server's close: a close with unread
// input makes the kernel send RST, which can discard the answer.)
function rawEarlyAnswer(port, head, body) {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let got = '';
    let sent = false;
    const t = setTimeout(() => { s.destroy(); reject(new Error('raw request timed out: ' + got)); }, 20000);
    s.on('data', (d) => {
      got += d.toString('latin1');
      if (!sent && got.includes('\r\n\r\n')) { sent = true; s.write(body, () => s.end()); }
    });
    s.on('error', () => { /* the server closes while we upload */ });
    s.on('close', () => { clearTimeout(t); resolve(got); });
    s.write(head);
  });
}

test('GET /healthz is public JSON', async () => {
  const c = new Client(cp.url);
  const r = await c.get('/healthz');
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type'), /^application\/json/);
  assert.equal(r.json.status, 'ok');
  assert.equal(typeof r.json.version, 'string');
  const h = await fetch(cp.url + '/healthz', { method: 'HEAD' });
  assert.equal(h.status, 200);
  assert.equal(await h.text(), '');
});

test('GET /metrics needs a viewer and speaks Prometheus text', async () => {
  const anon = new Client(cp.url);
  assertEnvelope(await anon.get('/metrics'), 401, 'unauthorized');
  await anon.get('/healthz');
  const r = await admin.get('/metrics');
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
  for (const want of [
    /^daemonpulse_build_info\{version="[^"]+"\} 1$/m,
    /^daemonpulse_uptime_seconds \d+(\.\d+)?$/m,
    /^daemonpulse_sse_clients 0$/m,
    /^daemonpulse_sse_dropped_total 0$/m,
    /^daemonpulse_http_connections \d+$/m,
    /^daemonpulse_http_requests_total\{method="GET",route="\/healthz",status="200"\} \d+$/m,
    /^daemonpulse_http_requests_total\{method="GET",route="\/metrics",status="401"\} \d+$/m,
    /^daemonpulse_http_request_duration_seconds_bucket\{method="GET",route="\/healthz",le="\+Inf"\} \d+$/m,
    /^# TYPE daemonpulse_http_request_duration_seconds histogram$/m,
  ]) assert.match(r.text, want);
  // raw paths never become labels
  await anon.patch('/api/users/123456789', {});
  const again = await admin.get('/metrics');
  assert.doesNotMatch(again.text, /123456789/);
  assert.match(again.text, /route="\/api\/users\/\{id\}",status="401"/);
});

test('unknown route is 404, wrong method is 405 with Allow', async () => {
  const c = new Client(cp.url);
  assertEnvelope(await c.get('/api/does-not-exist'), 404, 'not_found');
  assertEnvelope(await c.post('/api/does-not-exist', {}), 404, 'not_found');
  // unknown /api paths never fall back to the web UI
  assertEnvelope(await c.get('/api'), 404, 'not_found');
  const r = await c.req('DELETE', '/healthz');
  assertEnvelope(r, 405, 'method_not_allowed');
  assert.equal(r.headers.get('allow'), 'GET, HEAD');
  const p = await c.put('/api/auth/login', {});
  assertEnvelope(p, 405, 'method_not_allowed');
  assert.equal(p.headers.get('allow'), 'POST');
});

test('authentication comes before the body: 401 for a protected route', async () => {
  const c = new Client(cp.url);
  const r = await c.req('PATCH', '/api/users/1', '{not json');
  assertEnvelope(r, 401, 'unauthorized');
});

test('malformed JSON is 400 with line and column', async () => {
  const c = new Client(cp.url);
  const r = await c.post('/api/auth/login', '{"username": "a",\n "password": }', { 'content-type': 'application/json' });
  assertEnvelope(r, 400, 'invalid_json');
  assert.match(r.json.error.message, /line 2/);
  assert.match(r.json.error.message, /column/);
  const arr = await c.post('/api/auth/login', '[1,2]', { 'content-type': 'application/json' });
  assertEnvelope(arr, 400, 'invalid_json');
});

test('a 2 MiB body is refused with 413 and the JSON envelope', async () => {
  const size = 2 * 1024 * 1024;
  const head = `POST /api/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${size}\r\n\r\n`;
  const got = await rawEarlyAnswer(cp.port, head, Buffer.alloc(size, 0x20));
  assert.match(got, /^HTTP\/1\.1 413 /);
  const body = got.slice(got.indexOf('\r\n\r\n') + 4);
  const j = JSON.parse(body);
  assert.equal(typeof j.error.code, 'string');
  assert.equal(typeof j.error.message, 'string');
  // the server is still fine afterwards
  const r = await new Client(cp.url).get('/healthz');
  assert.equal(r.status, 200);
});

test('web UI: index.html, SPA fallback, hashed assets, gzip, ETag', async (t) => {
  const c = new Client(cp.url);
  const root = await c.get('/');
  if (root.status === 404) {
    assertEnvelope(root, 404, 'not_found');
    assert.match(root.json.error.message, /not built/);
    t.skip('web UI not built into this binary');
    return;
  }
  assert.equal(root.status, 200);
  assert.match(root.headers.get('content-type'), /^text\/html; charset=utf-8/);
  assert.equal(root.headers.get('cache-control'), 'no-cache');
  assert.match(root.headers.get('content-security-policy') || '', /default-src 'self'/);
  assert.equal(root.headers.get('x-content-type-options'), 'nosniff');
  assert.match(root.text, /<html/i);

  for (const p of ['/fleet', '/settings/users', '/the/forge?x=1']) {
    const r = await c.get(p);
    assert.equal(r.status, 200, p);
    assert.equal(r.text, root.text, `${p} is not the SPA shell`);
  }

  const m = /(?:src|href)="(\/assets\/[^"]+\.js)"/.exec(root.text);
  assert.ok(m, 'index.html references a hashed script under /assets/');
  const js = await fetch(cp.url + m[1], { headers: { 'accept-encoding': 'gzip' } });
  assert.equal(js.status, 200);
  assert.match(js.headers.get('content-type'), /^text\/javascript/);
  assert.equal(js.headers.get('cache-control'), 'public, max-age=31536000, immutable');
  assert.equal(js.headers.get('content-encoding'), 'gzip');
  assert.equal(js.headers.get('vary'), 'Accept-Encoding');
  const gzText = await js.text(); // fetch decompresses
  const plain = await fetch(cp.url + m[1], { headers: { 'accept-encoding': 'identity' } });
  assert.equal(plain.headers.get('content-encoding'), null);
  assert.equal(await plain.text(), gzText);
  const etag = plain.headers.get('etag');
  assert.match(etag, /^"[0-9a-f]{16}"$/);
  const nm = await fetch(cp.url + m[1], { headers: { 'if-none-match': etag, 'accept-encoding': 'identity' } });
  assert.equal(nm.status, 304);
  assert.equal(await nm.text(), '');
  const refused = await fetch(cp.url + m[1], { headers: { 'accept-encoding': 'gzip;q=0' } });
  assert.equal(refused.headers.get('content-encoding'), null);
  await refused.text();

  // a missing hashed asset is a 404, not HTML the browser would try to run
  assertEnvelope(await c.get('/assets/nope-123.js'), 404, 'not_found');
});

test('access log: one line per request, no query string, no cookie', async () => {
  const marker = 'qsecret' + Math.random().toString(36).slice(2);
  const r = await admin.get(`/healthz?token=${marker}&x=1`);
  assert.equal(r.status, 200);
  const cookieVal = admin.cookie.split('=')[1];
  await admin.get('/api/auth/me');
  // wait for the lines to reach stderr
  const deadline = Date.now() + 10000;
  while (!/access GET \/api\/auth\/me 200/.test(cp.out.stderr) && Date.now() < deadline) {
    await new Promise((res) => setTimeout(res, 50));
  }
  const log = cp.out.stderr;
  assert.match(log, /access GET \/healthz 200 \d+ [\d.]+ms 127\.0\.0\.1/);
  assert.match(log, /access GET \/api\/auth\/me 200 \d+ [\d.]+ms 127\.0\.0\.1 user=admin/);
  assert.ok(!log.includes(marker), 'query string leaked into the log');
  assert.ok(!log.includes(cookieVal), 'session cookie leaked into the log');
  assert.ok(!log.includes(cp.admin.password), 'password leaked into the log');
});

test('graceful SIGTERM: exit status 0', async () => {
  const extra = await startControlPlane();
  try {
    // a keep-alive connection that stays open must not block the exit
    const c = new Client(extra.url);
    assert.equal((await c.get('/healthz')).status, 200);
    const t0 = Date.now();
    const res = await extra.stop('SIGTERM');
    assert.equal(res.code, 0, extra.out.stderr);
    assert.equal(res.signal, null);
    assert.ok(Date.now() - t0 < 9000);
    assert.match(extra.out.stderr, /shutting down/);
    assert.match(extra.out.stderr, /stopped/);
  } finally {
    await extra.cleanup();
  }
});

test('graceful SIGTERM: an in-flight request finishes, new connections are refused', async () => {
  const extra = await startControlPlane();
  try {
    const body = JSON.stringify({ username: extra.admin.username, password: extra.admin.password });
    const s = net.connect(extra.port, '127.0.0.1');
    let got = '';
    const closed = new Promise((res) => s.on('close', res));
    s.on('error', () => {});
    const waitFor = async (what, re, ms = 20000) => {
      const deadline = Date.now() + ms;
      while (!re.test(what())) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${re}: ${what()}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    s.on('data', (d) => { got += d.toString('latin1'); });
    // the head arrives; the server answers 100 Continue: the request is in flight
    s.write(`POST /api/auth/login HTTP/1.1\r\nHost: 127.0.0.1:${extra.port}\r\nOrigin: ${extra.url}\r\n` +
      `Content-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: ${body.length}\r\n\r\n`);
    await waitFor(() => got, /100 Continue/);
    const stopped = extra.stop('SIGTERM');
    await waitFor(() => extra.out.stderr, /shutting down/);
    // no new connections once shutdown began
    await assert.rejects(fetch(extra.url + '/healthz'));
    // the body of the in-flight request still gets its full answer (argon2 on the worker pool)
    s.write(body);
    await closed;
    assert.match(got, /HTTP\/1\.1 200 OK/);
    assert.match(got, /"username":"admin"/);
    const res = await stopped;
    assert.equal(res.code, 0, extra.out.stderr);
  } finally {
    await extra.cleanup();
  }
});

test('invalid configuration stops start-up with one line naming the setting', async () => {
  const { run, bin } = await import('../lib/harness.mjs');
  const r = await run(bin('daemonpulse'), ['serve', '--port', '70000']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /BRIDGE_PORT/);
  assert.equal(r.stderr.trim().split('\n').length, 1);
  const e = await run(bin('daemonpulse'), ['serve'], { env: { BIND: 'not-an-address' } });
  assert.equal(e.code, 1);
  assert.match(e.stderr, /invalid BIND 'not-an-address' \(environment\)/);
  const h = await run(bin('daemonpulse'), ['serve', '--help']);
  assert.equal(h.code, 0);
  for (const name of ['BIND', 'BRIDGE_PORT', 'DB_PATH', 'DATA_DIR', 'DAEMON_API_URL', 'DAEMON_API_KEY', 'LMS_BIN']) {
    assert.match(h.stdout, new RegExp(name));
  }
  const top = await run(bin('daemonpulse'), ['--help']);
  assert.equal(top.code, 0);
  assert.match(top.stdout, /serve/);
  assert.match(top.stdout, /seed/);
  const v = await run(bin('daemonpulse'), ['--version']);
  assert.equal(v.code, 0);
  assert.match(v.stdout, /^daemonpulse \S+/);
});
