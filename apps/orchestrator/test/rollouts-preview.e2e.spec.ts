import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SecurityEvents, type SecurityEvent } from '../src/events/security-events';
import { RolloutsService } from '../src/rollouts/rollouts.service';
import { startOrchestrator, type RunningOrchestrator, UNLIMITED } from './harness';
import { call, startVersion, type VersionBackend } from './rollout-backends';

const TOKEN = 'admin-token-for-preview-tests-0123456789';
const AUTH = { authorization: `Bearer ${TOKEN}` };
const READ = { 'x-tenant': 'acme', 'x-scope': 'read' };
const WRITE = { 'x-tenant': 'acme', 'x-scope': 'write', 'content-type': 'application/json' };

interface RolloutBody {
  state: string;
  phase: string;
  percent: number;
  history: { kind: string; reason: string; phase: string; canary: { requests: number } }[];
}

/** Blue-green with a preview: the new set is judged on copies of safe requests before any client reaches it. */
describe(`${RolloutsService.name} preview`, () => {
  let orch: RunningOrchestrator;
  let stable: VersionBackend;
  const seen: SecurityEvent[] = [];

  const rollout = async (pool: string): Promise<RolloutBody> =>
    (await call(orch.url, 'GET', `/admin/rollouts/${pool}`, undefined, AUTH)).body as unknown as RolloutBody;
  const spec = (canary: string, overrides: Record<string, unknown> = {}) => ({
    stable: [stable.url],
    canary: [canary],
    steps: [100],
    interval: '400ms',
    maxErrorRate: 0.1,
    maxP99Ratio: 100,
    minRequests: 10,
    ...overrides,
  });

  beforeAll(async () => {
    stable = await startVersion('stable');
    orch = await startOrchestrator({
      ORCH_ADMIN_TOKEN: TOKEN,
      ORCH_POOL_FAILS: stable.url,
      ORCH_POOL_PASSES: stable.url,
      ...UNLIMITED,
    });
    orch.app.get(SecurityEvents).onEvent((event) => seen.push(event));
  });

  afterAll(async () => {
    await orch?.close();
    await stable?.close();
  });

  it('a failing preview never gets a client request, and the rollout ends rolled_back with the reason', async () => {
    const broken = await startVersion('broken', () => 500);
    try {
      const put = await call(orch.url, 'PUT', '/admin/rollouts/fails', spec(broken.url), AUTH);
      expect(put.status).toBe(200);
      expect(put.body).toMatchObject({
        state: 'running',
        phase: 'preview',
        percent: 0,
        preview: true,
        previewMethods: ['GET', 'HEAD'],
      });
      const answers: string[] = [];
      let state = 'running';
      for (let round = 0; state === 'running' && round < 200; round++) {
        for (let i = 0; i < 5; i++) {
          const got = await call(orch.url, 'GET', '/proxy/fails/x', undefined, READ);
          answers.push(`${got.status} ${String(got.body['name'])}`);
        }
        const posted = await call(orch.url, 'POST', '/proxy/fails/x', { order: round }, WRITE);
        answers.push(`${posted.status} ${String(posted.body['name'])}`);
        state = (await rollout('fails')).state;
      }
      const body = await rollout('fails');
      expect(body).toMatchObject({ state: 'rolled_back', phase: 'preview', percent: 0 });
      expect(body.history.map((h) => h.kind)).toEqual(['started', 'rolled_back']);
      expect(body.history[1].reason).toMatch(/^preview: canary error rate 1\.0000 over the limit/);
      // Every client got stable's answer; the new set saw copies only, and only of GETs (no POST was repeated).
      expect(new Set(answers)).toEqual(new Set(['200 stable']));
      expect(broken.seen.length).toBeGreaterThanOrEqual(10);
      expect(broken.seen.every((request) => request.mirrored && request.method === 'GET')).toBe(true);
      const event = seen.find(
        (e) =>
          e.type === 'rollout.step' &&
          (e.data as { pool: string; kind: string }).pool === 'fails' &&
          (e.data as { kind: string }).kind === 'rolled_back',
      );
      expect(event?.data).toMatchObject({ phase: 'preview', actor: 'gateway', toPercent: 0 });
      const metrics = await (await fetch(`${orch.url}/metrics`)).text();
      expect(metrics).toMatch(/orchestrator_rollout_requests_total\{pool="fails",side="preview",outcome="error"\} \d+/);
      expect(metrics).toMatch(/orchestrator_rollout_step\{pool="fails"\} 0/);
    } finally {
      await broken.close();
    }
  });

  it('a passing preview switches all traffic at once, and only then does a client reach the new set', async () => {
    const green = await startVersion('green');
    try {
      const put = await call(
        orch.url,
        'PUT',
        '/admin/rollouts/passes',
        spec(green.url, { interval: '300ms', minRequests: 5 }),
        AUTH,
      );
      expect(put.body).toMatchObject({ phase: 'preview', percent: 0 });
      let body = await rollout('passes');
      for (let round = 0; body.state === 'running' && round < 500; round++) {
        const got = await call(orch.url, 'GET', '/proxy/passes/x', undefined, READ);
        const phaseBefore = body.phase;
        body = await rollout('passes');
        // Still in preview after this request: it was stable's.
        if (phaseBefore === 'preview' && body.phase === 'preview') expect(got.body['name']).toBe('stable');
      }
      expect(body.state).toBe('promoted');
      expect(body.history.map((h) => h.kind)).toEqual(['started', 'previewed', 'promoted']);
      expect(body.history[1].canary.requests).toBeGreaterThanOrEqual(5);
      const firstClient = green.seen.findIndex((request) => !request.mirrored);
      expect(firstClient).toBeGreaterThanOrEqual(5);
      expect(green.seen.slice(0, firstClient).every((request) => request.mirrored)).toBe(true);
      for (let i = 0; i < 5; i++)
        expect((await call(orch.url, 'GET', '/proxy/passes/x', undefined, READ)).body['name']).toBe('green');
    } finally {
      await green.close();
    }
  });

  it('refuses a preview of methods /proxy does not serve', async () => {
    const answer = await call(
      orch.url,
      'PUT',
      '/admin/rollouts/checks',
      spec('http://127.0.0.1:9', { previewMethods: ['TRACE'] }),
      AUTH,
    );
    expect(answer).toMatchObject({ status: 400, body: { error: 'invalid_request' } });
  });
});
