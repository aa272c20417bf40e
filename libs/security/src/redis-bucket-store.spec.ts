import { describe, expect, it } from 'vitest';
import { RedisBucketStore, type RedisScriptingClient } from './redis-bucket-store';

/** A client whose script calls are recorded and answered by `answer` (the real script runs in the e2e tests). */
function fakeClient(answer: (keys: string[], args: (string | number)[]) => Promise<unknown>) {
  const calls: { keys: string[]; args: (string | number)[] }[] = [];
  const client: RedisScriptingClient & Record<string, unknown> = {
    defineCommand(name: string) {
      client[name] = (keyCount: number, ...rest: (string | number)[]) => {
        const call = { keys: rest.slice(0, keyCount) as string[], args: rest.slice(keyCount) };
        calls.push(call);
        return answer(call.keys, call.args);
      };
    },
  };
  return { client, calls };
}

/** Answers every bucket of every group with a granted token (remaining = its index in the call). */
const grantAll = (_keys: string[], args: (string | number)[]): Promise<unknown> => {
  const out: number[] = [];
  let bucket = 0;
  for (let a = 0; a < args.length;) {
    const n = Number(args[a]);
    out.push(n);
    for (let j = 0; j < n; j++) out.push(1, bucket++, 60_000, 0);
    a += 1 + 2 * n;
  }
  return Promise.resolve(out);
};

const ip = (key: string) => ({ key: `ip:${key}`, ratePerMinute: 60, burst: 60 });
const tenant = (key: string) => ({ key: `tenant:${key}`, ratePerMinute: 600, burst: 600 });

describe('RedisBucketStore batching', () => {
  it('sends the takes asked for in one turn of the event loop as one script call, and hands each its results', async () => {
    const { client, calls } = fakeClient(grantAll);
    const store = new RedisBucketStore(client);
    const [first, second, single] = await Promise.all([
      store.takeAll([ip('a'), tenant('x')]),
      store.takeAll([ip('b'), tenant('y')]),
      store.take('ip:c', 60, 60),
    ]);
    expect(calls).toHaveLength(1);
    expect(calls[0].keys).toEqual([
      'shieldx:rl:ip:a',
      'shieldx:rl:tenant:x',
      'shieldx:rl:ip:b',
      'shieldx:rl:tenant:y',
      'shieldx:rl:ip:c',
    ]);
    expect(calls[0].args).toEqual([2, 60, 60, 600, 600, 2, 60, 60, 600, 600, 1, 60, 60]);
    expect(first.map((r) => r.remaining)).toEqual([0, 1]);
    expect(second.map((r) => r.remaining)).toEqual([2, 3]);
    expect(single).toEqual({ ok: true, remaining: 4, resetMs: 60_000, retryAfterMs: 0 });
  });

  it('gives a take that stopped at a refusal only the buckets tried', async () => {
    // The first group is refused at its first bucket; the second passes both.
    const { client } = fakeClient(() => Promise.resolve([1, 0, 0, 60_000, 1000, 2, 1, 5, 1000, 0, 1, 7, 100, 0]));
    const store = new RedisBucketStore(client);
    const [refused, passed] = await Promise.all([
      store.takeAll([ip('a'), tenant('x')]),
      store.takeAll([ip('b'), tenant('x')]),
    ]);
    expect(refused).toEqual([{ ok: false, remaining: 0, resetMs: 60_000, retryAfterMs: 1000 }]);
    expect(passed.map((r) => [r.ok, r.remaining])).toEqual([
      [true, 5],
      [true, 7],
    ]);
  });

  it('sends a batch at once when batchMost buckets wait, without waiting for the turn to end', async () => {
    const { client, calls } = fakeClient(grantAll);
    const store = new RedisBucketStore(client, { batchMost: 4 });
    const pending = [1, 2, 3, 4, 5].map((i) => store.takeAll([ip(`${i}`), tenant('x')]));
    // Two full batches went out synchronously; the fifth take waits for the end of the turn.
    expect(calls.map((call) => call.keys.length)).toEqual([4, 4]);
    await Promise.all(pending);
    expect(calls.map((call) => call.keys.length)).toEqual([4, 4, 2]);
  });

  it('with batchMost 1 sends every take on its own', async () => {
    const { client, calls } = fakeClient(grantAll);
    const store = new RedisBucketStore(client, { batchMost: 1 });
    await Promise.all([store.takeAll([ip('a'), tenant('x')]), store.take('ip:b', 60, 60)]);
    expect(calls.map((call) => call.keys)).toEqual([['shieldx:rl:ip:a', 'shieldx:rl:tenant:x'], ['shieldx:rl:ip:b']]);
  });

  it('fails every take of a batch whose call fails, and only those', async () => {
    let call = 0;
    const { client } = fakeClient((keys, args) =>
      ++call === 1 ? Promise.reject(new Error('timeout')) : grantAll(keys, args),
    );
    const store = new RedisBucketStore(client);
    const failed = [store.takeAll([ip('a'), tenant('x')]), store.take('ip:b', 60, 60)];
    await expect(failed[0]).rejects.toThrow('timeout');
    await expect(failed[1]).rejects.toThrow('timeout');
    await expect(store.take('ip:c', 60, 60)).resolves.toMatchObject({ ok: true });
  });

  it('fails every take of a batch on a reply of the wrong shape', async () => {
    const replies: unknown[] = [
      'OK',
      [],
      [2, 1, 0, 1, 0], // says two buckets were tried but carries one
      [1, 1, 0, 1, 0, 9], // a number left over
      [0], // a take of one bucket that tried none
      [3, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0], // more buckets tried than asked
      [1, 1, '0', 1, 0], // not a number
    ];
    for (const reply of replies) {
      const { client } = fakeClient(() => Promise.resolve(reply));
      const store = new RedisBucketStore(client);
      await expect(store.take('ip:a', 60, 60), JSON.stringify(reply)).rejects.toThrow(/unexpected reply/);
    }
  });

  it('fails a take with a rate or size the script would refuse alone, without sending it', async () => {
    const { client, calls } = fakeClient(grantAll);
    const store = new RedisBucketStore(client);
    const good = store.takeAll([ip('a'), tenant('x')]);
    for (const [rate, burst] of [
      [0, 10],
      [Number.NaN, 10],
      [60, 0],
      [60, Number.POSITIVE_INFINITY],
    ]) {
      await expect(store.take('ip:b', rate, burst)).rejects.toThrow(/needs a rate > 0 and a size/);
    }
    expect((await good).map((r) => r.ok)).toEqual([true, true]);
    expect(calls).toHaveLength(1);
    expect(calls[0].keys).toEqual(['shieldx:rl:ip:a', 'shieldx:rl:tenant:x']);
  });

  it('fails the batch, and does not leave it waiting, when its reply cannot be read', async () => {
    const cyclic: unknown[] = [];
    cyclic.push(cyclic); // JSON.stringify throws on it while the error is being described
    const { client } = fakeClient(() => Promise.resolve(cyclic));
    const store = new RedisBucketStore(client);
    await expect(store.take('ip:a', 60, 60)).rejects.toThrow();
  });

  it('refuses a batch size that is not a positive integer', () => {
    const { client } = fakeClient(grantAll);
    for (const batchMost of [0, -1, 1.5, Number.NaN]) {
      expect(() => new RedisBucketStore(client, { batchMost })).toThrow(/batchMost/);
    }
  });
});
