// ModelRow.tsx - one model of the library: what LM Studio reports about it
// (publisher, architecture, params, quantization, size, max context,
// capabilities from its own flags) and its loaded instances with their
// config, status, queue, TTL left and how they were loaded. Text only.
import type { InstanceFacts, LoadedInstance, Model } from '../../api/forge';
import { btn } from '../../components/ui';
import { relativeTime } from '../../lib/format';
import { formatBytes, formatDuration, formatInt } from '../../lib/forgeFormat';
import {
  CAPABILITY_LABEL, capabilitiesOf, configEntries, modelName, statusLabel, ttlRemaining,
} from '../../lib/forgeLibrary';

const STATUS_CLASS: Record<string, string> = {
  idle: 'border-slate-400 text-slate-300',
  processing: 'border-amber-300 text-amber-200',
  generating: 'border-emerald-300 text-emerald-300',
  embedding: 'border-emerald-300 text-emerald-300',
};

function Badge({ children, cls = 'border-slate-500 text-slate-300' }: { children: preact.ComponentChildren; cls?: string }) {
  return <span class={`inline-flex items-center rounded-full border px-2 py-0.5 text-xs ${cls}`}>{children}</span>;
}

/** "Q4_K_M (4-bit)"; the bits are left out when the name already says them ("4bit"). */
function quantText(q: Model['quantization']): string {
  if (!q?.name) return typeof q?.bits_per_weight === 'number' ? `${q.bits_per_weight}-bit` : '—';
  const bits = q.bits_per_weight;
  if (typeof bits !== 'number' || new RegExp(`(^|\\D)${bits}-?bit`, 'i').test(q.name)) return q.name;
  return `${q.name} (${bits}-bit)`;
}

function origin(f: InstanceFacts | undefined): string {
  if (!f) return 'how it was loaded is not known';
  if (f.loaded_by === 'daemonpulse') {
    return `loaded by ${f.by ?? 'DaemonPulse'} via ${f.via === 'lms' ? 'lms' : 'REST'}${f.loaded_at ? ` ${relativeTime(f.loaded_at)}` : ''} (not a JIT load)`;
  }
  if (f.jit === true) return 'JIT-loaded (reported)';
  return 'loaded outside DaemonPulse: JIT or not is not reported';
}

function Instance({ i, facts, factsAt, now, canEject, pending, onEject }: {
  i: LoadedInstance; facts: InstanceFacts | undefined; factsAt: number; now: number;
  canEject: boolean; pending: boolean; onEject: () => void;
}) {
  const st = statusLabel(i.status);
  const ttlLeft = ttlRemaining(facts, factsAt, now);
  const ttl = i.ttl_ms ?? facts?.ttl_ms ?? null;
  return (
    <li class="rounded-md border border-slate-700 bg-slate-950 p-3" data-testid="instance" data-instance-id={i.id}>
      <div class="flex flex-wrap items-center justify-between gap-2">
        <div class="flex min-w-0 flex-wrap items-center gap-2">
          <span class="break-all font-mono text-sm text-slate-100">{i.id}</span>
          {st ? <Badge cls={STATUS_CLASS[st] ?? STATUS_CLASS.idle}>{st}</Badge> : <Badge>status not reported</Badge>}
          {typeof i.queued === 'number' ? <span class="text-xs text-slate-300">queue {i.queued}</span> : null}
        </div>
        {canEject ? (
          <button type="button" class={btn.smallDanger} onClick={onEject} aria-disabled={pending ? 'true' : undefined}
            aria-label={`Eject ${i.id}`}>Eject</button>
        ) : null}
      </div>
      <dl class="mt-2 flex flex-wrap gap-x-4 gap-y-1 text-xs">
        {configEntries(i).map(([k, v]) => (
          <div key={k} class="flex gap-1"><dt class="text-slate-400">{k}</dt><dd class="text-slate-200">{v}</dd></div>
        ))}
        <div class="flex gap-1">
          <dt class="text-slate-400">TTL</dt>
          <dd class="text-slate-200" data-testid="ttl">
            {ttl === null ? (i.status === null && !facts ? 'not reported' : 'none')
              : ttlLeft !== null ? `${formatDuration(ttlLeft)} left of ${formatDuration(ttl)} if idle` : `${formatDuration(ttl)} (time left not known)`}
          </dd>
        </div>
        {i.last_used_at ? <div class="flex gap-1"><dt class="text-slate-400">last used</dt><dd class="text-slate-200">{relativeTime(i.last_used_at, now)}</dd></div> : null}
      </dl>
      <p class="mt-1 text-xs text-slate-400">{origin(facts)}</p>
    </li>
  );
}

export function ModelRow({ m, facts, factsAt, now, canLoad, loading, ejecting, onLoad, onEject }: {
  m: Model;
  facts: Map<string, InstanceFacts>;
  factsAt: number;
  now: number;
  canLoad: boolean;
  /** what the row says while a load of it runs or waits ("loading (alice)…"), null when none */
  loading: string | null;
  ejecting: Set<string>;
  onLoad: () => void;
  onEject: (instanceId: string) => void;
}) {
  const caps = capabilitiesOf(m);
  const q = m.quantization;
  const meta: [string, string][] = [
    ['publisher', m.publisher ?? '—'],
    ['architecture', m.architecture ?? '—'],
    ['params', m.params ?? '—'],
    ['quantization', quantText(q)],
    ['size', formatBytes(m.size_bytes)],
    ['max context', formatInt(m.max_context_length)],
  ];
  return (
    <li class="p-4" data-testid="model-row" data-model-key={m.key}>
      <div class="flex items-start justify-between gap-3">
        <div class="min-w-0 flex-1">
          <h3 class="text-base font-semibold text-white">{modelName(m)}</h3>
          <p class="break-all font-mono text-xs text-slate-400">{m.key}</p>
        </div>
        <div class="flex shrink-0 flex-wrap items-center justify-end gap-2">
          {loading ? <span class="text-xs text-amber-200" role="status">{loading}</span> : null}
          {canLoad ? <button type="button" class={btn.small} onClick={onLoad} aria-label={`Load ${m.key}`}>Load…</button> : null}
        </div>
      </div>
      <div class="mt-2 flex flex-wrap gap-1.5">
        <Badge>{m.type}</Badge>
        {m.format ? <Badge>{m.format.toUpperCase()}</Badge> : null}
        {caps.map((c) => <Badge key={c} cls="border-indigo-400 text-indigo-200">{CAPABILITY_LABEL[c]}</Badge>)}
        {m.loaded_instances.length ? <Badge cls="border-emerald-300 text-emerald-300">loaded ×{m.loaded_instances.length}</Badge> : null}
      </div>
      <dl class="mt-2 grid grid-cols-2 gap-x-4 gap-y-1 text-sm sm:grid-cols-3 lg:grid-cols-6">
        {meta.map(([k, v]) => (
          <div key={k} class="min-w-0">
            <dt class="text-xs text-slate-400">{k}</dt>
            <dd class="truncate text-slate-200" title={v}>{v}</dd>
          </div>
        ))}
      </dl>
      {m.loaded_instances.length ? (
        <ul class="mt-3 space-y-2" aria-label={`Loaded instances of ${m.key}`}>
          {m.loaded_instances.map((i) => (
            <Instance key={i.id} i={i} facts={facts.get(i.id)} factsAt={factsAt} now={now} canEject={canLoad}
              pending={ejecting.has(i.id)} onEject={() => onEject(i.id)} />
          ))}
        </ul>
      ) : null}
    </li>
  );
}
