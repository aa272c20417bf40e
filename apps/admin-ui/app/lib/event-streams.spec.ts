import { describe, expect, it, vi } from 'vitest';
import { eventStreams, EventStreams, MAX_STREAMS_PER_PERSON } from './event-streams';

describe(EventStreams.name, () => {
  it('gives each person at most their share, and a place back when a stream ends', () => {
    const streams = new EventStreams(MAX_STREAMS_PER_PERSON);
    const vera = Array.from({ length: MAX_STREAMS_PER_PERSON }, () => streams.acquire('vera', 1000));
    expect(vera.every((ticket) => ticket !== undefined)).toBe(true);
    expect(streams.acquire('vera', 2000)).toBeUndefined();
    // Another person is not held up by vera's streams.
    expect(streams.acquire('otto', 1000)).toBeDefined();
    vera[0]?.release();
    vera[0]?.release();
    expect(streams.count('vera')).toBe(MAX_STREAMS_PER_PERSON - 1);
    expect(streams.acquire('vera', 2000)).toBeDefined();
    expect(streams.acquire('vera', 2000)).toBeUndefined();
    for (const ticket of vera) ticket?.release();
    expect(streams.count('vera')).toBe(1);
  });

  it("ends every stream of a signed-out person's sessions started before the sign-out, and only those", () => {
    const streams = new EventStreams(4);
    const laptop = [streams.acquire('vera', 1000), streams.acquire('vera', 1000)];
    const desktop = streams.acquire('vera', 3000);
    const otto = streams.acquire('otto', 1000);
    expect(streams.endSignedOut('vera', 3000)).toBe(3);
    expect([...laptop, desktop, otto].map((ticket) => ticket?.signal.aborted)).toEqual([true, true, true, false]);
    expect(streams.count('vera')).toBe(0);
    expect(streams.count('otto')).toBe(1);
    // A session started after the sign-out keeps its stream.
    const after = streams.acquire('vera', 3001);
    expect(streams.endSignedOut('vera', 3000)).toBe(0);
    expect(after?.signal.aborted).toBe(false);
    expect(streams.endSignedOut('nobody', 3000)).toBe(0);
  });

  it("ends a stream at its session's absolute timeout", () => {
    vi.useFakeTimers();
    try {
      const streams = new EventStreams(4);
      const ticket = streams.acquire('vera', 1000, 60_000);
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
