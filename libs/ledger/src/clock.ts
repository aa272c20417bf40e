/** Wall-clock time source for entry timestamps, in milliseconds since the Unix epoch; tests inject a fixed one. */
export interface WallClock {
  /** Current time in ms since 1970-01-01T00:00:00Z. */
  now(): number;
}

/** `Date.now()`. */
export const wallClock: WallClock = { now: () => Date.now() };
