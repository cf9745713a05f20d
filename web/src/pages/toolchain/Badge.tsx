// Badge.tsx - the Toolchain's small status pills and the tone palette
// (pairs checked in lib/toolchainContrast.test.ts).
import type { ComponentChildren } from 'preact';
import type { Tone } from '../../lib/toolchainPolicy';

export const TONE: Record<Tone, string> = {
  ok: 'border-emerald-300 text-emerald-300',
  bad: 'border-red-400 text-red-200',
  warn: 'border-amber-300 text-amber-200',
  info: 'border-indigo-400 text-indigo-200',
  muted: 'border-slate-500 text-slate-300',
};

export function Badge({ tone, title, children, testId }: { tone: Tone; title?: string; children: ComponentChildren; testId?: string }) {
  return (
    <span title={title} data-testid={testId}
      class={`inline-flex max-w-full items-center truncate rounded-full border px-2 py-0.5 text-xs font-medium ${TONE[tone]}`}>
      {children}
    </span>
  );
}
