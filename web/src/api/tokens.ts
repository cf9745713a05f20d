// tokens.ts - personal API tokens of the signed-in user.
import { http } from './http';
import type { ApiToken, CreatedToken } from './types';

export async function listTokens(signal?: AbortSignal): Promise<ApiToken[]> {
  const r = await http.request<{ tokens: ApiToken[] }>('GET', '/api/tokens', undefined, { signal });
  return r.tokens;
}

export function createToken(name: string, expiresInDays: number | null): Promise<CreatedToken> {
  return http.request<CreatedToken>('POST', '/api/tokens', { name, expires_in_days: expiresInDays });
}

export function revokeToken(id: number): Promise<void> {
  return http.request<void>('DELETE', `/api/tokens/${encodeURIComponent(id)}`);
}
