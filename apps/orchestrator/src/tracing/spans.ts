import {
  type Attributes,
  defaultTextMapSetter,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type TextMapPropagator,
  trace,
} from '@opentelemetry/api';
import type { RequestTrace } from '../request/request-state';

// Set when tracing is turned on (TracingService): the propagator comes with the SDK, loaded only then.
let propagator: TextMapPropagator | undefined;

/** Sets the W3C propagator {@link injectTraceContext} writes with (called when tracing is turned on). */
export function useTraceContextPropagator(w3c: TextMapPropagator): void {
  propagator = w3c;
}

/**
 * Starts a child span of the request (internal kind unless given). Only called while tracing is on. For a request
 * the sampler dropped, returns the request's own non-recording span: its operations do nothing, and its context
 * (trace id, unsampled flag) is what a backend is to continue.
 */
export function childSpan(
  parent: RequestTrace,
  name: string,
  kind: SpanKind = SpanKind.INTERNAL,
  attributes?: Attributes,
): Span {
  if (!parent.recording) return parent.span;
  return parent.tracer.startSpan(name, { kind, attributes }, parent.context);
}

/** Ends `span`, recording `error` (as the span's status and an exception event) when given. */
export function endSpan(span: Span, error?: unknown): void {
  if (error !== undefined) {
    const code = (error as { code?: unknown }).code;
    const message = typeof code === 'string' ? code : error instanceof Error ? error.name : 'error';
    span.setStatus({ code: SpanStatusCode.ERROR, message });
    if (error instanceof Error) span.recordException(error);
  }
  span.end();
}

/**
 * Runs `stage` inside a child span named `name`, ending it when the stage returns, throws, or (for a promise)
 * settles. Returns what the stage returns, synchronous stays synchronous. Call it only while tracing is on: the
 * closure it takes is the per-request allocation that tracing costs.
 */
export function traced<T>(parent: RequestTrace, name: string, stage: () => T | Promise<T>): T | Promise<T> {
  if (!parent.recording) return stage();
  const span = childSpan(parent, name);
  let result: T | Promise<T>;
  try {
    result = stage();
  } catch (error) {
    endSpan(span, error);
    throw error;
  }
  if (!(result instanceof Promise)) {
    span.end();
    return result;
  }
  return result.then(
    (value) => {
      span.end();
      return value;
    },
    (error: unknown) => {
      endSpan(span, error);
      throw error;
    },
  );
}

/** {@link traced} for a stage that is always synchronous (the balancer pick). */
export function tracedSync<T>(parent: RequestTrace, name: string, stage: () => T): T {
  if (!parent.recording) return stage();
  const span = childSpan(parent, name);
  try {
    const result = stage();
    span.end();
    return result;
  } catch (error) {
    endSpan(span, error);
    throw error;
  }
}

/**
 * Writes the W3C `traceparent` (and the `tracestate` the trace carries) of `span` into outgoing `headers`, replacing
 * whatever the caller sent: the backend's parent is the gateway's upstream span (for a request the sampler dropped,
 * the request's own non-recording span: its trace id, flagged not sampled).
 */
export function injectTraceContext(span: Span, headers: Record<string, string | string[]>): void {
  delete headers.traceparent;
  delete headers.tracestate;
  propagator?.inject(trace.setSpan(ROOT_CONTEXT, span), headers, defaultTextMapSetter);
}

/** Starts the client span of one attempt to forward a request to `backend` (`/proxy`). */
export function upstreamSpan(parent: RequestTrace, method: string, backend: string, attempt: number): Span {
  return childSpan(parent, 'upstream', SpanKind.CLIENT, {
    'http.request.method': method,
    'server.address': backend,
    'shieldx.attempt': attempt,
  });
}

/** Ends an attempt's span with the backend's status (5xx is an error), or the error that ended the attempt. */
export function endUpstreamSpan(span: Span, outcome: { readonly status: number } | { readonly error: Error }): void {
  if ('error' in outcome) {
    endSpan(span, outcome.error);
    return;
  }
  span.setAttribute('http.response.status_code', outcome.status);
  if (outcome.status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
  span.end();
}
