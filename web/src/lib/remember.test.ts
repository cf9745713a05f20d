import { describe, expect, test } from 'vitest';
import { REMEMBER_KEY, rememberedUsername, setRememberedUsername } from './remember';

function memStore() {
  const m = new Map<string, string>();
  return {
    m,
    getItem: (k: string) => m.get(k) ?? null,
    setItem: (k: string, v: string) => { m.set(k, v); },
    removeItem: (k: string) => { m.delete(k); },
  };
}

describe('remember username', () => {
  test('stores only the username under one key', () => {
    const s = memStore();
    setRememberedUsername('alice', s);
    expect([...s.m.entries()]).toEqual([[REMEMBER_KEY, 'alice']]);
    expect(rememberedUsername(s)).toBe('alice');
  });
  test('forgetting removes it', () => {
    const s = memStore();
    setRememberedUsername('alice', s);
    setRememberedUsername(null, s);
    expect(s.m.size).toBe(0);
    expect(rememberedUsername(s)).toBe('');
  });
  test('a tampered value is ignored (it goes into an input, but never trust it)', () => {
    const s = memStore();
    s.setItem(REMEMBER_KEY, '"><img src=x onerror=alert(1)>');
    expect(rememberedUsername(s)).toBe('');
  });
  test('storage errors are swallowed', () => {
    const broken = {
      getItem: () => { throw new Error('denied'); },
      setItem: () => { throw new Error('denied'); },
      removeItem: () => { throw new Error('denied'); },
    };
    expect(rememberedUsername(broken)).toBe('');
    expect(() => setRememberedUsername('bob', broken)).not.toThrow();
    expect(rememberedUsername(null)).toBe('');
  });
});
