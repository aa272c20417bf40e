import { generateKeyPairSync } from 'node:crypto';
import { EncryptJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { personKey, signedOutPeople } from './revocation';
import {
  MAX_PENDING_SIGN_INS,
  newSession,
  openSession,
  openSignIn,
  sealSession,
  sealSignIn,
  seenRefreshMs,
  sessionCookieName,
  signInCookieName,
  staleSignInCookies,
} from './session';
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

  it("refuses a cookie without its sign-in time or person; one with an earlier version's session id opens", async () => {
    // Sealed as sealSession does, with whatever payload.
    const seal = (payload: Record<string, unknown>) =>
      new EncryptJWT(payload)
        .setProtectedHeader({ alg: 'dir', enc: 'A256GCM', cty: 'shieldx-session' })
        .setIssuedAt()
        .setExpirationTime(Math.floor((now + s.maxMs) / 1000))
        .setAudience('shieldx-session')
        .encrypt(s.sessionKey);
    const without = [
      { user, seen: now },
      { user, created: String(now), seen: now },
      { user: { ...user, idp: undefined }, created: now, seen: now },
      { user: { ...user, sub: '' }, created: now, seen: now },
    ];
    for (const payload of without) expect(await openSession(await seal(payload), s, now)).toBeUndefined();
    expect(await openSession(await seal({ user, created: now, seen: now }), s, now)).toEqual({
      user,
      created: now,
      seen: now,
    });
    // Made by the version that revoked sessions by id: the id is ignored, its person's sign-outs apply to it.
    const older = { ...user, sub: 'u-older-cookie' };
    const withId = await seal({ sid: 'session-id-1', user: older, created: now, seen: now });
    expect(await openSession(withId, s, now)).toEqual({ user: older, created: now, seen: now });
    signedOutPeople().signOut(personKey(older), now + 1000, s.maxMs, now + 1000);
    expect(await openSession(withId, s, now + 2000)).toBeUndefined();
  });

  it('refuses every session its person started before they signed out, and every renewal of them', async () => {
    const person = { ...user, sub: 'u-signs-out' };
    const record = signedOutPeople();
    const session = newSession(person, now);
    const copy = await sealSession(session, s);
    // The same person signed in from another browser, before the sign-out, and someone else.
    const elsewhere = await sealSession(newSession(person, now + 500), s);
    const other = { ...user, sub: 'u-stays' };
    const someoneElse = await sealSession(newSession(other, now), s);
    expect(await openSession(copy, s, now + 1000)).toMatchObject({ user: person, created: now });
    record.signOut(personKey(person), now + 1000, s.maxMs, now + 1000);
    expect(await openSession(copy, s, now + 2000)).toBeUndefined();
    expect(await openSession(elsewhere, s, now + 2000)).toBeUndefined();
    // A renewal sealed before (or by a copy after) the sign-out keeps the sign-in time, so it is refused too.
    const renewed = await sealSession({ ...session, seen: now + 5 * 60_000 }, s);
    expect(await openSession(renewed, s, now + 6 * 60_000)).toBeUndefined();
    expect(await openSession(someoneElse, s, now + 2000)).toMatchObject({ user: other });
    // However late it was renewed, up to the absolute timeout.
    const late = await sealSession({ ...session, seen: now + s.maxMs - 2000 }, s);
    expect(await openSession(late, s, now + s.maxMs - 1000)).toBeUndefined();
    const lateOfSomeoneElse = await sealSession({ ...newSession(other, now), seen: now + s.maxMs - 2000 }, s);
    expect(await openSession(lateOfSomeoneElse, s, now + s.maxMs - 1000)).toBeDefined();
    // Signing in again after the sign-out gives a session that works, and so do its renewals.
    const again = newSession(person, now + 3000);
    expect(again.created).toBe(now + 3000);
    const fresh = await sealSession(again, s);
    expect(await openSession(fresh, s, now + 4000)).toEqual(again);
    const freshRenewed = await sealSession({ ...again, seen: now + 5 * 60_000 }, s);
    expect(await openSession(freshRenewed, s, now + 6 * 60_000)).toMatchObject({ created: now + 3000 });
  });

  it('gives a working session to a person who signs in again in the same millisecond as their sign-out', async () => {
    const person = { ...user, sub: 'u-same-ms' };
    const t = now + 10 * 60_000;
    const before = await sealSession(newSession(person, t), s);
    signedOutPeople().signOut(personKey(person), t, s.maxMs, t);
    expect(await openSession(before, s, t)).toBeUndefined();
    const again = newSession(person, t);
    expect(again.created).toBeGreaterThan(t);
    expect(again.seen).toBe(t);
    expect(await openSession(await sealSession(again, s), s, t)).toEqual(again);
    // With the clock stepped back a little since the sign-out too.
    const stepped = newSession(person, t - 2000);
    expect(await openSession(await sealSession(stepped, s), s, t - 2000)).toEqual(stepped);
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

describe(seenRefreshMs.name, () => {
  it('renews the seen time after a quarter of the idle timeout, at most a minute', () => {
    expect(seenRefreshMs({ idleMs: 30 * 60_000 })).toBe(60_000);
    expect(seenRefreshMs({ idleMs: 4 * 60_000 })).toBe(60_000);
    expect(seenRefreshMs({ idleMs: 2 * 60_000 })).toBe(30_000);
    expect(seenRefreshMs({ idleMs: 20_000 })).toBe(5000);
    expect(seenRefreshMs({ idleMs: 1000 })).toBe(250);
  });

  it('keeps a session of 20 s idle open for a person active every 5 s, and ends it 20 s after they stop', async () => {
    const s = settings({ ...ENV, ADMIN_UI_SESSION_IDLE: '20s' });
    const user = { sub: 'u-1', role: 'operator' as const, idp: 'https://idp.example.com' };
    const start = 1_900_000_000_000;
    // What the proxy does on each request: open the cookie, and write it again once its seen time is old enough.
    let cookie = await sealSession(newSession(user, start), s);
    let at = start;
    for (; at <= start + 120_000; at += 5000) {
      const session = await openSession(cookie, s, at);
      expect(session, `request at +${at - start} ms`).toBeDefined();
      if (session !== undefined && at - session.seen >= seenRefreshMs(s)) {
        cookie = await sealSession({ ...session, seen: at }, s);
      }
    }
    const last = at - 5000;
    expect(await openSession(cookie, s, last + 15_000)).toBeDefined();
    expect(await openSession(cookie, s, last + 20_001)).toBeUndefined();
  });
});

describe(staleSignInCookies.name, () => {
  const s = settings({ ...ENV, ADMIN_UI_PUBLIC_URL: 'http://127.0.0.1:3000' });
  const now = Date.now();

  async function attempt(i: number, startedAt: number) {
    const signIn = {
      state: `state-${i}-abcdefghijklmnopqrstuvwxyz`,
      nonce: `n-${i}`,
      verifier: `v-${i}`,
      returnTo: '/',
    };
    return { name: signInCookieName(s, signIn.state), value: await sealSignIn(signIn, s, startedAt), signIn };
  }

  it('keeps the newest pending sign-ins, so at most a few wait at once whatever a page makes the browser start', async () => {
    const attempts = await Promise.all(Array.from({ length: 40 }, (_, i) => attempt(i, now - 60_000 + i * 1000)));
    // In the browser's order, oldest first, with the session cookie and another cookie beside them.
    const jar = [{ name: 'shieldx-session', value: 'x' }, { name: 'other', value: 'y' }, ...attempts];
    const stale = await staleSignInCookies(jar, s, now);
    expect(stale).toHaveLength(40 - (MAX_PENDING_SIGN_INS - 1));
    expect(stale).not.toContain('shieldx-session');
    expect(stale).not.toContain('other');
    const kept = attempts.filter((a) => !stale.includes(a.name));
    expect(kept.map((a) => a.signIn.nonce)).toEqual(['n-37', 'n-38', 'n-39']);
    // The kept attempts still open with their state, nonce and verifier: overlapping tabs each finish theirs.
    for (const a of kept) expect(await openSignIn(a.value, s)).toEqual(a.signIn);
  });

  it('deletes nothing while fewer than the bound wait, and always what no longer opens', async () => {
    const two = await Promise.all([attempt(1, now - 2000), attempt(2, now - 1000)]);
    expect(await staleSignInCookies(two, s, now)).toEqual([]);
    const foreign = await sealSignIn(
      { state: 'f', nonce: 'f', verifier: 'f', returnTo: '/' },
      settings({ ...ENV, ADMIN_UI_PUBLIC_URL: 'http://127.0.0.1:3000', ADMIN_UI_SESSION_SECRET: 'x'.repeat(40) }),
      now,
    );
    const broken = [
      { name: signInCookieName(s, 'garbage'), value: 'not-a-jwe' },
      { name: signInCookieName(s, 'foreign'), value: foreign },
    ];
    expect(await staleSignInCookies([...broken, ...two], s, now)).toEqual(broken.map((c) => c.name));
    // Older than the sign-in's 10 minutes: gone too.
    expect(await staleSignInCookies(two, s, now + 11 * 60_000)).toEqual(two.map((c) => c.name));
  });

  it('keeps the header bounded: sign-in after sign-in, the browser never holds more than the bound', async () => {
    const jar = new Map<string, string>();
    for (let i = 0; i < 50; i++) {
      const next = await attempt(i, now + i);
      for (const name of await staleSignInCookies(
        [...jar].map(([name, value]) => ({ name, value })),
        s,
        now + i,
      )) {
        jar.delete(name);
      }
      jar.set(next.name, next.value);
      expect(jar.size).toBeLessThanOrEqual(MAX_PENDING_SIGN_INS);
    }
    const header = [...jar].map(([name, value]) => `${name}=${value}`).join('; ');
    expect(header.length).toBeLessThan(4096);
  });
});
