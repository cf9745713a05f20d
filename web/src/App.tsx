// App.tsx - picks the page for the current path and guards sign-in.
import { useEffect } from 'preact/hooks';
import { Shell } from './components/Shell';
import { Spinner } from './components/Spinner';
import { parseRoute } from './lib/routes';
import { LoginPage } from './pages/Login';
import { ModulePage } from './pages/Module';
import { ConsolePage } from './pages/console/Console';
import { ForgePage } from './pages/forge/Forge';
import { FleetPage } from './pages/fleet/Fleet';
import { PulsePage } from './pages/pulse/Pulse';
import { NotFoundPage } from './pages/NotFound';
import { SettingsPage } from './pages/settings/Settings';
import { ToolchainPage } from './pages/toolchain/Toolchain';
import { navigate, path, search } from './state/router';
import { isAdmin, ready, user } from './state/session';

export function App() {
  const signedIn = user.value !== null;
  const parsed = parseRoute(path.value, isAdmin.value);
  const r = parsed.route;

  // where we must go instead of rendering this path, if anywhere
  let go: string | null = null;
  if (ready.value) {
    if (r.name === 'login') {
      if (signedIn) go = '/fleet';
    } else if (!signedIn) {
      go = `/login?next=${encodeURIComponent(path.value + (search.value ? '?' + search.value : ''))}`;
    } else if (parsed.redirect) {
      go = parsed.redirect;
    }
  }
  useEffect(() => { if (go) navigate(go, { replace: true }); }, [go]);

  if (!ready.value || go) {
    return (
      <div class="flex min-h-screen items-center justify-center text-slate-300">
        <Spinner label="Loading DaemonPulse…" class="h-6 w-6 text-indigo-400" />
      </div>
    );
  }
  if (r.name === 'login') return <LoginPage />;
  return (
    <Shell>
      {r.name === 'settings' ? <SettingsPage tab={r.tab} />
        : r.name === 'notfound' ? <NotFoundPage path={r.path} />
        : r.name === 'fleet' ? <FleetPage />
          : r.name === 'forge' ? <ForgePage />
          : r.name === 'console' ? <ConsolePage />
          : r.name === 'toolchain' ? <ToolchainPage />
          : r.name === 'pulse' ? <PulsePage />
          : <ModulePage name={r.name} />}
    </Shell>
  );
}
