import { performance } from 'node:perf_hooks';
import { BaseRulesPolicy, parseBaseRules } from './base-rules';
import { DecisionCache, decisionCacheKey } from './decision-cache';
import type { Decision, PolicyEngine, PolicyInput } from './decision';
import { OpaPolicy } from './opa';

/** What the manager does when OPA fails to evaluate (trap, bad output, over budget) while it decides. */
export type PolicyErrorMode = 'deny' | 'allow';

/** Observers of the manager's work, for metrics and logs. All optional, all synchronous. */
export interface PolicyHooks {
  cacheHit?(): void;
  cacheMiss?(): void;
  /** Shadow mode: base rules and OPA answered different actions. */
  disagreement?(base: Decision, opa: Decision, input: PolicyInput): void;
  /** OPA failed (`error`) or took longer than the budget (`slow`) and the error mode decided instead. */
  evalError?(kind: 'error' | 'slow', message: string): void;
}

/** Options of {@link PolicyManager}. Times are milliseconds. */
export interface PolicyManagerOptions {
  /** Base-rules JSON file. */
  readonly rulesPath: string;
  /** Compiled OPA policy (`policy.wasm` or bundle `.tar.gz`), optional. */
  readonly opaPath?: string;
  /** Entrypoint evaluated in the compiled policy, e.g. `shieldx/routing/decision`. */
  readonly entrypoint: string;
  /** True: OPA decides. False: base rules decide and OPA runs in shadow, disagreements reported. */
  readonly enforce: boolean;
  /** Decision when OPA fails in enforce mode. Default `deny` (fail closed). */
  readonly onError?: PolicyErrorMode;
  /** An OPA evaluation longer than this counts as failed (it is synchronous, so it is detected, not preempted). */
  readonly evalBudgetMs?: number;
  readonly cache: { readonly maxEntries: number; readonly ttlMs: number };
  readonly readFile: (path: string) => Promise<Uint8Array>;
  /** Time source for the cache TTL. */
  readonly clock: { now(): number };
  readonly hooks?: PolicyHooks;
}

/** `GET /policy` (docs/policy.md). */
export interface PolicyStatus {
  version: number;
  source: string;
  opaLoaded: boolean;
  enforce: boolean;
  lastReload: string | null;
  lastError: string | null;
  cache: { hits: number; misses: number; size: number };
}

/** Outcome of a reload. */
export type ReloadOutcome =
  | { readonly ok: true; readonly version: number }
  | { readonly ok: false; readonly version: number; readonly error: string };

interface Engines {
  readonly base: BaseRulesPolicy;
  readonly opa: OpaPolicy | undefined;
}

const SELF_CHECK_INPUT: PolicyInput = Object.freeze({
  service: 'selfcheck',
  tenant: 'selfcheck',
  scope: 'read',
  path: '/',
  method: 'GET',
  ip: '127.0.0.1',
  identity: { uris: [], dns: [] },
  dpop: { jkt: null },
  poolHealth: 1,
  headers: {},
});

/**
 * The policy engine the gateway asks: decision cache → OPA (enforce) or base rules (with OPA in shadow); base rules
 * alone are answered directly, uncached, since they cost less than the cache key. Reloads load
 * the new files beside the running ones and swap one reference only after both loaded and passed a self-check
 * evaluation; a broken file keeps the last good policy and sets `lastError`. Every request reads the engines once,
 * so a request during a swap is answered wholly by the old policy or wholly by the new one.
 */
export class PolicyManager implements PolicyEngine {
  private engines: Engines;
  private versionValue = 1;
  private lastReloadAt: string;
  private lastErrorValue: string | null = null;
  private reloading: Promise<ReloadOutcome> | undefined;
  private readonly cache: DecisionCache;
  private readonly hooks: PolicyHooks;
  private readonly onError: Decision;
  private readonly budgetMs: number;

  private constructor(
    private readonly options: PolicyManagerOptions,
    engines: Engines,
  ) {
    this.engines = engines;
    this.lastReloadAt = new Date().toISOString();
    this.cache = new DecisionCache(options.cache.maxEntries, options.cache.ttlMs);
    this.hooks = options.hooks ?? {};
    this.budgetMs = options.evalBudgetMs ?? 1000;
    this.onError = Object.freeze({
      action: options.onError === 'allow' ? 'allow' : 'deny',
      reason: 'policy evaluation failed',
    });
  }

  /** Loads the configured policy; throws when it cannot (start-up should stop with that message). */
  static async create(options: PolicyManagerOptions): Promise<PolicyManager> {
    return new PolicyManager(options, await load(options));
  }

  /** Which engine decides, for `/policy` and logs. */
  get source(): string {
    const { opa } = this.engines;
    if (opa === undefined) return 'base-rules';
    return this.options.enforce ? 'opa' : 'base-rules (opa shadow)';
  }

  /** Version of the running policy: 1 at start, +1 on each successful reload. */
  get version(): number {
    return this.versionValue;
  }

  decide(input: PolicyInput): Decision {
    const { base, opa } = this.engines;
    // Base rules alone are cheaper to evaluate than a cache key is to hash: the cache fronts OPA only.
    if (opa === undefined) return base.decide(input);
    const cache = this.cache;
    const now = this.options.clock.now();
    const key = cache.enabled ? decisionCacheKey(input) : '';
    if (cache.enabled) {
      const hit = cache.get(key, now);
      if (hit !== undefined) {
        this.hooks.cacheHit?.();
        return hit;
      }
      this.hooks.cacheMiss?.();
    }
    const generation = cache.currentGeneration;
    const decision = this.evaluate(base, opa, input);
    cache.set(key, decision, now, generation);
    return decision;
  }

  /** Reloads both files; concurrent calls share one reload. */
  reload(): Promise<ReloadOutcome> {
    this.reloading ??= this.doReload().finally(() => {
      this.reloading = undefined;
    });
    return this.reloading;
  }

  status(): PolicyStatus {
    return {
      version: this.versionValue,
      source: this.source,
      opaLoaded: this.engines.opa !== undefined,
      enforce: this.options.enforce,
      lastReload: this.lastReloadAt,
      lastError: this.lastErrorValue,
      cache: this.cache.stats(),
    };
  }

  private async doReload(): Promise<ReloadOutcome> {
    let engines: Engines;
    try {
      engines = await load(this.options);
    } catch (error) {
      this.lastErrorValue = (error as Error).message;
      return { ok: false, version: this.versionValue, error: this.lastErrorValue };
    }
    this.engines = engines;
    this.cache.clear();
    this.versionValue++;
    this.lastReloadAt = new Date().toISOString();
    this.lastErrorValue = null;
    return { ok: true, version: this.versionValue };
  }

  private evaluate(base: BaseRulesPolicy, opa: OpaPolicy, input: PolicyInput): Decision {
    if (this.options.enforce) return this.evaluateOpa(opa, input) ?? this.onError;
    const decision = base.decide(input);
    const shadow = this.evaluateOpa(opa, input);
    if (shadow !== undefined && (shadow.action !== decision.action || shadow.divertTo !== decision.divertTo)) {
      this.hooks.disagreement?.(decision, shadow, input);
    }
    return decision;
  }

  private evaluateOpa(opa: OpaPolicy, input: PolicyInput): Decision | undefined {
    const started = performance.now();
    let decision: Decision;
    try {
      decision = opa.decide(input);
    } catch (error) {
      this.hooks.evalError?.('error', (error as Error).message);
      return undefined;
    }
    const took = performance.now() - started;
    if (took > this.budgetMs) {
      this.hooks.evalError?.('slow', `evaluation took ${took.toFixed(1)} ms (budget ${this.budgetMs} ms)`);
      return undefined;
    }
    return decision;
  }
}

async function load(options: PolicyManagerOptions): Promise<Engines> {
  const rulesText = Buffer.from(await readOrExplain(options, options.rulesPath)).toString('utf8');
  let base: BaseRulesPolicy;
  try {
    base = new BaseRulesPolicy(parseBaseRules(rulesText));
  } catch (error) {
    throw new Error(`${options.rulesPath}: ${(error as Error).message}`, { cause: error });
  }
  base.decide(SELF_CHECK_INPUT);
  let opa: OpaPolicy | undefined;
  if (options.opaPath !== undefined) {
    opa = await OpaPolicy.load(await readOrExplain(options, options.opaPath), options.entrypoint, options.opaPath);
    try {
      opa.decide(SELF_CHECK_INPUT);
    } catch (error) {
      throw new Error(`${options.opaPath}: self-check evaluation failed: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }
  return { base, opa };
}

async function readOrExplain(options: PolicyManagerOptions, path: string): Promise<Uint8Array> {
  try {
    return await options.readFile(path);
  } catch (error) {
    throw new Error(`cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, {
      cause: error,
    });
  }
}
