import type { Metadata } from 'next';
import { adminJson } from '../lib/admin-client';
import type { ProtectionAnswer } from '../lib/types';
import { ProtectionView } from './protection-view';

export const dynamic = 'force-dynamic';
export const metadata: Metadata = { title: 'Protection' };

/** Protection: keys tightened by the adaptive limits, threat scores of recent clients, the quota service's state. */
export default async function ProtectionPage() {
  const result = await adminJson<ProtectionAnswer>('/admin/protection');
  return result.ok ? (
    <ProtectionView initial={result.data} />
  ) : (
    <ProtectionView initial={undefined} initialError={{ error: result.error, message: result.message }} />
  );
}
