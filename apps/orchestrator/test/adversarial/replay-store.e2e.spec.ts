import { request } from 'node:http';
import { MemoryReplayStore, signAdmission } from '@shieldx/security';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ReplayBackend } from '../../src/auth/replay-backend';
import { startDemoBackend, type RunningDemoBackend } from '../../src/demo/demo-backends';
import { jsonAnswer, type JsonAnswer } from '../json-client';
import { startOrchestrator, type RunningOrchestrator } from '../harness';

/**
 * The in-process replay store cannot be filled by one client: each client IP may hold ORCH_REPLAY_CLIENT_SHARE of
 * ORCH_REPLAY_MAX_KEYS live nonces and jtis; a client over its share is refused (429 replay_quota_exceeded) while
 * every other client still gets in. Clients are distinct loopback addresses (127.0.0.2, 127.0.0.3).
 */

const SECRET = 'replay-store-e2e-secret-01';
const PUBLIC = 'https://gw.example.com';
const BODY = JSON.stringify({ service: 'api', tenant: 'acme', scope: 'read', path: '/v1/items' });
/** 1000 keys, 1 % each: a client holds at most 10 live proofs. */
const MAX_KEYS = 1000;
const SHARE = 0.01;

/** POST /route from the loopback address `from`. */
function send(url: string, from: string, headers: Record<string, string>): Promise<JsonAnswer> {
  const { hostname, port } = new URL(url);
  const req = request({
    host: hostname,
    port,
    method: 'POST',
    path: '/route',
    localAddress: from,
    agent: false,
    headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(BODY), ...headers },
  });
  return jsonAnswer(req, BODY);
}

describe('the in-process replay store under a flood from one client', () => {
  let backend: RunningDemoBackend;
  let orch: RunningOrchestrator;
  let store: MemoryReplayStore;
  let privateKey: CryptoKey;
  let jwk: JWK;
  let counter = 0;

  /** The store bounded as above, proofs named for PUBLIC; 127.0.0.9 stands for a proxy in front of IPv6 clients. */
  const storeEnv = (): Record<string, string> => ({
    ORCH_POOL_API: backend.url,
    ADMISSION_SECRET: SECRET,
    ORCH_PUBLIC_URL: PUBLIC,
    ORCH_REPLAY_MAX_KEYS: String(MAX_KEYS),
    ORCH_REPLAY_CLIENT_SHARE: String(SHARE),
    ORCH_IP_BURST: '100000',
    ORCH_TRUSTED_PROXIES: '127.0.0.9/32',
  });

  const admission = () =>
    signAdmission({ secret: SECRET, method: 'POST', pathWithQuery: '/route', nonce: `nonce-${++counter}-0123456789` });
  const proof = () =>
    new SignJWT({ htm: 'POST', htu: `${PUBLIC}/route`, iat: Math.floor(Date.now() / 1000), jti: `jti-${++counter}` })
      .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk })
      .sign(privateKey);

  beforeAll(async () => {
    const pair = await generateKeyPair('ES256', { extractable: true });
    privateKey = pair.privateKey;
    jwk = await exportJWK(pair.publicKey);
    backend = await startDemoBackend({ name: 'a', delayMs: 0, jitterMs: 0 });
    orch = await startOrchestrator(storeEnv());
    store = orch.app.get(ReplayBackend).store as MemoryReplayStore;
  });

  afterAll(async () => {
    await orch?.close();
    await backend?.close();
  });

  it('bounds the store as configured', () => {
    expect(store).toBeInstanceOf(MemoryReplayStore);
    expect([store.maxKeys, store.clientMax]).toEqual([MAX_KEYS, MAX_KEYS * SHARE]);
  });

  it('refuses the flooding client once it holds its share, and still admits another client', async () => {
    const flooder = '127.0.0.2';
    const statuses: number[] = [];
    for (let i = 0; i < 15; i++)
      statuses.push((await send(orch.url, flooder, { 'x-shieldx-admission': admission() })).status);
    expect(statuses).toEqual([...Array<number>(10).fill(200), ...Array<number>(5).fill(429)]);
    expect(store.heldBy(flooder)).toBe(10);

    const refused = await send(orch.url, flooder, { 'x-shieldx-admission': admission() });
    expect(refused.status).toBe(429);
    expect(refused.body).toMatchObject({
      error: 'replay_quota_exceeded',
      correlationId: refused.headers['x-correlation-id'],
    });
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    expect(Number(refused.headers['retry-after'])).toBeLessThanOrEqual(122);

    // Another client is untouched by the flood.
    const other = await send(orch.url, '127.0.0.3', { 'x-shieldx-admission': admission() });
    expect(other.status).toBe(200);
    expect(store.heldBy('127.0.0.3')).toBe(1);
  });

  it('answers a replay as a replay, from any client, even one over its share', async () => {
    const flooder = '127.0.0.2';
    const used = admission();
    expect((await send(orch.url, '127.0.0.4', { 'x-shieldx-admission': used })).status).toBe(200);
    // Replaying a nonce is a replay, from any client, even one over its share.
    for (const from of ['127.0.0.4', flooder]) {
      const replay = await send(orch.url, from, { 'x-shieldx-admission': used });
      expect([replay.status, replay.body['error']], from).toEqual([401, 'admission_replayed']);
    }

    const p = await proof();
    expect((await send(orch.url, '127.0.0.5', { 'x-shieldx-admission': admission(), dpop: p })).status).toBe(200);
    const replayed = await send(orch.url, '127.0.0.6', { 'x-shieldx-admission': admission(), dpop: p });
    expect([replayed.status, replayed.body['error']]).toEqual([401, 'dpop_replayed']);
  });

  it('refuses a flood of DPoP proofs (without admission) the same way, per client', async () => {
    const withoutAdmission = storeEnv();
    delete withoutAdmission['ADMISSION_SECRET'];
    const dpopOnly = await startOrchestrator(withoutAdmission);
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 12; i++)
        statuses.push((await send(dpopOnly.url, '127.0.0.7', { dpop: await proof() })).status);
      expect(statuses).toEqual([...Array<number>(10).fill(200), 429, 429]);
      const refused = await send(dpopOnly.url, '127.0.0.7', { dpop: await proof() });
      expect(refused.body['error']).toBe('replay_quota_exceeded');
      expect(refused.headers['www-authenticate']).toBeUndefined();
      expect((await send(dpopOnly.url, '127.0.0.8', { dpop: await proof() })).status).toBe(200);
      // Requests without a proof are not touched by the store at all.
      expect((await send(dpopOnly.url, '127.0.0.7', {})).status).toBe(200);
    } finally {
      await dpopOnly.close();
    }
  });

  it('charges an IPv6 client by its /64, whatever the spelling of its address', async () => {
    const via = (ip: string) =>
      send(orch.url, '127.0.0.9', { 'x-shieldx-admission': admission(), 'x-forwarded-for': ip });
    // 2001:0:0:1::/64, in spellings that compress different runs of zeros.
    const first = ['2001::1:2:3:4:5', '2001:0:0:1:ffff::1', '2001:0000:0000:0001::9'];
    const statuses: number[] = [];
    for (let i = 0; i < 11; i++) statuses.push((await via(first[i % first.length])).status);
    expect(statuses).toEqual([...Array<number>(10).fill(200), 429]);
    expect(store.heldBy('2001:0:0:1::/64')).toBe(10);
    // The next /64 (2001:0:0:2::/64), written the way Node writes a peer's address, is another client.
    expect((await via('2001::2:2:3:4:5')).status).toBe(200);
    expect(store.heldBy('2001:0:0:2::/64')).toBe(1);
  });

  it('never charges finer than a /64, even when the per-IP bucket counts single addresses', async () => {
    const perAddress = await startOrchestrator({ ...storeEnv(), ORCH_IPV6_CLIENT_PREFIX: '128' });
    try {
      const statuses: number[] = [];
      // Eleven addresses of one /64: one host's, however many it uses.
      for (let i = 1; i <= 11; i++) {
        const from = `2001:db8:77:1::${i.toString(16)}`;
        const answer = await send(perAddress.url, '127.0.0.9', {
          'x-shieldx-admission': admission(),
          'x-forwarded-for': from,
        });
        statuses.push(answer.status);
      }
      expect(statuses).toEqual([...Array<number>(10).fill(200), 429]);
    } finally {
      await perAddress.close();
    }
  });

  it('counts the refusals', async () => {
    const text = await (await fetch(`${orch.url}/metrics`)).text();
    expect(text).toMatch(/orchestrator_auth_failed_total\{scheme="admission",code="replay_quota_exceeded"\} [1-9]/);
  });
});
