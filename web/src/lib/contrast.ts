// contrast.ts - WCAG 2.x relative luminance and contrast ratio.
//
// Pure functions used by the palette test (contrast.test.ts) and mirrored by
// the browser-side audit in tests/e2e. Colours are sRGB: "#rgb", "#rrggbb",
// "rgb(r g b)", "rgb(r, g, b)" and "rgba(...)"; alpha is composited over a
// given background.

export interface RGBA { r: number; g: number; b: number; a: number }

export function parseColor(s: string): RGBA | null {
  const t = s.trim().toLowerCase();
  let m = /^#([0-9a-f]{3}|[0-9a-f]{6})$/.exec(t);
  if (m) {
    let h = m[1];
    if (h.length === 3) h = h[0] + h[0] + h[1] + h[1] + h[2] + h[2];
    return { r: parseInt(h.slice(0, 2), 16), g: parseInt(h.slice(2, 4), 16), b: parseInt(h.slice(4, 6), 16), a: 1 };
  }
  m = /^rgba?\(\s*([\d.]+)[\s,]+([\d.]+)[\s,]+([\d.]+)(?:\s*[,/]\s*([\d.]+%?))?\s*\)$/.exec(t);
  if (m) {
    let a = 1;
    if (m[4] !== undefined) a = m[4].endsWith('%') ? parseFloat(m[4]) / 100 : parseFloat(m[4]);
    return { r: +m[1], g: +m[2], b: +m[3], a };
  }
  return null;
}

/** Composite `fg` (possibly translucent) over an opaque `bg`. */
export function over(fg: RGBA, bg: RGBA): RGBA {
  const a = fg.a;
  return {
    r: fg.r * a + bg.r * (1 - a),
    g: fg.g * a + bg.g * (1 - a),
    b: fg.b * a + bg.b * (1 - a),
    a: 1,
  };
}

function channel(c: number): number {
  const s = c / 255;
  return s <= 0.04045 ? s / 12.92 : Math.pow((s + 0.055) / 1.055, 2.4);
}

export function luminance(c: RGBA): number {
  return 0.2126 * channel(c.r) + 0.7152 * channel(c.g) + 0.0722 * channel(c.b);
}

/** Contrast ratio between two opaque colours, 1..21. */
export function contrast(a: RGBA, b: RGBA): number {
  const la = luminance(a), lb = luminance(b);
  const [hi, lo] = la > lb ? [la, lb] : [lb, la];
  return (hi + 0.05) / (lo + 0.05);
}

/** Contrast of text colour `fg` over background `bg` given as strings. */
export function ratio(fg: string, bg: string): number {
  const b = parseColor(bg), f = parseColor(fg);
  if (!b || !f) throw new Error(`unparsable colour ${!b ? bg : fg}`);
  return contrast(over(f, b), b);
}
