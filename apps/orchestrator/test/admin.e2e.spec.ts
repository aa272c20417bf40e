import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdminEventsService } from '../src/admin/admin-events.service';
import { SecurityEvents, type SecurityEvent } from '../src/events/security-events';
import { startTestBackend, type TestBackend } from './backends';
import { eventually } from './eventually';
import { post, startOrchestrator, type RunningOrchestrator } from './harness';
import { tlsCall } from './json-client';
import { EventStreamReader } from './sse';

const TOKEN = 'admin-token-for-e2e-tests-0123456789';
const AUTH = { authorization: `Bearer ${TOKEN}` };

interface Answer {
  readonly status: number;
  readonly headers: Headers;
  readonly body: Record<string, unknown>;
}

async function call(
  base: string,
  method: string,
  path: string,
  options: { headers?: Record<string, string>; body?: unknown } = {},
): Promise<Answer> {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: {
      ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
      ...options.headers,
    },
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    body: (text.startsWith('{') ? JSON.parse(text) : { text }) as Record<string, unknown>,
  };
}

interface BackendView {
  url: string;
  healthy: boolean;
  cb_state: string;
  weight: number;
  last_error: string | null;
}
interface PoolView {
  name: string;
  algo: string;
  backends: BackendView[];
}
interface BreakerView {
  pool: string;
  backend: string;
  state: string;
  nextTrialInMs: number | null;
}

/** Polls `read` until `done` holds (the state under test changes asynchronously), failing after `timeoutMs`. */
async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 3000): Promise<T> {
  let last: T | undefined;
  const found = await eventually(
    async () => {
      last = await read();
      return done(last) ? { value: last } : undefined;
    },
    { timeoutMs, everyMs: 25, what: () => `the awaited state (last seen: ${JSON.stringify(last)})` },
  );
  return found.value;
}

describe('admin API with a bearer token', () => {
  let orch: RunningOrchestrator;
  let good: TestBackend;
  let sick: TestBackend;
  let late: TestBackend;
  const seen: SecurityEvent[] = [];
  const securityEvents = (type: string): SecurityEvent[] => seen.filter((event) => event.type === type);
  const pools = async (): Promise<PoolView[]> =>
    (await call(orch.url, 'GET', '/admin/pools', { headers: AUTH })).body['pools'] as PoolView[];
  const pool = async (name: string): Promise<PoolView | undefined> => (await pools()).find((p) => p.name === name);
  const breakers = async (): Promise<BreakerView[]> =>
    (await call(orch.url, 'GET', '/admin/breakers', { headers: AUTH })).body['breakers'] as BreakerView[];

  beforeAll(async () => {
    good = await startTestBackend('good');
    sick = await startTestBackend('sick');
    sick.healthStatus = 503;
    late = await startTestBackend('late');
    late.healthStatus = 503;
    orch = await startOrchestrator({
      ORCH_ADMIN_TOKEN: TOKEN,
      // Slow periodic probes: a backend probed within a second was probed because it is new, not by the timer.
      ORCH_HEALTH_EVERY: '5s',
      ORCH_HEALTH_TIMEOUT: '500ms',
      ORCH_CB_FAILS: '1',
      ORCH_CB_OPEN_FOR: '30s',
      ORCH_POOL_API: good.url,
      ORCH_POOL_EDGE: `${good.url},${sick.url}`,
    });
    orch.app.get(SecurityEvents).onEvent((event) => seen.push(event));
  });

  afterAll(async () => {
    await orch?.close();
    await Promise.all([good, sick, late].map((b) => b?.close()));
  });

  const ROUTES: readonly [string, string, unknown?][] = [
    ['GET', '/admin/pools'],
    ['PUT', '/admin/pools/extra', { urls: ['http://127.0.0.1:9'] }],
    ['DELETE', '/admin/pools/extra'],
    ['GET', '/admin/breakers'],
    ['GET', '/admin/policy'],
    ['GET', '/admin/metrics'],
    ['GET', '/admin/events'],
    ['POST', '/admin/policy/reload'],
    ['GET', '/admin/audit'],
    ['GET', '/admin/ledger/verify'],
  ];

  it('refuses every admin route without credentials, with a wrong token or another scheme (401)', async () => {
    for (const [method, path, body] of ROUTES) {
      const attempts: Record<string, string>[] = [
        {},
        { authorization: 'Bearer wrong-token-of-some-length' },
        { authorization: `Basic ${TOKEN}` },
      ];
      for (const headers of attempts) {
        const answer = await call(orch.url, method, path, { headers, body });
        expect({ method, path, status: answer.status, error: answer.body['error'] }).toEqual({
          method,
          path,
          status: 401,
          error: 'admin_unauthorized',
        });
        expect(answer.headers.get('www-authenticate')).toBe('Bearer realm="shieldx-admin"');
        expect(answer.body['correlationId']).toBe(answer.headers.get('x-correlation-id'));
      }
    }
    // One auth.failed event per client address per 10 s, however many refusals.
    const failures = securityEvents('auth.failed');
    expect(failures).toHaveLength(1);
    expect(failures[0].data).toMatchObject({ scheme: 'admin', reason: 'admin_unauthorized', ip: '127.0.0.0' });
  });

  it('answers every admin route with the token', async () => {
    for (const [method, path, body] of ROUTES) {
      if (path === '/admin/events') {
        const stream = await EventStreamReader.open(`${orch.url}${path}`, AUTH);
        expect(stream.status).toBe(200);
        expect(stream.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
        expect(stream.headers.get('x-correlation-id')).toMatch(/\S/);
        await stream.next((e) => e.event === 'hello');
        stream.close();
        continue;
      }
      const answer = await call(orch.url, method, path, { headers: AUTH, body });
      expect({ method, path, status: answer.status }).toEqual({ method, path, status: 200 });
    }
  });

  it('has no cluster endpoints without Redis: 404 JSON, which the admin UI reads as "this instance runs alone"', async () => {
    for (const path of ['/admin/cluster', '/admin/cluster/audit']) {
      const answer = await call(orch.url, 'GET', path, { headers: AUTH });
      expect({ path, status: answer.status }).toEqual({ path, status: 404 });
      expect(answer.body).toMatchObject({ correlationId: expect.any(String) });
    }
  });

  it('lists every pool with each backend’s health, breaker, EWMA latency, in-flight count and weight', async () => {
    const answer = await call(orch.url, 'GET', '/admin/pools', { headers: AUTH });
    expect(answer.body['health_ratio']).toEqual(expect.any(Number));
    const edge = await until(
      () => pool('edge'),
      (p) => p?.backends.find((b) => b.url === sick.url)?.healthy === false,
    );
    expect(edge).toMatchObject({ name: 'edge', algo: 'ewma', total: 2 });
    expect(edge!.backends).toEqual([
      {
        url: good.url,
        healthy: true,
        ewma_ms: expect.any(Number),
        inflight: 0,
        cb_state: 'closed',
        weight: 1,
        last_error: null,
      },
      {
        url: sick.url,
        healthy: false,
        ewma_ms: expect.any(Number),
        inflight: 0,
        cb_state: 'open',
        weight: 1,
        last_error: 'health check answered 503',
      },
    ]);
  });

  it('refuses SSRF targets: metadata, link-local, unspecified and multicast addresses, in any spelling', async () => {
    const targets = [
      'http://169.254.169.254/latest/meta-data',
      'http://2852039166',
      'http://0xa9.0xfe.0xa9.0xfe',
      'http://[::ffff:169.254.169.254]',
      'http://metadata.google.internal',
      'http://METADATA.GOOGLE.INTERNAL.:80',
      'http://[fd00:ec2::254]',
      'http://169.254.10.20:8080',
      'http://[fe80::1]:8080',
      'http://0.0.0.0:8080',
      'http://[::]:8080',
      'http://224.0.0.251',
    ];
    for (const url of targets) {
      const answer = await call(orch.url, 'PUT', '/admin/pools/api', {
        headers: AUTH,
        body: { urls: [good.url, url] },
      });
      expect({ url, status: answer.status, error: answer.body['error'] }).toEqual({
        url,
        status: 400,
        error: 'backend_refused',
      });
      expect(answer.body['message']).toMatch(/ORCH_ADMIN_ALLOW_PRIVATE=1/);
    }
    // Nothing changed.
    expect((await pool('api'))!.backends.map((b) => b.url)).toEqual([good.url]);
  });

  it('validates pool names, URLs, weights and the body shape', async () => {
    const put = (name: string, body: unknown) => call(orch.url, 'PUT', `/admin/pools/${name}`, { headers: AUTH, body });
    const bad = async (name: string, body: unknown, error: string, message: RegExp) => {
      const answer = await put(name, body);
      expect({ name, body, status: answer.status, error: answer.body['error'] }).toEqual({
        name,
        body,
        status: 400,
        error,
      });
      expect(answer.body['message']).toMatch(message);
    };
    await bad('Bad.Name', { urls: [good.url] }, 'invalid_pool_name', /is not a pool name/);
    await bad('ok', { urls: ['ftp://127.0.0.1:21'] }, 'invalid_request', /must use http or https/);
    await bad('ok', { urls: ['http://'] }, 'invalid_request', /is not a backend URL/);
    await bad('ok', { urls: ['http://user:pw@127.0.0.1:9'] }, 'invalid_request', /must not carry credentials/);
    await bad('ok', { urls: [good.url, `${good.url}/`] }, 'invalid_request', /listed twice/);
    await bad('ok', { urls: [] }, 'invalid_request', /urls/);
    await bad('ok', { urls: 'http://127.0.0.1:9' }, 'invalid_request', /urls/);
    await bad('ok', { urls: [good.url], algo: 'random' }, 'invalid_request', /algo/);
    await bad('ok', { urls: [good.url], extra: 1 }, 'invalid_request', /extra/);
    await bad('ok', { urls: [good.url], weights: { [good.url]: 0 } }, 'invalid_request', /must be a number > 0/);
    await bad(
      'ok',
      { urls: [good.url], weights: { 'http://127.0.0.1:9': 2 } },
      'invalid_request',
      /not one of the urls/,
    );
    expect((await pools()).map((p) => p.name)).not.toContain('ok');
  });

  it('keeps the health and breaker of backends that stay, probes new ones at once, and records before/after', async () => {
    const before = await until(breakers, (list) =>
      list.some((b) => b.pool === 'edge' && b.backend === sick.url && b.state === 'open'),
    );
    const sickBefore = before.find((b) => b.pool === 'edge' && b.backend === sick.url)!;
    // A gap, so a breaker that kept running shows less time left than before (a new one would show the full 30 s).
    await new Promise((resolve) => setTimeout(resolve, 50));

    const answer = await call(orch.url, 'PUT', '/admin/pools/edge', {
      headers: AUTH,
      body: { urls: [good.url, sick.url, late.url], algo: 'p2c', weights: { [good.url]: 3 } },
    });
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ pool: 'edge', created: false, algo: 'p2c', total: 3 });

    // The backend that stayed kept its breaker: still open, its open period running on (a new one would be closed).
    const after = await breakers();
    const sickAfter = after.find((b) => b.pool === 'edge' && b.backend === sick.url)!;
    expect(sickAfter.state).toBe('open');
    expect(sickAfter.nextTrialInMs!).toBeLessThan(sickBefore.nextTrialInMs!);
    const edge = (await pool('edge'))!;
    expect(edge.backends.find((b) => b.url === sick.url)).toMatchObject({
      healthy: false,
      last_error: 'health check answered 503',
    });
    expect(edge.backends.find((b) => b.url === good.url)).toMatchObject({ healthy: true, weight: 3 });

    // The new backend is probed at once, long before the 5 s probe interval.
    const started = performance.now();
    await until(
      () => pool('edge'),
      (p) => p?.backends.find((b) => b.url === late.url)?.healthy === false,
      2000,
    );
    expect(performance.now() - started).toBeLessThan(2000);

    const changed = securityEvents('pool.changed').at(-1)!;
    expect(changed.corrId).toBe(answer.headers.get('x-correlation-id'));
    expect(changed.data).toEqual({
      pool: 'edge',
      kind: 'updated',
      actor: 'token',
      before: {
        algo: 'ewma',
        backends: [
          { url: good.url, weight: 1 },
          { url: sick.url, weight: 1 },
        ],
      },
      after: {
        algo: 'p2c',
        backends: [
          { url: good.url, weight: 3 },
          { url: sick.url, weight: 1 },
          { url: late.url, weight: 1 },
        ],
      },
    });
    expect(securityEvents('admin.action').at(-1)!.data).toEqual({ action: 'pool.put', pool: 'edge', actor: 'token' });
  });

  it('delivers a breaker transition over the event stream within 1 s, and lists it under /admin/breakers', async () => {
    const stream = await EventStreamReader.open(`${orch.url}/admin/events`, AUTH);
    try {
      await stream.next((e) => e.event === 'hello');
      const flaky = await startTestBackend('flaky');
      flaky.healthStatus = 500;
      try {
        const sent = performance.now();
        const answer = await call(orch.url, 'PUT', '/admin/pools/flaky', {
          headers: AUTH,
          body: { urls: [flaky.url] },
        });
        expect(answer.body).toMatchObject({ pool: 'flaky', created: true });
        const opened = await stream.next(
          (e) => e.event === 'breaker' && (e.data as { backend: string; to: string }).backend === flaky.url,
          1000,
        );
        expect(opened.receivedAt - sent).toBeLessThan(1000);
        expect(opened.data).toEqual({
          pool: 'flaky',
          backend: flaky.url,
          from: 'closed',
          to: 'open',
          at: expect.any(String),
          openForMs: 30_000,
        });
        expect(Date.now() - Date.parse((opened.data as { at: string }).at)).toBeLessThan(1000);
        await stream.next((e) => e.event === 'pool' && (e.data as { pool: string }).pool === 'flaky');
        await stream.next((e) => e.event === 'audit' && JSON.stringify(e.data).includes('breaker.transition'));

        const listed = (await call(orch.url, 'GET', '/admin/breakers', { headers: AUTH })).body as {
          breakers: BreakerView[];
          history: { pool: string; backend: string; to: string }[];
        };
        const breaker = listed.breakers.find((b) => b.pool === 'flaky')!;
        expect(breaker).toMatchObject({ backend: flaky.url, state: 'open', openForMs: 30_000, healthy: false });
        expect(breaker.nextTrialInMs).toBeGreaterThan(28_000);
        expect(breaker.nextTrialInMs).toBeLessThanOrEqual(30_000);
        expect(listed.history.at(-1)).toMatchObject({ pool: 'flaky', backend: flaky.url, to: 'open' });
      } finally {
        await flaky.close();
      }
    } finally {
      stream.close();
    }
  });

  it('streams a metrics snapshot every second with the data plane’s rates, and keeps them for /admin/metrics', async () => {
    const stream = await EventStreamReader.open(`${orch.url}/admin/events`, AUTH);
    try {
      for (let i = 0; i < 10; i++) {
        await post(`${orch.url}/route`, { service: 'api', tenant: 'acme', scope: 'read', path: '/v1/items' });
      }
      const denied = await post(`${orch.url}/route`, {
        service: 'api',
        tenant: 'acme',
        scope: 'read',
        path: '/internal/x',
      });
      expect(denied.status).toBe(403);
      const busy = await stream.next(
        (e) => e.event === 'metrics' && (e.data as { requestsPerSec: number }).requestsPerSec > 0,
        3000,
      );
      expect(busy.data).toEqual({
        ts: expect.any(Number),
        requestsPerSec: expect.any(Number),
        denialsPerSec: expect.any(Number),
        p99Ms: expect.any(Number),
        // Null unless a compiled OPA policy (the decision cache sits in front of it) was asked in the interval.
        cacheHitRate: null,
        healthyRatio: expect.any(Number),
        decisionsPerSec: { allow: expect.any(Number), deny: expect.any(Number), divert: 0, tarpit: 0 },
      });
      const first = stream.received.filter((e) => e.event === 'metrics');
      await stream.next((e) => e.event === 'metrics' && !first.includes(e), 2000);
      const history = (await call(orch.url, 'GET', '/admin/metrics', { headers: AUTH })).body as {
        samples: { requestsPerSec: number; denialsPerSec: number }[];
      };
      expect(history.samples.length).toBeGreaterThan(1);
      expect(history.samples.some((s) => s.requestsPerSec > 0)).toBe(true);
      expect(history.samples.some((s) => s.denialsPerSec > 0)).toBe(true);
    } finally {
      stream.close();
    }
  });

  it('announces policy reloads on the stream', async () => {
    const stream = await EventStreamReader.open(`${orch.url}/admin/events`, AUTH);
    try {
      await stream.next((e) => e.event === 'hello');
      const reload = await call(orch.url, 'POST', '/admin/policy/reload', { headers: AUTH });
      expect(reload.body).toMatchObject({ reloaded: true });
      const event = await stream.next((e) => e.event === 'policy', 1000);
      expect(event.data).toMatchObject({
        ok: true,
        version: reload.body['version'],
        status: { version: reload.body['version'] },
      });
    } finally {
      stream.close();
    }
  });

  it('removes a pool (404 for one that does not exist) and records it', async () => {
    await call(orch.url, 'PUT', '/admin/pools/doomed', { headers: AUTH, body: { urls: [good.url] } });
    const removed = await call(orch.url, 'DELETE', '/admin/pools/doomed', { headers: AUTH });
    expect(removed).toMatchObject({ status: 200, body: { pool: 'doomed', removed: true } });
    expect((await pools()).map((p) => p.name)).not.toContain('doomed');
    const again = await call(orch.url, 'DELETE', '/admin/pools/doomed', { headers: AUTH });
    expect(again).toMatchObject({ status: 404, body: { error: 'unknown_pool' } });
    expect(securityEvents('pool.changed').at(-1)!.data).toMatchObject({
      pool: 'doomed',
      kind: 'removed',
      before: { backends: [{ url: good.url, weight: 1 }] },
      after: null,
    });
  });

  it('ends open event streams when the server shuts down, so shutdown does not wait for browsers', async () => {
    const other = await startOrchestrator({ ORCH_ADMIN_TOKEN: TOKEN });
    const stream = await EventStreamReader.open(`${other.url}/admin/events`, AUTH);
    await stream.next((e) => e.event === 'hello');
    expect(other.app.get(AdminEventsService).streamCount).toBe(1);
    const started = performance.now();
    await other.close();
    expect(performance.now() - started).toBeLessThan(2000);
    await until(
      () => Promise.resolve(stream.done),
      (done) => done,
      1000,
    );
  });
});

describe('admin API in insecure dev mode without a token', () => {
  let orch: RunningOrchestrator;

  beforeAll(async () => {
    orch = await startOrchestrator({});
  });

  afterAll(async () => {
    await orch?.close();
  });

  it('is open to loopback callers and lets pools point at loopback (the demo backends live there)', async () => {
    expect((await call(orch.url, 'GET', '/admin/pools')).status).toBe(200);
    const answer = await call(orch.url, 'PUT', '/admin/pools/local', {
      body: { urls: ['127.0.0.1:9', 'http://[::1]:9'] },
    });
    expect(answer).toMatchObject({ status: 200, body: { pool: 'local', created: true } });
    const refused = await call(orch.url, 'PUT', '/admin/pools/local', { body: { urls: ['http://169.254.169.254'] } });
    expect(refused).toMatchObject({ status: 400, body: { error: 'backend_refused' } });
  });
});

const CLI = fileURLToPath(new URL('../../../packages/cli/shieldx.mjs', import.meta.url));
const ADMIN_SAN = 'spiffe://shieldx.local/ns/ops/sa/admin';

describe('admin API over mTLS', () => {
  let root: string;
  let admin: RunningOrchestrator;
  let closed: RunningOrchestrator;
  const adminActions: SecurityEvent[] = [];
  const client = (name: string) => ({
    ca: readFileSync(join(root, 'ca.pem')),
    cert: readFileSync(join(root, `client-${name}.pem`)),
    key: readFileSync(join(root, `client-${name}.key`)),
  });

  beforeAll(async () => {
    root = join(mkdtempSync(join(tmpdir(), 'shieldx-admin-e2e-')), 'pki');
    execFileSync(
      process.execPath,
      [CLI, 'certs', 'dev', root, '--client', 'ingress', '--client', `admin=${ADMIN_SAN}`],
      {
        stdio: 'pipe',
      },
    );
    const tls = {
      ORCH_TLS_CERT_FILE: join(root, 'server.pem'),
      ORCH_TLS_KEY_FILE: join(root, 'server.key'),
      ORCH_TLS_CLIENT_CA_FILE: join(root, 'ca.pem'),
    };
    admin = await startOrchestrator({ ...tls, ORCH_ADMIN_SANS: ADMIN_SAN, ORCH_POOL_SPARE: 'http://127.0.0.1:9' });
    admin.app.get(SecurityEvents).onEvent((event) => {
      if (event.type === 'admin.action') adminActions.push(event);
    });
    closed = await startOrchestrator(tls);
  });

  afterAll(async () => {
    await admin?.close();
    await closed?.close();
    if (root !== undefined) rmSync(join(root, '..'), { recursive: true, force: true });
  });

  it('admits a client certificate with an admin SAN, and refuses other identities with 403', async () => {
    expect((await tlsCall(admin.url, 'GET', '/admin/pools', client('admin'))).status).toBe(200);
    const refused = await tlsCall(admin.url, 'GET', '/admin/pools', client('ingress'));
    expect(refused).toMatchObject({ status: 403, body: { error: 'admin_identity_refused' } });
    // The data plane still serves the non-admin identity.
    expect((await tlsCall(admin.url, 'GET', '/policy', client('ingress'))).status).toBe(200);
  });

  it('records the admitting SAN as the actor, and refuses loopback targets outside dev mode', async () => {
    const loopback = await tlsCall(admin.url, 'PUT', '/admin/pools/local', client('admin'), {
      urls: ['http://127.0.0.1:9'],
    });
    expect(loopback).toMatchObject({ status: 400, body: { error: 'backend_refused' } });
    expect(loopback.body['message']).toMatch(/loopback/);
    // Private addresses pass too, but tests never put a non-loopback address in a pool (it would be probed):
    // backend-target.spec.ts covers them. Removing a configured pool records the SAN that admitted the caller.
    expect((await tlsCall(admin.url, 'DELETE', '/admin/pools/spare', client('admin'))).status).toBe(200);
    expect(adminActions.at(-1)!.data).toEqual({ action: 'pool.delete', pool: 'spare', actor: `san:${ADMIN_SAN}` });
  });

  it('is closed (403) when neither a token nor admin SANs are configured, even from loopback', async () => {
    const answer = await tlsCall(closed.url, 'GET', '/admin/pools', client('admin'));
    expect(answer).toMatchObject({ status: 403, body: { error: 'admin_closed' } });
  });
});
