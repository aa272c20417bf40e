import { AsyncLocalStorage } from 'node:async_hooks';
import type { IncomingMessage } from 'node:http';
import type { TrustedProxies } from '@shieldx/security';
import { correlate, type Correlation } from './correlation';

/** What every log line and security event written while serving one request can learn about it. */
export type RequestContext = Correlation;

/**
 * The request context of the code running now. It is entered once per request, at the very start (Fastify's
 * `genReqId`, see {@link correlationIdWithContext}), and follows the request through hooks, body parsing, handlers,
 * awaits and timers it starts, so a `new Logger(…)` call deep in a service logs the request's `corrId` without being
 * handed it.
 */
export const requestContext = new AsyncLocalStorage<RequestContext>();

/** The correlation id of the request being served, or `undefined` outside a request (boot, timers, probes). */
export function currentCorrId(): string | undefined {
  return requestContext.getStore()?.corrId;
}

/**
 * Fastify `genReqId`: the correlation id ({@link correlate}), entered as the request context of the rest of this
 * request. `enterWith` (rather than `run`) because Fastify gives no hook that wraps a request's whole life; it sets
 * the store of the connection's HTTP parser resource, whose callbacks (body chunks, the next request on a keep-alive
 * connection, which enters its own) are where the request continues.
 */
export function correlationIdWithContext(trusted: TrustedProxies): (request: IncomingMessage) => string {
  return (request) => {
    const context = correlate(request, trusted);
    requestContext.enterWith(context);
    return context.corrId;
  };
}

/** The caller's own correlation id of the request being served, when it was not taken as the correlation id. */
export function currentCallerCorrId(): string | undefined {
  return requestContext.getStore()?.callerCorrId;
}
