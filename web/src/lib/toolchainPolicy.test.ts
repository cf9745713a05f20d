import { describe, expect, test } from 'vitest';
import type { McpServer, McpTool, ToolPolicy } from '../api/mcp';
import {
  attachable, countsText, decisionValue, identityChanged, policyBody, policyView, serverState, setDecision, setDecisions, skipText,
} from './toolchainPolicy';

const pol = (p: Partial<ToolPolicy>): ToolPolicy => ({ state: 'pending', effective: 'deny', source: 'none', reason: 'new', decided_by: null, decided_at: null, ...p });
const tool = (name: string, p: Partial<ToolPolicy> = {}, present = true): McpTool => ({
  name, title: null, description: null, parameters: [], input_schema: {}, annotations: null, badges: null,
  schema_hash: 'x', present, first_seen_at: null, last_seen_at: null, policy: pol(p),
});
const server = (o: Partial<McpServer> = {}): McpServer => ({
  id: 1, target_id: 1, kind: 'ephemeral', label: 'ev', transport: 'http', url: 'http://127.0.0.1:1/mcp', header_names: [],
  command: null, args: null, env_names: null, in_mcp_json: null, integration: null, identity: 'abc', auto_allow_read_only: false,
  discovery: null, tools_count: null, allowed_count: null, pending_count: null, created_at: null, updated_at: null, ...o,
});

describe('policyView', () => {
  test('pending review is denied and says why', () => {
    const v = policyView(pol({ reason: 'schema_changed' }));
    expect(v).toMatchObject({ label: 'Pending review', tone: 'warn', allowed: false });
    expect(v.detail).toContain('description or schema changed');
  });
  test('admin decisions name the admin', () => {
    expect(policyView(pol({ state: 'allow', effective: 'allow', source: 'admin', decided_by: 'root' })))
      .toMatchObject({ label: 'Allowed', tone: 'ok', allowed: true, detail: 'allowed by root' });
    expect(policyView(pol({ state: 'deny', effective: 'deny', source: 'admin' }))).toMatchObject({ label: 'Denied', allowed: false });
  });
  test('auto-allowed read-only tools are shown as trusting the server hint', () => {
    const v = policyView(pol({ effective: 'allow', source: 'auto_read_only' }));
    expect(v).toMatchObject({ label: 'Auto-allowed', allowed: true });
    expect(v.detail).toContain('server marks it read-only');
  });
  test('a tool gone from the server is never allowed', () => {
    expect(policyView(pol({ state: 'allow', effective: 'allow' }), false)).toMatchObject({ label: 'Gone', allowed: false });
  });
  test('a decision that no longer applies is named', () => {
    expect(policyView(pol({ reason: 'identity_changed', decided_by: 'root' })).detail)
      .toBe('denied until an admin decides (the server’s identity changed); last decided by root');
  });
  test('unknown reason is shown readable', () => {
    expect(policyView(pol({ reason: 'odd_thing' })).detail).toContain('odd thing');
  });
});

describe('decisions', () => {
  test('choosing the recorded state removes the edit; pending maps to reset', () => {
    const a = tool('a', { state: 'allow', effective: 'allow', source: 'admin' });
    let e = setDecision(new Map(), a, 'deny');
    expect(e.get('a')).toBe('deny');
    expect(decisionValue(a, e)).toBe('deny');
    e = setDecision(e, a, 'allow');
    expect(e.size).toBe(0);
    e = setDecision(e, a, 'pending');
    expect(e.get('a')).toBe('reset');
    expect(decisionValue(a, e)).toBe('pending');
    const p = tool('p');
    expect(setDecision(new Map(), p, 'pending').size).toBe(0);
    expect(decisionValue(p, new Map())).toBe('pending');
  });
  test('setDecisions applies one choice to many, skipping gone tools and no-ops', () => {
    const tools = [tool('a'), tool('b', { state: 'allow', effective: 'allow', source: 'admin' }), tool('c', {}, false)];
    const e = setDecisions(new Map([['x', 'deny' as const]]), tools, 'allow');
    expect([...e.entries()].sort()).toEqual([['a', 'allow'], ['x', 'deny']]);
    expect([...setDecisions(e, tools, 'pending').entries()].sort()).toEqual([['b', 'reset'], ['x', 'deny']]);
  });
  test('policyBody sends only edits of listed tools', () => {
    const e = new Map([['a', 'allow' as const], ['gone', 'deny' as const]]);
    expect(policyBody(e, [tool('a'), tool('b')])).toEqual({ a: 'allow' });
  });
  test('identityChanged finds tools reset by an identity change', () => {
    const t = [tool('a', { reason: 'identity_changed' }), tool('b'), tool('c', { reason: 'identity_changed' }, false)];
    expect(identityChanged(t).map((x) => x.name)).toEqual(['a']);
  });
});

describe('servers', () => {
  test('states', () => {
    expect(serverState(server()).label).toBe('Not discovered');
    const d = { status: 'ok', code: 'ok', message: '', transport: 'streamable_http', protocol_version: '2025-11-25', server_info: null, at: null, duration_ms: 3 };
    expect(serverState(server({ discovery: d }))).toMatchObject({ label: 'Discovered', tone: 'ok' });
    expect(serverState(server({ discovery: { ...d, transport: 'sse' } }))).toMatchObject({ label: 'Legacy SSE', tone: 'warn' });
    expect(serverState(server({ discovery: { ...d, status: 'failed', code: 'timeout', message: 'no answer' } })).detail).toBe('timeout: no answer');
    expect(serverState(server({ discovery: { ...d, status: 'needs_oauth', message: '' } })).label).toBe('Needs OAuth');
    expect(serverState(server({ kind: 'mcp_json', in_mcp_json: false })).label).toBe('Removed from mcp.json');
  });
  test('counts and attachability', () => {
    expect(countsText(server())).toBe('no tools known');
    expect(countsText(server({ tools_count: 13, allowed_count: 2, pending_count: 11 }))).toBe('13 tools · 2 allowed · 11 pending review');
    expect(countsText(server({ tools_count: 1, allowed_count: 0, pending_count: 0 }))).toBe('1 tool · 0 allowed');
    expect(attachable(server({ allowed_count: 2 }))).toBe(true);
    expect(attachable(server({ allowed_count: 0 }))).toBe(false);
    expect(attachable(server({ kind: 'mcp_json', in_mcp_json: false, allowed_count: 3 }))).toBe(false);
  });
  test('skip reasons', () => {
    expect(skipText('nothing_allowed')).toContain('not attached');
    expect(skipText('new_reason')).toBe('new reason');
  });
});
