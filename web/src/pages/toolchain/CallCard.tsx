// CallCard.tsx - one tool call of a run: tool, server, the phases seen so
// far (start → arguments → success | failure), the arguments and the output
// or failure reason, each bounded and expandable. All text nodes.
import type { CallView } from '../../lib/toolchainRun';
import { argumentsText } from '../../lib/toolchainText';
import { Badge } from './Badge';
import { Expandable } from './Expandable';

export function CallCard({ call, outside }: { call: CallView; outside?: boolean }) {
  const args = argumentsText(call.args);
  const tone = call.status === 'success' ? 'ok' : call.status === 'failure' ? 'bad' : 'info';
  return (
    <li class="min-w-0 rounded-lg border border-slate-700 bg-slate-950 p-3" data-testid="tool-call" data-tool={call.tool} data-status={call.status} data-outside={outside ? 'true' : 'false'}>
      <div class="flex flex-wrap items-center gap-2">
        <span class="break-all font-mono text-sm font-semibold text-indigo-200">{call.tool || 'tool'}</span>
        {call.server ? <span class="break-all text-xs text-slate-400">on {call.server}</span> : null}
        <Badge tone={tone}>{call.status === 'running' ? 'running' : call.status}</Badge>
        {outside ? <Badge tone="bad" title="this tool was not in the allowed list sent with the run; the audit records it as a violation" testId="call-outside">not allowed</Badge> : null}
      </div>
      <p class="mt-1 text-xs text-slate-400" aria-label="Phases">{call.phases.join(' → ')}</p>
      {args ? (
        <div class="mt-2">
          <p class="mb-1 text-xs font-medium text-slate-300">Arguments</p>
          <Expandable text={args} label={`Arguments of ${call.tool}`} testId="call-args" />
        </div>
      ) : null}
      {call.status === 'failure' ? (
        <p class="mt-2 break-words text-sm text-red-200" data-testid="call-reason">Failed: {call.reason}</p>
      ) : null}
      {call.output !== null ? (
        <div class="mt-2">
          <p class="mb-1 text-xs font-medium text-slate-300">Output</p>
          <Expandable text={call.output} label={`Output of ${call.tool}`} testId="call-output" />
        </div>
      ) : null}
    </li>
  );
}
