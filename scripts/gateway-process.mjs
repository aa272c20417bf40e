// How the gateway's Node process starts: the V8 flags it runs with, shared by `npm start` and `shieldx serve` (the
// container image sets the same in its ENV, which a test compares). See docs/performance.md#memory.

/**
 * A 2 MB young-generation semi-space (V8's default grows to 16 MB): about 27 MB less resident set, idle and under
 * load, at the same throughput in `npm run bench:memory`.
 */
export const GATEWAY_NODE_OPTIONS = '--max-semi-space-size=2';

/** {@link GATEWAY_NODE_OPTIONS} as arguments of `node` (for a process started with its own argument list). */
export const GATEWAY_NODE_ARGS = GATEWAY_NODE_OPTIONS.split(' ').filter((flag) => flag !== '');

/**
 * `env` with the gateway's V8 flags in front of NODE_OPTIONS: an operator's own NODE_OPTIONS come after them, so a
 * flag given there wins.
 * @param {NodeJS.ProcessEnv} env
 * @returns {NodeJS.ProcessEnv}
 */
export function gatewayEnv(env) {
  const own = env.NODE_OPTIONS?.trim();
  return { ...env, NODE_OPTIONS: own ? `${GATEWAY_NODE_OPTIONS} ${own}` : GATEWAY_NODE_OPTIONS };
}
