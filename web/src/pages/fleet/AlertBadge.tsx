// AlertBadge.tsx - the shell's alert indicator: the number of firing
// telemetry alerts (VRAM, temperature, telemetry source down) and the most
// recent message, linking to The Fleet. Nothing when no alert fires.
import { useEffect } from 'preact/hooks';
import { Link } from '../../components/Link';
import { alerts, alertsError, startAlerts } from './alerts';

export function AlertBadge() {
  useEffect(() => startAlerts(), []);
  const list = alerts.value;
  if (alertsError.value && list.length === 0) return null;
  return (
    <div aria-live="polite" class="empty:hidden">
      {list.length > 0 ? (
        <Link href="/fleet" class="inline-flex max-w-full items-center gap-2 rounded-full border border-red-400 px-2 py-0.5 text-xs font-medium text-red-200 hover:bg-red-950">
          <span data-testid="alert-badge" class="whitespace-nowrap">
            {list.length} alert{list.length === 1 ? '' : 's'}
          </span>
          <span class="min-w-0 truncate">
            {list[list.length - 1].target}: {list[list.length - 1].message}
          </span>
        </Link>
      ) : null}
    </div>
  );
}
