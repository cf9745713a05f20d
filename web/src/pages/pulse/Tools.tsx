// Tools.tsx - the Pulse's tools toggle: when on, the user picks MCP servers
// of the current target (only servers with an allowed tool can be picked;
// the others are listed disabled with the reason), a preview shows exactly
// which tools LM Studio will be allowed to call (GET …/toolchain/
// integrations), and Chat sends through POST …/toolchain/run (api/mcp.ts
// streamRun) instead of the plain chat route. Only operators and admins see
// it. The lists and preview come from the server; nothing here decides a
// policy.
import { useEffect, useState } from 'preact/hooks';
import { listServers, previewIntegrations, type IntegrationsPreview } from '../../api/mcp';
import { ErrorSlot } from '../../components/Alert';
import { ProgressBar } from '../../components/Spinner';
import { hint } from '../../components/ui';
import { pickedIds, previewLines, serverChoices } from '../../lib/pulseTools';
import { useLoad } from '../../lib/useLoad';

export interface ToolsState {
  on: boolean;
  /** servers to send (selectable ones picked by the user), ascending */
  ids: number[];
  preview: IntegrationsPreview | null;
}

export const TOOLS_OFF: ToolsState = { on: false, ids: [], preview: null };

export function ToolsPanel({ targetId, disabled, onChange }: {
  targetId: number | null; disabled: boolean; onChange: (s: ToolsState) => void;
}) {
  const [on, setOn] = useState(false);
  const [picked, setPicked] = useState<Set<number>>(new Set());
  useEffect(() => setPicked(new Set()), [targetId]);
  const servers = useLoad((s) => (on && targetId !== null ? listServers(targetId, s) : Promise.resolve(null)), [on, targetId]);
  const choices = serverChoices(servers.data?.servers ?? []);
  const ids = pickedIds(picked, choices);
  const idsKey = ids.join(',');
  const preview = useLoad((s) => (on && targetId !== null && ids.length ? previewIntegrations(targetId, ids, s) : Promise.resolve(null)),
    [on, targetId, idsKey]);
  const current = on && ids.length && !preview.loading ? preview.data : null;
  useEffect(() => onChange(on ? { on, ids, preview: current } : TOOLS_OFF), [on, idsKey, current]);

  const pick = (id: number, yes: boolean) => {
    const next = new Set(picked);
    if (yes) next.add(id); else next.delete(id);
    setPicked(next);
  };
  const lines = previewLines(current, choices);

  return (
    <div class="mt-3 rounded-lg border border-slate-700 bg-slate-950 p-3" data-testid="pulse-tools">
      <label class="flex items-center gap-2 text-sm font-medium text-slate-200">
        <input type="checkbox" role="switch" checked={on} disabled={disabled} aria-describedby="pulse-tools-hint"
          onChange={(e) => setOn((e.currentTarget as HTMLInputElement).checked)} data-testid="tools-toggle" />
        Tools
      </label>
      <p id="pulse-tools-hint" class={hint}>
        {on ? 'Sent through the Toolchain with an explicit list of allowed tools; LM Studio’s v1 API only.'
          : 'Let the model call allowed tools of this target’s MCP servers.'}
      </p>
      {on ? (
        <fieldset class="mt-2 min-w-0" disabled={disabled}>
          <legend class="text-xs font-semibold uppercase tracking-wider text-slate-400">MCP servers</legend>
          {servers.loading && !servers.data ? <ProgressBar label="Loading MCP servers" /> : null}
          <ErrorSlot error={servers.error ? `servers: ${servers.error}` : ''} class="mt-2" />
          {targetId === null ? <p class="mt-1 text-sm text-slate-400">Choose a target first.</p> : null}
          {servers.data && !choices.length
            ? <p class="mt-1 text-sm text-slate-400">No MCP servers registered for this target (an admin adds them in the Toolchain).</p> : null}
          <ul class="mt-1 space-y-1.5">
            {choices.map((c) => (
              <li key={c.id}>
                <label class={`flex min-w-0 items-start gap-2 text-sm ${c.selectable ? 'text-slate-200' : 'text-slate-400'}`}>
                  <input type="checkbox" class="mt-1" checked={c.selectable && picked.has(c.id)} disabled={!c.selectable}
                    onChange={(e) => pick(c.id, (e.currentTarget as HTMLInputElement).checked)}
                    data-testid="tools-server" data-label={c.label} />
                  <span class="min-w-0">
                    <span class="break-all font-mono">{c.label}</span>
                    <span class="block text-xs text-slate-400">{c.detail}{c.reason ? ` · ${c.reason}` : ''}</span>
                  </span>
                </label>
              </li>
            ))}
          </ul>
          {servers.data && choices.length && !ids.length
            ? <p class="mt-2 text-xs text-amber-200" data-testid="tools-none">
              {choices.some((c) => c.selectable) ? 'Pick at least one server to send with tools.' : 'No server has an allowed tool yet: an admin allows tools in the Toolchain.'}
            </p> : null}
        </fieldset>
      ) : null}
      {on && ids.length ? (
        <div class="mt-2 text-xs" data-testid="tools-preview" aria-live="polite">
          <p class="mb-1 font-semibold text-slate-200">LM Studio will be allowed to call</p>
          {preview.loading ? <p class="text-slate-400">Checking the policy…</p> : (
            <ul class="space-y-1">
              {lines.map((l) => (
                <li key={l.serverId} class={`break-words ${l.skipped ? 'text-amber-200' : 'text-slate-300'}`}>
                  <span class="font-mono text-indigo-200">{l.label}</span>: {l.skipped || (l.tools.length ? l.tools.join(', ') : 'nothing')}
                </li>
              ))}
            </ul>
          )}
          <ErrorSlot error={preview.error ? `preview: ${preview.error}` : ''} class="mt-2" />
        </div>
      ) : null}
    </div>
  );
}
