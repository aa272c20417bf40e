import { createHash } from 'node:crypto';
import { base64url, errors, importJWK, jwtVerify, type CryptoKey, type JWK, type JWTPayload } from 'jose';
import type { DpopNonces } from './dpop-nonce';
import { accessTokenHash, normalizeHtu } from './dpop-http';
import { canonicalJwk, publicJwk } from './dpop-key';
import { DPOP_ALGORITHMS, type DpopAlgorithm, type DpopResult, invalid, Refusal } from './dpop-types';

export {
  DPOP_ALGORITHMS,
  type DpopAlgorithm,
  type DpopFailureCode,
  type DpopInvalidReason,
  type DpopResult,
} from './dpop-types';
export { accessTokenHash, dpopAccessToken, isDpopAuthorization, normalizeHtu } from './dpop-http';
import { ReplayCapacityError, type ReplayStore } from './replay-store';

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
const MAX_JTI_LENGTH = 256;
const MAX_HTU_LENGTH = 8192;
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
const UTF8 = new TextDecoder();
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

function sha256(value: string): string {
  return createHash('sha256').update(value).digest('base64url');
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
