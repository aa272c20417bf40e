import type { BucketResult } from './bucket-store';

/** Options of {@link RefusalCache}. */
export interface RefusalCacheOptions {
  /** Most keys remembered; the oldest entry is dropped beyond it. Default 10 000. */
  readonly maxKeys?: number;
}

interface Refusal {
  /** Epoch ms at which the refusal was answered. */
  readonly at: number;
  /** Epoch ms before which no token can exist in the bucket. */
  readonly until: number;
  /** Epoch ms at which the bucket would be full. */
  readonly fullAt: number;
  /** The rate the refusal was computed for. */
  readonly limit: number;
}

/**
 * Remembers, per key, a refusal from a shared bucket until the earliest moment a token can exist again, so a caller
 * can refuse locally in the meantime without asking the store. This is exact, not an approximation: a bucket only
 * gains tokens by refilling at its rate (other instances can only take them), so after a refusal with
 * `retryAfterMs = r` no take can succeed before `r` has passed, whoever asks. The local deadline starts when the
 * answer arrives, so it errs (by the reply's transit time) on the side of refusing. An entry holds only for the rate
 * it was computed at: when the figure changes (degraded health), the store is asked again. Refusals describe the
 * store that gave them: clear the cache when another store takes over (a failover).
 */
export class RefusalCache {
  private readonly entries = new Map<string, Refusal>();
  private readonly maxKeys: number;

  constructor(options: RefusalCacheOptions = {}) {
    const maxKeys = options.maxKeys ?? 10_000;
    if (!Number.isInteger(maxKeys) || maxKeys < 1) {
      throw new Error(`RefusalCache: maxKeys must be a positive integer, got ${String(maxKeys)}`);
    }
    this.maxKeys = maxKeys;
  }

  /** Keys remembered (expired ones linger until looked up or pushed out). */
  get size(): number {
    return this.entries.size;
  }

  /** Forgets every refusal (the buckets they were read from are no longer the ones in use). */
  clear(): void {
    this.entries.clear();
  }

  /** Records a refused take of `key` at rate `limit`, answered at `now`. Passing takes are ignored. */
  remember(key: string, limit: number, result: BucketResult, now: number): void {
    if (result.ok || result.retryAfterMs <= 0) return;
    this.entries.delete(key);
    if (this.entries.size >= this.maxKeys) this.entries.delete(this.entries.keys().next().value as string);
    this.entries.set(key, { at: now, until: now + result.retryAfterMs, fullAt: now + result.resetMs, limit });
  }

  /** The refusal still standing for `key` at rate `limit` at `now` (as the store would answer it), or undefined. */
  check(key: string, limit: number, now: number): BucketResult | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    // Before `at` the wall clock has stepped back: the refusal would stand that much longer; ask the store again.
    if (entry.until <= now || now < entry.at || entry.limit !== limit) {
      this.entries.delete(key);
      return undefined;
    }
    return { ok: false, remaining: 0, resetMs: entry.fullAt - now, retryAfterMs: entry.until - now };
  }
}
