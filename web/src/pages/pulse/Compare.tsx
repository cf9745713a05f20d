// Compare.tsx - Compare mode: one prompt to two models (or two configs of
// one: another API, another target) side by side, both streaming at once,
// their numbers next to each other. Runs are not saved to the history
// unless asked (save: false keeps experiments out of it).
import { useRef, useState } from 'preact/hooks';
import { streamChat, type ChatHandle } from '../../api/chat';
import type { Target } from '../../api/targets';
import { ErrorSlot } from '../../components/Alert';
import { hint, input, panel } from '../../components/ui';
import { samplingFields } from '../../lib/pulseForm';
import { applyEvent, closeRun, isActive, newRun, type RunState } from '../../lib/pulseRun';
import { fmtCount, fmtMs, fmtRate, serverFigures, stopReasonText, arrivalRate, browserTtftMs } from '../../lib/pulseStats';
import { Answer } from './Answer';
import { applyPickerChange, Picker, Sampling, SendButtons, SystemPrompt, type PickerValue } from './Controls';
import { baseRequest, useAbortOnUnmount, useFramePaint, type Shared } from './shared';
import { Slots } from './Slots';

const SIDES = ['A', 'B'] as const;

function CompareTable({ runs }: { runs: (RunState | null)[] }) {
  const rows: [string, (r: RunState) => string][] = [
    ['Model', (r) => r.model],
    ['TTFT server', (r) => fmtMs(serverFigures(r.stats).ttft)],
    ['TTFT browser', (r) => fmtMs(browserTtftMs(r.sentAt, r.firstTokenAt))],
    ['tok/s server', (r) => fmtRate(serverFigures(r.stats).rate)],
    ['tok/s browser', (r) => fmtRate(arrivalRate(r.reasoningEvents + r.contentEvents, r.firstTokenAt, r.lastTokenAt))],
    ['tok/s LM Studio', (r) => fmtRate(typeof r.stats?.lmstudio?.tokens_per_second === 'number' ? r.stats.lmstudio.tokens_per_second : null)],
    ['Tokens', (r) => fmtCount(serverFigures(r.stats).tokens ?? r.reasoningEvents + r.contentEvents)],
    ['Generation', (r) => fmtMs(serverFigures(r.stats).generation)],
    ['Stop', (r) => stopReasonText(r.stopReason)],
  ];
  if (!runs[0] || !runs[1]) return null;
  return (
    <div class={`${panel} p-3`}>
      <table class="w-full table-fixed text-sm" data-testid="compare-table">
        <caption class="mb-2 text-left text-xs font-semibold uppercase tracking-wider text-slate-400">Side by side</caption>
        <thead>
          <tr class="text-left text-xs text-slate-400">
            <th scope="col" class="w-28 py-1 pr-3 font-medium sm:w-40">Figure</th>
            <th scope="col" class="py-1 pr-3 font-medium">A</th>
            <th scope="col" class="py-1 font-medium">B</th>
          </tr>
        </thead>
        <tbody>
          {rows.map(([label, f]) => (
            <tr key={label} class="border-t border-slate-800">
              <th scope="row" class="py-1 pr-3 text-left font-normal text-slate-300">{label}</th>
              <td class="break-words py-1 pr-3 font-mono text-slate-100">{f(runs[0]!)}</td>
              <td class="break-words py-1 font-mono text-slate-100">{f(runs[1]!)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function CompareView({ targets, initial, shared, setShared, canChat }: {
  targets: Target[]; initial: PickerValue; shared: Shared; setShared: (s: Shared) => void; canChat: boolean;
}) {
  const [pickers, setPickers] = useState<PickerValue[]>([initial, initial]);
  const [runs, setRuns] = useState<(RunState | null)[]>([null, null]);
  const runRefs = useRef<(RunState | null)[]>([null, null]);
  const handles = useRef<(ChatHandle | null)[]>([null, null]);
  const [prompt, setPrompt] = useState('');
  const [save, setSave] = useState(false);
  const [errors2, setErrors2] = useState(['', '']);
  const [modelsVersion, setModelsVersion] = useState(0);
  useAbortOnUnmount(handles);

  const busy = runs.some(isActive);
  const checks = pickers.map((p) => samplingFields(shared.sampling, p.api));
  const mergedErrors = { ...checks[0].errors, ...checks[1].errors };
  const ready = pickers.every((p) => p.targetId !== null && p.model !== '');
  const canSend = canChat && !busy && prompt.trim() !== '' && ready && Object.keys(mergedErrors).length === 0;

  const paint = useFramePaint(() => setRuns([...runRefs.current]));
  const set = (i: number, r: RunState | null, now = false) => {
    runRefs.current[i] = r;
    if (now) paint.now(); else paint.schedule();
  };

  const send = () => {
    if (!canSend) return;
    setErrors2(['', '']);
    pickers.forEach((p, i) => {
      const req = { ...baseRequest(p, shared, checks[i].fields), messages: [{ role: 'user' as const, content: prompt }], save };
      set(i, newRun(p.model, null), true);
      handles.current[i] = streamChat(p.targetId!, req, {
        onSent: (at) => { const r = runRefs.current[i]; if (r) set(i, { ...r, sentAt: at }); },
        onEvent: (e, at) => { const r = runRefs.current[i]; if (r) set(i, applyEvent(r, e, at)); },
        onClose: (err, aborted) => {
          handles.current[i] = null;
          const r = runRefs.current[i];
          if (!r) return;
          if (err && r.requestId === '') {
            setErrors2((old) => old.map((x, k) => (k === i ? err.message : x)));
            set(i, null, true);
            return;
          }
          set(i, closeRun(r, performance.now(), err ? { code: err.code, message: err.message } : null, aborted), true);
          setModelsVersion((v) => v + 1);
        },
      });
    });
  };

  const stop = () => { for (const h of handles.current) h?.stop(); };

  const onKeyDown = (e: KeyboardEvent) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) { e.preventDefault(); send(); }
    else if (e.key === 'Escape' && busy) { e.preventDefault(); stop(); }
  };

  return (
    <div class="space-y-4">
      <div class="grid gap-4 md:grid-cols-2">
        {SIDES.map((s, i) => (
          <section key={s} class={`${panel} p-4`} aria-label={`Configuration ${s}`}>
            <Picker id={`cmp-${s.toLowerCase()}`} legend={`Configuration ${s}`} value={pickers[i]} targets={targets} disabled={busy} refresh={modelsVersion}
              onChange={(c) => setPickers((old) => old.map((x, k) => (k === i ? applyPickerChange(x, c) : x)))} />
            <ErrorSlot error={errors2[i]} class="mt-2" />
          </section>
        ))}
      </div>
      <section class={`${panel} space-y-3 p-4`} aria-label="Shared settings">
        <SystemPrompt id="cmp-system" value={shared.system} onInput={(v) => setShared({ ...shared, system: v })} />
        <Sampling value={shared.sampling} errors={mergedErrors} api={pickers.map((p) => p.api)}
          onChange={(v) => setShared({ ...shared, sampling: v })} />
        <div>
          <label for="cmp-prompt" class="block text-sm font-medium text-slate-200">Prompt for both</label>
          <textarea id="cmp-prompt" rows={3} class={`${input} mt-1`} value={prompt} disabled={!canChat}
            placeholder="The same prompt goes to A and B at once" aria-describedby="cmp-prompt-hint" onKeyDown={onKeyDown}
            onInput={(e) => setPrompt((e.currentTarget as HTMLTextAreaElement).value)} />
          <p id="cmp-prompt-hint" class={hint}>Ctrl+Enter or ⌘+Enter sends to both; Escape stops both.</p>
        </div>
        <div class="flex flex-wrap items-center gap-3">
          <SendButtons busy={busy} canSend={canSend} onSend={send} onStop={stop} sendLabel="Send to both" />
          <label class="inline-flex items-center gap-2 text-sm text-slate-200">
            <input type="checkbox" class="h-4 w-4 accent-indigo-400" checked={save} disabled={busy}
              onChange={(e) => setSave((e.currentTarget as HTMLInputElement).checked)} />
            Save both to history
          </label>
        </div>
      </section>

      <div class="grid gap-4 md:grid-cols-2">
        {pickers[0].targetId !== null && pickers[0].targetId === pickers[1].targetId
          ? <div class="md:col-span-2"><Slots targetId={pickers[0].targetId} highlight={pickers.map((p) => p.model)} /></div>
          : SIDES.map((s, i) => <Slots key={s} targetId={pickers[i].targetId} highlight={[pickers[i].model]} />)}
      </div>

      <CompareTable runs={runs} />
      <div class="grid gap-4 md:grid-cols-2" data-testid="compare-answers">
        {SIDES.map((s, i) => (
          <div key={s} class="min-w-0" data-testid={`compare-${s.toLowerCase()}`}>
            {runs[i] ? <Answer run={runs[i]!} heading={`${s}: ${runs[i]!.model}`} />
              : <p class="rounded-xl border border-dashed border-slate-700 p-6 text-center text-sm text-slate-400">{s}: no answer yet</p>}
          </div>
        ))}
      </div>
    </div>
  );
}
