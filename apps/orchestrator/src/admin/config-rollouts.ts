import { Inject, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import type { OrchestratorConfig } from '../config/config';
import { ORCH_CONFIG } from '../config/config.module';
import { GatewayError } from '../errors/errors';
import { PoolsService } from '../pools/pools.service';
import { RolloutsService } from '../rollouts/rollouts.service';
import { DtoValidationPipe } from '../validation/validation.pipe';
import { RolloutAdminService } from './rollout-admin.service';
import { RolloutDto } from './rollout.dto';

const rolloutBody = new DtoValidationPipe(RolloutDto);

/** Who starts the rollouts of the configuration, in the ledger. */
const CONFIG_ACTOR = 'config';

/**
 * Why a configured rollout did not start: its pool has a live rollout, already serves the canary set, or rolled back
 * (or was aborted) with this very canary set before, which only an admin's explicit start may try again.
 */
export type SkipReason = 'rolling_out' | 'already_canary' | 'rolled_back' | 'aborted';

/** What applying the configured rollouts did: pools whose rollout started, skipped (and why), or failed. */
export interface ConfigRolloutsOutcome {
  readonly started: readonly string[];
  readonly skipped: readonly { readonly pool: string; readonly reason: SkipReason }[];
  readonly failed: readonly { readonly pool: string; readonly error: string }[];
}

/**
 * The rollouts of the configuration (ORCH_ROLLOUTS, docs/rollouts.md): each is started through the admin API's own
 * checks (body, URLs, SSRF rules; actor `config`) at start-up and on a configuration reload, unless its pool has a
 * rollout running or paused already, already serves exactly the canary set (it was promoted before a restart), or
 * has a rollout of the same canary set that rolled back or was aborted (kept over restarts).
 * A configured rollout that cannot start stops start-up; on a reload it is reported and the others still start.
 */
@Injectable()
export class ConfigRollouts implements OnApplicationBootstrap {
  private readonly logger = new Logger('rollouts');

  constructor(
    @Inject(ORCH_CONFIG) private readonly config: OrchestratorConfig,
    private readonly pools: PoolsService,
    private readonly rollouts: RolloutsService,
    private readonly admin: RolloutAdminService,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const outcome = await this.apply(this.config.rollouts);
    if (outcome.failed.length > 0) {
      throw new Error(
        `ORCH_ROLLOUTS: ${outcome.failed.map(({ pool, error }) => `the rollout of '${pool}': ${error}`).join('; ')}`,
      );
    }
  }

  /** Starts the rollouts of `rollouts` that are not running or done already. Never rejects. */
  async apply(rollouts: ReadonlyMap<string, Readonly<Record<string, unknown>>>): Promise<ConfigRolloutsOutcome> {
    const started: string[] = [];
    const skipped: { pool: string; reason: SkipReason }[] = [];
    const failed: { pool: string; error: string }[] = [];
    for (const [pool, raw] of rollouts) {
      try {
        const body = rolloutBody.transform(raw);
        if (this.rollouts.isLive(pool)) {
          skipped.push({ pool, reason: 'rolling_out' });
          continue;
        }
        const previous = this.rollouts.stateOf(pool);
        if (
          (previous?.state === 'rolled_back' || previous?.state === 'aborted') &&
          sameSet(previous.canaryUrls, body.canary)
        ) {
          skipped.push({ pool, reason: previous.state });
          continue;
        }
        const current = this.pools.get(pool)?.backends.map((backend) => backend.url) ?? [];
        if (sameSet(current, body.canary)) {
          skipped.push({ pool, reason: 'already_canary' });
          continue;
        }
        await this.admin.put(pool, body, { corrId: CONFIG_ACTOR, actor: CONFIG_ACTOR });
        started.push(pool);
      } catch (error) {
        failed.push({ pool, error: error instanceof GatewayError ? error.message : String(error) });
      }
    }
    if (rollouts.size > 0) this.logger.log({ event: 'config_rollouts', started, skipped, failed });
    return { started, skipped, failed };
  }
}

/** The same URLs, trailing slashes aside, whatever the order. */
function sameSet(a: readonly string[], b: readonly string[]): boolean {
  const norm = (url: string) => url.replace(/\/+$/, '');
  const left = new Set(a.map(norm));
  return left.size === new Set(b.map(norm)).size && b.every((url) => left.has(norm(url)));
}
