// targets.ts - live target health for the shell strip, from /api/events.
// start() is called by the shell when it mounts and returns the
// unsubscribe function it calls when it goes away (sign-out).
import { signal } from '@preact/signals';
import { subscribeEvents } from '../api/events';
import { http } from '../api/http';
import { applyEvent, type TargetMap } from '../lib/targets';

export type StreamStatus = 'connecting' | 'live' | 'reconnecting' | 'unavailable';

export const targets = signal<TargetMap>(new Map());
export const streamStatus = signal<StreamStatus>('connecting');
/** True once a snapshot arrived (so "no targets" is a fact, not a guess). */
export const haveSnapshot = signal(false);

const RETRY_MS = 15000;

type StreamListener = (type: string, data: unknown) => void;
const listeners = new Set<StreamListener>();
/** Other views' interest in this tab's /api/events stream (alert, models, gpus…); returns the unsubscribe function. */
export function onStreamEvent(fn: StreamListener): () => void {
  listeners.add(fn);
  return () => { listeners.delete(fn); };
}

export function startTargetStream(): () => void {
  let unsub: (() => void) | null = null;
  let timer: ReturnType<typeof setTimeout> | null = null;
  let stopped = false;
  const connect = () => {
    streamStatus.value = haveSnapshot.value ? 'reconnecting' : 'connecting';
    unsub = subscribeEvents({
      onOpen: () => { streamStatus.value = 'live'; },
      onEvent: (type, data) => {
        if (type === 'snapshot') haveSnapshot.value = true;
        targets.value = applyEvent(targets.value, type, data);
        for (const fn of listeners) fn(type, data);
      },
      onError: (closed) => {
        if (!closed) { streamStatus.value = 'reconnecting'; return; }
        // the server refused the stream: if the session is gone, the 401 of
        // this check sends the user to the login page; otherwise retry later
        streamStatus.value = 'unavailable';
        http.request('GET', '/api/auth/me').catch(() => { /* handled by the 401 hook or retried */ });
        unsub?.();
        unsub = null;
        if (!stopped) timer = setTimeout(connect, RETRY_MS);
      },
    });
  };
  connect();
  return () => {
    stopped = true;
    if (timer) clearTimeout(timer);
    unsub?.();
    targets.value = new Map();
    haveSnapshot.value = false;
    streamStatus.value = 'connecting';
  };
}
