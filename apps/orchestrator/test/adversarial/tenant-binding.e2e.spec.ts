import { signAdmission } from '@shieldx/security';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDemoBackend, type RunningDemoBackend } from '../../src/demo/demo-backends';
import { post, startOrchestrator, type RunningOrchestrator } from '../harness';

const PUBLIC = 'https://gw.example.com';

interface Key {
  privateKey: CryptoKey;
  jwk: JWK;
  jkt: string;
}

async function key(): Promise<Key> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const jwk = await exportJWK(publicKey);
  return { privateKey, jwk, jkt: await calculateJwkThumbprint(jwk, 'sha256') };
}

let counter = 0;
function proof(k: Key, htm: string, htu: string): Promise<string> {
  return new SignJWT({ htm, htu, iat: Math.floor(Date.now() / 1000), jti: `tenant-${++counter}-${Date.now()}` })
    .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: k.jwk })
    .sign(k.privateKey);
}

const body = (tenant: string) => ({ service: 'api', tenant, scope: 'read', path: '/v1/x' });

describe('tenants claimed by callers, with a list of known tenants (adversarial)', () => {
  let backend: RunningDemoBackend;
  let orch: RunningOrchestrator;

  beforeAll(async () => {
    backend = await startDemoBackend({ name: 'a', delayMs: 0, jitterMs: 0 });
    orch = await startOrchestrator({
      ORCH_POOL_API: backend.url,
      ORCH_TENANTS: 'acme,globex',
      ORCH_TENANT_BURST: '3',
      ORCH_IP_BURST: '100000',
    });
  });

  afterAll(async () => {
    await orch.close();
    await backend.close();
  });

  it('refuses every tenant not on the list, so new spellings are no fresh buckets', async () => {
    for (let i = 0; i < 3; i++) expect((await post(`${orch.url}/route`, body('acme'))).status).toBe(200);
    expect((await post(`${orch.url}/route`, body('acme'))).status).toBe(429);
    for (const spelling of ['ACME', 'acme.', 'acme-2', 'Acme', 'acme_']) {
      const res = await post(`${orch.url}/route`, body(spelling));
      expect(res.status, spelling).toBe(403);
      expect(res.body).toMatchObject({ error: 'unknown_tenant' });
    }
    const proxied = await fetch(`${orch.url}/proxy/api/v1/x`, { headers: { 'x-tenant': 'acme-3', 'x-scope': 'read' } });
    expect(proxied.status).toBe(403);
    expect((await post(`${orch.url}/route`, body('globex'))).status).toBe(200);
  });
});

describe('tenants bound to the DPoP key (adversarial)', () => {
  let backend: RunningDemoBackend;
  let orch: RunningOrchestrator;
  let acme: Key;
  let stranger: Key;

  beforeAll(async () => {
    acme = await key();
    stranger = await key();
    backend = await startDemoBackend({ name: 'a', delayMs: 0, jitterMs: 0 });
    orch = await startOrchestrator({
      ORCH_POOL_API: backend.url,
      ORCH_PUBLIC_URL: PUBLIC,
      ORCH_TENANT_FROM: 'dpop',
      ORCH_TENANT_BINDINGS: JSON.stringify({ [acme.jkt]: 'acme' }),
      ORCH_TENANT_BURST: '2',
      ORCH_IP_BURST: '100000',
    });
  });

  afterAll(async () => {
    await orch.close();
    await backend.close();
  });

  const route = async (k: Key | undefined, tenant: string) =>
    post(`${orch.url}/route`, body(tenant), k === undefined ? {} : { dpop: await proof(k, 'POST', `${PUBLIC}/route`) });

  it('serves a caller only as the tenant its key is bound to', async () => {
    expect((await route(acme, 'acme')).status).toBe(200);
    const other = await route(acme, 'globex');
    expect(other.status).toBe(403);
    expect(other.body).toMatchObject({ error: 'tenant_mismatch' });
    const unbound = await route(stranger, 'acme');
    expect(unbound.status).toBe(403);
    expect(unbound.body).toMatchObject({ error: 'tenant_unbound' });
    const anonymous = await route(undefined, 'acme');
    expect(anonymous.status).toBe(401);
    expect(anonymous.body).toMatchObject({ error: 'tenant_identity_required' });
    const proxied = await fetch(`${orch.url}/proxy/api/v1/x`, {
      headers: {
        'x-tenant': 'acme',
        'x-scope': 'read',
        dpop: await proof(stranger, 'GET', `${PUBLIC}/proxy/api/v1/x`),
      },
    });
    expect(proxied.status).toBe(403);
  });

  it('keeps the per-tenant limit binding: the bound key cannot escape its bucket', async () => {
    // One token of two is left from the test above.
    expect((await route(acme, 'acme')).status).toBe(200);
    expect((await route(acme, 'acme')).status).toBe(429);
    for (const spelling of ['acme2', 'ACME', 'fresh']) expect((await route(acme, spelling)).status).toBe(403);
  });
});

describe('tenants bound to the admission key (adversarial)', () => {
  const ACME_SECRET = 'acme-admission-secret-0123456789';
  const GLOBEX_SECRET = 'globex-admission-secret-0123456789';
  let backend: RunningDemoBackend;
  let orch: RunningOrchestrator;

  beforeAll(async () => {
    backend = await startDemoBackend({ name: 'a', delayMs: 0, jitterMs: 0 });
    orch = await startOrchestrator({
      ORCH_POOL_API: backend.url,
      ADMISSION_SECRET: `${ACME_SECRET},${GLOBEX_SECRET}`,
      ORCH_ADMISSION_KEY_IDS: 'acme-key,globex-key',
      ORCH_TENANT_FROM: 'admission',
      ORCH_TENANT_BINDINGS: 'acme-key=acme,globex-key=globex',
      ORCH_IP_BURST: '100000',
    });
  });

  afterAll(async () => {
    await orch.close();
    await backend.close();
  });

  const route = (secret: string, tenant: string) =>
    post(`${orch.url}/route`, body(tenant), {
      'x-shieldx-admission': signAdmission({ secret, method: 'POST', pathWithQuery: '/route' }),
    });

  it('serves each key holder only as its own tenant', async () => {
    expect((await route(ACME_SECRET, 'acme')).status).toBe(200);
    expect((await route(GLOBEX_SECRET, 'globex')).status).toBe(200);
    const crossed = await route(ACME_SECRET, 'globex');
    expect(crossed.status).toBe(403);
    expect(crossed.body).toMatchObject({ error: 'tenant_mismatch' });
    expect((await route(GLOBEX_SECRET, 'acme')).status).toBe(403);
  });
});
