// consoleBatch.test.ts - one hand-over per animation frame however many
// lines arrive (fake scheduler).
import { expect, test } from 'vitest';
import { FrameBatcher } from './consoleBatch';

function fakeFrames() {
  let next = 1;
  const cbs = new Map<number, () => void>();
  return {
    schedule: (cb: () => void) => { const id = next++; cbs.set(id, cb); return id; },
    cancel: (id: number) => { cbs.delete(id); },
    frame: () => { const now = [...cbs.values()]; cbs.clear(); for (const cb of now) cb(); },
    pending: () => cbs.size,
  };
}

test('items pushed within a frame are handed over together, once', () => {
  const f = fakeFrames();
  const got: number[][] = [];
  const b = new FrameBatcher<number>((xs) => got.push(xs), f.schedule, f.cancel);
  for (let i = 0; i < 1000; i++) b.push(i);
  expect(f.pending()).toBe(1);
  expect(got).toEqual([]);
  f.frame();
  expect(got.length).toBe(1);
  expect(got[0].length).toBe(1000);
  expect(got[0][999]).toBe(999);
  f.frame();
  expect(got.length).toBe(1);
  b.push(1000);
  f.frame();
  expect(got).toEqual([got[0], [1000]]);
  expect(b.flushes).toBe(2);
});

test('flush hands over at once and cancels the frame; dispose drops', () => {
  const f = fakeFrames();
  const got: string[][] = [];
  const b = new FrameBatcher<string>((xs) => got.push(xs), f.schedule, f.cancel);
  b.push('a');
  b.flush();
  expect(got).toEqual([['a']]);
  expect(f.pending()).toBe(0);
  b.flush();
  expect(got.length).toBe(1);
  b.push('b');
  b.dispose();
  expect(f.pending()).toBe(0);
  f.frame();
  expect(got.length).toBe(1);
  expect(b.size).toBe(0);
});
