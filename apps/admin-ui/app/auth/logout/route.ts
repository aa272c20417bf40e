import { NextResponse } from 'next/server';
import { reportUiEvent } from '../../lib/admin-client';
import { currentSession } from '../../lib/auth/current-user';
import { personKey, signedOutPeople } from '../../lib/auth/revocation';
import { cookieOptions, sessionCookieName } from '../../lib/auth/session';
import { authSettings } from '../../lib/auth/settings';
import { eventStreams } from '../../lib/event-streams';

export const dynamic = 'force-dynamic';

/**
 * `POST /auth/logout` (a form of the UI's own pages: the proxy refuses cross-site posts): ends the person's sessions
 * here and records the sign-out. This process remembers when the person (identity provider and subject) signed out,
 * for `ADMIN_UI_SESSION_MAX` after it: every session of theirs started at or before then (this one, a copy of its
 * cookie, their sessions in other browsers) no longer opens (nor renews) here, and all their event streams are
 * closed; a session they start after it works. The session at the identity provider is the provider's to end.
 */
export async function POST(): Promise<Response> {
  const settings = authSettings();
  if (settings.mode !== 'oidc') return new Response(null, { status: 404 });
  const session = await currentSession();
  if (session !== undefined) {
    const person = personKey(session.user);
    const now = Date.now();
    // Not before the session's own start, should the clock have stepped back since.
    const at = Math.max(now, session.created);
    if (!signedOutPeople().signOut(person, at, settings.maxMs, now)) {
      console.error(
        `admin UI: the record of signed-out people is full (${signedOutPeople().capacity} people signed out within ` +
          'ADMIN_UI_SESSION_MAX); the oldest sign-out was forgotten, and the sessions it had ended work again ' +
          'until their absolute timeout',
      );
    }
    eventStreams().endSignedOut(person, signedOutPeople().signedOutAt(person, now) ?? at);
    await reportUiEvent({ event: 'sign_out', reason: 'user' }, session.user);
  }
  const response = NextResponse.redirect(new URL('/auth/signed-out', settings.publicUrl), 303);
  response.cookies.set(sessionCookieName(settings), '', cookieOptions(settings, 0));
  response.headers.set('cache-control', 'no-store');
  return response;
}
