/** Options of {@link eventually}. */
export interface EventuallyOptions {
  /** Give up after this long (default 10 s). */
  readonly timeoutMs?: number;
  /** Pause between two checks (default 20 ms). */
  readonly everyMs?: number;
  /** What is awaited, named in the error when it does not happen (a function is read then, for the last state). */
  readonly what?: string | (() => string);
}

/**
 * Polls `check` until it returns something other than `undefined` or `false` (state that settles after a timer, a
 * disk write or a message from another process) and resolves with it; rejects once `timeoutMs` has passed.
 */
export async function eventually<T>(
  check: () => T | undefined | false | Promise<T | undefined | false>,
  options: EventuallyOptions = {},
): Promise<T> {
  const { timeoutMs = 10_000, everyMs = 20, what = 'the condition' } = options;
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (performance.now() > deadline) {
      throw new Error(`${typeof what === 'string' ? what : what()}: not reached within ${timeoutMs} ms`);
    }
    await new Promise((done) => setTimeout(done, everyMs));
  }
}
