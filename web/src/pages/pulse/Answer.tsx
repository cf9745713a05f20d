// Answer.tsx - one assistant answer, live or from history: progress (model
// load, prompt processing), the reasoning in a collapsible panel with its
// token count, the answer as safe Markdown, tool calls, in-stream errors,
// the stats bar (ours at the server and in the browser, LM Studio's own
// beside them), for a live run the tokens/s chart, and once it ended: Copy
// answer, and Regenerate on the conversation's last one.
import { useMemo, useRef, useState } from 'preact/hooks';
import { Alert } from '../../components/Alert';
import { btn } from '../../components/ui';
import { useCopy } from '../../lib/clipboard';
import { renderMarkdown } from '../../lib/markdownRender';
import { isActive, type RunState } from '../../lib/pulseRun';
import {
  arrivalRate, browserTtftMs, fmtCount, fmtMs, fmtRate, lmstudioFigures, reasoningTokens, serverFigures, stopReasonText,
} from '../../lib/pulseStats';
import { outsideAllowed } from '../../lib/pulseTools';
import { groupToolCalls } from '../../lib/toolchainRun';
import { CallCard } from '../toolchain/CallCard';
import { CodeBlock } from './CodeBlock';
import { RateChart } from './RateChart';

const STATUS_TEXT: Record<RunState['status'], string> = {
  sending: 'waiting for the daemon', loading: 'loading the model', processing: 'processing the prompt',
  streaming: 'streaming', done: 'done', stopped: 'stopped', error: 'failed',
};

const STATUS_CLASS: Record<RunState['status'], string> = {
  sending: 'border-indigo-400 text-indigo-200', loading: 'border-indigo-400 text-indigo-200',
  processing: 'border-indigo-400 text-indigo-200', streaming: 'border-indigo-400 text-indigo-200',
  done: 'border-emerald-300 text-emerald-300', stopped: 'border-amber-300 text-amber-200', error: 'border-red-400 text-red-200',
};

function Bar({ label, value, testId }: { label: string; value: number; testId: string }) {
  const pct = Math.max(0, Math.min(100, Math.round(value * 100)));
  return (
    <div class="mb-2" data-testid={testId}>
      <div class="mb-1 flex justify-between text-xs text-slate-300"><span>{label}</span><span>{pct} %</span></div>
      <div class="h-1.5 w-full overflow-hidden rounded bg-slate-800" role="progressbar" aria-label={label}
        aria-valuemin={0} aria-valuemax={100} aria-valuenow={pct}>
        <div class="h-full rounded bg-indigo-400 transition-[width]" style={{ width: `${pct}%` }} />
      </div>
    </div>
  );
}

function Figure({ label, value, title, testId }: { label: string; value: string; title?: string; testId?: string }) {
  return (
    <div class="min-w-0" title={title} data-testid={testId}>
      <dt class="text-[11px] font-semibold uppercase tracking-wider text-slate-400">{label}</dt>
      <dd class="break-words font-mono text-sm text-slate-100">{value}</dd>
    </div>
  );
}

export function StatsBar({ run }: { run: RunState }) {
  const s = serverFigures(run.stats);
  const live = run.sentAt !== null; // browser timings exist only for runs made on this page
  const bTtft = browserTtftMs(run.sentAt, run.firstTokenAt);
  const bRate = arrivalRate(run.reasoningEvents + run.contentEvents, run.firstTokenAt, run.lastTokenAt);
  const lm = lmstudioFigures(run.stats?.lmstudio);
  const tokens = s.tokens ?? (live ? run.reasoningEvents + run.contentEvents : null);
  return (
    <div class="@container mt-3 rounded-lg border border-slate-700 bg-slate-950 p-3" data-testid="stats-bar">
      <dl class="grid grid-cols-2 gap-x-4 gap-y-2 @sm:grid-cols-3 @xl:grid-cols-4 @4xl:grid-cols-7">
        <Figure label="TTFT server" value={fmtMs(s.ttft)} title="request sent to LM Studio → first token at DaemonPulse" testId="ttft-server" />
        {live ? <Figure label="TTFT browser" value={fmtMs(bTtft)} title="Send clicked → first token in this tab" testId="ttft-browser" /> : null}
        <Figure label="tok/s server" value={fmtRate(s.rate)} title="rate at which tokens reached DaemonPulse" testId="rate-server" />
        {live ? <Figure label="tok/s browser" value={fmtRate(bRate)} title="rate at which tokens reached this tab" testId="rate-browser" /> : null}
        <Figure label="tokens" value={`${fmtCount(tokens)}${s.tokensSource === 'events' ? ' (events)' : ''}`}
          title={s.tokensSource === 'lmstudio' ? 'as counted by LM Studio' : 'reasoning + content events'} testId="tokens" />
        <Figure label="generation" value={fmtMs(s.generation)} title="first to last token at DaemonPulse" />
        <Figure label="stop" value={stopReasonText(run.stopReason)} title={run.stopReason ?? ''} testId="stop-reason" />
      </dl>
      {lm.length ? (
        <div class="mt-3 border-t border-slate-800 pt-2" data-testid="lmstudio-stats">
          <p class="mb-1 text-[11px] font-semibold uppercase tracking-wider text-slate-400">LM Studio reports</p>
          <dl class="grid grid-cols-2 gap-x-4 gap-y-2 @sm:grid-cols-3 @xl:grid-cols-4 @4xl:grid-cols-7">
            {lm.map((f) => <Figure key={f.label} label={f.label} value={f.value} />)}
          </dl>
        </div>
      ) : run.stats ? <p class="mt-2 text-xs text-slate-400">LM Studio sent no stats of its own for this answer.</p> : null}
    </div>
  );
}

export function Answer({ run, chart = true, heading, allowed = null, onRegenerate, regenerateLabel = 'Regenerate' }: {
  run: RunState; chart?: boolean; heading?: string;
  /** the tools a toolchain run was sent with (server label -> tools), to mark calls outside them */
  allowed?: ReadonlyMap<string, ReadonlySet<string>> | null;
  /** offered on the conversation's last answer */
  onRegenerate?: () => void; regenerateLabel?: string;
}) {
  const [copied, copy] = useCopy();
  const active = isActive(run);
  const hasReasoning = run.reasoning.length > 0;
  // open while the model is thinking, closed once the answer starts (the user may toggle either way)
  const [open, setOpen] = useState<boolean | null>(null);
  const thinking = active && hasReasoning && run.content === '';
  const userToggle = useRef(false);
  const reasoningOpen = open ?? thinking;
  const rt = reasoningTokens(run.stats, run.reasoningEvents);
  const body = useMemo(() => renderMarkdown(run.content, { CodeBlock }), [run.content]);
  const tools = groupToolCalls(run.toolCalls);
  const span = run.firstTokenAt !== null && run.lastTokenAt !== null ? run.lastTokenAt - run.firstTokenAt : 0;
  // a stream that arrived all at once has no curve worth drawing
  const tooFast = !active && run.tokenTimes.length > 0 && span < 300;
  const showChart = chart && run.sentAt !== null && run.tokenTimes.length > 0 && !tooFast;

  return (
    <article class="min-w-0 rounded-xl border border-slate-700 bg-slate-900 p-4" aria-busy={active}
      data-testid="answer" data-status={run.status}>
      <header class="mb-2 flex flex-wrap items-center gap-2">
        <h3 class="min-w-0 truncate text-sm font-semibold text-white">{heading ?? (run.model || 'Assistant')}</h3>
        <span class={`rounded-full border px-2 py-0.5 text-xs font-medium ${STATUS_CLASS[run.status]}`} data-testid="answer-status"
          role={run.sentAt !== null ? 'status' : undefined}>
          {STATUS_TEXT[run.status]}
        </span>
      </header>

      {run.modelLoad !== null && run.status === 'loading' ? <Bar label="Loading the model" value={run.modelLoad} testId="model-load" /> : null}
      {run.modelLoad !== null && run.modelLoad >= 1 && run.modelLoadSeconds !== null
        ? <p class="mb-2 text-xs text-slate-400">Model loaded for this request in {fmtMs(run.modelLoadSeconds * 1000)}.</p> : null}
      {run.promptProgress !== null && run.firstTokenAt === null && active
        ? <Bar label="Processing the prompt" value={run.promptProgress} testId="prompt-progress" /> : null}

      {hasReasoning ? (
        <details class="mb-3 rounded-lg border border-slate-700 bg-slate-950" open={reasoningOpen}
          onToggle={(e) => {
            // only the user's own clicks pin the panel; our open/close while streaming does not
            if (userToggle.current) setOpen((e.currentTarget as HTMLDetailsElement).open);
            userToggle.current = false;
          }} data-testid="reasoning">
          <summary onClick={() => { userToggle.current = true; }} class="cursor-pointer select-none px-3 py-2 text-sm font-medium text-slate-200">
            Reasoning
            <span class="ml-2 text-xs font-normal text-slate-400" data-testid="reasoning-count">
              {rt ? `${rt.count} ${rt.source === 'lmstudio' ? 'tokens' : 'tokens (events)'}` : ''}{thinking ? ' · thinking…' : ''}
            </span>
          </summary>
          <div class="max-h-80 overflow-y-auto whitespace-pre-wrap break-words border-t border-slate-800 px-3 py-2 text-sm text-slate-300"
            data-testid="reasoning-text">{run.reasoning}</div>
        </details>
      ) : null}

      {tools.length ? (
        <section class="mb-3" aria-label="Tool calls">
          <p class="mb-2 text-[11px] font-semibold uppercase tracking-wider text-slate-400">Tool calls</p>
          <ol class="space-y-2" data-testid="tool-calls">
            {tools.map((c) => <CallCard key={c.key} call={c} outside={outsideAllowed(allowed, c.server, c.tool)} />)}
          </ol>
        </section>
      ) : null}

      <div class="min-w-0 break-words text-sm leading-relaxed text-slate-200" data-testid="answer-content">
        {run.content ? body : active
          ? <p class="text-slate-400">{hasReasoning ? 'The answer starts after the reasoning…'
            : run.status === 'loading' ? 'Waiting for the model to load…'
              : run.status === 'processing' ? 'Waiting for the prompt to be processed…' : 'Waiting for the first token…'}</p>
          : run.errors.length ? null
            : <p class="text-slate-400">{run.status === 'stopped' ? 'Stopped before the answer began.' : 'No answer text.'}</p>}
        {active && run.content ? <span class="ml-0.5 inline-block h-4 w-1.5 translate-y-0.5 bg-indigo-400 motion-safe:animate-pulse" aria-hidden="true" /> : null}
      </div>

      {run.errors.length ? (
        <div class="mt-3 space-y-2" data-testid="answer-errors">
          {run.errors.map((e, i) => (
            <Alert key={i} kind={e.code === 'stopped' ? 'warning' : 'error'} title={e.code === 'stopped' ? 'Stopped' : `Error: ${e.code}`}>
              {e.message}
            </Alert>
          ))}
        </div>
      ) : null}

      {!active || run.stats ? <StatsBar run={run} /> : null}
      {chart && tooFast ? (
        <p class="mt-2 text-xs text-slate-400" data-testid="rate-too-fast">
          All {run.tokenTimes.length} tokens reached this tab within {fmtMs(span)}: too fast for a tokens/s chart.
        </p>
      ) : null}
      {showChart ? <RateChart times={run.tokenTimes} live={active} endAt={run.endedAt} label="Tokens per second (browser)" /> : null}
      {!active && (run.content || onRegenerate) ? (
        <div class="mt-3 flex flex-wrap items-center gap-2" data-testid="answer-actions">
          {run.content ? (
            <button type="button" class={btn.secondary} onClick={() => copy(run.content)}>
              {copied === 'copied' ? 'Copied' : copied === 'failed' ? 'Copy failed' : 'Copy answer'}
            </button>
          ) : null}
          {onRegenerate ? <button type="button" class={btn.secondary} onClick={onRegenerate}>{regenerateLabel}</button> : null}
          <span class="sr-only" aria-live="polite">{copied === 'copied' ? 'Answer copied' : copied === 'failed' ? 'Copy failed' : ''}</span>
        </div>
      ) : null}
    </article>
  );
}
