import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A demo backend's latency profile: base delay plus up to `jitterMs` of random extra, in ms. */
export interface DemoProfile {
  readonly name: string;
  readonly delayMs: number;
  readonly jitterMs: number;
}

/** Demo pools and their backends' latency profiles (different on purpose, so the balancers have work to do). */
export const DEMO_POOLS: Readonly<Record<string, readonly DemoProfile[]>> = {
  api: [
    { name: 'api-fast', delayMs: 2, jitterMs: 1 },
    { name: 'api-medium', delayMs: 10, jitterMs: 5 },
    { name: 'api-slow', delayMs: 40, jitterMs: 20 },
  ],
  search: [
    { name: 'search-a', delayMs: 5, jitterMs: 2 },
    { name: 'search-jittery', delayMs: 5, jitterMs: 60 },
  ],
  static: [
    { name: 'static-a', delayMs: 1, jitterMs: 0 },
    { name: 'static-b', delayMs: 1, jitterMs: 0 },
  ],
};

/** A running demo backend. */
export interface RunningDemoBackend {
  readonly profile: DemoProfile;
  readonly url: string;
  close(): Promise<void>;
}

/**
 * Starts one loopback HTTP server that answers `GET /healthz` at once and anything else with a small JSON body after
 * its profile's delay. For `npm start` and tests, never for production traffic.
 */
export async function startDemoBackend(profile: DemoProfile, host = '127.0.0.1'): Promise<RunningDemoBackend> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
      return;
    }
    req.resume();
    const delay = profile.delayMs + Math.random() * profile.jitterMs;
    setTimeout(() => {
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ backend: profile.name, method: req.method, path }));
    }, delay);
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    profile,
    url: `http://${host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
