import type { AdmissionFailureCode, DpopFailureCode } from '@shieldx/security';
import { quotedString, safeHeaderValue } from '../errors/error-body';
import { GatewayError } from '../errors/errors';

/** The caller-proof scheme that refused a request. */
export type ProofScheme = 'admission' | 'dpop';

/**
 * The `error` codes of a refused caller proof: the libraries' codes, a malformed `Authorization: DPoP`, and a DPoP
 * proof that cannot be checked because the gateway does not know its public URL (ORCH_PUBLIC_URL).
 */
export type CallerProofCode = AdmissionFailureCode | DpopFailureCode | 'dpop_invalid_token' | 'dpop_public_url_unset';

/** Codes of a valid proof the replay store would not record for this client: 429, not 401. */
const CAPACITY_CODES: ReadonlySet<CallerProofCode> = new Set(['replay_quota_exceeded', 'replay_store_full']);

/** Options of {@link CallerProofError}. */
export interface CallerProofErrorOptions {
  /** The accepted DPoP algorithms, space-separated (the challenge's `algs`). */
  readonly algs?: string;
  /** The current DPoP server nonce (sent with `use_dpop_nonce`). */
  readonly nonce?: string;
  /** With a capacity code: when a retry may succeed, ms (`Retry-After`). */
  readonly retryAfterMs?: number;
}

/**
 * A refused caller proof (admission header or DPoP proof); `code` is the `error` of the body. 401 with a
 * `WWW-Authenticate` challenge naming the scheme (RFC 9110 §11.6.1): `ShieldX-Admission error="<code>"` for the
 * admission header; for DPoP as RFC 9449 §7.1 and §9 say: `DPoP algs="…"` when no proof was sent,
 * `DPoP error="invalid_dpop_proof"` for an invalid or replayed one, `DPoP error="use_dpop_nonce"` (with a fresh
 * `DPoP-Nonce`) when the server nonce is missing or stale, `DPoP error="invalid_token"` for a malformed
 * `Authorization: DPoP` header. `replay_store_unavailable` adds `Retry-After: 1`. A valid proof the replay store will
 * not record for this client (its share is used up, or the store is full) is a 429 with `Retry-After` and no
 * challenge. Every challenge parameter is a {@link quotedString} and every value goes through
 * {@link safeHeaderValue}, so no text from the request can break the header.
 */
export class CallerProofError extends GatewayError {
  readonly status: number;
  override readonly headers: Readonly<Record<string, string>>;

  constructor(
    readonly scheme: ProofScheme,
    readonly code: CallerProofCode,
    message: string,
    options: CallerProofErrorOptions = {},
  ) {
    super(message);
    const headers: Record<string, string> = {};
    if (CAPACITY_CODES.has(code)) {
      this.status = 429;
      headers['retry-after'] = String(Math.max(1, Math.ceil((options.retryAfterMs ?? 1000) / 1000)));
    } else {
      this.status = 401;
      headers['www-authenticate'] = challenge(scheme, code, message, options.algs);
      if (code === 'use_dpop_nonce' && options.nonce !== undefined)
        headers['dpop-nonce'] = safeHeaderValue(options.nonce);
      if (code === 'replay_store_unavailable') headers['retry-after'] = '1';
    }
    this.headers = headers;
  }
}

function challenge(scheme: ProofScheme, code: string, message: string, algs: string | undefined): string {
  if (scheme === 'admission') return `ShieldX-Admission error=${quotedString(code)}`;
  const withAlgs = algs === undefined ? '' : `, algs=${quotedString(algs)}`;
  const description = `error_description=${quotedString(message)}`;
  switch (code) {
    case 'dpop_missing':
      return `DPoP algs=${quotedString(algs ?? '')}`;
    case 'use_dpop_nonce':
      return `DPoP error="use_dpop_nonce", ${description}`;
    case 'dpop_invalid_token':
      return `DPoP error="invalid_token", ${description}${withAlgs}`;
    default:
      return `DPoP error="invalid_dpop_proof", ${description}${withAlgs}`;
  }
}
