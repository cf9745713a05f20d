// markdown.ts - a small, safe Markdown parser for model answers.
//
// Produces a plain data tree (blocks and inlines) that markdownRender.ts
// turns into Preact VNodes; nothing is ever turned into HTML. Raw HTML in
// the input is not interpreted: "<script>" stays the text "<script>", and
// entities such as "&lt;" stay those characters. Links keep only absolute
// http: and https: URLs (anything else, javascript: included, is shown as
// its text without a link).
//
// Supported: ATX headings, paragraphs, fenced code blocks (``` and ~~~,
// with an info string; an unterminated fence - common while streaming -
// runs to the end), bullet and ordered lists (nested by indentation),
// block quotes, thematic breaks; inline code, strong, emphasis,
// strikethrough, links, <autolinks>, bare http(s) URLs, backslash escapes,
// hard line breaks. Bounded: input beyond MAX_INPUT characters is cut, and
// nesting beyond MAX_DEPTH is kept as text.

export type Inline =
  | { t: 'text'; text: string }
  | { t: 'code'; text: string }
  | { t: 'strong'; children: Inline[] }
  | { t: 'em'; children: Inline[] }
  | { t: 'del'; children: Inline[] }
  | { t: 'link'; href: string; children: Inline[] }
  | { t: 'br' };

export type Block =
  | { t: 'heading'; level: 1 | 2 | 3 | 4 | 5 | 6; children: Inline[] }
  | { t: 'paragraph'; children: Inline[] }
  | { t: 'code'; lang: string; text: string; closed: boolean }
  | { t: 'list'; ordered: boolean; start: number; items: Block[][] }
  | { t: 'quote'; children: Block[] }
  | { t: 'hr' };

export const MAX_INPUT = 512 * 1024;
const MAX_DEPTH = 12;

/** An absolute http(s) URL, normalised; null for anything else. */
export function safeHref(raw: string): string | null {
  const s = raw.trim();
  if (!s || s.length > 2048) return null;
  // control characters or whitespace inside: browsers strip some of them, which hides schemes
  if (/[\u0000-\u0020\u007f-\u009f]/.test(s)) return null;
  if (!/^https?:\/\//i.test(s)) return null;
  let u: URL;
  try { u = new URL(s); } catch { return null; }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return null;
  if (!u.hostname) return null;
  return u.href;
}

// ---------------------------------------------------------------- blocks

const FENCE = /^ {0,3}(`{3,}|~{3,})\s*([^`\s]*)[^`]*$/;
const HEADING = /^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$/;
const HR = /^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$/;
const BULLET = /^( {0,3})([-*+])([ \t]+|$)(.*)$/;
const ORDERED = /^( {0,3})(\d{1,9})([.)])([ \t]+|$)(.*)$/;
const QUOTE = /^ {0,3}> ?(.*)$/;

const isBlank = (l: string) => /^\s*$/.test(l);

function listMarker(line: string): { ordered: boolean; start: number; indent: number; rest: string; bullet: string } | null {
  let m = BULLET.exec(line);
  if (m && !HR.test(line)) {
    return { ordered: false, start: 1, indent: m[1].length + 1 + (m[3].length || 1), rest: m[4], bullet: m[2] };
  }
  m = ORDERED.exec(line);
  if (m) {
    return { ordered: true, start: Number(m[2]), indent: m[1].length + m[2].length + 1 + (m[4].length || 1), rest: m[5], bullet: m[3] };
  }
  return null;
}

function startsBlock(line: string): boolean {
  return FENCE.test(line) || HEADING.test(line) || HR.test(line) || QUOTE.test(line) || listMarker(line) !== null;
}

/** Remove up to `n` columns of leading spaces (tabs count as 4). */
function dedent(line: string, n: number): string {
  let i = 0, col = 0;
  while (i < line.length && col < n) {
    if (line[i] === ' ') col++;
    else if (line[i] === '\t') col += 4;
    else break;
    i++;
  }
  return line.slice(i);
}

function leading(line: string): number {
  let col = 0;
  for (const ch of line) {
    if (ch === ' ') col++;
    else if (ch === '\t') col += 4;
    else break;
  }
  return col;
}

function parseBlocks(lines: string[], depth: number): Block[] {
  const out: Block[] = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (isBlank(line)) { i++; continue; }

    const fence = FENCE.exec(line);
    if (fence) {
      const marker = fence[1];
      const indent = leading(line);
      const body: string[] = [];
      let closed = false;
      i++;
      while (i < lines.length) {
        const l = lines[i];
        const close = new RegExp(`^ {0,3}${marker[0] === '`' ? '`' : '~'}{${marker.length},}\\s*$`);
        if (close.test(l)) { closed = true; i++; break; }
        body.push(dedent(l, indent));
        i++;
      }
      // the info string's first word, only if it looks like a language name (it ends up in an attribute)
      const lang = /^[A-Za-z0-9_+#.-]{1,32}$/.test(fence[2]) ? fence[2] : '';
      out.push({ t: 'code', lang, text: body.join('\n'), closed });
      continue;
    }

    const hd = HEADING.exec(line);
    if (hd) {
      out.push({ t: 'heading', level: hd[1].length as 1, children: parseInline(hd[2] ?? '', depth) });
      i++;
      continue;
    }

    if (HR.test(line)) { out.push({ t: 'hr' }); i++; continue; }

    if (QUOTE.test(line)) {
      const inner: string[] = [];
      while (i < lines.length && !isBlank(lines[i])) {
        const q = QUOTE.exec(lines[i]);
        if (q) inner.push(q[1]);
        else if (startsBlock(lines[i])) break;
        else inner.push(lines[i]); // lazy continuation
        i++;
      }
      out.push(depth < MAX_DEPTH
        ? { t: 'quote', children: parseBlocks(inner, depth + 1) }
        : { t: 'paragraph', children: [{ t: 'text', text: inner.join('\n') }] });
      continue;
    }

    const lm = listMarker(line);
    if (lm) {
      const list: Block & { t: 'list' } = { t: 'list', ordered: lm.ordered, start: lm.start, items: [] };
      const baseIndent = leading(line);
      while (i < lines.length) {
        const m = listMarker(lines[i]);
        if (!m || m.ordered !== lm.ordered || m.bullet !== lm.bullet || leading(lines[i]) !== baseIndent) break;
        const item: string[] = [m.rest];
        const contentIndent = m.indent;
        i++;
        while (i < lines.length) {
          const l = lines[i];
          if (isBlank(l)) {
            // a blank line continues the item only if the next line is indented into it
            const next = lines[i + 1];
            if (next !== undefined && !isBlank(next) && leading(next) >= contentIndent) { item.push(''); i++; continue; }
            break;
          }
          if (leading(l) >= contentIndent) { item.push(dedent(l, contentIndent)); i++; continue; }
          if (leading(l) <= baseIndent && (listMarker(l) || startsBlock(l))) break;
          if (leading(l) > baseIndent && listMarker(l)) { item.push(dedent(l, contentIndent)); i++; continue; }
          item.push(l.trimStart()); // lazy paragraph continuation
          i++;
        }
        list.items.push(depth < MAX_DEPTH ? parseBlocks(item, depth + 1)
          : [{ t: 'paragraph', children: [{ t: 'text', text: item.join('\n') }] }]);
        // a blank line between items keeps the list going
        if (i < lines.length && isBlank(lines[i])) {
          let k = i;
          while (k < lines.length && isBlank(lines[k])) k++;
          const nm = k < lines.length ? listMarker(lines[k]) : null;
          if (nm && nm.ordered === lm.ordered && nm.bullet === lm.bullet && leading(lines[k]) === baseIndent) i = k;
        }
      }
      out.push(list);
      continue;
    }

    // paragraph: until a blank line or the start of another block
    const para: string[] = [line];
    i++;
    while (i < lines.length && !isBlank(lines[i]) && !startsBlock(lines[i])) { para.push(lines[i]); i++; }
    out.push({ t: 'paragraph', children: parseInline(para.map((l) => l.replace(/^[ \t]+/, '')).join('\n'), depth) });
  }
  return out;
}

export function parseMarkdown(src: string): Block[] {
  const s = (src.length > MAX_INPUT ? src.slice(0, MAX_INPUT) : src).replace(/\r\n?/g, '\n').replace(/\u0000/g, '\ufffd');
  return parseBlocks(s.split('\n'), 0);
}

// ---------------------------------------------------------------- inlines

const ESCAPABLE = '\\`*_{}[]()#+-.!~<>|"\'&';
const BARE_URL = /^https?:\/\/[^\s<>()"'`]*[^\s<>()"'`.,;:!?*_~]/i;

function pushText(out: Inline[], text: string): void {
  if (!text) return;
  const last = out[out.length - 1];
  if (last && last.t === 'text') last.text += text;
  else out.push({ t: 'text', text });
}

/** Find the closing delimiter run `d` for an opener at `from` (exclusive); -1 if none. */
function findCloser(s: string, from: number, d: string): number {
  let i = from;
  // bounded so that many unmatched openers cannot make a paragraph quadratic
  const limit = Math.min(s.length, from + 4000);
  while (i < limit) {
    const c = s[i];
    if (c === '\\') { i += 2; continue; }
    if (c === '`') {
      // skip code spans inside emphasis
      let n = 0;
      while (s[i + n] === '`') n++;
      const end = s.indexOf('`'.repeat(n), i + n);
      if (end < 0) { i += n; continue; }
      i = end + n;
      continue;
    }
    if (s.startsWith(d, i) && i > from && !/\s/.test(s[i - 1])) {
      // for single delimiters, do not close on the first half of a double run
      if (d.length === 1 && s[i + 1] === d && s[i - 1] !== d) { i += 2; continue; }
      // an underscore run never closes inside a word (snake_case, __dunder__ names)
      if (d[0] === '_' && /[A-Za-z0-9]/.test(s[i + d.length] ?? '')) { i += d.length; continue; }
      return i;
    }
    i++;
  }
  return -1;
}

function parseInline(s: string, depth: number): Inline[] {
  const out: Inline[] = [];
  if (depth > MAX_DEPTH) { pushText(out, s); return out; }
  let i = 0;
  while (i < s.length) {
    const c = s[i];

    if (c === '\\') {
      const n = s[i + 1];
      if (n === '\n') { out.push({ t: 'br' }); i += 2; continue; }
      if (n !== undefined && ESCAPABLE.includes(n)) { pushText(out, n); i += 2; continue; }
      pushText(out, c); i++; continue;
    }

    if (c === '\n') {
      // two trailing spaces make a hard break
      const last = out[out.length - 1];
      if (last && last.t === 'text' && / {2,}$/.test(last.text)) {
        last.text = last.text.replace(/ +$/, '');
        out.push({ t: 'br' });
      } else {
        pushText(out, '\n');
      }
      i++;
      continue;
    }

    if (c === '`') {
      let n = 0;
      while (s[i + n] === '`') n++;
      const ticks = '`'.repeat(n);
      let end = s.indexOf(ticks, i + n);
      while (end >= 0 && s[end + n] === '`') {
        let k = end; while (s[k] === '`') k++;
        end = s.indexOf(ticks, k);
      }
      if (end < 0) { pushText(out, ticks); i += n; continue; }
      let code = s.slice(i + n, end).replace(/\n/g, ' ');
      if (/^ .* $/.test(code) && code.trim()) code = code.slice(1, -1);
      out.push({ t: 'code', text: code });
      i = end + n;
      continue;
    }

    if (c === '[') {
      const link = parseLink(s, i, depth);
      if (link) { out.push(...link.nodes); i = link.end; continue; }
      pushText(out, c); i++; continue;
    }

    if (c === '<') {
      const m = /^<(https?:\/\/[^\s<>]+)>/i.exec(s.slice(i, i + 2100));
      if (m) {
        const href = safeHref(m[1]);
        if (href) { out.push({ t: 'link', href, children: [{ t: 'text', text: m[1] }] }); i += m[0].length; continue; }
      }
      pushText(out, c); i++; continue;
    }

    if ((c === 'h' || c === 'H') && (i === 0 || !/[A-Za-z0-9]/.test(s[i - 1]))) {
      const m = BARE_URL.exec(s.slice(i, i + 2100));
      if (m) {
        const href = safeHref(m[0]);
        if (href) { out.push({ t: 'link', href, children: [{ t: 'text', text: m[0] }] }); i += m[0].length; continue; }
      }
    }

    if (c === '*' || c === '_' || c === '~') {
      let n = 0;
      while (s[i + n] === c) n++;
      const next = s[i + n];
      const leftFlanking = next !== undefined && !/\s/.test(next);
      const intraword = c === '_' && i > 0 && /[A-Za-z0-9]/.test(s[i - 1]);
      if (leftFlanking && !intraword) {
        const tries: string[] = c === '~' ? (n === 2 ? ['~~'] : []) : n >= 3 ? [c.repeat(3), c.repeat(2), c] : n === 2 ? [c.repeat(2), c] : [c];
        let done = false;
        for (const d of tries) {
          const close = findCloser(s, i + d.length, d);
          if (close < 0) continue;
          const inner = parseInline(s.slice(i + d.length, close), depth + 1);
          if (d.length === 3) out.push({ t: 'strong', children: [{ t: 'em', children: inner }] });
          else if (c === '~') out.push({ t: 'del', children: inner });
          else out.push(d.length === 2 ? { t: 'strong', children: inner } : { t: 'em', children: inner });
          i = close + d.length;
          done = true;
          break;
        }
        if (done) continue;
      }
      pushText(out, c.repeat(n));
      i += n;
      continue;
    }

    // plain run up to the next special character
    let j = i + 1;
    while (j < s.length && !'\\\n`[<*_~hH'.includes(s[j])) j++;
    pushText(out, s.slice(i, j));
    i = j;
  }
  return out;
}

/** [text](url "title") starting at s[i] === '['. Unsafe URLs keep their text, without a link. */
function parseLink(s: string, i: number, depth: number): { nodes: Inline[]; end: number } | null {
  // matching ] with nesting
  let k = i + 1, level = 1;
  while (k < s.length && level > 0) {
    if (s[k] === '\\') { k += 2; continue; }
    if (s[k] === '[') level++;
    else if (s[k] === ']') level--;
    if (level > 0) k++;
  }
  if (level !== 0 || s[k + 1] !== '(') return null;
  const text = s.slice(i + 1, k);
  // destination up to the matching ")" (balanced parentheses)
  let p = k + 2, paren = 1;
  while (p < s.length && paren > 0) {
    if (s[p] === '\\') { p += 2; continue; }
    if (s[p] === '(') paren++;
    else if (s[p] === ')') paren--;
    if (paren > 0) p++;
  }
  if (paren !== 0) return null;
  const inside = s.slice(k + 2, p).trim();
  const dest = /^<([^>]*)>/.exec(inside)?.[1] ?? inside.split(/\s+/)[0] ?? '';
  const children = parseInline(text, depth + 1);
  const href = safeHref(dest);
  return { nodes: href ? [{ t: 'link', href, children }] : children, end: p + 1 };
}

/** Plain text of a subtree (for copy buttons, titles, tests). */
export function inlineText(nodes: Inline[]): string {
  return nodes.map((n) => (n.t === 'text' || n.t === 'code' ? n.text : n.t === 'br' ? '\n' : inlineText(n.children))).join('');
}
