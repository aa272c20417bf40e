// Balancing bake-off through `/proxy`: one orchestrator (built dist/, defaults) in front of four loopback backends —
// two fast, one ten times slower, one jittery — and every algorithm (`round_robin`, `least_conn`, `ewma`, `p2c`,
// `rendezvous`, chosen per request with the `X-LB-Algo` header; `rendezvous` keys rotate over many `X-Hash-Key`
// values) at the same evenly paced request rate. Reports p50/p99 and the share of requests each backend got (from the
// `x-backend` header of every answer), rounds interleaved; optionally (BENCH_LB_REFERENCE=1) a reference row through a
// pool of the fast backends alone (the floor the machine and the proxy allow). Writes the `lb` section of
// docs/BENCHMARKS.md.
//
//   node bench/lb.mjs [--no-build] [--no-write]
//
// Environment (defaults in brackets): BENCH_ROUNDS [3], BENCH_DURATION [4] s measured per algorithm and round,
// BENCH_WARMUP [1.5] s of ramp before each measurement (same algorithm, not counted: the EWMA learns), BENCH_LB_RATE
// [500] req/s, BENCH_CONNECTIONS [64] (most requests in flight), BENCH_LB_FAST_MS [2], BENCH_LB_SLOW_MS [20],
// BENCH_LB_JITTER_MS [30] (the jittery backend answers after FAST + uniform 0..JITTER ms), BENCH_LB_KEYS [1000]
// rendezvous keys, BENCH_LB_REFERENCE [0] (1 adds the reference row).
//
// Budget (from the issue): p99 of `ewma` and of `p2c` ≤ 0.3 × p99 of `round_robin`. Verdicts as measured.
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

const { argv, build, write } = benchArgs(
  'lb.mjs',
  'env: BENCH_ROUNDS=3 BENCH_DURATION=4 BENCH_WARMUP=1.5 BENCH_LB_RATE=500 BENCH_CONNECTIONS=64 BENCH_LB_FAST_MS=2 ' +
    'BENCH_LB_SLOW_MS=20 BENCH_LB_JITTER_MS=30 BENCH_LB_KEYS=1000 BENCH_LB_REFERENCE=0',
);
const DEFAULTS = {
  rounds: 3,
  duration: 4,
  warmup: 1.5,
  rate: 500,
  connections: 64,
  fastMs: 2,
  slowMs: 20,
  jitterMs: 30,
  keys: 1000,
  reference: 0,
};
const S = {
  rounds: envNumber('BENCH_ROUNDS', DEFAULTS.rounds, { min: 1 }),
  duration: envNumber('BENCH_DURATION', DEFAULTS.duration, { min: 1 }),
  warmup: envNumber('BENCH_WARMUP', DEFAULTS.warmup, { min: 0.5, integer: false }),
  rate: envNumber('BENCH_LB_RATE', DEFAULTS.rate, { min: 10 }),
  connections: envNumber('BENCH_CONNECTIONS', DEFAULTS.connections, { min: 1 }),
  fastMs: envNumber('BENCH_LB_FAST_MS', DEFAULTS.fastMs, { min: 0, integer: false }),
  slowMs: envNumber('BENCH_LB_SLOW_MS', DEFAULTS.slowMs, { min: 0, integer: false }),
  jitterMs: envNumber('BENCH_LB_JITTER_MS', DEFAULTS.jitterMs, { min: 0, integer: false }),
  keys: envNumber('BENCH_LB_KEYS', DEFAULTS.keys, { min: 1 }),
  reference: envNumber('BENCH_LB_REFERENCE', DEFAULTS.reference, { min: 0 }),
};
const ALGOS = ['round_robin', 'least_conn', 'ewma', 'p2c', 'rendezvous'];
const BUDGET = { p99VsRoundRobin: 0.3 };
/**
 * A row of the report: an algorithm (or the reference pool), its load, and the measurements filled in as rounds run.
 * @typedef {{ key: string, algo: string, pool: string, label?: string,
 *   requests?: import('./lib/harness.mjs').PacedRequest[], rounds?: Array<Record<string, any>>,
 *   summary?: Record<string, any> }} Row
 */
/** @type {Row[]} */
const ROWS = [
  ...ALGOS.map((algo) => ({ key: algo, algo, pool: 'api' })),
  ...(S.reference ? [{ key: 'reference', algo: 'round_robin', pool: 'fast' }] : []),
];
const expectedS = 40 + S.warmup + S.rounds * ROWS.length * (S.warmup + S.duration + 3);
installCleanup({ deadlineMs: (2 * expectedS + 300 + (build ? 600 : 0)) * 1000 });

const facts = runFacts('lb.mjs', argv);
const { say, log, machine } = facts;
say(`lb benchmark: ${facts.command}`);
say(
  `${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, load average ${machine.loadavg.join(' ')}; ` +
    `${S.rounds} round(s) × ${ROWS.length} rows × (${S.warmup} s ramp + ${S.duration} s) at ${S.rate} req/s`,
);

// ---------------------------------------------------------------------------------------------------------------
// Backends and the orchestrator

const SPECS = [
  { name: 'fast-1', role: 'fast', delayMs: S.fastMs },
  { name: 'fast-2', role: 'fast', delayMs: S.fastMs },
  { name: 'slow', role: 'slow', delayMs: S.slowMs },
  { name: 'jittery', role: 'jittery', delayMs: S.fastMs, jitterMs: S.jitterMs },
];
const work = tempDir('shieldx-bench-lb-');
const backends = await startHttpBackends(SPECS);
const pools = { api: backends.map((b) => b.url), fast: backends.filter((b) => b.role === 'fast').map((b) => b.url) };
say(`backends: ${backends.map((b) => `${b.name} ${b.url}`).join(', ')}`);

const snapshot = await prepareOrchestrator({ build, say, check: startupCheck({ work, pools }) });
const orchestrator = await startOrchestrator({ snapshot, name: 'orchestrator', work, pools });
say(`started the orchestrator (pid ${orchestrator.pid}, ${orchestrator.origin})`);

const TENANTS = ['t1', 't2', 'acme', 'globex'];
const SCOPES = ['read', 'write'];
function requestsFor(row) {
  const count = row.algo === 'rendezvous' ? S.keys : 8;
  return Array.from({ length: count }, (_, i) => ({
    method: 'GET',
    path: `/proxy/${row.pool}/v1/items/${i % 100}`,
    headers: {
      'x-tenant': TENANTS[i % 4],
      'x-scope': SCOPES[(i >> 2) % 2],
      'x-lb-algo': row.algo,
      ...(row.algo === 'rendezvous' ? { 'x-hash-key': `user-${i}` } : {}),
    },
  }));
}
for (const row of ROWS) {
  row.requests = requestsFor(row);
  row.rounds = [];
  row.label = row.key === 'reference' ? 'reference: pool of the 2 fast backends only (round_robin)' : row.algo;
}

// Sanity: one request per algorithm answers 200 from one of our backends, with the algorithm asked for.
for (const row of ROWS) {
  const r = row.requests[0];
  const answer = await fetchJson(orchestrator.origin + r.path, { headers: r.headers });
  if (answer.status !== 200 || !SPECS.some((s) => s.name === answer.json?.backend)) {
    throw new Error(`${row.label}: GET ${r.path} → ${answer.status} ${answer.body.slice(0, 300)}`);
  }
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
function answerRecorder() {
  const counts = Object.fromEntries(SPECS.map((s) => [s.name, 0]));
  counts.unknown = 0;
  const latencies = Object.fromEntries(SPECS.map((s) => [s.name, []]));
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
      SPECS.filter((s) => s.role === 'fast').flatMap((s) => latencies[s.name]),
      99,
    ),
    // p99 of each whole second with enough answers, then the median over seconds: a stall of the machine spoils
    // one or two seconds, not the figure.
    windowP99: median([...windows.values()].filter((w) => w.length >= 50).map((w) => percentile(w, 99))),
  });
  return { onResponse, summary };
}

/** Polls `GET /health` every second and keeps each backend's EWMA estimate (ms) as the orchestrator sees it. */
function ewmaSampler() {
  const samples = Object.fromEntries(SPECS.map((s) => [s.name, []]));
  const nameOf = new Map(backends.map((b) => [b.url, b.name]));
  const timer = setInterval(() => void poll(), 1000);
  async function poll() {
    try {
      const health = await fetchJson(`${orchestrator.origin}/health`, { timeoutMs: 900 });
      for (const b of health.json?.pools?.api?.backends ?? []) {
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

function checkAlive(during) {
  if (!orchestrator.alive()) {
    throw new Error(`the orchestrator died during ${during}:\n${orchestrator.stderrTail().slice(-3000)}`);
  }
}
const serverPids = () => [orchestrator.pid, ...backends.map((b) => b.server.pid)];

// Warm-up of the process (JIT, connections) at the rate, round robin over the whole pool.
await runPaced({
  origin: orchestrator.origin,
  requests: requestsFor({ algo: 'round_robin', pool: 'api' }),
  rate: S.rate,
  durationS: S.warmup,
  warmupS: 1,
  connections: S.connections,
});
checkAlive('the warm-up');
say('warmed up');

// ---------------------------------------------------------------------------------------------------------------
// Rounds: every row once per round, the order rotating. Each measurement starts with a ramp of S.warmup s under the
// same algorithm (not counted), so the EWMA has seen the backends before the measured part begins.

for (let round = 0; round < S.rounds; round++) {
  for (const row of rotated(ROWS, round)) {
    await sleep(300);
    const recorder = answerRecorder();
    const stopSampling = ewmaSampler();
    const meter = cpuMeter(serverPids());
    const result = await runPaced({
      origin: orchestrator.origin,
      requests: row.requests,
      rate: S.rate,
      durationS: S.duration,
      warmupS: S.warmup,
      connections: S.connections,
      onResponse: recorder.onResponse,
    });
    result.cpu = meter();
    result.ewma = stopSampling();
    Object.assign(result, recorder.summary());
    const answered = sum(SPECS.map((s) => result.counts[s.name]));
    result.share = Object.fromEntries(SPECS.map((s) => [s.name, answered ? result.counts[s.name] / answered : NaN]));
    checkAlive(`round ${round + 1}`);
    row.rounds.push(result);
    say(
      `round ${round + 1}/${S.rounds} ${row.label.padEnd(58)} p50 ${fmt.ms(result.p50).padStart(5)} ms  ` +
        `p99 ${fmt.ms(result.p99).padStart(5)} ms  ${fmt.int(result.rps)} req/s${result.sustained ? '' : ' (not sustained)'}  ` +
        `slow ${fmt.pct(100 * result.share.slow)}  jittery ${fmt.pct(100 * result.share.jittery)}  ` +
        `fast-only p99 ${fmt.ms(result.fastP99)} ms  1-s p99 ${fmt.ms(result.windowP99)} ms  errors ` +
        `${result.errors + result.timeouts}  non-2xx ${result.non2xx}  other processes ${fmt.cores(result.cpu.othersCores)}`,
    );
  }
}

for (const row of ROWS) {
  const rounds = row.rounds;
  const totals = Object.fromEntries(SPECS.map((s) => [s.name, sum(rounds.map((r) => r.counts[s.name]))]));
  const answered = sum(Object.values(totals));
  row.summary = {
    p50: median(rounds.map((r) => r.p50)),
    p99: median(rounds.map((r) => r.p99)),
    p999: median(rounds.map((r) => r.p999)),
    rps: median(rounds.map((r) => r.rps)),
    perRoundP99: rounds.map((r) => r.p99),
    fastP99: median(rounds.map((r) => r.fastP99)),
    windowP99: median(rounds.map((r) => r.windowP99)),
    perRoundWindowP99: rounds.map((r) => r.windowP99),
    ewma: Object.fromEntries(SPECS.map((s) => [s.name, median(rounds.flatMap((r) => r.ewma[s.name]))])),
    share: Object.fromEntries(SPECS.map((s) => [s.name, answered ? totals[s.name] / answered : NaN])),
    unknown: sum(rounds.map((r) => r.counts.unknown)),
    errors: sum(rounds.map((r) => r.errors + r.timeouts)),
    non2xx: sum(rounds.map((r) => r.non2xx)),
    sustained: rounds.every((r) => r.sustained),
    others: median(rounds.map((r) => r.cpu.othersCores)),
  };
}
const byKey = Object.fromEntries(ROWS.map((r) => [r.key, r]));
const rr = byKey.round_robin.summary;
for (const row of ROWS) {
  row.summary.vsRoundRobin = row.summary.p99 / rr.p99;
  row.summary.vsRoundRobinPaired = pairedRatio(row.summary.perRoundP99, rr.perRoundP99);
  row.summary.windowVsRoundRobin = row.summary.windowP99 / rr.windowP99;
}

// ---------------------------------------------------------------------------------------------------------------
// After the load: what the orchestrator believes about the backends, its counters, then stop everything.

const problems = [];
let beliefs = [];
try {
  const health = await fetchJson(`${orchestrator.origin}/health`);
  beliefs = (health.json?.pools?.api?.backends ?? []).map((b) => ({
    name: backends.find((x) => x.url === b.url.replace(/\/$/, ''))?.name ?? b.url,
    ewma: b.ewma_ms,
    healthy: b.healthy,
    breaker: b.cb_state,
  }));
  if (health.status !== 200) problems.push(`GET /health answered ${health.status} after the load`);
  const trouble = await orchestratorTrouble(orchestrator.origin);
  if (trouble.length) problems.push(`orchestrator counters after the run: ${trouble.join('; ')}`);
} catch (error) {
  problems.push(`GET /health or /metrics failed after the load: ${error.message}`);
}
for (const row of ROWS) {
  const s = row.summary;
  if (s.errors || s.non2xx) problems.push(`${row.label}: ${s.errors} errors/timeouts and ${s.non2xx} non-2xx answers`);
  if (s.unknown) problems.push(`${row.label}: ${s.unknown} answers without a known x-backend header`);
  if (!s.sustained) problems.push(`${row.label}: ${fmt.int(S.rate)} req/s not sustained in every round`);
}
const stderr = orchestrator.stderrTail().trim();
if (stderr) problems.push(`the orchestrator wrote to stderr: ${stderr.slice(-500)}`);
await stopChecked(orchestrator, 'orchestrator', problems);
for (const backend of backends) await backend.stop();
snapshot.dispose();

// ---------------------------------------------------------------------------------------------------------------
// Report

const verdicts = ['ewma', 'p2c'].map((algo) => {
  const s = byKey[algo].summary;
  return {
    budget: `${algo} p99 ≤ ${BUDGET.p99VsRoundRobin} × round_robin p99`,
    measured:
      `${fmt.ms(s.p99)} ms vs ${fmt.ms(rr.p99)} ms: ${fmt.ratio(s.vsRoundRobin)} ` +
      `(paired by round ${fmt.ratio(s.vsRoundRobinPaired)}; median 1-s-window p99 ${fmt.ms(s.windowP99)} vs ` +
      `${fmt.ms(rr.windowP99)} ms: ${fmt.ratio(s.windowVsRoundRobin)})`,
    result: passOrMiss(s.vsRoundRobin <= BUDGET.p99VsRoundRobin),
  };
});
const pct = (v) => fmt.pct(100 * v);
const headers = [
  'algorithm',
  'p50 ms',
  'p99 ms',
  'p99.9 ms',
  'p99 vs round_robin',
  'share to slow',
  'share to jittery',
  'share to fast-1 / fast-2',
  'p99 of fast-backend answers',
  'median 1-s p99',
  'EWMA seen fast-1 / fast-2 / slow / jittery (ms)',
  'req/s',
  'errors',
  'non-2xx',
  'p99 ms by round',
  'other processes',
];
const rows = ROWS.map((row) => [
  row.label,
  fmt.ms(row.summary.p50),
  fmt.ms(row.summary.p99),
  fmt.ms(row.summary.p999),
  fmt.ratio(row.summary.vsRoundRobin),
  pct(row.summary.share.slow),
  pct(row.summary.share.jittery),
  `${pct(row.summary.share['fast-1'])} / ${pct(row.summary.share['fast-2'])}`,
  fmt.ms(row.summary.fastP99),
  fmt.ms(row.summary.windowP99),
  SPECS.map((spec) => fmt.ms(row.summary.ewma[spec.name])).join(' / '),
  fmt.int(row.summary.rps),
  row.summary.errors,
  row.summary.non2xx,
  row.summary.perRoundP99.map((v) => fmt.ms(v)).join(' / '),
  fmt.cores(row.summary.others),
]);
const beliefText = beliefs
  .map(
    (b) => `${b.name} ${Number.isFinite(b.ewma) ? `${b.ewma.toFixed(1)} ms` : '?'}${b.healthy ? '' : ' (unhealthy)'}`,
  )
  .join(', ');
const othersAll = median(ROWS.flatMap((r) => r.rounds.map((x) => x.cpu.othersCores)));

log('');
log(
  `Paced ${fmt.int(S.rate)} req/s: medians of ${S.rounds} round(s) of ${S.duration} s (after ${S.warmup} s ramp each)`,
);
log(textTable(headers, rows));
log('');
log(textTable(BUDGET_HEADERS, budgetRows(verdicts), 'lll'));
log(`EWMA estimates at the end (GET /health): ${beliefText}`);
log(`load average at the end: ${loadAverage()}`);
printProblems(problems);

if (write) {
  const md = [];
  md.push('## Balancing algorithms through `/proxy`: a slow and a jittery backend');
  md.push('');
  md.push(...factsMarkdown(facts, { what: 'the load generator and the backends' }));
  md.push(
    `Settings: ${fmt.int(S.rate)} req/s evenly paced (open loop, at most ${S.connections} in flight), ${S.rounds} ` +
      `round(s); in each, every algorithm gets a ${S.warmup} s ramp (not counted) then ${S.duration} s measured`,
  );
  md.push(...busyNote(othersAll, machine.cores));
  md.push(...nonDefaultNote(DEFAULTS, S));
  md.push('');
  md.push(
    `Setup: four loopback backends, one \`node:http\` process each (\`bench/backend-http.mjs\`): \`fast-1\` and ` +
      `\`fast-2\` answer after ${S.fastMs} ms, \`slow\` after ${S.slowMs} ms, \`jittery\` after ${S.fastMs} ms plus a ` +
      `uniform random 0–${S.jitterMs} ms (health probes included). One orchestrator (the built \`dist/\`, defaults: ` +
      'log level info to /dev/null, health probes, `ORCH_EWMA_DECAY` and `ORCH_P2C_CONN_PENALTY` at their defaults; ' +
      'rate limits raised out of the way) with pool `api` = the four (and pool `fast` = the two fast ones, used by the ' +
      'reference row when BENCH_LB_REFERENCE=1). Requests: `GET /proxy/api/v1/items/<n>` with `x-tenant`/`x-scope` rotating and the ' +
      `algorithm in \`X-LB-Algo\`; for \`rendezvous\`, \`X-Hash-Key\` rotates over ${fmt.int(S.keys)} keys. The ` +
      'load is `runPaced` (bench/lib/harness.mjs): request *i* leaves at *i*/rate whatever earlier answers do, ' +
      'latency from hand-off to last byte at 1 µs resolution. Shares come from the `x-backend` header of each ' +
      'measured answer. All algorithms run against the same orchestrator (its EWMA and in-flight counts are shared, ' +
      'as in production when requests override the algorithm), one after the other, the order rotating every round.',
  );
  md.push('');
  md.push(`### Paced ${fmt.int(S.rate)} req/s: medians of ${S.rounds} round(s)`);
  md.push('');
  md.push(markdownTable(headers, rows));
  md.push('');
  md.push(
    "Latencies are medians over rounds of each round's percentile; shares are over all measured answers. " +
      (S.reference
        ? 'The reference row goes through a pool of only the two fast backends: the latency the proxy and this ' +
          'machine allow when nothing slow is picked. '
        : '') +
      '"p99 of fast-backend answers": the p99 of the answers that came from `fast-1` ' +
      'or `fast-2` in the same measurement — above a few ms it is the machine (or the proxy) stalling, not the ' +
      'backends. "Median 1-s p99": the p99 of each second of the measurement, median over the seconds and rounds — ' +
      'a stall of the shared machine spoils a second or two, not this figure. "EWMA seen": the estimates of ' +
      '`GET /health` polled every second during the rows of that algorithm (median); they are the time to response ' +
      'headers measured inside the orchestrator, so its own event-loop delays are part of them. Estimates at the end: ' +
      `${beliefText || 'unavailable'}.`,
  );
  const bad = SPECS.filter((spec) => spec.role !== 'fast').length;
  const floor = (bad * (bad - 1)) / (SPECS.length * (SPECS.length - 1));
  md.push('');
  md.push(
    `Arithmetic, not a measurement: \`p2c\` draws two distinct backends of ${SPECS.length}; with ${bad} of them slow ` +
      `or jittery, both draws are bad in ${fmt.pct(100 * floor)} of picks, so whatever its estimates say it sends ` +
      'at least that share to `slow` or `jittery` — far above 1 %, so its p99 lands among their answers, near ' +
      "round robin's. `least_conn` sees only requests in flight, which at this rate are mostly zero everywhere.",
  );
  md.push(...budgetsMarkdown(verdicts));
  writeReport('lb', md, { problems, gap: true });
}
process.exit(0);
