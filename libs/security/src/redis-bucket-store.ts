import type { BucketResult, BucketStore, BucketTake } from './bucket-store';

/**
 * The token bucket as one Lua script, run atomically by Redis, so no read-modify-write race exists between
 * instances. The arithmetic is MemoryBucketStore's, step for step (same results for the same state and elapsed
 * time); only the clock differs: `TIME` on the Redis server, in microseconds, so instances with skewed clocks agree.
 *
 * One call serves several groups of takes (the {@link BucketStore.takeAll} calls gathered into one batch), in order.
 * KEYS: the buckets of every group, one after the other; each a hash {t: tokens (fractional), u: last update (µs
 * since the epoch)}. ARGV, per group: its number of buckets n, then n pairs of tokens per minute (> 0) and size (≥ 1).
 * Within a group, takes one token from each bucket in order and stops at the first refusal (tokens taken before it
 * stay taken). Returns, per group, the number m of buckets tried, then per bucket tried {ok (1/0), remaining whole
 * tokens, ms until full, ms until one token (0 when ok)}, all flattened.
 *
 * Each key expires once its bucket would be full again (plus a second): a missing key reads as a full bucket, which
 * is exactly the state it would have refilled to, so idle buckets cost no memory and nothing is lost.
 * Numbers are written with `%.17g` (exact round trip of a double): Lua's default `tostring` keeps 14 digits, which
 * would round a microsecond timestamp (16 digits).
 */
export const TAKE_TOKEN_LUA = `
if redis.replicate_commands then redis.replicate_commands() end
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local out = {}
local k = 1
local a = 1
while a <= #ARGV do
  local n = tonumber(ARGV[a])
  a = a + 1
  local tried_at = #out + 1
  out[tried_at] = 0
  local refused = false
  for j = 1, n do
    if not refused then
      local rate = tonumber(ARGV[a])
      local burst = tonumber(ARGV[a + 1])
      local per_ms = rate / 60000
      local state = redis.call('HMGET', KEYS[k], 't', 'u')
      local tokens = tonumber(state[1])
      local updated = tonumber(state[2])
      if tokens == nil or updated == nil then
        tokens = burst
        updated = now
      elseif now > updated then
        tokens = math.min(burst, tokens + ((now - updated) / 1000) * per_ms)
        updated = now
      elseif now < updated then
        updated = now
      end
      local ok = 0
      if tokens >= 1 then
        tokens = tokens - 1
        ok = 1
      end
      local reset_ms = math.ceil((burst - tokens) / per_ms)
      local retry_ms = 0
      if ok == 0 then retry_ms = math.ceil((1 - tokens) / per_ms) end
      redis.call('HSET', KEYS[k], 't', string.format('%.17g', tokens), 'u', string.format('%.17g', updated))
      redis.call('PEXPIRE', KEYS[k], reset_ms + 1000)
      out[tried_at] = out[tried_at] + 1
      out[#out + 1] = ok
      out[#out + 1] = math.floor(tokens)
      out[#out + 1] = reset_ms
      out[#out + 1] = retry_ms
      if ok == 0 then refused = true end
    end
    k = k + 1
    a = a + 2
  end
end
return out
`;

/**
 * The part of a Redis client this store needs: ioredis's `defineCommand`, after which the client has a method of
 * that name running the script (EVALSHA, falling back to EVAL once per connection). An ioredis `Redis` instance fits.
 * Configure the client so a call cannot hang (ioredis `commandTimeout`, `enableOfflineQueue: false`): this store
 * adds no timer of its own.
 */
export interface RedisScriptingClient {
  defineCommand(name: string, definition: { lua: string; numberOfKeys?: number }): void;
}

/** Options of {@link RedisBucketStore}. */
export interface RedisBucketStoreOptions {
  /** Prefix of every bucket key. Default `shieldx:rl:`. */
  readonly prefix?: string;
  /** Name under which the script is defined on the client. Default `shieldxTakeTokens`. */
  readonly commandName?: string;
  /**
   * A batch goes out as soon as it holds this many buckets, without waiting for the end of the turn (a take's buckets
   * are never split, so a batch may hold one take more). Default 32; 1 sends every take on its own.
   */
  readonly batchMost?: number;
}

type TakeCommand = (keyCount: number, ...keysThenArgs: (string | number)[]) => Promise<unknown>;

/** One {@link BucketStore.takeAll} waiting for its batch. */
interface Queued {
  readonly takes: readonly BucketTake[];
  readonly resolve: (results: readonly BucketResult[]) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Token buckets in Redis, shared by every instance using the same server: one atomic script ({@link TAKE_TOKEN_LUA}),
 * server time. The `now` arguments of the port are ignored. Rates must be positive and buckets hold at least one token
 * (the configuration guarantees both). All keys must live on one server (no Redis Cluster slots are computed: give a
 * hash-tagged prefix on a cluster).
 *
 * Takes are batched: those asked for while the event loop handles one round of I/O go out together as one script
 * call when it ends (`setImmediate`), or as soon as {@link RedisBucketStoreOptions.batchMost} buckets wait. Each
 * batch is its own command, sent at once and never held back for another's reply: a take waits for one round trip,
 * and Redis parses, dispatches and answers one command per batch instead of one per request. A failed call fails
 * every take of its batch (a call that timed out may have taken their tokens all the same, as a single take could);
 * a take with a rate or size the script would refuse fails alone, before it is batched.
 */
export class RedisBucketStore implements BucketStore {
  private readonly prefix: string;
  private readonly command: TakeCommand;
  private readonly batchMost: number;
  private queue: Queued[] = [];
  private queuedBuckets = 0;
  private scheduled = false;

  constructor(client: RedisScriptingClient, options: RedisBucketStoreOptions = {}) {
    this.prefix = options.prefix ?? 'shieldx:rl:';
    this.batchMost = options.batchMost ?? 32;
    if (!Number.isInteger(this.batchMost) || this.batchMost < 1) {
      throw new Error(`RedisBucketStore: batchMost must be a positive integer, got ${String(options.batchMost)}`);
    }
    const name = options.commandName ?? 'shieldxTakeTokens';
    client.defineCommand(name, { lua: TAKE_TOKEN_LUA });
    const command = (client as unknown as Record<string, unknown>)[name];
    if (typeof command !== 'function') {
      throw new Error(`RedisBucketStore: the client did not define the command '${name}'`);
    }
    this.command = (command as TakeCommand).bind(client);
  }

  /** `_now` is ignored: the bucket runs on the Redis server's clock. */
  take(key: string, ratePerMinute: number, burst: number, _now?: number): Promise<BucketResult> {
    return this.takeAll([{ key, ratePerMinute, burst }]).then((results) => results[0]);
  }

  /** `_now` is ignored: the buckets run on the Redis server's clock. */
  takeAll(takes: readonly BucketTake[], _now?: number): Promise<readonly BucketResult[]> {
    // A bad figure would make the whole script call fail, and every take batched with this one (after some of them
    // took their tokens): refuse it here, alone.
    const bad = takes.find(
      (t) => !(t.ratePerMinute > 0 && t.burst >= 1 && Number.isFinite(t.ratePerMinute) && Number.isFinite(t.burst)),
    );
    if (bad !== undefined) {
      return Promise.reject(
        new Error(
          `RedisBucketStore: bucket ${bad.key} needs a rate > 0 and a size ≥ 1, got ${bad.ratePerMinute}/${bad.burst}`,
        ),
      );
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ takes, resolve, reject });
      this.queuedBuckets += takes.length;
      if (this.queuedBuckets >= this.batchMost) this.send();
      else if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(this.sendScheduled);
      }
    });
  }

  private readonly sendScheduled = (): void => {
    this.scheduled = false;
    this.send();
  };

  /** Sends the waiting takes as one script call. */
  private send(): void {
    const batch = this.queue;
    if (batch.length === 0) return;
    const keys: string[] = [];
    const args: (string | number)[] = [];
    for (const { takes } of batch) {
      args.push(takes.length);
      for (const take of takes) {
        keys.push(this.prefix + take.key);
        args.push(take.ratePerMinute, take.burst);
      }
    }
    this.queue = [];
    this.queuedBuckets = 0;
    // A call that throws, fails or answers in a shape split() refuses fails every take of the batch.
    new Promise<unknown>((sent) => sent(this.command(keys.length, ...keys, ...args)))
      .then((reply) => split(batch, reply))
      .then(
        (results) => batch.forEach((queued, i) => queued.resolve(results[i])),
        (error: unknown) => batch.forEach((queued) => queued.reject(error)),
      );
  }
}

/**
 * Each take's results, in batch order, from the flattened reply of {@link TAKE_TOKEN_LUA}: per take, the number of
 * buckets tried (1 to its number of buckets), then 4 numbers per bucket tried.
 * @throws Error on a reply of any other shape
 */
function split(batch: readonly Queued[], reply: unknown): BucketResult[][] {
  const perTake: BucketResult[][] = [];
  let at = 0;
  const valid =
    Array.isArray(reply) &&
    reply.every((n) => typeof n === 'number') &&
    batch.every(({ takes }) => {
      const tried = reply[at];
      if (
        !Number.isInteger(tried) ||
        tried < Math.min(1, takes.length) ||
        tried > takes.length ||
        at + 1 + 4 * tried > reply.length
      ) {
        return false;
      }
      const results: BucketResult[] = [];
      for (let i = at + 1; i < at + 1 + 4 * tried; i += 4) {
        results.push({
          ok: reply[i] === 1,
          remaining: reply[i + 1],
          resetMs: reply[i + 2],
          retryAfterMs: reply[i + 3],
        });
      }
      perTake.push(results);
      at += 1 + 4 * tried;
      return true;
    }) &&
    at === reply.length;
  if (!valid) throw new Error(`RedisBucketStore: unexpected reply ${JSON.stringify(reply).slice(0, 500)}`);
  return perTake;
}
