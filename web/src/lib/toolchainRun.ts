// toolchainRun.ts - tool calls of a toolchain stream grouped into one card
// per call, and tool-call audit rows read for display (pure, unit-tested).
//
// LM Studio's v1 stream sends tool_call.start, .arguments, then .success or
// .failure for each call (docs/api-chat.md: phase = the suffix); calls do
// not overlap. A `start` opens a call; later phases go to the newest open
// call (of the same tool when the event names one). OpenAI-style `call`
// fragments are joined per index.
import type { ToolCallEvent } from '../api/chat';
import type { AuditEntry } from '../api/types';

export type CallStatus = 'running' | 'success' | 'failure';

export interface CallView {
  key: string;
  tool: string;
  /** "everything" (ephemeral label) or "mcp/<label>" (plugin), '' when unknown */
  server: string;
  phases: string[];
  status: CallStatus;
  /** the arguments as the model sent them (object or string) */
  args: unknown;
  output: string | null;
  reason: string | null;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function providerName(pi: unknown): string {
  if (!isObj(pi)) return '';
  if (typeof pi.server_label === 'string') return pi.server_label;
  if (typeof pi.plugin_id === 'string') return pi.plugin_id;
  if (typeof pi.id === 'string') return pi.id;
  return '';
}

type Ev = ToolCallEvent & { provider_info?: unknown; metadata?: unknown };

export function groupToolCalls(events: readonly Ev[]): CallView[] {
  const calls: CallView[] = [];
  const byIndex = new Map<number, CallView>();
  let n = 0;
  const open = (tool: string): CallView | undefined => {
    for (let i = calls.length - 1; i >= 0; i--) {
      const c = calls[i];
      if (c.status === 'running' && !c.key.startsWith('call-') && (!tool || !c.tool || c.tool === tool)) return c;
    }
    return undefined;
  };
  for (const e of events) {
    const tool = typeof e.tool === 'string' ? e.tool : '';
    if (e.phase === 'call') {
      const idx = typeof e.index === 'number' ? e.index : 0;
      let c = byIndex.get(idx);
      if (!c) {
        c = { key: `call-${idx}-${++n}`, tool, server: '', phases: [], status: 'running', args: '', output: null, reason: null };
        byIndex.set(idx, c);
        calls.push(c);
      }
      if (tool && !c.tool) c.tool = tool;
      if (typeof e.arguments === 'string') c.args = String(c.args ?? '') + e.arguments;
      if (!c.phases.includes('call')) c.phases.push('call');
      continue;
    }
    let c = e.phase === 'start' ? undefined : open(tool);
    if (!c) {
      c = { key: `v1-${++n}`, tool, server: '', phases: [], status: 'running', args: undefined, output: null, reason: null };
      calls.push(c);
    }
    if (tool && !c.tool) c.tool = tool;
    const srv = providerName(e.provider_info);
    if (srv) c.server = srv;
    c.phases.push(e.phase);
    if (e.arguments !== undefined) c.args = e.arguments;
    if (e.phase === 'success') {
      c.status = 'success';
      if (typeof e.output === 'string') c.output = e.output;
    } else if (e.phase === 'failure') {
      c.status = 'failure';
      c.reason = typeof e.reason === 'string' ? e.reason : 'failed';
      if (typeof e.output === 'string') c.output = e.output;
    }
  }
  return calls;
}

export interface AuditCall {
  id: number;
  at: string;
  user: string;
  target: string;
  server: string;
  tool: string;
  outcome: string;
  violation: boolean;
  arguments: string;
  argumentsTruncated: boolean;
  durationMs: number | null;
  reason: string;
  requestId: string;
}

const s = (v: unknown) => (typeof v === 'string' ? v : '');

/** An `mcp.tool_call` audit entry for display; null for other actions. */
export function auditCall(e: AuditEntry): AuditCall | null {
  if (e.action !== 'mcp.tool_call') return null;
  const d = isObj(e.detail) ? e.detail : {};
  const violation = d.violation === true || e.result === 'violation';
  return {
    id: e.id,
    at: e.at ?? '',
    user: e.username ?? '',
    target: e.target ?? '',
    server: s(d.server) || providerName(d.provider_info),
    tool: s(d.tool),
    outcome: violation ? 'violation' : s(d.outcome) || e.result,
    violation,
    arguments: s(d.arguments),
    argumentsTruncated: d.arguments_truncated === true,
    durationMs: typeof d.duration_ms === 'number' && Number.isFinite(d.duration_ms) ? d.duration_ms : null,
    reason: s(d.reason),
    requestId: s(d.request_id),
  };
}
