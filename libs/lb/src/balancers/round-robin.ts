import type { Backend } from '../backend';
import type { Balancer, PickContext } from './balancer';

interface RoundRobinSlot {
  current: number;
}

/**
 * Smooth weighted round robin (nginx `ngx_http_upstream_get_peer`): each pick adds every candidate's weight to its
 * `current`, takes the largest `current` (first in list order on ties) and subtracts the total weight from it. Over
 * any window of Σweight picks each backend gets exactly its weight, interleaved (weights 5,1,1 → a a b a c a a).
 * Counters live in a WeakMap keyed by Backend, so candidate lists may change between calls without leaking.
 */
export class RoundRobinBalancer implements Balancer {
  /** Always `'round_robin'`. */
  readonly algo = 'round_robin' as const;
  private readonly slots = new WeakMap<Backend, RoundRobinSlot>();

  /** See {@link Balancer.pick}; `ctx` is unused. */
  pick(candidates: readonly Backend[], _ctx: PickContext): Backend | undefined {
    const n = candidates.length;
    if (n <= 1) return candidates[0];
    let total = 0;
    let best: Backend | undefined;
    let bestSlot: RoundRobinSlot | undefined;
    for (let i = 0; i < n; i++) {
      const b = candidates[i];
      const slot = this.slot(b);
      slot.current += b.weight;
      total += b.weight;
      if (bestSlot === undefined || slot.current > bestSlot.current) {
        best = b;
        bestSlot = slot;
      }
    }
    bestSlot!.current -= total;
    return best;
  }

  private slot(b: Backend): RoundRobinSlot {
    let slot = this.slots.get(b);
    if (slot === undefined) {
      slot = { current: 0 };
      this.slots.set(b, slot);
    }
    return slot;
  }
}
