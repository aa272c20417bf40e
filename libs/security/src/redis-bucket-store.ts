import type { BucketResult, BucketStore, BucketTake } from './bucket-store';

/**
 * The token bucket as one Lua script, run atomically by Redis, so no read-modify-write race exists between
 * instances. The arithmetic is MemoryBucketStore's, step for step (same results for the same state and elapsed
 * time); only the clock differs: `TIME` on the Redis server, in microseconds, so instances with skewed clocks agree.
 *
 * KEYS[i] a bucket, a hash {t: tokens (fractional), u: last update (µs since the epoch)};
 * ARGV[2i-1] its tokens per minute (> 0), ARGV[2i] its size (≥ 1).
 * Takes one token from each bucket in order and stops at the first refusal (tokens taken before it stay taken).
 * Returns, per bucket tried, {ok (1/0), remaining whole tokens, ms until full, ms until one token (0 when ok)},
 * flattened.
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
for i = 1, #KEYS do
  local rate = tonumber(ARGV[2 * i - 1])
  local burst = tonumber(ARGV[2 * i])
  local per_ms = rate / 60000
  local state = redis.call('HMGET', KEYS[i], 't', 'u')
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
  redis.call('HSET', KEYS[i], 't', string.format('%.17g', tokens), 'u', string.format('%.17g', updated))
  redis.call('PEXPIRE', KEYS[i], reset_ms + 1000)
  out[#out + 1] = ok
  out[#out + 1] = math.floor(tokens)
  out[#out + 1] = reset_ms
  out[#out + 1] = retry_ms
  if ok == 0 then break end
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
}

type TakeCommand = (keyCount: number, ...keysThenArgs: (string | number)[]) => Promise<unknown>;

/**
 * Token buckets in Redis, shared by every instance using the same server: one atomic script per take or
 * {@link takeAll} ({@link TAKE_TOKEN_LUA}), one round trip, server time. The `now` arguments of the port are ignored.
 * Rates must be positive and buckets hold at least one token (the configuration guarantees both). The keys of one
 * `takeAll` must live on one server (no Redis Cluster slots are computed).
 */
export class RedisBucketStore implements BucketStore {
  private readonly prefix: string;
  private readonly command: TakeCommand;

  constructor(client: RedisScriptingClient, options: RedisBucketStoreOptions = {}) {
    this.prefix = options.prefix ?? 'shieldx:rl:';
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
    return this.command(1, this.prefix + key, ratePerMinute, burst).then((reply) => toResults(reply, 1)[0]);
  }

  /** `_now` is ignored: the buckets run on the Redis server's clock. */
  takeAll(takes: readonly BucketTake[], _now?: number): Promise<readonly BucketResult[]> {
    const n = takes.length;
    const args = new Array<string | number>(3 * n);
    for (let i = 0; i < n; i++) {
      const take = takes[i];
      args[i] = this.prefix + take.key;
      args[n + 2 * i] = take.ratePerMinute;
      args[n + 2 * i + 1] = take.burst;
    }
    return this.command(n, ...args).then((reply) => toResults(reply, n));
  }
}

/** Reads the flattened reply of {@link TAKE_TOKEN_LUA}: 4 numbers per bucket tried, at most `most` buckets. */
function toResults(reply: unknown, most: number): BucketResult[] {
  if (
    !Array.isArray(reply) ||
    reply.length === 0 ||
    reply.length % 4 !== 0 ||
    reply.length > 4 * most ||
    !reply.every((n) => typeof n === 'number')
  ) {
    throw new Error(`RedisBucketStore: unexpected reply ${JSON.stringify(reply)}`);
  }
  const results: BucketResult[] = [];
  for (let i = 0; i < reply.length; i += 4) {
    results.push({ ok: reply[i] === 1, remaining: reply[i + 1], resetMs: reply[i + 2], retryAfterMs: reply[i + 3] });
  }
  return results;
}
