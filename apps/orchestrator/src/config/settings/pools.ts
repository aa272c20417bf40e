/** Settings of pools and balancing, and how the `ORCH_POOL_*` families and `ORCH_BACKENDS_JSON` become pools. */
import { ALGO_NAMES, type AlgoName } from '@shieldx/lb';
import { SERVICE_PATTERN } from '../names';
import {
  numberIn,
  oneOf,
  parseBackendUrl,
  parseFlag,
  parseList,
  parseNumber,
  parseWeights,
  positiveDuration,
} from '../parse';
import { family, setting, type ReadContext, type Section } from '../setting';
import type { PoolConfig } from '../types';

/** Algorithm names, exactly as written (`X-LB-Algo` and the admin API take them the same way). */
const parseAlgo = oneOf(ALGO_NAMES, { caseSensitive: true });

/** The spacing of samples at which an ORCH_EWMA_DECAY weight is the share a new sample takes. */
const EWMA_REFERENCE_MS = 1000;

/**
 * ORCH_EWMA_DECAY is either a weight in (0, 1] — the share a new (faster) sample takes when it arrives 1 s after the
 * previous one, turned into a time constant τ = 1 s / −ln(1 − w), so the default 0.3 gives τ ≈ 2.8 s — or a decay
 * time with a unit (`10s`).
 */
function parseEwmaDecay(raw: string): number {
  if (/[a-z]$/i.test(raw.trim())) return positiveDuration(raw);
  const weight = parseNumber(raw, 0, 1);
  if (weight <= 0) throw new Error(`'${raw}' must be a weight in (0, 1] or a duration`);
  return weight === 1 ? 1 : EWMA_REFERENCE_MS / -Math.log(1 - weight);
}

/** ORCH_BACKENDS_JSON: a JSON object of pool name → list; its lists are checked pool by pool. */
function parseBackendsJson(raw: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    parsed = undefined;
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new Error('must be a JSON object {"pool": ["url", …]}');
  }
  return parsed as Record<string, unknown>;
}

const POOL_PREFIX = 'ORCH_POOL_';
const ALGO_PREFIX = 'ORCH_POOL_ALGO_';
const WEIGHTS_PREFIX = 'ORCH_POOL_WEIGHTS_';

/** `ORCH_POOL_<NAME>`: one pool's backend URLs. */
const POOL = family({
  key: 'ORCH_POOL_<NAME>',
  family: POOL_PREFIX,
  parse: parseList,
  doc:
    'comma list of backend URLs (`host:port` means `http://host:port`); the pool is `<NAME>` lowercased ' +
    '(`a-z`, `0-9`, `_`, `-`); a pool defined twice is an error',
});

/** `ORCH_POOL_ALGO_<NAME>`: one pool's algorithm. */
const POOL_ALGO = family({
  key: 'ORCH_POOL_ALGO_<NAME>',
  family: ALGO_PREFIX,
  parse: parseAlgo,
  doc: 'algorithm of pool `<NAME>` (names as `ORCH_LB_ALGO`). It never creates a pool: one naming an undefined pool is an error',
});

/** `ORCH_POOL_WEIGHTS_<NAME>`: one pool's backend weights. */
const POOL_WEIGHTS = family({
  key: 'ORCH_POOL_WEIGHTS_<NAME>',
  family: WEIGHTS_PREFIX,
  parse: parseWeights,
  doc:
    'weights of pool `<NAME>`, JSON `{"url":w}` or `url=w,…` (w > 0), each URL a backend of that pool. It never ' +
    'creates a pool: one naming an undefined pool is an error',
});

/** Pools and balancing. */
export const POOLS: Section = {
  title: 'Pools and balancing',
  lead: 'Behaviour: [Load balancing](load-balancing.md).',
  settings: [
    POOL,
    POOL_ALGO,
    POOL_WEIGHTS,
    setting({
      key: 'ORCH_BACKENDS_JSON',
      at: 'pools',
      parse: parseBackendsJson,
      fallback: {},
      resolve: (json, ctx) => readPools(json, ctx),
      doc: '`{"pool":["url",…]}`; a pool defined twice (here and by `ORCH_POOL_<NAME>`) is an error',
    }),
    setting({
      key: 'ORCH_LB_ALGO',
      at: 'lb.algo',
      parse: parseAlgo,
      default: 'ewma',
      doc: ALGO_NAMES.map((name) => `\`${name}\``).join(', '),
    }),
    setting({
      key: 'ORCH_P2C_CONN_PENALTY',
      at: 'lb.connPenalty',
      parse: numberIn(0, 1000),
      default: '0.2',
      doc: 'in-flight penalty in the ewma/p2c cost (0 to 1000)',
    }),
    setting({
      key: 'ORCH_EWMA_DECAY',
      at: 'lb.ewmaDecayMs',
      parse: parseEwmaDecay,
      default: '0.3',
      doc:
        'a weight w in (0, 1]: the share a new, faster sample takes when it arrives 1 s after the previous one, i.e. ' +
        'a decay time constant τ = 1 s / −ln(1 − w) (0.3 ≈ 2.8 s); or τ itself with a unit (`10s`)',
    }),
    setting({
      key: 'ORCH_PANIC_THRESHOLD',
      at: 'lb.panicThreshold',
      parse: numberIn(0, 1),
      default: '0.5',
      doc: "when fewer than this share of a pool's backends are eligible, balance over all of them (0 = never)",
    }),
    setting({
      key: 'ORCH_DEMO',
      at: 'demo',
      parse: parseFlag,
      fallback: false,
      shownDefault: 'unset (`1` under `npm start`)',
      doc: 'start the built-in demo backends and pools `api`, `search`, `static` (those not configured otherwise)',
    }),
  ],
};

/**
 * Pools from ORCH_BACKENDS_JSON and the ORCH_POOL_* families. Every problem is recorded under the key that caused
 * it; algorithm and weight keys never create a pool.
 */
function readPools(json: Record<string, unknown>, ctx: ReadContext): Map<string, PoolConfig> {
  const urls = new Map<string, { urls: string[]; from: string }>();
  const algos = new Map<string, { algo: AlgoName; from: string }>();
  const weights = new Map<string, { weights: Map<string, number>; from: string }>();

  const addPool = (name: string, list: unknown, from: string): void => {
    if (!SERVICE_PATTERN.test(name)) {
      ctx.problem(`${from}: pool name '${name}' must match ${SERVICE_PATTERN.source}`);
      return;
    }
    if (urls.has(name)) {
      ctx.problem(`${from}: pool '${name}' is already defined by ${urls.get(name)?.from}`);
      return;
    }
    if (!Array.isArray(list) || list.some((u) => typeof u !== 'string')) {
      ctx.problem(`${from}: pool '${name}' must be a list of backend URLs`);
      return;
    }
    const parsed: string[] = [];
    for (const raw of list as string[]) {
      try {
        const url = parseBackendUrl(raw);
        if (parsed.includes(url)) throw new Error(`'${raw}' is listed twice`);
        parsed.push(url);
      } catch (error) {
        ctx.problem(`${from}: ${(error as Error).message}`);
      }
    }
    urls.set(name, { urls: parsed, from });
  };

  for (const [name, list] of Object.entries(json)) addPool(name, list, 'ORCH_BACKENDS_JSON');

  // The longer prefixes first: ORCH_POOL_ALGO_API is the algorithm of pool `api`, not a pool `algo_api`.
  for (const [key, value] of Object.entries(ctx.env)) {
    if (!key.startsWith(POOL_PREFIX) || value === undefined) continue;
    try {
      if (key.startsWith(ALGO_PREFIX)) {
        algos.set(poolName(key, ALGO_PREFIX), { algo: POOL_ALGO.parse(value), from: key });
      } else if (key.startsWith(WEIGHTS_PREFIX)) {
        weights.set(poolName(key, WEIGHTS_PREFIX), { weights: POOL_WEIGHTS.parse(value), from: key });
      } else {
        addPool(poolName(key, POOL_PREFIX), POOL.parse(value), key);
      }
    } catch (error) {
      ctx.problem(`${key}: ${(error as Error).message}`);
    }
  }

  const pools = new Map<string, PoolConfig>();
  for (const [name, entry] of urls) {
    const weightMap = weights.get(name)?.weights ?? new Map<string, number>();
    for (const url of weightMap.keys()) {
      if (!entry.urls.includes(url))
        ctx.problem(`${weights.get(name)?.from}: '${url}' is not a backend of pool '${name}'`);
    }
    pools.set(name, { urls: entry.urls, algo: algos.get(name)?.algo, weights: weightMap });
  }
  for (const [name, { from }] of [...algos, ...weights]) {
    if (!urls.has(name)) ctx.problem(`${from}: no pool '${name}' is defined (set ORCH_POOL_${name.toUpperCase()})`);
  }
  return pools;
}

function poolName(key: string, prefix: string): string {
  return key.slice(prefix.length).toLowerCase();
}
