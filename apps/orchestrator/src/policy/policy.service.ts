import { Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { PolicyManager, type PolicyStatus, type ReloadOutcome } from '@shieldx/policy';
import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import type { OrchestratorConfig } from '../config/config';
import { Emitter } from '../events/emitter';
import { SecurityEvents } from '../events/security-events';
import { bundledPolicyFile, DEFAULT_RULES } from './bundled';
import { PolicyMetrics } from './policy-metrics';

/** Quiet time after the last file change before a reload (editors and `kubectl cp` write in several steps). */
const DEBOUNCE_MS = 200;
/** At most one disagreement log line per this interval; the counter counts them all. */
const DISAGREEMENT_LOG_INTERVAL_MS = 1000;

/** What started a reload: the admin API, a watched file, or an admin reload on another instance (cluster channel). */
export type PolicyReloadTrigger = 'watch' | 'admin' | 'cluster';

/**
 * Owns the running {@link PolicyManager}: loads it at boot (a broken policy stops start-up), watches both policy files
 * and reloads on change, and turns reloads into metrics, log lines and security events.
 */
@Injectable()
export class PolicyService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('policy');
  private readonly watchers: FSWatcher[] = [];
  private debounce: NodeJS.Timeout | undefined;
  private readonly reloads = new Emitter<{ outcome: ReloadOutcome; trigger: PolicyReloadTrigger }>((error) =>
    this.logger.error({ event: 'policy_reload_listener_failed', err: error }),
  );

  private constructor(
    /** The engine the pipeline asks. */
    readonly manager: PolicyManager,
    private readonly files: readonly string[],
    private readonly metrics: PolicyMetrics,
    private readonly events: SecurityEvents,
  ) {}

  /** Builds the service; rejects with the loader's message when the configured policy cannot be loaded. */
  static async create(
    config: OrchestratorConfig,
    metrics: PolicyMetrics,
    events: SecurityEvents,
  ): Promise<PolicyService> {
    const rulesPath = config.policy.path ?? bundledPolicyFile(DEFAULT_RULES);
    const logger = new Logger('policy');
    let last = 0;
    const manager = await PolicyManager.create({
      rulesPath,
      opaPath: config.policy.opaPath,
      entrypoint: config.policy.opaEntrypoint,
      enforce: config.policy.opaEnforce,
      onError: config.policy.onError,
      evalBudgetMs: config.policy.evalBudgetMs,
      cache: { maxEntries: config.policy.cacheMax, ttlMs: config.policy.cacheTtlMs },
      readFile: (path) => readFile(path),
      clock: { now: () => performance.now() },
      hooks: {
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
    const files = [rulesPath, ...(config.policy.opaPath === undefined ? [] : [config.policy.opaPath])];
    return new PolicyService(manager, files, metrics, events);
  }

  onModuleInit(): void {
    this.logger.log({ event: 'policy_loaded', ...this.manager.status() });
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

  /** `GET /policy`. */
  status(): PolicyStatus {
    return this.manager.status();
  }

  /** Reloads now (admin API, watcher, or another instance's admin reload); records the outcome. Never rejects. */
  async reload(trigger: PolicyReloadTrigger, corrId?: string): Promise<ReloadOutcome> {
    const outcome = await this.manager.reload();
    this.metrics.reload.labels(outcome.ok ? 'success' : 'failure').inc();
    if (outcome.ok) {
      this.metrics.version.set(outcome.version);
      this.logger.log({ event: 'policy_reloaded', trigger, version: outcome.version, source: this.manager.source });
    } else {
      this.logger.error({ event: 'policy_reload_rejected', trigger, version: outcome.version, error: outcome.error });
    }
    this.events.emit({
      type: 'policy.reloaded',
      corrId,
      data: outcome.ok
        ? { result: 'success', trigger, version: outcome.version }
        : { result: 'rejected', trigger, version: outcome.version, error: outcome.error },
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

  private scheduleReload(): void {
    clearTimeout(this.debounce);
    this.debounce = setTimeout(() => void this.reload('watch'), DEBOUNCE_MS);
  }
}
