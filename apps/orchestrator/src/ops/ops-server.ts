import { HttpException } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { register } from 'prom-client';
import { answerClientError, SERVER_LIMITS } from '../pipeline/server-limits';
import { HealthController } from '../health/health.controller';

/** A running ops listener. */
export interface OpsServer {
  /** `http://host:port`. */
  readonly url: string;
  close(): Promise<void>;
}

/** Options of {@link startOpsServer}. */
export interface OpsServerOptions {
  readonly host: string;
  readonly port: number;
  /**
   * The `/metrics` text when it is not this process's registry alone (ORCH_WORKERS: every worker's, through the
   * primary); `null` falls back to this process's registry.
   */
  readonly metrics?: () => Promise<string | null>;
}

const JSON_TYPE = 'application/json; charset=utf-8';

/**
 * The ops listener (ORCH_OPS_PORT): plain HTTP serving `GET /healthz`, `GET /readyz` and `GET /metrics` with the same
 * answers as the main listener, and 404 for anything else. Kubernetes probes and Prometheus present no client
 * certificate, so with mTLS on the main listener they could not reach these endpoints there. It serves no data-plane
 * or admin route, so it needs no TLS or caller proof; keep it on the pod or host network (NetworkPolicy) as with any
 * metrics port. Started before the application listens, it is closed with the application; otherwise call `close`.
 */
export async function startOpsServer(app: NestFastifyApplication, options: OpsServerOptions): Promise<OpsServer> {
  const health = app.get(HealthController);
  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const path = (request.url ?? '/').split('?')[0];
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      return send(response, 405, JSON_TYPE, errorBody('method_not_allowed', 'the ops listener answers GET only'));
    }
    switch (path) {
      case '/healthz':
        return send(response, 200, JSON_TYPE, JSON.stringify(await health.liveness()));
      case '/readyz':
        try {
          return send(response, 200, JSON_TYPE, JSON.stringify(await health.readiness()));
        } catch (error) {
          if (!(error instanceof HttpException)) throw error;
          return send(response, error.getStatus(), JSON_TYPE, JSON.stringify(error.getResponse()));
        }
      case '/metrics': {
        const text = (await options.metrics?.()) ?? (await register.metrics());
        return send(response, 200, register.contentType, text);
      }
      default:
        return send(
          response,
          404,
          JSON_TYPE,
          errorBody('not_found', 'the ops listener serves /healthz, /readyz, /metrics'),
        );
    }
  };
  // The main listener's limits, checked as often (Node's 30 s default interval would cut a stalled request late).
  const limits = {
    headersTimeout: SERVER_LIMITS.requestHeadersTimeoutMs,
    requestTimeout: SERVER_LIMITS.requestTimeoutMs,
    keepAliveTimeout: SERVER_LIMITS.keepAliveTimeoutMs,
    maxHeaderSize: SERVER_LIMITS.maxHeaderBytes,
    connectionsCheckingInterval: SERVER_LIMITS.connectionsCheckingIntervalMs,
  };
  const server: Server = createServer(limits, (request, response) => {
    request.resume();
    handle(request, response).catch((error: unknown) => {
      if (!response.headersSent) {
        send(response, 500, JSON_TYPE, errorBody('internal_error', error instanceof Error ? error.message : 'error'));
      } else response.destroy();
    });
  });
  server.on('clientError', answerClientError);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const close = (): Promise<void> =>
    new Promise((resolve) => {
      if (!server.listening) return resolve();
      server.close(() => resolve());
      server.closeIdleConnections();
    });
  const fastify = app.getHttpAdapter().getInstance();
  // Hooks can only be added before the application listens; started later, the caller closes it.
  if (!fastify.server.listening) fastify.addHook('onClose', (_instance, done) => void close().then(() => done()));
  return { url: `http://${host}:${address.port}`, close };
}

function errorBody(error: string, message: string): string {
  return JSON.stringify({ error, message });
}

function send(response: ServerResponse, status: number, type: string, body: string): void {
  response.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
  response.end(response.req.method === 'HEAD' ? undefined : body);
}
