import { NextResponse, type NextRequest } from 'next/server';
import { cookieOptions, openSession, sealSession, seenRefreshMs, sessionCookieName } from './app/lib/auth/session';
import { authSettings } from './app/lib/auth/settings';
import { setSecurityHeaders } from './app/lib/security-headers';

/** Host names the UI answers to unless configured otherwise: loopback only. */
const LOOPBACK = ['localhost', '127.0.0.1', '[::1]'];

/** The host names the UI answers to, read from the environment once (it does not change while the UI runs). */
let hostsAllowed: Set<string> | undefined;

function allowedHosts(): Set<string> {
  return (hostsAllowed ??= readAllowedHosts());
}

function readAllowedHosts(): Set<string> {
  const hosts = new Set(LOOPBACK);
  const bind = process.env.ADMIN_UI_HOST?.trim().toLowerCase();
  if (bind !== undefined && bind !== '' && bind !== '0.0.0.0' && bind !== '::') {
    hosts.add(bind.includes(':') && !bind.startsWith('[') ? `[${bind}]` : bind);
  }
  for (const extra of (process.env.ADMIN_UI_ALLOWED_HOSTS ?? '').split(',')) {
    if (extra.trim() !== '') hosts.add(extra.trim().toLowerCase());
  }
  const settings = authSettings();
  if (settings.mode === 'oidc') hosts.add(settings.publicUrl.hostname.toLowerCase());
  return hosts;
}

function hostname(host: string): string {
  const lower = host.toLowerCase();
  if (lower.startsWith('[')) return lower.slice(0, lower.indexOf(']') + 1);
  const colon = lower.lastIndexOf(':');
  return colon === -1 ? lower : lower.slice(0, colon);
}

function originHost(origin: string | null): string | null {
  if (origin === null) return null;
  try {
    return new URL(origin).host.toLowerCase();
  } catch {
    return null;
  }
}

function refuse(status: number, error: string, message: string): NextResponse {
  return NextResponse.json({ error, message }, { status });
}

/**
 * With sign-in configured, every page and API route but `/auth/*` needs a session: a page without one is sent to
 * sign-in (returning to it after), an API call gets 401; so does a signed-out one. The session's seen time is
 * renewed once it is older than {@link seenRefreshMs} (a quarter of the idle timeout, at most a minute), so the
 * idle timeout is the configured one within that.
 */
async function requireSession(request: NextRequest): Promise<NextResponse> {
  const settings = authSettings();
  if (settings.mode === 'loopback') return NextResponse.next();
  if (settings.mode === 'invalid') {
    return refuse(
      500,
      'sign_in_misconfigured',
      `the admin UI's sign-in settings are invalid: ${settings.problems.join('; ')}`,
    );
  }
  const path = request.nextUrl.pathname;
  if (path.startsWith('/auth/')) return NextResponse.next();
  const name = sessionCookieName(settings);
  const now = Date.now();
  const session = await openSession(request.cookies.get(name)?.value, settings, now);
  if (session === undefined) {
    const response = path.startsWith('/api/')
      ? refuse(401, 'signed_out', 'sign in to use the admin UI')
      : NextResponse.redirect(
          new URL(`/auth/login?returnTo=${encodeURIComponent(`${path}${request.nextUrl.search}`)}`, settings.publicUrl),
          303,
        );
    if (request.cookies.has(name)) response.cookies.set(name, '', cookieOptions(settings, 0));
    return response;
  }
  const response = NextResponse.next();
  if (now - session.seen >= seenRefreshMs(settings)) {
    const renewed = await sealSession({ ...session, seen: now }, settings);
    response.cookies.set(name, renewed, cookieOptions(settings, (session.created + settings.maxMs - now) / 1000));
  }
  return response;
}

/**
 * Runs before every page and API route, and marks every answer as not to be framed ({@link setSecurityHeaders}; the
 * routes' own answers get the same from next.config.ts). The UI's server holds the admin credentials, so:
 * - requests must name a host the UI serves (loopback, `ADMIN_UI_HOST`, or `ADMIN_UI_ALLOWED_HOSTS`): a page of
 *   another site whose name was re-pointed at 127.0.0.1 (DNS rebinding) is refused;
 * - state-changing API calls must come from the UI's own pages (`Sec-Fetch-Site: same-origin`, or an `Origin` equal
 *   to the host), so another site cannot make the operator's browser edit pools or reload the policy;
 * - with sign-in configured, a session is needed ({@link requireSession}).
 */
export async function proxy(request: NextRequest): Promise<NextResponse> {
  const response = await guard(request);
  setSecurityHeaders(response.headers);
  return response;
}

async function guard(request: NextRequest): Promise<NextResponse> {
  const host = request.headers.get('host') ?? '';
  if (!allowedHosts().has(hostname(host))) {
    return refuse(421, 'unknown_host', `this admin UI does not answer to '${host}' (see ADMIN_UI_ALLOWED_HOSTS)`);
  }
  const method = request.method.toUpperCase();
  if (method !== 'GET' && method !== 'HEAD') {
    const site = request.headers.get('sec-fetch-site');
    const origin = request.headers.get('origin');
    const sameOrigin = site !== null ? site === 'same-origin' : originHost(origin) === host.toLowerCase();
    if (!sameOrigin)
      return refuse(403, 'cross_site_request', 'state-changing requests must come from the admin UI itself');
  }
  return requireSession(request);
}

export const config = {
  matcher: ['/((?!_next/static|_next/image|favicon.ico).*)'],
};
