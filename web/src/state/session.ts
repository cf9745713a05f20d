// session.ts - who is signed in. The session itself is an HttpOnly cookie;
// the app only knows the user the server reports for it.
import { computed, signal } from '@preact/signals';
import { ApiError, authApi, http } from '../api';
import type { SessionUser } from '../api';
import { navigate, path } from './router';

export const user = signal<SessionUser | null>(null);
/** False until the first /api/auth/me answered. */
export const ready = signal(false);
/** Session end as reported by the server (ISO string) or null. */
export const expiresAt = signal<string | null>(null);
/** Set when the session ended under the user (shown on the login page). */
export const sessionNotice = signal<string>('');
export const isAdmin = computed(() => user.value?.role === 'admin');

function toLogin(): void {
  const here = path.value;
  if (here === '/login') return; // already there; keep its ?next=
  const next = here && here !== '/login' && here !== '/' ? `?next=${encodeURIComponent(here)}` : '';
  navigate(`/login${next}`, { replace: true });
}

export async function boot(): Promise<void> {
  http.onUnauthorized(() => {
    if (user.value) sessionNotice.value = 'Your session ended. Please sign in again.';
    user.value = null;
    toLogin();
  });
  try {
    const r = await authApi.me();
    user.value = r.user;
    expiresAt.value = r.expires_at;
  } catch (e) {
    user.value = null;
    if (!(e instanceof ApiError && e.status === 401)) {
      sessionNotice.value = e instanceof Error ? e.message : 'cannot reach the server';
    }
  } finally {
    ready.value = true;
  }
}

export function signedIn(u: SessionUser, expires: string | null): void {
  user.value = u;
  expiresAt.value = expires;
  sessionNotice.value = '';
}

export async function signOut(): Promise<void> {
  try { await authApi.logout(); } catch { /* the cookie is gone or the server is: either way we are out */ }
  user.value = null;
  expiresAt.value = null;
  navigate('/login', { replace: true });
}
