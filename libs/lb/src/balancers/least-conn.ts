import type { Backend } from '../backend';
import type { RandomSource } from '../clock';
import type { Balancer, PickContext } from './balancer';

/**
 * Fewest in-flight requests relative to weight: minimises `inflight / weight`, compared by cross-multiplication
 * (`a.inflight × b.weight < b.inflight × a.weight`, no division). Ties are broken uniformly at random in one pass
 * (reservoir sampling: the k-th tied backend replaces the choice with probability 1/k).
 */
export class LeastConnBalancer implements Balancer {
  /** Always `'least_conn'`. */
  readonly algo = 'least_conn' as const;

  /** @param random uniform [0, 1) source for tie-breaks */
  constructor(private readonly random: RandomSource) {}

  /** See {@link Balancer.pick}; `ctx` is unused. */
  pick(candidates: readonly Backend[], _ctx: PickContext): Backend | undefined {
    const n = candidates.length;
    if (n <= 1) return candidates[0];
    let best = candidates[0];
    let ties = 1;
    for (let i = 1; i < n; i++) {
      const b = candidates[i];
      const lhs = b.inflight * best.weight;
      const rhs = best.inflight * b.weight;
      if (lhs < rhs) {
        best = b;
        ties = 1;
      } else if (lhs === rhs && this.random() * ++ties < 1) {
        best = b;
      }
    }
    return best;
  }
}
