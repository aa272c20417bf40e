/**
 * Redis keys and channels of the cluster coherence (docs/scale-out.md). Every command touches one key, so they work
 * unchanged on a Redis Cluster.
 */
export const CLUSTER_KEYS = {
  /** INCR counter: the version of every pool change, shared by all instances (last writer wins by version). */
  poolsVersion: 'shieldx:pools:version',
  /** Hash pool name → `{v, origin, at, def}` (def `null` = removed): the current pool edits, read on (re)connect. */
  pools: 'shieldx:pools',
  /** Channel of pool changes: the same JSON as a hash value, plus the pool name. */
  poolsChannel: 'shieldx:pools:changes',
  /** INCR counter of admin-triggered policy reloads, so an instance that missed one reloads on (re)connect. */
  policyVersion: 'shieldx:policy:version',
  /** Channel of admin-triggered policy reloads and promotions of the candidate policy. */
  policyChannel: 'shieldx:policy:reload',
  /** `{v, kind}` of the latest of them (`reload` or `promote`), for an instance that missed it. */
  policyLast: 'shieldx:policy:last',
  /** Hash `<origin> <key>` → shared adaptive key (JSON): the keys each instance has tightened now, with a lease. */
  adaptiveKeys: 'shieldx:adaptive:keys',
  /** Channel of adaptive limit changes: keys tightened, relaxed and released by an operator. */
  adaptiveChannel: 'shieldx:adaptive:changes',
  /** INCR counter: the version of every rollout change (last writer wins by version; a final state wins over a live one). */
  rolloutsVersion: 'shieldx:rollouts:version',
  /** Hash pool → `{v, origin, at, run, record}` (record `null` = deleted): the last state of every rollout. */
  rollouts: 'shieldx:rollouts',
  /** Channel of rollout changes: the same JSON as a hash value, plus the pool name. */
  rolloutsChannel: 'shieldx:rollouts:changes',
  /** Hash `<pool> <instance>` → that instance's counts of the pool's current analysis window. */
  rolloutWindows: 'shieldx:rollouts:windows',
  /** The instance that decides rollouts now (its id), with a lease it renews. */
  rolloutDecider: 'shieldx:rollouts:decider',
} as const;

/** The decider's lease, in resync intervals (at least {@link ROLLOUT_LEASE_MIN_MS}). */
export const ROLLOUT_LEASE_INTERVALS = 3;

/** Shortest lease of the rollouts' decider, ms. */
export const ROLLOUT_LEASE_MIN_MS = 1000;

/** Most of its own tightened keys an instance shares (the longest-tightened first). */
export const MAX_OWN_SHARED_KEYS = 1000;

/** A shared adaptive key's lease, in resync intervals: its origin renews it every interval while it stays tightened. */
export const ADAPTIVE_LEASE_INTERVALS = 3;

/** Entries kept for the audit stream while Redis is unavailable; beyond it the oldest are dropped (and counted). */
export const AUDIT_BACKLOG_MAX = 10_000;

/** Entries sent to the audit stream per batch while catching up after an outage. */
export const AUDIT_DRAIN_BATCH = 500;

/** Wait before the audit backlog is tried again after a failure, ms. */
export const AUDIT_RETRY_MS = 1000;

/** Failures of one kind are logged at most once per this interval, ms (every one is counted). */
export const CLUSTER_LOG_EVERY_MS = 10_000;

/** Most backends a pool received from another instance may have (the admin API's DTO caps it lower). */
export const MAX_SYNCED_BACKENDS = 1024;
