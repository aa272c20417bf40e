import {
  Inject,
  Injectable,
  type BeforeApplicationShutdown,
  type CanActivate,
  type ExecutionContext,
} from '@nestjs/common';
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
import type { AuthFailedData } from '../events/security-event';
import { SecurityEvents } from '../events/security-events';
import { GatewayError } from '../errors/errors';
import { EventGuard } from '../ledger/event-guard';

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

/** Refusals of one client address for one reason (and one person) are folded into one entry per this interval. */
const REFUSAL_EVENT_INTERVAL_MS = 10_000;
/** Most folds open at once; beyond it the oldest is written out (with its count) to make room, never dropped. */
const REFUSAL_KEYS_MAX = 1000;

/** What an admin refusal records (`auth.failed` with `scheme: 'admin'`). */
type AdminRefusalData = Extract<AuthFailedData, { scheme: 'admin' }>;

/** What a refusal is folded by: the client address (raw), the reason, and the person for role refusals. */
type RefusalKey = Pick<AdminRefusalData, 'scheme' | 'reason' | 'ip' | 'user'>;

/** What only the entry of a fold's first refusal says: the request refused. */
type RefusalDetails = Omit<AdminRefusalData, keyof RefusalKey | 'repeated'>;

/** The app's refusal folder, and the details of the refusal being offered to it (set only during `offer`). */
interface RefusalFold {
  readonly guard: EventGuard;
  offering: RefusalDetails | undefined;
}

/**
 * Folded refusals, one {@link RefusalFold} per application: Nest makes a guard instance per module that uses it
 * (admin, policy, ledger controllers), and they must fold into the same events. Keyed by the app's
 * {@link SecurityEvents}, so two apps in one process (tests) never share one.
 */
const refusalFolds = new WeakMap<SecurityEvents, RefusalFold>();

/**
 * The app's refusal folder: the ledger's own aggregation ({@link EventGuard}) in front of the events port, offered
 * only what a refusal is folded by ({@link RefusalKey}). The first refusal of a client address for a reason is an
 * `auth.failed` event at once, with the request's method, route and identity; the next ones within 10 s are counted,
 * and when the 10 s end (on an unref'd timer, so an attacker who stops is still on record) one more event carries
 * the address, reason and person with the count in `repeated` (`{count, firstAt, lastAt, windowMs, lastCorrId}`, as in
 * the ledger). A fold pushed out of a full table is written with its count, never dropped. The folder sees the raw
 * client address, so two clients are never folded together; the event carries it anonymised. Its own per-type cap is
 * off: the ledger caps every type.
 */
function refusalFoldOf(events: SecurityEvents): RefusalFold {
  let fold = refusalFolds.get(events);
  if (fold === undefined) {
    const created: RefusalFold = {
      offering: undefined,
      guard: new EventGuard({
        windowMs: REFUSAL_EVENT_INTERVAL_MS,
        maxPerTypePerSecond: Number.MAX_SAFE_INTEGER,
        maxKeys: REFUSAL_KEYS_MAX,
        now: () => Date.now(),
        write: ({ corrId, data }) => {
          const key = data as RefusalKey & Pick<AdminRefusalData, 'repeated'>;
          // A first occurrence is written within `offer`, for the refusal being offered; counts carry no request.
          const details = key.repeated === undefined ? created.offering : undefined;
          events.emit({
            type: 'auth.failed',
            corrId: corrId ?? undefined,
            data: { ...key, ...details, ip: anonymizeIp(key.ip) } as AdminRefusalData,
          });
        },
      }),
    };
    refusalFolds.set(events, created);
    fold = created;
  }
  return fold;
}

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
 * `auth.failed` security events, folded per client address and reason (and person) to one per 10 s, with a count
 * written when the 10 s end ({@link refusalFoldOf}). The admission guard, when enabled, runs before this in a global
 * hook.
 */
@Injectable()
export class AdminGuard implements CanActivate, BeforeApplicationShutdown {
  private readonly token: Buffer | undefined;
  private readonly sans: SanAllowlist | undefined;
  private readonly refusals: RefusalFold;
  private readonly assertions: UserAssertionVerifier;

  constructor(
    @Inject(ORCH_CONFIG) private readonly config: OrchestratorConfig,
    events: SecurityEvents,
  ) {
    this.token = config.admin.token === undefined ? undefined : digest(config.admin.token);
    this.sans = config.admin.sans.length === 0 ? undefined : new SanAllowlist(config.admin.sans);
    this.assertions = new UserAssertionVerifier({
      keys: config.admin.userKeys,
      issuer: config.admin.userIssuer,
      audience: config.admin.userAudience,
    });
    this.refusals = refusalFoldOf(events);
  }

  /**
   * Writes the refusals still being counted, while the ledger is open (it closes in the shutdown hooks that follow),
   * and stops their timer. Every guard instance of the app shares the folder; the first call writes, the others find
   * nothing.
   */
  beforeApplicationShutdown(): void {
    this.refusals.guard.flush();
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
   * Records a refusal as `auth.failed` through the app's refusal folder: per client address and reason, and per
   * person for role refusals, so one person's refusals never hide another's, nor one reason another.
   */
  private refused(request: FastifyRequest, reason: string, user?: ActingUser, requiredRole?: string): void {
    const key: RefusalKey = {
      scheme: 'admin',
      reason,
      // Raw here, so that two clients are never folded together; the folder's writer anonymises it.
      ip: request.gateway.clientIp,
      ...(user === undefined ? {} : { user }),
    };
    this.refusals.offering = {
      method: request.method,
      route: request.routeOptions.url ?? null,
      identity: [...request.gateway.identity.uris, ...request.gateway.identity.dns],
      ...(requiredRole === undefined ? {} : { requiredRole }),
    };
    try {
      this.refusals.guard.offer({ type: 'auth.failed', corrId: request.id, data: key });
    } finally {
      this.refusals.offering = undefined;
    }
  }
}
