/**
 * Fast non-cryptographic 64-bit hashing for rendezvous hashing, in 32-bit integer arithmetic (no BigInt, no
 * allocation): a 64-bit value travels as two unsigned 32-bit halves.
 */

/** A 64-bit hash as two unsigned 32-bit halves; written in place by {@link hashString64}. */
export interface Hash64 {
  hi: number;
  lo: number;
}

/**
 * Hashes the UTF-16 code units of `s` into `out` (two 32-bit multiply–xor lanes, cross-mixed at the end, after
 * cyrb53). `seed` (uint32) separates hash families, e.g. keys from backend URLs. Returns `out`.
 */
export function hashString64(s: string, seed: number, out: Hash64): Hash64 {
  let h1 = 0xdeadbeef ^ seed;
  let h2 = 0x41c6ce57 ^ seed;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507);
  h1 ^= Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507);
  h2 ^= Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  out.hi = h2 >>> 0;
  out.lo = h1 >>> 0;
  return out;
}

// Result of mul64 (module-level scratch, so the hot path allocates nothing; JS is single-threaded).
let mulHi = 0;
let mulLo = 0;

/** (aHi:aLo) × (bHi:bLo) mod 2^64 into mulHi:mulLo. The low×low product is built from 16-bit limbs to stay exact. */
function mul64(aHi: number, aLo: number, bHi: number, bLo: number): void {
  const a0 = aLo & 0xffff;
  const a1 = aLo >>> 16;
  const b0 = bLo & 0xffff;
  const b1 = bLo >>> 16;
  const p00 = a0 * b0;
  const p01 = a0 * b1;
  const p10 = a1 * b0;
  const mid = (p00 >>> 16) + (p01 & 0xffff) + (p10 & 0xffff);
  mulLo = (((mid & 0xffff) << 16) | (p00 & 0xffff)) >>> 0;
  const carry = a1 * b1 + (p01 >>> 16) + (p10 >>> 16) + (mid >>> 16);
  mulHi = (carry + Math.imul(aHi, bLo) + Math.imul(aLo, bHi)) >>> 0;
}

// Result of fmix64 (module-level scratch, like mulHi/mulLo).
let mixHi = 0;
let mixLo = 0;

/** MurmurHash3's 64-bit finaliser (full avalanche) of (hi:lo) into mixHi:mixLo. */
function fmix64(hi: number, lo: number): void {
  // x ^= x >>> 33; x *= C1; x ^= x >>> 33; x *= C2; x ^= x >>> 33
  lo = (lo ^ (hi >>> 1)) >>> 0;
  mul64(hi, lo, 0xff51afd7, 0xed558ccd);
  lo = (mulLo ^ (mulHi >>> 1)) >>> 0;
  mul64(mulHi, lo, 0xc4ceb9fe, 0x1a85ec53);
  mixHi = mulHi;
  mixLo = (mulLo ^ (mulHi >>> 1)) >>> 0;
}

/**
 * Mixes two 64-bit hashes (a key's and a backend's) into a uniform double in the open interval (0, 1): the halves
 * are xored and put through `fmix64`; the top 52 bits plus half a step give `(2k + 1) / 2^53`, never 0 nor 1, so
 * `Math.log` of it is finite and negative.
 */
export function mixToUnit(aHi: number, aLo: number, bHi: number, bLo: number): number {
  fmix64((aHi ^ bHi) >>> 0, (aLo ^ bLo) >>> 0);
  return (mixHi * 1048576 + (mixLo >>> 12) + 0.5) / 4503599627370496; // (top 52 bits + ½) / 2^52
}
