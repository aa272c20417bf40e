import { Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { SecurityEvents } from '../events/security-events';
import { ResilienceMetrics } from './resilience-metrics';
import { PoolsService, type BreakerTransition } from '../pools/pools.service';

/** Turns breaker transitions into metrics, log lines and security events. */
@Injectable()
export class BreakerMonitor implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('breaker');
  private unsubscribe: (() => void) | undefined;
  private readonly history: (BreakerTransition & { at: string })[] = [];

  constructor(
    private readonly pools: PoolsService,
    private readonly metrics: ResilienceMetrics,
    private readonly events: SecurityEvents,
  ) {}

  onModuleInit(): void {
    this.unsubscribe = this.pools.onBreakerTransition((transition) => this.record(transition));
  }

  onApplicationShutdown(): void {
    this.unsubscribe?.();
  }

  /** The latest transitions, newest last (at most 200). */
  recent(): readonly (BreakerTransition & { at: string })[] {
    return this.history;
  }

  private record(transition: BreakerTransition): void {
    const { event } = transition;
    this.metrics.transition(event.to);
    this.history.push({ ...transition, at: new Date().toISOString() });
    if (this.history.length > 200) this.history.shift();
    this.logger.warn({
      event: 'breaker_transition',
      pool: transition.pool,
      backend: transition.backend,
      from: event.from,
      to: event.to,
      openForMs: event.openForMs,
    });
    this.events.emit({
      type: 'breaker.transition',
      data: {
        pool: transition.pool,
        backend: transition.backend,
        from: event.from,
        to: event.to,
        openForMs: event.openForMs ?? null,
      },
    });
  }
}
