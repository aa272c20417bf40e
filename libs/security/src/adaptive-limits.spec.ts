import { describe, expect, it } from 'vitest';
import { AdaptiveLimits, type AdaptiveEvent, type AdaptiveLimitsOptions } from './adaptive-limits';

const T0 = 1_700_000_000_000;
const S = 1000;

/** A request rate in req/s: a constant, or a function of the time in ms since T0. */
type Rate = number | ((t: number) => number);

/**
 * Sends evenly spaced requests from `fromMs` to `toMs` (ms since T0, end excluded) for each key at its rate, in time
 * order across keys; returns the factor of each key's last request. Deterministic: no randomness anywhere.
 */
function traffic(model: AdaptiveLimits, rates: Record<string, Rate>, fromMs: number, toMs: number) {
  const keys = Object.keys(rates);
  const credit = keys.map(() => 0);
  const factors: Record<string, number> = {};
  for (let t = fromMs; t < toMs; t++) {
    keys.forEach((key, i) => {
      const rate = rates[key];
      credit[i] += (typeof rate === 'number' ? rate : rate(t)) / 1000;
      while (credit[i] >= 1) {
        credit[i] -= 1;
        factors[key] = model.observe(key, T0 + t);
      }
    });
  }
  return factors;
}

function recorder(model: AdaptiveLimits): AdaptiveEvent[] {
  const events: AdaptiveEvent[] = [];
  model.onEvent((event) => events.push(event));
  return events;
}

describe(AdaptiveLimits.name, () => {
  describe('learning', () => {
    it("learns a key's rate as its baseline and can flag it only after the minimum learning time", () => {
      const model = new AdaptiveLimits();
      const events = recorder(model);
      traffic(model, { 'tenant:a': 20 }, 0, 100 * S);
      expect(model.inspect('tenant:a', T0 + 100 * S)).toMatchObject({ phase: 'normal', learned: false, factor: 1 });
      traffic(model, { 'tenant:a': 20 }, 100 * S, 130 * S);
      const info = model.inspect('tenant:a', T0 + 130 * S)!;
      expect(info).toMatchObject({ phase: 'normal', learned: true, factor: 1 });
      expect(info.baselineRate).toBeCloseTo(20, 0);
      expect(info.currentRate).toBeCloseTo(20, 0);
      // Alone in its population and steady: 3× its baseline is the threshold.
      expect(info.thresholdRate).toBeCloseTo(60, 0);
      expect(events).toEqual([]);
    });

    it('never flags a key before its minimum learning time, whatever its rate', () => {
      const model = new AdaptiveLimits();
      const events = recorder(model);
      traffic(model, { 'tenant:a': 20 }, 0, 60 * S);
      const factors = traffic(model, { 'tenant:a': 400 }, 60 * S, 119 * S);
      expect(factors['tenant:a']).toBe(1);
      expect(events).toEqual([]);
      expect(model.inspect('tenant:a', T0 + 119 * S)).toMatchObject({ learned: false, phase: 'normal' });
    });

    it('learns a slow drift: a rate doubling over 10 minutes is never flagged', () => {
      const model = new AdaptiveLimits();
      const events = recorder(model);
      traffic(model, { 'tenant:a': 20 }, 0, 130 * S);
      const drift = (t: number) => 20 * (1 + Math.min(1, (t - 130 * S) / (600 * S)));
      traffic(model, { 'tenant:a': drift }, 130 * S, 790 * S);
      expect(events).toEqual([]);
      expect(model.inspect('tenant:a', T0 + 790 * S)!.baselineRate).toBeGreaterThan(36);
    });

    it('folds a long idle gap in one step exactly as slot by slot', () => {
      const options: AdaptiveLimitsOptions = { baselineMs: 30 * S, minLearningMs: 0 };
      const once = new AdaptiveLimits(options);
      const stepwise = new AdaptiveLimits(options);
      for (const model of [once, stepwise]) traffic(model, { 'tenant:a': (t) => (t < 5 * S ? 30 : 10) }, 0, 10 * S);
      // The gap covers the plain average (30 slots) and the moving one after it.
      for (let t = 11 * S; t < 600 * S; t += S) stepwise.factor('tenant:a', T0 + t);
      const a = once.inspect('tenant:a', T0 + 600 * S)!;
      const b = stepwise.inspect('tenant:a', T0 + 600 * S)!;
      expect(a.baselineRate).toBeGreaterThan(0);
      expect(a.baselineRate).toBeCloseTo(b.baselineRate, 9);
      expect(a.baselineDeviation).toBeCloseTo(b.baselineDeviation, 9);
    });
  });

  describe('flagging', () => {
    it('tightens a learned key whose short-window rate jumps far above its baseline, and reports it', () => {
      const model = new AdaptiveLimits();
      const events = recorder(model);
      traffic(model, { 'tenant:a': 20 }, 0, 130 * S);
      const factors = traffic(model, { 'tenant:a': 200 }, 130 * S, 133 * S);
      expect(factors['tenant:a']).toBe(0.1);
      expect(events).toHaveLength(1);
      const [event] = events;
      expect(event).toMatchObject({ kind: 'tightened', key: 'tenant:a', factor: 0.1 });
      expect(event.at).toBeGreaterThan(T0 + 130 * S);
      expect(event.at).toBeLessThan(T0 + 132 * S);
      expect(event.baselineRate).toBeCloseTo(20, 0);
      expect(event.thresholdRate).toBeCloseTo(60, 0);
      expect(event.currentRate).toBeGreaterThan(60);
      expect(model.factor('tenant:a', T0 + 133 * S)).toBe(0.1);
      expect(model.tightenedNow(T0 + 133 * S)).toEqual([
        expect.objectContaining({ key: 'tenant:a', phase: 'tightened', factor: 0.1, since: event.at }),
      ]);
    });

    it('does not learn from a flood while the key is tightened', () => {
      const model = new AdaptiveLimits();
      traffic(model, { 'tenant:a': 20 }, 0, 130 * S);
      traffic(model, { 'tenant:a': 200 }, 130 * S, 250 * S);
      const info = model.inspect('tenant:a', T0 + 250 * S)!;
      expect(info).toMatchObject({ phase: 'tightened', factor: 0.1 });
      expect(info.baselineRate).toBeCloseTo(20, 0);
      expect(info.currentRate).toBeGreaterThan(190);
    });

    it("applies the population gate: a key above its own baseline but below its kind's typical rate is not flagged", () => {
      const model = new AdaptiveLimits();
      const events = recorder(model);
      const busy = Object.fromEntries(Array.from({ length: 5 }, (_, i) => [`tenant:big-${i}`, 100]));
      traffic(model, { ...busy, 'tenant:small': 12, 'ip:1': 12, 'ip:2': 12 }, 0, 130 * S);
      expect(model.population('tenant').keys).toBe(6);
      // Tenants: mean 85.3, deviation 31.3 → typical 116.6; IPs: 12.
      expect(model.population('tenant').typicalRate).toBeGreaterThan(110);
      expect(model.population('ip').typicalRate).toBeCloseTo(12, 0);
      // Both jump to 5× their baseline: the tenant stays under its population's typical rate, the IP does not.
      traffic(model, { ...busy, 'tenant:small': 60, 'ip:1': 60, 'ip:2': 12 }, 130 * S, 140 * S);
      expect(events.map((e) => [e.kind, e.key])).toEqual([['tightened', 'ip:1']]);
      expect(model.inspect('tenant:small', T0 + 140 * S)).toMatchObject({ phase: 'normal', factor: 1 });
    });

    it('reads the sensitivity: at 2 a key is flagged at 2× its baseline, at 1 it is not', () => {
      for (const [sensitivity, flagged] of [
        [1, false],
        [2, true],
      ] as const) {
        const model = new AdaptiveLimits({ sensitivity });
        const events = recorder(model);
        traffic(model, { 'tenant:a': 20 }, 0, 130 * S);
        traffic(model, { 'tenant:a': 50 }, 130 * S, 140 * S);
        expect(events.length > 0).toBe(flagged);
      }
    });
  });

  describe('recovery', () => {
    it('climbs linearly from the tighten factor back to 1 over the recovery time once the rate is normal again', () => {
      const model = new AdaptiveLimits({ recoveryMs: 10 * S });
      const events = recorder(model);
      traffic(model, { 'tenant:a': 20 }, 0, 130 * S);
      traffic(model, { 'tenant:a': 200 }, 130 * S, 140 * S);
      traffic(model, { 'tenant:a': 20 }, 140 * S, 145 * S);
      expect(events.map((e) => e.kind)).toEqual(['tightened', 'recovering']);
      const recovering = events[1];
      const from = recovering.at;
      // The 3 s window has to fall back to within a quarter of the way from the baseline to the threshold.
      expect(from).toBeGreaterThan(T0 + 141 * S);
      expect(from).toBeLessThanOrEqual(T0 + 144 * S);
      expect(recovering).toMatchObject({ key: 'tenant:a', factor: 0.1 });
      const t = from - T0;
      traffic(model, { 'tenant:a': 20 }, 145 * S, t + 2500);
      expect(model.factor('tenant:a', from + 2500)).toBeCloseTo(0.1 + 0.9 * 0.25, 9);
      traffic(model, { 'tenant:a': 20 }, t + 2500, t + 5000);
      expect(model.factor('tenant:a', from + 5000)).toBeCloseTo(0.55, 9);
      expect(model.tightenedNow(from + 5000)).toEqual([
        expect.objectContaining({ key: 'tenant:a', phase: 'recovering', recoveringSince: from }),
      ]);
      const factors = traffic(model, { 'tenant:a': 20 }, t + 5000, t + 10_100);
      expect(factors['tenant:a']).toBe(1);
      expect(events.map((e) => e.kind)).toEqual(['tightened', 'recovering', 'relaxed']);
      expect(events[2]).toMatchObject({ key: 'tenant:a', factor: 1, at: from + 10 * S, cause: 'recovered' });
      expect(model.tightenedNow(from + 10_100)).toEqual([]);
    });

    it('tightens again when the rate rises while recovering', () => {
      const model = new AdaptiveLimits({ recoveryMs: 30 * S });
      const events = recorder(model);
      traffic(model, { 'tenant:a': 20 }, 0, 130 * S);
      traffic(model, { 'tenant:a': 200 }, 130 * S, 135 * S);
      traffic(model, { 'tenant:a': 20 }, 135 * S, 145 * S);
      const factors = traffic(model, { 'tenant:a': 200 }, 145 * S, 150 * S);
      expect(events.map((e) => e.kind)).toEqual(['tightened', 'recovering', 'tightened']);
      expect(factors['tenant:a']).toBe(0.1);
    });

    it('recovers a key that went quiet once it is queried again', () => {
      const model = new AdaptiveLimits({ recoveryMs: 10 * S });
      const events = recorder(model);
      traffic(model, { 'tenant:a': 20 }, 0, 130 * S);
      traffic(model, { 'tenant:a': 200 }, 130 * S, 135 * S);
      expect(model.tightenedNow(T0 + 200 * S)).toEqual([]);
      expect(events.map((e) => [e.kind, e.at - T0])).toEqual([
        ['tightened', expect.any(Number)],
        // Slots start at the key's first request (49 ms); the window no longer holds the last busy slot
        // ([134.049, 135.049) s) from 138.049 s, and the climb ends 10 s later.
        ['recovering', 138_049],
        ['relaxed', 148_049],
      ]);
    });
  });

  describe('keys and memory', () => {
    it('keeps at most maxKeys keys, giving a key active in a later slot a second chance', () => {
      const model = new AdaptiveLimits({ maxKeys: 3 });
      for (const key of ['ip:a', 'ip:b', 'ip:c']) model.observe(key, T0);
      model.observe('ip:a', T0 + S);
      model.observe('ip:d', T0 + 1500);
      expect(model.size).toBe(3);
      expect(model.inspect('ip:b', T0 + 1500)).toBeUndefined();
      for (const key of ['ip:a', 'ip:c', 'ip:d']) expect(model.inspect(key, T0 + 1500)).toBeDefined();
      // 'ip:a' used its second chance; without new activity it is the next to go.
      model.observe('ip:e', T0 + 1600);
      expect(model.inspect('ip:c', T0 + 1600)).toBeUndefined();
      model.observe('ip:f', T0 + 1700);
      expect(model.inspect('ip:a', T0 + 1700)).toBeUndefined();
    });

    it('reports an evicted tightened key as relaxed and takes it out of its population', () => {
      const model = new AdaptiveLimits({ maxKeys: 2, minLearningMs: 5 * S });
      const events = recorder(model);
      traffic(model, { 'tenant:x': 20 }, 0, 10 * S);
      traffic(model, { 'tenant:x': 200 }, 10 * S, 12 * S);
      expect(model.population('tenant').keys).toBe(1);
      model.observe('tenant:y', T0 + 12 * S);
      model.observe('tenant:z', T0 + 13 * S);
      model.observe('tenant:w', T0 + 14 * S);
      expect(model.inspect('tenant:x', T0 + 14 * S)).toBeUndefined();
      expect(events.map((e) => [e.kind, e.key, e.cause])).toEqual([
        ['tightened', 'tenant:x', undefined],
        ['relaxed', 'tenant:x', 'evicted'],
      ]);
      expect(model.population('tenant').keys).toBe(0);
      expect(model.tightenedNow(T0 + 14 * S)).toEqual([]);
    });

    it('release() forgets a key: full limit at once, baseline learned anew', () => {
      const model = new AdaptiveLimits();
      const events = recorder(model);
      traffic(model, { 'tenant:a': 20 }, 0, 130 * S);
      traffic(model, { 'tenant:a': 200 }, 130 * S, 135 * S);
      expect(model.release('tenant:a', T0 + 135 * S)).toBe(true);
      expect(events.map((e) => [e.kind, e.cause])).toEqual([
        ['tightened', undefined],
        ['relaxed', 'released'],
      ]);
      expect(model.inspect('tenant:a', T0 + 135 * S)).toBeUndefined();
      expect(model.observe('tenant:a', T0 + 135 * S)).toBe(1);
      expect(model.release('tenant:unknown', T0)).toBe(false);
    });

    it('survives a clock that steps back: the slot restarts, nothing is flagged', () => {
      const model = new AdaptiveLimits();
      const events = recorder(model);
      traffic(model, { 'tenant:a': 20 }, 0, 130 * S);
      const factors = traffic(model, { 'tenant:a': 20 }, 60 * S, 130 * S);
      expect(factors['tenant:a']).toBe(1);
      expect(events).toEqual([]);
      expect(model.inspect('tenant:a', T0 + 130 * S)!.baselineRate).toBeCloseTo(20, 0);
    });
  });

  describe('events', () => {
    it('delivers events after the model is consistent, so a listener may query it', () => {
      const model = new AdaptiveLimits({ recoveryMs: 10 * S });
      const quiet = new AdaptiveLimits({ recoveryMs: 10 * S });
      const seen: string[] = [];
      model.onEvent((event) => {
        const listed = model.tightenedNow(event.at).map((k) => `${k.key}:${k.phase}`);
        seen.push(`${event.kind} → ${listed.join(',')}`);
      });
      for (const m of [model, quiet]) {
        traffic(m, { 'tenant:a': 20 }, 0, 130 * S);
        traffic(m, { 'tenant:a': 200 }, 130 * S, 135 * S);
        traffic(m, { 'tenant:a': 20 }, 135 * S, 160 * S);
      }
      expect(seen).toEqual(['tightened → tenant:a:tightened', 'recovering → tenant:a:recovering', 'relaxed → ']);
      // The listener's queries did not change the model.
      expect(model.inspect('tenant:a', T0 + 160 * S)).toEqual(quiet.inspect('tenant:a', T0 + 160 * S));
    });

    it("isolates listeners: one that throws neither breaks observe() nor the others' delivery; unsubscribe works", () => {
      const model = new AdaptiveLimits();
      model.onEvent(() => {
        throw new Error('listener failure');
      });
      const events = recorder(model);
      const dropped: AdaptiveEvent[] = [];
      const unsubscribe = model.onEvent((event) => dropped.push(event));
      unsubscribe();
      traffic(model, { 'tenant:a': 20 }, 0, 130 * S);
      const factors = traffic(model, { 'tenant:a': 200 }, 130 * S, 133 * S);
      expect(factors['tenant:a']).toBe(0.1);
      expect(events.map((e) => e.kind)).toEqual(['tightened']);
      expect(dropped).toEqual([]);
    });
  });

  describe('options', () => {
    it('has defaults that construct', () => {
      expect(() => new AdaptiveLimits()).not.toThrow();
      expect(new AdaptiveLimits().size).toBe(0);
    });

    it.each<[AdaptiveLimitsOptions, RegExp]>([
      [{ sensitivity: 0 }, /sensitivity must be a number > 0, got 0/],
      [{ sensitivity: Number.NaN }, /sensitivity/],
      [{ slotMs: 0 }, /slotMs must be an integer ≥ 1/],
      [{ slotMs: 1.5 }, /slotMs/],
      [{ minLearningMs: -1 }, /minLearningMs must be a number ≥ 0/],
      [{ tightenFactor: 0 }, /tightenFactor must be a number with 0 < f < 1, got 0/],
      [{ tightenFactor: 1 }, /tightenFactor/],
      [{ tightenFactor: Number.NaN }, /tightenFactor/],
      [{ recoveryMs: -5 }, /recoveryMs must be a number ≥ 0/],
      [{ maxKeys: 0 }, /maxKeys must be an integer ≥ 1/],
      [{ maxKeys: 2.5 }, /maxKeys/],
      [{ baselineMs: 500 }, /baselineMs must be a number ≥ slotMs/],
      [{ fastWindowMs: 100 }, /fastWindowMs must be 1 to 60 slots of 1000 ms, got 100/],
      [{ fastWindowMs: 120_000 }, /fastWindowMs/],
      [{ minRate: -1 }, /minRate must be a number ≥ 0/],
    ])('rejects %j', (options, message) => {
      expect(() => new AdaptiveLimits(options)).toThrow(RangeError);
      expect(() => new AdaptiveLimits(options)).toThrow(message);
    });
  });
});
