// CodeBlock.tsx - a fenced code block of a model answer with a copy button.
// The code is a text child (escaped by the browser); copying uses the
// Clipboard API, falling back to a selection in a detached textarea.
import { useEffect, useRef, useState } from 'preact/hooks';
import type { CodeBlockProps } from '../../lib/markdownRender';

async function copyText(text: string): Promise<boolean> {
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return true;
    }
  } catch { /* fall back below */ }
  const ta = document.createElement('textarea');
  ta.value = text;
  ta.setAttribute('readonly', '');
  ta.style.position = 'fixed';
  ta.style.opacity = '0';
  document.body.appendChild(ta);
  ta.select();
  let ok = false;
  try { ok = document.execCommand('copy'); } catch { ok = false; }
  ta.remove();
  return ok;
}

export function CodeBlock({ lang, code, closed }: CodeBlockProps) {
  const [state, setState] = useState<'idle' | 'copied' | 'failed'>('idle');
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);
  useEffect(() => () => { if (timer.current) clearTimeout(timer.current); }, []);
  const onCopy = async () => {
    const ok = await copyText(code);
    setState(ok ? 'copied' : 'failed');
    if (timer.current) clearTimeout(timer.current);
    timer.current = setTimeout(() => setState('idle'), 2000);
  };
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
