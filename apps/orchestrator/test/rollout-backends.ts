import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request a version backend received (health probes aside). */
export interface SeenRequest {
  readonly method: string;
  /** True when it was a copy (`x-shieldx-mirror: 1`), not a client's request. */
  readonly mirrored: boolean;
}

/** A loopback backend answering `{name}` with `status` (a function of the request count, from 1), recording requests. */
export interface VersionBackend {
  readonly name: string;
  readonly url: string;
  readonly seen: SeenRequest[];
  /** The status of the n-th request (health probes aside). */
  status: (n: number) => number;
  close(): Promise<void>;
}

/** Starts a {@link VersionBackend} on 127.0.0.1 and a free port. */
export async function startVersion(name: string, status: (n: number) => number = () => 200): Promise<VersionBackend> {
  const seen: SeenRequest[] = [];
  const backend = { name, url: '', seen, status, close: () => Promise.resolve() } as VersionBackend;
  const server: Server = createServer((req, res) => {
    if (req.url === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      return;
    }
    req.resume();
    req.on('end', () => {
      seen.push({ method: req.method ?? '', mirrored: req.headers['x-shieldx-mirror'] === '1' });
      res.writeHead(backend.status(seen.length), { 'content-type': 'application/json' });
      res.end(JSON.stringify({ name }));
    });
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  return Object.assign(backend, {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  });
}

/** An answer of the gateway: status and parsed JSON body. */
export interface Answer {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

/** One HTTP call with an optional JSON body. */
export async function call(
  base: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<Answer> {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: (text.startsWith('{') ? JSON.parse(text) : { text }) as Answer['body'] };
}
