// toolchainSchema.ts - a tool's parameters for display, from the server's
// `parameters` list (docs/api-mcp.md) with extra facts (enum, default,
// range, item type) read from its `input_schema` (pure, unit-tested).
//
// Everything here is data from an MCP server: it is returned as plain
// strings for text nodes and bounded so a hostile schema cannot flood the
// page (at most MAX_PARAMS parameters, each string at most MAX_TEXT).
import type { McpTool, ToolParameter } from '../api/mcp';

export const MAX_PARAMS = 64;
export const MAX_TEXT = 600;

export interface ParamRow {
  name: string;
  type: string;
  required: boolean;
  description: string;
  /** short facts: "one of: a, b", "default: 3", "1 … 10", "items: string" */
  facts: string[];
}

export interface ParamList { rows: ParamRow[]; hidden: number }

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function clip(s: string, max = MAX_TEXT): string {
  if (s.length <= max) return s;
  return s.slice(0, max - 1) + '…';
}

function short(v: unknown): string {
  let s: string;
  try { s = typeof v === 'string' ? JSON.stringify(v) : JSON.stringify(v) ?? String(v); } catch { s = String(v); }
  return clip(s, 60);
}

function schemaType(p: Record<string, unknown>): string | null {
  const t = p.type;
  if (typeof t === 'string') return t;
  if (Array.isArray(t)) return t.filter((x) => typeof x === 'string').join('|') || null;
  if (Array.isArray(p.anyOf) || Array.isArray(p.oneOf)) {
    const alts = ((p.anyOf ?? p.oneOf) as unknown[]).map((a) => (isObj(a) && typeof a.type === 'string' ? a.type : null)).filter(Boolean);
    if (alts.length) return [...new Set(alts)].join('|');
  }
  return null;
}

function facts(p: Record<string, unknown>): string[] {
  const out: string[] = [];
  if (Array.isArray(p.enum) && p.enum.length) {
    const shown = p.enum.slice(0, 8).map(short).join(', ');
    out.push(`one of: ${shown}${p.enum.length > 8 ? `, … (${p.enum.length})` : ''}`);
  }
  if ('const' in p) out.push(`always ${short(p.const)}`);
  if ('default' in p) out.push(`default: ${short(p.default)}`);
  const min = typeof p.minimum === 'number' ? p.minimum : null;
  const max = typeof p.maximum === 'number' ? p.maximum : null;
  if (min !== null && max !== null) out.push(`${min} … ${max}`);
  else if (min !== null) out.push(`≥ ${min}`);
  else if (max !== null) out.push(`≤ ${max}`);
  if (typeof p.format === 'string') out.push(`format: ${clip(p.format, 40)}`);
  if (isObj(p.items)) {
    const it = schemaType(p.items);
    if (it) out.push(`items: ${it}`);
  }
  return out;
}

/** The parameter rows of a tool, required ones first in schema order. */
export function paramRows(tool: Pick<McpTool, 'parameters' | 'input_schema'>): ParamList {
  const schema = isObj(tool.input_schema) ? tool.input_schema : null;
  const props = schema && isObj(schema.properties) ? schema.properties : null;
  let list: ToolParameter[];
  if (Array.isArray(tool.parameters)) {
    list = tool.parameters.filter((p) => p && typeof p.name === 'string');
  } else if (props) {
    // older answers: derive from the schema the same way the server does
    const req = new Set(Array.isArray(schema!.required) ? schema!.required.filter((x): x is string => typeof x === 'string') : []);
    list = Object.entries(props).map(([name, v]) => ({
      name,
      type: isObj(v) ? schemaType(v) : null,
      description: isObj(v) && typeof v.description === 'string' ? v.description : null,
      required: req.has(name),
    }));
  } else {
    list = [];
  }
  const rows: ParamRow[] = list.slice(0, MAX_PARAMS).map((p) => {
    const raw = props && isObj(props[p.name]) ? props[p.name] as Record<string, unknown> : null;
    return {
      name: clip(p.name, 120),
      type: p.type ? clip(p.type, 60) : 'any',
      required: p.required === true,
      description: p.description ? clip(p.description) : '',
      facts: raw ? facts(raw) : [],
    };
  });
  const ordered = [...rows.filter((r) => r.required), ...rows.filter((r) => !r.required)];
  return { rows: ordered, hidden: Math.max(0, list.length - MAX_PARAMS) };
}

export interface BadgeView { key: string; label: string; title: string; tone: 'ok' | 'bad' | 'warn' | 'info' | 'muted' }

/**
 * Annotation badges. `badges` already has MCP's worst-case defaults for
 * absent hints; `annotations` says which hints the server actually gave, so
 * a default is shown as such ("assumed"). destructive/idempotent only mean
 * something for a tool that is not read-only.
 */
export function badgeViews(tool: Pick<McpTool, 'badges' | 'annotations'>): BadgeView[] {
  const b = tool.badges;
  if (!b) return [];
  const a = tool.annotations ?? {};
  const given = (k: string) => typeof a[k] === 'boolean';
  const note = (k: string) => (given(k) ? 'as the server declares it (a hint, not a guarantee)' : 'not declared by the server: MCP’s worst-case default');
  const out: BadgeView[] = [];
  if (b.read_only) out.push({ key: 'read_only', label: 'read-only', title: `Does not modify its environment — ${note('readOnlyHint')}`, tone: 'ok' });
  else {
    out.push({ key: 'writes', label: 'may write', title: `May modify its environment — ${note('readOnlyHint')}`, tone: 'warn' });
    if (b.destructive) out.push({ key: 'destructive', label: given('destructiveHint') ? 'destructive' : 'destructive (assumed)', title: `May delete or overwrite — ${note('destructiveHint')}`, tone: 'bad' });
    if (b.idempotent) out.push({ key: 'idempotent', label: 'idempotent', title: `Repeating a call has no further effect — ${note('idempotentHint')}`, tone: 'info' });
  }
  if (b.open_world) out.push({ key: 'open_world', label: given('openWorldHint') ? 'open-world' : 'open-world (assumed)', title: `Reaches outside systems — ${note('openWorldHint')}`, tone: 'info' });
  else out.push({ key: 'closed_world', label: 'closed-world', title: `Works only with its own data — ${note('openWorldHint')}`, tone: 'muted' });
  return out;
}
