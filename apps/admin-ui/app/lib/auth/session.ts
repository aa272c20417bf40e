// Read by the proxy (middleware) and the server. The cookies are encrypted and authenticated (JWE, dir + A256GCM),
// so the browser can neither read nor change them: editing the role in one makes it fail to open.
import { isAdminRole, type AdminRole } from '@shieldx/security';
import { EncryptJWT, jwtDecrypt } from 'jose';
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

/** A seen time older than this is written again (a sliding idle timeout without a new cookie per request). */
export const SEEN_REFRESH_MS = 60_000;
/** How long a sign-in may take at the provider. */
export const SIGN_IN_TTL_S = 600;

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
  const base = settings.secureCookies ? '__Host-shieldx-sign-in' : 'shieldx-sign-in';
  return `${base}-${state.replace(/[^A-Za-z0-9_-]/g, '').slice(0, 22)}`;
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
 * timeout (`ADMIN_UI_SESSION_MAX` from sign-in) or idle for longer than `ADMIN_UI_SESSION_IDLE`.
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

/** Encrypts the sign-in state (state, nonce, PKCE verifier, where to return). */
export function sealSignIn(state: SignInState, settings: OidcSettings): Promise<string> {
  return seal({ ...state }, settings.signInKey, Math.floor(Date.now() / 1000) + SIGN_IN_TTL_S, 'shieldx-sign-in');
}

/** Opens the sign-in cookie; undefined when missing, tampered with or older than {@link SIGN_IN_TTL_S}. */
export async function openSignIn(value: string | undefined, settings: OidcSettings): Promise<SignInState | undefined> {
  const payload = await open(value, settings.signInKey, 'shieldx-sign-in', Date.now());
  if (payload === undefined) return undefined;
  const { state, nonce, verifier, returnTo } = payload;
  if (typeof state !== 'string' || typeof nonce !== 'string' || typeof verifier !== 'string') return undefined;
  return { state, nonce, verifier, returnTo: typeof returnTo === 'string' ? returnTo : '/' };
}
