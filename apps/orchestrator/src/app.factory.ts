import 'reflect-metadata';
import type { Server as HttpsServer } from 'node:https';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { LogController, type FastifyReply, type FastifyRequest } from 'fastify';
import type { DestinationStream } from 'pino';
import { TrustedProxies } from '@shieldx/security';
import { OpenApiService } from './admin/openapi.controller';
import { AppModule } from './app.module';
import type { OrchestratorConfig } from './config/config';
import type { ConfigSource } from './config/config.module';
import { GatewayPipeline } from './pipeline/gateway-hooks';
import { LAZY_SCHEMA_COMPILERS } from './pipeline/schema-compilers';
import { sendError } from './pipeline/send-error';
import { answerClientError, answerUnmetExpectation, SERVER_LIMITS } from './pipeline/server-limits';
import { installUpgrades } from './pipeline/upgrades';
import { GatewayMetrics } from './metrics/gateway-metrics';
import { createLogger, lazyRequestLogger, NestPinoLogger } from './logging/logger';
import { correlationIdWithContext } from './request/request-context';
import type { SpanExporter } from '@opentelemetry/sdk-trace-base';
import { TracingService } from './tracing/tracing.service';
import { buildHttpsOptions, readTlsMaterial, tlsFilesOf } from './tls/tls-material';
import { TlsService } from './tls/tls.service';

/** Options for {@link createApp}. */
export interface CreateAppOptions {
  /** Where log lines go (default: buffered stdout). Tests pass a stream they read. */
  readonly logDestination?: DestinationStream;
  /** Test seam: trace every request into this exporter (see TracingService.useExporter). */
  readonly spanExporter?: SpanExporter;
  /** Reads the configuration again, for configuration reloads (default: the same configuration, nothing to reload). */
  readonly configSource?: ConfigSource;
}

/** Builds the orchestrator application (not yet listening) from a validated configuration. */
export async function createApp(
  config: OrchestratorConfig,
  options: CreateAppOptions = {},
): Promise<NestFastifyApplication> {
  const logger = createLogger(config.log.level, options.logDestination, [config.admission.header]);
  // Read and validated before Nest exists: the HTTPS listener is created with the adapter. A bad set stops start-up.
  const tlsFiles = tlsFilesOf(config.tls);
  const tls = tlsFiles === undefined ? undefined : readTlsMaterial(tlsFiles, Date.now());
  // Set once the application exists, which is before the server listens (the only time frameworkErrors can run).
  const late: { metrics?: GatewayMetrics } = {};
  const adapter = new FastifyAdapter({
    loggerInstance: logger,
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'corrId' }),
    genReqId: correlationIdWithContext(
      new TrustedProxies(config.rateLimit.trustedProxies),
      config.log.dataPlaneContext,
    ),
    childLoggerFactory: lazyRequestLogger,
    // No Nest middleware is used: without @fastify/middie, no request runs its (empty) middleware chain.
    skipMiddie: true,
    bodyLimit: config.route.maxBytes,
    schemaController: { compilersFactory: LAZY_SCHEMA_COMPILERS },
    // The pipeline answers requests that arrive while closing with the documented JSON 503 (ShuttingDownError).
    return503OnClosing: false,
    // The router refuses a malformed URL (400) or an over-long route parameter (414) before any hook runs; answer
    // those with the documented JSON error (docs/http-api.md) too (Fastify's own body has no correlation id).
    frameworkErrors: (error: Error, request: FastifyRequest, reply: FastifyReply) => {
      reply.header('x-correlation-id', request.id);
      void sendError(request, reply, error, late.metrics as GatewayMetrics);
    },
    requestTimeout: SERVER_LIMITS.requestTimeoutMs,
    keepAliveTimeout: SERVER_LIMITS.keepAliveTimeoutMs,
    maxRequestsPerSocket: SERVER_LIMITS.maxRequestsPerSocket,
    clientErrorHandler: answerClientError,
    http: {
      requestTimeout: SERVER_LIMITS.requestTimeoutMs,
      headersTimeout: SERVER_LIMITS.requestHeadersTimeoutMs,
      maxHeaderSize: SERVER_LIMITS.maxHeaderBytes,
      connectionsCheckingInterval: SERVER_LIMITS.connectionsCheckingIntervalMs,
    },
    // With `https` Fastify calls https.createServer(https, …) and ignores `http`, so the limits are in both.
    ...(tls === undefined
      ? {}
      : {
          https: buildHttpsOptions(tls, {
            handshakeTimeoutMs: SERVER_LIMITS.tlsHandshakeTimeoutMs,
            requestHeadersTimeoutMs: SERVER_LIMITS.requestHeadersTimeoutMs,
            requestTimeoutMs: SERVER_LIMITS.requestTimeoutMs,
            maxHeaderBytes: SERVER_LIMITS.maxHeaderBytes,
            connectionsCheckingIntervalMs: SERVER_LIMITS.connectionsCheckingIntervalMs,
          }),
        }),
  });
  const app = await NestFactory.create<NestFastifyApplication>(
    AppModule.forRoot(config, options.configSource),
    adapter,
    {
      logger: new NestPinoLogger(logger),
      abortOnError: false,
      // Fastify's own JSON parser stays: its errors carry codes we map, and no other body type is accepted.
      bodyParser: false,
    },
  );
  late.metrics = app.get(GatewayMetrics);
  const fastify = app.getHttpAdapter().getInstance();
  fastify.removeContentTypeParser('text/plain');
  // Log lines are buffered for throughput; write out what is left when the server closes.
  fastify.addHook('onClose', (_instance, done) => {
    logger.flush();
    done();
  });
  if (options.spanExporter !== undefined) await app.get(TracingService).useExporter(options.spanExporter);
  app.get(GatewayPipeline).install(fastify);
  app.get(OpenApiService).attach(app);
  const server = app.getHttpAdapter().getHttpServer() as HttpsServer;
  server.maxConnections = SERVER_LIMITS.maxConnections;
  // Node's own answers carry no body: an HTTP/1.1 request without Host is refused by the pipeline instead (JSON 400),
  // an expectation other than 100-continue gets the JSON 417.
  (server as HttpsServer & { requireHostHeader: boolean }).requireHostHeader = false;
  server.on('checkExpectation', answerUnmetExpectation);
  // `Connection: Upgrade` requests go through the same routes and hooks (a WebSocket may become a /proxy tunnel).
  installUpgrades(server, (request, response) => fastify.routing(request, response));
  if (tls !== undefined) app.get(TlsService).attach(server, tls);
  // SIGTERM/SIGINT only: other signals (SIGUSR2, SIGHUP…) must not stop the gateway.
  app.enableShutdownHooks(['SIGTERM', 'SIGINT']);
  return app;
}
