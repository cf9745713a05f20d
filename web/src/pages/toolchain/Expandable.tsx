// Expandable.tsx - a bounded block of text from a tool or a model: a short
// preview, "Show all" expands to a larger but still bounded view. Always a
// text node inside <pre> (never HTML).
import { useState } from 'preact/hooks';
import { bound, EXPANDED_CHARS, PREVIEW_CHARS, PREVIEW_LINES, sizeText } from '../../lib/toolchainText';

export function Expandable({ text, label, testId }: { text: string; label: string; testId?: string }) {
  const [open, setOpen] = useState(false);
  const b = open ? bound(text, EXPANDED_CHARS) : bound(text, PREVIEW_CHARS, PREVIEW_LINES);
  const canExpand = !open && b.truncated;
  return (
    <div class="min-w-0" data-testid={testId} data-truncated={b.truncated ? 'true' : 'false'}>
      <pre class={`overflow-x-auto whitespace-pre-wrap break-words rounded-md border border-slate-800 bg-slate-950 p-2 font-mono text-xs text-slate-200 ${open ? 'max-h-96 overflow-y-auto' : ''}`}
        aria-label={label} tabIndex={open ? 0 : undefined}>{b.text}{b.truncated ? '…' : ''}</pre>
      {canExpand || open ? (
        <div class="mt-1 flex flex-wrap items-center gap-2 text-xs text-slate-400">
          <button type="button" class="rounded text-indigo-300 underline underline-offset-2 hover:text-indigo-200"
            aria-expanded={open} onClick={() => setOpen(!open)}>
            {open ? 'Show less' : `Show all (${sizeText(b.total)})`}
          </button>
          {open && b.truncated ? <span>first {sizeText(EXPANDED_CHARS)} of {sizeText(b.total)} shown</span> : null}
        </div>
      ) : null}
    </div>
  );
}
