// PageHeader.tsx - page title (h1) that takes focus after in-app navigation
// so screen-reader and keyboard users land on the new page; sets the title.
import type { ComponentChildren } from 'preact';
import { useEffect, useRef } from 'preact/hooks';
import { navigated } from '../state/router';

export function PageHeader({ title, subtitle, children }: {
  title: string; subtitle?: string; children?: ComponentChildren;
}) {
  const ref = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    document.title = `${title} · DaemonPulse`;
    if (navigated.peek()) ref.current?.focus({ preventScroll: false });
  }, [title]);
  return (
    <div class="mb-6 flex flex-wrap items-end justify-between gap-3">
      <div class="min-w-0">
        <h1 ref={ref} tabIndex={-1} class="text-2xl font-bold tracking-tight text-white outline-none">{title}</h1>
        {subtitle ? <p class="mt-1 text-sm text-slate-400">{subtitle}</p> : null}
      </div>
      {children}
    </div>
  );
}
