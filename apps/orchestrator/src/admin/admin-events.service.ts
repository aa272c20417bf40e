import {
  Injectable,
  Logger,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import type { BreakerStateName } from '@shieldx/lb';
import type { ServerResponse } from 'node:http';
import { SecurityEvents, type SecurityEvent } from '../events/security-events';
import { GatewayError } from '../errors/errors';
import { PolicyService } from '../policy/policy.service';
import { PoolsService, type BreakerTransition } from '../pools/pools.service';
import {
  AUDIT_BATCH_MS,
  METRICS_HISTORY,
  METRICS_INTERVAL_MS,
  SSE_HEARTBEAT_MS,
  SSE_MAX_BUFFERED_BYTES,
  SSE_MAX_CLIENTS,
} from './admin.constants';
import { readRegistry, sampleBetween, type CounterReading, type MetricsSample } from './metrics-sampler';

/** Names of the server-sent events of `GET /admin/events`. */
export type AdminEventName = 'hello' | 'pool' | 'breaker' | 'policy' | 'audit' | 'metrics';

/** 503: too many event streams are open. */
export class TooManyStreamsError extends GatewayError {
  readonly status = 503;
  readonly code = 'too_many_streams';
  override readonly headers = { 'retry-after': '5' };
  constructor() {
    super(`at most ${SSE_MAX_CLIENTS} admin event streams may be open at once`);
  }
}

/** A breaker transition as the admin API shows it. `nextTrialInMs` is set while open. */
export interface BreakerTransitionView {
  readonly pool: string;
  readonly backend: string;
  readonly from: BreakerStateName;
  readonly to: BreakerStateName;
  /** ISO time of the transition. */
  readonly at: string;
  readonly openForMs: number | null;
}

/** A batch of security events relayed to the streams (the ledger holds the entries; the UI re-reads it). */
interface AuditBatch {
  count: number;
  types: Record<string, number>;
  last: { type: string; corrId: string | null };
}

/** One open event stream. */
class SseStream {
  constructor(private readonly response: ServerResponse) {}

  get closed(): boolean {
    return this.response.writableEnded || this.response.destroyed;
  }

  /** Writes one event; closes the stream instead when the client stopped reading. */
  send(event: AdminEventName, data: unknown): void {
    this.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  comment(text: string): void {
    this.write(`: ${text}\n\n`);
  }

  close(): void {
    if (!this.closed) this.response.end();
  }

  private write(chunk: string): void {
    if (this.closed) return;
    if (this.response.writableLength > SSE_MAX_BUFFERED_BYTES) {
      this.response.destroy();
      return;
    }
    this.response.write(chunk);
  }
}

/**
 * The admin event hub behind `GET /admin/events` and `GET /admin/metrics`: relays pool changes, breaker
 * transitions, policy reloads and security events (batched every 250 ms, so a flood of denials stays one message a
 * quarter second) to every open stream, and samples the overview metrics every second (requests/s, denials/s, p99,
 * cache hit rate, healthy ratio, policy decisions per action), keeping five minutes of samples. Streams get a
 * heartbeat comment every 15 s and are ended before the server closes, so shutdown never waits for a browser.
 */
@Injectable()
export class AdminEventsService implements OnApplicationBootstrap, BeforeApplicationShutdown, OnApplicationShutdown {
  private readonly logger = new Logger('admin');
  private readonly streams = new Set<SseStream>();
  private readonly samples: MetricsSample[] = [];
  private readonly unsubscribers: (() => void)[] = [];
  private lastReading: CounterReading | undefined;
  private sampling = false;
  private sampler: NodeJS.Timeout | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private audit: AuditBatch | undefined;
  private auditTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly pools: PoolsService,
    private readonly policy: PolicyService,
    private readonly events: SecurityEvents,
  ) {}

  onApplicationBootstrap(): void {
    this.unsubscribers.push(
      this.pools.onChange((change) => this.broadcast('pool', change)),
      this.pools.onBreakerTransition((transition) => this.broadcast('breaker', breakerView(transition))),
      this.policy.onReload((outcome) => this.broadcast('policy', { ...outcome, status: this.policy.status() })),
      this.events.onEvent((event) => this.batchAudit(event)),
    );
    void this.sample();
    this.sampler = setInterval(() => void this.sample(), METRICS_INTERVAL_MS);
    this.sampler.unref();
    this.heartbeat = setInterval(() => {
      for (const stream of this.streams) stream.comment('heartbeat');
    }, SSE_HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  beforeApplicationShutdown(): void {
    for (const stream of this.streams) stream.close();
    this.streams.clear();
  }

  onApplicationShutdown(): void {
    for (const unsubscribe of this.unsubscribers.splice(0)) unsubscribe();
    clearInterval(this.sampler);
    clearInterval(this.heartbeat);
    clearTimeout(this.auditTimer);
  }

  /** The overview samples of the last five minutes, oldest first. */
  history(): readonly MetricsSample[] {
    return this.samples;
  }

  /** Streams currently open. */
  get streamCount(): number {
    return this.streams.size;
  }

  /** @throws TooManyStreamsError when no further stream may be opened (check before hijacking the reply). */
  assertCapacity(): void {
    if (this.streams.size >= SSE_MAX_CLIENTS) throw new TooManyStreamsError();
  }

  /**
   * Turns a hijacked response into an event stream until the client goes away. Sends `retry` and a `hello` event
   * with the latest metrics sample at once. @throws TooManyStreamsError before anything is written
   */
  open(response: ServerResponse, headers: Record<string, string>): void {
    this.assertCapacity();
    response.writeHead(200, {
      ...headers,
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    response.flushHeaders();
    const stream = new SseStream(response);
    this.streams.add(stream);
    response.once('close', () => this.streams.delete(stream));
    response.write('retry: 2000\n\n');
    stream.send('hello', { at: new Date().toISOString(), metrics: this.samples.at(-1) ?? null });
  }

  private broadcast(event: AdminEventName, data: unknown): void {
    for (const stream of this.streams) {
      stream.send(event, data);
      if (stream.closed) this.streams.delete(stream);
    }
  }

  private batchAudit(event: SecurityEvent): void {
    if (this.streams.size === 0) return;
    const batch = (this.audit ??= { count: 0, types: {}, last: { type: event.type, corrId: null } });
    batch.count++;
    batch.types[event.type] = (batch.types[event.type] ?? 0) + 1;
    batch.last = { type: event.type, corrId: event.corrId ?? null };
    if (this.auditTimer !== undefined) return;
    this.auditTimer = setTimeout(() => {
      this.auditTimer = undefined;
      const flushed = this.audit;
      this.audit = undefined;
      if (flushed !== undefined) this.broadcast('audit', flushed);
    }, AUDIT_BATCH_MS);
    this.auditTimer.unref();
  }

  private async sample(): Promise<void> {
    if (this.sampling) return;
    this.sampling = true;
    try {
      const status = this.policy.status();
      const reading: CounterReading = {
        ...(await readRegistry()),
        at: Date.now(),
        cacheHits: status.cache.hits,
        cacheMisses: status.cache.misses,
        healthyRatio: this.pools.healthRatio(),
        decisions: this.policy.decisionTotals(),
      };
      const previous = this.lastReading;
      this.lastReading = reading;
      if (previous === undefined) return;
      const sample = sampleBetween(previous, reading);
      this.samples.push(sample);
      if (this.samples.length > METRICS_HISTORY) this.samples.shift();
      this.broadcast('metrics', sample);
    } catch (error) {
      this.logger.error({ event: 'admin_metrics_sample_failed', err: error });
    } finally {
      this.sampling = false;
    }
  }
}

/** A transition as events and `GET /admin/breakers` show it. */
export function breakerView(transition: BreakerTransition, at = new Date()): BreakerTransitionView {
  return {
    pool: transition.pool,
    backend: transition.backend,
    from: transition.event.from,
    to: transition.event.to,
    at: at.toISOString(),
    openForMs: transition.event.openForMs ?? null,
  };
}
