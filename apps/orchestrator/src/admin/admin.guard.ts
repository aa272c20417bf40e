import { Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { timingSafeEqual, createHash } from 'node:crypto';
import type { OrchestratorConfig } from '../config/config';
import { ORCH_CONFIG } from '../config/config.module';
import { GatewayError } from '../http/errors';

/** 401: admin credentials missing or wrong. */
export class AdminUnauthorizedError extends GatewayError {
  readonly status = 401;
  readonly code = 'admin_unauthorized';
  override readonly headers = { 'www-authenticate': 'Bearer realm="shieldx-admin"' };
  constructor() {
    super('the admin API needs a valid bearer token (ORCH_ADMIN_TOKEN)');
  }
}

/** 403: the admin API is closed because nothing that could authenticate an operator is configured. */
export class AdminClosedError extends GatewayError {
  readonly status = 403;
  readonly code = 'admin_closed';
  constructor() {
    super(
      'the admin API is closed: set ORCH_ADMIN_TOKEN (it is open without one only in insecure dev mode on loopback)',
    );
  }
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

function isLoopback(ip: string): boolean {
  return ip === '::1' || ip.startsWith('127.');
}

/**
 * Guards `/admin/*`: a bearer token equal to ORCH_ADMIN_TOKEN (compared in constant time over SHA-256 digests, so
 * neither content nor length leaks). With no token configured the admin API is closed, except in insecure dev mode
 * for callers on loopback.
 */
@Injectable()
export class AdminGuard implements CanActivate {
  private readonly token: Buffer | undefined;

  constructor(@Inject(ORCH_CONFIG) private readonly config: OrchestratorConfig) {
    this.token = config.admin.token === undefined ? undefined : digest(config.admin.token);
  }

  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    if (this.token === undefined) {
      if (this.config.listen.insecure && isLoopback(request.gateway.clientIp)) return true;
      throw new AdminClosedError();
    }
    const header = request.headers.authorization;
    const match = typeof header === 'string' ? /^Bearer\s+(\S+)$/i.exec(header) : null;
    if (match === null || !timingSafeEqual(digest(match[1]), this.token)) throw new AdminUnauthorizedError();
    return true;
  }
}
