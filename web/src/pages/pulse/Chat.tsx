// Chat.tsx - Chat mode: picker, system prompt, sampling, the transcript and
// the composer (Ctrl/Cmd+Enter sends, Stop or Escape stops), the history
// sidebar (reopen, rename, delete, export) and the target's slots.
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError } from '../../api';
import { streamChat, type ChatHandle } from '../../api/chat';
import { streamRun } from '../../api/mcp';
import { getConversation } from '../../api/conversations';
import type { Target } from '../../api/targets';
import { ErrorSlot } from '../../components/Alert';
import { btn, hint, input, panel } from '../../components/ui';
import { requestMessages, samplingFields, type Turn } from '../../lib/pulseForm';
import { applyEvent, closeRun, isActive, newRun, storedRun, type RunState } from '../../lib/pulseRun';
import { allowedMap, API_LOCK_REASON, effectiveApi, toolsRequest } from '../../lib/pulseTools';
import { errorText } from '../../lib/useLoad';
import { navigate, search } from '../../state/router';
import { Answer } from './Answer';
import { applyPickerChange, Picker, Sampling, SendButtons, SystemPrompt, type PickerValue } from './Controls';
import { History } from './History';
import { baseRequest, useAbortOnUnmount, useFramePaint, type Shared } from './shared';
import { Slots } from './Slots';
import { TOOLS_OFF, ToolsPanel, type ToolsState } from './Tools';

type Allowed = Map<string, Set<string>> | null;
type Item = { key: string; role: 'user'; content: string } | { key: string; role: 'assistant'; run: RunState; allowed?: Allowed };

let seq = 0;
const key = () => `i${++seq}`;

const now = () => performance.now();

export function ChatView({ targets, initial, shared, setShared, canChat }: {
  targets: Target[]; initial: PickerValue; shared: Shared; setShared: (s: Shared) => void; canChat: boolean;
}) {
  const [picker, setPicker] = useState<PickerValue>(initial);
  const [items, setItems] = useState<Item[]>([]);
  const [run, setRun] = useState<RunState | null>(null);
  const runRef = useRef<RunState | null>(null);
  const handle = useRef<(ChatHandle | null)[]>([null]);
  const [prompt, setPrompt] = useState('');
  const [conversationId, setConversationId] = useState<number | null>(null);
  const [error, setError] = useState('');
  const [historyVersion, setHistoryVersion] = useState(0);
  const [modelsVersion, setModelsVersion] = useState(0);
  const [showHistory, setShowHistory] = useState(false);
  const [opening, setOpening] = useState(false);
  const bottom = useRef<HTMLDivElement>(null);
  const promptRef = useRef<HTMLTextAreaElement>(null);
  const [tools, setTools] = useState<ToolsState>(TOOLS_OFF);
  // the tools the live run was sent with (to mark calls outside them)
  const [runAllowed, setRunAllowed] = useState<Allowed>(null);
  const api = effectiveApi(tools.on, picker.api);
  useAbortOnUnmount(handle);

  const busy = isActive(run);
  const { fields, errors } = samplingFields(shared.sampling, api);
  const canSend = canChat && !busy && prompt.trim() !== '' && picker.targetId !== null && picker.model !== ''
    && Object.keys(errors).length === 0 && (!tools.on || tools.ids.length > 0);

  const paint = useFramePaint(() => setRun(runRef.current));
  const update = (r: RunState, now = false) => { runRef.current = r; if (now) paint.now(); else paint.schedule(); };

  const turns = (list: Item[]): Turn[] => list.map((i) => (i.role === 'user' ? { role: 'user', content: i.content } : { role: 'assistant', content: i.run.content }));

  /** Stream an answer to `text` after `transcript`; `undo` puts the transcript back when the server refuses. */
  const begin = (transcript: Turn[], text: string, undo: () => void, regenerate: boolean) => {
    if (picker.targetId === null) return;
    setError('');
    const req = { ...baseRequest({ ...picker, api }, shared, fields), messages: requestMessages(transcript, text) };
    if (conversationId !== null) {
      req.conversation_id = conversationId;
      if (regenerate) req.regenerate = true;
    }
    follow.current = true;
    update(newRun(picker.model, null), true);
    const allowed = tools.on ? allowedMap(tools.preview) : null;
    setRunAllowed(allowed);
    const start = tools.on
      ? (t: number, h: Parameters<typeof streamChat>[2]) => streamRun(t, toolsRequest(req, tools.ids), h)
      : (t: number, h: Parameters<typeof streamChat>[2]) => streamChat(t, req, h);
    handle.current[0] = start(picker.targetId, {
      onSent: (at) => { if (runRef.current) update({ ...runRef.current, sentAt: at }); },
      onEvent: (e, at) => {
        if (!runRef.current) return;
        update(applyEvent(runRef.current, e, at));
        if (e.type === 'start' && e.conversation_id !== null) {
          setConversationId(e.conversation_id);
          navigate(`/pulse?c=${e.conversation_id}`, { replace: true });
          setHistoryVersion((v) => v + 1); // the server created or touched the conversation
        }
      },
      onClose: (err, aborted) => {
        const r = runRef.current;
        handle.current[0] = null;
        if (!r) return;
        const final = closeRun(r, now(), err ? { code: err.code, message: err.message } : null, aborted);
        runRef.current = null;
        paint.now();
        if (err && final.requestId === '') {
          // refused before the stream started (400, 403, 404, 409): nothing was sent upstream
          setError(err.message);
          undo();
          return;
        }
        setItems((old) => [...old, { key: key(), role: 'assistant', run: final, allowed }]);
        setHistoryVersion((v) => v + 1);
        setModelsVersion((v) => v + 1);
      },
    });
  };

  const send = () => {
    if (!canSend) return;
    const text = prompt;
    const transcript = turns(items);
    setItems((old) => [...old, { key: key(), role: 'user', content: text }]);
    setPrompt('');
    begin(transcript, text, () => { setItems((old) => old.slice(0, -1)); setPrompt(text); }, false);
  };

  // the last answer again, from the model and settings picked now; the
  // saved conversation drops the old answer (the server checks the question)
  const lastItem = items[items.length - 1];
  const question = items[items.length - 2];
  const canRegenerate = canChat && !busy && lastItem?.role === 'assistant' && question?.role === 'user'
    && picker.targetId !== null && picker.model !== '' && Object.keys(errors).length === 0
    && (!tools.on || tools.ids.length > 0);
  const regenerate = () => {
    if (!canRegenerate || lastItem?.role !== 'assistant' || question?.role !== 'user') return;
    const old = lastItem;
    setItems((list) => list.slice(0, -1));
    begin(turns(items.slice(0, -2)), question.content, () => setItems((list) => [...list, old]), true);
  };

  const stop = () => handle.current[0]?.stop();

  const newChat = () => {
    if (busy) return;
    setItems([]);
    setConversationId(null);
    setError('');
    navigate('/pulse', { replace: true });
    promptRef.current?.focus();
  };

  const open = async (id: number) => {
    if (busy) return;
    setOpening(true);
    setError('');
    try {
      const c = await getConversation(id);
      const next: Item[] = [];
      for (const m of c.messages) {
        if (m.role === 'user') next.push({ key: key(), role: 'user', content: m.content });
        else if (m.role === 'assistant') next.push({ key: key(), role: 'assistant', run: storedRun(m) });
      }
      setItems(next);
      setConversationId(c.id);
      const t = c.target_id !== null && targets.some((x) => x.id === c.target_id) ? c.target_id : picker.targetId;
      setPicker({ targetId: t, model: c.model ?? picker.model, api: (c.api === 'v0' || c.api === 'openai' || c.api === 'v1') ? c.api : picker.api });
      setShared({ ...shared, system: c.system_prompt ?? '' });
      setShowHistory(false);
      navigate(`/pulse?c=${c.id}`, { replace: true });
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) {
        setError('That conversation does not exist (any more).');
        navigate('/pulse', { replace: true });
      } else setError(errorText(e));
    } finally {
      setOpening(false);
    }
  };

  // /pulse?c=12 reopens a conversation (also after a reload)
  useEffect(() => {
    const c = Number(new URLSearchParams(search.value).get('c'));
    if (Number.isInteger(c) && c > 0 && c !== conversationId) void open(c);
  }, []);

  // Follow the answer while it streams: the marker is below the composer,
  // so the end of the answer and Stop stay in view (and in place). Sending
  // starts following; scrolling up (wheel, touch, keys) stops it, and
  // coming back to the bottom starts it again.
  const follow = useRef(true);
  useEffect(() => {
    const atBottom = () => { const m = bottom.current; return !!m && m.getBoundingClientRect().top <= window.innerHeight + 40; };
    const onWheel = (e: WheelEvent) => { if (e.deltaY < 0) follow.current = false; };
    const onTouch = () => { follow.current = false; };
    const onKey = (e: KeyboardEvent) => {
      const t = e.target as HTMLElement | null;
      if (t && (t.tagName === 'TEXTAREA' || t.tagName === 'INPUT' || t.tagName === 'SELECT')) return;
      if (e.key === 'PageUp' || e.key === 'ArrowUp' || e.key === 'Home') follow.current = false;
    };
    const onScroll = () => { if (atBottom()) follow.current = true; };
    window.addEventListener('wheel', onWheel, { passive: true });
    window.addEventListener('touchmove', onTouch, { passive: true });
    window.addEventListener('keydown', onKey);
    window.addEventListener('scroll', onScroll, { passive: true });
    return () => {
      window.removeEventListener('wheel', onWheel);
      window.removeEventListener('touchmove', onTouch);
      window.removeEventListener('keydown', onKey);
      window.removeEventListener('scroll', onScroll);
    };
  }, []);
  useEffect(() => {
    if (run && follow.current) bottom.current?.scrollIntoView({ block: 'end' });
  }, [run?.content.length, run?.reasoning.length, run?.status]);

  const onKeyDown = (e: KeyboardEvent) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) { e.preventDefault(); send(); }
    else if (e.key === 'Escape' && busy) { e.preventDefault(); stop(); }
  };

  return (
    <div class="grid gap-6 lg:grid-cols-[16rem_minmax(0,1fr)]">
      <div class="lg:order-none">
        <button type="button" class={`${btn.secondary} w-full lg:hidden`} aria-expanded={showHistory} aria-controls="pulse-history"
          onClick={() => setShowHistory(!showHistory)}>{showHistory ? 'Hide history' : 'Show history'}</button>
        <div id="pulse-history" class={`${showHistory ? 'mt-3 block' : 'hidden'} lg:mt-0 lg:block`}>
          <div class={`${panel} p-3`}>
            <History activeId={conversationId} version={historyVersion} onOpen={open}
              onDeleted={(id) => { if (id === conversationId) newChat(); }} />
          </div>
        </div>
      </div>

      <div class="min-w-0 space-y-4">
        <section class={`${panel} space-y-3 p-4`} aria-label="Model and settings">
          <Picker id="pulse" value={{ ...picker, api }} onChange={(c) => setPicker((p) => { const v = applyPickerChange(p, c); return tools.on ? { ...v, api: p.api } : v; })} targets={targets}
            disabled={busy} refresh={modelsVersion} apiLock={tools.on ? API_LOCK_REASON : undefined} />
          <SystemPrompt value={shared.system} onInput={(v) => setShared({ ...shared, system: v })} />
          <Sampling value={shared.sampling} errors={errors} api={api} onChange={(s) => setShared({ ...shared, sampling: s })} />
        </section>

        <Slots targetId={picker.targetId} highlight={[picker.model]} />

        <section aria-label="Conversation" class="space-y-3" data-testid="transcript">
          {opening ? <p class="text-sm text-slate-400">Opening the conversation…</p> : null}
          {items.length === 0 && !run && !opening ? (
            <p class="rounded-xl border border-dashed border-slate-700 p-6 text-center text-sm text-slate-400">
              {conversationId ? 'This conversation has no messages.' : 'Nothing sent yet. Type a message below; Ctrl+Enter (⌘+Enter) sends it.'}
            </p>
          ) : null}
          {items.map((i) => (i.role === 'user' ? (
            <div key={i.key} class="ml-auto max-w-[90%] rounded-xl border border-slate-700 bg-slate-800 px-4 py-3 sm:max-w-[75%]" data-testid="user-message">
              <p class="mb-1 text-[11px] font-semibold uppercase tracking-wider text-slate-400">You</p>
              <p class="whitespace-pre-wrap break-words text-sm text-slate-100">{i.content}</p>
            </div>
          ) : <Answer key={i.key} run={i.run} allowed={i.allowed}
            onRegenerate={i === lastItem && canRegenerate ? regenerate : undefined}
            regenerateLabel={picker.model && picker.model !== i.run.model ? `Regenerate with ${picker.model}` : 'Regenerate'} />))}
          {run ? <Answer run={run} allowed={runAllowed} /> : null}
        </section>

        <section class={`${panel} p-4`} aria-label="Compose">
          <label for="pulse-prompt" class="block text-sm font-medium text-slate-200">Message</label>
          <textarea id="pulse-prompt" ref={promptRef} rows={4} class={`${input} mt-1`} value={prompt} disabled={!canChat}
            placeholder={canChat ? 'Ask the model something…' : 'Viewers cannot send prompts'}
            aria-describedby="pulse-prompt-hint" onKeyDown={onKeyDown}
            onInput={(e) => setPrompt((e.currentTarget as HTMLTextAreaElement).value)} />
          <p id="pulse-prompt-hint" class={hint}>Ctrl+Enter or ⌘+Enter sends; Escape stops a running answer.
            {conversationId ? ' Replies are saved to this conversation.' : ' A new conversation is saved to your history.'}</p>
          {canChat ? <ToolsPanel targetId={picker.targetId} disabled={busy} onChange={setTools} /> : null}
          <ErrorSlot error={error} class="mt-2" />
          <div class="mt-3 flex flex-wrap items-center gap-2">
            <SendButtons busy={busy} canSend={canSend} onSend={send} onStop={stop} />
            <button type="button" class={btn.secondary} onClick={newChat} disabled={busy || (items.length === 0 && conversationId === null)}>New chat</button>
            {picker.model ? <span class="min-w-0 truncate text-xs text-slate-400">to {picker.model}{tools.on ? ` with tools (${tools.ids.length} ${tools.ids.length === 1 ? 'server' : 'servers'})` : ''}</span> : null}
          </div>
        </section>
        <div ref={bottom} />
      </div>
    </div>
  );
}
