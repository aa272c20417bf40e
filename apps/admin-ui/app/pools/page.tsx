import type { Metadata } from 'next';
import { adminJson } from '../lib/admin-client';
import type { PoolsAnswer } from '../lib/types';
import { PoolsView } from './pools-view';

export const dynamic = 'force-dynamic';
export const metadata: Metadata = { title: 'Pools' };

/** Pools: every backend with health, breaker, latency, in-flight count and weight; pools can be edited. */
export default async function PoolsPage() {
  const result = await adminJson<PoolsAnswer>('/admin/pools');
  return result.ok ? (
    <PoolsView initial={result.data} />
  ) : (
    <PoolsView initial={undefined} initialError={{ error: result.error, message: result.message }} />
  );
}
