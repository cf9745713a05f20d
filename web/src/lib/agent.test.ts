import { describe, expect, test } from 'vitest';
import { OPS, agentUrlProblem, defaultAgentUrl, hostInfoLines, isLoopbackUrl, parseAgentToken, runSteps, serverStartBody, summary } from './agent';

describe('agent urls', () => {
  test('default: the target host on port 3001', () => {
    expect(defaultAgentUrl('http://gpu-box:1234')).toBe('http://gpu-box:3001');
    expect(defaultAgentUrl('https://10.0.0.5/v1')).toBe('http://10.0.0.5:3001');
    expect(defaultAgentUrl('http://[::1]:1234')).toBe('http://[::1]:3001');
    expect(defaultAgentUrl('not a url')).toBe('');
  });
  test('loopback', () => {
    expect(isLoopbackUrl('http://127.0.0.1:13001')).toBe(true);
    expect(isLoopbackUrl('http://localhost:3001')).toBe(true);
    expect(isLoopbackUrl('http://[::1]:3001')).toBe(true);
    expect(isLoopbackUrl('http://gpu-box:3001')).toBe(false);
    expect(isLoopbackUrl('garbage')).toBe(false);
  });
  test('problems', () => {
    expect(agentUrlProblem('')).toMatch(/Enter/);
    expect(agentUrlProblem('gpu:3001')).not.toBe('');
    expect(agentUrlProblem('ftp://a:1')).toMatch(/http/);
    expect(agentUrlProblem('http://u:p@a:1')).toMatch(/password/);
    expect(agentUrlProblem(' http://127.0.0.1:13001 ')).toBe('');
  });
});

describe('agent token', () => {
  test('dpa_ + 64 hex', () => {
    const t = 'dpa_' + 'a1'.repeat(32);
    expect(parseAgentToken(`  ${t}\n`)).toBe(t);
    expect(parseAgentToken(t + '0')).toBeNull();
    expect(parseAgentToken('dpa_' + 'G'.repeat(64))).toBeNull();
    expect(parseAgentToken('')).toBeNull();
  });
});

describe('server start body', () => {
  test('the target URL port', () => {
    expect(serverStartBody('http://127.0.0.1:41234')).toEqual({ port: 41234 });
    expect(serverStartBody('http://host')).toEqual({ port: 80 });
    expect(serverStartBody('https://host')).toEqual({ port: 443 });
    expect(serverStartBody('x')).toEqual({});
  });
});

describe('lifecycle steps', () => {
  test('restart is stop then start, both reported', async () => {
    const calls: string[] = [];
    const seen: number[] = [];
    const r = await runSteps(OPS['server-restart'].steps, async (k, a) => { calls.push(`${k}/${a}`); }, String, (d) => seen.push(d.length));
    expect(calls).toEqual(['server/stop', 'server/start']);
    expect(seen).toEqual([1, 2]);
    expect(r.map((x) => x.ok)).toEqual([true, true]);
    expect(summary('server-restart', r)).toBe('The server was restarted.');
  });
  test('a failed stop skips the start and names the error', async () => {
    const r = await runSteps(OPS['server-restart'].steps, async (_k, a) => {
      if (a === 'stop') throw new Error('The server is not running.');
    }, (e) => (e as Error).message);
    expect(r[0]).toMatchObject({ action: 'stop', ok: false, message: 'The server is not running.' });
    expect(r[1]).toMatchObject({ action: 'start', ok: false });
    expect(r[1].message).toMatch(/skipped/);
    expect(summary('server-restart', r)).toBe('server stop failed: The server is not running.');
  });
  test('every op names what it does', () => {
    for (const o of Object.values(OPS)) {
      expect(o.title('gpu-1')).toContain('gpu-1');
      expect(o.what).toMatch(/lms (server|daemon)/);
      expect(o.steps.length).toBeGreaterThan(0);
    }
    expect(OPS['daemon-down'].steps).toEqual([{ kind: 'daemon', action: 'down' }]);
  });
});

describe('host info', () => {
  test('lines', () => {
    const l = hostInfoLines({
      target_id: 1, hostname: 'gpu-1', os: { name: 'Linux', release: '6.1', machine: 'x86_64', pretty_name: 'Debian 12' },
      cpu: { model: 'EPYC', logical_cpus: 32 }, ram: { total_bytes: 64 * 1024 ** 3, used_bytes: 16 * 1024 ** 3 },
      lms: { available: true }, agent_version: '0.1.0', transport: 'http',
    });
    expect(l).toEqual([
      { label: 'Host', value: 'gpu-1' }, { label: 'OS', value: 'Debian 12 (x86_64)' },
      { label: 'CPU', value: 'EPYC · 32 logical CPUs' }, { label: 'RAM', value: '16.0 GiB used of 64.0 GiB' },
      { label: 'Agent', value: '0.1.0 over http' },
    ]);
  });
  test('missing values say so; lms unavailable is shown', () => {
    const l = hostInfoLines({ target_id: 1, os: { name: 'Linux', release: '6.1' }, lms: { available: false, reason: 'lms not found' } });
    expect(l.find((x) => x.label === 'Host')?.value).toBe('not reported');
    expect(l.find((x) => x.label === 'OS')?.value).toBe('Linux 6.1');
    expect(l.find((x) => x.label === 'RAM')?.value).toBe('not reported');
    expect(l.find((x) => x.label === 'lms')?.value).toBe('not available: lms not found');
  });
});
