import { createHash } from 'node:crypto';
import { base64url, errors, importJWK, jwtVerify, type CryptoKey, type JWK, type JWTPayload } from 'jose';
import type { DpopNonces } from './dpop-nonce';
import { ReplayCapacityError, type ReplayCapacityCode, type ReplayStore } from './replay-store';

/** Signature algorithms a DPoP proof may use by default: asymmetric only (RFC 9449 §4.2); never `none` or HMAC. */
export const DPOP_ALGORITHMS = ['ES256', 'EdDSA', 'PS256', 'RS256'] as const;

/** A DPoP proof signature algorithm this verifier can accept. */
export type DpopAlgorithm = (typeof DPOP_ALGORITHMS)[number];

/**
 * Why a proof was refused; the `error` code of the 401 body. `use_dpop_nonce` is RFC 9449's own code (§8, §9): the
 * proof lacks the current server nonce, which the answer carries in `DPoP-Nonce`.
 */
export type DpopFailureCode =
  | 'dpop_missing'
  | 'dpop_invalid'
  | 'dpop_replayed'
  | 'use_dpop_nonce'
  | 'replay_store_unavailable'
  | ReplayCapacityCode;

/** Which check refused an invalid proof (for logs, events and the message; the code stays `dpop_invalid`). */
export type DpopInvalidReason =
  | 'header_count'
  | 'malformed'
  | 'typ'
  | 'alg'
  | 'jwk'
  | 'jwk_private'
  | 'signature'
  | 'claims'
  | 'htm'
  | 'htu'
  | 'iat'
  | 'jti'
  | 'ath';

/** The outcome of {@link DpopVerifier.verify}. */
export type DpopResult =
  | {
      readonly ok: true;
      /** RFC 7638 SHA-256 thumbprint of the proof's public key, base64url (the `jkt` of RFC 9449 §6.1). */
      readonly jkt: string;
      readonly alg: DpopAlgorithm;
    }
  | {
      readonly ok: false;
      readonly code: DpopFailureCode;
      /** The check that failed (`dpop_invalid` only). */
      readonly reason?: DpopInvalidReason;
      readonly message: string;
      /** With a replay-store capacity code: when a retry may succeed, ms. */
      readonly retryAfterMs?: number;
    };

/** What the verifier needs to know about a request. */
export interface DpopRequest {
  /** The `DPoP` header as received (an array, or a comma-joined string, when it was sent more than once). */
  readonly proof: string | readonly string[] | undefined;
  /** The HTTP method, as received. */
  readonly method: string;
  /** The request's URL as the client addressed it (scheme, host, path; query and fragment are ignored). */
  readonly url: string;
  /** The access token of an `Authorization: DPoP <token>` header, when there is one: the proof must carry its `ath`. */
  readonly accessToken?: string;
  /** Who the proof's jti is charged to in the replay store (the client address), for its per-client share. */
  readonly client?: string;
}

/** Options of {@link DpopVerifier}. */
export interface DpopVerifierOptions {
  /** Where used `jti`s are remembered (in Redis when instances must refuse each other's replays). */
  readonly replay: ReplayStore;
  /** Largest accepted |now − iat|, ms. Default 60 000. */
  readonly skewMs?: number;
  /** Accepted algorithms, a subset of {@link DPOP_ALGORITHMS}. Default: all of them. */
  readonly algorithms?: readonly DpopAlgorithm[];
  /** When set, every proof must carry a valid server nonce (RFC 9449 §9). */
  readonly nonces?: DpopNonces;
  /** Most imported public keys kept (keyed by algorithm and thumbprint). Default 10 000; 0 disables the cache. */
  readonly keyCacheSize?: number;
}

/** Longest proof considered (an RSA-4096 proof is about 1.8 KiB plus its htu). */
const MAX_PROOF_LENGTH = 8192;
/** Longest protected header, base64url (an RSA-4096 public jwk makes about 1 KiB). */
const MAX_HEADER_LENGTH = 4096;
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
const MAX_JTI_LENGTH = 256;
const MAX_HTU_LENGTH = 8192;
/** JWK members that belong to private or symmetric keys (RFC 7517/7518), none of which a proof may carry. */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k', 'priv'] as const;
/** Key type and curve each algorithm needs. */
const KEY_SHAPE: Readonly<Record<DpopAlgorithm, { readonly kty: string; readonly crv?: string }>> = {
  ES256: { kty: 'EC', crv: 'P-256' },
  EdDSA: { kty: 'OKP', crv: 'Ed25519' },
  PS256: { kty: 'RSA' },
  RS256: { kty: 'RSA' },
};
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
const PERCENT = /%([0-9A-Fa-f]{2})/g;
const UNRESERVED = /[A-Za-z0-9\-._~]/;
const DPOP_SCHEME = /^DPoP +([A-Za-z0-9\-._~+/]+=*) *$/i;
const UTF8 = new TextDecoder();
/** The members of each key type that RFC 7638 §3.2 hashes, in lexicographic order. */
const THUMBPRINT_MEMBERS: Readonly<Record<string, readonly string[]>> = {
  EC: ['crv', 'kty', 'x', 'y'],
  OKP: ['crv', 'kty', 'x'],
  RSA: ['e', 'kty', 'n'],
};

/** Thrown inside the verifier to stop at the first failed check. */
class Refusal extends Error {
  constructor(
    readonly code: DpopFailureCode,
    readonly reason: DpopInvalidReason | undefined,
    message: string,
  ) {
    super(message);
  }
}

const invalid = (reason: DpopInvalidReason, message: string) => new Refusal('dpop_invalid', reason, message);

/**
 * Verifies DPoP proofs (RFC 9449 §4.3) with `jose`:
 *
 * 1. exactly one `DPoP` header holding one compact JWS of at most 8 KiB, its protected header at most 4 KiB;
 * 2. header `typ` is `dpop+jwt`, `alg` one of the accepted asymmetric algorithms (`none` and HMAC never), `jwk` a
 *    public key of the algorithm's type with no private member (`d`, `p`, `q`, `dp`, `dq`, `qi`, `oth`, `k`) and no
 *    member outside the JWK key members, whose size is checked before any key import or signature work: ES256 a
 *    P-256 point and EdDSA an Ed25519 key (32-byte coordinates), RSA a 2048–4096-bit modulus with exponent 65537
 *    only (a huge exponent would make each verification many times as costly);
 * 3. the signature verifies with that key (jose);
 * 4. claims: `htm` equals the method; `htu` equals the request URL, both normalised (RFC 3986 §6.2.2–6.2.3: scheme
 *    and host lower-cased, default port dropped, dot segments removed, percent-encoding normalised) and without
 *    query and fragment; `iat` within ±skew of now; `jti` a non-empty string; `ath` the base64url SHA-256 of the
 *    access token when one is presented (`Authorization: DPoP <token>`); `nonce` a current server nonce when nonces
 *    are on;
 * 5. the `jti` was not used before (replay store; key = hash of thumbprint and jti, so one client cannot spend
 *    another's jti; remembered `2 × skew + 1 s`, longer than any proof stays acceptable).
 *
 * The thumbprint (`jkt`, RFC 7638, SHA-256) of an accepted proof is returned for the policy. Imported keys are kept
 * in a bounded cache keyed by algorithm and the key's RFC 7638 canonical form (every public member that makes the
 * key), so a client that reuses its key costs one signature check per request, and no hash or key import.
 */
export class DpopVerifier {
  readonly algorithms: readonly DpopAlgorithm[];
  /** TTL of a used jti in the replay store, ms. */
  readonly replayTtlMs: number;
  private readonly accepted: ReadonlySet<string>;
  private readonly skewSeconds: number;
  private readonly replay: ReplayStore;
  private readonly nonces: DpopNonces | undefined;
  private readonly keyCacheSize: number;
  private readonly keys = new Map<string, { readonly key: CryptoKey; readonly jkt: string }>();
  private imports = 0;
  private signatureChecks = 0;

  constructor(options: DpopVerifierOptions) {
    const skewMs = options.skewMs ?? 60_000;
    if (!Number.isInteger(skewMs) || skewMs < 1000) {
      throw new Error(`DpopVerifier: skewMs must be an integer ≥ 1000, got ${String(skewMs)}`);
    }
    this.algorithms = options.algorithms ?? DPOP_ALGORITHMS;
    const unknown = this.algorithms.filter((alg) => !(DPOP_ALGORITHMS as readonly string[]).includes(alg));
    if (this.algorithms.length === 0 || unknown.length > 0) {
      throw new Error(`DpopVerifier: algorithms must be some of ${DPOP_ALGORITHMS.join(', ')}, got ${unknown.join()}`);
    }
    this.accepted = new Set(this.algorithms);
    this.skewSeconds = skewMs / 1000;
    this.replayTtlMs = 2 * skewMs + 1000;
    this.replay = options.replay;
    this.nonces = options.nonces;
    this.keyCacheSize = options.keyCacheSize ?? 10_000;
  }

  /** Work done so far: key imports and signature verifications started (a refusal before them costs neither). */
  get work(): { readonly keyImports: number; readonly signatureChecks: number } {
    return { keyImports: this.imports, signatureChecks: this.signatureChecks };
  }

  /** Verifies one request's proof at `now` (epoch ms). Never rejects: every failure is a result. */
  async verify(request: DpopRequest, now: number): Promise<DpopResult> {
    try {
      return await this.check(request, now);
    } catch (error) {
      if (error instanceof Refusal) {
        return error.reason === undefined
          ? { ok: false, code: error.code, message: error.message }
          : { ok: false, code: error.code, reason: error.reason, message: error.message };
      }
      if (error instanceof ReplayCapacityError) {
        return { ok: false, code: error.code, message: error.message, retryAfterMs: error.retryAfterMs };
      }
      throw error;
    }
  }

  private async check(request: DpopRequest, now: number): Promise<DpopResult> {
    const proof = single(request.proof);
    const header = decodeHeader(proof);
    const typ = header.typ;
    if (typeof typ !== 'string' || typ.toLowerCase() !== 'dpop+jwt') {
      throw invalid('typ', 'the proof header typ must be dpop+jwt');
    }
    const alg = header.alg;
    if (typeof alg !== 'string' || !this.accepted.has(alg)) {
      throw invalid('alg', `the proof alg must be one of ${this.algorithms.join(', ')}`);
    }
    const jwk = publicJwk(header.jwk, alg as DpopAlgorithm);
    const { key, jkt } = await this.importKey(jwk, alg as DpopAlgorithm);
    let payload: JWTPayload;
    this.signatureChecks++;
    try {
      ({ payload } = await jwtVerify(proof, key, {
        algorithms: [alg],
        typ: 'dpop+jwt',
        currentDate: new Date(now),
      }));
    } catch (error) {
      throw refusalOf(error);
    }
    this.checkClaims(payload, request, now);
    const jti = payload.jti as string;
    let first: boolean;
    try {
      first = await this.replay.firstSeen(`dpop:${sha256(`${jkt}.${jti}`)}`, this.replayTtlMs, now, request.client);
    } catch (error) {
      if (error instanceof ReplayCapacityError) throw error;
      const reason = error instanceof Error ? error.message : String(error);
      throw new Refusal('replay_store_unavailable', undefined, `the replay check is unavailable (${reason})`);
    }
    if (!first) throw new Refusal('dpop_replayed', undefined, 'this DPoP proof (jti) was already used');
    return { ok: true, jkt, alg: alg as DpopAlgorithm };
  }

  private checkClaims(payload: JWTPayload, request: DpopRequest, now: number): void {
    if (payload.htm !== request.method) throw invalid('htm', 'the proof htm does not match the request method');
    const htu = payload.htu;
    if (typeof htu !== 'string' || htu.length > MAX_HTU_LENGTH)
      throw invalid('htu', 'the proof htu is missing or too long');
    const claimed = normalizeHtu(htu);
    if (claimed === undefined || claimed !== normalizeHtu(request.url)) {
      throw invalid('htu', 'the proof htu does not match the request URL');
    }
    const iat = payload.iat;
    if (typeof iat !== 'number' || !Number.isFinite(iat)) throw invalid('iat', 'the proof iat is missing');
    if (Math.abs(now / 1000 - iat) > this.skewSeconds) {
      throw invalid('iat', `the proof iat is more than ${this.skewSeconds} s away from the gateway's clock`);
    }
    const jti = payload.jti;
    if (typeof jti !== 'string' || jti.length === 0 || jti.length > MAX_JTI_LENGTH) {
      throw invalid('jti', `the proof jti must be a string of 1–${MAX_JTI_LENGTH} characters`);
    }
    if (request.accessToken !== undefined && payload.ath !== accessTokenHash(request.accessToken)) {
      throw invalid('ath', 'the proof ath does not match the access token');
    }
    if (this.nonces !== undefined && !this.nonces.isValid(payload.nonce, now)) {
      throw new Refusal('use_dpop_nonce', undefined, 'the proof must carry the current server nonce (DPoP-Nonce)');
    }
  }

  /**
   * The verification key and thumbprint of a header's jwk. Cached by algorithm and the RFC 7638 canonical form of the
   * key (every public member that makes the key), so a client that reuses its key costs neither a hash nor an import.
   */
  private async importKey(jwk: JWK, alg: DpopAlgorithm): Promise<{ key: CryptoKey; jkt: string }> {
    const canonical = canonicalJwk(jwk);
    const cacheKey = `${alg}${canonical}`;
    const cached = this.keys.get(cacheKey);
    if (cached !== undefined) return cached;
    let key: CryptoKey;
    this.imports++;
    try {
      key = (await importJWK(jwk, alg)) as CryptoKey;
    } catch {
      throw invalid('jwk', `the proof jwk is not a usable ${alg} public key`);
    }
    const entry = { key, jkt: sha256(canonical) };
    if (this.keyCacheSize > 0) {
      if (this.keys.size >= this.keyCacheSize) this.keys.delete(this.keys.keys().next().value as string);
      this.keys.set(cacheKey, entry);
    }
    return entry;
  }
}

/** `ath` of an access token: base64url(SHA-256(ASCII token)) (RFC 9449 §4.2). */
export function accessTokenHash(token: string): string {
  return createHash('sha256').update(token, 'ascii').digest('base64url');
}

/**
 * The access token of an `Authorization: DPoP <token>` header (scheme case-insensitive, token68 syntax), or
 * undefined when the header is absent or uses another scheme.
 */
export function dpopAccessToken(authorization: string | undefined): string | undefined {
  if (authorization === undefined || authorization.length < 6) return undefined;
  const match = DPOP_SCHEME.exec(authorization);
  return match === null ? undefined : match[1];
}

/** Whether an Authorization header uses the DPoP scheme at all (well-formed or not). */
export function isDpopAuthorization(authorization: string | undefined): boolean {
  return authorization !== undefined && authorization.length >= 4 && /^dpop(\s|$)/i.test(authorization);
}

/**
 * Normalises an http(s) URL for comparing `htu` (RFC 9449 §4.3 point 9, RFC 3986 §6.2.2 and §6.2.3): scheme and
 * host lower-cased, default port removed, empty path as `/`, dot segments resolved, percent-encodings of unreserved
 * characters decoded and the others upper-cased; query and fragment dropped. Undefined when not an http(s) URL.
 */
export function normalizeHtu(url: string): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') return undefined;
  if (parsed.username !== '' || parsed.password !== '') return undefined;
  const path = parsed.pathname.replace(PERCENT, (_escape: string, hex: string) => {
    const char = String.fromCharCode(parseInt(hex, 16));
    return UNRESERVED.test(char) ? char : `%${hex.toUpperCase()}`;
  });
  return `${parsed.protocol}//${parsed.host}${path}`;
}

function sha256(value: string): string {
  return createHash('sha256').update(value).digest('base64url');
}

/**
 * The RFC 7638 §3 input of a public key's thumbprint: its required members, in lexicographic order, as JSON without
 * whitespace. Its SHA-256, base64url, is the `jkt`.
 */
function canonicalJwk(jwk: JWK): string {
  const members = THUMBPRINT_MEMBERS[jwk.kty ?? ''];
  const record = jwk as Record<string, unknown>;
  if (members === undefined || members.some((m) => typeof record[m] !== 'string' || record[m] === '')) {
    throw invalid('jwk', `the proof jwk lacks a member of its ${String(jwk.kty)} key`);
  }
  return `{${members.map((m) => `${JSON.stringify(m)}:${JSON.stringify(record[m])}`).join(',')}}`;
}

/** The one proof of the request; refuses none, several, or an oversized one. */
function single(proof: string | readonly string[] | undefined): string {
  if (proof === undefined || proof === '') throw new Refusal('dpop_missing', undefined, 'the DPoP proof is missing');
  if (typeof proof !== 'string' || proof.includes(',')) {
    throw invalid('header_count', 'exactly one DPoP header is allowed');
  }
  if (proof.length > MAX_PROOF_LENGTH || !COMPACT_JWS.test(proof)) {
    throw invalid('malformed', 'the DPoP header is not a compact JWS');
  }
  return proof;
}

/** The proof's protected header as an object. */
function decodeHeader(proof: string): Record<string, unknown> {
  if (proof.indexOf('.') > MAX_HEADER_LENGTH) {
    throw invalid('malformed', `the DPoP proof header is longer than ${MAX_HEADER_LENGTH} characters`);
  }
  try {
    const header: unknown = JSON.parse(UTF8.decode(base64url.decode(proof.slice(0, proof.indexOf('.')))));
    if (header !== null && typeof header === 'object' && !Array.isArray(header)) {
      return header as Record<string, unknown>;
    }
  } catch {
    // Reported below.
  }
  throw invalid('malformed', 'the DPoP proof header is not a JSON object');
}

/** The header's `jwk` when it is a public key fit for `alg`. */
function publicJwk(value: unknown, alg: DpopAlgorithm): JWK {
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

/**
 * Maps what jose throws while verifying to a refusal. The messages are fixed texts and jose's error codes, never
 * jose's message, which can quote what the proof holds (a `crit` member name, for one).
 */
function refusalOf(error: unknown): Refusal {
  if (error instanceof errors.JWSSignatureVerificationFailed) {
    return invalid('signature', 'the proof signature does not verify with its jwk');
  }
  if (error instanceof errors.JWTClaimValidationFailed && error.claim === 'typ') {
    return invalid('typ', 'the proof header typ must be dpop+jwt');
  }
  if (error instanceof errors.JOSEAlgNotAllowed) return invalid('alg', 'the proof alg is not accepted');
  // jose throws TypeError for unusable keys.
  if (error instanceof TypeError) return invalid('jwk', 'the proof jwk cannot verify it');
  if (error instanceof errors.JOSEError) return invalid('claims', `the proof is not a valid JWT (${error.code})`);
  return invalid('malformed', 'the proof could not be verified');
}
