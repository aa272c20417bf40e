import type { AdmissionFailureCode, DpopFailureCode } from '@shieldx/security';
import { GatewayError } from '../http/errors';

/** The caller-proof scheme that refused a request. */
export type ProofScheme = 'admission' | 'dpop';

/** Quoted-string content of an auth-param (RFC 9110 §11.2): no quotes, backslashes or control characters. */
function quoted(text: string): string {
  return text.replace(/["\\\u0000-\u001f\u007f]/g, "'");
}

/** The `error` codes of a refused caller proof: the libraries' codes, and a malformed `Authorization: DPoP`. */
export type CallerProofCode = AdmissionFailureCode | DpopFailureCode | 'dpop_invalid_token';

/**
 * 401: the caller's proof (admission header or DPoP proof) was refused. `code` is the `error` of the body; the
 * `WWW-Authenticate` challenge names the scheme (RFC 9110 §11.6.1): `ShieldX-Admission error="<code>"` for the
 * admission header; for DPoP as RFC 9449 §7.1 and §9 say: `DPoP algs="…"` when no proof was sent,
 * `DPoP error="invalid_dpop_proof"` for an invalid or replayed one, `DPoP error="use_dpop_nonce"` (with a fresh
 * `DPoP-Nonce`) when the server nonce is missing or stale, `DPoP error="invalid_token"` for a malformed
 * `Authorization: DPoP` header. `replay_store_unavailable` adds `Retry-After: 1`.
 */
export class CallerProofError extends GatewayError {
  readonly status = 401;
  override readonly headers: Readonly<Record<string, string>>;

  constructor(
    readonly scheme: ProofScheme,
    readonly code: CallerProofCode,
    message: string,
    options: { algs?: string; nonce?: string } = {},
  ) {
    super(message);
    const headers: Record<string, string> = { 'www-authenticate': challenge(scheme, code, message, options.algs) };
    if (code === 'use_dpop_nonce' && options.nonce !== undefined) headers['dpop-nonce'] = options.nonce;
    if (code === 'replay_store_unavailable') headers['retry-after'] = '1';
    this.headers = headers;
  }
}

function challenge(scheme: ProofScheme, code: string, message: string, algs: string | undefined): string {
  if (scheme === 'admission') return `ShieldX-Admission error="${code}"`;
  const withAlgs = algs === undefined ? '' : `, algs="${algs}"`;
  switch (code) {
    case 'dpop_missing':
      return `DPoP algs="${algs ?? ''}"`;
    case 'use_dpop_nonce':
      return `DPoP error="use_dpop_nonce", error_description="${quoted(message)}"`;
    case 'dpop_invalid_token':
      return `DPoP error="invalid_token", error_description="${quoted(message)}"${withAlgs}`;
    default:
      return `DPoP error="invalid_dpop_proof", error_description="${quoted(message)}"${withAlgs}`;
  }
}
