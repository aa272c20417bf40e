import { NextResponse, type NextRequest } from 'next/server';

/** Host names the UI answers to unless configured otherwise: loopback only. */
const LOOPBACK = ['localhost', '127.0.0.1', '[::1]'];

function allowedHosts(): Set<string> {
  const hosts = new Set(LOOPBACK);
  const bind = process.env.ADMIN_UI_HOST?.trim().toLowerCase();
  if (bind !== undefined && bind !== '' && bind !== '0.0.0.0' && bind !== '::') {
    hosts.add(bind.includes(':') && !bind.startsWith('[') ? `[${bind}]` : bind);
  }
  for (const extra of (process.env.ADMIN_UI_ALLOWED_HOSTS ?? '').split(',')) {
    if (extra.trim() !== '') hosts.add(extra.trim().toLowerCase());
  }
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
 * Runs before every page and API route. The UI's server holds the admin credentials, so:
 * - requests must name a host the UI serves (loopback, `ADMIN_UI_HOST`, or `ADMIN_UI_ALLOWED_HOSTS`): a page of
 *   another site whose name was re-pointed at 127.0.0.1 (DNS rebinding) is refused;
 * - state-changing API calls must come from the UI's own pages (`Sec-Fetch-Site: same-origin`, or an `Origin` equal
 *   to the host), so another site cannot make the operator's browser edit pools or reload the policy.
 */
export function proxy(request: NextRequest): NextResponse {
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
  return NextResponse.next();
}

export const config = {
  matcher: ['/((?!_next/static|_next/image|favicon.ico).*)'],
};
