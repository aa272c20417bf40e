import { NextResponse, type NextRequest } from 'next/server';
import { startSignIn } from '../../lib/auth/oidc';
import { safeReturnTo } from '../../lib/auth/return-to';
import { cookieOptions, sealSignIn, SIGN_IN_TTL_S, signInCookieName, staleSignInCookies } from '../../lib/auth/session';
import { authSettings } from '../../lib/auth/settings';

export const dynamic = 'force-dynamic';

/**
 * `GET /auth/login?returnTo=<path>`: sends the browser to the identity provider (authorization code + PKCE), keeping
 * state, nonce, the PKCE verifier and the return path (a path of this UI only) in an encrypted, HttpOnly cookie of
 * this attempt. Pending attempts are bounded ({@link staleSignInCookies}): abandoned ones cannot grow the Cookie
 * header until every request of the UI answers 431.
 */
export async function GET(request: NextRequest): Promise<Response> {
  const settings = authSettings();
  if (settings.mode !== 'oidc') return NextResponse.redirect(new URL('/', request.nextUrl), 303);
  const returnTo = safeReturnTo(request.nextUrl.searchParams.get('returnTo'));
  let started: Awaited<ReturnType<typeof startSignIn>>;
  try {
    started = await startSignIn(settings, returnTo);
  } catch (error) {
    console.error(`admin UI: discovery at ${settings.issuer.href} failed: ${(error as Error).message}`);
    return NextResponse.redirect(new URL('/auth/error?reason=provider_error', settings.publicUrl), 303);
  }
  const response = NextResponse.redirect(started.url, 303);
  response.headers.set('cache-control', 'no-store');
  for (const name of await staleSignInCookies(request.cookies.getAll(), settings)) {
    response.cookies.set(name, '', cookieOptions(settings, 0));
  }
  response.cookies.set(
    signInCookieName(settings, started.signIn.state),
    await sealSignIn(started.signIn, settings),
    cookieOptions(settings, SIGN_IN_TTL_S),
  );
  return response;
}
