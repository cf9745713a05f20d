// shared.ts - what Chat and Compare mode share: the settings kept when
// switching modes, the request skeleton, aborting streams on unmount, and
// painting a stream at most once per frame.
import { useEffect, useMemo, useRef } from 'preact/hooks';
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

/**
 * Paint a stream at most once per animation frame: events may arrive many
 * to a frame, and each paint renders the whole answer (Markdown, chart). A
 * busy or hidden tab gets fewer frames and so does less work, instead of
 * falling behind the stream (a Stop pressed on a view seconds behind would
 * come too late). `now()` paints at once (start and end of a run).
 */
export function useFramePaint(paint: () => void): { schedule: () => void; now: () => void } {
  const frame = useRef<number | null>(null);
  const fn = useRef(paint);
  fn.current = paint;
  useEffect(() => () => { if (frame.current !== null) cancelAnimationFrame(frame.current); }, []);
  return useMemo(() => ({
    schedule: () => {
      if (frame.current === null) frame.current = requestAnimationFrame(() => { frame.current = null; fn.current(); });
    },
    now: () => {
      if (frame.current !== null) { cancelAnimationFrame(frame.current); frame.current = null; }
      fn.current();
    },
  }), []);
}
