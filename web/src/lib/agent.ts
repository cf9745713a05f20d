// agent.ts - pure logic for the host agent UI: the default agent URL of a
// target, the agent-token shape (for the paste path), the body of a server
// start, what each lifecycle action does (button, confirm text, result
// line), restart as stop-then-start, and host-info lines.
import type { AgentInfo, LifeAction, LifeKind } from '../api/agent';
import { formatBytes } from './fleet';

export const AGENT_PORT = 3001;

/** http://<the target URL's host>:3001, or '' when the URL has no usable host. */
export function defaultAgentUrl(targetUrl: string): string {
  let u: URL;
  try { u = new URL(targetUrl); } catch { return ''; }
  if (!u.hostname) return '';
  return `http://${u.hostname}:${AGENT_PORT}`;
}

/** The host part of an agent URL is loopback (an SSH tunnel's local end or the same host). */
export function isLoopbackUrl(url: string): boolean {
  let u: URL;
  try { u = new URL(url); } catch { return false; }
  const h = u.hostname;
  return h === 'localhost' || /^127\./.test(h) || h === '[::1]' || h === '::1';
}

const TOKEN_RE = /^dpa_[0-9a-f]{64}$/;

/** A pasted agent token, trimmed; null when it is not `dpa_` + 64 lower-case hex digits. */
export function parseAgentToken(s: string): string | null {
  const t = s.trim();
  return TOKEN_RE.test(t) ? t : null;
}

/** Checked before sending; the server validates again. '' when fine. */
export function agentUrlProblem(url: string): string {
  const s = url.trim();
  if (!s) return 'Enter the agent’s URL, e.g. http://127.0.0.1:13001.';
  let u: URL;
  try { u = new URL(s); } catch { return 'This is not a URL: use http://host:port.'; }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return 'The agent URL starts with http:// or https://.';
  if (u.username || u.password) return 'No user name or password in the agent URL.';
  return '';
}

/** Server start answers on the port DaemonPulse watches: the target URL's port. */
export function serverStartBody(targetUrl: string): { port?: number } {
  let u: URL;
  try { u = new URL(targetUrl); } catch { return {}; }
  const p = u.port ? Number(u.port) : u.protocol === 'https:' ? 443 : 80;
  return p > 0 && p < 65536 ? { port: p } : {};
}

export type Op = 'server-start' | 'server-stop' | 'server-restart' | 'daemon-up' | 'daemon-down';

export interface OpSpec {
  op: Op;
  button: string;
  title: (label: string) => string;
  what: string;
  danger: boolean;
  steps: { kind: LifeKind; action: LifeAction }[];
}

export const OPS: Record<Op, OpSpec> = {
  'server-start': {
    op: 'server-start', button: 'Start server', title: (l) => `Start the server on ${l}?`, danger: false,
    what: 'runs lms server start on that host: LM Studio’s API server starts listening on the target’s port.',
    steps: [{ kind: 'server', action: 'start' }],
  },
  'server-stop': {
    op: 'server-stop', button: 'Stop server', title: (l) => `Stop the server on ${l}?`, danger: true,
    what: 'runs lms server stop on that host: LM Studio’s API server stops answering; requests running now are cut off. Loaded models stay loaded.',
    steps: [{ kind: 'server', action: 'stop' }],
  },
  'server-restart': {
    op: 'server-restart', button: 'Restart server', title: (l) => `Restart the server on ${l}?`, danger: true,
    what: 'runs lms server stop, then lms server start on that host: requests running now are cut off and the server is briefly unavailable.',
    steps: [{ kind: 'server', action: 'stop' }, { kind: 'server', action: 'start' }],
  },
  'daemon-up': {
    op: 'daemon-up', button: 'Daemon up', title: (l) => `Start the daemon on ${l}?`, danger: false,
    what: 'runs lms daemon up on that host: the LM Studio daemon (llmster) starts as a child of the agent.',
    steps: [{ kind: 'daemon', action: 'up' }],
  },
  'daemon-down': {
    op: 'daemon-down', button: 'Daemon down', title: (l) => `Stop the daemon on ${l}?`, danger: true,
    what: 'runs lms daemon down on that host: the LM Studio daemon exits, every model is unloaded and its server stops.',
    steps: [{ kind: 'daemon', action: 'down' }],
  },
};

export interface StepResult { kind: LifeKind; action: LifeAction; ok: boolean; message: string }

export function stepName(s: { kind: LifeKind; action: LifeAction }): string {
  return `${s.kind} ${s.action}`;
}

/**
 * Runs the steps in order and stops at the first failure (a restart whose
 * stop failed does not start: the stop's error says why). Steps after a
 * failure are reported as skipped.
 */
export async function runSteps(
  steps: { kind: LifeKind; action: LifeAction }[],
  call: (kind: LifeKind, action: LifeAction) => Promise<unknown>,
  errText: (e: unknown) => string,
  onStep?: (done: StepResult[]) => void,
): Promise<StepResult[]> {
  const out: StepResult[] = [];
  let failed = false;
  for (const s of steps) {
    if (failed) { out.push({ ...s, ok: false, message: 'skipped: the step before failed' }); continue; }
    try {
      await call(s.kind, s.action);
      out.push({ ...s, ok: true, message: 'done' });
    } catch (e) {
      failed = true;
      out.push({ ...s, ok: false, message: errText(e) });
    }
    onStep?.([...out]);
  }
  return out;
}

/** One sentence for a finished operation. */
export function summary(op: Op, results: StepResult[]): string {
  const ok = results.length > 0 && results.every((r) => r.ok);
  const verb: Record<Op, string> = {
    'server-start': 'The server was started', 'server-stop': 'The server was stopped',
    'server-restart': 'The server was restarted', 'daemon-up': 'The daemon was started', 'daemon-down': 'The daemon was stopped',
  };
  if (ok) return `${verb[op]}.`;
  const failed = results.find((r) => !r.ok);
  return failed ? `${stepName(failed)} failed: ${failed.message}` : 'Nothing was done.';
}

export interface InfoLine { label: string; value: string }

/** Host name, OS, CPU, RAM from GET …/agent/info; missing values are "not reported". */
export function hostInfoLines(i: AgentInfo): InfoLine[] {
  const nr = 'not reported';
  const os = i.os ? (i.os.pretty_name || [i.os.name, i.os.release].filter(Boolean).join(' ')) : '';
  const osLine = os ? `${os}${i.os?.machine ? ` (${i.os.machine})` : ''}` : nr;
  const cpuParts = [i.cpu?.model ?? '', typeof i.cpu?.logical_cpus === 'number' ? `${i.cpu.logical_cpus} logical CPUs` : ''].filter(Boolean);
  const total = i.ram?.total_bytes, used = i.ram?.used_bytes;
  const ram = typeof total === 'number' && total > 0
    ? (typeof used === 'number' ? `${formatBytes(used)} used of ${formatBytes(total)}` : `${formatBytes(total)} installed`)
    : nr;
  const lines: InfoLine[] = [
    { label: 'Host', value: i.hostname || nr },
    { label: 'OS', value: osLine },
    { label: 'CPU', value: cpuParts.length ? cpuParts.join(' · ') : nr },
    { label: 'RAM', value: ram },
  ];
  if (i.lms && i.lms.available === false) lines.push({ label: 'lms', value: `not available${i.lms.reason ? `: ${i.lms.reason}` : ''}` });
  if (i.agent_version) lines.push({ label: 'Agent', value: `${i.agent_version}${i.transport ? ` over ${i.transport}` : ''}` });
  return lines;
}
