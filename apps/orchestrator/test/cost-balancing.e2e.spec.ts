import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDemoBackend, type RunningDemoBackend } from '../src/demo/demo-backends';
import { startOrchestrator, type RunningOrchestrator } from './harness';

/** Sends `count` /proxy requests one after the other with `X-LB-Algo: cost`; counts the backends that answered. */
async function spread(orch: RunningOrchestrator, pool: string, count: number): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (let i = 0; i < count; i++) {
    const answer = await fetch(`${orch.url}/proxy/${pool}/v1/items/${i}`, {
      headers: { 'x-tenant': 'acme', 'x-scope': 'read', 'x-lb-algo': 'cost' },
    });
    expect(answer.status).toBe(200);
    const { backend } = (await answer.json()) as { backend: string };
    counts[backend] = (counts[backend] ?? 0) + 1;
  }
  return counts;
}

/** The `cost` algorithm on cheap-and-slower and expensive-and-fast backends (ORCH_COST_LATENCY_SLO = 150 ms). */
describe('cost-aware balancing (algorithm cost)', () => {
  const backends: RunningDemoBackend[] = [];
  let orch: RunningOrchestrator;

  beforeAll(async () => {
    const [cheap, dear, cheapTooSlow, dear2] = await Promise.all([
      startDemoBackend({ name: 'cheap', delayMs: 10, jitterMs: 0 }),
      startDemoBackend({ name: 'dear', delayMs: 0, jitterMs: 0 }),
      startDemoBackend({ name: 'cheap-too-slow', delayMs: 400, jitterMs: 0 }),
      startDemoBackend({ name: 'dear-2', delayMs: 0, jitterMs: 0 }),
    ]);
    backends.push(cheap, dear, cheapTooSlow, dear2);
    orch = await startOrchestrator({
      ORCH_BACKENDS_JSON: JSON.stringify({
        meets: [
          { url: cheap.url, cost: 0.1 },
          { url: dear.url, cost: 1 },
        ],
        misses: [
          { url: cheapTooSlow.url, cost: 0.1 },
          { url: dear2.url, cost: 1 },
        ],
      }),
      // Far above the cheap backend's 10 ms, so a machine busy with other tests does not push it over.
      ORCH_COST_LATENCY_SLO: '150ms',
      ORCH_TENANT_BURST: '100000',
      ORCH_IP_BURST: '100000',
      ORCH_IP_BURST_DEGRADED: '100000',
    });
  });

  afterAll(async () => {
    await orch?.close();
    await Promise.all(backends.map((backend) => backend.close()));
  });

  it('sends every request to the cheap backend while its latency meets the objective', async () => {
    const counts = await spread(orch, 'meets', 60);
    expect(counts).toEqual({ cheap: 60 });
  });

  it('moves to the dearer backend once the cheap one is slower than the objective', async () => {
    const counts = await spread(orch, 'misses', 60);
    // The cheap backend is tried while its estimate is still the default (50 ms); one 400 ms answer shows it misses.
    expect(counts['cheap-too-slow'] ?? 0).toBeLessThanOrEqual(3);
    expect(counts['dear-2']).toBeGreaterThanOrEqual(57);
  });

  it('is an algorithm /route accepts and names in its answer', async () => {
    const routed = await fetch(`${orch.url}/route`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ service: 'meets', tenant: 'acme', scope: 'read', path: '/v1/x', algo: 'cost' }),
    });
    expect(routed.status).toBe(200);
    expect(await routed.json()).toMatchObject({ algo: 'cost', target: backends[0].url });
  });
});
