import { createHook } from 'node:async_hooks';

/** The tick object held by {@link keepTickShape}, for the life of the process. */
let held: object | undefined;

const noop = (): void => {};

/**
 * Holds one `process.nextTick` tick object for the life of the process, so that the shape V8 learnt for it stays
 * alive. On Node 24 (V8 13), once a few major collections run while no tick object is alive (a forced one after
 * start-up, or V8's own while the process idles), V8 forgets that shape and every later `nextTick` takes a slow path
 * in its runtime for good: about eight times the cost of a call (`scripts/dev/next-tick-after-gc.mjs`), and Node
 * calls it several times per HTTP request, in its streams. The tick object is taken from the one `init` callback an
 * async hook receives for it while the hook is enabled around a single `nextTick`; the hook is off again at once.
 * Idempotent.
 */
export function keepTickShape(): void {
  if (held !== undefined) return;
  const hook = createHook({
    init(_asyncId, type, _triggerAsyncId, resource) {
      if (type === 'TickObject') held ??= resource;
    },
  });
  hook.enable();
  try {
    process.nextTick(noop);
  } finally {
    hook.disable();
  }
}

/** The tick object being held, if {@link keepTickShape} found one (for tests). */
export function heldTickObject(): object | undefined {
  return held;
}
