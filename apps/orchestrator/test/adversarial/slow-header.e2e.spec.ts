import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect as connectTcp, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { connect as connectTls } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, it, type ExpectStatic } from 'vitest';
import { startTestBackend, type TestBackend } from '../backends';
import { compileOrchestrator } from '../compile';

/** The documented limits (docs/http-api.md, "Server limits"): what the built process must really do, within a second. */
const HEADERS_MS = 10_000;
const REQUEST_MS = 30_000;
const TOLERANCE_MS = 1000;
/** Each case waits up to the request limit, plus start-up slack; they run concurrently. */
const CASE_TIMEOUT_MS = REQUEST_MS + 15_000;

const CLI = fileURLToPath(new URL('../../../../packages/cli/shieldx.mjs', import.meta.url));
const ROUTE_BODY = JSON.stringify({ service: 'api', tenant: 'acme', scope: 'read', path: '/v1/items' });

/** A built orchestrator running as its own process, and the URLs it logged. */
interface Spawned {
  readonly child: ChildProcess;
  readonly url: string;
  readonly ops: string | undefined;
}

function spawnOrchestrator(main: string, env: Record<string, string>): Promise<Spawned> {
  const child = spawn(process.execPath, [main], {
    env: { PATH: process.env.PATH, ORCH_HOST: '127.0.0.1', ORCH_PORT: '0', ORCH_OPS_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the orchestrator exited with ${code}: ${stderr}`)));
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (!line.startsWith('{')) return;
      const entry = JSON.parse(line) as { event?: string; url?: string; ops?: string };
      if (entry.event === 'listening') resolve({ child, url: entry.url as string, ops: entry.ops });
    });
  });
}

/** TLS client material, for the HTTPS listener. */
interface TlsClient {
  readonly ca: Buffer;
  readonly cert: Buffer;
  readonly key: Buffer;
}

/** How a connection the client left incomplete ended. */
interface Cut {
  /** From the connection being ready for HTTP (TCP connected, or TLS handshake done) to the server closing it. */
  readonly ms: number;
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/**
 * Connects to `url` (TLS when `tls` is given), runs `script` on the connection once it is ready, and resolves when
 * the server closes it: how long it stayed open and what was answered.
 */
function hold(url: string, script: (socket: Socket) => void, tls?: TlsClient): Promise<Cut> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    let ready = 0;
    const chunks: Buffer[] = [];
    const socket: Socket =
      tls === undefined
        ? connectTcp({ host: hostname, port: Number(port) }, () => start())
        : connectTls({ host: hostname, port: Number(port), ...tls }, () => start());
    const start = (): void => {
      ready = performance.now();
      script(socket);
    };
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      const ms = performance.now() - ready;
      const text = Buffer.concat(chunks).toString('utf8');
      const split = text.indexOf('\r\n\r\n');
      const lines = (split === -1 ? text : text.slice(0, split)).split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of lines.slice(1)) {
        const colon = line.indexOf(':');
        if (colon > 0) headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
      }
      resolve({
        ms,
        status: Number(lines[0]?.split(' ')[1] ?? 0),
        headers,
        body: split === -1 ? '' : text.slice(split + 4),
      });
    });
  });
}

/** Writes `pieces` one every `everyMs`, the first at once, while the connection is open. */
function trickle(socket: Socket, pieces: readonly string[], everyMs: number): void {
  let next = 0;
  const send = (): void => {
    if (socket.destroyed || next >= pieces.length) return;
    socket.write(pieces[next++]);
    setTimeout(send, everyMs).unref();
  };
  send();
}

function routeRequest(bodyLength: number): string {
  return (
    'POST /route HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\n' +
    `Content-Length: ${bodyLength}\r\nConnection: close\r\n\r\n`
  );
}

/** Cut at `limitMs` (± the tolerance) with the documented 408 JSON error. */
function expectCutWith408(expect: ExpectStatic, cut: Cut, limitMs: number): void {
  expect(cut.ms).toBeGreaterThanOrEqual(limitMs - TOLERANCE_MS);
  expect(cut.ms).toBeLessThanOrEqual(limitMs + TOLERANCE_MS);
  expect(cut.status).toBe(408);
  expect(cut.headers['content-type']).toMatch(/^application\/json/);
  expect(JSON.parse(cut.body)).toMatchObject({ error: 'request_timeout', correlationId: expect.any(String) });
}

describe('slow requests against the built process (adversarial)', () => {
  let work: string;
  let build: string;
  let backend: TestBackend;
  let plain: Spawned;
  let secure: Spawned;
  let client: TlsClient;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'shieldx-e2e-slow-'));
    // The build goes under dist/ (where node_modules and the bundled policies are found), which may not exist yet.
    mkdirSync(fileURLToPath(new URL('../../../../dist', import.meta.url)), { recursive: true });
    build = compileOrchestrator('e2e-slow-header-');
    const pki = join(work, 'pki');
    execFileSync(process.execPath, [CLI, 'certs', 'dev', pki, '--client', 'ingress'], { stdio: 'pipe' });
    client = {
      ca: readFileSync(join(pki, 'ca.pem')),
      cert: readFileSync(join(pki, 'client-ingress.pem')),
      key: readFileSync(join(pki, 'client-ingress.key')),
    };
    backend = await startTestBackend('upload');
    const main = join(build, 'apps/orchestrator/src/main.js');
    const common = { ORCH_POOL_API: backend.url, ORCH_LOG_LEVEL: 'info' };
    [plain, secure] = await Promise.all([
      spawnOrchestrator(main, {
        ...common,
        ORCH_ALLOW_INSECURE: '1',
        ORCH_LEDGER_PATH: join(mkdtempSync(join(work, 'ledger-')), 'ledger.jsonl'),
      }),
      spawnOrchestrator(main, {
        ...common,
        ORCH_TLS_CERT_FILE: join(pki, 'server.pem'),
        ORCH_TLS_KEY_FILE: join(pki, 'server.key'),
        ORCH_TLS_CLIENT_CA_FILE: join(pki, 'ca.pem'),
        ORCH_LEDGER_PATH: join(mkdtempSync(join(work, 'ledger-')), 'ledger.jsonl'),
      }),
    ]);
  }, 180_000);

  afterAll(async () => {
    for (const running of [plain, secure]) {
      if (running === undefined || running.child.exitCode !== null) continue;
      const exited = new Promise((resolve) => running.child.once('exit', resolve));
      running.child.kill('SIGTERM');
      await exited;
    }
    await backend?.close();
    if (build !== undefined) rmSync(build, { recursive: true, force: true });
    if (work !== undefined) rmSync(work, { recursive: true, force: true });
  }, 30_000);

  // Five cases at most run at once (Vitest's maxConcurrency): related probes share a case and run in parallel in it.
  it.concurrent(
    'HTTP: a partial header section, then nothing, and one trickled a byte every 5 s, are both cut at 10 s with 408',
    async ({ expect }) => {
      const [stalled, trickled] = await Promise.all([
        hold(plain.url, (socket) => socket.write('GET /healthz HTTP/1.1\r\nHost: gw\r\n')),
        hold(plain.url, (socket) => trickle(socket, [...'GET /healthz HTTP/1.1\r\nHost: gw\r\n'], 5000)),
      ]);
      expectCutWith408(expect, stalled, HEADERS_MS);
      expectCutWith408(expect, trickled, HEADERS_MS);
    },
    CASE_TIMEOUT_MS,
  );

  it.concurrent(
    'HTTP: complete headers, then part of the body, is cut at 30 s with 408, on /route and on a streamed /proxy upload (upstream request aborted, backend not blamed)',
    async ({ expect }) => {
      const aborted = new Promise<void>((resolve) =>
        backend.events.on('aborted', (path) => {
          if (path === '/upload') resolve();
        }),
      );
      const [route, proxy] = await Promise.all([
        hold(plain.url, (socket) => socket.write(routeRequest(ROUTE_BODY.length) + ROUTE_BODY.slice(0, 10))),
        hold(plain.url, (socket) =>
          socket.write(
            'POST /proxy/api/upload HTTP/1.1\r\nHost: gw\r\nX-Tenant: acme\r\nX-Scope: read\r\n' +
              'Content-Type: application/octet-stream\r\nContent-Length: 1000\r\n\r\n' +
              'x'.repeat(10),
          ),
        ),
      ]);
      expectCutWith408(expect, route, REQUEST_MS);
      expectCutWith408(expect, proxy, REQUEST_MS);
      await aborted;
      const health = (await (await fetch(`${plain.url}/health`)).json()) as {
        pools: Record<string, { backends: { cb_state: string; last_error: string | null }[] }>;
      };
      expect(health.pools['api'].backends[0]).toMatchObject({ cb_state: 'closed', last_error: null });
    },
    CASE_TIMEOUT_MS,
  );

  it.concurrent(
    'HTTP: a slow but complete header section and a slow but complete body inside the limits are answered',
    async ({ expect }) => {
      const header = 'GET /healthz HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n';
      const pieces = [header.slice(0, 10), header.slice(10, 20), header.slice(20)];
      const slowHeader = hold(plain.url, (socket) => trickle(socket, pieces, 3000));
      // Headers at once, the body in five pieces 4 s apart: complete after 16 s, under the 30 s limit.
      const fifth = Math.ceil(ROUTE_BODY.length / 5);
      const body = [0, 1, 2, 3, 4].map((i) => ROUTE_BODY.slice(i * fifth, (i + 1) * fifth));
      const slowBody = hold(plain.url, (socket) => {
        socket.write(routeRequest(ROUTE_BODY.length));
        trickle(socket, body, 4000);
      });
      const [headerAnswer, bodyAnswer] = await Promise.all([slowHeader, slowBody]);
      expect(headerAnswer.status).toBe(200);
      expect(headerAnswer.ms).toBeGreaterThanOrEqual(6000);
      expect(bodyAnswer.status).toBe(200);
      expect(bodyAnswer.ms).toBeGreaterThanOrEqual(16_000);
      expect(JSON.parse(bodyAnswer.body)).toMatchObject({ target: backend.url, pool: 'api' });
    },
    CASE_TIMEOUT_MS,
  );

  it.concurrent(
    'HTTPS: a partial header section is cut at 10 s and a partial body at 30 s, with 408',
    async ({ expect }) => {
      const [headerCut, bodyCut] = await Promise.all([
        hold(secure.url, (socket) => socket.write('GET /healthz HTTP/1.1\r\nHost: gw\r\n'), client),
        hold(secure.url, (socket) => socket.write(routeRequest(ROUTE_BODY.length) + ROUTE_BODY.slice(0, 10)), client),
      ]);
      expectCutWith408(expect, headerCut, HEADERS_MS);
      expectCutWith408(expect, bodyCut, REQUEST_MS);
    },
    CASE_TIMEOUT_MS,
  );

  it.concurrent(
    'HTTP: an oversized header section (431) and a request that is not HTTP (400) get the JSON error at once',
    async ({ expect }) => {
      const [oversized, garbage] = await Promise.all([
        hold(plain.url, (socket) =>
          socket.write(`GET /healthz HTTP/1.1\r\nHost: gw\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`),
        ),
        hold(plain.url, (socket) => socket.write('HELLO THERE\r\n\r\n')),
      ]);
      expect(oversized.status).toBe(431);
      expect(JSON.parse(oversized.body)).toMatchObject({
        error: 'headers_too_large',
        correlationId: expect.any(String),
      });
      expect(garbage.status).toBe(400);
      expect(JSON.parse(garbage.body)).toMatchObject({ error: 'bad_request', correlationId: expect.any(String) });
      expect(Math.max(oversized.ms, garbage.ms)).toBeLessThan(HEADERS_MS);
    },
    CASE_TIMEOUT_MS,
  );

  it.concurrent(
    'ops listener: a partial header section is cut at 10 s with 408',
    async ({ expect }) => {
      const cut = await hold(plain.ops as string, (socket) => socket.write('GET /metrics HTTP/1.1\r\nHost: gw\r\n'));
      expectCutWith408(expect, cut, HEADERS_MS);
    },
    CASE_TIMEOUT_MS,
  );
});
