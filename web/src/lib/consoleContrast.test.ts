// consoleContrast.test.ts - WCAG AA for the colour pairs The Console adds
// (pages/console), next to contrast.test.ts (kept apart so concurrent edits
// to the shared list do not collide). Same palette source: index.css.
import { describe, expect, test } from 'vitest';
import css from '../index.css?raw';
import { ratio } from './contrast';

const theme = /@theme\s*\{([\s\S]*?)\n\}/.exec(css);
const P: Record<string, string> = {};
for (const m of (theme?.[1] ?? '').matchAll(/--color-([a-z]+(?:-\d+)?):\s*(#[0-9a-f]{3,6});/gi)) P[m[1]] = m[2];
const c = (n: string) => { if (!P[n]) throw new Error(`colour ${n} is not in the palette`); return P[n]; };

// [foreground, background, where]; text needs 4.5:1
const TEXT: [string, string, string][] = [];
// every line colour on the list and on a hovered / unfolded row
for (const bg of ['slate-950', 'slate-900']) {
  for (const fg of ['slate-200', 'slate-300', 'slate-400', 'red-300', 'amber-200', 'emerald-300', 'indigo-200', 'indigo-300']) {
    TEXT.push([fg, bg, `log line text (${fg})`]);
  }
}
TEXT.push(
  ['slate-950', 'amber-300', 'search highlight'],
  ['indigo-200', 'indigo-950', 'chosen source toggle'],
  ['slate-300', 'indigo-950', 'stream state in a chosen source toggle'],
  ['slate-300', 'slate-800', 'source toggle not chosen'],
  ['white', 'indigo-600', 'chosen level'],
  ['slate-200', 'slate-800', 'level not chosen'],
  ['emerald-300', 'slate-950', 'connection live'],
  ['amber-200', 'slate-950', 'connection reconnecting, paused count'],
  ['red-200', 'slate-950', 'connection closed'],
  ['slate-100', 'slate-900', 'perf model name'],
  ['indigo-200', 'indigo-950', 'Live mode banner'],
);

// non-text UI: chart lines and axes against the panel, 3:1
const UI: [string, string, string][] = [
  ['indigo-400', 'slate-900', 'tokens/s line and axis'],
  ['amber-300', 'slate-900', 'TTFT line and axis'],
  ['slate-400', 'slate-900', 'x axis'],
  ['indigo-400', 'slate-950', 'unfolded row marker, chosen toggle border'],
  ['slate-500', 'slate-950', 'level group border'],
];

describe('console colour pairs meet WCAG AA', () => {
  test.each(TEXT)('%s on %s (%s) >= 4.5', (fg, bg) => {
    expect(ratio(c(fg), c(bg))).toBeGreaterThanOrEqual(4.5);
  });
  test.each(UI)('%s on %s (%s) >= 3', (fg, bg) => {
    expect(ratio(c(fg), c(bg))).toBeGreaterThanOrEqual(3);
  });
});
