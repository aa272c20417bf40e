import { Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { anonymizeIp } from '@shieldx/security';
import {
  PolicyManager,
  type Decision,
  type PolicyAction,
  type PolicyInput,
  type PolicyManagerOptions,
  type PolicyRules,
  type PolicySettings,
  type PolicyStatus,
  type ReloadOutcome,
} from '@shieldx/policy';
import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import type { OrchestratorConfig } from '../config/config';
import { CandidatePolicyEmptyError, NoCandidatePolicyError } from '../errors/errors';
import { Emitter } from '../events/emitter';
import { SecurityEvents } from '../events/security-events';
import { bundledPolicyFile, DEFAULT_RULES } from './bundled';
import { DecisionStats, type TopEntry } from './decision-stats';
import { PolicyMetrics } from './policy-metrics';
import { ShadowEvaluator, type ShadowView } from './shadow-evaluator';

/** Quiet time after the last file change before a reload (editors and `kubectl cp` write in several steps). */
const DEBOUNCE_MS = 200;
/** At most one disagreement log line per this interval; the counter counts them all. */
const DISAGREEMENT_LOG_INTERVAL_MS = 1000;

/** Divergent requests kept for `GET /admin/policy/shadow`. */
const SHADOW_SAMPLES = 100;

/**
 * What changed the running policy: a reload by the admin API, a watched file, or an admin reload on another instance
 * (cluster channel); or a promotion of the candidate by the admin API (`promote`).
 */
export type PolicyReloadTrigger = 'watch' | 'admin' | 'cluster' | 'promote' | 'config';

/**
 * The candidate slot: `none` (ORCH_SHADOW_POLICY_PATH unset), `loaded` (evaluated beside the active policy),
 * `promoted` (it became the active one; empty until the next reload) or `failed` (a reload could not load it).
 */
export type CandidateState = 'none' | 'loaded' | 'promoted' | 'failed';

/** The candidate policy as `GET /admin/policy/shadow` shows it. */
export interface CandidateStatus {
  readonly state: CandidateState;
  readonly path: string | null;
  /** Its engine (`base-rules`, `opa`) while loaded. */
  readonly source: string | null;
  readonly lastReload: string | null;
  readonly lastError: string | null;
}

/** `GET /admin/policy/shadow`: the candidate, and what it would have decided on live traffic. */
export interface ShadowReport extends ShadowView {
  readonly candidate: CandidateStatus;
}

/** A what-if answer: the active policy's decision and the candidate's (null without one). */
export interface WhatIfAnswer {
  readonly active: Decision;
  readonly candidate: Decision | null;
}

/** The rules of the active and the candidate policy. */
export interface RulesReport {
  readonly active: PolicyRules;
  readonly candidate: PolicyRules | null;
}

/** Outcome of reloading the candidate with the active policy. */
export type CandidateReloadOutcome = { readonly ok: true } | { readonly ok: false; readonly error: string };

/**
 * Owns the running {@link PolicyManager}: loads it at boot (a broken policy stops start-up), watches the policy files
 * and reloads on change, and turns reloads into metrics, log lines and security events. With ORCH_SHADOW_POLICY_PATH
 * it also owns a candidate policy (a second manager, evaluated by a {@link ShadowEvaluator} after the active one
 * decided, never deciding itself) that the admin API can promote; and it counts decisions per action and the tenants
 * and paths denied most.
 */
@Injectable()
export class PolicyService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('policy');
  private readonly watchers: FSWatcher[] = [];
  private debounce: NodeJS.Timeout | undefined;
  private readonly reloads = new Emitter<{ outcome: ReloadOutcome; trigger: PolicyReloadTrigger }>((error) =>
    this.logger.error({ event: 'policy_reload_listener_failed', err: error }),
  );

  private candidateLoading: Promise<CandidateReloadOutcome> | undefined;
  private candidateState: CandidateState;
  private candidateError: string | null = null;
  private candidateReloadAt: string | null;

  private constructor(
    /** The engine the pipeline asks. */
    readonly manager: PolicyManager,
    private files: readonly string[],
    private readonly metrics: PolicyMetrics,
    private readonly events: SecurityEvents,
    private readonly stats: DecisionStats,
    private readonly shadow: ShadowEvaluator,
    private readonly slot: CandidateSlot,
  ) {
    this.candidateState = slot.manager === undefined ? 'none' : 'loaded';
    this.candidateReloadAt = slot.manager === undefined ? null : new Date().toISOString();
  }

  /** Builds the service; rejects with the loader's message when the configured policy cannot be loaded. */
  static async create(
    config: OrchestratorConfig,
    metrics: PolicyMetrics,
    events: SecurityEvents,
  ): Promise<PolicyService> {
    const logger = new Logger('policy');
    let last = 0;
    const stats = new DecisionStats();
    const slot: CandidateSlot = { path: config.policy.shadowPath, manager: undefined, create: undefined };
    const shadow = new ShadowEvaluator({
      capacity: config.policy.shadowQueue,
      samples: SHADOW_SAMPLES,
      evaluate: (input) => slot.manager?.decide(input),
      onEvaluated: shadowCounter(metrics),
      onShed: () => metrics.shadowShed.inc(),
      showIp: config.log.fullIp ? (ip) => ip : anonymizeIp,
    });
    if (slot.path !== undefined) {
      slot.create = candidateFactory(config, rulesPathOf(config), slot.path, logger);
      slot.manager = await slot.create();
    }
    const manager = await PolicyManager.create({
      ...sharedOptions(config),
      ...activeSettings(config),
      hooks: {
        // The candidate may come or go with a configuration reload: the slot is asked on every decision.
        decided: (input, decision) => {
          stats.record(input, decision);
          if (slot.manager !== undefined) shadow.offer(input, decision);
        },
        cacheHit: () => metrics.cacheHit.inc(),
        cacheMiss: () => metrics.cacheMiss.inc(),
        disagreement: (base, opa, input) => {
          metrics.disagreement.inc();
          const now = performance.now();
          if (now - last < DISAGREEMENT_LOG_INTERVAL_MS) return;
          last = now;
          logger.warn({
            event: 'policy_disagreement',
            base: base.action,
            opa: opa.action,
            service: input.service,
            tenant: input.tenant,
            scope: input.scope,
          });
        },
        evalError: (kind, message) => {
          metrics.evalError(kind);
          logger.error({ event: 'policy_eval_failed', kind, error: message });
        },
      },
    });
    metrics.version.set(manager.version);
    return new PolicyService(manager, policyFiles(config), metrics, events, stats, shadow, slot);
  }

  onModuleInit(): void {
    this.logger.log({ event: 'policy_loaded', ...this.manager.status() });
    if (this.slot.manager !== undefined) {
      this.logger.log({ event: 'policy_candidate_loaded', path: this.slot.path, source: this.slot.manager.source });
    }
    this.watchFiles();
  }

  /** Watches the directories of the policy files (a rename into place counts as a change of the file). */
  private watchFiles(): void {
    for (const dir of new Set(this.files.map((file) => dirname(file)))) {
      const names = new Set(this.files.filter((file) => dirname(file) === dir).map((file) => basename(file)));
      try {
        const watcher = watch(dir, (_event, name) => {
          if (name === null || names.has(name.toString())) this.scheduleReload();
        });
        watcher.on('error', (error) => this.logger.error({ event: 'policy_watch_failed', dir, err: error }));
        this.watchers.push(watcher);
      } catch (error) {
        this.logger.error({ event: 'policy_watch_failed', dir, err: error });
      }
    }
  }

  onApplicationShutdown(): void {
    clearTimeout(this.debounce);
    for (const watcher of this.watchers.splice(0)) watcher.close();
  }

  /**
   * Applies the policy settings of a reloaded configuration (SIGHUP, `POST /admin/config/reload`): files, OPA mode and
   * entrypoint, error mode, evaluation budget, decision cache, candidate file. The candidate is loaded first, then the
   * active policy is reconfigured ({@link PolicyManager.reconfigure}); when either cannot be loaded nothing changes
   * and the outcome says why. The watched files follow. Never rejects.
   * @param actor who asked for the configuration reload (`signal`, or the admin's actor), for the event
   */
  async reconfigure(config: OrchestratorConfig, corrId?: string, actor?: string): Promise<ReloadOutcome> {
    const { shadowPath } = config.policy;
    const create =
      shadowPath === undefined ? undefined : candidateFactory(config, rulesPathOf(config), shadowPath, this.logger);
    let candidate: PolicyManager | undefined;
    if (create !== undefined) {
      try {
        candidate = await create();
      } catch (error) {
        return { ok: false, version: this.manager.version, error: `candidate policy: ${(error as Error).message}` };
      }
    }
    const outcome = await this.manager.reconfigure(activeSettings(config));
    if (!outcome.ok) return outcome;
    Object.assign(this.slot, { path: shadowPath, create, manager: candidate });
    this.candidateState = candidate === undefined ? 'none' : 'loaded';
    this.candidateError = null;
    this.candidateReloadAt = candidate === undefined ? null : new Date().toISOString();
    this.shadow.reset();
    this.files = policyFiles(config);
    for (const watcher of this.watchers.splice(0)) watcher.close();
    this.watchFiles();
    this.metrics.version.set(outcome.version);
    const by = actor === undefined ? {} : { actor };
    this.logger.log({
      event: 'policy_reloaded',
      trigger: 'config',
      version: outcome.version,
      source: this.manager.source,
      ...by,
    });
    this.events.emit({
      type: 'policy.reloaded',
      corrId,
      data: { result: 'success', trigger: 'config', version: outcome.version, ...by },
    });
    this.reloads.emit({ outcome, trigger: 'config' });
    return outcome;
  }

  /** `GET /policy`. */
  status(): PolicyStatus {
    return this.manager.status();
  }

  /**
   * Reloads now (admin API, watcher, or another instance's admin reload), the candidate too; records the outcome.
   * Never rejects. The candidate's outcome is in {@link candidateStatus}.
   * @param actor who asked, for an admin's reload (`adminActor`): admin actions name their actor in the ledger
   */
  async reload(
    trigger: Exclude<PolicyReloadTrigger, 'promote'>,
    corrId?: string,
    actor?: string,
  ): Promise<ReloadOutcome> {
    const [outcome] = await Promise.all([this.manager.reload(), this.reloadCandidate(trigger)]);
    this.metrics.reload.labels(outcome.ok ? 'success' : 'failure').inc();
    const by = actor === undefined ? {} : { actor };
    if (outcome.ok) {
      this.metrics.version.set(outcome.version);
      this.logger.log({
        event: 'policy_reloaded',
        trigger,
        version: outcome.version,
        source: this.manager.source,
        ...by,
      });
    } else {
      this.logger.error({
        event: 'policy_reload_rejected',
        trigger,
        version: outcome.version,
        error: outcome.error,
        ...by,
      });
    }
    this.events.emit({
      type: 'policy.reloaded',
      corrId,
      data: outcome.ok
        ? { result: 'success', trigger, version: outcome.version, ...by }
        : { result: 'rejected', trigger, version: outcome.version, error: outcome.error, ...by },
    });
    this.reloads.emit({ outcome, trigger });
    return outcome;
  }

  /**
   * Calls `listener` after every reload attempt, with what triggered it (tests, the admin event stream, the cluster
   * channel). Returns an unsubscribe.
   */
  onReload(listener: (outcome: ReloadOutcome, trigger: PolicyReloadTrigger) => void): () => void {
    return this.reloads.on(({ outcome, trigger }) => listener(outcome, trigger));
  }

  /**
   * Makes the candidate the active policy (audited as `admin.action`): version +1, the candidate slot is empty until
   * the next reload, which reads every file again (the active policy's own files included).
   * @param trigger `promote` for an admin's request here, `cluster` when another instance's promotion is applied
   * @throws NoCandidatePolicyError without ORCH_SHADOW_POLICY_PATH; CandidatePolicyEmptyError when the slot is empty
   */
  promote(
    actor: string,
    corrId?: string,
    trigger: 'promote' | 'cluster' = 'promote',
  ): ReloadOutcome & { ok: true; source: string } {
    const candidate = this.slot.manager;
    if (this.slot.path === undefined) throw new NoCandidatePolicyError();
    if (candidate === undefined)
      throw new CandidatePolicyEmptyError(this.candidateState === 'failed' ? 'failed' : 'promoted');
    const before = { version: this.manager.version, source: this.manager.source };
    const version = this.manager.promote(candidate);
    this.slot.manager = undefined;
    this.candidateState = 'promoted';
    this.shadow.reset();
    this.metrics.version.set(version);
    this.logger.log({ event: 'policy_promoted', version, source: this.manager.source, path: this.slot.path, actor });
    this.events.emit({
      type: 'admin.action',
      corrId,
      data: {
        action: 'policy.promote',
        actor,
        candidate: this.slot.path,
        before,
        after: { version, source: this.manager.source },
      },
    });
    const outcome = { ok: true as const, version };
    this.reloads.emit({ outcome, trigger });
    return { ...outcome, source: this.manager.source };
  }

  /** What the active and the candidate policy would decide for `input`; touches no cache, counter or queue. */
  evaluate(input: PolicyInput): WhatIfAnswer {
    return { active: this.manager.evaluate(input), candidate: this.slot.manager?.evaluate(input) ?? null };
  }

  /** The rules of the active policy and of the candidate. */
  rules(): RulesReport {
    return { active: this.manager.rules(), candidate: this.slot.manager?.rules() ?? null };
  }

  /** The candidate slot. */
  candidateStatus(): CandidateStatus {
    return {
      state: this.candidateState,
      path: this.slot.path ?? null,
      source: this.slot.manager?.source ?? null,
      lastReload: this.candidateReloadAt,
      lastError: this.candidateError,
    };
  }

  /** `GET /admin/policy/shadow`: the candidate, the active × candidate matrix and the latest divergent requests. */
  shadowReport(): ShadowReport {
    return { candidate: this.candidateStatus(), ...this.shadow.view() };
  }

  /** Decisions since start per action (the overview samples turn them into rates). */
  decisionTotals(): Record<PolicyAction, number> {
    return this.stats.totals();
  }

  /** The `n` tenants and paths the policy denied most since start (approximate beyond the tracked keys). */
  topDenied(n: number): { tenants: TopEntry[]; paths: TopEntry[] } {
    return this.stats.topDenied(n);
  }

  /** Reloads the candidate beside the active policy (shared by concurrent reloads); never rejects. */
  private reloadCandidate(trigger: PolicyReloadTrigger): Promise<CandidateReloadOutcome> {
    this.candidateLoading ??= this.doReloadCandidate(trigger).finally(() => {
      this.candidateLoading = undefined;
    });
    return this.candidateLoading;
  }

  private async doReloadCandidate(trigger: PolicyReloadTrigger): Promise<CandidateReloadOutcome> {
    const { create, path } = this.slot;
    if (create === undefined) return { ok: true };
    let error: string | undefined;
    if (this.slot.manager !== undefined) {
      const outcome = await this.slot.manager.reload();
      if (!outcome.ok) error = outcome.error;
    } else {
      try {
        this.slot.manager = await create();
      } catch (failure) {
        error = (failure as Error).message;
      }
    }
    if (error !== undefined) {
      if (this.slot.manager === undefined) this.candidateState = 'failed';
      this.candidateError = error;
      this.logger.error({ event: 'policy_candidate_reload_rejected', trigger, path, error });
      return { ok: false, error };
    }
    this.candidateState = 'loaded';
    this.candidateError = null;
    this.candidateReloadAt = new Date().toISOString();
    this.shadow.reset();
    this.logger.log({ event: 'policy_candidate_reloaded', trigger, path, source: this.slot.manager?.source });
    return { ok: true };
  }

  private scheduleReload(): void {
    clearTimeout(this.debounce);
    this.debounce = setTimeout(() => void this.reload('watch'), DEBOUNCE_MS);
  }
}

/** The candidate policy: its file, the manager loaded from it (none while promoted or failed), and how to load it. */
interface CandidateSlot {
  path: string | undefined;
  manager: PolicyManager | undefined;
  create: (() => Promise<PolicyManager>) | undefined;
}

/** The base-rules file: ORCH_POLICY_PATH, else the bundled rules. */
function rulesPathOf(config: OrchestratorConfig): string {
  return config.policy.path ?? bundledPolicyFile(DEFAULT_RULES);
}

/** What the active policy runs with, at start and after a configuration reload. */
function activeSettings(config: OrchestratorConfig): PolicySettings {
  return {
    rulesPath: rulesPathOf(config),
    opaPath: config.policy.opaPath,
    entrypoint: config.policy.opaEntrypoint,
    enforce: config.policy.opaEnforce,
    onError: config.policy.onError,
    evalBudgetMs: config.policy.evalBudgetMs,
    cache: { maxEntries: config.policy.cacheMax, ttlMs: config.policy.cacheTtlMs },
  };
}

/** The files watched for changes: base rules, OPA policy and candidate, as configured. */
function policyFiles(config: OrchestratorConfig): string[] {
  return [rulesPathOf(config), config.policy.opaPath, config.policy.shadowPath].filter((file) => file !== undefined);
}

/** Options the active and the candidate manager share. */
function sharedOptions(
  config: OrchestratorConfig,
): Pick<PolicyManagerOptions, 'entrypoint' | 'onError' | 'evalBudgetMs' | 'readFile' | 'clock'> {
  return {
    entrypoint: config.policy.opaEntrypoint,
    onError: config.policy.onError,
    evalBudgetMs: config.policy.evalBudgetMs,
    readFile: (path) => readFile(path),
    clock: { now: () => performance.now() },
  };
}

/**
 * Loads the candidate as a manager of its own: a `.json` file is base rules; anything else is a compiled OPA policy
 * that decides (enforce), loaded beside the active base rules the manager needs. Uncached: the evaluations happen off
 * the requests' path and a cache would only hold memory.
 */
function candidateFactory(
  config: OrchestratorConfig,
  rulesPath: string,
  path: string,
  logger: Logger,
): () => Promise<PolicyManager> {
  const isRules = path.toLowerCase().endsWith('.json');
  let last = 0;
  return () =>
    PolicyManager.create({
      ...sharedOptions(config),
      rulesPath: isRules ? path : rulesPath,
      opaPath: isRules ? undefined : path,
      enforce: !isRules,
      cache: { maxEntries: 0, ttlMs: 0 },
      hooks: {
        evalError: (kind, message) => {
          const now = performance.now();
          if (now - last < DISAGREEMENT_LOG_INTERVAL_MS) return;
          last = now;
          logger.warn({ event: 'policy_candidate_eval_failed', kind, error: message });
        },
      },
    });
}

/** Counts one candidate evaluation, with the 16 label children made once. */
function shadowCounter(metrics: PolicyMetrics): (active: PolicyAction, shadow: PolicyAction) => void {
  const children = new Map<string, { inc(): void }>();
  return (active, shadow) => {
    const key = `${active}>${shadow}`;
    let child = children.get(key);
    if (child === undefined) {
      child = metrics.shadow.labels(active, shadow);
      children.set(key, child);
    }
    child.inc();
  };
}
