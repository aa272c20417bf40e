import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClusterChannel } from '../src/cluster/cluster-channel';
import { startTestBackend, type TestBackend } from './backends';
import { eventually } from './eventually';
import { post, startOrchestrator, type RunningOrchestrator } from './harness';
import { startRedis, type RunningRedis } from './redis-harness';
import { flood, steady } from './traffic';

const TOKEN = 'adaptive-cluster-e2e-admin-token-01';
const TENANT_LIMIT = 60_000;
const TIGHTENED_LIMIT = TENANT_LIMIT * 0.1;
const KEYS = 'shieldx:adaptive:keys';

interface ProtectionView {
  adaptive: { mode: string; tightened: { key: string; instance: string; phase: string; factor: number }[] };
}

async function protection(orch: RunningOrchestrator): Promise<ProtectionView> {
  const response = await fetch(`${orch.url}/admin/protection`, { headers: { authorization: `Bearer ${TOKEN}` } });
  return (await response.json()) as ProtectionView;
}

/** The data of an instance's `ratelimit.adaptive` ledger entries for tenant:flooder of one change. */
async function adaptiveEntries(orch: RunningOrchestrator, change: string): Promise<Record<string, unknown>[]> {
  const response = await fetch(`${orch.url}/admin/audit?type=ratelimit.adaptive&limit=500`, {
    headers: { authorization: `Bearer ${TOKEN}` },
  });
  const page = (await response.json()) as { entries: { data: Record<string, unknown> }[] };
  return page.entries
    .map((entry) => entry.data)
    .filter((data) => data['key'] === 'tenant:flooder' && data['change'] === change);
}

const listed = async (orch: RunningOrchestrator, key: string, instance: string) =>
  (await protection(orch)).adaptive.tightened.some((entry) => entry.key === key && entry.instance === instance);

/** The tenant limit an instance applies to `tenant` now, from the answer's RateLimit-Limit (the tighter bucket). */
async function tenantLimit(orch: RunningOrchestrator, tenant: string): Promise<number> {
  const answer = await post(
    `${orch.url}/route`,
    { service: 'api', tenant, scope: 'read', path: '/v1/items' },
    // An IP of its own, far from its limit: the tenant's bucket is the one reported.
    { 'x-forwarded-for': '203.0.113.77' },
  );
  expect(answer.status).toBe(200);
  return Number(answer.headers.get('ratelimit-limit'));
}

/**
 * Two instances sharing one Redis, both with ORCH_ADAPTIVE=enforce: a key tightened by one instance's model is applied
 * by the other, released everywhere by an operator on either, and lapses when its origin stops renewing it.
 */
describe('adaptive limits shared through Redis', () => {
  let redis: RunningRedis;
  let backend: TestBackend;
  let a: RunningOrchestrator;
  let b: RunningOrchestrator;
  let inspect: Redis;

  const env = (id: string) => ({
    REDIS_ADDR: redis.url,
    ORCH_INSTANCE_ID: id,
    ORCH_POOL_API: backend.url,
    ORCH_TRUSTED_PROXIES: '127.0.0.1/32',
    ORCH_ADMIN_TOKEN: TOKEN,
    ORCH_ADAPTIVE: 'enforce',
    ORCH_ADAPTIVE_MIN_LEARNING: '2s',
    ORCH_ADAPTIVE_RECOVERY: '5m',
    ORCH_TENANT_BURST: String(TENANT_LIMIT),
    ORCH_IP_BURST: '1000000',
    ORCH_IP_BURST_DEGRADED: '1000000',
    ORCH_CLUSTER_RESYNC_EVERY: '250ms',
    ORCH_LOG_LEVEL: 'info',
  });

  beforeAll(async () => {
    redis = await startRedis();
    backend = await startTestBackend('adaptive-cluster-backend');
    a = await startOrchestrator(env('adaptive-a'));
    b = await startOrchestrator(env('adaptive-b'));
    inspect = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await inspect.connect();
    for (const orch of [a, b]) {
      await eventually(() => orch.app.get(ClusterChannel).status().inSync, { timeoutMs: 5000, what: 'in sync' });
    }
  });

  afterAll(async () => {
    inspect?.disconnect();
    await a?.close();
    await b?.close();
    await backend?.close();
    await redis?.stop();
  });

  it('applies on B a tenant that A tightened, and releases it on both when an operator releases it on B', async () => {
    expect(await tenantLimit(b, 'flooder')).toBe(TENANT_LIMIT);
    const others = ['t1', 't2', 't3', 't4'].map((tenant, i) => steady(a, tenant, `198.51.100.${i + 1}`, 12));
    const learning = steady(a, 'flooder', '198.51.100.9', 12);
    await new Promise((resolve) => setTimeout(resolve, 3_500));
    learning.stop();
    const attack = flood(a, 'flooder', '198.51.100.9', 16);
    try {
      await eventually(() => listed(a, 'tenant:flooder', 'adaptive-a'), { timeoutMs: 10_000, what: 'tightened on A' });
    } finally {
      await attack.stop();
      for (const other of others) other.stop();
    }
    // B never saw the flood: it applies A's factor from the shared channel, and lists where it came from.
    await eventually(() => listed(b, 'tenant:flooder', 'adaptive-a'), { timeoutMs: 2_000, what: 'shared with B' });
    // Tightened, or just starting its slow recovery (the flood is over): far below the full limit.
    const shared = await tenantLimit(b, 'flooder');
    expect(shared).toBeGreaterThanOrEqual(TIGHTENED_LIMIT);
    expect(shared).toBeLessThan(TENANT_LIMIT * 0.2);
    expect(Object.keys(await inspect.hgetall(KEYS))).toContain('adaptive-a tenant:flooder');
    // B's own model did not tighten it: the ledger entry is A's alone.
    await eventually(async () => (await adaptiveEntries(a, 'tightened')).length === 1, {
      timeoutMs: 2_000,
      what: "A's ledger",
    });
    expect(await adaptiveEntries(b, 'tightened')).toEqual([]);
    const metricsB = await (await fetch(`${b.url}/metrics`)).text();
    expect(metricsB).toMatch(/orchestrator_cluster_sync_total\{kind="adaptive",direction="applied"\} [1-9]/);

    const released = await fetch(`${b.url}/admin/protection/release`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify({ key: 'tenant:flooder' }),
    });
    expect(released.status).toBe(200);
    // A's model lets it go (its ledger says an operator did), and it leaves the shared table.
    await eventually(async () => (await adaptiveEntries(a, 'relaxed')).some((data) => data['cause'] === 'released'), {
      timeoutMs: 2_000,
      what: 'released on A',
    });
    await eventually(async () => !('adaptive-a tenant:flooder' in (await inspect.hgetall(KEYS))), {
      timeoutMs: 2_000,
      what: 'deleted from the shared table',
    });
    expect(await listed(a, 'tenant:flooder', 'adaptive-a')).toBe(false);
    expect(await listed(b, 'tenant:flooder', 'adaptive-a')).toBe(false);
    expect(await tenantLimit(b, 'flooder')).toBe(TENANT_LIMIT);
    expect(await tenantLimit(a, 'flooder')).toBe(TENANT_LIMIT);
  }, 40_000);

  it('applies a key another instance holds when it reads the table, and lets it lapse when no one renews it', async () => {
    const now = Date.now();
    const entry = {
      key: 'tenant:ghosted',
      origin: 'stopped-instance',
      phase: 'tightened',
      since: now,
      recoveringSince: 0,
      tightenFactor: 0.1,
      recoveryMs: 60_000,
      enforced: true,
      baselineRate: 5,
      currentRate: 400,
      thresholdRate: 20,
      expiresAt: now + 1_500,
    };
    await inspect.hset(KEYS, 'stopped-instance tenant:ghosted', JSON.stringify(entry), 'bad tenant:x', '{"phase":1}');
    await eventually(async () => (await tenantLimit(b, 'ghosted')) === TIGHTENED_LIMIT, {
      timeoutMs: 2_000,
      what: 'applied from the table',
    });
    await eventually(() => listed(a, 'tenant:ghosted', 'stopped-instance'), { timeoutMs: 2_000, what: 'on A too' });
    // A malformed entry is deleted and counted, never applied.
    expect(await inspect.hexists(KEYS, 'bad tenant:x')).toBe(0);
    // Its lease ends: full limit again everywhere, then the entry is tidied away.
    await eventually(async () => (await tenantLimit(b, 'ghosted')) === TENANT_LIMIT, {
      timeoutMs: 3_000,
      what: 'lapsed',
    });
    expect(await listed(b, 'tenant:ghosted', 'stopped-instance')).toBe(false);
    await eventually(async () => (await inspect.hexists(KEYS, 'stopped-instance tenant:ghosted')) === 0, {
      timeoutMs: 3_000,
      what: 'tidied away',
    });
  }, 20_000);

  it('refuses to release a key no instance has tightened', async () => {
    const answer = await fetch(`${b.url}/admin/protection/release`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify({ key: 'tenant:nobody' }),
    });
    expect(answer.status).toBe(404);
  });
});
