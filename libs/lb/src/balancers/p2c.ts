import type { Backend } from '../backend';
import type { Balancer, PickContext } from './balancer';
import { CostBalancer } from './cost';

/**
 * Power of two choices: draws two distinct candidates uniformly at random and keeps the one with the lower
 * load cost (`ewmaMs × (1 + connPenalty × inflight) / weight`); equal costs are decided by a coin flip.
 * O(1) per pick, and never herds every request onto the single momentarily best backend.
 */
export class P2cBalancer extends CostBalancer implements Balancer {
  /** Always `'p2c'`. */
  readonly algo = 'p2c' as const;

  /** See {@link Balancer.pick}. */
  pick(candidates: readonly Backend[], ctx: PickContext): Backend | undefined {
    const n = candidates.length;
    if (n <= 1) return candidates[0];
    // j is drawn from the n − 1 other slots and shifted past i, so the two are always distinct.
    const i = index(this.random(), n);
    let j = index(this.random(), n - 1);
    if (j >= i) j++;
    const a = candidates[i];
    const b = candidates[j];
    const now = ctx.now ?? this.clock.now();
    const costA = this.cost(a, now);
    const costB = this.cost(b, now);
    if (costA < costB) return a;
    if (costB < costA) return b;
    return this.random() < 0.5 ? a : b;
  }
}

/** floor(r × n), clamped to n − 1 in case a random source returns 1. */
function index(r: number, n: number): number {
  const k = Math.floor(r * n);
  return k < n ? k : n - 1;
}
