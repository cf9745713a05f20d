// Shell.tsx - the signed-in frame: skip link, sidebar (a top bar with a menu
// under 640 px), the global target/health strip and the page.
import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { NAV } from '../lib/nav';
import { path } from '../state/router';
import { signOut, user } from '../state/session';
import { icons } from './icons';
import { Link } from './Link';
import { Logo } from './Logo';
import { Spinner } from './Spinner';
import { TargetStrip } from './TargetStrip';

function isActive(itemPath: string, current: string): boolean {
  return current === itemPath || current.startsWith(itemPath + '/');
}

export function Shell({ children }: { children: ComponentChildren }) {
  const [menuOpen, setMenuOpen] = useState(false);
  const [signingOut, setSigningOut] = useState(false);
  const u = user.value;
  const current = path.value;

  useEffect(() => {
    if (!menuOpen) return;
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape') {
        setMenuOpen(false);
        document.getElementById('menu-button')?.focus();
      }
    };
    addEventListener('keydown', onKey);
    return () => removeEventListener('keydown', onKey);
  }, [menuOpen]);

  const out = async () => {
    setSigningOut(true);
    await signOut();
  };

  return (
    <div class="min-h-screen sm:flex">
      <a href="#main" class="sr-only z-50 rounded-md bg-indigo-600 px-3 py-2 text-white focus:not-sr-only focus:fixed focus:left-2 focus:top-2">
        Skip to main content
      </a>
      <header class="border-b border-slate-800 bg-slate-900 sm:w-60 sm:shrink-0 sm:border-b-0 sm:border-r">
        <div class="sm:sticky sm:top-0 sm:flex sm:h-screen sm:flex-col">
        <div class="flex items-center justify-between px-4 py-3 sm:py-5">
          <Link href="/fleet" class="flex items-center gap-2 rounded text-indigo-400" onNavigate={() => setMenuOpen(false)}>
            <Logo class="h-7 w-7" />
            <span>
              <span class="block text-sm font-bold uppercase tracking-widest text-indigo-300">DaemonPulse</span>
              <span class="block text-xs text-slate-400">LM Studio control plane</span>
            </span>
          </Link>
          <button id="menu-button" type="button" class="rounded-md p-2 text-slate-200 hover:bg-slate-800 sm:hidden"
            aria-expanded={menuOpen} aria-controls="site-menu" onClick={() => setMenuOpen(!menuOpen)}>
            {menuOpen ? icons.close({}) : icons.menu({})}
            <span class="sr-only">{menuOpen ? 'Close menu' : 'Open menu'}</span>
          </button>
        </div>
        <div id="site-menu" class={`${menuOpen ? 'flex' : 'hidden'} flex-col sm:flex sm:flex-1 sm:min-h-0`}>
          <nav aria-label="Main" class="flex-1 overflow-y-auto px-2 pb-2">
            <ul class="space-y-1">
              {NAV.map((item) => {
                const active = isActive(item.path, current);
                const Icon = icons[item.key];
                return (
                  <li key={item.key}>
                    <Link href={item.path} aria-current={active ? 'page' : undefined}
                      onNavigate={() => setMenuOpen(false)}
                      class={`flex items-center gap-3 rounded-md border px-3 py-2 text-sm font-medium ${active
                        ? 'border-indigo-400 bg-indigo-950 text-indigo-200'
                        : 'border-transparent text-slate-300 hover:bg-slate-800 hover:text-white'}`}>
                      <Icon class="h-5 w-5 shrink-0" />
                      {item.label}
                    </Link>
                  </li>
                );
              })}
            </ul>
          </nav>
          {u ? (
            <div class="border-t border-slate-800 p-3" aria-label="User menu" role="group">
              <p class="truncate px-1 text-sm text-slate-200" data-testid="user-badge">
                <span class="font-medium text-white">{u.username}</span>
                <span class="text-slate-400"> · {u.role}</span>
              </p>
              <div class="mt-2 flex gap-2">
                <Link href="/settings/account" class="flex-1 rounded-md border border-slate-500 px-2 py-1.5 text-center text-sm text-slate-100 hover:bg-slate-800"
                  onNavigate={() => setMenuOpen(false)}>Account</Link>
                <button type="button" onClick={out} disabled={signingOut}
                  class="flex flex-1 items-center justify-center gap-2 rounded-md border border-slate-500 px-2 py-1.5 text-sm text-slate-100 hover:bg-slate-800">
                  {signingOut ? <Spinner /> : null}Sign out
                </button>
              </div>
            </div>
          ) : null}
        </div>
        </div>
      </header>
      <div class="flex min-w-0 flex-1 flex-col">
        <TargetStrip />
        <main id="main" tabIndex={-1} class="flex-1 px-4 py-6 outline-none sm:px-8">
          {children}
        </main>
      </div>
    </div>
  );
}
