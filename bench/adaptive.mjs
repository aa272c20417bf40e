// Quality and cost of the adaptive rate-limit model (libs/security `AdaptiveLimits`), on a SIMULATED clock: no real
// time passes, every request is an event at a computed instant, so the run is deterministic per seed and quick.
//
//   A: 20 tenants at steady Poisson rates spread evenly between 5 and 50 req/s, plus one tenant at 10 req/s; after a
//      warm-up longer than the minimum learning time, that one ramps linearly to 50× its rate in 10 s, holds it, then
//      drops back to 10 req/s. Reports the delay from the instant its rate crosses 5× its baseline to its `tightened`
//      event, the time it takes to recover, and the flags and refusals of the 20 others.
//   B: the same 20 tenants plus two that double their rate linearly over 10 minutes (5 → 10 and 25 → 50 req/s):
//      flags of anyone, and how close the two came to their threshold.
//
// "Refusal": a request a token bucket (MemoryBucketStore) of the static per-tenant limit × the adaptive factor would
// refuse. The static limit is 100 req/s with a burst of 100, twice the fastest steady tenant: nobody is refused without
// the model (checked: the same requests against the static buckets alone). Scenarios run for several seeds.
// Then the cost of `observe` on the hot path: ns per call (median of rounds), and the heap held per key.
// The library is compiled with SWC (@swc/core, as bench/ledger.mjs does) into a temporary directory, so this measures
// the code the tests cover, with its defaults. Writes the `adaptive` section of docs/BENCHMARKS.md.
//
//   node bench/adaptive.mjs [--no-write]
//
// Environment (defaults in brackets): BENCH_ADAPTIVE_SEEDS [5], BENCH_ADAPTIVE_OPS [5000000] observes per timed
// round, BENCH_ROUNDS [5] timed rounds per workload.
//
// Budgets: detection delay ≤ 5 s (every seed); 0 flags and 0 refusals of the steady tenants; the slow drifters are
// never tightened.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { PerformanceObserver, performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import v8 from 'node:v8';
import vm from 'node:vm';
import { transformFile } from '@swc/core';
import { envNumber, fmt, median } from './lib/harness.mjs';
import { benchArgs, factsMarkdown, nonDefaultNote, runFacts } from './lib/common.mjs';
import { budgetsMarkdown, markdownTable, passOrMiss, textTable, writeReport } from './lib/report.mjs';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));

const { argv, write } = benchArgs(
  'adaptive.mjs',
  'env: BENCH_ADAPTIVE_SEEDS=5 BENCH_ADAPTIVE_OPS=5000000 BENCH_ROUNDS=5',
  { synopsis: '[--no-write]' },
);
const DEFAULTS = { BENCH_ADAPTIVE_SEEDS: 5, BENCH_ADAPTIVE_OPS: 5_000_000, BENCH_ROUNDS: 5 };
const SETTINGS = {
  BENCH_ADAPTIVE_SEEDS: envNumber('BENCH_ADAPTIVE_SEEDS', DEFAULTS.BENCH_ADAPTIVE_SEEDS, { min: 1 }),
  BENCH_ADAPTIVE_OPS: envNumber('BENCH_ADAPTIVE_OPS', DEFAULTS.BENCH_ADAPTIVE_OPS, { min: 1000 }),
  BENCH_ROUNDS: envNumber('BENCH_ROUNDS', DEFAULTS.BENCH_ROUNDS, { min: 1 }),
};
const facts = runFacts('adaptive.mjs', argv);
const { say } = facts;

/** The static per-tenant limit (req/s) and burst the adaptive factor scales. */
const STATIC_RATE = 100;
const STATIC_BURST = 100;
const T0 = 1_700_000_000_000;
const STEADY = 20;
const ATTACK_BASE = 10;
const ATTACK_MULTIPLE = 50;
const RAMP_S = 10;
const HOLD_S = 20;
const DRIFT_S = 600;
const DETECTION_BUDGET_S = 5;
/** Untimed observe calls before the cost is measured: 180 s of simulated time at 50 000 req/s. */
const WARM_CALLS = 9_000_000;

/**
 * Compiles the named files (paths from the repository root, without `.ts`) with SWC into `outDir`, side by side, and
 * imports them. Each may import only types from outside the list.
 */
async function compile(outDir, files) {
  await mkdir(outDir, { recursive: true });
  await writeFile(join(outDir, 'package.json'), '{ "type": "module" }\n');
  const modules = {};
  for (const file of files) {
    const dir = join(ROOT, dirname(file));
    const { code } = await transformFile(join(ROOT, `${file}.ts`), {
      swcrc: false,
      configFile: false,
      module: { type: 'es6', resolveFully: true },
      jsc: { baseUrl: dir, target: 'es2022', parser: { syntax: 'typescript' } },
    });
    await writeFile(join(outDir, `${basename(file)}.js`), code);
  }
  for (const file of files) {
    Object.assign(modules, await import(pathToFileURL(join(outDir, `${basename(file)}.js`)).href));
  }
  return modules;
}

/** The seeded PRNG of the tests (libs/lb/src/testing/mulberry32.ts), uniform in [0, 1); set by {@link compile}. */
let prng;

/**
 * A Poisson source of requests with rate `rate(t)` (req/s at t seconds) ≤ `max`, by thinning.
 * @param {string} key
 * @param {(t: number) => number} rate
 * @param {number} max
 * @param {() => number} random
 */
function source(key, rate, max, random) {
  const s = { key, next: 0, refused: 0, refusedStatic: 0, requests: 0, advance: () => {} };
  s.advance = () => {
    let t = s.next;
    for (;;) {
      t += -Math.log(1 - random()) / max;
      if (random() * max < rate(t)) break;
    }
    s.next = t;
  };
  s.advance();
  return s;
}

/** The 20 steady tenants, evenly spread from 5 to 50 req/s. */
function steadyTenants(random) {
  return Array.from({ length: STEADY }, (_, i) => {
    const rate = 5 + (45 * i) / (STEADY - 1);
    return source(`tenant:steady-${i}`, () => rate, rate, random);
  });
}

/**
 * Runs `sources` from 0 to `endS` seconds through a fresh AdaptiveLimits and two bucket stores (static × factor, and
 * static alone); `probe(t)` is called once per simulated second. Returns the events seen.
 */
function simulate(lib, sources, endS, probe) {
  const adaptive = new lib.AdaptiveLimits();
  const scaled = new lib.MemoryBucketStore();
  const plain = new lib.MemoryBucketStore();
  const events = [];
  adaptive.onEvent((event) => events.push(event));
  let nextProbe = 1;
  for (;;) {
    let first = sources[0];
    for (const s of sources) if (s.next < first.next) first = s;
    const t = first.next;
    if (t >= endS) break;
    while (probe && t >= nextProbe) probe(adaptive, T0 + nextProbe++ * 1000);
    const now = T0 + Math.floor(t * 1000);
    const factor = adaptive.observe(first.key, now);
    first.requests++;
    const limit = STATIC_RATE * factor;
    if (!scaled.take(first.key, limit * 60, Math.max(1, STATIC_BURST * factor), now).ok) first.refused++;
    if (!plain.take(first.key, STATIC_RATE * 60, STATIC_BURST, now).ok) first.refusedStatic++;
    first.advance();
  }
  return { adaptive, events };
}

function scenarioA(lib, seed) {
  const random = prng(seed);
  const warmS = 180;
  const rampS = warmS;
  const endS = rampS + RAMP_S + HOLD_S + 120;
  const peak = ATTACK_BASE * ATTACK_MULTIPLE;
  const attackRate = (t) => {
    if (t < rampS || t >= rampS + RAMP_S + HOLD_S) return ATTACK_BASE;
    return Math.min(peak, ATTACK_BASE + ((peak - ATTACK_BASE) * (t - rampS)) / RAMP_S);
  };
  const steady = steadyTenants(random);
  const attacker = source('tenant:attacker', attackRate, peak, random);
  /** @type {{ baselineRate: number, thresholdRate: number } | undefined} */
  let before;
  const { events } = simulate(lib, [...steady, attacker], endS, (adaptive, now) => {
    if (now === T0 + rampS * 1000) before = adaptive.inspect(attacker.key, now);
  });
  const crossS = rampS + ((5 - 1) * ATTACK_BASE * RAMP_S) / (peak - ATTACK_BASE);
  const mine = events.filter((e) => e.key === attacker.key);
  const tightened = mine.find((e) => e.kind === 'tightened');
  const calmS = rampS + RAMP_S + HOLD_S;
  const recovering = mine.find((e) => e.kind === 'recovering' && e.at >= T0 + calmS * 1000);
  const relaxed = mine.find((e) => e.kind === 'relaxed' && e.at >= T0 + calmS * 1000);
  const others = events.filter((e) => e.key !== attacker.key);
  return {
    seed,
    baseline: before?.baselineRate ?? NaN,
    threshold: before?.thresholdRate ?? NaN,
    delayS: tightened ? (tightened.at - T0) / 1000 - crossS : Infinity,
    rateAtFlag: tightened?.currentRate ?? NaN,
    trueRateAtFlag: tightened ? attackRate((tightened.at - T0) / 1000) : NaN,
    tightenings: mine.filter((e) => e.kind === 'tightened').length,
    recoverS: recovering ? (recovering.at - T0) / 1000 - calmS : Infinity,
    relaxS: relaxed ? (relaxed.at - T0) / 1000 - calmS : Infinity,
    attackerRefused: attacker.refused,
    attackerRequests: attacker.requests,
    attackerRefusedStatic: attacker.refusedStatic,
    otherFlags: others.filter((e) => e.kind === 'tightened').length,
    otherRefused: steady.reduce((n, s) => n + s.refused, 0),
    otherRefusedStatic: steady.reduce((n, s) => n + s.refusedStatic, 0),
    otherRequests: steady.reduce((n, s) => n + s.requests, 0),
  };
}

function scenarioB(lib, seed) {
  const random = prng(seed + 1000);
  const warmS = 180;
  const endS = warmS + DRIFT_S + 60;
  const drift = (from) => (t) => from * (1 + Math.min(1, Math.max(0, t - warmS) / DRIFT_S));
  const steady = steadyTenants(random);
  const drifters = [source('tenant:drift-5', drift(5), 10, random), source('tenant:drift-25', drift(25), 50, random)];
  const closest = [0, 0];
  const highestRatio = [0, 0];
  const { events } = simulate(lib, [...steady, ...drifters], endS, (adaptive, now) => {
    if (now < T0 + warmS * 1000) return;
    drifters.forEach((d, i) => {
      const info = adaptive.inspect(d.key, now);
      closest[i] = Math.max(closest[i], info.currentRate / info.thresholdRate);
      highestRatio[i] = Math.max(highestRatio[i], info.currentRate / info.baselineRate);
    });
  });
  const flagged = events.filter((e) => e.kind === 'tightened');
  return {
    seed,
    drifterFlags: flagged.filter((e) => e.key.startsWith('tenant:drift')).length,
    otherFlags: flagged.filter((e) => !e.key.startsWith('tenant:drift')).length,
    drifterRefused: drifters.reduce((n, s) => n + s.refused, 0),
    otherRefused: steady.reduce((n, s) => n + s.refused, 0),
    closest,
    highestRatio,
    requests: [...steady, ...drifters].reduce((n, s) => n + s.requests, 0),
  };
}

/**
 * ns per observe over BENCH_ADAPTIVE_OPS calls on `keyCount` keys at 50 000 req/s in all (simulated), median of
 * BENCH_ROUNDS timed rounds after a warm-up of WARM_CALLS (180 s simulated: every key learned, the code optimized for
 * that state); and the garbage collections during the timed rounds (allocation shows up as scavenges).
 */
async function observeCost(lib, keyCount) {
  const adaptive = new lib.AdaptiveLimits();
  const keys = Array.from({ length: keyCount }, (_, i) => `tenant:k${i}`);
  const ops = SETTINGS.BENCH_ADAPTIVE_OPS;
  let clock = 0;
  const round = (calls = ops) => {
    const started = performance.now();
    let sink = 0;
    for (let i = 0; i < calls; i++) {
      sink += adaptive.observe(keys[i % keyCount], T0 + Math.floor(clock++ / 50));
    }
    const ns = ((performance.now() - started) * 1e6) / calls;
    if (sink !== calls) throw new Error(`a key was tightened in the cost run (factor sum ${sink} of ${calls})`);
    return ns;
  };
  round(WARM_CALLS);
  let gcs = 0;
  const observer = new PerformanceObserver((list) => (gcs += list.getEntries().length));
  observer.observe({ entryTypes: ['gc'] });
  const rounds = Array.from({ length: SETTINGS.BENCH_ROUNDS }, round);
  await new Promise((done) => setTimeout(done, 50));
  observer.disconnect();
  return { ns: median(rounds), rounds, perKeyRate: 50_000 / keyCount, gcs };
}

/** Heap held per modelled key (after a full GC), over 100 000 keys of ~12 characters. */
function heapPerKey(lib) {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc');
  const n = 100_000;
  const keys = Array.from({ length: n }, (_, i) => `ip:10.0.${i >> 8}.${i & 255}`);
  gc();
  const before = process.memoryUsage().heapUsed;
  const adaptive = new lib.AdaptiveLimits({ maxKeys: n });
  for (let i = 0; i < n; i++) adaptive.observe(keys[i], T0);
  for (let i = 0; i < n; i++) adaptive.observe(keys[i], T0 + 5000);
  gc();
  const bytes = (process.memoryUsage().heapUsed - before) / n;
  if (adaptive.size !== n) throw new Error(`expected ${n} keys, got ${adaptive.size}`);
  return bytes;
}

const sec = (v) => (Number.isFinite(v) ? v.toFixed(2) : 'never');

async function main() {
  const work = await mkdtemp(join(os.tmpdir(), 'shieldx-bench-adaptive-'));
  let lib;
  try {
    lib = await compile(join(work, 'lib'), [
      'libs/security/src/adaptive-limits',
      'libs/security/src/bucket-store',
      'libs/lb/src/testing/mulberry32',
    ]);
    prng = lib.mulberry32;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  const seeds = Array.from({ length: SETTINGS.BENCH_ADAPTIVE_SEEDS }, (_, i) => i + 1);

  say(`scenario A (${seeds.length} seeds)`);
  const a = seeds.map((seed) => scenarioA(lib, seed));
  const aHeaders = [
    'seed',
    'learned baseline / threshold (req/s)',
    'detection delay s',
    'window / true rate at flag',
    'tightenings',
    'back to normal → recovering / relaxed s',
    'attacker refused',
    'steady tenants: flags',
    'refusals (static alone)',
  ];
  const aRows = a.map((r) => [
    r.seed,
    `${r.baseline.toFixed(1)} / ${r.threshold.toFixed(1)}`,
    sec(r.delayS),
    `${fmt.int(r.rateAtFlag)} / ${fmt.int(r.trueRateAtFlag)}`,
    r.tightenings,
    `${sec(r.recoverS)} / ${sec(r.relaxS)}`,
    `${fmt.int(r.attackerRefused)} of ${fmt.int(r.attackerRequests)} (${fmt.int(r.attackerRefusedStatic)})`,
    r.otherFlags,
    `${r.otherRefused} of ${fmt.int(r.otherRequests)} (${r.otherRefusedStatic})`,
  ]);
  console.log(`\n${textTable(aHeaders, aRows)}\n`);

  say(`scenario B (${seeds.length} seeds)`);
  const b = seeds.map((seed) => scenarioB(lib, seed));
  const bHeaders = [
    'seed',
    'drifters: flags',
    'refusals',
    'steady tenants: flags',
    'refusals',
    'closest: window rate / threshold (5→10 / 25→50)',
    'highest window rate / baseline (5→10 / 25→50)',
    'requests',
  ];
  const bRows = b.map((r) => [
    r.seed,
    r.drifterFlags,
    r.drifterRefused,
    r.otherFlags,
    r.otherRefused,
    r.closest.map((v) => v.toFixed(2)).join(' / '),
    r.highestRatio.map((v) => `${v.toFixed(2)}×`).join(' / '),
    fmt.int(r.requests),
  ]);
  console.log(`\n${textTable(bHeaders, bRows)}\n`);

  say(`observe cost (${fmt.int(SETTINGS.BENCH_ADAPTIVE_OPS)} calls × ${SETTINGS.BENCH_ROUNDS} rounds per workload)`);
  const costs = [];
  for (const keys of [1_000, 100_000]) costs.push({ keys, ...(await observeCost(lib, keys)) });
  const perKey = heapPerKey(lib);
  const cHeaders = ['keys', 'req/s per key', 'folds', 'ns per observe (median)', 'by round', 'GCs in the timed rounds'];
  const cRows = costs.map((c) => [
    fmt.int(c.keys),
    String(c.perKeyRate),
    c.perKeyRate > 1 ? `one per ~${fmt.int(c.perKeyRate)} calls` : 'every call',
    c.ns.toFixed(1),
    c.rounds.map((v) => v.toFixed(1)).join(' / '),
    c.gcs,
  ]);
  console.log(`\n${textTable(cHeaders, cRows)}\n`);
  console.log(`heap per key: ${fmt.int(perKey)} B`);

  const delays = a.map((r) => r.delayS);
  const verdicts = [
    {
      budget: `A: tightened ≤ ${DETECTION_BUDGET_S} s after crossing 5× its baseline (every seed)`,
      measured: `median ${sec(median(delays))} s, max ${sec(Math.max(...delays))} s`,
      result: passOrMiss(delays.every((d) => d <= DETECTION_BUDGET_S)),
    },
    {
      budget: 'A: the 20 steady tenants: 0 flags, 0 refusals',
      measured: `${a.reduce((n, r) => n + r.otherFlags, 0)} flags, ${a.reduce((n, r) => n + r.otherRefused, 0)} refusals`,
      result: passOrMiss(a.every((r) => r.otherFlags === 0 && r.otherRefused === 0)),
    },
    {
      budget: 'B: a tenant doubling its rate over 10 min: never tightened',
      measured: `${b.reduce((n, r) => n + r.drifterFlags, 0)} flags (steady tenants ${b.reduce((n, r) => n + r.otherFlags, 0)})`,
      result: passOrMiss(b.every((r) => r.drifterFlags === 0 && r.otherFlags === 0 && r.otherRefused === 0)),
    },
  ];
  const staticRefusals = a.reduce((n, r) => n + r.otherRefusedStatic, 0);
  const problems = [];
  if (staticRefusals > 0) problems.push(`the static limit alone refused ${staticRefusals} steady-tenant requests`);
  console.log(
    textTable(
      ['budget', 'measured', 'verdict'],
      verdicts.map((v) => [v.budget, v.measured, v.result]),
    ),
  );

  const md = [
    '## Adaptive rate limits: detection delay, false positives and cost (simulated clock)',
    '',
    ...factsMarkdown(facts, { what: 'nothing else of this benchmark' }),
    ...nonDefaultNote(DEFAULTS, SETTINGS, { title: 'Short run, not the default settings', joiner: '=' }),
    '',
    '`AdaptiveLimits` (libs/security) with its defaults (sensitivity 1: flagged above 3× and 6 σ over its own ' +
      'baseline and above its population’s mean + 1 σ, and above 10 req/s; 1 s slots, 3 s window, 120 s learning, ' +
      'factor 0.1, 60 s recovery), compiled with SWC. A simulated clock: requests are Poisson arrivals (seeded ' +
      `mulberry32, seeds 1–${seeds.length}) fed in time order, nothing waits. A "refusal" is a request that a token ` +
      `bucket (\`MemoryBucketStore\`) of ${STATIC_RATE} req/s and burst ${STATIC_BURST} per tenant × the adaptive ` +
      'factor refuses; that static limit is twice the fastest steady tenant, so the same requests against the static ' +
      'buckets alone (in brackets) are never refused.',
    '',
    `### A: 20 steady tenants (5–50 req/s) and one ramping from ${ATTACK_BASE} to ${ATTACK_BASE * ATTACK_MULTIPLE} req/s in ${RAMP_S} s`,
    '',
    `Warm-up 180 s at steady rates; the ramp is linear, ${HOLD_S} s at 50× follow, then the tenant is back at ` +
      `${ATTACK_BASE} req/s for 120 s. Detection delay: from the instant the true rate crosses 5× (${5 * ATTACK_BASE} ` +
      'req/s, 0.82 s into the ramp) to the `tightened` event. "Window / true rate at flag": the 3 s window rate the ' +
      'model saw and the ramp’s rate at that instant. "Back to normal": from the end of the flood to the ' +
      '`recovering` event (factor starts its climb) and to `relaxed` (factor 1). Attacker refusals in brackets: the ' +
      'static limit alone.',
    '',
    markdownTable(aHeaders, aRows),
    '',
    `Detection delay over ${seeds.length} seeds: median ${sec(median(delays))} s, max ${sec(Math.max(...delays))} s.`,
    '',
    '### B: two tenants doubling their rate over 10 minutes (5 → 10 and 25 → 50 req/s), beside the 20 steady ones',
    '',
    'Warm-up 180 s, the linear drift over 600 s, then 60 s at the doubled rate. Sampled once per simulated second: ' +
      'the drifters’ window rate against their threshold (flagged above 1.00) and against their baseline (3× needed).',
    '',
    markdownTable(bHeaders, bRows),
    '',
    '### Cost of `observe` on the hot path',
    '',
    `${fmt.int(SETTINGS.BENCH_ADAPTIVE_OPS)} calls per round, keys in rotation, the simulated clock advancing 1 ms ` +
      `every 50 calls (50,000 req/s in all); median of ${SETTINGS.BENCH_ROUNDS} timed rounds (\`performance.now\`, ` +
      'the loop included) after 9,000,000 untimed calls (180 s simulated: every key learned). A call that finds its ' +
      'slot finished folds it (baseline, window, thresholds). GCs: garbage collections seen (`PerformanceObserver`) ' +
      'during the timed rounds; the model allocates nothing per call once warm, so 0 is expected.',
    '',
    markdownTable(cHeaders, cRows),
    '',
    `Heap per modelled key (100,000 keys like \`ip:10.0.3.7\`, after a full GC, key strings not counted): ` +
      `${fmt.int(perKey)} B, i.e. about ${fmt.int((perKey * 100_000) / 2 ** 20)} MB at the default bound of 100,000 keys.`,
    ...budgetsMarkdown(verdicts),
  ];
  if (write) writeReport('adaptive', md, { problems, gap: true });
  return verdicts.every((v) => v.result === 'pass');
}

const ok = await main();
process.exit(ok ? 0 : 1);
