// Users.tsx - Settings → Users (admin): list, add, change role, reset
// password, remove. Server rules (last admin, own account, weak password,
// taken name) come back as errors and are shown as the server wrote them.
import { useState } from 'preact/hooks';
import { PASSWORD_MIN, ROLES, USERNAME_RE, usersApi, type Role, type User } from '../../api';
import { Alert, ErrorSlot } from '../../components/Alert';
import { ConfirmDialog, Dialog } from '../../components/Dialog';
import { PasswordInput } from '../../components/PasswordInput';
import { ProgressBar, Spinner } from '../../components/Spinner';
import { btn, hint, input, label, panel } from '../../components/ui';
import { formatDateTime, relativeTime } from '../../lib/format';
import { errorText, useLoad } from '../../lib/useLoad';
import { user as me } from '../../state/session';

const ROLE_HELP: Record<Role, string> = {
  viewer: 'reads everything, changes nothing',
  operator: 'also loads and unloads models, chats, downloads',
  admin: 'also manages targets, users and settings',
};

type Action =
  | { kind: 'add' }
  | { kind: 'role'; user: User }
  | { kind: 'password'; user: User }
  | { kind: 'remove'; user: User };

function RoleBadge({ role }: { role: string }) {
  const cls = role === 'admin' ? 'border-indigo-400 text-indigo-200'
    : role === 'operator' ? 'border-emerald-300 text-emerald-300' : 'border-slate-400 text-slate-300';
  return <span class={`inline-block rounded-full border px-2 py-0.5 text-xs font-medium ${cls}`}>{role}</span>;
}

export function UsersTab() {
  const users = useLoad((s) => usersApi.listUsers(s), []);
  const [action, setAction] = useState<Action | null>(null);
  const [flash, setFlash] = useState('');

  const done = (msg: string) => {
    setAction(null);
    setFlash(msg);
    users.reload();
  };
  const myId = me.value?.id;

  return (
    <section aria-labelledby="users-heading">
      <div class="mb-4 flex flex-wrap items-center justify-between gap-3">
        <div>
          <h2 id="users-heading" class="text-lg font-semibold text-white">Users</h2>
          <p class="text-sm text-slate-400">Who can sign in, and with which role.</p>
        </div>
        <button type="button" class={btn.primary} onClick={() => { setFlash(''); setAction({ kind: 'add' }); }}>
          Add user
        </button>
      </div>
      <div aria-live="polite" class="mb-3">{flash ? <Alert kind="success">{flash}</Alert> : null}</div>
      {users.loading && !users.data ? <ProgressBar label="Loading users" /> : null}
      {users.error ? (
        <Alert kind="error" title="Could not load users">
          {users.error}{' '}
          <button type="button" class="underline" onClick={users.reload}>Retry</button>
        </Alert>
      ) : null}
      {users.data ? (
        <ul class={`${panel} divide-y divide-slate-800`} aria-label="Users" data-testid="user-list">
          {users.data.map((u) => (
            <li key={u.id} class="flex flex-col gap-3 p-4 md:flex-row md:items-center" data-username={u.username}>
              <div class="min-w-0 flex-1">
                <p class="flex flex-wrap items-center gap-2">
                  <span class="truncate font-medium text-white">{u.username}</span>
                  <RoleBadge role={u.role} />
                  {u.id === myId ? <span class="text-xs text-slate-400">(you)</span> : null}
                </p>
                <p class="mt-1 text-xs text-slate-400">
                  Created {formatDateTime(u.created_at)} · last sign-in{' '}
                  <span title={formatDateTime(u.last_login_at)}>{relativeTime(u.last_login_at)}</span>
                </p>
              </div>
              <div class="flex flex-wrap gap-2">
                <button type="button" class={btn.small} aria-label={`Change role of ${u.username}`}
                  onClick={() => { setFlash(''); setAction({ kind: 'role', user: u }); }}>Change role</button>
                <button type="button" class={btn.small} aria-label={`Reset password of ${u.username}`}
                  onClick={() => { setFlash(''); setAction({ kind: 'password', user: u }); }}>Reset password</button>
                <button type="button" class={btn.smallDanger} aria-label={`Remove ${u.username}`}
                  onClick={() => { setFlash(''); setAction({ kind: 'remove', user: u }); }}>Remove</button>
              </div>
            </li>
          ))}
        </ul>
      ) : null}
      {action?.kind === 'add' ? <AddUserDialog onClose={() => setAction(null)} onDone={done} /> : null}
      {action?.kind === 'role' ? <RoleDialog user={action.user} onClose={() => setAction(null)} onDone={done} /> : null}
      {action?.kind === 'password'
        ? <ResetPasswordDialog user={action.user} onClose={() => setAction(null)} onDone={done} /> : null}
      {action?.kind === 'remove' ? <RemoveDialog user={action.user} onClose={() => setAction(null)} onDone={done} /> : null}
    </section>
  );
}

function RoleSelect({ id, value, onChange }: { id: string; value: Role; onChange: (r: Role) => void }) {
  return (
    <>
      <select id={id} class={`${input} mt-1`} value={value} aria-describedby={`${id}-help`}
        onChange={(e) => onChange((e.currentTarget as HTMLSelectElement).value as Role)}>
        {ROLES.map((r) => <option key={r} value={r}>{r}</option>)}
      </select>
      <p id={`${id}-help`} class={hint}>{value}: {ROLE_HELP[value]}</p>
    </>
  );
}

function DialogButtons({ busy, submitLabel, onClose }: { busy: boolean; submitLabel: string; onClose: () => void }) {
  return (
    <div class="mt-5 flex flex-wrap justify-end gap-2">
      <button type="button" class={btn.secondary} onClick={onClose}>Cancel</button>
      <button type="submit" class={btn.primary} aria-disabled={busy ? 'true' : undefined}>{busy ? <Spinner /> : null}{submitLabel}</button>
    </div>
  );
}

function AddUserDialog({ onClose, onDone }: { onClose: () => void; onDone: (msg: string) => void }) {
  const [username, setUsername] = useState('');
  const [role, setRole] = useState<Role>('viewer');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const submit = async (e: Event) => {
    e.preventDefault();
    if (busy) return;
    const name = username.trim();
    if (!USERNAME_RE.test(name)) { setError('Usernames are 1–64 characters: letters, digits, dot, underscore, hyphen.'); return; }
    if (password.length < PASSWORD_MIN) { setError(`The password needs at least ${PASSWORD_MIN} characters.`); return; }
    setBusy(true); setError('');
    try {
      const u = await usersApi.createUser(name, password, role);
      onDone(`User ${u.username} added as ${u.role}.`);
    } catch (err) {
      setError(errorText(err)); setBusy(false);
    }
  };
  return (
    <Dialog title="Add user" onClose={onClose}>
      <form onSubmit={submit} noValidate class="space-y-4">
        <ErrorSlot error={error} />
        <div>
          <label for="new-username" class={label}>Username</label>
          <input id="new-username" class={`${input} mt-1`} value={username} maxLength={64} autocomplete="off"
            autocapitalize="off" spellcheck={false} required aria-describedby="new-username-help"
            onInput={(e) => setUsername((e.currentTarget as HTMLInputElement).value)} />
          <p id="new-username-help" class={hint}>Letters, digits, dot, underscore and hyphen; up to 64.</p>
        </div>
        <div>
          <label for="new-role" class={label}>Role</label>
          <RoleSelect id="new-role" value={role} onChange={setRole} />
        </div>
        <div>
          <label for="new-password" class={label}>Initial password</label>
          <div class="mt-1">
            <PasswordInput id="new-password" value={password} onInput={setPassword} autocomplete="new-password"
              required minLength={PASSWORD_MIN} describedBy="new-password-help" />
          </div>
          <p id="new-password-help" class={hint}>At least {PASSWORD_MIN} characters. Give it to the user privately.</p>
        </div>
        <DialogButtons busy={busy} submitLabel="Add user" onClose={onClose} />
      </form>
    </Dialog>
  );
}

function RoleDialog({ user, onClose, onDone }: { user: User; onClose: () => void; onDone: (msg: string) => void }) {
  const [role, setRole] = useState<Role>(user.role);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const submit = async (e: Event) => {
    e.preventDefault();
    if (busy) return;
    if (role === user.role) { onClose(); return; }
    setBusy(true); setError('');
    try {
      const u = await usersApi.updateUser(user.id, { role });
      onDone(`${u.username} is now ${u.role}.`);
    } catch (err) {
      setError(errorText(err)); setBusy(false);
    }
  };
  return (
    <Dialog title={`Change role of ${user.username}`} onClose={onClose}>
      <form onSubmit={submit} class="space-y-4">
        <ErrorSlot error={error} />
        <div>
          <label for="edit-role" class={label}>Role</label>
          <RoleSelect id="edit-role" value={role} onChange={setRole} />
        </div>
        <DialogButtons busy={busy} submitLabel="Save role" onClose={onClose} />
      </form>
    </Dialog>
  );
}

function ResetPasswordDialog({ user, onClose, onDone }: {
  user: User; onClose: () => void; onDone: (msg: string) => void;
}) {
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const submit = async (e: Event) => {
    e.preventDefault();
    if (busy) return;
    if (password.length < PASSWORD_MIN) { setError(`The password needs at least ${PASSWORD_MIN} characters.`); return; }
    setBusy(true); setError('');
    try {
      await usersApi.updateUser(user.id, { password });
      onDone(`Password of ${user.username} reset; their sessions were signed out.`);
    } catch (err) {
      setError(errorText(err)); setBusy(false);
    }
  };
  return (
    <Dialog title={`Reset password of ${user.username}`} onClose={onClose}>
      <form onSubmit={submit} noValidate class="space-y-4">
        <ErrorSlot error={error} />
        <p class="text-sm text-slate-300">This signs {user.username} out everywhere.</p>
        <div>
          <label for="reset-password" class={label}>New password</label>
          <div class="mt-1">
            <PasswordInput id="reset-password" value={password} onInput={setPassword} autocomplete="new-password"
              required minLength={PASSWORD_MIN} describedBy="reset-password-help" />
          </div>
          <p id="reset-password-help" class={hint}>At least {PASSWORD_MIN} characters.</p>
        </div>
        <DialogButtons busy={busy} submitLabel="Reset password" onClose={onClose} />
      </form>
    </Dialog>
  );
}

function RemoveDialog({ user, onClose, onDone }: { user: User; onClose: () => void; onDone: (msg: string) => void }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const confirm = async () => {
    setBusy(true); setError('');
    try {
      await usersApi.deleteUser(user.id);
      onDone(`User ${user.username} removed.`);
    } catch (err) {
      setError(errorText(err)); setBusy(false);
    }
  };
  return (
    <ConfirmDialog title={`Remove ${user.username}?`} confirmLabel="Remove user" busy={busy} error={error}
      onConfirm={confirm} onClose={onClose}
      message={<p>{user.username} ({user.role}) will be removed together with their sessions and API tokens. This cannot be undone.</p>} />
  );
}
