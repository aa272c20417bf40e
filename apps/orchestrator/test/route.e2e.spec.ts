import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDemoBackend, type RunningDemoBackend } from '../src/demo/demo-backends';
import { HealthProber } from '../src/resilience/health-prober';
import type { HealthSnapshot } from '../src/pools/pools.service';
import { startTestBackend, type TestBackend } from './backends';
import { post, startOrchestrator, type RunningOrchestrator } from './harness';

const VALID = { service: 'api', tenant: 'acme', scope: 'read', path: '/v1/items' };

describe('POST /route over a real socket', () => {
  let backends: RunningDemoBackend[];
  let orch: RunningOrchestrator;
  let route: string;

  beforeAll(async () => {
    backends = await Promise.all(
      ['a', 'b', 'c', 'd'].map((name) => startDemoBackend({ name, delayMs: 0, jitterMs: 0 })),
    );
    orch = await startOrchestrator({
      ORCH_POOL_API: backends
        .slice(0, 3)
        .map((b) => b.url)
        .join(','),
      ORCH_POOL_SEARCH: backends[3].url,
      ORCH_POOL_ALGO_SEARCH: 'round_robin',
    });
    route = `${orch.url}/route`;
  });

  afterAll(async () => {
    await orch?.close();
    await Promise.all(backends.map((b) => b.close()));
  });

  it('answers a valid request with a target from the pool and the documented fields', async () => {
    const res = await post(route, VALID);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      target: expect.any(String),
      algo: 'ewma',
      policy: 'allow',
      healthy: true,
      pool: 'api',
      cached: false,
    });
    expect(backends.slice(0, 3).map((b) => b.url)).toContain(res.body['target']);
    expect(res.headers.get('x-correlation-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.headers.get('ratelimit-limit')).toBe('200');
    expect(Number(res.headers.get('ratelimit-remaining'))).toBeLessThan(200);
  });

  it('gives an untrusted caller a fresh correlation id, whatever it sends', async () => {
    const given = await post(route, VALID, { 'x-correlation-id': 'trace-42' });
    expect(given.headers.get('x-correlation-id')).toMatch(/^[0-9a-f-]{36}$/);
    const replaced = await post(route, VALID, { 'x-correlation-id': 'bad id with spaces' });
    expect(replaced.headers.get('x-correlation-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  const badInputs: [string, unknown, number, string][] = [
    ['unknown field', { ...VALID, admin: true }, 400, 'invalid_request'],
    ['wrong type', { ...VALID, tenant: 42 }, 400, 'invalid_request'],
    ['missing field', { service: 'api', tenant: 'acme', scope: 'read' }, 400, 'invalid_request'],
    ['bad service name', { ...VALID, service: 'API!' }, 400, 'invalid_request'],
    ['bad tenant', { ...VALID, tenant: 'a/b' }, 400, 'invalid_request'],
    ['bad scope', { ...VALID, scope: 'Read' }, 400, 'invalid_request'],
    ['path traversal', { ...VALID, path: '/a/../b' }, 400, 'invalid_request'],
    ['encoded traversal', { ...VALID, path: '/a/%2e%2e/b' }, 400, 'invalid_request'],
    ['double-encoded traversal', { ...VALID, path: '/a/%252e%252e/b' }, 400, 'invalid_request'],
    ['relative path', { ...VALID, path: 'v1/items' }, 400, 'invalid_request'],
    ['bad algo', { ...VALID, algo: 'random' }, 400, 'invalid_request'],
    ['empty candidates', { ...VALID, candidates: [] }, 400, 'invalid_request'],
    ['array body', [VALID], 400, 'invalid_request'],
    ['bad JSON', '{"service":', 400, 'invalid_json'],
    ['prototype pollution', '{"service":"api","__proto__":{"x":1}}', 400, 'invalid_json'],
    ['unknown service', { ...VALID, service: 'nowhere' }, 404, 'unknown_service'],
  ];

  it.each(badInputs)('refuses %s with its 4xx JSON error', async (_name, body, status, code) => {
    const res = await post(route, body);
    expect(res.status).toBe(status);
    expect(res.body).toMatchObject({
      error: code,
      message: expect.any(String),
      correlationId: res.headers.get('x-correlation-id'),
    });
  });

  it('refuses a 17 KiB body with 413 before parsing it', async () => {
    const res = await post(route, { ...VALID, hashKey: 'x'.repeat(17 * 1024) });
    expect(res.status).toBe(413);
    expect(res.body).toMatchObject({ error: 'body_too_large' });
  });

  it('refuses a body that is not JSON with 415', async () => {
    const response = await fetch(route, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'hello' });
    expect(response.status).toBe(415);
    expect(await response.json()).toMatchObject({ error: 'unsupported_media_type' });
  });

  it('answers unknown endpoints with a JSON 404', async () => {
    const response = await fetch(`${orch.url}/nope`);
    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({ error: 'not_found', correlationId: expect.any(String) });
  });

  it('honours X-LB-Algo: rendezvous and keeps a hashKey on one backend', async () => {
    const targets = new Set<unknown>();
    for (let i = 0; i < 30; i++) {
      const res = await post(route, { ...VALID, hashKey: 'user-7' }, { 'x-lb-algo': 'rendezvous' });
      expect(res.body['algo']).toBe('rendezvous');
      targets.add(res.body['target']);
    }
    expect(targets.size).toBe(1);
    const spread = new Set<unknown>();
    for (let i = 0; i < 60; i++)
      spread.add((await post(route, { ...VALID, hashKey: `user-${i}` }, { 'x-lb-algo': 'rendezvous' })).body['target']);
    expect(spread.size).toBe(3);
  });

  it('refuses an unknown X-LB-Algo', async () => {
    const res = await post(route, VALID, { 'x-lb-algo': 'fastest' });
    expect(res.status).toBe(400);
    expect(res.body['error']).toBe('invalid_algo');
  });

  it('uses the pool algorithm when nothing overrides it, and the body algo when given', async () => {
    expect((await post(route, { ...VALID, service: 'search' })).body['algo']).toBe('round_robin');
    expect((await post(route, { ...VALID, algo: 'least_conn' })).body['algo']).toBe('least_conn');
  });

  it('lets X-LB-Algo win over the body algo', async () => {
    const res = await post(route, { ...VALID, algo: 'least_conn' }, { 'x-lb-algo': 'round_robin' });
    expect(res.body['algo']).toBe('round_robin');
  });

  it('balances over ad-hoc candidates instead of answering 503', async () => {
    const candidates = ['http://127.0.0.1:7', 'http://127.0.0.1:9'];
    const seen = new Set<unknown>();
    for (let i = 0; i < 20; i++) {
      const res = await post(route, { ...VALID, service: 'adhoc', candidates }, { 'x-lb-algo': 'round_robin' });
      expect(res.status).toBe(200);
      seen.add(res.body['target']);
    }
    expect([...seen].sort()).toEqual(candidates);
  });

  it('counts picks of every ad-hoc pool under one metrics label, whatever service names callers send', async () => {
    const candidates = ['http://127.0.0.1:7'];
    for (let i = 0; i < 5; i++) {
      expect((await post(route, { ...VALID, service: `caller-made-${i}`, candidates })).status).toBe(200);
    }
    const text = await (await fetch(`${orch.url}/metrics`)).text();
    expect(text).not.toContain('caller-made-');
    const adHoc = /^orchestrator_lb_pick_total\{pool="\(candidates\)",algo="ewma",healthy="true"\} (\d+)$/m.exec(text);
    expect(Number(adHoc?.[1])).toBeGreaterThanOrEqual(5);
    // Configured pools keep their own name.
    expect(text).toMatch(/^orchestrator_lb_pick_total\{pool="api",/m);
  });

  it('exposes the documented metrics', async () => {
    const text = await (await fetch(`${orch.url}/metrics`)).text();
    for (const name of [
      'orchestrator_route_total',
      'orchestrator_route_denied_total',
      'orchestrator_route_error_total',
      'orchestrator_lb_pick_total{pool="api",algo="ewma",healthy="true"}',
      'orchestrator_ratelimit_denied_total',
      'orchestrator_http_request_duration_seconds_bucket{',
    ]) {
      expect(text).toContain(name);
    }
  });

  it('lists every backend with its state on /health, and answers /healthz and /readyz', async () => {
    const health = (await (await fetch(`${orch.url}/health`)).json()) as HealthSnapshot;
    expect(health.status).toBe('ok');
    expect(health.health_ratio).toBe(1);
    expect(health.pools['api']).toMatchObject({ algo: 'ewma', healthy: 3, total: 3 });
    expect(health.pools['api'].backends).toHaveLength(3);
    expect(health.pools['api'].backends[0]).toEqual({
      url: backends[0].url,
      healthy: true,
      ewma_ms: expect.any(Number),
      inflight: 0,
      cb_state: 'closed',
      weight: 1,
      last_error: null,
    });
    expect((await fetch(`${orch.url}/healthz`)).status).toBe(200);
    const ready = await fetch(`${orch.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({
      status: 'ok',
      info: { policy: { status: 'up', source: 'base-rules' } },
    });
  });

  it('writes one access line per request with the correlation id, anonymised IP and no query string', async () => {
    await post(`${route}?token=secret`, VALID, { 'x-correlation-id': 'log-check-1', authorization: 'Bearer hunter2' });
    await new Promise((resolve) => setImmediate(resolve));
    const line = orch.logs.find((l) => l['callerCorrId'] === 'log-check-1' && l['event'] === 'access');
    expect(line).toMatchObject({
      level: 'info',
      service: 'orchestrator',
      event: 'access',
      corrId: expect.stringMatching(/^[0-9a-f-]{36}$/),
      callerCorrId: 'log-check-1',
      tenant: 'acme',
      action: 'allow',
      backend: expect.stringMatching(/^http:\/\/127\.0\.0\.1:/),
      ip: '127.0.0.0',
      latencyMs: expect.any(Number),
      timestamp: expect.any(String),
    });
    const all = JSON.stringify(orch.logs);
    expect(all).not.toContain('hunter2');
    expect(all).not.toContain('token=secret');
  });
});

describe('per-IP rate limit', () => {
  let orch: RunningOrchestrator;

  beforeAll(async () => {
    orch = await startOrchestrator({
      ORCH_POOL_API: 'http://127.0.0.1:9',
      ORCH_IP_BURST: '5',
      ORCH_IP_BURST_DEGRADED: '5',
    });
  });
  afterAll(() => orch?.close());

  it('answers 429 with Retry-After and RateLimit headers once the bucket is empty, and a spoofed XFF changes nothing', async () => {
    const statuses: number[] = [];
    let last: Awaited<ReturnType<typeof post>> | undefined;
    for (let i = 0; i < 8; i++) {
      last = await post(`${orch.url}/route`, VALID, { 'x-forwarded-for': `198.51.100.${i}` });
      statuses.push(last.status);
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429, 429]);
    expect(last!.body).toMatchObject({ error: 'rate_limited' });
    expect(last!.headers.get('retry-after')).toBe('12');
    expect(last!.headers.get('ratelimit-limit')).toBe('5');
    expect(last!.headers.get('ratelimit-remaining')).toBe('0');
    const metrics = await (await fetch(`${orch.url}/metrics`)).text();
    expect(metrics).toContain('orchestrator_ratelimit_denied_total{scope="ip"} 3');
    expect((await fetch(`${orch.url}/healthz`)).status).toBe(200);
  });
});

describe('panic mode, end to end', () => {
  /** Starts an orchestrator over four backends, three of which fail their health probes, and waits until all four were probed. */
  async function degraded(
    env: Record<string, string>,
  ): Promise<{ orch: RunningOrchestrator; backends: TestBackend[] }> {
    const backends = await Promise.all(['ok', 'sick1', 'sick2', 'sick3'].map((name) => startTestBackend(name)));
    for (const backend of backends.slice(1)) backend.healthStatus = 503;
    const orch = await startOrchestrator({
      ORCH_POOL_API: backends.map((b) => b.url).join(','),
      ORCH_POOL_ALGO_API: 'round_robin',
      ORCH_HEALTH_EVERY: '100ms',
      ORCH_HEALTH_TIMEOUT: '100ms',
      ORCH_IP_BURST: '1000000',
      ORCH_IP_BURST_DEGRADED: '1000000',
      ...env,
    });
    const prober = orch.app.get(HealthProber);
    const probed = new Set<string>();
    await new Promise<void>((resolve) => {
      const off = prober.onProbe((result) => {
        if (result.healthy === (result.backend === backends[0].url)) probed.add(result.backend);
        if (probed.size < 4) return;
        off();
        resolve();
      });
    });
    return { orch, backends };
  }

  it('balances over every backend, saying healthy: false, when too few are eligible', async () => {
    const { orch, backends } = await degraded({});
    try {
      const answers = await Promise.all(Array.from({ length: 8 }, () => post(`${orch.url}/route`, VALID)));
      const targets = new Set(answers.map((a) => a.body['target']));
      expect(targets.size).toBe(4);
      expect(answers.filter((a) => a.body['healthy'] === false).length).toBeGreaterThan(0);
    } finally {
      await orch.close();
      await Promise.all(backends.map((b) => b.close()));
    }
  });

  it('keeps to the healthy backend with ORCH_PANIC_THRESHOLD=0', async () => {
    const { orch, backends } = await degraded({ ORCH_PANIC_THRESHOLD: '0' });
    try {
      for (let i = 0; i < 8; i++) {
        const answer = await post(`${orch.url}/route`, VALID);
        expect(answer.body).toMatchObject({ target: backends[0].url, healthy: true });
      }
    } finally {
      await orch.close();
      await Promise.all(backends.map((b) => b.close()));
    }
  });
});
