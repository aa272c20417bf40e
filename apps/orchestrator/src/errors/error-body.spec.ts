import { describe, expect, it } from 'vitest';
import { quotedString, safeHeaders, safeHeaderValue, toErrorResponse } from './error-body';
import { GatewayError } from './errors';

/** What Node accepts in a header value (`ERR_INVALID_CHAR` otherwise); the gateway keeps to visible ASCII and space. */
const NODE_SAFE = /^[\t\x20-\x7e]*$/;

class EchoError extends GatewayError {
  readonly status = 401;
  readonly code = 'echo';
  override readonly headers: Readonly<Record<string, string>>;
  constructor(headers: Record<string, string>) {
    super('echo');
    this.headers = headers;
  }
}

const NASTY = [
  'caf\u00e9',
  'a\r\nSet-Cookie: x=1',
  'quo"te',
  'back\\slash',
  '\u0000nul',
  '\u{1F600}',
  'tab\there',
  'x'.repeat(5000),
];

describe(safeHeaderValue.name, () => {
  it.each(NASTY)('makes %j safe for any header', (text) => {
    const value = safeHeaderValue(text);
    expect(value).toMatch(/^[\x20-\x7e]*$/);
    expect(value.length).toBeLessThanOrEqual(1024);
    expect(value).not.toMatch(/[\r\n]/);
  });

  it('keeps a value that is already safe as it is, and writes our own punctuation in ASCII', () => {
    expect(safeHeaderValue('DPoP algs="ES256"')).toBe('DPoP algs="ES256"');
    expect(safeHeaderValue('caf\u00e9\r\nx')).toBe('caf???x');
    expect(safeHeaderValue('1\u2013256 \u00b1 60 s\u2026 \u{1F600}')).toBe('1-256 +/- 60 s... ?');
  });
});

describe(quotedString.name, () => {
  it('escapes quotes and backslashes as quoted-pairs and replaces the rest of non-ASCII', () => {
    expect(quotedString('say "hi" \\ bye')).toBe('"say \\"hi\\" \\\\ bye"');
    expect(quotedString('caf\u00e9\r\n')).toBe('"caf???"');
    expect(quotedString('\u201cquoted\u201d')).toBe('"\\"quoted\\""');
  });

  it('cuts long text to 256 characters before escaping, so the quoted-string always closes', () => {
    const quoted = quotedString('"'.repeat(1000));
    expect(quoted).toMatch(/^"(\\"){253}\.\.\."$/);
  });
});

describe(safeHeaders.name, () => {
  it('returns the same object when every header is already safe', () => {
    const headers = { 'retry-after': '1', 'www-authenticate': 'Bearer realm="x"' };
    expect(safeHeaders(headers)).toBe(headers);
  });

  it('cleans every unsafe value and drops names that are not tokens', () => {
    expect(safeHeaders({ a: 'ok', b: 'caf\u00e9', 'bad name': 'x', 'c\r\nd': 'y', e: 'fine' })).toEqual({
      a: 'ok',
      b: 'caf?',
      e: 'fine',
    });
  });
});

describe(toErrorResponse.name, () => {
  it.each(NASTY)('never hands a raw %j to a response header', (text) => {
    const response = toErrorResponse(new EchoError({ 'www-authenticate': `X error="${text}"`, 'x-echo': text }), 'c1');
    for (const value of Object.values(response.headers)) expect(value).toMatch(NODE_SAFE);
    expect(response.body).toEqual({ error: 'echo', message: 'echo', correlationId: 'c1' });
  });
});
