// Tokens.tsx - Settings → API tokens: personal tokens for scripts. The
// secret is shown exactly once after creation (with a copy button); the list
// shows only the prefix, created, last used and expiry; revoke asks first.
import { useRef, useState } from 'preact/hooks';
import { tokensApi, type ApiToken, type CreatedToken } from '../../api';
import { Alert, ErrorSlot } from '../../components/Alert';
import { ConfirmDialog, Dialog } from '../../components/Dialog';
import { ProgressBar, Spinner } from '../../components/Spinner';
import { btn, hint, input, label, panel } from '../../components/ui';
import { formatDateTime, relativeTime } from '../../lib/format';
import { errorText, useLoad } from '../../lib/useLoad';

const EXPIRY: { value: string; label: string }[] = [
  { value: '30', label: '30 days' },
  { value: '90', label: '90 days' },
  { value: '365', label: '1 year' },
  { value: '', label: 'Never' },
];

export function TokensTab() {
  const tokens = useLoad((s) => tokensApi.listTokens(s), []);
  const [name, setName] = useState('');
  const [expiry, setExpiry] = useState('90');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const [flash, setFlash] = useState('');
  const [created, setCreated] = useState<CreatedToken | null>(null);
  const [revoking, setRevoking] = useState<ApiToken | null>(null);

  const create = async (e: Event) => {
    e.preventDefault();
    if (busy) return;
    const n = name.trim();
    if (!n) { setError('Give the token a name, e.g. the script that will use it.'); return; }
    setBusy(true); setError(''); setFlash('');
    try {
      const r = await tokensApi.createToken(n, expiry ? Number(expiry) : null);
      setCreated(r);
      setName('');
      tokens.reload();
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section aria-labelledby="tokens-heading" class="space-y-6">
      <div>
        <h2 id="tokens-heading" class="text-lg font-semibold text-white">API tokens</h2>
        <p class="text-sm text-slate-400">
          Personal tokens let scripts call the API as you, with your current role:{' '}
          <code class="break-all font-mono text-xs text-indigo-200">Authorization: Bearer dp_…</code>
        </p>
      </div>
      <form onSubmit={create} noValidate class={`${panel} p-4`} aria-labelledby="create-token-heading">
        <h3 id="create-token-heading" class="mb-3 text-sm font-semibold text-white">Create a token</h3>
        <ErrorSlot error={error} class="mb-3" />
        <div class="flex flex-col gap-3 sm:flex-row sm:items-end">
          <div class="flex-1">
            <label for="token-name" class={label}>Name</label>
            <input id="token-name" class={`${input} mt-1`} value={name} maxLength={64} autocomplete="off"
              placeholder="e.g. nightly backup script"
              onInput={(e) => setName((e.currentTarget as HTMLInputElement).value)} />
          </div>
          <div class="sm:w-40">
            <label for="token-expiry" class={label}>Expires</label>
            <select id="token-expiry" class={`${input} mt-1`} value={expiry}
              onChange={(e) => setExpiry((e.currentTarget as HTMLSelectElement).value)}>
              {EXPIRY.map((x) => <option key={x.value} value={x.value}>{x.label}</option>)}
            </select>
          </div>
          <button type="submit" class={btn.primary} aria-disabled={busy ? 'true' : undefined}>{busy ? <Spinner /> : null}Create token</button>
        </div>
      </form>
      <div aria-live="polite">{flash ? <Alert kind="success">{flash}</Alert> : null}</div>
      <div>
        <h3 class="mb-2 text-sm font-semibold text-white">Your tokens</h3>
        {tokens.loading && !tokens.data ? <ProgressBar label="Loading tokens" /> : null}
        {tokens.error ? (
          <Alert kind="error" title="Could not load tokens">
            {tokens.error}{' '}<button type="button" class="underline" onClick={tokens.reload}>Retry</button>
          </Alert>
        ) : null}
        {tokens.data && tokens.data.length === 0 ? (
          <p class="text-sm text-slate-400">You have no API tokens.</p>
        ) : null}
        {tokens.data && tokens.data.length > 0 ? (
          <ul class={`${panel} divide-y divide-slate-800`} aria-label="API tokens" data-testid="token-list">
            {tokens.data.map((t) => (
              <li key={t.id} class="flex flex-col gap-3 p-4 sm:flex-row sm:items-center" data-token-name={t.name}>
                <div class="min-w-0 flex-1">
                  <p class="flex flex-wrap items-center gap-2">
                    <span class="break-all font-medium text-white">{t.name}</span>
                    <code class="font-mono text-xs text-slate-300">{t.prefix}…</code>
                  </p>
                  <p class="mt-1 text-xs text-slate-400">
                    Created {formatDateTime(t.created_at)} · last used{' '}
                    <span title={formatDateTime(t.last_used_at)}>{relativeTime(t.last_used_at)}</span>
                    {' '}· {t.expires_at ? `expires ${formatDateTime(t.expires_at)}` : 'never expires'}
                  </p>
                </div>
                <button type="button" class={btn.smallDanger} aria-label={`Revoke token ${t.name}`}
                  onClick={() => { setFlash(''); setRevoking(t); }}>Revoke</button>
              </li>
            ))}
          </ul>
        ) : null}
      </div>
      {created ? <SecretDialog created={created} onClose={() => setCreated(null)} /> : null}
      {revoking ? (
        <RevokeDialog token={revoking} onClose={() => setRevoking(null)}
          onDone={() => { setFlash(`Token ${revoking.name} revoked.`); setRevoking(null); tokens.reload(); }} />
      ) : null}
    </section>
  );
}

function SecretDialog({ created, onClose }: { created: CreatedToken; onClose: () => void }) {
  const [copied, setCopied] = useState<'' | 'ok' | 'failed'>('');
  const ref = useRef<HTMLInputElement>(null);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(created.secret);
      setCopied('ok');
    } catch {
      // no clipboard permission (e.g. plain http on another host): select it for Ctrl+C
      ref.current?.select();
      setCopied('failed');
    }
  };
  return (
    <Dialog title={`Token “${created.token.name}” created`} onClose={onClose} describedBy="secret-warning" wide>
      <div class="space-y-4">
        <Alert kind="warning" id="secret-warning" title="Copy it now: it is shown only this once">
          DaemonPulse stores only a hash of the secret and cannot show it again. If you lose it, revoke the token and create a new one.
        </Alert>
        <div>
          <label for="token-secret" class={label}>Secret</label>
          <div class="mt-1 flex flex-col gap-2 sm:flex-row">
            <input ref={ref} id="token-secret" readOnly value={created.secret} spellcheck={false}
              class={`${input} font-mono`} onFocus={(e) => (e.currentTarget as HTMLInputElement).select()} data-autofocus />
            <button type="button" class={btn.secondary} onClick={copy}>Copy</button>
          </div>
          <p class={hint} aria-live="polite">
            {copied === 'ok' ? 'Copied to the clipboard.' : copied === 'failed' ? 'Copying is not allowed here; the secret is selected: press Ctrl+C.' : ''}
          </p>
        </div>
        <div class="flex justify-end">
          <button type="button" class={btn.primary} onClick={onClose}>I have stored it</button>
        </div>
      </div>
    </Dialog>
  );
}

function RevokeDialog({ token, onClose, onDone }: { token: ApiToken; onClose: () => void; onDone: () => void }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const confirm = async () => {
    setBusy(true); setError('');
    try {
      await tokensApi.revokeToken(token.id);
      onDone();
    } catch (err) {
      setError(errorText(err)); setBusy(false);
    }
  };
  return (
    <ConfirmDialog title={`Revoke token ${token.name}?`} confirmLabel="Revoke token" busy={busy} error={error}
      onConfirm={confirm} onClose={onClose}
      message={<p>Scripts using this token ({token.prefix}…) stop working immediately.</p>} />
  );
}
