import { ValidateBy, type ValidationOptions } from 'class-validator';

const CONTROL = /[\u0000-\u001f\u007f]/;
const TRAVERSAL_SEGMENT = /(?:^|[/\\])\.\.(?:$|[/\\])/;
const MAX_DECODE_ROUNDS = 3;

/**
 * True when `value` is an absolute request path with no traversal: no `..` segment in the raw text or after one, two
 * or three rounds of percent-decoding (so `%2e%2e` and `%252e%252e` are caught), no backslash-separated `..`, no
 * control characters, and no malformed percent escapes. Ordinary paths such as `/update` or `/system/@me` pass: no
 * keyword list is involved.
 */
export function isSafePath(value: unknown): boolean {
  if (typeof value !== 'string' || value.charCodeAt(0) !== 47 /* / */) return false;
  let current = value;
  for (let round = 0; round <= MAX_DECODE_ROUNDS; round++) {
    if (CONTROL.test(current) || TRAVERSAL_SEGMENT.test(current)) return false;
    if (!current.includes('%')) return true;
    let decoded: string;
    try {
      decoded = decodeURIComponent(current);
    } catch {
      return false;
    }
    if (decoded === current) return true;
    current = decoded;
  }
  // Still encoded after several rounds: nobody sends that in good faith.
  return false;
}

/** class-validator decorator for {@link isSafePath}. */
export function IsSafePath(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isSafePath',
      validator: {
        validate: isSafePath,
        defaultMessage: () =>
          '$property must be an absolute path without traversal (.., encoded or not) or control characters',
      },
    },
    options,
  );
}
