// Audit.tsx - the tool-call audit of one target: every call seen in a
// toolchain stream (who, server, tool, arguments bounded by the server at
// 2 KiB, outcome, duration), violations (a call outside the allowed set)
// flagged. It reads the audit log, which only admins may read; others are
// told so instead of being shown anything invented.
import { useState } from 'preact/hooks';
import { listToolCalls } from '../../api/mcp';
import type { Target } from '../../api/targets';
import { Alert } from '../../components/Alert';
import { ProgressBar } from '../../components/Spinner';
import { btn, panel } from '../../components/ui';
import { formatDateTime, relativeTime } from '../../lib/format';
import { auditCall, type AuditCall } from '../../lib/toolchainRun';
import { argumentsText } from '../../lib/toolchainText';
import { useLoad } from '../../lib/useLoad';
import { Badge } from './Badge';
import { Expandable } from './Expandable';
import type { Access } from './Toolchain';

const PAGE = 50;

export function AuditView({ target, access }: { target: Target; access: Access }) {
  if (!access.admin) {
    return (
      <Alert kind="info" title="Admins only">
        Tool calls are recorded in DaemonPulse’s audit log (who, server, tool, arguments, outcome, duration, violations), which only admins can read.
      </Alert>
    );
  }
  return <AdminAudit target={target} />;
}

function AdminAudit({ target }: { target: Target }) {
  const [cursors, setCursors] = useState<(number | null)[]>([null]);
  const [onlyViolations, setOnlyViolations] = useState(false);
  const before = cursors[cursors.length - 1];
  const page = useLoad((s) => listToolCalls({ target: target.label, before, limit: PAGE }, s), [target.label, before]);
  const rows: AuditCall[] = (page.data?.entries ?? []).map(auditCall).filter((x): x is AuditCall => x !== null);
  const shown = onlyViolations ? rows.filter((r) => r.violation) : rows;
  const violations = rows.filter((r) => r.violation).length;
  const next = page.data?.next_before ?? null;

  return (
    <section class="space-y-3" aria-labelledby="tc-audit-h">
      <div class="flex flex-wrap items-end justify-between gap-3">
        <div class="min-w-0">
          <h2 id="tc-audit-h" class="text-lg font-semibold text-white">Tool calls on {target.label}</h2>
          <p class="text-sm text-slate-400">Newest first. A call to a tool outside the allowed set is a violation.</p>
        </div>
        <div class="flex flex-wrap items-center gap-3">
          <label class="flex items-center gap-2 text-sm text-slate-200">
            <input type="checkbox" checked={onlyViolations} onChange={(e) => setOnlyViolations((e.currentTarget as HTMLInputElement).checked)} />
            Violations only
          </label>
          <button type="button" class={btn.secondary} onClick={() => { setCursors([null]); page.reload(); }}>Refresh</button>
        </div>
      </div>
      <div class="h-1">{page.loading ? <ProgressBar label="Loading tool calls" /> : null}</div>
      {page.error ? <Alert kind="error" title="Could not load the tool-call audit">{page.error}</Alert> : null}
      {violations ? <Alert kind="error" title={`${violations} ${violations === 1 ? 'violation' : 'violations'} on this page`}>A model called a tool that was not in the allowed set.</Alert> : null}
      {page.data && !shown.length ? (
        <p class={`${panel} p-4 text-sm text-slate-400`} data-testid="audit-empty">{onlyViolations ? 'No violations on this page.' : 'No tool calls recorded for this target yet.'}</p>
      ) : null}
      <ol class="space-y-2" data-testid="audit-calls">
        {shown.map((r) => (
          <li key={r.id} class={`min-w-0 rounded-lg border p-3 ${r.violation ? 'border-red-400 bg-red-950' : 'border-slate-700 bg-slate-900'}`}
            data-testid="audit-call" data-tool={r.tool} data-outcome={r.outcome}>
            <div class="flex flex-wrap items-center gap-2">
              <span class="break-all font-mono text-sm font-semibold text-white">{r.tool || 'unknown tool'}</span>
              {r.server ? <span class={`break-all text-xs ${r.violation ? 'text-red-200' : 'text-slate-400'}`}>on {r.server}</span> : null}
              <Badge tone={r.violation ? 'bad' : r.outcome === 'success' || r.outcome === 'ok' ? 'ok' : 'warn'}>{r.violation ? 'VIOLATION' : r.outcome}</Badge>
            </div>
            <p class={`mt-1 text-xs ${r.violation ? 'text-red-200' : 'text-slate-400'}`}>
              <span title={formatDateTime(r.at)}>{relativeTime(r.at)}</span>
              {r.user ? ` · by ${r.user}` : ''}
              {r.durationMs !== null ? ` · ${r.durationMs} ms` : ''}
              {r.requestId ? ` · ${r.requestId}` : ''}
            </p>
            {r.reason ? <p class="mt-1 break-words text-sm text-red-200">{r.reason}</p> : null}
            {r.arguments ? (
              <div class="mt-2">
                <Expandable text={argumentsText(r.arguments) + (r.argumentsTruncated ? '\n… (cut at 2 KiB by the server)' : '')} label={`Arguments of ${r.tool}`} />
              </div>
            ) : null}
          </li>
        ))}
      </ol>
      <div class="flex flex-wrap gap-2">
        {cursors.length > 1 ? <button type="button" class={btn.secondary} onClick={() => setCursors(cursors.slice(0, -1))}>Newer</button> : null}
        {next !== null ? <button type="button" class={btn.secondary} onClick={() => setCursors([...cursors, next])}>Older</button> : null}
      </div>
    </section>
  );
}
