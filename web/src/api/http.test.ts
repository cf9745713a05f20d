import { describe, expect, test, vi } from 'vitest';
import { ApiError, buildUrl, createHttp, errorFrom } from './http';

interface Call { url: string; init: RequestInit }

function fakeFetch(status: number, body: string, headers: Record<string, string> = {}) {
  const calls: Call[] = [];
  const fn = async (url: string, init: RequestInit) => {
    calls.push({ url, init });
    return new Response(status === 204 ? null : body, { status, headers });
  };
  return { fn, calls };
}

describe('errorFrom', () => {
  test('uses the server code and message', () => {
    const e = errorFrom(409, '{"error":{"code":"last_admin","message":"cannot demote the last admin"}}', null);
    expect(e).toBeInstanceOf(ApiError);
    expect(e.status).toBe(409);
    expect(e.code).toBe('last_admin');
    expect(e.message).toBe('cannot demote the last admin');
  });
  test('non-JSON and odd bodies fall back to a generic message', () => {
    expect(errorFrom(502, '<html>bad gateway</html>', null).message).toMatch(/upstream/);
    expect(errorFrom(418, '', null).message).toBe('request failed (HTTP 418)');
    expect(errorFrom(500, '{"error":{"code":7}}', null).code).toBe('http_500');
    expect(errorFrom(400, '{"error":"plain string"}', null).message).toBe('plain string');
    expect(errorFrom(400, 'null', null).code).toBe('http_400');
  });
  test('Retry-After in seconds', () => {
    expect(errorFrom(429, '{}', '30').retryAfter).toBe(30);
    expect(errorFrom(429, '{}', 'Wed, 21 Oct 2026 07:28:00 GMT').retryAfter).toBeNull();
  });
});

describe('buildUrl', () => {
  test('skips empty values and encodes', () => {
    expect(buildUrl('/api/audit', { limit: 50, user: '', action: 'user.', target: undefined, before: null }))
      .toBe('/api/audit?limit=50&action=user.');
    expect(buildUrl('/api/audit', { target: 'user:a b&c' })).toBe('/api/audit?target=user%3Aa+b%26c');
    expect(buildUrl('/x')).toBe('/x');
  });
});

describe('request', () => {
  test('GET sends no body and no content type, same-origin credentials', async () => {
    const f = fakeFetch(200, '{"users":[]}', { 'content-type': 'application/json' });
    const h = createHttp(f.fn);
    expect(await h.request('GET', '/api/users')).toEqual({ users: [] });
    const init = f.calls[0].init;
    expect(init.body).toBeUndefined();
    expect((init.headers as Record<string, string>)['Content-Type']).toBeUndefined();
    expect(init.credentials).toBe('same-origin');
  });
  test('mutating requests send JSON with Content-Type: application/json', async () => {
    const f = fakeFetch(201, '{"user":{"id":2}}');
    const h = createHttp(f.fn);
    await h.request('POST', '/api/users', { username: 'a', password: 'p', role: 'viewer' });
    const init = f.calls[0].init;
    expect(init.method).toBe('POST');
    expect((init.headers as Record<string, string>)['Content-Type']).toBe('application/json');
    expect(JSON.parse(init.body as string)).toEqual({ username: 'a', password: 'p', role: 'viewer' });
  });
  test('DELETE without a body still declares JSON; 204 resolves to undefined', async () => {
    const f = fakeFetch(204, '');
    const h = createHttp(f.fn);
    expect(await h.request('DELETE', '/api/tokens/3')).toBeUndefined();
    expect((f.calls[0].init.headers as Record<string, string>)['Content-Type']).toBe('application/json');
    expect(f.calls[0].init.body).toBeUndefined();
  });
  test('401 runs the unauthorized handler and rejects', async () => {
    const f = fakeFetch(401, '{"error":{"code":"unauthorized","message":"not signed in"}}');
    const h = createHttp(f.fn);
    const spy = vi.fn();
    h.onUnauthorized(spy);
    await expect(h.request('GET', '/api/users')).rejects.toMatchObject({ status: 401, code: 'unauthorized' });
    expect(spy).toHaveBeenCalledTimes(1);
  });
  test('allow401 (login) reports the error without leaving the page', async () => {
    const f = fakeFetch(401, '{"error":{"code":"invalid_credentials","message":"invalid username or password"}}');
    const h = createHttp(f.fn);
    const spy = vi.fn();
    h.onUnauthorized(spy);
    await expect(h.request('POST', '/api/auth/login', {}, { allow401: true }))
      .rejects.toMatchObject({ message: 'invalid username or password' });
    expect(spy).not.toHaveBeenCalled();
  });
  test('403 does not sign out', async () => {
    const f = fakeFetch(403, '{"error":{"code":"forbidden","message":"admin role required"}}');
    const h = createHttp(f.fn);
    const spy = vi.fn();
    h.onUnauthorized(spy);
    await expect(h.request('GET', '/api/users')).rejects.toMatchObject({ status: 403 });
    expect(spy).not.toHaveBeenCalled();
  });
  test('network failure becomes a readable ApiError', async () => {
    const h = createHttp(async () => { throw new TypeError('Failed to fetch'); });
    await expect(h.request('GET', '/api/auth/me')).rejects.toMatchObject({ status: 0, code: 'network' });
  });
  test('aborts propagate as aborts', async () => {
    const h = createHttp(async () => { throw new DOMException('aborted', 'AbortError'); });
    await expect(h.request('GET', '/api/users')).rejects.toMatchObject({ name: 'AbortError' });
  });
  test('a 200 that is not JSON is an error', async () => {
    const f = fakeFetch(200, '<!doctype html>');
    const h = createHttp(f.fn);
    await expect(h.request('GET', '/api/users')).rejects.toMatchObject({ code: 'bad_response' });
  });
});
