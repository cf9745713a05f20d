// mcp.ts - The Toolchain's HTTP API (docs/api-mcp.md): MCP servers per
// target (ephemeral ones kept by DaemonPulse and the host's mcp.json
// entries), discovery, per-tool policy, the integrations preview, the
// toolchain run (the Pulse's chat event stream, see api/chat.ts) and the
// tool-call audit (GET /api/audit, admin only).
//
// Header, env and mcp.json values are write-only: the server returns names
// only, and this module never reads a value back. A value of null in a
// PATCH/PUT keeps the stored one.
import { streamChat, type ChatHandle, type ChatHandlers, type ChatRequest } from './chat';
import { http } from './http';
import type { AuditEntry, AuditPage } from './types';

export interface ErrorInfo { code: string; message: string }

export type DiscoveryStatus = 'never' | 'ok' | 'needs_oauth' | 'failed';

export interface Discovery {
  status: DiscoveryStatus | string;
  code: string | null;
  message: string | null;
  transport: 'streamable_http' | 'sse' | 'stdio' | string | null;
  protocol_version: string | null;
  server_info: { name?: string | null; title?: string | null; version?: string | null } | null;
  at: string | null;
  duration_ms: number | null;
}

export interface McpServer {
  id: number;
  target_id: number;
  kind: 'ephemeral' | 'mcp_json' | string;
  label: string;
  transport: 'http' | 'stdio' | string;
  url: string | null;
  header_names: string[] | null;
  command: string | null;
  args: string[] | null;
  env_names: string[] | null;
  in_mcp_json: boolean | null;
  integration: Record<string, unknown> | null;
  identity: string | null;
  auto_allow_read_only: boolean;
  discovery: Discovery | null;
  tools_count: number | null;
  allowed_count: number | null;
  pending_count: number | null;
  created_at: string | null;
  updated_at: string | null;
}

export interface ToolParameter {
  name: string;
  type: string | null;
  description: string | null;
  required: boolean;
}

export type PolicyState = 'allow' | 'deny' | 'pending';

export interface ToolPolicy {
  state: PolicyState | string;
  effective: 'allow' | 'deny' | string;
  source: 'admin' | 'auto_read_only' | 'none' | string;
  reason: 'new' | 'schema_changed' | 'identity_changed' | string | null;
  decided_by: string | null;
  decided_at: string | null;
}

export interface ToolBadges { read_only: boolean; destructive: boolean; idempotent: boolean; open_world: boolean }

export interface McpTool {
  name: string;
  title: string | null;
  description: string | null;
  parameters: ToolParameter[] | null;
  input_schema: unknown;
  annotations: Record<string, unknown> | null;
  badges: ToolBadges | null;
  schema_hash: string | null;
  present: boolean;
  first_seen_at: string | null;
  last_seen_at: string | null;
  policy: ToolPolicy | null;
}

export interface McpJsonInfo {
  local: boolean;
  available: boolean;
  path: string | null;
  exists: boolean;
  error: ErrorInfo | null;
}

export interface McpList { target_id: number; mcp_json: McpJsonInfo | null; servers: McpServer[] }

export interface Changes { new: string[]; changed: string[]; removed: string[] }

export interface DiscoverResult { server: McpServer; tools: McpTool[]; changes: Changes | null }

export interface ToolsView { server: McpServer; tools: McpTool[] }

export type Decision = 'allow' | 'deny' | 'reset';

export interface EphemeralDraft {
  label?: string;
  url?: string;
  /** name → value; null keeps the stored value (PATCH only) */
  headers?: Record<string, string | null>;
  auto_allow_read_only?: boolean;
}

export type McpJsonEntry =
  | { url: string; headers?: Record<string, string | null> }
  | { command: string; args?: string[]; env?: Record<string, string | null> };

export interface IntegrationsPreview {
  integrations: { server_id: number; integration: Record<string, unknown> & { allowed_tools?: string[] } }[];
  skipped: { server_id: number; reason: string }[];
}

const tp = (id: number) => `/api/targets/${encodeURIComponent(id)}`;
const sp = (tid: number, sid: number) => `${tp(tid)}/mcp/servers/${encodeURIComponent(sid)}`;

export function listServers(targetId: number, signal?: AbortSignal): Promise<McpList> {
  return http.request<McpList>('GET', `${tp(targetId)}/mcp`, undefined, { signal });
}

export async function createServer(targetId: number, d: EphemeralDraft): Promise<McpServer> {
  return (await http.request<{ server: McpServer }>('POST', `${tp(targetId)}/mcp/servers`, d)).server;
}

export async function updateServer(targetId: number, sid: number, d: EphemeralDraft): Promise<McpServer> {
  return (await http.request<{ server: McpServer }>('PATCH', sp(targetId, sid), d)).server;
}

export function deleteServer(targetId: number, sid: number): Promise<void> {
  return http.request<void>('DELETE', sp(targetId, sid));
}

export function discover(targetId: number, sid: number): Promise<DiscoverResult> {
  return http.request<DiscoverResult>('POST', `${sp(targetId, sid)}/discover`, {});
}

export function getTools(targetId: number, sid: number, signal?: AbortSignal): Promise<ToolsView> {
  return http.request<ToolsView>('GET', `${sp(targetId, sid)}/tools`, undefined, { signal });
}

export function putPolicy(targetId: number, sid: number,
  body: { tools?: Record<string, Decision>; auto_allow_read_only?: boolean }): Promise<ToolsView> {
  return http.request<ToolsView>('PUT', `${sp(targetId, sid)}/policy`, body);
}

export async function putMcpJson(targetId: number, label: string, entry: McpJsonEntry): Promise<McpServer> {
  return (await http.request<{ server: McpServer }>('PUT', `${tp(targetId)}/mcp/mcp-json/${encodeURIComponent(label)}`, entry)).server;
}

export function deleteMcpJson(targetId: number, label: string): Promise<void> {
  return http.request<void>('DELETE', `${tp(targetId)}/mcp/mcp-json/${encodeURIComponent(label)}`);
}

export function previewIntegrations(targetId: number, serverIds: number[], signal?: AbortSignal): Promise<IntegrationsPreview> {
  return http.request<IntegrationsPreview>('GET', `${tp(targetId)}/toolchain/integrations`, undefined,
    { signal, query: { servers: serverIds.join(',') } });
}

/** A toolchain run: the chat request plus the servers to attach (v1 only). */
export type RunRequest = Omit<ChatRequest, 'api'> & { api?: 'v1'; servers: number[] };

/**
 * POST /api/targets/{id}/toolchain/run. The answer is exactly the Pulse's
 * event stream, so the Pulse's streaming client is reused with its URL
 * pointed at the toolchain route (stop/abort work the same way: the
 * server's stop route finds the relay by request id).
 */
export function streamRun(targetId: number, req: RunRequest, h: ChatHandlers,
  fetchFn: (input: string, init: RequestInit) => Promise<Response> = (i, init) => fetch(i, init)): ChatHandle {
  const url = `${tp(targetId)}/toolchain/run`;
  return streamChat(targetId, req as ChatRequest, h, (_input, init) => fetchFn(url, init));
}

/** Tool-call audit rows (admin only: GET /api/audit is an admin route). */
export function listToolCalls(q: { target?: string; before?: number | null; limit?: number }, signal?: AbortSignal): Promise<AuditPage> {
  return http.request<AuditPage>('GET', '/api/audit', undefined, {
    signal,
    query: { action: 'mcp.tool_call', limit: q.limit ?? 50, before: q.before ?? undefined, target: q.target },
  });
}

export type { AuditEntry };
