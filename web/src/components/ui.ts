// ui.ts - shared class strings so every control looks and focuses the same.

const base = 'inline-flex items-center justify-center gap-2 rounded-md px-3 py-2 text-sm font-medium ' +
  'disabled:cursor-not-allowed disabled:opacity-60 aria-disabled:cursor-wait aria-disabled:opacity-80 transition-colors';

export const btn = {
  primary: `${base} bg-indigo-600 text-white hover:bg-indigo-700`,
  secondary: `${base} border border-slate-500 bg-slate-800 text-slate-100 hover:bg-slate-700`,
  danger: `${base} bg-red-700 text-white hover:bg-red-800`,
  ghost: `${base} text-slate-200 hover:bg-slate-800`,
  small: 'inline-flex items-center gap-1 rounded-md border border-slate-500 bg-slate-800 px-2 py-1 text-xs ' +
    'font-medium text-slate-100 hover:bg-slate-700 disabled:opacity-60',
  smallDanger: 'inline-flex items-center gap-1 rounded-md border border-red-400 bg-slate-800 px-2 py-1 text-xs ' +
    'font-medium text-red-200 hover:bg-red-950 disabled:opacity-60',
};

export const input = 'block w-full rounded-md border border-slate-500 bg-slate-950 px-3 py-2 text-sm text-slate-100 ' +
  'placeholder:text-slate-400 aria-[invalid=true]:border-red-400';

export const label = 'block text-sm font-medium text-slate-200';
export const hint = 'mt-1 text-xs text-slate-400';
export const panel = 'rounded-xl border border-slate-700 bg-slate-900';
export const microLabel = 'text-xs font-semibold uppercase tracking-wider text-slate-400';
