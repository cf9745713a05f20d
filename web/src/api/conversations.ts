// conversations.ts - The Pulse's history (docs/api-chat.md): each user sees
// only their own conversations. Exports are downloaded through a blob URL
// built from the server's answer (the text is never put into the DOM).
import type { ChatStats } from './chat';
import { ApiError, errorFrom, http } from './http';

export interface ConversationSummary {
  id: number;
  title: string;
  target_id: number | null;
  model: string | null;
  api: string | null;
  messages: number;
  created_at: string | null;
  updated_at: string | null;
}

export interface StoredMessage {
  id: number;
  role: 'user' | 'assistant' | 'system';
  content: string;
  reasoning?: string | null;
  model?: string | null;
  stop_reason?: string | null;
  stats?: ChatStats | null;
  created_at: string | null;
}

export interface Conversation {
  id: number;
  title: string;
  target_id: number | null;
  model: string | null;
  api: string | null;
  system_prompt: string | null;
  created_at: string | null;
  updated_at: string | null;
  messages: StoredMessage[];
}

export interface ConversationPage { conversations: ConversationSummary[]; next_offset: number | null }

const cp = (id: number) => `/api/conversations/${encodeURIComponent(id)}`;

/** `q`: only conversations whose title or a message contains it (ASCII case ignored; at most 200 bytes). */
export function listConversations(opts: { limit?: number; offset?: number; q?: string } = {}, signal?: AbortSignal): Promise<ConversationPage> {
  return http.request<ConversationPage>('GET', '/api/conversations', undefined,
    { signal, query: { limit: opts.limit, offset: opts.offset, q: opts.q || undefined } });
}

export async function getConversation(id: number, signal?: AbortSignal): Promise<Conversation> {
  return (await http.request<{ conversation: Conversation }>('GET', cp(id), undefined, { signal })).conversation;
}

export async function renameConversation(id: number, title: string): Promise<ConversationSummary> {
  return (await http.request<{ conversation: ConversationSummary }>('PATCH', cp(id), { title })).conversation;
}

export function deleteConversation(id: number): Promise<void> {
  return http.request<void>('DELETE', cp(id));
}

export type ExportFormat = 'md' | 'json';

/** Fetch an export; resolves to the file name and its bytes. */
export async function exportConversation(id: number, format: ExportFormat): Promise<{ filename: string; blob: Blob }> {
  let res: Response;
  try {
    res = await fetch(`${cp(id)}/export?format=${format}`, { credentials: 'same-origin', cache: 'no-store' });
  } catch {
    throw new ApiError(0, 'network', 'cannot reach the DaemonPulse server');
  }
  if (!res.ok) {
    const text = await res.text().catch(() => '');
    if (res.status === 401) http.request('GET', '/api/auth/me').catch(() => {});
    throw errorFrom(res.status, text, null);
  }
  const blob = await res.blob();
  return { filename: exportFilename(res.headers.get('Content-Disposition'), id, format), blob };
}

/** The server's attachment file name if it is a plain one, else conversation-N.ext. */
export function exportFilename(disposition: string | null, id: number, format: ExportFormat): string {
  const m = disposition ? /filename="([A-Za-z0-9._-]{1,100})"/.exec(disposition) : null;
  return m ? m[1] : `conversation-${id}.${format}`;
}
