import { describe, expect, it } from 'vitest';
import { FailoverReplayStore, ReplayStoreUnavailableError } from './failover-replay-store';
import { RedisReplayStore, type RedisSetClient } from './redis-replay-store';
import { MemoryReplayStore, type ReplayStore } from './replay-store';

/** A fake shared store (Redis cannot be switched off inside a unit test): answers like SET NX until `down`. */
class FakeSharedStore implements ReplayStore {
  down = false;
  readonly keys = new Set<string>();

  firstSeen(key: string): Promise<boolean> {
    if (this.down) return Promise.reject(new Error('Connection is closed.'));
    const first = !this.keys.has(key);
    this.keys.add(key);
    return Promise.resolve(first);
  }
}

describe(FailoverReplayStore.name, () => {
  it('answers from the shared store while it works', async () => {
    const shared = new FakeSharedStore();
    const store = new FailoverReplayStore(shared);
    expect(await store.firstSeen('a', 1000, 0)).toBe(true);
    expect(await store.firstSeen('a', 1000, 0)).toBe(false);
    // Another instance (another wrapper) on the same shared store sees the key too.
    expect(await new FailoverReplayStore(shared).firstSeen('a', 1000, 0)).toBe(false);
  });

  it('fails closed by default: a shared-store failure rejects, and is reported', async () => {
    const shared = new FakeSharedStore();
    const errors: unknown[] = [];
    const store = new FailoverReplayStore(shared, { onError: (e) => errors.push(e) });
    shared.down = true;
    await expect(store.firstSeen('a', 1000, 0)).rejects.toBeInstanceOf(ReplayStoreUnavailableError);
    expect(errors).toHaveLength(1);
    shared.down = false;
    expect(await store.firstSeen('a', 1000, 0)).toBe(true);
  });

  it('treats a synchronous throw like a rejection', async () => {
    const throwing: ReplayStore = {
      firstSeen: () => {
        throw new Error('boom');
      },
    };
    expect(() => new FailoverReplayStore(throwing).firstSeen('a', 1000, 0)).toThrow(ReplayStoreUnavailableError);
    expect(await new FailoverReplayStore(throwing, { mode: 'open' }).firstSeen('a', 1000, 0)).toBe(true);
  });

  it('fails open to its in-process record: replays this instance saw are still refused', async () => {
    const shared = new FakeSharedStore();
    const store = new FailoverReplayStore(shared, { mode: 'open', local: new MemoryReplayStore() });
    expect(await store.firstSeen('seen-before', 1000, 0)).toBe(true);
    shared.down = true;
    expect(await store.firstSeen('seen-before', 1000, 1)).toBe(false);
    expect(await store.firstSeen('new', 1000, 1)).toBe(true);
    expect(await store.firstSeen('new', 1000, 2)).toBe(false);
  });

  it('passes the client on, and lets the shared store decide while it works even if the local share is used up', async () => {
    const clients: (string | undefined)[] = [];
    const shared: ReplayStore = {
      firstSeen: (_key, _ttl, _now, client) => {
        clients.push(client);
        return Promise.resolve(true);
      },
    };
    const local = new MemoryReplayStore({ maxKeys: 1000, clientShare: 0.001 });
    const store = new FailoverReplayStore(shared, { mode: 'open', local });
    expect(await store.firstSeen('a', 1000, 0, '10.0.0.1')).toBe(true);
    expect(await store.firstSeen('b', 1000, 0, '10.0.0.1')).toBe(true);
    expect(clients).toEqual(['10.0.0.1', '10.0.0.1']);
    expect(local.heldBy('10.0.0.1')).toBe(1);
  });

  it('in open mode during an outage, refuses with the local capacity error rather than forgetting', async () => {
    const shared = new FakeSharedStore();
    const local = new MemoryReplayStore({ maxKeys: 1000, clientShare: 0.001 });
    const store = new FailoverReplayStore(shared, { mode: 'open', local });
    shared.down = true;
    expect(await store.firstSeen('a', 1000, 0, '10.0.0.1')).toBe(true);
    await expect(store.firstSeen('b', 1000, 0, '10.0.0.1')).rejects.toMatchObject({ code: 'replay_quota_exceeded' });
    expect(await store.firstSeen('b', 1000, 0, '10.0.0.2')).toBe(true);
  });

  it('refuses an unknown mode', () => {
    expect(() => new FailoverReplayStore(new FakeSharedStore(), { mode: 'maybe' as 'open' })).toThrow(/mode/);
  });
});

describe(RedisReplayStore.name, () => {
  /** Records the command; answers like Redis would for SET … NX. */
  class RecordingClient implements RedisSetClient {
    readonly calls: unknown[][] = [];
    private readonly keys = new Set<string>();
    set(key: string, value: string, px: 'PX', ttlMs: number, nx: 'NX'): Promise<'OK' | null> {
      this.calls.push([key, value, px, ttlMs, nx]);
      if (this.keys.has(key)) return Promise.resolve(null);
      this.keys.add(key);
      return Promise.resolve('OK');
    }
  }

  it('sends SET <prefix><key> 1 PX <ttl> NX and reads OK/null as first/repeat', async () => {
    const client = new RecordingClient();
    const store = new RedisReplayStore(client);
    expect(await store.firstSeen('dpop:abc', 121_000.4)).toBe(true);
    expect(await store.firstSeen('dpop:abc', 121_000)).toBe(false);
    expect(client.calls[0]).toEqual(['shieldx:replay:dpop:abc', '1', 'PX', 121_001, 'NX']);
    const custom = new RedisReplayStore(client, { prefix: 'x:' });
    await custom.firstSeen('k', 5);
    expect(client.calls[2][0]).toBe('x:k');
  });

  it('rejects on an unexpected reply', async () => {
    const odd: RedisSetClient = { set: () => Promise.resolve('QUEUED' as 'OK') };
    await expect(new RedisReplayStore(odd).firstSeen('k', 5)).rejects.toThrow(/unexpected reply/);
  });
});
