import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsIn,
  IsInt,
  IsNumber,
  IsOptional,
  IsString,
  Max,
  MaxLength,
  Min,
} from '../validation/class-validator';

/** Most backends one side of a rollout may have. */
export const MAX_ROLLOUT_BACKENDS = 256;
/** Most steps one rollout may have. */
export const MAX_ROLLOUT_STEPS = 20;
/** Methods a preview may copy (those `/proxy` serves). */
export const PREVIEW_METHODS: readonly string[] = ['GET', 'HEAD', 'OPTIONS', 'POST', 'PUT', 'DELETE', 'PATCH'];

/**
 * Body of `PUT /admin/rollouts/<pool>` (docs/rollouts.md): the stable and canary backend sets, the canary shares in
 * percent (`steps`, strictly rising, ending at 100), the analysis interval (`interval`, a duration such as `30s`), the
 * thresholds, and `sticky` (the request key keeps a caller on one side). Unknown fields are refused; URL and step
 * rules beyond the shape are checked by {@link import('./rollout-admin.service').RolloutAdminService}.
 */
export class RolloutDto {
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(MAX_ROLLOUT_BACKENDS)
  @IsString({ each: true })
  @MaxLength(2048, { each: true })
  stable!: string[];

  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(MAX_ROLLOUT_BACKENDS)
  @IsString({ each: true })
  @MaxLength(2048, { each: true })
  canary!: string[];

  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(MAX_ROLLOUT_STEPS)
  @IsInt({ each: true })
  @Min(1, { each: true })
  @Max(100, { each: true })
  steps!: number[];

  @IsString()
  @MaxLength(32)
  interval!: string;

  @IsNumber()
  @Min(0)
  @Max(1)
  maxErrorRate!: number;

  @IsNumber()
  @Min(1)
  @Max(100)
  maxP99Ratio!: number;

  @IsInt()
  @Min(1)
  @Max(1_000_000)
  minRequests!: number;

  @IsOptional()
  @IsIn([true, false])
  sticky?: boolean;

  /** One interval of preview (copies of safe requests, no client traffic) first; default: true for `steps: [100]`. */
  @IsOptional()
  @IsIn([true, false])
  preview?: boolean;

  /** Methods the preview copies; default `["GET", "HEAD"]`. Others change state on a backend: list them knowingly. */
  @IsOptional()
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(PREVIEW_METHODS.length)
  @IsIn(PREVIEW_METHODS, { each: true })
  previewMethods?: string[];
}
