import { once } from 'node:events';
import { request as httpRequest } from 'node:http';
import { Readable } from 'node:stream';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Client } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BreakerMonitor } from '../src/resilience/breaker-monitor';
import { HealthProber, type ProbeResult } from '../src/resilience/health-prober';
import { PoolsService, type HealthSnapshot } from '../src/pools/pools.service';
import { startTestBackend, type TestBackend } from './backends';
import { eventually } from './eventually';
import { startOrchestrator, type RunningOrchestrator } from './harness';

const CALLER = { 'x-tenant': 'acme', 'x-scope': 'read' };

function waitForProbe(orch: RunningOrchestrator, match: (result: ProbeResult) => boolean): Promise<ProbeResult> {
  const prober = orch.app.get(HealthProber);
  return new Promise((resolve) => {
    const off = prober.onProbe((result) => {
      if (!match(result)) return;
      off();
      resolve(result);
    });
  });
}

async function get(
  url: string,
  headers: Record<string, string> = CALLER,
): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const response = await fetch(url, { headers });
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>),
  };
}

/** A GET with the path and headers exactly as given (fetch normalises `%2e%2e` and drops `Connection`). */
function rawGet(
  base: string,
  path: string,
  headers: Record<string, string>,
): Promise<{ status: number; body: Record<string, unknown>; headers: Record<string, unknown> }> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: hostname, port, path, headers }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: JSON.parse(text) as Record<string, unknown>,
        }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

describe('ANY /proxy/<service>/<rest>', () => {
  let backends: TestBackend[];
  let orch: RunningOrchestrator;

  beforeAll(async () => {
    backends = await Promise.all(['a', 'b', 'c'].map((name) => startTestBackend(name)));
    orch = await startOrchestrator({
      ORCH_POOL_API: backends.map((b) => b.url).join(','),
      ORCH_POOL_ALGO_API: 'round_robin',
      ORCH_HEALTH_EVERY: '200ms',
      ORCH_HEALTH_TIMEOUT: '150ms',
      ORCH_CB_FAILS: '3',
      ORCH_CB_OPEN_FOR: '400ms',
      ORCH_PROXY_TIMEOUT: '300ms',
      ORCH_IP_BURST: '1000000',
      ORCH_IP_BURST_DEGRADED: '1000000',
      ORCH_TENANT_BURST: '1000000',
    });
  });

  afterAll(async () => {
    await orch?.close();
    await Promise.all(backends.map((b) => b.close()));
  });

  afterEach(() => {
    for (const backend of backends) backend.failWith = undefined;
  });

  it('forwards method, path and query, strips hop-by-hop headers both ways and sets X-Forwarded-*', async () => {
    const res = await rawGet(orch.url, '/proxy/api/v1/items?page=2', {
      ...CALLER,
      'x-correlation-id': 'proxy-1',
      connection: 'keep-alive, x-secret-hop',
      'x-secret-hop': 'drop me',
      'x-forwarded-for': '198.51.100.1',
      'x-shieldx-admission': 't=1,n=abc,v1=00',
    });
    expect(res.status).toBe(200);
    expect(res.body['url']).toBe('/v1/items?page=2');
    expect(res.body['method']).toBe('GET');
    const sent = res.body['headers'] as Record<string, string>;
    // An anonymous caller's X-Correlation-ID is not taken as the correlation id; the backend gets the gateway's.
    expect(sent['x-correlation-id']).toBe(res.headers['x-correlation-id']);
    expect(sent['x-correlation-id']).not.toBe('proxy-1');
    // The caller is no trusted proxy: its X-Forwarded-For is replaced, not extended.
    expect(sent['x-forwarded-for']).toBe('127.0.0.1');
    expect(sent['x-forwarded-proto']).toBe('http');
    expect(sent['x-forwarded-host']).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(sent['x-tenant']).toBe('acme');
    expect(sent['x-secret-hop']).toBeUndefined();
    expect(sent['x-shieldx-admission']).toBeUndefined();
    expect(res.headers['x-hop']).toBeUndefined();
    expect(res.headers['keep-alive']).not.toBe('timeout=5');
    expect(res.headers['ratelimit-limit']).toBe('1000000');
  });

  it('refuses bad callers and paths with 4xx JSON before reaching a backend', async () => {
    const before = backends.reduce((n, b) => n + b.hits, 0);
    expect((await get(`${orch.url}/proxy/api/x`, { 'x-scope': 'read' })).status).toBe(400);
    expect((await get(`${orch.url}/proxy/api/x`, { 'x-tenant': 'a/b', 'x-scope': 'read' })).status).toBe(400);
    expect((await rawGet(orch.url, '/proxy/api/a/%2e%2e/etc/passwd', CALLER)).body).toMatchObject({
      error: 'invalid_path',
    });
    expect((await rawGet(orch.url, '/proxy/api/a/../../etc/passwd', CALLER)).body).toMatchObject({
      error: 'invalid_path',
    });
    expect((await get(`${orch.url}/proxy/API/x`)).status).toBe(400);
    expect((await get(`${orch.url}/proxy/nowhere/x`)).body).toMatchObject({ error: 'unknown_service' });
    expect(backends.reduce((n, b) => n + b.hits, 0)).toBe(before);
  });

  it('forwards the rest of the path as sent, after an encoded service or in an absolute-form target', async () => {
    for (const target of ['/proxy/%61pi/v1/items?page=2', 'http://gw.example/proxy/api/v1/items?page=2']) {
      const res = await rawGet(orch.url, target, CALLER);
      expect(res.status).toBe(200);
      expect(res.body['url']).toBe('/v1/items?page=2');
    }
  });

  it('answers a malformed URL with the documented JSON error and a correlation id', async () => {
    const res = await rawGet(orch.url, '/proxy/api/v1/%zz', CALLER);
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: 'bad_url', correlationId: expect.any(String) });
    expect(res.headers['x-correlation-id']).toBe(res.body['correlationId']);
  });

  it('answers a service name over 100 characters with 414 uri_too_long', async () => {
    const res = await rawGet(orch.url, `/proxy/${'a'.repeat(101)}/x`, CALLER);
    expect(res.status).toBe(414);
    expect(res.body).toMatchObject({ error: 'uri_too_long', correlationId: expect.any(String) });
  });

  it('answers 502 bad_gateway when no backend of the pool can be reached', async () => {
    const down = await startOrchestrator({ ORCH_POOL_DOWN: 'http://127.0.0.1:9', ORCH_PROXY_RETRIES: '0' });
    try {
      const res = await get(`${down.url}/proxy/down/x`);
      expect(res.status).toBe(502);
      expect(res.body).toMatchObject({ error: 'bad_gateway', correlationId: expect.any(String) });
    } finally {
      await down.close();
    }
  });

  it('retries a bodiless GET on another backend after a 503, never a POST with a body', async () => {
    backends[0].failWith = 503;
    // Round robin over three: of three POSTs one lands on the failing backend and gets its 503 as it is.
    const posts: number[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await fetch(`${orch.url}/proxy/api/x`, { method: 'POST', headers: CALLER, body: 'payload' });
      posts.push(res.status);
      await res.arrayBuffer();
    }
    expect(posts.sort()).toEqual([200, 200, 503]);
    // Of three GETs one lands there too, and is answered by another backend.
    const before = backends[0].hits;
    for (let i = 0; i < 3; i++) expect((await get(`${orch.url}/proxy/api/x`)).status).toBe(200);
    expect(backends[0].hits - before).toBe(1);
  });

  it('never ejects more of a pool than ORCH_OUTLIER_MAX_EJECTION, even when every backend fails', async () => {
    const failing = await Promise.all(['f1', 'f2'].map((name) => startTestBackend(name)));
    for (const backend of failing) backend.failWith = 503;
    const capped = await startOrchestrator({
      ORCH_POOL_BAD: failing.map((b) => b.url).join(','),
      ORCH_POOL_ALGO_BAD: 'round_robin',
      ORCH_CB_FAILS: '2',
      ORCH_CB_OPEN_FOR: '60s',
      ORCH_PROXY_RETRIES: '0',
      ORCH_IP_BURST: '1000000',
      ORCH_TENANT_BURST: '1000000',
    });
    try {
      for (let i = 0; i < 12; i++) expect((await get(`${capped.url}/proxy/bad/x`)).status).toBe(503);
      // Half of two is one: the first backend to reach the threshold is ejected, the other keeps serving.
      const states = capped.app
        .get(PoolsService)
        .get('bad')!
        .backends.map((b) => b.breaker.stateName);
      expect(states.filter((state) => state !== 'closed')).toHaveLength(1);
      // The ejected one took its two failures, the other everything after.
      expect(failing.map((b) => b.hits).sort((x, y) => x - y)).toEqual([2, 10]);
      expect(capped.logs.some((line) => line['event'] === 'ejection_capped')).toBe(true);
    } finally {
      await capped.close();
      await Promise.all(failing.map((b) => b.close()));
    }
  });

  it('answers Expect: 100-continue itself and forwards the body without the Expect header', async () => {
    const { hostname, port } = new URL(orch.url);
    const answer = await new Promise<{ status: number; continued: boolean; body: Record<string, unknown> }>(
      (resolve, reject) => {
        let continued = false;
        const req = httpRequest(
          {
            host: hostname,
            port,
            method: 'POST',
            path: '/proxy/api/v1/items',
            headers: { ...CALLER, expect: '100-continue', 'content-type': 'text/plain', 'content-length': '5' },
          },
          (res) => {
            let text = '';
            res.on('data', (c: Buffer) => (text += c.toString()));
            res.on('end', () =>
              resolve({
                status: res.statusCode ?? 0,
                continued,
                body: JSON.parse(text) as Record<string, unknown>,
              }),
            );
          },
        );
        req.on('continue', () => {
          continued = true;
          req.end('hello');
        });
        req.on('error', reject);
      },
    );
    expect(answer.continued).toBe(true);
    expect(answer.status).toBe(200);
    expect(answer.body['method']).toBe('POST');
    const sent = answer.body['headers'] as Record<string, string>;
    expect(sent['expect']).toBeUndefined();
    expect(sent['content-length']).toBe('5');
  });

  it('answers 504 when the backend is slower than the timeout', async () => {
    const res = await get(`${orch.url}/proxy/api/slow?ms=2000`);
    expect(res.status).toBe(504);
    expect(res.body).toMatchObject({ error: 'upstream_timeout', correlationId: expect.any(String) });
  });

  it('releases the in-flight count when the client aborts', async () => {
    const pool = orch.app.get(PoolsService).get('api')!;
    const controller = new AbortController();
    const pending = fetch(`${orch.url}/proxy/api/hang`, { headers: CALLER, signal: controller.signal }).catch(
      (e: Error) => e,
    );
    await eventually(() => pool.backends.some((b) => b.inflight > 0), { what: 'the request in flight' });
    expect(pool.backends.reduce((n, b) => n + b.inflight, 0)).toBe(1);
    controller.abort();
    await pending;
    await eventually(() => pool.backends.every((b) => b.inflight === 0), { what: 'the in-flight count released' });
    expect(pool.backends.map((b) => b.inflight)).toEqual([0, 0, 0]);
  });

  it('streams a 64 MB upload and a 64 MB download without buffering them', async () => {
    const size = 64 * 1024 * 1024;
    const chunk = Buffer.alloc(1024 * 1024, 0x62);
    // Buffers still referenced, in MB, after a full collection. Not the resident set: Node 24 keeps freed buffer memory
    // resident for a while, so RSS grows by the bytes that passed through even when none is held.
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    setFlagsFromString('--no-expose-gc');
    // V8 frees the memory of dead buffers on a background sweeper after the collection: give it time to finish.
    const heldMB = async (): Promise<number> => {
      for (let i = 0; i < 3; i++) {
        gc();
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      return process.memoryUsage().arrayBuffers / 1024 / 1024;
    };
    const heldBefore = await heldMB();
    // Orchestrator, backends and client share this process; a copy of half a body would hold 32 MB on its own.
    const heldMidway: number[] = [];
    const backend = (): TestBackend => backends.find((b) => b.uploadBytes > 0) ?? backends[0];
    // The client sends half of the upload, then waits until a backend has received bytes before sending the rest: a
    // proxy that buffered the body before forwarding it would never let that happen (and the test would time out).
    let sent = 0;
    const upload = Readable.from(
      (async function* () {
        while (sent < size) {
          if (sent === size / 2) {
            await eventually(() => backends.some((b) => b.uploadBytes > 0), { what: 'the first half upstream' });
            expect(backend().uploadBytes).toBeGreaterThan(0);
            heldMidway.push((await heldMB()) - heldBefore);
          }
          sent += chunk.length;
          yield chunk;
        }
      })(),
    );
    for (const b of backends) b.uploadBytes = 0;
    const uploaded = await new Promise<Record<string, unknown>>((resolve, reject) => {
      const req = httpRequest(
        `${orch.url}/proxy/api/upload`,
        { method: 'POST', headers: { ...CALLER, 'content-type': 'application/octet-stream' } },
        (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString()));
          res.on('end', () => resolve(JSON.parse(text) as Record<string, unknown>));
        },
      );
      req.on('error', reject);
      upload.pipe(req);
    });
    expect(uploaded['bytes']).toBe(size);

    // The backend sends half of the download, then waits until the client has received bytes.
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    for (const b of backends) b.downloadGate = gate;
    const response = await fetch(`${orch.url}/proxy/api/download?mb=64`, { headers: CALLER });
    let received = 0;
    for await (const part of response.body as unknown as AsyncIterable<Uint8Array>) {
      if (received < size / 2 && received + part.length >= size / 2) heldMidway.push((await heldMB()) - heldBefore);
      received += part.length;
      release();
    }
    for (const b of backends) b.downloadGate = undefined;
    expect(received).toBe(size);
    expect(heldMidway).toHaveLength(2);
    for (const held of heldMidway) expect(held).toBeLessThan(16);
  });

  it('opens the breaker of a backend answering 5xx and keeps traffic away from it, then recovers through a probe', async () => {
    const bad = backends[0];
    // Sick for traffic and for probes alike (a backend whose probe passes while it fails traffic would flap).
    bad.failWith = 500;
    bad.healthStatus = 500;
    const statuses: number[] = [];
    const pool = orch.app.get(PoolsService).get('api')!;
    // Three consecutive failures open it, from traffic or from probes: a failing probe also marks the backend
    // unhealthy, after which no traffic reaches it and the probes finish the count.
    const deadline = performance.now() + 10_000;
    while (pool.backends[0].breaker.stateName === 'closed' && performance.now() < deadline) {
      statuses.push((await get(`${orch.url}/proxy/api/x`)).status);
      // Pacing, not a signal: each turn of this polling loop is one request, spaced out a little.
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(
      pool.backends[0].breaker.stateName,
      JSON.stringify({ statuses, history: orch.app.get(BreakerMonitor).recent() }),
    ).not.toBe('closed');
    // At most the three failures that opened it reached the client (GET retries hide most of them).
    expect(statuses.filter((s) => s >= 500).length).toBeLessThanOrEqual(3);
    const hitsWhileOpen = bad.hits;
    for (let i = 0; i < 10; i++) expect((await get(`${orch.url}/proxy/api/x`)).status).toBe(200);
    expect(bad.hits - hitsWhileOpen).toBeLessThanOrEqual(1);
    bad.failWith = undefined;
    bad.healthStatus = 200;
    // The next probe after the open period is the half-open trial; success closes the breaker.
    await waitForProbe(orch, (r) => r.backend === bad.url && pool.backends[0].breaker.stateName === 'closed');
    const metrics = await (await fetch(`${orch.url}/metrics`)).text();
    expect(metrics).toMatch(/orchestrator_cb_open_total [1-9]/);
    expect(metrics).toMatch(/orchestrator_cb_close_total [1-9]/);
    expect(metrics).toMatch(/orchestrator_health_probe_seconds_count\{result="ok"\} [1-9]/);
  });

  it('stops sending to a killed backend within one probe interval, with ≤ 0.1 % client errors under GET load', async () => {
    const victim = backends[2];
    const total = 2000;
    let errors = 0;
    let done = 0;
    let killed = false;
    const worker = async (): Promise<void> => {
      while (done < total) {
        done++;
        if (!killed && done > total / 4) {
          killed = true;
          await victim.close();
        }
        const res = await fetch(`${orch.url}/proxy/api/x`, { headers: CALLER });
        await res.arrayBuffer();
        if (res.status !== 200) errors++;
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
    expect(errors / total).toBeLessThanOrEqual(0.001);
    await waitForProbe(orch, (r) => r.backend === victim.url && !r.healthy);
    const hits = victim.hits;
    for (let i = 0; i < 20; i++) expect((await get(`${orch.url}/proxy/api/x`)).status).toBe(200);
    expect(victim.hits).toBe(hits);
    const health = await get(`${orch.url}/health`);
    const entry = (health.body as unknown as HealthSnapshot).pools['api'].backends.find((b) => b.url === victim.url);
    expect(entry).toMatchObject({ healthy: false, last_error: expect.stringContaining('ECONNREFUSED') });
    await victim.restart();
    await waitForProbe(orch, (r) => r.backend === victim.url && r.healthy);
  });
});

describe('graceful shutdown', () => {
  it('lets an in-flight proxied request finish while the server closes', async () => {
    const backend = await startTestBackend('slow');
    const orch = await startOrchestrator({ ORCH_POOL_API: backend.url, ORCH_SHUTDOWN_GRACE: '5s' });
    try {
      const arrived = once(backend.events, 'request');
      const pending = get(`${orch.url}/proxy/api/slow?ms=400`);
      await arrived;
      const closing = orch.close();
      const res = await pending;
      await closing;
      expect(res.status).toBe(200);
      expect(res.body['backend']).toBe('slow');
      await expect(fetch(`${orch.url}/healthz`)).rejects.toThrow();
    } finally {
      await backend.close();
    }
  });

  it('answers 503 to the next request on a kept-alive connection busy when the close began', async () => {
    const backend = await startTestBackend('slow');
    const orch = await startOrchestrator({ ORCH_POOL_API: backend.url, ORCH_SHUTDOWN_GRACE: '5s' });
    // One connection, kept alive: the second request goes out on it once the first is answered.
    const kept = new Client(orch.url, { pipelining: 1, keepAliveTimeout: 30_000 });
    try {
      const first = kept.request({ method: 'GET', path: '/proxy/api/slow?ms=600', headers: CALLER });
      await once(backend.events, 'request');
      const closing = orch.close();
      const second = kept.request({ method: 'GET', path: '/proxy/api/x', headers: CALLER });
      const answered = await first;
      await answered.body.dump();
      expect(answered.statusCode).toBe(200);
      const late = await second;
      expect(late.statusCode).toBe(503);
      expect(late.headers['connection']).toBe('close');
      const body = (await late.body.json()) as Record<string, unknown>;
      expect(body).toMatchObject({ error: 'shutting_down', correlationId: expect.any(String) });
      expect(late.headers['x-correlation-id']).toBe(body['correlationId']);
      await closing;
      expect(backend.hits).toBe(1);
    } finally {
      await kept.destroy();
      await backend.close();
    }
  });

  it('cuts what is still open after ORCH_SHUTDOWN_GRACE', async () => {
    const backend = await startTestBackend('stuck');
    const orch = await startOrchestrator({ ORCH_POOL_API: backend.url, ORCH_SHUTDOWN_GRACE: '300ms' });
    try {
      const stuck = get(`${orch.url}/proxy/api/hang`).then(
        () => 'answered',
        () => 'cut',
      );
      await once(backend.events, 'request');
      const started = performance.now();
      await orch.close();
      expect(await stuck).toBe('cut');
      // Cut by the grace timer, not by some later timeout (the backend never answers).
      expect(performance.now() - started).toBeLessThan(5000);
    } finally {
      await backend.close();
    }
  });
});
