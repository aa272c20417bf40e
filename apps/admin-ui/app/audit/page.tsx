import type { Metadata } from 'next';
import { adminJson, orchestratorUrl } from '../lib/admin-client';
import { AdminCallError, queryAudit, readFilter } from '../lib/audit-query';
import type { AuditView, ErrorBody, Verification, VerifyFailure, VerifyOk } from '../lib/types';
import { AuditTable } from './audit-view';

export const dynamic = 'force-dynamic';
export const metadata: Metadata = { title: 'Audit' };

type SearchParams = Promise<Record<string, string | string[] | undefined>>;

/** Reads `GET /admin/ledger/verify` on the server. */
async function verify(): Promise<Verification> {
  const result = await adminJson<VerifyOk>('/admin/ledger/verify');
  if (result.ok) return { state: 'ok', result: result.data };
  if (result.error === 'ledger_broken' && typeof result.details === 'object' && result.details !== null) {
    return { state: 'broken', result: result.details as VerifyFailure, message: result.message };
  }
  return { state: 'error', error: { error: result.error, message: result.message } };
}

async function page(filter: ReturnType<typeof readFilter>): Promise<{ view?: AuditView; error?: ErrorBody }> {
  try {
    return { view: await queryAudit(filter) };
  } catch (error) {
    if (error instanceof AdminCallError) return { error: error.body };
    return {
      error: {
        error: 'orchestrator_unreachable',
        message: `the orchestrator at ${orchestratorUrl()} did not answer (${(error as Error).message})`,
      },
    };
  }
}

/** Audit: the ledger as a paged, filterable table (type, tenant, correlation id) with its chain verification. */
export default async function AuditPage({ searchParams }: { searchParams: SearchParams }) {
  const filter = readFilter(await searchParams);
  const [entries, verification] = await Promise.all([page(filter), verify()]);
  return (
    <AuditTable
      key={JSON.stringify(filter)}
      filter={filter}
      initial={entries.view}
      initialError={entries.error}
      verification={verification}
    />
  );
}
