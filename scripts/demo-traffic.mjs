// Demo traffic for `npm start` (off with ORCH_DEMO_TRAFFIC=0): a gentle mix of requests so a newcomer's admin UI
// shows moving graphs, decisions of every kind and breaker changes at once. Development only; loopback only.
//
// - startFlakyBackends(): two loopback backends for the pool `flaky`: `flaky-steady` always answers, `flaky-flapping`
//   drops every connection for FLAP_DOWN_MS out of every FLAP_PERIOD_MS, so its breaker opens and closes again.
// - driveTraffic(orchUrl): about RATE requests a second, never more than MAX_IN_FLIGHT at once: routing decisions over
//   the demo pools and tenants, proxied requests (the flaky pool among them), internal paths the policy denies, a
//   scanner scope it tarpits and a quarantined tenant it diverts. Returns a function that stops it.
import { createServer } from 'node:http';

const RATE = 5;
const MAX_IN_FLIGHT = 20;
const FLAP_PERIOD_MS = 60_000;
const FLAP_DOWN_MS = 15_000;

const TENANTS = ['acme', 'globex', 'initech', 'trial'];
const SERVICES = ['api', 'search', 'static'];

/**
 * One loopback backend; `down()` says when it drops connections instead of answering.
 * @param {string} name
 * @param {() => boolean} down
 * @returns {Promise<{ url: string, close: () => Promise<void> }>}
 */
async function backend(name, down) {
  const server = createServer((req, res) => {
    if (down()) {
      req.socket.destroy();
      return;
    }
    req.resume();
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ backend: name }));
  });
  await new Promise((resolve) => server.listen({ port: 0, host: '127.0.0.1' }, () => resolve(undefined)));
  const { port } = /** @type {import('node:net').AddressInfo} */ (server.address());
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve(undefined));
      }),
  };
}

/**
 * Starts the two backends of the pool `flaky`.
 * @param {{ periodMs?: number, downMs?: number }} [options]
 */
export async function startFlakyBackends({ periodMs = FLAP_PERIOD_MS, downMs = FLAP_DOWN_MS } = {}) {
  const started = Date.now();
  const steady = await backend('flaky-steady', () => false);
  const flapping = await backend('flaky-flapping', () => (Date.now() - started) % periodMs >= periodMs - downMs);
  return {
    urls: [steady.url, flapping.url],
    close: () => Promise.all([steady.close(), flapping.close()]),
  };
}

/** @param {string[]} list */
const pick = (list) => list[Math.floor(Math.random() * list.length)];

/**
 * One request of the mix.
 * @typedef {{ method: string, path: string, headers: Record<string, string>, body?: string }} DemoRequest
 * @param {number} n
 * @returns {DemoRequest}
 */
function nextRequest(n) {
  const tenant = pick(TENANTS);
  /** @param {Record<string, string>} body @returns {DemoRequest} */
  const route = (body) => ({
    method: 'POST',
    path: '/route',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  /** @param {string} pool @param {string} path @returns {DemoRequest} */
  const proxied = (pool, path) => ({
    method: 'GET',
    path: `/proxy/${pool}${path}`,
    headers: { 'x-tenant': tenant, 'x-scope': 'read' },
  });
  const roll = Math.random();
  if (roll < 0.55) {
    return route({ service: pick(SERVICES), tenant, scope: pick(['read', 'write']), path: `/v1/items/${n % 50}` });
  }
  if (roll < 0.7) return proxied('flaky', `/v1/orders/${n % 20}`);
  if (roll < 0.8) return proxied(pick(SERVICES), `/v1/items/${n % 50}`);
  if (roll < 0.9) return route({ service: 'api', tenant, scope: 'read', path: '/internal/secrets' });
  if (roll < 0.95) return route({ service: 'search', tenant, scope: 'scanner', path: '/v1/search' });
  return route({ service: 'api', tenant: 'quarantine', scope: 'read', path: '/v1/items' });
}

/**
 * Sends the demo mix to `orchUrl` until the returned function is called.
 * @param {string} orchUrl
 * @param {{ rate?: number }} [options]
 * @returns {() => Promise<void>}
 */
export function driveTraffic(orchUrl, { rate = RATE } = {}) {
  let n = 0;
  const pending = new Set();
  const timer = setInterval(() => {
    if (pending.size >= MAX_IN_FLIGHT) return;
    const { method, path, headers, body } = nextRequest(n++);
    const sent = fetch(`${orchUrl}${path}`, { method, headers, body, signal: AbortSignal.timeout(10_000) })
      .then((answer) => answer.arrayBuffer())
      .catch(() => undefined)
      .finally(() => pending.delete(sent));
    pending.add(sent);
  }, 1000 / rate);
  return async () => {
    clearInterval(timer);
    await Promise.all(pending);
  };
}
