// telemetry.test.mjs - live GPU telemetry (docs/api-telemetry.md) against the
// real daemonpulse binary:
//  1. an llmster-sim target: telemetry labelled "simulated", VRAM used rises
//     after a load and falls after the unload, a VRAM alert (threshold 10 %)
//     fires and resolves on /api/events, shows in /api/alerts and /metrics,
//     history columns, a viewer can read, no session gets 401, and the
//     source_down alert when the simulator stops;
//  2. a loopback target with the fake NVML (build/fake_nvml, scenario
//     two_gpus) and the /proc fixture: source "nvml", every field, VRAM split
//     LM Studio (llmster and descendants) / other.
// Timing: 250 ms sampling; waits are bounded polls, never fixed sleeps.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { bin, startProc, startControlPlane, Client, ROOT } from '../lib/harness.mjs';
import { SseClient } from '../lib/sse.mjs';

const SLOW = process.env.DP_BIN_DIR && /asan/.test(process.env.DP_BIN_DIR) ? 3 : 1;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const FAKE_NVML = path.join(ROOT, process.env.DP_FAKE_NVML_DIR || 'build/fake_nvml', 'full/libnvidia-ml.so.1');

async function waitFor(fn, what, timeoutMs = 20000 * SLOW, stepMs = 50) {
  const t0 = Date.now();
  let last;
  for (;;) {
    last = await fn();
    if (last) return last;
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(stepMs);
  }
}

// Minimal EventSource over fetch: collects named events.
class Sse extends SseClient {
  constructor(base, cookie) {
    super(base + '/api/events', { cookie });
  }
}

async function simJson(sim, p, body) {
  const r = await fetch(sim.url + p, body === undefined ? {} : {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
  });
  return { status: r.status, json: await r.json().catch(() => null) };
}

describe('telemetry: simulated source', () => {
  let sim; let cp; let admin; let viewer; let sse; let id;

  before(async () => {
    sim = await startProc(bin('llmster-sim'), ['--port', '0', '--speed', '0', '--gpus', 'RTX 4090:24GiB']);
    cp = await startControlPlane({
      args: ['--telemetry-interval-ms', '250', '--alert-vram-percent', '10', '--nvml-library', 'off',
        '--sysfs-root', path.join(ROOT, 'tests/fixtures/amdgpu/empty')],
    });
    admin = new Client(cp.url);
    await admin.login('admin', cp.admin.password);
    const password = `pw-viewer-${Math.random().toString(36).slice(2)}-0123456789`;
    assert.equal((await admin.post('/api/users', { username: 't-viewer', password, role: 'viewer' })).status, 201);
    viewer = new Client(cp.url);
    await viewer.login('t-viewer', password);
    sse = new Sse(cp.url, viewer.cookie);
    await sse.ready;
    assert.equal(sse.status, 200);
    const r = await admin.post('/api/targets', { label: 'sim-a', url: sim.url });
    assert.equal(r.status, 201, r.text);
    id = r.json.target.id;
  });

  after(async () => {
    sse?.close();
    await cp?.cleanup();
    await sim?.stop();
  });

  it('needs a session', async () => {
    const anon = new Client(cp.url);
    assert.equal((await anon.get(`/api/targets/${id}/telemetry`)).status, 401);
    assert.equal((await anon.get(`/api/targets/${id}/telemetry/history`)).status, 401);
    assert.equal((await anon.get('/api/alerts')).status, 401);
    assert.equal((await viewer.get('/api/targets/9999/telemetry')).status, 404);
    assert.equal((await viewer.get(`/api/targets/${id}/telemetry/history?seconds=0`)).status, 400);
    assert.equal((await viewer.get(`/api/targets/${id}/telemetry/history?seconds=abc`)).status, 400);
  });

  it('labels the simulator as simulated, for a viewer', async () => {
    const t = await waitFor(async () => {
      const r = await viewer.get(`/api/targets/${id}/telemetry`);
      assert.equal(r.status, 200);
      return r.json.available ? r.json : null;
    }, 'first simulated sample');
    assert.equal(t.source, 'simulated');
    assert.equal(t.simulated, true);
    assert.equal(t.reason, null);
    assert.match(t.measured_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.equal(t.gpus.length, 1);
    const g = t.gpus[0];
    assert.equal(g.vendor, 'simulated');
    assert.equal(g.name, 'RTX 4090');
    assert.match(g.uuid, /^GPU-/);
    assert.equal(g.memory.total_bytes, 24 * 2 ** 30);
    assert.equal(g.memory.used_bytes, 0);
    assert.equal(g.memory.reserved_bytes, null); // not measured: never guessed
    assert.equal(g.fan_ratio, null);
    assert.ok(t.ram && t.ram.total_bytes > 0);
    assert.ok(sse.find((e) => e.event === 'gpus' && e.data.target_id === id && e.data.simulated === true));
    const all = await viewer.get('/api/telemetry');
    assert.equal(all.status, 200);
    const mine = all.json.targets.find((x) => x.target_id === id);
    assert.equal(mine.source, 'simulated');
    assert.equal(mine.gpus.length, 1);
    assert.equal((await new Client(cp.url).get('/api/telemetry')).status, 401);
  });

  it('follows a load and an unload, fires and resolves the VRAM alert', async () => {
    const l = await simJson(sim, '/api/v1/models/load', { model: 'qwen/qwen3-8b', context_length: 4096 });
    assert.equal(l.status, 200, JSON.stringify(l.json));
    const t = await waitFor(async () => {
      const r = await viewer.get(`/api/targets/${id}/telemetry`);
      return r.json.gpus[0]?.memory.used_bytes > 4e9 ? r.json : null;
    }, 'VRAM to rise after the load');
    const g = t.gpus[0];
    assert.equal(g.memory.lmstudio_bytes, g.memory.used_bytes);
    // each loaded instance's share (the simulator reports it)
    const inst = await waitFor(async () => {
      const r = await viewer.get(`/api/targets/${id}/telemetry`);
      return r.json.instances?.length === 1 ? r.json.instances : null;
    }, 'the instance share');
    assert.equal(inst[0].id, 'qwen/qwen3-8b');
    assert.equal(inst[0].model, 'qwen/qwen3-8b');
    assert.ok(inst[0].vram_bytes[0] > 4e9 && inst[0].vram_bytes.length === 1);
    assert.equal(g.memory.free_bytes, g.memory.total_bytes - g.memory.used_bytes);

    const fired = await waitFor(() => sse.find((e) => e.event === 'alert' && e.data.action === 'fired' &&
      e.data.alert.kind === 'vram' && e.data.alert.target_id === id), 'a fired vram alert on /api/events');
    assert.equal(fired.data.alert.state, 'firing');
    assert.equal(fired.data.alert.threshold, 0.1);
    assert.equal(fired.data.alert.gpu, 0);
    const al = await viewer.get('/api/alerts');
    assert.equal(al.status, 200);
    assert.ok(al.json.alerts.some((a) => a.kind === 'vram' && a.target === 'sim-a'));
    const tel = await viewer.get(`/api/targets/${id}/telemetry`);
    assert.ok(tel.json.alerts.some((a) => a.kind === 'vram'));

    const m = await viewer.get('/metrics');
    assert.equal(m.status, 200);
    assert.match(m.text, /daemonpulse_alerts_active\{kind="vram"\} 1\n/);
    assert.match(m.text, /daemonpulse_alerts_fired_total\{kind="vram"\} [1-9]/);
    assert.match(m.text, /daemonpulse_gpu_memory_used_bytes\{target="sim-a",gpu="0",uuid="GPU-[^"]+"\} [1-9]\d+/);
    assert.match(m.text, /daemonpulse_gpu_memory_total_bytes\{target="sim-a",gpu="0",uuid="GPU-[^"]+"\} 25769803776\n/);
    assert.match(m.text, /daemonpulse_gpu_info\{target="sim-a",gpu="0",uuid="GPU-[^"]+",name="RTX 4090",vendor="simulated",source="simulated"\} 1/);
    assert.match(m.text, /daemonpulse_telemetry_up\{target="sim-a",source="simulated"\} 1/);

    const h = await viewer.get(`/api/targets/${id}/telemetry/history?seconds=600`);
    assert.equal(h.status, 200);
    assert.equal(h.json.simulated, true);
    assert.ok(h.json.t.length >= 2);
    const col = h.json.gpus[0].used_bytes;
    assert.equal(col.length, h.json.t.length);
    assert.equal(h.json.gpus[0].utilization_ratio.length, h.json.t.length);
    assert.ok(col.includes(0) && col.some((v) => v > 4e9), 'history has before and after the load');
    assert.ok(h.json.t.every((v, i) => i === 0 || v >= h.json.t[i - 1]));

    const u = await simJson(sim, '/api/v1/models/unload', { instance_id: 'qwen/qwen3-8b' });
    assert.equal(u.status, 200, JSON.stringify(u.json));
    await waitFor(async () => {
      const r = await viewer.get(`/api/targets/${id}/telemetry`);
      return r.json.gpus[0]?.memory.used_bytes === 0 && r.json.instances?.length === 0;
    }, 'VRAM to fall after the unload');
    await waitFor(() => sse.find((e) => e.event === 'alert' && e.data.action === 'resolved' &&
      e.data.alert.kind === 'vram'), 'the vram alert resolved');
    const m2 = await viewer.get('/metrics');
    assert.match(m2.text, /daemonpulse_alerts_active\{kind="vram"\} 0\n/);
  });

  it('alerts when the simulator stops answering', async () => {
    await sim.stop();
    sim = null;
    await waitFor(() => sse.find((e) => e.event === 'alert' && e.data.action === 'fired' &&
      e.data.alert.kind === 'source_down' && e.data.alert.target_id === id), 'a source_down alert');
    const t = await viewer.get(`/api/targets/${id}/telemetry`);
    assert.equal(t.json.available, false);
    assert.equal(t.json.reason.code, 'source_down');
    assert.equal(t.json.source, 'simulated'); // still labelled: the last sample is kept
    assert.equal(t.json.gpus.length, 1);
    const m = await viewer.get('/metrics');
    assert.match(m.text, /daemonpulse_alerts_active\{kind="source_down"\} 1\n/);
    assert.match(m.text, /daemonpulse_telemetry_up\{target="sim-a",source="simulated"\} 0/);
  });
});

describe('telemetry: local host through the fake NVML', () => {
  let cp; let admin; let id;

  before(async () => {
    cp = await startControlPlane({
      args: ['--telemetry-interval-ms', '250', '--nvml-library', FAKE_NVML,
        '--procfs-root', path.join(ROOT, 'tests/fixtures/proc')],
      env: { FAKE_NVML_SCENARIO: path.join(ROOT, 'tests/fake_nvml/scenarios/two_gpus.txt') },
    });
    admin = new Client(cp.url);
    await admin.login('admin', cp.admin.password);
    // a loopback target whose daemon is not up: local collectors apply
    const r = await admin.post('/api/targets', { label: 'local', url: 'http://127.0.0.1:9' });
    assert.equal(r.status, 201, r.text);
    id = r.json.target.id;
  });

  after(async () => { await cp?.cleanup(); });

  it('reads NVML off the loop and splits VRAM between LM Studio and others', async () => {
    const t = await waitFor(async () => {
      const r = await admin.get(`/api/targets/${id}/telemetry`);
      return r.json.available ? r.json : null;
    }, 'an NVML sample');
    assert.equal(t.source, 'nvml');
    assert.equal(t.simulated, false);
    assert.equal(t.instances, null); // not measurable per instance through NVML
    assert.equal(t.gpus.length, 2);
    const [g0, g1] = t.gpus;
    assert.equal(g0.name, 'NVIDIA GeForce RTX 4090');
    assert.equal(g0.pci_bus_id, '00000000:01:00.0');
    assert.equal(g0.vendor, 'nvidia');
    assert.equal(g0.memory.reserved_bytes, 335544320);
    assert.equal(g0.memory.used_bytes, 6442450944);
    assert.equal(g0.memory.lmstudio_bytes, 1073741824 + 4294967296); // llmster + its engine child
    assert.equal(g0.memory.other_bytes, 268435456);
    assert.equal(g0.memory.unattributed_bytes, 6442450944 - 1073741824 - 4294967296 - 268435456);
    assert.equal(g0.temperature_c, 71);
    assert.equal(g0.power.watts, 310.5);
    assert.equal(g0.power.limit_watts, 450);
    assert.equal(g0.clocks_mhz.memory, 10501);
    assert.deepEqual(g0.processes.map((p) => [p.pid, p.lmstudio]).sort(), [[1717, false], [4242, true], [4243, true]]);
    assert.equal(g1.memory.lmstudio_bytes, 0);
    assert.equal(g1.memory.other_bytes, 1073741824);
    assert.ok(t.ram.total_bytes === 65799340 * 1024);
    const m = await admin.get('/metrics');
    assert.match(m.text, /daemonpulse_gpu_memory_lmstudio_bytes\{target="local",gpu="0",uuid="GPU-5f3e0c1a-0000-4000-8000-000000000001"\} 5368709120\n/);
    assert.match(m.text, /daemonpulse_gpu_temperature_celsius\{target="local",gpu="1",uuid="[^"]+"\} 40\n/);
    assert.match(m.text, /daemonpulse_telemetry_sampler_gpu_samples_total [1-9]/);
  });

  it('says why a remote target has no telemetry', async () => {
    const r = await admin.post('/api/targets', { label: 'remote', url: 'http://unresolvable.invalid:1234' });
    assert.equal(r.status, 201);
    const t = await waitFor(async () => {
      const x = await admin.get(`/api/targets/${r.json.target.id}/telemetry`);
      return x.json.reason?.code === 'unreachable' ? x.json : null;
    }, 'the unreachable reason');
    assert.equal(t.available, false);
    assert.equal(t.gpus.length, 0);
    assert.ok(t.reason.message.length > 0);
  });
});

describe('telemetry: target edits and deletion while a sample is in flight', () => {
  let simA; let simB; let cp; let admin; let id;

  before(async () => {
    simA = await startProc(bin('llmster-sim'), ['--port', '0', '--speed', '0', '--gpus', 'RTX 4090:24GiB']);
    simB = await startProc(bin('llmster-sim'), ['--port', '0', '--speed', '0', '--gpus', 'RTX 3090:24GiB,RTX 3090:24GiB']);
    cp = await startControlPlane({
      args: ['--telemetry-interval-ms', '1000', '--nvml-library', 'off',
        '--sysfs-root', path.join(ROOT, 'tests/fixtures/amdgpu/empty')],
    });
    admin = new Client(cp.url);
    await admin.login('admin', cp.admin.password);
    const r = await admin.post('/api/targets', { label: 'moving', url: simA.url });
    assert.equal(r.status, 201);
    id = r.json.target.id;
  });

  after(async () => {
    try { simA?.proc.kill('SIGCONT'); } catch { /* gone */ }
    await cp?.cleanup();
    await simA?.stop();
    await simB?.stop();
  });

  it('follows a URL change to another simulator and restarts the history', async () => {
    await waitFor(async () => (await admin.get(`/api/targets/${id}/telemetry`)).json.gpus[0]?.name === 'RTX 4090', 'sim A');
    const p = await admin.patch(`/api/targets/${id}`, { url: simB.url });
    assert.equal(p.status, 200, p.text);
    const t = await waitFor(async () => {
      const r = await admin.get(`/api/targets/${id}/telemetry`);
      return r.json.gpus.length === 2 ? r.json : null;
    }, 'sim B');
    assert.ok(t.gpus.every((g) => g.name === 'RTX 3090'));
    const h = await admin.get(`/api/targets/${id}/telemetry/history?seconds=3600`);
    assert.equal(h.json.gpus.length, 2);
    assert.ok(h.json.gpus.every((g) => g.name === 'RTX 3090'));
  });

  it('forgets a target deleted while its simulator does not answer', async () => {
    const r = await admin.post('/api/targets', { label: 'frozen', url: simA.url });
    assert.equal(r.status, 201);
    const fid = r.json.target.id;
    await waitFor(async () => (await admin.get(`/api/targets/${fid}/telemetry`)).json.available, 'frozen target sampled');
    simA.proc.kill('SIGSTOP'); // requests hang: a sample stays in flight
    await sleep(1500);
    assert.equal((await admin.del(`/api/targets/${fid}`)).status, 204);
    assert.equal((await admin.get(`/api/targets/${fid}/telemetry`)).status, 404);
    await sleep(1200); // a tick after the deletion
    simA.proc.kill('SIGCONT');
    const m = await admin.get('/metrics');
    assert.equal(m.status, 200);
    assert.doesNotMatch(m.text, /target="frozen"/);
    const al = await admin.get('/api/alerts');
    assert.ok(al.json.alerts.every((a) => a.target_id !== fid));
    // the other target is still sampled
    const t = await admin.get(`/api/targets/${id}/telemetry`);
    assert.equal(t.json.available, true);
  });
});

describe('telemetry: local host through amdgpu sysfs', () => {
  let cp; let admin;

  before(async () => {
    cp = await startControlPlane({
      args: ['--telemetry-interval-ms', '250', '--nvml-library', 'off',
        '--sysfs-root', path.join(ROOT, 'tests/fixtures/amdgpu/dgpu'),
        '--procfs-root', path.join(ROOT, 'tests/fixtures/proc')],
    });
    admin = new Client(cp.url);
    await admin.login('admin', cp.admin.password);
  });

  after(async () => { await cp?.cleanup(); });

  it('reads the card and LM Studio\'s VRAM from DRM fdinfo', async () => {
    const r = await admin.post('/api/targets', { label: 'amd', url: 'http://localhost:9' });
    assert.equal(r.status, 201);
    const t = await waitFor(async () => {
      const x = await admin.get(`/api/targets/${r.json.target.id}/telemetry`);
      return x.json.available ? x.json : null;
    }, 'an amdgpu sample');
    assert.equal(t.source, 'amdgpu');
    assert.equal(t.gpus.length, 1); // the NVIDIA card and connector entries are skipped
    const g = t.gpus[0];
    assert.equal(g.vendor, 'amd');
    assert.equal(g.pci_bus_id, '0000:03:00.0');
    assert.equal(g.memory.used_bytes, 8589934592);
    assert.equal(g.memory.lmstudio_bytes, 2 ** 30 + 512 * 2 ** 20); // llmster's fds, child by drm-resident-vram
    assert.equal(g.memory.other_bytes, 8589934592 - 2 ** 30 - 512 * 2 ** 20);
    assert.equal(g.memory.gtt_total_bytes, 33554432000);
    assert.equal(g.temperature_c, 45);
    assert.equal(g.power.watts, 35);
    assert.equal(g.processes, null);
  });
});
