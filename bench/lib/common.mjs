// Pieces shared by bench/proxy.mjs, bench/lb.mjs and bench/policy.mjs on top of bench/lib/harness.mjs: argument
// handling, the run's facts (command, machine, commit, load average) and their markdown lines, building and
// snapshotting the orchestrator with a start-up check, delayed loopback backends in child processes, and reading the
// orchestrator's error counters after a run.
import os from 'node:os';
import { join } from 'node:path';
import {
  ROOT,
  buildOrchestrator,
  fetchJson,
  fmt,
  freePort,
  gitInfo,
  machineInfo,
  median,
  sleep,
  snapshotOrchestrator,
  startServer,
  tail,
} from './harness.mjs';

/**
 * Reads the flags every benchmark understands (`--no-build`, `--no-write`, `--help`). Unknown flags are reported but
 * not fatal (bench/run-all.mjs passes its arguments to every script). `--help` prints `usage` and exits.
 */
export function benchArgs(script, usage) {
  const argv = process.argv.slice(2);
  const known = ['--no-build', '--no-write', '--help', '-h'];
  for (const arg of argv) {
    if (!known.includes(arg))
      console.error(`ignoring unknown argument ${arg} (usage: node bench/${script} [--no-build] [--no-write])`);
  }
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(`usage: node bench/${script} [--no-build] [--no-write]\n${usage}`);
    process.exit(0);
  }
  return {
    argv,
    build: !argv.includes('--no-build') && process.env.BENCH_BUILD !== '0',
    write: !argv.includes('--no-write'),
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

/** A "short run" warning for settings that differ from the defaults, or nothing. */
export function nonDefaultNote(defaults, settings) {
  const changed = Object.entries(defaults).filter(([key, value]) => settings[key] !== value);
  if (!changed.length) return [];
  return [
    '',
    `> **Not the default settings** (${changed.map(([k, v]) => `${k} ${settings[k]} instead of ${v}`).join(', ')}): ` +
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
 * Builds the orchestrator (unless `build` is false), snapshots dist/ and checks that the snapshot starts by running
 * `check(snapshot)`. Colleagues edit the app while this runs: a build can fail, or succeed with an import of a file
 * not written yet; then wait a minute and try again (at most three attempts). Exits the process when the build fails.
 */
export async function prepareOrchestrator({ build, say, check }) {
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
        `the built orchestrator does not start (a colleague mid-edit?); rebuilding in 60 s:\n${tail(error.message, 1500)}`,
      );
      await sleep(60_000);
    }
  }
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

/** Starts the built orchestrator of `snapshot` on a free port. */
export async function startOrchestrator({ snapshot, name, work, pools, env = {} }) {
  const port = await freePort();
  return startServer({
    name,
    script: snapshot.main,
    cwd: snapshot.dir,
    env: orchestratorEnv({ port, work, pools, extra: env }),
    port,
  });
}

/**
 * Loopback backends (bench/backend-http.mjs), one child process each. `specs`: [{name, delayMs?, jitterMs?}].
 * Each handle has `url`, `name`, `stats({reset})` (requests served, health probes excluded) and `stop()`.
 */
export async function startHttpBackends(specs) {
  const handles = [];
  for (const spec of specs) {
    const port = await freePort();
    const server = await startServer({
      name: `backend ${spec.name}`,
      script: join(ROOT, 'bench/backend-http.mjs'),
      port,
      env: {
        PORT: String(port),
        HOST: '127.0.0.1',
        NAME: spec.name,
        DELAY_MS: String(spec.delayMs ?? 0),
        JITTER_MS: String(spec.jitterMs ?? 0),
      },
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
