import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SecurityEvents, type SecurityEvent } from '../src/events/security-events';
import { startOrchestrator, type RunningOrchestrator } from './harness';
import { eventually } from './eventually';

/** A rule asking for the longest tarpit base rules accept (60 s), and one asking for none. */
const RULES = {
  allow_all: true,
  advanced: [
    { tenant: '*', scopes: ['slowpoke'], path_prefix: '/', action: 'tarpit', tarpit_ms: 60_000 },
    { tenant: '*', scopes: ['instant'], path_prefix: '/', action: 'tarpit', tarpit_ms: 0 },
  ],
};

describe('tarpit hold (docs/policy.md: at most 30 s)', () => {
  let orch: RunningOrchestrator;
  const holds: number[] = [];

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'shieldx-e2e-tarpit-'));
    writeFileSync(join(dir, 'rules.json'), JSON.stringify(RULES));
    orch = await startOrchestrator({ ORCH_POOL_API: 'http://127.0.0.1:9', ORCH_POLICY_PATH: join(dir, 'rules.json') });
    orch.app.get(SecurityEvents).onEvent((event: SecurityEvent) => {
      if (event.type === 'policy.tarpit') holds.push(event.data.holdMs);
    });
  });

  afterAll(() => orch?.close());

  function routeFor(scope: string, signal?: AbortSignal): Promise<Response> {
    return fetch(`${orch.url}/route`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ service: 'api', tenant: 'acme', scope, path: '/v1/items' }),
      signal,
    });
  }

  it('holds a request that asks for 60 s for 30 s, and counts it as held meanwhile', async () => {
    const abort = new AbortController();
    const answer = routeFor('slowpoke', abort.signal).catch(() => undefined);
    const hold = await eventually(() => holds[0], { what: 'the policy.tarpit event' });
    expect(hold).toBe(30_000);
    const metrics = await (await fetch(`${orch.url}/metrics`)).text();
    expect(metrics).toMatch(/^orchestrator_tarpit_active 1$/m);
    abort.abort();
    await answer;
  });

  it('answers a zero hold at once', async () => {
    holds.length = 0;
    const answer = await routeFor('instant');
    expect(answer.status).toBe(200);
    expect(((await answer.json()) as Record<string, unknown>)['policy']).toBe('tarpit');
    expect(holds).toEqual([0]);
  });
});
