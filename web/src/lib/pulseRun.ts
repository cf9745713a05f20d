// pulseRun.ts - one streamed answer as plain state: events from the chat
// relay fold into it (reasoning and content apart, progress, tool calls,
// errors, stats, the stop reason) together with the browser's own arrival
// times. Pure: the page keeps a RunState in a signal and calls applyEvent
// for every event.
import type { ChatEvent, ChatStats, ToolCallEvent } from '../api/chat';

export type RunStatus = 'sending' | 'loading' | 'processing' | 'streaming' | 'done' | 'stopped' | 'error';

export interface RunState {
  status: RunStatus;
  requestId: string;
  model: string;
  api: string;
  conversationId: number | null;
  reasoning: string;
  content: string;
  reasoningEvents: number;
  contentEvents: number;
  /** model load progress 0..1 (v1 JIT loads); null when none */
  modelLoad: number | null;
  modelLoadSeconds: number | null;
  promptProgress: number | null;
  toolCalls: ToolCallEvent[];
  errors: { code: string; message: string }[];
  stats: ChatStats | null;
  stopReason: string | null;
  responseId: string | null;
  messageId: number | null;
  /** performance.now() times */
  sentAt: number | null;
  firstTokenAt: number | null;
  lastTokenAt: number | null;
  endedAt: number | null;
  /** arrival time of every reasoning/content event (bounded), for the live chart */
  tokenTimes: number[];
}

export const MAX_TOKEN_TIMES = 100000;

export function newRun(model: string, sentAt: number | null): RunState {
  return {
    status: 'sending', requestId: '', model, api: '', conversationId: null,
    reasoning: '', content: '', reasoningEvents: 0, contentEvents: 0,
    modelLoad: null, modelLoadSeconds: null, promptProgress: null, toolCalls: [], errors: [],
    stats: null, stopReason: null, responseId: null, messageId: null,
    sentAt, firstTokenAt: null, lastTokenAt: null, endedAt: null, tokenTimes: [],
  };
}

export function isActive(r: RunState | null): boolean {
  return !!r && (r.status === 'sending' || r.status === 'loading' || r.status === 'processing' || r.status === 'streaming');
}

function token(r: RunState, at: number): RunState {
  // appended in place (a copy per token would be quadratic); only the chart reads it
  if (r.tokenTimes.length < MAX_TOKEN_TIMES) r.tokenTimes.push(at);
  return { ...r, status: 'streaming', firstTokenAt: r.firstTokenAt ?? at, lastTokenAt: at };
}

export function applyEvent(r: RunState, e: ChatEvent, at: number): RunState {
  switch (e.type) {
    case 'start':
      return { ...r, requestId: e.request_id, model: e.model || r.model, api: e.api, conversationId: e.conversation_id };
    case 'model_load':
      if (e.done) return { ...r, modelLoad: 1, modelLoadSeconds: e.load_time_seconds ?? null, status: r.status === 'loading' ? 'processing' : r.status };
      return { ...r, modelLoad: e.progress ?? r.modelLoad ?? 0, status: r.status === 'sending' ? 'loading' : r.status };
    case 'prompt_progress':
      return { ...r, promptProgress: e.progress, status: r.status === 'streaming' ? r.status : 'processing' };
    case 'reasoning': {
      const n = token(r, at);
      return { ...n, reasoning: r.reasoning + e.text, reasoningEvents: r.reasoningEvents + 1 };
    }
    case 'content': {
      const n = token(r, at);
      return { ...n, content: r.content + e.text, contentEvents: r.contentEvents + 1 };
    }
    case 'tool_call':
      return { ...r, toolCalls: [...r.toolCalls, e] };
    case 'error':
      return { ...r, errors: [...r.errors, { code: e.code, message: e.message }] };
    case 'stats':
      return { ...r, stats: { server: e.server, lmstudio: e.lmstudio, usage: e.usage } };
    case 'end': {
      const status: RunStatus = e.stop_reason === 'userStopped' ? 'stopped' : e.stop_reason === 'error' ? 'error' : 'done';
      return { ...r, status, stopReason: e.stop_reason, responseId: e.response_id, messageId: e.message_id,
        conversationId: e.conversation_id ?? r.conversationId, endedAt: at };
    }
  }
}

/** The stream closed without an end event (network, HTTP error, local abort). */
export function closeRun(r: RunState, at: number, error: { code: string; message: string } | null, aborted: boolean): RunState {
  if (!isActive(r)) return r;
  if (aborted) return { ...r, status: 'stopped', stopReason: r.stopReason ?? 'userStopped', endedAt: at };
  return { ...r, status: 'error', stopReason: r.stopReason ?? 'error', endedAt: at,
    errors: error ? [...r.errors, error] : r.errors };
}

/** Multi-turn tool calls of the OpenAI style arrive as fragments: join them per index. */
export function joinedToolCalls(calls: readonly ToolCallEvent[]): { key: string; tool: string; phase: string; args: string; output: string }[] {
  const out = new Map<string, { key: string; tool: string; phase: string; args: string; output: string }>();
  let seq = 0;
  for (const c of calls) {
    const key = c.phase === 'call' ? `call-${c.index ?? 0}` : c.id ? `v1-${c.id}` : `v1-${c.tool ?? ''}-${c.phase === 'start' ? ++seq : seq}`;
    const cur = out.get(key) ?? { key, tool: '', phase: c.phase, args: '', output: '' };
    if (c.tool) cur.tool = c.tool;
    cur.phase = c.phase;
    if (typeof c.arguments === 'string') cur.args = c.phase === 'call' ? cur.args + c.arguments : c.arguments;
    else if (c.arguments !== undefined) cur.args = JSON.stringify(c.arguments);
    if (c.output) cur.output = c.output;
    if (c.reason) cur.output = c.reason;
    out.set(key, cur);
  }
  return [...out.values()];
}

/** A saved assistant message (history) as a finished run, for the same view. */
export function storedRun(m: { content: string; reasoning?: string | null; model?: string | null; stop_reason?: string | null;
  stats?: ChatStats | null; id: number }): RunState {
  const r = newRun(m.model ?? '', null);
  const stop = m.stop_reason ?? null;
  return { ...r, status: stop === 'userStopped' ? 'stopped' : stop === 'error' ? 'error' : 'done',
    content: m.content ?? '', reasoning: m.reasoning ?? '', stats: m.stats ?? null, stopReason: stop, messageId: m.id,
    reasoningEvents: 0, contentEvents: 0 };
}
