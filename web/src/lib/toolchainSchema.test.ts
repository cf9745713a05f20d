import { describe, expect, test } from 'vitest';
import { badgeViews, clip, MAX_PARAMS, MAX_TEXT, paramRows } from './toolchainSchema';

describe('paramRows', () => {
  test('uses the server list, required first, facts from the schema', () => {
    const r = paramRows({
      parameters: [
        { name: 'opt', type: 'string', description: null, required: false },
        { name: 'a', type: 'number', description: 'First number', required: true },
      ],
      input_schema: { type: 'object', properties: {
        opt: { type: 'string', enum: ['x', 'y'], default: 'x' },
        a: { type: 'number', minimum: 0, maximum: 10 },
      }, required: ['a'] },
    });
    expect(r.hidden).toBe(0);
    expect(r.rows.map((x) => x.name)).toEqual(['a', 'opt']);
    expect(r.rows[0]).toMatchObject({ type: 'number', required: true, description: 'First number', facts: ['0 … 10'] });
    expect(r.rows[1].facts).toEqual(['one of: "x", "y"', 'default: "x"']);
    expect(r.rows[1].type).toBe('string');
  });
  test('falls back to the input schema when no list is given', () => {
    const r = paramRows({ parameters: null, input_schema: { type: 'object', properties: {
      msg: { type: 'string', description: 'Message' }, n: { type: ['integer', 'null'] }, any: {},
      list: { type: 'array', items: { type: 'string' } },
    }, required: ['msg'] } });
    expect(r.rows.map((x) => [x.name, x.type, x.required])).toEqual([
      ['msg', 'string', true], ['n', 'integer|null', false], ['any', 'any', false], ['list', 'array', false]]);
    expect(r.rows[3].facts).toEqual(['items: string']);
  });
  test('no schema: no rows', () => {
    expect(paramRows({ parameters: null, input_schema: null }).rows).toEqual([]);
    expect(paramRows({ parameters: null, input_schema: { type: 'object', properties: 'nope' } }).rows).toEqual([]);
  });
  test('bounded: many parameters and long descriptions', () => {
    const params = Array.from({ length: MAX_PARAMS + 5 }, (_, i) => ({ name: `p${i}`, type: 'string', description: 'x'.repeat(5000), required: false }));
    const r = paramRows({ parameters: params, input_schema: {} });
    expect(r.rows.length).toBe(MAX_PARAMS);
    expect(r.hidden).toBe(5);
    expect(r.rows[0].description.length).toBe(MAX_TEXT);
    expect(r.rows[0].description.endsWith('…')).toBe(true);
  });
  test('long enums are shortened', () => {
    const r = paramRows({ parameters: [{ name: 'e', type: 'string', description: null, required: true }],
      input_schema: { properties: { e: { enum: Array.from({ length: 20 }, (_, i) => `v${i}`) } } } });
    expect(r.rows[0].facts[0]).toMatch(/^one of: "v0", .*"v7", … \(20\)$/);
  });
  test('clip', () => {
    expect(clip('abc', 5)).toBe('abc');
    expect(clip('abcdef', 4)).toBe('abc…');
  });
});

describe('badgeViews', () => {
  test('read-only declared', () => {
    const b = badgeViews({ badges: { read_only: true, destructive: false, idempotent: true, open_world: false },
      annotations: { readOnlyHint: true, openWorldHint: false } });
    expect(b.map((x) => x.label)).toEqual(['read-only', 'closed-world']);
    expect(b[0].title).toContain('hint, not a guarantee');
  });
  test('absent annotations are worst case and marked as assumed', () => {
    const b = badgeViews({ badges: { read_only: false, destructive: true, idempotent: false, open_world: true }, annotations: null });
    expect(b.map((x) => x.label)).toEqual(['may write', 'destructive (assumed)', 'open-world (assumed)']);
    expect(b[1].title).toContain('worst-case default');
  });
  test('declared destructive and idempotent', () => {
    const b = badgeViews({ badges: { read_only: false, destructive: true, idempotent: true, open_world: false },
      annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false } });
    expect(b.map((x) => x.label)).toEqual(['may write', 'destructive', 'idempotent', 'closed-world']);
  });
  test('no badges: nothing', () => {
    expect(badgeViews({ badges: null, annotations: null })).toEqual([]);
  });
});
