// Toolchain.tsx - The Toolchain: MCP servers of a target (the host's
// mcp.json entries and ephemeral servers), their tools with per-tool policy,
// a run panel that dispatches a chat with the allowed tools, and the
// tool-call audit. Admins register servers and edit policy, operators
// discover and dispatch, viewers read. Everything from a server, a tool or
// a model is rendered as text; header and env values are never shown.
import { useState } from 'preact/hooks';
import { listTargets, type Target } from '../../api/targets';
import { Alert } from '../../components/Alert';
import { PageHeader } from '../../components/PageHeader';
import { ProgressBar } from '../../components/Spinner';
import { input, label } from '../../components/ui';
import { useLoad } from '../../lib/useLoad';
import { navigate, search } from '../../state/router';
import { isAdmin, user } from '../../state/session';
import { AuditView } from './Audit';
import { RunPanel } from './Run';
import { ServersView } from './Servers';

export type View = 'servers' | 'run' | 'audit';
const VIEWS: { key: View; label: string }[] = [
  { key: 'servers', label: 'Servers & tools' },
  { key: 'run', label: 'Run' },
  { key: 'audit', label: 'Tool-call audit' },
];

export interface Access { admin: boolean; dispatch: boolean }

function param(name: string): string | null { return new URLSearchParams(search.value).get(name); }

export function ToolchainPage() {
  const targets = useLoad((signal) => listTargets(signal), []);
  const q = param('view');
  const view: View = q === 'run' || q === 'audit' ? q : 'servers';
  const [chosen, setChosen] = useState<number | null>(() => { const t = Number(param('t')); return Number.isInteger(t) && t > 0 ? t : null; });
  const access: Access = { admin: isAdmin.value, dispatch: user.value?.role === 'operator' || user.value?.role === 'admin' };
  const list: Target[] = targets.data?.targets ?? [];
  const fallback = targets.data ? (targets.data.active_target_id ?? list[0]?.id ?? null) : null;
  const targetId = chosen !== null && list.some((t) => t.id === chosen) ? chosen : fallback;
  const target = list.find((t) => t.id === targetId) ?? null;

  const go = (v: View, t: number | null = targetId) => {
    const qs = new URLSearchParams();
    if (v !== 'servers') qs.set('view', v);
    if (t !== null) qs.set('t', String(t));
    const s = qs.toString();
    navigate(`/toolchain${s ? `?${s}` : ''}`, { replace: true });
  };

  return (
    <div class="max-w-7xl">
      <PageHeader title="The Toolchain" subtitle="MCP servers, the tools a model may call, and a record of every call.">
        {list.length > 1 ? (
          <div class="w-full min-w-0 sm:w-64">
            <label class={label} for="tc-target">Target</label>
            <select id="tc-target" class={`${input} mt-1`} value={targetId ?? ''}
              onChange={(e) => { const v = Number((e.currentTarget as HTMLSelectElement).value); setChosen(v); go(view, v); }}>
              {list.map((t) => <option key={t.id} value={t.id}>{t.label}</option>)}
            </select>
          </div>
        ) : null}
      </PageHeader>

      {!access.dispatch ? (
        <div class="mb-4"><Alert kind="info">Your role (viewer) can read servers, tools, policy and results; discovery and runs need an operator, changes an admin.</Alert></div>
      ) : !access.admin ? (
        <div class="mb-4"><Alert kind="info">Your role (operator) can re-discover tools and run chats with the allowed tools; registering servers and deciding policy is for admins.</Alert></div>
      ) : null}

      <div class="mb-4 flex flex-wrap gap-1 rounded-lg border border-slate-700 bg-slate-900 p-1" role="group" aria-label="Toolchain view">
        {VIEWS.map((v) => (
          <button key={v.key} type="button" aria-pressed={view === v.key} onClick={() => go(v.key)}
            class={`rounded-md px-3 py-1.5 text-sm font-medium ${view === v.key ? 'bg-indigo-600 text-white' : 'text-slate-200 hover:bg-slate-800'}`}>
            {v.label}
          </button>
        ))}
      </div>

      {targets.loading && !targets.data ? <ProgressBar label="Loading targets" /> : null}
      {targets.error ? <Alert kind="error" title="Could not load the targets">{targets.error}</Alert> : null}
      {targets.data && list.length === 0 ? (
        <Alert kind="warning" title="No daemon targets">MCP servers are kept per LM Studio target. Add a target in Settings → Daemon targets first.</Alert>
      ) : null}
      {target ? (
        view === 'servers' ? <ServersView key={target.id} target={target} access={access} />
          : view === 'run' ? <RunPanel key={target.id} target={target} access={access} />
            : <AuditView key={target.id} target={target} access={access} />
      ) : null}
    </div>
  );
}
