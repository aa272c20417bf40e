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

  it('previews without client traffic, then switches to the first step when the preview passes', () => {
    const rollout = new Rollout({ ...SPEC, steps: [100], preview: true }, 0);
    expect(rollout).toMatchObject({ phase: 'preview', previewing: true, percent: 0 });
    expect(rollout.history[0]).toMatchObject({ kind: 'started', toPercent: 0, phase: 'preview' });
    feed(rollout, 'stable', 25, 10);
    feed(rollout, 'canary', 25, 11);
    const transition = rollout.tick(1000);
    expect(transition).toMatchObject({ kind: 'previewed', fromPercent: 0, toPercent: 100, phase: 'traffic' });
    expect(rollout).toMatchObject({ phase: 'traffic', previewing: false, percent: 100, state: 'running' });
    // Stable has no traffic now: the preview's stable p99 is the reference.
    feed(rollout, 'canary', 25, 100);
    expect(rollout.tick(2000)?.reason).toMatch(/^canary p99 .* over 1\.5 × stable/);
  });

  it('rolls a failing preview back, saying so, without the canary ever having had a share', () => {
    const rollout = new Rollout({ ...SPEC, steps: [100], preview: true }, 0);
    let transition;
    for (let i = 1; i <= 20 && transition === undefined; i++) transition = rollout.record('canary', i % 2 === 0, 10, 5);
    expect(transition).toMatchObject({ kind: 'rolled_back', toPercent: 0, phase: 'preview' });
    expect(transition?.reason).toMatch(/^preview: canary error rate/);
    expect(rollout.history.every((h) => h.toPercent === 0)).toBe(true);
  });

  it('judges summed windows when given, and carries a snapshot on (restored with a fresh interval)', () => {
    const rollout = new Rollout(SPEC, 0);
    feed(rollout, 'canary', 5, 10);
    const stable = new SideWindow();
    const canary = new SideWindow();
    canary.add(rollout.canary.counts());
    const other = new SideWindow();
    for (let i = 0; i < 15; i++) other.record(false, 10);
    canary.add(other.counts());
    expect(canary.requests).toBe(20);
    expect(rollout.tick(1000)).toBeUndefined();
    expect(rollout.tick(2000, { stable, canary })).toMatchObject({ kind: 'advanced', canary: { requests: 20 } });
    const copy = new Rollout(SPEC, 9_999, rollout.snapshot());
    expect(copy).toMatchObject({ state: 'running', percent: 50, window: rollout.window });
    expect(copy.history).toEqual(rollout.history);
    expect(copy.restored(5000, 'after a restart')).toMatchObject({ kind: 'restored', from: 'running', to: 'running' });
    expect(copy.intervalEnd).toBe(6000);
    expect(copy.window).toBe(rollout.window + 1);
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
