import type { IncomingMessage } from 'node:http';
import { TrustedProxies } from '@shieldx/security';
import { describe, expect, it } from 'vitest';
import { correlate } from './correlation';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function request(id: string | undefined, socket: Record<string, unknown>): IncomingMessage {
  return { headers: id === undefined ? {} : { 'x-correlation-id': id }, socket } as unknown as IncomingMessage;
}

describe(correlate.name, () => {
  const none = new TrustedProxies([]);
  const proxies = new TrustedProxies(['10.1.0.0/16']);

  it('takes a sane id from a trusted proxy or a verified client certificate', () => {
    expect(correlate(request('trace-1', { remoteAddress: '10.1.2.3' }), proxies)).toEqual({ corrId: 'trace-1' });
    expect(correlate(request('trace-1', { remoteAddress: '::ffff:10.1.2.3' }), proxies)).toEqual({
      corrId: 'trace-1',
    });
    expect(correlate(request('trace-1', { remoteAddress: '192.0.2.1', authorized: true }), none)).toEqual({
      corrId: 'trace-1',
    });
  });

  it('gives anyone else a fresh id and keeps theirs apart', () => {
    const anonymous = correlate(request('admin-request-id', { remoteAddress: '192.0.2.1' }), proxies);
    expect(anonymous.corrId).toMatch(UUID);
    expect(anonymous.callerCorrId).toBe('admin-request-id');
    const unverified = correlate(request('x', { remoteAddress: '192.0.2.1', authorized: false }), none);
    expect(unverified.corrId).toMatch(UUID);
    expect(unverified.callerCorrId).toBe('x');
  });

  it('drops an insane id altogether', () => {
    for (const id of ['bad id', 'a'.repeat(129), 'é', '', 'x\r\ny']) {
      expect(correlate(request(id, { remoteAddress: '10.1.2.3' }), proxies)).toEqual({
        corrId: expect.stringMatching(UUID),
      });
    }
    expect(correlate(request(undefined, { remoteAddress: '10.1.2.3' }), proxies).callerCorrId).toBeUndefined();
  });
});
