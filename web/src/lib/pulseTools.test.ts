import { describe, expect, it } from 'vitest';
import type { McpServer } from '../api/mcp';
import {
  allowedMap, effectiveApi, outsideAllowed, pickedIds, previewLines, serverChoices, toolsRequest,
} from './pulseTools';

const srv = (o: Partial<McpServer>): McpServer => ({
  id: 1, target_id: 1, kind: 'ephemeral', label: 's', transport: 'http', url: null, header_names: null, command: null,
  args: null, env_names: null, in_mcp_json: null, integration: null, identity: null, auto_allow_read_only: false,
  discovery: null, tools_count: 13, allowed_count: 2, pending_count: 11, created_at: null, updated_at: null, ...o,
});

describe('serverChoices', () => {
  it('only servers with an allowed tool are selectable; the others say why', () => {
    const c = serverChoices([
      srv({ id: 3, label: 'everything' }),
      srv({ id: 4, label: 'idle', allowed_count: 0 }),
      srv({ id: 5, label: 'never', tools_count: null, allowed_count: null }),
      srv({ id: 6, label: 'gone', kind: 'mcp_json', in_mcp_json: false }),
    ]);
    expect(c.map((x) => [x.id, x.selectable, x.reason])).toEqual([
      [3, true, ''], [4, false, 'nothing allowed'], [5, false, 'nothing allowed'], [6, false, 'removed from mcp.json'],
    ]);
    expect(c[0].detail).toBe('2 of 13 tools allowed');
    expect(c[2].detail).toBe('not discovered yet');
    expect(serverChoices([srv({ tools_count: null, discovery: { status: 'failed' } as McpServer['discovery'] })])[0].detail).toBe('no tools known');
    expect(serverChoices([srv({ tools_count: 1, allowed_count: 1 })])[0].detail).toBe('1 of 1 tool allowed');
  });
});

describe('pickedIds', () => {
  it('drops unselectable and unknown ids, sorts', () => {
    const c = serverChoices([srv({ id: 9 }), srv({ id: 3 }), srv({ id: 4, allowed_count: 0 })]);
    expect(pickedIds(new Set([9, 4, 3, 77]), c)).toEqual([3, 9]);
    expect(pickedIds(new Set(), c)).toEqual([]);
  });
});

describe('effectiveApi', () => {
  it('tools force v1', () => {
    expect(effectiveApi(true, 'openai')).toBe('v1');
    expect(effectiveApi(true, 'v0')).toBe('v1');
    expect(effectiveApi(false, 'v0')).toBe('v0');
  });
});

describe('previewLines and allowedMap', () => {
  const p = {
    integrations: [{ server_id: 3, integration: { type: 'ephemeral_mcp', server_label: 'everything', allowed_tools: ['echo', 'get-sum'] } },
      { server_id: 7, integration: { type: 'plugin', id: 'mcp/files', allowed_tools: [] } }],
    skipped: [{ server_id: 4, reason: 'nothing_allowed' }],
  };
  const c = serverChoices([srv({ id: 3, label: 'everything' }), srv({ id: 4, label: 'idle', allowed_count: 0 })]);
  it('lists the allowed tools per server and the skipped ones with the reason', () => {
    expect(previewLines(p, c)).toEqual([
      { serverId: 3, label: 'everything', tools: ['echo', 'get-sum'], skipped: '' },
      { serverId: 7, label: 'server 7', tools: [], skipped: '' },
      { serverId: 4, label: 'idle', tools: [], skipped: 'nothing allowed: not attached' },
    ]);
    expect(previewLines(null, c)).toEqual([]);
  });
  it('maps labels to allowed tools; a call is outside when not in it', () => {
    const m = allowedMap(p);
    expect(m?.get('everything')).toEqual(new Set(['echo', 'get-sum']));
    expect(m?.get('mcp/files')).toEqual(new Set());
    expect(outsideAllowed(m, 'everything', 'echo')).toBe(false);
    expect(outsideAllowed(m, 'everything', 'get-annotated-message')).toBe(true);
    expect(outsideAllowed(m, 'other', 'echo')).toBe(true);
    expect(outsideAllowed(m, '', 'get-sum')).toBe(false);
    expect(outsideAllowed(m, '', 'nope')).toBe(true);
    expect(outsideAllowed(m, 'everything', '')).toBe(false);
    expect(outsideAllowed(null, 'everything', 'nope')).toBe(false);
  });
});

describe('toolsRequest', () => {
  it('keeps the chat body, forces v1 and adds the servers', () => {
    const r = toolsRequest({ model: 'm', api: 'openai', messages: [{ role: 'user', content: 'hi' }], conversation_id: 4, temperature: 0.5 }, [3, 9]);
    expect(r).toEqual({ model: 'm', api: 'v1', messages: [{ role: 'user', content: 'hi' }], conversation_id: 4, temperature: 0.5, servers: [3, 9] });
  });
});
