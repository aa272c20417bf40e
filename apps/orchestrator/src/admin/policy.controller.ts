import { Controller, Get, HttpCode, Post, Req, UseGuards } from '@nestjs/common';
import type { PolicyStatus } from '@shieldx/policy';
import type { FastifyRequest } from 'fastify';
import { AdminGuard } from './admin.guard';
import { PolicyService } from '../policy/policy.service';

/** `GET /policy` and `POST /admin/policy/reload`. */
@Controller()
export class PolicyController {
  constructor(private readonly policy: PolicyService) {}

  @Get('policy')
  status(): PolicyStatus {
    return this.policy.status();
  }

  /** Forces a reload; 200 with the outcome either way (a rejected policy keeps the last good one). */
  @Post('admin/policy/reload')
  @HttpCode(200)
  @UseGuards(AdminGuard)
  async reload(
    @Req() request: FastifyRequest,
  ): Promise<{ reloaded: boolean; version: number; error?: string; status: PolicyStatus }> {
    const outcome = await this.policy.reload('admin', request.id);
    return outcome.ok
      ? { reloaded: true, version: outcome.version, status: this.policy.status() }
      : { reloaded: false, version: outcome.version, error: outcome.error, status: this.policy.status() };
  }
}
