import { describe, expect, it } from 'vitest';
import { downstreamResponseHeaders, upstreamRequestHeaders, type ForwardedFor } from './headers';

const via: ForwardedFor = {
  clientIp: '203.0.113.7',
  peerIp: '203.0.113.7',
  peerTrusted: false,
  proto: 'https',
  host: 'gw.example.com',
  correlationId: 'c-1',
};

/** What the gateway writes for `via` when the caller sent no chain of its own. */
const OWN = {
  'x-forwarded-for': '203.0.113.7',
  forwarded: 'for=203.0.113.7;host="gw.example.com";proto=https',
  'x-real-ip': '203.0.113.7',
  'x-forwarded-proto': 'https',
  'x-forwarded-host': 'gw.example.com',
  'x-correlation-id': 'c-1',
};

/** Everything a caller might send to pose as a proxy or to speak for the client. */
const CALLER_IDENTITY = {
  'x-forwarded-for': '198.51.100.1, 10.0.0.1',
  'x-forwarded-host': 'evil.example',
  'x-forwarded-proto': 'http',
  'x-forwarded-port': '1',
  'x-forwarded-prefix': '/admin',
  'x-forwarded-server': 'evil',
  'x-real-ip': '127.0.0.1',
  forwarded: 'for=127.0.0.1;proto=https',
};

describe('proxy headers', () => {
  it('drops hop-by-hop headers, Expect, and those the Connection header names, in any case and list form', () => {
    for (const connection of ['keep-alive, X-Session', 'X-SESSION', 'close,x-session']) {
      const out = upstreamRequestHeaders(
        {
          connection,
          'keep-alive': 'timeout=5',
          'x-session': 's',
          te: 'trailers',
          expect: '100-continue',
          accept: 'a',
          host: 'h',
        },
        via,
      );
      expect(out).toEqual({ accept: 'a', ...OWN });
    }
  });

  it('drops every Proxy-* request header', () => {
    const out = upstreamRequestHeaders(
      {
        'proxy-authorization': 'Basic c2VjcmV0',
        'proxy-connection': 'keep-alive',
        'proxy-authenticate': 'Basic',
        'proxy-anything': 'x',
        proxyish: 'kept: not a Proxy- header',
        accept: 'a',
      },
      via,
    );
    expect(out).toEqual({ proxyish: 'kept: not a Proxy- header', accept: 'a', ...OWN });
  });

  it("replaces an untrusted caller's Forwarded, X-Real-IP and X-Forwarded-* with the gateway's own", () => {
    const out = upstreamRequestHeaders({ ...CALLER_IDENTITY, accept: 'a' }, via);
    expect(out).toEqual({ accept: 'a', ...OWN });
  });

  it('extends the X-Forwarded-For and Forwarded chains of a trusted proxy with its address', () => {
    const out = upstreamRequestHeaders(
      { ...CALLER_IDENTITY, forwarded: 'for=198.51.100.1, for=10.0.0.1', accept: 'a' },
      { ...via, clientIp: '198.51.100.1', peerIp: '10.0.0.2', peerTrusted: true },
    );
    expect(out).toEqual({
      accept: 'a',
      'x-forwarded-for': '198.51.100.1, 10.0.0.1, 10.0.0.2',
      forwarded: 'for=198.51.100.1, for=10.0.0.1, for=10.0.0.2;host="gw.example.com";proto=https',
      'x-real-ip': '198.51.100.1',
      'x-forwarded-proto': 'https',
      'x-forwarded-host': 'gw.example.com',
      'x-correlation-id': 'c-1',
    });
  });

  it('quotes an IPv6 peer and leaves out of Forwarded a Host that is not a plain host[:port]', () => {
    const out = upstreamRequestHeaders(
      {},
      { ...via, clientIp: '2001:db8::1', peerIp: '2001:db8::1', host: 'a";for=1.2.3.4' },
    );
    expect(out['forwarded']).toBe('for="[2001:db8::1]";proto=https');
    expect(out['x-forwarded-host']).toBe('a";for=1.2.3.4');
    expect(upstreamRequestHeaders({}, { ...via, host: '[::1]:8443' })['forwarded']).toBe(
      'for=203.0.113.7;host="[::1]:8443";proto=https',
    );
  });

  it('strips the gateway-only headers', () => {
    const out = upstreamRequestHeaders(
      { 'x-shieldx-admission': 'v1=mac', accept: 'a' },
      { ...via, host: undefined, strip: new Set(['x-shieldx-admission']) },
    );
    expect(out).toEqual({
      accept: 'a',
      'x-forwarded-for': '203.0.113.7',
      forwarded: 'for=203.0.113.7;proto=https',
      'x-real-ip': '203.0.113.7',
      'x-forwarded-proto': 'https',
      'x-correlation-id': 'c-1',
    });
  });

  it('keeps every end-to-end response header when Connection is plain keep-alive or close', () => {
    for (const connection of ['keep-alive', 'Keep-Alive', 'close']) {
      expect(
        downstreamResponseHeaders({
          connection,
          'keep-alive': 'timeout=5',
          'content-type': 'application/json',
          'content-length': '26',
          'x-backend': 'b1',
          'transfer-encoding': 'chunked',
        }),
      ).toEqual({ 'content-type': 'application/json', 'content-length': '26', 'x-backend': 'b1' });
    }
  });

  it('drops hop-by-hop, Connection-named and Proxy-* response headers', () => {
    expect(
      downstreamResponseHeaders({
        connection: 'keep-alive, X-Internal',
        'x-internal': 'secret',
        'proxy-authenticate': 'Basic realm="backend"',
        'proxy-connection': 'keep-alive',
        upgrade: 'h2c',
        trailer: 'x-checksum',
        te: 'trailers',
        'set-cookie': ['a=1', 'b=2'],
      }),
    ).toEqual({ 'set-cookie': ['a=1', 'b=2'] });
  });
});
