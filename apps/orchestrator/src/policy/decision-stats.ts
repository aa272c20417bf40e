import { POLICY_ACTIONS, type Decision, type PolicyAction, type PolicyInput } from '@shieldx/policy';

/** One heavy hitter: `count` may overstate the true count by at most `error` (space-saving). */
export interface TopEntry {
  readonly key: string;
  readonly count: number;
  readonly error: number;
}

/**
 * The most frequent keys of a stream in bounded memory (the space-saving algorithm): at most `capacity` keys are
 * tracked; a new key beyond that replaces the least counted one and inherits its count as its error bound. Every key
 * whose true count exceeds total/capacity is guaranteed to be tracked, so a flood of distinct keys cannot hide one
 * that is really frequent.
 */
export class TopK {
  private readonly counts = new Map<string, { count: number; error: number }>();

  constructor(private readonly capacity: number) {}

  /** Counts one occurrence of `key`. */
  add(key: string): void {
    const entry = this.counts.get(key);
    if (entry !== undefined) {
      entry.count++;
      return;
    }
    if (this.counts.size < this.capacity) {
      this.counts.set(key, { count: 1, error: 0 });
      return;
    }
    let minKey = '';
    let min = Infinity;
    for (const [candidate, value] of this.counts) {
      if (value.count < min) {
        min = value.count;
        minKey = candidate;
      }
    }
    this.counts.delete(minKey);
    this.counts.set(key, { count: min + 1, error: min });
  }

  /** The `n` most counted keys, most first (ties by key). */
  top(n: number): TopEntry[] {
    return [...this.counts]
      .map(([key, value]) => ({ key, count: value.count, error: value.error }))
      .sort((a, b) => b.count - a.count || (a.key < b.key ? -1 : 1))
      .slice(0, n);
  }

  /** Forgets every key. */
  clear(): void {
    this.counts.clear();
  }
}

/** Keys tracked per top-k list (tenants, paths). */
const TRACKED_KEYS = 200;

const ACTION_INDEX: Readonly<Record<PolicyAction, number>> = Object.freeze({
  allow: 0,
  deny: 1,
  divert: 2,
  tarpit: 3,
});

/** Policy decisions since start, per action, and the tenants and paths denied most, counted in bounded memory. */
export class DecisionStats {
  private readonly byAction = new Float64Array(POLICY_ACTIONS.length);
  private readonly deniedTenants = new TopK(TRACKED_KEYS);
  private readonly deniedPaths = new TopK(TRACKED_KEYS);

  /** Counts one decision the gateway acted on. */
  record(input: PolicyInput, decision: Decision): void {
    const index = ACTION_INDEX[decision.action];
    this.byAction[index]++;
    if (index === 1) {
      this.deniedTenants.add(input.tenant);
      this.deniedPaths.add(input.path);
    }
  }

  /** Decisions since start, per action. */
  totals(): Record<PolicyAction, number> {
    return {
      allow: this.byAction[0],
      deny: this.byAction[1],
      divert: this.byAction[2],
      tarpit: this.byAction[3],
    };
  }

  /** The `n` tenants and paths denied most since start. */
  topDenied(n: number): { tenants: TopEntry[]; paths: TopEntry[] } {
    return { tenants: this.deniedTenants.top(n), paths: this.deniedPaths.top(n) };
  }
}
