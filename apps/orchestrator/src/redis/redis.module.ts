import { Inject, Injectable, Module, type OnApplicationShutdown } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { REDIS_CLIENT } from './redis.constants';
import { redisClientProvider } from './redis.providers';

/** Closes the shared client when the application shuts down (QUIT, or a hard disconnect if that fails). */
@Injectable()
export class RedisShutdown implements OnApplicationShutdown {
  constructor(@Inject(REDIS_CLIENT) private readonly client: Redis | null) {}

  async onApplicationShutdown(): Promise<void> {
    if (this.client === null) return;
    try {
      await this.client.quit();
    } catch {
      this.client.disconnect();
    }
  }
}

/** Provides the one shared Redis client ({@link REDIS_CLIENT}, `null` when Redis is not configured) everywhere. */
@Module({ providers: [redisClientProvider, RedisShutdown], exports: [REDIS_CLIENT] })
export class RedisModule {}
