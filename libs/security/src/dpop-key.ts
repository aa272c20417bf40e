import type { JWK } from 'jose';
import { type DpopAlgorithm, invalid } from './dpop-types';

/*
 * What a DPoP proof's public key may look like, checked before any key import or signature work, and its RFC 7638
 * thumbprint input.
 */

/** Longest `kid` of a proof's jwk. */
const MAX_KID_LENGTH = 256;
/** JWK members a proof's key may have (RFC 7517 §4, RFC 7518 §6); anything else (x5c, x5u, jku…) is refused. */
const JWK_MEMBERS: ReadonlySet<string> = new Set([
  'kty',
  'crv',
  'x',
  'y',
  'n',
  'e',
  'alg',
  'use',
  'kid',
  'key_ops',
  'ext',
]);
/** The only RSA public exponent accepted: 65537, base64url. A huge exponent makes every verification expensive. */
const RSA_EXPONENT = 'AQAB';
/** RSA moduli accepted, bits. */
const RSA_MIN_BITS = 2048;
const RSA_MAX_BITS = 4096;
/** base64url length of a 32-byte coordinate (P-256 x/y, Ed25519 x). */
const COORDINATE_LENGTH = 43;
const BASE64URL = /^[A-Za-z0-9_-]+$/;
/** JWK members that belong to private or symmetric keys (RFC 7517/7518), none of which a proof may carry. */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k', 'priv'] as const;
/** Key type and curve each algorithm needs. */
const KEY_SHAPE: Readonly<Record<DpopAlgorithm, { readonly kty: string; readonly crv?: string }>> = {
  ES256: { kty: 'EC', crv: 'P-256' },
  EdDSA: { kty: 'OKP', crv: 'Ed25519' },
  PS256: { kty: 'RSA' },
  RS256: { kty: 'RSA' },
};
/** The members of each key type that RFC 7638 §3.2 hashes, in lexicographic order. */
const THUMBPRINT_MEMBERS: Readonly<Record<string, readonly string[]>> = {
  EC: ['crv', 'kty', 'x', 'y'],
  OKP: ['crv', 'kty', 'x'],
  RSA: ['e', 'kty', 'n'],
};

/**
 * The RFC 7638 §3 input of a public key's thumbprint: its required members, in lexicographic order, as JSON without
 * whitespace. Its SHA-256, base64url, is the `jkt`.
 */
export function canonicalJwk(jwk: JWK): string {
  const members = THUMBPRINT_MEMBERS[jwk.kty ?? ''];
  const record = jwk as Record<string, unknown>;
  if (members === undefined || members.some((m) => typeof record[m] !== 'string' || record[m] === '')) {
    throw invalid('jwk', `the proof jwk lacks a member of its ${String(jwk.kty)} key`);
  }
  return `{${members.map((m) => `${JSON.stringify(m)}:${JSON.stringify(record[m])}`).join(',')}}`;
}

/** The header's `jwk` when it is a public key fit for `alg`. */
export function publicJwk(value: unknown, alg: DpopAlgorithm): JWK {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw invalid('jwk', 'the proof header must carry the public key as jwk');
  }
  const jwk = value as Record<string, unknown>;
  for (const member of PRIVATE_MEMBERS) {
    if (member in jwk) throw invalid('jwk_private', 'the proof jwk must not hold private key material');
  }
  const shape = KEY_SHAPE[alg];
  if (jwk.kty !== shape.kty || (shape.crv !== undefined && jwk.crv !== shape.crv)) {
    throw invalid('jwk', `the proof jwk is not a ${shape.crv ?? shape.kty} key, as ${alg} needs`);
  }
  // RFC 7517 §4.2, §4.4: a key that names its use or algorithm may serve only those.
  if ((jwk.use !== undefined && jwk.use !== 'sig') || (jwk.alg !== undefined && jwk.alg !== alg)) {
    throw invalid('jwk', `the proof jwk is restricted to another use or algorithm than ${alg}`);
  }
  for (const member in jwk) {
    if (!JWK_MEMBERS.has(member)) throw invalid('jwk', 'the proof jwk has a member a public signing key does not');
  }
  if (jwk.kid !== undefined && (typeof jwk.kid !== 'string' || jwk.kid.length > MAX_KID_LENGTH)) {
    throw invalid('jwk', `the proof jwk kid must be a string of at most ${MAX_KID_LENGTH} characters`);
  }
  if (jwk.key_ops !== undefined && !(Array.isArray(jwk.key_ops) && jwk.key_ops.every((op) => op === 'verify'))) {
    throw invalid('jwk', 'the proof jwk key_ops must allow verify only');
  }
  if (shape.kty === 'RSA') {
    if (jwk.e !== RSA_EXPONENT) throw invalid('jwk', 'the proof jwk must be an RSA key with exponent 65537 (AQAB)');
    const bits = modulusBits(jwk.n);
    if (bits === undefined || bits < RSA_MIN_BITS || bits > RSA_MAX_BITS) {
      throw invalid('jwk', `the proof jwk must be an RSA key of ${RSA_MIN_BITS}–${RSA_MAX_BITS} bits`);
    }
  } else if (!coordinate(jwk.x) || (shape.kty === 'EC' && !coordinate(jwk.y))) {
    throw invalid('jwk', `the proof jwk is not a ${shape.crv ?? shape.kty} public key (32-byte coordinates)`);
  }
  return jwk;
}

/** Canonical base64url (no padding, no stray bits) of `bytes` bytes at most; the bytes, else undefined. */
function base64urlBytes(value: unknown, maxLength: number): Buffer | undefined {
  if (typeof value !== 'string' || value.length === 0 || value.length > maxLength || !BASE64URL.test(value)) {
    return undefined;
  }
  const bytes = Buffer.from(value, 'base64url');
  return bytes.toString('base64url') === value ? bytes : undefined;
}

/** Bit length of an RSA modulus given as base64url (no leading zero byte, RFC 7518 §6.3.1.1), else undefined. */
function modulusBits(n: unknown): number | undefined {
  const bytes = base64urlBytes(n, Math.ceil((RSA_MAX_BITS / 8) * (4 / 3)));
  if (bytes === undefined || bytes[0] === 0) return undefined;
  return (bytes.length - 1) * 8 + (32 - Math.clz32(bytes[0]));
}

/** A 32-byte curve coordinate in canonical base64url. */
function coordinate(value: unknown): boolean {
  return (
    typeof value === 'string' &&
    value.length === COORDINATE_LENGTH &&
    base64urlBytes(value, COORDINATE_LENGTH)?.length === 32
  );
}
