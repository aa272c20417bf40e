// How the gateway's Node process starts: the V8 flags and the glibc malloc settings it runs with, shared by
// `npm start` and `shieldx serve` (the container image sets the same in its ENV, which a test compares). See
// docs/performance.md#memory.

/**
 * A 4 MB young-generation semi-space (V8's default grows to 16 MB): with the malloc settings below, about 10-15 MB
 * less resident set after load than 16 MB, the same as 2 MB; 2 MB cost `/proxy` about 15 % of its throughput and
 * `/route` a full collection every two seconds at half its capacity (docs/performance.md#memory).
 */
export const GATEWAY_NODE_OPTIONS = '--max-semi-space-size=4';
// Two more V8 flags, Maglev off and a bound on the old generation's growth, are set by the gateway itself
// (apps/orchestrator/src/v8-flags.ts): Node refuses them in NODE_OPTIONS.

/** {@link GATEWAY_NODE_OPTIONS} as arguments of `node` (for a process started with its own argument list). */
export const GATEWAY_NODE_ARGS = GATEWAY_NODE_OPTIONS.split(' ').filter((flag) => flag !== '');

/**
 * glibc's malloc, read when the process starts: one arena for every thread (V8's compiler and GC threads otherwise
 * each keep an arena of freed compiler memory), and fixed 128 KB thresholds for mmap and for giving the top of the heap
 * back (glibc otherwise raises both as large blocks come and go, and keeps what it freed). About 10 MB less resident
 * set idle and 5-10 MB less after load, at the same CPU per request (docs/performance.md). Ignored by other C
 * libraries (musl).
 */
export const GATEWAY_MALLOC_ENV = Object.freeze({
  MALLOC_ARENA_MAX: '1',
  MALLOC_MMAP_THRESHOLD_: '131072',
  MALLOC_TRIM_THRESHOLD_: '131072',
});

/** {@link GATEWAY_MALLOC_ENV} as `NAME=value` words, for reports. */
export const GATEWAY_MALLOC_TEXT = Object.entries(GATEWAY_MALLOC_ENV)
  .map(([name, value]) => `${name}=${value}`)
  .join(' ');

/**
 * `env` with the gateway's V8 flags in front of NODE_OPTIONS and its malloc settings: an operator's own NODE_OPTIONS
 * come after the flags, so a flag given there wins; a malloc setting already in `env` is kept, and none is added when
 * `GLIBC_TUNABLES` sets glibc's malloc tunables itself.
 * @param {NodeJS.ProcessEnv} env
 * @returns {NodeJS.ProcessEnv}
 */
export function gatewayEnv(env) {
  const own = env.NODE_OPTIONS?.trim();
  const malloc = env.GLIBC_TUNABLES?.includes('glibc.malloc.') ? {} : GATEWAY_MALLOC_ENV;
  return { ...malloc, ...env, NODE_OPTIONS: own ? `${GATEWAY_NODE_OPTIONS} ${own}` : GATEWAY_NODE_OPTIONS };
}

/**
 * A gateway process started with its own argument list (benchmarks, development aids), as shipped: the V8 flags in
 * front of `nodeArgs`, the malloc settings under `env` (whose own entries win).
 * @param {{ nodeArgs?: readonly string[], env?: Record<string, string> }} [extra]
 * @returns {{ nodeArgs: string[], env: Record<string, string> }}
 */
export function asShipped({ nodeArgs = [], env = {} } = {}) {
  return { nodeArgs: [...GATEWAY_NODE_ARGS, ...nodeArgs], env: { ...GATEWAY_MALLOC_ENV, ...env } };
}
