// TargetCard.tsx - one daemon target on The Fleet: state, latency, loaded
// instances with their config, GPUs (capacity from `lms runtime survey`,
// live values from telemetry where measured, labelled "simulated" /
// "estimated from loaded models" / "not measurable"), RAM, history charts,
// the Kill Switch and the server/daemon lifecycle through the host agent
// (Lifecycle.tsx). Every poll and event listener stops on unmount.
import { useEffect, useState } from 'preact/hooks';
import * as targetsApi from '../../api/targets';
import type { GpusView, ModelsView, Target } from '../../api/targets';
import { poll, subscribeHistory, type Telemetry, type TelemetryHistory } from '../../api/telemetry';
import type { Health } from '../../api/types';
import { btn, microLabel, panel } from '../../components/ui';
import { ESTIMATED, formatBytes, formatLatency, instanceConfigText, mergeGpus, sentence, NOT_MEASURABLE, telemetryNote } from '../../lib/fleet';
import { relativeTime } from '../../lib/format';
import { errorText } from '../../lib/useLoad';
import { user } from '../../state/session';
import { onStreamEvent } from '../../state/targets';
import { GpuPanel, HistoryCharts, SourceBadge, UsageBar } from './Gpu';
import { KillSwitchDialog } from './KillSwitch';
import { LifecycleSection } from './Lifecycle';
import { StateBadge } from './StateBadge';

export interface Instance { model: string; name: string; inst: targetsApi.LoadedInstance }

export function loadedInstances(m: ModelsView | null): Instance[] {
  if (!m) return [];
  const out: Instance[] = [];
  for (const mod of m.models) {
    for (const inst of mod.loaded_instances ?? []) out.push({ model: mod.key, name: mod.display_name ?? mod.key, inst });
  }
  return out;
}

export function TargetCard({ target, health, active, tel, telErr }: {
  target: Target; health: Health | null; active: boolean; tel: Telemetry | null; telErr: string;
}) {
  const id = target.id;
  const state = health?.state ?? 'unknown';
  const [models, setModels] = useState<ModelsView | null>(null);
  const [modelsErr, setModelsErr] = useState('');
  const [modelsTick, setModelsTick] = useState(0);
  const [survey, setSurvey] = useState<GpusView | null>(null);
  const [surveyErr, setSurveyErr] = useState('');
  const [hist, setHist] = useState<TelemetryHistory | null>(null);
  const [histSeconds, setHistSeconds] = useState(600);
  const [killing, setKilling] = useState(false);
  const role = user.value?.role;
  const canKill = role === 'operator' || role === 'admin';

  // loaded instances: on mount, whenever the state changes, on this target's `models` events
  useEffect(() => onStreamEvent((type, data) => {
    if (type === 'models' && typeof data === 'object' && data && (data as { target_id?: unknown }).target_id === id) {
      setModelsTick((t) => t + 1);
    }
  }), [id]);
  useEffect(() => {
    if (state !== 'running') { setModelsErr(''); return; }
    const ac = new AbortController();
    targetsApi.getModels(id, ac.signal).then(
      (m) => { setModels(m); setModelsErr(''); },
      (e) => { if (!ac.signal.aborted) setModelsErr(errorText(e)); },
    );
    return () => ac.abort();
  }, [id, state, modelsTick]);

  // GPU capacities (the server caches the survey for 10 s)
  useEffect(() => poll((s) => targetsApi.getGpus(id, s), 30000, {
    onData: (g) => { setSurvey(g); setSurveyErr(''); },
    onError: (m) => setSurveyErr(m),
  }), [id, state === 'running']);
  const measurable = !!tel && (tel.available || tel.reason?.code === 'source_down') && tel.gpus.length > 0;
  useEffect(() => {
    if (!measurable) { setHist(null); return; }
    return subscribeHistory(id, histSeconds, { onData: setHist }, histSeconds > 900 ? 15000 : 5000);
  }, [id, measurable, histSeconds]);

  const inst = state === 'running' || models ? loadedInstances(models) : [];
  const rows = mergeGpus(survey, tel);
  const headId = `card-${id}-title`;
  const stale = tel?.reason?.code === 'source_down';
  const ram = tel?.available || stale ? tel?.ram ?? null : null;
  const ramTotal = ram?.total_bytes ?? survey?.memory?.ram_bytes ?? null;

  return (
    <article class={`${panel} p-4 sm:p-5`} aria-labelledby={headId} data-target-card={target.label}>
      <header class="flex flex-wrap items-start justify-between gap-3">
        <div class="min-w-0 space-y-1">
          <h2 id={headId} class="flex flex-wrap items-center gap-2 text-lg font-semibold text-white">
            <span class="break-all">{target.label}</span>
            <StateBadge health={health} />
            {active ? <span class="rounded-full border border-indigo-400 px-2 py-0.5 text-xs font-medium text-indigo-200">active</span> : null}
          </h2>
          <p class="break-all font-mono text-xs text-slate-300">{target.url}</p>
          <p class="text-xs text-slate-400">
            latency {formatLatency(health?.latency_ms)} · version — (LM Studio does not report it)
            {health?.checked_at ? ` · checked ${relativeTime(health.checked_at)}` : ''}
          </p>
          {health?.error && state !== 'running' ? <p class="text-sm text-red-200">{health.error.message}</p> : null}
        </div>
        {canKill ? (
          <div class="flex flex-col items-start gap-1">
            <button type="button" class={btn.danger} onClick={() => setKilling(true)} disabled={state !== 'running'}
              aria-describedby={state !== 'running' ? `${headId}-kill-why` : undefined}
              aria-label={`Kill Switch: unload every model on ${target.label}`}>Kill Switch</button>
            {state !== 'running' ? (
              <span id={`${headId}-kill-why`} class="text-xs text-slate-400">available while the daemon is running</span>
            ) : null}
          </div>
        ) : null}
      </header>

      <section class="mt-5" aria-labelledby={`${headId}-inst`}>
        <h3 id={`${headId}-inst`} class={microLabel}>Loaded instances</h3>
        {state !== 'running' && !models ? (
          <p class="mt-2 text-sm text-slate-400">Not known while the daemon is {state === 'unknown' ? 'not checked yet' : state}.</p>
        ) : modelsErr ? (
          <p class="mt-2 text-sm text-red-200">Could not read the models: {modelsErr}</p>
        ) : !models ? (
          <p class="mt-2 text-sm text-slate-400">Loading…</p>
        ) : inst.length === 0 ? (
          <p class="mt-2 text-sm text-slate-300" data-testid="no-instances">No model loaded.</p>
        ) : (
          <ul class="mt-2 divide-y divide-slate-800 rounded-md border border-slate-700" data-testid="instances">
            {inst.map(({ model, name, inst: i }) => (
              <li key={i.id} class="p-3 text-sm" data-instance={i.id}>
                <p class="flex flex-wrap items-center gap-x-2">
                  <span class="break-all font-medium text-white">{name}</span>
                  <span class="break-all font-mono text-xs text-slate-300">{i.id}</span>
                  {i.id !== model ? <span class="break-all text-xs text-slate-400">({model})</span> : null}
                  {i.status ? <span class="text-xs text-slate-300">· {i.status}{i.queued ? `, ${i.queued} queued` : ''}</span> : null}
                </p>
                <InstanceVramLine vram={instanceVram(tel, i.id)} />
                <p class="mt-0.5 break-words text-xs text-slate-400">
                  {instanceConfigText(i.config, { context_length: i.context_length, parallel: i.parallel })}
                  {i.ttl_ms !== null ? ` · TTL ${Math.round(i.ttl_ms / 1000)} s` : ''}
                  {i.last_used_at ? ` · last used ${relativeTime(i.last_used_at)}` : ''}
                </p>
              </li>
            ))}
          </ul>
        )}
        {inst.length > 0 ? (
          <p class="mt-1 text-xs text-slate-400" data-testid="placement-note">
            {tel?.instances ? `VRAM per instance and GPU: as ${tel.simulated ? 'the simulator reports it (simulated)' : 'measured'}.`
              : `VRAM per instance: ${NOT_MEASURABLE} (the driver reports processes, and LM Studio runs its models inside its own processes).`}
            {' '}The GPU offload ratio is chosen at load time (The Forge); the split across GPUs, main GPU and disabled GPUs
            can only be changed through LM Studio’s SDK channel, so no control is offered here.
          </p>
        ) : null}
        {models && !models.lms.available ? (
          <p class="mt-1 text-xs text-slate-400">Status, queue and TTL not available: {sentence(models.lms.error?.message ?? 'the lms bridge is unavailable')}</p>
        ) : null}
      </section>

      <section class="mt-5" aria-labelledby={`${headId}-gpu`}>
        <div class="flex flex-wrap items-center gap-2">
          <h3 id={`${headId}-gpu`} class={microLabel}>GPUs</h3>
          <SourceBadge tel={tel} />
        </div>
        <p class="mt-1 text-xs text-slate-400" data-testid="telemetry-note">
          {telemetryLine(tel, telErr)}
        </p>
        {survey && !survey.available ? (
          <p class="mt-1 text-xs text-slate-400">GPU survey unavailable: {sentence(survey.error?.message ?? 'no answer')}</p>
        ) : surveyErr ? <p class="mt-1 text-xs text-slate-400">GPU survey unavailable: {sentence(surveyErr)}</p> : null}
        {rows.length === 0 ? (
          <p class="mt-2 text-sm text-slate-300">{survey || tel ? `No GPU known: ${NOT_MEASURABLE}.` : 'Loading…'}</p>
        ) : (
          <ul class="mt-2 space-y-3">
            {rows.map((r) => <li key={r.key}><GpuPanel row={r} stale={stale} /></li>)}
          </ul>
        )}
        {survey?.vram_estimate && rows.some((r) => r.provenance === 'estimated' || r.provenance === 'none') ? (
          <p class="mt-2 text-xs text-slate-400">
            {ESTIMATED}: {formatBytes(survey.vram_estimate.loaded_weights_bytes)} of weights in {survey.vram_estimate.instances ?? 0} instance(s);
            {' '}{survey.vram_estimate.basis}.
          </p>
        ) : null}
      </section>

      <section class="mt-5" aria-labelledby={`${headId}-ram`}>
        <div class="flex flex-wrap items-center gap-2">
          <h3 id={`${headId}-ram`} class={microLabel}>RAM</h3>
          {ram ? <SourceBadge tel={tel} /> : null}
        </div>
        {ram && ram.used_bytes !== null && ram.total_bytes ? (
          <UsageBar used={ram.used_bytes} total={ram.total_bytes} label={`RAM of ${target.label}`} />
        ) : (
          <p class="mt-1 text-sm text-slate-300">
            {ramTotal ? `${formatBytes(ramTotal)} installed · use ${NOT_MEASURABLE}` : NOT_MEASURABLE}
          </p>
        )}
      </section>

      {hist && hist.t.length > 1 ? <HistoryCharts hist={hist} title={target.label} seconds={histSeconds} onSeconds={setHistSeconds} idPrefix={headId} /> : null}

      <LifecycleSection target={target} canAct={canKill} admin={role === 'admin'} headId={headId} />

      {killing ? (
        <KillSwitchDialog target={target} instances={inst} onClose={() => setKilling(false)}
          onDone={() => setModelsTick((t) => t + 1)} />
      ) : null}
    </article>
  );
}

function instanceVram(tel: Telemetry | null, id: string): (number | null)[] | null {
  const e = tel?.instances?.find((x) => x.id === id);
  return e ? e.vram_bytes : null;
}

function InstanceVramLine({ vram }: { vram: (number | null)[] | null }) {
  if (!vram) return null;
  const parts = vram.map((b, gi) => (b === null ? null : `GPU ${gi} ${formatBytes(b)}`)).filter((x): x is string => x !== null && !/ 0 B$/.test(x));
  return (
    <p class="mt-0.5 text-xs text-slate-300" data-testid="instance-vram">
      VRAM: {parts.length ? parts.join(' · ') : 'none on a GPU'}
    </p>
  );
}

function telemetryLine(tel: Telemetry | null, err: string): string {
  if (err && !tel) return `Live telemetry could not be read: ${sentence(err)}`;
  if (!tel) return 'Reading live telemetry…';
  const when = tel.measured_at ? `measured ${relativeTime(tel.measured_at)}` : '';
  if (tel.available) {
    const every = tel.interval_ms ? `every ${formatInterval(tel.interval_ms)}` : '';
    const what = tel.simulated
      ? 'Simulated numbers from the simulator, not a real GPU'
      : `Measured through ${tel.source === 'nvml' ? 'NVML' : tel.source === 'amdgpu' ? 'amdgpu sysfs' : tel.source}`;
    return [what, every, when].filter(Boolean).join(' · ');
  }
  if (tel.reason?.code === 'source_down') return `The telemetry source stopped answering: showing the last sample (${when || 'time unknown'}).`;
  return `Live values ${NOT_MEASURABLE}: ${sentence(telemetryNote(tel))}`;
}

function formatInterval(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}

