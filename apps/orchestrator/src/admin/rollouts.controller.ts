import { Body, Controller, Delete, Get, HttpCode, Param, Post, Put, Req, UseGuards } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { InvalidRequestError } from '../errors/errors';
import { RolloutsService, type RolloutAnswer } from '../rollouts/rollouts.service';
import { DtoValidationPipe } from '../validation/validation.pipe';
import { AdminGuard, adminActor } from './admin.guard';
import { RolloutDto } from './rollout.dto';
import { RolloutAdminService, type RolloutAction } from './rollout-admin.service';

const rolloutBody = new DtoValidationPipe(RolloutDto);
const ACTIONS: ReadonlySet<string> = new Set<RolloutAction>(['pause', 'resume', 'promote', 'abort']);

/** `GET /admin/rollouts`: every rollout, live or final. */
export interface RolloutsAnswer {
  readonly rollouts: RolloutAnswer[];
}

/** `DELETE /admin/rollouts/<pool>`. */
export interface RolloutRemovedAnswer {
  readonly pool: string;
  readonly removed: true;
}

/** `/admin/rollouts`: progressive delivery of pools (docs/rollouts.md), behind {@link AdminGuard}. */
@Controller('admin/rollouts')
@UseGuards(AdminGuard)
export class RolloutsController {
  constructor(
    private readonly rollouts: RolloutsService,
    private readonly admin: RolloutAdminService,
  ) {}

  /** Every rollout, live or final. */
  @Get()
  list(): RolloutsAnswer {
    return { rollouts: this.rollouts.list() };
  }

  /** One pool's rollout: state, step, the window's figures, recent transitions. */
  @Get(':pool')
  get(@Param('pool') pool: string): RolloutAnswer {
    return this.admin.get(pool);
  }

  /** Starts a rollout of the pool. */
  @Put(':pool')
  @HttpCode(200)
  put(
    @Param('pool') pool: string,
    @Body(rolloutBody) body: RolloutDto,
    @Req() request: FastifyRequest,
  ): Promise<RolloutAnswer> {
    return this.admin.put(pool, body, { corrId: request.id, actor: adminActor(request) });
  }

  /** Forgets the rollout, aborting it when live. */
  @Delete(':pool')
  @HttpCode(200)
  remove(@Param('pool') pool: string, @Req() request: FastifyRequest): RolloutRemovedAnswer {
    return this.admin.remove(pool, { corrId: request.id, actor: adminActor(request) });
  }

  /** `pause`, `resume`, `promote` or `abort`. */
  @Post(':pool/:action')
  @HttpCode(200)
  act(@Param('pool') pool: string, @Param('action') action: string, @Req() request: FastifyRequest): RolloutAnswer {
    if (!ACTIONS.has(action)) {
      throw new InvalidRequestError('invalid_action', 'the action must be one of pause, resume, promote, abort');
    }
    return this.admin.act(pool, action as RolloutAction, { corrId: request.id, actor: adminActor(request) });
  }
}
