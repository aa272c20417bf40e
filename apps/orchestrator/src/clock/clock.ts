/** Injection token of the wall clock (`{ now(): number }` in epoch ms) used by rate limits and replay windows. */
export const WALL_CLOCK = Symbol('WALL_CLOCK');

/**
 * Whether `now` falls in the window of `windowMs` that opened at `since` (both wall-clock epoch ms). False when the
 * wall clock has stepped back before `since`: a window kept open until the clock caught up again would hold its
 * events (denials, refusals, audit aggregates) for as long as the step.
 */
export function withinWindow(now: number, since: number, windowMs: number): boolean {
  return now >= since && now - since < windowMs;
}
