// What moving the gateway from Node 20 to Node 24 changes on `POST /route`: the same orchestrator build and settings
// started under the Node 24 the npm scripts run (the `node` package of the npm registry, a devDependency) and under
// another Node (the system's, Node 20 on the development machine), at defaults and with the async request context kept
// on the data plane (ORCH_LOG_DATA_PLANE_CONTEXT=1, whose cost depends on how the Node version implements
// AsyncLocalStorage). Rounds interleaved; req/s, latency, CPU time per request and resident set. Writes the `node`
// section of docs/BENCHMARKS.md.
//
//   node bench/node.mjs [--no-build] [--no-write]        (npm run bench:node)
//
// Environment (defaults in brackets): BENCH_NODE_OTHER [the first `node` on PATH outside node_modules whose version
// differs from this one], BENCH_ROUNDS [3], BENCH_DURATION [10] s per round, BENCH_CONNECTIONS [64], BENCH_WARMUP
// [3] s, BENCH_TOOL [wrk if installed, else autocannon].
import { execFileSync } from 'node:child_process';
import { existsSync, realpathSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import {
  cpuSeconds,
  fmt,
  installCleanup,
  median,
  rssMB,
  runLoad,
  sleep,
  startStubBackends,
  summarizeRounds,
  tempDir,
} from './lib/harness.mjs';
import {
  alternated,
  benchArgs,
  checkAlive,
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
import { closedLoopMarkdown, closedLoopText, writeReport } from './lib/report.mjs';
import { GATEWAY_MALLOC_TEXT, GATEWAY_NODE_OPTIONS } from '../scripts/gateway-process.mjs';

const { argv, build, write } = benchArgs(
  'node.mjs',
  'env: BENCH_NODE_OTHER=/usr/bin/node BENCH_ROUNDS=3 BENCH_DURATION=10 BENCH_CONNECTIONS=64 BENCH_WARMUP=3 ' +
    'BENCH_TOOL=wrk|autocannon',
);
const DEFAULTS = { rounds: 3, duration: 10, connections: 64, warmup: 3 };
const S = closedLoopSettings(DEFAULTS);

/** The version a Node binary reports. */
function versionOf(binary) {
  return execFileSync(binary, ['--version'], { encoding: 'utf8' }).trim();
}

/** The Node to compare with: BENCH_NODE_OTHER, else the first `node` on PATH outside node_modules of another version. */
function otherNode() {
  if (process.env.BENCH_NODE_OTHER) return process.env.BENCH_NODE_OTHER;
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const candidate = join(dir, 'node');
    if (dir === '' || dir.includes('node_modules') || !existsSync(candidate)) continue;
    if (realpathSync(candidate) === realpathSync(process.execPath)) continue;
    if (versionOf(candidate) !== process.version) return candidate;
  }
  throw new Error(
    `no other Node than ${process.version} on PATH outside node_modules: set BENCH_NODE_OTHER to a Node binary`,
  );
}

const OTHER = otherNode();
/** @type {{ key: string, binary: string, version: string }[]} */
const NODES = [
  { key: 'pinned', binary: process.execPath, version: process.version },
  { key: 'other', binary: OTHER, version: versionOf(OTHER) },
];

/** @type {(import('./lib/common.mjs').RoundTarget & { node: (typeof NODES)[number], env: Record<string, string> })[]} */
const TARGETS = NODES.flatMap((node) => [
  { key: `${node.key}`, node, env: {}, label: `Node ${node.version}, defaults` },
  {
    key: `${node.key}Context`,
    node,
    env: { ORCH_LOG_DATA_PLANE_CONTEXT: '1' },
    label: `Node ${node.version}, ORCH_LOG_DATA_PLANE_CONTEXT=1`,
  },
]);
const expectedS = 20 + TARGETS.length * (S.warmup + 1) + S.rounds * TARGETS.length * (S.duration + 1);
installCleanup({ deadlineMs: (2 * expectedS + 120 + (build ? 400 : 0)) * 1000 });

const REQUESTS = numberedRouteRequests();
const facts = runFacts('node.mjs', argv);
const { log, say, machine, command } = facts;

say(`node benchmark: ${command}`);
say(
  `${machine.cpu}, ${machine.cores} cores, load average ${machine.loadavg.join(' ')}; ` +
    `${NODES.map((n) => `${n.version} (${n.binary})`).join(' vs ')}; ` +
    `${S.rounds} round(s) × ${S.duration} s at ${S.connections} connections (${S.tool})`,
);
const snapshot = await prepareOrchestrator({ build, say });
const stubs = await startStubBackends(7);
const pools = routePools(stubs.urls);
const work = tempDir('shieldx-bench-node-');

for (const target of TARGETS) {
  target.server = await startOrchestrator({
    snapshot,
    name: `orchestrator (${target.label})`,
    work,
    pools,
    env: { ...target.env, ORCH_LEDGER_PATH: join(work, `ledger-${target.key}.jsonl`) },
    execPath: target.node.binary,
  });
  for (const r of REQUESTS) {
    const answer = await sendRequest(target.server.origin, r);
    if (answer.status !== 200) {
      throw new Error(`${target.label}: POST /route ${r.body} → ${answer.status} ${answer.body.slice(0, 300)}`);
    }
  }
  await sleep(1000);
  target.idleRss = rssMB(target.server.pid);
  target.rounds = [];
  say(`started ${target.label} (pid ${target.server.pid}); RSS ${fmt.mb(target.idleRss)} MB`);
}

const loadOptions = loadOptionsFor(REQUESTS, S.connections);
await warmUp({ targets: TARGETS, tool: S.tool, seconds: S.warmup, loadOptions, say });

for (let round = 0; round < S.rounds; round++) {
  for (const target of alternated(TARGETS, round)) {
    await sleep(500);
    const before = cpuSeconds(target.server.pid);
    const result = await runLoad(S.tool, loadOptions(target, S.duration));
    const cpu = cpuSeconds(target.server.pid) - before;
    checkAlive(target, `round ${round + 1}`);
    result.rss = rssMB(target.server.pid);
    result.cpuUsPerRequest = result.requests > 0 ? (cpu * 1e6) / result.requests : NaN;
    target.rounds.push(result);
    say(
      roundHead(round, S.rounds, target.label, 44, result) +
        `CPU ${fmt.int(result.cpuUsPerRequest)} µs/request  errors ${result.errors + result.timeouts}  ` +
        `non-2xx ${result.non2xx}`,
    );
  }
}

const problems = [];
for (const target of TARGETS) {
  target.summary = {
    ...summarizeRounds(target.rounds),
    cpuUs: median(target.rounds.map((r) => r.cpuUsPerRequest)),
  };
  const s = target.summary;
  if (s.errors || s.non2xx) problems.push(`${target.label}: ${s.errors} errors and ${s.non2xx} non-2xx in the rounds`);
  await stopChecked(target.server, target.label, problems);
}
await stubs.close();

const base = TARGETS.find((t) => t.key === 'other');
const headers = [
  'Node, setting',
  'req/s',
  'p50 ms',
  'p99 ms',
  'CPU µs/request',
  'RSS MB idle',
  'RSS MB after load',
  `req/s vs Node ${base.node.version} defaults`,
  'errors',
  'non-2xx',
  'req/s by round',
];
const rows = TARGETS.map((t) => [
  t.label,
  fmt.int(t.summary.rps),
  fmt.ms(t.summary.p50),
  fmt.ms(t.summary.p99),
  fmt.int(t.summary.cpuUs),
  fmt.mb(t.idleRss),
  fmt.mb(t.summary.rss),
  fmt.ratio(t.summary.rps / base.summary.rps),
  t.summary.errors,
  t.summary.non2xx,
  t.summary.perRound.map((v) => fmt.int(v)).join(' / '),
]);

log('');
log(closedLoopText(S, headers, rows));
for (const problem of problems) log(`problem: ${problem}`);

if (write) {
  const md = [];
  md.push('## Node 20 and Node 24');
  md.push('');
  md.push(...factsMarkdown(facts, { what: 'the load generator' }));
  md.push(...nonDefaultNote(DEFAULTS, S, { title: 'Short run, not the default settings' }));
  md.push('');
  md.push(
    'Setup: the built orchestrator (one process, no Redis, log level info to /dev/null, three pools of stub backends, ' +
      'limits at 10⁹ so nothing is refused, the V8 flags and malloc settings of scripts/gateway-process.mjs ' +
      `\`${GATEWAY_NODE_OPTIONS}\`, \`${GATEWAY_MALLOC_TEXT}\`) started under ${NODES.map((n) => `Node ${n.version} (\`${n.binary}\`)`).join(' and ')}, ` +
      'each at defaults and with `ORCH_LOG_DATA_PLANE_CONTEXT=1` (the async request context kept for the data plane). ' +
      'All four run at once; each round measures them one after the other, the order alternating. "CPU µs/request" is ' +
      "the server's own CPU time (user + system, /proc) over the round divided by the requests answered. RSS idle is " +
      'read after start-up and one request per body; "after load" after each round (median).',
  );
  md.push(...closedLoopMarkdown(S, headers, rows));
  writeReport('node', md, { problems });
}
process.exit(0);
