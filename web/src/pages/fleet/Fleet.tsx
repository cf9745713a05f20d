// Fleet.tsx - The Fleet: one card per daemon target with its live state,
// loaded instances, GPUs (survey capacity + live telemetry where
// measured), RAM, history charts and the Kill Switch. The list follows
// target changes on /api/events; each card polls its own data and stops
// when it goes away.
import { useEffect, useRef, useState } from 'preact/hooks';
import * as targetsApi from '../../api/targets';
import { subscribeAllTelemetry, type Telemetry } from '../../api/telemetry';
import { Link } from '../../components/Link';
import { Alert } from '../../components/Alert';
import { PageHeader } from '../../components/PageHeader';
import { ProgressBar } from '../../components/Spinner';
import { panel } from '../../components/ui';
import { healthCounts } from '../../lib/targets';
import { useLoad } from '../../lib/useLoad';
import { alerts, alertsError } from './alerts';
import { isAdmin } from '../../state/session';
import { targets as liveTargets } from '../../state/targets';
import { TargetCard } from './TargetCard';

export function FleetPage() {
  const list = useLoad((s) => targetsApi.listTargets(s), []);
  const live = liveTargets.value;
  const key = [...live.values()].map((t) => `${t.id}:${t.label}`).sort().join('|');
  const firstKey = useRef(key);
  useEffect(() => { if (key !== firstKey.current) { firstKey.current = key; list.reload(); } }, [key]);
  // live telemetry of every target in one request every 2 s
  const [tel, setTel] = useState<ReadonlyMap<number, Telemetry> | null>(null);
  const [telErr, setTelErr] = useState('');
  useEffect(() => subscribeAllTelemetry({
    onData: (all) => { setTel(new Map(all.map((t) => [t.target_id, t]))); setTelErr(''); },
    onError: setTelErr,
  }), []);
  const data = list.data;
  return (
    <div class="max-w-7xl">
      <PageHeader title="The Fleet" subtitle="Every LM Studio daemon DaemonPulse watches, as measured now." />
      {list.loading && !data ? <ProgressBar label="Loading targets" /> : null}
      {list.error ? (
        <Alert kind="error" title="Could not load the targets">
          {list.error}{' '}<button type="button" class="underline" onClick={list.reload}>Retry</button>
        </Alert>
      ) : null}
      {data && data.targets.length === 0 ? (
        <section class={`${panel} p-5`} aria-label="No targets">
          <p class="text-sm text-slate-300">
            No daemon targets are configured, so there is nothing to show.{' '}
            {isAdmin.value ? (
              <>Add one in{' '}
                <Link href="/settings/targets" class="text-indigo-300 underline underline-offset-2 hover:text-indigo-200">Settings → Daemon targets</Link>.</>
            ) : 'An administrator can add one in Settings → Daemon targets.'}
          </p>
        </section>
      ) : null}
      {data && data.targets.length > 0 ? (
        <FleetSummary list={data.targets.map((t) => ({ id: t.id, label: t.label, health: live.get(t.id)?.health ?? t.health }))} />
      ) : null}
      {telErr && !tel ? <p class="mb-4 text-sm text-red-200">Live telemetry could not be read: {telErr}</p> : null}
      {data && data.targets.length > 0 ? (
        <ul class="grid gap-6 2xl:grid-cols-2" aria-label="Daemon targets">
          {data.targets.map((t) => (
            <li key={t.id} class="min-w-0">
              <TargetCard target={t} health={live.get(t.id)?.health ?? t.health}
                active={data.active_target_id === t.id} tel={tel?.get(t.id) ?? null} telErr={telErr} />
            </li>
          ))}
        </ul>
      ) : null}
    </div>
  );
}

function FleetSummary({ list }: { list: { id: number; label: string; health: targetsApi.Target['health'] }[] }) {
  const c = healthCounts(list);
  const n = alerts.value.length;
  return (
    <p class="mb-4 flex flex-wrap gap-x-4 gap-y-1 text-sm text-slate-300" data-testid="fleet-summary">
      <span>{list.length} target{list.length === 1 ? '' : 's'}</span>
      <span class="text-emerald-300">{c.running} running</span>
      {c.problems ? <span class="text-red-200">{c.problems} need{c.problems === 1 ? 's' : ''} attention</span> : null}
      {c.unknown ? <span>{c.unknown} not checked yet</span> : null}
      <span class={n ? 'text-red-200' : ''}>{n ? `${n} firing alert${n === 1 ? '' : 's'}` : alertsError.value ? 'alerts unavailable' : 'no firing alerts'}</span>
    </p>
  );
}
