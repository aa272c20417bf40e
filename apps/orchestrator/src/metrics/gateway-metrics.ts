import { Injectable } from '@nestjs/common';
import { InjectMetric } from '@willsoto/nestjs-prometheus';
import type { Counter, Histogram } from 'prom-client';
import { CounterChildren, FastHistogramChild } from './fast-children';
import { METRIC } from './metric-names';

/**
 * The request-level instruments every stage shares (answers by action, refusals by reason, errors by code, request
 * durations). Each capability keeps its own instruments in its own module. Labelled children are cached by label
 * values and update their record in place ({@link CounterChildren}, {@link FastHistogramChild}): the per-request cost
 * is a Map look-up and an increment rather than prom-client's label validation and hashing.
 */
@Injectable()
export class GatewayMetrics {
  private readonly routes: CounterChildren;
  private readonly refusals: CounterChildren;
  private readonly errors: CounterChildren;
  private readonly durations = new Map<string, FastHistogramChild>();

  constructor(
    @InjectMetric(METRIC.routeTotal) routeTotal: Counter<string>,
    @InjectMetric(METRIC.routeDenied) routeDenied: Counter<string>,
    @InjectMetric(METRIC.routeError) routeError: Counter<string>,
    @InjectMetric(METRIC.httpDuration) private readonly httpDuration: Histogram<string>,
  ) {
    this.routes = new CounterChildren(routeTotal);
    this.refusals = new CounterChildren(routeDenied);
    this.errors = new CounterChildren(routeError);
  }

  /** A request answered with `action` (allow, deny, divert, tarpit). */
  routed(action: string): void {
    (this.routes.get(action) ?? this.routes.add(action, { action })).inc();
  }

  /** A request refused, by reason (policy, ratelimit, tenant, a proof scheme…). */
  denied(reason: string): void {
    (this.refusals.get(reason) ?? this.refusals.add(reason, { reason })).inc();
  }

  /** A request answered with an error status, by error code. */
  errored(code: string): void {
    (this.errors.get(code) ?? this.errors.add(code, { code })).inc();
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
}
