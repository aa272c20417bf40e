import { generateKeyPairSync } from 'node:crypto';
import { NextRequest, type NextResponse } from 'next/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { personKey, signedOutPeople } from './lib/auth/revocation';
import { newSession, openSession, sealSession, type Session } from './lib/auth/session';
import { readAuthSettings, type OidcSettings } from './lib/auth/settings';
import { SECURITY_HEADERS } from './lib/security-headers';

const UI = 'http://127.0.0.1:3000';
const ENV = {
  ADMIN_UI_OIDC_ISSUER: 'https://idp.example.com',
  ADMIN_UI_OIDC_CLIENT_ID: 'shieldx',
  ADMIN_UI_OIDC_CLIENT_SECRET: 'client-secret',
  ADMIN_UI_SESSION_SECRET: 'a-session-secret-of-at-least-32-characters',
  ADMIN_UI_PUBLIC_URL: UI,
  ADMIN_UI_USER_KEY: generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
  ADMIN_UI_SESSION_IDLE: '20s',
};
const env = { ...process.env };
let proxy: (request: NextRequest) => Promise<NextResponse>;
let settings: OidcSettings;
const user = { sub: 'otto', role: 'operator' as const, idp: 'https://idp.example.com' };

beforeAll(async () => {
  Object.assign(process.env, ENV);
  const read = readAuthSettings(ENV);
  if (read.mode !== 'oidc') throw new Error(JSON.stringify(read));
  settings = read;
  ({ proxy } = await import('../proxy'));
});

afterAll(() => {
  process.env = { ...env };
});

function request(path: string, init: { method?: string; headers?: Record<string, string>; session?: string } = {}) {
  const headers: Record<string, string> = { host: '127.0.0.1:3000', ...init.headers };
  if (init.session !== undefined) headers.cookie = `shieldx-session=${init.session}`;
  return new NextRequest(`${UI}${path}`, { method: init.method ?? 'GET', headers });
}

const seal = (session: Session) => sealSession(session, settings);

describe('next.config.ts', () => {
  it('sends the same no-framing headers with every response as the proxy sets on its own answers', async () => {
    const { default: config } = await import('../next.config');
    expect(await config.headers?.()).toEqual([{ source: '/:path*', headers: [...SECURITY_HEADERS] }]);
  });
});

describe('proxy', () => {
  it('marks every answer it makes or lets through as not to be framed', async () => {
    const valid = await seal(newSession(user, Date.now()));
    const cases: [string, NextRequest, number][] = [
      ['foreign host', request('/rollouts', { headers: { host: 'rebound.example' } }), 421],
      [
        'cross-site write',
        request('/api/admin/policy/reload', { method: 'POST', headers: { origin: 'http://evil.example' } }),
        403,
      ],
      ['page without a session', request('/rollouts'), 303],
      ['API without a session', request('/api/admin/pools'), 401],
      ['auth route', request('/auth/login'), 200],
      ['page with a session', request('/rollouts', { session: valid }), 200],
      ['API with a session', request('/api/events', { session: valid }), 200],
    ];
    for (const [name, req, status] of cases) {
      const response = await proxy(req);
      expect(response.status, name).toBe(status);
      expect(response.headers.get('content-security-policy'), name).toBe("frame-ancestors 'none'");
      expect(response.headers.get('x-frame-options'), name).toBe('DENY');
    }
  });

  it('renews the seen time after a quarter of a 20 s idle timeout, so an active person is never timed out', async () => {
    const now = Date.now();
    const fresh = await seal({ ...newSession(user, now - 60_000), seen: now - 2000 });
    expect((await proxy(request('/pools', { session: fresh }))).cookies.get('shieldx-session')).toBeUndefined();
    const due = await seal({ ...newSession(user, now - 60_000), seen: now - 5000 });
    const renewed = (await proxy(request('/pools', { session: due }))).cookies.get('shieldx-session');
    // A renewed cookie is a sealed session (JWE compact, five parts), which the lines below open.
    expect(renewed?.value.split('.')).toHaveLength(5);
    const opened = await openSession(renewed?.value, settings, Date.now());
    expect(opened?.seen).toBeGreaterThanOrEqual(now);
    expect(opened?.created).toBe(now - 60_000);
  });

  it('refuses every session its person started before signing out (copies, other browsers), never renews them', async () => {
    const now = Date.now();
    const person = { ...user, sub: 'otto-signs-out' };
    const session = { ...newSession(person, now - 60_000), seen: now - 10_000 };
    const copy = await seal(session);
    const otherBrowser = await seal({ ...newSession(person, now - 30_000), seen: now - 10_000 });
    const someoneElse = await seal({ ...newSession(user, now - 60_000), seen: now - 10_000 });
    expect((await proxy(request('/api/admin/pools', { session: copy }))).status).toBe(200);
    signedOutPeople().signOut(personKey(person), Date.now(), settings.maxMs, Date.now());
    for (const value of [copy, otherBrowser]) {
      const api = await proxy(request('/api/admin/pools', { session: value }));
      expect(api.status).toBe(401);
      expect(api.cookies.get('shieldx-session')?.value).toBe('');
      const page = await proxy(request('/rollouts', { session: value }));
      expect(page.status).toBe(303);
      expect(page.headers.get('location')).toBe(`${UI}/auth/login?returnTo=%2Frollouts`);
    }
    // Someone else is not signed out; the person signing in again (even at once) gets a session that works and renews.
    const other = await proxy(request('/api/admin/pools', { session: someoneElse }));
    expect(other.status).toBe(200);
    const again = newSession(person, Date.now());
    expect((await proxy(request('/api/admin/pools', { session: await seal(again) }))).status).toBe(200);
    const due = await seal({ ...again, seen: again.seen - 5000 });
    const renewed = (await proxy(request('/pools', { session: due }))).cookies.get('shieldx-session');
    expect(await openSession(renewed?.value, settings, Date.now())).toMatchObject({ created: again.created });
  });
});
