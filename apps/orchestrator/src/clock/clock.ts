/** Injection token of the wall clock (`{ now(): number }` in epoch ms) used by rate limits and replay windows. */
export const CLOCK = Symbol('CLOCK');
