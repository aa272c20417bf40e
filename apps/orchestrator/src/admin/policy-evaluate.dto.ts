import {
  ArrayMaxSize,
  IsArray,
  IsIn,
  IsInt,
  IsIP,
  IsNumber,
  IsOptional,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
} from '../validation/class-validator';
import { RoutedRequestDto } from '../routing/route-request.dto';

/** Methods a what-if input may name. */
export const EVALUATE_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;

/** Most identity SANs of one kind a what-if input may carry. */
const MAX_SANS = 16;

/**
 * Body of `POST /admin/policy/evaluate` (docs/admin-api.md): the fields of the policy input, flat. `service`,
 * `tenant`, `scope` and `path` are `POST /route`'s ({@link RoutedRequestDto}); the rest is optional (`method` GET,
 * `ip` 127.0.0.1, `poolHealth` 1, no threat score, no identity, no DPoP key). Unknown fields are refused.
 */
export class PolicyEvaluateDto extends RoutedRequestDto {
  @IsOptional()
  @IsIn(EVALUATE_METHODS)
  method?: (typeof EVALUATE_METHODS)[number];

  @IsOptional()
  @IsString()
  @IsIP(undefined, { message: 'ip must be an IPv4 or IPv6 address' })
  ip?: string;

  /** The client IP's threat score, 0–100, as a threat service would give it. */
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(100)
  threatScore?: number;

  /** Share of healthy backends of the pool, 0–1. */
  @IsOptional()
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Min(0)
  @Max(1)
  poolHealth?: number;

  @IsOptional()
  @IsString()
  @MaxLength(512)
  userAgent?: string;

  /** URI SANs of the client certificate (SPIFFE IDs). */
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(MAX_SANS)
  @IsString({ each: true })
  @MaxLength(512, { each: true })
  identityUris?: string[];

  /** DNS SANs of the client certificate. */
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(MAX_SANS)
  @IsString({ each: true })
  @MaxLength(253, { each: true })
  identityDns?: string[];

  /** RFC 7638 thumbprint of a DPoP key (43 base64url characters). */
  @IsOptional()
  @IsString()
  @Matches(/^[A-Za-z0-9_-]{43}$/, { message: 'dpopJkt must be a JWK thumbprint (43 base64url characters)' })
  dpopJkt?: string;
}
