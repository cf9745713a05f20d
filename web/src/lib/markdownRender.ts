// markdownRender.ts - turns the tree from markdown.ts into Preact VNodes.
//
// Only a fixed set of elements is created (h1-h6 shifted down so answers
// never outrank the page heading, p, pre/code, ul/ol/li, blockquote, hr,
// strong, em, del, a, br); every string from the model is a text child, so
// the browser escapes it. No innerHTML, no dangerouslySetInnerHTML, no
// attributes taken from the input except a link's href, which
// markdown.ts already reduced to an absolute http(s) URL. Links open in a
// new tab with rel="noopener noreferrer nofollow".
import { h, type ComponentType, type VNode } from 'preact';
import { parseMarkdown, type Block, type Inline } from './markdown';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- element props differ per tag
type VN = VNode<any>;

export interface CodeBlockProps { lang: string; code: string; closed: boolean }

export interface RenderOptions {
  /** Renders fenced code blocks (the page adds a copy button); default: a plain <pre>. */
  CodeBlock?: ComponentType<CodeBlockProps>;
  /** Heading levels are shifted by this much (default 2: "#" becomes <h3>). */
  headingShift?: number;
}

const LINK_CLASS = 'text-indigo-300 underline underline-offset-2 hover:text-indigo-200 break-words';
const INLINE_CODE = 'rounded bg-slate-800 px-1 py-0.5 font-mono text-[0.9em] text-indigo-200';

function PlainCode({ lang, code }: CodeBlockProps): VN {
  return h('pre', { class: 'overflow-x-auto rounded-md bg-slate-950 p-3 text-sm', 'data-lang': lang || undefined },
    h('code', null, code));
}

function inlines(nodes: Inline[], key = ''): (VN | string)[] {
  return nodes.map((n, i): VN | string => {
    const k = `${key}${i}`;
    switch (n.t) {
      case 'text': return n.text;
      case 'code': return h('code', { key: k, class: INLINE_CODE }, n.text);
      case 'strong': return h('strong', { key: k, class: 'font-semibold text-white' }, inlines(n.children, k + '.'));
      case 'em': return h('em', { key: k }, inlines(n.children, k + '.'));
      case 'del': return h('del', { key: k }, inlines(n.children, k + '.'));
      case 'br': return h('br', { key: k });
      case 'link':
        return h('a', { key: k, href: n.href, target: '_blank', rel: 'noopener noreferrer nofollow', class: LINK_CLASS },
          inlines(n.children, k + '.'));
    }
  });
}

const HEADING_CLASS: Record<number, string> = {
  3: 'mt-4 mb-2 text-lg font-semibold text-white',
  4: 'mt-3 mb-2 text-base font-semibold text-white',
  5: 'mt-3 mb-1 text-sm font-semibold text-white',
  6: 'mt-3 mb-1 text-sm font-semibold text-slate-200',
};

function blocks(list: Block[], opts: RenderOptions, key: string): VN[] {
  const Code = opts.CodeBlock ?? PlainCode;
  const shift = opts.headingShift ?? 2;
  return list.map((b, i): VN => {
    const k = `${key}${i}`;
    switch (b.t) {
      case 'heading': {
        const level = Math.min(6, b.level + shift);
        return h(`h${level}`, { key: k, class: HEADING_CLASS[level] ?? HEADING_CLASS[6] }, inlines(b.children, k + '.'));
      }
      case 'paragraph':
        return h('p', { key: k, class: 'my-2 whitespace-pre-wrap break-words' }, inlines(b.children, k + '.'));
      case 'code':
        return h(Code, { key: k, lang: b.lang, code: b.text, closed: b.closed });
      case 'hr':
        return h('hr', { key: k, class: 'my-4 border-slate-700' });
      case 'quote':
        return h('blockquote', { key: k, class: 'my-2 border-l-2 border-slate-500 pl-3 text-slate-300' }, blocks(b.children, opts, k + '.'));
      case 'list': {
        const items = b.items.map((it, j) => h('li', { key: `${k}.${j}`, class: 'my-1 [&>p]:my-0' }, blocks(it, opts, `${k}.${j}.`)));
        return b.ordered
          ? h('ol', { key: k, class: 'my-2 list-decimal pl-6', start: b.start !== 1 ? b.start : undefined }, items)
          : h('ul', { key: k, class: 'my-2 list-disc pl-6' }, items);
      }
    }
  });
}

/** Markdown source to VNodes (safe: see the file comment). */
export function renderMarkdown(src: string, opts: RenderOptions = {}): VN[] {
  return blocks(parseMarkdown(src), opts, 'b');
}
