// forgeContrast.test.ts - WCAG AA for the colour pairs The Forge adds
// (pages/forge), next to contrast.test.ts (kept apart so concurrent edits
// to the shared list do not collide). Same palette source: index.css.
import { describe, expect, test } from 'vitest';
import css from '../index.css?raw';
import { ratio } from './contrast';

const theme = /@theme\s*\{([\s\S]*?)\n\}/.exec(css);
const P: Record<string, string> = {};
for (const m of (theme?.[1] ?? '').matchAll(/--color-([a-z]+(?:-\d+)?):\s*(#[0-9a-f]{3,6});/gi)) P[m[1]] = m[2];
const c = (n: string) => { if (!P[n]) throw new Error(`colour ${n} is not in the palette`); return P[n]; };

// [foreground, background, where]; text needs 4.5:1
const TEXT: [string, string, string][] = [
  ['slate-100', 'slate-950', 'instance id in an instance box'],
  ['slate-200', 'slate-950', 'instance config values'],
  ['slate-400', 'slate-950', 'instance config names, origin line'],
  ['slate-300', 'slate-950', 'idle badge, queue'],
  ['amber-200', 'slate-950', 'processing status badge'],
  ['emerald-300', 'slate-950', 'generating status badge'],
  ['red-200', 'slate-800', 'eject button'],
  ['red-200', 'slate-900', 'over-capacity text, failed download'],
  ['amber-200', 'slate-900', 'loading note, lms unavailable, paused download'],
  ['indigo-200', 'slate-900', 'capability and downloading badges'],
  ['emerald-300', 'slate-900', 'loaded badge, completed download'],
  ['slate-300', 'slate-900', 'legend, bar captions'],
  ['white', 'slate-900', 'estimate figures'],
];

// non-text UI (bars, markers): 3:1 against the track they sit on
const UI: [string, string, string][] = [
  ['indigo-400', 'slate-950', 'this load on the pre-flight bar'],
  ['red-400', 'slate-950', 'a load that will not fit on the pre-flight bar'],
  ['white', 'slate-950', 'capacity marker on the pre-flight bar'],
  ['amber-300', 'slate-950', "LM Studio's figure marker on the pre-flight bar (also given as text)"],
  ['slate-500', 'slate-900', 'pre-flight bar border in the dialog'],
  ['indigo-400', 'slate-800', 'download progress'],
  ['emerald-300', 'slate-800', 'completed download'],
  ['red-400', 'slate-800', 'failed download'],
  ['indigo-400', 'slate-900', 'selected preset border'],
];

describe('forge text contrast (WCAG AA)', () => {
  test.each(TEXT)('%s on %s >= 4.5 (%s)', (fg, bg) => { expect(ratio(c(fg), c(bg))).toBeGreaterThanOrEqual(4.5); });
});

describe('forge non-text contrast (WCAG AA)', () => {
  test.each(UI)('%s next to %s >= 3 (%s)', (fg, bg) => { expect(ratio(c(fg), c(bg))).toBeGreaterThanOrEqual(3); });
});
