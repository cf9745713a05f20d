// Login.tsx - the sign-in page.
//
// Username, password (show/hide), "remember my username" (the username only,
// in localStorage), the server's error message, the 8 h session notice and an
// honest "forgot password" help: there is no e-mail reset; an admin resets
// passwords in Settings → Users or with `daemonpulse user passwd <name>`.
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, authApi } from '../api';
import { Alert } from '../components/Alert';
import { Logo } from '../components/Logo';
import { PasswordInput } from '../components/PasswordInput';
import { Spinner } from '../components/Spinner';
import { btn, input, label } from '../components/ui';
import { rememberedUsername, setRememberedUsername } from '../lib/remember';
import { safeNext } from '../lib/routes';
import { navigate, search } from '../state/router';
import { sessionNotice, signedIn } from '../state/session';

export function LoginPage() {
  const remembered = rememberedUsername();
  const [username, setUsername] = useState(remembered);
  const [password, setPassword] = useState('');
  const [remember, setRemember] = useState(remembered !== '');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const [helpOpen, setHelpOpen] = useState(false);
  const userRef = useRef<HTMLInputElement>(null);
  const passRef = useRef<HTMLInputElement>(null);

  useEffect(() => {
    document.title = 'Sign in · DaemonPulse';
    (remembered ? passRef.current : userRef.current)?.focus();
  }, []);

  const submit = async (e: Event) => {
    e.preventDefault();
    if (busy) return;
    setError('');
    if (!username.trim() || !password) {
      setError('Enter your username and password.');
      return;
    }
    setBusy(true);
    try {
      const r = await authApi.login(username.trim(), password);
      setRememberedUsername(remember ? r.user.username : null);
      setPassword('');
      signedIn(r.user, r.expires_at);
      navigate(safeNext(new URLSearchParams(search.value).get('next')), { replace: true });
    } catch (err) {
      if (err instanceof ApiError) {
        let msg = err.message;
        if (err.status === 429 && err.retryAfter && !/\d/.test(msg)) msg += ` (try again in ${err.retryAfter} s)`;
        setError(msg);
      } else {
        setError('Sign-in failed: the server did not answer.');
      }
      setBusy(false);
      passRef.current?.select();
    }
  };

  return (
    <div class="flex min-h-screen items-start justify-center px-4 py-10 sm:items-center">
      <main id="main" class="w-full max-w-sm">
        <div class="mb-6 flex flex-col items-center text-center">
          <Logo class="h-10 w-10 text-indigo-400" />
          <h1 class="mt-3 text-2xl font-bold tracking-tight text-white">DaemonPulse</h1>
          <p class="text-sm text-slate-400">LM Studio control plane</p>
        </div>
        <form onSubmit={submit} class="space-y-4 rounded-xl border border-slate-700 bg-slate-900 p-5 shadow-xl"
          aria-labelledby="login-title" noValidate>
          <h2 id="login-title" class="text-lg font-semibold text-white">Sign in</h2>
          <div class="empty:hidden">
            {error ? <Alert kind="error" id="login-error">{error}</Alert>
              : sessionNotice.value ? <Alert kind="info">{sessionNotice.value}</Alert> : null}
          </div>
          <div>
            <label for="login-username" class={label}>Username</label>
            <input ref={userRef} id="login-username" name="username" class={`${input} mt-1`} value={username}
              onInput={(e) => setUsername((e.currentTarget as HTMLInputElement).value)}
              autocomplete="username" autocapitalize="off" spellcheck={false} required maxLength={64}
              aria-invalid={error ? 'true' : undefined} aria-describedby={error ? 'login-error' : undefined} />
          </div>
          <div>
            <label for="login-password" class={label}>Password</label>
            <div class="mt-1">
              <PasswordInput id="login-password" value={password} onInput={setPassword} inputRef={passRef}
                autocomplete="current-password" required invalid={!!error}
                describedBy={error ? 'login-error' : undefined} />
            </div>
          </div>
          <div class="flex items-center gap-2">
            <input id="login-remember" type="checkbox" checked={remember}
              onChange={(e) => setRemember((e.currentTarget as HTMLInputElement).checked)}
              class="h-4 w-4 rounded border-slate-500 bg-slate-950 accent-indigo-500" />
            <label for="login-remember" class="text-sm text-slate-300">Remember my username on this device</label>
          </div>
          <button type="submit" class={`${btn.primary} w-full`} aria-disabled={busy ? 'true' : undefined}>
            {busy ? <><Spinner /> Signing in…</> : 'Sign in'}
          </button>
          <p class="text-xs text-slate-400">
            A session lasts 8 hours (and ends after an hour without activity); then you sign in again.
          </p>
          <div>
            <button type="button" class="text-sm text-indigo-300 underline-offset-2 hover:underline"
              aria-expanded={helpOpen} aria-controls="forgot-help" onClick={() => setHelpOpen(!helpOpen)}>
              Forgot password?
            </button>
            {helpOpen ? (
              <div id="forgot-help" class="mt-2 space-y-2 rounded-md border border-slate-700 bg-slate-950 p-3 text-sm text-slate-300">
                <p>There is no e-mail reset. An administrator sets a new password for you, either in
                  Settings → Users, or on the server that runs DaemonPulse:</p>
                <pre class="overflow-x-auto rounded bg-slate-900 px-2 py-1 font-mono text-xs text-indigo-200"><code>{'daemonpulse user passwd <name>'}</code></pre>
                <p>If the only admin has lost their password, that command on the server is the way back in.</p>
              </div>
            ) : null}
          </div>
        </form>
        <p class="mt-6 text-center text-xs text-slate-400">Unofficial project · not affiliated with LM Studio</p>
      </main>
    </div>
  );
}
