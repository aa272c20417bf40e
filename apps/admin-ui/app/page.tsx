import { adminJson } from './lib/admin-client';
import type { MetricsAnswer } from './lib/types';
import { OverviewView } from './overview-view';

export const dynamic = 'force-dynamic';

/** Overview: live traffic, denials, latency, cache and health figures (the last five minutes to start with). */
export default async function OverviewPage() {
  const result = await adminJson<MetricsAnswer>('/admin/metrics');
  return result.ok ? (
    <OverviewView initial={result.data.samples} />
  ) : (
    <OverviewView initial={[]} initialError={{ error: result.error, message: result.message }} />
  );
}
