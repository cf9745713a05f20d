// Console.tsx - The Console: a target's live daemon logs (Logs), the
// per-model prediction statistics (Performance) and DaemonPulse's audit
// trail (Audit), one URL each (?tab=). The target is the user's active one
// unless chosen here (?target=). Everything shown comes from the control
// plane; with no target there is nothing to stream and the page says so.
import * as targetsApi from '../../api/targets';
import { Alert } from '../../components/Alert';
import { Link } from '../../components/Link';
import { PageHeader } from '../../components/PageHeader';
import { Spinner } from '../../components/Spinner';
import { input, label } from '../../components/ui';
import { useLoad } from '../../lib/useLoad';
import { navigate, search } from '../../state/router';
import { isAdmin } from '../../state/session';
import { ConsoleAudit } from './ConsoleAudit';
import { Logs } from './Logs';
import { Perf } from './Perf';

type Tab = 'logs' | 'perf' | 'audit';
const TABS: { key: Tab; label: string }[] = [
  { key: 'logs', label: 'Logs' },
  { key: 'perf', label: 'Performance' },
  { key: 'audit', label: 'Audit' },
];

function href(tab: Tab, target: number | null): string {
  const p = new URLSearchParams();
  if (tab !== 'logs') p.set('tab', tab);
  if (target !== null) p.set('target', String(target));
  const s = p.toString();
  return `/console${s ? '?' + s : ''}`;
}

export function ConsolePage() {
  const params = new URLSearchParams(search.value);
  const tabParam = params.get('tab');
  const tab: Tab = tabParam === 'perf' || tabParam === 'audit' ? tabParam : 'logs';
  const wanted = Number(params.get('target'));
  const list = useLoad((s) => targetsApi.listTargets(s), []);
  const targets = list.data?.targets ?? [];
  const chosen = targets.find((t) => t.id === wanted) ??
    targets.find((t) => t.id === list.data?.active_target_id) ?? targets[0] ?? null;
  const targetId = chosen?.id ?? null;

  const picker = targets.length > 1 ? (
    <div class="w-full sm:w-64">
      <label for="console-target" class={label}>Target</label>
      <select id="console-target" class={`${input} mt-1`} value={targetId ?? ''}
        onChange={(e) => navigate(href(tab, Number((e.currentTarget as HTMLSelectElement).value)), { replace: true })}>
        {targets.map((t) => <option key={t.id} value={t.id}>{t.label}</option>)}
      </select>
    </div>
  ) : chosen ? <p class="text-sm text-slate-300">Target: <span class="font-medium text-white">{chosen.label}</span></p> : null;

  return (
    <div class="max-w-7xl">
      <PageHeader title="The Console" subtitle="What the daemon is logging right now, how fast it answers, and who did what.">
        {picker}
      </PageHeader>
      <nav aria-label="Console views" class="mb-4 border-b border-slate-700">
        <ul class="-mb-px flex flex-wrap gap-x-1">
          {TABS.map((t) => (
            <li key={t.key}>
              <Link href={href(t.key, targetId === null || targets.length < 2 ? null : targetId)}
                aria-current={t.key === tab ? 'page' : undefined}
                class={`inline-block border-b-2 px-3 py-2 text-sm font-medium ${t.key === tab
                  ? 'border-indigo-400 text-indigo-200'
                  : 'border-transparent text-slate-300 hover:border-slate-500 hover:text-white'}`}>
                {t.label}
              </Link>
            </li>
          ))}
        </ul>
      </nav>
      {tab === 'audit' ? <ConsoleAudit admin={isAdmin.value} targetId={targetId} />
        : list.loading && !list.data ? <Spinner label="Loading targets…" class="h-5 w-5 text-indigo-300" />
        : list.error ? (
          <Alert kind="error" title="Could not load the daemon targets">
            {list.error}{' '}<button type="button" class="underline" onClick={list.reload}>Retry</button>
          </Alert>
        ) : !chosen ? (
          <Alert kind="info" title="No daemon target yet">
            The Console streams a target’s logs; there is none to watch.{' '}
            {isAdmin.value
              ? <Link href="/settings/targets" class="underline underline-offset-2">Add one in Settings → Daemon targets.</Link>
              : 'An administrator can add one in Settings → Daemon targets.'}
          </Alert>
        ) : tab === 'perf' ? <Perf key={chosen.id} targetId={chosen.id} />
          : <Logs key={chosen.id} targetId={chosen.id} label={chosen.label} />}
    </div>
  );
}
