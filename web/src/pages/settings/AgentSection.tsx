// AgentSection.tsx - Settings → Daemon targets, per target: the host agent
// (docs/agent.md). Everyone sees whether an agent is enrolled, its URL and
// the masked token hint; admins add one ("Add agent": the control plane
// makes the token and the dialog shows it and the command to run on the
// host exactly once, or stores the token the agent printed), rotate the
// token, change the URL (tunnel moved) and remove it. The token lives only
// in this dialog's state and is gone when the dialog closes.
import { useEffect, useRef, useState } from 'preact/hooks';
import * as agentApi from '../../api/agent';
import type { AgentLink, Enrolment } from '../../api/agent';
import type { Target } from '../../api/targets';
import { Alert, ErrorSlot } from '../../components/Alert';
import { ConfirmDialog, Dialog } from '../../components/Dialog';
import { PasswordInput } from '../../components/PasswordInput';
import { Spinner } from '../../components/Spinner';
import { btn, hint, input, label } from '../../components/ui';
import { agentUrlProblem, defaultAgentUrl, isLoopbackUrl, parseAgentToken } from '../../lib/agent';
import { relativeTime } from '../../lib/format';
import { errorText } from '../../lib/useLoad';

export function AgentSection({ target, admin, onChanged }: { target: Target; admin: boolean; onChanged: (msg: string) => void }) {
  const a: AgentLink | null = target.agent ?? null;
  const enrolled = !!a?.enrolled;
  const [dlg, setDlg] = useState<'' | 'add' | 'rotate' | 'url' | 'remove'>('');
  const hid = `agent-${target.id}-h`;
  return (
    <div class="rounded-md border border-slate-700 p-3" aria-labelledby={hid} role="group" data-testid="agent-section">
      <div class="flex flex-col gap-2 sm:flex-row sm:items-start sm:justify-between">
        <div class="min-w-0 space-y-1 text-xs">
          <p id={hid} class="text-sm font-medium text-slate-200">
            Agent: <span data-testid="agent-state" class={enrolled ? 'text-emerald-300' : 'text-slate-300'}>{enrolled ? 'enrolled' : 'none'}</span>
          </p>
          {enrolled && a ? (
            <>
              <p class="break-all font-mono text-slate-300" data-testid="agent-url">{a.url ?? ''}</p>
              <p class="text-slate-400">
                token <span class="font-mono text-slate-300">{a.token_hint ?? 'hidden'}</span>
                {a.updated_at ? ` · changed ${relativeTime(a.updated_at)}` : ''}
              </p>
            </>
          ) : (
            <p class="text-slate-400">
              Without the DaemonPulse agent on that host, server and daemon start/stop and live GPU figures from it are not
              available: <code class="font-mono">lms server start/stop</code> and <code class="font-mono">lms daemon up/down</code> act
              only on the machine they run on.
            </p>
          )}
        </div>
        {admin ? (
          <div class="flex shrink-0 flex-wrap gap-2">
            {!enrolled ? (
              <button type="button" class={btn.small} aria-label={`Add agent for ${target.label}`} onClick={() => setDlg('add')}>Add agent</button>
            ) : (
              <>
                <button type="button" class={btn.small} aria-label={`Change the agent URL of ${target.label}`} onClick={() => setDlg('url')}>Change URL</button>
                <button type="button" class={btn.small} aria-label={`Rotate the agent token of ${target.label}`} onClick={() => setDlg('rotate')}>Rotate token</button>
                <button type="button" class={btn.smallDanger} aria-label={`Remove the agent of ${target.label}`} onClick={() => setDlg('remove')}>Remove agent</button>
              </>
            )}
          </div>
        ) : null}
      </div>
      {dlg === 'add' || dlg === 'rotate' ? (
        <EnrolDialog target={target} rotate={dlg === 'rotate'} onClose={(changed) => {
          setDlg('');
          if (changed) onChanged(dlg === 'rotate' ? `The agent token of ${target.label} was rotated.` : `Agent added for ${target.label}.`);
        }} />
      ) : null}
      {dlg === 'url' && a ? (
        <UrlDialog target={target} current={a.url ?? ''} onClose={() => setDlg('')}
          onDone={() => { setDlg(''); onChanged(`The agent URL of ${target.label} was changed.`); }} />
      ) : null}
      {dlg === 'remove' ? <RemoveAgentDialog target={target} onClose={() => setDlg('')}
        onDone={() => { setDlg(''); onChanged(`The agent of ${target.label} was removed.`); }} /> : null}
    </div>
  );
}

const TUNNEL = 'ssh -N -L 13001:127.0.0.1:3001 user@gpu-host';

function EnrolDialog({ target, rotate, onClose }: { target: Target; rotate: boolean; onClose: (changed: boolean) => void }) {
  const [url, setUrl] = useState(target.agent?.url || defaultAgentUrl(target.url));
  const [source, setSource] = useState<'generate' | 'paste'>('generate');
  const [pasted, setPasted] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const [fieldErr, setFieldErr] = useState<{ url?: string; token?: string }>({});
  const [done, setDone] = useState<Enrolment | null>(null);
  const doneRef = useRef<HTMLDivElement>(null);
  // the submit button went away with the answer: focus the token (or the command) to copy
  useEffect(() => { if (done) doneRef.current?.querySelector<HTMLElement>('input, textarea')?.focus(); }, [done]);

  const submit = async (e: Event) => {
    e.preventDefault();
    if (busy) return;
    setError(''); setFieldErr({});
    const up = agentUrlProblem(url);
    if (up) { setFieldErr({ url: up }); return; }
    const body: { url: string; token?: string } = { url: url.trim() };
    if (source === 'paste') {
      const t = parseAgentToken(pasted);
      if (!t) { setFieldErr({ token: 'Paste the token the agent printed at its first start: dpa_ followed by 64 hex digits.' }); return; }
      body.token = t;
    }
    setBusy(true);
    try {
      const r = await agentApi.enrolAgent(target.id, body);
      setPasted('');
      setDone(r);
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };

  if (done) {
    return (
      <Dialog title={done.token ? `Agent token for ${target.label}` : `Agent stored for ${target.label}`} onClose={() => onClose(true)} wide
        describedBy="enrol-once">
        <div ref={doneRef} class="space-y-4" data-testid="enrol-result">
          {done.token ? (
            <Alert kind="warning" id="enrol-once" title="Copy it now: it is shown only this once">
              DaemonPulse keeps the token encrypted and will not show it again. If you lose it, rotate the token.
              {done.rotated ? ' The old token stopped working here now: set the new one on the host.' : ''}
            </Alert>
          ) : (
            <Alert kind="success" id="enrol-once">The agent’s own token was stored encrypted; it is not shown here.</Alert>
          )}
          {done.token ? <CopyField id="enrol-token" label="Agent token" value={done.token} /> : null}
          <CopyField id="enrol-command" label="Run this on the LM Studio host, as the user that runs LM Studio" value={done.command} multiline />
          <ul class="list-disc space-y-1 pl-5 text-xs text-slate-300" aria-label="Instructions">
            {done.instructions.map((s, i) => <li key={i}>{s}</li>)}
          </ul>
          <div class="flex justify-end">
            <button type="button" class={btn.primary} onClick={() => onClose(true)}>{done.token ? 'I have stored it' : 'Close'}</button>
          </div>
        </div>
      </Dialog>
    );
  }

  const remote = url.trim() !== '' && !isLoopbackUrl(url.trim());
  return (
    <Dialog title={rotate ? `Rotate the agent token of ${target.label}` : `Add agent for ${target.label}`} onClose={() => onClose(false)} wide>
      <form onSubmit={submit} noValidate class="space-y-4">
        {rotate ? (
          <Alert kind="warning">The current token stops working at once: the agent is refused until the new token is set on the
            host (<code class="font-mono">daemonpulse agent set-token</code>, then <code class="font-mono">systemctl reload daemonpulse-agent</code> or a restart).</Alert>
        ) : null}
        <ErrorSlot error={error} />
        <div>
          <label for="ag-url" class={label}>Agent URL</label>
          <input id="ag-url" class={`${input} mt-1 font-mono`} value={url} maxLength={2048} autocomplete="off" inputMode="url"
            spellcheck={false} autocapitalize="off" aria-invalid={fieldErr.url ? 'true' : undefined}
            aria-describedby={['ag-url-hint', fieldErr.url ? 'ag-url-err' : ''].filter(Boolean).join(' ')}
            onInput={(e) => setUrl((e.currentTarget as HTMLInputElement).value)} placeholder="http://127.0.0.1:13001" />
          {fieldErr.url ? <p id="ag-url-err" class="mt-1 text-xs text-red-200">{fieldErr.url}</p> : null}
          <p id="ag-url-hint" class={hint}>
            The agent listens on 127.0.0.1 only and speaks plain HTTP. For a remote host, open an SSH tunnel from this
            control plane host, e.g. <code class="break-all font-mono text-slate-300">{TUNNEL}</code>, and use
            {' '}<code class="font-mono text-slate-300">http://127.0.0.1:13001</code>; or put a TLS proxy in front of it and use its https URL.
          </p>
          {remote ? (
            <p class="mt-1 text-xs text-amber-200" data-testid="remote-warning">This URL is not on this host: without a tunnel or a TLS proxy the
              token crosses the network in clear text (the agent refuses such a bind unless started with --insecure-listen).</p>
          ) : null}
        </div>
        <fieldset class="space-y-2">
          <legend class={label}>Token</legend>
          <label class="flex items-start gap-2 text-sm text-slate-200">
            <input type="radio" name="ag-src" class="mt-1" checked={source === 'generate'} onChange={() => setSource('generate')} />
            <span>Make a new token here (recommended): it is shown once, with the command to run on the host.</span>
          </label>
          <label class="flex items-start gap-2 text-sm text-slate-200">
            <input type="radio" name="ag-src" class="mt-1" checked={source === 'paste'} onChange={() => setSource('paste')} />
            <span>Paste the token the agent printed at its first start.</span>
          </label>
          {source === 'paste' ? (
            <div>
              <label for="ag-token" class={label}>The agent’s token</label>
              <div class="mt-1">
                <PasswordInput id="ag-token" value={pasted} onInput={setPasted} autocomplete="off" invalid={!!fieldErr.token}
                  describedBy={fieldErr.token ? 'ag-token-err' : undefined} />
              </div>
              {fieldErr.token ? <p id="ag-token-err" class="mt-1 text-xs text-red-200">{fieldErr.token}</p> : null}
            </div>
          ) : null}
        </fieldset>
        <div class="flex flex-wrap justify-end gap-2">
          <button type="button" class={btn.secondary} onClick={() => onClose(false)}>Cancel</button>
          <button type="submit" class={btn.primary} aria-disabled={busy ? 'true' : undefined}>
            {busy ? <Spinner /> : null}{rotate ? 'Rotate token' : 'Add agent'}
          </button>
        </div>
      </form>
    </Dialog>
  );
}

function CopyField({ id, label: lbl, value, multiline }: { id: string; label: string; value: string; multiline?: boolean }) {
  const [copied, setCopied] = useState<'' | 'ok' | 'failed'>('');
  const ref = useRef<HTMLInputElement & HTMLTextAreaElement>(null);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(value);
      setCopied('ok');
    } catch {
      ref.current?.select();
      setCopied('failed');
    }
  };
  const sel = (e: Event) => (e.currentTarget as HTMLInputElement).select();
  return (
    <div>
      <label for={id} class={label}>{lbl}</label>
      <div class="mt-1 flex flex-col gap-2 sm:flex-row sm:items-start">
        {multiline ? (
          <textarea ref={ref} id={id} readOnly rows={3} value={value} spellcheck={false} class={`${input} field-sizing-content resize-none break-all font-mono text-xs`} onFocus={sel} />
        ) : (
          <input ref={ref} id={id} readOnly value={value} spellcheck={false} class={`${input} font-mono text-xs`} onFocus={sel} />
        )}
        <button type="button" class={btn.secondary} onClick={copy} aria-label={`Copy: ${lbl}`}>Copy</button>
      </div>
      <p class={hint} aria-live="polite">
        {copied === 'ok' ? 'Copied to the clipboard.' : copied === 'failed' ? 'Copying is not allowed here; the text is selected: press Ctrl+C.' : ''}
      </p>
    </div>
  );
}

function UrlDialog({ target, current, onClose, onDone }: { target: Target; current: string; onClose: () => void; onDone: () => void }) {
  const [url, setUrl] = useState(current);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const submit = async (e: Event) => {
    e.preventDefault();
    if (busy) return;
    const p = agentUrlProblem(url);
    if (p) { setError(p); return; }
    setBusy(true); setError('');
    try {
      await agentApi.moveAgent(target.id, url.trim());
      onDone();
    } catch (err) {
      setError(errorText(err)); setBusy(false);
    }
  };
  return (
    <Dialog title={`Agent URL of ${target.label}`} onClose={onClose}>
      <form onSubmit={submit} noValidate class="space-y-4">
        <ErrorSlot error={error} />
        <div>
          <label for="ag-move-url" class={label}>Agent URL</label>
          <input id="ag-move-url" class={`${input} mt-1 font-mono`} value={url} maxLength={2048} autocomplete="off" inputMode="url"
            spellcheck={false} autocapitalize="off" aria-describedby="ag-move-hint"
            onInput={(e) => setUrl((e.currentTarget as HTMLInputElement).value)} />
          <p id="ag-move-hint" class={hint}>E.g. when the SSH tunnel’s local port changed. The token stays the same.</p>
        </div>
        <div class="flex flex-wrap justify-end gap-2">
          <button type="button" class={btn.secondary} onClick={onClose}>Cancel</button>
          <button type="submit" class={btn.primary} aria-disabled={busy ? 'true' : undefined}>{busy ? <Spinner /> : null}Save URL</button>
        </div>
      </form>
    </Dialog>
  );
}

function RemoveAgentDialog({ target, onClose, onDone }: { target: Target; onClose: () => void; onDone: () => void }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const confirm = async () => {
    setBusy(true); setError('');
    try {
      await agentApi.removeAgent(target.id);
      onDone();
    } catch (e) {
      setError(errorText(e)); setBusy(false);
    }
  };
  return (
    <ConfirmDialog title={`Remove the agent of ${target.label}?`} confirmLabel="Remove agent" busy={busy} error={error}
      onConfirm={confirm} onClose={onClose}
      message={<p>DaemonPulse forgets the agent’s URL and token. Server and daemon start/stop and live GPU figures from that host stop
        working here. The agent on the host keeps running until you stop it there.</p>} />
  );
}
