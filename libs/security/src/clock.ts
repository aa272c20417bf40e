/** Wall-clock time source in epoch milliseconds; tests inject a fake one. */
export interface WallClock {
  now(): number;
}

/** `Date.now()`. */
export const wallClock: WallClock = { now: () => Date.now() };
