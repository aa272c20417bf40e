import { createRequire } from 'node:module';
import type * as ClassValidator from 'class-validator';
import type { ValidationError, ValidatorOptions } from 'class-validator';

// class-validator's entry module loads every decorator it has, with all of validator.js and libphonenumber-js's
// metadata: about 3 MB of heap. The gateway's rules use a dozen; these come from their own modules (the same
// modules the entry re-exports, so the metadata storage and the validator are class-validator's own).
const fromClassValidator = createRequire(createRequire(import.meta.url).resolve('class-validator'));
const load = <K extends keyof typeof ClassValidator>(path: string): Pick<typeof ClassValidator, K> =>
  fromClassValidator(path) as Pick<typeof ClassValidator, K>;

/** class-validator's `@IsString()`. */
export const { IsString } = load<'IsString'>('./decorator/typechecker/IsString.js');
/** class-validator's `@IsArray()`. */
export const { IsArray } = load<'IsArray'>('./decorator/typechecker/IsArray.js');
/** class-validator's `@IsObject()`. */
export const { IsObject } = load<'IsObject'>('./decorator/typechecker/IsObject.js');
/** class-validator's `@IsInt()`. */
export const { IsInt } = load<'IsInt'>('./decorator/typechecker/IsInt.js');
/** class-validator's `@IsNumber()`. */
export const { IsNumber } = load<'IsNumber'>('./decorator/typechecker/IsNumber.js');
/** class-validator's `@Min()`. */
export const { Min } = load<'Min'>('./decorator/number/Min.js');
/** class-validator's `@Max()`. */
export const { Max } = load<'Max'>('./decorator/number/Max.js');
/** class-validator's `@IsIP()`. */
export const { IsIP } = load<'IsIP'>('./decorator/string/IsIP.js');
/** class-validator's `@IsIn()`. */
export const { IsIn } = load<'IsIn'>('./decorator/common/IsIn.js');
/** class-validator's `@IsOptional()`. */
export const { IsOptional } = load<'IsOptional'>('./decorator/common/IsOptional.js');
/** class-validator's `@ValidateBy()`, for the gateway's own rules. */
export const { ValidateBy } = load<'ValidateBy'>('./decorator/common/ValidateBy.js');
/** class-validator's `@IsUrl()`. */
export const { IsUrl } = load<'IsUrl'>('./decorator/string/IsUrl.js');
/** class-validator's `@Length()`. */
export const { Length } = load<'Length'>('./decorator/string/Length.js');
/** class-validator's `@Matches()`. */
export const { Matches } = load<'Matches'>('./decorator/string/Matches.js');
/** class-validator's `@MaxLength()`. */
export const { MaxLength } = load<'MaxLength'>('./decorator/string/MaxLength.js');
/** class-validator's `@ArrayMaxSize()`. */
export const { ArrayMaxSize } = load<'ArrayMaxSize'>('./decorator/array/ArrayMaxSize.js');
/** class-validator's `@ArrayMinSize()`. */
export const { ArrayMinSize } = load<'ArrayMinSize'>('./decorator/array/ArrayMinSize.js');
/** class-validator's registry of the rules its decorators declare. */
export const { getMetadataStorage } = load<'getMetadataStorage'>('./metadata/MetadataStorage.js');
/** The kinds of rule class-validator records. */
export const { ValidationTypes } = load<'ValidationTypes'>('./validation/ValidationTypes.js');

const { getFromContainer } = load<'getFromContainer'>('./container.js');
const { Validator } = load<'Validator'>('./validation/Validator.js');

/** class-validator's `validateSync(object, options)` (what its entry module exports under that name). */
export function validateSync(object: object, options?: ValidatorOptions): ValidationError[] {
  return getFromContainer(Validator).validateSync(object, options);
}

export type { ValidationArguments, ValidationOptions } from 'class-validator';
