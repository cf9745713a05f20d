// Servers.tsx - the registry of one target: the host's mcp.json entries
// and DaemonPulse's ephemeral servers, each with its discovery state and
// counts; the chosen server's details, re-discovery, the auto-allow
// switch (labelled as trusting the server's hints), the identity-change
// banner and its tools with policy (Tools.tsx).
import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import {
  deleteMcpJson, deleteServer, discover, getTools, listServers, putPolicy,
  type Changes, type McpList, type McpServer, type McpTool,
} from '../../api/mcp';
import type { Target } from '../../api/targets';
import { Alert, ErrorSlot } from '../../components/Alert';
import { ConfirmDialog } from '../../components/Dialog';
import { ProgressBar, Spinner } from '../../components/Spinner';
import { btn, microLabel, panel } from '../../components/ui';
import { formatDateTime, relativeTime } from '../../lib/format';
import { countsText, identityChanged, serverState } from '../../lib/toolchainPolicy';
import { errorText, useLoad } from '../../lib/useLoad';
import { Badge } from './Badge';
import { EphemeralDialog, McpJsonDialog } from './ServerDialogs';
import { ToolList } from './Tools';
import type { Access } from './Toolchain';

type DialogState = null | { kind: 'ephemeral' | 'mcp_json'; server: McpServer | null } | { kind: 'delete'; server: McpServer };

export function ServersView({ target, access }: { target: Target; access: Access }) {
  const list = useLoad((s) => listServers(target.id, s), [target.id]);
  const [selected, setSelected] = useState<number | null>(null);
  const [dialog, setDialog] = useState<DialogState>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const [local, setLocal] = useState<McpList | null>(null);
  const data = local ?? list.data;
  useEffect(() => { setLocal(null); }, [list.data]);
  const servers = data?.servers ?? [];
  const current = servers.find((s) => s.id === selected) ?? servers[0] ?? null;
  const mj = data?.mcp_json ?? null;

  /** Put a changed server object into the list without reloading. */
  const replace = (s: McpServer) => {
    if (!data) return;
    const has = data.servers.some((x) => x.id === s.id);
    setLocal({ ...data, servers: has ? data.servers.map((x) => (x.id === s.id ? s : x)) : [...data.servers, s] });
  };

  const remove = async (s: McpServer) => {
    setBusy(true);
    setError('');
    try {
      if (s.kind === 'mcp_json' && s.in_mcp_json !== false) await deleteMcpJson(target.id, s.label);
      else await deleteServer(target.id, s.id);
      setDialog(null);
      setSelected(null);
      list.reload();
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <div class="space-y-4">
      <section class={`${panel} p-4`} aria-labelledby="mcpjson-h">
        <div class="flex flex-wrap items-start justify-between gap-3">
          <div class="min-w-0">
            <h2 id="mcpjson-h" class="text-sm font-semibold text-white">Registry of {target.label}</h2>
            {mj ? (
              mj.available ? (
                <p class="mt-1 break-words text-sm text-slate-300" data-testid="mcp-json-state">
                  mcp.json: <code class="break-all text-indigo-200">{mj.path ?? 'unknown path'}</code>{mj.exists ? '' : ' (does not exist yet)'}
                </p>
              ) : (
                <p class="mt-1 text-sm text-amber-200" data-testid="mcp-json-state">
                  mcp.json not available{mj.error ? `: ${mj.error.message}` : ''}. Ephemeral servers still work.
                </p>
              )
            ) : null}
          </div>
          {access.admin ? (
            <div class="flex flex-wrap gap-2">
              <button type="button" class={btn.primary} onClick={() => setDialog({ kind: 'ephemeral', server: null })}>Register server</button>
              <button type="button" class={btn.secondary} disabled={!mj?.available}
                title={mj?.available ? undefined : 'the host’s mcp.json cannot be edited from here'}
                onClick={() => setDialog({ kind: 'mcp_json', server: null })}>Add mcp.json entry</button>
            </div>
          ) : null}
        </div>
      </section>

      {list.loading && !data ? <ProgressBar label="Loading MCP servers" /> : null}
      {list.error ? (
        <Alert kind="error" title="Could not load the MCP servers">
          {list.error}{' '}<button type="button" class="underline" onClick={list.reload}>Retry</button>
        </Alert>
      ) : null}
      {data && servers.length === 0 ? (
        <Alert kind="info" title="No MCP servers yet">
          {access.admin ? 'Register an ephemeral server or add an mcp.json entry to give models tools.' : 'An admin registers MCP servers; none are registered for this target.'}
        </Alert>
      ) : null}

      {servers.length ? (
        <div class="grid min-w-0 gap-4 lg:grid-cols-[18rem_minmax(0,1fr)]">
          <nav aria-label="MCP servers" class="min-w-0">
            <ul class="space-y-2" data-testid="server-list">
              {servers.map((s) => {
                const st = serverState(s);
                const on = current?.id === s.id;
                return (
                  <li key={s.id}>
                    <button type="button" aria-current={on ? 'true' : undefined} onClick={() => setSelected(s.id)}
                      data-testid="server-item" data-label={s.label}
                      class={`w-full min-w-0 rounded-lg border px-3 py-2 text-left ${on ? 'border-indigo-400 bg-indigo-950' : 'border-slate-700 bg-slate-900 hover:bg-slate-800'}`}>
                      <span class="flex min-w-0 items-center justify-between gap-2">
                        <span class="truncate font-mono text-sm text-white">{s.label}</span>
                        <span class="shrink-0 text-xs text-slate-300">{s.kind === 'mcp_json' ? 'mcp.json' : 'ephemeral'}</span>
                      </span>
                      <span class="mt-1 flex flex-wrap items-center gap-2">
                        <Badge tone={st.tone}>{st.label}</Badge>
                        <span class={`text-xs ${on ? 'text-indigo-200' : 'text-slate-400'}`}>{countsText(s)}</span>
                      </span>
                    </button>
                  </li>
                );
              })}
            </ul>
          </nav>
          {current ? (
            <ServerDetail key={current.id} target={target} server={current} access={access} onChanged={replace}
              onEdit={() => setDialog({ kind: current.kind === 'mcp_json' ? 'mcp_json' : 'ephemeral', server: current })}
              onDelete={() => { setError(''); setDialog({ kind: 'delete', server: current }); }} />
          ) : null}
        </div>
      ) : null}

      {dialog?.kind === 'ephemeral' ? (
        <EphemeralDialog targetId={target.id} server={dialog.server} onClose={() => setDialog(null)}
          onSaved={(s) => { setDialog(null); replace(s); setSelected(s.id); }} />
      ) : null}
      {dialog?.kind === 'mcp_json' ? (
        <McpJsonDialog targetId={target.id} server={dialog.server} path={mj?.path ?? null} onClose={() => setDialog(null)}
          onSaved={(s) => { setDialog(null); replace(s); setSelected(s.id); }} />
      ) : null}
      {dialog?.kind === 'delete' ? (
        <ConfirmDialog
          title={dialog.server.kind === 'mcp_json' && dialog.server.in_mcp_json !== false ? `Remove ${dialog.server.label} from mcp.json?` : `Delete ${dialog.server.label}?`}
          message={dialog.server.kind === 'mcp_json' && dialog.server.in_mcp_json !== false
            ? 'The entry is removed from the host’s mcp.json (the previous file is kept as mcp.json.bak). Its policy stays until you delete the row too.'
            : 'The server, its tools and every policy decision for it are deleted. Audit records stay.'}
          confirmLabel={dialog.server.kind === 'mcp_json' && dialog.server.in_mcp_json !== false ? 'Remove entry' : 'Delete server'}
          busy={busy} error={error} onConfirm={() => void remove(dialog.server)} onClose={() => setDialog(null)} />
      ) : null}
    </div>
  );
}

function Fact({ name, children }: { name: string; children: ComponentChildren }) {
  return (
    <div class="min-w-0">
      <dt class={microLabel}>{name}</dt>
      <dd class="mt-0.5 break-words text-sm text-slate-200">{children}</dd>
    </div>
  );
}

function ServerDetail({ target, server, access, onChanged, onEdit, onDelete }: {
  target: Target; server: McpServer; access: Access; onChanged: (s: McpServer) => void; onEdit: () => void; onDelete: () => void;
}) {
  // an edit that changes the server's identity sends decisions back to review: reload the tools then
  const tools = useLoad((s) => getTools(target.id, server.id, s), [target.id, server.id, server.identity]);
  const [fresh, setFresh] = useState<McpTool[] | null>(null);
  useEffect(() => { setFresh(null); }, [server.identity]);
  const [changes, setChanges] = useState<Changes | null>(null);
  const [discovering, setDiscovering] = useState(false);
  const [savingAuto, setSavingAuto] = useState(false);
  const [error, setError] = useState('');
  const list = fresh ?? tools.data?.tools ?? [];
  const st = serverState(server);
  const d = server.discovery;
  const changed = identityChanged(list);
  const canDiscover = access.admin || (access.dispatch && server.transport !== 'stdio');

  const runDiscover = async () => {
    setDiscovering(true);
    setError('');
    try {
      const r = await discover(target.id, server.id);
      setFresh(r.tools);
      setChanges(r.changes);
      onChanged(r.server);
    } catch (e) {
      setError(errorText(e));
    } finally {
      setDiscovering(false);
    }
  };

  const setAuto = async (on: boolean) => {
    setSavingAuto(true);
    setError('');
    try {
      const r = await putPolicy(target.id, server.id, { auto_allow_read_only: on });
      setFresh(r.tools);
      onChanged(r.server);
    } catch (e) {
      setError(errorText(e));
    } finally {
      setSavingAuto(false);
    }
  };

  return (
    <section class={`${panel} min-w-0 p-4`} aria-labelledby="server-h" data-testid="server-detail" data-label={server.label}>
      <header class="flex flex-wrap items-start justify-between gap-3">
        <div class="min-w-0">
          <h2 id="server-h" class="break-all font-mono text-lg font-semibold text-white">{server.label}</h2>
          <div class="mt-1 flex flex-wrap items-center gap-2">
            <Badge tone="muted">{server.kind === 'mcp_json' ? `mcp.json · mcp/${server.label}` : 'ephemeral'}</Badge>
            <Badge tone={st.tone} title={st.detail} testId="discovery-state">{st.label}</Badge>
            {d?.server_info?.name ? <span class="break-all text-xs text-slate-400">{d.server_info.title || d.server_info.name}{d.server_info.version ? ` ${d.server_info.version}` : ''}</span> : null}
          </div>
        </div>
        <div class="flex flex-wrap gap-2">
          {access.dispatch ? (
            <button type="button" class={btn.primary} onClick={() => void runDiscover()} disabled={!canDiscover}
              aria-disabled={discovering ? 'true' : undefined} title={canDiscover ? undefined : 'stdio entries run a command on this host: admins only'}>
              {discovering ? <Spinner /> : null}{d?.status && d.status !== 'never' ? 'Re-discover' : 'Discover tools'}
            </button>
          ) : null}
          {access.admin ? <button type="button" class={btn.secondary} onClick={onEdit} disabled={server.kind === 'mcp_json' && server.in_mcp_json === false}>Edit</button> : null}
          {access.admin ? (
            <button type="button" class={btn.secondary} onClick={onDelete}>
              {server.kind === 'mcp_json' && server.in_mcp_json !== false ? 'Remove from mcp.json' : 'Delete'}
            </button>
          ) : null}
        </div>
      </header>

      <ErrorSlot error={error} class="mt-3" />
      {st.tone === 'bad' || st.tone === 'warn' ? <p class={`mt-3 text-sm ${st.tone === 'bad' ? 'text-red-200' : 'text-amber-200'}`} data-testid="discovery-message">{st.detail}</p> : null}

      <dl class="mt-4 grid gap-3 sm:grid-cols-2">
        {server.transport === 'stdio' ? (
          <Fact name="Command"><code class="break-all font-mono text-indigo-200">{[server.command ?? '', ...(server.args ?? [])].join(' ')}</code></Fact>
        ) : (
          <Fact name="URL"><code class="break-all font-mono text-indigo-200">{server.url ?? '—'}</code></Fact>
        )}
        <Fact name={server.transport === 'stdio' ? 'Environment (names only)' : 'Headers (names only)'}>
          {(server.transport === 'stdio' ? server.env_names : server.header_names)?.length
            ? <span data-testid="header-names">{(server.transport === 'stdio' ? server.env_names! : server.header_names!).join(', ')} <span class="text-slate-400">· values write-only</span></span>
            : <span class="text-slate-400">none</span>}
        </Fact>
        <Fact name="Identity"><code class="font-mono text-slate-200" title="approvals are bound to this fingerprint">{server.identity ?? '—'}</code></Fact>
        <Fact name="Last discovery">
          {d?.at ? <span title={formatDateTime(d.at)}>{relativeTime(d.at)}{d.duration_ms !== null ? ` · ${d.duration_ms} ms` : ''}{d.transport ? ` · ${d.transport.replace('_', ' ')}` : ''}{d.protocol_version ? ` · ${d.protocol_version}` : ''}</span> : <span class="text-slate-400">never</span>}
        </Fact>
      </dl>

      <div class="mt-4 rounded-lg border border-slate-700 bg-slate-950 p-3">
        <label class="flex items-start gap-3 text-sm text-slate-200">
          <input type="checkbox" role="switch" class="mt-1" checked={server.auto_allow_read_only} data-testid="auto-ro"
            disabled={!access.admin || savingAuto} onChange={(e) => void setAuto((e.currentTarget as HTMLInputElement).checked)}
            aria-describedby="auto-ro-hint" />
          <span class="min-w-0">
            <span class="font-medium">Auto-allow tools this server marks read-only</span>
            {savingAuto ? <Spinner class="ml-2 inline h-3 w-3" /> : null}
            <span id="auto-ro-hint" class="block text-xs text-slate-400">
              Trusts the server’s own hints: a tool is allowed without review when the server says it is read-only (readOnlyHint). A server can claim anything.
            </span>
          </span>
        </label>
      </div>

      {changed.length ? (
        <div class="mt-4">
          <Alert kind="warning" title="This server’s identity changed">
            Its URL, headers or command changed since tools were approved, so {changed.length === 1 ? '1 tool went' : `${changed.length} tools went`} back to review and {changed.length === 1 ? 'is' : 'are'} denied until an admin decides again.
          </Alert>
        </div>
      ) : null}
      {changes && (changes.new.length || changes.changed.length || changes.removed.length) ? (
        <p class="mt-4 text-sm text-slate-300" role="status" data-testid="discovery-changes">
          Discovery found {[changes.new.length ? `${changes.new.length} new` : '', changes.changed.length ? `${changes.changed.length} changed` : '',
            changes.removed.length ? `${changes.removed.length} removed` : ''].filter(Boolean).join(', ')} {changes.new.length + changes.changed.length + changes.removed.length === 1 ? 'tool' : 'tools'}; new and changed ones wait for review.
        </p>
      ) : changes ? <p class="mt-4 text-sm text-slate-300" role="status" data-testid="discovery-changes">Discovery found no changes.</p> : null}

      <div class="mt-4">
        {tools.loading && !tools.data && !fresh ? <ProgressBar label="Loading tools" /> : null}
        {tools.error ? <Alert kind="error" title="Could not load the tools">{tools.error}</Alert> : null}
        {tools.data || fresh ? (
          <ToolList targetId={target.id} server={server} tools={list} access={access}
            onSaved={(r) => { setFresh(r.tools); onChanged(r.server); }} />
        ) : null}
      </div>
    </section>
  );
}
