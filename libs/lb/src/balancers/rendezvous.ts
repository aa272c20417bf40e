import type { Backend } from '../backend';
import { type Hash64, hashString64, mixToUnit } from '../hash';
import type { Balancer, PickContext } from './balancer';

const KEY_SEED = 0x6b657973; // distinct seeds keep key and URL hashes in separate families
const URL_SEED = 0x75726c73;

/**
 * Weighted rendezvous (highest random weight) hashing: for key k each backend b scores `-weight / ln(h(k, b))` with
 * `h ∈ (0, 1)` a uniform 53-bit double from a 64-bit hash of (k, b.url); the highest score wins. Since
 * `-ln(h) / weight` is exponential with rate `weight`, backend b wins a share `weight / Σweight` of keys; removing
 * a backend moves only the keys it held, and adding one takes keys only from others in proportion.
 * Per pick only the key is hashed; each URL's hash is cached in a WeakMap keyed by Backend. Equal scores (practically
 * impossible) go to the earlier candidate. A missing key counts as `''`.
 */
export class RendezvousBalancer implements Balancer {
  /** Always `'rendezvous'`. */
  readonly algo = 'rendezvous' as const;
  private readonly urlHashes = new WeakMap<Backend, Hash64>();
  private readonly keyHash: Hash64 = { hi: 0, lo: 0 };

  /** See {@link Balancer.pick}; uses `ctx.key`. */
  pick(candidates: readonly Backend[], ctx: PickContext): Backend | undefined {
    const n = candidates.length;
    if (n <= 1) return candidates[0];
    const key = hashString64(ctx.key ?? '', KEY_SEED, this.keyHash);
    let best: Backend | undefined;
    let bestScore = -Infinity;
    for (let i = 0; i < n; i++) {
      const b = candidates[i];
      const url = this.urlHash(b);
      const score = -b.weight / Math.log(mixToUnit(key.hi, key.lo, url.hi, url.lo));
      if (score > bestScore) {
        best = b;
        bestScore = score;
      }
    }
    return best;
  }

  private urlHash(b: Backend): Hash64 {
    let h = this.urlHashes.get(b);
    if (h === undefined) {
      h = hashString64(b.url, URL_SEED, { hi: 0, lo: 0 });
      this.urlHashes.set(b, h);
    }
    return h;
  }
}
