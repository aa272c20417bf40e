import type { BucketResult, BucketStore } from './bucket-store';

/**
 * The token bucket as one Lua script, run atomically by Redis, so no read-modify-write race exists between
 * instances. The arithmetic is MemoryBucketStore's, step for step (same results for the same state and elapsed
 * time); only the clock differs: `TIME` on the Redis server, in microseconds, so instances with skewed clocks agree.
 *
 * KEYS[1] the bucket, a hash {t: tokens (fractional), u: last update (µs since the epoch)};
 * ARGV[1] tokens per minute (> 0); ARGV[2] bucket size (≥ 1).
 * Returns {ok (1/0), remaining whole tokens, ms until full, ms until one token (0 when ok)}.
 *
 * The key expires once the bucket would be full again (plus a second): a missing key reads as a full bucket, which
 * is exactly the state it would have refilled to, so idle buckets cost no memory and nothing is lost.
 * Numbers are written with `%.17g` (exact round trip of a double): Lua's default `tostring` keeps 14 digits, which
 * would round a microsecond timestamp (16 digits).
 */
export const TAKE_TOKEN_LUA = `
if redis.replicate_commands then redis.replicate_commands() end
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local per_ms = rate / 60000
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local state = redis.call('HMGET', KEYS[1], 't', 'u')
local tokens = tonumber(state[1])
local updated = tonumber(state[2])
if tokens == nil or updated == nil then
  tokens = burst
  updated = now
elseif now > updated then
  tokens = math.min(burst, tokens + ((now - updated) / 1000) * per_ms)
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
redis.call('HSET', KEYS[1], 't', string.format('%.17g', tokens), 'u', string.format('%.17g', updated))
redis.call('PEXPIRE', KEYS[1], reset_ms + 1000)
return {ok, math.floor(tokens), reset_ms, retry_ms}
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
  /** Name under which the script is defined on the client. Default `shieldxTakeToken`. */
  readonly commandName?: string;
}

type TakeCommand = (key: string, ratePerMinute: number, burst: number) => Promise<unknown>;

/**
 * Token buckets in Redis, shared by every instance using the same server: one atomic script per take
 * ({@link TAKE_TOKEN_LUA}), one round trip, server time. The `now` argument of {@link BucketStore.take} is ignored.
 * Rates must be positive and buckets hold at least one token (the configuration guarantees both).
 */
export class RedisBucketStore implements BucketStore {
  private readonly prefix: string;
  private readonly command: TakeCommand;

  constructor(client: RedisScriptingClient, options: RedisBucketStoreOptions = {}) {
    this.prefix = options.prefix ?? 'shieldx:rl:';
    const name = options.commandName ?? 'shieldxTakeToken';
    client.defineCommand(name, { lua: TAKE_TOKEN_LUA, numberOfKeys: 1 });
    const command = (client as unknown as Record<string, unknown>)[name];
    if (typeof command !== 'function') {
      throw new Error(`RedisBucketStore: the client did not define the command '${name}'`);
    }
    this.command = (command as TakeCommand).bind(client);
  }

  /** `_now` is ignored: the bucket runs on the Redis server's clock. */
  take(key: string, ratePerMinute: number, burst: number, _now?: number): Promise<BucketResult> {
    return this.command(this.prefix + key, ratePerMinute, burst).then(toResult);
  }
}

function toResult(reply: unknown): BucketResult {
  if (!Array.isArray(reply) || reply.length !== 4 || !reply.every((n) => typeof n === 'number')) {
    throw new Error(`RedisBucketStore: unexpected reply ${JSON.stringify(reply)}`);
  }
  const [ok, remaining, resetMs, retryAfterMs] = reply;
  return { ok: ok === 1, remaining, resetMs, retryAfterMs };
}
