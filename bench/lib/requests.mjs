// The `POST /route` requests the benchmarks send, shaped for runLoad()/runPaced() (`{method, path, headers, body}`),
// and the inputs they give the policy engines directly.

/** A `POST /route` request with `body` as its JSON body. */
export function postRoute(body) {
  return {
    method: 'POST',
    path: '/route',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  };
}

/**
 * The `GET /proxy/api/…` requests of bench:proxy: through the `api` pool, rotating over tenants, scopes and paths
 * (12 variants, one with a query).
 */
export function proxyRequests() {
  const scopes = ['read', 'write'];
  const paths = ['/v1/items', '/v1/items/42', '/v1/orders?page=2'];
  return Array.from({ length: 12 }, (_, i) => ({
    method: 'GET',
    path: `/proxy/api${paths[i % 3]}`,
    headers: { 'x-tenant': TENANTS[i % 4], 'x-scope': scopes[(i >> 2) % 2] },
  }));
}

const SERVICES = ['api', 'search', 'static'];
const TENANTS = ['t1', 't2', 'acme', 'globex'];

/**
 * The pools the `/route` requests below name, from 7 backend URLs: `api` the first 3, `search` the next 2, `static`
 * the last 2.
 * @param {readonly string[]} urls
 */
export function routePools(urls) {
  return { api: urls.slice(0, 3), search: urls.slice(3, 5), static: urls.slice(5, 7) };
}

/**
 * The 12 bodies of the `route` benchmark: 3 services × 4 tenants × 2 scopes, 2 paths per service, so that no key is
 * hot.
 */
export function routeBodies() {
  const scopes = ['read', 'write'];
  const paths = {
    api: ['/v1/items', '/v1/items/42'],
    search: ['/q', '/suggest'],
    static: ['/assets/app.js', '/index.html'],
  };
  const bodies = [];
  for (let i = 0; i < 12; i++) {
    const service = SERVICES[i % 3];
    bodies.push({ service, tenant: TENANTS[i % 4], scope: scopes[(i >> 2) % 2], path: paths[service][(i >> 1) % 2] });
  }
  return bodies;
}

/** 12 requests rotating over the 3 services, 4 tenants and 2 scopes, each with a path of its own (`/v1/r<i>`). */
export function numberedRouteRequests() {
  return Array.from({ length: 12 }, (_, i) =>
    postRoute({ service: SERVICES[i % 3], tenant: TENANTS[i % 4], scope: i % 2 ? 'write' : 'read', path: `/v1/r${i}` }),
  );
}

const POLICY_SCOPES = ['read', 'write', 'admin'];
const POLICY_PATHS = ['/v1/items', '/v1/items/42', '/q', '/assets/app.js', '/internal/metrics', '/index.html'];
const AGENTS = ['curl/8.5.0', 'Mozilla/5.0', 'okhttp/4.12.0'];

/**
 * Policy input number `i` (what `decide` of the policy engines takes): a spread of services, tenants (a quarantined
 * one now and then), scopes, paths, addresses, SPIFFE identities and DPoP thumbprints.
 */
export function policyInput(i) {
  return {
    service: SERVICES[i % 3],
    tenant: i % 97 === 0 ? 'quarantine' : `tenant-${i % 61}`,
    scope: i % 20 === 7 ? 'scanner' : POLICY_SCOPES[(i >> 1) % 3],
    path: `${POLICY_PATHS[i % 6]}${i % 7 === 0 ? `/${i}` : ''}`,
    method: i % 4 === 0 ? 'POST' : 'GET',
    ip: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
    identity: { uris: i % 3 === 0 ? [`spiffe://example.org/sa/svc-${i % 11}`] : [], dns: [] },
    dpop: { jkt: i % 5 === 0 ? `jkt-${i % 13}` : null },
    poolHealth: i % 10 === 0 ? 0.5 : 1,
    headers: { 'user-agent': AGENTS[i % 3] },
  };
}
