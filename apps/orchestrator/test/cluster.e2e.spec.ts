import { signAdmission } from '@shieldx/security';
import { Cluster, Redis } from 'ioredis';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClusterChannel } from '../src/cluster/cluster-channel';
import { startDemoBackend, type RunningDemoBackend } from '../src/demo/demo-backends';
import { eventually } from './eventually';
import { startOrchestrator, type RunningOrchestrator } from './harness';
import { startRedisCluster, type RunningRedisCluster } from './redis-cluster-harness';
import { freePort, startRedis, type RunningRedis } from './redis-harness';

const TOKEN = 'cluster-e2e-admin-token-0001';
const SECRET = 'cluster-e2e-admission-secret';
const PUBLIC_URL = 'https://gw.shieldx.test';
const ROUTE = { service: 'api', tenant: 'acme', scope: 'read', path: '/v1/items' };
/** A tenant the bundled base rules allow and the candidate policy of both instances closes. */
const CLOSED_BY_CANDIDATE = 'globex';

interface Answer {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

/** One request to an instance, with a fresh admission header (unless one is given) and the admin token. */
async function call(
  orch: RunningOrchestrator,
  method: string,
  path: string,
  options: { body?: unknown; headers?: Record<string, string> } = {},
): Promise<Answer> {
  const headers: Record<string, string> = {
    authorization: `Bearer ${TOKEN}`,
    'x-shieldx-admission': signAdmission({ secret: SECRET, method, pathWithQuery: path }),
    ...options.headers,
  };
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(`${orch.url}${path}`, {
    method,
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  return {
    status: response.status,
    headers: response.headers,
    body: (await response.json()) as Record<string, unknown>,
  };
}

const route = (orch: RunningOrchestrator) => call(orch, 'POST', '/route', { body: ROUTE });

const hasPool = async (orch: RunningOrchestrator, name: string) =>
  ((await call(orch, 'GET', '/health')).body.pools as Record<string, unknown>)[name] !== undefined;

/** Waits until `check` holds (an edit crossing Redis), failing after `timeoutMs`. */
function within(timeoutMs: number, check: () => Promise<boolean>, what: string): Promise<true> {
  return eventually(check, { timeoutMs, everyMs: 10, what });
}

/** Waits until both instances are subscribed and in sync (the first resync runs before listening). */
async function inSync(orch: RunningOrchestrator): Promise<void> {
  await within(5000, () => Promise.resolve(orch.app.get(ClusterChannel).status().inSync), 'instance in sync');
}

interface Signer {
  privateKey: CryptoKey;
  jwk: JWK;
}

function dpopProof(signer: Signer, method: string, path: string): Promise<string> {
  return new SignJWT({
    htm: method,
    htu: `${PUBLIC_URL}${path}`,
    iat: Math.floor(Date.now() / 1000),
    jti: `cluster-${Math.random().toString(36).slice(2)}`,
  })
    .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: signer.jwk })
    .sign(signer.privateKey);
}

/**
 * Two orchestrator instances (A and B, in this process, each its own Nest app, ledger and Redis connections) and one
 * real redis-server: the acceptance test of scale-out (issue 10).
 */
describe('two instances sharing one Redis', () => {
  let redis: RunningRedis;
  let oldBackend: RunningDemoBackend;
  let newBackend: RunningDemoBackend;
  let a: RunningOrchestrator;
  let b: RunningOrchestrator;
  let inspect: Redis;
  let work: string;

  const env = (id: string) => ({
    REDIS_ADDR: redis.url,
    ORCH_INSTANCE_ID: id,
    ORCH_ADMIN_TOKEN: TOKEN,
    ADMISSION_SECRET: SECRET,
    ORCH_PUBLIC_URL: PUBLIC_URL,
    ORCH_POOL_API: oldBackend.url,
    ORCH_IP_BURST: '1000000',
    ORCH_IP_BURST_DEGRADED: '1000000',
    ORCH_TENANT_BURST: '1000000',
    ORCH_CLUSTER_RESYNC_EVERY: '250ms',
    ORCH_SHADOW_POLICY_PATH: join(work, 'candidate.json'),
    // The outage test sends proofs while Redis is down: check them per instance then (the default refuses them).
    ORCH_REPLAY_REDIS_FAILURE: 'open',
    ORCH_LOG_LEVEL: 'warn',
  });

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'shieldx-cluster-e2e-'));
    const rules = JSON.parse(
      readFileSync(new URL('../../../policies/shieldx/rules/data.json', import.meta.url), 'utf8'),
    ) as { advanced: unknown[] };
    rules.advanced.unshift({
      tenant: CLOSED_BY_CANDIDATE,
      scopes: ['*'],
      action: 'deny',
      reason: 'candidate closes it',
    });
    writeFileSync(join(work, 'candidate.json'), JSON.stringify(rules));
    redis = await startRedis();
    oldBackend = await startDemoBackend({ name: 'old', delayMs: 0, jitterMs: 0 });
    newBackend = await startDemoBackend({ name: 'new', delayMs: 0, jitterMs: 0 });
    a = await startOrchestrator(env('instance-a'));
    b = await startOrchestrator(env('instance-b'));
    inspect = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await inspect.connect();
    await inSync(a);
    await inSync(b);
  });

  afterAll(async () => {
    inspect?.disconnect();
    await a?.close();
    await b?.close();
    await oldBackend?.close();
    await newBackend?.close();
    await redis?.stop();
    if (work !== undefined) rmSync(work, { recursive: true, force: true });
  });

  it('uses on B, within 1 s, a pool edited on A through the admin API', async () => {
    expect((await route(b)).body.target).toBe(oldBackend.url);
    const put = await call(a, 'PUT', '/admin/pools/api', {
      body: { urls: [newBackend.url], algo: 'round_robin', meta: { [newBackend.url]: { zone: 'eu-1a', cost: 0.4 } } },
    });
    expect(put.status).toBe(200);
    await within(1000, async () => (await route(b)).body.target === newBackend.url, 'B routes api to the new backend');
    const pools = await call(b, 'GET', '/admin/pools');
    const api = (
      pools.body.pools as { name: string; algo: string; backends: { url: string; zone?: string; cost?: number }[] }[]
    ).find((pool) => pool.name === 'api');
    expect(api?.algo).toBe('round_robin');
    // The backend's place and cost travel with it.
    expect(api?.backends.map(({ url, zone, cost }) => ({ url, zone, cost }))).toEqual([
      { url: newBackend.url, zone: 'eu-1a', cost: 0.4 },
    ]);

    // The shared record: the version counter and the hash read by instances on (re)connect.
    const version = Number(await inspect.get('shieldx:pools:version'));
    expect(version).toBeGreaterThanOrEqual(1);
    expect(JSON.parse((await inspect.hget('shieldx:pools', 'api')) ?? '{}')).toMatchObject({
      v: version,
      origin: 'instance-a',
      def: { algo: 'round_robin', backends: [{ url: newBackend.url, weight: 1, zone: 'eu-1a', cost: 0.4 }] },
    });
  });

  it('creates and removes pools everywhere, and never echoes a change back (one version per edit)', async () => {
    const before = Number(await inspect.get('shieldx:pools:version'));
    expect((await call(b, 'PUT', '/admin/pools/extra', { body: { urls: [oldBackend.url] } })).status).toBe(200);
    await within(1000, async () => await hasPool(a, 'extra'), 'A has pool extra');
    expect((await call(a, 'DELETE', '/admin/pools/extra')).status).toBe(200);
    await within(1000, async () => !(await hasPool(b, 'extra')), 'B lost pool extra');
    // Two edits, two versions: the instance applying a change does not publish it again. Proving that nothing
    // happens needs a window of time: 300 ms is many times a publish-and-apply round trip on loopback.
    await new Promise((done) => setTimeout(done, 300));
    expect(Number(await inspect.get('shieldx:pools:version'))).toBe(before + 2);
    expect(JSON.parse((await inspect.hget('shieldx:pools', 'extra')) ?? '{}')).toMatchObject({
      v: before + 2,
      origin: 'instance-a',
      def: null,
    });
  });

  it('last writer wins: concurrent edits of one pool on A and B converge on the higher version', async () => {
    const [onA, onB] = await Promise.all([
      call(a, 'PUT', '/admin/pools/race', { body: { urls: [oldBackend.url] } }),
      call(b, 'PUT', '/admin/pools/race', { body: { urls: [newBackend.url] } }),
    ]);
    expect([onA.status, onB.status]).toEqual([200, 200]);
    const targetOf = async (orch: RunningOrchestrator) =>
      ((await call(orch, 'POST', '/route', { body: { ...ROUTE, service: 'race' } })).body.target as string) ?? '';
    await within(
      1000,
      async () => {
        const record = JSON.parse((await inspect.hget('shieldx:pools', 'race')) ?? '{}') as {
          def?: { backends: { url: string }[] };
        };
        const winner = record.def?.backends[0]?.url;
        return winner !== undefined && (await targetOf(a)) === winner && (await targetOf(b)) === winner;
      },
      'both instances use the pool of the higher version',
    );
  });

  it('refuses on B an admission header or a DPoP proof already used on A', async () => {
    const admission = signAdmission({ secret: SECRET, method: 'POST', pathWithQuery: '/route' });
    const first = await call(a, 'POST', '/route', { body: ROUTE, headers: { 'x-shieldx-admission': admission } });
    expect(first.status).toBe(200);
    const replayed = await call(b, 'POST', '/route', { body: ROUTE, headers: { 'x-shieldx-admission': admission } });
    expect([replayed.status, replayed.body.error]).toEqual([401, 'admission_replayed']);

    const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
    const signer = { privateKey, jwk: await exportJWK(publicKey) };
    const proof = await dpopProof(signer, 'POST', '/route');
    const withProof = await call(a, 'POST', '/route', { body: ROUTE, headers: { dpop: proof } });
    expect(withProof.status).toBe(200);
    const proofReplayed = await call(b, 'POST', '/route', { body: ROUTE, headers: { dpop: proof } });
    expect([proofReplayed.status, proofReplayed.body.error]).toEqual([401, 'dpop_replayed']);
    // A fresh proof of the same key is fine on B: what is refused is the replay, not the client.
    const fresh = await call(b, 'POST', '/route', {
      body: ROUTE,
      headers: { dpop: await dpopProof(signer, 'POST', '/route') },
    });
    expect(fresh.status).toBe(200);
  });

  it('reloads the policy on B when an admin reloads it on A', async () => {
    const version = async (orch: RunningOrchestrator) => (await call(orch, 'GET', '/policy')).body.version as number;
    const before = await version(b);
    const reload = await call(a, 'POST', '/admin/policy/reload');
    expect(reload.status).toBe(200);
    await within(1000, async () => (await version(b)) > before, 'B reloaded its policy');
    // B's record names where the reload came from.
    const audit = await call(b, 'GET', '/admin/audit?type=policy.reloaded&limit=20');
    expect(audit.body.entries).toContainEqual(
      expect.objectContaining({
        data: expect.objectContaining({ trigger: 'cluster', actor: 'cluster:instance-a' }),
      }),
    );
  });

  it('promotes the candidate on B when an admin promotes it on A, and a reload on A reverts both', async () => {
    const closed = { ...ROUTE, tenant: CLOSED_BY_CANDIDATE };
    const status = async (orch: RunningOrchestrator) => (await call(orch, 'POST', '/route', { body: closed })).status;
    expect(await status(b)).toBe(200);
    const promote = await call(a, 'POST', '/admin/policy/promote', { headers: { 'x-correlation-id': 'promote-a' } });
    expect(promote.status).toBe(200);
    expect(await status(a)).toBe(403);
    await within(1000, async () => (await status(b)) === 403, 'B promoted its candidate');
    const audit = await call(b, 'GET', '/admin/audit?type=admin.action&limit=20');
    expect(audit.body.entries).toContainEqual(
      expect.objectContaining({
        data: expect.objectContaining({ action: 'policy.promote', actor: 'cluster:instance-a' }),
      }),
    );
    const reload = await call(a, 'POST', '/admin/policy/reload');
    expect(reload.status).toBe(200);
    expect(await status(a)).toBe(200);
    await within(1000, async () => (await status(b)) === 200, 'B reloaded its own files');
  });

  it('mirrors the audit events of both instances to the shared stream (XRANGE), each with its own chain', async () => {
    type Fields = Record<string, string>;
    const read = async (): Promise<Fields[]> =>
      (await inspect.xrange('shieldx:audit', '-', '+')).map(([, fields]) => {
        const map: Fields = {};
        for (let i = 0; i < fields.length; i += 2) map[fields[i]] = fields[i + 1];
        return map;
      });
    await within(
      2000,
      async () => {
        const entries = await read();
        const of = (instance: string) => entries.filter((entry) => entry.instance === instance);
        return (
          of('instance-a').some((e) => e.type === 'admin.action') &&
          of('instance-b').some((e) => e.type === 'auth.failed') &&
          of('instance-b').some(
            (e) => e.type === 'pool.changed' && (JSON.parse(e.data) as { source?: string }).source === 'cluster',
          )
        );
      },
      'audit entries of A and B in the stream',
    );
    const entries = await read();
    for (const instance of ['instance-a', 'instance-b']) {
      const own = entries.filter((entry) => entry.instance === instance);
      expect(own[0]).toMatchObject({ type: 'audit.started' });
      // The stream carries each instance's own seq and hash: strictly increasing seqs, hashes of 64 hex digits.
      const seqs = own.map((entry) => Number(entry.seq));
      expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
      expect(new Set(seqs).size).toBe(seqs.length);
      for (const entry of own) expect(entry.hash).toMatch(/^[0-9a-f]{64}$/);
    }
    // The same page through the admin API of either instance (for the admin UI).
    const page = await call(b, 'GET', '/admin/cluster/audit?limit=500');
    expect(page.status).toBe(200);
    const instances = new Set((page.body.entries as { instance: string }[]).map((entry) => entry.instance));
    expect([...instances].sort()).toEqual(['instance-a', 'instance-b']);
    const bad = await call(b, 'GET', '/admin/cluster/audit?limit=0');
    expect([bad.status, bad.body.error]).toEqual([400, 'invalid_query']);
  });

  it('survives a Redis outage: requests keep working, an edit made meanwhile is shared once Redis is back', async () => {
    await redis.kill();
    // Requests are still answered (rate limits and replay checks fall back as configured; never a 5xx).
    expect((await route(b)).status).toBe(200);
    const edit = await call(a, 'PUT', '/admin/pools/api', { body: { urls: [oldBackend.url] } });
    expect(edit.status).toBe(200);
    expect((await route(a)).body.target).toBe(oldBackend.url);
    const status = await call(a, 'GET', '/admin/cluster');
    expect(status.body).toMatchObject({ inSync: false, pools: { pending: ['api'] } });
    const metrics = await (await fetch(`${a.url}/metrics`)).text();
    expect(metrics).toMatch(/^orchestrator_cluster_sync_errors_total\{kind="publish"\} [1-9]/m);

    // Redis comes back empty (no persistence): the pending edit is published, versions stay above what was seen.
    await redis.restart();
    await within(5000, async () => (await route(b)).body.target === oldBackend.url, 'B applied the pending edit');
    await inSync(a);
    await inSync(b);
    const after = await call(a, 'GET', '/admin/cluster');
    expect(after.body).toMatchObject({ inSync: true, pools: { pending: [] } });
    const record = JSON.parse((await inspect.hget('shieldx:pools', 'api')) ?? '{}') as { v: number };
    expect(record.v).toBeGreaterThan(3);
    expect(Number(await inspect.get('shieldx:pools:version'))).toBeGreaterThanOrEqual(record.v);

    // And an edit on B after the restart reaches A as usual.
    expect((await call(b, 'PUT', '/admin/pools/api', { body: { urls: [newBackend.url] } })).status).toBe(200);
    await within(1000, async () => (await route(a)).body.target === newBackend.url, 'A applied the edit made on B');
  });
});

/**
 * The same coherence on a Redis Cluster (REDIS_CLUSTER, three masters): every ShieldX command stays within one hash
 * slot (rate-limit buckets share the `{shieldx:rl}` tag because one script takes a request's IP and tenant tokens).
 */
describe('two instances on a Redis Cluster (REDIS_CLUSTER)', () => {
  let redis: RunningRedisCluster;
  let oldBackend: RunningDemoBackend;
  let newBackend: RunningDemoBackend;
  let a: RunningOrchestrator;
  let b: RunningOrchestrator;
  let inspect: Cluster;

  const env = (id: string) => ({
    REDIS_CLUSTER: redis.nodes.join(','),
    ORCH_INSTANCE_ID: id,
    ORCH_ADMIN_TOKEN: TOKEN,
    ADMISSION_SECRET: SECRET,
    ORCH_POOL_API: oldBackend.url,
    ORCH_IP_BURST: '1000000',
    ORCH_IP_BURST_DEGRADED: '1000000',
    // Shared by both instances: 12 tokens for tenant `small`, whichever instance takes them.
    ORCH_TENANT_LIMITS: 'small=12',
    ORCH_REDIS_TIMEOUT: '1s',
    ORCH_LOG_LEVEL: 'warn',
  });

  beforeAll(async () => {
    redis = await startRedisCluster();
    oldBackend = await startDemoBackend({ name: 'old', delayMs: 0, jitterMs: 0 });
    newBackend = await startDemoBackend({ name: 'new', delayMs: 0, jitterMs: 0 });
    a = await startOrchestrator(env('cluster-a'));
    b = await startOrchestrator(env('cluster-b'));
    inspect = new Cluster(
      redis.nodes.map((node) => ({ host: '127.0.0.1', port: Number(node.split(':')[1]) })),
      { lazyConnect: true },
    );
    await inspect.connect();
    await inSync(a);
    await inSync(b);
  }, 60_000);

  afterAll(async () => {
    inspect?.disconnect();
    await a?.close();
    await b?.close();
    await oldBackend?.close();
    await newBackend?.close();
    await redis?.stop();
  });

  it('shares pool edits, replay keys, rate limits and the audit stream', async () => {
    const put = await call(a, 'PUT', '/admin/pools/api', { body: { urls: [newBackend.url] } });
    expect(put.status).toBe(200);
    await within(1000, async () => (await route(b)).body.target === newBackend.url, 'B uses the pool edited on A');

    const admission = signAdmission({ secret: SECRET, method: 'POST', pathWithQuery: '/route' });
    expect(
      (await call(a, 'POST', '/route', { body: ROUTE, headers: { 'x-shieldx-admission': admission } })).status,
    ).toBe(200);
    const replayed = await call(b, 'POST', '/route', { body: ROUTE, headers: { 'x-shieldx-admission': admission } });
    expect([replayed.status, replayed.body.error]).toEqual([401, 'admission_replayed']);

    // The tenant's 12 tokens are one bucket in the cluster: 6 on A and 6 on B pass, the next one is refused.
    const small = { ...ROUTE, tenant: 'small' };
    for (let i = 0; i < 6; i++) {
      expect((await call(a, 'POST', '/route', { body: small })).status).toBe(200);
      expect((await call(b, 'POST', '/route', { body: small })).status).toBe(200);
    }
    const refused = await call(a, 'POST', '/route', { body: small });
    expect([refused.status, refused.body.error]).toEqual([429, 'rate_limited']);
    expect(await inspect.exists('{shieldx:rl}:tenant:small')).toBe(1);

    await within(
      2000,
      async () => {
        const instances = new Set(
          (await inspect.xrange('shieldx:audit', '-', '+')).map(([, fields]) => fields[fields.indexOf('instance') + 1]),
        );
        return instances.has('cluster-a') && instances.has('cluster-b');
      },
      'audit entries of both instances in the stream',
    );
  });
});

/** An instance that starts while Redis is unreachable serves at once, and joins the cluster when Redis appears. */
describe('an instance started while Redis is down', () => {
  let redis: RunningRedis | undefined;
  let backend: RunningDemoBackend;
  let a: RunningOrchestrator;
  let b: RunningOrchestrator | undefined;
  let port: number;

  const env = (id: string) => ({
    REDIS_ADDR: `127.0.0.1:${port}`,
    ORCH_INSTANCE_ID: id,
    ORCH_ADMIN_TOKEN: TOKEN,
    ADMISSION_SECRET: SECRET,
    ORCH_REPLAY_REDIS_FAILURE: 'open',
    ORCH_POOL_API: 'http://127.0.0.1:9',
    ORCH_CLUSTER_RESYNC_EVERY: '250ms',
    ORCH_LOG_LEVEL: 'warn',
  });

  beforeAll(async () => {
    port = await freePort();
    backend = await startDemoBackend({ name: 'late', delayMs: 0, jitterMs: 0 });
    a = await startOrchestrator(env('early'));
  });

  afterAll(async () => {
    await a?.close();
    await b?.close();
    await backend?.close();
    await redis?.stop();
  });

  it('serves without Redis, then applies pool edits made elsewhere once Redis is reachable', async () => {
    expect((await route(a)).status).toBe(200);
    expect((await call(a, 'GET', '/admin/cluster')).body).toMatchObject({ instanceId: 'early', inSync: false });
    redis = await startRedis({ port });
    b = await startOrchestrator(env('late'));
    await inSync(b);
    expect((await call(b, 'PUT', '/admin/pools/api', { body: { urls: [backend.url] } })).status).toBe(200);
    await within(10_000, async () => (await route(a)).body.target === backend.url, 'A applied the edit made on B');
    await inSync(a);
  });
});
