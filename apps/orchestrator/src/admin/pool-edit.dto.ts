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
 * (`host:port` means `http://host:port`), `weights` maps some of them to a weight > 0 (others get 1), `meta` maps some
 * of them to `{zone?, region?, cost?}` (others have none), `algo` sets its algorithm (kept when absent). Unknown fields
 * are refused. URL, weight and metadata rules beyond the shape are checked by
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

  @IsOptional()
  @IsObject()
  meta?: Record<string, unknown>;
}
