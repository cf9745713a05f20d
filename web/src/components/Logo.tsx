// Logo.tsx - the DaemonPulse mark: a pulse line in a hexagon.
export function Logo({ class: cls = 'h-6 w-6' }: { class?: string }) {
  return (
    <svg class={cls} viewBox="0 0 32 32" fill="none" aria-hidden="true">
      <path d="M16 2.5 27.7 9.25v13.5L16 29.5 4.3 22.75V9.25z" stroke="currentColor" stroke-width="2"
        stroke-linejoin="round" />
      <path d="M8 17h4l2-5 4 9 2-4h4" stroke="currentColor" stroke-width="2" stroke-linecap="round"
        stroke-linejoin="round" />
    </svg>
  );
}
