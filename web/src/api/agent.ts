// agent.ts - the host agent as the control plane exposes it (docs/agent.md
// "Control plane"): enrolment (admin), host info (viewer) and the server /
// daemon lifecycle through the agent (operator+). The agent token is in the
// enrolment answer only; callers show it once and keep it nowhere.
import { http } from './http';

export interface AgentLink {
  enrolled: boolean;
  url: string | null;
  token_hint: string | null;
  created_at: string | null;
  updated_at: string | null;
}

export interface AgentState extends AgentLink { target_id: number }

/** The one-time answer of POST /api/targets/{id}/agent. */
export interface Enrolment {
  target_id: number;
  agent_url: string;
  token: string | null;
  token_source: 'control_plane' | 'agent';
  token_hint: string;
  token_file: string;
  command: string;
  rotated: boolean;
  shown_once: boolean;
  instructions: string[];
}

export interface AgentInfo {
  target_id: number;
  agent_version?: string | null;
  transport?: string | null;
  hostname?: string | null;
  os?: { name?: string | null; release?: string | null; machine?: string | null; pretty_name?: string | null } | null;
  cpu?: { model?: string | null; logical_cpus?: number | null } | null;
  ram?: { total_bytes?: number | null; used_bytes?: number | null } | null;
  lms?: { available?: boolean; path?: string | null; reason?: string | null } | null;
  lmstudio_home?: { path?: string | null; exists?: boolean; error?: string | null } | null;
  telemetry_source?: string | null;
  uptime_s?: number | null;
}

export type LifeKind = 'server' | 'daemon';
export type LifeAction = 'start' | 'stop' | 'up' | 'down';

export interface LifeResult {
  target_id: number;
  kind: LifeKind;
  action: LifeAction;
  ok: boolean;
  via: string;
  result?: unknown;
}

const ap = (id: number) => `/api/targets/${encodeURIComponent(id)}/agent`;

export function getAgent(id: number, signal?: AbortSignal): Promise<AgentState> {
  return http.request<AgentState>('GET', ap(id), undefined, { signal });
}

/** Create or rotate the token; with `token` the agent's own printed token is stored instead. */
export function enrolAgent(id: number, body: { url?: string; token?: string }): Promise<Enrolment> {
  return http.request<Enrolment>('POST', ap(id), body);
}

export function moveAgent(id: number, url: string): Promise<AgentState> {
  return http.request<AgentState>('PATCH', ap(id), { url });
}

export function removeAgent(id: number): Promise<void> {
  return http.request<void>('DELETE', ap(id));
}

export function getAgentInfo(id: number, signal?: AbortSignal): Promise<AgentInfo> {
  return http.request<AgentInfo>('GET', `${ap(id)}/info`, undefined, { signal });
}

export function lifecycle(id: number, kind: LifeKind, action: LifeAction, body: Record<string, unknown> = {}): Promise<LifeResult> {
  return http.request<LifeResult>('POST', `/api/targets/${encodeURIComponent(id)}/${kind}/${action}`, body);
}
