// Lifecycle.tsx - the server and daemon lifecycle on a Fleet card, through
// the host agent (docs/agent.md): host info from GET …/agent/info, and for
// operators and admins Start / Stop / Restart server and Daemon up / down,
// each confirmed in a dialog that names the target and what will happen,
// then shows progress and each step's result or the server's error.
// Restart is stop then start (lib/agent.ts). Without an agent the card says
// why nothing is offered and links to Settings → Daemon targets.
import { useEffect, useRef, useState } from 'preact/hooks';
import * as agentApi from '../../api/agent';
import type { AgentInfo } from '../../api/agent';
import type { Target } from '../../api/targets';
import { poll } from '../../api/telemetry';
import { Dialog } from '../../components/Dialog';
import { Link } from '../../components/Link';
import { ProgressBar, Spinner } from '../../components/Spinner';
import { btn, microLabel } from '../../components/ui';
import { OPS, hostInfoLines, runSteps, serverStartBody, stepName, summary, type Op, type StepResult } from '../../lib/agent';
import { sentence } from '../../lib/fleet';
import { errorText } from '../../lib/useLoad';

const GROUPS: { name: string; ops: Op[] }[] = [
  { name: 'Server', ops: ['server-start', 'server-stop', 'server-restart'] },
  { name: 'Daemon', ops: ['daemon-up', 'daemon-down'] },
];

export function LifecycleSection({ target, canAct, admin, headId }: { target: Target; canAct: boolean; admin: boolean; headId: string }) {
  const enrolled = !!target.agent?.enrolled;
  const [op, setOp] = useState<Op | null>(null);
  const [last, setLast] = useState<{ ok: boolean; text: string } | null>(null);
  const sid = `${headId}-life`;
  return (
    <section class="mt-5 rounded-md border border-slate-700 p-3" aria-labelledby={sid} data-testid="lifecycle">
      <h3 id={sid} class={microLabel}>Server and daemon lifecycle</h3>
      {!enrolled ? (
        <p class="mt-1 text-xs text-slate-300" data-testid="lifecycle-no-agent">
          Start, stop and restart need the DaemonPulse agent on this host: LM Studio’s <code class="font-mono">lms server start/stop</code> and
          {' '}<code class="font-mono">lms daemon up/down</code> act only on the machine they run on, and this target has no agent.
          {' '}{admin ? 'Add one in ' : 'An administrator can add one in '}
          <Link href="/settings/targets" class="text-indigo-300 underline">Settings → Daemon targets → Add agent</Link>.
        </p>
      ) : (
        <>
          <HostInfo target={target} />
          {canAct ? (
            <div class="mt-3 flex flex-col gap-2 sm:flex-row sm:flex-wrap sm:gap-x-6">
              {GROUPS.map((g) => (
                <div key={g.name} class="flex flex-wrap items-center gap-2" role="group" aria-label={`${g.name} of ${target.label}`}>
                  <span class="w-14 text-xs text-slate-400 sm:w-auto" aria-hidden="true">{g.name}</span>
                  {g.ops.map((o) => (
                    <button key={o} type="button" class={OPS[o].danger ? btn.smallDanger : btn.small}
                      aria-label={`${OPS[o].button} on ${target.label}`} onClick={() => { setLast(null); setOp(o); }}>{OPS[o].button}</button>
                  ))}
                </div>
              ))}
            </div>
          ) : (
            <p class="mt-2 text-xs text-slate-400">Operators and administrators can start and stop the server and the daemon here.</p>
          )}
          <p class={`mt-2 text-xs empty:hidden ${last ? (last.ok ? 'text-emerald-300' : 'text-red-200') : ''}`} aria-live="polite"
            data-testid="lifecycle-result">{last?.text ?? ''}</p>
        </>
      )}
      {op ? (
        <LifeDialog target={target} op={op} onClose={() => setOp(null)}
          onFinished={(r) => setLast({ ok: r.every((x) => x.ok), text: summary(op, r) })} />
      ) : null}
    </section>
  );
}

function HostInfo({ target }: { target: Target }) {
  const [info, setInfo] = useState<AgentInfo | null>(null);
  const [err, setErr] = useState('');
  useEffect(() => poll((s) => agentApi.getAgentInfo(target.id, s), 30000, {
    onData: (i) => { setInfo(i); setErr(''); },
    onError: (m) => setErr(m),
  }), [target.id, target.agent?.url, target.agent?.updated_at]);
  return (
    <div class="mt-2" data-testid="host-info">
      <p class="break-all text-xs text-slate-400">
        via the agent at <span class="font-mono text-slate-300">{target.agent?.url ?? ''}</span>
      </p>
      {err ? (
        <p class="mt-1 text-xs text-red-200">The agent did not answer: {sentence(err)}</p>
      ) : !info ? (
        <p class="mt-1 text-xs text-slate-400">Reading host info…</p>
      ) : (
        <dl class="mt-1 grid grid-cols-[auto_1fr] gap-x-3 gap-y-0.5 text-xs">
          {hostInfoLines(info).map((l) => (
            <div key={l.label} class="contents">
              <dt class="text-slate-400">{l.label}</dt>
              <dd class="min-w-0 break-words text-slate-200" data-info={l.label}>{l.value}</dd>
            </div>
          ))}
        </dl>
      )}
    </div>
  );
}

function LifeDialog({ target, op, onClose, onFinished }: {
  target: Target; op: Op; onClose: () => void; onFinished: (r: StepResult[]) => void;
}) {
  const spec = OPS[op];
  const [busy, setBusy] = useState(false);
  const [steps, setSteps] = useState<StepResult[]>([]);
  const [done, setDone] = useState<StepResult[] | null>(null);
  const closeRef = useRef<HTMLButtonElement>(null);
  useEffect(() => { if (done) closeRef.current?.focus(); }, [done]);
  const run = async (e: Event) => {
    e.preventDefault();
    if (busy) return;
    setBusy(true); setSteps([]);
    const r = await runSteps(spec.steps,
      (kind, action) => agentApi.lifecycle(target.id, kind, action, kind === 'server' && action === 'start' ? serverStartBody(target.url) : {}),
      errorText, setSteps);
    setBusy(false);
    setDone(r);
    onFinished(r);
  };
  const running = busy ? spec.steps[steps.length] : null;
  const descId = `life-desc-${target.id}`;
  return (
    <Dialog title={spec.title(target.label)} onClose={onClose} describedBy={descId} wide>
      <form onSubmit={run} class="space-y-4">
        <p id={descId} class="text-sm text-slate-300">
          On <span class="font-semibold text-white">{target.label}</span>{' '}
          (<span class="break-all font-mono text-xs">{target.url}</span>), DaemonPulse asks the agent at
          {' '}<span class="break-all font-mono text-xs">{target.agent?.url ?? ''}</span>: it {spec.what}
        </p>
        {running ? <ProgressBar label={`Running ${stepName(running)}`} /> : null}
        {running ? <p class="text-xs text-slate-300" aria-live="polite">Running <code class="font-mono">lms {stepName(running)}</code>…</p> : null}
        {steps.length > 0 ? (
          <ul class="space-y-1 text-sm" data-testid="life-steps">
            {steps.map((s, i) => (
              <li key={i} class="break-words" data-step={`${s.kind}-${s.action}`} data-ok={s.ok ? 'true' : 'false'}>
                <code class="font-mono text-xs text-slate-200">lms {stepName(s)}</code>{' '}
                {s.ok ? <span class="text-emerald-300">done</span> : <span class="text-red-200">{s.message}</span>}
              </li>
            ))}
          </ul>
        ) : null}
        {done ? (
          <div role="status" data-testid="life-result" class={`text-sm ${done.every((x) => x.ok) ? 'text-emerald-300' : 'text-red-200'}`}>
            {summary(op, done)}
          </div>
        ) : null}
        <div class="flex flex-wrap justify-end gap-2">
          {done ? (
            <button ref={closeRef} type="button" class={btn.primary} onClick={onClose}>Close</button>
          ) : (
            <>
              <button type="button" class={btn.secondary} onClick={onClose} data-autofocus>Cancel</button>
              <button type="submit" class={spec.danger ? btn.danger : btn.primary} aria-disabled={busy ? 'true' : undefined}>
                {busy ? <Spinner /> : null}{spec.button}
              </button>
            </>
          )}
        </div>
      </form>
    </Dialog>
  );
}
