import { setFlagsFromString } from 'node:v8';

/**
 * Whether V8's mid-tier optimising compiler, Maglev, is off in this process: it is, unless node was started with
 * `--maglev` (`node --maglev dist/orchestrator/apps/orchestrator/src/main.js`). Node refuses V8's compiler flags in
 * NODE_OPTIONS, so the gateway sets it itself, first thing, before any of its code is hot enough to be compiled;
 * workers (ORCH_WORKERS) run this module too.
 *
 * Without Maglev, hot code goes from the baseline compiler straight to TurboFan. Under load the gateway then uses the
 * same CPU per request and keeps far less memory: Maglev compiles much more code, in memory it mallocs and frees, and
 * glibc keeps the peak of it resident (docs/performance.md#memory).
 */
export const maglevOff = !process.execArgv.includes('--maglev');

if (maglevOff) setFlagsFromString('--no-maglev');
