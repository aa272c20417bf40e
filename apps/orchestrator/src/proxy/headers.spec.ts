import { describe, expect, it } from 'vitest';
import { downstreamResponseHeaders, upstreamRequestHeaders } from './headers';

const via = { clientIp: '203.0.113.7', proto: 'https' as const, host: 'gw.example.com', correlationId: 'c-1' };

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
      expect(out).toEqual({
        accept: 'a',
        'x-forwarded-for': '203.0.113.7',
        'x-forwarded-proto': 'https',
        'x-forwarded-host': 'gw.example.com',
        'x-correlation-id': 'c-1',
      });
    }
  });

  it('keeps every end-to-end header when Connection is plain keep-alive or close', () => {
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

  it('extends X-Forwarded-For and strips the gateway-only headers', () => {
    const out = upstreamRequestHeaders(
      { 'x-forwarded-for': ['198.51.100.1', '198.51.100.2'], 'x-shieldx-admission': 'v1=mac', accept: 'a' },
      { ...via, host: undefined, strip: new Set(['x-shieldx-admission']) },
    );
    expect(out).toEqual({
      accept: 'a',
      'x-forwarded-for': '198.51.100.1, 198.51.100.2, 203.0.113.7',
      'x-forwarded-proto': 'https',
      'x-correlation-id': 'c-1',
    });
  });
});
