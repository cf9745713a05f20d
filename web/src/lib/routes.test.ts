import { describe, expect, test } from 'vitest';
import { normalizePath, parseRoute, routePath, safeNext } from './routes';

describe('parseRoute', () => {
  test('/ redirects to /fleet', () => {
    expect(parseRoute('/', false)).toEqual({ route: { name: 'fleet' }, redirect: '/fleet' });
  });
  test.each(['fleet', 'forge', 'pulse', 'toolchain', 'console'])('module /%s', (m) => {
    expect(parseRoute('/' + m, false)).toEqual({ route: { name: m } });
    expect(parseRoute('/' + m + '/', false).route).toEqual({ name: m });
  });
  test('login', () => {
    expect(parseRoute('/login', false).route).toEqual({ name: 'login' });
  });
  test('settings tabs', () => {
    for (const tab of ['users', 'tokens', 'audit', 'account']) {
      expect(parseRoute(`/settings/${tab}`, true).route).toEqual({ name: 'settings', tab });
    }
  });
  test('/settings goes to the first tab the user may open', () => {
    expect(parseRoute('/settings', true).redirect).toBe('/settings/users');
    expect(parseRoute('/settings', false).redirect).toBe('/settings/tokens');
  });
  test('unknown paths are not found (never a silent redirect)', () => {
    expect(parseRoute('/settings/nope', true).route).toEqual({ name: 'notfound', path: '/settings/nope' });
    expect(parseRoute('/fleet/extra', true).route.name).toBe('notfound');
    expect(parseRoute('/remote', true).route.name).toBe('notfound');
  });
  test('query and hash are ignored, case and slashes normalised', () => {
    expect(parseRoute('/Fleet?x=1#y', false).route).toEqual({ name: 'fleet' });
    expect(normalizePath('//settings//users/')).toBe('/settings/users');
    expect(normalizePath('')).toBe('/');
  });
  test('routePath is the inverse', () => {
    expect(routePath({ name: 'settings', tab: 'audit' })).toBe('/settings/audit');
    expect(routePath({ name: 'pulse' })).toBe('/pulse');
  });
});

describe('safeNext', () => {
  test('accepts same-origin paths', () => {
    expect(safeNext('/settings/users')).toBe('/settings/users');
  });
  test('rejects other origins and loops', () => {
    expect(safeNext('https://evil.example/')).toBe('/fleet');
    expect(safeNext('//evil.example/x')).toBe('/fleet');
    expect(safeNext('/\\evil.example')).toBe('/fleet');
    expect(safeNext('/login')).toBe('/fleet');
    expect(safeNext(null)).toBe('/fleet');
    expect(safeNext('')).toBe('/fleet');
  });
});
