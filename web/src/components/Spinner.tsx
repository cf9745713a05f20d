// Spinner.tsx - a small busy indicator and an indeterminate progress bar.

export function Spinner({ label, class: cls = 'h-4 w-4' }: { label?: string; class?: string }) {
  return (
    <span class="inline-flex items-center gap-2" role={label ? 'status' : undefined}>
      <svg class={`${cls} motion-safe:animate-spin`} viewBox="0 0 24 24" fill="none" aria-hidden="true">
        <circle cx="12" cy="12" r="9" stroke="currentColor" stroke-opacity="0.3" stroke-width="3" />
        <path d="M21 12a9 9 0 0 0-9-9" stroke="currentColor" stroke-width="3" stroke-linecap="round" />
      </svg>
      {label ? <span>{label}</span> : null}
    </span>
  );
}

/** Thin indeterminate bar for list loads; announces `label` to screen readers. */
export function ProgressBar({ label }: { label: string }) {
  return (
    <div class="relative h-1 w-full overflow-hidden rounded bg-slate-800" role="progressbar" aria-label={label}
      aria-busy="true">
      <div class="absolute inset-y-0 left-0 w-2/5 rounded bg-indigo-400"
        style={{ animation: 'dp-indeterminate 1.2s ease-in-out infinite' }} />
    </div>
  );
}
