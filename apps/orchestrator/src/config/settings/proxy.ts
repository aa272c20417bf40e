/** Settings of the `/proxy` data plane: timeouts, connections per backend, retries. */
import { SERVICE_PATTERN } from '../names';
import { integerIn, numberIn, parseByteSize, parseShare, positiveDuration } from '../parse';
import { setting, type ReadContext, type Section } from '../setting';
import type { MirrorRoute } from '../types';

const CONNECTIONS = [{ title: "A backend's connections", href: 'proxy.md#a-backends-connections' }];
const TUNNELS = [{ title: 'WebSocket', href: 'proxy.md#websocket' }];
const MIRRORING = [{ title: 'Traffic mirroring', href: 'proxy.md#traffic-mirroring' }];

const MIRROR_PREFIX = 'ORCH_MIRROR_';
/** The settings of mirroring itself, which share the family's prefix. */
const MIRROR_SETTINGS = new Set(['ORCH_MIRROR_MAX_BODY', 'ORCH_MIRROR_MAX_IN_FLIGHT', 'ORCH_MIRROR_TIMEOUT']);

/** `<shadow pool>:<percent>`: where a copy of that share of a pool's `/proxy` requests goes. */
export function parseMirror(raw: string): MirrorRoute {
  const text = raw.trim();
  const colon = text.lastIndexOf(':');
  const to = colon === -1 ? '' : text.slice(0, colon);
  const share = colon === -1 ? '' : text.slice(colon + 1);
  if (!SERVICE_PATTERN.test(to) || !/^\d{1,3}(\.\d{1,6})?$/.test(share)) {
    throw new Error(`'${raw}' is not <shadow pool>:<percent> (e.g. api-next:10)`);
  }
  const percent = Number(share);
  if (percent <= 0 || percent > 100) throw new Error(`'${raw}': the percent must be in (0, 100]`);
  return { to, percent };
}

const MIRROR_MAX_IN_FLIGHT = setting({
  key: 'ORCH_MIRROR_MAX_IN_FLIGHT',
  at: 'mirror.maxInFlight',
  parse: integerIn(1, 100_000),
  default: '64',
  doc: 'mirrored requests in flight at once; beyond it copies are dropped (counted), never queued',
  see: MIRRORING,
});

const MIRROR_TIMEOUT = setting({
  key: 'ORCH_MIRROR_TIMEOUT',
  at: 'mirror.timeoutMs',
  parse: positiveDuration,
  default: '5s',
  doc: "longest a mirrored request may take, answer included; then it is cut and counted as the shadow's error",
  see: MIRRORING,
});

/**
 * `ORCH_MIRROR_<POOL>`: one pool's mirror. The row's own key is never set (it is the family's pattern): its value is
 * the fallback, which `resolve` replaces with every member of the family.
 */
const MIRROR = {
  ...setting({
    key: 'ORCH_MIRROR_<POOL>',
    at: 'mirror.routes',
    parse: (raw: string): ReadonlyMap<string, MirrorRoute> => new Map([['', parseMirror(raw)]]),
    fallback: new Map<string, MirrorRoute>(),
    resolve: (_unset, ctx) => readMirrors(ctx),
    doc:
      "`<shadow pool>:<percent>`: a copy of that share of pool `<POOL>`'s (lowercased) `/proxy` requests goes to " +
      'the shadow pool, fire and forget, marked `X-ShieldX-Mirror: 1`; the client only ever sees the real answer',
    see: MIRRORING,
  }),
  family: MIRROR_PREFIX,
};

/** The ORCH_MIRROR_<POOL> family: source pool → its mirror; a pool mirrored to itself is an error. */
function readMirrors(ctx: ReadContext): ReadonlyMap<string, MirrorRoute> {
  const routes = new Map<string, MirrorRoute>();
  for (const [key, value] of Object.entries(ctx.env)) {
    if (!key.startsWith(MIRROR_PREFIX) || MIRROR_SETTINGS.has(key) || value === undefined) continue;
    const pool = key.slice(MIRROR_PREFIX.length).toLowerCase();
    if (!SERVICE_PATTERN.test(pool)) {
      ctx.problem(`${key}: pool name '${pool}' must match ${SERVICE_PATTERN.source}`);
      continue;
    }
    try {
      const route = parseMirror(value);
      if (route.to === pool) throw new Error(`pool '${pool}' cannot be its own mirror`);
      routes.set(pool, route);
    } catch (error) {
      ctx.problem(`${key}: ${(error as Error).message}`);
    }
  }
  return routes;
}

/** `/proxy`. */
export const PROXY: Section = {
  title: '`/proxy`',
  lead:
    'Behaviour: [`ANY /proxy/<service>/<rest>`](http-api.md#any-proxyservicerest) and ' +
    '[`/proxy` connection limits](proxy.md).',
  settings: [
    setting({
      key: 'ORCH_PROXY_CONNECT_TIMEOUT',
      at: 'proxy.connectTimeoutMs',
      parse: positiveDuration,
      default: '2s',
      doc: 'time to open a connection to a backend',
    }),
    setting({
      key: 'ORCH_PROXY_TIMEOUT',
      at: 'proxy.headersTimeoutMs',
      parse: positiveDuration,
      default: '15s',
      doc: "time from sending the request to the backend's response headers",
    }),
    setting({
      key: 'ORCH_PROXY_BODY_TIMEOUT',
      at: 'proxy.bodyTimeoutMs',
      parse: positiveDuration,
      default: '30s',
      doc:
        "longest silence between two chunks of a backend's response body; a client that reads nothing of a " +
        'response for this long is cut too',
      see: [{ title: 'Clients that stop reading', href: 'proxy.md#clients-that-stop-reading' }],
    }),
    setting({
      key: 'ORCH_PROXY_MAX_CONNECTIONS',
      at: 'proxy.maxConnections',
      parse: integerIn(1, 100_000),
      default: '128',
      doc:
        'proxied requests in flight to one backend at once, one keep-alive connection each; the pool has one ' +
        'connection more, for health probes',
      see: CONNECTIONS,
    }),
    setting({
      key: 'ORCH_PROXY_QUEUE_TIMEOUT',
      at: 'proxy.queueTimeoutMs',
      parse: positiveDuration,
      default: '5s',
      doc:
        'beyond `ORCH_PROXY_MAX_CONNECTIONS`, requests wait in a FIFO queue for a free connection to the chosen ' +
        'backend; after this long: **503 `upstream_busy`**, `Retry-After: 1` (not a backend failure)',
      see: CONNECTIONS,
    }),
    setting({
      key: 'ORCH_PROXY_CLIENT_SHARE',
      at: 'proxy.clientShare',
      parse: parseShare,
      default: '0.5',
      doc:
        "share in (0, 1] of a backend's connections one client IP may hold or wait for (at least 1); beyond it: " +
        '**429 `upstream_share_exceeded`**, `Retry-After: 1`',
      see: CONNECTIONS,
    }),
    setting({
      key: 'ORCH_PROXY_MAX_TUNNELS',
      at: 'proxy.maxTunnels',
      parse: integerIn(1, 100_000),
      default: '1000',
      doc:
        'WebSocket tunnels open through `/proxy` at once, handshakes included; beyond it: **503 `tunnels_full`**; ' +
        'one client IP may hold `ORCH_PROXY_CLIENT_SHARE` of them (at least 1), beyond: **429 `tunnel_share_exceeded`**',
      see: TUNNELS,
    }),
    setting({
      key: 'ORCH_PROXY_TUNNEL_IDLE_TIMEOUT',
      at: 'proxy.tunnelIdleTimeoutMs',
      parse: positiveDuration,
      default: '5m',
      doc: 'a WebSocket tunnel with no byte either way for this long is closed',
      see: TUNNELS,
    }),
    setting({
      key: 'ORCH_PROXY_RETRIES',
      at: 'proxy.retries',
      parse: integerIn(0, 5),
      default: '1',
      doc: 'retries of a bodiless idempotent request on another backend (0 = off, at most 5)',
    }),
    setting({
      key: 'ORCH_RETRY_BUDGET',
      at: 'proxy.retryBudget',
      parse: numberIn(0, 1),
      default: '0.5',
      doc: 'retries in flight are at most this share of proxied requests in flight (at least 3)',
    }),
    MIRROR,
    setting({
      key: 'ORCH_MIRROR_MAX_BODY',
      at: 'mirror.maxBodyBytes',
      parse: parseByteSize,
      default: '64k',
      doc: 'largest request body copied to a shadow pool; a request with a larger body is not mirrored (counted)',
      see: MIRRORING,
    }),
    MIRROR_MAX_IN_FLIGHT,
    MIRROR_TIMEOUT,
  ],
};
