import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { anonymizeIp, EMPTY_IDENTITY, resolveClientIp, TrustedProxies } from '@shieldx/security';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { CallerProofService } from '../auth/caller-proof.service';
import type { OrchestratorConfig } from '../config/config';
import { ORCH_CONFIG } from '../config/config.module';
import { GatewayMetrics } from '../metrics/gateway-metrics';
import { RateLimitService } from '../ratelimit/rate-limit.service';
import { ClientIdentityService } from '../tls/client-identity.service';
import { IDENTITY_EXEMPT_ROUTES } from '../tls/tls.constants';
import { traced } from '../tracing/spans';
import { TracingService } from '../tracing/tracing.service';
import { ClientIdentityRefusedError } from './errors';
import './request-state';

/** Route templates of the data plane: per-IP limits apply to these, never to probes, metrics or the admin API. */
function isDataPlane(route: string | undefined): boolean {
  return route === '/route' || (route !== undefined && route.startsWith('/proxy/'));
}

/**
 * Installs the Fastify hooks that frame every request, before Nest registers its routes (so they apply to all):
 * correlation id header, client IP, the verified client identity (mTLS SAN allowlist), the per-IP token bucket (before the body is read or parsed), RateLimit-*
 * headers, the access log line and the request-duration histogram. What fails before a handler runs (body too
 * large, bad JSON, wrong media type, a refused token) reaches the one exception filter through Nest's error handler.
 */
export function installGatewayHooks(app: NestFastifyApplication): void {
  const config = app.get<OrchestratorConfig>(ORCH_CONFIG);
  const limits = app.get(RateLimitService);
  const metrics = app.get(GatewayMetrics);
  const identities = app.get(ClientIdentityService);
  const tracing = app.get(TracingService);
  const proofs = app.get(CallerProofService);
  const trusted = new TrustedProxies(config.rateLimit.trustedProxies);
  const showIp = config.log.fullIp ? (ip: string) => ip : anonymizeIp;
  const fastify = app.getHttpAdapter().getInstance();

  fastify.decorateRequest('gateway', null as unknown as FastifyRequest['gateway']);

  fastify.addHook('onRequest', (request: FastifyRequest, reply: FastifyReply, done: (err?: Error) => void) => {
    const state = {
      clientIp: resolveClientIp(request.socket.remoteAddress ?? '', request.headers['x-forwarded-for'], trusted),
      identity: EMPTY_IDENTITY,
    };
    request.gateway = state;
    reply.header('x-correlation-id', request.id);
    if (tracing.enabled) request.gateway.trace = tracing.startRequest(request);
    if (identities.enabled) {
      // Once per connection (cached on the TLS socket); refused before the body is read, probes excepted.
      const peer = identities.of(request.raw.socket, request.id);
      if (peer.admitted) state.identity = peer.identity;
      else if (!IDENTITY_EXEMPT_ROUTES.has(request.routeOptions.url ?? '')) {
        metrics.denied('client_identity');
        return done(new ClientIdentityRefusedError());
      }
    }
    // Caller proof (admission header, DPoP), then the per-IP limit; probes and scrapes are exempt from both.
    if (IDENTITY_EXEMPT_ROUTES.has(request.routeOptions.url ?? '')) return done();
    let proven: void | Promise<void>;
    try {
      proven = proofs.check(request, reply);
    } catch (error) {
      return done(error as Error);
    }
    if (proven instanceof Promise) proven.then(() => limitIp(request, done), done);
    else limitIp(request, done);
  });

  function limitIp(request: FastifyRequest, done: (err?: Error) => void): void {
    if (!isDataPlane(request.routeOptions.url)) return done();
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
    if (outcome instanceof Promise) outcome.then(() => done(), done);
    else done();
  }

  fastify.addHook(
    'onSend',
    (request: FastifyRequest, reply: FastifyReply, payload: unknown, done: (err: null, payload: unknown) => void) => {
      const limit = request.gateway?.limit;
      if (limit !== undefined && !reply.hasHeader('ratelimit-limit'))
        reply.headers(RateLimitService.headers(limit.limit, limit.result));
      done(null, payload);
    },
  );

  fastify.addHook('onResponse', (request: FastifyRequest, reply: FastifyReply, done: () => void) => {
    const route = request.routeOptions.url ?? 'unmatched';
    const latencyMs = reply.elapsedTime;
    metrics.observeRequest(request.method, route, reply.statusCode, latencyMs / 1000);
    const state = request.gateway;
    request.log.info({
      event: 'access',
      method: request.method,
      route,
      status: reply.statusCode,
      ip: state === null ? undefined : showIp(state.clientIp),
      tenant: state?.tenant,
      action: state?.action,
      backend: state?.backend,
      latencyMs: Math.round(latencyMs * 1000) / 1000,
    });
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
