import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { openSession, sealSession, sessionCookieName, signInCookieName } from './session';
import { readAuthSettings, type OidcSettings } from './settings';

const key = generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
const ENV = {
  ADMIN_UI_OIDC_ISSUER: 'https://idp.example.com',
  ADMIN_UI_OIDC_CLIENT_ID: 'shieldx',
  ADMIN_UI_OIDC_CLIENT_SECRET: 'client-secret',
  ADMIN_UI_SESSION_SECRET: 'a-session-secret-of-at-least-32-characters',
  ADMIN_UI_PUBLIC_URL: 'https://admin.example.com',
  ADMIN_UI_USER_KEY: key,
};

function settings(env: Record<string, string> = ENV): OidcSettings {
  const read = readAuthSettings(env);
  if (read.mode !== 'oidc') throw new Error(JSON.stringify(read));
  return read;
}

describe(readAuthSettings.name, () => {
  it('is loopback-only without sign-in settings, and lists every problem of partial ones', () => {
    expect(readAuthSettings({})).toEqual({ mode: 'loopback' });
    const partial = readAuthSettings({
      ADMIN_UI_OIDC_ISSUER: 'http://idp.example.com',
      ADMIN_UI_SESSION_SECRET: 'short',
      ADMIN_UI_OIDC_ROLE_MAP: 'x=root',
    });
    expect(partial.mode).toBe('invalid');
    expect(partial.mode === 'invalid' ? partial.problems.join('\n') : '').toMatch(
      /ADMIN_UI_OIDC_CLIENT_ID: required[\s\S]*ADMIN_UI_OIDC_ISSUER: must be https[\s\S]*at least 32[\s\S]*ADMIN_UI_OIDC_ROLE_MAP/,
    );
  });

  it('asks for openid email profile and the roles scope, with the redirect URI under the public URL', () => {
    const s = settings({ ...ENV, ADMIN_UI_OIDC_ROLES_CLAIM: 'roles' });
    expect(s.scope).toBe('openid email profile roles');
    expect(s.redirectUri).toBe('https://admin.example.com/auth/callback');
    expect(s.secureCookies).toBe(true);
    expect(sessionCookieName(s)).toBe('__Host-shieldx-session');
    expect(settings({ ...ENV, ADMIN_UI_OIDC_ROLES_SCOPE: '' }).scope).toBe('openid email profile');
  });
});

describe(openSession.name, () => {
  const s = settings();
  const user = { sub: 'u-1', role: 'viewer' as const, idp: 'https://idp.example.com', email: 'u@example.com' };
  const now = 1_900_000_000_000;

  it('opens its own cookie until the idle or the absolute timeout', async () => {
    const value = await sealSession({ user, created: now - 60_000, seen: now - 60_000 }, s);
    expect(await openSession(value, s, now)).toEqual({ user, created: now - 60_000, seen: now - 60_000 });
    expect(await openSession(value, s, now + 30 * 60_000)).toBeUndefined();
    const old = await sealSession({ user, created: now - 8 * 3_600_000 - 1, seen: now }, s);
    expect(await openSession(old, s, now)).toBeUndefined();
  });

  it('refuses a cookie changed by one character, or made with another secret', async () => {
    const value = await sealSession({ user, created: now, seen: now }, s);
    const at = value.length - 5;
    const changed = value.slice(0, at) + (value[at] === 'A' ? 'B' : 'A') + value.slice(at + 1);
    expect(await openSession(changed, s, now)).toBeUndefined();
    const other = settings({ ...ENV, ADMIN_UI_SESSION_SECRET: 'another-session-secret-of-32-characters!' });
    const foreign = await sealSession({ user: { ...user, role: 'admin' }, created: now, seen: now }, other);
    expect(await openSession(foreign, s, now)).toBeUndefined();
    expect(await openSession('', s, now)).toBeUndefined();
  });
});

describe(signInCookieName.name, () => {
  it('names each attempt after its state, so overlapping sign-ins keep their own cookie', () => {
    const first = signInCookieName(settings(), 'AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_');
    const second = signInCookieName(settings(), 'ZyXwVuTsRqPoNmLkJiHgFeDcBa9876543210_-');
    expect(first).toBe('__Host-shieldx-sign-in-AbCdEfGhIjKlMnOpQrStUv');
    expect(second).not.toBe(first);
    // Whatever a callback's query says, the name keeps to cookie-name characters.
    expect(signInCookieName(settings(), 'a;b=c d\r\n')).toBe('__Host-shieldx-sign-in-abcd');
  });
});
