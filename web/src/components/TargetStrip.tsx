// TargetStrip.tsx - the global target/health strip. Targets are not built
// yet (a later issue adds /api/targets), so it says so instead of showing
// invented health.
export function TargetStrip() {
  return (
    <section aria-label="Daemon targets" class="flex flex-wrap items-center gap-x-3 gap-y-1 border-b border-slate-800 bg-slate-900 px-4 py-2 text-sm sm:px-8">
      <span class="inline-flex items-center gap-2 font-medium text-slate-200">
        <span class="h-2.5 w-2.5 rounded-full border border-slate-400" aria-hidden="true" />
        No targets configured
      </span>
      <span class="text-slate-400">
        DaemonPulse is not watching any LM Studio daemon yet; target management is not built yet.
      </span>
    </section>
  );
}
