import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RolloutSyncService } from '../src/cluster/rollout-sync.service';
import { eventually } from './eventually';
import { startOrchestrator, type RunningOrchestrator, UNLIMITED } from './harness';
import { startRedis, type RunningRedis } from './redis-harness';
import { call, startVersion, type VersionBackend } from './rollout-backends';

const TOKEN = 'admin-token-for-rollout-cluster-0123456789';
const AUTH = { authorization: `Bearer ${TOKEN}` };
const READ = { 'x-tenant': 'acme', 'x-scope': 'read' };
const DECIDER = 'shieldx:rollouts:decider';

interface RolloutBody {
  state: string;
  percent: number;
  history: { kind: string; canary: { requests: number } }[];
}

/**
 * Two instances sharing one Redis: a rollout started on one is split alike on both, decided by one instance from the
 * counts of both, and decided by the other once the first stops.
 */
describe(RolloutSyncService.name, () => {
  let redis: RunningRedis;
  let inspect: Redis;
  let stable: VersionBackend;
  let green: VersionBackend;
  let a: RunningOrchestrator;
  let b: RunningOrchestrator;
  let c: RunningOrchestrator | undefined;

  const env = (id: string) => ({
    REDIS_ADDR: redis.url,
    ORCH_INSTANCE_ID: id,
    ORCH_ADMIN_TOKEN: TOKEN,
    ORCH_POOL_WEB: stable.url,
    ORCH_POOL_SUM: stable.url,
    ORCH_POOL_FAILOVER: stable.url,
    ORCH_POOL_SHADOW: stable.url,
    ...UNLIMITED,
    ORCH_CLUSTER_RESYNC_EVERY: '200ms',
  });
  const rollout = async (orch: RunningOrchestrator, pool: string): Promise<RolloutBody | undefined> => {
    const answer = await call(orch.url, 'GET', `/admin/rollouts/${pool}`, undefined, AUTH);
    return answer.status === 200 ? (answer.body as unknown as RolloutBody) : undefined;
  };
  const names = async (orch: RunningOrchestrator, pool: string, count: number): Promise<string[]> => {
    const seen: string[] = [];
    for (let i = 0; i < count; i++) {
      seen.push(String((await call(orch.url, 'GET', `/proxy/${pool}/x`, undefined, READ)).body['name']));
    }
    return seen;
  };
  const spec = (overrides: Record<string, unknown>) => ({
    stable: [stable.url],
    canary: [green.url],
    steps: [50, 100],
    interval: '1h',
    maxErrorRate: 0.1,
    maxP99Ratio: 100,
    minRequests: 1000,
    ...overrides,
  });

  beforeAll(async () => {
    redis = await startRedis();
    inspect = new Redis(redis.url);
    stable = await startVersion('stable');
    green = await startVersion('green');
    a = await startOrchestrator(env('rollout-a'));
    b = await startOrchestrator(env('rollout-b'));
  });

  afterAll(async () => {
    await a?.close();
    await b?.close();
    await c?.close();
    inspect?.disconnect();
    await Promise.all([stable, green].map((backend) => backend?.close()));
    await redis?.stop();
  });

  it('applies a rollout started on one instance on both: the same split, and an abort everywhere', async () => {
    expect((await call(a.url, 'PUT', '/admin/rollouts/web', spec({}), AUTH)).status).toBe(200);
    await eventually(async () => (await rollout(b, 'web'))?.percent === 50);
    // The exact weighted split: every second pick of each instance goes to the new set.
    expect((await names(b, 'web', 10)).filter((name) => name === 'green')).toHaveLength(5);
    expect((await names(a, 'web', 10)).filter((name) => name === 'green')).toHaveLength(5);
    expect((await call(b.url, 'POST', '/admin/rollouts/web/abort', undefined, AUTH)).body['state']).toBe('aborted');
    await eventually(async () => (await rollout(a, 'web'))?.state === 'aborted');
    expect(new Set(await names(a, 'web', 6))).toEqual(new Set(['stable']));
  });

  it('decides from the counts of both instances, which neither reaches alone', async () => {
    const put = await call(b.url, 'PUT', '/admin/rollouts/sum', spec({ interval: '400ms', minRequests: 20 }), AUTH);
    expect(put.status).toBe(200);
    await eventually(async () => (await rollout(a, 'sum'))?.percent === 50);
    // 20 requests on each: 10 canary requests per instance, 20 together.
    await names(a, 'sum', 20);
    await names(b, 'sum', 20);
    await eventually(async () => (await rollout(a, 'sum'))?.percent === 100, { timeoutMs: 10_000 });
    // b learns the step from the shared state on its next resync, not at the same instant as a.
    const advanced = async () => (await rollout(b, 'sum'))?.history.find((h) => h.kind === 'advanced');
    await eventually(async () => (await advanced()) !== undefined);
    expect((await advanced())?.canary.requests).toBe(20);
  });

  it('hands the decisions to the other instance when the deciding one stops', async () => {
    await eventually(async () => (await inspect.get(DECIDER)) !== null);
    const decider = await inspect.get(DECIDER);
    const [gone, survivor] = decider === 'rollout-a' ? [a, b] : [b, a];
    const survivorId = decider === 'rollout-a' ? 'rollout-b' : 'rollout-a';
    expect(
      (await call(survivor.url, 'PUT', '/admin/rollouts/failover', spec({ interval: '300ms', minRequests: 5 }), AUTH))
        .status,
    ).toBe(200);
    await gone.close();
    if (gone === a) a = undefined as unknown as RunningOrchestrator;
    else b = undefined as unknown as RunningOrchestrator;
    await eventually(async () => (await inspect.get(DECIDER)) === survivorId, { timeoutMs: 10_000 });
    let body = await rollout(survivor, 'failover');
    for (let round = 0; body?.state === 'running' && round < 300; round++) {
      await names(survivor, 'failover', 10);
      body = await rollout(survivor, 'failover');
    }
    expect(body?.state).toBe('promoted');
    expect(body?.history.map((h) => h.kind)).toEqual(['started', 'advanced', 'promoted']);
  });

  it('never lets an instance with ORCH_ROLLOUT_DECIDER=0 decide, even when it is the only one left', async () => {
    c = await startOrchestrator({ ...env('rollout-c'), ORCH_ROLLOUT_DECIDER: '0' });
    expect((await call(c.url, 'PUT', '/admin/rollouts/shadow', spec({}), AUTH)).status).toBe(200);
    for (const orch of [a, b]) await orch?.close();
    a = undefined as unknown as RunningOrchestrator;
    b = undefined as unknown as RunningOrchestrator;
    await eventually(async () => (await inspect.get(DECIDER)) === null, { timeoutMs: 10_000 });
    // Two flushes of c's counts: the first tick's lease attempt is over before the second flush is seen.
    const field = 'shadow rollout-c';
    for (let flush = 1; flush <= 2; flush++) {
      await names(c, 'shadow', 2);
      await eventually(async () => {
        const share = await inspect.hget('shieldx:rollouts:windows', field);
        return share !== null && (JSON.parse(share) as { stable: { requests: number } }).stable.requests === flush;
      });
    }
    expect(await inspect.get(DECIDER)).toBeNull();
    expect(await rollout(c, 'shadow')).toMatchObject({ state: 'running', percent: 50 });
  });
});
