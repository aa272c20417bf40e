import { Inject, Injectable, Logger } from '@nestjs/common';
import type { Backend } from '@shieldx/lb';
import { canonicalPath, MAX_PATH_CHARS } from '@shieldx/policy';
import { normalizeIp, TrustedProxies } from '@shieldx/security';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { OrchestratorConfig } from '../config/config';
import { ORCH_CONFIG } from '../config/config.module';
import { toErrorResponse } from '../errors/error-body';
import {
  BadGatewayError,
  GatewayError,
  GatewayTimeoutError,
  InvalidRequestError,
  UpstreamBusyError,
  UpstreamShareExceededError,
} from '../errors/errors';
import { GatewayMetrics } from '../metrics/gateway-metrics';
import { isWebSocketUpgrade, pendingUpgrade } from '../pipeline/upgrades';
import { RateLimitService } from '../ratelimit/rate-limit.service';
import { SCOPE_PATTERN, SERVICE_PATTERN, TENANT_PATTERN } from '../routing/route-request.dto';
import { ClientRegions } from '../routing/client-regions';
import { RolloutsService } from '../rollouts/rollouts.service';
import { RouteService, type RouteContext, type RoutePlan } from '../routing/route.service';
import { endUpstreamSpan, injectTraceContext, upstreamSpan } from '../tracing/spans';
import { ConnectionGate } from '../upstream/connection-gate';
import { errorCode, forward, isClientGone, isClientStalled, type ForwardResult } from '../upstream/forward';
import { upstreamRequestHeaders } from '../upstream/headers';
import { OutlierDetector } from '../upstream/outlier-detector';
import { Upstreams } from '../upstream/upstreams';
import { TrafficMirror } from './traffic-mirror';
import { WebSocketTunnels } from './websocket-tunnels';

/**
 * What follows `/proxy/<service>` in a request target, as the client sent it (still encoded): `/v1/x?q=1`, or '' or
 * `?q=1` when nothing does. The first two segments are skipped as sent, whatever their spelling — `%61pi` is `api`
 * to the router but five characters here, and so is `%70roxy` — and an absolute-form target
 * (`http://host/proxy/…`, RFC 9112 §3.2.2) is read from its path.
 */
export function restOfProxyPath(target: string): string {
  const pathStart = target.startsWith('/') ? 0 : target.indexOf('/', target.indexOf('//') + 2);
  if (pathStart === -1) return '';
  let end = pathStart + 1;
  for (let segment = 0; segment < 2; segment++) {
    if (segment === 1) end++;
    while (end < target.length && target[end] !== '/' && target[end] !== '?') end++;
    if (target[end] !== '/') break;
  }
  return target.slice(end);
}

/** Methods that may be sent twice without changing the outcome (RFC 9110 §9.2.2). */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']);
/** Backend statuses worth another backend. */
const RETRY_STATUSES: ReadonlySet<number> = new Set([502, 503]);
/** undici error codes that mean the request never reached a backend's application. */
const CONNECT_ERRORS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'ENOTFOUND',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_SOCKET',
]);
const TIMEOUTS = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT']);
/**
 * undici error codes for a request it refuses to send (a header or path it cannot write): nothing reached a backend
 * and no other backend would take it, so the client gets a 400 and no backend is blamed for it.
 */
const UNSENDABLE = new Set(['UND_ERR_INVALID_ARG', 'UND_ERR_NOT_SUPPORTED']);
/** Retries in flight are always allowed up to this many, whatever the budget share (Envoy's min_retry_concurrency). */
const MIN_RETRY_CONCURRENCY = 3;
/** The client went away while its request waited for a connection: nothing to answer. */
const CLIENT_LEFT = Symbol('client left');

/**
 * `ANY /proxy/<service>/<rest>`: the `/route` pipeline (caller IP limit in the hook, tenant limit, policy, action,
 * balancer and breaker), then the request is forwarded over pooled keep-alive connections and the answer streamed
 * back unbuffered. Idempotent requests without a body are retried once on another backend on connect errors and
 * 502/503, within a retry budget. Every attempt's outcome feeds the backend's EWMA, breaker and outlier detection.
 * Each attempt first takes a slot of its backend's connection gate (cap, queue deadline, per-client share), and a
 * client that stops reading is cut after ORCH_PROXY_BODY_TIMEOUT (see forward); neither counts against the backend.
 * A WebSocket handshake that passed the same guards becomes a tunnel instead (see WebSocketTunnels).
 */
@Injectable()
export class ProxyService {
  private readonly logger = new Logger('proxy');
  private active = 0;
  private retrying = 0;
  private readonly strip: ReadonlySet<string>;
  private readonly trusted: TrustedProxies;
  /** Per-backend admission: connection cap, queue deadline, per-client share. */
  readonly gate: ConnectionGate;

  constructor(
    @Inject(ORCH_CONFIG) private readonly config: OrchestratorConfig,
    private readonly routes: RouteService,
    private readonly upstreams: Upstreams,
    private readonly outliers: OutlierDetector,
    private readonly metrics: GatewayMetrics,
    private readonly tunnels: WebSocketTunnels,
    private readonly regions: ClientRegions,
    private readonly mirror: TrafficMirror,
    private readonly rollouts: RolloutsService,
  ) {
    this.strip = new Set([config.admission.header.toLowerCase()]);
    this.trusted = new TrustedProxies(config.rateLimit.trustedProxies);
    const { maxConnections, clientShare, queueTimeoutMs } = config.proxy;
    this.gate = new ConnectionGate({
      capacity: maxConnections,
      perClient: Math.max(1, Math.floor(clientShare * maxConnections)),
      queueTimeoutMs,
    });
  }

  /** Proxied requests in flight. */
  get inFlight(): number {
    return this.active;
  }

  /**
   * `ANY /proxy/<service>/<rest>`: checks the request line and headers, plans (synchronously unless a port waits),
   * then streams the request to a backend. Bad input throws before anything is sent.
   */
  handle(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const { service } = request.params as { service: string };
    if (!SERVICE_PATTERN.test(service))
      throw new InvalidRequestError(
        'invalid_request',
        `the service in /proxy/<service>/ must match ${SERVICE_PATTERN.source}`,
      );
    const tenant = this.header(request, 'x-tenant', TENANT_PATTERN);
    const scope = this.header(request, 'x-scope', SCOPE_PATTERN);
    const rest = restOfProxyPath(request.raw.url ?? '/');
    const q = rest.indexOf('?');
    const raw = (q === -1 ? rest : rest.slice(0, q)) || '/';
    const query = q === -1 ? '' : rest.slice(q);
    // The one canonical path: the policy, the base rules, the ledger and the backend all see this string.
    const canonical = raw.length > MAX_PATH_CHARS ? undefined : canonicalPath(raw);
    if (canonical === undefined || !canonical.ok || canonical.path.length > MAX_PATH_CHARS) {
      throw new InvalidRequestError(
        'invalid_path',
        canonical === undefined || canonical.ok
          ? `the proxied path must be at most ${MAX_PATH_CHARS} characters`
          : `the proxied path is refused: ${canonical.reason}`,
      );
    }
    const path = canonical.path;
    const hashKey = request.headers['x-hash-key'];
    const ctx: RouteContext = {
      corrId: request.id,
      method: request.method,
      algoHeader: this.single(request.headers['x-lb-algo']),
      state: request.gateway,
      identity: request.gateway.identity,
      dpopJkt: request.gateway.dpopJkt ?? null,
      userAgent: request.headers['user-agent'],
      clientRegion: this.regions.enabled
        ? this.regions.of(request.socket.remoteAddress, request.gateway.clientIp, request.headers)
        : undefined,
    };
    const plan = this.routes.plan(
      {
        service,
        tenant,
        scope,
        path,
        hashKey: typeof hashKey === 'string' && hashKey !== '' ? hashKey.slice(0, 256) : undefined,
      },
      ctx,
    );
    return plan instanceof Promise
      ? plan.then((settled) => this.stream(request, reply, settled, ctx, path + query))
      : this.stream(request, reply, plan, ctx, path + query);
  }

  /** From here on the response is written by hand (streamed); onResponse hooks still log and measure it. */
  private async stream(
    request: FastifyRequest,
    reply: FastifyReply,
    plan: RoutePlan,
    ctx: RouteContext,
    pathAndQuery: string,
  ): Promise<void> {
    reply.hijack();
    this.active++;
    try {
      await this.send(request, reply.raw, plan, ctx, pathAndQuery);
    } finally {
      this.active--;
    }
  }

  private async send(
    request: FastifyRequest,
    res: ServerResponse,
    plan: RoutePlan,
    ctx: RouteContext,
    pathAndQuery: string,
  ): Promise<void> {
    const hasBody =
      request.headers['content-length'] !== undefined
        ? request.headers['content-length'] !== '0'
        : request.headers['transfer-encoding'] !== undefined;
    const retriable = !hasBody && IDEMPOTENT.has(request.method);
    const limit = request.gateway.limit;
    const rateHeaders = limit === undefined ? undefined : RateLimitService.headers(limit.limit, limit.result);
    const { clientIp, clientKey } = request.gateway;
    const peerIp = normalizeIp(request.socket.remoteAddress ?? '');
    const headers = upstreamRequestHeaders(request.headers, {
      clientIp,
      peerIp,
      peerTrusted: this.trusted.has(peerIp),
      proto: request.protocol,
      host: request.headers.host,
      correlationId: request.id,
      strip: this.strip,
    });
    const head = (_status: number, out: OutgoingHttpHeaders): OutgoingHttpHeaders => {
      out['x-correlation-id'] = request.id;
      if (rateHeaders !== undefined) Object.assign(out, rateHeaders);
      const quota = request.gateway.quotaRemaining;
      if (quota !== undefined) out['x-quota-remaining'] = String(quota);
      return out;
    };
    const upgrade = pendingUpgrade(request.raw);
    if (upgrade !== undefined && isWebSocketUpgrade(request.raw)) {
      await this.tunnels.forward(
        {
          request,
          res,
          upgrade,
          plan,
          ctx,
          headers,
          pathAndQuery,
          head,
          clientKey,
          mayRetry: (attempt) => attempt < this.config.proxy.retries && this.retryBudgetAllows(),
        },
        (error) => this.fail(request, res, error),
      );
      return;
    }
    const mirror = this.mirror.enabled
      ? this.mirror.begin(plan.pool.name, request.method, pathAndQuery, headers, hasBody, contentLength(request))
      : undefined;
    const body = !hasBody ? null : mirror === undefined ? request.raw : mirror.body(request.raw);
    const tried: Backend[] = [];
    let lastFailure: ForwardResult | undefined;
    try {
      for (let attempt = 0; ; attempt++) {
        let backend: Backend;
        try {
          backend = this.routes.pick(plan, ctx, true, tried).backend;
        } catch (error) {
          // Nothing left to try: answer with what the last attempt saw, or with the pick's own error (503).
          return this.fail(request, res, lastFailure === undefined ? error : this.failureError(lastFailure));
        }
        let refused = this.admit(backend.url, clientKey, res);
        if (refused instanceof Promise) refused = await refused;
        if (refused !== undefined) {
          // The gateway's own limits: the backend did nothing wrong, so no breaker, outlier or EWMA sample.
          backend.release();
          return refused === CLIENT_LEFT ? undefined : this.fail(request, res, refused);
        }
        const retrying = attempt > 0;
        if (retrying) this.retrying++;
        const canRetry = retriable && attempt < this.config.proxy.retries && this.retryBudgetAllows();
        const trace = ctx.state.trace;
        const span = trace === undefined ? undefined : upstreamSpan(trace, request.method, backend.url, attempt);
        if (span !== undefined) injectTraceContext(span, headers);
        const started = performance.now();
        const result = await forward(
          this.upstreams.get(backend.url),
          {
            method: request.method,
            path: this.upstreams.basePath(backend.url) + pathAndQuery,
            headers,
            body,
            retryOn: canRetry ? RETRY_STATUSES : undefined,
            head,
            stallMs: this.config.proxy.bodyTimeoutMs,
          },
          res,
          started,
        );
        this.gate.leave(backend.url, clientKey);
        mirror?.attempted(result);
        if (retrying) this.retrying--;
        if (span !== undefined) endUpstreamSpan(span, result.kind === 'error' ? { error: result.error } : result);
        backend.release();
        if (result.kind === 'error' && !result.responded && UNSENDABLE.has(errorCode(result.error))) {
          return this.fail(
            request,
            res,
            new InvalidRequestError('invalid_request', `the request cannot be forwarded: ${result.error.message}`),
          );
        }
        this.outliers.report(backend, plan.pool, result, performance.now() - started);
        if (!(result.kind === 'error' && isClientGone(result.error))) {
          this.rollouts.record(plan.pool, backend, result.kind !== 'done' || result.status >= 500, result.headersMs);
        }
        switch (result.kind) {
          case 'done':
            this.metrics.routed(plan.action);
            return;
          case 'retry_status':
            tried.push(backend);
            lastFailure = result;
            continue;
          case 'error':
            if (isClientStalled(result.error)) {
              this.logger.warn({ event: 'client_stalled', backend: backend.url, corrId: request.id });
            }
            if (isClientGone(result.error)) return;
            if (result.responded) {
              // The head is out: the only honest signal left is a broken response.
              this.logger.warn({
                event: 'upstream_failed_mid_response',
                backend: backend.url,
                code: errorCode(result.error),
                corrId: request.id,
              });
              res.destroy(result.error);
              return;
            }
            lastFailure = result;
            if (canRetry && CONNECT_ERRORS.has(errorCode(result.error))) {
              tried.push(backend);
              continue;
            }
            return this.fail(request, res, this.failureError(result));
          default: {
            const never: never = result;
            throw new Error(`unknown forward result ${JSON.stringify(never)}`);
          }
        }
      }
    } finally {
      mirror?.end();
    }
  }

  /**
   * Takes a slot on `backend` for the client counted as `clientKey`: at once, or after a wait of at most ORCH_PROXY_QUEUE_TIMEOUT. Returns
   * undefined when admitted (the caller then owes `gate.leave`), else the refusal, or CLIENT_LEFT when the client
   * went away while it waited. Synchronous for an admitted request (no await on the hot path).
   */
  private admit(
    backend: string,
    clientKey: string,
    res: ServerResponse,
  ): undefined | GatewayError | typeof CLIENT_LEFT | Promise<undefined | GatewayError | typeof CLIENT_LEFT> {
    const entry = this.gate.enter(backend, clientKey);
    if (entry === 'admitted') return undefined;
    if (entry === 'over_share') return new UpstreamShareExceededError(this.gate.limits.perClient);
    const waiting = this.gate.wait(backend, clientKey);
    res.once('close', waiting.cancel);
    return waiting.admitted.then((admitted) => {
      res.off('close', waiting.cancel);
      if (!admitted) return res.destroyed ? CLIENT_LEFT : new UpstreamBusyError(this.config.proxy.queueTimeoutMs);
      if (!res.destroyed) return undefined;
      this.gate.leave(backend, clientKey);
      return CLIENT_LEFT;
    });
  }

  private retryBudgetAllows(): boolean {
    return this.retrying < Math.max(MIN_RETRY_CONCURRENCY, this.config.proxy.retryBudget * this.active);
  }

  private failureError(result: ForwardResult): GatewayError {
    if (result.kind === 'retry_status') return new BadGatewayError(`the backends answered ${result.status}`);
    if (result.kind === 'error') {
      const code = errorCode(result.error);
      return TIMEOUTS.has(code)
        ? new GatewayTimeoutError(`the backend did not answer in time (${code})`)
        : new BadGatewayError(`the backend could not be reached (${code})`);
    }
    return new BadGatewayError('the backend failed');
  }

  /** Writes the documented JSON error (docs/http-api.md) on a hijacked response (when its head is not out yet). */
  private fail(request: FastifyRequest, res: ServerResponse, error: unknown): void {
    if (res.headersSent || res.destroyed) return;
    const response = toErrorResponse(error, request.id);
    if (response.unexpected) this.logger.error({ event: 'proxy_failed', err: error, corrId: request.id });
    this.metrics.errored(response.body.error);
    const body = JSON.stringify(response.body);
    res.writeHead(response.status, {
      ...response.headers,
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(body),
      'x-correlation-id': request.id,
    });
    res.end(body);
  }

  private header(request: FastifyRequest, name: string, pattern: RegExp): string {
    const value = this.single(request.headers[name]);
    if (value === undefined || !pattern.test(value)) {
      throw new InvalidRequestError(
        'invalid_request',
        `the ${name} header is required and must match ${pattern.source}`,
      );
    }
    return value;
  }

  private single(value: string | string[] | undefined): string | undefined {
    return Array.isArray(value) ? value[0] : value;
  }
}

/** The request's declared body length, when it declares one. */
function contentLength(request: FastifyRequest): number | undefined {
  const value = request.headers['content-length'];
  return value === undefined ? undefined : Number(value);
}
