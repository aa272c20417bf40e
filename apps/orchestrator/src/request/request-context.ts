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
 *
 * On Node 20 an AsyncLocalStorage turns on async_hooks for the whole process: every promise and I/O object created
 * calls back into JavaScript (its cost: bench:route's `ORCH_LOG_DATA_PLANE_CONTEXT=1` row, docs/BENCHMARKS.md; Node 24
 * does without async_hooks, bench:node). So it is on only while a
 * request of the control plane (admin API, probes, metrics) is in flight — or always, with
 * ORCH_LOG_DATA_PLANE_CONTEXT=1. Data-plane requests (`/route`, `/proxy/…`) name their correlation id explicitly
 * where it is written (access line, security events and ledger entries, tunnel lines, spans).
 */
export const requestContext = new AsyncLocalStorage<RequestContext>();

/** The correlation id of the request being served, or `undefined` outside a request (boot, timers, probes). */
export function currentCorrId(): string | undefined {
  return requestContext.getStore()?.corrId;
}

/** Callers' own correlation ids of the requests in flight that have one, by request corrId. */
const callerIds = new Map<string, string>();
/** Connections whose HTTP parser holds the context of an earlier request (entered with `enterWith`). */
const holdsContext = new WeakSet<object>();
/** Requests in flight that turned the context on; it is turned off when the last one ends (unless always on). */
let holders = 0;

/** True for the URLs of the data plane (`/route`, `/proxy/…`), as Fastify will route them. */
function isDataPlaneUrl(url: string | undefined): boolean {
  if (url === undefined) return false;
  if (url.startsWith('/proxy/')) return true;
  return url.startsWith('/route') && (url.length === 6 || url[6] === '?');
}

/**
 * Fastify `genReqId`: the correlation id ({@link correlate}), entered as the request context of the rest of this
 * request. `enterWith` (rather than `run`) because Fastify gives no hook that wraps a request's whole life; it sets
 * the store of the connection's HTTP parser resource, whose callbacks (body chunks, the next request on a keep-alive
 * connection, which enters its own) are where the request continues. A data-plane request enters it only when it is
 * on anyway (`alwaysOn`, or a control-plane request in flight); otherwise it clears what an earlier request left on
 * its connection, so that no line is ever attributed to another request.
 */
export function correlationIdWithContext(
  trusted: TrustedProxies,
  alwaysOn = false,
): (request: IncomingMessage) => string {
  return (request) => {
    const context = correlate(request, trusted);
    const { callerCorrId } = context;
    if (callerCorrId !== undefined) {
      callerIds.set(context.corrId, callerCorrId);
      request.once('close', () => callerIds.delete(context.corrId));
    }
    const socket = request.socket;
    const control = !isDataPlaneUrl(request.url);
    if (alwaysOn || holders > 0 || control) {
      requestContext.enterWith(context);
      holdsContext.add(socket);
      if (!alwaysOn && control) hold(request);
    } else if (holdsContext.has(socket)) {
      // Off now, but the connection's parser still holds an earlier request's context: clear it, turn off again.
      requestContext.enterWith(undefined as unknown as RequestContext);
      holdsContext.delete(socket);
      requestContext.disable();
    }
    return context.corrId;
  };
}

/** Keeps the context on until `request`'s exchange is over. */
function hold(request: IncomingMessage): void {
  holders++;
  let released = false;
  const release = (): void => {
    if (released) return;
    released = true;
    holders--;
    if (holders === 0) requestContext.disable();
  };
  request.once('close', release);
}

/** The caller's own correlation id of the request `corrId` in flight, when it was not taken as the correlation id. */
export function callerCorrIdOf(corrId: string): string | undefined {
  return callerIds.size === 0 ? undefined : callerIds.get(corrId);
}
