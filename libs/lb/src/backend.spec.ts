import { describe, expect, it } from 'vitest';
import { Backend } from './backend';
import { FakeClock } from './testing/fake-clock';

describe(Backend.name, () => {
  it('defaults to weight 1, healthy, closed breaker and the default RTT', () => {
    const b = new Backend('http://a:1', undefined, { clock: new FakeClock() });
    expect(b.weight).toBe(1);
    expect(b.healthy).toBe(true);
    expect(b.inflight).toBe(0);
    expect(b.lastError).toBeNull();
    expect(b.breaker.stateName).toBe('closed');
    expect(b.ewmaMs()).toBe(50);
    expect(new Backend('http://b:1', 2, { defaultRttMs: 7.5, clock: new FakeClock() }).ewmaMs()).toBe(7.5);
  });

  it.each([0, -1, Number.NaN, Infinity, -Infinity])('rejects weight %s naming the url and value', (w) => {
    expect(() => new Backend('http://bad:9', w)).toThrow(
      `backend http://bad:9: weight must be a finite number > 0, got ${w}`,
    );
  });

  it('rejects an empty url and bad options, naming them', () => {
    expect(() => new Backend('')).toThrow(/non-empty/);
    expect(() => new Backend('http://a:1', 1, { defaultRttMs: 0 })).toThrow(
      'backend http://a:1: defaultRttMs must be a finite number > 0, got 0',
    );
    expect(() => new Backend('http://a:1', 1, { ewmaDecayMs: -5 })).toThrow(/ewmaDecayMs .* got -5/);
    expect(() => new Backend('http://a:1', 1, { breaker: { failureThreshold: 0 } })).toThrow(
      /failureThreshold .* got 0/,
    );
  });

  it('setWeight validates and keeps the old weight on error', () => {
    const b = new Backend('http://a:1', 2);
    b.setWeight(3.5);
    expect(b.weight).toBe(3.5);
    expect(() => b.setWeight(0)).toThrow(/http:\/\/a:1.*got 0/);
    expect(b.weight).toBe(3.5);
  });

  it('counts in-flight requests and never goes below zero', () => {
    const b = new Backend('http://a:1');
    b.acquire();
    b.acquire();
    b.release();
    expect(b.inflight).toBe(1);
    b.release();
    b.release();
    expect(b.inflight).toBe(0);
  });

  it('feeds observations into the peak EWMA on its clock', () => {
    const clock = new FakeClock(100);
    const b = new Backend('http://a:1', 1, { clock, ewmaDecayMs: 1_000 });
    b.observe(200);
    expect(b.ewmaMs()).toBe(200);
    clock.advance(1_000);
    expect(b.ewmaMs()).toBeCloseTo(200 * Math.exp(-1), 12);
    b.observe(0.5);
    const w = Math.exp(-1);
    expect(b.ewmaMs()).toBeCloseTo(200 * w + 0.5 * (1 - w), 12);
  });

  it('resets the estimate to the default RTT when it returns to health', () => {
    const clock = new FakeClock();
    const b = new Backend('http://a:1', 1, { clock, defaultRttMs: 40 });
    b.observe(300);
    b.healthy = false;
    clock.advance(120_000);
    expect(b.ewmaMs()).toBeLessThan(1); // decayed while out of rotation
    b.healthy = true;
    expect(b.ewmaMs()).toBe(40);
    b.observe(300);
    b.healthy = true; // already healthy: no reset
    expect(b.ewmaMs()).toBe(300);
  });

  it('is eligible when healthy and the breaker admits traffic', () => {
    const clock = new FakeClock();
    const b = new Backend('http://a:1', 1, { clock, breaker: { failureThreshold: 1, openForMs: 1_000 } });
    expect(b.isEligible(0)).toBe(true);
    b.healthy = false;
    expect(b.isEligible(0)).toBe(false);
    b.healthy = true;
    b.breaker.failure(0);
    expect(b.isEligible(999)).toBe(false);
    expect(b.isEligible(1_000)).toBe(true);
  });

  it('serialises to the /health shape, also through JSON.stringify', () => {
    const clock = new FakeClock();
    const b = new Backend('http://a:1', 3, { clock, defaultRttMs: 12.5 });
    b.acquire();
    b.lastError = 'ECONNREFUSED';
    const expected = {
      url: 'http://a:1',
      healthy: true,
      ewma_ms: 12.5,
      inflight: 1,
      cb_state: 'closed',
      weight: 3,
      last_error: 'ECONNREFUSED',
    };
    expect(b.toJSON()).toEqual(expected);
    expect(JSON.parse(JSON.stringify([b]))).toEqual([expected]);
    expect(b.toJSON(10_000).ewma_ms).toBeCloseTo(12.5 * Math.exp(-1), 12);
  });
});
