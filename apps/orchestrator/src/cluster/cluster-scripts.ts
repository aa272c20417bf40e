import type { Redis } from 'ioredis';
import { SET_IF_NEWER_LUA } from './pool-sync.codec';

/** ioredis command name of {@link SET_IF_NEWER_LUA}. */
const SET_IF_NEWER = 'shieldxSetIfNewer';
/** ioredis command name of {@link RAISE_COUNTER_LUA}. */
const RAISE_COUNTER = 'shieldxRaiseCounter';

/**
 * Raises a counter to at least ARGV[1]; returns 1 when it did. Used after Redis lost its data (restarted empty), so
 * versions handed out afterwards stay above every version an instance has already seen.
 */
export const RAISE_COUNTER_LUA = `
local current = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
if current < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], ARGV[1])
  return 1
end
return 0
`;

/** The single-key scripts of the cluster sync, as methods (EVALSHA, loaded once per connection by ioredis). */
export interface ClusterScripts {
  /** Writes `value` to `field` of hash `key` unless the stored record's version is `version` or newer; 1 = written. */
  setIfNewer(key: string, field: string, version: number, value: string): Promise<number>;
  /** Raises counter `key` to at least `value`. */
  raiseCounter(key: string, value: number): Promise<number>;
}

type Scripted = Record<string, ((...args: (string | number)[]) => Promise<number>) | undefined>;

/** Defines the scripts on the shared client (once) and returns them. Every script touches one key (Cluster-safe). */
export function clusterScripts(redis: Redis): ClusterScripts {
  const client = redis as unknown as Scripted;
  if (typeof client[SET_IF_NEWER] !== 'function') {
    redis.defineCommand(SET_IF_NEWER, { numberOfKeys: 1, lua: SET_IF_NEWER_LUA });
  }
  if (typeof client[RAISE_COUNTER] !== 'function') {
    redis.defineCommand(RAISE_COUNTER, { numberOfKeys: 1, lua: RAISE_COUNTER_LUA });
  }
  const call = (name: string, ...args: (string | number)[]): Promise<number> => {
    const command = client[name];
    if (command === undefined) return Promise.reject(new Error(`the Redis client has no command ${name}`));
    return command.call(redis, ...args);
  };
  return {
    setIfNewer: (key, field, version, value) => call(SET_IF_NEWER, key, field, version, value),
    raiseCounter: (key, value) => call(RAISE_COUNTER, key, value),
  };
}
