import { describe, expect, it } from 'vitest';
import { toErrorResponse } from '../errors/error-body';
import { CallerProofError } from './caller-proof.errors';

const ALGS = 'ES256 EdDSA PS256 RS256';
/** A challenge as RFC 9110 §11.6.1 writes it: a scheme and auth-params whose values are tokens or quoted-strings. */
const CHALLENGE =
  /^[A-Za-z-]+( [a-z_]+=("([\x20\x21\x23-\x5b\x5d-\x7e]|\\[\x20-\x7e])*"|[A-Za-z0-9_-]+)(, [a-z_]+=("([\x20\x21\x23-\x5b\x5d-\x7e]|\\[\x20-\x7e])*"|[A-Za-z0-9_-]+))*)?$/;

describe(CallerProofError.name, () => {
  it.each([
    ['non-ASCII', 'jti \u00e9\u{1F600}'],
    ['CR/LF', 'a\r\nSet-Cookie: x=1'],
    ['quotes', 'say "hi"'],
    ['backslashes', 'C:\\dir\\'],
    ['NUL and DEL', '\u0000\u007f'],
    ['very long', 'x'.repeat(10_000)],
  ])('builds a well-formed ASCII challenge from a message with %s', (_label, text) => {
    for (const code of ['dpop_invalid', 'use_dpop_nonce', 'dpop_invalid_token', 'dpop_replayed'] as const) {
      const error = new CallerProofError('dpop', code, `the proof ${text} is bad`, {
        algs: ALGS,
        nonce: `n\u00e9\r\n`,
      });
      const response = toErrorResponse(error, 'corr-1');
      expect(response.status).toBe(401);
      expect(response.headers['www-authenticate']).toMatch(CHALLENGE);
      for (const value of Object.values(response.headers)) expect(value).toMatch(/^[\x20-\x7e]*$/);
      expect(response.body.message).toBe(`the proof ${text} is bad`);
    }
  });

  it('writes the admission and DPoP challenges as documented', () => {
    expect(new CallerProofError('admission', 'admission_replayed', 'm').headers).toEqual({
      'www-authenticate': 'ShieldX-Admission error="admission_replayed"',
    });
    expect(new CallerProofError('dpop', 'dpop_missing', 'm', { algs: ALGS }).headers).toEqual({
      'www-authenticate': `DPoP algs="${ALGS}"`,
    });
    expect(new CallerProofError('dpop', 'use_dpop_nonce', 'say "x"', { nonce: 'abc' }).headers).toEqual({
      'www-authenticate': 'DPoP error="use_dpop_nonce", error_description="say \\"x\\""',
      'dpop-nonce': 'abc',
    });
    expect(new CallerProofError('dpop', 'replay_store_unavailable', 'm', { algs: ALGS }).headers).toMatchObject({
      'retry-after': '1',
    });
  });

  it('answers a used-up replay share with 429, Retry-After in whole seconds and no challenge', () => {
    const quota = new CallerProofError('dpop', 'replay_quota_exceeded', 'm', { algs: ALGS, retryAfterMs: 60_500 });
    expect(quota.status).toBe(429);
    expect(quota.headers).toEqual({ 'retry-after': '61' });
    const full = new CallerProofError('admission', 'replay_store_full', 'm');
    expect([full.status, full.headers]).toEqual([429, { 'retry-after': '1' }]);
  });
});
