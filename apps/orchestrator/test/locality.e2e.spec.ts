import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PoolsService } from '../src/pools/pools.service';
import { startTestBackend, type TestBackend } from './backends';
import { eventually } from './eventually';
import { post, startOrchestrator, type RunningOrchestrator, UNLIMITED } from './harness';

const CALLER = { 'x-tenant': 'acme', 'x-scope': 'read' };
const ROUTE = { service: 'api', tenant: 'acme', scope: 'read', path: '/v1/items' };
const TOKEN = 'locality-admin-token-0123456789abcdef';
const AUTH = { authorization: `Bearer ${TOKEN}` };

/** Proxies `n` GETs one after the other; returns the statuses and the backend name of each 200. */
async function proxyMany(orch: RunningOrchestrator, n: number): Promise<{ statuses: number[]; served: string[] }> {
  const statuses: number[] = [];
  const served: string[] = [];
  for (let i = 0; i < n; i++) {
    const response = await fetch(`${orch.url}/proxy/api/v1/items`, { headers: CALLER });
    statuses.push(response.status);
    const body = (await response.json()) as { backend?: string };
    if (response.status === 200 && body.backend !== undefined) served.push(body.backend);
  }
  return { statuses, served };
}

/** Asks `/route` `n` times; counts the answers' `locality` values. */
async function routeMany(
  orch: RunningOrchestrator,
  n: number,
  headers: Record<string, string> = {},
): Promise<Record<string, number>> {
  const tiers: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const answer = await post(`${orch.url}/route`, ROUTE, headers);
    expect(answer.status).toBe(200);
    const tier = String(answer.body['locality']);
    tiers[tier] = (tiers[tier] ?? 0) + 1;
  }
  return tiers;
}

function healthyCount(orch: RunningOrchestrator): number {
  return orch.app.get(PoolsService).get('api')?.healthyCount() ?? -1;
}

describe('locality-aware routing (zone → region → anywhere)', () => {
  let local: TestBackend[];
  let remote: TestBackend[];
  let orch: RunningOrchestrator;
  let tableDir: string;

  beforeAll(async () => {
    local = await Promise.all(['local-1', 'local-2'].map((name) => startTestBackend(name)));
    remote = await Promise.all(['remote-1', 'remote-2'].map((name) => startTestBackend(name)));
    tableDir = mkdtempSync(join(tmpdir(), 'shieldx-regions-'));
    // Loopback clients are in us-1 by the table; the header (from a trusted proxy) can say otherwise.
    writeFileSync(join(tableDir, 'regions.txt'), '# test networks\n10.0.0.0/8 eu-1\n', 'utf8');
    orch = await startOrchestrator({
      ...UNLIMITED,
      ORCH_ADMIN_TOKEN: TOKEN,
      ORCH_ZONE: 'eu-1a',
      ORCH_REGION: 'eu-1',
      ORCH_CLIENT_REGION_HEADER: 'X-Client-Region',
      ORCH_CLIENT_REGION_TABLE: join(tableDir, 'regions.txt'),
      ORCH_TRUSTED_PROXIES: '127.0.0.1',
      ORCH_BACKENDS_JSON: JSON.stringify({
        api: [
          ...local.map((b) => ({ url: b.url, zone: 'eu-1a', region: 'eu-1', cost: 0.4 })),
          ...remote.map((b) => ({ url: b.url, zone: 'us-1a', region: 'us-1', cost: 0.2 })),
        ],
        plain: [remote[0].url],
      }),
      ORCH_LB_ALGO: 'round_robin',
      ORCH_HEALTH_EVERY: '300ms',
      ORCH_HEALTH_TIMEOUT: '200ms',
      ORCH_CB_FAILS: '3',
      ORCH_CB_OPEN_FOR: '30s',
      // Two local backends: two retries let a request that meets both of them, dead and not yet detected, reach a
      // remote one.
      ORCH_PROXY_RETRIES: '2',
    });
    await eventually(() => healthyCount(orch) === 4, { what: 'all four backends healthy' });
  });

  afterAll(async () => {
    await orch?.close();
    await Promise.all([...(local ?? []), ...(remote ?? [])].map((b) => b.close()));
    if (tableDir !== undefined) rmSync(tableDir, { recursive: true, force: true });
  });

  it('sends ≥ 95 % of the traffic to the local zone while it is healthy, through /proxy and /route', async () => {
    const { statuses, served } = await proxyMany(orch, 200);
    expect(statuses.every((s) => s === 200)).toBe(true);
    const localShare = served.filter((name) => name.startsWith('local')).length / served.length;
    console.info(`locality e2e: local share while healthy = ${(localShare * 100).toFixed(1)} %`);
    expect(localShare).toBeGreaterThanOrEqual(0.95);
    expect(await routeMany(orch, 50)).toEqual({ zone: 50 });
    const metrics = await (await fetch(`${orch.url}/metrics`)).text();
    expect(metrics).toMatch(/orchestrator_locality_picks_total\{pool="api",tier="zone"\} (\d+)/);
    // A pool whose backends name no place answers as before: no locality field, no tier metric.
    const plain = await post(`${orch.url}/route`, { ...ROUTE, service: 'plain' });
    expect(plain.status).toBe(200);
    expect(Object.keys(plain.body)).toEqual(['target', 'algo', 'policy', 'healthy', 'pool', 'cached']);
    expect(metrics).not.toMatch(/orchestrator_locality_picks_total\{pool="plain"/);
  });

  it('prefers the client region: from a trusted edge header, else from the CIDR table', async () => {
    // 127.0.0.1 is a trusted proxy here, so its header is believed.
    const answer = await post(`${orch.url}/route`, ROUTE, { 'x-client-region': 'us-1' });
    expect(answer.body).toMatchObject({ locality: 'region' });
    expect(remote.map((b) => b.url)).toContain(answer.body['target']);
    // The table places 10.0.0.0/8 (named by X-Forwarded-For through the trusted proxy) in eu-1: the gateway's zone.
    const tabled = await post(`${orch.url}/route`, ROUTE, { 'x-forwarded-for': '10.1.2.3' });
    expect(tabled.body).toMatchObject({ locality: 'zone' });
    // An invalid region name is ignored, not an error.
    const odd = await post(`${orch.url}/route`, ROUTE, { 'x-client-region': 'US 1!' });
    expect(odd.status).toBe(200);
    expect(odd.body['locality']).toBe('zone');
  });

  it('spills gradually at partial local health: 1 of 2 local healthy sends ~30 % to the next tier', async () => {
    local[0].healthStatus = 503;
    await eventually(() => healthyCount(orch) === 3, { what: 'local-1 marked unhealthy' });
    const n = 1_000;
    const tiers = await routeMany(orch, n);
    const spilled = (tiers['any'] ?? 0) / n;
    console.info(`locality e2e: spilled at h = 0.5 → ${(spilled * 100).toFixed(1)} % (expected 30 %)`);
    expect((tiers['zone'] ?? 0) + (tiers['any'] ?? 0)).toBe(n);
    // 30 % ± 8 points: more than five standard deviations of a binomial draw of 1,000 at p = 0.3.
    expect(spilled).toBeGreaterThan(0.22);
    expect(spilled).toBeLessThan(0.38);
    local[0].healthStatus = 200;
    await eventually(() => healthyCount(orch) === 4, { what: 'local-1 healthy again' });
    expect(await routeMany(orch, 20)).toEqual({ zone: 20 });
  });

  it('fails over to the remote backends when the local ones die, with no client error', async () => {
    await Promise.all(local.map((b) => b.close()));
    const during = await proxyMany(orch, 100);
    // Until the probes and breakers see it, a request may meet both dead local backends; the retries take it on.
    expect(during.statuses.filter((s) => s !== 200)).toEqual([]);
    expect(during.served.every((name) => name.startsWith('remote'))).toBe(true);
    await eventually(() => healthyCount(orch) === 2, { what: 'both local backends detected as down' });
    expect(await routeMany(orch, 20)).toEqual({ any: 20 });
    const after = await proxyMany(orch, 50);
    expect(after.statuses.every((s) => s === 200)).toBe(true);
  });

  it('round-trips zone, region and cost through the admin API', async () => {
    const put = await fetch(`${orch.url}/admin/pools/edge`, {
      method: 'PUT',
      headers: { ...AUTH, 'content-type': 'application/json' },
      body: JSON.stringify({
        urls: [remote[0].url, remote[1].url],
        weights: { [remote[1].url]: 2 },
        meta: { [remote[0].url]: { zone: 'eu-1a', region: 'eu-1', cost: 0.4 } },
      }),
    });
    expect(put.status).toBe(200);
    const pools = (await (await fetch(`${orch.url}/admin/pools`, { headers: AUTH })).json()) as {
      pools: { name: string; backends: Record<string, unknown>[] }[];
    };
    const edge = pools.pools.find((p) => p.name === 'edge');
    expect(edge?.backends[0]).toMatchObject({ url: remote[0].url, zone: 'eu-1a', region: 'eu-1', cost: 0.4 });
    expect(edge?.backends[1]).toMatchObject({ url: remote[1].url, weight: 2 });
    expect(Object.keys(edge?.backends[1] ?? {})).not.toContain('zone');
    // The edited pool routes by locality at once: remote[0] is now in the gateway's zone.
    const answer = await post(`${orch.url}/route`, { ...ROUTE, service: 'edge' });
    expect(answer.body).toMatchObject({ target: remote[0].url, locality: 'zone' });

    const refused = await fetch(`${orch.url}/admin/pools/edge`, {
      method: 'PUT',
      headers: { ...AUTH, 'content-type': 'application/json' },
      body: JSON.stringify({
        urls: [remote[0].url],
        meta: { [remote[0].url]: { zone: 'EU 1', cost: -1, colour: 'red' }, 'http://127.0.0.1:1': {} },
      }),
    });
    expect(refused.status).toBe(400);
    const body = (await refused.json()) as { error: string; message: string };
    expect(body.error).toBe('invalid_request');
    expect(body.message).toMatch(/unknown field "colour"/);
    expect(body.message).toMatch(/'http:\/\/127.0.0.1:1' is not one of the urls/);
  });
});
