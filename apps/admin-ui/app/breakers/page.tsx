import type { Metadata } from 'next';
import { adminJson } from '../lib/admin-client';
import type { BreakersAnswer } from '../lib/types';
import { BreakersView } from './breakers-view';

export const dynamic = 'force-dynamic';
export const metadata: Metadata = { title: 'Breakers' };

/** Breakers: each backend's circuit breaker, the time to its next trial, and the transition history. */
export default async function BreakersPage() {
  const result = await adminJson<BreakersAnswer>('/admin/breakers');
  return result.ok ? (
    <BreakersView initial={result.data} />
  ) : (
    <BreakersView initial={undefined} initialError={{ error: result.error, message: result.message }} />
  );
}
