// chat.ts - The Pulse's chat relay (docs/api-chat.md).
//
// POST /api/targets/{id}/chat answers text/event-stream, which EventSource
// cannot request (it only GETs), so the body is read with fetch() and a
// streaming reader and parsed incrementally (lib/pulseSse.ts). Every event
// is decoded into a typed ChatEvent and handed over as soon as it arrived.
// streamChat() returns a handle: stop() asks the server to stop the
// upstream request (the stream then ends with stats + end userStopped) and
// aborts the fetch if the server does not finish soon; abort() drops the
// stream at once (the server aborts upstream on disconnect). Views call
// abort() when they go away.
import { SseParser } from '../lib/pulseSse';
import { ApiError, errorFrom, http } from './http';

export type ChatApi = 'v1' | 'v0' | 'openai';
export type ReasoningSetting = 'off' | 'low' | 'medium' | 'high' | 'on';

export interface ChatMessage { role: 'system' | 'user' | 'assistant'; content: string }

export interface ChatRequest {
  model: string;
  api?: ChatApi;
  messages: ChatMessage[];
  system_prompt?: string;
  temperature?: number;
  top_p?: number;
  top_k?: number;
  max_tokens?: number;
  repeat_penalty?: number;
  seed?: number;
  stop?: string[];
  reasoning?: ReasoningSetting;
  think_tags?: { open: string; close: string } | false;
  conversation_id?: number;
  /** answer the conversation's last user message again (docs/api-chat.md) */
  regenerate?: boolean;
  save?: boolean;
  previous_response_id?: string;
}

export interface ServerStats {
  ttft_ms: number | null;
  upstream_ttfb_ms: number | null;
  generation_ms: number | null;
  total_ms: number | null;
  tokens: number | null;
  tokens_source: 'lmstudio' | 'events' | string | null;
  tokens_per_second: number | null;
  reasoning_events: number | null;
  content_events: number | null;
}

export interface ChatStats {
  server: Partial<ServerStats> | null;
  /** LM Studio's own stats object, untouched (units: seconds). */
  lmstudio: Record<string, unknown> | null;
  usage: { prompt_tokens?: number; completion_tokens?: number; total_tokens?: number } | null;
}

export interface ToolCallEvent {
  phase: string;
  tool?: string;
  arguments?: unknown;
  output?: string;
  reason?: string;
  index?: number;
  id?: string;
}

export type ChatEvent =
  | { type: 'start'; request_id: string; model: string; api: string; target_id: number; conversation_id: number | null }
  | { type: 'model_load'; progress?: number; done?: boolean; load_time_seconds?: number }
  | { type: 'prompt_progress'; progress: number }
  | { type: 'reasoning'; text: string }
  | { type: 'content'; text: string }
  | ({ type: 'tool_call' } & ToolCallEvent)
  | { type: 'error'; code: string; message: string }
  | ({ type: 'stats' } & ChatStats)
  | { type: 'end'; stop_reason: string; response_id: string | null; conversation_id: number | null; message_id: number | null };

const KNOWN = new Set(['start', 'model_load', 'prompt_progress', 'reasoning', 'content', 'tool_call', 'error', 'stats', 'end']);

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** Turn one SSE event into a ChatEvent; null for unknown names or bad JSON. */
export function decodeChatEvent(name: string, data: string): ChatEvent | null {
  if (!KNOWN.has(name)) return null;
  let d: unknown;
  try { d = JSON.parse(data); } catch { return null; }
  if (!isObj(d)) return null;
  switch (name) {
    case 'start':
      return { type: 'start', request_id: str(d.request_id), model: str(d.model), api: str(d.api),
        target_id: num(d.target_id) ?? 0, conversation_id: num(d.conversation_id) };
    case 'model_load': {
      const e: ChatEvent = { type: 'model_load' };
      if (num(d.progress) !== null) e.progress = num(d.progress)!;
      if (d.done === true) e.done = true;
      if (num(d.load_time_seconds) !== null) e.load_time_seconds = num(d.load_time_seconds)!;
      return e;
    }
    case 'prompt_progress': return { type: 'prompt_progress', progress: num(d.progress) ?? 0 };
    case 'reasoning': return { type: 'reasoning', text: str(d.text) };
    case 'content': return { type: 'content', text: str(d.text) };
    case 'tool_call': return { type: 'tool_call', ...(d as unknown as ToolCallEvent), phase: str(d.phase) };
    case 'error': return { type: 'error', code: str(d.code) || 'error', message: str(d.message) };
    case 'stats':
      return { type: 'stats', server: isObj(d.server) ? d.server as Partial<ServerStats> : null,
        lmstudio: isObj(d.lmstudio) ? d.lmstudio : null, usage: isObj(d.usage) ? d.usage as ChatStats['usage'] : null };
    case 'end':
      return { type: 'end', stop_reason: str(d.stop_reason) || 'completed',
        response_id: typeof d.response_id === 'string' ? d.response_id : null,
        conversation_id: num(d.conversation_id), message_id: num(d.message_id) };
    default: return null;
  }
}

export interface ChatHandlers {
  /** Each event, as soon as it arrived; `at` is performance.now() of its arrival. */
  onEvent: (e: ChatEvent, at: number) => void;
  /** The stream is over (after `end`, or cut short: `error` says why, null when ended normally). */
  onClose: (error: ApiError | null, aborted: boolean) => void;
  /** performance.now() when the request was handed to fetch. */
  onSent?: (at: number) => void;
}

export interface ChatHandle {
  /** Ask the server to stop (graceful: stats + end follow); aborts the fetch if it does not end soon. */
  stop(): void;
  /** Drop the stream now (the server aborts upstream on disconnect). */
  abort(): void;
  readonly done: Promise<void>;
}

type FetchFn = (input: string, init: RequestInit) => Promise<Response>;

const STOP_GRACE_MS = 3000;

export function streamChat(targetId: number, req: ChatRequest, h: ChatHandlers,
  fetchFn: FetchFn = (i, init) => fetch(i, init)): ChatHandle {
  const ac = new AbortController();
  let requestId = '';
  let closed = false;
  let stopRequested = false;
  let graceTimer: ReturnType<typeof setTimeout> | null = null;
  const now = () => (typeof performance !== 'undefined' ? performance.now() : Date.now());

  const close = (err: ApiError | null) => {
    if (closed) return;
    closed = true;
    if (graceTimer) clearTimeout(graceTimer);
    h.onClose(err, ac.signal.aborted);
  };

  const run = async () => {
    let res: Response;
    try {
      h.onSent?.(now());
      res = await fetchFn(`/api/targets/${encodeURIComponent(targetId)}/chat`, {
        method: 'POST',
        credentials: 'same-origin',
        cache: 'no-store',
        headers: { 'Content-Type': 'application/json', Accept: 'text/event-stream' },
        body: JSON.stringify(req),
        signal: ac.signal,
      });
    } catch {
      close(ac.signal.aborted ? null : new ApiError(0, 'network', 'cannot reach the DaemonPulse server'));
      return;
    }
    if (!res.ok) {
      const text = await res.text().catch(() => '');
      const err = errorFrom(res.status, text, res.headers.get('Retry-After'));
      // let the shared 401 hook send the user to the login page
      if (res.status === 401) http.request('GET', '/api/auth/me').catch(() => {});
      close(err);
      return;
    }
    if (!res.body) { close(new ApiError(res.status, 'bad_response', 'the server sent no stream')); return; }
    let sawEnd = false;
    const parser = new SseParser({
      onEvent: (ev) => {
        if (closed) return;
        const e = decodeChatEvent(ev.event, ev.data);
        if (!e) return;
        if (e.type === 'start') {
          requestId = e.request_id;
          if (stopRequested) void sendStop();
        }
        if (e.type === 'end') sawEnd = true;
        h.onEvent(e, now());
      },
    });
    const reader = res.body.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        if (value) parser.pushBytes(value);
        if (sawEnd) break;
      }
      parser.end();
    } catch {
      if (!ac.signal.aborted) { close(new ApiError(0, 'connection_lost', 'the stream broke off')); return; }
    } finally {
      reader.cancel().catch(() => {});
    }
    if (!sawEnd && !ac.signal.aborted) {
      close(new ApiError(0, 'incomplete_stream', 'the stream ended before its end event'));
      return;
    }
    close(null);
  };

  const sendStop = async () => {
    if (!requestId) return; // sent once `start` names the request
    try {
      await http.request('POST', `/api/chat/${encodeURIComponent(requestId)}/stop`, {});
    } catch {
      ac.abort(); // unknown or finished: closing the stream stops upstream too
    }
  };

  const done = run();
  return {
    stop() {
      if (closed || stopRequested) return;
      stopRequested = true;
      void sendStop();
      graceTimer = setTimeout(() => { if (!closed) ac.abort(); }, STOP_GRACE_MS);
    },
    abort() {
      if (closed) return;
      ac.abort();
    },
    done,
  };
}

/** GET /api/targets/{id}/slots (docs/api-chat.md). */
export interface SlotInstance { id: string; status: string | null; parallel: number | null; queued: number | null }
export interface SlotsView {
  target_id: number;
  available: boolean;
  error: { code: string; message: string } | null;
  instances: SlotInstance[];
}

export function getSlots(targetId: number, signal?: AbortSignal): Promise<SlotsView> {
  return http.request<SlotsView>('GET', `/api/targets/${encodeURIComponent(targetId)}/slots`, undefined, { signal });
}
