// Alert.tsx - error / success / info boxes. Text only: messages from the
// server are rendered as text nodes, never as HTML.
import type { ComponentChildren } from 'preact';

const styles = {
  error: 'border-red-400 bg-red-950 text-red-200',
  success: 'border-emerald-300 bg-emerald-950 text-emerald-300',
  warning: 'border-amber-300 bg-amber-950 text-amber-200',
  info: 'border-indigo-400 bg-indigo-950 text-indigo-200',
};

export function Alert({ kind, title, children, id }: {
  kind: keyof typeof styles; title?: string; children?: ComponentChildren; id?: string;
}) {
  // errors interrupt (role=alert); everything else is a polite status
  return (
    <div id={id} role={kind === 'error' ? 'alert' : 'status'}
      class={`rounded-md border px-3 py-2 text-sm ${styles[kind]}`}>
      {title ? <p class="font-semibold">{title}</p> : null}
      {children ? <div>{children}</div> : null}
    </div>
  );
}

/**
 * A slot for an error message that is always in the DOM (hidden while
 * empty), so showing the message inserts nothing before the controls that
 * follow it: moving a focused button in the DOM would drop keyboard focus.
 */
export function ErrorSlot({ error, id, class: cls = '' }: { error: string; id?: string; class?: string }) {
  return <div class={`empty:hidden ${cls}`}>{error ? <Alert kind="error" id={id}>{error}</Alert> : null}</div>;
}
