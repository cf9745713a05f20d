// Mode.tsx - Settings → Mode & presets: the server-side Dev / Live switch
// (admins change it; everyone sees it) and the named load presets that Live
// mode restricts loads to. Saving sends the whole preset list (PUT
// /api/settings replaces it); the server validates and its message is shown.
import { useEffect, useState } from 'preact/hooks';
import { ApiError } from '../../api';
import * as targetsApi from '../../api/targets';
import type { LoadPreset, Mode, Settings } from '../../api/targets';
import { Alert, ErrorSlot } from '../../components/Alert';
import { ConfirmDialog, Dialog } from '../../components/Dialog';
import { ProgressBar, Spinner } from '../../components/Spinner';
import { btn, hint, input, label, panel } from '../../components/ui';
import { EMPTY_PRESET_FORM, formToPreset, presetSummary, presetToForm, type PresetForm } from '../../lib/fleetPresets';
import { formatDateTime } from '../../lib/format';
import { errorText, useLoad } from '../../lib/useLoad';
import { isAdmin } from '../../state/session';
import { onStreamEvent } from '../../state/targets';

export function ModeTab() {
  const admin = isAdmin.value;
  const st = useLoad((s) => targetsApi.getSettings(s), []);
  const [settings, setSettings] = useState<Settings | null>(null);
  const cur = settings ?? st.data;
  const [flash, setFlash] = useState('');
  const [editing, setEditing] = useState<LoadPreset | 'new' | null>(null);
  const [deleting, setDeleting] = useState<LoadPreset | null>(null);
  // another admin's change arrives on /api/events as a `settings` event
  useEffect(() => onStreamEvent((type, data) => {
    if (type !== 'settings' || typeof data !== 'object' || data === null) return;
    const d = data as Partial<Settings>;
    if ((d.mode === 'dev' || d.mode === 'live') && Array.isArray(d.load_presets)) setSettings(d as Settings);
  }), []);

  const savePresets = async (list: LoadPreset[], msg: string) => {
    const s = await targetsApi.putSettings({ load_presets: list });
    setSettings(s);
    setFlash(msg);
  };

  return (
    <section aria-labelledby="mode-heading" class="space-y-6">
      <div>
        <h2 id="mode-heading" class="text-lg font-semibold text-white">Mode</h2>
        <p class="text-sm text-slate-400">A server-side setting that applies to every user and every target.</p>
      </div>
      <div aria-live="polite">{flash ? <Alert kind="success">{flash}</Alert> : null}</div>
      {st.loading && !cur ? <ProgressBar label="Loading settings" /> : null}
      {st.error ? (
        <Alert kind="error" title="Could not load the settings">
          {st.error}{' '}<button type="button" class="underline" onClick={st.reload}>Retry</button>
        </Alert>
      ) : null}
      {cur ? (
        <>
          <ModeSwitch settings={cur} admin={admin}
            onSaved={(s) => { setSettings(s); setFlash(s.mode === 'live' ? 'Live mode is on.' : 'Dev mode is on.'); }} />
          <div class="space-y-3">
            <div class="flex flex-wrap items-end justify-between gap-3">
              <div class="min-w-0">
                <h2 id="presets-heading" class="text-lg font-semibold text-white">Load presets</h2>
                <p class="text-sm text-slate-400">Named load configurations. In Live mode every load must use one unchanged.</p>
              </div>
              {admin ? (
                <button type="button" class={btn.primary} onClick={() => { setFlash(''); setEditing('new'); }}
                  aria-disabled={cur.load_presets.length >= 64 ? 'true' : undefined}>Add preset</button>
              ) : null}
            </div>
            {cur.load_presets.length === 0 ? (
              <p class="text-sm text-slate-300">No presets yet.{cur.mode === 'live' ? ' In Live mode no model can be loaded until there is one.' : ''}</p>
            ) : (
              <ul class={`${panel} divide-y divide-slate-800`} aria-labelledby="presets-heading" data-testid="preset-list">
                {cur.load_presets.map((p) => (
                  <li key={p.name} class="flex flex-col gap-3 p-4 sm:flex-row sm:items-center" data-preset={p.name}>
                    <div class="min-w-0 flex-1">
                      <p class="break-all font-medium text-white">{p.name}</p>
                      <p class="mt-1 break-words text-xs text-slate-300">{presetSummary(p)}</p>
                    </div>
                    {admin ? (
                      <div class="flex gap-2">
                        <button type="button" class={btn.small} aria-label={`Edit preset ${p.name}`}
                          onClick={() => { setFlash(''); setEditing(p); }}>Edit</button>
                        <button type="button" class={btn.smallDanger} aria-label={`Delete preset ${p.name}`}
                          onClick={() => { setFlash(''); setDeleting(p); }}>Delete</button>
                      </div>
                    ) : null}
                  </li>
                ))}
              </ul>
            )}
            {cur.updated_at ? <p class="text-xs text-slate-400">Last changed {formatDateTime(cur.updated_at)}</p> : null}
          </div>
          {editing ? (
            <PresetDialog preset={editing === 'new' ? null : editing} onClose={() => setEditing(null)}
              onSave={async (p) => {
                const others = cur.load_presets.filter((x) => x.name !== (editing === 'new' ? p.name : editing.name));
                if (editing === 'new' && others.length !== cur.load_presets.length) {
                  throw new ApiError(400, 'invalid_preset', `a preset named "${p.name}" exists already`);
                }
                const list = editing === 'new' ? [...cur.load_presets, p]
                  : cur.load_presets.map((x) => (x.name === editing.name ? p : x));
                await savePresets(list, `Preset ${p.name} saved.`);
                setEditing(null);
              }} />
          ) : null}
          {deleting ? (
            <DeletePreset preset={deleting} onClose={() => setDeleting(null)}
              onConfirm={async () => {
                await savePresets(cur.load_presets.filter((x) => x.name !== deleting.name), `Preset ${deleting.name} deleted.`);
                setDeleting(null);
              }} />
          ) : null}
        </>
      ) : null}
    </section>
  );
}

function ModeSwitch({ settings, admin, onSaved }: { settings: Settings; admin: boolean; onSaved: (s: Settings) => void }) {
  const [want, setWant] = useState<Mode>(settings.mode);
  useEffect(() => setWant(settings.mode), [settings.mode]);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const save = async (e: Event) => {
    e.preventDefault();
    if (busy || want === settings.mode) return;
    setBusy(true); setError('');
    try { onSaved(await targetsApi.putSettings({ mode: want })); } catch (err) { setError(errorText(err)); } finally { setBusy(false); }
  };
  const opt = (m: Mode, title: string, text: string) => (
    <label class={`flex cursor-pointer gap-3 rounded-md border p-3 ${want === m ? 'border-indigo-400 bg-indigo-950' : 'border-slate-700'}`}>
      <input type="radio" name="mode" value={m} checked={want === m} disabled={!admin} class="mt-1 accent-indigo-400"
        onChange={() => setWant(m)} />
      <span>
        <span class="block text-sm font-semibold text-white">{title}</span>
        <span class={`block text-sm ${want === m ? 'text-indigo-200' : 'text-slate-300'}`}>{text}</span>
      </span>
    </label>
  );
  return (
    <form onSubmit={save} class={`${panel} space-y-3 p-4`} data-testid="mode-form">
      <p class="flex flex-wrap items-center gap-2 text-sm text-slate-200">
        Current mode:
        <span data-testid="current-mode" class={`rounded-full border px-2 py-0.5 text-xs font-semibold ${settings.mode === 'live'
          ? 'border-amber-300 text-amber-200' : 'border-emerald-300 text-emerald-300'}`}>{settings.mode === 'live' ? 'Live' : 'Dev'}</span>
      </p>
      <fieldset class="grid gap-3 sm:grid-cols-2">
        <legend class="sr-only">Mode</legend>
        {opt('dev', 'Dev', 'Everything visible and adjustable: loads may use any settings, presets only fill in values.')}
        {opt('live', 'Live', 'Locks loads to the saved presets, unchanged (the server refuses anything else, for admins too), and the Console shows high-level events only, without model input and output.')}
      </fieldset>
      <ErrorSlot error={error} />
      {admin ? (
        want !== settings.mode || busy ? (
          <div class="flex justify-end">
            <button type="submit" class={btn.primary} aria-disabled={busy ? 'true' : undefined}>
              {busy ? <Spinner /> : null}{want === 'live' ? 'Switch to Live' : 'Switch to Dev'}
            </button>
          </div>
        ) : <p class={hint}>Pick the other mode to switch.</p>
      ) : <p class={hint}>Only administrators can change the mode.</p>}
    </form>
  );
}

function PresetDialog({ preset, onClose, onSave }: {
  preset: LoadPreset | null; onClose: () => void; onSave: (p: LoadPreset) => Promise<void>;
}) {
  const [f, setF] = useState<PresetForm>(preset ? presetToForm(preset) : EMPTY_PRESET_FORM);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const [field, setField] = useState<keyof PresetForm | ''>('');
  const set = (k: keyof PresetForm) => (e: Event) => setF({ ...f, [k]: (e.currentTarget as HTMLInputElement).value });
  const submit = async (e: Event) => {
    e.preventDefault();
    if (busy) return;
    const r = formToPreset(f);
    if ('error' in r) { setError(r.error); setField(r.field); return; }
    setBusy(true); setError(''); setField('');
    try { await onSave(r.preset); } catch (err) { setError(errorText(err)); setBusy(false); }
  };
  const txt = (k: keyof PresetForm, lab: string, ph = '', mode: 'numeric' | 'decimal' | 'text' = 'numeric') => (
    <div>
      <label for={`pf-${k}`} class={label}>{lab}</label>
      <input id={`pf-${k}`} class={`${input} mt-1`} value={f[k]} onInput={set(k)} inputMode={mode} autocomplete="off"
        placeholder={ph} aria-invalid={field === k ? 'true' : undefined} aria-describedby={field === k ? 'pf-error' : undefined} />
    </div>
  );
  const sel = (k: keyof PresetForm, lab: string, opts: [string, string][]) => (
    <div>
      <label for={`pf-${k}`} class={label}>{lab}</label>
      <select id={`pf-${k}`} class={`${input} mt-1`} value={f[k]} onChange={set(k)}>
        {opts.map(([v, t]) => <option key={v} value={v}>{t}</option>)}
      </select>
    </div>
  );
  const onOff: [string, string][] = [['', 'not set'], ['on', 'on'], ['off', 'off']];
  return (
    <Dialog title={preset ? `Edit preset ${preset.name}` : 'Add a load preset'} onClose={onClose} wide>
      <form onSubmit={submit} noValidate class="space-y-4">
        <ErrorSlot error={error} id="pf-error" />
        <div class="grid gap-3 sm:grid-cols-2">
          <div class="sm:col-span-2">{txt('name', 'Name', 'e.g. fast-8k', 'text')}</div>
          <div class="sm:col-span-2">
            {txt('model', 'Model key (optional)', 'any model', 'text')}
            <p class={hint}>Empty: the preset works with any model.</p>
          </div>
          {txt('context_length', 'Context length', 'model default')}
          {sel('gpu', 'GPU offload', [['', 'not set'], ['max', 'max'], ['off', 'off (CPU only)'], ['ratio', 'ratio']])}
          {f.gpu === 'ratio' ? txt('gpu_ratio', 'GPU offload ratio (0–1)', '0.5', 'decimal') : null}
          {sel('flash_attention', 'Flash attention', onOff)}
          {sel('offload_kv_cache_to_gpu', 'KV cache on GPU', onOff)}
          {txt('eval_batch_size', 'Evaluation batch size', 'model default')}
          {txt('num_experts', 'Experts (MoE)', 'model default')}
          {txt('parallel', 'Parallel slots', 'model default')}
          {txt('ttl', 'TTL (seconds idle)', 'no TTL')}
          <div class="sm:col-span-2">{txt('identifier', 'Identifier (optional)', 'instance id', 'text')}</div>
        </div>
        <div class="flex flex-wrap justify-end gap-2">
          <button type="button" class={btn.secondary} onClick={onClose}>Cancel</button>
          <button type="submit" class={btn.primary} aria-disabled={busy ? 'true' : undefined}>{busy ? <Spinner /> : null}Save preset</button>
        </div>
      </form>
    </Dialog>
  );
}

function DeletePreset({ preset, onClose, onConfirm }: { preset: LoadPreset; onClose: () => void; onConfirm: () => Promise<void> }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  return (
    <ConfirmDialog title={`Delete preset ${preset.name}?`} confirmLabel="Delete preset" busy={busy} error={error}
      onClose={onClose}
      onConfirm={async () => {
        setBusy(true); setError('');
        try { await onConfirm(); } catch (e) { setError(errorText(e)); setBusy(false); }
      }}
      message={<p>Loads that name this preset will be refused afterwards. Loaded models are not affected.</p>} />
  );
}
