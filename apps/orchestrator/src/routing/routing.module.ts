import { Module } from '@nestjs/common';
import { AdvisorsModule } from '../advisors/advisors.module';
import { PolicyModule } from '../policy/policy.module';
import { PoolsModule } from '../pools/pools.module';
import { RateLimitModule } from '../ratelimit/rate-limit.module';
import { RolloutsModule } from '../rollouts/rollouts.module';
import { TracingModule } from '../tracing/tracing.module';
import { ClientRegions } from './client-regions';
import { RouteService } from './route.service';
import { ROUTING_METRIC_PROVIDERS, RoutingMetrics } from './routing-metrics';

/** The routing decision shared by `POST /route` and `/proxy`: tenant, limits, policy, client region, backend pick. */
@Module({
  imports: [PoolsModule, PolicyModule, RateLimitModule, TracingModule, AdvisorsModule, RolloutsModule],
  providers: [...ROUTING_METRIC_PROVIDERS, RoutingMetrics, RouteService, ClientRegions],
  exports: [RouteService, ClientRegions, RolloutsModule],
})
export class RoutingModule {}
