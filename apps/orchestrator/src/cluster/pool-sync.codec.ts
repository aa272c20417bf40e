import { isAlgoName, isLocalityToken, type AlgoName, type BackendPlace } from '@shieldx/lb';
import { parseBackendUrl } from '../config/parse';
import { SERVICE_PATTERN } from '../validation/names';
import { MAX_SYNCED_BACKENDS } from './cluster.constants';

/** Largest weight accepted from another instance (the admin API's own limit). */
const MAX_WEIGHT = 1_000_000;
/** Largest cost accepted from another instance (the admin API's own limit). */
const MAX_COST = 1_000_000;

/**
 * One backend of a {@link SyncedPoolDefinition}: URL, weight, and zone, region and cost when set. Other fields are
 * dropped, not refused, so that instances of different versions can share pools during a rolling upgrade.
 */
export interface SyncedBackend extends BackendPlace {
  readonly url: string;
  readonly weight: number;
}

/** A pool as shared between instances: its algorithm and backends with weights and metadata. */
export interface SyncedPoolDefinition {
  readonly algo: AlgoName;
  readonly backends: readonly SyncedBackend[];
}

/**
 * One pool's shared state, the value of its field in the `shieldx:pools` hash: the change's version (from the shared
 * INCR counter), the instance that made it, when, and the definition (`null` = the pool was removed).
 */
export interface PoolRecord {
  readonly v: number;
  readonly origin: string;
  readonly at: string;
  readonly def: SyncedPoolDefinition | null;
}

/** A pool change on the channel: a {@link PoolRecord} with the pool's name. */
export interface PoolMessage extends PoolRecord {
  readonly pool: string;
}

/**
 * Sets one hash field only when the stored record is older (last writer wins by version), atomically in Redis.
 * KEYS[1] the hash; ARGV[1] the field, ARGV[2] the new version, ARGV[3] the new value. Returns 1 when written, 0 when
 * the stored version is the same or newer. A stored value that is not a record is replaced.
 */
export const SET_IF_NEWER_LUA = `
local current = redis.call('HGET', KEYS[1], ARGV[1])
if current then
  local ok, record = pcall(cjson.decode, current)
  if ok and type(record) == 'table' and tonumber(record.v) and tonumber(record.v) >= tonumber(ARGV[2]) then
    return 0
  end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 1
`;

/** The JSON of a record (hash value) or message (channel). */
export function encodePool(record: PoolRecord | PoolMessage): string {
  return JSON.stringify(record);
}

/**
 * Parses and checks a record read from Redis (for `pool`, when given: a hash field) or a message (the pool named
 * inside). Everything is validated as strictly as the admin API would: Redis is shared infrastructure, and a bad
 * value must not become a pool. URLs must already be in normal form.
 * @throws Error naming the problem
 */
export function parsePool(text: string, pool?: string): PoolMessage {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new Error('not JSON');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error('not an object');
  const record = value as Record<string, unknown>;
  const name = pool ?? record.pool;
  if (typeof name !== 'string' || !SERVICE_PATTERN.test(name)) throw new Error(`bad pool name ${JSON.stringify(name)}`);
  const { v, origin, at, def } = record;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) throw new Error(`bad version ${JSON.stringify(v)}`);
  if (typeof origin !== 'string' || origin.length === 0 || origin.length > 256) throw new Error('bad origin');
  if (typeof at !== 'string' || at.length > 64) throw new Error('bad time');
  return { pool: name, v, origin, at, def: def === null ? null : parseDefinition(def) };
}

function parseDefinition(def: unknown): SyncedPoolDefinition {
  if (def === null || typeof def !== 'object' || Array.isArray(def)) throw new Error('bad definition');
  const { algo, backends } = def as Record<string, unknown>;
  if (typeof algo !== 'string' || !isAlgoName(algo)) throw new Error(`bad algorithm ${JSON.stringify(algo)}`);
  if (!Array.isArray(backends) || backends.length === 0 || backends.length > MAX_SYNCED_BACKENDS) {
    throw new Error('bad backend list');
  }
  const seen = new Set<string>();
  const parsed = backends.map((backend: unknown) => {
    if (backend === null || typeof backend !== 'object') throw new Error('bad backend');
    const { url, weight, zone, region, cost } = backend as Record<string, unknown>;
    if (typeof url !== 'string' || parseBackendUrl(url) !== url)
      throw new Error(`bad backend URL ${JSON.stringify(url)}`);
    if (seen.has(url)) throw new Error(`backend ${url} listed twice`);
    seen.add(url);
    if (typeof weight !== 'number' || !Number.isFinite(weight) || weight <= 0 || weight > MAX_WEIGHT) {
      throw new Error(`bad weight of ${url}`);
    }
    if (zone !== undefined && !isLocalityToken(zone)) throw new Error(`bad zone of ${url}`);
    if (region !== undefined && !isLocalityToken(region)) throw new Error(`bad region of ${url}`);
    if (cost !== undefined && (typeof cost !== 'number' || !Number.isFinite(cost) || cost < 0 || cost > MAX_COST)) {
      throw new Error(`bad cost of ${url}`);
    }
    const parsed: SyncedBackend = {
      url,
      weight,
      ...(zone === undefined ? {} : { zone }),
      ...(region === undefined ? {} : { region }),
      ...(cost === undefined ? {} : { cost }),
    };
    return parsed;
  });
  return { algo, backends: parsed };
}
