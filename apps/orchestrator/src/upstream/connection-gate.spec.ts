import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ConnectionGate } from './connection-gate';

const B = 'http://127.0.0.1:1';
const OTHER = 'http://127.0.0.1:2';

/** A gate whose handed-over slots resume at once (the real one defers to the next turn of the event loop). */
function gate(capacity = 2, perClient = 1, queueTimeoutMs = 5000): ConnectionGate {
  return new ConnectionGate({ capacity, perClient, queueTimeoutMs }, (run) => run());
}

describe(ConnectionGate.name, () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });

  afterEach(() => {
    vi.useRealTimers();
  });

  it('admits up to the capacity, then queues; a slot given back goes to the longest waiter', async () => {
    const g = gate(2, 5);
    expect(g.enter(B, 'a')).toBe('admitted');
    expect(g.enter(B, 'b')).toBe('admitted');
    expect(g.enter(B, 'c')).toBe('full');
    const first = g.wait(B, 'c');
    expect(g.enter(B, 'd')).toBe('full');
    const second = g.wait(B, 'd');
    expect(g.usage(B)).toMatchObject({ inUse: 2, waiting: 2 });
    g.leave(B, 'a');
    await expect(first.admitted).resolves.toBe(true);
    expect(g.usage(B)).toMatchObject({ inUse: 2, waiting: 1 });
    g.leave(B, 'b');
    await expect(second.admitted).resolves.toBe(true);
    g.leave(B, 'c');
    g.leave(B, 'd');
    expect(g.usage(B)).toEqual({ inUse: 0, waiting: 0, client: 0 });
  });

  it('ends a wait after the queue timeout, counting nothing against the client afterwards', async () => {
    const g = gate(1, 1, 5000);
    expect(g.enter(B, 'a')).toBe('admitted');
    expect(g.enter(B, 'b')).toBe('full');
    const waiting = g.wait(B, 'b');
    vi.advanceTimersByTime(4999);
    expect(g.usage(B, 'b')).toMatchObject({ waiting: 1, client: 1 });
    vi.advanceTimersByTime(1);
    await expect(waiting.admitted).resolves.toBe(false);
    expect(g.usage(B, 'b')).toEqual({ inUse: 1, waiting: 0, client: 0 });
    g.leave(B, 'a');
    expect(g.usage(B)).toEqual({ inUse: 0, waiting: 0, client: 0 });
  });

  it('lets a waiter cancel (its client left), and skips it when a slot frees', async () => {
    const g = gate(1, 1);
    g.enter(B, 'a');
    g.enter(B, 'b');
    const gone = g.wait(B, 'b');
    g.enter(B, 'c');
    const next = g.wait(B, 'c');
    gone.cancel();
    await expect(gone.admitted).resolves.toBe(false);
    g.leave(B, 'a');
    await expect(next.admitted).resolves.toBe(true);
    expect(g.usage(B, 'b')).toEqual({ inUse: 1, waiting: 0, client: 0 });
  });

  it('refuses a client beyond its share of one backend, queued places included, but not on another backend', () => {
    const g = gate(4, 2);
    expect(g.enter(B, 'greedy')).toBe('admitted');
    expect(g.enter(B, 'greedy')).toBe('admitted');
    expect(g.enter(B, 'greedy')).toBe('over_share');
    expect(g.enter(B, 'other')).toBe('admitted');
    expect(g.enter(OTHER, 'greedy')).toBe('admitted');
    g.leave(B, 'greedy');
    expect(g.enter(B, 'greedy')).toBe('admitted');

    const full = gate(1, 2);
    full.enter(B, 'x');
    expect(full.enter(B, 'x')).toBe('full');
    full.wait(B, 'x');
    expect(full.enter(B, 'x')).toBe('over_share');
  });

  it('keeps no per-client entry once a client holds nothing', () => {
    const g = gate(2, 2);
    for (let i = 0; i < 1000; i++) {
      const client = `10.0.${i >> 8}.${i & 255}`;
      g.enter(B, client);
      g.leave(B, client);
    }
    expect(g.usage(B)).toEqual({ inUse: 0, waiting: 0, client: 0 });
    expect(
      (g as unknown as { backends: Map<string, { clients: Map<string, number> }> }).backends.get(B)?.clients.size,
    ).toBe(0);
  });
});
