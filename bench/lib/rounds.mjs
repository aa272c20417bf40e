// The closed-loop plumbing every benchmark repeats: load options, warm-up, liveness checks, round order, measured
// and interleaved rounds, stopping with an exit check.
import { cpuMeter, fetchJson, fmt, median, runLoad, sleep } from './harness.mjs';

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
 * @param {{ settings: import('./settings.mjs').ClosedLoopSettings, targets: import('./settings.mjs').RoundTarget[], loadOptions: object, pids: () => number[],
 *   say: (text: string) => void, labelWidth: number, describe: (result: Record<string, any>) => string,
 *   before?: (target: import('./settings.mjs').RoundTarget) => unknown, after?: (target: import('./settings.mjs').RoundTarget, result: Record<string, any>) => unknown
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
