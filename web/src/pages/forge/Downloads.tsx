// Downloads.tsx - start a download on the target (catalog id or Hugging
// Face URL, optional quantization) and follow every job's progress as the
// server pushes it on /api/events (it polls LM Studio once per job).
import { useState } from 'preact/hooks';
import { ApiError } from '../../api';
import * as forgeApi from '../../api/forge';
import type { DownloadJob } from '../../api/forge';
import { ErrorSlot } from '../../components/Alert';
import { Spinner } from '../../components/Spinner';
import { btn, hint, input, label, panel } from '../../components/ui';
import { relativeTime } from '../../lib/format';
import { formatBytes, formatRate, percent } from '../../lib/forgeFormat';
import { errorText } from '../../lib/useLoad';

const QUANT_RE = /^[A-Za-z0-9_.-]{1,32}$/;

const STATUS_TEXT: Record<string, string> = {
  downloading: 'downloading', paused: 'paused', completed: 'completed', failed: 'failed',
  already_downloaded: 'already downloaded', unknown: 'status unknown',
};
const STATUS_CLASS: Record<string, string> = {
  completed: 'border-emerald-300 text-emerald-300',
  already_downloaded: 'border-emerald-300 text-emerald-300',
  failed: 'border-red-400 text-red-200',
  unknown: 'border-amber-300 text-amber-200',
  paused: 'border-amber-300 text-amber-200',
  downloading: 'border-indigo-400 text-indigo-200',
};

function jobError(j: DownloadJob): string {
  const e = j.error;
  if (!e) return '';
  if (typeof e === 'string') return e;
  return e.message || e.code || 'failed';
}

export function JobRow({ j }: { j: DownloadJob }) {
  const total = j.total_size_bytes ?? 0;
  const done = j.status === 'completed' ? total : (j.downloaded_bytes ?? 0);
  const pct = total > 0 ? percent(done, total) : null;
  const err = jobError(j);
  return (
    <li class="space-y-1.5 py-3" data-testid="download-job" data-status={j.status}>
      <div class="flex flex-wrap items-center justify-between gap-2">
        <span class="min-w-0 break-all font-mono text-sm text-slate-100">{j.model}{j.quantization ? ` · ${j.quantization}` : ''}</span>
        <span class={`rounded-full border px-2 py-0.5 text-xs ${STATUS_CLASS[j.status] ?? STATUS_CLASS.unknown}`}>{STATUS_TEXT[j.status] ?? j.status}</span>
      </div>
      {j.status !== 'already_downloaded' ? (
        <div class="h-2 w-full overflow-hidden rounded bg-slate-800" role="progressbar" aria-label={`Download of ${j.model}`}
          aria-valuemin={0} aria-valuemax={100} aria-valuenow={pct === null ? undefined : Math.round(pct)}
          aria-valuetext={pct === null ? 'size not known yet' : `${Math.round(pct)} %`}>
          <div class={`h-full ${j.status === 'failed' ? 'bg-red-400' : j.status === 'completed' ? 'bg-emerald-300' : 'bg-indigo-400'}`}
            style={{ width: `${pct ?? 0}%` }} />
        </div>
      ) : null}
      <p class="text-xs text-slate-400">
        {total > 0 ? `${formatBytes(done)} of ${formatBytes(total)}${pct !== null ? ` (${Math.round(pct)} %)` : ''}` : 'size not reported yet'}
        {j.status === 'downloading' && j.bytes_per_second ? ` · ${formatRate(j.bytes_per_second)}` : ''}
        {j.status === 'downloading' && j.estimated_completion ? ` · done ${relativeTime(j.estimated_completion)}` : ''}
        {j.status === 'completed' && j.completed_at ? ` · finished ${relativeTime(j.completed_at)}` : ''}
      </p>
      {err ? <p class="text-xs text-red-200" role="alert">{err}</p> : null}
    </li>
  );
}

export function Downloads({ targetId, jobs, canStart, onStarted }: {
  targetId: number;
  jobs: DownloadJob[];
  canStart: boolean;
  onStarted: (j: DownloadJob) => void;
}) {
  const [model, setModel] = useState('');
  const [quant, setQuant] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const [note, setNote] = useState('');

  const submit = async () => {
    if (busy) return;
    const m = model.trim(), q = quant.trim();
    if (!m || m.length > 512) { setError('Enter a model id (e.g. qwen/qwen3-1.7b) or a Hugging Face URL, up to 512 characters.'); return; }
    if (q && !QUANT_RE.test(q)) { setError('Quantization: 1 to 32 of A–Z a–z 0–9 _ . - (e.g. Q4_K_M).'); return; }
    setBusy(true); setError(''); setNote('');
    try {
      const j = await forgeApi.startDownload(targetId, m, q || null);
      onStarted(j);
      if (j.status === 'already_downloaded') setNote(`${j.model} is already downloaded.`);
      setModel(''); setQuant('');
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 401)) setError(errorText(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section class={`${panel} p-4 sm:p-5`} aria-labelledby="downloads-h">
      <h2 id="downloads-h" class="text-base font-semibold text-white">Downloads</h2>
      {canStart ? (
        <form class="mt-3 grid gap-3 sm:grid-cols-[1fr_10rem_auto] sm:items-end" onSubmit={(e) => { e.preventDefault(); void submit(); }} noValidate>
          <div>
            <label for="dl-model" class={label}>Model id or Hugging Face URL</label>
            <input id="dl-model" class={`${input} mt-1`} value={model} placeholder="qwen/qwen3-1.7b" autoComplete="off" spellcheck={false}
              maxLength={512} onInput={(e) => setModel((e.target as HTMLInputElement).value)} />
          </div>
          <div>
            <label for="dl-quant" class={label}>Quantization <span class="font-normal text-slate-400">(optional)</span></label>
            <input id="dl-quant" class={`${input} mt-1`} value={quant} placeholder="Q4_K_M" autoComplete="off" spellcheck={false}
              maxLength={32} onInput={(e) => setQuant((e.target as HTMLInputElement).value)} />
          </div>
          <button type="submit" class={btn.primary} aria-disabled={busy ? 'true' : undefined}>
            {busy ? <Spinner /> : null}Download
          </button>
        </form>
      ) : null}
      {canStart ? <p class={hint}>Quantization applies to Hugging Face links only. Progress is pushed by the server as LM Studio reports it.</p> : null}
      <ErrorSlot error={error} class="mt-3" />
      {note ? <p class="mt-2 text-sm text-emerald-300" role="status">{note}</p> : null}
      {jobs.length ? (
        <ul class="mt-2 divide-y divide-slate-800" aria-label="Download jobs">{jobs.map((j) => <JobRow key={j.job_id ?? j.model} j={j} />)}</ul>
      ) : (
        <p class="mt-3 text-sm text-slate-400">No downloads on this target in the last hour.</p>
      )}
    </section>
  );
}
