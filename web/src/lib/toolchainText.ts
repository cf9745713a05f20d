// toolchainText.ts - bounding what tools and models produce before it is
// shown (pure, unit-tested). Tool arguments and outputs can be megabytes;
// the stream view shows a preview and lets the user expand to a larger,
// still bounded, view. Everything stays a string for a text node.

/** Preview size and the most ever shown expanded. */
export const PREVIEW_CHARS = 600;
export const PREVIEW_LINES = 12;
export const EXPANDED_CHARS = 64 * 1024;

export interface Bounded {
  text: string;
  /** the input was longer than what `text` shows */
  truncated: boolean;
  /** characters of the whole input */
  total: number;
}

/** The first `maxChars` characters and `maxLines` lines of s (never splitting a surrogate pair). */
export function bound(s: string, maxChars: number, maxLines = Infinity): Bounded {
  let end = Math.min(s.length, maxChars);
  if (end < s.length && end > 0) {
    const c = s.charCodeAt(end - 1);
    if (c >= 0xd800 && c <= 0xdbff) end--; // high surrogate: keep the pair together
  }
  if (maxLines !== Infinity) {
    let lines = 0;
    for (let i = 0; i < end; i++) {
      if (s.charCodeAt(i) === 10 && ++lines >= maxLines) { end = i; break; }
    }
  }
  return { text: s.slice(0, end), truncated: end < s.length, total: s.length };
}

/**
 * Tool arguments as readable text: objects/arrays pretty-printed, a string
 * that holds JSON re-indented, any other string as is.
 */
export function argumentsText(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (typeof v === 'string') {
    const t = v.trim();
    if ((t.startsWith('{') && t.endsWith('}')) || (t.startsWith('[') && t.endsWith(']'))) {
      try { return JSON.stringify(JSON.parse(t), null, 2); } catch { return v; }
    }
    return v;
  }
  try { return JSON.stringify(v, null, 2) ?? String(v); } catch { return String(v); }
}

/** "1.2 kB" style size of a text (UTF-16 length is close enough for display). */
export function sizeText(chars: number): string {
  if (chars < 1000) return `${chars} chars`;
  if (chars < 1_000_000) return `${(chars / 1000).toFixed(1)}k chars`;
  return `${(chars / 1_000_000).toFixed(1)}M chars`;
}
