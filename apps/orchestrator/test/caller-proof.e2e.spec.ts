import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { accessTokenHash, signAdmission } from '@shieldx/security';
import { Redis } from 'ioredis';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startDemoBackend, type RunningDemoBackend } from '../src/demo/demo-backends';
import { SecurityEvents, type SecurityEvent } from '../src/events/security-events';
import { REDIS_CLIENT } from '../src/redis/redis.constants';
import { startOrchestrator, type RunningOrchestrator } from './harness';
import { startRedis, type RunningRedis } from './redis-harness';

const ROOT = join(__dirname, '../../..');
const SECRET = 'e2e-admission-secret-0001';
const NEXT_SECRET = 'e2e-admission-secret-0002';
const BODY = { service: 'api', tenant: 'acme', scope: 'read', path: '/v1/items' };
/** The origin clients address (ORCH_PUBLIC_URL): the base of every proof's htu. */
const PUBLIC = 'https://gw.example.com';

interface Answer {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

/** Sends one request (JSON body for POST) and parses the JSON answer. */
async function send(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: unknown } = {},
): Promise<Answer> {
  const method = options.method ?? 'POST';
  const response = await fetch(url, {
    method,
    headers: { ...(method === 'POST' ? { 'content-type': 'application/json' } : {}), ...options.headers },
    body: method === 'POST' ? JSON.stringify(options.body ?? BODY) : undefined,
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: JSON.parse(text) as Record<string, unknown> };
}

/** A fresh valid admission header for one request. */
const admission = (method: string, path: string, secret = SECRET, time?: number) =>
  signAdmission({ secret, method, pathWithQuery: path, timestamp: time });

interface Signer {
  alg: string;
  privateKey: CryptoKey;
  jwk: JWK;
  jkt: string;
}

async function signer(alg: 'ES256' | 'EdDSA' | 'RS256' | 'PS256'): Promise<Signer> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = await exportJWK(publicKey);
  return { alg, privateKey, jwk, jkt: await calculateJwkThumbprint(jwk, 'sha256') };
}

let jtiCounter = 0;

/** A real DPoP proof signed with jose. */
function proof(
  s: Signer,
  htm: string,
  htu: string,
  extra: { claims?: Record<string, unknown>; header?: Record<string, unknown> } = {},
): Promise<string> {
  return new SignJWT({
    htm,
    htu,
    iat: Math.floor(Date.now() / 1000),
    jti: `e2e-${++jtiCounter}-${Math.random().toString(36).slice(2)}`,
    ...extra.claims,
  })
    .setProtectedHeader({ alg: s.alg, typ: 'dpop+jwt', jwk: s.jwk, ...extra.header })
    .sign(s.privateKey);
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

async function metrics(orch: RunningOrchestrator): Promise<string> {
  return (await fetch(`${orch.url}/metrics`)).text();
}

/** Captures the security events an instance emits (a spy on the real port; the sinks still get them). */
function captureEvents(orch: RunningOrchestrator): SecurityEvent[] {
  const events = orch.app.get(SecurityEvents);
  const seen: SecurityEvent[] = [];
  const emit = events.emit.bind(events);
  vi.spyOn(events, 'emit').mockImplementation((event: SecurityEvent) => {
    seen.push(event);
    emit(event);
  });
  return seen;
}

/**
 * A compiled OPA policy (real opa, through the project's CLI) that denies tenant `echo` with a reason naming the
 * `input.dpop.jkt` it was given, and allows everything else: the 403 message shows what reached the policy.
 */
function compileEchoPolicy(): string {
  const dir = mkdtempSync(join(tmpdir(), 'shieldx-e2e-dpop-'));
  const src = join(dir, 'src');
  mkdirSync(src);
  writeFileSync(
    join(src, 'policy.rego'),
    [
      'package shieldx.routing',
      '',
      'import rego.v1',
      '',
      'default decision := "allow"',
      '',
      'decision := {"action": "deny", "reason": concat("", ["jkt=", jkt])} if input.tenant == "echo"',
      '',
      'jkt := input.dpop.jkt if is_string(input.dpop.jkt)',
      '',
      'jkt := "null" if input.dpop.jkt == null',
      '',
    ].join('\n'),
  );
  const out = join(dir, 'policy.tar.gz');
  const result = spawnSync(
    process.execPath,
    [join(ROOT, 'packages/cli/shieldx.mjs'), 'policy', 'build', src, '--out', out],
    { encoding: 'utf8' },
  );
  if (result.status !== 0) throw new Error(`policy build failed: ${result.stderr}`);
  return out;
}

describe('admission header (X-ShieldX-Admission)', () => {
  let backend: RunningDemoBackend;
  let orch: RunningOrchestrator;
  let events: SecurityEvent[];

  beforeAll(async () => {
    backend = await startDemoBackend({ name: 'a', delayMs: 0, jitterMs: 0 });
    orch = await startOrchestrator({
      ORCH_POOL_API: backend.url,
      ADMISSION_SECRET: `${SECRET},${NEXT_SECRET}`,
      ORCH_IP_BURST: '100000',
    });
    events = captureEvents(orch);
  });

  afterAll(async () => {
    await orch?.close();
    await backend?.close();
  });

  it('admits a request with a valid header, and refuses the same header again (replay)', async () => {
    const header = admission('POST', '/route');
    const first = await send(`${orch.url}/route`, { headers: { 'x-shieldx-admission': header } });
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ pool: 'api', policy: 'allow' });
    const again = await send(`${orch.url}/route`, { headers: { 'x-shieldx-admission': header } });
    expect(again.status).toBe(401);
    expect(again.body).toEqual({
      error: 'admission_replayed',
      message: 'this admission nonce was already used',
      correlationId: again.headers.get('x-correlation-id'),
    });
    expect(again.headers.get('www-authenticate')).toBe('ShieldX-Admission error="admission_replayed"');
  });

  it('refuses a missing, expired, tampered or mis-bound header with a precise code', async () => {
    const route = `${orch.url}/route`;
    const missing = await send(route);
    expect([missing.status, missing.body.error]).toEqual([401, 'admission_missing']);
    const expired = await send(route, {
      headers: { 'x-shieldx-admission': admission('POST', '/route', SECRET, Math.floor(Date.now() / 1000) - 120) },
    });
    expect([expired.status, expired.body.error]).toEqual([401, 'admission_expired']);
    const valid = admission('POST', '/route');
    const tampered = valid.slice(0, -1) + (valid.endsWith('0') ? '1' : '0');
    const bad = await send(route, { headers: { 'x-shieldx-admission': tampered } });
    expect([bad.status, bad.body.error]).toEqual([401, 'admission_invalid']);
    // Signed for /route, sent to /route?x=1: the query is part of what is signed.
    const query = await send(`${route}?x=1`, { headers: { 'x-shieldx-admission': admission('POST', '/route') } });
    expect([query.status, query.body.error]).toEqual([401, 'admission_invalid']);
    const malformed = await send(route, { headers: { 'x-shieldx-admission': 't=1,n=abc,v1=00' } });
    expect([malformed.status, malformed.body.error]).toEqual([401, 'admission_malformed']);
  });

  it('accepts every configured secret (rotation) and a query that was signed', async () => {
    const rotated = await send(`${orch.url}/route`, {
      headers: { 'x-shieldx-admission': admission('POST', '/route', NEXT_SECRET) },
    });
    expect(rotated.status).toBe(200);
    const withQuery = await send(`${orch.url}/route?trace=1`, {
      headers: { 'x-shieldx-admission': admission('POST', '/route?trace=1') },
    });
    expect(withQuery.status).toBe(200);
  });

  it('guards every endpoint except /healthz, /readyz and /metrics', async () => {
    for (const path of ['/healthz', '/readyz', '/metrics']) {
      expect((await fetch(`${orch.url}${path}`)).status, path).toBe(200);
    }
    for (const path of ['/health', '/policy', '/no-such-endpoint']) {
      const answer = await send(`${orch.url}${path}`, { method: 'GET' });
      expect([answer.status, answer.body.error], path).toEqual([401, 'admission_missing']);
    }
    const health = await send(`${orch.url}/health`, {
      method: 'GET',
      headers: { 'x-shieldx-admission': admission('GET', '/health') },
    });
    expect(health.status).toBe(200);
  });

  it('guards /proxy and does not forward the admission header', async () => {
    const path = '/proxy/api/v1/items?id=7';
    const refused = await send(`${orch.url}${path}`, { method: 'GET', headers: { 'x-tenant': 'acme' } });
    expect([refused.status, refused.body.error]).toEqual([401, 'admission_missing']);
    const ok = await send(`${orch.url}${path}`, {
      method: 'GET',
      headers: { 'x-tenant': 'acme', 'x-scope': 'read', 'x-shieldx-admission': admission('GET', path) },
    });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ backend: 'a', path: '/v1/items' });
  });

  it('works with what `shieldx admission sign` prints', () => {
    const run = (args: string[]) =>
      spawnSync(process.execPath, [join(ROOT, 'packages/cli/shieldx.mjs'), 'admission', 'sign', ...args], {
        encoding: 'utf8',
        env: { ...process.env, ADMISSION_SECRET: `${SECRET},${NEXT_SECRET}` },
      });
    const printed = run(['--method', 'POST', '--path', '/route']);
    expect(printed.status).toBe(0);
    const value = printed.stdout.trim();
    expect(value).toMatch(/^t=\d+,n=[A-Za-z0-9_-]{22},v1=[0-9a-f]{64}$/);
    const curl = run(['--method', 'POST', '--path', '/route', '--curl']);
    expect(curl.stdout).toMatch(/^-H 'X-ShieldX-Admission: t=\d+,n=.+,v1=[0-9a-f]{64}'\n$/);
    expect(run(['--method', 'POST']).status).toBe(2);
    return send(`${orch.url}/route`, { headers: { 'x-shieldx-admission': value } }).then((answer) => {
      expect(answer.status).toBe(200);
    });
  });

  it('counts refusals, reports them as security events, and never logs the header', async () => {
    const text = await metrics(orch);
    expect(text).toMatch(/orchestrator_auth_failed_total\{scheme="admission",code="admission_replayed"\} [1-9]/);
    expect(text).toMatch(/orchestrator_auth_failed_total\{scheme="admission",code="admission_missing"\} [1-9]/);
    const failed = events.filter((e) => e.type === 'auth.failed');
    expect(failed.map((e) => (e.data as { code?: string }).code)).toEqual(
      expect.arrayContaining(['admission_replayed', 'admission_missing', 'admission_expired', 'admission_invalid']),
    );
    expect(failed[0].data).toMatchObject({ mechanism: 'admission', ip: '127.0.0.1', method: expect.any(String) });
    const everything = JSON.stringify(orch.logs) + JSON.stringify(events);
    expect(everything).not.toContain(SECRET);
    expect(everything).not.toMatch(/v1=[0-9a-f]{64}/);
  });

  it('folds repeated refusals of one client into one event per 10 s', async () => {
    const before = events.filter((e) => (e.data as { code?: string }).code === 'admission_malformed').length;
    for (let i = 0; i < 5; i++) {
      const refused = await send(`${orch.url}/route`, { headers: { 'x-shieldx-admission': 'nonsense' } });
      expect(refused.body.error).toBe('admission_malformed');
    }
    // One event stands for the five (a window opened earlier in this suite may already hold them): at least one
    // exists, and the five added at most one.
    const after = events.filter((e) => (e.data as { code?: string }).code === 'admission_malformed').length;
    expect(after).toBeGreaterThanOrEqual(1);
    expect(after - before).toBeLessThanOrEqual(1);
  });

  it('reads the header named by ADMISSION_HEADER', async () => {
    const custom = await startOrchestrator({
      ORCH_POOL_API: backend.url,
      ADMISSION_SECRET: SECRET,
      ADMISSION_HEADER: 'X-Gate-Proof',
    });
    try {
      const named = await send(`${custom.url}/route`, { headers: { 'x-gate-proof': admission('POST', '/route') } });
      expect(named.status).toBe(200);
      const other = await send(`${custom.url}/route`, {
        headers: { 'x-shieldx-admission': admission('POST', '/route') },
      });
      expect([other.status, other.body.error]).toEqual([401, 'admission_missing']);
    } finally {
      await custom.close();
    }
  });
});

describe('DPoP proofs (RFC 9449)', () => {
  let backend: RunningDemoBackend;
  let orch: RunningOrchestrator;
  let es: Signer;
  let ed: Signer;
  let events: SecurityEvent[];

  beforeAll(async () => {
    [es, ed] = await Promise.all([signer('ES256'), signer('EdDSA')]);
    backend = await startDemoBackend({ name: 'a', delayMs: 0, jitterMs: 0 });
    orch = await startOrchestrator({
      ORCH_POOL_API: backend.url,
      ORCH_OPA_POLICY_PATH: compileEchoPolicy(),
      ORCH_OPA_ENFORCE: '1',
      ORCH_IP_BURST: '100000',
      ORCH_PUBLIC_URL: PUBLIC,
    });
    events = captureEvents(orch);
  });

  afterAll(async () => {
    await orch?.close();
    await backend?.close();
  });

  /** Where requests are sent (the listener), and the URL their proofs name (under ORCH_PUBLIC_URL). */
  const route = () => `${orch.url}/route`;
  const htu = `${PUBLIC}/route`;

  it('admits valid ES256 and EdDSA proofs; a proof is optional by default', async () => {
    for (const s of [es, ed]) {
      const answer = await send(route(), { headers: { dpop: await proof(s, 'POST', htu) } });
      expect(answer.status, s.alg).toBe(200);
    }
    expect((await send(route())).status).toBe(200);
  });

  it("gives the proof key's thumbprint (jkt) to the policy, for /route and /proxy", async () => {
    const echo = { ...BODY, tenant: 'echo' };
    const withProof = await send(route(), { body: echo, headers: { dpop: await proof(es, 'POST', htu) } });
    expect(withProof.status).toBe(403);
    expect(withProof.body.message).toBe(`denied by policy: jkt=${es.jkt}`);
    const without = await send(route(), { body: echo });
    expect(without.body.message).toBe('denied by policy: jkt=null');

    const proxied = `${orch.url}/proxy/api/v1/items`;
    const proxiedHtu = `${PUBLIC}/proxy/api/v1/items`;
    const viaProxy = await send(proxied, {
      method: 'GET',
      headers: { 'x-tenant': 'echo', 'x-scope': 'read', dpop: await proof(ed, 'GET', proxiedHtu) },
    });
    expect(viaProxy.status).toBe(403);
    expect(viaProxy.body.message).toBe(`denied by policy: jkt=${ed.jkt}`);
    const allowed = await send(proxied, {
      method: 'GET',
      headers: { 'x-tenant': 'acme', 'x-scope': 'read', dpop: await proof(ed, 'GET', proxiedHtu) },
    });
    expect(allowed.status).toBe(200);
  });

  it('refuses a replayed proof (same jti) with invalid_dpop_proof', async () => {
    const p = await proof(es, 'POST', htu);
    expect((await send(route(), { headers: { dpop: p } })).status).toBe(200);
    const again = await send(route(), { headers: { dpop: p } });
    expect([again.status, again.body.error]).toEqual([401, 'dpop_replayed']);
    expect(again.headers.get('www-authenticate')).toMatch(
      /^DPoP error="invalid_dpop_proof", error_description="[^"]+", algs="ES256 EdDSA PS256 RS256"$/,
    );
  });

  it('refuses wrong htm, wrong htu, an expired iat, alg none, HS256, a private key in the header, a bad signature', async () => {
    const now = Math.floor(Date.now() / 1000);
    const secret = new TextEncoder().encode('a-shared-secret-of-32-bytes-long');
    // A symmetric key in the header (jose's types forbid it, which is the point of the test).
    const octJwk: Record<string, unknown> = { kty: 'oct', k: Buffer.from(secret).toString('base64url') };
    const hs256 = await new SignJWT({ htm: 'POST', htu, iat: now, jti: 'e2e-hs256' })
      .setProtectedHeader({ alg: 'HS256', typ: 'dpop+jwt', jwk: octJwk })
      .sign(secret);
    const none = `${b64({ alg: 'none', typ: 'dpop+jwt', jwk: es.jwk })}.${b64({ htm: 'POST', htu, iat: now, jti: 'e2e-none' })}.AAAA`;
    const valid = await proof(es, 'POST', htu);
    const [h, body, sig] = valid.split('.');
    const cases: [string, string][] = [
      ['wrong htm', await proof(es, 'GET', htu)],
      ['wrong htu', await proof(es, 'POST', `${PUBLIC}/proxy/api/x`)],
      ['other host', await proof(es, 'POST', 'https://other.example.com/route')],
      ['the listener instead of the public URL', await proof(es, 'POST', route())],
      ['expired iat', await proof(es, 'POST', htu, { claims: { iat: now - 300 } })],
      ['future iat', await proof(es, 'POST', htu, { claims: { iat: now + 300 } })],
      ['alg none', none],
      ['HS256', hs256],
      ['private key in header', await proof(es, 'POST', htu, { header: { jwk: await exportJWK(es.privateKey) } })],
      ['tampered signature', `${h}.${body}.${sig.slice(0, 20)}${sig[20] === 'A' ? 'B' : 'A'}${sig.slice(21)}`],
      ['tampered payload', `${h}.${b64({ htm: 'POST', htu, iat: now, jti: 'forged' })}.${sig}`],
      ['wrong typ', await proof(es, 'POST', htu, { header: { typ: 'JWT' } })],
    ];
    for (const [label, dpop] of cases) {
      const answer = await send(route(), { headers: { dpop } });
      expect([answer.status, answer.body.error], label).toEqual([401, 'dpop_invalid']);
      expect(answer.headers.get('www-authenticate'), label).toMatch(/^DPoP error="invalid_dpop_proof"/);
    }
    // Two DPoP headers: invalid as well.
    const two = await fetch(route(), {
      method: 'POST',
      headers: [
        ['content-type', 'application/json'],
        ['dpop', await proof(es, 'POST', htu)],
        ['dpop', await proof(es, 'POST', htu)],
      ],
      body: JSON.stringify(BODY),
    });
    expect(two.status).toBe(401);
  });

  it('checks ath when Authorization: DPoP <token> is present, and requires a proof with it', async () => {
    const token = 'eyJhbGciOiJFUzI1NiJ9.e30.token-bound-to-the-key';
    const good = await send(route(), {
      headers: {
        authorization: `DPoP ${token}`,
        dpop: await proof(es, 'POST', htu, { claims: { ath: accessTokenHash(token) } }),
      },
    });
    expect(good.status).toBe(200);
    const mismatch = await send(route(), {
      headers: {
        authorization: `DPoP ${token}`,
        dpop: await proof(es, 'POST', htu, { claims: { ath: accessTokenHash('another-token') } }),
      },
    });
    expect([mismatch.status, mismatch.body.error]).toEqual([401, 'dpop_invalid']);
    expect(mismatch.body.message).toMatch(/ath/);
    const noProof = await send(route(), { headers: { authorization: `DPoP ${token}` } });
    expect([noProof.status, noProof.body.error]).toEqual([401, 'dpop_missing']);
    expect(noProof.headers.get('www-authenticate')).toBe('DPoP algs="ES256 EdDSA PS256 RS256"');
  });

  it('does not check proofs on /healthz, /readyz and /metrics', async () => {
    for (const path of ['/healthz', '/readyz', '/metrics']) {
      expect((await fetch(`${orch.url}${path}`, { headers: { dpop: 'garbage' } })).status, path).toBe(200);
    }
  });

  it('counts and reports refusals with the failed check, never the proof', async () => {
    const text = await metrics(orch);
    expect(text).toMatch(/orchestrator_auth_failed_total\{scheme="dpop",code="dpop_invalid"\} [1-9]/);
    expect(text).toMatch(/orchestrator_auth_failed_total\{scheme="dpop",code="dpop_replayed"\} [1-9]/);
    const reasons = events.filter((e) => e.type === 'auth.failed').map((e) => e.data.reason);
    expect(reasons).toEqual(expect.arrayContaining(['htm', 'htu', 'iat', 'alg', 'jwk_private', 'signature', 'ath']));
    const everything = JSON.stringify(orch.logs) + JSON.stringify(events);
    expect(everything).not.toMatch(/eyJ[A-Za-z0-9_-]{20,}\.[A-Za-z0-9_-]+\./);
  });
});

describe('DPoP required, with server nonces, behind a proxy (ORCH_PUBLIC_URL)', () => {
  let backend: RunningDemoBackend;
  let orch: RunningOrchestrator;
  let es: Signer;

  beforeAll(async () => {
    es = await signer('ES256');
    backend = await startDemoBackend({ name: 'a', delayMs: 0, jitterMs: 0 });
    orch = await startOrchestrator({
      ORCH_POOL_API: backend.url,
      ORCH_DPOP_REQUIRED: '1',
      ORCH_DPOP_NONCE: '1',
      ORCH_PUBLIC_URL: PUBLIC,
      ADMISSION_SECRET: SECRET,
    });
  });

  afterAll(async () => {
    await orch?.close();
    await backend?.close();
  });

  const headers = (dpop?: string): Record<string, string> => ({
    'x-shieldx-admission': admission('POST', '/route'),
    ...(dpop === undefined ? {} : { dpop }),
  });

  it('refuses a request without a proof, offering the algorithms and a nonce', async () => {
    const answer = await send(`${orch.url}/route`, { headers: headers() });
    expect([answer.status, answer.body.error]).toEqual([401, 'dpop_missing']);
    expect(answer.headers.get('www-authenticate')).toBe('DPoP algs="ES256 EdDSA PS256 RS256"');
    expect(answer.headers.get('dpop-nonce')).toMatch(/^[A-Za-z0-9_-]{30}$/);
  });

  it('asks for the server nonce (use_dpop_nonce), then admits the proof that carries it', async () => {
    const first = await send(`${orch.url}/route`, { headers: headers(await proof(es, 'POST', `${PUBLIC}/route`)) });
    expect([first.status, first.body.error]).toEqual([401, 'use_dpop_nonce']);
    expect(first.headers.get('www-authenticate')).toMatch(/^DPoP error="use_dpop_nonce"/);
    const nonce = first.headers.get('dpop-nonce')!;
    const second = await send(`${orch.url}/route`, {
      headers: headers(await proof(es, 'POST', `${PUBLIC}/route`, { claims: { nonce } })),
    });
    expect(second.status).toBe(200);
    expect(second.headers.get('dpop-nonce')).toBe(nonce);
  });

  it('expects htu under ORCH_PUBLIC_URL, not the address it listens on', async () => {
    const nonce = (await send(`${orch.url}/route`, { headers: headers() })).headers.get('dpop-nonce')!;
    const local = await send(`${orch.url}/route`, {
      headers: headers(await proof(es, 'POST', `${orch.url}/route`, { claims: { nonce } })),
    });
    expect([local.status, local.body.error]).toEqual([401, 'dpop_invalid']);
    expect(local.body.message).toMatch(/htu/);
    const normalised = await send(`${orch.url}/route`, {
      headers: headers(await proof(es, 'POST', 'HTTPS://GW.example.com:443/route', { claims: { nonce } })),
    });
    expect(normalised.status).toBe(200);
  });

  it('checks the admission header before the proof', async () => {
    const answer = await send(`${orch.url}/route`, { headers: { dpop: await proof(es, 'POST', `${PUBLIC}/route`) } });
    expect([answer.status, answer.body.error]).toEqual([401, 'admission_missing']);
  });
});

describe('the per-IP limit before caller proofs', () => {
  let backend: RunningDemoBackend;
  let orch: RunningOrchestrator;
  let es: Signer;

  beforeAll(async () => {
    es = await signer('ES256');
    backend = await startDemoBackend({ name: 'a', delayMs: 0, jitterMs: 0 });
    orch = await startOrchestrator({
      ORCH_POOL_API: backend.url,
      ORCH_DPOP_REQUIRED: '1',
      ORCH_PUBLIC_URL: PUBLIC,
      ORCH_IP_BURST: '3',
      ORCH_IP_BURST_DEGRADED: '3',
    });
  });

  afterAll(async () => {
    await orch?.close();
    await backend?.close();
  });

  it('refuses a flood of forged proofs from one IP with 429 once its bucket is empty, without verifying them', async () => {
    // The registry is shared by every app of this test file: count the refusals this test adds.
    const invalid = async () =>
      Number(
        /orchestrator_auth_failed_total\{scheme="dpop",code="dpop_invalid"\} (\d+)/.exec(await metrics(orch))?.[1] ?? 0,
      );
    const before = await invalid();
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) {
      const [head, payload, signature] = (await proof(es, 'POST', `${PUBLIC}/route`)).split('.');
      // A signature over something else: well-formed, and only a verification can tell it is forged.
      const forged = `${head}.${payload}.${signature.startsWith('A') ? 'B' : 'A'}${signature.slice(1)}`;
      statuses.push((await send(`${orch.url}/route`, { headers: { dpop: forged } })).status);
    }
    expect(statuses).toEqual([401, 401, 401, 429, 429, 429, 429, 429]);
    // Only the three requests the bucket let through had their proof checked.
    expect((await invalid()) - before).toBe(3);
  });
});

describe('replay protection shared through Redis by two orchestrators', () => {
  let redis: RunningRedis;
  let admin: Redis;
  let backend: RunningDemoBackend;
  let a: RunningOrchestrator;
  let b: RunningOrchestrator;
  /** Same Redis, ORCH_REPLAY_REDIS_FAILURE=open. */
  let open: RunningOrchestrator;
  let es: Signer;

  beforeAll(async () => {
    redis = await startRedis();
    admin = new Redis(redis.url, { maxRetriesPerRequest: 0, lazyConnect: true });
    admin.on('error', () => undefined); // reconnection noise while the server is stopped on purpose
    await admin.connect();
    es = await signer('ES256');
    backend = await startDemoBackend({ name: 'a', delayMs: 0, jitterMs: 0 });
    const env = {
      ORCH_POOL_API: backend.url,
      ADMISSION_SECRET: SECRET,
      REDIS_ADDR: `127.0.0.1:${redis.port}`,
      ORCH_REDIS_TIMEOUT: '200ms',
      ORCH_IP_BURST: '100000',
      // Both instances are addressed through one public URL, as behind one load balancer.
      ORCH_PUBLIC_URL: PUBLIC,
    };
    [a, b, open] = await Promise.all([
      startOrchestrator(env),
      startOrchestrator(env),
      startOrchestrator({ ...env, ORCH_REPLAY_REDIS_FAILURE: 'open' }),
    ]);
  });

  afterAll(async () => {
    await Promise.all([a?.close(), b?.close(), open?.close()]);
    admin?.disconnect();
    await backend?.close();
    await redis?.stop();
  });

  it('refuses on instance B an admission header already used on instance A', async () => {
    const header = admission('POST', '/route');
    expect((await send(`${a.url}/route`, { headers: { 'x-shieldx-admission': header } })).status).toBe(200);
    const replay = await send(`${b.url}/route`, { headers: { 'x-shieldx-admission': header } });
    expect([replay.status, replay.body.error]).toEqual([401, 'admission_replayed']);
  });

  it('refuses on instance B a DPoP proof already used on instance A', async () => {
    const p = await proof(es, 'POST', `${PUBLIC}/route`);
    const headers = () => ({ 'x-shieldx-admission': admission('POST', '/route'), dpop: p });
    expect((await send(`${a.url}/route`, { headers: headers() })).status).toBe(200);
    const onB = await send(`${b.url}/route`, { headers: headers() });
    expect([onB.status, onB.body.error]).toEqual([401, 'dpop_replayed']);
  });

  it('keeps namespaced keys in Redis (DPoP: hashed) that expire after 2 × skew + 1 s', async () => {
    const keys = await admin.keys('shieldx:replay:*');
    expect(keys.some((k) => /^shieldx:replay:admission:[A-Za-z0-9_-]{16,64}$/.test(k))).toBe(true);
    expect(keys.some((k) => /^shieldx:replay:dpop:[A-Za-z0-9_-]{43}$/.test(k))).toBe(true);
    const ttl = await admin.pttl(keys[0]);
    expect(ttl).toBeGreaterThan(100_000);
    expect(ttl).toBeLessThanOrEqual(121_000);
  });

  it('fails closed while Redis is down (401 replay_store_unavailable, never a 5xx), and recovers', async () => {
    await redis.stop();
    const down = await send(`${a.url}/route`, { headers: { 'x-shieldx-admission': admission('POST', '/route') } });
    expect([down.status, down.body.error]).toEqual([401, 'replay_store_unavailable']);
    expect(down.headers.get('retry-after')).toBe('1');
    expect(await metrics(a)).toMatch(/orchestrator_replay_store_errors_total [1-9]/);
    // Admission is required, so the instance refuses everything guarded: not ready.
    expect((await fetch(`${a.url}/readyz`)).status).toBe(503);

    // Fail-open instance: answers from its own record; replays it saw are still refused.
    const header = admission('POST', '/route');
    expect((await send(`${open.url}/route`, { headers: { 'x-shieldx-admission': header } })).status).toBe(200);
    const replay = await send(`${open.url}/route`, { headers: { 'x-shieldx-admission': header } });
    expect([replay.status, replay.body.error]).toEqual([401, 'admission_replayed']);

    const client = a.app.get<Redis>(REDIS_CLIENT);
    const ready = new Promise<void>((resolve) => client.once('ready', () => resolve()));
    await redis.restart();
    await ready;
    const back = await send(`${a.url}/route`, { headers: { 'x-shieldx-admission': admission('POST', '/route') } });
    expect(back.status).toBe(200);
  });
});
