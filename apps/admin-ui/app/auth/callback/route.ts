import { NextResponse, type NextRequest } from 'next/server';
import { reportUiEvent } from '../../lib/admin-client';
import { finishSignIn } from '../../lib/auth/oidc';
import { safeReturnTo } from '../../lib/auth/return-to';
import {
  cookieOptions,
  newSession,
  openSignIn,
  sealSession,
  sessionCookieName,
  signInCookieName,
} from '../../lib/auth/session';
import { authSettings } from '../../lib/auth/settings';

export const dynamic = 'force-dynamic';

/**
 * `GET /auth/callback`: the provider's redirect. The sign-in cookie is spent at once (a replayed callback finds none);
 * the code is exchanged and the ID token validated; a person whose roles claim maps to no role is refused. Sign-ins
 * and refusals are recorded in the orchestrator's audit ledger.
 */
export async function GET(request: NextRequest): Promise<Response> {
  const settings = authSettings();
  if (settings.mode !== 'oidc') return NextResponse.redirect(new URL('/', request.nextUrl), 303);
  // The attempt this callback finishes: its cookie is named after the state the provider sends back.
  const cookieName = signInCookieName(settings, request.nextUrl.searchParams.get('state') ?? '');
  const fail = (reason: string): NextResponse => {
    const response = NextResponse.redirect(new URL(`/auth/error?reason=${reason}`, settings.publicUrl), 303);
    response.cookies.set(cookieName, '', cookieOptions(settings, 0));
    response.headers.set('cache-control', 'no-store');
    return response;
  };
  const signIn = await openSignIn(request.cookies.get(cookieName)?.value, settings);
  if (signIn === undefined) return fail('no_sign_in');
  if (request.nextUrl.searchParams.has('error')) {
    await reportUiEvent({ event: 'sign_in_refused', reason: 'provider_error' }, null);
    return fail('provider_error');
  }
  // The redirect URI as registered, whatever Host the request came with (a proxy in front may rewrite it).
  const callbackUrl = new URL(settings.redirectUri);
  callbackUrl.search = request.nextUrl.search;
  const outcome = await finishSignIn(settings, callbackUrl, signIn);
  if (!outcome.ok) {
    await reportUiEvent(
      {
        event: 'sign_in_refused',
        reason: outcome.reason,
        ...(outcome.claimed === undefined ? {} : { claimed: outcome.claimed }),
      },
      null,
    );
    return fail(outcome.reason);
  }
  const now = Date.now();
  const response = NextResponse.redirect(new URL(safeReturnTo(signIn.returnTo), settings.publicUrl), 303);
  response.headers.set('cache-control', 'no-store');
  response.cookies.set(cookieName, '', cookieOptions(settings, 0));
  response.cookies.set(
    sessionCookieName(settings),
    await sealSession(newSession(outcome.user, now), settings),
    cookieOptions(settings, settings.maxMs / 1000),
  );
  await reportUiEvent({ event: 'sign_in' }, outcome.user);
  return response;
}
