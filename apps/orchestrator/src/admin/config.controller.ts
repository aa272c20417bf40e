import { Controller, HttpCode, Post, Req, UseGuards } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { ConfigInvalidError } from '../errors/errors';
import { AdminGuard, adminActor } from './admin.guard';
import { ConfigReloadService, type ConfigReloadOutcome } from './config-reload.service';

/** `POST /admin/config/reload` when the configuration was applied. */
export type ConfigReloadAnswer = Extract<ConfigReloadOutcome, { ok: true }>;

/** `POST /admin/config/reload` (docs/admin-api.md). */
@Controller('admin')
@UseGuards(AdminGuard)
export class ConfigController {
  constructor(private readonly reloader: ConfigReloadService) {}

  /**
   * Reads the configuration again: 200 with what was applied and what needs a restart, or 422 `config_invalid` with
   * the problems (nothing changed). Audited either way.
   */
  @Post('config/reload')
  @HttpCode(200)
  async reload(@Req() request: FastifyRequest): Promise<ConfigReloadAnswer> {
    const outcome = await this.reloader.reload(adminActor(request), request.id);
    if (!outcome.ok) throw new ConfigInvalidError({ problems: outcome.problems });
    return outcome;
  }
}
