import { hash } from 'node:crypto';
import { LruMap } from '@shieldx/collections';
import type { Decision, PolicyInput } from './decision';

interface Entry {
  readonly decision: Decision;
  readonly expiresAt: number;
  readonly generation: number;
}

/** Longest encoding used as a key as it is; longer ones are hashed (bounds the memory a cache entry's key takes). */
const MAX_PLAIN_KEY = 256;

/**
 * Cache key of an input: a length-prefixed encoding of every field a policy can see (plain concatenation would let
 * `ab|c` equal `a|bc`), used as it is when short — the usual case, and no hashing on the request path — else its
 * SHA-256, so two different inputs can only share a key through a SHA-256 collision. The two forms cannot meet: an
 * encoding always holds a `:`, base64 never does.
 */
export function decisionCacheKey(input: PolicyInput): string {
  const parts = [
    input.service,
    input.tenant,
    input.scope,
    input.path,
    input.method,
    input.ip,
    input.dpop.jkt ?? '\u0000',
    String(input.poolHealth),
    String(input.identity.uris.length),
    ...input.identity.uris,
    String(input.identity.dns.length),
    ...input.identity.dns,
  ];
  for (const name of Object.keys(input.headers).sort()) parts.push(name, input.headers[name]);
  if (input.threat !== undefined)
    parts.push(String(input.threat.score), String(input.threat.reasons.length), ...input.threat.reasons);
  let encoded = '';
  for (const part of parts) encoded += `${part.length}:${part}`;
  return encoded.length <= MAX_PLAIN_KEY ? encoded : hash('sha256', encoded, 'base64');
}

/**
 * A bounded LRU of decisions with a time to live. Entries carry the policy generation they were computed under;
 * {@link clear} starts a new generation, so a decision computed by the old policy while a reload happened is never
 * served afterwards. Stored decisions are frozen copies marked `cached: true`.
 */
export class DecisionCache {
  private readonly entries: LruMap<string, Entry>;
  private generation = 0;
  private hitCount = 0;
  private missCount = 0;

  /**
   * @param maxEntries most entries kept (0 disables the cache)
   * @param ttlMs how long a decision is served, ms
   */
  constructor(
    private readonly maxEntries: number,
    private readonly ttlMs: number,
  ) {
    if (!Number.isInteger(maxEntries) || maxEntries < 0)
      throw new Error(`DecisionCache: maxEntries must be an integer >= 0, got ${maxEntries}`);
    if (!(ttlMs >= 0)) throw new Error(`DecisionCache: ttlMs must be >= 0, got ${ttlMs}`);
    this.entries = new LruMap(Math.max(1, maxEntries));
  }

  /** False when `maxEntries` or the TTL is 0. */
  get enabled(): boolean {
    return this.maxEntries > 0 && this.ttlMs > 0;
  }

  /** Hits, misses and current size. */
  stats(): { hits: number; misses: number; size: number } {
    return { hits: this.hitCount, misses: this.missCount, size: this.entries.size };
  }

  /** The cached decision for `key` at `now` (ms), or undefined (counted as a miss). */
  get(key: string, now: number): Decision | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined || entry.expiresAt <= now || entry.generation !== this.generation) {
      if (entry !== undefined) this.entries.delete(key);
      this.missCount++;
      return undefined;
    }
    this.hitCount++;
    return entry.decision;
  }

  /** Stores `decision` for `key`, computed under `generation` (see {@link currentGeneration}). */
  set(key: string, decision: Decision, now: number, generation: number): void {
    if (!this.enabled || generation !== this.generation) return;
    this.entries.set(key, {
      decision: Object.freeze({ ...decision, cached: true }),
      expiresAt: now + this.ttlMs,
      generation,
    });
  }

  /** The generation new decisions are computed under. */
  get currentGeneration(): number {
    return this.generation;
  }

  /** Forgets every entry (on policy reload). */
  clear(): void {
    this.generation++;
    this.entries.clear();
  }
}
