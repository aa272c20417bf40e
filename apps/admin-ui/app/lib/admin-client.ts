// Holds the admin credentials and signs with @shieldx/security (node:crypto): a client component importing this fails
// the build instead of shipping either to the browser.
import 'server-only';
import { readFileSync } from 'node:fs';
import { signAdmission, signUserAssertion, USER_ASSERTION_HEADER } from '@shieldx/security';
import { Agent, fetch as undiciFetch } from 'undici';
import { currentUser } from './auth/current-user';
import type { SessionUser } from './auth/session';
import { authSettings } from './auth/settings';

/**
 * How the UI's server reaches the orchestrator's admin API. Everything here runs on the server: the token, the
 * admission secret and the client key never reach the browser.
 *
 * - `ORCH_ADMIN_URL` (default `http://127.0.0.1:8080`): the orchestrator.
 * - `ORCH_ADMIN_TOKEN`: sent as `Authorization: Bearer …`.
 * - `ADMISSION_SECRET` / `ADMISSION_HEADER`: when the orchestrator's admission guard is on, each request is signed
 *   (`t=…,n=…,v1=HMAC-SHA256(secret, "<t>.<n>.<METHOD>.<path with query>")`; the first secret of a comma list).
 * - `ORCH_ADMIN_CA_FILE`, `ORCH_ADMIN_CERT_FILE`, `ORCH_ADMIN_KEY_FILE`: for an `https://` orchestrator with mTLS,
 *   the CA to trust and the client certificate (one with an `ORCH_ADMIN_SANS` identity) to present.
 * - With sign-in configured, every call also carries the signed-in person's user assertion (`X-ShieldX-User`,
 *   signed with `ADMIN_UI_USER_KEY`), so the orchestrator enforces their role and names them in the ledger.
 */
export interface AdminTarget {
  readonly url: string;
}

/** The orchestrator's base URL, without a trailing slash. */
export function orchestratorUrl(): string {
  return (process.env.ORCH_ADMIN_URL ?? 'http://127.0.0.1:8080').replace(/\/+$/, '');
}

let agent: Agent | null | undefined;

/** An undici agent with the configured CA and client certificate, or null when none is configured. */
function tlsAgent(): Agent | null {
  if (agent !== undefined) return agent;
  const ca = process.env.ORCH_ADMIN_CA_FILE;
  const cert = process.env.ORCH_ADMIN_CERT_FILE;
  const key = process.env.ORCH_ADMIN_KEY_FILE;
  agent =
    ca === undefined && cert === undefined && key === undefined
      ? null
      : new Agent({
          connect: {
            ca: ca === undefined ? undefined : readFileSync(ca),
            cert: cert === undefined ? undefined : readFileSync(cert),
            key: key === undefined ? undefined : readFileSync(key),
          },
        });
  return agent;
}

/** The admission header of one call, signed with the first secret of `ADMISSION_SECRET`; none when it is unset. */
function admissionHeader(method: string, pathWithQuery: string): Record<string, string> {
  const secret = process.env.ADMISSION_SECRET?.split(',')[0]?.trim();
  if (secret === undefined || secret === '') return {};
  return {
    [process.env.ADMISSION_HEADER ?? 'X-ShieldX-Admission']: signAdmission({ secret, method, pathWithQuery }),
  };
}

/** Options of {@link adminFetch}. */
export interface AdminFetchInit {
  readonly method?: string;
  readonly body?: string;
  readonly headers?: Record<string, string>;
  readonly signal?: AbortSignal;
  /** Abort after this many ms (default 5000; 0 = never, for event streams). */
  readonly timeoutMs?: number;
  /**
   * The person the call is made for: by default the signed-in person of the request being served; `null` for a
   * call made for nobody (reporting a refused sign-in).
   */
  readonly user?: SessionUser | null;
}

/** 401 of the UI: sign-in is configured and the call has no signed-in person. */
export class SignedOutError extends Error {
  constructor() {
    super('not signed in');
  }
}

/** The user assertion header of one call (none in loopback-only mode, or for a call made for nobody). */
async function userHeader(user: SessionUser | null | undefined): Promise<Record<string, string>> {
  const settings = authSettings();
  if (settings.mode === 'loopback') return {};
  if (settings.mode === 'invalid') throw new Error(`sign-in is misconfigured: ${settings.problems.join('; ')}`);
  const person = user === undefined ? await currentUser() : user;
  if (person === null) return {};
  if (person === undefined) throw new SignedOutError();
  const assertion = await signUserAssertion(
    { sub: person.sub, role: person.role, idp: person.idp, email: person.email, name: person.name },
    { key: settings.userKey, issuer: settings.userIssuer, audience: settings.userAudience },
  );
  return { [USER_ASSERTION_HEADER]: assertion };
}

/**
 * Calls the orchestrator at `pathWithQuery` (which must start with `/admin/`) with the admin credentials added.
 * Rejects when the orchestrator cannot be reached.
 */
export async function adminFetch(pathWithQuery: string, init: AdminFetchInit = {}): Promise<Response> {
  if (!pathWithQuery.startsWith('/admin/')) throw new Error(`not an admin path: ${pathWithQuery}`);
  const method = init.method ?? 'GET';
  const token = process.env.ORCH_ADMIN_TOKEN;
  const headers: Record<string, string> = {
    accept: 'application/json',
    ...init.headers,
    ...(token === undefined || token === '' ? {} : { authorization: `Bearer ${token}` }),
    ...admissionHeader(method, pathWithQuery),
    ...(await userHeader(init.user)),
  };
  const timeoutMs = init.timeoutMs ?? 5000;
  const signals = [init.signal, timeoutMs > 0 ? AbortSignal.timeout(timeoutMs) : undefined].filter(
    (s): s is AbortSignal => s !== undefined,
  );
  const signal = signals.length === 0 ? undefined : AbortSignal.any(signals);
  const url = `${orchestratorUrl()}${pathWithQuery}`;
  const dispatcher = tlsAgent();
  if (dispatcher !== null) {
    const response = await undiciFetch(url, { method, headers, body: init.body, signal, dispatcher });
    return response as unknown as Response;
  }
  return fetch(url, { method, headers, body: init.body, signal, cache: 'no-store' });
}

/** A JSON answer of the admin API, or why there is none. */
export type AdminResult<T> =
  | { readonly ok: true; readonly data: T }
  | {
      readonly ok: false;
      readonly status: number;
      readonly error: string;
      readonly message: string;
      readonly details?: unknown;
    };

/**
 * Records a sign-in, sign-out or refusal in the orchestrator's audit ledger (`POST /admin/ui-events`), for `user`
 * (`null`: a person the UI could not let in). Never throws: a report that fails is logged, and never blocks the person.
 */
export async function reportUiEvent(body: Record<string, unknown>, user: SessionUser | null): Promise<void> {
  try {
    const response = await adminFetch('/admin/ui-events', {
      method: 'POST',
      body: JSON.stringify(body),
      headers: { 'content-type': 'application/json' },
      user,
    });
    if (!response.ok)
      console.error(`admin UI: the orchestrator refused a ${String(body.event)} report (${response.status})`);
  } catch (error) {
    console.error(`admin UI: a ${String(body.event)} report failed: ${(error as Error).message}`);
  }
}

/** GETs a JSON admin resource for a server component; never throws. */
export async function adminJson<T>(pathWithQuery: string): Promise<AdminResult<T>> {
  try {
    const response = await adminFetch(pathWithQuery);
    const body = (await response.json().catch(() => ({}))) as Record<string, unknown>;
    if (!response.ok) {
      return {
        ok: false,
        status: response.status,
        error: typeof body.error === 'string' ? body.error : `http_${response.status}`,
        message: typeof body.message === 'string' ? body.message : `the orchestrator answered ${response.status}`,
        details: body.details,
      };
    }
    return { ok: true, data: body as T };
  } catch (error) {
    if (error instanceof SignedOutError) {
      return { ok: false, status: 401, error: 'signed_out', message: 'sign in to use the admin UI' };
    }
    const cause = (error as { cause?: { code?: string } }).cause?.code;
    return {
      ok: false,
      status: 502,
      error: 'orchestrator_unreachable',
      message: `the orchestrator at ${orchestratorUrl()} did not answer (${cause ?? (error as Error).message})`,
    };
  }
}
