// A benchmark's flags and settings, the facts of its run (command, machine, commit, load average) and the notes its
// report adds when settings differ from the defaults or the machine was busy.
import os from 'node:os';
import { envNumber, fmt, gitInfo, hasWrk, machineInfo } from './harness.mjs';

/**
 * Reads the flags every benchmark understands (`--no-build`, `--no-write`, `--help`). Unknown flags are reported but
 * not fatal (bench/run-all.mjs passes its arguments to every script). `--help` prints `usage` and exits.
 * @param {string} script file name under bench/, e.g. `route.mjs`
 * @param {string} usage the lines printed after the usage line by `--help` (the script's BENCH_* variables)
 * @param {{ synopsis?: string, accept?: string[] }} [options] `synopsis`: the flags shown in the usage line (default
 *   `[--no-build] [--no-write]`); `accept`: further flags the script knows (default none), read from `argv`
 * @returns {{ argv: string[], build: boolean, write: boolean }} `build` is false with `--no-build` or BENCH_BUILD=0
 */
export function benchArgs(script, usage, { synopsis = '[--no-build] [--no-write]', accept = [] } = {}) {
  const argv = process.argv.slice(2);
  const known = ['--no-build', '--no-write', '--help', '-h', ...accept];
  for (const arg of argv) {
    if (!known.includes(arg))
      console.error(`ignoring unknown argument ${arg} (usage: node bench/${script} ${synopsis})`);
  }
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(`usage: node bench/${script} ${synopsis}\n${usage}`);
    process.exit(0);
  }
  return {
    argv,
    build: !argv.includes('--no-build') && process.env.BENCH_BUILD !== '0',
    write: !argv.includes('--no-write'),
  };
}

/**
 * The closed-loop load generator: BENCH_TOOL, else wrk when installed, else autocannon. Exits the process (code 2)
 * for any other value.
 * @returns {'wrk' | 'autocannon'}
 */
export function benchTool() {
  const tool = process.env.BENCH_TOOL || (hasWrk() ? 'wrk' : 'autocannon');
  if (tool !== 'wrk' && tool !== 'autocannon') {
    console.error(`BENCH_TOOL=${tool}: expected wrk or autocannon`);
    process.exit(2);
  }
  return tool;
}

/**
 * How closed-loop rounds run (seconds and counts).
 * @typedef {{ rounds: number, duration: number, connections: number, warmup: number, tool?: 'wrk' | 'autocannon' }}
 *   ClosedLoopSettings
 */
/**
 * A target of closed-loop rounds: what is measured, under which label, how to start it, and what the rounds found
 * (each bench adds its own figures to `summary` and, for a few, to the target itself).
 * @typedef {{ key: string, label: string, server?: import('./harness.mjs').ServerHandle,
 *   start?: (options?: { name?: string, nodeArgs?: string[], env?: Record<string, string>, ipc?: boolean })
 *     => Promise<import('./harness.mjs').ServerHandle>,
 *   rounds?: Array<Record<string, any>>, summary?: Record<string, any>, [figure: string]: any }} RoundTarget
 */

/**
 * The settings of closed-loop rounds, read from the environment: BENCH_ROUNDS (≥ 1), BENCH_DURATION (s per round,
 * ≥ 1), BENCH_CONNECTIONS (≥ 1), BENCH_WARMUP (s, ≥ `warmupMin`), integers, defaulting to `defaults`; plus the load
 * tool (see benchTool()) unless `tool` is false.
 * @param {{ rounds: number, duration: number, connections: number, warmup: number }} defaults
 * @param {{ warmupMin?: number, tool?: boolean }} [options] `warmupMin` defaults to 0, `tool` to true
 * @returns {ClosedLoopSettings}
 */
export function closedLoopSettings(defaults, { warmupMin = 0, tool = true } = {}) {
  return {
    rounds: envNumber('BENCH_ROUNDS', defaults.rounds, { min: 1 }),
    duration: envNumber('BENCH_DURATION', defaults.duration, { min: 1 }),
    connections: envNumber('BENCH_CONNECTIONS', defaults.connections, { min: 1 }),
    warmup: envNumber('BENCH_WARMUP', defaults.warmup, { min: warmupMin }),
    ...(tool ? { tool: benchTool() } : {}),
  };
}

/** Facts about this run: the exact command (BENCH_* settings included), machine, commit, start time, loggers. */
export function runFacts(script, argv) {
  const benchEnv = Object.entries(process.env)
    .filter(([key]) => key.startsWith('BENCH_'))
    .sort()
    .map(([key, value]) => `${key}=${value}`);
  const log = (...parts) => console.log(...parts);
  return {
    command: [...benchEnv, `node bench/${script}`, ...argv].join(' '),
    machine: machineInfo(),
    git: gitInfo(),
    startedAt: new Date(),
    log,
    say: (text) => log(`[${new Date().toISOString().slice(11, 19)}] ${text}`),
  };
}

export const loadAverage = () =>
  os
    .loadavg()
    .map((v) => v.toFixed(2))
    .join(' ');

/** The opening lines of a section: command, date, machine and load average, Node and commit. */
export function factsMarkdown(facts, { what = 'load generator', versions = '' } = {}) {
  const { command, startedAt, machine, git } = facts;
  const npm = process.env.npm_lifecycle_event ? ` (via \`npm run ${process.env.npm_lifecycle_event}\`)` : '';
  return [
    `Command: \`${command}\`${npm}  `,
    `Date: ${startedAt.toISOString()}  `,
    `Machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGB} GB RAM, ${machine.os}; load average at start ` +
      `${machine.loadavg.join(' ')}, at the end ${loadAverage()} (shared machine; ${what} on the same cores)  `,
    `Node ${machine.node}${versions}; code: commit ${git.commit}${git.dirty ? ' plus uncommitted changes' : ''}  `,
  ];
}

/**
 * A "short run" warning for settings that differ from the defaults, or nothing.
 * @param {Record<string, unknown>} defaults the default value of each setting
 * @param {Record<string, unknown>} settings the values in use (only the keys of `defaults` are compared)
 * @param {{ title?: string, joiner?: string }} [options] `title`: the bold words (default `Not the default settings`);
 *   `joiner`: between a setting's name and its value (default a space)
 * @returns {string[]} markdown lines
 */
export function nonDefaultNote(defaults, settings, { title = 'Not the default settings', joiner = ' ' } = {}) {
  const changed = Object.entries(defaults).filter(([key, value]) => settings[key] !== value);
  if (!changed.length) return [];
  return [
    '',
    `> **${title}** (${changed.map(([k, v]) => `${k}${joiner}${String(settings[k])} instead of ${String(v)}`).join(', ')}): ` +
      'figures are indicative only.',
  ];
}

/** A "busy machine" note when other processes used more than a quarter of a core (median over the measurements). */
export function busyNote(othersCores, cores) {
  if (!(othersCores > 0.25)) return [];
  return [
    '',
    `> **Busy machine:** other processes used ${fmt.cores(othersCores)} of ${cores} (median over the measurements) ` +
      'while this ran, so absolute figures are depressed and noisy; the ratios, measured interleaved in the same run, ' +
      'hold up better.',
  ];
}
