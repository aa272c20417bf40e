import { Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { anonymizeIp, SanAllowlist } from '@shieldx/security';
import type { FastifyRequest } from 'fastify';
import { timingSafeEqual, createHash } from 'node:crypto';
import type { OrchestratorConfig } from '../config/config';
import { ORCH_CONFIG } from '../config/config.module';
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

/**
 * How the caller of an admin route was admitted: `token`, `san:<matched entry>`, or `insecure-loopback`. Set by
 * {@link AdminGuard}; `unknown` on a request it did not guard.
 */
export function adminActor(request: FastifyRequest): string {
  return actors.get(request) ?? 'unknown';
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

  constructor(
    @Inject(ORCH_CONFIG) private readonly config: OrchestratorConfig,
    private readonly events: SecurityEvents,
  ) {
    this.token = config.admin.token === undefined ? undefined : digest(config.admin.token);
    this.sans = config.admin.sans.length === 0 ? undefined : new SanAllowlist(config.admin.sans);
    let table = refusalTables.get(events);
    if (table === undefined) {
      table = new Map<string, { until: number; folded: number }>();
      refusalTables.set(events, table);
    }
    this.refusals = table;
  }

  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    try {
      actors.set(request, this.authenticate(request));
    } catch (error) {
      if (error instanceof GatewayError) this.refused(request, error.code);
      throw error;
    }
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

  private refused(request: FastifyRequest, reason: string): void {
    const ip = request.gateway.clientIp;
    const now = Date.now();
    const entry = this.refusals.get(ip);
    if (entry !== undefined && entry.until > now) {
      entry.folded++;
      return;
    }
    this.refusals.delete(ip);
    if (this.refusals.size >= REFUSAL_KEYS_MAX) this.refusals.delete(this.refusals.keys().next().value as string);
    this.refusals.set(ip, { until: now + REFUSAL_EVENT_INTERVAL_MS, folded: 0 });
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
      },
    });
  }
}
