// Forge.tsx - The Forge: the active target's models on disk and in memory,
// load with a pre-flight, eject, unload all, downloads, JIT/TTL facts and
// the Live-mode lock. Data comes from the control plane only (no invented
// numbers); updates arrive on /api/events (models, load, download,
// settings) on the tab's one event stream; the listener ends with the page.
import { useCallback, useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { ApiError } from '../../api';
import * as forgeApi from '../../api/forge';
import type { DownloadJob, Facts, InstanceFacts, Model, ModelsView, Settings, TargetList } from '../../api/forge';
import { Alert } from '../../components/Alert';
import { ConfirmDialog } from '../../components/Dialog';
import { PageHeader } from '../../components/PageHeader';
import { ProgressBar } from '../../components/Spinner';
import { btn, input, panel } from '../../components/ui';
import { errorText } from '../../lib/useLoad';
import { user } from '../../state/session';
import { onStreamEvent, streamStatus } from '../../state/targets';
import { Downloads } from './Downloads';
import { Library } from './Library';
import { LoadDialog } from './LoadDialog';

const RELOAD_DELAY_MS = 250;

type Confirm = { kind: 'eject'; instanceId: string } | { kind: 'all'; count: number };

function upsertJob(jobs: DownloadJob[], j: DownloadJob): DownloadJob[] {
  if (!j.job_id) return jobs;
  const i = jobs.findIndex((x) => x.job_id === j.job_id);
  if (i < 0) return [j, ...jobs];
  const next = jobs.slice();
  next[i] = j;
  return next;
}

export function ForgePage() {
  const role = user.value?.role ?? 'viewer';
  const canOperate = role === 'operator' || role === 'admin';
  const isAdmin = role === 'admin';

  const [targets, setTargets] = useState<TargetList | null>(null);
  const [targetsError, setTargetsError] = useState('');
  const [targetId, setTargetId] = useState<number | null>(null);
  const [view, setView] = useState<ModelsView | null>(null);
  const [viewError, setViewError] = useState('');
  const [viewLoading, setViewLoading] = useState(false);
  const [facts, setFacts] = useState<Facts | null>(null);
  const [factsAt, setFactsAt] = useState(0);
  const [settings, setSettings] = useState<Settings | null>(null);
  const [jobs, setJobs] = useState<DownloadJob[]>([]);
  const [loading, setLoading] = useState<Map<string, string>>(new Map());
  const [ejecting, setEjecting] = useState<Set<string>>(new Set());
  const [loadFor, setLoadFor] = useState<Model | null>(null);
  const [confirm, setConfirm] = useState<Confirm | null>(null);
  const [confirmBusy, setConfirmBusy] = useState(false);
  const [confirmError, setConfirmError] = useState('');
  const [notice, setNotice] = useState<{ kind: 'success' | 'error'; text: string } | null>(null);
  const [now, setNow] = useState(Date.now());
  /** the target's health as last reported (null: not known yet) */
  const [healthState, setHealthState] = useState<string | null>(null);

  // targets: the user's active one, else the first
  useEffect(() => {
    const ac = new AbortController();
    forgeApi.listTargets(ac.signal).then((t) => {
      setTargets(t);
      setTargetId((cur) => cur ?? t.active_target_id ?? t.targets[0]?.id ?? null);
    }, (e) => { if (!ac.signal.aborted && !(e instanceof ApiError && e.status === 401)) setTargetsError(errorText(e)); });
    forgeApi.getSettings(ac.signal).then(setSettings, () => { /* mode unknown: loads stay possible, the server decides */ });
    return () => ac.abort();
  }, []);

  // the models view, facts and downloads of the chosen target
  const seq = useRef(0);
  const reload = useCallback((tid: number | null, quiet = false) => {
    if (tid === null) return;
    const n = ++seq.current;
    if (!quiet) setViewLoading(true);
    forgeApi.getModels(tid).then((v) => {
      if (n !== seq.current) return;
      setView(v); setViewError(''); setViewLoading(false);
    }, (e) => {
      if (n !== seq.current || (e instanceof ApiError && e.status === 401)) return;
      setViewError(errorText(e)); setViewLoading(false);
    });
    forgeApi.getFacts(tid).then((f) => { if (n === seq.current) { setFacts(f); setFactsAt(Date.now()); } }, () => {
      if (n === seq.current) setFacts(null);
    });
  }, []);
  useEffect(() => {
    setView(null); setFacts(null); setJobs([]); setViewError('');
    setHealthState(targets?.targets.find((t) => t.id === targetId)?.health?.state ?? null);
    reload(targetId);
    if (targetId === null) return;
    const ac = new AbortController();
    forgeApi.listDownloads(targetId, ac.signal).then((j) => setJobs(j), () => { /* shown as empty; events fill it */ });
    return () => ac.abort();
  }, [targetId]);

  // live updates
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);
  useEffect(() => {
    if (targetId === null) return;
    const soon = () => {
      if (timer.current) clearTimeout(timer.current);
      timer.current = setTimeout(() => reload(targetId, true), RELOAD_DELAY_MS);
    };
    // the tab's one /api/events stream (opened by the shell); 'load' and
    // 'download' are among its event types
    const unsub = onStreamEvent((type, data) => {
      const e = forgeApi.parseForgeEvent(type, data);
      if (!e) return;
      switch (e.type) {
        case 'snapshot': soon(); break; // (re)connected: what we show may be stale
        case 'models': if (e.target_id === targetId) soon(); break;
        case 'health':
          if (e.target_id !== targetId) break;
          setHealthState(e.state);
          if (e.state === 'running') soon(); // back up: read again
          break;
        case 'settings': setSettings(e.settings); break;
        case 'download':
          if (e.target_id !== targetId) break;
          setJobs((js) => upsertJob(js, e.job));
          if (e.job.status === 'completed') soon();
          break;
        case 'load': {
          const d = e.data;
          if (d.target_id !== targetId) break;
          setLoading((m) => {
            const next = new Map(m);
            const by = d.by ?? 'someone';
            if (d.result === 'started') next.set(d.model, `loading (${by})…`);
            else if (d.result === 'queued') next.set(d.model, `waiting for another load on this target (${by})…`);
            else next.delete(d.model);
            return next;
          });
          if (d.result === 'ok' || d.result === 'failed') soon();
          break;
        }
      }
    });
    return () => { unsub(); if (timer.current) clearTimeout(timer.current); };
  }, [targetId]);

  // clock for the TTL countdown and relative times
  const hasTtl = !!facts?.instances.some((i) => typeof i.ttl_remaining_ms === 'number' && i.ttl_remaining_ms > 0);
  useEffect(() => {
    // every second while a TTL counts down, else enough for "read 2 min ago"
    const t = setInterval(() => setNow(Date.now()), hasTtl ? 1000 : 30000);
    return () => clearInterval(t);
  }, [hasTtl]);

  const factsMap = useMemo(() => {
    const m = new Map<string, InstanceFacts>();
    for (const i of facts?.instances ?? []) m.set(i.instance_id, i);
    return m;
  }, [facts]);
  const models = view?.models ?? [];
  const loadedCount = models.reduce((n, m) => n + m.loaded_instances.length, 0);
  const target = targets?.targets.find((t) => t.id === targetId) ?? null;
  const live = settings?.mode === 'live';

  const chooseTarget = (id: number) => {
    setTargetId(id);
    forgeApi.setActiveTarget(id).catch(() => { /* remembered for this page only */ });
  };

  const doConfirm = async () => {
    if (!confirm || targetId === null) return;
    setConfirmBusy(true); setConfirmError('');
    const c = confirm;
    if (c.kind === 'eject') setEjecting((s) => new Set(s).add(c.instanceId));
    try {
      const r = c.kind === 'eject' ? await forgeApi.eject(targetId, c.instanceId) : await forgeApi.unloadAll(targetId);
      setConfirm(null);
      const failed = r.results.filter((x) => !x.ok);
      setNotice(failed.length
        ? { kind: 'error', text: `${r.unloaded} of ${r.requested} unloaded; ${failed.map((f) => `${f.instance_id}: ${f.error?.message ?? 'failed'}`).join('; ')}` }
        : { kind: 'success', text: r.requested === 0 ? 'Nothing was loaded.' : `Unloaded ${r.unloaded} instance${r.unloaded === 1 ? '' : 's'}.` });
      reload(targetId, true);
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 401)) setConfirmError(errorText(e));
    } finally {
      setConfirmBusy(false);
      if (c.kind === 'eject') setEjecting((s) => { const n = new Set(s); n.delete(c.instanceId); return n; });
    }
  };

  return (
    <div class="max-w-6xl">
      <PageHeader title="The Forge" subtitle={target ? `Models on disk and in memory on ${target.label}.` : 'Models on disk and in memory.'}>
        <div class="flex flex-wrap items-end gap-2">
          {targets && targets.targets.length > 1 ? (
            <div>
              <label for="forge-target" class="block text-xs text-slate-400">Target</label>
              <select id="forge-target" class={`${input} mt-1`} value={targetId ?? ''}
                onChange={(e) => chooseTarget(Number((e.target as HTMLSelectElement).value))}>
                {targets.targets.map((t) => <option key={t.id} value={t.id}>{t.label}</option>)}
              </select>
            </div>
          ) : null}
          {canOperate && loadedCount > 0 ? (
            <button type="button" class={btn.danger} onClick={() => { setConfirmError(''); setConfirm({ kind: 'all', count: loadedCount }); }}>
              Unload all ({loadedCount})
            </button>
          ) : null}
        </div>
      </PageHeader>

      <div class="space-y-5">
        {targetsError ? <Alert kind="error" title="Targets could not be read">{targetsError}</Alert> : null}
        {targets && targets.targets.length === 0 ? (
          <Alert kind="info" title="No daemon target">
            DaemonPulse is not watching any LM Studio daemon, so there are no models to show. An admin adds targets in Settings
            (or with DAEMON_API_URL at first start).
          </Alert>
        ) : null}

        {targetId !== null ? (
          <section class={`${panel} flex flex-col gap-2 p-4 text-sm sm:flex-row sm:flex-wrap sm:items-center sm:gap-x-6`} aria-label="Target facts" data-testid="forge-facts">
            <span class="text-slate-300">
              <span class="font-medium text-slate-100">Mode:</span>{' '}
              {settings ? (live ? 'Live — loads use saved presets only' : 'Dev — every load setting is adjustable') : 'not known'}
            </span>
            <span class="text-slate-300" data-testid="jit">
              <span class="font-medium text-slate-100">JIT loading:</span>{' '}
              {facts ? (facts.jit.enabled === true ? 'on (reported by the target)' : facts.jit.enabled === false ? 'off (reported by the target)'
                : `not reported${facts.jit.reason ? ` — ${facts.jit.reason}` : ''}`) : 'not known'}
            </span>
            {view && !view.lms.available ? (
              <span class="text-amber-200">
                lms bridge unavailable{view.lms.error?.message ? `: ${view.lms.error.message}` : ''} — status, queue and TTL are not reported
              </span>
            ) : null}
            {streamStatus.value !== 'live' ? <span class="text-amber-200">live updates {streamStatus.value === 'unavailable' ? 'paused; retrying' : 'connecting…'}</span> : null}
          </section>
        ) : null}

        {view && healthState && healthState !== 'running' && healthState !== 'unknown' ? (
          <Alert kind="warning" title={`The target is ${healthState}`}>
            The list below is what the daemon reported before; it refreshes when the target answers again.
          </Alert>
        ) : null}
        {notice ? <Alert kind={notice.kind}>{notice.text}</Alert> : null}
        {!canOperate && targetId !== null ? (
          <p class="text-sm text-slate-400">You are signed in as a viewer: you can see the library and downloads; loading, ejecting and downloading need an operator.</p>
        ) : null}

        {targetId !== null ? (
          <Downloads targetId={targetId} jobs={jobs} canStart={canOperate}
            onStarted={(j) => setJobs((js) => upsertJob(js, j))} />
        ) : null}

        {targetId !== null ? (
          viewError && !view ? (
            <Alert kind="error" title="The models could not be read">
              {viewError} <button type="button" class={`${btn.small} ml-2`} onClick={() => reload(targetId)}>Retry</button>
            </Alert>
          ) : !view ? (
            <div class={`${panel} p-5`}><ProgressBar label="Loading models" /><p class="mt-3 text-sm text-slate-300">Reading the models from the daemon…</p></div>
          ) : (
            <>
              {viewError ? <Alert kind="error">Refreshing failed: {viewError}</Alert> : null}
              {viewLoading ? <ProgressBar label="Refreshing models" /> : null}
              <Library models={models} facts={factsMap} factsAt={factsAt} now={now} canLoad={canOperate}
                loading={loading} ejecting={ejecting} onLoad={(m) => setLoadFor(m)}
                onEject={(id) => { setConfirmError(''); setConfirm({ kind: 'eject', instanceId: id }); }}
                onRefresh={() => reload(targetId)} fetchedAt={view.fetched_at} />
            </>
          )
        ) : null}
      </div>

      {loadFor && targetId !== null ? (
        <LoadDialog targetId={targetId} model={loadFor} mode={settings?.mode ?? 'dev'} presets={settings?.load_presets ?? []}
          isAdmin={isAdmin} lastLoad={facts?.last_loads?.[loadFor.key] ?? null} onClose={() => setLoadFor(null)} onLoaded={() => reload(targetId, true)} />
      ) : null}
      {confirm ? (
        <ConfirmDialog
          title={confirm.kind === 'eject' ? 'Eject this instance?' : 'Unload every model?'}
          message={confirm.kind === 'eject'
            ? <p>Unload <span class="font-mono text-slate-100">{confirm.instanceId}</span> from {target?.label ?? 'the target'}. Requests it is serving will fail.</p>
            : <p>Unload all {confirm.count} loaded instance{confirm.count === 1 ? '' : 's'} on {target?.label ?? 'the target'}. Requests they are serving will fail.</p>}
          confirmLabel={confirm.kind === 'eject' ? 'Eject' : 'Unload all'}
          busy={confirmBusy} error={confirmError} onConfirm={() => void doConfirm()} onClose={() => setConfirm(null)} />
      ) : null}
    </div>
  );
}
