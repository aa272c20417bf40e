import { NextResponse } from 'next/server';
import { reportUiEvent } from '../../lib/admin-client';
import { currentSession } from '../../lib/auth/current-user';
import { revokedSessions } from '../../lib/auth/revocation';
import { cookieOptions, sessionCookieName } from '../../lib/auth/session';
import { authSettings } from '../../lib/auth/settings';
import { eventStreams } from '../../lib/event-streams';

export const dynamic = 'force-dynamic';

/**
 * `POST /auth/logout` (a form of the UI's own pages: the proxy refuses cross-site posts): ends the session here and
 * records the sign-out. The session's id is revoked in this process until the session's absolute timeout, so a copy
 * of the cookie no longer opens (nor renews) here, and the session's event streams are closed. The session at the
 * identity provider is the provider's to end.
 */
export async function POST(): Promise<Response> {
  const settings = authSettings();
  if (settings.mode !== 'oidc') return new Response(null, { status: 404 });
  const session = await currentSession();
  if (session !== undefined) {
    if (!revokedSessions().revoke(session.sid, session.created + settings.maxMs, Date.now())) {
      console.error(
        'admin UI: the record of signed-out sessions is full; the one ending soonest was forgotten and works again ' +
          'until its absolute timeout',
      );
    }
    eventStreams().endSession(session.sid);
    await reportUiEvent({ event: 'sign_out', reason: 'user' }, session.user);
  }
  const response = NextResponse.redirect(new URL('/auth/signed-out', settings.publicUrl), 303);
  response.cookies.set(sessionCookieName(settings), '', cookieOptions(settings, 0));
  response.headers.set('cache-control', 'no-store');
  return response;
}
