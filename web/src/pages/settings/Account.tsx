// Account.tsx - Settings → Account: who you are, and change your own
// password (the old one is required; other sessions are signed out).
import { useState } from 'preact/hooks';
import { authApi, PASSWORD_MIN } from '../../api';
import { Alert, ErrorSlot } from '../../components/Alert';
import { PasswordInput } from '../../components/PasswordInput';
import { Spinner } from '../../components/Spinner';
import { btn, hint, label, microLabel, panel } from '../../components/ui';
import { formatDateTime } from '../../lib/format';
import { errorText } from '../../lib/useLoad';
import { expiresAt, user } from '../../state/session';

export function AccountTab() {
  const u = user.value;
  const [oldPw, setOldPw] = useState('');
  const [newPw, setNewPw] = useState('');
  const [confirmPw, setConfirmPw] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const [flash, setFlash] = useState('');

  const submit = async (e: Event) => {
    e.preventDefault();
    if (busy) return;
    setFlash('');
    if (!oldPw) { setError('Enter your current password.'); return; }
    if (newPw.length < PASSWORD_MIN) { setError(`The new password needs at least ${PASSWORD_MIN} characters.`); return; }
    if (newPw !== confirmPw) { setError('The two new passwords differ.'); return; }
    setBusy(true); setError('');
    try {
      await authApi.changePassword(oldPw, newPw);
      setOldPw(''); setNewPw(''); setConfirmPw('');
      setFlash('Password changed. Your other sessions were signed out.');
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section aria-labelledby="account-heading" class="grid items-start gap-6 lg:grid-cols-2">
      <div class={`${panel} p-5`}>
        <h2 id="account-heading" class="text-lg font-semibold text-white">Your account</h2>
        <dl class="mt-4 space-y-3 text-sm">
          <div><dt class={microLabel}>Username</dt><dd class="mt-0.5 text-slate-100">{u?.username}</dd></div>
          <div><dt class={microLabel}>Role</dt><dd class="mt-0.5 text-slate-100">{u?.role}</dd></div>
          <div>
            <dt class={microLabel}>This session ends</dt>
            <dd class="mt-0.5 text-slate-100">
              {expiresAt.value ? formatDateTime(expiresAt.value) : '—'}
              <span class="text-slate-400"> (8 hours after sign-in, or after an hour without activity)</span>
            </dd>
          </div>
        </dl>
      </div>
      <form onSubmit={submit} noValidate class={`${panel} space-y-4 p-5`} aria-labelledby="password-heading">
        <h2 id="password-heading" class="text-lg font-semibold text-white">Change password</h2>
        <ErrorSlot error={error} />
        <div aria-live="polite">{flash ? <Alert kind="success">{flash}</Alert> : null}</div>
        <div>
          <label for="old-password" class={label}>Current password</label>
          <div class="mt-1">
            <PasswordInput id="old-password" value={oldPw} onInput={setOldPw} autocomplete="current-password" required />
          </div>
        </div>
        <div>
          <label for="new-password-own" class={label}>New password</label>
          <div class="mt-1">
            <PasswordInput id="new-password-own" value={newPw} onInput={setNewPw} autocomplete="new-password" required
              minLength={PASSWORD_MIN} describedBy="new-password-own-help" />
          </div>
          <p id="new-password-own-help" class={hint}>At least {PASSWORD_MIN} characters.</p>
        </div>
        <div>
          <label for="confirm-password-own" class={label}>New password again</label>
          <div class="mt-1">
            <PasswordInput id="confirm-password-own" value={confirmPw} onInput={setConfirmPw} autocomplete="new-password"
              required />
          </div>
        </div>
        <button type="submit" class={btn.primary} aria-disabled={busy ? 'true' : undefined}>{busy ? <Spinner /> : null}Change password</button>
      </form>
    </section>
  );
}
