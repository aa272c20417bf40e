/** Settings of the `/proxy` data plane: timeouts, connections per backend, retries. */
import { integerIn, numberIn, parseShare, positiveDuration } from '../parse';
import { setting, type Section } from '../setting';

const CONNECTIONS = [{ title: "A backend's connections", href: 'proxy.md#a-backends-connections' }];
const TUNNELS = [{ title: 'WebSocket', href: 'proxy.md#websocket' }];

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
  ],
};
