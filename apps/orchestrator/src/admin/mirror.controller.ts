import { Controller, Get, UseGuards } from '@nestjs/common';
import { TrafficMirror, type MirrorView } from '../proxy/traffic-mirror';
import { AdminGuard } from './admin.guard';

/** `GET /admin/mirror`: every mirrored pool. */
export interface MirrorAnswer {
  readonly mirrors: MirrorView[];
}

/** `GET /admin/mirror`: the mirrored pools and how their copies compared (docs/admin-api.md). */
@Controller('admin')
@UseGuards(AdminGuard)
export class MirrorController {
  constructor(private readonly mirror: TrafficMirror) {}

  @Get('mirror')
  view(): MirrorAnswer {
    return { mirrors: this.mirror.view() };
  }
}
