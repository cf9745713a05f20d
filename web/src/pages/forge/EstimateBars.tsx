// EstimateBars.tsx - the VRAM pre-flight as one bar per GPU (and RAM):
// in use before the load, this load's share, the card's capacity, and the
// part beyond it when the load will not fit; next to it our total and LM
// Studio's own figure with the difference explained. Text only.
import type { Estimate } from '../../api/forge';
import { compareFigures, estimateBars, lmStudioMarker, markerPct, type Bar } from '../../lib/forgeEstimate';
import { formatBytes } from '../../lib/forgeFormat';
import { microLabel } from '../../components/ui';

function MemoryBar({ b, lmAfter }: { b: Bar; lmAfter: number | null }) {
  return (
    <li class="space-y-1" data-testid="preflight-bar" data-fits={b.fits ? 'true' : 'false'}>
      <div class="flex flex-wrap items-baseline justify-between gap-x-3 text-sm">
        <span class="font-medium text-slate-100">{b.label}</span>
        <span class={b.fits ? 'text-slate-300' : 'font-medium text-red-200'}>{b.text}</span>
      </div>
      <div class="relative h-4 w-full overflow-hidden rounded border border-slate-500 bg-slate-950" role="img"
        aria-label={`${b.label}: in use before ${formatBytes(b.before)}, this load ${formatBytes(b.load)}, capacity ${formatBytes(b.total)}. ${b.text}`}>
        <div class="absolute inset-y-0 left-0 bg-slate-500" style={{ width: `${b.beforePct}%` }} />
        <div class={`absolute inset-y-0 ${b.fits ? 'bg-indigo-400' : 'bg-red-400'}`}
          style={{ left: `${b.beforePct}%`, width: `${b.loadPct}%` }} />
        {b.capacityPct < 100 ? (
          <div class="absolute inset-y-0 w-0.5 bg-white" style={{ left: `calc(${b.capacityPct}% - 1px)` }} />
        ) : null}
        {lmAfter !== null ? (
          <div class="absolute inset-y-0 w-1 bg-amber-300" data-testid="lmstudio-marker"
            style={{ left: `calc(${markerPct(b, lmAfter)}% - 2px)` }} />
        ) : null}
      </div>
      <p class="text-xs text-slate-400">
        before {formatBytes(b.before)} · this load {formatBytes(b.load)} · after {formatBytes(b.after)} · total {formatBytes(b.total)}
        {lmAfter !== null ? ` · after by LM Studio’s figure ${formatBytes(lmAfter)}` : ''}
      </p>
    </li>
  );
}

export function Legend({ lm }: { lm: boolean }) {
  return (
    <ul class="flex flex-wrap gap-x-4 gap-y-1 text-xs text-slate-300" aria-label="Bar legend">
      <li class="inline-flex items-center gap-1.5"><span class="h-2.5 w-2.5 rounded-sm bg-slate-500" aria-hidden="true" />in use before (estimated)</li>
      <li class="inline-flex items-center gap-1.5"><span class="h-2.5 w-2.5 rounded-sm bg-indigo-400" aria-hidden="true" />this load</li>
      <li class="inline-flex items-center gap-1.5"><span class="h-2.5 w-2.5 rounded-sm bg-red-400" aria-hidden="true" />this load, not fitting</li>
      <li class="inline-flex items-center gap-1.5"><span class="h-3 w-0.5 bg-white" aria-hidden="true" />capacity</li>
      {lm ? <li class="inline-flex items-center gap-1.5"><span class="h-3 w-1 bg-amber-300" aria-hidden="true" />after, by LM Studio’s figure</li> : null}
    </ul>
  );
}

export function EstimateBars({ e }: { e: Estimate }) {
  const bars = estimateBars(e);
  const marker = lmStudioMarker(e);
  const cmp = compareFigures(e);
  const lm = e.lmstudio;
  const bd = e.breakdown;
  return (
    <div class="space-y-3" data-testid="preflight">
      {bars.length ? (
        <>
          <Legend lm={marker !== null} />
          <ul class="space-y-3">
            {bars.map((b, i) => (
              <MemoryBar key={b.label} b={b} lmAfter={marker && i === 0 ? marker.bytesAfter : null} />
            ))}
          </ul>
        </>
      ) : (
        <p class="text-sm text-slate-300">No GPU or RAM capacity is known for this target (the lms bridge gave no hardware survey), so no bar can be drawn.</p>
      )}
      <div class="grid gap-3 sm:grid-cols-2">
        <div class="rounded-md border border-slate-700 p-3">
          <p class={microLabel}>Our estimate ({e.confidence} confidence)</p>
          <p class="mt-1 text-lg font-semibold text-white" data-testid="ours-gpu">{formatBytes(cmp.ours)} <span class="text-sm font-normal text-slate-300">on GPUs</span></p>
          <p class="text-xs text-slate-400">
            weights {formatBytes(bd.weights_gpu)} · KV cache {formatBytes(bd.kv_cache_gpu)} · overhead {formatBytes(bd.overhead)}
            {bd.ram_total ? ` · RAM ${formatBytes(bd.ram_total)}` : ''}
          </p>
        </div>
        <div class="rounded-md border border-slate-700 p-3">
          <p class={microLabel}>LM Studio’s own figure</p>
          {lm && lm.available && typeof lm.gpu_bytes === 'number' ? (
            <>
              <p class="mt-1 text-lg font-semibold text-white" data-testid="lmstudio-gpu">{formatBytes(lm.gpu_bytes)} <span class="text-sm font-normal text-slate-300">on GPUs</span></p>
              <p class="text-xs text-slate-400">
                total {formatBytes(lm.total_bytes ?? null)}
                {typeof lm.gpu_offload_pct === 'number' ? ` · offload ${lm.gpu_offload_pct} %` : ''}
                {lm.confidence ? ` · ${lm.confidence} confidence` : ''}
                {lm.fits === true ? ' · fits by its guardrail' : lm.fits === false ? ' · refused by its guardrail' : ''}
              </p>
            </>
          ) : (
            <p class="mt-1 text-sm text-slate-300" data-testid="lmstudio-gpu">{lm ? cmp.text : 'Not asked for this check.'}</p>
          )}
        </div>
      </div>
      {cmp.diff !== null || e.difference_explained ? (
        <div class="text-sm text-slate-300">
          <p class="font-medium text-slate-200">{cmp.text}</p>
          {e.difference_explained ? <p class="mt-1">{e.difference_explained}</p> : null}
        </div>
      ) : null}
      {e.notes.length ? (
        <details class="text-sm text-slate-300">
          <summary class="cursor-pointer text-slate-200">What the estimate assumed ({e.notes.length})</summary>
          <ul class="mt-2 list-disc space-y-1 pl-5">{e.notes.map((n, i) => <li key={i}>{n}</li>)}</ul>
        </details>
      ) : null}
    </div>
  );
}
