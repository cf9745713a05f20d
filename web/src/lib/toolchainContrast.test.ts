// toolchainContrast.test.ts - WCAG AA for the colour pairs The Toolchain
// adds (pages/toolchain), kept apart from contrast.test.ts like the Forge's.
// Same palette source: index.css.
import { describe, expect, test } from 'vitest';
import css from '../index.css?raw';
import { ratio } from './contrast';

const theme = /@theme\s*\{([\s\S]*?)\n\}/.exec(css);
const P: Record<string, string> = {};
for (const m of (theme?.[1] ?? '').matchAll(/--color-([a-z]+(?:-\d+)?):\s*(#[0-9a-f]{3,6});/gi)) P[m[1]] = m[2];
const c = (n: string) => { if (!P[n]) throw new Error(`colour ${n} is not in the palette`); return P[n]; };

// [foreground, background, where]; text needs 4.5:1
const TEXT: [string, string, string][] = [
  ['emerald-300', 'slate-950', 'allowed / read-only badge in a tool card'],
  ['red-200', 'slate-950', 'denied / destructive badge, failure reason in a call card'],
  ['amber-200', 'slate-950', 'pending badge, "required" marker'],
  ['indigo-200', 'slate-950', 'parameter names, tool name in a call card'],
  ['slate-300', 'slate-950', 'descriptions, closed-world badge'],
  ['slate-400', 'slate-950', 'last seen, phases'],
  ['slate-200', 'slate-950', 'bounded output text'],
  ['indigo-300', 'slate-950', 'Parameters summary, Show all'],
  ['indigo-300', 'slate-900', 'Show all in the audit'],
  ['white', 'indigo-950', 'selected server label'],
  ['slate-300', 'indigo-950', 'selected server kind'],
  ['indigo-200', 'indigo-950', 'selected server counts'],
  ['emerald-300', 'indigo-950', 'discovered badge on the selected server'],
  ['red-200', 'indigo-950', 'failed badge on the selected server'],
  ['amber-200', 'indigo-950', 'needs OAuth badge on the selected server'],
  ['emerald-300', 'emerald-950', 'Allow chosen'],
  ['red-200', 'red-950', 'Deny chosen; violation row text and badge'],
  ['amber-200', 'amber-950', 'Review chosen; stdio warning'],
  ['white', 'red-950', 'tool name of a violation row'],
  ['slate-100', 'slate-800', 'unchosen policy option'],
  ['red-200', 'slate-900', 'discovery failed message'],
  ['amber-200', 'slate-900', 'mcp.json not available, legacy SSE'],
];

// non-text UI: badge and card borders, 3:1 against the background
const UI: [string, string, string][] = [
  ['emerald-300', 'slate-950', 'ok badge border'],
  ['red-400', 'slate-950', 'bad badge border'],
  ['amber-300', 'slate-950', 'warn badge border'],
  ['indigo-400', 'slate-950', 'info badge border, edited tool card'],
  ['slate-500', 'slate-950', 'muted badge border, policy segmented control'],
  ['indigo-400', 'slate-900', 'selected server border'],
  ['red-400', 'slate-900', 'violation row border'],
  ['emerald-300', 'indigo-950', 'ok badge border on the selected server'],
  ['red-400', 'indigo-950', 'bad badge border on the selected server'],
  ['amber-300', 'indigo-950', 'warn badge border on the selected server'],
  ['red-400', 'red-950', 'violation badge border'],
  ['indigo-300', 'slate-950', 'focus ring around a policy option'],
];

describe('Toolchain text contrast (WCAG AA 4.5:1)', () => {
  test.each(TEXT)('%s on %s (%s)', (fg, bg) => { expect(ratio(c(fg), c(bg))).toBeGreaterThanOrEqual(4.5); });
});

describe('Toolchain non-text contrast (3:1)', () => {
  test.each(UI)('%s next to %s (%s)', (fg, bg) => { expect(ratio(c(fg), c(bg))).toBeGreaterThanOrEqual(3); });
});
