import { describe, expect, test } from 'vitest';
import type { AuditEntry } from '../api/types';
import { auditCall, groupToolCalls, providerName } from './toolchainRun';

const pi = { type: 'ephemeral_mcp', server_label: 'everything' };

describe('groupToolCalls', () => {
  test('v1 phases of two calls become two cards', () => {
    const c = groupToolCalls([
      { phase: 'start', tool: 'echo', provider_info: pi },
      { phase: 'arguments', tool: 'echo', arguments: { message: 'hi' }, provider_info: pi },
      { phase: 'success', tool: 'echo', arguments: { message: 'hi' }, output: 'Echo: hi', provider_info: pi },
      { phase: 'start', tool: 'get-sum', provider_info: pi },
      { phase: 'failure', reason: 'boom', tool: 'get-sum' },
    ]);
    expect(c).toHaveLength(2);
    expect(c[0]).toMatchObject({ tool: 'echo', server: 'everything', status: 'success', output: 'Echo: hi', args: { message: 'hi' },
      phases: ['start', 'arguments', 'success'] });
    expect(c[1]).toMatchObject({ tool: 'get-sum', status: 'failure', reason: 'boom' });
  });
  test('a phase without a start opens a call; running while no outcome', () => {
    const c = groupToolCalls([{ phase: 'arguments', tool: 'x', arguments: '{}' }]);
    expect(c).toEqual([expect.objectContaining({ tool: 'x', status: 'running', args: '{}' })]);
  });
  test('OpenAI fragments are joined per index', () => {
    const c = groupToolCalls([
      { phase: 'call', index: 0, id: 'a', tool: 'echo', arguments: '{"mess' },
      { phase: 'call', index: 1, tool: 'get-sum', arguments: '{"a":1' },
      { phase: 'call', index: 0, arguments: 'age":"hi"}' },
      { phase: 'call', index: 1, arguments: ',"b":2}' },
    ]);
    expect(c.map((x) => [x.tool, x.args])).toEqual([['echo', '{"message":"hi"}'], ['get-sum', '{"a":1,"b":2}']]);
  });
  test('provider names', () => {
    expect(providerName(pi)).toBe('everything');
    expect(providerName({ type: 'plugin', plugin_id: 'mcp/files' })).toBe('mcp/files');
    expect(providerName(null)).toBe('');
  });
});

describe('auditCall', () => {
  const base: AuditEntry = { id: 7, at: '2026-11-26T10:00:00Z', user_id: 1, username: 'op', action: 'mcp.tool_call', target: 'sim',
    result: 'ok', detail: { request_id: 'c_1', server_id: 3, server: 'everything', tool: 'echo', provider_info: pi,
      arguments: '{"message":"hi"}', arguments_truncated: false, outcome: 'success', duration_ms: 12, violation: false, reason: null }, ip: null };
  test('reads the detail', () => {
    expect(auditCall(base)).toMatchObject({ id: 7, user: 'op', target: 'sim', server: 'everything', tool: 'echo', outcome: 'success',
      violation: false, arguments: '{"message":"hi"}', durationMs: 12, requestId: 'c_1', reason: '' });
  });
  test('violations are flagged from either field', () => {
    expect(auditCall({ ...base, result: 'violation' })!.violation).toBe(true);
    expect(auditCall({ ...base, detail: { ...base.detail, violation: true } })).toMatchObject({ violation: true, outcome: 'violation' });
  });
  test('other actions and odd details', () => {
    expect(auditCall({ ...base, action: 'mcp.policy' })).toBeNull();
    expect(auditCall({ ...base, detail: null })).toMatchObject({ tool: '', server: '', durationMs: null, outcome: 'ok' });
  });
});
