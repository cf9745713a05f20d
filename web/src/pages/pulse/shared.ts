// shared.ts - what Chat and Compare mode share: the settings kept when
// switching modes, the request skeleton, aborting streams on unmount.
import { useEffect, useRef } from 'preact/hooks';
import type { ChatHandle, ChatRequest } from '../../api/chat';
import type { SamplingForm } from '../../lib/pulseForm';
import type { PickerValue } from './Controls';

/** Settings shared by both modes (kept when switching). */
export interface Shared {
  system: string;
  sampling: SamplingForm;
}

/** Helpers the two modes share. */
export function baseRequest(p: PickerValue, shared: Shared, fields: Partial<ChatRequest>): Omit<ChatRequest, 'messages'> {
  const r: Omit<ChatRequest, 'messages'> = { model: p.model, api: p.api, ...fields };
  if (shared.system.trim()) r.system_prompt = shared.system;
  return r;
}

/** Abort every live stream when the view goes away. */
export function useAbortOnUnmount(handles: { current: (ChatHandle | null)[] }) {
  const ref = useRef(handles);
  ref.current = handles;
  useEffect(() => () => { for (const h of ref.current.current) h?.abort(); }, []);
}
