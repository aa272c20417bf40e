import { Injectable, Logger, Module, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { PoolsModule } from '../pools/pools.module';
import { PoolsService } from '../pools/pools.service';
import { DEMO_POOLS, startDemoBackend, type RunningDemoBackend } from './demo-backends';

/** Starts the built-in demo backends (ORCH_DEMO=1) and defines the demo pools that configuration did not define. */
@Injectable()
export class DemoBackends implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('demo');
  private readonly running: RunningDemoBackend[] = [];

  constructor(private readonly pools: PoolsService) {}

  async onModuleInit(): Promise<void> {
    for (const [pool, profiles] of Object.entries(DEMO_POOLS)) {
      if (this.pools.has(pool)) continue;
      const backends = await Promise.all(profiles.map((profile) => startDemoBackend(profile)));
      this.running.push(...backends);
      this.pools.define(
        pool,
        backends.map((b) => ({ url: b.url })),
      );
      this.logger.log({ event: 'demo_pool', pool, backends: backends.map((b) => `${b.profile.name}=${b.url}`) });
    }
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.all(this.running.splice(0).map((backend) => backend.close()));
  }
}

/** Demo mode: loopback backends with different latencies behind the pools `api`, `search`, `static`. */
@Module({ imports: [PoolsModule], providers: [DemoBackends] })
export class DemoModule {}
