/** Name of a balancing algorithm, as accepted by `ORCH_LB_ALGO`, `X-LB-Algo` and the admin API. */
export type AlgoName = 'round_robin' | 'least_conn' | 'ewma' | 'p2c' | 'rendezvous' | 'cost';

/** Every {@link AlgoName}, in the order docs/load-balancing.md lists them. */
export const ALGO_NAMES: readonly AlgoName[] = Object.freeze([
  'round_robin',
  'least_conn',
  'ewma',
  'p2c',
  'rendezvous',
  'cost',
] as const);

/** True when `s` names a known algorithm (case-sensitive); use it to validate untrusted input. */
export function isAlgoName(s: string): s is AlgoName {
  return (ALGO_NAMES as readonly string[]).includes(s);
}
