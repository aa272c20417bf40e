import type { AlgoName } from '../algo';
import { monotonicClock } from '../clock';
import { requireNonNegative, requirePositive } from '../options';
import type { Balancer, BalancerOptions } from './balancer';
import { CheapestBalancer, DEFAULT_COST_LATENCY_SLO_MS } from './cheapest';
import { DEFAULT_CONN_PENALTY } from './cost';
import { EwmaBalancer } from './ewma';
import { LeastConnBalancer } from './least-conn';
import { P2cBalancer } from './p2c';
import { RendezvousBalancer } from './rendezvous';
import { RoundRobinBalancer } from './round-robin';

/**
 * Creates a new, independent balancer for `algo` (one per pool: round robin keeps state).
 * Uses `connPenalty` (default {@link DEFAULT_CONN_PENALTY}), `costLatencySloMs` (default
 * {@link DEFAULT_COST_LATENCY_SLO_MS}), `random` (default `Math.random`) and `clock` (default
 * {@link monotonicClock}) from `opts`; the backend-related options are not used here.
 * @throws RangeError naming the bad option, or Error naming an unknown algorithm (from untyped callers)
 */
export function createBalancer(algo: AlgoName, opts: BalancerOptions = {}): Balancer {
  const connPenalty = requireNonNegative('connPenalty', opts.connPenalty ?? DEFAULT_CONN_PENALTY);
  const random = opts.random ?? Math.random;
  const clock = opts.clock ?? monotonicClock;
  const latencySloMs = requirePositive('costLatencySloMs', opts.costLatencySloMs ?? DEFAULT_COST_LATENCY_SLO_MS);
  switch (algo) {
    case 'round_robin':
      return new RoundRobinBalancer();
    case 'least_conn':
      return new LeastConnBalancer(random);
    case 'ewma':
      return new EwmaBalancer(connPenalty, random, clock);
    case 'p2c':
      return new P2cBalancer(connPenalty, random, clock);
    case 'rendezvous':
      return new RendezvousBalancer();
    case 'cost':
      return new CheapestBalancer(latencySloMs, connPenalty, random, clock);
    default:
      return unknownAlgo(algo);
  }
}

function unknownAlgo(algo: never): never {
  throw new Error(`unknown balancing algorithm ${JSON.stringify(algo)}`);
}
