// Balancing bake-off through `/proxy`, in two scenarios: one orchestrator (built dist/) in front of two sets of four
// loopback backends — two fast, one ten times slower, one jittery — and every algorithm (`round_robin`, `least_conn`,
// `ewma`, `p2c`, `rendezvous`, chosen per request with the `X-LB-Algo` header; `rendezvous` keys rotate over many
// `X-Hash-Key` values) at the same evenly paced request rate.
//
//   A: backends of unlimited capacity (pool `a`), at most BENCH_LB_CONNECTIONS_A [16] requests in flight;
//   B: backends that serve BENCH_LB_CAPACITY [8] requests at once, the rest queueing inside the backend (pool `b`),
//      at most BENCH_LB_CONNECTIONS_B [64] in flight.
//
//   C: cost-aware balancing (pool `c`, unlimited backends, BENCH_LB_CONNECTIONS_A in flight): two cheap backends
//      (price BENCH_LB_CHEAP_COST [0.1] per 1,000 requests) answering after BENCH_LB_CHEAP_MS [20] ms and two dear
//      ones (BENCH_LB_DEAR_COST [1]) answering after BENCH_LB_FAST_MS; `cost` (objective ORCH_COST_LATENCY_SLO, 50 ms
//      by default) against `ewma` and `round_robin`: spend per 1,000 requests and latency. Not in the sweep.
//
// Reports per scenario p50/p99/mean, p99 and mean against round robin's, and the share of requests each backend got
// (from the `x-backend` header of every answer), rounds interleaved. Writes the `lb` section of docs/BENCHMARKS.md.
//
//   node bench/lb.mjs [--no-build] [--no-write]
//
// Sweep of the in-flight penalty: BENCH_LB_PENALTIES=0,0.2,1,5 starts one orchestrator per value with
// `ORCH_P2C_CONN_PENALTY=<value>` and measures `round_robin`, `ewma` and `p2c` in both scenarios against each; it
// prints a table (text and markdown) and writes nothing to docs/BENCHMARKS.md.
//
// Environment (defaults in brackets): BENCH_ROUNDS [3], BENCH_DURATION [4] s measured per row and round,
// BENCH_WARMUP [1.5] s of ramp before each measurement (same algorithm, not counted: the EWMA learns), BENCH_LB_RATE
// [500] req/s (both scenarios), BENCH_LB_CONNECTIONS_A [16], BENCH_LB_CONNECTIONS_B [64], BENCH_LB_CAPACITY [8],
// BENCH_LB_FAST_MS [2], BENCH_LB_SLOW_MS [20], BENCH_LB_JITTER_MS [30] (the jittery backend answers after FAST +
// uniform 0..JITTER ms), BENCH_LB_KEYS [1000] rendezvous keys, BENCH_LB_PENALTIES [unset], BENCH_LB_CHEAP_MS [20],
// BENCH_LB_CHEAP_COST [0.1], BENCH_LB_DEAR_COST [1].
//
// Budgets, per scenario: p99 of `ewma` ≤ 0.3 × p99 of `round_robin`; mean of `p2c` ≤ 0.6 × mean of `round_robin`
// (p2c's p99 is bounded below by the picks that draw two bad backends). Verdicts as measured.
import { performance } from 'node:perf_hooks';
import {
  cpuMeter,
  envNumber,
  fetchJson,
  fmt,
  installCleanup,
  median,
  runPaced,
  sleep,
  sum,
  tempDir,
} from './lib/harness.mjs';
import {
  benchArgs,
  busyNote,
  factsMarkdown,
  loadAverage,
  nonDefaultNote,
  orchestratorTrouble,
  pairedRatio,
  prepareOrchestrator,
  rotated,
  runFacts,
  startHttpBackends,
  startOrchestrator,
  startupCheck,
  stopChecked,
  SHIPPED_TEXT,
} from './lib/common.mjs';
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

const {
  argv,
  build,
  write: writeAsked,
} = benchArgs(
  'lb.mjs',
  'env: BENCH_ROUNDS=3 BENCH_DURATION=4 BENCH_WARMUP=1.5 BENCH_LB_RATE=500 BENCH_LB_CONNECTIONS_A=16 ' +
    'BENCH_LB_CONNECTIONS_B=64 BENCH_LB_CAPACITY=8 BENCH_LB_FAST_MS=2 BENCH_LB_SLOW_MS=20 BENCH_LB_JITTER_MS=30 ' +
    'BENCH_LB_KEYS=1000 BENCH_LB_CHEAP_MS=20 BENCH_LB_CHEAP_COST=0.1 BENCH_LB_DEAR_COST=1 ' +
    'BENCH_LB_PENALTIES=<comma-separated values: sweep mode>',
);
const DEFAULTS = {
  rounds: 3,
  duration: 4,
  warmup: 1.5,
  rate: 500,
  connectionsA: 16,
  connectionsB: 64,
  capacity: 8,
  fastMs: 2,
  slowMs: 20,
  jitterMs: 30,
  keys: 1000,
  cheapMs: 20,
  cheapCost: 0.1,
  dearCost: 1,
};
const S = {
  rounds: envNumber('BENCH_ROUNDS', DEFAULTS.rounds, { min: 1 }),
  duration: envNumber('BENCH_DURATION', DEFAULTS.duration, { min: 1 }),
  warmup: envNumber('BENCH_WARMUP', DEFAULTS.warmup, { min: 0.5, integer: false }),
  rate: envNumber('BENCH_LB_RATE', DEFAULTS.rate, { min: 10 }),
  connectionsA: envNumber('BENCH_LB_CONNECTIONS_A', DEFAULTS.connectionsA, { min: 1 }),
  connectionsB: envNumber('BENCH_LB_CONNECTIONS_B', DEFAULTS.connectionsB, { min: 1 }),
  capacity: envNumber('BENCH_LB_CAPACITY', DEFAULTS.capacity, { min: 1 }),
  fastMs: envNumber('BENCH_LB_FAST_MS', DEFAULTS.fastMs, { min: 0, integer: false }),
  slowMs: envNumber('BENCH_LB_SLOW_MS', DEFAULTS.slowMs, { min: 0, integer: false }),
  jitterMs: envNumber('BENCH_LB_JITTER_MS', DEFAULTS.jitterMs, { min: 0, integer: false }),
  keys: envNumber('BENCH_LB_KEYS', DEFAULTS.keys, { min: 1 }),
  cheapMs: envNumber('BENCH_LB_CHEAP_MS', DEFAULTS.cheapMs, { min: 0, integer: false }),
  cheapCost: envNumber('BENCH_LB_CHEAP_COST', DEFAULTS.cheapCost, { min: 0, integer: false }),
  dearCost: envNumber('BENCH_LB_DEAR_COST', DEFAULTS.dearCost, { min: 0, integer: false }),
};
const PENALTIES = parsePenalties(process.env.BENCH_LB_PENALTIES);
const sweep = PENALTIES !== null;
const write = writeAsked && !sweep;
/** The penalties of the sweep (null when BENCH_LB_PENALTIES is unset or empty). */
function parsePenalties(raw) {
  if (raw === undefined || raw.trim() === '') return null;
  const values = raw.split(',').map((v) => Number(v.trim()));
  if (values.some((v) => !Number.isFinite(v) || v < 0 || v > 1000)) {
    throw new Error(`BENCH_LB_PENALTIES=${raw}: expected comma-separated numbers in [0, 1000]`);
  }
  return values;
}

/** The backends of scenarios A and B: two fast, one slow, one jittery. */
const ROLES = [
  { name: 'fast-1', role: 'fast', delayMs: S.fastMs },
  { name: 'fast-2', role: 'fast', delayMs: S.fastMs },
  { name: 'slow', role: 'slow', delayMs: S.slowMs },
  { name: 'jittery', role: 'jittery', delayMs: S.fastMs, jitterMs: S.jitterMs },
];
/** The backends of scenario C: two cheap and slower, two dear and fast, each with its price per 1,000 requests. */
const PRICED_ROLES = [
  { name: 'cheap-1', role: 'cheap', delayMs: S.cheapMs, cost: S.cheapCost },
  { name: 'cheap-2', role: 'cheap', delayMs: S.cheapMs, cost: S.cheapCost },
  { name: 'dear-1', role: 'dear', delayMs: S.fastMs, cost: S.dearCost },
  { name: 'dear-2', role: 'dear', delayMs: S.fastMs, cost: S.dearCost },
];
const ALGOS = sweep ? ['round_robin', 'ewma', 'p2c'] : ['round_robin', 'least_conn', 'ewma', 'p2c', 'rendezvous'];
const SCENARIOS = [
  {
    key: 'A',
    pool: 'a',
    capacity: 0,
    connections: S.connectionsA,
    roles: ROLES,
    algos: ALGOS,
    title: `A: unlimited backends, ${S.connectionsA} connections`,
  },
  {
    key: 'B',
    pool: 'b',
    capacity: S.capacity,
    connections: S.connectionsB,
    roles: ROLES,
    algos: ALGOS,
    title: `B: backends serving ${S.capacity} at once, ${S.connectionsB} connections`,
  },
  ...(sweep
    ? []
    : [
        {
          key: 'C',
          pool: 'c',
          capacity: 0,
          connections: S.connectionsA,
          roles: PRICED_ROLES,
          algos: ['round_robin', 'ewma', 'cost'],
          priced: true,
          title: `C: cheap-slow and dear-fast backends, ${S.connectionsA} connections`,
        },
      ]),
];
/** The scenarios of the slow-and-jittery set (A, B), which carry the budgets. */
const JUDGED = SCENARIOS.filter((scenario) => !scenario.priced);
const namesOf = (scenario) => scenario.roles.map((r) => r.name);
const BUDGET = { ewmaP99VsRoundRobin: 0.3, p2cMeanVsRoundRobin: 0.6 };
/** One orchestrator of the run: the default settings, or one penalty of the sweep. */
const SETTINGS = sweep
  ? PENALTIES.map((penalty) => ({
      label: `penalty ${penalty}`,
      penalty,
      env: { ORCH_P2C_CONN_PENALTY: String(penalty) },
    }))
  : [{ label: 'defaults', penalty: null, env: {} }];
/**
 * A row of the report: a scenario, an algorithm, its load, and the measurements filled in as rounds run.
 * @typedef {{ key: string, algo: string, scenario: (typeof SCENARIOS)[number],
 *   requests: import('./lib/harness.mjs').PacedRequest[], rounds: Array<Record<string, any>>,
 *   summary?: Record<string, any> }} Row
 */
const rowsPerSetting = sum(SCENARIOS.map((scenario) => scenario.algos.length));
const expectedS = 40 + SETTINGS.length * (20 + 2 * S.warmup + S.rounds * rowsPerSetting * (S.warmup + S.duration + 3));
installCleanup({ deadlineMs: (2 * expectedS + 300 + (build ? 600 : 0)) * 1000 });

const facts = runFacts('lb.mjs', argv);
const { say, log, machine } = facts;
say(`lb benchmark: ${facts.command}`);
say(
  `${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, load average ${machine.loadavg.join(' ')}; ` +
    `${SETTINGS.length} setting(s) × ${S.rounds} round(s) × ${rowsPerSetting} rows × (${S.warmup} s ramp + ` +
    `${S.duration} s) at ${S.rate} req/s, about ${Math.round(expectedS / 60)} min`,
);

// ---------------------------------------------------------------------------------------------------------------
// Backends: one set of four per scenario

const work = tempDir('shieldx-bench-lb-');
/** @type {Record<string, Awaited<ReturnType<typeof startHttpBackends>>>} */
const backendsOf = {};
for (const scenario of SCENARIOS) {
  backendsOf[scenario.key] = await startHttpBackends(
    scenario.roles.map((r) => ({ ...r, capacity: scenario.capacity })),
  );
}
const allBackends = Object.values(backendsOf).flat();
const pools = Object.fromEntries(JUDGED.map((s) => [s.pool, backendsOf[s.key].map((b) => b.url)]));
/** The priced pool goes in ORCH_BACKENDS_JSON, as backend objects with their cost. */
const pricedEnv = Object.fromEntries(
  SCENARIOS.filter((s) => s.priced).map((s) => [
    'ORCH_BACKENDS_JSON',
    JSON.stringify({ [s.pool]: backendsOf[s.key].map((b) => ({ url: b.url, cost: b.cost })) }),
  ]),
);
for (const scenario of SCENARIOS) {
  say(`backends of ${scenario.key}: ${backendsOf[scenario.key].map((b) => `${b.name} ${b.url}`).join(', ')}`);
}
const snapshot = await prepareOrchestrator({ build, say, check: startupCheck({ work, pools, env: pricedEnv }) });

const TENANTS = ['t1', 't2', 'acme', 'globex'];
const SCOPES = ['read', 'write'];
function requestsFor(algo, pool) {
  const count = algo === 'rendezvous' ? S.keys : 8;
  return Array.from({ length: count }, (_, i) => ({
    method: 'GET',
    path: `/proxy/${pool}/v1/items/${i % 100}`,
    headers: {
      'x-tenant': TENANTS[i % 4],
      'x-scope': SCOPES[(i >> 2) % 2],
      'x-lb-algo': algo,
      ...(algo === 'rendezvous' ? { 'x-hash-key': `user-${i}` } : {}),
    },
  }));
}

/** The value at percentile `p` (0–100) of `values` (sorts them). */
function percentile(values, p) {
  if (!values.length) return NaN;
  values.sort((a, b) => a - b);
  return values[Math.min(values.length - 1, Math.max(0, Math.ceil((p / 100) * values.length) - 1))];
}

/**
 * Records every measured answer: which backend sent it (the `x-backend` header the backends set, passed through by
 * the proxy), its latency, and the second it arrived in.
 */
function answerRecorder(scenario) {
  const counts = Object.fromEntries(namesOf(scenario).map((name) => [name, 0]));
  counts.unknown = 0;
  const latencies = Object.fromEntries(namesOf(scenario).map((name) => [name, []]));
  const windows = new Map();
  const start = performance.now();
  const onResponse = (_status, raw, latencyMs) => {
    const second = Math.floor((performance.now() - start) / 1000);
    if (!windows.has(second)) windows.set(second, []);
    windows.get(second).push(latencyMs);
    for (let i = 0; raw && i < raw.length; i += 2) {
      if (raw[i].length === 9 && raw[i].toString('latin1').toLowerCase() === 'x-backend') {
        const name = raw[i + 1].toString('latin1');
        if (Object.hasOwn(latencies, name)) {
          counts[name]++;
          latencies[name].push(latencyMs);
        } else counts.unknown++;
        return;
      }
    }
    counts.unknown++;
  };
  const summary = () => ({
    counts,
    fastP99: percentile(
      scenario.roles.filter((r) => r.role === 'fast').flatMap((r) => latencies[r.name]),
      99,
    ),
    // p99 of each whole second with enough answers, then the median over seconds: a stall of the machine spoils
    // one or two seconds, not the figure.
    windowP99: median([...windows.values()].filter((w) => w.length >= 50).map((w) => percentile(w, 99))),
  });
  return { onResponse, summary };
}

/** Polls `GET /health` every second and keeps each backend's EWMA estimate (ms) in `pool` as the orchestrator sees it. */
function ewmaSampler(orchestrator, scenario) {
  const samples = Object.fromEntries(namesOf(scenario).map((name) => [name, []]));
  const nameOf = new Map(backendsOf[scenario.key].map((b) => [b.url, b.name]));
  const timer = setInterval(() => void poll(), 1000);
  async function poll() {
    try {
      const health = await fetchJson(`${orchestrator.origin}/health`, { timeoutMs: 900 });
      for (const b of health.json?.pools?.[scenario.pool]?.backends ?? []) {
        const name = nameOf.get(b.url.replace(/\/$/, ''));
        if (name && Number.isFinite(b.ewma_ms)) samples[name].push(b.ewma_ms);
      }
    } catch {
      // a missed sample is fine
    }
  }
  return () => {
    clearInterval(timer);
    return samples;
  };
}

// ---------------------------------------------------------------------------------------------------------------
// One orchestrator per setting; rounds: every row once per round, the order rotating. Each measurement starts with a
// ramp of S.warmup s under the same algorithm (not counted), so the EWMA has seen the backends before the measured
// part begins.

const problems = [];
const results = [];
let beliefText = '';
for (const setting of SETTINGS) {
  const orchestrator = await startOrchestrator({
    snapshot,
    name: 'orchestrator',
    work,
    pools,
    env: { ...pricedEnv, ...setting.env },
  });
  say(`started the orchestrator, ${setting.label} (pid ${orchestrator.pid}, ${orchestrator.origin})`);
  const checkAlive = (during) => {
    if (!orchestrator.alive()) {
      throw new Error(`the orchestrator died during ${during}:\n${orchestrator.stderrTail().slice(-3000)}`);
    }
  };
  /** @type {Row[]} */
  const rows = SCENARIOS.flatMap((scenario) =>
    scenario.algos.map((algo) => ({
      key: `${scenario.key}/${algo}`,
      algo,
      scenario,
      requests: requestsFor(algo, scenario.pool),
      rounds: [],
    })),
  );
  // Sanity: one request per row answers 200 from one of the scenario's backends.
  for (const row of rows) {
    const r = row.requests[0];
    const answer = await fetchJson(orchestrator.origin + r.path, { headers: r.headers });
    if (answer.status !== 200 || !namesOf(row.scenario).includes(answer.json?.backend)) {
      throw new Error(`${row.key}: GET ${r.path} → ${answer.status} ${answer.body.slice(0, 300)}`);
    }
  }
  // Warm-up of the process (JIT, connections) at the rate, round robin over each scenario's pool.
  for (const scenario of SCENARIOS) {
    await runPaced({
      origin: orchestrator.origin,
      requests: requestsFor('round_robin', scenario.pool),
      rate: S.rate,
      durationS: S.warmup,
      warmupS: 1,
      connections: scenario.connections,
    });
  }
  checkAlive('the warm-up');
  const serverPids = () => [orchestrator.pid, ...allBackends.map((b) => b.server.pid)];

  for (let round = 0; round < S.rounds; round++) {
    for (const row of rotated(rows, round)) {
      await sleep(300);
      const recorder = answerRecorder(row.scenario);
      const stopSampling = ewmaSampler(orchestrator, row.scenario);
      const meter = cpuMeter(serverPids());
      const result = await runPaced({
        origin: orchestrator.origin,
        requests: row.requests,
        rate: S.rate,
        durationS: S.duration,
        warmupS: S.warmup,
        connections: row.scenario.connections,
        onResponse: recorder.onResponse,
      });
      result.cpu = meter();
      result.ewma = stopSampling();
      Object.assign(result, recorder.summary());
      const names = namesOf(row.scenario);
      const answered = sum(names.map((name) => result.counts[name]));
      result.share = Object.fromEntries(names.map((name) => [name, answered ? result.counts[name] / answered : NaN]));
      checkAlive(`round ${round + 1}`);
      row.rounds.push(result);
      say(
        `${setting.label} round ${round + 1}/${S.rounds} ${row.key.padEnd(14)} p50 ${fmt.ms(result.p50).padStart(5)} ` +
          `p99 ${fmt.ms(result.p99).padStart(5)} mean ${fmt.ms(result.mean).padStart(5)} ms  ` +
          `${fmt.int(result.rps)} req/s${result.sustained ? '' : ' (not sustained)'}  ` +
          (row.scenario.priced
            ? `cheap ${fmt.pct(100 * (result.share['cheap-1'] + result.share['cheap-2']))}  `
            : `slow ${fmt.pct(100 * result.share.slow)}  jittery ${fmt.pct(100 * result.share.jittery)}  `) +
          `fast-only p99 ${fmt.ms(result.fastP99)} ms  errors ${result.errors + result.timeouts}  ` +
          `non-2xx ${result.non2xx}  other processes ${fmt.cores(result.cpu.othersCores)}`,
      );
    }
  }

  for (const row of rows) {
    const rounds = row.rounds;
    const names = namesOf(row.scenario);
    const totals = Object.fromEntries(names.map((name) => [name, sum(rounds.map((r) => r.counts[name]))]));
    const answered = sum(Object.values(totals));
    row.summary = {
      p50: median(rounds.map((r) => r.p50)),
      p99: median(rounds.map((r) => r.p99)),
      p999: median(rounds.map((r) => r.p999)),
      mean: median(rounds.map((r) => r.mean)),
      rps: median(rounds.map((r) => r.rps)),
      perRoundP99: rounds.map((r) => r.p99),
      perRoundMean: rounds.map((r) => r.mean),
      fastP99: median(rounds.map((r) => r.fastP99)),
      windowP99: median(rounds.map((r) => r.windowP99)),
      ewma: Object.fromEntries(names.map((name) => [name, median(rounds.flatMap((r) => r.ewma[name]))])),
      share: Object.fromEntries(names.map((name) => [name, answered ? totals[name] / answered : NaN])),
      unknown: sum(rounds.map((r) => r.counts.unknown)),
      errors: sum(rounds.map((r) => r.errors + r.timeouts)),
      non2xx: sum(rounds.map((r) => r.non2xx)),
      sustained: rounds.every((r) => r.sustained),
      others: median(rounds.map((r) => r.cpu.othersCores)),
    };
  }
  for (const scenario of SCENARIOS) {
    const rr = rows.find((r) => r.scenario === scenario && r.algo === 'round_robin')?.summary;
    for (const row of rows.filter((r) => r.scenario === scenario)) {
      const s = row.summary;
      s.p99VsRoundRobin = s.p99 / rr.p99;
      s.p99VsRoundRobinPaired = pairedRatio(s.perRoundP99, rr.perRoundP99);
      s.meanVsRoundRobin = s.mean / rr.mean;
      s.meanVsRoundRobinPaired = pairedRatio(s.perRoundMean, rr.perRoundMean);
    }
  }

  // After the load: what the orchestrator believes about the backends, its counters, then stop it.
  try {
    const health = await fetchJson(`${orchestrator.origin}/health`);
    beliefText = SCENARIOS.map((scenario) => {
      const list = (health.json?.pools?.[scenario.pool]?.backends ?? []).map((b) => {
        const name = backendsOf[scenario.key].find((x) => x.url === b.url.replace(/\/$/, ''))?.name ?? b.url;
        const ewma = Number.isFinite(b.ewma_ms) ? `${b.ewma_ms.toFixed(1)} ms` : '?';
        return `${name} ${ewma}${b.healthy ? '' : ' (unhealthy)'}`;
      });
      return `${scenario.key}: ${list.join(', ')}`;
    }).join('; ');
    if (health.status !== 200) problems.push(`${setting.label}: GET /health answered ${health.status} after the load`);
    const trouble = await orchestratorTrouble(orchestrator.origin);
    if (trouble.length) problems.push(`${setting.label}: orchestrator counters after the run: ${trouble.join('; ')}`);
  } catch (error) {
    problems.push(`${setting.label}: GET /health or /metrics failed after the load: ${error.message}`);
  }
  for (const row of rows) {
    const s = row.summary;
    const label = `${setting.label}, ${row.key}`;
    if (s.errors || s.non2xx) problems.push(`${label}: ${s.errors} errors/timeouts and ${s.non2xx} non-2xx answers`);
    if (s.unknown) problems.push(`${label}: ${s.unknown} answers without a known x-backend header`);
    if (!s.sustained) problems.push(`${label}: ${fmt.int(S.rate)} req/s not sustained in every round`);
  }
  const stderr = orchestrator.stderrTail().trim();
  if (stderr) problems.push(`${setting.label}: the orchestrator wrote to stderr: ${stderr.slice(-500)}`);
  await stopChecked(orchestrator, 'orchestrator', problems);
  results.push({ setting, rows });
}
for (const backend of allBackends) await backend.stop();
snapshot.dispose();

// ---------------------------------------------------------------------------------------------------------------
// Report

const pct = (v) => fmt.pct(100 * v);
const othersAll = median(results.flatMap(({ rows }) => rows.flatMap((r) => r.rounds.map((x) => x.cpu.othersCores))));
/** The row of `algo` in `scenario` of a setting's rows. */
const find = (rows, scenario, algo) => rows.find((r) => r.scenario === scenario && r.algo === algo)?.summary;
/** The two verdicts of a scenario. */
function verdictsOf(rows, scenario, prefix = '') {
  const rr = find(rows, scenario, 'round_robin');
  const ewma = find(rows, scenario, 'ewma');
  const p2c = find(rows, scenario, 'p2c');
  return [
    {
      budget: `${prefix}${scenario.key}: ewma p99 ≤ ${BUDGET.ewmaP99VsRoundRobin} × round_robin p99`,
      measured:
        `${fmt.ms(ewma.p99)} ms vs ${fmt.ms(rr.p99)} ms: ${fmt.ratio(ewma.p99VsRoundRobin)} ` +
        `(paired by round ${fmt.ratio(ewma.p99VsRoundRobinPaired)})`,
      result: passOrMiss(ewma.p99VsRoundRobin <= BUDGET.ewmaP99VsRoundRobin),
    },
    {
      budget: `${prefix}${scenario.key}: p2c mean ≤ ${BUDGET.p2cMeanVsRoundRobin} × round_robin mean`,
      measured:
        `${fmt.ms(p2c.mean)} ms vs ${fmt.ms(rr.mean)} ms: ${fmt.ratio(p2c.meanVsRoundRobin)} ` +
        `(paired by round ${fmt.ratio(p2c.meanVsRoundRobinPaired)})`,
      result: passOrMiss(p2c.meanVsRoundRobin <= BUDGET.p2cMeanVsRoundRobin),
    },
  ];
}

if (sweep) {
  // One line per penalty: the four budget ratios, then the figures behind them.
  const headers = [
    'ORCH_P2C_CONN_PENALTY',
    ...SCENARIOS.flatMap((s) => [`${s.key}: ewma p99 vs rr`, `${s.key}: p2c mean vs rr`]),
    'all four budgets',
    ...SCENARIOS.flatMap((s) => [
      `${s.key}: rr p99 / mean ms`,
      `${s.key}: ewma p99 / mean ms`,
      `${s.key}: p2c p99 / mean ms`,
      `${s.key}: ewma / p2c share to slow + jittery`,
    ]),
  ];
  const lines = results.map(({ setting, rows }) => {
    const ok = SCENARIOS.every(
      (s) =>
        find(rows, s, 'ewma').p99VsRoundRobin <= BUDGET.ewmaP99VsRoundRobin &&
        find(rows, s, 'p2c').meanVsRoundRobin <= BUDGET.p2cMeanVsRoundRobin,
    );
    const bad = (x) => x.share.slow + x.share.jittery;
    return [
      String(setting.penalty),
      ...SCENARIOS.flatMap((s) => [
        fmt.ratio(find(rows, s, 'ewma').p99VsRoundRobin),
        fmt.ratio(find(rows, s, 'p2c').meanVsRoundRobin),
      ]),
      ok ? 'pass' : 'miss',
      ...SCENARIOS.flatMap((s) => {
        const [rr, ewma, p2c] = ['round_robin', 'ewma', 'p2c'].map((algo) => find(rows, s, algo));
        return [
          `${fmt.ms(rr.p99)} / ${fmt.ms(rr.mean)}`,
          `${fmt.ms(ewma.p99)} / ${fmt.ms(ewma.mean)}`,
          `${fmt.ms(p2c.p99)} / ${fmt.ms(p2c.mean)}`,
          `${pct(bad(ewma))} / ${pct(bad(p2c))}`,
        ];
      }),
    ];
  });
  log('');
  log(
    `Sweep of ORCH_P2C_CONN_PENALTY at ${fmt.int(S.rate)} req/s: medians of ${S.rounds} round(s) of ${S.duration} s ` +
      `(after ${S.warmup} s ramp each); ratios against round_robin measured by the same orchestrator`,
  );
  log(textTable(headers, lines));
  log('');
  log(`Command: \`${facts.command}\`  `);
  log(`Date: ${facts.startedAt.toISOString()}  `);
  log(
    `Machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGB} GB RAM, ${machine.os}; load average at start ` +
      `${machine.loadavg.join(' ')}, at the end ${loadAverage()}; other processes ${fmt.cores(othersAll)} (median)  `,
  );
  log(
    `Node ${machine.node}; code: commit ${facts.git?.commit ?? '?'}${facts.git?.dirty ? ' plus uncommitted changes' : ''}`,
  );
  log('');
  log(markdownTable(headers, lines));
  printProblems(problems);
  process.exit(0);
}

const { rows } = results[0];
const verdicts = JUDGED.flatMap((scenario) => verdictsOf(rows, scenario));
const headers = [
  'algorithm',
  'p50 ms',
  'p99 ms',
  'mean ms',
  'p99 vs round_robin',
  'mean vs round_robin',
  'share to slow',
  'share to jittery',
  'share to fast-1 / fast-2',
  'p99 of fast-backend answers',
  'EWMA seen fast-1 / fast-2 / slow / jittery (ms)',
  'req/s',
  'errors',
  'non-2xx',
  'p99 ms by round',
  'other processes',
];
const tableOf = (scenario) =>
  rows
    .filter((row) => row.scenario === scenario)
    .map((row) => [
      row.algo,
      fmt.ms(row.summary.p50),
      fmt.ms(row.summary.p99),
      fmt.ms(row.summary.mean),
      fmt.ratio(row.summary.p99VsRoundRobin),
      fmt.ratio(row.summary.meanVsRoundRobin),
      pct(row.summary.share.slow),
      pct(row.summary.share.jittery),
      `${pct(row.summary.share['fast-1'])} / ${pct(row.summary.share['fast-2'])}`,
      fmt.ms(row.summary.fastP99),
      namesOf(scenario)
        .map((name) => fmt.ms(row.summary.ewma[name]))
        .join(' / '),
      fmt.int(row.summary.rps),
      row.summary.errors,
      row.summary.non2xx,
      row.summary.perRoundP99.map((v) => fmt.ms(v)).join(' / '),
      fmt.cores(row.summary.others),
    ]);

/** Spend per 1,000 requests of a row: each backend's share times its price per 1,000 requests. */
const spendOf = (scenario, summary) => sum(scenario.roles.map((r) => (summary.share[r.name] || 0) * r.cost));
const pricedHeaders = [
  'algorithm',
  'spend per 1,000 requests',
  'p50 ms',
  'p99 ms',
  'mean ms',
  'p99 vs ewma',
  'share to cheap-1 / cheap-2',
  'share to dear-1 / dear-2',
  'EWMA seen cheap-1 / cheap-2 / dear-1 / dear-2 (ms)',
  'req/s',
  'errors',
  'non-2xx',
  'p99 ms by round',
  'other processes',
];
const pricedTableOf = (scenario) => {
  const ewma = find(rows, scenario, 'ewma');
  return rows
    .filter((row) => row.scenario === scenario)
    .map((row) => [
      row.algo,
      spendOf(scenario, row.summary).toFixed(3),
      fmt.ms(row.summary.p50),
      fmt.ms(row.summary.p99),
      fmt.ms(row.summary.mean),
      fmt.ratio(row.summary.p99 / ewma.p99),
      `${pct(row.summary.share['cheap-1'])} / ${pct(row.summary.share['cheap-2'])}`,
      `${pct(row.summary.share['dear-1'])} / ${pct(row.summary.share['dear-2'])}`,
      namesOf(scenario)
        .map((name) => fmt.ms(row.summary.ewma[name]))
        .join(' / '),
      fmt.int(row.summary.rps),
      row.summary.errors,
      row.summary.non2xx,
      row.summary.perRoundP99.map((v) => fmt.ms(v)).join(' / '),
      fmt.cores(row.summary.others),
    ]);
};
/** The table of a scenario: the priced one has its own columns. */
const scenarioTable = (scenario, render) =>
  scenario.priced ? render(pricedHeaders, pricedTableOf(scenario)) : render(headers, tableOf(scenario));

log('');
for (const scenario of SCENARIOS) {
  log(
    `${scenario.title}; paced ${fmt.int(S.rate)} req/s: medians of ${S.rounds} round(s) of ${S.duration} s ` +
      `(after ${S.warmup} s ramp each)`,
  );
  log(scenarioTable(scenario, textTable));
  log('');
}
log(textTable(BUDGET_HEADERS, budgetRows(verdicts), 'lll'));
log(`EWMA estimates at the end (GET /health): ${beliefText}`);
log(`load average at the end: ${loadAverage()}`);
printProblems(problems);

if (write) {
  const md = [];
  md.push('## Balancing algorithms through `/proxy`: a slow and a jittery backend, with and without backend queues');
  md.push('');
  md.push(...factsMarkdown(facts, { what: 'the load generator and the backends' }));
  md.push(
    `Settings: ${fmt.int(S.rate)} req/s evenly paced (open loop) in both scenarios, ${S.rounds} round(s); in each, ` +
      `every scenario and algorithm gets a ${S.warmup} s ramp (not counted) then ${S.duration} s measured`,
  );
  md.push(...busyNote(othersAll, machine.cores));
  md.push(...nonDefaultNote(DEFAULTS, S));
  md.push('');
  md.push(
    `Setup: two sets of four loopback backends, one \`node:http\` process each (\`bench/backend-http.mjs\`): ` +
      `\`fast-1\` and \`fast-2\` answer after ${S.fastMs} ms, \`slow\` after ${S.slowMs} ms, \`jittery\` after ` +
      `${S.fastMs} ms plus a uniform random 0–${S.jitterMs} ms (health probes included). Scenario A: pool \`a\`, ` +
      `backends of unlimited capacity, at most ${S.connectionsA} requests in flight from the client. Scenario B: pool ` +
      `\`b\`, backends that serve ${S.capacity} requests at once (the rest wait in a FIFO queue inside the backend, ` +
      `\`CAPACITY=${S.capacity}\`), at most ${S.connectionsB} requests in flight. One orchestrator (the built ` +
      '`dist/`, defaults: log level info to /dev/null, health probes, `ORCH_EWMA_DECAY` and `ORCH_P2C_CONN_PENALTY` ' +
      `at their defaults; rate limits raised out of the way; run ${SHIPPED_TEXT}) with both pools. Requests: ` +
      '`GET /proxy/<pool>/v1/items/<n>` with `x-tenant`/`x-scope` rotating and the algorithm in `X-LB-Algo`; for ' +
      `\`rendezvous\`, \`X-Hash-Key\` rotates over ${fmt.int(S.keys)} keys. The load is \`runPaced\` ` +
      '(bench/lib/load.mjs): request *i* leaves at *i*/rate whatever earlier answers do, latency from hand-off to ' +
      'last byte at 1 µs resolution. Shares come from the `x-backend` header of each measured answer. All rows run ' +
      'against the same orchestrator (its EWMA and in-flight counts are shared, as in production when requests ' +
      'override the algorithm), one after the other, the order rotating every round.',
  );
  for (const scenario of SCENARIOS) {
    md.push('');
    md.push(`### ${scenario.title}: paced ${fmt.int(S.rate)} req/s, medians of ${S.rounds} round(s)`);
    md.push('');
    md.push(scenarioTable(scenario, markdownTable));
  }
  md.push('');
  md.push(
    "Latencies are medians over rounds of each round's percentile or mean; ratios are of those medians (the budget " +
      'lines also give the median of the per-round ratios); shares are over all measured answers. "p99 of ' +
      'fast-backend answers": the p99 of the answers that came from `fast-1` or `fast-2` in the same measurement — ' +
      'in A, above a few ms it is the machine (or the proxy) stalling, not the backends. "EWMA seen": the ' +
      'estimates of `GET /health` polled every second during the rows of that algorithm (median); they are the time ' +
      'to response headers measured inside the orchestrator, so queueing inside a backend and the proxy’s own ' +
      `event-loop delays are part of them. Estimates at the end: ${beliefText || 'unavailable'}.`,
  );
  const bad = ROLES.filter((r) => r.role !== 'fast').length;
  const floor = (bad * (bad - 1)) / (ROLES.length * (ROLES.length - 1));
  md.push('');
  md.push(
    `Arithmetic, not a measurement: \`p2c\` draws two distinct backends of ${ROLES.length}; with ${bad} of them ` +
      `slow or jittery, both draws are bad in ${fmt.pct(100 * floor)} of picks, so whatever its estimates say it ` +
      'sends at least that share to `slow` or `jittery` — far above 1 %, so its p99 lands among their answers, near ' +
      "round robin's; its budget is on the mean. `least_conn` sees only requests in flight, which at this rate are " +
      'few everywhere.',
  );
  const priced = SCENARIOS.find((scenario) => scenario.priced);
  if (priced !== undefined) {
    const [cost, ewma] = ['cost', 'ewma'].map((algo) => find(rows, priced, algo));
    md.push('');
    md.push(
      `Scenario C: pool \`c\` in \`ORCH_BACKENDS_JSON\` with prices: \`cheap-1\` and \`cheap-2\` answer after ` +
        `${S.cheapMs} ms at ${S.cheapCost} per 1,000 requests, \`dear-1\` and \`dear-2\` after ${S.fastMs} ms at ` +
        `${S.dearCost}; \`cost\` with \`ORCH_COST_LATENCY_SLO\` at its default (50 ms). Spend per 1,000 requests = ` +
        `the sum over backends of share × price. Here \`cost\` spent ${spendOf(priced, cost).toFixed(3)} ` +
        `per 1,000 requests against \`ewma\`'s ${spendOf(priced, ewma).toFixed(3)}, ` +
        `at a p99 of ${fmt.ms(cost.p99)} ms against ${fmt.ms(ewma.p99)} ms: it buys the cheaper backends as long as ` +
        'their expected latency meets the objective. No budget: the scenario reports the trade.',
    );
  }
  md.push(...budgetsMarkdown(verdicts));
  writeReport('lb', md, { problems, gap: true });
}
process.exit(0);
