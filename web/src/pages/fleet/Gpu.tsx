// Gpu.tsx - GPU views of a Fleet card: the telemetry source badge, one
// GPU's VRAM bar (threshold colours) with the LM Studio / other / free
// split, utilisation, temperature, power and fan, a generic usage bar, and
// the history charts. Unknown values read "not measurable".
import type { Telemetry, TelemetryHistory } from '../../api/telemetry';
import {
  CHART_COLORS, LEVEL_BAR, LEVEL_TEXT, LEVEL_TEXT_CLASS, NOT_MEASURABLE, PROVENANCE_LABEL, formatBytes, formatRatio,
  tempLevel, vramLevel, vramSegments, type GpuRow, type Provenance,
} from '../../lib/fleet';
import { Chart } from './Chart';

const PROV_CLASS: Record<Provenance, string> = {
  measured: 'border-emerald-300 text-emerald-300',
  simulated: 'border-amber-300 text-amber-200',
  estimated: 'border-slate-500 text-slate-300',
  none: 'border-slate-500 text-slate-300',
};

export function ProvenanceBadge({ p }: { p: Provenance }) {
  return (
    <span data-testid="provenance" data-provenance={p}
      class={`whitespace-nowrap rounded-full border px-2 py-0.5 text-xs font-medium ${PROV_CLASS[p]}`}>{PROVENANCE_LABEL[p]}</span>
  );
}

export function SourceBadge({ tel }: { tel: Telemetry | null }) {
  if (!tel) return null;
  if (tel.simulated) return <ProvenanceBadge p="simulated" />;
  if (tel.available) return <ProvenanceBadge p="measured" />;
  return null;
}

/** A used/total bar with threshold colours and a text value (the bar alone is never the only signal). */
export function UsageBar({ used, total, label }: { used: number; total: number; label: string }) {
  const lvl = vramLevel(used, total) ?? 'ok';
  const pct = Math.max(0, Math.min(100, (used / total) * 100));
  return (
    <div class="mt-1">
      <div class="h-2.5 w-full overflow-hidden rounded-full bg-slate-800" role="meter" aria-label={label}
        aria-valuemin={0} aria-valuemax={total} aria-valuenow={Math.min(used, total)}
        aria-valuetext={`${formatBytes(used)} of ${formatBytes(total)} used (${Math.round(pct)} %, ${LEVEL_TEXT[lvl]})`}>
        <div class={`h-full rounded-full ${LEVEL_BAR[lvl]}`} style={{ width: `${pct}%` }} />
      </div>
      <p class="mt-1 text-xs text-slate-300">
        {formatBytes(used)} of {formatBytes(total)} used · {Math.round(pct)} %{' '}
        <span class={LEVEL_TEXT_CLASS[lvl]}>({LEVEL_TEXT[lvl]})</span>
      </p>
    </div>
  );
}

const SEG_CLASS = { lmstudio: 'bg-indigo-400', other: 'bg-amber-300', unattributed: 'bg-slate-400', used: 'bg-emerald-300', estimated: 'bg-slate-400', free: 'bg-slate-800' };
const SEG_LABEL = { lmstudio: 'LM Studio', other: 'other processes', unattributed: 'driver / unattributed', used: 'used', estimated: 'estimated', free: 'free' };

export function GpuPanel({ row, stale }: { row: GpuRow; stale: boolean }) {
  const total = row.total_bytes;
  const used = row.used_bytes;
  const lvl = vramLevel(used, total);
  const pct = used !== null && total ? Math.min(100, (used / total) * 100) : null;
  const split = row.provenance === 'measured' || row.provenance === 'simulated'
    ? vramSegments({ total_bytes: total, used_bytes: used, lmstudio_bytes: row.lmstudio_bytes, other_bytes: row.other_bytes,
      unattributed_bytes: row.unattributed_bytes })
    : [];
  const hasSplit = split.some((s) => s.kind === 'lmstudio');
  const tl = tempLevel(row.temperature_c);
  const nm = <span class="text-slate-400">{NOT_MEASURABLE}</span>;
  const barColour = row.provenance === 'estimated' ? 'bg-slate-400' : lvl ? LEVEL_BAR[lvl] : 'bg-slate-400';
  return (
    <div class="rounded-md border border-slate-700 p-3" data-gpu={row.index}>
      <p class="flex flex-wrap items-center gap-2 text-sm">
        <span class="font-medium text-white">GPU {row.index}</span>
        <span class="break-all text-slate-200">{row.name}</span>
        {row.platform ? <span class="text-xs text-slate-400">{row.platform}</span> : null}
        <ProvenanceBadge p={row.provenance} />
        {stale ? <span class="text-xs text-amber-200">last sample</span> : null}
      </p>
      <div class="mt-2">
        <p class="text-xs text-slate-400">VRAM</p>
        {total && used !== null && pct !== null ? (
          <>
            <div class="mt-1 h-3 w-full overflow-hidden rounded-full bg-slate-800" role="meter"
              aria-label={`VRAM of GPU ${row.index}`} aria-valuemin={0} aria-valuemax={total} aria-valuenow={Math.min(used, total)}
              aria-valuetext={`${formatBytes(used)} of ${formatBytes(total)} (${Math.round(pct)} %)${row.provenance === 'estimated' ? ', estimated' : ''}`}>
              <div class={`h-full rounded-full ${barColour}`} style={{ width: `${pct}%` }} data-testid="vram-fill" />
            </div>
            <p class="mt-1 text-xs text-slate-300" data-testid="vram-text">
              {formatBytes(used)} of {formatBytes(total)} · {Math.round(pct)} %
              {row.provenance === 'estimated' ? ' · estimated from loaded models (KV cache and offload not known)'
                : lvl ? <> <span class={LEVEL_TEXT_CLASS[lvl]}>({LEVEL_TEXT[lvl]})</span></> : null}
            </p>
          </>
        ) : (
          <p class="mt-1 text-xs text-slate-300" data-testid="vram-text">
            {total ? `${formatBytes(total)} capacity · use ${NOT_MEASURABLE}` : NOT_MEASURABLE}
            {row.note ? ` (${row.note})` : ''}
          </p>
        )}
        {row.live?.memory?.unified ? (
          <p class="mt-1 text-xs text-slate-400">Integrated GPU: memory is shared with the host (figures are the host RAM’s).</p>
        ) : null}
        {row.live?.memory?.gtt_total_bytes ? (
          <p class="mt-1 text-xs text-slate-400">
            GTT (system memory mapped for the GPU): {formatBytes(row.live.memory.gtt_used_bytes ?? null)} of {formatBytes(row.live.memory.gtt_total_bytes)}
          </p>
        ) : null}
        {hasSplit ? (
          <div class="mt-2">
            <div class="flex h-2 w-full overflow-hidden rounded-full bg-slate-800" aria-hidden="true">
              {split.filter((s) => s.bytes > 0).map((s) => <div key={s.kind} class={SEG_CLASS[s.kind]} style={{ width: `${s.fraction * 100}%` }} />)}
            </div>
            <ul class="mt-1 flex flex-wrap gap-x-3 text-xs text-slate-300" aria-label={`VRAM split of GPU ${row.index}`} data-testid="vram-split">
              {split.map((s) => (
                <li key={s.kind} class="inline-flex items-center gap-1">
                  <span class={`h-2 w-2 rounded-sm border border-slate-500 ${SEG_CLASS[s.kind]}`} aria-hidden="true" />
                  {SEG_LABEL[s.kind]} {formatBytes(s.bytes)}
                </li>
              ))}
            </ul>
          </div>
        ) : null}
      </div>
      <dl class="mt-3 grid grid-cols-2 gap-x-4 gap-y-2 text-xs sm:grid-cols-4">
        <div><dt class="text-slate-400">Utilisation</dt><dd class="text-slate-200">{row.gpu_ratio !== null ? formatRatio(row.gpu_ratio) : nm}</dd></div>
        <div>
          <dt class="text-slate-400">Temperature</dt>
          <dd class={tl ? LEVEL_TEXT_CLASS[tl] : 'text-slate-200'}>
            {row.temperature_c !== null ? `${Math.round(row.temperature_c)} °C${tl && tl !== 'ok' ? ` (${LEVEL_TEXT[tl]})` : ''}` : nm}
          </dd>
        </div>
        <div>
          <dt class="text-slate-400">Power</dt>
          <dd class="text-slate-200">
            {row.watts !== null ? `${Math.round(row.watts)} W${row.limit_watts !== null ? ` of ${Math.round(row.limit_watts)} W` : ''}` : nm}
          </dd>
        </div>
        <div><dt class="text-slate-400">Fan</dt><dd class="text-slate-200">{row.fan_ratio !== null ? formatRatio(row.fan_ratio) : nm}</dd></div>
      </dl>
    </div>
  );
}

const GiB = 2 ** 30;

const WINDOWS: [number, string][] = [[300, '5 min'], [600, '10 min'], [1800, '30 min'], [3600, '1 hour']];

export function HistoryCharts({ hist, title, seconds, onSeconds, idPrefix }: {
  hist: TelemetryHistory; title: string; seconds: number; onSeconds: (s: number) => void; idPrefix: string;
}) {
  const mins = Math.round((hist.t[hist.t.length - 1] - hist.t[0]) / 60000);
  const selId = `${idPrefix}-hist-window`;
  return (
    <section class="mt-5" aria-label={`History of ${title}`}>
      <div class="flex flex-wrap items-center justify-between gap-2">
        <h3 class="text-xs font-semibold uppercase tracking-wider text-slate-400">
          History · {mins < 1 ? 'less than a minute' : `${mins} min`} recorded{hist.simulated ? ' · simulated' : ''}
        </h3>
        <span class="flex items-center gap-2 text-xs text-slate-300">
          <label for={selId}>Window</label>
          <select id={selId} value={String(seconds)} onChange={(e) => onSeconds(Number((e.currentTarget as HTMLSelectElement).value))}
            class="rounded-md border border-slate-500 bg-slate-950 px-2 py-1 text-xs text-slate-100">
            {WINDOWS.map(([v, l]) => <option key={v} value={String(v)}>{l}</option>)}
          </select>
        </span>
      </div>
      <div class="mt-2 grid gap-4 text-slate-300 lg:grid-cols-2">
        {hist.gpus.map((g) => {
          const gib = (a: (number | null)[]) => a.map((v) => (v === null ? null : v / GiB));
          const lastUsed = g.used_bytes[g.used_bytes.length - 1];
          return [
            <Chart key={`${g.index}-vram`} t={hist.t} yLabel={`GPU ${g.index} VRAM (GiB)`}
              yRange={g.total_bytes ? [0, g.total_bytes / GiB] : undefined} fmtY={(v) => v.toFixed(0)}
              label={`GPU ${g.index} VRAM over time; now ${formatBytes(lastUsed)} of ${formatBytes(g.total_bytes)}`}
              series={[
                { label: 'used', color: CHART_COLORS.used.hex, values: gib(g.used_bytes), fill: true },
                { label: 'LM Studio', color: CHART_COLORS.lmstudio.hex, values: gib(g.lmstudio_bytes) },
              ]} />,
            <Chart key={`${g.index}-load`} t={hist.t} yLabel={`GPU ${g.index} util. (%)`} yRange={[0, 100]}
              y2Label="°C" y2Range={[0, 110]} fmtY={(v) => v.toFixed(0)} fmtY2={(v) => v.toFixed(0)}
              label={`GPU ${g.index} utilisation and temperature over time`}
              series={[
                { label: 'utilisation %', color: CHART_COLORS.util.hex, values: g.utilization_ratio.map((v) => (v === null ? null : v * 100)) },
                { label: 'temperature °C', color: CHART_COLORS.temperature.hex, scale: 'y2', values: g.temperature_c },
              ]} />,
          ];
        })}
      </div>
    </section>
  );
}
