/**
 * Option validation shared by the constructors: each returns the value or throws a RangeError naming the option and
 * the offending value.
 */

/** `value` must be a finite number > 0. */
export function requirePositive(name: string, value: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new RangeError(`${name} must be a finite number > 0, got ${String(value)}`);
  }
  return value;
}

/** `value` must be a finite number ≥ 0. */
export function requireNonNegative(name: string, value: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new RangeError(`${name} must be a finite number >= 0, got ${String(value)}`);
  }
  return value;
}

/** `value` must be an integer ≥ 1. */
export function requirePositiveInteger(name: string, value: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new RangeError(`${name} must be an integer >= 1, got ${String(value)}`);
  }
  return value;
}

/** `value` must be a number in [0, 1]. */
export function requireRatio(name: string, value: number): number {
  if (typeof value !== 'number' || !(value >= 0 && value <= 1)) {
    throw new RangeError(`${name} must be a number in [0, 1], got ${String(value)}`);
  }
  return value;
}
