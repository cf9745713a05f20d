// Dialog.tsx - modal dialogs on the native <dialog> element: the browser
// traps focus, Escape cancels, and focus goes back to the opener on close.
import type { ComponentChildren } from 'preact';
import { useLayoutEffect, useRef } from 'preact/hooks';
import { btn } from './ui';
import { Spinner } from './Spinner';
import { ErrorSlot } from './Alert';

let nextId = 0;

export function Dialog({ title, onClose, children, describedBy, wide }: {
  title: string;
  onClose: () => void;
  children: ComponentChildren;
  describedBy?: string;
  wide?: boolean;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const idRef = useRef(`dlg-${++nextId}`);
  // the opener is what had focus when the dialog was first rendered (not
  // when an effect runs later: by then focus may already be inside)
  const openerRef = useRef(document.activeElement as HTMLElement | null);
  useLayoutEffect(() => {
    const d = ref.current;
    if (!d) return;
    const opener = openerRef.current;
    if (!d.open) d.showModal();
    const first = d.querySelector<HTMLElement>('[data-autofocus], input, select, textarea, button');
    first?.focus();
    return () => {
      if (d.open) d.close();
      if (opener && document.contains(opener)) opener.focus();
    };
  }, []);
  const onCancel = (e: Event) => { e.preventDefault(); onClose(); };
  return (
    <dialog ref={ref} onCancel={onCancel} aria-labelledby={idRef.current} aria-describedby={describedBy}
      class={`m-auto w-[calc(100%-2rem)] ${wide ? 'max-w-xl' : 'max-w-md'} rounded-xl border border-slate-700 ` +
        'bg-slate-900 p-0 text-slate-200 shadow-2xl'}>
      <div class="p-5">
        <h2 id={idRef.current} class="mb-4 text-lg font-semibold text-white">{title}</h2>
        {children}
      </div>
    </dialog>
  );
}

/** "Are you sure?" with a danger action, a busy state and the server's error. */
export function ConfirmDialog({ title, message, confirmLabel, busy, error, onConfirm, onClose }: {
  title: string;
  message: ComponentChildren;
  confirmLabel: string;
  busy: boolean;
  error: string;
  onConfirm: () => void;
  onClose: () => void;
}) {
  const descId = useRef(`confirm-desc-${++nextId}`).current;
  return (
    <Dialog title={title} onClose={onClose} describedBy={descId}>
      <form method="dialog" onSubmit={(e) => { e.preventDefault(); if (!busy) onConfirm(); }}>
        <div id={descId} class="text-sm text-slate-300">{message}</div>
        <ErrorSlot error={error} class="mt-4" />
        <div class="mt-5 flex flex-wrap justify-end gap-2">
          <button type="button" class={btn.secondary} onClick={onClose} data-autofocus>Cancel</button>
          <button type="submit" class={btn.danger} aria-disabled={busy ? 'true' : undefined}>
            {busy ? <Spinner /> : null}{confirmLabel}
          </button>
        </div>
      </form>
    </Dialog>
  );
}
