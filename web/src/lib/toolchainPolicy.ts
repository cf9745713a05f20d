// toolchainPolicy.ts - how a tool's policy, a server's state and the
// admin's pending edits are shown (pure, unit-tested).
//
// The server decides (docs/api-mcp.md): `state` is the admin's decision that
// still applies (allow/deny) or `pending`; `effective` is what dispatch
// uses. The UI only explains those facts; it never computes a policy of its
// own except to preview an admin's unsaved edits.
import type { Decision, McpServer, McpTool, ToolPolicy } from '../api/mcp';

export type Tone = 'ok' | 'bad' | 'warn' | 'info' | 'muted';

export interface PolicyView {
  /** short label of the state ("Allowed", "Denied", "Pending review") */
  label: string;
  /** what dispatch does with it, in words */
  detail: string;
  tone: Tone;
  /** true when a model may call it (effective allow) */
  allowed: boolean;
}

const REASON: Record<string, string> = {
  new: 'new tool',
  schema_changed: 'its description or schema changed',
  identity_changed: 'the server’s identity changed',
};

export function reasonText(reason: string | null | undefined): string {
  if (!reason) return '';
  return REASON[reason] ?? reason.replace(/_/g, ' ');
}

export function policyView(p: ToolPolicy | null | undefined, present = true): PolicyView {
  if (!present) return { label: 'Gone', detail: 'not listed by the last discovery; never sent', tone: 'muted', allowed: false };
  if (!p) return { label: 'Unknown', detail: 'no policy reported', tone: 'muted', allowed: false };
  const allowed = p.effective === 'allow';
  if (p.state === 'allow') return { label: 'Allowed', detail: `allowed${p.decided_by ? ` by ${p.decided_by}` : ''}`, tone: 'ok', allowed };
  if (p.state === 'deny') return { label: 'Denied', detail: `denied${p.decided_by ? ` by ${p.decided_by}` : ''}`, tone: 'bad', allowed };
  // pending: denied unless the server's read-only hint is trusted
  const why = reasonText(p.reason);
  if (allowed && p.source === 'auto_read_only') {
    return { label: 'Auto-allowed', detail: `pending review${why ? ` (${why})` : ''}; allowed because the server marks it read-only`, tone: 'info', allowed };
  }
  // an earlier decision that no longer applies is kept for display
  const was = p.decided_by ? `; last decided by ${p.decided_by}` : '';
  return { label: 'Pending review', detail: `denied until an admin decides${why ? ` (${why})` : ''}${was}`, tone: 'warn', allowed };
}

/** The decision radio's current value: the admin's edit if any, else the recorded state. */
export function decisionValue(t: McpTool, edits: ReadonlyMap<string, Decision>): 'allow' | 'deny' | 'pending' {
  const e = edits.get(t.name);
  if (e === 'allow' || e === 'deny') return e;
  if (e === 'reset') return 'pending';
  const s = t.policy?.state;
  return s === 'allow' || s === 'deny' ? s : 'pending';
}

/**
 * Record an admin's choice; choosing what the server already has removes
 * the edit (so "Save" only sends real changes). 'pending' maps to 'reset'.
 */
export function setDecision(edits: ReadonlyMap<string, Decision>, t: McpTool, choice: 'allow' | 'deny' | 'pending'): Map<string, Decision> {
  const next = new Map(edits);
  const cur = t.policy?.state === 'allow' || t.policy?.state === 'deny' ? t.policy.state : 'pending';
  if (choice === cur) next.delete(t.name);
  else next.set(t.name, choice === 'pending' ? 'reset' : choice);
  return next;
}

/** The same choice for many tools at once (e.g. every tool the filter shows); tools gone from the server are skipped. */
export function setDecisions(edits: ReadonlyMap<string, Decision>, tools: readonly McpTool[], choice: 'allow' | 'deny' | 'pending'): Map<string, Decision> {
  let next = new Map(edits);
  for (const t of tools) if (t.present) next = setDecision(next, t, choice);
  return next;
}

/** The body of PUT …/policy for the edits (only tools that still exist in the list). */
export function policyBody(edits: ReadonlyMap<string, Decision>, tools: readonly McpTool[]): Record<string, Decision> {
  const names = new Set(tools.map((t) => t.name));
  const out: Record<string, Decision> = {};
  for (const [k, v] of edits) if (names.has(k)) out[k] = v;
  return out;
}

/** Tools that went back to review because the server's identity changed. */
export function identityChanged(tools: readonly McpTool[]): McpTool[] {
  return tools.filter((t) => t.present && t.policy?.state === 'pending' && t.policy.reason === 'identity_changed');
}

export interface ServerState { label: string; tone: Tone; detail: string }

/** One line about where a server stands (discovery + registry). */
export function serverState(s: McpServer): ServerState {
  if (s.kind === 'mcp_json' && s.in_mcp_json === false) {
    return { label: 'Removed from mcp.json', tone: 'muted', detail: 'kept for its policy; never attached' };
  }
  const d = s.discovery;
  const st = d?.status ?? 'never';
  if (st === 'never') return { label: 'Not discovered', tone: 'muted', detail: 'run a discovery to list its tools' };
  if (st === 'needs_oauth') return { label: 'Needs OAuth', tone: 'warn', detail: d?.message || 'needs OAuth: use it through the host’s mcp.json' };
  if (st === 'failed') return { label: 'Discovery failed', tone: 'bad', detail: [d?.code, d?.message].filter(Boolean).join(': ') || 'failed' };
  if (st === 'ok') {
    if (d?.transport === 'sse') return { label: 'Legacy SSE', tone: 'warn', detail: 'discovered over the legacy HTTP+SSE transport; LM Studio may not speak it' };
    return { label: 'Discovered', tone: 'ok', detail: d?.transport === 'stdio' ? 'over stdio' : 'over streamable HTTP' };
  }
  return { label: st, tone: 'muted', detail: '' };
}

/** Counts for a server card, "2 allowed · 11 pending · 13 tools". */
export function countsText(s: McpServer): string {
  if (s.tools_count === null || s.tools_count === undefined) return 'no tools known';
  const parts = [`${s.tools_count} ${s.tools_count === 1 ? 'tool' : 'tools'}`];
  if (s.allowed_count !== null && s.allowed_count !== undefined) parts.push(`${s.allowed_count} allowed`);
  if (s.pending_count) parts.push(`${s.pending_count} pending review`);
  return parts.join(' · ');
}

/** Can this server be attached to a run (something is effectively allowed)? */
export function attachable(s: McpServer): boolean {
  if (s.kind === 'mcp_json' && s.in_mcp_json === false) return false;
  return (s.allowed_count ?? 0) > 0;
}

export const SKIP_TEXT: Record<string, string> = {
  nothing_allowed: 'nothing allowed: not attached',
  not_found: 'not found',
  not_in_mcp_json: 'no longer in mcp.json',
  agent_required: 'needs the DaemonPulse agent on that host (enrol one)',
  token_unreadable: 'the stored header values cannot be decrypted',
};

export function skipText(reason: string): string {
  return SKIP_TEXT[reason] ?? reason.replace(/_/g, ' ');
}
