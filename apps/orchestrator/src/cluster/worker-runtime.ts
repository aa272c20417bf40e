import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { register } from 'prom-client';
import { isWorkerMessage, METRICS_COLLECT_TIMEOUT_MS, type WorkerMessage } from './workers';

/** Response header naming the worker slot that answered (ORCH_WORKERS > 1). */
export const WORKER_HEADER = 'x-shieldx-worker';

/** What the worker side offers the rest of the process. */
export interface WorkerRuntime {
  /** Every worker's metrics (the `/metrics` text), or `null` when the primary did not answer in time. */
  readonly allMetrics: () => Promise<string | null>;
  /** Tells the primary that the application listens on `url` (call after `listen`). */
  readonly ready: (url: string) => void;
}

/**
 * Worker side of ORCH_WORKERS (call before `listen`): every response names its worker slot in `x-shieldx-worker`;
 * `GET /metrics` answers the metrics of every worker, collected by the primary, each sample labelled `worker`
 * (falling back to this worker's own when the primary does not answer within 1 s, unlabelled); the worker shuts
 * down gracefully when its primary is gone (the IPC channel closed).
 */
export function installWorkerRuntime(app: NestFastifyApplication, slot: number): WorkerRuntime | undefined {
  const send = process.send?.bind(process);
  if (send === undefined) return undefined;
  const fastify = app.getHttpAdapter().getInstance();
  const value = String(slot);
  let nextId = 1;
  const waiting = new Map<number, (text: string | null) => void>();

  const allMetrics = (): Promise<string | null> =>
    new Promise((resolve) => {
      const id = nextId++;
      const timer = setTimeout(() => {
        waiting.delete(id);
        resolve(null);
      }, METRICS_COLLECT_TIMEOUT_MS + 500);
      waiting.set(id, (text) => {
        clearTimeout(timer);
        waiting.delete(id);
        resolve(text);
      });
      try {
        send({ shieldx: 'metrics-request', id } satisfies WorkerMessage);
      } catch {
        waiting.get(id)?.(null);
      }
    });

  process.on('message', (message: unknown) => {
    if (!isWorkerMessage(message)) return;
    if (message.shieldx === 'metrics-collect') {
      void register.getMetricsAsJSON().then(
        (metrics) => {
          if (process.connected)
            send({ shieldx: 'metrics-collected', id: message.id, metrics } satisfies WorkerMessage);
        },
        () => undefined,
      );
    } else if (message.shieldx === 'metrics-response') {
      waiting.get(message.id)?.(message.text);
    }
  });
  // The primary is gone (crashed or killed): stop serving the way SIGTERM does.
  process.once('disconnect', () => process.kill(process.pid, 'SIGTERM'));

  fastify.addHook('onRequest', (request: FastifyRequest, reply: FastifyReply, done: (err?: Error) => void) => {
    reply.header(WORKER_HEADER, value);
    if (request.method !== 'GET' || request.routeOptions.url !== '/metrics') return done();
    void allMetrics().then((text) => {
      if (text === null) return done();
      void reply.type('text/plain; version=0.0.4; charset=utf-8').send(text);
    });
  });
  const ready = (url: string): void => {
    if (process.connected) send({ shieldx: 'ready', url } satisfies WorkerMessage);
  };
  return { allMetrics, ready };
}
