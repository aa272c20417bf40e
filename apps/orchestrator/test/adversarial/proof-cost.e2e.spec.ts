import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  generatePrimeSync,
  randomBytes,
  sign,
  verify,
  type KeyObject,
} from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CallerProofService } from '../../src/auth/caller-proof.service';
import { startDemoBackend, type RunningDemoBackend } from '../../src/demo/demo-backends';
import { signAdmission } from '@shieldx/security';
import { startOrchestrator, type RunningOrchestrator } from '../harness';

/**
 * Proofs whose key would make verification expensive (a huge RSA exponent, a modulus outside 2048–4096 bits, curves
 * and key types the documented algorithms do not use, oversized members) are refused with 401 before any key import
 * or signature verification: asserted with the verifier's work counters, not with timing.
 */

const PUBLIC = 'https://gw.example.com';
const HTU = `${PUBLIC}/route`;
const BODY = JSON.stringify({ service: 'api', tenant: 'acme', scope: 'read', path: '/v1/items' });

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const big = (value: bigint) => {
  const hex = value.toString(16);
  return Buffer.from(hex.length % 2 === 0 ? hex : `0${hex}`, 'hex').toString('base64url');
};

function modInverse(a: bigint, m: bigint): bigint {
  let [oldR, r] = [a % m, m];
  let [oldS, s] = [1n, 0n];
  while (r !== 0n) {
    const q = oldR / r;
    [oldR, r] = [r, oldR - q * r];
    [oldS, s] = [s, oldS - q * s];
  }
  if (oldR !== 1n) throw new Error('not invertible');
  return ((oldS % m) + m) % m;
}

function gcd(a: bigint, b: bigint): bigint {
  while (b !== 0n) [a, b] = [b, a % b];
  return a;
}

/** A real RSA-2048 key pair whose public exponent is a random 2048-bit number (what makes verification costly). */
function hugeExponentKey(): { privateKey: KeyObject; jwk: Record<string, string> } {
  const p = generatePrimeSync(1024, { bigint: true });
  const q = generatePrimeSync(1024, { bigint: true });
  const phi = (p - 1n) * (q - 1n);
  let e = BigInt(`0x${randomBytes(255).toString('hex')}`) | 1n | (1n << 2039n);
  while (gcd(e, phi) !== 1n) e += 2n;
  const d = modInverse(e, phi);
  const jwk = { kty: 'RSA', n: big(p * q), e: big(e) };
  const privateKey = createPrivateKey({
    key: {
      ...jwk,
      d: big(d),
      p: big(p),
      q: big(q),
      dp: big(d % (p - 1n)),
      dq: big(d % (q - 1n)),
      qi: big(modInverse(q, p)),
    },
    format: 'jwk',
  });
  return { privateKey, jwk };
}

/** Makes the signature of a proof's signing input. */
type Signer = (input: Buffer) => Buffer;
/** RS256 (PKCS #1 v1.5, SHA-256). */
const rs256 =
  (key: KeyObject): Signer =>
  (input) =>
    sign('sha256', input, key);
/** ECDSA as JWS writes it (r ‖ s), with this digest. */
const ecdsa =
  (key: KeyObject, digest = 'sha256'): Signer =>
  (input) =>
    sign(digest, input, { key, dsaEncoding: 'ieee-p1363' });
/** EdDSA. */
const eddsa =
  (key: KeyObject): Signer =>
  (input) =>
    sign(null, input, key);

/** A proof signed by `signer`, or carrying random bytes as its signature when there is none. */
function proof(header: Record<string, unknown>, signer?: Signer): string {
  const claims = { htm: 'POST', htu: HTU, iat: Math.floor(Date.now() / 1000), jti: randomBytes(12).toString('hex') };
  const input = `${b64({ typ: 'dpop+jwt', ...header })}.${b64(claims)}`;
  const signature = signer === undefined ? randomBytes(256) : signer(Buffer.from(input));
  return `${input}.${signature.toString('base64url')}`;
}

/** A modulus of exactly `bits` bits, base64url (random: only its size is read before the refusal). */
function modulus(bits: number): string {
  const bytes = randomBytes(Math.ceil(bits / 8));
  bytes[0] = (bytes[0] | 0x80) >> ((8 - (bits % 8)) % 8);
  return bytes.toString('base64url');
}

describe('expensive DPoP proofs are refused before any signature work', () => {
  let backend: RunningDemoBackend;
  let orch: RunningOrchestrator;
  let proofs: CallerProofService;

  beforeAll(async () => {
    backend = await startDemoBackend({ name: 'a', delayMs: 0, jitterMs: 0 });
    orch = await startOrchestrator({ ORCH_POOL_API: backend.url, ORCH_PUBLIC_URL: PUBLIC, ORCH_IP_BURST: '100000' });
    proofs = orch.app.get(CallerProofService);
  });

  afterAll(async () => {
    await orch?.close();
    await backend?.close();
  });

  async function send(dpop: string): Promise<{ status: number; error: unknown; message: unknown }> {
    const response = await fetch(`${orch.url}/route`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', dpop },
      body: BODY,
    });
    const body = (await response.json()) as Record<string, unknown>;
    return { status: response.status, error: body['error'], message: body['message'] };
  }

  it('refuses a validly signed proof whose RSA key has a 2040-bit public exponent, without verifying it', async () => {
    const { privateKey, jwk } = hugeExponentKey();
    const dpop = proof({ alg: 'RS256', jwk }, rs256(privateKey));
    // It is a real, valid signature (checked here once, outside the gateway).
    const [head, payload, signature] = dpop.split('.');
    const publicKey = createPublicKey({ key: jwk, format: 'jwk' });
    expect(verify('sha256', Buffer.from(`${head}.${payload}`), publicKey, Buffer.from(signature, 'base64url'))).toBe(
      true,
    );
    const before = proofs.dpopWork;
    const answer = await send(dpop);
    expect(answer).toMatchObject({ status: 401, error: 'dpop_invalid' });
    expect(answer.message).toMatch(/exponent 65537/);
    expect(proofs.dpopWork).toEqual(before);
  });

  it('refuses a validly signed proof of an RSA-1024 key without verifying it', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const before = proofs.dpopWork;
    const answer = await send(proof({ alg: 'RS256', jwk: publicKey.export({ format: 'jwk' }) }, rs256(privateKey)));
    expect(answer).toMatchObject({ status: 401, error: 'dpop_invalid', message: expect.stringMatching(/2048–4096/) });
    expect(proofs.dpopWork).toEqual(before);
  });

  it.each([
    ['RS256, exponent 2^64 + 1', { alg: 'RS256', jwk: { kty: 'RSA', n: modulus(2048), e: 'AQAAAAAAAAAB' } }],
    ['PS256, exponent 3', { alg: 'PS256', jwk: { kty: 'RSA', n: modulus(2048), e: 'Aw' } }],
    ['RS256, a 4097-bit modulus', { alg: 'RS256', jwk: { kty: 'RSA', n: modulus(4097), e: 'AQAB' } }],
    ['RS256, a 16384-bit modulus', { alg: 'RS256', jwk: { kty: 'RSA', n: modulus(16_384), e: 'AQAB' } }],
    ['RS256, a 2047-bit modulus', { alg: 'RS256', jwk: { kty: 'RSA', n: modulus(2047), e: 'AQAB' } }],
    ['RS256, a 2 KiB exponent', { alg: 'RS256', jwk: { kty: 'RSA', n: modulus(2048), e: 'A'.repeat(3000) } }],
  ])('refuses %s before any key import or signature check', async (_label, header) => {
    const before = proofs.dpopWork;
    expect(await send(proof(header))).toMatchObject({ status: 401, error: 'dpop_invalid' });
    expect(proofs.dpopWork).toEqual(before);
  });

  it('refuses keys on curves the documented algorithms do not use, signed or not', async () => {
    const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' });
    const k256 = generateKeyPairSync('ec', { namedCurve: 'secp256k1' });
    const ed448 = generateKeyPairSync('ed448');
    const x25519 = generateKeyPairSync('x25519');
    const ed25519 = generateKeyPairSync('ed25519');
    const jwkOf = (key: KeyObject) => key.export({ format: 'jwk' });
    const cases: [string, string][] = [
      ['ES384 (P-384)', proof({ alg: 'ES384', jwk: jwkOf(p384.publicKey) }, ecdsa(p384.privateKey, 'sha384'))],
      ['ES256 with a P-384 key', proof({ alg: 'ES256', jwk: jwkOf(p384.publicKey) }, ecdsa(p384.privateKey))],
      ['ES256K (secp256k1)', proof({ alg: 'ES256K', jwk: jwkOf(k256.publicKey) }, ecdsa(k256.privateKey))],
      ['ES256 with a secp256k1 key', proof({ alg: 'ES256', jwk: jwkOf(k256.publicKey) }, ecdsa(k256.privateKey))],
      ['EdDSA with an Ed448 key', proof({ alg: 'EdDSA', jwk: jwkOf(ed448.publicKey) }, eddsa(ed448.privateKey))],
      ['EdDSA with an X25519 key', proof({ alg: 'EdDSA', jwk: jwkOf(x25519.publicKey) })],
      ['Ed25519 as an alg name', proof({ alg: 'Ed25519', jwk: jwkOf(ed25519.publicKey) }, eddsa(ed25519.privateKey))],
    ];
    const before = proofs.dpopWork;
    for (const [label, dpop] of cases) {
      expect(await send(dpop), label).toMatchObject({ status: 401, error: 'dpop_invalid' });
    }
    expect(proofs.dpopWork).toEqual(before);
  });

  it('refuses oversized headers and jwk members before decoding or importing anything', async () => {
    const es = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = es.publicKey.export({ format: 'jwk' });
    const signed = (header: Record<string, unknown>) => proof(header, ecdsa(es.privateKey));
    const cases: [string, string][] = [
      ['a 5 KiB protected header', signed({ alg: 'ES256', jwk, pad: 'x'.repeat(5000) })],
      ['a 9 KiB proof', `${'A'.repeat(9000)}.e30.AAAA`],
      ['a jwk with a certificate chain', signed({ alg: 'ES256', jwk: { ...jwk, x5c: ['A'.repeat(1500)] } })],
      ['a jwk with a 1 KiB kid', signed({ alg: 'ES256', jwk: { ...jwk, kid: 'k'.repeat(1024) } })],
      ['a jwk with a 64-byte x', signed({ alg: 'ES256', jwk: { ...jwk, x: randomBytes(64).toString('base64url') } })],
    ];
    const before = proofs.dpopWork;
    for (const [label, dpop] of cases) {
      expect(await send(dpop), label).toMatchObject({ status: 401, error: 'dpop_invalid' });
    }
    expect(proofs.dpopWork).toEqual(before);
  });

  it('still verifies proofs of the documented keys (and counts that work)', async () => {
    const before = proofs.dpopWork;
    const es = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const ed = generateKeyPairSync('ed25519');
    const jwkOf = (key: KeyObject) => key.export({ format: 'jwk' });
    for (const dpop of [
      proof({ alg: 'ES256', jwk: jwkOf(es.publicKey) }, ecdsa(es.privateKey)),
      proof({ alg: 'RS256', jwk: jwkOf(rsa.publicKey) }, rs256(rsa.privateKey)),
      proof({ alg: 'EdDSA', jwk: jwkOf(ed.publicKey) }, eddsa(ed.privateKey)),
    ]) {
      expect((await send(dpop)).status).toBe(200);
    }
    expect(proofs.dpopWork).toEqual({
      keyImports: before.keyImports + 3,
      signatureChecks: before.signatureChecks + 3,
    });
  });
});

const SECRET = 'proof-bucket-secret-0123456789';
/** A DPoP proof that parses but whose signature is garbage: costs a verification if nothing stops it first. */
const forged = () =>
  `${b64({ typ: 'dpop+jwt', alg: 'ES256', jwk: { kty: 'EC', crv: 'P-256', x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU', y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0' } })}.${b64({ htm: 'GET', htu: 'http://x/', iat: Math.floor(Date.now() / 1000), jti: Math.random().toString(36) })}.${'A'.repeat(86)}`;

async function failures(orch: RunningOrchestrator, code: string): Promise<number> {
  const text = await (await fetch(`${orch.url}/metrics`)).text();
  const match = new RegExp(`orchestrator_auth_failed_total\\{scheme="[a-z]+",code="${code}"\\} (\\d+)`).exec(text);
  return match === null ? 0 : Number(match[1]);
}

describe('a per-IP bucket in front of every proof check (adversarial)', () => {
  for (const path of ['/health', '/admin/pools', '/no/such/route', '/policy']) {
    describe(path, () => {
      let orch: RunningOrchestrator;

      beforeAll(async () => {
        orch = await startOrchestrator({
          ORCH_POOL_API: 'http://127.0.0.1:9',
          ORCH_IP_BURST: '3',
          ORCH_IP_BURST_DEGRADED: '3',
        });
      });

      afterAll(async () => {
        await orch.close();
      });

      it('verifies at most a burst of forged DPoP proofs, then refuses from the bucket', async () => {
        const before = await failures(orch, 'dpop_invalid');
        const statuses: number[] = [];
        for (let i = 0; i < 8; i++)
          statuses.push((await fetch(`${orch.url}${path}`, { headers: { dpop: forged() } })).status);
        expect(statuses).toEqual([401, 401, 401, 429, 429, 429, 429, 429]);
        expect((await failures(orch, 'dpop_invalid')) - before).toBe(3);
        // Without a proof, nothing is verified and no token is taken off the data plane.
        expect((await fetch(`${orch.url}/healthz`)).status).toBe(200);
      });
    });
  }

  describe('admission headers off the data plane', () => {
    let orch: RunningOrchestrator;

    beforeAll(async () => {
      orch = await startOrchestrator({
        ORCH_POOL_API: 'http://127.0.0.1:9',
        ADMISSION_SECRET: SECRET,
        ORCH_IP_BURST: '3',
        ORCH_IP_BURST_DEGRADED: '3',
      });
    });

    afterAll(async () => {
      await orch.close();
    });

    it('takes a token before each admission check', async () => {
      const statuses: number[] = [];
      for (let i = 0; i < 5; i++) {
        const header = signAdmission({ secret: 'a-wrong-secret-0123456789', method: 'GET', pathWithQuery: '/health' });
        statuses.push((await fetch(`${orch.url}/health`, { headers: { 'x-shieldx-admission': header } })).status);
      }
      expect(statuses).toEqual([401, 401, 401, 429, 429]);
    });
  });
});
