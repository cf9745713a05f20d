// CodeBlock.tsx - a fenced code block of a model answer with a copy button.
// The code is a text child (escaped by the browser); lib/clipboard copies.
import { useCopy } from '../../lib/clipboard';
import type { CodeBlockProps } from '../../lib/markdownRender';

export function CodeBlock({ lang, code, closed }: CodeBlockProps) {
  const [state, copy] = useCopy();
  const onCopy = () => copy(code);
  return (
    <div class="my-3 overflow-hidden rounded-lg border border-slate-700 bg-slate-950" data-testid="code-block">
      <div class="flex items-center justify-between gap-2 border-b border-slate-700 bg-slate-900 px-3 py-1">
        <span class="font-mono text-xs text-slate-400">{lang || 'code'}{closed ? '' : ' · streaming'}</span>
        <button type="button" onClick={onCopy}
          class="rounded px-2 py-0.5 text-xs font-medium text-indigo-300 hover:bg-slate-800"
          aria-label={`Copy ${lang || ''} code`.replace('  ', ' ')}>
          {state === 'copied' ? 'Copied' : state === 'failed' ? 'Copy failed' : 'Copy'}
        </button>
        <span class="sr-only" aria-live="polite">{state === 'copied' ? 'Code copied' : state === 'failed' ? 'Copy failed' : ''}</span>
      </div>
      <pre class="overflow-x-auto p-3 text-sm leading-relaxed text-slate-100"><code>{code}</code></pre>
    </div>
  );
}
