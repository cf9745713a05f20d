// consoleBuffer.ts - the lines the Console holds for one target: at most
// `cap` of them (oldest dropped first), ordered by the server's `seq`,
// without duplicates (a reconnect or a stream reopened with other sources
// sends a backlog that overlaps what is already here), and the subset the
// current filter lets through, kept up to date incrementally so a busy
// stream costs work per new line, not per retained line. Pure.
import type { LogLine, LogSource } from '../api/logs';
import { matches, normQuery, type Filter } from './consoleFilter';

export const DEFAULT_CAP = 10000;

export interface AppendResult {
  /** lines taken (not duplicates) */
  added: number;
  /** visible lines removed from the front (the cap), so a scrolled view can stay put */
  droppedVisible: number;
}

export class LineBuffer {
  readonly cap: number;
  private all: LogLine[] = [];
  private seqs = new Set<number>();
  private shown: LogLine[] = [];
  private filter: Filter;
  private nq: string;
  /** lines at or below this seq are ignored (what was there when the view was cleared) */
  private floor = -Infinity;
  private maxSeen = -Infinity;
  /** lines dropped by the cap since the last clear */
  dropped = 0;
  /** bumps on every change (for rendering) */
  version = 0;

  constructor(filter: Filter, cap = DEFAULT_CAP) {
    this.cap = Math.max(1, cap);
    this.filter = filter;
    this.nq = normQuery(filter.q);
  }

  get size(): number { return this.all.length; }
  get visible(): readonly LogLine[] { return this.shown; }
  get lines(): readonly LogLine[] { return this.all; }
  get lastSeq(): number { return this.all.length ? this.all[this.all.length - 1].seq : -Infinity; }
  has(seq: number): boolean { return this.seqs.has(seq); }

  /** Add lines (any order, duplicates skipped). */
  append(batch: readonly LogLine[]): AppendResult {
    let added = 0;
    let inOrder = true;
    let last = this.lastSeq;
    const fresh: LogLine[] = [];
    for (const l of batch) {
      if (l.seq <= this.floor || this.seqs.has(l.seq)) continue;
      if (l.seq > this.maxSeen) this.maxSeen = l.seq;
      this.seqs.add(l.seq);
      fresh.push(l);
      if (l.seq < last) inOrder = false;
      last = Math.max(last, l.seq);
      added++;
    }
    if (!added) return { added: 0, droppedVisible: 0 };
    if (inOrder) {
      // the common case: live lines after everything held
      let sorted = true;
      for (let i = 1; i < fresh.length; i++) if (fresh[i].seq < fresh[i - 1].seq) { sorted = false; break; }
      if (!sorted) fresh.sort((a, b) => a.seq - b.seq);
      for (const l of fresh) {
        this.all.push(l);
        if (matches(l, this.filter, this.nq)) this.shown.push(l);
      }
    } else {
      // a backlog that reaches back before lines already held: merge
      fresh.sort((a, b) => a.seq - b.seq);
      this.all = mergeBySeq(this.all, fresh);
      this.refilter();
    }
    const droppedVisible = this.trim();
    this.version++;
    return { added, droppedVisible };
  }

  private trim(): number {
    const over = this.all.length - this.cap;
    if (over <= 0) return 0;
    const gone = this.all.splice(0, over);
    for (const l of gone) this.seqs.delete(l.seq);
    this.dropped += over;
    const first = this.all[0].seq;
    let n = 0;
    while (n < this.shown.length && this.shown[n].seq < first) n++;
    if (n) this.shown.splice(0, n);
    return n;
  }

  setFilter(f: Filter): void {
    this.filter = f;
    this.nq = normQuery(f.q);
    this.refilter();
    this.version++;
  }

  private refilter(): void {
    const out: LogLine[] = [];
    for (const l of this.all) if (matches(l, this.filter, this.nq)) out.push(l);
    this.shown = out;
  }

  /** Empty the view and accept any line again (a fresh stream with other rules). */
  reset(): void {
    this.floor = -Infinity;
    this.maxSeen = -Infinity;
    this.clear();
    this.floor = -Infinity;
  }

  /** Forget the lines of sources no longer watched. */
  dropSources(keep: ReadonlySet<LogSource>): void {
    const before = this.all.length;
    this.all = this.all.filter((l) => keep.has(l.source));
    if (this.all.length === before) return;
    this.seqs = new Set(this.all.map((l) => l.seq));
    this.refilter();
    this.version++;
  }

  /** Empty the view; lines up to the newest seen so far do not come back (a backlog after a reconnect). */
  clear(): void {
    this.floor = Math.max(this.floor, this.maxSeen);
    this.all = [];
    this.shown = [];
    this.seqs.clear();
    this.dropped = 0;
    this.version++;
  }
}

/** Merge two seq-sorted arrays into one (stable, no dedupe). */
export function mergeBySeq(a: readonly LogLine[], b: readonly LogLine[]): LogLine[] {
  const out: LogLine[] = new Array(a.length + b.length);
  let i = 0, j = 0, k = 0;
  while (i < a.length && j < b.length) out[k++] = a[i].seq <= b[j].seq ? a[i++] : b[j++];
  while (i < a.length) out[k++] = a[i++];
  while (j < b.length) out[k++] = b[j++];
  return out;
}

/**
 * Lines that arrive while the view is paused: kept (at most `cap`, the
 * oldest dropped and counted) until resume hands them over.
 */
export class PauseQueue {
  readonly cap: number;
  private q: LogLine[] = [];
  dropped = 0;
  constructor(cap = DEFAULT_CAP) { this.cap = Math.max(1, cap); }
  get size(): number { return this.q.length; }
  push(batch: readonly LogLine[]): void {
    for (const l of batch) this.q.push(l);
    const over = this.q.length - this.cap;
    if (over > 0) { this.q.splice(0, over); this.dropped += over; }
  }
  /** Everything held, oldest first; the queue is empty afterwards. */
  take(): LogLine[] {
    const out = this.q;
    this.q = [];
    this.dropped = 0;
    return out;
  }
}
