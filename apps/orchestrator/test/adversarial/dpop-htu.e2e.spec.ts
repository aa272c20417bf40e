import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/config';
import { startDemoBackend, type RunningDemoBackend } from '../../src/demo/demo-backends';
import { jsonAnswer, type JsonAnswer } from '../json-client';
import { startOrchestrator, type RunningOrchestrator } from '../harness';

/**
 * The `htu` of a DPoP proof is checked against the gateway's configured public origin (ORCH_PUBLIC_URL), never against
 * the Host header (or X-Forwarded-Host, or an absolute-form target) a client sends: a proof made for another server
 * is refused however the client names that server.
 */

const CLI = fileURLToPath(new URL('../../../../packages/cli/shieldx.mjs', import.meta.url));
const PUBLIC = 'https://gw.example.com';
const BODY = JSON.stringify({ service: 'api', tenant: 'acme', scope: 'read', path: '/v1/items' });

let privateKey: CryptoKey;
let jwk: JWK;
let counter = 0;
let backend: RunningDemoBackend;

/** A valid ES256 proof for `htu`. */
function proof(htu: string, method = 'POST'): Promise<string> {
  return new SignJWT({ htm: method, htu, iat: Math.floor(Date.now() / 1000), jti: `htu-${++counter}-${Date.now()}` })
    .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk })
    .sign(privateKey);
}

/** One request with exactly these headers (Host included) and this request target, over http or https. */
function send(
  base: string,
  target: string,
  headers: Record<string, string>,
  tls?: { ca: Buffer; cert: Buffer; key: Buffer },
): Promise<JsonAnswer> {
  const { hostname, port } = new URL(base);
  const request = tls === undefined ? httpRequest : httpsRequest;
  const req = request({
    host: hostname.replace(/^\[|\]$/g, ''),
    port,
    method: 'POST',
    path: target,
    headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(BODY), ...headers },
    agent: false,
    setHost: !('host' in headers),
    // The server certificate names localhost, whatever Host the test sends.
    ...(tls === undefined ? {} : { ...tls, servername: 'localhost' }),
  });
  return jsonAnswer(req, BODY);
}

beforeAll(async () => {
  const pair = await generateKeyPair('ES256', { extractable: true });
  privateKey = pair.privateKey;
  jwk = await exportJWK(pair.publicKey);
  backend = await startDemoBackend({ name: 'a', delayMs: 0, jitterMs: 0 });
});

afterAll(async () => {
  await backend?.close();
});

describe('with ORCH_PUBLIC_URL, htu is checked against it and nothing the client sends', () => {
  let orch: RunningOrchestrator;

  beforeAll(async () => {
    orch = await startOrchestrator({ ORCH_POOL_API: backend.url, ORCH_PUBLIC_URL: PUBLIC, ORCH_IP_BURST: '100000' });
  });

  afterAll(async () => {
    await orch?.close();
  });

  it('admits a proof for the public URL whatever Host the client sends', async () => {
    for (const host of ['gw.example.com', 'evil.example.com', '127.0.0.1']) {
      const answer = await send(orch.url, '/route', { host, dpop: await proof(`${PUBLIC}/route`) });
      expect(answer.status, host).toBe(200);
    }
  });

  it.each([
    ['Host', 'https://other.example.com/route', { host: 'other.example.com' }, '/route'],
    ['Host with the public port', 'https://other.example.com:443/route', { host: 'other.example.com:443' }, '/route'],
    [
      'X-Forwarded-Host/-Proto',
      'https://other.example.com/route',
      { 'x-forwarded-host': 'other.example.com', 'x-forwarded-proto': 'https' },
      '/route',
    ],
    [
      'an absolute-form target',
      'https://other.example.com/route',
      { host: 'other.example.com' },
      'https://other.example.com/route',
    ],
    ['the listener as Host', 'http://HOST/route', {}, '/route'],
  ])(
    'refuses a proof made for another server even when the client names it in %s',
    async (_label, htu, headers: Record<string, string>, target) => {
      const listener = new URL(orch.url).host;
      const answer = await send(orch.url, target, {
        ...headers,
        dpop: await proof(htu.replace('HOST', listener)),
      });
      expect([answer.status, answer.body['error']]).toEqual([401, 'dpop_invalid']);
      expect(answer.body['message']).toMatch(/htu/);
    },
  );

  it('compares the path too: a proof for another path of the public URL is refused', async () => {
    const answer = await send(orch.url, '/route', { dpop: await proof(`${PUBLIC}/admin/pools`) });
    expect([answer.status, answer.body['error']]).toEqual([401, 'dpop_invalid']);
  });
});

describe('without ORCH_PUBLIC_URL, outside insecure dev mode, proofs are refused with a clear 401', () => {
  let root: string;
  let orch: RunningOrchestrator;
  let client: { ca: Buffer; cert: Buffer; key: Buffer };

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'shieldx-dpop-htu-'));
    const pki = join(root, 'pki');
    execFileSync(process.execPath, [CLI, 'certs', 'dev', pki], { stdio: 'pipe' });
    client = {
      ca: readFileSync(join(pki, 'ca.pem')),
      cert: readFileSync(join(pki, 'client-ingress.pem')),
      key: readFileSync(join(pki, 'client-ingress.key')),
    };
    orch = await startOrchestrator({
      ORCH_TLS_CERT_FILE: join(pki, 'server.pem'),
      ORCH_TLS_KEY_FILE: join(pki, 'server.key'),
      ORCH_TLS_CLIENT_CA_FILE: join(pki, 'ca.pem'),
      ORCH_POOL_API: backend.url,
    });
  });

  afterAll(async () => {
    await orch?.close();
    if (root !== undefined) rmSync(root, { recursive: true, force: true });
  });

  it('refuses every proof, even one matching the Host sent, naming ORCH_PUBLIC_URL', async () => {
    const listener = new URL(orch.url).host;
    for (const [host, htu] of [
      [listener, `https://${listener}/route`],
      ['evil.example.com', 'https://evil.example.com/route'],
    ]) {
      const answer = await send(orch.url, '/route', { host, dpop: await proof(htu) }, client);
      expect([answer.status, answer.body['error']], host).toEqual([401, 'dpop_public_url_unset']);
      expect(answer.body['message']).toMatch(/ORCH_PUBLIC_URL/);
      expect(answer.headers['www-authenticate']).toMatch(
        /^DPoP error="invalid_dpop_proof", error_description="[^"]*ORCH_PUBLIC_URL/,
      );
    }
  });

  it('still serves requests without a proof (DPoP is optional)', async () => {
    expect((await send(orch.url, '/route', {}, client)).status).toBe(200);
  });

  it('cannot be started with DPoP required and no ORCH_PUBLIC_URL', () => {
    expect(() => loadConfig({ ORCH_ALLOW_INSECURE: '1', ORCH_DPOP_REQUIRED: '1' })).toThrow(ConfigError);
    expect(() => loadConfig({ ORCH_ALLOW_INSECURE: '1', ORCH_DPOP_REQUIRED: '1' })).toThrow(/ORCH_PUBLIC_URL/);
  });
});

describe('without ORCH_PUBLIC_URL in insecure dev mode, only the loopback listener origin is expected', () => {
  let v4: RunningOrchestrator;
  let v6: RunningOrchestrator;

  beforeAll(async () => {
    const env = { ORCH_POOL_API: backend.url, ORCH_IP_BURST: '100000' };
    [v4, v6] = await Promise.all([startOrchestrator(env), startOrchestrator(env, { host: '::1' })]);
  });

  afterAll(async () => {
    await Promise.all([v4?.close(), v6?.close()]);
  });

  const path = '/route';

  it('admits a proof for the address and port the client connected to', async () => {
    for (const orch of [v4, v6]) {
      const answer = await send(orch.url, path, { dpop: await proof(`${orch.url}${path}`) });
      expect(answer.status, orch.url).toBe(200);
    }
  });

  it('refuses a proof for another name of the same listener, or another server, whatever the Host', async () => {
    const port = new URL(v4.url).port;
    for (const [host, htu] of [
      [`localhost:${port}`, `http://localhost:${port}${path}`],
      ['evil.example.com', `http://evil.example.com${path}`],
      [`127.0.0.1:${Number(port) + 1}`, `http://127.0.0.1:${Number(port) + 1}${path}`],
      [`[::1]:${port}`, `http://[::1]:${port}${path}`],
    ]) {
      const answer = await send(v4.url, path, { host, dpop: await proof(htu) });
      expect([answer.status, answer.body['error']], htu).toEqual([401, 'dpop_invalid']);
    }
  });
});
