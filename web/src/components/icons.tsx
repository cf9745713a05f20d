// icons.tsx - small inline icons for the sidebar (decorative: aria-hidden).
import type { JSX } from 'preact';

const P = (d: string) => (props: { class?: string }) => (
  <svg class={props.class ?? 'h-5 w-5'} viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="1.8"
    stroke-linecap="round" stroke-linejoin="round" aria-hidden="true"><path d={d} /></svg>
);

export const icons: Record<string, (p: { class?: string }) => JSX.Element> = {
  fleet: P('M12 2.8 20 7.4v9.2l-8 4.6-8-4.6V7.4zM12 12l8-4.6M12 12v9.2M12 12 4 7.4'),
  forge: P('M4 20h16M6 16h12l-1.5-7h-9zM9 9V5h6v4M12 2v1'),
  pulse: P('M3 12h4l2-6 4 12 2-6h6'),
  toolchain: P('M9 7 4 12l5 5M15 7l5 5-5 5M13 5l-2 14'),
  console: P('M4 5h16v14H4zM7 9l3 3-3 3M12 15h5'),
  settings: P('M12 15a3 3 0 1 0 0-6 3 3 0 0 0 0 6zM19 12l2-1-1-3-2 .2-1.3-1.3L17 5l-3-1-1 2h-2l-1-2-3 1 .2 2L6 8.2 4 8 3 11l2 1v0l-2 1 1 3 2-.2 1.3 1.3L7 19l3 1 1-2h2l1 2 3-1-.2-2 1.3-1.3 2 .2 1-3z'),
  menu: P('M4 6h16M4 12h16M4 18h16'),
  close: P('M6 6l12 12M18 6 6 18'),
};
