// NotFound.tsx - an unknown client route inside the shell.
import { Link } from '../components/Link';
import { PageHeader } from '../components/PageHeader';

export function NotFoundPage({ path }: { path: string }) {
  return (
    <div class="max-w-3xl">
      <PageHeader title="Page not found" />
      <p class="text-sm text-slate-300">There is no page at <code class="font-mono text-indigo-200">{path}</code>.</p>
      <p class="mt-3"><Link href="/fleet" class="text-sm text-indigo-300 underline underline-offset-2">Go to The Fleet</Link></p>
    </div>
  );
}
