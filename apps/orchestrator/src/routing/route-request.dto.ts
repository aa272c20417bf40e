import { ALGO_NAMES, type AlgoName } from '@shieldx/lb';
import { MAX_PATH_CHARS } from '@shieldx/policy';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsIn,
  IsOptional,
  IsString,
  IsUrl,
  Length,
  Matches,
  MaxLength,
} from '../validation/class-validator';
import { SCOPE_PATTERN, SERVICE_PATTERN, TENANT_PATTERN } from '../validation/names';
import { IsSafePath } from '../validation/safe-path';

export { SCOPE_PATTERN, SERVICE_PATTERN, TENANT_PATTERN } from '../validation/names';
/** Most ad-hoc candidates one request may name. */
export const MAX_CANDIDATES = 32;

/**
 * What is routed: the fields and rules shared by `POST /route` and every input that stands for a routed request (the
 * admin what-if input). Subclasses inherit the validation.
 */
export class RoutedRequestDto {
  @IsString()
  @Matches(SERVICE_PATTERN)
  service!: string;

  @IsString()
  @Matches(TENANT_PATTERN)
  tenant!: string;

  @IsString()
  @Matches(SCOPE_PATTERN)
  scope!: string;

  @IsString()
  @MaxLength(MAX_PATH_CHARS)
  @IsSafePath()
  path!: string;
}

/** Body of `POST /route` (docs/http-api.md). Unknown fields are refused. */
export class RouteRequestDto extends RoutedRequestDto {
  /** Stickiness key for `rendezvous`; the client IP is used when absent. */
  @IsOptional()
  @IsString()
  @Length(1, 256)
  hashKey?: string;

  @IsOptional()
  @IsIn(ALGO_NAMES)
  algo?: AlgoName;

  /** Ad-hoc backends to balance over instead of the service's pool. */
  @IsOptional()
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(MAX_CANDIDATES)
  @IsString({ each: true })
  @IsUrl(
    { protocols: ['http', 'https'], require_protocol: true, require_tld: false, require_host: true },
    { each: true },
  )
  candidates?: string[];
}
