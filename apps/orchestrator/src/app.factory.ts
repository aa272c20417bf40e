import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { STATUS_CODES, type ServerResponse } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { LogController, type FastifyReply, type FastifyRequest } from 'fastify';
import type { DestinationStream } from 'pino';
import { TrustedProxies } from '@shieldx/security';
import { AppModule } from './app.module';
import type { OrchestratorConfig } from './config/config';
import { installGatewayHooks } from './http/gateway-hooks';
import { sendError } from './http/send-error';
import { GatewayMetrics } from './metrics/gateway-metrics';
import { createLogger, lazyRequestLogger, NestPinoLogger } from './logging/logger';
import { correlationIdWithContext } from './logging/request-context';
import type { SpanExporter } from '@opentelemetry/sdk-trace-base';
import { TracingService } from './tracing/tracing.service';
import { buildHttpsOptions, readTlsMaterial, tlsFilesOf } from './tls/tls-material';
import { TlsService } from './tls/tls.service';

/** Server timeouts and limits (docs/http-api.md, "Server limits"). */
export const SERVER_LIMITS = {
  /** Time allowed to receive a request's headers. */
  requestHeadersTimeoutMs: 10_000,
  /** Time allowed to receive a whole request. */
  requestTimeoutMs: 30_000,
  /**
   * How often Node checks the two limits above (its `connectionsCheckingInterval`, 30 s by default, which cut
   * requests up to 30 s late): a request is cut within this much of its limit.
   */
  connectionsCheckingIntervalMs: 500,
  /** Idle keep-alive connections are closed after this. */
  keepAliveTimeoutMs: 65_000,
  /** Requests served on one keep-alive connection before it is closed (0 = unlimited). */
  maxRequestsPerSocket: 0,
  /** Header section size limit in bytes. */
  maxHeaderBytes: 16_384,
  /** Time allowed for a TLS handshake (Node's default is 120 s). */
  tlsHandshakeTimeoutMs: 10_000,
  /** Open connections beyond this are closed as they arrive (`server.maxConnections`). */
  maxConnections: 10_000,
} as const;

/** Connection-level client errors (before or outside any route), by Node error code: status, code, message. */
const CLIENT_ERRORS: ReadonlyMap<string, readonly [number, string, string]> = new Map([
  [
    'ERR_HTTP_REQUEST_TIMEOUT',
    [
      408,
      'request_timeout',
      `the request was not received in time (headers within ${SERVER_LIMITS.requestHeadersTimeoutMs / 1000} s, ` +
        `the whole request within ${SERVER_LIMITS.requestTimeoutMs / 1000} s)`,
    ],
  ],
  [
    'HPE_HEADER_OVERFLOW',
    [431, 'headers_too_large', `the header section is larger than ${SERVER_LIMITS.maxHeaderBytes} bytes`],
  ],
]);
const MALFORMED: readonly [number, string, string] = [
  400,
  'bad_request',
  'the request could not be parsed as HTTP/1.1',
];

/**
 * The listeners' `clientError` handler: a request cut by a server limit (408), with too large a header section (431)
 * or that is not HTTP (400) gets the contract's JSON error, when no response has started on the connection (else
 * nothing may be written into it); the connection is then closed.
 */
export function answerClientError(error: NodeJS.ErrnoException, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  // Node's own check (`socketOnError`): a response whose head is out must not get another one spliced in.
  const current = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
  if (socket.writable && (current === undefined || current === null || !current.headersSent)) {
    const [status, code, message] = CLIENT_ERRORS.get(error.code ?? '') ?? MALFORMED;
    const correlationId = randomUUID();
    const body = JSON.stringify({ error: code, message, correlationId });
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nX-Correlation-ID: ${correlationId}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(error);
}

/** Options for {@link createApp}. */
export interface CreateAppOptions {
  /** Where log lines go (default: buffered stdout). Tests pass a stream they read. */
  readonly logDestination?: DestinationStream;
  /** Test seam: trace every request into this exporter (see TracingService.useExporter). */
  readonly spanExporter?: SpanExporter;
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
    genReqId: correlationIdWithContext(new TrustedProxies(config.rateLimit.trustedProxies)),
    childLoggerFactory: lazyRequestLogger,
    bodyLimit: config.route.maxBytes,
    return503OnClosing: true,
    // The router refuses a malformed URL (400) or an over-long route parameter (414) before any hook runs; answer
    // those with the contract's JSON error too (Fastify's own body has no correlation id).
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
  const app = await NestFactory.create<NestFastifyApplication>(AppModule.forRoot(config), adapter, {
    logger: new NestPinoLogger(logger),
    abortOnError: false,
    // Fastify's own JSON parser stays: its errors carry codes we map, and no other body type is accepted.
    bodyParser: false,
  });
  late.metrics = app.get(GatewayMetrics);
  const fastify = app.getHttpAdapter().getInstance();
  fastify.removeContentTypeParser('text/plain');
  // Log lines are buffered for throughput; write out what is left when the server closes.
  fastify.addHook('onClose', (_instance, done) => {
    logger.flush();
    done();
  });
  if (options.spanExporter !== undefined) await app.get(TracingService).useExporter(options.spanExporter);
  installGatewayHooks(app);
  const server = app.getHttpAdapter().getHttpServer() as HttpsServer;
  server.maxConnections = SERVER_LIMITS.maxConnections;
  if (tls !== undefined) app.get(TlsService).attach(server, tls);
  // SIGTERM/SIGINT only: other signals (SIGUSR2, SIGHUP…) must not stop the gateway.
  app.enableShutdownHooks(['SIGTERM', 'SIGINT']);
  return app;
}
