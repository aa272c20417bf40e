import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { isDeepStrictEqual } from 'node:util';
import { ConfigError, type OrchestratorConfig } from '../config/config';
import { CONFIG_SOURCE, ORCH_CONFIG, type ConfigSource } from '../config/config.module';
import type { ConfigPath } from '../config/setting';
import { SETTINGS } from '../config/settings/table';
import { SecurityEvents } from '../events/security-events';
import { PoolsService } from '../pools/pools.service';
import { ConfigRollouts, type ConfigRolloutsOutcome } from './config-rollouts';

/**
 * Settings a reload applies to the running gateway: the pools of the configuration (backends, weights, zones,
 * costs, per-pool algorithms) and the rate limits read on every request. Every other changed setting needs a restart.
 */
const LIVE: readonly ConfigPath[] = [
  'pools',
  'rollouts',
  'rateLimit.ipPerMinute',
  'rateLimit.ipPerMinuteDegraded',
  'rateLimit.tenantPerMinute',
  'rateLimit.tenantOverrides',
];

/** What a configuration reload did (`POST /admin/config/reload`, SIGHUP). */
export type ConfigReloadOutcome =
  | {
      readonly ok: true;
      /** Settings applied now, by name. */
      readonly applied: readonly string[];
      /** Pools defined or redefined, and removed. */
      readonly pools: { readonly defined: readonly string[]; readonly removed: readonly string[] };
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

  constructor(
    @Inject(ORCH_CONFIG) private readonly config: OrchestratorConfig,
    @Inject(CONFIG_SOURCE) private readonly source: ConfigSource,
    private readonly pools: PoolsService,
    private readonly events: SecurityEvents,
    private readonly configRollouts: ConfigRollouts,
  ) {}

  onApplicationBootstrap(): void {
    process.on('SIGHUP', this.onSignal);
  }

  onApplicationShutdown(): void {
    process.off('SIGHUP', this.onSignal);
  }

  /**
   * Reads the configuration again and applies what it can. Never throws for a bad file: the outcome says why.
   * @param actor who asked (`signal`, or the admin's actor)
   */
  async reload(actor: string, corrId?: string): Promise<ConfigReloadOutcome> {
    let next: OrchestratorConfig;
    try {
      next = this.source();
    } catch (error) {
      const problems = error instanceof ConfigError ? error.problems : [(error as Error).message];
      this.logger.error({ event: 'config_reload_rejected', actor, problems });
      this.events.emit({
        type: 'admin.action',
        corrId,
        data: { action: 'config.reload', result: 'rejected', actor, problems },
      });
      return { ok: false, problems };
    }
    const running = this.config as unknown as Record<string, Record<string, unknown>>;
    const loaded = next as unknown as Record<string, Record<string, unknown>>;
    const changed = (path: ConfigPath): boolean => !isDeepStrictEqual(valueAt(running, path), valueAt(loaded, path));
    const all = [...KEY_OF.keys()].filter(changed);
    const live = all.filter((path) => LIVE.includes(path));
    const restartRequired = all.filter((path) => !LIVE.includes(path)).map((path) => KEY_OF.get(path) ?? path);
    const pools = this.pools.applyConfigured(next.pools, this.config.pools);
    for (const path of live) {
      const [group, field] = path.split('.') as [string, string | undefined];
      if (field === undefined) running[group] = loaded[group];
      else running[group][field] = loaded[group][field];
    }
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
}

/** The value of a configuration field (`group.field` or a top-level field). */
function valueAt(config: Record<string, Record<string, unknown>>, path: ConfigPath): unknown {
  const [group, field] = path.split('.') as [string, string | undefined];
  return field === undefined ? config[group] : config[group]?.[field];
}
