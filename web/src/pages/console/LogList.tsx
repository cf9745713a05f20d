// LogList.tsx - the Console's virtualised line list: fixed-height rows
// (only those in view are rendered), expanded rows taller by their measured
// payload block, follows the newest line until the user scrolls up (and
// again once they scroll back to the bottom), and keeps a scrolled view
// steady when old lines leave at the cap. Text only: summaries and payloads
// are text nodes, the search highlight is a split into <mark> spans.
import { useLayoutEffect, useRef, useState } from 'preact/hooks';
import type { LogLine } from '../../api/logs';
import { aroundMatch, splitHighlight } from '../../lib/consoleFilter';
import {
  LEVEL_LABEL, SOURCE_LABEL, hasPayload, levelClass, lineClass, payloadPretty, sourceClass, timeOfDay,
} from '../../lib/consoleFormat';
import { atBottom, expandedRows, rowTop, totalHeight, windowRange } from '../../lib/consoleVirtual';

/** Row height: one line of 20 px; two lines of 18 px when the list is narrow (summary on its own line). */
export const ROW = 20;
export const ROW_NARROW = 36;
const NARROW_PX = 560;
const GUESS_EXTRA = 160;

function Highlighted({ text, q }: { text: string; q: string }) {
  if (!q.trim()) return <>{text}</>;
  return (
    <>
      {splitHighlight(text, q).map((p, i) => (p.hit
        ? <mark key={i} class="rounded-sm bg-amber-300 text-slate-950">{p.text}</mark>
        : <span key={i}>{p.text}</span>))}
    </>
  );
}

function Details({ line, q, onSize }: { line: LogLine; q: string; onSize: (h: number) => void }) {
  const ref = useRef<HTMLDivElement>(null);
  useLayoutEffect(() => {
    const el = ref.current;
    if (!el) return;
    onSize(el.offsetHeight);
    const ro = new ResizeObserver(() => onSize(el.offsetHeight));
    ro.observe(el);
    return () => ro.disconnect();
  }, [line.seq]);
  return (
    <div ref={ref} class="border-l-2 border-indigo-400 bg-slate-900 py-1 pl-3 pr-2" data-testid="line-details">
      <p class="whitespace-pre-wrap break-all text-slate-200"><Highlighted text={line.summary} q={q} /></p>
      <p class="text-slate-400">
        {line.ts} · {line.type}{line.model ? ` · ${line.model}` : ''} · seq {line.seq}
        {line.payload_hidden ? ' · payload hidden by the server' : ''}{line.truncated ? ' · long fields cut at 64 KiB' : ''}
      </p>
      {hasPayload(line) ? (
        <pre class="mt-1 max-h-64 overflow-auto whitespace-pre-wrap break-all text-slate-300" tabIndex={0}
          aria-label="Payload (JSON)"><Highlighted text={payloadPretty(line)} q={q} /></pre>
      ) : null}
    </div>
  );
}

export function LogList({ lines, q, follow, setFollow, droppedVisible, empty }: {
  lines: readonly LogLine[];
  /** changes whenever `lines` (mutated in place) changed: the props must differ for the list to re-render */
  version: number;
  q: string;
  follow: boolean;
  setFollow: (v: boolean) => void;
  /** visible lines removed from the front since the last render (the cap) */
  droppedVisible: { current: number };
  empty: string;
}) {
  const box = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [viewH, setViewH] = useState(480);
  const [narrow, setNarrow] = useState(false);
  const row = narrow ? ROW_NARROW : ROW;
  // expanded lines: seq -> measured extra height
  const [extras, setExtras] = useState<ReadonlyMap<number, number>>(new Map());
  // where the list last scrolled itself: a scroll event there is ours, not the user's
  const ownScroll = useRef<number | null>(null);

  const exps = expandedRows(lines, extras);
  const total = totalHeight(lines.length, row, exps);
  const { start, end } = windowRange(scrollTop, viewH, lines.length, row, exps);

  useLayoutEffect(() => {
    const el = box.current;
    if (!el) return;
    const measure = () => { setViewH(el.clientHeight); setNarrow(el.clientWidth < NARROW_PX); };
    const ro = new ResizeObserver(measure);
    ro.observe(el);
    measure();
    return () => ro.disconnect();
  }, []);

  // after every render: follow the newest line, or keep a scrolled view steady
  useLayoutEffect(() => {
    const el = box.current;
    const dropped = droppedVisible.current;
    droppedVisible.current = 0;
    if (!el) return;
    if (follow) {
      const bottom = Math.max(0, el.scrollHeight - el.clientHeight);
      if (Math.abs(el.scrollTop - bottom) > 1) {
        el.scrollTop = bottom;
        ownScroll.current = el.scrollTop;
        setScrollTop(el.scrollTop);
      }
    } else if (dropped > 0 && el.scrollTop > 0) {
      el.scrollTop = Math.max(0, el.scrollTop - dropped * row);
      ownScroll.current = el.scrollTop;
      setScrollTop(el.scrollTop);
    }
  });

  const onScroll = () => {
    const el = box.current;
    if (!el) return;
    setScrollTop(el.scrollTop);
    const own = ownScroll.current;
    ownScroll.current = null;
    if (own !== null && Math.abs(el.scrollTop - own) < 2) return;
    const bottom = atBottom(el.scrollTop, el.clientHeight, el.scrollHeight);
    if (bottom !== follow) setFollow(bottom);
  };

  const toggle = (seq: number) => {
    const next = new Map(extras);
    if (next.has(seq)) next.delete(seq); else next.set(seq, GUESS_EXTRA);
    setExtras(next);
  };
  const measured = (seq: number, h: number) => {
    setExtras((m) => {
      if (!m.has(seq) || m.get(seq) === h) return m;
      const next = new Map(m);
      next.set(seq, h);
      return next;
    });
  };

  const rows = [];
  for (let i = start; i < end; i++) {
    const l = lines[i];
    const open = extras.has(l.seq);
    rows.push(
      <div key={l.seq} class="absolute left-0 right-0" style={{ top: `${rowTop(i, row, exps)}px` }}
        data-testid="log-line" data-seq={l.seq} data-level={l.level} data-source={l.source} data-type={l.type}>
        <div class={narrow ? 'grid h-9 grid-cols-[1rem_minmax(0,1fr)] gap-x-2 px-1 leading-[18px] hover:bg-slate-900'
          : 'flex h-5 items-center gap-2 whitespace-nowrap px-1 hover:bg-slate-900'}>
          <button type="button" class={`${narrow ? 'row-span-2 h-9' : 'h-5'} w-4 shrink-0 text-slate-300 hover:text-white`} aria-expanded={open}
            aria-label={`${open ? 'Fold' : 'Unfold'} the details of line ${l.seq}`} onClick={() => toggle(l.seq)}>
            {open ? '▾' : '▸'}
          </button>
          <span class={narrow ? 'flex gap-2 whitespace-nowrap' : 'contents'}>
            <span class="shrink-0 text-slate-400">{timeOfDay(l)}</span>
            <span class={`w-10 shrink-0 ${levelClass(l.level)}`}>{LEVEL_LABEL[l.level] ?? l.level}</span>
            <span class={`${narrow ? '' : 'hidden w-20 sm:inline'} shrink-0 truncate ${sourceClass(l.source)}`}>{SOURCE_LABEL[l.source] ?? l.source}</span>
          </span>
          <span class={`min-w-0 truncate whitespace-nowrap ${lineClass(l)}`}>
            <Highlighted text={aroundMatch(l.summary, q)} q={q} />
          </span>
        </div>
        {open ? <Details line={l} q={q} onSize={(h) => measured(l.seq, h)} /> : null}
      </div>,
    );
  }

  return (
    <div ref={box} onScroll={onScroll} tabIndex={0} role="region" aria-label="Log lines" data-testid="log-list"
      class="relative h-[60vh] min-h-72 overflow-auto rounded-xl border border-slate-700 bg-slate-950 font-mono text-xs leading-5">
      {lines.length === 0
        ? <p class="p-4 font-sans text-sm text-slate-400" data-testid="log-empty">{empty}</p>
        : <div style={{ height: `${total}px` }} class="relative">{rows}</div>}
    </div>
  );
}
