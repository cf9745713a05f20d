// pulseForm.ts - The Pulse's settings form: sampling fields as typed text
// (empty = LM Studio's default, not sent), validated into a ChatRequest's
// fields with a message per bad field; the transcript turned into the
// request's messages; the model picker's options (loaded instances first,
// then models LM Studio would load on first use). Pure.
import type { ChatApi, ChatMessage, ChatRequest, ReasoningSetting } from '../api/chat';
import type { ModelInfo } from '../api/targets';

export interface SamplingForm {
  temperature: string;
  top_p: string;
  top_k: string;
  max_tokens: string;
  repeat_penalty: string;
  seed: string;
  /** one stop string per line */
  stop: string;
  reasoning: '' | ReasoningSetting;
  think_open: string;
  think_close: string;
}

export const EMPTY_SAMPLING: SamplingForm = {
  temperature: '', top_p: '', top_k: '', max_tokens: '', repeat_penalty: '', seed: '', stop: '',
  reasoning: '', think_open: '', think_close: '',
};

export type SamplingErrors = Partial<Record<keyof SamplingForm, string>>;

type Fields = Pick<ChatRequest, 'temperature' | 'top_p' | 'top_k' | 'max_tokens' | 'repeat_penalty' | 'seed' | 'stop' | 'reasoning' | 'think_tags'>;

function number(v: string, min: number, max: number, int: boolean): number | string | null {
  const t = v.trim();
  if (t === '') return null;
  if (!/^-?(\d+\.?\d*|\.\d+)(e-?\d+)?$/i.test(t)) return 'a number';
  const n = Number(t);
  if (!Number.isFinite(n)) return 'a number';
  if (int && !Number.isInteger(n)) return 'a whole number';
  if (n < min || n > max) return `${min} to ${max}`;
  return n;
}

/** Validate the form for `api`; fields the API ignores are still checked but not sent. */
export function samplingFields(f: SamplingForm, api: ChatApi): { fields: Fields; errors: SamplingErrors } {
  const errors: SamplingErrors = {};
  const fields: Fields = {};
  const spec: [keyof Fields & keyof SamplingForm, number, number, boolean][] = [
    ['temperature', 0, 2, false], ['top_p', 0, 1, false], ['top_k', 0, 1000, true],
    ['max_tokens', 1, 1048576, true], ['repeat_penalty', 0, 10, false], ['seed', -2147483648, 4294967295, true],
  ];
  for (const [k, min, max, int] of spec) {
    const r = number(f[k], min, max, int);
    if (typeof r === 'string') errors[k] = `must be ${r}`;
    else if (r !== null) (fields as Record<string, number>)[k] = r;
  }
  const stops = f.stop.split('\n').filter((s) => s !== '');
  if (stops.length > 8) errors.stop = 'at most 8 stop strings';
  else if (stops.some((s) => s.length > 256)) errors.stop = 'each stop string at most 256 characters';
  else if (stops.length && api !== 'v1') fields.stop = stops;
  if (api === 'v1') delete fields.seed; // v1 has no seed
  if (f.reasoning && api === 'v1') fields.reasoning = f.reasoning;
  const o = f.think_open.trim(), c = f.think_close.trim();
  if (o || c) {
    if (!o || !c) errors.think_open = 'give both tags, or neither';
    else if (o.length > 31 || c.length > 31) errors.think_open = 'tags are 1 to 31 characters';
    else fields.think_tags = { open: o, close: c };
  }
  return { fields, errors };
}

/** Which fields the chosen API ignores (said next to them). */
export function ignoredBy(api: ChatApi): Set<keyof SamplingForm> {
  return api === 'v1' ? new Set(['seed', 'stop']) : new Set(['reasoning']);
}

export interface Turn { role: 'user' | 'assistant'; content: string }

/** The request's messages: the transcript so far plus the new user message. */
export function requestMessages(transcript: readonly Turn[], prompt: string): ChatMessage[] {
  const msgs: ChatMessage[] = transcript.filter((t) => t.content !== '' || t.role === 'user')
    .map((t) => ({ role: t.role, content: t.content }));
  msgs.push({ role: 'user', content: prompt });
  return msgs;
}

export interface ModelOption {
  value: string;
  label: string;
  loaded: boolean;
  /** the model key (for loaded instances, the model they are an instance of) */
  key: string;
}

/** Chat-capable models: every loaded instance first, then models on disk (JIT-loadable). */
export function modelOptions(models: readonly ModelInfo[]): { loaded: ModelOption[]; onDisk: ModelOption[] } {
  const chat = models.filter((m) => m.type !== 'embedding');
  const loaded: ModelOption[] = [];
  const onDisk: ModelOption[] = [];
  for (const m of chat) {
    const insts = m.loaded_instances ?? [];
    for (const i of insts) {
      const extra = i.status ? ` · ${i.status}` : '';
      loaded.push({ value: i.id, label: `${i.id}${i.id !== m.key ? ` (${m.key})` : ''}${extra}`, loaded: true, key: m.key });
    }
    if (insts.length === 0) onDisk.push({ value: m.key, label: `${m.display_name && m.display_name !== m.key ? `${m.display_name} — ` : ''}${m.key}`, loaded: false, key: m.key });
  }
  const byValue = (a: ModelOption, b: ModelOption) => a.value.localeCompare(b.value);
  return { loaded: loaded.sort(byValue), onDisk: onDisk.sort(byValue) };
}

/** The first option to preselect: a loaded instance when there is one. */
export function defaultModel(o: { loaded: ModelOption[]; onDisk: ModelOption[] }, keep?: string | null): string {
  const all = [...o.loaded, ...o.onDisk];
  if (keep && all.some((x) => x.value === keep)) return keep;
  return all[0]?.value ?? '';
}
