import { describe, expect, it } from 'vitest';
import { MIN_ESTIMATE_MS, PeakEwma } from './peak-ewma';

const TAU = 10_000;

describe(PeakEwma.name, () => {
  it('starts at the initial estimate', () => {
    const e = new PeakEwma(TAU, 50, 1_000);
    expect(e.read(1_000)).toBe(50);
  });

  it('takes a slower sample at once, however little time passed', () => {
    const e = new PeakEwma(TAU, 50, 0);
    e.observe(400, 0.001);
    expect(e.read(0.001)).toBe(400);
  });

  it('blends a faster sample by the time elapsed since the previous one', () => {
    const e = new PeakEwma(TAU, 100, 0);
    e.observe(20, TAU); // w = e^-1
    const w = Math.exp(-1);
    expect(e.read(TAU)).toBeCloseTo(100 * w + 20 * (1 - w), 12);

    const f = new PeakEwma(TAU, 100, 0);
    f.observe(20, 1); // 1 ms later: almost no weight
    expect(f.read(1)).toBeCloseTo(100 * Math.exp(-1 / TAU) + 20 * (1 - Math.exp(-1 / TAU)), 12);
    expect(f.read(1)).toBeGreaterThan(99.99);
  });

  it('gives a faster sample no weight when no time elapsed', () => {
    const e = new PeakEwma(TAU, 80, 5);
    e.observe(1, 5);
    expect(e.read(5)).toBe(80);
  });

  it('keeps sub-millisecond fractional values', () => {
    const e = new PeakEwma(TAU, 0.125, 0);
    e.observe(0.25, 0.5);
    expect(e.read(0.5)).toBe(0.25);
    e.observe(0.0625, 0.5 + TAU);
    const w = Math.exp(-1);
    expect(e.read(0.5 + TAU)).toBeCloseTo(0.25 * w + 0.0625 * (1 - w), 15);
  });

  it('decays towards zero on read without changing the stored estimate', () => {
    const e = new PeakEwma(TAU, 100, 0);
    expect(e.read(TAU)).toBeCloseTo(100 * Math.exp(-1), 12);
    expect(e.read(2 * TAU)).toBeCloseTo(100 * Math.exp(-2), 12);
    expect(e.read(0)).toBe(100); // reading did not store anything
    expect(e.read(1e9)).toBe(MIN_ESTIMATE_MS);
  });

  it('does not rewind its timestamp for a sample stamped in the past', () => {
    const e = new PeakEwma(TAU, 100, 1_000);
    e.observe(100, 500);
    expect(e.read(1_000 + TAU)).toBeCloseTo(100 * Math.exp(-1), 12);
  });

  it('rejects negative, NaN and infinite samples', () => {
    const e = new PeakEwma(TAU, 50, 0);
    expect(() => e.observe(-1, 1)).toThrow(/got -1/);
    expect(() => e.observe(Number.NaN, 1)).toThrow(/got NaN/);
    expect(() => e.observe(Infinity, 1)).toThrow(/got Infinity/);
    expect(e.read(0)).toBe(50);
  });
});
