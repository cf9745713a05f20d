// Tools.tsx - the tools of one server: name, title, description, parameters
// (required ones marked), annotation badges, first/last seen, the policy
// state; admins choose allow / deny / review per tool and save the changes
// in one request. Everything is text from the MCP server: bounded, never HTML.
import { useMemo, useState } from 'preact/hooks';
import { putPolicy, type Decision, type McpServer, type McpTool, type ToolsView } from '../../api/mcp';
import { ErrorSlot } from '../../components/Alert';
import { Spinner } from '../../components/Spinner';
import { btn, input } from '../../components/ui';
import { formatDateTime, relativeTime } from '../../lib/format';
import { decisionValue, policyBody, policyView, setDecision, setDecisions } from '../../lib/toolchainPolicy';
import { badgeViews, clip, paramRows } from '../../lib/toolchainSchema';
import { errorText } from '../../lib/useLoad';
import { Badge } from './Badge';
import type { Access } from './Toolchain';

type Filter = 'all' | 'allowed' | 'pending' | 'denied';

const CHOICES: { v: 'allow' | 'deny' | 'pending'; label: string }[] = [
  { v: 'allow', label: 'Allow' }, { v: 'deny', label: 'Deny' }, { v: 'pending', label: 'Review' },
];

function matches(t: McpTool, f: Filter, q: string): boolean {
  if (q) {
    const s = q.toLowerCase();
    if (!t.name.toLowerCase().includes(s) && !(t.title ?? '').toLowerCase().includes(s) && !(t.description ?? '').toLowerCase().includes(s)) return false;
  }
  if (f === 'all') return true;
  const v = policyView(t.policy, t.present);
  if (f === 'allowed') return v.allowed;
  if (f === 'pending') return t.present && t.policy?.state === 'pending';
  return t.present && t.policy?.state === 'deny';
}

export function ToolList({ targetId, server, tools, access, onSaved }: {
  targetId: number; server: McpServer; tools: McpTool[]; access: Access; onSaved: (r: ToolsView) => void;
}) {
  const [edits, setEdits] = useState<Map<string, Decision>>(new Map());
  const [filter, setFilter] = useState<Filter>('all');
  const [q, setQ] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const [saved, setSaved] = useState('');
  const shown = useMemo(() => tools.filter((t) => matches(t, filter, q.trim())), [tools, filter, q]);
  const body = policyBody(edits, tools);
  const n = Object.keys(body).length;

  const save = async () => {
    if (!n || busy) return;
    setBusy(true);
    setError('');
    setSaved('');
    try {
      const r = await putPolicy(targetId, server.id, { tools: body });
      setEdits(new Map());
      setSaved(`Saved ${n} ${n === 1 ? 'decision' : 'decisions'}.`);
      onSaved(r);
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(false);
    }
  };

  if (!tools.length) {
    return <p class="text-sm text-slate-400" data-testid="no-tools">{server.discovery?.status === 'ok' ? 'The server lists no tools.' : 'No tools known yet: discover them first.'}</p>;
  }

  return (
    <div class="min-w-0" data-testid="tool-list">
      <div class="mb-3 flex flex-wrap items-end gap-2">
        <h3 class="mr-auto text-sm font-semibold text-white">Tools</h3>
        <input class={`${input} w-full sm:w-56`} type="search" placeholder="Filter tools" aria-label="Filter tools by name or description"
          value={q} onInput={(e) => setQ((e.currentTarget as HTMLInputElement).value)} />
        <select class={`${input} w-full sm:w-44`} aria-label="Show" value={filter} onChange={(e) => setFilter((e.currentTarget as HTMLSelectElement).value as Filter)}>
          <option value="all">All ({tools.length})</option>
          <option value="allowed">Allowed</option>
          <option value="pending">Pending review</option>
          <option value="denied">Denied</option>
        </select>
      </div>
      {access.admin ? (
        <>
          <p class="mb-2 text-xs text-slate-400">New and changed tools stay denied (“pending review”) until you decide. Only allowed tools are ever sent to LM Studio, as an explicit list.</p>
          <div class="mb-3 flex flex-wrap items-center gap-2 text-xs text-slate-300" role="group" aria-label="Decide for every tool shown">
            <span>Every tool shown ({shown.filter((t) => t.present).length}):</span>
            {CHOICES.map((c) => (
              <button key={c.v} type="button" class={btn.small} disabled={!shown.some((t) => t.present)} aria-label={`${c.label} every tool shown`}
                onClick={() => { setSaved(''); setEdits(setDecisions(edits, shown, c.v)); }}>{c.label}</button>
            ))}
          </div>
        </>
      ) : null}
      <ul class="space-y-3">
        {shown.map((t) => <ToolItem key={t.name} tool={t} admin={access.admin} value={decisionValue(t, edits)} edited={edits.has(t.name)}
          onChoose={(c) => { setSaved(''); setEdits(setDecision(edits, t, c)); }} />)}
      </ul>
      {!shown.length ? <p class="text-sm text-slate-400">No tool matches.</p> : null}
      {access.admin ? (
        <div class={`${n ? 'sticky bottom-2 border-indigo-400 shadow-lg' : 'border-slate-700'} mt-4 flex flex-wrap items-center gap-2 rounded-lg border bg-slate-900 p-3`}>
          <span class="mr-auto text-sm text-slate-200" role="status" data-testid="policy-status">{n ? `${n} unsaved ${n === 1 ? 'change' : 'changes'}` : saved || 'No unsaved changes'}</span>
          <button type="button" class={btn.secondary} disabled={!n || busy} onClick={() => setEdits(new Map())}>Discard</button>
          <button type="button" class={btn.primary} disabled={!n} aria-disabled={busy ? 'true' : undefined} onClick={() => void save()}>
            {busy ? <Spinner /> : null}Save policy
          </button>
          <ErrorSlot error={error} class="w-full" />
        </div>
      ) : null}
    </div>
  );
}

function ToolItem({ tool, admin, value, edited, onChoose }: {
  tool: McpTool; admin: boolean; value: 'allow' | 'deny' | 'pending'; edited: boolean; onChoose: (c: 'allow' | 'deny' | 'pending') => void;
}) {
  const pv = policyView(tool.policy, tool.present);
  const params = paramRows(tool);
  const badges = badgeViews(tool);
  const desc = tool.description ? clip(tool.description, 2000) : '';
  const id = `tool-${tool.name.replace(/[^A-Za-z0-9_-]/g, '_')}`;
  return (
    <li class={`min-w-0 rounded-lg border p-3 ${edited ? 'border-indigo-400' : 'border-slate-700'} bg-slate-950`}
      data-testid="tool" data-tool={tool.name} data-policy={tool.policy?.state ?? ''} data-effective={tool.policy?.effective ?? ''}>
      <div class="flex flex-wrap items-start justify-between gap-2">
        <div class="min-w-0">
          <h4 id={`${id}-h`} class="break-all font-mono text-sm font-semibold text-white">{tool.name}</h4>
          {tool.title && tool.title !== tool.name ? <p class="text-sm text-slate-300">{clip(tool.title, 200)}</p> : null}
        </div>
        <Badge tone={pv.tone} title={pv.detail} testId="policy-badge">{pv.label}</Badge>
      </div>
      {desc ? <p class="mt-1 whitespace-pre-wrap break-words text-sm text-slate-300">{desc}</p> : null}
      <div class="mt-2 flex flex-wrap gap-1.5" aria-label="Annotations (the server’s own hints)">
        {badges.map((b) => <Badge key={b.key} tone={b.tone} title={b.title}>{b.label}</Badge>)}
      </div>
      <p class="mt-2 text-xs text-slate-400">
        {pv.detail}
        {tool.last_seen_at ? <> · last seen <span title={formatDateTime(tool.last_seen_at)}>{relativeTime(tool.last_seen_at)}</span></> : null}
        {tool.first_seen_at ? <> · first seen <span title={formatDateTime(tool.first_seen_at)}>{relativeTime(tool.first_seen_at)}</span></> : null}
      </p>
      <details class="mt-2">
        <summary class="cursor-pointer text-xs font-medium text-indigo-300">Parameters ({params.rows.length}{params.hidden ? `+${params.hidden}` : ''}{params.rows.some((r) => r.required) ? `, ${params.rows.filter((r) => r.required).length} required` : ''})</summary>
        {params.rows.length ? (
          <ul class="mt-2 space-y-1.5" data-testid="params">
            {params.rows.map((p) => (
              <li key={p.name} class="min-w-0 text-xs text-slate-300" data-required={p.required ? 'true' : 'false'}>
                <code class="break-all font-mono text-indigo-200">{p.name}</code>
                <span class="text-slate-400"> : {p.type}</span>
                {' '}{p.required ? <span class="font-semibold text-amber-200">required</span> : <span class="text-slate-400">optional</span>}
                {p.description ? <span class="block break-words">{p.description}</span> : null}
                {p.facts.length ? <span class="block break-words text-slate-400">{p.facts.join(' · ')}</span> : null}
              </li>
            ))}
            {params.hidden ? <li class="text-xs text-slate-400">{params.hidden} more not shown</li> : null}
          </ul>
        ) : <p class="mt-1 text-xs text-slate-400">No parameters.</p>}
      </details>
      {admin && tool.present ? (
        <fieldset class="mt-3">
          <legend class="sr-only">Policy for {tool.name}</legend>
          <div class="inline-flex flex-wrap rounded-md border border-slate-500" role="radiogroup" aria-labelledby={`${id}-h`}>
            {CHOICES.map((c) => (
              <label key={c.v} class={`cursor-pointer px-3 py-1 text-xs font-medium first:rounded-l-md last:rounded-r-md focus-within:outline focus-within:outline-2 focus-within:outline-indigo-300 ${value === c.v
                ? (c.v === 'allow' ? 'bg-emerald-950 text-emerald-300' : c.v === 'deny' ? 'bg-red-950 text-red-200' : 'bg-amber-950 text-amber-200')
                : 'bg-slate-800 text-slate-100 hover:bg-slate-700'}`}>
                <input type="radio" class="sr-only" name={`${id}-policy`} value={c.v} checked={value === c.v}
                  onChange={() => onChoose(c.v)} data-testid={`choose-${c.v}`} />
                {c.label}
              </label>
            ))}
          </div>
        </fieldset>
      ) : null}
    </li>
  );
}
