import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * One compacting garbage collection of the whole heap, for when start-up is over. Loading the framework and the
 * modules leaves the old generation about a quarter free in fragments that V8 keeps resident; its memory reducer
 * compacts them only once the process has been idle for a while (about 8 s after the last full collection), and
 * not at all while traffic arrives. Done once, at the start, it keeps them
 * from staying resident. The flags are V8's own, set for this one collection and unset after it. The collection is
 * the "last resort" one: Node 24's V8 keeps the pages a collection frees in a pool, resident (tens of MB after
 * start-up), and only this flavour (or the idle memory reducer) gives them back.
 */
export function compactHeapAfterStartup(): void {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as (options: { type: 'major'; execution: 'sync'; flavor: 'last-resort' }) => void;
  setFlagsFromString('--no-expose-gc');
  setFlagsFromString('--compact-on-every-full-gc');
  try {
    gc({ type: 'major', execution: 'sync', flavor: 'last-resort' });
  } finally {
    setFlagsFromString('--no-compact-on-every-full-gc');
  }
}
