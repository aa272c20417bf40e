import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestBackend, type TestBackend } from '../backends';
import { startOrchestrator, type RunningOrchestrator } from '../harness';
import { rawRequest } from './raw-http';

interface Answer {
  readonly status: number;
  /** Response header lines as sent (names lowercased), in order, duplicates kept. */
  readonly headers: readonly (readonly [string, string])[];
  readonly body: Record<string, unknown>;
}

/** A GET of `target` as acme/read with exactly these extra header lines, from `localAddress`. */
async function rawGet(
  base: string,
  target: string,
  lines: readonly (readonly [string, string])[],
  localAddress = '127.0.0.1',
): Promise<Answer> {
  const sent: (readonly [string, string])[] = [['X-Tenant', 'acme'], ['X-Scope', 'read'], ...lines];
  const answer = await rawRequest(base, 'GET', target, sent, localAddress);
  return { status: answer.status, headers: answer.fields, body: JSON.parse(answer.body) as Record<string, unknown> };
}

/** The headers the backend received, as its echo reports them. */
function received(answer: Answer): Record<string, string> {
  expect(answer.status).toBe(200);
  return answer.body['headers'] as Record<string, string>;
}

/** Everything a caller may send to pose as a proxy, speak for the client, or talk to a proxy. */
const SPOOFED: readonly (readonly [string, string])[] = [
  ['X-Forwarded-For', '198.51.100.7'],
  ['x-forwarded-for', '10.0.0.1'],
  ['X-Forwarded-Host', 'admin.internal'],
  ['X-Forwarded-Proto', 'https'],
  ['X-Forwarded-Port', '443'],
  ['X-Forwarded-Prefix', '/admin'],
  ['X-Forwarded-Server', 'edge-1'],
  ['X-Forwarded-Ssl', 'on'],
  ['X-Real-IP', '127.0.0.9'],
  ['Forwarded', 'for=198.51.100.7;proto=https;host=admin.internal'],
  ['Proxy-Authorization', 'Basic dXNlcjpwYXNz'],
  ['PROXY-CONNECTION', 'keep-alive'],
  ['Proxy-Anything', 'x'],
  ['X-Client-IP', '203.0.113.66'],
  ['True-Client-IP', '203.0.113.66'],
  ['CF-Connecting-IP', '203.0.113.66'],
  ['X_Forwarded_For', '203.0.113.66'],
  ['x-forwarded_for', '203.0.113.66'],
  ['X-Original-URL', '/internal/x'],
  ['X-Rewrite-URL', '/internal/x'],
  ['X-Custom', 'kept'],
];

/** Caller-sent values that must never reach the backend. */
const SPOOFED_VALUES = [
  '198.51.100.7',
  '10.0.0.1',
  'admin.internal',
  '127.0.0.9',
  '/admin',
  'edge-1',
  'dXNlcjpwYXNz',
  '203.0.113.66',
  '/internal/x',
];

function expectNoneOf(headers: Record<string, string>, values: readonly string[]): void {
  for (const [name, value] of Object.entries(headers)) {
    for (const spoofed of values) expect(`${name}: ${value}`).not.toContain(spoofed);
  }
}

describe('header hygiene on /proxy (adversarial)', () => {
  let backend: TestBackend;
  let orch: RunningOrchestrator;
  let trusting: RunningOrchestrator;
  let host: string;
  let trustingHost: string;

  beforeAll(async () => {
    backend = await startTestBackend('echo');
    orch = await startOrchestrator({ ORCH_POOL_API: backend.url });
    // A gateway behind a proxy at 127.0.0.1: its chains are kept and extended; 127.0.0.2 is anyone.
    trusting = await startOrchestrator({ ORCH_POOL_API: backend.url, ORCH_TRUSTED_PROXIES: '127.0.0.1/32' });
    host = new URL(orch.url).host;
    trustingHost = new URL(trusting.url).host;
  });

  afterAll(async () => {
    await orch?.close();
    await trusting?.close();
    await backend?.close();
  });

  it("drops every Proxy-* header and replaces an untrusted caller's Forwarded, X-Real-IP and X-Forwarded-*", async () => {
    const sent = received(await rawGet(orch.url, '/proxy/api/echo', SPOOFED));
    expectNoneOf(sent, SPOOFED_VALUES);
    for (const name of Object.keys(sent)) expect(name.startsWith('proxy-'), name).toBe(false);
    expect(sent).toMatchObject({
      'x-forwarded-for': '127.0.0.1',
      'x-real-ip': '127.0.0.1',
      'x-forwarded-proto': 'http',
      'x-forwarded-host': host,
      forwarded: `for=127.0.0.1;host="${host}";proto=http`,
      'x-custom': 'kept',
    });
    for (const name of ['x-forwarded-port', 'x-forwarded-prefix', 'x-forwarded-server', 'x-forwarded-ssl'])
      expect(sent[name], name).toBeUndefined();
  });

  it('cannot make the gateway drop its own identity headers by naming them in Connection; other named headers go', async () => {
    const sent = received(
      await rawGet(orch.url, '/proxy/api/echo', [
        ['Connection', 'X-Forwarded-For, x-real-ip, Forwarded, X-Forwarded-Proto, x-forwarded-host, X-Session'],
        ['Connection', 'x-correlation-id, x-other'],
        ['X-Session', 'hop'],
        ['X-Other', 'hop'],
        ...SPOOFED,
      ]),
    );
    expectNoneOf(sent, SPOOFED_VALUES);
    expect(sent['x-session']).toBeUndefined();
    expect(sent['x-other']).toBeUndefined();
    expect(sent).toMatchObject({
      'x-forwarded-for': '127.0.0.1',
      'x-real-ip': '127.0.0.1',
      'x-forwarded-proto': 'http',
      'x-forwarded-host': host,
      forwarded: `for=127.0.0.1;host="${host}";proto=http`,
      'x-correlation-id': expect.any(String),
    });
  });

  it('extends the chains of a trusted proxy with its address and gives the client IP it vouches for', async () => {
    const sent = received(await rawGet(trusting.url, '/proxy/api/echo', SPOOFED, '127.0.0.1'));
    expect(sent).toMatchObject({
      // Both header lines, joined in order, then the hop the gateway saw.
      'x-forwarded-for': '198.51.100.7, 10.0.0.1, 127.0.0.1',
      forwarded: `for=198.51.100.7;proto=https;host=admin.internal, for=127.0.0.1;host="${trustingHost}";proto=http`,
      // The right-most address that is not a trusted proxy: what the gateway resolved as the client IP.
      'x-real-ip': '10.0.0.1',
      // What the gateway itself knows of the request; the proxy's other claims are dropped.
      'x-forwarded-proto': 'http',
      'x-forwarded-host': trustingHost,
    });
    for (const name of ['x-forwarded-port', 'x-forwarded-prefix', 'x-forwarded-server', 'x-forwarded-ssl'])
      expect(sent[name], name).toBeUndefined();
    expect(sent['proxy-authorization']).toBeUndefined();
  });

  it('replaces the chains of a caller outside the trusted proxies, on the same gateway', async () => {
    const sent = received(await rawGet(trusting.url, '/proxy/api/echo', SPOOFED, '127.0.0.2'));
    expectNoneOf(sent, SPOOFED_VALUES);
    expect(sent).toMatchObject({
      'x-forwarded-for': '127.0.0.2',
      'x-real-ip': '127.0.0.2',
      forwarded: `for=127.0.0.2;host="${trustingHost}";proto=http`,
    });
  });

  it("drops the backend's hop-by-hop, Connection-named and Proxy-* response headers", async () => {
    const answer = await rawGet(orch.url, '/proxy/api/hop', []);
    expect(answer.status).toBe(200);
    const names = answer.headers.map(([name]) => name);
    for (const name of ['x-hop', 'x-hop-2', 'proxy-authenticate', 'proxy-connection', 'proxy-status', 'upgrade'])
      expect(names, name).not.toContain(name);
    expect(answer.headers).not.toContainEqual(['keep-alive', 'timeout=5']);
    // The gateway's own connection handling: the client asked to close.
    expect(answer.headers.filter(([name]) => name === 'connection')).toEqual([['connection', 'close']]);
    expect(answer.headers).toContainEqual(['x-end-to-end', 'kept']);
  });
});
