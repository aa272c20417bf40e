import type { Backend } from '../backend';

/** Default in-flight penalty of {@link loadCost} (contract `ORCH_P2C_CONN_PENALTY`). */
export const DEFAULT_CONN_PENALTY = 5;

/**
 * Expected cost of sending one more request to `b`, as used by `ewma` and `p2c`:
 * `ewmaMs(now) × (1 + connPenalty × inflight) / weight` — latency estimate, inflated by queued work, shared by weight.
 */
export function loadCost(b: Backend, now: number, connPenalty: number): number {
  return (b.ewmaMs(now) * (1 + connPenalty * b.inflight)) / b.weight;
}
