import type { Clock } from '../clock';

/** A fake {@link Clock} for tests: time stands still until {@link advance} moves it. Starts at `startMs` (default 0). */
export class FakeClock implements Clock {
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
