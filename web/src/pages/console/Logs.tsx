// Logs.tsx - Console → Logs: one target's live log stream (SSE,
// docs/api-logs.md) with source toggles (the stream is reopened with the
// chosen sources; the lines of the others are dropped), a level filter and
// a text search that re-filter what is already held, pause/resume (lines
// are buffered and counted while paused), auto-scroll that stops when the
// user scrolls up, clear, download of the visible lines, the stream's
// connection state and every source's status as honest banners. Lines are
// handed to the view once per animation frame and at most 10,000 are kept.
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { http } from '../../api/http';
import {
  LOG_SOURCES, subscribeLogs, type Hello, type LogLine, type LogSource, type SourceStatus,
} from '../../api/logs';
import { Alert } from '../../components/Alert';
import { btn, input } from '../../components/ui';
import { FrameBatcher } from '../../lib/consoleBatch';
import { DEFAULT_CAP, LineBuffer, PauseQueue } from '../../lib/consoleBuffer';
import { LEVEL_FILTERS, MAX_QUERY, type Filter, type LevelFilter } from '../../lib/consoleFilter';
import {
  SOURCE_LABEL, STATE_TEXT, downloadName, downloadText, statusBanners,
} from '../../lib/consoleFormat';
import { LogList } from './LogList';

type Conn = 'connecting' | 'backlog' | 'live' | 'reconnecting' | 'closed';
const CONN_TEXT: Record<Conn, string> = {
  connecting: 'Connecting…', backlog: 'Loading the backlog…', live: 'Connected',
  reconnecting: 'Reconnecting…', closed: 'Disconnected; retrying shortly',
};
const RETRY_MS = 5000;
const LEVEL_TEXT: Record<LevelFilter, string> = { all: 'All', live: 'Live', info: 'Info', warn: 'Warn', error: 'Error' };
const LEVEL_HINT: Record<LevelFilter, string> = {
  all: 'every line', live: 'high-level events only: loads, unloads, server start/stop, warnings and errors',
  info: 'info and above', warn: 'warnings and errors', error: 'errors only',
};

const nf = new Intl.NumberFormat('en');

function Glyph({ d, fill = false }: { d: string; fill?: boolean }) {
  return (
    <svg class="h-3.5 w-3.5" viewBox="0 0 24 24" fill={fill ? 'currentColor' : 'none'} stroke="currentColor" stroke-width="2.2"
      stroke-linecap="round" stroke-linejoin="round" aria-hidden="true"><path d={d} /></svg>
  );
}

export function Logs({ targetId, label }: { targetId: number; label: string }) {
  const [sources, setSources] = useState<ReadonlySet<LogSource>>(() => new Set(LOG_SOURCES));
  const [level, setLevel] = useState<LevelFilter>('all');
  const [q, setQ] = useState('');
  const [payloads, setPayloads] = useState(true);
  const [paused, setPaused] = useState(false);
  const [follow, setFollow] = useState(true);
  const [conn, setConn] = useState<Conn>('connecting');
  const [hello, setHello] = useState<Hello | null>(null);
  const [statuses, setStatuses] = useState<Partial<Record<LogSource, SourceStatus>>>({});
  const [reopen, setReopen] = useState(0);
  const [, setVersion] = useState(0);

  const filter: Filter = useMemo(() => ({ sources, level, q }), [sources, level, q]);
  const buf = useRef<LineBuffer | null>(null);
  if (!buf.current) buf.current = new LineBuffer(filter, DEFAULT_CAP);
  const pq = useRef(new PauseQueue(DEFAULT_CAP));
  const pausedRef = useRef(paused);
  pausedRef.current = paused;
  const droppedVisible = useRef(0);
  const modeRef = useRef<string | null>(null);
  const batcher = useRef<FrameBatcher<LogLine> | null>(null);
  if (!batcher.current) {
    batcher.current = new FrameBatcher<LogLine>((items) => {
      if (pausedRef.current) pq.current.push(items);
      else droppedVisible.current += buf.current!.append(items).droppedVisible;
      setVersion((v) => v + 1);
    }, (cb) => requestAnimationFrame(cb), (id) => cancelAnimationFrame(id));
  }
  useEffect(() => () => batcher.current?.dispose(), []);
  // the open stream's unsubscribe (closing it stops its events at once)
  const unsubRef = useRef<(() => void) | null>(null);
  /** Close the stream and forget every line: what follows comes under other rules (payloads, mode). */
  const startOver = () => {
    unsubRef.current?.();
    unsubRef.current = null;
    batcher.current!.dispose();
    pq.current.take();
    buf.current!.reset();
    setVersion((v) => v + 1);
  };

  // the filter applies in the same render that shows it (highlight and list agree)
  const applied = useRef(filter);
  if (applied.current !== filter) {
    applied.current = filter;
    buf.current!.setFilter(filter);
  }

  // the stream: reopened when the sources or the payload choice change,
  // after the browser gave up, or when the server's mode changed
  const sourcesKey = LOG_SOURCES.filter((s) => sources.has(s)).join(',');
  useEffect(() => {
    const chosen = LOG_SOURCES.filter((s) => sources.has(s));
    if (!chosen.length) { setConn('closed'); return; }
    setConn('connecting');
    let retry: ReturnType<typeof setTimeout> | null = null;
    let unsub: (() => void) | null = null;
    let flushOnClose = true;
    unsub = subscribeLogs(targetId, { sources: chosen, level: 'all', payloads }, {
      onOpen: () => setConn((c) => (c === 'live' ? c : 'connecting')),
      onEvent: (e) => {
        switch (e.type) {
          case 'hello': {
            const prev = modeRef.current;
            modeRef.current = e.data.mode;
            setHello(e.data);
            const st: Partial<Record<LogSource, SourceStatus>> = {};
            for (const s of e.data.streams) st[s.source] = s;
            setStatuses(st);
            setConn('backlog');
            // the mode changed while we were away: what is held was shown under other rules
            if (prev !== null && prev !== e.data.mode) { batcher.current!.dispose(); pq.current.take(); buf.current!.reset(); setVersion((v) => v + 1); }
            break;
          }
          case 'line': batcher.current!.push(e.data); break;
          case 'live': batcher.current!.flush(); setConn('live'); break;
          case 'status': setStatuses((m) => ({ ...m, [e.data.source]: e.data })); break;
          case 'mode':
            if (e.data.mode !== modeRef.current) {
              // Live mode hides payloads: drop what was shown under Dev rules and start over
              flushOnClose = false;
              startOver();
              setReopen((n) => n + 1);
            }
            break;
          default: break;
        }
      },
      onError: (closed) => {
        if (!closed) { setConn('reconnecting'); return; }
        setConn('closed');
        // a 401 here sends the user to the login page (http's hook); otherwise retry
        http.request('GET', '/api/auth/me').catch(() => { /* handled by the 401 hook */ });
        unsub?.();
        unsub = null;
        unsubRef.current = null;
        retry = setTimeout(() => setReopen((n) => n + 1), RETRY_MS);
      },
    });
    unsubRef.current = () => { flushOnClose = false; unsub?.(); unsub = null; };
    return () => {
      if (retry) clearTimeout(retry);
      unsub?.();
      unsub = null;
      if (unsubRef.current) unsubRef.current = null;
      // lines of this stream still waiting for a frame belong to the view unless it started over
      if (flushOnClose) batcher.current?.flush();
    };
  }, [targetId, sourcesKey, payloads, reopen]);

  const toggleSource = (s: LogSource) => {
    const next = new Set(sources);
    if (next.has(s)) next.delete(s); else next.add(s);
    batcher.current!.flush();
    buf.current!.dropSources(next);
    setSources(next);
  };
  const togglePayloads = () => {
    // lines already held carry (or lack) payloads: start over under the new rule
    startOver();
    setPayloads(!payloads);
  };
  const resume = () => {
    batcher.current!.flush();
    droppedVisible.current += buf.current!.append(pq.current.take()).droppedVisible;
    setPaused(false);
  };
  const clear = () => {
    batcher.current!.flush();
    pq.current.take();
    buf.current!.clear();
    setFollow(true);
    setVersion((v) => v + 1);
  };
  const download = (format: 'ndjson' | 'txt') => {
    const text = downloadText(buf.current!.visible, format);
    const blob = new Blob([text], { type: format === 'ndjson' ? 'application/x-ndjson' : 'text/plain' });
    const url = URL.createObjectURL(blob);
    const a = document.createElement('a');
    a.href = url;
    a.download = downloadName(label, format);
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  };

  const b = buf.current!;
  const visible = b.visible;
  const live = hello?.mode === 'live';
  const lmsDown = hello !== null && !hello.lms.available;
  const banners = statusBanners(LOG_SOURCES.filter((s) => sources.has(s))
    .map((s) => statuses[s])
    .filter((s): s is SourceStatus => !!s && !(lmsDown && s.state === 'unavailable')));
  const connCls = conn === 'live' ? 'border-emerald-300 text-emerald-300'
    : conn === 'closed' ? 'border-red-400 text-red-200' : 'border-amber-300 text-amber-200';

  return (
    <section aria-labelledby="logs-heading" class="space-y-3">
      <h2 id="logs-heading" class="sr-only">Logs of {label}</h2>
      {live ? (
        <Alert kind="info" title="Live mode: high-level events only, payloads hidden by the server">
          The server sends only model loads and unloads, server start and stop, warnings and errors, and removes model
          input and output payloads, because LM Studio logs full prompts and completions. An administrator can switch to
          Dev mode in Settings → Mode &amp; presets to see every line.
        </Alert>
      ) : null}
      {lmsDown ? (
        <Alert kind="warning" title="No LM Studio logs: lms is not available">
          {hello!.lms.reason ?? 'lms is not available'}. LM Studio has no REST endpoint for logs; DaemonPulse runs
          {' '}<code class="font-mono">lms log stream</code> for the server, model and runtime sources. DaemonPulse’s own events
          about this target are still shown.
        </Alert>
      ) : null}
      {banners.map((bn) => (
        <div key={bn.sources.join(',')} data-testid={`status-${bn.sources.join('-')}`}>
          <Alert kind={bn.kind} title={bn.title}>{bn.text}</Alert>
        </div>
      ))}

      <div class="flex flex-wrap items-end gap-x-4 gap-y-3">
        <fieldset>
          <legend class="mb-1 text-xs font-semibold uppercase tracking-wider text-slate-400">Sources</legend>
          <div class="flex flex-wrap gap-1.5">
            {LOG_SOURCES.map((s) => {
              const st = statuses[s];
              return (
                <label key={s} class={`inline-flex cursor-pointer items-center gap-1.5 rounded-md border px-2 py-1 text-xs font-medium ${sources.has(s)
                  ? 'border-indigo-400 bg-indigo-950 text-indigo-200' : 'border-slate-500 bg-slate-800 text-slate-300'}`}
                  title={st ? `${STATE_TEXT[st.state] ?? st.state}${st.reason ? ': ' + st.reason : ''}` : undefined}>
                  <input type="checkbox" class="accent-indigo-400" checked={sources.has(s)} onChange={() => toggleSource(s)} />
                  {SOURCE_LABEL[s]}
                  {st && sources.has(s) ? <span class="text-slate-300">· {STATE_TEXT[st.state] ?? st.state}</span> : null}
                </label>
              );
            })}
          </div>
        </fieldset>
        <fieldset>
          <legend class="mb-1 text-xs font-semibold uppercase tracking-wider text-slate-400">Level</legend>
          <div class="inline-flex overflow-hidden rounded-md border border-slate-500" role="group" aria-label="Level">
            {LEVEL_FILTERS.map((l) => (
              <button key={l} type="button" aria-pressed={level === l} title={LEVEL_HINT[l]}
                onClick={() => setLevel(l)}
                class={`px-2.5 py-1 text-xs font-medium ${level === l ? 'bg-indigo-600 text-white' : 'bg-slate-800 text-slate-200 hover:bg-slate-700'}`}>
                {LEVEL_TEXT[l]}
              </button>
            ))}
          </div>
        </fieldset>
        <div class="min-w-0 flex-1 basis-48">
          <label for="console-search" class="mb-1 block text-xs font-semibold uppercase tracking-wider text-slate-400">Search</label>
          <input id="console-search" type="search" class={`${input} py-1`} placeholder="text in the line or its payload"
            maxLength={MAX_QUERY} value={q} autocomplete="off"
            onInput={(e) => setQ((e.currentTarget as HTMLInputElement).value)} />
        </div>
      </div>

      <div class="flex flex-wrap items-center gap-2">
        {paused
          ? <button type="button" class={btn.small} onClick={resume}><Glyph d="M7 5v14l12-7z" fill />Resume</button>
          : <button type="button" class={btn.small} onClick={() => { batcher.current!.flush(); setPaused(true); }}>
            <Glyph d="M8 5v14M16 5v14" />Pause
          </button>}
        <button type="button" class={btn.small} aria-pressed={follow} onClick={() => setFollow(!follow)}>
          <Glyph d="M12 4v15M6 13l6 6 6-6" />{follow ? 'Auto-scroll on' : 'Auto-scroll off'}
        </button>
        <button type="button" class={btn.small} onClick={clear}><Glyph d="M6 6l12 12M18 6 6 18" />Clear</button>
        <button type="button" class={btn.small} disabled={!visible.length} onClick={() => download('txt')}>Download .txt</button>
        <button type="button" class={btn.small} disabled={!visible.length} onClick={() => download('ndjson')}>Download .ndjson</button>
        {!live ? (
          <label class="inline-flex items-center gap-1.5 text-xs text-slate-300">
            <input type="checkbox" class="accent-indigo-400" checked={payloads} onChange={togglePayloads} />
            Model payloads (prompts, completions, bodies)
          </label>
        ) : null}
        <span class="ml-auto inline-flex items-center gap-2 text-xs">
          <span class={`rounded-full border px-2 py-0.5 font-medium ${connCls}`} data-testid="conn-state" role="status">
            {sources.size ? CONN_TEXT[conn] : 'No source chosen'}
          </span>
        </span>
      </div>

      <div class="flex flex-wrap items-center justify-between gap-2 text-xs text-slate-300" aria-live="off">
        <p data-testid="line-count">
          {nf.format(visible.length)} of {nf.format(b.size)} lines shown
          {b.dropped ? ` · ${nf.format(b.dropped)} older lines dropped (at most ${nf.format(b.cap)} kept)` : ''}
        </p>
        {paused ? (
          <p class="font-medium text-amber-200" data-testid="paused-count">
            Paused · {nf.format(pq.current.size)} new {pq.current.size === 1 ? 'line' : 'lines'} buffered
            {pq.current.dropped ? ` (${nf.format(pq.current.dropped)} dropped)` : ''}
          </p>
        ) : null}
      </div>

      <LogList lines={visible} version={b.version} q={q} follow={follow} setFollow={setFollow} droppedVisible={droppedVisible}
        empty={!b.size
          ? (conn === 'live' ? 'No log lines yet. Lines appear here as the daemon writes them.' : 'Waiting for the stream…')
          : 'No line matches the filter.'} />
      {!payloads && !live ? (
        <p class="text-xs text-slate-400">Model payloads are off: the server removes prompts, completions and request bodies.</p>
      ) : null}
    </section>
  );
}
