import { describe, expect, it } from 'vitest';
import { Rollout, SideWindow, type RolloutSpec } from './rollout';

const SPEC: RolloutSpec = {
  steps: [10, 50, 100],
  intervalMs: 1000,
  maxErrorRate: 0.05,
  maxP99Ratio: 1.5,
  minRequests: 20,
  sticky: false,
};

/** Feeds `count` outcomes of one side, every `failEvery`-th failed (0: none), each taking `ms`. */
function feed(rollout: Rollout, side: 'stable' | 'canary', count: number, ms: number, failEvery = 0, now = 0): void {
  for (let i = 1; i <= count; i++) rollout.record(side, failEvery > 0 && i % failEvery === 0, ms, now);
}

describe(Rollout.name, () => {
  it('advances step by step on healthy intervals and promotes after the last one', () => {
    const rollout = new Rollout(SPEC, 0);
    expect(rollout.percent).toBe(10);
    const kinds: string[] = [];
    for (let t = 1000; t <= 3000; t += 1000) {
      feed(rollout, 'stable', 50, 10);
      feed(rollout, 'canary', 25, 11);
      kinds.push(rollout.tick(t)?.kind ?? 'none');
    }
    expect(kinds).toEqual(['advanced', 'advanced', 'promoted']);
    expect(rollout.state).toBe('promoted');
    expect(rollout.percent).toBe(100);
    expect(rollout.history.map((h) => h.toPercent)).toEqual([10, 50, 100, 100]);
  });

  it('makes no decision before the interval ends', () => {
    const rollout = new Rollout(SPEC, 0);
    feed(rollout, 'canary', 25, 10);
    expect(rollout.tick(999)).toBeUndefined();
    expect(rollout.percent).toBe(10);
  });

  it('stays at the step, keeping the window, while the canary has too few requests', () => {
    const rollout = new Rollout(SPEC, 0);
    feed(rollout, 'canary', 10, 10);
    expect(rollout.tick(1000)).toBeUndefined();
    expect(rollout.percent).toBe(10);
    expect(rollout.canary.requests).toBe(10);
    feed(rollout, 'canary', 10, 10);
    expect(rollout.tick(2000)?.kind).toBe('advanced');
  });

  it('rolls back mid-interval once minRequests are seen and the error rate is over the limit', () => {
    const rollout = new Rollout(SPEC, 0);
    // 1 in 5 fails: the 20th request makes 4/20 = 20 % > 5 % with minRequests met.
    const outcomes = [];
    for (let i = 1; i <= 20; i++) outcomes.push(rollout.record('canary', i % 5 === 0, 10, 100)?.kind);
    expect(outcomes.slice(0, 19).every((kind) => kind === undefined)).toBe(true);
    expect(outcomes[19]).toBe('rolled_back');
    expect(rollout.state).toBe('rolled_back');
    expect(rollout.percent).toBe(0);
    expect(rollout.history.at(-1)?.canary).toMatchObject({ requests: 20, errors: 4 });
  });

  it('rolls back at the interval end when the canary p99 exceeds maxP99Ratio × stable p99', () => {
    const rollout = new Rollout(SPEC, 0);
    feed(rollout, 'stable', 100, 10);
    feed(rollout, 'canary', 30, 40);
    const transition = rollout.tick(1000);
    expect(transition?.kind).toBe('rolled_back');
    expect(transition?.reason).toMatch(/p99/);
  });

  it('judges a blue-green step against the last stable p99 and the absolute error rate', () => {
    const rollout = new Rollout({ ...SPEC, steps: [50, 100] }, 0);
    feed(rollout, 'stable', 50, 10);
    feed(rollout, 'canary', 50, 10);
    expect(rollout.tick(1000)?.kind).toBe('advanced');
    feed(rollout, 'canary', 50, 100);
    expect(rollout.tick(2000)?.kind).toBe('rolled_back');
  });

  it('pauses (no decision), resumes with a fresh window, and refuses actions on a final rollout', () => {
    const rollout = new Rollout(SPEC, 0);
    expect(rollout.pause(10)?.to).toBe('paused');
    feed(rollout, 'canary', 30, 10);
    expect(rollout.tick(5000)).toBeUndefined();
    expect(rollout.percent).toBe(10);
    expect(rollout.resume(5000)?.to).toBe('running');
    expect(rollout.canary.requests).toBe(0);
    expect(rollout.intervalEnd).toBe(6000);
    expect(rollout.abort(5100)?.to).toBe('aborted');
    expect(rollout.percent).toBe(0);
    expect(rollout.promote(5200)).toBeUndefined();
    expect(rollout.resume(5200)).toBeUndefined();
  });

  it('promotes at once on demand', () => {
    const rollout = new Rollout(SPEC, 0);
    const transition = rollout.promote(10, 'promote by admin');
    expect(transition).toMatchObject({ kind: 'promoted', fromPercent: 10, toPercent: 100, reason: 'promote by admin' });
    expect(rollout.live).toBe(false);
  });
});

describe(SideWindow.name, () => {
  it('reports the p99 as a bucket bound within 25 % of the true value, and resets', () => {
    const window = new SideWindow();
    expect(window.p99()).toBeNull();
    for (let i = 1; i <= 1000; i++) window.record(false, i);
    const p99 = window.p99() as number;
    expect(p99).toBeGreaterThanOrEqual(990);
    expect(p99).toBeLessThanOrEqual(990 * 1.25);
    window.reset();
    expect(window.summary()).toEqual({ requests: 0, errors: 0, errorRate: 0, p99Ms: null });
  });
});
