import { setFlagsFromString } from 'node:v8';

/**
 * The V8 flags the gateway sets on its own process, first thing (main.ts imports this module before any of its code
 * is hot; workers of ORCH_WORKERS run it too). Node refuses these flags in NODE_OPTIONS, so they cannot join
 * `--max-semi-space-size` there (scripts/gateway-process.mjs). Each is left alone when node was started with it,
 * which is how an operator goes back to V8's default: `node --maglev --heap-growing-percent=0 dist/…/main.js`.
 * Why each, with the measurements: docs/performance.md#memory.
 */

/** Whether `flag` (as `--name` or `--name=value`, with dashes or underscores) is on node's own command line. */
function givenOnCommandLine(flag: string): boolean {
  const nameOf = (arg: string) =>
    arg
      .replace(/=.*$/, '')
      .replace(/^--(no-)?/, '')
      .replaceAll('_', '-');
  return process.execArgv.some((arg) => nameOf(arg) === nameOf(flag));
}

/**
 * V8's mid-tier optimising compiler, Maglev, off: hot code goes from the baseline compiler straight to TurboFan. Under
 * load the gateway then uses the same CPU per request and keeps far less memory: Maglev compiles much more code, in
 * memory it mallocs and frees, and glibc keeps the peak of it resident.
 */
export const MAGLEV_FLAG = '--no-maglev';

/**
 * The old generation may grow by half of what was live after a full collection before the next one; V8 by itself
 * lets it grow to several times that. A full collection gives the pages it frees to V8's page pool, which stays
 * resident until V8 sees the process idle, so one long growth spell under load stays in the resident set for good:
 * it did wherever request objects live long enough to reach the old generation — `/proxy` in front of backends that
 * take milliseconds, Redis round trips, every request traced. 30 % saves a little more memory but costs CPU per request when tracing; 100 % keeps
 * more.
 */
export const HEAP_GROWING_FLAG = '--heap-growing-percent=50';

/** The flags of this module that this process set (not those left to the command line). */
export const v8FlagsSet: readonly string[] = [MAGLEV_FLAG, HEAP_GROWING_FLAG].filter(
  (flag) => !givenOnCommandLine(flag),
);

for (const flag of v8FlagsSet) setFlagsFromString(flag);
