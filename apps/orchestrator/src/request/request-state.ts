import type { BucketResult, ClientIdentity } from '@shieldx/security';
import type { Context, Span, Tracer } from '@opentelemetry/api';

/** What the gateway learns about one request as it moves through the pipeline (for headers and the access log). */
export interface GatewayRequestState {
  clientIp: string;
  /**
   * What per-client limits count this client under: its IP, or for IPv6 its /ORCH_IPV6_CLIENT_PREFIX network
   * (`clientKey`).
   */
  clientKey: string;
  /** The matched route template (`/route`, `/proxy/:service/*`…); undefined when no route matched. */
  readonly route?: string;
  /** The verified client certificate's URI/DNS SANs (empty without TLS); for guards and the policy input. */
  identity: ClientIdentity;
  /** Key id of the admission secret that verified the request's admission header (`#1`… or its configured id). */
  admissionKeyId?: string;
  /** RFC 7638 thumbprint of the key of a verified DPoP proof; for the policy input (`input.dpop.jkt`). */
  dpopJkt?: string;
  /** The caller's own `X-Correlation-ID` when it was not trusted as the correlation id (see `correlate`). */
  callerCorrId?: string;
  tenant?: string;
  action?: string;
  backend?: string;
  /** The tightest rate-limit outcome seen so far, for the RateLimit-* headers. */
  limit?: { readonly limit: number; readonly result: BucketResult };
  /** Units of the tenant's quota left after this request (from the quota service), for `X-Quota-Remaining`. */
  quotaRemaining?: number;
  /** With Redis: the per-IP take still owed, made together with the tenant's (see RateLimitService.checkIp). */
  deferredIp?: { readonly key: string; readonly limit: number };
  /** The request's trace while tracing is on (absent when off: every traced stage tests this one property). */
  trace?: RequestTrace;
}

/**
 * The trace of one request while tracing is on: its server span, the tracer, and the context that makes children of
 * that span. Kept on the request state (`request.gateway.trace`); absent when tracing is off, so every stage tests one
 * property and does nothing more.
 */
export interface RequestTrace {
  readonly span: Span;
  readonly tracer: Tracer;
  /** `trace.setSpan(parent, span)`, computed once per request. */
  readonly context: Context;
  /**
   * Whether the sampler kept the request (its span records). A dropped request makes no child spans: they would
   * record nothing either, and each costs the SDK a sampling decision and a span id.
   */
  readonly recording: boolean;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Per-request pipeline state; set in the first onRequest hook. */
    gateway: GatewayRequestState;
  }
}
