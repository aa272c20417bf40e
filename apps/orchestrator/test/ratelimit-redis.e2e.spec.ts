import { Redis } from 'ioredis';
import { Pool } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDemoBackend, type RunningDemoBackend } from '../src/demo/demo-backends';
import { RateLimitBackend } from '../src/ratelimit/rate-limit-backend';
import { post, startOrchestrator, type RunningOrchestrator } from './harness';
import { freePort, startRedis, type RunningRedis } from './redis-harness';

/** Per-IP figure in these tests (tokens per minute = bucket size). */
const IP_LIMIT = 300;
const BODY = { service: 'api', tenant: 'acme', scope: 'read', path: '/v1/items' };

/** Status counts of a set of answers. */
type Tally = Map<number, number>;

/** Keep-alive connection pools per orchestrator URL and source address, so a burst is limited by the servers. */
const pools = new Map<string, Pool>();

/** Loopback address the test's connections come from: 127.0.0.1 is the trusted proxy, 127.0.0.2 is not. */
type Source = '127.0.0.1' | '127.0.0.2';

/**
 * Sends `total` POST /route requests spread round-robin over `urls`, all at once (over pooled, pipelined
 * connections), and counts the statuses. `headers(i)` gives request i's extra headers.
 */
async function burst(
  urls: readonly string[],
  total: number,
  options: { body?: object; headers?: (i: number) => Record<string, string>; from?: Source } = {},
): Promise<{ tally: Tally; elapsedMs: number }> {
  const { body = BODY, headers = () => ({}), from = '127.0.0.1' } = options;
  const tally: Tally = new Map();
  const payload = JSON.stringify(body);
  const started = performance.now();
  await Promise.all(
    Array.from({ length: total }, async (_, i) => {
      const url = urls[i % urls.length];
      let pool = pools.get(`${url} ${from}`);
      if (pool === undefined) {
        pool = new Pool(url, { connections: 16, pipelining: 4, localAddress: from });
        pools.set(`${url} ${from}`, pool);
      }
      const res = await pool.request({
        method: 'POST',
        path: '/route',
        headers: { 'content-type': 'application/json', ...headers(i) },
        body: payload,
      });
      await res.body.dump();
      tally.set(res.statusCode, (tally.get(res.statusCode) ?? 0) + 1);
    }),
  );
  return { tally, elapsedMs: performance.now() - started };
}

const admitted = (tally: Tally) => tally.get(200) ?? 0;
const fiveHundreds = (tally: Tally) => [...tally].filter(([status]) => status >= 500).reduce((n, [, c]) => n + c, 0);

/** Tokens refilled during `ms` at `perMinute` (the exact slack a burst that lasts `ms` may see). */
const refill = (perMinute: number, ms: number) => Math.ceil((perMinute * ms) / 60_000);

/** Resolves when the instance's rate-limit backend reports `state` (at once if it already is there). */
function backendState(orch: RunningOrchestrator, state: 'up' | 'down'): Promise<void> {
  const failover = orch.app.get(RateLimitBackend).failover;
  if (failover === null) throw new Error('this instance has no Redis backend');
  if (failover.state === state) return Promise.resolve();
  return new Promise((resolve) => {
    const off = failover.onStateChange((change) => {
      if (change.state !== state) return;
      off();
      resolve();
    });
  });
}

async function metric(orch: RunningOrchestrator, name: string): Promise<string | undefined> {
  const text = await (await fetch(`${orch.url}/metrics`)).text();
  return text.split('\n').find((line) => line.startsWith(`${name} `) || line.startsWith(`${name}{`));
}

/** Headers making the trusted proxy (127.0.0.1) speak for client `ip`. */
const via = (ip: string) => ({ 'x-forwarded-for': ip });

describe('rate limits shared through Redis by two orchestrators', () => {
  let redis: RunningRedis;
  let admin: Redis;
  let backend: RunningDemoBackend;
  let a: RunningOrchestrator;
  let b: RunningOrchestrator;
  /** A third instance on the same Redis, configured fail-closed. */
  let closed: RunningOrchestrator;

  beforeAll(async () => {
    redis = await startRedis();
    admin = new Redis(redis.url, { maxRetriesPerRequest: 0, lazyConnect: true });
    admin.on('error', () => undefined); // reconnection noise while the server is killed on purpose
    await admin.connect();
    backend = await startDemoBackend({ name: 'a', delayMs: 0, jitterMs: 0 });
    const env = {
      ORCH_POOL_API: backend.url,
      ORCH_IP_BURST: String(IP_LIMIT),
      ORCH_IP_BURST_DEGRADED: String(IP_LIMIT),
      ORCH_TENANT_BURST: '1000000',
      ORCH_TENANT_LIMITS: 'small=40',
      // Each test speaks for its own client addresses through this proxy, so tests share no bucket.
      ORCH_TRUSTED_PROXIES: '127.0.0.1',
      REDIS_ADDR: `127.0.0.1:${redis.port}`,
      ORCH_REDIS_TIMEOUT: '200ms',
    };
    [a, b, closed] = await Promise.all([
      startOrchestrator(env),
      startOrchestrator(env),
      startOrchestrator({ ...env, ORCH_RATELIMIT_REDIS_FAILURE: 'closed' }),
    ]);
    // Warm the code paths (admitted and refused) so a burst measures steady speed, not the JIT.
    for (let round = 0; round < 3; round++) {
      await burst([a.url, b.url, closed.url], 2 * IP_LIMIT, { headers: () => via(`192.0.2.${round}`) });
    }
  });

  afterAll(async () => {
    await Promise.all([...pools.values()].map((pool) => pool.close()));
    await Promise.all([a?.close(), b?.close(), closed?.close()]);
    admin?.disconnect();
    await backend?.close();
    await redis?.stop();
  });

  it('admits exactly the per-IP limit of a burst sent to both instances at once', async () => {
    const { tally, elapsedMs } = await burst([a.url, b.url], 3 * IP_LIMIT, { headers: () => via('203.0.113.1') });
    const ok = admitted(tally);
    // Exact: the bucket, plus what refilled while the burst lasted (≤ 1 % of the limit for a burst under 0.6 s;
    // in-process limiters on two instances would admit twice the limit).
    expect(ok).toBeGreaterThanOrEqual(IP_LIMIT);
    expect(ok).toBeLessThanOrEqual(IP_LIMIT + refill(IP_LIMIT, elapsedMs));
    if (elapsedMs <= 600) expect(ok).toBeLessThanOrEqual(Math.floor(IP_LIMIT * 1.01));
    expect(tally.get(429)).toBe(3 * IP_LIMIT - ok);
    expect(await metric(a, 'orchestrator_ratelimit_redis_up')).toBe('orchestrator_ratelimit_redis_up 1');
  });

  it('a spoofed X-Forwarded-For does not escape the shared limit, from an untrusted peer or behind the proxy', async () => {
    const spoofed = (i: number) => `198.51.100.${i % 250}`;
    // An untrusted peer (127.0.0.2) writing whatever it likes: its own address is the key.
    const direct = await burst([a.url, b.url], 2 * IP_LIMIT, {
      from: '127.0.0.2',
      headers: (i) => ({ 'x-forwarded-for': spoofed(i) }),
    });
    expect(admitted(direct.tally)).toBeGreaterThanOrEqual(IP_LIMIT);
    expect(admitted(direct.tally)).toBeLessThanOrEqual(IP_LIMIT + refill(IP_LIMIT, direct.elapsedMs));
    // Behind the trusted proxy, entries the client prepends are left of its real address: the right-most untrusted
    // hop is the key.
    const proxied = await burst([a.url, b.url], 2 * IP_LIMIT, {
      headers: (i) => ({ 'x-forwarded-for': `${spoofed(i)}, 203.0.113.2` }),
    });
    expect(admitted(proxied.tally)).toBeGreaterThanOrEqual(IP_LIMIT);
    expect(admitted(proxied.tally)).toBeLessThanOrEqual(IP_LIMIT + refill(IP_LIMIT, proxied.elapsedMs));
    expect(await admin.keys('shieldx:rl:ip:198.51.100.*')).toEqual([]);
    expect(await admin.exists('shieldx:rl:ip:127.0.0.2', 'shieldx:rl:ip:203.0.113.2')).toBe(2);
  });

  it('applies a per-tenant override across instances, and RateLimit headers on both answers', async () => {
    const headers = () => via('203.0.113.3');
    const { tally } = await burst([a.url, b.url], 100, { body: { ...BODY, tenant: 'small' }, headers });
    expect(admitted(tally)).toBe(40);
    const refused = await post(`${b.url}/route`, { ...BODY, tenant: 'small' }, headers());
    expect(refused.status).toBe(429);
    expect(refused.body).toMatchObject({ error: 'rate_limited', correlationId: expect.any(String) });
    expect(refused.headers.get('ratelimit-limit')).toBe('40');
    expect(refused.headers.get('ratelimit-remaining')).toBe('0');
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    const other = await post(`${a.url}/route`, BODY, headers());
    expect(other.status).toBe(200);
    expect(other.headers.get('ratelimit-limit')).toBe(String(IP_LIMIT));
    expect(Number(other.headers.get('ratelimit-remaining'))).toBe(IP_LIMIT - 102);
    expect(await admin.exists('shieldx:rl:tenant:small')).toBe(1);
  });

  it('counts requests that fail before their tenant step, and refuses a refused IP before reading its body', async () => {
    const headers = via('203.0.113.4');
    const started = performance.now();
    // Invalid bodies (400): each pays its IP token after its answer (none can be refused yet: the bucket holds them).
    for (let i = 0; i < IP_LIMIT; i++) {
      expect((await post(`${a.url}/route`, { ...BODY, tenant: 'a/b' }, headers)).status).toBe(400);
    }
    // Valid requests to the same instance reach Redis after those tokens (one connection keeps the order): only what
    // refilled meanwhile can pass.
    let passed = 0;
    let last: Awaited<ReturnType<typeof post>>;
    while ((last = await post(`${a.url}/route`, BODY, headers)).status === 200 && passed < IP_LIMIT) passed++;
    expect(last.status).toBe(429);
    expect(passed).toBeLessThanOrEqual(refill(IP_LIMIT, performance.now() - started));
    // The refusal is remembered: malformed JSON now gets 429, not 400 invalid_json, so its body was never read. (If
    // the refusal expired in between, the 400 pays a token, is refused, and the next one is remembered.)
    const answers: unknown[] = [];
    for (let i = 0; i < 3 && !answers.includes('rate_limited'); i++) {
      answers.push((await post(`${a.url}/route`, '{"not json', headers)).body['error']);
    }
    expect(answers).toContain('rate_limited');
  });

  it('survives Redis dying under load: no 5xx, per-instance limits (fail-open) or 429 (fail-closed); then resumes', async () => {
    // Load on both instances while Redis is killed.
    let stop = false;
    let answered = 0;
    let warmedUp: () => void;
    const warm = new Promise<void>((resolve) => (warmedUp = resolve));
    const during: Tally = new Map();
    const load = async (url: string) => {
      while (!stop) {
        const res = await post(`${url}/route`, BODY, via('203.0.113.5'));
        during.set(res.status, (during.get(res.status) ?? 0) + 1);
        if (++answered === 100) warmedUp();
      }
    };
    const loaders = [a.url, b.url, a.url, b.url].map(load);
    const down = Promise.all([backendState(a, 'down'), backendState(b, 'down'), backendState(closed, 'down')]);
    await warm;
    await redis.kill();
    await down;
    await burst([a.url, b.url], 20, { headers: () => via('203.0.113.5') }).then(({ tally }) => {
      for (const [status, count] of tally) during.set(status, (during.get(status) ?? 0) + count);
    });
    stop = true;
    await Promise.all(loaders);
    expect(fiveHundreds(during)).toBe(0);
    expect([...during.keys()].every((status) => status === 200 || status === 429)).toBe(true);

    // Fail-open: each instance limits on its own; a burst at one instance is held to the limit.
    const onA = await burst([a.url], 2 * IP_LIMIT, { headers: () => via('203.0.113.6') });
    expect(fiveHundreds(onA.tally)).toBe(0);
    expect(admitted(onA.tally)).toBeGreaterThanOrEqual(IP_LIMIT);
    expect(admitted(onA.tally)).toBeLessThanOrEqual(IP_LIMIT + refill(IP_LIMIT, onA.elapsedMs));
    expect(await metric(a, 'orchestrator_ratelimit_redis_up')).toBe('orchestrator_ratelimit_redis_up 0');
    const logs = [...a.logs, ...b.logs, ...closed.logs];
    expect(logs).toContainEqual(
      expect.objectContaining({ event: 'ratelimit_backend', state: 'down', failure: 'open', level: 'warn' }),
    );
    const readyA = await fetch(`${a.url}/readyz`);
    expect(readyA.status).toBe(200);
    expect(await readyA.json()).toMatchObject({ info: { redis: { status: 'up', degraded: true } } });

    // Fail-closed: refused with 429 and a clear code, never a 5xx; not ready.
    const refused = await post(`${closed.url}/route`, BODY, via('203.0.113.7'));
    expect(refused.status).toBe(429);
    expect(refused.body).toMatchObject({ error: 'ratelimit_unavailable' });
    expect(refused.headers.get('retry-after')).toBe('1');
    expect((await fetch(`${closed.url}/readyz`)).status).toBe(503);

    // Redis back (empty): every instance returns to it on its own, and the shared limit holds again.
    const up = Promise.all([backendState(a, 'up'), backendState(b, 'up'), backendState(closed, 'up')]);
    await redis.restart();
    await up;
    const after = await burst([a.url, b.url, closed.url], 3 * IP_LIMIT, { headers: () => via('203.0.113.8') });
    expect(fiveHundreds(after.tally)).toBe(0);
    expect(admitted(after.tally)).toBeGreaterThanOrEqual(IP_LIMIT);
    expect(admitted(after.tally)).toBeLessThanOrEqual(IP_LIMIT + refill(IP_LIMIT, after.elapsedMs));
    expect(await metric(a, 'orchestrator_ratelimit_redis_up')).toBe('orchestrator_ratelimit_redis_up 1');
    expect((await fetch(`${closed.url}/readyz`)).status).toBe(200);
    expect([...a.logs, ...b.logs, ...closed.logs]).toContainEqual(
      expect.objectContaining({ event: 'ratelimit_backend', state: 'up', backend: 'redis' }),
    );
  });
});

describe('an orchestrator whose Redis is not there yet', () => {
  let orch: RunningOrchestrator | undefined;
  let redis: RunningRedis | undefined;

  afterAll(async () => {
    await orch?.close();
    await redis?.stop();
  });

  it('starts and serves with in-process limits (fail-open), then moves to Redis once it appears', async () => {
    const port = await freePort();
    orch = await startOrchestrator({
      ORCH_POOL_API: 'http://127.0.0.1:9',
      ORCH_IP_BURST: '5',
      ORCH_IP_BURST_DEGRADED: '5',
      REDIS_ADDR: `127.0.0.1:${port}`,
    });
    expect(orch.app.get(RateLimitBackend).failover?.state).toBe('down');
    expect(orch.logs).toContainEqual(expect.objectContaining({ event: 'redis_unavailable_at_start', level: 'warn' }));
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) statuses.push((await post(`${orch.url}/route`, BODY)).status);
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429]);
    const ready = await fetch(`${orch.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ info: { redis: { status: 'up', degraded: true } } });

    const up = backendState(orch, 'up');
    redis = await startRedis({ port });
    await up;
    expect(await metric(orch, 'orchestrator_ratelimit_redis_up')).toBe('orchestrator_ratelimit_redis_up 1');
    // Redis holds fresh buckets: the shared limit starts full.
    const after: number[] = [];
    for (let i = 0; i < 6; i++) after.push((await post(`${orch.url}/route`, BODY)).status);
    expect(after).toEqual([200, 200, 200, 200, 200, 429]);
    expect(await (await fetch(`${orch.url}/readyz`)).json()).toMatchObject({
      info: { redis: { status: 'up', connection: 'ready' } },
    });
  });
});
