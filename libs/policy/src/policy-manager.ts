import { performance } from 'node:perf_hooks';
import { BaseRulesPolicy, parseBaseRules, type BaseRules } from './base-rules';
import { DecisionCache, decisionCacheKey } from './decision-cache';
import type { Decision, PolicyEngine, PolicyInput } from './decision';
import { OpaPolicy, type RegoSource } from './opa';

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
  /** Every decision {@link PolicyManager.decide} answers (cached or not), with its input. Must not throw or block. */
  decided?(input: PolicyInput, decision: Decision): void;
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

/** The settings a running manager can take anew ({@link PolicyManager.reconfigure}). */
export type PolicySettings = Pick<
  PolicyManagerOptions,
  'rulesPath' | 'opaPath' | 'entrypoint' | 'enforce' | 'onError' | 'evalBudgetMs' | 'cache'
>;

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

/** What the running policy is made of, for the admin API: the base rules as parsed and the Rego a bundle carries. */
export interface PolicyRules {
  readonly source: string;
  readonly baseRules: BaseRules;
  /** The OPA entrypoint evaluated, when an OPA policy is loaded. */
  readonly entrypoint: string | null;
  readonly rego: readonly RegoSource[];
}

/** Outcome of a reload. */
export type ReloadOutcome =
  | { readonly ok: true; readonly version: number }
  | { readonly ok: false; readonly version: number; readonly error: string };

/** One loaded policy: swapped as a whole on reload and promotion, so a request sees one policy or the other. */
interface Engines {
  readonly base: BaseRulesPolicy;
  readonly opa: OpaPolicy | undefined;
  /** True: OPA decides; false: base rules decide, OPA (if any) in shadow. */
  readonly enforce: boolean;
}

const NO_HOOKS: PolicyHooks = Object.freeze({});

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
  private cache: DecisionCache;
  private readonly hooks: PolicyHooks;
  private onError: Decision;
  private budgetMs: number;

  private constructor(
    private options: PolicyManagerOptions,
    engines: Engines,
  ) {
    this.engines = engines;
    this.lastReloadAt = new Date().toISOString();
    this.cache = new DecisionCache(options.cache.maxEntries, options.cache.ttlMs);
    this.hooks = options.hooks ?? {};
    this.budgetMs = budgetOf(options);
    this.onError = errorDecisionOf(options);
  }

  /** Loads the configured policy; throws when it cannot (start-up should stop with that message). */
  static async create(options: PolicyManagerOptions): Promise<PolicyManager> {
    return new PolicyManager(options, await load(options));
  }

  /** Which engine decides, for `/policy` and logs. */
  get source(): string {
    const { opa, enforce } = this.engines;
    if (opa === undefined) return 'base-rules';
    return enforce ? 'opa' : 'base-rules (opa shadow)';
  }

  /** Version of the running policy: 1 at start, +1 on each successful reload. */
  get version(): number {
    return this.versionValue;
  }

  decide(input: PolicyInput): Decision {
    const decision = this.decideCached(input);
    this.hooks.decided?.(input, decision);
    return decision;
  }

  /**
   * Evaluates `input` as {@link decide} would, bypassing the decision cache and every hook: for what-if questions,
   * which must neither count as traffic nor fill the cache.
   */
  evaluate(input: PolicyInput): Decision {
    const engines = this.engines;
    return engines.opa === undefined ? engines.base.decide(input) : this.evaluateWith(engines, input, NO_HOOKS);
  }

  /** The running policy's rules (base rules as parsed, Rego carried by the bundle). */
  rules(): PolicyRules {
    const { base, opa } = this.engines;
    return {
      source: this.source,
      baseRules: base.rules,
      entrypoint: opa === undefined ? null : opa.entrypoint,
      rego: opa === undefined ? [] : opa.sources,
    };
  }

  /**
   * Makes the policy `candidate` runs now the one this manager runs (its engines and its enforce mode), as a reload
   * would: version +1, cache flushed. The files are not touched: the next reload reads this manager's own files again.
   */
  promote(candidate: PolicyManager): number {
    return this.adopt(candidate.engines);
  }

  /**
   * Runs with other settings from now on (a configuration reload): the policy they name is loaded and self-checked
   * beside the running one, then swapped in with its cache, error mode and budget as one step (version +1). When it
   * cannot be loaded nothing changes and the outcome says why. Queued behind a reload in progress, and a reload
   * asked meanwhile shares this one.
   */
  reconfigure(settings: PolicySettings): Promise<ReloadOutcome> {
    return this.serialize(async () => {
      const options = { ...this.options, ...settings };
      let engines: Engines;
      try {
        engines = await load(options);
      } catch (error) {
        return { ok: false, version: this.versionValue, error: (error as Error).message };
      }
      this.options = options;
      this.cache = new DecisionCache(options.cache.maxEntries, options.cache.ttlMs);
      this.budgetMs = budgetOf(options);
      this.onError = errorDecisionOf(options);
      return { ok: true, version: this.adopt(engines) };
    });
  }

  /** Runs `task` after the reload in progress, if any; the task is the one in progress until it ends. */
  private serialize(task: () => Promise<ReloadOutcome>): Promise<ReloadOutcome> {
    const shared: Promise<ReloadOutcome> = (this.reloading ?? Promise.resolve()).then(task).finally(() => {
      if (this.reloading === shared) this.reloading = undefined;
    });
    this.reloading = shared;
    return shared;
  }

  /** Makes `engines` the running policy: version +1, cache flushed, no error. Returns the new version. */
  private adopt(engines: Engines): number {
    this.engines = engines;
    this.cache.clear();
    this.versionValue++;
    this.lastReloadAt = new Date().toISOString();
    this.lastErrorValue = null;
    return this.versionValue;
  }

  private decideCached(input: PolicyInput): Decision {
    const engines = this.engines;
    // Base rules alone are cheaper to evaluate than a cache key is to hash: the cache fronts OPA only.
    if (engines.opa === undefined) return engines.base.decide(input);
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
    const decision = this.evaluateWith(engines, input, this.hooks);
    cache.set(key, decision, now, generation);
    return decision;
  }

  /** Reloads both files; concurrent calls share one reload. */
  reload(): Promise<ReloadOutcome> {
    return this.reloading ?? this.serialize(() => this.doReload());
  }

  status(): PolicyStatus {
    return {
      version: this.versionValue,
      source: this.source,
      opaLoaded: this.engines.opa !== undefined,
      enforce: this.engines.enforce,
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
    return { ok: true, version: this.adopt(engines) };
  }

  /** Engines with OPA loaded: OPA decides (enforce), or base rules decide with OPA beside them. */
  private evaluateWith(engines: Engines, input: PolicyInput, hooks: PolicyHooks): Decision {
    const opa = engines.opa as OpaPolicy;
    if (engines.enforce) return this.evaluateOpa(opa, input, hooks) ?? this.onError;
    const decision = engines.base.decide(input);
    const shadow = this.evaluateOpa(opa, input, hooks);
    if (shadow !== undefined && (shadow.action !== decision.action || shadow.divertTo !== decision.divertTo)) {
      hooks.disagreement?.(decision, shadow, input);
    }
    return decision;
  }

  private evaluateOpa(opa: OpaPolicy, input: PolicyInput, hooks: PolicyHooks): Decision | undefined {
    const started = performance.now();
    let decision: Decision;
    try {
      decision = opa.decide(input);
    } catch (error) {
      hooks.evalError?.('error', (error as Error).message);
      return undefined;
    }
    const took = performance.now() - started;
    if (took > this.budgetMs) {
      hooks.evalError?.('slow', `evaluation took ${took.toFixed(1)} ms (budget ${this.budgetMs} ms)`);
      return undefined;
    }
    return decision;
  }
}

function budgetOf(options: PolicyManagerOptions): number {
  return options.evalBudgetMs ?? 1000;
}

function errorDecisionOf(options: PolicyManagerOptions): Decision {
  return Object.freeze({ action: options.onError === 'allow' ? 'allow' : 'deny', reason: 'policy evaluation failed' });
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
  return { base, opa, enforce: options.enforce };
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
