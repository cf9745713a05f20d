// Slots.tsx - parallel slots and queue per loaded instance, only where
// `lms ps` reports them (GET /api/targets/{id}/slots). When the bridge is
// unavailable or reports nothing, this renders nothing: no fake monitor.
// Polled every 2 s while shown (faster than the Fleet: a queue changes
// with every request); the poll stops when the view goes away.
import { useEffect, useState } from 'preact/hooks';
import { ApiError } from '../../api';
import { getSlots, type SlotsView } from '../../api/chat';

const POLL_MS = 2000;

export function Slots({ targetId, highlight }: { targetId: number | null; highlight: string[] }) {
  const [view, setView] = useState<SlotsView | null>(null);
  useEffect(() => {
    setView(null);
    if (targetId === null) return;
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | null = null;
    let ac: AbortController | null = null;
    const poll = async () => {
      ac = new AbortController();
      try {
        const v = await getSlots(targetId, ac.signal);
        if (!stopped) setView(v);
      } catch (e) {
        if (stopped) return;
        if (e instanceof ApiError && (e.status === 401 || e.status === 404)) { setView(null); return; }
        setView(null);
      }
      if (!stopped) timer = setTimeout(poll, POLL_MS);
    };
    void poll();
    return () => { stopped = true; if (timer) clearTimeout(timer); ac?.abort(); };
  }, [targetId]);

  const rows = view && view.available ? view.instances.filter((i) => i.parallel !== null || i.queued !== null) : [];
  if (rows.length === 0) return null;
  return (
    <section class="rounded-xl border border-slate-700 bg-slate-900 p-3" aria-labelledby="slots-heading" data-testid="slots">
      <h2 id="slots-heading" class="text-xs font-semibold uppercase tracking-wider text-slate-400">Slots (from lms ps)</h2>
      <ul class="mt-2 space-y-2">
        {rows.map((i) => {
          const queued = i.queued ?? null;
          const parallel = i.parallel ?? null;
          const busy = queued !== null && parallel !== null ? Math.min(queued, parallel) : null;
          const waiting = queued !== null && parallel !== null ? Math.max(0, queued - parallel) : null;
          return (
            <li key={i.id} class={`rounded-md border px-2 py-1.5 text-xs ${highlight.includes(i.id) ? 'border-indigo-400' : 'border-slate-700'}`}>
              <p class="truncate font-mono text-slate-100" title={i.id}>{i.id}</p>
              <p class="mt-0.5 text-slate-300">
                {i.status ?? 'status not reported'}
                {parallel !== null ? ` · ${parallel} parallel slot${parallel === 1 ? '' : 's'}` : ''}
                {queued !== null ? ` · ${queued} request${queued === 1 ? '' : 's'} in flight` : ''}
                {waiting ? ` (${waiting} waiting)` : ''}
              </p>
              {parallel !== null && busy !== null && parallel <= 64 ? (
                <div class="mt-1 flex flex-wrap gap-1" aria-label={`${busy} of ${parallel} slots busy`} role="img">
                  {Array.from({ length: parallel }, (_, k) => (
                    <span key={k} class={`h-2 w-4 rounded-sm ${k < busy ? 'bg-indigo-400' : 'border border-slate-500'}`} />
                  ))}
                </div>
              ) : null}
            </li>
          );
        })}
      </ul>
    </section>
  );
}
