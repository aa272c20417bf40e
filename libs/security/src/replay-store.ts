import { hash, randomBytes } from 'node:crypto';

/**
 * The replay store port: `firstSeen` answers true exactly once per `key` within `ttlMs`, false for every repeat.
 * `client` (the caller's address) is who the key is charged to, so a bounded store can give each client a share and
 * refuse the one that floods it rather than everyone. Implementations: in-process ({@link MemoryReplayStore}); Redis
 * `SET NX PX` (`RedisReplayStore`), usually behind a `FailoverReplayStore` that defines what a Redis failure means.
 * An implementation may throw (or reject) when it cannot tell, or {@link ReplayCapacityError} when it will not record
 * the key; callers treat either as a refusal, never as "first seen".
 */
export interface ReplayStore {
  firstSeen(key: string, ttlMs: number, now: number, client?: string): boolean | Promise<boolean>;
}

/** Why a store would not record a key: the client holds its whole share, or the store is full. */
export type ReplayCapacityCode = 'replay_quota_exceeded' | 'replay_store_full';

/** Thrown by {@link MemoryReplayStore.firstSeen} when it refuses to record a new key (it never forgets a live one). */
export class ReplayCapacityError extends Error {
  constructor(
    readonly code: ReplayCapacityCode,
    /** When a retry may succeed: the earliest time, from now, at which the blocking keys start to expire. */
    readonly retryAfterMs: number,
    message: string,
  ) {
    super(message);
    this.name = 'ReplayCapacityError';
  }
}

/** Options of {@link MemoryReplayStore}. */
export interface MemoryReplayStoreOptions {
  /** Most live keys held. Default 1 000 000. */
  readonly maxKeys?: number;
  /** Share of `maxKeys` one client may hold, in (0, 1]. Default 0.1. Keys given without a client are not charged. */
  readonly clientShare?: number;
  /** Width of an expiry bucket, ms: a key is remembered at least its ttl and less than ttl + window. Default 1000. */
  readonly windowMs?: number;
}

/** Most keys one `Set` holds (V8 caps a Set at 2^24 entries); larger stores spread keys over several. */
const SHARD_MAX = 1 << 23;

/** Live keys of one client. */
interface Tally {
  readonly client: string | undefined;
  count: number;
  /** Lower bound of the expiry bucket of the client's oldest live key. */
  oldest: number;
}

/** The keys that expire when one window ends, with the tally each is charged to (parallel arrays). */
interface Bucket {
  readonly keys: string[];
  readonly tallies: Tally[];
}

/**
 * In-process replay store, bounded by design:
 * - **Expiry by time bucket.** A key goes into the bucket of the window in which its ttl ends; each check first drops
 *   the buckets whose window has passed (a map of buckets keyed by window number), so expiry costs O(1) amortised per
 *   key and never scans live keys.
 * - **A share per client.** A client may hold at most `clientShare × maxKeys` live keys; beyond that its new keys are
 *   refused ({@link ReplayCapacityError} `replay_quota_exceeded`) while every other client is still served. Only when
 *   the store itself is full (`maxKeys`, which takes at least 1 / clientShare clients at their share) is a new key
 *   refused for anyone (`replay_store_full`). A live key is never forgotten to make room: that would let a replay
 *   through.
 * - **Small keys.** A key is held as a salted SHA-256 digest (32 one-byte characters), so an entry costs about
 *   90 bytes whatever the caller's key (see replay-store.spec.ts).
 */
export class MemoryReplayStore implements ReplayStore {
  readonly maxKeys: number;
  /** Most live keys one client may hold. */
  readonly clientMax: number;
  readonly windowMs: number;
  private readonly shards: Set<string>[];
  private readonly buckets = new Map<number, Bucket>();
  private readonly tallies = new Map<string, Tally>();
  /** Keys given without a client: counted for the total, never refused for a share. */
  private readonly unattributed: Tally = { client: undefined, count: 0, oldest: 0 };
  /** Salt of the key digests, so nobody can aim keys at one shard. */
  private readonly salt = randomBytes(16).toString('base64');
  private held = 0;
  /** First window whose bucket has not been dropped yet. */
  private nextSweep = -Infinity;

  constructor(options: MemoryReplayStoreOptions = {}) {
    const maxKeys = options.maxKeys ?? 1_000_000;
    if (!Number.isInteger(maxKeys) || maxKeys < 1) {
      throw new Error(`MemoryReplayStore: maxKeys must be a positive integer, got ${String(maxKeys)}`);
    }
    const share = options.clientShare ?? 0.1;
    if (!(share > 0 && share <= 1)) {
      throw new Error(`MemoryReplayStore: clientShare must be in (0, 1], got ${String(share)}`);
    }
    const windowMs = options.windowMs ?? 1000;
    if (!Number.isInteger(windowMs) || windowMs < 1) {
      throw new Error(`MemoryReplayStore: windowMs must be a positive integer, got ${String(windowMs)}`);
    }
    this.maxKeys = maxKeys;
    this.clientMax = Math.max(1, Math.floor(maxKeys * share));
    this.windowMs = windowMs;
    this.shards = Array.from({ length: Math.ceil(maxKeys / SHARD_MAX) }, () => new Set<string>());
  }

  /** Number of keys held (keys whose window has passed may linger until the next check). */
  get size(): number {
    return this.held;
  }

  /** Live keys charged to `client`. */
  heldBy(client: string): number {
    return this.tallies.get(client)?.count ?? 0;
  }

  firstSeen(key: string, ttlMs: number, now: number, client?: string): boolean {
    this.sweep(now);
    const digest = hash('sha256', this.salt + key, 'binary');
    const shard = this.shards.length === 1 ? this.shards[0] : this.shards[digest.charCodeAt(0) % this.shards.length];
    if (shard.has(digest)) return false;
    let tally = client === undefined ? this.unattributed : this.tallies.get(client);
    if (tally !== undefined && tally.client !== undefined && tally.count >= this.clientMax) {
      throw new ReplayCapacityError(
        'replay_quota_exceeded',
        Math.max(this.windowMs, tally.oldest * this.windowMs - now),
        `this client already holds its share of the replay store (${this.clientMax} proofs within their lifetime); retry as they expire`,
      );
    }
    if (this.held >= this.maxKeys || shard.size >= SHARD_MAX) {
      throw new ReplayCapacityError(
        'replay_store_full',
        this.untilFirstExpiry(now),
        `the replay store is full (${this.maxKeys} live proofs); retry as they expire`,
      );
    }
    const window = Math.ceil((now + ttlMs) / this.windowMs);
    if (tally === undefined) {
      tally = { client, count: 0, oldest: window };
      this.tallies.set(client as string, tally);
    }
    shard.add(digest);
    this.held++;
    tally.count++;
    if (window < tally.oldest) tally.oldest = window;
    let bucket = this.buckets.get(window);
    if (bucket === undefined) {
      bucket = { keys: [], tallies: [] };
      this.buckets.set(window, bucket);
    }
    bucket.keys.push(digest);
    bucket.tallies.push(tally);
    return true;
  }

  /** Drops every bucket whose window ended by `now`: by window number, or over the buckets when fewer. */
  private sweep(now: number): void {
    const current = Math.floor(now / this.windowMs);
    if (current < this.nextSweep) return;
    if (this.buckets.size > 0) {
      if (current - this.nextSweep + 1 > this.buckets.size) {
        for (const [window, bucket] of this.buckets) if (window <= current) this.drop(window, bucket);
      } else {
        for (let window = this.nextSweep; window <= current; window++) {
          const bucket = this.buckets.get(window);
          if (bucket !== undefined) this.drop(window, bucket);
        }
      }
    }
    this.nextSweep = current + 1;
  }

  private drop(window: number, bucket: Bucket): void {
    this.buckets.delete(window);
    const { keys, tallies } = bucket;
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i];
      (this.shards.length === 1 ? this.shards[0] : this.shards[key.charCodeAt(0) % this.shards.length]).delete(key);
      const tally = tallies[i];
      tally.count--;
      if (tally.oldest <= window) tally.oldest = window + 1;
      if (tally.count === 0 && tally.client !== undefined) this.tallies.delete(tally.client);
    }
    this.held -= keys.length;
  }

  private untilFirstExpiry(now: number): number {
    let first = Infinity;
    for (const window of this.buckets.keys()) if (window < first) first = window;
    return Math.max(this.windowMs, first * this.windowMs - now);
  }
}
