// pulseTools.ts - the Pulse's tools toggle (pure, unit-tested): which MCP
// servers of a target can be picked (only those with an allowed tool; the
// others are listed disabled with the reason), the ids sent as `servers` to
// POST …/toolchain/run, the preview lines of GET …/toolchain/integrations,
// the allowed set (server label -> tools) a call is checked against, and the
// request itself. Integrations exist only in LM Studio's v1 API, so a tools
// request is always a v1 request.
import type { ChatApi, ChatRequest } from '../api/chat';
import type { IntegrationsPreview, McpServer, RunRequest } from '../api/mcp';
import { attachable, skipText } from './toolchainPolicy';

export interface ServerChoice {
  id: number;
  label: string;
  selectable: boolean;
  /** why it cannot be picked, '' when it can */
  reason: string;
  /** "2 of 13 tools allowed" */
  detail: string;
}

export function serverChoices(list: readonly McpServer[]): ServerChoice[] {
  return list.map((s) => {
    const removed = s.kind === 'mcp_json' && s.in_mcp_json === false;
    const selectable = attachable(s);
    const n = s.tools_count ?? null;
    const a = s.allowed_count ?? 0;
    return {
      id: s.id,
      label: s.label,
      selectable,
      reason: selectable ? '' : removed ? 'removed from mcp.json' : 'nothing allowed',
      detail: (s.discovery?.status ?? 'never') === 'never' && !n ? 'not discovered yet'
        : n === null ? 'no tools known' : `${a} of ${n} ${n === 1 ? 'tool' : 'tools'} allowed`,
    };
  });
}

/** The picked ids that can still be sent (selectable on this target), ascending. */
export function pickedIds(picked: ReadonlySet<number>, choices: readonly ServerChoice[]): number[] {
  return choices.filter((c) => c.selectable && picked.has(c.id)).map((c) => c.id).sort((a, b) => a - b);
}

/** The API a send uses: v1 whenever tools are on (the picker is locked to it). */
export function effectiveApi(toolsOn: boolean, api: ChatApi): ChatApi {
  return toolsOn ? 'v1' : api;
}

export const API_LOCK_REASON = 'Locked to v1 while Tools is on: only /api/v1/chat takes integrations.';

export interface PreviewLine { serverId: number; label: string; tools: string[]; skipped: string }

/** One line per server of the preview: the allowed tools, or why it is not attached. */
export function previewLines(p: IntegrationsPreview | null, choices: readonly ServerChoice[]): PreviewLine[] {
  if (!p) return [];
  const name = (id: number) => choices.find((c) => c.id === id)?.label ?? `server ${id}`;
  const out: PreviewLine[] = [];
  for (const i of p.integrations ?? []) {
    const t = i.integration?.allowed_tools;
    out.push({ serverId: i.server_id, label: name(i.server_id), tools: Array.isArray(t) ? t.filter((x) => typeof x === 'string') : [], skipped: '' });
  }
  for (const k of p.skipped ?? []) out.push({ serverId: k.server_id, label: name(k.server_id), tools: [], skipped: skipText(k.reason) });
  return out;
}

/** server label (as LM Studio names it in provider_info) -> allowed tools, from the preview. */
export function allowedMap(p: IntegrationsPreview | null): Map<string, Set<string>> | null {
  if (!p) return null;
  const m = new Map<string, Set<string>>();
  for (const i of p.integrations ?? []) {
    const g = i.integration ?? {};
    const n = typeof g.server_label === 'string' ? g.server_label : typeof g.id === 'string' ? g.id : '';
    if (n) m.set(n, new Set(Array.isArray(g.allowed_tools) ? g.allowed_tools : []));
  }
  return m;
}

/** Was this call outside the set the run was sent with? (unknown set or tool: no) */
export function outsideAllowed(allowed: ReadonlyMap<string, ReadonlySet<string>> | null, server: string, tool: string): boolean {
  if (!allowed || !tool) return false;
  if (server) return !(allowed.get(server)?.has(tool) ?? false);
  for (const t of allowed.values()) if (t.has(tool)) return false;
  return true;
}

/** The chat request turned into a toolchain run: v1, plus the servers (1..16). */
export function toolsRequest(req: ChatRequest, servers: readonly number[]): RunRequest {
  const { api: _api, ...rest } = req;
  void _api;
  return { ...rest, api: 'v1', servers: [...servers] };
}
