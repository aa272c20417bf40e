import type { MonotonicClock } from '../clock';

/** A fake {@link MonotonicClock} for tests: time stands still until {@link advance} moves it. Starts at `startMs` (default 0). */
export class FakeClock implements MonotonicClock {
  private t: number;

  constructor(startMs = 0) {
    this.t = startMs;
  }

  /** Current fake time in ms. */
  now(): number {
    return this.t;
  }

  /** Moves time forward by `ms` and returns the new time. */
  advance(ms: number): number {
    this.t += ms;
    return this.t;
  }
}
