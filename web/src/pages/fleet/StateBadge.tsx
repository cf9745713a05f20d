// StateBadge.tsx - a daemon target's health state as a dot and a word
// (colour is never the only signal), with the latency when running.
import type { Health } from '../../api/types';
import { healthText } from '../../lib/targets';

const DOT: Record<string, string> = {
  running: 'bg-emerald-300 border-emerald-300',
  stalled: 'bg-amber-300 border-amber-300',
  stopped: 'bg-red-400 border-red-400',
  unauthorized: 'bg-red-400 border-red-400',
  error: 'bg-red-400 border-red-400',
  unknown: 'border-slate-400',
};
const TEXT: Record<string, string> = {
  running: 'text-emerald-300 border-emerald-300',
  stalled: 'text-amber-200 border-amber-300',
  stopped: 'text-red-200 border-red-400',
  unauthorized: 'text-red-200 border-red-400',
  error: 'text-red-200 border-red-400',
  unknown: 'text-slate-300 border-slate-500',
};

export function StateBadge({ health }: { health: Health | null }) {
  const s = health?.state ?? 'unknown';
  return (
    <span data-testid="state-badge" data-state={s} title={health?.error?.message ?? undefined}
      class={`inline-flex items-center gap-1.5 whitespace-nowrap rounded-full border px-2 py-0.5 text-xs font-medium ${TEXT[s] ?? TEXT.unknown}`}>
      <span class={`h-2 w-2 shrink-0 rounded-full border ${DOT[s] ?? DOT.unknown}`} aria-hidden="true" />
      {healthText(health)}
    </span>
  );
}
