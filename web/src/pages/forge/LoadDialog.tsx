// LoadDialog.tsx - load one model with a configuration. Dev mode: every
// field LM Studio accepts (bounded by the model), starting from LM
// Studio's defaults, the last used values or a saved preset. Live mode:
// only the saved presets, unchanged (the server enforces it too). A
// pre-flight estimate runs as the settings change; a load that will not
// fit is blocked unless an admin ticks the override. LM Studio reports no
// load progress, so the dialog says it is waiting and for how long.
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { ApiError } from '../../api';
import * as forgeApi from '../../api/forge';
import type { Estimate, LastLoad, LoadResult, Model, Preset } from '../../api/forge';
import { Alert, ErrorSlot } from '../../components/Alert';
import { Dialog } from '../../components/Dialog';
import { ProgressBar, Spinner } from '../../components/Spinner';
import { btn, hint, input, label, microLabel } from '../../components/ui';
import { relativeTime } from '../../lib/format';
import { errorText } from '../../lib/useLoad';
import { formatBytes, formatInt } from '../../lib/forgeFormat';
import { isMoe, llamaCppFields, modelName } from '../../lib/forgeLibrary';
import {
  checkForm, describeFields, EMPTY_FORM, formFromFields, liveBody, loadBody, presetsFor, readLastUsed, storage,
  writeLastUsed, type LoadForm,
} from '../../lib/forgeLoad';
import { mayLoad, verdict } from '../../lib/forgeEstimate';
import { EstimateBars } from './EstimateBars';

const ESTIMATE_DELAY_MS = 600;

function Field({ id, text, help, error, children }: {
  id: string; text: string; help?: string; error?: string; children: preact.ComponentChildren;
}) {
  return (
    <div>
      <label for={id} class={label}>{text}</label>
      <div class="mt-1">{children}</div>
      {error ? <p id={`${id}-err`} class="mt-1 text-xs text-red-200">{error}</p>
        : help ? <p id={`${id}-help`} class={hint}>{help}</p> : null}
    </div>
  );
}

export function LoadDialog({ targetId, model, mode, presets, isAdmin, lastLoad, onClose, onLoaded }: {
  targetId: number;
  model: Model;
  /** the server's record of the last load of this model (facts.last_loads) */
  lastLoad: LastLoad | null;
  mode: 'dev' | 'live';
  presets: Preset[];
  isAdmin: boolean;
  onClose: () => void;
  onLoaded: (r: LoadResult) => void;
}) {
  const facts = useMemo(() => ({
    key: model.key, max_context_length: model.max_context_length, llamaCpp: llamaCppFields(model), moe: isMoe(model),
  }), [model]);
  const usable = useMemo(() => presetsFor(presets, model.key), [presets, model.key]);
  // last used values: the server's record of this target (any browser), else this browser's
  const last = useMemo(() => lastLoad?.config ?? readLastUsed(storage(), model.key), [model.key, lastLoad]);
  const lastWho = lastLoad ? `last load here${lastLoad.by ? ` by ${lastLoad.by}` : ''}${lastLoad.at ? `, ${relativeTime(lastLoad.at)}` : ''}`
    : 'last used in this browser';
  const live = mode === 'live';

  const [form, setForm] = useState<LoadForm>(EMPTY_FORM);
  const [start, setStart] = useState('defaults');
  const [livePreset, setLivePreset] = useState(usable[0]?.name ?? '');
  const [est, setEst] = useState<Estimate | null>(null);
  const [estBusy, setEstBusy] = useState(false);
  const [estError, setEstError] = useState('');
  const [retry, setRetry] = useState(0);
  const [override, setOverride] = useState(false);
  const [busy, setBusy] = useState(false);
  const [elapsed, setElapsed] = useState(0);
  const [error, setError] = useState('');
  const [result, setResult] = useState<LoadResult | null>(null);

  // after the load the submit button goes away: keep keyboard focus in the dialog
  const closeRef = useRef<HTMLButtonElement>(null);
  useEffect(() => { if (result) closeRef.current?.focus(); }, [result]);

  const checked = checkForm(form, facts);
  const preset = usable.find((p) => p.name === livePreset) ?? null;
  const body = live ? (preset ? liveBody(preset, model.key) : null) : checked.ok ? loadBody(model.key, checked.fields) : null;
  const bodyKey = body ? JSON.stringify(body) : '';

  // pre-flight: re-estimate a moment after the settings stop changing
  const estAbort = useRef<AbortController | null>(null);
  useEffect(() => {
    estAbort.current?.abort();
    if (!body || result) { setEstBusy(false); return; }
    const ac = new AbortController();
    estAbort.current = ac;
    setEstBusy(true);
    const t = setTimeout(() => {
      forgeApi.estimate(targetId, body, ac.signal).then(
        (e) => { if (!ac.signal.aborted) { setEst(e); setEstError(''); setEstBusy(false); } },
        (e) => {
          if (ac.signal.aborted) return;
          setEst(null); setEstBusy(false);
          if (!(e instanceof ApiError && e.status === 401)) setEstError(errorText(e));
        });
    }, ESTIMATE_DELAY_MS);
    return () => { clearTimeout(t); ac.abort(); };
  }, [bodyKey, targetId, retry]);

  useEffect(() => {
    if (!busy) return;
    const t0 = Date.now();
    setElapsed(0);
    const t = setInterval(() => setElapsed(Math.floor((Date.now() - t0) / 1000)), 1000);
    return () => clearInterval(t);
  }, [busy]);

  const set = <K extends keyof LoadForm>(k: K, v: LoadForm[K]) => { setForm({ ...form, [k]: v }); setError(''); };
  const applyStart = (v: string) => {
    setStart(v);
    if (v === 'defaults') setForm(EMPTY_FORM);
    else if (v === 'last' && last) setForm(formFromFields(last));
    else {
      const p = usable.find((x) => `preset:${x.name}` === v);
      if (p) setForm(formFromFields(p));
    }
  };

  const v = verdict(est);
  const stale = estBusy || (est !== null && est.model !== model.key);
  const allowed = body !== null && !stale && est !== null && mayLoad(est, isAdmin, override);
  const submit = async () => {
    if (!body || busy) return;
    if (!allowed) {
      setError(v === 'will_not_fit' ? (isAdmin ? 'This load will not fit: tick the override to load anyway.'
        : 'This load will not fit. Only an admin can override the pre-flight.')
        : estBusy ? 'Wait for the pre-flight check to finish.'
          : estError ? 'The pre-flight check failed; check again before loading.' : 'Fix the settings first.');
      return;
    }
    setBusy(true); setError('');
    try {
      const r = await forgeApi.load(targetId, v === 'will_not_fit' && override ? { ...body, override: true } : body);
      setResult(r);
      if (!live) writeLastUsed(storage(), model.key, checked.fields);
      onLoaded(r);
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 401)) setError(errorText(e));
    } finally {
      setBusy(false);
    }
  };

  const id = (k: string) => `load-${k}`;
  const inv = (k: keyof LoadForm) => checked.errors[k] ? { 'aria-invalid': 'true' as const, 'aria-describedby': `${id(k)}-err` } : {};
  const maxCtx = model.max_context_length;

  return (
    <Dialog title={`Load ${modelName(model)}`} onClose={onClose} wide>
      <form onSubmit={(e) => { e.preventDefault(); void submit(); }} noValidate data-testid="load-dialog">
        <p class="-mt-2 mb-4 text-sm text-slate-400">
          <span class="break-all font-mono text-slate-300">{model.key}</span> · {formatBytes(model.size_bytes)} on disk
          {maxCtx ? ` · max context ${formatInt(maxCtx)}` : ''}
        </p>

        {result ? (
          <Alert kind="success" title="Loaded">
            <p>Instance <span class="font-mono">{result.instance_id ?? '(not listed yet)'}</span> via {result.path === 'rest' ? 'the REST API' : 'the lms CLI'}
              {typeof result.load_time_seconds === 'number' ? ` in ${result.load_time_seconds.toFixed(1)} s` : ''}.
              {result.override ? ' The pre-flight was overridden.' : ''}</p>
            {result.load_config ? <p class="mt-1">LM Studio’s load config: {describeFields(result.load_config as never)}</p> : null}
          </Alert>
        ) : live ? (
          <div class="space-y-3">
            <Alert kind="info" title="Live mode: saved presets only">
              Loads are limited to the presets an admin saved, unchanged; the server refuses anything else. An admin can
              switch to Dev mode in Settings to load with other values.
            </Alert>
            {usable.length ? (
              <fieldset>
                <legend class={label}>Preset</legend>
                <div class="mt-2 space-y-2">
                  {usable.map((p) => (
                    <label key={p.name} class="flex cursor-pointer items-start gap-3 rounded-md border border-slate-700 p-3 text-sm has-[:checked]:border-indigo-400">
                      <input type="radio" name="live-preset" value={p.name} checked={livePreset === p.name}
                        onChange={() => setLivePreset(p.name)} class="mt-1 accent-indigo-400" />
                      <span>
                        <span class="font-medium text-slate-100">{p.name}</span>
                        <span class="block text-slate-400">{describeFields(p)}</span>
                      </span>
                    </label>
                  ))}
                </div>
              </fieldset>
            ) : (
              <Alert kind="warning">No saved preset can load this model, so it cannot be loaded in Live mode.</Alert>
            )}
          </div>
        ) : (
          <div class="space-y-4">
            <Field id={id('start')} text="Start from">
              <select id={id('start')} class={input} value={start} onChange={(e) => applyStart((e.target as HTMLSelectElement).value)}>
                <option value="defaults">LM Studio’s defaults (nothing set)</option>
                {last ? <option value="last">Last used: {lastWho} ({describeFields(last)})</option> : null}
                {usable.map((p) => <option key={p.name} value={`preset:${p.name}`}>Preset: {p.name}</option>)}
              </select>
            </Field>
            <div class="grid gap-4 sm:grid-cols-2">
              <Field id={id('context_length')} text="Context length" error={checked.errors.context_length}
                help={maxCtx ? `1 to ${formatInt(maxCtx)} tokens; empty: LM Studio decides` : 'empty: LM Studio decides'}>
                <input id={id('context_length')} class={input} inputMode="numeric" value={form.context_length}
                  placeholder="default" {...inv('context_length')}
                  onInput={(e) => set('context_length', (e.target as HTMLInputElement).value)} />
                {maxCtx ? (
                  <input type="range" min={512 > maxCtx ? 1 : 512} max={maxCtx} step={512 > maxCtx ? 1 : 512}
                    aria-label="Context length slider" class="mt-2 w-full accent-indigo-400"
                    value={form.context_length && /^\d+$/.test(form.context_length) ? Math.min(Number(form.context_length), maxCtx) : Math.min(8192, maxCtx)}
                    onInput={(e) => set('context_length', (e.target as HTMLInputElement).value)} />
                ) : null}
              </Field>
              <Field id={id('gpu')} text="GPU offload" error={checked.errors.gpu_ratio}
                help="Sent with lms load (CLI only)">
                <div class="flex gap-2">
                  <select id={id('gpu')} class={input} value={form.gpu}
                    onChange={(e) => set('gpu', (e.target as HTMLSelectElement).value as LoadForm['gpu'])}>
                    <option value="">LM Studio decides</option>
                    <option value="max">max (all layers)</option>
                    <option value="off">off (CPU only)</option>
                    <option value="ratio">ratio 0–1…</option>
                  </select>
                  {form.gpu === 'ratio' ? (
                    <input id={id('gpu_ratio')} class={`${input} w-24`} inputMode="decimal" aria-label="GPU offload ratio"
                      placeholder="0.5" value={form.gpu_ratio} {...inv('gpu_ratio')}
                      onInput={(e) => set('gpu_ratio', (e.target as HTMLInputElement).value)} />
                  ) : null}
                </div>
              </Field>
              <Field id={id('flash_attention')} text="Flash attention" error={checked.errors.flash_attention}
                help={facts.llamaCpp ? 'llama.cpp only' : 'not for this model (llama.cpp GGUF LLMs only)'}>
                <select id={id('flash_attention')} class={input} value={form.flash_attention} disabled={!facts.llamaCpp}
                  onChange={(e) => set('flash_attention', (e.target as HTMLSelectElement).value as LoadForm['flash_attention'])}>
                  <option value="">LM Studio decides</option><option value="on">on</option><option value="off">off</option>
                </select>
              </Field>
              <Field id={id('offload_kv_cache_to_gpu')} text="KV cache on GPU" error={checked.errors.offload_kv_cache_to_gpu}
                help={facts.llamaCpp ? 'llama.cpp only' : 'not for this model'}>
                <select id={id('offload_kv_cache_to_gpu')} class={input} value={form.offload_kv_cache_to_gpu} disabled={!facts.llamaCpp}
                  onChange={(e) => set('offload_kv_cache_to_gpu', (e.target as HTMLSelectElement).value as LoadForm['offload_kv_cache_to_gpu'])}>
                  <option value="">LM Studio decides</option><option value="on">on (GPU)</option><option value="off">off (RAM)</option>
                </select>
              </Field>
              <Field id={id('eval_batch_size')} text="Eval batch size" error={checked.errors.eval_batch_size}
                help={facts.llamaCpp ? '1 to 65,536' : 'not for this model'}>
                <input id={id('eval_batch_size')} class={input} inputMode="numeric" placeholder="default" disabled={!facts.llamaCpp}
                  value={form.eval_batch_size} {...inv('eval_batch_size')}
                  onInput={(e) => set('eval_batch_size', (e.target as HTMLInputElement).value)} />
              </Field>
              {facts.moe && facts.llamaCpp ? (
                <Field id={id('num_experts')} text="Experts" error={checked.errors.num_experts} help="active experts, 1 to 1,024 (mixture of experts)">
                  <input id={id('num_experts')} class={input} inputMode="numeric" placeholder="default"
                    value={form.num_experts} {...inv('num_experts')}
                    onInput={(e) => set('num_experts', (e.target as HTMLInputElement).value)} />
                </Field>
              ) : null}
              <Field id={id('parallel')} text="Parallel slots" error={checked.errors.parallel} help="1 to 256 (CLI only)">
                <input id={id('parallel')} class={input} inputMode="numeric" placeholder="default" value={form.parallel} {...inv('parallel')}
                  onInput={(e) => set('parallel', (e.target as HTMLInputElement).value)} />
              </Field>
              <Field id={id('ttl')} text="Idle TTL (seconds)" error={checked.errors.ttl} help="unload after this idle time (CLI only)">
                <input id={id('ttl')} class={input} inputMode="numeric" placeholder="none" value={form.ttl} {...inv('ttl')}
                  onInput={(e) => set('ttl', (e.target as HTMLInputElement).value)} />
              </Field>
              <Field id={id('identifier')} text="Identifier" error={checked.errors.identifier} help="instance name (CLI only)">
                <input id={id('identifier')} class={input} placeholder="default: the model key" value={form.identifier} {...inv('identifier')}
                  autoComplete="off" spellcheck={false}
                  onInput={(e) => set('identifier', (e.target as HTMLInputElement).value)} />
              </Field>
            </div>
            {checked.conflict ? (
              <Alert kind="error">{checked.conflict}.</Alert>
            ) : (
              <p class="text-xs text-slate-400" data-testid="load-path">
                {checked.path === 'rest' ? 'Sent as POST /api/v1/models/load (LM Studio’s REST API).'
                  : 'Sent with lms load: GPU offload, parallel slots, TTL and identifier are only accepted by the CLI.'}
              </p>
            )}
          </div>
        )}

        {!result ? (
          <section class="mt-5 border-t border-slate-700 pt-4" aria-labelledby="preflight-h" aria-busy={estBusy ? 'true' : 'false'}>
            <div class="mb-3 flex flex-wrap items-center justify-between gap-2">
              <h3 id="preflight-h" class={microLabel}>VRAM pre-flight</h3>
              {estBusy ? <span class="text-xs text-slate-300"><Spinner label="Checking fit…" class="h-3.5 w-3.5" /></span> : null}
            </div>
            {!body ? (
              <p class="text-sm text-slate-300">{live ? 'Choose a preset to check the fit.' : 'Fix the settings above to check the fit.'}</p>
            ) : estError ? (
              <div class="space-y-2">
                <Alert kind="error" title="The pre-flight check failed">{estError}</Alert>
                <button type="button" class={btn.secondary} onClick={() => { setEstError(''); setRetry(retry + 1); }}>Check again</button>
              </div>
            ) : est ? (
              <div class={estBusy ? 'opacity-80' : ''}>
                {v === 'fits' ? <Alert kind="success">Fits, by our estimate.</Alert>
                  : v === 'will_not_fit' ? <Alert kind="error" title="Will not fit">{est.reason ?? 'Not enough memory.'}</Alert>
                    : <Alert kind="warning" title="Fit unknown">{est.reason ?? 'No hardware data for this target.'} The load is not blocked.</Alert>}
                <div class="mt-3"><EstimateBars e={est} /></div>
              </div>
            ) : null}
            {v === 'will_not_fit' && !estBusy ? (
              isAdmin ? (
                <label class="mt-3 flex items-start gap-2 text-sm text-slate-200">
                  <input type="checkbox" checked={override} onChange={(e) => setOverride((e.target as HTMLInputElement).checked)}
                    class="mt-0.5 accent-indigo-400" />
                  <span>Override the pre-flight and load anyway (admin; audited). LM Studio may still refuse or fall back to the CPU.</span>
                </label>
              ) : (
                <p class="mt-3 text-sm text-slate-300">Only an admin can override a failed pre-flight.</p>
              )
            ) : null}
          </section>
        ) : null}

        {busy ? (
          <div class="mt-4 space-y-2" role="status">
            <ProgressBar label="Loading" />
            <p class="text-sm text-slate-300">Loading… {elapsed} s. LM Studio reports no load progress; this waits for its answer.</p>
          </div>
        ) : null}
        <ErrorSlot error={error} class="mt-4" />
        <div class="mt-5 flex flex-wrap justify-end gap-2">
          <button type="button" ref={closeRef} class={btn.secondary} onClick={onClose}>{result ? 'Close' : 'Cancel'}</button>
          {!result ? (
            <button type="submit" aria-disabled={busy || !allowed ? 'true' : undefined}
              class={busy ? btn.primary : btn.primary.replace('aria-disabled:cursor-wait aria-disabled:opacity-80',
                'aria-disabled:cursor-not-allowed aria-disabled:opacity-50')}
              data-testid="load-submit">
              {busy ? <Spinner /> : null}{v === 'will_not_fit' && override ? 'Load anyway' : 'Load'}
            </button>
          ) : null}
        </div>
      </form>
    </Dialog>
  );
}
