// Library.tsx - search, filters and sort over the target's models, and
// one page of rows at a time (25) so a thousand models stay fast.
import { useMemo, useState } from 'preact/hooks';
import type { InstanceFacts, Model } from '../../api/forge';
import { btn, input, panel } from '../../components/ui';
import {
  CAPABILITY_LABEL, DEFAULT_QUERY, distinct, paginate, queryModels, type Capability, type LibraryQuery, type SortKey,
} from '../../lib/forgeLibrary';
import { relativeTime } from '../../lib/format';
import { ModelRow } from './ModelRow';

export const PAGE_SIZE = 25;

export function Library({ models, facts, factsAt, now, canLoad, loading, ejecting, onLoad, onEject, onRefresh, fetchedAt }: {
  models: Model[];
  facts: Map<string, InstanceFacts>;
  factsAt: number;
  now: number;
  canLoad: boolean;
  loading: Map<string, string>;
  ejecting: Set<string>;
  onLoad: (m: Model) => void;
  onEject: (instanceId: string) => void;
  onRefresh: () => void;
  /** when the server read the list from the daemon */
  fetchedAt: string | null;
}) {
  const [q, setQ] = useState<LibraryQuery>(DEFAULT_QUERY);
  const [page, setPage] = useState(0);
  const types = useMemo(() => distinct(models, (m) => m.type), [models]);
  const formats = useMemo(() => distinct(models, (m) => m.format), [models]);
  const shown = useMemo(() => queryModels(models, q), [models, q]);
  const p = paginate(shown, page, PAGE_SIZE);
  const upd = (c: Partial<LibraryQuery>) => { setQ({ ...q, ...c }); setPage(0); };
  const toggleCap = (c: Capability) => upd({ caps: q.caps.includes(c) ? q.caps.filter((x) => x !== c) : [...q.caps, c] });

  return (
    <section class={panel} aria-labelledby="library-h">
      <div class="border-b border-slate-700 p-4 sm:p-5">
        <div class="flex flex-wrap items-center justify-between gap-2">
          <h2 id="library-h" class="text-base font-semibold text-white">Library</h2>
          <div class="flex items-center gap-3 text-xs text-slate-400">
            {fetchedAt ? <span>read {relativeTime(fetchedAt, now)}</span> : null}
            <button type="button" class={btn.small} onClick={onRefresh}>Refresh</button>
          </div>
        </div>
        <div class="mt-3 grid gap-3 sm:grid-cols-2 lg:grid-cols-[2fr_1fr_1fr_1.4fr]">
          <div>
            <label for="lib-search" class="sr-only">Search models</label>
            <input id="lib-search" type="search" class={input} placeholder="Search name, publisher, architecture…" value={q.text}
              onInput={(e) => upd({ text: (e.target as HTMLInputElement).value })} />
          </div>
          <div>
            <label for="lib-type" class="sr-only">Type</label>
            <select id="lib-type" class={input} value={q.type} onChange={(e) => upd({ type: (e.target as HTMLSelectElement).value })}>
              <option value="">All types</option>
              {types.map((t) => <option key={t} value={t}>{t}</option>)}
            </select>
          </div>
          <div>
            <label for="lib-format" class="sr-only">Format</label>
            <select id="lib-format" class={input} value={q.format} onChange={(e) => upd({ format: (e.target as HTMLSelectElement).value })}>
              <option value="">All formats</option>
              {formats.map((t) => <option key={t} value={t}>{t.toUpperCase()}</option>)}
            </select>
          </div>
          <div class="flex gap-2">
            <label for="lib-sort" class="sr-only">Sort by</label>
            <select id="lib-sort" class={input} value={q.sort} onChange={(e) => upd({ sort: (e.target as HTMLSelectElement).value as SortKey })}>
              <option value="name">Sort: name</option>
              <option value="size">Sort: size</option>
              <option value="last_used">Sort: last used</option>
            </select>
            <button type="button" class={btn.secondary} onClick={() => upd({ dir: q.dir === 'asc' ? 'desc' : 'asc' })}
              aria-label={q.dir === 'asc' ? 'Ascending; switch to descending' : 'Descending; switch to ascending'}>
              {q.dir === 'asc' ? '↑' : '↓'}
            </button>
          </div>
        </div>
        <fieldset class="mt-3 flex flex-wrap items-center gap-x-4 gap-y-2 text-sm text-slate-200">
          <legend class="sr-only">Filters</legend>
          {(Object.keys(CAPABILITY_LABEL) as Capability[]).map((c) => (
            <label key={c} class="inline-flex items-center gap-2">
              <input type="checkbox" class="accent-indigo-400" checked={q.caps.includes(c)} onChange={() => toggleCap(c)} />
              {CAPABILITY_LABEL[c]}
            </label>
          ))}
          <label class="inline-flex items-center gap-2">
            <input type="checkbox" class="accent-indigo-400" checked={q.loadedOnly} onChange={() => upd({ loadedOnly: !q.loadedOnly })} />
            loaded only
          </label>
        </fieldset>
        <p class="mt-2 text-xs text-slate-400" aria-live="polite" data-testid="library-count">
          {shown.length === models.length ? `${models.length} model${models.length === 1 ? '' : 's'}`
            : `${shown.length} of ${models.length} models match`}
          {q.sort === 'last_used' ? ' · last used comes from lms ps for loaded instances; others sort last' : ''}
        </p>
      </div>
      {p.items.length ? (
        <ul class="divide-y divide-slate-800" aria-label="Models">
          {p.items.map((m) => (
            <ModelRow key={m.key} m={m} facts={facts} factsAt={factsAt} now={now} canLoad={canLoad}
              loading={loading.get(m.key) ?? null} ejecting={ejecting} onLoad={() => onLoad(m)} onEject={onEject} />
          ))}
        </ul>
      ) : (
        <p class="p-5 text-sm text-slate-300">{models.length ? 'No model matches these filters.' : 'LM Studio reports no models on this target.'}</p>
      )}
      {p.pages > 1 ? (
        <nav class="flex flex-wrap items-center justify-between gap-2 border-t border-slate-700 p-3 text-sm" aria-label="Library pages">
          <span class="text-slate-300">{p.from}–{p.to} of {p.total}</span>
          <div class="flex gap-2">
            <button type="button" class={btn.secondary} disabled={p.page === 0} onClick={() => setPage(p.page - 1)}>Previous</button>
            <span class="self-center text-slate-300">page {p.page + 1} of {p.pages}</span>
            <button type="button" class={btn.secondary} disabled={p.page >= p.pages - 1} onClick={() => setPage(p.page + 1)}>Next</button>
          </div>
        </nav>
      ) : null}
    </section>
  );
}
