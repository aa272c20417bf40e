import type { ReplayCapacityCode } from './replay-store';

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

/** Thrown inside the verifier to stop at the first failed check. */
export class Refusal extends Error {
  constructor(
    readonly code: DpopFailureCode,
    readonly reason: DpopInvalidReason | undefined,
    message: string,
  ) {
    super(message);
  }
}

/** A `dpop_invalid` refusal for `reason`. */
export const invalid = (reason: DpopInvalidReason, message: string) => new Refusal('dpop_invalid', reason, message);
