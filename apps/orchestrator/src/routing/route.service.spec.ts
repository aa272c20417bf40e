import type { Pool } from '@shieldx/lb';
import type { Decision, PolicyEngine } from '@shieldx/policy';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { QuotaService } from '../advisors/quota.service';
import type { ThreatScores } from '../advisors/threat-scores';
import { loadConfig } from '../config/config';
import type { SecurityEvent, SecurityEvents } from '../events/security-events';
import type { GatewayMetrics } from '../metrics/gateway-metrics';
import type { PoolsService } from '../pools/pools.service';
import type { RateLimitService } from '../ratelimit/rate-limit.service';
import type { RolloutsService } from '../rollouts/rollouts.service';
import { ANONYMOUS, type RouteContext, RouteService } from './route.service';
import type { RoutingMetrics } from './routing-metrics';

const REQUEST = { service: 'api', tenant: 'acme', scope: 'read', path: '/v1/items' };

/** A routing engine whose policy always answers `decision`, with the tarpit gauge and the events it emits recorded. */
function engine(decision: Decision) {
  const { config } = loadConfig({ ORCH_ALLOW_INSECURE: '1', ORCH_POOL_API: 'http://127.0.0.1:9' });
  const pool = { name: 'api', backends: [], healthyCount: () => 0 } as unknown as Pool;
  const policy: PolicyEngine = { source: 'test', decide: () => decision };
  const pools = { get: () => pool } as unknown as PoolsService;
  const limits = { checkTenant: () => undefined } as unknown as RateLimitService;
  const metrics = { denied: () => undefined, routed: () => undefined } as unknown as GatewayMetrics;
  const gauge: number[] = [];
  const routingMetrics = { tarpitHeld: (count: number) => gauge.push(count) } as unknown as RoutingMetrics;
  const events: SecurityEvent[] = [];
  const emitter = { emit: (event: SecurityEvent) => events.push(event) } as unknown as SecurityEvents;
  const threats = { enabled: false } as unknown as ThreatScores;
  const quota = { costOf: () => 0 } as unknown as QuotaService;
  const rollouts = { route: (p: Pool) => p } as unknown as RolloutsService;
  const service = new RouteService(
    config,
    policy,
    pools,
    limits,
    metrics,
    routingMetrics,
    emitter,
    threats,
    quota,
    rollouts,
  );
  return { service, gauge, events };
}

function context(): RouteContext {
  return {
    corrId: 'corr-1',
    method: 'POST',
    algoHeader: undefined,
    state: { clientIp: '127.0.0.1', clientKey: '127.0.0.1', identity: ANONYMOUS },
    identity: ANONYMOUS,
    dpopJkt: null,
    userAgent: undefined,
  };
}

/**
 * Plans one request under `decision` and reports when the plan settles. Nothing but the tarpit waits here, so the
 * time it settles at is the hold.
 */
function held(decision: Decision) {
  const { service, gauge, events } = engine(decision);
  const plan = service.plan(REQUEST, context());
  let settled = false;
  void Promise.resolve(plan).then(() => (settled = true));
  return { service, gauge, events, plan, isSettled: () => settled };
}

describe(RouteService.name, () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });

  afterEach(() => {
    vi.useRealTimers();
  });

  it.each([
    ['the longest hold a policy file accepts (60 s)', 60_000],
    ['ten minutes', 600_000],
    ['forever', Number.POSITIVE_INFINITY],
  ])('holds a tarpit that asks for %s for exactly 30 s (docs/policy.md)', async (_what, tarpitMs) => {
    const request = held({ action: 'tarpit', tarpitMs });
    expect(request.plan).toBeInstanceOf(Promise);
    expect(request.events.map((e) => e.type === 'policy.tarpit' && e.data.holdMs)).toEqual([30_000]);
    expect(request.service.tarpitActive).toBe(1);
    await vi.advanceTimersByTimeAsync(29_999);
    expect(request.isSettled()).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(request.isSettled()).toBe(true);
    await expect(request.plan).resolves.toMatchObject({ action: 'tarpit' });
    expect(request.service.tarpitActive).toBe(0);
    expect(request.gauge).toEqual([1, 0]);
  });

  it('holds a tarpit below the cap for the time it asks', async () => {
    const request = held({ action: 'tarpit', tarpitMs: 1500 });
    await vi.advanceTimersByTimeAsync(1499);
    expect(request.isSettled()).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(request.isSettled()).toBe(true);
    expect(request.events.map((e) => e.type === 'policy.tarpit' && e.data.holdMs)).toEqual([1500]);
  });
});
