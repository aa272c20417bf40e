import type { BucketResult, ClientIdentity } from '@shieldx/security';
import type { RequestTrace } from '../tracing/spans';

/** What the gateway learns about one request as it moves through the pipeline (for headers and the access log). */
export interface GatewayRequestState {
  clientIp: string;
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
  /** With Redis: the per-IP take still owed, made together with the tenant's (see RateLimitService.checkIp). */
  deferredIp?: { readonly key: string; readonly limit: number };
  /** The request's trace while tracing is on (absent when off: every traced stage tests this one property). */
  trace?: RequestTrace;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Per-request pipeline state; set in the first onRequest hook. */
    gateway: GatewayRequestState;
  }
}
