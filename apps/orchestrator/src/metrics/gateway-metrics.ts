import { Injectable } from '@nestjs/common';
import { InjectMetric } from '@willsoto/nestjs-prometheus';
import type { Counter, Gauge, Histogram } from 'prom-client';
import { FastCounterChild, FastHistogramChild } from './fast-children';
import { METRIC } from './metric-names';

/**
 * The gateway's instruments with their labelled children cached by label values, each updating its own record in
 * place ({@link FastCounterChild}, {@link FastHistogramChild}): the per-request cost is a Map look-up and an
 * increment rather than prom-client's label validation and hashing.
 */
@Injectable()
export class GatewayMetrics {
  private readonly children = new Map<string, FastCounterChild>();
  private readonly durations = new Map<string, FastHistogramChild>();

  constructor(
    @InjectMetric(METRIC.routeTotal) private readonly routeTotal: Counter<string>,
    @InjectMetric(METRIC.routeDenied) private readonly routeDenied: Counter<string>,
    @InjectMetric(METRIC.routeError) private readonly routeError: Counter<string>,
    @InjectMetric(METRIC.lbPick) private readonly lbPick: Counter<string>,
    @InjectMetric(METRIC.rateLimitDenied) private readonly rateLimitDenied: Counter<string>,
    @InjectMetric(METRIC.rateLimitRedisUp) private readonly rateLimitRedisUp: Gauge<string>,
    @InjectMetric(METRIC.httpDuration) private readonly httpDuration: Histogram<string>,
    @InjectMetric(METRIC.certExpiry) private readonly certExpiry: Gauge<string>,
    @InjectMetric(METRIC.tarpitActive) private readonly tarpitActive: Gauge<string>,
    @InjectMetric(METRIC.authFailed) private readonly authFailedTotal: Counter<string>,
    @InjectMetric(METRIC.replayStoreErrors) private readonly replayStoreErrorTotal: Counter<string>,
  ) {}

  /** A caller proof refused: `scheme` is `admission` or `dpop`, `code` the 401's error code. */
  authFailed(scheme: string, code: string): void {
    const key = `a\u0000${scheme}\u0000${code}`;
    let child = this.children.get(key);
    if (child === undefined) {
      child = new FastCounterChild(this.authFailedTotal, { scheme, code });
      this.children.set(key, child);
    }
    child.inc();
  }

  /** A check of the shared replay store failed (error or timeout). */
  replayStoreError(): void {
    this.replayStoreErrorTotal.inc();
  }

  /** Requests held in the tarpit now. */
  tarpitHeld(count: number): void {
    this.tarpitActive.set(count);
  }

  /**
   * Publishes the seconds left on the serving certificate, read afresh at every scrape; `undefined` (no TLS) leaves
   * the gauge without a sample rather than a misleading 0.
   */
  certExpiryFrom(read: () => number | undefined): void {
    const gauge = this.certExpiry;
    // prom-client calls a metric's `collect` before each scrape. It is set here, not in the provider, so the reader is
    // this app's even when the metric already exists in the process-wide registry (several apps in one test run).
    Object.assign(gauge, {
      collect: () => {
        const seconds = read();
        if (seconds === undefined) gauge.remove();
        else gauge.set(Math.floor(seconds));
      },
    });
    gauge.remove();
  }

  routed(action: string): void {
    this.child(this.routeTotal, 'r', 'action', action).inc();
  }

  denied(reason: string): void {
    this.child(this.routeDenied, 'd', 'reason', reason).inc();
  }

  errored(code: string): void {
    this.child(this.routeError, 'e', 'code', code).inc();
  }

  rateLimited(scope: string): void {
    this.child(this.rateLimitDenied, 'l', 'scope', scope).inc();
  }

  /** Whether rate limits are kept in Redis (1) or fall back (0). */
  redisUp(up: boolean): void {
    this.rateLimitRedisUp.set(up ? 1 : 0);
  }

  picked(pool: string, algo: string, healthy: boolean): void {
    const key = `p\u0000${pool}\u0000${algo}\u0000${healthy ? '1' : '0'}`;
    let child = this.children.get(key);
    if (child === undefined) {
      child = new FastCounterChild(this.lbPick, { pool, algo, healthy: healthy ? 'true' : 'false' });
      this.children.set(key, child);
    }
    child.inc();
  }

  /** Records one request's duration in seconds under its route template (never the raw URL). */
  observeRequest(method: string, route: string, status: number, seconds: number): void {
    const key = `${method}\u0000${route}\u0000${status}`;
    let child = this.durations.get(key);
    if (child === undefined) {
      child = new FastHistogramChild(this.httpDuration, { method, route, status: String(status) });
      this.durations.set(key, child);
    }
    child.observe(seconds);
  }

  /** The child of a counter with one label; `prefix` tells the counters apart in the cache. */
  private child(counter: Counter<string>, prefix: string, label: string, value: string): FastCounterChild {
    const key = `${prefix}\u0000${value}`;
    let child = this.children.get(key);
    if (child === undefined) {
      child = new FastCounterChild(counter, { [label]: value });
      this.children.set(key, child);
    }
    return child;
  }
}
