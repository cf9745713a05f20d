// sim_conformance_util.mjs - helpers for the llmster-sim conformance suite.
//
// The conformance suite is written from ../shared/reference/lmstudio-protocol.md
// only (never from the simulator's code), so it catches the simulator where it
// deviates from LM Studio. This module holds the pieces the test files share:
// an assertion wrapper that counts checks (the total is printed at the end of
// each file), HTTP helpers, an SSE parser, and type predicates.
import assert from 'node:assert/strict';

let count = 0;
// `A` has the same functions as node:assert/strict but counts every call.
export const A = new Proxy(assert, {
  get(target, prop) {
    const v = target[prop];
    if (typeof v !== 'function') return v;
    return (...args) => { count++; return v.apply(target, args); };
  },
  apply(target, self, args) { count++; return target(...args); },
});
export const assertionCount = () => count;

export const isStr = (v) => typeof v === 'string';
export const isNum = (v) => typeof v === 'number' && Number.isFinite(v);
export const isInt = (v) => Number.isInteger(v);
export const isBool = (v) => typeof v === 'boolean';
export const isObj = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
export const ISO_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

// Assert that `obj` has only keys from `allowed` (documented fields).
export function onlyKeys(obj, allowed, what) {
  const extra = Object.keys(obj).filter((k) => !allowed.includes(k));
  A.deepEqual(extra, [], `${what}: undocumented fields ${JSON.stringify(extra)}`);
}

export async function req(base, method, path, { body, headers = {}, raw = false } = {}) {
  const h = { ...headers };
  let b = body;
  if (b !== undefined && typeof b !== 'string') { h['content-type'] = 'application/json'; b = JSON.stringify(b); }
  else if (typeof b === 'string' && !('content-type' in h)) h['content-type'] = 'application/json';
  const r = await fetch(base + path, { method, headers: h, body: b });
  const text = await r.text();
  let json;
  try { json = text ? JSON.parse(text) : undefined; } catch { json = undefined; }
  return { status: r.status, headers: r.headers, text, json, raw };
}
export const get = (base, path, opts) => req(base, 'GET', path, opts);
export const post = (base, path, body, opts = {}) => req(base, 'POST', path, { ...opts, body });

// Parse an SSE body into frames [{event, data (string), json}] (W3C rules:
// lines "field: value", frames separated by a blank line, comments ":...").
export function parseSSE(text) {
  const frames = [];
  const blocks = text.replace(/\r\n/g, '\n').split(/\n\n/);
  for (const blk of blocks) {
    if (!blk.trim()) continue;
    let event = null;
    const data = [];
    let comment = true;
    for (const line of blk.split('\n')) {
      if (line.startsWith(':')) continue;
      comment = false;
      const i = line.indexOf(':');
      const field = i < 0 ? line : line.slice(0, i);
      let value = i < 0 ? '' : line.slice(i + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'event') event = value;
      else if (field === 'data') data.push(value);
    }
    if (comment) continue;
    const d = data.join('\n');
    let json;
    try { json = JSON.parse(d); } catch { json = undefined; }
    frames.push({ event, data: d, json });
  }
  return frames;
}

// POST a streaming request and return {status, headers, text, frames}.
export async function postSSE(base, path, body, headers = {}) {
  const r = await post(base, path, body, { headers });
  return { ...r, frames: parseSSE(r.text) };
}

// Unload every loaded instance through the documented REST v1 calls.
export async function unloadAll(base, headers = {}) {
  const r = await get(base, '/api/v1/models', { headers });
  for (const m of r.json.models) {
    for (const inst of m.loaded_instances) {
      await post(base, '/api/v1/models/unload', { instance_id: inst.id }, { headers });
    }
  }
}

export async function models(base, headers = {}) {
  const r = await get(base, '/api/v1/models', { headers });
  return r.json.models;
}
