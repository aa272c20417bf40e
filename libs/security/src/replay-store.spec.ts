import { randomBytes } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { MemoryReplayStore, ReplayCapacityError } from './replay-store';

/** The error a refused `firstSeen` throws, or undefined when it answered. */
function refusal(run: () => unknown): ReplayCapacityError | undefined {
  try {
    run();
    return undefined;
  } catch (error) {
    if (error instanceof ReplayCapacityError) return error;
    throw error;
  }
}

describe(MemoryReplayStore.name, () => {
  it('answers true once per key within the ttl and again after it expires', () => {
    const store = new MemoryReplayStore();
    expect(store.firstSeen('n1', 1000, 0)).toBe(true);
    expect(store.firstSeen('n1', 1000, 999)).toBe(false);
    expect(store.firstSeen('n2', 1000, 999)).toBe(true);
    expect(store.firstSeen('n1', 1000, 1000)).toBe(true);
  });

  it('remembers a key at least its ttl and less than ttl + one window', () => {
    const store = new MemoryReplayStore({ windowMs: 1000 });
    expect(store.firstSeen('k', 5000, 10_400)).toBe(true);
    expect(store.firstSeen('k', 5000, 15_399)).toBe(false);
    expect(store.firstSeen('k', 5000, 15_999)).toBe(false);
    expect(store.firstSeen('k', 5000, 16_000)).toBe(true);
  });

  it('drops expired keys bucket by bucket as time passes, so memory stays bounded by the window', () => {
    const store = new MemoryReplayStore({ windowMs: 1 });
    for (let i = 0; i < 1000; i++) store.firstSeen(`k${i}`, 10, i);
    expect(store.size).toBeLessThanOrEqual(11);
    // After a long quiet spell, one check drops everything at once.
    expect(store.firstSeen('late', 10, 10_000_000)).toBe(true);
    expect(store.size).toBe(1);
  });

  it('gives each client a share: the client at its share is refused, every other client is still served', () => {
    const store = new MemoryReplayStore({ maxKeys: 1000, clientShare: 0.1 });
    expect(store.clientMax).toBe(100);
    for (let i = 0; i < 100; i++) expect(store.firstSeen(`flood-${i}`, 60_000, 0, '203.0.113.9')).toBe(true);
    const refused = refusal(() => store.firstSeen('flood-100', 60_000, 0, '203.0.113.9'));
    expect(refused).toMatchObject({ code: 'replay_quota_exceeded' });
    expect(refused?.retryAfterMs).toBe(60_000);
    // A replay is still a replay, even from a client at its share.
    expect(store.firstSeen('flood-7', 60_000, 0, '203.0.113.9')).toBe(false);
    expect(store.firstSeen('someone-else', 60_000, 0, '198.51.100.1')).toBe(true);
    expect(store.heldBy('203.0.113.9')).toBe(100);
    // Once its keys expire, the client is served again.
    expect(store.firstSeen('flood-101', 60_000, 60_000, '203.0.113.9')).toBe(true);
    expect(store.heldBy('203.0.113.9')).toBe(1);
  });

  it('refuses everyone only when the store is full, which takes 1 / share clients at their share', () => {
    const store = new MemoryReplayStore({ maxKeys: 1000, clientShare: 0.25 });
    for (let c = 0; c < 4; c++) {
      for (let i = 0; i < 250; i++) expect(store.firstSeen(`c${c}-${i}`, 10_000, 500, `10.0.0.${c}`)).toBe(true);
    }
    const full = refusal(() => store.firstSeen('newcomer', 10_000, 500, '10.0.0.99'));
    expect(full).toMatchObject({ code: 'replay_store_full' });
    expect(full?.retryAfterMs).toBe(10_500);
    expect(store.size).toBe(1000);
    expect(store.firstSeen('newcomer', 10_000, 11_000, '10.0.0.99')).toBe(true);
  });

  it('counts keys without a client toward the total but never refuses them for a share', () => {
    const store = new MemoryReplayStore({ maxKeys: 1000, clientShare: 0.01 });
    for (let i = 0; i < 1000; i++) expect(store.firstSeen(`anon-${i}`, 1000, 0)).toBe(true);
    expect(refusal(() => store.firstSeen('one-more', 1000, 0))).toMatchObject({ code: 'replay_store_full' });
  });

  it('spreads a store larger than one Set over several', () => {
    const store = new MemoryReplayStore({ maxKeys: 20_000_000 });
    for (let i = 0; i < 1000; i++) expect(store.firstSeen(`k${i}`, 1000, 0, 'c')).toBe(true);
    for (let i = 0; i < 1000; i++) expect(store.firstSeen(`k${i}`, 1000, 1, 'c')).toBe(false);
    expect(store.firstSeen('k0', 1000, 1000, 'c')).toBe(true);
    expect(store.size).toBe(1);
  });

  it('rejects nonsensical options', () => {
    expect(() => new MemoryReplayStore({ maxKeys: 0 })).toThrow(/maxKeys/);
    expect(() => new MemoryReplayStore({ clientShare: 0 })).toThrow(/clientShare/);
    expect(() => new MemoryReplayStore({ clientShare: 1.5 })).toThrow(/clientShare/);
    expect(() => new MemoryReplayStore({ windowMs: 0.5 })).toThrow(/windowMs/);
  });

  it('holds a key in well under 150 bytes of heap', () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const settle = () => {
      gc();
      gc();
      return process.memoryUsage().heapUsed;
    };
    const keys = Array.from({ length: 200_000 }, () => `dpop:${randomBytes(32).toString('base64url')}`);
    const store = new MemoryReplayStore();
    const before = settle();
    for (let i = 0; i < keys.length; i++) store.firstSeen(keys[i], 121_000, i >> 4, `10.0.${i & 255}.1`);
    const perKey = (settle() - before) / keys.length;
    expect(store.size).toBe(keys.length);
    expect(perKey).toBeGreaterThan(0);
    expect(perKey).toBeLessThan(150);
  });
});
