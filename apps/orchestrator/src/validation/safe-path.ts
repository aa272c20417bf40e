import { ValidateBy, type ValidationOptions } from './class-validator';

import { canonicalPath } from '@shieldx/policy';

/**
 * True when `value` is an absolute request path that has a canonical form ({@link canonicalPath}): no query or
 * fragment, no traversal (raw,
 * encoded or double-encoded), no `;` path parameters, no encoded separators, no control characters, no malformed
 * escapes. Ordinary paths such as `/update` or `/system/@me` pass: no keyword list is involved.
 */
export function isSafePath(value: unknown): boolean {
  return typeof value === 'string' && canonicalPath(value).ok;
}
/** class-validator decorator for {@link isSafePath}. */
export function IsSafePath(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isSafePath',
      validator: {
        validate: isSafePath,
        defaultMessage: () =>
          '$property must be an absolute path without a query or fragment (?, #), traversal (.., encoded or not), path parameters (;), encoded separators or control characters',
      },
    },
    options,
  );
}
