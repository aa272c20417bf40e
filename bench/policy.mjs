// Benchmark of the policy engine, in two parts, written to the `policy` section of docs/BENCHMARKS.md:
//
// 1. Decisions per second in one process, with the built libs/policy (dist/) and the committed default bundle
//    policies/build/policy.tar.gz (nothing is compiled): the OPA wasm engine alone on varied inputs (every call
//    evaluates), PolicyManager in enforce mode with the decision cache off, with the cache on and repeated inputs
//    (hits), with the cache on and only new inputs (misses), the cache key alone, and the base rules.
// 2. `POST /route` req/s of the built orchestrator with `ORCH_OPA_POLICY_PATH=<that bundle> ORCH_OPA_ENFORCE=1`, the
//    decision cache on (default) and off (`ORCH_OPA_CACHE_MAX=0`), beside the orchestrator without OPA (base rules
//    only), same build, same run, rounds interleaved.
//
//   node bench/policy.mjs [--no-build] [--no-write]
//
// Environment (defaults in brackets): BENCH_MICRO_RUNS [5] runs per micro-benchmark (median), BENCH_MICRO_N [10000]
// decisions per run for the rows that evaluate OPA (ten times as many for the others), BENCH_ROUNDS [4],
// BENCH_DURATION [3] s per /route round, BENCH_CONNECTIONS [64], BENCH_WARMUP [2] s, BENCH_TOOL [wrk if installed,
// else autocannon].
//
// Budgets (from the issue): /route with OPA and the cache ≥ 0.9 × /route without OPA; without the cache ≥ 0.5 ×.
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import {
  ROOT,
  envNumber,
  fetchJson,
  fmt,
  installCleanup,
  median,
  startStubBackends,
  tempDir,
  summarizeRounds,
} from './lib/harness.mjs';
import {
  benchArgs,
  busyNote,
  closedLoopSettings,
  factsMarkdown,
  livePids,
  loadAverage,
  loadOptionsFor,
  interleavedRounds,
  nonDefaultNote,
  orchestratorTrouble,
  pairedRatio,
  prepareOrchestrator,
  runFacts,
  sendRequest,
  startOrchestrator,
  startupCheck,
  stopChecked,
  warmUp,
  SHIPPED_TEXT,
} from './lib/common.mjs';
import { policyInput, postRoute, routeBodies } from './lib/requests.mjs';
import {
  BUDGET_HEADERS,
  budgetRows,
  budgetsMarkdown,
  markdownTable,
  passOrMiss,
  printProblems,
  textTable,
  writeReport,
} from './lib/report.mjs';

// ---------------------------------------------------------------------------------------------------------------
// Settings

const { argv, build, write } = benchArgs(
  'policy.mjs',
  'env: BENCH_MICRO_RUNS=5 BENCH_MICRO_N=10000 BENCH_ROUNDS=4 BENCH_DURATION=3 BENCH_CONNECTIONS=64 BENCH_WARMUP=2 ' +
    'BENCH_TOOL=wrk|autocannon',
);
const DEFAULTS = { microRuns: 5, microN: 10_000, rounds: 4, duration: 3, connections: 64, warmup: 2 };
const S = {
  microRuns: envNumber('BENCH_MICRO_RUNS', DEFAULTS.microRuns, { min: 1 }),
  microN: envNumber('BENCH_MICRO_N', DEFAULTS.microN, { min: 100 }),
  ...closedLoopSettings(DEFAULTS),
};
const BUDGET = { cached: 0.9, uncached: 0.5 };
const BUNDLE_REL = 'policies/build/policy.tar.gz';
const RULES_REL = 'policies/shieldx/rules/data.json';
const BUNDLE = join(ROOT, BUNDLE_REL);
const RULES = join(ROOT, RULES_REL);
const ENTRYPOINT = 'shieldx/routing/decision';
const expectedS = 60 + S.microRuns * 8 * 2 + 3 * (S.warmup + 1) + S.rounds * 3 * (S.duration + 1.5);
installCleanup({ deadlineMs: (2 * expectedS + 300 + (build ? 600 : 0)) * 1000 });

const facts = runFacts('policy.mjs', argv);
const { say, log, machine } = facts;
say(`policy benchmark: ${facts.command}`);
say(`${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, load average ${machine.loadavg.join(' ')}`);

const work = tempDir('shieldx-bench-policy-');
const stubs = await startStubBackends(3);
const pools = { api: [stubs.urls[0]], search: [stubs.urls[1]], static: [stubs.urls[2]] };
/** @type {import('./lib/common.mjs').RoundTarget[]} */
const TARGETS = [
  { key: 'base', label: 'no OPA (base rules only)', env: {} },
  {
    key: 'cached',
    label: 'OPA enforced, decision cache on (default)',
    env: { ORCH_OPA_POLICY_PATH: BUNDLE, ORCH_OPA_ENFORCE: '1' },
  },
  {
    key: 'uncached',
    label: 'OPA enforced, cache off (ORCH_OPA_CACHE_MAX=0)',
    env: { ORCH_OPA_POLICY_PATH: BUNDLE, ORCH_OPA_ENFORCE: '1', ORCH_OPA_CACHE_MAX: '0' },
  },
];
const snapshot = await prepareOrchestrator({ build, say, check: startupCheck({ work, pools, env: TARGETS[1].env }) });
const policy = await import(pathToFileURL(join(snapshot.dir, 'dist/orchestrator/libs/policy/src/index.js')).href);

// ---------------------------------------------------------------------------------------------------------------
// Part 1: decisions per second in this process

const VARIED = Array.from({ length: 4096 }, (_, i) => policyInput(i));
const REPEATED = VARIED.slice(0, 12);

const bundleBytes = readFileSync(BUNDLE);
const opa = await policy.OpaPolicy.load(bundleBytes, ENTRYPOINT, BUNDLE_REL);
const base = new policy.BaseRulesPolicy(policy.parseBaseRules(readFileSync(RULES, 'utf8')));
const evalErrors = [];
function manager({ withOpa = true, cacheMax = 10_000 } = {}) {
  return policy.PolicyManager.create({
    rulesPath: RULES,
    ...(withOpa ? { opaPath: BUNDLE } : {}),
    entrypoint: ENTRYPOINT,
    enforce: true,
    onError: 'deny',
    evalBudgetMs: 50,
    cache: { maxEntries: cacheMax, ttlMs: 2000 },
    readFile: (path) => readFile(path),
    clock: { now: () => performance.now() },
    hooks: { evalError: (kind, message) => evalErrors.push(`${kind}: ${message}`) },
  });
}

// The engines must agree before their speeds mean anything.
const problems = [];
let decisionMix = '';
{
  const actions = {};
  let disagreements = 0;
  for (const i of VARIED) {
    const a = opa.decide(i);
    const b = base.decide(i);
    actions[a.action] = (actions[a.action] ?? 0) + 1;
    if (a.action !== b.action || a.divertTo !== b.divertTo) disagreements++;
  }
  decisionMix = Object.entries(actions)
    .map(([action, n]) => `${action} ${n}`)
    .join(', ');
  say(
    `OPA and base rules on ${VARIED.length} varied inputs: ${disagreements} disagreements; OPA decided ${decisionMix}`,
  );
  if (disagreements) problems.push(`OPA and the base rules disagreed on ${disagreements} of ${VARIED.length} inputs`);
}

/** Calls `fn(inputs[k % length])` `n` times; returns decisions per second. */
function timeOnce(fn, inputs, n) {
  let sink = 0;
  const t0 = performance.now();
  for (let k = 0; k < n; k++) {
    const d = fn(inputs[k % inputs.length]);
    if (d.action === 'allow') sink++;
  }
  const perSecond = n / ((performance.now() - t0) / 1000);
  if (sink < 0) log(sink); // keep the results alive
  return perSecond;
}

say('micro-benchmarks (in this process, the built libs/policy, the committed bundle)');
const N = S.microN;
const cachedManager = await manager();
const uncachedManager = await manager({ cacheMax: 0 });
const missManager = await manager();
const baseManager = await manager({ withOpa: false });
if (baseManager.source !== 'base-rules' || cachedManager.source !== 'opa') {
  throw new Error(`unexpected manager sources: ${baseManager.source}, ${cachedManager.source}`);
}
// Every input new for the all-miss row: cache key, lookup miss, evaluation, store (and LRU eviction once full).
const fresh = Array.from({ length: N * (S.microRuns + 1) }, (_, i) => policyInput(1_000_000 + i));
let nextFresh = 0;
const ENGINES = [
  {
    label: '`OpaPolicy.decide` (wasm evaluation)',
    inputsText: `${VARIED.length} varied, every call evaluates`,
    run: (n) => timeOnce((i) => opa.decide(i), VARIED, n),
    n: N,
  },
  {
    label: '`PolicyManager.decide`, OPA enforced, cache off',
    inputsText: `${VARIED.length} varied, every call evaluates`,
    run: (n) => timeOnce((i) => uncachedManager.decide(i), VARIED, n),
    n: N,
  },
  {
    label: '`PolicyManager.decide`, OPA enforced, cache on, all misses',
    inputsText: 'every input new',
    run: (n) => timeOnce(() => missManager.decide(fresh[nextFresh++ % fresh.length]), [null], n),
    n: N,
  },
  {
    label: '`PolicyManager.decide`, OPA enforced, cache on, hits',
    inputsText: `${REPEATED.length} repeated`,
    run: (n) => timeOnce((i) => cachedManager.decide(i), REPEATED, n),
    n: 10 * N,
  },
  {
    label: '`decisionCacheKey` alone (SHA-256 of the input)',
    inputsText: `${VARIED.length} varied`,
    run: (n) => timeOnce((i) => ({ action: policy.decisionCacheKey(i) && 'allow' }), VARIED, n),
    n: 10 * N,
  },
  {
    label: '`BaseRulesPolicy.decide`',
    inputsText: `${VARIED.length} varied`,
    run: (n) => timeOnce((i) => base.decide(i), VARIED, n),
    n: 10 * N,
  },
  {
    label: '`PolicyManager.decide`, base rules only (no OPA)',
    inputsText: `${VARIED.length} varied`,
    run: (n) => timeOnce((i) => baseManager.decide(i), VARIED, n),
    n: 10 * N,
  },
];
// Warm every path (JIT, wasm) with a tenth of a run, not counted; then interleaved runs, the order rotating.
for (const engine of ENGINES) {
  engine.run(Math.ceil(engine.n / 10));
  engine.runs = [];
}
for (let run = 0; run < S.microRuns; run++) {
  for (let j = 0; j < ENGINES.length; j++) {
    const engine = ENGINES[(j + run) % ENGINES.length];
    engine.runs.push(engine.run(engine.n));
  }
}
const micro = ENGINES.map((engine) => {
  const m = median(engine.runs);
  say(`  ${engine.label.padEnd(64)} ${fmt.int(m).padStart(10)} /s  (${(1e6 / m).toFixed(2)} µs each)`);
  return { label: engine.label, inputsText: engine.inputsText, perSecond: m, usEach: 1e6 / m, runs: engine.runs };
});
{
  const hitStats = cachedManager.status().cache;
  say(`  (cache on, repeated inputs: ${fmt.int(hitStats.hits)} hits, ${fmt.int(hitStats.misses)} misses)`);
  const missStats = missManager.status().cache;
  if (missStats.hits !== 0) problems.push(`the all-miss micro-benchmark had ${missStats.hits} cache hits`);
}
if (evalErrors.length) {
  problems.push(
    `${evalErrors.length} OPA evaluation(s) failed or went over the 50 ms budget in the micro-benchmarks ` +
      `(${evalErrors.slice(0, 3).join('; ')}). The budget is wall time: a process descheduled mid-evaluation on a ` +
      'busy machine counts as slow, and the manager then answers with ORCH_POLICY_ON_ERROR (deny by default).',
  );
}

// ---------------------------------------------------------------------------------------------------------------
// Part 2: POST /route with and without OPA, with and without the cache (rounds interleaved)

const REQUESTS = routeBodies().map(postRoute);

for (const target of TARGETS) {
  target.server = await startOrchestrator({
    snapshot,
    name: `orchestrator (${target.key})`,
    work,
    pools,
    env: target.env,
  });
  target.rounds = [];
  // Two passes: the second one is answered from the cache when it is on.
  const seen = { cached: 0, policy: new Set() };
  for (let pass = 0; pass < 2; pass++) {
    for (const r of REQUESTS) {
      const answer = await sendRequest(target.server.origin, r);
      if (answer.status !== 200)
        throw new Error(`${target.label}: POST /route ${r.body} → ${answer.status} ${answer.body.slice(0, 300)}`);
      if (pass === 1 && answer.json.cached) seen.cached++;
      seen.policy.add(answer.json.policy);
    }
  }
  const status = (await fetchJson(`${target.server.origin}/policy`)).json;
  target.policyStatus = status;
  const expectedSource = target.key === 'base' ? 'base-rules' : 'opa';
  if (status?.source !== expectedSource) {
    throw new Error(`${target.label}: GET /policy says source ${status?.source}, expected ${expectedSource}`);
  }
  const expectCached = target.key === 'cached' ? REQUESTS.length : 0;
  if (seen.cached !== expectCached) {
    problems.push(
      `${target.label}: ${seen.cached} of ${REQUESTS.length} repeated requests answered cached: true, expected ${expectCached}`,
    );
  }
  say(
    `started ${target.label} (pid ${target.server.pid}); /policy source ${status.source}; policy actions ` +
      `${[...seen.policy].join(', ')}; second pass cached ${seen.cached}/${REQUESTS.length}`,
  );
}

const serverPids = () => livePids(TARGETS);
const loadOptions = loadOptionsFor(REQUESTS, S.connections);

await warmUp({ targets: TARGETS, tool: S.tool, seconds: S.warmup, loadOptions, say });
for (const target of TARGETS) target.cacheBefore = (await fetchJson(`${target.server.origin}/policy`)).json?.cache;

await interleavedRounds({
  settings: S,
  targets: TARGETS,
  loadOptions,
  pids: serverPids,
  say,
  labelWidth: 46,
  describe: (result) =>
    `errors ${result.errors}  timeouts ${result.timeouts}  ` +
    `non-2xx ${result.non2xx}  other processes ${fmt.cores(result.cpu.othersCores)}`,
});

for (const target of TARGETS) {
  const rounds = target.rounds;
  target.summary = { ...summarizeRounds(rounds), others: median(rounds.map((r) => r.cpu.othersCores)) };
  const after = (await fetchJson(`${target.server.origin}/policy`)).json?.cache;
  const before = target.cacheBefore;
  if (after && before) {
    const hits = after.hits - before.hits;
    const misses = after.misses - before.misses;
    target.summary.hitRatio = hits + misses > 0 ? hits / (hits + misses) : NaN;
    target.summary.cacheText =
      target.key === 'base'
        ? '— (base rules are not cached)'
        : target.key === 'uncached'
          ? `off (${fmt.int(hits)} hits, ${fmt.int(misses)} misses counted)`
          : `${fmt.int(hits)} hits / ${fmt.int(misses)} misses (${fmt.pct(100 * target.summary.hitRatio)} hits)`;
  }
  const trouble = await orchestratorTrouble(target.server.origin);
  if (trouble.length) problems.push(`${target.label}: counters after the run: ${trouble.join('; ')}`);
  const stderr = target.server.stderrTail().trim();
  if (stderr) problems.push(`${target.label} wrote to stderr: ${stderr.slice(-500)}`);
  const s = target.summary;
  if (s.errors || s.non2xx)
    problems.push(
      `${target.label}: ${s.socketErrors} socket errors, ${s.timeouts} timeouts (no answer within 2 s) and ${s.non2xx} non-2xx answers; slowest answer ${fmt.ms(s.maxLatency)} ms`,
    );
}
const baseSummary = TARGETS[0].summary;
for (const target of TARGETS) {
  target.summary.ratio = target.summary.rps / baseSummary.rps;
  target.summary.ratioPaired = pairedRatio(target.summary.perRound, baseSummary.perRound);
}
for (const target of TARGETS) await stopChecked(target.server, target.label, problems);
await stubs.close();
snapshot.dispose();

// ---------------------------------------------------------------------------------------------------------------
// Report

const byKey = Object.fromEntries(TARGETS.map((t) => [t.key, t.summary]));
const verdicts = [
  {
    budget: `/route with OPA and the cache ≥ ${BUDGET.cached} × /route without OPA`,
    measured: `${fmt.ratio(byKey.cached.ratio)} (paired by round ${fmt.ratio(byKey.cached.ratioPaired)})`,
    result: passOrMiss(byKey.cached.ratio >= BUDGET.cached),
  },
  {
    budget: `/route with OPA, cache off ≥ ${BUDGET.uncached} × /route without OPA`,
    measured: `${fmt.ratio(byKey.uncached.ratio)} (paired by round ${fmt.ratio(byKey.uncached.ratioPaired)})`,
    result: passOrMiss(byKey.uncached.ratio >= BUDGET.uncached),
  },
];
const microHeaders = ['engine', 'inputs', 'decisions/s', 'µs each', 'per second by run'];
const microRows = micro.map((m) => [
  m.label,
  m.inputsText,
  fmt.int(m.perSecond),
  m.usEach.toFixed(2),
  m.runs.map((v) => fmt.int(v)).join(' / '),
]);
const routeHeaders = [
  'orchestrator',
  'req/s',
  'vs no OPA',
  'p50 ms',
  'p99 ms',
  'errors',
  'non-2xx',
  'decision cache in the rounds',
  'req/s by round',
  'other processes',
];
const routeRows = TARGETS.map((t) => [
  t.label,
  fmt.int(t.summary.rps),
  fmt.ratio(t.summary.ratio),
  fmt.ms(t.summary.p50),
  fmt.ms(t.summary.p99),
  t.summary.errors,
  t.summary.non2xx,
  t.summary.cacheText ?? '?',
  t.summary.perRound.map((v) => fmt.int(v)).join(' / '),
  fmt.cores(t.summary.others),
]);
const othersAll = median(TARGETS.flatMap((t) => t.rounds.map((r) => r.cpu.othersCores)));

log('');
log(textTable(microHeaders, microRows, 'llrrr'));
log('');
log(
  `POST /route, closed loop: median of ${S.rounds} round(s) of ${S.duration} s, ${S.connections} connections, ${S.tool}`,
);
log(textTable(routeHeaders, routeRows));
log('');
log(textTable(BUDGET_HEADERS, budgetRows(verdicts), 'lll'));
log(`load average at the end: ${loadAverage()}`);
printProblems(problems);

if (write) {
  const md = [];
  md.push('## Policy: OPA (wasm) decisions and their cost on `POST /route`');
  md.push('');
  md.push(...factsMarkdown(facts, { what: S.tool }));
  md.push(
    `Settings: micro-benchmarks ${S.microRuns} interleaved runs each (median), ${fmt.int(N)} decisions per run where OPA ` +
      `evaluates, ${fmt.int(10 * N)} otherwise; /route ${S.rounds} round(s) × ${S.duration} s at ${S.connections} ` +
      `connections (${S.tool}), ${S.warmup} s warm-up per target`,
  );
  md.push(...busyNote(othersAll, machine.cores));
  md.push(...nonDefaultNote(DEFAULTS, S));
  md.push('');
  md.push(
    `Policy: the committed bundle \`${BUNDLE_REL}\` (entrypoint \`${ENTRYPOINT}\`, the Rego of ` +
      '`policies/shieldx/routing/` with the default base rules as its data), nothing compiled for the run; base rules ' +
      `\`${RULES_REL}\`.`,
  );
  md.push('');
  md.push(`### Decisions per second in one process (median of ${S.microRuns} interleaved runs)`);
  md.push('');
  md.push(markdownTable(microHeaders, microRows, 'llrrr'));
  md.push('');
  md.push(
    'The built `libs/policy` (dist/) in this process. "Varied": 4096 distinct inputs (3 services, 61 tenants and a ' +
      'quarantined one, 3 scopes and now and then `scanner`, 6 paths with and without a suffix, distinct client IPs, SPIFFE identities, DPoP ' +
      'thumbprints, user agents), whose decisions mix ' +
      `${decisionMix}; OPA and the base rules agree on every one of them before anything is timed. ` +
      '"Cache on, hits": the manager with the default cache (10,000 entries, 2 s TTL) and 12 inputs repeated, so ' +
      'nearly every call is a hit (SHA-256 key, LRU refresh). "All misses": every input new, so each call pays the ' +
      'key, the miss, the evaluation and the store. `PolicyManager` in enforce mode also times every evaluation ' +
      'against the 50 ms budget.',
  );
  md.push('');
  md.push(
    `### \`POST /route\` (${S.tool}, ${S.connections} connections): medians of ${S.rounds} round(s) of ${S.duration} s`,
  );
  md.push('');
  md.push(markdownTable(routeHeaders, routeRows));
  md.push('');
  md.push(
    `Three orchestrators from the same build (snapshotted \`dist/\`; run ${SHIPPED_TEXT}), running at once, defaults otherwise (log level ` +
      'info to /dev/null, rate limits raised out of the way with `ORCH_IP_BURST`, `ORCH_IP_BURST_DEGRADED`, ' +
      '`ORCH_TENANT_BURST` = 10⁹): without OPA (the base rules decide, uncached by design), with ' +
      `\`ORCH_OPA_POLICY_PATH=${BUNDLE_REL}\` (absolute path) \`ORCH_OPA_ENFORCE=1\` and the decision cache at its ` +
      'defaults, and the same with `ORCH_OPA_CACHE_MAX=0`. Requests rotate over 12 bodies (3 services × 4 tenants × ' +
      '2 scopes, 2 paths per service, as in the `route` benchmark), so with the cache on nearly every decision is a ' +
      'hit (12 misses per 2 s TTL); with it off every request evaluates the wasm policy. "Decision cache in the ' +
      'rounds": hits and misses counted by `GET /policy` over the measured rounds. Rounds rotate the order.',
  );
  md.push(...budgetsMarkdown(verdicts));
  writeReport('policy', md, { problems, gap: true });
}
process.exit(0);
