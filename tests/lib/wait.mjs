// wait.mjs - bounded polling helpers for the integration tests: waits are
// polls on a condition with a deadline, never sleeps used as synchronisation.
import { readdirSync, readFileSync } from 'node:fs';

/** 3 under the ASan build (everything is slower there), else 1: scales deadlines. */
export const SLOW = process.env.DP_BIN_DIR && /asan/.test(process.env.DP_BIN_DIR) ? 3 : 1;
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Poll `fn` every `stepMs` until it returns something truthy (returned), or throw after `timeoutMs`. */
export async function waitFor(fn, what, timeoutMs = 15000 * SLOW, stepMs = 50) {
  const t0 = Date.now();
  for (;;) {
    const last = await fn();
    if (last) return last;
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(stepMs);
  }
}

/** Repeat `trigger` until `seen()` holds (checked for 300 ms after each trigger): for sources
 * that only emit while something is connected (the simulator's log stream has no backlog). */
export async function until(trigger, seen, what, timeoutMs = 15000 * SLOW) {
  const t0 = Date.now();
  for (;;) {
    await trigger();
    const t1 = Date.now();
    while (Date.now() - t1 < 300) {
      const r = seen();
      if (r) return r;
      await sleep(20);
    }
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
  }
}

/** Children of `pid` from /proc: [{pid, args: [...]}]. */
export function children(pid) {
  const out = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid !== pid) continue;
      const args = readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0').filter(Boolean);
      out.push({ pid: Number(d), args });
    } catch { /* gone */ }
  }
  return out;
}
