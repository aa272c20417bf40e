import { ALGO_NAMES, type AlgoName } from '@shieldx/lb';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsIn,
  IsObject,
  IsOptional,
  IsString,
  MaxLength,
} from '../validation/class-validator';

/** Most backends one pool may have through the admin API. */
export const MAX_POOL_BACKENDS = 256;

/**
 * Body of `PUT /admin/pools/<name>` (docs/admin-api.md). The pool becomes exactly this: `urls` are its backends
 * (`host:port` means `http://host:port`), `weights` maps some of them to a weight > 0 (others get 1), `algo` sets its
 * algorithm (kept when absent). Unknown fields are refused. URL and weight rules beyond the shape are checked by
 * {@link import('./pool-admin.service').PoolAdminService}.
 */
export class PoolEditDto {
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(MAX_POOL_BACKENDS)
  @IsString({ each: true })
  @MaxLength(2048, { each: true })
  urls!: string[];

  @IsOptional()
  @IsIn(ALGO_NAMES)
  algo?: AlgoName;

  @IsOptional()
  @IsObject()
  weights?: Record<string, unknown>;
}
