import { describe, expect, it } from 'vitest';
import { ALGO_NAMES, isAlgoName } from './algo';

describe(isAlgoName.name, () => {
  it('accepts the six documented names', () => {
    expect(ALGO_NAMES).toEqual(['round_robin', 'least_conn', 'ewma', 'p2c', 'rendezvous', 'cost']);
    for (const name of ALGO_NAMES) expect(isAlgoName(name)).toBe(true);
  });

  it('rejects unknown, differently cased and prototype names', () => {
    for (const name of ['', 'random', 'EWMA', 'round-robin', 'toString', '__proto__', 'p2c ']) {
      expect(isAlgoName(name)).toBe(false);
    }
  });
});
