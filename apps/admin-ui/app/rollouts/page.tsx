import type { Metadata } from 'next';
import { adminJson } from '../lib/admin-client';
import type { RolloutsAnswer } from '../lib/types';
import { RolloutsView } from './rollouts-view';

export const dynamic = 'force-dynamic';
export const metadata: Metadata = { title: 'Rollouts' };

/** Rollouts: canary and blue-green rollouts of pools, live, with pause, resume, promote and abort. */
export default async function RolloutsPage() {
  const result = await adminJson<RolloutsAnswer>('/admin/rollouts');
  return result.ok ? (
    <RolloutsView initial={result.data} />
  ) : (
    <RolloutsView initial={undefined} initialError={{ error: result.error, message: result.message }} />
  );
}
