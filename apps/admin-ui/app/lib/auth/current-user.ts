import 'server-only';
import { cookies } from 'next/headers';
import { openSession, sessionCookieName, type Session, type SessionUser } from './session';
import { authSettings } from './settings';

/**
 * The session of the request being served (server components, route handlers), or undefined: always undefined
 * without sign-in settings (loopback-only mode).
 */
export async function currentSession(): Promise<Session | undefined> {
  const settings = authSettings();
  if (settings.mode !== 'oidc') return undefined;
  const jar = await cookies();
  return openSession(jar.get(sessionCookieName(settings))?.value, settings, Date.now());
}

/**
 * The signed-in person of the request being served (server components, route handlers), or undefined: always
 * undefined without sign-in settings (loopback-only mode).
 */
export async function currentUser(): Promise<SessionUser | undefined> {
  return (await currentSession())?.user;
}
