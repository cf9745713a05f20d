// sse.ts - Server-Sent Events subscriptions (used by the module pages that
// later issues build: /api/events, log streams). Every subscription returns
// an unsubscribe function that the view must call when it goes away.

export interface SseHandlers {
  /** One parsed event; `data` is JSON-decoded when it parses, else the raw string. */
  onEvent: (type: string, data: unknown, id: string) => void;
  onOpen?: () => void;
  /** The connection broke. `closed` false: EventSource reconnects by itself;
   *  true: the browser gave up (non-200 answer such as 401/404) and the
   *  caller decides whether to subscribe again. */
  onError?: (closed: boolean) => void;
}

type EventSourceCtor = new (url: string, init?: EventSourceInit) => EventSource;

export function decodeData(raw: string): unknown {
  try { return JSON.parse(raw); } catch { return raw; }
}

/** Subscribe to `path` for the named event `types` (plus unnamed "message"). */
export function subscribe(path: string, types: readonly string[], h: SseHandlers,
  Ctor?: EventSourceCtor): () => void {
  const es = new (Ctor ?? EventSource)(path, { withCredentials: false });
  let closed = false;
  const listeners: Array<[string, (e: Event) => void]> = [];
  for (const t of ['message', ...types]) {
    const fn = (e: Event) => {
      if (closed) return;
      const me = e as MessageEvent<string>;
      h.onEvent(t, decodeData(me.data), me.lastEventId);
    };
    es.addEventListener(t, fn);
    listeners.push([t, fn]);
  }
  const open = () => { if (!closed) h.onOpen?.(); };
  const err = () => { if (!closed) h.onError?.(es.readyState === 2 /* CLOSED */); };
  es.addEventListener('open', open);
  es.addEventListener('error', err);
  return () => {
    if (closed) return;
    closed = true;
    for (const [t, fn] of listeners) es.removeEventListener(t, fn);
    es.removeEventListener('open', open);
    es.removeEventListener('error', err);
    es.close();
  };
}
