import type { BucketResult, ClientIdentity } from '@shieldx/security';

/** What the gateway learns about one request as it moves through the pipeline (for headers and the access log). */
export interface GatewayRequestState {
  clientIp: string;
  /** The verified client certificate's URI/DNS SANs (empty without TLS); for guards and the policy input. */
  identity: ClientIdentity;
  tenant?: string;
  action?: string;
  backend?: string;
  /** The tightest rate-limit outcome seen so far, for the RateLimit-* headers. */
  limit?: { readonly limit: number; readonly result: BucketResult };
  /** With Redis: the per-IP take still owed, made together with the tenant's (see RateLimitService.checkIp). */
  deferredIp?: { readonly key: string; readonly limit: number };
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Per-request pipeline state; set in the first onRequest hook. */
    gateway: GatewayRequestState;
  }
}
