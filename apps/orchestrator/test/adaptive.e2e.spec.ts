import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestBackend, type TestBackend } from './backends';
import { eventually } from './eventually';
import { startOrchestrator, type RunningOrchestrator } from './harness';
import { flood, steady } from './traffic';

const TOKEN = 'adaptive-e2e-admin-token-0123456789';

describe('adaptive rate limiting (ORCH_ADAPTIVE=enforce)', () => {
  let backend: TestBackend;
  let orch: RunningOrchestrator;

  beforeAll(async () => {
    backend = await startTestBackend('adaptive-backend');
    orch = await startOrchestrator({
      ORCH_POOL_API: backend.url,
      ORCH_TRUSTED_PROXIES: '127.0.0.1/32',
      ORCH_ADMIN_TOKEN: TOKEN,
      ORCH_ADAPTIVE: 'enforce',
      ORCH_ADAPTIVE_MIN_LEARNING: '2s',
      ORCH_ADAPTIVE_RECOVERY: '1s',
      // Static limits far above what anyone sends here: only the adaptive factor can refuse.
      ORCH_TENANT_BURST: '60000',
      ORCH_IP_BURST: '60000',
      ORCH_IP_BURST_DEGRADED: '60000',
    });
  });

  afterAll(async () => {
    await orch?.close();
    await backend?.close();
  });

  it('tightens the one tenant that floods far above its baseline, never the steady ones, then lets it recover', async () => {
    const others = ['t1', 't2', 't3', 't4'].map((tenant, i) => steady(orch, tenant, `198.51.100.${i + 1}`, 12));
    const learning = steady(orch, 'flooder', '198.51.100.9', 12);
    // Past the minimum learning time, with a few seconds of baseline.
    await new Promise((resolve) => setTimeout(resolve, 4_000));
    learning.stop();
    const attack = flood(orch, 'flooder', '198.51.100.9', 16);
    try {
      await eventually(() => attack.statuses.includes(429), { timeoutMs: 10_000 });
    } finally {
      await attack.stop();
    }
    const tightened = orch.logs.find(
      (line) =>
        line['event'] === 'ratelimit.adaptive' && (line['data'] as Record<string, unknown>)['change'] === 'tightened',
    );
    expect(tightened).toBeDefined();
    expect((tightened?.['data'] as Record<string, unknown>)['mode']).toBe('enforce');
    const refused = attack.statuses.filter((status) => status === 429).length;
    expect(refused).toBeGreaterThan(0);

    const view = (await (
      await fetch(`${orch.url}/admin/protection`, { headers: { authorization: `Bearer ${TOKEN}` } })
    ).json()) as { adaptive: { mode: string; tightened: { key: string; factor: number }[] } };
    expect(view.adaptive.mode).toBe('enforce');
    expect(view.adaptive.tightened.map((entry) => entry.key)).toEqual(
      expect.arrayContaining([expect.stringMatching(/^(tenant:flooder|ip:198\.51\.100\.0)$/)]),
    );
    // An admin gives the tenant its full limit back (audited); the model learns it afresh.
    expect(view.adaptive.tightened.map((entry) => entry.key)).toContain('tenant:flooder');
    const released = await fetch(`${orch.url}/admin/protection/release`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify({ key: 'tenant:flooder' }),
    });
    expect(released.status).toBe(200);
    expect(await released.json()).toEqual({ key: 'tenant:flooder', released: true });
    expect(orch.logs).toContainEqual(
      expect.objectContaining({
        event: 'admin.action',
        data: expect.objectContaining({ action: 'adaptive.release', key: 'tenant:flooder' }),
      }),
    );
    const metrics = await (await fetch(`${orch.url}/metrics`)).text();
    expect(metrics).toMatch(
      /orchestrator_adaptive_changes_total\{change="tightened",scope="(tenant|ip)",mode="enforce"\} [1-9]/,
    );

    // Back to its usual rate: the flooder's IP (still tightened) recovers, then is relaxed.
    const calm = steady(orch, 'flooder', '198.51.100.9', 12);
    await eventually(
      () =>
        orch.logs.some(
          (line) =>
            line['event'] === 'ratelimit.adaptive' &&
            (line['data'] as Record<string, unknown>)['change'] === 'relaxed' &&
            (line['data'] as Record<string, unknown>)['cause'] === 'recovered',
        ),
      { timeoutMs: 15_000 },
    );
    calm.stop();
    for (const other of others) other.stop();
    await new Promise((resolve) => setTimeout(resolve, 300));
    for (const other of others) {
      expect(other.statuses.length).toBeGreaterThan(30);
      expect(other.statuses.every((status) => status === 200)).toBe(true);
    }
  }, 40_000);

  it('refuses to release a key that is not tightened, or a malformed one', async () => {
    const release = (key: unknown, auth = true) =>
      fetch(`${orch.url}/admin/protection/release`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(auth ? { authorization: `Bearer ${TOKEN}` } : {}) },
        body: JSON.stringify({ key }),
      });
    const normal = await release('tenant:t1');
    expect(normal.status).toBe(404);
    expect(await normal.json()).toMatchObject({ error: 'not_tightened' });
    expect((await release('tenant:nobody-here')).status).toBe(404);
    for (const bad of ['t1', 'user:x', 'tenant:', 42, 'tenant:a b']) expect((await release(bad)).status).toBe(400);
    expect((await release('tenant:t1', false)).status).toBe(401);
  });
});
