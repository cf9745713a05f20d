// router.ts - history-API navigation as a signal.
//
// `path` follows location.pathname; navigate() pushes (or replaces) a new
// entry; Link (components/Link.tsx) intercepts plain left clicks. Route
// parsing itself is pure and lives in lib/routes.ts.
import { signal } from '@preact/signals';

export const path = signal<string>(typeof location !== 'undefined' ? location.pathname : '/');
/** Query string of the current entry (without "?"). */
export const search = signal<string>(typeof location !== 'undefined' ? location.search.slice(1) : '');
/** True after the first in-app navigation (focus moves to the page heading). */
export const navigated = signal(false);

export function navigate(to: string, opts: { replace?: boolean } = {}): void {
  const url = new URL(to, location.origin);
  if (url.origin !== location.origin) return;
  const target = url.pathname + url.search;
  if (target !== location.pathname + location.search) {
    if (opts.replace) history.replaceState(null, '', target);
    else history.pushState(null, '', target);
  }
  if (!opts.replace) navigated.value = true;
  path.value = url.pathname;
  search.value = url.search.slice(1);
}

export function startRouter(): () => void {
  const onPop = () => {
    navigated.value = true;
    path.value = location.pathname;
    search.value = location.search.slice(1);
  };
  addEventListener('popstate', onPop);
  return () => removeEventListener('popstate', onPop);
}
