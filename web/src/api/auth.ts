// auth.ts - sign in, sign out, who am I, change own password.
import { http } from './http';
import type { LoginResponse, MeResponse } from './types';

export function login(username: string, password: string): Promise<LoginResponse> {
  return http.request<LoginResponse>('POST', '/api/auth/login', { username, password }, { allow401: true });
}

export function logout(): Promise<void> {
  return http.request<void>('POST', '/api/auth/logout', undefined, { allow401: true });
}

/** The current user; rejects with ApiError 401 when not signed in. */
export function me(signal?: AbortSignal): Promise<MeResponse> {
  return http.request<MeResponse>('GET', '/api/auth/me', undefined, { allow401: true, signal });
}

export function changePassword(oldPassword: string, newPassword: string): Promise<void> {
  return http.request<void>('POST', '/api/auth/password', { old_password: oldPassword, new_password: newPassword });
}
