import { Global, Module } from '@nestjs/common';
import { PoolsService } from './pools.service';

/** The backend pools of this instance. */
@Global()
@Module({ providers: [PoolsService], exports: [PoolsService] })
export class PoolsModule {}
