// remember.ts - "remember my username on this device".
//
// Only the username is ever written to localStorage: never a password,
// session or token (the session lives in an HttpOnly cookie the app cannot
// read). Storage failures (private mode, quota) are ignored.

export const REMEMBER_KEY = 'dp.remembered-username';

type Store = Pick<Storage, 'getItem' | 'setItem' | 'removeItem'>;

function defaultStore(): Store | null {
  try { return globalThis.localStorage ?? null; } catch { return null; }
}

export function rememberedUsername(store: Store | null = defaultStore()): string {
  try {
    const v = store?.getItem(REMEMBER_KEY) ?? '';
    return /^[A-Za-z0-9._-]{1,64}$/.test(v) ? v : '';
  } catch { return ''; }
}

export function setRememberedUsername(username: string | null, store: Store | null = defaultStore()): void {
  try {
    if (username) store?.setItem(REMEMBER_KEY, username);
    else store?.removeItem(REMEMBER_KEY);
  } catch { /* ignore */ }
}
