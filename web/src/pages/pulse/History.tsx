// History.tsx - the user's saved conversations: list (newest activity
// first, paged), search (titles and messages, on the server), reopen,
// rename, delete, export as Markdown or JSON. The list reloads when
// `version` changes (a chat saved a message).
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError } from '../../api';
import {
  deleteConversation, exportConversation, listConversations, renameConversation, type ConversationSummary, type ExportFormat,
} from '../../api/conversations';
import { ErrorSlot } from '../../components/Alert';
import { ConfirmDialog, Dialog } from '../../components/Dialog';
import { Spinner } from '../../components/Spinner';
import { btn, input, label } from '../../components/ui';
import { relativeTime } from '../../lib/format';
import { errorText } from '../../lib/useLoad';

const PAGE = 50;

function download(filename: string, blob: Blob): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  a.rel = 'noopener';
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

export function History({ activeId, version, onOpen, onDeleted }: {
  activeId: number | null;
  version: number;
  onOpen: (id: number) => void;
  onDeleted: (id: number) => void;
}) {
  const [items, setItems] = useState<ConversationSummary[]>([]);
  const [next, setNext] = useState<number | null>(null);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState('');
  const [renaming, setRenaming] = useState<ConversationSummary | null>(null);
  const [deleting, setDeleting] = useState<ConversationSummary | null>(null);
  const [busy, setBusy] = useState(false);
  const [dlgError, setDlgError] = useState('');
  const [title, setTitle] = useState('');
  const acRef = useRef<AbortController | null>(null);
  const [search, setSearch] = useState('');
  const [query, setQuery] = useState(''); // the search the list shows
  const searchTimer = useRef<ReturnType<typeof setTimeout> | null>(null);

  const load = async (offset: number, q = query) => {
    acRef.current?.abort();
    const ac = new AbortController();
    acRef.current = ac;
    setLoading(true);
    try {
      const p = await listConversations({ limit: PAGE, offset, q }, ac.signal);
      if (ac.signal.aborted) return;
      setQuery(q);
      setItems((old) => (offset === 0 ? p.conversations : [...old, ...p.conversations]));
      setNext(p.next_offset);
      setError('');
    } catch (e) {
      if (ac.signal.aborted || (e instanceof ApiError && e.status === 401)) return;
      setError(errorText(e));
    } finally {
      if (!ac.signal.aborted) setLoading(false);
    }
  };
  useEffect(() => { void load(0); return () => acRef.current?.abort(); }, [version]);
  useEffect(() => () => { if (searchTimer.current) clearTimeout(searchTimer.current); }, []);
  // search as the user types, a moment after the last key
  const onSearch = (v: string) => {
    setSearch(v);
    if (searchTimer.current) clearTimeout(searchTimer.current);
    searchTimer.current = setTimeout(() => { void load(0, v.trim()); }, 250);
  };

  const doExport = async (c: ConversationSummary, f: ExportFormat) => {
    try {
      const r = await exportConversation(c.id, f);
      download(r.filename, r.blob);
    } catch (e) { setError(errorText(e)); }
  };

  const doRename = async (e: Event) => {
    e.preventDefault();
    if (!renaming) return;
    const t = title.trim();
    if (t.length < 1 || t.length > 200) { setDlgError('the title must be 1 to 200 characters'); return; }
    setBusy(true);
    try {
      const c = await renameConversation(renaming.id, t);
      setItems((old) => old.map((x) => (x.id === c.id ? { ...x, title: c.title } : x)));
      setRenaming(null);
    } catch (err) { setDlgError(errorText(err)); } finally { setBusy(false); }
  };

  const doDelete = async () => {
    if (!deleting) return;
    setBusy(true);
    try {
      await deleteConversation(deleting.id);
      setItems((old) => old.filter((x) => x.id !== deleting.id));
      onDeleted(deleting.id);
      setDeleting(null);
    } catch (err) { setDlgError(errorText(err)); } finally { setBusy(false); }
  };

  return (
    <nav aria-labelledby="history-heading" class="min-w-0" data-testid="history">
      <div class="mb-2 flex items-center justify-between gap-2">
        <h2 id="history-heading" class="text-sm font-semibold text-white">History</h2>
        {loading ? <Spinner label="" class="h-4 w-4 text-indigo-300" /> : null}
      </div>
      <label for="history-search" class="sr-only">Search conversations</label>
      <input id="history-search" type="search" class={`${input} mb-2 py-1 text-sm`} placeholder="Search titles and messages"
        value={search} maxLength={50} autocomplete="off" onInput={(e) => onSearch((e.currentTarget as HTMLInputElement).value)} />
      <ErrorSlot error={error} class="mb-2" />
      {!loading && items.length === 0 && !error
        ? <p class="text-sm text-slate-400">{query ? `No conversation contains “${query}”.` : 'No saved conversations yet.'}</p> : null}
      <ul class="space-y-1">
        {items.map((c) => (
          <li key={c.id} class={`group rounded-md border ${c.id === activeId ? 'border-indigo-400 bg-indigo-950' : 'border-transparent hover:bg-slate-800'}`}
            data-testid="history-item" data-conversation-id={c.id}>
            <button type="button" class="block w-full min-w-0 px-2 pt-1.5 text-left" onClick={() => onOpen(c.id)}
              aria-current={c.id === activeId ? 'true' : undefined}>
              <span class={`block truncate text-sm ${c.id === activeId ? 'text-indigo-200' : 'text-slate-200'}`}>{c.title || `Conversation ${c.id}`}</span>
              <span class={`block truncate text-xs ${c.id === activeId ? 'text-indigo-200' : 'text-slate-400'}`}>
                {c.model ?? 'no model'} · {c.messages} msg · {relativeTime(c.updated_at)}
              </span>
            </button>
            <div class="flex flex-wrap gap-x-2 px-2 pb-1.5 pt-0.5 text-xs" role="group" aria-label={`Actions for ${c.title}`}>
              <button type="button" class="text-indigo-300 hover:underline" onClick={() => { setTitle(c.title); setDlgError(''); setRenaming(c); }}
                aria-label={`Rename ${c.title}`}>Rename</button>
              <button type="button" class="text-indigo-300 hover:underline" onClick={() => doExport(c, 'md')}
                aria-label={`Export ${c.title} as Markdown`}>.md</button>
              <button type="button" class="text-indigo-300 hover:underline" onClick={() => doExport(c, 'json')}
                aria-label={`Export ${c.title} as JSON`}>.json</button>
              <button type="button" class="text-red-200 hover:underline" onClick={() => { setDlgError(''); setDeleting(c); }}
                aria-label={`Delete ${c.title}`}>Delete</button>
            </div>
          </li>
        ))}
      </ul>
      {next !== null ? <button type="button" class={`${btn.small} mt-2`} onClick={() => load(next)} disabled={loading}>Load more</button> : null}

      {renaming ? (
        <Dialog title="Rename conversation" onClose={() => setRenaming(null)}>
          <form onSubmit={doRename} class="space-y-3">
            <div>
              <label class={label} for="rename-title">Title</label>
              <input id="rename-title" class={`${input} mt-1`} value={title} maxLength={200} data-autofocus
                onInput={(e) => setTitle((e.currentTarget as HTMLInputElement).value)} />
            </div>
            <ErrorSlot error={dlgError} />
            <div class="flex justify-end gap-2">
              <button type="button" class={btn.secondary} onClick={() => setRenaming(null)}>Cancel</button>
              <button type="submit" class={btn.primary} aria-disabled={busy}>Save</button>
            </div>
          </form>
        </Dialog>
      ) : null}
      {deleting ? (
        <ConfirmDialog title="Delete conversation?" message={<>“{deleting.title}” and its messages are deleted for good.</>}
          confirmLabel="Delete" busy={busy} error={dlgError} onConfirm={doDelete} onClose={() => setDeleting(null)} />
      ) : null}
    </nav>
  );
}
