// The `POST /route` requests the benchmarks send, shaped for runLoad()/runPaced() (`{method, path, headers, body}`).

/** A `POST /route` request with `body` as its JSON body. */
export function postRoute(body) {
  return {
    method: 'POST',
    path: '/route',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  };
}

const SERVICES = ['api', 'search', 'static'];
const TENANTS = ['t1', 't2', 'acme', 'globex'];

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
