// Read by the proxy (middleware) and the server. The cookies are encrypted and authenticated (JWE, dir + A256GCM),
// so the browser can neither read nor change them: editing the role in one makes it fail to open.
import { isAdminRole, type AdminRole } from '@shieldx/security';
import { EncryptJWT, jwtDecrypt } from 'jose';
import { personKey, signedOutPeople, type SignedOutPeople } from './revocation';
import type { OidcSettings } from './settings';

/** The signed-in person, as the session keeps them. */
export interface SessionUser {
  readonly sub: string;
  readonly email?: string;
  readonly name?: string;
  readonly role: AdminRole;
  /** The identity provider's issuer. */
  readonly idp: string;
}

/** A session: who, since when (epoch ms), last seen when (epoch ms). */
export interface Session {
  readonly user: SessionUser;
  /**
   * When the person signed in, kept by every renewal: their sign-out ends every session of theirs started at or
   * before it ({@link signedOutPeople}).
   */
  readonly created: number;
  readonly seen: number;
}

/** What the sign-in cookie holds between the redirect to the provider and the callback. */
export interface SignInState {
  readonly state: string;
  readonly nonce: string;
  readonly verifier: string;
  readonly returnTo: string;
}

/** The longest a seen time goes unrenewed, however long the idle timeout. */
export const SEEN_REFRESH_MAX_MS = 60_000;
/** How long a sign-in may take at the provider. */
export const SIGN_IN_TTL_S = 600;
/**
 * Sign-in attempts that may wait for their callback at once (tabs, background requests sent to sign in): a new one
 * deletes the oldest beyond this, so abandoned sign-ins cannot grow the Cookie header past the server's limit (431).
 */
export const MAX_PENDING_SIGN_INS = 4;

/**
 * How old a session's seen time may be before a request writes it again: a quarter of `ADMIN_UI_SESSION_IDLE`, at most
 * a minute (a sliding idle timeout without a new cookie per request). A session therefore ends between idle minus
 * this and idle after its last request, never while its person keeps acting more often than that.
 */
export function seenRefreshMs(settings: Pick<OidcSettings, 'idleMs'>): number {
  return Math.max(1, Math.min(SEEN_REFRESH_MAX_MS, Math.floor(settings.idleMs / 4)));
}

/**
 * A new session of `user` signed in at `now`. It starts after the person's last sign-out even when that was in the same
 * millisecond (or the clock stepped back since), so their sign-out never ends a session they start after it.
 */
export function newSession(user: SessionUser, now: number, signedOut: SignedOutPeople = signedOutPeople()): Session {
  return { user, created: signedOut.startTime(personKey(user), now), seen: now };
}

/** The session cookie's name: `__Host-` prefixed over https, so no subdomain or plain-http page can set it. */
export function sessionCookieName(settings: OidcSettings): string {
  return settings.secureCookies ? '__Host-shieldx-session' : 'shieldx-session';
}

/**
 * The sign-in cookie of one attempt, named after its `state` (up to 22 of its characters): attempts that overlap (two
 * tabs, or a page's background request sent to sign in while a navigation signs in) each find their own cookie at the
 * callback instead of one overwriting the other's.
 */
export function signInCookieName(settings: OidcSettings, state: string): string {
  return `${signInCookiePrefix(settings)}${state.replace(/[^A-Za-z0-9_-]/g, '').slice(0, 22)}`;
}

/** What every sign-in cookie's name starts with. */
export function signInCookiePrefix(settings: Pick<OidcSettings, 'secureCookies'>): string {
  return settings.secureCookies ? '__Host-shieldx-sign-in-' : 'shieldx-sign-in-';
}

/** Attributes of both cookies: HttpOnly, SameSite=Lax, path `/`, Secure over https. */
export function cookieOptions(settings: OidcSettings, maxAgeS: number) {
  return {
    httpOnly: true,
    sameSite: 'lax' as const,
    secure: settings.secureCookies,
    path: '/',
    maxAge: Math.max(0, Math.floor(maxAgeS)),
  };
}

function seal(payload: Record<string, unknown>, key: Uint8Array, expiresAtS: number, purpose: string) {
  return new EncryptJWT(payload)
    .setProtectedHeader({ alg: 'dir', enc: 'A256GCM', cty: purpose })
    .setIssuedAt()
    .setExpirationTime(expiresAtS)
    .setAudience(purpose)
    .encrypt(key);
}

async function open(value: string | undefined, key: Uint8Array, purpose: string, now: number) {
  if (value === undefined || value === '' || value.length > 8192) return undefined;
  try {
    const { payload } = await jwtDecrypt(value, key, { audience: purpose, currentDate: new Date(now) });
    return payload;
  } catch {
    return undefined;
  }
}

/** Encrypts a session into a cookie value that expires at its absolute timeout. */
export function sealSession(session: Session, settings: OidcSettings): Promise<string> {
  return seal(
    { user: session.user, created: session.created, seen: session.seen },
    settings.sessionKey,
    Math.floor((session.created + settings.maxMs) / 1000),
    'shieldx-session',
  );
}

function text(value: unknown, max: number): string | undefined {
  return typeof value === 'string' && value.length > 0 && value.length <= max ? value : undefined;
}

/**
 * Opens a session cookie: undefined when it is missing, tampered with, made with another secret, past its absolute
 * timeout (`ADMIN_UI_SESSION_MAX` from sign-in), idle for longer than `ADMIN_UI_SESSION_IDLE`, without its person or
 * sign-in time, or started at or before its person last signed out ({@link signedOutPeople}, this process's record).
 */
export async function openSession(
  value: string | undefined,
  settings: OidcSettings,
  now: number,
): Promise<Session | undefined> {
  const payload = await open(value, settings.sessionKey, 'shieldx-session', now);
  if (payload === undefined) return undefined;
  const { created, seen } = payload;
  const user = payload.user as Record<string, unknown> | undefined;
  if (typeof created !== 'number' || typeof seen !== 'number' || typeof user !== 'object' || user === null) {
    return undefined;
  }
  if (now - created > settings.maxMs || now - seen > settings.idleMs || seen > now + 60_000) return undefined;
  const sub = text(user.sub, 255);
  const idp = text(user.idp, 500);
  if (sub === undefined || idp === undefined || !isAdminRole(user.role)) return undefined;
  if (signedOutPeople().refuses(personKey({ idp, sub }), created, now)) return undefined;
  const email = text(user.email, 320);
  const name = text(user.name, 200);
  return {
    created,
    seen,
    user: {
      sub,
      idp,
      role: user.role,
      ...(email === undefined ? {} : { email }),
      ...(name === undefined ? {} : { name }),
    },
  };
}

/** Encrypts the sign-in state (state, nonce, PKCE verifier, where to return) and when it started (epoch ms). */
export function sealSignIn(state: SignInState, settings: OidcSettings, now = Date.now()): Promise<string> {
  return seal(
    { ...state, started: now },
    settings.signInKey,
    Math.floor(now / 1000) + SIGN_IN_TTL_S,
    'shieldx-sign-in',
  );
}

/** The most sign-in cookies of one request looked at: 16 KB of headers hold about 34 real ones. */
const SIGN_IN_COOKIES_READ = 64;

/**
 * The sign-in cookies a new attempt deletes before it adds its own: those that no longer open (expired, tampered with,
 * made with another secret) and, of the rest, all but the newest `MAX_PENDING_SIGN_INS - 1`. With the new one, at most
 * {@link MAX_PENDING_SIGN_INS} wait for a callback; each attempt keeps its own cookie, so overlapping sign-ins (up to
 * that many) still each find theirs, and state, nonce and verifier stay one-use.
 */
export async function staleSignInCookies(
  cookies: readonly { readonly name: string; readonly value: string }[],
  settings: OidcSettings,
  now = Date.now(),
): Promise<string[]> {
  const prefix = signInCookiePrefix(settings);
  const pending = cookies.filter((cookie) => cookie.name.startsWith(prefix)).slice(0, SIGN_IN_COOKIES_READ);
  const opened = await Promise.all(
    pending.map(async ({ name, value }, index) => {
      const payload = await open(value, settings.signInKey, 'shieldx-sign-in', now);
      const started =
        typeof payload?.started === 'number'
          ? payload.started
          : typeof payload?.iat === 'number'
            ? payload.iat * 1000
            : undefined;
      return { name, started, index };
    }),
  );
  const live = opened
    .filter((cookie): cookie is typeof cookie & { started: number } => cookie.started !== undefined)
    // Newest first; of two started in the same millisecond, the one sent later (browsers send older cookies first).
    .sort((a, b) => b.started - a.started || b.index - a.index);
  return [
    ...opened.filter((cookie) => cookie.started === undefined).map((cookie) => cookie.name),
    ...live.slice(MAX_PENDING_SIGN_INS - 1).map((cookie) => cookie.name),
  ];
}

/** Opens the sign-in cookie; undefined when missing, tampered with or older than {@link SIGN_IN_TTL_S}. */
export async function openSignIn(value: string | undefined, settings: OidcSettings): Promise<SignInState | undefined> {
  const payload = await open(value, settings.signInKey, 'shieldx-sign-in', Date.now());
  if (payload === undefined) return undefined;
  const { state, nonce, verifier, returnTo } = payload;
  if (typeof state !== 'string' || typeof nonce !== 'string' || typeof verifier !== 'string') return undefined;
  return { state, nonce, verifier, returnTo: typeof returnTo === 'string' ? returnTo : '/' };
}
