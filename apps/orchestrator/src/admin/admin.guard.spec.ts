import type { ExecutionContext } from '@nestjs/common';
import { EMPTY_IDENTITY, signUserAssertion, type ClientIdentity } from '@shieldx/security';
import type { FastifyRequest } from 'fastify';
import { generateKeyPairSync } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { loadConfig, type Env } from '../config/config';
import { SecurityEvents, type SecurityEvent } from '../events/security-events';
import { AdminGuard, adminActor } from './admin.guard';

const TOKEN = 'a-token-of-at-least-sixteen-characters';
const TLS: Env = { ORCH_TLS_CERT_FILE: 's.pem', ORCH_TLS_KEY_FILE: 's.key', ORCH_TLS_CLIENT_CA_FILE: 'ca.pem' };
const GET_POOLS = { method: 'GET', url: '/admin/pools' };

function guard(env: Env): { guard: AdminGuard; events: SecurityEvent[] } {
  const events: SecurityEvent[] = [];
  const sink = { write: (event: SecurityEvent) => events.push(event) };
  return { guard: new AdminGuard(loadConfig(env).config, new SecurityEvents([sink])), events };
}

function request(
  ip: string,
  headers: Record<string, string> = {},
  identity: ClientIdentity = EMPTY_IDENTITY,
  route: { method: string; url: string; id?: string } = { method: 'GET', url: '/admin/pools' },
) {
  return {
    id: route.id ?? 'corr-1',
    method: route.method,
    headers,
    routeOptions: { url: route.url },
    gateway: { clientIp: ip, identity },
    raw: { once: () => undefined },
  } as unknown as FastifyRequest;
}

/** Like {@link check}, for a request that carries a user assertion (verified asynchronously). */
async function attempt(g: AdminGuard, req: FastifyRequest): Promise<string> {
  const context = { switchToHttp: () => ({ getRequest: () => req }) } as unknown as ExecutionContext;
  try {
    await g.canActivate(context);
    return adminActor(req);
  } catch (error) {
    return (error as { code: string }).code;
  }
}

/** The `data` of an event, for reading its members. */
const dataOf = (event: SecurityEvent) => event.data as Record<string, unknown>;

function check(g: AdminGuard, req: FastifyRequest): string {
  const context = { switchToHttp: () => ({ getRequest: () => req }) } as unknown as ExecutionContext;
  try {
    // Without a user assertion the guard decides synchronously.
    if (g.canActivate(context) !== true) throw new Error('expected a synchronous admission');
    return adminActor(req);
  } catch (error) {
    return (error as { code: string }).code;
  }
}

describe(AdminGuard.name, () => {
  it('is open without credentials only in insecure dev mode and only on loopback', () => {
    const dev = guard({ ORCH_ALLOW_INSECURE: '1' }).guard;
    expect(check(dev, request('127.0.0.1'))).toBe('insecure-loopback');
    expect(check(dev, request('::1'))).toBe('insecure-loopback');
    expect(check(dev, request('10.0.0.8'))).toBe('admin_closed');
    expect(check(guard(TLS).guard, request('127.0.0.1'))).toBe('admin_closed');
  });

  it('needs the bearer token once one is configured, even on loopback in dev mode', () => {
    const g = guard({ ORCH_ALLOW_INSECURE: '1', ORCH_ADMIN_TOKEN: TOKEN }).guard;
    expect(check(g, request('127.0.0.1'))).toBe('admin_unauthorized');
    expect(check(g, request('127.0.0.1', { authorization: `Bearer ${TOKEN}x` }))).toBe('admin_unauthorized');
    expect(check(g, request('127.0.0.1', { authorization: `bearer ${TOKEN}` }))).toBe('token');
    expect(check(g, request('10.0.0.8', { authorization: `Bearer ${TOKEN}` }))).toBe('token');
  });

  it('admits an admin SAN, or the token, when both are configured', () => {
    const g = guard({ ...TLS, ORCH_ADMIN_TOKEN: TOKEN, ORCH_ADMIN_SANS: 'spiffe://x/ns/ops/' }).guard;
    const admin = { uris: ['spiffe://x/ns/ops/sa/alice'], dns: [] };
    const other = { uris: ['spiffe://x/ns/ops-evil/sa/alice'], dns: [] };
    expect(check(g, request('10.0.0.8', {}, admin))).toBe('san:spiffe://x/ns/ops/');
    expect(check(g, request('10.0.0.8', {}, other))).toBe('admin_unauthorized');
    expect(check(g, request('10.0.0.8', { authorization: `Bearer ${TOKEN}` }, other))).toBe('token');
    const sansOnly = guard({ ...TLS, ORCH_ADMIN_SANS: 'spiffe://x/ns/ops/' }).guard;
    expect(check(sansOnly, request('10.0.0.8', {}, other))).toBe('admin_identity_refused');
  });

  it('matches each SAN kind only against admin entries of its kind', () => {
    const g = guard({ ...TLS, ORCH_ADMIN_SANS: 'spiffe://x/ns/ops/sa/admin, ops.internal' }).guard;
    const as = (uris: string[], dns: string[]) => check(g, request('10.0.0.8', {}, { uris, dns }));
    expect(as(['spiffe://x/ns/ops/sa/admin'], [])).toBe('san:spiffe://x/ns/ops/sa/admin');
    expect(as([], ['OPS.internal'])).toBe('san:ops.internal');
    // A DNS SAN spelling the SPIFFE ID, and a URI SAN spelling the DNS name, are not admins.
    expect(as([], ['spiffe://x/ns/ops/sa/admin'])).toBe('admin_identity_refused');
    expect(as(['ops.internal'], [])).toBe('admin_identity_refused');
    expect(as(['spiffe://x/ns/ops/sa/Admin'], [])).toBe('admin_identity_refused');
  });

  it('folds refusals of one address into one auth.failed event per 10 s, across guard instances', () => {
    const events: SecurityEvent[] = [];
    const hub = new SecurityEvents([{ write: (event: SecurityEvent) => events.push(event) }]);
    const config = loadConfig({ ...TLS, ORCH_ADMIN_TOKEN: TOKEN }).config;
    // Nest makes one guard per module that uses it (admin, policy, ledger): they share one table per application.
    const first = new AdminGuard(config, hub);
    const second = new AdminGuard(config, hub);
    for (let i = 0; i < 5; i++) check(i % 2 === 0 ? first : second, request('10.0.0.8'));
    check(first, request('10.0.0.9'));
    expect(
      events.map((e) => [
        e.type,
        (e.data as Record<string, unknown>)['ip'],
        (e.data as Record<string, unknown>)['reason'],
      ]),
    ).toEqual([
      ['auth.failed', '10.0.0.0', 'admin_unauthorized'],
      ['auth.failed', '10.0.0.0', 'admin_unauthorized'],
    ]);
  });

  describe('refusals in the ledger', () => {
    const config = loadConfig({ ...TLS, ORCH_ADMIN_TOKEN: TOKEN }).config;
    const hub = () => {
      const events: SecurityEvent[] = [];
      return { events, hub: new SecurityEvents([{ write: (event: SecurityEvent) => events.push(event) }]) };
    };

    beforeEach(() => {
      vi.useFakeTimers();
    });
    afterEach(() => {
      vi.useRealTimers();
    });

    it('writes the count of folded refusals when their 10 s end, even when the refusals stop there', () => {
      const { events, hub: h } = hub();
      const g = new AdminGuard(config, h);
      for (let i = 0; i < 20; i++) check(g, request('10.0.0.8', {}, EMPTY_IDENTITY, { ...GET_POOLS, id: `c${i}` }));
      expect(events).toHaveLength(1);
      vi.advanceTimersByTime(9_999);
      expect(events).toHaveLength(1);
      vi.advanceTimersByTime(1);
      expect(events).toHaveLength(2);
      expect(events[0]).toMatchObject({
        corrId: 'c0',
        data: { scheme: 'admin', reason: 'admin_unauthorized', method: 'GET', route: '/admin/pools', ip: '10.0.0.0' },
      });
      // The count names the address and the reason it folds by, not one request's route.
      expect(events[1]).toEqual({
        type: 'auth.failed',
        corrId: 'c19',
        data: {
          scheme: 'admin',
          reason: 'admin_unauthorized',
          ip: '10.0.0.0',
          repeated: {
            count: 19,
            firstAt: expect.any(String),
            lastAt: expect.any(String),
            windowMs: 10_000,
            lastCorrId: 'c19',
          },
        },
      });
      // Nothing more to say, and nothing left to wake the process for.
      vi.advanceTimersByTime(60_000);
      expect(events).toHaveLength(2);
      expect(vi.getTimerCount()).toBe(0);
    });

    it('folds per reason, whatever the route: a forged user assertion is not folded under a bad token', async () => {
      const ui = generateKeyPairSync('ed25519');
      const attacker = generateKeyPairSync('ed25519');
      const { events, hub: h } = hub();
      const g = new AdminGuard(
        loadConfig({
          ...TLS,
          ORCH_ADMIN_TOKEN: TOKEN,
          ORCH_ADMIN_USER_KEYS: ui.publicKey.export({ format: 'pem', type: 'spki' }).toString(),
        }).config,
        h,
      );
      const forged = await signUserAssertion(
        { sub: 'mallory', role: 'admin' },
        { key: attacker.privateKey, issuer: 'shieldx-admin-ui', audience: 'shieldx-orchestrator' },
      );
      expect(check(g, request('10.0.0.8', { authorization: 'Bearer wrong' }))).toBe('admin_unauthorized');
      const reload = { method: 'POST', url: '/admin/config/reload' };
      for (let i = 0; i < 20; i++) {
        const headers = { authorization: `Bearer ${TOKEN}`, 'x-shieldx-user': forged };
        expect(await attempt(g, request('10.0.0.8', headers, EMPTY_IDENTITY, reload))).toBe('admin_user_invalid');
      }
      // A bad token on another route still folds under the first bad token.
      check(g, request('10.0.0.8', {}, EMPTY_IDENTITY, { method: 'DELETE', url: '/admin/pools/:name' }));
      vi.advanceTimersByTime(10_000);
      expect(events.map((e) => [dataOf(e)['reason'], dataOf(e)['route'], dataOf(e)['repeated']])).toEqual([
        ['admin_unauthorized', '/admin/pools', undefined],
        ['admin_user_invalid:bad_signature', '/admin/config/reload', undefined],
        ['admin_unauthorized', undefined, expect.objectContaining({ count: 1 })],
        ['admin_user_invalid:bad_signature', undefined, expect.objectContaining({ count: 19 })],
      ]);
    });

    it('writes a refusal pushed out of a full table with its count instead of dropping it', () => {
      const { events, hub: h } = hub();
      const g = new AdminGuard(config, h);
      // 1000 addresses, each refused twice: each is written once and holds one folded refusal.
      const address = (i: number) => `10.${i >> 8}.${i & 255}.1`;
      for (let i = 0; i < 1000; i++) for (let n = 0; n < 2; n++) check(g, request(address(i)));
      expect(events).toHaveLength(1000);
      check(g, request('192.168.7.7'));
      expect(events.slice(1000).map((e) => [dataOf(e)['ip'], dataOf(e)['repeated']])).toEqual([
        ['10.0.0.0', expect.objectContaining({ count: 1 })],
        ['192.168.7.0', undefined],
      ]);
    });

    it('writes what it still counts on shutdown, once for all guard instances, and stops its timer', () => {
      const { events, hub: h } = hub();
      const first = new AdminGuard(config, h);
      const second = new AdminGuard(config, h);
      for (let i = 0; i < 5; i++) check(i % 2 === 0 ? first : second, request('10.0.0.8'));
      expect(events).toHaveLength(1);
      first.beforeApplicationShutdown();
      second.beforeApplicationShutdown();
      expect(events).toHaveLength(2);
      expect(dataOf(events[1])['repeated']).toMatchObject({ count: 4 });
      expect(vi.getTimerCount()).toBe(0);
    });
  });
});
