// consoleVirtual.ts - layout maths of the Console's virtualised list: every
// row is `row` pixels high except expanded rows, which are taller by a
// measured extra height; only the rows in (or near) the viewport are
// rendered. Pure.

export interface Expanded { idx: number; extra: number }

/** Index of `seq` in a seq-sorted array, or -1. */
export function indexOfSeq(list: readonly { seq: number }[], seq: number): number {
  let lo = 0, hi = list.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const s = list[mid].seq;
    if (s === seq) return mid;
    if (s < seq) lo = mid + 1; else hi = mid - 1;
  }
  return -1;
}

/** The expanded rows present in `list`, by index. `extras`: seq -> extra height. */
export function expandedRows(list: readonly { seq: number }[], extras: ReadonlyMap<number, number>): Expanded[] {
  const out: Expanded[] = [];
  for (const [seq, extra] of extras) {
    const idx = indexOfSeq(list, seq);
    if (idx >= 0) out.push({ idx, extra: Math.max(0, extra) });
  }
  return out.sort((a, b) => a.idx - b.idx);
}

export function rowTop(i: number, row: number, exps: readonly Expanded[]): number {
  let acc = 0;
  for (const e of exps) { if (e.idx >= i) break; acc += e.extra; }
  return i * row + acc;
}

export function totalHeight(n: number, row: number, exps: readonly Expanded[]): number {
  return rowTop(n, row, exps);
}

/** The row under pixel `y` (clipped to the list). */
export function indexAt(y: number, n: number, row: number, exps: readonly Expanded[]): number {
  if (n <= 0) return 0;
  let acc = 0;
  for (const e of exps) {
    const top = e.idx * row + acc;
    if (y < top) break;
    if (y < top + row + e.extra) return Math.min(n - 1, e.idx);
    acc += e.extra;
  }
  return Math.max(0, Math.min(n - 1, Math.floor((y - acc) / row)));
}

/** Rows to render for a viewport: [start, end) with `overscan` rows either side. */
export function windowRange(scrollTop: number, viewH: number, n: number, row: number,
  exps: readonly Expanded[], overscan = 10): { start: number; end: number } {
  if (n <= 0) return { start: 0, end: 0 };
  const a = indexAt(Math.max(0, scrollTop), n, row, exps);
  const b = indexAt(Math.max(0, scrollTop + viewH), n, row, exps);
  return { start: Math.max(0, a - overscan), end: Math.min(n, b + 1 + overscan) };
}

/** Is the viewport at (or within `slack` px of) the bottom? */
export function atBottom(scrollTop: number, viewH: number, scrollH: number, slack = 8): boolean {
  return scrollTop + viewH >= scrollH - slack;
}
