// Settings.tsx - Settings with its tabs (one URL each): Users and Audit log
// for admins, API tokens and Account for everyone.
import { Link } from '../../components/Link';
import { PageHeader } from '../../components/PageHeader';
import { Alert } from '../../components/Alert';
import { ADMIN_TABS, type SettingsTab } from '../../lib/routes';
import { isAdmin } from '../../state/session';
import { UsersTab } from './Users';
import { TokensTab } from './Tokens';
import { AuditTab } from './Audit';
import { AccountTab } from './Account';
import { TargetsTab } from './Targets';
import { ModeTab } from './Mode';

const TABS: { key: SettingsTab; label: string }[] = [
  { key: 'users', label: 'Users' },
  { key: 'targets', label: 'Daemon targets' },
  { key: 'mode', label: 'Mode & presets' },
  { key: 'tokens', label: 'API tokens' },
  { key: 'audit', label: 'Audit log' },
  { key: 'account', label: 'Account' },
];

export function SettingsPage({ tab }: { tab: SettingsTab }) {
  const admin = isAdmin.value;
  const visible = TABS.filter((t) => admin || !ADMIN_TABS.includes(t.key));
  const current = TABS.find((t) => t.key === tab)!;
  const allowed = admin || !ADMIN_TABS.includes(tab);
  return (
    <div class="max-w-5xl">
      <PageHeader title={`Settings · ${current.label}`} subtitle={admin ? 'Users, daemon targets, mode and load presets, API tokens, the audit trail and your account.' : 'Daemon targets, mode and load presets (read only), your API tokens and your account.'} />
      <nav aria-label="Settings sections" class="mb-6 border-b border-slate-700">
        <ul class="-mb-px flex flex-wrap gap-x-1">
          {visible.map((t) => (
            <li key={t.key}>
              <Link href={`/settings/${t.key}`} aria-current={t.key === tab ? 'page' : undefined}
                class={`inline-block border-b-2 px-3 py-2 text-sm font-medium ${t.key === tab
                  ? 'border-indigo-400 text-indigo-200'
                  : 'border-transparent text-slate-300 hover:border-slate-500 hover:text-white'}`}>
                {t.label}
              </Link>
            </li>
          ))}
        </ul>
      </nav>
      {!allowed ? (
        <Alert kind="warning" title="Admins only">This section is available to administrators.</Alert>
      ) : tab === 'users' ? <UsersTab />
        : tab === 'targets' ? <TargetsTab />
        : tab === 'mode' ? <ModeTab />
        : tab === 'tokens' ? <TokensTab />
          : tab === 'audit' ? <AuditTab />
            : <AccountTab />}
    </div>
  );
}
