import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestBackend, type TestBackend } from './backends';
import { eventually } from './eventually';
import { startOrchestrator, type RunningOrchestrator } from './harness';

const TOKEN = 'mirror-e2e-admin-token-0123456789';

interface Copy {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A shadow backend that records every copy it gets and answers `status` after `delayMs`. */
interface Shadow {
  url: string;
  copies: Copy[];
  status: number;
  delayMs: number;
  close(): Promise<void>;
}

async function startShadow(): Promise<Shadow> {
  const shadow: Shadow = { url: '', copies: [], status: 200, delayMs: 0, close: () => Promise.resolve() };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      if (req.url === '/healthz') {
        res.writeHead(200).end('{}');
        return;
      }
      shadow.copies.push({
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString(),
      });
      setTimeout(() => res.writeHead(shadow.status, { 'content-type': 'application/json' }).end('{}'), shadow.delayMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  shadow.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  shadow.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return shadow;
}

interface MirrorView {
  pool: string;
  shadow: string;
  percent: number;
  results: Record<string, number>;
  latency: { p50: number | null; shadowP50: number | null };
  recentDifferences: { method: string; path: string; status: number; shadowStatus: number }[];
}

/** A /proxy request as tenant `acme`, scope `read`. */
function proxied(orch: RunningOrchestrator, path: string, init: RequestInit = {}): Promise<Response> {
  return fetch(`${orch.url}/proxy/${path}`, {
    ...init,
    headers: { 'x-tenant': 'acme', 'x-scope': 'read', ...(init.headers as Record<string, string>) },
  });
}

async function mirrorOf(orch: RunningOrchestrator, pool: string): Promise<MirrorView> {
  const response = await fetch(`${orch.url}/admin/mirror`, { headers: { authorization: `Bearer ${TOKEN}` } });
  expect(response.status).toBe(200);
  const view = (await response.json()) as { mirrors: MirrorView[] };
  const found = view.mirrors.find((mirror) => mirror.pool === pool);
  if (found === undefined) throw new Error(`no mirror of ${pool}`);
  return found;
}

/** Traffic mirroring: copies reach the shadow pool, the client only ever sees the real answer, at its own pace. */
describe('traffic mirroring (ORCH_MIRROR_<POOL>)', () => {
  let primary: TestBackend;
  let shadow: Shadow;
  let orch: RunningOrchestrator;

  beforeAll(async () => {
    primary = await startTestBackend('primary');
    shadow = await startShadow();
    orch = await startOrchestrator({
      ORCH_POOL_API: primary.url,
      ORCH_POOL_SEARCH: primary.url,
      ORCH_POOL_DEAD: primary.url,
      ORCH_POOL_API_NEXT: shadow.url,
      ORCH_POOL_NOWHERE: 'http://127.0.0.1:9',
      ORCH_MIRROR_API: 'api_next:100',
      ORCH_MIRROR_SEARCH: 'api_next:25',
      ORCH_MIRROR_DEAD: 'nowhere:100',
      ORCH_MIRROR_MAX_BODY: '1k',
      ORCH_ADMIN_TOKEN: TOKEN,
      ORCH_TENANT_BURST: '100000',
      ORCH_IP_BURST: '100000',
      ORCH_IP_BURST_DEGRADED: '100000',
    });
  });

  afterAll(async () => {
    await orch?.close();
    await primary?.close();
    await shadow?.close();
  });

  it('sends a marked copy, body included, and answers the client with the real backend only', async () => {
    const body = JSON.stringify({ order: 42, items: ['a', 'b'] });
    const answer = await fetch(`${orch.url}/proxy/api/v1/orders?x=1`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-tenant': 'acme', 'x-scope': 'write' },
      body,
    });
    expect(answer.status).toBe(200);
    expect(((await answer.json()) as { backend: string }).backend).toBe('primary');
    await eventually(() => shadow.copies.some((copy) => copy.url === '/v1/orders?x=1'), { what: 'copy received' });
    const copy = shadow.copies.find((c) => c.url === '/v1/orders?x=1');
    expect(copy).toMatchObject({ method: 'POST', body });
    expect(copy?.headers['x-shieldx-mirror']).toBe('1');
    expect(copy?.headers['x-tenant']).toBe('acme');
    expect(copy?.headers['content-length']).toBe(String(Buffer.byteLength(body)));
    await eventually(async () => (await mirrorOf(orch, 'api')).results['same_status'] >= 1, { what: 'compared' });
    const metrics = await (await fetch(`${orch.url}/metrics`)).text();
    expect(metrics).toMatch(
      /orchestrator_mirror_requests_total\{pool="api",shadow="api_next",result="same_status"\} [1-9]/,
    );
  });

  it('never waits for a slow, failing shadow; counts and lists the different status', async () => {
    shadow.status = 500;
    shadow.delayMs = 400;
    try {
      const times: number[] = [];
      for (let i = 0; i < 5; i++) {
        const started = performance.now();
        const answer = await proxied(orch, `api/v1/slow-shadow/${i}`);
        expect(answer.status).toBe(200);
        await answer.arrayBuffer();
        times.push(performance.now() - started);
      }
      // Each answer comes long before the shadow's 400 ms: the copy is fire and forget.
      expect(Math.max(...times)).toBeLessThan(300);
      await eventually(async () => (await mirrorOf(orch, 'api')).results['different_status'] >= 5, {
        timeoutMs: 5000,
        what: 'differences counted',
      });
      const view = await mirrorOf(orch, 'api');
      expect(view.recentDifferences[0]).toMatchObject({ method: 'GET', status: 200, shadowStatus: 500 });
      expect(view.recentDifferences[0].path).toMatch(/^\/v1\/slow-shadow\/\d$/);
      expect(view.latency.shadowP50).toBeGreaterThanOrEqual(400);
    } finally {
      shadow.status = 200;
      shadow.delayMs = 0;
    }
  });

  it('does not copy a body above ORCH_MIRROR_MAX_BODY, chunked or declared, and the client is unaffected', async () => {
    const before = (await mirrorOf(orch, 'api')).results['skipped_body'];
    const big = 'x'.repeat(4096);
    const declared = await proxied(orch, 'api/upload', { method: 'POST', body: big });
    expect(((await declared.json()) as { bytes: number }).bytes).toBe(4096);
    const chunked = await proxied(orch, 'api/upload', {
      method: 'POST',
      body: new ReadableStream({
        start(controller) {
          for (let i = 0; i < 4; i++) controller.enqueue(new TextEncoder().encode(big));
          controller.close();
        },
      }),
      duplex: 'half',
    });
    expect(((await chunked.json()) as { bytes: number }).bytes).toBe(4 * 4096);
    await eventually(async () => (await mirrorOf(orch, 'api')).results['skipped_body'] === before + 2, {
      what: 'skipped',
    });
    expect(shadow.copies.some((copy) => copy.url === '/upload')).toBe(false);
  });

  it('copies about its share of a pool, and a shadow pool that cannot answer changes nothing for the client', async () => {
    for (let i = 0; i < 200; i++) {
      const answer = await proxied(orch, `search/q/${i}`);
      expect(answer.status).toBe(200);
      await answer.arrayBuffer();
    }
    await eventually(
      async () => {
        const { results } = await mirrorOf(orch, 'search');
        return results['same_status'] + results['different_status'] + results['shadow_error'] > 0;
      },
      { what: 'search copies compared' },
    );
    const copies = shadow.copies.filter((copy) => copy.url.startsWith('/q/')).length;
    // 25 % of 200: 50 expected, σ ≈ 6.1; ±4σ.
    expect(copies).toBeGreaterThan(25);
    expect(copies).toBeLessThan(75);

    for (let i = 0; i < 5; i++) {
      const answer = await proxied(orch, `dead/x/${i}`);
      expect(answer.status).toBe(200);
      await answer.arrayBuffer();
    }
    await eventually(
      async () => {
        const { results } = await mirrorOf(orch, 'dead');
        return results['shadow_error'] + results['skipped_no_backend'] === 5;
      },
      { timeoutMs: 10_000, what: 'copies to a dead pool counted' },
    );
  });

  it('lists nothing for a pool without a mirror, and refuses a request without the admin token', async () => {
    const answer = await fetch(`${orch.url}/admin/mirror`);
    expect(answer.status).toBe(401);
    const view = (await (
      await fetch(`${orch.url}/admin/mirror`, { headers: { authorization: `Bearer ${TOKEN}` } })
    ).json()) as { mirrors: MirrorView[] };
    expect(view.mirrors.map((mirror) => mirror.pool).sort()).toEqual(['api', 'dead', 'search']);
  });
});

describe('ORCH_MIRROR_<POOL> settings', () => {
  it.each([
    ['a pool mirrored to itself', { ORCH_MIRROR_API: 'api:10' }, /cannot be its own mirror/],
    ['no percent', { ORCH_MIRROR_API: 'shadow' }, /not <shadow pool>:<percent>/],
    ['a percent of 0', { ORCH_MIRROR_API: 'shadow:0' }, /percent must be in \(0, 100\]/],
    ['a percent above 100', { ORCH_MIRROR_API: 'shadow:150' }, /percent must be in \(0, 100\]/],
  ])('refuses to start with %s', async (_what, env, message) => {
    await expect(startOrchestrator({ ORCH_POOL_API: 'http://127.0.0.1:9', ...env })).rejects.toThrow(message);
  });
});
