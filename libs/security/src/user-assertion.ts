/**
 * User assertions: the admin UI's server tells the orchestrator which signed-in person a call is made for, in a
 * short-lived JWT (EdDSA or ES256) it signs with its private key, sent beside the admin credential. The orchestrator
 * verifies it against the UI's public key(s) and lets that person act, within their role.
 */
import type { KeyObject } from 'node:crypto';
import { decodeProtectedHeader, errors, jwtVerify, SignJWT, type JWTPayload } from 'jose';
import { isAdminRole, type AdminRole } from './admin-roles';
import { wallClock, type WallClock } from './clock';

/** The header that carries a user assertion. */
export const USER_ASSERTION_HEADER = 'x-shieldx-user';
/** Longest lifetime (exp − iat) an assertion may claim, and the oldest `iat` accepted, seconds. */
export const USER_ASSERTION_MAX_LIFETIME_S = 300;
/** Lifetime of the assertions {@link signUserAssertion} makes, seconds. */
export const USER_ASSERTION_LIFETIME_S = 60;
/** Longest assertion read, characters (a JWT of a few claims is well under 1 KiB). */
const MAX_LENGTH = 4096;
const CLOCK_TOLERANCE_S = 5;

/** The person a call is made for. */
export interface AdminUser {
  /** Subject at the identity provider (`sub`), stable for the person. */
  readonly sub: string;
  readonly email?: string;
  readonly name?: string;
  readonly role: AdminRole;
  /** The identity provider's issuer. */
  readonly idp?: string;
}

/** Why an assertion was refused. */
export type UserAssertionFailure =
  'malformed' | 'bad_signature' | 'algorithm_not_allowed' | 'expired' | 'bad_claims' | 'too_long_lived';

/** The signing algorithm of a key: `EdDSA` for Ed25519, `ES256` for EC P-256. */
export function userAssertionAlgorithm(key: KeyObject): 'EdDSA' | 'ES256' {
  if (key.asymmetricKeyType === 'ed25519') return 'EdDSA';
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return 'ES256';
  throw new Error('a user assertion key must be Ed25519 or EC P-256');
}

/** Options of {@link signUserAssertion}. */
export interface SignUserAssertionOptions {
  /** The UI's private key (Ed25519 or P-256). */
  readonly key: KeyObject;
  readonly issuer: string;
  readonly audience: string;
  /** Seconds; default {@link USER_ASSERTION_LIFETIME_S}. */
  readonly lifetimeS?: number;
  readonly clock?: WallClock;
}

/** Signs an assertion that the call is made for `user`. */
export function signUserAssertion(user: AdminUser, options: SignUserAssertionOptions): Promise<string> {
  const now = Math.floor((options.clock ?? wallClock).now() / 1000);
  const claims: JWTPayload = { role: user.role };
  if (user.email !== undefined) claims.email = user.email;
  if (user.name !== undefined) claims.name = user.name;
  if (user.idp !== undefined) claims.idp = user.idp;
  return new SignJWT(claims)
    .setProtectedHeader({ alg: userAssertionAlgorithm(options.key), typ: 'shieldx-user+jwt' })
    .setSubject(user.sub)
    .setIssuer(options.issuer)
    .setAudience(options.audience)
    .setIssuedAt(now)
    .setExpirationTime(now + (options.lifetimeS ?? USER_ASSERTION_LIFETIME_S))
    .sign(options.key);
}

/** Options of {@link UserAssertionVerifier}. */
export interface UserAssertionVerifierOptions {
  /** Public keys to accept (several while the UI's key is rotated). */
  readonly keys: readonly KeyObject[];
  readonly issuer: string;
  readonly audience: string;
  readonly clock?: WallClock;
}

/** What {@link UserAssertionVerifier.verify} found. */
export type UserAssertionResult =
  { readonly ok: true; readonly user: AdminUser } | { readonly ok: false; readonly reason: UserAssertionFailure };

function optionalText(value: unknown, max: number): string | undefined | null {
  if (value === undefined) return undefined;
  return typeof value === 'string' && value.length > 0 && value.length <= max ? value : null;
}

/**
 * Verifies user assertions: signature by one of the configured keys with that key's algorithm only (never `none`,
 * never HMAC), `iss` and `aud` exactly, `exp` in the future, `iat` present, not in the future and at most
 * {@link USER_ASSERTION_MAX_LIFETIME_S} old, a lifetime no longer than that, and well-formed claims (`sub`, a known
 * `role`). 5 s of clock skew is tolerated.
 */
export class UserAssertionVerifier {
  private readonly keys: readonly { key: KeyObject; alg: string }[];
  private readonly clock: WallClock;

  constructor(private readonly options: UserAssertionVerifierOptions) {
    this.keys = options.keys.map((key) => ({ key, alg: userAssertionAlgorithm(key) }));
    this.clock = options.clock ?? wallClock;
  }

  /** Whether any key is configured (without one every assertion is refused). */
  get configured(): boolean {
    return this.keys.length > 0;
  }

  async verify(token: string): Promise<UserAssertionResult> {
    if (token.length > MAX_LENGTH || token.split('.').length !== 3) return { ok: false, reason: 'malformed' };
    let headerAlg: unknown;
    try {
      headerAlg = decodeProtectedHeader(token).alg;
    } catch {
      return { ok: false, reason: 'malformed' };
    }
    const candidates = this.keys.filter((entry) => entry.alg === headerAlg);
    if (this.keys.length > 0 && candidates.length === 0) return { ok: false, reason: 'algorithm_not_allowed' };
    const now = this.clock.now();
    for (const { key, alg } of candidates) {
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(token, key, {
          algorithms: [alg],
          issuer: this.options.issuer,
          audience: this.options.audience,
          requiredClaims: ['sub', 'iat', 'exp'],
          maxTokenAge: USER_ASSERTION_MAX_LIFETIME_S,
          clockTolerance: CLOCK_TOLERANCE_S,
          currentDate: new Date(now),
        }));
      } catch (error) {
        if (error instanceof errors.JWSSignatureVerificationFailed) continue;
        if (error instanceof errors.JWTExpired) return { ok: false, reason: 'expired' };
        if (error instanceof errors.JWTClaimValidationFailed) return { ok: false, reason: 'bad_claims' };
        return { ok: false, reason: 'malformed' };
      }
      return UserAssertionVerifier.user(payload, now);
    }
    return { ok: false, reason: 'bad_signature' };
  }

  private static user(payload: JWTPayload, now: number): UserAssertionResult {
    const { sub, iat, exp } = payload;
    if (typeof iat !== 'number' || typeof exp !== 'number') return { ok: false, reason: 'bad_claims' };
    if (exp - iat > USER_ASSERTION_MAX_LIFETIME_S) return { ok: false, reason: 'too_long_lived' };
    if (iat * 1000 > now + CLOCK_TOLERANCE_S * 1000) return { ok: false, reason: 'bad_claims' };
    const email = optionalText(payload.email, 320);
    const name = optionalText(payload.name, 200);
    const idp = optionalText(payload.idp, 500);
    if (typeof sub !== 'string' || sub === '' || sub.length > 255 || !isAdminRole(payload.role)) {
      return { ok: false, reason: 'bad_claims' };
    }
    if (email === null || name === null || idp === null) return { ok: false, reason: 'bad_claims' };
    return {
      ok: true,
      user: {
        sub,
        role: payload.role,
        ...(email === undefined ? {} : { email }),
        ...(name === undefined ? {} : { name }),
        ...(idp === undefined ? {} : { idp }),
      },
    };
  }
}
