import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { isDeepStrictEqual } from 'node:util';
import { ConfigError, type OrchestratorConfig } from '../config/config';
import { CONFIG_SOURCE, ORCH_CONFIG, type ConfigSource } from '../config/config.module';
import type { ConfigPath } from '../config/setting';
import { SETTINGS } from '../config/settings/table';
import { SecurityEvents } from '../events/security-events';
import { PolicyService } from '../policy/policy.service';
import { PoolsService } from '../pools/pools.service';
import { RolloutsService } from '../rollouts/rollouts.service';
import { ConfigRollouts, type ConfigRolloutsOutcome } from './config-rollouts';

/**
 * Policy settings a reload applies by loading the policy they name beside the running one
 * ({@link PolicyService.reconfigure}); the candidate's queue length is fixed at start.
 */
const POLICY_LIVE: readonly ConfigPath[] = [
  'policy.path',
  'policy.opaPath',
  'policy.opaEntrypoint',
  'policy.opaEnforce',
  'policy.cacheTtlMs',
  'policy.cacheMax',
  'policy.onError',
  'policy.evalBudgetMs',
  'policy.shadowPath',
];

/**
 * Settings a reload applies to the running gateway: the pools of the configuration (backends, weights, zones,
 * costs, per-pool algorithms), the rate limits and the divert pool and tarpit cap, read on every request, and the
 * policy settings. Every other changed setting needs a restart.
 */
const LIVE: readonly ConfigPath[] = [
  'pools',
  'rollouts',
  'rateLimit.ipPerMinute',
  'rateLimit.ipPerMinuteDegraded',
  'rateLimit.tenantPerMinute',
  'rateLimit.tenantOverrides',
  'policy.divertPool',
  'policy.tarpitMax',
  ...POLICY_LIVE,
];

/** What a configuration reload did (`POST /admin/config/reload`, SIGHUP). */
export type ConfigReloadOutcome =
  | {
      readonly ok: true;
      /** Settings applied now, by name. */
      readonly applied: readonly string[];
      /**
       * Pools defined or redefined, and removed; `held`: changed pools under a live rollout, left as they are (the
       * next reload after the rollout ends applies them).
       */
      readonly pools: {
        readonly defined: readonly string[];
        readonly removed: readonly string[];
        readonly held?: readonly string[];
      };
      /** Settings that changed in the file but only take effect after a restart, by name. */
      readonly restartRequired: readonly string[];
      /** When ORCH_ROLLOUTS changed: the rollouts started, skipped and refused. */
      readonly rollouts?: ConfigRolloutsOutcome;
    }
  | { readonly ok: false; readonly problems: readonly string[] };

/** The setting that fills each configuration field, for naming what changed. */
const KEY_OF = new Map<ConfigPath, string>(
  SETTINGS.flatMap((row) => (row.at === undefined ? [] : [[row.at, row.key] as const])),
);
// The pools come from the ORCH_POOL_* families as much as from ORCH_BACKENDS_JSON, the row that fills them.
KEY_OF.set('pools', 'pools');

/**
 * Live configuration (docs/configuration.md#reloading-the-configuration): SIGHUP and `POST /admin/config/reload`
 * read the `ORCH_CONFIG` file again (the environment still wins over it) and validate it whole. An invalid file changes
 * nothing and says why. A valid one applies the {@link LIVE} settings at once — pools through the pools service, rate
 * limits into the running configuration, which the limiter reads per request — and names the changed settings that
 * need a restart. Every reload is audited (`admin.action` `config.reload`, actor `signal` for SIGHUP).
 */
@Injectable()
export class ConfigReloadService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('config');
  private readonly onSignal = (): void => void this.reload('signal');
  /** The reload running or last run: each reload starts after it, so reloads never interleave. */
  private last: Promise<unknown> = Promise.resolve();

  constructor(
    @Inject(ORCH_CONFIG) private readonly config: OrchestratorConfig,
    @Inject(CONFIG_SOURCE) private readonly source: ConfigSource,
    private readonly pools: PoolsService,
    private readonly events: SecurityEvents,
    private readonly configRollouts: ConfigRollouts,
    private readonly rollouts: RolloutsService,
    private readonly policy: PolicyService,
  ) {}

  onApplicationBootstrap(): void {
    process.on('SIGHUP', this.onSignal);
  }

  onApplicationShutdown(): void {
    process.off('SIGHUP', this.onSignal);
  }

  /**
   * Reads the configuration again and applies what it can. Never throws for a bad file: the outcome says why.
   * Reloads run one after another, each reading the file when its turn comes: a reload compares the file with the
   * running configuration and awaits the policy and the rollouts before it writes, so two at once would each apply
   * what they read against a configuration the other is changing (the older file could win, or a mix of both), and
   * their audited outcomes would not be what ran. In turn, the last file read is what runs.
   * @param actor who asked (`signal`, or the admin's actor)
   */
  reload(actor: string, corrId?: string): Promise<ConfigReloadOutcome> {
    const turn = this.last.then(() => this.reloadNow(actor, corrId));
    // A failed reload (it rejects only on a bug) must not stop the ones queued after it.
    this.last = turn.catch(() => undefined);
    return turn;
  }

  /** One reload, with no other running. */
  private async reloadNow(actor: string, corrId: string | undefined): Promise<ConfigReloadOutcome> {
    let next: OrchestratorConfig;
    try {
      next = this.source();
    } catch (error) {
      return this.rejected(actor, corrId, error instanceof ConfigError ? error.problems : [(error as Error).message]);
    }
    const running = this.config as unknown as Record<string, Record<string, unknown>>;
    const loaded = next as unknown as Record<string, Record<string, unknown>>;
    const changed = (path: ConfigPath): boolean => !isDeepStrictEqual(valueAt(running, path), valueAt(loaded, path));
    const all = [...KEY_OF.keys()].filter(changed);
    const live = all.filter((path) => LIVE.includes(path));
    const restartRequired = all.filter((path) => !LIVE.includes(path)).map((path) => KEY_OF.get(path) ?? path);
    // The policy first: a file that does not load refuses the whole reload, before anything else changed.
    if (live.some((path) => POLICY_LIVE.includes(path))) {
      const outcome = await this.policy.reconfigure(next, corrId, actor);
      if (!outcome.ok) return this.rejected(actor, corrId, [`policy: ${outcome.error}`]);
    }
    // A pool under a live rollout belongs to the rollout: its configured change waits, kept as not yet applied.
    const previous = this.config.pools;
    const held = [...new Set([...previous.keys(), ...next.pools.keys()])].filter(
      (name) => this.rollouts.isLive(name) && !isDeepStrictEqual(previous.get(name), next.pools.get(name)),
    );
    const nextPools = new Map(next.pools);
    for (const name of held) {
      const kept = previous.get(name);
      if (kept === undefined) nextPools.delete(name);
      else nextPools.set(name, kept);
    }
    const changes = this.pools.applyConfigured(nextPools, previous);
    const pools = held.length === 0 ? changes : { ...changes, held };
    for (const path of live) {
      const [group, field] = path.split('.') as [string, string | undefined];
      if (field === undefined) running[group] = loaded[group];
      else running[group][field] = loaded[group][field];
    }
    if (held.length > 0) (running as Record<string, unknown>)['pools'] = nextPools;
    const applied = live.map((path) => KEY_OF.get(path) ?? path);
    const rollouts = live.includes('rollouts') ? await this.configRollouts.apply(next.rollouts) : undefined;
    this.logger.log({ event: 'config_reloaded', actor, applied, pools, restartRequired, rollouts });
    this.events.emit({
      type: 'admin.action',
      corrId,
      data: {
        action: 'config.reload',
        result: 'success',
        actor,
        applied,
        pools,
        restartRequired,
        ...(rollouts === undefined ? {} : { rollouts }),
      },
    });
    return { ok: true, applied, pools, restartRequired, ...(rollouts === undefined ? {} : { rollouts }) };
  }

  /** A reload refused, with why: logged, audited, nothing applied. */
  private rejected(actor: string, corrId: string | undefined, problems: readonly string[]): ConfigReloadOutcome {
    this.logger.error({ event: 'config_reload_rejected', actor, problems });
    this.events.emit({
      type: 'admin.action',
      corrId,
      data: { action: 'config.reload', result: 'rejected', actor, problems },
    });
    return { ok: false, problems };
  }
}

/** The value of a configuration field (`group.field` or a top-level field). */
function valueAt(config: Record<string, Record<string, unknown>>, path: ConfigPath): unknown {
  const [group, field] = path.split('.') as [string, string | undefined];
  return field === undefined ? config[group] : config[group]?.[field];
}
