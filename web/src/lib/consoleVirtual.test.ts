// consoleVirtual.test.ts - the virtualised list's layout maths.
import { describe, expect, test } from 'vitest';
import { atBottom, expandedRows, indexAt, indexOfSeq, rowTop, totalHeight, windowRange } from './consoleVirtual';

const list = Array.from({ length: 100 }, (_, i) => ({ seq: (i + 1) * 10 }));

describe('virtual layout', () => {
  test('fixed rows', () => {
    expect(totalHeight(100, 20, [])).toBe(2000);
    expect(rowTop(5, 20, [])).toBe(100);
    expect(indexAt(0, 100, 20, [])).toBe(0);
    expect(indexAt(39, 100, 20, [])).toBe(1);
    expect(indexAt(99999, 100, 20, [])).toBe(99);
    expect(windowRange(400, 200, 100, 20, [], 5)).toEqual({ start: 15, end: 36 });
    expect(windowRange(0, 200, 0, 20, [])).toEqual({ start: 0, end: 0 });
  });

  test('expanded rows push the rows after them down', () => {
    const exps = expandedRows(list, new Map([[30, 100], [110, 50], [99999, 10]]));
    expect(exps).toEqual([{ idx: 2, extra: 100 }, { idx: 10, extra: 50 }]);
    expect(rowTop(2, 20, exps)).toBe(40);
    expect(rowTop(3, 20, exps)).toBe(160);
    expect(rowTop(11, 20, exps)).toBe(11 * 20 + 150);
    expect(totalHeight(100, 20, exps)).toBe(2150);
    // inside the expanded block of row 2
    expect(indexAt(45, 100, 20, exps)).toBe(2);
    expect(indexAt(159, 100, 20, exps)).toBe(2);
    expect(indexAt(160, 100, 20, exps)).toBe(3);
    expect(indexAt(rowTop(11, 20, exps) + 1, 100, 20, exps)).toBe(11);
  });

  test('indexOfSeq is a binary search', () => {
    expect(indexOfSeq(list, 10)).toBe(0);
    expect(indexOfSeq(list, 1000)).toBe(99);
    expect(indexOfSeq(list, 15)).toBe(-1);
    expect(indexOfSeq([], 1)).toBe(-1);
  });

  test('atBottom with slack', () => {
    expect(atBottom(800, 200, 1000)).toBe(true);
    expect(atBottom(795, 200, 1000)).toBe(true);
    expect(atBottom(700, 200, 1000)).toBe(false);
  });
});
