// ConsoleAudit.tsx - Console → Audit: DaemonPulse's audit trail (the same
// view as Settings → Audit log, filterable by user, action and target;
// admins only, as the API is). Everyone else is told where the actions on a
// target show up for them: the DaemonPulse source of the log stream.
import { Alert } from '../../components/Alert';
import { AuditTab } from '../settings/Audit';

export function ConsoleAudit({ admin, targetId }: { admin: boolean; targetId: number | null }) {
  if (!admin) {
    return (
      <Alert kind="info" title="The audit log is for administrators">
        Actions on a target (loads, unloads, edits) also appear live in the Logs view as DaemonPulse lines
        (type <code class="font-mono">dp.audit</code>), for every viewer.
      </Alert>
    );
  }
  return (
    <div class="space-y-3">
      {targetId !== null ? (
        <p class="text-sm text-slate-300">
          Tip: actions on this target are filed under the target <code class="font-mono text-indigo-200">target:{targetId}</code>.
        </p>
      ) : null}
      <AuditTab />
    </div>
  );
}
