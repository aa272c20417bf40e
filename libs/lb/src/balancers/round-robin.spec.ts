import { describe, expect, it } from 'vitest';
import { Backend } from '../backend';
import { tally } from '../testing/tally';
import { RoundRobinBalancer } from './round-robin';

const make = (weights: number[]) => weights.map((w, i) => new Backend(`http://${String.fromCharCode(97 + i)}:80`, w));

describe(RoundRobinBalancer.name, () => {
  it('interleaves like nginx: weights 5,1,1 give a a b a c a a', () => {
    const rr = new RoundRobinBalancer();
    const backends = make([5, 1, 1]);
    const seq = Array.from({ length: 14 }, () => rr.pick(backends, {})!.url[7]).join(' ');
    expect(seq).toBe('a a b a c a a a a b a c a a');
  });

  it('is smooth: every window of 7 picks with weights 5,1,1 holds 5 a, 1 b, 1 c', () => {
    const rr = new RoundRobinBalancer();
    const backends = make([5, 1, 1]);
    const picks = Array.from({ length: 700 }, () => rr.pick(backends, {})!);
    let longestRun = 0;
    for (let i = 0, run = 0; i < picks.length; i++) {
      run = i > 0 && picks[i] === picks[i - 1] ? run + 1 : 1;
      longestRun = Math.max(longestRun, run);
      if (i >= 6) expect(tally(backends, picks.slice(i - 6, i + 1))).toEqual([5, 1, 1]);
    }
    expect(longestRun).toBe(4); // a a | a a across the cycle boundary; plain weighted round robin gives 5
  });

  it('follows weights 1,2,3,4 within ±5 % over 10k picks (exactly, per cycle)', () => {
    const rr = new RoundRobinBalancer();
    const backends = make([1, 2, 3, 4]);
    const counts = tally(
      backends,
      Array.from({ length: 10_000 }, () => rr.pick(backends, {})!),
    );
    expect(counts).toEqual([1_000, 2_000, 3_000, 4_000]);
  });

  it('supports fractional weights', () => {
    const rr = new RoundRobinBalancer();
    const backends = make([0.5, 1.5]);
    const counts = tally(
      backends,
      Array.from({ length: 1_000 }, () => rr.pick(backends, {})!),
    );
    expect(counts).toEqual([250, 750]);
  });

  it('tolerates candidate lists that change between calls', () => {
    const rr = new RoundRobinBalancer();
    const [a, b, c] = make([1, 1, 1]);
    const picks: Backend[] = [];
    for (let i = 0; i < 300; i++) {
      const list = i % 3 === 0 ? [a, b, c] : i % 3 === 1 ? [a, c] : [b];
      picks.push(rr.pick(list, {})!);
    }
    const counts = tally([a, b, c], picks);
    expect(counts.reduce((x, y) => x + y)).toBe(300);
    for (const n of counts) expect(n).toBeGreaterThan(50);
  });

  it('returns undefined for no candidates and the only one directly', () => {
    const rr = new RoundRobinBalancer();
    const [a] = make([3]);
    expect(rr.pick([], {})).toBeUndefined();
    expect(rr.pick([a], {})).toBe(a);
  });
});
