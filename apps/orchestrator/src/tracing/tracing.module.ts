import { Module } from '@nestjs/common';
import { TracingService } from './tracing.service';

/** Provides {@link TracingService} everywhere (the gateway hooks, the route pipeline and the proxy use it). */
@Module({ providers: [TracingService], exports: [TracingService] })
export class TracingModule {}
