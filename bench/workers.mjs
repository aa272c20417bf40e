// Benchmark of ORCH_WORKERS on `POST /route`: the same orchestrator build and settings started once with
// ORCH_WORKERS=1 (one process serves, as without the setting) and once with ORCH_WORKERS=2 (a node:cluster primary
// handing connections round-robin to two worker processes), measured in the same run with rounds interleaved. The load
// generator runs on the same machine, so on a 2-core box it competes with the workers for the cores: the figure is
// what two workers buy here, not what they buy on a dedicated host. Writes the `workers` section of
// docs/BENCHMARKS.md.
//
//   node bench/workers.mjs [--no-build] [--no-write]
//
// Environment (defaults in brackets): BENCH_ROUNDS [3], BENCH_DURATION [10] s per round, BENCH_CONNECTIONS [64],
// BENCH_WARMUP [3] s, BENCH_TOOL [wrk if installed, else autocannon].
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  cpuMeter,
  fmt,
  installCleanup,
  median,
  rssMB,
  runLoad,
  sleep,
  startStubBackends,
  sum,
  tempDir,
  summarizeRounds,
} from './lib/harness.mjs';
import {
  alternated,
  benchArgs,
  checkAlive as checkServerAlive,
  closedLoopSettings,
  factsMarkdown,
  loadOptionsFor,
  nonDefaultNote,
  prepareOrchestrator,
  roundHead,
  runFacts,
  sendRequest,
  startOrchestrator,
  stopChecked,
  warmUp,
} from './lib/common.mjs';
import { numberedRouteRequests, routePools } from './lib/requests.mjs';
import { budgetsMarkdown, closedLoopMarkdown, closedLoopText, passOrMiss, writeReport } from './lib/report.mjs';
import { GATEWAY_MALLOC_TEXT, GATEWAY_NODE_OPTIONS } from '../scripts/gateway-process.mjs';

// ---------------------------------------------------------------------------------------------------------------
// Settings

const { argv, build, write } = benchArgs(
  'workers.mjs',
  'env: BENCH_ROUNDS=3 BENCH_DURATION=10 BENCH_CONNECTIONS=64 BENCH_WARMUP=3 BENCH_TOOL=wrk|autocannon',
);

const DEFAULTS = { rounds: 3, duration: 10, connections: 64, warmup: 3 };
const S = closedLoopSettings(DEFAULTS);
const expectedS = 20 + 2 * (S.warmup + 1) + S.rounds * 2 * (S.duration + 1);
installCleanup({ deadlineMs: (2 * expectedS + 120 + (build ? 400 : 0)) * 1000 });

// Requests rotate over services and tenants (as bench/route.mjs does).
const REQUESTS = numberedRouteRequests();

const facts = runFacts('workers.mjs', argv);
const { log, say, machine, command } = facts;

/** The live processes of a server: the process itself and its descendants (the workers of a primary). */
function processTree(rootPid) {
  const parents = new Map();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      parents.set(Number(name), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // gone meanwhile
    }
  }
  const tree = [rootPid];
  for (let i = 0; i < tree.length; i++) {
    for (const [pid, parent] of parents) if (parent === tree[i]) tree.push(pid);
  }
  return tree;
}

// ---------------------------------------------------------------------------------------------------------------
// Start both

say(`workers benchmark: ${command}`);
say(
  `${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, load average ${machine.loadavg.join(' ')}; ` +
    `${S.rounds} round(s) × ${S.duration} s at ${S.connections} connections (${S.tool})`,
);
const snapshot = await prepareOrchestrator({ build, say });
const stubs = await startStubBackends(7);
const pools = routePools(stubs.urls);
const work = tempDir('shieldx-bench-workers-');

/** @type {import('./lib/common.mjs').RoundTarget[]} */
const TARGETS = [
  { key: 'one', workers: 1, label: 'ORCH_WORKERS=1 (one process)' },
  { key: 'two', workers: 2, label: 'ORCH_WORKERS=2 (primary + 2 workers)' },
];

for (const target of TARGETS) {
  target.server = await startOrchestrator({
    snapshot,
    name: `orchestrator (${target.label})`,
    work,
    pools,
    // As shipped (startOrchestrator): the gateway's V8 flags and malloc settings, which workers inherit.
    env: { ORCH_WORKERS: String(target.workers), ORCH_LEDGER_PATH: join(work, `ledger-${target.key}.jsonl`) },
  });
  // With workers, /readyz answers as soon as the first one listens: wait until every worker answers.
  const seen = new Set();
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    for (const r of REQUESTS) {
      const answer = await sendRequest(target.server.origin, r);
      if (answer.status !== 200) {
        throw new Error(`${target.label}: POST /route ${r.body} → ${answer.status} ${answer.body.slice(0, 300)}`);
      }
      seen.add(answer.headers['x-shieldx-worker'] ?? 'single');
    }
    if (seen.size >= target.workers) break;
    await sleep(100);
  }
  if (seen.size < target.workers) throw new Error(`${target.label}: only ${[...seen].join(', ')} answered`);
  target.pids = processTree(target.server.pid);
  target.rounds = [];
  say(`started ${target.label}: processes ${target.pids.join(', ')}; answering: ${[...seen].sort().join(', ')}`);
}

function checkAlive(target, during) {
  checkServerAlive(target, during);
  const now = processTree(target.server.pid);
  if (now.length !== target.pids.length) {
    throw new Error(`${target.label}: ${target.pids.length} processes at the start, ${now.length} after ${during}`);
  }
}
const loadOptions = loadOptionsFor(REQUESTS, S.connections);

await warmUp({ targets: TARGETS, tool: S.tool, seconds: S.warmup, loadOptions, say, check: checkAlive });

// ---------------------------------------------------------------------------------------------------------------
// Closed-loop rounds, interleaved; CPU of the whole process tree, of the machine, and of everything else.

for (let round = 0; round < S.rounds; round++) {
  for (const target of alternated(TARGETS, round)) {
    await sleep(500);
    const meter = cpuMeter(target.pids);
    const result = await runLoad(S.tool, loadOptions(target, S.duration));
    const cpu = meter();
    checkAlive(target, `round ${round + 1}`);
    // The gateway's process tree alone (cpuMeter's total also counts this process and the load generator).
    result.treeCores = cpu.pidsCores;
    result.busyCores = cpu.busyCores;
    result.idleCores = cpu.idleCores;
    result.othersCores = cpu.othersCores;
    result.rss = sum(target.pids.map((pid) => rssMB(pid) ?? 0));
    target.rounds.push(result);
    say(
      roundHead(round, S.rounds, target.label, 38, result) +
        `machine ${fmt.cores(result.busyCores)} (idle ${fmt.cores(result.idleCores)})  ` +
        `others ${fmt.cores(result.othersCores)}  errors ${result.errors + result.timeouts}  non-2xx ${result.non2xx}`,
    );
  }
}

for (const target of TARGETS) {
  const rounds = target.rounds;
  target.summary = {
    ...summarizeRounds(rounds),
    busy: median(rounds.map((r) => r.busyCores)),
    idle: median(rounds.map((r) => r.idleCores)),
    others: median(rounds.map((r) => r.othersCores)),
    tree: median(rounds.map((r) => r.treeCores)),
    perCore: median(rounds.map((r) => r.rps / r.treeCores)),
  };
}
const one = TARGETS[0];
const two = TARGETS[1];
const ratio = two.summary.rps / one.summary.rps;
/** Requests per second per core the gateway's processes used, two workers against one process. */
const perCoreRatio = two.summary.perCore / one.summary.perCore;
/** Issue budget: two workers give at least this many times one process's requests per second on this machine. */
const BUDGET = 1.8;

const problems = [];
for (const target of TARGETS) {
  const s = target.summary;
  if (s.errors || s.non2xx) problems.push(`${target.label}: ${s.errors} errors and ${s.non2xx} non-2xx in the rounds`);
  await stopChecked(target.server, target.label, problems, { graceMs: 15_000 });
}
await stubs.close();

// ---------------------------------------------------------------------------------------------------------------
// Report

const headers = [
  'setting',
  'processes',
  'req/s',
  'p50 ms',
  'p99 ms',
  'gateway CPU',
  'req/s per gateway core',
  'machine CPU',
  'machine idle',
  'RSS MB',
  'errors',
  'non-2xx',
  'vs 1',
  'req/s by round',
];
const rows = TARGETS.map((t) => [
  t.label,
  t.pids.length,
  fmt.int(t.summary.rps),
  fmt.ms(t.summary.p50),
  fmt.ms(t.summary.p99),
  fmt.cores(t.summary.tree),
  fmt.int(t.summary.perCore),
  fmt.cores(t.summary.busy),
  fmt.cores(t.summary.idle),
  fmt.mb(t.summary.rss),
  t.summary.errors,
  t.summary.non2xx,
  fmt.ratio(t.summary.rps / one.summary.rps),
  t.summary.perRound.map((v) => fmt.int(v)).join(' / '),
]);

log('');
log(closedLoopText(S, headers, rows));
log('');
log(
  `ORCH_WORKERS=2 / ORCH_WORKERS=1 req/s = ${fmt.ratio(ratio)} on ${machine.cores} cores shared with the load ` +
    `generator; per gateway core ${fmt.ratio(perCoreRatio)}.`,
);
for (const problem of problems) log(`problem: ${problem}`);

if (write) {
  const md = [];
  md.push('## Workers: `POST /route` with ORCH_WORKERS=1 and ORCH_WORKERS=2');
  md.push('');
  md.push(...factsMarkdown(facts, { what: 'the load generator' }));
  md.push(...nonDefaultNote(DEFAULTS, S, { title: 'Short run, not the default settings' }));
  md.push('');
  md.push(
    'Setup: the built orchestrator twice, same settings (no Redis, log level info to /dev/null, three pools of stub ' +
      'backends, limits at 10⁹ so nothing is refused): once with `ORCH_WORKERS=1` (the process serves alone) and once ' +
      'with `ORCH_WORKERS=2` (a node:cluster primary accepting connections and handing them round-robin to two worker ' +
      'processes). The load generator opens its connections at the start of each round, so both workers get half of ' +
      'them. Rounds alternate between the two. Gateway CPU is the CPU time (user + system) of its process tree over ' +
      'the round, in cores; "req/s per gateway core" divides the requests per second by it (median of the rounds). ' +
      'Machine CPU is the user + system time of the whole machine, load generator included, and machine idle its ' +
      'idle time (the rest of its cores went to interrupts: loopback networking runs in softirq); RSS is the sum over ' +
      'the process tree, read after each round. Both run as shipped, with the V8 flags and malloc settings ' +
      `of scripts/gateway-process.mjs (\`${GATEWAY_NODE_OPTIONS}\`, \`${GATEWAY_MALLOC_TEXT}\`), which workers ` +
      'inherit.',
  );
  md.push(...closedLoopMarkdown(S, headers, rows));
  md.push(
    `Two workers answer ${fmt.ratio(ratio)} the requests per second of one process on this ${machine.cores}-core ` +
      'machine, where the load generator needs cores too (see "Machine CPU", "machine idle" and the load average ' +
      'above); per core ' +
      `the gateway's processes use, two workers answer ${fmt.ratio(perCoreRatio)} what one process does.`,
  );
  md.push(
    ...budgetsMarkdown([
      {
        budget: `ORCH_WORKERS=2 req/s ≥ ${BUDGET} × ORCH_WORKERS=1 req/s`,
        measured:
          `${fmt.ratio(ratio)} (${fmt.int(two.summary.rps)} against ${fmt.int(one.summary.rps)} req/s); per ` +
          `gateway core ${fmt.ratio(perCoreRatio)}`,
        result: passOrMiss(ratio >= BUDGET),
      },
    ]),
  );
  writeReport('workers', md, { problems });
}
process.exit(0);
