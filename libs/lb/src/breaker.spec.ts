import { describe, expect, it } from 'vitest';
import { Breaker, type BreakerEvent, type BreakerOptions } from './breaker';
import { FakeClock } from './testing/fake-clock';

function setup(opts: Omit<BreakerOptions, 'clock'> = {}) {
  const clock = new FakeClock(1_000);
  const breaker = new Breaker({ ...opts, clock });
  const events: BreakerEvent[] = [];
  breaker.onStateChange((e) => events.push(e));
  return { clock, breaker, events };
}

/** Opens the breaker from closed with `n` failures. */
function fail(breaker: Breaker, n: number): void {
  for (let i = 0; i < n; i++) breaker.failure();
}

describe(Breaker.name, () => {
  it('opens after the threshold of consecutive failures (default 3) for 15 s', () => {
    const { clock, breaker, events } = setup();
    fail(breaker, 2);
    expect(breaker.state).toEqual({ kind: 'closed', failures: 2 });
    expect(breaker.allow()).toBe(true);
    breaker.failure();
    expect(breaker.state).toEqual({ kind: 'open', until: 16_000, openForMs: 15_000 });
    expect(events).toEqual([{ from: 'closed', to: 'open', at: clock.now(), openForMs: 15_000 }]);
  });

  it('resets the failure count on success', () => {
    const { breaker } = setup();
    fail(breaker, 2);
    breaker.success();
    expect(breaker.state).toEqual({ kind: 'closed', failures: 0 });
    fail(breaker, 2);
    expect(breaker.stateName).toBe('closed');
  });

  it('refuses traffic until `until`, then admits exactly one half-open trial', () => {
    const { clock, breaker, events } = setup();
    fail(breaker, 3);
    clock.advance(14_999);
    expect(breaker.canPass()).toBe(false);
    expect(breaker.allow()).toBe(false);
    clock.advance(1);
    expect(breaker.canPass()).toBe(true);
    expect(breaker.stateName).toBe('open'); // canPass only peeks
    expect(breaker.allow()).toBe(true);
    expect(breaker.state).toEqual({ kind: 'half_open', trialInFlight: true, openForMs: 15_000 });
    expect(breaker.canPass()).toBe(false);
    for (let i = 0; i < 10; i++) expect(breaker.allow()).toBe(false);
    expect(events.at(-1)).toEqual({ from: 'open', to: 'half_open', at: 16_000 });
  });

  it('admits a new trial when the last one went unreported for trialTimeoutMs', () => {
    const { clock, breaker } = setup({ trialTimeoutMs: 5_000 });
    fail(breaker, 3);
    clock.advance(15_000);
    expect(breaker.allow()).toBe(true);
    clock.advance(4_999);
    expect(breaker.canPass()).toBe(false);
    expect(breaker.allow()).toBe(false);
    clock.advance(1);
    expect(breaker.canPass()).toBe(true);
    expect(breaker.allow()).toBe(true);
    expect(breaker.allow()).toBe(false);
    expect(breaker.state).toEqual({ kind: 'half_open', trialInFlight: true, openForMs: 15_000 });
    breaker.success();
    expect(breaker.stateName).toBe('closed');
  });

  it('closes when the trial succeeds and starts over at the base open period', () => {
    const { clock, breaker, events } = setup();
    fail(breaker, 3);
    clock.advance(15_000);
    breaker.allow();
    breaker.failure(); // trial fails: 30 s
    clock.advance(30_000);
    breaker.allow();
    breaker.success();
    expect(breaker.state).toEqual({ kind: 'closed', failures: 0 });
    expect(breaker.allow()).toBe(true);
    expect(events.at(-1)).toEqual({ from: 'half_open', to: 'closed', at: clock.now() });
    fail(breaker, 3);
    expect(breaker.state).toMatchObject({ kind: 'open', openForMs: 15_000 });
  });

  it('doubles the open period on each failed trial, up to the cap', () => {
    const { clock, breaker, events } = setup({ openForMs: 15_000, maxOpenForMs: 100_000 });
    fail(breaker, 3);
    const periods: number[] = [];
    for (let i = 0; i < 5; i++) {
      const s = breaker.state;
      if (s.kind !== 'open') throw new Error(`expected open, got ${s.kind}`);
      clock.advance(s.openForMs);
      expect(breaker.allow()).toBe(true);
      breaker.failure();
      const next = breaker.state;
      if (next.kind !== 'open') throw new Error(`expected open, got ${next.kind}`);
      expect(next.until).toBe(clock.now() + next.openForMs);
      periods.push(next.openForMs);
    }
    expect(periods).toEqual([30_000, 60_000, 100_000, 100_000, 100_000]);
    expect(events.filter((e) => e.to === 'open').map((e) => [e.from, e.openForMs])).toEqual([
      ['closed', 15_000],
      ['half_open', 30_000],
      ['half_open', 60_000],
      ['half_open', 100_000],
      ['half_open', 100_000],
      ['half_open', 100_000],
    ]);
  });

  it('caps at five minutes by default', () => {
    const { clock, breaker } = setup();
    fail(breaker, 3);
    for (let i = 0; i < 10; i++) {
      const s = breaker.state;
      if (s.kind !== 'open') throw new Error('expected open');
      clock.advance(s.openForMs);
      breaker.allow();
      breaker.failure();
    }
    expect(breaker.state).toMatchObject({ kind: 'open', openForMs: 300_000 });
  });

  it('ignores outcomes reported while open', () => {
    const { breaker, events } = setup();
    fail(breaker, 3);
    const open = breaker.state;
    breaker.success();
    breaker.failure();
    expect(breaker.state).toBe(open);
    expect(events).toHaveLength(1);
  });

  it('uses explicit times over the clock', () => {
    const breaker = new Breaker({ failureThreshold: 1, openForMs: 100, clock: new FakeClock() });
    breaker.failure(5_000);
    expect(breaker.state).toEqual({ kind: 'open', until: 5_100, openForMs: 100 });
    expect(breaker.allow(5_099)).toBe(false);
    expect(breaker.allow(5_100)).toBe(true);
  });

  it('unsubscribes listeners', () => {
    const { breaker } = setup({ failureThreshold: 1 });
    const seen: string[] = [];
    const off = breaker.onStateChange((e) => seen.push(e.to));
    breaker.failure();
    off();
    breaker.allow(Infinity);
    expect(seen).toEqual(['open']);
  });

  it('serialises its state with the state name', () => {
    const { breaker } = setup({ failureThreshold: 1 });
    expect(JSON.parse(JSON.stringify(breaker))).toEqual({ kind: 'closed', failures: 0, state: 'closed' });
    breaker.failure();
    expect(breaker.toJSON()).toEqual({ kind: 'open', until: 16_000, openForMs: 15_000, state: 'open' });
  });

  it('rejects invalid options, naming the value', () => {
    expect(() => new Breaker({ failureThreshold: 0 })).toThrow('failureThreshold must be an integer >= 1, got 0');
    expect(() => new Breaker({ failureThreshold: 1.5 })).toThrow(/got 1.5/);
    expect(() => new Breaker({ openForMs: Number.NaN })).toThrow('openForMs must be a finite number > 0, got NaN');
    expect(() => new Breaker({ openForMs: 10_000, maxOpenForMs: 5_000 })).toThrow(/maxOpenForMs .* got 5000/);
    expect(() => new Breaker({ trialTimeoutMs: 0 })).toThrow('trialTimeoutMs must be a finite number > 0, got 0');
  });
});
