import { Injectable } from '@nestjs/common';
import { parseBackendUrl, parseDuration } from '../config/parse';
import { InvalidRequestError, RolloutConflictError } from '../errors/errors';
import { SecurityEvents } from '../events/security-events';
import { PoolsService } from '../pools/pools.service';
import { RolloutsService, type RolloutAnswer } from '../rollouts/rollouts.service';
import { checkPoolName, PoolAdminService, type AdminContext } from './pool-admin.service';
import type { RolloutDto } from './rollout.dto';

/** Shortest analysis interval the admin API accepts (ms). */
const MIN_INTERVAL_MS = 100;
/** Longest analysis interval the admin API accepts (ms): one day. */
const MAX_INTERVAL_MS = 86_400_000;

/** The manual actions on a rollout. */
export type RolloutAction = 'pause' | 'resume' | 'promote' | 'abort';

/**
 * Rollouts through the admin API: checks the body beyond its shape (URLs, disjoint sets, rising steps ending at 100,
 * interval), refuses SSRF targets on both sides with the rules of pool edits ({@link PoolAdminService.checkTargets}), makes the
 * pool the stable set (a pool edit, recorded as `pool.changed`, when it differs), then starts the rollout. Every
 * change is audited as `admin.action`; the rollout's own transitions are `rollout.step` events.
 */
@Injectable()
export class RolloutAdminService {
  constructor(
    private readonly pools: PoolsService,
    private readonly poolAdmin: PoolAdminService,
    private readonly rollouts: RolloutsService,
    private readonly events: SecurityEvents,
  ) {}

  /** Starts a rollout of `name`. @throws InvalidRequestError, BackendRefusedError, RolloutConflictError */
  async put(name: string, body: RolloutDto, ctx: AdminContext): Promise<RolloutAnswer> {
    checkPoolName(name);
    const problems: { field: string; messages: string[] }[] = [];
    const stable = urlsOf('stable', body.stable, problems);
    const canary = urlsOf('canary', body.canary, problems);
    for (const url of canary) {
      if (stable.includes(url)) problems.push({ field: 'canary', messages: [`'${url}' is also a stable backend`] });
    }
    const steps = body.steps;
    for (let i = 1; i < steps.length; i++) {
      if (steps[i] <= steps[i - 1]) {
        problems.push({ field: 'steps', messages: ['steps must rise strictly (percent of traffic to the canary)'] });
        break;
      }
    }
    if (steps[steps.length - 1] !== 100) {
      problems.push({ field: 'steps', messages: ['the last step must be 100 (the canary takes all traffic)'] });
    }
    let intervalMs = 0;
    try {
      intervalMs = parseDuration(body.interval);
      if (intervalMs < MIN_INTERVAL_MS || intervalMs > MAX_INTERVAL_MS) {
        throw new Error(`interval must be from ${MIN_INTERVAL_MS}ms to 24h, got '${body.interval}'`);
      }
    } catch (error) {
      problems.push({ field: 'interval', messages: [(error as Error).message] });
    }
    if (problems.length > 0) {
      throw new InvalidRequestError('invalid_request', problems.flatMap((p) => p.messages).join('; '), problems);
    }
    await this.poolAdmin.checkTargets([...stable, ...canary], 'rollout.put', name, ctx);
    if (this.rollouts.isLive(name)) throw new RolloutConflictError(`pool '${name}' already has a live rollout`);
    if (!this.pools.hasExactly(name, stable)) await this.poolAdmin.put(name, { urls: stable }, ctx);
    const answer = this.rollouts.start(
      {
        pool: name,
        stable,
        canary,
        spec: {
          steps: [...steps],
          intervalMs,
          maxErrorRate: body.maxErrorRate,
          maxP99Ratio: body.maxP99Ratio,
          minRequests: body.minRequests,
          sticky: body.sticky === true,
          // Blue-green switches every request at once: it is previewed unless the body says otherwise.
          preview: body.preview ?? steps.length === 1,
          ...(body.previewMethods === undefined ? {} : { previewMethods: [...new Set(body.previewMethods)] }),
        },
      },
      ctx.actor,
      ctx.corrId,
    );
    this.audited('rollout.put', name, ctx);
    return answer;
  }

  /** Pause, resume, promote or abort. @throws UnknownRolloutError, RolloutConflictError */
  act(name: string, action: RolloutAction, ctx: AdminContext): RolloutAnswer {
    checkPoolName(name);
    const answer = this.rollouts.act(name, action, ctx.actor, ctx.corrId);
    this.audited(`rollout.${action}`, name, ctx);
    return answer;
  }

  /** Forgets the rollout (aborting it when live). @throws UnknownRolloutError */
  remove(name: string, ctx: AdminContext): { pool: string; removed: true } {
    checkPoolName(name);
    const answer = this.rollouts.remove(name, ctx.actor, ctx.corrId);
    this.audited('rollout.delete', name, ctx);
    return answer;
  }

  /** The rollout of `name`. @throws UnknownRolloutError */
  get(name: string): RolloutAnswer {
    checkPoolName(name);
    return this.rollouts.get(name);
  }

  private audited(action: string, pool: string, ctx: AdminContext): void {
    this.events.emit({ type: 'admin.action', corrId: ctx.corrId, data: { action, pool, actor: ctx.actor } });
  }
}

/** The parsed, de-duplicated URLs of one side; problems are added to `problems`. */
function urlsOf(field: string, raw: readonly string[], problems: { field: string; messages: string[] }[]): string[] {
  const urls: string[] = [];
  raw.forEach((text, i) => {
    try {
      const url = parseBackendUrl(text);
      if (urls.includes(url)) throw new Error(`'${text}' is listed twice`);
      urls.push(url);
    } catch (error) {
      problems.push({ field: `${field}[${i}]`, messages: [(error as Error).message] });
    }
  });
  return urls;
}
