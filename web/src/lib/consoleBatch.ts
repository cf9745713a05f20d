// consoleBatch.ts - collect items as they arrive and hand them over once per
// animation frame, so a stream of 1,000 lines per second costs one render
// per frame, not one per line. The scheduler is injected (tests use a fake
// one; the page uses requestAnimationFrame). Pure.

export type Schedule = (cb: () => void) => number;
export type Cancel = (id: number) => void;

export class FrameBatcher<T> {
  private items: T[] = [];
  private pending: number | null = null;
  private readonly flushFn: (items: T[]) => void;
  private readonly schedule: Schedule;
  private readonly cancel: Cancel;
  /** flushes so far (for tests and diagnostics) */
  flushes = 0;

  constructor(flush: (items: T[]) => void, schedule: Schedule, cancel: Cancel) {
    this.flushFn = flush;
    this.schedule = schedule;
    this.cancel = cancel;
  }

  get size(): number { return this.items.length; }

  push(item: T): void {
    this.items.push(item);
    if (this.pending === null) this.pending = this.schedule(() => { this.pending = null; this.flush(); });
  }

  /** Hand over what is held now (also called by the scheduled frame). */
  flush(): void {
    if (this.pending !== null) { this.cancel(this.pending); this.pending = null; }
    if (!this.items.length) return;
    const items = this.items;
    this.items = [];
    this.flushes++;
    this.flushFn(items);
  }

  /** Drop what is held and any scheduled frame. */
  dispose(): void {
    if (this.pending !== null) { this.cancel(this.pending); this.pending = null; }
    this.items = [];
  }
}
