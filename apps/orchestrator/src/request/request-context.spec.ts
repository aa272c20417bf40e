import { TrustedProxies } from '@shieldx/security';
import { EventEmitter } from 'node:events';
import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { callerCorrIdOf, correlationIdWithContext, currentCorrId } from './request-context';

/** A request as genReqId sees it: URL, headers and the connection's address. */
function fakeRequest(url: string, socket: object = { remoteAddress: '198.51.100.1' }, headers = {}): IncomingMessage {
  return Object.assign(new EventEmitter(), { url, headers, socket }) as unknown as IncomingMessage;
}

/** Runs `body` in an execution context of its own (as each connection's parser callbacks are). */
function inOwnContext<T>(body: () => T): Promise<T> {
  return new Promise((resolve) => setImmediate(() => resolve(body())));
}

describe('correlationIdWithContext', () => {
  const genReqId = correlationIdWithContext(new TrustedProxies([]));

  it('enters the context of a control-plane request and turns it off when the last one ends', async () => {
    const probe = fakeRequest('/healthz');
    const corrId = await inOwnContext(() => {
      const id = genReqId(probe);
      expect(currentCorrId()).toBe(id);
      return id;
    });
    // Followed through awaits while the request is in flight.
    await inOwnContext(async () => {
      const admin = fakeRequest('/admin/pools');
      const adminId = genReqId(admin);
      await new Promise((resolve) => setTimeout(resolve, 1));
      expect(currentCorrId()).toBe(adminId);
      admin.emit('close');
    });
    probe.emit('close');
    expect(corrId).toMatch(/^[0-9a-f-]{36}$/);
    await inOwnContext(() => {
      genReqId(fakeRequest('/route'));
      expect(currentCorrId()).toBeUndefined();
    });
  });

  it('enters a data-plane request only while the context is on for another reason', async () => {
    const admin = fakeRequest('/admin/policy/reload');
    await inOwnContext(() => genReqId(admin));
    await inOwnContext(() => {
      const id = genReqId(fakeRequest('/proxy/api/x'));
      expect(currentCorrId()).toBe(id);
    });
    admin.emit('close');
    await inOwnContext(() => {
      const request = fakeRequest('/route?debug=1');
      const id = genReqId(request);
      expect(currentCorrId()).toBeUndefined();
      expect(id).toMatch(/^[0-9a-f-]{36}$/);
    });
    // `/routes` is not the data plane.
    const other = fakeRequest('/routes');
    await inOwnContext(() => {
      const id = genReqId(other);
      expect(currentCorrId()).toBe(id);
    });
    other.emit('close');
  });

  it("never leaves an earlier request's context to a data-plane request on the same connection", async () => {
    const connection = { remoteAddress: '198.51.100.2' };
    await inOwnContext(() => {
      const probe = fakeRequest('/healthz', connection);
      genReqId(probe);
      probe.emit('close');
      // The next request on this connection runs where the parser left the probe's context.
      genReqId(fakeRequest('/route', connection));
      expect(currentCorrId()).toBeUndefined();
    });
  });

  it('keeps the context on for the data plane too when asked (ORCH_LOG_DATA_PLANE_CONTEXT=1)', async () => {
    const always = correlationIdWithContext(new TrustedProxies([]), true);
    await inOwnContext(() => {
      const id = always(fakeRequest('/route'));
      expect(currentCorrId()).toBe(id);
    });
  });

  it("knows the caller's own correlation id of a request in flight, and forgets it when the request ends", async () => {
    const request = fakeRequest('/route', { remoteAddress: '198.51.100.3' }, { 'x-correlation-id': 'callers-own-1' });
    const corrId = await inOwnContext(() => genReqId(request));
    expect(corrId).not.toBe('callers-own-1');
    expect(callerCorrIdOf(corrId)).toBe('callers-own-1');
    request.emit('close');
    expect(callerCorrIdOf(corrId)).toBeUndefined();
  });
});
