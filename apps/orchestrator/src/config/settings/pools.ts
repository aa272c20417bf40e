/** Settings of pools and balancing, and how the `ORCH_POOL_*` families and `ORCH_BACKENDS_JSON` become pools. */
import { ALGO_NAMES, type AlgoName, type BackendPlace, isLocalityToken, LOCALITY_TOKEN } from '@shieldx/lb';
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
  textMatching,
  trimmed,
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

/** A JSON object (not an array, not null); `shape` completes the error message with an example. */
function jsonObject(raw: string, shape: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    parsed = undefined;
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new Error(`must be a JSON object ${shape}`);
  }
  return parsed as Record<string, unknown>;
}

/** `ORCH_ROLLOUTS`: pool → rollout body; each body is checked whole when the rollout starts. */
function parseRollouts(raw: string): ReadonlyMap<string, Readonly<Record<string, unknown>>> {
  const parsed = jsonObject(raw, '{"pool": {"stable": […], "canary": […], "steps": […], …}}');
  const rollouts = new Map<string, Readonly<Record<string, unknown>>>();
  for (const [pool, body] of Object.entries(parsed)) {
    if (!SERVICE_PATTERN.test(pool)) throw new Error(`'${pool}' is not a pool name (${SERVICE_PATTERN.source})`);
    if (body === null || typeof body !== 'object' || Array.isArray(body)) {
      throw new Error(`the rollout of '${pool}' must be an object`);
    }
    rollouts.set(pool, body as Readonly<Record<string, unknown>>);
  }
  return rollouts;
}

/** ORCH_BACKENDS_JSON: a JSON object of pool name → list; its lists are checked pool by pool. */
function parseBackendsJson(raw: string): Record<string, unknown> {
  return jsonObject(raw, '{"pool": ["url" or {"url": …, "zone": …, "region": …, "cost": …}, …]}');
}

const POOL_PREFIX = 'ORCH_POOL_';
const ALGO_PREFIX = 'ORCH_POOL_ALGO_';
const WEIGHTS_PREFIX = 'ORCH_POOL_WEIGHTS_';

/** Zone and region names: what {@link isLocalityToken} accepts. */
const parseLocalityToken = textMatching(
  LOCALITY_TOKEN,
  'must be a lowercase label: 1-63 of a-z, 0-9 and -, not starting or ending with -',
);

/** An HTTP header name (RFC 9110 token), kept lowercased as Node presents incoming headers. */
function parseHeaderName(raw: string): string {
  const name = raw.trim();
  if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}$/.test(name)) throw new Error(`'${raw}' is not an HTTP header name`);
  return name.toLowerCase();
}

/** Fields a backend object of ORCH_BACKENDS_JSON may have. */
const BACKEND_FIELDS = new Set(['url', 'weight', 'zone', 'region', 'cost']);

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
      doc:
        '`{"pool":["url",…]}`; an entry may be an object `{"url":…,"zone":…,"region":…,"cost":…,"weight":…}` ' +
        '(zone/region: lowercase labels of 1-63 `a-z0-9-`; cost: price per 1,000 requests, ≥ 0; weight > 0), plain ' +
        'URLs and objects mixed; a pool defined twice (here and by `ORCH_POOL_<NAME>`) is an error',
      see: [{ title: 'Locality-aware routing', href: 'load-balancing.md#locality-aware-routing' }],
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
      key: 'ORCH_COST_LATENCY_SLO',
      at: 'lb.costLatencySloMs',
      parse: positiveDuration,
      default: '50ms',
      doc:
        'latency objective of the `cost` algorithm: it picks the cheapest backend whose expected latency ' +
        '(peak EWMA × in-flight penalty) meets it, else picks as `ewma`',
      see: [{ title: 'Cost-aware balancing', href: 'load-balancing.md#cost-aware-balancing' }],
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
      key: 'ORCH_ZONE',
      at: 'locality.zone',
      parse: parseLocalityToken,
      fallback: undefined,
      doc: "this gateway's zone: picks prefer backends of this zone, then of `ORCH_REGION`, then any",
      see: [{ title: 'Locality-aware routing', href: 'load-balancing.md#locality-aware-routing' }],
    }),
    setting({
      key: 'ORCH_REGION',
      at: 'locality.region',
      parse: parseLocalityToken,
      fallback: undefined,
      doc: "this gateway's region (same label rules as `ORCH_ZONE`)",
      see: [{ title: 'Locality-aware routing', href: 'load-balancing.md#locality-aware-routing' }],
    }),
    setting({
      key: 'ORCH_CLIENT_REGION_HEADER',
      at: 'locality.clientRegionHeader',
      parse: parseHeaderName,
      fallback: undefined,
      doc:
        "header naming the client's region (set by the edge), believed only on connections from " +
        "`ORCH_TRUSTED_PROXIES`; a client region is preferred over the gateway's own place",
      see: [{ title: 'Locality-aware routing', href: 'load-balancing.md#locality-aware-routing' }],
    }),
    setting({
      key: 'ORCH_CLIENT_REGION_TABLE',
      at: 'locality.clientRegionTable',
      parse: trimmed,
      fallback: undefined,
      doc:
        "file of `CIDR region` lines (`#` comments) giving the client's region by its IP, longest prefix first; " +
        'read at boot, a bad line stops the start. The header, when believed, wins',
      see: [{ title: 'Locality-aware routing', href: 'load-balancing.md#locality-aware-routing' }],
    }),
    setting({
      key: 'ORCH_ROLLOUTS',
      at: 'rollouts',
      parse: parseRollouts,
      fallback: new Map<string, Readonly<Record<string, unknown>>>(),
      doc:
        'rollouts to run, JSON `{"pool": {stable, canary, steps, interval, maxErrorRate, maxP99Ratio, minRequests, ' +
        'sticky?, preview?, previewMethods?}}` (the body of `PUT /admin/rollouts/<pool>`); each starts at start-up or ' +
        'on a configuration reload unless that pool is rolling out already, already serves exactly its canary set, or ' +
        'rolled back (or aborted) a rollout of that canary set before',
      see: [{ title: 'Rollouts', href: 'rollouts.md' }],
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
  const urls = new Map<
    string,
    { urls: string[]; from: string; places: Map<string, BackendPlace>; weights: Map<string, number> }
  >();
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
    const objectsAllowed = from === 'ORCH_BACKENDS_JSON';
    if (
      !Array.isArray(list) ||
      list.some((u) => typeof u !== 'string' && !(objectsAllowed && u !== null && typeof u === 'object'))
    ) {
      ctx.problem(
        `${from}: pool '${name}' must be a list of backend URLs${objectsAllowed ? ' or backend objects' : ''}`,
      );
      return;
    }
    const parsed: string[] = [];
    const places = new Map<string, BackendPlace>();
    const objectWeights = new Map<string, number>();
    for (const entry of list as unknown[]) {
      try {
        const backend = typeof entry === 'string' ? { url: entry } : readBackendObject(entry);
        const url = parseBackendUrl(backend.url);
        if (parsed.includes(url)) throw new Error(`'${backend.url}' is listed twice`);
        parsed.push(url);
        if (backend.place !== undefined) places.set(url, backend.place);
        if (backend.weight !== undefined) objectWeights.set(url, backend.weight);
      } catch (error) {
        ctx.problem(`${from}: ${(error as Error).message}`);
      }
    }
    urls.set(name, { urls: parsed, from, places, weights: objectWeights });
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
    const weightMap = new Map(entry.weights);
    for (const [url, weight] of weights.get(name)?.weights ?? []) {
      const from = weights.get(name)?.from;
      if (!entry.urls.includes(url)) ctx.problem(`${from}: '${url}' is not a backend of pool '${name}'`);
      else if (weightMap.has(url)) ctx.problem(`${from}: the weight of '${url}' is also given in ${entry.from}`);
      else weightMap.set(url, weight);
    }
    pools.set(name, { urls: entry.urls, algo: algos.get(name)?.algo, weights: weightMap, places: entry.places });
  }
  for (const [name, { from }] of [...algos, ...weights]) {
    if (!urls.has(name)) ctx.problem(`${from}: no pool '${name}' is defined (set ORCH_POOL_${name.toUpperCase()})`);
  }
  return pools;
}

/**
 * One backend object of ORCH_BACKENDS_JSON: `url` and optional `weight`, `zone`, `region`, `cost`; any other field is
 * refused (a misspelt `zone` must not pass unnoticed). Throws naming the URL and the bad field.
 */
function readBackendObject(entry: unknown): { url: string; weight?: number; place?: BackendPlace } {
  const fields = entry as Record<string, unknown>;
  if (Array.isArray(entry) || typeof fields.url !== 'string') {
    throw new Error(`a backend object needs a "url" string, got ${JSON.stringify(entry)}`);
  }
  const { url, weight, zone, region, cost } = fields;
  for (const key of Object.keys(fields)) {
    if (!BACKEND_FIELDS.has(key))
      throw new Error(`backend '${url}': unknown field "${key}" (url, weight, zone, region, cost)`);
  }
  if (weight !== undefined && (typeof weight !== 'number' || !Number.isFinite(weight) || weight <= 0)) {
    throw new Error(`weight of '${url}' must be a number > 0, got ${JSON.stringify(weight)}`);
  }
  for (const [field, value] of [
    ['zone', zone],
    ['region', region],
  ] as const) {
    if (value !== undefined && !isLocalityToken(value)) {
      throw new Error(
        `${field} of '${url}' must be a lowercase label (1-63 of a-z, 0-9, -), got ${JSON.stringify(value)}`,
      );
    }
  }
  if (cost !== undefined && (typeof cost !== 'number' || !Number.isFinite(cost) || cost < 0)) {
    throw new Error(`cost of '${url}' must be a finite number >= 0, got ${JSON.stringify(cost)}`);
  }
  const place: BackendPlace = {
    ...(zone === undefined ? {} : { zone: zone as string }),
    ...(region === undefined ? {} : { region: region as string }),
    ...(cost === undefined ? {} : { cost }),
  };
  return { url, weight, place: Object.keys(place).length === 0 ? undefined : place };
}

function poolName(key: string, prefix: string): string {
  return key.slice(prefix.length).toLowerCase();
}
