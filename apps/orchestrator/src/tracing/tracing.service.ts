import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import {
  defaultTextMapGetter,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  type SpanOptions,
  SpanStatusCode,
  type TextMapPropagator,
  trace,
  type Tracer,
} from '@opentelemetry/api';
import type * as Sdk from '@opentelemetry/sdk-trace-base';
import type { BasicTracerProvider, Sampler, SpanExporter, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { FastifyRequest } from 'fastify';
import type { OrchestratorConfig } from '../config/config';
import type { TraceSampler } from '../config/types';
import { ORCH_CONFIG } from '../config/config.module';
import type { GatewayRequestState } from '../request/request-state';
import type { RequestTrace } from '../request/request-state';
import { useTraceContextPropagator } from './spans';

/** Name of the tracer (the instrumentation scope) of every span the gateway makes. */
export const TRACER_NAME = 'shieldx-orchestrator';

/** The SDK sampler of OTEL_TRACES_SAMPLER (`ratio`: OTEL_TRACES_SAMPLER_ARG, for the `traceidratio` ones). */
export function samplerOf(sdk: typeof Sdk, name: TraceSampler, ratio: number): Sampler {
  const root = name.replace(/^parentbased_/, '');
  const sampler =
    root === 'always_on'
      ? new sdk.AlwaysOnSampler()
      : root === 'always_off'
        ? new sdk.AlwaysOffSampler()
        : new sdk.TraceIdRatioBasedSampler(ratio);
  return name.startsWith('parentbased_') ? new sdk.ParentBasedSampler({ root: sampler }) : sampler;
}

/**
 * OpenTelemetry tracing of requests. On only when `OTEL_EXPORTER_OTLP_ENDPOINT` is configured (spans are batched and
 * sent over OTLP/HTTP JSON to `<endpoint>/v1/traces`), or when a test installs an exporter with {@link useExporter}.
 * Off, nothing is registered with the OpenTelemetry API and the request path only tests `request.gateway.trace`.
 *
 * The provider is this application's own, never the global one (several apps may share a process in tests), and
 * parents are passed explicitly ({@link RequestTrace}), so no context manager is needed. A request span starts in the
 * first `onRequest` hook, continuing the caller's W3C trace context when it sends one, and ends in `onResponse`;
 * rate limit, policy, balancer and upstream call are its children, and `/proxy` sends the upstream span's
 * `traceparent` to the backend. The SDK, the exporter and the W3C propagator are imported only when tracing is on:
 * off, they cost neither start-up time nor memory.
 */
@Injectable()
export class TracingService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('tracing');
  private propagator: TextMapPropagator | undefined;
  private provider: BasicTracerProvider | undefined;
  private tracer: Tracer | undefined;

  constructor(@Inject(ORCH_CONFIG) private readonly config: OrchestratorConfig) {}

  async onModuleInit(): Promise<void> {
    const endpoint = this.config.tracing.otlpEndpoint;
    if (endpoint === undefined || this.provider !== undefined) return;
    const [{ OTLPTraceExporter }, { BatchSpanProcessor }] = await Promise.all([
      import('@opentelemetry/exporter-trace-otlp-http'),
      import('@opentelemetry/sdk-trace-base'),
    ]);
    await this.install(new BatchSpanProcessor(new OTLPTraceExporter({ url: `${endpoint}/v1/traces` })));
    this.logger.log({ event: 'tracing_enabled', endpoint: `${endpoint}/v1/traces` });
  }

  /** Whether requests are traced. */
  get enabled(): boolean {
    return this.tracer !== undefined;
  }

  /**
   * Test seam: traces every request from now on into `exporter`, one span at a time (no batching), replacing the
   * OTLP exporter if one was configured. Call before the app serves.
   */
  async useExporter(exporter: SpanExporter): Promise<void> {
    void this.provider?.shutdown();
    const { SimpleSpanProcessor } = await import('@opentelemetry/sdk-trace-base');
    await this.install(new SimpleSpanProcessor(exporter));
  }

  /**
   * Starts the server span of a request, or returns `undefined` when tracing is off. The span is named `<METHOD>
   * <route template>` (never the URL: no query strings, no ids). A caller's `traceparent` is continued only when the
   * caller can be held to it (`callerTrusted`: a trusted proxy or a verified client certificate, as for its
   * correlation id); anyone else's starts a new trace, linked to theirs, so that its sampled flag cannot make the
   * gateway trace (and export) every request it sends when a `parentbased_` sampler keeps only a share of the rest.
   */
  startRequest(request: FastifyRequest, callerTrusted: boolean): RequestTrace | undefined {
    const tracer = this.tracer;
    const propagator = this.propagator;
    if (tracer === undefined || propagator === undefined) return undefined;
    const route = request.routeOptions.url ?? 'unmatched';
    const options: SpanOptions = {
      kind: SpanKind.SERVER,
      attributes: {
        'http.request.method': request.method,
        'http.route': route,
        'url.scheme': request.protocol,
        'shieldx.correlation_id': request.id,
      },
    };
    let parent = ROOT_CONTEXT;
    if (request.headers.traceparent !== undefined) {
      const given = propagator.extract(ROOT_CONTEXT, request.headers, defaultTextMapGetter);
      if (callerTrusted) parent = given;
      else {
        const callerSpan = trace.getSpanContext(given);
        if (callerSpan !== undefined) options.links = [{ context: callerSpan }];
      }
    }
    const span = tracer.startSpan(`${request.method} ${route}`, options, parent);
    return { span, tracer, context: trace.setSpan(parent, span), recording: span.isRecording() };
  }

  /** Ends a request's server span with what the pipeline learnt (status, tenant, action, backend). */
  endRequest(requestTrace: RequestTrace, status: number, state: GatewayRequestState, aborted = false): void {
    const span: Span = requestTrace.span;
    span.setAttribute('http.response.status_code', status);
    if (state.tenant !== undefined) span.setAttribute('shieldx.tenant', state.tenant);
    if (state.action !== undefined) span.setAttribute('shieldx.action', state.action);
    if (state.backend !== undefined) span.setAttribute('shieldx.backend', state.backend);
    if (state.identity.uris.length > 0) span.setAttribute('shieldx.client.spiffe_id', state.identity.uris[0]);
    if (aborted) span.setStatus({ code: SpanStatusCode.ERROR, message: 'client aborted the request' });
    else if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
    span.end();
  }

  /** Flushes and stops the exporter (pending spans are sent). */
  async onApplicationShutdown(): Promise<void> {
    const provider = this.provider;
    this.provider = undefined;
    this.tracer = undefined;
    try {
      await provider?.shutdown();
    } catch (error) {
      this.logger.warn({ event: 'tracing_shutdown_failed', err: error });
    }
  }

  private async install(processor: SpanProcessor): Promise<void> {
    const [sdk, { resourceFromAttributes }, { W3CTraceContextPropagator }] = await Promise.all([
      import('@opentelemetry/sdk-trace-base'),
      import('@opentelemetry/resources'),
      import('@opentelemetry/core'),
    ]);
    this.propagator = new W3CTraceContextPropagator();
    useTraceContextPropagator(this.propagator);
    const { serviceName, sampler, samplerRatio } = this.config.tracing;
    // The sampler is given explicitly: the SDK would otherwise read OTEL_TRACES_SAMPLER from the environment itself,
    // past the configuration's checks.
    this.provider = new sdk.BasicTracerProvider({
      resource: resourceFromAttributes({ 'service.name': serviceName }),
      sampler: samplerOf(sdk, sampler, samplerRatio),
      spanProcessors: [processor],
    });
    this.tracer = this.provider.getTracer(TRACER_NAME);
  }
}
