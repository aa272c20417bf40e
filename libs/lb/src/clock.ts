/** A monotonic time source in milliseconds (may be fractional), like `performance.now()`. */
export interface MonotonicClock {
  /** Current time in ms on this clock's own timeline (not the Unix epoch). */
  now(): number;
}

/** The process clock: `performance.now()`, monotonic, fractional ms since process start. */
export const monotonicClock: MonotonicClock = {
  now: () => performance.now(),
};

/** A source of uniform random numbers in [0, 1), like `Math.random`. Injected so tests can seed it. */
export type RandomSource = () => number;
