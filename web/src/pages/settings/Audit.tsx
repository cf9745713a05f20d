// Audit.tsx - Settings → Audit log (admin): who did what to which target,
// when, from where and with what result. Newest first, filtered by user,
// action and target on the server, paged with the server's cursor.
import { useState } from 'preact/hooks';
import { auditApi, type AuditQuery } from '../../api';
import { Alert } from '../../components/Alert';
import { ProgressBar } from '../../components/Spinner';
import { btn, input, label, panel } from '../../components/ui';
import { formatDateTime } from '../../lib/format';
import { describeDetail, pageLabel } from '../../lib/audit';
import { useLoad } from '../../lib/useLoad';

const PAGE = 50;
const KNOWN_ACTIONS = ['auth.', 'auth.login', 'auth.logout', 'auth.password', 'user.', 'user.create', 'user.update',
  'user.delete', 'token.', 'token.create', 'token.revoke'];

interface Filters { user: string; action: string; target: string }
const EMPTY: Filters = { user: '', action: '', target: '' };

function ResultBadge({ result }: { result: string }) {
  const cls = result === 'ok' ? 'border-emerald-300 text-emerald-300'
    : result === 'denied' ? 'border-amber-300 text-amber-200' : 'border-red-400 text-red-200';
  return <span class={`inline-block rounded-full border px-2 py-0.5 text-xs font-medium ${cls}`}>{result}</span>;
}

export function AuditTab() {
  const [draft, setDraft] = useState<Filters>(EMPTY);
  const [filters, setFilters] = useState<Filters>(EMPTY);
  // cursors[i] is the `before` value of page i (null for the newest page)
  const [cursors, setCursors] = useState<(number | null)[]>([null]);
  const pageIdx = cursors.length - 1;
  const q: AuditQuery = { ...filters, limit: PAGE, before: cursors[pageIdx] };
  // the result carries the page index it was asked for: while the next page
  // loads, the rows on screen (and the range label) are still the old page's
  const page = useLoad(async (s) => ({ idx: pageIdx, res: await auditApi.listAudit(q, s) }),
    [filters.user, filters.action, filters.target, cursors[pageIdx]]);

  const apply = (e: Event) => {
    e.preventDefault();
    setFilters({ user: draft.user.trim(), action: draft.action.trim(), target: draft.target.trim() });
    setCursors([null]);
  };
  const reset = () => { setDraft(EMPTY); setFilters(EMPTY); setCursors([null]); };
  const field = (k: keyof Filters) => ({
    value: draft[k],
    onInput: (e: Event) => setDraft({ ...draft, [k]: (e.currentTarget as HTMLInputElement).value }),
  });
  const entries = page.data?.res.entries ?? [];
  const next = page.data?.res.next_before ?? null;
  const shownIdx = page.data?.idx ?? 0;

  return (
    <section aria-labelledby="audit-heading" class="space-y-4">
      <div>
        <h2 id="audit-heading" class="text-lg font-semibold text-white">Audit log</h2>
        <p class="text-sm text-slate-400">Every sign-in and every change, newest first.</p>
      </div>
      <form onSubmit={apply} class={`${panel} grid gap-3 p-4 sm:grid-cols-2 lg:grid-cols-[1fr_1fr_1fr_auto]`}
        aria-label="Filter the audit log">
        <div>
          <label for="audit-user" class={label}>User</label>
          <input id="audit-user" class={`${input} mt-1`} placeholder="exact username" autocomplete="off" {...field('user')} />
        </div>
        <div>
          <label for="audit-action" class={label}>Action</label>
          <input id="audit-action" class={`${input} mt-1`} placeholder="e.g. auth.login or user." list="audit-actions"
            autocomplete="off" {...field('action')} />
          <datalist id="audit-actions">{KNOWN_ACTIONS.map((a) => <option key={a} value={a} />)}</datalist>
        </div>
        <div>
          <label for="audit-target" class={label}>Target</label>
          <input id="audit-target" class={`${input} mt-1`} placeholder="e.g. user:alice" autocomplete="off" {...field('target')} />
        </div>
        <div class="flex items-end gap-2">
          <button type="submit" class={btn.primary}>Filter</button>
          <button type="button" class={btn.secondary} onClick={reset}>Clear</button>
        </div>
      </form>
      <div class="h-1">{page.loading ? <ProgressBar label="Loading audit entries" /> : null}</div>
      {page.error ? (
        <Alert kind="error" title="Could not load the audit log">
          {page.error}{' '}<button type="button" class="underline" onClick={page.reload}>Retry</button>
        </Alert>
      ) : null}
      {page.data && entries.length === 0 ? <p class="text-sm text-slate-400">No entries match.</p> : null}
      {entries.length > 0 ? (
        <div class={`${panel} overflow-x-auto ${page.loading ? 'opacity-60' : ''}`} role="region" aria-label="Audit entries"
          aria-busy={page.loading} tabIndex={0}>
          <table class="w-full min-w-[44rem] text-left text-sm">
            <thead class="border-b border-slate-700 text-xs uppercase tracking-wider text-slate-400">
              <tr>
                <th scope="col" class="px-3 py-2 font-semibold">When</th>
                <th scope="col" class="px-3 py-2 font-semibold">User</th>
                <th scope="col" class="px-3 py-2 font-semibold">Action</th>
                <th scope="col" class="px-3 py-2 font-semibold">Target</th>
                <th scope="col" class="px-3 py-2 font-semibold">Result</th>
                <th scope="col" class="px-3 py-2 font-semibold">From</th>
                <th scope="col" class="px-3 py-2 font-semibold">Detail</th>
              </tr>
            </thead>
            <tbody class="divide-y divide-slate-800">
              {entries.map((e) => (
                <tr key={e.id} data-id={e.id}>
                  <td class="whitespace-nowrap px-3 py-2 text-slate-300">{formatDateTime(e.at)}</td>
                  <td class="px-3 py-2 text-slate-200">{e.username ?? '—'}</td>
                  <td class="px-3 py-2 font-mono text-xs text-indigo-200">{e.action}</td>
                  <td class="px-3 py-2 font-mono text-xs text-slate-300">{e.target ?? '—'}</td>
                  <td class="px-3 py-2"><ResultBadge result={e.result} /></td>
                  <td class="px-3 py-2 font-mono text-xs text-slate-300">{e.ip ?? '—'}</td>
                  <td class="px-3 py-2 text-xs text-slate-300">{describeDetail(e.detail)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      {page.data ? (
        <nav aria-label="Audit pages" class="flex flex-wrap items-center justify-between gap-3">
          <p class="text-sm text-slate-400">{pageLabel(shownIdx, PAGE, entries.length)}</p>
          <div class="flex gap-2">
            <button type="button" class={btn.secondary} disabled={pageIdx === 0 || page.loading}
              onClick={() => setCursors(cursors.slice(0, -1))}>Newer</button>
            <button type="button" class={btn.secondary} disabled={next === null || page.loading}
              onClick={() => setCursors([...cursors, next])}>Older</button>
          </div>
        </nav>
      ) : null}
    </section>
  );
}
