// ServerDialogs.tsx - admin dialogs: register or edit an ephemeral server,
// add or edit an mcp.json entry. Header and env values are write-only: the
// server returns names only, so an existing entry shows its names with an
// empty value field ("unchanged"), and an empty value sends null (keep).
import { useRef, useState } from 'preact/hooks';
import {
  createServer, putMcpJson, updateServer, type EphemeralDraft, type McpJsonEntry, type McpServer,
} from '../../api/mcp';
import { ErrorSlot } from '../../components/Alert';
import { Dialog } from '../../components/Dialog';
import { Spinner } from '../../components/Spinner';
import { btn, hint, input, label } from '../../components/ui';
import { errorText } from '../../lib/useLoad';

const LABEL_RE = /^[A-Za-z0-9_.-]{1,64}$/;
const NAME_RE = /^[A-Za-z0-9-]{1,64}$/;
const ENV_RE = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;

interface Pair { key: number; name: string; value: string; stored: boolean }
let pairSeq = 0;
const pairsOf = (names: string[] | null | undefined): Pair[] => (names ?? []).map((n) => ({ key: ++pairSeq, name: n, value: '', stored: true }));

/** name → value (or null = keep the stored value); error text when a row is invalid. */
function pairsBody(pairs: Pair[], nameRe: RegExp, what: string): { map: Record<string, string | null>; error: string } {
  const map: Record<string, string | null> = {};
  for (const p of pairs) {
    const n = p.name.trim();
    if (!n && !p.value) continue;
    if (!nameRe.test(n)) return { map, error: `${what} name “${n}” is not valid` };
    if (n in map) return { map, error: `${what} “${n}” is listed twice` };
    if (p.value === '' && !p.stored) return { map, error: `${what} “${n}” needs a value` };
    map[n] = p.value === '' ? null : p.value;
  }
  return { map, error: '' };
}

function Pairs({ id, legend, pairs, setPairs, nameHint, max }: {
  id: string; legend: string; pairs: Pair[]; setPairs: (p: Pair[]) => void; nameHint: string; max: number;
}) {
  const set = (k: number, patch: Partial<Pair>) => setPairs(pairs.map((p) => (p.key === k ? { ...p, ...patch } : p)));
  return (
    <fieldset class="min-w-0">
      <legend class={label}>{legend}</legend>
      <p class={hint}>Values are write-only: stored encrypted or in the file, never shown again. Leave a stored value empty to keep it.</p>
      <div class="mt-2 space-y-2">
        {pairs.map((p, i) => (
          <div key={p.key} class="grid grid-cols-[1fr_auto] gap-2 sm:grid-cols-[1fr_1fr_auto]">
            <input class={input} aria-label={`${legend}: name ${i + 1}`} placeholder={nameHint} value={p.name} autocomplete="off"
              id={i === 0 ? `${id}-name0` : undefined} spellcheck={false}
              onInput={(e) => set(p.key, { name: (e.currentTarget as HTMLInputElement).value, stored: false })} />
            <input class={`${input} col-span-2 row-start-2 sm:col-span-1 sm:row-start-auto`} type="password" autocomplete="new-password"
              aria-label={`${legend}: value ${i + 1}`} placeholder={p.stored ? 'unchanged (stored)' : 'value'} value={p.value}
              onInput={(e) => set(p.key, { value: (e.currentTarget as HTMLInputElement).value })} />
            <button type="button" class={`${btn.small} col-start-2 row-start-1 sm:col-start-auto sm:row-start-auto`}
              aria-label={`Remove ${legend.toLowerCase()} ${p.name || i + 1}`}
              onClick={() => setPairs(pairs.filter((x) => x.key !== p.key))}>Remove</button>
          </div>
        ))}
      </div>
      {pairs.length < max ? (
        <button type="button" class={`${btn.small} mt-2`} onClick={() => setPairs([...pairs, { key: ++pairSeq, name: '', value: '', stored: false }])}>
          Add {legend.toLowerCase().replace(/s$/, '')}
        </button>
      ) : null}
    </fieldset>
  );
}

function Actions({ busy, submit, onClose }: { busy: boolean; submit: string; onClose: () => void }) {
  return (
    <div class="mt-5 flex flex-wrap justify-end gap-2">
      <button type="button" class={btn.secondary} onClick={onClose}>Cancel</button>
      <button type="submit" class={btn.primary} aria-disabled={busy ? 'true' : undefined}>{busy ? <Spinner /> : null}{submit}</button>
    </div>
  );
}

/** Register (server === null) or edit an ephemeral server. */
export function EphemeralDialog({ targetId, server, onClose, onSaved }: {
  targetId: number; server: McpServer | null; onClose: () => void; onSaved: (s: McpServer) => void;
}) {
  const [labelV, setLabel] = useState(server?.label ?? '');
  const [url, setUrl] = useState(server?.url ?? '');
  const [pairs, setPairs] = useState<Pair[]>(() => pairsOf(server?.header_names));
  const headersTouched = useRef(false);
  const [autoRo, setAutoRo] = useState(server?.auto_allow_read_only ?? false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');

  const submit = async (e: Event) => {
    e.preventDefault();
    if (busy) return;
    const l = labelV.trim();
    const u = url.trim();
    if (!LABEL_RE.test(l)) { setError('the label must be 1 to 64 letters, digits, “_”, “.” or “-”'); return; }
    if (!/^https?:\/\/[^\s]+$/i.test(u)) { setError('the URL must start with http:// or https://'); return; }
    const h = pairsBody(pairs, NAME_RE, 'Header');
    if (h.error) { setError(h.error); return; }
    const d: EphemeralDraft = {};
    if (!server || l !== server.label) d.label = l;
    if (!server || u !== server.url) d.url = u;
    if (!server || headersTouched.current) d.headers = h.map;
    if (!server) d.auto_allow_read_only = autoRo;
    setBusy(true);
    setError('');
    try {
      const s = server ? await updateServer(targetId, server.id, d) : await createServer(targetId, d);
      onSaved(s);
    } catch (err) {
      setError(errorText(err));
      setBusy(false);
    }
  };

  return (
    <Dialog title={server ? `Edit ${server.label}` : 'Register an ephemeral MCP server'} onClose={onClose} wide>
      <form onSubmit={submit} class="space-y-4" noValidate>
        <p class="text-sm text-slate-300">DaemonPulse keeps this server and sends it to LM Studio as an ephemeral integration. Changing the URL or the headers changes its identity: earlier decisions go back to review.</p>
        <div>
          <label class={label} for="eph-label">Label</label>
          <input id="eph-label" class={`${input} mt-1`} value={labelV} autocomplete="off" spellcheck={false} required
            onInput={(e) => setLabel((e.currentTarget as HTMLInputElement).value)} aria-describedby="eph-label-hint" />
          <p id="eph-label-hint" class={hint}>LM Studio’s server label: letters, digits, “_”, “.” and “-”.</p>
        </div>
        <div>
          <label class={label} for="eph-url">URL</label>
          <input id="eph-url" class={`${input} mt-1`} type="url" value={url} autocomplete="off" spellcheck={false} required
            placeholder="http://127.0.0.1:3001/mcp" onInput={(e) => setUrl((e.currentTarget as HTMLInputElement).value)} />
          <p class={hint}>Streamable HTTP or legacy HTTP+SSE; no credentials in the URL (use a header).</p>
        </div>
        <Pairs id="eph-h" legend="Headers" pairs={pairs} max={16} nameHint="Authorization"
          setPairs={(p) => { headersTouched.current = true; setPairs(p); }} />
        {!server ? (
          <label class="flex items-start gap-2 text-sm text-slate-200">
            <input type="checkbox" class="mt-1" checked={autoRo} onChange={(e) => setAutoRo((e.currentTarget as HTMLInputElement).checked)} />
            <span>Auto-allow tools this server marks read-only <span class="block text-xs text-slate-400">Trusts the server’s own readOnlyHint: a server can claim anything.</span></span>
          </label>
        ) : null}
        <ErrorSlot error={error} />
        <Actions busy={busy} submit={server ? 'Save' : 'Register'} onClose={onClose} />
      </form>
    </Dialog>
  );
}

/** Add (server === null) or edit an entry of the host's mcp.json. */
export function McpJsonDialog({ targetId, server, path, onClose, onSaved }: {
  targetId: number; server: McpServer | null; path: string | null; onClose: () => void; onSaved: (s: McpServer) => void;
}) {
  const [labelV, setLabel] = useState(server?.label ?? '');
  const [kind, setKind] = useState<'http' | 'stdio'>(server?.transport === 'stdio' ? 'stdio' : 'http');
  const [url, setUrl] = useState(server?.url ?? '');
  const [command, setCommand] = useState(server?.command ?? '');
  const [args, setArgs] = useState((server?.args ?? []).join('\n'));
  const [headers, setHeaders] = useState<Pair[]>(() => pairsOf(server?.header_names));
  const [env, setEnv] = useState<Pair[]>(() => pairsOf(server?.env_names));
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');

  const submit = async (e: Event) => {
    e.preventDefault();
    if (busy) return;
    const l = labelV.trim();
    if (!LABEL_RE.test(l)) { setError('the label must be 1 to 64 letters, digits, “_”, “.” or “-”'); return; }
    let entry: McpJsonEntry;
    if (kind === 'http') {
      const u = url.trim();
      if (!/^https?:\/\/[^\s]+$/i.test(u)) { setError('the URL must start with http:// or https://'); return; }
      const h = pairsBody(headers, NAME_RE, 'Header');
      if (h.error) { setError(h.error); return; }
      entry = { url: u, headers: h.map };
    } else {
      const c = command.trim();
      if (!c) { setError('the command is required'); return; }
      const a = args.split('\n').map((x) => x.trim()).filter(Boolean);
      if (a.length > 64) { setError('at most 64 arguments'); return; }
      const v = pairsBody(env, ENV_RE, 'Variable');
      if (v.error) { setError(v.error); return; }
      entry = { command: c, args: a, env: v.map };
    }
    setBusy(true);
    setError('');
    try {
      onSaved(await putMcpJson(targetId, l, entry));
    } catch (err) {
      setError(errorText(err));
      setBusy(false);
    }
  };

  return (
    <Dialog title={server ? `Edit mcp.json entry ${server.label}` : 'Add an mcp.json entry'} onClose={onClose} wide>
      <form onSubmit={submit} class="space-y-4" noValidate>
        <p class="text-sm text-slate-300">
          Written to the LM Studio host’s mcp.json{path ? <> (<code class="break-all text-indigo-200">{path}</code>)</> : null} atomically, with the previous file kept as mcp.json.bak. Other members of the entry and the file are preserved.
        </p>
        <div>
          <label class={label} for="mj-label">Label</label>
          <input id="mj-label" class={`${input} mt-1`} value={labelV} disabled={!!server} autocomplete="off" spellcheck={false}
            onInput={(e) => setLabel((e.currentTarget as HTMLInputElement).value)} />
          <p class={hint}>LM Studio names it mcp/{labelV.trim() || '<label>'}.</p>
        </div>
        <fieldset>
          <legend class={label}>Kind</legend>
          <div class="mt-1 flex flex-wrap gap-4 text-sm text-slate-200">
            <label class="flex items-center gap-2"><input type="radio" name="mj-kind" checked={kind === 'http'} onChange={() => setKind('http')} /> Remote (URL)</label>
            <label class="flex items-center gap-2"><input type="radio" name="mj-kind" checked={kind === 'stdio'} onChange={() => setKind('stdio')} /> Local command (stdio)</label>
          </div>
        </fieldset>
        {kind === 'http' ? (
          <>
            <div>
              <label class={label} for="mj-url">URL</label>
              <input id="mj-url" class={`${input} mt-1`} type="url" value={url} autocomplete="off" spellcheck={false}
                onInput={(e) => setUrl((e.currentTarget as HTMLInputElement).value)} />
            </div>
            <Pairs id="mj-h" legend="Headers" pairs={headers} setPairs={setHeaders} max={32} nameHint="Authorization" />
          </>
        ) : (
          <>
            <p class="rounded-md border border-amber-300 bg-amber-950 px-3 py-2 text-sm text-amber-200">
              LM Studio runs this command on its host; discovery runs it on the DaemonPulse host. Only add commands you trust.
            </p>
            <div>
              <label class={label} for="mj-cmd">Command</label>
              <input id="mj-cmd" class={`${input} mt-1`} value={command} autocomplete="off" spellcheck={false} placeholder="npx"
                onInput={(e) => setCommand((e.currentTarget as HTMLInputElement).value)} />
            </div>
            <div>
              <label class={label} for="mj-args">Arguments, one per line</label>
              <textarea id="mj-args" class={`${input} mt-1 font-mono`} rows={3} value={args} spellcheck={false}
                onInput={(e) => setArgs((e.currentTarget as HTMLTextAreaElement).value)} />
            </div>
            <Pairs id="mj-env" legend="Environment" pairs={env} setPairs={setEnv} max={32} nameHint="API_KEY" />
          </>
        )}
        <ErrorSlot error={error} />
        <Actions busy={busy} submit={server ? 'Save entry' : 'Add entry'} onClose={onClose} />
      </form>
    </Dialog>
  );
}
