// Pieces shared by the benchmark scripts under bench/ on top of bench/lib/harness.mjs: argument and setting handling,
// the run's facts (command, machine, commit, load average) and their markdown lines, building and snapshotting the
// orchestrator with an optional start-up check, starting loopback servers (the orchestrator, baselines, delayed
// backends in child processes), the closed-loop plumbing every script repeats (load options, warm-up, liveness checks,
// round order, stopping with an exit check) and reading the orchestrator's error counters after a run.
import os from 'node:os';
import { join } from 'node:path';
import {
  ROOT,
  buildOrchestrator,
  cpuMeter,
  envNumber,
  fetchJson,
  fmt,
  freePort,
  gitInfo,
  hasWrk,
  machineInfo,
  median,
  runLoad,
  sleep,
  snapshotOrchestrator,
  startServer,
  tail,
} from './harness.mjs';

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

/**
 * Builds the orchestrator (unless `build` is false), snapshots dist/ and, when `check` is given, checks that the
 * snapshot starts by running `check(snapshot)`. Colleagues edit the app while this runs: a build can fail, or succeed
 * with an import of a file not written yet; then wait a minute and try again (at most three attempts). Exits the
 * process when the build fails.
 * @param {{ build: boolean, say: (text: string) => void, check?: (snapshot: object) => Promise<void> }} options
 *   `check` defaults to none (the snapshot is returned as built)
 */
export async function prepareOrchestrator({ build, say, check = async () => {} }) {
  const attempts = build ? 3 : 1;
  for (let attempt = 1; ; attempt++) {
    if (build) {
      const built = await buildOrchestrator({ log: say });
      if (!built.ok) {
        console.error(`orchestrator build failed; no figures written:\n${built.output.slice(-4000)}`);
        process.exit(1);
      }
    }
    const snapshot = snapshotOrchestrator();
    try {
      await check(snapshot);
      return snapshot;
    } catch (error) {
      snapshot.dispose();
      if (attempt >= attempts) throw error;
      say(
        `the built orchestrator does not start (a rebuild in progress?); rebuilding in 60 s:\n${tail(error.message, 1500)}`,
      );
      await sleep(60_000);
    }
  }
}

/**
 * A start-up check for prepareOrchestrator(): starts the snapshot's orchestrator as "orchestrator (start-up check)"
 * with `work`, `pools` and `env` (as startOrchestrator() takes them), then stops it.
 */
/** @param {{ work: string, pools: Record<string, string[]>, env?: Record<string, string> }} options */
export function startupCheck({ work, pools, env = {} }) {
  return async (snapshot) => {
    const probe = await startOrchestrator({ snapshot, name: 'orchestrator (start-up check)', work, pools, env });
    await probe.stop();
  };
}

/** Environment of a benchmarked orchestrator: insecure loopback, rate limits out of the way, ledger in `work`. */
export function orchestratorEnv({ port, work, pools, extra = {} }) {
  const env = {
    ORCH_ALLOW_INSECURE: '1',
    ORCH_PORT: String(port),
    ORCH_HOST: '127.0.0.1',
    ORCH_IP_BURST: '1000000000',
    ORCH_IP_BURST_DEGRADED: '1000000000',
    ORCH_TENANT_BURST: '1000000000',
    ORCH_LEDGER_PATH: join(work, `ledger-${port}.jsonl`),
  };
  for (const [name, urls] of Object.entries(pools)) {
    env[`ORCH_POOL_${name.toUpperCase()}`] = urls.map((url) => url.replace('http://', '')).join(',');
  }
  return { ...env, ...extra };
}

/**
 * Starts the built orchestrator of `snapshot` on a free port, with orchestratorEnv() plus `env`. `nodeArgs` and `ipc`
 * go to startServer() (defaults: none, no IPC channel).
 * @param {{ snapshot: { dir: string, main: string }, name: string, work: string, pools: Record<string, string[]>,
 *   env?: Record<string, string>, nodeArgs?: string[], ipc?: boolean }} options
 */
export async function startOrchestrator({ snapshot, name, work, pools, env = {}, nodeArgs, ipc }) {
  const port = await freePort();
  return startServer({
    name,
    script: snapshot.main,
    cwd: snapshot.dir,
    env: orchestratorEnv({ port, work, pools, extra: env }),
    port,
    nodeArgs,
    ipc,
  });
}

/**
 * Starts a Node server script of the repository (a path relative to its root, e.g. `bench/baseline-fastify.mjs`) on
 * a free loopback port given to it as PORT and HOST=127.0.0.1, plus `env`. `nodeArgs` and `ipc` go to startServer()
 * (defaults: none, no IPC channel).
 * @param {{ name: string, script: string, env?: Record<string, string>, nodeArgs?: string[], ipc?: boolean }} options
 */
export async function startLoopbackScript({ name, script, env = {}, nodeArgs, ipc }) {
  const port = await freePort();
  return startServer({
    name,
    script: join(ROOT, script),
    env: { PORT: String(port), HOST: '127.0.0.1', ...env },
    port,
    nodeArgs,
    ipc,
  });
}

/**
 * Loopback backends (bench/backend-http.mjs), one child process each. `specs`: [{name, delayMs?, jitterMs?}].
 * Each handle has `url`, `name`, `stats({reset})` (requests served, health probes excluded) and `stop()`.
 */
export async function startHttpBackends(specs) {
  const handles = [];
  for (const spec of specs) {
    const server = await startLoopbackScript({
      name: `backend ${spec.name}`,
      script: 'bench/backend-http.mjs',
      env: { NAME: spec.name, DELAY_MS: String(spec.delayMs ?? 0), JITTER_MS: String(spec.jitterMs ?? 0) },
    });
    handles.push({
      ...spec,
      server,
      url: server.origin,
      stats: async ({ reset = false } = {}) => {
        const answer = await fetchJson(`${server.origin}/__bench/stats${reset ? '?reset=1' : ''}`);
        if (answer.status !== 200) throw new Error(`backend ${spec.name}: stats answered ${answer.status}`);
        return answer.json.count;
      },
      stop: () => server.stop(),
    });
  }
  return handles;
}

/**
 * Counters of trouble from an orchestrator's `GET /metrics`: every non-zero sample of the error, denial, rate-limit,
 * policy-error and breaker counters, as `name{labels} value` strings.
 */
export async function orchestratorTrouble(origin) {
  const response = await fetchJson(`${origin}/metrics`);
  if (response.status !== 200) return [`GET /metrics answered ${response.status}`];
  const names = [
    'orchestrator_route_error_total',
    'orchestrator_route_denied_total',
    'orchestrator_ratelimit_denied_total',
    'orchestrator_policy_error_total',
    'orchestrator_cb_open_total',
    'orchestrator_health_bad_total',
    'orchestrator_auth_failed_total',
    'orchestrator_policy_disagreement_total',
  ];
  const found = [];
  for (const line of response.body.split('\n')) {
    if (line.startsWith('#')) continue;
    const match = /^([a-z_]+)(\{[^}]*\})? ([0-9.e+]+)$/.exec(line.trim());
    if (match && names.includes(match[1]) && Number(match[3]) > 0) found.push(line.trim());
  }
  return found;
}

/** Median of per-round ratios a[i]/b[i] (rounds paired in time). */
export function pairedRatio(a, b) {
  return median(a.map((value, i) => value / b[i]));
}

/**
 * One of the benchmark's requests (`{method, path, headers, body}`) on a fresh connection to `origin`; resolves as
 * fetchJson() does.
 */
export function sendRequest(origin, request) {
  return fetchJson(origin + request.path, { method: request.method, headers: request.headers, body: request.body });
}

/** Throws, with the end of its stderr (3000 characters), when the server of `target` (`{label, server}`) has died. */
export function checkAlive(target, during) {
  if (!target.server.alive()) {
    throw new Error(`${target.label} died during ${during}:\n${target.server.stderrTail().slice(-3000)}`);
  }
}

/** The pids of the targets' servers that are still running (for cpuMeter()). */
export function livePids(targets) {
  return targets.filter((t) => t.server?.alive()).map((t) => t.server.pid);
}

/**
 * `loadOptions(target, durationS)` for runLoad(): `requests` sent to the target's server over `connections`
 * connections for `durationS` seconds.
 */
export function loadOptionsFor(requests, connections) {
  return (target, durationS) => ({ origin: target.server.origin, requests, connections, durationS });
}

/**
 * Unmeasured closed-loop load of `seconds` s on every target in turn, each checked alive afterwards with
 * `check(target, 'warm-up')` (default checkAlive()); says so when done. Does nothing when `seconds` is 0.
 */
export async function warmUp({ targets, tool, seconds, loadOptions, say, check = checkAlive }) {
  if (seconds > 0) {
    for (const target of targets) {
      await runLoad(tool, loadOptions(target, seconds));
      check(target, 'warm-up');
    }
    say(`warmed up (${seconds} s each)`);
  }
}

/** The order of `list` in round `round` (from 0): rotated by one place every round. */
export function rotated(list, round) {
  return list.map((_, i) => list[(i + round) % list.length]);
}

/** The order of `list` in round `round` (from 0): as given in even rounds, reversed in odd ones. */
export function alternated(list, round) {
  return round % 2 === 0 ? list : [...list].reverse();
}

/**
 * Stops `server` (options as stopServer() takes them, e.g. `{graceMs}`) and adds to `problems` a line naming `label`
 * when it did not exit cleanly on SIGTERM (code 0 or 143, or signal SIGTERM). Resolves `{code, signal}`.
 */
export async function stopChecked(server, label, problems, options) {
  const { code, signal } = await server.stop(options);
  if (!['SIGTERM', null].includes(signal) || ![0, null, 143].includes(code)) {
    problems.push(`${label} exit on SIGTERM: code ${code}, signal ${signal}`);
  }
  return { code, signal };
}

/**
 * One measured closed-loop run of `durationS` seconds on `target` after a 500 ms pause: runLoad() with `tool` and
 * `loadOptions(target, durationS)`, the CPU use of the machine, of this benchmark with `pids` and of everything else
 * over the run as `result.cpu` (cpuMeter()), then `checkAlive(target, during)`. Resolves the load result.
 */
export async function measuredRun({ tool, target, loadOptions, durationS, pids, during }) {
  await sleep(500);
  const meter = cpuMeter(pids);
  const result = await runLoad(tool, loadOptions(target, durationS));
  result.cpu = meter();
  checkAlive(target, during);
  return result;
}

/**
 * Closed-loop rounds, interleaved: each of `settings.rounds` rounds measures every target once with measuredRun()
 * (`settings.tool`, `settings.duration`, `loadOptions`, `pids()`), the order rotating every round, and pushes the
 * result to `target.rounds`. `before(target)` runs just before a measurement, `after(target, result)` just after (to
 * add figures to the result); the progress line is roundHead() with `labelWidth` followed by `describe(result)`.
 */
/**
 * @param {{ settings: ClosedLoopSettings, targets: RoundTarget[], loadOptions: object, pids: () => number[],
 *   say: (text: string) => void, labelWidth: number, describe: (result: Record<string, any>) => string,
 *   before?: (target: RoundTarget) => unknown, after?: (target: RoundTarget, result: Record<string, any>) => unknown
 * }} options
 */
export async function interleavedRounds({
  settings,
  targets,
  loadOptions,
  pids,
  say,
  labelWidth,
  describe,
  before,
  after,
}) {
  for (let round = 0; round < settings.rounds; round++) {
    for (const target of rotated(targets, round)) {
      await before?.(target);
      const result = await measuredRun({
        tool: settings.tool,
        target,
        loadOptions,
        durationS: settings.duration,
        pids: pids(),
        during: `round ${round + 1}`,
      });
      await after?.(target, result);
      target.rounds.push(result);
      say(roundHead(round, settings.rounds, target.label, labelWidth, result) + describe(result));
    }
  }
}

/**
 * The start of a round's progress line: "round i/n <label padded to `width`> <req/s padded to 7> req/s  p50 … ms
 * p99 … ms  " (two spaces at the end, for the script's own figures). `round` counts from 0; latencies in ms.
 */
export function roundHead(round, rounds, label, width, result) {
  return (
    `round ${round + 1}/${rounds} ${label.padEnd(width)} ${fmt.int(result.rps).padStart(7)} req/s  ` +
    `p50 ${fmt.ms(result.p50)} ms  p99 ${fmt.ms(result.p99)} ms  `
  );
}
