// Targets.tsx - Settings → Daemon targets: every LM Studio daemon
// DaemonPulse watches, with its live state (from /api/events), and for
// admins add / edit / test connection / remove. The LM Studio API token is
// write-only: the server answers only whether one is set and a masked hint;
// the form sends a token only when one is typed ("Replace token") and
// forgets it after saving. Everyone may pick their active target. Each
// target has its host-agent section (AgentSection.tsx).
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError } from '../../api';
import * as targetsApi from '../../api/targets';
import type { Target, TargetDraft } from '../../api/targets';
import { Alert, ErrorSlot } from '../../components/Alert';
import { ConfirmDialog, Dialog } from '../../components/Dialog';
import { PasswordInput } from '../../components/PasswordInput';
import { ProgressBar, Spinner } from '../../components/Spinner';
import { btn, hint, input, label, panel } from '../../components/ui';
import { parseTags, testText } from '../../lib/fleetTargets';
import { relativeTime } from '../../lib/format';
import { errorText, useLoad } from '../../lib/useLoad';
import { isAdmin } from '../../state/session';
import { targets as liveTargets } from '../../state/targets';
import { StateBadge } from '../fleet/StateBadge';
import { AgentSection } from './AgentSection';

export function TargetsTab() {
  const admin = isAdmin.value;
  const list = useLoad((s) => targetsApi.listTargets(s), []);
  const [editing, setEditing] = useState<Target | 'new' | null>(null);
  const [removing, setRemoving] = useState<Target | null>(null);
  const [flash, setFlash] = useState('');
  const [tests, setTests] = useState<Record<number, { busy: boolean; text: string; ok: boolean }>>({});
  const [activating, setActivating] = useState<number | null>(null);
  const [actError, setActError] = useState('');

  // reload when a target is added, renamed or removed anywhere (the event stream's view changes)
  const live = liveTargets.value;
  const key = [...live.values()].map((t) => `${t.id}:${t.label}`).sort().join('|');
  const firstKey = useRef(key);
  useEffect(() => { if (key !== firstKey.current) { firstKey.current = key; list.reload(); } }, [key]);

  const test = async (t: Target) => {
    setTests((m) => ({ ...m, [t.id]: { busy: true, text: 'Testing…', ok: true } }));
    try {
      const r = await targetsApi.testTarget(t.id);
      setTests((m) => ({ ...m, [t.id]: { busy: false, text: testText(r), ok: r.ok } }));
    } catch (e) {
      setTests((m) => ({ ...m, [t.id]: { busy: false, text: errorText(e), ok: false } }));
    }
  };

  const activate = async (t: Target) => {
    setActivating(t.id); setActError(''); setFlash('');
    try {
      await targetsApi.setActiveTarget(t.id);
      setFlash(`${t.label} is now your active target.`);
      list.reload();
    } catch (e) {
      setActError(errorText(e));
    } finally {
      setActivating(null);
    }
  };

  const data = list.data;
  return (
    <section aria-labelledby="targets-heading" class="space-y-6">
      <div class="flex flex-wrap items-end justify-between gap-3">
        <div class="min-w-0">
          <h2 id="targets-heading" class="text-lg font-semibold text-white">Daemon targets</h2>
          <p class="text-sm text-slate-400">
            The LM Studio daemons DaemonPulse watches. The state is what the server’s health poll reports.
            {admin ? '' : ' Only administrators can add, change or remove targets.'}
          </p>
        </div>
        {admin ? (
          <button type="button" class={btn.primary} onClick={() => { setFlash(''); setEditing('new'); }}>Add target</button>
        ) : null}
      </div>
      <div aria-live="polite">{flash ? <Alert kind="success">{flash}</Alert> : null}</div>
      <ErrorSlot error={actError} />
      {list.loading && !data ? <ProgressBar label="Loading targets" /> : null}
      {list.error ? (
        <Alert kind="error" title="Could not load targets">
          {list.error}{' '}<button type="button" class="underline" onClick={list.reload}>Retry</button>
        </Alert>
      ) : null}
      {data && data.targets.length === 0 ? (
        <p class="text-sm text-slate-300">
          No targets yet. {admin ? 'Add one with its URL, e.g. http://127.0.0.1:1234.' : 'An administrator can add one.'}
        </p>
      ) : null}
      {data && data.targets.length > 0 ? (
        <ul class={`${panel} divide-y divide-slate-800`} aria-label="Daemon targets" data-testid="targets-list">
          {data.targets.map((t) => {
            const health = live.get(t.id)?.health ?? t.health;
            const active = data.active_target_id === t.id;
            const tr = tests[t.id];
            return (
              <li key={t.id} class="space-y-3 p-4" data-target={t.label}>
                <div class="flex flex-col gap-3 sm:flex-row sm:items-start">
                  <div class="min-w-0 flex-1 space-y-1">
                    <p class="flex flex-wrap items-center gap-2">
                      <span class="break-all font-medium text-white">{t.label}</span>
                      <StateBadge health={health} />
                      {active ? <span class="rounded-full border border-indigo-400 px-2 py-0.5 text-xs text-indigo-200">active</span> : null}
                    </p>
                    <p class="break-all font-mono text-xs text-slate-300">{t.url}</p>
                    <p class="text-xs text-slate-400">
                      {t.has_api_key ? <>API token set <span class="font-mono text-slate-300">{t.api_key_hint ?? ''}</span></> : 'no API token'}
                      {' · '}lms: {t.lms ? `${t.lms.host}:${t.lms.port}${t.lms.derived ? ' (from the URL)' : ''}` : 'not usable for this URL'}
                      {t.tags.length ? <> · tags: {t.tags.join(', ')}</> : null}
                    </p>
                    {health?.error && health.state !== 'running' ? (
                      <p class="text-xs text-red-200">{health.error.message}</p>
                    ) : null}
                    {health?.checked_at ? <p class="text-xs text-slate-400">checked {relativeTime(health.checked_at)}</p> : null}
                  </div>
                  <div class="flex flex-wrap gap-2">
                    {!active ? (
                      <button type="button" class={btn.small} aria-disabled={activating === t.id ? 'true' : undefined}
                        aria-label={`Make ${t.label} the active target`} onClick={() => activating === null && activate(t)}>
                        {activating === t.id ? <Spinner class="h-3 w-3" /> : null}Make active
                      </button>
                    ) : null}
                    {admin ? (
                      <>
                        <button type="button" class={btn.small} aria-label={`Test connection to ${t.label}`}
                          aria-disabled={tr?.busy ? 'true' : undefined} onClick={() => !tr?.busy && test(t)}>
                          {tr?.busy ? <Spinner class="h-3 w-3" /> : null}Test
                        </button>
                        <button type="button" class={btn.small} aria-label={`Edit ${t.label}`}
                          onClick={() => { setFlash(''); setEditing(t); }}>Edit</button>
                        <button type="button" class={btn.smallDanger} aria-label={`Remove ${t.label}`}
                          onClick={() => { setFlash(''); setRemoving(t); }}>Remove</button>
                      </>
                    ) : null}
                  </div>
                </div>
                <AgentSection target={t} admin={admin} onChanged={(m) => { setFlash(m); list.reload(); }} />
                <p class={`text-xs empty:hidden ${tr && !tr.busy ? (tr.ok ? 'text-emerald-300' : 'text-red-200') : 'text-slate-300'}`}
                  aria-live="polite" data-testid="test-result">{tr ? tr.text : ''}</p>
              </li>
            );
          })}
        </ul>
      ) : null}
      {editing ? (
        <TargetForm target={editing === 'new' ? null : editing} onClose={() => setEditing(null)}
          onSaved={(t, created) => {
            setEditing(null);
            setFlash(created ? `Target ${t.label} added. Its state appears as soon as the first poll ends.` : `Target ${t.label} saved.`);
            list.reload();
          }} />
      ) : null}
      {removing ? (
        <RemoveDialog target={removing} onClose={() => setRemoving(null)}
          onDone={() => { setFlash(`Target ${removing.label} removed.`); setRemoving(null); list.reload(); }} />
      ) : null}
    </section>
  );
}

type FieldErrors = Partial<Record<'label' | 'url' | 'api_key' | 'lms_host' | 'lms_port' | 'tags', string>>;

const FIELD_OF: Record<string, keyof FieldErrors> = {
  invalid_label: 'label', label_taken: 'label', invalid_url: 'url', invalid_api_key: 'api_key',
  invalid_lms_host: 'lms_host', invalid_lms_port: 'lms_port', invalid_tags: 'tags',
};

function TargetForm({ target, onClose, onSaved }: {
  target: Target | null; onClose: () => void; onSaved: (t: Target, created: boolean) => void;
}) {
  const [lbl, setLbl] = useState(target?.label ?? '');
  const [url, setUrl] = useState(target?.url ?? '');
  // token: 'keep' (edit, unchanged), 'replace' (type a new one), 'remove'
  const [tokenMode, setTokenMode] = useState<'keep' | 'replace' | 'remove'>(target?.has_api_key ? 'keep' : 'replace');
  const [token, setToken] = useState('');
  const [lmsHost, setLmsHost] = useState(target?.lms_host ?? '');
  const [lmsPort, setLmsPort] = useState(target?.lms_port != null ? String(target.lms_port) : '');
  const [tags, setTags] = useState(target?.tags.join(', ') ?? '');
  const [busy, setBusy] = useState<'' | 'save' | 'test'>('');
  const [error, setError] = useState('');
  const [fields, setFields] = useState<FieldErrors>({});
  const [testRes, setTestRes] = useState<{ ok: boolean; text: string } | null>(null);
  const tokenRef = useRef<HTMLInputElement>(null);

  const draft = (): TargetDraft | null => {
    const d: TargetDraft = { label: lbl.trim(), url: url.trim() };
    if (tokenMode === 'replace' && token !== '') d.api_key = token;
    else if (tokenMode === 'remove') d.api_key = null;
    const h = lmsHost.trim();
    if (h) d.lms_host = h; else if (target) d.lms_host = null;
    const p = lmsPort.trim();
    if (p) {
      if (!/^\d{1,5}$/.test(p)) { setFields({ lms_port: 'The lms port is a number from 1 to 65535.' }); return null; }
      d.lms_port = Number(p);
    } else if (target) d.lms_port = null;
    d.tags = parseTags(tags);
    return d;
  };

  const fail = (e: unknown) => {
    if (e instanceof ApiError && FIELD_OF[e.code]) { setFields({ [FIELD_OF[e.code]]: e.message }); setError(''); }
    else setError(errorText(e));
  };

  const save = async (e: Event) => {
    e.preventDefault();
    if (busy) return;
    setFields({}); setError('');
    const d = draft();
    if (!d) return;
    if (!d.label) { setFields({ label: 'Give the target a label.' }); return; }
    if (!d.url) { setFields({ url: 'Enter the daemon’s URL, e.g. http://127.0.0.1:1234.' }); return; }
    setBusy('save');
    try {
      const t = target ? await targetsApi.updateTarget(target.id, d) : await targetsApi.createTarget(d);
      setToken('');
      onSaved(t, !target);
    } catch (err) {
      fail(err);
      setBusy('');
    }
  };

  const test = async () => {
    if (busy) return;
    setFields({}); setError(''); setTestRes(null);
    const d = draft();
    if (!d) return;
    setBusy('test');
    try {
      const body: TargetDraft & { target_id?: number } = { ...d };
      delete body.label; // a test needs no label (and an edit's own label is taken)
      if (target && tokenMode === 'keep') body.target_id = target.id;
      if (body.api_key === null) delete body.api_key;
      if (body.lms_host === null) delete body.lms_host;
      if (body.lms_port === null) delete body.lms_port;
      const r = await targetsApi.testDraft(body);
      setTestRes({ ok: r.ok, text: testText(r) });
    } catch (err) {
      fail(err);
    } finally {
      setBusy('');
    }
  };

  const fe = (k: keyof FieldErrors) => fields[k] ? <p id={`tf-${k}-err`} class="mt-1 text-xs text-red-200">{fields[k]}</p> : null;
  const desc = (k: keyof FieldErrors, hintId?: string) =>
    [fields[k] ? `tf-${k}-err` : '', hintId ?? ''].filter(Boolean).join(' ') || undefined;

  return (
    <Dialog title={target ? `Edit ${target.label}` : 'Add a daemon target'} onClose={onClose} wide>
      <form onSubmit={save} noValidate class="space-y-4">
        <ErrorSlot error={error} />
        <div>
          <label for="tf-label" class={label}>Label</label>
          <input id="tf-label" class={`${input} mt-1`} value={lbl} maxLength={64} autocomplete="off"
            aria-invalid={fields.label ? 'true' : undefined} aria-describedby={desc('label')}
            onInput={(e) => setLbl((e.currentTarget as HTMLInputElement).value)} placeholder="e.g. gpu-box-1" />
          {fe('label')}
        </div>
        <div>
          <label for="tf-url" class={label}>URL</label>
          <input id="tf-url" class={`${input} mt-1 font-mono`} value={url} maxLength={2048} autocomplete="off"
            inputMode="url" spellcheck={false} autocapitalize="off"
            aria-invalid={fields.url ? 'true' : undefined} aria-describedby={desc('url', 'tf-url-hint')}
            onInput={(e) => setUrl((e.currentTarget as HTMLInputElement).value)} placeholder="http://127.0.0.1:1234" />
          <p id="tf-url-hint" class={hint}>http or https, host and port of LM Studio’s server; no user name or password in the URL.</p>
          {fe('url')}
        </div>
        <fieldset>
          <legend class={label}>LM Studio API token</legend>
          {tokenMode === 'keep' && target ? (
            <div class="mt-1 flex flex-wrap items-center gap-2 text-sm text-slate-300">
              <span>Set: <span class="font-mono">{target.api_key_hint ?? 'hidden'}</span></span>
              <button type="button" class={btn.small} onClick={() => { setTokenMode('replace'); setTimeout(() => tokenRef.current?.focus(), 0); }}>Replace token</button>
              <button type="button" class={btn.smallDanger} onClick={() => setTokenMode('remove')}>Remove token</button>
            </div>
          ) : tokenMode === 'remove' ? (
            <div class="mt-1 flex flex-wrap items-center gap-2 text-sm text-amber-200">
              <span>The token will be removed when you save.</span>
              <button type="button" class={btn.small} onClick={() => setTokenMode('keep')}>Keep token</button>
            </div>
          ) : (
            <div class="mt-1">
              <PasswordInput id="tf-token" value={token} onInput={setToken} autocomplete="off" inputRef={tokenRef}
                invalid={!!fields.api_key} describedBy={desc('api_key', 'tf-token-hint')} />
              <p id="tf-token-hint" class={hint}>
                {target?.has_api_key ? 'The new token replaces the stored one. ' : 'Optional: only when LM Studio requires authentication. '}
                It is stored encrypted and never shown again.
                {target?.has_api_key ? <> <button type="button" class="text-indigo-300 underline" onClick={() => { setToken(''); setTokenMode('keep'); }}>Keep the current token</button></> : null}
              </p>
              {fe('api_key')}
            </div>
          )}
        </fieldset>
        <details class="rounded-md border border-slate-700 p-3">
          <summary class="cursor-pointer text-sm font-medium text-slate-200">lms host, port and tags (optional)</summary>
          <div class="mt-3 grid gap-3 sm:grid-cols-2">
            <div>
              <label for="tf-lms-host" class={label}>lms host</label>
              <input id="tf-lms-host" class={`${input} mt-1`} value={lmsHost} autocomplete="off" spellcheck={false}
                aria-invalid={fields.lms_host ? 'true' : undefined} aria-describedby={desc('lms_host')}
                onInput={(e) => setLmsHost((e.currentTarget as HTMLInputElement).value)} placeholder="from the URL" />
              {fe('lms_host')}
            </div>
            <div>
              <label for="tf-lms-port" class={label}>lms port</label>
              <input id="tf-lms-port" class={`${input} mt-1`} value={lmsPort} inputMode="numeric" autocomplete="off"
                aria-invalid={fields.lms_port ? 'true' : undefined} aria-describedby={desc('lms_port')}
                onInput={(e) => setLmsPort((e.currentTarget as HTMLInputElement).value)} placeholder="from the URL" />
              {fe('lms_port')}
            </div>
            <div class="sm:col-span-2">
              <label for="tf-tags" class={label}>Tags</label>
              <input id="tf-tags" class={`${input} mt-1`} value={tags} autocomplete="off" spellcheck={false}
                aria-invalid={fields.tags ? 'true' : undefined} aria-describedby={desc('tags', 'tf-tags-hint')}
                onInput={(e) => setTags((e.currentTarget as HTMLInputElement).value)} placeholder="lab, a100" />
              <p id="tf-tags-hint" class={hint}>Separated by commas; letters, digits and . _ : -</p>
              {fe('tags')}
            </div>
          </div>
        </details>
        <p class={`text-sm empty:hidden ${testRes ? (testRes.ok ? 'text-emerald-300' : 'text-red-200') : ''}`}
          aria-live="polite" data-testid="draft-test-result">{testRes?.text ?? ''}</p>
        <div class="flex flex-wrap justify-end gap-2">
          <button type="button" class={btn.secondary} onClick={onClose}>Cancel</button>
          <button type="button" class={btn.secondary} onClick={test} aria-disabled={busy ? 'true' : undefined}>
            {busy === 'test' ? <Spinner /> : null}Test connection
          </button>
          <button type="submit" class={btn.primary} aria-disabled={busy ? 'true' : undefined}>
            {busy === 'save' ? <Spinner /> : null}{target ? 'Save' : 'Add target'}
          </button>
        </div>
      </form>
    </Dialog>
  );
}

function RemoveDialog({ target, onClose, onDone }: { target: Target; onClose: () => void; onDone: () => void }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const confirm = async () => {
    setBusy(true); setError('');
    try {
      await targetsApi.deleteTarget(target.id);
      onDone();
    } catch (e) {
      setError(errorText(e)); setBusy(false);
    }
  };
  return (
    <ConfirmDialog title={`Remove ${target.label}?`} confirmLabel="Remove target" busy={busy} error={error}
      onConfirm={confirm} onClose={onClose}
      message={<p>DaemonPulse stops watching <span class="break-all font-mono">{target.url}</span> and forgets its token. LM Studio itself is not touched.</p>} />
  );
}
