// contrast.test.ts - WCAG AA for the colour pairs the app actually uses.
//
// The palette is read from index.css (the only place colours are defined);
// every text/background pair used by the components is listed here with
// where it appears. Normal text needs 4.5:1, large text and non-text UI
// (borders of inputs, focus outline) 3:1. The e2e suite additionally
// measures every rendered page.
import { describe, expect, test } from 'vitest';
import css from '../index.css?raw';
import { contrast, parseColor, ratio } from './contrast';

function palette(): Record<string, string> {
  const theme = /@theme\s*\{([\s\S]*?)\n\}/.exec(css);
  if (!theme) throw new Error('no @theme block in index.css: ' + css.slice(0, 200));
  const out: Record<string, string> = {};
  for (const m of theme[1].matchAll(/--color-([a-z]+(?:-\d+)?):\s*(#[0-9a-f]{3,6});/gi)) out[m[1]] = m[2];
  return out;
}

const P = palette();
const c = (name: string) => {
  const v = P[name];
  if (!v) throw new Error(`colour ${name} is not in the palette`);
  return v;
};

// [foreground, background, minimum, where]
const TEXT: [string, string, number, string][] = [
  ['white', 'slate-950', 4.5, 'page titles'],
  ['white', 'slate-900', 4.5, 'panel headings, user name'],
  ['white', 'indigo-600', 4.5, 'primary button'],
  ['white', 'indigo-700', 4.5, 'primary button hover'],
  ['white', 'red-700', 4.5, 'danger button'],
  ['white', 'red-800', 4.5, 'danger button hover'],
  ['slate-100', 'slate-800', 4.5, 'secondary button'],
  ['slate-100', 'slate-700', 4.5, 'secondary button hover'],
  ['slate-100', 'slate-950', 4.5, 'input text'],
  ['slate-200', 'slate-950', 4.5, 'body text'],
  ['slate-200', 'slate-900', 4.5, 'labels in panels'],
  ['slate-300', 'slate-900', 4.5, 'descriptions, nav items'],
  ['slate-300', 'slate-800', 4.5, 'nav item hover'],
  ['slate-300', 'slate-950', 4.5, 'help text'],
  ['slate-400', 'slate-950', 4.5, 'subtitles, placeholders'],
  ['slate-400', 'slate-900', 4.5, 'hints in panels, meta lines'],
  ['slate-400', 'slate-800', 4.5, 'hint on hover rows'],
  ['indigo-200', 'indigo-950', 4.5, 'active nav item'],
  ['indigo-200', 'slate-900', 4.5, 'code in panels, admin badge'],
  ['indigo-200', 'slate-950', 4.5, 'active settings tab, code'],
  ['indigo-300', 'slate-900', 4.5, 'brand, links, show/hide'],
  ['indigo-300', 'slate-950', 4.5, 'links on page'],
  ['indigo-300', 'slate-800', 4.5, 'show/hide hover'],
  ['red-200', 'red-950', 4.5, 'error box'],
  ['red-200', 'slate-800', 4.5, 'small danger button'],
  ['red-200', 'slate-900', 4.5, 'target strip: stopped / error'],
  ['emerald-300', 'emerald-950', 4.5, 'success box'],
  ['emerald-300', 'slate-900', 4.5, 'ok badge'],
  ['amber-200', 'amber-950', 4.5, 'warning box'],
  ['amber-200', 'slate-900', 4.5, 'not-built badge'],
  ['indigo-200', 'indigo-950', 4.5, 'info box'],
  ['white', 'indigo-950', 4.5, 'Settings → Mode: selected mode title'],
  ['slate-400', 'slate-900', 4.5, 'Fleet: chart axes and legend labels'],
  ['red-200', 'slate-950', 4.5, 'Pulse: field errors in the sampling panel'],
  ['indigo-200', 'slate-800', 4.5, 'Pulse: inline code in answers'],
  ['slate-100', 'slate-950', 4.5, 'Pulse: code blocks, stats values'],
  ['amber-200', 'slate-900', 4.5, 'Pulse: stopped badge'],
  ['emerald-300', 'slate-900', 4.5, 'Agent: enrolled, lifecycle step done and result'],
  ['amber-200', 'slate-900', 4.5, 'Add agent: remote URL warning (dialog)'],
  ['red-200', 'slate-900', 4.5, 'Lifecycle: failed step, agent not answering'],
  ['slate-200', 'slate-900', 4.5, 'Fleet: host info values, Add agent radio labels'],
];

// non-text UI components (WCAG 1.4.11): 3:1 against what is next to them
const UI: [string, string, string][] = [
  ['slate-500', 'slate-900', 'input and button borders in panels'],
  ['slate-500', 'slate-950', 'input borders on the page'],
  ['indigo-300', 'slate-950', 'focus outline on the page'],
  ['indigo-300', 'slate-900', 'focus outline in panels and dialogs'],
  ['indigo-300', 'slate-800', 'focus outline on secondary buttons'],
  ['indigo-400', 'slate-900', 'active nav border, tab underline, progress bar'],
  ['red-400', 'slate-900', 'invalid input border'],
  ['slate-400', 'slate-900', 'empty target dot'],
  ['emerald-300', 'slate-900', 'running dot'],
  ['amber-300', 'slate-900', 'stalled dot'],
  ['red-400', 'slate-900', 'stopped dot'],
  ['emerald-300', 'slate-800', 'Fleet: VRAM/RAM bar fill, normal'],
  ['amber-300', 'slate-800', 'Fleet: VRAM/RAM bar fill, high; split "other processes"'],
  ['red-400', 'slate-800', 'Fleet: VRAM/RAM bar fill, critical'],
  ['indigo-400', 'slate-800', 'Fleet: VRAM split "LM Studio"'],
  ['slate-400', 'slate-800', 'Fleet: estimated VRAM fill'],
  ['indigo-400', 'slate-900', 'Fleet chart: LM Studio line'],
  ['emerald-300', 'slate-900', 'Fleet chart: used / utilisation line'],
  ['red-300', 'slate-900', 'Fleet chart: temperature line'],
  ['amber-300', 'slate-900', 'Fleet: simulated badge border'],
  ['red-400', 'slate-950', 'shell: alert badge border'],
  ['indigo-400', 'slate-800', 'Pulse: model load / prompt progress bars'],
  ['indigo-400', 'slate-900', 'Pulse: tokens/s chart line, busy slot, active history row border'],
  ['slate-500', 'slate-900', 'Pulse: free slot outline'],
];

describe('palette', () => {
  test('is parsed from index.css', () => {
    expect(Object.keys(P).length).toBeGreaterThan(20);
    for (const v of Object.values(P)) expect(parseColor(v)).not.toBeNull();
  });
});

describe('WCAG AA text contrast', () => {
  test.each(TEXT)('%s on %s >= %d (%s)', (fg, bg, min) => {
    expect(ratio(c(fg), c(bg))).toBeGreaterThanOrEqual(min);
  });
});

describe('WCAG AA non-text contrast', () => {
  test.each(UI)('%s next to %s >= 3 (%s)', (fg, bg) => {
    expect(ratio(c(fg), c(bg))).toBeGreaterThanOrEqual(3);
  });
});

describe('contrast maths', () => {
  test('black on white is 21:1, equal colours 1:1', () => {
    expect(ratio('#000', '#fff')).toBeCloseTo(21, 5);
    expect(ratio('#777777', '#777777')).toBeCloseTo(1, 5);
  });
  test('known reference value: #767676 on white is about 4.54', () => {
    expect(ratio('#767676', '#ffffff')).toBeCloseTo(4.54, 2);
  });
  test('translucent foreground is composited over the background', () => {
    const half = ratio('rgba(255, 255, 255, 0.5)', '#000000');
    const solid = contrast(parseColor('#808080')!, parseColor('#000000')!);
    expect(half).toBeCloseTo(solid, 1);
  });
  test('parses the forms the browser reports', () => {
    expect(parseColor('rgb(2, 6, 23)')).toEqual({ r: 2, g: 6, b: 23, a: 1 });
    expect(parseColor('rgb(2 6 23 / 50%)')).toEqual({ r: 2, g: 6, b: 23, a: 0.5 });
    expect(parseColor('#abc')).toEqual({ r: 170, g: 187, b: 204, a: 1 });
    expect(parseColor('oklch(0.5 0.1 200)')).toBeNull();
  });
});

/** Printed by `npm test -- --reporter=verbose`; handy for the report. */
export const TEXT_PAIRS = TEXT;
