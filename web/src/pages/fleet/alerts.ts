// alerts.ts - firing telemetry alerts for the shell: loaded from
// GET /api/alerts on every (re)connect snapshot, then folded from the
// `alert` events of this tab's /api/events stream. startAlerts() returns
// its unsubscribe function.
import { signal } from '@preact/signals';
import { listAlerts, type TelemetryAlert } from '../../api/telemetry';
import { applyAlertEvent } from '../../lib/fleet';
import { onStreamEvent } from '../../state/targets';

export const alerts = signal<readonly TelemetryAlert[]>([]);
/** Set when /api/alerts could not be read (the badge says so instead of "no alerts"). */
export const alertsError = signal('');

export function startAlerts(): () => void {
  let ac: AbortController | null = null;
  const load = () => {
    ac?.abort();
    const mine = new AbortController();
    ac = mine;
    listAlerts(mine.signal).then(
      (l) => { if (!mine.signal.aborted) { alerts.value = l.filter((a) => a.state === 'firing'); alertsError.value = ''; } },
      (e) => { if (!mine.signal.aborted && !(e instanceof DOMException)) alertsError.value = 'alerts unavailable'; },
    );
  };
  const off = onStreamEvent((type, data) => {
    if (type === 'snapshot') load();
    else if (type === 'alert') alerts.value = applyAlertEvent(alerts.value, data);
  });
  load();
  return () => { off(); ac?.abort(); alerts.value = []; alertsError.value = ''; };
}
