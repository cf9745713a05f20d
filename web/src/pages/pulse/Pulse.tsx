// Pulse.tsx - The Pulse: a streaming playground. Chat mode keeps a
// multi-turn conversation (saved to the user's history by the server),
// Compare mode sends one prompt to two models or configurations at once.
// Every stream is aborted when the page goes away; nothing from the model
// or the server reaches the DOM as HTML (answers go through the safe
// Markdown renderer, everything else is text).
import { useState } from 'preact/hooks';
import { listTargets } from '../../api/targets';
import { PageHeader } from '../../components/PageHeader';
import { Alert } from '../../components/Alert';
import { EMPTY_SAMPLING } from '../../lib/pulseForm';
import { useLoad } from '../../lib/useLoad';
import { search } from '../../state/router';
import { user } from '../../state/session';
import { ChatView } from './Chat';
import { CompareView } from './Compare';
import type { PickerValue } from './Controls';
import type { Shared } from './shared';

export type Mode = 'chat' | 'compare';

export function PulsePage() {
  const targets = useLoad((signal) => listTargets(signal), []);
  const [mode, setMode] = useState<Mode>(() => (new URLSearchParams(search.value).get('mode') === 'compare' ? 'compare' : 'chat'));
  const [shared, setShared] = useState<Shared>({ system: '', sampling: EMPTY_SAMPLING });
  const canChat = user.value?.role === 'operator' || user.value?.role === 'admin';
  const list = targets.data?.targets ?? [];
  const active = targets.data ? (targets.data.active_target_id ?? list[0]?.id ?? null) : null;
  const initial: PickerValue = { targetId: active, model: '', api: 'v1' };

  return (
    <div class="max-w-7xl">
      <PageHeader title="The Pulse" subtitle="Send a prompt, watch the tokens arrive, read honest numbers.">
        <div class="flex gap-1 rounded-lg border border-slate-700 bg-slate-900 p-1" role="group" aria-label="Mode">
          {(['chat', 'compare'] as Mode[]).map((m) => (
            <button key={m} type="button" aria-pressed={mode === m} onClick={() => setMode(m)}
              class={`rounded-md px-3 py-1.5 text-sm font-medium ${mode === m ? 'bg-indigo-600 text-white' : 'text-slate-200 hover:bg-slate-800'}`}>
              {m === 'chat' ? 'Chat' : 'Compare'}
            </button>
          ))}
        </div>
      </PageHeader>
      {!canChat ? (
        <div class="mb-4">
          <Alert kind="info">Your role (viewer) can read the history but not send prompts; an operator or admin can.</Alert>
        </div>
      ) : null}
      {targets.error ? <div class="mb-4"><Alert kind="error">{targets.error}</Alert></div> : null}
      {targets.data && list.length === 0 ? (
        <div class="mb-4"><Alert kind="warning" title="No daemon targets">Add an LM Studio target in Settings → Targets to chat with its models.</Alert></div>
      ) : null}
      {targets.data ? (
        mode === 'chat'
          ? <ChatView targets={list} initial={initial} shared={shared} setShared={setShared} canChat={canChat} />
          : <CompareView targets={list} initial={initial} shared={shared} setShared={setShared} canChat={canChat} />
      ) : null}
    </div>
  );
}
