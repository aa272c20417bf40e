import { Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import {
  anonymizeIp,
  requiredAdminRole,
  roleAllows,
  SanAllowlist,
  USER_ASSERTION_HEADER,
  UserAssertionVerifier,
} from '@shieldx/security';
import type { FastifyRequest } from 'fastify';
import { timingSafeEqual, createHash } from 'node:crypto';
import type { OrchestratorConfig } from '../config/config';
import { ORCH_CONFIG } from '../config/config.module';
import { actFor, type ActingUser } from '../events/acting-user';
import { SecurityEvents } from '../events/security-events';
import { GatewayError } from '../errors/errors';

/** 401: admin credentials missing or wrong. */
export class AdminUnauthorizedError extends GatewayError {
  readonly status = 401;
  readonly code = 'admin_unauthorized';
  override readonly headers = { 'www-authenticate': 'Bearer realm="shieldx-admin"' };
  constructor() {
    super('the admin API needs a valid bearer token (ORCH_ADMIN_TOKEN)');
  }
}

/** 403: only admin client-certificate identities are configured, and this caller presented none of them. */
export class AdminIdentityRefusedError extends GatewayError {
  readonly status = 403;
  readonly code = 'admin_identity_refused';
  constructor() {
    super('the admin API needs a client certificate with an admin SAN (ORCH_ADMIN_SANS)');
  }
}

/** 403: the admin API is closed because nothing that could authenticate an operator is configured. */
export class AdminClosedError extends GatewayError {
  readonly status = 403;
  readonly code = 'admin_closed';
  constructor() {
    super(
      'the admin API is closed: set ORCH_ADMIN_TOKEN or ORCH_ADMIN_SANS (it is open without them only in insecure dev mode on loopback)',
    );
  }
}

/** 401: the user assertion beside the admin credential is missing (ORCH_ADMIN_REQUIRE_USER) or does not verify. */
export class AdminUserUnauthorizedError extends GatewayError {
  readonly status = 401;
  constructor(
    readonly code: 'admin_user_required' | 'admin_user_invalid',
    message: string,
  ) {
    super(message);
  }
}

/** 403: the signed-in person's role may not do this. */
export class AdminRoleRefusedError extends GatewayError {
  readonly status = 403;
  readonly code = 'admin_role_refused';
  constructor(
    readonly role: string,
    readonly requiredRole: string,
  ) {
    super(`this needs the ${requiredRole} role; you are ${role === 'viewer' ? 'a' : 'an'} ${role}`);
  }
}

/**
 * Routes a credential may call without a user assertion even under ORCH_ADMIN_REQUIRE_USER: the UI reports refused
 * sign-ins there, for people it could not name with a role.
 */
const UNREQUIRED = new Set(['POST /admin/ui-events']);

/** Refusals of one client address are folded into one `auth.failed` event per this interval. */
const REFUSAL_EVENT_INTERVAL_MS = 10_000;
/** Most client addresses whose refusals are being folded at once. */
const REFUSAL_KEYS_MAX = 1000;

/**
 * Folded refusals per client address, one table per application: Nest makes a guard instance per module that uses
 * it (admin, policy, ledger controllers), and they must fold into the same events. Keyed by the app's
 * {@link SecurityEvents}, so two apps in one process (tests) never share one.
 */
const refusalTables = new WeakMap<SecurityEvents, Map<string, { until: number; folded: number }>>();

/** Who was admitted, per request, for the events of admin actions. */
const actors = new WeakMap<FastifyRequest, string>();
/** The person each admitted request acts for, when a user assertion named one. */
const users = new WeakMap<FastifyRequest, ActingUser>();

/**
 * Who acts in an admin request: `user:<subject>` for a person named by a verified user assertion (their email and
 * role go into the events' `user` member), else how the caller was admitted: `token`, `san:<matched entry>`, or
 * `insecure-loopback`. Set by {@link AdminGuard}; `unknown` on a request it did not guard.
 */
export function adminActor(request: FastifyRequest): string {
  return actors.get(request) ?? 'unknown';
}

/** The person an admin request acts for (verified user assertion), if any. */
export function adminUser(request: FastifyRequest): ActingUser | undefined {
  return users.get(request);
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

function isLoopback(ip: string): boolean {
  return ip === '::1' || ip.startsWith('127.');
}

/**
 * Guards `/admin/*`. A caller passes with either credential that is configured:
 * - a bearer token equal to ORCH_ADMIN_TOKEN, compared in constant time over SHA-256 digests (neither content nor
 *   length leaks);
 * - a verified client certificate one of whose SANs matches ORCH_ADMIN_SANS, with the matching of the client SAN
 *   allowlist ({@link SanAllowlist}): a URI entry (`spiffe://…`) only against URI SANs, exactly or under a prefix
 *   ending in `/` at a segment boundary; a DNS entry only against DNS SANs, exactly. A DNS SAN spelling an admin
 *   SPIFFE ID is never an admin.
 * Beside the credential, the admin UI may send a user assertion ({@link USER_ASSERTION_HEADER}, verified against
 * ORCH_ADMIN_USER_KEYS): the call then acts for that person, whose role must allow the route (`requiredAdminRole`:
 * reads need viewer, traffic changes operator, ledger export, configuration reload and unclassified writes admin),
 * else 403 `admin_role_refused`. Without an assertion the credential acts with every right, unless
 * ORCH_ADMIN_REQUIRE_USER refuses it (401). An assertion that does not verify is 401, never ignored.
 * With neither configured the admin API is closed (403), except in insecure dev mode for callers on loopback. Missing
 * or wrong credentials answer 401 when a token is configured (so clients know to send one), else 403. Refusals become
 * `auth.failed` security events, folded to one per client address per 10 s with a count. The admission guard, when
 * enabled, runs before this in a global hook.
 */
@Injectable()
export class AdminGuard implements CanActivate {
  private readonly token: Buffer | undefined;
  private readonly sans: SanAllowlist | undefined;
  private readonly refusals: Map<string, { until: number; folded: number }>;
  private readonly assertions: UserAssertionVerifier;

  constructor(
    @Inject(ORCH_CONFIG) private readonly config: OrchestratorConfig,
    private readonly events: SecurityEvents,
  ) {
    this.token = config.admin.token === undefined ? undefined : digest(config.admin.token);
    this.sans = config.admin.sans.length === 0 ? undefined : new SanAllowlist(config.admin.sans);
    this.assertions = new UserAssertionVerifier({
      keys: config.admin.userKeys,
      issuer: config.admin.userIssuer,
      audience: config.admin.userAudience,
    });
    let table = refusalTables.get(events);
    if (table === undefined) {
      table = new Map<string, { until: number; folded: number }>();
      refusalTables.set(events, table);
    }
    this.refusals = table;
  }

  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    let credential: string;
    try {
      credential = this.authenticate(request);
    } catch (error) {
      if (error instanceof GatewayError) this.refused(request, error.code);
      throw error;
    }
    const header = request.headers[USER_ASSERTION_HEADER];
    if (header === undefined) {
      if (this.config.admin.requireUser && !UNREQUIRED.has(`${request.method} ${request.routeOptions.url ?? ''}`)) {
        this.refused(request, 'admin_user_required');
        throw new AdminUserUnauthorizedError(
          'admin_user_required',
          `this orchestrator acts only for signed-in people: send a user assertion (${USER_ASSERTION_HEADER})`,
        );
      }
      actors.set(request, credential);
      return true;
    }
    return this.admitUser(request, credential, header);
  }

  /** Verifies the user assertion, then enforces the person's role on the route. */
  private async admitUser(request: FastifyRequest, via: string, header: string | string[]): Promise<boolean> {
    const result =
      typeof header !== 'string'
        ? ({ ok: false, reason: 'malformed' } as const)
        : !this.assertions.configured
          ? ({ ok: false, reason: 'not_trusted' } as const)
          : await this.assertions.verify(header);
    if (!result.ok) {
      this.refused(request, `admin_user_invalid:${result.reason}`);
      throw new AdminUserUnauthorizedError(
        'admin_user_invalid',
        result.reason === 'not_trusted'
          ? 'this orchestrator trusts no user assertions (ORCH_ADMIN_USER_KEYS is unset)'
          : `the user assertion was refused (${result.reason})`,
      );
    }
    const user: ActingUser = { ...result.user, via };
    const required = requiredAdminRole(request.method, request.routeOptions.url ?? request.url);
    if (!roleAllows(user.role, required)) {
      this.refused(request, 'admin_role_refused', user, required);
      throw new AdminRoleRefusedError(user.role, required);
    }
    actors.set(request, `user:${user.sub}`);
    users.set(request, user);
    actFor(request.id, user, request.raw);
    return true;
  }

  private authenticate(request: FastifyRequest): string {
    if (this.token === undefined && this.sans === undefined) {
      if (this.config.listen.insecure && isLoopback(request.gateway.clientIp)) return 'insecure-loopback';
      throw new AdminClosedError();
    }
    if (this.sans !== undefined) {
      const verdict = this.sans.check(request.gateway.identity);
      if (verdict.admitted) return `san:${verdict.matched ?? ''}`;
    }
    if (this.token !== undefined) {
      const header = request.headers.authorization;
      const match = typeof header === 'string' ? /^Bearer\s+(\S+)$/i.exec(header) : null;
      if (match !== null && timingSafeEqual(digest(match[1]), this.token)) return 'token';
      throw new AdminUnauthorizedError();
    }
    throw new AdminIdentityRefusedError();
  }

  /**
   * Records a refusal as `auth.failed`, folded per client address (per address and person for role refusals, so one
   * person's refusals never hide another's).
   */
  private refused(request: FastifyRequest, reason: string, user?: ActingUser, requiredRole?: string): void {
    const ip = request.gateway.clientIp;
    const key = user === undefined ? ip : `${ip} ${user.sub}`;
    const now = Date.now();
    const entry = this.refusals.get(key);
    if (entry !== undefined && entry.until > now) {
      entry.folded++;
      return;
    }
    this.refusals.delete(key);
    if (this.refusals.size >= REFUSAL_KEYS_MAX) this.refusals.delete(this.refusals.keys().next().value as string);
    this.refusals.set(key, { until: now + REFUSAL_EVENT_INTERVAL_MS, folded: 0 });
    this.events.emit({
      type: 'auth.failed',
      corrId: request.id,
      data: {
        scheme: 'admin',
        reason,
        method: request.method,
        route: request.routeOptions.url ?? null,
        ip: anonymizeIp(ip),
        identity: [...request.gateway.identity.uris, ...request.gateway.identity.dns],
        foldedSinceLastEvent: entry?.folded ?? 0,
        ...(requiredRole === undefined ? {} : { requiredRole }),
        ...(user === undefined ? {} : { user }),
      },
    });
  }
}
