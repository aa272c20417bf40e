import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SecurityEvents, type SecurityEvent } from '../src/events/security-events';
import { RolloutsService } from '../src/rollouts/rollouts.service';
import { eventually } from './eventually';
import { startOrchestrator, type RunningOrchestrator, UNLIMITED } from './harness';
import { call as request, startVersion, type VersionBackend } from './rollout-backends';

const TOKEN = 'admin-token-for-rollout-tests-0123456789';
const AUTH = { authorization: `Bearer ${TOKEN}` };
const CALLER = { 'x-tenant': 'acme', 'x-scope': 'read' };

/** One call to the gateway, as the admin unless other headers are given. */
const call = (base: string, method: string, path: string, body?: unknown, headers: Record<string, string> = AUTH) =>
  request(base, method, path, body, headers);

interface RolloutBody {
  state: string;
  percent: number;
  intervalMs: number;
  history: { kind: string; at: number; toPercent: number }[];
}

describe(RolloutsService.name, () => {
  let orch: RunningOrchestrator;
  let stable: VersionBackend;
  let healthy: VersionBackend;
  let flaky: VersionBackend;
  const seen: SecurityEvent[] = [];

  /** One proxied GET; the status and the answering version. */
  const proxied = async (
    pool: string,
    headers: Record<string, string> = {},
  ): Promise<{ status: number; name: string }> => {
    const answer = await call(orch.url, 'GET', `/proxy/${pool}/x`, undefined, { ...CALLER, ...headers });
    return { status: answer.status, name: String(answer.body['name']) };
  };
  const rollout = async (pool: string): Promise<RolloutBody> =>
    (await call(orch.url, 'GET', `/admin/rollouts/${pool}`)).body as unknown as RolloutBody;
  const spec = (overrides: Record<string, unknown>): Record<string, unknown> => ({
    stable: [stable.url],
    canary: [healthy.url],
    steps: [10, 50, 100],
    interval: '500ms',
    maxErrorRate: 0.01,
    maxP99Ratio: 100,
    minRequests: 10,
    ...overrides,
  });

  beforeAll(async () => {
    stable = await startVersion('stable');
    healthy = await startVersion('healthy');
    flaky = await startVersion('flaky', (n) => (n % 5 === 0 ? 500 : 200));
    orch = await startOrchestrator({
      ORCH_ADMIN_TOKEN: TOKEN,
      ORCH_POOL_WEB: stable.url,
      ...UNLIMITED,
    });
    orch.app.get(SecurityEvents).onEvent((event) => seen.push(event));
  });

  afterAll(async () => {
    await orch?.close();
    await Promise.all([stable, healthy, flaky].map((b) => b?.close()));
  });

  it('rolls a canary answering 20 % 500s back within two intervals, failing at most the step share', async () => {
    const put = await call(orch.url, 'PUT', '/admin/rollouts/web', spec({ canary: [flaky.url] }));
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({ pool: 'web', state: 'running', percent: 10 });
    let sent = 0;
    let failed = 0;
    let state = 'running';
    while (state === 'running' && sent < 2000) {
      for (let i = 0; i < 10; i++) {
        const { status } = await proxied('web');
        sent++;
        if (status !== 200) failed++;
      }
      state = (await rollout('web')).state;
    }
    const body = await rollout('web');
    expect(body.state).toBe('rolled_back');
    expect(body.percent).toBe(0);
    const started = body.history.find((h) => h.kind === 'started')!;
    const rolledBack = body.history.find((h) => h.kind === 'rolled_back')!;
    const intervals = (rolledBack.at - started.at) / body.intervalMs;
    expect(intervals).toBeLessThan(2);
    // The canary had 10 % of the requests; a fifth of those failed until the breach was certain.
    expect(failed).toBeGreaterThan(0);
    expect(failed).toBeLessThanOrEqual(Math.ceil(sent * 0.1) + 2);
    console.info(`rollback: ${intervals.toFixed(2)} intervals, ${failed} failed of ${sent} requests`);
    // From now on every request is stable's.
    for (let i = 0; i < 20; i++) expect(await proxied('web')).toEqual({ status: 200, name: 'stable' });
    const steps = seen.filter((e) => e.type === 'rollout.step').map((e) => (e.data as { kind: string }).kind);
    expect(steps).toEqual(expect.arrayContaining(['started', 'rolled_back']));
    const metrics = await (await fetch(`${orch.url}/metrics`)).text();
    expect(metrics).toMatch(/orchestrator_rollout_step\{pool="web"\} 0/);
    expect(metrics).toMatch(/orchestrator_rollout_transitions_total\{pool="web",to="rolled_back"\} 1/);
    expect(metrics).toMatch(/orchestrator_rollout_requests_total\{pool="web",side="canary",outcome="error"\} \d/);
  });

  it('takes a healthy canary to 100 %, after which the pool is the canary set', async () => {
    const put = await call(orch.url, 'PUT', '/admin/rollouts/web', spec({ steps: [20, 100], interval: '300ms' }));
    expect(put.status).toBe(200);
    let state = 'running';
    for (let round = 0; state === 'running' && round < 500; round++) {
      for (let i = 0; i < 10; i++) expect((await proxied('web')).status).toBe(200);
      state = (await rollout('web')).state;
    }
    const body = await rollout('web');
    expect(body.state).toBe('promoted');
    expect(body.history.map((h) => h.kind)).toEqual(['started', 'advanced', 'promoted']);
    const pools = (await call(orch.url, 'GET', '/admin/pools')).body['pools'] as {
      name: string;
      backends: { url: string }[];
    }[];
    expect(pools.find((p) => p.name === 'web')?.backends.map((b) => b.url)).toEqual([healthy.url]);
    for (let i = 0; i < 10; i++) expect(await proxied('web')).toEqual({ status: 200, name: 'healthy' });
    expect(seen.some((e) => e.type === 'pool.changed' && (e.data as { pool: string }).pool === 'web')).toBe(true);
  });

  it('blue-green without preview: steps [100] sends everything to the canary and rolls back at once on a breach', async () => {
    const put = await call(
      orch.url,
      'PUT',
      '/admin/rollouts/bg',
      spec({ canary: [flaky.url], steps: [100], interval: '10s', preview: false }),
    );
    expect(put.status).toBe(200);
    flaky.seen.length = 0;
    const names: string[] = [];
    let failed = 0;
    for (let i = 0; i < 30; i++) {
      const { status, name } = await proxied('bg');
      names.push(name);
      if (status !== 200) failed++;
    }
    const body = await rollout('bg');
    expect(body.state).toBe('rolled_back');
    // The 10th canary request made the breach certain (2 of 10 failed), long before the 10 s interval ended.
    expect(failed).toBe(2);
    expect(names.slice(10).every((name) => name === 'stable')).toBe(true);
    expect(names.slice(0, 10).every((name) => name === 'flaky')).toBe(true);
  });

  it('sticky by hashKey: a key keeps its side while the step holds, and /route follows the same split', async () => {
    const put = await call(
      orch.url,
      'PUT',
      '/admin/rollouts/sticky',
      spec({ steps: [50, 100], interval: '1h', sticky: true }),
    );
    expect(put.status).toBe(200);
    const sides = new Set<string>();
    for (let k = 0; k < 20; k++) {
      const key = `caller-${k}`;
      const first = await proxied('sticky', { 'x-hash-key': key });
      sides.add(first.name);
      for (let i = 0; i < 3; i++) expect((await proxied('sticky', { 'x-hash-key': key })).name).toBe(first.name);
      const routed = await call(
        orch.url,
        'POST',
        '/route',
        { service: 'sticky', tenant: 'acme', scope: 'read', path: '/x', hashKey: key },
        {},
      );
      expect(routed.body['target']).toBe(first.name === 'stable' ? stable.url : healthy.url);
    }
    expect([...sides].sort()).toEqual(['healthy', 'stable']);
    const paused = await call(orch.url, 'POST', '/admin/rollouts/sticky/pause');
    expect(paused.body).toMatchObject({ state: 'paused', percent: 50 });
    const aborted = await call(orch.url, 'POST', '/admin/rollouts/sticky/abort');
    expect(aborted.body).toMatchObject({ state: 'aborted', percent: 0 });
    for (let k = 0; k < 5; k++) expect((await proxied('sticky', { 'x-hash-key': `caller-${k}` })).name).toBe('stable');
    expect((await call(orch.url, 'DELETE', '/admin/rollouts/sticky')).status).toBe(200);
    expect((await call(orch.url, 'GET', '/admin/rollouts/sticky')).status).toBe(404);
  });

  it('refuses bad bodies, unknown rollouts and actions, conflicts and callers without the token', async () => {
    const bad: [Record<string, unknown>, string][] = [
      [spec({ extra: 1 }), 'invalid_request'],
      [spec({ steps: [50, 10, 100] }), 'invalid_request'],
      [spec({ steps: [10, 50] }), 'invalid_request'],
      [spec({ steps: [0, 100] }), 'invalid_request'],
      [spec({ interval: '30' }), 'invalid_request'],
      [spec({ interval: '10ms' }), 'invalid_request'],
      [spec({ maxErrorRate: 2 }), 'invalid_request'],
      [spec({ minRequests: 0 }), 'invalid_request'],
      [spec({ canary: [stable.url] }), 'invalid_request'],
      [spec({ canary: ['ftp://127.0.0.1:1'] }), 'invalid_request'],
      [spec({ sticky: 'yes' }), 'invalid_request'],
      [spec({ canary: ['http://169.254.169.254:80'] }), 'backend_refused'],
    ];
    for (const [body, error] of bad) {
      const answer = await call(orch.url, 'PUT', '/admin/rollouts/checks', body);
      expect({ body, status: answer.status, error: answer.body['error'] }).toEqual({ body, status: 400, error });
    }
    expect((await call(orch.url, 'PUT', '/admin/rollouts/bad$name', spec({}))).status).toBe(400);
    expect((await call(orch.url, 'GET', '/admin/rollouts/nothing')).body['error']).toBe('unknown_rollout');
    expect((await call(orch.url, 'POST', '/admin/rollouts/nothing/pause')).status).toBe(404);
    expect((await call(orch.url, 'POST', '/admin/rollouts/web/explode')).body['error']).toBe('invalid_action');
    expect((await call(orch.url, 'POST', '/admin/rollouts/web/pause')).body['error']).toBe('rollout_conflict');
    expect((await call(orch.url, 'PUT', '/admin/rollouts/live', spec({ interval: '1h' }))).status).toBe(200);
    expect((await call(orch.url, 'PUT', '/admin/rollouts/live', spec({ interval: '1h' }))).status).toBe(409);
    expect((await call(orch.url, 'GET', '/admin/rollouts', undefined, {})).status).toBe(401);
    const list = (await call(orch.url, 'GET', '/admin/rollouts')).body['rollouts'] as { pool: string }[];
    expect(list.map((r) => r.pool).sort()).toEqual(['bg', 'live', 'web']);
    expect(seen.some((e) => e.type === 'admin.action' && (e.data as { action: string }).action === 'rollout.put')).toBe(
      true,
    );
    await eventually(() => seen.some((e) => e.type === 'rollout.step'));
  });
});
