import type { Metadata } from 'next';
import { adminJson } from '../../lib/admin-client';
import type { ClusterStatus, StreamAuditPage } from '../../lib/types';
import { ClusterAuditTable } from './cluster-view';

export const dynamic = 'force-dynamic';
export const metadata: Metadata = { title: 'Audit: all instances' };

/** A stream id as the orchestrator's cursor takes it (`<ms>-<n>`); anything else starts from the newest entry. */
const STREAM_ID = /^\d{1,20}-\d{1,20}$/;

/** Entries per page. */
const PAGE_SIZE = 50;

type SearchParams = Promise<Record<string, string | string[] | undefined>>;

/**
 * Audit, all instances: the shared audit stream every instance mirrors its ledger entries to (with Redis), newest
 * first, each entry with the instance whose ledger holds it. Without Redis there is no such stream, and the page says
 * so.
 */
export default async function ClusterAuditPage({ searchParams }: { searchParams: SearchParams }) {
  const raw = (await searchParams).before;
  const given = Array.isArray(raw) ? raw[0] : raw;
  const before = given !== undefined && STREAM_ID.test(given) ? given : undefined;
  const status = await adminJson<ClusterStatus>('/admin/cluster');
  if (!status.ok) {
    return <ClusterAuditTable before={before} standalone={status.status === 404} error={status} />;
  }
  const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
  if (before !== undefined) query.set('before', before);
  const page = await adminJson<StreamAuditPage>(`/admin/cluster/audit?${query.toString()}`);
  return (
    <ClusterAuditTable
      before={before}
      standalone={false}
      instance={status.data.instanceId}
      page={page.ok ? page.data : undefined}
      error={page.ok ? undefined : page}
    />
  );
}
