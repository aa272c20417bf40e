import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { Backend } from '@shieldx/lb';
import type { OrchestratorConfig } from '../config/config';
import { ORCH_CONFIG } from '../config/config.module';
import { ResilienceMetrics } from './resilience-metrics';
import { Emitter } from '../events/emitter';
import { PoolsService } from '../pools/pools.service';
import { Upstreams } from '../upstream/upstreams';

/** Probe intervals of a failing backend grow ×2 per consecutive failure, up to this factor. */
const MAX_BACKOFF_FACTOR = 8;
/** Each interval is spread by ±this share at random so probes of many backends do not beat in step. */
const JITTER = 0.1;

interface Probed {
  readonly backend: Backend;
  timer: NodeJS.Timeout | undefined;
  inFlight: boolean;
  failures: number;
  stopped: boolean;
}

/** Outcome of one probe. */
export interface ProbeResult {
  readonly backend: string;
  readonly healthy: boolean;
  readonly latencyMs: number;
  readonly error: string | null;
}

/**
 * Active health checks: every backend of every pool gets `GET <url><ORCH_HEALTH_PATH>` every ORCH_HEALTH_EVERY
 * (jittered ±10 %), timing out after ORCH_HEALTH_TIMEOUT, with at most one probe in flight per backend. New backends
 * are probed at once. A failing backend is probed less often (×2 per consecutive failure, up to ×8). A 2xx marks the
 * backend healthy and feeds its latency (fractional ms) to the EWMA; anything else marks it unhealthy. Probe outcomes
 * also drive the breaker: a closed breaker counts failures; an open one whose wait is over takes the probe as its
 * half-open trial, so a backend recovers even when no traffic is proxied to it.
 */
@Injectable()
export class HealthProber implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('health');
  private readonly probed = new Map<string, Probed>();
  private unsubscribe: (() => void) | undefined;
  private readonly probes = new Emitter<ProbeResult>((error, result) =>
    this.logger.error({ event: 'probe_listener_failed', backend: result.backend, err: error }),
  );

  constructor(
    @Inject(ORCH_CONFIG) private readonly config: OrchestratorConfig,
    private readonly pools: PoolsService,
    private readonly upstreams: Upstreams,
    private readonly metrics: ResilienceMetrics,
  ) {}

  onApplicationBootstrap(): void {
    this.unsubscribe = this.pools.onChange(() => this.reconcile());
    this.reconcile();
  }

  onApplicationShutdown(): void {
    this.unsubscribe?.();
    for (const entry of this.probed.values()) this.stop(entry);
    this.probed.clear();
  }

  /** Calls `listener` after every probe (tests, the admin event stream). Returns an unsubscribe. */
  onProbe(listener: (result: ProbeResult) => void): () => void {
    return this.probes.on(listener);
  }

  /** Starts probing backends that appeared and stops those that left every pool. */
  reconcile(): void {
    const current = this.pools.backends();
    for (const [url, entry] of this.probed) {
      if (current.get(url) !== entry.backend) {
        this.stop(entry);
        this.probed.delete(url);
        if (!current.has(url)) void this.upstreams.drop(url);
      }
    }
    for (const [url, backend] of current) {
      if (this.probed.has(url)) continue;
      const entry: Probed = { backend, timer: undefined, inFlight: false, failures: 0, stopped: false };
      this.probed.set(url, entry);
      void this.probe(entry);
    }
  }

  private stop(entry: Probed): void {
    entry.stopped = true;
    clearTimeout(entry.timer);
  }

  private schedule(entry: Probed): void {
    if (entry.stopped) return;
    const factor = Math.min(2 ** entry.failures, MAX_BACKOFF_FACTOR);
    const delay = this.config.health.everyMs * factor * (1 + (Math.random() * 2 - 1) * JITTER);
    entry.timer = setTimeout(() => void this.probe(entry), delay);
    entry.timer.unref();
  }

  private async probe(entry: Probed): Promise<void> {
    if (entry.inFlight || entry.stopped) return;
    entry.inFlight = true;
    const { backend } = entry;
    const started = performance.now();
    let error: string | null = null;
    try {
      const response = await this.upstreams.get(backend.url).request({
        method: 'GET',
        path: this.upstreams.basePath(backend.url) + this.config.health.path,
        headersTimeout: this.config.health.timeoutMs,
        bodyTimeout: this.config.health.timeoutMs,
        signal: AbortSignal.timeout(this.config.health.timeoutMs),
      });
      await response.body.dump();
      if (response.statusCode < 200 || response.statusCode > 299)
        error = `health check answered ${response.statusCode}`;
    } catch (caught) {
      const code = (caught as { code?: unknown }).code;
      error = `health check failed: ${typeof code === 'string' ? code : (caught as Error).name}`;
    }
    const latencyMs = performance.now() - started;
    entry.inFlight = false;
    if (entry.stopped) return;
    this.record(entry, error, latencyMs);
    this.schedule(entry);
  }

  private record(entry: Probed, error: string | null, latencyMs: number): void {
    const { backend } = entry;
    const healthy = error === null;
    this.metrics.probed(healthy, latencyMs / 1000);
    const wasHealthy = backend.healthy;
    backend.healthy = healthy;
    const breaker = backend.breaker;
    if (healthy) {
      entry.failures = 0;
      backend.observe(latencyMs);
      if (breaker.stateName !== 'closed' && breaker.allow()) breaker.success();
      else if (breaker.stateName === 'closed') breaker.success();
    } else {
      entry.failures++;
      backend.lastError = error;
      if (breaker.stateName === 'closed') breaker.failure();
      else if (breaker.allow()) breaker.failure();
    }
    if (wasHealthy !== healthy) {
      this.logger.warn({ event: healthy ? 'backend_healthy' : 'backend_unhealthy', backend: backend.url, error });
    }
    const result = { backend: backend.url, healthy, latencyMs, error };
    this.probes.emit(result);
  }
}
