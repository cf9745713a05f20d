// forge.test.mjs - The Forge's server side (docs/api-forge.md) against the
// real daemonpulse binary, llmster-sim and build/lms as LMS_BIN: pre-flight
// estimate, load through REST and through lms with the requested config
// visible in the models view, too big -> refused with the per-GPU numbers,
// admin override, eject one, unload all, download to completion (one
// upstream status poll per job however many viewers), Live-mode refusal,
// viewer refused, audit rows.
//
// The main simulator runs at --speed 0; the download simulator at --speed 10
// so a download lasts a couple of seconds and is polled more than once.
// Waits are bounded polls or events, never fixed sleeps.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { bin, startProc, startControlPlane, Client } from '../lib/harness.mjs';
import { SseClient } from '../lib/sse.mjs';

const INTERVAL = 300;
const SLOW = process.env.DP_BIN_DIR && /asan/.test(process.env.DP_BIN_DIR) ? 3 : 1;
const GIB = 1024 ** 3;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitFor(fn, what, timeoutMs = 20000 * SLOW, stepMs = 50) {
  const t0 = Date.now();
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(stepMs);
  }
}

// A small EventSource over fetch (as in targets.test.mjs).
class Sse extends SseClient {
  constructor(base, cookie) {
    super(base + '/api/events', { cookie, timeoutMs: 20000 * SLOW });
  }
}

describe('the forge', { timeout: 300000 }, () => {
  let cp; let admin; let operator; let viewer; let sim; let simDl; let sse;
  let id; let idDl;

  const models = async (c, tid = id) => {
    const r = await c.get(`/api/targets/${tid}/models`);
    assert.equal(r.status, 200, r.text);
    return r.json.models;
  };
  const instance = async (iid, tid = id) => {
    for (const m of await models(admin, tid)) for (const i of m.loaded_instances) if (i.id === iid) return { model: m, inst: i };
    return null;
  };

  before(async () => {
    sim = await startProc(bin('llmster-sim'), ['--port', '0', '--speed', '0', '--ram', '128GiB']);
    simDl = await startProc(bin('llmster-sim'), ['--port', '0', '--speed', '10']);
    cp = await startControlPlane({ args: ['--health-interval-ms', String(INTERVAL)], env: { LMS_BIN: bin('lms') } });
    admin = new Client(cp.url);
    await admin.login('admin', cp.admin.password);
    for (const role of ['viewer', 'operator']) {
      const password = `pw-${role}-${Math.random().toString(36).slice(2)}-0123456789`;
      assert.equal((await admin.post('/api/users', { username: `f-${role}`, password, role })).status, 201);
      const c = new Client(cp.url);
      await c.login(`f-${role}`, password);
      if (role === 'viewer') viewer = c; else operator = c;
    }
    let r = await admin.post('/api/targets', { label: 'forge-sim', url: sim.url });
    assert.equal(r.status, 201, r.text);
    id = r.json.target.id;
    r = await admin.post('/api/targets', { label: 'forge-dl', url: simDl.url });
    assert.equal(r.status, 201, r.text);
    idDl = r.json.target.id;
    sse = new Sse(cp.url, operator.cookie);
    await sse.ready;
    assert.equal(sse.status, 200);
  });

  after(async () => {
    sse?.close();
    await cp?.cleanup();
    await sim?.stop();
    await simDl?.stop();
  });

  it('estimates a load: per-GPU numbers, breakdown, LM Studio figure and the difference', async () => {
    const r = await operator.post(`/api/targets/${id}/models/estimate`, { model: 'qwen/qwen3-8b', context_length: 8192 });
    assert.equal(r.status, 200, r.text);
    const e = r.json;
    assert.equal(e.target_id, id);
    assert.equal(e.model, 'qwen/qwen3-8b');
    assert.equal(e.gpus.length, 1);
    assert.equal(e.gpus[0].name, 'RTX 4090');
    assert.equal(e.gpus[0].total_bytes, 24 * GIB);
    assert.equal(e.gpus[0].used_before, 0);
    assert.equal(e.gpus[0].used_after, e.gpus[0].used_before + e.gpus[0].load_bytes);
    assert.equal(e.gpus[0].fits, true);
    assert.equal(e.fits, true);
    assert.equal(e.reason, null);
    // Qwen3 8B: 36 layers x 8 KV heads x 128 x 2 x 2 bytes x 8192 x 4 slots (default parallel)
    assert.equal(e.breakdown.kv_cache, 36 * 8 * 128 * 4 * 8192 * 4);
    assert.equal(e.breakdown.weights, 5027784224);
    assert.equal(e.basis.kv, 'layers');
    assert.equal(e.confidence, 'medium');
    assert.equal(e.config.parallel, 4);
    assert.ok(e.notes.some((n) => /parallel not given/.test(n)));
    assert.equal(e.lmstudio.available, true, JSON.stringify(e.lmstudio));
    assert.equal(typeof e.lmstudio.gpu_bytes, 'number');
    assert.ok(e.lmstudio.gpu_bytes > 0);
    assert.equal(typeof e.difference_explained, 'string');
    assert.match(e.difference_explained, /LM Studio/);
  });

  let restId;
  it('loads through REST with exactly the requested config, announced on /api/events', async () => {
    const r = await operator.post(`/api/targets/${id}/models/load`,
      { model: 'qwen/qwen3-8b', context_length: 8192, flash_attention: true, eval_batch_size: 256 });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.path, 'rest');
    assert.equal(r.json.model, 'qwen/qwen3-8b');
    assert.ok(r.json.instance_id);
    restId = r.json.instance_id;
    assert.equal(r.json.load_config.context_length, 8192);
    assert.equal(r.json.load_config.eval_batch_size, 256);
    assert.equal(r.json.load_config.flash_attention, true);
    assert.equal(typeof r.json.load_time_seconds, 'number');
    assert.equal(r.json.requested.context_length, 8192);
    assert.equal(r.json.estimate.fits, true);
    assert.equal(r.json.instance.id, restId);
    const ev = await sse.next((e) => e.event === 'load' && e.data.instance_id === restId, 'the load event');
    assert.equal(ev.data.result, 'ok');
    assert.equal(ev.data.path, 'rest');
    assert.equal(ev.data.by, 'f-operator');
    const started = sse.events.findIndex((e) => e.event === 'load' && e.data.result === 'started' && e.data.model === 'qwen/qwen3-8b');
    assert.ok(started >= 0 && started < sse.events.indexOf(ev), 'a started event comes first');
    const found = await waitFor(() => instance(restId), 'the instance in the models view');
    assert.equal(found.inst.config.context_length, 8192);
    assert.equal(found.inst.config.eval_batch_size, 256);
    assert.equal(found.inst.config.flash_attention, true);
  });

  it('loads through lms for gpu, parallel, ttl and identifier; JIT/TTL facts', async () => {
    const r = await operator.post(`/api/targets/${id}/models/load`,
      { model: 'meta/llama-3.2-3b', context_length: 4096, parallel: 2, ttl: 600, identifier: 'llama-small', gpu: 'max' });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.path, 'lms');
    assert.equal(r.json.instance_id, 'llama-small');
    assert.equal(r.json.load_config, null);
    const found = await waitFor(async () => {
      const f = await instance('llama-small');
      return f && f.inst.parallel === 2 ? f : null;
    }, 'the lms-loaded instance with lms ps data');
    assert.equal(found.inst.config.context_length, 4096);
    assert.equal(found.inst.ttl_ms, 600000);
    // the models view carries the same JIT/TTL facts, so the Forge needs one request
    assert.equal(found.inst.loaded_by, 'daemonpulse');
    assert.equal(found.inst.jit, false);
    assert.ok(found.inst.ttl_remaining_ms > 0 && found.inst.ttl_remaining_ms <= 600000, String(found.inst.ttl_remaining_ms));
    const facts = await viewer.get(`/api/targets/${id}/models/facts`);
    assert.equal(facts.status, 200, facts.text);
    assert.equal(facts.json.jit.enabled, null);
    const small = facts.json.instances.find((i) => i.instance_id === 'llama-small');
    assert.equal(small.loaded_by, 'daemonpulse');
    assert.equal(small.via, 'lms');
    assert.equal(small.by, 'f-operator');
    assert.equal(small.jit, false);
    assert.equal(small.ttl_ms, 600000);
    assert.ok(small.ttl_remaining_ms > 0 && small.ttl_remaining_ms <= 600000);
    assert.equal(facts.json.last_loads['meta/llama-3.2-3b'].config.context_length, 4096);
    assert.equal(facts.json.last_loads['meta/llama-3.2-3b'].config.identifier, 'llama-small');
    assert.equal(facts.json.last_loads['qwen/qwen3-8b'].config.eval_batch_size, 256);
    assert.equal(facts.json.last_loads['qwen/qwen3-8b'].by, 'f-operator');
    // the estimate now counts what is loaded
    const e = await operator.post(`/api/targets/${id}/models/estimate`, { model: 'qwen/qwen3-1.7b', context_length: 2048 });
    assert.equal(e.status, 404, 'not downloaded yet: not in the models list');
    const e2 = await operator.post(`/api/targets/${id}/models/estimate`, { model: 'ibm/granite-4-micro', context_length: 2048 });
    assert.equal(e2.status, 200, e2.text);
    assert.ok(e2.json.gpus[0].used_before > 5 * GIB, 'loaded instances count as used');
    assert.equal(e2.json.basis.kv, 'approximation');
    assert.equal(e2.json.confidence, 'low');
  });

  it('loads through lms without an identifier and reports the new instance id', async () => {
    // regression: the id was read from a freed array (500 "could not build the response")
    const r = await operator.post(`/api/targets/${id}/models/load`, { model: 'meta/llama-3.2-3b', ttl: 600 });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.path, 'lms');
    assert.ok(typeof r.json.instance_id === 'string' && r.json.instance_id.length > 0, r.text);
    const u = await operator.post(`/api/targets/${id}/models/unload`, { instance_id: r.json.instance_id });
    assert.equal(u.status, 200, u.text);
  });

  it('refuses a load that will not fit with the per-GPU numbers; only an admin overrides', async () => {
    const body = { model: 'google/gemma-3-12b', context_length: 32768 };
    const r = await operator.post(`/api/targets/${id}/models/load`, body);
    assert.equal(r.status, 409, r.text);
    assert.equal(r.json.error.code, 'will_not_fit');
    assert.match(r.json.error.message, /GPU 0 \(RTX 4090\) would need .* of 24\.0 GiB/);
    assert.equal(r.json.estimate.fits, false);
    assert.equal(r.json.estimate.gpus[0].fits, false);
    assert.ok(r.json.estimate.gpus[0].used_after > r.json.estimate.gpus[0].total_bytes);
    const o = await operator.post(`/api/targets/${id}/models/load`, { ...body, override: true });
    assert.equal(o.status, 403, o.text);
    assert.equal(o.json.error.code, 'forbidden');
    // an admin may try anyway: LM Studio (the simulator) decides
    const a = await admin.post(`/api/targets/${id}/models/load`, { ...body, override: true });
    assert.ok(a.status === 200 || (a.status === 502 && a.json.error.code === 'load_failed'), a.text);
    assert.equal(a.json.override ?? true, true);
    if (a.status === 200) assert.ok(await waitFor(() => instance(a.json.instance_id), 'the overridden instance'));
    // past what the daemon can hold at all: LM Studio's own refusal comes back as load_failed
    const x = await admin.post(`/api/targets/${id}/models/load`, { model: 'google/gemma-3-12b', context_length: 131072, override: true });
    assert.equal(x.status, 502, x.text);
    assert.equal(x.json.error.code, 'load_failed');
    assert.match(x.json.error.message, /insufficient system resources/);
    await sse.next((e) => e.event === 'load' && e.data.result === 'failed' && e.data.error.code === 'load_failed', 'the failed load event');
  });

  it('checks bounds and fields with clear 400s; unknown model 404', async () => {
    const cases = [
      [{ model: 'qwen/qwen3-8b', context_length: 50000 }, 400, 'invalid_context_length', /above the model's maximum 40960/],
      [{ model: 'qwen2.5-7b-instruct-mlx', flash_attention: true }, 400, 'not_applicable', /mlx/],
      [{ model: 'qwen/qwen3-8b', flash_attention: true, ttl: 60 }, 400, 'conflicting_fields', /flash_attention/],
      [{ model: 'qwen/qwen3-8b', parallel: 0 }, 400, 'invalid_parallel', /1 to 256/],
      [{ model: 'qwen/qwen3-8b', gpu: 2 }, 400, 'invalid_gpu', /0 to 1/],
      [{ model: 'qwen/qwen3-8b', identifer: 'x' }, 400, 'bad_request', /unknown field/],
      [{ context_length: 4096 }, 400, 'invalid_model', /required/],
      [{ model: 'no/such-model' }, 404, 'model_not_found', /no\/such-model/],
      [{ model: 'qwen/qwen3-8b', preset: 'missing' }, 400, 'unknown_preset', /missing/],
    ];
    for (const [body, status, code, msg] of cases) {
      const r = await operator.post(`/api/targets/${id}/models/load`, body);
      assert.equal(r.status, status, `${JSON.stringify(body)}: ${r.text}`);
      assert.equal(r.json.error.code, code, JSON.stringify(body));
      assert.match(r.json.error.message, msg);
    }
    assert.equal((await operator.post('/api/targets/999999/models/load', { model: 'x' })).status, 404);
  });

  it('refuses viewers; viewers read downloads and facts', async () => {
    for (const [p, b] of [['models/load', { model: 'qwen/qwen3-8b' }], ['models/estimate', { model: 'qwen/qwen3-8b' }],
      ['models/download', { model: 'qwen/qwen3-1.7b' }], ['models/unload', { all: true }]]) {
      const r = await viewer.post(`/api/targets/${id}/${p}`, b);
      assert.equal(r.status, 403, `${p}: ${r.text}`);
    }
    assert.equal((await viewer.get(`/api/targets/${id}/downloads`)).status, 200);
    assert.equal((await viewer.get(`/api/targets/${id}/downloads/job_nope`)).status, 404);
  });

  it('ejects one instance, then unloads all (one request each)', async () => {
    let r = await operator.post(`/api/targets/${id}/models/unload`, { instance_id: 'llama-small' });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.unloaded, 1);
    await waitFor(async () => !(await instance('llama-small')), 'llama-small gone');
    assert.ok(await instance(restId), 'the other instance stays');
    r = await operator.post(`/api/targets/${id}/models/unload`, { all: true });
    assert.equal(r.status, 200, r.text);
    assert.ok(r.json.requested >= 1);
    assert.equal(r.json.failed, 0);
    await waitFor(async () => (await models(admin)).every((m) => m.loaded_instances.length === 0), 'nothing loaded');
  });

  it('downloads to completion with progress events and one status poll per job', async () => {
    const r = await operator.post(`/api/targets/${idDl}/models/download`, { model: 'qwen/qwen3-1.7b' });
    assert.ok(r.status === 202 || r.status === 200, r.text);
    const job = r.json.job;
    assert.equal(job.model, 'qwen/qwen3-1.7b');
    assert.ok(job.job_id, r.text);
    const t0 = Date.now();
    // several viewers watch the job at once
    let stop = false;
    const watchers = [viewer, operator, admin].map(async (c) => {
      while (!stop) {
        const g = await c.get(`/api/targets/${idDl}/downloads/${job.job_id}`);
        assert.equal(g.status, 200, g.text);
        await sleep(30);
      }
    });
    const done = await sse.next((e) => e.event === 'download' && e.data.job.job_id === job.job_id &&
      e.data.job.status === 'completed', 'the completed download event', 60000 * SLOW);
    stop = true;
    await Promise.all(watchers);
    const elapsed = Date.now() - t0;
    assert.equal(done.data.target_id, idDl);
    assert.equal(done.data.job.downloaded_bytes, done.data.job.total_size_bytes);
    const evs = sse.events.filter((e) => e.event === 'download' && e.data.job.job_id === job.job_id);
    for (let i = 1; i < evs.length; i++) assert.ok(evs[i].data.job.downloaded_bytes >= evs[i - 1].data.job.downloaded_bytes);
    // the simulator's own request log: status polls for this job
    const logs = await (await fetch(`${simDl.url}/__sim/logs?since=0`)).json();
    const polls = logs.events.filter((e) => e.data.type === 'server.log' &&
      String(e.data.content).includes(`/api/v1/models/download/status/${job.job_id}`)).length;
    assert.ok(polls >= 1, 'polled at least once');
    assert.ok(polls <= Math.ceil(elapsed / 1000) + 2, `${polls} polls in ${elapsed} ms: more than one per second`);
    // completion makes the model appear
    await waitFor(async () => (await models(admin, idDl)).some((m) => m.key === 'qwen/qwen3-1.7b'), 'the downloaded model listed');
    const list = await viewer.get(`/api/targets/${idDl}/downloads`);
    assert.equal(list.json.jobs[0].job_id, job.job_id);
    assert.equal(list.json.jobs[0].status, 'completed');
    // already there: no job
    const again = await operator.post(`/api/targets/${idDl}/models/download`, { model: 'qwen/qwen3-1.7b' });
    assert.equal(again.status, 200, again.text);
    assert.equal(again.json.job.status, 'already_downloaded');
    const bad = await operator.post(`/api/targets/${idDl}/models/download`, { model: 'x', quantization: 'Q4 K' });
    assert.equal(bad.status, 400);
  });

  it('in Live mode refuses anything but a saved preset, with 403 and a message', async () => {
    let r = await admin.put('/api/settings', {
      mode: 'live',
      load_presets: [{ name: 'small', model: 'meta/llama-3.2-3b', context_length: 2048 }],
    });
    assert.equal(r.status, 200, r.text);
    try {
      r = await operator.post(`/api/targets/${id}/models/load`, { model: 'qwen/qwen3-8b', context_length: 4096 });
      assert.equal(r.status, 403, r.text);
      assert.equal(r.json.error.code, 'live_mode');
      assert.match(r.json.error.message, /live mode/);
      r = await operator.post(`/api/targets/${id}/models/load`, { preset: 'small', context_length: 4096 });
      assert.equal(r.status, 403, r.text);
      assert.match(r.json.error.message, /context_length differs from preset "small"/);
      r = await admin.post(`/api/targets/${id}/models/load`, { preset: 'small', model: 'qwen/qwen3-8b' });
      assert.equal(r.status, 403, 'admins too');
      // estimates are not restricted
      r = await operator.post(`/api/targets/${id}/models/estimate`, { model: 'qwen/qwen3-8b', context_length: 4096 });
      assert.equal(r.status, 200, r.text);
      r = await operator.post(`/api/targets/${id}/models/load`, { preset: 'small' });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.model, 'meta/llama-3.2-3b');
      assert.equal(r.json.load_config.context_length, 2048);
    } finally {
      assert.equal((await admin.put('/api/settings', { mode: 'dev' })).status, 200);
    }
  });

  it('audits every load, refusal, download and unload', async () => {
    const r = await admin.get('/api/audit?action=model.&limit=200');
    assert.equal(r.status, 200, r.text);
    const es = r.json.entries;
    const loads = es.filter((e) => e.action === 'model.load');
    assert.ok(loads.some((e) => e.result === 'ok' && e.detail.path === 'rest' && e.detail.requested.eval_batch_size === 256 &&
      e.username === 'f-operator' && e.target === `target:${id}`));
    assert.ok(loads.some((e) => e.result === 'ok' && e.detail.path === 'lms' && e.detail.instance_id === 'llama-small'));
    assert.ok(loads.some((e) => e.result === 'denied' && e.detail.error.code === 'will_not_fit'));
    assert.ok(loads.some((e) => e.result === 'denied' && e.detail.error.code === 'live_mode'));
    assert.ok(loads.some((e) => e.result === 'failed' && e.detail.error.code === 'load_failed' && e.username === 'admin' &&
      e.detail.override === true));
    assert.ok(es.some((e) => e.action === 'model.download' && e.result === 'ok' && e.detail.model === 'qwen/qwen3-1.7b'));
    assert.ok(es.some((e) => e.action === 'model.download.done' && e.result === 'ok' && e.detail.status === 'completed'));
    assert.ok(!es.some((e) => e.action === 'model.download.done' && e.result !== 'ok'), 'no download failed here');
    assert.ok(es.some((e) => e.action === 'model.unload'));
  });
});

describe('the forge with two GPUs, and without the lms bridge', { timeout: 300000 }, () => {
  let cp; let cpNoLms; let sim; let admin; let admin2; let id; let id2;

  before(async () => {
    sim = await startProc(bin('llmster-sim'), ['--port', '0', '--speed', '0', '--gpus', 'RTX 3090:24GiB,RTX 3060:12GiB']);
    cp = await startControlPlane({ args: ['--health-interval-ms', String(INTERVAL)], env: { LMS_BIN: bin('lms') } });
    cpNoLms = await startControlPlane({ args: ['--health-interval-ms', String(INTERVAL)], env: { LMS_BIN: '/nonexistent/lms' } });
    admin = new Client(cp.url);
    await admin.login('admin', cp.admin.password);
    admin2 = new Client(cpNoLms.url);
    await admin2.login('admin', cpNoLms.admin.password);
    id = (await admin.post('/api/targets', { label: 'two-gpus', url: sim.url })).json.target.id;
    id2 = (await admin2.post('/api/targets', { label: 'no-lms', url: sim.url })).json.target.id;
  });

  after(async () => {
    await cp?.cleanup();
    await cpNoLms?.cleanup();
    await sim?.stop();
  });

  it('splits a load over two GPUs by free memory', async () => {
    const r = await admin.post(`/api/targets/${id}/models/estimate`, { model: 'qwen/qwen3-30b-a3b', context_length: 16384 });
    assert.equal(r.status, 200, r.text);
    const e = r.json;
    assert.deepEqual(e.gpus.map((g) => g.name), ['RTX 3090', 'RTX 3060']);
    assert.deepEqual(e.gpus.map((g) => g.total_bytes), [24 * GIB, 12 * GIB]);
    assert.equal(e.gpus[0].load_bytes + e.gpus[1].load_bytes, e.breakdown.gpu_total);
    // nothing loaded: 2/3 of the shared part on the 24 GiB card, 1/3 on the 12 GiB one
    const shared = e.breakdown.weights_gpu + e.breakdown.kv_cache_gpu;
    const per = e.breakdown.overhead / 2;
    assert.ok(Math.abs(e.gpus[0].load_bytes - per - (shared * 2) / 3) < 1024);
    assert.equal(e.basis.source, 'Qwen/Qwen3-30B-A3B config.json');
    assert.equal(e.breakdown.kv_cache, 48 * 4 * 128 * 4 * 16384 * 4);
  });

  it('without the bridge: no GPU data, fits unknown, LM Studio figure unavailable; CLI-only loads refused', async () => {
    const r = await admin2.post(`/api/targets/${id2}/models/estimate`, { model: 'qwen/qwen3-8b', context_length: 4096 });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json.gpus, []);
    assert.equal(r.json.fits, null);
    assert.match(r.json.reason, /not known/);
    assert.equal(r.json.confidence, 'low');
    assert.equal(r.json.lmstudio.available, false);
    assert.match(r.json.lmstudio.reason, /lms/);
    const l = await admin2.post(`/api/targets/${id2}/models/load`, { model: 'qwen/qwen3-8b', ttl: 60 });
    assert.equal(l.status, 503, l.text);
    assert.equal(l.json.error.code, 'lms_unavailable');
    // REST needs no bridge: the load goes ahead (fit unknown is not a refusal)
    const ok = await admin2.post(`/api/targets/${id2}/models/load`, { model: 'meta/llama-3.2-3b', context_length: 2048 });
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.json.path, 'rest');
    const f = await admin2.get(`/api/targets/${id2}/models/facts`);
    assert.equal(f.status, 200, f.text);
    assert.equal(f.json.lms.available, false);
    const inst = f.json.instances.find((i) => i.instance_id === ok.json.instance_id);
    assert.equal(inst.loaded_by, 'daemonpulse');
    assert.equal(inst.ttl_ms, null);
    assert.equal(inst.ttl_remaining_ms, null);
  });
});

describe('two loads on one target at once', { timeout: 120000 }, () => {
  let cp; let sim; let admin; let id;

  before(async () => {
    // loads take about 2 s at --speed 1: long enough for both requests to overlap
    sim = await startProc(bin('llmster-sim'), ['--port', '0', '--speed', '1', '--gpus', 'RTX 3060:12GiB', '--ram', '64GiB']);
    cp = await startControlPlane({ args: ['--health-interval-ms', String(INTERVAL)], env: { LMS_BIN: bin('lms') } });
    admin = new Client(cp.url);
    await admin.login('admin', cp.admin.password);
    id = (await admin.post('/api/targets', { label: 'one-3060', url: sim.url })).json.target.id;
  });

  after(async () => {
    await cp?.cleanup();
    await sim?.stop();
  });

  it('run one after the other: the second pre-flight sees the first one loaded', async () => {
    // 7.5 GiB + 5.5 GiB on a 12 GiB GPU: each fits alone, not both
    const a = { model: 'qwen/qwen3-8b', context_length: 4096 };
    const b = { model: 'meta/llama-3.2-3b', context_length: 4096 };
    for (const m of [a, b]) {
      const e = await admin.post(`/api/targets/${id}/models/estimate`, m);
      assert.equal(e.status, 200, e.text);
      assert.equal(e.json.fits, true, `${m.model} alone fits`);
    }
    const sse = new Sse(cp.url, admin.cookie);
    await sse.next((e) => e.event === 'snapshot', 'the snapshot');
    const [ra, rb] = await Promise.all([admin.post(`/api/targets/${id}/models/load`, a),
      admin.post(`/api/targets/${id}/models/load`, b)]);
    // the one that waited said so (the Forge shows it waiting), and that it ended without loading
    const loadEvents = () => sse.events.filter((e) => e.event === 'load').map((e) => e.data);
    await sse.next((e) => e.event === 'load' && e.data.result === 'ended', 'the end of the waiting load');
    const queued = loadEvents().filter((d) => d.result === 'queued');
    assert.equal(queued.length, 1, JSON.stringify(loadEvents()));
    assert.deepEqual(loadEvents().filter((d) => d.model === queued[0].model).map((d) => d.result), ['queued', 'ended']);
    sse.close();
    const ok = [ra, rb].filter((r) => r.status === 200);
    const refused = [ra, rb].filter((r) => r.status === 409);
    assert.equal(ok.length, 1, `${ra.status} ${ra.text} / ${rb.status} ${rb.text}`);
    assert.equal(refused.length, 1, `${ra.status} ${ra.text} / ${rb.status} ${rb.text}`);
    assert.equal(refused[0].json.error.code, 'will_not_fit');
    assert.ok(refused[0].json.estimate.gpus[0].used_before > 5 * GIB, 'the first load counts as used');
    // an estimate does not wait in line behind a load
    const slow = admin.post(`/api/targets/${id}/models/load`, { model: 'ibm/granite-4-micro', context_length: 2048 });
    const t0 = Date.now();
    const e = await admin.post(`/api/targets/${id}/models/estimate`, { model: 'ibm/granite-4-micro', context_length: 2048 });
    assert.equal(e.status, 200, e.text);
    assert.ok(Date.now() - t0 < 1500, `estimate took ${Date.now() - t0} ms`);
    assert.equal((await slow).status, 200);
  });
});

describe('a download survives a restart of the control plane', { timeout: 180000 }, () => {
  let sim; let cp; let proc2;

  before(async () => {
    // slow enough that the download is still running when the control plane comes back
    sim = await startProc(bin('llmster-sim'), ['--port', '0', '--speed', '3']);
    cp = await startControlPlane({ args: ['--health-interval-ms', String(INTERVAL)], env: { LMS_BIN: bin('lms') } });
  });

  after(async () => {
    await proc2?.stop();
    await cp?.cleanup();
    await sim?.stop();
  });

  it('is picked up again, polled to the end and audited', async () => {
    let admin = new Client(cp.url);
    await admin.login('admin', cp.admin.password);
    const id = (await admin.post('/api/targets', { label: 'dl-restart', url: sim.url })).json.target.id;
    const r = await admin.post(`/api/targets/${id}/models/download`, { model: 'qwen/qwen3-1.7b' });
    assert.ok(r.status === 200 || r.status === 202, r.text);
    const jobId = r.json.job.job_id;
    assert.ok(jobId, r.text);
    await waitFor(async () => ((await admin.get(`/api/targets/${id}/downloads/${jobId}`)).json.job?.downloaded_bytes > 0),
      'some progress before the restart');
    await cp.stop();
    proc2 = await startProc(bin('daemonpulse'), ['serve', '--port', '0', '--db', cp.db, '--data-dir', cp.dataDir,
      '--health-interval-ms', String(INTERVAL)], { env: { DAEMON_API_URL: '', LMS_BIN: bin('lms') } });
    admin = new Client(proc2.url);
    await admin.login('admin', cp.admin.password);
    const back = await admin.get(`/api/targets/${id}/downloads/${jobId}`);
    assert.equal(back.status, 200, back.text);
    assert.ok(['downloading', 'paused', 'completed'].includes(back.json.job.status), back.text);
    const done = await waitFor(async () => {
      const g = await admin.get(`/api/targets/${id}/downloads/${jobId}`);
      return g.json.job?.status === 'completed' ? g.json.job : null;
    }, 'the download completed after the restart', 90000 * SLOW, 250);
    assert.equal(done.downloaded_bytes, done.total_size_bytes);
    const a = await admin.get('/api/audit?action=model.download.done&limit=20');
    assert.ok(a.json.entries.some((e) => e.detail?.job_id === jobId && e.result === 'ok'), a.text);
  });
});
