// audit.ts - the audit trail (admin only), newest first, cursor-paginated.
import { http } from './http';
import type { AuditPage, AuditQuery } from './types';

export function listAudit(q: AuditQuery, signal?: AbortSignal): Promise<AuditPage> {
  return http.request<AuditPage>('GET', '/api/audit', undefined, {
    signal,
    query: {
      limit: q.limit,
      before: q.before ?? undefined,
      user: q.user?.trim(),
      action: q.action?.trim(),
      target: q.target?.trim(),
    },
  });
}
