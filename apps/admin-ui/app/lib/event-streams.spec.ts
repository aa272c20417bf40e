import { describe, expect, it, vi } from 'vitest';
import { eventStreams, EventStreams, MAX_STREAMS_PER_PERSON } from './event-streams';

describe(EventStreams.name, () => {
  it('gives each person at most their share, and a place back when a stream ends', () => {
    const streams = new EventStreams(MAX_STREAMS_PER_PERSON);
    const vera = Array.from({ length: MAX_STREAMS_PER_PERSON }, () => streams.acquire('vera', 'v1'));
    expect(vera.every((ticket) => ticket !== undefined)).toBe(true);
    expect(streams.acquire('vera', 'v2')).toBeUndefined();
    // Another person is not held up by vera's streams.
    expect(streams.acquire('otto', 'o1')).toBeDefined();
    vera[0]?.release();
    vera[0]?.release();
    expect(streams.count('vera')).toBe(MAX_STREAMS_PER_PERSON - 1);
    expect(streams.acquire('vera', 'v2')).toBeDefined();
    expect(streams.acquire('vera', 'v2')).toBeUndefined();
    for (const ticket of vera) ticket?.release();
    expect(streams.count('vera')).toBe(1);
  });

  it("ends a signed-out session's streams and only those", () => {
    const streams = new EventStreams(4);
    const a = streams.acquire('vera', 'laptop');
    const b = streams.acquire('vera', 'laptop');
    const c = streams.acquire('vera', 'desktop');
    expect(streams.endSession('laptop')).toBe(2);
    expect([a?.signal.aborted, b?.signal.aborted, c?.signal.aborted]).toEqual([true, true, false]);
    expect(streams.count('vera')).toBe(1);
    expect(streams.endSession('laptop')).toBe(0);
  });

  it("ends a stream at its session's absolute timeout", () => {
    vi.useFakeTimers();
    try {
      const streams = new EventStreams(4);
      const ticket = streams.acquire('vera', 's', 60_000);
      vi.advanceTimersByTime(59_999);
      expect(ticket?.signal.aborted).toBe(false);
      vi.advanceTimersByTime(1);
      expect(ticket?.signal.aborted).toBe(true);
      ticket?.release();
      expect(streams.count('vera')).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });

  it('is one record per process, whichever bundle asks', () => {
    expect(eventStreams()).toBe(eventStreams());
    expect(eventStreams().perPerson).toBe(MAX_STREAMS_PER_PERSON);
  });
});
