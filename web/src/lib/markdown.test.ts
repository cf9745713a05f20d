// markdown.test.ts - the Markdown parser and renderer: structure, and above
// all safety: HTML from a model is text, javascript: links are not links,
// entities are not decoded, no element or attribute comes from the input.
import { isValidElement, type VNode } from 'preact';
import { describe, expect, test } from 'vitest';
import { inlineText, parseMarkdown, safeHref, type Inline } from './markdown';
import { renderMarkdown } from './markdownRender';

const ALLOWED = new Set(['h3', 'h4', 'h5', 'h6', 'p', 'pre', 'code', 'ul', 'ol', 'li', 'blockquote', 'hr',
  'strong', 'em', 'del', 'a', 'br']);
const ALLOWED_PROPS = new Set(['class', 'href', 'target', 'rel', 'start', 'data-lang', 'children', 'key']);

/** Serialise a VNode tree the way the DOM would show it (text escaped), checking elements and props. */
function toHtml(n: unknown): string {
  if (n === null || n === undefined || n === false || n === true) return '';
  if (typeof n === 'string' || typeof n === 'number') {
    return String(n).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  }
  if (Array.isArray(n)) return n.map(toHtml).join('');
  if (!isValidElement(n)) throw new Error('not a vnode: ' + JSON.stringify(n));
  const v = n as VNode<Record<string, unknown>>;
  if (typeof v.type === 'function') return toHtml((v.type as (p: unknown) => unknown)(v.props));
  const tag = String(v.type);
  expect(ALLOWED.has(tag), `element ${tag}`).toBe(true);
  const attrs: string[] = [];
  for (const [k, val] of Object.entries(v.props)) {
    expect(ALLOWED_PROPS.has(k), `prop ${k}`).toBe(true);
    if (k === 'children' || k === 'class' || val === undefined) continue;
    attrs.push(` ${k}="${String(val).replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;')}"`);
  }
  const inner = toHtml(v.props.children);
  return tag === 'br' || tag === 'hr' ? `<${tag}${attrs.join('')}>` : `<${tag}${attrs.join('')}>${inner}</${tag}>`;
}

const html = (md: string) => toHtml(renderMarkdown(md));
const stripClass = (md: string) => html(md).replace(/ class="[^"]*"/g, '');

describe('safety', () => {
  test('script tags are text', () => {
    const out = stripClass('Hello <script>alert(1)</script> world');
    expect(out).toBe('<p>Hello &lt;script&gt;alert(1)&lt;/script&gt; world</p>');
  });
  test('raw HTML blocks, attributes and event handlers are text', () => {
    const md = '<img src=x onerror="alert(1)">\n\n<div style="x"><b>bold?</b></div>\n\n<iframe src="javascript:alert(1)"></iframe>';
    const out = stripClass(md);
    expect(out).not.toMatch(/<img|<div|<b>|<iframe/);
    expect(out).toContain('&lt;img src=x onerror=&quot;alert(1)&quot;&gt;'.replace(/&quot;/g, '"'));
  });
  test('HTML entities are not decoded', () => {
    const blocks = parseMarkdown('&lt;script&gt; &amp; &#60;b&#62; &copy;');
    expect(blocks).toEqual([{ t: 'paragraph', children: [{ t: 'text', text: '&lt;script&gt; &amp; &#60;b&#62; &copy;' }] }]);
    expect(stripClass('&lt;b&gt;')).toBe('<p>&amp;lt;b&amp;gt;</p>');
  });
  test('javascript:, data:, vbscript:, relative and obfuscated links are not links', () => {
    for (const u of ['javascript:alert(1)', 'JaVaScRiPt:alert(1)', ' javascript:alert(1)', 'java\tscript:alert(1)',
      'data:text/html,<script>x</script>', 'vbscript:x', '/relative', '//evil.example/x', 'file:///etc/passwd',
      'mailto:a@b.c', 'http:/x', 'https://', 'javascript://%0aalert(1)', '\u0001https://x.example']) {
      const out = html(`[click](${u})`);
      expect(out, u).not.toContain('<a');
      expect(out, u).toContain('click');
    }
    expect(html('<javascript:alert(1)>')).not.toContain('<a');
  });
  test('http and https links get noopener and open in a new tab', () => {
    const out = html('see [docs](https://lmstudio.ai/docs "t") and <http://example.com/a?b=1&c=2>');
    expect(out).toContain('<a href="https://lmstudio.ai/docs" target="_blank" rel="noopener noreferrer nofollow"');
    expect(out).toContain('href="http://example.com/a?b=1&amp;c=2"');
  });
  test('bare URLs become links, without trailing punctuation', () => {
    const b = parseMarkdown('Visit https://example.com/x. Or not.');
    expect(b[0]).toEqual({ t: 'paragraph', children: [
      { t: 'text', text: 'Visit ' },
      { t: 'link', href: 'https://example.com/x', children: [{ t: 'text', text: 'https://example.com/x' }] },
      { t: 'text', text: '. Or not.' },
    ] });
  });
  test('code blocks keep HTML as text', () => {
    const out = stripClass('```html\n<script>alert(1)</script>\n```');
    expect(out).toBe('<pre data-lang="html"><code>&lt;script&gt;alert(1)&lt;/script&gt;</code></pre>');
    expect(parseMarkdown('```<script>x\ny\n```')[0]).toMatchObject({ t: 'code', lang: '' });
  });
  test('safeHref', () => {
    expect(safeHref('https://a.example/p?q#f')).toBe('https://a.example/p?q#f');
    expect(safeHref('HTTP://A.EXAMPLE')).toBe('http://a.example/');
    expect(safeHref('https://a.example/ x')).toBeNull();
    expect(safeHref('ftp://a.example')).toBeNull();
  });
  test('deep nesting and huge input stay bounded', () => {
    const deep = '>'.repeat(500) + ' x';
    expect(() => html(deep)).not.toThrow();
    const stars = '*'.repeat(5000) + 'x' + '*'.repeat(5000);
    expect(() => html(stars)).not.toThrow();
    const brackets = '['.repeat(3000) + 'x' + ']'.repeat(3000);
    expect(() => html(brackets)).not.toThrow();
  });
});

describe('structure', () => {
  test('headings are shifted below the page heading', () => {
    expect(stripClass('# Title\n## Sub\n###### six')).toBe('<h3>Title</h3><h4>Sub</h4><h6>six</h6>');
  });
  test('emphasis, strong, strikethrough, inline code', () => {
    expect(stripClass('a *em* __strong__ ***both*** ~~gone~~ `x <y>` snake_case_name 2 * 3 * 4'))
      .toBe('<p>a <em>em</em> <strong>strong</strong> <strong><em>both</em></strong> <del>gone</del> <code>x &lt;y&gt;</code> snake_case_name 2 * 3 * 4</p>');
  });
  test('escapes', () => {
    expect(stripClass('\\*not em\\* \\<b\\>')).toBe('<p>*not em* &lt;b&gt;</p>');
  });
  test('fenced code, unterminated while streaming', () => {
    const b = parseMarkdown('Here:\n```python\ndef f():\n    return 1');
    expect(b[1]).toEqual({ t: 'code', lang: 'python', text: 'def f():\n    return 1', closed: false });
    const c = parseMarkdown('~~~\na\n~~~\nafter');
    expect(c[0]).toEqual({ t: 'code', lang: '', text: 'a', closed: true });
    expect(c[1].t).toBe('paragraph');
  });
  test('lists, ordered with start, nested', () => {
    expect(stripClass('- one\n- two\n  - inner\n- three')).toBe(
      '<ul><li><p>one</p></li><li><p>two</p><ul><li><p>inner</p></li></ul></li><li><p>three</p></li></ul>');
    expect(stripClass('3. c\n4. d')).toBe('<ol start="3"><li><p>c</p></li><li><p>d</p></li></ol>');
    expect(stripClass('1. a\n\n2. b')).toBe('<ol><li><p>a</p></li><li><p>b</p></li></ol>');
  });
  test('block quote, rule, hard break', () => {
    expect(stripClass('> quoted\n> more\n\n---\nline  \nnext')).toBe(
      '<blockquote><p>quoted\nmore</p></blockquote><hr><p>line<br>next</p>');
  });
  test('underscores inside words never close emphasis', () => {
    expect(stripClass('window.__pwned = 1 and window.__pwned=2')).toBe('<p>window.__pwned = 1 and window.__pwned=2</p>');
    expect(stripClass('__init__ and _x_y_ and __bold__.')).toBe('<p><strong>init</strong> and <em>x_y</em> and <strong>bold</strong>.</p>');
  });
  test('unclosed markers stay text', () => {
    expect(stripClass('**open and `tick and [bracket')).toBe('<p>**open and `tick and [bracket</p>');
  });
  test('inlineText', () => {
    const p = parseMarkdown('a **b** `c`')[0] as { children: Inline[] };
    expect(inlineText(p.children)).toBe('a b c');
  });
});

describe('random input', () => {
  // seeded xorshift: the same cases every run
  let x = 0x9e3779b9;
  const rnd = (n: number) => { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; return (x >>> 0) % n; };
  const ATOMS = ['*', '**', '_', '__', '~~', '`', '```', '\n', '\n\n', '# ', '- ', '1. ', '> ', '[', ']', '(', ')',
    'https://a.example/x', 'javascript:alert(1)', '<script>', '</script>', '<img onerror=x>', '&lt;', '&amp;', ' ', 'word',
    '\\', '---', '  ', '\t', '<https://b.example>', '~~~', 'ü', '\u0000'];
  test('2000 random documents render without throwing and only with allowed elements', () => {
    for (let k = 0; k < 2000; k++) {
      let src = '';
      const n = 1 + rnd(60);
      for (let i = 0; i < n; i++) src += ATOMS[rnd(ATOMS.length)];
      const out = html(src); // toHtml asserts every element and prop is allowed
      expect(out).not.toMatch(/<(script|img|iframe)/);
      expect(out).not.toContain('href="javascript');
    }
  });
});
