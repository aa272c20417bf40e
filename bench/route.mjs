// Benchmark of `POST /route`: the orchestrator (default settings; ORCH_LOG_LEVEL=warn; a threat-score service
// configured, bench/advisor-stub.mjs, whose scores the orchestrator caches; the async request context kept on for the
// data plane, ORCH_LOG_DATA_PLANE_CONTEXT=1) against a bare Fastify 5
// server answering the same request (bench/baseline-fastify.mjs), measured in the same run, rounds interleaved so
// that machine noise hits every target alike. Writes the `route` section of docs/BENCHMARKS.md.
//
//   node bench/route.mjs [--profile] [--no-build] [--no-write]
//
// Environment (defaults in brackets): BENCH_ROUNDS [3], BENCH_DURATION [10] s per round, BENCH_CONNECTIONS [64],
// BENCH_WARMUP [3] s, BENCH_RATE_SHARE [0.5] of bare Fastify's measured req/s (or BENCH_RATE req/s) and
// BENCH_RATE_DURATION [10] s for each of BENCH_RATE_ROUNDS [3] fixed-rate rounds, BENCH_SOAK [60] s
// (0 skips it), BENCH_TOOL [wrk if installed, else autocannon] for the closed-loop runs.
//
// Budgets (from the issue): orchestrator/baseline req/s ≥ 0.5; at half of bare Fastify's capacity, p99 ≤ 3 × bare
// Fastify's p99 at that rate; RSS < 100 MB after ~60 s of load; a cached threat score costs at most 10 % of the
// defaults' req/s. Verdicts are printed and written as measured, pass or miss. Beside the latency budget, the
// orchestrator's p99 at the same share of its own capacity (equal utilisation) is reported.
import { copyFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import {
  captureProfile,
  CPU_PROFILER,
  cpuMeter,
  envNumber,
  fetchJson,
  fmt,
  installCleanup,
  median,
  peakRssMB,
  rssMB,
  runAutocannon,
  runLoad,
  runPaced,
  sleep,
  startStubBackends,
  summarizeProfile,
  tempDir,
  summarizeRounds,
} from './lib/harness.mjs';
import {
  benchArgs,
  checkAlive,
  closedLoopSettings,
  livePids,
  loadAverage,
  loadOptionsFor,
  interleavedRounds,
  nonDefaultNote,
  prepareOrchestrator,
  runFacts,
  sendRequest,
  startLoopbackScript,
  orchestratorTarget,
  startOrchestrator,
  startupCheck,
  stopChecked,
  warmUp,
} from './lib/common.mjs';
import { postRoute, routeBodies, routePools } from './lib/requests.mjs';
import {
  BUDGET_HEADERS,
  budgetRows,
  budgetsMarkdown,
  closedLoopMarkdown,
  closedLoopText,
  markdownTable,
  passOrMiss,
  printProblems,
  textTable,
  writeReport,
} from './lib/report.mjs';
import { GATEWAY_MALLOC_TEXT, GATEWAY_NODE_OPTIONS, asShipped } from '../scripts/gateway-process.mjs';

// ---------------------------------------------------------------------------------------------------------------
// Settings

const { argv, build, write } = benchArgs(
  'route.mjs',
  'env: BENCH_ROUNDS=3 BENCH_DURATION=10 BENCH_CONNECTIONS=64 BENCH_WARMUP=3 BENCH_RATE_SHARE=0.5 [BENCH_RATE=<req/s>] ' +
    'BENCH_RATE_DURATION=10 BENCH_RATE_ROUNDS=3 BENCH_SOAK=60 BENCH_TOOL=wrk|autocannon',
  { synopsis: '[--profile] [--no-build] [--no-write]', accept: ['--profile'] },
);

const DEFAULTS = {
  rounds: 3,
  duration: 10,
  connections: 64,
  warmup: 3,
  rateShare: 0.5,
  rateDuration: 10,
  rateRounds: 3,
  soak: 60,
};
const S = {
  ...closedLoopSettings(DEFAULTS),
  // The fixed rate: this share of bare Fastify's measured capacity (closed loop, same run), unless BENCH_RATE names one.
  rateShare: envNumber('BENCH_RATE_SHARE', DEFAULTS.rateShare, { min: 0.01 }),
  rate: process.env.BENCH_RATE === undefined ? undefined : envNumber('BENCH_RATE', 10_000, { min: 1 }),
  rateDuration: envNumber('BENCH_RATE_DURATION', DEFAULTS.rateDuration, { min: 1 }),
  rateRounds: envNumber('BENCH_RATE_ROUNDS', DEFAULTS.rateRounds, { min: 1 }),
  soak: envNumber('BENCH_SOAK', DEFAULTS.soak, { min: 0 }),
  profile: argv.includes('--profile'),
};
const BUDGET = { ratio: 0.5, p99Factor: 3, rssMB: 100, threatCost: 0.1 };
/** Servers measured: bare Fastify and the four orchestrator variants of TARGETS below. */
const TARGET_COUNT = 5;
const RATE_WARMUP = 2;

const expectedS =
  15 + // start-up
  TARGET_COUNT * (S.warmup + 1) +
  S.rounds * TARGET_COUNT * (S.duration + 1) +
  (TARGET_COUNT + 1) * S.rateRounds * (RATE_WARMUP + S.rateDuration + 3) +
  S.rateDuration +
  S.soak +
  (S.profile ? S.warmup + S.duration + 20 : 0);
installCleanup({ deadlineMs: (2 * expectedS + 300 + (build ? 600 : 0)) * 1000 });

// ---------------------------------------------------------------------------------------------------------------
// Requests: rotate over the three services, a few tenants, scopes and paths so there is no single hot key.

const REQUESTS = routeBodies().map(postRoute);

// ---------------------------------------------------------------------------------------------------------------

const { log, say, machine, git, startedAt, command } = runFacts('route.mjs', argv);

say(`route benchmark: ${command}`);
say(
  `${machine.cpu}, ${machine.cores} cores, ${machine.memoryGB} GB, Node ${machine.node}, load average ` +
    `${machine.loadavg.join(' ')}; ${S.rounds} round(s) × ${S.duration} s at ${S.connections} connections (${S.tool}), ` +
    `fixed rate ${S.rate ?? `${S.rateShare} × bare Fastify's capacity`} req/s for ${S.rateDuration} s, soak ${S.soak} s`,
);

let snapshot; // set by prepareOrchestrator()
const stubs = await startStubBackends(7);
const pools = routePools(stubs.urls);
const work = tempDir('shieldx-bench-route-');
/** What the orchestrator targets start from (the snapshot exists once they start). */
const gateway = () => ({ snapshot, work, pools });
// The threat-score service of the "threat service" row: every IP gets a score; the orchestrator caches it.
const advisor = await startLoopbackScript({ name: 'threat service', script: 'bench/advisor-stub.mjs' });

/** @type {import('./lib/common.mjs').RoundTarget[]} */
const TARGETS = [
  {
    key: 'baseline',
    label: 'bare Fastify 5 (baseline)',
    start: ({ name = 'baseline', nodeArgs = [], env, ipc } = {}) =>
      startLoopbackScript({ name, script: 'bench/baseline-fastify.mjs', ipc, ...asShipped({ nodeArgs, env }) }),
  },
  {
    key: 'orch',
    label: 'orchestrator, defaults (log level info)',
    start: ({ name = 'orchestrator (info)', nodeArgs = [], env, ipc } = {}) =>
      startOrchestrator({ snapshot, name, work, pools, ipc, nodeArgs, env }),
  },
  orchestratorTarget(gateway, {
    key: 'orchWarn',
    label: 'orchestrator, ORCH_LOG_LEVEL=warn',
    name: 'orchestrator (warn)',
    env: { ORCH_LOG_LEVEL: 'warn' },
  }),
  // A threat-score service configured: after the first call, every request's score comes from the cache.
  orchestratorTarget(gateway, {
    key: 'orchThreat',
    label: 'orchestrator, threat service (scores cached)',
    name: 'orchestrator (threat service)',
    env: { ORCH_THREAT_URL: `${advisor.origin}/score` },
  }),
  // What the async request context costs when it is kept on for the data plane too (docs/observability.md).
  orchestratorTarget(gateway, {
    key: 'orchContext',
    label: 'orchestrator, ORCH_LOG_DATA_PLANE_CONTEXT=1',
    name: 'orchestrator (request context)',
    env: { ORCH_LOG_DATA_PLANE_CONTEXT: '1' },
  }),
];
const byKey = Object.fromEntries(TARGETS.map((t) => [t.key, t]));
const problems = [];

/** One request per body: 200 with the documented shape, a target from the right pool. */
async function sanityCheck(target) {
  const examples = [];
  for (const r of REQUESTS) {
    const response = await sendRequest(target.server.origin, r);
    const body = JSON.parse(r.body);
    const answer = response.json;
    const shapeOk =
      answer && ['target', 'algo', 'policy', 'healthy', 'pool', 'cached'].every((key) => Object.hasOwn(answer, key));
    if (response.status !== 200 || !shapeOk) {
      throw new Error(`${target.label}: POST /route ${r.body} → ${response.status} ${response.body.slice(0, 300)}`);
    }
    if (target.key !== 'baseline' && (answer.pool !== body.service || !pools[body.service].includes(answer.target))) {
      throw new Error(`${target.label}: ${r.body} answered a target outside pool ${body.service}: ${response.body}`);
    }
    examples.push(answer);
  }
  return examples[0];
}

const serverPids = () => livePids(TARGETS);

/** "9,998 req/s" or, when the generator gave up, why. */
function sustainedText(r) {
  if (r.gaveUpAtS !== null) {
    return `not sustained: gave up after ${r.gaveUpAtS.toFixed(1)} s with ${fmt.int(r.inflightMax)} requests outstanding`;
  }
  return `achieved ${fmt.int(r.rps)} req/s${r.sustained ? '' : ' (below the target)'}`;
}

/** Short form of a fixed-rate result for the verdict table. */
function pacedBrief(r) {
  if (r.gaveUpAtS !== null) return `not sustained (gave up after ${r.gaveUpAtS.toFixed(1)} s)`;
  if (!r.sustained) return `p99 ${fmt.ms(r.p99)} ms but only ${fmt.int(r.rps)} req/s`;
  return `p99 ${fmt.ms(r.p99)} ms`;
}

/**
 * One target's fixed-rate rounds in one result: medians of the latencies, the rate and the generator's delay, sums of
 * the errors; sustained only if every round was. `rounds` keeps the runs (their p99s are shown).
 */
function pacedSummary(results) {
  const mid = (pick) => median(results.map(pick));
  const sum = (pick) => results.reduce((total, r) => total + pick(r), 0);
  return {
    rounds: results,
    sustained: results.every((r) => r.sustained),
    gaveUpAtS: results.find((r) => r.gaveUpAtS !== null)?.gaveUpAtS ?? null,
    rps: mid((r) => r.rps),
    p50: mid((r) => r.p50),
    p99: mid((r) => r.p99),
    p999: mid((r) => r.p999),
    max: mid((r) => r.max),
    lateP99: mid((r) => r.lateP99),
    generatorDelayP99: mid((r) => r.generatorDelayP99),
    errors: sum((r) => r.errors),
    timeouts: sum((r) => r.timeouts),
    non2xx: sum((r) => r.non2xx),
    cpu: { othersCores: mid((r) => r.cpu.othersCores) },
  };
}

const loadOptions = loadOptionsFor(REQUESTS, S.connections);

// ---------------------------------------------------------------------------------------------------------------
// Start everything, check the answers, warm up.

snapshot = await prepareOrchestrator({ build, say, check: startupCheck({ work, pools }) });

for (const target of TARGETS) {
  target.server = await target.start();
  target.example = await sanityCheck(target);
  target.rounds = [];
  target.idleRss = rssMB(target.server.pid);
  say(`started ${target.label} (pid ${target.server.pid}, ${target.server.origin}); RSS ${fmt.mb(target.idleRss)} MB`);
}
say(`example orchestrator answer: ${JSON.stringify(byKey.orch.example)}`);

await warmUp({ targets: TARGETS, tool: S.tool, seconds: S.warmup, loadOptions, say });

// ---------------------------------------------------------------------------------------------------------------
// Closed-loop rounds, interleaved (the order rotates every round).

await interleavedRounds({
  settings: S,
  targets: TARGETS,
  loadOptions,
  pids: serverPids,
  say,
  labelWidth: 40,
  after: (target, result) => void (result.rss = rssMB(target.server.pid)),
  describe: (result) =>
    `errors ${result.errors + result.timeouts}  ` +
    `non-2xx ${result.non2xx}  RSS ${fmt.mb(result.rss)} MB  other processes ${fmt.cores(result.cpu.othersCores)}`,
});

for (const target of TARGETS) {
  const rounds = target.rounds;
  target.summary = { ...summarizeRounds(rounds), others: median(rounds.map((r) => r.cpu.othersCores)) };
}
const baselineRps = byKey.baseline.summary.rps;
for (const target of TARGETS) target.summary.ratio = target.summary.rps / baselineRps;
/** The fixed rate of this run: a share of bare Fastify's closed-loop capacity just measured (rounded to 100/s). */
const RATE = S.rate ?? Math.max(100, Math.round((S.rateShare * baselineRps) / 100) * 100);

// ---------------------------------------------------------------------------------------------------------------
// Fixed rate: an evenly paced open-loop run for every target, plus autocannon's overallRate for the orchestrator.

/** One paced run of `target` at `rate` req/s, with the CPU of the others and the RSS after it; `label` says which. */
async function pacedRun(target, rate, label) {
  await sleep(500);
  const meter = cpuMeter(serverPids());
  const result = await runPaced({
    origin: target.server.origin,
    requests: REQUESTS,
    rate,
    durationS: S.rateDuration,
    warmupS: RATE_WARMUP,
    connections: S.connections,
  });
  result.cpu = meter();
  checkAlive(target, 'the fixed-rate run');
  result.rss = rssMB(target.server.pid);
  say(
    `fixed rate ${rate}/s ${label} ${sustainedText(result)}  p50 ${fmt.ms(result.p50)}  ` +
      `p99 ${fmt.ms(result.p99)}  p99.9 ${fmt.ms(result.p999)}  max ${fmt.ms(result.max)} ms  ` +
      `errors ${result.errors + result.timeouts}  non-2xx ${result.non2xx}  generator delay p99 ` +
      `${fmt.ms(result.generatorDelayP99)} ms  other processes ${fmt.cores(result.cpu.othersCores)}`,
  );
  return result;
}

// The same share of the orchestrator's own closed-loop capacity (defaults), for the latency at equal utilisation:
// at RATE the orchestrator runs at a larger share of its capacity than bare Fastify does, and queueing near
// saturation, not the per-request path, then sets its p99. Reported beside the budget, not instead of it.
const OWN_RATE = Math.max(100, Math.round((S.rateShare * byKey.orch.summary.rps) / 100) * 100);
/** The fixed-rate runs of a round: every target at RATE, then the orchestrator at OWN_RATE (unless BENCH_RATE is set). */
const pacedRuns = [
  ...TARGETS.map((target) => ({ target, rate: RATE, label: target.label.padEnd(40), results: [], own: false })),
  ...(S.rate === undefined
    ? [
        {
          target: byKey.orch,
          rate: OWN_RATE,
          label: `(${S.rateShare} of its own capacity) ${byKey.orch.label}:`,
          results: [],
          own: true,
        },
      ]
    : []),
];
// Rounds interleaved like the closed-loop ones (the order rotates every round); each figure is the median of its runs.
for (let round = 0; round < S.rateRounds; round++) {
  for (let i = 0; i < pacedRuns.length; i++) {
    const run = pacedRuns[(i + round) % pacedRuns.length];
    run.results.push(await pacedRun(run.target, run.rate, `round ${round + 1}: ${run.label}`));
  }
}
for (const run of pacedRuns) if (!run.own) run.target.paced = pacedSummary(run.results);
const ownRun = pacedRuns.find((run) => run.own);
const ownRate = ownRun === undefined ? null : pacedSummary(ownRun.results);
{
  const target = byKey.orch;
  await sleep(500);
  const result = await runAutocannon({ ...loadOptions(target, S.rateDuration), overallRate: RATE });
  checkAlive(target, 'the autocannon fixed-rate run');
  target.autocannonRate = result;
  say(
    `autocannon overallRate ${RATE} ${target.label}: ${fmt.int(result.rps)}/s  p50 ${result.p50}  p99 ${result.p99} ms ` +
      `(whole ms, corrected for coordinated omission)  errors ${result.errors + result.timeouts}  non-2xx ${result.non2xx}`,
  );
}

// ---------------------------------------------------------------------------------------------------------------
// Soak: closed-loop load on the default orchestrator for BENCH_SOAK seconds, RSS sampled every second.

let soak = null;
if (S.soak > 0) {
  const target = byKey.orch;
  const pid = target.server.pid;
  const samples = [];
  const before = rssMB(pid);
  const sampler = setInterval(() => samples.push(rssMB(pid)), 1000);
  say(`soak: ${S.soak} s of load on ${target.label}; RSS before ${fmt.mb(before)} MB`);
  let result;
  const meter = cpuMeter(serverPids());
  try {
    result = await runLoad(S.tool, loadOptions(target, S.soak));
  } finally {
    clearInterval(sampler);
  }
  const cpu = meter();
  checkAlive(target, 'the soak');
  const after = rssMB(pid);
  soak = {
    seconds: S.soak,
    before,
    after,
    peak: Math.max(before, after, ...samples.filter(Number.isFinite)),
    hwm: peakRssMB(pid),
    rps: result.rps,
    p99: result.p99,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
    others: cpu.othersCores,
    loadSecondsBefore:
      S.warmup +
      S.rounds * S.duration +
      S.rateRounds * (RATE_WARMUP + S.rateDuration) +
      S.rateDuration +
      (ownRate ? S.rateRounds * (RATE_WARMUP + S.rateDuration) : 0),
  };
  say(
    `soak: ${fmt.int(result.rps)} req/s, p99 ${fmt.ms(result.p99)} ms, errors ${soak.errors}, non-2xx ${soak.non2xx}; ` +
      `RSS after ${fmt.mb(after)} MB (peak during soak ${fmt.mb(soak.peak)} MB, process peak ${fmt.mb(soak.hwm)} MB)`,
  );
}

// ---------------------------------------------------------------------------------------------------------------
// Final state of the orchestrators, then stop the servers.

for (const target of TARGETS.filter((t) => t.key !== 'baseline')) {
  try {
    const health = await fetchJson(`${target.server.origin}/health`);
    const state = Object.entries(health.json?.pools ?? {})
      .map(([name, pool]) => `${name} ${pool.healthy}/${pool.total}`)
      .join(', ');
    target.health = `${health.status} ${health.json?.status ?? '?'} (${state})`;
    if (health.status !== 200) problems.push(`${target.label}: GET /health answered ${health.status} after the load`);
  } catch (error) {
    target.health = `unavailable: ${error.message}`;
    problems.push(`${target.label}: GET /health failed after the load: ${error.message}`);
  }
  const stderr = target.server.stderrTail().trim();
  if (stderr) problems.push(`${target.label} wrote to stderr: ${stderr.slice(-500)}`);
}
for (const target of TARGETS) {
  const s = target.summary;
  if (s.errors || s.non2xx) {
    problems.push(`${target.label}: ${s.errors} socket errors/timeouts and ${s.non2xx} non-2xx answers in the rounds`);
  }
  const p = target.paced;
  if (p.errors || p.timeouts || p.non2xx) {
    problems.push(`${target.label}: ${p.errors + p.timeouts} errors and ${p.non2xx} non-2xx in the fixed-rate run`);
  }
  if (!p.sustained) problems.push(`${target.label}: ${fmt.int(RATE)} req/s ${sustainedText(p)}`);
}
if (soak && (soak.errors || soak.non2xx)) {
  problems.push(`soak: ${soak.errors} socket errors/timeouts and ${soak.non2xx} non-2xx answers`);
}
for (const target of TARGETS) await stopChecked(target.server, target.label, problems);

// ---------------------------------------------------------------------------------------------------------------
// Optional CPU profile of one round on a fresh default orchestrator.

/** One closed-loop round on a fresh, profiled server of `target`; returns the profile summary. */
async function profileTarget(target, keepAs) {
  const file = join(work, `${target.key}.cpuprofile`);
  const server = await target.start({
    name: `${target.label} (profiled)`,
    nodeArgs: ['--import', CPU_PROFILER],
    env: { BENCH_CPU_PROFILE_FILE: file },
    ipc: true,
  });
  say(`profiling ${target.label} (pid ${server.pid}) for one ${S.duration} s round`);
  try {
    const profiled = { ...target, server };
    if (S.warmup > 0) await runLoad(S.tool, loadOptions(profiled, S.warmup));
    /** @type {Record<string, any>} */
    let result = {};
    const raw = await captureProfile(server, file, async () => {
      result = await runLoad(S.tool, loadOptions(profiled, S.duration));
    });
    const summary = summarizeProfile(raw, { top: 15 });
    const keep = join(
      os.tmpdir(),
      `shieldx-route-${keepAs}-${startedAt.toISOString().replace(/[:.]/g, '-')}.cpuprofile`,
    );
    copyFileSync(file, keep);
    return { ...summary, rps: result.rps, file: keep };
  } finally {
    await server.stop();
  }
}

let profile = null;
let baselineProfile = null;
if (S.profile) {
  baselineProfile = await profileTarget(byKey.baseline, 'baseline');
  profile = await profileTarget(byKey.orch, 'orchestrator');
}
await stubs.close();
await advisor.stop();

// ---------------------------------------------------------------------------------------------------------------
// Report

const orch = byKey.orch;
const orchWarn = byKey.orchWarn;
const verdicts = [
  {
    budget: `orchestrator/baseline req/s ≥ ${BUDGET.ratio}`,
    measured: `${fmt.ratio(orch.summary.ratio)} (defaults); ${fmt.ratio(orchWarn.summary.ratio)} (log level warn)`,
    result: passOrMiss(orch.summary.ratio >= BUDGET.ratio),
  },
  {
    budget:
      `p99 ≤ ${BUDGET.p99Factor} × bare Fastify's p99 at ${fmt.int(RATE)} req/s` +
      (S.rate === undefined ? ` (${S.rateShare} of its measured capacity)` : ''),
    measured:
      `${pacedBrief(orch.paced)} (defaults${orch.paced.sustained ? `, ${fmt.ratio(orch.paced.p99 / byKey.baseline.paced.p99)}` : ''}); ` +
      `${pacedBrief(orchWarn.paced)} (log level warn); bare Fastify ${pacedBrief(byKey.baseline.paced)}`,
    result:
      orch.paced.sustained && byKey.baseline.paced.sustained
        ? passOrMiss(orch.paced.p99 <= BUDGET.p99Factor * byKey.baseline.paced.p99)
        : 'miss (rate not sustained)',
  },
  {
    budget: `a cached threat score costs ≤ ${BUDGET.threatCost * 100} % of /route req/s`,
    measured: `${fmt.ratio(byKey.orchThreat.summary.rps / orch.summary.rps)} of the defaults' req/s`,
    result: passOrMiss(byKey.orchThreat.summary.rps >= (1 - BUDGET.threatCost) * orch.summary.rps),
  },
  soak
    ? {
        budget: `RSS < ${BUDGET.rssMB} MB after ~60 s of load`,
        measured: `${fmt.mb(soak.after)} MB after ${soak.seconds} s (peak during soak ${fmt.mb(soak.peak)} MB)`,
        result: passOrMiss(soak.after < BUDGET.rssMB),
      }
    : { budget: `RSS < ${BUDGET.rssMB} MB after ~60 s of load`, measured: 'not measured (BENCH_SOAK=0)', result: '—' },
];

const roundsHeaders = [
  'target',
  'req/s',
  'p50 ms',
  'p99 ms',
  'errors',
  'non-2xx',
  'RSS MB idle',
  'RSS MB after load',
  'vs baseline',
  'req/s by round',
  'other processes',
];
const roundsRows = TARGETS.map((t) => [
  t.label,
  fmt.int(t.summary.rps),
  fmt.ms(t.summary.p50),
  fmt.ms(t.summary.p99),
  t.summary.errors,
  t.summary.non2xx,
  fmt.mb(t.idleRss),
  fmt.mb(t.summary.rss),
  fmt.ratio(t.summary.ratio),
  t.summary.perRound.map((v) => fmt.int(v)).join(' / '),
  fmt.cores(t.summary.others),
]);
const rateHeaders = [
  'target',
  'sustained',
  'achieved req/s',
  'p50 ms',
  'p99 ms',
  'p99.9 ms',
  'max ms',
  'p99 from due time',
  'p99 ms by round',
  'generator delay p99 ms',
  'errors',
  'non-2xx',
  'other processes',
];
const rateRows = TARGETS.map((t) => [
  t.label,
  t.paced.sustained ? 'yes' : t.paced.gaveUpAtS !== null ? `no (gave up at ${t.paced.gaveUpAtS.toFixed(1)} s)` : 'no',
  fmt.int(t.paced.rps),
  fmt.ms(t.paced.p50),
  fmt.ms(t.paced.p99),
  fmt.ms(t.paced.p999),
  fmt.ms(t.paced.max),
  fmt.ms(t.paced.lateP99),
  t.paced.rounds.map((r) => fmt.ms(r.p99)).join(' / '),
  fmt.ms(t.paced.generatorDelayP99),
  t.paced.errors + t.paced.timeouts,
  t.paced.non2xx,
  fmt.cores(t.paced.cpu.othersCores),
]);
const ac = orch.autocannonRate;

log('');
log(closedLoopText(S, roundsHeaders, roundsRows));
log('');
log(
  `Fixed rate: ${fmt.int(RATE)} req/s, medians of ${S.rateRounds} round(s) of ${S.rateDuration} s (paced open loop, ` +
    `${S.connections} connections)`,
);
log(textTable(rateHeaders, rateRows));
log(
  `autocannon overallRate ${RATE} on the orchestrator (defaults): ${fmt.int(ac.rps)} req/s, p50 ${ac.p50} ms, ` +
    `p99 ${ac.p99} ms, max ${ac.max} ms (whole ms; sends each second's budget as a burst)`,
);
/** The orchestrator's p99 at the same share of its own capacity as bare Fastify's run at RATE, or null. */
const equalUtilisation =
  ownRate === null
    ? null
    : `At the same share (${S.rateShare}) of each server's own closed-loop capacity: orchestrator (defaults) at ` +
      `${fmt.int(OWN_RATE)} req/s ${pacedBrief(ownRate)}, p99.9 ${fmt.ms(ownRate.p999)} ms; bare Fastify at ` +
      `${fmt.int(RATE)} req/s ${pacedBrief(byKey.baseline.paced)}` +
      (ownRate.sustained && byKey.baseline.paced.sustained
        ? ` (${fmt.ratio(ownRate.p99 / byKey.baseline.paced.p99)} its p99).`
        : '.');
if (equalUtilisation) log(equalUtilisation);
if (soak) {
  log('');
  log(
    `Soak (orchestrator, defaults): ${soak.seconds} s at ${fmt.int(soak.rps)} req/s, p99 ${fmt.ms(soak.p99)} ms; RSS ` +
      `${fmt.mb(soak.before)} → ${fmt.mb(soak.after)} MB (peak ${fmt.mb(soak.peak)} MB); errors ${soak.errors}, ` +
      `non-2xx ${soak.non2xx}`,
  );
}
log('');
log(textTable(BUDGET_HEADERS, budgetRows(verdicts), 'lll'));
if (profile) {
  log('');
  log(`CPU profile: orchestrator (defaults), one ${S.duration} s round at ${fmt.int(profile.rps)} req/s; self time:`);
  log(
    textTable(
      ['function', 'where', 'self ms', 'self %'],
      profile.functions.map((f) => [f.name, f.where, fmt.int(f.selfMs), fmt.pct(f.pct)]),
      'llrr',
    ),
  );
  log('');
  log(
    textTable(
      ['package / area', 'self ms', 'self %'],
      profile.groups.map((g) => [g.group, fmt.int(g.selfMs), fmt.pct(g.pct)]),
    ),
  );
  log('');
  log(`For scale, bare Fastify profiled the same way (${fmt.int(baselineProfile.rps)} req/s): ${baselineTop()}.`);
  log(`profiles kept at ${profile.file} and ${baselineProfile.file} (open in Chrome DevTools → Performance)`);
}
for (const target of TARGETS.filter((t) => t.health))
  log(`GET /health after the load, ${target.label}: ${target.health}`);
printProblems(problems);

function baselineTop() {
  return baselineProfile.functions
    .slice(0, 5)
    .map((f) => `${f.name}${f.where ? ` (${f.where})` : ''} ${fmt.pct(f.pct)}`)
    .join(', ');
}

const loadEnd = loadAverage();
const othersAll = median([
  ...TARGETS.flatMap((t) => t.rounds.map((r) => r.cpu.othersCores)),
  ...TARGETS.map((t) => t.paced.cpu.othersCores),
  ...(soak ? [soak.others] : []),
]);
const noisy = othersAll > 0.25;
if (noisy) {
  log('');
  log(
    `Note: other processes used ${fmt.cores(othersAll)} (median over the measurements) of the ${machine.cores} ` +
      'while this ran: absolute figures are depressed and noisy; the interleaved ratios hold up better.',
  );
}

if (write) {
  const md = [];
  md.push('## `POST /route`');
  md.push('');
  md.push(
    `Command: \`${command}\`${process.env.npm_lifecycle_event ? ` (via \`npm run ${process.env.npm_lifecycle_event}\`)` : ''}  `,
  );
  md.push(`Date: ${startedAt.toISOString()}  `);
  md.push(
    `Machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGB} GB RAM, ${machine.os}; load average at start ` +
      `${machine.loadavg.join(' ')} (shared machine; load generator on the same cores)  `,
  );
  md.push(`Node ${machine.node}; code: commit ${git.commit}${git.dirty ? ' plus uncommitted changes' : ''}  `);
  md.push(`Load average at the end: ${loadEnd}  `);
  md.push(
    `Settings: ${S.rounds} round(s) × ${S.duration} s at ${S.connections} connections (${S.tool}), ${S.warmup} s ` +
      `warm-up per target, fixed rate ${fmt.int(RATE)} req/s in ${S.rateRounds} round(s) of ${S.rateDuration} s (each ` +
      `after an unmeasured ${RATE_WARMUP} s ramp-up), soak ${S.soak ? `${S.soak} s` : 'skipped'}`,
  );
  if (noisy) {
    md.push('');
    md.push(
      `> **Busy machine:** other processes used ${fmt.cores(othersAll)} of ${machine.cores} (median over the ` +
        'measurements) while this ran, so absolute figures are depressed and noisy; the ratios, measured interleaved, ' +
        'hold up better. The "other processes" columns say how busy the rest of the machine was during each figure.',
    );
  }
  md.push(...nonDefaultNote(DEFAULTS, S, { title: 'Short run, not the default settings' }));
  md.push('');
  md.push(
    'Setup: the baseline is `bench/baseline-fastify.mjs` (bare Fastify 5: parse the JSON body, answer a constant-shaped ' +
      '`{target, algo, policy, healthy, pool, cached}`). The orchestrator is the built `dist/` (copied to bench/.snapshot/ ' +
      'for the run, so a concurrent rebuild cannot swap it), ' +
      'started with `ORCH_ALLOW_INSECURE=1`, three pools (3, 2 and 2 stub backends on loopback that answer health ' +
      'probes), rate limits raised out of the way (`ORCH_IP_BURST`, `ORCH_IP_BURST_DEGRADED`, `ORCH_TENANT_BURST` = 10⁹), ' +
      'everything else at its default; its stdout (the JSON log) goes to /dev/null. Requests rotate over 12 bodies ' +
      '(3 services × 4 tenants × 2 scopes, 2 paths per service). All servers run at once; each round measures them one ' +
      'after the other, the order rotating every round. Every server, the baseline too, runs with the V8 flags and ' +
      `malloc settings the gateway ships with (\`${GATEWAY_NODE_OPTIONS}\`, ${GATEWAY_MALLOC_TEXT}; ` +
      'scripts/gateway-process.mjs). The fixed rate is ' +
      (S.rate === undefined
        ? `${S.rateShare} of the baseline's closed-loop req/s in this run (rounded to 100/s).`
        : 'set by BENCH_RATE.'),
  );
  md.push(...closedLoopMarkdown(S, roundsHeaders, roundsRows));
  md.push(
    'Errors (socket errors and timeouts) and non-2xx are totals over all rounds. RSS (VmRSS from /proc) "idle" is ' +
      'read after start-up and one request per body; "after load" after each round (median shown). "Other processes": ' +
      'average CPU cores used by everything outside this benchmark during the round (median; from /proc/stat minus ' +
      'the CPU time of the benchmark, its servers and wrk).',
  );
  md.push('');
  md.push(`### Fixed rate: ${fmt.int(RATE)} req/s, medians of ${S.rateRounds} round(s) of ${S.rateDuration} s`);
  md.push('');
  md.push(markdownTable(rateHeaders, rateRows));
  md.push('');
  md.push(
    'Paced open loop (`runPaced` in bench/lib/harness.mjs, undici Pool, ' +
      `${S.connections} connections): after a linear ramp-up, request *i* is due at *i*/rate and sent on time whatever ` +
      'earlier answers are doing; latency is measured at 1 µs resolution from hand-off to the last byte; "p99 from due time" also counts the ' +
      "generator's own timer lag (~1 ms batches). The bare-Fastify row is the floor this generator and machine can show. " +
      'If the server falls half a second behind (that many requests outstanding), the generator stops and the rate ' +
      'counts as not sustained. Every target runs once per round, the order rotating every round (the run at the ' +
      "orchestrator's own share below is one of them); each figure is the median of the rounds, errors are totals. " +
      '"Generator delay" is the event-loop delay of the generator itself (p99 over the measured part, median of the ' +
      'rounds): the generator shares the two cores with the server, and what it is late by is in every latency it ' +
      'reports.',
  );
  md.push('');
  if (equalUtilisation) {
    md.push(
      `${equalUtilisation} The budget compares both at bare Fastify's rate, where the orchestrator runs at ` +
        `${fmt.ratio(RATE / orch.summary.rps)} of its own capacity: near saturation, queueing sets the p99.`,
    );
    md.push('');
  }
  md.push(
    `For reference, autocannon \`overallRate: ${RATE}\` on the orchestrator (defaults): ${fmt.int(ac.rps)} req/s, ` +
      `p50 ${ac.p50} ms, p99 ${ac.p99} ms, max ${ac.max} ms. Not used for the verdict: autocannon records whole ` +
      'milliseconds, and its rate limit gives each connection a per-second budget that it spends back-to-back at the ' +
      'start of every second, so it measures bursts at saturation rather than a steady rate.',
  );
  md.push('');
  md.push('### Memory (soak)');
  md.push('');
  md.push(
    soak
      ? `Orchestrator (defaults) under closed-loop load for ${soak.seconds} s (after ~${soak.loadSecondsBefore} s of ` +
          `earlier load in this run): ${fmt.int(soak.rps)} req/s, p99 ${fmt.ms(soak.p99)} ms, errors ${soak.errors}, ` +
          `non-2xx ${soak.non2xx}. RSS ${fmt.mb(soak.before)} MB before → **${fmt.mb(soak.after)} MB after**; highest ` +
          `sample during the soak ${fmt.mb(soak.peak)} MB; process peak (VmHWM) ${fmt.mb(soak.hwm)} MB. Other ` +
          `processes used ${fmt.cores(soak.others)} meanwhile.`
      : 'Skipped (BENCH_SOAK=0).',
  );
  md.push(...budgetsMarkdown(verdicts));
  if (profile) {
    md.push('');
    md.push(
      `### Where the time goes (CPU profile of one ${S.duration} s round, orchestrator defaults, ` +
        `${fmt.int(profile.rps)} req/s under the profiler)`,
    );
    md.push('');
    md.push(
      markdownTable(
        ['function', 'where', 'self %'],
        profile.functions.map((f) => [`\`${f.name}\``, f.where ? `\`${f.where}\`` : '', fmt.pct(f.pct)]),
        'llr',
      ),
    );
    md.push('');
    md.push(
      '`writev` is the native socket write of each response: its self time includes the kernel delivering it over ' +
        'loopback TCP and time the server spends descheduled after waking the load generator on the same two cores. ' +
        `For scale, bare Fastify profiled the same way (${fmt.int(baselineProfile.rps)} req/s): ${baselineTop()}. ` +
        'Orchestrator self time by package / area: ' +
        profile.groups
          .slice(0, 10)
          .map((g) => `${g.group} ${fmt.pct(g.pct)}`)
          .join(', ') +
        '.',
    );
  }
  writeReport('route', md, { problems, gap: true });
}
process.exit(0);
