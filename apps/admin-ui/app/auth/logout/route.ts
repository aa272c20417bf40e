import { NextResponse } from 'next/server';
import { reportUiEvent } from '../../lib/admin-client';
import { currentUser } from '../../lib/auth/current-user';
import { cookieOptions, sessionCookieName } from '../../lib/auth/session';
import { authSettings } from '../../lib/auth/settings';

export const dynamic = 'force-dynamic';

/**
 * `POST /auth/logout` (a form of the UI's own pages: the proxy refuses cross-site posts): ends the session here and
 * records the sign-out. The session at the identity provider is the provider's to end.
 */
export async function POST(): Promise<Response> {
  const settings = authSettings();
  if (settings.mode !== 'oidc') return new Response(null, { status: 404 });
  const user = await currentUser();
  if (user !== undefined) await reportUiEvent({ event: 'sign_out', reason: 'user' }, user);
  const response = NextResponse.redirect(new URL('/auth/signed-out', settings.publicUrl), 303);
  response.cookies.set(sessionCookieName(settings), '', cookieOptions(settings, 0));
  response.headers.set('cache-control', 'no-store');
  return response;
}
