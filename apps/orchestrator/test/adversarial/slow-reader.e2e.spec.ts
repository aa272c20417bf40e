import type { EventEmitter } from 'node:events';
import { request as httpRequest } from 'node:http';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PoolsService } from '../../src/pools/pools.service';
import { ProxyService } from '../../src/proxy/proxy.service';
import { startTestBackend, type TestBackend } from '../backends';
import { startOrchestrator, type RunningOrchestrator } from '../harness';

const CALLER = { 'x-tenant': 'acme', 'x-scope': 'read' };
/** Far more than every socket buffer between backend and client holds: the backend is still sending when it stalls. */
const DOWNLOAD_MB = 256;

/** Follows the most connections `backend` had open at once from now on. */
function peakConnections(backend: TestBackend): () => number {
  let peak = backend.openConnections;
  backend.events.on('connect', () => (peak = Math.max(peak, backend.openConnections)));
  return () => peak;
}

/** The times (performance.now()) of the first `n` `event`s on `emitter` whose argument passes `match`. */
function times(emitter: EventEmitter, event: string, n: number, match: (arg: unknown) => boolean): Promise<number[]> {
  return new Promise((resolve) => {
    const seen: number[] = [];
    const listener = (arg: unknown): void => {
      if (!match(arg)) return;
      seen.push(performance.now());
      if (seen.length < n) return;
      emitter.off(event, listener);
      resolve(seen);
    };
    emitter.on(event, listener);
  });
}

interface Head {
  readonly status: number;
  readonly headers: Record<string, string>;
  /** The body, for an answer that is not the download (read to its Content-Length). */
  readonly body: string;
}

/** A download whose client reads the response head, then stops reading (its socket paused, nothing consumed). */
interface StalledDownload {
  readonly sentAt: number;
  readonly head: Promise<Head>;
  /** Reads what is left and resolves with the bytes of body received in all once the connection closes. */
  finish(): Promise<number>;
}

function parseHead(text: string): { status: number; headers: Record<string, string>; bodyAt: number } | undefined {
  const end = text.indexOf('\r\n\r\n');
  if (end === -1) return undefined;
  const lines = text.slice(0, end).split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { status: Number(lines[0].split(' ')[1]), headers, bodyAt: end + 4 };
}

/** GET /proxy/api/download from `localAddress` (a loopback address of its own: its own client IP) on a raw socket. */
function stalledDownload(base: string, localAddress: string): StalledDownload {
  const { hostname, port } = new URL(base);
  const socket: Socket = connect({ host: hostname, port: Number(port), localAddress });
  let received = Buffer.alloc(0);
  let bodyBytes = 0;
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.on('error', () => undefined);
  const head = new Promise<Head>((resolve) => {
    const onData = (chunk: Buffer): void => {
      received = Buffer.concat([received, chunk]);
      const parsed = parseHead(received.toString('latin1'));
      if (parsed === undefined) return;
      bodyBytes = received.length - parsed.bodyAt;
      if (parsed.status === 200) {
        // The client stops reading here: nothing more is taken off the socket.
        socket.pause();
        socket.off('data', onData);
        socket.on('data', (more: Buffer) => (bodyBytes += more.length));
        resolve({ ...parsed, body: '' });
        return;
      }
      const length = Number(parsed.headers['content-length']);
      if (bodyBytes < length) return;
      socket.off('data', onData);
      resolve({ ...parsed, body: received.subarray(parsed.bodyAt).toString('utf8') });
    };
    socket.on('data', onData);
  });
  socket.write(
    `GET /proxy/api/download?mb=${DOWNLOAD_MB} HTTP/1.1\r\nHost: gw\r\nx-tenant: acme\r\nx-scope: read\r\n\r\n`,
  );
  return {
    sentAt: performance.now(),
    head,
    finish: async () => {
      socket.resume();
      await closed;
      return bodyBytes;
    },
  };
}

/** A GET from `localAddress`, read whole; resolves with status, headers, parsed body and elapsed time. */
function getFrom(
  base: string,
  localAddress: string,
  path: string,
): Promise<{ status: number; headers: Record<string, unknown>; body: Record<string, unknown>; ms: number }> {
  const { hostname, port } = new URL(base);
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: hostname, port, path, localAddress, headers: CALLER, agent: false }, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString()));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: JSON.parse(text) as Record<string, unknown>,
          ms: performance.now() - started,
        }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

const isDownload = (path: unknown): boolean => path === '/download';

describe('slow readers on /proxy (adversarial)', () => {
  const QUEUE_MS = 1000;
  const BODY_MS = 2000;
  let backend: TestBackend;
  let orch: RunningOrchestrator;

  beforeAll(async () => {
    backend = await startTestBackend('big');
    orch = await startOrchestrator({
      ORCH_POOL_API: backend.url,
      ORCH_PROXY_MAX_CONNECTIONS: '4',
      ORCH_PROXY_CLIENT_SHARE: '0.5',
      ORCH_PROXY_QUEUE_TIMEOUT: `${QUEUE_MS}ms`,
      ORCH_PROXY_BODY_TIMEOUT: `${BODY_MS}ms`,
      ORCH_PROXY_TIMEOUT: '3s',
      ORCH_IP_BURST: '100000',
      ORCH_IP_BURST_DEGRADED: '100000',
      ORCH_TENANT_BURST: '100000',
    });
  });

  afterAll(async () => {
    await orch?.close();
    await backend?.close();
  });

  /** The backend's breaker and health: a client's behaviour must never count against it. */
  function expectBackendUnblamed(): void {
    const member = orch.app.get(PoolsService).get('api')!.backends[0];
    expect(member.breaker.state).toEqual({ kind: 'closed', failures: 0 });
    expect(member.lastError).toBeNull();
    expect(member.healthy).toBe(true);
  }

  it('four clients that stop reading: another caller gets a 503 with Retry-After within the queue timeout, the stalled ones are cut after the body timeout and the backend gets its connections back', async () => {
    const gate = orch.app.get(ProxyService).gate;
    const peak = peakConnections(backend);
    const admitted = times(backend.events, 'request', 4, isDownload);
    const aborted = times(backend.events, 'aborted', 4, isDownload);
    const stalled = ['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5'].map((ip) => stalledDownload(orch.url, ip));
    for (const download of stalled) expect((await download.head).status).toBe(200);
    await admitted;
    expect(gate.usage(backend.url)).toMatchObject({ inUse: 4, waiting: 0 });

    // Every connection of the backend is held: the next caller waits in the queue, and no longer than its deadline.
    const queued = await getFrom(orch.url, '127.0.0.6', '/proxy/api/x');
    expect(queued.status).toBe(503);
    expect(queued.body).toMatchObject({ error: 'upstream_busy', correlationId: expect.any(String) });
    expect(queued.headers['retry-after']).toBe('1');
    expect(queued.ms).toBeGreaterThanOrEqual(QUEUE_MS - 20);
    expect(queued.ms).toBeLessThan(QUEUE_MS + 1500);

    // The stalled responses are cut once their clients have read nothing for the body timeout: the upstream request
    // is aborted (the backend sees its response cut and its connection closed) and the client's connection too.
    const cutAt = await aborted;
    const firstSent = Math.min(...stalled.map((download) => download.sentAt));
    for (const at of cutAt) {
      expect(at - firstSent).toBeGreaterThanOrEqual(BODY_MS);
      expect(at - firstSent).toBeLessThan(BODY_MS + 3000);
    }
    for (const download of stalled) expect(await download.finish()).toBeLessThan(DOWNLOAD_MB * 1024 * 1024);
    expect(orch.logs.filter((line) => line['event'] === 'client_stalled')).toHaveLength(4);
    expect(gate.usage(backend.url)).toEqual({ inUse: 0, waiting: 0, client: 0 });

    const after = await getFrom(orch.url, '127.0.0.6', '/proxy/api/x');
    expect(after.status).toBe(200);
    // Four connections for the proxy and one kept for health probes, never more.
    expect(peak()).toBeLessThanOrEqual(5);
    expectBackendUnblamed();
  });

  it('one client cannot hold more than its share of a backend: beyond it, 429 with Retry-After at once, never blamed on the backend', async () => {
    const gate = orch.app.get(ProxyService).gate;
    const admitted = times(backend.events, 'request', 2, isDownload);
    const aborted = times(backend.events, 'aborted', 2, isDownload);
    // ORCH_PROXY_CLIENT_SHARE 0.5 of 4 connections: two for one client IP.
    const held = [stalledDownload(orch.url, '127.0.0.7'), stalledDownload(orch.url, '127.0.0.7')];
    for (const download of held) expect((await download.head).status).toBe(200);
    await admitted;

    const third = stalledDownload(orch.url, '127.0.0.7');
    const refused = await third.head;
    expect(refused.status).toBe(429);
    expect(performance.now() - third.sentAt).toBeLessThan(QUEUE_MS);
    expect(JSON.parse(refused.body)).toMatchObject({ error: 'upstream_share_exceeded' });
    expect(refused.headers['retry-after']).toBe('1');
    expect(gate.usage(backend.url, '127.0.0.7')).toMatchObject({ inUse: 2, client: 2 });

    // Other clients still get the connections left.
    expect((await getFrom(orch.url, '127.0.0.8', '/proxy/api/x')).status).toBe(200);

    await aborted;
    for (const download of held) await download.finish();
    expect((await getFrom(orch.url, '127.0.0.7', '/proxy/api/x')).status).toBe(200);
    expect(gate.usage(backend.url, '127.0.0.7')).toEqual({ inUse: 0, waiting: 0, client: 0 });
    expectBackendUnblamed();
  });
});

describe('a queued /proxy request when a stalled client is cut (adversarial)', () => {
  const QUEUE_MS = 5000;
  const BODY_MS = 1000;
  let backend: TestBackend;
  let orch: RunningOrchestrator;

  beforeAll(async () => {
    backend = await startTestBackend('big');
    orch = await startOrchestrator({
      ORCH_POOL_API: backend.url,
      ORCH_PROXY_MAX_CONNECTIONS: '2',
      ORCH_PROXY_QUEUE_TIMEOUT: `${QUEUE_MS}ms`,
      ORCH_PROXY_BODY_TIMEOUT: `${BODY_MS}ms`,
    });
  });

  afterAll(async () => {
    await orch?.close();
    await backend?.close();
  });

  it('gets the freed connection and its answer before its own deadline', async () => {
    const peak = peakConnections(backend);
    const admitted = times(backend.events, 'request', 2, isDownload);
    const aborted = times(backend.events, 'aborted', 2, isDownload);
    const stalled = [stalledDownload(orch.url, '127.0.0.2'), stalledDownload(orch.url, '127.0.0.3')];
    await admitted;
    const firstSent = Math.min(...stalled.map((download) => download.sentAt));
    const queued = getFrom(orch.url, '127.0.0.4', '/proxy/api/x');
    expect((await queued).status).toBe(200);
    const answeredAfter = performance.now() - firstSent;
    expect(answeredAfter).toBeGreaterThanOrEqual(BODY_MS);
    expect(answeredAfter).toBeLessThan(QUEUE_MS);
    // Both stalled clients are cut (the second may have filled its socket a little later than the first); reading
    // again before that would make it a slow but live reader.
    await aborted;
    for (const download of stalled) expect(await download.finish()).toBeLessThan(DOWNLOAD_MB * 1024 * 1024);
    expect(peak()).toBeLessThanOrEqual(3);
  });
});
