// Run.tsx - the Toolchain run panel: model, prompt and the servers to
// attach; a preview of exactly which tools LM Studio will be allowed to
// call (GET …/toolchain/integrations); then the stream: tool calls with
// their arguments and output (bounded, expandable), reasoning, the answer
// (safe Markdown) and the stats. The request goes to POST
// …/toolchain/run, whose server side sends an explicit allowed_tools list
// per server and leaves out servers with nothing allowed.
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import type { ChatHandle } from '../../api/chat';
import { listServers, previewIntegrations, streamRun, type IntegrationsPreview, type McpServer } from '../../api/mcp';
import { getModels, type Target } from '../../api/targets';
import { Alert, ErrorSlot } from '../../components/Alert';
import { ProgressBar, Spinner } from '../../components/Spinner';
import { btn, hint, input, label, panel } from '../../components/ui';
import { renderMarkdown } from '../../lib/markdownRender';
import { defaultModel, modelOptions } from '../../lib/pulseForm';
import { applyEvent, closeRun, isActive, newRun, type RunState } from '../../lib/pulseRun';
import { attachable, countsText, skipText } from '../../lib/toolchainPolicy';
import { groupToolCalls } from '../../lib/toolchainRun';
import { useLoad } from '../../lib/useLoad';
import { StatsBar } from '../pulse/Answer';
import { CodeBlock } from '../pulse/CodeBlock';
import { Badge } from './Badge';
import { CallCard } from './CallCard';
import type { Access } from './Toolchain';

const STATUS: Record<RunState['status'], { text: string; tone: 'info' | 'ok' | 'warn' | 'bad' }> = {
  sending: { text: 'waiting for the daemon', tone: 'info' }, loading: { text: 'loading the model', tone: 'info' },
  processing: { text: 'processing the prompt', tone: 'info' }, streaming: { text: 'streaming', tone: 'info' },
  done: { text: 'done', tone: 'ok' }, stopped: { text: 'stopped', tone: 'warn' }, error: { text: 'failed', tone: 'bad' },
};

export function RunPanel({ target, access }: { target: Target; access: Access }) {
  const servers = useLoad((s) => listServers(target.id, s), [target.id]);
  const models = useLoad((s) => getModels(target.id, s), [target.id]);
  const opts = modelOptions(models.data?.models ?? []);
  const [model, setModel] = useState('');
  const [prompt, setPrompt] = useState('');
  const [chosen, setChosen] = useState<Set<number> | null>(null);
  const [run, setRun] = useState<RunState | null>(null);
  // the allowed set the run was sent with (label -> tools), to flag calls outside it
  const [allowedSet, setAllowedSet] = useState<Map<string, Set<string>> | null>(null);
  const runRef = useRef<RunState | null>(null);
  const handle = useRef<ChatHandle | null>(null);
  const [error, setError] = useState('');
  useEffect(() => () => handle.current?.abort(), []);
  useEffect(() => {
    if (models.data) { const m = defaultModel(opts, model); if (m !== model) setModel(m); }
  }, [models.data]);

  const list: McpServer[] = servers.data?.servers ?? [];
  // default: every server that has something allowed
  const selected = chosen ?? new Set(list.filter(attachable).map((s) => s.id));
  const ids = [...selected].filter((id) => list.some((s) => s.id === id)).sort((a, b) => a - b);
  const idsKey = ids.join(',');
  const preview = useLoad((s) => (ids.length && access.dispatch ? previewIntegrations(target.id, ids, s) : Promise.resolve(null)), [target.id, idsKey, access.dispatch]);

  const busy = isActive(run);
  const canRun = access.dispatch && !busy && model !== '' && prompt.trim() !== '' && ids.length > 0;
  const update = (r: RunState) => { runRef.current = r; setRun(r); };

  const send = () => {
    if (!canRun) return;
    setError('');
    update(newRun(model, null));
    setAllowedSet(allowedOf(preview.data));
    handle.current = streamRun(target.id, { model, messages: [{ role: 'user', content: prompt }], servers: ids, save: false }, {
      onSent: (at) => { if (runRef.current) update({ ...runRef.current, sentAt: at }); },
      onEvent: (e, at) => { if (runRef.current) update(applyEvent(runRef.current, e, at)); },
      onClose: (err, aborted) => {
        handle.current = null;
        const r = runRef.current;
        if (!r) return;
        if (err && r.requestId === '') {
          // refused before the stream (400, 404, 409 no_tools): nothing went upstream
          setError(err.message);
          runRef.current = null;
          setRun(null);
          return;
        }
        update(closeRun(r, performance.now(), err ? { code: err.code, message: err.message } : null, aborted));
      },
    });
  };

  const toggle = (id: number, on: boolean) => {
    const next = new Set(selected);
    if (on) next.add(id); else next.delete(id);
    setChosen(next);
  };

  return (
    <div class="grid min-w-0 gap-4 2xl:grid-cols-[minmax(0,28rem)_minmax(0,1fr)]">
      <form class={`${panel} min-w-0 space-y-4 p-4`} aria-labelledby="run-h" onSubmit={(e) => { e.preventDefault(); send(); }}>
        <h2 id="run-h" class="text-sm font-semibold text-white">Run a chat with tools</h2>
        {!access.dispatch ? <Alert kind="info">Viewers cannot dispatch; an operator or admin can.</Alert> : null}
        <fieldset disabled={!access.dispatch || busy} class="min-w-0 space-y-4">
          <div>
            <label class={label} for="run-model">Model</label>
            <select id="run-model" class={`${input} mt-1`} value={model} onChange={(e) => setModel((e.currentTarget as HTMLSelectElement).value)}>
              {opts.loaded.length + opts.onDisk.length === 0 ? <option value="">{models.loading ? 'Loading models…' : 'No models'}</option> : null}
              {opts.loaded.length ? <optgroup label="Loaded">{opts.loaded.map((o) => <option key={o.value} value={o.value}>{o.label}</option>)}</optgroup> : null}
              {opts.onDisk.length ? <optgroup label="On disk (loaded on first use)">{opts.onDisk.map((o) => <option key={o.value} value={o.value}>{o.label}</option>)}</optgroup> : null}
            </select>
            <ErrorSlot error={models.error ? `models: ${models.error}` : ''} class="mt-2" />
            <p class={hint}>Sent through LM Studio’s /api/v1/chat, the only API that takes integrations.</p>
          </div>
          <div>
            <label class={label} for="run-prompt">Prompt</label>
            <textarea id="run-prompt" class={`${input} mt-1`} rows={4} value={prompt}
              onInput={(e) => setPrompt((e.currentTarget as HTMLTextAreaElement).value)}
              onKeyDown={(e) => { if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) { e.preventDefault(); send(); } }}
              aria-describedby="run-prompt-hint" />
            <p id="run-prompt-hint" class={hint}>Ctrl+Enter runs. Not saved to the Pulse history.</p>
          </div>
          <fieldset class="min-w-0">
            <legend class={label}>Servers</legend>
            {servers.loading && !servers.data ? <ProgressBar label="Loading MCP servers" /> : null}
            <ErrorSlot error={servers.error} class="mt-2" />
            {servers.data && !list.length ? <p class="mt-1 text-sm text-slate-400">No MCP servers registered for this target.</p> : null}
            <ul class="mt-1 space-y-1.5">
              {list.map((s) => {
                const can = attachable(s);
                return (
                  <li key={s.id}>
                    <label class={`flex min-w-0 items-start gap-2 text-sm ${can ? 'text-slate-200' : 'text-slate-400'}`}>
                      <input type="checkbox" class="mt-1" checked={can && selected.has(s.id)} disabled={!can}
                        onChange={(e) => toggle(s.id, (e.currentTarget as HTMLInputElement).checked)} data-testid="run-server" data-label={s.label} />
                      <span class="min-w-0">
                        <span class="break-all font-mono">{s.label}</span>
                        <span class="block text-xs text-slate-400">{countsText(s)}{can ? '' : ' · nothing allowed: cannot be attached'}</span>
                      </span>
                    </label>
                  </li>
                );
              })}
            </ul>
          </fieldset>
        </fieldset>

        {preview.data && ids.length ? (
          <div class="rounded-lg border border-slate-700 bg-slate-950 p-3 text-xs" data-testid="run-preview">
            <p class="mb-1 font-semibold text-slate-200">LM Studio will be allowed to call</p>
            <ul class="space-y-1">
              {preview.data.integrations.map((i) => {
                const s = list.find((x) => x.id === i.server_id);
                const tools = Array.isArray(i.integration.allowed_tools) ? i.integration.allowed_tools : [];
                return (
                  <li key={i.server_id} class="break-words text-slate-300">
                    <span class="font-mono text-indigo-200">{s?.label ?? `server ${i.server_id}`}</span>: {tools.length ? tools.join(', ') : 'nothing'}
                  </li>
                );
              })}
              {preview.data.skipped.map((k) => {
                const s = list.find((x) => x.id === k.server_id);
                return <li key={`s${k.server_id}`} class="break-words text-amber-200">{s?.label ?? `server ${k.server_id}`}: {skipText(k.reason)}</li>;
              })}
            </ul>
          </div>
        ) : null}
        <ErrorSlot error={preview.error ? `preview: ${preview.error}` : ''} />

        <ErrorSlot error={error} />
        {access.dispatch ? (
          <div class="flex flex-wrap gap-2">
            <button type="submit" class={btn.primary} disabled={!canRun && !busy} aria-disabled={busy ? 'true' : undefined}>
              {busy ? <Spinner /> : null}Run chat
            </button>
            {busy ? <button type="button" class={btn.secondary} onClick={() => handle.current?.stop()}>Stop</button> : null}
            {!busy && ids.length === 0 && list.length
              ? <p class="self-center text-xs text-slate-400">{list.some(attachable) ? 'Choose at least one server.' : 'No server has an allowed tool yet: an admin allows tools under Servers & tools.'}</p> : null}
          </div>
        ) : null}
      </form>

      <div class="min-w-0">
        {run ? <RunView run={run} allowed={allowedSet} /> : (
          <div class={`${panel} p-4 text-sm text-slate-400`}>The stream appears here: each tool call with its arguments and output, the model’s reasoning, its answer and the numbers.</div>
        )}
      </div>
    </div>
  );
}

/** server label (as in provider_info) -> allowed tool names, from the integrations preview. */
function allowedOf(p: IntegrationsPreview | null): Map<string, Set<string>> | null {
  if (!p) return null;
  const m = new Map<string, Set<string>>();
  for (const i of p.integrations) {
    const g = i.integration;
    const name = typeof g.server_label === 'string' ? g.server_label : typeof g.id === 'string' ? g.id : '';
    if (name) m.set(name, new Set(Array.isArray(g.allowed_tools) ? g.allowed_tools : []));
  }
  return m;
}

function RunView({ run, allowed }: { run: RunState; allowed: Map<string, Set<string>> | null }) {
  const active = isActive(run);
  const calls = groupToolCalls(run.toolCalls);
  const body = useMemo(() => renderMarkdown(run.content, { CodeBlock }), [run.content]);
  const st = STATUS[run.status];
  return (
    <article class={`${panel} min-w-0 p-4`} aria-busy={active} data-testid="run-view" data-status={run.status}>
      <header class="mb-3 flex flex-wrap items-center gap-2">
        <h2 class="min-w-0 truncate text-sm font-semibold text-white">{run.model || 'Run'}</h2>
        <Badge tone={st.tone} testId="run-status">{st.text}</Badge>
        {active ? <span class="text-xs text-slate-400" aria-live="polite">{calls.length ? `${calls.length} tool ${calls.length === 1 ? 'call' : 'calls'} so far` : ''}</span> : null}
      </header>
      {run.status === 'loading' && run.modelLoad !== null ? <p class="mb-2 text-xs text-slate-300">Loading the model… {Math.round(run.modelLoad * 100)} %</p> : null}
      {run.errors.map((e, i) => <div key={i} class="mb-3"><Alert kind="error" title={e.code}>{e.message}</Alert></div>)}

      <section aria-label="Tool calls" class="mb-3">
        <h3 class="mb-2 text-[11px] font-semibold uppercase tracking-wider text-slate-400">Tool calls</h3>
        {calls.length ? (
          <ol class="space-y-2" data-testid="tool-calls">
            {calls.map((c) => <CallCard key={c.key} call={c}
              outside={allowed !== null && c.tool !== '' && (c.server ? !(allowed.get(c.server)?.has(c.tool) ?? false) : ![...allowed.values()].some((t) => t.has(c.tool)))} />)}
          </ol>
        ) : <p class="text-sm text-slate-400">{active ? 'None yet.' : 'The model called no tool.'}</p>}
      </section>

      {run.reasoning ? (
        <details class="mb-3 rounded-lg border border-slate-700 bg-slate-950" data-testid="run-reasoning">
          <summary class="cursor-pointer px-3 py-2 text-sm font-medium text-slate-200">Reasoning <span class="text-xs font-normal text-slate-400">({run.reasoningEvents} events)</span></summary>
          <div class="max-h-80 overflow-y-auto whitespace-pre-wrap break-words border-t border-slate-800 px-3 py-2 text-sm text-slate-300">{run.reasoning}</div>
        </details>
      ) : null}

      <section aria-label="Answer">
        <h3 class="mb-2 text-[11px] font-semibold uppercase tracking-wider text-slate-400">Answer</h3>
        <div class="min-w-0 break-words text-sm leading-relaxed text-slate-200" data-testid="run-answer">
          {run.content ? body : <p class="text-slate-400">{active ? 'Waiting for the answer…' : 'No answer text.'}</p>}
        </div>
      </section>
      {run.stats || !active ? <StatsBar run={run} /> : null}
    </article>
  );
}
