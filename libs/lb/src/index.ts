export { ALGO_NAMES, type AlgoName, isAlgoName } from './algo';
export { Backend, type BackendJSON, type BackendOptions, type BackendPlace } from './backend';
export type { Balancer, BalancerOptions, PickContext } from './balancers/balancer';
export { createBalancer } from './balancers/create-balancer';
export { Breaker, type BreakerEvent, type BreakerOptions, type BreakerState, type BreakerStateName } from './breaker';
export { type Hash64, hashString64 } from './hash';
export { type MonotonicClock, type RandomSource, monotonicClock } from './clock';
export {
  LOCALITY_TIERS,
  LOCALITY_TOKEN,
  type Locality,
  type LocalityTier,
  OVERPROVISIONING_FACTOR,
  isLocalityToken,
  spillLoads,
} from './locality';
export { type PickResult, Pool, type PoolJSON, type PoolOptions } from './pool';
export { mulberry32 } from './testing/mulberry32';
