// Perf.tsx - Console → Performance: tokens/s, time to first token, prompt
// and generated tokens of the last predictions per model, from LM Studio's
// own `llm.prediction.output` stats (GET /api/targets/{id}/perf, refreshed
// every few seconds while this view is open; asking keeps the target's model
// log stream running). Missing figures stay "—".
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError } from '../../api/http';
import { getPerf, type PerfView } from '../../api/logs';
import { Alert } from '../../components/Alert';
import { Spinner } from '../../components/Spinner';
import { input, label, panel } from '../../components/ui';
import { formatDateTime } from '../../lib/format';
import { clock, fmt, fmtInt, fmtTtft, newestModel } from '../../lib/consolePerf';
import { statusBanner } from '../../lib/consoleFormat';
import { errorText } from '../../lib/useLoad';
import { PerfChart } from './PerfChart';

const N = 50;
const POLL_MS = 3000;

export function Perf({ targetId }: { targetId: number }) {
  const [view, setView] = useState<PerfView | null>(null);
  const [error, setError] = useState('');
  const [model, setModel] = useState<string | null>(null);
  const seq = useRef(0);

  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | null = null;
    const ac = new AbortController();
    const load = () => {
      const n = ++seq.current;
      getPerf(targetId, N, ac.signal).then((v) => {
        if (n !== seq.current) return;
        setView(v); setError('');
      }, (e) => {
        if (ac.signal.aborted || (e instanceof ApiError && e.status === 401)) return;
        setError(errorText(e));
      }).finally(() => {
        if (!ac.signal.aborted) timer = setTimeout(load, POLL_MS);
      });
    };
    load();
    return () => { ac.abort(); if (timer) clearTimeout(timer); };
  }, [targetId]);

  if (!view) {
    return error
      ? <Alert kind="error" title="Could not load the performance figures">{error}</Alert>
      : <Spinner label="Loading performance figures…" class="h-5 w-5 text-indigo-300" />;
  }
  const models = view.models;
  const shown = models.find((m) => m.model === model) ?? models.find((m) => m.model === newestModel(models)) ?? null;
  const banner = view.stream ? statusBanner(view.stream) : null;
  const preds = shown?.predictions ?? [];
  const last = preds[preds.length - 1];

  return (
    <section aria-labelledby="perf-heading" class="space-y-4">
      <div>
        <h2 id="perf-heading" class="text-lg font-semibold text-white">Performance per model</h2>
        <p class="text-sm text-slate-400">
          From LM Studio’s own statistics of each prediction (the model log source), last {N} per model.
          {view.since ? ` Collecting since ${formatDateTime(view.since)}.` : ''}
        </p>
      </div>
      {error ? <Alert kind="error" title="Could not refresh">{error}</Alert> : null}
      {banner ? <Alert kind={banner.kind} title={banner.title}>{banner.text}</Alert> : null}
      {!models.length ? (
        <p class={`${panel} p-4 text-sm text-slate-300`} data-testid="perf-empty">
          {view.collecting
            ? 'No prediction seen yet. Statistics appear here after the next chat or completion on this target.'
            : 'Not collecting: the model log stream is not available on this target, so there are no statistics.'}
        </p>
      ) : (
        <>
          <ul class="space-y-2 sm:hidden" aria-label="Summary per model">
            {models.map((m) => (
              <li key={m.model} class={`${panel} p-3 text-sm`}>
                <p class="break-all font-mono text-xs text-slate-100">{m.model}</p>
                <dl class="mt-2 grid grid-cols-3 gap-2 text-slate-200">
                  <div><dt class="text-xs text-slate-400">Predictions</dt><dd>{fmtInt(m.count)}</dd></div>
                  <div><dt class="text-xs text-slate-400">Tokens/s avg</dt><dd>{fmt(m.tokens_per_second.avg)}</dd></div>
                  <div><dt class="text-xs text-slate-400">TTFT avg</dt><dd>{fmtTtft(m.ttft_sec.avg)}</dd></div>
                </dl>
              </li>
            ))}
          </ul>
          <div class={`${panel} hidden overflow-x-auto sm:block`} role="region" aria-label="Models" tabIndex={0}>
            <table class="w-full min-w-[36rem] text-left text-sm" data-testid="perf-models">
              <caption class="sr-only">Summary per model</caption>
              <thead class="border-b border-slate-700 text-xs uppercase tracking-wider text-slate-400">
                <tr>
                  <th scope="col" class="px-3 py-2 font-semibold">Model</th>
                  <th scope="col" class="px-3 py-2 text-right font-semibold">Predictions</th>
                  <th scope="col" class="px-3 py-2 text-right font-semibold">Tokens/s avg · p50</th>
                  <th scope="col" class="px-3 py-2 text-right font-semibold">TTFT avg · p50</th>
                </tr>
              </thead>
              <tbody class="divide-y divide-slate-800">
                {models.map((m) => (
                  <tr key={m.model} data-model={m.model}>
                    <td class="whitespace-nowrap px-3 py-2 font-mono text-xs text-slate-100">{m.model}</td>
                    <td class="whitespace-nowrap px-3 py-2 text-right text-slate-200">{fmtInt(m.count)}</td>
                    <td class="whitespace-nowrap px-3 py-2 text-right text-slate-200">{fmt(m.tokens_per_second.avg)} · {fmt(m.tokens_per_second.p50)}</td>
                    <td class="whitespace-nowrap px-3 py-2 text-right text-slate-200">{fmtTtft(m.ttft_sec.avg)} · {fmtTtft(m.ttft_sec.p50)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>

          {shown ? (
            <div class={`${panel} space-y-3 p-4`}>
              <div class="flex flex-wrap items-end justify-between gap-3">
                <h3 class="text-base font-semibold text-white">Last {preds.length} predictions of <span class="font-mono">{shown.model}</span></h3>
                {models.length > 1 ? (
                  <div class="w-full sm:w-72">
                    <label for="perf-model" class={label}>Model</label>
                    <select id="perf-model" class={`${input} mt-1`} value={shown.model}
                      onChange={(e) => setModel((e.currentTarget as HTMLSelectElement).value)}>
                      {models.map((m) => <option key={m.model} value={m.model}>{m.model}</option>)}
                    </select>
                  </div>
                ) : null}
              </div>
              <PerfChart preds={preds}
                summary={last ? `Latest: ${fmt(last.tokens_per_second)} tokens per second, first token after ${fmtTtft(last.ttft_sec)}.` : ''} />
              <div class="overflow-x-auto" role="region" aria-label="Predictions" tabIndex={0}>
                <table class="w-full min-w-[40rem] text-left text-sm" data-testid="perf-predictions">
                  <caption class="sr-only">Predictions, newest first</caption>
                  <thead class="border-b border-slate-700 text-xs uppercase tracking-wider text-slate-400">
                    <tr>
                      <th scope="col" class="px-3 py-2 font-semibold">When</th>
                      <th scope="col" class="px-3 py-2 text-right font-semibold">Tokens/s</th>
                      <th scope="col" class="px-3 py-2 text-right font-semibold">TTFT</th>
                      <th scope="col" class="px-3 py-2 text-right font-semibold">Prompt</th>
                      <th scope="col" class="px-3 py-2 text-right font-semibold">Generated</th>
                      <th scope="col" class="px-3 py-2 text-right font-semibold">Total time</th>
                      <th scope="col" class="px-3 py-2 font-semibold">Stop</th>
                    </tr>
                  </thead>
                  <tbody class="divide-y divide-slate-800">
                    {[...preds].reverse().map((p, i) => (
                      <tr key={`${p.ts_ms}-${i}`} data-testid="perf-row">
                        <td class="whitespace-nowrap px-3 py-1.5 text-slate-300" title={formatDateTime(p.ts)}>{clock(p.ts_ms)}</td>
                        <td class="whitespace-nowrap px-3 py-1.5 text-right text-slate-100">{fmt(p.tokens_per_second)}</td>
                        <td class="whitespace-nowrap px-3 py-1.5 text-right text-slate-200">{fmtTtft(p.ttft_sec)}</td>
                        <td class="whitespace-nowrap px-3 py-1.5 text-right text-slate-200">{fmtInt(p.prompt_tokens)}</td>
                        <td class="whitespace-nowrap px-3 py-1.5 text-right text-slate-200">{fmtInt(p.predicted_tokens)}</td>
                        <td class="whitespace-nowrap px-3 py-1.5 text-right text-slate-200">{p.total_time_sec === null ? '—' : `${fmt(p.total_time_sec, 2)} s`}</td>
                        <td class="whitespace-nowrap px-3 py-1.5 font-mono text-xs text-slate-300">{p.stop_reason ?? '—'}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            </div>
          ) : null}
        </>
      )}
    </section>
  );
}
