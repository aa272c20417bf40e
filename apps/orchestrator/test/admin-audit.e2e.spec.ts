import { signUserAssertion, type AdminUser } from '@shieldx/security';
import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOrchestrator, type RunningOrchestrator } from './harness';

/**
 * Every admin action is on record with who asked: pool edits and rollouts the SSRF guard refused (`admin.action` with
 * `result: 'refused'`, and a log line), and policy reloads (`policy.reloaded` with `actor`). The refused targets are
 * ones the guard has always refused, so that no regression here can put them in a pool the health prober would probe
 * (the newer spellings it refuses are checked without a gateway, in backend-target.spec.ts); the only backend any pool
 * here holds is on loopback.
 */

const TOKEN = 'admin-audit-token-0123456789';
const AUTH = { authorization: `Bearer ${TOKEN}` };
const ui = generateKeyPairSync('ed25519');
const OPERATOR: AdminUser = { sub: 'operator-3', email: 'otto@example.com', role: 'operator' };
const LOCAL = 'http://127.0.0.1:9';

type Entry = { seq: number; type: string; corrId: string | null; data: Record<string, unknown> };

describe('admin actions on record', () => {
  let orch: RunningOrchestrator;

  const call = async (method: string, path: string, headers: Record<string, string>, body?: unknown) => {
    const response = await fetch(`${orch.url}${path}`, {
      method,
      headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };
  const audit = async (type: string): Promise<Entry[]> =>
    ((await call('GET', `/admin/audit?type=${type}&after=0&limit=200`, AUTH)).body['entries'] as Entry[]) ?? [];
  const asOperator = async () => ({
    ...AUTH,
    'x-shieldx-user': await signUserAssertion(OPERATOR, {
      key: ui.privateKey,
      issuer: 'shieldx-admin-ui',
      audience: 'shieldx-orchestrator',
    }),
  });
  const backends = async (pool: string) =>
    ((await call('GET', '/admin/pools', AUTH)).body['pools'] as { name: string; backends: { url: string }[] }[])
      .find((p) => p.name === pool)
      ?.backends.map((b) => b.url);

  beforeAll(async () => {
    orch = await startOrchestrator({
      ORCH_ADMIN_TOKEN: TOKEN,
      ORCH_ADMIN_USER_KEYS: ui.publicKey.export({ format: 'pem', type: 'spki' }).toString(),
      ORCH_POOL_API: LOCAL,
      ORCH_HEALTH_EVERY: '60s',
    });
  });
  afterAll(() => orch?.close());

  it('records a pool edit the SSRF guard refused, with the actor, each URL and why, and logs it', async () => {
    const refused = await call('PUT', '/admin/pools/api', AUTH, {
      urls: [LOCAL, 'http://169.254.169.254/latest', 'http://[fe80::1]:8080'],
    });
    expect(refused).toMatchObject({ status: 400, body: { error: 'backend_refused' } });
    expect(await backends('api')).toEqual([LOCAL]);
    const actions = (await audit('admin.action')).filter((e) => e.data['result'] === 'refused');
    expect(actions).toEqual([
      expect.objectContaining({
        type: 'admin.action',
        corrId: expect.any(String),
        data: {
          action: 'pool.put',
          result: 'refused',
          error: 'backend_refused',
          pool: 'api',
          actor: 'token',
          refused: [
            { url: 'http://169.254.169.254/latest', reason: 'metadata' },
            { url: 'http://[fe80::1]:8080', reason: 'link-local' },
          ],
        },
      }),
    ]);
    expect(orch.logs).toContainEqual(
      expect.objectContaining({
        event: 'backend_refused',
        action: 'pool.put',
        pool: 'api',
        actor: 'token',
        corrId: actions[0].corrId,
      }),
    );
  });

  it("names the person for a refused edit made through the UI, and records a refused rollout's start", async () => {
    const operator = await asOperator();
    const pool = await call('PUT', '/admin/pools/edge', operator, { urls: ['http://[::ffff:169.254.169.254]'] });
    expect(pool).toMatchObject({ status: 400, body: { error: 'backend_refused' } });
    const rollout = await call('PUT', '/admin/rollouts/api', AUTH, {
      stable: [LOCAL],
      canary: ['http://[fd00:ec2::254]:80'],
      steps: [10, 100],
      interval: '1s',
      maxErrorRate: 0.01,
      maxP99Ratio: 100,
      minRequests: 10,
    });
    expect(rollout).toMatchObject({ status: 400, body: { error: 'backend_refused' } });
    expect(await backends('edge')).toBeUndefined();
    expect(await backends('api')).toEqual([LOCAL]);
    const refused = (await audit('admin.action')).filter((e) => e.data['result'] === 'refused').slice(-2);
    expect(refused.map((e) => e.data)).toEqual([
      expect.objectContaining({
        action: 'pool.put',
        pool: 'edge',
        actor: 'user:operator-3',
        user: { ...OPERATOR, via: 'token' },
        refused: [{ url: 'http://[::ffff:a9fe:a9fe]', reason: 'metadata' }],
      }),
      expect.objectContaining({
        action: 'rollout.put',
        pool: 'api',
        actor: 'token',
        refused: [{ url: 'http://[fd00:ec2::254]', reason: 'metadata' }],
      }),
    ]);
  });

  it('names who reloaded the policy: the credential, or the person and their identity', async () => {
    const byToken = await call('POST', '/admin/policy/reload', AUTH);
    expect(byToken).toMatchObject({ status: 200, body: { reloaded: true } });
    const byOperator = await call('POST', '/admin/policy/reload', await asOperator());
    expect(byOperator).toMatchObject({ status: 200, body: { reloaded: true } });
    const reloads = (await audit('policy.reloaded')).filter((e) => e.data['trigger'] === 'admin');
    expect(reloads.map((e) => e.data)).toEqual([
      { result: 'success', trigger: 'admin', version: byToken.body['version'], actor: 'token' },
      {
        result: 'success',
        trigger: 'admin',
        version: byOperator.body['version'],
        actor: 'user:operator-3',
        user: { ...OPERATOR, via: 'token' },
      },
    ]);
  });
});
