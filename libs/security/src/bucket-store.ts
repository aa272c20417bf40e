import { LruMap } from '@shieldx/collections';

/** Outcome of one take from a token bucket. Times are in milliseconds. */
export interface BucketResult {
  /** True when a token was taken. */
  readonly ok: boolean;
  /** Whole tokens left after this take. */
  readonly remaining: number;
  /** Time until the bucket is full again. */
  readonly resetMs: number;
  /** When refused: time until one token is available; 0 when ok. */
  readonly retryAfterMs: number;
}

/**
 * The bucket store port: one atomic take from the bucket named `key`, which holds at most `burst` tokens and refills
 * at `ratePerMinute` tokens per minute. Implementations: in-process ({@link MemoryBucketStore}), Redis
 * (`RedisBucketStore`, one Lua script), and `FailoverBucketStore` (Redis with an in-process fallback).
 */
export interface BucketStore {
  take(key: string, ratePerMinute: number, burst: number, now: number): BucketResult | Promise<BucketResult>;
  /**
   * Takes one token from each bucket in order, as one atomic step, stopping at the first refusal: the results of the
   * buckets tried (all of them when every take passed; otherwise up to and including the refused one). Tokens taken
   * before a refusal stay taken, as with separate takes. One round trip for a remote store.
   */
  takeAll(takes: readonly BucketTake[], now: number): readonly BucketResult[] | Promise<readonly BucketResult[]>;
}

/** One bucket of a {@link BucketStore.takeAll}. */
export interface BucketTake {
  readonly key: string;
  readonly ratePerMinute: number;
  readonly burst: number;
}

interface Bucket {
  tokens: number;
  updatedAt: number;
}

/** Options of {@link MemoryBucketStore}. */
export interface MemoryBucketStoreOptions {
  /** Most buckets kept; the least recently used is evicted beyond it. Default 100 000. */
  maxKeys?: number;
}

/**
 * In-process token buckets with bounded memory. A bucket evicted while idle is recreated full, which is exactly the
 * state it would have refilled to once idle for `burst / rate` minutes; a bucket evicted earlier (only under more than
 * `maxKeys` live keys) is forgiven its debt — the price of a memory bound, documented in docs/rate-limiting.md.
 */
export class MemoryBucketStore implements BucketStore {
  private readonly buckets: LruMap<string, Bucket>;

  constructor(options: MemoryBucketStoreOptions = {}) {
    const maxKeys = options.maxKeys ?? 100_000;
    if (!Number.isInteger(maxKeys) || maxKeys < 1) {
      throw new Error(`MemoryBucketStore: maxKeys must be a positive integer, got ${String(maxKeys)}`);
    }
    this.buckets = new LruMap(maxKeys);
  }

  /** Number of buckets held. */
  get size(): number {
    return this.buckets.size;
  }

  take(key: string, ratePerMinute: number, burst: number, now: number): BucketResult {
    const perMs = ratePerMinute / 60_000;
    let bucket = this.buckets.get(key);
    if (bucket === undefined) {
      bucket = { tokens: burst, updatedAt: now };
      this.buckets.set(key, bucket);
    } else {
      const elapsed = now - bucket.updatedAt;
      if (elapsed > 0) {
        bucket.tokens = Math.min(burst, bucket.tokens + elapsed * perMs);
        bucket.updatedAt = now;
      } else if (elapsed < 0) {
        // The wall clock stepped back: refill from now on. Kept at the later time, the bucket would not refill at
        // all until the clock caught up again — an hour of 429s after a one-hour step.
        bucket.updatedAt = now;
      }
    }
    const ok = bucket.tokens >= 1;
    if (ok) bucket.tokens -= 1;
    return {
      ok,
      remaining: Math.floor(bucket.tokens),
      resetMs: Math.ceil((burst - bucket.tokens) / perMs),
      retryAfterMs: ok ? 0 : Math.ceil((1 - bucket.tokens) / perMs),
    };
  }

  takeAll(takes: readonly BucketTake[], now: number): BucketResult[] {
    const results: BucketResult[] = [];
    for (const { key, ratePerMinute, burst } of takes) {
      const result = this.take(key, ratePerMinute, burst, now);
      results.push(result);
      if (!result.ok) break;
    }
    return results;
  }
}
