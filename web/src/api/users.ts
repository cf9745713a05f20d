// users.ts - user administration (admin only on the server).
import { http } from './http';
import type { Role, User } from './types';

export async function listUsers(signal?: AbortSignal): Promise<User[]> {
  const r = await http.request<{ users: User[] }>('GET', '/api/users', undefined, { signal });
  return r.users;
}

export async function createUser(username: string, password: string, role: Role): Promise<User> {
  const r = await http.request<{ user: User }>('POST', '/api/users', { username, password, role });
  return r.user;
}

export async function updateUser(id: number, change: { role?: Role; password?: string }): Promise<User> {
  const r = await http.request<{ user: User }>('PATCH', `/api/users/${encodeURIComponent(id)}`, change);
  return r.user;
}

export function deleteUser(id: number): Promise<void> {
  return http.request<void>('DELETE', `/api/users/${encodeURIComponent(id)}`);
}
