/** Settings of the listener, its TLS material and how clients are identified. */
import { SanAllowlist, TrustedProxies } from '@shieldx/security';
import { checkedList, integerIn, parseFlag, positiveDuration, trimmed } from '../parse';
import { documented, setting, type ReadContext, type Section } from '../setting';

const TLS_SEE = [{ title: 'Production TLS', href: 'tls.md' }];

/** The YAML/JSON file of settings, read before every other setting. */
export const CONFIG_FILE = documented({
  key: 'ORCH_CONFIG',
  doc:
    'a YAML or JSON file holding a mapping of these same settings (lists and maps may be written natively); the ' +
    'environment wins over the file',
});

/** Plain HTTP allowed for development; the listener is insecure only while no TLS file is set. */
export const ALLOW_INSECURE = setting({
  key: 'ORCH_ALLOW_INSECURE',
  at: 'listen.insecure',
  parse: parseFlag,
  fallback: false,
  resolve: (insecure, ctx) => insecure && tlsFileCount(ctx) === 0,
  doc:
    '`1` = plain HTTP allowed (development). Without it and without TLS files, start-up fails saying what to set; ' +
    'with the TLS files set, it is ignored (a warning says so)',
});

/** Server certificate file (PEM). */
export const TLS_CERT_FILE = setting({
  key: 'ORCH_TLS_CERT_FILE',
  at: 'tls.certFile',
  parse: trimmed,
  fallback: undefined,
  doc:
    'PEM certificate (+ intermediates). With `ORCH_TLS_KEY_FILE` and `ORCH_TLS_CLIENT_CA_FILE` (all three or none): ' +
    'HTTPS, TLS 1.3 only, client certificate required; the files are reloaded on change',
  see: TLS_SEE,
});

/** Server key file (PEM). */
export const TLS_KEY_FILE = setting({
  key: 'ORCH_TLS_KEY_FILE',
  at: 'tls.keyFile',
  parse: trimmed,
  fallback: undefined,
  doc: 'PEM private key of `ORCH_TLS_CERT_FILE`',
  see: TLS_SEE,
});

/** CA file that client certificates must chain to (PEM). */
export const TLS_CLIENT_CA_FILE = setting({
  key: 'ORCH_TLS_CLIENT_CA_FILE',
  at: 'tls.clientCaFile',
  parse: trimmed,
  fallback: undefined,
  doc: 'PEM CA(s) that client certificates must chain to',
  see: TLS_SEE,
});

/** How many of the three TLS files are set (0 = plain HTTP, 3 = TLS, else a problem). */
export function tlsFileCount(ctx: ReadContext): number {
  return [TLS_CERT_FILE, TLS_KEY_FILE, TLS_CLIENT_CA_FILE].filter((file) => ctx.get(file) !== undefined).length;
}

/** Parses a SAN allowlist, refusing entries the matcher would not accept (wildcards, …). */
export const parseSanList = checkedList((list) => new SanAllowlist(list));

/** Listener address; loopback by default in insecure mode. */
export const HOST = setting({
  key: 'ORCH_HOST',
  at: 'listen.host',
  parse: trimmed,
  fallback: (ctx) => (ctx.get(ALLOW_INSECURE) && tlsFileCount(ctx) === 0 ? '127.0.0.1' : '0.0.0.0'),
  shownDefault: '`0.0.0.0` (`127.0.0.1` when insecure)',
  doc: 'address the listener binds',
});

/** The ops listener's address; the main listener's by default. */
const OPS_HOST = setting({
  key: 'ORCH_OPS_HOST',
  at: 'ops.host',
  parse: trimmed,
  fallback: (ctx) => ctx.get(HOST),
  shownDefault: '`ORCH_HOST`',
  doc: 'address of the ops listener',
  see: [{ title: 'Ops listener', href: 'deployment.md#ops-listener' }],
});

/** Listener, TLS and client identity. */
export const LISTENER: Section = {
  title: 'Listener, TLS and client identity',
  lead: 'Behaviour: [Production TLS](tls.md), [caller identity](caller-identity.md), [HTTP API](http-api.md).',
  settings: [
    CONFIG_FILE,
    setting({ key: 'ORCH_PORT', at: 'listen.port', parse: integerIn(0, 65535), default: '8080', doc: 'listener port' }),
    HOST,
    ALLOW_INSECURE,
    TLS_CERT_FILE,
    TLS_KEY_FILE,
    TLS_CLIENT_CA_FILE,
    setting({
      key: 'ORCH_ALLOWED_CLIENT_SAN_PREFIXES',
      at: 'tls.allowedSanPrefixes',
      parse: parseSanList,
      fallback: () => [],
      shownDefault: 'unset (any certificate of the client CA)',
      doc:
        'comma list: a client passes when a URI/DNS SAN equals an entry or starts with an entry ending in `/` ' +
        '(`…/sa/ingress` does not admit `…/sa/ingress-evil`); else 403. URI entries match only URI SANs and DNS ' +
        'entries only DNS SANs. Without TLS it has no effect (a warning says so)',
      see: [{ title: 'caller-identity.md', href: 'caller-identity.md' }],
    }),
    setting({
      key: 'ORCH_TRUSTED_PROXIES',
      at: 'rateLimit.trustedProxies',
      parse: checkedList((list) => new TrustedProxies(list)),
      fallback: () => [],
      doc: 'CIDRs whose `X-Forwarded-For` is believed (right-most untrusted hop); otherwise the socket address is the client IP',
    }),
    setting({
      key: 'ORCH_MAX_ROUTE_BYTES',
      at: 'route.maxBytes',
      parse: integerIn(256, 10 * 1024 * 1024),
      default: '16384',
      doc: 'body limit for `/route` (over it: 413)',
    }),
    setting({
      key: 'ORCH_SHUTDOWN_GRACE',
      at: 'proxy.shutdownGraceMs',
      parse: positiveDuration,
      default: '10s',
      doc: 'how long in-flight requests may finish on shutdown',
    }),
    setting({
      key: 'ORCH_OPS_PORT',
      at: 'ops.port',
      parse: integerIn(0, 65535),
      fallback: undefined,
      shownDefault: 'unset (off)',
      doc: 'a second, plain-HTTP listener that answers only `GET /healthz`, `GET /readyz` and `GET /metrics`',
      see: [{ title: 'Ops listener', href: 'deployment.md#ops-listener' }],
    }),
    OPS_HOST,
  ],
};
