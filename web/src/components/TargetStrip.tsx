// TargetStrip.tsx - the global target/health strip at the top of every
// page: each daemon target's label and health as the server reports it on
// /api/events. With no targets it says so; before the first snapshot it
// says it is checking. Nothing is invented.
import { useEffect } from 'preact/hooks';
import { healthText, sortedTargets } from '../lib/targets';
import { haveSnapshot, startTargetStream, streamStatus, targets } from '../state/targets';
import { Spinner } from './Spinner';
import { AlertBadge } from '../pages/fleet/AlertBadge';

const DOT: Record<string, string> = {
  running: 'bg-emerald-300 border-emerald-300',
  stalled: 'bg-amber-300 border-amber-300',
  stopped: 'bg-red-400 border-red-400',
  unauthorized: 'bg-red-400 border-red-400',
  error: 'bg-red-400 border-red-400',
  unknown: 'border-slate-400',
};
const TEXT: Record<string, string> = {
  running: 'text-emerald-300',
  stalled: 'text-amber-200',
  stopped: 'text-red-200',
  unauthorized: 'text-red-200',
  error: 'text-red-200',
  unknown: 'text-slate-400',
};

export function TargetStrip() {
  useEffect(() => startTargetStream(), []);
  const list = sortedTargets(targets.value);
  const status = streamStatus.value;
  return (
    <section aria-label="Daemon targets" data-testid="target-strip"
      class="flex flex-wrap items-center gap-x-4 gap-y-1 border-b border-slate-800 bg-slate-900 px-4 py-2 text-sm sm:px-8">
      {!haveSnapshot.value ? (
        status === 'unavailable' ? (
          <span class="text-slate-300">Target status is unavailable: the server did not open the event stream. Retrying.</span>
        ) : (
          <span class="text-slate-300"><Spinner label="Checking daemon targets…" /></span>
        )
      ) : list.length === 0 ? (
        <>
          <span class="inline-flex items-center gap-2 font-medium text-slate-200">
            <span class="h-2.5 w-2.5 rounded-full border border-slate-400" aria-hidden="true" />
            No targets configured
          </span>
          <span class="text-slate-400">
            DaemonPulse is not watching any LM Studio daemon yet. Targets come from DAEMON_API_URL at first start or from the /api/targets API.
          </span>
        </>
      ) : (
        <>
        <span class="text-xs font-semibold uppercase tracking-wider text-slate-400" aria-hidden="true">Targets</span>
        <ul class="flex flex-wrap items-center gap-x-4 gap-y-1" aria-label="Target health">
          {list.map((t) => {
            const s = t.health?.state ?? 'unknown';
            return (
              <li key={t.id} class="inline-flex min-w-0 items-center gap-2" data-target-label={t.label}
                title={t.health?.error?.message ?? undefined}>
                <span class={`h-2.5 w-2.5 shrink-0 rounded-full border ${DOT[s] ?? DOT.unknown}`} aria-hidden="true" />
                <span class="max-w-[12rem] truncate font-medium text-slate-100">{t.label}</span>
                <span class={TEXT[s] ?? TEXT.unknown}>{healthText(t.health)}</span>
              </li>
            );
          })}
        </ul>
        </>
      )}
      {haveSnapshot.value && status !== 'live' ? (
        <span class="text-xs text-slate-400">{status === 'unavailable' ? 'updates paused; retrying' : 'reconnecting…'}</span>
      ) : null}
      <AlertBadge />
    </section>
  );
}
