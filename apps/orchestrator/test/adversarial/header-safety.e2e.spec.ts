import { generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDemoBackend, type RunningDemoBackend } from '../../src/demo/demo-backends';
import { startOrchestrator, type RunningOrchestrator } from '../harness';

/**
 * Everything the gateway writes in a refusal's headers is ASCII-safe by construction: whatever a proof field or an
 * admission header holds (non-ASCII, CR/LF, quotes, backslashes, very long text), the client gets the documented JSON
 * body with its correlation id, a well-formed `WWW-Authenticate` challenge, and no Fastify fallback body.
 */

const PUBLIC = 'https://gw.example.com';
const HTU = `${PUBLIC}/route`;
const BODY = JSON.stringify({ service: 'api', tenant: 'acme', scope: 'read', path: '/v1/items' });
/** RFC 9110 §11.6.1: a scheme, then auth-params whose values are tokens or quoted-strings. */
const PARAM = '[a-z_]+=(?:"(?:[\\x20\\x21\\x23-\\x5b\\x5d-\\x7e]|\\\\[\\x20-\\x7e])*"|[A-Za-z0-9._~+/-]+=*)';
const CHALLENGE = new RegExp(`^[A-Za-z-]+(?: ${PARAM}(?:, ${PARAM})*)?$`);

/** Values no header may carry raw. */
const NASTY: readonly [string, string][] = [
  ['non-ASCII', 'jti-é-😀-\u00ff-\u0100'],
  ['CR/LF', 'a\r\nSet-Cookie: pwned=1\r\n\r\n'],
  ['quotes', 'say "hi" and \'bye\''],
  ['backslashes', 'C:\\path\\" \\'],
  ['NUL and DEL', 'a\u0000b\u007fc'],
  ['a very long value', 'x'.repeat(3000)],
];

interface RawAnswer {
  readonly status: number;
  /** The response head as bytes. */
  readonly head: Buffer;
  readonly headers: Map<string, string>;
  readonly body: Record<string, unknown>;
}

/** Sends one request as raw bytes (header values as latin1 bytes) and reads the raw answer. */
function raw(url: string, headers: readonly [string, string][]): Promise<RawAnswer> {
  const { hostname, port } = new URL(url);
  const lines = [
    'POST /route HTTP/1.1',
    `Host: ${hostname}:${port}`,
    'Content-Type: application/json',
    `Content-Length: ${Buffer.byteLength(BODY)}`,
    'Connection: close',
    ...headers.map(([name, value]) => `${name}: ${value}`),
  ];
  const request = Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), Buffer.from(BODY)]);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    // Written without half-closing: the server closes the connection after its answer (Connection: close).
    const socket = connect({ host: hostname, port: Number(port) }, () => socket.write(request));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      const all = Buffer.concat(chunks);
      const split = all.indexOf('\r\n\r\n');
      const head = all.subarray(0, split);
      const [statusLine, ...fields] = head.toString('latin1').split('\r\n');
      const parsed = new Map<string, string>();
      for (const field of fields) {
        const colon = field.indexOf(':');
        parsed.set(field.slice(0, colon).toLowerCase(), field.slice(colon + 1).trim());
      }
      resolve({
        status: Number(statusLine.split(' ')[1]),
        head,
        headers: parsed,
        body: JSON.parse(all.subarray(split + 4).toString('utf8')) as Record<string, unknown>,
      });
    });
  });
}

/** The head is ASCII only and a refusal's JSON body carries the correlation id of the `X-Correlation-ID` header. */
function expectIntactAnswer(answer: RawAnswer, label: string): void {
  expect(
    [...answer.head].every((b) => b === 0x0d || b === 0x0a || (b >= 0x20 && b < 0x7f)),
    label,
  ).toBe(true);
  expect(answer.headers.has('set-cookie'), label).toBe(false);
  if (answer.status !== 200) expect(answer.body['correlationId'], label).toBe(answer.headers.get('x-correlation-id'));
}

/** The answer is the documented refusal, intact: JSON with its correlation id, ASCII-only head, one good challenge. */
function expectIntactRefusal(answer: RawAnswer, error: RegExp, label: string): void {
  expect(answer.status, label).toBe(401);
  expectIntactAnswer(answer, label);
  expect(answer.body['error'], label).toMatch(error);
  expect(answer.headers.get('www-authenticate'), label).toMatch(CHALLENGE);
}

const b64 = (value: unknown) =>
  Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

describe('refusals of DPoP proofs whose fields hold hostile text', () => {
  let backend: RunningDemoBackend;
  let orch: RunningOrchestrator;
  let key: KeyObject;
  let jwk: Record<string, unknown>;
  let nonce: string;

  beforeAll(async () => {
    const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    key = pair.privateKey;
    jwk = pair.publicKey.export({ format: 'jwk' });
    backend = await startDemoBackend({ name: 'a', delayMs: 0, jitterMs: 0 });
    orch = await startOrchestrator({
      ORCH_POOL_API: backend.url,
      ORCH_PUBLIC_URL: PUBLIC,
      ORCH_DPOP_NONCE: '1',
      ORCH_IP_BURST: '100000',
    });
    nonce = (await raw(orch.url, [])).headers.get('dpop-nonce') ?? '';
  });

  afterAll(async () => {
    await orch?.close();
    await backend?.close();
  });

  /** A validly signed proof with these header and claim overrides (so every claim check is reached). */
  function proof(header: Record<string, unknown>, claims: Record<string, unknown>): string {
    const input = `${b64({ alg: 'ES256', typ: 'dpop+jwt', jwk, ...header })}.${b64({
      htm: 'POST',
      htu: HTU,
      iat: Math.floor(Date.now() / 1000),
      jti: randomBytes(12).toString('hex'),
      nonce,
      ...claims,
    })}`;
    return `${input}.${sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
  }

  it('admits a clean proof (the fields below are the only difference)', async () => {
    expect((await raw(orch.url, [['DPoP', proof({}, {})]])).status).toBe(200);
  });

  const fields: [string, (text: string) => [Record<string, unknown>, Record<string, unknown>]][] = [
    ['jti', (text) => [{}, { jti: text }]],
    ['htm', (text) => [{}, { htm: text }]],
    ['htu', (text) => [{}, { htu: `${PUBLIC}/${text}` }]],
    ['htu (not a URL)', (text) => [{}, { htu: text }]],
    ['iat', (text) => [{}, { iat: text }]],
    ['nonce', (text) => [{}, { nonce: text }]],
    ['ath', (text) => [{}, { ath: text }]],
    ['typ', (text) => [{ typ: text }, {}]],
    ['alg', (text) => [{ alg: text }, {}]],
    ['jwk.kty', (text) => [{ jwk: { ...jwk, kty: text } }, {}]],
    ['jwk.crv', (text) => [{ jwk: { ...jwk, crv: text } }, {}]],
    ['jwk.kid', (text) => [{ jwk: { ...jwk, kid: text } }, {}]],
    ['jwk member name', (text) => [{ jwk: { ...jwk, [text]: 1 } }, {}]],
    ['crit', (text) => [{ crit: [text], [text]: true }, {}]],
    ['a header member', (text) => [{ [text]: text }, {}]],
  ];

  for (const [field, make] of fields) {
    it(`answers intact whatever ${field} holds: accepted where any string is, else a well-formed refusal`, async () => {
      for (const [label, text] of NASTY) {
        const [header, claims] = make(text);
        const answer = await raw(orch.url, [['DPoP', proof(header, claims)]]);
        if (answer.status === 200) expectIntactAnswer(answer, `${field}: ${label}`);
        else expectIntactRefusal(answer, /^(dpop_invalid|use_dpop_nonce)$/, `${field}: ${label}`);
      }
    });
  }

  it('refuses a malformed jti, a wrong ath and an oversized kid holding hostile text with an intact challenge', async () => {
    const token = 'a-bound-access-token';
    for (const [label, text] of NASTY) {
      const jti = `${text}${'j'.repeat(300)}`;
      const malformed = await raw(orch.url, [['DPoP', proof({}, { jti })]]);
      expectIntactRefusal(malformed, /^dpop_invalid$/, `jti: ${label}`);
      // The message's own en dash reaches the body as it is and the challenge in ASCII.
      expect(malformed.body['message']).toBe('the proof jti must be a string of 1\u2013256 characters');
      expect(malformed.headers.get('www-authenticate')).toContain(
        'error_description="the proof jti must be a string of 1-256 characters"',
      );
      expectIntactRefusal(
        await raw(orch.url, [
          ['Authorization', `DPoP ${token}`],
          ['DPoP', proof({}, { ath: text })],
        ]),
        /^dpop_invalid$/,
        `ath: ${label}`,
      );
      const kid = `${text}${'k'.repeat(300)}`;
      expectIntactRefusal(
        await raw(orch.url, [['DPoP', proof({ jwk: { ...jwk, kid } }, {})]]),
        /^dpop_invalid$/,
        `kid: ${label}`,
      );
    }
  });

  it('keeps the refusal intact for a payload that is not JSON, and for a replay', async () => {
    const input = `${b64({ alg: 'ES256', typ: 'dpop+jwt', jwk })}.${b64('jti-é\r\n"\\')}`;
    const signature = sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' }).toString('base64url');
    expectIntactRefusal(await raw(orch.url, [['DPoP', `${input}.${signature}`]]), /^dpop_invalid$/, 'not JSON');
    const once = proof({}, { jti: 'é"\\ replayed' });
    expect((await raw(orch.url, [['DPoP', once]])).status).toBe(200);
    expectIntactRefusal(await raw(orch.url, [['DPoP', once]]), /^dpop_replayed$/, 'replay');
  });

  it('keeps the refusal intact for a DPoP header or Authorization header of latin1 bytes, quotes and backslashes', async () => {
    for (const [label, text] of NASTY.filter(([name]) => name !== 'CR/LF' && name !== 'NUL and DEL')) {
      const value = Buffer.from(text, 'utf8').toString('latin1');
      expectIntactRefusal(await raw(orch.url, [['DPoP', value]]), /^dpop_invalid$/, `DPoP: ${label}`);
      expectIntactRefusal(
        await raw(orch.url, [
          ['Authorization', `DPoP ${value}`],
          ['DPoP', proof({}, {})],
        ]),
        // A long run of `x` is a well-formed token68: its proof then lacks the token's ath.
        /^dpop_invalid(_token)?$/,
        `Authorization: ${label}`,
      );
    }
  });
});

describe('refusals of admission headers holding hostile text', () => {
  let orch: RunningOrchestrator;

  beforeAll(async () => {
    orch = await startOrchestrator({ ADMISSION_SECRET: 'header-safety-secret-0001', ORCH_IP_BURST: '100000' });
  });

  afterAll(async () => {
    await orch?.close();
  });

  it('keeps the refusal intact, its challenge naming only the code', async () => {
    for (const [label, text] of NASTY.filter(([name]) => name !== 'CR/LF' && name !== 'NUL and DEL')) {
      const value = Buffer.from(text, 'utf8').toString('latin1');
      for (const header of [value, `t=1,n=${value},v1=00`, `${value}=1,t=1`]) {
        const answer = await raw(orch.url, [['X-ShieldX-Admission', header]]);
        expectIntactRefusal(answer, /^admission_/, `admission: ${label}`);
        expect(answer.headers.get('www-authenticate')).toMatch(/^ShieldX-Admission error="admission_[a-z]+"$/);
      }
    }
  });
});
