// routes.ts - client-side route table and parsing (pure, unit-tested).
//
// History-API paths: /login, the five modules, /settings/<tab>. "/" goes to
// /fleet and "/settings" to the first tab the user may open.

export type ModuleName = 'fleet' | 'forge' | 'pulse' | 'toolchain' | 'console';
export type SettingsTab = 'users' | 'targets' | 'mode' | 'tokens' | 'audit' | 'account';

export type Route =
  | { name: 'login' }
  | { name: ModuleName }
  | { name: 'settings'; tab: SettingsTab }
  | { name: 'notfound'; path: string };

export const MODULES: readonly ModuleName[] = ['fleet', 'forge', 'pulse', 'toolchain', 'console'];
export const SETTINGS_TABS: readonly SettingsTab[] = ['users', 'targets', 'mode', 'tokens', 'audit', 'account'];
export const ADMIN_TABS: readonly SettingsTab[] = ['users', 'audit'];

export interface Parsed { route: Route; redirect?: string }

export function normalizePath(p: string): string {
  let path = p.split(/[?#]/)[0] || '/';
  if (!path.startsWith('/')) path = '/' + path;
  path = path.replace(/\/{2,}/g, '/');
  if (path.length > 1 && path.endsWith('/')) path = path.slice(0, -1);
  return path.toLowerCase();
}

/** Parse a pathname; `redirect` is set when the canonical path differs. */
export function parseRoute(pathname: string, isAdmin: boolean): Parsed {
  const path = normalizePath(pathname);
  if (path === '/') return { route: { name: 'fleet' }, redirect: '/fleet' };
  if (path === '/login') return { route: { name: 'login' } };
  const seg = path.slice(1).split('/');
  if (seg.length === 1 && (MODULES as readonly string[]).includes(seg[0])) {
    return { route: { name: seg[0] as ModuleName } };
  }
  if (seg[0] === 'settings') {
    const first: SettingsTab = isAdmin ? 'users' : 'tokens';
    if (seg.length === 1) return { route: { name: 'settings', tab: first }, redirect: `/settings/${first}` };
    if (seg.length === 2 && (SETTINGS_TABS as readonly string[]).includes(seg[1])) {
      return { route: { name: 'settings', tab: seg[1] as SettingsTab } };
    }
  }
  return { route: { name: 'notfound', path } };
}

export function routePath(r: Route): string {
  switch (r.name) {
    case 'settings': return `/settings/${r.tab}`;
    case 'notfound': return r.path;
    default: return `/${r.name}`;
  }
}

/** Only same-origin absolute paths are accepted as a post-login target. */
export function safeNext(next: string | null | undefined): string {
  if (!next || !next.startsWith('/') || next.startsWith('//') || next.startsWith('/\\')) return '/fleet';
  const p = normalizePath(next);
  return p === '/login' ? '/fleet' : p;
}
