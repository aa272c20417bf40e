import { signAdmission } from '@shieldx/security';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { connect as netConnect, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { WebSocketTunnels } from '../src/proxy/websocket-tunnels';
import { callerCorrIdOf } from '../src/request/request-context';
import { eventually } from './eventually';
import { startOrchestrator, type RunningOrchestrator } from './harness';

const CALLER = { 'x-tenant': 'acme', 'x-scope': 'read' };

/** A WebSocket backend: `/echo` greets with what it received, then echoes; other paths refuse or misbehave. */
interface WsBackend {
  readonly url: string;
  /** Upgrade requests that reached it. */
  handshakes: number;
  /** Connections open on it now. */
  readonly open: Set<WebSocket>;
  close(): Promise<void>;
}

async function startWsBackend(): Promise<WsBackend> {
  const wss = new WebSocketServer({ noServer: true });
  const server: Server = createServer((req, res) => {
    // Plain requests (a non-WebSocket upgrade is served as one): say what arrived (`/slow-plain` after 300 ms,
    // `/hang-plain` never).
    if (req.url?.endsWith('/hang-plain') === true) return;
    setTimeout(
      () => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ url: req.url, headers: req.headers }));
      },
      req.url?.endsWith('/slow-plain') === true ? 300 : 0,
    );
  });
  const backend: WsBackend = {
    url: '',
    handshakes: 0,
    open: new Set(),
    close: async () => {
      // Upgraded and never-answered connections are no longer the server's: destroy every one.
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    backend.handshakes++;
    const path = (req.url ?? '/').split('?')[0];
    if (path.endsWith('/refuse')) {
      const body = JSON.stringify({ refusedBy: 'backend' });
      socket.end(
        `HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n` +
          `X-Backend: refused\r\nConnection: close\r\n\r\n${body}`,
      );
      return;
    }
    if (path.endsWith('/other-protocol')) {
      socket.end('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n');
      return;
    }
    if (path.endsWith('/silent')) return; // never answers
    if (path.endsWith('/bare101')) {
      socket.end('HTTP/1.1 101 Switching Protocols\r\n\r\n');
      return;
    }
    if (path.endsWith('/broken-refusal')) {
      // A refusal whose body breaks off: 7 of 100 bytes, then the connection is reset.
      socket.write('HTTP/1.1 403 Forbidden\r\nContent-Length: 100\r\n\r\npartial');
      setTimeout(() => socket.resetAndDestroy(), 100);
      return;
    }
    if (path.endsWith('/trickle')) {
      // A refusal whose chunked body never ends: one byte every 100 ms.
      socket.write('HTTP/1.1 403 Forbidden\r\nTransfer-Encoding: chunked\r\n\r\n');
      socket.on('error', () => socket.destroy());
      const timer = setInterval(() => {
        if (socket.writable) socket.write('1\r\nx\r\n');
      }, 100);
      socket.once('close', () => clearInterval(timer));
      return;
    }
    if (path.endsWith('/slow-101')) {
      setTimeout(() => {
        if (socket.destroyed) return;
        wss.handleUpgrade(req, socket, head, (ws) => {
          backend.open.add(ws);
          ws.on('close', () => backend.open.delete(ws));
          ws.send(JSON.stringify({ url: req.url }));
        });
      }, 600);
      return;
    }
    if (path.endsWith('/deaf')) {
      // Accepts, then ignores the client's FIN (keeps its side open).
      wss.handleUpgrade(req, socket, head, (ws) => {
        backend.open.add(ws);
        socket.removeAllListeners('end');
        socket.on('end', () => undefined);
        ws.send(JSON.stringify({ url: req.url }));
      });
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      backend.open.add(ws);
      ws.on('close', () => backend.open.delete(ws));
      ws.send(JSON.stringify({ url: req.url, headers: req.headers }));
      ws.on('message', (data: Buffer, binary) => ws.send(binary ? data : `echo:${data.toString()}`, { binary }));
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return Object.assign(backend, { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
}

/** How a WebSocket handshake through the gateway ended. */
type Opened =
  | {
      readonly kind: 'open';
      readonly ws: WebSocket;
      readonly hello: Record<string, unknown>;
      readonly headers: IncomingMessage['headers'];
    }
  | {
      readonly kind: 'refused';
      readonly status: number;
      readonly headers: IncomingMessage['headers'];
      readonly body: string;
    };

function openWs(url: string, headers: Record<string, string> = CALLER, localAddress?: string): Promise<Opened> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers, localAddress });
    let upgradeHeaders: IncomingMessage['headers'] = {};
    ws.once('upgrade', (res) => (upgradeHeaders = res.headers));
    ws.once('message', (data: Buffer) =>
      resolve({
        kind: 'open',
        ws,
        hello: JSON.parse(data.toString()) as Record<string, unknown>,
        headers: upgradeHeaders,
      }),
    );
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve({ kind: 'refused', status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    ws.once('error', reject);
  });
}

async function refused(url: string, headers?: Record<string, string>, localAddress?: string) {
  const opened = await openWs(url, headers, localAddress);
  if (opened.kind !== 'refused') throw new Error('the handshake was expected to be refused');
  return { ...opened, json: JSON.parse(opened.body) as Record<string, unknown> };
}

async function opened(url: string, headers?: Record<string, string>, localAddress?: string) {
  const result = await openWs(url, headers, localAddress);
  if (result.kind !== 'open') throw new Error(`the handshake was refused: ${result.status} ${result.body}`);
  return result;
}

/** Sends `text` and waits for the echo. */
async function roundTrip(ws: WebSocket, text: string): Promise<string> {
  ws.send(text);
  const [data] = (await once(ws, 'message')) as [Buffer];
  return data.toString();
}

/** The raw text of a WebSocket handshake for `path`, with `headers`. */
function handshakeText(path: string, headers: Record<string, string> = CALLER): string {
  const lines = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`);
  return (
    `GET ${path} HTTP/1.1\r\nHost: x\r\n${lines.join('')}Connection: Upgrade\r\nUpgrade: websocket\r\n` +
    'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n'
  );
}

/** A raw connection to the gateway that keeps what it receives. */
function rawConnection(base: string, localAddress?: string): { socket: Socket; received: () => string } {
  const { hostname, port } = new URL(base);
  const socket = netConnect({ port: Number(port), host: hostname, localAddress });
  let received = '';
  socket.on('data', (chunk: Buffer) => (received += chunk.toString()));
  socket.on('error', () => undefined);
  return { socket, received: () => received };
}

/** The value of `orchestrator_proxy_upgrades_total{outcome}` now. */
async function upgradesCounted(orch: RunningOrchestrator, outcome: string): Promise<number> {
  const match = new RegExp(`orchestrator_proxy_upgrades_total\\{outcome="${outcome}"\\} (\\d+)`).exec(
    await metricsText(orch),
  );
  return match === null ? 0 : Number(match[1]);
}

/** Writes `raw` on a new connection and returns everything the gateway wrote until it closed the connection. */
async function rawExchange(base: string, raw: string): Promise<string> {
  const { hostname, port } = new URL(base);
  const socket = netConnect(Number(port), hostname);
  let received = '';
  socket.on('data', (chunk: Buffer) => (received += chunk.toString()));
  socket.write(raw);
  await once(socket, 'close');
  return received;
}

async function metricsText(orch: RunningOrchestrator): Promise<string> {
  return (await fetch(`${orch.url}/metrics`)).text();
}

describe('WebSocket through /proxy', () => {
  let backend: WsBackend;
  let orch: RunningOrchestrator;
  let ws: string;

  beforeAll(async () => {
    backend = await startWsBackend();
    const dir = mkdtempSync(join(tmpdir(), 'shieldx-e2e-ws-'));
    writeFileSync(
      join(dir, 'rules.json'),
      JSON.stringify({
        allow_all: true,
        advanced: [{ tenant: '*', scopes: ['*'], path_prefix: '/internal/', action: 'deny', reason: 'internal' }],
      }),
    );
    orch = await startOrchestrator({
      ORCH_POOL_API: backend.url,
      ORCH_POOL_DEAD: 'http://127.0.0.1:9',
      ORCH_POLICY_PATH: join(dir, 'rules.json'),
      ORCH_TENANT_LIMITS: 'tiny=1',
      ORCH_PROXY_TIMEOUT: '300ms',
      ORCH_PROXY_RETRIES: '0',
    });
    ws = orch.url.replace('http:', 'ws:');
  });

  afterAll(async () => {
    await orch?.close();
    await backend?.close();
  });

  it('joins client and backend after the guards: text and binary both ways, gateway headers on the way', async () => {
    const before = backend.handshakes;
    const conn = await opened(`${ws}/proxy/api/chat/room?x=1`, {
      ...CALLER,
      'x-forwarded-for': '198.51.100.7',
      'x-shieldx-admission': 't=1,n=abc,v1=00',
    });
    expect(backend.handshakes).toBe(before + 1);
    expect(conn.hello['url']).toBe('/chat/room?x=1');
    const sent = conn.hello['headers'] as Record<string, string>;
    expect(sent['x-forwarded-for']).toBe('127.0.0.1');
    expect(sent['x-real-ip']).toBe('127.0.0.1');
    expect(sent['x-tenant']).toBe('acme');
    expect(sent['x-shieldx-admission']).toBeUndefined();
    expect(sent['upgrade']).toBe('websocket');
    expect(sent['x-correlation-id']).toBe(conn.headers['x-correlation-id']);
    expect(conn.headers['ratelimit-limit']).toBeDefined();

    expect(await roundTrip(conn.ws, 'hello')).toBe('echo:hello');
    // 2 MiB of binary: backpressure both ways, bytes intact.
    const big = Buffer.alloc(2 * 1024 * 1024, 7);
    big.writeUInt32BE(0xdeadbeef, 1000);
    conn.ws.send(big);
    const [echoed] = (await once(conn.ws, 'message')) as [Buffer];
    expect(Buffer.compare(echoed, big)).toBe(0);

    const metrics = await metricsText(orch);
    expect(metrics).toContain('orchestrator_proxy_tunnels_open 1');
    expect(metrics).toMatch(/orchestrator_proxy_upgrades_total\{outcome="opened"\} [1-9]/);
    expect(metrics).toContain('orchestrator_route_total{action="allow"}');

    conn.ws.close(1000, 'done');
    await once(conn.ws, 'close');
    await eventually(() => backend.open.size === 0);
    await eventually(() => orch.logs.some((line) => line['event'] === 'tunnel_closed'));
    expect(await metricsText(orch)).toContain('orchestrator_proxy_tunnels_open 0');
  });

  it('closes the client side when the backend goes away, and the backend side when the client does', async () => {
    const first = await opened(`${ws}/proxy/api/echo`);
    await eventually(() => backend.open.size === 1);
    for (const peer of backend.open) peer.terminate();
    await once(first.ws, 'close');

    const second = await opened(`${ws}/proxy/api/echo`);
    await eventually(() => backend.open.size === 1);
    second.ws.terminate();
    await eventually(() => backend.open.size === 0);
  });

  it('refuses before any backend is contacted: bad caller headers, policy, rate limit', async () => {
    const before = backend.handshakes;
    const noTenant = await refused(`${ws}/proxy/api/echo`, { 'x-scope': 'read' });
    expect(noTenant.status).toBe(400);
    expect(noTenant.json).toMatchObject({ error: 'invalid_request' });

    const denied = await refused(`${ws}/proxy/api/internal/admin`);
    expect(denied.status).toBe(403);
    expect(denied.json).toMatchObject({ error: 'policy_denied', correlationId: denied.headers['x-correlation-id'] });

    // An encoded path is judged in its canonical form, as for any proxied request.
    const encoded = await refused(`${ws}/proxy/api/%69nternal/admin`);
    expect(encoded.status).toBe(403);

    const tiny = { 'x-tenant': 'tiny', 'x-scope': 'read' };
    const allowed = await opened(`${ws}/proxy/api/echo`, tiny);
    const limited = await refused(`${ws}/proxy/api/echo`, tiny);
    expect(limited.status).toBe(429);
    expect(limited.json).toMatchObject({ error: 'rate_limited' });
    expect(limited.headers['retry-after']).toBeDefined();
    allowed.ws.close();
    expect(backend.handshakes).toBe(before + 1);
  });

  it("relays a backend's refusal as a normal response and never tunnels without its 101 websocket", async () => {
    const no = await refused(`${ws}/proxy/api/refuse`);
    expect(no.status).toBe(403);
    expect(no.json).toEqual({ refusedBy: 'backend' });
    expect(no.headers['x-backend']).toBe('refused');
    expect(no.headers['x-correlation-id']).toBeDefined();

    const other = await refused(`${ws}/proxy/api/other-protocol`);
    expect(other.status).toBe(502);
    expect(other.json).toMatchObject({ error: 'bad_gateway' });

    const silent = await refused(`${ws}/proxy/api/silent`);
    expect(silent.status).toBe(504);
    expect(silent.json).toMatchObject({ error: 'upstream_timeout' });

    const dead = await refused(`${ws}/proxy/dead/echo`);
    expect(dead.status).toBe(502);
    expect(dead.json).toMatchObject({ error: 'bad_gateway', message: expect.stringContaining('ECONNREFUSED') });

    const metrics = await metricsText(orch);
    expect(metrics).toMatch(/orchestrator_proxy_upgrades_total\{outcome="backend_refused"\} [1-9]/);
    expect(metrics).toMatch(/orchestrator_proxy_upgrades_total\{outcome="backend_failed"\} [3-9]/);
  });

  it('serves other upgrades (h2c, or on other routes) as plain requests, then closes the connection', async () => {
    const h2c = await rawExchange(
      orch.url,
      'GET /proxy/api/plain HTTP/1.1\r\nHost: x\r\nX-Tenant: acme\r\nX-Scope: read\r\n' +
        'Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n',
    );
    expect(h2c).toMatch(/^HTTP\/1\.1 200 /);
    expect(h2c.toLowerCase()).toContain('connection: close');
    // The backend answered with the headers it received: no Upgrade, no HTTP2-Settings.
    expect(h2c).toContain('"x-tenant":"acme"');
    expect(h2c).not.toContain('"upgrade"');
    expect(h2c).not.toContain('"http2-settings"');

    const health = await rawExchange(
      orch.url,
      'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n',
    );
    expect(health).toMatch(/^HTTP\/1\.1 200 /);

    // A POST asking for a WebSocket is no handshake: /proxy forwards it as a request.
    const post = await rawExchange(
      orch.url,
      'POST /proxy/api/plain HTTP/1.1\r\nHost: x\r\nX-Tenant: acme\r\nX-Scope: read\r\nContent-Length: 0\r\n' +
        'Connection: Upgrade\r\nUpgrade: websocket\r\n\r\n',
    );
    expect(post).toMatch(/^HTTP\/1\.1 200 /);
  });

  it('ends every upgrade request with its exchange: nothing held for it stays', async () => {
    // Node never ends an upgrade request by itself; what is released when a request closes (here the caller's own
    // correlation id, kept beside the gateway's) must be released for these too, whatever the route and the answer.
    const corrIds: string[] = [];
    for (const [i, target] of ['/healthz', '/nothing', '/proxy/api/plain', '/proxy/nope/x'].entries()) {
      const answer = await rawExchange(
        orch.url,
        `GET ${target} HTTP/1.1\r\nHost: x\r\nX-Tenant: acme\r\nX-Scope: read\r\nX-Correlation-ID: upgrade-held-${i}\r\n` +
          'Connection: Upgrade\r\nUpgrade: h2c\r\n\r\n',
      );
      const corrId = /x-correlation-id: ([0-9a-f-]{36})/i.exec(answer)?.[1];
      expect(corrId, target).toBeDefined();
      corrIds.push(corrId!);
    }
    const tunnel = await opened(`${ws}/proxy/api/echo`, { ...CALLER, 'x-correlation-id': 'upgrade-held-ws' });
    corrIds.push(String(tunnel.headers['x-correlation-id']));
    tunnel.ws.close(1000, 'done');
    await once(tunnel.ws, 'close');
    await eventually(() => corrIds.every((corrId) => callerCorrIdOf(corrId) === undefined));
  });

  it('refuses an upgrade request that carries a body (400 JSON) and one with a malformed path', async () => {
    const withBody = await rawExchange(
      orch.url,
      'GET /proxy/api/echo HTTP/1.1\r\nHost: x\r\nX-Tenant: acme\r\nX-Scope: read\r\nContent-Length: 5\r\n' +
        'Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n' +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\nhello',
    );
    expect(withBody).toMatch(/^HTTP\/1\.1 400 /);
    expect(withBody).toContain('"error":"invalid_request"');

    const chunked = await rawExchange(
      orch.url,
      'GET /proxy/api/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n' +
        'Connection: Upgrade\r\nUpgrade: websocket\r\n\r\n0\r\n\r\n',
    );
    expect(chunked).toMatch(/^HTTP\/1\.1 400 /);

    // Sent as written (a WebSocket client would resolve the dot segments itself).
    const traversal = await rawExchange(
      orch.url,
      'GET /proxy/api/a/%2e%2e/%2e%2e/etc HTTP/1.1\r\nHost: x\r\nX-Tenant: acme\r\nX-Scope: read\r\n' +
        'Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n' +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
    );
    expect(traversal).toMatch(/^HTTP\/1\.1 400 /);
    expect(traversal).toContain('"error":"invalid_path"');
  });

  it('survives an upgrade pipelined behind a request still being answered, answering both in order', async () => {
    const answer = await rawExchange(
      orch.url,
      'GET /proxy/api/slow-plain HTTP/1.1\r\nHost: a\r\nX-Tenant: acme\r\nX-Scope: read\r\n\r\n' +
        'GET /healthz HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: x\r\n\r\n',
    );
    const statuses = [...answer.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((match) => match[1]);
    expect(statuses).toEqual(['200', '200']);
    // Behind two: Node binds the second response to the connection when the first ends; the upgrade waits for both.
    const behindTwo = await rawExchange(
      orch.url,
      'GET /proxy/api/slow-plain HTTP/1.1\r\nHost: a\r\nX-Tenant: acme\r\nX-Scope: read\r\n\r\n' +
        'GET /proxy/api/slow-plain?second HTTP/1.1\r\nHost: a\r\nX-Tenant: acme\r\nX-Scope: read\r\n\r\n' +
        handshakeText('/proxy/api/refuse'),
    );
    const inOrder = [...behindTwo.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((match) => match[1]);
    expect(inOrder).toEqual(['200', '200', '403']);
    expect(behindTwo).toContain('"url":"/slow-plain?second"');
    expect(behindTwo).toContain('{"refusedBy":"backend"}');
    const after = await opened(`${ws}/proxy/api/echo`);
    expect(await roundTrip(after.ws, 'alive')).toBe('echo:alive');
    after.ws.close();
  });

  it("cuts the client when a backend's refusal breaks off, and refuses a 101 that switches to nothing", async () => {
    const { hostname, port } = new URL(orch.url);
    const socket = netConnect(Number(port), hostname);
    let received = '';
    socket.on('data', (chunk: Buffer) => (received += chunk.toString()));
    socket.write(
      'GET /proxy/api/broken-refusal HTTP/1.1\r\nHost: x\r\nX-Tenant: acme\r\nX-Scope: read\r\n' +
        'Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n' +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
    );
    // The gateway closes the connection itself (the client here never would).
    await once(socket, 'close');
    expect(received).toMatch(/^HTTP\/1\.1 403 /);

    const bare = await refused(`${ws}/proxy/api/bare101`);
    expect(bare.status).toBe(502);
    expect(bare.json).toMatchObject({ error: 'bad_gateway' });
  });

  it('treats a client that half-closes as gone: during the handshake and in a tunnel whose backend ignores it', async () => {
    const tunnels = orch.app.get(WebSocketTunnels);
    await eventually(() => tunnels.count === 0);
    const { hostname, port } = new URL(orch.url);
    const early = netConnect(Number(port), hostname);
    early.write(
      'GET /proxy/api/slow-101 HTTP/1.1\r\nHost: x\r\nX-Tenant: acme\r\nX-Scope: read\r\n' +
        'Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n' +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
    );
    setTimeout(() => early.end(), 100);
    await once(early, 'close');
    await new Promise((resolve) => setTimeout(resolve, 800));
    expect(tunnels.count).toBe(0);

    // The same FIN while the upgrade still waits behind an earlier response on its connection.
    const gone = await upgradesCounted(orch, 'client_gone');
    const opens = await upgradesCounted(orch, 'opened');
    const behind = rawConnection(orch.url);
    behind.socket.end(
      'GET /proxy/api/slow-plain HTTP/1.1\r\nHost: a\r\nX-Tenant: acme\r\nX-Scope: read\r\n\r\n' +
        handshakeText('/proxy/api/echo'),
    );
    await once(behind.socket, 'close');
    await eventually(async () => (await upgradesCounted(orch, 'client_gone')) === gone + 1);
    expect(behind.received()).toMatch(/^HTTP\/1\.1 200 /);
    expect(await upgradesCounted(orch, 'opened')).toBe(opens);
    expect(tunnels.count).toBe(0);

    const deaf = await opened(`${ws}/proxy/api/deaf`);
    expect(tunnels.count).toBe(1);
    // FIN only (no reset): the backend never closes its side, yet the tunnel goes within the linger time.
    (deaf.ws as unknown as { _socket: Socket })._socket.end();
    await eventually(() => tunnels.count === 0, { timeoutMs: 8_000 });
  }, 15_000);

  it('survives garbage: a handshake cut midway, and bytes sent before the 101', async () => {
    const { hostname, port } = new URL(orch.url);
    const socket = netConnect(Number(port), hostname);
    socket.write(
      'GET /proxy/api/silent HTTP/1.1\r\nHost: x\r\nX-Tenant: acme\r\nX-Scope: read\r\nConnection: Upgrade\r\n' +
        'Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n\x81\x05early',
    );
    socket.destroy();
    const after = await opened(`${ws}/proxy/api/echo`);
    expect(await roundTrip(after.ws, 'still up')).toBe('echo:still up');
    after.ws.close();
  });
});

describe('WebSocket tunnels: caller proof, caps, idle timeout, shutdown', () => {
  const SECRET = 'e2e-ws-admission-secret-0001';
  let backend: WsBackend;
  let orch: RunningOrchestrator;
  let closed = false;
  let ws: string;
  const proof = (path: string) => ({
    ...CALLER,
    'x-shieldx-admission': signAdmission({ secret: SECRET, method: 'GET', pathWithQuery: path }),
  });

  beforeAll(async () => {
    backend = await startWsBackend();
    orch = await startOrchestrator({
      ORCH_POOL_API: backend.url,
      ADMISSION_SECRET: SECRET,
      ORCH_PROXY_MAX_TUNNELS: '2',
      ORCH_PROXY_CLIENT_SHARE: '0.5',
      ORCH_PROXY_TUNNEL_IDLE_TIMEOUT: '400ms',
      ORCH_SHUTDOWN_GRACE: '300ms',
    });
    ws = orch.url.replace('http:', 'ws:');
  });

  afterAll(async () => {
    if (!closed) await orch?.close();
    await backend?.close();
  });

  it('requires the caller proof like any request', async () => {
    const before = backend.handshakes;
    const missing = await refused(`${ws}/proxy/api/echo`);
    expect(missing.status).toBe(401);
    expect(backend.handshakes).toBe(before);
    const conn = await opened(`${ws}/proxy/api/echo`, proof('/proxy/api/echo'));
    expect(await roundTrip(conn.ws, 'proved')).toBe('echo:proved');
    conn.ws.close();
    await once(conn.ws, 'close');
  });

  it('caps tunnels per client IP and in total, and frees a place when one closes', async () => {
    await eventually(() => orch.app.get(WebSocketTunnels).count === 0);
    const one = await opened(`${ws}/proxy/api/echo`, proof('/proxy/api/echo'), '127.0.0.1');
    const share = await refused(`${ws}/proxy/api/echo`, proof('/proxy/api/echo'), '127.0.0.1');
    expect(share.status).toBe(429);
    expect(share.json).toMatchObject({ error: 'tunnel_share_exceeded' });
    expect(share.headers['retry-after']).toBe('1');
    const two = await opened(`${ws}/proxy/api/echo`, proof('/proxy/api/echo'), '127.0.0.2');
    const full = await refused(`${ws}/proxy/api/echo`, proof('/proxy/api/echo'), '127.0.0.3');
    expect(full.status).toBe(503);
    expect(full.json).toMatchObject({ error: 'tunnels_full' });
    one.ws.close();
    await once(one.ws, 'close');
    await eventually(() => orch.app.get(WebSocketTunnels).count === 1);
    const three = await opened(`${ws}/proxy/api/echo`, proof('/proxy/api/echo'), '127.0.0.3');
    two.ws.terminate();
    three.ws.terminate();
    expect(await metricsText(orch)).toMatch(/orchestrator_proxy_upgrades_total\{outcome="limited"\} 2/);
  });

  it("holds the client's place while a backend's refusal is relayed, and frees it when the relay ends", async () => {
    await eventually(() => orch.app.get(WebSocketTunnels).count === 0);
    const relay = rawConnection(orch.url, '127.0.0.8');
    relay.socket.write(handshakeText('/proxy/api/trickle', proof('/proxy/api/trickle')));
    await eventually(() => relay.received().startsWith('HTTP/1.1 403 '));
    const share = await refused(`${ws}/proxy/api/echo`, proof('/proxy/api/echo'), '127.0.0.8');
    expect(share.status).toBe(429);
    expect(share.json).toMatchObject({ error: 'tunnel_share_exceeded' });
    relay.socket.destroy();
    await eventually(async () => {
      const again = await openWs(`${ws}/proxy/api/echo`, proof('/proxy/api/echo'), '127.0.0.8');
      if (again.kind === 'open') again.ws.terminate();
      return again.kind === 'open';
    });
  });

  it('closes a tunnel idle for ORCH_PROXY_TUNNEL_IDLE_TIMEOUT, not one in use', async () => {
    await eventually(() => orch.app.get(WebSocketTunnels).count === 0);
    const idle = await opened(`${ws}/proxy/api/echo`, proof('/proxy/api/echo'), '127.0.0.4');
    const busy = await opened(`${ws}/proxy/api/echo`, proof('/proxy/api/echo'), '127.0.0.5');
    const idleClosed = once(idle.ws, 'close');
    for (let i = 0; i < 6; i++) {
      expect(await roundTrip(busy.ws, `tick ${i}`)).toBe(`echo:tick ${i}`);
      await new Promise((resolve) => setTimeout(resolve, 150));
    }
    await idleClosed;
    expect(busy.ws.readyState).toBe(WebSocket.OPEN);
    expect(orch.logs).toContainEqual(expect.objectContaining({ event: 'tunnel_closed', reason: 'idle' }));
    busy.ws.terminate();
  });

  it('cuts open tunnels when the shutdown grace ends', async () => {
    await eventually(() => orch.app.get(WebSocketTunnels).count === 0);
    const conn = await opened(`${ws}/proxy/api/echo`, proof('/proxy/api/echo'), '127.0.0.6');
    const keepBusy = setInterval(() => conn.ws.send('tick'), 100);
    const tunnelClosed = once(conn.ws, 'close');
    // A handshake whose backend answers 101 only after the grace has ended gets no tunnel.
    const { hostname, port } = new URL(orch.url);
    const late = netConnect({ port: Number(port), host: hostname, localAddress: '127.0.0.7' });
    let lateAnswer = '';
    late.on('data', (chunk: Buffer) => (lateAnswer += chunk.toString()));
    late.on('error', () => undefined);
    const headers = proof('/proxy/api/slow-101');
    late.write(
      'GET /proxy/api/slow-101 HTTP/1.1\r\nHost: x\r\n' +
        Object.entries(headers)
          .map(([name, value]) => `${name}: ${value}\r\n`)
          .join('') +
        'Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n' +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
    );
    const lateClosed = once(late, 'close');
    await new Promise((resolve) => setTimeout(resolve, 100));
    const started = Date.now();
    closed = true;
    await orch.close();
    await tunnelClosed;
    clearInterval(keepBusy);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(orch.logs).toContainEqual(expect.objectContaining({ event: 'shutdown_forced', tunnels: 1 }));
    await lateClosed;
    expect(lateAnswer).not.toContain(' 101 ');
    await eventually(() => backend.open.size === 0);
  });
});

describe('WebSocket connections at shutdown', () => {
  let backend: WsBackend;
  let orch: RunningOrchestrator;
  let closed = false;

  beforeAll(async () => {
    backend = await startWsBackend();
    orch = await startOrchestrator({ ORCH_POOL_API: backend.url, ORCH_SHUTDOWN_GRACE: '300ms' });
  });

  afterAll(async () => {
    if (!closed) await orch?.close();
    await backend?.close();
  });

  it('cuts tunnels, relayed refusals and upgrades still waiting for their turn when the grace ends', async () => {
    const tunnel = await opened(`${orch.url.replace('http:', 'ws:')}/proxy/api/echo`);
    const relay = rawConnection(orch.url);
    relay.socket.write(handshakeText('/proxy/api/trickle'));
    // An upgrade pipelined behind a request whose backend never answers: it waits for that response.
    const waiting = rawConnection(orch.url);
    waiting.socket.write(
      'GET /proxy/api/hang-plain HTTP/1.1\r\nHost: a\r\nX-Tenant: acme\r\nX-Scope: read\r\n\r\n' +
        handshakeText('/proxy/api/echo'),
    );
    await eventually(() => relay.received().startsWith('HTTP/1.1 403 '));
    const allClosed = Promise.all([
      once(tunnel.ws, 'close'),
      once(relay.socket, 'close'),
      once(waiting.socket, 'close'),
    ]);
    const started = Date.now();
    closed = true;
    await orch.close();
    await allClosed;
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(orch.logs).toContainEqual(expect.objectContaining({ event: 'tunnel_closed', reason: 'shutdown' }));
    expect(waiting.received()).toBe('');
  });
});
