// Controls.tsx - The Pulse's inputs: target + model + API picker (loaded
// instances first, models LM Studio loads on first use marked as such),
// the system prompt, and the sampling settings (empty = LM Studio's
// default; fields the chosen API ignores say so).
import { useEffect, useState } from 'preact/hooks';
import type { ChatApi } from '../../api/chat';
import { getModels, type Target } from '../../api/targets';
import { ErrorSlot } from '../../components/Alert';
import { btn, hint, input, label } from '../../components/ui';
import { defaultModel, ignoredBy, modelOptions, type SamplingErrors, type SamplingForm } from '../../lib/pulseForm';
import { useLoad } from '../../lib/useLoad';

export interface PickerValue { targetId: number | null; model: string; api: ChatApi }
/** A new value, or an update of the latest one (what a late answer must use: the user may
 * have changed the value since the render it was started from). */
export type PickerChange = PickerValue | ((prev: PickerValue) => PickerValue);
export const applyPickerChange = (prev: PickerValue, c: PickerChange): PickerValue => (typeof c === 'function' ? c(prev) : c);

export const API_LABEL: Record<ChatApi, string> = {
  v1: 'LM Studio v1 (/api/v1/chat)',
  v0: 'LM Studio v0 (/api/v0/chat/completions)',
  openai: 'OpenAI-compatible (/v1/chat/completions)',
};

const select = `${input} pr-8`;

export function Picker({ id, value, onChange, targets, disabled, legend, refresh = 0, apiLock }: {
  id: string;
  /** when set, the API is fixed (to the value given) and this says why */
  apiLock?: string;
  /** change it to fetch the model list again (after a run: a JIT load changes what is loaded) */
  refresh?: number;
  value: PickerValue;
  onChange: (v: PickerChange) => void;
  targets: Target[];
  disabled?: boolean;
  legend?: string;
}) {
  // each list is tagged with the target it came from: until the new target's list arrives, the
  // previous one is neither shown nor used to pick a model
  const models = useLoad((signal) => {
    const tid = value.targetId;
    return tid === null ? Promise.resolve(null) : getModels(tid, signal).then((d) => ({ target: tid, d }));
  }, [value.targetId, refresh]);
  const list = models.data && models.data.target === value.targetId ? models.data.d : null;
  const opts = modelOptions(list?.models ?? []);
  const empty = opts.loaded.length + opts.onDisk.length === 0;
  // keep the chosen model when it is still offered; else preselect a loaded one. Effects run
  // after paint, and the user may have picked another target since: the update applies to the
  // latest value, and only while it still names the target this list belongs to.
  useEffect(() => {
    if (!models.data) return;
    const { target, d } = models.data;
    const o = modelOptions(d?.models ?? []);
    onChange((p) => {
      if (p.targetId !== target) return p;
      const m = defaultModel(o, p.model);
      return m === p.model ? p : { ...p, model: m };
    });
  }, [models.data]);
  const chosen = [...opts.loaded, ...opts.onDisk].find((o) => o.value === value.model);
  // a reopened conversation may name a model this target no longer lists: keep it visible and chosen
  const missing = value.model !== '' && !chosen && !!list;

  return (
    <fieldset class="min-w-0 space-y-3" disabled={disabled}>
      {legend ? <legend class="mb-1 text-sm font-semibold text-white">{legend}</legend> : null}
      <div class="grid gap-3 sm:grid-cols-2">
        <div class="min-w-0">
          <label class={label} for={`${id}-target`}>Target</label>
          <select id={`${id}-target`} class={`${select} mt-1`} value={value.targetId ?? ''}
            onChange={(e) => {
              const v = (e.currentTarget as HTMLSelectElement).value;
              onChange((p) => ({ ...p, targetId: v ? Number(v) : null, model: '' }));
            }}>
            {targets.length === 0 ? <option value="">No targets</option> : null}
            {targets.map((t) => <option key={t.id} value={t.id}>{t.label}{t.health && t.health.state !== 'running' ? ` (${t.health.state})` : ''}</option>)}
          </select>
        </div>
        <div class="min-w-0">
          <label class={label} for={`${id}-api`}>API</label>
          <select id={`${id}-api`} class={`${select} mt-1 disabled:cursor-not-allowed`} value={value.api} disabled={!!apiLock}
            aria-describedby={apiLock ? `${id}-api-lock` : undefined}
            onChange={(e) => { const a = (e.currentTarget as HTMLSelectElement).value as ChatApi; onChange((p) => ({ ...p, api: a })); }}>
            {(Object.keys(API_LABEL) as ChatApi[]).map((a) => <option key={a} value={a}>{API_LABEL[a]}</option>)}
          </select>
          {apiLock ? <p id={`${id}-api-lock`} class={hint} data-testid="api-lock">{apiLock}</p> : null}
        </div>
      </div>
      <div class="min-w-0">
        <div class="flex items-end justify-between gap-2">
          <label class={label} for={`${id}-model`}>Model</label>
          <button type="button" class="text-xs text-indigo-300 underline underline-offset-2 hover:text-indigo-200"
            onClick={models.reload} disabled={value.targetId === null}>Refresh models</button>
        </div>
        <select id={`${id}-model`} class={`${select} mt-1`} value={value.model} aria-describedby={`${id}-model-hint`}
          onChange={(e) => { const m = (e.currentTarget as HTMLSelectElement).value; onChange((p) => ({ ...p, model: m })); }}>
          {models.loading && !models.data ? <option value="">Loading models…</option>
            : empty ? <option value="">{value.targetId === null ? 'Choose a target first' : 'No chat models on this target'}</option> : null}
          {missing ? (
            <optgroup label="From the conversation">
              <option value={value.model}>{value.model} · not listed by this target</option>
            </optgroup>
          ) : null}
          {opts.loaded.length ? (
            <optgroup label="Loaded">
              {opts.loaded.map((o) => <option key={o.value} value={o.value}>{o.label}</option>)}
            </optgroup>
          ) : null}
          {opts.onDisk.length ? (
            <optgroup label="On disk: loaded on first use (JIT)">
              {opts.onDisk.map((o) => <option key={o.value} value={o.value}>{o.label} · not loaded</option>)}
            </optgroup>
          ) : null}
        </select>
        <p id={`${id}-model-hint`} class={hint}>
          {missing ? 'This model is not listed by the target now; sending asks LM Studio for it anyway (JIT loads it if it is on disk).'
            : chosen && !chosen.loaded
            ? 'Not loaded: LM Studio loads it when the request arrives if Just-in-Time loading is on (the first answer waits for the load).'
            : 'Loaded instances are listed first.'}
        </p>
        <ErrorSlot error={models.error} class="mt-2" />
      </div>
    </fieldset>
  );
}

/**
 * Open state of a <details> that the user controls, opened by us when `force`
 * becomes true (a reopened conversation's system prompt, a field error) but
 * never closed under the user's fingers.
 */
function useDisclosure(force: boolean): [boolean, (e: Event) => void] {
  const [open, setOpen] = useState(force);
  useEffect(() => { if (force) setOpen(true); }, [force]);
  return [open, (e: Event) => setOpen((e.currentTarget as HTMLDetailsElement).open)];
}

export function SystemPrompt({ value, onInput, id = 'pulse-system' }: { value: string; onInput: (v: string) => void; id?: string }) {
  const [open, onToggle] = useDisclosure(value !== '');
  return (
    <details class="rounded-lg border border-slate-700 bg-slate-950" open={open} onToggle={onToggle}>
      <summary class="cursor-pointer select-none px-3 py-2 text-sm font-medium text-slate-200">
        System prompt{value ? <span class="ml-2 text-xs font-normal text-slate-400">set</span> : null}
      </summary>
      <div class="border-t border-slate-800 p-3">
        <label class="sr-only" for={id}>System prompt</label>
        <textarea id={id} rows={3} class={input} value={value} placeholder="You are a helpful assistant."
          onInput={(e) => onInput((e.currentTarget as HTMLTextAreaElement).value)} />
      </div>
    </details>
  );
}

const FIELDS: { key: keyof SamplingForm; label: string; placeholder: string; mode: 'decimal' | 'numeric' }[] = [
  { key: 'temperature', label: 'Temperature', placeholder: '0–2', mode: 'decimal' },
  { key: 'top_p', label: 'Top-p', placeholder: '0–1', mode: 'decimal' },
  { key: 'top_k', label: 'Top-k', placeholder: 'e.g. 40', mode: 'numeric' },
  { key: 'max_tokens', label: 'Max tokens', placeholder: 'e.g. 1024', mode: 'numeric' },
  { key: 'repeat_penalty', label: 'Repeat penalty', placeholder: 'e.g. 1.1', mode: 'decimal' },
  { key: 'seed', label: 'Seed', placeholder: 'random', mode: 'numeric' },
];

export function Sampling({ value, errors, api, onChange }: {
  value: SamplingForm; errors: SamplingErrors; api: ChatApi | ChatApi[]; onChange: (v: SamplingForm) => void;
}) {
  const apis = Array.isArray(api) ? api : [api];
  const ignored = (k: keyof SamplingForm) => apis.every((a) => ignoredBy(a).has(k));
  const set = (k: keyof SamplingForm) => (e: Event) => onChange({ ...value, [k]: (e.currentTarget as HTMLInputElement).value });
  const nErr = Object.keys(errors).length;
  const [open, onToggle] = useDisclosure(nErr > 0);
  return (
    <details class="rounded-lg border border-slate-700 bg-slate-950" open={open} onToggle={onToggle} data-testid="sampling">
      <summary class="cursor-pointer select-none px-3 py-2 text-sm font-medium text-slate-200">
        Sampling and reasoning
        <span class="ml-2 text-xs font-normal text-slate-400">empty fields use LM Studio’s defaults</span>
        {nErr ? <span class="ml-2 text-xs font-normal text-red-200">{nErr} to fix</span> : null}
      </summary>
      <div class="grid grid-cols-2 gap-3 border-t border-slate-800 p-3 sm:grid-cols-3">
        {FIELDS.map((f) => (
          <div key={f.key} class="min-w-0">
            <label class={label} for={`pulse-${f.key}`}>{f.label}</label>
            <input id={`pulse-${f.key}`} class={`${input} mt-1`} inputMode={f.mode} value={value[f.key]}
              placeholder={f.placeholder} aria-invalid={errors[f.key] ? 'true' : undefined}
              aria-describedby={errors[f.key] || ignored(f.key) ? `pulse-${f.key}-msg` : undefined} onInput={set(f.key)} />
            {errors[f.key] ? <p id={`pulse-${f.key}-msg`} class="mt-1 text-xs text-red-200">{errors[f.key]}</p>
              : ignored(f.key) ? <p id={`pulse-${f.key}-msg`} class={hint}>not used by the v1 API</p> : null}
          </div>
        ))}
        <div class="col-span-2 min-w-0 sm:col-span-1">
          <label class={label} for="pulse-reasoning">Reasoning (v1)</label>
          <select id="pulse-reasoning" class={`${select} mt-1`} value={value.reasoning}
            onChange={set('reasoning')} aria-describedby="pulse-reasoning-msg">
            <option value="">model default</option>
            <option value="off">off</option>
            <option value="on">on</option>
            <option value="low">low</option>
            <option value="medium">medium</option>
            <option value="high">high</option>
          </select>
          <p id="pulse-reasoning-msg" class={hint}>{ignored('reasoning') ? 'only the v1 API takes it' : 'LM Studio refuses settings the model does not support'}</p>
        </div>
        <div class="col-span-2 min-w-0">
          <label class={label} for="pulse-stop">Stop strings</label>
          <textarea id="pulse-stop" rows={2} class={`${input} mt-1 font-mono`} value={value.stop} placeholder="one per line (at most 8)"
            aria-invalid={errors.stop ? 'true' : undefined} aria-describedby="pulse-stop-msg" onInput={set('stop')} />
          <p id="pulse-stop-msg" class={errors.stop ? 'mt-1 text-xs text-red-200' : hint}>
            {errors.stop ?? (ignored('stop') ? 'not used by the v1 API' : 'generation stops when one appears')}
          </p>
        </div>
        <div class="col-span-2 min-w-0 sm:col-span-1">
          <span class={label} id="pulse-think-label">Think tags</span>
          <div class="mt-1 flex gap-2" role="group" aria-labelledby="pulse-think-label">
            <input class={`${input} font-mono`} aria-label="Opening think tag" placeholder="<think>" value={value.think_open}
              aria-invalid={errors.think_open ? 'true' : undefined} onInput={set('think_open')} />
            <input class={`${input} font-mono`} aria-label="Closing think tag" placeholder="</think>" value={value.think_close}
              aria-invalid={errors.think_open ? 'true' : undefined} onInput={set('think_close')} />
          </div>
          <p class={errors.think_open ? 'mt-1 text-xs text-red-200' : hint}>{errors.think_open ?? 'reasoning tags inside the content, if the model uses others'}</p>
        </div>
      </div>
    </details>
  );
}

export function SendButtons({ busy, canSend, onSend, onStop, sendLabel = 'Send' }: {
  busy: boolean; canSend: boolean; onSend: () => void; onStop: () => void; sendLabel?: string;
}) {
  return busy
    ? <button type="button" class={btn.danger} onClick={onStop} data-testid="stop">Stop</button>
    : <button type="button" class={btn.primary} onClick={onSend} disabled={!canSend} aria-keyshortcuts="Control+Enter Meta+Enter">{sendLabel}</button>;
}
