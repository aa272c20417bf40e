// Memory of the orchestrator: what each import costs, and the resident set of the built gateway idle and after a
// closed-loop load on `POST /route`, at its defaults (no Redis, TLS or tracing), with a smaller V8 young generation
// (`--max-semi-space-size`), without the shipped glibc malloc settings, with V8's Maglev compiler on or V8's own heap
// growth (the gateway sets both itself: apps/orchestrator/src/v8-flags.ts), with V8 flags that trade speed for
// memory, and with Redis and tracing (every request, or 1 in 10) configured, beside bare Fastify 5 under the same load
// (the runtime's floor). Writes the `memory` section of docs/BENCHMARKS.md.
//
//   node bench/memory.mjs [--no-build] [--no-write]
//
// Environment (defaults in brackets): BENCH_MEMORY_LOAD [60] s of load per variant, BENCH_MEMORY_ROUNDS [3] fresh
// processes each for bare Fastify and the gateway as shipped (the rows the budgets judge; medians, alternated),
// BENCH_CONNECTIONS [32], BENCH_MEMORY_IMPORT_RUNS [3] fresh processes measuring the imports,
// BENCH_MEMORY_SEMI_SPACE [2] MB for the --max-semi-space-size variant, BENCH_TOOL [wrk if installed, else
// autocannon].
//
// Budgets (from the issue): the gateway as shipped at its defaults (one process; no Redis, TLS or tracing) resident
// ≤ 90 MB idle and ≤ 100 MB after the load.
import { spawnSync } from 'node:child_process';
import http from 'node:http';
import { join } from 'node:path';
import {
  ROOT,
  envNumber,
  fmt,
  installCleanup,
  median,
  peakRssMB,
  rssMB,
  rssPartsMB,
  runLoad,
  sleep,
  startStubBackends,
  tempDir,
} from './lib/harness.mjs';
import {
  benchArgs,
  benchTool,
  checkAlive,
  factsMarkdown,
  prepareOrchestrator,
  runFacts,
  startLoopbackScript,
  startOrchestrator,
  startRedisServer,
  stopChecked,
} from './lib/common.mjs';
import { numberedRouteRequests, routePools } from './lib/requests.mjs';
import {
  BUDGET_HEADERS,
  budgetRows,
  budgetsMarkdown,
  markdownTable,
  passOrMiss,
  textTable,
  writeReport,
} from './lib/report.mjs';
import { GATEWAY_MALLOC_ENV, GATEWAY_MALLOC_TEXT, GATEWAY_NODE_ARGS, asShipped } from '../scripts/gateway-process.mjs';

const { argv, build, write } = benchArgs(
  'memory.mjs',
  'env: BENCH_MEMORY_LOAD=60 BENCH_MEMORY_ROUNDS=3 BENCH_CONNECTIONS=32 BENCH_MEMORY_IMPORT_RUNS=3 ' +
    'BENCH_MEMORY_SEMI_SPACE=2 ' +
    'BENCH_TOOL=wrk|autocannon',
);
const S = {
  loadS: envNumber('BENCH_MEMORY_LOAD', 60, { min: 1 }),
  rounds: envNumber('BENCH_MEMORY_ROUNDS', 3, { min: 1 }),
  connections: envNumber('BENCH_CONNECTIONS', 32, { min: 1 }),
  importRuns: envNumber('BENCH_MEMORY_IMPORT_RUNS', 3, { min: 1 }),
  semiSpace: envNumber('BENCH_MEMORY_SEMI_SPACE', 2, { min: 1 }),
  tool: benchTool(),
};
/** The variant the budgets judge: the gateway as shipped, at its defaults. */
const SHIPPED_KEY = 'shipped';
/** The budgets of the gateway as shipped at its defaults, MB. */
const BUDGET = { idle: 90, loaded: 100 };
// At most 18 single runs, and the rounds of the two budget rows; each run is the load plus ~15 s around it.
installCleanup({ deadlineMs: ((18 + 2 * S.rounds) * (S.loadS + 30) + 120 + (build ? 400 : 0)) * 1000 });
const facts = runFacts('memory.mjs', argv);
const { log, say, command } = facts;
say(`memory benchmark: ${command}`);

// ---------------------------------------------------------------------------------------------------------------
// Import costs: one fresh process per run imports the modules in the order the gateway loads them, collecting
// garbage after each, and prints its resident set; the cost of a module is the growth it causes.

/**
 * The packages the gateway loads whole at its defaults, heaviest framework first; then the gateway itself (app
 * factory and all its modules, with the parts of class-validator, undici and Fastify it loads); then packages it
 * loads only when configured (or whose entry it does not load), each measured on top of the gateway.
 */
const IMPORTS = [
  'reflect-metadata',
  '@nestjs/common',
  '@nestjs/core',
  '@nestjs/platform-fastify',
  '@nestjs/terminus',
  '@willsoto/nestjs-prometheus',
  'pino',
  'jose',
  '@opentelemetry/api',
];
const OPTIONAL_IMPORTS = [
  'class-validator (entry module; the gateway loads only the rules it uses)',
  'undici (entry module; the gateway loads only its pools and request API)',
  '@fastify/ajv-compiler (only for a route with a validation schema)',
  'yaml (only with ORCH_CONFIG)',
  '@opentelemetry/core (only with tracing)',
  '@opentelemetry/sdk-trace-base (only with tracing)',
  'ioredis (only with Redis)',
  '@open-policy-agent/opa-wasm (only with an OPA policy)',
];

const snapshot = await prepareOrchestrator({ build, say });
const APP = join(snapshot.dir, 'dist/orchestrator/apps/orchestrator/src/app.factory.js');
const probe = `
const rss = () => process.memoryUsage().rss / 1048576;
global.gc(); const out = [['node itself', rss()]];
for (const spec of JSON.parse(process.argv[1])) {
  await import(spec.split(' ')[0]);
  global.gc(); global.gc();
  out.push([spec, rss()]);
}
process.stdout.write(JSON.stringify(out));
`;
/** @type {Map<string, number[]>} */
const costs = new Map();
/** @type {number[]} */
const totals = [];
for (let run = 0; run < S.importRuns; run++) {
  const order = [...IMPORTS, APP, ...OPTIONAL_IMPORTS];
  const result = spawnSync(
    process.execPath,
    ['--expose-gc', '--input-type=module', '-e', probe, JSON.stringify(order)],
    {
      cwd: ROOT,
      encoding: 'utf8',
    },
  );
  if (result.status !== 0) throw new Error(`import probe failed:\n${result.stderr}`);
  /** @type {[string, number][]} */
  const points = JSON.parse(result.stdout);
  for (let i = 0; i < points.length; i++) {
    const [name, mb] = points[i];
    const cost = i === 0 ? mb : mb - points[i - 1][1];
    costs.set(name, [...(costs.get(name) ?? []), cost]);
  }
  totals.push(points[points.length - 1][1]);
}
const importRows = [...costs].map(([name, values]) => [
  name === APP ? 'the gateway (app factory and its modules)' : name,
  fmt.mb(median(values)),
]);
say(`imports: ${fmt.mb(median(totals))} MB resident after every import (median of ${S.importRuns})`);

// ---------------------------------------------------------------------------------------------------------------
// The built gateway: idle, then after a closed-loop load.

const stubs = await startStubBackends(7);
const pools = routePools(stubs.urls);
const work = tempDir('shieldx-bench-memory-');
const REQUESTS = numberedRouteRequests();
const redis = await startRedisServer().catch((error) => {
  say(`no Redis variant: ${error instanceof Error ? error.message : String(error)}`);
  return undefined;
});
// A collector that accepts every OTLP/HTTP export and discards it.
const collector = http.createServer((request, response) => {
  request.resume();
  request.on('end', () => response.writeHead(200, { 'content-type': 'application/json' }).end('{}'));
});
await new Promise((done) => collector.listen(0, '127.0.0.1', () => done(undefined)));
const collectorUrl = `http://127.0.0.1:${/** @type {import('node:net').AddressInfo} */ (collector.address()).port}`;

/** The V8 flags and the glibc malloc settings the gateway is shipped with (npm start, shieldx serve, the image). */
const SHIPPED = GATEWAY_NODE_ARGS;
/**
 * On node's command line, V8's own heap growth: the gateway then leaves its 50 % bound alone and V8 lets the old
 * generation grow to several times what is live between full collections.
 */
const V8_OWN_HEAP_GROWTH = '--heap-growing-percent=0';
/**
 * Two rows for a configuration (`env` on top of the defaults): as shipped, and as shipped but with V8's own heap
 * growth.
 * @param {{ key: string, label: string, env?: Record<string, string> }} configuration `label` ends in "as shipped"
 */
const shippedAndOwnHeapGrowth = ({ key, label, env = {} }) => [
  { key, label, ...asShipped({ env }) },
  {
    key: `${key}-heap-growth`,
    label: `${label} but V8's own heap growth (${V8_OWN_HEAP_GROWTH})`,
    ...asShipped({ env, nodeArgs: [V8_OWN_HEAP_GROWTH] }),
  },
];
const VARIANTS = [
  {
    key: 'v8-defaults',
    label: `defaults, V8 and glibc defaults (node --maglev ${V8_OWN_HEAP_GROWTH}, no other flag, no malloc setting)`,
    env: {},
    nodeArgs: ['--maglev', V8_OWN_HEAP_GROWTH],
  },
  {
    key: SHIPPED_KEY,
    label: `defaults, as shipped (${SHIPPED.join(' ')} ${GATEWAY_MALLOC_TEXT}, Maglev off, heap growth 50 %)`,
    ...asShipped(),
  },
  {
    key: 'shipped-heap-growth',
    label: `defaults, as shipped but V8's own heap growth (${V8_OWN_HEAP_GROWTH})`,
    ...asShipped({ nodeArgs: [V8_OWN_HEAP_GROWTH] }),
  },
  {
    key: 'maglev',
    label: "defaults, as shipped but with V8's Maglev compiler on (node --maglev)",
    ...asShipped({ nodeArgs: ['--maglev'] }),
  },
  { key: 'glibc', label: `defaults, as shipped but glibc's malloc defaults`, env: {}, nodeArgs: SHIPPED },
  {
    key: 'semi',
    label: `defaults, node --max-semi-space-size=${S.semiSpace}`,
    env: GATEWAY_MALLOC_ENV,
    nodeArgs: [`--max-semi-space-size=${S.semiSpace}`],
  },
  {
    key: 'size',
    label: `defaults, as shipped and --optimize-for-size`,
    ...asShipped({ nodeArgs: ['--optimize-for-size'] }),
  },
  {
    // TurboFan compiles on the main thread: its working memory is taken and given back between requests.
    key: 'sync-opt',
    label: 'defaults, as shipped and --no-concurrent-recompilation',
    ...asShipped({ nodeArgs: ['--no-concurrent-recompilation'] }),
  },
  {
    // WebAssembly (undici's HTTP parser, OPA policies) stays on V8's baseline compiler: no optimising compile of it.
    key: 'liftoff',
    label: 'defaults, as shipped and --liftoff-only',
    ...asShipped({ nodeArgs: ['--liftoff-only'] }),
  },
  ...(redis === undefined
    ? []
    : [
        ...shippedAndOwnHeapGrowth({
          key: 'redis',
          label: 'Redis (rate limits, replay) configured, as shipped',
          env: { REDIS_ADDR: redis.url },
        }),
        {
          key: 'redis-tracing',
          label: 'Redis (rate limits, replay) and tracing (OTLP) configured, as shipped',
          ...asShipped({ env: { REDIS_ADDR: redis.url, OTEL_EXPORTER_OTLP_ENDPOINT: collectorUrl } }),
        },
      ]),
  ...shippedAndOwnHeapGrowth({
    key: 'tracing',
    label: 'tracing (OTLP) configured, every request traced (the default sampler), as shipped',
    env: { OTEL_EXPORTER_OTLP_ENDPOINT: collectorUrl },
  }),
  {
    key: 'tracing-sampled',
    label: 'tracing (OTLP) configured, 1 request in 10 traced (parentbased_traceidratio 0.1), as shipped',
    ...asShipped({
      env: {
        OTEL_EXPORTER_OTLP_ENDPOINT: collectorUrl,
        OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
        OTEL_TRACES_SAMPLER_ARG: '0.1',
      },
    }),
  },
].filter(
  // The --max-semi-space-size variant is measured only when it is not what is shipped.
  (variant, index, all) =>
    all.findIndex(
      (other) => JSON.stringify([other.nodeArgs, other.env]) === JSON.stringify([variant.nodeArgs, variant.env]),
    ) === index,
);

/**
 * The runtime's floor: bare Fastify answering the same requests (bench/baseline-fastify.mjs), with the gateway's V8
 * flags and malloc settings. What the gateway holds above it is its own; the rest is Node, V8 and Fastify under this
 * load.
 */
const BASELINE = { key: 'baseline', label: `bare Fastify 5, same load (${SHIPPED.join(' ')} ${GATEWAY_MALLOC_TEXT})` };
const TARGETS = [
  {
    ...BASELINE,
    start: () => startLoopbackScript({ name: BASELINE.label, script: 'bench/baseline-fastify.mjs', ...asShipped() }),
  },
  ...VARIANTS.map((variant) => ({
    ...variant,
    start: () =>
      startOrchestrator({
        snapshot,
        name: `orchestrator (${variant.label})`,
        work,
        pools,
        env: { ...variant.env, ORCH_LEDGER_PATH: join(work, `ledger-${variant.key}.jsonl`) },
        nodeArgs: variant.nodeArgs,
        asGiven: true,
      }),
  })),
];

const problems = [];

/**
 * One run of `target` in a fresh process: its resident set 5 s after it is ready, right after the load (with the
 * split into file and anonymous pages, and the peak) and 5 s later, and the load's req/s and p99.
 */
async function measure(target, what = '') {
  const server = await target.start();
  await sleep(5000);
  const idle = rssMB(server.pid);
  const result = await runLoad(S.tool, {
    origin: server.origin,
    requests: REQUESTS,
    connections: S.connections,
    durationS: S.loadS,
  });
  checkAlive({ server, label: target.label }, 'the load');
  const loaded = rssMB(server.pid);
  const parts = rssPartsMB(server.pid);
  const peak = peakRssMB(server.pid);
  await sleep(5000);
  const after = rssMB(server.pid);
  say(
    `${target.label}${what}: idle ${fmt.mb(idle)} MB, after ${S.loadS} s of load ${fmt.mb(loaded)} MB (peak ` +
      `${fmt.mb(peak)}), 5 s later ${fmt.mb(after)} MB; ${fmt.int(result.rps)} req/s, p99 ${fmt.ms(result.p99)} ms`,
  );
  if (result.errors || result.non2xx)
    problems.push(`${target.label}${what}: ${result.errors} errors, ${result.non2xx} non-2xx`);
  await stopChecked(server, target.label, problems);
  return { idle, loaded, peak, after, file: parts?.file, anon: parts?.anon, rps: result.rps, p99: result.p99 };
}

// The rows the budgets judge, bare Fastify and the gateway as shipped, run S.rounds times each, alternated, in fresh
// processes (one reading moves by several MB from run to run); every other row once.
const ROUND_KEYS = new Set([BASELINE.key, SHIPPED_KEY]);
/** @type {Map<string, Awaited<ReturnType<typeof measure>>[]>} */
const runs = new Map(TARGETS.map((target) => [target.key, []]));
const roundTargets = TARGETS.filter((target) => ROUND_KEYS.has(target.key));
for (let round = 0; round < S.rounds; round++) {
  for (const target of round % 2 === 0 ? roundTargets : [...roundTargets].reverse()) {
    runs.get(target.key)?.push(await measure(target, ` (run ${round + 1}/${S.rounds})`));
  }
}
for (const target of TARGETS) if (!ROUND_KEYS.has(target.key)) runs.get(target.key)?.push(await measure(target));

/** The median of one figure over a target's runs. */
const medianOf = (key, field) => median((runs.get(key) ?? []).map((run) => run[field] ?? NaN));
const floorRuns = runs.get(BASELINE.key) ?? [];
/**
 * How much more the target holds after the load than bare Fastify: for the rows run in rounds, the median of the
 * differences within a round (the two ran about a minute apart); for the others, against bare Fastify's median.
 */
const aboveFloor = (key) => {
  const own = runs.get(key) ?? [];
  if (ROUND_KEYS.has(key)) return median(own.map((run, i) => (run.loaded ?? NaN) - (floorRuns[i]?.loaded ?? NaN)));
  return medianOf(key, 'loaded') - medianOf(BASELINE.key, 'loaded');
};
const rows = TARGETS.map((target) => {
  const own = runs.get(target.key) ?? [];
  const mb = (field) => fmt.mb(medianOf(target.key, field));
  return [
    target.label,
    own.length === 1 ? '1' : `${own.length}: ${own.map((run) => fmt.mb(run.loaded)).join(' / ')}`,
    mb('idle'),
    mb('loaded'),
    mb('peak'),
    mb('after'),
    mb('file'),
    mb('anon'),
    target.key === BASELINE.key ? '—' : fmt.mb(aboveFloor(target.key)),
    fmt.int(medianOf(target.key, 'rps')),
    fmt.ms(medianOf(target.key, 'p99')),
  ];
});
const shippedIdle = medianOf(SHIPPED_KEY, 'idle');
const shippedLoaded = medianOf(SHIPPED_KEY, 'loaded');
const runsText = (field) =>
  `median of ${S.rounds}: ${(runs.get(SHIPPED_KEY) ?? []).map((run) => fmt.mb(run[field])).join(' / ')}`;
const verdicts = [
  {
    budget: `resident set idle ≤ ${BUDGET.idle} MB (defaults, as shipped)`,
    measured: `${fmt.mb(shippedIdle)} MB (${runsText('idle')}); bare Fastify ${fmt.mb(medianOf(BASELINE.key, 'idle'))} MB`,
    result: passOrMiss(shippedIdle <= BUDGET.idle),
  },
  {
    budget: `resident set after ${S.loadS} s of load ≤ ${BUDGET.loaded} MB (defaults, as shipped)`,
    measured:
      `${fmt.mb(shippedLoaded)} MB (${runsText('loaded')}); bare Fastify ${fmt.mb(medianOf(BASELINE.key, 'loaded'))} ` +
      `MB under the same load, ${fmt.mb(aboveFloor(SHIPPED_KEY))} MB above it (median of the runs' differences)`,
    result: passOrMiss(shippedLoaded <= BUDGET.loaded),
  },
];
await stubs.close();
await redis?.stop();
collector.close();

// ---------------------------------------------------------------------------------------------------------------
// Report

const importHeaders = ['import (in this order)', 'resident MB added'];
const headers = [
  'variant',
  'runs (after load MB)',
  'idle MB',
  `after ${S.loadS} s load MB`,
  'peak MB',
  'idle again MB',
  'of which files MB',
  'of which anonymous MB',
  'above bare Fastify MB',
  'req/s',
  'p99 ms',
];
log('');
log(textTable(importHeaders, importRows, 'lr'));
log('');
log(textTable(headers, rows, 'llrrrrrrrrr'));
log('');
log(textTable(BUDGET_HEADERS, budgetRows(verdicts), 'lll'));
for (const problem of problems) log(`problem: ${problem}`);

if (write) {
  const md = [];
  md.push('## Memory: imports, and the gateway idle and under load');
  md.push('');
  md.push(...factsMarkdown(facts, { what: 'the load generator' }));
  md.push('');
  md.push(
    `Imports: ${S.importRuns} fresh processes (\`node --expose-gc\`) import, in this order, the packages the gateway ` +
      'loads whole, then the built gateway (its app factory, which loads every module, and the parts of ' +
      'class-validator, undici and Fastify it uses), then packages it loads only when configured or whose entry ' +
      'module it does not load, to show what they would add; garbage is collected after each and the growth of the ' +
      'resident set is its cost (median). The first import also pays for the module loader and the compiler, so ' +
      'its figure is not the size of the package.',
  );
  md.push('');
  md.push(markdownTable(importHeaders, importRows, 'lr'));
  md.push('');
  md.push(
    `The gateway: the built process (one process, log level info to /dev/null, three pools of stub backends), ` +
      `resident set 5 s after it is ready, right after ${S.loadS} s of closed-loop \`POST /route\` load ` +
      `(${S.connections} connections, ${S.tool}), its peak (VmHWM), and 5 s later. Right after the load, the ` +
      'resident set is split into pages mapped from files (RssFile: the Node binary and shared libraries, the same ' +
      'for every Node process of one binary) and anonymous memory (RssAnon: the V8 heap, malloc, stacks); "above ' +
      'bare Fastify" is the gateway\'s resident set after the load minus that of bare Fastify 5 answering the same ' +
      'requests under the same load with the same V8 flags and malloc settings (the first row), measured in the same ' +
      `run. Bare Fastify and the gateway as shipped (the rows the budgets judge) run ${S.rounds} times each in fresh ` +
      'processes, alternated: their figures are medians (the "runs" column gives each run\'s resident set after the ' +
      'load, and "above bare Fastify" is the median of the differences within a round); every other row is one run.',
  );
  md.push('');
  md.push(markdownTable(headers, rows, 'llrrrrrrrrr'));
  md.push('');
  md.push(
    'The shipped malloc settings (`scripts/gateway-process.mjs`) give glibc one arena for every thread and fixed ' +
      '128 KB thresholds for mmap and for trimming the heap; the row without them shows what they save. ' +
      "The gateway sets two V8 flags on its own process (apps/orchestrator/src/v8-flags.ts). It turns V8's mid-tier " +
      'compiler, Maglev, off (`node --maglev` keeps it on): hot code goes from the baseline compiler straight to ' +
      'TurboFan, and the resident set under load stays much lower (the row with `--maglev` shows by how much; ' +
      "`scripts/dev/rss-breakdown.mjs` shows V8's malloc peak and glibc's heap staying near their idle size). And it " +
      'lets the old generation grow by 50 % of what was live after a full collection before the next one ' +
      "(`--heap-growing-percent=50`; `node --heap-growing-percent=0` gives V8's own growth): the " +
      "pages a full collection frees stay resident in V8's page pool until the process is idle, so one long growth " +
      "spell under load stays in the resident set; the rows with V8's own heap growth show what the bound saves, " +
      'most where request objects live long enough to be promoted (Redis round trips, tracing). ' +
      'The other rows with a V8 flag beyond the shipped ones are knobs an operator can set, not defaults. ' +
      '`--no-concurrent-recompilation`: V8 optimises JavaScript on the main thread instead of on compiler threads, ' +
      "so the compiler's working memory is taken and given back between requests rather than beside them and less " +
      'of it stays resident as free malloc memory (measured here, the mechanism not isolated further); each ' +
      "optimisation then pauses the requests in flight (see the p99 column). `--liftoff-only`: WebAssembly (undici's HTTP response " +
      "parser, used by the health probes and `/proxy`, and OPA policies) stays on V8's baseline compiler, so the " +
      'optimising compile of the parser never runs; the policies evaluate more slowly.',
  );
  md.push(...budgetsMarkdown(verdicts));
  writeReport('memory', md, { problems });
}
