import { requiredAdminRole, roleAllows } from '@shieldx/security';
import { adminFetch, orchestratorUrl, reportUiEvent, SignedOutError } from '../../../lib/admin-client';
import { currentUser } from '../../../lib/auth/current-user';
import { authSettings } from '../../../lib/auth/settings';
import type { SessionUser } from '../../../lib/auth/session';

export const dynamic = 'force-dynamic';

/** The admin routes the browser may reach through the UI's server, by method. Nothing else is relayed. */
const ALLOWED: Readonly<Record<string, readonly RegExp[]>> = {
  GET: [
    /^pools$/,
    /^breakers$/,
    /^protection$/,
    /^mirror$/,
    /^rollouts$/,
    /^policy$/,
    /^policy\/(?:rules|shadow|denied)$/,
    /^metrics$/,
    /^audit$/,
    /^ledger\/verify$/,
    /^ledger\/export$/,
  ],
  PUT: [/^pools\/[a-z0-9_-]{1,64}$/],
  DELETE: [/^pools\/[a-z0-9_-]{1,64}$/],
  POST: [/^policy\/(?:reload|promote|evaluate)$/, /^rollouts\/[a-z0-9_-]{1,64}\/(?:pause|resume|promote|abort)$/],
};

/** Downloads: relayed as a stream with their content-disposition, not read whole (an export may be large). */
const STREAMED = /^ledger\/export$/;

/** How long a download may take, ms. */
const STREAM_TIMEOUT_MS = 10 * 60_000;

/** Largest request body relayed (a pool edit, a what-if input), bytes. */
const MAX_BODY = 64 * 1024;

type Context = { params: Promise<{ path: string[] }> };

function problem(status: number, error: string, message: string): Response {
  return Response.json({ error, message }, { status, headers: { 'cache-control': 'no-store' } });
}

/**
 * Relays one allowed admin call to the orchestrator, adding the credentials on the server, and passes its status
 * and JSON body back (a download's body streamed through). The browser never sees the token.
 */
async function relay(request: Request, context: Context): Promise<Response> {
  const { path } = await context.params;
  const joined = path.join('/');
  const method = request.method.toUpperCase();
  if (!(ALLOWED[method] ?? []).some((pattern) => pattern.test(joined))) {
    return problem(404, 'not_found', `no admin route ${method} /${joined} in the UI`);
  }
  // The role table the orchestrator enforces, checked here first: the orchestrator refuses (403) all the same.
  // The person, read once here and handed to the call below (each read opens the session cookie).
  let user: SessionUser | undefined;
  if (authSettings().mode === 'oidc') {
    user = await currentUser();
    if (user === undefined) return problem(401, 'signed_out', 'sign in to use the admin UI');
    const required = requiredAdminRole(method, `/admin/${joined}`);
    if (!roleAllows(user.role, required)) {
      await reportUiEvent(
        { event: 'action_refused', method, path: `/admin/${joined}`, reason: `needs_${required}` },
        user,
      );
      return problem(
        403,
        'admin_role_refused',
        `this needs the ${required} role; you are ${user.role === 'viewer' ? 'a' : 'an'} ${user.role}`,
      );
    }
  }
  let body: string | undefined;
  if (method === 'PUT' || method === 'POST') {
    body = await request.text();
    if (body.length > MAX_BODY) return problem(413, 'body_too_large', `the body may be at most ${MAX_BODY} bytes`);
    // A POST without a body (reload, promote) is relayed without one: an empty JSON body is refused.
    if (method === 'POST' && body === '') body = undefined;
  }
  const search = new URL(request.url).search;
  const streamed = method === 'GET' && STREAMED.test(joined);
  try {
    const upstream = await adminFetch(`/admin/${joined}${search}`, {
      method,
      body,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      timeoutMs: streamed ? STREAM_TIMEOUT_MS : 15_000,
      ...(user === undefined ? {} : { user }),
    });
    const headers: Record<string, string> = {
      'content-type': upstream.headers.get('content-type') ?? 'application/json',
      'cache-control': 'no-store',
    };
    const correlationId = upstream.headers.get('x-correlation-id');
    if (correlationId !== null) headers['x-correlation-id'] = correlationId;
    const disposition = upstream.headers.get('content-disposition');
    if (streamed && upstream.ok && upstream.body !== null) {
      if (disposition !== null) headers['content-disposition'] = disposition;
      return new Response(upstream.body, { status: upstream.status, headers });
    }
    return new Response(await upstream.text(), { status: upstream.status, headers });
  } catch (error) {
    if (error instanceof SignedOutError) return problem(401, 'signed_out', 'sign in to use the admin UI');
    const cause = (error as { cause?: { code?: string } }).cause?.code;
    return problem(
      502,
      'orchestrator_unreachable',
      `the orchestrator at ${orchestratorUrl()} did not answer (${cause ?? (error as Error).message})`,
    );
  }
}

export const GET = relay;
export const PUT = relay;
export const DELETE = relay;
export const POST = relay;
