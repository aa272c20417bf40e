import { Module } from '@nestjs/common';
import { PoolsService } from './pools.service';

/** The backend pools of this instance. */
@Module({ providers: [PoolsService], exports: [PoolsService] })
export class PoolsModule {}
