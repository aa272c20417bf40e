/** Wall-clock time source in epoch milliseconds; tests inject a fake one. */
export interface Clock {
  now(): number;
}

/** `Date.now()`. */
export const systemClock: Clock = { now: () => Date.now() };
