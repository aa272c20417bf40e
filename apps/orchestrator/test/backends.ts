import { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A programmable loopback backend for proxy tests. */
export interface TestBackend {
  readonly name: string;
  readonly url: string;
  readonly port: number;
  /** Requests received (excluding health probes). */
  hits: number;
  /** Status every non-health request answers with when set. */
  failWith: number | undefined;
  /** Health endpoint status. */
  healthStatus: number;
  /** Bytes of the current /upload received so far. */
  uploadBytes: number;
  /** /download sends half, then waits for this before sending the rest (when set). */
  downloadGate: Promise<void> | undefined;
  /**
   * `request` (path) when a non-health request arrives; `aborted` (path) when a response is cut before its end;
   * `connect` and `disconnect` when a connection opens and closes.
   */
  readonly events: EventEmitter;
  /** Connections open now, health probes' included. */
  openConnections: number;
  close(): Promise<void>;
  /** Listens again on the same port after close(). */
  restart(): Promise<void>;
}

const CHUNK = Buffer.alloc(64 * 1024, 0x61);

function handle(backend: TestBackend, req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? '/', 'http://x');
  if (url.pathname === '/healthz') {
    res.writeHead(backend.healthStatus, { 'content-type': 'application/json' }).end('{}');
    return;
  }
  backend.hits++;
  backend.events.emit('request', url.pathname);
  res.on('close', () => {
    if (!res.writableFinished) backend.events.emit('aborted', url.pathname);
  });
  if (backend.failWith !== undefined) {
    req.resume();
    res
      .writeHead(backend.failWith, { 'content-type': 'application/json' })
      .end(JSON.stringify({ backend: backend.name, failed: true }));
    return;
  }
  switch (url.pathname) {
    case '/upload': {
      backend.uploadBytes = 0;
      req.on('data', (chunk: Buffer) => (backend.uploadBytes += chunk.length));
      req.on('end', () =>
        res
          .writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify({ backend: backend.name, bytes: backend.uploadBytes })),
      );
      return;
    }
    case '/download': {
      const total = Number(url.searchParams.get('mb') ?? '1') * 1024 * 1024;
      let left = total;
      let gated = backend.downloadGate !== undefined;
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(left) });
      const pump = (): void => {
        while (left > 0) {
          if (gated && left <= total / 2) {
            gated = false;
            void backend.downloadGate?.then(pump);
            return;
          }
          const chunk = left >= CHUNK.length ? CHUNK : CHUNK.subarray(0, left);
          left -= chunk.length;
          if (!res.write(chunk)) {
            res.once('drain', pump);
            return;
          }
        }
        res.end();
      };
      pump();
      return;
    }
    case '/slow':
      setTimeout(
        () => res.writeHead(200).end(JSON.stringify({ backend: backend.name })),
        Number(url.searchParams.get('ms') ?? '1000'),
      );
      return;
    case '/hang':
      req.resume();
      return;
    case '/hop':
      // An answer carrying every kind of header that must not reach the client.
      req.resume();
      res
        .writeHead(200, {
          'content-type': 'application/json',
          connection: 'keep-alive, X-Hop, x-hop-2',
          'x-hop': 'named by Connection',
          'x-hop-2': 'named by Connection',
          'keep-alive': 'timeout=5',
          'proxy-authenticate': 'Basic realm="backend"',
          'proxy-connection': 'keep-alive',
          'proxy-status': 'backend',
          upgrade: 'h2c',
          'x-end-to-end': 'kept',
        })
        .end(JSON.stringify({ backend: backend.name }));
      return;
    default:
      req.resume();
      res
        .writeHead(200, {
          'content-type': 'application/json',
          connection: 'keep-alive, x-hop',
          'x-hop': 'must-not-pass',
          'keep-alive': 'timeout=5',
        })
        .end(JSON.stringify({ backend: backend.name, method: req.method, url: req.url, headers: req.headers }));
  }
}

/** Starts a programmable backend on 127.0.0.1 (port 0 = free). */
export async function startTestBackend(name: string, port = 0): Promise<TestBackend> {
  let server: Server;
  const backend: TestBackend = {
    name,
    url: '',
    port,
    hits: 0,
    failWith: undefined,
    healthStatus: 200,
    uploadBytes: 0,
    downloadGate: undefined,
    events: new EventEmitter(),
    openConnections: 0,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
    restart: () => listen(backend.port),
  };
  const listen = (at: number): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      server = createServer((req, res) => handle(backend, req, res));
      server.keepAliveTimeout = 30_000;
      server.on('connection', (socket) => {
        backend.openConnections++;
        backend.events.emit('connect');
        socket.on('close', () => {
          backend.openConnections--;
          backend.events.emit('disconnect');
        });
      });
      server.once('error', reject);
      server.listen(at, '127.0.0.1', () => resolve());
    });
  await listen(port);
  const actual = (server!.address() as AddressInfo).port;
  Object.assign(backend, { port: actual, url: `http://127.0.0.1:${actual}` });
  return backend;
}
