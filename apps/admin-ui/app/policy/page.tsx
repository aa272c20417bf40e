import type { Metadata } from 'next';
import { adminJson } from '../lib/admin-client';
import type { PolicyStatus } from '../lib/types';
import { PolicyView } from './policy-view';

export const dynamic = 'force-dynamic';
export const metadata: Metadata = { title: 'Policy' };

/** Policy: the running policy and its rules, decisions, the candidate against the active one, a what-if form. */
export default async function PolicyPage() {
  const result = await adminJson<PolicyStatus>('/admin/policy');
  return result.ok ? (
    <PolicyView initial={result.data} />
  ) : (
    <PolicyView initial={undefined} initialError={{ error: result.error, message: result.message }} />
  );
}
