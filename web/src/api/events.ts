// events.ts - GET /api/events: one SSE stream per browser tab carrying
// target health, model and target changes (docs/api-targets.md). Returns
// an unsubscribe function.
import { subscribe, type SseHandlers } from './sse';

export const EVENT_TYPES = ['snapshot', 'health', 'models', 'target', 'gpus', 'alert', 'settings', 'load', 'download'] as const;

export function subscribeEvents(h: Omit<SseHandlers, 'onEvent'> & { onEvent: (type: string, data: unknown) => void },
  Ctor?: typeof EventSource): () => void {
  return subscribe('/api/events', EVENT_TYPES, {
    onEvent: (t, d) => h.onEvent(t, d),
    onOpen: h.onOpen,
    onError: h.onError,
  }, Ctor);
}
