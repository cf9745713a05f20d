// bench/telemetry.mjs - driver of bench/telemetry.sh (read its header).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { bin, startProc, startControlPlane, Client, ROOT } from '../tests/lib/harness.mjs';

const WINDOW = Number(process.env.WINDOW || 20);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const FAKE = path.join(ROOT, 'build/fake_nvml/full/libnvidia-ml.so.1');
const TICK = 100; // USER_HZ on Linux

function metric(text, name) {
  const m = new RegExp('^' + name + ' ([0-9.e+-]+)$', 'm').exec(text);
  return m ? Number(m[1]) : NaN;
}
function cpuSeconds(pid) {
  const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / TICK; // utime, stime
}

async function sampler(scenario, gpus) {
  const cp = await startControlPlane({
    args: ['--telemetry-interval-ms', '250', '--health-interval-ms', '3600000', '--nvml-library', FAKE,
      '--procfs-root', path.join(ROOT, 'tests/fixtures/proc')],
    env: { DP_ACCESS_LOG: 'off', FAKE_NVML_SCENARIO: path.join(ROOT, 'tests/fake_nvml/scenarios', scenario + '.txt') },
  });
  try {
    const c = new Client(cp.url);
    await c.login('admin', cp.admin.password);
    await sleep(1000);
    const a = (await c.get('/metrics')).text;
    await sleep(8000);
    const b = (await c.get('/metrics')).text;
    const cpu = metric(b, 'daemonpulse_telemetry_sampler_cpu_seconds_total') - metric(a, 'daemonpulse_telemetry_sampler_cpu_seconds_total');
    const n = metric(b, 'daemonpulse_telemetry_sampler_samples_total') - metric(a, 'daemonpulse_telemetry_sampler_samples_total');
    const g = metric(b, 'daemonpulse_telemetry_sampler_gpu_samples_total') - metric(a, 'daemonpulse_telemetry_sampler_gpu_samples_total');
    if (g !== n * gpus) throw new Error(`expected ${gpus} GPUs per sample, got ${g}/${n}`);
    return { samples: n, perSampleUs: (cpu / n) * 1e6, perGpuUs: (cpu / g) * 1e6 };
  } finally { await cp.cleanup(); }
}

async function controlPlane(sim, intervalMs, targets) {
  const cp = await startControlPlane({
    args: ['--telemetry-interval-ms', String(intervalMs), '--health-interval-ms', '3600000', '--nvml-library', 'off',
      '--sysfs-root', path.join(ROOT, 'tests/fixtures/amdgpu/empty')],
    env: { DP_ACCESS_LOG: 'off' },
  });
  try {
    const c = new Client(cp.url);
    await c.login('admin', cp.admin.password);
    const ids = [];
    for (let i = 0; i < targets; i++) {
      const r = await c.post('/api/targets', { label: `sim-${i}`, url: sim.url });
      if (r.status !== 201) throw new Error(r.text);
      ids.push(r.json.target.id);
    }
    // every target has its first simulated sample (telemetry ticks at start)
    const t0 = Date.now();
    for (;;) {
      const m = (await c.get('/metrics')).text;
      const up = (m.match(/daemonpulse_telemetry_up\{[^}]*source="simulated"\} 1/g) || []).length;
      if (up === targets || intervalMs > 10000) break;
      if (Date.now() - t0 > 60000) throw new Error(`only ${up} targets up`);
      await sleep(200);
    }
    const before = (await c.get('/metrics')).text;
    const c0 = cpuSeconds(cp.proc.pid);
    await sleep(WINDOW * 1000);
    const c1 = cpuSeconds(cp.proc.pid);
    const after = (await c.get('/metrics')).text;
    const polled = metric(after, 'daemonpulse_telemetry_samples_total\\{source="simulated"\\}') -
      metric(before, 'daemonpulse_telemetry_samples_total\\{source="simulated"\\}');
    return { cpu: c1 - c0, polled };
  } finally { await cp.cleanup(); }
}

const s8 = await sampler('eight_gpus', 8);
const s2 = await sampler('two_gpus', 2);
console.log('sampler (fake NVML, every field, processes attributed through /proc):');
console.log(`  8 GPUs: ${s8.perSampleUs.toFixed(1)} us CPU per sample, ${s8.perGpuUs.toFixed(1)} us per GPU per sample (${s8.samples} samples)`);
console.log(`  2 GPUs: ${s2.perSampleUs.toFixed(1)} us CPU per sample, ${s2.perGpuUs.toFixed(1)} us per GPU per sample (${s2.samples} samples)`);
console.log(`  ratio per sample 8/2 GPUs: ${(s8.perSampleUs / s2.perSampleUs).toFixed(2)}x`);

const sim = await startProc(bin('llmster-sim'), ['--port', '0', '--speed', '0', '--gpus', 'RTX 4090:24GiB,RTX 4090:24GiB']);
try {
  const on = await controlPlane(sim, 2000, 100);
  const off = await controlPlane(sim, 60000, 100);
  const rounds = on.polled / 100;
  const perRoundMs = ((on.cpu - off.cpu) / rounds) * 1000;
  console.log(`control plane, 100 simulated targets, telemetry every 2 s, ${WINDOW} s window:`);
  console.log(`  polled ${on.polled} target samples (${rounds.toFixed(1)} rounds); CPU ${(on.cpu * 1000).toFixed(0)} ms vs ${(off.cpu * 1000).toFixed(0)} ms baseline (telemetry every 60 s)`);
  console.log(`  => ${perRoundMs.toFixed(1)} ms CPU per 100 targets polled (${(perRoundMs * 10).toFixed(0)} us per target sample), ` +
    `${((on.cpu - off.cpu) / WINDOW * 100).toFixed(2)} % of one core at a 2 s interval`);
} finally { await sim.stop(); }
