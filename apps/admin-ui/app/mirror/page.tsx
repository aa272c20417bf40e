import type { Metadata } from 'next';
import { adminJson } from '../lib/admin-client';
import type { MirrorAnswer } from '../lib/types';
import { MirrorView } from './mirror-view';

export const dynamic = 'force-dynamic';
export const metadata: Metadata = { title: 'Mirroring' };

/** Mirroring: the pools whose `/proxy` traffic is copied to a shadow pool, and how the copies compared. */
export default async function MirrorPage() {
  const result = await adminJson<MirrorAnswer>('/admin/mirror');
  return result.ok ? (
    <MirrorView initial={result.data} />
  ) : (
    <MirrorView initial={undefined} initialError={{ error: result.error, message: result.message }} />
  );
}
