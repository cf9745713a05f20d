// consoleBuffer.test.ts - the Console's line buffer: cap, order, dedupe,
// incremental filtering, clear/reset, dropped sources and the pause queue.
import { describe, expect, test } from 'vitest';
import { LOG_SOURCES } from '../api/logs';
import { LineBuffer, PauseQueue, mergeBySeq } from './consoleBuffer';
import type { Filter } from './consoleFilter';
import { mkLine } from './consoleTestLines';

const ALL: Filter = { sources: new Set(LOG_SOURCES), level: 'all', q: '' };
const seqs = (ls: readonly { seq: number }[]) => ls.map((l) => l.seq);

describe('LineBuffer', () => {
  test('keeps at most cap lines, oldest dropped and counted', () => {
    const b = new LineBuffer(ALL, 5);
    for (let i = 1; i <= 12; i++) b.append([mkLine(i)]);
    expect(b.size).toBe(5);
    expect(seqs(b.lines)).toEqual([8, 9, 10, 11, 12]);
    expect(seqs(b.visible)).toEqual([8, 9, 10, 11, 12]);
    expect(b.dropped).toBe(7);
  });

  test('one big batch beyond the cap keeps the newest', () => {
    const b = new LineBuffer(ALL, 1000);
    const r = b.append(Array.from({ length: 2500 }, (_, i) => mkLine(i + 1)));
    expect(r.added).toBe(2500);
    expect(b.size).toBe(1000);
    expect(b.lines[0].seq).toBe(1501);
    expect(b.visible.length).toBe(1000);
  });

  test('reports how many visible lines left the front', () => {
    const b = new LineBuffer({ ...ALL, level: 'warn' }, 4);
    b.append([mkLine(1, { level: 'error' }), mkLine(2), mkLine(3, { level: 'warn' }), mkLine(4)]);
    expect(seqs(b.visible)).toEqual([1, 3]);
    const r = b.append([mkLine(5), mkLine(6), mkLine(7)]);
    expect(seqs(b.lines)).toEqual([4, 5, 6, 7]);
    expect(r.droppedVisible).toBe(2);
    expect(b.visible).toEqual([]);
  });

  test('skips duplicates (a reconnect replays the backlog)', () => {
    const b = new LineBuffer(ALL);
    b.append([mkLine(1), mkLine(2), mkLine(3)]);
    const r = b.append([mkLine(2), mkLine(3), mkLine(4)]);
    expect(r.added).toBe(1);
    expect(seqs(b.lines)).toEqual([1, 2, 3, 4]);
  });

  test('merges a backlog that reaches back before held lines, in seq order', () => {
    const b = new LineBuffer(ALL);
    b.append([mkLine(10), mkLine(20), mkLine(30)]);
    b.append([mkLine(5, { source: 'model' }), mkLine(25, { source: 'model' }), mkLine(20)]);
    expect(seqs(b.lines)).toEqual([5, 10, 20, 25, 30]);
    expect(seqs(b.visible)).toEqual([5, 10, 20, 25, 30]);
  });

  test('an unsorted batch after held lines is sorted', () => {
    const b = new LineBuffer(ALL);
    b.append([mkLine(1)]);
    b.append([mkLine(4), mkLine(2), mkLine(3)]);
    expect(seqs(b.lines)).toEqual([1, 2, 3, 4]);
  });

  test('the filter applies to new lines and re-filters held ones', () => {
    const b = new LineBuffer({ ...ALL, q: 'needle' });
    b.append([mkLine(1, { summary: 'hay' }), mkLine(2, { summary: 'a Needle here' })]);
    expect(seqs(b.visible)).toEqual([2]);
    b.append([mkLine(3, { summary: 'NEEDLE' }), mkLine(4)]);
    expect(seqs(b.visible)).toEqual([2, 3]);
    const v = b.version;
    b.setFilter(ALL);
    expect(seqs(b.visible)).toEqual([1, 2, 3, 4]);
    expect(b.version).toBeGreaterThan(v);
    b.setFilter({ ...ALL, sources: new Set(['model']) });
    expect(b.visible).toEqual([]);
    expect(b.size).toBe(4);
  });

  test('clear empties the view and a replayed backlog does not bring old lines back', () => {
    const b = new LineBuffer(ALL);
    b.append([mkLine(1), mkLine(2)]);
    b.clear();
    expect(b.size).toBe(0);
    expect(b.visible).toEqual([]);
    b.append([mkLine(1), mkLine(2), mkLine(3)]);
    expect(seqs(b.lines)).toEqual([3]);
  });

  test('reset accepts every line again (a fresh stream)', () => {
    const b = new LineBuffer(ALL);
    b.append([mkLine(1), mkLine(2)]);
    b.reset();
    b.append([mkLine(1), mkLine(2)]);
    expect(seqs(b.lines)).toEqual([1, 2]);
  });

  test('dropSources forgets the lines of sources no longer watched', () => {
    const b = new LineBuffer(ALL);
    b.append([mkLine(1), mkLine(2, { source: 'model' }), mkLine(3, { source: 'daemonpulse' })]);
    b.dropSources(new Set(['server', 'daemonpulse']));
    expect(seqs(b.lines)).toEqual([1, 3]);
    expect(seqs(b.visible)).toEqual([1, 3]);
    // a later backlog of the model source is taken again
    b.append([mkLine(2, { source: 'model' })]);
    expect(seqs(b.lines)).toEqual([1, 2, 3]);
  });

  test('10,000 lines a second in frames of 17 stay within the cap and cheap', () => {
    const b = new LineBuffer({ ...ALL, level: 'info', q: 'x' });
    let seq = 0;
    const t0 = performance.now();
    for (let f = 0; f < 600; f++) {
      const batch = [];
      for (let i = 0; i < 17; i++) batch.push(mkLine(++seq, { summary: i % 2 ? 'x marks' : 'plain' }));
      b.append(batch);
    }
    const ms = performance.now() - t0;
    expect(b.size).toBe(b.cap);
    expect(b.visible.every((l) => l.summary.includes('x'))).toBe(true);
    expect(ms).toBeLessThan(2000);
  });
});

test('mergeBySeq merges two sorted lists', () => {
  const m = mergeBySeq([mkLine(1), mkLine(4), mkLine(6)], [mkLine(2), mkLine(5), mkLine(7), mkLine(8)]);
  expect(seqs(m)).toEqual([1, 2, 4, 5, 6, 7, 8]);
  expect(seqs(mergeBySeq([], [mkLine(1)]))).toEqual([1]);
});

describe('PauseQueue', () => {
  test('holds lines while paused, bounded, and hands them over once', () => {
    const q = new PauseQueue(3);
    q.push([mkLine(1), mkLine(2)]);
    expect(q.size).toBe(2);
    q.push([mkLine(3), mkLine(4), mkLine(5)]);
    expect(q.size).toBe(3);
    expect(q.dropped).toBe(2);
    expect(seqs(q.take())).toEqual([3, 4, 5]);
    expect(q.size).toBe(0);
    expect(q.dropped).toBe(0);
    expect(q.take()).toEqual([]);
  });
});
