import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module';
import { RateLimitModule } from '../ratelimit/rate-limit.module';
import { TlsModule } from '../tls/tls.module';
import { TracingModule } from '../tracing/tracing.module';
import { GatewayPipeline } from './gateway-hooks';
import { RawRoutes } from './raw-routes';

/** The request pipeline ({@link GatewayPipeline}) and the one way edges register raw routes ({@link RawRoutes}). */
@Module({
  imports: [RateLimitModule, AuthModule, TlsModule, TracingModule],
  providers: [GatewayPipeline, RawRoutes],
  exports: [GatewayPipeline, RawRoutes],
})
export class PipelineModule {}
