import { describe, expect, it } from 'vitest';
import { EventGuard, type GuardedEntry, type GuardTimers, SUPPRESSED_TYPE } from './event-guard';

/**
 * A clock and timers advanced by hand: `advance(ms)` runs every timer that falls due, in order. Timers run on their own
 * (monotonic) timeline, as Node's do; `stepWall(ms)` moves only the wall clock `now()` reads, as an NTP step does.
 */
function manualTime(start = Date.parse('2030-01-01T00:00:00.000Z')) {
  let now = start;
  let wallOffset = 0;
  let nextId = 1;
  const pending = new Map<number, { at: number; callback: () => void }>();
  const timers: GuardTimers = {
    setTimeout: (callback, ms) => {
      const id = nextId++;
      pending.set(id, { at: now + ms, callback });
      return id;
    },
    clearTimeout: (handle) => void pending.delete(handle as number),
  };
  const advance = (ms: number): void => {
    const until = now + ms;
    for (;;) {
      const due = [...pending.entries()].filter(([, t]) => t.at <= until).sort((a, b) => a[1].at - b[1].at)[0];
      if (due === undefined) break;
      pending.delete(due[0]);
      now = due[1].at;
      due[1].callback();
    }
    now = until;
  };
  const stepWall = (ms: number): void => void (wallOffset += ms);
  return { now: () => now + wallOffset, timers, advance, pending, stepWall };
}

function setup(windowMs: number, maxPerTypePerSecond: number) {
  const time = manualTime();
  const written: GuardedEntry[] = [];
  const counts = { written: 0, aggregated: 0, suppressed: 0 };
  const guard = new EventGuard({
    windowMs,
    maxPerTypePerSecond,
    now: time.now,
    timers: time.timers,
    write: (entry) => written.push(entry),
    count: (outcome, events) => (counts[outcome] += events),
  });
  return { guard, written, counts, time };
}

const deny = (path: string, corrId: string): GuardedEntry => ({
  type: 'policy.deny',
  corrId,
  data: { service: 'api', tenant: 'acme', path, reason: 'internal' },
});

describe(EventGuard.name, () => {
  it('writes the first of identical events at once and one entry with the count when the window ends', () => {
    const { guard, written, counts, time } = setup(10_000, 1000);
    guard.offer(deny('/internal/a', 'c1'));
    expect(written).toEqual([deny('/internal/a', 'c1')]);
    for (let i = 2; i <= 50; i++) {
      time.advance(100);
      guard.offer(deny('/internal/a', `c${i}`));
    }
    expect(written).toHaveLength(1);
    expect(counts).toEqual({ written: 1, aggregated: 49, suppressed: 0 });
    time.advance(10_000);
    expect(written).toHaveLength(2);
    expect(written[1]).toEqual({
      type: 'policy.deny',
      corrId: 'c50',
      data: {
        service: 'api',
        tenant: 'acme',
        path: '/internal/a',
        reason: 'internal',
        repeated: {
          count: 49,
          firstAt: '2030-01-01T00:00:00.100Z',
          lastAt: '2030-01-01T00:00:04.900Z',
          windowMs: 10_000,
          lastCorrId: 'c50',
        },
      },
    });
    // A quiet window closes without an entry, and the next occurrence is written on its own again.
    time.advance(20_000);
    expect(written).toHaveLength(2);
    expect(guard.pendingAggregates).toBe(0);
    guard.offer(deny('/internal/a', 'late'));
    expect(written.at(-1)).toEqual(deny('/internal/a', 'late'));
  });

  it('still closes a window within one window when the wall clock steps back an hour', () => {
    const { guard, written, time } = setup(10_000, 1000);
    guard.offer(deny('/internal/a', 'c1'));
    time.advance(100);
    guard.offer(deny('/internal/a', 'c2'));
    time.stepWall(-3_600_000);
    guard.offer(deny('/internal/a', 'c3'));
    time.advance(10_000);
    expect(written).toHaveLength(2);
    expect(written[1]?.data).toMatchObject({ repeated: { count: 2, lastCorrId: 'c3' } });
  });

  it('keeps a steady flood of one event to one entry per window', () => {
    const { guard, written, time } = setup(1000, 1000);
    for (let i = 0; i < 10_000; i++) {
      guard.offer(deny('/internal/a', `c${i}`));
      time.advance(1);
    }
    // 10 s of flood: the first event, then one repeat entry per 1 s window.
    expect(written.length).toBeGreaterThanOrEqual(10);
    expect(written.length).toBeLessThanOrEqual(11);
    const repeated = written.slice(1).map((e) => (e.data.repeated as { count: number }).count);
    expect(repeated.reduce((a, b) => a + b, 0) + 1).toBeLessThanOrEqual(10_000);
    guard.flush();
    const all = written.slice(1).map((e) => (e.data.repeated as { count: number }).count);
    expect(all.reduce((a, b) => a + b, 0) + 1).toBe(10_000);
  });

  it('tells events apart by their data, not by their correlation id', () => {
    const { guard, written } = setup(10_000, 1000);
    guard.offer(deny('/internal/a', 'c1'));
    guard.offer(deny('/internal/b', 'c2'));
    guard.offer(deny('/internal/a', 'c3'));
    expect(written.map((e) => e.corrId)).toEqual(['c1', 'c2']);
  });

  it('never aggregates configuration changes', () => {
    const { guard, written } = setup(10_000, 1000);
    const reload: GuardedEntry = { type: 'policy.reloaded', corrId: null, data: { result: 'success', version: 2 } };
    guard.offer(reload);
    guard.offer(reload);
    expect(written).toHaveLength(2);
  });

  it('caps each type per second and summarises the rest in one audit.suppressed entry', () => {
    const { guard, written, counts, time } = setup(10_000, 5);
    for (let i = 0; i < 20; i++) guard.offer(deny(`/internal/${i}`, `c${i}`));
    guard.offer({ type: 'auth.failed', corrId: 'x', data: { mechanism: 'admission', reason: 'bad_mac' } });
    expect(written.map((e) => e.type)).toEqual([...Array<string>(5).fill('policy.deny'), 'auth.failed']);
    expect(counts.suppressed).toBe(15);
    time.advance(1000);
    expect(written.at(-1)).toEqual({
      type: SUPPRESSED_TYPE,
      corrId: null,
      data: {
        from: '2030-01-01T00:00:00.000Z',
        to: '2030-01-01T00:00:01.000Z',
        maxPerTypePerSecond: 5,
        counts: { 'policy.deny': 15 },
      },
    });
    // The next second has its own allowance.
    guard.offer(deny('/internal/next', 'n'));
    expect(written.at(-1)?.corrId).toBe('n');
  });

  it('with aggregation off, writes every event up to the cap', () => {
    const { guard, written } = setup(0, 1000);
    for (let i = 0; i < 3; i++) guard.offer(deny('/internal/a', `c${i}`));
    expect(written).toHaveLength(3);
  });

  it('flush writes pending aggregates and the suppressed summary and leaves no timer behind', () => {
    const { guard, written, time } = setup(10_000, 1);
    guard.offer(deny('/internal/a', 'c1'));
    guard.offer(deny('/internal/a', 'c2'));
    guard.offer(deny('/internal/b', 'c3'));
    guard.flush();
    expect(written.map((e) => e.type)).toEqual(['policy.deny', SUPPRESSED_TYPE]);
    expect(written[1].data.counts).toEqual({ 'policy.deny': 2 });
    expect(time.pending.size).toBe(0);
  });

  it('refuses data without a JSON form and bad options', () => {
    const { guard } = setup(10_000, 1);
    expect(() => guard.offer({ type: 'policy.deny', corrId: null, data: { n: 1n } })).toThrow(/bigint/);
    expect(() => new EventGuard({ windowMs: -1, maxPerTypePerSecond: 1, now: Date.now, write: () => {} })).toThrow(
      /windowMs/,
    );
    expect(() => new EventGuard({ windowMs: 0, maxPerTypePerSecond: 0, now: Date.now, write: () => {} })).toThrow(
      /maxPerTypePerSecond/,
    );
  });
});
