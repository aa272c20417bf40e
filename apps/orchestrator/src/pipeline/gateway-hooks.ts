import { Inject, Injectable } from '@nestjs/common';
import { anonymizeIp, clientKey, EMPTY_IDENTITY, resolveClientIp, TrustedProxies } from '@shieldx/security';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { CallerProofService } from '../auth/caller-proof.service';
import type { OrchestratorConfig } from '../config/config';
import { ORCH_CONFIG } from '../config/config.module';
import { AccessLog } from '../logging/access-log';
import { callerCorrIdOf } from '../request/request-context';
import { heldToItsHeaders } from '../request/correlation';
import { GatewayMetrics } from '../metrics/gateway-metrics';
import { RateLimitService } from '../ratelimit/rate-limit.service';
import { ClientIdentityService } from '../tls/client-identity.service';
import { IDENTITY_EXEMPT_ROUTES } from '../tls/tls.constants';
import { traced } from '../tracing/spans';
import { TracingService } from '../tracing/tracing.service';
import { ClientIdentityRefusedError, InvalidRequestError, ShuttingDownError } from '../errors/errors';
import type { GatewayRequestState } from '../request/request-state';

/** Route templates of the data plane: per-IP limits apply to these, never to probes, metrics or the admin API. */
function isDataPlane(route: string | undefined): boolean {
  return route === '/route' || (route !== undefined && route.startsWith('/proxy/'));
}

/**
 * The request pipeline: the Fastify hooks that frame every request, installed before Nest registers its routes (so
 * they apply to all): correlation id header, client IP, the verified client identity (mTLS SAN allowlist), the per-IP
 * token bucket and the caller proof (both before the body is read or parsed), RateLimit-* headers, the access log line
 * and the request-duration histogram. What fails before a handler runs (body too large, bad JSON, wrong media type, a
 * refused token) reaches the one exception filter through Nest's error handler. See docs/architecture.md.
 */
@Injectable()
export class GatewayPipeline {
  constructor(
    @Inject(ORCH_CONFIG) private readonly config: OrchestratorConfig,
    private readonly limits: RateLimitService,
    private readonly metrics: GatewayMetrics,
    private readonly identities: ClientIdentityService,
    private readonly tracing: TracingService,
    private readonly proofs: CallerProofService,
  ) {}

  /** Adds the hooks to `fastify` (the root instance, before any route is registered). */
  install(fastify: FastifyInstance): void {
    installHooks(fastify, this.config, this.limits, this.metrics, this.identities, this.tracing, this.proofs);
  }
}

function installHooks(
  fastify: FastifyInstance,
  config: OrchestratorConfig,
  limits: RateLimitService,
  metrics: GatewayMetrics,
  identities: ClientIdentityService,
  tracing: TracingService,
  proofs: CallerProofService,
): void {
  const trusted = new TrustedProxies(config.rateLimit.trustedProxies);
  const v6Prefix = config.rateLimit.ipv6ClientPrefix;
  const showIp = config.log.fullIp ? (ip: string) => ip : anonymizeIp;
  const access = new AccessLog(fastify.log as Logger);

  const admissionHeader = config.admission.secrets.length > 0 ? config.admission.header.toLowerCase() : undefined;
  const carriesProof = (request: FastifyRequest): boolean =>
    request.headers.dpop !== undefined ||
    (admissionHeader !== undefined && request.headers[admissionHeader] !== undefined);

  fastify.decorateRequest('gateway', null as unknown as FastifyRequest['gateway']);

  // Once the close began (Fastify's preClose), a request on a connection kept alive from before gets the documented
  // 503 and the connection is closed after it; in-flight requests finish (GracefulShutdown bounds them).
  let closing = false;
  fastify.addHook('preClose', (done) => {
    closing = true;
    done();
  });

  fastify.addHook('onRequest', (request: FastifyRequest, reply: FastifyReply, done: (err?: Error) => void) => {
    // Read once: Fastify builds a new routeOptions object on every access.
    const route = request.routeOptions.url;
    const clientIp = resolveClientIp(request.socket.remoteAddress ?? '', request.headers['x-forwarded-for'], trusted);
    const state: GatewayRequestState = {
      clientIp,
      clientKey: clientKey(clientIp, v6Prefix),
      identity: EMPTY_IDENTITY,
      route,
      callerCorrId: callerCorrIdOf(request.id),
    };
    request.gateway = state;
    reply.header('x-correlation-id', request.id);
    if (closing) return done(new ShuttingDownError());
    // What Node's requireHostHeader refused with an empty 400 (turned off in app.factory.ts for this JSON one).
    if (request.headers.host === undefined && request.raw.httpVersion === '1.1') {
      return done(new InvalidRequestError('invalid_request', 'an HTTP/1.1 request must carry a Host header'));
    }
    if (tracing.enabled) state.trace = tracing.startRequest(request, heldToItsHeaders(request.raw, trusted));
    const exempt = route !== undefined && IDENTITY_EXEMPT_ROUTES.has(route);
    if (identities.enabled) {
      // Once per connection (cached on the TLS socket); refused before the body is read, probes excepted.
      const peer = identities.of(request.raw.socket, request.id);
      if (peer.admitted) state.identity = peer.identity;
      else if (!exempt) {
        metrics.denied('client_identity');
        return done(new ClientIdentityRefusedError());
      }
    }
    // The per-IP limit, then the caller proof (admission header, DPoP); probes and scrapes are exempt from both. The
    // limit comes first because it is the cheap check: a flood of forged DPoP proofs is refused by its bucket instead
    // of costing a signature verification each — on every route that verifies one: off the data plane (admin API,
    // /health, unmatched URLs), a request that carries a proof takes its token too.
    if (exempt) return done();
    if (isDataPlane(route) || carriesProof(request)) limitIp(request, reply, done);
    else proveCaller(request, reply, done);
  });

  function limitIp(request: FastifyRequest, reply: FastifyReply, done: (err?: Error) => void): void {
    let outcome: void | Promise<void>;
    try {
      const trace = request.gateway.trace;
      outcome =
        trace === undefined
          ? limits.checkIp(request.gateway, request.id)
          : traced(trace, 'ratelimit.ip', () => limits.checkIp(request.gateway, request.id));
    } catch (error) {
      return done(error as Error);
    }
    if (outcome instanceof Promise) outcome.then(() => proveCaller(request, reply, done), done);
    else proveCaller(request, reply, done);
  }

  function proveCaller(request: FastifyRequest, reply: FastifyReply, done: (err?: Error) => void): void {
    let proven: void | Promise<void>;
    try {
      proven = proofs.check(request, reply);
    } catch (error) {
      return done(error as Error);
    }
    if (proven instanceof Promise) proven.then(() => done(), done);
    else done();
  }

  fastify.addHook(
    'onSend',
    (request: FastifyRequest, reply: FastifyReply, payload: unknown, done: (err: null, payload: unknown) => void) => {
      const state = request.gateway;
      const limit = state?.limit;
      if (limit !== undefined && !reply.hasHeader('ratelimit-limit'))
        reply.headers(RateLimitService.headers(limit.limit, limit.result));
      if (state?.quotaRemaining !== undefined && !reply.hasHeader('x-quota-remaining'))
        reply.header('x-quota-remaining', String(state.quotaRemaining));
      done(null, payload);
    },
  );

  fastify.addHook('onResponse', (request: FastifyRequest, reply: FastifyReply, done: () => void) => {
    const state = request.gateway;
    const route = (state === null ? request.routeOptions.url : state.route) ?? 'unmatched';
    const latencyMs = reply.elapsedTime;
    metrics.observeRequest(request.method, route, reply.statusCode, latencyMs / 1000);
    if (access.enabled) {
      access.write({
        corrId: request.id,
        callerCorrId: state?.callerCorrId,
        method: request.method,
        route,
        status: reply.statusCode,
        ip: state === null ? undefined : showIp(state.clientIp),
        tenant: state?.tenant,
        action: state?.action,
        backend: state?.backend,
        latencyMs: Math.round(latencyMs * 1000) / 1000,
      });
    }
    if (state !== null) limits.takeOwedIp(state);
    if (state?.trace !== undefined) tracing.endRequest(state.trace, reply.statusCode, state);
    done();
  });

  // A request abandoned before its answer still owes its per-IP token (Redis mode defers it; see RateLimitService).
  fastify.addHook('onRequestAbort', (request: FastifyRequest, done: () => void) => {
    if (request.gateway !== null) limits.takeOwedIp(request.gateway);
    if (request.gateway?.trace !== undefined) {
      tracing.endRequest(request.gateway.trace, 499, request.gateway, true);
      request.gateway.trace = undefined;
    }
    done();
  });
}
