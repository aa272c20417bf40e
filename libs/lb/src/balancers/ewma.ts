import type { Backend } from '../backend';
import type { Balancer, PickContext } from './balancer';
import { CostBalancer } from './cost';

/**
 * Peak EWMA over all candidates: picks the lowest load cost
 * (`ewmaMs × (1 + connPenalty × inflight) / weight`), ties broken uniformly at random in one pass (reservoir).
 * O(n) per pick; prefer `p2c` for large pools.
 */
export class EwmaBalancer extends CostBalancer implements Balancer {
  /** Always `'ewma'`. */
  readonly algo = 'ewma' as const;

  /** See {@link Balancer.pick}. */
  pick(candidates: readonly Backend[], ctx: PickContext): Backend | undefined {
    const n = candidates.length;
    if (n <= 1) return candidates[0];
    const now = ctx.now ?? this.clock.now();
    let best = candidates[0];
    let bestCost = this.cost(best, now);
    let ties = 1;
    for (let i = 1; i < n; i++) {
      const b = candidates[i];
      const cost = this.cost(b, now);
      if (cost < bestCost) {
        best = b;
        bestCost = cost;
        ties = 1;
      } else if (cost === bestCost && this.random() * ++ties < 1) {
        best = b;
      }
    }
    return best;
  }
}
