import { createHash, generateKeyPairSync, randomBytes, sign as nodeSign } from 'node:crypto';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { DpopNonces } from './dpop-nonce';
import {
  accessTokenHash,
  dpopAccessToken,
  DpopVerifier,
  isDpopAuthorization,
  normalizeHtu,
  type DpopAlgorithm,
  type DpopResult,
} from './dpop';
import { MemoryReplayStore, type ReplayStore } from './replay-store';

/** 2026-01-01T00:00:00Z in ms. */
const NOW = 1_767_225_600_000;
const URL_ = 'https://gw.example.com/route';
const ALGS: readonly DpopAlgorithm[] = ['ES256', 'EdDSA', 'PS256', 'RS256'];

interface Signer {
  readonly alg: string;
  readonly privateKey: CryptoKey;
  readonly jwk: JWK;
}

const signers = new Map<string, Signer>();

async function signer(alg: DpopAlgorithm): Promise<Signer> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { alg, privateKey, jwk: await exportJWK(publicKey) };
}

let counter = 0;

/** A real proof signed with jose; every part can be overridden. */
async function proof(
  alg: DpopAlgorithm = 'ES256',
  options: {
    claims?: Record<string, unknown>;
    header?: Record<string, unknown>;
    signWith?: Signer;
  } = {},
): Promise<string> {
  const s = options.signWith ?? signers.get(alg)!;
  return new SignJWT({
    htm: 'POST',
    htu: URL_,
    iat: NOW / 1000,
    jti: `jti-${++counter}-${Math.random().toString(36).slice(2)}`,
    ...options.claims,
  })
    .setProtectedHeader({ alg: s.alg, typ: 'dpop+jwt', jwk: s.jwk, ...options.header })
    .sign(s.privateKey);
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

function verifier(options: { replay?: ReplayStore; nonces?: DpopNonces; algorithms?: DpopAlgorithm[] } = {}) {
  return new DpopVerifier({ replay: options.replay ?? new MemoryReplayStore(), skewMs: 60_000, ...options });
}

async function check(
  v: DpopVerifier,
  dpop: string | string[] | undefined,
  request: { method?: string; url?: string; accessToken?: string; now?: number } = {},
): Promise<DpopResult> {
  return v.verify(
    { proof: dpop, method: request.method ?? 'POST', url: request.url ?? URL_, accessToken: request.accessToken },
    request.now ?? NOW,
  );
}

/** `code` or `code/reason` of a result, `ok` when accepted. */
function outcome(result: DpopResult): string {
  if (result.ok) return 'ok';
  return result.reason === undefined ? result.code : `${result.code}/${result.reason}`;
}

/** RFC 7638 thumbprint computed independently of jose: SHA-256 of the required members in lexicographic order. */
function thumbprint(jwk: JWK): string {
  const members: Record<string, string[]> = {
    EC: ['crv', 'kty', 'x', 'y'],
    OKP: ['crv', 'kty', 'x'],
    RSA: ['e', 'kty', 'n'],
  };
  const canonical = `{${members[jwk.kty!].map((m) => `"${m}":"${String((jwk as Record<string, unknown>)[m])}"`).join(',')}}`;
  return createHash('sha256').update(canonical).digest('base64url');
}

beforeAll(async () => {
  for (const alg of ALGS) signers.set(alg, await signer(alg));
});

describe(DpopVerifier.name, () => {
  it.each(ALGS)('accepts a valid %s proof and returns the RFC 7638 thumbprint of its key', async (alg) => {
    const result = await check(verifier(), await proof(alg));
    expect(result).toEqual({ ok: true, jkt: thumbprint(signers.get(alg)!.jwk), alg });
  });

  it('refuses a replayed proof (same jti and key) on the same verifier', async () => {
    const v = verifier();
    const p = await proof();
    expect(outcome(await check(v, p))).toBe('ok');
    expect(outcome(await check(v, p))).toBe('dpop_replayed');
    // A new proof with the same jti from the same key is a replay too.
    const jti = 'fixed-jti-0001';
    expect(outcome(await check(v, await proof('ES256', { claims: { jti } })))).toBe('ok');
    expect(outcome(await check(v, await proof('ES256', { claims: { jti } })))).toBe('dpop_replayed');
    // Another key may use the same jti: replay keys are per key, so nobody can spend someone else's jti.
    expect(outcome(await check(v, await proof('EdDSA', { claims: { jti } })))).toBe('ok');
  });

  it('records the jti only after every other check passed', async () => {
    const v = verifier();
    const jti = 'not-burned-0001';
    expect(outcome(await check(v, await proof('ES256', { claims: { jti, htm: 'GET' } })))).toBe('dpop_invalid/htm');
    expect(outcome(await check(v, await proof('ES256', { claims: { jti } })))).toBe('ok');
  });

  it('refuses a missing proof, several proofs, and something that is not a compact JWS', async () => {
    const v = verifier();
    expect(outcome(await check(v, undefined))).toBe('dpop_missing');
    expect(outcome(await check(v, ''))).toBe('dpop_missing');
    const [a, b] = [await proof(), await proof()];
    expect(outcome(await check(v, [a, b]))).toBe('dpop_invalid/header_count');
    expect(outcome(await check(v, `${a}, ${b}`))).toBe('dpop_invalid/header_count');
    expect(outcome(await check(v, 'not-a-jwt'))).toBe('dpop_invalid/malformed');
    expect(outcome(await check(v, `${b64([1])}.${b64({})}.c2ln`))).toBe('dpop_invalid/malformed');
    expect(outcome(await check(v, 'x'.repeat(9000)))).toBe('dpop_invalid/malformed');
  });

  it('refuses a wrong htm', async () => {
    expect(outcome(await check(verifier(), await proof(), { method: 'GET' }))).toBe('dpop_invalid/htm');
    expect(outcome(await check(verifier(), await proof('ES256', { claims: { htm: 'post' } })))).toBe(
      'dpop_invalid/htm',
    );
  });

  it.each([
    ['another path', 'https://gw.example.com/proxy/api/x'],
    ['another host', 'https://evil.example.com/route'],
    ['another scheme', 'http://gw.example.com/route'],
    ['another port', 'https://gw.example.com:8443/route'],
    ['a relative URL', '/route'],
    ['a non-http scheme', 'ftp://gw.example.com/route'],
  ])('refuses a wrong htu: %s', async (_label, htu) => {
    expect(outcome(await check(verifier(), await proof('ES256', { claims: { htu } })))).toBe('dpop_invalid/htu');
  });

  it('compares htu normalised, without query and fragment', async () => {
    for (const htu of [
      'HTTPS://GW.Example.COM:443/route',
      'https://gw.example.com/a/../route',
      'https://gw.example.com/%72oute',
      'https://gw.example.com/route?x=1#frag',
    ]) {
      expect(outcome(await check(verifier(), await proof('ES256', { claims: { htu } })))).toBe('ok');
    }
    expect(outcome(await check(verifier(), await proof(), { url: 'https://gw.example.com/route?q=2' }))).toBe('ok');
  });

  it('refuses an iat outside ±skew, and a missing one', async () => {
    const v = verifier();
    expect(outcome(await check(v, await proof('ES256', { claims: { iat: NOW / 1000 - 61 } })))).toBe(
      'dpop_invalid/iat',
    );
    expect(outcome(await check(v, await proof('ES256', { claims: { iat: NOW / 1000 + 61 } })))).toBe(
      'dpop_invalid/iat',
    );
    expect(outcome(await check(v, await proof('ES256', { claims: { iat: undefined } })))).toBe('dpop_invalid/iat');
    expect(outcome(await check(v, await proof('ES256', { claims: { iat: NOW / 1000 - 59 } })))).toBe('ok');
    // The same proof, presented later than the window allows, is expired.
    expect(outcome(await check(verifier(), await proof(), { now: NOW + 61_000 }))).toBe('dpop_invalid/iat');
  });

  it('refuses a missing or oversized jti', async () => {
    expect(outcome(await check(verifier(), await proof('ES256', { claims: { jti: undefined } })))).toBe(
      'dpop_invalid/jti',
    );
    expect(outcome(await check(verifier(), await proof('ES256', { claims: { jti: 'j'.repeat(257) } })))).toBe(
      'dpop_invalid/jti',
    );
  });

  it('refuses alg none, even with a signature part', async () => {
    const header = { alg: 'none', typ: 'dpop+jwt', jwk: signers.get('ES256')!.jwk };
    const claims = { htm: 'POST', htu: URL_, iat: NOW / 1000, jti: 'none-1' };
    expect(outcome(await check(verifier(), `${b64(header)}.${b64(claims)}.`))).toBe('dpop_invalid/malformed');
    expect(outcome(await check(verifier(), `${b64(header)}.${b64(claims)}.AAAA`))).toBe('dpop_invalid/alg');
  });

  it('refuses HMAC (HS256) proofs, whatever key they carry', async () => {
    const secret = new TextEncoder().encode('a-shared-secret-of-32-bytes-long');
    const jwk = { kty: 'oct', k: Buffer.from(secret).toString('base64url') };
    const hs = await new SignJWT({ htm: 'POST', htu: URL_, iat: NOW / 1000, jti: 'hs-1' })
      .setProtectedHeader({ alg: 'HS256', typ: 'dpop+jwt', jwk })
      .sign(secret);
    expect(outcome(await check(verifier(), hs))).toBe('dpop_invalid/alg');
  });

  it('refuses an algorithm that is not configured', async () => {
    expect(outcome(await check(verifier({ algorithms: ['ES256'] }), await proof('RS256')))).toBe('dpop_invalid/alg');
  });

  it.each(ALGS)('refuses a %s proof whose header jwk holds the private key', async (alg) => {
    const s = signers.get(alg)!;
    const privateJwk = await exportJWK(s.privateKey);
    expect(privateJwk).toHaveProperty('d');
    const p = await proof(alg, { header: { jwk: privateJwk } });
    expect(outcome(await check(verifier(), p))).toBe('dpop_invalid/jwk_private');
  });

  it('refuses a tampered signature or payload', async () => {
    const p = await proof();
    const [h, body, sig] = p.split('.');
    const flippedSig = sig.slice(0, 10) + (sig[10] === 'A' ? 'B' : 'A') + sig.slice(11);
    expect(outcome(await check(verifier(), `${h}.${body}.${flippedSig}`))).toBe('dpop_invalid/signature');
    const forgedBody = b64({ htm: 'POST', htu: URL_, iat: NOW / 1000, jti: 'forged' });
    expect(outcome(await check(verifier(), `${h}.${forgedBody}.${sig}`))).toBe('dpop_invalid/signature');
  });

  it('refuses a proof signed by another key than its jwk', async () => {
    const p = await proof('ES256', { header: { jwk: (await signer('ES256')).jwk } });
    expect(outcome(await check(verifier(), p))).toBe('dpop_invalid/signature');
  });

  it('refuses a wrong or missing typ', async () => {
    expect(outcome(await check(verifier(), await proof('ES256', { header: { typ: 'JWT' } })))).toBe('dpop_invalid/typ');
    expect(outcome(await check(verifier(), await proof('ES256', { header: { typ: undefined } })))).toBe(
      'dpop_invalid/typ',
    );
  });

  it('refuses a missing jwk, a jwk of the wrong type, and one restricted to another use or algorithm', async () => {
    const v = verifier();
    expect(outcome(await check(v, await proof('ES256', { header: { jwk: undefined } })))).toBe('dpop_invalid/jwk');
    expect(outcome(await check(v, await proof('ES256', { header: { jwk: signers.get('EdDSA')!.jwk } })))).toBe(
      'dpop_invalid/jwk',
    );
    const es = signers.get('ES256')!.jwk;
    expect(outcome(await check(v, await proof('ES256', { header: { jwk: { ...es, use: 'enc' } } })))).toBe(
      'dpop_invalid/jwk',
    );
    expect(outcome(await check(v, await proof('ES256', { header: { jwk: { ...es, alg: 'ES384' } } })))).toBe(
      'dpop_invalid/jwk',
    );
    expect(outcome(await check(v, await proof('ES256', { header: { jwk: { ...es, crv: 'P-384' } } })))).toBe(
      'dpop_invalid/jwk',
    );
  });

  it('refuses an RSA key under 2048 bits before importing it', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const jwk = publicKey.export({ format: 'jwk' });
    const head = b64({ alg: 'RS256', typ: 'dpop+jwt', jwk });
    const body = b64({ htm: 'POST', htu: URL_, iat: NOW / 1000, jti: 'rsa-1024' });
    const sig = nodeSign('sha256', Buffer.from(`${head}.${body}`), privateKey).toString('base64url');
    const v = verifier();
    expect(outcome(await check(v, `${head}.${body}.${sig}`))).toBe('dpop_invalid/jwk');
    expect(v.work).toEqual({ keyImports: 0, signatureChecks: 0 });
  });

  describe('keys that would make a proof expensive are refused before any key import or signature work', () => {
    /** A modulus of exactly `bits` bits (top bit set), base64url. */
    const modulus = (bits: number) => {
      const bytes = randomBytes(Math.ceil(bits / 8));
      bytes[0] = (bytes[0] | 0x80) >> ((8 - (bits % 8)) % 8);
      bytes[bytes.length - 1] |= 1;
      return bytes.toString('base64url');
    };
    const rsa = (n: string, e = 'AQAB') => ({ alg: 'RS256', jwk: { kty: 'RSA', n, e } });
    const es = () => signers.get('ES256')!.jwk;
    const ed = () => signers.get('EdDSA')!.jwk;
    const cases: [string, () => { alg: string; jwk: Record<string, unknown> }][] = [
      ['an RSA exponent of 2^2048 + 1', () => rsa(modulus(2048), modulus(2049))],
      [
        'an RSA exponent of 2^64 + 1',
        () => rsa(modulus(2048), Buffer.from('010000000000000001', 'hex').toString('base64url')),
      ],
      ['an RSA exponent of 3', () => rsa(modulus(2048), 'Aw')],
      ['an RSA exponent written with a leading zero', () => rsa(modulus(2048), 'AAEAAQ')],
      ['a 2047-bit modulus', () => rsa(modulus(2047))],
      ['a 4097-bit modulus', () => rsa(modulus(4097))],
      ['a 16384-bit modulus', () => rsa(modulus(16_384))],
      ['a modulus with a leading zero byte', () => rsa(`AA${modulus(2048)}`)],
      ['a modulus that is not base64url', () => rsa(`${modulus(2048).slice(0, -1)}=`)],
      ['a modulus that is a number', () => ({ alg: 'RS256', jwk: { kty: 'RSA', n: 12345, e: 'AQAB' } })],
      ['an RSA key for PS256 with a huge exponent', () => ({ ...rsa(modulus(3072), modulus(4000)), alg: 'PS256' })],
      ['a P-384 key for ES256', () => ({ alg: 'ES256', jwk: { ...es(), crv: 'P-384' } })],
      ['a secp256k1 key for ES256', () => ({ alg: 'ES256', jwk: { ...es(), crv: 'secp256k1' } })],
      [
        'a P-256 key with a 48-byte x',
        () => ({ alg: 'ES256', jwk: { ...es(), x: randomBytes(48).toString('base64url') } }),
      ],
      ['a P-256 key without y', () => ({ alg: 'ES256', jwk: { ...es(), y: undefined } })],
      ['an Ed448 key for EdDSA', () => ({ alg: 'EdDSA', jwk: { ...ed(), crv: 'Ed448' } })],
      ['an X25519 key for EdDSA', () => ({ alg: 'EdDSA', jwk: { ...ed(), crv: 'X25519' } })],
      [
        'an Ed25519 key with a 57-byte x',
        () => ({ alg: 'EdDSA', jwk: { ...ed(), x: randomBytes(57).toString('base64url') } }),
      ],
      ['a jwk with a certificate chain (x5c)', () => ({ alg: 'ES256', jwk: { ...es(), x5c: ['MIIB'] } })],
      ['a jwk with a key URL (x5u)', () => ({ alg: 'ES256', jwk: { ...es(), x5u: 'https://evil.example/k' } })],
      ['a jwk with a 300-character kid', () => ({ alg: 'ES256', jwk: { ...es(), kid: 'k'.repeat(300) } })],
      ['a jwk whose key_ops allow sign', () => ({ alg: 'ES256', jwk: { ...es(), key_ops: ['sign'] } })],
    ];

    it.each(cases)('%s', async (_label, make) => {
      const { alg, jwk } = make();
      const head = b64({ alg, typ: 'dpop+jwt', jwk });
      const body = b64({ htm: 'POST', htu: URL_, iat: NOW / 1000, jti: 'cost-1' });
      const v = verifier();
      expect(outcome(await check(v, `${head}.${body}.${randomBytes(256).toString('base64url')}`))).toBe(
        'dpop_invalid/jwk',
      );
      expect(v.work).toEqual({ keyImports: 0, signatureChecks: 0 });
    });

    it('refuses a protected header over 4 KiB, and a proof over 8 KiB, before decoding them', async () => {
      const v = verifier();
      const head = b64({ alg: 'ES256', typ: 'dpop+jwt', jwk: es(), pad: 'p'.repeat(3000) });
      const body = b64({ htm: 'POST', htu: URL_, iat: NOW / 1000, jti: 'cost-2' });
      expect(outcome(await check(v, `${head}.${body}.AAAA`))).toBe('dpop_invalid/malformed');
      expect(outcome(await check(v, `${b64({ alg: 'ES256' })}.${'A'.repeat(8200)}.AAAA`))).toBe(
        'dpop_invalid/malformed',
      );
      expect(v.work).toEqual({ keyImports: 0, signatureChecks: 0 });
    });

    it('accepts RSA keys of 2048 and 4096 bits with exponent 65537, and counts their work', async () => {
      const v = verifier();
      expect(outcome(await check(v, await proof('RS256')))).toBe('ok');
      const big = generateKeyPairSync('rsa', { modulusLength: 4096 });
      const jwk = big.publicKey.export({ format: 'jwk' });
      const head = b64({ alg: 'RS256', typ: 'dpop+jwt', jwk });
      const body = b64({ htm: 'POST', htu: URL_, iat: NOW / 1000, jti: 'rsa-4096' });
      const sig = nodeSign('sha256', Buffer.from(`${head}.${body}`), big.privateKey).toString('base64url');
      expect(outcome(await check(v, `${head}.${body}.${sig}`))).toBe('ok');
      expect(v.work).toEqual({ keyImports: 2, signatureChecks: 2 });
      // Making an RSA-4096 key takes seconds on a busy 2-core machine; the default 5 s would fail for that alone.
    }, 30_000);
  });

  it('never quotes what the proof holds in its refusal message (a crit member name, for one)', async () => {
    // jose refuses to sign such a header, so it is signed by hand.
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const member = '\u00e9\r\nX-Evil: 1';
    const head = b64({
      alg: 'ES256',
      typ: 'dpop+jwt',
      jwk: publicKey.export({ format: 'jwk' }),
      crit: [member],
      [member]: 1,
    });
    const body = b64({ htm: 'POST', htu: URL_, iat: NOW / 1000, jti: 'crit-1' });
    const sig = nodeSign('sha256', Buffer.from(`${head}.${body}`), { key: privateKey, dsaEncoding: 'ieee-p1363' });
    const result = await check(verifier(), `${head}.${body}.${sig.toString('base64url')}`);
    expect(outcome(result)).toBe('dpop_invalid/claims');
    expect(result.ok ? '' : result.message).toMatch(/^[\x20-\x7e]+$/);
    expect(result.ok ? '' : result.message).not.toContain('Evil');
  });

  it('charges the jti to the client and answers a used-up share with its capacity code', async () => {
    const replay = new MemoryReplayStore({ maxKeys: 1000, clientShare: 0.001 });
    const v = verifier({ replay });
    const from = async (client: string) => v.verify({ proof: await proof(), method: 'POST', url: URL_, client }, NOW);
    expect(outcome(await from('203.0.113.9'))).toBe('ok');
    expect(await from('203.0.113.9')).toMatchObject({
      ok: false,
      code: 'replay_quota_exceeded',
      retryAfterMs: 121_000,
    });
    expect(outcome(await from('198.51.100.7'))).toBe('ok');
  });

  it('checks ath against an access token when one is presented', async () => {
    const token = 'Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU';
    const ath = accessTokenHash(token);
    const v = verifier();
    expect(outcome(await check(v, await proof('ES256', { claims: { ath } }), { accessToken: token }))).toBe('ok');
    expect(
      outcome(
        await check(v, await proof('ES256', { claims: { ath: accessTokenHash('other') } }), { accessToken: token }),
      ),
    ).toBe('dpop_invalid/ath');
    expect(outcome(await check(v, await proof(), { accessToken: token }))).toBe('dpop_invalid/ath');
    // Without a token, ath is not required.
    expect(outcome(await check(v, await proof()))).toBe('ok');
  });

  it('requires the current server nonce when nonces are on', async () => {
    const nonces = new DpopNonces({ keys: [Buffer.alloc(32, 7)], periodMs: 60_000 });
    const v = verifier({ nonces });
    expect(outcome(await check(v, await proof()))).toBe('use_dpop_nonce');
    expect(outcome(await check(v, await proof('ES256', { claims: { nonce: 'made-up' } })))).toBe('use_dpop_nonce');
    expect(outcome(await check(v, await proof('ES256', { claims: { nonce: nonces.current(NOW) } })))).toBe('ok');
    const stale = nonces.current(NOW - 120_000);
    expect(outcome(await check(v, await proof('ES256', { claims: { nonce: stale } })))).toBe('use_dpop_nonce');
  });

  it('answers replay_store_unavailable when the store fails', async () => {
    const failing: ReplayStore = { firstSeen: () => Promise.reject(new Error('redis timeout')) };
    const result = await check(verifier({ replay: failing }), await proof());
    expect(result).toMatchObject({ ok: false, code: 'replay_store_unavailable' });
  });

  it('keys the replay store by a hash, namespaced, with a TTL longer than a proof lives', async () => {
    const calls: [string, number][] = [];
    const recording: ReplayStore = {
      firstSeen: (key, ttl) => {
        calls.push([key, ttl]);
        return true;
      },
    };
    await check(verifier({ replay: recording }), await proof('ES256', { claims: { jti: 'visible-jti' } }));
    expect(calls).toEqual([[expect.stringMatching(/^dpop:[A-Za-z0-9_-]{43}$/), 121_000]]);
    expect(calls[0][0]).not.toContain('visible-jti');
  });

  it('fails fast on bad options', () => {
    const replay = new MemoryReplayStore();
    expect(() => new DpopVerifier({ replay, algorithms: ['HS256' as DpopAlgorithm] })).toThrow(/algorithms/);
    expect(() => new DpopVerifier({ replay, algorithms: [] })).toThrow(/algorithms/);
    expect(() => new DpopVerifier({ replay, skewMs: 10 })).toThrow(/skewMs/);
  });
});

describe(normalizeHtu.name, () => {
  it.each([
    ['HTTPS://Example.COM:443/a/./b/../c', 'https://example.com/a/c'],
    ['http://example.com:80', 'http://example.com/'],
    ['http://example.com:8080/x?y#z', 'http://example.com:8080/x'],
    ['https://example.com/%7euser/%2f%2F', 'https://example.com/~user/%2F%2F'],
  ])('%s → %s', (input, expected) => {
    expect(normalizeHtu(input)).toBe(expected);
  });

  it('refuses what is not an absolute http(s) URL, and userinfo', () => {
    expect(normalizeHtu('/relative')).toBeUndefined();
    expect(normalizeHtu('mailto:a@b')).toBeUndefined();
    expect(normalizeHtu('https://user:pw@example.com/')).toBeUndefined();
  });
});

describe(dpopAccessToken.name, () => {
  it('reads the token of the DPoP scheme only', () => {
    expect(dpopAccessToken('DPoP abc.def-ghi')).toBe('abc.def-ghi');
    expect(dpopAccessToken('dpop abc=')).toBe('abc=');
    expect(dpopAccessToken('Bearer abc')).toBeUndefined();
    expect(dpopAccessToken(undefined)).toBeUndefined();
    expect(dpopAccessToken('DPoP two words')).toBeUndefined();
    expect(isDpopAuthorization('DPoP two words')).toBe(true);
    expect(isDpopAuthorization('DPoPx')).toBe(false);
    expect(isDpopAuthorization('Bearer x')).toBe(false);
  });
});

describe(DpopNonces.name, () => {
  const nonces = new DpopNonces({ keys: [Buffer.alloc(32, 1)], periodMs: 60_000 });

  it('hands out one nonce per period, valid in that period and the next', () => {
    const a = nonces.current(NOW);
    expect(nonces.current(NOW + 59_999)).toBe(a);
    expect(nonces.isValid(a, NOW)).toBe(true);
    expect(nonces.isValid(a, NOW + 60_000)).toBe(true);
    expect(nonces.isValid(a, NOW + 120_000)).toBe(false);
    expect(nonces.isValid(a, NOW - 60_000)).toBe(false);
  });

  it('accepts nonces of any of its keys (instances sharing keys, rotation) and nothing forged', () => {
    const old = new DpopNonces({ keys: [Buffer.alloc(32, 2)] });
    const rotated = new DpopNonces({ keys: [Buffer.alloc(32, 1), Buffer.alloc(32, 2)] });
    expect(rotated.isValid(old.current(NOW), NOW)).toBe(true);
    expect(nonces.isValid(old.current(NOW), NOW)).toBe(false);
    const n = nonces.current(NOW);
    expect(nonces.isValid(n.slice(0, -1) + (n.endsWith('A') ? 'B' : 'A'), NOW)).toBe(false);
    expect(nonces.isValid(undefined, NOW)).toBe(false);
    expect(nonces.isValid(42, NOW)).toBe(false);
  });
});
