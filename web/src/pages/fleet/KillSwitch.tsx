// KillSwitch.tsx - unload every model instance on one target (operator or
// admin). The dialog names the target and the instances that will be
// unloaded, shows progress while the server unloads them one by one, then
// the result per instance.
import { useEffect, useRef, useState } from 'preact/hooks';
import * as targetsApi from '../../api/targets';
import type { Target, UnloadResult } from '../../api/targets';
import { ErrorSlot } from '../../components/Alert';
import { Dialog } from '../../components/Dialog';
import { ProgressBar, Spinner } from '../../components/Spinner';
import { btn } from '../../components/ui';
import { errorText } from '../../lib/useLoad';
import type { Instance } from './TargetCard';

export function KillSwitchDialog({ target, instances, onClose, onDone }: {
  target: Target; instances: Instance[]; onClose: () => void; onDone: () => void;
}) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const [result, setResult] = useState<UnloadResult | null>(null);
  const closeRef = useRef<HTMLButtonElement>(null);
  // the confirm button goes away with the result: keep keyboard focus in the dialog
  useEffect(() => { if (result) closeRef.current?.focus(); }, [result]);
  const run = async (e: Event) => {
    e.preventDefault();
    if (busy) return;
    setBusy(true); setError('');
    try {
      const r = await targetsApi.unload(target.id, { all: true });
      setResult(r);
      onDone();
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Dialog title={`Kill Switch: ${target.label}`} onClose={onClose} describedBy="kill-desc" wide>
      {!result ? (
        <form onSubmit={run} class="space-y-4">
          <div id="kill-desc" class="space-y-2 text-sm text-slate-300">
            <p>Unload every model instance on <span class="font-semibold text-white">{target.label}</span>
              {' '}(<span class="break-all font-mono text-xs">{target.url}</span>). Requests running on them are cut off.</p>
            {instances.length > 0 ? (
              <>
                <p>These instances are loaded now:</p>
                <ul class="list-disc space-y-0.5 pl-5" data-testid="kill-list">
                  {instances.map((i) => <li key={i.inst.id} class="break-all font-mono text-xs text-slate-200">{i.inst.id}</li>)}
                </ul>
              </>
            ) : <p>No loaded instance is known right now; the server lists them again before unloading.</p>}
          </div>
          {busy ? <ProgressBar label="Unloading" /> : null}
          <ErrorSlot error={error} />
          <div class="flex flex-wrap justify-end gap-2">
            <button type="button" class={btn.secondary} onClick={onClose} data-autofocus>Cancel</button>
            <button type="submit" class={btn.danger} aria-disabled={busy ? 'true' : undefined}>
              {busy ? <Spinner /> : null}Unload everything
            </button>
          </div>
        </form>
      ) : (
        <div class="space-y-4" role="status" data-testid="kill-result">
          <p class="text-sm text-slate-200">
            {result.requested === 0 ? 'Nothing was loaded.'
              : `${result.unloaded} of ${result.requested} instance${result.requested === 1 ? '' : 's'} unloaded${result.failed ? `, ${result.failed} failed` : ''}.`}
          </p>
          {result.results.length > 0 ? (
            <ul class="space-y-1 text-sm">
              {result.results.map((r) => (
                <li key={r.instance_id} class="break-all" data-unload={r.instance_id}>
                  <span class="font-mono text-xs text-slate-200">{r.instance_id}</span>{' '}
                  {r.ok ? <span class="text-emerald-300">unloaded</span>
                    : <span class="text-red-200">failed: {r.error?.message ?? 'unknown error'}</span>}
                </li>
              ))}
            </ul>
          ) : null}
          <div class="flex justify-end">
            <button ref={closeRef} type="button" class={btn.primary} onClick={onClose}>Close</button>
          </div>
        </div>
      )}
    </Dialog>
  );
}
