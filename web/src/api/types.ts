// types.ts - JSON shapes of the control-plane API, mirroring the server
// (docs/api-auth.md). Timestamps are ISO 8601 UTC strings or null.

export type Role = 'viewer' | 'operator' | 'admin';
export const ROLES: readonly Role[] = ['viewer', 'operator', 'admin'];

/** Minimum password length the server enforces (docs/api-auth.md). */
export const PASSWORD_MIN = 12;
export const USERNAME_RE = /^[A-Za-z0-9._-]{1,64}$/;

export interface SessionUser {
  id: number;
  username: string;
  role: Role;
}

export interface LoginResponse {
  user: SessionUser;
  expires_at: string | null;
  idle_timeout_s: number | null;
}

export interface MeResponse extends LoginResponse {
  auth: 'session' | 'token';
}

export interface User extends SessionUser {
  created_at: string | null;
  updated_at: string | null;
  last_login_at: string | null;
}

export interface ApiToken {
  id: number;
  name: string;
  prefix: string;
  created_at: string | null;
  last_used_at: string | null;
  expires_at: string | null;
}

export interface CreatedToken {
  token: ApiToken;
  secret: string;
}

export interface AuditEntry {
  id: number;
  at: string | null;
  user_id: number | null;
  username: string | null;
  action: string;
  target: string | null;
  result: string;
  detail: Record<string, unknown> | null;
  ip: string | null;
}

export interface AuditPage {
  entries: AuditEntry[];
  next_before: number | null;
}

export interface AuditQuery {
  limit?: number;
  before?: number | null;
  user?: string;
  action?: string;
  target?: string;
}

// ---- targets and health (docs/api-targets.md) ----

export type HealthState = 'unknown' | 'running' | 'stopped' | 'stalled' | 'unauthorized' | 'error';

export interface Health {
  state: HealthState;
  latency_ms: number | null;
  checked_at: string | null;
  since?: string | null;
  error: { code: string; message: string } | null;
  version?: string;
}

/** What the shell's strip needs of a target (the `snapshot` event's shape). */
export interface TargetSummary {
  id: number;
  label: string;
  health: Health | null;
}
