// Module.tsx - the honest empty state of a module a later issue builds:
// what it will do, that it is not built yet, and no invented data.
import { Link } from '../components/Link';
import { PageHeader } from '../components/PageHeader';
import { panel } from '../components/ui';
import { MODULE_INFO } from '../lib/nav';
import type { ModuleName } from '../lib/routes';
import { isAdmin } from '../state/session';

export function ModulePage({ name }: { name: ModuleName }) {
  const info = MODULE_INFO[name];
  return (
    <div class="max-w-3xl">
      <PageHeader title={info.title} subtitle={info.tagline} />
      <section class={`${panel} p-5`} aria-labelledby="status-heading">
        <div class="flex flex-wrap items-center gap-3">
          <h2 id="status-heading" class="text-base font-semibold text-white">What {info.title} will do</h2>
          <span class="rounded-full border border-amber-300 px-2 py-0.5 text-xs font-medium text-amber-200">Not built yet</span>
        </div>
        <p class="mt-2 text-sm text-slate-300">
          This module is not built yet. Nothing here is simulated: the page stays empty until the module exists and a
          daemon target is configured. When it is built, it will offer:
        </p>
        <ul class="mt-3 list-disc space-y-1.5 pl-5 text-sm text-slate-300">
          {info.plans.map((p) => <li key={p}>{p}</li>)}
        </ul>
        {name === 'console' && isAdmin.value ? (
          <p class="mt-4 text-sm text-slate-300">
            DaemonPulse’s own audit trail already works:{' '}
            <Link href="/settings/audit" class="text-indigo-300 underline underline-offset-2 hover:text-indigo-200">Settings → Audit log</Link>.
          </p>
        ) : null}
      </section>
    </div>
  );
}
