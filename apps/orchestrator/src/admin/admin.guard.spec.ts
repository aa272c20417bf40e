import type { ExecutionContext } from '@nestjs/common';
import { EMPTY_IDENTITY, type ClientIdentity } from '@shieldx/security';
import type { FastifyRequest } from 'fastify';
import { describe, expect, it } from 'vitest';
import { loadConfig, type Env } from '../config/config';
import { SecurityEvents, type SecurityEvent } from '../events/security-events';
import { AdminGuard, adminActor } from './admin.guard';

const TOKEN = 'a-token-of-at-least-sixteen-characters';
const TLS: Env = { ORCH_TLS_CERT_FILE: 's.pem', ORCH_TLS_KEY_FILE: 's.key', ORCH_TLS_CLIENT_CA_FILE: 'ca.pem' };

function guard(env: Env): { guard: AdminGuard; events: SecurityEvent[] } {
  const events: SecurityEvent[] = [];
  const sink = { write: (event: SecurityEvent) => events.push(event) };
  return { guard: new AdminGuard(loadConfig(env).config, new SecurityEvents([sink])), events };
}

function request(ip: string, headers: Record<string, string> = {}, identity: ClientIdentity = EMPTY_IDENTITY) {
  return {
    id: 'corr-1',
    method: 'GET',
    headers,
    routeOptions: { url: '/admin/pools' },
    gateway: { clientIp: ip, identity },
  } as unknown as FastifyRequest;
}

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
});
