/**
 * The replay store port: `firstSeen` answers true exactly once per `key` within `ttlMs`, false for every repeat.
 * Implementations: in-process ({@link MemoryReplayStore}); Redis `SET NX PX` (`RedisReplayStore`), usually behind a
 * `FailoverReplayStore` that defines what a Redis failure means. An implementation may throw (or reject) when it
 * cannot tell; callers treat that as "unavailable", never as "first seen".
 */
export interface ReplayStore {
  firstSeen(key: string, ttlMs: number, now: number): boolean | Promise<boolean>;
}

/** Options of {@link MemoryReplayStore}. */
export interface MemoryReplayStoreOptions {
  /** Most live keys held. Default 1 000 000. */
  maxKeys?: number;
}

/**
 * In-process replay store. Keys expire in insertion order, so each check costs O(1) amortised. When `maxKeys` live
 * keys are held, new keys are refused (answer false): forgetting a live key would let a replay through, so the store
 * fails closed and the caller sees a refusal rather than a silent gap.
 */
export class MemoryReplayStore implements ReplayStore {
  private readonly expiries = new Map<string, number>();
  private readonly maxKeys: number;

  constructor(options: MemoryReplayStoreOptions = {}) {
    const maxKeys = options.maxKeys ?? 1_000_000;
    if (!Number.isInteger(maxKeys) || maxKeys < 1) {
      throw new Error(`MemoryReplayStore: maxKeys must be a positive integer, got ${String(maxKeys)}`);
    }
    this.maxKeys = maxKeys;
  }

  /** Number of keys held (expired ones may linger until the next check). */
  get size(): number {
    return this.expiries.size;
  }

  firstSeen(key: string, ttlMs: number, now: number): boolean {
    this.sweep(now);
    const expiresAt = this.expiries.get(key);
    if (expiresAt !== undefined && expiresAt > now) return false;
    if (expiresAt !== undefined) this.expiries.delete(key);
    if (this.expiries.size >= this.maxKeys) return false;
    this.expiries.set(key, now + ttlMs);
    return true;
  }

  private sweep(now: number): void {
    for (const [key, expiresAt] of this.expiries) {
      if (expiresAt > now) return;
      this.expiries.delete(key);
    }
  }
}
